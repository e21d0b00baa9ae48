"""The JSON key kubectl's YAML reader makes of a YAML mapping key.

sigs.k8s.io/yaml decodes a manifest with go-yaml v2 into Go maps keyed by the decoded value (the string "1", the
integer 1, the float 1.0 and the boolean true are four keys there), then writes JSON, whose keys are strings
(yaml.go, convertToJSONableObject): an integer key becomes its decimal text, a float key
``strconv.FormatFloat(f, 'g', -1, 32)`` (``.inf``, ``-.inf`` and ``.nan`` for the infinities and NaN), a boolean
key ``true`` or ``false``. Two keys go-yaml keeps apart can so become one JSON key, and which value the JSON then
holds follows Go's map order: unspecified. A null key (``~``, ``null``, an empty ``?``) and an integer go-yaml holds as
a uint64 (past int64, below 2**64, written without a sign) have no JSON key: convertToJSONableObject fails
("unsupported map key of type ..."), and kubectl refuses the document. An integer past both is no integer to go-yaml
v2's resolve, which the YAML readers follow (objects.load.go_number): a float when its text is decimal, else the
text, a string key.
"""

from __future__ import annotations

import math
import struct

from kubeproxy_sim.objects.report import WrittenNumber

INT64 = 1 << 63


def json_key(key: object) -> str | None:
    """``key`` as kubectl's JSON has it; None for a key kubectl has none for and refuses (null, a uint64: see the
    module's docstring)."""
    if type(key) is str:
        return key
    if type(key) is bool:
        return "true" if key else "false"
    if type(key) is int:
        return str(key) if -INT64 <= key < INT64 else None  # (past int64: a uint64, the one larger integer)
    if type(key) is float:
        return go_float32(key)
    if type(key) is WrittenNumber:  # (YAML's .inf and .nan; a whole float past 2**53)
        if key.whole:
            return go_float32(float(key.text.replace("_", "")))
        return ".nan" if "nan" in key.text.lower() else "-.inf" if key.text.startswith("-") else ".inf"
    return None


def go_key(key: object) -> object:
    """What go-yaml's map compares a decoded key by, where Python's equality differs: YAML's ``.inf``, ``.Inf`` and
    ``+.inf`` are one float (one key, the last value kept), every ``.nan`` another (NaN equals nothing: two are two
    keys that become one JSON key, ``.nan``, whose value is then unspecified), a whole float past 2**53 its value;
    else the key with its type (``1``, ``1.0`` and ``true``, equal in Python, are three Go keys)."""
    if type(key) is WrittenNumber:
        if key.whole:
            return float, float(key.text.replace("_", ""))
        if "nan" not in key.text.lower():
            return float, -math.inf if key.text.startswith("-") else math.inf
        return object()
    return type(key), key


def go_float32(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)`` in YAML's words for the infinities and NaN: the value rounded to
    a 32-bit float, in the fewest digits that read back as it, in exponent form below 1e-4 and from 1e6 on."""
    if math.isnan(value):
        return ".nan"
    single = _single(value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    return go_format_float(single, 32)


def go_format_float(value: float, bits: int = 64) -> str:
    """``strconv.FormatFloat(value, 'g', -1, bits)`` of a finite ``value`` of that width (a float32's already
    rounded to it): the fewest significant digits that read back as it, in exponent form below 1e-4 and from 1e6
    on (two exponent digits at least). Prometheus's text format writes a sample's value so (expfmt's writeFloat)."""
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    width = _single if bits == 32 else float
    text = ""
    for precision in range(17):  # (9 significant digits always read back as the same float32, 17 as a float64)
        text = f"{value:.{precision}e}"
        if width(float(text)) == value:
            break
    mantissa, exponent_text = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits, exponent = mantissa.lstrip("-").replace(".", ""), int(exponent_text)
    if exponent < -4 or exponent >= 6:
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    whole, fraction = digits[:point].ljust(point, "0"), digits[point:]
    return f"{sign}{whole}{'.' + fraction if fraction else ''}"


def _single(value: float) -> float:
    """``value`` rounded to a 32-bit float; an infinity past its range, as Go's conversion gives."""
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
