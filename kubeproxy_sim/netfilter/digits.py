"""The decimal digits of many large integers, each a small multiple of another, in about linear time.

A trace's exact shares through a service of thousands of endpoints are fractions of tens of thousands of
bits, and CPython 3.11 writes an int in decimal in quadratic time: ``str`` of one such term costs
milliseconds, of the 4,000 terms of a 2,000-endpoint service seconds, most of a ``trace -o json``. But
the terms are related: each numerator is its neighbour's times a few 31-bit split thresholds, over a
power of two, and each denominator a power of two. So a term is written from the digits of the last
one written (in order of size) when ``value == last * p / q`` for small ``p`` and ``q``: the ratio is
read off the two numbers' leading bits, checked exactly, and applied in the decimal module's arithmetic,
linear for a small factor. A term with no such neighbour is written by ``str``. The digits are the same
either way. ``dist`` shows each share's deviation from the even split too, a difference whose numerator
is no such multiple: :func:`exact_texts` writes it from the share's digits and the split's instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import MAX_EMAX, Decimal, Inexact, localcontext
from fractions import Fraction
from math import gcd

SMALL_BITS = 8192
"""Below this many bits, ``str`` is quicker than looking for a neighbour (its quadratic cost is microseconds)."""
RATIO_BITS = 96
"""The largest terms of a ratio looked for: a few 31-bit thresholds and a power of two."""
RECENT = 4
"""How many of the last values written a new one is compared with: the shares of several entry points (or
several chains) are of about the same sizes, so in order of size their terms interleave."""


def int_texts(values: Sequence[int]) -> list[str]:
    """``[str(v) for v in values]``, the large values written from one another where they are small multiples."""
    digits = _digits(values)
    return [str(digits[v]) for v in values]


def _digits(values: Iterable[int]) -> dict[int, Decimal]:
    """Each distinct value as an integral Decimal (exponent 0, so ``str`` gives its plain digits): the large ones
    from one of the last few written (in order of size) where it is a small multiple, the rest by ``str``."""
    digits: dict[int, Decimal] = {}
    recent: list[tuple[int, Decimal]] = []  # the last large values written, newest first: a numerator's chain
    for value in sorted({abs(v) for v in values}, key=int.bit_length):  # and a denominator's interleave
        if value.bit_length() < SMALL_BITS:
            digits[value] = Decimal(value)
            continue
        written = next(filter(None, (_scaled(known, value) for known in recent)), None)
        if written is None:
            written = Decimal(str(value))  # Decimal(value) converts as slowly as str, and the text is wanted
        digits[value] = written
        recent = [(value, written), *recent[:RECENT - 1]]
    for value in values:
        if value < 0:
            digits[value] = digits[-value].copy_negate()  # exact: no context, no rounding
    return digits


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
    return exact_texts(shares)[0]


Difference = tuple[Fraction, Fraction, Fraction]
"""``(value, minus, difference)`` with ``difference == value - minus``: a share's deviation from the even split."""


def exact_texts(values: Sequence[Fraction], differences: Sequence[Difference] = ()) -> tuple[list[str], list[str]]:
    """``[str(v) for v in values]`` and ``[str(d) for _, _, d in differences]``, the large terms written from
    one another; a value that is a difference or its negation (a largest distance) is written as that one is.

    A difference's numerator is no multiple of anything written, but it is ``(v * a - m * b) / g`` for the
    terms ``v``, ``m`` of ``value`` and ``minus`` and small ``a``, ``g`` (for a ``minus`` of a small
    denominator, as an even split has); so it is written from their digits in decimal arithmetic, after an
    exact check in integers. A triple not of that form, or whose difference is not ``value - minus``, is
    written by ``str``. Values are told apart by their terms, not by Fraction's hash (a modular inverse)."""
    made: dict[tuple[int, int], str] = {(abs(d.numerator), d.denominator): "" for _, _, d in differences}
    plain = [f for f in values if (abs(f.numerator), f.denominator) not in made] if made else values
    written = [*plain, *(x for v, m, _ in differences for x in (v, m))]
    digits = _digits([f.numerator for f in written])  # numerators and denominators apart: each a chain of its
    digits.update(_digits([f.denominator for f in written]))  # own, where one's neighbour is the other's
    for value, minus, difference in differences:
        key = (abs(difference.numerator), difference.denominator)
        if not made[key]:
            made[key] = (_difference_text(digits, value, minus, difference) or str(difference)).lstrip("-")
    words: dict[int, str] = {}  # each term's text once: the same shares recur (an average equal to an entry's)
    for f in plain:
        for term in (f.numerator, f.denominator):
            if term not in words:
                words[term] = str(digits[term])
    return ([_signed(f, made) if made and (abs(f.numerator), f.denominator) in made else
             words[f.numerator] if f.denominator == 1 else f"{words[f.numerator]}/{words[f.denominator]}"
             for f in values],
            [_signed(d, made) for _, _, d in differences])


def _signed(value: Fraction, made: dict[tuple[int, int], str]) -> str:
    """The text of ``value`` from that of its magnitude."""
    text = made[(abs(value.numerator), value.denominator)]
    return "-" + text if value.numerator < 0 else text


def _text(num: Decimal, den: Decimal) -> str:
    return str(num) if den == 1 else f"{num}/{den}"


def _difference_text(digits: dict[int, Decimal], value: Fraction, minus: Fraction,
                     difference: Fraction) -> str | None:
    """``str(difference)`` from the digits of ``value``'s and ``minus``'s terms when ``minus``'s denominator and
    the factor ``difference`` was reduced by are small (see :func:`exact_texts`); None when they are not, or
    ``difference`` is not ``value - minus``."""
    v, vd, m, md = value.numerator, value.denominator, minus.numerator, minus.denominator
    if md.bit_length() >= SMALL_BITS:
        return None
    common = gcd(vd, md)  # of a large and a small number: one remainder, then small ones
    a, b = md // common, vd // common  # value and minus over the common denominator vd * a
    g, rest = divmod(vd * a, difference.denominator)
    if rest or g.bit_length() >= SMALL_BITS or difference.numerator * g != v * a - m * b:
        return None
    with localcontext() as exact:
        size = max(abs(v).bit_length(), vd.bit_length(), abs(m).bit_length() + b.bit_length()) + a.bit_length() + 1
        exact.prec = size * 30103 // 100000 + 3  # every digit of the terms before the division by g
        exact.Emax = MAX_EMAX
        exact.traps[Inexact] = True  # never a rounded digit; the divisions are exact by the check above
        num = (digits[v] * a - digits[m] * (digits[vd] // common)) // g
        den = digits[vd] * a // g
    return _text(num, den)
