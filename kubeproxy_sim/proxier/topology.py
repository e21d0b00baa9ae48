"""Which endpoints a service port's traffic may reach from this node.

A service port has up to two endpoint sets: the *cluster* set (Cluster
traffic policy, narrowed by topology hints) and the *local* set (this node's
endpoints, for a Local policy). Each falls back, independently, from ready
endpoints to serving-but-terminating ones, so that a rolling update or a
draining node keeps serving until nothing at all is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo


class TopologyMode(StrEnum):
    NONE = ""
    PREFER_SAME_ZONE = "PreferSameZone"
    PREFER_SAME_NODE = "PreferSameNode"


@value_class
class Categorized:
    """The endpoint sets of one service port (``has_any``: usable endpoints exist anywhere)."""

    cluster: tuple[EndpointInfo, ...] = ()
    local: tuple[EndpointInfo, ...] = ()
    reachable: tuple[EndpointInfo, ...] = ()
    has_any: bool = False


def topology_mode(endpoints: Sequence[EndpointInfo], node_name: str, zone: str | None,
                  node_hints: bool = True) -> TopologyMode:
    """Use hints only when every ready endpoint carries them and some are meant for us.

    Node hints (trafficDistribution PreferSameNode) win over zone hints
    (PreferClose / PreferSameZone / topology-aware routing); a partial set of
    hints means the EndpointSlice controller is mid-update, so they are ignored.
    kube-proxy reads node hints only with its PreferSameTrafficDistribution
    feature gate (``node_hints``: beta and on by default in 1.34). Without it
    they are dropped as the slices are cached and the choice is made on zone
    hints alone: a PreferSameNode service, whose endpoints the controller
    hints for their zone too, is narrowed to the node's zone, not to the node.
    """
    all_node = node_hints  # the gate off: as if some endpoint had no node hint
    all_zone = True
    any_ready = for_node = for_zone = False
    my_zone = zone or ""
    for ep in endpoints:
        if not ep.ready:
            continue
        any_ready = True
        if not ep.node_hints:
            all_node = False
        elif node_name in ep.node_hints:
            for_node = True
        if not ep.zone_hints:
            all_zone = False
        elif my_zone in ep.zone_hints:
            for_zone = True
        if not (all_node or all_zone):
            return TopologyMode.NONE  # common case: no hints at all, decided at the first endpoint
    if any_ready and all_node and for_node:
        return TopologyMode.PREFER_SAME_NODE
    if any_ready and all_zone and for_zone:
        return TopologyMode.PREFER_SAME_ZONE
    return TopologyMode.NONE


def _topology_filter(mode: TopologyMode, node_name: str, zone: str | None) -> Callable[[EndpointInfo], bool]:
    if mode is TopologyMode.PREFER_SAME_NODE:
        return lambda ep: node_name in (ep.node_hints or ())
    if mode is TopologyMode.PREFER_SAME_ZONE:
        return lambda ep: (zone or "") in (ep.zone_hints or ())
    return lambda ep: True


def _cluster_endpoints(endpoints: Sequence[EndpointInfo], mode: TopologyMode, node_name: str,
                       zone: str | None) -> tuple[EndpointInfo, ...]:
    if mode is TopologyMode.NONE:  # the common case: no filter to call once per endpoint
        chosen = tuple([ep for ep in endpoints if ep.ready])
    else:
        allowed = _topology_filter(mode, node_name, zone)
        chosen = tuple([ep for ep in endpoints if ep.ready and allowed(ep)])
    if chosen:
        return chosen
    # Nothing ready anywhere (topology already fell back if only our zone was empty).
    return tuple(ep for ep in endpoints if ep.serving and ep.terminating)


def _local_endpoints(endpoints: Sequence[EndpointInfo]) -> tuple[tuple[EndpointInfo, ...], bool, bool]:
    """(local endpoints, usable endpoints exist anywhere, the local set is the terminating fallback)."""
    has_any = local_ready = local_terminating = False
    for ep in endpoints:
        if ep.ready:
            has_any = True
            local_ready = local_ready or ep.is_local
        elif ep.serving and ep.terminating:
            has_any = True
            local_terminating = local_terminating or ep.is_local
    if local_ready:
        return tuple(ep for ep in endpoints if ep.is_local and ep.ready), has_any, False
    if local_terminating:
        local = tuple(ep for ep in endpoints if ep.is_local and ep.serving and ep.terminating)
        return local, has_any, True
    return (), has_any, False


def categorize(endpoints: Sequence[EndpointInfo], service: ServicePortInfo, node_name: str,
               zone: str | None, node_hints: bool = True) -> Categorized:
    """Split a service port's endpoints into its cluster, local and reachable sets (``node_hints``: whether
    the PreferSameTrafficDistribution gate lets node hints be read, :func:`topology_mode`)."""
    if not endpoints:
        return _NO_ENDPOINTS
    mode = TopologyMode.NONE
    cluster: tuple[EndpointInfo, ...] = ()
    has_any = False
    if service.uses_cluster_endpoints:
        mode = topology_mode(endpoints, node_name, zone, node_hints)
        cluster = _cluster_endpoints(endpoints, mode, node_name, zone)
        has_any = bool(cluster)
    if not service.uses_local_endpoints:
        return _categorized(cluster, (), cluster, has_any)
    local, any_usable, local_is_fallback = _local_endpoints(endpoints)
    has_any = has_any or any_usable
    if not service.uses_cluster_endpoints:
        return _categorized((), local, local, has_any)
    if mode is TopologyMode.NONE and not local_is_fallback:
        # Every ready endpoint is in the cluster set, so it contains the local one.
        return _categorized(cluster, local, cluster, has_any)
    merged = {ep.endpoint: ep for ep in cluster}
    merged.update((ep.endpoint, ep) for ep in local)
    reachable = tuple(merged[k] for k in sorted(merged))
    return _categorized(cluster, local, reachable, has_any)


_NO_ENDPOINTS = Categorized()


def _categorized(cluster: tuple[EndpointInfo, ...], local: tuple[EndpointInfo, ...],
                 reachable: tuple[EndpointInfo, ...], has_any: bool) -> Categorized:
    """``Categorized(cluster, local, reachable, has_any)`` built on a draft (objects.bulk.draft_class), one per
    service port: the frozen ``__init__`` by keyword costs ~9,000 instructions. Every field of Categorized must be
    written here (tests/objects/test_draft_builders.py checks)."""
    made = object.__new__(_CATEGORIZED_DRAFT)
    made.cluster = cluster
    made.local = local
    made.reachable = reachable
    made.has_any = has_any
    made.__class__ = Categorized
    return made


_CATEGORIZED_DRAFT: Any = draft_class(Categorized)
