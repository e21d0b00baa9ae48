"""REDIRECT's new destination: what the kernel picks, and what a trace assumes when it does not know.

Regression from a QA pass on real node dumps (QA-dumps #11): REDIRECT in PREROUTING silently sent the packet
to the first ``--node-ip``, where the kernel (nf_nat_redirect_ipv4) uses the input interface's primary
address: with several node addresses, or an input interface not known, that is an assumption, now listed.
"""

from __future__ import annotations

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer

RULES = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
         "-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 15001\n"
         "-A OUTPUT -p tcp --dport 80 -j REDIRECT --to-ports 15001\nCOMMIT\n")
TWO = ["10.0.0.1", "10.1.0.1"]
DROPPED = " (if the interface has no address the kernel drops the packet)"


def redirect(node: NodeContext, src: str = "10.2.0.5", **kw: str) -> tuple[list[str | None], list[tuple]]:
    result = Tracer(parse_ruleset(RULES), node).trace(Packet.of("tcp", src, "10.1.0.1", 80, **kw))
    return [o.destination for o in result.outcomes], [(u.line, u.reason) for u in result.uncertain]


def test_several_node_addresses_and_an_interface_of_unknown_addresses_name_the_address_assumed() -> None:
    assert redirect(NodeContext.of(TWO), in_iface="eth1") == (["10.0.0.1:15001"], [
        (6, "REDIRECT sends the packet to the primary address of its input interface eth1, not known here; the "
            "node has several addresses: assumed the first, 10.0.0.1" + DROPPED)])
    assert redirect(NodeContext.of(TWO)) == (["10.0.0.1:15001"], [  # no --in-iface and no routes
        (6, "REDIRECT sends the packet to the primary address of its input interface, which is not known; the "
            "node has several addresses: assumed the first, 10.0.0.1" + DROPPED)])


def test_the_input_interface_s_address_when_known_and_a_node_s_only_address_are_certain() -> None:
    eth1 = NodeContext.of(TWO, interfaces={"eth0": ["10.0.0.1"], "eth1": ["10.1.0.1/16"]})
    assert redirect(eth1, in_iface="eth1") == (["10.1.0.1:15001"], [])


def test_a_node_s_only_address_is_assumed_and_said_so_and_an_interface_without_one_drops() -> None:
    """nf_nat_redirect_ipv4/6 take the input device's first address and drop the packet when it has none (a
    Calico cali* veth has no IPv4 address; QA-dumps #3): a single node address is an assumption too."""
    assert redirect(NodeContext.of(["10.0.0.1"]), in_iface="cali1234") == (["10.0.0.1:15001"], [
        (6, "REDIRECT sends the packet to the primary address of its input interface cali1234, not known here; "
            "assumed the node's only address, 10.0.0.1" + DROPPED)])
    tracer = Tracer(parse_ruleset(RULES), NodeContext.of(["10.0.0.1"], interfaces={"cali1234": ["fe80::1/64"]}))
    (outcome,) = tracer.trace(Packet.of("tcp", "10.2.0.5", "10.1.0.1", 80, in_iface="cali1234")).outcomes
    assert (outcome.verdict, outcome.destination, [s.line for s in outcome.path]) == ("DROP", None, [6])


def test_a_packet_from_the_node_goes_to_loopback_and_unknown_node_addresses_are_said_so() -> None:
    assert redirect(NodeContext.of(TWO), src="10.0.0.1") == (["127.0.0.1:15001"], [])  # OUTPUT: loopback
    destinations, doubts = redirect(NodeContext.of((), addresses_known=False), in_iface="eth0")
    assert destinations == ["127.0.0.1:15001"]
    # it stands in for the interface's address, which is no loopback one: no route_localnet doubt follows
    assert doubts == [(6, "REDIRECT sends the packet to the primary address of its input interface eth0, not known "
                          "here; the node's addresses are not known (give --node-ip): 127.0.0.1 stands in" + DROPPED)]
