"""Folding watch events into the :class:`Cluster` value the proxier and the simulators take.

The state is the informers' store: per kind, the latest object by key, plus the
newest resourceVersion seen. ``cluster()`` returns an immutable snapshot with
each kind sorted by key, so the same objects give the same Cluster whatever
order the events came in; snapshots of kinds that did not change are reused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.model import Cluster, Node
from kubeproxy_sim.watch.events import EventType, Kind, WatchEvent


def keep_deleted_node(cluster: Cluster, last_node: Node | None) -> tuple[Cluster, Diagnostic | None]:
    """The objects, with the node's last Node object when they have none of that name, and a note saying so (None
    when nothing was kept): kube-proxy ignores a Node's deletion (kubernetes 531be81208e2: NodeTopologyConfig's
    DeleteFunc does nothing, and the proxier has no other node handler), so the zone it had stays, and the
    addresses it started with. ``replay`` calls it per state, the watch sync loop per Node change."""
    if last_node is None or cluster.node(last_node.name) is not None:
        return cluster, None
    from kubeproxy_sim.proxier.sync import ZONE_LABEL

    zone = last_node.label(ZONE_LABEL)
    kept = f"its zone {zone!r}" if zone is not None else "no zone, as before"
    note = Diagnostic(f"no Node object named {last_node.name!r} any more; kube-proxy ignores a Node's deletion, "
                      f"so the node keeps {kept} and the addresses it started with", severity=Severity.NOTE)
    return dataclasses.replace(cluster, nodes=(*cluster.nodes, last_node)), note


_CLUSTER_FIELDS = {Kind.SERVICE: "services", Kind.ENDPOINT_SLICE: "endpoint_slices", Kind.NODE: "nodes",
                   Kind.POD: "pods"}
ENDPOINTS = "Endpoints"  # v1: no model kind, its objects are the EndpointSlices mirrored from it
_KIND_NAMES = frozenset(kind.value for kind in _CLUSTER_FIELDS)
KEEPING_PREVIOUS = "this object is invalid; keeping its previous version"
"""The note after a refused object's error, wherever its previous version is kept (replay, both watches)."""

K = TypeVar("K")
V = TypeVar("V")


def keep_previous(key: K, before: Mapping[K, V], now: dict[K, V]) -> V | None:
    """Put ``before``'s version of ``key`` in ``now`` when ``now`` has none (its new version was refused, so the
    write did not happen); the version kept, or None when there was none to keep or ``now`` has a valid one (a
    valid and a refused document of the same key: the valid one is used)."""
    old = before.get(key)
    if old is None or key in now:
        return None
    now[key] = old
    return old


def keep_revision(revisions: dict[str, str], before: Mapping[str, str], key: str) -> None:
    """A slice that keeps its previous version keeps its previous revision token (or has none): the refused
    document is no new revision, so a change only there must not rewrite its service."""
    revisions.pop(key, None)
    if key in before:
        revisions[key] = before[key]


def refused_object(d: Diagnostic) -> tuple[str, str] | None:
    """The kind and key of the object an error refuses (a model kind or a v1 Endpoints); None for any other
    diagnostic: the API server refuses such a write, so what the cluster held of it stays."""
    if d.severity is not Severity.ERROR or not d.object or (d.kind not in _KIND_NAMES and d.kind != ENDPOINTS):
        return None
    return d.kind, d.object


def mirrored_from(cluster: Cluster) -> dict[str, tuple[Any, ...]]:
    """The EndpointSlices the mirroring controller made, by the key of their v1 Endpoints."""
    from kubeproxy_sim.objects.mirror import MANAGED_BY_LABEL, MIRROR_CONTROLLER

    found: dict[str, list[Any]] = {}
    for es in cluster.endpoint_slices:
        if es.service_name and dict(es.labels).get(MANAGED_BY_LABEL) == MIRROR_CONTROLLER:
            found.setdefault(es.service_key, []).append(es)
    return {key: tuple(slices) for key, slices in found.items()}


def _by_key(cluster: Cluster, kind: str) -> dict[str, tuple[Any, ...]]:
    """A kind's objects by key, each as a tuple (a v1 Endpoints' is its mirrored slices)."""
    if kind == ENDPOINTS:
        return mirrored_from(cluster)
    return {obj.key: (obj,) for obj in getattr(cluster, _field(kind))}


def keep_refused_versions(previous: Cluster, cluster: Cluster,
                          diagnostics: Iterable[Diagnostic]) -> tuple[Cluster, tuple[Diagnostic, ...]]:
    """The objects of a complete state, where one the state holds only in a refused form (an error naming its
    kind and key, no valid document of it) keeps its version from ``previous``, with a note saying so: the API
    server refuses an invalid write, so the cluster, and kube-proxy, keep what they had, as the directory
    watch keeps an invalid object's previous version (an object new in the state is only reported). A refused
    v1 Endpoints keeps the slices mirrored from it. ``replay`` calls it per state."""
    refused = {ident: d.file for d in diagnostics if (ident := refused_object(d)) is not None}
    kept: dict[str, list[Any]] = {}
    notes = []
    present: dict[str, dict[str, tuple[Any, ...]]] = {}  # per kind, the state's (made once, for many refused)
    before: dict[str, dict[str, tuple[Any, ...]]] = {}
    for (kind, key), file in sorted(refused.items()):
        if kind not in present:
            present[kind], before[kind] = _by_key(cluster, kind), _by_key(previous, kind)
        old = keep_previous(key, before[kind], present[kind])
        if old is not None:
            kept.setdefault(_field(kind), []).extend(old)
            notes.append(Diagnostic(KEEPING_PREVIOUS, file=file, kind=kind, object=key, severity=Severity.NOTE))
    if not kept:
        return cluster, ()
    return dataclasses.replace(cluster, **{name: (*getattr(cluster, name), *objs) for name, objs in kept.items()}), \
        tuple(notes)


def _field(kind: str) -> str:
    """The Cluster field holding a kind's objects (a v1 Endpoints' mirrored slices are EndpointSlices)."""
    return _CLUSTER_FIELDS[Kind.ENDPOINT_SLICE if kind == ENDPOINTS else Kind(kind)]


class ClusterState:
    """The latest object of every kind and key, from events."""

    def __init__(self) -> None:
        self._objects: dict[Kind, dict[str, Any]] = {kind: {} for kind in Kind}
        self._sorted: dict[Kind, tuple[Any, ...]] = {kind: () for kind in Kind}
        self._dirty: set[Kind] = set()
        self.resource_versions: dict[Kind, str] = {}
        self.synced: set[Kind] = set()  # kinds whose initial list has completed (a BOOKMARK was seen)

    def apply(self, event: WatchEvent) -> Diagnostic | None:
        """Fold one event; a DELETED for an unknown object is reported and changes nothing."""
        self.resource_versions[event.kind] = event.resource_version
        if event.type is EventType.BOOKMARK:
            self.synced.add(event.kind)
            return None
        table = self._objects[event.kind]
        if event.type is EventType.DELETED:
            if table.pop(event.key, None) is None:
                return Diagnostic("DELETED event for an object that was never added; ignored",
                                  kind=event.kind.value, object=event.key, severity=Severity.WARNING)
        else:
            table[event.key] = event.obj
        self._dirty.add(event.kind)
        return None

    def apply_all(self, events: Iterable[WatchEvent]) -> list[Diagnostic]:
        return [d for d in map(self.apply, events) if d is not None]

    def get(self, kind: Kind, key: str) -> Any | None:
        return self._objects[kind].get(key)

    def objects(self, kind: Kind) -> dict[str, Any]:
        """A copy of one kind's objects by key."""
        return dict(self._objects[kind])

    def cluster(self) -> Cluster:
        """An immutable snapshot of everything, each kind sorted by key."""
        for kind in self._dirty:
            table = self._objects[kind]
            self._sorted[kind] = tuple(table[k] for k in sorted(table))
        self._dirty.clear()
        s = self._sorted
        return Cluster(services=s[Kind.SERVICE], endpoint_slices=s[Kind.ENDPOINT_SLICE], nodes=s[Kind.NODE],
                       pods=s[Kind.POD])
