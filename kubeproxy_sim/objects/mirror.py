"""v1 Endpoints, and the EndpointSlices the endpointslicemirroring controller derives from them.

kube-proxy only reads EndpointSlices. A hand-managed v1 Endpoints object (for a
Service without a selector) reaches it through the mirroring controller, so
loading Endpoints means doing what that controller does:

* only Endpoints whose Service exists and has no selector are mirrored, and not
  when labelled ``endpointslice.kubernetes.io/skip-mirror: "true"`` or carrying
  the leader-election annotation (such objects are locks, not endpoints);
* the subsets are first repacked as the API server stores them and the
  controller reads them (``RepackSubsets``): one entry per address (IP and
  targetRef UID) and port, where not ready trumps ready, then the ports that
  share one set of addresses make one subset, its addresses sorted by IP text;
  addresses of subsets without ports stay, in a subset without ports (or in
  the subset of the ports the very same addresses offer);
* each repacked subset gives one slice per address family; ``addresses``
  become ready endpoints, ``notReadyAddresses`` not-ready ones (serving and
  terminating stay unset);
* at most 1000 addresses per repacked subset (ready ones first, in that sorted
  order) and per slice are mirrored;
* slices carry the Endpoints' labels plus the service-name and managed-by labels.

The real controller names slices with a random suffix; ours are deterministic
(``<name>-mirror-ipv4``, ``<name>-mirror-ipv4-2`` for a second port set, ...)
so output is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field, replace

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
from kubeproxy_sim.objects.subset_order import CORE, port_hash, subset_hash
from kubeproxy_sim.objects.values import value_class

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MIRROR_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_ENDPOINTS_PER_SUBSET = 1000
_NOT_COPIED = frozenset({"endpoints.kubernetes.io/last-change-trigger-time",
                         "kubectl.kubernetes.io/last-applied-configuration"})

_READY = EndpointConditions(ready=True)
_NOT_READY = EndpointConditions(ready=False)


@value_class
class EndpointsAddress:
    ip: str  # canonical
    family: IPFamily
    hostname: str | None = None
    node_name: str | None = None
    target_ref: tuple[str, str, str] | None = None
    uid: str = ""  # targetRef.uid: with the IP, what tells two addresses apart when subsets are repacked
    # the ip as the object wrote it where that is not ``ip`` (a legacy 010.0.0.1, an upper-case or uncompressed IPv6
    # form); "" when it is. RepackSubsets keys and sorts the addresses by this text, not by the address it reads as
    written: str = ""

    @property
    def written_ip(self) -> str:
        """The ip's text as written, which RepackSubsets keys (addressKey) and sorts (LessEndpointAddress) by."""
        return self.written or self.ip


@value_class
class EndpointsPort:
    name: str
    port: int
    protocol: Protocol = Protocol.TCP
    app_protocol: str | None = None


@value_class
class EndpointsSubset:
    addresses: tuple[EndpointsAddress, ...] = ()
    not_ready_addresses: tuple[EndpointsAddress, ...] = ()
    ports: tuple[EndpointsPort, ...] = ()


@value_class
class Endpoints:
    """A v1 Endpoints object, decoded; it never reaches the Cluster itself, only its mirrored slices."""

    namespace: str
    name: str
    subsets: tuple[EndpointsSubset, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    # (key, value) pairs: the controller looks for the leader-election one and copies the rest to its slices
    annotations: tuple[tuple[str, str], ...] = ()
    origin: Origin = field(default=Origin(), compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@value_class
class MirrorResult:
    slices: tuple[EndpointSlice, ...] = ()
    skipped_reason: str | None = None  # why nothing was mirrored, when that was a decision
    dropped: int = 0  # addresses over the per-subset / per-slice limit


def copied_annotations(endpoints: Endpoints) -> tuple[tuple[str, str], ...]:
    """The annotations the controller copies onto each slice it mirrors (all but the last-change trigger time
    and kubectl's last-applied configuration), sorted. The slice model has no annotations: a change here is a
    new revision of the slices, not a different slice."""
    return tuple(sorted((key, value) for key, value in endpoints.annotations if key not in _NOT_COPIED))


def mirror_skip_reason(endpoints: Endpoints, service: Service | None) -> str | None:
    """Why the controller would leave these Endpoints alone, or None when it mirrors them."""
    if dict(endpoints.labels).get(SKIP_MIRROR_LABEL) == "true":
        return f'not mirrored to EndpointSlices: it has the label {SKIP_MIRROR_LABEL}="true"'
    if LEADER_ANNOTATION in dict(endpoints.annotations):
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
_AddressKey = tuple[str, str]  # (IP as written, targetRef UID), as RepackSubsets' addressKey


def repack_subsets(subsets: tuple[EndpointsSubset, ...], package: str = CORE) -> list[EndpointsSubset]:
    """The subsets as ``RepackSubsets`` (pkg/api/endpoints/util.go; ``package`` "v1": pkg/api/v1/endpoints', the
    endpoints controller's) leaves them: per port, one entry per (IP,
    targetRef UID) whose first copy is kept, not ready if any copy is not ready; the ports with the same
    addresses (and readiness) make one subset; addresses sorted as ``LessEndpointAddress`` sorts them (IP text as
    written, then no targetRef first, then UID). The addresses of subsets without ports are gathered under
    upstream's sentinel port (None here), which no subset lists: they make a subset without ports, or join the
    subset of ports offered by exactly those addresses. A port no address offers goes. SortSubsets then orders
    each subset's ports, and the subsets, by the hash of ``package``'s types (:func:`sort_subsets`)."""
    first: dict[_AddressKey, EndpointsAddress] = {}
    by_port: dict[EndpointsPort | None, dict[_AddressKey, bool]] = {}
    for subset in subsets:
        tagged = [(a, True) for a in subset.addresses] + [(a, False) for a in subset.not_ready_addresses]
        if not tagged:  # its ports gain no entry (a port no address offers goes)
            continue
        keyed = []
        for address, listed_ready in tagged:
            key = (address.written_ip, address.uid)
            first.setdefault(key, address)
            keyed.append((key, listed_ready))
        for port in subset.ports or (None,):
            ready_of = by_port.setdefault(port, {})
            for key, listed_ready in keyed:
                if ready_of.get(key, True):  # not ready always trumps ready: an earlier False stays
                    ready_of[key] = listed_ready
    ports_of: dict[frozenset[tuple[_AddressKey, bool]], list[EndpointsPort]] = {}
    for port, ready_of in by_port.items():
        listed = ports_of.setdefault(frozenset(ready_of.items()), [])
        if port is not None:
            listed.append(port)
    repacked = []
    for members, ports in ports_of.items():
        ready = sorted((first[key] for key, is_ready in members if is_ready), key=_address_order)
        not_ready = sorted((first[key] for key, is_ready in members if not is_ready), key=_address_order)
        repacked.append(EndpointsSubset(addresses=tuple(ready), not_ready_addresses=tuple(not_ready),
                                        ports=tuple(ports)))
    return sort_subsets(repacked, package)


def sort_subsets(subsets: Iterable[EndpointsSubset], package: str = CORE) -> list[EndpointsSubset]:
    """SortSubsets over ``package``'s types (objects.subset_order): each subset's ports, then the subsets, by hash;
    the addresses, sorted by IP and UID whatever the package, are taken as they are (RepackSubsets sorted them)."""
    ported = [replace(s, ports=tuple(sorted(s.ports, key=lambda p: port_hash(p, package)))) for s in subsets]
    return sorted(ported, key=lambda s: subset_hash(s, package))


def _address_order(address: EndpointsAddress) -> tuple[bytes, bool, str]:
    """LessEndpointAddress: the bytes of the IP as written (bytes.Compare of the field's text: 010.0.0.9 before
    10.0.0.1), then an address without a targetRef first, then the UID."""
    return address.written_ip.encode(), address.target_ref is not None, address.uid


_SetKey = tuple[str, str | None, tuple[str, str] | None]


def _group(endpoints: Endpoints) -> tuple[dict[_GroupKey, tuple[tuple[EndpointsPort, ...], list[Endpoint]]], int]:
    """The repacked subsets' endpoints grouped by (address family, set of ports), in first-seen order: at most
    1000 addresses of each subset, ready ones first, as the controller's reconcile takes them. Within a group,
    endpoints with the same address, hostname and targetRef name are one (the controller's EndpointSet: the
    later one wins)."""
    groups: dict[_GroupKey, tuple[tuple[EndpointsPort, ...], dict[_SetKey, Endpoint]]] = {}
    dropped = 0
    for subset in repack_subsets(endpoints.subsets):
        port_set = frozenset(subset.ports)
        for address_type in (AddressType.IPV4, AddressType.IPV6):
            groups.setdefault((address_type, port_set), (subset.ports, {}))
        tagged = [(a, _READY) for a in subset.addresses] + [(a, _NOT_READY) for a in subset.not_ready_addresses]
        dropped += max(0, len(tagged) - MAX_ENDPOINTS_PER_SUBSET)
        for address, conditions in tagged[:MAX_ENDPOINTS_PER_SUBSET]:
            ref = address.target_ref
            groups[(AddressType(address.family.value), port_set)][1][
                (address.ip, address.hostname, ref[1:] if ref is not None else None)] = Endpoint(
                addresses=(address.ip,), conditions=conditions, hostname=address.hostname,
                node_name=address.node_name, target_ref=ref)
    return {key: (ports, list(members.values())) for key, (ports, members) in groups.items()}, dropped


def _slice_name(name: str, address_type: AddressType, count: int) -> str:
    """Deterministic stand-in for the controller's generated name."""
    base = f"{name}-mirror-{address_type.value.lower()}"
    return base if count == 1 else f"{base}-{count}"
