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
    # an IPv4 host in brackets: iptables "Invalid address format", ip6tables (both v1.8.9) 'Bad IP address'
    ("-A PREROUTING -p tcp -j DNAT --to-destination [1.2.3.4]:80", True,
     "Bad IP address \"1.2.3.4\" at '1.2.3.4'; expected an IPv6 address, as the ruleset's other rules have"),
    ("-A PREROUTING -s fd00::2 -p tcp -j SNAT --to-source [1.2.3.4-1.2.3.5]:80", True,
     "Bad IP address \"1.2.3.4\" at '1.2.3.4'; expected an IPv6 address, as the ruleset's other rules have"),
    ("-A PREROUTING -p tcp -j DNAT --to-destination [1.2.3.4]:80", False,
     "--to-destination [1.2.3.4]:80: Invalid address format at '[1.2.3.4]:80'; expected ADDRESS[-ADDRESS][:PORT["
     "-PORT]] (an IPv6 range in brackets before a port: [fd00::1-fd00::9]:80), addresses as inet_pton reads them "
     "(10.0.0.1, fd00::1), ports 0-65535 (the first may be a service name, such as http), the lower first"),
])
def test_a_nat_address_of_the_other_family_is_refused_in_the_target_s_words(rule: str, ipv6: bool | None,
                                                                            message: str) -> None:
    assert str(refusal(f"{NAT}{rule}\nCOMMIT\n", ipv6)) == f"node.rules:6: {message}"


def test_a_bracketed_ipv4_nat_host_is_refused_in_ip6tables_words_when_an_earlier_rule_tells_the_family() -> None:
    """ip6tables-restore v1.8.9: 'Bad IP address "1.2.3.4"'; the family guessed from the rule before."""
    text = f"{NAT}-A PREROUTING -d fd00::1 -j ACCEPT\n-A PREROUTING -p tcp -j DNAT --to-destination [1.2.3.4]:80\n" \
           "COMMIT\n"
    assert str(refusal(text)) == ("node.rules:7: Bad IP address \"1.2.3.4\" at '1.2.3.4'; expected an IPv6 address, "
                                  "as the ruleset's other rules have")
