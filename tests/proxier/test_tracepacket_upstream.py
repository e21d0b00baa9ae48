"""TestTracePacket (upstream, 531be81208e2): its 7 packet flows traced through its static rule dump.

rulesets/upstream-overall-iptables-rules/tracepacket.rules is the test's dump verbatim, and the folder's
flows.yaml its flows (which upstream.rules passes too). Unlike upstream.rules, which holds kube-proxy's chains only (so
tests/test_flows_upstream.py adds the built-in chains and kube-proxy's jumps), this dump declares the built-in
chains itself (``:INPUT - [0:0]``) with the jumps in them: restored on a node, as by iptables-restore or
upstream's fake iptables, those lines name the built-in chains (policy unchanged, ACCEPT on a fresh node), so
``as_node_holds_it`` (what ``trace --rules`` runs) gives them ACCEPT and adds nothing. The node's addresses are
upstream's testNodeIPs, as in runPacketFlowTests. The expectation is upstream's notation: the sorted DNAT
destinations, or DROP, REJECT, ACCEPT (an explicit filter ACCEPT), "" (accepted, not NATed), and masq.
"""

from __future__ import annotations

import pytest
import yaml

from kubeproxy_sim.cli.options import REPO_RULESETS
from kubeproxy_sim.netfilter.codec import parse_ruleset_file
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, TraceResult
from kubeproxy_sim.proxier.full import as_node_holds_it

from .dumps import parse_dump

SCENARIO = REPO_RULESETS / "upstream-overall-iptables-rules"
DUMP = SCENARIO / "tracepacket.rules"
FLOWS = yaml.safe_load((SCENARIO / "flows.yaml").read_text())  # TestTracePacket's flows, upstream.rules' too
TEST_NODE_IPS = ("192.168.0.2", "192.168.1.2", "192.168.99.11", "2001:db8::1", "2001:db8:1::2")


RULESET = as_node_holds_it(parse_ruleset_file(str(DUMP), ipv6=False))  # what trace --rules DUMP traces
NODE = NodeContext.of(TEST_NODE_IPS)
TRACER = Tracer(RULESET, NODE)


def upstream_notation(result: TraceResult) -> tuple[str, bool]:
    """(output, masq) as upstream's tracePacket reports them."""
    parts = sorted({o.destination for o in result.outcomes if o.verdict == "DNAT" and o.destination})
    parts += [v for v in ("DROP", "REJECT") if any(o.verdict == v for o in result.outcomes)]
    if not parts and any(o.verdict == "ACCEPT" and o.path and o.path[-1].table == "filter"
                         and o.path[-1].rule.endswith("-j ACCEPT") for o in result.outcomes):
        parts.append("ACCEPT")
    return ", ".join(parts), any(o.masquerade for o in result.outcomes)


def test_the_dump_is_upstreams_fixture():
    """Seven flows; the dump parses as parse.go parses it and declares the built-in chains it jumps from."""
    assert len(FLOWS) == 7
    tables = parse_dump(DUMP.read_text())
    assert [t.name for t in tables] == ["filter", "nat"]
    for table in tables:
        declared = [c.name for c in table.chains]
        assert declared[:len(BUILTIN_CHAINS[table.name])] == list(BUILTIN_CHAINS[table.name])
    # Nothing is added: the node holds the dump's own built-in chains, once each, with a fresh node's policy.
    assert as_node_holds_it(RULESET) is RULESET
    assert [c.name for c in RULESET.table("filter").chains if c.builtin] == ["INPUT", "FORWARD", "OUTPUT"]
    for table, parsed in zip(RULESET.tables, tables, strict=True):
        assert [c.name for c in table.chains] == [c.name for c in parsed.chains]
        assert {c.policy for c in table.chains if c.name in BUILTIN_CHAINS[table.name]} == {"ACCEPT"}


def test_the_scenarios_flows_are_these():
    """tests/test_flows_upstream.py traces these same flows through upstream.rules."""
    from tests.test_flows_upstream import CASES

    assert [flow for folder, flow in CASES if folder == SCENARIO] == FLOWS


@pytest.mark.parametrize("flow", FLOWS, ids=[f["name"] for f in FLOWS])
def test_flow(flow: dict) -> None:
    packet = Packet.of(flow.get("proto", "tcp"), flow["src"], flow["dst"], int(flow["dport"]))
    result = TRACER.trace(packet)
    assert Tracer(RULESET, NODE, lazy=True).trace(packet) == result
    assert sum(o.probability_exact for o in result.outcomes) == 1
    assert not result.uncertain, result.uncertain  # every match and target of the dump is modelled
    want = (str(flow["output"] or ""), bool(flow.get("masq", False)))
    assert upstream_notation(result) == want, "\n".join(
        f"  {o.verdict} {o.destination} {o.probability_exact} masq={o.masquerade}: "
        + " | ".join(s.rule for s in o.path) for o in result.outcomes)
