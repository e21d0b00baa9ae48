"""Where the router's "no route" answer goes after a node DNATed the packet: to the source as the packet left,
straight; only the node that DNATed it can map it back to the client's connection (its conntrack), so a client
whose packet was not masqueraded there hears nothing (the kernel: tests/kernel/test_differential_wide.py)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from kubeproxy_sim.kernel.differential import SILENCE, UNREACHABLE, Flow, SimulatorSide, kernel_cluster
from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Node,
    NodeAddress,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    TrafficPolicy,
)
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send

CONFIG = ProxyConfig(node_name="node1", node_ips=("192.168.0.10/32",), cluster_cidrs=("10.244.0.0/16",),
                     node_pod_cidrs=("10.244.1.0/24",))


def nowhere(etp: TrafficPolicy) -> Cluster:
    """NodePort 30002 whose one endpoint, on node2, is another Service's clusterIP (no pod: the nodes route it to
    the router, which has no route to service addresses)."""
    web = Service("default", "web", ServiceType.NODE_PORT, ("10.96.0.10",), (IPFamily.IPV4,),
                  (ServicePort("p", Protocol.TCP, 82, 8082, node_port=30002),), selector=(("app", "web"),),
                  external_traffic_policy=etp)
    other = Service("default", "other", ServiceType.CLUSTER_IP, ("10.96.0.11",), (IPFamily.IPV4,),
                    (ServicePort("p", Protocol.TCP, 81, 8081),), selector=(("app", "other"),))
    slice_ = EndpointSlice("default", "web-0", "web", AddressType.IPV4,
                           (Endpoint(("10.96.0.11",), EndpointConditions(True, True, False), node_name="node2"),),
                           (EndpointPort("p", 8082, Protocol.TCP),))
    nodes = tuple(Node(f"node{i}", (NodeAddress("InternalIP", f"192.168.0.{9 + i}"),), (f"10.244.{i}.0/24",))
                  for i in (1, 2))
    return Cluster((web, other), (slice_,), nodes)


# client -> (eTP Local, eTP Cluster): with Local nothing masquerades an outside client's or another node's packet
HEARD = {"external": (False, True), "node/node1": (False, True), "node/node2": (True, True)}


@pytest.mark.parametrize("client", sorted(HEARD))
@pytest.mark.parametrize("etp", [TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER])
def test_the_router_s_answer_is_heard_only_by_way_of_the_node_that_dnated(client: str, etp: TrafficPolicy) -> None:
    sim = Simulator(nowhere(etp), CONFIG, rng=random.Random(1))
    heard = HEARD[client][etp is TrafficPolicy.CLUSTER]
    result = send(sim, client, "192.168.0.11:30002", count=3)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [
        ("NO_ROUTE" if heard else "TIMEOUT", 3, 1.0)]
    if not heard:
        assert "goes to " in result.failed[0].detail and "not by node2" in result.failed[0].detail


@pytest.mark.parametrize("etp", [TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER])
def test_the_differential_predicts_it_so(etp: TrafficPolicy) -> None:
    """The prediction alike; a pod's packet is masqueraded by the CNI on the node it leaves by (node2), so the
    answer comes back through node2 either way."""
    full, clients, _ = kernel_cluster(nowhere(etp), CONFIG)
    sims = SimulatorSide(full, CONFIG)
    local = etp is TrafficPolicy.LOCAL
    expected = {Flow("external", "node/node2:30002"): SILENCE if local else UNREACHABLE,
                Flow("node/node1", "192.168.0.11:30002"): SILENCE if local else UNREACHABLE,
                Flow(f"pod/{clients['node1']}", "192.168.0.11:30002"): UNREACHABLE}
    for flow, outcome in expected.items():
        assert sims.predict(flow).shares == {("fail", outcome): Fraction(1)}, flow.label


@pytest.mark.parametrize("translated", [None, "node2"])
def test_an_outside_host_s_refusal_after_a_dnat_follows_the_same_rule(translated: str | None) -> None:
    """An outside client's host refusing a port after node2 DNATed node1's packet to it: its RST goes to node1
    straight, as the router's answer does, and is heard only when nothing was DNATed (send's expectation and
    the differential's prediction both ask Simulator.answered_from_outside with the node that DNATed it)."""
    from kubeproxy_sim.simulator.send import _target_of

    full, _, _ = kernel_cluster(nowhere(TrafficPolicy.LOCAL), CONFIG)
    sims = SimulatorSide(full, CONFIG)
    client = "203.0.113.10"  # the stage's outside client, which listens on no port here
    expected = "REJECT" if translated is None else "TIMEOUT"
    assert _target_of(sims.plain, client, 9999, "tcp", "node2", "192.168.0.10", translated) == expected
    leaf = sims._leaf("", "node2", parse_address(client)[1], client, 9999, "tcp", "192.168.0.10", translated)
    assert leaf == ("fail", "refused" if translated is None else SILENCE)


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_an_outside_client_s_own_loopback_refuses(proto: str) -> None:
    """external -> 127.0.0.1: the outside host's own loopback answers, nothing listens there: refused (its RST
    or ICMP port unreachable), not the router's "no route" (the kernel: tests/kernel/test_differential_wide.py)."""
    sim = Simulator(nowhere(TrafficPolicy.CLUSTER), CONFIG, rng=random.Random(1))
    result = send(sim, "external", "127.0.0.1:30002", proto=proto, count=3)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("REJECT", 3, 1.0)]
    assert "own loopback" in result.failed[0].detail
    full, _, _ = kernel_cluster(nowhere(TrafficPolicy.CLUSTER), CONFIG)
    assert SimulatorSide(full, CONFIG).predict(Flow("external", "127.0.0.1:30002", proto)).shares == {
        ("fail", "refused"): Fraction(1)}


@pytest.mark.parametrize("etp", [TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER])
def test_a_node_s_own_gateway_source_is_its_route_s_in_the_expectation_too(etp: TrafficPolicy) -> None:
    """node1 -> its own pod bridge's gateway at the NodePort: the connection leaves from the gateway address (the
    route's source), which with eTP Local nothing masquerades (it is in the cluster CIDR: kube-proxy's pod shortcut)
    and the router has no route back to: silence; eTP Cluster masquerades it to node1's address: unreachable.
    send's expectation and the differential's prediction take the same source as the connection (the kernel
    agreed: tests/kernel/test_differential_wide.py's pinned case)."""
    sim = Simulator(nowhere(etp), CONFIG, rng=random.Random(1))
    silent = etp is TrafficPolicy.LOCAL
    result = send(sim, "node/node1", "10.244.1.1:30002", count=3)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [
        ("TIMEOUT" if silent else "NO_ROUTE", 3, 1.0)]
    full, _, _ = kernel_cluster(nowhere(etp), CONFIG)
    assert SimulatorSide(full, CONFIG).predict(Flow("node/node1", "10.244.1.1:30002")).shares == {
        ("fail", SILENCE if silent else UNREACHABLE): Fraction(1)}
