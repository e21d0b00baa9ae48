"""tests.kernel.wide_strategies reaches what it is for (no kernel needed): each combination the kernel
differential's first strategy never drew is drawn, and every flow it adds is one the simulator predicts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from kubeproxy_sim.kernel.differential import SILENCE, SimulatorSide, kernel_cluster
from kubeproxy_sim.objects.model import IPFamily, ServiceType, SessionAffinity, TrafficPolicy
from kubeproxy_sim.proxier.config import DetectLocalMode
from tests.budget import budget
from tests.kernel.test_differential_wide import wide_flows
from tests.kernel.wide_strategies import PINNED, STACKS, wide_clusters
from tests.strategies import ClusterCase, cluster_ip, node_ip


def _nodes(case: ClusterCase) -> set[str]:
    return {node_ip(i, v6) for i in range(len(case.cluster.nodes)) for v6 in (False, True)}


def _endpoints(case: ClusterCase) -> set[str]:
    return {a for s in case.cluster.endpoint_slices for e in s.endpoints for a in e.addresses}


WANTED: dict[str, Callable[[ClusterCase], bool]] = {
    "affinity, eTP Local and source ranges": lambda c: any(
        s.session_affinity is SessionAffinity.CLIENT_IP and s.external_traffic_policy is TrafficPolicy.LOCAL
        and s.load_balancer_source_ranges for s in c.cluster.services),
    "ipMode Proxy": lambda c: any(i.ip_mode == "Proxy" for s in c.cluster.services for i in s.load_balancer_ingress),
    "externalIP at a node's address": lambda c: any(set(s.external_ips) & _nodes(c) for s in c.cluster.services),
    "LB IP at a node's address": lambda c: any(i.ip in _nodes(c) for s in c.cluster.services
                                               for i in s.load_balancer_ingress),
    "host-network endpoint": lambda c: bool(_endpoints(c) & _nodes(c)),
    "endpoint at a clusterIP": lambda c: bool(_endpoints(c) & {cluster_ip(i, v6) for i in range(3)
                                                               for v6 in (False, True)}),
    "terminating-only endpoints": lambda c: any(
        s.endpoints and all(e.conditions.terminating for e in s.endpoints) for s in c.cluster.endpoint_slices),
    "named target ports, per slice": lambda c: any(
        any(isinstance(p.target_port, str) for p in s.ports)
        and len({sl.ports for sl in c.cluster.endpoint_slices if sl.service_name == s.name}) > 1
        for s in c.cluster.services),
    "one port number, two protocols": lambda c: any(
        len({p.protocol for p in s.ports if p.port == 80}) == 2 for s in c.cluster.services),
    "iTP Local, no endpoint on node1": lambda c: any(
        s.internal_traffic_policy is TrafficPolicy.LOCAL and not any(
            e.node_name == "node1" for sl in c.cluster.endpoint_slices if sl.service_name == s.name
            for e in sl.endpoints) for s in c.cluster.services),
    "masqueradeAll, NodeCIDR": lambda c: c.config.masquerade_all
        and c.config.detect_local_mode is DetectLocalMode.NODE_CIDR,
    "--nodeport-addresses of node1 only, NodePort on two nodes": lambda c: c.config.nodeport_addresses in (
        ("192.168.0.10/32",), (node_ip(0, True) + "/128",)) and len(c.cluster.nodes) > 1 and any(
        s.type is ServiceType.NODE_PORT for s in c.cluster.services),
    "localhost NodePorts off": lambda c: not c.config.localhost_nodeports,
}


def _other_family(c: ClusterCase) -> set[str]:
    """What in the cluster is of the family node1's proxier does not read."""
    return {a for s in c.cluster.services
            for a in (*s.cluster_ips, *s.external_ips, *(i.ip for i in s.load_balancer_ingress if i.ip),
                      *s.load_balancer_source_ranges) if (":" in a) != c.ipv6}


DUAL_WANTED: dict[str, Callable[[ClusterCase], bool]] = {
    "IPv6 proxier": lambda c: c.ipv6,
    "IPv4 proxier": lambda c: not c.ipv6,
    "IPv6 primary": lambda c: ":" in c.config.node_ips[0] and ":" in c.cluster.nodes[0].addresses[0].address,
    "Service of both families, IPv6 first": lambda c: any(
        s.ip_families == (IPFamily.IPV6, IPFamily.IPV4) for s in c.cluster.services),
    "Service of the other family only": lambda c: any(
        s.ip_families == (IPFamily.IPV4 if c.ipv6 else IPFamily.IPV6,) for s in c.cluster.services),
    "source ranges of the other family only": lambda c: any(
        s.load_balancer_source_ranges and all((":" in r) != c.ipv6 for r in s.load_balancer_source_ranges)
        for s in c.cluster.services),
    "externalIP of the other family": lambda c: any(
        (":" in a) != c.ipv6 for s in c.cluster.services for a in s.external_ips),
    "--nodeport-addresses of both families": lambda c: len({":" in a for a in c.config.nodeport_addresses
                                                           if a != "primary"}) == 2,
}


def _seen(stack: str, wanted: dict[str, Callable[[ClusterCase], bool]]) -> set[str]:
    seen: set[str] = set()

    @settings(max_examples=150, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=wide_clusters(stack))
    def draw(case: ClusterCase) -> None:
        seen.update(name for name, holds in wanted.items() if holds(case))

    draw()
    return seen


@pytest.mark.parametrize("stack", STACKS)
def test_each_combination_is_drawn(stack: str) -> None:
    """The strategy reaches every combination in each stack: 150 derandomized draws hold each (a claim about the
    strategy only; CI's kernel run gets its few draws from its own seed, and the combinations from PINNED); the
    dual-stack draws also give each family's proxier objects of the other family to leave out."""
    wanted = {**WANTED, **DUAL_WANTED} if stack == "dual" else WANTED
    assert sorted(set(wanted) - _seen(stack, wanted)) == []


@settings(max_examples=budget(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(case=wide_clusters("ipv6"))
def test_ipv6_draws_hold_no_ipv4_address(case: ClusterCase) -> None:
    assert case.ipv6 and case.config.ip_family is IPFamily.IPV6
    assert not _other_family(case)
    assert all(":" in a.address for n in case.cluster.nodes for a in n.addresses)


PINNED_HOLD = {"eTP Local NodePort, unrouted endpoint": [],
               "ipMode Proxy; affinity, eTP Local and source ranges": ["ipMode Proxy",
                                                                       "affinity, eTP Local and source ranges"],
               "LB IP at a node's address": ["LB IP at a node's address"],
               "--nodeport-addresses of node1 only, NodePort on two nodes": [
                   "--nodeport-addresses of node1 only, NodePort on two nodes"]}


def test_each_pinned_case_holds_its_combination() -> None:
    """What the kernel run's hand-built cases are for is in them (the first's shape is checked by its flows)."""
    assert sorted(PINNED_HOLD) == sorted(PINNED)
    for shape, wanted in PINNED_HOLD.items():
        assert [w for w in wanted if not WANTED[w](PINNED[shape])] == [], shape


def test_the_unrouted_endpoint_case_sends_across_a_dnat_nobody_masquerades() -> None:
    """The pinned bug's shape: node1 and the outside client reach node2's eTP Local NodePort, whose endpoint is
    an address the router has no route to, and hear nothing (answered_from_outside)."""
    case = PINNED["eTP Local NodePort, unrouted endpoint"]
    full, _, _ = kernel_cluster(case.cluster, case.config)
    sims = SimulatorSide(full, case.config)
    silent = {(f.src, f.dst) for f in wide_flows(case, None)
              if sims.predict(f).shares == {("fail", SILENCE): 1}}
    assert {("node/node1", "192.168.0.11:30000"), ("external", "node/node2:30000")} <= silent


@pytest.mark.parametrize("stack", STACKS)
def test_every_flow_is_predicted(stack: str) -> None:
    """The simulator side predicts each flow (the derived and the extra ones) with shares summing to 1, and every
    flow's addresses are of the proxier's family."""

    @settings(max_examples=5, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=wide_clusters(stack))
    def check(case: ClusterCase) -> None:
        full, _, _ = kernel_cluster(case.cluster, case.config)
        sims = SimulatorSide(full, case.config)
        for flow in wide_flows(case, 40):
            assert sum(sims.predict(flow).shares.values()) == 1, flow.label
            assert flow.dst.startswith("node/") or flow.dst.startswith("[") == case.ipv6, flow.label

    check()


def test_endpoint_pods_hairpin_through_node_ports_and_vips() -> None:
    """An endpoint pod also sends to its own Service's NodePorts and load-balancer IPs and externalIPs (not only its
    clusterIP, derive_flows' hairpin), from the source of the derived hairpin flow."""
    kinds: set[str] = set()

    @settings(max_examples=30, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=wide_clusters("ipv6"))
    def draw(case: ClusterCase) -> None:
        flows = wide_flows(case, None)
        hairpins = {f.service: f.src for f in flows if f.kind == "hairpin"}
        for flow in flows:
            if flow.kind.startswith("hairpin-"):
                kinds.add(flow.kind)
                assert flow.src == hairpins[flow.service], flow.label

    draw()
    assert kinds == {"hairpin-NodePort", "hairpin-VIP"}
