"""One rule for which nodes there are, in every command (send, netns up's plan, dist, diff): among Node objects,
a nodeName none of them has is no node, and a Pod bound there does not run (no kubelet: its address answers
nothing, --from it says why); without any Node object, the endpoints' and pods' nodeNames are the nodes (users
write slices without Node objects), and a node named by pods alone is said in a note. Before, send, netns and dist
made a node of every name (a kube-proxy on it, the load balancer sending there) while diff made none."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kubeproxy_sim.analysis.nodes import node_set
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import InputError, Severity
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import parse_source
from kubeproxy_sim.simulator.topology import build_topology, nodes_running, phantom_nodes

NODES = """
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
"""
OBJECTS = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.50, type: NodePort, ports: [{port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.0.10], nodeName: node1, conditions: {ready: true}}
- {addresses: [10.244.1.10], nodeName: node2, conditions: {ready: true}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec: {nodeName: node9, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.0.99}
"""
CONFIG = ProxyConfig(node_name="node1", node_ips=("192.168.0.1/32",), cluster_cidrs=("10.244.0.0/16",))


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "objects.yaml"
    path.write_text(text)
    return str(path)


def test_among_node_objects_a_pods_node_name_is_no_node_in_any_command() -> None:
    cluster = load_text(NODES + OBJECTS, "o.yaml").cluster
    assert nodes_running(cluster, "node1") == ["node1", "node2"]
    assert [n.name for n in build_topology(cluster, CONFIG).nodes] == ["node1", "node2"]  # send
    assert [n.name for n in plan("ph", cluster, CONFIG).nodes] == ["node1", "node2"]  # netns up
    assert node_set(cluster, CONFIG).order == ("node1", "node2")  # dist, as diff's
    (note,) = phantom_nodes(cluster, "node1")
    assert (note.kind, note.object, note.field, note.severity) == ("Pod", "default/client", "spec.nodeName",
                                                                   Severity.NOTE)
    assert note.message.endswith("the pod is taken as not running, its address answering nothing")
    assert note in build_topology(cluster, CONFIG).warnings and note in plan("ph", cluster, CONFIG).warnings


def test_a_pod_bound_to_no_node_does_not_run() -> None:
    cluster = load_text(NODES + OBJECTS, "o.yaml").cluster
    assert build_topology(cluster, CONFIG).pod("default/client") is None
    assert all(p.key != "default/client" for p in plan("ph", cluster, CONFIG).pods)
    sim = Simulator(cluster, CONFIG, rng=random.Random(1))
    with pytest.raises(InputError) as error:
        parse_source(sim, "pod/default/client")
    assert error.value.diagnostics[0].message == (
        "'pod/default/client': the pod is bound to node 'node9' (spec.nodeName), which no Node object has, so no "
        "kubelet runs it; expected a pod of a node of the objects")
    assert sim.server_at("10.244.0.99", 80, "tcp") is None  # nobody at its address


def test_an_endpoint_of_a_pod_bound_to_no_node_answers_nothing() -> None:
    listed = OBJECTS.replace("- {addresses: [10.244.1.10], nodeName: node2, conditions: {ready: true}}",
                             "- {addresses: [10.244.0.99], nodeName: node9, conditions: {ready: true}}")
    cluster = load_text(NODES + listed, "o.yaml").cluster
    assert all(p.ip != "10.244.0.99" for p in build_topology(cluster, CONFIG).pods)
    assert all(p.ip != "10.244.0.99" for p in plan("ph", cluster, CONFIG).pods)


def test_send_and_dist_say_the_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, NODES + OBJECTS)
    assert main(["send", "-f", path, "--cluster-cidr", "10.244.0.0/16", "--from", "external", "--to",
                 "node/node1:30080", "--count", "4", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    assert "Pod default/client: spec.nodeName: note: 'node9' is no Node object's name" in err
    assert {row["node"] for row in json.loads(out)["delivered"]} <= {"node1", "node2"}
    assert main(["dist", "-f", path, "--to", "web.default", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    assert "Pod default/client: spec.nodeName: note: 'node9' is no Node object's name" in err
    assert "node9" not in out


SLICES_ONLY = """
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.0.10], nodeName: node-a, conditions: {ready: true}}
- {addresses: [10.244.1.10], nodeName: node-b, conditions: {ready: true}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec: {nodeName: node-c, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.2.5}
"""


def test_without_node_objects_endpoints_and_pods_name_the_nodes() -> None:
    cluster = load_text(SLICES_ONLY, "s.yaml").cluster
    config = ProxyConfig(node_name="node-a", node_ips=("192.168.0.1/32",))
    names = ["node-a", "node-b", "node-c"]
    assert [n.name for n in build_topology(cluster, config).nodes] == names
    assert [n.name for n in plan("ph", cluster, config).nodes] == names
    assert list(node_set(cluster, config).order) == names
    assert build_topology(cluster, config).pod("default/client") is not None
    # only node-c is made from a pod alone: said once, at the pod
    (note,) = phantom_nodes(cluster, "node-a")
    assert (note.kind, note.object, note.field) == ("Pod", "default/client", "spec.nodeName")
    assert note.message.startswith("'node-c' is named by pods alone (no Node object was read, and no endpoint "
                                   "names it): it is simulated as a node all the same")
    assert phantom_nodes(load_text(SLICES_ONLY.replace("node-c", "node-b"), "s.yaml").cluster, "node-a") == []
