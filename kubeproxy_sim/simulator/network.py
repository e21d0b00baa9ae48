"""The cluster, packet by packet: every node's rules and conntrack, the routes between them, the outside.

A connection is its first packet, the reply, and (TCP) the client's ACK. Each
packet walks hop by hop: out of a pod onto its node's bridge (or from the node
itself, or from the outside through the router), through that node's hooks
(:func:`.nodewalk.walk_node`) with its conntrack table, along the node's route
to a local pod, to another node (whose FORWARD it crosses in turn), to itself,
or out to the router; the router delivers to node addresses, external hosts,
the load balancer, and spreads externalIPs over the nodes.

Conntrack decides everything after the first packet: a packet matching an
entry's original tuple is translated as the first one was, one matching the
reply tuple is un-NATed, and the nat table is consulted only for new
connections. A new forwarded connection from a pod to the outside is
masqueraded to the node's address, as flat CNIs do (kube-proxy does not).

Randomness (the statistic splits, ephemeral ports, the balancer's and the
router's choices) comes from one injected ``random.Random``; time from
:meth:`Simulator.advance` or an injected clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import netaddr

from kubeproxy_sim.netfilter.compile import CompiledRuleset, Kind, PathStep, RuleMemo, compile_ruleset
from kubeproxy_sim.netfilter.evaluate import ACCEPT, Branch, Engine, NodeContext, Sampler
from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.netfilter.packet import (
    ECHO_REPLY,
    ECHO_REQUEST,
    ICMP_PROTOS,
    CtState,
    Packet,
    format_address,
    host_port,
    loopback,
    loopback_source,
    parse_address,
)
from kubeproxy_sim.netfilter.trace import Tracer
from kubeproxy_sim.objects.model import Cluster, Service
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.full import node_tables
from kubeproxy_sim.proxier.sync import PortMemo
from kubeproxy_sim.simulator.conntrack import Conntrack, Entry, Tuple, reverse
from kubeproxy_sim.simulator.dns import ClusterDNS, Resolver
from kubeproxy_sim.simulator.health import KUBE_PROXY_HEALTHZ_PORT, health_ports
from kubeproxy_sim.simulator.loadbalancer import Frontend, LoadBalancer
from kubeproxy_sim.simulator.nodewalk import deciding_rule, verdict_rule, walk_node
from kubeproxy_sim.simulator.stale import udp_cleanup
from kubeproxy_sim.simulator.topology import (
    UPLINK,
    SimNode,
    SimPod,
    Topology,
    build_topology,
    external_ips,
    load_balancer_nodes,
)

MAX_HOPS = 32
EPHEMERAL = (32768, 60999)  # net.ipv4.ip_local_port_range


def nat_port_range(sport: int) -> tuple[int, int]:
    """The ports nf_nat_l4proto_unique_tuple picks a source port from when the rule gives no range: 1-511 for an
    original port below 512, 600-1023 below 1024, else 1024-65535."""
    if sport < 512:
        return 1, 511
    if sport < 1024:
        return 600, 1023
    return 1024, 65535


REJECT, DROP, NO_ROUTE, WRONG_REPLY_SOURCE, TIMEOUT = "REJECT", "DROP", "NO_ROUTE", "WRONG_REPLY_SOURCE", "TIMEOUT"
DNS_PORT = 53
DNS_QUERY_PREFIX = "DNS query to "
"""How the detail of a failed DNS query begins (:func:`dns_query_detail`; send tells those rows by
:attr:`Failure.dns_query`)."""
TRUNCATED_RETRY = "the answer over UDP was truncated, and the retry over TCP failed: "
"""How the detail of a failed DNS query's retry over TCP goes on (:meth:`Simulator.dns_query`), netns send's too."""


def heard(reason: str, proto: str) -> str:
    """A failure's reason as the client's socket meets it. A router's "no route" comes back as ICMP net unreachable,
    which a TCP connect hears (a SYN_SENT socket ends on any ICMP unreachable); to a UDP or SCTP socket it is a
    soft error (not fatal in icmp_err_convert), reported only to one that asked for it with IP_RECVERR, so an
    ordinary client of theirs hears nothing and waits: TIMEOUT, as ``netns send`` sees it. A ping hears it (iputils
    ping reads ICMP errors: "Destination Net Unreachable"), though no echo reply came."""
    return TIMEOUT if reason == NO_ROUTE and proto not in HEARS_ICMP_ERRORS else reason


HEARS_ICMP_ERRORS = frozenset({"tcp", *ICMP_PROTOS})
"""The clients that hear an ICMP error about their packet: a TCP connect in SYN_SENT, and a ping."""

ARP_FAILED = "; after some 3 s of asking, the node sends ICMP host unreachable, which a ping hears"
"""How a ping's detail goes on when it is sent to a pod subnet's address nobody has: the node's neighbour
resolution gives up (3 probes a second apart) and ip_link_failure sends ICMP host unreachable to the source (the
kernel answered a ping so after 3 s, tests/kernel/test_ping_kernel.py); a connection's client, which ``netns
send`` waits 1.5 s for, has timed out by then (TIMEOUT)."""

PING_ID = (1, 65535)
"""The ICMP echo identifiers a ping draws from (an ICMP datagram socket's, which the kernel picks like a port),
the ``sport``/``dport`` of an echo's tuple: conntrack keys an echo by its identifier (both directions the same)."""


def echo(proto: str, flags: str) -> tuple[int, int]:
    """(type, code) of the ICMP packet a ping's walk sends with ``flags``: the request ("S"), else its reply."""
    return ECHO_REQUEST[proto] if flags == "S" else ECHO_REPLY[proto]


IN_CIRCLES = ("the packet went round in circles (more than 32 hops): its TTL ran out, and the ICMP time exceeded "
              "went back to its source")
"""The detail of a packet the walk followed more than :data:`MAX_HOPS` times: the node that would forward it
once more sends ICMP time exceeded to its source as it arrived there, which each node before de-NATs by its
conntrack as it does a reply (the nodes route node, gateway and pod addresses among themselves), so it comes back
to the client as the connection's reply would; the walk takes it as come back (a loop whose hops left the
client's address unmasqueraded past a node, through Local NodePorts, could lose it: not followed)."""
CIRCLES_UNHEARD = "; the ICMP time exceeded is a soft error to a {} socket, which hears nothing"
"""How :data:`IN_CIRCLES` goes on when the client's protocol does not hear it (:func:`circles_reason`)."""


def circles_reason(proto: str) -> str:
    """The verdict of a connection that went round in circles, as the client's socket meets the ICMP time
    exceeded: a TCP connect in SYN_SENT ends on it (tcp_v4_err: EHOSTUNREACH), which ``netns send`` names
    NO_ROUTE ("unreachable"), as it does a router's net unreachable; to a UDP or SCTP socket it is a soft error
    (__udp4_lib_err, sctp_v4_err), heard only with IP_RECVERR: TIMEOUT, as :func:`heard` has it.
    (``netns verify``: the kernel's TCP connect failed unreachable in 24 of 24, its UDP client heard nothing.)"""
    return heard(NO_ROUTE, proto)


def translated_at(node: str, arrived: tuple[object, ...], left: tuple[object, ...]) -> str | None:
    """``node`` when its rules changed the packet's destination (address and port, as it ``arrived`` there and
    as it ``left``), else None: the ``translated`` of :meth:`Simulator.answered_from_outside`, as only that node's
    conntrack maps the answer back. One test for the walk and the expectations that send nothing."""
    return node if left != arrived else None


UNHEARD = "; the router's ICMP net unreachable is a soft error to a {} socket, which hears nothing"
"""How the detail of a :data:`NO_ROUTE` goes on when the client's protocol does not hear it (:func:`heard`)."""


def ack_lost(reason: str) -> str:
    """How the detail of a TCP client's lost ACK goes on (:meth:`Simulator._answer`): what its socket meets. Its
    connect completed with the SYN/ACK; a DROP leaves it waiting for a server that never sees the ACK; a REJECT's
    or a router's ICMP error is a soft error of the connected socket (tcp_v4_err), which SO_ERROR hands over, so a
    client reading it there when the connect completes (``netns send``'s probe, as an event loop does) fails with
    it: the hop's reason is the row's, as ``netns send`` names it."""
    if reason not in (REJECT, NO_ROUTE):
        return "; the client's connect completed (the SYN/ACK came), and it waits for the server, which never sees it"
    return ("; the client's connect completed, and the ICMP error is a soft error of its socket, which SO_ERROR "
            "hands over with the connect's result")


NO_WAY_BACK = ": its ICMP net unreachable is lost, and the client hears nothing"
"""How the detail of a router's "no route" goes on when the source has no route back either (:meth:`_router`)."""


def dns_query_detail(server: str, detail: str) -> str:
    """The detail of a pod's DNS query to its nameserver (kube-dns) at ``server`` that failed for ``detail``."""
    return f"{DNS_QUERY_PREFIX}{server}:{DNS_PORT}: {detail}"


def kube_dns_service(cluster: Cluster) -> Service | None:
    """The Service ``kube-system/kube-dns``, None without one (the kernel backend's plan finds its endpoints by it)."""
    return next((s for s in cluster.services if s.key == "kube-system/kube-dns"), None)


def kube_dns_address(cluster: Cluster, family: int) -> str | None:
    """The cluster IP of ``kube-system/kube-dns`` of ``family`` that a ClusterFirst pod's queries go to (its
    resolv.conf's nameserver), when the Service has port 53/UDP; None without one (cluster DNS answers unasked).
    The kernel backend records each pod's resolver from it too, so ``netns send`` resolves as ``send``."""
    kube_dns = kube_dns_service(cluster)
    if kube_dns is None or not any(p.port == DNS_PORT and p.protocol.value == "UDP" for p in kube_dns.ports):
        return None
    return next((ip for ip in kube_dns.cluster_ips if (":" in ip) == (family == 6)), None)


@dataclass(frozen=True, slots=True)
class Decided:
    """The node that dropped or rejected a packet, and the rule that did as the tracer's path names it (``step``:
    its table, chain, line and text; a built-in chain's DROP policy is one): what send finds a failure row's
    trace in the expected pass and its expectation by (analysis.why, ``tally``), as the detail's words are for
    people and may be reworded. ``step`` None: no rule did (the node's NAT found no free port, or the verdict was
    a policy the path does not end with)."""

    node: str
    step: PathStep | None = None


@dataclass(frozen=True, slots=True)
class ReplyLoss:
    """How the answer to a client's first packet (the reply, or a refusal) failed to reach it as its answer, as
    the facts :meth:`Simulator._reply_lost` found: what analysis.why explains a row by, as the detail's words are
    for people and may be reworded. ``came_from``: the (address, port) it came from, not the one the client
    connected to (WRONG_REPLY_SOURCE); ``dropped``: the node (and rule) that dropped or rejected it on its way
    (:attr:`Failure.decided_by`). Neither: it went to another host, or the router had no way back for it."""

    came_from: tuple[str, int] | None = None
    dropped: Decided | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a connection failed: ``reason`` and ``detail`` are what rows show and are grouped by; the facts after
    them are for the rows' explanations only (they neither compare nor print: a row's detail already says them)."""

    reason: str  # REJECT, DROP, NO_ROUTE, WRONG_REPLY_SOURCE, TIMEOUT
    detail: str
    after_first: bool = False
    """Decided after the first packet: its reply or refusal on the way back, or the client's ACK. The exact pass
    follows the first packet forward only, so it gives such a row no expectation (send's)."""
    decided_by: Decided | None = field(default=None, compare=False, repr=False)
    """The node (and its rule) that dropped or rejected the packet the detail is about: the connection's first
    packet, or its DNS query's (the UDP one, or a truncated answer's retry over TCP), or that of the connection a
    proxying load balancer opens to a node in its stead (:meth:`_proxied`). None when no node decided (a router,
    a load balancer, a host that refused), and for a row decided after the first packet, whose reply's loss is
    :attr:`lost`'s."""
    dns_query: bool = field(default=False, compare=False, repr=False)
    """A failure of the client's DNS query (:meth:`Simulator.dns_query`), not of its connection: send expects it
    from the query's own shares."""
    lost: ReplyLoss | None = field(default=None, compare=False, repr=False)
    """How the answer to the first packet was lost on its way back (a row of :meth:`Simulator._check_reply` or
    :meth:`Simulator._refusal`); None for every other failure, a lost ACK's too (whose rule no Service is behind)."""


@dataclass(frozen=True, slots=True)
class Client:
    """Where connections start: a pod, a node (or a host-network pod), or a machine outside."""

    label: str
    ip: str
    kind: str  # "pod", "node" or "external"
    node: str | None = None
    pod: SimPod | None = None
    bound: bool = False  # a node's socket bound to ``ip``; else the route to the destination picks the source

    @property
    def namespace(self) -> str | None:
        return self.pod.key.split("/", 1)[0] if self.pod is not None else None


@dataclass(frozen=True, slots=True)
class Connection:
    """One connection's end: who answered (and the source it saw), or why it failed."""

    target: str | None = None  # pod key, node/NAME, external/NAME
    ip: str | None = None  # the address the server was reached at
    node: str | None = None
    seen: str | None = None  # the source address the server saw
    failure: Failure | None = None
    entry_node: str | None = None


@dataclass(frozen=True, slots=True)
class Hop:
    """A packet as seen at one place, for pcap files and explanations."""

    time: float
    where: str
    packet: Tuple
    flags: str
    sequence: int = 1  # an echo's sequence number (its ping's n-th request, and that one's reply; others: 1)


Location = tuple[str, object]  # ("pod", SimPod) | ("local", node name) | ("router", None)
Arrival = tuple[str, object, Tuple]  # ("pod", SimPod, pkt) | ("node", name, pkt) | ("external", ip, pkt) | ("lb", ...)


class NodeRuntime:
    """One node's running state: compiled rules, engine (with its Sampler), conntrack, routes.

    The rules are kube-proxy's sync for this node, generated (and the context worked out) when first asked for,
    i.e. when a packet first reaches the node: a run about one service of a large cluster generates the few nodes
    its packets cross, not all of them. Generating draws nothing from the random generator, so when it happens
    changes no run (``Simulator(lazy=False)`` builds every node up front and gives the same connections).
    """

    def __init__(self, node: SimNode, rules: Callable[[], CompiledRuleset], context: Callable[[], NodeContext],
                 listeners: Callable[[], dict[tuple[str, int], str]], sampler: Sampler) -> None:
        self.node = node
        self.name = node.name
        self.sampler = sampler
        self.conntrack = Conntrack()
        self.local_pods: dict[int, SimPod] = {}
        self.own_nets: list[tuple[int, int]] = []
        self.peer_nets: list[tuple[int, int, str]] = []
        self.by_veth = node.pods_by_veth
        self.out_iface: Callable[[int], str] = lambda dst: UPLINK
        self._rules = rules
        self._context_of = context
        self._listeners_of = listeners
        self._compiled: CompiledRuleset | None = None
        self._context: NodeContext | None = None
        self._engine: Engine | None = None
        self._listeners: dict[tuple[str, int], str] | None = None
        self._tracer: Tracer | None = None

    @property
    def built(self) -> bool:
        """Whether the node's rules have been generated (a packet reached it, or someone asked for them)."""
        return self._compiled is not None

    def build(self) -> Engine:
        """Generate and compile the node's rules now (an eager simulator's build), not at the first packet."""
        return self.engine

    @property
    def compiled(self) -> CompiledRuleset:
        if self._compiled is None:
            self._compiled = self._rules()
        return self._compiled

    @property
    def context(self) -> NodeContext:
        if self._context is None:
            self._context = self._context_of()
        return self._context

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            engine = self._engine = Engine(self.compiled, self.context, self.sampler)
        return engine

    @property
    def listeners(self) -> dict[tuple[str, int], str]:
        """(proto, port) -> who answers on the node's own addresses (worked out when a packet first ends here)."""
        if self._listeners is None:
            self._listeners = self._listeners_of()
        return self._listeners

    @property
    def tracer(self) -> Tracer:
        """The all-branches tracer over the same compiled rules (for expected shares)."""
        if self._tracer is None:
            self._tracer = Tracer(self.compiled, self.context)
        return self._tracer

    def pod_iface(self, pod: SimPod) -> str:
        return pod.veth if self.by_veth else self.node.bridge


def _net(cidr: str) -> tuple[int, int, int]:
    net = netaddr.IPNetwork(cidr)
    return net.version, int(net.network), int(net.netmask)


def node_context(node: SimNode, topology: Topology) -> NodeContext:
    """What the node's evaluator must know: its addresses, interfaces and (coarse) routes."""
    default = "0.0.0.0/0" if topology.family == 4 else "::/0"
    # MASQUERADE takes the output interface's address: a packet DNATed to a local pod leaves by the bridge, whose
    # only address of global scope is its gateway (IPv4 inet_select_addr skips the link-scoped ones and takes the
    # one there is; IPv6 source selection prefers an address of the outgoing interface); without one, the node's
    # primary address (inet_select_addr's fall back to the first device that has one, eth0)
    interfaces: dict[str, Iterable[str]] = {UPLINK: list(node.addresses), node.bridge: list(node.gateways)}
    if node.pods_by_veth:
        interfaces.update({p.veth: [] for p in topology.pods if p.node == node.name and not p.host_network})
    routes = [(c, node.bridge) for c in node.pod_cidrs]
    routes += [(c, UPLINK) for n in topology.nodes if n is not node for c in n.pod_cidrs]
    routes.append((default, UPLINK))
    # the gateway is the node's own address too (addrtype LOCAL, delivered to the node): after the primary
    return NodeContext.of((*node.addresses, *node.gateways), interfaces=interfaces, routes=routes)


RuleSource = Callable[[Cluster, ProxyConfig], Ruleset]
"""How a node's tables are made from the objects and its config: :func:`node_rules`, or a caller's own that hands
out tables it has already generated for the same objects and config (the analysis' node set). Generated tables
only: they are compiled as the proxier's own (``compile_ruleset(..., generated=True)``)."""


def node_rules(cluster: Cluster, config: ProxyConfig, written: PortMemo | None = None) -> Ruleset:
    """The node's whole nat and filter tables after kube-proxy's sync; ``written``: service ports' rules other
    nodes' syncs wrote (``proxier.sync.PortMemo``), used and added to."""
    result = generate(cluster, config, written)
    return node_tables(result.ruleset, result.jumps)


def shared_node_rules() -> RuleSource:
    """:func:`node_rules` for nodes of the same objects, writing each service port's rules once for every node
    whose sync reads the same of it (the analysis' node set shares them so too): most ports read nothing of
    their node, and writing them is most of a node's sync."""
    written: PortMemo = {}
    return lambda cluster, config: node_rules(cluster, config, written)


class Simulator:
    """A cluster of nodes, pods and outside hosts that connections can be made through."""

    def __init__(self, cluster: Cluster, base: ProxyConfig, *, rng: random.Random | None = None,
                 clock: Callable[[], float] | None = None, hosts: Iterable[tuple[str, str]] = (),
                 overrides: Mapping[str, Mapping[str, object]] | None = None, lazy: bool = True,
                 rules: RuleSource | None = None) -> None:
        """``lazy``: generate a node's rules when a packet first reaches the node and compile a chain when a packet
        first enters it (fast for a question about a few services of a large cluster); False generates and
        compiles every node's rules up front, at each (re)build. Both give the same run. ``rules``: how a node's
        tables are generated (:data:`RuleSource`); by default :func:`shared_node_rules`, anew at each build."""
        self.rng = rng if rng is not None else random.Random(0)
        self.lazy = lazy
        self._generate = rules
        self._clock = clock
        self._now = 0.0
        self.base = base
        self.overrides = overrides
        self.hosts = tuple(hosts)
        self.record: list[Hop] | None = None
        self.echo_sequence = 1  # the sequence number of the echoes sent now (a ping's n-th request), for the record
        self._opened: list[Entry] | None = None  # the entries of a connection to close (connect's ``close``)
        self.router_flows: dict[Tuple, str] = {}
        self.clients: set[int] = set()
        self.runtimes: dict[str, NodeRuntime] = {}
        self._addresses: dict[str, tuple[int, int]] = {}
        self._load(cluster)

    # ------------------------------------------------------------------ building

    def _load(self, cluster: Cluster) -> None:
        """(Re)build everything derived from the objects; conntrack and the xt_recent lists still named survive.

        A node's new rules replace its old ones as kube-proxy's restore does (``RecentTable.load``): an xt_recent
        list they no longer name is destroyed, so a client of a Service whose affinity is removed and set again,
        or of an endpoint removed and added back, is drawn afresh. A node whose lists hold a client loads its new
        rules at once, not when a packet next reaches it: a later sync naming the list again would find the client
        kept. One whose lists hold nobody may wait: the proxier writes every list with the same mask and ring,
        so skipping a sync's rules changes nothing there."""
        self.cluster = cluster
        self.topology = build_topology(cluster, self.base, overrides=self.overrides, hosts=self.hosts)
        self.family = self.topology.family
        self.clients.add(parse_address(self.topology.default_client)[1])  # `external` is a host out there
        getbits = self.rng.getrandbits
        runtimes: dict[str, NodeRuntime] = {}
        # lazily, a rule text one node's chains compiled is not compiled again for another's; an eager build (many
        # connections) keeps each node's own copies, laid out together, which walk faster than shared ones
        memo: RuleMemo | None = {} if self.lazy else None
        rules = self._generate or shared_node_rules()  # the build's own: freed with it
        for node in self.topology.nodes:
            old = self.runtimes.get(node.name)
            sampler = old.sampler if old is not None else Sampler(rng=lambda: getbits(32))
            rt = NodeRuntime(node, self._rules_of(cluster, node, rules, memo), self._context_of(node),
                             self._listeners_of(cluster, node), sampler)
            if not self.lazy or sampler.recent.remembers():
                rt.build()  # lists holding a client: loaded now (the docstring says why)
            if old is not None:
                rt.conntrack = old.conntrack
            runtimes[node.name] = rt
        self.runtimes = runtimes
        self._index()
        self.dns = ClusterDNS(cluster, self.hosts, family=self.family)
        self._kube_dns = kube_dns_address(cluster, self.family)
        configs = {n.name: n.config for n in self.topology.nodes}
        self.balancer = LoadBalancer(cluster, configs, load_balancer_nodes(self.topology, cluster), self.family)

    def _index(self) -> None:
        """Address lookups as integers: who owns an address, which node routes it."""
        family = self.family
        self.node_at = {parse_address(a)[1]: n.name for n in self.topology.nodes for a in n.addresses}
        self.gateway_at = {parse_address(a)[1]: n.name for n in self.topology.nodes for a in n.gateways}
        self.pod_at = {parse_address(p.ip)[1]: p for p in self.topology.pods if not p.host_network}
        self.host_pods: dict[str, list[SimPod]] = {}
        for pod in self.topology.pods:
            if pod.host_network:
                self.host_pods.setdefault(pod.node, []).append(pod)
        self.external_at = {parse_address(a)[1]: name for name, a in self.hosts if (":" in a) == (family == 6)}
        self.external_ip_nodes = {parse_address(ip)[1]: svc for ip, svc in external_ips(self.cluster, family).items()}
        all_nets = [(n.name, _net(c)) for n in self.topology.nodes for c in n.pod_cidrs]
        local_pods: dict[str, dict[int, SimPod]] = {name: {} for name in self.runtimes}
        for value, pod in self.pod_at.items():  # grouped in one pass, not one scan of every pod per node
            if pod.node in local_pods:
                local_pods[pod.node][value] = pod
        for rt in self.runtimes.values():
            rt.local_pods = local_pods[rt.name]
            rt.own_nets = [(net, mask) for name, (_, net, mask) in all_nets if name == rt.name]
            rt.peer_nets = [(net, mask, name) for name, (_, net, mask) in all_nets if name != rt.name]
            rt.out_iface = self._iface_for(rt)

    def _rules_of(self, cluster: Cluster, node: SimNode, generate: RuleSource,
                  memo: RuleMemo | None) -> Callable[[], CompiledRuleset]:
        """How the node's rules are made: generated from ``cluster`` (the objects of this build, not a later
        update's) and compiled, each chain when first walked unless the simulator is eager, with the build's
        ``memo`` if any (shared by its nodes: most of their rules are the same text)."""
        lazy = self.lazy
        return lambda: compile_ruleset(generate(cluster, node.config), lazy=lazy, memo=memo, generated=True)

    def _context_of(self, node: SimNode) -> Callable[[], NodeContext]:
        topology = self.topology
        return lambda: node_context(node, topology)

    @staticmethod
    def _listeners_of(cluster: Cluster, node: SimNode) -> Callable[[], dict[tuple[str, int], str]]:
        """(proto, port) -> who answers on the node's own addresses: kube-proxy's healthz and health check ports."""
        name, config = node.name, node.config

        def listeners() -> dict[tuple[str, int], str]:
            found: dict[tuple[str, int], str] = {("tcp", KUBE_PROXY_HEALTHZ_PORT): f"node/{name}"}
            for port in health_ports(cluster, config):
                found[("tcp", port)] = f"node/{name}"
            return found
        return listeners

    def update(self, cluster: Cluster) -> int:
        """New objects (a scaled deployment, a removed endpoint): resync every node as kube-proxy does.

        Returns the number of conntrack entries deleted: the UDP entries of a service whose reply source is
        no serving endpoint of it (see ``simulator.stale``).
        """
        cleared = 0
        # a node whose conntrack is empty (no packet has reached it yet) has nothing to clear: no plan for it
        plans = {n.name: udp_cleanup(self.cluster, cluster, n.config) for n in self.topology.nodes
                 if n.name in self.runtimes and not self.runtimes[n.name].conntrack.empty}
        self._load(cluster)
        for name, plan in plans.items():
            rt = self.runtimes.get(name)
            if rt is not None and plan is not None:
                cleared += rt.conntrack.clear_stale_udp(plan.doomed)
        return cleared

    # ------------------------------------------------------------------ time and randomness

    @property
    def now(self) -> float:
        return self._clock() if self._clock is not None else self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def ephemeral_port(self) -> int:
        return self.rng.randint(*EPHEMERAL)

    # ------------------------------------------------------------------ clients and addresses

    def client(self, kind: str, name: str | None = None, ip: str | None = None) -> Client:
        """A pod (``name`` NS/NAME), a node (``name``) or an external machine (``ip``, default 203.0.113.10)."""
        if kind == "pod":
            pod = self.topology.pod(name or "")
            if pod is None:
                raise KeyError(name)
            if pod.host_network:
                return Client(f"pod/{pod.key}", pod.ip, "node", pod.node, pod)
            return Client(f"pod/{pod.key}", pod.ip, "pod", pod.node, pod)
        if kind == "node":
            node = self.topology.node(name or "")
            if node is None:
                raise KeyError(name)
            return Client(f"node/{node.name}", node.primary, "node", node.name)
        address = ip or self.topology.default_client
        return Client("external" if ip is None else f"external:{address}", address, "external")

    def _address(self, text: str) -> tuple[int, int]:
        """parse_address, remembered (a run connects to the same few addresses over and over)."""
        found = self._addresses.get(text)
        if found is None:
            found = self._addresses[text] = parse_address(text)
        return found

    def _text(self, value: int) -> str:
        return format_address(self.family, value)

    # ------------------------------------------------------------------ connections

    def connect(self, client: Client, dst: str, dport: int, proto: str = "tcp", *,
                sport: int | None = None, close: bool = False) -> Connection:
        """One connection: first packet, reply (checked at the client), and the client's ACK for TCP.

        ``close``: a TCP connection that worked is then closed (the server ends it, as ``netns send``'s does): its
        entries on every node go to TIME_WAIT, and a later SYN with the same tuple reopens them as a new
        connection (balanced again) rather than following the old one's NAT. Otherwise the connection stays
        ESTABLISHED, and the same tuple again is its next packet."""
        if not close or proto != "tcp":
            return self._connect(client, dst, dport, proto, sport)
        opened: list[Entry] = []
        self._opened = opened
        try:
            made = self._connect(client, dst, dport, proto, sport)
        finally:
            self._opened = None
        if made.failure is None:
            now = self.now
            for entry in opened:
                Conntrack.close(entry, now)
        return made

    def _connect(self, client: Client, dst: str, dport: int, proto: str, sport: int | None) -> Connection:
        family, dst_value = self._address(dst)
        if family != self.family:
            return Connection(failure=Failure(NO_ROUTE, f"{dst} is not an IPv{self.family} address"))
        answered = self.loopback_answer(client, proto, dport) if loopback(family, dst_value) else None
        if answered is not None:
            return answered
        src_value = self.client_source(client, family, dst_value)
        if client.kind == "external":
            self.clients.add(src_value)
        if proto in ICMP_PROTOS:  # an echo: no ports, its identifier is the tuple's both ways (:data:`PING_ID`)
            ident = sport or self.rng.randint(*PING_ID)
            pkt: Tuple = (proto, family, src_value, ident, dst_value, ident)
        else:
            pkt = (proto, family, src_value, sport or self.ephemeral_port(), dst_value, dport)
        start = self._start(client)
        self._entry: str | None = None
        first = self._travel(pkt, start, "S")
        entry = self._entry
        if isinstance(first, Failure):
            reason = heard(first.reason, proto)
            if reason != first.reason:
                first = replace(first, reason=reason, detail=first.detail + UNHEARD.format(proto.upper()))
            return Connection(failure=first, entry_node=entry)
        if first[0] == "lb":
            return self._proxied(client, pkt, first[1], first[2], proto)  # type: ignore[arg-type]
        return self._answer(client, pkt, start, first, entry)

    def client_source(self, client: Client, family: int, dst: int) -> int:
        """The source address of a client's connection to ``dst``: a node's towards a loopback address is
        loopback's own (the kernel picks it for a loopback peer), an unbound node socket's its route's preferred
        source (:meth:`route_source`), any other the client's address. The one rule for the walk and the
        expectations that send nothing (send's entries)."""
        src = self._address(client.ip)[1]
        if client.kind != "node":
            return src
        if loopback(family, dst):
            return loopback_source(family)
        return src if client.bound else self.route_source(self.runtimes[client.node], dst, src)  # type: ignore[index]

    def loopback_answer(self, client: Client, proto: str, port: int) -> Connection | None:
        """A client's connection to a loopback address, which never leaves its own host: a pod's is
        :meth:`own_loopback`'s; an outside client's host runs nothing there, so its own stack refuses (a TCP RST or
        an ICMP port unreachable, as netns's client namespace does); None for a node's, which its rules take
        (localhost NodePorts)."""
        if client.kind == "pod":
            return self.own_loopback(client.pod, proto, port)  # type: ignore[arg-type]
        if client.kind == "external" and proto in ICMP_PROTOS:  # its own stack answers the echo
            ip = format_address(self.family, loopback_source(self.family))
            return Connection(f"external/{client.ip}", ip, None, ip)
        if client.kind == "external":
            return Connection(failure=Failure(REJECT, f"{client.label}: nothing listens on {proto}/{port} on its own "
                                              "loopback (an outside host's loopback never leaves it)"))
        return None

    def own_loopback(self, pod: SimPod, proto: str, port: int) -> Connection:
        """A pod's packet to its own loopback: its network namespace has its own ``lo``, so the packet never
        reaches the node (no localhost NodePort, no KUBE-FIREWALL); the pod answers itself, or refuses."""
        ip = format_address(self.family, loopback_source(self.family))
        if proto not in ICMP_PROTOS and not pod.serves(proto, port):
            return Connection(failure=Failure(REJECT, f"pod {pod.key}: nothing listens on {proto}/{port} on its own "
                                              "loopback (a pod's loopback never leaves the pod)"))
        return Connection(pod.key, ip, pod.node, ip, None, None)

    def _answer(self, client: Client, pkt: Tuple, start: Location, first: Arrival, entry: str | None) -> Connection:
        """The server's side: is anything listening, does its reply reach the client from the right address."""
        served = self._server(first)
        if isinstance(served, Failure):
            return Connection(failure=self._refusal(client, pkt, first, served), entry_node=entry)
        target, ip, node = served
        arrived = first[2]
        seen = self._text(arrived[2])
        back = self._travel(reverse(arrived), self._server_location(first), "SA")
        failure = self._check_reply(client, pkt, back)
        if failure is None and pkt[0] == "tcp":
            later = self._travel(pkt, start, "A")
            if isinstance(later, Failure):
                failure = Failure(later.reason, f"the client's ACK: {later.detail}{ack_lost(later.reason)}", True)
            elif (later[0], later[1]) != (first[0], first[1]):
                failure = Failure(TIMEOUT, f"the client's ACK went to {self._where(later)}, not to {target}", True)
        if failure is not None:
            return Connection(target, ip, node, seen, failure, entry)
        return Connection(target, ip, node, seen, None, entry)

    def _refusal(self, client: Client, pkt: Tuple, first: Arrival, refused: Failure) -> Failure:
        """A host's refusal (its RST, its ICMP port unreachable), a pod's, a node's or an outside host's, goes back
        as a reply does and is lost as one is: to a node's pod bridge address (which only pod sources' masquerade
        would change) the outside has no route; a RST or ICMP error on a way back its connection did not come
        by is INVALID to that node's conntrack, which kube-proxy's KUBE-FORWARD drops; one from an address the
        client did not connect to is no answer to its socket. A lost refusal is silence: a DROP rule's is DROP when
        it was a TCP RST, which carries the SYN's DSCP as netns send's counters see it (ip_send_unicast_reply
        takes the TOS of the packet it answers), and TIMEOUT when it was an ICMP port unreachable, whose TOS keeps
        no DSCP (icmp_send masks it), so that netns send cannot tell its DROP from a loss."""
        if refused.reason != REJECT:
            return refused
        lost = self._reply_lost(client, pkt, self._travel(reverse(first[2]), self._server_location(first), "R"))
        if lost is None:
            return refused
        reason, how, facts = lost
        return Failure(reason if reason == DROP and pkt[0] == "tcp" else TIMEOUT,
                       f"{refused.detail}, and the reply{how}", after_first=True, lost=facts)

    def _check_reply(self, client: Client, pkt: Tuple, back: Arrival | Failure) -> Failure | None:
        """Why the answer to the client's first packet does not reach it as its answer, else None."""
        lost = self._reply_lost(client, pkt, back)
        return None if lost is None else Failure(lost[0], f"the reply{lost[1]}", after_first=True, lost=lost[2])

    def _reply_lost(self, client: Client, pkt: Tuple,
                    back: Arrival | Failure) -> tuple[str, str, ReplyLoss] | None:
        """(reason, how, facts) of an answer (a reply, a refusal) that does not reach the client as one, ``how``
        the words after "the reply" (:meth:`_check_reply`'s, :meth:`_refusal`'s) and ``facts`` what they say
        (:class:`ReplyLoss`); None when it does."""
        if isinstance(back, Failure):  # lost on its way: a REJECT's or a router's ICMP goes to the server, and the
            # client hears nothing (TIMEOUT); a DROP keeps its name, as netns send's counters name it
            reason = back.reason if back.reason == DROP else TIMEOUT
            return reason, f": {back.detail}", ReplyLoss(dropped=back.decided_by)
        kind, where, reply = back
        at_client = (kind == "external" and client.kind == "external" and where == client.ip) or \
            (kind == "pod" and client.kind == "pod" and where is client.pod) or \
            (kind == "node" and client.kind == "node" and where == client.node)
        if not at_client or reply[4] != pkt[2] or reply[5] != pkt[3]:
            # the address only: the client's port differs per connection, and failures are grouped by detail
            went = f" went to {self._where(back)} ({self._text(reply[4])}), not to {client.label}"
            return TIMEOUT, went, ReplyLoss()
        if pkt[0] in ICMP_PROTOS and reply[2] != pkt[4]:  # an echo reply from another address than pinged
            came_from = (self._text(reply[2]), 0)
            return WRONG_REPLY_SOURCE, (f" came from {came_from[0]}, the client pinged {self._text(pkt[4])}"), \
                ReplyLoss(came_from=came_from)
        if reply[2] != pkt[4] or reply[3] != pkt[5]:
            assert reply[3] is not None and pkt[5] is not None  # TCP/UDP/SCTP only here: ports always set
            came_from = (self._text(reply[2]), reply[3])
            return WRONG_REPLY_SOURCE, (f" came from {host_port(*came_from)}, the client connected to "
                                        f"{host_port(self._text(pkt[4]), pkt[5])}"), ReplyLoss(came_from=came_from)
        return None

    def _where(self, arrival: Arrival) -> str:
        kind, where, _ = arrival
        if kind == "pod":
            return f"pod {where.key}"  # type: ignore[attr-defined]
        return f"{kind} {where}" if kind != "lb" else f"load balancer {where.label}"  # type: ignore[attr-defined]

    def _server(self, arrival: Arrival) -> tuple[str, str, str | None] | Failure:
        """Who answers a packet that reached a host: (target, address, node), or why nobody does."""
        kind, where, pkt = arrival
        proto, port, ip = pkt[0], pkt[5], self._text(pkt[4])
        if proto in ICMP_PROTOS:
            return self._echoed(kind, where, ip, pkt[4])
        assert port is not None  # the simulator's connections are TCP/UDP/SCTP: always a port
        if kind == "pod":
            pod: SimPod = where  # type: ignore[assignment]
            if not pod.serves(proto, port):
                return Failure(REJECT, f"pod {pod.key} ({ip}): nothing listens on {proto}/{port} "
                               f"(it serves {', '.join(f'{p}/{n}' for p, n in sorted(pod.ports or ()))})")
            return pod.key, ip, pod.node
        if kind == "node":
            name: str = where  # type: ignore[assignment]
            for pod in self.host_pods.get(name, ()):
                if pod.ports is not None and pod.serves(proto, port):
                    return pod.key, ip, name
            listener = self.runtimes[name].listeners.get((proto, port))
            if listener is None:
                return Failure(REJECT, f"node {name} ({ip}): nothing listens on {proto}/{port} "
                               "(connection refused)")
            return listener, ip, name
        address: str = where  # type: ignore[assignment]
        value = pkt[4]
        if value in self.clients:  # a client's host: its stack refuses a port nothing listens on
            return Failure(REJECT, f"{address}: nothing listens on {proto}/{port} (connection refused)")
        if address in self.balancer.addresses:
            return Failure(TIMEOUT, f"{address}: nothing answers on {proto}/{port}")
        host = self.external_at.get(value)
        return f"external/{host or address}", address, None

    def _echoed(self, kind: str, where: object, ip: str, value: int) -> tuple[str, str, str | None] | Failure:
        """Who answers a ping that reached a host: its kernel, whatever listens (icmp_echo: no socket needed, and
        net.ipv4.icmp_echo_ignore_all is 0), a pod's in its own namespace, a node's for itself and its host-network
        pods alike, an outside host's; only a load balancer's address stays silent, as it forwards just its
        Services' ports (and a cloud's answers no echo that kube-proxy's rules see)."""
        if kind == "pod":
            pod: SimPod = where  # type: ignore[assignment]
            return pod.key, ip, pod.node
        if kind == "node":
            return f"node/{where}", ip, where  # type: ignore[return-value]
        if ip in self.balancer.addresses and value not in self.clients:
            return Failure(TIMEOUT, f"{ip}: the load balancer forwards only its Services' ports; nothing answers "
                           "the echo request")
        return f"external/{self.external_at.get(value) or ip}", ip, None

    def server_at(self, address: str, port: int, proto: str, *, node: str | None = None,
                  senders: bool = False) -> tuple[str, str, str | None] | Failure | None:
        """Who answers a packet to ``address``:``port`` that reached the pod, node or outside host having the
        address: (target, address, node), or why nobody does; None when no pod, node or outside host has it.

        ``node``: the node the packet ends on, whose loopback addresses are its own. ``senders``: the clients'
        hosts and the load balancer's addresses are outside hosts too (a client's stack refuses, the balancer
        stays silent), as they are for a packet the rules send back out.
        """
        family, value = self._address(address)
        pkt: Tuple = (proto, self.family, 0, 0, value, port)
        if value in self.pod_at:
            return self._server(("pod", self.pod_at[value], pkt))
        owner = self.host_node(value)
        if owner is not None or (node is not None and loopback(family, value)):
            return self._server(("node", owner or node, pkt))
        if value in self.external_at or (senders and (value in self.clients or address in self.balancer.addresses)):
            return self._server(("external", address, pkt))
        return None

    def _proxied(self, client: Client, pkt: Tuple, frontend: Frontend, arrived: Tuple, proto: str) -> Connection:
        """ipMode Proxy: the balancer answers the client and opens its own connection to a node's NodePort."""
        service = frontend.service
        source = self._text(arrived[2])
        if not LoadBalancer.source_allowed(service, source):
            ranges = ", ".join(service.load_balancer_source_ranges)
            return Connection(failure=Failure(DROP, f"load balancer {frontend.label}: source {source} is not in "
                                              f"loadBalancerSourceRanges ({ranges})"))
        node = self.balancer.choose(arrived, service, self.rng)
        if node is None or not frontend.port.node_port:
            return Connection(failure=Failure(TIMEOUT, f"load balancer {frontend.label}: no backend node "
                                              "(no nodes, or no NodePort to proxy to)"))
        proxy = Client(f"lb/{frontend.ip}", frontend.ip, "external")
        inner = self.connect(proxy, self.runtimes[node].node.primary, frontend.port.node_port, proto)
        if inner.failure is not None:
            detail = f"load balancer {frontend.label} -> node {node}: {inner.failure.detail}"
            return Connection(failure=replace(inner.failure, detail=detail), entry_node=node)
        self._entry = None
        back = self._travel(reverse(arrived), ("router", None), "SA")
        failure = self._check_reply(client, pkt, back)
        return Connection(inner.target, inner.ip, inner.node, inner.seen, failure, node)

    # ------------------------------------------------------------------ hops

    def _start(self, client: Client) -> Location:
        if client.kind == "pod":
            return ("pod", client.pod)
        if client.kind == "node":
            return ("local", client.node)
        return ("router", None)

    def _server_location(self, arrival: Arrival) -> Location:
        kind, where, _ = arrival
        if kind == "pod":
            return ("pod", where)
        if kind == "node":
            return ("local", where)
        return ("router", None)

    def _note(self, where: str, pkt: Tuple, flags: str) -> None:
        if self.record is not None:
            self.record.append(Hop(self.now, where, pkt, flags, self.echo_sequence))

    def _travel(self, pkt: Tuple, start: Location, flags: str) -> Arrival | Failure:
        """Follow one packet from where it is sent to the host that receives it."""
        kind, where = start
        if kind == "pod":
            pod: SimPod = where  # type: ignore[assignment]
            rt = self.runtimes[pod.node]
            if self.record is not None:
                self._note(f"pod {pod.key} eth0", pkt, flags)
            hop: tuple = ("node", rt, rt.pod_iface(pod), None if rt.by_veth else pod.veth, False)
        elif kind == "local":
            hop = ("node", self.runtimes[where], None, None, False)  # type: ignore[index]
        else:
            hop = ("router",)
        translated: str | None = None  # the node the packet last left with its destination changed
        for _ in range(MAX_HOPS):
            if hop[0] == "node":
                rt, in_iface, bport = hop[1], hop[2], hop[3]
                if self._entry is None:
                    self._entry = rt.name
                moved = self._through_node(rt, pkt, in_iface, bport, in_iface is None, flags)
                if isinstance(moved, Failure) or moved[0] != "next":
                    return moved
                translated = translated_at(rt.name, pkt[4:6], moved[1][4:6])
                pkt, hop = moved[1], moved[2]
            else:
                routed = self._router(pkt, flags, translated)
                if isinstance(routed, Failure) or routed[0] != "next":
                    return routed
                hop = routed[2]
        reason = circles_reason(pkt[0])
        return Failure(reason, IN_CIRCLES + ("" if reason == NO_ROUTE else CIRCLES_UNHEARD.format(pkt[0].upper())))

    def _router(self, pkt: Tuple, flags: str, translated: str | None):
        """The outside network: node addresses, the balancer, externalIPs, outside hosts. ``translated``: the node
        the packet came from, when that node changed its destination (see :meth:`answered_from_outside`)."""
        self._note("router", pkt, flags)
        dst, proto, dport = pkt[4], pkt[0], pkt[5]
        assert dport is not None  # the simulator's connections are TCP/UDP/SCTP: always a port
        node = self.node_at.get(dst)
        if node is not None:
            return ("next", pkt, ("node", self.runtimes[node], UPLINK, None, False))
        text = self._text(dst)
        frontend = self.balancer.frontend(text, proto, dport)
        if frontend is not None:
            if frontend.proxy:
                return ("lb", frontend, pkt)
            chosen = self.balancer.choose(pkt, frontend.service, self.rng)
            if chosen is None:
                return Failure(TIMEOUT, f"load balancer {frontend.label}: no backend nodes")
            self._note(f"load balancer {text} -> {chosen}", pkt, flags)
            return ("next", pkt, ("node", self.runtimes[chosen], UPLINK, None, False))
        if dst in self.external_ip_nodes:
            chosen = self.router_flows.get(pkt)
            if chosen is None:
                names = list(self.runtimes)
                chosen = self.router_flows[pkt] = names[self.rng.randrange(len(names))]
            return ("next", pkt, ("node", self.runtimes[chosen], UPLINK, None, False))
        if self.outside_host(dst) or text in self.balancer.addresses:
            return ("external", text, pkt)
        why = (f"router: no route to {text} (no node, load balancer or outside host has it; the outside does not "
               "route pod or service addresses)")
        if not self.answered_from_outside(pkt[2]):
            return Failure(TIMEOUT, f"{why}, nor back to {self._text(pkt[2])}{NO_WAY_BACK}")
        if not self.answered_from_outside(pkt[2], translated):
            return Failure(TIMEOUT, f"{why}; its ICMP net unreachable goes to {self._text(pkt[2])} straight, not by "
                           f"{translated}, whose conntrack alone undoes the DNAT: the client's socket does not know "
                           "the connection it names, and hears nothing")
        return Failure(NO_ROUTE, why)

    def outside_host(self, address: int) -> bool:
        """Whether a host outside has the address: a client's, or one of ``hosts`` (the router delivers to it)."""
        return address in self.clients or address in self.external_at

    def answered_from_outside(self, source: int, translated: str | None = None) -> bool:
        """Whether an outside host's answer (a reply, its RST or ICMP port unreachable) to a packet that left the
        cluster from ``source``, as the nodes' rules leave it, finds its way back: the router (:meth:`_router`)
        routes node addresses and outside hosts, and a pod's packet leaving the cluster is masqueraded to its
        node's (:meth:`_new_entry`); a node's pod bridge address, which nothing masquerades, it has no route to.
        The one home of that fact for a prediction that sends nothing (the differential's tracer leaves); a
        connection finds the same by sending the answer back (:meth:`_refusal`).

        ``translated``: the node that DNATed the packet before it left (None: it left as the client sent it). The
        answer names the translated destination, which only that node's conntrack maps back; it passes there only
        from that node's own address (masqueraded there) or a pod's (the CNI masquerades it on the node it leaves
        by), not from an outside host or another node, as the kernel showed: an eTP Local NodePort whose endpoint
        nobody has is silence from outside and from another node, unreachable from a pod (netns verify)."""
        if translated is not None and source not in self.pod_at and self.node_at.get(source) != translated:
            return False
        return source in self.node_at or source in self.pod_at or self.outside_host(source)

    def refusal_heard(self, address: int, source: int | None, translated: str | None = None) -> bool:
        """Whether a refusal (REJECT: a TCP RST or ICMP port unreachable) by the host at ``address`` reaches the
        sender: an outside client's host is answered only where :meth:`answered_from_outside` finds a way back to
        ``source`` (None: unknown, taken as heard) through ``translated``; any other host's refusal is heard. The
        one home of that rule for the expectations that send nothing (send's, the differential's prediction)."""
        return address not in self.clients or source is None or self.answered_from_outside(source, translated)

    def host_node(self, address: int) -> str | None:
        """The node whose own address this is: one of its addresses, or its pod bridge's (a gateway, which the
        other nodes reach by their route to its pod CIDR, and it delivers locally); None for any other."""
        return self.node_at.get(address) or self.gateway_at.get(address)

    def in_pod_subnet(self, address: int) -> bool:
        """Whether the address is inside a node's pod subnet (a pod may have it, or nobody: no ARP answer)."""
        return any(address & mask == net for rt in self.runtimes.values() for net, mask in rt.own_nets)

    def unowned_reason(self, address: int, source: int | None = None, translated: str | None = None) -> str:
        """Why a packet to an address no pod, node or outside host has gets no answer: inside a node's pod subnet
        the nodes route it (to a pod nobody is, or to the peer node owning the subnet) and nobody answers ARP
        (TIMEOUT); anywhere else it goes out to the router, which has no route (NO_ROUTE), and whose answer
        finds no way back to a ``source`` (as the nodes' rules leave it) :meth:`answered_from_outside` does not
        answer (TIMEOUT, as :meth:`_router` says it); ``translated`` as there."""
        if self.in_pod_subnet(address) or (source is not None and not self.answered_from_outside(source, translated)):
            return TIMEOUT
        return NO_ROUTE

    def _next_hop(self, rt: NodeRuntime, dst: int) -> tuple[str, str, object]:
        """(interface, kind, target) of the node's route to ``dst``: a local pod, a node, the router, nobody."""
        pod = rt.local_pods.get(dst)
        if pod is not None:
            return rt.pod_iface(pod), "pod", pod
        pod = self.pod_at.get(dst)
        if pod is not None:
            return UPLINK, "node", pod.node
        node = self.node_at.get(dst)
        if node is not None:
            return UPLINK, "node", node
        for net, mask in rt.own_nets:
            if dst & mask == net:
                return rt.node.bridge, "void", None
        for net, mask, name in rt.peer_nets:
            if dst & mask == net:
                return UPLINK, "node", name
        return UPLINK, "router", None

    def _through_node(self, rt: NodeRuntime, pkt: Tuple, in_iface: str | None, bport: str | None,
                      local_origin: bool, flags: str):
        """One node: conntrack, the hooks, NAT, then the route. Returns the next hop or the end."""
        now = self._clock() if self._clock is not None else self._now
        rt.sampler.now = now
        if self.record is not None:
            self._note(f"{rt.name} {in_iface or 'local'} in", pkt, flags)
        found, state, dst, dport = self._conntrack_in(rt, pkt, flags, now)
        proto, family, src, sport = pkt[0], pkt[1], pkt[2], pkt[3]
        if proto in ICMP_PROTOS:  # an echo has no ports (its identifier is the tuple's): the rules see its type
            icmp_type, icmp_code = echo(proto, flags)
            packet = Packet(proto, family, src, dst, None, None, in_iface, None, 0, state, frozenset(), bport,
                            icmp_type=icmp_type, icmp_code=icmp_code)
        else:
            packet = Packet(proto, family, src, dst, sport, dport, in_iface, None, 0, state, frozenset(), bport)
        walked = walk_node(rt.engine, packet, local_origin=local_origin, nat=found is None and state is CtState.NEW,
                           out_iface=rt.out_iface)
        b = walked.branch
        if walked.verdict != ACCEPT:
            reason = REJECT if walked.verdict == "REJECT" else DROP
            decided = deciding_rule(b)
            return Failure(reason, f"node {rt.name}: {verdict_rule(b, walked.verdict)}",
                           decided_by=Decided(rt.name, None if decided is None else decided.step))
        iface, kind, target = ("lo", "local", rt.name) if walked.local else self._next_hop(rt, b.dst)
        out = self._leaving(rt, pkt, found, state, b, kind, local_origin, flags, now)
        if isinstance(out, Failure):
            return out
        if self.record is not None:
            self._note(f"{rt.name} {iface} out", out, flags)
        return self._deliver(rt, out, iface, kind, target, flags)

    @staticmethod
    def _conntrack_in(rt: NodeRuntime, pkt: Tuple, flags: str,
                      now: float) -> tuple[tuple[Entry, bool] | None, CtState, int, int | None]:
        """Conntrack on the packet's arrival (nf_conntrack_in, before the hooks): (its entry and whether the packet
        is its reply, the ctstate, the destination address and port) as the hooks see the packet. A packet of a
        known connection arrives with its entry's translation already applied (the nat table never sees it), and
        its state is what the filter rules match on. The one change it makes to conntrack: a SYN on a closed
        entry's tuple removes that entry (:meth:`Conntrack.reopen`) and starts a new connection, as
        nf_conntrack_tcp_packet kills a closed connection a SYN reopens."""
        found = rt.conntrack.lookup(pkt, now)
        if found is not None and flags == "S" and found[0].closed:
            rt.conntrack.reopen(found[0])  # a new SYN on a closed connection's tuple: a new connection
            found = None
        if found is not None:
            entry, is_reply = found
            ahead = entry.orig if is_reply else entry.reply  # the tuple the other side sends
            state = CtState.ESTABLISHED if (is_reply or entry.seen_reply) else CtState.NEW
            return found, state, ahead[2], ahead[3]
        if flags == "R" or (flags == "SA" and (pkt[0] == "tcp" or pkt[0] in ICMP_PROTOS)):
            # conntrack's TCP tracker starts no connection on a SYN/ACK or a RST it has no entry for (a reply
            # that took another way back than its SYN came), nor does an ICMP error whose inner packet has none
            # start one (icmp_error_message): the packet is INVALID, and no NAT sees it. (A reply to a pod of this
            # node whose SYN another node DNATed back here finds the entry that SYN made coming in, bridged or
            # routed alike: tests/kernel/test_same_node_reply_kernel.py); nor does an echo reply with no request
            # (icmp_new: only requests start one)
            return None, CtState.INVALID, pkt[4], pkt[5]
        return None, CtState.NEW, pkt[4], pkt[5]

    def _leaving(self, rt: NodeRuntime, pkt: Tuple, found: tuple[Entry, bool] | None, state: CtState, b: Branch,
                 kind: str, local_origin: bool, flags: str, now: float) -> Tuple | Failure:
        """The tuple an accepted packet leaves the node with, and conntrack brought up to date by it: a known
        connection's packet takes its entry's translation (and moves its state on), an INVALID one leaves
        untouched and untracked, and a new one is confirmed with its source NAT, which fails only when nf_nat
        finds no free source port."""
        proto, family = pkt[0], pkt[1]
        if found is not None:
            entry, is_reply = found
            back = entry.orig if is_reply else entry.reply
            if flags != "R":
                rt.conntrack.seen(entry, is_reply, now)
            elif proto == "tcp":  # a RST aborts the connection (a new SYN on its tuple reopens it); an ICMP error
                Conntrack.abort(entry, now)  # is only related to a UDP one, whose state it leaves
            # (an echo's identifier is its tuple's both ways: the packet the rules saw had no ports)
            return (proto, family, back[4], back[5], b.dst, back[5] if proto in ICMP_PROTOS else b.dport)
        if state is CtState.INVALID:  # accepted (no INVALID drop rule, tcp-be-liberal): on, untracked
            return pkt
        confirmed = self._new_entry(rt, pkt, b, kind, local_origin, now)
        if confirmed is None:
            return Failure(DROP, f"node {rt.name}: no free source port for NAT: every port tried makes a reply "
                           f"tuple another connection has (nf_nat gives up, the packet is dropped)",
                           decided_by=Decided(rt.name))
        return confirmed

    def route_source(self, rt: NodeRuntime, dst: int, default: int) -> int:
        """The source an unbound socket of the node gets towards ``dst``: its route's preferred source. A route by
        the pods' bridge (a local pod, the node's own pod CIDR) has the bridge's gateway address, as the connected
        route of kubenet's, the bridge plugin's and Flannel's bridge says (``src 10.244.1.1``); every other the
        node's ``default`` (a Service's address too: it is routed by eth0, so the connection keeps the node's
        address into the rules, and only a MASQUERADE on the way to a local endpoint changes it)."""
        gateways = rt.node.gateways
        if gateways and self._next_hop(rt, dst)[0] == rt.node.bridge:
            return self._address(gateways[0])[1]
        return default

    def _iface_for(self, rt: NodeRuntime) -> Callable[[int], str]:
        return lambda dst: self._next_hop(rt, dst)[0]

    def _new_entry(self, rt: NodeRuntime, pkt: Tuple, b: Branch, kind: str, local_origin: bool,
                   now: float) -> Tuple | None:
        """Confirm a new connection: its source NAT as nf_nat's get_unique_tuple makes it, then the entry.

        Every new connection passes a nat hook: a SNAT or MASQUERADE rule's binding, the CNI's masquerade of pod
        egress, or else the null binding (the address and port unchanged). Under ``--random`` or
        ``--random-fully`` the source port is always drawn anew, even when the address stays; otherwise the
        original port is kept unless the resulting reply tuple is another entry's, and then another is drawn
        (:func:`nat_port_range`). None when no port of the range is free: the kernel drops the packet.
        """
        proto, family = pkt[0], pkt[1]
        echo_ = proto in ICMP_PROTOS
        src, sport, dst, dport = b.src, pkt[3], b.dst, pkt[5] if echo_ else b.dport
        assert sport is not None  # a TCP/UDP/SCTP connection's port, an echo's identifier: always set
        # nf_nat_l4proto_unique_tuple takes any identifier 0-65535 for an echo, a port of nat_port_range else
        ports: tuple[int, int] | None = (0, 65535) if echo_ else None
        random_all = False
        if b.snat:  # a SNAT or MASQUERADE rule bound the source: its flags and --to-ports/--to-source port range
            for rule in reversed(b.path):
                if rule.kind is Kind.MASQUERADE or rule.kind is Kind.SNAT:
                    nat = rule.nat
                    if nat is not None:
                        random_all = nat.random
                        if nat.port_lo is not None and nat.port_hi is not None:
                            ports = (nat.port_lo, nat.port_hi)
                    break
        if src == pkt[2] and kind == "router" and not local_origin and src in self.pod_at:
            src = parse_address(rt.node.primary)[1]  # the CNI's masquerade of pod egress
            random_all = rt.node.config.random_fully
        taken = rt.conntrack.taken
        if random_all or (ports is not None and not ports[0] <= sport <= ports[1]) or \
                taken((proto, family, dst, dport, src, sport), now):
            found = self._unique_port(rt, (proto, family, dst, dport, src, sport), ports, now)
            if found is None:
                return None
            sport = found
            dport = found if echo_ else dport
        reply = (proto, family, dst, dport, src, sport)
        dnat = (dst, dport) != (pkt[4], pkt[5]) if not echo_ else dst != pkt[4]
        entry = rt.conntrack.add(pkt, reply, now, dnat=dnat, snat=(src, sport) != (pkt[2], pkt[3]))
        if self._opened is not None:
            self._opened.append(entry)
        return (proto, family, src, sport, dst, dport)

    def _unique_port(self, rt: NodeRuntime, reply: Tuple, ports: tuple[int, int] | None, now: float) -> int | None:
        """nf_nat_l4proto_unique_tuple: from a random port of the range, the first whose reply tuple is free, in
        rounds of 128, 64, 32 and 16 tries (each from a new random port); None when every try clashed."""
        sport = reply[5]
        assert sport is not None  # a TCP/UDP/SCTP connection's port, an echo's identifier: always set
        lo, hi = ports if ports is not None else nat_port_range(sport)
        size = hi - lo + 1
        attempts = min(size, 128)
        taken = rt.conntrack.taken
        head = reply[:5]
        proto, family, dst, _, src = head
        echo_ = proto in ICMP_PROTOS  # an echo's identifier is its tuple's both ways
        while True:
            start = self.rng.randint(lo, hi) - lo
            for i in range(attempts):
                port = lo + (start + i) % size
                if not taken((proto, family, dst, port, src, port) if echo_ else (*head, port), now):
                    return port
            if attempts >= size or attempts < 16:
                return None
            attempts //= 2

    def _deliver(self, rt: NodeRuntime, out: Tuple, iface: str, kind: str, target: object, flags: str):
        if kind == "local":
            return ("node", rt.name, out)
        if kind == "pod":
            if self.record is not None:
                # the pod's side of the veth sees the packet's own flags: NAT changes addresses and ports only
                self._note(f"pod {target.key} eth0", out, flags)  # type: ignore[attr-defined]
            return ("pod", target, out)
        if kind == "node":
            return ("next", out, ("node", self.runtimes[target], UPLINK, None, False))  # type: ignore[index]
        if kind == "router":
            return ("next", out, ("router",))
        if out[0] in ICMP_PROTOS:  # a ping waits longer than the node's neighbour resolution, which then gives up
            return Failure(NO_ROUTE, f"node {rt.name}: no pod has {self._text(out[4])} on {iface} (nobody answers "
                           f"ARP for it){ARP_FAILED}")
        return Failure(TIMEOUT, f"node {rt.name}: no pod has {self._text(out[4])} on {iface} "
                       "(nobody answers ARP for it)")

    # ------------------------------------------------------------------ DNS

    def resolver(self, client: Client) -> Resolver | None:
        """A pod's resolver, from its dnsPolicy and dnsConfig (a host-network pod's too); None for a node or a
        machine outside (cluster DNS answers them, unasked)."""
        if client.pod is None:
            return None
        return self.dns.resolver(client.pod.key, host_network=client.pod.host_network, kube_dns=self._kube_dns)

    def resolve(self, client: Client, name: str):
        """The client's DNS answer; from a pod, the query travels to its nameserver (:meth:`dns_server`)."""
        resolver = self.resolver(client)
        answer = self.dns.resolve(name, client.namespace, resolver)
        failure = self.dns_query(client, self.dns.truncated(answer, resolver))
        return (None, failure) if failure is not None else (answer, None)

    def dns_query(self, client: Client, truncated: bool = False) -> Failure | None:
        """Send the client's DNS query, when it sends one (:meth:`dns_server`): why it failed, else None.
        ``truncated``: the answer over UDP does not fit (``ClusterDNS.truncated``: 512 bytes, or with ``options
        edns0`` the size the query's OPT record advertises), so the same query is asked again over TCP, to the
        same server and port, as glibc's res_send does; the retry's fate decides.

        One query per connection, one draw of its path (of kube-dns's endpoints), whatever the search list: a real
        resolver (glibc, and ``netns send``'s client) sends one per name it tries, each from a fresh socket (glibc
        closes its UDP socket after each query unless RES_STAYOPEN), so each is a new conntrack entry and a new
        draw. Every kube-dns endpoint answers alike here, so no result differs; what differs is the query count,
        and a failure's share when the path drops or rejects only some queries (a lookup of k names then fails
        more often than one query does). Modelled so, as drawing per name would change seeded outputs."""
        server = self.dns_server(client)
        if server is None:
            return None
        query = self.connect(client, server, DNS_PORT, "udp")
        if query.failure is not None:
            return replace(query.failure, detail=dns_query_detail(server, query.failure.detail), dns_query=True)
        if not truncated:
            return None
        retry = self.connect(client, server, DNS_PORT, "tcp", close=True)  # the client closes it after the answer
        if retry.failure is None:
            return None
        return replace(retry.failure, detail=dns_query_detail(server, TRUNCATED_RETRY + retry.failure.detail),
                       dns_query=True)

    def dns_server(self, client: Client) -> str | None:
        """Where the client's query for a name goes first: a pod's first nameserver (:meth:`resolver`): with
        dnsPolicy ClusterFirst kube-dns (the UDP query to the cluster IP of kube-system/kube-dns, when it has port
        53/UDP and an address of the simulated family), with dnsConfig or None the one it names; None when no
        query is sent over the network (a node, a host-network pod but with ClusterFirstWithHostNet, dnsPolicy
        Default, a machine outside, or no such kube-dns)."""
        resolver = self.resolver(client)
        return resolver.server if resolver is not None else None

