"""The parser accepts and refuses what iptables-restore accepts and refuses, for the inputs of
:mod:`tests.netfilter.restore_cases` (each observed with iptables-legacy-restore and iptables-nft-restore v1.8.9;
``tests/kernel/test_restore_parity`` checks the same inputs against this machine's tools)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from tests.netfilter.restore_cases import ALL_CASES, Case, filter_with


def saved_lines(text: str) -> list[str]:
    """Our ``rules --full`` of ``text``, each rule's ``[0:0]`` as iptables-save -c prints it for one without."""
    out = render_saved(save_lines(parse_ruleset(text))).splitlines()
    return [line if line[:1] != "-" else "[0:0] " + line for line in out]


def refusal(text: str) -> RulesSyntaxError:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="node.rules")
    return info.value


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_the_parser_agrees_with_iptables_restore(case: Case) -> None:
    if case.line is not None:
        assert refusal(case.text).line == case.line
        return
    ours = saved_lines(case.text)
    assert [line for line in case.saved if line not in ours] == [], ours


def test_a_user_chain_declared_twice_is_refused_naming_both_lines() -> None:
    """iptables-legacy-restore v1.8.9: "error creating chain 'FOO':File exists", Error occurred at line: 7.
    (iptables-nft-restore v1.8.9 flushes FOO instead, keeping only -j DROP; this parser did that before.)"""
    err = refusal(filter_with(":FOO - [0:0]", "-A FOO -j ACCEPT", ":FOO - [0:0]", "-A FOO -j DROP"))
    assert str(err) == ("node.rules:7: chain FOO is declared twice in table filter (first at line 5) at ':FOO'; "
                        "expected each user-defined chain declared once (-F NAME empties it)")


def test_a_built_in_chain_declared_again_takes_the_new_policy_and_keeps_its_rules() -> None:
    """Both v1.8.9 restores: ``:INPUT ACCEPT [5:6]`` after ``:INPUT DROP`` and a rule leaves ACCEPT [5:6] and both
    rules."""
    text = filter_with(":INPUT DROP [0:0]", "-A INPUT -j ACCEPT", ":INPUT ACCEPT [5:6]", "-A INPUT -j DROP")
    chain = parse_ruleset(text).tables[0].chain("INPUT")
    assert chain is not None
    assert (chain.policy, chain.counters, [r.spec for r in chain.rules]) == (
        "ACCEPT", (5, 6), ["-j ACCEPT", "-j DROP"])
