"""The packet the evaluator follows, and the address arithmetic it needs.

Addresses are kept as integers with their family (4 or 6): every address
match in a ruleset is then a mask and a comparison, which is what makes a
trace cheap. Text is parsed once, with netaddr, at the edges (building a
packet, compiling a rule) and formatted back only for output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import field
from enum import StrEnum
from functools import lru_cache

import netaddr

from kubeproxy_sim.netfilter.hostmask import HostName, HostRefusal, read_host
from kubeproxy_sim.objects.addr import ipv6_text
from kubeproxy_sim.objects.netaddr_safe import NETADDR_ERRORS, drop_tracebacks
from kubeproxy_sim.objects.values import value_class

V4_BITS = 32
V6_BITS = 128
V4_ALL = (1 << V4_BITS) - 1
V6_ALL = (1 << V6_BITS) - 1


class CtState(StrEnum):
    """The conntrack state of the packet as the conntrack/state matches see it."""

    NEW = "NEW"
    ESTABLISHED = "ESTABLISHED"
    RELATED = "RELATED"
    INVALID = "INVALID"
    UNTRACKED = "UNTRACKED"


PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")
PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
PACKET_PROTOCOLS = {number: name for name, number in PROTOCOL_NUMBERS.items() if name in PROTOCOLS}
"""A protocol number -> the name a packet of it carries (58: icmpv6; ipv6-icmp is only a rule's spelling of it)."""


ICMP_PROTOS = frozenset({"icmp", "icmpv6"})
"""The protocols whose packets carry an ICMP type and code (:class:`Packet`'s ``icmp_type``/``icmp_code``)."""

ECHO_REQUEST = {"icmp": (8, 0), "icmpv6": (128, 0)}
ECHO_REPLY = {"icmp": (0, 0), "icmpv6": (129, 0)}
PORT_UNREACHABLE = {"icmp": (3, 3), "icmpv6": (1, 4)}
"""(type, code) of the ICMP packet a trace follows unless told: a ping (its reply, in the reply direction), and
for a RELATED one the error REJECT sends by default (icmp-port-unreachable, icmp6-port-unreachable)."""

ICMP_ANSWERS = {"icmp": {8: 0, 13: 14, 15: 16, 17: 18}, "icmpv6": {128: 129, 139: 140}}
"""The ICMP requests conntrack starts a connection on (nf_conntrack_proto_icmp.c's and icmpv6's ``valid_new``:
echo, timestamp, information and address mask requests; echo request and node information query), each with the
type of its answer, which conntrack finds in the reply direction of the request's connection (``invmap``). Any
other type that is no error and finds no connection is INVALID (ICMPv6 neighbour discovery and MLD UNTRACKED)."""


def icmp_error(proto: str, type_: int) -> bool:
    """Whether conntrack reads an ICMP message of this type as an error about another packet (RELATED to that
    packet's connection, INVALID when it has none): icmp_is_err's destination unreachable, source quench,
    redirect, time exceeded and parameter problem; every ICMPv6 type below 128 (nf_conntrack_icmpv6_error)."""
    return type_ < 128 if proto == "icmpv6" else type_ in (3, 4, 5, 11, 12)


UNTRACKED_ICMPV6 = frozenset({130, 131, 132, 133, 134, 135, 136, 143, 151, 152})
"""MLD, neighbour discovery and multicast router discovery messages: conntrack leaves them untracked
(nf_conntrack_proto_icmpv6.c's ``noct_valid_new``: MLD query, report and done, router and neighbour solicitation
and advertisement, MLDv2 report, multicast router advertisement and solicitation). 151 and 152 joined that table
after 143 (Linux 3.x's table ends at the MLDv2 report): measured UNTRACKED on this project's 6.18 kernel
(tests/kernel/test_eval_icmp6_related_kernel.py), and INVALID on a kernel without them (reviewer r4)."""


ICMP_FAMILIES = {"icmp": 4, "icmpv6": 6}
"""The one family each ICMP carries: ICMP (protocol 1) is IPv4's, ICMPv6 (58) IPv6's."""


def icmp_family_problem(proto: str, family: int) -> str | None:
    """Why an ICMP packet of this protocol cannot be of this family (None when it can), and what is expected.
    Such a frame exists (an IPv4 header saying protocol 58) but conntrack finds no ICMP in it: the kernel counted
    an ICMPv6 echo request in IPv4 and an ICMP one in IPv6 INVALID (reviewer r4), neither of which a packet here can
    be, its type being read as its protocol's family's."""
    if ICMP_FAMILIES[proto] == family:
        return None
    other = "icmpv6" if proto == "icmp" else "icmp"
    return (f"{proto} is IPv{ICMP_FAMILIES[proto]}'s ICMP, and the addresses are IPv{family}; expected --proto "
            f"{other} for IPv{family} addresses (or IPv{ICMP_FAMILIES[proto]} addresses)")


def unconnected_icmp_state(proto: str, type_: int) -> CtState:
    """The state conntrack gives an ICMP packet of no connection it knows: NEW for a request (it starts one),
    UNTRACKED for ICMPv6 neighbour discovery and MLD, INVALID for any other (an error about no tracked connection,
    a reply to no request)."""
    if type_ in ICMP_ANSWERS[proto]:
        return CtState.NEW
    return CtState.UNTRACKED if proto == "icmpv6" and type_ in UNTRACKED_ICMPV6 else CtState.INVALID


def _icmp_state_problem(proto: str, type_: int, ctstate: CtState, reply: bool) -> str | None:
    """Why conntrack never gives this state to an ICMP packet of this type, and what it gives (None when it can):
    the trace's state is the user's word, and the walk's treatment of RELATED ICMP (an error, translated) hangs
    on it."""
    error = icmp_error(proto, type_)
    answers = ICMP_ANSWERS[proto]
    if ctstate is CtState.RELATED and not error:
        return "conntrack calls only an ICMP error RELATED (one about a tracked connection's packet)"
    if ctstate is CtState.NEW and type_ not in answers:
        if error:
            return "an ICMP error starts no connection; expected RELATED (about a tracked connection) or INVALID"
        return (f"conntrack starts connections on ICMP requests only (types {_listed(answers.keys())}); "
                f"expected {unconnected_icmp_state(proto, type_)}")
    if ctstate is CtState.ESTABLISHED and type_ not in (answers.values() if reply else answers.keys()):
        if reply:
            return f"an ESTABLISHED ICMP reply is a request's answer; expected type {_listed(answers.values())}"
        return f"an ESTABLISHED ICMP packet is a request; expected type {_listed(answers.keys())}"
    return None


def _listed(types: Iterable[int]) -> str:
    return ", ".join(map(str, sorted(types)))


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
"""0-255 four times, ASCII digits without leading zeros: what iptables prints and kube-proxy writes."""


def is_dotted_quad(text: str) -> bool:
    """Whether ``text`` is an IPv4 address in its canonical form (so it prints as itself)."""
    return _DOTTED_QUAD.fullmatch(text) is not None


def _dotted_quad(text: str) -> int | None:
    """A plain dotted quad without netaddr (a dump holds many thousands); None for anything else.

    One C-level match does the checking; only the four octets are converted in Python.
    """
    m = _DOTTED_QUAD.fullmatch(text)
    if m is None:
        return None
    a, b, c, d = m.groups()
    return int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def parse_address(text: str) -> tuple[int, int]:
    """(family, value) of one address, which may be written in brackets (``[fd00::1]``, and ``[10.96.0.10]``
    too: one way to read a bracketed host, whatever the family). Raises ValueError."""
    quad = _dotted_quad(text)
    if quad is not None:
        return 4, quad
    raw = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    version = 6 if ":" in raw else 4  # given, or netaddr leaves a cycle even for valid IPv6: see objects.netaddr_safe
    try:  # objects.netaddr_safe.netaddr_address inline, this being the hot path of IPv6 dumps and traces
        value = netaddr.IPAddress(raw, version)
    except NETADDR_ERRORS as exc:
        drop_tracebacks(exc)  # netaddr's error is a cycle holding the callers' frames
        raise ValueError(f"{text!r} is not an IP address") from None
    return version, int(value)


def is_address(text: str) -> bool:
    """Whether :func:`parse_address` reads ``text``: the one judge of whether a command's text is an address
    (canonical IPv4 dotted quads only: no leading zeros, no zone, no spaces, no prefix; an address may be written
    in paired brackets, an IPv4 one as well as an IPv6 one: ``[10.96.0.10]``), so trace, send, dist and netns send
    tell an address from a name alike."""
    try:
        parse_address(text)
    except ValueError:
        return False
    return True


def literal_family(texts: Iterable[str]) -> int | None:
    """The one family (4, 6) of a command's literal addresses, those of the texts that are addresses (a name, say,
    is resolved later, and is skipped): the family of the packet the command follows, whose own proxier a
    dual-stack node has it meet (send's and dist's choice). None when none is an address or they differ (that
    refusal is the command's)."""
    families = set()
    for text in texts:
        try:
            families.add(parse_address(text)[0])
        except ValueError:
            continue
    return families.pop() if len(families) == 1 else None


_CANONICAL_LENGTHS = frozenset(str(length) for length in range(V6_BITS + 1))
"""A decimal prefix length without leading zeros: what kube-proxy writes and iptables-save prints."""


@lru_cache(maxsize=4096)
def parse_network(text: str, ipv6: bool | None = None) -> tuple[int, int, int]:
    """(family, network, mask) of an ``-s``/``-d`` item as iptables 1.8.9 reads it (hostmask.read_host: ``/010`` is
    /8, ``/0x10`` /16, ``1.2.3`` 1.2.3.0, ``010.1.1.1`` 8.1.1.1, ``x.x.x.x/0`` everything), so the trace matches
    what the kernel was given. Raises ValueError for a name or an anonymised value (``x.x.x.x``: iptables would
    resolve or refuse it, and a trace cannot know which) and for what iptables refuses (``/33``). ``ipv6``: as
    ip6tables (True) or iptables (False) reads it, else (None) by its look (``::ffff:1.2.3.4`` is IPv6 then, and
    1.2.3.4 to iptables; ``1.2.3.4/0`` is ::/0 to ip6tables).

    A dotted quad or IPv6 text in brackets (a command's ``[fd00::1]/64``) is read as the address inside.
    Memoised (a pure function): compiling a rule reads its ``-d`` twice, for the check and for the
    chain index, and the same addresses recur across a dump's rules.

    iptables clears the host bits itself (``-s 10.0.0.5/8`` is 10.0.0.0/8), so
    the network is the address and the mask, not an error.
    """
    addr, slash, prefix = text.partition("/")
    quad = _dotted_quad(addr)
    if quad is not None and not ipv6 and (not slash or (prefix in _CANONICAL_LENGTHS and int(prefix) <= V4_BITS)):
        mask = V4_ALL ^ (V4_ALL >> int(prefix)) if slash else V4_ALL  # (kube-proxy's form, the hot path)
        return 4, quad & mask, mask
    if addr.startswith("[") and addr.endswith("]") and "/" not in prefix:
        text = addr[1:-1] + slash + prefix
    host = read_host(text, ipv6)
    if isinstance(host, HostRefusal):
        raise ValueError(f"{text!r}: {host.message}; expected {host.expected}")
    if isinstance(host, HostName):
        raise ValueError(f"{text!r} is not an IP address (a name, or anonymised)")
    return host.family, host.network, host.mask


def format_address(family: int, value: int) -> str:
    """Canonical text: dotted quad, or RFC 5952 compressed IPv6 as the objects loader writes it (Go's text:
    ``::ffff:10.244.1.5`` as ip6tables-save prints it, ``::102:304``), so a DNAT destination traced matches the
    endpoint the loader wrote: :func:`kubeproxy_sim.objects.addr.ipv6_text` writes both."""
    if family == 4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return ipv6_text(value.to_bytes(16, "big"))


def canonical_address(text: str) -> str:
    """An address's text (in brackets or not, as :func:`is_address` takes it) as the objects loader writes it:
    what a command's address is compared with (pods', nodes', services' addresses). Raises ValueError
    (:func:`parse_address`)."""
    return format_address(*parse_address(text))


def format_endpoint(family: int, value: int, port: int | None) -> str:
    """``10.0.0.1:80``, ``[fd00::1]:80``, or the bare address when there is no port."""
    text = format_address(family, value)
    if port is None:
        return text
    return f"{text}:{port}" if family == 4 else f"[{text}]:{port}"


def host_port(ip: str, port: int) -> str:
    """``IP:PORT`` from address text, the IPv6 address in brackets (the addressing of ``send`` and DNAT)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def split_endpoint(text: str) -> tuple[str, int]:
    """``10.0.0.1:80`` or ``[fd00::1]:80`` -> (address, port): the inverse of :func:`format_endpoint`."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def loopback(family: int, value: int) -> bool:
    """127.0.0.0/8 and ::1 are local on every host, whatever its interfaces."""
    return (value >> 24) == 127 if family == 4 else value == 1


def loopback_source(family: int) -> int:
    """The source address a host picks for a connection to a loopback address: 127.0.0.1 or ::1."""
    return 0x7F000001 if family == 4 else 1


@value_class
class Packet:
    """The first packet of a connection (unless ``ctstate`` says otherwise).

    ``in_iface``/``out_iface`` None means "not known": a rule that tests them
    is then reported as uncertain. ``bridge_port`` is the bridge port the
    packet entered through (physdev): None when not known (a physdev test whose
    answer hangs on it is then uncertain, and the packet assumed not bridged),
    ``""`` when it was not bridged (a packet generated on the node is not).
    """

    proto: str
    family: int
    src: int
    dst: int
    sport: int | None = None
    dport: int | None = None
    in_iface: str | None = None
    out_iface: str | None = None
    mark: int = 0
    ctstate: CtState = CtState.NEW
    ctstatus: frozenset[str] = field(default_factory=frozenset)
    """Its connection's status bits as ``-m conntrack --ctstatus`` names them (CONFIRMED, SEEN_REPLY, ASSURED,
    EXPECTED). For an ESTABLISHED packet that is a reply or not TCP, ASSURED not listed is not known (it hangs on
    the connection's history): a test of it is then uncertain."""
    bridge_port: str | None = None
    reply: bool = False
    """In its connection's reply direction (the kernel's ctinfo, not a status bit), as ``-m conntrack --ctdir
    REPLY`` tests it: a reply of an ESTABLISHED or RELATED connection."""
    ct_dnat: tuple[int, int | None] | None = None
    """A later packet (ESTABLISHED, original direction) of a connection its first packet's DNAT sent to
    (address, port): conntrack rewrites the packet to it before routing, reading no nat rule. The packet's own
    destination is the connection's original one (``--ctorigdst``); its status holds DNAT (``--ctstate DNAT``)."""
    ct_snat: bool = False
    """A later packet of a connection whose first packet was source-NATed (SNAT, MASQUERADE): ``--ctstate SNAT``."""
    icmp_type: int | None = None
    icmp_code: int | None = None
    """An ICMP or ICMPv6 packet's type and code, as ``-m icmp --icmp-type``/``-m icmp6 --icmpv6-type`` test them
    (None for other protocols; None for an ICMP one means not known, and a test of it is then uncertain, as one
    of a port not given is). :meth:`of` gives an ICMP packet a ping's unless told."""

    @classmethod
    def of(cls, proto: str, src: str, dst: str, dport: int | None = None, sport: int | None = None,
           icmp: tuple[int, int] | None = None, **fields: object) -> Packet:
        """A packet from text addresses; raises ValueError naming what is wrong. ``icmp``: an ICMP packet's
        (type, code), by default an echo request (a reply in the reply direction; for a RELATED one, the port
        unreachable REJECT sends), and refused where conntrack never gives the packet's state to that type."""
        proto = proto.lower()
        if proto not in PROTOCOLS:
            raise ValueError(f"protocol {proto!r} is not one of {', '.join(PROTOCOLS)}")
        src_family, src_value = parse_address(src)
        dst_family, dst_value = parse_address(dst)
        if src_family != dst_family:
            raise ValueError(f"source {src} and destination {dst} are of different IP families")
        if proto in ICMP_PROTOS:
            problem = icmp_family_problem(proto, src_family)
            if problem is not None:
                raise ValueError(problem)
            fields["icmp_type"], fields["icmp_code"] = _icmp_of(proto, icmp, fields)
        elif icmp is not None:
            raise ValueError(f"a {proto} packet has no ICMP type; expected --proto icmp or icmpv6 with one")
        for name, port in (("sport", sport), ("dport", dport)):
            if port is not None and not 0 <= port <= 65535:
                raise ValueError(f"{name} {port} is not a port (0-65535)")
        return cls(proto, src_family, src_value, dst_value, sport, dport, **fields)  # type: ignore[arg-type]

    @property
    def icmp_text(self) -> str | None:
        """``TYPE/CODE`` of an ICMP packet whose type is known (as iptables-save prints an --icmp-type), else None."""
        return None if self.icmp_type is None else f"{self.icmp_type}/{self.icmp_code}"

    @property
    def src_text(self) -> str:
        return format_address(self.family, self.src)

    @property
    def dst_text(self) -> str:
        return format_address(self.family, self.dst)

    @property
    def dst_endpoint(self) -> str:
        """``10.0.0.1:80``, ``[fd00::1]:80``, or the bare address when the packet has no port."""
        return format_endpoint(self.family, self.dst, self.dport)


def _icmp_of(proto: str, icmp: tuple[int, int] | None, fields: dict[str, object]) -> tuple[int, int]:
    """The (type, code) :meth:`Packet.of` gives an ICMP packet: ``icmp``, checked, or its state's usual one."""
    state = fields.get("ctstate", CtState.NEW)
    reply = bool(fields.get("reply", False))
    if icmp is None:
        return (PORT_UNREACHABLE if state is CtState.RELATED else ECHO_REPLY if reply else ECHO_REQUEST)[proto]
    type_, code = icmp
    for name, value in (("type", type_), ("code", code)):
        if not 0 <= value <= 255:
            raise ValueError(f"ICMP {name} {value} is not 0-255")
    problem = _icmp_state_problem(proto, type_, state, reply) if isinstance(state, CtState) else None
    if problem is not None:
        raise ValueError(f"{proto} type {type_}/{code} as {state}{' REPLY' if reply else ''}: {problem}")
    return type_, code
