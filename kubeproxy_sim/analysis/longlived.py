"""Keep-alive traffic: kube-proxy balances connections, not requests.

With C connections of R requests each, pod i receives R times the number of
connections that chose it: a Binomial(C, p_i) count scaled by R. The mean is
even, but with few connections the spread is wide and some pods may get
nothing at all, however many requests are sent. The expected figures are
exact from the shares; the sampled ones come from a seeded Monte Carlo run of
C connections through the cluster simulator (:mod:`.journeys`): each one
opened from its client (entry points drawn by their weights), its R requests
sent on the same 5-tuple so conntrack keeps them on one pod. Views the
simulated network cannot carry (an outside client of a cluster IP) fall back
to the rule engine's per-node sampler, and ``engine`` says which drew.

Under ``sessionAffinity: ClientIP`` connections are not independent: each
client is pinned, per node it enters by, to the pod of its first connection.
A run is then a few draws (one per client and entry node), each carrying all
its connections, and the ranges, idle chances and the test count those draws.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

from kubeproxy_sim.analysis import stats
from kubeproxy_sim.analysis.exact import View
from kubeproxy_sim.analysis.journeys import Key, endpoint_addresses, sample_view
from kubeproxy_sim.analysis.nodes import NodeSet
from kubeproxy_sim.analysis.sampling import exact_of, sample_connections

CONFIDENCE = 0.95
SUM_STATES = 20_000  # sums an affinity range lists exactly before a normal approximation takes over


@dataclass(frozen=True, slots=True)
class PodSpread:
    """One outcome (an endpoint, or DROP/REJECT): expected and sampled connections and requests."""

    verdict: str
    endpoint: str | None
    probability: Fraction
    expected_requests: float
    requests_interval: tuple[int, int]  # 95 % of runs give between these many requests
    idle_probability: float  # no connection at all lands here
    sampled_connections: int
    sampled_requests: int
    sampled_share: float
    sampled_share_interval: tuple[float, float]  # Wilson 95 % for the per-connection share


@dataclass(frozen=True, slots=True)
class LongLived:
    view: str
    connections: int
    requests_per_connection: int
    seed: int
    engine: str  # what drew the samples: "sampler" (the rule engine's per-node Sampler) or "simulator"
    pods: tuple[PodSpread, ...]
    expected_idle: float
    sampled_idle: int
    chi_square: tuple[float, int, float]  # Pearson's statistic, degrees of freedom, p-value (sampled vs exact; the
    # p-value from the chi-square distribution only where every cell expects 5 or more: see stats.goodness_of_fit)
    note: str = ""


@dataclass(slots=True)
class Draws:
    """Affinity: the run's draws, one per (client, entry node) and pinned pod, with the connections each carried.

    A connection that reached no server (DROP, REJECT) pins nothing: it is a draw of its own, and so is one that
    lands elsewhere than its client's pinned pod (its affinity entry gone)."""

    shares: dict[tuple[object, ...], dict[Key, Fraction]]  # (source, entry node) -> that entry point's shares
    fallback: dict[Key, Fraction]  # the view's shares, for a connection no entry point explains
    taken: list[tuple[dict[Key, Fraction], int, Key]] = dataclasses.field(default_factory=list)
    _open: dict[tuple[object, ...], int] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, view: View, exact: dict[Key, Fraction]) -> Draws:
        shares: dict[tuple[object, ...], dict[Key, Fraction]] = {}
        for entry in view.entries:
            own = shares.setdefault((entry.source, entry.node), {})
            for share in entry.shares:
                key = (share.verdict, share.endpoint)
                own[key] = own.get(key, Fraction(0)) + share.probability
        return cls(shares, exact)

    def add(self, client: object, source: object, node: str | None, key: Key) -> None:
        group = (client, node)
        index = self._open.get(group)
        if _carries(key[0]) and index is not None and self.taken[index][2] == key:
            shares, carried, _ = self.taken[index]
            self.taken[index] = (shares, carried + 1, key)
            return
        if _carries(key[0]):
            self._open[group] = len(self.taken)
        else:
            self._open.pop(group, None)
        self.taken.append((self.shares.get((source, node), self.fallback), 1, key))

    def clear(self) -> None:
        """Forget every draw (the simulator could not carry the view: the sampler's run is recorded instead)."""
        self.taken.clear()
        self._open.clear()


def _simulate(nodes: NodeSet, view: View, proto: str, connections: int, requests: int, seed: int,
              exact: dict[Key, Fraction], draws: Draws | None = None,
              ) -> tuple[str, dict[Key, int], dict[Key, int], list[str]]:
    """(engine, connections and requests per outcome, notes): the simulator, else the rule engine's sampler.
    ``draws`` (affinity) records who each connection was pinned for."""
    record = None if draws is None else lambda landing: draws.add(landing.client.ip, landing.route.source,
                                                                  landing.entry_node, landing.key)
    tally = sample_view(nodes, view, proto, connections, requests, seed, endpoint_addresses(exact),
                        on_connection=record)
    if isinstance(tally, str):
        if draws is not None:
            draws.clear()
        by_entry = None if draws is None else lambda entry, key: draws.add(entry.source, entry.source,
                                                                           entry.node, key)
        counts = sample_connections(nodes, view.entries, proto, connections, seed, on_connection=by_entry)
        return "sampler", counts, {k: c * requests * _carries(k[0]) for k, c in counts.items()}, [
            f"sampled with the rule engine's per-node sampler instead of the simulator: {tally}"]
    notes = []
    if tally.requests_sent < requests:
        notes.append(f"the first {tally.requests_sent} requests of each connection were sent packet by packet; "
                     f"the other {requests - tally.requests_sent} ride the same conntrack entry and are counted "
                     "with it")
    if tally.split_connections:
        notes.append(f"{tally.split_connections} connection(s) had requests land elsewhere than their first one")
    if tally.pinned:
        notes.append("the balancer's or router's choice of entry node was drawn by the view's node weights")
    strange = [(reason, detail, n) for (reason, detail), n in sorted(tally.failures.items())
               if (reason, None) not in exact]
    if strange:
        reason, detail, n = strange[0]
        notes.append(f"the simulator saw outcomes the rules alone do not give: {n} x {reason} ({detail})"
                     + (f" and {len(strange) - 1} more kind(s)" if len(strange) > 1 else ""))
    return "simulator", tally.connections, {k: n * _carries(k[0]) for k, n in tally.requests.items()}, notes


def _carries(verdict: str) -> int:
    """1 when a connection with this outcome carries its requests (it reached a server), else 0."""
    return 1 if verdict in ("DNAT", "ACCEPT") else 0


def _sum_range(terms: list[tuple[int, float]], confidence: float) -> tuple[int, int]:
    """The central range holding sum(n * B) with probability >= ``confidence``, B ~ Bernoulli(p) independent for
    each (n, p) of ``terms`` (each tail outside it at most half the rest): exact over the sums the draws can make,
    a normal approximation when they are too many to list."""
    if _too_many_sums(terms):
        mean = math.fsum(n * q for n, q in terms)
        spread = stats.normal_quantile(1 - (1 - confidence) / 2) * math.sqrt(
            math.fsum(n * n * q * (1 - q) for n, q in terms))
        top = sum(n for n, q in terms if q > 0)
        return max(0, math.floor(mean - spread)), min(top, math.ceil(mean + spread))
    weights, base = _sum_weights(terms)
    limit = (1 - confidence) / 2
    low, tail = 0, 0.0
    while low < len(weights) - 1 and tail + weights[low] <= limit:
        tail += weights[low]
        low += 1
    high, tail = len(weights) - 1, 0.0
    while high > low and tail + weights[high] <= limit:
        tail += weights[high]
        high -= 1
    return base + low, base + high


def _sum_weights(terms: list[tuple[int, float]]) -> tuple[list[float], int]:
    """(weights, base): P(sum = base + i) is weights[i]. A list over every sum from the least to the greatest the
    draws can make (0.0 where none gives it, which the tails pass over as they pass an improbable sum), a sure
    draw (p = 1) moving the base: a dict of the reachable sums did the same additions four times slower.
    Each weight is w * (1 - p) + w' * p, the very sum the dict made, so the ranges are the same to the bit."""
    weights, base = [1.0], 0
    for n, p in terms:
        if p <= 0:
            continue
        if p < 1:
            pad = [0.0] * n
            weights = [stay * (1 - p) + moved * p for stay, moved in zip(weights + pad, pad + weights, strict=True)]
        else:
            base += n
    return weights, base


def _too_many_sums(terms: list[tuple[int, float]]) -> bool:
    """Whether more than SUM_STATES sums are reachable before some draw that may land (p > 0) is added.

    Decided on the set of reachable sums alone, as a bitset (bit v: the draws so far can sum to v; a sure draw,
    p = 1, only shifts the set and keeps its size, so it is left out), before any probability is summed: listing
    the distribution only to throw it away once it outgrew SUM_STATES cost time quadratic in that limit (20 s
    for 10,000 draws)."""
    reachable = 1
    for n, p in terms:
        if p <= 0:
            continue
        if reachable.bit_count() > SUM_STATES:
            return True
        if p < 1:
            reachable |= reachable << n
    return False


def _by_draws(exact: dict[Key, Fraction], draws: Draws, connections: int, requests: int, seed: int,
              counts: dict[Key, int], request_counts: dict[Key, int]) -> tuple[list[PodSpread], stats.Fit, str]:
    """Affinity: each outcome's spread and the test over the run's draws, given the connections each carried."""
    keys = list(exact)
    taken = draws.taken
    landed = [sum(1 for _, _, key in taken if key == k) for k in keys]
    groups: dict[int, tuple[list[float], int]] = {}
    for shares, _, _ in taken:
        vector, m = groups.get(id(shares), ([float(shares.get(k, 0)) for k in keys] + [0.0], 0))
        groups[id(shares)] = (vector, m + 1)
    fit = stats.goodness_of_fit([*landed, len(taken) - sum(landed)], list(groups.values()), seed)
    pods = []
    for (verdict, endpoint), p in sorted(exact.items(), key=_order):
        if not p:
            continue
        key = (verdict, endpoint)
        terms = [(carried, float(shares.get(key, 0))) for shares, carried, _ in taken]
        lo, hi = _sum_range(terms, CONFIDENCE)
        per = requests * _carries(verdict)
        got = counts.get(key, 0)
        idle = math.prod(1 - q for _, q in terms)
        pods.append(PodSpread(
            verdict, endpoint, p, math.fsum(n * q for n, q in terms) * per, (lo * per, hi * per), idle, got,
            request_counts.get(key, 0), got / connections if connections else 0.0,
            stats.wilson(landed[keys.index(key)], len(taken), CONFIDENCE)))
    note = (f"sessionAffinity ClientIP: each client is pinned, per node it enters by, to the pod of its first "
            f"connection, so these {connections} connections are {len(taken)} draws (one per client and entry "
            "node, each carrying its connections), not independent ones: the 95% ranges, idle chances, share "
            "intervals and the chi-square count those draws, given the connections each carried; the "
            "per-connection shares above hold across many clients")
    return pods, fit, note


def _order(item: tuple[Key, Fraction]) -> tuple[bool, str]:
    return item[0][0] != "DNAT", item[0][1] or ""


def analyse_connections(nodes: NodeSet, view: View, proto: str, connections: int, requests: int,
                        seed: int, affinity: bool = False) -> LongLived:
    """Expected and sampled spread of ``connections`` x ``requests`` over the view's outcomes."""
    exact = exact_of([e for e in view.entries if e.weight > 0])
    draws = Draws.of(view, exact) if affinity else None
    engine, counts, request_counts, notes = _simulate(nodes, view, proto, connections, requests, seed, exact,
                                                      draws)
    if draws is not None:
        pods, fit, note = _by_draws(exact, draws, connections, requests, seed, counts, request_counts)
        notes.insert(0, note)
        if fit.why():
            notes.append(fit.why())
        delivered = [p for p in pods if p.verdict == "DNAT"]
        return LongLived(view.kind, connections, requests, seed, engine, tuple(pods),
                         math.fsum(p.idle_probability for p in delivered),
                         sum(1 for p in delivered if p.sampled_connections == 0), fit.as_tuple(), "; ".join(notes))
    pods = []
    for (verdict, endpoint), p in sorted(exact.items(), key=_order):
        if not p:
            continue
        lo, hi = stats.binom_acceptance(connections, float(p), 1 - CONFIDENCE)
        got = counts.get((verdict, endpoint), 0)
        per = requests * _carries(verdict)  # a refused or dropped connection carries no request
        pods.append(PodSpread(
            verdict, endpoint, p, float(p) * connections * per, (lo * per, hi * per),
            (1 - float(p)) ** connections, got, request_counts.get((verdict, endpoint), 0),
            got / connections if connections else 0.0, stats.wilson(got, connections, CONFIDENCE)))
    keys = list(exact)
    unexpected = sum(c for k, c in counts.items() if k not in exact)
    fit = stats.goodness_of_fit([counts.get(k, 0) for k in keys] + [unexpected],
                                [([float(exact[k]) for k in keys] + [0.0], sum(counts.values()))], seed)
    if fit.why():
        notes.append(fit.why())
    delivered = [p for p in pods if p.verdict == "DNAT"]
    return LongLived(view.kind, connections, requests, seed, engine, tuple(pods),
                     sum(p.idle_probability for p in delivered),
                     sum(1 for p in delivered if p.sampled_connections == 0), fit.as_tuple(), "; ".join(notes))
