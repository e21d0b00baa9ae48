"""dist's notes about a Service as a whole (u1's items 8, 9, 10, 14): a hostname-only load-balancer ingress,
topology hints kube-proxy ignores, the default outside client against loadBalancerSourceRanges, and what the
nodes a failed-open balancer sends to do, each true of the rows beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

NODES = """
---
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: a}}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.11}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {topology.kubernetes.io/zone: b}}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.12}]}
"""


def _slice(name: str, endpoints: str, ports: str = "[{name: http, port: 8080, protocol: TCP}]") -> str:
    return f"""
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: default, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
endpoints:
{endpoints}
ports: {ports}
"""


def _lb(name: str, ingress: str, extra: str = "") -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  type: LoadBalancer
  clusterIP: 10.96.7.7
  externalTrafficPolicy: Local
  healthCheckNodePort: 32500
  ports: [{{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}}]
  selector: {{app: {name}}}
{extra}
status:
  loadBalancer:
    ingress: [{ingress}]
"""


def _dist(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *flags: str) -> dict:
    path = tmp_path / "objects.yaml"
    path.write_text(text)
    capsys.readouterr()
    assert main(["dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "-o", "json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def _views(data: dict) -> dict[str, dict]:
    return {v["kind"]: v for v in data["services"][0]["views"]}


READY_ON_NODE2 = "- {addresses: [10.244.1.5], conditions: {ready: true}, nodeName: node2}"


def test_a_hostname_ingress_is_said_on_the_nodeport_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    views = _views(_dist(tmp_path, capsys, _lb("web", "{hostname: a1.elb.example.com}")
                         + _slice("web", READY_ON_NODE2) + NODES))
    assert "loadBalancer" not in views  # kube-proxy writes rules for ingress IPs only
    note = views["nodePort"]["notes"][0]
    assert "a1.elb.example.com is a hostname" in note and "through this NodePort" in note
    assert not any("hostname" in n for n in views["clusterIP"]["notes"])


def test_an_ip_ingress_has_no_hostname_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    views = _views(_dist(tmp_path, capsys, _lb("web", "{ip: 203.0.113.77}") + _slice("web", READY_ON_NODE2) + NODES))
    assert "loadBalancer" in views
    assert not any("hostname" in n for v in views.values() for n in v["notes"])


TOPOLOGY = """
apiVersion: v1
kind: Service
metadata: {name: tz, namespace: default}
spec:
  clusterIP: 10.96.9.1
  trafficDistribution: PreferClose
  selector: {app: tz}
  ports: [{name: http, port: 80, targetPort: 8080}]
""" + _slice("tz", """\
- {addresses: [10.244.0.8], conditions: {ready: true}, nodeName: node1, zone: a, hints: {forZones: [{name: a}]}}
- {addresses: [10.244.1.8], conditions: {ready: true}, nodeName: node2, zone: b%s}""") + NODES


def test_partial_zone_hints_are_said_ignored_naming_the_endpoint(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    view = _views(_dist(tmp_path, capsys, TOPOLOGY % ""))["clusterIP"]
    assert [o["probability_exact"] for e in view["entries"] for o in e["outcomes"]] == ["1/2"] * 4  # even
    assert any("zone hints are ignored: ready endpoint 10.244.1.8:8080 has none" in n for n in view["notes"])


def test_complete_zone_hints_have_no_ignored_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    view = _views(_dist(tmp_path, capsys, TOPOLOGY % ", hints: {forZones: [{name: b}]}"))["clusterIP"]
    assert [o["probability_exact"] for e in view["entries"] for o in e["outcomes"]] == ["1", "1"]  # each its zone
    assert not any("ignored" in n for n in view["notes"])


RANGES = "  loadBalancerSourceRanges: [198.51.100.0/24]"


def test_the_default_client_outside_the_ranges_points_to_from_external(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = _lb("fw", "{ip: 203.0.113.77}", RANGES) + _slice("fw", READY_ON_NODE2) + NODES
    view = _views(_dist(tmp_path, capsys, text))["loadBalancer"]
    assert view["notes"][-1] == ("203.0.113.10 is dist's default outside client; --from external:IP measures "
                                 "another, e.g. an address in 198.51.100.0/24")
    allowed = _views(_dist(tmp_path, capsys, text, "--from", "external:198.51.100.5"))["loadBalancer"]
    assert not any("default outside client" in n for n in allowed["notes"])
    assert [o["endpoint"] for o in allowed["average"]["outcomes"]] == ["10.244.1.5:8080"]


def _fail_open_note(view: dict) -> str:
    return next(n for n in view["notes"] if "fail open" in n)


def test_fail_open_without_endpoints_says_reject_as_the_rows(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    view = _views(_dist(tmp_path, capsys, _lb("web", "{ip: 203.0.113.77}") + NODES))["loadBalancer"]
    assert {o["verdict"] for o in view["average"]["outcomes"]} == {"REJECT"}
    assert "which then REJECT" in _fail_open_note(view) and "DROP" not in _fail_open_note(view)


def test_fail_open_with_a_terminating_endpoint_names_who_uses_it(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    terminating = ("- {addresses: [10.244.0.5], conditions: {ready: false, serving: true, terminating: true}, "
                   "nodeName: node1}")
    view = _views(_dist(tmp_path, capsys, _lb("web", "{ip: 203.0.113.77}") + _slice("web", terminating)
                        + NODES))["loadBalancer"]
    rows = {e["node"]: [o["verdict"] for o in e["outcomes"]] for e in view["entries"]}
    assert rows == {"node1": ["DNAT"], "node2": ["DROP"]}
    assert ("of which node1 uses its local serving terminating endpoints and node2 DROPs (no local endpoint)"
            in _fail_open_note(view))


def test_fail_open_with_ready_endpoints_elsewhere_says_drop(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    excluded = NODES.replace("labels: {topology.kubernetes.io/zone: b}", "labels: {topology.kubernetes.io/zone: b, "
                             "node.kubernetes.io/exclude-from-external-load-balancers: ''}")
    view = _views(_dist(tmp_path, capsys, _lb("web", "{ip: 203.0.113.77}") + _slice("web", READY_ON_NODE2)
                        + excluded))["loadBalancer"]
    assert [o["verdict"] for e in view["entries"] if e["weight_exact"] != "0" for o in e["outcomes"]] == ["DROP"]
    assert "which then DROP: none has a local endpoint" in _fail_open_note(view)
