"""The workload objects the controllers own, and the one immutable value that holds a cluster's state.

Deployments, ReplicaSets and the controllers' view of Pods live only here: the
data plane never reads them. What the proxier consumes (Pods, Services,
EndpointSlices, Nodes) is projected from a :class:`World` with
:func:`kubeproxy_sim.controllers.world.cluster_of`. Times are seconds on an
injected clock (a float), never the wall clock.
"""

from __future__ import annotations

import bisect
import hashlib
import operator
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import compress, islice
from typing import TypeVar, cast

from kubeproxy_sim.objects.mirror import Endpoints
from kubeproxy_sim.objects.model import ContainerPort, EndpointSlice, Node, Pod, Service

POD_TEMPLATE_HASH = "pod-template-hash"
DEFAULT_GRACE_PERIOD = 30
DEFAULT_PROGRESS_DEADLINE = 600
DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"
DEFAULT_HISTORY_LIMIT = 10
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"  # the annotation a scale-down reads first
DEFAULT_TOLERATION_SECONDS = 300  # kube-apiserver's --default-not-ready/unreachable-toleration-seconds
MAX_REPLICAS = 150_000
"""The simulator's limit on one Deployment's replicas: Kubernetes' tested limit of pods in a whole cluster
(kubernetes.io/docs/setup/best-practices/cluster-large: "No more than 150,000 total pods"). The controllers build
every missing pod in one step (about 0.1 ms and a few kilobytes each), so a typo's 2147483647 would otherwise run
until the machine's memory is gone."""


def replicas_over_limit(count: int) -> str | None:
    """Why a replica count is refused (more than :data:`MAX_REPLICAS`), or None."""
    if count <= MAX_REPLICAS:
        return None
    return (f"{count:,} replicas is more than the simulator's limit of {MAX_REPLICAS:,} (Kubernetes' tested limit of "
            f"pods in a whole cluster); expected 0-{MAX_REPLICAS}")

Labels = tuple[tuple[str, str], ...]
K = TypeVar("K")


class Strategy(StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    image: str
    ports: tuple[ContainerPort, ...] = ()
    # an init container's restartPolicy: "Always" for a sidecar, empty for one that runs to completion (and for
    # every container of spec.containers, where the field is not allowed)
    restart_policy: str = ""


@dataclass(frozen=True, slots=True)
class Toleration:
    """One of a pod's spec.tolerations, as written (the API server's validation already passed): ``operator`` is
    ``Equal``, ``Exists`` or empty (left out), which matches as ``Equal`` but is stored empty, as the API server
    stores it (no defaulting function sets it), so an update that writes ``Equal`` for it changes the toleration;
    an empty ``key`` or ``effect`` matches every key or effect, and ``seconds`` (tolerationSeconds, with effect
    NoExecute only) bounds how long a NoExecute taint is tolerated (None: forever)."""

    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""
    seconds: int | None = None


def tolerates(toleration: Toleration, key: str, effect: str) -> bool:
    """Toleration.ToleratesTaint for the taint ``key``:``effect`` with no value, as the node lifecycle controller
    writes its taints: an empty effect or key matches any, ``Exists`` any value, ``Equal`` (or none) the empty
    value."""
    if toleration.effect not in ("", effect) or toleration.key not in ("", key):
        return False
    return toleration.operator == "Exists" or (toleration.operator in ("", "Equal") and toleration.value == "")


def _covers(toleration: Toleration, key: str) -> bool:
    """Whether DefaultTolerationSeconds takes ``toleration`` as the pod's own for the NoExecute taint ``key``: it
    looks at the key and the effect only (not the operator or value)."""
    return toleration.key in ("", key) and toleration.effect in ("", NO_EXECUTE)


def admitted_tolerations(written: tuple[Toleration, ...]) -> tuple[Toleration, ...]:
    """A new pod's tolerations after the DefaultTolerationSeconds admission plugin: the written ones, then the
    300 s default for each of the two taints no written toleration covers."""
    defaults = tuple(Toleration(key=key, operator="Exists", effect=NO_EXECUTE, seconds=DEFAULT_TOLERATION_SECONDS)
                     for key in (NOT_READY_TAINT, UNREACHABLE_TAINT)
                     if not any(_covers(t, key) for t in written))
    return written + defaults


def only_added_tolerations(old: tuple[Toleration, ...], new: tuple[Toleration, ...]) -> bool:
    """Whether a pod update from tolerations ``old`` to ``new`` (both as admitted) is one the API server allows
    (validateOnlyAddedTolerations): every old toleration is still there, its tolerationSeconds alone may differ
    (longer or shorter, or gone); new ones may be added."""
    kept = {replace(t, seconds=None) for t in new}
    return all(replace(t, seconds=None) in kept for t in old)


TOLERATIONS_FORBIDDEN = ("spec.tolerations: Forbidden: existing toleration can not be modified except its "
                         "tolerationSeconds")  # the API server's words for an update only_added_tolerations refuses


def deletion_cost_value(written: str | None) -> int:
    """A pod-deletion-cost annotation as the ReplicaSet controller ranks by it (GetDeletionCostFromPodAnnotations):
    its base-10 number, 0 when not set. Only the ranking reads the number; the objects keep the string written."""
    return 0 if written is None else int(written)


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """spec.template: what every pod of a revision looks like; equal templates are the same revision."""

    labels: Labels
    containers: tuple[Container, ...]
    grace_period: int = DEFAULT_GRACE_PERIOD
    host_network: bool = False  # spec.hostNetwork: the pods take their node's host IPs and hold their ports there
    tolerations: tuple[Toleration, ...] = ()  # spec.tolerations as written (the API server adds its defaults per pod)
    # metadata.annotations[POD_DELETION_COST] as written (None: not set), which every pod of the revision carries;
    # a string, as upstream compares and hashes it: "0" is not the annotation left out, nor "-007" "-7"
    deletion_cost: str | None = None
    # spec.initContainers in their order, sidecars (restartPolicy Always) and those that run to completion alike:
    # each is part of the template (its hash, kubectl set image) and must start before the containers do
    init_containers: tuple[Container, ...] = ()

    @property
    def sidecars(self) -> tuple[Container, ...]:
        """The init containers with restartPolicy Always, whose ports FindPort searches after the containers'
        (the others run to completion and serve nothing)."""
        return tuple(c for c in self.init_containers if c.restart_policy == "Always")

    def images(self) -> tuple[str, ...]:
        """Every image a pod of the template must pull before it is Ready: its init containers' too, for the
        kubelet starts the containers only after each plain init container has run to completion and each sidecar
        has started, and its ready check counts the sidecars."""
        return tuple(c.image for c in (*self.containers, *self.init_containers))

    def without_hash(self) -> PodTemplate:
        """The template as the Deployment holds it (ReplicaSets add the pod-template-hash label)."""
        return replace(self, labels=tuple(kv for kv in self.labels if kv[0] != POD_TEMPLATE_HASH))


@dataclass(frozen=True, slots=True)
class Deployment:
    namespace: str
    name: str
    replicas: int
    selector: Labels
    template: PodTemplate
    strategy: Strategy = Strategy.ROLLING_UPDATE
    max_surge: int | str = DEFAULT_SURGE  # a count or "NN%"
    max_unavailable: int | str = DEFAULT_UNAVAILABLE
    progress_deadline: int = DEFAULT_PROGRESS_DEADLINE
    history_limit: int = DEFAULT_HISTORY_LIMIT
    labels: Labels = ()
    change_cause: str = ""
    last_progress: float = 0.0  # when the rollout last moved (for the progress deadline)
    # a manifest without spec.replicas: 1 on create, the live count kept on apply (what an autoscaler sets)
    replicas_given: bool = field(default=True, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ReplicaSet:
    namespace: str
    name: str
    owner: str  # the Deployment's name
    template_hash: str
    template: PodTemplate  # includes the pod-template-hash label
    selector: Labels  # includes the pod-template-hash label
    replicas: int
    revision: int
    serial: int  # creation order, the stand-in for creationTimestamp
    desired: int = 0  # annotation deployment.kubernetes.io/desired-replicas
    change_cause: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class LastApplied:
    """What the last ``kubectl apply`` of a pod wrote of the fields the model merges, as its
    kubectl.kubernetes.io/last-applied-configuration annotation keeps it: the next apply's three-way merge
    removes what this wrote and the next manifest leaves out, and nothing else."""

    tolerations: tuple[Toleration, ...] = ()  # spec.tolerations as written (none: left out)
    deletion_cost: str | None = None  # the pod-deletion-cost annotation as written (None: left out)
    labels: Labels = ()  # metadata.labels as written (none: left out or empty)


def pod_uid(namespace: str, name: str, serial: int) -> str:
    """metadata.uid, which upstream draws at random: here 128 bits (as hex) derived from the pod's name (whose
    suffix the injected generator drew) and creation serial, a new one for a pod made again under the same name.
    The ReplicaSet controller breaks ties with it ("sorted by UUID to provide a pseudorandom order"), so the order
    is as arbitrary as upstream's yet the same on every run, and drawing it takes nothing from the generator (the
    names of every later pod stay as they were)."""
    return hashlib.blake2b(f"{namespace}/{name}/{serial}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class SimPod:
    """A pod as the controllers and the kubelet model see it; :meth:`at` gives the API's view at a time."""

    namespace: str
    name: str
    labels: Labels
    owner: str | None  # the ReplicaSet's name; None for a bare or orphaned pod
    images: tuple[str, ...]
    ports: tuple[ContainerPort, ...]
    created: float
    serial: int
    node_name: str | None = None
    sidecar_ports: tuple[ContainerPort, ...] = ()  # its sidecars' (objects.model.Pod.sidecar_ports)
    # the containers kubectl's READY column counts (printPod): spec.containers and the restartable (sidecar) init
    # containers, not those that run to completion; 1 unless told, the fewest the API server takes
    containers: int = 1
    pod_ips: tuple[str, ...] = ()
    ready_at: float | None = None  # None: never becomes ready (a broken image)
    deleted_at: float | None = None
    gone_at: float | None = None
    grace_period: int = DEFAULT_GRACE_PERIOD
    host_network: bool = False
    # the node lifecycle controller's MarkPodsNotReady wrote the pod's Ready condition False (its node's kubelet
    # went silent); it stays so until the kubelet posts again (world.node_lifecycle)
    marked_not_ready: bool = False
    # not started when its node's Ready was Unknown (whatever it was before): no kubelet reports it started, so it
    # stays Pending until that kubelet posts again (nodelifecycle.mark_pods_not_ready, kubelets_back)
    unreported: bool = False
    # spec.tolerations as admitted: the pod's own and the DefaultTolerationSeconds plugin's (tainteviction)
    tolerations: tuple[Toleration, ...] = ()
    # when the taint eviction controller deletes the pod, its node tainted NoExecute (None: no deletion scheduled)
    evict_at: float | None = None
    # metadata.annotations[controller.kubernetes.io/pod-deletion-cost] as written (None: not set; a value the API
    # server took); a set scaling down deletes lower costs first, read by deletion_cost_value
    deletion_cost: str | None = None
    # what the last apply of it wrote (world.add_pods, update_pods); None: never applied (a ReplicaSet's pod, or
    # one made otherwise), so an apply removes nothing from it
    last_applied: LastApplied | None = None
    # metadata.uid (:func:`pod_uid`), derived once when the pod is made (left empty) and carried over by every
    # replace(), as name and serial never change; a derived value, so not compared
    uid: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.uid:
            object.__setattr__(self, "uid", pod_uid(self.namespace, self.name, self.serial))

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def terminating(self) -> bool:
        return self.deleted_at is not None

    @property
    def served_ports(self) -> tuple[ContainerPort, ...]:
        """Its containers' ports, then its sidecars' (objects.model.Pod.served_ports, the API's view of the same)."""
        return (*self.ports, *self.sidecar_ports)

    def running(self, now: float) -> bool:
        """Started, and reported so by its node's kubelet; a terminating pod keeps the state it had when it was
        deleted."""
        if self.ready_at is None or self.unreported:
            return False
        limit = self.deleted_at if self.deleted_at is not None else now
        return self.ready_at <= limit

    def ready(self, now: float) -> bool:
        """Ready once started, unless the node lifecycle controller marked it not ready."""
        return self.running(now) and not self.marked_not_ready

    def at(self, now: float) -> Pod:
        """The API's pod; one unreported has no status.podIP (no kubelet made its sandbox), so no endpoint lists
        it (upstream's ShouldPodBeInEndpoints), while the model keeps the address it will get."""
        pod_ips = () if self.unreported else self.pod_ips
        return Pod(namespace=self.namespace, name=self.name, node_name=self.node_name, pod_ips=pod_ips,
                   host_network=self.host_network, labels=self.labels, ports=self.ports,
                   sidecar_ports=self.sidecar_ports,
                   phase="Running" if self.running(now) else "Pending", ready=self.ready(now),
                   terminating=self.terminating)


@dataclass(frozen=True, slots=True)
class Timing:
    """The kubelet model: how long a pod takes to start, and which images never start."""

    start_delay: float = 5.0
    broken_images: frozenset[str] = frozenset({"gcr.io/google-samples/kubernetes-bootcamp:v10"})


Annotations = tuple[tuple[str, str], ...]
_TableState = tuple[tuple[Service, ...], tuple[tuple[str, Annotations], ...]]  # (services, annotations)


class ServiceIndex:
    """The lookups of one version of a World's Services (:class:`ServiceTable`): each Service by
    ``namespace/name`` in the World's order, how many Services hold each cluster IP and node port, and the
    Services' topology annotations (in the order they were set). These are what every Service applied asks (its
    previous version, the addresses and ports taken), which as scans of every Service were quadratic in the
    Services of a large cluster's apply.

    Mutable, and shared by the versions of one lineage: it describes ``head``, the newest, and is advanced in
    place as Services are put or deleted (:meth:`ServiceTable.put`). Keys are unique."""

    __slots__ = ("annotations", "by_key", "cluster_ips", "head", "node_ports")

    def __init__(self, services: Iterable[Service], annotations: Iterable[tuple[str, Annotations]]) -> None:
        self.head: ServiceTable | None = None
        self.by_key: dict[str, Service] = {}  # in the World's order
        self.cluster_ips: dict[str, int] = {}  # address -> Services holding it
        self.node_ports: dict[int, int] = {}  # nodePort or healthCheckNodePort -> Services holding it
        self.annotations: dict[str, Annotations] = dict(annotations)  # only non-empty ones
        for service in services:
            self.by_key[service.key] = service
            self._count(service, 1)

    def _count(self, service: Service, step: int) -> None:
        """Count a Service's addresses and ports in (``step`` 1) or out (-1)."""
        _tally(self.cluster_ips, service.cluster_ips, step)
        _tally(self.node_ports, service_node_ports(service), step)

    def put(self, service: Service, annotations: Annotations | None) -> None:
        """``service`` added, or replacing its key's and moved last; ``annotations``, unless None, replace its
        topology annotations (and, when not empty, move last among them)."""
        previous = self.by_key.pop(service.key, None)
        if previous is not None:
            self._count(previous, -1)
        self.by_key[service.key] = service
        self._count(service, 1)
        if annotations is not None:
            self.annotations.pop(service.key, None)
            if annotations:
                self.annotations[service.key] = annotations

    def delete(self, keys: frozenset[str]) -> None:
        """The Services of ``keys`` (those present) gone, with their annotations."""
        for key in keys:
            previous = self.by_key.pop(key, None)
            if previous is not None:
                self._count(previous, -1)
            self.annotations.pop(key, None)


@dataclass(frozen=True, slots=True)
class _Put:
    service: Service
    annotations: Annotations | None

    def apply(self, index: ServiceIndex) -> None:
        index.put(self.service, self.annotations)


@dataclass(frozen=True, slots=True)
class _Delete:
    keys: frozenset[str]

    def apply(self, index: ServiceIndex) -> None:
        index.delete(self.keys)


class ServiceTable:
    """A World's Services and their topology annotations: an immutable value whose put and delete cost what
    they change, not the number of Services (an apply of 10,000 Services copied every one of them per put).

    A persistent structure: the versions of one lineage share one :class:`ServiceIndex`, which describes the
    newest (the head) and is advanced in place. A version the index has moved past keeps its parent and the one
    change it made, and rebuilds its own tuples from the nearest ancestor that has them if it is ever read; a
    put from it starts a lineage of its own. The tuples (``services``, ``annotations``) are built once per
    version read, typically once per step."""

    __slots__ = ("_change", "_index", "_parent", "_state")

    def __init__(self, services: tuple[Service, ...] = (),
                 annotations: tuple[tuple[str, Annotations], ...] = ()) -> None:
        self._state: _TableState | None = (services, annotations)
        self._parent: ServiceTable | None = None
        self._change: _Put | _Delete | None = None
        self._index: ServiceIndex | None = None

    def index(self) -> ServiceIndex:
        """The index of this version: its lineage's, if this is the head; else one of its own, replayed from the
        nearest version that has its tuples (so that a put from here starts a lineage). Valid until the next put
        or delete from this version or one after it, which advances it in place (see :meth:`World.index`)."""
        index = self._index
        if index is None or index.head is not self:
            changes: list[_Put | _Delete] = []
            table = self
            while table._state is None:
                if table._change is None or table._parent is None:
                    raise AssertionError("a version without its tuples has a parent and a change")
                changes.append(table._change)
                table = table._parent
            index = self._index = ServiceIndex(*table._state)
            for change in reversed(changes):
                change.apply(index)
            index.head = self
        return index

    def put(self, service: Service, annotations: Annotations | None = None) -> ServiceTable:
        """The Services with ``service`` added, or replacing its key's and moved last; ``annotations``, unless
        None, replace its topology annotations."""
        return self._advance(_Put(service, annotations))

    def delete(self, keys: frozenset[str]) -> ServiceTable:
        """The Services without those of ``keys``, nor their annotations."""
        return self._advance(_Delete(keys))

    def _advance(self, change: _Put | _Delete) -> ServiceTable:
        """The next version: this one with ``change`` made, on the index it now heads."""
        index = self.index()
        change.apply(index)
        child = ServiceTable()
        child._state, child._parent, child._change, child._index = None, self, change, index
        index.head = child
        return child

    def _materialize(self) -> _TableState:
        """This version's tuples, built once (then the parent, the history they were rebuilt from, is dropped)."""
        if self._state is None:
            index = self.index()
            self._state = (tuple(index.by_key.values()), tuple(index.annotations.items()))
            self._parent = self._change = None
        return self._state

    @property
    def services(self) -> tuple[Service, ...]:
        return self._materialize()[0]

    @property
    def annotations(self) -> tuple[tuple[str, Annotations], ...]:
        """(service key, its topology annotations) for each Service that has any."""
        return self._materialize()[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceTable):
            return NotImplemented
        return other is self or self._materialize() == other._materialize()

    def __hash__(self) -> int:
        return hash(self._materialize())

    def __repr__(self) -> str:
        services, annotations = self._materialize()
        return f"ServiceTable(services={services!r}, annotations={annotations!r})"


def _tally(counts: dict[K, int], items: Iterable[K], step: int) -> None:
    """Add ``step`` to each item's count; a count of 0 leaves, so that a key present is a key held."""
    for item in items:
        if (count := counts.get(item, 0) + step) > 0:
            counts[item] = count
        else:
            del counts[item]


def service_node_ports(service: Service) -> list[int]:
    """The node ports a Service holds: its ports' nodePorts and its healthCheckNodePort (0: none)."""
    ports = [p.node_port for p in service.ports if p.node_port]
    return [*ports, service.health_check_node_port] if service.health_check_node_port else ports


@dataclass(frozen=True, slots=True)
class SchedulingFailure:
    """kube-scheduler's FailedScheduling on pods no node takes, and its message (the same for all of them)."""

    pods: tuple[str, ...]  # NS/NAME, in the World's order
    message: str


F = TypeVar("F")
PodFact = Callable[..., F]
Tally = Callable[["SimPod"], Hashable | None]
Timer = Callable[["SimPod"], Iterable[tuple[Hashable, float]]]


class PodFacts:
    """What the controllers read of one version of a World's pods, kept up to date as the pods change, as the
    informers' indexers keep the pods of each owner rather than listing every pod at each sync. A settling round
    asks the same pods the same questions many times (each ReplicaSet its active pods and strays, each Deployment
    its sets' available pods, whether any pod waits for a node, when the next pod event is), and with 1,000 pods
    a rollout spent most of its time rescanning them.

    Three kinds of fact: a tally (:meth:`count`: how many pods give each key) and timetables (:meth:`times`:
    each key's times, sorted) are carried from one pods tuple to the next by the pods that differ (known by
    identity: a controller's new tuple keeps every pod it did not change), so a round costs what changed; any
    other fact (:meth:`of`) is worked out once per tuple.

    Shared by a World's lineage (``replace`` carries it along): it describes the last pods tuple asked about
    and keeps it alive, so that its identity cannot be reused. Facts are pure functions of the pods, so a World
    asking about another lineage's tuple only costs the difference."""

    __slots__ = ("_counts", "_memo", "_pods", "_times")

    def __init__(self) -> None:
        self._pods: tuple[SimPod, ...] = ()
        self._memo: dict[tuple[object, ...], object] = {}
        self._counts: dict[Tally, Counter[Hashable]] = {}
        self._times: dict[Timer, dict[Hashable, list[float]]] = {}

    def of(self, pods: tuple[SimPod, ...], compute: PodFact[F], *args: object) -> F:
        """``compute(pods, *args)``, once per pods tuple and arguments (hashable)."""
        self._move_to(pods)
        key = (compute, *args)
        try:
            return cast(F, self._memo[key])
        except KeyError:
            value = self._memo[key] = compute(pods, *args)
            return value

    def count(self, pods: tuple[SimPod, ...], tally: Tally) -> Counter[Hashable]:
        """How many pods give each key (``tally``: a pod's key, None for none); only keys held are present."""
        self._move_to(pods)
        if (counts := self._counts.get(tally)) is None:
            counts = self._counts[tally] = Counter(key for p in pods if (key := tally(p)) is not None)
        return counts

    def times(self, pods: tuple[SimPod, ...], timer: Timer) -> dict[Hashable, list[float]]:
        """Each key's times over the pods, sorted (``timer``: a pod's (key, time) pairs); only keys held."""
        self._move_to(pods)
        if (table := self._times.get(timer)) is None:
            table = self._times[timer] = {}
            for pod in pods:
                for key, when in timer(pod):
                    table.setdefault(key, []).append(when)
            for entries in table.values():
                entries.sort()
        return table

    def _move_to(self, pods: tuple[SimPod, ...]) -> None:
        if pods is self._pods:
            return
        removed, added = differing(self._pods, pods)
        self._pods, self._memo = pods, {}
        for tally, counts in self._counts.items():
            for key in (k for k in map(tally, removed) if k is not None):
                if (left := counts[key] - 1) > 0:
                    counts[key] = left
                else:
                    del counts[key]
            counts.update(key for p in added if (key := tally(p)) is not None)
        for timer, table in self._times.items():
            for pod in removed:
                for key, when in timer(pod):
                    entries = table[key]
                    del entries[bisect.bisect_left(entries, when)]
                    if not entries:
                        del table[key]
            for pod in added:
                for key, when in timer(pod):
                    bisect.insort(table.setdefault(key, []), when)


def differing(old: tuple[SimPod, ...], new: tuple[SimPod, ...]) -> tuple[list[SimPod], list[SimPod]]:
    """(the pods of ``old`` not in ``new``, those of ``new`` not in ``old``), by identity. The controllers' usual
    changes are found in C loops: pods appended, and a few replaced in place; past the first difference
    otherwise (a pod gone and another added shift every later one), by a table of the old pods."""
    common = min(len(old), len(new))
    at = list(islice(compress(range(common), map(operator.is_not, old, new)), _IN_PLACE + 1))
    if len(at) <= _IN_PLACE and len(old) <= len(new):
        removed, added = [old[i] for i in at], [new[i] for i in at] + list(new[len(old):])
        moved = {id(p) for p in removed} & {id(p) for p in added}  # a pod at another place is neither
        return [p for p in removed if id(p) not in moved], [p for p in added if id(p) not in moved]
    start = at[0] if at else common
    kept = {id(p): p for p in old[start:]}
    added = [p for p in new[start:] if kept.pop(id(p), None) is None]
    return list(kept.values()), added


_IN_PLACE = 16  # differences found by position at most (a rollout step replaces a few pods)


def pods_by_owner(pods: tuple[SimPod, ...]) -> dict[tuple[str, str | None], tuple[SimPod, ...]]:
    """Each (namespace, owner)'s pods in the World's order (owner None: the bare and orphaned pods)."""
    grouped: dict[tuple[str, str | None], list[SimPod]] = {}
    for pod in pods:
        grouped.setdefault((pod.namespace, pod.owner), []).append(pod)
    return {key: tuple(group) for key, group in grouped.items()}


def active_owner(pod: SimPod) -> tuple[str, str | None] | None:
    """A pod not being deleted: its (namespace, owner)."""
    return (pod.namespace, pod.owner) if pod.deleted_at is None else None


def readiness(pod: SimPod) -> tuple[tuple[tuple[str, str | None], float], ...]:
    """A pod not being deleted that becomes ready: ((namespace, owner), when), as ``ready`` reads it."""
    if pod.deleted_at is not None or pod.ready_at is None or pod.unreported or pod.marked_not_ready:
        return ()
    return (((pod.namespace, pod.owner), pod.ready_at),)


@dataclass(frozen=True, slots=True)
class World:
    """A whole cluster at one instant; every controller step maps one World to the next."""

    now: float = 0.0
    nodes: tuple[Node, ...] = ()
    not_ready_nodes: frozenset[str] = frozenset()
    deployments: tuple[Deployment, ...] = ()
    replica_sets: tuple[ReplicaSet, ...] = ()
    pods: tuple[SimPod, ...] = ()
    user_slices: tuple[EndpointSlice, ...] = ()  # slices the EndpointSlice controller does not manage
    # a fact the objects layer does not carry: Nodes' allocatable CPU in millicores (status.allocatable.cpu), for
    # Topology Aware Routing
    node_cpu: tuple[tuple[str, int], ...] = ()
    # Nodes' status.allocatable.pods, for the scheduler; a Node left out takes scheduler.DEFAULT_MAX_PODS
    node_max_pods: tuple[tuple[str, int], ...] = ()
    last_ips: tuple[tuple[str, str], ...] = ()  # (pod CIDR, last address handed out), like host-local IPAM
    serial: int = 0  # the next creation serial number
    timing: Timing = field(default=Timing())
    # the API server's --service-cluster-ip-range, primary first; empty: one default range per address family of
    # the Nodes (world.service_ranges)
    service_cidrs: tuple[str, ...] = ()
    # the Services and their topology annotations (read through ``services``, ``service_annotations``)
    service_table: ServiceTable = field(default_factory=ServiceTable)
    # Nodes whose Ready condition is Unknown (among ``not_ready_nodes``): the node lifecycle controller taints them
    # node.kubernetes.io/unreachable, where a Ready condition of False gets node.kubernetes.io/not-ready
    unreachable_nodes: frozenset[str] = frozenset()
    # Nodes whose Ready condition is neither True, False nor Unknown, or missing (among ``not_ready_nodes``): the
    # node lifecycle controller's map of conditions to taints has no entry for such a status, so they carry no taint
    # and the scheduler takes them, while the topology cache, which counts a Node ready only on True, leaves them out
    untainted_nodes: frozenset[str] = frozenset()
    # Nodes whose Ready condition the node lifecycle controller turned from True to Unknown (among
    # ``unreachable_nodes``): it marks their pods not ready (MarkPodsNotReady), which it does on no other change
    silent_nodes: frozenset[str] = frozenset()
    # kube-scheduler's FailedScheduling events: the (pod, message) its last attempt found for each pod no node
    # takes, and the failures recorded since the log was last taken (scheduler.record_failures, take_log)
    unschedulable: frozenset[tuple[str, str]] = frozenset()
    scheduling_log: tuple[SchedulingFailure, ...] = ()
    # Nodes whose spec.unschedulable is true (kubectl cordon, drain): kube-scheduler's NodeUnschedulable filter keeps
    # new pods off them (no pod here tolerates node.kubernetes.io/unschedulable: DaemonSets are not modelled)
    cordoned: frozenset[str] = frozenset()
    # v1 Endpoints as the API holds them (applied, or written by the endpoints controller), and the EndpointSlices
    # the mirroring controller keeps for them, as of its last sync of each (controllers.mirroring, script.play)
    endpoints: tuple[Endpoints, ...] = ()
    mirrored_slices: tuple[EndpointSlice, ...] = ()
    # the keys of those Endpoints kubectl apply wrote, which carry its last-applied-configuration annotation (the
    # endpoints controller keeps an object's annotations when it updates it, and creates its own without); kept to
    # the keys ``endpoints`` holds (script.play), so an object deleted and made again by the controller has none
    endpoints_applied: frozenset[str] = frozenset()
    # what the last apply of each Endpoints wrote of its metadata: (NS/NAME, labels, annotations), the labels None
    # when it wrote no labels field (kubectl's next patch deletes the field whole only when the last wrote it),
    # for the next apply's three-way merge (script._apply_endpoints); read only for a key in ``endpoints_applied``
    endpoints_last_applied: tuple[tuple[str, Labels | None, Annotations], ...] = ()
    # what the last apply of each Service wrote, as kubectl keeps it in last-applied-configuration: (NS/NAME, the
    # document's JSON), for the next apply's three-way merge (script._merged_service); not read for a Service in
    # ``unannotated``
    services_last_applied: tuple[tuple[str, str], ...] = ()
    # the Deployments (NS/NAME) whose last apply wrote spec.replicas, as its last-applied-configuration keeps it:
    # the next apply leaving the field out deletes it (kubectl's patch sends null), and the API server defaults it
    # to 1 (script._apply_deployments); one no apply wrote it for keeps the live count. Not read for a Deployment
    # in ``unannotated``
    deployments_replicas_applied: frozenset[str] = frozenset()
    # (kind, NS/NAME or a Node's name) of the Services and Deployments ``expose`` and ``create deployment`` made,
    # and of the Nodes, Services and Deployments the scenario started with whose documents show another maker (a
    # Node; ownerReferences; managedFields without kubectl-client-side-apply: script.mark_unannotated), which carry no
    # last-applied-configuration annotation (neither command saves it without --save-config; a kubelet registers
    # its Node) until an apply patches it in; kept to the objects the World holds (script.play)
    unannotated: frozenset[tuple[str, str]] = frozenset()
    # the pods at each instant the last stretch of time stopped at on its way (world.advance, wait_for_rollout: a
    # pod ready or gone, an eviction), before its end: what the EndpointSlice controller's informers delivered in
    # between, whose events it syncs at their own instants (world.controller_sync). Not part of the cluster's
    # state: not compared, and left behind by later steps (the instants tell which stretch they belong to)
    trail: tuple[tuple[float, tuple[SimPod, ...]], ...] = field(default=(), compare=False, repr=False)
    # when the scenario made each Service, Deployment and Node it made ((kind, NS/NAME or a Node's name) -> the
    # scenario clock), for ``kubectl get``'s AGE (script.play); one it started with is as old as the scenario (0).
    # Not compared: no controller reads it
    created: tuple[tuple[tuple[str, str], float], ...] = field(default=(), compare=False, repr=False)
    # the facts worked out from ``pods`` (PodFacts): a memo, not state
    pod_facts: PodFacts = field(default_factory=PodFacts, compare=False, repr=False)

    @property
    def services(self) -> tuple[Service, ...]:
        return self.service_table.services

    @property
    def no_execute_nodes(self) -> frozenset[str]:
        """The Nodes the node lifecycle controller taints NoExecute: Ready False (not-ready) or Unknown
        (unreachable); a Node of another status, or none, has no taint."""
        return self.not_ready_nodes - self.untainted_nodes

    def taint_key(self, node: str | None) -> str | None:
        """The key of the node lifecycle controller's taints on a Node (it adds the key both NoSchedule and
        NoExecute): node.kubernetes.io/unreachable for a Ready condition of Unknown, not-ready for False; None for
        none, as for a Node outside :attr:`no_execute_nodes` (looked up, not built, as callers ask per node)."""
        if node not in self.not_ready_nodes or node in self.untainted_nodes:
            return None
        return UNREACHABLE_TAINT if node in self.unreachable_nodes else NOT_READY_TAINT

    @property
    def service_annotations(self) -> tuple[tuple[str, Annotations], ...]:
        """(service key, its topology annotations: (annotation, value) pairs) for each Service that has any."""
        return self.service_table.annotations

    def index(self) -> ServiceIndex:
        """The lookups of this World's Services (see :class:`ServiceTable`), valid until the World is advanced: a
        put or delete from this World, or from any World after it, changes the index its lineage shares in place
        (a copy per World would cost what the index saves). Read it before making the next World and keep no
        reference past that; asking again gives the right one."""
        return self.service_table.index()

    def with_service(self, service: Service, annotations: Annotations | None = None) -> World:
        """The World with ``service`` added, or replacing the one of its key (and moved last); ``annotations``,
        unless None, replace its topology annotations."""
        return replace(self, service_table=self.service_table.put(service, annotations))

    def without_services(self, keys: frozenset[str]) -> World:
        """The World without the Services of ``keys`` and their annotations."""
        return replace(self, service_table=self.service_table.delete(keys))

    def deployment(self, namespace: str, name: str) -> Deployment | None:
        return next((d for d in self.deployments if d.namespace == namespace and d.name == name), None)

    def pod(self, namespace: str, name: str) -> SimPod | None:
        return next((p for p in self.pods if p.namespace == namespace and p.name == name), None)

    def service(self, namespace: str, name: str) -> Service | None:
        return self.index().by_key.get(f"{namespace}/{name}")

    def owned_sets(self, deployment: Deployment) -> tuple[ReplicaSet, ...]:
        return tuple(rs for rs in self.replica_sets
                     if rs.namespace == deployment.namespace and rs.owner == deployment.name)

    def owned_pods(self, rs: ReplicaSet) -> tuple[SimPod, ...]:
        return self.pod_facts.of(self.pods, pods_by_owner).get((rs.namespace, rs.name), ())

    def active_pods(self, rs: ReplicaSet) -> int:
        """How many of the set's pods are not being deleted."""
        return self.pod_facts.count(self.pods, active_owner)[rs.namespace, rs.name]

    def available_pods(self, rs: ReplicaSet) -> int:
        """How many of the set's pods are ready now and not being deleted (minReadySeconds is not modelled)."""
        times = self.pod_facts.times(self.pods, readiness).get((rs.namespace, rs.name), ())
        return bisect.bisect_right(times, self.now)
