"""The words of the parser leftovers' refusals (restore_cases.LEFTOVERS pins where both restores refuse): each as
iptables-legacy-restore and iptables-nft-restore v1.8.9 say it (unshare --net, 2026-12-01)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from tests.netfilter.restore_cases import NAT, mangle_forward


def _refusal(text: str, ipv6: bool) -> str:
    with pytest.raises(RulesSyntaxError) as caught:
        parse_ruleset(text, file="node.rules", ipv6=ipv6)
    return str(caught.value)


@pytest.mark.parametrize(
    ("rule", "word"),
    [
        ("-p tcp -j ECN --ecn-ip-ect 5", "--ecn-ip-ect"),
        ("-p tcp -j ECN --ecn-tcp-cwr 1 --ecn-ip-ect 5", "--ecn-tcp-cwr"),  # (the target's first option)
        ('-p tcp -m comment --comment "--ecn-x" -j ECN --ecn-tcp-ece 0x5', "--ecn-tcp-ece"),
    ],
)
def test_an_ecn_value_in_ipv6_is_an_unknown_option(rule: str, word: str) -> None:
    """Not IPv4's 'ECN: bad value for option ..., or out of range (0-3).': ip6tables has no ECN target."""
    message = _refusal(mangle_forward(rule), True)
    assert message.startswith(f"node.rules:7: unknown option \"{word}\" at '{word}'")
    assert "out of range" not in message


def test_an_ecn_value_in_ipv4_keeps_its_range_words() -> None:
    assert 'ECN: bad value for option "--ecn-ip-ect", or out of range (0-3).' in _refusal(
        mangle_forward("-p tcp -j ECN --ecn-ip-ect 5"), False
    )


@pytest.mark.parametrize("ipv6", [False, True])
def test_the_ecn_match_ranges_its_codepoint(ipv6: bool) -> None:
    message = _refusal(mangle_forward("-m ecn --ecn-ip-ect 4 -j ACCEPT"), ipv6)
    assert 'ecn: bad value for option "--ecn-ip-ect", or out of range (0-3).' in message


@pytest.mark.parametrize("value", ["10.1", "1", "0x10", "10.1/8"])
def test_an_ipv4_number_with_fewer_dots_is_ipv4_s_to_netmap_in_ipv6(value: str) -> None:
    message = _refusal(f"{NAT}-A PREROUTING -j NETMAP --to {value}\nCOMMIT\n", True)
    assert "getaddrinfo: Address family for hostname not supported" in message
