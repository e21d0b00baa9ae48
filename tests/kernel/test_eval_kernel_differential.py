"""The rule evaluator against the real kernel, rule by rule: generated rulesets, generated packet sequences.

A hypothesis strategy writes small filter and nat rulesets (1-3 user chains, 3-12 rules) from the matches and
targets the evaluator claims to model: addresses with masks and negation, interfaces (-i/-o where the kernel
takes them), protocols, ports and port ranges, multiport, marks and MARK, addrtype (with --limit-iface-in/out
where the kernel takes them), conntrack state, statistic nth, recent --set/--rcheck, comments, jumps, gotos,
RETURN, ACCEPT/DROP/REJECT and DNAT. The
kernel side is a pair of scratch namespaces (``kpsim-<run>-ek.c`` the client, ``kpsim-<run>-ek.n`` the node)
joined by a veth (conftest.joined_pair); the node also has a second one (``out0``, its peer down in the client)
that a forwarded packet leaves by, into nothing (to a MAC no one has), and listens on every port a packet may
end at.
Each example loads its rules into the node with iptables-restore, then sends its packets one at a time as raw
frames from the client (each a new connection: conntrack is flushed first, and no two packets share a
tuple), and after each packet reads ``iptables-save -c``: the counters that moved are the rules the packet
matched (and a DROP policy that decided); at the end, conntrack's table says where each packet's connection
goes (the reply's source: a DNAT's destination), and a packet dropped or rejected has none. The evaluator,
given the same rules and the node's addresses, walks the same packets in order with a deterministic
:class:`~kubeproxy_sim.netfilter.evaluate.Sampler` (nth counters and recent lists carry over from packet to
packet as the kernel's do), and must name the same rules the same number of times for every packet, and the
same end.

Only the hooks a packet from elsewhere passes carry rules (PREROUTING, INPUT, FORWARD, POSTROUTING): what the
node sends back (a reset, an ICMP error) walks OUTPUT, which the trace of the packet does not cover.

The CI budget is small (derandomized, the same examples every run); KPSIM_DEEP=1 runs many more, new ones
each run.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.netfilter.evaluate import NodeContext
from tests.budget import budget
from tests.kernel.eval_kernel import (
    NOBODY,
    NUD_PERMANENT,
    PORTS,
    Chain,
    Probe,
    ScratchNode,
    Walk,
    address_matches,
    check_agrees,
    conntrack_entries,
    draw_chains,
    draw_probes,
    draw_target,
    listening_pair,
    optional_matches,
    out_link,
    port_matches,
    recent_match,
    walks,
)

pytestmark = pytest.mark.kernel


NODE = "10.9.0.1"  # on c0, facing the client (/24: 10.9.0.255 is its broadcast)
OUT_LOCAL = "10.100.0.1"  # on out0 (/16): local, though not on the interface the packets come in by
NODE_CONTEXT = NodeContext.of(
    (f"{NODE}/24", f"{OUT_LOCAL}/16"),
    interfaces={"c0": (f"{NODE}/24",), "out0": (f"{OUT_LOCAL}/16",)},
    routes=(("10.9.0.0/24", "c0"), ("10.100.0.0/16", "out0")), route_localnet_known=True)
SOURCES = ("10.9.0.2", "10.9.0.3", "10.77.0.5")  # never the node's own (the kernel drops those on receipt)
FORWARDED = ("10.100.0.7", "10.100.3.9")  # routed out of out0
DESTINATIONS = (NODE, OUT_LOCAL, "10.9.0.255", "10.100.255.255", "255.255.255.255", "224.0.0.1", *FORWARDED)
ADDRESSES = (*SOURCES, *DESTINATIONS, "10.0.0.0", "10.9.0.0")
ADDRTYPES = ("LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "UNREACHABLE", "LOCAL,BROADCAST", "UNICAST,LOCAL")
DNAT_TO = (NODE, OUT_LOCAL, *FORWARDED)
RECENT_MASKS = ("255.255.255.255", "255.255.255.0")


def _address(draw: st.DrawFn, flag: str) -> str:
    address = draw(st.sampled_from(ADDRESSES))
    mask = draw(st.sampled_from(("", "/32", "/30", "/24", "/16", "/8")))
    return f"{'! ' if draw(st.booleans()) else ''}{flag} {address}{mask}"


def _matches(draw: st.DrawFn, hooks: set[str]) -> list[str]:
    out = address_matches(draw, hooks, _address)
    proto = draw(st.sampled_from(("", "tcp", "udp", "icmp", "!tcp")))
    if proto == "!tcp":
        out.append("! -p tcp")
    elif proto:
        out.append(f"-p {proto}")
        if proto != "icmp":
            out.extend(port_matches(draw, proto))
    return out + optional_matches(draw, hooks, ADDRTYPES, _recent)


def _recent(draw: st.DrawFn) -> str:
    return recent_match(draw, RECENT_MASKS)


def _target(draw: st.DrawFn, table: str, hooks: set[str], callees: list[str]) -> str:
    """A target; IPv4's DNAT goes to an address (the port is added by :func:`_rule`), its REJECT takes no option."""
    return draw_target(draw, table, "", hooks, callees,
                       {"DNAT": lambda: f"-j DNAT --to-destination {draw(st.sampled_from(DNAT_TO))}"})


def _rule(draw: st.DrawFn, table: str, hooks: set[str], callees: list[str]) -> str:
    matches = _matches(draw, hooks)
    target = _target(draw, table, hooks, callees)
    if "DNAT" in target and any(m.startswith(("-p tcp", "-p udp")) for m in matches):
        target += f":{draw(st.sampled_from(PORTS))}"
    return " ".join([*matches, target]).strip()


@st.composite
def rulesets(draw: st.DrawFn) -> tuple[Chain, ...]:
    """Filter and nat tables: their built-in chains for a packet from elsewhere and 1-3 user chains, 3-12 rules."""
    return draw_chains(draw, lambda d, table, _name, hooks, callees: _rule(d, table, hooks, callees))


@st.composite
def probes(draw: st.DrawFn) -> tuple[Probe, ...]:
    return draw_probes(draw, ("tcp", "udp", "icmp"), SOURCES, DESTINATIONS)


def _ends_at(probe: Probe, finished: Any) -> str | None:
    """Where the connection of a walk that ended so goes: a DNAT's destination, or the packet's own."""
    if finished.verdict == "DNAT":
        return finished.destination
    if finished.verdict != "ACCEPT":
        return None
    return probe.dst if probe.proto == "icmp" else f"{probe.dst}:{probe.dport}"


def evaluated(chains: tuple[Chain, ...], packets: tuple[Probe, ...]) -> list[Walk]:
    """Per packet, what the evaluator says it did, walked in order through one sampling run."""
    return walks(chains, packets, NODE_CONTEXT, icmp="icmp", end=_ends_at)


BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"


def frame_mac(dst: str, node_mac: str) -> str:
    """The link-layer destination a sender on c0's link writes for ``dst``: a multicast group's 01:00:5e MAC,
    the broadcast MAC for 255.255.255.255 and c0's subnet broadcast, else the node's. The kernel's pkt_type
    follows it, and ip_forward forwards only a frame sent to the node (a group one DNATed on is dropped)."""
    value = int.from_bytes(socket.inet_aton(dst), "big")
    if value >> 28 == 0xE:
        low = value & 0x7FFFFF
        return "01:00:5e:" + ":".join(f"{(low >> s) & 0xFF:02x}" for s in (16, 8, 0))
    if dst in ("255.255.255.255", "10.9.0.255"):
        return BROADCAST_MAC
    return node_mac


def _frame(probe: Probe, src_mac: str, dst_mac: str) -> bytes:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether

    dst_mac = frame_mac(probe.dst, dst_mac)

    layer = {"tcp": lambda: TCP(sport=probe.sport, dport=probe.dport, flags="S"),
             "udp": lambda: UDP(sport=probe.sport, dport=probe.dport) / b"x",
             "icmp": lambda: ICMP(type=8, id=probe.sport, seq=1)}[probe.proto]()
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=probe.src, dst=probe.dst, ttl=64) / layer)


CONNECTION = re.compile(r"^(tcp|udp|icmp) .*?src=(\S+) dst=(\S+) (?:sport=(\d+) dport=(\d+)|type=8 code=0 id=(\d+))"
                        r".*? src=(\S+) dst=\S+ (?:sport=(\d+)|type=0)")


def connections(node: str) -> dict[tuple[str, str, str, int], str]:
    """(protocol, source, destination, source port or echo id) of every connection conntrack holds -> where it
    goes: the reply's source (and port), which is the DNAT's destination when one was taken."""
    found = {}
    for proto, src, dst, sport, _, ident, to, to_port in conntrack_entries(node, CONNECTION):
        found[(proto, src, dst, int(sport or ident))] = f"{to}:{to_port}" if to_port else to
    return found


class Node(ScratchNode):
    """The IPv4 scratch pair."""

    family = 4

    def frame(self, probe: Probe) -> bytes:
        return _frame(probe, self.src_mac, self.dst_mac)

    def ends(self) -> dict[tuple[str, str, str, int], str]:
        return connections(self.node)


def _configure(client: str, node: str) -> None:
    """The node's addresses, and a permanent neighbour (a MAC no one has) for every address it sends to: a
    reply or a forwarded packet leaves at once, into nothing. A neighbour that never answers would, seconds
    later, make the node send itself an ICMP host-unreachable about its own reply, which walks INPUT (from lo)
    at a moment no packet of ours explains (seen in the kernel)."""
    with nsexec.iproute(node) as ipr:
        c0, out0 = out_link(ipr, client)
        ipr.addr("add", index=c0, address=NODE, prefixlen=24)
        ipr.addr("add", index=out0, address=OUT_LOCAL, prefixlen=16)
        for address, index in [(a, c0) for a in SOURCES if a.startswith("10.9.")] + [(a, out0) for a in FORWARDED]:
            ipr.neigh("add", dst=address, lladdr=NOBODY, ifindex=index, state=NUD_PERMANENT)


@pytest.fixture(scope="module")
def pair(kernel: None, run_tag: str) -> Iterator[Node]:
    yield from listening_pair(run_tag, "ek", _configure, Node)


@settings(max_examples=budget(24))
@given(chains=rulesets(), packets=probes())
def test_the_evaluator_matches_the_rules_the_kernel_matches(pair: Node, chains: tuple[Chain, ...],
                                                            packets: tuple[Probe, ...]) -> None:
    check_agrees(pair, chains, packets, evaluated)


GROUP_DNAT = (Chain("filter", "INPUT", "ACCEPT", ()), Chain("filter", "FORWARD", "ACCEPT", ("-j ACCEPT",)),
              Chain("nat", "PREROUTING", "ACCEPT", ("-p udp -j DNAT --to-destination 10.100.0.7:53",
                                                    "-p tcp -j DNAT --to-destination 10.9.0.1:80")),
              Chain("nat", "INPUT", "ACCEPT", ()), Chain("nat", "POSTROUTING", "ACCEPT", ()))


@pytest.mark.parametrize("group", ["224.0.0.1", "255.255.255.255", "10.9.0.255"])
def test_a_group_or_broadcast_frame_dnated_on_is_dropped_and_one_dnated_to_the_node_delivered(
        pair: Node, group: str) -> None:
    """ip_forward drops a frame not sent to the node alone (pkt_type != PACKET_HOST) before FORWARD: measured, a
    frame to 01:00:5e:00:00:01 DNATed to 10.100.0.7: nat PREROUTING 1, FORWARD and INPUT 0. The evaluator
    forwarded it (reviewer r8 finding 4)."""
    packets = (Probe("udp", "10.9.0.2", group, 53, 1000), Probe("tcp", "10.9.0.2", group, 443, 1001))
    kernel = pair.run(GROUP_DNAT, packets)
    assert kernel[0] == (Counter({("nat", "PREROUTING", 1): 1}), None)
    assert evaluated(GROUP_DNAT, packets) == kernel


RECENT_FIRST_MASK = (
    Chain("filter", "INPUT", "ACCEPT", ()), Chain("filter", "FORWARD", "ACCEPT", ()),
    Chain("nat", "PREROUTING", "ACCEPT", ("-p tcp -m recent --set --name A --mask 255.255.255.0 --rsource",
                                          "-m recent --rcheck --name A --mask 255.255.255.255 --rsource "
                                          "-j DNAT --to-destination 10.100.0.7")),
    Chain("nat", "INPUT", "ACCEPT", ()), Chain("nat", "POSTROUTING", "ACCEPT", ()))


def test_a_recent_list_masks_with_its_first_rule_s_mask(pair: Node) -> None:
    """xt_recent keeps one mask per list, the first rule's (a77b032): the /32 --rcheck finds what the /24 --set
    stored for 10.9.0.2 when 10.9.0.3 asks, and a udp packet (no --set) from 10.9.0.3 too."""
    packets = (Probe("tcp", "10.9.0.2", NODE, 80, 1000), Probe("udp", "10.9.0.3", NODE, 53, 1001),
               Probe("udp", "10.77.0.5", NODE, 53, 1002))
    kernel = pair.run(RECENT_FIRST_MASK, packets)
    assert kernel[1][1] == "10.100.0.7:53"
    assert evaluated(RECENT_FIRST_MASK, packets) == kernel
