"""A traced path's steps found again: among one chain's rules of a ruleset, or among a graph's edges.

A step (trace's ``PathStep``, or a ``(table, chain, line[, rule])`` tuple) names its rule by the line it was
read from and by its text. The line decides when there is one (two rules of a chain may read alike); the text
finds a rule not read from a dump (no line) or a line the candidates do not hold. Every lookup of a step goes
through :func:`find_step`, so a ruleset's rule and the graph's edge of one step are the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from kubeproxy_sim.graph.model import Edge, Graph
from kubeproxy_sim.graph.scope import Selection

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.model import Rule, Ruleset

T = TypeVar("T")


def step_fields(step: Any) -> tuple[str, str, int | None, str | None]:
    """(table, chain, line, rule text) of a path step: a tuple or an object such as trace's PathStep."""
    if isinstance(step, tuple):
        table, chain, line = step[:3]
        rule = step[3] if len(step) > 3 else None
        return table, chain, line, rule
    return step.table, step.chain, getattr(step, "line", None), getattr(step, "rule", None)


def find_step(step: Any, candidates: Sequence[T], line_of: Callable[[T], int],
              text_of: Callable[[T], str]) -> int | None:
    """The index in ``candidates`` (the rules, or drawn edges, of the step's chain) of the rule the step
    matched: by its line when it has one, else by its ``-A CHAIN spec`` text (a bare spec is read as one
    of the step's chain). None: no candidate is that rule."""
    _, chain, line, rule = step_fields(step)
    if line:
        found = next((i for i, c in enumerate(candidates) if line_of(c) == line), None)
        if found is not None:
            return found
    if rule:
        text = rule if rule.startswith("-A ") else f"-A {chain} {rule}"
        return next((i for i, c in enumerate(candidates) if text_of(c) == text), None)
    return None


def _rule_line(rule: Rule) -> int:
    return rule.line


def _rule_text(rule: Rule) -> str:
    return rule.text()


def step_rule(ruleset: Ruleset, step: Any) -> tuple[int, Rule] | None:
    """The rule a path step matched in ``ruleset`` and its 1-based position in its chain (None: not there,
    such as a chain's policy or a routing decision)."""
    table_name, chain_name, _, _ = step_fields(step)
    table = ruleset.table(table_name)
    chain = table.chain(chain_name) if table is not None else None
    if chain is None:
        return None
    rules = chain.rules
    found = find_step(step, rules, _rule_line, _rule_text)
    return None if found is None else (found + 1, rules[found])


def _edge_line(edge: Edge) -> int:
    return edge.line


def _edge_text(edge: Edge) -> str:
    return edge.rule


def step_edge(graph: Graph, step: Any) -> Edge | None:
    """The drawn edge of the rule a path step matched (None: outside the drawing, or a rule without target)."""
    table, chain, _, _ = step_fields(step)
    candidates = [e for e in graph.edges if e.table == table and e.chain == chain]
    found = find_step(step, candidates, _edge_line, _edge_text)
    return None if found is None else candidates[found]


def path_edges(graph: Graph, path: Iterable[Any]) -> list[Edge]:
    """The drawn edges of a path's rules, in path order (rules outside the drawing are left out)."""
    return [e for e in (step_edge(graph, step) for step in path) if e is not None]


def path_selection(ruleset: Ruleset, paths: Iterable[Iterable[Any]]) -> tuple[Selection, tuple[str, ...]]:
    """The rules the paths matched as a scope, and the tables they cross in the order the paths enter them."""
    positions: set[tuple[str, str, int]] = set()
    tables: dict[str, None] = {}
    for path in paths:
        for step in path:
            found = step_rule(ruleset, step)
            if found is not None:
                table, chain, _, _ = step_fields(step)
                positions.add((table, chain, found[0]))
                tables.setdefault(table)
    return Selection(positions=frozenset(positions)), tuple(tables)
