"""The EndpointSlice controller: a Service's selector and the matching Pods in, its slices out.

Every pod the selector matches that has an address and has not finished is an
endpoint, terminating ones included, unless its Node does not exist (upstream's
reconciler skips such a pod, and records the failed sync on the Service, unless
the Service sets publishNotReadyAddresses), with the conditions the controller
writes: ``serving`` is the pod's readiness, ``terminating`` whether it is being
deleted, ``ready`` is serving and not terminating (always true when the Service
sets publishNotReadyAddresses). Each service port's target
port is resolved per pod (a named port through the pod's container ports of
the same protocol; a pod without that name gets no such port), pods with the
same resolved ports share slices, one address family per slice and at most
100 endpoints each. Slices are rebuilt from scratch on every sync, with names
derived from what they hold so the same content keeps the same name.
Services without a selector, and ExternalName Services, get nothing here:
their slices are the user's (and those the controller wrote before the
Service lost its selector stay as they were: :func:`controllers.world.controller_sync`).

Hints: a Service whose annotations ask for Topology Aware Routing
(``topology-mode: Auto``) gets the topology cache's CPU-proportional zone hints
(:mod:`kubeproxy_sim.controllers.topology`) and its trafficDistribution is then
ignored, as upstream's reconciler does; otherwise a close trafficDistribution
gets each ready endpoint hinted for its own zone (and node); otherwise none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import netaddr

from kubeproxy_sim.controllers import topology
from kubeproxy_sim.controllers.naming import MAX_NAME, SUFFIX_LENGTH, stable_suffix
from kubeproxy_sim.objects.model import (
    TRAFFIC_DISTRIBUTIONS,
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Node,
    Pod,
    Service,
    ServicePort,
    ServiceType,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MAX_ENDPOINTS_PER_SLICE = 100
FAILED_UPDATE_REASON = "FailedToUpdateEndpointSlices"
_RESERVED_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})

PortSet = tuple[EndpointPort, ...]


def selects(service: Service, pod: Pod) -> bool:
    """The Service's selector matches the pod (same namespace, every selector pair among its labels)."""
    if service.selector is None or pod.namespace != service.namespace:
        return False
    labels = dict(pod.labels)
    return all(labels.get(k) == v for k, v in service.selector)


def is_endpoint(pod: Pod) -> bool:
    """Pods the controller lists: addressed and not finished (terminating pods stay, marked as such)."""
    return bool(pod.pod_ips) and pod.phase not in _FINISHED_PHASES


def node_missing(pod: Pod, nodes: Mapping[str, Node], service: Service) -> bool:
    """Upstream's reconciler skips a pod whose Node is not found (none named is not found either), unless the
    Service publishes not-ready addresses: the user asked for every pod's address."""
    return not service.publish_not_ready_addresses and (pod.node_name is None or pod.node_name not in nodes)


def skipped_event(service: Service, skipped: Sequence[Pod]) -> topology.Event:
    """The event the controller records when a sync skipped pods for a missing Node (endpointslice_controller.go
    syncService over reconciler.go's errors, aggregated as k8s.io/apimachinery's Aggregate prints them)."""
    errors = [f"skipping Pod {p.name} for Service {service.namespace}/{service.name}: Node {p.node_name or ''} "
              "Not Found" for p in skipped]
    text = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
    return topology.Event(topology.WARNING, FAILED_UPDATE_REASON,
                          f"Error updating Endpoint Slices for Service {service.namespace}/{service.name}: {text}")


def resolve_port(port: ServicePort, pod: Pod) -> int | None:
    """The pod's number for a service port's target port; None when a named port is not in the pod. As the
    controller's findPort (its copy in k8s.io/endpointslice, which kubernetes/kubernetes#128850 taught what #127976
    taught pkg/api/v1/pod's FindPort), a name is looked for in the containers' ports, then in the sidecars'."""
    if isinstance(port.target_port, int):
        return port.target_port or port.port
    for container_port in pod.served_ports:
        if container_port.name == port.target_port and container_port.protocol is port.protocol:
            return container_port.container_port
    return None


def pod_ports(service: Service, pod: Pod) -> PortSet:
    """The slice ports this pod's endpoint belongs with: service port names, resolved numbers."""
    out = []
    for port in service.ports:
        number = resolve_port(port, pod)
        if number is not None:
            out.append(EndpointPort(name=port.name, port=number, protocol=port.protocol,
                                    app_protocol=port.app_protocol))
    return tuple(out)


def conditions(pod: Pod, service: Service) -> EndpointConditions:
    """What the controller writes: ``ready`` is serving and not terminating, or always true when the Service
    publishes not-ready addresses (its clients want every pod, e.g. a StatefulSet's peers finding each other)."""
    serving = pod.ready
    ready = service.publish_not_ready_addresses or (serving and not pod.terminating)
    return EndpointConditions(ready=ready, serving=serving, terminating=pod.terminating)


def ip_family(address: str) -> IPFamily:
    """The family of an address (or CIDR) known to be valid."""
    return IPFamily.IPV6 if ":" in address else IPFamily.IPV4


def service_families(service: Service, pods: Iterable[Pod] = ()) -> tuple[IPFamily, ...]:
    """The address families the Service's slices are kept for."""
    if service.ip_families:
        return service.ip_families
    if service.cluster_ips:
        return tuple(dict.fromkeys(ip_family(ip) for ip in service.cluster_ips))
    found = tuple(dict.fromkeys(ip_family(ip) for pod in pods for ip in pod.pod_ips[:1]))
    return found or (IPFamily.IPV4,)


def make_endpoint(pod: Pod, address: str, nodes: Mapping[str, Node], service: Service) -> Endpoint:
    node = nodes.get(pod.node_name) if pod.node_name else None
    cond = conditions(pod, service)
    zone = (node.label(topology.ZONE_LABEL) or None) if node is not None else None  # an empty label: no zone
    for_zones, for_nodes = _hints(service, cond, zone, pod.node_name)
    return Endpoint(addresses=(address,), conditions=cond, node_name=pod.node_name, zone=zone,
                    hints_for_zones=for_zones, hints_for_nodes=for_nodes,
                    target_ref=("Pod", pod.namespace, pod.name))


def _hints(service: Service, cond: EndpointConditions, zone: str | None,
           node_name: str | None) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The hints the controller writes for trafficDistribution: each ready endpoint is hinted for its own zone
    (and, under PreferSameNode, its own node), so kube-proxy keeps traffic close; others get none. Without a
    close distribution the controller removes hints. (A Service with the topology-mode annotation has these
    replaced by the topology cache's, in :func:`reconcile_service`.)"""
    # every trafficDistribution value asks for closeness, so each gets hints (upstream's trafficdist package)
    if service.traffic_distribution not in TRAFFIC_DISTRIBUTIONS or cond.ready is not True:
        return None, None
    for_zones = (zone,) if zone is not None else None
    for_nodes = (node_name,) if node_name and service.traffic_distribution == "PreferSameNode" else None
    return for_zones, for_nodes


def slice_labels(service: Service) -> tuple[tuple[str, str], ...]:
    labels = {k: v for k, v in service.labels if k not in _RESERVED_LABELS}
    labels[SERVICE_NAME_LABEL] = service.name
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if service.headless:
        labels[HEADLESS_LABEL] = ""
    return tuple(sorted(labels.items()))


def slice_name(service: Service, *parts: str) -> str:
    """``<service>-<5 chars>`` like a generated name, but derived from what the slice is for."""
    prefix = service.name[: MAX_NAME - SUFFIX_LENGTH - 1] + "-"
    return prefix + stable_suffix(service.namespace, service.name, *parts)


def _address_key(address: str) -> int:
    return int(netaddr.IPAddress(address))


def _group(service: Service, pods: Sequence[Pod], family: IPFamily,
           nodes: Mapping[str, Node]) -> dict[PortSet, list[Endpoint]]:
    """Endpoints of one family, grouped by their resolved ports."""
    groups: dict[PortSet, list[Endpoint]] = {}
    for pod in pods:
        address = next((ip for ip in pod.pod_ips if ip_family(ip) is family), None)
        if address is None:
            continue
        groups.setdefault(pod_ports(service, pod), []).append(make_endpoint(pod, address, nodes, service))
    for endpoints in groups.values():
        endpoints.sort(key=lambda e: _address_key(e.addresses[0]))
    return groups


def _port_text(ports: PortSet) -> str:
    return ",".join(f"{p.name}:{p.port}/{p.protocol.value}" for p in ports)


@dataclass(frozen=True, slots=True)
class TopologyView:
    """What the controller's topology cache holds when it syncs: the zones' CPU ratios (None: it knows too little
    about the Nodes), the Services whose annotations ask for hints, and those whose hints it populated before."""

    ratios: Mapping[str, float] | None = None
    auto: frozenset[str] = frozenset()
    populated: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """An event the controller records on a Service (``NS/NAME``)."""

    service: str
    event: topology.Event


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One Service's (or every Service's) slices, the events recorded on the way, and the cache's populated set."""

    slices: tuple[EndpointSlice, ...]
    events: tuple[ServiceEvent, ...] = ()
    populated: frozenset[str] = frozenset()


def _chunks(service: Service, family: IPFamily, groups: dict[PortSet, list[Endpoint]],
            max_per_slice: int) -> list[EndpointSlice]:
    labels = slice_labels(service)
    address_type = AddressType(family.value)
    if not groups:
        return [EndpointSlice(namespace=service.namespace, name=slice_name(service, family.value, "empty"),
                              service_name=service.name, address_type=address_type, labels=labels)]
    out = []
    for ports in sorted(groups, key=_port_text):
        endpoints = groups[ports]
        for chunk, start in enumerate(range(0, len(endpoints), max_per_slice)):
            name = slice_name(service, family.value, _port_text(ports), str(chunk))
            out.append(EndpointSlice(namespace=service.namespace, name=name, service_name=service.name,
                                     address_type=address_type, endpoints=tuple(endpoints[start:start + max_per_slice]),
                                     ports=ports, labels=labels))
    return out


def _topology_hints(groups: dict[PortSet, list[Endpoint]], view: TopologyView,
                    family: IPFamily) -> topology.Hinted:
    """The topology cache over one family's endpoints, all its slices at once in slice order; ``groups`` is
    rewritten with the result."""
    order = sorted(groups, key=_port_text)
    hinted = topology.add_hints([e for ports in order for e in groups[ports]], view.ratios, family.value)
    start = 0
    for ports in order:
        count = len(groups[ports])
        groups[ports] = list(hinted.endpoints[start:start + count])
        start += count
    return hinted


def reconciled(service: Service) -> bool:
    """Whether the EndpointSlice controller reconciles the Service, and the endpoints controller writes its
    Endpoints: it has a selector and is not ExternalName (both syncService return before doing anything for any
    other, so what they wrote earlier stays as it was)."""
    return service.selector is not None and service.type is not ServiceType.EXTERNAL_NAME


def reconcile_service(service: Service, pods: Sequence[Pod], nodes: Mapping[str, Node],
                      max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
                      view: TopologyView = TopologyView()) -> Reconciled:
    """The slices the controller keeps for one Service, with the hints upstream's reconciler settles on: the
    topology cache's when the annotations ask for it (trafficDistribution is then not used), else
    trafficDistribution's, else none; and the events it records. ``populated`` in the result says whether the
    cache now holds hints for the Service (``{key}`` or empty)."""
    key = service.key
    if not reconciled(service):
        return Reconciled((), (), frozenset({key}) & view.populated)  # not synced: the cache is left alone
    members = [p for p in pods if selects(service, p) and is_endpoint(p)]
    skipped = [p for p in members if node_missing(p, nodes, service)]  # reconciler.go: "Node not found"
    if skipped:
        members = [p for p in members if not node_missing(p, nodes, service)]
    populated = key in view.populated
    events: list[ServiceEvent] = []
    out: list[EndpointSlice] = []
    for family in service_families(service, members):
        groups = _group(service, members, family, nodes)
        if key in view.auto:
            hinted = _topology_hints(groups, view, family)
            if hinted.warning is not None:
                events.append(ServiceEvent(key, hinted.warning))
            if hinted.ok and not populated:
                events.append(ServiceEvent(key, topology.enabled_event(family.value)))
            populated = hinted.ok
        elif populated:  # the annotation went away: the cache forgets the Service and says so once
            events.append(ServiceEvent(key, topology.disabled_event(family.value)))
            populated = False
        out.extend(_chunks(service, family, groups, max_per_slice))
    if skipped:  # once per sync, whatever the families: the sync's error, after the cache's events
        events.append(ServiceEvent(key, skipped_event(service, skipped)))
    return Reconciled(tuple(out), tuple(events), frozenset({key}) if populated else frozenset())


def service_slices(service: Service, pods: Sequence[Pod], nodes: Mapping[str, Node],
                   max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
                   view: TopologyView = TopologyView()) -> tuple[EndpointSlice, ...]:
    """The slices the controller keeps for one Service (none for ExternalName or selector-less ones)."""
    return reconcile_service(service, pods, nodes, max_per_slice, view).slices


def reconcile_all(services: Sequence[Service], pods: Sequence[Pod], nodes: Sequence[Node],
                  max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
                  view: TopologyView = TopologyView()) -> Reconciled:
    """Every Service synced, in Service order: their slices, events and the cache's new populated set. A deleted
    Service stays in that set: syncService's not-found branch clears the trigger times, metrics and slice tracker
    but not the topology cache, so a Service made again under that name says no TopologyAwareHintsEnabled (and,
    without the annotation, that hints were disabled)."""
    by_name = {n.name: n for n in nodes}
    by_namespace: dict[str, list[Pod]] = {}
    by_label: dict[tuple[str, str, str], list[Pod]] = {}  # (namespace, key, value) -> its pods, in order
    for pod in pods:
        by_namespace.setdefault(pod.namespace, []).append(pod)
        for key, value in pod.labels:
            by_label.setdefault((pod.namespace, key, value), []).append(pod)
    slices: list[EndpointSlice] = []
    events: list[ServiceEvent] = []
    populated = set(view.populated - {service.key for service in services})
    for service in services:
        candidates = by_namespace.get(service.namespace, [])
        if service.selector:  # the pods of its rarest pair (reconcile_service checks them all): a scan of every
            # pod per Service was Services x Pods per sync
            candidates = min((by_label.get((service.namespace, k, v), []) for k, v in service.selector), key=len)
        done = reconcile_service(service, candidates, by_name, max_per_slice, view)
        slices.extend(done.slices)
        events.extend(done.events)
        populated |= done.populated
    return Reconciled(tuple(slices), tuple(events), frozenset(populated))


def controller_slices(services: Sequence[Service], pods: Sequence[Pod], nodes: Sequence[Node],
                      max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
                      view: TopologyView = TopologyView()) -> tuple[EndpointSlice, ...]:
    """Every Service's controller-managed slices, in Service order."""
    return reconcile_all(services, pods, nodes, max_per_slice, view).slices
