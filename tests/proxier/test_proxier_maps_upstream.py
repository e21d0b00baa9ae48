"""proxier_test.go's tests of what kube-proxy derives before writing rules (upstream, 531be81208e2).

TestComputeProbability, TestBuildServiceMap* (service map sizes and health
check node ports), TestUpdateEndpointsMap (endpoint maps, whether UDP
conntrack cleanup runs, local ready endpoint counts),
TestHealthCheckNodePortWhenTerminating, TestNoEndpointsMetric and
TestProxierMetricsIPTablesTotalRules, with upstream's objects and expected
values. Upstream applies add/update/delete events to change trackers; our
proxier derives the same maps from the objects that remain, so each case
states the objects before and after and checks both maps.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.objects.model import EndpointPort, EndpointSlice, Protocol, Service, ServiceType
from kubeproxy_sim.objects.model import TrafficPolicy as TP
from kubeproxy_sim.proxier.partial import SyncState, sync
from kubeproxy_sim.proxier.rules.endpoints import probability
from kubeproxy_sim.proxier.state import endpoints_map
from kubeproxy_sim.simulator.health import local_ready_endpoints
from kubeproxy_sim.simulator.stale import udp_cleanup
from kubeproxy_sim.watch.trackers import EndpointSliceChangeTracker

from .builders import TEST_NODE, cluster, ep, eps, fake_config, port, service, service_map
from .dumps import parse_dump

UDP = Protocol.UDP

# --- TestComputeProbability


def test_compute_probability():
    """Upstream's values (Go's %0.10f of 1/n), and 3, whose decimals never end: rounded at the tenth place."""
    expected = {1: "1.0000000000", 2: "0.5000000000", 3: "0.3333333333", 10: "0.1000000000", 100: "0.0100000000",
                1000: "0.0010000000", 10000: "0.0001000000", 100000: "0.0000100000", 100001: "0.0000099999"}
    assert {n: probability(n) for n in expected} == expected
    values = [float(probability(n)) for n in range(100000, 1, -1)]
    assert all(a < b for a, b in itertools.pairwise(values))  # strictly increasing as n falls


# --- TestBuildServiceMap*


def _udp_port(name: str, number: int, node_port: int, target: int = 0, protocol: Protocol = UDP):
    return port(name, number, protocol, node_port, target)


def _add_remove_services() -> list[Service]:
    return [
        service("somewhere-else", "cluster-ip", "172.30.55.4", _udp_port("something", 1234, 4321),
                _udp_port("somethingelse", 1235, 5321), _udp_port("sctpport", 1236, 6321, protocol=Protocol.SCTP)),
        service("somewhere-else", "node-port", "172.30.55.10", _udp_port("blahblah", 345, 678),
                _udp_port("moreblahblah", 344, 677, protocol=Protocol.TCP),
                _udp_port("muchmoreblah", 343, 676, protocol=Protocol.SCTP), type=ServiceType.NODE_PORT),
        service("somewhere", "load-balancer", "172.30.55.11", _udp_port("foobar", 8675, 30061, 7000),
                _udp_port("baz", 8676, 30062, 7001), type=ServiceType.LOAD_BALANCER, lb=("1.2.3.4",)),
        service("somewhere", "only-local-load-balancer", "172.30.55.12", _udp_port("foobar2", 8677, 30063, 7002),
                _udp_port("baz", 8678, 30064, 7003), type=ServiceType.LOAD_BALANCER, lb=("5.6.7.8",),
                external_traffic_policy=TP.LOCAL, health_check_node_port=345),
    ]


def test_build_service_map_add_remove():
    services = _add_remove_services()
    assert service_map(services) == (10, {"somewhere/only-local-load-balancer": 345})
    one_port_left = service("somewhere-else", "cluster-ip", "172.30.55.4", _udp_port("somethingelse", 1235, 5321))
    assert service_map([one_port_left]) == (1, {})


def test_build_service_map_service_headless():
    headless = service("somewhere-else", "headless", (), _udp_port("rpc", 1234, 0))
    without_port = service("somewhere-else", "headless-without-port", (), ports=())
    assert service_map([headless, without_port]) == (0, {})


def test_build_service_map_service_type_external_name():
    external = service("somewhere-else", "external-name", "172.30.55.4", _udp_port("blah", 1235, 5321),
                       type=ServiceType.EXTERNAL_NAME, external_name="foo2.bar.com")
    assert service_map([external]) == (0, {})


def test_build_service_map_service_update():
    v1 = service("somewhere", "some-service", "172.30.55.4", _udp_port("something", 1234, 4321),
                 _udp_port("somethingelse", 1235, 5321, protocol=Protocol.TCP))
    v2 = service("somewhere", "some-service", "172.30.55.4", _udp_port("something", 1234, 4321, 7002),
                 _udp_port("somethingelse", 1235, 5321, 7003, protocol=Protocol.TCP), type=ServiceType.LOAD_BALANCER,
                 lb=("1.2.3.4",), external_traffic_policy=TP.LOCAL, health_check_node_port=345)
    # added, changed to LoadBalancer, unchanged, back to ClusterIP
    assert [service_map([s]) for s in (v1, v2, v2, v1)] == [
        (2, {}), (2, {"somewhere/some-service": 345}), (2, {"somewhere/some-service": 345}), (2, {})]


# --- TestUpdateEndpointsMap


def _udp(*named: tuple[str, int]) -> tuple[EndpointPort, ...]:
    return tuple(EndpointPort(name, number, UDP) for name, number in named)


def _slice(ns: str, name: str, num: int, endpoints: tuple[tuple[str, bool], ...],
           ports: tuple[EndpointPort, ...]) -> EndpointSlice:
    es = eps(ns, name, *(ep(ip, node=TEST_NODE if local else None) for ip, local in endpoints), slice_num=num)
    return EndpointSlice(es.namespace, es.name, es.service_name, es.address_type, endpoints=es.endpoints,
                         ports=ports)


def _ips(*ips: str) -> tuple[tuple[str, bool], ...]:
    """Endpoints by IP; a trailing "*" marks one on this node (NodeName test-node)."""
    return tuple((ip.rstrip("*"), ip.endswith("*")) for ip in ips)


SUBSET1 = (_ips("10.1.1.1"), _udp(("p11", 11)))
SUBSET2 = (_ips("10.1.1.2"), _udp(("p12", 12)))
NAMED_PORT_LOCAL = [_slice("ns1", "ep1", 1, _ips("10.1.1.1*"), _udp(("p11", 11)))]
NAMED_PORT = [_slice("ns1", "ep1", 1, *SUBSET1)]
NAMED_PORT_RENAMED = [_slice("ns1", "ep1", 1, _ips("10.1.1.1"), _udp(("p11-2", 11)))]
NAMED_PORT_RENUMBERED = [_slice("ns1", "ep1", 1, _ips("10.1.1.1"), _udp(("p11", 22)))]
NAMED_PORTS_LOCAL_NO_LOCAL = [_slice("ns1", "ep1", 1, _ips("10.1.1.1", "10.1.1.2*"), _udp(("p11", 11), ("p12", 12)))]
MULTIPLE_SUBSETS = [_slice("ns1", "ep1", 1, *SUBSET1), _slice("ns1", "ep1", 2, *SUBSET2)]
MULTIPLE_SUBSETS_WITH_LOCAL = [_slice("ns1", "ep1", 1, *SUBSET1),
                               _slice("ns1", "ep1", 2, _ips("10.1.1.2*"), _udp(("p12", 12)))]
MULTIPLE_SUBSETS_MULTIPLE_PORTS_LOCAL = [
    _slice("ns1", "ep1", 1, _ips("10.1.1.1*"), _udp(("p11", 11), ("p12", 12))),
    _slice("ns1", "ep1", 2, _ips("10.1.1.3"), _udp(("p13", 13)))]
MULTIPLE_SUBSETS_IPS_PORTS = [
    _slice("ns1", "ep1", 1, _ips("10.1.1.1", "10.1.1.2*"), _udp(("p11", 11), ("p12", 12))),
    _slice("ns1", "ep1", 2, _ips("10.1.1.3", "10.1.1.4*"), _udp(("p13", 13), ("p14", 14))),
    _slice("ns2", "ep2", 1, _ips("10.2.2.1", "10.2.2.2*"), _udp(("p21", 21), ("p22", 22)))]
COMPLEX_BEFORE = [
    _slice("ns1", "ep1", 1, *SUBSET1),
    _slice("ns2", "ep2", 1, _ips("10.2.2.2*", "10.2.2.22*"), _udp(("p22", 22))),
    _slice("ns2", "ep2", 2, _ips("10.2.2.3*"), _udp(("p23", 23))),
    _slice("ns4", "ep4", 1, _ips("10.4.4.4*", "10.4.4.5*"), _udp(("p44", 44))),
    _slice("ns4", "ep4", 2, _ips("10.4.4.6*"), _udp(("p45", 45)))]
COMPLEX_AFTER = [
    _slice("ns1", "ep1", 1, _ips("10.1.1.1", "10.1.1.11"), _udp(("p11", 11))),
    _slice("ns1", "ep1", 2, _ips("10.1.1.2"), _udp(("p12", 12), ("p122", 122))),
    _slice("ns3", "ep3", 1, _ips("10.3.3.3"), _udp(("p33", 33))),
    _slice("ns4", "ep4", 1, _ips("10.4.4.4*"), _udp(("p44", 44)))]
EMPTY = [_slice("ns1", "ep1", 1, (), ())]

Expected = dict[tuple[str, str, str], list[str]]
"""(namespace, service, port name) -> endpoints in order, "*" marking a local one (all ports are UDP)."""

ONE_LOCAL: Expected = {("ns1", "ep1", "p11"): ["10.1.1.1:11*"]}
ONE: Expected = {("ns1", "ep1", "p11"): ["10.1.1.1:11"]}
TWO_SUBSETS: Expected = {("ns1", "ep1", "p11"): ["10.1.1.1:11"], ("ns1", "ep1", "p12"): ["10.1.1.2:12"]}
LOCAL_NO_LOCAL: Expected = {("ns1", "ep1", "p11"): ["10.1.1.1:11", "10.1.1.2:11*"],
                            ("ns1", "ep1", "p12"): ["10.1.1.1:12", "10.1.1.2:12*"]}

NONE: frozenset[str] = frozenset()
EP1 = frozenset({"ns1/ep1"})

# (name, slices before, slices after, map before, map after, conntrack cleanup, local ready endpoints, services the
# tracker reports changed: expectedChangedEndpoints of endpointschangetracker_test.go's copy of these cases)
UPDATE_CASES = [
    ("nothing", [], [], {}, {}, False, {}, NONE),
    ("no change, named port, local", NAMED_PORT_LOCAL, NAMED_PORT_LOCAL, ONE_LOCAL, ONE_LOCAL, False,
     {"ns1/ep1": 1}, NONE),
    ("no change, multiple subsets", MULTIPLE_SUBSETS, MULTIPLE_SUBSETS, TWO_SUBSETS, TWO_SUBSETS, False, {}, NONE),
    ("no change, multiple subsets, multiple ports, local", MULTIPLE_SUBSETS_MULTIPLE_PORTS_LOCAL,
     MULTIPLE_SUBSETS_MULTIPLE_PORTS_LOCAL,
     {("ns1", "ep1", "p11"): ["10.1.1.1:11*"], ("ns1", "ep1", "p12"): ["10.1.1.1:12*"],
      ("ns1", "ep1", "p13"): ["10.1.1.3:13"]},
     {("ns1", "ep1", "p11"): ["10.1.1.1:11*"], ("ns1", "ep1", "p12"): ["10.1.1.1:12*"],
      ("ns1", "ep1", "p13"): ["10.1.1.3:13"]}, False, {"ns1/ep1": 1}, NONE),
    ("no change, multiple endpoints, subsets, IPs, and ports", MULTIPLE_SUBSETS_IPS_PORTS,
     MULTIPLE_SUBSETS_IPS_PORTS,
     {("ns1", "ep1", "p11"): ["10.1.1.1:11", "10.1.1.2:11*"], ("ns1", "ep1", "p12"): ["10.1.1.1:12", "10.1.1.2:12*"],
      ("ns1", "ep1", "p13"): ["10.1.1.3:13", "10.1.1.4:13*"], ("ns1", "ep1", "p14"): ["10.1.1.3:14", "10.1.1.4:14*"],
      ("ns2", "ep2", "p21"): ["10.2.2.1:21", "10.2.2.2:21*"], ("ns2", "ep2", "p22"): ["10.2.2.1:22", "10.2.2.2:22*"]},
     {("ns1", "ep1", "p11"): ["10.1.1.1:11", "10.1.1.2:11*"], ("ns1", "ep1", "p12"): ["10.1.1.1:12", "10.1.1.2:12*"],
      ("ns1", "ep1", "p13"): ["10.1.1.3:13", "10.1.1.4:13*"], ("ns1", "ep1", "p14"): ["10.1.1.3:14", "10.1.1.4:14*"],
      ("ns2", "ep2", "p21"): ["10.2.2.1:21", "10.2.2.2:21*"], ("ns2", "ep2", "p22"): ["10.2.2.1:22", "10.2.2.2:22*"]},
     False, {"ns1/ep1": 2, "ns2/ep2": 1}, NONE),
    ("add an Endpoints", [], NAMED_PORT_LOCAL, {}, ONE_LOCAL, True, {"ns1/ep1": 1}, EP1),
    ("remove an Endpoints", NAMED_PORT_LOCAL, [], ONE_LOCAL, {}, True, {}, EP1),
    ("add an IP and port", NAMED_PORT, NAMED_PORTS_LOCAL_NO_LOCAL, ONE, LOCAL_NO_LOCAL, True, {"ns1/ep1": 1}, EP1),
    ("remove an IP and port", NAMED_PORTS_LOCAL_NO_LOCAL, NAMED_PORT, LOCAL_NO_LOCAL, ONE, True, {}, EP1),
    ("add a subset", NAMED_PORT, MULTIPLE_SUBSETS_WITH_LOCAL, ONE,
     {("ns1", "ep1", "p11"): ["10.1.1.1:11"], ("ns1", "ep1", "p12"): ["10.1.1.2:12*"]}, True, {"ns1/ep1": 1}, EP1),
    ("remove a subset", MULTIPLE_SUBSETS, NAMED_PORT, TWO_SUBSETS, ONE, True, {}, EP1),
    ("rename a port", NAMED_PORT, NAMED_PORT_RENAMED, ONE, {("ns1", "ep1", "p11-2"): ["10.1.1.1:11"]}, True, {}, EP1),
    ("renumber a port", NAMED_PORT, NAMED_PORT_RENUMBERED, ONE, {("ns1", "ep1", "p11"): ["10.1.1.1:22"]}, True, {},
     EP1),
    ("complex add and remove", COMPLEX_BEFORE, COMPLEX_AFTER,
     {("ns1", "ep1", "p11"): ["10.1.1.1:11"], ("ns2", "ep2", "p22"): ["10.2.2.22:22*", "10.2.2.2:22*"],
      ("ns2", "ep2", "p23"): ["10.2.2.3:23*"], ("ns4", "ep4", "p44"): ["10.4.4.4:44*", "10.4.4.5:44*"],
      ("ns4", "ep4", "p45"): ["10.4.4.6:45*"]},
     {("ns1", "ep1", "p11"): ["10.1.1.11:11", "10.1.1.1:11"], ("ns1", "ep1", "p12"): ["10.1.1.2:12"],
      ("ns1", "ep1", "p122"): ["10.1.1.2:122"], ("ns3", "ep3", "p33"): ["10.3.3.3:33"],
      ("ns4", "ep4", "p44"): ["10.4.4.4:44*"]}, True, {"ns4/ep4": 1},
     frozenset({"ns1/ep1", "ns2/ep2", "ns3/ep3", "ns4/ep4"})),
    ("change from 0 endpoint address to 1 unnamed port", EMPTY, NAMED_PORT, {}, ONE, True, {}, EP1),
]


def _as_expected(slices: list[EndpointSlice]) -> Expected:
    got = endpoints_map(slices, fake_config())
    assert all(proto is UDP for _, _, _, proto in got)
    return {(ns, name, port_name): [e.endpoint + ("*" if e.is_local else "") for e in found]
            for (ns, name, port_name, _), found in got.items()}


def _local_ready(slices: list[EndpointSlice]) -> dict[str, int]:
    """LocalReadyEndpoints(): services with at least one local ready endpoint, and how many (distinct IPs)."""
    by_service: dict[str, list[EndpointSlice]] = defaultdict(list)
    for es in slices:
        by_service[f"{es.namespace}/{es.service_name}"].append(es)
    counts = {key: local_ready_endpoints(group, fake_config()) for key, group in by_service.items()}
    return {key: n for key, n in counts.items() if n}


@pytest.mark.parametrize(("name", "before", "after", "old_map", "new_map", "cleanup", "local", "changed"),
                         UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_update_endpoints_map(name, before, after, old_map, new_map, cleanup, local, changed):
    assert _as_expected(before) == old_map
    assert _as_expected(after) == new_map
    assert (udp_cleanup(cluster(*before), cluster(*after), fake_config()) is not None) is cleanup
    assert _local_ready(after) == local
    tracker = EndpointSliceChangeTracker(initial=before)
    for es in before:
        if es.key not in {e.key for e in after}:
            tracker.set(es.key, None)
    for es in after:
        tracker.set(es.key, es)  # an update where the slice existed before, an add otherwise
    assert tracker.apply().changed == changed


# --- TestHealthCheckNodePortWhenTerminating


def test_health_check_node_port_when_terminating():
    def slice_of(*conditions):
        return eps("ns1", "svc1", *(ep(f"10.0.1.{i}", node=TEST_NODE, ready=r, serving=s, terminating=t)
                                    for i, (r, s, t) in enumerate(conditions, 1)),
                   ports=(EndpointPort("", 80, Protocol.TCP),))

    ready = slice_of((True, None, None), (True, None, None), (True, None, None), (False, None, None))
    assert local_ready_endpoints([ready], fake_config()) == 3  # upstream: one service with local ready endpoints
    terminating = slice_of((False, True, False), (False, True, True), (False, True, True), (False, False, True))
    assert local_ready_endpoints([terminating], fake_config()) == 0


# --- TestNoEndpointsMetric and TestProxierMetricsIPTablesTotalRules


def _first_sync(*objects):
    return sync(SyncState(), cluster(*objects), fake_config(), (), now=0.0)


NO_ENDPOINTS_CASES = [
    # (name, internal policy Local, external policy Local, endpoints' nodes, internal metric, external metric)
    ("internalTrafficPolicy is set and there are local endpoints", True, False, (TEST_NODE, "node1", "node2"), 0, 0),
    ("externalTrafficPolicy is set and there are local endpoints", False, True, (TEST_NODE, "node1", "node2"), 0, 0),
    ("both policies are set and there are local endpoints", True, True, (TEST_NODE, "node1", "node2"), 0, 0),
    ("internalTrafficPolicy is set and there are no local endpoints", True, False, ("node0", "node1", "node2"), 1, 0),
    ("externalTrafficPolicy is set and there are no local endpoints", False, True, ("node0", "node1", "node2"), 0, 1),
    ("both policies are set and there are no local endpoints", True, True, ("node0", "node1", "node2"), 1, 1),
    ("both policies are set and there are no endpoints at all", True, True, (), 0, 0),
]


@pytest.mark.parametrize(("itp_local", "etp_local", "nodes", "internal", "external"),
                         [c[1:] for c in NO_ENDPOINTS_CASES], ids=[c[0] for c in NO_ENDPOINTS_CASES])
def test_no_endpoints_metric(itp_local, etp_local, nodes, internal, external):
    svc = service("ns1", "svc1", "172.30.1.1", port("", 80, node_port=123),
                  internal_traffic_policy=TP.LOCAL if itp_local else TP.CLUSTER,
                  type=ServiceType.NODE_PORT if etp_local else ServiceType.CLUSTER_IP,
                  external_traffic_policy=TP.LOCAL if etp_local else TP.CLUSTER)
    slice_ = eps("ns1", "svc1", *(ep(f"10.0.1.{i}", node=n, ready=True) for i, n in enumerate(nodes, 1)),
                 ports=(EndpointPort("", 80, Protocol.TCP),))
    metrics = _first_sync(svc, slice_).metrics
    assert (metrics.no_local_endpoints_internal, metrics.no_local_endpoints_external) == (internal, external)


def test_proxier_metrics_iptables_total_rules():
    """The rules-total metrics equal the rules of the restore input, after the first sync and after the
    service's endpoints appear (a partial sync that rewrites its chains); the ClusterIP service's nodePort
    field is set and ignored."""
    svc = service("ns1", "svc1", "172.30.0.41", port(node_port=31201))
    first = _first_sync(svc)
    second = sync(first.succeeded, cluster(svc, eps("ns1", "svc1", ep("10.0.0.2"), ep("10.0.0.5"))), fake_config(),
                  ("ns1/svc1",), now=1.0)
    assert first.full and not second.full
    for outcome in (first, second):
        counts = {t.name: sum(len(c.rules) for c in t.chains) for t in parse_dump(render_ruleset(outcome.restore))}
        assert (outcome.metrics.filter_rules, outcome.metrics.nat_rules_total) == (counts["filter"], counts["nat"])


def test_overall_iptables_rules_nat_metric():
    """TestOverallIPTablesRules' last check: the nat rules-total metric equals the nat rules of its dump."""
    from .test_overall import EXPECTED, overall_cluster

    nat_rules = sum(len(c.rules) for t in parse_dump(EXPECTED) if t.name == "nat" for c in t.chains)
    assert sync(SyncState(), overall_cluster(), fake_config(), (), now=0.0).metrics.nat_rules_total == nat_rules
