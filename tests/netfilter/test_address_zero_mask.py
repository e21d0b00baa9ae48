"""An -s/-d of zero mask matches every packet whatever the family its host is written in (m5's finding)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kubeproxy_sim.netfilter.compile_match_packet import address_check


@pytest.mark.parametrize(("value", "family", "packet"), [
    ("1.2.3.4/0", 6, 0xFD00 << 112 | 7), ("fd00::1/0", 4, 0x0A000001), ("1.2.3.4/0x0", 6, 1),
])
def test_a_zero_mask_of_the_other_family_matches_every_packet(value: str, family: int, packet: int) -> None:
    """ip6tables-restore v1.8.9 takes ``-s 1.2.3.4/0`` and iptables-save prints the rule without -s (the mask is
    read first and the host skipped: restore_cases ADDRESSES), so it matches all; the trace said never."""
    b = SimpleNamespace(src=packet, dst=packet)
    assert address_check("src", "-s", value, False, family)(b) is True
    assert address_check("dst", "-d", value, True, family)(b) is False
