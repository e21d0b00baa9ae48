"""``rules`` gives the load notes ``graph`` gives, split over two processes or not, and the same lines both ways.

The other family's note (cli.load_notes) was graph's alone; the no-EndpointSlice note (objects.notes) was capped
per share on a split run, so two shares each named five Services and each counted its rest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

import kubeproxy_sim.cli.main as cli_main
from kubeproxy_sim.cli import split_sync
from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects.notes import SLICELESS_SHOWN

NOTE = ("kubeproxy-sim: --ip-family: note: the objects also give IPv6 rules: --ip-family ipv6 (kube-proxy runs a "
        "proxier per family; these are the node's IPv4 one's)")

WHOLE, SPLIT = 10**9, 0
"""load_and_generate's thresholds: one process whatever the input, two whenever there are two services."""


def _rules_err(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
               threshold: int) -> list[str]:
    monkeypatch.setattr(split_sync, "SPLIT_THRESHOLD", threshold)
    if threshold == SPLIT:
        monkeypatch.setattr(split_sync, "_whole", _no_fallback)  # the split must really happen
    assert cli_main.main(["rules", *argv]) == 0
    return capsys.readouterr().err.splitlines()


def _no_fallback(*args: object) -> None:
    raise AssertionError("the split fell back to one process")


@pytest.mark.parametrize("threshold", [WHOLE, SPLIT], ids=["unsplit", "split"])
def test_rules_of_dual_stack_objects_names_the_other_family(
        threshold: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    err = _rules_err(["--scenario", "dual-stack"], capsys, monkeypatch, threshold)
    assert err.count(NOTE) == 1


@pytest.mark.parametrize("threshold", [WHOLE, SPLIT], ids=["unsplit", "split"])
def test_rules_gives_no_family_note_with_the_flag_or_one_family(
        threshold: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for argv in (["--scenario", "dual-stack", "--ip-family", "ipv4"],
                 ["--scenario", "dual-stack", "--ip-family", "ipv6"],
                 ["--scenario", "upstream-overall-iptables-rules"]):  # (one family, three Services: a real split)
        assert not any("also give" in line for line in _rules_err(argv, capsys, monkeypatch, threshold)), argv


def _sliceless_objects(path: Path, count: int) -> Path:
    """``count`` Services, each selecting one ready pod and named by no EndpointSlice (``kubectl get all``)."""
    documents: list[dict] = []
    for i in range(count):
        name = f"s{i:02d}"
        documents.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
                          "spec": {"clusterIP": f"10.96.0.{i + 1}", "selector": {"app": name},
                                   "ports": [{"name": "p", "port": 80}]}})
        documents.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"{name}-pod", "namespace": "ns", "labels": {"app": name}},
                          "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
                          "status": {"podIP": f"10.244.0.{i + 1}",
                                     "conditions": [{"type": "Ready", "status": "True"}]}})
    path.write_text(yaml.safe_dump_all(documents))
    return path


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["rules", *argv])


def _sliceless_lines(threshold: int, path: Path) -> list[str]:
    monkeypatch = pytest.MonkeyPatch()
    try:
        if threshold == SPLIT:
            monkeypatch.setattr(split_sync, "_whole", _no_fallback)
        synced = split_sync.load_and_generate(_args("-f", str(path)), text=True, threshold=threshold)
    finally:
        monkeypatch.undo()
    return [str(d) for d in synced.diagnostics
            if d.severity is Severity.NOTE and "EndpointSlice" in d.message]


@pytest.mark.parametrize("count", [3, SLICELESS_SHOWN, SLICELESS_SHOWN + 1, 8, 2 * SLICELESS_SHOWN + 3])
def test_a_split_run_notes_sliceless_services_as_an_unsplit_one(tmp_path: Path, count: int) -> None:
    path = _sliceless_objects(tmp_path / "all.yaml", count)
    whole = _sliceless_lines(WHOLE, path)
    assert len(whole) == min(count, SLICELESS_SHOWN) + (count > SLICELESS_SHOWN)  # the unsplit run's own cap
    assert _sliceless_lines(SPLIT, path) == whole


def test_the_split_note_counts_every_hidden_service(tmp_path: Path) -> None:
    lines = _sliceless_lines(SPLIT, _sliceless_objects(tmp_path / "all.yaml", 13))
    assert len(lines) == SLICELESS_SHOWN + 1
    assert lines[-1].endswith("and 8 more Services with ready pods and no EndpointSlice")
    assert [line.split(": ")[1] for line in lines[:-1]] == [f"Service ns/s{i:02d}" for i in range(SLICELESS_SHOWN)]
