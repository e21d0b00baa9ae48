"""Properties of the shares kube-proxy's rules give, over generated clusters (issue 7, part 2).

The expected endpoint sets come from an oracle written here from the API
semantics (ready first, serving-terminating only when nothing is ready, Local
policies only local endpoints), not from the proxier's code.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.analysis.affinity import sticky_checks
from kubeproxy_sim.analysis.exact import (
    CLUSTER_IP,
    LOAD_BALANCER,
    NODE_PORT,
    Selection,
    analyse,
    service_ports,
    trace_entry,
)
from kubeproxy_sim.analysis.nodes import NodeSet, Source, node_set, node_source
from kubeproxy_sim.netfilter.model import Rule, Ruleset, Table
from kubeproxy_sim.objects.model import Cluster, Endpoint, EndpointSlice
from kubeproxy_sim.proxier.full import node_tables
from kubeproxy_sim.proxier.partial import SyncState, changed_services, sync_and_apply
from tests.strategies import CONDITIONS, ClusterCase, clusters

# Per statistic rule: kube-proxy's ten decimals (5e-11) plus the kernel's 31-bit threshold (2^-32),
# plus the double the decimal is read into. A share is a product of at most n such factors.
RULE_ERROR = Fraction(5, 10**11) + Fraction(1, 2**32) + Fraction(1, 10**15)


def _eps(cluster: Cluster, namespace: str, name: str) -> list[Endpoint]:
    return [e for s in cluster.endpoint_slices if s.namespace == namespace and s.service_name == name
            for e in s.endpoints]


def _ready(e: Endpoint) -> bool:
    return e.conditions.ready is None or bool(e.conditions.ready)


def _serving_terminating(e: Endpoint) -> bool:
    return bool(e.conditions.serving) and bool(e.conditions.terminating)


def usable(eps: list[Endpoint]) -> set[str]:
    """Ready endpoints; serving-terminating ones only when none is ready."""
    ready = {e.addresses[0] for e in eps if _ready(e)}
    return ready or {e.addresses[0] for e in eps if _serving_terminating(e)}


def expected(eps: list[Endpoint], local_policy: bool, node: str) -> tuple[str, set[str]]:
    """(verdict, endpoint IPs) the oracle expects for a new connection entering ``node``."""
    anywhere = usable(eps)
    if not anywhere:
        return "REJECT", set()
    if not local_policy:
        return "DNAT", anywhere
    local = usable([e for e in eps if e.node_name == node])
    return ("DNAT", local) if local else ("DROP", set())


def _ip(endpoint: str) -> str:
    return endpoint.rpartition(":")[0].strip("[]")


def check_shares(shares, verdict: str, ips: set[str], context: str) -> None:
    total = sum((s.probability for s in shares), Fraction(0))
    assert total == 1, f"{context}: probabilities sum to {total}"
    if verdict != "DNAT":
        assert [s.verdict for s in shares] == [verdict], f"{context}: {shares} instead of {verdict}"
        return
    assert all(s.verdict == "DNAT" for s in shares), f"{context}: {shares}"
    assert {_ip(s.endpoint) for s in shares} == ips, f"{context}: reached {shares}, expected {ips}"
    n = len(ips)
    for s in shares:
        assert abs(s.probability - Fraction(1, n)) <= n * RULE_ERROR, f"{context}: {s} is not 1/{n}"


def check_cluster(nodes: NodeSet, only_node: str | None = None) -> None:
    """Every property on every service port, view and entry node."""
    cluster = nodes.cluster
    sels = [Selection(s, nodes=(only_node,) if only_node else None) for s in service_ports(nodes)]
    report = analyse(nodes, sels)
    for dist in report.services:
        svc = dist.svc
        eps = _eps(cluster, svc.namespace, svc.name)
        for view in dist.views:
            local = svc.internal_policy_local if view.kind == CLUSTER_IP else svc.external_policy_local
            for entry in view.entries:
                context = f"{svc.name_string} {view.kind} entering {entry.node} from {entry.source.label}"
                verdict, ips = expected(eps, local, entry.node)
                check_shares(entry.shares, verdict, ips, context)
                masq = {s.endpoint for s in entry.shares if s.masqueraded}
                if view.kind == CLUSTER_IP:  # pods in the cluster CIDR are not masqueraded (no hairpin here)
                    assert not masq, context
                elif view.kind in (NODE_PORT, LOAD_BALANCER) and verdict == "DNAT":
                    # external sources: masqueraded with eTP Cluster, source kept with eTP Local
                    assert all(s.masqueraded == s.probability for s in entry.shares) != local, context
        if svc.client_ip_affinity and dist.views:
            for check in sticky_checks(nodes, dist.views[0], svc.name_string, svc.proto):
                assert check.returns == 1, f"{svc.name_string}: a client in {check.list_name} does not return"


def check_node_and_hairpin(nodes: NodeSet) -> None:
    """The node itself reaching a cluster IP is masqueraded; a pod reaching itself through it is too."""
    for svc in service_ports(nodes):
        for node in nodes.order:
            entry = trace_entry(nodes, node, node_source(nodes, node), svc.cluster_ip, svc.port, svc.proto)
            dnat = [s for s in entry.shares if s.verdict == "DNAT"]
            assert all(s.masqueraded == s.probability for s in dnat), f"{svc.name_string} from node {node}"
            for s in dnat:
                assert s.endpoint is not None  # (a DNAT share has its endpoint)
                own = Source("pod", _ip(s.endpoint), node=node)
                hairpin = trace_entry(nodes, node, own, svc.cluster_ip, svc.port, svc.proto)
                for other in hairpin.shares:
                    if other.verdict == "DNAT":
                        assert other.endpoint is not None
                        mine = _ip(other.endpoint) == own.address
                        assert bool(other.masqueraded) == mine, f"{svc.name_string}: hairpin via {node}: {other}"


@given(clusters())
def test_shares_reachability_masquerade_affinity(case: ClusterCase) -> None:
    nodes = node_set(case.cluster, case.config)
    check_cluster(nodes)


@given(clusters())
def test_node_sources_and_hairpin_are_masqueraded(case: ClusterCase) -> None:
    check_node_and_hairpin(node_set(case.cluster, case.config))


@st.composite
def _mutations(draw, cluster: Cluster) -> Cluster:
    """The same services, endpoints with new conditions, some endpoints gone, maybe a service gone."""
    slices = []
    for slc in cluster.endpoint_slices:
        eps = tuple(dataclasses.replace(e, conditions=CONDITIONS[draw(st.sampled_from(sorted(CONDITIONS)))])
                    for e in slc.endpoints if draw(st.integers(0, 4)))
        slices.append(EndpointSlice(slc.namespace, slc.name, slc.service_name, slc.address_type, eps, slc.ports))
    services = cluster.services
    if len(services) > 1 and draw(st.booleans()):
        services = services[1:]
    return Cluster(services, tuple(slices), cluster.nodes, cluster.pods)


@given(st.data())
def test_properties_hold_after_partial_syncs(data: st.DataObject) -> None:
    case = data.draw(clusters())
    states = [case.cluster]
    for _ in range(data.draw(st.integers(1, 3))):
        states.append(data.draw(_mutations(states[-1])))
    node, state, previous = Ruleset((), case.ipv6), SyncState(), None
    jumps: tuple[tuple[str, str, Rule], ...] = ()
    for step, cluster in enumerate(states):
        changed: frozenset[str] = (changed_services(previous, cluster, case.config.ipv6) if previous is not None
                                   else frozenset())
        result = sync_and_apply(node, state, cluster, case.config, changed, now=float(step))
        assert result.error is None
        node, state, previous = result.node, result.state, cluster
        jumps = result.outcome.jumps or jumps
    nodes = node_set(states[-1], case.config)
    own = Ruleset(tuple(Table(t.name, tuple(c for c in t.chains if not c.builtin)) for t in node.tables), node.ipv6)
    nodes._rulesets[case.config.node_name] = node_tables(own, jumps)
    check_cluster(nodes, only_node=case.config.node_name)
