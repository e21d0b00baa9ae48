"""The simulator against the kernel: every scenario the kernel backend can build, and generated clusters.

Each cluster is built once in namespaces; its derived flows (ClusterIP from a pod
on each node and from the node, NodePorts from outside, LoadBalancer IPs and
externalIPs from outside, the hairpin) run in both, and the differential must
agree on every flow. The false alarm budget of the whole file is 1%, split
evenly over its differential runs (and inside a run over its random outcomes).
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from pyroute2 import netns

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.kernel.differential import Report, differential
from kubeproxy_sim.objects import load_paths
from tests.strategies import ClusterCase, clusters

pytestmark = pytest.mark.kernel

DEEP = os.environ.get("KPSIM_DEEP") == "1"
EXAMPLES = 200 if DEEP else 36
MAX_FLOWS = None if DEEP else 24
SCENARIOS = sorted(p.name for p in REPO_RULESETS.iterdir() if (p / "objects.yaml").is_file())
ALPHA = Fraction(1, 100) / (len(SCENARIOS) + EXAMPLES)  # the whole file's false alarm rate is at most 1%
BIG = "{} endpoints: a namespace each is beyond this file's time budget (the kernel backend builds it)"
NOT_SUPPORTED = {
    "detect-local-interface-name-prefix": "the kernel backend puts pods on a bridge, where iptables sees the "
    "bridge as the input interface, not the pod's veth: InterfaceNamePrefix detection needs routed veths",
    "large-cluster": BIG.format(1200),
    "upstream-sync-proxy-rules-large-cluster-mode-above-threshold": BIG.format(1001),
    "upstream-sync-proxy-rules-large-cluster-mode-below-threshold": BIG.format(998),
}


def _check(report: Report, label: str) -> None:
    assert report.flows, f"{label}: no flow was derived"
    bad = report.differences()
    assert not bad, f"{label}: " + "\n".join(f"{f.flow.label} ({f.flow.kind}): {'; '.join(f.why)}" for f in bad)
    for flow in report.flows:
        assert sum(row.observed for row in flow.rows) == flow.count


def _ours(name: str) -> list[str]:
    return [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path, scenario: str) -> None:
    if scenario in NOT_SUPPORTED:
        pytest.skip(NOT_SUPPORTED[scenario])
    directory = REPO_RULESETS / scenario
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    if config.ipv6:
        pytest.skip("IPv6: the kernel backend builds the IPv4 data plane only")
    name = f"{run_tag}-d{SCENARIOS.index(scenario)}"
    report = differential(loaded.cluster, config, state_dir, name=name, max_flows=MAX_FLOWS, alpha=ALPHA)
    _check(report, scenario)
    assert all("SCTP" in s.reason or "ipMode Proxy" in s.reason for s in report.skipped)
    assert not _ours(name), "the cluster is removed"


@pytest.mark.parametrize("scenario", ["sctp-udp", "upstream-cluster-ip-general"])
def test_sctp_flows_are_skipped_with_the_reason(kernel: None, run_tag: str, state_dir: Path, scenario: str) -> None:
    directory = REPO_RULESETS / scenario
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    name = f"{run_tag}-ds{SCENARIOS.index(scenario)}"
    report = differential(loaded.cluster, config, state_dir, name=name, max_flows=4, alpha=ALPHA)
    assert [s.reason for s in report.skipped] == ["SCTP: this kernel has no SCTP sockets"]
    assert all(f.flow.proto in ("tcp", "udp") for f in report.flows)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(case=clusters(ipv6=False))
def test_generated_cluster_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                              case: ClusterCase) -> None:
    name = f"{run_tag}-g{uuid.uuid4().hex[:6]}"
    report = differential(case.cluster, case.config, state_dir, name=name, max_flows=MAX_FLOWS, alpha=ALPHA)
    _check(report, f"generated cluster {case.cluster}")
    assert not _ours(name)


def _cli(argv: list[str]) -> int:
    import argparse

    from kubeproxy_sim.cli import netns_cmd

    parser = argparse.ArgumentParser()
    netns_cmd.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_objects_mode_with_a_flows_file(kernel: None, run_tag: str, tmp_path: Path, monkeypatch,
                                            capfd) -> None:
    import json

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n- {from: node/node1, to: 10.96.142.87:8080}\n"
                     "- {from: external, to: 'node/node2:31526', proto: tcp}\n"
                     "- {from: external, to: '10.96.142.87:8080'}\n")
    name = f"{run_tag}-dcli"
    code = _cli(["netns", "verify", "--scenario", "bootcamp", "--flows", str(flows), "--name", name, "-o", "json"])
    out = json.loads(capfd.readouterr().out)
    node, nodeport, outside = out["flows"]
    assert node["verdict"] == nodeport["verdict"] == "agree"
    assert {o["outcome"].split(" (saw ")[1] for o in nodeport["outcomes"]} == {"192.168.49.3)"}
    # the kernel's outside client routes everything through the first node; the simulator's router does not
    # route service addresses at all: a real difference, said so, and the exit code says it too
    assert outside["verdict"] == "differ" and code == 1 and not out["ok"]
    assert any("the simulator never does" in why for why in outside["why"])
    assert not _ours(name)


def test_cli_reports_a_difference(kernel: None, run_tag: str, tmp_path: Path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-ddiff"
    code = _cli(["netns", "verify", "--scenario", "detect-local-interface-name-prefix", "--name", name,
                 "--max-flows", "2"])
    out = capfd.readouterr().out
    assert code == 1 and "DIFFER" in out and "2 flows: 0 agree, 2 differ" in out
    assert not _ours(name)
