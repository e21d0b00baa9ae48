"""Partial syncs converge: after any sequence of object changes (and refused restores), the node holds
exactly what one full sync of the final objects would give it, and every restore is accepted."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.objects.model import (
    SERVICE_PROXY_NAME_LABEL,
    AddressType,
    Cluster,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    LoadBalancerIngress,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.naming import is_kube_proxy_chain
from kubeproxy_sim.proxier.partial import SyncState, apply_restore, changed_services, sync_and_apply
from tests.budget import budget

from .builders import TEST_NODE, fake_config
from .sequences import config_at, replay, sequences

NAMES = (("ns1", "a"), ("ns1", "b"), ("ns2", "a"), ("ns2", "c"))
PORTS = (("p80", 80), ("p81", 81))
# no labels, one the rules never read, and one that hides the object from kube-proxy
LABELS = ((), (("app", "x"),), ((SERVICE_PROXY_NAME_LABEL, "other-proxy"),))
ENDPOINT_IPS = tuple(f"10.0.{i}.{j}" for i in range(2) for j in range(1, 4))


@st.composite
def services(draw, index: int, ns: str, name: str) -> Service:
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    count = draw(st.integers(1, 2))
    ports = tuple(ServicePort(pn, Protocol.TCP, number, number,
                              node_port=30000 + 10 * index + k if kind is not ServiceType.CLUSTER_IP else 0)
                  for k, (pn, number) in enumerate(PORTS[:count]))
    lb = kind is ServiceType.LOAD_BALANCER
    return Service(
        ns, name, type=kind, cluster_ips=(f"172.30.0.{10 + index}",), ports=ports,
        external_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        internal_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        external_ips=draw(st.sampled_from([(), (f"192.168.99.{20 + index}",)])),
        load_balancer_ingress=(LoadBalancerIngress(ip=f"1.2.3.{index + 1}"),) if lb else (),
        load_balancer_source_ranges=draw(st.sampled_from([(), ("203.0.113.0/25",)])) if lb else (),
        health_check_node_port=32000 + index if lb else 0,
        session_affinity=draw(st.sampled_from(list(SessionAffinity))),
        labels=draw(st.sampled_from(LABELS)),
    )


endpoints = st.builds(
    lambda ip, node, ready, serving, terminating: Endpoint(
        (ip,), EndpointConditions(ready, serving, terminating), node_name=node),
    st.sampled_from(ENDPOINT_IPS), st.sampled_from([TEST_NODE, "node2", None]),
    st.sampled_from([True, False, None]), st.sampled_from([True, False, None]), st.sampled_from([False, True, None]),
)


@st.composite
def slices(draw, ns: str, name: str) -> tuple[EndpointSlice, ...]:
    result = []
    for n in range(draw(st.integers(0, 2))):
        ports = tuple(EndpointPort(pn, number, Protocol.TCP) for pn, number in PORTS[:draw(st.integers(1, 2))])
        eps = tuple(draw(st.lists(endpoints, max_size=3)))
        result.append(EndpointSlice(ns, f"{name}-{n}", name, AddressType.IPV4, endpoints=eps, ports=ports,
                                    labels=draw(st.sampled_from(LABELS))))
    return tuple(result)


@st.composite
def clusters(draw) -> Cluster:
    svcs, eps = [], []
    for index, (ns, name) in enumerate(NAMES):
        if draw(st.booleans()):
            svcs.append(draw(services(index, ns, name)))
        eps.extend(draw(slices(ns, name)))  # slices may outlive (or precede) their Service
    return Cluster(tuple(svcs), tuple(eps))


steps = st.lists(st.tuples(clusters(), st.booleans(), st.sampled_from([1.0, 5.0, 4000.0])), min_size=1, max_size=6)


def kube_chains(node: Ruleset) -> dict[tuple[str, str], tuple[str, ...]]:
    """kube-proxy's chains of the node and their rules (what the comparison is about)."""
    return {(t.name, c.name): tuple(r.spec for r in c.rules)
            for t in node.tables for c in t.chains if is_kube_proxy_chain(c.name)}


def assert_always_written_parts_are_whole(restore: Ruleset, full: Ruleset) -> None:
    """Every sync writes the filter table and the top-level nat chains exactly as a full sync would."""
    assert restore.table("filter") == full.table("filter")
    nat, full_nat = restore.table("nat"), full.table("nat")
    assert nat is not None and full_nat is not None
    for name in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
        assert nat.chain(name) == full_nat.chain(name)


@settings(max_examples=budget(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_partial_syncs_reach_the_full_sync_state(sequence):
    config = fake_config()
    node, state, previous, now = Ruleset(), SyncState(), Cluster(), 0.0
    for objects, refused, advance in sequence:
        now += advance
        step = sync_and_apply(node, state, objects, config, changed_services(previous, objects), now)
        assert step.error is None, step.error
        assert_always_written_parts_are_whole(step.outcome.restore, generate(objects, config).ruleset)
        if refused:  # the kernel refused this restore: the node keeps its tables, the next sync is full
            state = step.outcome.failed
            assert state.need_full_sync
        else:
            node, state = step.node, step.state
        previous = objects
    if refused:  # a last sync so the final objects reach the node at all
        step = sync_and_apply(node, state, previous, config, (), now + 1.0)
        assert step.outcome.full and step.error is None
        node = step.node
    expected = apply_restore(Ruleset(), generate(previous, config).ruleset)
    assert kube_chains(node) == kube_chains(expected)


@settings(max_examples=budget(60), deadline=None)
@given(clusters(), clusters())
def test_unchanged_objects_write_no_service_chain(first, second):
    config = fake_config()
    step = sync_and_apply(Ruleset(), SyncState(), first, config, (), 1.0)
    step = sync_and_apply(step.node, step.state, second, config, changed_services(first, second), 2.0)
    again = sync_and_apply(step.node, step.state, second, config, (), 3.0)
    nat = again.outcome.restore.table("nat")
    assert nat is not None
    assert [c.name for c in nat.chains] == ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]
    assert again.outcome.metrics.nat_rules_total == sum(len(c.rules) for t in generate(second, config).ruleset.tables
                                                        if t.name == "nat" for c in t.chains)


def test_a_service_label_edit_is_no_change_but_handing_the_service_to_another_proxy_removes_it():
    """kube-proxy's Service tracker compares what the rules read, so a Service label edit rewrites nothing (a
    slice's does: the slice cache compares whole slices); a service-proxy-name label makes the Service (and
    its slices) vanish from kube-proxy's view."""
    config = fake_config()
    web = Service("ns1", "web", cluster_ips=("172.30.0.10",), ports=(ServicePort("p80", Protocol.TCP, 80, 80),))
    eps = EndpointSlice("ns1", "web-1", "web", AddressType.IPV4, endpoints=(Endpoint(("10.0.0.1",)),),
                        ports=(EndpointPort("p80", 80, Protocol.TCP),))
    first = Cluster((web,), (eps,))
    relabelled = Cluster((replace(web, labels=(("app", "x"),)),), (eps,))
    handed_over = Cluster((replace(web, labels=((SERVICE_PROXY_NAME_LABEL, "other-proxy"),)),), (eps,))
    assert changed_services(first, relabelled) == frozenset()
    assert changed_services(first, Cluster((web,), (replace(eps, labels=(("app", "x"),)),))) == {"ns1/web"}
    assert changed_services(relabelled, handed_over) == {"ns1/web"}
    step = sync_and_apply(Ruleset(), SyncState(), first, config, (), 1.0)
    step = sync_and_apply(step.node, step.state, relabelled, config, changed_services(first, relabelled), 2.0)
    nat = step.outcome.restore.table("nat")
    assert nat is not None
    assert [c.name for c in nat.chains] == ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]
    step = sync_and_apply(step.node, step.state, handed_over, config, changed_services(relabelled, handed_over), 3.0)
    assert step.error is None
    assert kube_chains(step.node) == kube_chains(apply_restore(Ruleset(), generate(handed_over, config).ruleset))
    assert not any(name.startswith(("KUBE-SVC-", "KUBE-SEP-")) for _, name in kube_chains(step.node))


def test_of_the_node_s_labels_only_the_zone_forces_a_full_sync():
    """kube-proxy's node handler ignores every Node label but the topology zone."""
    zone = "topology.kubernetes.io/zone"
    config = replace(fake_config(), node_labels=((zone, "a"),))
    web = Service("ns1", "web", cluster_ips=("172.30.0.10",), ports=(ServicePort("p80", Protocol.TCP, 80, 80),))
    objects = Cluster((web,), ())
    step = sync_and_apply(Ruleset(), SyncState(), objects, config, (), 1.0)
    team = replace(config, node_labels=((zone, "a"), ("team", "blue")))
    step = sync_and_apply(step.node, step.state, objects, team, (), 2.0)
    assert not step.outcome.full
    moved = replace(config, node_labels=((zone, "b"), ("team", "blue")))
    assert sync_and_apply(step.node, step.state, objects, moved, (), 3.0).outcome.full


@settings(max_examples=budget(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences())
def test_partial_syncs_reach_the_full_sync_state_in_either_family_with_hints_and_moves(sequence):
    """The convergence above over wider states: either family (dual-stack Services, slices of both families),
    zone and node hints while the node's zone changes (a full sync), slices moving to another Service, and
    --masquerade-all: the node after every sync holds what one full sync of the objects gives."""
    for step, (objects, zone, _) in zip(replay(sequence.config, sequence.states), sequence.states, strict=True):
        assert step.error is None, step.error
        full = generate(objects, config_at(sequence.config, zone)).ruleset
        assert_always_written_parts_are_whole(step.outcome.restore, full)
        assert kube_chains(step.node) == kube_chains(apply_restore(Ruleset(), full))
