"""The parser reads option values as iptables 1.8.9 reads them, for the inputs of
:mod:`tests.netfilter.option_cases` (``tests/kernel/test_option_parity`` checks them against this machine's
tools)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from tests.netfilter.option_cases import ALL_CASES
from tests.netfilter.restore_cases import Case
from tests.netfilter.test_codec_restore_parity import check_case


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_the_parser_agrees_with_iptables_restore(case: Case) -> None:
    """restore_cases' check (refused at the line iptables names, else saved back as iptables-save prints it)."""
    check_case(case)


def test_a_conntrack_address_list_is_refused_in_iptables_words() -> None:
    with pytest.raises(RulesSyntaxError) as info:
        syntax.parse_spec("-m conntrack --ctorigsrc 10.0.0.1,10.0.0.2 -j ACCEPT")
    assert str(info.value) == ("getaddrinfo: Name or service not known at '10.0.0.1,10.0.0.2'; expected one address "
                               "such as 10.0.0.1 or fd00::1 (not a list), with an optional /LENGTH or /MASK")


@pytest.mark.parametrize("rule", ["-p tcp -j TPROXY --on-port 80 --on-ip 10.0.0.1/24",
                                  "-p tcp -m mark --mark 1 -j TPROXY --on-ip 10.0.0.1/32 --on-port 80"])
def test_a_tproxy_address_with_a_mask_is_refused_also_through_a_rule_shape(rule: str) -> None:
    """A rule's shape (skeleton) has its target's name as a placeholder: --on-ip is checked by its flag."""
    for _ in range(2):  # (the second time through the shape's compiled program)
        with pytest.raises(RulesSyntaxError, match="getaddrinfo: Name or service not known"):
            syntax.parse_spec(rule)


@pytest.mark.parametrize(("rule", "words"), [
    ("-m iprange -j ACCEPT", "iprange match: You must specify `--src-range' or `--dst-range' at 'iprange'"),
    ("-m iprange --src 1-2 -j ACCEPT", "iprange match: You must specify `--src-range' or `--dst-range'"),
    ("-m devgroup -j ACCEPT", "devgroup match: You must specify either '--src-group' or '--dst-group'"),
    ("-m tos --tos 0x10 -m tos -j ACCEPT", 'tos: option "--tos" must be specified at \'tos\'; expected -m tos --tos'),
    ("-m devgroup --src-group foo -j ACCEPT",
     'devgroup: could not map name foo to an integer value for option "--src-group". at \'foo\''),
    ("-m devgroup --dst-group 1/ -j ACCEPT", 'devgroup: bad integer value for option "--dst-group", or out of range.'),
    ("-m devgroup --src-group 1/2x -j ACCEPT", 'devgroup: trailing garbage after value for option "--src-group".'),
])
def test_a_match_s_missing_option_or_bad_group_is_refused_in_iptables_words(rule: str, words: str) -> None:
    with pytest.raises(RulesSyntaxError) as info:
        syntax.parse_spec(rule)
    assert str(info.value).startswith(words)


@pytest.mark.parametrize(("rule", "words"), [
    # the family a value's own first address is of names its refusal (the parser has no family: iptables says
    # these in IPv4; ip6tables says 'Bad IP address "1.2.3.4"' for the first)
    ("-p tcp -j DNAT --to-destination [1.2.3.4]:80", "--to-destination [1.2.3.4]:80: Invalid address format at"),
    ("-m iprange --src-range 1.2.3.4-fd00::1 -j ACCEPT", 'iprange: Bad value for "--src-range" option: "fd00::1" at'),
    ("-m iprange --src-range fd00::1-1.2.3.4 -j ACCEPT", 'iprange: Bad value for "--src-range" option: "1.2.3.4" at'),
    ("-j TOS --and-tos 256", 'TOS: bad value for option "--and-tos", or out of range (0-255). at'),
    ("-m dscp --dscp 64 -j ACCEPT", 'dscp: bad value for option "--dscp", or out of range (0-63). at'),
    ("-j DSCP --set-dscp 64", 'DSCP: bad value for option "--set-dscp", or out of range (0-63). at'),
    ("-m conntrack --ctorigdst 1.2.3.4/ -j ACCEPT",
     'conntrack: bad value for option "--ctorigdst", neither a valid network mask nor valid CIDR (0-32). at'),
    ("-m conntrack --ctrepldst fd00::1/1/2 -j ACCEPT",
     'conntrack: bad value for option "--ctrepldst", neither a valid network mask nor valid CIDR (0-128). at'),
])
def test_a_bad_value_is_refused_in_the_words_of_the_extension_that_reads_it(rule: str, words: str) -> None:
    with pytest.raises(RulesSyntaxError) as info:
        syntax.parse_spec(rule)
    assert str(info.value).startswith(words), str(info.value)
