"""Long options abbreviated as getopt_long takes them (iptables parses each rule with it over its own options and
those of the extensions loaded so far): an unambiguous prefix names its option, saved whole; a prefix of several is
refused in iptables' words. Each case observed with iptables-legacy-restore and iptables-nft-restore v1.8.9 (both
alike) in a fresh network namespace, read back with iptables-save (2026-12-01)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from tests.netfilter.restore_cases import ABBREVIATED, AMBIGUOUS, FILTER, NAT


def _saved(head: str, rule: str, ipv6: bool = False) -> str:
    text = f"{head}{rule}\nCOMMIT\n"
    return next(
        line for line in render_saved(save_lines(parse_ruleset(text, ipv6=ipv6))).splitlines() if line.startswith("-A")
    )


@pytest.mark.parametrize(("head", "rule", "saved"), ABBREVIATED, ids=[rule for _, rule, _ in ABBREVIATED])
def test_an_unambiguous_prefix_is_saved_whole(head: str, rule: str, saved: str) -> None:
    assert _saved(head, rule) == saved


def test_an_abbreviation_in_ipv6() -> None:
    assert (
        _saved(FILTER, "-A INPUT -p tcp --dp 80 -j ACCEPT", ipv6=True) == "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT"
    )


@pytest.mark.parametrize(("head", "rule", "word"), AMBIGUOUS, ids=[rule for _, rule, _ in AMBIGUOUS])
def test_a_prefix_of_several_is_refused_in_iptables_words(head: str, rule: str, word: str) -> None:
    with pytest.raises(RulesSyntaxError) as caught:
        parse_ruleset(f"{head}{rule}\nCOMMIT\n", file="node.rules")
    assert f'unknown option "{word}"' in str(caught.value)
    assert caught.value.line == head.count("\n") + 1


def test_dnat_has_no_random_fully() -> None:
    """iptables 1.8.9's DNAT takes --random and --persistent, not --random-fully (SNAT's and MASQUERADE's)."""
    with pytest.raises(RulesSyntaxError, match="unknown option"):
        parse_ruleset(f"{NAT}-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --random-fully\nCOMMIT\n")


def test_a_prefix_is_not_canonical_text() -> None:
    """A rule written with a prefix is not kept as written (its text is rendered whole), also in a dump's bulk path."""
    rules = "".join(f"-A INPUT -s 10.0.0.{i}/32 -p tcp -m tcp --dp {i} -j ACCEPT\n" for i in range(1, 4))
    ruleset = parse_ruleset(f"{FILTER}{rules}COMMIT\n")
    assert [rule.spec for rule in ruleset.tables[0].chains[0].rules] == [
        f"-s 10.0.0.{i}/32 -p tcp -m tcp --dport {i} -j ACCEPT" for i in range(1, 4)
    ]


def test_a_whole_option_that_names_another_here_is_not_canonical_text() -> None:
    """``--to`` is NETMAP's whole option, and after -j DNAT the start of --to-destination: its text is rendered
    (consumers that read a rule's text, such as the family checks of --to-destination, see the whole name)."""
    text = f"{NAT}-A PREROUTING -p tcp -j DNAT --to 1.2.3.4:80\n-A PREROUTING -j NETMAP --to 10.0.0.0/8\nCOMMIT\n"
    assert [rule.spec for rule in parse_ruleset(text).tables[0].chains[0].rules] == [
        "-p tcp -j DNAT --to-destination 1.2.3.4:80",
        "-j NETMAP --to 10.0.0.0/8",
    ]
