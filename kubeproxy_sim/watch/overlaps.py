"""Endpoints two EndpointSlices of one Service list in copies kube-proxy picks between at random, said as a watch
goes.

A one-shot load warns of them as it reads (``objects.overlap``); a watch never
loads everything at once, so the sync loop asks here about each Service a sync
takes in, with the slices the trackers hold for it (and ``scenario`` after
each step, of its whole cluster: an overlap may be assembled across ``apply``
steps, each of which loads only its own files). A warning is said at the
sync where it first holds, not at every later sync while it lasts; once it no
longer holds (the copies agree, a slice is gone) it is forgotten, so it is said
again if it comes back. A copy that changes (another ready flag, say) is a new
warning, since its text names what differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.objects.model import Cluster, EndpointSlice, Service
from kubeproxy_sim.objects.overlap import service_conflicts, slices_by_service
from kubeproxy_sim.proxier.views import slice_state


class OverlapWarnings:
    """The overlap warnings in force per Service ("ns/name"), to say each once while it holds."""

    def __init__(self) -> None:
        self._said: dict[str, frozenset[str]] = {}  # Service key -> the messages of its warnings in force

    def check(self, services: Mapping[str, Service], by_service: Mapping[str, Sequence[EndpointSlice]],
              changed: Iterable[str], ipv6: bool) -> tuple[Diagnostic, ...]:
        """The warnings not in force before, for the ``changed`` Services (only their Service or slices can have
        made one appear or go). Only slices of the proxier's family count: it never reads the others, so which
        copy of theirs would win does not matter here."""
        fresh: list[Diagnostic] = []
        for key in sorted(changed):
            service, slices = services.get(key), by_service.get(key, ())
            said = self._said.pop(key, frozenset())
            if service is None or len(slices) < 2:  # most Services: one slice has no copy to disagree with
                continue
            notes = service_conflicts(service, [es for es in slices if slice_state(es, ipv6) is not None])
            if notes:
                self._said[key] = frozenset(d.message for d in notes)
                fresh.extend(d for d in notes if d.message not in said)
        return tuple(fresh)

    def check_cluster(self, cluster: Cluster, ipv6: bool) -> tuple[Diagnostic, ...]:
        """:meth:`check` for a caller that holds the whole cluster after each change rather than a watch's
        changes (``scenario``, whose ``apply`` steps may each bring one slice of an overlap): every Service
        counts as changed, and so does each one warned of before (it may be gone)."""
        services = {service.key: service for service in cluster.services}
        return self.check(services, slices_by_service(cluster.endpoint_slices), services.keys() | self._said.keys(),
                          ipv6)
