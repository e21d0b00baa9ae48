"""Where input routing drops a packet PREROUTING sent to a martian address, against the real kernel.

Two scratch namespaces (``kpsim-<run>-mt.c`` the client, ``kpsim-<run>-mt.n`` the node) joined by a veth (the
client's eth0, the node's c0). The node DNATs UDP port 54 to 0.0.0.0 and [::1], and port 55 to 0.0.0.1, and
counts what reaches filter INPUT and FORWARD; the client sends one datagram to each. The kernel's rule counters
say how far each packet got; the tracer, given the same rules and the node's routes, must end each trace at the
same place: a drop at routing (with its routing-decision step) or a forward. Then the node gains an IPv6 default
route out of c0, and the DNAT to ::1 is forwarded back out there, as the trace given that route says.

Martian sources and scopes no socket would send go as raw frames written to the client's eth0 (AF_PACKET), to
port 9, which no DNAT touches: raw PREROUTING counts what passed receipt, filter INPUT what routing delivered.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.kernel.build import load_rules
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.kernel.conftest import joined_pair
from tests.netfilter.test_trace_broadcast import (
    LOOPBACK6_NO_ROUTE,
    MARTIAN_DESTINATION,
    MARTIAN_SOURCE,
    MULTICAST6_DROP,
)

pytestmark = pytest.mark.kernel

COUNTED = "-A INPUT -p udp\n-A FORWARD -p udp\n"
COUNTED_RULES = ("INPUT -p udp", "FORWARD -p udp")
RAW = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -p udp\nCOMMIT\n"
HEAD = RAW + "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
RULES = {4: (HEAD +
             "-A PREROUTING -p udp -m udp --dport 54 -j DNAT --to-destination 0.0.0.0:53\n"
             "-A PREROUTING -p udp -m udp --dport 55 -j DNAT --to-destination 0.0.0.1:53\nCOMMIT\n"
             f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{COUNTED}COMMIT\n"),
         6: (HEAD +
             "-A PREROUTING -p udp -m udp --dport 54 -j DNAT --to-destination [::1]:53\nCOMMIT\n"
             f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{COUNTED}COMMIT\n")}
NODE = {4: "10.9.0.2", 6: "fd00::2"}
CLIENT = {4: "10.9.0.1", 6: "fd00::1"}
PREFIX = {4: 24, 6: 64}
ZERO_NET_ROUTE = ("0.0.0.0/8", "c0")  # so that 0.0.0.1 has a route, as any unicast address may


def _configure(client: str, node: str) -> None:
    with nsexec.iproute(node) as ipr:
        (c0,) = ipr.link_lookup(ifname="c0")
        for family in (4, 6):
            ipr.addr("add", index=c0, address=NODE[family], prefixlen=PREFIX[family])
        ipr.route("add", dst=ZERO_NET_ROUTE[0], oif=c0)
    with nsexec.iproute(client) as ipr:
        (eth0,) = ipr.link_lookup(ifname="eth0")
        for family in (4, 6):
            ipr.addr("add", index=eth0, address=CLIENT[family], prefixlen=PREFIX[family])
    for family in (4, 6):
        load_rules(node, RULES[family], family=family)


@pytest.fixture(scope="module")
def pair(kernel: None, run_tag: str) -> Iterator[tuple[str, str]]:
    yield from joined_pair(run_tag, "mt", _configure)


def _send(family: int, port: int) -> None:
    """One datagram from the client to the node (run inside the client's namespace)."""
    with socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"x", (NODE[family], port))


def _counters(node: str, family: int) -> dict[str, int]:
    """Packets each rule saw: ``CHAIN rule`` -> count."""
    done = nsexec.run(node, ["ip6tables-save" if family == 6 else "iptables-save", "-c"])
    return {f"{chain} {rule}": int(count) for count, chain, rule in re.findall(r"^\[(\d+):\d+\] -A (\w+) (.*)$",
                                                                             done.stdout, re.M)}


def _through(pair: tuple[str, str], family: int, port: int) -> dict[str, int]:
    """The filter chains the client's datagram to ``port`` reached on the node (counter deltas), read once its
    DNAT has counted it (routing and the filter hooks come in the same pass)."""
    client, node = pair
    before = _counters(node, family)
    nsexec.call(client, _send, family, port)
    dnat = next(rule for rule in before if rule.startswith("PREROUTING") and f"--dport {port} " in rule)
    deadline = time.monotonic() + 5
    while (after := _counters(node, family))[dnat] == before[dnat] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after[dnat] == before[dnat] + 1
    return {rule.split()[0]: after[rule] - before[rule] for rule in COUNTED_RULES if after[rule] != before[rule]}


def _traced(family: int, port: int, routes: tuple[tuple[str, str], ...] = ()) -> tuple[str, dict[str, int], str]:
    """The trace's verdict, the filter chains it reaches (as the counters would say) and its last step."""
    tracer = Tracer(parse_ruleset(RULES[family], ipv6=family == 6),
                    NodeContext.of([f"{NODE[family]}/{PREFIX[family]}"], interfaces={"c0": [NODE[family]]},
                                   routes=routes))
    (outcome,) = tracer.trace(Packet.of("udp", CLIENT[family], NODE[family], port, in_iface="c0")).outcomes
    chains = {step.chain: 1 for step in outcome.path if step.table == "filter"}
    return outcome.verdict, chains, outcome.path[-1].rule


def test_a_dnat_to_a_martian_address_ends_where_the_kernel_drops_it(pair: tuple[str, str]) -> None:
    assert (_traced(4, 54), _through(pair, 4, 54)) == (("DROP", {}, MARTIAN_DESTINATION), {})
    verdict, chains, _ = _traced(4, 55, (ZERO_NET_ROUTE,))
    assert ((verdict, chains), _through(pair, 4, 55)) == (("DNAT", {"FORWARD": 1}), {"FORWARD": 1})
    assert (_traced(6, 54), _through(pair, 6, 54)) == (("DROP", {}, LOOPBACK6_NO_ROUTE), {})
    with nsexec.iproute(pair[1]) as ipr:
        ipr.route("add", dst="::/0", gateway=CLIENT[6], oif=ipr.link_lookup(ifname="c0")[0])
    verdict, chains, _ = _traced(6, 54, (("::/0", "c0"),))
    assert ((verdict, chains), _through(pair, 6, 54)) == (("DNAT", {"FORWARD": 1}), {"FORWARD": 1})


def _write_frames(frames: list[str]) -> None:
    """Write each frame (hex) to the wire as it is, on eth0 (run inside the client's namespace)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind(("eth0", 0))
        for frame in frames:
            sock.send(bytes.fromhex(frame))


def _frame(mac: str, src: str, dst: str) -> str:
    """An Ethernet frame to the node's c0 holding a UDP datagram from ``src`` to ``dst`` port 9."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    l3 = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
    return bytes(Ether(dst=mac) / l3 / UDP(sport=1234, dport=9) / b"x").hex()


RAW_COUNTED = ("PREROUTING -p udp", "INPUT -p udp")


def _reached(pair: tuple[str, str], src: str, dst: str) -> tuple[int, int]:
    """How many of the frame from ``src`` to ``dst`` raw PREROUTING and filter INPUT counted on the node. An
    ordinary datagram from the client follows it on the same wire and is awaited (it reaches INPUT), so the frame
    has been judged when the counters are read; its own counts are taken off."""
    client, node = pair
    family = 6 if ":" in src else 4
    with nsexec.iproute(node) as ipr:
        mac = ipr.get_links(ipr.link_lookup(ifname="c0")[0])[0].get_attr("IFLA_ADDRESS")
    before = _counters(node, family)
    nsexec.call(client, _write_frames, [_frame(mac, src, dst), _frame(mac, CLIENT[family], NODE[family])])
    deadline = time.monotonic() + 5
    while (after := _counters(node, family))["INPUT -p udp"] == before["INPUT -p udp"] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # (a frame that got past the control on another CPU's backlog: counted by now)
    after = _counters(node, family)
    raw, delivered = (after[rule] - before[rule] - 1 for rule in RAW_COUNTED)
    return raw, delivered


def _traced_raw(src: str, dst: str) -> tuple[str, tuple[int, int], str]:
    """The trace's verdict, whether it passes raw PREROUTING and filter INPUT (as the counters would), and its
    last step."""
    family = 6 if ":" in src else 4
    tracer = Tracer(parse_ruleset(RULES[family], ipv6=family == 6),
                    NodeContext.of([f"{NODE[family]}/{PREFIX[family]}"], interfaces={"c0": [NODE[family]]},
                                   routes=(ZERO_NET_ROUTE,) if family == 4 else ()))
    (outcome,) = tracer.trace(Packet.of("udp", src, dst, 9, 1234, in_iface="c0")).outcomes
    steps = {(step.table, step.chain) for step in outcome.path}
    reached = (int(("raw", "PREROUTING") in steps), int(("filter", "INPUT") in steps))
    return outcome.verdict, reached, outcome.path[-1].rule


@pytest.mark.parametrize(("src", "dst", "reached", "last"), [
    ("0.1.2.3", "10.9.0.2", (1, 1), "-A INPUT -p udp"),  # 0.0.0.0/8 but 0.0.0.0 is unicast (Linux >= 5.3)
    ("0.0.0.0", "10.9.0.2", (1, 0), MARTIAN_SOURCE),  # dropped by input routing, after PREROUTING
    ("ff02::5", "fd00::2", (0, 0), MULTICAST6_DROP),  # a multicast source: dropped on receipt
    ("fd00::1", "ff01::1", (0, 0), MULTICAST6_DROP),  # interface-local scope from elsewhere
    ("fd00::1", "ff00::1", (0, 0), MULTICAST6_DROP),  # reserved scope 0
    ("fd00::1", "ff02::1", (1, 1), "-A INPUT -p udp"),  # link scope all-nodes: delivered
])
def test_martian_sources_and_scopes_end_where_the_kernel_drops_them(pair: tuple[str, str], src: str, dst: str,
                                                                    reached: tuple[int, int], last: str) -> None:
    verdict, traced, step = _traced_raw(src, dst)
    assert (traced, step) == (reached, last)
    assert verdict == ("ACCEPT" if reached[1] else "DROP")
    assert _reached(pair, src, dst) == reached
