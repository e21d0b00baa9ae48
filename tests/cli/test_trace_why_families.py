"""A trace's notes on a dual-stack Service: kube-proxy reads loadBalancerSourceRanges per family
(pkg/proxy/serviceport.go filters them with MapCIDRsByIPFamily), so ranges of one family only leave the other
family's load-balancer IPs open to every client; the trace that reaches such an IP says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

CLUSTER = """
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDRs: [10.244.1.0/24, "fd00:10:244:1::/64"]}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}, {type: InternalIP, address: "2001:db8::10"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00:10:96::10"]
  ipFamilies: [IPv4, IPv6]
  ipFamilyPolicy: RequireDualStack
  loadBalancerSourceRanges: [%s]
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.80}, {ip: "2001:db8:ffff::80"}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-v6, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv6
endpoints: [{addresses: ["fd00:10:244:1::10"], nodeName: node1}]
ports: [{name: http, port: 8080, protocol: TCP}]
"""

OPEN = ("spec.loadBalancerSourceRanges of default/web (203.0.113.0/24) holds no IPv6 range, and kube-proxy keeps "
        "only the ranges of its own family: its IPv6 rules let every client reach 2001:db8:ffff::80")


def notes(tmp_path: Path, capsys: pytest.CaptureFixture[str], ranges: str, *packet: str) -> list[str]:
    """The IPv6 trace's notes, the same in its text and its JSON."""
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER % ranges)
    argv = ["trace", "-f", str(path), "--ip-family", "ipv6", "--cluster-cidr", "fd00:10:244::/56", *packet]
    assert main([*argv, "-o", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["notes"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert [line.removeprefix("note: ") for line in text.splitlines() if line.startswith("note: ")] == found
    return found


def test_ranges_of_the_other_family_only_leave_the_load_balancer_ip_open(tmp_path, capsys) -> None:
    outside = ("--src", "2001:db8:bbbb::1", "--dst", "2001:db8:ffff::80", "--dport", "80")
    assert notes(tmp_path, capsys, "203.0.113.0/24", *outside) == [OPEN]


def test_no_note_where_the_family_has_a_range_or_the_packet_is_no_load_balancer_ip(tmp_path, capsys) -> None:
    inside = ("--src", "2001:db8:aaaa::1", "--dst", "2001:db8:ffff::80", "--dport", "80")
    assert notes(tmp_path, capsys, '203.0.113.0/24, "2001:db8:aaaa::/48"', *inside) == []
    node_port = ("--src", "2001:db8:bbbb::1", "--dst", "2001:db8::10", "--dport", "30080")
    assert notes(tmp_path, capsys, "203.0.113.0/24", *node_port) == []
    assert notes(tmp_path, capsys, "", "--src", "2001:db8:bbbb::1", "--dst", "2001:db8:ffff::80", "--dport", "80") \
        == []


def test_an_ipv4_trace_names_no_endpoint_of_the_ipv6_slices(tmp_path, capsys) -> None:
    """kube-proxy's IPv4 rules read the IPv4 slices only (endpoints_map): the IPv6 slice's address is not why the
    IPv4 cluster IP rejects."""
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER % "203.0.113.0/24")
    argv = ["trace", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
            "--src", "10.244.1.5", "--dst", "10.96.0.10", "--dport", "80", "-o", "json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [
        "default/web:http has no endpoints, so kube-proxy rejects the connection (ICMP port unreachable): its "
        "EndpointSlices list no address (the Service has no selector: its EndpointSlices are written by hand or by "
        "another controller)"]
