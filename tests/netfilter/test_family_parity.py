"""The parser refuses a rule with addresses of both families, and a name's mask the family cannot read, at the
rule and in the words iptables-restore and ip6tables-restore v1.8.9 use
(:mod:`tests.netfilter.restore_cases_families`)."""

from __future__ import annotations

import pytest

from tests.netfilter.restore_cases import NAT, Case, filter_with
from tests.netfilter.restore_cases_families import FAMILY_CASES
from tests.netfilter.test_codec_restore_parity import check_case, refusal


@pytest.mark.parametrize("case", FAMILY_CASES, ids=lambda c: c.name)
def test_the_parser_reads_families_as_iptables_restore_does(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize(("rule", "ipv6", "message"), [
    ("-A INPUT -s 10.0.0.1 -d fd00::1 -j ACCEPT", None, "host/network `fd00::1' not found at 'fd00::1'; expected an "
     "IPv4 address such as 10.0.0.1, with an optional /LENGTH 0-32 or /MASK such as /255.255.0.0"),
    ("-A INPUT -s fd00::1 -d 10.0.0.1 -j ACCEPT", True, "host/network `10.0.0.1' not found at '10.0.0.1'; expected "
     "an IPv6 address such as fd00::1, with an optional /LENGTH 0-128 or /MASK such as /ffff:ffff::"),
    ("-A INPUT -s localhost/54 -j ACCEPT", None, "invalid mask `54' specified at 'localhost/54'; expected a mask "
     "length 0-32 or a dotted mask such as 255.255.0.0"),
    ("-A INPUT -s 1.2.3/64 -j ACCEPT", True, "host/network `1.2.3' not found at '1.2.3/64'; expected an IPv6 "
     "address such as fd00::1, with an optional /LENGTH 0-128 or /MASK such as /ffff:ffff::"),
    ("-A INPUT -s 1.2.3.4/129 -j ACCEPT", True, "invalid mask `129' specified at '1.2.3.4/129'; expected a mask "
     "length 0-128 or an IPv6 mask such as ffff:ffff::"),
])
def test_the_refusal_says_what_iptables_says(rule: str, ipv6: bool | None, message: str) -> None:
    assert str(refusal(filter_with(rule), ipv6)) == f"node.rules:5: {message}"


@pytest.mark.parametrize(("rule", "ipv6", "message"), [
    ("-A PREROUTING -s 10.0.0.1 -p tcp -j DNAT --to-destination [fd00::1]:80", None,
     "Invalid address format at '[fd00::1]:80'; expected an IPv4 address, as the ruleset's other rules have"),
    ("-A PREROUTING -s fd00::2 -p tcp -j DNAT --to-destination 10.0.0.1:80", True,
     "Bad IP address \"10.0.0.1\" at '10.0.0.1'; expected an IPv6 address, as the ruleset's other rules have"),
])
def test_a_nat_address_of_the_other_family_is_refused_in_the_target_s_words(rule: str, ipv6: bool | None,
                                                                            message: str) -> None:
    assert str(refusal(f"{NAT}{rule}\nCOMMIT\n", ipv6)) == f"node.rules:6: {message}"
