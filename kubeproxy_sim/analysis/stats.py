"""The little statistics the analysis and its tests need, with ``math`` only (no scipy).

Sampled counts are compared with exact shares by exact binomial tails (per
endpoint) and by Pearson's chi-square (all endpoints at once; at small
expected counts with the statistic's exact or Monte Carlo tail, see
:func:`goodness_of_fit`); intervals for a sampled share use Wilson's score
interval.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


def log_binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly term by term in log space."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, math.fsum(math.exp(log_binom_pmf(i, n, p)) for i in range(k + 1)))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return min(1.0, math.fsum(math.exp(log_binom_pmf(i, n, p)) for i in range(k, n + 1)))


def binom_acceptance(n: int, p: float, alpha: float) -> tuple[int, int]:
    """The central interval [lo, hi] holding X ~ Binomial(n, p) with probability >= 1 - alpha.

    Each tail outside it has probability <= alpha/2 (exact sums, no normal
    approximation), so a count outside it rejects "the share is p" at level alpha.
    The terms are read from the mode outwards (:func:`_central_terms`), not all n + 1 of them: dist draws one
    interval per endpoint, and reading every term cost a 1,500-endpoint service more than its simulation.
    """
    start, pmf = _central_terms(n, p, alpha * 1e-30 / (n + 1))
    end = start + len(pmf) - 1
    lo, tail = start, 0.0
    while lo < min(n, end) and tail + pmf[lo - start] <= alpha / 2:
        tail += pmf[lo - start]
        lo += 1
    hi, tail = end, 0.0
    while hi > max(0, start) and tail + pmf[hi - start] <= alpha / 2:
        tail += pmf[hi - start]
        hi -= 1
    return lo, hi


def _central_terms(n: int, p: float, cutoff: float) -> tuple[int, list[float]]:
    """(k0, [P(X = k0), P(X = k0 + 1), ...]) for X ~ Binomial(n, p): the terms from the mode outwards until
    they fall below ``cutoff``, by the ratio of neighbouring terms. The pmf falls away from its mode, so the
    terms left out number at most n + 1, each below ``cutoff``: together less than (n + 1) * cutoff."""
    mode = min(n, math.floor((n + 1) * p))
    term = math.exp(log_binom_pmf(mode, n, p))
    below: list[float] = []
    value, k = term, mode
    while k > 0 and p > 0:
        value *= k / (n - k + 1) * (1 - p) / p  # P(X = k - 1) from P(X = k)
        if value < cutoff:
            break
        below.append(value)
        k -= 1
    above: list[float] = []
    value, k = term, mode
    while k < n and p < 1:
        value *= (n - k) / (k + 1) * p / (1 - p)  # P(X = k + 1) from P(X = k)
        if value < cutoff:
            break
        above.append(value)
        k += 1
    return mode - len(below), [*reversed(below), term, *above]


def _gamma_q(a: float, x: float) -> float:
    """The regularised upper incomplete gamma Q(a, x): a series below a+1, a continued fraction above."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def chi2_sf(x: float, df: float) -> float:
    """P(chi-square with df degrees of freedom >= x); df may be any positive real (Patnaik's approximation)."""
    if df <= 0:
        return 1.0
    return _gamma_q(df / 2, x / 2)


def chi_square(counts: Sequence[int], probabilities: Sequence[float]) -> tuple[float, int, float]:
    """Pearson's statistic of counts against expected probabilities: (statistic, df, p-value).

    Cells with zero expected probability must have zero counts (else the
    statistic is infinite: the sample contradicts the exact answer).
    """
    n = sum(counts)
    stat, cells = 0.0, 0
    for count, p in zip(counts, probabilities, strict=True):
        if p <= 0:
            if count:
                return math.inf, max(cells - 1, 1), 0.0
            continue
        expected = n * p
        stat += (count - expected) ** 2 / expected
        cells += 1
    df = cells - 1
    return stat, df, (chi2_sf(stat, df) if df > 0 else 1.0)


MIN_EXPECTED = 5.0  # below this many expected in a cell the chi-square distribution is no guide to the tail
EXACT_WORK = 2_000_000  # count-vector steps an exact tail may take before a Monte Carlo one is used instead
MC_DRAWS = 1_000_000  # draws a Monte Carlo tail may take (replicates x draws per replicate)
MC_MIN, MC_MAX = 200, 2_000  # Monte Carlo replicates (p-values down to 1/2001)


@dataclass(frozen=True, slots=True)
class Fit:
    """Pearson's statistic of counts against expectations, with a p-value that holds at these counts.

    ``method`` says where the p-value comes from: ``"chi-square"`` (every cell expects at least
    :data:`MIN_EXPECTED`), ``"exact"`` (the statistic's exact tail over every possible sample) or
    ``"monte carlo"`` (``replicates`` seeded samples of the same draws: ``(1 + as large) / (1 + replicates)``).
    """

    statistic: float
    df: int
    p_value: float
    method: str
    replicates: int = 0

    def as_tuple(self) -> tuple[float, int, float]:
        return self.statistic, self.df, self.p_value

    def why(self) -> str:
        """A sentence on a p-value that is an estimate (Monte Carlo), else "" (the chi-square distribution's
        where it holds, or the exact tail)."""
        if self.method == "monte carlo":
            return (f"p is a Monte Carlo tail of the statistic, {self.replicates} seeded samples of the exact shares "
                    f"(a cell expects fewer than {MIN_EXPECTED:g}: the chi-square distribution would misstate it)")
        return ""


Draws = Sequence[tuple[Sequence[float], int]]  # (probability of each cell, how many draws have them)


def _statistic(counts: Sequence[int], expected: Sequence[float]) -> float:
    """Pearson's sum((count - e)^2 / e), over the cells whose expectation is positive."""
    return math.fsum((c - e) ** 2 / e for c, e in zip(counts, expected, strict=True) if e > 0)


def goodness_of_fit(counts: Sequence[int], draws: Draws, seed: int = 1) -> Fit:
    """Pearson's test of ``counts`` per cell against independent draws: each ``(probabilities, m)`` of ``draws``
    is m draws, each landing in cell i with probability ``probabilities[i]`` (groups may differ: one client's
    entry point balances otherwise than another's). The expectation of a cell is the sum over draws.

    With every positive cell expecting :data:`MIN_EXPECTED` or more the p-value is the chi-square
    distribution's; below that it is the statistic's exact tail, enumerated over every count vector the draws
    can make when that is small enough, else a seeded Monte Carlo tail. A count in a cell no draw can reach
    gives an infinite statistic and p = 0, as :func:`chi_square` does.
    """
    cells = len(counts)
    expected = [math.fsum(p[i] * m for p, m in draws) for i in range(cells)]
    live = [i for i in range(cells) if expected[i] > 0]
    df = max(len(live) - 1, 0)
    if any(counts[i] for i in range(cells) if expected[i] <= 0):
        return Fit(math.inf, max(df, 1), 0.0, "chi-square")
    counts = [counts[i] for i in live]
    expected = [expected[i] for i in live]
    draws = [([p[i] for i in live], m) for p, m in draws if m > 0]
    stat = _statistic(counts, expected)
    if df == 0:
        return Fit(stat, 0, 1.0, "chi-square")
    if min(expected) >= MIN_EXPECTED:
        return Fit(stat, df, chi2_sf(stat, df), "chi-square")
    n = sum(m for _, m in draws)
    if n * math.comb(n + len(live) - 1, len(live) - 1) * len(live) <= EXACT_WORK:
        return Fit(stat, df, _exact_tail(stat, expected, draws), "exact")
    replicates = max(MC_MIN, min(MC_MAX, MC_DRAWS // max(n, 1)))
    same = math.fsum(c * c / e for c, e in zip(counts, expected, strict=True)) - n  # as the samples reckon it
    return Fit(stat, df, _monte_carlo_tail(same, expected, draws, replicates, seed), "monte carlo", replicates)


def _at_least(stat: float, observed: float) -> bool:
    return stat >= observed - 1e-9 * max(1.0, abs(observed))  # equal statistics computed in another order tie


def _exact_tail(observed: float, expected: Sequence[float], draws: Draws) -> float:
    """P(statistic >= observed) over every count vector the draws make, adding one draw at a time."""
    states: dict[tuple[int, ...], float] = {(0,) * len(expected): 1.0}
    for probabilities, m in draws:
        steps = [(i, p) for i, p in enumerate(probabilities) if p > 0]
        for _ in range(m):
            nxt: dict[tuple[int, ...], float] = {}
            for state, weight in states.items():
                for i, p in steps:
                    moved = (*state[:i], state[i] + 1, *state[i + 1:])
                    nxt[moved] = nxt.get(moved, 0.0) + weight * p
            states = nxt
    return min(1.0, math.fsum(w for state, w in states.items() if _at_least(_statistic(state, expected), observed)))


def _monte_carlo_tail(observed: float, expected: Sequence[float], draws: Draws, replicates: int, seed: int) -> float:
    """(1 + samples whose statistic is at least ``observed``) / (1 + replicates): a valid p-value at any size."""
    import random

    rng = random.Random(seed)
    cells = range(len(expected))
    plans = [(list(itertools.accumulate(p)), m) for p, m in draws]
    n = sum(m for _, m in draws)
    inverse = [1 / e for e in expected]
    hits = 0
    for _ in range(replicates):
        counts: Counter[int] = Counter()
        for cum, m in plans:
            counts.update(rng.choices(cells, cum_weights=cum, k=m))
        # Pearson's statistic is sum(count^2 / e) - n: a sum over the cells drawn only
        stat = math.fsum(c * c * inverse[i] for i, c in counts.items()) - n
        hits += _at_least(stat, observed)
    return (1 + hits) / (1 + replicates)


def normal_quantile(q: float) -> float:
    """The standard normal quantile, by bisection on erfc (plenty for interval widths)."""
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion."""
    if n == 0:
        return 0.0, 1.0
    z = normal_quantile(1 - (1 - confidence) / 2)
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    # the exact ends, where floating point lands a hair inside them (3/3 gave 0.9999999999999999)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def samples_for_power(p: float, shift: float, alpha: float = 0.001, power: float = 0.99) -> int:
    """How many samples detect a share of ``p + shift`` instead of ``p`` (two-sided, normal approximation)."""
    q = min(max(p + shift, 1e-9), 1 - 1e-9)
    za = normal_quantile(1 - alpha / 2)
    zb = normal_quantile(power)
    n = ((za * math.sqrt(p * (1 - p)) + zb * math.sqrt(q * (1 - q))) / shift) ** 2
    return math.ceil(n)
