"""A value the family's tool refuses as it reads the rule (restore_cases.FAMILY_VALUES) is refused in its words: an
ICMP type (libxtables' __parse_icmp), a conntrack address (XTTYPE_HOSTMASK) and an IPv6 iprange range, each as
iptables-legacy-restore and iptables-nft-restore v1.8.9 (ip6tables- for IPv6) said it (unshare --net, 2026-12-01)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import icmp_type_saved, read_icmp
from tests.netfilter.restore_cases import ICMP_RULE, ICMPV6_RULE, filter_with


def _message(rule: str, ipv6: bool | None) -> str:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(rule), file="node.rules", ipv6=ipv6)
    assert info.value.line == 5
    return str(info.value).partition(": ")[2].partition(" at '")[0]


@pytest.mark.parametrize(("value", "ipv6", "said"), [
    ("echo", False, "Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?"),
    ("a", False, "Ambiguous ICMP type `a': `any' or `address-mask-request'?"),
    ("echo", True, "Ambiguous ICMPv6 type `echo': `echo-request' or `echo-reply'?"),
    ("256", False, "Unknown ICMP type `256'"),
    ("0x100", True, "Unknown ICMPv6 type `0x100'"),
    ("foo", False, "Unknown ICMP type `foo'"),
    ("any", True, "Unknown ICMPv6 type `any'"),
    ("300/1", False, "Unknown ICMP type `300/1'"),
    ("8/", False, "Unknown ICMP code `8/'"),
    ("3/256", True, "Unknown ICMPv6 code `3/256'"),
    ("3/3/3", False, "unknown character /"),
    ("3:5", False, "ICMP type range not supported"),
    ("3:5", True, "ICMPv6 type range not supported"),
])
def test_an_icmp_type_is_refused_in_the_tools_words(value: str, ipv6: bool, said: str) -> None:
    rule = (ICMPV6_RULE if ipv6 else ICMP_RULE).format(value)
    assert _message(rule, ipv6) == said
    if not ipv6:  # (no address: the family guessed is IPv4's)
        assert _message(rule, None) == said


@pytest.mark.parametrize(("value", "ipv6", "read", "saved"), [
    ("3:3", False, (3, 0, 255), "3"), ("3:3/1", True, (3, 1, 1), "3/1"), ("+3", False, (3, 0, 255), "3"),
    ("3/1:2", False, (3, 1, 2), "3/1"), ("an", False, (255, 0, 255), "any"), ("ECHO-REQ", True, (128, 0, 255), "128"),
    ("0x3/0x3", False, (3, 3, 3), "3/3"), ("010", False, (8, 0, 255), "8"), ("255", True, (255, 0, 255), "255"),
])
def test_what_the_tools_take_is_read_and_saved_as_they_save_it(value: str, ipv6: bool, read: tuple[int, int, int],
                                                                saved: str) -> None:
    """``3:3`` is one type to __parse_icmp (the range check passes), saved ``3`` by both -save v1.8.9."""
    assert read_icmp(value, ipv6) == read
    assert icmp_type_saved(value, ipv6) == saved


@pytest.mark.parametrize(("rule", "ipv6", "said"), [
    ("-m conntrack --ctorigdst fd00::1", False, "getaddrinfo: Address family for hostname not supported"),
    ("-m conntrack --ctorigdst fd00::1/-1", False, "getaddrinfo: Address family for hostname not supported"),
    ("-m conntrack --ctorigdst 10.0.0.1", True, "getaddrinfo: Address family for hostname not supported"),
    ("-m conntrack --ctorigdst 1", True, "getaddrinfo: Address family for hostname not supported"),
    ("-m conntrack --ctorigdst 10.0.0.1/-1", False,
     'conntrack: bad value for option "--ctorigdst", neither a valid network mask nor valid CIDR (0-32).'),
    ("-m conntrack --ctreplsrc 10.0.0.1/", False,
     'conntrack: bad value for option "--ctreplsrc", neither a valid network mask nor valid CIDR (0-32).'),
    ("-m conntrack --ctorigdst fd00::1/129", True,
     'conntrack: bad value for option "--ctorigdst", neither a valid network mask nor valid CIDR (0-128).'),
    ("-m iprange --src-range 24", True, 'iprange: Bad value for "--src-range" option: "24"'),
    ("-m iprange --src-range 1-2", True, 'iprange: Bad value for "--src-range" option: "1"'),
    ("-m iprange --dst-range fd00::1-2", True, 'iprange: Bad value for "--dst-range" option: "2"'),
])
def test_a_value_of_the_wrong_family_is_refused_in_the_tools_words(rule: str, ipv6: bool, said: str) -> None:
    assert _message(f"-A INPUT {rule} -j ACCEPT", ipv6) == said


def test_a_conntrack_name_is_left_to_the_machine() -> None:
    """A name is resolved by the machine (here "Temporary failure in name resolution"): not judged."""
    parse_ruleset(filter_with("-A INPUT -m conntrack --ctorigdst foo.invalid/-1 -j ACCEPT"), ipv6=False)


def test_an_ipv6_conntrack_address_alone_makes_the_ruleset_ipv6() -> None:
    """No -s/-d to tell the family: the IPv4 guess gives way, as for IPv6's own extensions."""
    ruleset = parse_ruleset(filter_with("-A INPUT -m conntrack --ctorigdst fd00::1 -j ACCEPT"))
    assert ruleset.ipv6
