"""ICMP and ICMPv6 types against the real kernel: ``-m icmp --icmp-type`` and ``-m icmp6 --icmpv6-type`` as xt_icmp
and ip6t_icmp6 match them, and the conntrack state each type gets, rule by rule.

The scratch pairs are the eval differential's (its ``_configure``: ``kpsim-<run>-ic.*`` for IPv4,
``kpsim-<run>-i6.*`` for IPv6): the client sends raw ICMP frames of many types and codes to the node (INPUT)
and through it (FORWARD); every rule counts and none decides (no target), so its counter says whether it matched.
The rules are written as users write them (names, prefixes of names, ``any``, C's number bases, code ranges,
``!``), read by the real iptables-restore. The evaluator walks the same packets, each in the state conntrack
gives an ICMP packet of no connection (:func:`~kubeproxy_sim.netfilter.packet.unconnected_icmp_state`), and
must count the same rules the same number of times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.netfilter.compile_match_packet import read_icmp_type
from kubeproxy_sim.netfilter.evaluate import NodeContext
from kubeproxy_sim.netfilter.packet import CtState, Packet, unconnected_icmp_state
from tests.kernel import test_eval_kernel_differential as v4
from tests.kernel import test_eval_kernel_differential6 as v6
from tests.kernel.conftest import joined_pair
from tests.kernel.eval_kernel import Chain, Key, Probe, evaluated
from tests.kernel.test_eval_kernel_differential import Node

pytestmark = pytest.mark.kernel


@dataclass(frozen=True)
class IcmpProbe(Probe):
    icmp_type: int
    icmp_code: int
    state: CtState | None = None
    """The state the packet has in the kernel, when it is not an ICMP packet of no connection's."""
    quoting: Probe | None = None
    """The packet an ICMP error quotes (one the node sent: an error about it is RELATED to its connection)."""


STATES = ("-m conntrack --ctstate NEW", "-m conntrack --ctstate INVALID", "-m conntrack --ctstate UNTRACKED",
          "-m conntrack --ctstate RELATED")

TYPES4 = ("any", "255", "255/3", "! any", "8", "8/0", "8/1", "echo-request", "! echo-request", "ECHO-REQ", "ping",
          "0", "pong", "3", "3/3", "port-unreachable", "destination", "network-unr", "3/0:5", "3/5:1", "0x3/0x3",
          "! 3/3", "11", "11/1", "ttl-zero-during-reassembly", "time-exceeded", "12/0", "13", "010", "+4")
PACKETS4 = ((8, 0), (8, 1), (0, 0), (3, 0), (3, 3), (3, 4), (3, 6), (11, 0), (11, 1), (12, 0), (5, 1), (4, 0),
            (13, 0), (15, 0), (17, 0), (14, 0), (255, 0), (255, 7), (200, 3))

TYPES6 = ("255", "128", "128/0", "128/1", "echo-request", "! echo-request", "ping", "129", "pong", "1", "1/4",
          "port-unreachable", "no-route", "1/0:3", "! 1/4", "3/1", "ttl-exceeded", "135", "neighbor-s",
          "neighbour-advertisement", "2", "4/2", "a", "0x87", "139")
PACKETS6 = ((128, 0), (128, 1), (129, 0), (1, 0), (1, 3), (1, 4), (1, 6), (2, 0), (3, 1), (4, 2), (135, 0),
            (136, 0), (133, 0), (139, 0), (140, 0), (255, 0), (200, 3), (127, 0))


def _type_rule(module: str, flag: str, written: str) -> str:
    negated = written.startswith("! ")
    value = written[2:] if negated else written
    return f"-p {module} -m {module if module == 'icmp' else 'icmp6'} {'! ' if negated else ''}{flag} {value}"


def _chains(proto: str, types: tuple[str, ...]) -> tuple[Chain, ...]:
    module, flag = ("icmp", "--icmp-type") if proto == "icmp" else ("ipv6-icmp", "--icmpv6-type")
    rules = (*STATES, *(_type_rule(module, flag, t) for t in types))
    return (Chain("filter", "INPUT", "ACCEPT", rules), Chain("filter", "FORWARD", "ACCEPT", rules),
            Chain("nat", "PREROUTING", "ACCEPT", ()), Chain("nat", "INPUT", "ACCEPT", ()),
            Chain("nat", "POSTROUTING", "ACCEPT", ()))


def _frame4(probe: IcmpProbe, src_mac: str, dst_mac: str) -> bytes:
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Packet as Layers

    body: Layers
    if probe.proto == "udp":
        body = UDP(sport=probe.sport, dport=probe.dport) / b"x"
    elif probe.quoting is not None:
        quoted = probe.quoting
        inner = IP(src=quoted.src, dst=quoted.dst, ttl=64) / UDP(sport=quoted.sport, dport=quoted.dport) / b"x"
        body = ICMP(type=probe.icmp_type, code=probe.icmp_code) / inner
    else:
        body = ICMP(type=probe.icmp_type, code=probe.icmp_code, id=probe.sport, seq=1) / (b"\0" * 8)
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=probe.src, dst=probe.dst, ttl=64) / body)


def _frame6(probe: IcmpProbe, src_mac: str, dst_mac: str) -> bytes:
    from scapy.layers.inet6 import ICMPv6Unknown, IPv6
    from scapy.layers.l2 import Ether

    body = ICMPv6Unknown(type=probe.icmp_type, code=probe.icmp_code, msgbody=b"\0" * 8)
    return bytes(Ether(src=src_mac, dst=dst_mac) / IPv6(src=probe.src, dst=probe.dst, hlim=255) / body)


class IcmpNode(Node):
    """The IPv4 pair, sending ICMP frames of the probe's type and code; where a connection goes is not compared
    (most of these packets start none), only the counters."""

    def frame(self, probe: Probe) -> bytes:
        assert isinstance(probe, IcmpProbe)
        return _frame4(probe, self.src_mac, self.dst_mac)

    def ends(self) -> dict[tuple[str, str, str, int], str]:
        return {}


class IcmpNode6(v6.Node6):
    """The IPv6 pair, likewise."""

    def frame(self, probe: Probe) -> bytes:
        assert isinstance(probe, IcmpProbe)
        return _frame6(probe, self.src_mac, self.dst_mac)

    def ends(self) -> dict[tuple[str, str, str, int], str]:
        return {}

    def run(self, chains: tuple[Chain, ...], packets: tuple[Probe, ...]) -> list[tuple[Counter[Key], str | None]]:
        flushed = nsexec.run(self.node, ["conntrack", "-F", "-f", "ipv6"])
        assert flushed.returncode == 0, flushed.stderr
        return Node.run(self, chains, packets)  # (the probes' addresses are canonical already)


@pytest.fixture(scope="module")
def icmp_pair(kernel: None, run_tag: str) -> Iterator[IcmpNode]:
    for client, node in joined_pair(run_tag, "ic", v4._configure):
        yield IcmpNode(client, node)


@pytest.fixture(scope="module")
def icmp_pair6(kernel: None, run_tag: str) -> Iterator[IcmpNode6]:
    for client, node in joined_pair(run_tag, "i6", v6._configure):
        yield IcmpNode6(client, node)


def _probes(proto: str, src: str, destinations: tuple[str, ...],
            packets: tuple[tuple[int, int], ...]) -> tuple[IcmpProbe, ...]:
    """Every type and code to every destination, each echo with its own identifier (one connection each)."""
    return tuple(IcmpProbe(proto, src, dst, 0, 1000 + n, t, c)
                 for n, (dst, (t, c)) in enumerate((d, p) for d in destinations for p in packets))


def _evaluated(chains: tuple[Chain, ...], probes: tuple[IcmpProbe, ...], context: NodeContext,
               ipv6: bool) -> list[Counter[Key]]:
    out = []
    for _, counters, finished in evaluated(chains, probes, context, _packet, ipv6=ipv6):
        assert finished.verdict == "ACCEPT"  # (the rules only count: none decides)
        out.append(counters)
    return out


def _packet(p: IcmpProbe) -> Packet:
    """The probe as the evaluator sees it: a UDP datagram, or an ICMP packet in the state conntrack gives it."""
    if p.proto == "udp":
        return Packet.of(p.proto, p.src, p.dst, p.dport, p.sport, in_iface="c0")
    state = p.state or unconnected_icmp_state(p.proto, p.icmp_type)
    return Packet.of(p.proto, p.src, p.dst, icmp=(p.icmp_type, p.icmp_code), in_iface="c0", ctstate=state)


def differences(kernel: list[tuple[Counter[Key], str | None]], ours: list[Counter[Key]],
                probes: tuple[IcmpProbe, ...], chains: tuple[Chain, ...]) -> list[str]:
    """Each probe whose counters differ, with every rule whose count differs: the same rules matched a different
    number of times are a difference too (the keys' symmetric difference alone listed none of them)."""
    rules = chains[0].rules
    out = []
    for probe, (theirs, _), mine in zip(probes, kernel, ours, strict=True):
        differ = sorted(key for key in set(mine) | set(theirs) if mine[key] != theirs[key])
        if differ:
            said = [f"{key}: {rules[key[2] - 1]!r} kernel {theirs[key]}, evaluator {mine[key]}" for key in differ]
            out.append(f"{probe.proto} type {probe.icmp_type}/{probe.icmp_code} to {probe.dst}:\n" + "\n".join(said))
    return out


def _compare(kernel: list[tuple[Counter[Key], str | None]], ours: list[Counter[Key]],
             probes: tuple[IcmpProbe, ...], chains: tuple[Chain, ...]) -> None:
    found = differences(kernel, ours, probes, chains)
    if found:
        pytest.fail("\n".join(found))


def test_icmp_types_match_as_xt_icmp_matches_them(icmp_pair: IcmpNode) -> None:
    """Measured: ``any`` and 255 (whatever code) match every type, ``! any`` none; a bare type every code of it; a
    code range its codes (``3/5:1``, which iptables-save prints 3/5, none); the states are NEW for requests (8, 13,
    15, 17) and INVALID for the rest."""
    chains = _chains("icmp", TYPES4)
    probes = _probes("icmp", v4.SOURCES[0], (v4.NODE, v4.FORWARDED[0]), PACKETS4)
    kernel = icmp_pair.run(chains, probes)
    assert kernel[0][0][("filter", "INPUT", 1)] == 1  # (an echo request is NEW: the table is the kernel's)
    _compare(kernel, _evaluated(chains, probes, v4.NODE_CONTEXT, False), probes, chains)


def test_an_icmp_error_about_a_tracked_connection_is_related_and_matched_by_its_type(icmp_pair: IcmpNode) -> None:
    """A UDP packet to the node opens a connection; an error from the client quoting the node's answer on it
    (node:53 -> client:1000) is RELATED to it (icmp_error_message), and its type is matched as any packet's: the
    model's RELATED ICMP packet, an error with its type (Packet.of refuses a RELATED echo)."""
    chains = _chains("icmp", TYPES4)
    client, node = v4.SOURCES[0], v4.NODE
    opening = IcmpProbe("udp", client, node, 53, 1000, 0, 0)
    answer = Probe("udp", node, client, 1000, 53)
    probes = (opening, *(IcmpProbe("icmp", client, node, 0, 0, t, c, CtState.RELATED, answer)
                         for t, c in ((3, 3), (3, 1), (11, 0), (12, 0))))
    kernel = icmp_pair.run(chains, probes)
    assert [seen[("filter", "INPUT", 4)] for seen, _ in kernel] == [0, 1, 1, 1, 1]  # RELATED, in the kernel's word
    _compare(kernel, _evaluated(chains, probes, v4.NODE_CONTEXT, False), probes, chains)


def test_icmpv6_types_match_as_ip6t_icmp6_matches_them(icmp_pair6: IcmpNode6) -> None:
    """Measured: ip6tables has no wildcard (255 is type 255 alone); neighbour discovery is UNTRACKED, echo
    request and node information query (139) NEW, everything else INVALID."""
    chains = _chains("icmpv6", TYPES6)
    probes = _probes("icmpv6", v6.SOURCES[0], (v6.NODE, v6.FORWARDED[0]), PACKETS6)
    kernel = icmp_pair6.run(chains, probes)
    _compare(kernel, _evaluated(chains, probes, v6.NODE_CONTEXT, True), probes, chains)


ICMP_SPELLINGS = {
    False: ("any", "Any", "255/0", "echo-request", "ECHO-REQ", "ping", "pong", "destination", "network-unr",
            "port-unreachable", "0x3/0x3", "010", " 8", "+8", "3/0:5", "3/5:1", "8/0:255", "ttl-zero-during-t",
            "TOS-host-redirect", "address-mask-reply", "12/1", "echo", "e", "a", "", "256", "3/256", "3:5",
            "8/", "/3", "8 ", "3/3/3", "09", "0x", "-1", "3/-0", "ping/3", "echo-request-x"),
    True: ("echo-request", "ping", "a", "p", "r", "neighbour", "neighbor-s", "no-route", "1/0:3", "128:130",
           "any", "255", "256", "0x80", "bad-header", "unknown-o", "redirect", "ECHO-REPLY"),
}


def _saved(node: str, text: str, ipv6: bool) -> str | None:
    """The --icmp-type iptables-save prints for a rule holding ``text`` as its type; None when iptables refuses it."""
    binary, proto, module, flag = (("ip6tables", "ipv6-icmp", "icmp6", "--icmpv6-type") if ipv6 else
                                   ("iptables", "icmp", "icmp", "--icmp-type"))
    nsexec.run(node, [binary, "-F", "INPUT"])
    done = nsexec.run(node, [binary, "-A", "INPUT", "-p", proto, "-m", module, flag, text])
    if done.returncode != 0:
        return None
    listed = nsexec.run(node, [binary, "-S", "INPUT"])
    (rule,) = [line for line in listed.stdout.splitlines() if line.startswith("-A INPUT")]
    return rule.rpartition(f"{flag} ")[2]


def _printed(read: tuple[int, int, int] | None, ipv6: bool) -> str | None:
    """How iptables prints a type read (its code range's first code alone, as -S prints a range)."""
    if read is None:
        return None
    type_, low, high = read
    if type_ == 255 and not ipv6:
        return "any"
    return str(type_) if (low, high) == (0, 255) else f"{type_}/{low}"


@pytest.mark.parametrize("ipv6", [False, True], ids=["iptables", "ip6tables"])
def test_the_type_is_read_as_iptables_reads_it(icmp_pair: IcmpNode, ipv6: bool) -> None:
    """Names (any case, unambiguous prefixes), numbers in C's bases and code ranges, as iptables 1.8.9 reads
    and -S prints them; what it refuses, refused (an ambiguous prefix, 256, a type range, trailing blanks)."""
    wrong = {}
    for text in ICMP_SPELLINGS[ipv6]:
        theirs, mine = _saved(icmp_pair.node, text, ipv6), _printed(read_icmp_type(text, ipv6), ipv6)
        if theirs != mine:
            wrong[text] = (theirs, mine)
    nsexec.run(icmp_pair.node, ["ip6tables" if ipv6 else "iptables", "-F", "INPUT"])
    assert not wrong, f"(iptables, ours): {wrong}"
