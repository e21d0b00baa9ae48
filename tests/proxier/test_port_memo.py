"""``proxier.sync.PortMemo`` shared across nodes: a service port's rules are written once for every node whose
inputs to them are the same (``port_inputs``), and each node's sync with the shared memo writes exactly the rules
it writes alone, whatever node-specific inputs (endpoints on the node, node and zone hints, zones, source ranges
holding a node IP, NodeCIDR local detection, node IPs, node port addresses, the PreferSameTrafficDistribution
gate) vary between the nodes.
"""

from __future__ import annotations

import dataclasses
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    LoadBalancerIngress,
    Node,
    NodeAddress,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    TrafficPolicy,
)
from kubeproxy_sim.proxier import sync
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig
from kubeproxy_sim.proxier.rules import context
from kubeproxy_sim.proxier.sync import PortMemo, generate
from tests.budget import budget
from tests.strategies import CONDITIONS

ZONES = ("zone-a", "zone-b")
SOURCE_RANGES = ("192.168.0.0/24", "192.168.0.11/32", "203.0.113.0/24", "127.0.0.0/8")


@dataclasses.dataclass(frozen=True, slots=True)
class Nodes:
    """Each node's name, address (None: none known), pod CIDR (None: none) and zone (None: no label)."""

    names: tuple[str, ...]
    addresses: tuple[str | None, ...]
    pod_cidrs: tuple[str | None, ...]
    zones: tuple[str | None, ...]


@st.composite
def node_facts(draw: st.DrawFn) -> Nodes:
    """2-4 nodes; zones repeat (two nodes of one zone write the same zone-hinted rules), a node may lack an
    address or a pod CIDR."""
    count = draw(st.integers(2, 4))
    names = tuple(f"node{i + 1}" for i in range(count))
    addresses = tuple(draw(st.sampled_from([f"192.168.0.{10 + i}", f"198.51.100.{i + 1}", None]))
                      for i in range(count))
    pod_cidrs = tuple(draw(st.sampled_from([f"10.244.{i}.0/24", None])) for i in range(count))
    zones = tuple(draw(st.sampled_from([*ZONES, None])) for _ in range(count))
    return Nodes(names, addresses, pod_cidrs, zones)


@st.composite
def hinted_endpoints(draw: st.DrawFn, nodes: Nodes, index: int) -> tuple[Endpoint, ...]:
    """0-4 endpoints on the nodes, with no hints, zone hints or node hints (on every endpoint or some)."""
    hints = draw(st.sampled_from(["none", "zones", "nodes", "both"]))
    out = []
    for j in range(draw(st.integers(0, 4))):
        node = draw(st.integers(0, len(nodes.names) - 1))
        partial = draw(st.integers(0, 5)) == 0  # now and then one endpoint without: hints ignored
        zones = None if partial or hints not in ("zones", "both") else \
            tuple(draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True)))
        # node hints: the endpoint's own node, as the EndpointSlice controller writes them, or any nodes
        for_nodes = None if partial or hints not in ("nodes", "both") else \
            draw(st.sampled_from([(nodes.names[node],), *[(name,) for name in nodes.names], nodes.names[:2]]))
        condition = CONDITIONS[draw(st.sampled_from(["ready", "ready", "ready", *sorted(CONDITIONS)]))]
        out.append(Endpoint((f"10.244.{node}.{index * 10 + j + 10}",), condition,
                            node_name=nodes.names[node], zone=nodes.zones[node],
                            hints_for_zones=zones, hints_for_nodes=for_nodes))
    return tuple(out)


@st.composite
def service(draw: st.DrawFn, nodes: Nodes, index: int) -> tuple[Service, EndpointSlice]:
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    ports = (ServicePort("p", draw(st.sampled_from([Protocol.TCP, Protocol.UDP])), 80, 8080,
                         node_port=30000 + index if kind is not ServiceType.CLUSTER_IP else 0),)
    lb = kind is ServiceType.LOAD_BALANCER
    etp = draw(st.sampled_from(list(TrafficPolicy))) if kind is not ServiceType.CLUSTER_IP else TrafficPolicy.CLUSTER
    svc = Service(
        "default", f"svc{index}", kind, (f"10.96.0.{index + 10}",), (IPFamily.IPV4,), ports,
        load_balancer_ingress=(LoadBalancerIngress(ip=f"203.0.113.{index + 100}"),) if lb else (),
        load_balancer_source_ranges=tuple(draw(st.lists(st.sampled_from(SOURCE_RANGES), max_size=2, unique=True)))
        if lb else (),
        external_ips=(f"172.16.0.{index + 1}",) if draw(st.booleans()) else (),
        external_traffic_policy=etp, internal_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        health_check_node_port=32000 + index if lb and etp is TrafficPolicy.LOCAL else 0)
    slice_ = EndpointSlice("default", f"svc{index}-x", f"svc{index}", AddressType.IPV4,
                           draw(hinted_endpoints(nodes, index)), (EndpointPort("p", 8080, ports[0].protocol),))
    return svc, slice_


@st.composite
def node_wide(draw: st.DrawFn) -> dict[str, object]:
    """Settings a cluster's nodes usually share, drawn per node here: the memo must tell them apart all the same."""
    return {"detect_local_mode": draw(st.sampled_from([DetectLocalMode.CLUSTER_CIDR, DetectLocalMode.NODE_CIDR,
                                                         DetectLocalMode.BRIDGE_INTERFACE])),
            "masquerade_all": draw(st.booleans()), "localhost_nodeports": draw(st.sampled_from([True, True, False])),
            "nfacct": draw(st.booleans()),  # (with the two before and the addresses: the localhost node port counter)
            # whether node hints are read: with it off, no port's rules read the node's name
            "prefer_same_traffic_distribution": draw(st.sampled_from([True, True, False])),
            "nodeport_addresses": draw(st.sampled_from([(), (), ("primary",), ("192.168.0.0/24",), ("127.0.0.0/8",)]))}


@st.composite
def clusters_and_configs(draw: st.DrawFn) -> tuple[Cluster, list[tuple[ProxyConfig, bool]]]:
    """A cluster, and each node's config and whether its sync is in large-cluster mode (the threshold lowered
    below the cluster's endpoints), in a drawn order of sync. Node-wide settings are the first node's on every
    node, or drawn for each."""
    nodes = draw(node_facts())
    pairs = [draw(service(nodes, i)) for i in range(draw(st.integers(1, 4)))]
    node_objects = tuple(Node(name, (NodeAddress("InternalIP", ip),) if ip else (), (cidr,) if cidr else (),
                              (("topology.kubernetes.io/zone", zone),) if zone else ())
                         for name, ip, cidr, zone in zip(nodes.names, nodes.addresses, nodes.pod_cidrs, nodes.zones,
                                                         strict=True))
    cluster = Cluster(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), node_objects)
    shared, large = draw(node_wide()), draw(st.booleans())
    each = draw(st.booleans())
    configs = [(ProxyConfig(node_name=name, node_ips=(f"{ip}/24",) if ip else (), cluster_cidrs=("10.244.0.0/16",),
                            node_pod_cidrs=(cidr,) if cidr else (), bridge_interface="cbr0", node_labels=node.labels,
                            **(draw(node_wide()) if each else shared)),  # type: ignore[arg-type]
                draw(st.booleans()) if each else large)
               for name, ip, cidr, node in zip(nodes.names, nodes.addresses, nodes.pod_cidrs, node_objects,
                                               strict=True)]
    return cluster, draw(st.permutations(configs))


@settings(max_examples=budget(300), deadline=None)
@given(clusters_and_configs())
def test_every_node_written_with_one_memo_writes_the_rules_it_writes_alone(
        drawn: tuple[Cluster, list[tuple[ProxyConfig, bool]]]) -> None:
    cluster, configs = drawn
    written: PortMemo = {}
    for config, large in configs:
        with mock.patch.object(context, "LARGE_CLUSTER_THRESHOLD", 1 if large else context.LARGE_CLUSTER_THRESHOLD):
            assert generate(cluster, config, written) == generate(cluster, config), config.node_name


def _three_nodes(mode: DetectLocalMode = DetectLocalMode.CLUSTER_CIDR) -> tuple[Cluster, list[ProxyConfig]]:
    """A ClusterIP service ``plain`` and a NodePort service ``local`` (externalTrafficPolicy Local), each with
    one endpoint on node1, on three nodes."""
    names = ("node1", "node2", "node3")
    nodes = tuple(Node(name, (NodeAddress("InternalIP", f"192.168.0.{11 + i}"),), (f"10.244.{i}.0/24",))
                  for i, name in enumerate(names))
    services = (Service("default", "plain", ServiceType.CLUSTER_IP, ("10.96.0.10",), (IPFamily.IPV4,),
                        (ServicePort("", Protocol.TCP, 80, 8080),)),
                Service("default", "local", ServiceType.NODE_PORT, ("10.96.0.11",), (IPFamily.IPV4,),
                        (ServicePort("", Protocol.TCP, 80, 8080, node_port=30080),),
                        external_traffic_policy=TrafficPolicy.LOCAL))
    slices = tuple(EndpointSlice("default", f"{s.name}-x", s.name, AddressType.IPV4,
                                 (Endpoint((f"10.244.0.{10 + i}",), CONDITIONS["ready"], node_name="node1"),),
                                 (EndpointPort("", 8080, Protocol.TCP),))
                   for i, s in enumerate(services))
    base = ProxyConfig(cluster_cidrs=("10.244.0.0/16",), detect_local_mode=mode)
    configs = [dataclasses.replace(base, node_name=n.name, node_ips=(f"{n.addresses[0].address}/32",),
                                   node_pod_cidrs=n.pod_cidrs) for n in nodes]
    return Cluster(services, slices, nodes), configs


@pytest.mark.parametrize(("mode", "expected"), [
    # plain reads nothing of its node: written once; local reads which endpoints are the node's: node1's rules,
    # and one set for node2 and node3 (no local endpoint: the DROP)
    (DetectLocalMode.CLUSTER_CIDR, {"plain": 1, "local": 2}),
    # every node's detector is its own pod CIDR, which both ports' masquerade rules read
    (DetectLocalMode.NODE_CIDR, {"plain": 3, "local": 3}),
])
def test_a_port_is_written_once_for_the_nodes_it_reads_alike(monkeypatch: pytest.MonkeyPatch,
                                                             mode: DetectLocalMode, expected: dict[str, int]) -> None:
    cluster, configs = _three_nodes(mode)
    counts: dict[str, int] = {}
    real = sync.write_service_port

    def counting(ctx, svc, eps, zone, out):  # type: ignore[no-untyped-def]
        counts[svc.name] = counts.get(svc.name, 0) + 1
        return real(ctx, svc, eps, zone, out)

    monkeypatch.setattr(sync, "write_service_port", counting)
    written: PortMemo = {}
    for config in configs:
        generate(cluster, config, written)
    assert counts == expected


@pytest.mark.parametrize(("gate", "writes"), [(True, 3), (False, 1)])
def test_node_hinted_rules_are_each_node_s_own_only_when_the_gate_lets_kube_proxy_read_them(
        monkeypatch: pytest.MonkeyPatch, gate: bool, writes: int) -> None:
    """A ClusterIP service whose endpoints are hinted for their own node (PreferSameNode), one on each node: with
    PreferSameTrafficDistribution each node writes its own endpoint only; without, every node writes all three,
    once for them all."""
    cluster, configs = _three_nodes()
    hinted = tuple(Endpoint((f"10.244.{i}.20",), CONDITIONS["ready"], node_name=f"node{i + 1}",
                            hints_for_nodes=(f"node{i + 1}",)) for i in range(3))
    slices = (dataclasses.replace(cluster.endpoint_slices[0], endpoints=hinted), *cluster.endpoint_slices[1:])
    cluster = dataclasses.replace(cluster, endpoint_slices=slices)
    counts: list[str] = []
    real = sync.write_service_port

    def counting(ctx, svc, eps, zone, out):  # type: ignore[no-untyped-def]
        counts.append(svc.name)
        return real(ctx, svc, eps, zone, out)

    monkeypatch.setattr(sync, "write_service_port", counting)
    written: PortMemo = {}
    for config in configs:
        config = dataclasses.replace(config, prefer_same_traffic_distribution=gate)
        rules = generate(cluster, config, written)
        assert ("10.244.1.20:8080" in str(rules)) is (not gate or config.node_name == "node2")
    assert counts.count("plain") == writes
