"""``delete endpoints -l`` reads the labels the endpoints controller wrote (final reader f1's finding 4)."""

from __future__ import annotations

from pathlib import Path

from kubeproxy_sim.cli.scenario_cmd import load_manifests
from kubeproxy_sim.controllers.script import Step, play

from ._helpers import deployed

# kubectl 1.33 prints the API server's warning once per command touching v1 Endpoints (KEP-4974)
WARN = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"

HEADLESS = ("apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: default, labels: {tier: x}}\n"
            "spec: {clusterIP: None, selector: {app: kubernetes-bootcamp}, ports: [{port: 80, targetPort: 8080}]}\n")


def test_the_headless_label_the_controller_adds_selects_the_endpoints(tmp_path: Path) -> None:
    """The endpoints controller adds service.kubernetes.io/headless: "" to the Endpoints of a Service without a
    cluster IP (syncService), so kubectl delete endpoints -l service.kubernetes.io/headless finds them; the
    scenario matched the Service's own labels only and found nothing."""
    (tmp_path / "db.yaml").write_text(HEADLESS)
    world, rng = deployed(2)
    world = play(world, Step(1, "apply", "apply", paths=(str(tmp_path / "db.yaml"),)), rng, load_manifests).world
    for selector, notes in ((("service.kubernetes.io/headless", ""),), (WARN, 'endpoints "db" deleted')), \
            ((("tier", "x"),), (WARN, 'endpoints "db" deleted')), ((("tier", "y"),), (WARN, "No resources found")):
        step = Step(2, "delete", "delete", "default", kind="endpoints", selector=selector)
        assert play(world, step, rng, load_manifests).notes == notes


def test_a_missing_name_is_reported_after_the_others_are_deleted(tmp_path: Path) -> None:
    """kubectl delete deletes the objects it finds and says NotFound for the rest (exit 1); the scenario refused
    the whole step at the first missing name and deleted nothing."""
    (tmp_path / "db.yaml").write_text(HEADLESS)
    world, rng = deployed(2)
    world = play(world, Step(1, "apply", "apply", paths=(str(tmp_path / "db.yaml"),)), rng, load_manifests).world
    pod = world.pods[0].name
    for kind, name, note, error in (
            ("pod", pod, (f'pod "{pod}" deleted',), 'pods "nope" not found'),
            ("service", "db", ('service "db" deleted',), 'services "nope" not found'),
            ("endpoints", "db", (WARN, 'endpoints "db" deleted'), 'endpoints "nope" not found')):
        step = Step(2, "delete", "delete", "default", kind=kind, names=("nope", name))
        played = play(world, step, rng, load_manifests)
        assert (played.notes, played.error) == (note, error)
    step = Step(2, "delete", "delete", "default", kind="service", names=("db", "nope"))
    assert play(world, step, rng, load_manifests).world.service("default", "db") is None
