"""The scenario's endpointslicemirroring controller: the EndpointSlices it keeps for v1 Endpoints, synced on its
informers' events.

Upstream (pkg/controller/endpointslicemirroring) queues the key of an Endpoints object when

- a Service without a selector is added or deleted (onServiceAdd, onServiceDelete), or a Service's selector
  turns from none to some or back (onServiceUpdate); a change of anything else in a Service queues nothing;
- an Endpoints object is added or deleted and is one to mirror (onEndpointsAdd, onEndpointsDelete), or is
  updated and was or is one to mirror (onEndpointsUpdate). One to mirror (shouldMirror) has no
  ``endpointslice.kubernetes.io/skip-mirror: "true"`` label and no leader-election annotation.

A sync (syncEndpoints) deletes the key's mirrored slices when the Endpoints are gone or not to mirror, or their
Service is gone or has a selector; otherwise it reconciles the slices to the Endpoints (objects.mirror). So an
Endpoints object applied before its Service is mirrored when the Service is added, and one whose Service is
deleted loses its slices. A key nothing queued keeps its slices as they are.

The endpoints controller plays its part on the same objects: a Service deleted takes its Endpoints with it (its
syncService deletes the Endpoints of a Service not found, selector or not), and while a Service has a selector
it writes the Endpoints from the pods (syncService; see :func:`written_by_endpoints_controller`), which is what
the mirroring controller finds when the selector is removed.

Pure functions over two snapshots (the step's start and end), as controllers.queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from kubeproxy_sim.controllers.endpointslice import (
    HEADLESS_LABEL,
    is_endpoint,
    pod_ports,
    reconciled,
    selects,
    service_families,
)
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.queue import changes
from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.mirror import (
    LEADER_ANNOTATION,
    MANAGED_BY_LABEL,
    MAX_ENDPOINTS_PER_SUBSET,
    MIRROR_CONTROLLER,
    SKIP_MIRROR_LABEL,
    Endpoints,
    EndpointsAddress,
    EndpointsPort,
    EndpointsSubset,
    mirror_endpoints,
    mirror_skip_reason,
    repack_subsets,
    sort_subsets,
)
from kubeproxy_sim.objects.model import EndpointSlice, IPFamily, Origin, Pod, Service
from kubeproxy_sim.objects.subset_order import CORE, V1


def should_mirror(endpoints: Endpoints | None) -> bool:
    """shouldMirror: present, not labelled skip-mirror "true", not a leader-election lock."""
    return (endpoints is not None and dict(endpoints.labels).get(SKIP_MIRROR_LABEL) != "true"
            and LEADER_ANNOTATION not in dict(endpoints.annotations))


def mirror_queued(old_services: Iterable[Service], new_services: Iterable[Service],
                  old_endpoints: Iterable[Endpoints], new_endpoints: Iterable[Endpoints]) -> list[str]:
    """The Endpoints keys the controller's handlers queue between two snapshots, in the order first queued."""
    queued: dict[str, None] = {}
    for key, was, service in changes(old_services, new_services, lambda s: s.key):
        if _selectorless(was) != _selectorless(service):
            queued[key] = None  # onServiceAdd, onServiceDelete of a selectorless Service; onServiceUpdate of it
    for key, was_e, endpoints in changes(old_endpoints, new_endpoints, lambda e: e.key):
        if was_e != endpoints and (should_mirror(endpoints) or should_mirror(was_e)):
            queued[key] = None  # onEndpointsAdd, onEndpointsUpdate, onEndpointsDelete
    return list(queued)


def _selectorless(service: Service | None) -> bool:
    """A Service there without a selector: one turning so, or added or deleted so, queues its Endpoints key."""
    return service is not None and service.selector is None


@dataclass(frozen=True, slots=True)
class Mirrored:
    """The mirrored slices after a sync, and what the sync calls for saying of the Endpoints it looked at."""

    slices: tuple[EndpointSlice, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


def sync_mirrored(keys: Iterable[str], services: Mapping[str, Service], endpoints: Mapping[str, Endpoints],
                  mirrored: Iterable[EndpointSlice], user_slices: Iterable[EndpointSlice],
                  told: Iterable[str] = ()) -> Mirrored:
    """syncEndpoints of each queued key over the World's Services and Endpoints: the keys' mirrored slices made
    again (or deleted), the others' kept. A note for Endpoints left unmirrored (why), of these keys and of the
    ``told`` ones (Endpoints just applied, which no event may queue: one labelled skip-mirror), a warning for
    addresses over the cap of 1000 per subset and for a mirrored slice whose (deterministic) name a loaded slice
    holds."""
    keys = list(keys)
    wanted = set(keys)
    kept = [s for s in mirrored if s.service_key not in wanted]
    loaded = tuple(user_slices)
    taken = {s.key for s in loaded}
    loaded_for = {s.service_key for s in loaded}
    found: list[Diagnostic] = []
    for key in dict.fromkeys([*keys, *told]):
        item = endpoints.get(key)
        if item is None:  # "Endpoints not found, cleaning up any mirrored EndpointSlices"
            continue
        file = item.origin.file
        if key not in wanted:  # not synced: why it is not mirrored, if it is not
            reason = mirror_skip_reason(item, services.get(key))
            if reason and key not in loaded_for:
                found.append(Diagnostic(reason, file=file, kind="Endpoints", object=key, severity=Severity.NOTE))
            continue
        result = mirror_endpoints(item, services.get(key))
        if result.skipped_reason and key not in loaded_for:  # (a Service given slices by hand: no news)
            found.append(Diagnostic(result.skipped_reason, file=file, kind="Endpoints", object=key,
                                    severity=Severity.NOTE))
        if result.dropped:
            found.append(Diagnostic(f"{result.dropped} addresses not mirrored: the controller copies at most "
                                    f"{MAX_ENDPOINTS_PER_SUBSET} per subset", file=file, kind="Endpoints",
                                    object=key, severity=Severity.WARNING))
        for made in result.slices:
            if made.key in taken:
                found.append(Diagnostic(f"the mirrored EndpointSlice {made.key} is not added: an EndpointSlice "
                                        "with that name was loaded", file=file, kind="Endpoints", object=key,
                                        severity=Severity.WARNING))
                continue
            kept.append(made)
    return Mirrored(tuple(kept), tuple(found))


# the endpoints controller's maxCapacity, and the annotation it sets on Endpoints it truncated to it
ENDPOINTS_CAPACITY = 1000
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"


def written_by_endpoints_controller(service: Service, pods: Sequence[Pod]) -> Endpoints:
    """The Endpoints the endpoints controller keeps for a Service with a selector (syncService): one address per
    selected pod that has an address and is not finished, nor terminating unless the Service publishes not-ready
    addresses (ShouldPodBeInEndpoints); its address of the Service's primary family (podToEndpointAddressForService:
    Endpoints are single-stack), ready when the pod is or the Service publishes not-ready addresses, with each
    service port its pod resolves (FindPort; a headless Service without ports: the address alone); the Service's
    labels, with service.kubernetes.io/headless: "" added for a Service without a cluster IP and removed otherwise
    (so the slices mirrored from them are ones kube-proxy does not watch). What the mirroring controller mirrors
    once the selector is removed, as that controller then leaves them (syncService returns for a Service without
    a selector)."""
    family = service_families(service, pods)[0]
    subsets = []
    for pod in pods:
        if (not selects(service, pod) or not is_endpoint(pod)
                or (pod.terminating and not service.publish_not_ready_addresses)):
            continue
        ip = next((a for a in pod.pod_ips if (":" in a) == (family is IPFamily.IPV6)), None)
        if ip is None:
            continue
        address = EndpointsAddress(ip=ip, family=family, node_name=pod.node_name,
                                   target_ref=("Pod", pod.namespace, pod.name), uid=pod.key)
        ports = tuple(EndpointsPort(p.name or "", p.port or 0, p.protocol, p.app_protocol)  # (resolved: set)
                      for p in pod_ports(service, pod))
        headless = not service.cluster_ips and not service.cluster_ip_unset
        if not ports and (service.ports or not headless):  # none of its ports resolve; no ports, not headless
            continue
        ready = pod.ready or service.publish_not_ready_addresses
        subsets.append(EndpointsSubset(addresses=(address,) if ready else (), ports=ports,
                                       not_ready_addresses=() if ready else (address,)))
    # truncated in the order of the controller's RepackSubsets (v1 types), then stored in the API server's
    packed, truncated = truncated_to_capacity(repack_subsets(tuple(subsets), V1))
    packed = sort_subsets(packed, CORE)
    return Endpoints(service.namespace, service.name, tuple(packed), labels=endpoints_controller_labels(service),
                     annotations=((OVER_CAPACITY_ANNOTATION, "truncated"),) if truncated else (),
                     origin=Origin(file=service.origin.file))


def endpoints_controller_labels(service: Service) -> tuple[tuple[str, str], ...]:
    """The labels the endpoints controller gives a Service's Endpoints: the Service's, with
    service.kubernetes.io/headless: "" for one without a cluster IP (!IsServiceIPSet: clusterIP "None" or "") and
    without it otherwise; sorted."""
    labels = {k: v for k, v in service.labels if k != HEADLESS_LABEL}
    if not service.cluster_ips:
        labels[HEADLESS_LABEL] = ""
    return tuple(sorted(labels.items()))


def truncated_to_capacity(subsets: list[EndpointsSubset]) -> tuple[list[EndpointsSubset], bool]:
    """The repacked subsets cut to the endpoints controller's capacity of 1000 addresses (truncateEndpoints), and
    whether they were cut: ready addresses first; each subset keeps its share, rounded up, of the kind cut (ready
    ones, the not-ready ones then all dropped; or not-ready ones), in the subsets' order, the last ones taking
    what is left: upstream's is its RepackSubsets', by the hash of the v1 types (objects.subset_order), not the
    order the API server then stores. Upstream marks the object with the over-capacity annotation then."""
    ready = sum(len(s.addresses) for s in subsets)
    not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    if ready + not_ready <= ENDPOINTS_CAPACITY:
        return subsets, False
    cut_ready = ready > ENDPOINTS_CAPACITY
    room, total = (ENDPOINTS_CAPACITY, ready) if cut_ready else (ENDPOINTS_CAPACITY - ready, not_ready)
    left = room
    out = []
    for subset in subsets:
        members = subset.addresses if cut_ready else subset.not_ready_addresses
        share = min(math.ceil(len(members) / total * room), left)  # float64 as Go computes it: same rounding
        kept = members[:share]
        left -= len(kept)
        out.append(replace(subset, addresses=kept, not_ready_addresses=()) if cut_ready
                   else replace(subset, not_ready_addresses=kept))
    return out, True



def mirror_step(start: World, end: World) -> tuple[World, tuple[Diagnostic, ...]]:
    """The World after a step once the endpoints and mirroring controllers have seen it: the Endpoints of a
    Service whose selector the step removed are the endpoints controller's (as it wrote them from the pods at the
    step's start) unless the step applied them itself (that controller reacts to Endpoints only on delete, and
    leaves a Service without a selector: the user's win), and the Endpoints keys the step's events queue are
    synced (:func:`mirror_queued`); with what those syncs call for saying. The same World (``is``)
    when nothing is queued."""
    had = {e.key: e for e in start.endpoints}
    applied = [e.key for e in end.endpoints if had.get(e.key) != e]
    before = {s.key: s for s in start.services}
    unselected = [before[s.key] for s in end.services if s.selector is None and s.key in before
                  and reconciled(before[s.key])
                  and s.key not in applied]  # Endpoints the step itself applied are the user's: they win
    if unselected:
        pods = [p.at(start.now) for p in start.pods]
        written = {s.key: written_by_endpoints_controller(s, pods) for s in unselected}
        kept = tuple(e for e in end.endpoints if e.key not in written)
        end = replace(end, endpoints=(*kept, *written.values()))
    keys = mirror_queued(start.services, end.services, start.endpoints, end.endpoints)
    if not keys and not applied:
        return end, ()
    result = sync_mirrored(keys, {s.key: s for s in end.services}, {e.key: e for e in end.endpoints},
                           end.mirrored_slices, end.user_slices, applied)
    return replace(end, mirrored_slices=result.slices), result.diagnostics


def mirror_slices_deleted(loaded: Iterable[EndpointSlice]) -> tuple[Diagnostic, ...]:
    """A note for each loaded slice of the mirroring controller's label, which it deletes once it sees it
    (W.collect_slices): the slices of Endpoints are its own to make."""
    return tuple(Diagnostic(f"deleted by the mirroring controller, whose managed-by label it has: the slices of "
                            f"Endpoints {s.namespace}/{s.service_name} are its own to make, from the Endpoints",
                            file=s.origin.file, kind="EndpointSlice", object=s.key, severity=Severity.NOTE)
                 for s in loaded if dict(s.labels).get(MANAGED_BY_LABEL) == MIRROR_CONTROLLER)
