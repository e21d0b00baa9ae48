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
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kubeproxy_sim.analysis import stats
from kubeproxy_sim.analysis.exact import View
from kubeproxy_sim.analysis.journeys import Key, endpoint_addresses, sample_view
from kubeproxy_sim.analysis.nodes import NodeSet
from kubeproxy_sim.analysis.sampling import exact_of, sample_connections

CONFIDENCE = 0.95


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


def _simulate(nodes: NodeSet, view: View, proto: str, connections: int, requests: int, seed: int,
              exact: dict[Key, Fraction]) -> tuple[str, dict[Key, int], dict[Key, int], list[str]]:
    """(engine, connections and requests per outcome, notes): the simulator, else the rule engine's sampler."""
    tally = sample_view(nodes, view, proto, connections, requests, seed, endpoint_addresses(exact))
    if isinstance(tally, str):
        counts = sample_connections(nodes, view.entries, proto, connections, seed)
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


def analyse_connections(nodes: NodeSet, view: View, proto: str, connections: int, requests: int,
                        seed: int, affinity: bool = False) -> LongLived:
    """Expected and sampled spread of ``connections`` x ``requests`` over the view's outcomes."""
    exact = exact_of([e for e in view.entries if e.weight > 0])
    engine, counts, request_counts, notes = _simulate(nodes, view, proto, connections, requests, seed, exact)
    pods = []
    for (verdict, endpoint), p in sorted(exact.items(), key=lambda kv: (kv[0][0] != "DNAT", kv[0][1] or "")):
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
    if affinity:
        notes.insert(0, "sessionAffinity ClientIP: each entry point's client is pinned after its first connection, "
                     "so its connections all reach one pod; the per-connection shares above hold across many "
                     "clients")
    return LongLived(view.kind, connections, requests, seed, engine, tuple(pods),
                     sum(p.idle_probability for p in delivered),
                     sum(1 for p in delivered if p.sampled_connections == 0), fit.as_tuple(), "; ".join(notes))
