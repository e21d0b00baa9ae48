"""The differential on the flows ``derive_flows`` leaves out, which a real node takes too.

``netns verify`` derives a Service's ClusterIP from a pod on each node and from the first node, its NodePorts and
load-balancer addresses from outside, and the hairpin. A node also reaches its own and the other nodes' NodePorts
(by address and, with route_localnet, on 127.0.0.1), pods reach NodePorts, LoadBalancer IPs and externalIPs
(KUBE-SERVICES sees them in PREROUTING, the node's own in OUTPUT), every node reaches ClusterIPs, and a client
whose source a loadBalancerSourceRanges names is let through (a node's own address included, as upstream's
"allow traffic from the node itself" case). :func:`more_flows` adds them; one small cluster of those features
(eTP Local from the node without the endpoint, source ranges with a node's own address, a host-network endpoint,
UDP with ClientIP affinity, an externalIP, a NodePort on localhost, a serving-terminating fallback) pins them in
CI, and ``KPSIM_DEEP=1`` runs them over every scenario in rulesets/. Session 24 ran that, and 95 generated clusters
(tests/strategies' with externalIPs, some a node's address, source ranges naming a node, the pods or outside
clients, endpoint Pods for the hairpin, host-network and off-cluster endpoints, random masqueradeAll,
localhost NodePorts, nodePortAddresses and detect-local modes; IPv4 and IPv6): 5772 flows, no difference.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.kernel.differential import (
    LARGE_SERVICE,
    SILENCE,
    Flow,
    Report,
    SimulatorSide,
    _endpoint_count,
    _of,
    derive_flows,
    differential,
    kernel_cluster,
    outcome_text,
)
from kubeproxy_sim.netfilter.packet import host_port
from kubeproxy_sim.objects import load_paths, load_text
from kubeproxy_sim.objects.model import Cluster, Protocol, Service, ServiceType
from kubeproxy_sim.proxier.config import ProxyConfig
from tests.kernel.test_kernel import OBJECTS, small_cluster

pytestmark = pytest.mark.kernel

DEEP = os.environ.get("KPSIM_DEEP") == "1"
SCENARIOS = sorted(p.name for p in REPO_RULESETS.iterdir() if (p / "objects.yaml").is_file()) if DEEP else ["ipv6"]
"""Every scenario with KPSIM_DEEP=1 (~15 min on 2 busy cores); in CI the IPv6 one (its NodePorts on ::1 refused)."""
ALPHA = Fraction(1, 100) / (1 + len(SCENARIOS))  # this file's false alarm rate is at most 1%


def _addresses(service: Service, family: int) -> list[str]:
    """The LoadBalancer IPs (not ipMode Proxy: no kernel counterpart) and externalIPs of the family."""
    ingress = [i.ip for i in service.load_balancer_ingress
               if service.type is ServiceType.LOAD_BALANCER and i.ip and i.ip_mode != "Proxy"]
    return _of([*ingress, *service.external_ips], family)


def _port_flows(svc: Service, cip: str, nodes: list[str], clients: list[str], lo: str,
                family: int) -> list[Flow]:
    """The flows of each of the service's ports that derive_flows leaves out (see the module's docstring)."""
    flows: list[Flow] = []
    for port in svc.ports:
        if port.protocol is Protocol.SCTP:
            continue
        proto = port.protocol.value.lower()
        flows += [Flow(f"node/{n}", host_port(cip, port.port), proto, "ClusterIP", svc.key) for n in nodes[1:]]
        if port.node_port:
            for n in nodes:
                flows.append(Flow(f"node/{n}", host_port(lo, port.node_port), proto, "NodePort", svc.key))
                flows += [Flow(f"node/{n}", f"node/{m}:{port.node_port}", proto, "NodePort", svc.key)
                          for m in nodes]
                flows += [Flow(f"pod/{c}", f"node/{n}:{port.node_port}", proto, "NodePort", svc.key)
                          for c in clients]
        for ip in _addresses(svc, family):
            dst = host_port(ip, port.port)
            flows += [Flow(f"node/{n}", dst, proto, "externalIP", svc.key) for n in nodes]
            flows += [Flow(f"pod/{c}", dst, proto, "externalIP", svc.key) for c in clients]
    return flows


def more_flows(cluster: Cluster, config: ProxyConfig, *, derived: bool = True) -> list[Flow]:
    """derive_flows' flows (unless not ``derived``), then those it leaves out, each once (large services keep
    derive_flows' few)."""
    full, clients, _ = kernel_cluster(cluster, config)
    sim = SimulatorSide(full, config).plain
    given = derive_flows(full, sim, clients)[0] if derived else []
    nodes = [n.name for n in sim.topology.nodes]
    lo = "127.0.0.1" if sim.family == 4 else "::1"  # ::1 is never a NodePort's (no route_localnet in IPv6)
    extra: list[Flow] = []
    for svc in sorted(full.services, key=lambda s: s.key):
        cips = _of(svc.cluster_ips, sim.family)
        if svc.type is ServiceType.EXTERNAL_NAME or not cips or _endpoint_count(full, svc, sim.family) > LARGE_SERVICE:
            continue
        extra += _port_flows(svc, cips[0], nodes, list(clients.values()), lo, sim.family)
    seen: set[tuple[str, str, str]] = set()
    out = []
    for flow in [*given, *extra]:
        if (flow.src, flow.dst, flow.proto) not in seen:
            seen.add((flow.src, flow.dst, flow.proto))
            out.append(flow)
    return out


def _ours(name: str) -> list[str]:
    return [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]


def _check(report: Report, label: str) -> None:
    assert report.flows, f"{label}: no flow"
    bad = report.differences()
    assert not bad, f"{label}: " + "\n".join(f"{f.flow.label} ({f.flow.kind}): {'; '.join(f.why)}" for f in bad)


NODES, _ = OBJECTS.split("\n---\napiVersion: v1\nkind: Service\n", 1)
"""test_kernel's two nodes (its services left out: the pod addresses here are others')."""
CLUSTER = NODES + """
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.30
  externalTrafficPolicy: Local
  healthCheckNodePort: 32030
  loadBalancerSourceRanges: [192.168.49.2/32]
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30030}]
status: {loadBalancer: {ingress: [{ip: 198.51.100.30}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: lb-1, namespace: default, labels: {kubernetes.io/service-name: lb}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.3], nodeName: node2, conditions: {ready: true}}
- {addresses: [10.244.0.7], nodeName: node1, conditions: {ready: false, serving: true, terminating: true}}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.53
  externalIPs: [203.0.113.53]
  sessionAffinity: ClientIP
  ports: [{name: dns, port: 53, targetPort: 5353, protocol: UDP, nodePort: 30053}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-1, namespace: default, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.3], nodeName: node1, targetRef: {kind: Pod, namespace: default, name: dns-a}}
- {addresses: [192.168.49.3], nodeName: node2, targetRef: {kind: Pod, namespace: default, name: dns-host}}
ports: [{name: dns, port: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: dns-a, namespace: default}
spec: {nodeName: node1, containers: [{name: c, image: x, ports: [{containerPort: 5353, protocol: UDP}]}]}
status: {phase: Running, podIP: 10.244.0.3, podIPs: [{ip: 10.244.0.3}]}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-host, namespace: default}
spec:
  nodeName: node2
  hostNetwork: true
  containers: [{name: c, image: x, ports: [{containerPort: 5353, protocol: UDP}]}]
status: {phase: Running, podIP: 192.168.49.3, podIPs: [{ip: 192.168.49.3}]}
"""


_, CONFIG = small_cluster()  # node1's config, as test_kernel's
CI_FLOWS: dict[Flow, set[tuple[str, str] | str]] = {  # flow -> the outcomes with a share (reply from, saw)
    # eTP Local: the node's own connection on loopback goes to the cluster-wide endpoints (src-type LOCAL)
    Flow("node/node1", "127.0.0.1:30030", "tcp", "NodePort", "default/lb"): {("10.244.1.3", "192.168.49.2")},
    # ... another node's is outside traffic: node1's local endpoint, serving-terminating, is the fallback
    Flow("node/node2", "node/node1:30030", "tcp", "NodePort", "default/lb"): {("10.244.0.7", "192.168.49.3")},
    # ... a pod on node2 is cluster traffic, DNATed to node2's pod unmasqueraded: its reply skips node1
    Flow("pod/kpsim-client/client-1", "node/node1:30030", "tcp", "NodePort", "default/lb"): {SILENCE},
    # loadBalancerSourceRanges naming the node's own address: the node gets through
    Flow("node/node1", "198.51.100.30:80", "tcp", "LoadBalancer", "default/lb"): {("10.244.1.3", "192.168.49.2")},
    # UDP, ClientIP affinity, one endpoint host-network on node2: an externalIP from a pod (masqueraded as all
    # external destinations are), the hairpin, and localhost on node2 (its own host-network endpoint included)
    Flow("pod/kpsim-client/client-0", "203.0.113.53:53", "udp", "externalIP", "default/dns"): {
        ("10.244.0.3", "10.244.0.1"), ("192.168.49.3", "192.168.49.2")},
    Flow("pod/default/dns-a", "10.96.0.53:53", "udp", "hairpin", "default/dns"): {
        ("10.244.0.3", "10.244.0.1"), ("192.168.49.3", "10.244.0.3")},
    Flow("node/node2", "127.0.0.1:30053", "udp", "NodePort", "default/dns"): {
        ("10.244.0.3", "192.168.49.3"), ("192.168.49.3", "192.168.49.3")},
}


def _text(outcome: tuple[str, str] | str) -> str:
    return outcome_text(("fail", outcome) if isinstance(outcome, str) else ("reply", *outcome))


def test_flows_derive_flows_leaves_out_agree_with_kernel(kernel: None, run_tag: str, state_dir: Path) -> None:
    cluster = load_text(CLUSTER, "deep-r1.yaml").cluster
    flows = more_flows(cluster, CONFIG) if DEEP else list(CI_FLOWS)
    assert {(f.src, f.dst, f.proto) for f in CI_FLOWS} <= {(f.src, f.dst, f.proto) for f in more_flows(cluster, CONFIG)}
    report = differential(cluster, CONFIG, state_dir, name=f"{run_tag}-r1x", flows=flows, alpha=ALPHA)
    _check(report, "deep-r1")
    by_label = {f.flow.label: f for f in report.flows}
    for flow, expected in CI_FLOWS.items():
        rows = by_label[flow.label].rows
        assert {r.outcome for r in rows if r.share} == {_text(o) for o in expected}, flow.label
    assert not _ours(f"{run_tag}-r1x")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_s_extra_flows_agree_with_kernel(kernel: None, run_tag: str, state_dir: Path, scenario: str) -> None:
    """Only the flows derive_flows leaves out: test_differential runs its own on every scenario."""
    directory = REPO_RULESETS / scenario
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    flows = more_flows(loaded.cluster, config, derived=False)
    if not flows:  # a large cluster's services keep derive_flows' few flows (test_differential runs them)
        return
    report = differential(loaded.cluster, config, state_dir, name=f"{run_tag}-r1s{SCENARIOS.index(scenario)}",
                          flows=flows, alpha=ALPHA)
    _check(report, scenario)
    assert not _ours(f"{run_tag}-r1s{SCENARIOS.index(scenario)}")
