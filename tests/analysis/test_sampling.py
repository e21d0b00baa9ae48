"""The rule engine's sampler (the fallback of ``dist --connections``) agrees with the exact answer; statistics.

N seeded connections are drawn through the rules with the kernel's random
draws; every endpoint's count must lie in the exact binomial 99.9 % interval
of its exact share, and Pearson's chi-square must not reject at 99.9 %. N is
chosen so that a share off by 3 points would be caught with power 0.99.
"""

from __future__ import annotations

import math
import random

import pytest

from kubeproxy_sim.analysis import stats
from kubeproxy_sim.analysis.affinity import client_load, simulate_returns
from kubeproxy_sim.analysis.exact import Selection, analyse, service_ports
from kubeproxy_sim.analysis.nodes import node_set
from kubeproxy_sim.analysis.sampling import exact_of, sample_connections
from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.objects import load_paths

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


def test_affinity_lru_model_matches_the_rules() -> None:
    """More clients than the 100-entry list: the returning clients still listed are about 100/m."""
    nodes = _nodes("session-affinity")
    report = analyse(nodes, [Selection(s) for s in service_ports(nodes)])
    entry = next(e for v in report.services[0].views for e in v.entries if e.source.kind == "external")
    clients, connections = 400, 12000
    returning, same, engine = simulate_returns(nodes, entry, "tcp", clients, connections, SEED)
    assert engine == "simulator"
    model = float(client_load(clients // 2, 2).same_endpoint)  # 2 endpoints, 200 clients each
    observed = same / returning
    assert abs(observed - model) < 0.04, f"seed {SEED}: observed {observed:.3f}, model {model:.3f}"
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


def test_chi_square_survival_matches_known_values() -> None:
    assert stats.chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert stats.chi2_sf(16.26623619623813, 3) == pytest.approx(0.001, rel=1e-9)
    assert stats.chi2_sf(2.0, 2) == pytest.approx(math.exp(-1), rel=1e-12)


def test_chi_square_rejects_a_biased_sample() -> None:
    rng = random.Random(SEED)
    counts = [sum(1 for _ in range(3000) if rng.random() < 0.6)]
    counts.append(3000 - counts[0])
    assert stats.chi_square(counts, [0.5, 0.5])[2] < ALPHA
    assert stats.chi_square([5, 1], [1.0, 0.0])[2] == 0.0


def test_wilson_interval_and_power() -> None:
    lo, hi = stats.wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert stats.normal_quantile(0.975) == pytest.approx(1.959963985, abs=1e-8)
    assert 1000 < stats.samples_for_power(0.25, 0.03) < 10000
