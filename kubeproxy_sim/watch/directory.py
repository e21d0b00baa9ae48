"""A directory of manifests as a watch source: files added, edited or removed become events.

Polling, not inotify, so it works everywhere and tests drive it with an
injected clock: each ``poll()`` stats the directory's *.yaml, *.yml and *.json
files, as the loader lists them (with ``recursive``, kubectl -R's walk: a file
added, edited or removed in a subdirectory, one made since, is a change too). A file whose size,
mtime or inode changed is read only once it has stayed unchanged for
``debounce`` seconds, so an editor's truncate-then-write or a slow copy is seen
once, finished. What is read goes through the objects loader, one file at a time.

Things that go wrong are reported and never stop the source:

* a file that does not parse (a syntax error in any document holds back the
  whole file, and says so in that one line), is not text kubectl reads (not
  UTF-8, UTF-16 or UTF-32), or parses as no object at all while it held some
  (a stray line of text), keeps its previous objects; it is reported once and
  read again after another debounce period, until it is usable (an emptied
  file removes its objects);
* an object that fails validation keeps its previous version (as the API server
  would refuse the update), and is reported once: a later read of its file (another
  document edited) that leaves it as it was says nothing new;
* an object defined in two files: the file later in name order wins, as in
  ``kubectl apply -f DIR`` (with ``recursive``, later in kubectl -R's walk), with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.decode import object_name
from kubeproxy_sim.objects.load import (
    ObjectHook,
    decode_text,
    load_text,
    manifest_entries,
    manifest_unreadable,
    mirror_one,
    special_file,
)
from kubeproxy_sim.objects.mirror import copied_annotations
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.watch.events import (
    MODEL_KINDS,
    Batch,
    Kind,
    WatchEvent,
    bookmark,
    diff_events,
    kind_of,
    modified,
)
from kubeproxy_sim.watch.state import ENDPOINTS, KEEPING_PREVIOUS, keep_previous, keep_revision, refused_object

Signature = tuple[int, int, int]  # (mtime_ns, size, inode)
ObjectId = tuple[Kind, str]


_MODELLED_METADATA = frozenset({"name", "namespace", "labels"})


def _dropped_content(document: dict[str, Any]) -> str:
    """A short digest of what the EndpointSlice model drops from a raw slice: its metadata but the name,
    namespace and labels (annotations, resourceVersion, ownerReferences, ...), and each endpoint's targetRef (its
    uid, resourceVersion) and deprecatedTopology. What the model keeps is compared as the model; a field the
    API server defaults (a port's protocol) is left out, as it would make no new revision there."""
    meta = document.get("metadata")
    rest = {k: v for k, v in meta.items() if k not in _MODELLED_METADATA} if type(meta) is dict else meta
    endpoints = document.get("endpoints")
    refs = [(i, e.get("targetRef"), e.get("deprecatedTopology")) for i, e in enumerate(endpoints)
            if type(e) is dict and ("targetRef" in e or "deprecatedTopology" in e)] if type(endpoints) is list else None
    if not rest and not refs:
        return ""  # nothing dropped (the common file): no digest to make
    return _digest([rest, refs])


def _digest(value: Any) -> str:
    """A short digest of a decoded document's part, the same for the same content whatever its keys' order."""
    try:
        text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    except (TypeError, ValueError):  # keys of mixed types (YAML allows them): the object is refused anyway
        text = repr(value)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


_LINE = re.compile(r"\bline \d+")


def _unplaced(d: Diagnostic) -> Diagnostic:
    """A message without its line, nor a line it names (a key given twice: ``already defined at line 3``)."""
    return replace(d, line=None, message=_LINE.sub("line", d.message))


def _named_key(kind: str | None, shown: str) -> tuple[str, str]:
    """The (kind, name) of the object a message names as ``shown`` (the namespace left out: a message names the
    object as the loader shows it, with or without one)."""
    return kind or "", shown.rsplit("/", 1)[-1]


def _document_versions(objects: list[dict[str, Any]], named: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A digest of the raw objects of a file (as the loader's hook saw them: a List's items each on its own) that
    the messages name, by kind and name, so that a message about an object is tied to the version it was about.
    Only those are digested: a file of thousands of objects usually has a message about none or one."""
    found: dict[tuple[str, str], list[str]] = {}
    for raw in objects:
        _, name, _ = object_name(raw)
        key = (raw["kind"], name or "(unnamed)")
        if key in named:
            found.setdefault(key, []).append(_digest(raw))
    return {key: ",".join(digests) for key, digests in found.items()}


def slice_recorder(revisions: dict[str, str]) -> ObjectHook:
    """The loader's ``on_object`` hook that puts a revision token of each EndpointSlice in ``revisions`` by key
    ("ns/name"): a digest of what the model drops of it (see :func:`_dropped_content`), so an edit there (an
    annotation, a targetRef's uid) is a new revision, as a new resourceVersion is from the API server. A later
    document of the same key wins, as its object does. Other kinds are passed over."""

    def record(raw: dict[str, Any]) -> None:
        if raw["kind"] != "EndpointSlice":
            return
        namespace, name, _ = object_name(raw)
        if name:
            revisions[f"{namespace}/{name}"] = _dropped_content(raw)

    return record


def _object_recorder(objects: list[dict[str, Any]], then: ObjectHook) -> ObjectHook:
    """The watch's ``on_object`` hook: keeps every raw object the loader reads (for :func:`_document_versions`,
    so the file is parsed once) and passes it on to ``then``."""

    def record(raw: dict[str, Any]) -> None:
        objects.append(raw)
        then(raw)

    return record


@dataclass(slots=True)
class _FileState:
    """What was last accepted from one file (mutable, private to the source)."""

    signature: Signature | None = None
    objects: dict[ObjectId, Any] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)  # v1 Endpoints by key, mirrored once all files merge
    revisions: dict[str, str] = field(default_factory=dict)  # EndpointSlice key -> its dropped fields' digest
    reported: Signature | None = None  # the signature whose "does not parse" was already reported
    # what its last read said of its documents, each with its document's version (not said again)
    said: frozenset[tuple[Diagnostic, str | None]] = frozenset()


def _cluster_objects(cluster: Cluster) -> dict[ObjectId, Any]:
    out: dict[ObjectId, Any] = {}
    for group in (cluster.services, cluster.endpoint_slices, cluster.nodes, cluster.pods):
        for obj in group:
            out[(kind_of(obj), obj.key)] = obj
    return out


class DirectorySource:
    """Watch one directory of manifests by polling; ``poll()`` returns the events ready now."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic, debounce: float = 0.5,
                 recursive: bool = False) -> None:
        self.path = path
        self._recursive = recursive
        self._clock = clock
        self._debounce = debounce
        self._files: dict[str, _FileState] = {}
        self._order: dict[str, int] = {}  # file -> its place in the last listing (kubectl's order, -R's walk)
        self._waiting: dict[str, tuple[Signature | None, float]] = {}  # file -> (signature seen, since when)
        self._emitted: dict[ObjectId, Any] = {}
        self._revisions: dict[str, str] = {}  # of the emitted EndpointSlices, read from a file or mirrored
        self._rv = 0
        self._listed = False
        self._dir_problem: str | None = None

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # -- scanning ---------------------------------------------------------------------------------

    def _scan(self, problems: list[Diagnostic]) -> dict[str, Signature] | None:
        """The manifest files and their signatures; None (reported once) when the directory is unreadable."""
        try:
            files = manifest_entries(self.path, recursive=self._recursive)
        except OSError as exc:
            message = f"cannot list the directory ({exc.strerror or exc}); keeping the objects read so far"
            if message != self._dir_problem:
                problems.append(Diagnostic(message, file=self.path))
            self._dir_problem = message
            return None
        self._dir_problem = None
        self._order = {file: index for index, file in enumerate(files)}
        found: dict[str, Signature] = {}
        for file in files:
            try:
                st = os.stat(file)
            except OSError:
                try:
                    st = os.lstat(file)  # a dangling symbolic link, or a loop: read, and named, as kubectl does
                except OSError:
                    continue  # removed between listing and stat: seen as removed
            found[file] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return found

    # -- reading one file -------------------------------------------------------------------------

    def _read(self, file: str, signature: Signature, problems: list[Diagnostic]) -> bool:
        """Read one file into its accepted state; False when it does not parse yet (to retry)."""
        state = self._files.setdefault(file, _FileState())
        special = special_file(file)
        if special is not None:  # (opening a FIFO would stop the watch until something writes to it)
            return self._not_ready(state, file, signature, [Diagnostic(
                f"{special}, not a regular file; the watch reads regular files (it polls them for changes)",
                file=file)], problems, "not readable")
        try:
            with open(file, "rb") as handle:
                text, undecodable = decode_text(handle.read(), file)
        except OSError as exc:
            return self._not_ready(state, file, signature, [manifest_unreadable(file, exc)], problems, "not readable")
        if undecodable is not None:
            return self._not_ready(state, file, signature, [undecodable], problems, "not readable")
        revisions: dict[str, str] = {}
        raw_objects: list[dict[str, Any]] = []
        # mirror=False: the Service of an Endpoints may be in another file
        # whole_file: a syntax error holds back the whole file (its previous objects stay), and says so
        result = load_text(text, file, mirror=False, whole_file=True,
                           on_object=_object_recorder(raw_objects, slice_recorder(revisions)))
        if result.unparsed:  # a document that does not parse: the sign a file is not completely written yet
            # (said with the file's other documents that are no object)
            unparsed = [d for d in result.diagnostics
                        if d.severity is Severity.ERROR and (d.kind is None or d in result.unparsed)]
            return self._not_ready(state, file, signature, unparsed, problems, syntax=result.unparsed)
        objects = _cluster_objects(result.cluster)
        broken = [d for d in result.diagnostics if d.severity is Severity.ERROR and d.kind is None]
        if broken and not objects and not result.endpoints and (state.objects or state.endpoints):
            # parses, but as no object at all (a stray line of text, a missing kind): an edit gone wrong, not
            # the removal of everything the file held (an emptied file says that), so it is treated as unready
            return self._not_ready(state, file, signature, broken, problems,
                                   "no object in it now, yet it is not empty: taken for an edit gone wrong, not a "
                                   "removal (emptying the file removes its objects)")
        endpoints = {e.key: e for e in result.endpoints}
        said = []
        for d in result.diagnostics:
            said.append(d)
            kept = self._keep_previous(state, d, objects, endpoints)
            if kept:
                if d.kind == Kind.ENDPOINT_SLICE.value and d.object is not None:  # and its revision with it
                    keep_revision(revisions, state.revisions, d.object)
                said.append(Diagnostic(KEEPING_PREVIOUS, file=file, kind=d.kind, object=d.object,
                                       severity=Severity.NOTE))
        # a problem the file's last read said already of the same document (a bad document left as it was while
        # another one was edited) is not said again: a stream says a bad version once, as the API server source
        # does; a new bad version (its document changed) is said, even with the same error; an object's message
        # is compared without its lines (an edit above an unchanged document moves it: the same version)
        named = {_named_key(d.kind, d.object) for d in said if d.object}
        versions = _document_versions(raw_objects, named) if named else {}
        keys = [(_unplaced(d), versions.get(_named_key(d.kind, d.object))) if d.object else (d, None) for d in said]
        problems.extend(d for d, key in zip(said, keys, strict=True) if key not in state.said)
        state.signature, state.objects, state.reported, state.said = signature, objects, None, frozenset(keys)
        state.endpoints = endpoints
        state.revisions = revisions
        return True

    @staticmethod
    def _keep_previous(state: _FileState, d: Diagnostic, objects: dict[ObjectId, Any],
                       endpoints: dict[str, Any]) -> bool:
        """An invalid object that this file held before keeps its old version (a v1 Endpoints too: the slices
        mirrored from it stay); True when that happened."""
        refused = refused_object(d)
        if refused is None:
            return False
        kind, key = refused
        if kind == ENDPOINTS:
            return keep_previous(key, state.endpoints, endpoints) is not None
        return keep_previous((Kind(kind), key), state.objects, objects) is not None

    def _not_ready(self, state: _FileState, file: str, signature: Signature, found: list[Diagnostic],
                   problems: list[Diagnostic], what: str | None = None,
                   syntax: tuple[Diagnostic, ...] = ()) -> bool:
        """Report a file that does not parse, cannot be read, or holds nothing any more (``what`` it is then,
        and that it will be read again), once per version of it; its previous objects stay. A file that does not
        parse (``what`` None) is said by its syntax error alone, which says the file is held back: the debounce
        has passed, so the file is as its writer left it, and guessing it half-written would be wrong for a
        finished one (u1); the objects it keeps are added to that one line (its last ``syntax`` error's)."""
        if state.reported != signature:
            state.reported = signature
            count = len(state.objects)
            held = (f"its {count} object{'s' if count > 1 else ''} read before {'are' if count > 1 else 'is'} kept"
                    if count else "")
            if what is None and found:
                at = max((i for i, d in enumerate(found) if d in syntax), default=len(found) - 1)
                if held:
                    found = [*found[:at], replace(found[at], message=f"{found[at].message}; {held}"), *found[at + 1:]]
                problems.extend(found)
                return False
            problems.extend(found)
            problems.append(Diagnostic(f"{what or 'not usable'}; will read it again{'; ' + held if held else ''}",
                                       file=file, severity=Severity.WARNING))
        return False

    # -- polling ----------------------------------------------------------------------------------

    def poll(self) -> Batch:
        """Events for the files that changed and settled since the last poll; the initial list first time."""
        problems: list[Diagnostic] = []
        found = self._scan(problems)
        if found is None:
            return Batch((), tuple(problems))
        now = self._clock()
        if not self._listed:
            return self._initial_list(found, now, problems)
        changed = self._settle(found, now, problems)
        events = self._diff(changed, problems) if changed else []
        return Batch(tuple(events), tuple(problems))

    def _initial_list(self, found: dict[str, Signature], now: float, problems: list[Diagnostic]) -> Batch:
        """The first poll reads every file at once (there is nothing to debounce against)."""
        self._listed = True
        for file in found:  # (in kubectl's order: the listing's)
            if not self._read(file, found[file], problems):
                self._waiting[file] = (found[file], now)
        self._emitted, self._revisions = self._merge(set(found), problems)
        rv = self._next_rv()
        events = diff_events({}, self._emitted, lambda: rv)
        events += [bookmark(kind, rv) for kind in MODEL_KINDS.values()]
        return Batch(tuple(events), tuple(problems))

    def _settle(self, found: dict[str, Signature], now: float, problems: list[Diagnostic]) -> set[str]:
        """Track changed files; read (or drop) those unchanged for ``debounce`` seconds. Returns the files read."""
        done: set[str] = set()
        for file in sorted(found.keys() | self._files.keys() | self._waiting.keys()):
            seen = found.get(file)
            accepted = self._files[file].signature if file in self._files else None
            waiting = self._waiting.get(file)
            if seen == accepted:  # back to (or still at) what was read last
                self._waiting.pop(file, None)
                if seen is None:
                    self._files.pop(file, None)
                continue
            if waiting is None or waiting[0] != seen:
                self._waiting[file] = (seen, now)
                if self._debounce > 0:
                    continue
                waiting = (seen, now)
            if now - waiting[1] < self._debounce:
                continue
            if seen is None:
                self._files.pop(file, None)
                self._waiting.pop(file, None)
                done.add(file)
            elif self._read(file, seen, problems):
                self._waiting.pop(file, None)
                done.add(file)
            else:
                self._waiting[file] = (seen, now)  # retry after another debounce period
        return done

    def _in_order(self) -> list[str]:
        """The files read, in the order kubectl reads them (a file removed since the last listing, still held
        while it settles, goes last, by name): -R's walk puts dir/a/x.yaml before dir/a.yaml, which sorts first."""
        last = len(self._order)
        return sorted(self._files, key=lambda file: (self._order.get(file, last), file))

    def _merge(self, focus: set[str], problems: list[Diagnostic]) -> tuple[dict[ObjectId, Any], dict[str, str]]:
        """All files' objects, and their EndpointSlices' revision tokens; a later file (in kubectl's order) wins,
        with a warning when ``focus`` files are involved."""
        merged: dict[ObjectId, Any] = {}
        owner: dict[ObjectId, str] = {}
        revisions: dict[str, str] = {}
        for file in self._in_order():
            state = self._files[file]
            for ident, obj in state.objects.items():
                if ident in owner and (file in focus or owner[ident] in focus):
                    problems.append(Diagnostic(f"also defined in {owner[ident]}; this file's version is used",
                                               file=file, kind=ident[0].value, object=ident[1],
                                               severity=Severity.WARNING))
                merged[ident] = obj
                owner[ident] = file
            for key, revision in state.revisions.items():
                if (Kind.ENDPOINT_SLICE, key) in state.objects:
                    revisions[key] = revision
        self._mirror(merged, revisions, focus, problems)
        return merged, revisions

    def _mirror(self, merged: dict[ObjectId, Any], revisions: dict[str, str], focus: set[str],
                problems: list[Diagnostic]) -> None:
        """v1 Endpoints become EndpointSlices as the mirroring controller makes them, with every file's Services
        at hand (an Endpoints and its Service are often in different files); messages for the ``focus`` files.
        A mirrored slice's revision token is a digest of the annotations the controller copies onto it (the
        model has none), so an edit of those alone updates the slice, as the controller does."""
        endpoints: dict[str, tuple[str, Any]] = {}
        for file in self._in_order():
            for key, item in self._files[file].endpoints.items():
                endpoints[key] = (file, item)
        if not endpoints:
            return
        services = {key: obj for (kind, key), obj in merged.items() if kind is Kind.SERVICE}
        slices = {key: obj for (kind, key), obj in merged.items() if kind is Kind.ENDPOINT_SLICE}
        has_slices = {(s.namespace, s.service_name) for s in slices.values()}
        for file, item in endpoints.values():
            before = set(slices)
            found = mirror_one(item, services, slices, has_slices)
            if file in focus:
                problems.extend(found)
            copied = copied_annotations(item)
            for key in slices.keys() - before:
                revisions[key] = _digest(copied) if copied else ""
        for key, obj in slices.items():
            merged[(Kind.ENDPOINT_SLICE, key)] = obj

    def _diff(self, changed: set[str], problems: list[Diagnostic]) -> list[WatchEvent]:
        desired, revisions = self._merge(changed, problems)
        events = diff_events(self._emitted, desired, self._next_rv)
        # a slice whose document changed only where the model does not look: a new revision all the same
        evented = {event.key for event in events if event.kind is Kind.ENDPOINT_SLICE}
        before = self._revisions
        revised = sorted(key for key, revision in revisions.items()
                         if key not in evented and key in before and before[key] != revision)
        events += [modified(desired[(Kind.ENDPOINT_SLICE, key)], self._next_rv()) for key in revised]
        self._emitted, self._revisions = desired, revisions
        return events

    def close(self) -> None:
        """Nothing to release (polling holds no handles)."""
