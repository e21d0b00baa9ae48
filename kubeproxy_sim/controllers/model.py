"""The workload objects the controllers own, and the one immutable value that holds a cluster's state.

Deployments, ReplicaSets and the controllers' view of Pods live only here: the
data plane never reads them. What the proxier consumes (Pods, Services,
EndpointSlices, Nodes) is projected from a :class:`World` with
:func:`kubeproxy_sim.controllers.world.cluster_of`. Times are seconds on an
injected clock (a float), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from kubeproxy_sim.objects.model import ContainerPort, EndpointSlice, Node, Pod, Service

POD_TEMPLATE_HASH = "pod-template-hash"
DEFAULT_GRACE_PERIOD = 30
DEFAULT_PROGRESS_DEADLINE = 600
DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"
DEFAULT_HISTORY_LIMIT = 10
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


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """spec.template: what every pod of a revision looks like; equal templates are the same revision."""

    labels: Labels
    containers: tuple[Container, ...]
    grace_period: int = DEFAULT_GRACE_PERIOD

    def images(self) -> tuple[str, ...]:
        return tuple(c.image for c in self.containers)

    def without_hash(self) -> PodTemplate:
        """The template as the Deployment holds it (ReplicaSets add the pod-template-hash label)."""
        return PodTemplate(tuple(kv for kv in self.labels if kv[0] != POD_TEMPLATE_HASH), self.containers,
                           self.grace_period)


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
    pod_ips: tuple[str, ...] = ()
    ready_at: float | None = None  # None: never becomes ready (a broken image)
    deleted_at: float | None = None
    gone_at: float | None = None
    grace_period: int = DEFAULT_GRACE_PERIOD
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def terminating(self) -> bool:
        return self.deleted_at is not None

    def ready(self, now: float) -> bool:
        """Ready once started; a terminating pod keeps the readiness it had when it was deleted."""
        if self.ready_at is None:
            return False
        limit = self.deleted_at if self.deleted_at is not None else now
        return self.ready_at <= limit

    def at(self, now: float) -> Pod:
        return Pod(namespace=self.namespace, name=self.name, node_name=self.node_name, pod_ips=self.pod_ips,
                   host_network=self.host_network, labels=self.labels, ports=self.ports,
                   phase="Running" if self.ready(now) else "Pending", ready=self.ready(now),
                   terminating=self.terminating)


@dataclass(frozen=True, slots=True)
class Timing:
    """The kubelet model: how long a pod takes to start, and which images never start."""

    start_delay: float = 5.0
    broken_images: frozenset[str] = frozenset({"gcr.io/google-samples/kubernetes-bootcamp:v10"})


class ServiceIndex:
    """A World's Services by ``namespace/name``, with how many of them hold each cluster IP and node port: the
    lookups every Service applied makes (its previous version, the addresses and ports taken), which were scans of
    every Service, quadratic in the Services of a large cluster's apply.

    An index is valid for the one ``services`` tuple it was built from or advanced to (the tuple's identity is its
    version): :meth:`put` advances it in place to the next World's tuple, and the World it came from, if asked
    again, builds its own (:meth:`World.index`). Keys are unique: a Service is put only by replacing its key."""

    __slots__ = ("by_key", "cluster_ips", "node_ports", "services")

    def __init__(self, services: tuple[Service, ...]) -> None:
        self.services = services
        self.by_key: dict[str, Service] = {}  # in the order of ``services``
        self.cluster_ips: dict[str, int] = {}  # address -> Services holding it
        self.node_ports: dict[int, int] = {}  # nodePort or healthCheckNodePort -> Services holding it
        for service in services:
            self.by_key[service.key] = service
            self._count(service, 1)

    def _count(self, service: Service, step: int) -> None:
        """Count a Service's addresses and ports in (``step`` 1) or out (-1)."""
        _tally(self.cluster_ips, service.cluster_ips, step)
        _tally(self.node_ports, service_node_ports(service), step)

    def put(self, service: Service) -> tuple[Service, ...]:
        """The Services with ``service`` added, or replacing its key's and moved last, as the next tuple."""
        previous = self.by_key.pop(service.key, None)
        if previous is not None:
            self._count(previous, -1)
        self.by_key[service.key] = service
        self._count(service, 1)
        self.services = tuple(self.by_key.values())
        return self.services


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
class World:
    """A whole cluster at one instant; every controller step maps one World to the next."""

    now: float = 0.0
    nodes: tuple[Node, ...] = ()
    not_ready_nodes: frozenset[str] = frozenset()
    deployments: tuple[Deployment, ...] = ()
    replica_sets: tuple[ReplicaSet, ...] = ()
    pods: tuple[SimPod, ...] = ()
    services: tuple[Service, ...] = ()
    user_slices: tuple[EndpointSlice, ...] = ()  # slices the EndpointSlice controller does not manage
    # facts the objects layer does not carry: Nodes' allocatable CPU in millicores (status.allocatable.cpu), and
    # the topology annotations of Services (service key -> (annotation, value) pairs), for Topology Aware Routing
    node_cpu: tuple[tuple[str, int], ...] = ()
    # Nodes' status.allocatable.pods, for the scheduler; a Node left out takes scheduler.DEFAULT_MAX_PODS
    node_max_pods: tuple[tuple[str, int], ...] = ()
    service_annotations: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    last_ips: tuple[tuple[str, str], ...] = ()  # (pod CIDR, last address handed out), like host-local IPAM
    serial: int = 0  # the next creation serial number
    timing: Timing = field(default=Timing())
    # the API server's --service-cluster-ip-range, primary first; empty: one default range per address family of
    # the Nodes (world.service_ranges)
    service_cidrs: tuple[str, ...] = ()
    # the index of ``services``: a cache, no part of the value (filled on first use; ``replace`` carries it, and
    # :meth:`index` checks it is the index of these very Services)
    _index: ServiceIndex | None = field(default=None, compare=False, repr=False)

    def index(self) -> ServiceIndex:
        """The index of this World's Services, built once (an index advanced past them is not theirs)."""
        index = self._index
        if index is None or index.services is not self.services:
            index = ServiceIndex(self.services)
            object.__setattr__(self, "_index", index)  # a cache of the frozen value, not a change of it
        return index

    def with_service(self, service: Service) -> World:
        """The World with ``service`` added, or replacing the one of its key (and moved last); the index follows."""
        return replace(self, services=self.index().put(service))

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
        return tuple(p for p in self.pods if p.namespace == rs.namespace and p.owner == rs.name)
