"""A path step's rule found again, by line else by text: one lookup for the ruleset and for the drawn graph."""

from __future__ import annotations

from kubeproxy_sim.graph import build_graph
from kubeproxy_sim.graph.steps import find_step, path_edges, path_selection, step_edge, step_rule
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.trace import PathStep

# Lines 4-6 hold X's rules; lines 4 and 6 read alike.
DUMP = """*filter
:FORWARD ACCEPT [0:0]
:X - [0:0]
-A X -s 10.0.0.1/32 -j DROP
-A X -j ACCEPT
-A X -s 10.0.0.1/32 -j DROP
-A FORWARD -j X
COMMIT
"""
TWIN = "-A X -s 10.0.0.1/32 -j DROP"


def test_the_line_decides_between_rules_that_read_alike() -> None:
    ruleset = parse_ruleset(DUMP)
    graph = build_graph(ruleset, tables=("filter",))
    step = PathStep("filter", "X", 6, TWIN)
    found = step_rule(ruleset, step)
    assert found is not None and found[0] == 3 and found[1].line == 6
    edge = step_edge(graph, step)
    assert edge is not None and (edge.position, edge.line) == (3, 6)


def test_the_text_finds_a_rule_without_a_line_or_with_a_line_not_there() -> None:
    ruleset = parse_ruleset(DUMP)
    graph = build_graph(ruleset, tables=("filter",))
    for line in (None, 0, 99, 7):  # 7 is FORWARD's rule: a line of another chain is not this step's
        step = PathStep("filter", "X", line, TWIN)
        found, edge = step_rule(ruleset, step), step_edge(graph, step)
        assert found is not None and found[0] == 1 and edge is not None and edge.position == 1
    # a tuple step with a bare spec is read as a rule of its chain; a line alone finds its rule
    assert [e.position for e in path_edges(graph, [("filter", "X", None, "-j ACCEPT"), ("filter", "X", 5)])] == [2, 2]


def test_a_step_no_rule_matches_finds_nothing() -> None:
    ruleset = parse_ruleset(DUMP)
    graph = build_graph(ruleset, tables=("filter",))
    policy = PathStep("filter", "FORWARD", 2, ":FORWARD ACCEPT [0:0]")
    missing = PathStep("filter", "NO-SUCH-CHAIN", 4, TWIN)
    for step in (policy, missing, ("filter", "X", 99)):
        assert step_rule(ruleset, step) is None and step_edge(graph, step) is None
    assert find_step(("t", "X", None, ""), ["-A X"], len, str) is None  # no line, no text: nothing


def test_path_edges_and_selection_follow_the_path() -> None:
    ruleset = parse_ruleset(DUMP)
    graph = build_graph(ruleset, tables=("filter",))
    path = [PathStep("filter", "FORWARD", 7, "-A FORWARD -j X"), PathStep("filter", "X", 5, "-A X -j ACCEPT"),
            PathStep("filter", "FORWARD", 2, ":FORWARD ACCEPT [0:0]")]
    assert [(e.chain, e.line) for e in path_edges(graph, path)] == [("FORWARD", 7), ("X", 5)]
    selection, tables = path_selection(ruleset, [path])
    assert selection.positions == {("filter", "FORWARD", 1), ("filter", "X", 2)} and tables == ("filter",)
