"""One packet through one node's hooks, splits drawn by the node's Sampler (a single branch).

This is the evaluator's hook order (see :mod:`kubeproxy_sim.netfilter.evaluate`)
with two things the simulator decides itself: whether the nat table is
consulted (only for a connection's first packet, which conntrack knows, not
the packet's state) and the routing (the simulator's route table, which also
names the next hop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubeproxy_sim.netfilter.compile import CompiledRule, Kind
from kubeproxy_sim.netfilter.evaluate import ACCEPT, Branch, Engine, walk_chain
from kubeproxy_sim.netfilter.packet import Packet


@dataclass(frozen=True, slots=True)
class NodeVerdict:
    """How the packet left the node's hooks: ``local`` when it was delivered to the node itself."""

    verdict: str
    branch: Branch
    local: bool


def walk_node(engine: Engine, packet: Packet, *, local_origin: bool, nat: bool,
              out_iface: Callable[[int], str]) -> NodeVerdict:
    """Run the packet through the hooks it meets; ``out_iface(dst)`` is the route's interface."""
    env = engine.env
    pipelines = engine.pipelines
    sampler = engine.sampler
    b = Branch(packet, env)
    local = False
    if local_origin:
        b.in_iface = ""
    steps = pipelines["FROM_LOCAL" if local_origin else "PRE_REMOTE"]
    i = 0
    while i < len(steps):
        step = steps[i]
        i += 1
        if step.__class__ is str:
            if step == "ROUTE":
                local = env.is_local(b.dst)
                b.out_iface = "lo" if local else out_iface(b.dst)
                steps, i = pipelines["TO_INPUT" if local else "TO_FORWARD"], 0
            elif step == "ROUTE_OUT":
                b.out_iface = "lo" if env.is_local(b.dst) else out_iface(b.dst)
            elif env.is_local(b.dst):  # LOOPBACK: back in on lo
                local = True
                b.in_iface, b.out_iface = "lo", None
                steps, i = pipelines["LOOPBACK_IN"], 0
            continue
        if step.__class__ is tuple:
            if not nat:
                continue
            step = step[1]
        # a Pipeline step (typed object) that is no routing name is a CompiledChain, nat ones unwrapped above
        verdict = walk_chain(step, b, sampler)[0][1]  # type: ignore[arg-type]
        if verdict != ACCEPT:
            return NodeVerdict(verdict, b, local)
    if local_origin and not local and engine.env.is_local(b.dst):
        local = True
    return NodeVerdict(ACCEPT, b, local)


def deciding_rule(branch: Branch) -> CompiledRule | None:
    """The rule that dropped or rejected the packet (a built-in chain's DROP policy is one: ``policy_rule``); None
    when no rule did (the verdict came from a rule the path does not end with, or from no rule at all)."""
    rule: CompiledRule | None = branch.path[-1] if branch.path else None
    return rule if rule is not None and rule.kind in (Kind.DROP, Kind.REJECT) else None


def verdict_rule(branch: Branch, verdict: str) -> str:
    """The rule that dropped or rejected the packet (or the chain policy that did), as text."""
    decided = deciding_rule(branch)
    if decided is not None:
        return rule_text(decided.table, decided.line, decided.text())
    rule = branch.path[-1] if branch.path else None
    if rule is not None:
        return f"{verdict} by the policy of a {rule.table} built-in chain (last rule matched: {rule.text()})"
    return f"{verdict} by a built-in chain's policy"


def rule_text(table: str, line: int | None, text: str) -> str:
    """How a failure's detail names the rule that dropped or rejected (send finds the tracer's step behind a
    failure row by the failure's facts, :class:`~kubeproxy_sim.simulator.network.Decided`, not by these words)."""
    return f"{table} table{f' (line {line})' if line else ''}: {text}"
