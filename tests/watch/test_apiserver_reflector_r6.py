"""The reflector's retries as client-go's (tools/cache/reflector.go, watch/streamwatcher.go, apimachinery's backoff
manager), reviewer r6: a watch whose lines are no watch events and a list refused 410 even without a
resourceVersion are retried after backoff, never at once, and the backoff's steps start again only when the last
backoff began over 2 min before, judged by the requests the fake server receives and the sleeps the reflector asks
for.

The watch skipped a line that is not JSON and read on; a watch answered with nothing else (a proxy's HTML page)
ended after "delivering" it, so the next watch went out at once, forever, the diagnostic said at each. client-go's
StreamWatcher makes a line it cannot decode (not JSON, no or an unknown event type) an ERROR event ("unable to
decode an event from the watch stream") and stops: the round ends, Run backs off, the next round lists. A list
refused 410 after _list's own retry without a resourceVersion was sent again at once, with a note each time.
"""

from __future__ import annotations

import functools
import random

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch import Backoff, Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from . import _fake_apiserver as fake_module
from ._fake_apiserver import FakeApiServer, _watching
from ._kubeconfigs import populate
from ._objects import svc_json
from .conftest import Mirror
from .test_apiserver_live import StepClock
from .test_apiserver_relist import sequence


@pytest.fixture
def make(connect):
    """``connect`` with whole-second backoff and no jitter, so the sleeps are 1, 2, 4, 8."""
    return functools.partial(connect, backoff=Backoff(initial=1, maximum=8, jitter=0))


def _answers_html(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every watch request is answered 200 with an HTML line, as a proxy in the way may answer it."""

    def html(self, spec, query) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(b"<html>proxy says hello</html>\n")
        self._chunk(b"")

    monkeypatch.setattr(fake_module._Handler, "_watch", html)


def test_a_watch_answered_with_lines_that_are_no_events_lists_again_after_growing_backoff(
        fake, make, sleeps, monkeypatch) -> None:
    _answers_html(monkeypatch)
    populate(fake)
    rv = str(fake.rv)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=0.1)))
    seen.until(lambda: len(sequence(fake)) >= 8)
    assert sequence(fake)[:8] == ["list", f"watch@{rv}"] * 4  # (it sent watch after watch at once)
    assert sleeps[:3] == [1, 2, 4]
    said = [d.message for d in seen.diagnostics if "is not JSON" in d.message]
    assert len(said) == 1, said  # once, not at each round
    assert said[0].endswith("the watch ends, listing again with backoff")


@pytest.mark.parametrize("line", [b"\x00garbage{{", b'{"object": {}}', b'{"type": "ADDDED", "object": {}}'])
def test_a_line_that_is_no_event_ends_the_watch_and_the_next_round_lists_after_backoff(
        line: bytes, fake, make, sleeps) -> None:
    """Not JSON, no event type, an unknown one: client-go's decoder fails on each ("got invalid watch event
    type"), and the stream stops there: the event after it comes from the next list, not from this watch."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    fake.inject("Service", "line", line)
    fake.add("Service", svc_json("x1", "10.0.0.61"))
    seen.until(lambda: "default/x1" in seen.keys(Kind.SERVICE) and len(sequence(fake)) >= 4)
    assert sequence(fake)[2:4] == ["list", f"watch@{fake.rv}"]
    assert sleeps == [1]
    assert len([d for d in seen.diagnostics if "the watch ends, listing again with backoff" in d.message]) == 1


def test_a_line_that_is_no_event_is_said_again_after_a_line_that_is(fake, make, sleeps, monkeypatch) -> None:
    """The second watch delivers a BOOKMARK between two watches answered with HTML: said twice, and no more however
    often the HTML comes after."""
    original = fake_module._Handler._watch
    _answers_html(monkeypatch)
    html = fake_module._Handler._watch

    def second_is_real(self, spec, query) -> None:
        (original if len(fake.watches("Service")) == 2 else html)(self, spec, query)

    monkeypatch.setattr(fake_module._Handler, "_watch", second_is_real)
    populate(fake)
    fake.inject("Service", "bookmark")
    fake.inject("Service", "drop", b"")
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=0.1)))
    seen.until(lambda: len(sequence(fake)) >= 10)
    rv = str(fake.rv)
    assert sequence(fake)[:10] == ["list", f"watch@{rv}", "list", f"watch@{rv}", f"watch@{rv}", "list",
                                   f"watch@{rv}", "list", f"watch@{rv}", "list"]
    assert len([d for d in seen.diagnostics if "is not JSON" in d.message]) == 2


def test_a_list_refused_410_without_a_resource_version_too_is_retried_after_growing_backoff(
        fake, make, sleeps) -> None:
    """_list asks once more without a resourceVersion (client-go's reflector.list); a 410 to that ends the round
    and Run backs off before the next: the list was sent again at once, forever, with a note each time."""
    populate(fake)
    fake.fail["Service"] = (410, "Gone", "the path is gone")
    seen = Mirror(make(kinds=[Kind.SERVICE]))
    seen.until(lambda: len(sleeps) >= 4)
    assert sleeps[:4] == [1, 2, 4, 8]
    lists = [q.get("resourceVersion", "") for path, q in fake.requests if path == "/api/v1/services"]
    # (read before the sleeps: each round's two lists, at its resourceVersion and without, follow a sleep)
    assert lists[:4] == ["0", "", "", ""] and len(lists) <= 2 * (len(sleeps) + 1)
    said = [d.message for d in seen.diagnostics if "410" in d.message]
    assert len(said) == 2, said  # the note on listing again without a resourceVersion, and the failure, once each
    assert said[0].endswith("(expired); listing again at the newest resourceVersion")
    assert said[1].startswith("list failed: HTTP 410") and said[1].endswith(
        "retrying from a new list with backoff, until it works")


def test_a_bounded_run_gives_up_on_a_list_refused_410_again_and_again(fake, make, sleeps) -> None:
    populate(fake)
    fake.fail["Service"] = (410, "Gone", "the path is gone")
    src = make(kinds=[Kind.SERVICE], give_up=3)
    with pytest.raises(InputError) as caught:
        Mirror(src).until(lambda: False)
    assert sleeps == [1, 2]
    assert str(caught.value).endswith("list failed: HTTP 410 Gone: the path is gone; gave up after 3 attempts")


class Flapping(FakeApiServer):
    """Every second watch request is hung up on (a reset before the status line); the others end after 50 ms."""

    @property
    def hang_up_watches(self) -> int:  # type: ignore[override]
        watches = sum(1 for _, q in getattr(self, "requests", []) if _watching(q))
        return 1 if watches % 2 == 0 else 0

    @hang_up_watches.setter
    def hang_up_watches(self, value: int) -> None:
        pass


def test_a_flapping_server_is_backed_off_further_each_time(tmp_path, sleeps) -> None:
    """The watches between the hang-ups end cleanly, having lasted (watched again at once); a hang-up is a failed
    watch request (a list after backoff). The watch that lasted reset the count, so it was 1, 1, 1 ...; client-go's
    backoff manager resets by time alone, so the steps grow."""
    fake = Flapping().start()
    try:
        fake.watch_seconds = 0.05
        populate(fake)
        src = ApiServerSource(fake.write_kubeconfig(str(tmp_path / "kc")), kinds=[Kind.SERVICE],
                              sleep=sleeps.append, rng=random.Random(7), watch_timeout=5,
                              backoff=Backoff(initial=1, maximum=8, jitter=0),
                              clock=StepClock(fake, [], rest=2.0)).start()
        try:
            Mirror(src).until(lambda: len(sleeps) >= 5)
        finally:
            src.close(timeout=2)
        assert sleeps[:5] == [1, 2, 4, 8, 8]
    finally:
        fake.stop()


def test_the_steps_start_again_when_the_last_backoff_began_over_two_minutes_before(fake, make, sleeps) -> None:
    populate(fake)
    fake.fail["Service"] = (500, "InternalError", "etcd down")
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=600.0)))
    seen.until(lambda: len(sleeps) >= 5)
    assert sleeps[:5] == [1, 2, 4, 8, 8]  # (no watch: the clock stands still)
    del fake.fail["Service"]
    seen.until(lambda: Kind.SERVICE in seen.synced and len(fake.watches("Service")) >= 1)
    fake.add("Service", svc_json("x1", "10.0.0.61"))
    fake.inject("Service", "line", b'{"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "boom"}}')
    n = len(sleeps)
    seen.until(lambda: len(sleeps) > n)
    assert sleeps[n] == 1  # the watch "lasted" 600 s after the last backoff: a first step (it was 8)


def test_an_error_event_429_watches_again_from_the_resource_version_after_backoff(fake, make, sleeps) -> None:
    """client-go's watch backs off on an ERROR event the server sent as too many requests (IsTooManyRequests) and
    watches again, without the list any other ERROR event is followed by."""
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    fake.inject("Service", "line", b'{"type": "ERROR", "object": {"kind": "Status", "code": 429, '
                                   b'"reason": "TooManyRequests", "message": "too many requests"}}')
    seen.until(lambda: len(sequence(fake)) >= 3)
    assert sequence(fake)[:3] == ["list", f"watch@{fake.rv}", f"watch@{fake.rv}"]
    assert sleeps == [1]
    assert seen.said()[0].endswith(f"the server sent an error (code 429: too many requests); watching again from "
                                   f"resourceVersion {fake.rv} with backoff")


def test_another_error_event_says_it_lists_again(fake, make, sleeps) -> None:
    populate(fake)
    seen = Mirror(make(kinds=[Kind.SERVICE], clock=StepClock(fake, [], rest=2.0)))
    seen.until(lambda: Kind.SERVICE in seen.synced and len(sequence(fake)) >= 2)
    fake.inject("Service", "line", b'{"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "boom"}}')
    seen.until(lambda: len(sequence(fake)) >= 3)
    assert sequence(fake)[2] == "list" and sleeps == [1]
    assert seen.said()[0].endswith("the server sent an error (code 500: boom); listing again with backoff")


def test_a_server_failing_without_a_pause_goes_on_stepping_until_two_minutes_pass_without_a_backoff(
        fake, make, sleeps) -> None:
    """Reviewer r3: the reflector's wait.NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0) is
    exponentialBackoffManagerImpl in kubernetes/kubernetes' apimachinery (staging wait/backoff.go, stored 898b9f8,
    after the DelayWithReset rewrite, PR 107826: the constructor was kept): getNextBackoff starts the steps again
    when more than 2 min passed since the last backoff began and sets lastBackoffStart at every backoff. A list
    failing every 50 s is thus never reset. (The backoffManager whose lastStart moves only at a reset, read by
    3f86ff45, is what DelayWithReset builds; a NewExponentialBackoffManager returning it, as in one stored copy, would
    deadlock the reflector: its Backoff takes the lock Step takes again.)"""
    populate(fake)
    fake.fail["Service"] = (500, "InternalError", "etcd down")

    def clock() -> float:  # (each backoff begins 50 s after the one before)
        return 1000.0 + 50.0 * len(sleeps)

    seen = Mirror(make(kinds=[Kind.SERVICE], clock=clock))
    seen.until(lambda: len(sleeps) >= 7)
    assert sleeps[:7] == [1, 2, 4, 8, 8, 8, 8]
