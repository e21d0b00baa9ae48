"""kube-scheduler's TaintToleration filter on the node lifecycle controller's taints: a NotReady Node carries the
key NoSchedule and NoExecute, and a pod goes there only if its tolerations cover both (v1helper's
FindMatchingUntoleratedTaint with DoNotScheduleTaintsFilterFunc; Toleration.ToleratesTaint).

Upstream: pkg/scheduler/framework/plugins/tainttoleration (531be81208e2).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.model import (
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    SimPod,
    Toleration,
    World,
    admitted_tolerations,
)
from kubeproxy_sim.controllers.scheduler import scheduling_failures, tolerated_taints

from ._helpers import IMAGE_V1, NODES, world


def _pod(*tolerations: Toleration) -> SimPod:
    return SimPod("default", "p", (), None, (), (), 0.0, 0, tolerations=admitted_tolerations(tolerations))


@pytest.mark.parametrize(("tolerations", "expected"), [
    ((), set()),  # the defaults are NoExecute only
    ((Toleration(NOT_READY_TAINT, "Exists"),), {NOT_READY_TAINT}),  # no effect: both
    ((Toleration(NOT_READY_TAINT, "Exists", effect="NoSchedule"),), {NOT_READY_TAINT}),  # NoExecute: the default's
    ((Toleration(operator="Exists"),), {NOT_READY_TAINT, UNREACHABLE_TAINT}),  # empty key with Exists: every taint
    ((Toleration(operator="Exists", effect="NoSchedule"),), {NOT_READY_TAINT, UNREACHABLE_TAINT}),
    ((Toleration(UNREACHABLE_TAINT, "Equal", "", "NoSchedule"),), {UNREACHABLE_TAINT}),  # the taint has no value
    ((Toleration(UNREACHABLE_TAINT, "Equal", "x", "NoSchedule"),), set()),
    # its own NoExecute toleration covers the key (no default added) but does not match: NoExecute is untolerated
    ((Toleration(NOT_READY_TAINT, "Exists", effect="NoSchedule"), Toleration(NOT_READY_TAINT, "Equal", "x")), set()),
    ((Toleration("other", "Exists"),), set()),
    ((Toleration(NOT_READY_TAINT, "Exists", effect="PreferNoSchedule"),), set()),
])
def test_a_pod_tolerates_a_key_when_it_tolerates_both_its_effects(tolerations: tuple[Toleration, ...],
                                                                    expected: set[str]) -> None:
    assert tolerated_taints(_pod(*tolerations)) == expected


def _deploy(w: World, replicas: int, *tolerations: Toleration) -> World:
    d = W.new_deployment("default", "web", [IMAGE_V1], replicas, 8080)
    d = replace(d, template=replace(d.template, tolerations=tolerations))
    return W.create_deployment(w, d, random.Random(0))


@pytest.mark.parametrize("status", ["False", "Unknown"])
def test_pods_tolerating_the_taints_are_scheduled_on_a_not_ready_node(status: str) -> None:
    """node2 False or Unknown: a pod tolerating its key (any effect) spreads over both nodes; one that does not
    stays on node1."""
    unreachable = frozenset({"node2"}) if status == "Unknown" else frozenset()
    w = world(not_ready_nodes=frozenset({"node2"}), unreachable_nodes=unreachable)
    key = UNREACHABLE_TAINT if status == "Unknown" else NOT_READY_TAINT
    assert sorted(str(p.node_name) for p in _deploy(w, 4, Toleration(key, "Exists")).pods) == ["node1", "node1",
                                                                                                "node2", "node2"]
    assert {p.node_name for p in _deploy(w, 4).pods} == {"node1"}
    other = NOT_READY_TAINT if key == UNREACHABLE_TAINT else UNREACHABLE_TAINT
    assert {p.node_name for p in _deploy(w, 4, Toleration(other, "Exists")).pods} == {"node1"}


def test_failed_scheduling_names_the_taint_the_pod_does_not_tolerate() -> None:
    """node1 full, node2 Unknown: a pod tolerating not-ready is still kept off node2 by unreachable; one tolerating
    unreachable is placed there; so FailedScheduling names the same taint as for any pod."""
    w = world(not_ready_nodes=frozenset({"node2"}), unreachable_nodes=frozenset({"node2"}),
              node_max_pods=(("node1", 1),))
    w = _deploy(w, 2, Toleration(NOT_READY_TAINT, "Exists"))
    assert [p.node_name for p in w.pods].count(None) == 1
    (failure,) = scheduling_failures(w)
    assert failure.message == (
        "0/2 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: "
        "}. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not "
        "helpful for scheduling.")
    w = world(not_ready_nodes=frozenset({"node2"}), unreachable_nodes=frozenset({"node2"}),
              node_max_pods=(("node1", 1),))
    w = _deploy(w, 2, Toleration(UNREACHABLE_TAINT, "Exists"))
    assert sorted(str(p.node_name) for p in w.pods) == ["node1", "node2"] and scheduling_failures(w) == ()


def test_a_tolerating_pod_on_an_unknown_node_is_evicted_after_its_seconds_and_replaced_there() -> None:
    """The TaintToleration filter and the taint eviction controller read the same tolerations: unreachable
    tolerated NoSchedule and NoExecute for 60 s, the pod on node2 (Unknown) goes after 60 s and its
    replacement goes to node2 again (the fewest pods), each timed from its arrival."""
    rng = random.Random(0)
    w = world(NODES[1:], not_ready_nodes=frozenset({"node2"}), unreachable_nodes=frozenset({"node2"}))
    w = _deploy(w, 1, Toleration(UNREACHABLE_TAINT, "Exists", effect="NoSchedule"),
                Toleration(UNREACHABLE_TAINT, "Exists", effect="NoExecute", seconds=60))
    (first,) = w.pods
    assert first.node_name == "node2" and first.evict_at == 60
    w = W.advance(w, 60, rng)
    assert sorted((str(p.node_name), p.terminating) for p in w.pods) == [("node2", False), ("node2", True)]
