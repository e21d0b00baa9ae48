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
from tests.netfilter.test_codec import noisy, rule_specs

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_RULES = sorted(ROOT.glob("rulesets/*/*.rules"))


def general(spec: str) -> RuleSpec:
    """The typed view without the skeleton fast path."""
    return syntax.interpret(syntax.tokenize(spec))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs())
def test_fast_path_agrees_on_canonical_text(spec: RuleSpec) -> None:
    text = syntax.render_spec(spec)
    fast = syntax._from_skeleton(text)
    if fast is not None:
        assert fast == general(text) == spec
    assert syntax.parse_spec(text) == spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


@settings(max_examples=500, deadline=None)
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
