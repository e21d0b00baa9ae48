"""The ReplicaSet controller and the kubelet model: keep each set's pod count, and move pods through time.

A set counts its active pods (those not being deleted). Too few: it creates
pods named after the set with a random suffix, which the scheduler places at
once. Too many: it deletes the pods that matter least first, as upstream ranks
them: unscheduled before scheduled, pending before running, not ready before
ready, pods on nodes crowded with their Deployment's pods first, then the
youngest. A pod whose labels no
longer match its set's selector (``kubectl label pods ... --overwrite``) is
released and the set replaces it; a bare pod that matches a set's selector
(pod-template-hash included) is adopted.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

from kubeproxy_sim.controllers.model import ReplicaSet, SimPod, World, admitted_tolerations
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
                 created=world.now, serial=world.serial, grace_period=template.grace_period,
                 host_network=template.host_network, tolerations=admitted_tolerations(template.tolerations))
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


def deletion_order(world: World, pods: tuple[SimPod, ...], related: tuple[SimPod, ...] | None = None) -> list[SimPod]:
    """Pods sorted so that the first ones are the cheapest to lose. A node is crowded by the active pods of
    ``related`` (upstream counts every ReplicaSet of the same Deployment, so a rollout's old and new pods
    spread out together); by default, by ``pods`` themselves."""
    crowding: Counter[str | None] = Counter(p.node_name for p in (pods if related is None else related) if p.node_name)

    def key(pod: SimPod) -> tuple[object, ...]:
        ready = pod.ready(world.now)  # phase Running (not Pending) before ready, as ActivePodsWithRanks ranks them
        return (pod.node_name is not None, pod.running(world.now), ready, -crowding[pod.node_name],
                -(pod.ready_at or 0.0) if ready else 0.0, -pod.serial)

    return sorted(pods, key=key)


def _release_and_adopt(world: World, rs: ReplicaSet) -> World:
    """Orphan the set's pods whose labels no longer match its selector; adopt live orphans that match."""

    def owner(p: SimPod) -> str | None:
        if p.namespace != rs.namespace:
            return p.owner
        if p.owner == rs.name and not matches(rs.selector, p.labels):
            return None
        if p.owner is None and not p.terminating and matches(rs.selector, p.labels):
            return rs.name
        return p.owner

    pods = tuple(p if owner(p) == p.owner else replace(p, owner=owner(p)) for p in world.pods)
    return world if pods == world.pods else replace(world, pods=pods)


def _related_pods(world: World, rs: ReplicaSet) -> tuple[SimPod, ...]:
    """The active pods of every ReplicaSet the set's Deployment owns, the set's own included."""
    siblings = {r.name for r in world.replica_sets if r.namespace == rs.namespace and r.owner == rs.owner}
    return tuple(p for p in world.pods if p.namespace == rs.namespace and p.owner in siblings and not p.terminating)


def sync_replica_set(world: World, rs: ReplicaSet, rng: random.Random) -> World:
    """Create or delete pods until the set's active pods equal its replicas."""
    world = _release_and_adopt(world, rs)
    active = tuple(p for p in world.owned_pods(rs) if not p.terminating)
    missing = rs.replicas - len(active)
    if missing > 0:
        ipam = Ipam(world)
        taken = {p.name for p in world.pods if p.namespace == rs.namespace}
        made = []
        for _ in range(missing):
            world, pod = new_pod(world, rs, rng, ipam, taken)
            made.append(pod)
        world = replace(world, pods=(*world.pods, *made))
    elif missing < 0:
        doomed = {p.name for p in deletion_order(world, active, _related_pods(world, rs))[:-missing]}
        world = replace(world, pods=tuple(delete_pod(world, p) if p.namespace == rs.namespace
                                          and p.name in doomed else p for p in world.pods))
    return world


def _unplaced(pod: SimPod) -> bool:
    return waiting_for_node(pod) or waiting_for_address(pod) or waiting_for_host_ips(pod)


def retry_unscheduled(world: World) -> World:
    """Place pods that found no node before (nodes may have appeared or become ready), and retry the sandbox of
    pods whose node had no free address (one may have been freed), as the kubelet does."""
    if not any(_unplaced(p) for p in world.pods):
        return world
    ipam = Ipam(world)
    pods = list(world.pods)
    for index, pod in enumerate(pods):
        if _unplaced(pod):
            world, pods[index] = bind(world, pod, ipam)
    pods_now = tuple(pods)
    return world if pods_now == world.pods else replace(world, pods=pods_now)


def expire(world: World) -> World:
    """Remove pods whose grace period is over."""
    alive = tuple(p for p in world.pods if p.gone_at is None or p.gone_at > world.now)
    return world if len(alive) == len(world.pods) else replace(world, pods=alive)


def next_pod_event(world: World) -> float | None:
    """The next time a pod changes by itself (becomes ready, or is gone)."""
    times = [t for p in world.pods for t in (p.ready_at, p.gone_at)
             if t is not None and t > world.now and not (t == p.ready_at and p.terminating)]
    return min(times, default=None)
