"""A rule's addresses of both families, and a name's mask of the other family: inputs whose fate under the real
iptables-restore was observed, as :mod:`tests.netfilter.restore_cases` records them (the same :class:`Case`;
``tests/kernel/test_placement_parity`` checks them again against this machine's tools).

Observed on 2026-12-01 with iptables-legacy-restore and iptables-nft-restore v1.8.9 (ip6tables- for IPv6), each in
a fresh network namespace (``unshare --net``): the family's tool refuses, at the rule, an -s/-d item of the other
family ("host/network `fd00::1' not found", after any earlier item of its own), a NAT target's address of the other
family ("Invalid address format", 'Bad IP address "10.0.0.1"'), and a name's mask only the other family reads
("invalid mask `54' specified": the mask is read before the name is looked up).
"""

from __future__ import annotations

from tests.netfilter.restore_cases import Case, filter_with, nat_with

MIXED = [
    *(Case(f"family {rule}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5)
      for rule in ("-s 10.0.0.1 -d fd00::1", "-d 10.0.0.1 -s fd00::1", "-s 10.0.0.1,fd00::1", "-s 1.2.3 -d fd00::1")),
    *(Case(f"family {rule}, IPv6", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("-s 10.0.0.1 -d fd00::1", "-s fd00::1 -d 10.0.0.1", "-d fd00::1,10.0.0.1", "-s fd00::1 -d 1.2.3")),
    # an IPv4 number of fewer than two dots after an IPv6 address (ip6tables: "host/network `1.2' not found"), and
    # an item of the other family after a name first (iptables: "host/network `fd00::1' not found")
    *(Case(f"family {rule}, IPv6", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=True)
      for rule in ("-s fd00::1 -d 1.2", "-s fd00::1 -d 16909060", "-s fd00::1 -d 1.2 -m comment --comment a.b.c",
                   "-s fd00::1 -d 0x100", "-d fd00::1,1.2")),
    Case("family -s localhost,fd00::1", filter_with("-A INPUT -s localhost,fd00::1 -j ACCEPT"), line=5),
    Case("family -s 10.0.0.1, then -s localhost,fd00::1",
         filter_with("-A INPUT -s 10.0.0.1 -j ACCEPT", "-A INPUT -s localhost,fd00::1 -j ACCEPT"), line=6),
    Case("family -d 16909060", filter_with("-A INPUT -d 16909060 -j ACCEPT"),
         saved=("[0:0] -A INPUT -d 1.2.3.4/32 -j ACCEPT",)),
    # a zero mask skips its host: no family told
    Case("family -s 1.2.3.4/0 -d fd00::1, IPv6", filter_with("-A INPUT -s 1.2.3.4/0 -d fd00::1 -j ACCEPT"),
         saved=("[0:0] -A INPUT -d fd00::1/128 -j ACCEPT",), ipv6=True),
    Case("family -s fd00::1/0 -d 10.0.0.1", filter_with("-A INPUT -s fd00::1/0 -d 10.0.0.1 -j ACCEPT"),
         saved=("[0:0] -A INPUT -d 10.0.0.1/32 -j ACCEPT",)),
    # a NAT target's address of the other family
    *(Case(f"family {rule}", nat_with(rule), line=6)
      for rule in ("-A PREROUTING -s 10.0.0.1 -p tcp -j DNAT --to-destination [fd00::1]:80",
                   "-A PREROUTING -s 10.0.0.1 -p tcp -j DNAT --to-destination fd00::1",
                   "-A POSTROUTING -s 10.0.0.1 -j SNAT --to-source fd00::1")),
    *(Case(f"family {rule}, IPv6", nat_with(rule), line=6, ipv6=True)
      for rule in ("-A PREROUTING -s fd00::2 -p tcp -j DNAT --to-destination 10.0.0.1",
                   "-A PREROUTING -s fd00::2 -p tcp -j DNAT --to-destination 10.0.0.1:80",
                   "-A PREROUTING -s fd00::2 -p tcp -j DNAT --to-destination [10.0.0.1]:80",
                   "-A POSTROUTING -s fd00::2 -j SNAT --to-source 10.0.0.1")),
]

NAMED_MASKS = [
    # the mask is read first, as the family reads a mask (legacy and nft alike)
    *(Case(f"family -s {item}", filter_with(f"-A INPUT -s {item} -j ACCEPT"), line=5)
      for item in ("localhost/33", "localhost/54", "localhost/128", "localhost/ffff::", "nosuch.invalid/54")),
    Case("family ! -s localhost/54", filter_with("-A INPUT ! -s localhost/54 -j ACCEPT"), line=5),
    Case("family -s localhost/255.255.0.0, IPv6", filter_with("-A INPUT -s localhost/255.255.0.0 -j ACCEPT"), line=5,
         ipv6=True),
    # an IPv4 host with an IPv6 mask: iptables names the mask, ip6tables the host
    *(Case(f"family -s {item}{', IPv6' if ipv6 else ''}", filter_with(f"-A INPUT -s {item} -j ACCEPT"), line=5,
           ipv6=ipv6) for item in ("1.2.3/64", "10.0.0.1/64", "1/100", "1.2.3.4/ffff::") for ipv6 in (False, True)),
]

MANGLE_PRE = "*mangle\n:PREROUTING ACCEPT [0:0]\n"
# NETMAP's --to and TPROXY's --on-ip (getaddrinfo: "Address family for hostname not supported"), an iprange range
# ('iprange: Bad value for "--src-range" option: "10.0.0.1"'), a bracketed IPv4 NAT host in IPv6 ('Bad IP address
# "1.2.3.4"') of the other family, each given or guessed from an earlier rule; a mapped IPv4 address is IPv4's too
OPTIONS = [
    *(Case(f"family {rule}{', IPv6' if ipv6 else ''}", nat_with(rule), line=6, ipv6=ipv6)
      for rule, ipv6 in (("-A PREROUTING -j NETMAP --to fd00::/64", False),
                         ("-A PREROUTING -j NETMAP --to 10.0.0.0/24", True),
                         ("-A PREROUTING -p tcp -j DNAT --to-destination [1.2.3.4]:80", True),
                         ("-A POSTROUTING -p tcp -j SNAT --to-source [1.2.3.4-1.2.3.5]:80", True))),
    Case("family -d 10.0.0.1, then NETMAP --to fd00::/64",
         nat_with("-A PREROUTING -d 10.0.0.1 -j ACCEPT", "-A PREROUTING -j NETMAP --to fd00::/64"), line=7),
    *(Case(f"family {rule}{', IPv6' if ipv6 else ''}", f"{MANGLE_PRE}-A PREROUTING {rule}\nCOMMIT\n", line=3,
           ipv6=ipv6)
      for rule, ipv6 in (("-p tcp -j TPROXY --on-port 80 --on-ip fd00::1", False),
                         ("-p tcp -j TPROXY --on-port 80 --on-ip 10.0.0.1", True))),
    *(Case(f"family {rule}{', IPv6' if ipv6 else ''}", filter_with(f"-A INPUT {rule} -j ACCEPT"), line=5, ipv6=ipv6)
      for rule, ipv6 in (("-m iprange --src-range fd00::1-fd00::2", False),
                         ("-m iprange --dst-range 10.0.0.1-10.0.0.2", True),
                         ("-s 10.0.0.1 -m iprange --src-range fd00::1-fd00::2", False))),
    Case("family NETMAP --to ::ffff:1.2.3.4/24", nat_with("-A PREROUTING -j NETMAP --to ::ffff:1.2.3.4/24"),
         saved=("[0:0] -A PREROUTING -j NETMAP --to 1.2.3.0/24",)),
]

FAMILY_CASES = [*MIXED, *NAMED_MASKS, *OPTIONS]
