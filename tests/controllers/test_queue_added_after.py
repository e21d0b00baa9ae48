"""queue.added_after, the workqueue's AddAfter: a slice change queues its Service a second later
(SLICE_CHANGE_DELAY), but a re-add already waiting for an earlier instant (a failed sync's 0.5 s ... retry) is kept,
as the delaying queue keeps the earlier of two entries for one key (waitingEntryByData); and the key's failure count
(NumRequeues) is the rate limiter's, which AddAfter leaves alone."""

from __future__ import annotations

from kubeproxy_sim.controllers.queue import SLICE_CHANGE_DELAY, Retry, added_after


def test_a_waiting_earlier_retry_beats_a_slice_changes_later_add() -> None:
    now = 10.0
    retries = (Retry("default/web", requeues=1, due=now + 0.5),)
    assert added_after(retries, {"default/web"}, now + SLICE_CHANGE_DELAY) == (Retry("default/web", 1, now + 0.5),)


def test_a_later_waiting_retry_gives_way_to_the_earlier_add_and_keeps_its_count() -> None:
    retries = (Retry("default/web", requeues=5, due=42.0),)
    assert added_after(retries, ["default/web"], 11.0) == (Retry("default/web", 5, 11.0),)


def test_a_key_with_no_waiting_re_add_is_added_with_its_count_kept() -> None:
    retries = (Retry("default/web", requeues=5), Retry("default/db", requeues=2, due=3.0))
    got = {r.key: r for r in added_after(retries, ["default/web", "default/new"], 11.0)}
    assert got == {"default/web": Retry("default/web", 5, 11.0), "default/db": Retry("default/db", 2, 3.0),
                   "default/new": Retry("default/new", 0, 11.0)}
