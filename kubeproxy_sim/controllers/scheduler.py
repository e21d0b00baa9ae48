"""Placing pods on nodes and giving them addresses, the way a plain cluster splits the work.

The scheduler model spreads pods: the ready node with the fewest pods wins,
ties broken by name, so a run is reproducible. A node holding as many pods as
its status.allocatable.pods (the kubelet's maxPods, 110 unless the Node says
otherwise) takes no more, as kube-scheduler's NodeResourcesFit filter refuses
it, and a host-network pod goes to no node where another host-network pod
holds one of its ports (NodePorts: the API server makes a host-network pod's
container ports its host ports); a pod no node takes stays Pending, unbound,
and is tried again as the controllers run. A host-network pod, once bound,
has its node's host IPs as its addresses (the kubelet's). Like kube-scheduler it knows
nothing of pod CIDRs: a node whose range is full still gets pods. Addresses
are the CNI's part, handed out when the kubelet creates a pod's sandbox: from
the node's pod CIDR like the host-local IPAM plugin, the network address and
the gateway (the first host, the bridge) never used, nor IPv4's broadcast
address, and each new pod gets the next free address after the last one
handed out, wrapping around, so a freed address is not reused at once. A pod
on a node whose range is full stays bound without an address (ContainerCreating,
never ready), and the kubelet retries its sandbox as the controllers run, so it
starts once an address is freed (:func:`sandbox_failures` says which pods wait).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

import netaddr

from kubeproxy_sim.controllers import model
from kubeproxy_sim.controllers.model import NO_EXECUTE, NO_SCHEDULE, SchedulingFailure, SimPod, World, tolerates
from kubeproxy_sim.objects.model import Node, Protocol

DEFAULT_MAX_PODS = 110  # the kubelet's --max-pods default, its Node's status.allocatable.pods when not given
# kube-scheduler's words (531be81208e2 pkg/scheduler: schedule_one.go ErrNoNodesAvailable, framework/types.go
# FitError, plugins/noderesources/fit.go, plugins/nodeports, plugins/tainttoleration,
# framework/preemption/preemption.go)
NO_NODES = "no nodes available to schedule pods"
TOO_MANY_PODS = "Too many pods"
NO_FREE_PORTS = "node(s) didn't have free ports for the requested pod ports"
UNTOLERATED_TAINT = "node(s) had untolerated taint {{{key}: }}"  # TaintToleration's {key: value}; these have none
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
CORDONED = "node(s) were unschedulable"  # plugins/nodeunschedulable ErrReasonUnschedulable
_SCAN_LIMIT = 1 << 16  # a scan bound: a /64 is never exhausted by a simulated cluster


def tolerated_taints(pod: SimPod) -> frozenset[str]:
    """The node lifecycle controller's taint keys a pod tolerates as kube-scheduler's TaintToleration filter asks:
    both effects of the key (NoSchedule and NoExecute, DoNotScheduleTaintsFilterFunc). The defaults of
    DefaultTolerationSeconds are NoExecute only, so a pod tolerates none unless it says so itself."""
    if not any(t.effect in ("", NO_SCHEDULE) for t in pod.tolerations):
        return frozenset()
    return frozenset(key for key in (model.NOT_READY_TAINT, model.UNREACHABLE_TAINT)
                     if all(any(tolerates(t, key, effect) for t in pod.tolerations)
                            for effect in (NO_SCHEDULE, NO_EXECUTE)))


def schedulable_nodes(world: World) -> tuple[Node, ...]:
    """Nodes without the node lifecycle controller's NoSchedule taint (ready ones, and those whose Ready status
    is none of True, False and Unknown, :attr:`World.untainted_nodes`) that have a pod CIDR to give addresses
    from, and are not cordoned (NodeUnschedulable)."""
    tainted = world.no_execute_nodes | world.cordoned
    return tuple(n for n in world.nodes if n.name not in tainted and n.pod_cidrs)


HostPorts = frozenset[tuple[Protocol, int]]


def host_ports(pod: SimPod) -> HostPorts:
    """The host ports a pod asks of its node: a host-network pod's container ports, its sidecars' too (the API
    server sets each hostPort to its containerPort in containers and initContainers alike, defaultHostNetworkPorts,
    and NodePorts counts the restartable init containers' since kubernetes/kubernetes#132040, 1.34); none for
    others (the model has no hostPort)."""
    if not pod.host_network:
        return frozenset()
    return frozenset((p.protocol, p.container_port) for p in pod.served_ports)


@dataclass(frozen=True, slots=True)
class _Range:
    """A pod CIDR as integers: the first address and the size, and the first and last address host-local hands
    out (the range set its error message shows)."""

    base: int
    size: int
    version: int
    first: int  # offset of the first usable address (the gateway, offset 1, is never handed out)
    last: int  # offset of the last usable address (IPv4's broadcast is not)

    @classmethod
    def of(cls, cidr: str) -> _Range:
        network = netaddr.IPNetwork(cidr)
        size = network.size
        broadcast = network.version == 4 and network.prefixlen < 31
        return cls(int(network.network), size, network.version, 2, size - 2 if broadcast else size - 1)

    def text(self, offset: int) -> str:
        return str(netaddr.IPAddress(self.base + offset, self.version))

    def range_set(self) -> str:
        """host-local's range set: the subnet's first host to its last (IPv4: before the broadcast)."""
        return f"{self.text(min(1, self.size - 1))}-{self.text(self.last)}"


def _scan(cidr: _Range, last: str | None, in_use: set[str] | frozenset[str]) -> str | None:
    """The first usable free address after ``last`` (round robin); None when none is free within the scan bound."""
    start = int(netaddr.IPAddress(last)) - cidr.base + 1 if last else cidr.first
    for step in range(min(cidr.size, _SCAN_LIMIT)):
        offset = (start + step) % cidr.size
        if cidr.first <= offset <= cidr.last:
            text = cidr.text(offset)
            if text not in in_use:
                return text
    return None


def next_address(cidr: str, last: str | None, in_use: frozenset[str]) -> str | None:
    """The first usable free address after ``last`` (round robin); None when the range is full."""
    return _scan(_Range.of(cidr), last, in_use)


class Ipam:
    """The scheduler's and the IPAM's view of a World, built once and kept up to date as pods are placed, so a
    burst of pods costs O(1) each, not a pass over every pod (and a full range is scanned once, not per pod).

    Valid while the caller only adds the pods it places through it: addresses are freed only when pods are
    gone (``expire``), between batches.
    """

    def __init__(self, world: World) -> None:
        self.nodes = schedulable_nodes(world)
        self.tainted: dict[str, list[Node]] = {}  # taint key -> the Nodes it keeps pods off (with a pod CIDR)
        for node in world.nodes:
            if node.pod_cidrs and node.name not in world.cordoned and (key := world.taint_key(node.name)) is not None:
                self.tainted.setdefault(key, []).append(node)
        self.max_pods = dict(world.node_max_pods)
        self.by_name = {n.name: n for n in world.nodes}
        self.in_use = {ip for p in world.pods for ip in p.pod_ips}
        self.load = Counter(p.node_name for p in world.pods if p.node_name)
        self.ports: dict[str, set[tuple[Protocol, int]]] = {}  # node -> host ports its pods hold (NodePorts)
        for pod in world.pods:
            if pod.node_name and pod.host_network:
                self.ports.setdefault(pod.node_name, set()).update(host_ports(pod))
        self.last = dict(world.last_ips)
        self.ranges: dict[str, _Range] = {}
        self.full: set[str] = set()  # ranges found full in this batch (nothing is freed during one)
        # the tolerated taints for which every node was found at its pod limit in this batch (loads only grow)
        self.no_room: set[frozenset[str]] = set()

    def candidates(self, tolerated: frozenset[str]) -> list[Node]:
        """The Nodes a pod tolerating the taints ``tolerated`` passes TaintToleration on (with a pod CIDR)."""
        return [*self.nodes, *(n for key in sorted(tolerated) for n in self.tainted.get(key, ()))]

    def pick_node(self, ports: HostPorts = frozenset(), tolerated: frozenset[str] = frozenset()) -> Node | None:
        """The node with the fewest pods (terminating ones still occupy it), then the first by name, among those
        whose taints the pod tolerates (``tolerated``: tolerated_taints), below their pod limit and holding none
        of ``ports``; None when none is (the pod stays Pending)."""
        if tolerated in self.no_room:
            return None
        room = [n for n in self.candidates(tolerated) if self.has_room(n)]
        if not room:
            self.no_room.add(tolerated)
            return None
        fits = [n for n in room if self.ports_free(n, ports)]
        return min(fits, key=lambda n: (self.load[n.name], n.name)) if fits else None

    def ports_free(self, node: Node, ports: HostPorts) -> bool:
        """Whether no pod on the node holds one of ``ports`` (NodePorts' conflict check: every host port here is
        on 0.0.0.0, which conflicts with any address)."""
        return not ports or ports.isdisjoint(self.ports.get(node.name, ()))

    def bind(self, node_name: str, pod: SimPod) -> HostPorts:
        """Count the pod and its host ports on the node; the ports a pod counted before holds there are returned
        (none when the scheduler chose the node: it picks one where they are free)."""
        self.load[node_name] += 1
        ports = host_ports(pod)
        if not ports:
            return frozenset()
        held = self.ports.setdefault(node_name, set())
        taken = ports & held
        held.update(ports)
        return taken

    def hold(self, pod: SimPod) -> HostPorts:
        """Count a pod added as it is (bound, or with its addresses), so that the batch's next pods see it; the
        host ports another pod already holds on its node are returned (a conflict the kubelet refuses)."""
        self.in_use.update(pod.pod_ips)
        return self.bind(pod.node_name, pod) if pod.node_name is not None else frozenset()

    def has_room(self, node: Node) -> bool:
        """Whether the node holds fewer pods than its status.allocatable.pods (NodeResourcesFit's pod count)."""
        return self.load[node.name] < self.max_pods.get(node.name, DEFAULT_MAX_PODS)

    def _range(self, cidr: str) -> _Range:
        found = self.ranges.get(cidr)
        if found is None:
            found = self.ranges[cidr] = _Range.of(cidr)
        return found

    def full_range(self, node: Node) -> tuple[int, str] | None:
        """(index, range set) of the node's first pod CIDR with no free address, or None if each has one."""
        for index, cidr in enumerate(node.pod_cidrs):
            if cidr in self.full or _scan(self._range(cidr), self.last.get(cidr), self.in_use) is None:
                self.full.add(cidr)
                return index, self._range(cidr).range_set()
        return None

    def allocate(self, node: Node) -> tuple[str, ...] | None:
        """One address per pod CIDR of the node (host-local's ranges), or None (nothing taken) if one is full."""
        addresses = []
        for cidr in node.pod_cidrs:
            address = None if cidr in self.full else _scan(self._range(cidr), self.last.get(cidr), self.in_use)
            if address is None:
                self.full.add(cidr)
                return None
            addresses.append(address)
        for cidr, address in zip(node.pod_cidrs, addresses, strict=True):
            self.in_use.add(address)
            self.last[cidr] = address
        return tuple(addresses)

    def last_ips(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.last.items()))


def waiting_for_node(pod: SimPod) -> bool:
    """Pending and unbound: the scheduler's to place, as kube-scheduler takes any pod with an empty spec.nodeName
    (one applied with an address too: it is bound and keeps it; a host-network one too)."""
    return pod.node_name is None and not pod.terminating


def waiting_for_address(pod: SimPod) -> bool:
    """Bound to a node but without an address: its sandbox failed (the node's range was full)."""
    return pod.node_name is not None and not pod.pod_ips and not pod.host_network and not pod.terminating


def waiting_for_host_ips(pod: SimPod) -> bool:
    """A host-network pod applied bound to a Node not there (yet) and without a status: it takes the Node's host
    IPs once the Node is applied, as that Node's kubelet starts it."""
    return pod.node_name is not None and not pod.pod_ips and pod.host_network and not pod.terminating


def place(world: World, pod: SimPod, ipam: Ipam | None = None) -> tuple[World, SimPod]:
    """Bind an unscheduled pod to a node (the scheduler) and give it one address per pod CIDR (the kubelet and
    the CNI); a pod bound already but without an address gets another try at one, and one applied with an
    address but no node is bound and keeps it. A host-network pod takes its node's host IPs (the kubelet's
    status.podIPs for it: the node's first IP, and one of the other family on a dual-stack node) once bound,
    whether the scheduler bound it or it was applied bound without a status. A pod no node takes is unchanged;
    one whose node's range is full stays bound without an address. ``ipam``: the batch's state (built from
    ``world`` when not given)."""
    if pod.node_name is not None and pod.pod_ips:
        return world, pod
    ipam = ipam if ipam is not None else Ipam(world)
    if pod.node_name is None:
        node = ipam.pick_node(host_ports(pod), tolerated_taints(pod))
        if node is None:
            return world, pod
        ipam.bind(node.name, pod)
        pod = replace(pod, node_name=node.name)
        if pod.pod_ips and not pod.host_network:
            return world, pod
    else:
        found = ipam.by_name.get(pod.node_name)
        if found is None:
            return world, pod
        node = found
    if pod.host_network:
        return world, replace(pod, pod_ips=node.host_ips)
    if not node.pod_cidrs:
        return world, pod
    addresses = ipam.allocate(node)
    if addresses is None:
        return world, pod
    return replace(world, last_ips=ipam.last_ips()), replace(pod, pod_ips=addresses)


@dataclass(frozen=True, slots=True)
class PortConflict:
    """A host-network pod applied bound to a node where a pod before it holds some of its host ports. The
    kubelet's admission refuses it (the NodePorts predicate: phase Failed, never an endpoint); this model keeps
    it as applied, so it is said instead."""

    pod: str  # NS/NAME
    node: str
    ports: HostPorts

    @property
    def message(self) -> str:
        shown = ", ".join(f"{port}/{protocol.value}" for protocol, port in sorted(self.ports, key=lambda p: p[::-1]))
        return (f"NodePorts: Predicate NodePorts failed: {NO_FREE_PORTS} ({shown} held on node {self.node} by a pod "
                "before it): the kubelet rejects this pod, which the simulator keeps as applied (an endpoint it "
                "would not be); expected one host-network pod per host port and node")


@dataclass(frozen=True, slots=True)
class SandboxFailure:
    """The kubelet's FailedCreatePodSandBox on one node: its pods that wait for an address, and the CNI's why."""

    node: str
    pods: tuple[str, ...]  # NS/NAME, in the World's order
    message: str


def sandbox_failures(world: World) -> list[SandboxFailure]:
    """Per node (by name), the pods bound there that have no address because its pod range is full, with
    host-local's error ("failed to allocate for range 0: no IP addresses available in range set: ...")."""
    waiting: dict[str, list[str]] = {}
    for pod in world.pods:
        if waiting_for_address(pod):
            waiting.setdefault(pod.node_name or "", []).append(pod.key)
    if not waiting:
        return []
    ipam = Ipam(world)
    out = []
    for name in sorted(waiting):
        node = ipam.by_name.get(name)
        full = ipam.full_range(node) if node is not None else None
        if node is None:
            why = "no Node of this name is applied (a pod applied with spec.nodeName waits for that node)"
        elif not node.pod_cidrs:
            why = "the node has no pod CIDR"
        elif full is None:
            why = "an address is free again; the kubelet's next retry takes it"
        else:
            why = f"failed to allocate for range {full[0]}: no IP addresses available in range set: {full[1]}"
        out.append(SandboxFailure(name, tuple(waiting[name]), why))
    return out


def scheduling_failures(world: World) -> tuple[SchedulingFailure, ...]:
    """The pods waiting for a node, grouped by the FitError kube-scheduler records on each: ``0/N nodes are
    available: REASONS. preemption: 0/N nodes are available: REASONS.``, each part the Nodes counted by reason
    (``2 Too many pods``), sorted as text; the groups in the order of their first pod.

    Each Node counts by the first filter it fails, in kube-scheduler's order: a NotReady Node carries the node
    lifecycle controller's NoSchedule taint (node.kubernetes.io/not-ready for a Ready condition of False,
    node.kubernetes.io/unreachable for Unknown), which a pod passes only if it tolerates it and the NoExecute one
    of the same key (TaintToleration: the default tolerations are for the NoExecute ones alone), and preemption
    cannot help there; a Node where another pod holds one of a host-network
    pod's ports fails NodePorts, and one at its pod limit NodeResourcesFit, and preemption finds no victim on
    either (every pod here has the same priority). A Node without a pod CIDR, which this model does not place
    pods on, counts as NotReady (its network plugin is not ready). No Node at all is kube-scheduler's
    ErrNoNodesAvailable. A pod some Node takes is in no group (the next round of the controllers places it)."""
    waiting = [p for p in world.pods if waiting_for_node(p)]
    if not waiting:
        return ()
    if not world.nodes:
        return (SchedulingFailure(tuple(p.key for p in waiting), NO_NODES),)
    ipam = Ipam(world)
    messages: dict[tuple[HostPorts, frozenset[str]], str | None] = {}  # pods asking the same fail alike
    groups: dict[str, list[str]] = {}
    for pod in waiting:
        asks = host_ports(pod), tolerated_taints(pod)
        if asks not in messages:
            messages[asks] = _fit_error(world, ipam, *asks)
        if (message := messages[asks]) is not None:
            groups.setdefault(message, []).append(pod.key)
    return tuple(SchedulingFailure(tuple(pods), message) for message, pods in groups.items())


def _fit_error(world: World, ipam: Ipam, ports: HostPorts, tolerated: frozenset[str]) -> str | None:
    """The FitError of a pod asking ``ports`` of a node and tolerating the taints ``tolerated`` (see
    :func:`scheduling_failures`); None if a Node takes it."""
    open_to = {n.name for n in ipam.candidates(tolerated)}
    filters, preemption = [], []
    for node in world.nodes:
        if node.name in world.cordoned:  # NodeUnschedulable filters before TaintToleration
            filters.append(CORDONED)
            preemption.append(NOT_HELPFUL)
            continue
        if node.name not in open_to:
            key = world.taint_key(node.name)
            tolerated_key = key is None or key in tolerated  # kept off by its lack of a pod CIDR: network not ready
            filters.append(UNTOLERATED_TAINT.format(key=model.NOT_READY_TAINT if tolerated_key else key))
            preemption.append(NOT_HELPFUL)
            continue
        if not ipam.ports_free(node, ports):
            filters.append(NO_FREE_PORTS)
        elif ipam.has_room(node):
            return None
        else:
            filters.append(TOO_MANY_PODS)
        preemption.append(NO_VICTIMS)
    count = len(world.nodes)
    return (f"0/{count} nodes are available: {_histogram(filters)}. preemption: 0/{count} nodes are available: "
            f"{_histogram(preemption)}.")


def record_failures(world: World) -> World:
    """The World with kube-scheduler's FailedScheduling events of its latest attempt: called when the
    controllers come to rest at an instant, it logs each pod no node takes with its message, once while that
    holds (as the event recorder folds a repeated event into a count), so a pod that waits only in the middle
    of a step is logged too. The log grows until it is taken (:func:`take_log`)."""
    failures = scheduling_failures(world)
    holding = frozenset((pod, f.message) for f in failures for pod in f.pods)
    if holding == world.unschedulable:
        return world
    new = [SchedulingFailure(pods, f.message) for f in failures
           if (pods := tuple(p for p in f.pods if (p, f.message) not in world.unschedulable))]
    return replace(world, unschedulable=holding, scheduling_log=(*world.scheduling_log, *new))


def take_log(world: World) -> tuple[World, tuple[SchedulingFailure, ...]]:
    """The FailedScheduling events logged since the last take, and the World without them."""
    if not world.scheduling_log:
        return world, ()
    return replace(world, scheduling_log=()), world.scheduling_log


def _histogram(reasons: Iterable[str]) -> str:
    """FitError's reasons: ``COUNT REASON`` for each, sorted as Go's sort.Strings sorts them, comma-separated."""
    return ", ".join(sorted(f"{count} {reason}" for reason, count in Counter(reasons).items()))
