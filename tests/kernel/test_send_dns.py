"""netns send and send agree on where a name goes from pods of each dnsPolicy (a real cluster in namespaces)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import send, topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send as sim_send

pytestmark = pytest.mark.kernel


def _pod(namespace: str, name: str, ip: str, spec: str = "", ports: str = "") -> str:
    return f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{nodeName: node1, containers: [{{name: c, image: x{ports}}}]{spec}}}
status: {{phase: Running, podIP: {ip}, podIPs: [{{ip: {ip}}}]}}"""


def _service(namespace: str, name: str, ip: str, port: int, target: int, proto: str, endpoint: str,
             pod: str) -> str:
    return f"""
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{clusterIP: {ip}, ports: [{{name: p, port: {port}, targetPort: {target}, protocol: {proto}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: {namespace}, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
endpoints:
- {{addresses: [{endpoint}], nodeName: node1, targetRef: {{kind: Pod, namespace: {namespace}, name: {pod}}}}}
ports: [{{name: p, port: {target}, protocol: {proto}}}]"""


KUBE_DNS = "10.96.0.53"
OBJECTS = "\n".join([
    """apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDRs: [10.244.0.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.49.2}]}""",
    # one endpoint each, so where a name went is who answered
    _service("default", "web", "10.96.0.10", 80, 8080, "TCP", "10.244.0.3", "web-a"),
    _pod("default", "web-a", "10.244.0.3", ports=", ports: [{containerPort: 8080}]"),
    _service("other", "web", "10.96.0.30", 80, 8080, "TCP", "10.244.0.4", "web-b"),
    _pod("other", "web-b", "10.244.0.4", ports=", ports: [{containerPort: 8080}]"),
    _service("kube-system", "kube-dns", KUBE_DNS, 53, 53, "UDP", "10.244.0.5", "coredns"),
    _pod("kube-system", "coredns", "10.244.0.5", ports=", ports: [{containerPort: 53, protocol: UDP}]"),
    _pod("default", "first", "10.244.0.11", ", dnsPolicy: ClusterFirst"),
    _pod("default", "plain", "10.244.0.12", ", dnsPolicy: Default"),
    _pod("default", "custom", "10.244.0.13", f", dnsPolicy: None, dnsConfig: {{nameservers: [{KUBE_DNS}], "
         "searches: [other.svc.cluster.local, svc.cluster.local], options: [{name: ndots, value: '2'}]}"),
])
CONFIG = ProxyConfig(node_name="node1", node_ips=("192.168.49.2/32",), cluster_cidrs=("10.244.0.0/16",),
                     node_pod_cidrs=("10.244.0.0/24",))
FLOWS = [  # (source, name, the pod it reaches, or None: it does not resolve)
    ("pod/default/first", "web:80", "default/web-a"),
    ("pod/default/first", "web.other:80", "other/web-b"),
    ("pod/default/first", "nope:80", None),
    ("pod/default/plain", "web.default:80", None),  # Default: the node's resolver, not kube-dns
    ("pod/default/plain", "web.default.svc.cluster.local:80", None),
    ("pod/default/custom", "web:80", "other/web-b"),  # its search list: other's first
    ("pod/default/custom", "web.default:80", "default/web-a"),  # 1 dot, ndots 2: the search list first
    ("pod/default/custom", "web.default.svc.cluster.local:80", "default/web-a"),
    ("pod/default/custom", "web.kube-system:80", None),  # NXDOMAIN along the whole search list
]


def _cluster() -> Cluster:
    loaded = load_text(OBJECTS, "send-dns.yaml")
    assert not [d for d in loaded.diagnostics if d.severity.value == "error"], loaded.diagnostics
    return loaded.cluster


@pytest.fixture(scope="module")
def state(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    name = f"{run_tag}-dns"
    cluster = _cluster()
    topo = plan(name, cluster, CONFIG)
    build.up(cluster, topo, state_dir, topology_record(topo, cluster))
    try:
        stored = read_state(state_dir, name)  # what a later netns send reads
        assert stored is not None
        yield stored
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


@pytest.mark.parametrize(("source", "name", "reached"), FLOWS)
def test_netns_send_reaches_the_pod_send_reaches_for_each_dns_policy(state: dict[str, Any], source: str,
                                                                     name: str, reached: str | None) -> None:
    simulator = Simulator(_cluster(), CONFIG, rng=random.Random(1))
    if reached is None:
        with pytest.raises(InputError) as simulated:
            sim_send(simulator, source, name, count=3, seed=1)
        with pytest.raises(InputError) as real:
            send(state, source, name, count=3)
        assert str(real.value).split(": ", 2)[:2] == str(simulated.value).split(": ", 2)[:2]  # --to: 'NAME'
        return
    simulated = sim_send(simulator, source, name, count=3, seed=1)
    assert [(d.pod, d.ip) for d in simulated.delivered] == [(reached, d.ip) for d in simulated.delivered]
    assert not simulated.failed  # the DNS query to kube-dns got through, and the connections
    result = send(state, source, name, count=3).result(state)
    assert not result.failed, result.failed
    assert [(d.pod, d.ip, d.count) for d in result.delivered] == [(d.pod, d.ip, d.count) for d in simulated.delivered]
