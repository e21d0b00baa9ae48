"""dist -o json's exact values are written together (netfilter.digits) and are always ``str``'s own text."""

from __future__ import annotations

from fractions import Fraction

from kubeproxy_sim.analysis.exact import Share, deviation, max_deviation, uniform_share
from kubeproxy_sim.analysis.render import ExactTexts, outcome_json, shares_json
from kubeproxy_sim.netfilter.digits import SMALL_BITS
from tests.analysis.test_exact_sums import kernel_shares


def test_a_large_splits_exact_values_are_their_own_text() -> None:
    """400 endpoints (shares of up to ~12,000 bits), a third of each masqueraded, and a DROP share: every
    probability, deviation, masquerade part, the even split and the largest deviation as ``str`` writes them."""
    probabilities = [p * Fraction(9, 10) for p in kernel_shares(400)]
    assert max(p.denominator.bit_length() for p in probabilities) > SMALL_BITS
    shares = [Share("DNAT", f"10.0.{i // 250}.{i % 250}:80", p, p / 3) for i, p in enumerate(probabilities)]
    shares.append(Share("DROP", None, Fraction(1, 10)))
    texts = ExactTexts()
    doc = shares_json(shares, {}, texts)
    texts.write()
    uniform = uniform_share(shares)
    assert doc["uniform_exact"] == str(uniform)
    assert doc["max_deviation_exact"] == str(max_deviation(shares, uniform))
    outcomes = doc["outcomes"]
    assert isinstance(outcomes, list)
    for share, outcome in zip(shares, outcomes, strict=True):
        dev = deviation(share, uniform)
        assert outcome["probability_exact"] == str(share.probability)
        assert outcome["masquerade_exact"] == str(share.masqueraded)
        assert outcome["deviation_exact"] == (None if dev is None else str(dev))
    assert outcome_json(shares[7], uniform, {}) == outcomes[7]  # alone, written at once: the same
