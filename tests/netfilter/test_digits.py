"""Decimal digits of many large related integers (a trace's exact shares): always ``str``'s own digits."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.digits import (
    SMALL_BITS,
    _difference_text,
    _digits,
    _scaled,
    exact_texts,
    fraction_texts,
    int_texts,
)
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.budget import budget
from tests.netfilter.test_trace import statistic_chain

THRESHOLD = st.integers(1, (1 << 31) - 1)


@st.composite
def chain_terms(draw: st.DrawFn) -> list[int]:
    """Numerators as a statistic chain's branches have them: a running product of 31-bit factors, times the
    branch's own threshold, over a power of two; in any order, among unrelated numbers (large, small, 0, negative)."""
    size = SMALL_BITS // 30 + 2  # enough factors of 30 bits and more to pass SMALL_BITS
    factors = draw(st.lists(st.integers(1 << 30, (1 << 31) - 1), min_size=size, max_size=size + 60))
    terms, running = [], 1
    for factor in factors:
        running *= factor
        if running.bit_length() > SMALL_BITS - 200:
            terms.append((running * draw(THRESHOLD)) >> draw(st.integers(0, 40)))
    strangers = draw(st.lists(st.one_of(st.integers(-(1 << 9000), 1 << 9000), st.integers(-5, 5),
                                        st.builds(lambda t: -t, st.sampled_from(terms))), max_size=6))
    return draw(st.permutations(terms + strangers))


@settings(max_examples=budget(60), deadline=None)
@given(chain_terms())
def test_int_texts_are_strs_digits(values: list[int]) -> None:
    assert int_texts(values) == [str(v) for v in values]


@settings(max_examples=budget(60), deadline=None)
@given(chain_terms(), st.lists(st.integers(0, 60), min_size=1))
def test_fraction_texts_are_strs_digits(values: list[int], twos: list[int]) -> None:
    shares = [Fraction(v, 1 << twos[i % len(twos)] if i % 3 else 1) for i, v in enumerate(values)]
    assert fraction_texts(shares) == [str(s) for s in shares]


def test_a_neighbours_digits_are_used_only_for_a_small_exact_multiple() -> None:
    """The fast way is taken for a small multiple (else the tests above would prove nothing of it), and never
    for a number whose leading bits look like one but is not."""
    known = 3 ** 6000 + 1  # even: a multiple over 2 is whole
    reference = (known, Decimal(str(known)))
    assert str(_scaled(reference, known // 2 * 2_147_483_629)) == str(known // 2 * 2_147_483_629)
    near = known * 12_345 + 1  # the same leading bits as known * 12_345
    assert _scaled(reference, near) is None
    assert _scaled(reference, known << 200) is None  # a ratio past RATIO_BITS


def test_a_long_chains_json_shares_are_the_fractions_own_text() -> None:
    """A service of 400 endpoints: shares of up to 12,000 bits, written from one another in -o json."""
    result = Tracer(parse_ruleset(statistic_chain(400)), NodeContext.of()).trace(
        Packet.of("tcp", "10.0.0.2", "172.30.0.41", 80))
    assert max(o.probability_exact.denominator.bit_length() for o in result.outcomes) > SMALL_BITS
    texts = [o["probability_exact"] for o in result.to_json()["outcomes"]]
    assert texts == [str(o.probability_exact) for o in result.outcomes]


@settings(max_examples=budget(30), deadline=None)
@given(chain_terms(), st.integers(1, 3000), st.integers(-3, 3), st.booleans())
def test_differences_and_their_largest_distance_are_strs_digits(values: list[int], parts: int, extra: int,
                                                                thirds: bool) -> None:
    """Shares over powers of two (times 3: an average over three nodes) less an even split 1/parts (or a
    fraction near it), as ``dist`` shows them: each deviation, and the largest |deviation| among the values."""
    shares = [Fraction(abs(v), (3 if thirds else 1) << (abs(v).bit_length() + 2)) for v in values if v]
    minus = Fraction(1, parts) + Fraction(extra, 1 << 20)
    triples = [(s, minus, s - minus) for s in shares]
    widest = max((abs(d) for _, _, d in triples), default=Fraction(0))
    texts, differences = exact_texts([*shares, widest, minus, -widest], triples)
    assert texts == [str(f) for f in (*shares, widest, minus, -widest)]
    assert differences == [str(d) for _, _, d in triples]


def test_a_difference_is_written_from_its_terms_digits_only_when_it_is_one() -> None:
    """The fast way is taken for a share less an even split, never for a claimed difference that is not one."""
    share = Fraction(3 ** 6000, 1 << 9600)
    digits = _digits([share.numerator, share.denominator, 1, 1000])
    assert _difference_text(digits, share, Fraction(1, 1000), share - Fraction(1, 1000)) == \
        str(share - Fraction(1, 1000))
    assert _difference_text(digits, share, Fraction(1, 1000), share - Fraction(1, 999)) is None
    big = Fraction(1, 3 ** 6000)  # a minus of a large denominator: by str
    assert _difference_text(digits | _digits([3 ** 6000]), share, big, share - big) is None
    assert exact_texts([], [(share, Fraction(1, 1000), share - Fraction(1, 999))])[1] == \
        [str(share - Fraction(1, 999))]
