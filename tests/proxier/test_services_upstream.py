"""Upstream's servicechangetracker_test.go (stored at f2963eff6352; not stored at 531be81208e2), reproduced.

TestServiceToServiceMap: the service ports one proxier derives from a Service
(cluster IP, port, protocol, health check node port, external IPs, source
ranges, load-balancer VIPs), compared as upstream compares them: addresses as
addresses, not as text. Upstream runs every case without ``ipModeEnabled``
with LoadBalancerIPMode off (emulating release 1.31); we model the gate on, as
it is at the reference commit. That changes nothing where the ingress has no
ipMode or ipMode VIP (the IP is a load-balancer VIP either way), so those
cases are here, "ipMode VIP feature gate disable" included; "ipMode Proxy
feature gate disable" is left out, as with the gate on the Proxy IP is no VIP.
TestBuildServiceMap*, TestServiceMapUpdateHeadless and
TestUpdateServiceTypeExternalName also count the services the change tracker
reports updated.
"""

from __future__ import annotations

import ipaddress

import pytest

from kubeproxy_sim.objects.model import IPFamily, LoadBalancerIngress, Protocol, Service, ServiceType
from kubeproxy_sim.objects.model import TrafficPolicy as TP
from kubeproxy_sim.proxier.state import service_ports
from kubeproxy_sim.watch.events import EventType, Kind, WatchEvent
from kubeproxy_sim.watch.trackers import ServiceChangeTracker

from .builders import fake_config, port, service, service_map

UDP, TCP = Protocol.UDP, Protocol.TCP
V4_CLUSTER, V4_EXTERNAL, V4_RANGE = "10.0.0.1", "8.8.8.8", "0.0.0.0/1"
V6_CLUSTER, V6_EXTERNAL = "2001:db8:85a3:0:0:8a2e:370:7334", "2001:db8:85a3:0:0:8a2e:370:7335"
V6_RANGE = "2001:db8::/32"


def _port(name: str, protocol: Protocol, number: int, node_port: int = 0, target: int = 0):
    return port(name, number, protocol, node_port, target)


def _lb(ns: str, name: str, ip: str, *ports, ingress, **kw) -> Service:
    return service(ns, name, ip, *ports, type=ServiceType.LOAD_BALANCER, lb=ingress, **kw)


def _dual(name: str, cluster_ip: str, external: tuple[str, ...], ranges: tuple[str, ...]) -> Service:
    return service("test", name, cluster_ip, _port("testPort", TCP, 12345), external_ips=external,
                   load_balancer_source_ranges=ranges, lb=(V4_EXTERNAL, V6_EXTERNAL))


def _info(cluster_ip: str, number: int, protocol: Protocol, health: int = 0, external=(), ranges=(), vips=()):
    return (cluster_ip, number, protocol, health, external, ranges, vips)


V4, V6 = IPFamily.IPV4, IPFamily.IPV6
TO_SERVICE_MAP = {
    # desc: (family, service or None, {"ns/name:port": (cluster IP, port, protocol, health check, external
    # IPs, source ranges, LB VIPs)})
    "nothing": (V4, None, {}),
    "headless service": (V4, service("ns2", "headless", (), _port("rpc", UDP, 1234)), {}),
    "headless sctp service": (V4, service("ns2", "headless", (), _port("sip", Protocol.SCTP, 7777)), {}),
    "headless service without port": (V4, service("ns2", "headless-without-port", (), ports=()), {}),
    "cluster ip service": (
        V4, service("ns2", "cluster-ip", "172.16.55.4", _port("p1", UDP, 1234, 4321), _port("p2", UDP, 1235, 5321)),
        {"ns2/cluster-ip:p1": _info("172.16.55.4", 1234, UDP), "ns2/cluster-ip:p2": _info("172.16.55.4", 1235, UDP)}),
    "nodeport service": (
        V4, service("ns2", "node-port", "172.16.55.10", _port("port1", UDP, 345, 678), _port("port2", TCP, 344, 677),
                    type=ServiceType.NODE_PORT),
        {"ns2/node-port:port1": _info("172.16.55.10", 345, UDP),
         "ns2/node-port:port2": _info("172.16.55.10", 344, TCP)}),
    "load balancer service": (
        V4, _lb("ns1", "load-balancer", "172.16.55.11", _port("port3", UDP, 8675, 30061, 7000),
                _port("port4", UDP, 8676, 30062, 7001), ingress=("10.1.2.4",)),
        {"ns1/load-balancer:port3": _info("172.16.55.11", 8675, UDP, vips=("10.1.2.4",)),
         "ns1/load-balancer:port4": _info("172.16.55.11", 8676, UDP, vips=("10.1.2.4",))}),
    "load balancer service ipMode VIP feature gate disable": (
        V4, _lb("ns1", "load-balancer", "172.16.55.11", _port("port3", UDP, 8675, 30061, 7000),
                _port("port4", UDP, 8676, 30062, 7001), ingress=(LoadBalancerIngress(ip="10.1.2.4", ip_mode="VIP"),)),
        {"ns1/load-balancer:port3": _info("172.16.55.11", 8675, UDP, vips=("10.1.2.4",)),
         "ns1/load-balancer:port4": _info("172.16.55.11", 8676, UDP, vips=("10.1.2.4",))}),
    "load balancer service ipMode VIP feature gate enabled": (
        V4, _lb("ns1", "load-balancer", "172.16.55.11", _port("port3", UDP, 8675, 30061, 7000),
                _port("port4", UDP, 8676, 30062, 7001), ingress=(LoadBalancerIngress(ip="10.1.2.4", ip_mode="VIP"),)),
        {"ns1/load-balancer:port3": _info("172.16.55.11", 8675, UDP, vips=("10.1.2.4",)),
         "ns1/load-balancer:port4": _info("172.16.55.11", 8676, UDP, vips=("10.1.2.4",))}),
    "load balancer service ipMode Proxy feature gate enabled": (
        V4, _lb("ns1", "load-balancer", "172.16.55.11", _port("port3", UDP, 8675, 30061, 7000),
                _port("port4", UDP, 8676, 30062, 7001),
                ingress=(LoadBalancerIngress(ip="10.1.2.4", ip_mode="Proxy"),)),
        {"ns1/load-balancer:port3": _info("172.16.55.11", 8675, UDP),
         "ns1/load-balancer:port4": _info("172.16.55.11", 8676, UDP)}),
    "load balancer service with only local traffic policy": (
        V4, _lb("ns1", "only-local-load-balancer", "172.16.55.12", _port("portx", UDP, 8677, 30063, 7002),
                _port("porty", UDP, 8678, 30064, 7003), ingress=("10.1.2.3",),
                external_traffic_policy=TP.LOCAL, health_check_node_port=345),
        {"ns1/only-local-load-balancer:portx": _info("172.16.55.12", 8677, UDP, 345, vips=("10.1.2.3",)),
         "ns1/only-local-load-balancer:porty": _info("172.16.55.12", 8678, UDP, 345, vips=("10.1.2.3",))}),
    "external name service": (
        V4, service("ns2", "external-name", "172.16.55.4", _port("portz", UDP, 1235, 5321),
                    type=ServiceType.EXTERNAL_NAME, external_name="foo2.bar.com"), {}),
    "service with ipv6 clusterIP under ipv4 mode, service should be filtered": (
        V4, service("test", "invalidIPv6InIPV4Mode", V6_CLUSTER, _port("testPort", TCP, 12345),
                    lb=(V4_EXTERNAL, V6_EXTERNAL)), {}),
    "service with ipv4 clusterIP under ipv6 mode, service should be filtered": (
        V6, service("test", "invalidIPv4InIPV6Mode", V4_CLUSTER, _port("testPort", TCP, 12345),
                    lb=(V4_EXTERNAL, V6_EXTERNAL)), {}),
    "service with ipv4 configurations under ipv4 mode": (
        V4, _dual("validIPv4", V4_CLUSTER, (V4_EXTERNAL,), (V4_RANGE,)),
        {"test/validIPv4:testPort": _info(V4_CLUSTER, 12345, TCP, 0, (V4_EXTERNAL,), (V4_RANGE,), (V4_EXTERNAL,))}),
    "service with ipv6 configurations under ipv6 mode": (
        V6, _dual("validIPv6", V6_CLUSTER, (V6_EXTERNAL,), (V6_RANGE,)),
        {"test/validIPv6:testPort": _info(V6_CLUSTER, 12345, TCP, 0, (V6_EXTERNAL,), (V6_RANGE,), (V6_EXTERNAL,))}),
    "service with both ipv4 and ipv6 configurations under ipv4 mode, ipv6 fields should be filtered": (
        V4, _dual("filterIPv6InIPV4Mode", V4_CLUSTER, (V4_EXTERNAL, V6_EXTERNAL), (V4_RANGE, V6_RANGE)),
        {"test/filterIPv6InIPV4Mode:testPort": _info(V4_CLUSTER, 12345, TCP, 0, (V4_EXTERNAL,), (V4_RANGE,),
                                                     (V4_EXTERNAL,))}),
    "service with both ipv4 and ipv6 configurations under ipv6 mode, ipv4 fields should be filtered": (
        V6, _dual("filterIPv4InIPV6Mode", V6_CLUSTER, (V4_EXTERNAL, V6_EXTERNAL), (V4_RANGE, V6_RANGE)),
        {"test/filterIPv4InIPV6Mode:testPort": _info(V6_CLUSTER, 12345, TCP, 0, (V6_EXTERNAL,), (V6_RANGE,),
                                                     (V6_EXTERNAL,))}),
    "service with extra space in LoadBalancerSourceRanges": (
        V4, service("test", "extra-space", V4_CLUSTER, _port("testPort", TCP, 12345),
                    load_balancer_source_ranges=(" 10.1.2.0/28",)),
        {"test/extra-space:testPort": _info(V4_CLUSTER, 12345, TCP, ranges=("10.1.2.0/28",))}),
}


def _addresses(values) -> tuple:
    return tuple(ipaddress.ip_network(v) if "/" in v else ipaddress.ip_address(v) for v in values)


def _normal(info: tuple) -> tuple:
    cluster_ip, number, protocol, health, external, ranges, vips = info
    return (ipaddress.ip_address(cluster_ip), number, protocol, health, _addresses(external), _addresses(ranges),
            _addresses(vips))


@pytest.mark.parametrize(("family", "svc", "expected"), TO_SERVICE_MAP.values(), ids=list(TO_SERVICE_MAP))
def test_service_to_service_map(family, svc, expected):
    infos = service_ports(svc, fake_config(ip_family=family)) if svc is not None else ()
    got = {p.name_string: _normal((p.cluster_ip, p.port, p.protocol, p.health_check_node_port, p.external_ips,
                                   p.source_ranges, p.load_balancer_vips)) for p in infos}
    assert got == {k: _normal(v) for k, v in expected.items()}


# --- the change tracker's updated services, with the service map


def _event(kind: EventType, svc: Service) -> WatchEvent:
    return WatchEvent(kind, Kind.SERVICE, svc.key, "1", svc)


def _sync(tracker: ServiceChangeTracker) -> tuple[int, int, dict[str, int]]:
    """(updated services, service map length, health check node ports), as svcPortMap.Update reports them."""
    update = tracker.apply()
    return len(update.changed), *service_map(update.objects.values())


def test_service_map_update_headless_and_external_name():
    """TestServiceMapUpdateHeadless and TestUpdateServiceTypeExternalName: no port, no updated service."""
    for svc in (service("ns2", "headless", (), _port("rpc", UDP, 1234)),
                service("ns2", "headless-without-port", (), ports=()),
                service("ns2", "external-name", "172.16.55.4", _port("blah", UDP, 1235, 5321),
                        type=ServiceType.EXTERNAL_NAME, external_name="foo2.bar.com")):
        tracker = ServiceChangeTracker()
        tracker.observe(_event(EventType.ADDED, svc))
        assert _sync(tracker) == (0, 0, {})


def test_build_service_map_add_remove():
    services = [
        service("ns2", "cluster-ip", "172.16.55.4", _port("port1", UDP, 1234, 4321), _port("port2", UDP, 1235, 5321)),
        service("ns2", "node-port", "172.16.55.10", _port("port1", UDP, 345, 678), _port("port2", TCP, 344, 677),
                type=ServiceType.NODE_PORT),
        _lb("ns1", "load-balancer", "172.16.55.11", _port("foobar", UDP, 8675, 30061, 7000),
            _port("baz", UDP, 8676, 30062, 7001), ingress=("10.1.2.4",)),
        _lb("ns1", "only-local-load-balancer", "172.16.55.12", _port("foobar2", UDP, 8677, 30063, 7002),
            _port("baz", UDP, 8678, 30064, 7003), ingress=("10.1.2.3",), external_traffic_policy=TP.LOCAL,
            health_check_node_port=345),
    ]
    tracker = ServiceChangeTracker()
    for svc in services:
        tracker.observe(_event(EventType.ADDED, svc))
    assert _sync(tracker) == (4, 8, {"ns1/only-local-load-balancer": 345})
    tracker.observe(_event(EventType.MODIFIED, service("ns2", "cluster-ip", "172.16.55.4",
                                                       _port("p2", UDP, 1235, 5321))))
    for svc in services[1:]:
        tracker.observe(_event(EventType.DELETED, svc))
    assert _sync(tracker) == (4, 1, {})


def test_build_service_map_service_update():
    v1 = service("ns1", "svc1", "172.16.55.4", _port("p1", UDP, 1234, 4321), _port("p2", TCP, 1235, 5321))
    v2 = _lb("ns1", "svc1", "172.16.55.4", _port("p1", UDP, 1234, 4321, 7002), _port("p2", TCP, 1235, 5321, 7003),
             ingress=("10.1.2.3",), external_traffic_policy=TP.LOCAL, health_check_node_port=345)
    tracker = ServiceChangeTracker()
    steps = [(EventType.ADDED, v1), (EventType.MODIFIED, v2), (EventType.MODIFIED, v2), (EventType.MODIFIED, v1)]
    results = []
    for kind, svc in steps:
        tracker.observe(_event(kind, svc))
        results.append(_sync(tracker))
    assert results == [(1, 2, {}), (1, 2, {"ns1/svc1": 345}), (0, 2, {"ns1/svc1": 345}), (1, 2, {})]
