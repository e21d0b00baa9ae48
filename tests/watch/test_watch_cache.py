"""The reflector store: relists diffed exactly, replays dropped, bad input reported and survived."""

from __future__ import annotations

import json

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.watch import EventType, Kind, WatchEvent
from kubeproxy_sim.watch.cache import KIND_SPECS, KindCache, StreamSignal

from ._objects import eps, slice_json, svc, svc_json

SRC = "https://api:6443/api/v1/services"


def with_rv(obj: dict, rv: int) -> dict:
    obj = json.loads(json.dumps(obj))
    obj["metadata"]["resourceVersion"] = str(rv)
    return obj


def line(kind: str, obj: dict) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode()


def events(items: list) -> list[tuple[str, str, str]]:
    return [(e.type.value, e.key, e.resource_version) for e in items if isinstance(e, WatchEvent)]


def problems(items: list) -> list[Diagnostic]:
    return [d for d in items if isinstance(d, Diagnostic)]


def new_cache() -> KindCache:
    return KindCache(KIND_SPECS[Kind.SERVICE], SRC)


def test_list_then_relist_emits_exactly_the_difference() -> None:
    c = new_cache()
    out = c.replace([with_rv(svc_json("a", "10.0.0.1"), 5), with_rv(svc_json("b", "10.0.0.2"), 6)], "6")
    assert events(out) == [("ADDED", "default/a", "5"), ("ADDED", "default/b", "6"), ("BOOKMARK", "", "6")]
    assert c.objects == {"default/a": svc("a", "10.0.0.1"), "default/b": svc("b", "10.0.0.2")}
    # b modified, a unchanged, c added, and a deleted object d never seen: after a 410 the relist says it all
    out = c.replace([with_rv(svc_json("a", "10.0.0.1"), 5), with_rv(svc_json("b", "10.0.0.2", port=81), 9),
                     with_rv(svc_json("c", "10.0.0.3"), 10)], "12")
    assert events(out) == [("MODIFIED", "default/b", "9"), ("ADDED", "default/c", "10"), ("BOOKMARK", "", "12")]
    out = c.replace([with_rv(svc_json("c", "10.0.0.3"), 10)], "13")
    assert events(out) == [("DELETED", "default/a", "13"), ("DELETED", "default/b", "13"), ("BOOKMARK", "", "13")]
    assert c.resource_version == "13"


def test_watch_events_update_the_store_and_the_resume_point() -> None:
    c = new_cache()
    c.replace([], "1")
    out, sig = c.watch_line(line("ADDED", with_rv(svc_json("a", "10.0.0.1"), 2)), 1)
    assert sig is StreamSignal.CONTINUE and events(out) == [("ADDED", "default/a", "2")]
    out, _ = c.watch_line(line("MODIFIED", with_rv(svc_json("a", "10.0.0.1", port=81), 3)), 2)
    assert events(out) == [("MODIFIED", "default/a", "3")] and out[0].obj.ports[0].port == 81
    out, _ = c.watch_line(line("BOOKMARK", {"kind": "Service", "metadata": {"resourceVersion": "7"}}), 3)
    assert events(out) == [("BOOKMARK", "", "7")] and c.resource_version == "7"
    out, _ = c.watch_line(line("DELETED", with_rv(svc_json("a", "10.0.0.1", port=81), 8)), 4)
    assert events(out) == [("DELETED", "default/a", "8")] and out[0].obj.ports[0].port == 81
    assert c.objects == {} and c.resource_version == "8"


def test_modified_for_unknown_object_is_an_add_and_added_for_known_is_a_modify() -> None:
    c = new_cache()
    c.replace([], "1")
    out, _ = c.watch_line(line("MODIFIED", with_rv(svc_json("a", "10.0.0.1"), 2)), 1)
    assert events(out) == [("ADDED", "default/a", "2")]
    out, _ = c.watch_line(line("ADDED", with_rv(svc_json("a", "10.0.0.2"), 3)), 2)
    assert events(out) == [("MODIFIED", "default/a", "3")]
    out, _ = c.watch_line(line("MODIFIED", with_rv(svc_json("a", "10.0.0.2"), 4)), 3)
    assert events(out) == []  # nothing kube-proxy reads changed


def test_garbage_lines_are_reported_and_end_the_watch() -> None:
    """client-go's watch decoder fails on each: its StreamWatcher sends an ERROR event and stops (they were
    skipped, the stream read on, so a proxy's page made a watch that delivered)."""
    c = new_cache()
    c.replace([], "1")
    for n, raw in enumerate([b"{not json", b'"just a string"', b'{"type": "WHATEVER", "object": {}}',
                             b'{"type": "ADDED", "object": []}', b"\xff\xfe"], start=1):
        out, sig = c.watch_line(raw, n)
        assert sig is StreamSignal.UNDECODABLE
        assert events(out) == [] and len(problems(out)) == 1
        d = problems(out)[0]
        assert d.file == SRC and d.kind == "Service" and f"line {n}" in str(d)
        assert d.message.endswith("the watch ends, listing again with backoff")
    out, _ = c.watch_line(line("ADDED", with_rv(svc_json("a", "10.0.0.1"), 2)), 6)
    assert events(out) == [("ADDED", "default/a", "2")]


def test_invalid_object_is_reported_and_the_previous_version_kept() -> None:
    c = new_cache()
    c.replace([with_rv(svc_json("a", "10.0.0.1"), 2)], "2")
    bad = svc_json("a", "10.0.0.1")
    bad["spec"]["ports"][0]["port"] = 70000
    out, _ = c.watch_line(line("MODIFIED", with_rv(bad, 3)), 1)
    assert events(out) == []
    errors = [d for d in problems(out) if d.severity is Severity.ERROR]
    assert errors and errors[0].field == "spec.ports[0].port" and errors[0].object == "default/a"
    # the note in the directory source's words (watch/directory.py, watch/state.py)
    assert [d.message for d in problems(out) if d.severity is Severity.NOTE] == [
        "this object is invalid; keeping its previous version"]
    assert c.objects["default/a"] == svc("a", "10.0.0.1")
    # an invalid new object: reported, nothing emitted; its later deletion is silent
    new_bad = svc_json("z", "not-an-ip")
    out, _ = c.watch_line(line("ADDED", with_rv(new_bad, 4)), 2)
    assert events(out) == [] and problems(out)
    out, _ = c.watch_line(line("DELETED", with_rv(new_bad, 5)), 3)
    assert out == []
    # the relist sees the invalid version again (same RV): no event either
    assert events(c.replace([with_rv(bad, 3)], "6")) == [("BOOKMARK", "", "6")]


def test_delete_of_unknown_object_and_backwards_versions_are_reported() -> None:
    c = new_cache()
    c.replace([with_rv(svc_json("a", "10.0.0.1"), 5)], "5")
    out, _ = c.watch_line(line("DELETED", with_rv(svc_json("ghost", "10.0.0.9"), 6)), 1)
    assert events(out) == []
    assert "never added" in problems(out)[0].message and problems(out)[0].object == "default/ghost"
    # an older version of a: reported twice over (stream went back, older than held), not applied
    out, _ = c.watch_line(line("MODIFIED", with_rv(svc_json("a", "10.0.0.7"), 4)), 2)
    assert events(out) == []
    assert any("went backwards (6 to 4)" in d.message for d in problems(out))
    assert any("older than the version held (5)" in d.message for d in problems(out))
    assert c.objects["default/a"] == svc("a", "10.0.0.1") and c.resource_version == "6"
    # a newer b arriving out of order is still taken: nothing newer is known about it
    out, _ = c.watch_line(line("ADDED", with_rv(svc_json("b", "10.0.0.2"), 3)), 3)
    assert events(out) == [("ADDED", "default/b", "3")] and problems(out)
    assert c.resource_version == "6"


def test_error_events() -> None:
    c = new_cache()
    c.replace([], "1")
    gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"}
    out, sig = c.watch_line(line("ERROR", gone), 1)
    assert sig is StreamSignal.EXPIRED and problems(out)[0].severity is Severity.NOTE
    out, sig = c.watch_line(line("ERROR", {"kind": "Status", "code": 500, "message": "etcd is sad"}), 2)
    assert sig is StreamSignal.FAILED and "etcd is sad" in problems(out)[0].message


def test_slices_decode_with_their_service() -> None:
    c = KindCache(KIND_SPECS[Kind.ENDPOINT_SLICE], "x")
    out = c.replace([with_rv(slice_json("a-1", "a", ["10.1.0.1"]), 3)], "3")
    assert out[0].type is EventType.ADDED and out[0].obj == eps("a-1", "a", ["10.1.0.1"],
                                                                labels=(("kubernetes.io/service-name", "a"),))


def test_a_slice_at_a_new_resource_version_is_an_event_even_if_equal_in_the_model() -> None:
    """kube-proxy's slice cache compares whole slices: an annotation-only update is a MODIFIED (a Service's is
    not: its tracker reads the port map only, and the model keeps no annotation); a relist at the same
    resourceVersion is no event."""
    c = KindCache(KIND_SPECS[Kind.ENDPOINT_SLICE], SRC)
    c.replace([with_rv(slice_json("a-1", "a", ["10.1.0.1"]), 5)], "5")
    annotated = with_rv(slice_json("a-1", "a", ["10.1.0.1"]), 7)
    annotated["metadata"]["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:00Z"}
    out, _ = c.watch_line(line("MODIFIED", annotated), 1)
    assert events(out) == [("MODIFIED", "default/a-1", "7")]
    assert events(c.replace([annotated], "9")) == [("BOOKMARK", "", "9")]
    assert events(c.replace([with_rv(slice_json("a-1", "a", ["10.1.0.1"]), 11)], "11")) == [
        ("MODIFIED", "default/a-1", "11"), ("BOOKMARK", "", "11")]
    s = new_cache()
    s.replace([with_rv(svc_json("a", "10.0.0.1"), 5)], "5")
    annotated = with_rv(svc_json("a", "10.0.0.1"), 6)
    annotated["metadata"]["annotations"] = {"team": "x"}
    out, _ = s.watch_line(line("MODIFIED", annotated), 1)
    assert events(out) == []
