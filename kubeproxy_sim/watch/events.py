"""What every source produces: watch events, in the shape an informer hands them to kube-proxy.

A source first *lists* (one ADDED event per object it finds, then a BOOKMARK
for the kind, meaning "you now hold everything up to this resourceVersion")
and then *watches*: ADDED, MODIFIED and DELETED events as objects change,
plus BOOKMARKs that only move the resourceVersion forward. Problems found on
the way travel next to the events as :class:`~kubeproxy_sim.errors.Diagnostic`
values, so one bad object never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.objects.model import EndpointSlice, Node, Pod, Service


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"


class Kind(StrEnum):
    """The kinds kube-proxy (and so every source) follows."""

    SERVICE = "Service"
    ENDPOINT_SLICE = "EndpointSlice"
    NODE = "Node"
    POD = "Pod"


MODEL_KINDS: dict[type, Kind] = {
    Service: Kind.SERVICE,
    EndpointSlice: Kind.ENDPOINT_SLICE,
    Node: Kind.NODE,
    Pod: Kind.POD,
}


def kind_of(obj: Any) -> Kind:
    """The kind of a model object; a TypeError for anything else, since that is a programming error."""
    try:
        return MODEL_KINDS[type(obj)]
    except KeyError:
        raise TypeError(f"not a watched model object: {type(obj).__name__}") from None


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change to one object.

    ``key`` is "namespace/name" ("name" for Nodes; "" for a BOOKMARK).
    ``obj`` is the object after the change; for DELETED, the last state the
    source knew (trackers need it, e.g. to find a deleted slice's Service);
    None for BOOKMARK.
    """

    type: EventType
    kind: Kind
    key: str
    resource_version: str
    obj: Any | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """What a source had ready at one poll: events in order, and the problems it met."""

    events: tuple[WatchEvent, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.events or self.diagnostics)


def added(obj: Any, resource_version: str) -> WatchEvent:
    return WatchEvent(EventType.ADDED, kind_of(obj), obj.key, resource_version, obj)


def modified(obj: Any, resource_version: str) -> WatchEvent:
    return WatchEvent(EventType.MODIFIED, kind_of(obj), obj.key, resource_version, obj)


def deleted(obj: Any, resource_version: str) -> WatchEvent:
    return WatchEvent(EventType.DELETED, kind_of(obj), obj.key, resource_version, obj)


def bookmark(kind: Kind, resource_version: str) -> WatchEvent:
    return WatchEvent(EventType.BOOKMARK, kind, "", resource_version, None)


def diff_events(before: dict[tuple[Kind, str], Any], after: dict[tuple[Kind, str], Any],
                next_rv: Any) -> list[WatchEvent]:
    """The events that turn one object set into another, in a stable order (deletions first).

    ``next_rv()`` hands out the resourceVersion of each event. Objects that
    compare equal produce no event, as a re-applied unchanged manifest does not.
    """
    events = [deleted(before[k], next_rv()) for k in sorted(before.keys() - after.keys())]
    for k in sorted(after):
        old, new = before.get(k), after[k]
        if old is None:
            events.append(added(new, next_rv()))
        elif old != new:
            events.append(modified(new, next_rv()))
    return events
