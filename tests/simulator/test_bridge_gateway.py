"""The pod bridge's gateway address: the source a masqueraded connection to a local pod, and the node's own
connection to one, carries (kubenet's ``cbr0``, the bridge plugin's ``cni0`` and Flannel's bridge have the pod
CIDR's first address; the kernel's MASQUERADE takes the outgoing interface's address)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from kubeproxy_sim.objects.model import IPFamily
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig
from kubeproxy_sim.simulator.network import Client, Simulator
from kubeproxy_sim.simulator.send import parse_source, send
from kubeproxy_sim.simulator.topology import bridge_gateways
from tests.simulator.builders import BASE, HOSTS, load, objects

GATEWAY1, GATEWAY2 = "10.244.1.1", "10.244.2.1"
NODE1 = "192.168.0.10"


def _sim(config: ProxyConfig = BASE, docs: list[dict] | None = None) -> Simulator:
    return Simulator(load(docs or objects()), config, rng=random.Random(1), hosts=HOSTS)


def _seen(sim: Simulator, client: Client, dst: str, port: int, tries: int = 60) -> dict[str, set[str]]:
    """endpoint -> the sources it saw, over ``tries`` connections from new ports."""
    seen: dict[str, set[str]] = {}
    for _ in range(tries):
        made = sim.connect(client, dst, port)
        assert made.failure is None, made
        seen.setdefault(made.target, set()).add(made.seen)
    return seen


def test_each_pod_cidr_gives_its_first_address() -> None:
    assert bridge_gateways(("10.244.1.0/24", "fd00:10:244:1::/64"), False, ()) == ("10.244.1.1", "fd00:10:244:1::1")


def test_no_gateway_on_routed_nodes_for_a_taken_address_or_a_range_without_room() -> None:
    assert bridge_gateways(("10.244.1.0/24",), True, ()) == ()  # Calico-like: no bridge of the pods
    assert bridge_gateways(("10.244.1.0/24",), False, ("10.244.1.1",)) == ()  # a pod there: the objects win
    assert bridge_gateways(("10.244.1.0/31", "10.244.1.8/32"), False, ()) == ()


def test_the_topology_gives_each_node_its_bridge_gateway() -> None:
    assert {n.name: n.gateways for n in _sim().topology.nodes} == {"node1": (GATEWAY1,), "node2": (GATEWAY2,)}


def test_hairpin_is_masqueraded_to_the_bridge_address() -> None:
    sim = _sim()
    seen = _seen(sim, sim.client("pod", "default/web-1"), "10.96.0.10", 80)
    assert seen == {"default/web-1": {GATEWAY1}, "default/web-2": {"10.244.1.10"}, "default/web-3": {"10.244.1.10"}}


def test_a_node_s_connection_to_a_cluster_ip_is_masqueraded_by_the_interface_it_leaves() -> None:
    """The node's socket takes its primary address (the Service's route is eth0's); KUBE-MARK-MASQ (not from the
    cluster CIDR) then masquerades it to the bridge's address towards its own pod, to eth0's towards the others."""
    sim = _sim()
    seen = _seen(sim, sim.client("node", "node1"), "10.96.0.10", 80)
    assert seen == {"default/web-1": {GATEWAY1}, "default/web-2": {NODE1}, "default/web-3": {NODE1}}


def test_without_a_local_traffic_detector_the_node_s_address_stays() -> None:
    """No cluster CIDR and no --masquerade-all: nothing marks the node's connection, so no MASQUERADE rewrites it,
    and its own pod sees the node's primary address, as its socket has it."""
    sim = _sim(dataclasses.replace(BASE, cluster_cidrs=()))
    seen = _seen(sim, sim.client("node", "node1"), "10.96.0.10", 80)
    assert seen == {"default/web-1": {NODE1}, "default/web-2": {NODE1}, "default/web-3": {NODE1}}


def test_an_outside_connection_to_a_node_port_sees_the_bridge_of_the_node_it_entered() -> None:
    sim = _sim()
    seen = _seen(sim, sim.client("external"), "192.168.0.11", 30080)
    assert seen == {"default/web-1": {"192.168.0.11"}, "default/web-2": {GATEWAY2}, "default/web-3": {GATEWAY2}}


def test_a_node_s_direct_connection_to_its_pod_leaves_from_the_bridge_unless_bound() -> None:
    """The route to a local pod is the bridge's, with its address as the source; a socket bound to the node's
    address (``--from 192.168.0.10``, as netns send binds it) keeps that one; another node's pod is eth0's."""
    sim = _sim()
    node = sim.client("node", "node1")
    assert sim.connect(node, "10.244.1.10", 8080).seen == GATEWAY1
    assert sim.connect(node, "10.244.2.10", 8080).seen == NODE1
    bound = parse_source(sim, NODE1)
    assert bound.bound and sim.connect(bound, "10.244.1.10", 8080).seen == NODE1


def test_the_bridge_address_is_the_node_s_own() -> None:
    """A pod's connection to its bridge's address reaches the node (addrtype LOCAL: a NodePort answers there)."""
    sim = _sim()
    made = sim.connect(sim.client("pod", "default/client"), GATEWAY1, 30080)
    assert made.failure is None and made.target.startswith("default/web-")


@pytest.mark.parametrize("source", ["pod/default/client", "node/node1", "pod/default/client2"])
def test_another_node_s_bridge_address_is_that_node_s_own(source: str) -> None:
    """10.244.2.1 is node2's: the others reach it by their route to its pod CIDR and node2 delivers it locally, so
    nothing listening there refuses (RST, or port unreachable for UDP), node2's healthz answers and its NodePort
    balances, as the kernel does (tests/kernel/test_bridge_gateway.py); the expectation said TIMEOUT (no ARP)."""
    sim = _sim()
    for proto in ("tcp", "udp"):
        refused = send(sim, source, f"{GATEWAY2}:80", proto=proto, count=4)
        assert [(f.reason, f.expected) for f in refused.failed] == [("REJECT", 1.0)], proto
        assert refused.failed[0].detail.startswith(f"node node2 ({GATEWAY2}): nothing listens on {proto}/80")
    healthz = send(sim, source, f"{GATEWAY2}:10256", count=4)
    assert [(d.pod, d.node, d.expected) for d in healthz.delivered] == [("node/node2", "node2", 1.0)]
    balanced = send(sim, source, f"{GATEWAY2}:30080", count=30)
    assert not balanced.failed and {d.pod: d.expected for d in balanced.delivered} == \
        {key: pytest.approx(1 / 3) for key in ("default/web-1", "default/web-2", "default/web-3")}


def test_from_a_bridge_address_is_the_node_bound_to_it() -> None:
    """``--from 10.244.1.1`` is node1 with its socket bound to its pod bridge's address (netns send's reading; send
    took it for a machine outside, which the router could not even answer): every peer sees that address."""
    sim = _sim()
    client = parse_source(sim, GATEWAY1)
    assert (client.label, client.kind, client.node, client.bound) == (f"node/node1 ({GATEWAY1})", "node", "node1", True)
    assert {sim.connect(client, ip, 8080).seen for ip in ("10.244.1.10", "10.244.2.10")} == {GATEWAY1}
    result = send(sim, GATEWAY1, "10.96.0.10:80", count=30)
    assert result.source == f"node/node1 ({GATEWAY1})" and not result.failed
    assert {d.pod: d.sources_seen for d in result.delivered} == \
        {key: (GATEWAY1,) for key in ("default/web-1", "default/web-2", "default/web-3")}
    assert parse_source(sim, f"external:{GATEWAY1}").kind == "external"  # an outside machine only when asked so


def test_routed_veth_nodes_keep_the_node_s_address() -> None:
    """interface-name-prefix (Calico-like): pods on routed veths, which have no address of global scope, so
    MASQUERADE falls back to the node's first device that has one (eth0)."""
    config = dataclasses.replace(BASE, detect_local_mode=DetectLocalMode.INTERFACE_NAME_PREFIX,
                                 interface_name_prefix="cali")
    sim = _sim(config)
    assert all(n.gateways == () for n in sim.topology.nodes)
    seen = _seen(sim, sim.client("pod", "default/web-1"), "10.96.0.10", 80)
    assert seen["default/web-1"] == {NODE1}


@pytest.mark.parametrize("local", [True, False])
def test_ipv6_masquerade_prefers_the_bridge_s_global_address(local: bool) -> None:
    """IPv6 source selection prefers an address of the outgoing interface (RFC 6724 rule 5): the bridge's gateway
    towards a local pod, the node's address towards another node's."""
    docs = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
             "spec": {"podCIDRs": [f"fd00:10:244:{i}::/64"]},
             "status": {"addresses": [{"type": "InternalIP", "address": f"2001:db8::{i}"}]}}
            for i, name in ((1, "node1"), (2, "node2"))]
    docs += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"clusterIP": "fd00:10:96::10", "ipFamilies": ["IPv6"],
                       "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}},
             {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
              "addressType": "IPv6", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
              "endpoints": [{"addresses": ["fd00:10:244:1::10" if local else "fd00:10:244:2::10"],
                             "nodeName": "node1" if local else "node2", "conditions": {"ready": True}}]}]
    config = dataclasses.replace(BASE, ip_family=IPFamily.IPV6, cluster_cidrs=("fd00:10:244::/48",))
    sim = _sim(config, docs)
    made = sim.connect(sim.client("node", "node1"), "fd00:10:96::10", 80)
    assert made.failure is None and made.seen == ("fd00:10:244:1::1" if local else "2001:db8::1")
