"""The simulator against the kernel: every scenario the kernel backend can build, and generated clusters.

Each cluster is built once in namespaces; its derived flows (ClusterIP from a pod
on each node and from the node, NodePorts from outside, LoadBalancer IPs and
externalIPs from outside, the hairpin) run in both, and the differential must
agree on every flow. The false alarm budget of the whole file is 1%, split
evenly over its differential runs (and inside a run over its random outcomes).
Generated clusters are the same on every run (derandomized) so that CI judges
the same cases each time; KPSIM_DEEP=1 explores more, and new ones every run.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from pyroute2 import netns

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.kernel.differential import (
    SILENCE,
    UNREACHABLE,
    Flow,
    Report,
    differential,
    kernel_cluster,
    outcome_text,
)
from kubeproxy_sim.objects import load_paths, load_text
from tests.kernel.test_differential_unit import (
    CHAINED,
    CHAINED_FLOWS,
    LOOPED,
    TWO_HOP,
    stale_endpoint,
    two_hop_flows,
)
from tests.kernel.test_kernel import small_cluster
from tests.strategies import ClusterCase, clusters

pytestmark = pytest.mark.kernel

DEEP = os.environ.get("KPSIM_DEEP") == "1"
KERNEL_SETTINGS = settings(
    deadline=None, database=None, derandomize=not DEEP,
    phases=tuple(Phase) if DEEP else tuple(p for p in Phase if p not in (Phase.shrink, Phase.explain)),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
"""What a generated kernel differential runs with: fixed cases in CI and no shrinking there (each step builds a
cluster, ~5 s, and hypothesis does not bound the steps: a failure would take CI's time; the failing case is
reported as drawn), new cases and shrinking with KPSIM_DEEP=1."""
EXAMPLES = 200 if DEEP else 36
EXAMPLES6 = 60 if DEEP else 8
MAX_FLOWS = None if DEEP else 24
SCENARIOS = sorted(p.name for p in REPO_RULESETS.iterdir() if (p / "objects.yaml").is_file())
ALPHA = Fraction(1, 100) / (len(SCENARIOS) + EXAMPLES + EXAMPLES6)  # the whole file's false alarm rate is at most 1%
LARGE = ("large-cluster", "upstream-sync-proxy-rules-large-cluster-mode-above-threshold",
         "upstream-sync-proxy-rules-large-cluster-mode-below-threshold")  # ~1000 endpoints: pools, grouped shares


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
    directory = REPO_RULESETS / scenario
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    name = f"{run_tag}-d{SCENARIOS.index(scenario)}"
    report = differential(loaded.cluster, config, state_dir, name=name, max_flows=MAX_FLOWS, alpha=ALPHA)
    _check(report, scenario)
    assert all("SCTP" in s.reason or "ipMode Proxy" in s.reason for s in report.skipped)
    assert not _ours(name), "the cluster is removed"
    balanced = any(f.flow.kind in ("LoadBalancer", "externalIP") for f in report.flows)
    assert balanced == any(n.startswith("LoadBalancer and external IPs enter node/") for n in report.notes)
    if scenario in LARGE:  # judged by group, every group of endpoints answered, on a few flows only
        grouped = [f for f in report.flows if any(r.outcome.startswith("reply from one of") for r in f.rows)]
        assert grouped and len(report.flows) <= 6
        assert all(r.observed > 0 for f in grouped for r in f.rows if r.share > 0)


@pytest.mark.parametrize("scenario", ["sctp-udp", "upstream-cluster-ip-general"])
def test_sctp_flows_are_skipped_with_the_reason(kernel: None, run_tag: str, state_dir: Path, scenario: str) -> None:
    directory = REPO_RULESETS / scenario
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    name = f"{run_tag}-ds{SCENARIOS.index(scenario)}"
    report = differential(loaded.cluster, config, state_dir, name=name, max_flows=4, alpha=ALPHA)
    assert [s.reason for s in report.skipped] == ["SCTP: this kernel has no SCTP sockets"]
    assert all(f.flow.proto in ("tcp", "udp") for f in report.flows)


@settings(KERNEL_SETTINGS, max_examples=EXAMPLES)
@given(case=clusters(ipv6=False))
def test_generated_cluster_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                              case: ClusterCase) -> None:
    name = f"{run_tag}-g{uuid.uuid4().hex[:6]}"
    report = differential(case.cluster, case.config, state_dir, name=name, max_flows=MAX_FLOWS, alpha=ALPHA)
    _check(report, f"generated cluster {case.cluster}")
    assert not _ours(name)


@settings(KERNEL_SETTINGS, max_examples=EXAMPLES6)
@given(case=clusters(ipv6=True))
def test_generated_ipv6_cluster_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                                   case: ClusterCase) -> None:
    assert case.config.ipv6
    name = f"{run_tag}-h{uuid.uuid4().hex[:6]}"
    report = differential(case.cluster, case.config, state_dir, name=name, max_flows=MAX_FLOWS, alpha=ALPHA)
    _check(report, f"generated IPv6 cluster {case.cluster}")
    assert all(":" in f.flow.dst or f.flow.dst.startswith("node/") for f in report.flows)
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
    # masqueraded by the interface it leaves node2 by: its pod bridge (10.244.1.1) to its own pods, eth0 to node1's
    saw = {o["outcome"].split()[2].rsplit(":", 1)[0]: o["outcome"].split(" (saw ")[1] for o in nodeport["outcomes"]}
    assert saw == {"10.244.0.3": "192.168.49.3)", "10.244.0.4": "192.168.49.3)", "10.244.1.2": "10.244.1.1)",
                   "10.244.1.3": "10.244.1.1)"}
    # the outside network routes no cluster range: both sides say "unreachable" (a router's ICMP answer)
    assert outside["verdict"] == "agree" and code == 0 and out["ok"]
    assert [(o["outcome"], o["observed"]) for o in outside["outcomes"]] == [("unreachable (NO_ROUTE)", 24)]
    assert not _ours(name)


def test_cli_verify_yaml_on_a_large_scenario(kernel: None, run_tag: str, tmp_path: Path, monkeypatch,
                                             capfd) -> None:
    """-o yaml carries what -o json does; the large service is judged by group (pool namespaces, chi-square)."""
    import yaml

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    name = f"{run_tag}-dy"
    code = _cli(["netns", "verify", "--scenario", "upstream-sync-proxy-rules-large-cluster-mode-below-threshold",
                 "--name", name, "-o", "yaml"])
    out = yaml.safe_load(capfd.readouterr().out)
    assert code == 0 and out["ok"] and set(out) == {"ok", "inconclusive", "alpha", "notes", "skipped", "flows"}
    grouped = [f for f in out["flows"] if any(o["outcome"].startswith("reply from one of") for o in f["outcomes"])]
    assert grouped and all(f["connections"] >= 100 and f["verdict"] == "agree" for f in grouped)
    assert not _ours(name)


def test_a_pod_s_packet_leaving_by_another_node_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hops: a pod's connection to the other node's NodePort, DNATed there to an address nobody has. Each node
    masquerades any pod's packet leaving the cluster by it (the CNI's rule, ``build.egress_rules``), so the
    router's "unreachable" comes back, as the simulator predicts; a rule of the pod's own node only left the
    packet with the pod's address, which the router cannot answer (silence)."""
    stale_endpoint(monkeypatch)
    cluster, config = small_cluster(TWO_HOP)
    _, clients, _ = kernel_cluster(cluster, config)
    report = differential(cluster, config, state_dir, name=f"{run_tag}-d2hop", flows=two_hop_flows(clients),
                          alpha=ALPHA)
    _check(report, "two hops")
    assert len(report.flows) == 2
    for flow in report.flows:
        assert [(r.outcome, r.share, r.observed) for r in flow.rows] == [(outcome_text(("fail", UNREACHABLE)), 1,
                                                                          flow.count)]
    assert not _ours(f"{run_tag}-d2hop")


def test_a_connection_dnated_to_another_node_s_nodeport_agrees_with_kernel(kernel: None, run_tag: str,
                                                                           state_dir: Path) -> None:
    """A Service whose endpoint is node2's NodePort: node2 DNATs the connection again, to web's endpoints (the
    prediction said node2 itself answered every connection, followed as it traced only packets that left node1
    unchanged)."""
    cluster, config = small_cluster(CHAINED)
    report = differential(cluster, config, state_dir, name=f"{run_tag}-dchain", flows=CHAINED_FLOWS, alpha=ALPHA)
    _check(report, "chained")
    assert all(len(f.rows) == 3 for f in report.flows)
    assert not _ours(f"{run_tag}-dchain")


def test_nodeports_that_send_to_each_other_agree_with_kernel(kernel: None, run_tag: str, state_dir: Path) -> None:
    """Two NodePorts each other's endpoint: the connection never ends anywhere; the SYN goes round until its TTL
    runs out, and the ICMP time exceeded fails the connect (EHOSTUNREACH: unreachable), as the walk's verdict
    (network.circles_reason) predicts, not an answer at the address the last DNAT before the hop limit named."""
    cluster, config = small_cluster(LOOPED)
    report = differential(cluster, config, state_dir, name=f"{run_tag}-dloop",
                          flows=[Flow("node/node1", "192.168.49.3:30095")], alpha=ALPHA)
    _check(report, "loop")
    (flow,) = report.flows
    assert [(r.outcome, r.share) for r in flow.rows] == [(outcome_text(("fail", UNREACHABLE)), 1)]
    assert not _ours(f"{run_tag}-dloop")


def test_udp_nodeports_that_send_to_each_other_agree_with_kernel(kernel: None, run_tag: str,
                                                                 state_dir: Path) -> None:
    """The same loop of UDP NodePorts: the ICMP time exceeded is a soft error to the client's UDP socket, which
    hears nothing (silence), as the walk's verdict (network.circles_reason) predicts."""
    cluster, config = small_cluster(LOOPED.replace("TCP", "UDP"))
    report = differential(cluster, config, state_dir, name=f"{run_tag}-dloopu",
                          flows=[Flow("node/node1", "192.168.49.3:30095", "udp")], alpha=ALPHA)
    _check(report, "udp loop")
    (flow,) = report.flows
    assert [(r.outcome, r.share) for r in flow.rows] == [(outcome_text(("fail", SILENCE)), 1)]
    assert not _ours(f"{run_tag}-dloopu")


def test_endpoints_that_name_no_node_agree_with_kernel(kernel: None, run_tag: str, state_dir: Path) -> None:
    """An endpoint with no nodeName in node2's pod CIDR is node2's in both backends (netns up put it on node1:
    its hairpin was masqueraded to node1's bridge address in the kernel, node2's in the simulator)."""
    from tests.kernel.test_plan import elsewhere
    from tests.simulator.builders import BASE, load

    report = differential(load(elsewhere()), BASE, state_dir, name=f"{run_tag}-delse", alpha=ALPHA)
    _check(report, "no nodeName")
    assert any(f.flow.kind == "hairpin" and "ep-10-244-2-50" in f.flow.label for f in report.flows)
    assert not _ours(f"{run_tag}-delse")


def test_loopback_destinations_agree_with_kernel(kernel: None, run_tag: str, state_dir: Path) -> None:
    """A node's loopback is its own (nothing listens: refused, TCP and UDP); a pod's never leaves the pod, which
    answers itself or refuses. The differential predicted "unreachable" and "no answer"."""
    from kubeproxy_sim.kernel.differential import REFUSED, Flow

    cluster, config = small_cluster()
    flows = [Flow("node/node2", "127.0.0.1:9999"), Flow("node/node2", "127.0.0.1:9999", proto="udp"),
             Flow("pod/default/web-a", "127.0.0.1:8080"), Flow("pod/default/web-a", "127.0.0.1:9999")]
    report = differential(cluster, config, state_dir, name=f"{run_tag}-dlo", flows=flows, alpha=ALPHA)
    _check(report, "loopback")
    refused = [(outcome_text(("fail", REFUSED)), 1)]
    assert [[(r.outcome, r.share) for r in f.rows] for f in report.flows] == \
        [refused, refused, [(outcome_text(("reply", "127.0.0.1", "127.0.0.1")), 1)], refused]
    assert not _ours(f"{run_tag}-dlo")


def test_affinity_is_judged_by_the_service_port_that_took_the_flow(kernel: None, run_tag: str,
                                                                    state_dir: Path) -> None:
    """A ClientIP Service reached by name or by a loopback NodePort keeps one endpoint in the kernel, as predicted;
    a UDP Service without affinity spreads even where a ClientIP TCP Service shares its externalIP and port
    (was: names and loopback NodePorts judged spread, the UDP flow judged sticky)."""
    from tests.kernel.test_differential_unit import AFFINITY, AFFINITY_FLOWS
    from tests.kernel.test_send_dns import CONFIG, OBJECTS, _cluster

    report = differential(_cluster(OBJECTS + AFFINITY), CONFIG, state_dir, name=f"{run_tag}-daff",
                          flows=list(AFFINITY_FLOWS), alpha=ALPHA)
    _check(report, "affinity")
    assert {f.flow: f.sticky for f in report.flows} == AFFINITY_FLOWS
    assert not _ours(f"{run_tag}-daff")


PLACED = """
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: default}
spec: {nodeName: node2, containers: [{name: c, image: x}]}
status: {phase: Succeeded, podIP: 10.244.1.20}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system}
spec: {nodeName: node2, hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 9100}]}]}
status: {phase: Running, podIP: 10.9.9.9}
"""


def test_pod_cidrs_finished_and_host_network_pods_agree_with_kernel(kernel: None, run_tag: str,
                                                                    state_dir: Path) -> None:
    """Addresses of the nodes' pod CIDRs that no pod has, from a pod of the owning node, a pod of the other node and
    the other node itself: the nodes route the range to the owner's bridge, where nobody answers ARP, so within
    the timeout there is no answer on either side (before, the stage had only host routes per pod and its router
    answered "unreachable"). One address per flow: a flow's SYNs wait on their own neighbour entry, not one whose
    3 s ARP timeout another flow started. A finished Pod's address is one of them (the stage gave it a namespace
    that answered); a host-network Pod with a podIP of its own answers on its node's address (the stage gave it a
    namespace at that podIP, and the node refused). Its foreign podIP is the report's warning (for standard error),
    not one of its notes."""
    from kubeproxy_sim.kernel.differential import SILENCE, Flow

    cluster, config = small_cluster(PLACED)
    _, clients, _ = kernel_cluster(cluster, config)
    silent = [Flow(f"pod/{clients['node2']}", "10.244.1.250:80"), Flow(f"pod/{clients['node1']}", "10.244.1.251:80"),
              Flow("node/node1", "10.244.1.252:80"), Flow(f"pod/{clients['node2']}", "10.244.0.250:80", proto="udp"),
              Flow(f"pod/{clients['node1']}", "10.244.1.20:80")]
    agent = Flow(f"pod/{clients['node1']}", "192.168.49.3:9100")
    warnings: list[Diagnostic] = []
    report = differential(cluster, config, state_dir, name=f"{run_tag}-dcidr", flows=[*silent, agent], alpha=ALPHA,
                          warn=warnings.extend)
    _check(report, "pod CIDR")
    assert [f.flow for f in report.flows] == [*silent, agent]
    for flow in report.flows[:-1]:
        assert [(r.outcome, r.share) for r in flow.rows] == [(outcome_text(("fail", SILENCE)), 1)], flow.flow.label
    [row] = report.flows[-1].rows
    assert row.outcome.startswith("reply from 192.168.49.3 (saw ") and row.share == 1
    assert [(w.object, w.field) for w in warnings] == [("kube-system/agent", "status.podIP")]
    assert not [n for n in report.notes if "warning" in n]
    assert not _ours(f"{run_tag}-dcidr")


@pytest.mark.parametrize(("wide", "tag"), [("0.0.0.0/0", "dwide"), ("128.0.0.0/1", "dhalf")])
def test_pod_cidrs_the_nodes_already_route_do_not_stop_the_build(kernel: None, run_tag: str, state_dir: Path,
                                                                 wide: str, tag: str) -> None:
    """A /32 pod CIDR at a pod's address and a /0 one: the nodes route neither themselves (a second route to a
    destination is refused, EEXIST, which stopped ``netns up``); the pod at the /32 answers as in the simulator.
    The /0 is no pod CIDR of either side (a warning says so), so a pod's packet for an address nobody has leaves
    by the router on both, which has no route (the simulator sent it to n3's bridge, where nobody answered).
    A /1 alike: 128.0.0.0/1 held the outside client, which the kernel's host route reached (its refusal) and the
    simulator sent to n3's bridge (silence)."""
    from kubeproxy_sim.kernel.differential import Flow
    from tests.simulator.test_topology import CONFIG, PLACES

    text = PLACES.replace("spec: {podCIDRs: [10.244.2.0/24]}", "spec: {podCIDRs: [10.244.2.22/32]}") + """---
apiVersion: v1
kind: Node
metadata: {name: n3}
spec: {podCIDRs: [WIDE]}
status: {addresses: [{type: InternalIP, address: 192.168.0.12}]}
""".replace("WIDE", wide)
    flow = Flow("pod/default/web", "10.244.2.22:80")
    warnings: list[Diagnostic] = []
    report = differential(load_text(text, "cidrs.yaml").cluster, CONFIG, state_dir, name=f"{run_tag}-{tag}",
                          flows=[flow, Flow("pod/default/web", "198.51.100.7:80"),
                                 Flow("pod/default/web", "203.0.113.10:80")], alpha=ALPHA, warn=warnings.extend)
    _check(report, "pod CIDRs already routed")
    [row] = report.flows[0].rows
    assert row.outcome.startswith("reply from 10.244.2.22") and row.share == 1
    assert [(r.outcome, r.share) for r in report.flows[1].rows] == [("unreachable (NO_ROUTE)", 1)]
    # the outside client's host refuses (RST), as send says; the prediction said NO_ROUTE, as for nobody's address
    assert [(r.outcome, r.share) for r in report.flows[2].rows] == [("refused (REJECT)", 1)]
    assert [(w.object, w.field) for w in warnings if w.kind == "Node"] == [("n3", "spec.podCIDRs[0]")]
    assert not _ours(f"{run_tag}-{tag}")


def test_cli_reports_a_difference(kernel: None, run_tag: str, tmp_path: Path, monkeypatch, capfd) -> None:
    """The kernel's nodes get --masquerade-all, the simulator's do not: pods are seen as their node."""
    import dataclasses

    from kubeproxy_sim.kernel import build

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    real = build.node_rules
    monkeypatch.setattr(build, "node_rules", lambda cluster, node: real(cluster, dataclasses.replace(
        node, config=dataclasses.replace(node.config, masquerade_all=True))))
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n- {from: pod/default/kubernetes-bootcamp-855d5cc575-4lb7w, to: 10.96.142.87:8080}\n"
                     "- {from: node/node1, to: 10.96.142.87:8080}\n")
    name = f"{run_tag}-ddiff"
    code = _cli(["netns", "verify", "--scenario", "bootcamp", "--name", name, "--flows", str(flows)])
    out = capfd.readouterr().out
    assert code == 1 and "DIFFER" in out and "2 flows: 1 agree, 1 differ" in out, out
    assert "the simulator never does" in out
    assert not _ours(name)


def test_cli_reports_a_wrong_split(kernel: None, run_tag: str, tmp_path: Path, monkeypatch, capfd) -> None:
    """QA-stats 3: the kernel's KUBE-SVC jumps all keep --probability 0.25 (no chain: shares 1/4, 3/16, 9/64,
    27/64, one pod 42%), the simulator's keep kube-proxy's 1/4 each. Every endpoint is still reached, so only the
    split differs: the flow's chi-square over its outcomes, at N sized for it, must see it (on the re-run too,
    as a real difference repeats)."""
    import re

    from kubeproxy_sim.kernel import build

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    real = build.node_rules
    monkeypatch.setattr(build, "node_rules", lambda cluster, node: re.sub(
        r"(-A KUBE-SVC-\S+ .*--probability )\S+", r"\g<1>0.2500000000", real(cluster, node)))
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n- {from: pod/default/kubernetes-bootcamp-855d5cc575-4lb7w, to: 10.96.142.87:8080}\n")
    name = f"{run_tag}-dsplit"
    code = _cli(["netns", "verify", "--scenario", "bootcamp", "--name", name, "--flows", str(flows)])
    out = capfd.readouterr().out
    assert code == 1 and "DIFFER" in out and "1 flows: 0 agree, 1 differ" in out, out
    assert "the split over its outcomes differs: chi-square" in out, out
    assert not _ours(name)


def test_endpoints_at_service_addresses_agree_with_kernel(kernel: None, run_tag: str, state_dir: Path) -> None:
    """Endpoints at another Service's load-balancer IP and clusterIP are no pods in either backend: node1 reaches
    the LB IP from its own address, in the Service's loadBalancerSourceRanges, and its endpoint answers (send
    made the address a pod on node1, routed by its bridge: every connection dropped, from 10.244.1.1); a pod's is
    out of range; a connection DNATed to the LB IP meets KUBE-PROXY-FIREWALL, one DNATed to the clusterIP leaves
    for the router, which has no route."""
    from kubeproxy_sim.kernel.differential import Flow
    from tests.simulator.builders import BASE, load
    from tests.simulator.test_vip_endpoint import LB_CLUSTER_IP, LB_IP, selectorless, vip_endpoints

    docs = [*vip_endpoints(), *selectorless("mid", "10.96.0.31", [{"addresses": [LB_CLUSTER_IP], "nodeName": "node2"}])]
    flows = [Flow("node/node1", f"{LB_IP}:80"), Flow("pod/default/client", f"{LB_IP}:80"),
             Flow("node/node2", "10.96.0.30:80"), Flow("pod/default/client", "10.96.0.31:80")]
    report = differential(load(docs), BASE, state_dir, name=f"{run_tag}-dvip", flows=flows, alpha=ALPHA)
    _check(report, "endpoints at Service addresses")
    assert [[(r.outcome.split(" (")[0], r.share) for r in f.rows] for f in report.flows] == [
        [("reply from 10.244.2.10", 1)], [("no answer", 1)], [("no answer", 1)], [("unreachable", 1)]]
    assert not _ours(f"{run_tag}-dvip")
