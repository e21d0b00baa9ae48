"""A trace from a pod on another node than the default reads the objects once and generates one node's rules:
the pod's node's (standard input, which can be read only once, included)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

import kubeproxy_sim.objects
import kubeproxy_sim.proxier
from kubeproxy_sim.cli.main import main

BOOTCAMP = Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml"
POD_ON_NODE2 = ["--src", "10.244.1.2", "--dst", "10.96.142.87", "--dport", "8080", "-o", "json"]


def _counted(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_the_pods_node_is_read_once_and_generated_once(source: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    reads = _counted(monkeypatch, kubeproxy_sim.objects, "load_paths")
    generated = _counted(monkeypatch, kubeproxy_sim.proxier, "generate")
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BOOTCAMP.read_bytes())))
    path = "-" if source == "stdin" else str(BOOTCAMP)
    assert main(["trace", "-f", path, "--cluster-cidr", "10.244.0.0/16", *POD_ON_NODE2]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (len(reads), len(generated)) == (1, 1)
    assert data["node"] == "node2"
    # node2's rules with the objects read: the cluster IP reaches the service's four endpoints
    assert sorted(o["destination"] for o in data["outcomes"]) == [
        "10.244.0.3:8080", "10.244.0.4:8080", "10.244.1.2:8080", "10.244.1.3:8080"]


def test_a_node_asked_for_is_kept_and_generated_once(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    generated = _counted(monkeypatch, kubeproxy_sim.proxier, "generate")
    assert main(["trace", "--scenario", "bootcamp", *POD_ON_NODE2]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(generated) == 1 and data["node"] == "node1"
