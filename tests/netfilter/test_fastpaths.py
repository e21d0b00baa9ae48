"""The speed paths give exactly what the general paths give.

The skeleton fast path of ``syntax.parse_spec`` must build the same typed view as
the tokenizer and interpreter for every text it accepts, decline whatever it
cannot represent, and leave every error to the general path; the bulk
constructors must build objects equal to the ones ``__init__`` builds; the
compile caches must not change what a rule matches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Option, Rule, RuleSpec, Target
from tests.budget import budget
from tests.netfilter.test_codec import noisy, rule_specs

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_RULES = sorted(ROOT.glob("rulesets/*/*.rules"))


def general(spec: str) -> RuleSpec:
    """The typed view without the skeleton fast path."""
    return syntax.interpret(syntax.tokenize(spec))


@settings(max_examples=budget(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs())
def test_fast_path_agrees_on_canonical_text(spec: RuleSpec) -> None:
    text = syntax.render_spec(spec)
    fast = syntax._from_skeleton(text)
    if fast is not None:
        assert fast == general(text) == spec
        split = syntax.split_skeleton(text)
        assert split is not None
        skeleton, values = split
        program = syntax._program(skeleton)
        assert program is not None and syntax._run_program(program, values) == spec  # the reference
    assert syntax.parse_spec(text) == spec


@settings(max_examples=budget(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs(), st.data())
def test_fast_path_agrees_on_any_spelling(spec: RuleSpec, data: st.DataObject) -> None:
    text = noisy(spec, data.draw)
    fast = syntax._from_skeleton(text)
    if fast is not None:
        assert fast == general(text)
    assert syntax.parse_spec(text) == spec


words = st.sampled_from(["-m", "-p", "-j", "-g", "!", "-s", "--dport", "--comment", "comment", "tcp", "X", '"a b"',
                         '""', "-", "-5", "!x", "--set", "recent", "--name", "--match", "a\"b", "-d",
                         "--to-destination", "DNAT", "--mode", "statistic", "--probability", "0.5", "\\", "--jump"])


@settings(max_examples=budget(500), deadline=None)
@given(st.lists(words, max_size=10))
def test_fast_path_agrees_or_declines_on_arbitrary_words(parts: list[str]) -> None:
    """Including invalid rules: the fast path never answers what the general path rejects."""
    text = " ".join(parts)
    fast = syntax._from_skeleton(text)
    try:
        expected = general(text)
    except RulesSyntaxError:
        assert fast is None
        with pytest.raises(RulesSyntaxError):
            syntax.parse_spec(text)
        return
    if fast is not None:
        assert fast == expected
    assert syntax.parse_spec(text) == expected


@pytest.mark.parametrize("path", GOLDEN_RULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_path_agrees_on_every_golden_rule(path: Path) -> None:
    for table in parse_ruleset(path.read_text(), validate=False).tables:
        for rule in table.rules():
            assert syntax.parse_spec(rule.spec) == general(rule.spec), rule.spec


def test_fast_path_shares_value_free_options() -> None:
    a = syntax.parse_spec("-m tcp -p tcp -d 10.0.0.1 --dport 80 -j KUBE-SVC-A")
    b = syntax.parse_spec("-m tcp -p tcp -d 10.0.0.2 --dport 81 -j KUBE-SVC-B")
    assert a.options[0] is b.options[0]  # -m tcp
    assert a.options[2] == Option("-d", ("10.0.0.1",)) and b.options[2] == Option("-d", ("10.0.0.2",))
    assert a.target == Target("KUBE-SVC-A") and b.target == Target("KUBE-SVC-B")


def test_bulk_constructors_equal_init() -> None:
    assert Rule.make("C", "-j X", 4, (1, 2)) == Rule("C", "-j X", 4, (1, 2))
    assert Rule.make("C", "-j X").counters is None and Rule.make("C", "-j X")._parsed is None
    assert Rule.many("C", ["-j X", "-j Y"]) == (Rule("C", "-j X"), Rule("C", "-j Y"))
    assert Option.make("-s", ("1.2.3.4",), True, "") == Option("-s", ("1.2.3.4",), True)
    assert RuleSpec.make((), None) == RuleSpec()


def test_collector_pause_restores_the_collector_and_freezes_only_large_builds() -> None:
    import gc

    from kubeproxy_sim.objects import bulk

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with bulk.collector_paused():
        assert not gc.isenabled()
        small = [[i] for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == frozen and small
    try:
        with bulk.collector_paused():
            large = [[i] for i in range(bulk.FREEZE_THRESHOLD + 1000)]
        assert gc.isenabled() and gc.get_freeze_count() > frozen + bulk.FREEZE_THRESHOLD and large
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with bulk.collector_paused():
            pass
        assert not gc.isenabled()  # a caller's own pause is left alone
    finally:
        gc.enable()


def test_a_large_build_does_not_freeze_the_caller_s_garbage() -> None:
    """gc.freeze takes every tracked object: a dropped cycle of the caller's must be collected first."""
    import gc
    import weakref

    from kubeproxy_sim.objects import bulk

    class Peer:
        other: object

    a, b = Peer(), Peer()
    a.other, b.other = b, a
    gc.collect()  # the cycle is old, as a long-lived caller's state is
    dropped = weakref.ref(a)
    del a, b
    try:
        with bulk.collector_paused():
            large = [[i] for i in range(bulk.FREEZE_THRESHOLD + 1000)]
        gc.collect()
        assert dropped() is None and large
    finally:
        gc.unfreeze()


def test_render_by_chain_equals_render_by_line() -> None:
    from kubeproxy_sim.netfilter.model import Chain, Ruleset, Table
    from kubeproxy_sim.netfilter.render import render_ruleset, render_table

    odd = Chain("X", (Rule("X", "-j A"), Rule("X", ""), Rule("Y", "-j B"), Rule("X", "-j C", 0, (1, 2))))
    plain = Chain("Z", (Rule("Z", "-s 10.0.0.1 -j A"), Rule("Z", "-j B")))
    ruleset = Ruleset((Table("nat", (odd, plain, Chain("E")), ("E",)), Table("filter")))
    expected = "".join("\n".join(render_table(t)) + "\n" for t in ruleset.tables)
    assert render_ruleset(ruleset) == expected


@pytest.mark.parametrize("validate", [True, False])
def test_family_shortcut_agrees_with_the_rule_by_rule_check(validate: bool) -> None:
    v4 = "*nat\n:X - [0:0]\n-A X -d 10.0.0.1 -j ACCEPT\nCOMMIT\n"
    v6 = "*nat\n:X - [0:0]\n-A X -d fd00::1 -j ACCEPT\nCOMMIT\n"
    bare = "*nat\n:X - [0:0]\n-A X -j ACCEPT\nCOMMIT\n"
    assert parse_ruleset(v4, validate=validate).ipv6 is False
    assert parse_ruleset(v6, validate=validate).ipv6 is True
    assert parse_ruleset(bare, validate=validate).ipv6 is False
    assert parse_ruleset(bare, ipv6=True, validate=validate).ipv6 is True
    deleted = "*nat\n:X - [0:0]\n-A X -d fd00::1 -j ACCEPT\n-D X -d fd00::1 -j ACCEPT\n-A X -j ACCEPT\nCOMMIT\n"
    assert parse_ruleset(deleted, validate=validate).ipv6 is False  # only the rules that remain count
    if validate:
        with pytest.raises(RulesSyntaxError, match="host/network `10\\.0\\.0\\.1' not found"):
            parse_ruleset(v4, ipv6=True)
        with pytest.raises(RulesSyntaxError, match="host/network `fd00::1' not found"):
            parse_ruleset(v6, ipv6=False)


def _dotted_quad_reference(text: str) -> int | None:
    """The digit-by-digit reading the regex replaced."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or (len(part) > 1 and part[0] == "0"):
            return None
        if int(part) > 255:
            return None
        value = value << 8 | int(part)
    return value


@settings(max_examples=budget(500), deadline=None)
@given(st.text("0123456789.٣ x", max_size=16) | st.builds(
    lambda parts: ".".join(parts), st.lists(st.integers(0, 300).map(str) | st.sampled_from(["00", "01", "256"]),
                                            min_size=3, max_size=5)))
def test_dotted_quad_reads_exactly_what_it_read_before(text: str) -> None:
    from kubeproxy_sim.netfilter.packet import _dotted_quad

    assert _dotted_quad(text) == _dotted_quad_reference(text)


WALK_ORDER_TEXT = """*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SEP-B - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-X - [0:0]
:ORPHAN - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A KUBE-SEP-B -p tcp -j DNAT
-A KUBE-SEP-B -p tcp -j DNAT --to-destination 10.0.0.2:80
-A KUBE-SEP-A -p tcp -j DNAT --to-destination 10.0.0.1:80
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X
-A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
-A KUBE-SVC-X -j KUBE-SEP-B
-A KUBE-SVC-X -j MARK
-A ORPHAN -j MARK
COMMIT
"""
"""Chains out of the dump's order, and rules that cannot be compiled (lines 9, 15, 16)."""


def test_compiling_in_walk_order_keeps_the_dump_s_order() -> None:
    """Chains are compiled in the order a walk reaches them (for locality); nothing else may change:
    the chains' order, their rules, the jumps, and the order of problems are the dump's. A rule that
    cannot be compiled stays in place as one that never matches and says why."""
    from kubeproxy_sim.netfilter.compile import Doubt, Kind, compile_ruleset

    text = WALK_ORDER_TEXT
    for lazy in (False, True):
        compiled = compile_ruleset(parse_ruleset(text, validate=False), lazy=lazy)  # (iptables refuses the bare
        chains = compiled.tables["nat"]  # DNAT and MARK: only the bulk path, which checks no rule, takes them)
        assert list(chains) == ["PREROUTING", "KUBE-SEP-B", "KUBE-SEP-A", "KUBE-SERVICES", "KUBE-SVC-X", "ORPHAN"]
        assert [r.jump.name for r in chains["KUBE-SVC-X"].rules if r.jump] == ["KUBE-SEP-A", "KUBE-SEP-B"]
        assert [[r.line for r in c.rules] for c in chains.values()] == [[8], [9, 10], [11], [12], [13, 14, 15], [16]]
        unusable = chains["KUBE-SVC-X"].rules[2]
        doubt = unusable.checks[0](None)
        assert unusable.kind is Kind.CONTINUE and isinstance(doubt, Doubt) and doubt.assume is False
        assert doubt.reason.startswith("the rule cannot be evaluated: MARK needs")
        assert [s.line for c in chains.values() for s in (r.step for r in c.rules)] == list(range(8, 17))
    # the walk meets line 15 (KUBE-SVC-X) before line 9 (KUBE-SEP-B); problems keep the dump's order
    assert [rule.line for rule, _ in compile_ruleset(parse_ruleset(text, validate=False)).problems] == [9, 15, 16]


def test_parsing_makes_no_garbage_cycles_so_a_large_dump_is_collected_on_the_way_in(
        monkeypatch: pytest.MonkeyPatch, collector_off: None) -> None:
    """parse_ruleset collects a large dump's heap on the way into its pause (objects.bulk), which cannot free a
    cycle made inside: parsing must make none, on every dump here, with or without validation. (compile and
    to_save_form must make none either: see the next test.)"""
    import gc
    from contextlib import nullcontext

    from kubeproxy_sim.netfilter import codec
    from tests.realworld import DUMPS

    asked: list[int] = []
    monkeypatch.setattr(codec, "collector_paused", lambda expected=0: asked.append(expected) or nullcontext())
    texts = [path.read_text() for path in [*GOLDEN_RULES, *sorted(DUMPS.glob("*.rules"))]]
    assert any("x.x.x.x" in text for text in texts)  # a redacted address is among them
    for text in texts:
        for validate in (True, False):
            gc.collect()
            assert parse_ruleset(text, validate=validate).tables
            assert gc.collect() == 0
    assert asked[-1] == len(texts[-1]) // codec.BYTES_PER_OBJECT


def test_compile_and_save_form_make_no_garbage_cycles_so_a_large_ruleset_is_collected_on_the_way_in(
        monkeypatch: pytest.MonkeyPatch, collector_off: None) -> None:
    """compile_ruleset and to_save_form collect a large ruleset's heap on the way into their pause (objects.bulk,
    ``expected`` from the rule count, or the chain count when compiling lazily), which cannot free a cycle made
    inside: neither may make one, on every dump here (a redacted address, rules that cannot be compiled and IPv6
    among them), nor may the result hold one, with the typed views still to build or already built, with a memo
    or without, compiled up front or lazily."""
    import gc
    from contextlib import nullcontext

    from kubeproxy_sim.netfilter import compile_tables, saveform
    from kubeproxy_sim.netfilter.compile import compile_ruleset
    from kubeproxy_sim.netfilter.model import Chain, Ruleset, Table
    from kubeproxy_sim.netfilter.saveform import to_save_form
    from tests.realworld import DUMPS
    from tests.test_netaddr_cycles import REDACTED_RULES

    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(compile_tables, "collector_paused",
                        lambda expected=0: asked.append(("compile", expected)) or nullcontext())
    monkeypatch.setattr(saveform, "collector_paused",
                        lambda expected=0: asked.append(("save", expected)) or nullcontext())
    paths = [*GOLDEN_RULES, *sorted(ROOT.glob("rulesets/*/rules.golden")), *sorted(DUMPS.glob("*.rules"))]
    texts = [path.read_text() for path in paths] + [WALK_ORDER_TEXT, REDACTED_RULES]
    assert any("x.x.x.x" in text for text in texts[:-2])  # a redacted address is among the dumps
    families: set[bool] = set()
    builds = (lambda ruleset: compile_ruleset(ruleset), lambda ruleset: compile_ruleset(ruleset, memo={}),
              to_save_form, lambda ruleset: compile_ruleset(ruleset, lazy=True))
    for text in texts:
        gc.collect()
        ruleset = parse_ruleset(text, validate=False)
        families.add(ruleset.ipv6)
        for build in (*builds, *builds):  # the second time round, the typed views are built
            assert build(ruleset).tables
        assert gc.collect() == 0, text[:200]
    assert families == {False, True}
    rules = ruleset.rule_count()
    assert rules == sum(len(chain.rules) for table in ruleset.tables for chain in table.chains) > 0
    generated = Chain.of_specs("KUBE-SVC-X", ["-j KUBE-SEP-A", "-j KUBE-SEP-B"])
    assert Ruleset((Table("nat", (generated,)),)).rule_count() == 2
    assert generated._rules is None  # counted from the spec texts, no rule built
    chains = sum(len(table.chains) for table in ruleset.tables)
    assert asked[-8:] == [("compile", rules * compile_tables.BUILT_PER_RULE),
                          ("compile", rules * compile_tables.BUILT_PER_MEMO_RULE),
                          ("save", rules * saveform.SAVED_PER_RULE),
                          ("compile", chains * compile_tables.BUILT_PER_LAZY_CHAIN)] * 2


def test_a_skeleton_and_its_interpretation_are_syntax_s_public_seam() -> None:
    """split_skeleton and skeleton_spec are what the skeleton fast path, the rule shapes and saveform's plans read
    (R-sim 3: saveform imported four private names and turned _program's recipes back into placeholders)."""
    import ast
    from pathlib import Path

    from kubeproxy_sim.netfilter import saveform
    from kubeproxy_sim.netfilter.model import Option, Target

    text = '-d 10.0.0.1/32 -p tcp -m comment --comment "a b" -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:80'
    hole = syntax.HOLE
    assert syntax.split_skeleton(text) == (
        f"-d {hole} -p tcp -m comment --comment {hole} -m tcp --dport {hole} -j {hole} --to-destination {hole}",
        ["10.0.0.1/32", '"a b"', "80", "DNAT", "10.0.0.2:80"])
    spec = syntax.skeleton_spec(syntax.split_skeleton(text)[0])  # type: ignore[index]
    assert spec is not None and spec.options[0] == Option("-d", (f"{hole}0",)) and spec.options[-1] == Option(
        "--dport", (f"{hole}2",), False, "tcp")
    assert spec.target == Target(f"{hole}3", (Option("--to-destination", (f"{hole}4",), False, f"{hole}3"),))
    assert syntax.split_skeleton("-j  X") is None and syntax.skeleton_spec(f"--jump {hole}") is None
    tree = ast.parse(Path(saveform.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "kubeproxy_sim.netfilter.syntax" for alias in node.names]
    assert imported and not [name for name in imported if name.startswith("_")]
