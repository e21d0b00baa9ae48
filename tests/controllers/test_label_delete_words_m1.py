"""kubectl's words and order for ``label pods`` and ``delete pod -l`` (u1's walkthrough: ``label pods -l app=web
app-`` said "labeled"; ``delete pod -l app=web`` deleted in creation order)."""

from __future__ import annotations

from kubeproxy_sim.controllers.script import _label_message

from .test_patch_get_label import exposed, run


def test_removing_a_label_is_unlabeled() -> None:
    world, rng = exposed(replicas=2)
    names = sorted(p.name for p in world.pods)
    world, played = run(world, rng, "label pods -l app=web tier=fe", "label pods --all tier-",
                        "label pods --all tier-")
    assert list(played[1].notes) == [f"pod/{n} unlabeled" for n in names]
    assert list(played[2].notes) == [note for n in names
                                     for note in ('label "tier" not found.', f"pod/{n} not labeled")]


def test_kubectl_133_words_a_mixed_change_by_the_length_of_the_labels_json() -> None:
    """label.go updateDataChangeMsg in kubectl 1.33 compares the object's JSON before and after; each case below
    was run with kubectl.1.33 label --local -f on a pod labelled {app: web, tier: a}."""
    before = {"app": "web", "tier": "a"}
    assert _label_message(before, {"tier": "a"}, False) == "unlabeled"  # app-
    assert _label_message(before, {"tier": "a"}, True) == "labeled"  # app- --overwrite
    assert _label_message(before, {"tier": "a", "new": "1"}, False) == "unlabeled"  # app- new=1: shorter
    assert _label_message(before, {"tier": "a", "nn": "webx"}, False) == "labeled"  # app- nn=webx: as long
    assert _label_message(before, {"tier": "x"}, True) == "labeled"  # app- tier=x --overwrite
    assert _label_message(before, {"app": "web", "tier": "a", "new": "1"}, False) == "labeled"
    assert _label_message(before, dict(before), False) == "not labeled"


def test_delete_by_selector_goes_in_name_order_as_the_api_server_lists() -> None:
    world, rng = exposed(replicas=4)
    created = [p.name for p in sorted(world.pods, key=lambda p: p.created) if p.deleted_at is None]
    assert created != sorted(created)  # (seed 0 makes them in another order than their names')
    _, played = run(world, rng, "delete pod -l app=web")
    assert list(played[0].notes) == [f'pod "{n}" deleted' for n in sorted(created)]


def test_delete_by_name_keeps_the_order_given() -> None:
    world, rng = exposed(replicas=2)
    names = sorted(p.name for p in world.pods)[::-1]
    _, played = run(world, rng, f"delete pod {names[0]} {names[1]}")
    assert list(played[0].notes) == [f'pod "{n}" deleted' for n in names]
