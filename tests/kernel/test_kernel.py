"""The kernel backend on one small two-node cluster, built once for the module."""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import netns

from kubeproxy_sim.kernel import build, nsexec
from kubeproxy_sim.kernel.plan import Topology, cluster_prefix, plan
from kubeproxy_sim.kernel.send import send, topology_record
from kubeproxy_sim.kernel.state import SERVER_MARK, Owner, owner_of, pid_alive, read_state, write_state
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import NO_ROUTE, Simulator, heard
from kubeproxy_sim.simulator.send import send as sim_send
from tests.kernel.test_interrupts import held_ctrl_c

pytestmark = pytest.mark.kernel

OBJECTS = """
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDRs: [10.244.0.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.49.2}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
spec: {podCIDRs: [10.244.1.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.49.3}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.3], nodeName: node1, targetRef: {kind: Pod, namespace: default, name: web-a}}
- {addresses: [10.244.0.4], nodeName: node1, targetRef: {kind: Pod, namespace: default, name: web-b}}
- {addresses: [10.244.1.3], nodeName: node2, targetRef: {kind: Pod, namespace: default, name: web-c}}
ports: [{name: http, port: 8080, protocol: TCP}]
"""
IDLE_POD = """
---
apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: default}
spec: {nodeName: node2, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.1.9, podIPs: [{ip: 10.244.1.9}]}
"""
CLIENT = "10.244.0.9"
IDLE = "10.244.1.9"  # a pod that declares no port: it answers on every one (the simulator's SimPod.serves)


def small_cluster(extra: str = "") -> tuple[Cluster, ProxyConfig]:
    loaded = load_text(OBJECTS + extra, "kernel-test.yaml")
    config = ProxyConfig(node_name="node1", node_ips=("192.168.49.2/32",), cluster_cidrs=("10.244.0.0/16",),
                         node_pod_cidrs=("10.244.0.0/24",))
    return loaded.cluster, config


def start(name: str, directory: Path, sources: tuple[str, ...] = (CLIENT,),
          persistent: bool = False, extra: str = "") -> tuple[Topology, dict[str, Any]]:
    cluster, config = small_cluster(extra)
    topo = plan(name, cluster, config, sources)
    return topo, build.up(cluster, topo, directory, topology_record(topo, cluster), persistent=persistent)


def ours(name: str) -> list[str]:
    return [n for n in netns.listnetns() if n.startswith(cluster_prefix(name))]


@pytest.fixture(scope="module")
def cluster(kernel: None, run_tag: str, state_dir: Path) -> Iterator[tuple[Topology, dict[str, Any]]]:
    name = f"{run_tag}-k"
    topo, state = start(name, state_dir, extra=IDLE_POD)
    try:
        yield topo, state
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


def binomial_interval(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """The smallest [lo, hi] with both tails outside it at most (1 - confidence) / 2, from math.comb."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    alpha = (1 - confidence) / 2
    lo, tail = 0, 0.0
    while tail + pmf[lo] <= alpha:
        tail += pmf[lo]
        lo += 1
    hi, tail = n, 0.0
    while tail + pmf[hi] <= alpha:
        tail += pmf[hi]
        hi -= 1
    return lo, hi


def test_binomial_interval_is_exact() -> None:
    lo, hi = binomial_interval(300, 1 / 3)
    assert 70 < lo < 100 < hi < 130


def test_build_creates_only_prefixed_namespaces(cluster: tuple[Topology, dict[str, Any]]) -> None:
    topo, state = cluster
    assert sorted(ours(topo.name)) == sorted(state["namespaces"])
    assert all(n.startswith(f"kpsim-{topo.name}.") for n in state["namespaces"])


def test_clusterip_shares_within_binomial_bound(cluster: tuple[Topology, dict[str, Any]]) -> None:
    _, state = cluster
    n = 300
    result = send(state, f"pod/client/{CLIENT.replace('.', '-')}", "web.default:80", count=n, seed=1)
    assert result.failures == {}
    pods = {key.split()[0]: count for key, count in result.pods.items()}
    assert set(pods) == {"default/web-a", "default/web-b", "default/web-c"}
    # The kernel's draws cannot be seeded, so this is a real random test: three pods, each at 0.1 % / 3 (Bonferroni),
    # so a run fails by chance at most once in a thousand (exactly, over the multinomial: 0.066 %; [71, 130] of 300).
    # The rules' 10 decimals and 31-bit thresholds move the shares from 1/3 by less than 1e-9: nothing visible here.
    lo, hi = binomial_interval(n, 1 / 3, confidence=1 - 0.001 / 3)
    assert (lo, hi) == (71, 130)
    for pod, count in pods.items():
        assert lo <= count <= hi, f"{pod}: {count} of {n} outside [{lo}, {hi}]"
    # a pod on the cluster CIDR is not masqueraded: the endpoint sees the client itself
    assert all(seen == [CLIENT] for seen in result.seen.values())


def test_reject_reads_as_connection_refused(cluster: tuple[Topology, dict[str, Any]]) -> None:
    """Every time: 300 attempts, 64 at once, are far beyond the kernel's default ICMP burst (50), which the
    builder lifts in every namespace."""
    topo, state = cluster
    result = send(state, f"pod/client/{CLIENT.replace('.', '-')}", "10.96.0.20:80", count=300)
    assert result.pods == {} and result.failures == {"refused": 300}
    burst = nsexec.run(topo.nodes[0].netns, ["cat", "/proc/sys/net/ipv4/icmp_msgs_burst"]).stdout.strip()
    assert int(burst) >= 100000


def test_outside_reaches_no_cluster_range(cluster: tuple[Topology, dict[str, Any]]) -> None:
    """The outside network routes node addresses only: a cluster IP is unreachable (the router's answer)."""
    _, state = cluster
    result = send(state, "external", "10.96.0.10:80", count=100)
    assert result.pods == {} and result.failures == {"unreachable": 100}
    assert [f.reason for f in result.result(state).failed] == ["NO_ROUTE"]


def test_a_port_the_service_does_not_define_is_unreachable_to_tcp_and_silent_to_udp(
        cluster: tuple[Topology, dict[str, Any]]) -> None:
    """No rule takes 10.96.0.20:81 and the cluster IP is no host's, so the default route takes it to the router,
    whose ICMP net unreachable comes back to every client: a TCP connect hears it, a UDP socket does not (a soft
    error without IP_RECVERR) and times out. ``send`` names both outcomes so (send said NO_ROUTE for UDP too)."""
    _, state = cluster
    cluster_objects, config = small_cluster(IDLE_POD)
    for src in ("pod/default/idle", "node/node1", "external"):
        for proto, raw, reason in (("tcp", "unreachable", "NO_ROUTE"), ("udp", "timeout", "TIMEOUT")):
            result = send(state, src, "10.96.0.20:81", proto=proto, count=4)
            assert result.pods == {} and result.failures == {raw: 4}, (src, proto)
            simulated = sim_send(Simulator(cluster_objects, config, rng=random.Random(1)), src, "10.96.0.20:81",
                                 proto=proto, count=4, seed=1)
            assert [f.reason for f in result.result(state).failed] == [f.reason for f in simulated.failed] == \
                [reason], (src, proto)


def test_an_address_nobody_has_on_a_nodes_pod_range_is_unreachable_by_its_last_hop(
        cluster: tuple[Topology, dict[str, Any]]) -> None:
    """node2 routes its pod CIDR onto its bridge, where nobody answers ARP for 10.244.1.78: after ~3 s node2
    answers "host unreachable", no router's "no route". The words said only the latter."""
    _, state = cluster
    result = send(state, f"pod/client/{CLIENT.replace('.', '-')}", "10.244.1.78:80", count=2, timeout=6)
    assert result.pods == {} and result.failures == {"unreachable": 2}
    [failed] = result.result(state).failed
    assert failed.reason == "NO_ROUTE" and "ARP" in failed.detail and "a router has no route" in failed.detail


@pytest.mark.parametrize(("verdict", "raw"), [("DROP", "timeout"), ("REJECT", "refused")])
def test_a_lost_client_ack_is_named_alike_by_send_and_netns_send(cluster: tuple[Topology, dict[str, Any]],
                                                                 verdict: str, raw: str) -> None:
    """node2 stops the idle pod's ACK to web-a (a rule first in its FORWARD chain, with the counting copy a built
    node has before each DROP and REJECT): the client's connect completes. A DROP leaves it waiting for the
    server's line (REPLY_WAIT), a timeout the counters name DROP; a REJECT's ICMP port unreachable is a soft error
    of the connected socket, which the probe's SO_ERROR reads as the connect's result: refused, REJECT. send keeps
    the rule's verdict for both. (The server never gets the ACK, so never answers: the probe's own timeout is wait
    enough for its line, not REPLY_WAIT's 20 s.)"""
    from kubeproxy_sim.kernel.dscp import COUNT_CHAINS
    from tests.simulator.builders import first_forward_rule

    topo, state = cluster
    node2 = topo.nodes[1].netns
    matches = "-s 10.244.1.9/32 -d 10.244.0.3/32 -p tcp -m conntrack --ctstate ESTABLISHED"
    inserted = [f"{matches} -j {verdict}", f"{matches} -j {COUNT_CHAINS[verdict]}"]
    try:
        for rule in inserted:
            done = nsexec.run(node2, ["iptables", "-w", "30", "-I", "FORWARD", "1", *rule.split()])
            assert done.returncode == 0, done.stderr
        tally = send(state, "pod/default/idle", "10.244.0.3:8080", count=2, reply_wait=0)
    finally:
        for rule in inserted:
            nsexec.run(node2, ["iptables", "-w", "30", "-D", "FORWARD", *rule.split()])
    cluster_objects, config = small_cluster(IDLE_POD)
    rules = first_forward_rule(f"-A FORWARD {matches} -j {verdict}", "node2")
    simulated = sim_send(Simulator(cluster_objects, config, rng=random.Random(1), rules=rules), "pod/default/idle",
                         "10.244.0.3:8080", count=2, seed=1)
    result = tally.result(state)
    assert tally.failures == {raw: 2} and not result.delivered
    assert [(f.reason, f.count) for f in result.failed] == [(f.reason, f.count) for f in simulated.failed] == \
        [(verdict, 2)]
    assert simulated.failed[0].detail.startswith("the client's ACK: node node2: ")


@pytest.mark.parametrize(("proto", "raw", "reason"), [("tcp", "timeout", "DROP"), ("udp", "timeout", "TIMEOUT")])
def test_a_pod_s_refusal_lost_on_its_way_back_is_silence_alike(cluster: tuple[Topology, dict[str, Any]],
                                                               proto: str, raw: str, reason: str) -> None:
    """web-a refuses port 9999 (a RST, an ICMP port unreachable), and node1 drops what goes back to the idle pod
    (a rule first in its FORWARD chain, RELATED for the ICMP error): the client hears nothing. send said REJECT,
    as if every pod's or node's refusal reached its client; it now routes it back as a reply, as it did an outside
    host's. The RST reflects the SYN's DSCP, so netns send's counters name the loss DROP; the ICMP error's TOS
    keeps no DSCP (icmp_send masks it), so netns send names that loss TIMEOUT, as send now does."""
    from kubeproxy_sim.kernel.dscp import COUNT_CHAINS
    from tests.simulator.builders import first_forward_rule

    topo, state = cluster
    node1 = topo.nodes[0].netns
    matches = "-s 10.244.0.3/32 -d 10.244.1.9/32 -m conntrack --ctstate RELATED,ESTABLISHED"
    inserted = [f"{matches} -j DROP", f"{matches} -j {COUNT_CHAINS['DROP']}"]
    try:
        for rule in inserted:
            done = nsexec.run(node1, ["iptables", "-w", "30", "-I", "FORWARD", "1", *rule.split()])
            assert done.returncode == 0, done.stderr
        tally = send(state, "pod/default/idle", "10.244.0.3:9999", proto=proto, count=2)
    finally:
        for rule in inserted:
            nsexec.run(node1, ["iptables", "-w", "30", "-D", "FORWARD", *rule.split()])
    cluster_objects, config = small_cluster(IDLE_POD)
    rules = first_forward_rule(f"-A FORWARD {matches} -j DROP", "node1")
    simulated = sim_send(Simulator(cluster_objects, config, rng=random.Random(1), rules=rules), "pod/default/idle",
                         "10.244.0.3:9999", proto=proto, count=2, seed=1)
    result = tally.result(state)
    assert tally.failures == {raw: 2} and not result.delivered
    assert [(f.reason, f.count) for f in result.failed] == [(f.reason, f.count) for f in simulated.failed] == \
        [(reason, 2)]
    assert ", and the reply: node node1: " in simulated.failed[0].detail
    plain = send(state, "pod/default/idle", "10.244.0.3:9999", proto=proto, count=2).result(state)
    assert [(f.reason, f.count) for f in plain.failed] == [("REJECT", 2)]  # without the rule: heard


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_router_s_no_route_to_a_bridge_bound_node_is_silence_alike(cluster: tuple[Topology, dict[str, Any]],
                                                                     proto: str) -> None:
    """node1 bound to its pod bridge address (10.244.0.1, which nothing masquerades) to an address nobody has: the
    router has no route for it, nor for its ICMP net unreachable back to 10.244.0.1, so a TCP client hears nothing
    either. send said NO_ROUTE, as if the router's answer always came back; node1's own address hears it."""
    _, state = cluster
    cluster_objects, config = small_cluster(IDLE_POD)
    for source, reason in (("10.244.0.1", "TIMEOUT"), ("node/node1", heard(NO_ROUTE, proto))):
        result = send(state, source, "198.51.100.99:80", proto=proto, count=2).result(state)
        simulated = sim_send(Simulator(cluster_objects, config, rng=random.Random(1)), source, "198.51.100.99:80",
                             proto=proto, count=2, seed=1)
        assert [(f.reason, f.count) for f in result.failed] == [(f.reason, f.count) for f in simulated.failed] == \
            [(reason, 2)], source
        assert [f.expected for f in simulated.failed] == [1.0], source


def _seen_by_pod(result: Any) -> dict[str, set[str]]:
    return {key.split()[0]: set(seen) for key, seen in result.seen.items()}


NODE1_PODS = ("default/web-a", "default/web-b")  # on node1, whose pod bridge carries 10.244.0.1


def test_masquerade_node_to_cluster_ip_shows_node_address(cluster: tuple[Topology, dict[str, Any]]) -> None:
    """Masqueraded by the interface it leaves: node1's pods see its pod bridge's address, node2's its own."""
    _, state = cluster
    result = send(state, "node/node1", "10.96.0.10:80", count=30)
    assert result.failures == {}
    seen = _seen_by_pod(result)
    assert seen and all(s == ({"10.244.0.1"} if pod in NODE1_PODS else {"192.168.49.2"}) for pod, s in seen.items())


def test_nodeport_from_external_is_masqueraded(cluster: tuple[Topology, dict[str, Any]]) -> None:
    _, state = cluster
    result = send(state, "external", "node/node1:30080", count=30)
    assert result.failures == {}
    assert {key.split()[0] for key in result.pods} <= {"default/web-a", "default/web-b", "default/web-c"}
    seen = _seen_by_pod(result)
    assert seen and all(s == ({"10.244.0.1"} if pod in NODE1_PODS else {"192.168.49.2"}) for pod, s in seen.items())


def test_pod_to_an_outside_host_is_masqueraded_as_the_simulator_models(
        cluster: tuple[Topology, dict[str, Any]]) -> None:
    """The CNI's egress masquerade: the outside host's answer (here a RST: nothing listens) comes back to the pod,
    which it could not while the pod's address left the cluster; the simulator says the same."""
    topo, state = cluster
    result = send(state, f"pod/client/{CLIENT.replace('.', '-')}", "203.0.113.10:80", count=10)
    assert result.pods == {} and result.failures == {"refused": 10}
    assert [f.reason for f in result.result(state).failed] == ["REJECT"]
    cluster_objects, config = small_cluster()
    simulated = sim_send(Simulator(cluster_objects, config, rng=random.Random(1)),
                         f"{CLIENT}", "203.0.113.10:80", count=10, seed=1)
    assert [f.reason for f in simulated.failed] == ["REJECT"] and not simulated.delivered
    # outside kube-proxy's chains: its own nat chains are what the generator made
    nat = nsexec.run(topo.nodes[0].netns, ["iptables-save", "-t", "nat"]).stdout
    assert f"-A POSTROUTING -o eth0 -j {build.EGRESS_CHAIN}" in nat
    # any pod's packet leaving the cluster by this node, node2's pods' too (a packet DNATed here to the outside)
    assert all(f"-A {build.EGRESS_CHAIN} -s {ip}/32 -j MASQUERADE --random-fully" in nat
               for ip in ("10.244.0.3", "10.244.0.4", "10.244.0.9", "10.244.1.3", IDLE))
    # a pod to a pod of another node keeps its address, as to any address of the nodes' pod CIDRs (merged here)
    assert f"-A {build.EGRESS_CHAIN} -d 10.244.0.0/23 -j RETURN" in nat


def test_a_pod_without_ports_answers_on_every_port_as_in_the_simulator(
        cluster: tuple[Topology, dict[str, Any]]) -> None:
    _, state = cluster
    cluster_objects, config = small_cluster(IDLE_POD)
    simulator = Simulator(cluster_objects, config, rng=random.Random(1))
    flows = [(f"pod/client/{CLIENT.replace('.', '-')}", f"{IDLE}:1234", "tcp"),
             (f"pod/client/{CLIENT.replace('.', '-')}", f"{IDLE}:5353", "udp"),
             ("node/node1", f"{IDLE}:80", "tcp"),
             ("node/node1", f"{IDLE}:53", "udp"),
             ("pod/default/idle", "127.0.0.1:9999", "tcp"),  # its own loopback: delivered to itself
             ("pod/default/idle", "127.0.0.1:5353", "udp")]
    for src, dst, proto in flows:
        result = send(state, src, dst, proto=proto, count=5)
        port = dst.rsplit(":", 1)[1]
        assert result.failures == {}, (src, dst, proto, result.failures)
        assert {key.split()[0] for key in result.pods} == {"default/idle"}, (src, dst, result.pods)
        assert all(key.endswith(f":{port}") for key in result.pods), result.pods  # the port asked for
        if src.startswith("pod/client/"):
            continue  # the stage's client pod is no pod of the simulator (there an outside address)
        simulated = sim_send(simulator, src, dst, proto=proto, count=5, seed=1)
        assert [d.pod for d in simulated.delivered] == ["default/idle"] and not simulated.failed, (src, dst)
    # its own connections elsewhere are not redirected: the Service still balances them
    result = send(state, "pod/default/idle", "web.default:80", count=30)
    assert result.failures == {} and {key.split()[0] for key in result.pods} <= {
        "default/web-a", "default/web-b", "default/web-c"}


def save(netns_name: str) -> str:
    text = nsexec.run(netns_name, ["iptables-save"]).stdout
    return "\n".join(line.split(" [")[0] for line in text.splitlines() if not line.startswith("#"))


def test_rejected_restore_leaves_previous_rules(cluster: tuple[Topology, dict[str, Any]]) -> None:
    topo, _ = cluster
    node = topo.nodes[0].netns
    before = save(node)
    bad = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-DOES-NOT-EXIST\nCOMMIT\n"
    with pytest.raises(build.KernelError, match="iptables-restore rejected"):
        build.load_rules(node, bad)
    assert save(node) == before
    assert "KUBE-SVC-" in before


def test_two_clusters_do_not_interfere(cluster: tuple[Topology, dict[str, Any]], run_tag: str,
                                       state_dir: Path) -> None:
    topo, state = cluster
    other = f"{run_tag}-k2"
    _, other_state = start(other, state_dir)
    try:
        assert set(other_state["namespaces"]).isdisjoint(state["namespaces"])
        build.load_rules(nsexec_node(other_state), "*nat\n-F KUBE-SERVICES\nCOMMIT\n", noflush=True)
        broken = send(other_state, "node/node1", "10.96.0.10:80", count=10)
        working = send(state, "node/node1", "10.96.0.10:80", count=10)
        assert broken.pods == {}
        assert working.failures == {} and sum(working.pods.values()) == 10
    finally:
        build.teardown(other, state_dir, read_state(state_dir, other))
    assert ours(other) == []
    assert sorted(ours(topo.name)) == sorted(state["namespaces"])


def nsexec_node(state: dict[str, Any]) -> str:
    return state["nodes"]["node1"]["netns"]


def test_gc_after_killed_run(kernel: None, run_tag: str, state_dir: Path) -> None:
    """A cluster left up (`netns up`) lives as long as its keeper: killed with its servers, it is garbage."""
    name = f"{run_tag}-gc"
    topo, state = start(name, state_dir, sources=(), persistent=True)
    assert state["servers"][topo.net_netns] == state["owner"]["pid"]
    assert build.read_owner(topo.net_netns) == Owner(state["owner"]["pid"], state["owner"]["start"],
                                                     str(state_dir / f"{name}.json"))
    assert build.gc(state_dir, only=name) == []
    for pid in state["servers"].values():  # the machine kills them: the cluster has no owner any more
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert ours(name)
    removed = build.gc(state_dir, only=name)  # only: other runs' leftovers may be collected at the same time
    assert sorted(removed) == sorted(state["namespaces"])
    assert removed[-1] == topo.net_netns  # the marker goes last
    assert ours(name) == [] and read_state(state_dir, name) is None


def dead_owner(state_file: Path) -> Owner:
    """The owner record of a process that has exited (its pid and start time, as a killed run leaves them)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        os.read(read_fd, 1)
        os._exit(0)
    os.close(read_fd)
    owner = owner_of(pid, state_file)
    os.close(write_fd)
    os.waitpid(pid, 0)
    assert not owner.alive()
    return owner


def test_gc_after_killed_build_and_keeps_live_clusters(cluster: tuple[Topology, dict[str, Any]], run_tag: str,
                                                       state_dir: Path, tmp_path: Path) -> None:
    topo, state = cluster
    name = f"{run_tag}-dead"
    owner = dead_owner(state_dir / f"{name}.json")
    write_state(state_dir, {"name": name, "status": "building", "owner": owner.as_json(), "servers": {}})
    net, node = f"{cluster_prefix(name)}net", f"{cluster_prefix(name)}n0"
    netns.create(net)
    build.mark_owner(net, owner)
    netns.create(node)
    # another state directory: the marker, not the directory, says whose the namespaces are
    assert build.gc(tmp_path, only=name) == [node, net]
    assert read_state(state_dir, name) is None
    assert sorted(ours(topo.name)) == sorted(state["namespaces"])


def test_gc_leaves_young_unmarked_namespaces_alone(kernel: None, run_tag: str, tmp_path: Path) -> None:
    """Without a marker (a build in its first instant, another version's run), only age makes leftovers."""
    name = f"{run_tag}-young"
    netns.create(f"{cluster_prefix(name)}n0")
    try:
        assert build.gc(tmp_path, only=name) == []
        assert ours(name)
        assert build.gc(tmp_path, only=name, now=time.time() + build.GC_GRACE + 60) == [f"{cluster_prefix(name)}n0"]
    finally:
        for left in ours(name):
            netns.remove(left)


def bare(name: str) -> str:
    """A mount point file with no namespace mounted on it, as a crash between its creation and the mount (or
    between a removal's unmount and unlink) leaves it."""
    with open(nsexec.netns_path(name), "x"):
        pass
    assert not nsexec.mounted(name)
    return name


def test_gc_removes_bare_mount_point_files_of_ours_once_old(kernel: None, run_tag: str, tmp_path: Path) -> None:
    """A bare kpsim-* file has no marker (setns on it fails): gc removes it as any unmarked leftover, after
    the grace; one of a cluster whose owner lives, and one without the tool's prefix, it leaves alone."""
    name, live, foreign = f"{run_tag}-bare", f"{run_tag}-barelive", f"{run_tag}-bare.net"
    net, node = f"{cluster_prefix(name)}net", f"{cluster_prefix(name)}n0"
    live_net = f"{cluster_prefix(live)}net"
    try:
        bare(net), bare(node), bare(foreign)
        netns.create(live_net)
        build.mark_owner(live_net, owner_of(os.getpid(), tmp_path / f"{live}.json"))
        live_node = bare(f"{cluster_prefix(live)}n0")
        assert build.read_owner(net) is None
        assert build.gc(tmp_path, only=run_tag) == []  # young: a build may be between the file and its mount
        assert sorted(ours(name)) == sorted([net, node])
        later = time.time() + build.GC_GRACE + 60
        assert build.gc(tmp_path, only=run_tag, now=later) == [node, net]
        assert ours(name) == []
        assert sorted(ours(live)) == sorted([live_net, live_node])  # its owner (this process) lives
        assert os.path.exists(nsexec.netns_path(foreign))  # not the tool's prefix: never ours
    finally:
        for left in [*ours(name), *ours(live), foreign]:
            with contextlib.suppress(FileNotFoundError):
                netns.remove(left)


def test_gc_never_removes_live_clusters_of_another_state_dir(cluster: tuple[Topology, dict[str, Any]],
                                                             run_tag: str, state_dir: Path,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    topo, state = cluster
    first, second = tmp_path_factory.mktemp("kpsim-a"), tmp_path_factory.mktemp("kpsim-b")
    names = [f"{run_tag}-sa", f"{run_tag}-sb"]
    try:
        for name, directory in zip(names, (first, second), strict=True):
            start(name, directory, sources=())
        for directory in (first, second, state_dir):
            assert build.gc(directory, only=run_tag) == []
        assert all(ours(name) for name in names)
        assert read_state(first, names[0]) and read_state(second, names[1])
        assert sorted(ours(topo.name)) == sorted(state["namespaces"])
    finally:
        for name, directory in zip(names, (first, second), strict=True):
            build.teardown(name, directory, read_state(directory, name))
    assert not any(ours(name) for name in names)


def test_failed_build_removes_everything(kernel: None, run_tag: str, state_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"{run_tag}-fail"
    monkeypatch.setattr(build, "node_rules", lambda cluster, node: "*nat\n-A NO-SUCH-CHAIN -j ACCEPT\nCOMMIT\n")
    with pytest.raises(build.KernelError):
        start(name, state_dir)
    assert ours(name) == [] and read_state(state_dir, name) is None


def test_a_second_build_of_one_name_touches_nothing_of_the_first(kernel: None, run_tag: str, state_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """QA-kernel 3: two builds of one name at once. The loser passed the first check before the winner took the
    name (here the check is made to miss it): it says "already exists" and leaves the winner's namespaces,
    servers and state as they were."""
    name = f"{run_tag}-race"
    _, state = start(name, state_dir, sources=())
    try:
        before = read_state(state_dir, name)
        monkeypatch.setattr(build, "exists", lambda _name: False)
        with pytest.raises(build.KernelError, match="already exists"):
            start(name, state_dir, sources=())
        assert sorted(ours(name)) == sorted(state["namespaces"]) and read_state(state_dir, name) == before
        assert state["servers"] and all(pid_alive(pid, SERVER_MARK) for pid in state["servers"].values())
        # R-kernel 2: a Ctrl-C held over the losing creation, or one while the name is checked, is no
        # licence to remove the winner's cluster either
        create = nsexec.create_netns

        def interrupted(netns_name: str) -> None:
            held_ctrl_c()
            create(netns_name)

        monkeypatch.setattr(nsexec, "create_netns", interrupted)
        with pytest.raises(KeyboardInterrupt):
            start(name, state_dir, sources=())
        monkeypatch.setattr(nsexec, "create_netns", create)
        monkeypatch.setattr(build, "exists", lambda _name: held_ctrl_c())
        with pytest.raises(KeyboardInterrupt):
            start(name, state_dir, sources=())
        assert sorted(ours(name)) == sorted(state["namespaces"]) and read_state(state_dir, name) == before
        assert all(pid_alive(pid, SERVER_MARK) for pid in state["servers"].values())
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))
    assert ours(name) == []


BUILDER = """
import sys, time
from pathlib import Path
from tests.kernel.test_kernel import start
topo, state = start(sys.argv[1], Path(sys.argv[2]))
print(" ".join(str(p) for p in state["servers"].values()), flush=True)
time.sleep(600)
"""


def test_gc_after_the_building_process_is_killed(kernel: None, run_tag: str, tmp_path: Path) -> None:
    """A run killed with its cluster up leaves namespaces and orphaned servers: gc finds and removes both."""
    import subprocess
    import sys

    name = f"{run_tag}-kill"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", BUILDER, name, str(tmp_path)], cwd=root, text=True,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        servers = [int(p) for p in proc.stdout.readline().split()]
        assert servers and ours(name)
        assert build.gc(tmp_path, only=name) == []  # its owner lives
    finally:
        proc.kill()
        proc.wait()
    removed = build.gc(tmp_path, only=name)
    assert sorted(removed) == sorted(plan(name, *small_cluster(), (CLIENT,)).namespaces())
    assert ours(name) == [] and read_state(tmp_path, name) is None
    assert not [pid for pid in servers if pid_alive(pid, SERVER_MARK)]
