"""The conntrack match's addresses saved as iptables-legacy-save v1.8.9 prints them (final reader f1's finding 3).

Every expected form below was printed by iptables-legacy-restore/-save and ip6tables-legacy-restore/-save v1.8.9
in ``unshare --net`` from ``-A FORWARD -m conntrack --ctorigdst VALUE -j DROP``."""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.saveform import render_save_spec, save_specs

IPV4 = [("010.1.1.1", "8.1.1.1"), ("1.2.3", "1.2.0.3"), ("0x0a.1.1.1", "10.1.1.1"), ("1.65535", "1.0.255.255"),
        ("::ffff:1.2.3.4", "1.2.3.4"), ("10.0.0.0/0x10", "10.0.0.0/16"), ("10.0.0.0/010", "10.0.0.0/8"),
        ("10.1.2.3/255.255.0.0", "10.1.2.3/16"), ("10.1.2.3/255.0.255.0", "10.1.2.3"), ("10.1.2.3/32", "10.1.2.3"),
        ("10.1.2.3/033", "10.1.2.3/27"), ("1.2.3.4/24", "1.2.3.4/24"), ("1.2.3.4/0", "1.2.3.4/0"),
        ("1.2.3.4/255.255.255.0", "1.2.3.4/24"), ("10.0.0.1", "10.0.0.1"), ("10.1.2.3/+16", "10.1.2.3/16")]
IPV6 = [("fd00::1/64", "fd00::1/64"), ("fd00::1/128", "fd00::1"), ("fd00::1/ffff:ffff::", "fd00::1/32"),
        ("fd00::1/0x40", "fd00::1/64"), ("fd00::1/+64", "fd00::1/64")]


def _saved(value: str, ipv6: bool) -> str:
    specs = save_specs(syntax.parse_spec(f"-m conntrack --ctorigdst {value} -j DROP"), ipv6)
    return render_save_spec(specs[0])


@pytest.mark.parametrize(("value", "saved"), IPV4, ids=lambda x: x)
def test_an_ipv4_conntrack_address_is_saved_as_iptables_save_prints_it(value: str, saved: str) -> None:
    """save_address read it as -s/-d's fast path or netaddr and cleared the host bits: 010.1.1.1 and /0x10 were
    kept as written, 1.2.3.4/24 became 1.2.3.0/24; and a length with a sign (``/+16``, which xtables_strtoui's
    strtoumax takes, as it does leading blanks) was kept as written."""
    assert _saved(value, False) == f"-m conntrack --ctorigdst {saved} -j DROP"


@pytest.mark.parametrize(("value", "saved"), IPV6, ids=lambda x: x)
def test_an_ipv6_conntrack_address_keeps_its_host_bits(value: str, saved: str) -> None:
    assert _saved(value, True) == f"-m conntrack --ctorigdst {saved} -j DROP"


@pytest.mark.parametrize(("value", "saved", "ipv6"), [
    ("010.1.1.1", "8.1.1.1", False), ("1.2.3", "1.2.0.3", False), ("0x0a.1.1.1", "10.1.1.1", False),
    ("1.65535", "1.0.255.255", False), ("::ffff:1.2.3.4", "1.2.3.4", False), ("1.2.3.4", "1.2.3.4", False),
    ("fd00::1", "fd00::1", True), ("::ffff:1.2.3.4", "::ffff:1.2.3.4", True)], ids=str)
def test_tproxy_on_ip_is_read_as_getaddrinfo_reads_it(value: str, saved: str, ipv6: bool) -> None:
    """iptables-legacy-restore/-save v1.8.9 (unshare --net) from ``-t mangle -A PREROUTING -p tcp -j TPROXY
    --on-port 1 --on-ip VALUE``; save_address kept 010.1.1.1, 1.2.3 and the like as written."""
    specs = save_specs(syntax.parse_spec(f"-p tcp -j TPROXY --on-port 1 --on-ip {value}"), ipv6)
    assert render_save_spec(specs[0]) == f"-p tcp -j TPROXY --on-port 1 --on-ip {saved} --tproxy-mark 0x0/0x0"
