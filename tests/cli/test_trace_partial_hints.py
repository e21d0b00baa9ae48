"""trace says why a PreferClose Service's zone hints are ignored when some ready endpoint has none (kube-proxy's
topology.go uses hints only when every ready endpoint carries them), as dist does (tests/cli/test_dist_notes_m4.py):
otherwise an even spread looks like a bug in the hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli.test_dist_notes_m4 import TOPOLOGY


def _trace_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> list[str]:
    path = tmp_path / "objects.yaml"
    path.write_text(text)
    capsys.readouterr()
    assert main(["trace", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--hostname-override", "node1",
                 "--src", "10.244.0.50", "--dst", "10.96.9.1", "--dport", "80", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    return list(data["notes"])


def test_partial_hints_are_said_ignored_naming_the_endpoint(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    notes = _trace_notes(tmp_path, capsys, TOPOLOGY % "")
    assert any("zone hints are ignored: ready endpoint 10.244.1.8:8080 has none" in n for n in notes), notes


def test_complete_hints_get_no_such_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = _trace_notes(tmp_path, capsys, TOPOLOGY % ", hints: {forZones: [{name: b}]}")
    assert not any("hints are ignored" in n for n in notes), notes
