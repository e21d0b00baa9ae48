"""The validating parser's rule shapes and lazy chains give exactly what the rule-by-rule path gives.

A validating parse checks a rule by matching its text against the shapes
(``syntax.shape_matcher``) of rules already interpreted, and keeps plain rules as
text until they are used. These tests hold that fast path to the general one: a
shape vouches only for canonical text that interprets, with the same typed view;
a whole parse equals the parse with no shapes at all (same rules, lines, views,
or the same error at the same line and token); the chains made of texts read back
with the right line numbers and survive every restore command.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import SupportsIndex
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import codec, syntax
from kubeproxy_sim.netfilter.codec import is_canonical_text, parse_ruleset, render_ruleset
from kubeproxy_sim.netfilter.model import Ruleset, RuleSpec
from tests.budget import budget
from tests.netfilter.test_codec import rule_specs
from tests.netfilter.test_codec_perf import kube_proxy_dump

ROOT = Path(__file__).resolve().parents[2]
DUMPS = sorted(ROOT.glob("rulesets/*/*.rules")) + sorted((ROOT.parent / "shared" / "realworld-dumps").glob("*.rules"))


def general(spec: str) -> RuleSpec:
    """The typed view from the tokenizer and interpreter alone."""
    return syntax.interpret(syntax.tokenize(spec))


@contextmanager
def no_shapes():
    """Parsing with no shape ever learnt: every rule takes the rule-by-rule path."""
    with patch.object(codec._Shapes, "learn", lambda self, spec: None):
        yield


def outcome(text: str, validate: bool = True) -> object:
    """What parsing gives: each rule's (table, chain, line, spec, counters, typed view) and the chains, or the error."""
    try:
        ruleset = parse_ruleset(text, validate=validate)
    except RulesSyntaxError as exc:
        return ("error", str(exc), exc.line, exc.token, exc.expected)
    rules = [(t.name, r.chain, r.line, r.spec, r.counters, r.parsed) for t in ruleset.tables for r in t.rules()]
    chains = [(t.name, c.name, c.policy, c.counters, len(c.rules)) for t in ruleset.tables for c in t.chains]
    return rules, chains, ruleset.ipv6, render_ruleset(ruleset)


# ---------------------------------------------------------------------------
# One rule: what a shape vouches for
# ---------------------------------------------------------------------------

values = st.sampled_from([
    "10.0.0.1", "fd00::1", "80", "KUBE-SEP-X", "ACCEPT", "-", "-5", "-5x", "!x", "x-m", "x-p", "tcp", "comment",
    '"a b"', '"a  b"', '""', '"!"', '"-x"', '"-5"', '"ab"', 'a"b', '"a\\"b"', "a\\b", "!", "-x", "--dport",
    "a b", "a\tb", "\x00", "é", '"a"b', "0x4000/0x4000",
])


def respell(text: str, draw: st.DrawFn) -> str:
    """``text`` with each of its value tokens replaced by a drawn one (valid, invalid or odd)."""
    pieces = syntax._VALUE_TOKEN.split(text)
    for i in range(1, len(pieces), 2):
        if draw(st.booleans()):
            pieces[i] = draw(values)
    return "".join(pieces)


@settings(max_examples=budget(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs(), st.data())
def test_a_shape_vouches_only_for_canonical_text_that_interprets_alike(spec: RuleSpec, data: st.DataObject) -> None:
    text = syntax.render_spec(spec)
    match = syntax.shape_matcher(text)
    if match is None:
        return
    assert match(text) is not None
    other = respell(text, data.draw)
    if match(other) is None:
        return
    view = general(other)  # never raises for text the shape accepts
    assert syntax.render_spec(view) == other  # canonical: it renders back to itself
    assert syntax.parse_spec(other) == view
    assert [o.flag for o in view.options] == [o.flag for o in spec.options]
    assert (view.target is None) == (spec.target is None)


@settings(max_examples=budget(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs(), st.data())
def test_a_shape_accepts_every_plain_canonical_respelling(spec: RuleSpec, data: st.DataObject) -> None:
    """The other way round: the fast path is really taken for the texts it is meant for."""
    text = syntax.render_spec(spec)
    match = syntax.shape_matcher(text)
    other = respell(text, data.draw)
    split = syntax.split_skeleton(other)
    if match is None or split is None or not is_canonical_text(other):
        return
    if split[0] != syntax.skeleton(text):
        return  # a respelled value changed the skeleton (a flag, a bang, an unneeded quote ...)
    try:
        view = general(other)
    except RulesSyntaxError:
        return
    if syntax.render_spec(view) == other and usual_ports(split[0], split[1]):
        assert match(other) is not None


def usual_ports(skeleton: str, values: list[str]) -> bool:
    """Every port value of the text is of the usual form: the only ones a shape takes (the others are valid or
    not by their numbers, which the interpreter reads)."""
    interpreted = syntax.skeleton_spec(skeleton)
    holes = syntax.value_holes(interpreted) if interpreted is not None else {}
    return all(re.fullmatch(syntax.VALUE_PATTERNS[kind], values[index]) for index, kind in holes.items())


words = st.sampled_from(["-m", "-p", "-j", "-g", "!", "-s", "--dport", "--comment", "comment", "tcp", "X", '"a b"',
                         '""', "-", "-5", "!x", "--set", "recent", "--name", "--match", "a\"b", "-d", "--mark",
                         "--to-destination", "DNAT", "--mode", "statistic", "--probability", "0.5", "mark",
                         "--protocol", "--jump", "udp", "multiport", "--dports", "80,443", "--random-fully"])


@settings(max_examples=budget(600), deadline=None)
@given(st.lists(words, max_size=10), st.lists(words, max_size=10))
def test_shapes_of_arbitrary_words_never_vouch_for_an_invalid_rule(first: list[str], second: list[str]) -> None:
    text, other = " ".join(first), " ".join(second)
    try:
        general(text)
    except RulesSyntaxError:
        return
    if not is_canonical_text(text):
        return
    match = syntax.shape_matcher(text)
    if match is None or match(other) is None:
        return
    assert syntax.render_spec(general(other)) == other


# ---------------------------------------------------------------------------
# Whole dumps: the parse equals the rule-by-rule parse
# ---------------------------------------------------------------------------

lines = st.sampled_from([
    "-A X -s 10.0.0.1 -j ACCEPT", "-A X -s 10.0.0.2 -j KUBE-SEP-A", "-A X -s 10.0.0.3 -j", "-A X -s -j ACCEPT",
    "-A X ! -s 10.0.0.1 -j ACCEPT", "-A X -s ! 10.0.0.1 -j ACCEPT", "-A X -s 10.0.0.1  -j ACCEPT",
    "-A X -s 10.0.0.1 --dport 80", "-A X -m tcp -p tcp --dport 80 -j ACCEPT", "-A X -p tcp --dport 81 -j DROP",
    "-A X -m tcp -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:80", '-A X -m comment --comment "a b" -j Y',
    '-A X -m comment --comment "ab" -j Y', "-A X -m comment --comment ab -j Y", '-A X -m comment --comment "a -j Y',
    '-A X -m comment --comment "-x" -j Y', '-A X -m comment --comment "" -j Y', "-A X -m comment --comment ! -j Y",
    "-A X -m comment --comment !x -j Y", "-A X -m comment --comment -x -j Y", "-A X -m comment --comment -5 -j Y",
    "-A Y -j MARK --or-mark 0x4000", "-A Y -j MARK --xor-mark 0x4000", "-A Y -j MARK --or-mark", "-A Y",
    "[1:2] -A Y -j ACCEPT", "-A Y -j ACCEPT -c 3 4", "-A Z -j ACCEPT", "-A X -j ACCEPT ", "-A X -j ACCEPT\r",
    "-A X -d fd00::1 -j ACCEPT", "-I X 1 -s 10.0.0.9 -j ACCEPT", "-D X -s 10.0.0.1 -j ACCEPT", "-R X 1 -j DROP",
    "-F Y", "-Z", "-A X --match tcp -p tcp --dport 80 -j ACCEPT", "-A X -m statistic --mode random -j Y",
    "-A X -m statistic --mode random --probability 0.5 -j Y", "-A X -m statistic --mode random --probability -j Y",
    ":Y - [0:0]", ":X - [5:6]", "-A X -j", "-A X -s 10.0.0.1 -j ACCEPT --random-fully", "-A X -p tcp -j REJECT",
])


@settings(max_examples=budget(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=25))
def test_a_parse_equals_the_rule_by_rule_parse(body: list[str]) -> None:
    text = "\n".join(["*nat", ":X - [0:0]", ":Y - [0:0]", *body, "COMMIT", ""])
    fast = outcome(text)
    with no_shapes():
        assert outcome(text) == fast
    if fast[0] != "error":
        assert outcome(text, validate=False)[:2] == fast[:2]  # type: ignore[index]


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_dump_parses_as_rule_by_rule(path: Path) -> None:
    text = path.read_text()
    fast = outcome(text)
    with no_shapes():
        assert outcome(text) == fast
    assert fast[0] != "error"
    for rule in (r for t in parse_ruleset(text).tables for r in t.rules()):
        assert rule.parsed == general(rule.spec)


def test_a_kube_proxy_dump_parses_as_rule_by_rule_with_its_line_numbers() -> None:
    text = kube_proxy_dump(40)
    fast = outcome(text)
    with no_shapes():
        assert outcome(text) == fast
    lines_of = {}
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("-A "):
            lines_of[number] = line
    rules = fast[0]  # type: ignore[index]
    assert len(rules) == len(lines_of)
    for _table, chain, line, spec, _counters, _view in rules:
        assert lines_of[line] == f"-A {chain} {spec}"


# ---------------------------------------------------------------------------
# Errors: a rule of a known shape's size is still checked in full
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("bad", "message", "token"), [
    ("-A X -s 10.0.0.9 -j", "-j needs a target name", "end of rule"),
    ("-A X -s 10.0.0.9 --dport 80", "unknown option", "--dport"),
    ("-A X -s 10.0.0.9 ! -j ACCEPT", "'!' cannot negate -j", "-j"),
    ("-A X -s 10.0.0.9 ACCEPT ACCEPT", "-s takes one value", "10.0.0.9 ACCEPT ACCEPT"),
    ("-A X 10.0.0.9 -s ACCEPT -j", "unexpected value", "10.0.0.9"),
    ('-A X -s "10.0.0.9 -j ACCEPT', "host/network `10.0.0.9 -j ACCEPT\\n' not found", "10.0.0.9 -j ACCEPT\n"),
])
def test_errors_after_many_rules_of_a_shape_name_their_line_and_token(bad: str, message: str, token: str) -> None:
    good = [f"-A X -s 10.0.{i // 256}.{i % 256} -j ACCEPT" for i in range(500)]
    text = "\n".join(["*filter", ":X - [0:0]", *good, bad, *good[:3], "COMMIT", ""])
    with pytest.raises(RulesSyntaxError, match=re.escape(message)) as caught:
        parse_ruleset(text, file="dump.rules")
    assert caught.value.line == 503
    assert caught.value.token == token
    assert str(caught.value).startswith("dump.rules:503: ")
    assert caught.value.expected


# ---------------------------------------------------------------------------
# Chains kept as text
# ---------------------------------------------------------------------------

def test_chains_of_texts_keep_lines_and_take_every_restore_command() -> None:
    text = "\n".join([
        "*nat", ":X - [0:0]", ":Y - [0:0]", ":Z - [0:0]", *(f":{name} - [0:0]" for name in "ABCDEFG"),
        "-A X -j A", "-A Y -j B", "-A X -j C",  # X's rules are not on consecutive lines
        "-I X 2 -j D", "-A Y -j E", "-D Y -j B", "-A Z -j F", "-F Z", "-A Z -j G", "COMMIT", ""])
    ruleset = parse_ruleset(text)
    nat = ruleset.tables[0]
    assert [(r.spec, r.line) for r in nat.chain("X").rules] == [("-j A", 12), ("-j D", 15), ("-j C", 14)]  # type: ignore[union-attr]
    assert [(r.spec, r.line) for r in nat.chain("Y").rules] == [("-j E", 16)]  # type: ignore[union-attr]
    assert [(r.spec, r.line) for r in nat.chain("Z").rules] == [("-j G", 20)]  # type: ignore[union-attr]
    assert parse_ruleset(render_ruleset(ruleset)) == ruleset


def test_a_chain_of_texts_equals_the_same_chain_of_rules() -> None:
    from kubeproxy_sim.netfilter.model import Chain, Rule, Table

    text = "*nat\n:X - [0:0]\n-A X -s 10.0.0.1 -j ACCEPT\n-A X -j DROP\nCOMMIT\n"
    built = Ruleset((Table("nat", (Chain("X", (Rule("X", "-s 10.0.0.1 -j ACCEPT"), Rule("X", "-j DROP"))),)),))
    parsed = parse_ruleset(text)
    assert parsed == built and built == parsed
    assert parsed.tables[0].chains[0].specs == ("-s 10.0.0.1 -j ACCEPT", "-j DROP")
    assert render_ruleset(parsed) == text


# ---------------------------------------------------------------------------
# The family shortcut
# ---------------------------------------------------------------------------

fragments = st.sampled_from(["-s ", "-d ", "--to-destination ", "--src-range ", "fd00::1", "10.0.0.1", ":", "::",
                             "a:b:", "1:2:3", "\n", " ", '"', "[", "x", "-A X ", "0:0", "."])


@settings(max_examples=budget(500), deadline=None)
@given(st.lists(fragments, max_size=20))
def test_the_ipv6_search_finds_what_the_full_pattern_finds(parts: list[str]) -> None:
    text = "".join(parts)
    assert codec._mentions_ipv6(text) == (codec._IPV6_VALUE.search(text) is not None)


class _CountingText(str):
    """A dump that adds up how many characters its count() reads: the lines of the rules the family's checks read
    again (_check_targets) are numbered with it."""

    read = 0

    def count(self, sub: str, start: SupportsIndex | None = None,
              end: SupportsIndex | None = None) -> int:
        lo, hi, _ = slice(start, end).indices(len(self))
        self.read += max(0, hi - lo)
        return super().count(sub, start, end)


def test_the_lines_the_family_s_checks_read_again_are_numbered_in_one_pass() -> None:
    """Each icmp rule is a suspect line (it may be the other family's); its number was counted from the start of
    the text, so r1's 100 such rules added to a 10k-service dump made its parse 0.95 s -> 5.4 s (400: 17.9 s).
    Counted on from the previous one, each table's text is read once per suspect pattern."""
    icmp = "".join(f'-A KUBE-SERVICES -p icmp -m icmp --icmp-type 8 -m comment --comment "r{i}" -j ACCEPT\n'
                   for i in range(200))
    dump = kube_proxy_dump(200).replace("COMMIT\n", icmp + "-A KUBE-SERVICES -p icmpv6 -m icmp6 --icmpv6-type 128 "
                                        "-j ACCEPT\nCOMMIT\n")
    text = _CountingText(dump)
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text)
    assert info.value.line == dump.count("\n") - 1 and info.value.token == "icmp6"
    assert text.read <= 4 * len(text)


def test_a_refused_dump_of_no_ipv6_is_judged_without_a_regex_per_rule() -> None:
    """The rules read before a refused line are judged for their family (earlier_in_family) with the shortcut a
    parse takes: r1 measured a refused 320k-rule dump 0.6 s slower than its parse, each rule's address read."""
    text = kube_proxy_dump(50).replace("COMMIT\n", "-A KUBE-SERVICES --bogus\nCOMMIT\n")
    with patch.object(codec, "_family", side_effect=AssertionError("each rule's address read")), \
            pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text)
    assert info.value.line == text.count("\n") - 1 and info.value.token == "--bogus"


# ---------------------------------------------------------------------------
# The shape book-keeping
# ---------------------------------------------------------------------------

def test_a_shape_is_learnt_when_met_twice_and_then_vouches() -> None:
    shapes = codec._Shapes()
    first, second, third = "-s 10.0.0.1 -j ACCEPT", "-s 10.0.0.2 -j DROP", "-s 10.0.0.3 -j KUBE-SEP-X"
    shapes.learn(first)
    assert not shapes.known(second)  # met once: not worth a compile yet
    shapes.learn(second)
    assert shapes.known(third) and shapes.count == 1
    shapes.learn(third)
    assert shapes.count == 1  # never twice
    assert not shapes.known("-d 10.0.0.3 -j ACCEPT") and not shapes.known("-s 10.0.0.3 -j ")


def test_a_shape_s_match_holds_the_jump_target_unless_it_is_the_shape_s_own() -> None:
    """What the parser checks jumps by (no second search of the text): group 1 is the -j target, None when the
    shape was made of a rule jumping there too (its target is in _Shapes.targets), "" without a target; a goto's
    rule has no shape (its word is checked as a goto's)."""
    match = syntax.shape_matcher("-s 10.0.0.1/32 -j KUBE-MARK-MASQ")
    assert match is not None
    assert match("-s 10.0.0.2/32 -j KUBE-MARK-MASQ")[1] is None  # type: ignore[index]
    assert match("-s 10.0.0.2/32 -j KUBE-MARK-MASQX")[1] == "KUBE-MARK-MASQX"  # type: ignore[index]
    assert match("-s 10.0.0.2/32 -j KUBE-SEP-A")[1] == "KUBE-SEP-A"  # type: ignore[index]
    bare = syntax.shape_matcher("-s 10.0.0.1/32")
    assert bare is not None and bare("-s 10.0.0.2/32")[1] == ""  # type: ignore[index]
    assert syntax.shape_matcher("-s 10.0.0.1/32 -g FOO") is None


@pytest.mark.parametrize(("target", "line"), [("NOPE", 10), ("KUBE-MARK-MASQX", 10), ("INPUT", 10), ("LOG", None),
                                              ("LATER", 10), ("MARK", 10), ("DNAT", 10)])
def test_a_jump_in_a_rule_of_a_known_shape_is_checked_as_any_other(target: str, line: int | None) -> None:
    """The rules before the last one make their shape known, so the last is vouched for by its match alone: its
    target (a chain not declared, one declared after it, a built-in chain, an extension without the option it
    needs) is refused at its line all the same."""
    rules = [f"-A FOO -s 10.0.0.{i}/32 -j KUBE-MARK-MASQ" for i in range(1, 5)]
    text = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FOO - [0:0]", ":KUBE-MARK-MASQ - [0:0]", "-A INPUT -j FOO",
                      *rules, f"-A FOO -s 10.0.0.9/32 -j {target}", ":LATER - [0:0]", "COMMIT", ""])
    with no_shapes():
        expected = outcome(text)
    assert outcome(text) == expected
    error = parse_error(text)
    assert (error.line if error is not None else None) == line


def test_a_shape_s_target_extension_is_one_that_takes_its_options() -> None:
    """A shape made of ``-j DNAT --to-destination`` vouches for that option after DNAT, not after MARK (unknown
    option) nor after SNAT (which needs --to-source); one of a bare jump not for ``-j MARK`` alone (which needs an
    option, unless a chain MARK takes the jump: the parser's to judge), nor is one made of it."""
    match = syntax.shape_matcher("-p tcp -j DNAT --to-destination 10.0.0.1:80")
    assert match is not None and match("-p tcp -j DNAT --to-destination 10.0.0.2:80")
    assert not match("-p tcp -j MARK --to-destination 10.0.0.2:80")
    assert not match("-p tcp -j SNAT --to-destination 10.0.0.2:80")
    bare = syntax.shape_matcher("-s 10.0.0.1/32 -j KUBE-MARK-MASQ")
    assert bare is not None and bare("-s 10.0.0.1/32 -j MARKED") and not bare("-s 10.0.0.1/32 -j MARK")
    assert syntax.shape_matcher("-s 10.0.0.1/32 -j MARK") is None


def parse_error(text: str) -> RulesSyntaxError | None:
    try:
        parse_ruleset(text)
    except RulesSyntaxError as error:
        return error
    return None


def test_a_shape_with_too_many_values_is_left_to_the_general_path() -> None:
    spec = " ".join(f"-m comment --comment c{i}" for i in range(syntax._SHAPE_MAX_HOLES + 1))
    assert syntax.shape_matcher(spec) is None
    assert syntax.shape_matcher(" ".join(spec.split(" ")[:-4])) is not None  # one -m comment --comment c fewer


@pytest.mark.parametrize(("limit", "per_bucket"), [(1, 1), (3, 2), (256, 8)])
def test_a_dump_of_many_shapes_parses_as_rule_by_rule_whatever_the_limits(limit: int, per_bucket: int) -> None:
    body = []
    for k in range(60):
        matches = " ".join(f"-m comment --comment c{j}" for j in range(k % 6)) + " -m mark --mark 0x1" * (k // 6)
        body += [f"-A X -s 10.0.{k}.{i} {matches} -j ACCEPT" for i in range(3)]
    body.append("-A X -s 10.0.0.1 -m mark --mark 0x1 -j")
    text = "\n".join(["*filter", ":X - [0:0]", *body, "COMMIT", ""])
    with patch.object(codec, "_SHAPES_LIMIT", limit), patch.object(codec, "_SHAPES_PER_BUCKET", per_bucket):
        fast = outcome(text)
    with no_shapes():
        assert outcome(text) == fast
    assert fast[0] == "error" and fast[2] == len(body) + 2  # type: ignore[index]


@settings(max_examples=budget(500), deadline=None)
@example("nat", "1.2.3.4:")
@example("nat", "10.0.0.1:0")
@example("port", "65536")
@example("ports", "1,2:1")
@given(st.sampled_from(sorted(syntax.VALUE_PATTERNS)),
       st.text(alphabet="0123456789:,.-[]abcdefx", max_size=24))
def test_a_port_value_a_shape_takes_is_valid(kind: str, value: str) -> None:
    """A shape vouches for a rule without reading its port values (or recent's numbers and list names), so every
    value its pattern takes must be one the interpreter passes (the patterns may take fewer: the others are read
    one by one)."""
    if re.fullmatch(syntax.VALUE_PATTERNS[kind], value):
        assert syntax.value_problem(kind, value) is None
