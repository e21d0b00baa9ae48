"""Reviewer r7's finding, end to end: an applied Pod's READY column counts its manifest's spec.containers and
sidecar init containers (kubectl's printPod), where it showed 0/0."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import run_cli

POD = """apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}, {name: d, image: busybox}]
  initContainers: [{name: i, image: busybox}, {name: s, image: envoy, restartPolicy: Always}]
"""


def test_an_applied_pods_ready_column_counts_its_containers_and_sidecars(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pod.yaml").write_text(POD)
    script = tmp_path / "script.txt"
    script.write_text(f"apply -f {tmp_path / 'pod.yaml'}\nwait 10s\nkubectl get pods\n")
    assert run_cli(["scenario", str(script), "--show", "endpoints"], monkeypatch) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("# solo ")]
    assert [row[2] for row in rows] == ["3/3"]  # c, d and the sidecar s; i runs to completion
