"""``send``'s expected shares follow a connection DNATed to another node's own address there, as its walk does.

That node's conntrack sees a new connection, so its rules take it again: a Service whose endpoint is another
node's NodePort reaches that NodePort's endpoints (``netns verify`` showed the kernel doing so).
"""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
)
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from tests.simulator.builders import BASE, NODES, PODS, load, objects
from tests.strategies import CONDITIONS, ClusterCase, clusters, node_ip

CHAINED_IP = "10.96.0.77"


def chained(address: str, port: int, proto: Protocol = Protocol.TCP, family: IPFamily = IPFamily.IPV4,
            cluster_ip: str = CHAINED_IP) -> tuple[Service, EndpointSlice]:
    """A selectorless Service (port 80) whose one endpoint is ``address``:``port``, e.g. a node's NodePort."""
    service = Service("default", "chained", cluster_ips=(cluster_ip,), ip_families=(family,),
                      ports=(ServicePort("p", proto, 80, port),))
    kind = AddressType.IPV4 if family is IPFamily.IPV4 else AddressType.IPV6
    slice_ = EndpointSlice("default", "chained-1", "chained", kind, (Endpoint((address,), CONDITIONS["ready"]),),
                           (EndpointPort("p", port, proto),))
    return service, slice_


def node_port(name: str, cluster_ip: str, port: int, address: str, target: int,
              proto: Protocol = Protocol.TCP) -> tuple[Service, EndpointSlice]:
    """A selectorless NodePort Service at ``port`` whose one endpoint is ``address``:``target``."""
    service, slice_ = chained(address, target, proto, cluster_ip=cluster_ip)
    service = dataclasses.replace(service, name=name, type=ServiceType.NODE_PORT,
                                  ports=(ServicePort("p", proto, 80, target, port),))
    return service, dataclasses.replace(slice_, name=f"{name}-1", service_name=name)


def looped(cluster, proto: Protocol = Protocol.TCP):
    """``cluster`` with two NodePorts each other's endpoint (node2's 30095 -> node1's 30096 -> node2's 30095) and
    the chained Service in front of node2's, all of ``proto``: its connections from node1 never end anywhere."""
    for pair in (node_port("hopa", "10.96.0.95", 30095, NODES["node1"][0], 30096, proto),
                 node_port("hopb", "10.96.0.96", 30096, NODES["node2"][0], 30095, proto),
                 chained(NODES["node2"][0], 30095, proto)):
        cluster = _with(cluster, pair)
    return cluster


def _with(cluster, pair):
    service, slice_ = pair
    return dataclasses.replace(cluster, services=(*cluster.services, service),
                               endpoint_slices=(*cluster.endpoint_slices, slice_))


def drawn_hop(case: ClusterCase, data: st.DataObject) -> tuple[Cluster, str, str]:
    """The hop properties' case: ``case``'s cluster with the chained Service in front of another node's NodePort
    of a Service with endpoints (so a connection is DNATed again there), the node it is sent from, and the
    chained Service's ``IP:PORT`` to send to."""
    names = [n.name for n in case.cluster.nodes]
    listed = {sl.service_name for sl in case.cluster.endpoint_slices if sl.endpoints}
    ports = sorted({p.node_port for s in case.cluster.services if s.name in listed for p in s.ports if p.node_port})
    assume(len(names) > 1 and ports)
    target = data.draw(st.integers(0, len(names) - 1))
    node = data.draw(st.sampled_from([n for i, n in enumerate(names) if i != target]))
    port = data.draw(st.sampled_from(ports))
    family = IPFamily.IPV6 if case.ipv6 else IPFamily.IPV4
    cluster_ip = "fd00:96::77" if case.ipv6 else CHAINED_IP
    cluster = _with(case.cluster, chained(node_ip(target, case.ipv6), port, family=family, cluster_ip=cluster_ip))
    return cluster, node, f"[{cluster_ip}]:80" if case.ipv6 else f"{cluster_ip}:80"


def test_a_service_in_front_of_another_node_s_node_port_reaches_that_node_port_s_endpoints() -> None:
    """web-np's NodePort on node2 DNATs again, to web's three pods (masqueraded there): each gets a third of the
    expected shares, and node2 itself (the made-up host at its address) none (it had them all)."""
    cluster = _with(load(objects()), chained(NODES["node2"][0], 30080))
    for source in ("pod/default/client", "node/node1"):
        result = send(Simulator(cluster, BASE, rng=random.Random(3)), source, f"{CHAINED_IP}:80", count=300, seed=3)
        assert not result.failed
        rows = {d.ip: d for d in result.delivered}
        assert set(rows) == {PODS[p][1] for p in ("web-1", "web-2", "web-3")}, source
        assert all(abs(d.expected - 1 / 3) < 1e-6 and d.count > 0 for d in rows.values())
        assert rows[PODS["web-1"][1]].sources_seen == (NODES["node2"][0],)  # node2 masqueraded it, to node1


def test_a_bypassed_dnat_to_another_node_s_host_network_endpoint_keeps_its_why() -> None:
    """A pod of node2 to node1's Local NodePort whose only endpoint is node2's address (a host-network pod): node1
    DNATs it there unmasqueraded, so the reply skips node1: followed to node2, the DNAT is still the evidence
    the row's words are made of (analysis.why)."""
    hostnet = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "agent", "namespace": "default"},
                "spec": {"type": "NodePort", "clusterIP": "10.96.0.78", "externalTrafficPolicy": "Local",
                         "ports": [{"name": "p", "port": 80, "targetPort": 9100, "nodePort": 30078}]}},
               {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "agent-1", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": "agent"}},
                "addressType": "IPv4", "ports": [{"name": "p", "port": 9100, "protocol": "TCP"}],
                "endpoints": [{"addresses": [NODES["node2"][0]], "nodeName": "node2"}]}]
    sim = Simulator(load(objects(extra=hostnet)), BASE, rng=random.Random(1))
    result = send(sim, "pod/default/client2", f"{NODES['node1'][0]}:30078", count=5, seed=1)
    assert [f.reason for f in result.failed] == ["WRONG_REPLY_SOURCE"]
    assert [(d.ip, d.expected) for d in result.delivered] == [(NODES["node2"][0], 1.0)]
    assert result.evidence is not None and [(NODES["node2"][0], 9100)] == list(result.evidence.bypassed)


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(case=clusters(), data=st.data())
def test_every_endpoint_a_connection_reaches_has_an_expected_share(case: ClusterCase, data: st.DataObject) -> None:
    """The walk and the exact shares agree on who can answer when the first DNAT's target is another node's
    NodePort of a Service with endpoints (DNATed again there), from a node or one of its pods: a row with
    connections has a share, a failure with connections too, and the shares add up to 1."""
    cluster, node, dst = drawn_hop(case, data)
    sim = Simulator(cluster, case.config, rng=random.Random(5))
    pods = [f"pod/{p.key}" for p in sim.topology.pods if p.node == node]
    source = data.draw(st.sampled_from([f"node/{node}", *pods]))
    result = send(sim, source, dst, count=60, seed=5)
    for row in (*result.delivered, *(f for f in result.failed if f.lost is None)):
        assert row.count == 0 or (row.expected or 0) > 0, (row, result)  # (a reply's loss: its delivered row's)
    total = sum(Fraction(str(d.expected or 0)) for d in result.delivered) + \
        sum(Fraction(str(e)) for e in {f.reason: f.expected or 0 for f in result.failed}.values())
    assert abs(total - 1) <= Fraction(1, 10**5), result


def test_nodeports_that_send_to_each_other_fail_unreachable_to_tcp() -> None:
    """node2's NodePort DNATs to node1's, which DNATs back: the run's connections go round in circles until the
    TTL runs out, and the ICMP time exceeded ends a TCP connect (NO_ROUTE, as netns send names EHOSTUNREACH); so
    are they expected to (next_hop's limit), not answered at the last address the walk was sent to."""
    cluster = looped(load(objects()))
    for source in ("pod/default/client", "node/node1", "external"):
        result = send(Simulator(cluster, BASE, rng=random.Random(3)), source, f"{NODES['node2'][0]}:30095",
                      count=20, seed=3)
        assert not any(d.expected for d in result.delivered), source
        (row,) = result.failed
        assert (row.reason, row.count, row.expected) == ("NO_ROUTE", 20, 1), (source, row)
        assert row.detail.startswith("the packet went round in circles (more than 32 hops): its TTL ran out"), row
    result = send(Simulator(cluster, BASE, rng=random.Random(3)), "node/node1", f"{CHAINED_IP}:80", count=20, seed=3)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("NO_ROUTE", 20, 1)]


def test_nodeports_that_send_to_each_other_are_silence_to_udp() -> None:
    """The same loop of UDP NodePorts: the ICMP time exceeded is a soft error to a UDP socket (as a router's net
    unreachable is), which hears nothing: TIMEOUT, and so expected, said why."""
    cluster = looped(load(objects()), Protocol.UDP)
    for source in ("pod/default/client", "node/node1"):
        result = send(Simulator(cluster, BASE, rng=random.Random(3)), source, f"{CHAINED_IP}:80", proto="udp",
                      count=20, seed=3)
        assert not any(d.expected for d in result.delivered), source
        (row,) = result.failed
        assert (row.reason, row.count, row.expected) == ("TIMEOUT", 20, 1), (source, row)
        assert row.detail.endswith("the ICMP time exceeded is a soft error to a UDP socket, which hears nothing")
