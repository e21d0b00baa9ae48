"""The node lifecycle controller's MarkPodsNotReady: which Node changes make its pods not ready, and for how long.

Upstream marks a Node's pods not ready (their Ready condition False) only in the pass in which it turns the
Node's Ready condition from True to Unknown (monitorNodeHealth); the kubelet, once it posts again, writes its own
pod status back.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.deployment import rollout_status
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.nodelifecycle import silent_after
from kubeproxy_sim.objects.model import Pod

from ._helpers import NODES, deployed, run_cli

NODE2 = (NODES[1],)


def _status(w: World, status: str, rng: random.Random) -> World:
    """node2 applied again with a Ready condition of ``status`` (True, False or Unknown)."""
    not_ready = frozenset() if status == "True" else frozenset({"node2"})
    unreachable = frozenset({"node2"}) if status == "Unknown" else frozenset()
    return W.put_nodes(w, NODE2, not_ready, rng, unreachable=unreachable)


def _conditions(w: World) -> dict[str, tuple[bool | None, bool | None, bool | None]]:
    """(ready, serving, terminating) of each endpoint the controller writes, by the pod's node and name."""
    cluster = W.cluster_of(w)
    return {f"{e.node_name}/{e.target_ref[2] if e.target_ref else None}":
            (e.conditions.ready, e.conditions.serving, e.conditions.terminating)
            for s in cluster.endpoint_slices for e in s.endpoints}


def _exposed(replicas: int) -> tuple[World, random.Random]:
    w, rng = deployed(replicas)
    w, _ = W.expose(w, "default", "web", rng, port=80)
    return w, rng


def test_a_node_turning_unknown_marks_its_pods_not_ready_until_its_kubelet_posts_again() -> None:
    """node2 Unknown: its 2 pods' endpoints are not ready and not serving, the Deployment counts them unavailable
    (the ReplicaSet does not replace them: they exist); node2 Ready again and they are ready at once."""
    w, rng = _exposed(4)
    on2 = {p.name for p in w.pods if p.node_name == "node2"}
    assert len(on2) == 2 and all(c == (True, True, False) for c in _conditions(w).values())
    down = _status(w, "Unknown", rng)
    assert {p.name for p in down.pods if p.marked_not_ready} == on2 and len(down.pods) == 4
    assert {k: c for k, c in _conditions(down).items() if k.startswith("node2/")} == {
        f"node2/{name}": (False, False, False) for name in on2}
    assert all(c == (True, True, False) for k, c in _conditions(down).items() if k.startswith("node1/"))
    d = down.deployment("default", "web")
    assert d is not None and rollout_status(down, d).available == 2
    later = W.advance(down, 600, rng)  # the kubelet is silent: they stay marked (evicted at 300 s, terminating)
    assert {p.name for p in later.pods if not p.ready(later.now)} == on2
    back = _status(later, "True", rng)
    assert not any(p.marked_not_ready for p in back.pods) and all(p.ready(back.now) for p in back.pods)


@pytest.mark.parametrize("path", [["False"], ["False", "Unknown"], ["Maybe", "Unknown"]])
def test_a_status_the_kubelet_posts_marks_no_pod_nor_does_it_turning_unknown(path: list[str]) -> None:
    """A Ready condition of False (or another the kubelet posts) leaves the pods as the kubelet reports them, and
    so does its turning Unknown afterwards (monitorNodeHealth marks only on True to Unknown:
    kubernetes/kubernetes#112733)."""
    w, rng = _exposed(4)
    for status in path:
        not_ready = frozenset({"node2"})
        unreachable = frozenset({"node2"}) if status == "Unknown" else frozenset()
        untainted = frozenset({"node2"}) if status == "Maybe" else frozenset()
        w = W.put_nodes(w, NODE2, not_ready, rng, unreachable=unreachable, untainted=untainted)
    assert not any(p.marked_not_ready for p in w.pods) and all(c[0] for c in _conditions(w).values())


def test_a_pod_terminating_on_a_silent_node_is_not_serving_so_no_fallback_uses_it() -> None:
    """MarkPodsNotReady writes every pod of the Node, a terminating one too: its endpoint goes from serving
    and terminating (kube-proxy's fallback for a Service with no ready endpoint) to not serving."""
    w, rng = _exposed(2)
    (victim,) = [p.name for p in w.pods if p.node_name == "node2"]
    w = W.delete_pods(w, "default", [victim], rng)
    assert _conditions(w)[f"node2/{victim}"] == (False, True, True)
    assert _conditions(_status(w, "Unknown", rng))[f"node2/{victim}"] == (False, False, True)


def test_a_pod_bound_to_a_silent_node_later_never_becomes_ready() -> None:
    """No kubelet reports a pod applied bound to node2 while it is silent: it stays not ready however long."""
    w, rng = _exposed(2)
    w = _status(w, "Unknown", rng)
    w, _ = W.add_pods(w, [Pod("default", "bare", node_name="node2", labels=(("app", "web"),))], rng)
    w = W.advance(w, 60, rng)
    bare = w.pod("default", "bare")
    assert bare is not None and bare.pod_ips and bare.marked_not_ready and not bare.ready(w.now)


@pytest.mark.parametrize("path", [["False", "Unknown"], ["Unknown"], ["absent", "Unknown"], ["True", "Unknown"]])
def test_no_pod_starts_on_a_node_whose_ready_is_unknown_however_it_got_there(path: list[str]) -> None:
    """No kubelet reports a pod started while its Node's Ready is Unknown, whether the controller turned it
    Unknown from True (MarkPodsNotReady), from False or no condition, or it was Unknown from its first put: a pod
    applied bound there stays Pending; the kubelet posting again reports it, and it is ready."""
    rng = random.Random(0)
    w = World(nodes=NODES[:1])
    for status in path:
        not_ready = frozenset() if status == "True" else frozenset({"node2"})
        unreachable = frozenset({"node2"}) if status == "Unknown" else frozenset()
        untainted = frozenset({"node2"}) if status == "absent" else frozenset()
        w = W.put_nodes(w, NODE2, not_ready, rng, unreachable=unreachable, untainted=untainted)
    w, _ = W.add_pods(w, [Pod("default", "bare", node_name="node2")], rng)
    w = W.advance(w, 60, rng)
    bare = w.pod("default", "bare")
    assert bare is not None and bare.pod_ips and bare.at(w.now).phase == "Pending" and not bare.ready(w.now)
    back = W.put_nodes(w, NODE2, frozenset(), rng)
    assert back.pod("default", "bare").ready(back.now)  # type: ignore[union-attr]


def test_a_pod_starting_when_a_not_ready_node_turns_unknown_stays_pending_and_one_started_stays_ready() -> None:
    """node2 False, a pod applied bound there (starting in 5 s), node2 Unknown 1 s later: the controller marks no
    pod (False to Unknown), yet the starting one is never reported started; the one that had started keeps the
    Ready its kubelet last posted."""
    rng = random.Random(0)
    w = W.put_nodes(World(nodes=NODES[:1]), NODE2, frozenset({"node2"}), rng)
    w, _ = W.add_pods(w, [Pod("default", "early", node_name="node2")], rng)
    w = W.advance(w, 10, rng)
    w, _ = W.add_pods(w, [Pod("default", "late", node_name="node2")], rng)
    w = W.advance(w, 1, rng)
    w = _status(w, "Unknown", rng)
    w = W.advance(w, 60, rng)
    early, late = w.pod("default", "early"), w.pod("default", "late")
    assert early is not None and late is not None
    assert early.ready(w.now) and not early.marked_not_ready
    assert not late.ready(w.now) and not late.marked_not_ready and late.at(w.now).phase == "Pending"


_STATUSES = st.sampled_from(["True", "False", "Unknown", "Maybe", "absent"])


@given(st.lists(_STATUSES, min_size=1, max_size=8))
def test_a_node_is_silent_exactly_while_unknown_since_a_true_to_unknown_turn(path: list[str]) -> None:
    """Over any sequence of Ready statuses node2 is applied with (after True, its first), its pods are marked
    exactly when the last turn out of True went straight to Unknown and it has stayed Unknown since."""
    w = World(nodes=NODES)
    expected = False
    previous = "True"
    for status in path:
        unreachable = frozenset({"node2"}) if status == "Unknown" else frozenset()
        silent = silent_after(w, NODE2, unreachable)
        not_ready = frozenset() if status == "True" else frozenset({"node2"})
        w = replace(w, silent_nodes=silent, not_ready_nodes=not_ready, unreachable_nodes=unreachable)
        expected = status == "Unknown" and (previous == "True" or (previous == "Unknown" and expected))
        assert (silent == {"node2"}) == expected
        previous = status


SMALL_NODES = """
apiVersion: v1
kind: Node
metadata: {{name: node1, labels: {{topology.kubernetes.io/zone: zone-a}}}}
spec: {{podCIDR: 10.244.0.0/24}}
status: {{addresses: [{{address: 192.168.49.2, type: InternalIP}}], conditions: [{{type: Ready, status: 'True'}}]}}
---
apiVersion: v1
kind: Node
metadata: {{name: node2, labels: {{topology.kubernetes.io/zone: zone-b}}}}
spec: {{podCIDR: 10.244.1.0/24}}
status: {{addresses: [{{address: 192.168.49.3, type: InternalIP}}], conditions: [{{type: Ready, status: '{ready}'}}]}}
"""


def test_scenario_a_node_going_unknown_takes_its_pods_out_of_the_rules_until_it_is_ready_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Step by step: node2's pod is in the rules; node2 applied Unknown, the next step's rules and endpoints no
    longer use it (not ready, not serving: no fallback); node2 applied Ready, it is back."""
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES.format(ready="True"))
    (tmp_path / "down.yaml").write_text(SMALL_NODES.format(ready="Unknown"))
    (tmp_path / "up.yaml").write_text(SMALL_NODES.format(ready="True"))
    (tmp_path / "script").write_text("create deployment web --image=nginx --replicas=2 --port=8080\n"
                                     "expose deployment/web --port=80\nwait 10s\napply -f down.yaml\nwait 10s\n"
                                     "apply -f up.yaml\n")
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "-o", "json"]
    assert run_cli([*argv, "--show", "endpoints"], monkeypatch) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    states = [sorted((e["node"], e["state"]) for e in step["endpoints"]) for step in steps[2:]]
    ready = [("node1", "ready"), ("node2", "ready")]
    assert states == [ready, [("node1", "ready"), ("node2", "not-ready")], [("node1", "ready"),
                                                                           ("node2", "not-ready")], ready]
    assert run_cli([*argv, "--show", "rules"], monkeypatch) == 0
    rules = [json.dumps(step["rules"]) for step in json.loads(capsys.readouterr().out)["steps"]]
    assert "10.244.1." in rules[2] and "10.244.1." not in rules[3] and "10.244.1." in rules[5]


def test_scenario_an_apply_that_changes_a_nodes_ready_condition_is_configured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl says "configured" of any change to the object, its Ready condition too; the same status again is
    "unchanged". (The starting Nodes carry the last-applied-configuration annotation, else the first apply warns
    of each and configures both: a kubelet registers its Node without one.)"""
    annotated = "metadata: {{annotations: {{kubectl.kubernetes.io/last-applied-configuration: '{{}}'}}, "
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES.replace("metadata: {{", annotated).format(ready="True"))
    (tmp_path / "down.yaml").write_text(SMALL_NODES.format(ready="Unknown"))
    (tmp_path / "script").write_text("apply -f down.yaml\napply -f down.yaml\napply -f nodes.yaml\n")
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "-o", "json", "--show", "endpoints"]
    assert run_cli(argv, monkeypatch) == 0
    notes = [step["notes"] for step in json.loads(capsys.readouterr().out)["steps"]]
    assert notes == [["node/node1 unchanged", "node/node2 configured"],
                     ["node/node1 unchanged", "node/node2 unchanged"],
                     ["node/node1 unchanged", "node/node2 configured"]]


MINIMAL_NODES = """
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: zone-a}}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{address: 192.168.49.2, type: InternalIP}], allocatable: {cpu: "4"}}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {topology.kubernetes.io/zone: zone-b}}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{address: 192.168.49.3, type: InternalIP}], allocatable: {cpu: "4"}}
"""
AUTO_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, annotations: {service.kubernetes.io/topology-mode: Auto}}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
"""


def test_scenario_nodes_without_a_ready_condition_are_named_once_where_hints_are_off_for_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Hand-written Nodes without status.conditions: the topology cache counts none (isNodeReady wants Ready
    True), upstream's event says only "Insufficient Node information", so a note names them, once."""
    (tmp_path / "nodes.yaml").write_text(MINIMAL_NODES)
    (tmp_path / "svc.yaml").write_text(AUTO_SERVICE)
    (tmp_path / "script").write_text("create deployment web --image=nginx --replicas=4 --port=8080\n"
                                     "apply -f svc.yaml\nwait 10s\napply -f nodes.yaml\ndelete service web\n"
                                     "apply -f svc.yaml\n")
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "--show", "endpoints"]
    assert run_cli(argv, monkeypatch) == 0
    err = capsys.readouterr().err.splitlines()
    assert sum("TopologyAwareHintsDisabled: Insufficient Node information" in line for line in err) == 2
    (note,) = [line for line in err if "Ready condition" in line]
    assert note.startswith(f"kubeproxy-sim: {tmp_path / 'script'}:2: note: Node(s) node1, node2 have no Ready "
                           "condition: the topology cache counts a Node only when its Ready condition is True")


UNKNOWN_TOLERATING = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: nginx, ports: [{{containerPort: 8080}}]}}]
      tolerations: [{{key: node.kubernetes.io/unreachable, operator: Exists}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}], publishNotReadyAddresses: {publish}}}
"""


@pytest.mark.parametrize("publish", ["true", "false"])
def test_scenario_a_pod_never_started_on_an_unknown_node_has_no_address_so_no_endpoint(
        publish: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """node2 Unknown from the first: the pod scheduled there (it tolerates unreachable) is Pending with no
    status.podIP (no kubelet, no sandbox), so the EndpointSlice controller lists it nowhere (ShouldPodBeInEndpoints
    skips a pod without a podIP), even for a Service publishing not-ready addresses, and no rule reaches it."""
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES.format(ready="Unknown"))
    (tmp_path / "app.yaml").write_text(UNKNOWN_TOLERATING.format(publish=publish))
    (tmp_path / "script").write_text("apply -f app.yaml\nwait 30s\n")
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "-o", "json"]
    assert run_cli([*argv, "--show", "endpoints"], monkeypatch) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert sorted((e["node"], e["state"]) for e in steps[-1]["endpoints"]) == [("node1", "ready")]
    assert run_cli([*argv, "--show", "rules"], monkeypatch) == 0
    assert "10.244.1." not in json.dumps(json.loads(capsys.readouterr().out)["steps"][-1]["rules"])
