"""TestOverallIPTablesRules, rebuilt in Python: upstream's expected dump must come out byte for byte."""

from __future__ import annotations

from pathlib import Path

from kubeproxy_sim.objects.model import Protocol, ServiceType, SessionAffinity, TrafficPolicy

from .builders import cluster, ep, eps, fake_config, lb_service, port, service
from .dumps import check_jumps, rules_text, upstream_sort

EXPECTED = (Path(__file__).parent / "data" / "overall.rules").read_text()  # upstream's expected dump


def overall_cluster():
    return cluster(
        service("ns1", "svc1", "172.30.0.41"),
        lb_service("ns2", "svc2", "172.30.0.42", port(node_port=3001),
                   external_traffic_policy=TrafficPolicy.LOCAL, lb=("1.2.3.4",),
                   external_ips=("192.168.99.22",), health_check_node_port=30000),
        service("ns3", "svc3", "172.30.0.43", port(node_port=3003), type=ServiceType.NODE_PORT),
        service("ns4", "svc4", "172.30.0.44", type=ServiceType.NODE_PORT, external_ips=("192.168.99.33",)),
        lb_service("ns5", "svc5", "172.30.0.45", port(node_port=3002), lb=("5.6.7.8",),
                   health_check_node_port=30000, load_balancer_source_ranges=(" 203.0.113.0/25",),
                   session_affinity=SessionAffinity.CLIENT_IP, affinity_timeout=10800),
        service("ns6", "svc6", "172.30.0.46", port(protocol=Protocol.TCP)),
        eps("ns1", "svc1", ep("10.180.0.1")),
        eps("ns2", "svc2", ep("10.180.0.2")),
        eps("ns3", "svc3", ep("10.180.0.3")),
        eps("ns4", "svc4", ep("10.180.0.4"), ep("10.180.0.5", node="test-node")),
        eps("ns5", "svc5", ep("10.180.0.3")),
    )


def test_overall_rules_are_byte_identical():
    assert rules_text(overall_cluster(), fake_config()) == EXPECTED


def test_expected_dump_is_canonical_and_consistent():
    assert upstream_sort(EXPECTED) == EXPECTED
    assert check_jumps(EXPECTED) == []
