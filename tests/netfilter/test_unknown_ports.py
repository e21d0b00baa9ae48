"""A packet traced without a port (``trace`` without ``--sport``) passes every test of that port, one port or
a range, negated or not, ``-m udp`` or ``multiport``, and the trace says which way it took the port.

Regression from a QA pass on real dumps (s12, #5): a single port compared the missing port to itself, so
``--sport 53 -j DROP`` accepted and ``! --sport 53 -j DROP`` dropped, with nothing said, where a range
(``--sport 1024:65535``) listed its assumption.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer

NODE = NodeContext.of(["192.168.0.2"])


def forward_drop(match: str) -> str:
    return (f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"-A FORWARD -p udp {match} -j DROP\nCOMMIT\n")


def trace(match: str, sport: int | None = None):
    return Tracer(parse_ruleset(forward_drop(match)), NODE).trace(
        Packet.of("udp", "10.0.0.2", "10.96.0.1", 80, sport))


FORMS = ["-m udp {neg}--sport {ports}", "-m multiport {neg}--sports {ports}", "-m multiport {neg}--ports {ports}"]


@pytest.mark.parametrize(("form", "ports"), [
    *((form, ports) for form in FORMS for ports in ("53", "1024:65535")),
    (FORMS[0], "53:53"),  # (multiport refuses a range that does not ascend, as iptables does)
    *((form, "53,54") for form in FORMS[1:]),  # a list: multiport's alone
])
@pytest.mark.parametrize("negated", [False, True])
def test_an_unknown_source_port_passes_the_test_and_says_which_way(form: str, ports: str, negated: bool) -> None:
    result = trace(form.format(neg="! " if negated else "", ports=ports))
    assert [o.verdict for o in result.outcomes] == ["DROP"]
    (doubt,) = result.uncertain
    assert doubt.line == 5
    way = "outside" if negated else "within"
    assert doubt.reason == f"the packet has no sport; assumed {way} {ports}, so the test matches"


@pytest.mark.parametrize(("match", "sport", "answer"), [
    ("-m udp --sport 53", 53, "DROP"), ("-m udp --sport 53", 54, "ACCEPT"),
    ("-m udp ! --sport 53", 53, "ACCEPT"), ("-m udp ! --sport 53", 54, "DROP"),
    ("-m multiport --ports 53", 53, "DROP"), ("-m multiport ! --ports 53", 54, "DROP"),
    ("-m multiport --ports 80", None, "DROP"),  # the destination port is in it: no doubt about the source's
    ("-m multiport ! --ports 80", None, "ACCEPT"),
])
def test_a_known_port_or_a_deciding_destination_port_is_certain(match: str, sport: int | None, answer: str) -> None:
    result = trace(match, sport)
    assert [o.verdict for o in result.outcomes] == [answer]
    assert result.uncertain == ()
