"""Running the controllers: settle a World, let time pass, and the API actions kubectl performs.

Every action returns a new World; nothing here reads a clock or draws random
numbers except through the ``rng`` it is given. After an action the
controllers run until nothing changes (``settle``): Deployments resize their
ReplicaSets, the sets create or delete pods, the scheduler places them. Time
moves only in :func:`advance` and :func:`wait_for_rollout`, event by event
(a pod becoming ready, a grace period ending), settling after each.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter

import netaddr

from kubeproxy_sim.controllers import deployment as deploy
from kubeproxy_sim.controllers import queue
from kubeproxy_sim.controllers.allocate import (
    DEFAULT_SERVICE_CIDRS,
    SERVICE_RANGE_FLAG,
    cluster_ip,
    host_offsets,
    node_port,
)
from kubeproxy_sim.controllers.decode import (
    NOTHING_WRITTEN,
    PREFER_DUAL_STACK,
    REQUIRE_DUAL_STACK,
    SINGLE_STACK,
    WrittenIPFields,
)
from kubeproxy_sim.controllers.endpointslice import (
    CONTROLLER_NAME,
    FAILED_UPDATE_REASON,
    MANAGED_BY_LABEL,
    ServiceEvent,
    TopologyView,
    ip_family,
    is_endpoint,
    node_missing,
    reconcile_all,
    reconciled,
    selects,
)
from kubeproxy_sim.controllers.model import (
    Container,
    Deployment,
    LastApplied,
    PodTemplate,
    SimPod,
    Toleration,
    World,
    admitted_tolerations,
    differing,
    service_node_ports,
)
from kubeproxy_sim.controllers.naming import stable_suffix
from kubeproxy_sim.controllers.nodelifecycle import kubelets_back, mark_pods_not_ready, silent_after
from kubeproxy_sim.controllers.queue import Snapshot
from kubeproxy_sim.controllers.replicaset import (
    bind,
    delete_pod,
    expire,
    next_pod_event,
    retry_unscheduled,
    sync_replica_set,
)
from kubeproxy_sim.controllers.scheduler import Ipam, PortConflict, record_failures
from kubeproxy_sim.controllers.tainteviction import cancel_evictions, evict, next_eviction
from kubeproxy_sim.controllers.topology import ANNOTATIONS, hints_enabled, zone_ratios
from kubeproxy_sim.objects.mirror import MIRROR_CONTROLLER
from kubeproxy_sim.objects.model import (
    Cluster,
    ContainerPort,
    EndpointSlice,
    IPFamily,
    Node,
    Origin,
    Pod,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    TrafficPolicy,
)
from kubeproxy_sim.objects.overlap import slices_by_service

MAX_SETTLE_ROUNDS = 50


class ActionError(Exception):
    """An action the API server or kubectl would refuse; the message is kubectl's kind of answer (``file``: the
    manifest of the refused object, when it came from one)."""

    def __init__(self, message: str, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file


# -- running the controllers -------------------------------------------------------------------------


def _collect_garbage(world: World) -> World:
    """Sets whose Deployment is gone are deleted, and so (gracefully) are their pods."""
    owners = {(d.namespace, d.name) for d in world.deployments}
    orphans = {(rs.namespace, rs.name) for rs in world.replica_sets if (rs.namespace, rs.owner) not in owners}
    if not orphans:
        return world
    pods = tuple(delete_pod(world, p) if (p.namespace, p.owner) in orphans else p for p in world.pods)
    sets = tuple(rs for rs in world.replica_sets if (rs.namespace, rs.name) not in orphans)
    return replace(world, pods=pods, replica_sets=sets)


def _round(world: World, rng: random.Random) -> World:
    world = mark_pods_not_ready(world)
    world = evict(world)
    world = expire(world)
    world = _collect_garbage(world)
    world = retry_unscheduled(world)
    for d in world.deployments:
        world = deploy.sync_deployment(world, d, rng)
    for rs in world.replica_sets:
        current = next(x for x in world.replica_sets if x.key == rs.key)
        world = sync_replica_set(world, current, rng)
    return world


def settle(world: World, rng: random.Random) -> World:
    """Run every controller until the world stops changing; then the scheduler's failures at this instant are
    logged (scheduler.record_failures)."""
    for _ in range(MAX_SETTLE_ROUNDS):
        after = _round(world, rng)
        if after == world:
            break
        world = after
    return record_failures(world)


def next_event(world: World) -> float | None:
    """The next time something changes by itself: a pod becomes ready or is gone, or the taint eviction
    controller deletes one."""
    times = [t for t in (next_pod_event(world), next_eviction(world)) if t is not None]
    return min(times, default=None)


def advance(world: World, seconds: float, rng: random.Random) -> World:
    """Let ``seconds`` pass, stopping at each event on the way; the World it leaves holds the pods at each of
    those instants before its end (World.trail)."""
    target = world.now + seconds
    trail = []
    while (when := next_event(world)) is not None and when <= target:
        world = settle(replace(world, now=when), rng)
        trail.append((when, world.pods))
    return replace(settle(replace(world, now=target), rng), trail=_before(trail, target))


def _before(trail: list[tuple[float, tuple[SimPod, ...]]], end: float) -> tuple[tuple[float, tuple[SimPod, ...]], ...]:
    """A stretch's trail: the instants it stopped at before its ``end`` (the end is the World itself)."""
    return tuple(point for point in trail if point[0] < end)


@dataclass(frozen=True, slots=True)
class RolloutWait:
    world: World
    done: bool
    messages: tuple[tuple[float, str], ...]  # (time, kubectl's line), each new line once


def wait_for_rollout(world: World, namespace: str, name: str, rng: random.Random) -> RolloutWait:
    """``kubectl rollout status``: advance until the rollout completes or misses its progress deadline."""
    d = _deployment(world, namespace, name)
    messages: list[tuple[float, str]] = []
    # the deadline runs from the rollout's last progress, whenever that was, not from this command
    last_progress = deploy.last_progress(world, d)
    last_progress = world.now if last_progress is None else last_progress
    status = deploy.rollout_status(world, d)
    trail: list[tuple[float, tuple[SimPod, ...]]] = []  # (World.trail)
    while True:
        done, line = status.message(d)
        deadline = last_progress + d.progress_deadline
        if not done and world.now >= deadline:  # kubectl reads the Progressing condition first: the error alone
            messages.append((world.now, f'error: deployment "{d.name}" exceeded its progress deadline'))
            return RolloutWait(replace(world, trail=_before(trail, world.now)), False, tuple(messages))
        if not messages or messages[-1][1] != line:
            messages.append((world.now, line))
        if done:
            return RolloutWait(replace(world, trail=_before(trail, world.now)), True, tuple(messages))
        when = next_event(world)
        if when is None or when > deadline:
            world = settle(replace(world, now=max(world.now, deadline)), rng)
            messages.append((world.now, f'error: deployment "{d.name}" exceeded its progress deadline'))
            return RolloutWait(replace(world, trail=_before(trail, world.now)), False, tuple(messages))
        world = settle(replace(world, now=when), rng)
        trail.append((when, world.pods))
        d = _deployment(world, namespace, name)
        after = deploy.rollout_status(world, d)
        if (after.updated, after.available) != (status.updated, status.available) or after.replicas < status.replicas:
            last_progress = world.now
        status = after


# -- the projection the data plane reads ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControllerSync:
    """The projection at one instant, with what the EndpointSlice controller recorded on Services on the way, the
    Services whose topology hints its cache now holds, and its own slices in ``cluster`` (all three for the next
    sync); and what the next sync needs to tell which Services its events queue: what its informers held
    (``seen``), the Nodes' CPU ratios its topology cache holds (read only on a Node event) and its workqueue's
    retries: the Services whose syncs failed, how often, and when each is synced again (queue.retried). The
    loaded slices the controllers delete are not its memory: the caller's World loses them (:func:`collect_slices`,
    ``deleted``), as those of a deleted Service (:func:`delete_services`), and ``seen`` holds the World's slices
    as the sync found them, before it deleted any."""

    cluster: Cluster
    events: tuple[ServiceEvent, ...] = ()
    populated: frozenset[str] = frozenset()
    own: tuple[EndpointSlice, ...] = ()
    seen: Snapshot = field(default_factory=Snapshot)
    ratios: Mapping[str, float] | None = None
    retries: tuple[queue.Retry, ...] = ()
    now: float = 0.0  # the instant of this sync
    # the loaded slices this sync deleted (collect_slices; the World a caller keeps may still hold them): the next
    # sync takes their deletion, or their staying, as no event (the controller's tracker knows its own deletions)
    deleted: tuple[EndpointSlice, ...] = ()


def topology_view(world: World, populated: frozenset[str], ratios: Mapping[str, float] | None) -> TopologyView:
    """The topology cache as the controller sees the world: the zone CPU ratios it read at the last Node event
    (``ratios``, None: it knew too little), the Services whose annotations ask for hints, and those whose hints
    were populated by the previous sync."""
    auto = frozenset(key for key, annotations in world.service_annotations if hints_enabled(dict(annotations)))
    return TopologyView(ratios=ratios if auto else None, auto=auto, populated=populated)


def _cache_ratios(world: World) -> Mapping[str, float] | None:
    """What the topology cache's SetNodes reads from the Nodes: each zone's share of the ready Nodes' CPU."""
    return zone_ratios(world.nodes, world.not_ready_nodes, dict(world.node_cpu))


def _managed(world: World) -> set[str]:
    """The keys of the Services the EndpointSlice controller reconciles (endpointslice.reconciled)."""
    return {s.key for s in world.services if reconciled(s)}


def _snapshot(world: World, pods: tuple[Pod, ...], loaded: tuple[EndpointSlice, ...]) -> Snapshot:
    return Snapshot(services=world.services, annotations=world.service_annotations, pods=pods, nodes=world.nodes,
                    not_ready=world.not_ready_nodes, loaded=loaded)


def _queued(before: ControllerSync, seen: Snapshot, world: World,
            pods: Sequence[Pod]) -> tuple[set[str], Mapping[str, float] | None]:
    """The Services the controller's Service, pod and Node events since ``before`` queue at once
    (controllers.queue; ``pods``: the pods as its informers delivered them last, at ``before`` or at an instant
    since: :func:`_stretch`; its slice handlers' queue a second later: controller_sync), and the CPU ratios its
    topology cache holds after them."""
    ratios = before.ratios
    dirty = queue.service_queued(before.seen, seen)
    dirty |= queue.pod_queued(pods, seen.pods, world.services)
    if queue.nodes_event(before.seen, seen):
        ratios = _cache_ratios(world)
        dirty |= queue.overloaded_services(before.own, before.populated, ratios)
    return dirty, ratios


def _failing(world: World, keys: Collection[str], pods: Collection[Pod]) -> set[str]:
    """Those of ``keys`` whose sync against ``pods`` fails (FailedToUpdateEndpointSlices): exactly those for which
    reconcile_service records it, a reconciled Service selecting an endpoint pod whose Node is not known
    (node_missing). Asked at every instant of a stretch, so it reconciles nothing: with every endpoint's Node known
    (the usual case) no key fails, and otherwise only the few orphaned pods are matched against the keys' Services
    (a reconcile_all per instant made a 300-pod rollout twice as slow)."""
    if not keys:
        return set()
    names = {node.name for node in world.nodes}
    orphans = [p for p in pods if is_endpoint(p) and (p.node_name is None or p.node_name not in names)]
    if not orphans:
        return set()
    by_name = {node.name: node for node in world.nodes}
    return {s.key for s in world.services if s.key in keys and reconciled(s)
            and any(selects(s, p) and node_missing(p, by_name, s) for p in orphans)}


def _stretch(before: ControllerSync, world: World) -> tuple[tuple[queue.Retry, ...], tuple[Pod, ...], set[str]]:
    """The controller's syncs between ``before`` and ``world.now``, at their own instants: at each instant the
    time since stopped at (World.trail: a pod ready or gone, an eviction), the re-adds due before it fire
    against the pods as they were, then the Services its pod events queue and those due at it are synced against
    the new pods (upstream's handlers queue them then, not at the end of a ``wait``: a failure counted then
    sets the next retry from then). Services, Nodes and slices do not change while time passes, only pods. The
    retry state this leaves, the pods as last delivered, and the Services synced (their slices, written at
    those instants, are what the end's pods give: none of their pods changed since, or it queued them again)."""
    retries, pods, synced = before.retries, before.seen.pods, set[str]()
    policy = queue.ENDPOINTSLICE_BACKOFF
    deliveries = _Deliveries({node.name for node in world.nodes})
    failing_pods: Collection[Pod] = pods  # those of the delivered pods _failing may find failing
    for when, sims in world.trail:
        if not before.now < when < world.now:  # another stretch's
            continue
        due = queue.due_before(retries, when)
        retries = queue.fired_before(policy, retries, when, _failing(world, due, failing_pods))
        first = not deliveries.pods
        old, new = deliveries.deliver(sims, when)
        queued = queue.pod_queued(pods if first else old, deliveries.pods if first else new, world.services)
        failing_pods = deliveries.orphans.values()
        keys = queued | queue.due_keys(retries, when)
        retries = queue.retried(policy, retries, when, queued, _failing(world, keys, failing_pods))
        synced |= due | keys
        pods = deliveries.pods
    return retries, pods, synced


class _Deliveries:
    """The pods the controller's informers deliver at the instants of a stretch (``pods``), each
    ``sim.at(when)``, carried from one instant to the next by what differs: the pods replaced, added or gone
    (by identity: a controller keeps every pod object it does not change) and those whose view turns, as it
    reads the clock only through running(), at ``ready_at``. A stretch stops at a thousand instants in a
    1,000-pod rollout, and building and comparing every pod's view at each was most of its cost. Also the
    delivered endpoint pods whose Node is unknown (``orphans``), the only ones _failing can find failing."""

    def __init__(self, node_names: set[str]) -> None:
        self._node_names = node_names
        self._sims: tuple[SimPod, ...] = ()
        self._views: dict[int, tuple[SimPod, Pod]] = {}  # by the id of the pod, which its entry keeps alive
        self._waiting: dict[int, SimPod] = {}  # pods whose view turns once their ready_at has passed
        self.pods: tuple[Pod, ...] = ()
        self.orphans: dict[tuple[str, str], Pod] = {}

    def deliver(self, sims: tuple[SimPod, ...], when: float) -> tuple[list[Pod], list[Pod]]:
        """Move to ``sims`` at ``when``; the views that changed: (the replaced ones, the new ones)."""
        removed, added = differing(self._sims, sims)
        old: list[Pod] = []
        new: list[Pod] = []
        for sim in removed:
            old.append(self._views.pop(id(sim))[1])
            self._waiting.pop(id(sim), None)
        for sim in [s for s in self._waiting.values() if s.ready_at is not None and s.ready_at <= when]:
            del self._waiting[id(sim)]
            old.append(self._views[id(sim)][1])
            new.append(self._view(sim, when))
        for sim in added:
            new.append(self._view(sim, when))
            if sim.ready_at is not None and not sim.unreported and sim.deleted_at is None and sim.ready_at > when:
                self._waiting[id(sim)] = sim
        self._sims = sims
        self.pods = tuple(map(itemgetter(1), map(self._views.__getitem__, map(id, sims))))
        for pod in old:
            self.orphans.pop((pod.namespace, pod.name), None)
        for pod in new:
            if is_endpoint(pod) and (pod.node_name is None or pod.node_name not in self._node_names):
                self.orphans[pod.namespace, pod.name] = pod
        return old, new

    def _view(self, sim: SimPod, when: float) -> Pod:
        pod = sim.at(when)
        self._views[id(sim)] = (sim, pod)
        return pod


def controller_sync(world: World, before: ControllerSync | None = None,
                    slice_events: Iterable[str] = ()) -> ControllerSync:
    """Services, the user's and the controller's EndpointSlices, Nodes and Pods at ``world.now``, and the
    controller's events (``before``, the previous sync: the Services whose hints it populated, so that enabling
    hints is said once and dropping the annotation is noticed, its slices, and what it saw; ``slice_events``: the
    Services whose controller-labelled slices changed in steps that have since deleted them, script.Played's,
    of every step since ``before``).

    The first sync (no ``before``) syncs every Service, as the controller does on its informers' initial lists;
    a later one only those its events queue (:func:`_queued`, controllers.queue) and those whose retry after a
    failed sync has come (queue.retried: 1s, 2s, 4s, ... of scenario time, dropped after 15): the others keep the
    slices and
    events of their last sync, even where the Nodes changed under them (a Node's new zone is not written into
    the slices of a Service nothing queued: updateNode leads only to checkNodeTopologyDistribution;
    kubernetes/kubernetes#123401 is related).

    The loaded slices are the World's, less those the controllers delete now (:func:`collect_slices`): the
    mirroring controller's (a played step's World has none left), and those of the EndpointSlice controller's
    label for a Service it syncs now. A change someone else makes to such a slice queues its Service a second
    later (queue.SLICE_CHANGE_DELAY: a delayed re-add in ``retries``, fired at its instant on the scenario clock
    as a failed sync's retry is), not at once as the Service and pod handlers do: until then kube-proxy sees the
    slice, unless another event syncs the Service sooner. ``deleted`` says which the sync deleted, for the
    caller to drop from its World (the scenario command does). The slices the
    controller wrote for a Service that has since lost its selector or become ExternalName stay as they were: its
    syncService returns before reconciling such a Service and deletes nothing (endpointslice_controller.go), so
    kube-proxy keeps using those endpoints until the Service is deleted (its slices' owner) or gets a selector back.
    """
    # the slice handlers see the World's slices before the controllers delete any, and the next sync compares with
    # these less those this one deleted, so a caller's World that keeps a slice the controllers delete queues its
    # Service once, not at every sync, and one that drops it queues nothing
    loaded = world.user_slices
    touched = set(slice_events)
    if before is not None:  # (its own deletions are no event to it: the tracker knows them)
        touched |= queue.slice_queued(_without(before.seen.loaded, before.deleted), _without(loaded, before.deleted))
    pods = tuple(p.at(world.now) for p in world.pods)
    seen = _snapshot(world, pods, loaded)
    retries: tuple[queue.Retry, ...] = ()
    if before is None:
        queued, ratios, populated = {s.key for s in world.services}, _cache_ratios(world), frozenset[str]()
        replayed = set[str]()
    else:
        retries, delivered, replayed = _stretch(before, world)
        (queued, ratios), populated = _queued(before, seen, world, delivered), before.populated
        retries = queue.added_after(retries, touched, world.now + queue.SLICE_CHANGE_DELAY)
    dirty = queued | queue.due_keys(retries, world.now) | replayed
    synced = tuple(s for s in world.services if s.key in dirty)
    done = reconcile_all(synced, pods, world.nodes, view=topology_view(world, populated, ratios))
    previous = before.own if before is not None else ()
    fresh, kept = slices_by_service(done.slices), slices_by_service(previous)
    present = {s.key for s in world.services}
    unmanaged = present - _managed(world)
    frozen = tuple(s for s in previous if s.service_key in unmanaged)
    own = (*frozen, *(s for service in world.services if service.key not in unmanaged
                      for s in (fresh if service.key in dirty else kept).get(service.key, ())))
    events = tuple(e for e in (before.events if before is not None else ())
                   if e.service not in dirty and e.service in present) + done.events
    failed = {e.service for e in done.events if e.event.reason == FAILED_UPDATE_REASON}
    retries = queue.retried(queue.ENDPOINTSLICE_BACKOFF, retries, world.now, queued, failed)
    placeholders, replaced = kept_placeholders(loaded, synced, fresh, previous)
    own = tuple(s for s in own if s.key not in replaced) if replaced else own
    # only a sync deletes a Service's slices of the label: a Service not synced now keeps them (its sync waits, or a
    # placeholder kept at its last sync: nothing has changed for it since)
    left = collect_slices(world, spare=present - dirty, keep=placeholders).user_slices
    deleted = tuple(s for s in world.user_slices if s not in left) if len(left) < len(loaded) else ()
    world = replace(world, user_slices=left)
    cluster = Cluster(services=world.services, endpoint_slices=(*world.user_slices, *world.mirrored_slices, *own),
                      nodes=world.nodes, pods=pods)
    return ControllerSync(cluster, events, done.populated, own, seen, ratios, retries, world.now, deleted)


def _without(slices: tuple[EndpointSlice, ...], gone: tuple[EndpointSlice, ...]) -> tuple[EndpointSlice, ...]:
    return tuple(s for s in slices if s not in gone) if gone else slices


def _empty(s: EndpointSlice) -> bool:
    return not s.endpoints and not s.ports


def kept_placeholders(loaded: Iterable[EndpointSlice], synced: Iterable[Service],
                      fresh: Mapping[str, list[EndpointSlice]],
                      previous: Iterable[EndpointSlice]) -> tuple[set[str], set[str]]:
    """The loaded slices of the EndpointSlice controller's label it keeps as a synced Service's placeholder, and
    the keys of its own placeholders they stand for: (loaded keys, own keys). Its reconciler deletes every slice
    listed for the Service (labels service-name and managed-by) that no ownerReference ties to the Service's UID
    (ownedBy; a slice applied in a scenario cannot name the UID of a Service the scenario made, so none is
    tied), and reuses none of them for a slice it creates (finalize turns a create into an update only of an
    owned slice), with one exception: when an address type's slices are all to be deleted and none created (no
    endpoints), and the one to delete is equal to the placeholder it would create (placeholderSliceCompare:
    namespace and labels of the metadata, no endpoints, no ports, the address type), it keeps that slice and
    creates none. So a placeholder-like slice is kept only while it is the Service's only slice of its type:
    one loaded or applied with the Service before its first sync, not one applied next to the controller's own
    placeholder (both are then to delete, and the create updates the owned one)."""
    listed: dict[tuple[str, str], list[EndpointSlice]] = {}
    for s in loaded:
        if dict(s.labels).get(MANAGED_BY_LABEL) == CONTROLLER_NAME:
            listed.setdefault((s.service_key, s.address_type.value), []).append(s)
    if not listed:
        return set(), set()
    had = {(s.service_key, s.address_type.value) for s in previous}
    kept: set[str] = set()
    replaced: set[str] = set()
    for service in synced:
        slices = fresh.get(service.key, []) if reconciled(service) else []
        for own in slices:
            kind = (service.key, own.address_type.value)
            group = listed.get(kind, [])
            if (len(group) == 1 and kind not in had and _empty(own) and _empty(group[0])
                    and sum(1 for s in slices if s.address_type == own.address_type) == 1
                    and dict(group[0].labels) == dict(own.labels)):
                kept.add(group[0].key)
                replaced.add(own.key)
    return kept, replaced


def collect_slices(world: World, spare: Collection[str] = frozenset(), *, own_label: bool = True,
                   keep: Collection[str] = frozenset()) -> World:
    """The World once the controllers have deleted the loaded slices that are theirs to delete: the EndpointSlice
    controller's label on a Service it reconciles (a selector, not ExternalName: it deletes the slices of its label
    it did not write) at that Service's sync, so not those of a Service in ``spare`` (not synced now: its sync
    waits, as a slice change's does for a second, or it has had no event since), nor any with ``own_label``
    False; and every one of the mirroring controller's label: a slice of its label it did not write queues its
    Endpoints key (onEndpointSliceAdd/Update: the tracker does not know it), and that sync deletes it (Endpoints
    or Service not found, not to mirror, a selector: deleteMirroredSlices) or reconciles it to the Endpoints, whose
    slices the World keeps itself in ``mirrored_slices`` (controllers.mirroring).

    script.play deletes the mirroring controller's at once (own_label False), the scenario command the
    EndpointSlice controller's once a sync has deleted them (after controller_sync, sparing what it spared), so a
    slice deleted is gone for good, as from the API: the Service losing its selector later does not bring it
    back, and one applied again is a new object, ``created``, which a Service without a selector keeps (its
    syncService returns before reconciling) and one with a selector loses in turn, a second after (the delay of
    its slice handlers: queue.SLICE_CHANGE_DELAY); but for those of ``keep``, which the sync kept as a Service's
    placeholder (:func:`kept_placeholders`). The same World (``is``) when nothing goes."""
    doomed = {(CONTROLLER_NAME, key) for key in _managed(world) if key not in spare} if own_label else set()
    kept = tuple(s for s in world.user_slices
                 if (label := dict(s.labels).get(MANAGED_BY_LABEL, "")) != MIRROR_CONTROLLER
                 and ((label, s.service_key) not in doomed or s.key in keep))
    return world if len(kept) == len(world.user_slices) else replace(world, user_slices=kept)


def cluster_of(world: World) -> Cluster:
    """Services, the user's and the controller's EndpointSlices, Nodes and Pods at ``world.now``
    (:func:`controller_sync` without its events, and without its memory: a first sync, so no slices frozen for a
    Service that lost its selector and no hints known populated; for a caller whose Services keep their
    selectors, as the demo's)."""
    return controller_sync(world).cluster


# -- Deployments -------------------------------------------------------------------------------------------


def _deployment(world: World, namespace: str, name: str) -> Deployment:
    d = world.deployment(namespace, name)
    if d is None:
        raise ActionError(f'deployments.apps "{name}" not found')
    return d


def _put_deployment(world: World, d: Deployment) -> World:
    others = tuple(x for x in world.deployments if x.key != d.key)
    return replace(world, deployments=(*others, d))


def container_name(image: str) -> str:
    """kubectl create deployment's container name: the image's last path element without tag or digest; one
    with ``_`` or ``.`` (not allowed in a container name) has them turned into ``-`` and a suffix added (kubectl's
    is random, this one is derived from the image so runs repeat)."""
    base = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    if any(ch in base for ch in "_."):
        base = f"{base.replace('_', '-').replace('.', '-')}-{stable_suffix(image)}"
    return base or "container"


def new_deployment(namespace: str, name: str, images: list[str], replicas: int, port: int | None) -> Deployment:
    """What ``kubectl create deployment`` submits: label app=NAME, one container per image."""
    labels = (("app", name),)
    ports = (ContainerPort(name=None, container_port=port, protocol=Protocol.TCP),) if port else ()
    containers = tuple(Container(container_name(image), image, ports if i == 0 else ())
                       for i, image in enumerate(images))
    return Deployment(namespace=namespace, name=name, replicas=replicas, selector=labels,
                      template=PodTemplate(labels=labels, containers=containers), labels=labels)


def create_deployment(world: World, d: Deployment, rng: random.Random) -> World:
    if world.deployment(d.namespace, d.name) is not None:
        raise ActionError(f'deployments.apps "{d.name}" already exists')
    return settle(_put_deployment(world, d), rng)


def apply_deployment(world: World, d: Deployment, rng: random.Random) -> World:
    """Create or replace a Deployment's spec (``kubectl apply``)."""
    return settle(_put_deployment(world, d), rng)


def scale(world: World, namespace: str, name: str, replicas: int, rng: random.Random) -> World:
    d = _deployment(world, namespace, name)
    return settle(_put_deployment(world, replace(d, replicas=replicas)), rng)


def set_image(world: World, namespace: str, name: str, images: dict[str, str], rng: random.Random) -> World:
    """``kubectl set image``: a name is a container's or an init container's (kubectl 1.33 sets initContainers,
    sidecars or not, as containers), ``*`` names them all."""
    d = _deployment(world, namespace, name)
    known = {c.name for c in (*d.template.containers, *d.template.init_containers)}
    for container in images:
        if container != "*" and container not in known:
            raise ActionError(f'unable to find container named "{container}"')

    def with_images(containers: tuple[Container, ...]) -> tuple[Container, ...]:
        return tuple(replace(c, image=images.get(c.name, images.get("*", c.image))) for c in containers)

    template = replace(d.template, containers=with_images(d.template.containers),
                       init_containers=with_images(d.template.init_containers))
    return settle(_put_deployment(world, replace(d, template=template)), rng)


def undo(world: World, namespace: str, name: str, rng: random.Random, to_revision: int = 0) -> tuple[World, str]:
    """``kubectl rollout undo``: the Deployment takes the template of the previous (or given) revision."""
    d = _deployment(world, namespace, name)
    target, problem = deploy.undo_target(world, d, to_revision)
    if target is None:
        raise ActionError(problem)
    template = target.template.without_hash()
    if template == d.template:
        return world, f"deployment.apps/{name} skipped rollback (current template already matches revision " \
                      f"{target.revision})"
    # kubectl copies the revision's annotations back, its change-cause among them
    world = settle(_put_deployment(world, replace(d, template=template, change_cause=target.change_cause)), rng)
    return world, f"deployment.apps/{name} rolled back"


def delete_deployment(world: World, namespace: str, name: str, rng: random.Random) -> World:
    _deployment(world, namespace, name)
    kept = tuple(d for d in world.deployments if not (d.namespace == namespace and d.name == name))
    return settle(replace(world, deployments=kept), rng)


# -- Pods -------------------------------------------------------------------------------------------------------


def _pod(world: World, namespace: str, name: str) -> SimPod:
    pod = world.pod(namespace, name)
    if pod is None:
        raise ActionError(f'pods "{name}" not found')
    return pod


def label_pod(world: World, namespace: str, name: str, changes: dict[str, str | None], rng: random.Random,
              *, overwrite: bool = False) -> World:
    """``kubectl label pods``: ``None`` removes a label; changing an existing value needs ``overwrite``."""
    pod = _pod(world, namespace, name)
    labels = dict(pod.labels)
    for key, value in changes.items():
        if value is not None and key in labels and labels[key] != value and not overwrite:
            raise ActionError(f"'{key}' already has a value ({labels[key]}), and --overwrite is false")
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    changed = replace(pod, labels=tuple(sorted(labels.items())))
    return settle(replace(world, pods=tuple(changed if p is pod else p for p in world.pods)), rng)


def delete_pods(world: World, namespace: str, names: list[str], rng: random.Random) -> World:
    for name in names:
        _pod(world, namespace, name)
    doomed = set(names)
    pods = tuple(delete_pod(world, p) if p.namespace == namespace and p.name in doomed else p for p in world.pods)
    return settle(replace(world, pods=pods), rng)


def add_pods(world: World, pods: Sequence[Pod], rng: random.Random,
             written: Mapping[str, tuple[tuple[Toleration, ...], str | None]] | None = None,
             last_applied: Mapping[str, LastApplied] | None = None,
             containers: Mapping[str, int] | None = None) -> tuple[World, tuple[PortConflict, ...]]:
    """Bare Pods as applied, each replacing the one of its name (and moved last), then settled once; a name written
    twice in ``pods`` is the last copy's (kubectl creates the first and patches it with the second), the first
    never placed nor counted, and a pod replaced no longer counts on its node for the new ones. One is kept
    as written if it has an address (the scheduler still binds it if it names no node). One that names a node
    but has no address keeps its node, as kube-scheduler takes only pods whose spec.nodeName is empty, and is
    started there with an address of that node (a host-network pod: the node's host IPs, the kubelet's
    status.podIPs for it); one that names none is scheduled and started like any pod (a host-network one takes
    its node's addresses whatever it was written with: they are the kubelet's to report). The pods share one
    scheduler state and one settle: a manifest of many pods costs what they are, where a settle per pod cost the
    pods times the cluster (100,000 pods ran for hours).

    Also returned: the host-network pods applied bound where a pod before them holds one of their host ports,
    which the kubelet would refuse (the order the manifest gives decides which one). ``written``: each pod's
    spec.tolerations as written (the DefaultTolerationSeconds plugin adds its defaults here) and pod-deletion-cost
    annotation, by NS/NAME, as update_pods takes them (left out: none); ``last_applied``: what the apply of each
    wrote, its last-applied view (left out: none, a pod made otherwise); ``containers``: each manifest's count of
    spec.containers and sidecar init containers, by NS/NAME, which kubectl's READY column shows (left out: 1, the
    fewest a Pod the API server takes has)."""
    last = {pod.key: index for index, pod in enumerate(pods)}
    applied = [pod for index, pod in enumerate(pods) if last[pod.key] == index]  # a name written twice: the last
    ipam = Ipam(replace(world, pods=tuple(p for p in world.pods if p.key not in last)))  # the replaced ones go
    added: list[SimPod] = []
    conflicts: list[PortConflict] = []
    fields = written or {}
    for pod in applied:
        own, cost = fields.get(pod.key, ((), None))
        sim = SimPod(namespace=pod.namespace, name=pod.name, labels=pod.labels, owner=None, images=(),
                     ports=pod.ports, sidecar_ports=pod.sidecar_ports, containers=(containers or {}).get(pod.key, 1),
                     created=world.now, serial=world.serial,
                     node_name=pod.node_name,
                     pod_ips=pod.pod_ips, ready_at=world.now if pod.ready else None,
                     deleted_at=world.now if pod.terminating else None, host_network=pod.host_network,
                     tolerations=admitted_tolerations(own), deletion_cost=cost,
                     last_applied=(last_applied or {}).get(pod.key))
        world = replace(world, serial=world.serial + 1)
        if sim.node_name is not None:  # bound as written: kube-scheduler leaves it to that node's kubelet
            if taken := ipam.hold(sim):
                conflicts.append(PortConflict(sim.key, sim.node_name, taken))
            if not sim.pod_ips:  # no status: the kubelet starts it there, with an address of that node
                world, sim = bind(world, replace(sim, ready_at=None), ipam)
        elif sim.host_network or not sim.pod_ips:
            world, sim = bind(world, replace(sim, pod_ips=(), ready_at=None), ipam)
        else:
            ipam.hold(sim)
        added.append(sim)
    others = tuple(p for p in world.pods if p.key not in last)
    return settle(replace(world, pods=(*others, *added)), rng), tuple(conflicts)


def update_pods(world: World, written: Mapping[str, tuple[tuple[Toleration, ...], str | None]],
                rng: random.Random, last_applied: Mapping[str, LastApplied] | None = None) -> World:
    """Pods, by NS/NAME, updated in place to the spec.tolerations (the admission plugin's defaults added) and the
    pod-deletion-cost written for them, then settled: the pod update the API server allows
    (model.only_added_tolerations, which the caller has checked), after which the taint eviction controller runs
    processPodOnNode for the pod again (tainteviction.evict): a toleration now forever cancels its deletion, one
    still matching keeps its scheduled time. ``last_applied``: the new last-applied view of the pods an apply updated
    (the others keep theirs)."""
    views = last_applied or {}
    pods = tuple(p if p.key not in written else
                 replace(p, tolerations=admitted_tolerations(written[p.key][0]), deletion_cost=written[p.key][1],
                         last_applied=views.get(p.key, p.last_applied))
                 for p in world.pods)
    return settle(replace(world, pods=pods), rng)


# -- Services -----------------------------------------------------------------------------------------------------


def service_ranges(world: World) -> dict[IPFamily, str]:
    """The API server's service ranges by family, primary (its default family) first: ``world.service_cidrs`` when
    set, else one default range for each address family of the Nodes (pod CIDRs, else InternalIPs), in the order
    of the first Node by name that has any; IPv4 alone without Nodes."""
    if world.service_cidrs:
        return {ip_family(cidr): cidr for cidr in world.service_cidrs}
    families: dict[IPFamily, None] = {}
    for node in sorted(world.nodes, key=lambda n: n.name):
        addresses = node.pod_cidrs or tuple(a.address for a in node.addresses if a.type == "InternalIP")
        families.update((ip_family(a), None) for a in addresses)
    return {family: DEFAULT_SERVICE_CIDRS[family] for family in families or (IPFamily.IPV4,)}


Problem = tuple[str, str | list[str], str]  # (field path, value, why): one of the API server's field.Invalid


def _refusal(service: Service, problems: list[Problem]) -> ActionError:
    """The API server's Invalid status for one or more field.Invalid errors: a value (a string, or clusterIPs as Go
    prints a []string) and why; several are listed in brackets, as Go's error aggregate prints them."""
    texts = []
    for path, value, why in problems:
        shown = f'"{value}"' if isinstance(value, str) else "[]string{" + ", ".join(f'"{v}"' for v in value) + "}"
        texts.append(f"{path}: Invalid value: {shown}: {why}")
    body = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    file = service.origin.file if service.origin.file != Origin().file else None
    return ActionError(f'The Service "{service.name}" is invalid: {body}', file)


def _invalid(service: Service, path: str, value: str | list[str], why: str) -> ActionError:
    """The API server's field.Invalid, alone."""
    return _refusal(service, [(path, value, why)])


def _changed_ips(before: tuple[str, ...], after: list[str]) -> list[int]:
    """The clusterIPs indexes an update changed, which the API server refuses (validateUpgradeDowngradeClusterIPs):
    any, when the count is the same; else the primary (a secondary may be added, or released under SingleStack)."""
    if len(before) == len(after):
        return [i for i, (old, new) in enumerate(zip(before, after, strict=True)) if old != new]
    return [0] if before and after and before[0] != after[0] else []


def _given_ip_problem(world: World, service: Service, ip: str, cidr: str, used: Collection[str]) -> str | None:
    """Why the family's allocator refuses a written address (ipallocator Allocate): outside the range (its network
    address and, for IPv4, broadcast address included), or held by another Service (``used``: every Service's).
    Outside a default range (none given), a hint follows the API server's words: the cluster's objects may come
    from an API server with another range."""
    (network, last), address = host_offsets(cidr), netaddr.IPAddress(ip)
    if not 1 <= int(address) - int(network.network) <= last:
        hint = "" if world.service_cidrs else \
            f"; expected an address of the service range, or the cluster's range as {SERVICE_RANGE_FLAG}"
        return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {network.cidr}{hint}"
    if ip not in used:
        return None
    holder = next((s for s in world.services if s.key != service.key and ip in s.cluster_ips), None)
    return None if holder is None else f"provided IP is already allocated (Service {holder.key} has it)"


def _other_family(family: IPFamily) -> IPFamily:
    """The family a dual-stack Service takes second."""
    return IPFamily.IPV6 if family is IPFamily.IPV4 else IPFamily.IPV4


def _cluster_ips(world: World, service: Service, rng: random.Random, policy: str | None, *,
                 headless: bool = False, written: WrittenIPFields = NOTHING_WRITTEN) -> Service:
    """clusterIPs and ipFamilies as the API server completes them (531be81208e2
    pkg/registry/core/service/storage/alloc.go: initIPFamilyFields, allocClusterIPs): a policy left out is
    SingleStack on create, and the previous one on update (here: dual when the Service already has, or asks for,
    two families); requested families must have a service range; a Service naming none gets the primary family,
    and a dual-stack policy the other family too when the cluster has both (RequireDualStack refuses a single-stack
    cluster); a missing address of a family is allocated from its range; clusterIPs follow ipFamilies' order. A
    SingleStack policy on an update releases the secondary address.

    A ``headless`` Service gets its families the same way and no address (allocClusterIPs skips it); one without a
    selector defaults to RequireDualStack and takes the other family under a dual-stack policy even on a
    single-stack cluster, unchecked (initIPFamilyFields' headless-and-selectorless special case).

    On an update (``written``: what the manifest wrote of the folded fields), a changed address is refused as
    validateUpgradeDowngradeClusterIPs refuses it ("may not change once set"), and so is releasing the secondary
    address under a policy other than SingleStack; the old Service stays. A written address of a family without a
    range is reported at ``spec.ipFamilies[i]`` when that family was written, else at ``spec.clusterIPs[i]``."""
    previous = world.service(service.namespace, service.name)
    before = previous.cluster_ips if previous is not None and not headless else ()
    kept, ips, requested = _kept_fields(previous, service, before, headless, written)
    selectorless = headless and not service.selector
    if policy is None:  # the API server takes two families only with a dual-stack policy (an update: the old one)
        policy = PREFER_DUAL_STACK if max(len(ips), len(requested), len(before)) > 1 else SINGLE_STACK
        policy = REQUIRE_DUAL_STACK if selectorless else policy
    ips, requested = _policy_checked(service, policy, kept, ips, requested, before)
    families = [ip_family(ip) for ip in ips]
    for i, family in enumerate(requested[: len(families)]):
        if family is not families[i]:
            raise _invalid(service, f"spec.ipFamilies[{i}]", family.value, "may not change once set")
    families += requested[len(families):]
    ranges = service_ranges(world)
    if selectorless:
        families = families or [next(iter(ranges))]
        if len(families) < 2 and policy != SINGLE_STACK:
            families.append(_other_family(families[0]))
        return replace(service, ip_families=tuple(families), cluster_ip_unset=False)  # "None", kept or written
    families = _families_in_ranges(world, service, policy, ips, families, ranges, written)
    if headless:
        return replace(service, ip_families=tuple(families), cluster_ip_unset=False)
    ips = _allocated_ips(world, service, previous, before, ips, families, ranges, rng)
    return replace(service, cluster_ips=tuple(ips), ip_families=tuple(families), cluster_ip_unset=False)


def _kept_fields(previous: Service | None, service: Service, before: tuple[str, ...], headless: bool,
                 written: WrittenIPFields) -> tuple[bool, list[str], list[IPFamily]]:
    """(whether the live Service's fields are kept, its cluster IPs, its requested families) as an apply leaves
    them: kubectl apply sends only what the manifest wrote, so an update that writes no list keeps the live
    addresses and families, which the API server then checks as if written."""
    if headless:  # an update naming no family keeps the previous ones (as kubectl apply leaves them)
        kept = not service.ip_families and previous is not None and previous.headless and bool(previous.ip_families)
        return kept, [], list(previous.ip_families if kept and previous is not None else service.ip_families)
    # kubectl apply keeps the live clusterIPs unless the manifest writes the list, or changes clusterIP
    kept = bool(before) and (not service.cluster_ips or (
        not written.cluster_ips_list and service.cluster_ips == before[:1]))
    ips = list(before if kept else service.cluster_ips)
    requested = list(service.ip_families) or (list(previous.ip_families) if kept and previous is not None else [])
    return kept, ips, requested


def _policy_checked(service: Service, policy: str, kept: bool, ips: list[str], requested: list[IPFamily],
                    before: tuple[str, ...]) -> tuple[list[str], list[IPFamily]]:
    """The addresses and families the ipFamilyPolicy allows, or the API server's refusal of them: only
    SingleStack releases a secondary address, and it allows one cluster IP and one IP family (an update's kept
    second address and family go)."""
    problems: list[Problem] = []
    if policy != SINGLE_STACK and 0 < len(ips) < len(before):
        problems.append(("spec.ipFamilyPolicy", policy, "must be 'SingleStack' to release the secondary cluster IP"))
    if policy == SINGLE_STACK:
        if kept:  # clear intent on an update: the secondary address and family go
            ips, requested = ips[:1], requested[:1]
        for what, items in (("cluster IPs", ips), ("IP families", requested)):
            if len(items) > 1:
                problems.append(("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or 'PreferDualStack' "
                                 f"when multiple {what} are specified"))
    if problems:
        raise _refusal(service, problems)
    return ips, requested


def _families_in_ranges(world: World, service: Service, policy: str, ips: list[str], families: list[IPFamily],
                        ranges: dict[IPFamily, str], written: WrittenIPFields) -> list[IPFamily]:
    """The Service's families, each checked against the cluster's service ranges (the API server refuses a
    family it has no range for, and RequireDualStack on a single-stack cluster), then completed: the primary
    family when none was given, the other one too under a dual-stack policy on a dual-stack cluster."""
    where = f"(the service ranges here are {', '.join(ranges.values())}"
    where += ", from the Nodes' address families)" if not world.service_cidrs else ")"
    # a written address whose family was not written: the family inferred from it is named at the address
    problems: list[Problem] = [
        (f"spec.clusterIPs[{i}]", ips, f"{families[i].value} is not configured on this cluster {where}")
        for i in range(written.ip_families, len(ips)) if families[i] not in ranges]
    if problems:
        raise _refusal(service, problems)
    if policy == REQUIRE_DUAL_STACK and len(ranges) < 2:
        problems.append(("spec.ipFamilyPolicy", policy, f"this cluster is not configured for dual-stack services "
                         f"{where}"))
    problems += [(f"spec.ipFamilies[{i}]", family.value, f"not configured on this cluster {where}")
                 for i, family in enumerate(families) if family not in ranges]
    if problems:
        raise _refusal(service, problems)
    if not families:
        families = [next(iter(ranges))]
    if policy != SINGLE_STACK and len(families) == 1 and len(ranges) == 2:
        families.append(_other_family(families[0]))
    return families


def _allocated_ips(world: World, service: Service, previous: Service | None, before: tuple[str, ...],
                   ips: list[str], families: list[IPFamily], ranges: dict[IPFamily, str],
                   rng: random.Random) -> list[str]:
    """``ips`` with an address of each family still without one, as allocClusterIPs gives them, once what the
    API server refuses is refused: an address changed on update, and a written one the Service does not hold yet
    that is outside its range or taken."""
    if changed := _changed_ips(before, ips):  # validation, after allocation (which leaves a changed one alone)
        raise _refusal(service, [(f"spec.clusterIPs[{i}]", ips, "may not change once set") for i in changed])
    used = world.index().cluster_ips  # every Service's addresses, this one's previous too
    held = set(previous.cluster_ips) if previous is not None else set()
    for ip, family in zip(ips, families, strict=False):  # allocIPs: a written address the Service does not hold yet
        if ip not in held and (problem := _given_ip_problem(world, service, ip, ranges[family], used)) is not None:
            shown = ips + [""] * (len(families) - len(ips))  # Go's marker for each address still to allocate
            raise _invalid(service, "spec.clusterIPs", shown, f"failed to allocate IP {ip}: {problem}")
    allocated = list(ips)
    for family in families[len(ips):]:
        allocated.append(cluster_ip(ranges[family], used, rng))
    return allocated


def _headless_update(previous: Service | None, service: Service) -> bool:
    """Whether the Service is headless once applied: an apply that leaves clusterIP out of a headless ClusterIP
    Service keeps "None" (patchAllocatedValues). Turning a headless Service into one with an address, or back, is
    refused as any change of clusterIPs[0] is ("may not change once set"); to and from ExternalName is free."""
    headless = service.headless
    if previous is None or ServiceType.EXTERNAL_NAME in (previous.type, service.type):
        return headless
    if previous.headless and service.cluster_ip_unset and service.type is ServiceType.CLUSTER_IP:
        return True
    if previous.headless != headless and (headless or service.cluster_ips):
        raise _invalid(service, "spec.clusterIPs[0]", ["None"] if headless else list(service.cluster_ips),
                       "may not change once set")
    return headless


class _PortsTaken:
    """The node ports the allocator must not give a Service: those other Services hold (``held``: every Service's
    counts, less what ``previous``, the Service's last version, holds: its own it may keep) and those it was given
    since (:meth:`add`)."""

    def __init__(self, held: Mapping[int, int], previous: Service | None) -> None:
        self._held = held
        self._own = Counter(service_node_ports(previous) if previous is not None else ())
        self._added: set[int] = set()

    def __contains__(self, port: object) -> bool:
        return port in self._added or (isinstance(port, int) and self._held.get(port, 0) > self._own[port])

    def add(self, port: int) -> None:
        self._added.add(port)


def admit_service(world: World, service: Service, rng: random.Random, *, policy: str | None = None,
                  written: WrittenIPFields = NOTHING_WRITTEN) -> Service:
    """Fill in what the API server allocates: IP families, cluster IPs (not for a headless Service, nor
    ExternalName; ``policy`` is spec.ipFamilyPolicy, None when not given; ``written``: what the manifest wrote of
    clusterIPs and ipFamilies) and node ports; an update the API server refuses raises ActionError."""
    if service.type is not ServiceType.EXTERNAL_NAME:
        headless = _headless_update(world.service(service.namespace, service.name), service)
        service = _cluster_ips(world, service, rng, policy, headless=headless, written=written)
    if service.type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER):
        previous = world.service(service.namespace, service.name)
        kept = {(p.name, p.protocol): p.node_port for p in previous.ports} if previous is not None else {}
        used_ports = _PortsTaken(world.index().node_ports, previous)
        ports = []
        for port in service.ports:
            if port.node_port == 0:  # an allocated port stays with its Service port (apply leaves it alone)
                port = replace(port, node_port=kept.get((port.name, port.protocol)) or node_port(used_ports, rng))
            used_ports.add(port.node_port)
            ports.append(port)
        service = replace(service, ports=tuple(ports))
        if (service.type is ServiceType.LOAD_BALANCER and service.external_traffic_policy is TrafficPolicy.LOCAL
                and not service.health_check_node_port):
            hc = previous.health_check_node_port if previous is not None else 0
            service = replace(service, health_check_node_port=hc or node_port(used_ports, rng))
    return service


def put_service(world: World, service: Service, annotations: tuple[tuple[str, str], ...] | None = None) -> World:
    """Add or replace a Service; ``annotations`` (when given) replace its topology annotations, the only ones
    the model keeps (others are dropped)."""
    kept = None if annotations is None else tuple(sorted((k, v) for k, v in annotations if k in ANNOTATIONS))
    return world.with_service(service, kept)


def annotations_of(world: World, key: str) -> tuple[tuple[str, str], ...]:
    return world.index().annotations.get(key, ())


def expose(world: World, namespace: str, deployment: str, rng: random.Random, *, port: int | None,
           target_port: int | str | None = None, service_type: ServiceType = ServiceType.CLUSTER_IP,
           name: str | None = None, protocol: Protocol | None = None) -> tuple[World, Service]:
    """``kubectl expose deployment``: the Deployment's selector and labels, its ports, allocated addresses (a
    single-stack Service of the cluster's primary family, as kubectl sets no family)."""
    d = _deployment(world, namespace, deployment)
    service_name = name or d.name
    if world.service(namespace, service_name) is not None:
        raise ActionError(f'services "{service_name}" already exists')
    ports = exposed_ports(d, port, protocol)
    if target_port is not None:
        ports = tuple(replace(p, target_port=target_port) for p in ports)
    service = Service(namespace=namespace, name=service_name, type=service_type, ports=ports,
                      selector=d.selector, labels=d.labels, cluster_ip_unset=True)
    service = admit_service(world, service, rng)
    return put_service(world, service), service


def exposed_ports(d: Deployment, port: int | None, protocol: Protocol | None) -> tuple[ServicePort, ...]:
    """The ports ``kubectl expose`` gives a Service: ``--port``, or else every container port of the pod
    template. Several ports are named ``port-N`` (``port-N-udp`` for each protocol of a number two protocols
    share); ``--protocol`` sets them all, else each keeps its container port's; the target port is the port."""
    found: dict[int, list[Protocol]] = {}
    for container in d.template.containers:
        for cp in container.ports:
            found.setdefault(cp.container_port, []).append(cp.protocol)
    if port is not None:  # the number given, with the protocols the template gives it (else TCP)
        found = {port: found.get(port, [Protocol.TCP])}
    if not found:
        raise ActionError("couldn't find port via --port flag or introspection")
    out: list[ServicePort] = []
    for index, (number, protocols) in enumerate(found.items(), start=1):
        name = f"port-{index}" if len(found) > 1 else ""
        kinds = [protocol] if protocol else list(dict.fromkeys(protocols))
        for kind in kinds:
            label = f"port-{index}-{kind.value.lower()}" if len(kinds) > 1 else name
            out.append(ServicePort(name=label, protocol=kind, port=number, target_port=number))
    return tuple(out)


def delete_services(world: World, namespace: str, names: list[str]) -> World:
    """``kubectl delete service``: the Services go, and with them their loaded slices of the EndpointSlice
    controller (the garbage collector deletes what a Service owns) and of the mirroring controller; and their
    Endpoints, which the endpoints controller deletes for a Service not found, selector or not (syncService), so
    the mirroring controller deletes the slices it made of them (script.play); a Service made again under the name
    starts without them. Gone from the World, as the loaded slices the controllers delete are
    (:func:`collect_slices`)."""
    for name in names:
        if world.service(namespace, name) is None:
            raise ActionError(f'services "{name}" not found')
    gone = {(namespace, name) for name in names}
    slices = tuple(s for s in world.user_slices
                   if not ((s.namespace, s.service_name) in gone
                           and dict(s.labels).get(MANAGED_BY_LABEL) in (CONTROLLER_NAME, MIRROR_CONTROLLER)))
    endpoints = tuple(e for e in world.endpoints if (e.namespace, e.name) not in gone)
    return replace(world.without_services(frozenset(f"{namespace}/{name}" for name in names)), user_slices=slices,
                   endpoints=endpoints)


def labelled(items: tuple[Service, ...] | tuple[SimPod, ...] | tuple[Deployment, ...], namespace: str,
             selector: tuple[tuple[str, str], ...]) -> list[str]:
    """Names of the objects in ``namespace`` whose labels match an equality selector."""
    return [x.name for x in items if x.namespace == namespace and all(dict(x.labels).get(k) == v
                                                                       for k, v in selector)]


# -- applying loaded objects --------------------------------------------------------------------------------------


def put_nodes(world: World, nodes: tuple[Node, ...], not_ready: frozenset[str], rng: random.Random,
              cpu: Mapping[str, int] | None = None, max_pods: Mapping[str, int] | None = None,
              unreachable: frozenset[str] = frozenset(), untainted: frozenset[str] = frozenset()) -> World:
    """Add or replace Nodes; readiness (``not_ready``: Ready not True; ``unreachable``: those of them whose Ready
    is Unknown; ``untainted``: those whose Ready is none of True, False and Unknown, or missing), allocatable CPU
    (millicores by name; a Node left out has none) and allocatable pods (by name; a Node left out takes the
    kubelet's default) as given. Their pods' readiness follows (nodelifecycle): marked not ready where a Node turns from
    Ready True to Unknown, as reported again where a Node's kubelet posts again (which also stops the pods deleted
    meanwhile). A Node whose Ready turns False or Unknown gets its NoExecute taint now, whose pods the taint
    eviction controller deletes when their tolerations run out, and one that turns True loses it, cancelling those
    deletions (tainteviction)."""
    names = {n.name for n in nodes}
    kept = tuple(n for n in world.nodes if n.name not in names)
    ready_now = world.not_ready_nodes - names | not_ready
    silent = silent_after(world, nodes, unreachable)
    unreachable_now = frozenset(world.unreachable_nodes - names | unreachable)
    untainted_now = frozenset(world.untainted_nodes - names | untainted)
    world = kubelets_back(world, world.unreachable_nodes - unreachable_now)
    world = cancel_evictions(world, world.no_execute_nodes - (ready_now - untainted_now))
    return settle(replace(world, nodes=(*kept, *nodes), not_ready_nodes=frozenset(ready_now), silent_nodes=silent,
                          unreachable_nodes=unreachable_now, untainted_nodes=untainted_now,
                          node_cpu=_node_facts(world.node_cpu, nodes, cpu or {}),
                          node_max_pods=_node_facts(world.node_max_pods, nodes, max_pods or {})), rng)


def _node_facts(before: tuple[tuple[str, int], ...], nodes: tuple[Node, ...],
                given: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """One per-Node fact after ``nodes`` are put: theirs replaced by what is given (a Node not given has none)."""
    names = {n.name for n in nodes}
    kept = tuple((name, value) for name, value in before if name not in names)
    return kept + tuple((n.name, given[n.name]) for n in nodes if n.name in given)


def put_slices(world: World, slices: tuple[EndpointSlice, ...]) -> World:
    keys = {s.key for s in slices}
    kept = tuple(s for s in world.user_slices if s.key not in keys)
    return replace(world, user_slices=(*kept, *slices))


def pods_of_service(world: World, service: Service) -> list[SimPod]:
    """The pods a Service's selector picks (for messages and tests)."""
    return [p for p in world.pods if selects(service, p.at(world.now))]


# -- cordon, uncordon, drain --------------------------------------------------------------------------------------


def cordon(world: World, name: str, rng: random.Random, *, on: bool = True) -> tuple[World, bool]:
    """kubectl cordon (``on``) or uncordon: the Node's spec.unschedulable set or cleared, and whether that changed
    it (kubectl says ``already cordoned`` otherwise). Uncordoned, the pods no node took are placed again (the
    controllers settle); cordoned, the pods on it stay."""
    if all(n.name != name for n in world.nodes):
        raise ActionError(f'Error from server (NotFound): nodes "{name}" not found')
    if (name in world.cordoned) == on:
        return world, False
    cordoned = world.cordoned | {name} if on else world.cordoned - {name}
    return settle(replace(world, cordoned=cordoned), rng), True


@dataclass(frozen=True, slots=True)
class Drained:
    """What kubectl drain did: the World after it, its lines, and its error (it exits 1, the node cordoned)."""

    world: World
    notes: tuple[str, ...]
    error: str | None = None


def drain(world: World, name: str, rng: random.Random, *, force: bool = False) -> Drained:
    """kubectl drain (k8s.io/kubectl/pkg/drain, 1.33): the Node cordoned, then every pod on it evicted, listed as
    the API server lists them (namespace/name order), and waited for until it is gone (an eviction is a graceful
    deletion: the pod is terminating, its endpoints serving=false, for its grace period). A pod that declares no
    controller (a bare Pod) stops the drain unless ``force`` (kubectl's unreplicatedFilter); no DaemonSet, mirror
    pod, PodDisruptionBudget or emptyDir is modelled, so --ignore-daemonsets and --delete-emptydir-data change
    nothing. A pod on a Node whose kubelet does not answer never goes: kubectl would wait without end."""
    world, changed = cordon(world, name, rng)
    notes = [f"node/{name} {'cordoned' if changed else 'already cordoned'}"]
    pods = sorted((p for p in world.pods if p.node_name == name), key=lambda p: (p.namespace, p.name))
    bare = [f"{p.namespace}/{p.name}" for p in pods if p.owner is None]
    if bare and not force:
        why = f"cannot delete Pods that declare no controller (use --force to override): {', '.join(bare)}"
        return Drained(world, tuple(notes), f'unable to drain node "{name}" due to error: {why}, continuing '
                       "command...")
    if bare:
        notes.append(f"Warning: deleting Pods that declare no controller: {', '.join(bare)}")
    notes += [f"evicting pod {p.namespace}/{p.name}" for p in pods]
    deleted = {p.key: delete_pod(world, p) for p in pods}
    world = settle(replace(world, pods=tuple(deleted.get(p.key, p) for p in world.pods)), rng)
    evicted = list(deleted.values())
    if any(p.gone_at is None for p in evicted):
        stuck = ", ".join(f"{p.namespace}/{p.name}" for p in evicted if p.gone_at is None)
        return Drained(world, tuple(notes), f"pods {stuck} stay terminating: node {name}'s kubelet does not answer "
                       "(Ready Unknown), and kubectl drain waits for them without end (give it --timeout)")
    last = max((p.gone_at for p in evicted if p.gone_at is not None), default=world.now)
    if last > world.now:
        world = advance(world, last - world.now, rng)
    notes += [f"pod/{p.name} evicted" for p in sorted(evicted, key=lambda p: (p.gone_at or 0.0, p.namespace, p.name))]
    notes.append(f"node/{name} drained")
    return Drained(world, tuple(notes))
