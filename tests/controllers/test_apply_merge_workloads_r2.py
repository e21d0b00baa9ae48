"""kubectl apply's word for a Deployment whose manifest now writes spec.replicas where the last apply left it out,
or the other way round, at the count the object already has: its patch still carries the new
last-applied-configuration annotation (and a null replicas, or the count), so kubectl prints "configured", never
"unchanged" (apply.go prints unchanged only for an empty patch, ``{}``)."""

from __future__ import annotations

import random
from dataclasses import replace
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


DUMPED = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{LAST}'
spec:
  replicas: 7
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec: {{containers: [{{name: c, image: "IMAGE"}}]}}
""".replace("IMAGE", DEPLOYMENT.split('image: "')[1].split('"')[0])


def _started(tmp_path: Path, last: str, told: tuple[tuple[str, bool], ...]) -> int:
    """A scenario started from a dumped Deployment (replicas 7, as `kubectl get -o yaml` shows an autoscaled one)
    whose last-applied-configuration is ``last``, then ``apply -f`` of the manifest without replicas: the count."""
    from kubeproxy_sim.cli.scenario_cmd import load_manifests
    from kubeproxy_sim.controllers.model import World
    from kubeproxy_sim.controllers.script import Step, mark_unannotated, parse_line, play

    (tmp_path / "dump.yaml").write_text(DUMPED.format(LAST=last))
    (tmp_path / "without.yaml").write_text(WITHOUT)
    manifests = load_manifests([str(tmp_path / "dump.yaml")])
    if told:
        manifests = replace(manifests, deployment_replicas_last_applied=told)
    rng = random.Random(0)
    start = play(World(), Step(0, "apply", "apply", paths=()), rng, lambda _paths: manifests)
    world = mark_unannotated(start.world, manifests)
    step = parse_line(1, "apply -f without.yaml")
    assert step is not None
    played = play(world, replace(step, paths=(str(tmp_path / "without.yaml"),)), rng, load_manifests)
    assert played.error is None, played.error
    d = played.world.deployment("default", "api")
    assert d is not None
    return int(d.replicas)


LAST_WITHOUT = '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"default"},"spec":{}}'
LAST_WITH = '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api"},"spec":{"replicas":2}}'


def test_a_dumped_deployment_whose_last_apply_left_replicas_out_keeps_its_count(tmp_path: Path) -> None:
    assert _started(tmp_path, LAST_WITHOUT, (("default/api", False),)) == 7


def test_a_dumped_deployment_whose_last_apply_wrote_replicas_defaults_to_one(tmp_path: Path) -> None:
    assert _started(tmp_path, LAST_WITH, (("default/api", True),)) == 1


def test_the_dump_s_own_annotation_is_read_for_replicas(tmp_path: Path) -> None:
    """The loader fills deployment_replicas_last_applied from the dump itself (cli/scenario_facts): nothing told."""
    assert _started(tmp_path, LAST_WITHOUT, ()) == 7
    (again := tmp_path / "again").mkdir()
    assert _started(again, LAST_WITH, ()) == 1
