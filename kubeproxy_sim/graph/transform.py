"""Graph -> graph: fold large endpoint fans into a summary node, mark the rules a dump lacks, lay a traced path
over the picture."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from kubeproxy_sim.graph.labels import percent
from kubeproxy_sim.graph.model import Edge, Graph, Node, NodeKind
from kubeproxy_sim.graph.steps import path_edges

DEFAULT_MAX_ENDPOINTS = 8


def exact_sum(values: Sequence[Fraction]) -> Fraction:
    """The exact sum, fast when one denominator is a multiple of all the others.

    That is the usual case for a split's shares (powers of ten from the
    probabilities' decimals), and it avoids a gcd per addition on numbers of
    thousands of digits for a service with a thousand endpoints.
    """
    largest = max(v.denominator for v in values)
    if all(largest % v.denominator == 0 for v in values):
        return Fraction(sum(v.numerator * (largest // v.denominator) for v in values), largest)
    return sum(values, Fraction(0))


def _endpoint_targets(graph: Graph, edges: Sequence[Edge], kinds: dict[str, NodeKind]) -> list[str]:
    return list(dict.fromkeys(e.target for e in edges if kinds.get(e.target) is NodeKind.ENDPOINT))


def folded_share(edges: Sequence[Edge], folded: Sequence[Edge]) -> Fraction | None:
    """The combined share of the folded edges of one chain.

    When they are the end of a split (kube-proxy's order: the first endpoints
    kept, the rest folded), that is simply what reached the first of them;
    otherwise their shares are added up.
    """
    split = [e for e in edges if e.share is not None]
    tail = [e for e in folded if e.share is not None]
    if not tail:
        return None
    last = split[-1]
    if split[-len(tail):] == tail and last.share == last.reached and tail[0].reached is not None:
        return tail[0].reached
    return exact_sum([e.share for e in tail])  # type: ignore[misc]


STICKY_CHECKS = frozenset({"--rcheck", "--update"})  # the recent match's options that keep a client on its endpoint


def _summary(source: str, edges: list[Edge], folded: list[Edge], count: int) -> tuple[Node, Edge]:
    """One node standing for ``count`` endpoints, reached with their combined share.

    Under ClientIP affinity the folded endpoints' sticky checks jump there too, so
    the one edge left says it stands for them as well."""
    first = folded[0]
    node_id = f"{source}:+{count} endpoints"
    share = folded_share(edges, folded)
    noun, checks = ("endpoint", "its sticky check") if count == 1 else ("endpoints", "their sticky checks")
    sticky = any(STICKY_CHECKS & set(e.rule.split()) for e in folded)
    label = (f"{count} {noun}" + (f", {percent(share)}" if share is not None else "")
             + (f", and {checks}" if sticky else ""))
    names = sorted({e.target.split(":", 1)[1] for e in folded})
    tooltip = "folded: " + ", ".join(names[:50]) + (" ..." if len(names) > 50 else "")
    node = Node(node_id, NodeKind.SUMMARY, f"+{count} more {noun}", first.table, first.chain, tooltip)
    edge = Edge(source, node_id, label, first.table, first.chain, first.position, first.line, "", share)
    return node, edge


def collapse_endpoints(graph: Graph, max_endpoints: int = DEFAULT_MAX_ENDPOINTS) -> Graph:
    """Keep the first ``max_endpoints`` endpoint chains each chain jumps to; fold the rest into one node.

    An endpoint chain (and its verdicts) disappears only when no kept edge
    still leads to it: SVC and SVL chains of one service share endpoints.
    ``max_endpoints`` < 1 keeps everything.
    """
    if max_endpoints < 1:
        return graph
    kinds = {n.id: n.kind for n in graph.nodes}
    by_source: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        by_source.setdefault(edge.source, []).append(edge)
    drop_edges: set[int] = set()
    summaries: dict[str, tuple[Node, Edge]] = {}
    for source, edges in by_source.items():
        targets = _endpoint_targets(graph, edges, kinds)
        if len(targets) <= max_endpoints:
            continue
        folded_targets = set(targets[max_endpoints:])
        folded = [e for e in edges if e.target in folded_targets]
        drop_edges |= {id(e) for e in folded}
        summaries[source] = _summary(source, edges, folded, len(folded_targets))
    if not summaries:
        return graph
    return _rebuild(graph, drop_edges, summaries)


def _rebuild(graph: Graph, drop_edges: set[int], summaries: dict[str, tuple[Node, Edge]]) -> Graph:
    """Put each summary where its chain's first folded edge was, then remove what nothing leads to any more."""
    edges: list[Edge] = []
    placed: set[str] = set()
    folded_targets: set[str] = set()
    for edge in graph.edges:
        if id(edge) not in drop_edges:
            edges.append(edge)
            continue
        folded_targets.add(edge.target)
        if edge.source not in placed:
            placed.add(edge.source)
            edges.append(summaries[edge.source][1])
    reached = {e.target for e in edges}
    orphans = folded_targets - reached
    orphan_chains = {o.split(":", 1)[1] for o in orphans}
    edges = [e for e in edges if e.source not in orphans]
    reached = {e.target for e in edges} | {e.source for e in edges}
    nodes = [n for n in graph.nodes if n.id not in orphans and not (
        n.kind.is_verdict and n.chain in orphan_chains and n.id not in reached)]
    nodes += [node for node, _ in summaries.values()]
    return Graph(tuple(nodes), tuple(edges), graph.title)


def mark_added(graph: Graph) -> Graph:
    """The graph of a dump with the rules the dump does not hold marked ``added``.

    Every rule read from a file has its line; the jumps a node adds to a restore input's built-in hooks
    (``as_node_holds_it``) have none.
    """
    if not any(e.line == 0 and e.rule for e in graph.edges):
        return graph
    edges = tuple(replace(e, added=True) if e.line == 0 and e.rule else e for e in graph.edges)
    return replace(graph, edges=edges)


def highlight(graph: Graph, path: Iterable[Any]) -> Graph:
    """The graph with the edges of ``path`` and the nodes they join marked.

    ``path`` holds ``(table, chain, line)`` steps (line: the rule's line in the
    dump) or objects with those attributes and, for generated rules that have
    no line, ``rule`` (the ``-A CHAIN spec`` text). Steps whose rule is not in
    the graph (outside a ``--service`` scope, a rule without target) are skipped.
    """
    marked = path_edges(graph, path)
    edge_ids = {id(e) for e in marked}
    node_ids = {e.source for e in marked} | {e.target for e in marked}
    edges = tuple(replace(e, highlighted=True) if id(e) in edge_ids else e for e in graph.edges)
    nodes = tuple(replace(n, highlighted=True) if n.id in node_ids else n for n in graph.nodes)
    return Graph(nodes, edges, graph.title)
