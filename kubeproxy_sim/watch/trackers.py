"""Change trackers: what changed since the last sync, with changes that cancel out dropped.

kube-proxy does not rewrite rules per event. Its trackers remember, per
object, the state at the last sync and the latest state; at the next sync they
hand the proxier the new object set and the set of Services whose rules need
rewriting. A Service added and deleted again, or edited back to what it was,
between two syncs costs nothing. Upstream compares only what kube-proxy reads
of a Service (its port map), so a label edit is not a change either: that
comparison is the tracker's *effective view*, injectable so a proxier can
narrow it further (one IP family, one node). An EndpointSlice's update counts
whatever it changed (upstream's esDataChanged compares whole slices): a slice
event at a new resourceVersion is one even when the model drops what changed
(an annotation, a targetRef's uid). The resourceVersion is the revision token
kept beside each slice: the API server's, or, from a directory, a new one
whenever a file's slice document changed.

Absorbing an event is a couple of dict operations; views are computed only at
``pending()``/``apply()``, once per touched object, so bursts stay cheap.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from kubeproxy_sim.objects.model import EndpointSlice, Service
from kubeproxy_sim.proxier.views import service_view, slice_state
from kubeproxy_sim.watch.events import EventType, Kind, WatchEvent

T = TypeVar("T")
_ABSENT: Any = object()
_Update = tuple[EndpointSlice | None, EndpointSlice | None, bool]
"""A slice update: (old, new, whether new is another revision than old, though maybe equal in the model)."""


def slice_service(es: EndpointSlice) -> str | None:
    """The Service key ("ns/name") a slice belongs to; None when it names none."""
    return es.service_key if es.service_name else None


@dataclass(frozen=True, slots=True)
class TrackerUpdate(Generic[T]):
    """The result of one ``apply()``: every object now, and the Services whose rules must be rewritten."""

    objects: Mapping[str, T]
    changed: frozenset[str]
    by_service: Mapping[str, tuple[T, ...]] = field(default_factory=dict)


class _Tracker(Generic[T]):
    """The shared part: latest objects, plus the synced state of every object touched since the last sync."""

    kind: Kind

    def __init__(self, view: Callable[[Any], Hashable | None]) -> None:
        self._view = view
        self._current: dict[str, T] = {}
        self._base: dict[str, Any] = {}  # key -> the object at the last sync, or _ABSENT

    def _load(self, initial: Iterable[T]) -> None:
        """Start from objects that count as already synced (no pending change)."""
        for obj in initial:
            self.set(obj.key, obj)  # type: ignore[attr-defined]
        self._base = {}

    def set(self, key: str, obj: T | None, revision: str | None = None) -> None:
        """Record the latest state of one object (None: deleted); ``revision``: its resourceVersion, when known
        (only slices heed it)."""
        current = self._current
        old = current.get(key, _ABSENT)
        if key not in self._base:
            self._base[key] = old
        if obj is None:
            if old is not _ABSENT:
                del current[key]
        else:
            current[key] = obj

    def observe(self, event: WatchEvent) -> None:
        """Fold one event of this tracker's kind (others and bookmarks are ignored)."""
        if event.kind is not self.kind or event.type is EventType.BOOKMARK:
            return
        self.set(event.key, None if event.type is EventType.DELETED else event.obj, event.resource_version)

    def asks_sync(self, key: str) -> bool:
        """Whether the object ``key`` of the last ``set``/``observe`` left a change for the next sync: kube-proxy's
        handler then asks for a sync, even if a later event undoes the change before it. Asked separately, as
        the sync loop needs it only until one event has asked."""
        raise NotImplementedError

    def observe_all(self, events: Iterable[WatchEvent]) -> None:
        for event in events:
            self.observe(event)

    @property
    def objects(self) -> Mapping[str, T]:
        """The latest objects, pending changes included (read-only view; changes as events arrive)."""
        return MappingProxyType(self._current)

    def _touched(self) -> Iterable[tuple[str, Any, Any]]:
        """(key, synced, latest) for each object touched since the last sync; None for absent."""
        current = self._current
        for key, base in self._base.items():
            yield key, (None if base is _ABSENT else base), current.get(key)

    def _changed_services(self) -> builtins.set[str]:  # `set` here is the method
        raise NotImplementedError

    def pending(self) -> frozenset[str]:
        """The Services whose effective state differs from the last sync."""
        return frozenset(self._changed_services())

    def _checkout(self) -> tuple[dict[str, T], frozenset[str]]:
        changed = frozenset(self._changed_services())
        self._base = {}
        return dict(self._current), changed


class ServiceChangeTracker(_Tracker[Service]):
    """Services by "ns/name"; a Service is changed when its effective view differs from the last sync."""

    kind = Kind.SERVICE

    def __init__(self, view: Callable[[Service | None], Hashable | None] = service_view,
                 initial: Iterable[Service] = ()) -> None:
        super().__init__(view)
        self._load(initial)

    def _changed_services(self) -> set[str]:
        view = self._view
        changed = set()
        for key, old, new in self._touched():
            if old is not new and view(old) != view(new):
                changed.add(key)
        return changed

    def asks_sync(self, key: str) -> bool:
        """The Service differs, as the proxier reads it, from the last sync (upstream's tracker drops a change
        that brings it back, and asks for a sync while it holds any)."""
        base = self._base.get(key, _ABSENT)
        return self._view(None if base is _ABSENT else base) != self._view(self._current.get(key))

    def apply(self) -> TrackerUpdate[Service]:
        """Sync: the Services now and the changed ones; the latest state becomes the synced state."""
        objects, changed = self._checkout()
        return TrackerUpdate(MappingProxyType(objects), changed)


class EndpointSliceChangeTracker(_Tracker[EndpointSlice]):
    """EndpointSlices by "ns/name", reported per Service they belong to.

    A slice that moves to another Service (its service-name label changed)
    changes both. ``apply()`` also returns the slices grouped by Service, the
    shape a partial sync reads.
    """

    kind = Kind.ENDPOINT_SLICE

    def __init__(self, view: Callable[[EndpointSlice | None], Hashable | None] = slice_state,
                 initial: Iterable[EndpointSlice] = ()) -> None:
        super().__init__(view)
        self._by_service: dict[str, dict[str, EndpointSlice]] = {}  # latest slices per Service
        self._synced_by_service: Mapping[str, tuple[EndpointSlice, ...]] = MappingProxyType({})
        self._updates: list[_Update] = []  # since the last sync
        self._latest: _Update | None = None  # the update the last set() recorded, if any
        self._revisions: dict[str, str] = {}  # key -> the resourceVersion of the latest slice, when known
        self._load(initial)
        self._updates = []
        self._synced_by_service = MappingProxyType({svc: self.slices_for(svc) for svc in self._by_service})

    def set(self, key: str, obj: EndpointSlice | None, revision: str | None = None) -> None:
        old = self._current.get(key)
        revisions = self._revisions
        known = revisions.pop(key, None) if obj is None or revision is None else revisions.get(key)
        if obj is not None and revision is not None:
            revisions[key] = revision
        revised = old is not None and obj is not None and revision is not None and known is not None \
            and known != revision
        self._latest = None
        if revised or old != obj:  # an update kube-proxy's slice cache keeps as pending until the next sync
            self._latest = (old, obj, revised)
            self._updates.append(self._latest)
        if old is not None:
            svc = slice_service(old)
            if svc is not None:
                members = self._by_service[svc]
                del members[key]
                if not members:
                    del self._by_service[svc]
        if obj is not None:
            svc = slice_service(obj)
            if svc is not None:
                self._by_service.setdefault(svc, {})[key] = obj
        super().set(key, obj)

    def slices_for(self, service: str) -> tuple[EndpointSlice, ...]:
        """The latest slices of one Service ("ns/name"), by slice name."""
        members = self._by_service.get(service, {})
        return tuple(members[k] for k in sorted(members))

    def _changed_services(self) -> builtins.set[str]:  # `set` here is the method
        """The Services of every slice update the proxier saw since the last sync. Unlike Services, an update
        undone before the sync still counts: upstream's slice cache compares each update with the last one
        it holds, not with what it last synced. So does a new revision equal in the model (what changed is a
        field the model drops), unless the proxier does not see the slice at all (another family, no Service)."""
        changed: builtins.set[str] = set()
        for update in self._updates:
            changed.update(self._services_of(update))
        return changed

    def _services_of(self, update: _Update) -> Iterator[str]:
        """The Services one slice update changes (none when the proxier would not see it as a change)."""
        old, new, revised = update
        view = self._view
        old_view, new_view = view(old), view(new)
        if old_view == new_view and (not revised or new_view is None):
            return
        for es, seen in ((old, old_view), (new, new_view)):
            if es is not None and seen is not None:
                svc = slice_service(es)
                if svc is not None:  # always, under a view that (like slice_state) hides Service-less slices
                    yield svc

    def asks_sync(self, key: str) -> bool:
        """The update just recorded for ``key`` changes a Service (upstream's slice cache asks for a sync for
        each update that differs from the last one it holds)."""
        latest = self._latest
        if latest is None:
            return False
        es = latest[1] if latest[1] is not None else latest[0]
        return es is not None and es.key == key and any(True for _ in self._services_of(latest))

    def apply(self) -> TrackerUpdate[EndpointSlice]:
        """Sync: every slice now, the Services whose slices changed, and the slices per Service.

        The per-Service grouping is rebuilt only for Services a touched slice belongs or
        belonged to, so a sync after one change costs a dict copy, not a regrouping.
        """
        touched = set()
        for _, old, new in self._touched():
            for es in (old, new):
                svc = slice_service(es) if es is not None else None
                if svc is not None:
                    touched.add(svc)
        objects, changed = self._checkout()
        self._updates = []
        grouped = dict(self._synced_by_service)
        for svc in touched:
            if svc in self._by_service:
                grouped[svc] = self.slices_for(svc)
            else:
                grouped.pop(svc, None)
        self._synced_by_service = MappingProxyType(grouped)
        return TrackerUpdate(MappingProxyType(objects), changed, self._synced_by_service)
