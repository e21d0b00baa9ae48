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


def test_objects_mode_lists_only_the_skipped_flows_of_the_clients_given(
        kernel: None, run_tag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """`--from pod`: the SCTP ClusterIP's flows (a pod's and the node's) are listed as skipped, the ipMode Proxy
    balancer's (from outside) are not, as no flow from outside runs; a host-network Pod's foreign podIP is said
    on standard error, and standard output is the JSON document alone."""
    from tests.kernel.test_differential_unit import SKIPPED
    from tests.kernel.test_kernel import OBJECTS

    agent = ("---\napiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: kube-system}\n"
             "spec: {nodeName: node2, hostNetwork: true, containers: [{name: c, image: x}]}\n"
             "status: {phase: Running, podIP: 10.9.9.9}\n")
    (tmp_path / "c.yaml").write_text(OBJECTS + SKIPPED + agent)
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-vskip"
    parser = argparse.ArgumentParser()
    netns_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["netns", "verify", "-f", str(tmp_path / "c.yaml"), "--from", "pod", "--max-flows", "1",
                              "--name", name, "-o", "json"])
    code = args.func(args)
    captured = capfd.readouterr()
    out = json.loads(captured.out)
    assert code == 0 and out["ok"], out
    assert [f["from"].partition("/")[0] for f in out["flows"]] == ["pod"]
    assert [(s["flow"], s["reason"]) for s in out["skipped"]] == [
        ("default/sig 10.96.0.30:9000/sctp", "SCTP: this kernel has no SCTP sockets"),
        ("default/signode 10.96.0.31:9000/sctp", "SCTP: this kernel has no SCTP sockets")]
    assert "Pod kube-system/agent: status.podIP: warning: '10.9.9.9' is no node's address" in captured.err
    assert not [n for n in out["notes"] if "warning" in n]
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
