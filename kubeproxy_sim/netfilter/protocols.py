"""IP protocols as iptables 1.8.9 reads a ``-p`` value and iptables-save prints it.

iptables lower-cases the value (ASCII only), then takes a number 0-255 as xtables_strtoui reads it (``6``, ``006``,
``0x6``, ``+6``), ``all``, a name getprotobyname(3) finds, or one of its own table (xtables_chain_protos); anything
else is refused: 'unknown protocol "bogus" specified' (legacy and nft alike). The names getprotobyname finds are
the host's /etc/protocols; the simulator reads no host file, so :data:`NETBASE_PROTOCOLS` is a snapshot of Debian
netbase 6.4's (tools/data/protocols-netbase-6.4, what the restore cases were observed with): each entry's name, and
apart its aliases, every one of which has an upper-case letter, so no lower-cased -p value reaches one (conntrack's
``--ctproto``, read as written, does: :data:`NETBASE_ALIASES`). iptables-save prints
the first name of the number (getprotobynumber), else the number. The reading itself is
:func:`kubeproxy_sim.netfilter.syntax.protocol_number`.
"""

from __future__ import annotations

NETBASE_PROTOCOLS: dict[str, int] = {
    "ip": 0, "hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipencap": 4, "st": 5, "tcp": 6, "egp": 8, "igp": 9,
    "pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22, "rdp": 27, "iso-tp4": 29, "dccp": 33, "xtp": 36, "ddp": 37,
    "idpr-cmtp": 38, "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47, "esp": 50,
    "ah": 51, "skip": 57, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "rspf": 73, "vmtp": 81, "eigrp": 88,
    "ospf": 89, "ax.25": 93, "ipip": 94, "etherip": 97, "encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112,
    "l2tp": 115, "isis": 124, "sctp": 132, "fc": 133, "mobility-header": 135, "udplite": 136, "mpls-in-ip": 137,
    "manet": 138, "hip": 139, "shim6": 140, "wesp": 141, "rohc": 142, "ethernet": 143, "mptcp": 262,
}
"""Debian netbase 6.4's /etc/protocols: each entry's name -> its number (mptcp's 262 too: legacy keeps it in its
16-bit field, where no packet's protocol reaches it; iptables-nft cuts it to 6, tcp)."""

NETBASE_ALIASES: dict[str, int] = {
    "IP": 0, "HOPOPT": 0, "ICMP": 1, "IGMP": 2, "GGP": 3, "IP-ENCAP": 4, "ST": 5, "TCP": 6, "EGP": 8, "IGP": 9,
    "PUP": 12, "UDP": 17, "HMP": 20, "XNS-IDP": 22, "RDP": 27, "ISO-TP4": 29, "DCCP": 33, "XTP": 36, "DDP": 37,
    "IDPR-CMTP": 38, "IPv6": 41, "IPv6-Route": 43, "IPv6-Frag": 44, "IDRP": 45, "RSVP": 46, "GRE": 47,
    "IPSEC-ESP": 50, "IPSEC-AH": 51, "SKIP": 57, "IPv6-ICMP": 58, "IPv6-NoNxt": 59, "IPv6-Opts": 60, "RSPF": 73,
    "CPHB": 73, "VMTP": 81, "EIGRP": 88, "OSPFIGP": 89, "AX.25": 93, "IPIP": 94, "ETHERIP": 97, "ENCAP": 98,
    "PIM": 103, "IPCOMP": 108, "VRRP": 112, "L2TP": 115, "ISIS": 124, "SCTP": 132, "FC": 133, "Mobility-Header": 135,
    "UDPLite": 136, "MPLS-in-IP": 137, "HIP": 139, "Shim6": 140, "WESP": 141, "ROHC": 142, "Ethernet": 143,
    "MPTCP": 262,
}
"""The same file's aliases, which getprotobyname finds too (exactly: case and all): a value iptables does not
lower-case first reaches them (conntrack's ``--ctproto OSPFIGP`` is 89, where ``-p OSPFIGP`` is refused)."""

XTABLES_PROTOCOLS: dict[str, int] = {
    "tcp": 6, "sctp": 132, "udp": 17, "udplite": 136, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "esp": 50, "ah": 51,
    "ipv6-mh": 135, "mh": 135, "all": 0,
}
"""iptables 1.8.9's own names (libxtables' xtables_chain_protos), tried after getprotobyname."""

_SAVED_NAMES: dict[int, str] = {}
for _name, _number in NETBASE_PROTOCOLS.items():
    _SAVED_NAMES.setdefault(_number, _name)


def saved_protocol(number: int) -> str:
    """How iptables-save prints protocol ``number`` (not 0, which it leaves out): its first netbase name, else
    the number."""
    return _SAVED_NAMES.get(number, str(number))
