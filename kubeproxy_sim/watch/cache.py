"""A reflector's store for one kind: API objects in, watch events and diagnostics out.

This is the pure core of the API-server source (no I/O): it turns the raw
JSON of list responses and watch-stream lines into model objects and events,
and keeps, per key, the resourceVersion and the last usable object, so that

* a relist (after 410 Gone) is diffed against what was already emitted, and
  produces exactly the ADDED/MODIFIED/DELETED events needed, nothing twice;
* an event replayed after a reconnect, or one older than the object it is
  about, is dropped instead of rolling the object back;
* bad input (an object that fails validation, a DELETED for an object never
  seen, a resourceVersion going backwards) becomes a Diagnostic naming the
  stream and the object, and the rest keeps flowing; a line that is no watch
  event (not JSON, no event type) is reported and ends the watch, as client-go's
  decoder ends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.decode import decode_service, object_name
from kubeproxy_sim.objects.decode_nodes import decode_node, decode_pod
from kubeproxy_sim.objects.decode_slices import decode_endpoint_slice
from kubeproxy_sim.objects.model import Origin
from kubeproxy_sim.objects.report import Report, type_name
from kubeproxy_sim.watch.events import EventType, Kind, WatchEvent, bookmark
from kubeproxy_sim.watch.state import KEEPING_PREVIOUS

_Decoder = Callable[[dict[str, Any], Origin, Report, str], Any]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How one kind is decoded and where the API serves it."""

    kind: Kind
    decoder: _Decoder
    namespaced: bool
    path: str  # the collection's URL path, to name the stream in messages


KIND_SPECS: dict[Kind, KindSpec] = {
    Kind.SERVICE: KindSpec(Kind.SERVICE, decode_service, True, "/api/v1/services"),
    Kind.ENDPOINT_SLICE: KindSpec(Kind.ENDPOINT_SLICE, decode_endpoint_slice, True,
                                  "/apis/discovery.k8s.io/v1/endpointslices"),
    Kind.NODE: KindSpec(Kind.NODE, decode_node, False, "/api/v1/nodes"),
    Kind.POD: KindSpec(Kind.POD, decode_pod, True, "/api/v1/pods"),
}


class StreamSignal(StrEnum):
    """What a watch line means for the connection, besides the events it carries."""

    CONTINUE = "continue"
    EXPIRED = "expired"  # 410 Gone: the resourceVersion is compacted; relist
    FAILED = "failed"  # another ERROR from the server: list again after a backoff
    THROTTLED = "throttled"  # an ERROR with code 429: watch again from the resourceVersion after a backoff
    UNDECODABLE = "undecodable"  # a line that is no watch event: the watch ends, as FAILED (client-go's decoder)


def rv_number(rv: str) -> int | None:
    """resourceVersions are opaque, but every API server uses etcd's integers; None when not one."""
    return int(rv) if rv.isdigit() else None


def _older(rv: str, than: str) -> bool:
    a, b = rv_number(rv), rv_number(than)
    return a is not None and b is not None and a < b


class KindCache:
    """The objects of one kind as last listed or watched; mutable, owned by one reflector."""

    def __init__(self, spec: KindSpec, source: str) -> None:
        self.spec = spec
        self.source = source  # e.g. "https://10.0.0.1:6443/api/v1/services", the "file" of messages
        self.entries: dict[str, tuple[str, Any | None]] = {}  # key -> (resourceVersion, last usable object)
        self.resource_version = ""  # where a watch resumes

    @property
    def objects(self) -> dict[str, Any]:
        """The usable objects by key (what the events emitted so far add up to)."""
        return {key: obj for key, (_, obj) in self.entries.items() if obj is not None}

    def problem(self, message: str, obj: str | None = None, severity: Severity = Severity.ERROR,
                 field: str | None = None) -> Diagnostic:
        return Diagnostic(message, file=self.source, kind=self.spec.kind.value, object=obj, field=field,
                          severity=severity)

    # -- decoding ---------------------------------------------------------------------------------

    def _decode(self, raw: Any, where: str, out: list[Any]) -> tuple[str, str, Any | None] | None:
        """(key, resourceVersion, object or None when invalid); None when the item cannot even be named."""
        if type(raw) is not dict:
            out.append(self.problem(f"{where}: expected an object, got {type_name(raw)}"))
            return None
        namespace, name, display = object_name(raw, namespaced=self.spec.namespaced)
        meta = raw.get("metadata")
        if type(meta) is not dict:
            meta = {}
        rv = meta.get("resourceVersion")
        if not name:
            out.append(self.problem(f"{where}: the object has no name; skipped", field="metadata.name"))
            return None
        if type(rv) is not str or not rv:
            out.append(self.problem(f"{where}: no resourceVersion; skipped", display,
                                     field="metadata.resourceVersion"))
            return None
        report = Report(self.source, self.spec.kind.value, display)
        try:
            obj = self.spec.decoder(raw, Origin(self.source), report, where)
        except Exception as exc:  # a decoder bug must not stop the stream
            report.error(None, f"internal error while reading this object ({type(exc).__name__}: {exc})")
            obj = None
        out.extend(report.diagnostics)
        key = f"{namespace}/{name}" if self.spec.namespaced else name
        return key, rv, obj

    def _store(self, key: str, rv: str, obj: Any | None, display: str, out: list[Any]) -> None:
        """Record a new version; emit ADDED/MODIFIED when the usable object changed, and for an EndpointSlice
        whenever a valid new version came (its resourceVersion is new): kube-proxy's slice cache compares whole
        slices, so a change in a field the model drops (an annotation, a targetRef's uid) is an update too."""
        old = self.entries.get(key)
        previous = old[1] if old is not None else None
        invalid = obj is None
        if invalid:
            if previous is not None:
                out.append(self.problem(KEEPING_PREVIOUS, display, Severity.NOTE))
            obj = previous
        self.entries[key] = (rv, obj)
        if obj is None or (obj == previous and (invalid or self.spec.kind is not Kind.ENDPOINT_SLICE)):
            return
        kind = EventType.MODIFIED if previous is not None else EventType.ADDED
        out.append(WatchEvent(kind, self.spec.kind, key, rv, obj))

    # -- list -------------------------------------------------------------------------------------

    def replace(self, items: list[Any], list_rv: str) -> list[Any]:
        """Fold a complete list: events for what differs from the store, then a BOOKMARK at the list's RV."""
        out: list[Any] = []
        seen: set[str] = set()
        for i, raw in enumerate(items):
            decoded = self._decode(raw, f"list item {i}", out)
            if decoded is None:
                continue
            key, rv, obj = decoded
            seen.add(key)
            old = self.entries.get(key)
            if old is not None and old[0] == rv:
                continue  # unchanged since we saw it
            self._store(key, rv, obj, key, out)
        for key in [k for k in self.entries if k not in seen]:
            _, obj = self.entries.pop(key)
            if obj is not None:
                out.append(WatchEvent(EventType.DELETED, self.spec.kind, key, list_rv, obj))
        self.resource_version = list_rv
        out.append(bookmark(self.spec.kind, list_rv))
        return out

    # -- watch ------------------------------------------------------------------------------------

    def watch_line(self, line: bytes | str, number: int) -> tuple[list[Any], StreamSignal]:
        """One line of a watch stream: the events and diagnostics it yields, and what to do next. A line
        client-go's watch decoder fails on (not JSON, no or an unknown event type, an object that is no object)
        is UNDECODABLE: its StreamWatcher turns it into an ERROR event and stops, and the reflector lists again
        after backoff; a line skipped and read past made a proxy's answer a watch that delivered, sent again at
        once, forever. An object that decodes but is invalid to kube-proxy is ours to judge: reported, and the
        stream goes on."""
        out: list[Any] = []
        where = f"watch stream line {number}"
        try:
            message = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            text = line if isinstance(line, str) else line.decode("utf-8", "replace")
            snippet = text[:60] + ("..." if len(text) > 60 else "")
            out.append(self.problem(f"{where} is not JSON ({exc}): {snippet!r}; expected "
                                     '{"type": ..., "object": {...}}; the watch ends, listing again with backoff'))
            return out, StreamSignal.UNDECODABLE
        if type(message) is not dict or type(message.get("type")) is not str:
            out.append(self.problem(f"{where} has no event type; expected ADDED, MODIFIED, DELETED, BOOKMARK or "
                                     "ERROR; the watch ends, listing again with backoff"))
            return out, StreamSignal.UNDECODABLE
        kind, raw = message["type"], message.get("object")
        if kind == "ERROR":
            return self._error(raw, where, out)
        if kind == "BOOKMARK":
            return self._bookmark(raw, where, out), StreamSignal.CONTINUE
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            out.append(self.problem(f"{where}: unknown event type {kind!r}; expected ADDED, MODIFIED, DELETED, "
                                     "BOOKMARK or ERROR; the watch ends, listing again with backoff"))
            return out, StreamSignal.UNDECODABLE
        if type(raw) is not dict:  # (client-go: "unable to decode watch event", which ends the watch as well)
            out.append(self.problem(f"{where}: expected an object, got {type_name(raw)}; the watch ends, listing "
                                     "again with backoff"))
            return out, StreamSignal.UNDECODABLE
        found: list[Any] = []
        decoded = self._decode(raw, where, found)
        if kind != "DELETED" or decoded is None:  # a deleted object's validity is moot; only its name counts
            out.extend(found)
        if decoded is not None:
            self._event(EventType(kind), *decoded, where, out)
        return out, StreamSignal.CONTINUE

    def _error(self, raw: Any, where: str, out: list[Any]) -> tuple[list[Any], StreamSignal]:
        status = raw if type(raw) is dict else {}
        code, text = status.get("code"), status.get("message") or status.get("reason") or "no message"
        if code == 410:
            out.append(self.problem(f"resourceVersion {self.resource_version} is too old ({text}); relisting",
                                     severity=Severity.NOTE))
            return out, StreamSignal.EXPIRED
        if code == 429:  # (client-go's watch: IsTooManyRequests backs off and watches again, without a list)
            out.append(self.problem(f"{where}: the server sent an error (code 429: {text}); watching again from "
                                     f"resourceVersion {self.resource_version} with backoff",
                                     severity=Severity.WARNING))
            return out, StreamSignal.THROTTLED
        out.append(self.problem(f"{where}: the server sent an error (code {code}: {text}); listing again with "
                                 "backoff", severity=Severity.WARNING))
        return out, StreamSignal.FAILED

    def _bookmark(self, raw: Any, where: str, out: list[Any]) -> list[Any]:
        meta = raw.get("metadata") if type(raw) is dict else None
        rv = meta.get("resourceVersion") if type(meta) is dict else None
        if type(rv) is not str or not rv:
            out.append(self.problem(f"{where}: BOOKMARK without metadata.resourceVersion; skipped"))
        elif _older(rv, self.resource_version):
            out.append(self.problem(f"{where}: BOOKMARK resourceVersion went backwards "
                                     f"({self.resource_version} to {rv}); ignored", severity=Severity.WARNING))
        else:
            self.resource_version = rv
            out.append(bookmark(self.spec.kind, rv))
        return out

    def _event(self, kind: EventType, key: str, rv: str, obj: Any | None, where: str, out: list[Any]) -> None:
        """Apply one ADDED/MODIFIED/DELETED to the store, guarding against replays and regressions."""
        if _older(rv, self.resource_version) or rv == self.resource_version:
            out.append(self.problem(f"{where}: resourceVersion went backwards ({self.resource_version} to {rv})",
                                     key, Severity.WARNING))
        else:
            self.resource_version = rv
        old = self.entries.get(key)
        if old is not None and (old[0] == rv or _older(rv, old[0])):
            if old[0] != rv:
                out.append(self.problem(f"{where}: {kind.value} at resourceVersion {rv} is older than the "
                                         f"version held ({old[0]}); ignored", key, Severity.WARNING))
            return
        if kind is EventType.DELETED:
            if old is None:
                out.append(self.problem(f"{where}: DELETED for an object that was never added; ignored", key,
                                         Severity.WARNING))
                return
            del self.entries[key]
            if old[1] is not None:
                out.append(WatchEvent(EventType.DELETED, self.spec.kind, key, rv, old[1]))
            return
        self._store(key, rv, obj, key, out)
