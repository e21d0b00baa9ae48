"""For any stream of events and any timing, the node after every sync of the loop holds what one full sync
of the objects at that moment gives (the loop's partial syncs use the trackers' per-service index)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Node,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    TrafficPolicy,
)
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import IPFamily, ProxyConfig
from kubeproxy_sim.proxier.naming import is_kube_proxy_chain
from kubeproxy_sim.proxier.partial import SyncState, apply_restore, sync
from kubeproxy_sim.watch import Kind, MemorySource
from kubeproxy_sim.watch.sync_loop import LoopTiming, SyncLoop
from tests.budget import budget

CONFIG = ProxyConfig(node_name="n1", node_ips=("192.168.0.1/24",), cluster_cidrs=("10.0.0.0/8",))
NAMES = (("ns1", "a"), ("ns1", "b"), ("ns2", "a"))
IPS = tuple(f"10.0.{i}.{j}" for i in range(2) for j in range(1, 4))
ZONE = "topology.kubernetes.io/zone"


@st.composite
def services(draw) -> Service:
    index = draw(st.integers(0, len(NAMES) - 1))
    ns, name = NAMES[index]
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT]))
    ports = tuple(ServicePort(f"p{n}", Protocol.TCP, n, n, node_port=30000 + 10 * index + k
                              if kind is ServiceType.NODE_PORT else 0)
                  for k, n in enumerate((80, 81)[:draw(st.integers(1, 2))]))
    return Service(ns, name, type=kind, cluster_ips=(f"172.30.0.{10 + index}",), ports=ports,
                   external_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
                   internal_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))))


endpoints = st.builds(lambda ip, node, ready: Endpoint((ip,), EndpointConditions(ready=ready), node_name=node),
                      st.sampled_from(IPS), st.sampled_from(["n1", "n2", None]), st.sampled_from([True, False]))


@st.composite
def slices(draw) -> EndpointSlice:
    ns, name = draw(st.sampled_from(NAMES))
    ports = tuple(EndpointPort(f"p{n}", n, Protocol.TCP) for n in (80, 81)[:draw(st.integers(1, 2))])
    return EndpointSlice(ns, f"{name}-{draw(st.integers(0, 1))}", name, AddressType.IPV4,
                         endpoints=tuple(draw(st.lists(endpoints, max_size=3))), ports=ports)


operations = st.one_of(
    st.tuples(st.just("apply"), st.one_of(services(), slices())),
    st.tuples(st.just("delete-service"), st.sampled_from([f"{ns}/{n}" for ns, n in NAMES])),
    st.tuples(st.just("delete-slice"), st.sampled_from([f"{ns}/{n}-{i}" for ns, n in NAMES for i in (0, 1)])),
    st.tuples(st.just("zone"), st.sampled_from(["z1", "z2"])),
    st.tuples(st.just("wait"), st.sampled_from([0.3, 1.0, 31.0])),
)


def kube_chains(node: Ruleset) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(t.name, c.name): tuple(r.spec for r in c.rules)
            for t in node.tables for c in t.chains if is_kube_proxy_chain(c.name)}


def assert_like_a_full_sync(loop: SyncLoop, report, config: ProxyConfig = CONFIG) -> None:
    """The node, and the metrics that count every service, are those of one full sync of the objects now."""
    assert report.error is None, report.error
    cluster = loop.state.cluster()
    assert kube_chains(report.node) == kube_chains(apply_restore(Ruleset(), generate(cluster, config).ruleset))
    fresh, mine = sync(SyncState(), cluster, config, (), 0.0).metrics, report.metrics
    assert mine.filter_rules == fresh.filter_rules and mine.nat_rules_total == fresh.nat_rules_total
    assert mine.no_local_endpoints_internal == fresh.no_local_endpoints_internal
    assert mine.no_local_endpoints_external == fresh.no_local_endpoints_external


def check(loop: SyncLoop) -> None:
    report = loop.sync_if_due()
    if report is not None:
        assert_like_a_full_sync(loop, report)


@settings(max_examples=budget(200), deadline=None)
@given(st.lists(st.lists(operations, min_size=1, max_size=4), min_size=1, max_size=8))
def test_every_sync_leaves_the_node_as_a_full_sync_would(batches):
    now = [0.0]
    source = MemorySource([Node("n1", labels=((ZONE, "z1"),))])
    loop = SyncLoop(CONFIG, clock=lambda: now[0], timing=LoopTiming(min_sync_period=1.0, sync_period=30.0))
    loop.feed(source.poll())
    check(loop)
    for batch in batches:
        for op, arg in batch:
            if op == "apply":
                source.apply(arg)
            elif op == "delete-service":
                source.delete(Kind.SERVICE, arg)
            elif op == "delete-slice":
                source.delete(Kind.ENDPOINT_SLICE, arg)
            elif op == "zone":
                source.apply(Node("n1", labels=((ZONE, arg),)))
            else:
                now[0] += arg
        loop.feed(source.poll())
        check(loop)
    now[0] += 30.0  # whatever is pending is synced now
    report = loop.sync_if_due()
    if report is None:  # nothing was pending: nothing syncs before the hourly full sync (kube-proxy's runner)
        assert not loop.requested and not loop.failed
        now[0] += loop.timing.full_sync_period
        report = loop.sync_if_due()
    assert report is not None
    assert_like_a_full_sync(loop, report)


def wide_operations(ipv6: bool) -> st.SearchStrategy[tuple[str, object]]:
    """As ``operations``, with the wider objects of tests/proxier/sequences: dual-stack Services, slices of either
    family with zone and node hints, some of them moved to another Service of the namespace."""
    from tests.proxier import sequences as wide

    def service(index: int) -> st.SearchStrategy[Service]:
        ns, name = wide.NAMES[index]
        return wide.services(index, ns, name)

    def slices_of(index: int) -> st.SearchStrategy[list[EndpointSlice]]:
        ns, name = wide.NAMES[index]
        return wide.slices(ns, name, ipv6)

    index = st.integers(0, len(wide.NAMES) - 1)
    return st.one_of(
        st.tuples(st.just("apply"), index.flatmap(service)),
        st.tuples(st.just("apply-slices"), index.flatmap(slices_of)),
        st.tuples(st.just("delete-service"), st.sampled_from([f"{ns}/{n}" for ns, n in wide.NAMES])),
        st.tuples(st.just("delete-slice"), st.sampled_from([f"{ns}/{n}-{i}" for ns, n in wide.NAMES for i in (0, 1)])),
        st.tuples(st.just("move"), st.integers(0, 3)),
        st.tuples(st.just("zone"), st.sampled_from(["z1", "z2"])),
        st.tuples(st.just("wait"), st.sampled_from([0.3, 1.0, 31.0])),
    )


def moved(source: MemorySource, which: int) -> EndpointSlice | None:
    """One of the source's slices (the ``which``-th, cyclically) labelled for the other Service of its namespace
    (ns1 has two), or None when there is no slice to move."""
    candidates = sorted((es for es in source.objects(Kind.ENDPOINT_SLICE) if es.namespace == "ns1"),
                        key=lambda es: es.key)
    if not candidates:
        return None
    es = candidates[which % len(candidates)]
    return replace(es, service_name="b" if es.service_name == "a" else "a")


@settings(max_examples=budget(100), deadline=None)
@given(st.sampled_from([False, True]).flatmap(
    lambda ipv6: st.tuples(st.just(ipv6), st.lists(st.lists(wide_operations(ipv6), min_size=1, max_size=4),
                                                   min_size=1, max_size=8))))
def test_every_sync_leaves_the_node_as_a_full_sync_would_in_either_family_with_hints_and_moves(case):
    """The property above with the wider objects: hints make the Node's zone matter (a new zone makes the sync
    full), and a slice moving to another Service makes both change."""
    ipv6, batches = case
    config = CONFIG if not ipv6 else ProxyConfig(node_name="n1", ip_family=IPFamily.IPV6, node_ips=(
        "192.168.0.1/24", "2001:db8::1/64"), cluster_cidrs=("10.0.0.0/8", "fd00:10::/64"))
    now = [0.0]
    source = MemorySource([Node("n1", labels=((ZONE, "z1"),))])
    loop = SyncLoop(config, clock=lambda: now[0], timing=LoopTiming(min_sync_period=1.0, sync_period=30.0))
    for batch in [[("wait", 0.0)], *batches]:
        for op, arg in batch:
            if op == "apply":
                source.apply(arg)
            elif op == "apply-slices":
                for es in arg:
                    source.apply(es)
            elif op == "delete-service":
                source.delete(Kind.SERVICE, arg)
            elif op == "delete-slice":
                source.delete(Kind.ENDPOINT_SLICE, arg)
            elif op == "move":
                es = moved(source, arg)
                if es is not None:
                    source.apply(es)
            elif op == "zone":
                source.apply(Node("n1", labels=((ZONE, arg),)))
            else:
                now[0] += arg
        now[0] += 1.0  # each batch a sync (the minimum sync period apart), unless a wait put it off
        loop.feed(source.poll())
        report = loop.sync_if_due()
        if report is not None:
            assert_like_a_full_sync(loop, report, config)
