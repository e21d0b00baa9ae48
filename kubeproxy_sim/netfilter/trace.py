"""Where does this packet go, and why: every outcome with its exact probability and its path.

``trace(ruleset, packet, node)`` follows every branch of every statistic
split (see :mod:`kubeproxy_sim.netfilter.evaluate`) and merges the branches
that end the same way: same verdict, same destination, same masquerading.
Probabilities are exact fractions that sum to exactly 1. Everything the answer
depends on but the model cannot know (an unmodelled match, an anonymised
address, an unknown interface) is listed in ``uncertain`` with its rule.

For many packets through one ruleset, build a :class:`Tracer` once: it
compiles the rules (and indexes the long chains) a single time.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kubeproxy_sim.netfilter.compile import CompiledRule, CompiledRuleset, compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, Finished, NodeContext
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Ruleset
from kubeproxy_sim.netfilter.packet import Packet, split_endpoint

__all__ = ["NodeContext", "Outcome", "PathStep", "TraceResult", "Tracer", "Uncertainty", "render_text", "trace"]


@dataclass(frozen=True, slots=True)
class PathStep:
    """A rule the packet matched; ``line`` is its line in the dump (None for a rule not read from one)."""

    table: str
    chain: str
    line: int | None
    rule: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """One way the packet ends: DNAT (to ``destination``), ACCEPT, DROP or REJECT."""

    verdict: str
    destination: str | None
    probability_exact: Fraction
    masquerade: bool
    path: tuple[PathStep, ...]

    @property
    def probability(self) -> float:
        return float(self.probability_exact)

    def address_after(self, dst: str, dport: int) -> tuple[str, int]:
        """Where the packet (to ``dst:dport``) goes next: the DNAT destination, else unchanged."""
        if self.verdict == "DNAT" and self.destination:
            return split_endpoint(self.destination)
        return dst, dport


@dataclass(frozen=True, slots=True)
class Uncertainty:
    line: int | None
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class TraceResult:
    packet: Packet
    origin: str  # "local" (generated on the node) or "remote"
    outcomes: tuple[Outcome, ...]
    uncertain: tuple[Uncertainty, ...]

    def to_json(self) -> dict[str, object]:
        """The public ``-o json`` form."""
        p = self.packet
        return {
            "packet": {"proto": p.proto, "src": p.src_text, "dst": p.dst_text, "sport": p.sport, "dport": p.dport},
            "origin": self.origin,
            "outcomes": [
                {
                    "verdict": o.verdict,
                    "destination": o.destination,
                    "probability": o.probability,
                    "probability_exact": str(o.probability_exact),
                    "masquerade": o.masquerade,
                    "path": [{"table": s.table, "chain": s.chain, "line": s.line, "rule": s.rule} for s in o.path],
                }
                for o in self.outcomes
            ],
            "uncertain": [{"line": u.line, "rule": u.rule, "reason": u.reason} for u in self.uncertain],
        }


def _step(rule: CompiledRule) -> PathStep:
    """The path step of a rule, made once per compiled rule (a trace reuses them)."""
    step = rule.step
    if step is None:
        step = rule.step = PathStep(rule.table, rule.rule.chain, rule.line or None, rule.text())
    return step  # type: ignore[return-value]


class Tracer:
    """A ruleset compiled once, for one node; :meth:`trace` answers for one packet."""

    def __init__(self, rules: Ruleset | CompiledRuleset, node: NodeContext) -> None:
        self.compiled = rules if isinstance(rules, CompiledRuleset) else compile_ruleset(rules)
        self.engine = Engine(self.compiled, node)
        self._problems = tuple(Uncertainty(r.line or None, r.text(), f"the rule cannot be evaluated: {why}; "
                                           "it is skipped") for r, why in self.compiled.problems)

    def trace(self, packet: Packet) -> TraceResult:
        finished = self.engine.run(packet)
        origin = "local" if self.engine.is_local_origin(packet) else "remote"
        return TraceResult(packet, origin, _merge(finished), self._uncertain(finished))

    def _uncertain(self, finished: list[Finished]) -> tuple[Uncertainty, ...]:
        seen: dict[tuple[int, str], Uncertainty] = {}
        for branch in finished:
            for rule, reason in branch.doubts:
                key = (id(rule), reason)
                if key not in seen:
                    seen[key] = Uncertainty(rule.line or None, rule.text(), reason)
        return (*self._problems, *seen.values())


def _merge(finished: list[Finished]) -> tuple[Outcome, ...]:
    """One outcome per (verdict, destination, masquerade); the path is the first branch's.

    Shares are summed as plain integer fractions and normalised once per outcome: a
    Fraction per branch (gcd and all) cost more than the rest of the merge.
    """
    totals: dict[tuple[str, str | None, bool], list] = {}
    for branch in finished:
        key = (branch.verdict, branch.destination, branch.masquerade)
        total = totals.get(key)
        if total is None:
            totals[key] = [branch.num, branch.den, branch.path]
        elif total[1] == branch.den:
            total[0] += branch.num
        else:
            total[0] = total[0] * branch.den + branch.num * total[1]
            total[1] *= branch.den
    return tuple(
        Outcome(verdict, dest, Fraction(num, den), masq, tuple(map(_step, path)))
        for (verdict, dest, masq), (num, den, path) in totals.items()
    )


def trace(rules: Ruleset | CompiledRuleset, packet: Packet, node: NodeContext) -> TraceResult:
    """Trace one packet (compiles the rules; use :class:`Tracer` for many packets)."""
    return Tracer(rules, node).trace(packet)


# --------------------------------------------------------------------------- text for a person


def _percent(share: Fraction) -> str:
    text = f"{float(share) * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}% ({share})"


def _tree(path: tuple[PathStep, ...]) -> list[str]:
    """The path as an indented tree: a chain's rules under the rule that jumped to it."""
    lines: list[str] = []
    stack: list[tuple[str, str]] = []
    for step in path:
        here = (step.table, step.chain)
        if here in stack:
            del stack[stack.index(here) + 1:]
        else:
            if step.chain in BUILTIN_CHAINS.get(step.table, ()):
                stack = []
            stack.append(here)
            label = f"{step.table} {step.chain}" if len(stack) == 1 else step.chain
            lines.append("  " * len(stack) + label)
        where = f"line {step.line}" if step.line else "added"
        lines.append("  " * (len(stack) + 1) + f"{where}: {step.rule}")
    return lines


def render_text(result: TraceResult) -> str:
    """A person's view: each outcome with its probability and the chains it went through."""
    p = result.packet
    port = f":{p.dport}" if p.dport is not None else ""
    origin = "generated on the node" if result.origin == "local" else "from elsewhere"
    out = [f"{p.proto} {p.src_text} -> {p.dst_text}{port} ({origin})", ""]
    for o in result.outcomes:
        head = f"DNAT to {o.destination}" if o.verdict == "DNAT" else o.verdict
        if o.masquerade:
            head += ", masqueraded"
        out.append(f"{head}: {_percent(o.probability_exact)}")
        out.extend(_tree(o.path))
        out.append("")
    if result.uncertain:
        out.append("Uncertain (the answer depends on these):")
        for u in result.uncertain:
            where = f"line {u.line}" if u.line else "rule"
            out.append(f"  {where}: {u.rule}")
            out.append(f"    {u.reason}")
    return "\n".join(out).rstrip() + "\n"
