"""The namespaces, links and addresses a cluster becomes: a pure plan, built before anything is touched.

Everything the kernel builder creates is decided here from the objects alone, so
the same input always gives the same names and addresses, a failed build knows
exactly what to remove, and the plan is testable without root. One IP family, the
node config's (as the simulator): addresses of the other family are left out.

Large clusters: a namespace (and a server process) per endpoint would make a
thousand-endpoint scenario cost minutes, so endpoints that have no Pod object
and share a node and a port set are served from one *pool* namespace per
(node, ports) once there are more than :data:`POOL_OVER` of them: one veth to
the node's bridge (or a routed veth) carrying every address. For iptables the
path is the same as a pod's (DNAT, then routing to the address through the
node's bridge); inside the pool, policy routing sends every locally generated
packet to the gateway, so a pooled address talking to another one of its pool
still goes through the node (and its conntrack), as two pods would.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

import netaddr

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError
from kubeproxy_sim.netfilter.packet import format_address, parse_address
from kubeproxy_sim.objects.model import AddressType, Cluster, Protocol, ServiceType
from kubeproxy_sim.objects.nodes import (
    family_of,
    node_object_addresses,
    of_family,
    synthesised_node_addresses,
    used_addresses,
)
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig
from kubeproxy_sim.simulator.health import KUBE_PROXY_HEALTHZ_PORT, health_ports
from kubeproxy_sim.simulator.topology import (
    PodOwners,
    about_node,
    bridge_gateways,
    endpoint_owners,
    no_machines,
    nodes_running,
    phantom_nodes,
    place_host_network,
    refused_pod_cidrs,
    running_pods,
    service_addresses,
    slice_ports,
    staged_pod_cidrs,
)

PREFIX = "kpsim-"
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
ROUTER = "198.18.0.1"  # the node network's upstream router: answers "unreachable" for unknown destinations
GATEWAY = "169.254.1.1"  # every node's pod bridge address: the pods' next hop (link scope)
SERVED = (Protocol.TCP, Protocol.UDP)  # this kernel has no SCTP sockets
DEFAULT_CLIENT = "203.0.113.10"  # the ``external`` source when no address is asked for
# the same roles in IPv6 (the simulator's synthetic node network and default client)
ROUTER6 = "fd00:198:18::1"
GATEWAY6 = "fe80::1"  # link-local: a pod's default route is on-link by definition
DEFAULT_CLIENT6 = "2001:db8:ffff::10"
POOL_OVER = 24  # endpoints without a Pod object per (node, ports) beyond which they share one namespace


def host_len(family: int) -> int:
    return 32 if family == 4 else 128


def any_net(family: int) -> str:
    return "0.0.0.0/0" if family == 4 else "::/0"


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    netns: str
    addresses: tuple[str, ...]  # IPv4, the first is the primary (masquerade source, next hop)
    config: ProxyConfig
    uplink: str  # the veth end in the node-network namespace
    bridge: str  # the pods' bridge in the node namespace
    listeners: tuple[int, ...] = ()  # kube-proxy's own TCP ports on the node: healthz, health-check node ports
    # the bridge's own addresses besides the pods' next hop: its pod CIDRs' gateways (bridge_gateways, as the
    # simulator's SimNode.gateways); a staged dump's node has none
    gateways: tuple[str, ...] = ()

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        """The node's pod CIDRs of its family routed to its pods' bridge (the simulator's ``SimNode.pod_cidrs``)."""
        return staged_pod_cidrs(self.config, 6 if self.config.ipv6 else 4)

    @property
    def routed(self) -> bool:
        """Pods on routed veths, not the bridge: what InterfaceNamePrefix detection expects (as the simulator)."""
        return self.config.detect_local_mode is DetectLocalMode.INTERFACE_NAME_PREFIX


@dataclass(frozen=True, slots=True)
class PodPlan:
    key: str  # namespace/name
    node: str
    netns: str  # a pod namespace, or the node's for host-network workloads
    ip: str
    ports: tuple[tuple[str, int], ...] = ()  # (tcp|udp, port) its server answers on
    host_network: bool = False
    host_veth: str = ""  # the veth end on the node's bridge
    pooled: bool = False  # one of many addresses of a pool namespace (see the module's docstring)
    # it declares no port (no containerPort, no EndpointSlice port): as in the simulator it answers on any, by a
    # catch-all redirect in its namespace to one server (a host-network workload answers only its listed ports)
    any_port: bool = False
    dns_ports: tuple[int, ...] = ()  # of its UDP ports, those that answer DNS: it is a kube-dns endpoint
    dns_tcp_ports: tuple[int, ...] = ()  # of its TCP ports, those that answer DNS (a truncated answer's retry)
    # a Pod object's address (False: an EndpointSlice address no Pod owns, named by endpoint_owner_key; None: a
    # client's, no pod at all), as the simulator's SimPod.pod_object: netns send's rows say it, as send's do
    pod_object: bool | None = True


@dataclass(frozen=True, slots=True)
class ClientPlan:
    ip: str
    netns: str
    uplink: str


@dataclass(frozen=True, slots=True)
class Topology:
    name: str
    net_netns: str
    nodes: tuple[NodePlan, ...]
    pods: tuple[PodPlan, ...]
    clients: tuple[ClientPlan, ...]
    notes: tuple[str, ...] = ()
    family: int = 4
    # what outside clients route through the first node (LoadBalancer IPs, externalIPs); None: everything
    via_first_node: tuple[str, ...] | None = None
    # what the objects say the stage cannot be (a host-network pod's foreign podIP): the command reports them on
    # standard error, as `send` does the simulator's; ``notes`` are the stage's own limits, saved with it
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def router(self) -> str:
        return ROUTER if self.family == 4 else ROUTER6

    @property
    def gateway(self) -> str:
        return GATEWAY if self.family == 4 else GATEWAY6

    @property
    def prefix(self) -> str:
        return cluster_prefix(self.name)

    def namespaces(self) -> list[str]:
        """Every namespace of the plan, node network first (each is created once)."""
        names = [self.net_netns, *(n.netns for n in self.nodes)]
        names += [p.netns for p in self.pods if not p.host_network]
        names += [c.netns for c in self.clients]
        return list(dict.fromkeys(names))

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)


def cluster_prefix(name: str) -> str:
    """Namespaces of cluster NAME are ``kpsim-NAME.<role>``; the dot keeps cluster ``a`` off ``a-b``'s."""
    return f"{PREFIX}{name}."


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InputError(Diagnostic(f"{name!r} is not a usable cluster name; expected 1-32 lowercase letters, "
                                    "digits and dashes, starting and ending with a letter or digit", field="--name"))
    return name


def plan_nodes(name: str, cluster: Cluster, config: ProxyConfig, extra: Iterable[str] = ()) -> list[NodePlan]:
    """One namespace per node; addresses from the config (primary), the Node objects, else synthesised; pod
    CIDRs and labels as the simulator takes them (:func:`.simulator.topology.about_node`)."""
    family = 6 if config.ipv6 else 4
    synth = synthesised_node_addresses(used_addresses(cluster, (*config.node_ips, *extra)), family)
    plans = []
    for index, node_name in enumerate(nodes_running(cluster, config.node_name)):
        node = cluster.node(node_name)
        own = of_family(config.node_ips, family) if index == 0 else []
        addresses = own or node_object_addresses(node, family) or [next(synth)]
        node_config = about_node(config if index == 0 else dataclasses.replace(
            config, node_name=node_name, node_ips=tuple(f"{a}/{host_len(family)}" for a in addresses)),
            node, first=index == 0)
        listeners = (KUBE_PROXY_HEALTHZ_PORT, *sorted(health_ports(cluster, node_config)))
        plans.append(NodePlan(node_name, f"{cluster_prefix(name)}n{index}", tuple(addresses), node_config,
                              uplink=f"n{index}", bridge=config.bridge_interface or "cbr0", listeners=listeners))
    return plans


def _slice_type(family: int) -> AddressType:
    return AddressType.IPV4 if family == 4 else AddressType.IPV6


def _endpoint_ports(cluster: Cluster, family: int) -> dict[str, set[tuple[str, int]]]:
    """(proto, port) per endpoint address: what a server at that address must answer."""
    ports: dict[str, set[tuple[str, int]]] = {}
    for slc in cluster.endpoint_slices:
        if slc.address_type is not _slice_type(family):
            continue
        served = {(p.protocol.value.lower(), p.port) for p in slc.ports if p.port and p.protocol in SERVED}
        for endpoint in slc.endpoints:
            for address in endpoint.addresses:
                ports.setdefault(address, set()).update(served)
    return ports


class _PodPlanner:
    """Hands out pod namespaces and veth names in a fixed order."""

    def __init__(self, name: str, nodes: list[NodePlan]) -> None:
        self.prefix = cluster_prefix(name)
        self.nodes = {n.name: n for n in nodes}
        self.node_of_address = {a: n.name for n in nodes for a in n.addresses}
        self.addresses = {n.name: n.addresses for n in nodes}
        self.owners = PodOwners.of(nodes)  # the simulator's placement rule, so both build the same cluster
        self.pods: dict[str, PodPlan] = {}

    def add(self, key: str, ip: str, node: str | None, ports: Iterable[tuple[str, int]],
            any_port: bool = False, pod_object: bool | None = True) -> None:
        ports = tuple(sorted(ports))
        known = self.pods.get(ip)
        if known is not None:
            if known.host_network:  # another host-network workload of the node: its server answers both
                self.pods[ip] = dataclasses.replace(known, ports=tuple(sorted({*known.ports, *ports})))
            return
        if ip in self.node_of_address:
            host = self.nodes[self.node_of_address[ip]]
            self.pods[ip] = PodPlan(key, host.name, host.netns, ip, ports, host_network=True, pod_object=pod_object)
            return
        plan = self.nodes[self.owners.node(ip, node)]
        index = sum(1 for p in self.pods.values() if not p.host_network and not p.pooled)
        prefix = plan.config.interface_name_prefix or "veth"
        self.pods[ip] = PodPlan(key, plan.name, f"{self.prefix}p{index}", ip, ports,
                                host_veth=f"{prefix}{index}"[:15], any_port=any_port, pod_object=pod_object)

    def add_pool(self, node: str, ports: tuple[tuple[str, int], ...],
                 members: list[tuple[str, str]], declared: bool = True) -> None:
        """Many (key, ip) endpoints of one node (where :attr:`owners` places each) and port set in one namespace
        behind one veth (endpoints without a Pod object: :func:`_pools`)."""
        plan = self.nodes[node]
        index = len({p.netns for p in self.pods.values() if p.pooled})
        prefix = plan.config.interface_name_prefix or "veth"
        for key, ip in members:
            if ip not in self.pods:
                self.pods[ip] = PodPlan(key, plan.name, f"{self.prefix}q{index}", ip, ports,
                                        host_veth=f"{prefix}q{index}"[:15], pooled=True, any_port=not declared,
                                        pod_object=False)


def _cluster_nets(nodes: list[NodePlan], family: int) -> list[tuple[netaddr.IPNetwork, str]]:
    """Where a client address that is no pod's lives: a node's pod CIDR, else the cluster CIDR (primary)."""
    nets = [(netaddr.IPNetwork(c), n.name) for n in nodes for c in n.pod_cidrs]
    nets += [(netaddr.IPNetwork(c), nodes[0].name) for c in nodes[0].config.cluster_cidrs if family_of(c) == family]
    return nets


def _outside_routed(cluster: Cluster, family: int) -> tuple[str, ...]:
    """LoadBalancer IPs and externalIPs: what the outside network sends to the nodes (here, the first node)."""
    found = [a for s in cluster.services for a in s.external_ips]
    found += [i.ip for s in cluster.services if s.type is ServiceType.LOAD_BALANCER
              for i in s.load_balancer_ingress if i.ip]
    return tuple(dict.fromkeys(of_family(found, family)))


def plan(name: str, cluster: Cluster, config: ProxyConfig, sources: Iterable[str] = ()) -> Topology:
    """The whole topology; ``sources`` are extra addresses traffic must be able to come from."""
    check_name(name)
    family = 6 if config.ipv6 else 4
    default = DEFAULT_CLIENT if family == 4 else DEFAULT_CLIENT6
    sources = list(dict.fromkeys(of_family((*sources, default), family)))  # the text netns send's --from looks up
    nodes = plan_nodes(name, cluster, config, sources)
    pods = _PodPlanner(name, nodes)
    ports = _endpoint_ports(cluster, family)
    declared = {address for address, served in slice_ports(cluster).items() if served}  # as SimPod.serves
    warnings = [*phantom_nodes(cluster, config.node_name),  # as build_topology's
                *(w for n in nodes for w in refused_pod_cidrs(cluster, n.config, family))]
    for pod in running_pods(cluster, pods.addresses):
        containers = pod.served_ports
        served = {(c.protocol.value.lower(), c.container_port) for c in containers if c.protocol in SERVED}
        if pod.host_network:
            warnings += place_host_network(pods, pod, family, served, ports)
            continue
        for ip in of_family(pod.pod_ips, family):
            pods.add(pod.key, ip, pod.node_name, served | ports.get(ip, set()),
                     any_port=not containers and ip not in declared)
    owners = {ip: (key, node) for ip, key, node in endpoint_owners(cluster, pods.addresses) if family_of(ip) == family}
    pools = _pools(owners, ports, pods)
    for ip, (key, node) in owners.items():
        if ip not in pools.addresses:
            pods.add(key, ip, node, ports.get(ip, set()), any_port=ip not in declared, pod_object=False)
    for (node, pool_ports), members in sorted(pools.groups.items()):
        pods.add_pool(node, pool_ports, members, declared=all(ip in declared for _, ip in members))
    clients = _place_sources(name, sources, nodes, pods, family)
    taken = {*pods.pods, *pods.node_of_address, *(c.ip for c in clients)}
    nodes = [dataclasses.replace(n, gateways=bridge_gateways(n.pod_cidrs, n.routed, taken)) for n in nodes]
    notes = _notes(cluster, family)
    udp, tcp = (_dns_targets(cluster, family, proto) for proto in (Protocol.UDP, Protocol.TCP))
    planned = tuple(dataclasses.replace(p, dns_ports=tuple(sorted(udp.get(p.ip, ()))),
                                        dns_tcp_ports=tuple(sorted(tcp.get(p.ip, ()))))
                    for p in pods.pods.values())
    return Topology(name, f"{cluster_prefix(name)}net", tuple(nodes), planned, tuple(clients),
                    notes, family, _outside_routed(cluster, family), tuple(warnings))


def _dns_targets(cluster: Cluster, family: int, proto: Protocol) -> dict[str, set[int]]:
    """address -> ``proto`` ports of the kube-dns endpoints a query to the Service's port 53/``proto`` is sent to
    (the slice ports named as that Service port, as kube-proxy pairs them), ready or not: their servers answer
    DNS. The 53/TCP port (where a truncated answer is asked again) may have target ports of its own."""
    from kubeproxy_sim.simulator.network import DNS_PORT, kube_dns_service

    kube_dns = kube_dns_service(cluster)
    if kube_dns is None:
        return {}
    names = {p.name or "" for p in kube_dns.ports if p.port == DNS_PORT and p.protocol is proto}
    targets: dict[str, set[int]] = {}
    for slc in cluster.endpoint_slices:
        if slc.namespace != kube_dns.namespace or slc.service_name != kube_dns.name or \
                slc.address_type is not _slice_type(family):
            continue
        found = {p.port for p in slc.ports if p.port and p.protocol is proto and (p.name or "") in names}
        for endpoint in slc.endpoints if found else ():
            for address in endpoint.addresses:
                targets.setdefault(address, set()).update(found)
    return targets


@dataclass(frozen=True, slots=True)
class _Pools:
    groups: dict[tuple[str, tuple[tuple[str, int], ...]], list[tuple[str, str]]]
    addresses: frozenset[str]


def _pools(owners: dict[str, tuple[str, str | None]], ports: dict[str, set[tuple[str, int]]],
           pods: _PodPlanner) -> _Pools:
    """(node, ports) -> [(key, ip)] of endpoints without a Pod object, for the groups large enough to pool;
    ``owners``: address -> (key, node) in address order, as :func:`endpoint_owners` gives them."""
    groups: dict[tuple[str, tuple[tuple[str, int], ...]], list[tuple[str, str]]] = {}
    for ip, (key, node) in owners.items():
        if ip in pods.pods or ip in pods.node_of_address:
            continue
        groups.setdefault((pods.owners.node(ip, node), tuple(sorted(ports.get(ip, set())))), []).append((key, ip))
    big = {k: v for k, v in groups.items() if len(v) > POOL_OVER}
    return _Pools(big, frozenset(ip for members in big.values() for _, ip in members))


def _place_sources(name: str, sources: list[str], nodes: list[NodePlan], pods: _PodPlanner,
                   family: int) -> list[ClientPlan]:
    """A source in a pod range becomes a client pod; one elsewhere (not a node's) an external client."""
    nets = _cluster_nets(nodes, family)
    clients: list[ClientPlan] = []
    for ip in sources:
        if ip in pods.pods or ip in pods.node_of_address or netaddr.IPAddress(ip).is_loopback():
            continue
        owner = next((node for net, node in nets if netaddr.IPAddress(ip) in net), None)
        if owner:
            pods.add(client_key(ip), ip, owner, (), pod_object=None)
        else:
            index = len(clients)
            clients.append(ClientPlan(ip, f"{cluster_prefix(name)}c{index}", f"c{index}"))
    return clients


def client_key(ip: str) -> str:
    """The workload key of a client address in a pod range (a namespace of its own, no Pod object)."""
    return f"client/{ip.replace('.', '-').replace(':', '-')}"


def _notes(cluster: Cluster, family: int) -> tuple[str, ...]:
    notes = []
    if any(p.protocol is Protocol.SCTP for s in cluster.services for p in s.ports):
        notes.append("SCTP: this kernel has no SCTP sockets; SCTP ports are not served")
    other = AddressType.IPV6 if family == 4 else AddressType.IPV4
    if any(s.address_type is other for s in cluster.endpoint_slices):
        notes.append(f"the cluster is built for IPv{family} (the node config's family); "
                     f"IPv{10 - family} endpoints are left out")
    return tuple(notes)


def checked_clients(texts: list[str], cluster: Cluster, family: int) -> list[str]:
    """The ``--client`` addresses in canonical form (:func:`canonical_address`, the text ``netns send --from``
    looks them up by and the loader writes the Services' addresses in: ``::1.2.3.4`` is ``::102:304``); one that
    cannot be a client is an error naming why. :func:`parse_address` judges, as :func:`is_address` does for
    ``--from``; each text is parsed once, its (version, value) giving both the canonical text and the address."""
    services = service_addresses(cluster)
    out = []
    for text in texts:
        try:
            version, value = parse_address(text)
        except ValueError:
            raise UsageError(Diagnostic(f"{text!r} is not an IP address", field="--client")) from None
        ip = format_address(version, value)  # (canonical_address's text, without parsing again)
        address = netaddr.IPAddress(value, version)
        special = no_machines(address)
        why = (f"an IPv{address.version} address, but the cluster is built for IPv{family}"
               if address.version != family
               else special if special is not None
               else "the stage's own router or pod gateway" if ip in (ROUTER, ROUTER6, GATEWAY, GATEWAY6)
               else f"an address of Service {services[ip]}" if ip in services
               else None)
        if why is not None:
            raise InputError(Diagnostic(f"{text!r} is {why}; expected an address no node, pod or Service has",
                                        field="--client"))
        out.append(ip)
    return out


def check_placed(clients: list[str], topo: Topology) -> None:
    """A client the plan could not place (an address a node or a pod already has) is an error, not dropped."""
    placed = {c.ip for c in topo.clients} | {p.ip for p in topo.pods if p.key.startswith("client/")}
    taken = {a: f"node/{n.name}" for n in topo.nodes for a in n.addresses}
    taken.update({p.ip: p.key for p in topo.pods if not p.key.startswith("client/")})
    for ip in clients:
        if ip not in placed:
            owner = taken.get(ip, "another workload")
            raise InputError(Diagnostic(f"{ip!r} is {owner}'s address; expected an address no node or pod has "
                                        "(send from it with --from instead)", field="--client"))
