"""The sticky check's one walk (analysis.sticky) against a trace per list, which is what it stands in for.

On kube-proxy's rules (generated clusters, every view, node sources and hairpin clients too) it must answer
every list, as the trace does. On hand-written rules where holding a list changes more than the jump at its
``--rcheck`` it must answer as the trace does or not at all.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given

from kubeproxy_sim.analysis.affinity import traced_returns
from kubeproxy_sim.analysis.exact import Selection, endpoint_rows, first_packet, service_ports, service_views
from kubeproxy_sim.analysis.nodes import Source, node_set, node_source
from kubeproxy_sim.analysis.sticky import UnheldWalk
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from kubeproxy_sim.proxier import naming
from tests.strategies import ClusterCase, clusters


@given(clusters())
def test_one_walk_answers_every_list_as_its_trace_does(case: ClusterCase) -> None:
    nodes = node_set(case.cluster, case.config)
    for svc in service_ports(nodes):
        if not svc.client_ip_affinity:
            continue
        entries = [(e.node, e.source, e.destination) for v in service_views(nodes, Selection(svc), None)
                   for e in v.entries]
        for node in nodes.order:  # the node itself, and each endpoint calling its own service from its node
            entries.append((node, node_source(nodes, node), f"{svc.cluster_ip}:{svc.port}"))
            entries += [(node, Source("pod", row.ip, node=node), f"{svc.cluster_ip}:{svc.port}")
                        for row in endpoint_rows(nodes.cluster, nodes, svc) if row.node == node]
        for node, source, destination in entries:
            host, _, port = destination.rpartition(":")
            packet = first_packet(nodes, node, source, host.strip("[]"), int(port), svc.proto)
            walk = UnheldWalk(nodes.compiled(node), nodes.context(node), packet)
            for row in endpoint_rows(nodes.cluster, nodes, svc):
                list_name = naming.endpoint_chain(svc.name_string, svc.proto, row.endpoint)
                traced = traced_returns(nodes, node, packet, list_name, row.endpoint)
                found = walk.returns(list_name, row.endpoint)
                read = list_name in walk.first_read
                assert found == (traced if read else None), (svc.name_string, node, source, row.endpoint)


RULES = """*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-X - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SEP-B - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp --dport 80 -j KUBE-SVC-X
-A KUBE-SVC-X -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A
-A KUBE-SVC-X -m recent --name KUBE-SEP-B --rcheck --seconds 10800 --reap -j KUBE-SEP-B
-A KUBE-SVC-X -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
-A KUBE-SVC-X -j KUBE-SEP-B
-A KUBE-SEP-A -p tcp -m recent --name KUBE-SEP-A --set -j DNAT --to-destination 10.0.1.1:8080
-A KUBE-SEP-B -p tcp -m recent --name KUBE-SEP-B --set -j DNAT --to-destination 10.0.1.2:8080
COMMIT
"""
ENDPOINTS = {"KUBE-SEP-A": "10.0.1.1:8080", "KUBE-SEP-B": "10.0.1.2:8080"}
RCHECK_A = "-A KUBE-SVC-X -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A\n"
DNAT_A = "-A KUBE-SEP-A -p tcp -m recent --name KUBE-SEP-A --set -j DNAT --to-destination 10.0.1.1:8080\n"
TO_SVC = "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp --dport 80 -j KUBE-SVC-X\n"


def _answers(text: str) -> dict[str, tuple[Fraction | None, Fraction]]:
    """Per list: (the one walk's answer, the trace's with the client in the list)."""
    node = NodeContext.of(("192.168.0.10",))
    compiled = compile_ruleset(parse_ruleset(text))
    packet = Packet.of("tcp", "10.0.2.5", "10.96.0.1", 80, in_iface="eth0")
    walk = UnheldWalk(compiled, node, packet)
    out = {}
    for list_name, endpoint in ENDPOINTS.items():
        held = Tracer(compiled, NodeContext.of(("192.168.0.10",), affinity=[list_name])).trace(packet)
        traced = sum((o.probability_exact for o in held.outcomes if o.destination == endpoint), Fraction(0))
        out[list_name] = (walk.returns(list_name, endpoint), traced)
    return out


@pytest.mark.parametrize(("change", "declined", "returns"), [
    ((), set(), {"KUBE-SEP-A": 1, "KUBE-SEP-B": 1}),  # kube-proxy's shape
    ((("--reap -j KUBE-SEP-A", "--reap -g KUBE-SEP-A"),), set(), {"KUBE-SEP-A": 1, "KUBE-SEP-B": 1}),
    # a split before the service chain: the branches do not share the walk up to the --rcheck
    (((TO_SVC, TO_SVC.replace("--dport 80", "--dport 80 -m statistic --mode random --probability 0.5") + TO_SVC),),
     {"KUBE-SEP-A", "KUBE-SEP-B"}, {"KUBE-SEP-A": 1, "KUBE-SEP-B": 1}),
    # a second --rcheck of A
    (((RCHECK_A, RCHECK_A * 2),), {"KUBE-SEP-A"}, {"KUBE-SEP-A": 1, "KUBE-SEP-B": 1}),
    # A's chain reads A again and sends a client it holds elsewhere
    (((DNAT_A, "-A KUBE-SEP-A -m recent --name KUBE-SEP-A --rcheck -j KUBE-SEP-B\n" + DNAT_A),),
     {"KUBE-SEP-A"}, {"KUBE-SEP-A": 0, "KUBE-SEP-B": 1}),
    # A's chain splits again, half of it elsewhere
    (((DNAT_A, DNAT_A.replace("-p tcp", "-p tcp -m statistic --mode random --probability 0.5")
       + DNAT_A.replace("10.0.1.1", "10.0.1.3")),), {"KUBE-SEP-A"}, {"KUBE-SEP-A": Fraction(1, 2), "KUBE-SEP-B": 1}),
    # A's chain returns to the service chain, which goes on after the --rcheck rules
    (((DNAT_A, "-A KUBE-SEP-A -j MARK --set-xmark 0x1/0x1\n"),), {"KUBE-SEP-A"}, {"KUBE-SEP-A": 0, "KUBE-SEP-B": 1}),
    # B's --rcheck also needs an address the packet does not have: holding B changes nothing
    ((("-m recent --name KUBE-SEP-B --rcheck", "-s 10.9.9.9/32 -m recent --name KUBE-SEP-B --rcheck"),), {"KUBE-SEP-B"},
     {"KUBE-SEP-A": 1, "KUBE-SEP-B": Fraction(1, 2)}),
])
def test_hand_written_rules_are_answered_as_traced_or_declined(change, declined, returns) -> None:
    text = RULES
    for old, new in change:
        assert old in text
        text = text.replace(old, new, 1)
    answers = _answers(text)
    assert {name: traced for name, (_, traced) in answers.items()} == returns
    assert {name for name, (found, _) in answers.items() if found is None} == declined
    assert all(found == traced for found, traced in answers.values() if found is not None)
