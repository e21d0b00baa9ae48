"""Clusters for the kernel differential where ``tests.strategies.clusters`` never goes, and the flows to try on them.

``clusters`` draws Services of every type with policies and affinity, but never
externalIPs, loadBalancerSourceRanges, ipMode Proxy, named target ports, an
endpoint at a node's address (a host-network workload) or at a clusterIP, a
load-balancer IP or externalIP that is a node's address (or another Service's
clusterIP), several slices of one Service, a port number shared by two
protocols, all-terminating endpoints often, or a kube-proxy option other than
the defaults (masqueradeAll, detect-local modes, --nodeport-addresses,
localhost NodePorts off), nor a dual-stack cluster; and ``derive_flows`` never
sends from a node or a pod to a NodePort, a load-balancer IP or an externalIP.
:func:`wide_clusters` draws those (two nodes mostly; IPv4, IPv6 or dual-stack:
STACKS) and :func:`extra_flows` adds the in-cluster flows to them, so that each
generated case crosses several of these at once.
"""

from __future__ import annotations

from hypothesis import strategies as st

from kubeproxy_sim.kernel.differential import Flow
from kubeproxy_sim.netfilter.packet import host_port
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
EXTERNAL_CLIENT6 = "2001:db8:ffff::10"  # the same in IPv6 (kernel.plan.DEFAULT_CLIENT6)
OTHER_CLIENT6 = "2001:db8:ffff::77"

STACKS = ("ipv4", "ipv6", "dual")
"""What :func:`wide_clusters` draws: single-stack IPv4 or IPv6 clusters, or dual-stack ones (nodes of both
families, Services of either family or both, in either order) read by one family's proxier, as the kernel
backend builds one family at a time."""


def external_ip(i: int, ipv6: bool = False) -> str:
    return f"2001:db8:20::{i + 1:x}" if ipv6 else f"172.20.0.{i + 1}"


def client(ipv6: bool, other: bool = False) -> str:
    """The stage's outside client of the family, or the second one (``other``)."""
    return (OTHER_CLIENT6 if other else EXTERNAL_CLIENT6) if ipv6 else OTHER_CLIENT if other else EXTERNAL_CLIENT


def _family(ipv6: bool) -> IPFamily:
    return IPFamily.IPV6 if ipv6 else IPFamily.IPV4


def _source_ranges(ipv6: bool) -> st.SearchStrategy[tuple[str, ...]]:
    """Ranges holding the stage's client alone, both outside clients, neither (the nodes' network), or the pods'
    and node1's address."""
    if ipv6:
        return st.sampled_from([(), (f"{EXTERNAL_CLIENT6}/128",), ("2001:db8:ffff::/64",), ("fd00:192:168::/64",),
                                ("fd00:10:244::/48", f"{node_ip(0, True)}/128")])
    return st.sampled_from([(), (f"{EXTERNAL_CLIENT}/32",), ("203.0.113.0/24",), ("192.168.0.0/24",),
                            ("10.244.0.0/16", "192.168.0.10/32")])


@st.composite
def _endpoints(draw, nodes: int, used: set[str], ipv6: bool) -> tuple[Endpoint, ...]:
    """0-4 endpoints: pods with a condition mix, sometimes a node's own address (a host-network workload) or a
    Service's clusterIP (no pod: the nodes route it away), and sometimes all terminating (the serving-terminating
    fallback)."""
    out = []
    terminating_only = draw(st.integers(0, 4)) == 0  # one time in five
    for _ in range(draw(st.integers(0, 4))):
        node = draw(st.integers(0, nodes - 1))
        where = draw(st.integers(0, 11))
        host = where < 2
        ip = (node_ip(node, ipv6) if host else cluster_ip(draw(st.integers(0, 2)), ipv6) if where == 2
              else pod_ip(node, draw(st.integers(0, 30)), ipv6))
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
def _slices(draw, index: int, ports: tuple[ServicePort, ...], nodes: int, used: set[str],
            families: tuple[IPFamily, ...]) -> tuple[EndpointSlice, ...]:
    """1-2 slices per family of the Service; a second one's ports may differ (a named target port resolved per
    pod)."""
    out = []
    for family in families:
        ipv6 = family is IPFamily.IPV6
        kind = AddressType.IPV6 if ipv6 else AddressType.IPV4
        for k in range(draw(st.integers(1, 2))):
            offset = 0 if k == 0 or not draw(st.booleans()) else 1000
            eps = draw(_endpoints(nodes, used, ipv6))
            out.append(EndpointSlice(
                "default", f"svc{index}-{family.value[-1]}{k}", f"svc{index}", kind, eps,
                tuple(EndpointPort(p.name, 8080 + i + offset, p.protocol) for i, p in enumerate(ports))))
    return tuple(out)


def _service_families(stack: str) -> st.SearchStrategy[tuple[IPFamily, ...]]:
    if stack != "dual":
        return st.just((_family(stack == "ipv6"),))
    v4, v6 = IPFamily.IPV4, IPFamily.IPV6
    return st.sampled_from([(v4,), (v6,), (v4, v6), (v6, v4)])


@st.composite
def _service(draw, index: int, nodes: int, used: set[str],
             stack: str) -> tuple[Service, tuple[EndpointSlice, ...]]:
    """A Service of the stack's families (a dual-stack one's cluster IPs, externalIPs, ingress and source ranges
    drawn for each family it has, and in dual-stack clusters sometimes for a family it does not have: kube-proxy
    keeps only its own family's)."""
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    families = draw(_service_families(stack))
    ports = draw(_ports(index, kind))
    external = kind is not ServiceType.CLUSTER_IP
    balanced = kind is ServiceType.LOAD_BALANCER
    etp = draw(st.sampled_from(list(TrafficPolicy))) if external else TrafficPolicy.CLUSTER
    addressed = (False, True) if stack == "dual" else (stack == "ipv6",)
    external_ips: list[str] = []
    ingress: list[LoadBalancerIngress] = []
    ranges: list[str] = []
    for ipv6 in addressed:
        external_ips += draw(st.lists(st.sampled_from([external_ip(index, ipv6), cluster_ip((index + 1) % 3, ipv6),
                                                       *(node_ip(n, ipv6) for n in range(nodes))]),
                                      max_size=2, unique=True))
        if balanced:
            ip = draw(st.sampled_from([lb_ip(index, ipv6), lb_ip(index, ipv6), node_ip(nodes - 1, ipv6)]))
            ingress.append(LoadBalancerIngress(ip=ip, ip_mode=draw(st.sampled_from([None, "VIP", "Proxy"]))))
            ranges += draw(_source_ranges(ipv6))
    svc = Service(
        "default", f"svc{index}", kind, tuple(cluster_ip(index, f is IPFamily.IPV6) for f in families), families,
        ports, selector=(("app", f"svc{index}"),), external_ips=tuple(external_ips),
        load_balancer_ingress=tuple(ingress), load_balancer_source_ranges=tuple(ranges),
        external_traffic_policy=etp, internal_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        health_check_node_port=32000 + index if balanced and etp is TrafficPolicy.LOCAL else 0,
        session_affinity=draw(st.sampled_from(list(SessionAffinity))), affinity_timeout=10800)
    return svc, draw(_slices(index, ports, nodes, used, families))


def _nodeport_addresses(ipv6: bool) -> st.SearchStrategy[tuple[str, ...]]:
    if ipv6:
        return st.sampled_from([(), ("primary",), ("::1/128",), (f"{node_ip(0, True)}/128",),
                                ("fd00:192:168::/64", "::1/128")])
    return st.sampled_from([(), ("primary",), ("127.0.0.0/8",), ("192.168.0.10/32",),
                            ("192.168.0.0/24", "127.0.0.1/32")])


def _config(draw: st.DrawFn, nodes: tuple[Node, ...], stack: str, families: tuple[bool, ...]) -> ProxyConfig:
    """node1's kube-proxy; a dual-stack node's proxier is one family's, drawn, with both families' node IPs,
    cluster CIDRs and pod CIDRs as kube-proxy is given them, the primary first (and --nodeport-addresses of both
    sometimes). ``families``: is each of the cluster's families IPv6, the primary first."""
    mode = draw(st.sampled_from(list(DetectLocalMode)))
    ipv6 = stack == "ipv6" or (stack == "dual" and draw(st.booleans()))
    nodeports: tuple[str, ...] = ()
    for fam in families:
        drawn = draw(_nodeport_addresses(fam))
        nodeports += tuple(a for a in drawn if a not in nodeports)
    return ProxyConfig(
        node_name="node1", ip_family=_family(ipv6),
        node_ips=tuple(node_ip(0, f) + ("/128" if f else "/32") for f in families),
        cluster_cidrs=tuple("fd00:10:244::/48" if f else "10.244.0.0/16" for f in families),
        detect_local_mode=mode, node_pod_cidrs=tuple(pod_cidr(0, f) for f in families),
        bridge_interface="cbr0" if mode is DetectLocalMode.BRIDGE_INTERFACE else "",
        interface_name_prefix="veth" if mode is DetectLocalMode.INTERFACE_NAME_PREFIX else "",
        masquerade_all=draw(st.booleans()), localhost_nodeports=draw(st.booleans()),
        nodeport_addresses=nodeports, node_labels=nodes[0].labels)


def _stack_families(draw: st.DrawFn, stack: str) -> tuple[bool, ...]:
    """Is each family of the cluster IPv6, the primary first: a dual-stack cluster's primary family is drawn (the
    nodes list its address first, kube-proxy its node IP and CIDRs)."""
    if stack != "dual":
        return (stack == "ipv6",)
    return (True, False) if draw(st.booleans()) else (False, True)


@st.composite
def wide_clusters(draw, stack: str = "ipv4") -> ClusterCase:
    """A cluster of 1-3 nodes (two mostly) and 1-3 Services drawn wide (see the module's docstring), of the
    ``stack`` (one of STACKS)."""
    families = _stack_families(draw, stack)
    n_nodes = draw(st.sampled_from([1, 2, 2, 3]))
    nodes = tuple(
        Node(f"node{i + 1}", tuple(NodeAddress("InternalIP", node_ip(i, f)) for f in families),
             tuple(pod_cidr(i, f) for f in families), (("topology.kubernetes.io/zone", f"zone-{i}"),))
        for i in range(n_nodes))
    used: set[str] = set()
    pairs = [draw(_service(i, n_nodes, used, stack)) for i in range(draw(st.integers(1, 3)))]
    cluster = Cluster(tuple(p[0] for p in pairs), tuple(s for p in pairs for s in p[1]), nodes)
    config = _config(draw, nodes, stack, families)
    return ClusterCase(cluster, config, config.ip_family is IPFamily.IPV6)


def _of_family(address: str, ipv6: bool) -> bool:
    return (":" in address) == ipv6


def extra_flows(cluster: Cluster, clients: dict[str, str], gateways: dict[str, tuple[str, ...]],
                ipv6: bool = False, hairpins: dict[str, str] | None = None) -> list[Flow]:
    """What ``derive_flows`` leaves out: each node to its own NodePorts by its loopback address (127.0.0.1, ::1)
    and by its pod bridge's gateway, and to the next node's; a pod to a NodePort at its own node's address, the
    next node's and its bridge's gateway; node and pod to load-balancer IPs and externalIPs; a second outside
    client (out of any /32 or /128 source range) to them; the Service's own endpoint pod (``hairpins``: service
    key -> the source of its derived hairpin flow) to its NodePort on each node and to its load-balancer IPs
    and externalIPs (the hairpin through them, not only the clusterIP). All of the proxier's family (``ipv6``):
    a dual-stack cluster's other family is another proxier's. ``gateways``: node -> its bridge's addresses (none
    where pods are routed by veth: an address nobody answers, whose neighbour entry one flow's ARP would fail
    for the next)."""
    hairpins = hairpins or {}
    nodes = [n.name for n in cluster.nodes]
    address = {n.name: next(a.address for a in n.addresses if _of_family(a.address, ipv6)) for n in cluster.nodes}
    loopback = "::1" if ipv6 else "127.0.0.1"
    family = _family(ipv6)
    flows: list[Flow] = []
    for svc in cluster.services:
        if family not in svc.ip_families:
            continue
        for port in svc.ports:
            proto = port.protocol.value.lower()
            if port.node_port:
                for i, name in enumerate(nodes):
                    other = nodes[(i + 1) % len(nodes)]
                    bridge = [host_port(g, port.node_port) for g in gateways.get(name, ())
                              if _of_family(g, ipv6)][:1]
                    flows += [Flow(f"node/{name}", host_port(loopback, port.node_port), proto, "NodePort-local",
                                   svc.key),
                              *(Flow(f"node/{name}", b, proto, "NodePort-gateway", svc.key) for b in bridge),
                              Flow(f"node/{name}", host_port(address[other], port.node_port), proto,
                                   "NodePort-node", svc.key)]
                    if name in clients:
                        flows += [Flow(f"pod/{clients[name]}", host_port(address[n], port.node_port), proto,
                                       "NodePort-pod", svc.key) for n in dict.fromkeys((name, other))]
                        flows += [Flow(f"pod/{clients[name]}", b, proto, "NodePort-gateway", svc.key)
                                  for b in bridge]
                    if svc.key in hairpins:
                        flows.append(Flow(hairpins[svc.key], host_port(address[name], port.node_port), proto,
                                          "hairpin-NodePort", svc.key))
            proxied = {i.ip for i in svc.load_balancer_ingress if i.ip_mode == "Proxy"}
            vips = [i.ip for i in svc.load_balancer_ingress if i.ip] + list(svc.external_ips)
            for vip in (v for v in vips if _of_family(v, ipv6)):
                dst = host_port(vip, port.port)
                flows.append(Flow(f"node/{nodes[-1]}", dst, proto, "VIP-node", svc.key))
                if vip not in proxied:  # the kernel backend has no balancer to end it (derive_flows skips it too)
                    flows.append(Flow(f"external:{client(ipv6, other=True)}", dst, proto, "VIP-other", svc.key))
                flows += [Flow(f"pod/{key}", dst, proto, "VIP-pod", svc.key) for key in clients.values()]
                if svc.key in hairpins:
                    flows.append(Flow(hairpins[svc.key], dst, proto, "hairpin-VIP", svc.key))
    return flows


def _two_nodes(ipv6: bool) -> tuple[Node, ...]:
    return tuple(Node(f"node{i + 1}", (NodeAddress("InternalIP", node_ip(i, ipv6)),), (pod_cidr(i, ipv6),))
                 for i in range(2))


def _pinned(services: tuple[Service, ...], endpoints: dict[str, tuple[str, str]], ipv6: bool,
            **options: object) -> ClusterCase:
    """Two nodes of the family, ``services`` (port 80 -> 8080 unless named), each with one ready endpoint (service
    name -> (address, node)); ``options``: ProxyConfig fields beyond node1's defaults."""
    ready = EndpointConditions(True, True, False)
    slices = tuple(EndpointSlice("default", f"{s.name}-0", s.name, AddressType.IPV6 if ipv6 else AddressType.IPV4,
                                 (Endpoint((endpoints[s.name][0],), ready, node_name=endpoints[s.name][1]),),
                                 tuple(EndpointPort(p.name, 8080, p.protocol) for p in s.ports))
                   for s in services)
    config = ProxyConfig(node_name="node1", ip_family=_family(ipv6),
                         node_ips=(node_ip(0, ipv6) + ("/128" if ipv6 else "/32"),),
                         cluster_cidrs=("fd00:10:244::/48" if ipv6 else "10.244.0.0/16",),
                         node_pod_cidrs=(pod_cidr(0, ipv6),), **options)  # type: ignore[arg-type]
    return ClusterCase(Cluster(services, slices, _two_nodes(ipv6)), config, ipv6)


def _service_of(index: int, kind: ServiceType, ipv6: bool, **fields: object) -> Service:
    node_port = 30000 + index * 10 if kind is not ServiceType.CLUSTER_IP else 0
    return Service("default", f"svc{index}", kind, (cluster_ip(index, ipv6),), (_family(ipv6),),
                   (ServicePort("p0", Protocol.TCP, 80, 8080, node_port=node_port),),
                   selector=(("app", f"svc{index}"),), **fields)  # type: ignore[arg-type]


def pinned_cases(ipv6: bool) -> dict[str, ClusterCase]:
    """The hand-built cases of PINNED, in the family."""
    lb, local, v6 = ServiceType.LOAD_BALANCER, TrafficPolicy.LOCAL, ipv6
    return {
        # node2's NodePort DNATs node1's and the outside client's packet to an address the router has no route to
        # (another Service's clusterIP); with eTP Local nothing masquerades it, so the router's answer is lost
        "eTP Local NodePort, unrouted endpoint": _pinned(
            (_service_of(0, ServiceType.NODE_PORT, v6, external_traffic_policy=local),
             _service_of(1, ServiceType.CLUSTER_IP, v6)),
            {"svc0": (cluster_ip(1, v6), "node2"), "svc1": (pod_ip(1, 0, v6), "node2")}, v6),
        "ipMode Proxy; affinity, eTP Local and source ranges": _pinned(
            (_service_of(0, lb, v6, external_traffic_policy=local,
                         load_balancer_ingress=(LoadBalancerIngress(ip=lb_ip(0, v6), ip_mode="Proxy"),),
                         health_check_node_port=32000),
             _service_of(1, lb, v6, external_traffic_policy=local,
                         load_balancer_ingress=(LoadBalancerIngress(ip=lb_ip(1, v6)),),
                         load_balancer_source_ranges=(f"{client(v6)}/{128 if v6 else 32}",),
                         health_check_node_port=32001,
                         session_affinity=SessionAffinity.CLIENT_IP, affinity_timeout=10800)),
            {"svc0": (pod_ip(0, 0, v6), "node1"), "svc1": (pod_ip(1, 1, v6), "node2")}, v6),
        "LB IP at a node's address": _pinned(
            (_service_of(0, lb, v6, load_balancer_ingress=(LoadBalancerIngress(ip=node_ip(1, v6)),)),),
            {"svc0": (pod_ip(0, 0, v6), "node1")}, v6),
        "--nodeport-addresses of node1 only, NodePort on two nodes": _pinned(
            (_service_of(0, ServiceType.NODE_PORT, v6),), {"svc0": (pod_ip(1, 0, v6), "node2")}, v6,
            nodeport_addresses=(node_ip(0, v6) + ("/128" if v6 else "/32"),)),
    }


PINNED: dict[str, ClusterCase] = pinned_cases(False)
"""Hand-built cases the kernel differential runs in CI every time (its few derandomized draws need not reach
them): each holds the combination its name says, and runs every flow (a few dozen: two nodes, one or two Services)."""
