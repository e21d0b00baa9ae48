"""The cluster as a network: nodes with their kube-proxy configs and routes, pods, and the outside.

Built from the objects alone, with the kernel backend's conventions so both
answer alike: a node's addresses are its InternalIPs then ExternalIPs (or, when
no Node object gives any, addresses from 198.18.0.0/24 starting at .10); pods
hang off the node's bridge (``cbr0`` unless ``--pod-bridge-interface`` names
another); an endpoint address that no Pod object owns becomes a pod named after
its targetRef (or ``NS/ep-A-B-C-D``); an endpoint on a node address is a
host-network workload of that node, one at a Service's address (a clusterIP, externalIP or load-balancer IP)
is none (the rules answer for it); ``external`` is 203.0.113.10. A Pod that
has finished (phase Succeeded or Failed) is left out, as is one bound to a node that is not running
(:func:`nodes_running`); a host-network Pod is its
node's sockets, at the node's addresses (:func:`host_network_places`); an
endpoint at the address of either finds nobody (:func:`absent_addresses`).

One IP family: the base config's. Every node gets the base config with its own
name, addresses, pod CIDRs and labels; ``overrides`` change any field per node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import netaddr

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.netfilter.evaluate import SPECIAL_RANGES, special_range
from kubeproxy_sim.netfilter.packet import canonical_address, is_address
from kubeproxy_sim.objects.model import AddressType, Cluster, Node, Origin, Pod, ServiceType
from kubeproxy_sim.objects.nodes import (
    family_of,
    load_balancer_backends,
    node_names,
    node_object_addresses,
    synthesised_node_addresses,
    used_addresses,
)
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig

DEFAULT_CLIENT = "203.0.113.10"
DEFAULT_CLIENT_V6 = "2001:db8:ffff::10"
UPLINK = "eth0"
DEFAULT_BRIDGE = "cbr0"


@dataclass(frozen=True, slots=True)
class SimPod:
    """A workload with an address: a Pod object, or an endpoint address no Pod object owns.

    ``ports``: the (proto, port) pairs a socket answers on; None when nothing
    says (no containerPorts and no EndpointSlice port): it then answers on any.
    ``pod_object``: false for an endpoint address no Pod object owns, whose
    name (:func:`endpoint_owner_key`) is its targetRef's or made up from its address.
    """

    key: str  # namespace/name
    ip: str
    node: str
    host_network: bool = False
    ports: frozenset[tuple[str, int]] | None = None
    veth: str = ""
    pod_object: bool = True

    def serves(self, proto: str, port: int) -> bool:
        return self.ports is None or (proto, port) in self.ports


NO_POD_MARK = "*"
"""What send's table puts after an endpoint no Pod object owns (the send command's ``NO_POD``), taken after the
name in ``--from pod/NS/NAME*`` too, so that a row's name can be copied as it is."""


@dataclass(frozen=True, slots=True)
class SimNode:
    name: str
    addresses: tuple[str, ...]  # the primary (masquerade source, next hop) first
    pod_cidrs: tuple[str, ...]
    config: ProxyConfig
    bridge: str = DEFAULT_BRIDGE
    gateways: tuple[str, ...] = ()  # the bridge's own addresses (:func:`bridge_gateways`)

    @property
    def primary(self) -> str:
        return self.addresses[0]

    @property
    def pods_by_veth(self) -> bool:
        """Pods on routed veths (no bridge): what interface-name-prefix detection expects (Calico-like)."""
        return self.config.detect_local_mode is DetectLocalMode.INTERFACE_NAME_PREFIX


@dataclass(frozen=True, slots=True)
class Topology:
    family: int
    nodes: tuple[SimNode, ...]
    pods: tuple[SimPod, ...]
    hosts: tuple[tuple[str, str], ...] = ()  # (name, address): the external hosts (--hosts)
    warnings: tuple[Diagnostic, ...] = ()  # what the objects say that the network cannot be (host_network_places)

    def node(self, name: str) -> SimNode | None:
        return next((n for n in self.nodes if n.name == name), None)

    def pod(self, key: str) -> SimPod | None:
        return next((p for p in self.pods if p.key == key), None)

    def pod_named(self, name: str) -> SimPod | None:
        """The workload ``--from pod/NAME`` names: by its key (the name send's rows and JSON show it under), or an
        endpoint address no Pod object owns by ``NS/ADDRESS`` (the name send's text showed before u-walk 1), the
        address as any of its spellings, with or without the ``*`` mark the table puts after it (send's
        ``pod_named`` takes a marked key)."""
        found = self.pod(name)
        if found is not None:
            return found
        namespace, _, rest = name.removesuffix(NO_POD_MARK).partition("/")
        address = canonical_address(rest) if is_address(rest) else None
        return next((p for p in self.pods if not p.pod_object and p.ip == address
                     and p.key.partition("/")[0] == namespace), None)

    @property
    def default_client(self) -> str:
        return DEFAULT_CLIENT if self.family == 4 else DEFAULT_CLIENT_V6


def family_mismatch(what: str, family: int, proxier_family: int,
                    expected: str = "addresses of that family") -> str:
    """``trace``'s words for an address of the other family than the node's proxier (one family per proxier, as
    upstream's; a dual-stack node runs one of each and ``--ip-family`` picks which is simulated, so the words name
    the value that simulates ``family``'s)."""
    return (f"{what} is IPv{family} but the node's proxier is IPv{proxier_family}; expected {expected} "
            f"(or {ip_family_flag(family)})")


def ip_family_flag(family: int) -> str:
    """The flag, with its value, that simulates the node's proxier of ``family`` (4, 6)."""
    return f"--ip-family ipv{family}"


def _of_family(addresses: Iterable[str], family: int) -> list[str]:
    """A config's node addresses of one family, without prefix lengths but otherwise as given (unlike
    objects.nodes.of_family, which canonicalises them and skips text that is no address)."""
    return [a.split("/")[0] for a in addresses if family_of(a) == family]


def _prefixed(address: str) -> str:
    return f"{address}/{128 if ':' in address else 32}"


def plan_nodes(cluster: Cluster, base: ProxyConfig,
               overrides: Mapping[str, Mapping[str, object]] | None = None) -> list[SimNode]:
    """One node per name; its config is the base config made about that node, then its overrides."""
    family = 6 if base.ipv6 else 4
    synth = synthesised_node_addresses(used_addresses(cluster, base.node_ips), family)
    nodes = []
    for index, name in enumerate(nodes_running(cluster, base.node_name)):
        obj = cluster.node(name)
        own = _of_family(base.node_ips, family) if index == 0 else []
        addresses = own or node_object_addresses(obj, family) or [next(synth)]
        config = base if index == 0 and base.node_ips else dataclasses.replace(
            base, node_name=name, node_ips=tuple(_prefixed(a) for a in addresses))
        config = about_node(config, obj, first=index == 0)
        config = dataclasses.replace(config, **dict((overrides or {}).get(name, {})))  # type: ignore[arg-type]
        ips = _of_family(config.node_ips, family) or addresses
        nodes.append(SimNode(name, tuple(ips), staged_pod_cidrs(config, family), config,
                             config.bridge_interface or DEFAULT_BRIDGE))
    return nodes


def unroutable_part(cidr: str) -> str | None:
    """What of ``cidr`` no pod can have (:data:`.SPECIAL_RANGES`: the kernel never forwards a packet to them), as a
    phrase; None when it holds none of it. Every /1 holds some (0.0.0.0/1 the unspecified address and loopback,
    128.0.0.0/1 multicast and broadcast; ::/1 loopback, 8000::/1 link-local), as a /0 does."""
    net = netaddr.IPNetwork(cidr)
    if net.prefixlen == 0:
        return "every address"
    held = [f"{special.many} ({special.cidr})" for special in SPECIAL_RANGES[net.version]
            if net.first <= netaddr.IPNetwork(special.cidr).last and netaddr.IPNetwork(special.cidr).first <= net.last]
    return " and ".join(held) or None


def no_machines(address: netaddr.IPAddress) -> str | None:
    """What ``address`` is when no machine has it (a client out there neither), as a phrase ('a multicast
    address'); None for an address a pod, a node or an outside client may have."""
    special = special_range(address.version, int(address))
    return special.one if special is not None else None


def staged_pod_cidrs(config: ProxyConfig, family: int) -> tuple[str, ...]:
    """The node's pod CIDRs of ``family`` that the network routes to its pods (the simulator's and the kernel
    stage's, and dist's made-up client's): all but one holding addresses no pod can have (:func:`unroutable_part`:
    a /0 or a /1, a range over loopback), which would put those on the node's pods' bridge, a /0 every destination
    (:func:`refused_pod_cidrs` warns of it). kube-proxy itself takes any podCIDR as given (NodeCIDR detect-local),
    so the node's rules keep it."""
    return tuple(c for c in config.node_pod_cidrs if family_of(c) == family and unroutable_part(c) is None)


def refused_pod_cidrs(cluster: Cluster, config: ProxyConfig, family: int) -> list[Diagnostic]:
    """A warning for each pod CIDR of the node (``config``'s) that :func:`staged_pod_cidrs` leaves out, naming its
    Node object's file and the field it was read from (spec.podCIDRs[i] or spec.podCIDR); neither when the
    node's pod CIDRs are not its object's (a per-node config's, one kube-proxy kept from before)."""
    obj = cluster.node(config.node_name)
    own = obj if obj is not None and obj.pod_cidrs == config.node_pod_cidrs else None
    file = own.origin.file if own is not None and own.origin.file != Origin().file else None
    return [Diagnostic(f"{cidr!r} {_unstaged(cidr)}, so the network takes the node to have no such pod CIDR "
                       f"(kube-proxy's rules keep it); expected the node's own range, e.g. "
                       f"{'10.244.1.0/24' if family == 4 else 'fd00:10:244:1::/64'}", file=file, kind="Node",
                       object=config.node_name, field=own.pod_cidr_path(index) if own is not None else None,
                       severity=Severity.WARNING)
            for index, cidr in enumerate(config.node_pod_cidrs)
            if family_of(cidr) == family and cidr not in staged_pod_cidrs(config, family)]


def _unstaged(cidr: str) -> str:
    """Why the network leaves ``cidr`` out (:func:`staged_pod_cidrs`), for :func:`refused_pod_cidrs`' warning."""
    part = unroutable_part(cidr)
    if part == "every address":
        return "covers every address: as the node's pod range it would put the whole address space on its pods' bridge"
    return (f"holds {part}, which no pod can have (the kernel drops or never forwards a packet to them): as the "
            "node's pod range it would put them on its pods' bridge")


def bridge_gateways(pod_cidrs: Iterable[str], routed: bool, taken: Container[str]) -> tuple[str, ...]:
    """The addresses a node's pod bridge carries: each pod CIDR's first host address, as kubenet (``cbr0``), the
    bridge plugin (``cni0``) and Flannel give their bridge the pods' gateway. They matter where the node picks a
    source by the bridge: MASQUERADE of a connection DNATed to a local pod (hairpin, a node's or an outside
    client's connection to a Service with a local endpoint) takes the bridge's address, not the node's, and the
    node's own connection to a local pod leaves from it. None on routed-veth (Calico-like) nodes, which have no
    such bridge; none for a range too small to have a gateway, nor for an address a workload or node already has
    (the objects' word wins over the convention). ``taken`` is built once by the caller for all its nodes."""
    if routed:
        return ()
    found = []
    for cidr in pod_cidrs:
        net = netaddr.IPNetwork(cidr)
        gateway = str(net[1]) if net.size >= 4 else None
        if gateway is not None and gateway not in taken:
            found.append(gateway)
    return tuple(found)


def about_node(config: ProxyConfig, obj: Node | None, *, first: bool) -> ProxyConfig:
    """``config`` with the node's pod CIDRs and labels: its Node object's, as kube-proxy reads them (NodeCIDR
    detect-local waits for the object's spec.podCIDRs, the topology labels come from it), else, for the first
    node, the config's own (a config made without the object); another node without a Node object has none.
    The simulator and the kernel backend both take a node's facts here, so both route the same pod ranges."""
    cidrs = obj.pod_cidrs if obj is not None and obj.pod_cidrs else config.node_pod_cidrs if first else ()
    labels = obj.labels if obj is not None and obj.labels else config.node_labels if first else ()
    return dataclasses.replace(config, node_pod_cidrs=cidrs, node_labels=labels)


FINISHED = ("Succeeded", "Failed")


def running_pods(cluster: Cluster, nodes: Container[str] | None = None) -> list[Pod]:
    """The Pod objects that have a network, by key: one in phase Succeeded or Failed has none (its containers
    ended for good and the kubelet tore its sandbox down, the address free for another pod); nor has one bound to
    a node not of ``nodes`` (the nodes running, :func:`nodes_running`, when given): no kubelet runs it. A
    terminating Pod (deletionTimestamp set) still runs until its containers stop, so it stays; so does one without
    an address (it simply has none to place)."""
    return sorted((p for p in cluster.pods if p.phase not in FINISHED and not unbound(p, nodes)), key=lambda p: p.key)


def unbound(pod: Pod, nodes: Container[str] | None) -> bool:
    """Whether ``pod`` is bound (spec.nodeName) to a node that is not of ``nodes`` (None: any node is)."""
    return nodes is not None and bool(pod.node_name) and pod.node_name not in nodes


def nodes_running(cluster: Cluster, primary: str) -> list[str]:
    """The nodes of every command (send, dist, diff, netns): ``primary`` (the command's node, which runs a
    kube-proxy with or without its Node object) first, then every Node object. A pod's spec.nodeName or an
    endpoint's nodeName that no Node object has is a label (kube-proxy compares it with its own name for a Local
    policy), not a node: no kubelet runs the pod and no kube-proxy writes rules there (the Pod garbage collector
    deletes a pod bound to a node that does not exist, gcOrphaned); :func:`phantom_nodes` says so. Objects without
    any Node object (a scenario written as upstream's tests, pods and slices alone) have their nodes named by the
    endpoints and the pods, a pod's alone said too."""
    names = node_names(cluster, primary)
    if not cluster.nodes:
        return names
    objects = {node.name for node in cluster.nodes}
    return [name for index, name in enumerate(names) if index == 0 or name in objects]


def phantom_nodes(cluster: Cluster, primary: str) -> list[Diagnostic]:
    """A note per node name that no Node object backs, naming the first object that gives it and its field: when
    Node objects were read, a name a pod or an endpoint gives that none of them has (no node of that name;
    :func:`nodes_running` leaves it out, and its pods do not run); when none was, a name only pods give, no
    endpoint, which is made a node of the simulated cluster all the same (a pod's client needs one)."""
    if not cluster.nodes:
        return _invented_from_pods(cluster, primary)
    objects = {node.name for node in cluster.nodes} | {primary}
    namers: dict[str, Diagnostic] = {}
    known = ", ".join(sorted(node.name for node in cluster.nodes))
    for pod in cluster.pods:
        if pod.node_name and pod.node_name not in objects and pod.node_name not in namers:
            said = f"{_phantom(pod.node_name, known)}: the pod is taken as not running, its address answering nothing"
            namers[pod.node_name] = Diagnostic(said, pod.origin.file, "Pod", pod.key, "spec.nodeName",
                                               severity=Severity.NOTE)
    for slc in cluster.endpoint_slices:
        for endpoint in slc.endpoints:  # (by address: the loader may have left out an endpoint before it)
            name = endpoint.node_name
            if name and name not in objects and name not in namers:
                said = f"endpoint {', '.join(endpoint.addresses)}: {_phantom(name, known)}"
                namers[name] = Diagnostic(said, slc.origin.file, "EndpointSlice", slc.key, "endpoints[].nodeName",
                                          severity=Severity.NOTE)
    return list(namers.values())


def _phantom(name: str, known: str) -> str:
    return (f"{name!r} is no Node object's name (the Nodes: {known}): no kube-proxy runs there, so no node of "
            "that name is simulated; the name only labels endpoints (local to no node), and a real cluster's Pod "
            "garbage collector deletes a pod bound to a node that does not exist")


def _invented_from_pods(cluster: Cluster, primary: str) -> list[Diagnostic]:
    """:func:`phantom_nodes` of objects without a Node object: a node name only pods give."""
    named = {e.node_name for s in cluster.endpoint_slices for e in s.endpoints if e.node_name} | {primary}
    notes: dict[str, Diagnostic] = {}
    for pod in sorted(cluster.pods, key=lambda p: p.key):
        name = pod.node_name
        if name and name not in named and name not in notes:
            notes[name] = Diagnostic(
                f"{name!r} is named by pods alone (no Node object was read, and no endpoint names it): it is "
                "simulated as a node all the same, with the command's kube-proxy settings, no pod CIDR and a "
                "made-up address; a Node object would give its own", pod.origin.file, "Pod", pod.key,
                "spec.nodeName", severity=Severity.NOTE)
    return list(notes.values())


def host_network_places(pod: Pod, family: int, node_of_address: Mapping[str, str],
                        addresses: Mapping[str, Sequence[str]]) -> tuple[list[str], list[Diagnostic]]:
    """Where a running host-network Pod's sockets are, and what the objects say that cannot be. It shares its
    node's network namespace (kubelet reports its own node's addresses as the podIPs), so it is at each of its
    status.podIPs of ``family`` that is one of its node's addresses (``addresses``: node -> addresses of the
    simulated family), at its node's first address for any other (warned about, naming another node when the
    address is that node's), and at its node's first address when it has podIPs of the other family only (a
    dual-stack node's namespace has both). It runs nowhere while it names no node (warned about too)."""
    ips = [a for a in pod.pod_ips if family_of(a) == family]
    own = addresses.get(pod.node_name or "")
    if not own:
        return [], [_host_network_warning(
            pod, "spec.nodeName", "the pod is host-network but names no node, so it runs nowhere and is left out; "
            "expected spec.nodeName")] if ips else []
    if not ips:
        return ([own[0]] if pod.pod_ips else []), []
    places, warnings = [], []
    for ip in ips:
        if ip in own:
            places.append(ip)
            continue
        places.append(own[0])
        other = node_of_address.get(ip)
        said = f"{ip!r} is node {other}'s address, not its own node's" if other else f"{ip!r} is no node's address"
        warnings.append(_host_network_warning(
            pod, "status.podIP", f"{said}, but the pod is host-network (it shares its node's network namespace): "
            f"it is taken to be at node {pod.node_name}'s address {own[0]}; expected one of its node's addresses "
            f"({', '.join(own)})"))
    return list(dict.fromkeys(places)), warnings


class HostPlacer(Protocol):
    """What :func:`place_host_network` needs of a placer (the simulator's and the kernel plan's)."""

    @property
    def node_of_address(self) -> Mapping[str, str]: ...
    @property
    def addresses(self) -> Mapping[str, Sequence[str]]: ...
    def add(self, key: str, ip: str, node: str | None, ports: set[tuple[str, int]]) -> None: ...


def place_host_network(placer: HostPlacer, pod: Pod, family: int, served: set[tuple[str, int]],
                       ports: Mapping[str, Iterable[tuple[str, int]]]) -> list[Diagnostic]:
    """Add a running host-network Pod at its :func:`host_network_places`, serving ``served`` and what the
    EndpointSlices say of any of its podIPs (``ports``); the warnings about it. One placement for both backends."""
    places, said = host_network_places(pod, family, placer.node_of_address, placer.addresses)
    served = served | {port for ip in pod.pod_ips for port in ports.get(ip, ())}
    for ip in places:
        placer.add(pod.key, ip, pod.node_name, served)
    return said


def _host_network_warning(pod: Pod, field: str, message: str) -> Diagnostic:
    file = pod.origin.file if pod.origin.file != Origin().file else None
    return Diagnostic(message, file=file, kind="Pod", object=pod.key, field=field, severity=Severity.WARNING)


def absent_addresses(cluster: Cluster, addresses: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """Addresses the objects give Pods that have no socket there: a finished Pod's (its sandbox is gone), one's
    bound to a node not running (``addresses`` is keyed by the nodes: no kubelet runs it) and a
    host-network Pod's status.podIP that is no address of its node (its sockets are its node's). An EndpointSlice
    that still lists one gets no made-up owner there: traffic to it finds nobody, as on a real cluster."""
    found = {ip for p in cluster.pods if p.phase in FINISHED or unbound(p, addresses) for ip in p.pod_ips}
    found |= {ip for p in running_pods(cluster) if p.host_network for ip in p.pod_ips
              if ip not in addresses.get(p.node_name or "", ())}
    return frozenset(found)


def service_addresses(cluster: Cluster) -> dict[str, str]:
    """Every address the objects give a Service (a clusterIP, an externalIP, a load-balancer ingress IP; either
    family) -> the Service's key: a virtual address, which the nodes' rules (or the outside network) answer for,
    not a machine's."""
    return {ip: s.key for s in cluster.services
            for ip in (*s.cluster_ips, *s.external_ips, *(i.ip for i in s.load_balancer_ingress if i.ip))}


def unplaced_endpoints(cluster: Cluster, addresses: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """Endpoint addresses that get no made-up owner, in both backends: the :func:`absent_addresses`, and a
    Service's address (:func:`service_addresses`) that is no node's (``addresses``, by node; at a node's address
    an endpoint is the node's host-network workload). No machine has a Service's address: a connection to such an
    endpoint goes where the nodes' rules send it (the other Service's endpoints), else where the routes do, from
    the source that route gives (a node's own address, not a pod bridge's), as on a real cluster."""
    nodes = {a for own in addresses.values() for a in own}
    return absent_addresses(cluster, addresses) | {ip for ip in service_addresses(cluster) if ip not in nodes}


def why_not_placed(cluster: Cluster, key: str, family: int, nodes: Container[str] | None = None) -> str | None:
    """Why the Pod object ``key`` is no workload of the network, in words for ``--from`` (None: no such Pod);
    ``nodes``: the nodes running (:func:`nodes_running`)."""
    pod = next((p for p in cluster.pods if p.key == key), None)
    if pod is None:
        return None
    if pod.phase in FINISHED:
        return f"the pod has finished (status.phase {pod.phase}), so it has no network any more; expected a running pod"
    if unbound(pod, nodes):
        return (f"the pod is bound to node {pod.node_name!r} (spec.nodeName), which no Node object has, so no kubelet "
                "runs it; expected a pod of a node of the objects")
    if pod.host_network and not pod.node_name:
        return "the pod is host-network and names no node (spec.nodeName), so it runs nowhere; expected a scheduled pod"
    other = 10 - family
    switch = f" (or {ip_family_flag(other)})" if any(family_of(ip) == other for ip in pod.pod_ips) else ""
    return f"the pod has no IPv{family} address (status.podIPs); expected a pod with one{switch}"


def slice_ports(cluster: Cluster) -> dict[str, set[tuple[str, int]]]:
    """(proto, port) per endpoint address: what the workload at that address serves (the kernel's builder reads
    it too, so that an address with an empty set answers on any port there as here)."""
    ports: dict[str, set[tuple[str, int]]] = {}
    for slc in cluster.endpoint_slices:
        if slc.address_type is AddressType.FQDN:
            continue
        served = {(p.protocol.value.lower(), p.port) for p in slc.ports if p.port}
        for endpoint in slc.endpoints:
            for address in endpoint.addresses:
                ports.setdefault(address, set()).update(served)
    return ports


class PodNetworked(Protocol):
    """What :class:`PodOwners` reads of a node (the simulator's :class:`SimNode`, the kernel plan's ``NodePlan``)."""

    @property
    def name(self) -> str: ...
    @property
    def pod_cidrs(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class PodOwners:
    """Which node a pod address runs on, one rule for both backends (``send`` and ``netns up`` must agree, or
    ``netns verify`` compares two different clusters): the node the Pod or endpoint names (spec.nodeName,
    nodeName) when there is one, else the node whose pod CIDR holds the address (where a CNI would have given
    it out, and where the other nodes route it), else the first node."""

    names: frozenset[str]
    nets: tuple[tuple[netaddr.IPNetwork, str], ...]
    primary: str

    @classmethod
    def of(cls, nodes: Sequence[PodNetworked]) -> PodOwners:
        return cls(frozenset(n.name for n in nodes),
                   tuple((netaddr.IPNetwork(c), n.name) for n in nodes for c in n.pod_cidrs), nodes[0].name)

    def node(self, ip: str, named: str | None) -> str:
        if named and named in self.names:
            return named
        address = netaddr.IPAddress(ip)
        return next((node for net, node in self.nets if address in net), self.primary)


class _PodPlacer:
    """Places workloads on nodes, first come first served by address."""

    def __init__(self, nodes: list[SimNode], family: int) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.node_of_address = {a: n.name for n in nodes for a in n.addresses}
        self.addresses = {n.name: n.addresses for n in nodes}
        self.owners = PodOwners.of(nodes)
        self.family = family
        self.pods: dict[str, SimPod] = {}  # pods with their own address, by address
        self.host_pods: dict[tuple[str, str], SimPod] = {}  # host-network workloads, by (address, key)
        self.per_node: dict[str, int] = {}  # the last veth index handed out per node

    def add(self, key: str, ip: str, node: str | None, ports: set[tuple[str, int]], pod_object: bool = True) -> None:
        """A workload at ``ip``: a host-network one when that is a node's address (:func:`host_network_places`
        gives a host-network Pod's), else one with a veth of its own; ``pod_object``: a Pod object's."""
        if family_of(ip) != self.family:
            return
        served = frozenset(ports) if ports else None
        if ip in self.node_of_address:
            if (ip, key) not in self.host_pods:
                self.host_pods[(ip, key)] = SimPod(key, ip, self.node_of_address[ip], True, served,
                                                   pod_object=pod_object)
            return
        if ip in self.pods:
            return
        owner = self.owners.node(ip, node)
        prefix = self.nodes[owner].config.interface_name_prefix or "veth"
        index = self.per_node[owner] = self.per_node.get(owner, -1) + 1
        self.pods[ip] = SimPod(key, ip, owner, False, served, f"{prefix}{index}"[:15], pod_object)


def endpoint_owners(cluster: Cluster, addresses: Mapping[str, Sequence[str]]) -> list[tuple[str, str, str | None]]:
    """(address, owner key, node) of every endpoint address that gets a made-up owner, by address, both families:
    named after its targetRef when it is a Pod (:func:`endpoint_owner_key`), the first slice that lists an address
    deciding, the :func:`unplaced_endpoints` (``addresses``: the nodes', by node) left out. One list for both
    backends, so that ``send`` and ``netns up`` place the same workloads."""
    unplaced = unplaced_endpoints(cluster, addresses)
    owners: dict[str, tuple[str, str, str | None]] = {}
    for slc in cluster.endpoint_slices:
        if slc.address_type is AddressType.FQDN:
            continue
        for endpoint in slc.endpoints:
            for address in endpoint.addresses:
                if address not in unplaced and address not in owners:
                    key = endpoint_owner_key(slc.namespace, address, endpoint.target_ref)
                    owners[address] = (address, key, endpoint.node_name)
    return sorted(owners.values(), key=lambda o: netaddr.IPAddress(o[0]))


def endpoint_owner_key(namespace: str, address: str, target_ref: tuple[str, str, str] | None) -> str:
    """The name of an endpoint address no Pod object owns: its targetRef's Pod, else one made up from the address
    (``NS/ep-10-244-1-10``), a stable key for ``--from pod/...`` and send's rows, which no reader should take for
    a Pod that was read (send shows it marked, :attr:`SimPod.pod_object`)."""
    if target_ref and target_ref[0] == "Pod":
        return f"{target_ref[1] or namespace}/{target_ref[2]}"
    return f"{namespace}/ep-{address.replace('.', '-').replace(':', '-')}"


def build_topology(cluster: Cluster, base: ProxyConfig, *,
                   overrides: Mapping[str, Mapping[str, object]] | None = None,
                   hosts: Iterable[tuple[str, str]] = ()) -> Topology:
    """Nodes, pods (Pod objects first, then endpoint-only addresses) and the external hosts."""
    family = 6 if base.ipv6 else 4
    nodes = plan_nodes(cluster, base, overrides)
    placer = _PodPlacer(nodes, family)
    declared = slice_ports(cluster)
    warnings = [*phantom_nodes(cluster, base.node_name),
                *(w for n in nodes for w in refused_pod_cidrs(cluster, n.config, family))]
    for pod in running_pods(cluster, placer.nodes):
        served = {(c.protocol.value.lower(), c.container_port) for c in pod.served_ports}
        if pod.host_network:
            warnings += place_host_network(placer, pod, family, served, declared)
            continue
        for ip in pod.pod_ips:
            placer.add(pod.key, ip, pod.node_name, served | declared.get(ip, set()))
    for ip, key, node in endpoint_owners(cluster, placer.addresses):
        placer.add(key, ip, node, declared.get(ip, set()), pod_object=False)
    taken = {*placer.pods, *placer.node_of_address}
    nodes = [dataclasses.replace(n, gateways=bridge_gateways(n.pod_cidrs, n.pods_by_veth, taken)) for n in nodes]
    return Topology(family, tuple(nodes), (*placer.pods.values(), *placer.host_pods.values()), tuple(hosts),
                    tuple(warnings))


def load_balancer_nodes(topology: Topology, cluster: Cluster) -> tuple[str, ...]:
    """The nodes a cloud balancer sends to: all but those labelled to be excluded."""
    return load_balancer_backends(cluster, (n.name for n in topology.nodes))


def external_ips(cluster: Cluster, family: int) -> dict[str, str]:
    """Service externalIPs of the family -> the service key (the outside routes them to the nodes)."""
    found: dict[str, str] = {}
    for svc in cluster.services:
        if svc.type is ServiceType.EXTERNAL_NAME:
            continue
        for ip in svc.external_ips:
            if family_of(ip) == family:
                found.setdefault(ip, svc.key)
    return found
