"""The trace's member of a NAT range against the real kernel's, flow by flow.

Two scratch namespaces (``kpsim-<run>-nr.c`` the clients, ``kpsim-<run>-nr.n`` the node) joined by a veth: the
clients' link holds 64 addresses of each family, the node DNATs service addresses to address ranges in
PREROUTING (plain, ``--persistent``, an IPv6 range across a 32-bit word, port ranges, a connection a raw
``CT --zone`` put in zone 5) and SNATs what it forwards
to ranges in POSTROUTING, and sends it out of a second veth, where nothing answers (conntrack confirms a
connection in POSTROUTING, before the neighbour lookup). One UDP datagram per flow, each from its own source
port (an SNAT reuses the mapping of an earlier connection from the same source address and port, which a trace
of one packet cannot know), then the node's conntrack table says which member each connection got; the
tracer, given the same rules, must say the same for every flow.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.kernel.build import load_rules
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet, format_endpoint
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.kernel.conftest import joined_pair

pytestmark = pytest.mark.kernel

HEAD = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
"""
RAW = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -d 10.96.0.14/32 -j CT --zone 5
COMMIT
"""
RULES = {4: RAW + HEAD + """\
-A PREROUTING -d 10.96.0.14/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.100.4.1-10.100.4.13
-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.100.0.1-10.100.0.13
-A PREROUTING -d 10.96.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.100.1.1-10.100.1.7 --persistent
-A PREROUTING -d 10.96.0.12/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.100.2.1:2000-2063
-A PREROUTING -d 10.96.0.13/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.100.3.1-10.100.3.5:50-60
-A POSTROUTING -s 10.77.0.0/16 -d 10.100.0.0/24 -p udp -j SNAT --to-source 10.200.0.1-10.200.0.11
-A POSTROUTING -s 10.77.0.0/16 -d 10.100.1.0/24 -p udp -j SNAT --to-source 10.201.0.1-10.201.0.11 --persistent
COMMIT
""", 6: HEAD + """\
-A PREROUTING -d fd00:96::10/128 -p udp -m udp --dport 53 -j DNAT --to-destination fd00:100::1-fd00:100::d
-A PREROUTING -d fd00:96::11/128 -p udp -m udp --dport 53 -j DNAT --to-destination fd00:100::ffff:fff0-fd00:100::1:0:10
-A PREROUTING -d fd00:96::12/128 -p udp -m udp --dport 53 -j DNAT --to-destination fd00:100::2:1-fd00:100::2:9 \
--persistent
-A POSTROUTING -s fd77::/64 -d fd00:100::/64 -p udp -j SNAT --to-source fd00:200::1-fd00:200::b
COMMIT
"""}
SERVICES = {4: ("10.96.0.10", "10.96.0.11", "10.96.0.12", "10.96.0.13", "10.96.0.14"),  # .14: in zone 5
            6: ("fd00:96::10", "fd00:96::11", "fd00:96::12")}
CLIENTS = {4: [f"10.77.{i * 37 % 250}.{i * 11 % 250 + 2}" for i in range(2, 66)],
           6: [f"fd77::{i * 7919 % 65521:x}:{i * 31:x}" for i in range(2, 66)]}
GATEWAY = {4: "10.77.0.1", 6: "fd77::1"}
OUT = {4: "10.100.0.0/16", 6: "fd00:100::/64"}  # every member of every range, the IPv6 one's strays too

Flow = tuple[str, int, str]  # client address, its source port, service address (port 53)


def _up(ipr: IPRoute, name: str) -> int:
    index = ipr.link_lookup(ifname=name)[0]
    ipr.link("set", index=index, state="up")
    return index


def _configure(clients: str, node: str) -> None:
    """The pair: clients' eth0 (all client addresses, default routes via the node), the node's c0 facing them
    and out0 (a veth whose peer out1 answers nothing) toward the ranges."""
    with nsexec.iproute(node) as ipr:
        ipr.link("add", ifname="out0", kind="veth", peer={"ifname": "out1"})
        (c0,) = ipr.link_lookup(ifname="c0")
        out0 = _up(ipr, "out0")
        _up(ipr, "out1")
        for family, prefixlen in ((4, 16), (6, 64)):
            ipr.addr("add", index=c0, address=GATEWAY[family], prefixlen=prefixlen)
            ipr.route("add", dst=OUT[family], oif=out0)
    with nsexec.iproute(clients) as ipr:
        (eth0,) = ipr.link_lookup(ifname="eth0")
        for family, prefixlen in ((4, 16), (6, 64)):
            for address in CLIENTS[family]:
                ipr.addr("add", index=eth0, address=address, prefixlen=prefixlen)
            ipr.route("add", dst="0.0.0.0/0" if family == 4 else "::/0", gateway=GATEWAY[family])
    for family in (4, 6):
        load_rules(node, RULES[family], family=family)


@pytest.fixture(scope="module")
def pair(kernel: None, run_tag: str) -> Iterator[tuple[str, str]]:
    yield from joined_pair(run_tag, "nr", _configure)


def _send(flows: list[Flow]) -> int:
    """One datagram per flow (run inside the clients' namespace)."""
    for src, sport, service in flows:
        family = socket.AF_INET6 if ":" in src else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((src, sport))
            sock.sendto(b"x", (service, 53))
    return len(flows)


def _conntrack() -> str:
    """This namespace's conntrack table (run inside the node's namespace)."""
    with open("/proc/net/nf_conntrack") as table:
        return table.read()


def _endpoint(address: str, port: str) -> str:
    parsed = ipaddress.ip_address(address)
    return format_endpoint(parsed.version, int(parsed), int(port))


def _kernel_choices(node: str, count: int) -> dict[tuple[str, int, str], tuple[str, str | None]]:
    """(client, source port, service) -> (the DNAT member, the SNAT member or None), polled until all are in."""
    deadline = time.monotonic() + 10
    while True:
        found = {}
        for line in nsexec.call(node, _conntrack).splitlines():
            fields: dict[str, list[str]] = {}
            for key, value in re.findall(r"(\w+)=(\S+)", line):
                fields.setdefault(key, []).append(value)
            if len(fields.get("src", ())) != 2:
                continue
            (src, member), (service, client) = fields["src"], fields["dst"]
            (sport, member_port), (_, client_port) = fields["sport"], fields["dport"]
            snat = _endpoint(client, client_port)
            key = (str(ipaddress.ip_address(src)), int(sport), str(ipaddress.ip_address(service)))
            found[key] = (_endpoint(member, member_port), snat if snat != _endpoint(src, sport) else None)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _traced(tracer: Tracer, flow: Flow) -> tuple[str, str | None]:
    """The trace's DNAT member and, under an SNAT range, the source it assumes (its doubt's last words)."""
    src, sport, service = flow
    result = tracer.trace(Packet.of("udp", src, service, 53, sport))
    (outcome,) = result.outcomes
    assert outcome.destination is not None
    snat = [u.reason.rpartition(", ")[2] for u in result.uncertain if u.reason.startswith("--to-source ")]
    return outcome.destination, snat[0] if snat else None


def test_the_trace_picks_the_member_the_kernel_picks(pair: tuple[str, str]) -> None:
    clients, node = pair
    pairs = [(client, service) for family in (4, 6) for service in SERVICES[family] for client in CLIENTS[family]]
    flows = [(client, 20000 + i, service) for i, (client, service) in enumerate(pairs)]
    assert nsexec.call(clients, _send, flows) == len(flows)
    kernel = _kernel_choices(node, len(flows))
    tracers = {family: Tracer(parse_ruleset(RULES[family], ipv6=family == 6), NodeContext.of([]))
               for family in (4, 6)}
    predicted = {flow: _traced(tracers[6 if ":" in flow[0] else 4], flow) for flow in flows}
    assert {flow: kernel.get(flow) for flow in flows} == predicted
    # the IPv6 range across a word boundary sends some connections outside it, as the kernel does
    low, high = (ipaddress.IPv6Address(a) for a in ("fd00:100::ffff:fff0", "fd00:100::1:0:10"))
    spanned = [ipaddress.IPv6Address(predicted[flow][0].partition("]")[0][1:]) for flow in flows
               if flow[2] == "fd00:96::11"]
    assert any(not low <= member <= high for member in spanned) and any(low <= member <= high for member in spanned)
