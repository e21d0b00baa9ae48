"""Clusters for the kernel differential where ``tests.strategies.clusters`` never goes, and the flows to try on them.

``clusters`` draws Services of every type with policies and affinity, but never
externalIPs, loadBalancerSourceRanges, ipMode Proxy, named target ports, an
endpoint at a node's address (a host-network workload) or at a clusterIP, a
load-balancer IP or externalIP that is a node's address (or another Service's
clusterIP), several slices of one Service, a port number shared by two
protocols, all-terminating endpoints often, or a kube-proxy option other than
the defaults (masqueradeAll, detect-local modes, --nodeport-addresses,
localhost NodePorts off); and ``derive_flows`` never sends from a node or a pod
to a NodePort, a load-balancer IP or an externalIP. :func:`wide_clusters` draws
those (IPv4, two nodes mostly) and :func:`extra_flows` adds the in-cluster
flows to them, so that each generated case crosses several of these at once.
"""

from __future__ import annotations

from hypothesis import strategies as st

from kubeproxy_sim.kernel.differential import Flow
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
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig
from tests.strategies import CONDITIONS, ClusterCase, cluster_ip, lb_ip, node_ip, pod_cidr, pod_ip

EXTERNAL_CLIENT = "203.0.113.10"  # the stage's ``external`` source (kernel.plan.DEFAULT_CLIENT)
OTHER_CLIENT = "203.0.113.77"  # a second outside client, out of the /32 source ranges drawn below


def external_ip(i: int) -> str:
    return f"172.20.0.{i + 1}"


def _source_ranges() -> st.SearchStrategy[tuple[str, ...]]:
    return st.sampled_from([(), (f"{EXTERNAL_CLIENT}/32",), ("203.0.113.0/24",), ("192.168.0.0/24",),
                            ("10.244.0.0/16", "192.168.0.10/32")])


@st.composite
def _endpoints(draw, nodes: int, used: set[str]) -> tuple[Endpoint, ...]:
    """0-4 endpoints: pods with a condition mix, sometimes a node's own address (a host-network workload) or a
    Service's clusterIP (no pod: the nodes route it away), and sometimes all terminating (the serving-terminating
    fallback)."""
    out = []
    terminating_only = draw(st.integers(0, 4)) == 0  # one time in five
    for _ in range(draw(st.integers(0, 4))):
        node = draw(st.integers(0, nodes - 1))
        where = draw(st.integers(0, 11))
        host = where < 2
        ip = (node_ip(node, False) if host else cluster_ip(draw(st.integers(0, 2)), False) if where == 2
              else pod_ip(node, draw(st.integers(0, 30)), False))
        if ip in used and not host:
            continue
        used.add(ip)
        names = ["serving-terminating", "terminating"] if terminating_only else sorted(CONDITIONS)
        out.append(Endpoint((ip,), CONDITIONS[draw(st.sampled_from(names))], node_name=f"node{node + 1}"))
    return tuple(out)


@st.composite
def _ports(draw, index: int, kind: ServiceType) -> tuple[ServicePort, ...]:
    """1-3 ports; the same port number for TCP and UDP sometimes; target ports by name sometimes."""
    count = draw(st.integers(1, 3))
    shared = draw(st.booleans())
    named = draw(st.booleans())
    out: list[ServicePort] = []
    for i in range(count):
        proto = draw(st.sampled_from([Protocol.TCP, Protocol.UDP]))
        number = 80 if shared else 80 + i
        if any(p.port == number and p.protocol is proto for p in out):
            number = 80 + i
            if any(p.port == number and p.protocol is proto for p in out):
                continue
        node_port = 30000 + index * 10 + i if kind is not ServiceType.CLUSTER_IP else 0
        out.append(ServicePort(f"p{i}", proto, number, f"t{i}" if named else 8080 + i, node_port=node_port))
    return tuple(out)


@st.composite
def _slices(draw, index: int, ports: tuple[ServicePort, ...], nodes: int,
            used: set[str]) -> tuple[EndpointSlice, ...]:
    """1-2 slices; a second one's ports may differ (a named target port resolved per pod)."""
    out = []
    for k in range(draw(st.integers(1, 2))):
        offset = 0 if k == 0 or not draw(st.booleans()) else 1000
        eps = draw(_endpoints(nodes, used))
        out.append(EndpointSlice(
            "default", f"svc{index}-{k}", f"svc{index}", AddressType.IPV4, eps,
            tuple(EndpointPort(p.name, 8080 + i + offset, p.protocol) for i, p in enumerate(ports))))
    return tuple(out)


@st.composite
def _service(draw, index: int, nodes: int, used: set[str]) -> tuple[Service, tuple[EndpointSlice, ...]]:
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    ports = draw(_ports(index, kind))
    external = kind is not ServiceType.CLUSTER_IP
    balanced = kind is ServiceType.LOAD_BALANCER
    etp = draw(st.sampled_from(list(TrafficPolicy))) if external else TrafficPolicy.CLUSTER
    external_ips = tuple(draw(st.lists(st.sampled_from([external_ip(index), cluster_ip((index + 1) % 3, False),
                                                        *(node_ip(n, False) for n in range(nodes))]),
                                       max_size=2, unique=True)))
    mode = draw(st.sampled_from([None, "VIP", "Proxy"]))
    ingress = draw(st.sampled_from([lb_ip(index, False), lb_ip(index, False), node_ip(nodes - 1, False)]))
    svc = Service(
        "default", f"svc{index}", kind, (cluster_ip(index, False),), (IPFamily.IPV4,), ports,
        selector=(("app", f"svc{index}"),), external_ips=external_ips,
        load_balancer_ingress=(LoadBalancerIngress(ip=ingress, ip_mode=mode),) if balanced else (),
        load_balancer_source_ranges=draw(_source_ranges()) if balanced else (),
        external_traffic_policy=etp, internal_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        health_check_node_port=32000 + index if balanced and etp is TrafficPolicy.LOCAL else 0,
        session_affinity=draw(st.sampled_from(list(SessionAffinity))), affinity_timeout=10800)
    return svc, draw(_slices(index, ports, nodes, used))


def _config(draw: st.DrawFn, nodes: tuple[Node, ...]) -> ProxyConfig:
    mode = draw(st.sampled_from(list(DetectLocalMode)))
    return ProxyConfig(
        node_name="node1", ip_family=IPFamily.IPV4, node_ips=(node_ip(0, False) + "/32",),
        cluster_cidrs=("10.244.0.0/16",), detect_local_mode=mode, node_pod_cidrs=(pod_cidr(0, False),),
        bridge_interface="cbr0" if mode is DetectLocalMode.BRIDGE_INTERFACE else "",
        interface_name_prefix="veth" if mode is DetectLocalMode.INTERFACE_NAME_PREFIX else "",
        masquerade_all=draw(st.booleans()), localhost_nodeports=draw(st.booleans()),
        nodeport_addresses=draw(st.sampled_from([(), ("primary",), ("127.0.0.0/8",), ("192.168.0.10/32",),
                                                 ("192.168.0.0/24", "127.0.0.1/32")])),
        node_labels=nodes[0].labels)


@st.composite
def wide_clusters(draw) -> ClusterCase:
    """A cluster of 1-3 nodes (two mostly) and 1-3 Services drawn wide (see the module's docstring)."""
    n_nodes = draw(st.sampled_from([1, 2, 2, 3]))
    nodes = tuple(
        Node(f"node{i + 1}", (NodeAddress("InternalIP", node_ip(i, False)),), (pod_cidr(i, False),),
             (("topology.kubernetes.io/zone", f"zone-{i}"),))
        for i in range(n_nodes))
    used: set[str] = set()
    pairs = [draw(_service(i, n_nodes, used)) for i in range(draw(st.integers(1, 3)))]
    cluster = Cluster(tuple(p[0] for p in pairs), tuple(s for p in pairs for s in p[1]), nodes)
    return ClusterCase(cluster, _config(draw, nodes), False)


def extra_flows(cluster: Cluster, clients: dict[str, str], gateways: dict[str, tuple[str, ...]]) -> list[Flow]:
    """What ``derive_flows`` leaves out: each node to its own NodePorts by 127.0.0.1 and by its pod bridge's
    gateway, and to the next node's; a pod to a NodePort at its own node's address, the next node's and its
    bridge's gateway; node and pod to load-balancer IPs and externalIPs; a second outside client (out of any
    /32 source range) to them. ``gateways``: node -> its bridge's addresses (none where pods are routed by veth:
    an address nobody answers, whose neighbour entry one flow's ARP would fail for the next)."""
    nodes = [n.name for n in cluster.nodes]
    address = {n.name: n.addresses[0].address for n in cluster.nodes}
    flows: list[Flow] = []
    for svc in cluster.services:
        for port in svc.ports:
            proto = port.protocol.value.lower()
            if port.node_port:
                for i, name in enumerate(nodes):
                    other = nodes[(i + 1) % len(nodes)]
                    bridge = [f"{g}:{port.node_port}" for g in gateways.get(name, ())[:1]]
                    flows += [Flow(f"node/{name}", f"127.0.0.1:{port.node_port}", proto, "NodePort-local",
                                   svc.key),
                              *(Flow(f"node/{name}", b, proto, "NodePort-gateway", svc.key) for b in bridge),
                              Flow(f"node/{name}", f"{address[other]}:{port.node_port}", proto, "NodePort-node",
                                   svc.key)]
                    if name in clients:
                        flows += [Flow(f"pod/{clients[name]}", f"{address[n]}:{port.node_port}", proto,
                                       "NodePort-pod", svc.key) for n in dict.fromkeys((name, other))]
                        flows += [Flow(f"pod/{clients[name]}", b, proto, "NodePort-gateway", svc.key)
                                  for b in bridge]
            proxied = {i.ip for i in svc.load_balancer_ingress if i.ip_mode == "Proxy"}
            vips = [i.ip for i in svc.load_balancer_ingress if i.ip] + list(svc.external_ips)
            for vip in vips:
                dst = f"{vip}:{port.port}"
                flows.append(Flow(f"node/{nodes[-1]}", dst, proto, "VIP-node", svc.key))
                if vip not in proxied:  # the kernel backend has no balancer to end it (derive_flows skips it too)
                    flows.append(Flow(f"external:{OTHER_CLIENT}", dst, proto, "VIP-other", svc.key))
                flows += [Flow(f"pod/{key}", dst, proto, "VIP-pod", svc.key) for key in clients.values()]
    return flows


def _two_nodes() -> tuple[Node, ...]:
    return tuple(Node(f"node{i + 1}", (NodeAddress("InternalIP", node_ip(i, False)),), (pod_cidr(i, False),))
                 for i in range(2))


def _pinned(services: tuple[Service, ...], endpoints: dict[str, tuple[str, str]],
            **options: object) -> ClusterCase:
    """Two nodes, ``services`` (port 80 -> 8080 unless named), each with one ready endpoint (service name ->
    (address, node)); ``options``: ProxyConfig fields beyond node1's defaults."""
    ready = EndpointConditions(True, True, False)
    slices = tuple(EndpointSlice("default", f"{s.name}-0", s.name, AddressType.IPV4,
                                 (Endpoint((endpoints[s.name][0],), ready, node_name=endpoints[s.name][1]),),
                                 tuple(EndpointPort(p.name, 8080, p.protocol) for p in s.ports))
                   for s in services)
    config = ProxyConfig(node_name="node1", ip_family=IPFamily.IPV4, node_ips=(node_ip(0, False) + "/32",),
                         cluster_cidrs=("10.244.0.0/16",), node_pod_cidrs=(pod_cidr(0, False),),
                         **options)  # type: ignore[arg-type]
    return ClusterCase(Cluster(services, slices, _two_nodes()), config, False)


def _service_of(index: int, kind: ServiceType, **fields: object) -> Service:
    node_port = 30000 + index * 10 if kind is not ServiceType.CLUSTER_IP else 0
    return Service("default", f"svc{index}", kind, (cluster_ip(index, False),), (IPFamily.IPV4,),
                   (ServicePort("p0", Protocol.TCP, 80, 8080, node_port=node_port),),
                   selector=(("app", f"svc{index}"),), **fields)  # type: ignore[arg-type]


PINNED: dict[str, ClusterCase] = {
    # node2's NodePort DNATs node1's and the outside client's packet to an address the router has no route to
    # (another Service's clusterIP); with eTP Local nothing masquerades it, so the router's answer is lost
    "eTP Local NodePort, unrouted endpoint": _pinned(
        (_service_of(0, ServiceType.NODE_PORT, external_traffic_policy=TrafficPolicy.LOCAL),
         _service_of(1, ServiceType.CLUSTER_IP)),
        {"svc0": (cluster_ip(1, False), "node2"), "svc1": (pod_ip(1, 0, False), "node2")}),
    "ipMode Proxy; affinity, eTP Local and source ranges": _pinned(
        (_service_of(0, ServiceType.LOAD_BALANCER, external_traffic_policy=TrafficPolicy.LOCAL,
                     load_balancer_ingress=(LoadBalancerIngress(ip=lb_ip(0, False), ip_mode="Proxy"),),
                     health_check_node_port=32000),
         _service_of(1, ServiceType.LOAD_BALANCER, external_traffic_policy=TrafficPolicy.LOCAL,
                     load_balancer_ingress=(LoadBalancerIngress(ip=lb_ip(1, False)),),
                     load_balancer_source_ranges=(f"{EXTERNAL_CLIENT}/32",), health_check_node_port=32001,
                     session_affinity=SessionAffinity.CLIENT_IP, affinity_timeout=10800)),
        {"svc0": (pod_ip(0, 0, False), "node1"), "svc1": (pod_ip(1, 1, False), "node2")}),
    "LB IP at a node's address": _pinned(
        (_service_of(0, ServiceType.LOAD_BALANCER,
                     load_balancer_ingress=(LoadBalancerIngress(ip=node_ip(1, False)),)),),
        {"svc0": (pod_ip(0, 0, False), "node1")}),
    "--nodeport-addresses of node1 only, NodePort on two nodes": _pinned(
        (_service_of(0, ServiceType.NODE_PORT),), {"svc0": (pod_ip(1, 0, False), "node2")},
        nodeport_addresses=(node_ip(0, False) + "/32",)),
}
"""Hand-built cases the kernel differential runs in CI every time (its few derandomized draws need not reach
them): each holds the combination its name says, and runs every flow (a few dozen: two nodes, one or two Services)."""
