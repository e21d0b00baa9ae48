"""Deployments: scaling, rolling updates within maxSurge/maxUnavailable, Recreate, history and undo."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.deployment import fenceposts, history, scaled_value, split_sets
from kubeproxy_sim.controllers.model import Deployment, Strategy, World
from tests.budget import budget

from ._helpers import IMAGE_BROKEN, IMAGE_V1, IMAGE_V2, deployed


def _mine(w: World) -> tuple[list, list]:
    """(active pods, available pods) of app web."""
    active = [p for p in w.pods if p.owner and p.owner.startswith("web-") and not p.terminating]
    return active, [p for p in active if p.ready(w.now)]


def test_fenceposts_round_surge_up_and_unavailable_down() -> None:
    assert scaled_value("25%", 2, round_up=True) == 1
    assert scaled_value("25%", 2, round_up=False) == 0
    assert scaled_value(3, 10, round_up=False) == 3
    d = W.new_deployment("default", "web", [IMAGE_V1], 10, None)
    assert fenceposts(d) == (3, 2)
    assert fenceposts(dataclasses.replace(d, max_surge=0, max_unavailable="5%")) == (0, 1)  # never both zero


def test_scale_up_and_down_uses_one_replica_set() -> None:
    w, rng = deployed(1)
    w = W.scale(w, "default", "web", 4, rng)
    assert [rs.replicas for rs in w.replica_sets] == [4]
    assert len(_mine(w)[0]) == 4 and len(_mine(w)[1]) == 1
    w = W.advance(w, 5, rng)
    assert len(_mine(w)[1]) == 4
    w = W.scale(w, "default", "web", 2, rng)
    terminating = [p for p in w.pods if p.terminating]
    assert len(terminating) == 2 and all(p.ready(w.now) for p in terminating)
    w = W.advance(w, 30, rng)
    assert len(w.pods) == 2


def _check_bounds(w: World, d: Deployment) -> None:
    surge, unavailable = fenceposts(d)
    active, available = _mine(w)
    assert len(active) <= d.replicas + surge, (w.now, len(active))
    assert len(available) >= d.replicas - unavailable, (w.now, len(available))


intish = st.one_of(st.integers(0, 4), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))


@settings(max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicas=st.integers(1, 9), surge=intish, unavailable=intish, broken=st.booleans(), seed=st.integers(0, 3))
def test_rolling_update_stays_within_surge_and_unavailable_at_every_step(
        replicas: int, surge: int | str, unavailable: int | str, broken: bool, seed: int) -> None:
    assume(not (surge in (0, "0%") and unavailable in (0, "0%")))
    w, rng = deployed(replicas, seed, max_surge=surge, max_unavailable=unavailable)
    d = w.deployment("default", "web")
    assert d is not None
    w = W.set_image(w, "default", "web", {"*": IMAGE_BROKEN if broken else IMAGE_V2}, rng)
    _check_bounds(w, d)
    while (when := W.next_event(w)) is not None:
        w = W.settle(dataclasses.replace(w, now=when), rng)
        _check_bounds(w, d)
    new, old = split_sets(w, w.deployment("default", "web"))
    assert new is not None
    if broken:
        assert sum(rs.replicas for rs in old) >= replicas - fenceposts(d)[1]
        assert not W.wait_for_rollout(w, "default", "web", rng).done
    else:
        assert new.replicas == replicas and all(rs.replicas == 0 for rs in old)
        assert W.wait_for_rollout(w, "default", "web", rng).done
        assert all(p.images == (IMAGE_V2,) for p in w.pods)


def test_rolling_update_on_two_replicas_goes_one_pod_at_a_time() -> None:
    w, rng = deployed(2)
    w = W.set_image(w, "default", "web", {"*": IMAGE_V2}, rng)
    new, (old,) = split_sets(w, w.deployment("default", "web"))
    assert (new.replicas, old.replicas) == (1, 2)  # surge 1 (25% of 2 rounded up), unavailable 0
    waited = W.wait_for_rollout(w, "default", "web", rng)
    assert waited.done
    assert [m for _, m in waited.messages] == [
        'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...',
        'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
        'deployment "web" successfully rolled out',
    ]


def test_recreate_removes_every_old_pod_before_starting_new_ones() -> None:
    w, rng = deployed(3, strategy=Strategy.RECREATE)
    w = W.set_image(w, "default", "web", {"*": IMAGE_V2}, rng)
    assert all(p.terminating for p in w.pods) and len(w.pods) == 3
    w = W.advance(w, 29, rng)
    assert all(p.images == (IMAGE_V1,) for p in w.pods)
    w = W.advance(w, 1, rng)
    assert len(w.pods) == 3 and all(p.images == (IMAGE_V2,) and not p.terminating for p in w.pods)
    assert W.wait_for_rollout(w, "default", "web", rng).done


def test_broken_image_misses_the_progress_deadline_and_undo_restores_the_previous_revision() -> None:
    w, rng = deployed(2)
    w = W.set_image(w, "default", "web", {"*": IMAGE_V2}, rng)
    w = W.wait_for_rollout(w, "default", "web", rng).world
    w = W.set_image(w, "default", "web", {"*": IMAGE_BROKEN}, rng)
    started = w.now
    waited = W.wait_for_rollout(w, "default", "web", rng)
    assert not waited.done
    assert waited.messages[-1] == (started + 600, 'error: deployment "web" exceeded its progress deadline')
    w = waited.world
    _, available = _mine(w)
    assert sorted(p.images for p in available) == [(IMAGE_V2,), (IMAGE_V2,)]
    assert [rev for rev, _ in history(w, w.deployment("default", "web"))] == [1, 2, 3]
    w, message = W.undo(w, "default", "web", rng)
    assert message == "deployment.apps/web rolled back"
    new, _ = split_sets(w, w.deployment("default", "web"))
    assert new.revision == 4 and new.template.images() == (IMAGE_V2,)
    assert [rev for rev, _ in history(w, w.deployment("default", "web"))] == [1, 3, 4]
    assert not any(p.images == (IMAGE_BROKEN,) for p in w.pods)  # never started: gone at once
    assert W.wait_for_rollout(w, "default", "web", rng).done


def test_undo_without_history_is_refused() -> None:
    w, rng = deployed(1)
    with pytest.raises(W.ActionError, match="no rollout history"):
        W.undo(w, "default", "web", rng)


def test_scaling_in_the_middle_of_a_rollout_shares_the_change() -> None:
    w, rng = deployed(4)
    w = W.set_image(w, "default", "web", {"*": IMAGE_V2}, rng)
    w = W.scale(w, "default", "web", 8, rng)
    new, old = split_sets(w, w.deployment("default", "web"))
    assert new.replicas + sum(rs.replicas for rs in old) <= 8 + fenceposts(w.deployment("default", "web"))[0]
    assert W.wait_for_rollout(w, "default", "web", rng).done
    w = W.wait_for_rollout(w, "default", "web", rng).world
    assert len(_mine(w)[1]) == 8


def test_deleting_a_deployment_terminates_its_pods() -> None:
    w, rng = deployed(2)
    w = W.delete_deployment(w, "default", "web", rng)
    assert not w.replica_sets and all(p.terminating for p in w.pods)
    assert not W.advance(w, 30, rng).pods


def test_relabelled_pod_is_released_and_replaced() -> None:
    w, rng = deployed(2)
    victim = w.pods[0].name
    w = W.label_pod(w, "default", victim, {"app": "debug"}, rng, overwrite=True)
    assert w.pod("default", victim).owner is None
    assert len(_mine(w)[0]) == 2
    with pytest.raises(W.ActionError, match="--overwrite"):
        W.label_pod(w, "default", victim, {"app": "other"}, rng)
