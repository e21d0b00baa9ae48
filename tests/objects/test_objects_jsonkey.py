"""The JSON key kubectl's YAML reader makes of a YAML mapping key (sigs.k8s.io/yaml's convertToJSONableObject)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.objects.jsonkey import go_float32, go_format_float, json_key
from kubeproxy_sim.objects.load import text_documents
from kubeproxy_sim.objects.report import WrittenNumber


@pytest.mark.parametrize(("key", "expected"), [
    ("1", "1"), (1, "1"), (-7, "-7"), (True, "true"), (False, "false"), (None, None),
    (1.0, "1"), (2.5, "2.5"), (0.1, "0.1"), (123456.0, "123456"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (3.14159265, "3.1415927"), (16777217.0, "1.6777216e+07"),
    (-0.0, "-0"), (1e39, ".inf"), (-1e39, "-.inf"), (1e-50, "0"),
    (WrittenNumber(".inf"), ".inf"), (WrittenNumber("-.Inf"), "-.inf"), (WrittenNumber(".NaN"), ".nan"),
    (WrittenNumber("1e30", whole=True), "1e+30"),
])
def test_a_key_is_the_text_go_gives_it(key: object, expected: object) -> None:
    """strconv.Itoa for an integer, FormatFloat(f, 'g', -1, 32) for a float (rounded to 32 bits: 3.14159265 is
    3.1415927; exponent form below 1e-4 and from 1e6 on, two exponent digits at least), "true"/"false"; the
    infinities and NaN as YAML writes them (sigs.k8s.io/yaml's own replacement of Go's +Inf, -Inf and NaN)."""
    assert json_key(key) == expected


@pytest.mark.parametrize(("written", "expected"), [
    ("9223372036854775807", "9223372036854775807"), ("-9223372036854775808", "-9223372036854775808"),
    ("9223372036854775808", None), ("0xFFFFFFFFFFFFFFFF", None), ("0x8000000000000000", None),  # uint64s
    ("18446744073709551616", "1.8446744e+19"), ("-9223372036854775809", "-9.223372e+18"),
    ("+9223372036854775808", "9.223372e+18"), ("1_000_000_000_000_000_000_000", "1e+21"),
    ("07777777777777777777777", "7.777778e+21"),  # (go-yaml's float pattern takes its digits as decimal)
    ("0x1FFFFFFFFFFFFFFFF", "0x1FFFFFFFFFFFFFFFF"), ("-0x8000000000000001", "-0x8000000000000001"),
    ("1" * 330, "1" * 330),  # (past a float64: ParseFloat fails, and the text is the key)
])
def test_an_integer_key_past_int64_is_what_go_yaml_v2_resolves_its_text_to(written: str, expected: str | None) -> None:
    """go-yaml v2.4.0's resolve (checked by decoding each with it): ParseInt, then ParseUint (a uint64, which
    convertToJSONableObject refuses: None), then ParseFloat for decimal digits, else the text as a string; read
    by the manifest loader (objects.load.go_number), then made a JSON key."""
    [(_, _, found)] = text_documents(f"{written}: 1\n", "m.yaml")
    assert (None if type(found) is Diagnostic else next(iter(found))) == expected


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_a_float_key_reads_back_as_the_same_32_bit_float_in_at_most_nine_digits(value: float) -> None:
    text = go_float32(value)
    single = struct.unpack("<f", struct.pack("<f", float(text)))[0]
    assert single == value and math.copysign(1, single) == math.copysign(1, value)
    assert len(text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) <= 9


@pytest.mark.parametrize(("value", "expected"), [
    (0.0, "0"), (1.0, "1"), (12.0, "12"), (999999.0, "999999"), (1e6, "1e+06"), (0.1, "0.1"), (1e-05, "1e-05"),
    (1700000000.0, "1.7e+09"), (1764523456.789012, "1.764523456789012e+09"), (3.14159265, "3.14159265"),
    (2.0 ** 53 + 2, "9.007199254740994e+15"),
])
def test_a_float64_is_the_text_go_formats_it_in(value: float, expected: str) -> None:
    """strconv.FormatFloat(f, 'g', -1, 64), as Prometheus's text format writes a sample (a Unix time from
    SetToCurrentTime is 1.7...e+09): the shortest digits that read back as the float64, not rounded to 32 bits."""
    assert go_format_float(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float64_reads_back_as_itself_in_at_most_seventeen_digits(value: float) -> None:
    text = go_format_float(value)
    assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
    assert _significant(text) == _significant(repr(value))  # Python's repr is the shortest round trip too


def _significant(text: str) -> str:
    return text.lstrip("-").split("e")[0].replace(".", "").strip("0")
