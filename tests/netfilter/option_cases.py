"""Option values whose fate under the real iptables-restore was observed, and that fate (helper b2, session 21):
the expected values of ``test_option_parity`` and what ``tests/kernel/test_option_parity`` checks again against
this machine's tools.

Observed on 2026-12-01 with iptables-legacy-restore and iptables-nft-restore v1.8.9 (ip6tables- for IPv6), each
input restored in a network namespace of its own (``unshare --net``) and read back with iptables-save -c; both
tools agree on every case here.
"""

from __future__ import annotations

from tests.netfilter.restore_cases import MANGLE, NAT, Case, filter_with

SAME = "="
"""In a :func:`rule_case`, the rule is saved back as written."""
REFUSED = None


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
    # a host holding a colon is no name: getaddrinfo refuses what inet_pton (and its zone reading) does not take
    conntrack_case("fd00::00001"),
    conntrack_case("fd00::00001", ipv6=True),
    conntrack_case("a:b"),
    conntrack_case("a:b", ipv6=True),
    conntrack_case("[fd00::1]", ipv6=True),
    conntrack_case("fd00::1%", ipv6=True),
    conntrack_case("fd00::1%0x1", ipv6=True),
    conntrack_case("fd00::1%lo", ipv6=True),
    conntrack_case("fd00::1%4294967296", ipv6=True),
]

# TPROXY's --on-ip is one host without a mask (XTTYPE_HOST): a mask, even /32, and a list are refused
TPROXY_ADDRESSES = [
    tproxy_case("10.0.0.1/24"),
    tproxy_case("10.0.0.1/32"),
    tproxy_case("10.0.0.1,10.0.0.2"),
    tproxy_case("fd00::1/64", ipv6=True),
    tproxy_case('""'),
    tproxy_case("fd00::00001", ipv6=True),
    tproxy_case("a:b"),
    tproxy_case("a:b", ipv6=True),
    tproxy_case('"1.2.3.4 "'),
    tproxy_case("1.2.3.256"),
    tproxy_case("/"),
    tproxy_case("0x1", "0.0.0.1"),
    tproxy_case("1.2.3", "1.2.0.3"),
    tproxy_case("::ffff:1.2.3.4", "1.2.3.4"),
    tproxy_case("fd00::1", "fd00::1", ipv6=True),
]



def rule_case(family: int, chain: str, rule: str, saved: str | None, table: str | None = None) -> Case:
    """``-A CHAIN RULE`` (in ``table``; by default nat for a NAT chain, else filter) of ``family`` (4 or 6): refused
    at its line when ``saved`` is REFUSED, else saved back as ``-A CHAIN SAVED`` (:data:`SAME`: as written)."""
    table = table or ("nat" if chain in ("PREROUTING", "POSTROUTING") else "filter")
    text = filter_with(f"-A {chain} {rule}") if table == "filter" else \
        f"{MANGLE if table == 'mangle' else NAT}-A {chain} {rule}\nCOMMIT\n"
    name = f"IPv{family} {rule}"
    if saved is None:
        return Case(name, text, line=text.count("\n") - 1, ipv6=family == 6)
    return Case(name, text, saved=(f"[0:0] -A {chain} {rule if saved == SAME else saved}",), ipv6=family == 6)


def nat_cases(family: int, value: str, saved: str | None, bare: str | None, snat: str = "tcp") -> list[Case]:
    """A NAT range in the three rules that read it: DNAT ``--to-destination VALUE`` of ``-p tcp`` and SNAT
    ``--to-source VALUE`` of the protocol ``snat``, saved back with ``saved`` (:data:`SAME`: as written; REFUSED),
    and DNAT's of no protocol, saved back with ``bare`` (a port wants a protocol: REFUSED where ``saved`` is
    not)."""
    def case(prefix: str, target: str, flag: str, chain: str, out: str | None) -> Case:
        head = f"{prefix}-j {target} {flag} "
        return rule_case(family, chain, head + value, out if out in (SAME, REFUSED) else head + str(out))

    return [case("-p tcp ", "DNAT", "--to-destination", "PREROUTING", saved),
            case(f"-p {snat} ", "SNAT", "--to-source", "POSTROUTING", saved),
            case("", "DNAT", "--to-destination", "PREROUTING", bare)]


def to_ports_cases(value: str, saved: str | None) -> list[Case]:
    """``--to-ports VALUE`` of REDIRECT (``-p tcp``) and MASQUERADE (``-p udp``), in IPv4 then IPv6, saved back as
    ``--to-ports SAVED`` (:data:`SAME`: as written; REFUSED)."""
    heads = (("PREROUTING", "-p tcp -j REDIRECT --to-ports "), ("POSTROUTING", "-p udp -j MASQUERADE --to-ports "))
    return [rule_case(family, chain, head + value, saved if saved in (SAME, REFUSED) else head + str(saved))
            for family in (4, 6) for chain, head in heads]


def iprange_cases(value: str, saved: str | None) -> list[Case]:
    """An IPv4 iprange range as ``--src-range VALUE`` and ``! --dst-range VALUE``, saved back as ``SAVED``
    (:data:`SAME`: as written; REFUSED)."""
    return [rule_case(4, "INPUT", f"-m iprange {flag} {value} -j ACCEPT",
                      saved if saved in (SAME, REFUSED) else f"-m iprange {flag} {saved} -j ACCEPT")
            for flag in ("--src-range", "! --dst-range")]


# Observed with both v1.8.9 restores (they agree on each): rule, then what iptables-save prints back, or REFUSED.
# DNAT/SNAT ranges (libxt_NAT's parse_to: inet_pton addresses, the first '-' a range, '[' IPv6's brackets)
NAT_RANGES = [
    *nat_cases(4, "1.2.3.4", SAME, SAME),
    *nat_cases(4, "1.2.3.4-1.2.3.9", SAME, SAME),
    *nat_cases(4, "1.2.3.9-1.2.3.4", SAME, SAME),
    *nat_cases(4, "1.2.3.4-1.2.3.4", "1.2.3.4", "1.2.3.4"),
    *nat_cases(4, "1.2.3.4:80", SAME, REFUSED),
    *nat_cases(4, "1.2.3.4:80-90", SAME, REFUSED),
    *nat_cases(4, "1.2.3.4-1.2.3.9:80-90", SAME, REFUSED),
    *nat_cases(4, "1.2.3.4:", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4-", REFUSED, REFUSED),
    *nat_cases(4, "-1.2.3.4", REFUSED, REFUSED),
    *nat_cases(4, ":80", SAME, REFUSED),
    *nat_cases(4, "1.2.3.4:80-", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:-90", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4-:80", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3", REFUSED, REFUSED),
    *nat_cases(4, "010.1.1.1", REFUSED, REFUSED),
    *nat_cases(4, "0x1.2.3.4", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4/24", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.256", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:65536", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:0x50", "1.2.3.4:80", REFUSED),
    *nat_cases(4, "1.2.3.4:080", REFUSED, REFUSED),
    *nat_cases(4, '" 1.2.3.4"', REFUSED, REFUSED),
    *nat_cases(4, '"1.2.3.4 "', REFUSED, REFUSED),
    *nat_cases(4, '"1.2.3.4: 80"', "1.2.3.4:80", REFUSED),
    *nat_cases(4, '"1.2.3.4 - 1.2.3.9"', REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:80:90", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4-1.2.3.9-1.2.3.10", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4,1.2.3.5", REFUSED, REFUSED),
    *nat_cases(4, "0.0.0.0", SAME, SAME),
    *nat_cases(4, "255.255.255.255", SAME, SAME),
    *nat_cases(4, "1.2.3.4:80-90-100", REFUSED, REFUSED),
    *nat_cases(4, "[1.2.3.4]:80", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:+80", "1.2.3.4:80", REFUSED),
    *nat_cases(4, "1.2.3.4:-80", REFUSED, REFUSED),
    *nat_cases(4, "1", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:http", "1.2.3.4:80", REFUSED),
    *nat_cases(4, "1.2.3.4-1.2.3.5:http-https", REFUSED, REFUSED),
    *nat_cases(4, "", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:80- 90", REFUSED, REFUSED),
    *nat_cases(4, "1.2.3.4:80 ", "1.2.3.4:80", REFUSED),
    *nat_cases(6, "fd00::1", SAME, SAME, snat="udp"),
    *nat_cases(6, "[fd00::1]", "fd00::1", "fd00::1", snat="udp"),
    *nat_cases(6, "[fd00::1]:80", SAME, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1]-[fd00::9]:80", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1-fd00::9]:80", SAME, REFUSED, snat="udp"),
    *nat_cases(6, "fd00::1-fd00::9", SAME, SAME, snat="udp"),
    *nat_cases(6, "[fd00::1-fd00::9]", "fd00::1-fd00::9", "fd00::1-fd00::9", snat="udp"),
    *nat_cases(6, "[fd00::9-fd00::1]", "fd00::9-fd00::1", "fd00::9-fd00::1", snat="udp"),
    *nat_cases(6, "[fd00::1]:80-90", SAME, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1]:", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "fd00::1]", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1]80", "fd00::1", "fd00::1", snat="udp"),
    *nat_cases(6, "fd00::1:80", SAME, SAME, snat="udp"),
    *nat_cases(6, "[FD00::1]", "fd00::1", "fd00::1", snat="udp"),
    *nat_cases(6, "[::ffff:1.2.3.4]:80", SAME, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1/64]", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1%1]:80", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[]:80", ":80", REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1-]:80", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[-fd00::1]:80", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::1-fd00::1]:80", "[fd00::1]:80", REFUSED, snat="udp"),
    *nat_cases(6, "[fd00::0001]", "fd00::1", "fd00::1", snat="udp"),
    *nat_cases(6, "[fd00::1]:80-", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, "1.2.3.4", REFUSED, REFUSED, snat="udp"),
    *nat_cases(6, ":80", SAME, REFUSED, snat="udp"),
    rule_case(4, "PREROUTING", "-p tcp -j DNAT --to-destination 12:80", "-p tcp -j DNAT --to-destination :80"),
    rule_case(4, "PREROUTING", "-p tcp -j DNAT --to-destination 1.2.3.4::80", REFUSED),
    rule_case(4, "PREROUTING", "-p tcp -j DNAT --to-destination 1.2.3.9-1.2.3.4:90-80", REFUSED),
    rule_case(4, "PREROUTING", "-p tcp -j DNAT --to-destination 1.2.3.9-1.2.3.4:80-90", SAME),
    rule_case(4, "PREROUTING", "-p tcp -j DNAT --to-destination 1.2.3.256:bogus", REFUSED),
    rule_case(4, "PREROUTING", "-p tcp -j DNAT --to-destination 01.2.3.4", REFUSED),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination [fd00::1]xyz:80",
              "-p tcp -j DNAT --to-destination [fd00::1]:80"),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination x[fd00::1]:80",
              "-p tcp -j DNAT --to-destination [fd00::1]:80"),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination ::ffff:1.2.3.4", SAME),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination [fd00::9-fd00::1]:80-90", SAME),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination 1:80", REFUSED),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination []", REFUSED),
    rule_case(6, "PREROUTING", "-p tcp -j DNAT --to-destination [", REFUSED),
    rule_case(6, "PREROUTING", '-p tcp -j DNAT --to-destination "[ fd00::1]"', REFUSED),
]

# MASQUERADE/REDIRECT --to-ports
NAT_TO_PORTS = [
    *to_ports_cases("80", SAME),
    *to_ports_cases("80-90", SAME),
    *to_ports_cases("90-80", REFUSED),
    *to_ports_cases("80-", REFUSED),
    *to_ports_cases("-90", REFUSED),
    *to_ports_cases("0x50", "80"),
    *to_ports_cases("080", REFUSED),
    *to_ports_cases("http", "80"),
    *to_ports_cases("80:90", REFUSED),
    *to_ports_cases("80,90", REFUSED),
    *to_ports_cases('" 80"', "80"),
    *to_ports_cases('"80 "', REFUSED),
    *to_ports_cases("0-65535", SAME),
    *to_ports_cases("65536", REFUSED),
    *to_ports_cases("", REFUSED),
    *to_ports_cases("+80", "80"),
    *to_ports_cases("80-80", "80"),
    rule_case(6, "POSTROUTING", "-p tcp -j MASQUERADE --to-ports 80-90", SAME),
]

# NETMAP --to (XTTYPE_HOSTMASK: getaddrinfo's host, masked; a mask that is no prefix is the full one)
NETMAP_NETWORKS = [
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::1%1", "-j NETMAP --to fd00::1/128"),
    rule_case(4, "PREROUTING", "-j NETMAP --to fd00::00001", REFUSED),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::00001", REFUSED),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::1::2/64", REFUSED),
    rule_case(4, "PREROUTING", "-j NETMAP --to a:b/24", REFUSED),
    rule_case(6, "PREROUTING", "-j NETMAP --to a:b/24", REFUSED),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::1%lo/64", REFUSED),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/24", SAME),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.1/24", "-j NETMAP --to 10.0.0.0/24"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/255.255.255.0", "-j NETMAP --to 10.0.0.0/24"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/255.0.255.0", "-j NETMAP --to 10.0.0.0/32"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0", "-j NETMAP --to 10.0.0.0/32"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/33", "-j NETMAP --to 10.0.0.0/32"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/0x18", "-j NETMAP --to 10.0.0.0/24"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/", REFUSED),
    rule_case(4, "PREROUTING", "-j NETMAP --to 1.2.3/24", "-j NETMAP --to 1.2.0.0/24"),
    rule_case(4, "PREROUTING", "-j NETMAP --to 10.0.0.0/24,10.1.0.0/24", REFUSED),
    rule_case(4, "PREROUTING", "-j NETMAP --to 010.0.0.0/8", "-j NETMAP --to 8.0.0.0/8"),
    rule_case(4, "PREROUTING", '-j NETMAP --to " 10.0.0.0/24"', REFUSED),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::/64", SAME),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::1/64", "-j NETMAP --to fd00::/64"),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::/ffff:ffff::", "-j NETMAP --to fd00::/32"),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::", "-j NETMAP --to fd00::/128"),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::/129", REFUSED),
    rule_case(6, "PREROUTING", "-j NETMAP --to fd00::/ffff::ffff", "-j NETMAP --to fd00::/128"),
]

# iprange (libxtables' numeric reading, both ends printed)
IPRANGES = [
    *iprange_cases("1.2.3.4-1.2.3.9", SAME),
    *iprange_cases("1.2.3.9-1.2.3.4", SAME),
    *iprange_cases("1.2.3.4", "1.2.3.4-1.2.3.4"),
    *iprange_cases("1.2.3.4-", REFUSED),
    *iprange_cases("-1.2.3.4", REFUSED),
    *iprange_cases("1.2.3-1.2.4", "1.2.3.0-1.2.4.0"),
    *iprange_cases("010.1.1.1-10.1.1.2", "8.1.1.1-10.1.1.2"),
    *iprange_cases("1.2.3.4/24-1.2.3.9", REFUSED),
    *iprange_cases('" 1.2.3.4-1.2.3.9"', "1.2.3.4-1.2.3.9"),
    *iprange_cases('"1.2.3.4 -1.2.3.9"', REFUSED),
    *iprange_cases("1.2.3.4-1.2.3.4", SAME),
    *iprange_cases("1.2.3.4,1.2.3.5", REFUSED),
    *iprange_cases("0x1.2.3.4-1.2.3.5", "1.2.3.4-1.2.3.5"),
    *iprange_cases("1.2.3.256-1.2.3.257", REFUSED),
    *iprange_cases("1-2", "1.0.0.0-2.0.0.0"),
    *iprange_cases("1.2.3.4-1.2.3.9-1.2.3.10", REFUSED),
    rule_case(6, "INPUT", "-m iprange --src-range fd00::1-fd00::9 -j ACCEPT", SAME),
    rule_case(6, "INPUT", "-m iprange --src-range fd00::9-fd00::1 -j ACCEPT", SAME),
    rule_case(6, "INPUT", "-m iprange --src-range fd00::1 -j ACCEPT",
              "-m iprange --src-range fd00::1-fd00::1 -j ACCEPT"),
    rule_case(6, "INPUT", "-m iprange --src-range [fd00::1]-[fd00::9] -j ACCEPT", REFUSED),
    rule_case(6, "INPUT", "-m iprange --src-range FD00::1-fd00::0009 -j ACCEPT",
              "-m iprange --src-range fd00::1-fd00::9 -j ACCEPT"),
    rule_case(6, "INPUT", "-m iprange --src-range ::ffff:1.2.3.4-::ffff:1.2.3.5 -j ACCEPT", SAME),
    rule_case(6, "INPUT", "-m iprange --src-range fd00::1- -j ACCEPT", REFUSED),
    rule_case(6, "INPUT", "-m iprange --src-range fd00::1/64-fd00::2 -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m iprange --dst-range 1.2.3.4-1.2.3.5 --src-range 1.2.3.9-1.2.3.4 -j ACCEPT",
              "-m iprange --src-range 1.2.3.9-1.2.3.4 --dst-range 1.2.3.4-1.2.3.5 -j ACCEPT"),
    rule_case(4, "INPUT", '-m iprange --src-range "1.2.3.4 " -j ACCEPT', REFUSED),
    rule_case(4, "INPUT", "-m iprange --src-range 1.2.3.4.5 -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m iprange --src-range 255.255.255.255-1.2.3.4.5.6.7.8.9.10 -j ACCEPT", REFUSED),
]

# tos, dscp and devgroup, -j TOS, DSCP and CLASSIFY: numbers as each extension's save prints them
TOS_DSCP_CLASSIFY_DEVGROUP = [
    rule_case(4, "INPUT", "-m tos --tos 256 -j ACCEPT", REFUSED),
    rule_case(4, "PREROUTING", "-j TOS --set-tos 256", REFUSED, table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 1", REFUSED, table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp 64", REFUSED, table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp-class bogus", REFUSED, table="mangle"),
    rule_case(4, "INPUT", "-m dscp --dscp 64 -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m dscp --dscp-class af1 -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m tos --tos Minimize -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m tos --tos 0x10/0x100 -j ACCEPT", REFUSED),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 1 :2", REFUSED, table="mangle"),
    rule_case(4, "INPUT", "-m tos --tos 0x10 -j ACCEPT", "-m tos --tos 0x10/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos Minimize-Delay -j ACCEPT", "-m tos --tos 0x10/0x3f -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos 16 -j ACCEPT", "-m tos --tos 0x10/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos 0x10/0x3f -j ACCEPT", SAME),
    rule_case(4, "INPUT", "-m tos ! --tos 0x08 -j ACCEPT", "-m tos ! --tos 0x08/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos Normal-Service -j ACCEPT", "-m tos --tos 0x00/0x3f -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos 0x02 -j ACCEPT", "-m tos --tos 0x02/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos 0x12 -j ACCEPT", "-m tos --tos 0x12/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos 0x10/0xff -j ACCEPT", SAME),
    rule_case(4, "INPUT", "-m tos --tos minimize-delay -j ACCEPT", "-m tos --tos 0x10/0x3f -j ACCEPT"),
    rule_case(6, "INPUT", "-m tos --tos 0x10 -j ACCEPT", "-m tos --tos 0x10/0xff -j ACCEPT"),
    rule_case(4, "PREROUTING", "-j TOS --set-tos 0x10", "-j TOS --set-tos 0x10/0xff", table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --set-tos Minimize-Delay", "-j TOS --set-tos 0x10/0x3f", table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --set-tos 0x10/0x3f", SAME, table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --set-tos 0x10/0xff", SAME, table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --and-tos 0x10", "-j TOS --set-tos 0x00/0xef", table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --or-tos 0x10", "-j TOS --set-tos 0x10/0x10", table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --xor-tos 0x10", "-j TOS --set-tos 0x10/0x00", table="mangle"),
    rule_case(4, "PREROUTING", "-j TOS --set-tos 0", "-j TOS --set-tos 0x00/0xff", table="mangle"),
    rule_case(6, "PREROUTING", "-j TOS --set-tos 0x10", "-j TOS --set-tos 0x10/0xff", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 1:2", "-j CLASSIFY --set-class 0001:0002", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 10:20", "-j CLASSIFY --set-class 0010:0020", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class ffff:ffff", SAME, table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 0x1:0x2", "-j CLASSIFY --set-class 0001:0002", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 10000:1", "-j CLASSIFY --set-class 0000:0001", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 0001:0002", SAME, table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp 10", "-j DSCP --set-dscp 0x0a", table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp 0x0a", SAME, table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp-class AF11", "-j DSCP --set-dscp 0x0a", table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp-class ef", "-j DSCP --set-dscp 0x2e", table="mangle"),
    rule_case(4, "PREROUTING", "-j DSCP --set-dscp-class CS0", "-j DSCP --set-dscp 0x00", table="mangle"),
    rule_case(6, "PREROUTING", "-j DSCP --set-dscp-class EF", "-j DSCP --set-dscp 0x2e", table="mangle"),
    rule_case(4, "INPUT", "-m dscp --dscp 10 -j ACCEPT", "-m dscp --dscp 0x0a -j ACCEPT"),
    rule_case(4, "INPUT", "-m dscp --dscp 0x2e -j ACCEPT", SAME),
    rule_case(4, "INPUT", "-m dscp ! --dscp 46 -j ACCEPT", "-m dscp ! --dscp 0x2e -j ACCEPT"),
    rule_case(4, "INPUT", "-m dscp --dscp-class EF -j ACCEPT", "-m dscp --dscp 0x2e -j ACCEPT"),
    rule_case(4, "INPUT", "-m dscp --dscp-class af41 -j ACCEPT", "-m dscp --dscp 0x22 -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group 1 -j ACCEPT", "-m devgroup --src-group 0x1 -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group 0x1 -j ACCEPT", SAME),
    rule_case(4, "INPUT", "-m devgroup --src-group 1/0xff -j ACCEPT", "-m devgroup --src-group 0x1/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group default -j ACCEPT", SAME),
    rule_case(4, "INPUT", "-m devgroup --src-group 0xffffffff -j ACCEPT", SAME),
    rule_case(4, "INPUT", "-m devgroup --src-group 10/0xffffffff -j ACCEPT", "-m devgroup --src-group 0xa -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group 010 -j ACCEPT", "-m devgroup --src-group 0x8 -j ACCEPT"),
    rule_case(4, "INPUT", "-m dscp --dscp-class efx -j ACCEPT", "-m dscp --dscp 0x2e -j ACCEPT"),
    rule_case(4, "INPUT", "-m dscp --dscp-class be -j ACCEPT", "-m dscp --dscp 0x00 -j ACCEPT"),
    rule_case(4, "INPUT", "-m dscp --dscp 010 -j ACCEPT", "-m dscp --dscp 0x08 -j ACCEPT"),
    rule_case(4, "INPUT", '-m dscp --dscp " 10" -j ACCEPT', "-m dscp --dscp 0x0a -j ACCEPT"),
    rule_case(4, "INPUT", "-m tos --tos 010 -j ACCEPT", "-m tos --tos 0x08/0xff -j ACCEPT"),
    rule_case(4, "INPUT", '-m tos --tos " 16" -j ACCEPT', "-m tos --tos 0x10/0xff -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group 0 -j ACCEPT", "-m devgroup --src-group default -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group 0/0xff -j ACCEPT", "-m devgroup --src-group 0x0/0xff -j ACCEPT"),
    rule_case(4, "FORWARD", "-m devgroup --dst-group 5 --src-group 3 -j ACCEPT",
              "-m devgroup --src-group 0x3 --dst-group 0x5 -j ACCEPT"),
    rule_case(4, "FORWARD", "-m devgroup ! --dst-group 5 ! --src-group 3 -j ACCEPT",
              "-m devgroup ! --src-group 0x3 ! --dst-group 0x5 -j ACCEPT"),
    rule_case(4, "POSTROUTING", '-j CLASSIFY --set-class " 1: 2"', "-j CLASSIFY --set-class 0001:0002", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 1:2xyz", "-j CLASSIFY --set-class 0001:0002", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class -1:2", "-j CLASSIFY --set-class ffff:0002", table="mangle"),
    # glibc's %x takes a bare 0x as 0 (and a 0x before a letter no hex digit as 0, which then misses the colon)
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 0x:1", "-j CLASSIFY --set-class 0000:0001", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 0X:0X", "-j CLASSIFY --set-class 0000:0000", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class -0x:1", "-j CLASSIFY --set-class 0000:0001", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 1:0xg", "-j CLASSIFY --set-class 0001:0000", table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class 0xg:1", REFUSED, table="mangle"),
    rule_case(4, "POSTROUTING", "-j CLASSIFY --set-class x:1", REFUSED, table="mangle"),
    # a match whose final check wants one of its options ("You must specify ...", 'option "--tos" must be ...')
    rule_case(4, "INPUT", "-m iprange -j ACCEPT", REFUSED),
    rule_case(6, "INPUT", "-m iprange -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m iprange --src 1-2 -j ACCEPT", REFUSED),  # (--src is -s's)
    rule_case(4, "INPUT", "-m devgroup -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m tos -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m tos --tos 0x10 -m tos -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", "-m tos -m iprange --src-range 1.2.3.4 -j ACCEPT", REFUSED),
    # devgroup's VALUE[/MASK] (xtables_parse_val_mask): no number, or one followed by anything but /, is a name
    # of /etc/iproute2/group (default alone, as Debian ships it); a bad mask is refused
    *(rule_case(4, "INPUT", f"-m devgroup --src-group {value} -j ACCEPT", REFUSED)
      for value in ("foo", "4294967296", "default/0xff", "1/", "1x", "1/2x", "0x", "1/4294967296", "-1", "DEFAULT",
                    '"1 "', "1/-1", "1/0xg", "1/0x", '"1/ 2x"')),
    rule_case(6, "INPUT", "-m devgroup --dst-group foo -j ACCEPT", REFUSED),
    rule_case(4, "INPUT", '-m devgroup --src-group "1/ 2" -j ACCEPT', "-m devgroup --src-group 0x1/0x2 -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group +1 -j ACCEPT", "-m devgroup --src-group 0x1 -j ACCEPT"),
    rule_case(4, "INPUT", "-m devgroup --src-group 0xffffffff/0 -j ACCEPT",
              "-m devgroup --src-group 0xffffffff/0x0 -j ACCEPT"),
    rule_case(4, "INPUT", "-m iprange --dst-range 1.2.3.4 -m tos --tos 0x10 -j ACCEPT",
              "-m iprange --dst-range 1.2.3.4-1.2.3.4 -m tos --tos 0x10/0xff -j ACCEPT"),
]

ALL_CASES = [*CONNTRACK_ADDRESSES, *TPROXY_ADDRESSES, *NAT_RANGES, *NAT_TO_PORTS, *NETMAP_NETWORKS, *IPRANGES,
             *TOS_DSCP_CLASSIFY_DEVGROUP]
