"""``netns send`` names DROP and REJECT from its own run's packets (their DSCP value), never another run's.

One two-node IPv4 cluster (the module's) and one IPv6 cluster: a NodePort with externalTrafficPolicy Local whose
only endpoint is on node2 DROPs outside traffic to node1 (kube-proxy's "has no local endpoints" rule), a UDP
Service without endpoints REJECTs, and the external client's own namespace drops TCP port 9999 (no node counts
that: the packet is lost, a TIMEOUT).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.rules_cmd import render_rules, sync_ruleset
from kubeproxy_sim.kernel import build, nsexec
from kubeproxy_sim.kernel.plan import DEFAULT_CLIENT, DEFAULT_CLIENT6, Topology, plan
from kubeproxy_sim.kernel.send import Destination, Source, Tally, probe, send, topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import IPFamily
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import ProxyConfig
from tests.kernel.test_kernel import small_cluster, start

pytestmark = pytest.mark.kernel

LOST_PORT = 9999
EXTRA = """
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: default}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  clusterIP: 10.96.0.40
  ports:
  - {name: tcp, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30090}
  - {name: udp, port: 53, targetPort: 5353, protocol: UDP, nodePort: 30053}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-1, namespace: default, labels: {kubernetes.io/service-name: local}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.3], nodeName: node2, targetRef: {kind: Pod, namespace: default, name: web-c}}
ports: [{name: tcp, port: 8080, protocol: TCP}, {name: udp, port: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: empty-udp, namespace: default}
spec:
  clusterIP: 10.96.0.30
  ports: [{name: dns, port: 53, protocol: UDP}]
"""
OBJECTS6 = """
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDRs: ["fd00:10:244:1::/64"]}
status: {addresses: [{type: InternalIP, address: "2001:db8:0:1::10"}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
spec: {podCIDRs: ["fd00:10:244:2::/64"]}
status: {addresses: [{type: InternalIP, address: "2001:db8:0:1::11"}]}
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: default}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  clusterIP: fd00:10:96::40
  ipFamilies: [IPv6]
  ports:
  - {name: tcp, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30090}
  - {name: udp, port: 53, targetPort: 5353, protocol: UDP, nodePort: 30053}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-1, namespace: default, labels: {kubernetes.io/service-name: local}}
addressType: IPv6
endpoints:
- {addresses: ["fd00:10:244:2::10"], nodeName: node2, targetRef: {kind: Pod, namespace: default, name: web}}
ports: [{name: tcp, port: 8080, protocol: TCP}, {name: udp, port: 5353, protocol: UDP}]
"""


def _lose_port(state: dict[str, Any], client: str, family: int) -> None:
    """The external client's own namespace drops what comes to LOST_PORT: lost on the way, for every node."""
    tool = "iptables" if family == 4 else "ip6tables"
    done = nsexec.run(state["clients"][client], [tool, "-w", "5", "-A", "INPUT", "-p", "tcp", "--dport",
                                                 str(LOST_PORT), "-j", "DROP"])
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def cluster(kernel: None, run_tag: str, state_dir: Path) -> Iterator[tuple[Topology, dict[str, Any]]]:
    name = f"{run_tag}-dscp"
    topo, state = start(name, state_dir, extra=EXTRA)
    try:
        _lose_port(state, DEFAULT_CLIENT, 4)
        yield topo, state
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


@pytest.fixture(scope="module")
def cluster6(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    name = f"{run_tag}-dscp6"
    cluster = load_text(OBJECTS6, "dscp6.yaml").cluster
    config = ProxyConfig(node_name="node1", node_ips=("2001:db8:0:1::10/128",), ip_family=IPFamily.IPV6,
                         cluster_cidrs=("fd00:10:244::/56",), node_pod_cidrs=("fd00:10:244:1::/64",))
    topo = plan(name, cluster, config, ())
    state = build.up(cluster, topo, state_dir, topology_record(topo, cluster))
    try:
        _lose_port(state, DEFAULT_CLIENT6, 6)
        yield state
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


def reasons(result: Tally, state: dict[str, Any]) -> list[str]:
    return [f.reason for f in result.result(state).failed]


def test_the_kube_proxy_rules_are_loaded_as_generated_beside_the_counting_copies(
        cluster: tuple[Topology, dict[str, Any]]) -> None:
    topo, _ = cluster
    node = topo.nodes[0]
    generated = build.node_rules(small_cluster(EXTRA)[0], node)
    saved = nsexec.run(node.netns, ["iptables-save", "-t", "filter"]).stdout
    loaded = [line for line in saved.splitlines() if line.startswith("-A ") and "KPSIM-COUNT" not in line]
    filter_rules = generated.split("*filter\n")[1].split("COMMIT\n")[0]
    assert "-j DROP" in filter_rules and "-j REJECT" in filter_rules
    assert len(loaded) == len([line for line in filter_rules.splitlines() if line.startswith("-A ")])
    # line for line, so a copy that changed kube-proxy's own rule (its nfacct match stripped, say) shows here:
    # the generated tables as iptables-save prints them (rules --full, checked against the kernel by
    # test_full_golden_kernel)
    saved_form = render_rules(sync_ruleset(generate(small_cluster(EXTRA)[0], node.config), full=True))
    saved_filter = saved_form.split("*filter\n")[1].split("COMMIT\n")[0]
    assert loaded == [line for line in saved_filter.splitlines() if line.startswith("-A ")]
    copies = [line for line in saved.splitlines() if line.startswith("-A KUBE-") and "KPSIM-COUNT" in line]
    assert copies and len(copies) == len([line for line in loaded if " -j DROP" in line or " -j REJECT" in line])


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_drop_of_this_run_reads_drop(cluster: tuple[Topology, dict[str, Any]], proto: str) -> None:
    _, state = cluster
    port = 30090 if proto == "tcp" else 30053
    result = send(state, "external", f"node/node1:{port}", proto=proto, count=3, timeout=0.5)
    assert result.failures == {"timeout": 3} and result.verdicts == {"DROP"}
    assert reasons(result, state) == ["DROP"]
    assert "a DROP rule met this run's packets" in result.result(state).failed[0].detail


def test_a_loss_reads_timeout_while_another_runs_packets_are_dropped(
        cluster: tuple[Topology, dict[str, Any]]) -> None:
    """An earlier flow's SYNs go on being DROPped (retransmitted at 1 and 3 s) while this run's are lost in the
    client's namespace: every node's DROP rules count during this run, but none counts this run's packets."""
    topo, state = cluster
    earlier: list[Tally] = []
    node1 = topo.nodes[0].netns
    thread = threading.Thread(target=lambda: earlier.append(
        send(state, "external", "node/node1:30090", count=2, timeout=5)))
    start_drops = _drops(node1)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while _drops(node1) == start_drops and time.monotonic() < deadline:  # the earlier flow is being dropped
            time.sleep(0.05)
        before = _drops(node1)
        result = send(state, "node/node1", f"{DEFAULT_CLIENT}:{LOST_PORT}", count=2, timeout=1.5)
        during = _drops(node1) - before
    finally:
        thread.join()
    assert during > 0, "the earlier flow's retransmissions were not dropped during this run: no test"
    assert result.failures == {"timeout": 2} and result.verdicts == frozenset()
    assert reasons(result, state) == ["TIMEOUT"]
    assert "no DROP rule met this run's packets" in result.result(state).failed[0].detail
    assert reasons(earlier[0], state) == ["DROP"]


def _drops(netns_name: str) -> int:
    """Packets counted so far by the node's kube-proxy DROP rules (every run's: what the old design read)."""
    saved = nsexec.run(netns_name, ["iptables-save", "-c", "-t", "filter"]).stdout
    return sum(int(line[1:].split(":")[0]) for line in saved.splitlines()
               if line.startswith("[") and line.endswith("-j DROP"))


def test_a_nodes_own_datagram_rejected_on_its_way_out_reads_reject(cluster: tuple[Topology, dict[str, Any]]) -> None:
    _, state = cluster
    result = send(state, "node/node1", "10.96.0.30:53", proto="udp", count=3)
    assert result.failures == {"EPERM": 3} and result.verdicts == {"REJECT"}
    assert reasons(result, state) == ["REJECT"]


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_answers_carry_the_runs_dscp(cluster: tuple[Topology, dict[str, Any]], proto: str) -> None:
    """TCP answers reflect it (tcp_reflect_tos), our UDP server echoes it: a DROP of an answer counts too."""
    _, state = cluster
    client = state["clients"][DEFAULT_CLIENT]
    mark = 7
    done = nsexec.run(client, ["iptables", "-w", "5", "-I", "INPUT", "-m", "dscp", "--dscp", str(mark)])
    assert done.returncode == 0, done.stderr
    try:
        port = 30090 if proto == "tcp" else 30053
        results = probe(Source("external", client), Destination("node2", "192.168.49.3", port), proto, 3, 5.0,
                        mark=mark)
        assert all(r.get("pod") == "default/web-c" for r in results), results
        counted = nsexec.run(client, ["iptables", "-w", "5", "-n", "-v", "-x", "-L", "INPUT", "1"]).stdout
        assert int(counted.split()[0]) >= 3 * (2 if proto == "tcp" else 1), counted
    finally:
        nsexec.run(client, ["iptables", "-w", "5", "-D", "INPUT", "-m", "dscp", "--dscp", str(mark)])


def test_ipv6_drop_reads_drop_and_loss_reads_timeout(cluster6: dict[str, Any]) -> None:
    state = cluster6
    for proto, port in (("tcp", 30090), ("udp", 30053)):
        result = send(state, "external", f"node/node1:{port}", proto=proto, count=2, timeout=0.5)
        assert result.failures == {"timeout": 2} and reasons(result, state) == ["DROP"], proto
    result = send(state, "node/node1", f"[{DEFAULT_CLIENT6}]:{LOST_PORT}", count=2, timeout=0.5)
    assert result.failures == {"timeout": 2} and reasons(result, state) == ["TIMEOUT"]
    reached = send(state, "external", "node/node2:30090", count=2)
    assert reached.failures == {} and sum(reached.pods.values()) == 2
