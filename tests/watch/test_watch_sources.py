"""MemorySource, DirectorySource (injected clock, no sleeps) and ClusterState."""

from __future__ import annotations

import json
import os
import sys

import pytest

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects.model import Service
from kubeproxy_sim.watch import ClusterState, DirectorySource, EventType, Kind, MemorySource, WatchEvent

from ._objects import eps, node, pod, svc

# -- MemorySource and ClusterState ------------------------------------------------------------------


def test_memory_source_lists_then_streams_changes() -> None:
    a, b = svc("a", "10.0.0.1"), svc("b", "10.0.0.2")
    src = MemorySource([b, a, node("n1")])
    src.apply(eps("a-1", "a", ["10.1.0.1"]))  # before the first poll: part of the list
    first = src.poll()
    assert [(e.type, e.key) for e in first.events if e.type is not EventType.BOOKMARK] == [
        (EventType.ADDED, "default/a-1"), (EventType.ADDED, "n1"), (EventType.ADDED, "default/a"),
        (EventType.ADDED, "default/b")]
    assert {e.kind for e in first.events if e.type is EventType.BOOKMARK} == set(Kind)
    assert len({e.resource_version for e in first.events}) == 1
    src.apply(a)  # unchanged: no event
    src.apply(svc("a", "10.0.0.1", port=81))
    src.delete(Kind.SERVICE, "default/b")
    src.delete("Pod", "default/nope")
    batch = src.poll()
    assert [(e.type, e.key) for e in batch.events] == [(EventType.MODIFIED, "default/a"),
                                                       (EventType.DELETED, "default/b")]
    assert batch.events[1].obj == b
    assert int(batch.events[1].resource_version) > int(batch.events[0].resource_version)
    assert len(batch.diagnostics) == 1 and batch.diagnostics[0].object == "default/nope"
    assert not src.poll()


def test_cluster_state_folds_events_into_a_sorted_cluster() -> None:
    src = MemorySource([svc("b", "10.0.0.2"), svc("a", "10.0.0.1"), pod("p"), node("n2"), node("n1")])
    state = ClusterState()
    assert state.apply_all(src.poll().events) == []
    assert state.synced == set(Kind)
    cluster = state.cluster()
    assert [s.name for s in cluster.services] == ["a", "b"]
    assert [n.name for n in cluster.nodes] == ["n1", "n2"] and len(cluster.pods) == 1
    src.delete(Kind.SERVICE, "default/a")
    state.apply_all(src.poll().events)
    again = state.cluster()
    assert [s.name for s in again.services] == ["b"]
    assert again.nodes is cluster.nodes  # untouched kinds are reused
    ghost = WatchEvent(EventType.DELETED, Kind.POD, "default/ghost", "99", pod("ghost"))
    problem = state.apply(ghost)
    assert problem is not None and problem.object == "default/ghost" and "never added" in problem.message
    assert state.resource_versions[Kind.POD] == "99"


# -- DirectorySource ---------------------------------------------------------------------------------

SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  clusterIP: {ip}
  ports: [{{name: p, port: {port}, protocol: TCP}}]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Dir:
    """Writes files with strictly increasing mtimes, so every write is seen whatever the filesystem's granularity."""

    def __init__(self, path) -> None:
        self.path = path
        self.tick = 1_000_000_000_000_000_000

    def write(self, name: str, text: str) -> str:
        file = os.path.join(self.path, name)
        with open(file, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.tick += 1_000_000
        os.utime(file, ns=(self.tick, self.tick))
        return file

    def remove(self, name: str) -> None:
        os.remove(os.path.join(self.path, name))


def summary(batch) -> list[tuple[str, str, str]]:
    return [(e.type.value, e.kind.value, e.key) for e in batch.events if e.type is not EventType.BOOKMARK]


@pytest.fixture
def setup(tmp_path):
    d, clock = Dir(str(tmp_path)), Clock()
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=80))
    d.write("notes.txt", "not a manifest")
    return d, clock, DirectorySource(str(tmp_path), clock=clock, debounce=1.0)


def test_directory_initial_list_then_debounced_edits(setup) -> None:
    d, clock, src = setup
    first = src.poll()
    assert summary(first) == [("ADDED", "Service", "default/a")]
    assert {e.kind for e in first.events if e.type is EventType.BOOKMARK} == set(Kind)
    assert not src.poll()
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=81))
    assert not src.poll()  # changed, not settled yet
    clock.now += 0.6
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=82))  # still being written: timer restarts
    assert not src.poll()
    clock.now += 0.6
    assert not src.poll()
    clock.now += 0.5
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")]
    assert batch.events[0].obj.ports[0].port == 82
    # a new file, then its removal
    d.write("b.json", '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}')
    assert summary(src.poll()) == []
    clock.now += 1.0
    assert summary(src.poll()) == [("ADDED", "Node", "n1")]
    d.remove("b.json")
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("DELETED", "Node", "n1")] and batch.events[0].obj.name == "n1"
    rvs = [int(e.resource_version) for e in batch.events]
    assert rvs and rvs[0] > 1


def test_directory_half_written_file_is_reported_once_and_retried(setup) -> None:
    d, clock, src = setup
    src.poll()
    d.write("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default\nspec:\n  cl")
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert batch.events == ()
    errors = [x for x in batch.diagnostics if x.severity is Severity.ERROR]
    assert errors and errors[0].file.endswith("a.yaml") and "syntax error" in errors[0].message
    # one line (u1): the syntax error says the file is held back, and what it keeps; no guess it is half-written
    assert errors[0].message.endswith("; the whole file is held back until it parses; its 1 object read before is kept")
    assert len(batch.diagnostics) == 1
    clock.now += 1.0
    assert not src.poll()  # retried, still broken: not reported again
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=90))
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")] and not batch.diagnostics


def test_directory_parses_a_changed_file_once(setup, monkeypatch) -> None:
    """Whether a file is completely written is read from the one parse that loads it (the loader's whole-file
    hold-back), not from a second parse of the same text: a YAML file reaches the YAML reader once, a JSON file
    the JSON reader once."""
    import yaml

    d, clock, src = setup
    src.poll()
    parsed: list[str] = []
    reader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    start, decode = reader.__init__, json.JSONDecoder.decode

    def spied_start(self, stream):
        parsed.append(stream)
        start(self, stream)

    def spied_decode(self, text, *args, **kwargs):  # json.loads and the loader's own decoder both come here
        parsed.append(text)
        return decode(self, text, *args, **kwargs)

    monkeypatch.setattr(reader, "__init__", spied_start)
    monkeypatch.setattr(json.JSONDecoder, "decode", spied_decode)
    edited = SERVICE.format(name="a", ip="10.0.0.1", port=81)
    written = json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    d.write("a.yaml", edited)
    d.write("b.json", written)
    src.poll()
    clock.now += 1.0
    assert summary(src.poll()) == [("ADDED", "Node", "n1"), ("MODIFIED", "Service", "default/a")]
    assert (parsed.count(edited), parsed.count(written)) == (1, 1)


def test_directory_skips_a_document_whose_anchor_holds_itself_and_reads_the_file_s_others(setup) -> None:
    """An anchor whose value holds an alias to itself is refused as kubectl's YAML reader refuses it, but the text
    parses: the file is complete, so only that document is lost (as in a one-shot load), not the whole file held
    back as half-written."""
    d, clock, src = setup
    src.poll()
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=81) + "---\nloop: &a [*a]\n")
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")]
    assert [(x.line, "anchor" in x.message, x.message.endswith("this document is skipped"))
            for x in batch.diagnostics] == [(8, True, True)]


ALIASED = ("apiVersion: v1\nkind: Service\nmetadata: &m {name: a, labels: {x: *m}}\n"
           "spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}\n")


LAUGHS = "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n" for i in range(1, 31)).join(
    ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n", "apiVersion: v1\nkind: Service\n"
     "metadata: {name: a}\nspec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}\n"])  # (a billion laughs, and more)


@pytest.mark.parametrize("aliased", [ALIASED, LAUGHS])
def test_directory_keeps_the_previous_version_of_an_object_refused_over_its_aliases(setup, aliased) -> None:
    """A named object refused over its aliases (an anchor holding itself; a billion laughs) is that object's
    error: its previous version stays, as for any invalid object, and the file's other objects flow. It raised
    IndexError ('internal error' in watch -f DIR --once): its message, which names the object, was taken for no
    document-level error, so the hold-back had nothing to say."""
    d, clock, src = setup
    src.poll()
    d.write("a.yaml", aliased + "---\n" + SERVICE.format(name="b", ip="10.0.0.3", port=80))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("ADDED", "Service", "default/b")]
    assert [(x.object, x.severity) for x in batch.diagnostics] == [("default/a", Severity.ERROR),
                                                                    ("default/a", Severity.NOTE)]


QUOTED = "x the whole file is held back until it parses"  # (a user's value in the loader's own words)


def test_directory_reads_a_file_whose_bad_value_quotes_the_hold_back_words(setup) -> None:
    """Whether a file is held back comes from the loader's parse (LoadResult.unparsed), not from its messages'
    words: a value quoting them is one refused object, the file's others flow (it raised IndexError, 'internal
    error', in watch -f DIR --once: no document-level error to report the hold-back with)."""
    d, clock, src = setup
    src.poll()
    bad = SERVICE.format(name="q", ip="10.0.0.9", port=80).replace("spec:\n", f"spec:\n  type: {QUOTED!r}\n")
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=81) + "---\n" + bad)
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")]
    assert [(x.object, "spec.type" in str(x)) for x in batch.diagnostics] == [("default/q", True)]


def test_directory_does_not_hold_back_a_good_file_whose_warning_quotes_the_hold_back_words(setup) -> None:
    """An annotation key given twice (a warning naming it) held the whole file back, silently but for the
    warning and a 'half-written?' line."""
    d, clock, src = setup
    src.poll()
    twice = f"  annotations: {{{QUOTED!r}: '1', {QUOTED!r}: '2'}}\n"
    d.write("a.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: default\n" + twice
            + "spec:\n  clusterIP: 10.0.0.1\n  ports: [{name: p, port: 81, protocol: TCP}]\n")
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")]
    assert [x.severity for x in batch.diagnostics] == [Severity.WARNING]


def test_directory_invalid_object_keeps_previous_version_and_others_flow(setup) -> None:
    d, clock, src = setup
    d.write("b.yaml", SERVICE.format(name="b", ip="10.0.0.2", port=80))
    src.poll()
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=99999))
    d.write("b.yaml", SERVICE.format(name="b", ip="10.0.0.2", port=81))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/b")]
    error = next(x for x in batch.diagnostics if x.severity is Severity.ERROR)
    assert error.object == "default/a" and error.field == "spec.ports[0].port" and error.file.endswith("a.yaml")
    assert any("keeping its previous version" in x.message for x in batch.diagnostics)


def test_directory_invalid_object_left_as_it_was_is_reported_once(setup) -> None:
    """A file holding a bad object and a good one: edits of the good one read the file again, and the bad object,
    unchanged, is not said again (a stream says a bad object once); a new bad version of it is, and its fix
    arrives as an update."""
    d, clock, src = setup
    src.poll()

    def write(bad_port: int, good_port: int) -> list:
        d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=bad_port) + "---\n" +
                SERVICE.format(name="b", ip="10.0.0.2", port=good_port))
        src.poll()
        clock.now += 1.0
        return list(src.poll().diagnostics)

    said = write(99999, 80)
    assert [(x.severity, x.object) for x in said] == [(Severity.ERROR, "default/a"), (Severity.NOTE, "default/a")]
    assert write(99999, 81) == [] and write(99999, 82) == []
    said = write(70000, 83)
    assert [(x.severity, x.object, x.field) for x in said if x.severity is Severity.ERROR] == [
        (Severity.ERROR, "default/a", "spec.ports[0].port")] and "70000" in said[0].message
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=90) + "---\n" +
            SERVICE.format(name="b", ip="10.0.0.2", port=83))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")] and not batch.diagnostics
    assert write(99999, 83) != []  # broken again after the fix: said again


def test_directory_new_bad_version_with_the_same_error_is_said(setup) -> None:
    """Another bad version of an object (its cluster IP edited, its port still out of range): the same error,
    but of a new version, which the API server source says too (a new resourceVersion); the same version again
    is not said."""
    d, clock, src = setup
    src.poll()

    def write(ip: str) -> list:
        d.write("a.yaml", SERVICE.format(name="a", ip=ip, port=99999) + "---\n" +
                SERVICE.format(name="b", ip="10.0.0.2", port=80))
        src.poll()
        clock.now += 1.0
        return [(x.severity, x.object) for x in src.poll().diagnostics]

    said = [(Severity.ERROR, "default/a"), (Severity.NOTE, "default/a")]
    assert write("10.0.0.1") == said
    assert write("10.0.0.9") == said
    assert write("10.0.0.9") == []


def test_directory_new_bad_version_of_a_list_item_with_the_same_error_is_said(setup) -> None:
    """The same inside a kind: List: each item is a version of its own (a label edited on the bad Service, its
    port still out of range, is said again), not the List's whole document; an edit of another item leaves the bad
    one's version as it was (not said again)."""
    d, clock, src = setup
    src.poll()

    def write(label: str, good_port: int) -> list:
        items = [{"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "a", "namespace": "default", "labels": {"v": label}},
                  "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "p", "port": 99999, "protocol": "TCP"}]}},
                 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b", "namespace": "default"},
                  "spec": {"clusterIP": "10.0.0.2", "ports": [{"name": "p", "port": good_port, "protocol": "TCP"}]}}]
        d.write("a.yaml", json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        src.poll()
        clock.now += 1.0
        return [(x.severity, x.object) for x in src.poll().diagnostics]

    said = [(Severity.ERROR, "default/a"), (Severity.NOTE, "default/a")]
    assert write("a", 80) == said
    assert write("b", 80) == said
    assert write("b", 81) == []


def test_directory_invalid_object_moved_down_by_an_edit_above_is_not_said_again(setup) -> None:
    """The bad object's document is unchanged, only its lines moved (a selector added to the good object above it):
    the same version, so its warning (a key given twice, whose message names both its lines), now at other lines, is
    not said again."""
    d, clock, src = setup
    src.poll()

    def write(good: str) -> list:
        d.write("a.yaml", good + "---\n" + SERVICE.format(name="b", ip="10.0.0.2", port=80) + "  clusterIP: 10.0.0.2\n")
        src.poll()
        clock.now += 1.0
        return [(x.severity, x.object) for x in src.poll().diagnostics]

    good = SERVICE.format(name="a", ip="10.0.0.1", port=80)
    assert write(good) == [(Severity.WARNING, "default/b")]
    moved = good.replace("spec:\n", "spec:\n  selector: {app: web}\n")
    assert moved != good and write(moved) == []


def test_directory_duplicate_definitions_last_file_wins(setup) -> None:
    d, clock, src = setup
    src.poll()
    d.write("z.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=70))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")] and batch.events[0].obj.ports[0].port == 70
    assert any("also defined in" in x.message for x in batch.diagnostics)
    d.remove("z.yaml")
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")] and batch.events[0].obj.ports[0].port == 80


def test_directory_missing_is_reported_once_and_objects_kept(tmp_path) -> None:
    missing = str(tmp_path / "gone")
    src = DirectorySource(missing, clock=Clock(), debounce=0)
    batch = src.poll()
    assert batch.events == () and batch.diagnostics[0].file == missing
    assert not src.poll()


def test_directory_zero_debounce_sees_changes_at_once(tmp_path) -> None:
    d = Dir(str(tmp_path))
    src = DirectorySource(str(tmp_path), clock=Clock(), debounce=0)
    assert summary(src.poll()) == []
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=80))
    assert summary(src.poll()) == [("ADDED", "Service", "default/a")]


ENDPOINTS = """apiVersion: v1
kind: Endpoints
metadata: {name: a, namespace: default}
subsets:
- addresses: [{ip: 10.244.0.5}]
  ports: [{name: p, port: 8080, protocol: TCP}]
"""


def test_directory_mirrors_endpoints_whose_service_is_in_another_file(setup) -> None:
    """`kubectl get svc -o yaml > svc.yaml; kubectl get ep -o yaml > ep.yaml`: the Endpoints are mirrored to an
    EndpointSlice with the Service of the other file, as `rules -f DIR` does."""
    d, clock, src = setup
    d.write("ep.yaml", ENDPOINTS)
    first = src.poll()
    assert ("ADDED", "EndpointSlice", "default/a-") in [(t, k, key[:len("default/a-")]) for t, k, key in
                                                        summary(first)]
    assert not [x for x in first.diagnostics if "not mirrored" in x.message]
    d.remove("a.yaml")  # the Service goes: so does the mirrored slice
    src.poll()
    clock.now += 1.0
    assert sorted(k for _, k, _ in summary(src.poll())) == ["EndpointSlice", "Service"]


def test_directory_refused_endpoints_keeps_its_mirrored_slices(setup) -> None:
    """A v1 Endpoints edited to a version the API server refuses (an address that is no IP): the write does not
    happen, so its mirrored slice stays, with a note, and no event; the fixed version comes as an update."""
    d, clock, src = setup
    d.write("ep.yaml", ENDPOINTS)
    src.poll()

    def edit(ip: str):
        d.write("ep.yaml", ENDPOINTS.replace("10.244.0.5", ip))
        src.poll()
        clock.now += 1.0
        return src.poll()

    batch = edit("10.244.0.999")
    assert summary(batch) == []
    assert [(x.severity, x.kind, x.object) for x in batch.diagnostics] == [
        (Severity.ERROR, "Endpoints", "default/a"), (Severity.NOTE, "Endpoints", "default/a")]
    assert "keeping its previous version" in batch.diagnostics[1].message
    assert [(t, k) for t, k, _ in summary(edit("10.244.0.6"))] == [("MODIFIED", "EndpointSlice")]


def test_directory_stray_text_keeps_the_objects_and_an_emptied_file_removes_them(setup) -> None:
    d, clock, src = setup
    src.poll()
    d.write("a.yaml", "TODO: fix this file later\n")  # parses, as a mapping without a kind
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert batch.events == () and any("kept" in x.message for x in batch.diagnostics)
    d.write("a.yaml", "# nothing here any more\n")
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    assert summary(src.poll()) == [("DELETED", "Service", "default/a")]


MANIFEST = "expected a YAML or JSON manifest file, a directory of them, or - for standard input"
"""What a manifest file that cannot be read is said to have to be (errors.cannot_read's one wording)."""


def test_directory_non_utf8_file_is_said_so(setup) -> None:
    d, clock, src = setup
    src.poll()
    with open(os.path.join(d.path, "a.yaml"), "wb") as handle:
        handle.write(b"apiVersion: v1\n\xff\n")
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert any(str(x) == f"{d.path}/a.yaml: -f: cannot read it: not UTF-8 text (invalid start byte at byte 15); "
               f"{MANIFEST}" for x in batch.diagnostics)


SLICE = """apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: a-1
  namespace: default
  labels: {{kubernetes.io/service-name: a}}{extra}
addressType: IPv4
endpoints: [{{addresses: [10.1.0.1]}}]
ports: [{{name: p, port: 80, protocol: TCP}}]
"""


def test_directory_slice_edited_where_the_model_does_not_look_is_modified(setup) -> None:
    """An annotation added to a slice's document is a new revision (kube-proxy's slice cache compares whole
    slices): a MODIFIED event at a new resourceVersion; keys reordered is the same content, no event."""
    d, clock, src = setup
    d.write("s.yaml", SLICE.format(extra=""))
    src.poll()
    d.write("s.yaml", SLICE.format(extra="\n  annotations: {foo: bar}"))
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "EndpointSlice", "default/a-1")]
    first_rv = batch.events[0].resource_version
    d.write("s.yaml", SLICE.format(extra="\n  annotations: {foo: bar}").replace(
        "  name: a-1\n  namespace: default\n", "  namespace: default\n  name: a-1\n"))
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    assert summary(src.poll()) == [] and first_rv
    # a field the API server defaults, left out (a port's protocol): the same object, no new revision
    d.write("s.yaml", SLICE.format(extra="\n  annotations: {foo: bar}").replace(", protocol: TCP", ""))
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    assert summary(src.poll()) == []


def test_the_loader_s_slice_hook_sees_every_slice_a_list_holds_as_the_loader_expands_it() -> None:
    """R-core 4: revisions are recorded by the loader's own hook (no second copy of its List expansion): a
    slice alone, a List's item, an EndpointSliceList's item without a kind, an invalid slice too; a later one of a
    key wins; other kinds are not seen."""
    from kubeproxy_sim.objects.load import load_text
    from kubeproxy_sim.watch.directory import slice_recorder

    slice_doc = SLICE.format(extra="\n  annotations: {a: b}")
    listed = ('{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "discovery.k8s.io/v1", '
              '"kind": "EndpointSlice", "metadata": {"name": "l-1", "namespace": "ns"}, "addressType": "IPv4", '
              '"endpoints": []}, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}]}')
    typed = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSliceList\nitems:\n- metadata: {name: t-1, "
             "annotations: {x: y}}\n  addressType: Bogus\n")
    seen: dict[str, str] = {}
    load_text("\n---\n".join([slice_doc, "apiVersion: v1\nkind: List\nitems: []", typed]) + "\n---\n" + slice_doc,
              "m.yaml", on_object=slice_recorder(seen))
    load_text(listed, "l.json", on_object=slice_recorder(seen))
    assert sorted(seen) == ["default/a-1", "default/t-1", "ns/l-1"]
    assert seen["ns/l-1"] == "" and seen["default/a-1"] and seen["default/t-1"]


def test_directory_syntax_error_in_a_later_document_says_the_whole_file_is_held_back(tmp_path) -> None:
    """The one-shot loader skips the broken document alone ("this document is skipped"); the watch holds the whole
    file back until it parses, so its message says that instead."""
    d, clock = Dir(str(tmp_path)), Clock()
    d.write("all.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=80) + "---\nkind: Service\nspec: [\n")
    src = DirectorySource(str(tmp_path), clock=clock, debounce=1.0)
    first = src.poll()
    assert summary(first) == []
    texts = [str(x) for x in first.diagnostics]
    assert not any("this document is skipped" in t for t in texts)
    syntax = [t for t in texts if "syntax error" in t]
    assert len(syntax) == 1 and syntax[0].endswith("; the whole file is held back until it parses")
    assert not any("half-written" in t for t in texts)


def test_the_loader_says_the_whole_file_is_held_back_when_the_watch_asks_it(tmp_path) -> None:
    """R-core 5: the loader words it (whole_file=True), not the watch by matching the end of its message: a YAML
    syntax error, a broken JSON stream's value and a dump given where manifests go all say the file is held
    back; the one-shot load keeps 'this document is skipped'."""
    from kubeproxy_sim.objects.load import DUMP_GIVEN, HELD_BACK, SKIPPED, load_text

    broken_yaml = SERVICE.format(name="a", ip="10.0.0.1", port=80) + "---\nkind: Service\nspec: [\n"
    good = '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j"}, "spec": {"clusterIP": "None"}}'
    broken_json = f"{good}\n{{\"apiVersion\": oops}}\n"
    dump = "*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"
    for text in (broken_yaml, broken_json):
        held = [str(x) for x in load_text(text, "f", whole_file=True).errors]
        skipped = [str(x) for x in load_text(text, "f").errors]
        assert len(held) == 1 and held[0].endswith(f"; {HELD_BACK}"), held
        assert skipped == [held[0][: -len(HELD_BACK)] + SKIPPED]
    assert [x.message for x in load_text(dump, "d").errors] == [DUMP_GIVEN]
    (held_dump,) = load_text(dump, "d", whole_file=True).errors
    assert held_dump.message == DUMP_GIVEN.replace("it is skipped", HELD_BACK)
    d, clock = Dir(str(tmp_path)), Clock()
    d.write("s.json", broken_json)
    d.write("x.yaml", dump)
    texts = [str(x) for x in DirectorySource(str(tmp_path), clock=clock, debounce=1.0).poll().diagnostics]
    assert not any(SKIPPED in t or "so it is skipped" in t for t in texts), texts
    assert sum(HELD_BACK in t for t in texts) == 2, texts


def test_directory_names_links_it_cannot_read_and_a_fifo_and_skips_subdirectories(tmp_path) -> None:
    """QA-cli #6: a dangling *.yaml link, a loop and a FIFO were left out silently; a FIFO is not opened (that
    would stop the watch until something writes to it), and a subdirectory is not read, as kubectl -f DIR."""
    d = Dir(str(tmp_path))
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=80))
    os.symlink(tmp_path / "absent", tmp_path / "dangling.yaml")  # a target no other process can create
    os.symlink("loop.yaml", tmp_path / "loop.yaml")
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "sub.yaml").mkdir()
    batch = DirectorySource(str(tmp_path), clock=Clock(), debounce=0).poll()
    assert summary(batch) == [("ADDED", "Service", "default/a")]
    again = "warning: not readable; will read it again"
    assert [str(x) for x in batch.diagnostics] == [
        f'{tmp_path}/dangling.yaml: -f: cannot read it: a symbolic link to "{tmp_path}/absent", which does not exist; '
        f"{MANIFEST}", f"{tmp_path}/dangling.yaml: {again}",
        f"{tmp_path}/loop.yaml: -f: cannot read it: a loop of symbolic links (too many levels to follow); "
        f"{MANIFEST}", f"{tmp_path}/loop.yaml: {again}",
        f"{tmp_path}/pipe.json: a FIFO, not a regular file; the watch reads regular files (it polls them for "
        "changes)", f"{tmp_path}/pipe.json: {again}"]


def test_directory_mirrored_slice_follows_its_endpoints_annotations(setup) -> None:
    """The mirroring controller copies an Endpoints' annotations onto its slices (but last-change-trigger-time
    and kubectl's last-applied-configuration), so an edit there updates the slice: a MODIFIED event at a new
    resourceVersion. kube-proxy's slice cache compares whole slices (esDataChanged: reflect.DeepEqual of the
    slice), so the update asks for a sync whose Service is a changed one, though its rules come out the same."""
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.watch.events import Batch, bookmark
    from kubeproxy_sim.watch.sync_loop import SyncLoop

    d, clock, src = setup

    def edit(annotations: str) -> list[WatchEvent]:
        d.write("ep.yaml", ENDPOINTS.replace("namespace: default}", f"namespace: default, {annotations}}}"))
        clock.now += 1.0
        src.poll()
        clock.now += 1.0
        return list(src.poll().events)

    d.write("ep.yaml", ENDPOINTS)
    loop = SyncLoop(ProxyConfig(node_name="n1"), clock=lambda: clock.now)
    loop.feed(Batch((*src.poll().events, *(bookmark(kind, "0") for kind in Kind))))
    assert loop.sync_if_due() is not None
    events = edit("annotations: {team: a}")
    assert [(e.type, e.kind, e.key[:len("default/a-")]) for e in events] == [
        (EventType.MODIFIED, Kind.ENDPOINT_SLICE, "default/a-")]
    loop.feed(Batch(tuple(events)))
    clock.now += 2.0
    report = loop.sync_if_due()
    assert report is not None and not report.full and report.changed == frozenset({"default/a"})
    assert edit("annotations: {team: a, endpoints.kubernetes.io/last-change-trigger-time: '2026-11-30T07:00:00Z', "
                "kubectl.kubernetes.io/last-applied-configuration: '{}'}") == []


def test_directory_recursive_follows_adds_edits_and_deletes_in_subdirectories(setup) -> None:
    """-R: the tree kubectl -R reads is watched, a subdirectory made after the start too; without it, not."""
    d, clock, _ = setup
    os.makedirs(os.path.join(d.path, "sub", "deeper"))
    d.write("sub/deeper/b.yaml", SERVICE.format(name="b", ip="10.0.0.2", port=80))
    flat = DirectorySource(d.path, clock=clock, debounce=1.0)
    src = DirectorySource(d.path, clock=clock, debounce=1.0, recursive=True)
    assert summary(flat.poll()) == [("ADDED", "Service", "default/a")]
    assert summary(src.poll()) == [("ADDED", "Service", "default/a"), ("ADDED", "Service", "default/b")]

    def settled() -> list[tuple[str, str, str]]:
        assert not src.poll()  # changed, not settled yet
        clock.now += 1.0
        return summary(src.poll())

    d.write("sub/deeper/b.yaml", SERVICE.format(name="b", ip="10.0.0.2", port=81))
    assert settled() == [("MODIFIED", "Service", "default/b")]
    os.makedirs(os.path.join(d.path, "new"))
    d.write("new/c.json", '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}')
    assert settled() == [("ADDED", "Node", "n1")]
    d.remove("sub/deeper/b.yaml")
    assert settled() == [("DELETED", "Service", "default/b")]
    assert not flat.poll()


def test_directory_recursive_duplicates_win_in_kubectl_s_walk_order(setup) -> None:
    """kubectl -R walks a directory's entries in name order, a subdirectory's files in its place: a/x.yaml comes
    before a.yaml (the directory "a" sorts before "a.yaml"), so a.yaml's version wins, though its path sorts
    first."""
    d, clock, _ = setup
    os.makedirs(os.path.join(d.path, "a"))
    d.write("a/x.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=70))
    batch = DirectorySource(d.path, clock=clock, debounce=1.0, recursive=True).poll()
    assert [_first_port(e) for e in batch.events if e.type is EventType.ADDED] == [80]


def _first_port(event: WatchEvent) -> int:
    """The first port of the Service an event carries (its ``obj`` is typed Any or None: any kind, or a BOOKMARK)."""
    assert isinstance(event.obj, Service)
    return event.obj.ports[0].port


def test_directory_bad_binary_value_refuses_its_object_not_the_file(setup) -> None:
    """A ``!!binary`` that is no base64 is one object kubectl refuses (as ``rules -f`` says), not a file not
    written yet: the file's other objects flow, and it is not held back as half-written."""
    d, clock, src = setup
    src.poll()
    bad = SERVICE.format(name="b", ip="10.0.0.2", port=80).replace(
        "namespace: default}", 'namespace: default, labels: {t: !!binary "a@b="}}')
    d.write("b.yaml", bad + "---\n" + SERVICE.format(name="c", ip="10.0.0.3", port=80))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("ADDED", "Service", "default/c")]
    assert not any("half-written" in x.message for x in batch.diagnostics)
    error = next(x for x in batch.diagnostics if x.severity is Severity.ERROR)
    assert error.object == "default/b" and error.field == "metadata.labels.t" and "base64" in error.message


def test_directory_key_given_twice_is_a_warning_and_the_object_flows_with_the_last_value(setup) -> None:
    """kubectl's YAML reading keeps the last of two equal keys: the object is added with it (as ``rules -f`` reads
    it), the file is not held back, and the warning names the object and the key's field."""
    d, clock, src = setup
    src.poll()
    d.write("b.yaml", SERVICE.format(name="b", ip="10.0.0.2", port=80).replace("port: 80", "port: 80, port: 81"))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert [(e.type.value, e.obj.ports[0].port) for e in batch.events] == [("ADDED", 81)]
    [warning] = [x for x in batch.diagnostics if x.severity is not Severity.NOTE]
    assert (warning.severity, warning.object, warning.field) == (Severity.WARNING, "default/b", "spec.ports[0].port")
    assert "already defined" in warning.message


def test_directory_json_nan_is_a_syntax_error_that_holds_the_file_back(setup) -> None:
    """NaN is no JSON (Go's reader refuses the document): as any syntax error in the watch, the file is held back
    with its previous objects, not read with a number NaN nor as YAML's string."""
    d, clock, src = setup
    src.poll()
    d.write("a.yaml", '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "default"},\n'
                      ' "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": NaN}]}}\n')
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert batch.events == ()
    assert any(x.message == "syntax error: invalid value NaN (JSON has no NaN or Infinity; kubectl's reader refuses "
                            "it) at line 2 column 55; the whole file is held back until it parses; its 1 object "
                            "read before is kept"
               for x in batch.diagnostics)
    assert not any("half-written" in x.message for x in batch.diagnostics)


def test_directory_json_nested_too_deep_holds_the_file_back_once_and_the_rest_flows(setup) -> None:
    """A JSON value nested past what the reader follows is a syntax error, as libyaml's nesting limit is for YAML:
    the watch holds the file back with its previous objects (j and k were not deleted), says so once, in the
    watch's words (not the one-shot 'this document and the rest of the file are skipped'), while another file's
    edit flows; once fixed, the file is read again."""
    d, clock, src = setup
    service = ('{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "{name}", "namespace": "default"}}, '
               '"spec": {{"clusterIP": "{ip}", "ports": [{{"port": 80}}]{extra}}}}}\n')
    good = service.format(name="j", ip="10.0.0.8", extra="")
    d.write("s.json", good + service.format(name="k", ip="10.0.0.9", extra=""))
    assert summary(src.poll()) == [("ADDED", "Service", "default/a"), ("ADDED", "Service", "default/j"),
                                   ("ADDED", "Service", "default/k")]
    deep = service.format(name="k", ip="10.0.0.9", extra=', "x": ' + "[" * 3000 + "]" * 3000)
    d.write("s.json", good + deep)
    d.write("a.yaml", SERVICE.format(name="a", ip="10.0.0.1", port=81))
    src.poll()
    clock.now += 1.0
    batch = src.poll()
    assert summary(batch) == [("MODIFIED", "Service", "default/a")]
    texts = [str(x) for x in batch.diagnostics]
    assert [t for t in texts if "nesting depth" in t] == [
        f"{d.path}/s.json:2: syntax error: exceeded maximum nesting depth (3002 levels of arrays and objects; the "
        f"JSON reader follows fewer than {sys.getrecursionlimit()}) at column 3155; the whole file is held back until "
        "it parses; its 2 objects read before are kept"]
    clock.now += 1.0
    assert not src.poll()  # retried, still too deep: not said again
    d.write("s.json", good)
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    assert summary(src.poll()) == [("DELETED", "Service", "default/k")]


def test_the_reflector_threads_never_take_a_ctrl_c(connect) -> None:
    """The kernel hands a process's SIGINT to any thread not blocking it; one taken by a reflector thread would be
    raised in the main thread wherever it next checks, even inside signals.held() (over a fork, where CPython drops
    it as "Exception ignored"). Started with SIGINT and SIGTERM blocked, the reflectors leave it to the main thread,
    whose own mask is left as it was."""
    import signal
    import threading
    from pathlib import Path

    def blocked(native_id: int | None) -> int:
        status = Path(f"/proc/self/task/{native_id}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    connect()
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    reflectors = [t for t in threading.enumerate() if t.name.startswith("kpsim-watch-")]
    assert reflectors
    for thread in reflectors:
        mask = blocked(thread.native_id)
        for signum in (signal.SIGINT, signal.SIGTERM):
            assert mask >> (signum - 1) & 1, f"{signum!r} reaches {thread.name}"
