"""sessionAffinity ClientIP: how sticky it is, and where the stickiness ends.

kube-proxy pins a client with one ``recent`` list per endpoint (named after
the endpoint's KUBE-SEP chain): the endpoint chain ``--set``s the client's
address on every new connection, and the service chain first ``--rcheck``s
every list with ``--seconds TIMEOUT --reap`` before the random split. So:

* a client whose address is in a list, stamped within the timeout, returns to
  that endpoint with certainty (checked here by tracing with the list held);
* the lists live in each node's kernel: a client entering through another node
  (another NodePort, another balancer choice) starts afresh there;
* xt_recent keeps at most ``ip_list_tot`` = 100 addresses per list and evicts
  the least recently *set* one when a new address arrives. ``--rcheck`` does
  not refresh an entry, but every new connection passes the endpoint chain's
  ``--set``, which does. With m clients per endpoint connecting equally often,
  the list holds the 100 most recent of them: by symmetry a returning client
  finds its entry with probability min(1, 100/m) (the hit ratio of an LRU
  cache under uniform independent requests is exactly size/population); a
  client that misses is balanced again and lands on its old endpoint only with
  that endpoint's share. It is balanced by the chain its node uses, as the
  rules do: with internalTrafficPolicy Local a node's KUBE-SVL chain holds its
  local endpoints only (upstream's writeServiceToEndpointRules for the
  localPolicyChain, the ``--rcheck`` rules included), so a node with one
  endpoint sends the client back there whatever the list holds.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from kubeproxy_sim.analysis.exact import Entry, ServiceDist, View, first_packet
from kubeproxy_sim.analysis.journeys import CONNECTION_GAP, Runner, address_of, build_simulator, entry_route, rewind
from kubeproxy_sim.analysis.nodes import NodeSet, Source
from kubeproxy_sim.analysis.sampling import ConnectionSampler
from kubeproxy_sim.analysis.sticky import UnheldWalk
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import Tracer
from kubeproxy_sim.proxier import naming

LIST_SIZE = 100  # xt_recent ip_list_tot default
CLIENT_COUNTS = (50, 100, 150, 200, 400, 1000)


@dataclass(frozen=True, slots=True)
class StickyCheck:
    """A client held in ``list_name`` on ``node`` returns to ``endpoint`` with probability ``returns``."""

    node: str
    endpoint: str
    list_name: str
    returns: Fraction


@dataclass(frozen=True, slots=True)
class ClientLoad:
    """With ``clients`` clients per endpoint: the chance a returning client is still listed, and stays."""

    clients: int
    listed: Fraction
    same_endpoint: Fraction


@dataclass(frozen=True, slots=True)
class AffinityReport:
    timeout: int
    list_size: int
    endpoints: int
    checks: tuple[StickyCheck, ...]
    loads: tuple[ClientLoad, ...]
    live_within_timeout: float | None = None  # P(next connection within the timeout), if an interval is given
    client_interval: float | None = None
    sampled: tuple[int, int, int] | None = None  # (clients, returning connections, returned to the same endpoint)
    seed: int | None = None
    engine: str | None = None  # what drew ``sampled``: "simulator" or "sampler" (the rule engine's)
    sampled_entry: tuple[str, str, str] | None = None  # (view kind, destination, node) the sample went through
    per_node: tuple[int, ...] = ()  # the endpoints each delivering entry's chain balances over, when not all

    @property
    def all_sticky(self) -> bool:
        return all(c.returns == 1 for c in self.checks)


def sticky_checks(nodes: NodeSet, view: View, svc_name: str, proto: str) -> tuple[StickyCheck, ...]:
    """Each entry with the client already in each endpoint's list: it must return there.

    The entry is walked once with no list known (:class:`~kubeproxy_sim.analysis.sticky.UnheldWalk`), which
    answers for every list whose walk it proves; any other list is traced with the client in it."""
    checks = []
    for entry in view.entries:
        host, _, port = entry.destination.rpartition(":")
        packet = first_packet(nodes, entry.node, entry.source, host.strip("[]"), int(port), proto)
        unheld = None
        for share in entry.own_shares:  # (a hop's endpoints are another Service's, in no list of this one)
            if share.verdict != "DNAT" or share.endpoint is None:
                continue
            list_name = naming.endpoint_chain(svc_name, proto, share.endpoint)
            if unheld is None:
                unheld = UnheldWalk(nodes.compiled(entry.node), nodes.context(entry.node), packet)
            returns = unheld.returns(list_name, share.endpoint)
            if returns is None:
                returns = traced_returns(nodes, entry.node, packet, list_name, share.endpoint)
            checks.append(StickyCheck(entry.node, share.endpoint, list_name, returns))
    return tuple(checks)


def traced_returns(nodes: NodeSet, node: str, packet: Packet, list_name: str, endpoint: str) -> Fraction:
    """The chance ``packet`` entering ``node`` reaches ``endpoint`` with the client in ``list_name``, traced."""
    context = dataclasses.replace(nodes.context(node), affinity=frozenset({list_name}))
    result = Tracer(nodes.compiled(node), context).trace(packet)
    return sum((o.probability_exact for o in result.outcomes if o.destination == endpoint), Fraction(0))


def client_load(clients_per_endpoint: int, endpoints: int, size: int = LIST_SIZE,
                rebalanced: Fraction | None = None) -> ClientLoad:
    """The LRU model: listed with probability min(1, size/m); a miss re-balances, back on the old endpoint with
    ``rebalanced`` (default 1/n: one chain over every endpoint; see :func:`rebalanced_same`)."""
    listed = Fraction(min(clients_per_endpoint, size), clients_per_endpoint) if clients_per_endpoint else Fraction(1)
    back = Fraction(1, max(endpoints, 1)) if rebalanced is None else rebalanced
    return ClientLoad(clients_per_endpoint, listed, listed + (1 - listed) * back)


def rebalanced_same(entries: Sequence[Entry]) -> tuple[Fraction, tuple[int, ...]]:
    """The chance a client balanced anew lands on its old endpoint, and the endpoints each entry's chain splits
    over (in entry order, entries that deliver nothing left out).

    A client enters through its node's chain, whose even split over that chain's ``n`` endpoints brings it back
    with 1/n: the n of the chain the node actually uses (a KUBE-SVL chain of local endpoints for a Local policy),
    not of the Service. The entries are averaged by their weights times the part they deliver (a client whose
    connections are dropped has no endpoint to return to); all alike when none carries weight."""
    counted = []
    for entry in entries:
        delivered = [s for s in entry.own_shares if s.verdict == "DNAT"]
        if delivered:
            counted.append((entry.weight * sum((s.probability for s in delivered), Fraction(0)), len(delivered)))
    if not counted:
        return Fraction(1), ()
    if not any(weight for weight, _ in counted):
        counted = [(Fraction(1), n) for _, n in counted]
    total = sum((weight for weight, _ in counted), Fraction(0))
    return sum((weight / n for weight, n in counted), Fraction(0)) / total, tuple(n for _, n in counted)


SAMPLER_GAP = 0.01
"""Seconds between two sampled connections when no client interval is given."""


def simulate_returns(nodes: NodeSet, entry: Entry, proto: str, clients: int, connections: int,
                     seed: int, size: int = LIST_SIZE, gap: float | None = None) -> tuple[int, int, str]:
    """Seeded connections from ``clients`` distinct clients picked at random, all entering ``entry.node``,
    ``gap`` seconds apart (by default a few milliseconds: every client comes back well within any timeout).

    Outside clients go through the cluster simulator (router, balancer,
    conntrack, the node's ``recent`` lists of ``size`` entries); clients of
    another kind, or entries the simulated network cannot carry, through the
    node's rules with the rule engine's sampler. Returns (returning
    connections, connections that reached the same endpoint as that client's
    previous one, the engine: "simulator" or "sampler").
    """
    if entry.source.kind == "external":
        found = _simulated_returns(nodes, entry, proto, clients, connections, seed, size, gap)
        if found is not None:
            return (*found, "simulator")
    rng = random.Random(seed)
    sampler = ConnectionSampler(nodes, rng, recent_size=size)
    host, _, port = entry.destination.rpartition(":")
    dst, dport = host.strip("[]"), int(port)
    tally = _Returns()
    for i in range(connections):
        client = rng.randrange(clients)
        sampler.now = i * (gap if gap is not None else SAMPLER_GAP)
        _, endpoint = sampler.connect(entry.node, entry.source, dst, dport, proto,
                                      client=address_of(entry.source.address, client))
        tally.see(client, endpoint)
    return tally.returning, tally.same, "sampler"


@dataclass(slots=True)
class _Returns:
    """Per client, the endpoint of its previous connection; counts of returns and of returns to the same one."""

    last: dict[int, str | None] = field(default_factory=dict)
    returning: int = 0
    same: int = 0

    def see(self, client: int, endpoint: str | None) -> None:
        if client in self.last:
            self.returning += 1
            self.same += self.last[client] == endpoint
        self.last[client] = endpoint


def _simulated_returns(nodes: NodeSet, entry: Entry, proto: str, clients: int, connections: int, seed: int,
                       size: int, gap: float | None = None) -> tuple[int, int] | None:
    """The outside clients' run through the simulator (None: the network cannot carry them to the entry)."""
    net = build_simulator(nodes, (), seed)
    route = entry_route(net.sim, entry, proto)
    if isinstance(route, str):
        return None
    rewind(net.sim, net.clock, seed, size)
    runner = Runner(net.sim, net.clock, proto, {}, 1, 1)
    tally = _Returns()
    for _ in range(connections):
        client = net.sim.rng.randrange(clients)
        source = Source("external", address_of(entry.source.address, client))
        key, _ = runner.one(net.sim.client("external", ip=source.address), dataclasses.replace(route, source=source))
        tally.see(client, key[1] if key[0] == "DNAT" else key[0])
        net.clock.now += gap if gap is not None else CONNECTION_GAP
    return tally.returning, tally.same


def analyse_affinity(nodes: NodeSet, dist: ServiceDist, clients: int | None = None,
                     client_interval: float | None = None, seed: int = 1) -> AffinityReport | None:
    """The affinity report of a service port (None without ClientIP affinity)."""
    svc = dist.svc
    if not svc.client_ip_affinity or not dist.views:
        return None
    view = dist.views[0]
    usable = [(v, e) for v in dist.views for e in v.entries if e.weight > 0]
    chosen = next(((v, e) for v, e in usable if e.source.kind == "external"), usable[0] if usable else None)
    if not clients:
        chosen = None
    # the model is the sampled entry's (an eTP Local node may reach fewer endpoints than the cluster IP), else
    # the first view's entries, each balanced by its node's chain (iTP Local: its local endpoints); of the port's
    # own rules: an endpoint reached through another node's NodePort is that Service's to balance
    entries = [chosen[1]] if chosen is not None else [e for e in view.entries if e.weight] or list(view.entries)
    n = len({s.endpoint for e in entries for s in e.own_shares if s.verdict == "DNAT"})
    back, per_node = rebalanced_same(entries)
    counts = [max(1, math.ceil(clients / max(n, 1)))] if clients else list(CLIENT_COUNTS)
    loads = tuple(client_load(m, n, rebalanced=back) for m in counts)
    live = None
    if client_interval:
        live = 1 - math.exp(-svc.affinity_timeout / client_interval)
    sampled, engine, where = None, None, None
    if chosen is not None and clients:
        sampled_view, entry = chosen
        # each of the clients comes back every client_interval seconds on average: one connection every
        # client_interval / clients seconds, the clients picked at random
        gap = client_interval / clients if client_interval else None
        returning, same, engine = simulate_returns(nodes, entry, svc.proto, clients, max(4000, clients * 8), seed,
                                                   gap=gap)
        sampled = (clients, returning, same)
        where = (sampled_view.kind, entry.destination, entry.node)
    return AffinityReport(svc.affinity_timeout, LIST_SIZE, n, sticky_checks(nodes, view, svc.name_string, svc.proto),
                          loads, live, client_interval, sampled, seed if sampled else None, engine, where,
                          per_node if any(k != n for k in per_node) else ())
