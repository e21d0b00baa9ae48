"""PodFacts carries its tallies and timetables from one pods tuple to the next by the pods that differ: whatever
the change (pods replaced in place, appended, gone, reordered, an equal copy), they are what a fresh count of
the new tuple gives, and ``differing`` finds exactly the pods of either tuple missing from the other."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers.model import PodFacts, SimPod, active_owner, differing, readiness
from tests.budget import budget

_TIMES = st.none() | st.sampled_from((0.0, 1.0, 2.0, 5.0))


@st.composite
def _sim(draw: st.DrawFn) -> SimPod:
    return SimPod(namespace=draw(st.sampled_from(("a", "b"))), name=draw(st.sampled_from("pqrstuvw")),
                  labels=(), owner=draw(st.sampled_from((None, "rs1", "rs2"))), images=(), ports=(), created=0.0,
                  serial=draw(st.integers(0, 3)), ready_at=draw(_TIMES), deleted_at=draw(_TIMES),
                  marked_not_ready=draw(st.booleans()))


def _ready(name: str, ready_at: float) -> SimPod:
    """A pod of rs1 in namespace a that becomes ready at ``ready_at`` (one entry of the timetable)."""
    return SimPod(namespace="a", name=name, labels=(), owner="rs1", images=(), ports=(), created=0.0, serial=0,
                  ready_at=ready_at)


_P2, _Q1, _R5 = _ready("p", 2.0), _ready("q", 1.0), _ready("r", 5.0)


@st.composite
def _versions(draw: st.DrawFn) -> list[tuple[SimPod, ...]]:
    pods = list(draw(st.lists(_sim(), max_size=30)))
    out = [tuple(pods)]
    for _ in range(draw(st.integers(1, 5))):
        kept = [replace(p) if draw(st.integers(0, 9)) == 0 else p for p in pods if draw(st.integers(0, 5))]
        if draw(st.booleans()):
            kept.insert(draw(st.integers(0, len(kept))), draw(_sim()))
        kept += draw(st.lists(_sim(), max_size=3))
        if draw(st.integers(0, 4)) == 0:
            kept = draw(st.permutations(kept))
        pods = kept
        out.append(tuple(pods))
    return out


@settings(max_examples=budget(300), deadline=None)
@given(versions=_versions())
# a time added before the key's later ones (an append would leave the timetable unsorted), and times taken away
# that are not the key's earliest (deleting the first entry would take away another pod's)
@example(versions=[(_P2,), (_P2, _Q1)])
@example(versions=[(_Q1, _P2, _R5), (_Q1, _R5), (_Q1,)])
def test_carried_facts_equal_fresh_ones(versions: list[tuple[SimPod, ...]]) -> None:
    facts = PodFacts()
    previous: tuple[SimPod, ...] = ()
    for pods in versions:
        removed, added = differing(previous, pods)
        assert {id(p) for p in removed} == {id(p) for p in previous} - {id(p) for p in pods}
        assert {id(p) for p in added} == {id(p) for p in pods} - {id(p) for p in previous}
        assert facts.count(pods, active_owner) == Counter(k for p in pods if (k := active_owner(p)) is not None)
        fresh: dict[object, list[float]] = {}
        for pod in pods:
            for key, when in readiness(pod):
                fresh.setdefault(key, []).append(when)
        assert facts.times(pods, readiness) == {k: sorted(v) for k, v in fresh.items()}
        previous = pods
