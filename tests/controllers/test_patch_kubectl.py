"""The scenario's ``patch`` and ``label pods -l|--all`` lines against kubectl 1.33's own, where the binary is at
hand: kubectl runs against the stand-in API server of test_apply_notes_kubectl holding the model's objects (as
kubectl_patch writes them), and prints what the step's notes (or its error) say. Skipped without the binary."""

from __future__ import annotations

import random
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.kubectl_patch import pod_document, service_document
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.script import parse_line, play
from kubeproxy_sim.objects.model import ServiceType

from ._helpers import deployed
from .test_apply_notes_kubectl import KUBECTL, server  # noqa: F401  (the stand-in's fixture)

pytestmark = pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")


def _kubectl(tmp_path: Path, port: int, argv: list[str]) -> tuple[int, list[str]]:
    config = tmp_path / "kubeconfig"
    config.write_text(f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: "
                      f"'http://127.0.0.1:{port}'}}}}]\nusers: [{{name: u, user: {{token: x}}}}]\n"
                      "contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]\n"
                      "current-context: c\n")
    done = subprocess.run([str(KUBECTL), "--kubeconfig", str(config), *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60, check=False)
    return done.returncode, done.stdout.splitlines()


def _model(world: World, rng: random.Random, line: str) -> tuple[int, list[str]]:
    step = parse_line(1, line)
    assert step is not None
    played = play(world, step, rng, lambda _p: None)  # type: ignore[arg-type,return-value]
    return (1 if played.error else 0), [*played.notes, *([f"error: {played.error}"] if played.error else [])]


def _stand_in(existing: dict[str, dict[str, Any]], world: World) -> None:
    for s in world.services:
        existing[f"/api/v1/namespaces/{s.namespace}/services/{s.name}"] = service_document(s)
    pods = [pod_document(p) for p in sorted(world.pods, key=lambda p: p.name)]
    for doc in pods:
        existing[f"/api/v1/namespaces/default/pods/{doc['metadata']['name']}"] = doc
    existing["/api/v1/namespaces/default/pods"] = {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                                    "items": pods}


@pytest.mark.parametrize("line", [
    "patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'",
    "patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Cluster\"}}'",
    "patch service web --type merge -p 'spec: {internalTrafficPolicy: Local}'",
    "label pods -l app=web role=x",
    "label pods --all role=x",
])  # (no selector that finds nothing: the stand-in lists every pod whatever the selector; kubectl prints nothing
#    then, with an empty list: test_patch_get_label)
def test_patch_and_label_lines_are_kubectls(line: str, tmp_path: Path,
                                            server: tuple[Any, dict[str, dict[str, Any]]]) -> None:  # noqa: F811
    httpd, existing = server
    world, rng = deployed(2)
    world, _ = W.expose(world, "default", "web", rng, port=80, service_type=ServiceType.NODE_PORT)
    _stand_in(existing, world)
    expected = _kubectl(tmp_path, httpd.server_address[1], shlex.split(line))
    assert _model(world, rng, line) == expected
