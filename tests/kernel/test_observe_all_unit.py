"""The differential's pool of flows stopped by an error or an interrupt, and a flow's error naming the flow; no kernel.

``build.stop_children_in`` is replaced by a stand-in that releases the jobs still running, as killing their probes
makes them return. Each run of :func:`observe_all` is made in a thread joined with a bound: a stop that never ends
(as one did with more jobs than PARALLEL_FLOWS) fails the test instead of hanging the run.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import _base as futures_base
from typing import Any

import pytest

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError
from kubeproxy_sim.kernel import build, differential, send
from kubeproxy_sim.kernel.differential import PARALLEL_FLOWS, Flow, Key, observe, observe_all

HANG_GUARD = 60.0  # seconds: a bound on a stop that otherwise never ends, not a speed figure
JOBS = 2 * PARALLEL_FLOWS  # some of them still queued when the run stops


class FlowFailed(Exception):
    """A job's own error."""


class Jobs:
    """Jobs that block until released (what a probe waiting out its connections does), one of them failing."""

    def __init__(self, count: int, failing: int) -> None:
        self.release = threading.Event()
        self.namespace = f"kpsim-x{id(self)}.n1"  # a stand-in acts for its own run only (a hung one's goes on)
        self.failing = failing
        self.started: set[int] = set()
        self.ended: set[int] = set()
        self.lock = threading.Lock()
        self.jobs = [self._job(i) for i in range(count)]

    def _job(self, index: int) -> Callable[[], Counter[Key]]:
        def run() -> Counter[Key]:
            with self.lock:
                self.started.add(index)
            try:
                if index == self.failing:
                    raise FlowFailed(f"flow {index} failed")
                self.release.wait()
                return Counter()
            finally:
                with self.lock:
                    self.ended.add(index)
        return run


def run_guarded(jobs: Jobs) -> BaseException | list[Counter[Key]]:
    """observe_all's result or what it raised, failing the test if it has not returned within HANG_GUARD."""
    outcome: list[BaseException | list[Counter[Key]]] = []

    def body() -> None:
        try:
            outcome.append(observe_all({"namespaces": [jobs.namespace]}, jobs.jobs))
        except BaseException as exc:  # (what it raised is the result under test)
            outcome.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    hung = thread.is_alive()
    jobs.release.set()  # (a hung run's pool threads would hold the interpreter's exit)
    thread.join(HANG_GUARD)
    assert not hung, f"observe_all still stopping {HANG_GUARD:g} s after the error (started {sorted(jobs.started)})"
    return outcome[0]


def releasing(jobs: Jobs, calls: list[object]) -> Callable[[Iterable[str]], int]:
    def stop(namespaces: Iterable[str]) -> int:
        calls.append(list(namespaces))
        if calls[-1] == [jobs.namespace]:
            jobs.release.set()
        return 0
    return stop


def test_a_jobs_error_stops_a_run_of_more_jobs_than_the_pool_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Job 0 fails while the next ones run and the rest wait their turn: its error comes out, once every started
    job has returned; the ones still queued never start. (Waiting for the cancelled ones too never ended.)"""
    jobs, calls = Jobs(JOBS, failing=0), list[object]()
    monkeypatch.setattr(build, "stop_children_in", releasing(jobs, calls))
    raised = run_guarded(jobs)
    assert isinstance(raised, FlowFailed) and str(raised) == "flow 0 failed"
    assert calls and calls[0] == [jobs.namespace]  # the running jobs' probes were stopped in the run's namespaces
    assert jobs.ended == jobs.started
    assert len(jobs.started) < JOBS


def test_a_later_jobs_error_does_not_wait_for_the_jobs_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Job 2 fails while job 0 still waits: the run stops then (job 0's probe killed), not once job 0 is done."""
    jobs, calls = Jobs(JOBS, failing=2), list[object]()
    monkeypatch.setattr(build, "stop_children_in", releasing(jobs, calls))
    raised = run_guarded(jobs)
    assert isinstance(raised, FlowFailed) and str(raised) == "flow 2 failed"
    assert calls and jobs.ended == jobs.started


def test_a_second_interrupt_while_stopping_does_not_replace_the_jobs_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C (or the SIGTERM the CLI unwinds as SystemExit) while the running jobs are stopped: the stop goes
    on until they have returned, and the error that stopped the run is the one raised."""
    jobs, calls = Jobs(JOBS, failing=0), list[object]()
    interrupts: list[BaseException] = [KeyboardInterrupt(), SystemExit(143)]

    def stop(namespaces: Iterable[str]) -> int:
        calls.append(list(namespaces))
        if calls[-1] != [jobs.namespace]:
            return 0
        if interrupts:
            raise interrupts.pop(0)
        jobs.release.set()
        return 0

    monkeypatch.setattr(build, "stop_children_in", stop)
    raised = run_guarded(jobs)
    assert isinstance(raised, FlowFailed), repr(raised)
    assert len(calls) >= 3 and jobs.ended == jobs.started


def test_the_jobs_counts_in_order() -> None:
    """Without an error every job's counts, in the jobs' order (more jobs than the pool runs at once)."""
    def job(i: int) -> Callable[[], Counter[Key]]:
        return lambda: Counter({("reply", f"10.0.0.{i}", "10.0.0.9"): i + 1})

    expected = [Counter({("reply", f"10.0.0.{i}", "10.0.0.9"): i + 1}) for i in range(JOBS)]
    assert observe_all({}, [job(i) for i in range(JOBS)]) == expected


@pytest.mark.parametrize("kind", [InputError, UsageError])
def test_a_flows_error_names_the_flow(monkeypatch: pytest.MonkeyPatch, kind: type[InputError]) -> None:
    """send's probe error names only the source's namespace; the differential's says which flow it stopped."""
    def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise kind("the probe failed in kpsim-x.p3: Traceback ... OSError")

    monkeypatch.setattr(send, "resolve_source", lambda state, src: object())
    monkeypatch.setattr(send, "resolve_destination", lambda state, dst, source: object())
    monkeypatch.setattr(send, "connect", failing)
    flow = Flow("pod/default/client-node2", "10.96.0.10:53", "udp")
    with pytest.raises(InputError) as caught:
        observe({}, flow, 10, 1.0, sticky=False)
    assert type(caught.value) is kind  # (a usage error keeps its exit status)
    assert [str(d) for d in caught.value.diagnostics] == [
        "flow pod/default/client-node2 -> 10.96.0.10:53/udp: the probe failed in kpsim-x.p3: Traceback ... OSError"]
    two = differential.of_flow(InputError([Diagnostic("a"), Diagnostic("b")]), flow)
    assert [d.message for d in two.diagnostics] == [f"flow {flow.label}: a", f"flow {flow.label}: b"]


def waiting(thread: threading.Thread) -> bool:
    """Whether ``thread`` waits for futures (in a wait of :mod:`concurrent.futures`, or a result), not, say, for
    a pool thread it starts to run."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_filename == futures_base.__file__ and frame.f_code.co_name in ("wait", "result"):
            return True
        frame = frame.f_back
    return False


def test_an_interrupt_another_thread_was_given_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel may hand a Ctrl-C to a pool thread: its handler runs in the main thread, once that thread runs
    Python code again, which a wait for the flows with no end held off until they were done. Here job 0 gets
    the signal itself once the main thread waits, then waits to be released; the run (in the main thread,
    where handlers run) must stop."""
    jobs, calls = Jobs(JOBS, failing=-1), list[object]()
    monkeypatch.setattr(build, "stop_children_in", releasing(jobs, calls))

    def signalled() -> Counter[Key]:
        while not waiting(threading.main_thread()):  # (a signal now would be handled at once anyway)
            jobs.release.wait(0.01)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        jobs.release.wait()
        return Counter()

    fired = threading.Event()

    def hung() -> None:  # (ends a hung run: the jobs return, the handler runs)
        fired.set()
        jobs.release.set()

    guard = threading.Timer(HANG_GUARD, hung)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    guard.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            observe_all({"namespaces": [jobs.namespace]}, [signalled, *jobs.jobs[1:]])
    finally:
        guard.cancel()
        signal.signal(signal.SIGINT, previous)
    assert not fired.is_set(), f"the run went on until released {HANG_GUARD:g} s later, then the interrupt came"
    assert calls and jobs.ended == jobs.started
