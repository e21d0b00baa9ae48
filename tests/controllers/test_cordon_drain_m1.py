"""cordon, uncordon and drain as scenario steps: spec.unschedulable kept per Node (World.cordoned), honoured by
the scheduler as kube-scheduler's NodeUnschedulable filter ("node(s) were unschedulable", before TaintToleration),
shown by get nodes as printNode shows it (Ready,SchedulingDisabled), and kubectl drain's eviction: every pod of
the node in namespace/name order, waited for until gone, in kubectl's words (u1's walkthrough: drain was missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.controllers.scheduler import scheduling_failures
from kubeproxy_sim.controllers.script import ScriptError, parse_line

from ._helpers import played_worlds
from .test_patch_get_label import exposed, run

BARE_POD = """
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: web}}
spec: {nodeName: node1, containers: [{name: c, image: nginx}]}
"""


def test_cordon_keeps_new_pods_off_and_says_already_the_second_time() -> None:
    world, rng = exposed(replicas=2)
    before = {p.name for p in world.pods}
    world, played = run(world, rng, "cordon node2", "cordon node2", "scale deployment web --replicas=4",
                        "get nodes")
    assert [p.notes for p in played[:2]] == [("node/node2 cordoned",), ("node/node2 already cordoned",)]
    assert {p.node_name for p in world.pods if p.name not in before} == {"node1"}  # the new pods: node1 alone
    assert {p.node_name for p in world.pods if p.name in before} == {"node1", "node2"}  # the others stay
    assert [line.split()[:2] for line in played[3].notes[1:]] == [["node1", "Ready"],
                                                                   ["node2", "Ready,SchedulingDisabled"]]
    world, played = run(world, rng, "uncordon node2", "uncordon node2")
    assert [p.notes for p in played] == [("node/node2 uncordoned",), ("node/node2 already uncordoned",)]
    assert "node2" not in world.cordoned


def test_a_missing_node_is_not_found() -> None:
    world, rng = exposed(replicas=1)
    with pytest.raises(ScriptError, match='cordon: Error from server \\(NotFound\\): nodes "node9" not found'):
        run(world, rng, "cordon node9")


def test_every_node_cordoned_is_kube_schedulers_fit_error() -> None:
    world, rng = exposed(replicas=1)
    world, _ = run(world, rng, "cordon node1", "cordon node2", "scale deployment web --replicas=2")
    assert [f.message for f in scheduling_failures(world)] == [
        "0/2 nodes are available: 2 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption "
        "is not helpful for scheduling."]


def test_drain_evicts_in_name_order_waits_and_the_pods_come_back_elsewhere() -> None:
    world, rng = exposed(replicas=4)
    on_node1 = sorted(p.name for p in world.pods if p.node_name == "node1")
    start = world.now
    world, played = run(world, rng, "drain node1 --ignore-daemonsets")
    assert played[0].error is None
    assert list(played[0].notes) == ["node/node1 cordoned", *(f"evicting pod default/{n}" for n in on_node1),
                                     *(f"pod/{n} evicted" for n in on_node1), "node/node1 drained"]
    assert world.now == start + 30  # the pods' grace period, which kubectl waits out
    assert not any(p.name in on_node1 for p in world.pods)
    assert {p.node_name for p in world.pods} == {"node2"} and len(world.pods) == 4
    # on the way, the evicted pods' endpoints were terminating (serving, not ready), not gone at once
    assert any(p.name in on_node1 and p.terminating for _, pods in world.trail for p in pods)


def test_a_bare_pod_stops_the_drain_unless_forced(tmp_path: Path) -> None:
    steps = played_worlds(tmp_path, ["apply -f pod.yaml", "drain node1"], pod=BARE_POD)
    world, notes = steps[1]
    assert notes == ["node/node1 cordoned"]
    assert "node1" in world.cordoned and world.pod("default", "solo") is not None
    steps = played_worlds(tmp_path, ["apply -f pod.yaml", "drain node1 --force"], pod=BARE_POD)
    world, notes = steps[1]
    assert notes == ["node/node1 cordoned", "Warning: deleting Pods that declare no controller: default/solo",
                     "evicting pod default/solo", "pod/solo evicted", "node/node1 drained"]
    assert world.pod("default", "solo") is None


def test_the_drain_error_is_kubectls(tmp_path: Path) -> None:
    from kubeproxy_sim.cli.scenario_cmd import load_manifests
    from kubeproxy_sim.controllers.script import play

    from ._helpers import deployed

    (tmp_path / "pod.yaml").write_text(BARE_POD)
    world, rng = deployed(0)
    step = parse_line(1, f"apply -f {tmp_path / 'pod.yaml'}")
    assert step is not None
    world = play(world, step, rng, load_manifests).world
    drain = parse_line(2, "drain node1")
    assert drain is not None
    played = play(world, drain, rng, load_manifests)
    assert played.error == ('unable to drain node "node1" due to error: cannot delete Pods that declare no '
                            "controller (use --force to override): default/solo, continuing command...")


@pytest.mark.parametrize(("line", "said"), [
    ("cordon", "expected cordon NODE"),
    ("drain node1 node2", "expected drain NODE"),
    ("cordon node1 --force", "unknown flag --force"),
    ("drain node1 --grace-period=5", "unknown flag --grace-period"),
])
def test_bad_lines(line: str, said: str) -> None:
    with pytest.raises(ScriptError, match=said):
        parse_line(1, line)
