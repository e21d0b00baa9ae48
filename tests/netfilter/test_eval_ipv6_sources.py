"""The evaluator's IPv6 (and IPv4) decisions that hang on a packet's source or destination kind: link-local
sources, multicast and broadcast destinations; each case pinned to what a kernel did (reviewer r8's findings)."""

from __future__ import annotations

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
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
