"""How the evaluator writes an address back as text (packet.format_address): one text whatever Python runs it.

ip6tables-save (glibc's inet_ntop) and Go's netip end an IPv4-mapped IPv6 address in its dotted quad; Python's
ipaddress did so only from 3.13 on, so a trace printed ``::ffff:af4:105`` on 3.11 and ``::ffff:10.244.1.5`` on
3.13. The kernel check is tests/netfilter/test_saveform_kernel.py's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.packet import V4_ALL, V6_ALL, format_address, format_endpoint, parse_address

MAPPED_BASE = 0xFFFF << 32


def test_an_ipv4_mapped_address_ends_in_its_dotted_quad() -> None:
    assert format_address(6, parse_address("::ffff:10.244.1.5")[1]) == "::ffff:10.244.1.5"
    assert format_address(6, parse_address("::ffff:af4:105")[1]) == "::ffff:10.244.1.5"
    assert format_address(6, MAPPED_BASE) == "::ffff:0.0.0.0"
    assert format_endpoint(6, MAPPED_BASE | 0x0AF40105, 80) == "[::ffff:10.244.1.5]:80"


def test_addresses_beside_the_mapped_range_stay_hex() -> None:
    """Only ::ffff:0:0/96 is mapped: its neighbours, and IPv4-compatible ::a.b.c.d (Go's text, the objects
    loader's, is hex there), print as any IPv6 address."""
    assert format_address(6, MAPPED_BASE - 1) == "::fffe:ffff:ffff"
    assert format_address(6, MAPPED_BASE + (1 << 32)) == "::1:0:0:0"
    assert format_address(6, 0x1_FFFF << 32) == "::1:ffff:0:0"
    assert format_address(6, 0xFFFF) == "::ffff"
    assert format_address(6, 0x0102_0304) == "::102:304"
    assert format_address(6, 1) == "::1"


@given(st.integers(0, V4_ALL))
def test_every_mapped_address_is_ffff_and_the_ipv4_text(value: int) -> None:
    text = format_address(6, MAPPED_BASE | value)
    assert text == f"::ffff:{format_address(4, value)}"
    assert parse_address(text) == (6, MAPPED_BASE | value)


@given(st.integers(0, V6_ALL))
def test_ipv6_text_reads_back_as_the_same_address(value: int) -> None:
    assert parse_address(format_address(6, value)) == (6, value)
