"""``dist --connections`` through the cluster simulator: samples agree with the exact shares, keep-alive, affinity.

Every sampled spread is checked against the exact (rule-derived) shares with
exact binomial acceptance intervals per outcome and Pearson's chi-square over
all of them, with fixed seeds: the k intervals and the chi-square of a check
share its 0.1 % (Bonferroni, each at 0.1 % / (k + 1)), so a check fails by
chance at most once in a thousand; N is chosen so that a share off by 5 points
would be caught with power 0.99 at that level. Failures print scenario, view and seed.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis import stats
from kubeproxy_sim.analysis.exact import Selection, analyse, service_ports
from kubeproxy_sim.analysis.journeys import (
    Landing,
    Tally,
    build_simulator,
    endpoint_addresses,
    plan_routes,
    requests_to_send,
    sample_view,
)
from kubeproxy_sim.analysis.longlived import analyse_connections
from kubeproxy_sim.analysis.nodes import NodeSet, node_set
from kubeproxy_sim.analysis.sampling import exact_of
from kubeproxy_sim.analysis.targets import parse_sources
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.objects import load_paths
from tests.budget import budget
from tests.strategies import ClusterCase, clusters

ALPHA = 0.001
SEED = 20240607
SHIFT = 0.05


def _nodes(scenario: str) -> NodeSet:
    directory = REPO_RULESETS / scenario
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    return node_set(cluster, config_from_args(scenario_args(directory), cluster))


def _views(nodes: NodeSet, sources: list[str] | None = None, only: tuple[str, ...] | None = None):
    selections = [dataclasses.replace(Selection(s), nodes=only) for s in service_ports(nodes)]
    report = analyse(nodes, selections, parse_sources(nodes, sources))
    for dist in report.services:
        for view in dist.views:
            if any(e.weight > 0 for e in view.entries):
                yield dist, view


def _tests(exact: dict) -> int:
    """The tests of one check: an interval per outcome and the chi-square."""
    return len(exact) + 1


def _size(exact: dict, alpha: float = ALPHA) -> int:
    smallest = min(float(p) for p in exact.values())
    return max(1000, stats.samples_for_power(smallest, SHIFT, alpha / _tests(exact), 0.99)) if smallest < 1 else 200


def assert_agrees(where: str, counts: dict, exact: dict, n: int, alpha: float = ALPHA) -> None:
    """Every outcome inside its exact binomial interval; chi-square does not reject; nothing unexpected. The
    k + 1 tests share ``alpha`` (Bonferroni): the check fails by chance with probability at most ``alpha``."""
    assert sum(counts.values()) == n, f"{where}: {counts}"
    alpha /= _tests(exact)
    assert set(counts) <= set(exact), f"{where}: the simulator saw outcomes the exact answer excludes: {counts}"
    for key, p in exact.items():
        lo, hi = stats.binom_acceptance(n, float(p), alpha)
        assert lo <= counts.get(key, 0) <= hi, f"{where}: {key} {counts.get(key, 0)} not in [{lo}, {hi}]"
    keys = list(exact)
    _, _, p_value = stats.chi_square([counts.get(k, 0) for k in keys], [float(exact[k]) for k in keys])
    assert p_value > alpha, f"{where}: chi-square rejects (p = {p_value})"


CASES = [
    ("bootcamp", None, None),
    ("bootcamp", ["node/node2"], None),
    ("bootcamp", ["pod/default/kubernetes-bootcamp-855d5cc575-4lb7w"], None),
    ("topology-hints", None, None),
    ("ipv6", None, None),
    ("sctp-udp", None, None),
    ("upstream-external-traffic-policy-local", None, None),
    ("upstream-load-balancer", None, None),
    ("upstream-no-endpoints-reject", None, None),
    ("upstream-internal-traffic-policy-local-and-there-are-no-local-endpoints", None, None),
    ("upstream-terminating-endpoints-traffic-policy-local-terminating-endpoints-on-remote-node", None, None),
    ("upstream-terminating-endpoints-traffic-policy-cluster-no-usable-endpoints-on-any-node", None, ("node-1",)),
]


@pytest.mark.parametrize(("scenario", "sources", "only"), CASES)
def test_simulated_connections_agree_with_exact_shares(scenario, sources, only) -> None:
    nodes = _nodes(scenario)
    seen = 0
    for dist, view in _views(nodes, sources, only):
        if dist.svc.client_ip_affinity:
            continue
        exact = exact_of([e for e in view.entries if e.weight > 0])
        n = _size(exact)
        tally = sample_view(nodes, view, dist.svc.proto, n, 1, SEED, endpoint_addresses(exact))
        where = f"{scenario} {sources or ''} {dist.name} {view.kind}, seed {SEED}, N {n}"
        assert isinstance(tally, Tally), f"{where}: not simulated: {tally}"
        assert_agrees(where, tally.connections, exact, n)
        seen += 1
    assert seen, f"{scenario}: no view sampled"


def test_load_balancer_limited_to_some_nodes_is_pinned_and_agrees() -> None:
    """``--node`` keeps one node of a two-node balancer: the flows are pinned there, by the view's weights."""
    nodes = _nodes("upstream-terminating-endpoints-traffic-policy-cluster-ready-endpoints-exist")
    views = [(d, v) for d, v in _views(nodes, None, (nodes.order[0],)) if v.kind == "loadBalancer"]
    assert views
    for dist, view in views:
        exact = exact_of([e for e in view.entries if e.weight > 0])
        tally = sample_view(nodes, view, dist.svc.proto, _size(exact), 1, SEED, endpoint_addresses(exact))
        assert isinstance(tally, Tally) and tally.pinned, f"seed {SEED}: {tally}"
        assert_agrees(f"{dist.name} pinned, seed {SEED}", tally.connections, exact, _size(exact))


def test_requests_of_one_connection_all_land_on_its_pod() -> None:
    nodes = _nodes("bootcamp")
    _, view = next(_views(nodes))
    exact = exact_of(view.entries)
    tally = sample_view(nodes, view, "tcp", 300, 25, SEED, endpoint_addresses(exact))
    assert isinstance(tally, Tally)
    assert tally.requests_sent == 25 and tally.split_connections == 0, f"seed {SEED}"
    assert tally.requests == {k: 25 * c for k, c in tally.connections.items()}, f"seed {SEED}"
    assert len(tally.connections) == 4, f"seed {SEED}: connections should still spread: {tally.connections}"


def test_udp_and_sctp_requests_ride_their_connection_too() -> None:
    nodes = _nodes("sctp-udp")
    protocols = set()
    for dist, view in _views(nodes):
        exact = exact_of(view.entries)
        tally = sample_view(nodes, view, dist.svc.proto, 60, 8, SEED, endpoint_addresses(exact))
        where = f"{dist.name} {view.kind}, seed {SEED}"
        assert isinstance(tally, Tally) and tally.split_connections == 0 and tally.requests_sent == 8, where
        assert tally.requests == {k: 8 * c for k, c in tally.connections.items()}, where
        assert set(tally.connections) <= set(exact), where
        protocols.add(dist.svc.proto)
    assert protocols == {"tcp", "udp", "sctp"}


def test_interleaved_requests_ride_their_own_conntrack_entries() -> None:
    """Eight connections open at once from one pod; requests sent round-robin each return to their own pod."""
    nodes = _nodes("bootcamp")
    _, view = next(_views(nodes))
    net = build_simulator(nodes, [e.source for e in view.entries], SEED)
    routes = plan_routes(net.sim, view, "tcp")
    assert not isinstance(routes, str), routes  # (a str: why the simulator cannot make them)
    route = routes[0]
    client = net.client(route.source)
    ports = random.Random(SEED).sample(range(32768, 61000), 8)
    first = {sport: net.sim.connect(client, route.dst, route.port, sport=sport).target for sport in ports}
    assert None not in first.values() and len(set(first.values())) > 1, f"seed {SEED}: {first}"
    for _ in range(10):
        for sport in ports:
            net.clock.now += 0.001
            assert net.sim.connect(client, route.dst, route.port, sport=sport).target == first[sport], f"seed {SEED}"


def test_request_budget_sends_the_first_requests_and_counts_the_rest() -> None:
    assert requests_to_send(100, 1) == 1 and requests_to_send(100, 50) == 50
    assert requests_to_send(10**6, 1000) == 1 and requests_to_send(1000, 1000, budget=9000) == 10
    nodes = _nodes("bootcamp")
    _, view = next(_views(nodes))
    exact = exact_of(view.entries)
    tally = sample_view(nodes, view, "tcp", 100, 40, SEED, endpoint_addresses(exact), budget=500)
    assert isinstance(tally, Tally) and tally.requests_sent == 6 and tally.split_connections == 0
    assert sum(tally.requests.values()) == 4000


def _recorder(landed: dict[tuple[str, str | None], set]):
    """Collects, per client address and node entered by (affinity lists are per node), its outcomes."""
    def record(landing: Landing) -> None:
        landed[(landing.client.ip, landing.entry_node)].add(landing.key)
    return record


def test_affinity_all_connections_of_one_client_land_on_one_pod() -> None:
    """ClientIP affinity: each client (per node it enters by) always reaches the pod of its first connection."""
    nodes = _nodes("session-affinity")
    checked = 0
    for dist, view in _views(nodes):
        landed: dict[tuple[str, str | None], set] = defaultdict(set)
        exact = exact_of([e for e in view.entries if e.weight > 0])
        tally = sample_view(nodes, view, dist.svc.proto, 400, 3, SEED, endpoint_addresses(exact),
                            on_connection=_recorder(landed))
        assert isinstance(tally, Tally), tally
        assert landed and all(len(keys) == 1 for keys in landed.values()), f"{view.kind} seed {SEED}: {landed}"
        assert all(k[0] == "DNAT" for keys in landed.values() for k in keys)
        checked += len(landed)
    assert checked >= 4  # two pod clients (clusterIP), one outside client entering two nodes (NodePort)


def test_runs_are_reproducible_per_seed() -> None:
    """The same seed gives the same run, whatever ran before on the cached simulator; another seed differs."""
    nodes = _nodes("topology-hints")
    _, view = next(_views(nodes))
    exact = exact_of(view.entries)
    runs = [sample_view(nodes, view, "tcp", 300, 3, seed, endpoint_addresses(exact)) for seed in (5, 6, 5)]
    fresh = sample_view(_nodes("topology-hints"), view, "tcp", 300, 3, 5, endpoint_addresses(exact))
    assert runs[0] == runs[2] == fresh and runs[0] != runs[1]
    long = [analyse_connections(nodes, view, "tcp", 300, 3, 5) for _ in range(2)]
    assert long[0] == long[1] and long[0].engine == "simulator"
    affinity = _nodes("session-affinity")
    _, sticky = next(_views(affinity))
    endpoints = endpoint_addresses(exact_of(sticky.entries))
    first = sample_view(affinity, sticky, "tcp", 50, 1, 9, endpoints)
    second = sample_view(affinity, sticky, "tcp", 50, 1, 10, endpoints)
    alone = sample_view(_nodes("session-affinity"), sticky, "tcp", 50, 1, 10, endpoints)
    assert isinstance(first, Tally) and isinstance(alone, Tally)
    assert first.connections != alone.connections  # so clients pinned by the first run would show
    assert second == alone, "affinity lists must not survive from one run to the next"


def test_outside_clients_of_a_cluster_ip_fall_back_to_the_sampler(capsys) -> None:
    nodes = _nodes("bootcamp")
    _, view = next(_views(nodes, ["external"]))
    assert view.kind == "clusterIP"
    refused = sample_view(nodes, view, "tcp", 10, 1, SEED, {})
    assert isinstance(refused, str) and "outside routes no cluster IPs to the nodes" in refused
    code = main(["dist", "--scenario", "bootcamp", "--to", "10.96.142.87:8080", "--from", "external",
                 "--connections", "2000", "--seed", str(SEED), "-o", "json"])
    conns = json.loads(capsys.readouterr().out)["services"][0]["connections"]
    assert code == 0 and conns["engine"] == "sampler" and "instead of the simulator" in conns["note"]
    assert conns["chi_square"]["p_value"] > ALPHA, f"seed {SEED}"


def test_cli_keep_alive_spread_through_the_simulator(capsys) -> None:
    code = main(["dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp", "--connections", "3",
                 "--requests-per-connection", "1000", "--seed", "7", "-o", "json"])
    conns = json.loads(capsys.readouterr().out)["services"][0]["connections"]
    assert code == 0 and conns["engine"] == "simulator" and conns["note"] is None
    assert sum(o["sampled_connections"] for o in conns["outcomes"]) == 3
    assert all(o["sampled_requests"] == 1000 * o["sampled_connections"] for o in conns["outcomes"])
    code = main(["dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp", "--connections", "3",
                 "--requests-per-connection", "1000", "--seed", "7"])
    assert code == 0 and "through the cluster simulator" in capsys.readouterr().out


EXAMPLES = budget(20)  # few (each example samples a few thousand connections), more under KPSIM_DEEP=1


# Over generated clusters, ALPHA is shared by the examples (Bonferroni), and each example's check shares its part
# among its tests (assert_agrees): a run fails by chance at most once in a thousand.
@settings(max_examples=EXAMPLES)
@given(clusters(), st.data())
def test_generated_clusters_sample_like_the_exact_shares(case: ClusterCase, data: st.DataObject) -> None:
    nodes = node_set(case.cluster, case.config)
    views = list(_views(nodes))
    dist, view = data.draw(st.sampled_from(views), label="view")
    exact = exact_of([e for e in view.entries if e.weight > 0])
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    where = f"{dist.name} {view.kind}, seed {seed}"
    if dist.svc.client_ip_affinity:
        landed: dict[tuple[str, str | None], set] = defaultdict(set)
        tally = sample_view(nodes, view, dist.svc.proto, 60, 2, seed, endpoint_addresses(exact),
                            on_connection=_recorder(landed))
        assert isinstance(tally, Tally), f"{where}: {tally}"
        assert all(len(keys) == 1 for keys in landed.values()), f"{where}: a client moved: {landed}"
        assert set(tally.connections) <= set(exact), f"{where}: {tally.connections} vs {exact}"
        return
    alpha = ALPHA / EXAMPLES
    n = _size(exact, alpha)
    tally = sample_view(nodes, view, dist.svc.proto, n, 1, seed, endpoint_addresses(exact))
    assert isinstance(tally, Tally), f"{where}: not simulated: {tally}"
    assert_agrees(where, tally.connections, exact, n, alpha)



def test_the_check_has_power_against_wrong_shares() -> None:
    """The same samples that agree with the exact 1/4, 1/4, 1/2 are rejected against an even split."""
    nodes = _nodes("upstream-internal-traffic-policy-local-and-there-are-multiple-local-endpoints")
    dist, view = next(_views(nodes))
    exact = exact_of(view.entries)
    assert sorted(exact.values()) == [Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)]
    n = _size(exact)
    tally = sample_view(nodes, view, dist.svc.proto, n, 1, SEED, endpoint_addresses(exact))
    assert isinstance(tally, Tally), tally
    assert_agrees(f"seed {SEED}", tally.connections, exact, n)
    even = {key: Fraction(1, len(exact)) for key in exact}
    with pytest.raises(AssertionError, match="not in"):
        assert_agrees(f"seed {SEED}", tally.connections, even, n)
