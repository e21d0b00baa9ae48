"""diff compares the nodes a kube-proxy runs on: a Pod (or an endpoint) whose nodeName no Node object has, among
objects that hold Node objects, makes no node of that name (u1: the same cluster IP was listed "on node1" and
"on n1"); a note names the object and says what such a name is. Objects without any Node object still have their
nodes named by pods and endpoints (upstream's tests are written so)."""

from __future__ import annotations

from pathlib import Path

from kubeproxy_sim.analysis.nodes import node_set, nodes_running, phantom_nodes
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.proxier.config import ProxyConfig

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
"""
SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.50
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-a, namespace: default, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.244.0.5, conditions: [{type: Ready, status: "True"}]}
"""
SLICE = """
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.0.5], nodeName: n1, targetRef: {kind: Pod, name: web-a, namespace: default},
   conditions: {ready: true}}
"""


def test_diff_lists_no_node_a_pod_names_without_its_node_object(tmp_path: Path, capsys) -> None:
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(NODES + SERVICE + SLICE)
    after.write_text(NODES + SERVICE)  # the slice gone: every node now REJECTs the cluster IP
    assert main(["diff", "-f", str(before), "--against", str(after), "--cluster-cidr", "10.244.0.0/16"]) == 0
    out, err = capsys.readouterr()
    assert "clusterIP 10.96.0.50:80 on node1: REJECT (1)" in out
    assert "clusterIP 10.96.0.50:80 on node2: REJECT (1)" in out
    assert " on n1" not in out
    notes = [line for line in err.splitlines() if "'n1'" in line]
    assert notes == [f"kubeproxy-sim: {before}: Pod default/web-a: spec.nodeName: note: 'n1' is no Node object's name "
                     "(the Nodes: node1, node2): no kube-proxy runs there, so no node of that name is simulated; the "
                     "name only labels endpoints (local to no node), and a real cluster's Pod garbage collector "
                     "deletes a pod bound to a node that does not exist: the pod is taken as not running, its "
                     "address answering nothing"]
    assert main(["diff", "-f", str(before), "--against", str(after), "--node", "n1"]) == 1
    assert "--node: no node 'n1'; expected one of node1, node2" in capsys.readouterr().err


def test_an_endpoint_s_node_name_is_said_of_its_slice() -> None:
    cluster = load_text(NODES + SLICE.replace("nodeName: n1", "nodeName: n9"), "s.yaml").cluster
    (note,) = phantom_nodes(cluster, "node1")
    assert (note.kind, note.object, note.field) == ("EndpointSlice", "default/web-1", "endpoints[].nodeName")
    assert note.message.startswith("endpoint 10.244.0.5: 'n9' is no Node object's name")


def test_without_node_objects_pods_and_endpoints_name_the_nodes() -> None:
    cluster = load_text(SERVICE + SLICE, "s.yaml").cluster
    assert nodes_running(cluster, "test-node") == ["test-node", "n1"]
    assert phantom_nodes(cluster, "test-node") == []
    with_nodes = load_text(NODES + SERVICE + SLICE, "s.yaml").cluster
    assert nodes_running(with_nodes, "n1") == ["n1", "node1", "node2"]  # the command's own node runs one
    assert phantom_nodes(with_nodes, "n1") == []
    config = ProxyConfig(node_name="node1", node_ips=("192.168.0.1",))
    assert node_set(with_nodes, config, running_only=True).order == ("node1", "node2")
    assert node_set(with_nodes, config).order == ("node1", "node2")  # dist's too, as send's (b8)
    assert node_set(with_nodes, config, running_only=False).order == ("node1", "n1", "node2")

