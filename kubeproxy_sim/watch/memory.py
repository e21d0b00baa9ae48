"""An in-memory source: tests and scripts apply and delete model objects, and get the events back.

It behaves like a tiny API server with one informer attached: a global,
increasing resourceVersion; the first poll is the initial list (ADDED per
object, then one BOOKMARK per kind); later polls return what changed since.
Re-applying an identical object is a no-op, as ``kubectl apply`` reports
"unchanged"; deleting an unknown object is reported, not raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.watch.events import Batch, Kind, WatchEvent, added, bookmark, deleted, kind_of, modified


class MemorySource:
    """Objects held in memory; ``apply``/``delete`` queue events, ``poll`` hands them out."""

    def __init__(self, objects: Iterable[Any] = ()) -> None:
        self._objects: dict[tuple[Kind, str], Any] = {}
        self._rv = 0
        self._queue: list[WatchEvent] = []
        self._problems: list[Diagnostic] = []
        self._listed = False
        for obj in objects:
            self._objects[(kind_of(obj), obj.key)] = obj
            self._rv += 1

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def objects(self, kind: Kind | None = None) -> list[Any]:
        """The objects as they are now (of one kind, or all)."""
        return [obj for (k, _), obj in self._objects.items() if kind is None or k is kind]

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def apply(self, obj: Any) -> None:
        """Create or replace an object (by kind and key)."""
        ident = (kind_of(obj), obj.key)
        old = self._objects.get(ident)
        if old is not None and old == obj:
            return
        self._objects[ident] = obj
        if self._listed:
            make = added if old is None else modified
            self._queue.append(make(obj, self._next_rv()))

    def delete(self, kind: Kind | str, key: str) -> None:
        """Delete an object; an unknown one is reported (as the API server answers 404)."""
        kind = Kind(kind)
        old = self._objects.pop((kind, key), None)
        if old is None:
            self._problems.append(Diagnostic(f"cannot delete: no such object; expected one of the {len(self._objects)} "
                                             "objects applied so far", file="<memory>", kind=kind.value, object=key))
            return
        if self._listed:
            self._queue.append(deleted(old, self._next_rv()))

    def poll(self) -> Batch:
        """The initial list on the first call, then the events queued since the previous call."""
        if not self._listed:
            self._listed = True
            rv = self.resource_version
            events = [added(obj, rv) for _, obj in sorted(self._objects.items(), key=lambda item: item[0])]
            events += [bookmark(kind, rv) for kind in Kind]
            self._queue.clear()
        else:
            events, self._queue = self._queue, []
        problems, self._problems = self._problems, []
        return Batch(tuple(events), tuple(problems))

    def close(self) -> None:
        """Nothing to release; present so every source can be closed the same way."""
