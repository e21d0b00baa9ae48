"""Seeded keep-alive connections through the cluster simulator, for ``dist --connections``.

The exact shares come from tracing one node's rules; the samples here come
from the whole journey instead: the client (a pod on its node, a node, or a
machine outside) opens a connection in :class:`~kubeproxy_sim.simulator.network.Simulator`,
which walks it through the source node, the router and the load-balancer
model, the entry node's rules and conntrack, and back. Every further request
of the connection is sent on the same 5-tuple, so it is matched by the
conntrack entry the first packet created and lands where the first one did:
that is why kube-proxy balances connections, not requests.

The simulator runs exactly the per-node configs the exact analysis used (its
node configs are overridden with them), clients without a Pod object get one,
and one ``random.Random(seed)`` drives every draw, so a run is reproducible
from its seed. Connections are independent: after its requests a connection
is closed and the network forgets it (its conntrack entries and the
balancer's and router's flow choices), while each node's ``recent`` lists,
and with them session affinity, live on.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

from kubeproxy_sim.analysis.exact import CLUSTER_IP, EXTERNAL_IP, LOAD_BALANCER, NODE_PORT, Entry, View
from kubeproxy_sim.analysis.nodes import NodeSet, Source, free_pod_address
from kubeproxy_sim.netfilter.evaluate import RecentTable
from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.netfilter.packet import format_address, parse_address, split_endpoint
from kubeproxy_sim.objects.model import Cluster, Pod
from kubeproxy_sim.objects.nodes import used_addresses
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Client, Connection, RuleSource, Simulator, node_rules

CLIENT_NAMESPACE = "kubeproxy-sim"  # where client pods without a Pod object are placed
CONNECTION_GAP = 0.01  # simulated seconds between connections (1e6 of them stay within affinity's 3 h)
REQUEST_GAP = 0.001  # between the requests of one connection (well within every conntrack timeout)
REQUEST_BUDGET = 100_000  # follow-up requests sent packet by packet per run; beyond it, counted with their connection

Key = tuple[str, str | None]  # (verdict, endpoint): DNAT ip:port, or DROP/REJECT/ACCEPT/a failure reason


@dataclass(frozen=True, slots=True)
class Route:
    """One way a sampled connection starts: a client dialling dst:port, with its weight in the view.

    ``pinned``: the entry nodes (with weights) the balancer or router is made
    to choose, when the view's own weights differ from what the network model
    would choose by itself (e.g. ``--node`` keeps only some nodes); empty: the
    network decides.
    """

    source: Source
    dst: str
    port: int
    weight: Fraction
    pinned: tuple[tuple[str, Fraction], ...] = ()


@dataclass(frozen=True, slots=True)
class Landing:
    """Where one sampled connection went: for callers that check per-client properties (affinity)."""

    index: int
    route: Route
    client: Client
    entry_node: str | None  # the node whose rules balanced it
    key: Key


@dataclass(frozen=True, slots=True)
class Tally:
    """What a run saw: connections and requests per outcome, and anything the exact answer cannot explain."""

    connections: dict[Key, int]
    requests: dict[Key, int]
    split_connections: int  # connections whose requests did not all land where the first one did
    requests_sent: int  # requests sent packet by packet per connection (the others counted with the first)
    failures: dict[tuple[str, str], int]  # (reason, detail) of failed connections
    pinned: bool


# --------------------------------------------------------------------------- building the simulated cluster


def client_pod(node: str, address: str) -> Pod:
    """A Pod object for a client address no Pod object owns (kube-proxy's rules never read pods)."""
    dashed = address.replace(".", "-").replace(":", "-")
    return Pod(CLIENT_NAMESPACE, f"client-{node}-{dashed}", node_name=node, pod_ips=(address,))


def _real_pod(nodes: NodeSet, source: Source) -> bool:
    return any(p.key == source.name and source.address in p.pod_ips and not p.host_network
               for p in nodes.cluster.pods)


def client_pods(nodes: NodeSet, sources: Sequence[Source]) -> dict[Source, Pod]:
    """Pod objects for the pod sources that have none, one per (node, address).

    The exact analysis may use one free address for a client on every node
    (the cluster CIDR when nodes have no pod CIDR); in the network each node's
    client needs its own, so later ones get the next free address of their node.
    """
    used = used_addresses(nodes.cluster)
    made: dict[Source, Pod] = {}
    taken: set[str] = set()
    for source in sources:
        if source.kind != "pod" or source in made or _real_pod(nodes, source) or source.node not in nodes.configs:
            continue
        address = source.address
        if address in taken:
            address = free_pod_address(nodes, source.node, used | taken) or address
        taken.add(address)
        made[source] = client_pod(source.node, address)
    return made


@dataclass(slots=True)
class SimClock:
    """Simulated seconds, injected into the simulator so that every run can start again at 0."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True, slots=True)
class Network:
    """A simulator of the analysed cluster, its clock, and the client pod given to each pod source."""

    sim: Simulator
    clock: SimClock
    pods: dict[Source, str]

    def client(self, source: Source) -> Client:
        return sim_client(self.sim, source, self.pods)


def build_simulator(nodes: NodeSet, sources: Sequence[Source], seed: int) -> Network:
    """The cluster as the simulator sees it, every node running the config the exact shares came from.

    Its nodes' rules are the node set's (:func:`shared_rules`), each taken when a
    packet first reaches the node; the simulator is kept in the node set's
    cache (keyed by the client pods it was given) and only its
    state is rewound for the next run: the random generator is seeded again,
    the clock, conntrack, flow choices and ``recent`` lists start empty. A run
    therefore depends on its seed alone, not on what ran before.
    """
    made = client_pods(nodes, sources)
    key = ("journeys", tuple(sorted(pod.key for pod in made.values())))
    # the node set's cache is shared by every layer; the entries under this key are always (sim, clock)
    cached = cast("tuple[Simulator, SimClock] | None", nodes.cache.get(key))
    if cached is None:
        cluster = dataclasses.replace(nodes.cluster, pods=(*nodes.cluster.pods, *made.values()))
        overrides = {name: {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
                     for name, config in nodes.configs.items()}
        clock = SimClock()
        sim = Simulator(cluster, nodes.configs[nodes.order[0]], rng=random.Random(seed), clock=clock,
                        overrides=overrides, rules=shared_rules(nodes))
        cached = nodes.cache[key] = (sim, clock)
    sim, clock = cached
    rewind(sim, clock, seed)
    return Network(sim, clock, {source: pod.key for source, pod in made.items()})


def shared_rules(nodes: NodeSet) -> RuleSource:
    """The simulator's node rules from the node set, which has generated them for the exact shares already: a
    node's tables are the set's when its config is the set's and the objects kube-proxy reads (services,
    EndpointSlices, nodes; never pods, so the client pods added for the run change nothing) are the set's own;
    anything else (a later update) is generated afresh, reusing the set's service ports' rules (``written``)."""
    own = nodes.cluster

    def rules(cluster: Cluster, config: ProxyConfig) -> Ruleset:
        if (cluster.services is own.services and cluster.endpoint_slices is own.endpoint_slices
                and cluster.nodes is own.nodes and nodes.configs.get(config.node_name) == config):
            return nodes.ruleset(config.node_name)
        return node_rules(cluster, config, nodes.written)
    return rules


def rewind(sim: Simulator, clock: SimClock, seed: int, list_size: int = 100) -> None:
    """Every piece of run state back to a fresh simulator's, the random generator seeded with ``seed``."""
    sim.rng.seed(seed)
    clock.now = 0.0
    close_all(sim)
    sim.clients.clear()
    for rt in sim.runtimes.values():
        rt.sampler.recent = RecentTable(size=list_size)
        rt.sampler.nth_counters.clear()


def sim_client(sim: Simulator, source: Source, pods: dict[Source, str]) -> Client:
    """The simulator's client for an analysis source (``pods``: the keys of the client pods made for it)."""
    if source.kind == "pod":
        key = pods.get(source) or source.name
        if key is None or sim.topology.pod(key) is None:
            raise LookupError(f"no simulated pod for {source.label}")
        return sim.client("pod", key)
    if source.kind == "node":
        return sim.client("node", source.node)
    return sim.client("external", ip=source.address)


# --------------------------------------------------------------------------- planning a view's routes


def _natural_nodes(sim: Simulator, kind: str, dst: str, port: int, proto: str) -> dict[str, Fraction] | None:
    """The entry nodes the network model picks by itself for an outside client of a VIP (None: it cannot)."""
    if kind == LOAD_BALANCER:
        frontend = sim.balancer.frontend(dst, proto, port)
        if frontend is None or frontend.proxy:
            return None
        backends = sim.balancer.backends(frontend.service)
        return {n: Fraction(1, len(backends)) for n in backends} if backends else None
    if parse_address(dst)[1] in sim.node_at:
        return {sim.node_at[parse_address(dst)[1]]: Fraction(1)}
    if kind == EXTERNAL_IP and parse_address(dst)[1] in sim.external_ip_nodes:
        return {n: Fraction(1, len(sim.runtimes)) for n in sim.runtimes}
    return None


def _outside_routes(sim: Simulator, view: View, source: Source, entries, proto: str) -> Route | str:
    """One route for an outside client of a VIP: the balancer or router spreads it over nodes."""
    weight = sum((e.weight for e in entries), Fraction(0))
    dst, port = split_endpoint(entries[0].destination)
    natural = _natural_nodes(sim, view.kind, dst, port, proto)
    if natural is None:
        why = {CLUSTER_IP: "the outside routes no cluster IPs to the nodes",
               LOAD_BALANCER: "the balancer has no such VIP-mode frontend"}.get(view.kind, "nothing routes it")
        return f"the simulated network does not carry {source.label} to {view.kind} {view.destination} ({why})"
    wanted = {e.node: e.weight / weight for e in entries}
    if wanted == natural:
        return Route(source, dst, port, weight)
    if parse_address(dst)[1] in sim.node_at:
        return (f"{dst} is node {sim.node_at[parse_address(dst)[1]]}'s address: the simulated network delivers it "
                f"there, not to the nodes {view.kind} {view.destination} is analysed on")
    return Route(source, dst, port, weight, tuple(wanted.items()))


def plan_routes(sim: Simulator, view: View, proto: str) -> list[Route] | str:
    """The routes of a view's weighted entry points (or why the simulator cannot make them)."""
    usable = [e for e in view.entries if e.weight > 0]
    routes: list[Route] = []
    outside: dict[Source, list] = {}
    for entry in usable:
        if entry.node not in sim.runtimes:
            return f"node {entry.node} is not simulated"
        if view.kind == NODE_PORT:
            _, port = split_endpoint(entry.destination)
            routes.append(Route(entry.source, sim.runtimes[entry.node].node.primary, port, entry.weight))
        elif entry.source.kind == "external":
            outside.setdefault(entry.source, []).append(entry)
        elif entry.source.node == entry.node:
            dst, port = split_endpoint(entry.destination)
            routes.append(Route(entry.source, dst, port, entry.weight))
        else:
            sender = entry.source.label_entering(entry.node)
            return f"{sender} does not enter {entry.node} on its way to {view.destination}"
    for source, entries in outside.items():
        route = _outside_routes(sim, view, source, entries, proto)
        if isinstance(route, str):
            return route
        routes.append(route)
    return routes


def entry_route(sim: Simulator, entry: Entry, proto: str) -> Route | str:
    """A route that enters exactly ``entry.node`` (the balancer or router is told so when it would choose)."""
    if entry.node not in sim.runtimes:
        return f"node {entry.node} is not simulated"
    dst, port = split_endpoint(entry.destination)
    value = parse_address(dst)[1]
    owner = sim.node_at.get(value)
    if owner is not None:
        return Route(entry.source, dst, port, Fraction(1)) if owner == entry.node else \
            f"{dst} is node {owner}'s address: the simulated network delivers it there, not to {entry.node}"
    if entry.source.kind != "external" or entry.source.node == entry.node:
        return Route(entry.source, dst, port, Fraction(1))
    frontend = sim.balancer.frontend(dst, proto, port)
    if (frontend is not None and not frontend.proxy) or value in sim.external_ip_nodes:
        return Route(entry.source, dst, port, Fraction(1), ((entry.node, Fraction(1)),))
    return f"the simulated network does not carry {entry.source.label} to {entry.destination}"


# --------------------------------------------------------------------------- running connections


@dataclass(frozen=True, slots=True)
class Weighted:
    """Draws indices by exact rational weights (so thirds are fair): integer weights over a common denominator."""

    scaled: tuple[int, ...]

    @classmethod
    def of(cls, weights: Sequence[Fraction]) -> Weighted:
        den = 1
        for w in weights:
            den = den * w.denominator // math.gcd(den, w.denominator)
        return cls(tuple(int(w * den) for w in weights))

    def draw(self, rng: random.Random) -> int:
        if len(self.scaled) == 1:
            return 0
        pick = rng.randrange(sum(self.scaled))
        for index, size in enumerate(self.scaled):
            if pick < size:
                return index
            pick -= size
        return len(self.scaled) - 1


def classify(conn: Connection, endpoints: dict[str, str]) -> Key:
    """A connection's end as the exact answer names it: (DNAT, ip:port), a verdict, or a failure reason."""
    if conn.failure is not None:
        return conn.failure.reason, None
    if conn.ip in endpoints:
        return "DNAT", endpoints[conn.ip]
    if conn.target and not conn.target.startswith(("node/", "external/")):
        return "DNAT", conn.ip
    return "ACCEPT", None


def endpoint_addresses(keys) -> dict[str, str]:
    """ip -> ip:port for the DNAT outcomes of the exact answer."""
    found = {}
    for verdict, endpoint in keys:
        if verdict == "DNAT" and endpoint:
            found[split_endpoint(endpoint)[0]] = endpoint
    return found


def close_all(sim: Simulator) -> None:
    """The connection is over: conntrack and the flow choices forget it (affinity's lists do not)."""
    for rt in sim.runtimes.values():
        rt.conntrack.delete(lambda entry: False)
    sim.balancer.flows.clear()
    sim.router_flows.clear()


def _pin(sim: Simulator, client: Client, route: Route, sport: int, proto: str) -> None:
    """Tell the balancer and the router which node this flow enters by (drawn by the view's weights)."""
    node = route.pinned[Weighted.of([w for _, w in route.pinned]).draw(sim.rng)][0]
    family = sim.family
    flow = (proto, family, parse_address(client.ip)[1], sport, parse_address(route.dst)[1], route.port)
    sim.balancer.flows[flow] = node
    sim.router_flows[flow] = node


@dataclass(slots=True)
class Runner:
    """Makes connections one after another and tallies where they and their requests landed."""

    sim: Simulator
    clock: SimClock
    proto: str
    endpoints: dict[str, str]
    requests: int
    sent: int
    connections: Counter = dataclasses.field(default_factory=Counter)
    request_counts: Counter = dataclasses.field(default_factory=Counter)
    failures: Counter = dataclasses.field(default_factory=Counter)
    split: int = 0

    def one(self, client: Client, route: Route) -> tuple[Key, str | None]:
        """Open one connection, send its requests on the same tuple, close it; returns where it landed.

        The second item is the entry node (whose rules balanced the connection).
        """
        sim = self.sim
        sport = sim.ephemeral_port()
        if route.pinned:
            _pin(sim, client, route, sport, self.proto)
        conn = sim.connect(client, route.dst, route.port, self.proto, sport=sport)
        key = classify(conn, self.endpoints)
        self.connections[key] += 1
        if conn.failure is not None:
            self.failures[(conn.failure.reason, conn.failure.detail)] += 1
            self.request_counts[key] += self.requests
            close_all(sim)
            return key, conn.entry_node
        self.request_counts[key] += 1 + self.requests - self.sent
        moved = False
        for _ in range(self.sent - 1):
            self.clock.now += REQUEST_GAP
            again = classify(sim.connect(client, route.dst, route.port, self.proto, sport=sport), self.endpoints)
            self.request_counts[again] += 1
            moved = moved or again != key
        self.split += moved
        close_all(sim)
        return key, conn.entry_node


def requests_to_send(connections: int, requests: int, budget: int = REQUEST_BUDGET) -> int:
    """Requests per connection sent packet by packet: all of them while the run stays within the budget."""
    if requests <= 1:
        return 1
    return max(1, min(requests, 1 + budget // max(connections, 1)))


def run_connections(net: Network, routes: Sequence[Route], proto: str, connections: int, requests: int,
                    endpoints: dict[str, str], on_connection: Callable[[Landing], None] | None = None,
                    budget: int = REQUEST_BUDGET) -> Tally:
    """``connections`` seeded keep-alive connections over the routes (drawn by weight), ``requests`` each."""
    clients = [net.client(route.source) for route in routes]
    weights = Weighted.of([route.weight for route in routes])
    sim = net.sim
    run = Runner(sim, net.clock, proto, endpoints, requests, requests_to_send(connections, requests, budget))
    for i in range(connections):
        index = weights.draw(sim.rng)
        key, entry_node = run.one(clients[index], routes[index])
        if on_connection is not None:
            on_connection(Landing(i, routes[index], clients[index], entry_node, key))
        net.clock.now += CONNECTION_GAP
    return Tally(dict(run.connections), dict(run.request_counts), run.split, run.sent, dict(run.failures),
                 any(route.pinned for route in routes))


def sample_view(nodes: NodeSet, view: View, proto: str, connections: int, requests: int, seed: int,
                endpoints: dict[str, str], budget: int = REQUEST_BUDGET,
                on_connection: Callable[[Landing], None] | None = None) -> Tally | str:
    """A view's seeded run through the simulator, or why the simulator cannot make its connections."""
    usable = [e for e in view.entries if e.weight > 0]
    net = build_simulator(nodes, [e.source for e in usable], seed)
    routes = plan_routes(net.sim, view, proto)
    if isinstance(routes, str):
        return routes
    if not routes:
        return "the view has no entry point with a weight"
    try:
        return run_connections(net, routes, proto, connections, requests, endpoints, on_connection, budget)
    except LookupError as exc:
        return str(exc).strip("'\"")


def address_of(base: str, index: int) -> str:
    """The index-th address after ``base`` (distinct clients of one kind)."""
    family, value = parse_address(base)
    return format_address(family, value + index)
