"""CategorizeEndpoints: ready/terminating fallback, hints, Local policies."""

from __future__ import annotations

from kubeproxy_sim.objects.model import Protocol
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo
from kubeproxy_sim.proxier.topology import TopologyMode, categorize, topology_mode

NODE = "test-node"


def e(ip, local=False, ready=True, serving=True, terminating=False, zones=None, nodes=None):
    return EndpointInfo(ip, 80, f"{ip}:80", local, ready, serving, terminating,
                        frozenset(zones) if zones else None, frozenset(nodes) if nodes else None)


def svc(**kw):
    return ServicePortInfo("ns", "svc", "p80", Protocol.TCP, "172.30.0.1", 80, **kw)


def names(eps):
    return [x.ip for x in eps]


def test_no_endpoints():
    c = categorize((), svc(), NODE, None)
    assert not c.has_any and not c.reachable


def test_cluster_policy_uses_ready_endpoints_only():
    c = categorize((e("10.0.0.1"), e("10.0.0.2", ready=False)), svc(), NODE, None)
    assert names(c.cluster) == ["10.0.0.1"] and names(c.reachable) == ["10.0.0.1"] and c.has_any
    assert c.local == ()


def test_cluster_policy_falls_back_to_serving_terminating():
    eps = (e("10.0.0.1", ready=False, terminating=True), e("10.0.0.2", ready=False, serving=False,
                                                           terminating=True))
    c = categorize(eps, svc(), NODE, None)
    assert names(c.cluster) == ["10.0.0.1"] and c.has_any


def test_not_serving_means_no_endpoints():
    c = categorize((e("10.0.0.1", ready=False, serving=False, terminating=True),), svc(), NODE, None)
    assert not c.has_any and c.cluster == ()


def test_internal_local_policy_uses_only_local_endpoints():
    eps = (e("10.0.0.1", local=True), e("10.0.0.2"))
    c = categorize(eps, svc(internal_policy_local=True), NODE, None)
    assert names(c.local) == ["10.0.0.1"] and c.cluster == () and names(c.reachable) == ["10.0.0.1"]


def test_internal_local_policy_without_local_endpoints_still_has_endpoints():
    c = categorize((e("10.0.0.2"),), svc(internal_policy_local=True), NODE, None)
    assert c.has_any and c.local == () and c.reachable == ()


def test_external_local_merges_terminating_local_with_remote_ready():
    eps = (e("10.0.0.1", local=True, ready=False, terminating=True), e("10.0.0.2"))
    c = categorize(eps, svc(external_policy_local=True, node_port=30000), NODE, None)
    assert names(c.cluster) == ["10.0.0.2"]
    assert names(c.local) == ["10.0.0.1"]
    assert names(c.reachable) == ["10.0.0.1", "10.0.0.2"]


def test_zone_hints_narrow_cluster_endpoints():
    eps = (e("10.0.0.1", zones={"a"}), e("10.0.0.2", zones={"b"}))
    assert topology_mode(eps, NODE, "a") is TopologyMode.PREFER_SAME_ZONE
    assert names(categorize(eps, svc(), NODE, "a").cluster) == ["10.0.0.1"]


def test_hints_ignored_when_incomplete_or_not_for_us():
    partial = (e("10.0.0.1", zones={"a"}), e("10.0.0.2"))
    assert names(categorize(partial, svc(), NODE, "a").cluster) == ["10.0.0.1", "10.0.0.2"]
    other = (e("10.0.0.1", zones={"b"}), e("10.0.0.2", zones={"b"}))
    assert names(categorize(other, svc(), NODE, "a").cluster) == ["10.0.0.1", "10.0.0.2"]
    assert topology_mode(other, NODE, None) is TopologyMode.NONE


def test_node_hints_win_over_zone_hints():
    eps = (e("10.0.0.1", zones={"a"}, nodes={NODE}), e("10.0.0.2", zones={"a"}, nodes={"other"}))
    assert topology_mode(eps, NODE, "a") is TopologyMode.PREFER_SAME_NODE
    assert names(categorize(eps, svc(), NODE, "a").cluster) == ["10.0.0.1"]


def test_local_endpoint_outside_topology_is_still_reachable_for_local_policy():
    eps = (e("10.0.0.1", local=True, zones={"b"}), e("10.0.0.2", zones={"a"}))
    c = categorize(eps, svc(external_policy_local=True, node_port=30000), NODE, "a")
    assert names(c.cluster) == ["10.0.0.2"] and names(c.local) == ["10.0.0.1"]
    assert names(c.reachable) == ["10.0.0.1", "10.0.0.2"]


def test_without_the_prefer_same_traffic_distribution_gate_node_hints_are_not_read():
    """kube-proxy with the gate off: a PreferSameNode service's endpoints, hinted for their node and their zone,
    are narrowed to the node's zone; node hints alone narrow nothing; zone hints still do."""
    both = (e("10.0.0.1", zones={"a"}, nodes={NODE}), e("10.0.0.2", zones={"a"}, nodes={"other"}),
            e("10.0.0.3", zones={"b"}, nodes={"third"}))
    assert topology_mode(both, NODE, "a", node_hints=False) is TopologyMode.PREFER_SAME_ZONE
    assert names(categorize(both, svc(), NODE, "a", node_hints=False).cluster) == ["10.0.0.1", "10.0.0.2"]
    assert names(categorize(both, svc(), NODE, "a").cluster) == ["10.0.0.1"]  # the gate on: the node's own
    nodes_only = (e("10.0.0.1", nodes={NODE}), e("10.0.0.2", nodes={"other"}))
    assert topology_mode(nodes_only, NODE, "a", node_hints=False) is TopologyMode.NONE
    c = categorize(nodes_only, svc(external_policy_local=True, node_port=30000), NODE, "a", node_hints=False)
    assert names(c.cluster) == ["10.0.0.1", "10.0.0.2"] and names(c.reachable) == ["10.0.0.1", "10.0.0.2"]
