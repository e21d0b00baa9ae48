"""What kube-proxy compares to decide a Service's rules changed: its *effective views* of Services and slices.

Upstream's change trackers compare what the proxier reads (a Service's port
map, an EndpointSlice's ports and endpoints), so an edit to anything else (a
label, an annotation, a file the object moved to) rewrites nothing. The watch
trackers and the replay's partial syncs both compare these views.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from kubeproxy_sim.objects.model import AddressType, EndpointSlice, Service, ServiceType, watched_by_kube_proxy


def service_view(svc: Service | None) -> Hashable | None:
    """What decides a Service's rules: None when kube-proxy skips it (headless, ExternalName).

    Labels and origin are left out (the rules never read them), but for the two that hide the Service from
    kube-proxy.
    """
    if svc is None or svc.type is ServiceType.EXTERNAL_NAME or not svc.cluster_ips:
        return None
    if not watched_by_kube_proxy(svc.labels):
        return None  # a label that hands the Service to another proxy removes it, as far as kube-proxy knows
    return (svc.type, svc.cluster_ips, svc.ip_families, svc.ports, svc.external_ips, svc.load_balancer_ingress,
            svc.load_balancer_source_ranges, svc.external_traffic_policy, svc.internal_traffic_policy,
            svc.health_check_node_port, svc.session_affinity, svc.affinity_timeout, svc.traffic_distribution)


def _endpoint_view(ep: Any) -> tuple:
    """One endpoint as kube-proxy caches it: unset ready/serving read as true, unset terminating as false."""
    c = ep.conditions
    return (ep.addresses, ep.node_name, ep.zone, ep.hints_for_zones, ep.hints_for_nodes,
            c.ready is not False, c.serving is not False, c.terminating is True)


def slice_view(es: EndpointSlice | None) -> Hashable | None:
    """What decides a slice's endpoints; None when kube-proxy ignores the slice.

    Ports and endpoints are order-insensitive (sorted), as in upstream's slice cache; a
    slice without a service-name label or of address type FQDN is ignored.
    """
    if es is None or not es.service_name or es.address_type is AddressType.FQDN:
        return None
    if not watched_by_kube_proxy(es.labels):
        return None
    ports = tuple(sorted(es.ports, key=lambda p: (p.port or 0, p.name or "", p.protocol.value)))
    # repr() breaks ties: the views hold None next to strings (an unset nodeName), which do not compare.
    endpoints = tuple(sorted((_endpoint_view(ep) for ep in es.endpoints), key=lambda v: (",".join(v[0]), repr(v))))
    return (es.namespace, es.service_name, es.address_type, ports, endpoints)
