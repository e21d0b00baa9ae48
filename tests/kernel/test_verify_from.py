"""``netns verify --from`` in objects mode: the cluster built in namespaces, only the derived flows of those clients
run in the simulator and the kernel."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.cli import netns_cmd

pytestmark = pytest.mark.kernel


def test_objects_mode_runs_only_the_flows_from_the_clients_given(kernel: None, run_tag: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    """bootcamp from the node and outside: its ClusterIP from node1 and its NodePort on each node, no pod's flow
    (neither a client pod's nor the hairpin), and they agree."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-vfrom"
    parser = argparse.ArgumentParser()
    netns_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["netns", "verify", "--scenario", "bootcamp", "--from", "node", "--from", "external",
                              "--name", name, "-o", "json"])
    code = args.func(args)
    out = json.loads(capfd.readouterr().out)
    assert code == 0 and out["ok"], out
    assert sorted((f["from"], f["to"], f["kind"]) for f in out["flows"]) == [
        ("external", "node/node1:31526", "NodePort"), ("external", "node/node2:31526", "NodePort"),
        ("node/node1", "10.96.142.87:8080", "ClusterIP")]
    assert all(f["verdict"] == "agree" for f in out["flows"])
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
