"""Long options abbreviated as getopt_long takes them (iptables parses each rule with it over its own options and
those of the extensions loaded so far): an unambiguous prefix names its option, saved whole; a prefix of several is
refused in iptables' words. Each case observed with iptables-legacy-restore and iptables-nft-restore v1.8.9 (both
alike) in a fresh network namespace, read back with iptables-save (2026-12-01)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines

FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
NAT = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"


def _saved(head: str, rule: str, ipv6: bool = False) -> str:
    text = f"{head}{rule}\nCOMMIT\n"
    return next(
        line for line in render_saved(save_lines(parse_ruleset(text, ipv6=ipv6))).splitlines() if line.startswith("-A")
    )


TAKEN = [
    (FILTER, "-A INPUT -p tcp --dp 80 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT"),
    (FILTER, "-A INPUT --sou 1.2.3.4 -j ACCEPT", "-A INPUT -s 1.2.3.4/32 -j ACCEPT"),
    (FILTER, "-A INPUT --pro udp --sp 53 -j ACCEPT", "-A INPUT -p udp -m udp --sport 53 -j ACCEPT"),
    (FILTER, "-A INPUT -m comment --comm hi -j ACCEPT", "-A INPUT -m comment --comment hi -j ACCEPT"),
    (FILTER, "-A INPUT --ma comment --comm x -j ACCEPT", "-A INPUT -m comment --comment x -j ACCEPT"),
    (FILTER, "-A INPUT --ju DROP", "-A INPUT -j DROP"),
    (FILTER, "-A INPUT --fragment -j ACCEPT", "-A INPUT -f -j ACCEPT"),  # (iptables' own is --fragments)
    (FILTER, "-A INPUT -p tcp --dest 1.2.3.4 -j ACCEPT", "-A INPUT -d 1.2.3.4/32 -p tcp -j ACCEPT"),
    (FILTER, "-A INPUT -p tcp -m tcp --destination-p 80 -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT"),
    (
        FILTER,
        "-A INPUT -p tcp --tcp-f SYN,ACK SYN -j ACCEPT",
        "-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN -j ACCEPT",
    ),
    # multiport loaded, tcp not: --dport is the start of multiport's --dports only
    (
        FILTER,
        "-A INPUT -p tcp -m multiport --dport 80,81 -j ACCEPT",
        "-A INPUT -p tcp -m multiport --dports 80,81 -j ACCEPT",
    ),
    # a match loaded again merges no options of its own (no ambiguity with the first)
    (
        FILTER,
        "-A INPUT -m comment --comment x -m comment --comm y -j ACCEPT",
        "-A INPUT -m comment --comment x -m comment --comment y -j ACCEPT",
    ),
    (NAT, "-A PREROUTING -p tcp -j DNAT --to 1.2.3.4:80", "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80"),
    (
        NAT,
        "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --ran",
        "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --random",
    ),
    (
        NAT,
        "-A PREROUTING -p tcp -j REDIRECT --to-ports 80 --ran",
        "-A PREROUTING -p tcp -j REDIRECT --to-ports 80 --random",
    ),
    (NAT, "-A POSTROUTING -j SNAT --to 1.2.3.4 --per", "-A POSTROUTING -j SNAT --to-source 1.2.3.4 --persistent"),
    (
        FILTER,
        "-A INPUT -m statistic --mode random --prob 0.5 -j ACCEPT",
        "-A INPUT -m statistic --mode random --probability 0.50000000000 -j ACCEPT",
    ),
    (FILTER, "-A INPUT -j MARK --set-xm 0x1", "-A INPUT -j MARK --set-xmark 0x1/0xffffffff"),
    (FILTER, "-A INPUT -m addrtype --dst-t LOCAL -j ACCEPT", "-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT"),
]


@pytest.mark.parametrize(("head", "rule", "saved"), TAKEN, ids=[rule for _, rule, _ in TAKEN])
def test_an_unambiguous_prefix_is_saved_whole(head: str, rule: str, saved: str) -> None:
    assert _saved(head, rule) == saved


def test_an_abbreviation_in_ipv6() -> None:
    assert (
        _saved(FILTER, "-A INPUT -p tcp --dp 80 -j ACCEPT", ipv6=True) == "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT"
    )


REFUSED = [
    (FILTER, "-A INPUT --in eth0 -j ACCEPT", "--in"),  # in-interface, ipv4, ipv6
    (FILTER, "-A INPUT --s 1.2.3.4 -j ACCEPT", "--s"),  # source, set-counters
    (FILTER, "-A INPUT --i eth0 -j ACCEPT", "--i"),
    (FILTER, "-A INPUT -p tcp -m tcp --dest 1.2.3.4 -j ACCEPT", "--dest"),  # destination, destination-port
    (FILTER, "-A INPUT -p tcp --sp 1 --so 1.2.3.4 -j ACCEPT", "--so"),  # tcp loaded by --sp: source-port too
    (FILTER, "-A INPUT -p tcp --sp 1 -j ACCEPT --sou 1.2.3.4", "--sou"),
    (FILTER, "-A INPUT -p tcp --tcp SYN,ACK SYN -j ACCEPT", "--tcp"),  # tcp-flags, tcp-option
    (NAT, "-A POSTROUTING -j MASQUERADE --ran", "--ran"),  # random, random-fully
    (FILTER, "-A INPUT -m recent --se -j ACCEPT", "--se"),  # set, seconds, set-counters
    (FILTER, "-A INPUT -m conntrack --ctst NEW -j ACCEPT", "--ctst"),  # ctstate, ctstatus
]


@pytest.mark.parametrize(("head", "rule", "word"), REFUSED, ids=[rule for _, rule, _ in REFUSED])
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
