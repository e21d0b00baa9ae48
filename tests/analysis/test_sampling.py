"""The rule engine's sampler (the fallback of ``dist --connections``) agrees with the exact answer; statistics.

N seeded connections are drawn through the rules with the kernel's random
draws; every endpoint's count must lie in the exact binomial 99.9 % interval
of its exact share, and Pearson's chi-square must not reject at 99.9 %. N is
chosen so that a share off by 3 points would be caught with power 0.99.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis import stats
from kubeproxy_sim.analysis.affinity import client_load, simulate_returns
from kubeproxy_sim.analysis.exact import Entry, Selection, Share, analyse, service_ports
from kubeproxy_sim.analysis.nodes import Source, node_set
from kubeproxy_sim.analysis.sampling import exact_of, sample_connections
from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.objects import load_paths
from tests.analysis.test_exact_sums import LARGE_ODD, SMALL_ODD, dyadic, kernel_shares
from tests.budget import budget

ALPHA = 0.001
SEED = 20240607


def _nodes(scenario: str):
    directory = REPO_RULESETS / scenario
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    return node_set(cluster, config_from_args(scenario_args(directory), cluster))


@pytest.mark.parametrize("scenario", ["bootcamp", "upstream-external-traffic-policy-local", "topology-hints"])
def test_sampled_connections_agree_with_exact_shares(scenario: str) -> None:
    nodes = _nodes(scenario)
    report = analyse(nodes, [Selection(s) for s in service_ports(nodes)])
    for dist in report.services:
        for view in dist.views:
            exact = exact_of([e for e in view.entries if e.weight > 0])
            smallest = min(float(p) for p in exact.values())
            n = max(2000, stats.samples_for_power(smallest, 0.03, ALPHA, 0.99))
            counts = sample_connections(nodes, view.entries, dist.svc.proto, n, SEED)
            where = f"{scenario} {dist.name} {view.kind}, seed {SEED}, N {n}"
            assert set(counts) <= set(exact), f"{where}: sampled outcomes the exact answer excludes: {counts}"
            for key, p in exact.items():
                lo, hi = stats.binom_acceptance(n, float(p), ALPHA)
                assert lo <= counts.get(key, 0) <= hi, f"{where}: {key} {counts.get(key, 0)} not in [{lo}, {hi}]"
            keys = list(exact)
            _, _, p_value = stats.chi_square([counts.get(k, 0) for k in keys], [float(exact[k]) for k in keys])
            assert p_value > ALPHA, f"{where}: chi-square rejects (p = {p_value})"


def _plain_exact_of(entries: list[Entry]) -> dict[tuple[str, str | None], Fraction]:
    """exact_of as Fraction's own arithmetic: a product and a sum per entry and share, in the order they come."""
    total: dict[tuple[str, str | None], Fraction] = {}
    for entry in entries:
        for share in entry.shares:
            key = (share.verdict, share.endpoint)
            total[key] = total.get(key, Fraction(0)) + entry.weight * share.probability
    return total


def _entries(weighted: list[tuple[Fraction, list[tuple[str, int, Fraction]]]]) -> list[Entry]:
    return [Entry(f"node{n}", Source("external", "203.0.113.9"), "10.96.0.1:80", weight,
                  tuple(Share(verdict, f"10.0.{i // 250}.{i % 250}:80" if verdict == "DNAT" else None, p)
                        for verdict, i, p in outcomes))
            for n, (weight, outcomes) in enumerate(weighted)]


def _assert_same(got: dict[tuple[str, str | None], Fraction], want: dict[tuple[str, str | None], Fraction]) -> None:
    """The same outcomes in the same order (the sampler's endpoint list and the chi-square cells follow it), the
    same values in the same lowest terms (dist -o json writes their digits)."""
    assert list(got) == list(want)
    assert [(p.numerator, p.denominator) for p in got.values()] == [(p.numerator, p.denominator) for p in want.values()]


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(st.tuples(st.just(Fraction(1)) | dyadic(SMALL_ODD + LARGE_ODD).map(abs), st.lists(st.tuples(
    st.sampled_from(["DNAT", "DROP", "REJECT"]), st.integers(0, 3), dyadic(SMALL_ODD + LARGE_ODD).map(abs)),
    max_size=5)), min_size=1, max_size=6))
def test_exact_of_is_fractions_own_weighted_sums(
        weighted: list[tuple[Fraction, list[tuple[str, int, Fraction]]]]) -> None:
    """exact_of sums over one common denominator (:func:`~kubeproxy_sim.analysis.exact.weighted_sum`); it must
    give what a Fraction product and add per term give, zero weights and zero shares included."""
    entries = _entries(weighted)
    _assert_same(exact_of(entries), _plain_exact_of(entries))


@pytest.mark.parametrize("weights", [(Fraction(1, 3),) * 3, (Fraction(1, 2), Fraction(1, 4), Fraction(1, 4))])
def test_exact_of_a_kernel_split_is_fractions_own(weights: tuple[Fraction, ...]) -> None:
    """The shares dist --connections sums: a 300-way split of 31-bit thresholds (~9,000-bit denominators) seen
    from every entry node, each node's own split the kernel's shares in another order."""
    shares = kernel_shares(300)
    weighted = [(w, [("DNAT", (i + n) % 300, p) for i, p in enumerate(shares)]) for n, w in enumerate(weights)]
    entries = _entries(weighted)
    got = exact_of(entries)
    _assert_same(got, _plain_exact_of(entries))
    assert sum(got.values()) == 1


def test_affinity_lru_model_matches_the_rules() -> None:
    """More clients than the 100-entry list: the returning clients still listed are 100/m.

    Why an exact binomial test applies although a client's connections are not independent: 400 clients pick
    uniformly at random among themselves, 2 endpoints, each with a 100-entry ``recent`` list. A client is in at
    most one list (it is added only when it is in none), and a full list stays full (an addition evicts one, the
    timeout is never reached). Once every client has been seen and both lists are full, the next connection's
    client is listed with probability exactly 200/400, and then returns to the same endpoint; otherwise the
    kernel's 1/2 split (exact in 31 bits) sends it back with probability 1/2. So *whatever the history*, the next
    connection returns to the same endpoint with probability 3/4 = the model's; after that point the count of
    same-endpoint returns is exactly Binomial(connections, 3/4). The runs are seeded and a longer run starts with
    the shorter one's connections, so the difference of a WARM run and a WARM + MEASURED run is that count.
    WARM = 15 connections per client: some client is still unseen with probability <= 400 * exp(-15) < 1.3e-4
    (checked: every measured connection is a return); a list not full after every client's first, evenly split,
    connection has probability P(Bin(400, 1/2) < 100) < 1e-20. The family-wise false-alarm rate is at most ALPHA.
    """
    nodes = _nodes("session-affinity")
    report = analyse(nodes, [Selection(s) for s in service_ports(nodes)])
    entry = next(e for v in report.services[0].views for e in v.entries if e.source.kind == "external")
    clients, warm, measured = 400, 6000, 6000
    warm_fails = clients * math.exp(-warm / clients) + 1e-20  # the warm-up leaves someone unseen or a list short
    returning0, same0, engine0 = simulate_returns(nodes, entry, "tcp", clients, warm, SEED)
    returning, same, engine = simulate_returns(nodes, entry, "tcp", clients, warm + measured, SEED)
    assert engine0 == engine == "simulator"
    model = client_load(clients // 2, 2).same_endpoint  # 2 endpoints, 200 clients each
    assert model == Fraction(3, 4)
    assert returning - returning0 == measured, f"seed {SEED}: a client unseen after {warm} connections"
    lo, hi = stats.binom_acceptance(measured, float(model), ALPHA - warm_fails)
    assert lo <= same - same0 <= hi, f"seed {SEED}: {same - same0} of {measured} returned, not in [{lo}, {hi}]"
    few = simulate_returns(nodes, entry, "tcp", 150, 3000, SEED)  # 75 per endpoint: always listed
    assert few[1] == few[0] and few[2] == "simulator", f"seed {SEED}: clients within the list moved"


def test_affinity_sampling_falls_back_to_the_rules_for_pod_clients() -> None:
    nodes = _nodes("session-affinity")
    report = analyse(nodes, [Selection(s) for s in service_ports(nodes)])
    entry = next(e for v in report.services[0].views for e in v.entries if e.source.kind == "pod")
    returning, same, engine = simulate_returns(nodes, entry, "tcp", 50, 600, SEED)
    assert engine == "sampler" and returning > 500 and same == returning, f"seed {SEED}"


def test_binomial_interval_is_exact() -> None:
    lo, hi = stats.binom_acceptance(100, 0.5, 0.05)
    assert stats.binom_cdf(lo - 1, 100, 0.5) <= 0.025 < stats.binom_cdf(lo, 100, 0.5)
    assert stats.binom_sf(hi + 1, 100, 0.5) <= 0.025 < stats.binom_sf(hi, 100, 0.5)
    assert (lo, hi) == (40, 60)


def _brute_acceptance(n: int, p: float, alpha: float) -> tuple[int, int]:
    """The central interval from every term of the pmf, each tail summed from its end."""
    pmf = [math.exp(stats.log_binom_pmf(i, n, p)) for i in range(n + 1)]
    lo, tail = 0, 0.0
    while lo < n and tail + pmf[lo] <= alpha / 2:
        tail, lo = tail + pmf[lo], lo + 1
    hi, tail = n, 0.0
    while hi > 0 and tail + pmf[hi] <= alpha / 2:
        tail, hi = tail + pmf[hi], hi - 1
    return lo, hi


@pytest.mark.parametrize(("n", "p", "alpha"), [
    (1, 0.5, 0.05), (7, 0.0, 0.05), (7, 1.0, 0.05), (20, 0.5, 0.05), (100, 0.5, 0.05), (1000, 1 / 3, 0.05),
    (10_000, 1 / 1500, 0.05), (5000, 0.999, 0.01), (300, 0.02, 0.001), (2, 0.9, 0.5)])
def test_binomial_interval_matches_every_term_summed(n: int, p: float, alpha: float) -> None:
    assert stats.binom_acceptance(n, p, alpha) == _brute_acceptance(n, p, alpha)


@settings(max_examples=budget(200), deadline=None)
@given(st.integers(0, 3000), st.floats(0, 1), st.sampled_from([0.5, 0.05, 0.01, 1e-6]))
def test_binomial_interval_of_any_share_matches_every_term_summed(n: int, p: float, alpha: float) -> None:
    assert stats.binom_acceptance(n, p, alpha) == _brute_acceptance(n, p, alpha)


def test_binomial_interval_reads_the_terms_near_the_mean_only(monkeypatch) -> None:
    """dist --connections C draws one interval per endpoint: reading all C + 1 terms of each cost a
    1,500-endpoint service 200 s at C = 10,000, more than its simulation. The tails beyond a few dozen
    standard deviations hold less than any float sum can see. Both the exact terms (log_binom_pmf) and all the
    terms read (_central_terms, by neighbours' ratios) are counted: a walk over all n + 1 by ratios is as slow."""
    calls: list[int] = []
    real = stats.log_binom_pmf

    def exact_term(k: int, n: int, p: float) -> float:
        calls.append(k)
        return real(k, n, p)

    monkeypatch.setattr(stats, "log_binom_pmf", exact_term)
    terms: list[tuple[int, float, int]] = []  # (n, p, terms read)
    central = stats._central_terms

    def counted(n: int, p: float, cutoff: float) -> tuple[int, list[float]]:
        start, pmf = central(n, p, cutoff)
        terms.append((n, p, len(pmf)))
        return start, pmf

    monkeypatch.setattr(stats, "_central_terms", counted)
    assert stats.binom_acceptance(1_000_000, 1 / 3, 0.05) == (332410, 334257)
    assert stats.binom_acceptance(10_000, 1 / 1500, 0.05) == (2, 12)
    assert len(calls) <= 10
    assert [n for n, _, _ in terms] == [1_000_000, 10_000]
    assert all(read <= 30 * math.sqrt(n * p * (1 - p)) for n, p, read in terms)  # 1e6: <= 14,142 of 1,000,001


def test_chi_square_survival_matches_known_values() -> None:
    assert stats.chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert stats.chi2_sf(16.26623619623813, 3) == pytest.approx(0.001, rel=1e-9)
    assert stats.chi2_sf(2.0, 2) == pytest.approx(math.exp(-1), rel=1e-12)


def test_chi_square_statistic_degrees_of_freedom_and_p_value() -> None:
    """Pearson's test of 4 cells has 3 degrees of freedom (cells - 1; an impossible cell is no cell): (30, 20, 25, 25)
    against 1/4 each gives 2.0 on 3 df, whose survival is erfc(1) + 2/sqrt(pi)/e (the closed form for 3 df)."""
    p_value = math.erfc(1.0) + 2 / math.sqrt(math.pi) * math.exp(-1.0)  # 0.5724067...
    statistic, df, p = stats.chi_square([30, 20, 25, 25], [0.25] * 4)
    assert statistic == pytest.approx(2.0, rel=1e-12) and df == 3
    assert p == pytest.approx(p_value, rel=1e-9) and p == pytest.approx(0.5724, abs=1e-4)
    assert stats.chi_square([30, 20, 25, 25, 0], [0.25, 0.25, 0.25, 0.25, 0.0]) == (statistic, 3, p)
    assert stats.chi_square([40, 60], [0.5, 0.5]) == (4.0, 1, pytest.approx(0.0455003, abs=1e-7))  # z = 2
    assert stats.chi_square([7], [1.0]) == (0.0, 0, 1.0)  # one cell: nothing to test


def test_chi_square_rejects_a_biased_sample() -> None:
    rng = random.Random(SEED)
    counts = [sum(1 for _ in range(3000) if rng.random() < 0.6)]
    counts.append(3000 - counts[0])
    assert stats.chi_square(counts, [0.5, 0.5])[2] < ALPHA
    assert stats.chi_square([5, 1], [1.0, 0.0])[2] == 0.0


def test_wilson_interval_and_power() -> None:
    lo, hi = stats.wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert stats.wilson(3, 3)[1] == 1.0 and stats.wilson(0, 3)[0] == 0.0  # the exact ends, not a hair inside
    assert stats.normal_quantile(0.975) == pytest.approx(1.959963985, abs=1e-8)
    assert 1000 < stats.samples_for_power(0.25, 0.03) < 10000


def test_goodness_of_fit_uses_the_exact_tail_where_cells_expect_fewer_than_five() -> None:
    """3 connections over 4 endpoints of 1/4 expect 0.75 a cell: the chi-square distribution says p = 0.30 for
    (1, 2, 0, 0) and 0.029 for (3, 0, 0, 0), the statistic's exact tails are 40/64 and 4/64 (all three on one
    endpoint is no sign of a wrong split at 5 %)."""
    assert stats.chi_square([3, 0, 0, 0], [0.25] * 4)[2] < 0.05  # what dist printed before
    fit = stats.goodness_of_fit([1, 2, 0, 0], [([0.25] * 4, 3)])
    assert (fit.method, fit.df) == ("exact", 3) and fit.p_value == pytest.approx(0.625, abs=1e-12)
    assert fit.statistic == pytest.approx(stats.chi_square([1, 2, 0, 0], [0.25] * 4)[0])
    assert stats.goodness_of_fit([3, 0, 0, 0], [([0.25] * 4, 3)]).p_value == pytest.approx(0.0625, abs=1e-12)
    assert fit.why() == ""  # an exact tail needs no caveat
    # two clients pinned by affinity: two draws of 1/2, both on one pod happens half the time
    assert stats.goodness_of_fit([2, 0], [([0.5, 0.5], 2)]).p_value == pytest.approx(0.5, abs=1e-12)
    # draws of different shares (one client on each node, each balanced by its node's rules): expected (1.5, 0.5),
    # and (2, 0) and (1, 1) are equally far from it
    exact = stats.goodness_of_fit([2, 0], [([1.0, 0.0], 1), ([0.5, 0.5], 1)])
    assert exact.method == "exact" and exact.p_value == pytest.approx(1.0, abs=1e-12)
    three = stats.goodness_of_fit([3, 0], [([1.0, 0.0], 1), ([0.5, 0.5], 2)])  # (3, 0) has chance 1/4
    assert three.p_value == pytest.approx(0.25 + 0.25, abs=1e-12)  # as far as (1, 2), also 1/4
    assert stats.goodness_of_fit([0, 2], [([1.0, 0.0], 1), ([0.5, 0.5], 1)]).p_value == 0.0  # impossible


def test_goodness_of_fit_keeps_the_chi_square_tail_at_five_expected_and_the_impossible_cell() -> None:
    fit = stats.goodness_of_fit([30, 20, 25, 25, 0], [([0.25, 0.25, 0.25, 0.25, 0.0], 100)])
    assert (fit.method, fit.why()) == ("chi-square", "")
    assert fit.as_tuple() == stats.chi_square([30, 20, 25, 25, 0], [0.25, 0.25, 0.25, 0.25, 0.0])
    assert stats.goodness_of_fit([5, 1], [([1.0, 0.0], 6)]).as_tuple() == stats.chi_square([5, 1], [1.0, 0.0])
    assert stats.goodness_of_fit([7], [([1.0], 7)]).as_tuple() == (0.0, 0, 1.0)


def test_goodness_of_fit_monte_carlo_tail_is_seeded_and_holds_its_level() -> None:
    """Too many count vectors to enumerate (100 cells, 20 draws): a seeded Monte Carlo tail, reproducible, and
    under the null it rejects at 20 % no more often than 20 % (plus sampling slack), where the chi-square
    distribution's p-value did far more often (QA-stats: 2-6 times the nominal rate at p < 0.001)."""
    probs = [0.01] * 100
    counts = [1] * 20 + [0] * 80
    fit = stats.goodness_of_fit(counts, [(probs, 20)], seed=3)
    assert fit.method == "monte carlo" and fit.replicates >= stats.MC_MIN and "Monte Carlo" in fit.why()
    assert fit == stats.goodness_of_fit(counts, [(probs, 20)], seed=3)
    rng = random.Random(SEED)
    runs, level = 60, 0.2
    rejected = 0
    for i in range(runs):
        sample = [0] * 100
        for cell in rng.choices(range(100), k=20):
            sample[cell] += 1
        rejected += stats.goodness_of_fit(sample, [(probs, 20)], seed=i).p_value < level
    assert rejected <= runs * level + 3 * math.sqrt(runs * level * (1 - level))  # 21 of 60 at most
