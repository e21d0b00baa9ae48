"""A key given twice in a manifest, through ``rules -f`` as the user sees it: kubectl's YAML reading (go-yaml v2's
lenient Unmarshal, under sigs.k8s.io/yaml's YAMLToJSON) keeps the last value, so the object is used with it, and a
YAML one is a warning (exit status 0); JSON keeps the last too (Go's JSON reader, into the object kubectl
sends), without a word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

YAML = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec:
  clusterIP: 10.0.0.1
  ports:
  - port: 80
    port: 90
"""


def _rules(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str) -> tuple[int, Path, str, str]:
    path = tmp_path / name
    path.write_text(text)
    status = main(["rules", "-f", str(path), "--hostname-override", "n1"])
    out, err = capsys.readouterr()
    return status, path, out, err


def test_a_yaml_key_given_twice_is_a_warning_and_the_last_value_is_used(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    status, path, out, err = _rules(tmp_path, capsys, "svc.yaml", YAML)
    assert status == 0
    assert [line for line in err.splitlines() if "twice" in line or "already defined" in line] == [
        f'kubeproxy-sim: {path}:8: Service ns/web: spec.ports[0].port: warning: mapping key "port" already defined '
        "at line 7; kubectl's YAML reading keeps the last, and so does this"]
    assert "-d 10.0.0.1 --dport 90 -j REJECT" in out and "--dport 80 " not in out


def test_a_json_key_given_twice_keeps_the_last_value_without_a_warning(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Checking would cost every large JSON input (the hot path) about a tenth of its CPU time."""
    port = json.dumps({"port": 80})[:-1] + ', "port": 90}'
    text = ('{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns"}, '
            f'"spec": {{"clusterIP": "10.0.0.1", "ports": [{port}]}}}}')
    status, _, out, err = _rules(tmp_path, capsys, "svc.json", text)
    assert status == 0 and "already defined" not in err
    assert "-d 10.0.0.1 --dport 90 -j REJECT" in out and "--dport 80 " not in out
