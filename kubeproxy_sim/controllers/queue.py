"""Which Services the EndpointSlice controller syncs after a step: those its informers' events queue.

Upstream's controller (pkg/controller/endpointslice) does not resync every Service when anything changes; its
event handlers queue a Service when

- the Service is added, updated or deleted (onServiceUpdate, onServiceDelete);
- a pod the Service selects is added or deleted, or is updated in a way podEndpointsChanged notices: its
  deletion timestamp, its readiness, its IPs, or its labels (then the Services it left or joined; all of old and
  new when something else changed too: GetServicesToUpdateOnPodChange, determineNeededServiceUpdates);
- an EndpointSlice labelled as the controller's, of that Service, is added, updated or deleted by someone else
  (onEndpointSliceAdd/Update/Delete, through the slice tracker): a second later (:data:`SLICE_CHANGE_DELAY`, a
  delayed re-add in the retry state, :func:`added_after`), so kube-proxy sees such a slice until then;
- its last sync failed: the workqueue retries it after a per-key exponential delay, and drops it after too many
  failures (:class:`Backoff`, :func:`retried`; an event queues it again, but does not reset its count);
- a Node is added or deleted, or changes readiness or zone (updateNode), and the Service is one whose hints the
  topology cache holds and finds overloaded under the Nodes' new CPU ratios (checkNodeTopologyDistribution,
  GetOverloadedServices). That is also the only moment the cache reads the Nodes: allocatable CPU changed alone
  is not seen until such an event.

So a Node moved to another zone leaves the slices of a Service no event queued with the old zone and hints
(endpointslice_controller.go: updateNode leads only to checkNodeTopologyDistribution, which queues just the
overloaded Services; kubernetes/kubernetes#123401 is related: hints removed while a Ready Node lacked a zone label
are not added back when the label comes). Pure functions over two snapshots: what the
informers last delivered and what they deliver now. A step that lets time pass is read at each instant it stopped
at on the way (a pod ready or gone, an eviction: World.trail), so a pod's event is queued at its own instant, and
its sync's failure counted then, between the retries (world.controller_sync); Services, Nodes and slices change
only in steps where no time passes, so their events come at the step's instant. A change made and undone within one
instant would be missed, where upstream's handlers see both; the model makes none (a pod made during a wait, a
ReplicaSet's replacement, is still there at the next instant; a probe of the 841 steps the controller, scenario
and scenario command tests play found none made and deleted, nor changed and changed back, between a step's
settles: session 21, b4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kubeproxy_sim.controllers.endpointslice import CONTROLLER_NAME, MANAGED_BY_LABEL, selects
from kubeproxy_sim.controllers.topology import OVERLOAD_THRESHOLD, ZONE_LABEL
from kubeproxy_sim.objects.model import EndpointSlice, Node, Pod, Service
from kubeproxy_sim.objects.overlap import slices_by_service

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def changes(old: Iterable[T], new: Iterable[T], key: Callable[[T], K]) -> Iterator[tuple[K, T | None, T | None]]:
    """What an informer delivers between two lists of objects, as (key, before, after) matched by ``key``: those
    of ``new`` in their order (before None: added), then those of ``old`` gone from it (after None: deleted); an
    object unchanged is paired with itself too, for the caller decides what an update is."""
    before = {key(o): o for o in old}
    for item in new:
        k = key(item)
        yield k, before.pop(k, None), item
    for k, gone in before.items():
        yield k, gone, None


@dataclass(frozen=True, slots=True)
class Backoff:
    """A controller's retry policy: client-go's ItemExponentialFailureRateLimiter (the k-th failure since the key
    was last forgotten waits ``base * 2**(k-1)`` seconds, at most ``cap``) and the controller's maxRetries (its
    handleErr requeues while NumRequeues < max_retries, and forgets the key otherwise: dropped until an event
    queues it again). The controller pairs it with a token bucket of 10 per second and 100 burst, shared by all
    keys, and waits the longer of the two (MaxOfRateLimiter); the bucket is left out. Each failure takes a token, so
    the bucket's wait is (tokens taken beyond what it holds) / 10 seconds: it is longer than a key's k-th
    exponential wait (2**(k-1) s) only when more than 100 + 10 * 2**(k-1) failures (110 for a first one, less
    what refilled meanwhile at 10 a second) come together, as when a hundred-odd Services all fail at one
    instant (a pod on an unknown Node selected by each); then the model retries some of them earlier than
    upstream."""

    base: float
    cap: float
    max_retries: int

    def delay(self, requeues: int) -> float:
        """When(): the wait after a failure with ``requeues`` failures already counted."""
        return min(self.base * 2.0 ** min(requeues, 64), self.cap)


# endpointslice_controller.go: defaultSyncBackOff 1s, maxSyncBackOff 1000s, maxRetries 15 (1s, 2s, ... 512s, then
# 1000s five times: the 16th failed sync, 6023s after the first, drops the Service)
ENDPOINTSLICE_BACKOFF = Backoff(1.0, 1000.0, 15)
# (the mirroring controller's policy, maxSyncBackOff 100s, is not modelled: no sync of the model's mirroring
# controller fails, its failures being the API server's, which the scenario does not model)


@dataclass(frozen=True, slots=True)
class Retry:
    """A key's state in a rate-limited workqueue: the failures its rate limiter counts (NumRequeues, reset by
    Forget: a sync that succeeds or the drop after the last retry) and when its delayed re-add fires (None: none
    waiting). The waiting re-add outlives a Forget: the delaying queue keeps it, so a key synced with success by an
    event meanwhile is synced once more when it fires; of two re-adds the earlier is kept (waitingEntryByData)."""

    key: str
    requeues: int = 0
    due: float | None = None


def _failed_at(policy: Backoff, retry: Retry, when: float) -> Retry:
    """handleErr of a failed sync at ``when``: AddRateLimited while requeues < max_retries, else Forget."""
    if retry.requeues >= policy.max_retries:
        return Retry(retry.key, 0, retry.due)
    due = when + policy.delay(retry.requeues)
    return Retry(retry.key, retry.requeues + 1, due if retry.due is None else min(retry.due, due))


# endpointslice_controller.go: endpointSliceChangeMinSyncDelay (kube-controller-manager's
# --endpoint-updates-batch-period defaults to 0, so this is the delay): queueServiceForEndpointSlice adds the
# Service after it, where the Service and pod handlers add it at once
SLICE_CHANGE_DELAY = 1.0


def added_after(retries: Iterable[Retry], keys: Iterable[str], due: float) -> tuple[Retry, ...]:
    """The workqueue's state once ``keys`` are added after a delay (AddAfter) to fire at ``due``: a key with a
    re-add already waiting keeps the earlier of the two (waitingEntryByData), and its failure count either way."""
    state = {r.key: r for r in retries}
    for key in sorted(set(keys)):
        was = state.get(key, Retry(key))
        state[key] = Retry(key, was.requeues, due if was.due is None else min(was.due, due))
    return tuple(state.values())


def due_keys(retries: Iterable[Retry], now: float) -> set[str]:
    """The keys whose delayed re-add has fired by ``now``: synced at this step whatever else happened."""
    return {r.key for r in retries if r.due is not None and r.due <= now}


def due_before(retries: Iterable[Retry], when: float) -> set[str]:
    """The keys whose delayed re-add fires before ``when`` (not at it)."""
    return {r.key for r in retries if r.due is not None and r.due < when}


def _fired(policy: Backoff, retry: Retry, until: float, failing: bool, *, at_until: bool) -> Retry:
    """A key's state once its re-adds up to ``until`` (``at_until``: one due at it too) have fired, each one's sync
    failing or not: at the due time, then at the time that failure set, and so on."""
    while retry.due is not None and (retry.due < until or (at_until and retry.due == until)):
        when, retry = retry.due, Retry(retry.key, retry.requeues)
        retry = _failed_at(policy, retry, when) if failing else Retry(retry.key)
    return retry


def fired_before(policy: Backoff, retries: Iterable[Retry], when: float,
                 failing: Iterable[str]) -> tuple[Retry, ...]:
    """The workqueue's retry state once the re-adds due before ``when`` have fired with nothing else happening
    meanwhile: a key in ``failing`` fails at each of them, another succeeds (Forget) at the first. (A stretch of
    time in which nothing the controller sees changes, so a key's syncs in it all fail or all succeed.)"""
    failing = set(failing)
    out = (_fired(policy, r, when, r.key in failing, at_until=False) for r in retries)
    return tuple(r for r in out if r.requeues or r.due is not None)


def retried(policy: Backoff, retries: Iterable[Retry], now: float, queued: Iterable[str],
            failing: Iterable[str]) -> tuple[Retry, ...]:
    """The workqueue's retry state after the sync at ``now``, from the state after the previous one (``retries``):
    each key's re-adds that fired since (at their due times, then at the times their failures set, while due by
    ``now``), then the sync of the keys an event ``queued`` at ``now``; a sync of a key in ``failing`` fails, of
    another succeeds (Forget). Keys with no failure counted and no re-add waiting are left out.

    A step that lets time pass is played as the controller lives it (world.controller_sync): at each instant the
    World changed on the way (World.trail) the re-adds due before it fire against the pods as they were
    (:func:`fired_before`), then the keys the changes queue and those due at that instant are synced against
    the new pods (this function, at that instant); this call at the step's end takes the re-adds due since the
    last such instant, when nothing the controller sees changed, so ``failing``, the end's, is theirs too."""
    failing, queued = set(failing), set(queued)
    state = {r.key: r for r in retries}
    out = []
    for key in dict.fromkeys([*state, *sorted(queued)]):
        retry = _fired(policy, state.get(key, Retry(key)), now, key in failing, at_until=True)
        if key in queued:
            retry = _failed_at(policy, retry, now) if key in failing else Retry(key, 0, retry.due)
        if retry.requeues or retry.due is not None:
            out.append(retry)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the controller's informers hold at one sync: Services (by key) with their topology annotations, pods
    (at that instant), Nodes and which of them are not Ready, and the loaded EndpointSlices (the user's)."""

    services: tuple[Service, ...] = ()
    annotations: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    pods: tuple[Pod, ...] = ()
    nodes: tuple[Node, ...] = ()
    not_ready: frozenset[str] = frozenset()
    loaded: tuple[EndpointSlice, ...] = ()


class _Memberships:
    """GetPodServiceMemberships: the keys of the Services in a pod's namespace whose selector matches its labels
    (a Service without a selector matches none), over the Services as they are now."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._by_namespace: dict[str, list[Service]] = {}
        for service in services:
            if service.selector is not None:
                self._by_namespace.setdefault(service.namespace, []).append(service)

    def of(self, pod: Pod | None) -> set[str]:
        """(None, a pod not there at one end: no Services.)"""
        if pod is None:
            return set()
        return {s.key for s in self._by_namespace.get(pod.namespace, ()) if selects(s, pod)}


def _pod_changed(old: Pod, new: Pod) -> tuple[bool, bool]:
    """podEndpointsChanged: (a change that may change its endpoints, a change that may change its Services).
    Upstream compares the deletion timestamps as pointers, so any update of a pod already terminating counts."""
    labels_changed = dict(old.labels) != dict(new.labels)
    changed = (old.terminating or new.terminating or old.ready != new.ready or old.pod_ips != new.pod_ips)
    return changed, labels_changed


def _replaced(old: Pod, new: Pod) -> bool:
    """Whether ``new`` is another pod of the same name: a field the API server never lets an update change
    (ValidatePodUpdate: container ports, hostNetwork; spec.nodeName once set) differs. The model replaces a pod
    whose manifest changes them (world.add_pods: a new serial), where upstream's apply is refused and only a
    delete and a create get there, which deletePod and addPod see as two events queuing the Services of both;
    read as an update, podEndpointsChanged (which ignores these fields) would queue nothing and leave the old
    node or port in the slices for good. A node set where there was none is kube-scheduler's binding, an update."""
    return (old.ports != new.ports or old.sidecar_ports != new.sidecar_ports or old.host_network != new.host_network
            or (old.node_name is not None and old.node_name != new.node_name))


def pod_queued(old_pods: Sequence[Pod], new_pods: Sequence[Pod], services: Iterable[Service]) -> set[str]:
    """The Services addPod, updatePod and deletePod queue between two lists of the pods (a pod replaced under
    its name: deletePod of the old and addPod of the new, :func:`_replaced`)."""
    members = _Memberships(services)
    out: set[str] = set()
    for _, old, pod in changes(old_pods, new_pods, lambda p: (p.namespace, p.name)):
        if old is None or pod is None or _replaced(old, pod):  # addPod, deletePod, or both
            out |= members.of(old) | members.of(pod)
        elif old is not pod and old != pod:  # the same object (no new resourceVersion) is no event
            changed, labels_changed = _pod_changed(old, pod)
            if labels_changed:
                was, now = members.of(old), members.of(pod)
                out |= (was | now) if changed else (was ^ now)
            elif changed:
                out |= members.of(pod)
    return out


def _owned_by_controller(s: EndpointSlice) -> bool:
    return dict(s.labels).get(MANAGED_BY_LABEL) == CONTROLLER_NAME


def slice_queued(old: Sequence[EndpointSlice], new: Sequence[EndpointSlice]) -> set[str]:
    """The Services whose controller-labelled slices someone else added, changed or deleted (the tracker does not
    know them, so ShouldSync holds); both Services of a slice whose service-name label changed, and of one moved
    in or out of the controller's hands (ManagedByChanged), whoever manages it."""
    out: set[str] = set()
    for _, was, s in changes(old, new, lambda s: s.key):
        if was == s:
            continue
        moved = was is not None and s is not None and (was.service_key != s.service_key
                                                       or _owned_by_controller(was) != _owned_by_controller(s))
        out |= {v.service_key for v in (was, s) if v is not None and (moved or _owned_by_controller(v))}
    return out


def nodes_event(old: Snapshot, new: Snapshot) -> bool:
    """Whether a Node event reaches checkNodeTopologyDistribution: a Node added or deleted (addNode, deleteNode),
    or one whose Ready condition turned to or from True or whose zone label changed (updateNode)."""
    before = {n.name: n for n in old.nodes}
    after = {n.name: n for n in new.nodes}
    if before.keys() != after.keys():
        return True
    return any((name in old.not_ready) != (name in new.not_ready)
               or before[name].label(ZONE_LABEL) != node.label(ZONE_LABEL) for name, node in after.items())


def hints_by_zone(slices: Iterable[EndpointSlice]) -> dict[str, dict[str, int]]:
    """The topology cache's endpointsByService entry of one Service: per address type, the ready endpoints
    hinted for each zone (what AddHints stored with SetHints)."""
    out: dict[str, dict[str, int]] = {}
    for s in slices:
        for endpoint in s.endpoints:
            if endpoint.conditions.ready is not True or not endpoint.hints_for_zones:
                continue
            zones = out.setdefault(s.address_type.value, {})
            for zone in endpoint.hints_for_zones:
                zones[zone] = zones.get(zone, 0) + 1
    return out


def overloaded(hinted: Mapping[str, int], ratios: Mapping[str, float] | None) -> bool:
    """serviceOverloaded: some zone of the ratios has no hinted endpoint at all (whatever its share, 0 included), or
    fewer than its share allows (total * ratio / 1.2, rounded up); every hinted Service is overloaded when the
    cache holds no ratios, and one without hints never is (upstream's first test: nothing to move)."""
    if not hinted:
        return False
    if not ratios:
        return True
    total = float(sum(hinted.values()))
    return any(zone not in hinted or hinted[zone] < math.ceil(total * ratio * (1 / (1 + OVERLOAD_THRESHOLD)))
               for zone, ratio in ratios.items())


def overloaded_services(own: Iterable[EndpointSlice], populated: Iterable[str],
                        ratios: Mapping[str, float] | None) -> set[str]:
    """GetOverloadedServices over the Services whose hints the cache holds, read from their slices."""
    wanted = set(populated)
    return {key for key, slices in slices_by_service(s for s in own if s.service_key in wanted).items()
            if any(overloaded(zones, ratios) for zones in hints_by_zone(slices).values())}


def service_queued(old: Snapshot, new: Snapshot) -> set[str]:
    """The Services added or updated (their object or their annotations)."""
    before = {s.key: s for s in old.services}
    notes_before, notes_now = dict(old.annotations), dict(new.annotations)
    return {s.key for s in new.services
            if before.get(s.key) != s or notes_before.get(s.key) != notes_now.get(s.key)}
