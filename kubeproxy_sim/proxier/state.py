"""What kube-proxy knows about services and endpoints, for one node and one IP family.

kube-proxy never looks at a Service or an EndpointSlice while writing rules: it
first flattens Services into *service ports* (one per ``spec.ports`` entry,
with the addresses of its own family only) and merges every EndpointSlice of a
service into per-port endpoint lists (deduplicated, sorted by ``ip:port`` text,
with readiness and locality already decided). This module computes those two
views; the rule families only read them.

Named target ports need no lookup here: the EndpointSlice controller already
resolved them into each slice's port numbers, and kube-proxy pairs a service
port with the slice port of the same *name* and protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from operator import attrgetter
from typing import Any

from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    EndpointSlice,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
    watched_by_kube_proxy,
)
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.config import ProxyConfig

PortKey = tuple[str, str, str, Protocol]
"""(namespace, service name, port name, protocol): how endpoints find their service port."""


@value_class
class ServicePortInfo:
    """One port of one service as this node's proxier for one family sees it."""

    namespace: str
    name: str
    port_name: str
    protocol: Protocol
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_vips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    health_check_node_port: int = 0
    external_policy_local: bool = False
    internal_policy_local: bool = False
    client_ip_affinity: bool = False
    affinity_timeout: int = 0
    # Derived once here because every rule of the service writes them:
    name_string: str = field(default="", compare=False)  # ns/name:port, ns/name when unnamed
    proto: str = field(default="", compare=False)  # the protocol as iptables spells it (tcp)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_string", port_name_string(self.namespace, self.name, self.port_name))
        object.__setattr__(self, "proto", self.protocol.value.lower())

    @property
    def key(self) -> PortKey:
        return (self.namespace, self.name, self.port_name, self.protocol)

    @property
    def externally_accessible(self) -> bool:
        """Reachable through something other than the cluster IP."""
        return bool(self.node_port or self.load_balancer_vips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster-policy endpoints are needed for internal Cluster policy, and for any
        external traffic (the EXT chain short-circuits local clients to them)."""
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.external_policy_local and self.externally_accessible)


def port_name_string(namespace: str, name: str, port_name: str) -> str:
    """A service port's name as kube-proxy writes it in comments and hashes into chain names: ``ns/name:port``,
    ``ns/name`` when the port is unnamed (:attr:`ServicePortInfo.name_string`)."""
    return f"{namespace}/{name}:{port_name}" if port_name else f"{namespace}/{name}"


_SERVICE_PORT_INFO_DRAFT: Any = draft_class(ServicePortInfo)


@value_class
class EndpointInfo:
    """One endpoint of one service port, with the conditions kube-proxy derived for it."""

    ip: str
    port: int
    endpoint: str  # ip:port, [ip]:port for IPv6: DNAT target, comment and SEP hash input
    is_local: bool = False
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    zone_hints: frozenset[str] | None = None
    node_hints: frozenset[str] | None = None

    @staticmethod
    def make(ip: str, port: int, endpoint: str, is_local: bool, ready: bool, serving: bool,
             terminating: bool, zone_hints: frozenset[str] | None, node_hints: frozenset[str] | None) -> EndpointInfo:
        """The bulk path (one per endpoint of a large cluster): the slots written on a draft that then becomes an
        EndpointInfo (:func:`~kubeproxy_sim.objects.bulk.draft_class`), skipping the frozen ``__init__``'s
        ``object.__setattr__`` per field; the result is identical. Always an EndpointInfo, even called on a subclass
        (a static method: a subclass with fields of its own or a ``__dict__`` has another layout than the draft's,
        and the ``__class__`` assignment would be refused); every field must be written here
        (tests/objects/test_draft_builders.py checks)."""
        info = object.__new__(_ENDPOINT_INFO_DRAFT)
        info.ip = ip
        info.port = port
        info.endpoint = endpoint
        info.is_local = is_local
        info.ready = ready
        info.serving = serving
        info.terminating = terminating
        info.zone_hints = zone_hints
        info.node_hints = node_hints
        info.__class__ = EndpointInfo
        return info


_ENDPOINT_INFO_DRAFT: Any = draft_class(EndpointInfo)


def is_ipv6_text(address: str) -> bool:
    """Family test on canonical text: only IPv6 addresses contain a colon."""
    return ":" in address


def _family_matches(address: str, ipv6: bool) -> bool:
    return is_ipv6_text(address) == ipv6


def _service_externally_accessible(service: Service) -> bool:
    """The API's notion (before family filtering), which gates externalTrafficPolicy."""
    if service.type in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT):
        return True
    return service.type is ServiceType.CLUSTER_IP and bool(service.external_ips)


def _external_policy_local(service: Service) -> bool:
    return _service_externally_accessible(service) and service.external_traffic_policy is TrafficPolicy.LOCAL


def _source_ranges(service: Service, ipv6: bool) -> tuple[str, ...]:
    """loadBalancerSourceRanges of this family (kube-proxy's MapCIDRsByIPFamily); the loader left them trimmed,
    parsed and canonical (objects.decode)."""
    return tuple(cidr for cidr in service.load_balancer_source_ranges if _family_matches(cidr, ipv6))


def _load_balancer_vips(service: Service, ipv6: bool) -> tuple[str, ...]:
    """Ingress IPs of VIP mode; ``ipMode: Proxy`` load balancers get no rules."""
    return tuple(
        ing.ip for ing in service.load_balancer_ingress
        if ing.ip and ing.ip_mode in (None, "VIP") and _family_matches(ing.ip, ipv6)
    )


def cluster_ip_for_family(service: Service, ipv6: bool) -> str | None:
    """The service's cluster IP of this family; None when it has none (single-stack other family)."""
    for ip in service.cluster_ips:  # (a loop, not next() over a generator: once per service port of a sync)
        if (":" in ip) == ipv6:  # (is_ipv6_text inline)
            return ip
    return None


def service_ports(service: Service, config: ProxyConfig) -> tuple[ServicePortInfo, ...]:
    """The service ports kube-proxy programs for ``service``; () for the ones it skips.

    ExternalName and headless services, and services without a cluster IP of
    this proxier's family, get no rules at all.
    """
    return family_service_ports(service, config.ipv6)


def family_service_ports(service: Service, ipv6: bool) -> tuple[ServicePortInfo, ...]:
    """:func:`service_ports` for the proxier of one family (all it reads of the config)."""
    if service.type is ServiceType.EXTERNAL_NAME or not service.cluster_ips:
        return ()
    cluster_ip = cluster_ip_for_family(service, ipv6)
    if cluster_ip is None:
        return ()
    # (each family's part of a list only when there is one: most Services have none of the three)
    affinity = service.session_affinity is SessionAffinity.CLIENT_IP
    external_local = _external_policy_local(service)
    shared = (tuple(ip for ip in service.external_ips if _family_matches(ip, ipv6)) if service.external_ips else (),
              _load_balancer_vips(service, ipv6) if service.load_balancer_ingress else (),
              _source_ranges(service, ipv6) if service.load_balancer_source_ranges else (),
              external_local, service.internal_traffic_policy is TrafficPolicy.LOCAL, affinity,
              service.affinity_timeout if affinity else 0)
    health_check = service.health_check_node_port \
        if external_local and service.type is ServiceType.LOAD_BALANCER else 0
    return tuple([_port_info(service, port, cluster_ip, health_check, shared) for port in service.ports])


_Shared = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool, bool, bool, int]
"""What every port of a service shares (:func:`family_service_ports`): external IPs, load-balancer VIPs, source
ranges, external and internal Local policy, ClientIP affinity, its timeout. A tuple, not a dict by field name:
built and read once per service port of a sync, the dict's keys cost ~3,000 instructions a port (callgrind)."""


def _port_info(service: Service, port: ServicePort, cluster_ip: str, health_check: int,
               shared: _Shared) -> ServicePortInfo:
    """One ServicePortInfo, built on a draft (:func:`~kubeproxy_sim.objects.bulk.draft_class`), as EndpointInfo.make
    builds an endpoint: the frozen ``__init__`` (seventeen fields by keyword, ``object.__setattr__`` each, then
    ``__post_init__``) costs ~40,000 instructions a port, and a large cluster has one per service port. Every field
    must be written here, the derived two as ``__post_init__`` writes them (tests/objects/test_draft_builders.py
    checks both)."""
    external_ips, vips, source_ranges, external_local, internal_local, affinity, timeout = shared
    info = object.__new__(_SERVICE_PORT_INFO_DRAFT)
    info.namespace = service.namespace
    info.name = service.name
    info.port_name = port.name
    info.protocol = port.protocol
    info.cluster_ip = cluster_ip
    info.port = port.port
    info.node_port = port.node_port
    info.external_ips = external_ips
    info.load_balancer_vips = vips
    info.source_ranges = source_ranges
    info.health_check_node_port = health_check
    info.external_policy_local = external_local
    info.internal_policy_local = internal_local
    info.client_ip_affinity = affinity
    info.affinity_timeout = timeout
    info.name_string = port_name_string(service.namespace, service.name, port.name)
    info.proto = port.protocol.value.lower()
    info.__class__ = ServicePortInfo
    return info


def all_service_ports(cluster: Cluster, config: ProxyConfig) -> list[ServicePortInfo]:
    """Every programmed service port, ordered by ``ns/name`` then by the service's port order.

    That order is the one upstream's tests sort dumps into (rules grouped by
    the service name in their comment, stable otherwise), so rules generated in
    it need no sorting afterwards.
    """
    services = sorted((s for s in cluster.services if watched_by_kube_proxy(s.labels)),
                      key=lambda s: f"{s.namespace}/{s.name}")
    result: list[ServicePortInfo] = []
    seen: set[PortKey] = set()
    for service in services:
        for info in service_ports(service, config):
            if info.key not in seen:  # duplicate port names are invalid; keep the first
                seen.add(info.key)
                result.append(info)
    return result


def endpoints_map(slices: Iterable[EndpointSlice], config: ProxyConfig) -> dict[PortKey, tuple[EndpointInfo, ...]]:
    """Merge EndpointSlices into per-service-port endpoint lists sorted by ``ip:port`` text.

    Slices of the other family (or FQDN slices) and slices without a service
    label are ignored; ports without a number are ignored; an endpoint listed
    twice keeps its non-terminating copy: of two such, the one in the slice
    whose name sorts last (kube-proxy walks slices in map order, so its pick is
    random; the loader warns of it, see ``objects.overlap``).
    """
    ipv6 = config.ipv6
    family = AddressType.IPV6 if ipv6 else AddressType.IPV4  # a slice of another family is not this proxier's
    merged: dict[PortKey, dict[str, EndpointInfo]] = {}
    for eps in sorted(slices, key=_SLICE_ORDER):
        if not eps.service_name or eps.address_type is not family or not watched_by_kube_proxy(eps.labels):
            continue
        for port in eps.ports:
            if not port.port:
                continue
            key = (eps.namespace, eps.service_name, port.name or "", port.protocol)
            _add_endpoints(merged.setdefault(key, {}), eps, port.port, config.node_name, ipv6)
    # (sorted by the texts alone, which are the keys: sorting the items compared tuples; each text's endpoint
    # read by map's C loop, not a comprehension's: ~1,000 instructions less a port of 10 endpoints, callgrind)
    return {key: tuple(map(found.__getitem__, sorted(found))) for key, found in merged.items() if found}


_SLICE_ORDER = attrgetter("namespace", "service_name", "name")


def _add_endpoints(found: dict[str, EndpointInfo], eps: EndpointSlice, port: int, node_name: str,
                   ipv6: bool) -> None:
    """Add the slice's endpoints on ``port`` to ``found`` (by ``ip:port`` text), a terminating copy of one already
    there left out.

    One per endpoint of a large cluster: the EndpointInfo is built on a draft here, as EndpointInfo.make builds it
    (a call less an endpoint; tests/objects/test_draft_builders.py checks every field is written), and the
    conditions are read as its counts_ready/counts_serving properties read them, without their calls.
    """
    new = object.__new__
    draft = _ENDPOINT_INFO_DRAFT
    suffix = f"]:{port}" if ipv6 else f":{port}"
    local = bool(node_name)
    for ep in eps.endpoints:
        addresses = ep.addresses
        if not addresses:
            continue
        ip = addresses[0]
        text = f"[{ip}{suffix}" if ipv6 else ip + suffix
        cond = ep.conditions
        terminating = cond.terminating is True  # (bool() without its call: a condition is True, False or None)
        if terminating and text in found:
            continue
        ready = cond.ready
        serving = cond.serving
        zones = ep.hints_for_zones
        nodes = ep.hints_for_nodes
        info = new(draft)
        info.ip = ip
        info.port = port
        info.endpoint = text
        info.is_local = local and ep.node_name == node_name
        info.ready = ready is None or ready  # (EndpointConditions.counts_ready)
        info.serving = serving is None or serving  # (EndpointConditions.counts_serving)
        info.terminating = terminating
        info.zone_hints = frozenset(zones) if zones else None
        info.node_hints = frozenset(nodes) if nodes else None
        info.__class__ = EndpointInfo
        found[text] = info


def endpoint_chain_name(service: ServicePortInfo, endpoint: EndpointInfo) -> str:
    """The KUBE-SEP chain of ``endpoint`` for ``service``."""
    return naming.endpoint_chain(service.name_string, service.proto, endpoint.endpoint)
