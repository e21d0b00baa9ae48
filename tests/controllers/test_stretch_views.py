"""The pods a stretch of time delivers at each instant (world._view) are each pod's view at that instant.

_stretch hands the previous instant's view object on when the pod is the same and its view cannot have turned
since (running() reads the clock only against ready_at); drawn pods and instants check that what it hands on is
always sim.at(when)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.model import SimPod
from kubeproxy_sim.objects.model import Pod
from tests.budget import budget

_TIMES = st.sampled_from((0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 7.0))


@st.composite
def _sim(draw: st.DrawFn) -> SimPod:
    return SimPod(namespace="default", name="p", labels=(("app", "web"),), owner=None, images=("nginx",), ports=(),
                  created=0.0, serial=1, node_name="node1", pod_ips=("10.244.0.9",),
                  ready_at=draw(st.none() | _TIMES), deleted_at=draw(st.none() | _TIMES),
                  unreported=draw(st.booleans()), marked_not_ready=draw(st.booleans()))


@settings(max_examples=budget(400), deadline=None)
@given(sim=_sim(), instants=st.lists(_TIMES, min_size=1, max_size=6, unique=True),
       changes=st.lists(st.booleans(), min_size=6, max_size=6))
def test_a_handed_on_view_is_the_pods_view_at_the_instant(sim: SimPod, instants: list[float],
                                                          changes: list[bool]) -> None:
    views: dict[str, tuple[SimPod, Pod]] = {}
    last: float | None = None
    for when, change in zip(sorted(instants), changes, strict=False):
        if change:  # another object for the pod (a replace() in between): its view is built again
            sim = replace(sim, marked_not_ready=not sim.marked_not_ready)
        assert W._view(sim, views, last, when) == sim.at(when)
        last = when
