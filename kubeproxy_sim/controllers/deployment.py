"""The Deployment controller: revisions as ReplicaSets, scaling, and the two rollout strategies.

Each distinct pod template is one ReplicaSet named after the template's hash;
the set whose template equals the Deployment's is the *new* one, every other
set is *old*. A rolling update grows the new set while the total stays within
``replicas + maxSurge`` and shrinks old sets while at least
``replicas - maxUnavailable`` pods stay available (percentages: surge rounded
up, unavailable rounded down; both zero means one may be unavailable, so a
rollout can always move). Recreate empties the old sets, waits until their
pods are gone, then fills the new one. Revisions are numbers on the sets: a
set that becomes new again (``rollout undo``) takes the next number.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from kubeproxy_sim.controllers.model import POD_TEMPLATE_HASH, Deployment, ReplicaSet, Strategy, World
from kubeproxy_sim.controllers.naming import template_hash

# -- arithmetic ---------------------------------------------------------------------------------------


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    """An int-or-percent field against a replica count."""
    if isinstance(value, int):
        return value
    fraction = int(value.rstrip("%")) * total / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def fenceposts(d: Deployment) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts; never both zero."""
    surge = scaled_value(d.max_surge, d.replicas, round_up=True)
    unavailable = scaled_value(d.max_unavailable, d.replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


# -- reading the world ----------------------------------------------------------------------------------


def active_pods(world: World, rs: ReplicaSet) -> int:
    return world.active_pods(rs)


def available_pods(world: World, rs: ReplicaSet) -> int:
    """Ready pods that are not being deleted (minReadySeconds is not modelled)."""
    return world.available_pods(rs)


def split_sets(world: World, d: Deployment) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
    """(the new set, the old sets oldest first)."""
    owned = sorted(world.owned_sets(d), key=lambda rs: rs.serial)
    new = next((rs for rs in owned if rs.template.without_hash() == d.template), None)
    return new, [rs for rs in owned if rs is not new]


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    replicas: int  # active pods of every set
    updated: int  # active pods of the new set
    available: int  # available pods of every set
    new_revision: int

    def message(self, d: Deployment) -> tuple[bool, str]:
        """kubectl rollout status's verdict: (done, the line it prints)."""
        quoted = f'"{d.name}"'
        if self.updated < d.replicas:
            return False, (f"Waiting for deployment {quoted} rollout to finish: {self.updated} out of {d.replicas} "
                           "new replicas have been updated...")
        if self.replicas > self.updated:
            return False, (f"Waiting for deployment {quoted} rollout to finish: {self.replicas - self.updated} "
                           "old replicas are pending termination...")
        if self.available < self.updated:
            return False, (f"Waiting for deployment {quoted} rollout to finish: {self.available} of {self.updated} "
                           "updated replicas are available...")
        return True, f"deployment {quoted} successfully rolled out"


def last_progress(world: World, d: Deployment) -> float | None:
    """When the rollout last moved, as the controller's Progressing condition records it (upstream's
    ``DeploymentProgressing``): a pod of the new set created, a pod of any set becoming ready, an old pod
    deleted. None when none of that has happened yet."""
    new, old = split_sets(world, d)
    owners = {rs.name for rs in ([new] if new else []) + old}
    old_names = {rs.name for rs in old}
    events = []
    for pod in world.pods:
        if pod.namespace != d.namespace or pod.owner not in owners:
            continue
        if new is not None and pod.owner == new.name:
            events.append(pod.created)
        if pod.ready_at is not None:
            events.append(pod.ready_at)
        if pod.owner in old_names and pod.deleted_at is not None:
            events.append(pod.deleted_at)
    past = [t for t in events if t <= world.now]
    return max(past) if past else None


def rollout_status(world: World, d: Deployment) -> RolloutStatus:
    new, old = split_sets(world, d)
    sets = ([new] if new else []) + old
    return RolloutStatus(replicas=sum(active_pods(world, rs) for rs in sets),
                         updated=active_pods(world, new) if new else 0,
                         available=sum(available_pods(world, rs) for rs in sets),
                         new_revision=new.revision if new else 0)


# -- writing sets -----------------------------------------------------------------------------------------


def _put(world: World, rs: ReplicaSet) -> World:
    """Store a changed or new set."""
    sets = tuple(rs if (x.namespace, x.name) == (rs.namespace, rs.name) else x for x in world.replica_sets)
    if sets == world.replica_sets and rs not in sets:
        sets = (*world.replica_sets, rs)
    return replace(world, replica_sets=sets)


def _scale(world: World, d: Deployment, rs: ReplicaSet, replicas: int) -> tuple[World, ReplicaSet]:
    """Set a set's size, recording the Deployment size it was scaled for."""
    if rs.replicas == replicas and rs.desired == d.replicas:
        return world, rs
    scaled = replace(rs, replicas=max(0, replicas), desired=d.replicas)
    return _put(world, scaled), scaled


def _observed_hash(world: World, d: Deployment) -> str | None:
    """The pod-template-hash of loaded pods (a cluster snapshot) this Deployment's first set would own: they
    were made by its current ReplicaSet, whose hash is upstream's, not this model's, so the set takes theirs
    and adopts them instead of starting a second set of pods."""
    if any(rs.namespace == d.namespace and rs.owner == d.name for rs in world.replica_sets):
        return None
    wanted = dict(d.template.labels)
    for pod in world.pods:
        labels = dict(pod.labels)
        digest = labels.pop(POD_TEMPLATE_HASH, None)
        if (digest and pod.owner is None and not pod.terminating and pod.namespace == d.namespace
                and labels == wanted):
            return digest
    return None


def _set_name(world: World, d: Deployment) -> tuple[str, str]:
    """(name, hash) for a new set, stepping the collision count if the name is held by another template."""
    template = d.template
    observed = _observed_hash(world, d)
    if observed is not None:
        return f"{d.name}-{observed}", observed
    for collisions in range(100):
        digest = template_hash(template, collisions)
        name = f"{d.name}-{digest}"
        holder = next((rs for rs in world.replica_sets if rs.namespace == d.namespace and rs.name == name), None)
        if holder is None or holder.template.without_hash() == template:
            return name, digest
    raise RuntimeError(f"no free ReplicaSet name for {d.key}")  # 100 FNV collisions: not reachable


def ensure_new_set(world: World, d: Deployment) -> tuple[World, ReplicaSet]:
    """The new set, created empty if missing, with a revision above every old set's."""
    new, old = split_sets(world, d)
    top = max((rs.revision for rs in old), default=0)
    if new is not None:
        if new.revision <= top:
            new = replace(new, revision=top + 1, change_cause=d.change_cause)
            world = _put(world, new)
        return world, new
    name, digest = _set_name(world, d)
    template = replace(d.template, labels=tuple(sorted((*d.template.labels, (POD_TEMPLATE_HASH, digest)))))
    selector = tuple(sorted((*d.selector, (POD_TEMPLATE_HASH, digest))))
    new = ReplicaSet(namespace=d.namespace, name=name, owner=d.name, template_hash=digest, template=template,
                     selector=selector, replicas=0, revision=top + 1, serial=world.serial, desired=d.replicas,
                     change_cause=d.change_cause)
    return replace(_put(world, new), serial=world.serial + 1), new


# -- scaling ---------------------------------------------------------------------------------------------


def is_scaling_event(world: World, d: Deployment) -> bool:
    """A live set was sized for another replica count: the user scaled, so resize before rolling."""
    return any(rs.replicas > 0 and rs.desired != d.replicas for rs in world.owned_sets(d))


def scale(world: World, d: Deployment) -> World:
    """Resize: one live set takes the whole count; several share the change in proportion to their size."""
    new, old = split_sets(world, d)
    live = [rs for rs in ([new] if new else []) + old if rs.replicas > 0]
    if len(live) <= 1:
        target = live[0] if live else (new or (old[-1] if old else None))
        return _scale(world, d, target, d.replicas)[0] if target is not None else world
    if new is not None and new.replicas == d.replicas and available_pods(world, new) >= d.replicas:
        for rs in old:
            world, _ = _scale(world, d, rs, 0)
        return world
    surge = fenceposts(d)[0] if d.strategy is Strategy.ROLLING_UPDATE else 0
    current = sum(rs.replicas for rs in live)
    to_add = d.replicas + surge - current
    newest_first = sorted(live, key=lambda rs: (-rs.replicas, -rs.serial if to_add > 0 else rs.serial))
    added = 0
    sizes = {}
    for rs in newest_first:
        share = round(rs.replicas * to_add / current) if current else 0
        share = min(share, to_add - added) if to_add > 0 else max(share, to_add - added)
        sizes[rs.name] = rs.replicas + share
        added += share
    first = newest_first[0].name
    sizes[first] += to_add - added
    for rs in newest_first:
        world, _ = _scale(world, d, rs, max(0, sizes[rs.name]))
    return world


# -- rollouts ---------------------------------------------------------------------------------------------


def _grow_new(world: World, d: Deployment, new: ReplicaSet, old: list[ReplicaSet]) -> tuple[World, ReplicaSet]:
    """Add new pods as far as maxSurge allows; shrink the new set if it is above the replica count."""
    if new.replicas > d.replicas:
        return _scale(world, d, new, d.replicas)
    if new.replicas == d.replicas:
        return world, new
    surge, _ = fenceposts(d)
    total = new.replicas + sum(rs.replicas for rs in old)
    room = d.replicas + surge - total
    if room <= 0:
        return world, new
    return _scale(world, d, new, new.replicas + min(room, d.replicas - new.replicas))


def _shrink_old(world: World, d: Deployment, new: ReplicaSet, old: list[ReplicaSet]) -> World:
    """Remove old pods while enough stay available: unhealthy ones first, then the oldest sets' pods."""
    if sum(rs.replicas for rs in old) == 0:
        return world
    _, unavailable = fenceposts(d)
    min_available = d.replicas - unavailable
    total = new.replicas + sum(rs.replicas for rs in old)
    budget = total - min_available - (new.replicas - available_pods(world, new))
    if budget <= 0:
        return world
    current = {rs.name: rs for rs in old}
    cleaned = 0
    for rs in old:
        unhealthy = rs.replicas - available_pods(world, rs)
        if rs.replicas == 0 or unhealthy <= 0 or cleaned >= budget:
            continue
        cut = min(budget - cleaned, unhealthy)
        world, current[rs.name] = _scale(world, d, rs, rs.replicas - cut)
        cleaned += cut
    available = available_pods(world, new) + sum(min(available_pods(world, rs), current[rs.name].replicas)
                                                 for rs in old)
    excess = available - min_available
    for rs in old:
        rs = current[rs.name]
        if excess <= 0:
            break
        if rs.replicas == 0:
            continue
        cut = min(rs.replicas, excess)
        world, _ = _scale(world, d, rs, rs.replicas - cut)
        excess -= cut
    return world


def rolling_update(world: World, d: Deployment) -> World:
    world, new = ensure_new_set(world, d)
    _, old = split_sets(world, d)
    world, new = _grow_new(world, d, new, old)
    return _shrink_old(world, d, new, old)


def recreate(world: World, d: Deployment) -> World:
    """Empty the old sets; once their pods are all gone, fill the new set."""
    new, old = split_sets(world, d)
    for rs in old:
        world, _ = _scale(world, d, rs, 0)
    if any(world.owned_pods(rs) for rs in old):
        return world
    world, new = ensure_new_set(world, d)
    return _scale(world, d, new, d.replicas)[0]


def _prune_history(world: World, d: Deployment) -> World:
    """Drop old sets beyond revisionHistoryLimit, as upstream's cleanup does once a rollout is complete: of the
    oldest ones past the limit, those scaled to 0 with no active pod (pods still terminating do not count)."""
    _, old = split_sets(world, d)
    if not old or not rollout_status(world, d).message(d)[0]:
        return world
    ordered = sorted(old, key=lambda rs: rs.revision)
    past = ordered[: max(0, len(ordered) - d.history_limit)]
    doomed = {rs.name for rs in past if rs.replicas == 0 and world.active_pods(rs) == 0}
    if not doomed:
        return world
    return replace(world, replica_sets=tuple(rs for rs in world.replica_sets
                                             if not (rs.namespace == d.namespace and rs.name in doomed)))


def sync_deployment(world: World, d: Deployment, rng: random.Random) -> World:
    """One pass of the controller for one Deployment (``rng`` is unused: the controller draws no names)."""
    del rng
    if is_scaling_event(world, d):
        world = scale(world, d)
    elif d.strategy is Strategy.RECREATE:
        world = recreate(world, d)
    else:
        world = rolling_update(world, d)
    if split_sets(world, d)[0] is None and d.strategy is Strategy.ROLLING_UPDATE:
        world = rolling_update(world, d)
    return _prune_history(world, d)


# -- history ------------------------------------------------------------------------------------------------


def history(world: World, d: Deployment) -> list[tuple[int, str]]:
    """(revision, change cause) of every kept revision, oldest first."""
    return sorted((rs.revision, rs.change_cause) for rs in world.owned_sets(d))


def undo_target(world: World, d: Deployment, to_revision: int = 0) -> tuple[ReplicaSet | None, str]:
    """The set to roll back to (the previous revision, or ``to_revision``), or why there is none."""
    sets = sorted(world.owned_sets(d), key=lambda rs: rs.revision)
    if to_revision:
        target = next((rs for rs in sets if rs.revision == to_revision), None)
        return target, "" if target else f"unable to find specified revision {to_revision} in history"
    if len(sets) < 2:
        return None, f'no rollout history found for deployment "{d.name}"'
    return sets[-2], ""
