"""The instants ``rollout status`` passes through are the EndpointSlice controller's too (World.trail).

A pod on a Node not yet known fails its Service's sync (FailedToUpdateEndpointSlices), which the workqueue retries
1 s, 2 s, 4 s, ... after each failure. Pods becoming ready during a rollout queue the Service at their own
instants, each failed sync there setting the next retry from then; if wait_for_rollout left no trail, the retries
would run from the rollout's start and the Node's arrival would be noticed sooner (reviewer r8's sc/r2.script: the
lost pod's endpoint at step 19, at step 13 with the trail dropped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import run_cli

SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
           "spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
DEPLOYMENT = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n"
              "  selector: {matchLabels: {app: web}}\n"
              "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n"
              "  template:\n    metadata: {labels: {app: web}}\n"
              "    spec: {containers: [{name: nginx, image: nginx, ports: [{containerPort: 8080}]}]}\n")
LOST = ("apiVersion: v1\nkind: Pod\nmetadata: {name: lost, namespace: default, labels: {app: web}}\n"
        "spec: {nodeName: node9, containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}\n"
        "status: {podIPs: [{ip: 10.244.9.7}], podIP: 10.244.9.7, conditions: [{type: Ready, status: 'True'}]}\n")
NODE9 = ("apiVersion: v1\nkind: Node\nmetadata: {name: node9, labels: {topology.kubernetes.io/zone: zone-a}}\n"
         "spec: {podCIDR: 10.244.9.0/24}\nstatus: {addresses: [{type: InternalIP, address: 192.168.1.19}], "
         "conditions: [{type: Ready, status: 'True'}]}\n")


def test_the_retries_of_a_failed_sync_run_from_the_instants_of_the_rollout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in {"svc": SERVICE, "dep": DEPLOYMENT, "pod": LOST, "node9": NODE9}.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    script = ["apply -f svc.yaml", "apply -f dep.yaml", "wait 10s", "apply -f pod.yaml",
              "set image deployments/web nginx=nginx:2", "rollout status deployments/web", "wait 9s",
              "apply -f node9.yaml", *["wait 1s"] * 16]
    (tmp_path / "script").write_text("\n".join(script) + "\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["scenario", "script", "--show", "endpoints"], monkeypatch) == 0
    step, first = 0, None
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("# step "):
            step = int(line.split()[2].rstrip(":"))
        elif "pod=lost" in line and first is None:
            first = step
    assert first == 19
