"""``apply -f`` of a path that does not exist says what kubectl says (``error: the path "nosuch.yaml" does not
exist``), not that the objects are invalid, and applies none of the step's files (kubectl 1.33 checks every path
first: ``apply -f nosuch.yaml -f pod.yaml`` applies nothing). u1's walkthrough."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import run_cli


def test_a_missing_path_is_kubectls_error_and_nothing_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n"
                                       "spec: {containers: [{name: c, image: nginx}]}\n")
    (tmp_path / "script").write_text("apply -f pod.yaml -f nosuch.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["scenario", "script"], monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        'kubeproxy-sim: script:1: apply -f: the path "nosuch.yaml" does not exist (kubectl\'s error); expected a file '
        "or directory, a relative path read from the script's folder"]
    assert "pod/p1" not in captured.out
