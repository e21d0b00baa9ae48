"""The kernel on pings through kube-proxy's rules: the builders' cluster (tests/simulator/builders.py) built in real
namespaces, and one raw ICMP echo request from a pod, a node and an outside client to each kind of address. Each is
answered, or not, as ``send --proto icmp`` says (tests/simulator/test_ping.py); where an ICMP error came back the
simulator's reason is one a ping hears (NO_ROUTE), where nothing did, silence (TIMEOUT).

The namespaces' outside network is not the simulator's in one respect: its router has no load balancer and routes
no externalIP to the nodes (outside clients reach those through the first node, pods and nodes by the router), so
an echo to a LoadBalancer IP or an externalIP from a pod or a node meets the router's net unreachable where the
simulator's balancer is silent or its router sends it round the nodes; answered or not agrees there too."""

from __future__ import annotations

import random
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.kernel import build, nsexec
from kubeproxy_sim.kernel.plan import Topology, plan
from kubeproxy_sim.kernel.send import topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.simulator.checksum import internet_checksum
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send as sim_send
from tests.simulator.builders import HOSTS, load, objects

pytestmark = pytest.mark.kernel

OUTSIDE_HOST = HOSTS[0][1]  # example.com of the simulator's --hosts: an outside client namespace here
ARGS = ["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]
WAIT = 1.0
"""Seconds a ping waits for its echo reply or an ICMP error about it (both come at once or never, here)."""
ARP_WAIT = 5.0
"""A ping to a pod subnet's address nobody has: the node's neighbour resolution gives up after some 3 s, and
sends ICMP host unreachable (3/1; ICMPv6 address unreachable, 1/3)."""

SOURCES = {"pod/default/client": ("pod", "default/client"), "node/node1": ("node", "node1"),
           "external": ("client", "203.0.113.10")}
DESTINATIONS = ["10.96.0.10", "10.244.2.10", "10.244.1.10", "192.168.0.11", "192.168.0.10", "203.0.113.200",
                "203.0.113.100", OUTSIDE_HOST, "10.244.2.99", "127.0.0.1"]
OUTSIDE_DIFFERS = {"external-ip", "load-balancer-ip"}
"""The kinds whose ICMP error (not whose answer) hangs on the outside network, which the namespaces model otherwise
(the module's docstring)."""


def cluster() -> Cluster:
    return load(objects())


@pytest.fixture(scope="module")
def stage(kernel: None, run_tag: str, state_dir: Path) -> Iterator[tuple[Topology, dict[str, Any]]]:
    name = f"{run_tag}-png"
    objs = cluster()
    topo = plan(name, objs, config_from_args(ARGS, objs), sources=[OUTSIDE_HOST])
    state = build.up(objs, topo, state_dir, topology_record(topo, objs))
    try:
        yield topo, state
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


@dataclass(frozen=True, slots=True)
class Echo:
    """A family's raw ICMP socket, an echo's types and the ICMP errors about it (unreachable, time exceeded)."""

    family: int
    proto: int
    request: int
    reply: int
    errors: tuple[int, int]


V4 = Echo(socket.AF_INET, socket.IPPROTO_ICMP, 8, 0, (3, 11))
V6 = Echo(socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129, (1, 3))


def payload(ident: int) -> bytes:
    """An echo request's data: what the pinged host knows it by, as a masquerade may change its identifier."""
    return b"kubeproxy-sim ping %d" % ident


def ping(dst: str, ident: int, wait: float) -> str:
    """One echo request to ``dst`` from a raw socket (run in the source's namespace): "reply" when its echo reply
    came, "error TYPE/CODE" when an ICMP error about it did, else "timeout". An IPv4 raw socket hands over the IP
    header and takes the checksum as given; an ICMPv6 one neither (the kernel fills the checksum in)."""
    six = ":" in dst
    kind = V6 if six else V4
    sock = socket.socket(kind.family, socket.SOCK_RAW, kind.proto)
    try:
        body = struct.pack("!BBHHH", kind.request, 0, 0, ident, 1) + payload(ident)
        sock.sendto(body if six else body[:2] + struct.pack("!H", internet_checksum(body)) + body[4:], (dst, 0))
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            data = sock.recv(4096)
            icmp = data if six else data[(data[0] & 15) * 4:]
            if icmp[0] == kind.reply and struct.unpack("!H", icmp[4:6])[0] == ident:
                return "reply"
            if icmp[0] in kind.errors:  # (the error quotes the request's IP header and what follows)
                inner = icmp[8:]
                quoted = inner[40:] if six else inner[(inner[0] & 15) * 4:]
                if quoted[0] == kind.request and struct.unpack("!H", quoted[4:6])[0] == ident:
                    return f"error {icmp[0]}/{icmp[1]}"
        return "timeout"
    finally:
        sock.close()


def namespace(topo: Topology, source: str) -> str:
    kind, name = SOURCES[source]
    if kind == "pod":
        return next(p.netns for p in topo.pods if p.key == name)
    if kind == "node":
        return next(n.netns for n in topo.nodes if n.name == name)
    return next(c.netns for c in topo.clients if c.ip == name)


LISTENER = """
import select, socket, sys, time
data_, wait = sys.argv[1].encode(), float(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("ready", flush=True)
deadline = time.monotonic() + wait
while (left := deadline - time.monotonic()) > 0 and select.select([sock], [], [], left)[0]:
    data, (source, _) = sock.recvfrom(4096)
    icmp = data[(data[0] & 15) * 4:]
    if icmp[0] == 8 and icmp[8:] == data_:
        print(source, flush=True)
        break
else:
    print("none", flush=True)
"""
"""Run in the pinged host's namespace: the source address its echo request of data argv[1] came from (a raw socket
there gets a copy of every ICMP packet delivered to the host), or "none" within argv[2] seconds. The data tells the
request, not the identifier, which MASQUERADE --random-fully (the CNI's, out of the cluster) draws anew."""


def host_namespace(topo: Topology, target: str) -> str | None:
    """The namespace of a delivered row's host (a pod's, a node's, an outside host's), None for the others."""
    kind, _, name = target.partition("/")
    if kind == "node":
        return next(n.netns for n in topo.nodes if n.name == name)
    if kind == "external":
        return next(c.netns for c in topo.clients if c.ip == dict(HOSTS).get(name, name))
    return next((p.netns for p in topo.pods if p.key == target and not p.host_network), None)


def seen(topo: Topology, source: str, destination: str, target: str, ident: int) -> str | None:
    """The source address the pinged host saw on the echo request (ping's ``From`` is its reply's source)."""
    netns = host_namespace(topo, target)
    if netns is None or netns == namespace(topo, source):
        return None  # (loopback: the host pinged itself)
    with nsexec.popen(netns, [sys.executable, "-c", LISTENER, payload(ident).decode(), str(WAIT + 1)],
                      stdout=subprocess.PIPE) as listener:
        try:
            assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
            assert nsexec.call(namespace(topo, source), ping, destination, ident, WAIT) == "reply"
            return listener.stdout.readline().strip()
        finally:
            listener.kill()


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_pinged_host_sees_the_source_the_simulator_says(stage: tuple[Topology, dict[str, Any]],
                                                             source: str) -> None:
    """An answered ping's ``sources_seen``: a pod's own address to a pod or a node, the node's where the CNI
    masquerades a pod's echo out of the cluster, an outside client's own to a node."""
    topo, _ = stage
    objs = cluster()
    config = config_from_args(ARGS, objs)
    checked = 0
    for index, destination in enumerate(DESTINATIONS):
        simulated = sim_send(Simulator(objs, config, rng=random.Random(1), hosts=HOSTS), source, destination,
                             proto="icmp", count=1)
        if not (simulated.delivered and simulated.delivered[0].count):
            continue
        row = simulated.delivered[0]
        got = seen(topo, source, destination, row.pod, 4000 + index)
        if got is not None:
            assert (got,) == row.sources_seen, f"{source} -> {destination} ({row.pod})"
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_ping_is_answered_in_the_kernel_where_the_simulator_answers_it(
        stage: tuple[Topology, dict[str, Any]], source: str) -> None:
    topo, _ = stage
    objs = cluster()
    config = config_from_args(ARGS, objs)
    rng = random.Random(7)
    compared = []
    for destination in DESTINATIONS:
        simulated = sim_send(Simulator(objs, config, rng=random.Random(1), hosts=HOSTS), source, destination,
                             proto="icmp", count=1)
        assert simulated.ping is not None
        answered = bool(simulated.delivered and simulated.delivered[0].count)
        reason = None if answered else simulated.failed[0].reason
        wait = ARP_WAIT if simulated.ping.kind == "pod-subnet" else WAIT
        heard = nsexec.call(namespace(topo, source), ping, destination, rng.randint(1, 65535), wait)
        compared.append((destination, simulated.ping.kind, answered, reason, heard))
    for destination, kind, answered, reason, heard in compared:
        where = f"{source} -> {destination} ({kind}): simulator {reason or 'answered'}, kernel {heard}"
        assert (heard == "reply") == answered, where
        if not answered and kind not in OUTSIDE_DIFFERS:
            assert (reason == "NO_ROUTE") == heard.startswith("error"), where
            assert reason in ("NO_ROUTE", "TIMEOUT"), where
            if kind == "pod-subnet" and source != "external":  # (from outside: the router's net unreachable)
                assert heard == "error 3/1", where  # host unreachable, from the node whose ARP gave up


IPV6 = REPO_RULESETS / "ipv6"
DESTINATIONS6 = ["fd00:10:96::10", "fd00:10:244:1::10", "fd00:10:244:2::10", "2001:db8:0:1::10", "2001:db8:0:1::11",
                 "2001:db8:ffff::80", "fd00:10:244:2::99", "::1"]


@pytest.fixture(scope="module")
def stage6(kernel: None, run_tag: str, state_dir: Path) -> Iterator[tuple[Topology, Cluster, list[str]]]:
    name = f"{run_tag}-pn6"
    objs = load_paths([str(IPV6 / "objects.yaml")]).cluster
    args = scenario_args(IPV6)
    topo = plan(name, objs, config_from_args(args, objs))
    build.up(objs, topo, state_dir, topology_record(topo, objs))
    try:
        yield topo, objs, args
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


@pytest.mark.parametrize("source", ["node/node1", "external"])
def test_an_icmpv6_ping_is_answered_in_the_kernel_where_the_simulator_answers_it(
        stage6: tuple[Topology, Cluster, list[str]], source: str) -> None:
    """The ipv6 scenario (endpoints with no Pod objects: the kernel's servers answer their addresses)."""
    topo, objs, args = stage6
    config = config_from_args(args, objs)
    netns = topo.nodes[0].netns if source == "node/node1" else topo.clients[0].netns
    rng = random.Random(7)
    for destination in DESTINATIONS6:
        simulated = sim_send(Simulator(objs, config, rng=random.Random(1)), source, destination, proto="icmp",
                             count=1)
        assert simulated.ping is not None and simulated.proto == "icmpv6"
        answered = bool(simulated.delivered and simulated.delivered[0].count)
        reason = None if answered else simulated.failed[0].reason
        wait = ARP_WAIT if simulated.ping.kind == "pod-subnet" else WAIT
        heard = nsexec.call(netns, ping, destination, rng.randint(1, 65535), wait)
        where = f"{source} -> {destination} ({simulated.ping.kind}): simulator {reason or 'answered'}, kernel {heard}"
        assert (heard == "reply") == answered, where
        if not answered and simulated.ping.kind not in OUTSIDE_DIFFERS:
            assert (reason == "NO_ROUTE") == heard.startswith("error"), where
        if simulated.ping.kind == "pod-subnet" and source != "external":
            assert heard == "error 1/3", where  # address unreachable, from the node whose neighbour discovery gave up


@pytest.mark.parametrize("source", list(SOURCES))
def test_netns_send_pings_as_send_does(stage: tuple[Topology, dict[str, Any]], source: str) -> None:
    """``netns send --proto icmp`` (:func:`kubeproxy_sim.kernel.send.ping`: one ``ping -c 3``, one identifier)
    answers where ``send --proto icmp`` does, from the same host's address, hears an ICMP error (NO_ROUTE) where
    it does but for the kinds the outside network differs on, and gives the same JSON keys (the same contract)."""
    from kubeproxy_sim.kernel.send import ping as kernel_ping

    _, state = stage
    objs = cluster()
    config = config_from_args(ARGS, objs)
    for destination in [*DESTINATIONS, "0.0.0.0", "web.default"]:
        simulated = sim_send(Simulator(objs, config, rng=random.Random(1), hosts=HOSTS), source, destination,
                             proto="icmp", count=3)
        assert simulated.ping is not None
        wait = ARP_WAIT if simulated.ping.kind == "pod-subnet" else WAIT
        real = kernel_ping(state, source, destination, count=3, seed=1, timeout=wait)
        where = f"{source} -> {destination} ({simulated.ping.kind}): simulator {simulated}, kernel {real}"
        assert real.as_json().keys() == simulated.as_json().keys(), where
        assert real.ping is not None and real.ping.address == simulated.ping.address, where
        assert real.ping.kind in (None, simulated.ping.kind), where  # (None: what the state record does not keep)
        assert real.connections == 3 and real.proto == simulated.proto, where
        assert [(d.ip, d.count) for d in real.delivered] == [(d.ip, d.count) for d in simulated.delivered if d.count], \
            where
        if simulated.ping.kind not in OUTSIDE_DIFFERS:
            assert [(f.reason, f.count) for f in real.failed] == [(f.reason, f.count) for f in simulated.failed], where
        if real.delivered and not real.delivered[0].pod.startswith("external/"):
            assert [d.pod for d in real.delivered] == [d.pod for d in simulated.delivered if d.count], where


def test_netns_send_pings_ipv6_as_send_does(stage6: tuple[Topology, Cluster, list[str]], state_dir: Path) -> None:
    """``netns send --proto icmp`` in the ipv6 scenario: ICMPv6 echoes (the socket's checksum the kernel's), answered
    where ``send`` answers them, from the same address, and an ICMPv6 error heard where it says NO_ROUTE."""
    from kubeproxy_sim.kernel.send import ping as kernel_ping

    topo, objs, args = stage6
    state = read_state(state_dir, topo.name)
    assert state is not None
    config = config_from_args(args, objs)
    for destination in [*DESTINATIONS6, "::"]:
        simulated = sim_send(Simulator(objs, config, rng=random.Random(1)), "node/node1", destination, proto="icmp",
                             count=2)
        assert simulated.ping is not None
        wait = ARP_WAIT if simulated.ping.kind == "pod-subnet" else WAIT
        real = kernel_ping(state, "node/node1", destination, count=2, seed=1, timeout=wait)
        where = f"{destination} ({simulated.ping.kind}): simulator {simulated}, kernel {real}"
        assert real.proto == "icmpv6" and real.as_json().keys() == simulated.as_json().keys(), where
        assert real.ping is not None and real.ping.address == simulated.ping.address, where
        assert real.ping.kind in (None, simulated.ping.kind), where
        assert [(d.ip, d.count) for d in real.delivered] == [(d.ip, d.count) for d in simulated.delivered if d.count], \
            where
        if simulated.ping.kind not in OUTSIDE_DIFFERS:
            assert [(f.reason, f.count) for f in real.failed] == [(f.reason, f.count) for f in simulated.failed], where


@pytest.mark.parametrize(("source", "address", "said"), [
    (("node/node1", None), "0.0.0.0", ("127.0.0.1", "loopback", "a loopback address (127.0.0.1)")),
    (("192.168.0.10", "192.168.0.10"), "0.0.0.0", ("192.168.0.10", "node", "node node1's address 192.168.0.10")),
    (("node/node1", None), "::", ("::1", "loopback", "a loopback address (::1)")),
    (("fd00::10", "fd00::10"), "::", ("::1", "loopback", "a loopback address (::1)")),
    (("node/node1", None), "127.0.0.1", ("127.0.0.1", "loopback", "a loopback address (127.0.0.1)")),
])
def test_a_ping_to_the_unspecified_address_names_the_one_linux_connects_to(
        source: tuple[str, str | None], address: str, said: tuple[str, str, str]) -> None:
    """``netns send --to 0.0.0.0 --proto icmp``'s ping is the address its raw socket's echo went to, as ``send``'s
    (the bound source on IPv4, else 127.0.0.1; ::1 on IPv6): the JSON's ping.address and the text's head agree
    with send's (reviewer r3: 0.0.0.0 here, 127.0.0.1 there). No namespace: the rows of a recorded answer."""
    from kubeproxy_sim.kernel.send import Destination, Source, ping_result

    state: dict[str, Any] = {"nodes": {"node1": {"netns": "kp-n1", "addresses": ["192.168.0.10", "fd00::10"]}},
                             "pods": {}, "clients": {}, "services": {}}
    label, bind = source
    result = ping_result(state, Source(label, "kp-n1", bind=bind), Destination(address, address, 0), "icmp", address,
                         [{"reply": said[0]}])
    assert result.ping is not None
    assert (result.ping.address, result.ping.kind, result.ping.said) == said
    assert [(d.pod, d.count) for d in result.delivered] == [("node/node1", 1)]
