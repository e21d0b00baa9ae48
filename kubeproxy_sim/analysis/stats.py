"""The little statistics the analysis and its tests need, with ``math`` only (no scipy).

Sampled counts are compared with exact shares by exact binomial tails (per
endpoint) and by Pearson's chi-square (all endpoints at once); intervals for a
sampled share use Wilson's score interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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
    """
    pmf = [math.exp(log_binom_pmf(i, n, p)) for i in range(n + 1)]
    lo, tail = 0, 0.0
    while lo < n and tail + pmf[lo] <= alpha / 2:
        tail += pmf[lo]
        lo += 1
    hi, tail = n, 0.0
    while hi > 0 and tail + pmf[hi] <= alpha / 2:
        tail += pmf[hi]
        hi -= 1
    return lo, hi


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
