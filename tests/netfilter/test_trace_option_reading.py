"""A trace reads a NAT range and an iprange range as the parser does (libxt_NAT's parse_to, libxt_iprange's
numbers), so it maps and matches what iptables-restore 1.8.9 loaded (reviewer r6, session 21: the trace's own
readers lost ``[fd00::1]x:8080``'s port and skipped ``12:80``, ``1.:80``, ``1-2`` and ``0x0a.0.0.1`` as "not an IP
address"; ``tests/netfilter/option_cases`` pins how restore saves them)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.netfilter.restore_cases import FILTER, NAT


def traced(text: str, packet: Packet, ipv6: bool = False) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(verdict, destination) of each outcome, and the reasons of the rules the trace could not follow."""
    node = NodeContext.of(["fd00::9" if ipv6 else "10.9.9.9"])
    result = Tracer(parse_ruleset(text, ipv6=ipv6), node).trace(packet)
    return [(o.verdict, o.destination) for o in result.outcomes], [u.reason for u in result.uncertain]


@pytest.mark.parametrize(("to", "destination"), [
    ("[fd00::1]x:8080", "[fd00::1]:8080"),  # (saved [fd00::1]:8080: what follows the ] up to a colon is skipped)
    ("x[fd00::1]:8080", "[fd00::1]:8080"),
    ("[fd00::1]:8080", "[fd00::1]:8080"),
])
def test_a_dnat_range_in_brackets_keeps_its_port(to: str, destination: str) -> None:
    text = f"{NAT}-A PREROUTING -p tcp -j DNAT --to-destination {to}\nCOMMIT\n"
    assert traced(text, Packet.of("tcp", "fd00::5", "fd00::2", 80), ipv6=True) == ([("DNAT", destination)], [])


@pytest.mark.parametrize("to", ["12:80", "1.:80", ":80"])
def test_a_dnat_range_of_a_port_alone_maps_the_port(to: str) -> None:
    """parse_to takes a colon first or third (``[]:``'s place) as no address: ``12:80`` is port 80 alone."""
    text = f"{NAT}-A PREROUTING -p tcp -j DNAT --to-destination {to}\nCOMMIT\n"
    assert traced(text, Packet.of("tcp", "10.0.0.5", "10.0.0.2", 8080)) == ([("DNAT", "10.0.0.2:80")], [])


@pytest.mark.parametrize(("value", "inside", "outside"), [
    ("010.1.1.1-10.1.1.2", "8.1.1.1", "10.1.1.3"),  # (octal 010 is 8)
    ("0x0a.0.0.1", "10.0.0.1", "10.0.0.2"),
    ("1-2", "1.200.0.0", "2.0.0.1"),  # (1.0.0.0-2.0.0.0)
])
def test_an_iprange_is_read_in_c_s_bases(value: str, inside: str, outside: str) -> None:
    text = f"{FILTER}-A INPUT -m iprange --src-range {value} -j DROP\nCOMMIT\n"
    assert traced(text, Packet.of("tcp", inside, "10.9.9.9", 80)) == ([("DROP", None)], [])
    assert traced(text, Packet.of("tcp", outside, "10.9.9.9", 80)) == ([("ACCEPT", None)], [])
