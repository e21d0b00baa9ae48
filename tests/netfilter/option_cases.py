"""Option values whose fate under the real iptables-restore was observed, and that fate (helper b2, session 21):
the expected values of ``test_option_parity`` and what ``tests/kernel/test_option_parity`` checks again against
this machine's tools.

Observed on 2026-12-01 with iptables-legacy-restore and iptables-nft-restore v1.8.9 (ip6tables- for IPv6), each
input restored in a network namespace of its own (``unshare --net``) and read back with iptables-save -c; both
tools agree on every case here.
"""

from __future__ import annotations

from tests.netfilter.restore_cases import MANGLE, Case, filter_with


def conntrack_case(value: str, saved: str | None = None, *, ipv6: bool = False) -> Case:
    """``-m conntrack --ctorigdst VALUE``: refused at its line (5), or saved back as ``--ctorigdst SAVED``."""
    text = filter_with(f"-A INPUT -m conntrack --ctorigdst {value} -j ACCEPT")
    if saved is None:
        return Case(f"conntrack {value}", text, line=5, ipv6=ipv6)
    return Case(f"conntrack {value}", text, saved=(f"[0:0] -A INPUT -m conntrack --ctorigdst {saved} -j ACCEPT",),
                ipv6=ipv6)


def tproxy_case(value: str, saved: str | None = None, *, ipv6: bool = False) -> Case:
    """``-j TPROXY --on-port 80 --on-ip VALUE`` in mangle PREROUTING: refused at its line (7), or saved back."""
    rule = "-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip"
    text = f"{MANGLE}{rule} {value}\nCOMMIT\n"
    if saved is None:
        return Case(f"TPROXY --on-ip {value}", text, line=7, ipv6=ipv6)
    return Case(f"TPROXY --on-ip {value}", text, saved=(f"[0:0] {rule} {saved} --tproxy-mark 0x0/0x0",), ipv6=ipv6)


# One host, read by getaddrinfo: a list, an empty host or mask, a blank, a second slash are refused whatever the
# family ("getaddrinfo: Name or service not known"; "neither a valid network mask nor valid CIDR (0-32)")
CONNTRACK_ADDRESSES = [
    conntrack_case("10.0.0.1,10.0.0.2"),
    conntrack_case("10.0.0.1,"),
    conntrack_case("fd00::1,fd00::2", ipv6=True),
    conntrack_case("/24"),
    conntrack_case('""'),
    conntrack_case('"10.0.0.1 "'),
    conntrack_case('" 10.0.0.1"'),
    conntrack_case("1.2.3.256"),
    conntrack_case("10.0.0.1/"),
    conntrack_case("10.0.0.1/24/24"),
    conntrack_case("10.0.0.1/24", "10.0.0.1/24"),
    conntrack_case("10.0.0.1/255.0.255.0", "10.0.0.1"),
]

# TPROXY's --on-ip is one host without a mask (XTTYPE_HOST): a mask, even /32, and a list are refused
TPROXY_ADDRESSES = [
    tproxy_case("10.0.0.1/24"),
    tproxy_case("10.0.0.1/32"),
    tproxy_case("10.0.0.1,10.0.0.2"),
    tproxy_case("fd00::1/64", ipv6=True),
    tproxy_case('""'),
    tproxy_case('"1.2.3.4 "'),
    tproxy_case("1.2.3.256"),
    tproxy_case("/"),
    tproxy_case("0x1", "0.0.0.1"),
    tproxy_case("1.2.3", "1.2.0.3"),
    tproxy_case("::ffff:1.2.3.4", "1.2.3.4"),
    tproxy_case("fd00::1", "fd00::1", ipv6=True),
]

ALL_CASES = [*CONNTRACK_ADDRESSES, *TPROXY_ADDRESSES]
