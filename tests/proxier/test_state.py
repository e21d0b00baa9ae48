"""Service ports and endpoint maps: what kube-proxy derives from Services and EndpointSlices."""

from __future__ import annotations

import textwrap

from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import (
    EndpointPort,
    IPFamily,
    LoadBalancerIngress,
    Protocol,
    ServiceType,
    TrafficPolicy,
)
from kubeproxy_sim.proxier.state import all_service_ports, endpoints_map, service_ports

from .builders import cluster, ep, eps, fake_config, port, service


def test_endpoints_are_merged_deduplicated_and_sorted_as_text():
    slices = [
        eps("ns1", "ep1", ep("10.1.1.1"), ep("10.1.1.11"), ports=(EndpointPort("p11", 11, Protocol.UDP),)),
        eps("ns1", "ep1", ep("10.1.1.1", terminating=True, ready=False),
            ports=(EndpointPort("p11", 11, Protocol.UDP),), slice_num=2),
    ]
    result = endpoints_map(slices, fake_config())
    got = result[("ns1", "ep1", "p11", Protocol.UDP)]
    # "10.1.1.11:11" < "10.1.1.1:11" as text, as upstream sorts; the non-terminating copy wins.
    assert [e.endpoint for e in got] == ["10.1.1.11:11", "10.1.1.1:11"]
    assert got[1].ready and not got[1].terminating


def test_endpoints_keyed_by_port_name_and_protocol():
    s = eps("ns1", "svc", ep("10.0.0.1", node="test-node"), ep("10.0.0.2"),
            ports=(EndpointPort("http", 8080, Protocol.TCP), EndpointPort("dns", 53, Protocol.UDP),
                   EndpointPort(None, 81, Protocol.TCP), EndpointPort("noport", None, Protocol.TCP)))
    result = endpoints_map([s], fake_config())
    assert set(result) == {("ns1", "svc", "http", Protocol.TCP), ("ns1", "svc", "dns", Protocol.UDP),
                           ("ns1", "svc", "", Protocol.TCP)}
    http = result[("ns1", "svc", "http", Protocol.TCP)]
    assert [(e.endpoint, e.is_local) for e in http] == [("10.0.0.1:8080", True), ("10.0.0.2:8080", False)]


def test_other_family_slices_are_ignored_and_ipv6_endpoints_are_bracketed():
    v4 = eps("ns1", "svc", ep("10.0.0.1"))
    v6 = eps("ns1", "svc", ep("fd00::1"), slice_num=2, ipv6=True)
    assert [e.endpoint for e in endpoints_map([v4, v6], fake_config())[("ns1", "svc", "p80", Protocol.TCP)]] \
        == ["10.0.0.1:80"]
    v6_config = fake_config(ip_family=IPFamily.IPV6)
    assert [e.endpoint for e in endpoints_map([v4, v6], v6_config)[("ns1", "svc", "p80", Protocol.TCP)]] \
        == ["[fd00::1]:80"]


def test_conditions_default_to_ready_and_serving():
    (e,) = endpoints_map([eps("a", "b", ep("10.0.0.1"))], fake_config())[("a", "b", "p80", Protocol.TCP)]
    assert (e.ready, e.serving, e.terminating) == (True, True, False)


def test_skipped_services():
    config = fake_config()
    assert service_ports(service("a", "headless", ()), config) == ()
    assert service_ports(service("a", "en", (), type=ServiceType.EXTERNAL_NAME, external_name="x.y"), config) == ()
    assert service_ports(service("a", "v6only", "fd00::1"), config) == ()


def test_family_filtering():
    svc = service("a", "lb", ("172.30.0.1", "fd00::1"), port(node_port=30001), type=ServiceType.LOAD_BALANCER,
                  external_ips=("192.168.99.1", "2001:db8::9"),
                  lb=("1.2.3.4", "2001:db8::4", LoadBalancerIngress(ip="5.6.7.8", ip_mode="Proxy")),
                  load_balancer_source_ranges=("203.0.113.0/25", "2001:db8::/64"))
    (v4,) = service_ports(svc, fake_config())
    assert (v4.cluster_ip, v4.external_ips, v4.load_balancer_vips, v4.source_ranges) == \
        ("172.30.0.1", ("192.168.99.1",), ("1.2.3.4",), ("203.0.113.0/25",))
    (v6,) = service_ports(svc, fake_config(ip_family=IPFamily.IPV6))
    assert (v6.cluster_ip, v6.external_ips, v6.load_balancer_vips, v6.source_ranges) == \
        ("fd00::1", ("2001:db8::9",), ("2001:db8::4",), ("2001:db8::/64",))


def test_ipv4_mapped_source_ranges_belong_to_the_ipv4_proxier():
    # Go's ParseCIDR and IPNet (checked with go's net): ::ffff:203.0.113.0/120 is the IPv4 203.0.113.0/24,
    # ::ffff:0:0/96 is 0.0.0.0/0; below /96 the ffff is masked off and the range is IPv6 (::ff00:0:0/88); the
    # loader reads them (padding too, trimmed as Go's TrimSpace), the proxier files them by family
    result = load_text(textwrap.dedent("""
        apiVersion: v1
        kind: Service
        metadata: {name: lb, namespace: a}
        spec:
          type: LoadBalancer
          clusterIP: 172.30.0.1
          clusterIPs: [172.30.0.1, fd00::1]
          ipFamilies: [IPv4, IPv6]
          ipFamilyPolicy: RequireDualStack
          loadBalancerSourceRanges: [" ::ffff:203.0.113.0/120", "::FFFF:0:0/96", "::ffff:1.2.3.4/88"]
          ports: [{port: 80, nodePort: 30001}]
        status: {loadBalancer: {ingress: [{ip: 1.2.3.4}, {ip: "2001:db8::4"}]}}
    """), "t.yaml")
    assert result.ok
    (svc,) = result.cluster.services
    (v4,) = service_ports(svc, fake_config())
    assert v4.source_ranges == ("203.0.113.0/24", "0.0.0.0/0")
    (v6,) = service_ports(svc, fake_config(ip_family=IPFamily.IPV6))
    assert v6.source_ranges == ("::ff00:0:0/88",)


def test_health_check_only_for_local_load_balancers():
    local = service("a", "l", "172.30.0.1", type=ServiceType.LOAD_BALANCER,
                    external_traffic_policy=TrafficPolicy.LOCAL, health_check_node_port=30000)
    cluster_policy = service("a", "c", "172.30.0.2", type=ServiceType.LOAD_BALANCER, health_check_node_port=30000)
    assert service_ports(local, fake_config())[0].health_check_node_port == 30000
    assert service_ports(cluster_policy, fake_config())[0].health_check_node_port == 0


def test_external_policy_needs_external_access():
    clusterip_local = service("a", "c", "172.30.0.1", external_traffic_policy=TrafficPolicy.LOCAL)
    assert not service_ports(clusterip_local, fake_config())[0].external_policy_local
    with_external_ip = service("a", "e", "172.30.0.1", external_traffic_policy=TrafficPolicy.LOCAL,
                               external_ips=("192.168.99.1",))
    assert service_ports(with_external_ip, fake_config())[0].external_policy_local


def test_service_ports_ordered_by_service_name_then_port_order():
    c = cluster(service("b", "x", "172.30.0.2", port("z", 2), port("a", 1)), service("a", "y", "172.30.0.1"))
    assert [(p.name_string, p.port) for p in all_service_ports(c, fake_config())] == \
        [("a/y:p80", 80), ("b/x:z", 2), ("b/x:a", 1)]


def test_unnamed_port_name_string():
    (p,) = service_ports(service("ns", "svc", "172.30.0.1", port(name="")), fake_config())
    assert p.name_string == "ns/svc"
