"""v1 Endpoints, and the EndpointSlices the endpointslicemirroring controller derives from them.

kube-proxy only reads EndpointSlices. A hand-managed v1 Endpoints object (for a
Service without a selector) reaches it through the mirroring controller, so
loading Endpoints means doing what that controller does:

* only Endpoints whose Service exists and has no selector are mirrored, and not
  when labelled ``endpointslice.kubernetes.io/skip-mirror: "true"`` or carrying
  the leader-election annotation (such objects are locks, not endpoints);
* subsets with the same set of ports share a slice, one slice per address
  family; ``addresses`` become ready endpoints, ``notReadyAddresses`` not-ready
  ones (serving and terminating stay unset);
* at most 1000 addresses per subset and per slice are mirrored;
* slices carry the Endpoints' labels plus the service-name and managed-by labels.

The real controller names slices with a random suffix; ours are deterministic
(``<name>-mirror-ipv4``, ``<name>-mirror-ipv4-2`` for a second port set, ...)
so output is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Origin,
    Protocol,
    Service,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MIRROR_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_ENDPOINTS_PER_SUBSET = 1000

_READY = EndpointConditions(ready=True)
_NOT_READY = EndpointConditions(ready=False)


@dataclass(frozen=True, slots=True)
class EndpointsAddress:
    ip: str  # canonical
    family: IPFamily
    hostname: str | None = None
    node_name: str | None = None
    target_ref: tuple[str, str, str] | None = None


@dataclass(frozen=True, slots=True)
class EndpointsPort:
    name: str
    port: int
    protocol: Protocol = Protocol.TCP
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointsSubset:
    addresses: tuple[EndpointsAddress, ...] = ()
    not_ready_addresses: tuple[EndpointsAddress, ...] = ()
    ports: tuple[EndpointsPort, ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """A v1 Endpoints object, decoded; it never reaches the Cluster itself, only its mirrored slices."""

    namespace: str
    name: str
    subsets: tuple[EndpointsSubset, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[str, ...] = ()  # keys only: the controller looks at the leader-election one
    origin: Origin = field(default=Origin(), compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class MirrorResult:
    slices: tuple[EndpointSlice, ...] = ()
    skipped_reason: str | None = None  # why nothing was mirrored, when that was a decision
    dropped: int = 0  # addresses over the per-subset / per-slice limit


def mirror_skip_reason(endpoints: Endpoints, service: Service | None) -> str | None:
    """Why the controller would leave these Endpoints alone, or None when it mirrors them."""
    if dict(endpoints.labels).get(SKIP_MIRROR_LABEL) == "true":
        return f'not mirrored to EndpointSlices: it has the label {SKIP_MIRROR_LABEL}="true"'
    if LEADER_ANNOTATION in endpoints.annotations:
        return "not mirrored to EndpointSlices: it is a leader-election lock"
    if service is None:
        return f"not mirrored to EndpointSlices: there is no Service {endpoints.key}"
    if service.selector is not None:
        return (f"not mirrored to EndpointSlices: Service {endpoints.key} has a selector, so its "
                "EndpointSlices come from the EndpointSlice controller")
    return None


def mirror_endpoints(endpoints: Endpoints, service: Service | None) -> MirrorResult:
    """The EndpointSlices the mirroring controller keeps for ``endpoints``."""
    reason = mirror_skip_reason(endpoints, service)
    if reason is not None:
        return MirrorResult(skipped_reason=reason)
    groups, dropped = _group(endpoints)
    labels = dict(endpoints.labels)
    labels[SERVICE_NAME_LABEL] = endpoints.name
    labels[MANAGED_BY_LABEL] = MIRROR_CONTROLLER
    label_pairs = tuple(sorted(labels.items()))
    slices = []
    seen_per_family: dict[AddressType, int] = {}
    for (address_type, _), (ports, members) in groups.items():
        if not members:
            continue
        count = seen_per_family.get(address_type, 0) + 1
        seen_per_family[address_type] = count
        kept = members[:MAX_ENDPOINTS_PER_SUBSET]
        dropped += len(members) - len(kept)
        slices.append(EndpointSlice(
            namespace=endpoints.namespace,
            name=_slice_name(endpoints.name, address_type, count),
            service_name=endpoints.name,
            address_type=address_type,
            endpoints=tuple(kept),
            ports=tuple(EndpointPort(p.name, p.port, p.protocol, p.app_protocol) for p in ports),
            labels=label_pairs,
            origin=endpoints.origin,
        ))
    return MirrorResult(slices=tuple(slices), dropped=dropped)


_GroupKey = tuple[AddressType, frozenset[EndpointsPort]]


def _group(endpoints: Endpoints) -> tuple[dict[_GroupKey, tuple[tuple[EndpointsPort, ...], list[Endpoint]]], int]:
    """Endpoints grouped by (address family, set of ports), in first-seen order, duplicates removed."""
    groups: dict[_GroupKey, tuple[tuple[EndpointsPort, ...], list[Endpoint]]] = {}
    seen: dict[_GroupKey, set[Endpoint]] = {}
    dropped = 0
    for subset in endpoints.subsets:
        port_set = frozenset(subset.ports)
        for address_type in (AddressType.IPV4, AddressType.IPV6):
            key = (address_type, port_set)
            if key not in groups:
                groups[key] = (subset.ports, [])
                seen[key] = set()
        tagged = [(a, _READY) for a in subset.addresses] + [(a, _NOT_READY) for a in subset.not_ready_addresses]
        dropped += max(0, len(tagged) - MAX_ENDPOINTS_PER_SUBSET)
        for address, conditions in tagged[:MAX_ENDPOINTS_PER_SUBSET]:
            key = (AddressType(address.family.value), port_set)
            endpoint = Endpoint(addresses=(address.ip,), conditions=conditions, hostname=address.hostname,
                                node_name=address.node_name, target_ref=address.target_ref)
            if endpoint not in seen[key]:
                seen[key].add(endpoint)
                groups[key][1].append(endpoint)
    return groups, dropped


def _slice_name(name: str, address_type: AddressType, count: int) -> str:
    """Deterministic stand-in for the controller's generated name."""
    base = f"{name}-mirror-{address_type.value.lower()}"
    return base if count == 1 else f"{base}-{count}"
