"""The proxier's own rules hold no circle of jumps, which is why a lazy compile of them skips the table's check.

``compile_ruleset(..., generated=True)`` (trace, dist, send from objects; graph too) does not read every chain for a
circle before the walk (a second at 10,000 services): these tests are what makes that safe. kube-proxy's
chains jump only downward (built-in -> fixed chains -> KUBE-FW -> KUBE-EXT -> KUBE-SVC/SVL -> KUBE-SEP ->
KUBE-MARK-MASQ ...); a generator change that broke that would fail here, not hang a walk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.cli.options import load_node_rules, scenario_args
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile_chains import refuse_table_circles
from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.full import node_tables
from tests.budget import budget
from tests.proxier.test_invariants import CONFIGS, services_and_slices
from tests.strategies import ClusterCase, clusters

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in (ROOT / "rulesets").iterdir() if (p / "scenario.yaml").is_file())


def check_acyclic(ruleset: Ruleset) -> None:
    """Every table passes the whole-table check a lazy compile of a dump makes."""
    assert ruleset.tables
    for table in ruleset.tables:
        refuse_table_circles(table)


@settings(max_examples=budget(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_rules_generated_for_every_service_kind_hold_no_circle(case: ClusterCase) -> None:
    """ClusterIP, NodePort and LoadBalancer services, both families, every traffic policy and affinity."""
    result = generate(case.cluster, case.config)
    check_acyclic(node_tables(result.ruleset, result.jumps))


@settings(max_examples=budget(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services_and_slices(), CONFIGS)
def test_rules_generated_with_firewalls_and_external_ips_hold_no_circle(cluster, config) -> None:
    """Source ranges (KUBE-FW), external IPs, masquerade-all, localhost NodePorts, NodePort addresses."""
    result = generate(cluster, config)
    check_acyclic(node_tables(result.ruleset, result.jumps))


@pytest.mark.parametrize("directory", SCENARIOS, ids=lambda p: p.name)
def test_every_scenarios_rules_hold_no_circle(directory: Path) -> None:
    args = build_parser().parse_args(["rules", "-f", str(directory / "objects.yaml"), *scenario_args(directory)])
    check_acyclic(load_node_rules(args).ruleset)


def test_a_generated_ruleset_is_not_checked_whole_but_a_chain_a_walk_enters_still_is() -> None:
    """What ``generated`` trusts: no table-wide pass before the walk (the circle here would be refused by it),
    while the check of each chain a walk compiles stays."""
    from kubeproxy_sim.errors import InputError

    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A PREROUTING -p udp -j A\n"
            "-A A -j B\n-A B -j A\nCOMMIT\n")
    tracer = Tracer(parse_ruleset(text, validate=False), NodeContext.of(()), lazy=True, generated=True)
    assert [o.verdict for o in tracer.trace(Packet.of("tcp", "1.1.1.1", "2.2.2.2", 80)).outcomes] == ["ACCEPT"]
    with pytest.raises(InputError, match=r"the nat table's chains jump in a circle: A -> B -> A;"):
        tracer.trace(Packet.of("udp", "1.1.1.1", "2.2.2.2", 80))


def test_a_generated_ruleset_is_drawn_without_the_whole_table_check() -> None:
    """graph and trace --graph from objects pass ``generated``; a dump's table with a circle is still refused."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.graph import build_graph

    text = "*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A A -j B\n-A B -j A\nCOMMIT\n"
    assert build_graph(parse_ruleset(text, validate=False), generated=True).edges
    with pytest.raises(InputError, match=r"the nat table's chains jump in a circle: A -> B -> A;"):
        build_graph(parse_ruleset(text, validate=False))  # (the validating parse refuses it: see codec)
