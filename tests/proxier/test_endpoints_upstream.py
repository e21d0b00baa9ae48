"""Upstream's endpoint-cache tests (pkg/proxy), with their slices and expected values.

endpointslicecache_test.go (stored at 05e14799db8e) and
endpointschangetracker_test.go (stored at f2963eff6352, whose tracker
constructor takes the reference's argument order): neither is stored at the
reference commit 531be81208e2; these are the copies the index holds.
What upstream's EndpointSliceCache computes for a service (its endpoints map)
is our ``endpoints_map`` over the service's slices; whether an update is
recorded as a change is our ``EndpointSliceChangeTracker`` (whose view is
``slice_state``, the whole slice, as esDataChanged compares whole slices).

``generate`` is upstream's generateEndpointSliceWithOffset: endpoint i (from 1)
is 10.0.<offset>.<i>, unready when i % unready_mod == 0, terminating when
i % terminating_mod == 0 (then not ready either), on hosts[i % len(hosts)];
port j is named port-<j>, TCP.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Protocol,
)
from kubeproxy_sim.proxier.state import endpoints_map
from kubeproxy_sim.watch.trackers import EndpointSliceChangeTracker

from .builders import fake_config


def generate(service: str, namespace: str, slice_num: int, num: int, unready_mod: int, terminating_mod: int,
             hosts: tuple[str, ...], ports: tuple[int | None, ...], offset: int | None = None,
             address_type: AddressType = AddressType.IPV4) -> EndpointSlice:
    endpoints = []
    for i in range(1, num + 1):
        ready_condition, terminating = i % unready_mod != 0, i % terminating_mod == 0
        endpoints.append(Endpoint(
            (f"10.0.{slice_num if offset is None else offset}.{i}",),
            EndpointConditions(ready_condition and not terminating, ready_condition, terminating),
            node_name=hosts[i % len(hosts)] if hosts else None))
    return EndpointSlice(namespace, f"{service}-{slice_num}", service, address_type, endpoints=tuple(endpoints),
                         ports=tuple(EndpointPort(f"port-{j}", p, Protocol.TCP) for j, p in enumerate(ports)))


def _last_by_name(slices: list[EndpointSlice]) -> list[EndpointSlice]:
    """The cache keeps one slice per name: a later update replaces an earlier one."""
    return list({es.key: es for es in slices}.values())


def _map(slices: list[EndpointSlice], hostname: str, ns: str = "ns1", name: str = "svc1") -> dict[str, list[str]]:
    """One service's endpoints map: port name -> "ip:port local ready serving terminating" (flags as 0/1)."""
    got = endpoints_map([s for s in _last_by_name(slices) if (s.namespace, s.service_name) == (ns, name)],
                        fake_config(node_name=hostname))
    return {port: [f"{e.endpoint} {e.is_local:d}{e.ready:d}{e.serving:d}{e.terminating:d}" for e in found]
            for (_, _, port, _), found in got.items()}


def eps(*entries: str) -> list[str]:
    """Expected endpoints, "ip:port FLAGS" with FLAGS local ready serving terminating as 0/1."""
    return list(entries)


TWO_HOSTS = ("host1", "host2")
READY = "0110"
READY_LOCAL = "1110"

# --- endpointslicecache_test.go: TestEndpointsMapFromESC

ESC_CASES = {
    "1 slice, 2 hosts, ports 80,443": (
        "host1", [generate("svc1", "ns1", 1, 3, 999, 999, TWO_HOSTS, (80, 443))],
        {"port-0": eps(f"10.0.1.1:80 {READY}", f"10.0.1.2:80 {READY_LOCAL}", f"10.0.1.3:80 {READY}"),
         "port-1": eps(f"10.0.1.1:443 {READY}", f"10.0.1.2:443 {READY_LOCAL}", f"10.0.1.3:443 {READY}")}),
    "2 slices, same port": (
        "", [generate("svc1", "ns1", 1, 3, 999, 999, (), (80,)), generate("svc1", "ns1", 2, 3, 999, 999, (), (80,))],
        {"port-0": eps(*(f"10.0.{s}.{i}:80 {READY}" for s in (1, 2) for i in (1, 2, 3)))}),
    "2 overlapping slices, same port": (
        "", [generate("svc1", "ns1", 1, 3, 999, 999, (), (80,)), generate("svc1", "ns1", 1, 4, 999, 999, (), (80,))],
        {"port-0": eps(*(f"10.0.1.{i}:80 {READY}" for i in (1, 2, 3, 4)))}),
    "2 slices, overlapping endpoints, some endpoints unready in 1 or both": (
        "", [generate("svc1", "ns1", 1, 10, 3, 999, (), (80,)), generate("svc1", "ns1", 1, 10, 6, 999, (), (80,))],
        {"port-0": eps(f"10.0.1.10:80 {READY}", *(f"10.0.1.{i}:80 {'0000' if i == 6 else READY}"
                                                   for i in range(1, 10)))}),
    "2 slices, overlapping endpoints, some endpoints unready and some endpoints terminating": (
        "", [generate("svc1", "ns1", 1, 10, 3, 5, (), (80,)), generate("svc1", "ns1", 1, 10, 6, 5, (), (80,))],
        {"port-0": eps("10.0.1.10:80 0011", *(f"10.0.1.{i}:80 {({5: '0011', 6: '0000'}).get(i, READY)}"
                                               for i in range(1, 10)))}),
    "2 slices, overlapping endpoints, all unready": (
        "", [generate("svc1", "ns1", 1, 10, 1, 999, (), (80,)), generate("svc1", "ns1", 1, 10, 1, 999, (), (80,))],
        {"port-0": eps("10.0.1.10:80 0000", *(f"10.0.1.{i}:80 0000" for i in range(1, 10)))}),
    "3 slices with different services and namespaces": (
        "", [generate("svc1", "ns1", 1, 3, 999, 999, (), (80,)), generate("svc2", "ns1", 2, 3, 999, 999, (), (80,)),
             generate("svc1", "ns2", 3, 3, 999, 999, (), (80,))],
        {"port-0": eps(*(f"10.0.1.{i}:80 {READY}" for i in (1, 2, 3)))}),
    "Nil port should not break anything": (
        "host1", [generate("svc1", "ns1", 1, 3, 999, 999, TWO_HOSTS, (None,))], {}),
    "Different endpoints with duplicate IPs should not be filtered": (
        "host1", [generate("svc1", "ns1", 1, 2, 999, 999, TWO_HOSTS, (80,), offset=1),
                  generate("svc1", "ns1", 2, 2, 999, 999, TWO_HOSTS, (8080,), offset=1)],
        {"port-0": eps(f"10.0.1.1:80 {READY}", f"10.0.1.1:8080 {READY}", f"10.0.1.2:80 {READY_LOCAL}",
                       f"10.0.1.2:8080 {READY_LOCAL}")}),
}


@pytest.mark.parametrize(("hostname", "slices", "expected"), ESC_CASES.values(), ids=list(ESC_CASES))
def test_endpoints_map_from_esc(hostname, slices, expected):
    assert _map(slices, hostname) == expected


def test_endpoint_info_by_service_port():
    """TestEndpointInfoByServicePort: the same endpoints keyed by ip:port (its two cases are ESC cases 1 and 9
    with one port)."""
    simple = _map([generate("svc1", "ns1", 1, 3, 999, 999, TWO_HOSTS, (80,))], "host1")
    assert simple == {"port-0": eps(f"10.0.1.1:80 {READY}", f"10.0.1.2:80 {READY_LOCAL}", f"10.0.1.3:80 {READY}")}
    duplicate_ips = _map([generate("svc1", "ns1", 1, 2, 999, 999, TWO_HOSTS, (80,), offset=1),
                          generate("svc1", "ns1", 2, 2, 999, 999, TWO_HOSTS, (8080,), offset=1)], "host1")
    assert set(duplicate_ips["port-0"]) == {f"10.0.1.1:80 {READY}", f"10.0.1.2:80 {READY_LOCAL}",
                                            f"10.0.1.1:8080 {READY}", f"10.0.1.2:8080 {READY_LOCAL}"}


# --- endpointslicecache_test.go: TestEsDataChanged

HTTP, HTTPS = EndpointPort("http", 80, Protocol.TCP), EndpointPort("https", 443, Protocol.TCP)
E1, E2 = Endpoint(("10.0.1.0",)), Endpoint(("10.0.1.1",))


def _foo(ports: tuple[EndpointPort, ...], endpoints: tuple[Endpoint, ...] = ()) -> EndpointSlice:
    # upstream calls esDataChanged directly, past the address-type filter; ours needs the proxier's family
    return EndpointSlice("bar", "foo", "svc1", AddressType.IPV4, endpoints=endpoints, ports=ports)


ES_DATA_CASES = {
    "identical slices, ports only": (_foo((HTTP,)), _foo((HTTP,)), False),
    "identical slices, ports out of order": (_foo((HTTPS, HTTP)), _foo((HTTP, HTTPS)), True),
    "port removed": (_foo((HTTPS, HTTP)), _foo((HTTPS,)), True),
    "port added": (_foo((HTTPS,)), _foo((HTTPS, HTTP)), True),
    "identical with endpoints": (_foo((HTTPS,), (E1, E2)), _foo((HTTPS,), (E1, E2)), False),
    "identical with endpoints out of order": (_foo((HTTPS,), (E1, E2)), _foo((HTTPS,), (E2, E1)), True),
    "identical with endpoint added": (_foo((HTTPS,), (E1,)), _foo((HTTPS,), (E2, E1)), True),
}


@pytest.mark.parametrize(("initial", "updated", "changed"), ES_DATA_CASES.values(), ids=list(ES_DATA_CASES))
def test_es_data_changed(initial, updated, changed):
    tracker = EndpointSliceChangeTracker(initial=[initial])
    tracker.set(updated.key, updated)
    assert tracker.asks_sync(updated.key) is changed
    assert tracker.pending() == ({"bar/svc1"} if changed else set())


# --- endpointschangetracker_test.go: TestEndpointSliceUpdate and TestCheckoutChanges


def _s(slice_num: int, num: int, unready_mod: int = 999, terminating_mod: int = 999,
       hosts: tuple[str, ...] = TWO_HOSTS, ports: tuple[int, ...] = (80, 443), offset: int | None = None):
    return generate("svc1", "ns1", slice_num, num, unready_mod, terminating_mod, hosts, ports, offset)


FQDN = generate("svc1", "ns1", 2, 5, 999, 999, ("host1",), (80, 443), address_type=AddressType.FQDN)
H1 = ("host1",)


def _both(*entries: str) -> dict[str, list[str]]:
    """The same endpoints on port-0 (80) and port-1 (443): entries are "ip FLAGS"."""
    return {f"port-{j}": [f"{e.split()[0]}:{p} {e.split()[1]}" for e in entries] for j, p in enumerate((80, 443))}


SLICE_UPDATE_CASES = {
    # name: (starting slices, the update, remove it, a change is recorded, the service's map after, or None)
    "add a simple slice that doesn't already exist": (
        [], _s(1, 3), False, True, _both("10.0.1.1 0110", "10.0.1.2 1110", "10.0.1.3 0110")),
    "add the same slice that already exists": ([_s(1, 3)], _s(1, 3), False, False, None),
    "add an FQDN slice (invalid address type)": ([_s(1, 3)], FQDN, False, False, None),
    "add a slice that overlaps with existing state": (
        [_s(1, 3), _s(2, 2)], _s(1, 5, hosts=H1), False, True,
        _both(*(f"10.0.1.{i} 1110" for i in range(1, 6)), "10.0.2.1 0110", "10.0.2.2 1110")),
    "add a slice that overlaps with existing state and partial ports": (
        [_s(1, 3), _s(2, 2)], _s(3, 5, hosts=H1, ports=(80,), offset=1), False, True,
        {"port-0": [*(f"10.0.1.{i}:80 1110" for i in range(1, 6)), "10.0.2.1:80 0110", "10.0.2.2:80 1110"],
         "port-1": ["10.0.1.1:443 0110", "10.0.1.2:443 1110", "10.0.1.3:443 0110", "10.0.2.1:443 0110",
                    "10.0.2.2:443 1110"]}),
    "remove a slice that overlaps with existing state": (
        [_s(1, 3), _s(2, 2)], _s(1, 5, hosts=H1), True, True, _both("10.0.2.1 0110", "10.0.2.2 1110")),
    "remove a slice that doesn't even exist in current state": (
        [_s(1, 5, hosts=H1), _s(2, 2, hosts=H1)], _s(3, 5, hosts=H1), True, False, None),
    "transition all endpoints to unready state": (
        [_s(1, 3)], _s(1, 3, unready_mod=1, hosts=H1), False, True,
        _both("10.0.1.1 1000", "10.0.1.2 1000", "10.0.1.3 1000")),
    "transition all endpoints to ready state": (
        [_s(1, 2, unready_mod=1)], _s(1, 2, hosts=H1), False, True, _both("10.0.1.1 1110", "10.0.1.2 1110")),
    "transition some endpoints to ready state": (
        [_s(1, 3, unready_mod=2, hosts=H1), _s(2, 2, unready_mod=2, hosts=H1)], _s(1, 3, unready_mod=3, hosts=H1),
        False, True,
        _both("10.0.1.1 1110", "10.0.1.2 1110", "10.0.1.3 1000", "10.0.2.1 1110", "10.0.2.2 1000")),
    "transition some endpoints to terminating state": (
        [_s(1, 3, 2, 2, H1), _s(2, 2, 2, 2, H1)], _s(1, 3, 3, 2, H1), False, True,
        _both("10.0.1.1 1110", "10.0.1.2 1011", "10.0.1.3 1000", "10.0.2.1 1110", "10.0.2.2 1001")),
}


@pytest.mark.parametrize(("starting", "update", "remove", "recorded", "current"), SLICE_UPDATE_CASES.values(),
                         ids=list(SLICE_UPDATE_CASES))
def test_endpoint_slice_update(starting, update, remove, recorded, current):
    tracker = EndpointSliceChangeTracker(initial=starting)
    tracker.set(update.key, None if remove else update)
    assert tracker.asks_sync(update.key) is recorded
    assert tracker.pending() == ({"ns1/svc1"} if recorded else set())
    if current is not None:
        assert _map(list(tracker.slices_for("ns1/svc1")), "host1") == current


def test_checkout_changes():
    """TestCheckoutChanges: the previous and current maps of the one service changed (hostname "")."""
    initial = generate("svc1", "ns1", 1, 3, 3, 2, H1, (80,))
    assert _map([initial], "") == {"port-0": ["10.0.1.1:80 0110", "10.0.1.2:80 0011", "10.0.1.3:80 0000"]}
    applied, pending = generate("svc1", "ns1", 1, 3, 3, 999, H1, (80, 443)), generate("svc1", "ns1", 1, 3, 3, 999,
                                                                                       H1, (80,))
    tracker = EndpointSliceChangeTracker(initial=[applied])
    tracker.set(pending.key, pending)
    assert tracker.apply().changed == {"ns1/svc1"}
    ready = ("0110", "0110", "0000")
    assert _map([applied], "") == {f"port-{j}": [f"10.0.1.{i}:{p} {f}" for i, f in zip((1, 2, 3), ready, strict=True)]
                                   for j, p in enumerate((80, 443))}
    assert _map([pending], "") == {"port-0": [f"10.0.1.{i}:80 {f}" for i, f in zip((1, 2, 3), ready, strict=True)]}
    assert EndpointSliceChangeTracker().apply().changed == frozenset()  # "empty slices"


# --- endpointschangetracker_test.go: TestUpdateEndpointsMap's cases that proxier_test.go's copy lacks
# (its other 15 cases are proxier_test.go's with other addresses: test_proxier_maps_upstream.py)


def _udp_slice(endpoints: tuple[Endpoint, ...]) -> EndpointSlice:
    return EndpointSlice("ns1", "ep1-1", "ep1", AddressType.IPV4, endpoints=endpoints,
                         ports=(EndpointPort("", 11, Protocol.UDP),))


UNNAMED = _udp_slice((Endpoint(("1.1.1.1",)),))
UNNAMED_READY = _udp_slice((Endpoint(("1.1.1.1",), EndpointConditions(True, True, False)),))
UNNAMED_TERMINATING = _udp_slice((Endpoint(("1.1.1.1",), EndpointConditions(False, True, True)),))
EMPTY = EndpointSlice("ns1", "ep1-1", "ep1", AddressType.IPV4)

EXTRA_UPDATE_CASES = {
    # name: (before, after, map after, the service is reported changed)
    "no change, unnamed port": (UNNAMED, UNNAMED, {"": ["1.1.1.1:11 0110"]}, False),
    "change from ready to terminating pod": (UNNAMED_READY, UNNAMED_TERMINATING, {"": ["1.1.1.1:11 0011"]}, True),
    "change from terminating to empty pod": (UNNAMED_TERMINATING, EMPTY, {}, True),
}


@pytest.mark.parametrize(("before", "after", "current", "changed"), EXTRA_UPDATE_CASES.values(),
                         ids=list(EXTRA_UPDATE_CASES))
def test_update_endpoints_map_extra_cases(before, after, current, changed):
    from kubeproxy_sim.objects.model import Cluster
    from kubeproxy_sim.simulator.stale import udp_cleanup

    tracker = EndpointSliceChangeTracker(initial=[before])
    tracker.set(after.key, after)
    assert tracker.apply().changed == ({"ns1/ep1"} if changed else frozenset())
    assert _map([after], "test-hostname", "ns1", "ep1") == current
    cleanup = udp_cleanup(Cluster((), (before,)), Cluster((), (after,)), fake_config(node_name="test-hostname"))
    assert (cleanup is not None) is changed  # every case's ConntrackCleanupRequired equals its change


# --- endpointschangetracker_test.go: TestGetLocalEndpointIPs (through the health check's count of them)

R, T = EndpointConditions(True, True, False), EndpointConditions(False, True, True)  # ready; serving, terminating
LOCAL_IPS_CASES = {
    # case: ({(ns, name, port, number): [(ip, local, conditions)]}, {service: its local ready IPs})
    "nothing": ({}, {}),
    "unnamed port": ({("ns1", "ep1", "", 11): [("1.1.1.1", False, R)]}, {}),
    "unnamed port local": ({("ns1", "ep1", "", 11): [("1.1.1.1", True, R)]}, {"ns1/ep1": {"1.1.1.1"}}),
    "named local and non-local ports for the same IP": (
        {("ns1", "ep1", "p11", 11): [("1.1.1.1", False, R), ("1.1.1.2", True, R)],
         ("ns1", "ep1", "p12", 12): [("1.1.1.1", False, R), ("1.1.1.2", True, R)]}, {"ns1/ep1": {"1.1.1.2"}}),
    "named local and non-local ports for different IPs": (
        {("ns1", "ep1", "p11", 11): [("1.1.1.1", False, R)],
         ("ns2", "ep2", "p22", 22): [("2.2.2.2", True, R), ("2.2.2.22", True, R)],
         ("ns2", "ep2", "p23", 23): [("2.2.2.3", True, R)],
         ("ns4", "ep4", "p44", 44): [("4.4.4.4", True, R), ("4.4.4.5", False, R)],
         ("ns4", "ep4", "p45", 45): [("4.4.4.6", True, R)]},
        {"ns2/ep2": {"2.2.2.2", "2.2.2.22", "2.2.2.3"}, "ns4/ep4": {"4.4.4.4", "4.4.4.6"}}),
    "named local and non-local ports for different IPs, some not ready": (
        {("ns1", "ep1", "p11", 11): [("1.1.1.1", False, R)],
         ("ns2", "ep2", "p22", 22): [("2.2.2.2", True, R), ("2.2.2.22", True, R)],
         ("ns2", "ep2", "p23", 23): [("2.2.2.3", True, T)],
         ("ns4", "ep4", "p44", 44): [("4.4.4.4", True, R), ("4.4.4.5", False, R)],
         ("ns4", "ep4", "p45", 45): [("4.4.4.6", True, R)]},
        {"ns2/ep2": {"2.2.2.2", "2.2.2.22"}, "ns4/ep4": {"4.4.4.4", "4.4.4.6"}}),
    "all endpoints are terminating": (
        {("ns1", "ep1", "p11", 11): [("1.1.1.1", False, T)],
         ("ns2", "ep2", "p22", 22): [("2.2.2.2", True, T), ("2.2.2.22", True, T)],
         ("ns2", "ep2", "p23", 23): [("2.2.2.3", True, T)],
         ("ns4", "ep4", "p44", 44): [("4.4.4.4", True, T), ("4.4.4.5", False, T)],
         ("ns4", "ep4", "p45", 45): [("4.4.4.6", True, T)]}, {}),
}


@pytest.mark.parametrize(("ports", "expected"), LOCAL_IPS_CASES.values(), ids=list(LOCAL_IPS_CASES))
def test_get_local_endpoint_ips(ports, expected):
    from kubeproxy_sim.simulator.health import local_ready_endpoints

    slices: dict[str, list[EndpointSlice]] = {}
    for index, ((ns, name, port_name, number), endpoints) in enumerate(ports.items()):
        slices.setdefault(f"{ns}/{name}", []).append(EndpointSlice(
            ns, f"{name}-{index}", name, AddressType.IPV4,
            endpoints=tuple(Endpoint((ip,), cond, node_name="host1" if local else None)
                            for ip, local, cond in endpoints),
            ports=(EndpointPort(port_name, number, Protocol.TCP),)))
    counts = {svc: local_ready_endpoints(group, fake_config(node_name="host1")) for svc, group in slices.items()}
    assert {svc: n for svc, n in counts.items() if n} == {svc: len(ips) for svc, ips in expected.items()}
