"""controllers.kubectl_print: objects as ``kubectl get -o json|yaml`` (kubectl 1.33) prints them.

The expected texts below are kubectl 1.33's own output for the same objects, printed offline with its printers
(``kubectl.1.33 patch --local -p {} -o json|yaml -f FILE``); where that binary is installed the comparison is also
made live, over every kind the scenario's ``get`` lists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import kubectl_print as P
from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.objects.load import load_text
from kubeproxy_sim.objects.model import ServiceType
from tests.budget import budget

from ._helpers import IMAGE_BROKEN, deployed

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"

# a ConfigMap whose keys and values try the writers: go-yaml's key order (not byte order: a-b and a1 before ab,
# _x before A, a9 before a10), strings read as another type double-quoted ("80", "yes", "", "1:30", "2024-01-01",
# "0o17"), those that cannot be plain single-quoted ('-', ': x', '#c'), "=" plain, a newline a literal block, a
# long line folded at 80 columns, <>& escaped in JSON only, non-ASCII text kept
TRICKY = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"},
          "data": {"ab": "80", "a-b": "yes", "a1": "", "a10": "1:30", "a9": "2024-01-01", "A": "0o17", "_x": "-",
                   "a.b": ": x", "a/b": "#c", "z": "=", "é": "ünï", "b": "line one\nline two\n", "c": "x\ny",
                   "app.kubernetes.io/name": "<a&b>", "d": " ".join(["word"] * 20), "e": "true", "f": "~"}}

KUBECTL_YAML = """\
apiVersion: v1
data:
  _x: '-'
  A: "0o17"
  a-b: "yes"
  a.b: ': x'
  a/b: '#c'
  a1: ""
  a9: "2024-01-01"
  a10: "1:30"
  ab: "80"
  app.kubernetes.io/name: <a&b>
  b: |
    line one
    line two
  c: |-
    x
    y
  d: word word word word word word word word word word word word word word word word
    word word word word
  e: "true"
  f: "~"
  z: =
  é: ünï
kind: ConfigMap
metadata:
  name: x
  namespace: default
"""

KUBECTL_JSON_DATA = """\
    "data": {
        "A": "0o17",
        "_x": "-",
        "a-b": "yes",
        "a.b": ": x",
        "a/b": "#c",
        "a1": "",
        "a10": "1:30",
        "a9": "2024-01-01",
        "ab": "80",
        "app.kubernetes.io/name": "\\u003ca\\u0026b\\u003e",
"""


def _kubectl(obj: dict[str, Any], output: str, tmp_path: Path) -> str:
    """kubectl 1.33's printer's text of ``obj``, printed offline."""
    path = tmp_path / "object.json"
    path.write_text(json.dumps(obj))
    done = subprocess.run([KUBECTL, "patch", "--local", "-p", "{}", "-o", output, "-f", str(path)],
                          capture_output=True, text=True, check=True)
    return done.stdout


needs_kubectl = pytest.mark.skipif(shutil.which(KUBECTL) is None, reason="kubectl 1.33 is not installed here")


def test_yaml_as_kubectl_writes_it() -> None:
    assert P.to_yaml(TRICKY) == KUBECTL_YAML


def test_json_as_kubectl_writes_it() -> None:
    text = P.to_json(TRICKY)
    assert KUBECTL_JSON_DATA in text
    assert text.startswith('{\n    "apiVersion": "v1",\n') and text.endswith('\n    }\n}\n')
    assert '"é": "ünï"' in text and '"b": "line one\\nline two\\n"' in text


@needs_kubectl
def test_tricky_object_live(tmp_path: Path) -> None:
    assert P.to_yaml(TRICKY) == _kubectl(TRICKY, "yaml", tmp_path)
    assert P.to_json(TRICKY) == _kubectl(TRICKY, "json", tmp_path)


def _played() -> W.World:
    """Two Services (a NodePort one and a LoadBalancer one with no ingress), 3 pods of web ready, and a
    Deployment rolled to an image that never starts, with its surge pod Pending in ContainerCreating."""
    world, rng = deployed(3)
    world, _ = W.expose(world, "default", "web", rng, port=80, target_port=8080, service_type=ServiceType.NODE_PORT)
    world, _ = W.expose(world, "default", "web", rng, port=81, target_port=8080, name="lb",
                        service_type=ServiceType.LOAD_BALANCER)
    world = W.set_image(world, "default", "web", {"kubernetes-bootcamp": IMAGE_BROKEN}, rng)
    return W.advance(world, 30, rng)


def _all(world: W.World) -> list[dict[str, Any]]:
    return [doc for kind in ("services", "endpointslices", "endpoints", "nodes", "pods", "deployments",
                             "replicasets")
            for _, _, _, doc in P.documents(world, kind, lambda w: [])]


@needs_kubectl
def test_every_kind_live(tmp_path: Path) -> None:
    """Every kind ``get`` lists, printed as kubectl prints the same object, byte for byte (kubectl patch prints
    a List's items one after another, each as it prints it alone)."""
    docs = _all(_played())
    listed = {"apiVersion": "v1", "kind": "List", "items": docs}
    assert "".join(P.to_yaml(doc) for doc in docs) == _kubectl(listed, "yaml", tmp_path)
    assert "".join(P.to_json(doc) for doc in docs) == _kubectl(listed, "json", tmp_path)


def test_list_and_single() -> None:
    """One object asked for by name is printed alone; anything else, none too, as a v1 List."""
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
    assert P.printed([doc], "yaml", single=True) == ["apiVersion: v1", "kind: Service", "metadata:", "  name: a"]
    assert P.printed([], "yaml", single=False) == ["apiVersion: v1", "items: []", "kind: List", "metadata:",
                                                   '  resourceVersion: ""']
    assert json.loads("\n".join(P.printed([doc], "json", single=False))) == {
        "apiVersion": "v1", "items": [doc], "kind": "List", "metadata": {"resourceVersion": ""}}
    assert P.printed([doc, doc], "json", single=True) == P.printed([doc, doc], "json", single=False)


def test_objects_carry_what_the_model_holds() -> None:
    world = _played()
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _all(world)}
    assert docs["Service", "web"]["status"] == {"loadBalancer": {}}
    assert docs["Service", "lb"]["spec"]["type"] == "LoadBalancer"
    deployment = docs["Deployment", "web"]
    assert deployment["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "2"}
    assert deployment["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                                              "type": "RollingUpdate"}
    assert deployment["spec"]["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "web"}}
    assert "      creationTimestamp: null\n" in P.to_yaml(deployment)  # a 1.33 API server's zero time
    assert deployment["status"] == {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3}
    pods = [d for (kind, _), d in docs.items() if kind == "Pod"]
    broken = [p for p in pods if p["spec"]["containers"][0]["image"] == IMAGE_BROKEN]
    assert len(broken) == 1 and broken[0]["status"]["phase"] == "Pending"
    assert broken[0]["status"]["conditions"] == [{"status": "False", "type": "Ready"},
                                                 {"status": "True", "type": "PodScheduled"}]
    assert all(p["metadata"]["generateName"] + p["metadata"]["name"].rsplit("-", 1)[1] == p["metadata"]["name"]
               for p in pods)
    assert all(not {"uid", "resourceVersion", "creationTimestamp", "ownerReferences"} & set(d["metadata"])
               for d in docs.values())
    sets = [d for (kind, _), d in docs.items() if kind == "ReplicaSet"]
    assert sorted(s["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] for s in sets) == ["4", "4"]
    node = docs["Node", "node1"]
    assert node["status"]["conditions"] == [{"status": "True", "type": "Ready"}] and "taints" not in node["spec"]


def test_scaled_to_zero_keeps_status_replicas() -> None:
    """ReplicaSetStatus.replicas has no omitempty; a Deployment's status counts all do."""
    world, _ = deployed(0)
    (rs,) = [doc for _, _, _, doc in P.documents(world, "replicasets", lambda w: [])]
    (d,) = [doc for _, _, _, doc in P.documents(world, "deployments", lambda w: [])]
    assert rs["status"] == {"replicas": 0} and d["status"] == {}


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_round_trip_through_rules_input(output: str) -> None:
    """What ``get svc,endpointslices,nodes,pods -A -o json|yaml`` prints is read back by the objects layer
    (``rules -f``) as the Services, slices, Nodes and Pods the simulated control plane holds."""
    world = _played()
    items = [doc for kind in ("services", "endpointslices", "nodes", "pods")
             for _, _, _, doc in P.documents(world, kind, lambda w: [])]
    loaded = load_text("\n".join(P.printed(items, output, single=False)) + "\n")
    assert not [d for d in loaded.diagnostics if d.severity.name == "ERROR"]
    cluster = W.controller_sync(world).cluster
    assert loaded.cluster.services == cluster.services
    assert sorted(loaded.cluster.endpoint_slices, key=lambda s: s.key) == sorted(cluster.endpoint_slices,
                                                                                 key=lambda s: s.key)
    assert loaded.cluster.nodes == world.nodes
    assert sorted(loaded.cluster.pods, key=lambda p: p.key) == sorted((p.at(world.now) for p in world.pods),
                                                                      key=lambda p: p.key)


_KEY_CHARS = st.sampled_from("aAbzé-._/~ ")


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(st.text(_KEY_CHARS, min_size=1, max_size=6), min_size=2, max_size=8, unique=True))
def test_key_order_without_digits(keys: list[str]) -> None:
    """Without digits keyList.Less is a total order: at the first character that differs, any other character
    before a letter, each group by code point; a prefix first. go_yaml_less sorts as that does."""
    ordered = sorted(keys, key=lambda k: [(c.isalpha(), c) for c in k])
    assert sorted(keys, key=P._GO_YAML_KEY) == ordered
    assert all(not P.go_yaml_less(k, k) for k in keys)


def test_key_order_with_digits() -> None:
    """Runs of digits from the first difference compare as numbers, the shorter run first on a tie (kubectl's
    order of these keys, as KUBECTL_YAML shows it, is a1, a9, a10; a1- goes before a10, a1b before a01)."""
    assert P.go_yaml_less("a9", "a10") and P.go_yaml_less("a1-", "a10") and P.go_yaml_less("a1b", "a01")
    assert P.go_yaml_less("a12", "a1b") and not P.go_yaml_less("a10", "a9")


SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""


def test_an_applied_service_carries_kubectls_annotation(tmp_path: Path) -> None:
    """kubectl apply's last-applied-configuration: the manifest's compact JSON (keys sorted, its namespace set,
    ``annotations: {}``) and a newline, a literal block in YAML; a Service expose made has none."""
    from ._helpers import played_worlds

    (_, _), (world, _) = played_worlds(tmp_path, ["apply -f web.yaml", "expose deployment web --name=other --port=80"],
                                       strict=True, web=SERVICE)
    docs = {doc["metadata"]["name"]: doc for _, _, _, doc in P.documents(world, "services", lambda w: [])}
    assert docs["web"]["metadata"]["annotations"] == {P.LAST_APPLIED: (
        '{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"labels":{"app":"web"},"name":"web",'
        '"namespace":"default"},"spec":{"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"web"},'
        '"type":"NodePort"}}\n')}
    assert "annotations" not in docs["other"]["metadata"]
    assert P.to_yaml(docs["web"]).startswith(
        "apiVersion: v1\nkind: Service\nmetadata:\n  annotations:\n"
        "    kubectl.kubernetes.io/last-applied-configuration: |\n"
        '      {"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},')
    if shutil.which(KUBECTL) is not None:
        assert P.to_yaml(docs["web"]) == _kubectl(docs["web"], "yaml", tmp_path)


def test_a_pod_no_node_takes() -> None:
    """PodScheduled False with the scheduler's reason and its FailedScheduling message; no Ready condition, no
    node, no IPs; the sets' max-replicas is their desired count plus the Deployment's surge at that count."""
    world, rng = deployed(0)
    world = replace(world, node_max_pods=(("node1", 1), ("node2", 1)))
    world = W.scale(world, "default", "web", 3, rng)
    pods = [doc for _, _, _, doc in P.documents(world, "pods", lambda w: [])]
    (pending,) = [p for p in pods if "nodeName" not in p["spec"]]
    assert pending["status"] == {"conditions": [{
        "message": "0/2 nodes are available: 2 Too many pods. preemption: 0/2 nodes are available: 2 No preemption "
                   "victims found for incoming pod.", "reason": "Unschedulable", "status": "False",
        "type": "PodScheduled"}], "phase": "Pending", "qosClass": "BestEffort"}
    (rs,) = [doc for _, _, _, doc in P.documents(world, "replicasets", lambda w: [])]
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"  # 3 + 25% of 3 rounded up
