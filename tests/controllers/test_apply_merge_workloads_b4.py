"""``apply -f`` of a Deployment or a Pod over what ``patch``/``label`` changed, as kubectl apply's three-way merge
leaves it (original: the last apply's document; modified: the manifest; current: the live object): a field the
manifest writes is set, a field the last apply wrote and this one leaves out is deleted (a Deployment's
spec.replicas then defaults to 1), and what another writer added is kept (a pod's labels from ``label``)."""

from __future__ import annotations

from pathlib import Path

from kubeproxy_sim.controllers.model import World

from ._helpers import IMAGE_V1
from ._helpers import played_worlds as _played_worlds

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: api}}
spec:
{replicas}  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec: {{containers: [{{name: c, image: "IMAGE"}}]}}
""".replace("IMAGE", IMAGE_V1)

POD = """apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {labels}
spec: {{containers: [{{name: c, image: "IMAGE"}}]}}
""".replace("IMAGE", IMAGE_V1)


def played_worlds(tmp_path: Path, lines: list[str], **files: str) -> list[tuple[World, list[str]]]:
    """_helpers.played_worlds with every step required to play without error."""
    return _played_worlds(tmp_path, lines, strict=True, **files)


def _replicas(world: object) -> int:
    d = world.deployment("default", "api")  # type: ignore[attr-defined]
    assert d is not None
    return int(d.replicas)


def test_replicas_left_out_after_an_apply_that_wrote_them_default_to_one(tmp_path: Path) -> None:
    played = played_worlds(tmp_path, ["apply -f with.yaml", "patch deployment api -p '{\"spec\":{\"replicas\":5}}'",
                                      "apply -f without.yaml"],
                           **{"with": DEPLOYMENT.format(replicas="  replicas: 3\n"),
                              "without": DEPLOYMENT.format(replicas="")})
    assert [_replicas(w) for w, _ in played] == [3, 5, 1]
    assert played[2][1] == ["deployment.apps/api configured"]


def test_replicas_never_applied_keep_the_patched_count(tmp_path: Path) -> None:
    played = played_worlds(tmp_path, ["apply -f without.yaml", "patch deployment api -p '{\"spec\":{\"replicas\":5}}'",
                                      "apply -f without.yaml", "apply -f with.yaml", "apply -f with.yaml"],
                           **{"with": DEPLOYMENT.format(replicas="  replicas: 3\n"),
                              "without": DEPLOYMENT.format(replicas="")})
    assert [_replicas(w) for w, _ in played] == [1, 5, 5, 3, 3]
    assert [notes for _, notes in played][2:] == [["deployment.apps/api unchanged"],
                                                   ["deployment.apps/api configured"],
                                                   ["deployment.apps/api unchanged"]]


def _pod(world: object) -> object:
    pod = world.pod("default", "solo")  # type: ignore[attr-defined]
    assert pod is not None
    return pod


def test_a_label_added_by_label_survives_the_same_apply_in_place(tmp_path: Path) -> None:
    played = played_worlds(tmp_path, ["apply -f pod.yaml", "label pods solo extra=1", "apply -f pod.yaml",
                                      "apply -f fewer.yaml"],
                           pod=POD.format(labels="{app: solo, tier: a}"), fewer=POD.format(labels="{app: solo}"))
    first = _pod(played[0][0])
    assert played[2][1] == ["pod/solo unchanged"]
    again = _pod(played[2][0])
    assert dict(again.labels) == {"app": "solo", "tier": "a", "extra": "1"}  # type: ignore[attr-defined]
    assert again.uid == first.uid  # type: ignore[attr-defined]  # patched in place, not made again
    # the last apply wrote tier and this one leaves it out: deleted; extra, another writer's, kept
    assert played[3][1] == ["pod/solo configured"]
    after = _pod(played[3][0])
    assert dict(after.labels) == {"app": "solo", "extra": "1"}  # type: ignore[attr-defined]
    assert after.uid == first.uid  # type: ignore[attr-defined]
