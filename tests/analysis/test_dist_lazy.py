"""``dist`` generates a node's rules when a view first traces through it: the same output, the same random draws.

A node set normally generates, compiles and wraps a node's rules in a tracer
the first time an entry is traced there (:class:`~kubeproxy_sim.analysis.nodes.NodeSet`).
An eager one has done so for every node before the analysis starts, here with
each node writing every service port's rules itself (no ``proxier.sync.PortMemo``
shared by the nodes, as the lazy one shares). Both are
run through ``dist`` on the built-in scenarios, every service port, with
sampled keep-alive connections and affinity clients on several seeds: the text
and ``-o json`` must be byte-identical (the sampled counts are the seeded
generator's draws, so equal counts mean the draws came in the same order), and
a run limited to one node generates that node's rules alone.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.analysis import nodes as nodes_module
from kubeproxy_sim.analysis.nodes import NodeSet
from kubeproxy_sim.cli.main import main
from tests.simulator.test_lazy_nodes import SCENARIOS

SAMPLING = ("--connections", "30", "--requests-per-connection", "3", "--clients", "40")


def dist(capsys, *argv: str) -> tuple[str, str]:
    """The text and the -o json of one ``dist`` run."""
    outputs = []
    for output in ("text", "json"):
        code = main(["dist", *argv, "-o", output, "--color", "never"])
        outputs.append(capsys.readouterr().out)
        assert code == 0
    return outputs[0], outputs[1]


def made(monkeypatch, eager: bool) -> list[NodeSet]:
    """Every node set ``dist`` makes from now on (each node's tracer made at once when ``eager``, and its rules
    written with no port's shared by another node)."""
    sets: list[NodeSet] = []
    real = nodes_module.node_set

    def node_set(*args, **kwargs) -> NodeSet:
        nodes = real(*args, **kwargs)
        if eager:
            nodes.written = None
            for name in nodes.order:
                nodes.tracer(name)
        sets.append(nodes)
        return nodes
    monkeypatch.setattr(nodes_module, "node_set", node_set)
    return sets


@pytest.mark.parametrize("seed", ["1", "7", "2024"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_lazy_node_rules_give_the_eager_output_and_draws(capsys, monkeypatch, name: str, seed: str) -> None:
    argv = ("--scenario", name, *SAMPLING, "--seed", seed)
    with monkeypatch.context() as patch:
        eager_sets = made(patch, eager=True)
        eager = dist(capsys, *argv)
    assert set(eager_sets[0]._rulesets) == set(eager_sets[0].order)
    assert dist(capsys, *argv) == eager
    assert '"sampled_connections"' in eager[1]  # the sampled runs (the seeded draws) are part of what is compared


def test_a_run_through_one_node_generates_that_node_s_rules_alone(capsys, monkeypatch) -> None:
    sets = made(monkeypatch, eager=False)
    dist(capsys, "--scenario", "topology-hints", "--node", "node2")
    assert sets and all(set(s._rulesets) <= {"node2"} for s in sets)
    assert set(sets[0]._rulesets) == {"node2"}
