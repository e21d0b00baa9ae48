"""The taint eviction controller: pods leave a Node tainted NoExecute once their tolerations run out.

The node lifecycle controller taints a Node whose Ready condition is False
``node.kubernetes.io/not-ready:NoExecute`` and one whose Ready is Unknown
``node.kubernetes.io/unreachable:NoExecute`` (swapping one for the other as the
status changes). Every pod carries tolerations for both, added at creation by
the DefaultTolerationSeconds admission plugin with tolerationSeconds 300
(model.admitted_tolerations), unless it declares a toleration the plugin takes
as covering that taint: then its own holds, whose tolerationSeconds may be
another, or absent (tolerated forever).

pkg/controller/tainteviction (processPodOnNode), each time it sees a pod on a
tainted Node (the taint added or swapped, the pod bound there): a pod whose
tolerations do not match the taint is deleted at once; one tolerating it
forever has any scheduled deletion cancelled; one tolerating it for N seconds
(the first matching toleration's; 0 or less: at once) is deleted N seconds
from then, unless a deletion is scheduled already, which stands whatever N is,
0 too (a swap of the taint keeps its time; only a toleration that no longer
matches deletes at once). Upstream swaps in two updates (SwapNodeControllerTaint
adds the new taint, then removes the old), so the controller also sees the Node
with both for a moment, where the least of the two tolerations counts; judging
the new taint alone comes to the same here: a deletion scheduled stands either
way, one not scheduled (the old taint tolerated forever) starts at the swap
from the new taint's time, and forever for the new taint cancels it at the
second update. The taint going cancels the deletion. Seeing is at
the instant of the change here (:attr:`SimPod.evict_at`), on the scenario's
clock. The deletion is a graceful one (replicaset.delete_pod): the pod is
terminating and its ReplicaSet replaces it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from kubeproxy_sim.controllers.model import (
    NO_EXECUTE,
    SimPod,
    Toleration,
    World,
    tolerates,
)
from kubeproxy_sim.controllers.replicaset import delete_pod


def _first_match(tolerations: tuple[Toleration, ...], key: str) -> Toleration | None:
    """The first toleration matching the taint ``key``:NoExecute (GetMatchingTolerations), the one whose seconds
    count (getMinTolerationTime); None when none matches."""
    return next((t for t in tolerations if tolerates(t, key, NO_EXECUTE)), None)


def toleration_time(tolerations: tuple[Toleration, ...], key: str) -> float:
    """How long a pod stays on a Node tainted ``key``:NoExecute (GetMatchingTolerations, getMinTolerationTime):
    0 when no toleration matches or the first matching one's seconds are 0 or less, infinity when it has none."""
    return _time_of(_first_match(tolerations, key))


def _time_of(found: Toleration | None) -> float:
    """:func:`toleration_time` of the first matching toleration ``found``."""
    if found is None:
        return 0.0
    if found.seconds is None:
        return math.inf
    return float(max(found.seconds, 0))


def _scheduled(world: World, pod: SimPod) -> SimPod:
    """``pod`` with its deletion scheduled, kept or cancelled as processPodOnNode leaves it now."""
    key = None if pod.terminating else world.taint_key(pod.node_name)
    if key is None:
        return pod
    found = _first_match(pod.tolerations, key)
    seconds = _time_of(found)
    if seconds == math.inf:
        when: float | None = None
    elif pod.evict_at is not None and found is not None:
        when = pod.evict_at  # scheduled already: it stands, even where the seconds are now 0 or less
    else:
        when = world.now + seconds
    return pod if when == pod.evict_at else replace(pod, evict_at=when)


def evict(world: World) -> World:
    """Deletions scheduled for the pods on tainted Nodes (see the module), and those whose time has come made."""
    if not world.no_execute_nodes:
        return world
    pods = tuple(_scheduled(world, p) for p in world.pods)
    pods = tuple(delete_pod(world, p) if p.evict_at is not None and p.evict_at <= world.now and not p.terminating
                 else p for p in pods)
    return world if pods == world.pods else replace(world, pods=pods)


def cancel_evictions(world: World, nodes: frozenset[str]) -> World:
    """The deletions scheduled for the pods of ``nodes``, whose NoExecute taint is gone, cancelled."""
    if not nodes:
        return world
    pods = tuple(replace(p, evict_at=None) if p.evict_at is not None and p.node_name in nodes else p
                 for p in world.pods)
    return replace(world, pods=pods)


def next_eviction(world: World) -> float | None:
    """The next time the controller deletes a pod (for the clock to stop there)."""
    if not world.no_execute_nodes:
        return None
    return min((p.evict_at for p in world.pods
                if p.evict_at is not None and p.evict_at > world.now and not p.terminating), default=None)
