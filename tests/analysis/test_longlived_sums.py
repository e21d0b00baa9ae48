"""longlived._sum_range: the normal approximation decided up front and the sums weighed in a list give the very
ranges the dict of reachable sums gave."""

from __future__ import annotations

import math
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.analysis import longlived, stats


def _listed_then_dropped(terms: list[tuple[int, float]], confidence: float, limit: int) -> tuple[int, int]:
    """The implementation before 2026-11-30 (limit for SUM_STATES), kept as the oracle: it listed the
    distribution draw by draw and switched to the normal approximation once more than ``limit`` sums showed."""
    dist: dict[int, float] = {0: 1.0}
    for n, p in terms:
        if p <= 0:
            continue
        if len(dist) > limit:
            mean = math.fsum(n * q for n, q in terms)
            spread = stats.normal_quantile(1 - (1 - confidence) / 2) * math.sqrt(
                math.fsum(n * n * q * (1 - q) for n, q in terms))
            top = sum(n for n, q in terms if q > 0)
            return max(0, math.floor(mean - spread)), min(top, math.ceil(mean + spread))
        moved: dict[int, float] = {}
        for value, weight in dist.items():
            if p < 1:
                moved[value] = moved.get(value, 0.0) + weight * (1 - p)
            moved[value + n] = moved.get(value + n, 0.0) + weight * p
        dist = moved
    values = sorted(dist)
    limit_tail = (1 - confidence) / 2
    low, tail = 0, 0.0
    while low < len(values) - 1 and tail + dist[values[low]] <= limit_tail:
        tail += dist[values[low]]
        low += 1
    high, tail = len(values) - 1, 0.0
    while high > low and tail + dist[values[high]] <= limit_tail:
        tail += dist[values[high]]
        high -= 1
    return values[low], values[high]


PROBABILITY = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.25, 1 / 3, 0.9, 1e-200]),
                        st.floats(0, 1, allow_subnormal=False))
TERMS = st.lists(st.tuples(st.integers(0, 12), PROBABILITY), max_size=40)


@given(TERMS, st.sampled_from([0.95, 0.5, 0.99, 0.0]), st.integers(0, 60))
def test_the_range_is_the_one_listing_every_sum_gave(terms: list[tuple[int, float]], confidence: float,
                                                     limit: int) -> None:
    """Small limits for SUM_STATES so that both ways out (exact, normal) and the switch between them are hit;
    p = 1 draws (a shift of the sums, not more of them) and p = 0 ones (skipped) are drawn often."""
    with mock.patch.object(longlived, "SUM_STATES", limit):
        assert longlived._sum_range(terms, confidence) == _listed_then_dropped(terms, confidence, limit)

