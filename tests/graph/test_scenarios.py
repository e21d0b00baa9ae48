"""Every built-in scenario draws: a consistent graph for the whole node and for each of its service ports."""

from __future__ import annotations

import contextlib
import io

import pytest

from kubeproxy_sim.cli.options import REPO_RULESETS
from kubeproxy_sim.graph import build_graph, collapse_endpoints, scope_graph, select_service, to_dot, to_mermaid
from kubeproxy_sim.graph.model import Graph
from kubeproxy_sim.graph.scope import known_services, parse_service_ref

from .conftest import node_rules

SCENARIOS = sorted(p.name for p in REPO_RULESETS.iterdir() if (p / "scenario.yaml").is_file())


def assert_consistent(graph: Graph) -> None:
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert {e.source for e in graph.edges} | {e.target for e in graph.edges} <= set(ids)
    for node in graph.nodes:
        if node.kind.is_verdict:
            assert graph.edges_to(node.id), node.id  # a verdict is always some rule's
        if not node.kind.is_chain:
            assert not graph.edges_from(node.id), node.id  # verdicts and summaries end a path


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_draws(scenario: str) -> None:
    with contextlib.redirect_stderr(io.StringIO()):
        ruleset = node_rules(scenario)
    whole = build_graph(ruleset)
    assert_consistent(whole)
    folded = collapse_endpoints(whole, 8)
    assert_consistent(folded)
    assert to_dot(folded).rstrip().endswith("}") and to_mermaid(folded).startswith("flowchart LR")
    whole_edges = {(e.table, e.chain, e.position) for e in whole.edges}
    for service in known_services(ruleset):
        selection = select_service(ruleset, parse_service_ref(service))
        scoped = scope_graph(whole, selection)
        assert build_graph(ruleset, scope=selection) == scoped  # built for the scope: the same graph, cheaper
        assert_consistent(scoped)
        assert scoped.edges and {(e.table, e.chain, e.position) for e in scoped.edges} <= whole_edges
        # every path starts at a built-in hook
        assert any(n.kind.value == "hook" for n in scoped.nodes), service
