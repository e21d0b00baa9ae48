"""The simulator against the kernel on clusters drawn wide (tests.kernel.wide_strategies): externalIPs (a node's
address too), source ranges, ipMode Proxy, named and per-slice target ports, host-network endpoints, one port
number for two protocols, kube-proxy's options, and flows from nodes and pods to NodePorts, load-balancer IPs
and externalIPs; in IPv4, in IPv6 and on dual-stack clusters (one family's proxier). In CI the hand-built cases
of wide_strategies.PINNED (every flow) and a few derandomized draws of each stack (at most 20 flows each);
KPSIM_DEEP=1 explores more, new ones every run (KPSIM_WIDE_STACK=ipv6 or dual: that stack's draws only, the
deep run's examples all its own). The false alarm budget of the file is 1%, split evenly over its runs (the
draws, the pinned cases and the router's two)."""

from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings

from kubeproxy_sim.kernel.differential import (
    REFUSED,
    SILENCE,
    UNREACHABLE,
    Flow,
    SimulatorSide,
    derive_flows,
    differential,
    kernel_cluster,
    outcome_text,
    round_robin,
)
from kubeproxy_sim.objects.model import TrafficPolicy
from tests.kernel.test_differential import DEEP, KERNEL_SETTINGS, _check, _ours
from tests.kernel.wide_strategies import PINNED, STACKS, extra_flows, pinned_cases, wide_clusters
from tests.strategies import ClusterCase

pytestmark = pytest.mark.kernel

ONLY = os.environ.get("KPSIM_WIDE_STACK")
assert ONLY in (None, *STACKS), f"KPSIM_WIDE_STACK={ONLY!r}: expected one of {', '.join(STACKS)}"
EXAMPLES = {"ipv4": 3, "ipv6": 2, "dual": 2} if not DEEP else {s: 150 if ONLY in (None, s) else 0 for s in STACKS}
MAX_FLOWS = None if DEEP else 20
PINNED6 = pinned_cases(True) if DEEP else {}
ALPHA = Fraction(1, 100) / (sum(EXAMPLES.values()) + len(PINNED) + len(PINNED6) + 2)


def wide_flows(case: ClusterCase, limit: int | None) -> list[Flow]:
    """The derived flows and the extra ones, each kind in turn up to ``limit``."""
    full, clients, _ = kernel_cluster(case.cluster, case.config)
    sim = SimulatorSide(full, case.config).plain
    derived, _ = derive_flows(full, sim, clients)
    gateways = {n.name: n.gateways for n in sim.topology.nodes}
    hairpins = {f.service: f.src for f in derived if f.kind == "hairpin"}
    return round_robin([*derived, *extra_flows(case.cluster, clients, gateways, case.ipv6, hairpins)], limit)


def _agrees(case: ClusterCase, run_tag: str, state_dir: Path) -> None:
    name = f"{run_tag}-w{uuid.uuid4().hex[:6]}"
    report = differential(case.cluster, case.config, state_dir, name=name, flows=wide_flows(case, MAX_FLOWS),
                          alpha=ALPHA)
    _check(report, f"wide cluster {case.cluster} {case.config}")
    assert not _ours(name)


@pytest.mark.skipif(not EXAMPLES["ipv4"], reason="KPSIM_WIDE_STACK names another stack")
@settings(KERNEL_SETTINGS, max_examples=EXAMPLES["ipv4"] or 1)
@given(case=wide_clusters("ipv4"))
def test_wide_cluster_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path, case: ClusterCase) -> None:
    _agrees(case, run_tag, state_dir)


@pytest.mark.skipif(not EXAMPLES["ipv6"], reason="KPSIM_WIDE_STACK names another stack")
@settings(KERNEL_SETTINGS, max_examples=EXAMPLES["ipv6"] or 1)
@given(case=wide_clusters("ipv6"))
def test_wide_ipv6_cluster_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                              case: ClusterCase) -> None:
    assert case.ipv6
    _agrees(case, run_tag, state_dir)


@pytest.mark.skipif(not EXAMPLES["dual"], reason="KPSIM_WIDE_STACK names another stack")
@settings(KERNEL_SETTINGS, max_examples=EXAMPLES["dual"] or 1)
@given(case=wide_clusters("dual"))
def test_wide_dual_stack_cluster_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                                    case: ClusterCase) -> None:
    """One family's proxier on a dual-stack cluster (the family drawn): the other family's addresses in the
    Services, slices, source ranges and --nodeport-addresses are kube-proxy's to leave out."""
    assert len(case.config.node_ips) == 2
    _agrees(case, run_tag, state_dir)


@pytest.mark.parametrize("shape", sorted(PINNED))
def test_pinned_case_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path, shape: str) -> None:
    """Each combination the derandomized draws may miss, every flow of it."""
    case = PINNED[shape]
    name = f"{run_tag}-p{uuid.uuid4().hex[:6]}"
    report = differential(case.cluster, case.config, state_dir, name=name, flows=wide_flows(case, None),
                          alpha=ALPHA)
    assert not _ours(name)
    _check(report, shape)


@pytest.mark.skipif(not DEEP, reason="KPSIM_DEEP=1 only: they agreed when the IPv6 draws came (session 20)")
@pytest.mark.parametrize("shape", sorted(pinned_cases(True)))
def test_pinned_case_in_ipv6_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path, shape: str) -> None:
    """The pinned combinations in IPv6 (ICMPv6 answers, ::1 never a NodePort's), every flow of each."""
    case = PINNED6[shape]
    name = f"{run_tag}-q{uuid.uuid4().hex[:6]}"
    report = differential(case.cluster, case.config, state_dir, name=name, flows=wide_flows(case, None),
                          alpha=ALPHA)
    assert not _ours(name)
    _check(report, f"{shape} (IPv6)")


@pytest.mark.parametrize("etp", [TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER])
def test_the_router_s_answer_after_a_dnat_agrees_with_kernel(kernel: None, run_tag: str, state_dir: Path,
                                                             etp: TrafficPolicy) -> None:
    """Found by the wide strategy: node2's NodePort DNATs to an address the router has no route to. With eTP Local
    nothing masquerades the outside client's or node1's packet, so the router's ICMP goes to them straight, not
    by node2 whose conntrack alone maps it back: silence (the simulator said unreachable); a pod's packet is
    masqueraded by the CNI on node2 and hears it, as every client does with eTP Cluster. The outside client to
    127.0.0.1 is its own loopback, which refuses (not the router's "no route")."""
    from tests.simulator.test_router_answer import CONFIG, nowhere

    cluster = nowhere(etp)
    _, clients, _ = kernel_cluster(cluster, CONFIG)
    flows = [Flow("external", "node/node2:30002"), Flow("node/node1", "192.168.0.11:30002"),
             Flow(f"pod/{clients['node1']}", "192.168.0.11:30002"), Flow("external", "127.0.0.1:30002")]
    name = f"{run_tag}-wr{etp.value[0].lower()}"
    report = differential(cluster, CONFIG, state_dir, name=name, flows=flows, alpha=ALPHA)
    _check(report, "router's answer after a DNAT")
    silent = etp is TrafficPolicy.LOCAL
    assert [[r.outcome for r in f.rows] for f in report.flows] == [
        [outcome_text(("fail", SILENCE if silent else UNREACHABLE))]] * 2 + [[outcome_text(("fail", UNREACHABLE))],
                                                                             [outcome_text(("fail", REFUSED))]]
    assert not _ours(name)
