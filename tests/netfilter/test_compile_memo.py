"""Rulesets compiled with a shared memo trace exactly as rulesets compiled alone.

Questions about a cluster trace every node's rules, and the nodes hold mostly the same rule
texts: ``compile_ruleset(..., memo=...)`` compiles each (table, text) once and gives every
later ruleset a copy with its own rule, jump and path step. These tests compile every real
dump, and every node of the multi-node scenarios, through one memo and compare traces with
rulesets compiled without it.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset, parse_ruleset_file
from kubeproxy_sim.netfilter.compile import Kind, RuleMemo, compile_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.budget import budget
from tests.netfilter.test_trace_memo import DUMPS, NODE_ADDRESSES, PORT, QUAD, packets

SHARED: RuleMemo = {}


@cache
def dump_tracers(name: str, shared: bool) -> tuple[Tracer, list[str], list[int]]:
    """A tracer over the dump compiled alone or through the memo every dump shares (lazily, as NodeSet does)."""
    text = (DUMPS / name).read_text()
    node = NodeContext.of(NODE_ADDRESSES[name], interfaces={"eth0": NODE_ADDRESSES[name] or ["10.0.2.15"]},
                          routes=[("10.0.0.0/8", "cni0"), ("0.0.0.0/0", "eth0")])
    compiled = compile_ruleset(parse_ruleset_file(str(DUMPS / name)), lazy=True, memo=SHARED if shared else None)
    addresses = sorted(set(QUAD.findall(text)) | set(NODE_ADDRESSES[name]) | {"127.0.0.1", "203.0.113.9"})
    ports = sorted({int(p) for p in PORT.findall(text) if int(p) <= 65535} | {53, 80, 443})
    return Tracer(compiled, node), addresses, ports


@pytest.mark.parametrize("name", sorted(NODE_ADDRESSES))
@settings(max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_dumps_through_a_shared_memo_trace_as_alone(name: str, data: st.DataObject) -> None:
    for other in sorted(NODE_ADDRESSES):  # every dump's rules in the memo, in some order, before and between
        dump_tracers(other, True)
    alone, addresses, ports = dump_tracers(name, False)
    shared, _, _ = dump_tracers(name, True)
    packet = data.draw(packets(addresses, ports))
    assert shared.trace(packet).to_json() == alone.trace(packet).to_json()


def test_every_node_of_a_cluster_through_one_memo_traces_as_alone() -> None:
    """The nodes of a generated cluster share most rule texts; each traces as if compiled alone."""
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.simulator.bench import scale_cluster

    cluster = scale_cluster(20, 4)
    nodes = node_set(cluster, ProxyConfig(cluster_cidrs=("10.0.0.0/8",)))
    assert len(nodes.order) > 1
    vips = [ip for s in cluster.services for ip in s.cluster_ips]
    endpoints = [e.addresses[0] for es in cluster.endpoint_slices for e in es.endpoints]
    for node in nodes.order:
        alone = Tracer(compile_ruleset(nodes.ruleset(node)), nodes.context(node))
        for vip in vips:
            for src in ("10.250.0.9", endpoints[0], "203.0.113.9", nodes.primary(node)):
                packet = Packet.of("tcp", src, vip, 80)
                assert nodes.tracer(node).trace(packet) == alone.trace(packet)
    assert nodes._memo  # the nodes' chains went through the shared memo


CHAIN_HERE = """\
*filter
:INPUT ACCEPT [0:0]
:FOO - [0:0]
-A INPUT -p tcp -j FOO
-A FOO -j DROP
COMMIT
"""
NO_CHAIN_THERE = """\
*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp -j FOO
COMMIT
"""


@pytest.mark.parametrize("order", [(CHAIN_HERE, NO_CHAIN_THERE), (NO_CHAIN_THERE, CHAIN_HERE)])
def test_a_target_that_is_a_chain_in_one_ruleset_only_is_compiled_for_each(order: tuple[str, str]) -> None:
    memo: RuleMemo = {}
    # (read unchecked: iptables-restore refuses NO_CHAIN_THERE's jump to no chain, and so does a validating parse)
    _, second = (compile_ruleset(parse_ruleset(text, validate=False), memo=memo) for text in order)  # the first
    # fills the memo
    alone = compile_ruleset(parse_ruleset(order[1], validate=False))
    rule, want = second.chain("filter", "INPUT").rules[0], alone.chain("filter", "INPUT").rules[0]
    assert (rule.kind, rule.jump_name, rule.doubts) == (want.kind, want.jump_name, want.doubts)
    assert (rule.kind is Kind.JUMP) == (order[1] is CHAIN_HERE)
    packet = Packet.of("tcp", "10.0.0.1", "10.0.0.2", 80)
    assert Tracer(second, NodeContext.of()).trace(packet) == Tracer(alone, NodeContext.of()).trace(packet)


def test_a_reused_rule_has_its_own_rule_jump_and_step() -> None:
    memo: RuleMemo = {}
    first = compile_ruleset(parse_ruleset(CHAIN_HERE), memo=memo)
    second = compile_ruleset(parse_ruleset("\n" + CHAIN_HERE), memo=memo)  # the same rules, a line further down
    a, b = first.chain("filter", "INPUT").rules[0], second.chain("filter", "INPUT").rules[0]
    assert a.checks is b.checks  # shared: compiled once
    assert a.rule is not b.rule and (a.line, b.line) == (4, 5) and (a.step.line, b.step.line) == (4, 5)
    assert a.jump is first.chain("filter", "FOO") and b.jump is second.chain("filter", "FOO")
