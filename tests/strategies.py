"""Hypothesis strategies for whole clusters, shared by the tests.

A generated cluster has 1-3 nodes (addresses, pod CIDRs, zones), 1-3 services
of every proxied type with 1-2 ports, traffic policies and session affinity,
and EndpointSlices whose endpoints mix ready, serving-terminating,
terminating and not-ready conditions across the nodes; one IP family per
cluster. ``ClusterCase`` carries the cluster and the matching base config.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointConditions,
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
    SessionAffinity,
    TrafficPolicy,
)
from kubeproxy_sim.proxier.config import ProxyConfig

# (ready, serving, terminating) as the EndpointSlice controller writes them
CONDITIONS = {
    "ready": EndpointConditions(True, True, False),
    "serving-terminating": EndpointConditions(False, True, True),
    "terminating": EndpointConditions(False, False, True),
    "not-ready": EndpointConditions(False, False, False),
}


@dataclass(frozen=True, slots=True)
class ClusterCase:
    cluster: Cluster
    config: ProxyConfig
    ipv6: bool


def node_ip(i: int, ipv6: bool) -> str:
    return f"fd00:192:168::{10 + i:x}" if ipv6 else f"192.168.0.{10 + i}"


def pod_cidr(i: int, ipv6: bool) -> str:
    return f"fd00:10:244:{i + 1:x}::/64" if ipv6 else f"10.244.{i + 1}.0/24"


def pod_ip(node: int, index: int, ipv6: bool) -> str:
    return f"fd00:10:244:{node + 1:x}::{index + 10:x}" if ipv6 else f"10.244.{node + 1}.{index + 10}"


def cluster_ip(i: int, ipv6: bool) -> str:
    return f"fd00:96::{i + 10:x}" if ipv6 else f"10.96.0.{i + 10}"


def lb_ip(i: int, ipv6: bool) -> str:
    return f"2001:db8:5::{i + 1:x}" if ipv6 else f"198.51.100.{i + 1}"


@st.composite
def endpoints(draw, nodes: int, ipv6: bool, used: set[str]) -> tuple[Endpoint, ...]:
    """0-6 endpoints, each on a node, each with a condition mix."""
    count = draw(st.integers(0, 6))
    out = []
    for _ in range(count):
        node = draw(st.integers(0, nodes - 1))
        index = draw(st.integers(0, 40))
        ip = pod_ip(node, index, ipv6)
        if ip in used:
            continue
        used.add(ip)
        cond = draw(st.sampled_from(sorted(CONDITIONS)))
        out.append(Endpoint((ip,), CONDITIONS[cond], node_name=f"node{node + 1}"))
    return tuple(out)


@st.composite
def services(draw, index: int, nodes: int, ipv6: bool, used: set[str]) -> tuple[Service, EndpointSlice]:
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    nports = draw(st.integers(1, 2))
    protocols = draw(st.lists(st.sampled_from([Protocol.TCP, Protocol.UDP]), min_size=nports, max_size=nports))
    ports = tuple(
        ServicePort(f"p{i}", proto, 80 + i, 8080 + i,
                    node_port=30000 + index * 10 + i if kind is not ServiceType.CLUSTER_IP else 0)
        for i, proto in enumerate(protocols))
    etp = draw(st.sampled_from(list(TrafficPolicy))) if kind is not ServiceType.CLUSTER_IP else TrafficPolicy.CLUSTER
    itp = draw(st.sampled_from(list(TrafficPolicy)))
    affinity = draw(st.sampled_from(list(SessionAffinity)))
    family = IPFamily.IPV6 if ipv6 else IPFamily.IPV4
    svc = Service(
        "default", f"svc{index}", kind, (cluster_ip(index, ipv6),), (family,), ports,
        selector=(("app", f"svc{index}"),),
        load_balancer_ingress=(LoadBalancerIngress(ip=lb_ip(index, ipv6)),) if kind is ServiceType.LOAD_BALANCER
        else (),
        external_traffic_policy=etp, internal_traffic_policy=itp,
        health_check_node_port=32000 + index if kind is ServiceType.LOAD_BALANCER and etp is TrafficPolicy.LOCAL
        else 0,
        session_affinity=affinity, affinity_timeout=draw(st.sampled_from([10800, 300, 10])),
    )
    eps = draw(endpoints(nodes, ipv6, used))
    slice_ = EndpointSlice(
        "default", f"svc{index}-abc", f"svc{index}", AddressType.IPV6 if ipv6 else AddressType.IPV4, eps,
        tuple(EndpointPort(p.name, p.target_port, p.protocol) for p in ports))  # type: ignore[arg-type]
    return svc, slice_


@st.composite
def clusters(draw, ipv6: bool | None = None) -> ClusterCase:
    """A whole cluster and the base kube-proxy config of its first node."""
    if ipv6 is None:
        ipv6 = draw(st.booleans())
    n_nodes = draw(st.integers(1, 3))
    nodes = tuple(
        Node(f"node{i + 1}", (NodeAddress("InternalIP", node_ip(i, ipv6)),), (pod_cidr(i, ipv6),),
             (("topology.kubernetes.io/zone", f"zone-{i}"),))
        for i in range(n_nodes))
    used: set[str] = set()
    pairs = [draw(services(i, n_nodes, ipv6, used)) for i in range(draw(st.integers(1, 3)))]
    cluster = Cluster(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), nodes)
    config = ProxyConfig(
        node_name="node1", ip_family=IPFamily.IPV6 if ipv6 else IPFamily.IPV4,
        node_ips=(node_ip(0, ipv6) + ("/128" if ipv6 else "/32"),),
        cluster_cidrs=("fd00:10:244::/48",) if ipv6 else ("10.244.0.0/16",),
        node_pod_cidrs=(pod_cidr(0, ipv6),), node_labels=nodes[0].labels)
    return ClusterCase(cluster, config, ipv6)
