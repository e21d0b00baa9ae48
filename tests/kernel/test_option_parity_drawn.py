"""IPv4 NAT ranges and iprange ranges drawn from their pieces (IPv4 addresses written in several ways, dashes,
brackets, colons, ports, masks, blanks) and fed to this machine's iptables-legacy-restore (one ``unshare --net``
namespace per command): the parser refuses what it refuses, at its line, and saves back what iptables-save prints
(:mod:`tests.netfilter.option_cases` pins the cases first found this way). Not drawn yet: IPv6 (a value only the
other family reads, ``--src-range 24`` in ip6tables, is refused by neither the parser nor the ruleset's family
check) and NETMAP (its host is read by getaddrinfo, and a value that is no number, ``-``, is kept as a name)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.budget import budget
from tests.kernel.test_restore_parity import _ours, _restore
from tests.netfilter.option_cases import rule_case

pytestmark = pytest.mark.kernel

ADDRESSES = ("1.2.3.4", "1.2.3.9", "10.0.0.0", "1.2.3", "1", "010.1.1.1", "0x1.2.3.4", "1.2.3.256", "255.255.255.255",
             "")
PIECES = ("-", ":", "[", "]", "/", "24", "80", "90", "0x50", " ", ",", "255.255.255.0")
VALUES = st.lists(st.sampled_from(ADDRESSES + PIECES), min_size=1, max_size=6).map("".join)


RULES = {"DNAT": ("PREROUTING", "-p tcp -j DNAT --to-destination {}"),
         "SNAT": ("POSTROUTING", "-p udp -j SNAT --to-source {}"),
         "iprange": ("INPUT", "-m iprange --src-range {} -j ACCEPT")}


@settings(max_examples=budget(20), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(RULES)), value=VALUES)
def test_a_drawn_value_is_read_as_iptables_restore_reads_it(kernel: None, kind: str, value: str) -> None:
    chain, rule = RULES[kind]
    case = rule_case(4, chain, rule.format(f'"{value}"' if " " in value or not value else value), None)
    legacy_line, legacy_saved = _restore("legacy", case.text, case.ipv6)
    assert _ours(case.text, case.ipv6) == (legacy_line, legacy_saved)
