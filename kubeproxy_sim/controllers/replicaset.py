"""The ReplicaSet controller and the kubelet model: keep each set's pod count, and move pods through time.

A set counts its active pods (those not being deleted). Too few: it creates
pods named after the set with a random suffix, which the scheduler places at
once. Too many: it deletes the pods that matter least first, as upstream ranks
them (:func:`deletion_order`): unscheduled before scheduled, pending before
running, not ready before ready, lower pod-deletion-cost first, pods on nodes
crowded with their Deployment's pods first, then the youngest on a log2 scale,
pods of one rank in a pseudorandom order (their UIDs). A pod whose labels no
longer match its set's selector (``kubectl label pods ... --overwrite``) is
released and the set replaces it; a bare pod that matches a set's selector
(pod-template-hash included) is adopted.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cmp_to_key
from itertools import groupby
from typing import cast

from kubeproxy_sim.controllers.model import (
    ReplicaSet,
    SimPod,
    World,
    admitted_tolerations,
    deletion_cost_value,
)
from kubeproxy_sim.controllers.naming import generate_name
from kubeproxy_sim.controllers.scheduler import (
    Ipam,
    place,
    waiting_for_address,
    waiting_for_host_ips,
    waiting_for_node,
)


def matches(selector: tuple[tuple[str, str], ...], labels: tuple[tuple[str, str], ...]) -> bool:
    """A matchLabels selector: every pair present in the labels (an empty selector matches nothing here)."""
    if not selector:
        return False
    have = dict(labels)
    return all(have.get(k) == v for k, v in selector)


def start_time(world: World, images: tuple[str, ...]) -> float | None:
    """When a pod placed now becomes ready: after the start delay, or never if an image is broken."""
    if any(image in world.timing.broken_images for image in images):
        return None
    return world.now + world.timing.start_delay


def bind(world: World, pod: SimPod, ipam: Ipam | None = None) -> tuple[World, SimPod]:
    """Schedule a pod and, once it has a node and an address (a host-network pod: a node, whose host IPs it
    takes), start its containers (the kubelet's part); a pod whose node's range is full stays ContainerCreating.
    ``ipam``: a batch's shared state (see :class:`Ipam`)."""
    world, placed = place(world, pod, ipam)
    started = placed != pod if pod.host_network else bool(placed.pod_ips) and not pod.pod_ips
    if started:
        placed = replace(placed, ready_at=start_time(world, placed.images))
    return world, placed


def new_pod(world: World, rs: ReplicaSet, rng: random.Random, ipam: Ipam | None = None,
            taken: set[str] | None = None) -> tuple[World, SimPod]:
    """A fresh pod of the set, placed and started; its name is unique among the pods (``taken``: the names in
    the set's namespace, kept up to date by a caller that makes many)."""
    if taken is None:
        taken = {p.name for p in world.pods if p.namespace == rs.namespace}
    name = generate_name(rs.name + "-", rng)
    while name in taken:
        name = generate_name(rs.name + "-", rng)
    taken.add(name)
    template = rs.template
    pod = SimPod(namespace=rs.namespace, name=name, labels=template.labels, owner=rs.name,
                 images=template.images(), ports=tuple(p for c in template.containers for p in c.ports),
                 sidecar_ports=tuple(p for c in template.sidecars for p in c.ports),
                 containers=len(template.containers) + len(template.sidecars),  # kubectl's READY total
                 created=world.now, serial=world.serial, grace_period=template.grace_period,
                 host_network=template.host_network, tolerations=admitted_tolerations(template.tolerations),
                 deletion_cost=template.deletion_cost)
    world = replace(world, serial=world.serial + 1)
    return bind(world, pod, ipam)


def delete_pod(world: World, pod: SimPod) -> SimPod:
    """Start a graceful deletion (metadata.deletionTimestamp). The pod goes once its node's kubelet has stopped it
    (:func:`finish_deletion`); on a Node whose Ready is Unknown no kubelet does, so it stays terminating until
    that kubelet posts again (nodelifecycle.kubelets_back), as nothing else removes a pod of a live Node object."""
    if pod.terminating:
        return pod
    deleted = replace(pod, deleted_at=world.now)
    return deleted if pod.node_name in world.unreachable_nodes else finish_deletion(world, deleted)


def finish_deletion(world: World, pod: SimPod) -> SimPod:
    """The kubelet's part of a pod's graceful deletion, from now: it goes after its grace period, or at once if
    its containers never ran."""
    return replace(pod, gone_at=world.now + (pod.grace_period if pod.running(world.now) else 0))


_NS = 1_000_000_000
_INVERSE_LN2 = 1.4426950408889634  # Go's constant 1/Ln2, as a float64


def _go_log2(x: float) -> float:
    """Go's math.Log2, whose whole part logarithmicRankDiff takes: exact at powers of two, else
    Log(frac)*(1/Ln2) + exp, so that a rank changes where upstream's does, to the nanosecond."""
    frac, exp = math.frexp(x)
    if frac == 0.5:
        return float(exp - 1)
    return math.log(frac) * _INVERSE_LN2 + exp


def _log_rank(at: float, now_ns: int) -> int:
    """logarithmicRankDiff's rank of a time: the whole part of log2 of its age in nanoseconds, -1 when it is not
    in the past. The time is the API's (metav1.Time keeps whole seconds), now the controller's own clock."""
    age = now_ns - math.floor(at) * _NS
    return int(_go_log2(float(age))) if age > 0 else -1


def deletion_order(world: World, pods: tuple[SimPod, ...], related: tuple[SimPod, ...] | None = None) -> list[SimPod]:
    """Pods sorted so that the first ones are the cheapest to lose, by upstream's ActivePodsWithRanks.Less with
    PodDeletionCost (on by default) and LogarithmicScaleDown (GA, locked on): unassigned before assigned, Pending
    before Running, not ready before ready, lower pod-deletion-cost first, then the pod on the node most crowded
    by the active pods of ``related`` (upstream counts every ReplicaSet of the same Deployment, so a rollout's old
    and new pods spread out together; by default, ``pods`` themselves), then, for two ready pods whose Ready
    times differ, the one ready for less time on a log2 scale of nanoseconds, else (or when both are not ready)
    the younger one on that scale, pods of one rank by UID. Container restarts, upstream's rule between those
    two, are left out on purpose: no scenario restarts a container (a broken image never starts), so every
    count is 0 and the rule never decides.

    Upstream's Less is not always transitive (two pods ready the same second are compared by age, a third
    ready at another second of the same rank by UID), so its sort.Sort gives an order that depends on the
    informer's; this one is a total order that agrees with Less on every pair wherever Less is an order on the
    pods, and is the same on every run."""
    crowding: Counter[str | None] = Counter(p.node_name for p in (pods if related is None else related) if p.node_name)
    now_ns = round(world.now * _NS)
    ranks: dict[float, int] = {}  # a set's pods share few times (those of its batches): each ranked once

    def rank(at: float) -> int:
        if (known := ranks.get(at)) is None:
            known = ranks[at] = _log_rank(at, now_ns)
        return known

    def head(pod: SimPod) -> tuple[bool, bool, bool, int, int, int]:
        running = pod.running(world.now)  # phase Running (not Pending) before ready, as ActivePodsWithRanks ranks them
        ready = pod.ready(world.now)
        when = pod.ready_at if ready and pod.ready_at is not None else pod.created
        cost = deletion_cost_value(pod.deletion_cost)
        return (pod.node_name is not None, running, ready, cost, -crowding[pod.node_name], rank(when))

    heads = [head(p) for p in pods]
    ordered = sorted(range(len(pods)), key=lambda i: (heads[i], pods[i].uid))
    out: list[SimPod] = []
    for (_, _, ready, *_), run in groupby(ordered, key=heads.__getitem__):  # pods alike but for their UIDs
        alike = [pods[i] for i in run]
        out += sorted(alike, key=cmp_to_key(_by_age(rank))) if ready and _ready_together(alike) else alike
    return out


def _ready_together(pods: list[SimPod]) -> bool:
    """Whether two of these ready pods (of one rank of Ready time) became ready the same second but were created
    at different seconds: Less then compares their ages, not their UIDs. Only a fast path: when it is false,
    _by_age would keep the UID order these pods already have, so the comparison sort is skipped."""
    times = {(pod.ready_at or 0.0, pod.created) for pod in pods}  # few: a set's pods come in batches
    seconds = {(math.floor(ready), math.floor(created)) for ready, created in times}
    return len(seconds) != len({ready for ready, _ in seconds})


def _by_age(rank: Callable[[float], int]) -> Callable[[SimPod, SimPod], int]:
    """Less's rules 6 and 8 for two ready pods of one rank of Ready time: Ready times that differ go by UID, equal
    ones by the rank of the creation times (then by UID), equal creation times are a tie. ``rank`` is
    deletion_order's cached _log_rank, so a time is ranked once however many comparisons it is in."""

    def compare(a: SimPod, b: SimPod) -> int:
        by_uid = -1 if a.uid < b.uid else 1
        if math.floor(a.ready_at or 0.0) != math.floor(b.ready_at or 0.0):
            return by_uid
        if math.floor(a.created) == math.floor(b.created):
            return 0
        diff = rank(a.created) - rank(b.created)
        return by_uid if diff == 0 else (-1 if diff < 0 else 1)

    return compare


def _membership(pod: SimPod) -> tuple[str, str | None, tuple[tuple[str, str], ...], bool]:
    """What decides whether a set releases or adopts a pod: (namespace, owner, labels, not being deleted)."""
    return pod.namespace, pod.owner, pod.labels, pod.deleted_at is None


def _release_and_adopt(world: World, rs: ReplicaSet) -> World:
    """Orphan the set's pods whose labels no longer match its selector; adopt live orphans that match. Which
    pods those are is asked of the pods' few distinct memberships (PodFacts), not of every pod."""
    memberships = cast("Iterable[tuple[str, str | None, tuple[tuple[str, str], ...], bool]]",
                       world.pod_facts.count(world.pods, _membership))
    if not any(namespace == rs.namespace and ((owner == rs.name and not matches(rs.selector, labels))
                                              or (owner is None and live and matches(rs.selector, labels)))
               for namespace, owner, labels, live in memberships):
        return world

    def owner(p: SimPod) -> str | None:
        if p.namespace != rs.namespace:
            return p.owner
        if p.owner == rs.name and not matches(rs.selector, p.labels):
            return None
        if p.owner is None and not p.terminating and matches(rs.selector, p.labels):
            return rs.name
        return p.owner

    return replace(world, pods=tuple(p if owner(p) == p.owner else replace(p, owner=owner(p)) for p in world.pods))


def _related_pods(world: World, rs: ReplicaSet) -> tuple[SimPod, ...]:
    """The active pods of every ReplicaSet the set's Deployment owns, the set's own included."""
    siblings = {r.name for r in world.replica_sets if r.namespace == rs.namespace and r.owner == rs.owner}
    return tuple(p for p in world.pods if p.namespace == rs.namespace and p.owner in siblings and not p.terminating)


def sync_replica_set(world: World, rs: ReplicaSet, rng: random.Random) -> World:
    """Create or delete pods until the set's active pods equal its replicas."""
    world = _release_and_adopt(world, rs)
    missing = rs.replicas - world.active_pods(rs)
    if missing > 0:
        ipam = Ipam(world)
        taken = {p.name for p in world.pods if p.namespace == rs.namespace}
        made = []
        for _ in range(missing):
            world, pod = new_pod(world, rs, rng, ipam, taken)
            made.append(pod)
        world = replace(world, pods=(*world.pods, *made))
    elif missing < 0:
        active = tuple(p for p in world.owned_pods(rs) if not p.terminating)
        doomed = {p.name for p in deletion_order(world, active, _related_pods(world, rs))[:-missing]}
        world = replace(world, pods=tuple(delete_pod(world, p) if p.namespace == rs.namespace
                                          and p.name in doomed else p for p in world.pods))
    return world


def _unplaced(pod: SimPod) -> bool:
    return waiting_for_node(pod) or waiting_for_address(pod) or waiting_for_host_ips(pod)


def _unplaced_pod(pod: SimPod) -> bool | None:
    return True if _unplaced(pod) else None


def retry_unscheduled(world: World) -> World:
    """Place pods that found no node before (nodes may have appeared or become ready), and retry the sandbox of
    pods whose node had no free address (one may have been freed), as the kubelet does."""
    if not world.pod_facts.count(world.pods, _unplaced_pod):
        return world
    ipam = Ipam(world)
    pods = list(world.pods)
    for index, pod in enumerate(pods):
        if _unplaced(pod):
            world, pods[index] = bind(world, pod, ipam)
    pods_now = tuple(pods)
    return world if pods_now == world.pods else replace(world, pods=pods_now)


def _departure(pod: SimPod) -> tuple[tuple[None, float], ...]:
    return () if pod.gone_at is None else ((None, pod.gone_at),)


def expire(world: World) -> World:
    """Remove pods whose grace period is over."""
    departures = world.pod_facts.times(world.pods, _departure).get(None)
    if not departures or departures[0] > world.now:
        return world
    alive = tuple(p for p in world.pods if p.gone_at is None or p.gone_at > world.now)
    return replace(world, pods=alive)


def _pod_events(pod: SimPod) -> tuple[tuple[None, float], ...]:
    """When a pod changes by itself: it becomes ready (unless deleted first) or is gone (a terminating pod's
    time equal to its ready_at is left out, as always)."""
    return tuple((None, t) for t in (pod.ready_at, pod.gone_at)
                 if t is not None and not (t == pod.ready_at and pod.terminating))


def next_pod_event(world: World) -> float | None:
    """The next time a pod changes by itself (becomes ready, or is gone)."""
    times = world.pod_facts.times(world.pods, _pod_events).get(None, ())
    at = bisect.bisect_right(times, world.now)
    return times[at] if at < len(times) else None
