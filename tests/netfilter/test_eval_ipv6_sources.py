"""The evaluator's IPv6 (and IPv4) decisions that hang on a packet's source or destination kind: link-local
sources, multicast and broadcast destinations; each case pinned to what a kernel did (reviewer r8's findings)."""

from __future__ import annotations

import netaddr
import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.evaluate import GROUP4_NOT_FORWARDED, UNSPECIFIED6_NOT_FORWARDED, Env
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer

DNAT6 = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d fd00:96::1/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00:100::7]:80
-A PREROUTING -m addrtype --dst-type LOCAL -j RETURN
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


def _verdicts(tracer: Tracer, src: str) -> list[str]:
    return [o.verdict for o in tracer.trace(Packet.of("tcp", src, "fd00:96::1", 80, 1234)).outcomes]


def test_a_link_local_source_gets_its_own_answer_whatever_was_traced_before() -> None:
    """ip6_forward drops a link-local source (kernel 6.x: icmpv6 NOT_NEIGHBOUR, FORWARD counted 0); the trace
    memo once gave fe80::2 the answer of fd00:77::5 (DNAT) when that one was traced first."""
    compiled = compile_ruleset(parse_ruleset(DNAT6, ipv6=True))
    node = NodeContext.of(("fd00:9::1/64",))
    fresh = _verdicts(Tracer(compiled, node), "fe80::2")
    warm = Tracer(compiled, node)
    assert _verdicts(warm, "fd00:77::5") == ["DNAT"]
    assert _verdicts(warm, "fe80::2") == fresh == ["DROP"]


DNAT4 = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -j DNAT --to-destination 10.100.0.7:53
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -j ACCEPT
COMMIT
"""
NODE4 = NodeContext.of(("10.9.0.1/24", "10.100.0.1/16"),
                       interfaces={"c0": ("10.9.0.1/24",), "out0": ("10.100.0.1/16",)},
                       routes=(("10.9.0.0/24", "c0"), ("10.100.0.0/16", "out0")), route_localnet_known=True)


@pytest.mark.parametrize(("dst", "verdict"), [
    ("224.0.0.1", "DROP"),  # measured: a frame to 01:00:5e:00:00:01, nat PREROUTING 1, FORWARD and INPUT 0
    ("239.1.2.3", "DROP"),
    ("255.255.255.255", "DROP"),
    ("10.9.0.255", "DROP"),  # c0's subnet broadcast: sent to ff:ff:ff:ff:ff:ff by a sender on c0's link
    ("10.100.255.255", "DNAT"),  # out0's, sent over c0 to the node's MAC: forwarded
    ("10.9.0.1", "DNAT"),
])
def test_an_ipv4_group_or_broadcast_frame_dnated_to_another_host_is_not_forwarded(dst: str, verdict: str) -> None:
    """ip_forward drops a frame not sent to the node alone (pkt_type != PACKET_HOST) before FORWARD, as
    ip6_forward does (14a617e); the evaluator forwarded IPv4 ones."""
    compiled = compile_ruleset(parse_ruleset(DNAT4))
    (outcome,) = Tracer(compiled, NODE4).trace(Packet.of("udp", "10.9.0.2", dst, 53, 1000, in_iface="c0")).outcomes
    assert outcome.verdict == verdict
    assert (outcome.path[-1].rule == GROUP4_NOT_FORWARDED.text()) == (verdict == "DROP")


FORWARD6 = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -j ACCEPT
COMMIT
"""
NODE6 = NodeContext.of(("fd00:9::1/64", "fd00:100::1/48"),
                       interfaces={"c0": ("fd00:9::1/64",), "out0": ("fd00:100::1/48",)},
                       routes=(("fd00:9::/64", "c0"), ("fd00:100::/48", "out0")), route_localnet_known=True)


@pytest.mark.parametrize(("dst", "verdict"), [("fd00:9::3", "ACCEPT"), ("fd00:100::7", "DROP")])
def test_a_link_local_source_is_forwarded_back_out_of_the_interface_it_came_in_by(dst: str, verdict: str) -> None:
    """ip6_forward drops a link-local source only when its route leaves by another interface (the redirect
    branch forwards): measured, fe80::2 -> fd00:9::3 in and out of c0 counted on FORWARD, -> fd00:100::7 not."""
    compiled = compile_ruleset(parse_ruleset(FORWARD6, ipv6=True))
    result = Tracer(compiled, NODE6).trace(Packet.of("tcp", "fe80::2", dst, 80, 1000, in_iface="c0"))
    assert [o.verdict for o in result.outcomes] == [verdict]
    assert not result.uncertain


def test_a_link_local_source_without_the_node_s_routes_is_assumed_dropped_and_said_so() -> None:
    compiled = compile_ruleset(parse_ruleset(FORWARD6, ipv6=True))
    node = NodeContext.of(("fd00:9::1/64",))
    result = Tracer(compiled, node).trace(Packet.of("tcp", "fe80::2", "fd00:9::3", 80, 1000, in_iface="c0"))
    assert [o.verdict for o in result.outcomes] == ["DROP"]
    assert any("link-local source fe80::2" in u.reason for u in result.uncertain)


@pytest.mark.parametrize(("address", "anycast"), [
    ("fd00:9::1/64", "fd00:9::"),
    ("fd00:9::1/126", "fd00:9::"),  # measured: anycast fd00:9:: dev c0 in table local, a packet to it on INPUT
    ("fd00:9::1/127", None),  # RFC 6164: addrconf_join_anycast returns for /127 and /128
    ("fd00:9::1/128", None),
    ("fd00:9::1/0", None),  # the prefix is ::, which is never joined
])
def test_subnet_router_anycasts_are_those_the_kernel_joins(address: str, anycast: str | None) -> None:
    anycasts = Env(NodeContext.of((address,)), 6).anycasts
    assert anycasts == (frozenset() if anycast is None else {int(netaddr.IPAddress(anycast))})


def test_the_unspecified_source_is_not_forwarded_out_of_another_interface() -> None:
    """ip6_forward's IPV6_ADDR_ANY test, in the link-local test's branch (measured by reviewer r8: a :: source
    forwarded out of another interface was not counted on FORWARD); back out of its link it is forwarded."""
    compiled = compile_ruleset(parse_ruleset(FORWARD6, ipv6=True))
    tracer = Tracer(compiled, NODE6)
    out = tracer.trace(Packet.of("tcp", "::", "fd00:100::7", 80, 1000, in_iface="c0")).outcomes
    assert [(o.verdict, o.path[-1].rule) for o in out] == [("DROP", UNSPECIFIED6_NOT_FORWARDED.text())]
    back = tracer.trace(Packet.of("tcp", "::", "fd00:9::3", 80, 1000, in_iface="c0")).outcomes
    assert [o.verdict for o in back] == ["ACCEPT"]
    # the key keeps :: as itself: a unicast source traced first does not answer for it
    warm = Tracer(compiled, NODE6)
    assert [o.verdict for o in warm.trace(Packet.of("tcp", "fd00:77::5", "fd00:100::7", 80, 1000,
                                                    in_iface="c0")).outcomes] == ["ACCEPT"]
    assert [o.verdict for o in warm.trace(Packet.of("tcp", "::", "fd00:100::7", 80, 1000,
                                                    in_iface="c0")).outcomes] == ["DROP"]
