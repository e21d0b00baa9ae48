"""The "plain dotted quad" test behind the loader's fast paths: canonical ASCII text only, by either of its two ways.

``is_plain_ipv4`` is inet_pton where the C library's is strict (glibc, musl: here) and a regex elsewhere. A
Unicode ``\\d`` in that regex let other scripts' digits (Arabic-Indic ``١``, Devanagari ``०``) pass as a plain
address, which the fast paths then kept as it was: an endpoint at ``1٠.0.0.1``.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import decode_slices
from kubeproxy_sim.objects.addr import _pton_is_strict, _pton_plain_ipv4, _regex_plain_ipv4
from tests.budget import budget

OTHER_DIGITS = "٠١٢٥٩०१९０１９"  # Arabic-Indic, Devanagari, full-width: each str.isdigit and a regex's Unicode \d
OCTET_CHARS = "0123456789" + OTHER_DIGITS + "² x-+"  # (and a few near-misses)
octet = (st.integers(0, 300).map(str) | st.sampled_from(OTHER_DIGITS)  # (each alone: what the old regex took)
         | st.text(alphabet=OCTET_CHARS, min_size=1, max_size=4))


def canonical_ipv4(text: str) -> bool:
    """The reference: Python's ipaddress reads ASCII digits only and refuses leading zeros, as Go's ParseIP has
    since go1.17."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("text", ["١.٢.٣.٤", "1٠.0.0.1", "10.0.0.١", "1०.0.0.1", "１.2.3.4", "10.0.0.1²"])
def test_other_scripts_digits_are_not_a_plain_address(text: str) -> None:
    assert not _regex_plain_ipv4(text)
    assert not _pton_plain_ipv4(text)
    assert decode_slices._fast_endpoint({"addresses": [text]}, _regex_plain_ipv4) is None  # the checked path's


@settings(max_examples=budget(300), deadline=None)
@given(st.lists(octet, min_size=3, max_size=5).map(".".join))
def test_the_regex_reads_exactly_the_canonical_dotted_quads(text: str) -> None:
    assert _regex_plain_ipv4(text) == canonical_ipv4(text)
    if _pton_is_strict():  # (the two ways are one answer wherever inet_pton is taken)
        assert _pton_plain_ipv4(text) == canonical_ipv4(text)

