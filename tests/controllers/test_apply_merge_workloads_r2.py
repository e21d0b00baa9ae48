"""kubectl apply's word for a Deployment whose manifest now writes spec.replicas where the last apply left it out,
or the other way round, at the count the object already has: its patch still carries the new
last-applied-configuration annotation (and a null replicas, or the count), so kubectl prints "configured", never
"unchanged" (apply.go prints unchanged only for an empty patch, ``{}``)."""

from __future__ import annotations

from pathlib import Path

from .test_apply_merge_workloads_b4 import DEPLOYMENT, played_worlds

WITH_ONE = DEPLOYMENT.format(replicas="  replicas: 1\n")
WITHOUT = DEPLOYMENT.format(replicas="")


def test_replicas_left_out_at_the_default_count_is_configured(tmp_path: Path) -> None:
    played = played_worlds(
        tmp_path, ["apply -f one.yaml", "apply -f without.yaml", "apply -f without.yaml"], one=WITH_ONE, without=WITHOUT
    )
    assert [notes for _, notes in played][1:] == [["deployment.apps/api configured"], ["deployment.apps/api unchanged"]]


def test_replicas_written_at_the_live_count_is_configured(tmp_path: Path) -> None:
    played = played_worlds(
        tmp_path, ["apply -f without.yaml", "apply -f one.yaml", "apply -f one.yaml"], one=WITH_ONE, without=WITHOUT
    )
    assert [notes for _, notes in played][1:] == [["deployment.apps/api configured"], ["deployment.apps/api unchanged"]]
