"""syntax.target_word reads a rule's target off its canonical text as parse_spec does, and codec.undeclared_jumps
(which reads every rule of a dump through it) parses no rule of a full dump and finds a partial input's jumps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter import codec, syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Option, RuleSpec, Target


def _parsed(spec: str) -> tuple[str, bool] | None:
    target = syntax.parse_spec(spec).target
    return None if target is None else (target.name, target.goto)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "-p tcp",
        "-j ACCEPT",
        "-g KUBE-SVC-X",
        '-s 10.0.0.0/8 -m comment --comment "x -j DROP" -j KUBE-MARK-MASQ',
        '-m comment --comment "-j DROP" -j ACCEPT',
        '-m comment --comment "a -g B"',
        "-m comment --comment -j",
        "-m comment --comment -g -j ACCEPT",
        "-m comment --comment -j -j RETURN",
        '-j LOG --log-prefix "-j x"',
        '-j LOG --log-prefix "say \\"-j x\\" -g y"',
        '-m comment --comment "a\\\\" -j DROP',
        "-j KUBE-SEP-A -p tcp",
        '-j KUBE-SEP-A -m comment --comment "-g C"',
        "-p tcp -j DNAT --to-destination 10.0.0.1:80",
        "--jump ACCEPT",
        "-p tcp --goto KUBE-X",
        '-m comment --comment "--jump X"',
    ],
)
def test_the_target_read_off_the_text_is_the_parsed_one(spec: str) -> None:
    assert syntax.target_word(spec) == _parsed(spec)


_WORDS = st.sampled_from(["-j", "-g", "-j X", "--jump", "a", "ACCEPT", "\\", '"', "", " ", "x y", "-p", "--goto"])
_VALUES = st.lists(_WORDS, max_size=4).map("".join)
_NAMES = st.sampled_from(["ACCEPT", "DROP", "RETURN", "KUBE-SVC-X", "LOG", "MARK", "C"])


@st.composite
def _specs(draw: st.DrawFn) -> str:
    """Canonical texts of rules whose comments and prefixes hold target-like words, quotes and backslashes."""
    options = [Option("-m", ("comment",), module="comment"), Option("--comment", (draw(_VALUES),), module="comment")]
    if draw(st.booleans()):
        options = [Option("-p", ("tcp",)), *options]
    name = draw(_NAMES)
    target_options: tuple[Option, ...] = ()
    if name == "LOG" and draw(st.booleans()):
        target_options = (Option("--log-prefix", (draw(_VALUES),), module="LOG"),)
    target = (
        None
        if draw(st.integers(0, 5)) == 0
        else Target(name, target_options, goto=name.startswith("KUBE") and draw(st.booleans()))
    )
    return syntax.render_spec(RuleSpec(tuple(options), target))


@settings(max_examples=400, deadline=None)
@given(_specs())
def test_target_word_agrees_with_the_parse_of_any_canonical_text(spec: str) -> None:
    try:
        want = _parsed(spec)
    except Exception:  # (a value the parser refuses: no rule of a dump)
        return
    assert syntax.target_word(spec) == want


_FULL = (
    "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n"
    '-A PREROUTING -m comment --comment "kubernetes service portals -j KUBE-NODEPORTS" -j KUBE-SERVICES\n'
    "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A\n"
    "-A KUBE-SVC-A -j DNAT -p tcp --to-destination 10.0.0.1:80\nCOMMIT\n"
)


def test_a_full_dump_is_found_whole_without_parsing_or_building_its_rules() -> None:
    """The parser noted no word that may be an undeclared chain (the targets of the rules it read), so no rule
    is made; before, every rule was parsed (rule.parsed) to read its target."""
    ruleset = parse_ruleset(_FULL)
    assert ruleset.tables[0].undeclared_words == frozenset()
    assert codec.undeclared_jumps(ruleset) == []
    assert all(chain._rules is None for chain in ruleset.tables[0].chains if chain.specs is not None)


def test_a_word_quoted_in_a_comment_is_no_jump() -> None:
    """A goto's word is searched for in the text, a comment's too: the rules are read, and it is no jump."""
    ruleset = parse_ruleset(_FULL.replace("-j KUBE-NODEPORTS", "-g KUBE-NODEPORTS"))
    assert ruleset.tables[0].undeclared_words == frozenset({'KUBE-NODEPORTS"'})  # (the parser's superset)
    assert codec.undeclared_jumps(ruleset) == []


def test_a_partial_input_names_each_undeclared_chain_at_its_first_jump() -> None:
    text = (
        "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n"
        '-A KUBE-SERVICES -m comment --comment "-j KUBE-SVC-Q" -j KUBE-SVC-A\n'
        '-A KUBE-SERVICES -m comment --comment "b" -j KUBE-SVC-B\n'
        "-A KUBE-SVC-A -g KUBE-SEP-C\n-A KUBE-SVC-A -j KUBE-SVC-B\n-A KUBE-SVC-A -j ACCEPT\nCOMMIT\n"
    )
    ruleset = parse_ruleset(text)
    assert codec.undeclared_jumps(ruleset) == [("nat", "KUBE-SVC-B", 5), ("nat", "KUBE-SEP-C", 6)]
