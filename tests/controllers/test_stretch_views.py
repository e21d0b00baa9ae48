"""The pods a stretch of time delivers at each instant (world._Deliveries) are each pod's view at that instant.

_stretch carries the delivered views from one instant to the next by what differs: the pod objects replaced,
added or gone (by identity) and those whose view turns (running() reads the clock only against ready_at).
Drawn pods, changes and instants check that what it delivers is always every sim.at(when), in order, that the
views it reports changed hold every view that did, and that its orphans are the endpoint pods of unknown Nodes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.endpointslice import is_endpoint
from kubeproxy_sim.controllers.model import SimPod
from kubeproxy_sim.objects.model import Pod
from tests.budget import budget

from ._helpers import play_steps

_TIMES = st.sampled_from((0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 7.0))
_NAMES = ("a", "b", "c", "d", "e")


@st.composite
def _sim(draw: st.DrawFn) -> SimPod:
    return SimPod(namespace="default", name=draw(st.sampled_from(_NAMES)), labels=(("app", "web"),), owner=None,
                  images=("nginx",), ports=(), created=0.0, serial=1, node_name=draw(st.sampled_from(("n1", "n9"))),
                  pod_ips=("10.244.0.9",), ready_at=draw(st.none() | _TIMES), deleted_at=draw(st.none() | _TIMES),
                  unreported=draw(st.booleans()), marked_not_ready=draw(st.booleans()))


def _unique(sims: list[SimPod]) -> tuple[SimPod, ...]:
    return tuple({s.name: s for s in sims}.values())


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[float, tuple[SimPod, ...]]]:
    """Instants, each with the pods then: the previous ones with some replaced by another object (equal or not),
    some gone, new ones added, the order sometimes shuffled."""
    instants = sorted(draw(st.lists(_TIMES, min_size=1, max_size=6, unique=True)))
    sims = _unique(draw(st.lists(_sim(), max_size=5)))
    out = []
    for when in instants:
        changed = []
        for sim in sims:
            action = draw(st.sampled_from(("keep", "keep", "copy", "flip", "drop")))
            if action == "copy":
                sim = replace(sim)
            elif action == "flip":
                sim = replace(sim, marked_not_ready=not sim.marked_not_ready)
            if action != "drop":
                changed.append(sim)
        changed += [s for s in draw(st.lists(_sim(), max_size=2)) if s.name not in {c.name for c in changed}]
        if draw(st.booleans()):
            changed = draw(st.permutations(changed))
        sims = _unique(changed)
        out.append((when, sims))
    return out


@settings(max_examples=budget(400), deadline=None)
@given(steps=_steps())
def test_the_delivered_pods_are_the_views_at_each_instant(steps: list[tuple[float, tuple[SimPod, ...]]]) -> None:
    deliveries = W._Deliveries({"n1"})
    before: dict[str, Pod] = {}
    for when, sims in steps:
        old, new = deliveries.deliver(sims, when)
        assert deliveries.pods == tuple(s.at(when) for s in sims)
        now = {p.name: p for p in deliveries.pods}
        differs = {name for name in before.keys() | now.keys() if before.get(name) is not now.get(name)}
        assert differs <= {p.name for p in old} | {p.name for p in new}
        # each reported view is the one of its side: a turning pod's old view is what was delivered before
        # (not its new one, which would hide the turn from the queue), its new one what is delivered now
        assert all(p is before[p.name] for p in old), (old, before)
        assert all(p is now[p.name] for p in new), (new, now)
        assert set(deliveries.orphans.values()) == {p for p in deliveries.pods if is_endpoint(p)
                                                   and p.node_name != "n1"}
        before = dict(now)


def test_a_pod_turning_ready_in_a_later_stretch_is_seen_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """b's pod, created at 2 s, turns ready within 'wait 30s', and only that turn queues Service b: had the
    turning loop reported the new view as the old one too, the queue would see no change and b's endpoint would
    stay not-ready after the wait (reviewer r2's script)."""
    steps = play_steps(tmp_path, monkeypatch, capsys, "\n".join((
        "create deployment a --image=nginx --port=80 --replicas=1", "expose deployment/a --port=80", "wait 2s",
        "create deployment b --image=nginx --port=80 --replicas=1", "expose deployment/b --port=80", "wait 30s",
    )) + "\n", "--show", "endpoints")
    rows = [line.split()[:3] for line in steps[-1] if not line.startswith("# ")]
    assert rows == [["default/a", "10.244.0.2:80/TCP", "ready"], ["default/b", "10.244.1.2:80/TCP", "ready"]]
