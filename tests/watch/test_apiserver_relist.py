"""When the watch lists again and when it watches again from its resourceVersion, as client-go's reflector
(tools/cache/reflector.go: ListAndWatch, watch, isWatchErrorRetriable, handleWatch's "very short watch"), judged by
the requests the fake server receives.

A watch request refused for a connection refused or a 429 is sent again from the same resourceVersion after backoff;
any other failure of the request (a reset, a TLS error, a timeout, "getting credentials") ends the round: the next
one lists, after backoff. A stream that breaks (reset, cut mid-chunk or mid-line, a read timeout) is the watch
closing, to client-go's StreamWatcher: one that delivered or lasted a second is followed at once by the next watch
from the resourceVersion; one that did neither is a "very short watch", and the next round lists, after backoff.
The watch used to send the same watch again after every failure of the request and after a very short watch,
and to list at once after a watch's 410 (client-go backs off first: its Run's BackoffUntil).
"""

from __future__ import annotations

import functools
import random
import ssl

import pytest

from kubeproxy_sim.watch import Backoff, Kind
from kubeproxy_sim.watch.apiserver import CredentialsUnavailable, HttpStatusError, relist_after, stream_ended

from ._fake_apiserver import KIND_PATH, FakeApiServer, _watching
from ._kubeconfigs import populate
from ._objects import svc_json
from .conftest import Mirror
from .test_apiserver_live import StepClock


@pytest.fixture
def make(connect):
    """``connect`` with whole-second backoff and no jitter, so the sleeps are 1, 2, 4, 8."""
    return functools.partial(connect, backoff=Backoff(initial=1, maximum=8, jitter=0))


def sequence(fake: FakeApiServer, kind: str = "Service") -> list[str]:
    """The requests the fake received for ``kind``, in order: "list" or "watch@RV"."""
    return [f"watch@{q.get('resourceVersion', '')}" if _watching(q) else "list"
            for path, q in fake.requests if path == KIND_PATH[kind]]


def test_a_watch_request_the_server_hangs_up_on_is_followed_by_a_list(fake, make, sleeps) -> None:
    populate(fake)
    fake.hang_up_watches = 1
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: len(sequence(fake)) >= 4)
    rv = str(fake.rv)
    assert sequence(fake)[:4] == ["list", f"watch@{rv}", "list", f"watch@{rv}"]
    assert sleeps == [1]
    (said,) = seen.said()
    assert "watch failed:" in said and said.endswith("retrying from a new list with backoff, until it works")


def test_a_watch_request_answered_429_is_sent_again_from_its_resource_version(fake, make, sleeps) -> None:
    populate(fake)
    fake.fail_watch["Service"] = (429, "TooManyRequests", "too many requests, please try again later")
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: len(sequence(fake)) >= 3)
    del fake.fail_watch["Service"]
    seen.until(lambda: len(sleeps) >= 2 and len(sequence(fake)) >= len(sleeps) + 2)
    rv = str(fake.rv)
    assert set(sequence(fake)[1:]) == {f"watch@{rv}"}  # never listed again
    assert sleeps[:2] == [1, 2]


def test_a_very_short_watch_is_followed_by_a_list_after_backoff(fake, make, sleeps) -> None:
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], watch_timeout=0, clock=StepClock(fake, [0.5], rest=2.0)))
    seen.until(lambda: len(sequence(fake)) >= 4)
    rv = str(fake.rv)
    assert sequence(fake)[:4] == ["list", f"watch@{rv}", "list", f"watch@{rv}"]
    assert sleeps == [1]
    (said,) = seen.said()
    assert said.endswith("very short watch: it ended within a second with nothing received; listing again with "
                         "backoff")


def test_a_stream_cut_after_delivering_is_followed_at_once_by_the_next_watch(fake, make, sleeps) -> None:
    """client-go's StreamWatcher reads a connection closed mid-chunk as the watch's end (unexpected EOF): the
    watch delivered, so the next one is sent at once, from the last resourceVersion it delivered."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=0.1)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    added = fake.add("Service", svc_json("x1", "10.0.0.61"))
    fake.inject("Service", "drop", b'{"type": "ADDED", "object": {"metad')
    seen.until(lambda: len(sequence(fake)) >= 3 and "default/x1" in seen.keys(Kind.SERVICE))
    assert sequence(fake)[2] == f"watch@{added}"
    assert (sleeps, seen.said()) == ([], [])


def test_a_quiet_stream_cut_after_a_second_is_followed_at_once_by_the_next_watch(fake, make, sleeps) -> None:
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    fake.inject("Service", "drop", b"")
    seen.until(lambda: len(sequence(fake)) >= 3)
    assert sequence(fake)[2] == f"watch@{fake.rv}"
    assert (sleeps, seen.said()) == ([], [])


def test_a_quiet_stream_cut_at_once_is_a_very_short_watch(fake, make, sleeps) -> None:
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [0.5], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    fake.inject("Service", "drop", b"")
    seen.until(lambda: len(sequence(fake)) >= 4)
    assert sequence(fake)[2:4] == ["list", f"watch@{fake.rv}"]
    assert sleeps == [1] and len(seen.said()) == 1 and "very short watch" in seen.said()[0]


@pytest.mark.parametrize("how", ["ERROR event", "HTTP 410"])
def test_a_watch_told_its_resource_version_is_gone_lists_again_after_backoff(how: str, fake, make, sleeps) -> None:
    """client-go's watch returns on an expired resourceVersion (an ERROR event, or the watch request's 410) and its
    Run backs off before the next ListAndWatch, whose list is the next request; the watch listed at once."""
    populate(fake)
    if how == "HTTP 410":
        fake.fail_watch["Service"] = (410, "Expired", "too old resource version: 105 (106)")
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    if how == "ERROR event":
        fake.inject("Service", "error410")
    seen.until(lambda: len(sequence(fake)) >= 3)
    assert sequence(fake)[:3] == ["list", f"watch@{fake.rv}", "list"]
    assert sleeps[:1] == [1]


def _lists(fake: FakeApiServer) -> list[tuple[str | None, str | None]]:
    """The Service lists' first pages: (resourceVersion, limit) asked."""
    return [(q.get("resourceVersion"), q.get("limit")) for q in fake.lists("Service") if "continue" not in q]


def test_a_list_after_the_first_asks_for_the_last_resource_version_whole(fake, make, sleeps) -> None:
    """client-go's relistResourceVersion: "0" first (the watch cache answers), then the last resourceVersion seen,
    with no limit (the pager's size is dropped for it); the watch listed without a resourceVersion, paged."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], watch_timeout=0, clock=StepClock(fake, [0.5], rest=2.0)))
    seen.until(lambda: len(sequence(fake)) >= 4)
    assert _lists(fake)[:2] == [("0", "500"), (str(fake.rv), None)]


def test_a_first_list_that_came_in_pages_keeps_later_ones_paged(fake, make, sleeps) -> None:
    populate(fake)
    fake.add("Service", svc_json("s2", "10.0.0.2"))
    seen = Mirror(make(kinds=[Kind.SERVICE], page_size=1, watch_timeout=0, clock=StepClock(fake, [0.5], rest=2.0)))
    seen.until(lambda: len(sequence(fake)) >= 6)
    assert _lists(fake)[:2] == [("0", "1"), (str(fake.rv), "1")]
    assert next(q for q in fake.lists("Service") if "continue" in q).get("resourceVersion") is None


def test_a_list_at_a_compacted_resource_version_is_asked_again_at_the_newest(fake, make, sleeps) -> None:
    populate(fake)
    listed = str(fake.rv)

    def sleep(seconds: float) -> None:  # (after the very short watch, before the list: history moves on)
        sleeps.append(seconds)
        fake.add("Service", svc_json("s2", "10.0.0.2"))
        fake.compact()

    seen = Mirror(make(kinds=[Kind.SERVICE], sleep=sleep, watch_timeout=0,
                       clock=StepClock(fake, [0.5], rest=2.0)))
    seen.until(lambda: "default/s2" in seen.keys(Kind.SERVICE) and len(sequence(fake)) >= 5)
    assert _lists(fake)[:3] == [("0", "500"), (listed, None), (None, None)]
    assert sequence(fake)[4] == f"watch@{fake.rv}" and sleeps == [1]


def test_a_list_at_a_resource_version_the_server_has_not_reached_is_asked_again_at_the_newest(fake, make,
                                                                                            sleeps) -> None:
    """A server restored from a backup: its history is older than the resourceVersion the reflector last saw; the
    watch cache refuses the list at it (504, cause ResourceVersionTooLarge) and client-go lists again at once
    without one (isTooLargeResourceVersionError); the watch would have retried that list for ever."""
    populate(fake)
    listed = str(fake.rv)

    def sleep(seconds: float) -> None:  # (after the very short watch, before the list: the server went back)
        sleeps.append(seconds)
        fake.rv -= 2

    seen = Mirror(make(kinds=[Kind.SERVICE], sleep=sleep, watch_timeout=0,
                       clock=StepClock(fake, [0.5], rest=2.0)))
    seen.until(lambda: len(sequence(fake)) >= 5)
    assert _lists(fake)[:3] == [("0", "500"), (listed, None), (None, None)]
    assert sequence(fake)[4] == f"watch@{fake.rv}" and sleeps == [1]


def test_each_watch_asks_for_a_timeout_drawn_as_the_reflector_draws_it(fake, tmp_path, sleeps) -> None:
    """client-go: timeoutSeconds = int(minWatchTimeout (5 min) * (rand + 1)), drawn for each watch, so a node's
    watches do not all end together; the watch asked for 300 s each time."""
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    populate(fake)
    fake.watch_seconds = 0.05
    src = ApiServerSource(fake.write_kubeconfig(str(tmp_path / "kc")), kinds=[Kind.SERVICE], sleep=sleeps.append,
                          clock=StepClock(fake, [], rest=2.0), rng=random.Random(3)).start()
    try:
        Mirror(src).until(lambda: len(fake.watches("Service")) >= 4)
    finally:
        src.close(timeout=2)
    asked = [int(q["timeoutSeconds"]) for q in fake.watches("Service")]
    assert all(300 <= seconds < 600 for seconds in asked) and len(set(asked)) > 1


def _refused() -> Exception:
    """What urllib3 raises for a connection refused (NewConnectionError inside MaxRetryError)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    words = "Failed to establish a new connection: [Errno 111] Connection refused"
    inner = NewConnectionError(None, words)  # type: ignore[arg-type]
    inner.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return MaxRetryError(None, "/api/v1/services", inner)  # type: ignore[arg-type]


@pytest.mark.parametrize(("exc", "relist"), [
    (_refused(), False),
    (HttpStatusError(429, "Too Many Requests"), False),
    (HttpStatusError(500, "Internal Server Error"), True),
    (HttpStatusError(403, "Forbidden"), True),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), True),
    (TimeoutError("timed out"), True),
    (CredentialsUnavailable("getting credentials: exec: executable x failed with exit code 1"), True),
], ids=["refused", "429", "500", "403", "reset", "tls", "timeout", "credentials"])
def test_which_watch_request_failures_list_again(exc: Exception, relist: bool) -> None:
    assert relist_after(exc) is relist


@pytest.mark.parametrize(("exc", "ended"), [
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (TimeoutError("timed out"), True),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), True),
    (ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC]"), False),
    (ValueError("garbage"), False),
], ids=["reset", "timeout", "tls-eof", "tls-record", "other"])
def test_which_stream_errors_are_the_stream_s_end(exc: Exception, ended: bool) -> None:
    assert stream_ended(exc) is ended
