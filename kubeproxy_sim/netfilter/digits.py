"""The decimal digits of many large integers, each a small multiple of another, in about linear time.

A trace's exact shares through a service of thousands of endpoints are fractions of tens of thousands of
bits, and CPython 3.11 writes an int in decimal in quadratic time: ``str`` of one such term costs
milliseconds, of the 4,000 terms of a 2,000-endpoint service seconds, most of a ``trace -o json``. But
the terms are related: each numerator is its neighbour's times a few 31-bit split thresholds, over a
power of two, and each denominator a power of two. So a term is written from the digits of the last
one written (in order of size) when ``value == last * p / q`` for small ``p`` and ``q``: the ratio is
read off the two numbers' leading bits, checked exactly, and applied in the decimal module's arithmetic,
linear for a small factor. A term with no such neighbour is written by ``str``. The digits are the same
either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import MAX_EMAX, Decimal, Inexact, localcontext
from fractions import Fraction

SMALL_BITS = 8192
"""Below this many bits, ``str`` is quicker than looking for a neighbour (its quadratic cost is microseconds)."""
RATIO_BITS = 96
"""The largest terms of a ratio looked for: a few 31-bit thresholds and a power of two."""


def int_texts(values: Sequence[int]) -> list[str]:
    """``[str(v) for v in values]``, the large values written from one another where they are small multiples."""
    texts = [""] * len(values)
    last: tuple[int, Decimal] | None = None  # the largest value written so far (of SMALL_BITS or more), as digits
    for i in sorted(range(len(values)), key=lambda k: values[k].bit_length()):
        value = values[i]
        if value < 0 or value.bit_length() < SMALL_BITS:
            texts[i] = str(value)
            continue
        digits = _scaled(last, value) if last is not None else None
        if digits is None:
            digits = Decimal(str(value))  # Decimal(value) converts as slowly as str, and the text is wanted
        texts[i] = str(digits)  # an integral Decimal of exponent 0: its plain digits
        last = (value, digits)
    return texts


def _scaled(reference: tuple[int, Decimal], value: int) -> Decimal | None:
    """``value`` as a Decimal from the reference's digits when ``value == reference * p / q`` for ``p`` and ``q`` of
    at most :data:`RATIO_BITS` bits; None when it is not (or the ratio is not seen in the leading bits)."""
    known, digits = reference
    if value.bit_length() - known.bit_length() > RATIO_BITS:
        return None
    # Leading bits of 4x RATIO_BITS pin the ratio closer than any two fractions of such terms are apart;
    # the exact check below is what makes it right, this only makes it found.
    shift = known.bit_length() - 4 * RATIO_BITS
    ratio = Fraction(value >> shift, known >> shift).limit_denominator(1 << RATIO_BITS)
    p, q = ratio.numerator, ratio.denominator
    if not p or p.bit_length() > RATIO_BITS or value * q != known * p:
        return None
    with localcontext() as exact:
        exact.prec = (known.bit_length() + p.bit_length()) * 30103 // 100000 + 2  # every digit of known * p
        exact.Emax = MAX_EMAX
        exact.traps[Inexact] = True  # never a rounded digit, whatever the arithmetic above
        return digits * p // q


def fraction_texts(shares: Sequence[Fraction]) -> list[str]:
    """``[str(s) for s in shares]`` (``n/d``; ``n`` when ``d`` is 1), the terms written by :func:`int_texts`."""
    nums = int_texts([s.numerator for s in shares])
    dens = int_texts([s.denominator for s in shares])
    return [num if den == "1" else f"{num}/{den}" for num, den in zip(nums, dens, strict=True)]
