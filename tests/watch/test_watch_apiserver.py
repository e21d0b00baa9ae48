"""ApiServerSource against a local server speaking the list/watch protocol, faults included."""

from __future__ import annotations

import itertools
import random
import threading

import pytest

from kubeproxy_sim.errors import InputError, Severity
from kubeproxy_sim.watch import ApiServerSource, Backoff, EventType, Kind
from kubeproxy_sim.watch.apiserver import DEFAULT_KINDS

from ._fake_apiserver import FakeApiServer
from ._objects import node_json, pod_json, slice_json, svc_json
from .conftest import Mirror


def server_keys(fake: FakeApiServer, kind: Kind) -> set[str]:
    return set(fake.objects[kind.value])


def populate(fake: FakeApiServer) -> None:
    for i in range(5):
        fake.add("Service", svc_json(f"s{i}", f"10.0.0.{i + 1}"))
        fake.add("EndpointSlice", slice_json(f"s{i}-1", f"s{i}", [f"10.1.0.{i + 1}"]))
    fake.add("Node", node_json("n1", "192.168.0.1"))
    fake.add("Pod", pod_json("p1", "10.1.0.1"))


def test_paged_list_then_watch_across_kinds(fake, connect) -> None:
    populate(fake)
    src = connect(page_size=2)
    m = Mirror(src)
    m.until(lambda: m.synced == set(DEFAULT_KINDS))
    for kind in DEFAULT_KINDS:
        assert m.keys(kind) == server_keys(fake, kind)
    lists = fake.lists("Service")
    assert [q.get("limit") for q in lists] == ["2", "2", "2"] and "continue" in lists[1]
    # changes on every kind, interleaved
    fake.modify("Service", svc_json("s0", "10.0.0.1", port=8080))
    fake.delete("EndpointSlice", slice_json("s1-1", "s1", []))
    fake.add("Pod", pod_json("p2", "10.1.0.9"))
    fake.inject("Node", "bookmark")
    fake.delete("Service", svc_json("s4", "10.0.0.5"))
    fake.add("Node", node_json("n2", "192.168.0.2"))
    m.until(lambda: all(m.keys(k) == server_keys(fake, k) for k in DEFAULT_KINDS))
    assert not m.objects[Kind.POD]  # kube-proxy has no Pod informer: never asked for
    assert m.objects[Kind.SERVICE]["default/s0"].ports[0].port == 8080
    # watches resumed from the listed resourceVersion with bookmarks on
    watch = fake.watches("Service")[0]
    assert watch["allowWatchBookmarks"] == "true" and watch["resourceVersion"] == "112"  # the list's RV
    assert not [d for d in m.diagnostics if d.severity is Severity.ERROR]


def test_bookmarks_move_the_resume_point(fake, connect) -> None:
    populate(fake)
    src = connect()
    m = Mirror(src)
    m.until(lambda: m.synced == set(DEFAULT_KINDS))
    fake.add("Pod", pod_json("p9", "10.1.0.9"))  # moves the global RV past what Services saw
    fake.inject("Service", "bookmark")
    m.until(lambda: any(e.type is EventType.BOOKMARK and e.kind is Kind.SERVICE
                        and e.resource_version == str(fake.rv) for e in m.events))
    fake.inject("Service", "drop")
    fake.add("Service", svc_json("late", "10.0.0.99"))
    m.until(lambda: "default/late" in m.keys(Kind.SERVICE))
    assert fake.watches("Service")[-1]["resourceVersion"] == str(fake.rv - 1)


def test_bad_objects_are_reported_and_the_rest_flows(fake, connect) -> None:
    """(A line that is no event ends the watch: test_apiserver_reflector_r6.)"""
    populate(fake)
    src = connect()
    m = Mirror(src)
    m.until(lambda: m.synced == set(DEFAULT_KINDS))
    bad = svc_json("bad", "10.0.0.50")
    bad["spec"]["ports"][0]["protocol"] = "ICMP"
    fake.add("Service", bad)
    fake.inject("Service", "line", b'{"type": "DELETED", "object": {"metadata": {"name": "ghost", '
                                   b'"namespace": "default", "resourceVersion": "999999"}}}')
    fake.add("Service", svc_json("good", "10.0.0.51"))
    m.until(lambda: "default/good" in m.keys(Kind.SERVICE))
    text = [str(d) for d in m.diagnostics]
    assert any("default/bad" in t and "spec.ports[0].protocol" in t for t in text)
    assert any("default/ghost" in t and "never added" in t for t in text)
    assert "default/bad" not in m.keys(Kind.SERVICE)


def test_dropped_connection_resumes_without_loss_or_duplicates(fake, connect, sleeps) -> None:
    populate(fake)
    src = connect()
    m = Mirror(src)
    m.until(lambda: m.synced == set(DEFAULT_KINDS))
    fake.add("Service", svc_json("x1", "10.0.0.61"))
    fake.inject("Service", "drop", b'{"type": "ADDED", "object": {"metad')  # cut mid-line
    fake.add("Service", svc_json("x2", "10.0.0.62"))
    fake.inject("Service", "drop", b"")
    fake.modify("Service", svc_json("x2", "10.0.0.62", port=81))
    m.until(lambda: m.keys(Kind.SERVICE) == server_keys(fake, Kind.SERVICE)
                    and m.objects[Kind.SERVICE]["default/x2"].ports[0].port == 81)
    assert len(fake.lists("Service")) == 1  # resumed by watching again, never relisted
    assert len(fake.watches("Service")) >= 3
    # client-go reads a stream cut short as the watch's end: each delivered first, so the next is sent at once
    assert sleeps == [] and not [d for d in m.diagnostics if "watch failed" in d.message]


@pytest.mark.parametrize("gone_as_http", [False, True])
def test_410_gone_relists_and_emits_exactly_what_changed(tmp_path, sleeps, gone_as_http) -> None:
    fake = FakeApiServer(gone_as_http=gone_as_http).start()
    try:
        populate(fake)
        kubeconfig = fake.write_kubeconfig(str(tmp_path / "kc"))
        compacted, reads = threading.Event(), itertools.count()

        def clock() -> float:
            """Each watch lasts 10 s (a cut one is followed by a watch, not a list: client-go's rule); the reading
            after the first watch ends waits for the compaction, so the next watch asks for a resourceVersion gone."""
            read = next(reads)
            if read:
                compacted.wait(5)
            return 10.0 * read

        src = ApiServerSource(kubeconfig, sleep=sleeps.append, rng=random.Random(1), watch_timeout=5,
                              kinds=[Kind.SERVICE], clock=clock).start()
        m = Mirror(src)
        m.until(lambda: Kind.SERVICE in m.synced)
        before = len(m.events)
        # the client is cut off, history is compacted meanwhile; its resume point is gone
        fake.inject("Service", "drop")
        fake.modify("Service", svc_json("s0", "10.0.0.1", port=9090))
        fake.delete("Service", svc_json("s1", "10.0.0.2"))
        fake.add("Service", svc_json("new", "10.0.0.77"))
        fake.compact()
        compacted.set()
        m.until(lambda: m.keys(Kind.SERVICE) == server_keys(fake, Kind.SERVICE)
                        and m.objects[Kind.SERVICE]["default/s0"].ports[0].port == 9090)
        src.close(timeout=2)
        changes = [(e.type.value, e.key) for e in m.events[before:] if e.type is not EventType.BOOKMARK]
        assert sorted(changes) == sorted([("MODIFIED", "default/s0"), ("DELETED", "default/s1"),
                                          ("ADDED", "default/new")])
        assert any("too old" in str(d) or "410" in str(d) for d in m.diagnostics)
    finally:
        fake.stop()


def test_error_410_event_mid_stream_relists(fake, connect) -> None:
    populate(fake)
    src = connect(kinds=[Kind.NODE])
    m = Mirror(src)
    m.until(lambda: Kind.NODE in m.synced)
    fake.inject("Node", "error410")
    fake.add("Node", node_json("n7", "192.168.0.7"))
    m.until(lambda: "n7" in m.keys(Kind.NODE))
    assert len(fake.lists("Node")) == 2
    assert [e.key for e in m.events if e.type is EventType.ADDED].count("n7") == 1


def test_expired_continue_token_restarts_the_list(fake, connect) -> None:
    populate(fake)
    real_list = fake.snapshot

    def compact_during_paging(kind, at_rv):  # the first page is served, then history is compacted
        items = real_list(kind, at_rv)
        if kind == "Service" and not fake.compacted:
            fake.compacted = fake.rv + 1
            fake.rv += 1
        return items

    fake.snapshot = compact_during_paging
    src = connect(page_size=2, kinds=[Kind.SERVICE])
    m = Mirror(src)
    m.until(lambda: Kind.SERVICE in m.synced)
    assert m.keys(Kind.SERVICE) == server_keys(fake, Kind.SERVICE)
    first_pages = [q for q in fake.lists("Service") if "continue" not in q]
    assert len(first_pages) == 2
    # client-go's pager falls back to a whole list at the resourceVersion first asked for (it dropped it)
    assert first_pages[1].get("resourceVersion") == "0" and "limit" not in first_pages[1]
    assert any("expired" in d.message for d in m.diagnostics)


def test_backoff_grows_and_is_capped() -> None:
    b, rng = Backoff(initial=1, maximum=10, factor=2, jitter=0), random.Random(0)
    assert [b.delay(n, rng) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    j = Backoff(initial=1, maximum=100, jitter=0.5)
    assert all(4 <= j.delay(3, rng) <= 6 for _ in range(50))


def test_the_default_backoff_is_the_reflector_s() -> None:
    """client-go's reflector: 800 ms doubling to 30 s, jitter 1.0 added after the cap ([30, 60) s at the cap); the
    watch's was capped at 30 s after a jitter of 0.5."""
    b, rng = Backoff(), random.Random(5)
    first = [b.delay(1, rng) for _ in range(200)]
    capped = [b.delay(12, rng) for _ in range(200)]
    assert min(first) >= 0.8 and 1.5 < max(first) < 1.6
    assert min(capped) >= 30 and 55 < max(capped) < 60


def test_backoff_after_thousands_of_failures_is_the_cap() -> None:
    """2.0 ** 1024 is past a float: the delay raised OverflowError, which ended the reflector's thread after some
    1,030 failures in a row (about nine hours of a server down, at [30, 60) s each)."""
    b, rng = Backoff(), random.Random(5)
    assert all(30 <= b.delay(n, rng) < 60 for n in (1_030, 5_000, 10**9))


def test_server_unreachable_is_retried_with_backoff(dead_server, sleeps) -> None:
    kubeconfig, url = dead_server
    src = ApiServerSource(kubeconfig, sleep=sleeps.append, rng=random.Random(3), kinds=[Kind.POD],
                          backoff=Backoff(initial=1, maximum=4, jitter=0)).start()
    m = Mirror(src)
    m.until(lambda: len(sleeps) >= 4)
    src.close(timeout=2)
    m.fold(src.poll())  # what was said before the last sleep
    assert sleeps[:4] == [1, 2, 4, 4]
    # said once, in one line, not once per attempt
    port = url.rsplit(":", 1)[1]
    assert [str(d) for d in m.diagnostics] == [
        f"{url}: warning: list failed: connection refused by 127.0.0.1:{port} (is the API server running "
        "there?); retrying from a new list with backoff, until it works"]


def test_bad_kubeconfig_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError) as err:
        ApiServerSource(str(tmp_path / "missing"))
    assert "missing" in str(err.value) and "kubeconfig" in str(err.value)
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with pytest.raises(InputError) as err:
        ApiServerSource(str(broken))
    assert str(broken) in str(err.value) and "Traceback" not in str(err.value)
    garbage = tmp_path / "garbage"
    garbage.write_text("just some words\n")
    with pytest.raises(InputError) as err:
        ApiServerSource(str(garbage))
    assert str(err.value) == (f"{garbage}: not a kubeconfig: expected a mapping with clusters, contexts and users "
                              "lists (what `kubectl config view --raw` prints)")
    binary = tmp_path / "garbage.bin"
    binary.write_bytes(b"\xff\x00garbage")  # (the client said "'utf-8' codec can't decode byte 0xff ...")
    with pytest.raises(InputError) as err:
        ApiServerSource(str(binary))
    assert str(err.value) == (f"{binary}: --kubeconfig: cannot read it: not UTF-8 text (invalid start byte at byte "
                              "0); expected a kubeconfig (what `kubectl config view --raw` prints)")
    with pytest.raises(InputError) as err:
        ApiServerSource(str(tmp_path))
    assert str(err.value) == (f"{tmp_path}: --kubeconfig: cannot read it: Is a directory; expected a kubeconfig "
                              "(what `kubectl config view --raw` prints)")
