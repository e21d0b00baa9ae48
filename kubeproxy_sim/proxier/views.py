"""What kube-proxy compares to decide a Service's rules must be rewritten (in a partial sync).

Upstream's two change trackers compare differently, and so do these views:

- a **Service** is compared by the port map the proxier builds from it for its
  own IP family (:func:`~kubeproxy_sim.proxier.state.service_ports`): an edit
  to anything the rules never read (a label, targetPort, the other family's
  addresses, a hostname-only or Proxy-mode ingress) is no change, and an edit
  undone before the sync cancels out;
- an **EndpointSlice** is kept whole (labels, order, target references and
  all): any edit of a slice kube-proxy sees marks its Service changed until the
  next sync, even one undone in between, as the slice cache keeps every
  update that differs from the last one it holds.

kube-proxy never sees a Service or slice labelled for another proxy, and an
IPv4 proxier never sees an IPv6 slice (nor FQDN ones): those views are None.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from kubeproxy_sim.objects.model import AddressType, EndpointSlice, Service, watched_by_kube_proxy
from kubeproxy_sim.proxier.state import family_service_ports


def service_view(svc: Service | None, ipv6: bool = False) -> Hashable | None:
    """The Service as the proxier of one family reads it: its port infos; None when it gets no rules."""
    if svc is None or not watched_by_kube_proxy(svc.labels):
        return None
    return frozenset(family_service_ports(svc, ipv6)) or None


def slice_state(es: EndpointSlice | None, ipv6: bool = False) -> EndpointSlice | None:
    """The slice itself when the proxier of one family sees it; None when it never hears of it."""
    if es is None or not es.service_name or not watched_by_kube_proxy(es.labels):
        return None
    return es if es.address_type is (AddressType.IPV6 if ipv6 else AddressType.IPV4) else None


def _seen_by_service(slices: Iterable[EndpointSlice], ipv6: bool) -> dict[str, dict[str, EndpointSlice]]:
    grouped: dict[str, dict[str, EndpointSlice]] = {}
    for es in slices:
        if slice_state(es, ipv6) is not None:
            grouped.setdefault(es.service_key, {})[es.key] = es
    return grouped


def slice_changed_services(before: Iterable[EndpointSlice], after: Iterable[EndpointSlice],
                           ipv6: bool = False) -> frozenset[str]:
    """Services ("namespace/name") with a slice the proxier of one family sees that differs between two sets of
    slices: those upstream's endpoints change tracker reports. A slice that moves to another Service changes
    both."""
    old, new = _seen_by_service(before, ipv6), _seen_by_service(after, ipv6)
    return frozenset(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
