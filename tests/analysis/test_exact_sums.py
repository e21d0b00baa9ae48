"""Exact arithmetic on shares: sums over one common denominator are Fraction's own sums, in linear time."""

from __future__ import annotations

import time
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis.exact import Share, deviation, fraction_sum, max_deviation, merge_shares, uniform_share
from tests.budget import budget


def dyadic(odd_parts: list[int]) -> st.SearchStrategy[Fraction]:
    """Fractions whose denominators are a power of two times one of ``odd_parts`` (shares, weighted shares)."""
    return st.builds(lambda num, odd, k: Fraction(num, odd << k), st.integers(-(1 << 300), 1 << 300),
                     st.sampled_from(odd_parts), st.integers(0, 600))


SMALL_ODD = [1, 1, 1, 3, 5, 125]
LARGE_ODD = [1, 3, (1 << 64) + 13, 3 ** 90]


@settings(max_examples=budget(200), deadline=None)
@given(st.lists(dyadic(SMALL_ODD) | dyadic(LARGE_ODD), min_size=1, max_size=12))
def test_fraction_sum_is_fractions_own_sum(values: list[Fraction]) -> None:
    got, want = fraction_sum(values), sum(values, Fraction(0))
    assert (got.numerator, got.denominator) == (want.numerator, want.denominator) and str(got) == str(want)


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["DNAT", "DROP"]), dyadic(SMALL_ODD).map(abs)), min_size=1, max_size=10))
def test_uniform_and_deviations_are_fractions_own(outcomes: list[tuple[str, Fraction]]) -> None:
    shares = [Share(verdict, f"10.0.0.{i}:80", p) for i, (verdict, p) in enumerate(outcomes)]
    delivered = [s.probability for s in shares if s.verdict == "DNAT" and s.probability]
    want = sum(delivered, Fraction(0)) / len(delivered) if delivered else None
    uniform = uniform_share(shares)
    assert uniform == want and (uniform is None or str(uniform) == str(want))
    devs = [deviation(s, uniform) for s in shares]
    assert devs == [None if s.verdict != "DNAT" or want is None else s.probability - want for s in shares]
    assert max_deviation(shares) == max_deviation(shares, uniform) == max(
        (abs(d) for d in devs if d is not None), default=None)


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(dyadic(SMALL_ODD + LARGE_ODD).map(abs), min_size=1, max_size=12))
def test_max_deviation_over_large_denominators_is_fractions_own(values: list[Fraction]) -> None:
    """The largest and smallest share are found over one common denominator when the denominators are large."""
    shares = [Share("DNAT", f"10.0.0.{i}:80", p) for i, p in enumerate(values)]
    uniform = uniform_share(shares)
    assert max_deviation(shares) == (None if uniform is None else max(abs(p - uniform) for p in values))


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(st.tuples(dyadic(SMALL_ODD + LARGE_ODD).map(abs), st.lists(st.tuples(
    st.sampled_from(["DNAT", "DROP"]), st.integers(0, 3), dyadic(SMALL_ODD + LARGE_ODD).map(abs), st.booleans()),
    max_size=5)), min_size=1, max_size=6))
def test_merged_shares_are_fractions_own_weighted_sums(weighted: list[tuple[Fraction, list]]) -> None:
    """A view's average (:func:`merge_shares`): per (verdict, endpoint), Fraction's own sum of weight x share."""
    lists = [(w, [Share(v, f"10.0.0.{i}:80" if v == "DNAT" else None, p, p if masq else Fraction(0))
                  for v, i, p, masq in outcomes]) for w, outcomes in weighted]
    want: dict[tuple[str, str | None], list[Fraction]] = {}
    for w, shares in lists:
        for s in shares:
            acc = want.setdefault((s.verdict, s.endpoint), [Fraction(0), Fraction(0)])
            acc[0] += w * s.probability
            acc[1] += w * s.masqueraded
    got = merge_shares(lists)
    assert {(s.verdict, s.endpoint): [s.probability, s.masqueraded] for s in got} == {
        key: acc for key, acc in want.items() if acc[0]}
    assert all(str(s.probability) == str(want[(s.verdict, s.endpoint)][0]) for s in got)


def kernel_shares(n: int) -> list[Fraction]:
    """Endpoint i's exact share of an n-way split: the kernel's 31-bit thresholds, as kube-proxy writes them."""
    thresholds = [int(2 ** 31 / (n - i)) for i in range(n)]
    shares, rest = [], Fraction(1)
    for i, t in enumerate(thresholds):
        t = 1 << 31 if i == n - 1 else t
        shares.append(rest * Fraction(t, 1 << 31))
        rest *= Fraction((1 << 31) - t, 1 << 31)
    return shares


def test_the_even_split_of_two_thousand_endpoints_costs_linear_time() -> None:
    """dist's even split and deviations of 2,000 shares of ~60,000 bits each: a gcd per Fraction add took ~4 s
    CPU (five sums per dist of one service at 1,000 endpoints; QA-perf finding 1), one common denominator
    milliseconds."""
    probabilities = kernel_shares(2000)
    shares = [Share("DNAT", f"10.0.{i // 250}.{i % 250}:80", p) for i, p in enumerate(probabilities)]
    start = time.process_time()
    uniform = uniform_share(shares)
    worst = max_deviation(shares, uniform)
    merged = merge_shares([(Fraction(1, 3), shares), (Fraction(2, 3), shares)])
    spent = time.process_time() - start
    assert uniform == Fraction(1, 2000) and worst is not None and 0 < worst < Fraction(1, 2 ** 20)
    assert [s.probability for s in merged] == [s.probability for s in shares]
    assert spent < 2.0, f"{spent:.2f} s CPU"


def test_dist_text_shows_a_long_fraction_in_short() -> None:
    """dist's text line per outcome: a fraction of up to 100 digits below the line in full, a longer one as its
    form (-o json, which keeps every digit, is the place for thousands of them)."""
    from kubeproxy_sim.analysis.render import outcome_json, shares_text

    probabilities = kernel_shares(40)
    shares = [Share("DNAT", f"10.0.0.{i}:80", p) for i, p in enumerate(probabilities)]
    lines = shares_text(shares, {})
    for text, share in zip(lines, shares, strict=True):
        den = share.probability.denominator
        short = f"n/2^{den.bit_length() - 1} exactly, n in -o json"
        assert (f" {share.probability}  " in text) if den < 10 ** 100 else (f" {short}  " in text)
        assert outcome_json(share, uniform_share(shares), {})["probability_exact"] == str(share.probability)
    assert sum("n in -o json" in text for text in lines) > 20
