"""A ruleset compiled once into the form the evaluator walks quickly.

Every rule becomes a tuple of small check functions (header checks first, as
the kernel tests the ``ipt_entry`` header before any match module, then the
match modules in written order), an optional probability split (statistic),
the reasons it is uncertain, and a target kind. Jumps are resolved to chain
objects, so no name is looked up while tracing.

Long chains (KUBE-SERVICES, KUBE-NODEPORTS: one or two rules per service
port) are indexed: rules that test one destination address (or one
protocol/port) are bucketed by it, and a lookup returns that bucket merged in
order with the rules the index cannot place. A trace then costs about the same
at 100 or 10,000 services.

A check takes the evaluator's branch state ``b`` and returns True, False or a
:class:`Doubt` (the answer depends on something the model does not know; the
doubt says which way it was assumed and why). A rule that cannot be compiled
at all stays in its chain as a rule that never matches and says why, so a walk
reports it exactly when it passes it.

Compiling is most of the cost of tracing one packet through a large dump
(about 25 µs a rule), so a ruleset can also be compiled lazily: each chain
when a walk first enters it (``compile_ruleset(..., lazy=True)``). Many
packets through one ruleset are faster compiled up front.

This module is the entry point: it re-exports what the evaluator, the tracer
and the callers outside netfilter use. The work is done in (each imports only
those above it):

- ``compile_types``: checks, :class:`Doubt`, :func:`reading`, :class:`Kind`, :class:`NatRange`, :class:`PathStep`;
- ``compile_chains``: :class:`CompiledRule`, :class:`PseudoRule` (a policy, a routing decision),
  :class:`CompiledChain` and its index, :class:`LazyChain`, :class:`CompiledRuleset`, :func:`chain_reads`;
- ``compile_match_packet``: the header options and the match modules that read header fields;
- ``compile_match_state``: the match modules that read conntrack, marks, lists, the node or chance;
- ``compile_targets``: a target's kind and its NAT range or mark operation;
- ``compile_rules``: one rule, its match modules dispatched and its index key and reads;
- ``compile_tables``: :func:`compile_ruleset`, each table up front or lazily, with a shared :data:`RuleMemo`.
"""

from __future__ import annotations

from kubeproxy_sim.netfilter.compile_chains import (
    INDEX_MIN_RULES,
    CompiledChain,
    CompiledRule,
    CompiledRuleset,
    LazyChain,
    PseudoRule,
    chain_reads,
)
from kubeproxy_sim.netfilter.compile_tables import Renumber, RuleMemo, compile_ruleset
from kubeproxy_sim.netfilter.compile_targets import parse_nat_range
from kubeproxy_sim.netfilter.compile_types import SOURCE_FIELDS, TERMINAL_NAT, Doubt, Kind, PathStep

__all__ = [
    "INDEX_MIN_RULES",
    "SOURCE_FIELDS",
    "TERMINAL_NAT",
    "CompiledChain",
    "CompiledRule",
    "CompiledRuleset",
    "Doubt",
    "Kind",
    "LazyChain",
    "PathStep",
    "PseudoRule",
    "Renumber",
    "RuleMemo",
    "chain_reads",
    "compile_ruleset",
    "parse_nat_range",
]
