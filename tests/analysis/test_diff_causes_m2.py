"""diff's new-connection rows name the one cause the traces found for a DROP (a Local policy without a local
endpoint, or loadBalancerSourceRanges), not both as a guess, and say a refusal the change did not alter unchanged
(u-walk: a LoadBalancer whose source ranges drop dist's outside client on n1, the node with the local endpoint,
was told 'no local endpoint for a Local policy (or a firewall rule)' and listed as a change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.analysis.why import said_of_node
from kubeproxy_sim.cli.main import main

NODE = """apiVersion: v1
kind: Node
metadata: {{name: {name}}}
spec: {{podCIDRs: [{cidr}]}}
status: {{addresses: [{{type: InternalIP, address: {ip}}}]}}
---
"""

SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.50
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
{ranges}  ports: [{{name: http, port: 80, targetPort: 80, protocol: TCP, nodePort: 30080}}]
status: {{loadBalancer: {{ingress: [{{ip: 192.0.2.10}}]}}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-abc, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 80, protocol: TCP}}]
endpoints: [{endpoints}]
"""

NODES = (NODE.format(name="n1", cidr="10.1.0.0/24", ip="172.18.0.2")
         + NODE.format(name="n2", cidr="10.1.1.0/24", ip="172.18.0.3"))
N1 = "{addresses: [10.1.0.5], nodeName: n1, conditions: {ready: true}}"
N2 = "{addresses: [10.1.1.5], nodeName: n2, conditions: {ready: true}}"
RANGES = "  loadBalancerSourceRanges: [198.51.100.0/24]\n"
FIREWALLED = ("203.0.113.10 is not in spec.loadBalancerSourceRanges of shop/web (198.51.100.0/24), so the KUBE-FW "
              "chain sends it to no endpoint and KUBE-PROXY-FIREWALL drops it")


def state(tmp_path: Path, name: str, endpoints: list[str], ranges: str = RANGES) -> Path:
    path = tmp_path / name
    path.write_text(NODES + SERVICE.format(ranges=ranges, endpoints=", ".join(endpoints)))
    return path


def rows(capsys: pytest.CaptureFixture[str], before: Path, after: Path) -> list[str]:
    assert main(["diff", "-f", str(before), "--hostname-override", "n1", "--against", str(after), "-o", "json"]) == 0
    (port,) = json.loads(capsys.readouterr().out)["services"]
    return port["new_connections"]


def test_a_source_range_drop_that_did_not_change_is_said_unchanged_with_its_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = rows(capsys, state(tmp_path, "before.yaml", [N1, N2]), state(tmp_path, "after.yaml", [N1]))
    lb = [r for r in found if r.startswith("loadBalancer ")]
    assert lb == [f"loadBalancer 192.0.2.10:80 on n1: DROP (1, unchanged) - {FIREWALLED}"]
    (node_port,) = [r for r in found if r.startswith("nodePort ")]
    assert node_port.startswith("nodePort <node>:30080 on n2: DROP (1) - shop/web:http has spec.externalTrafficPolicy "
                                "Local and node n2 has none of its usable endpoints (its usable endpoints are 10.1.0.5 "
                                "on n1), so kube-proxy here drops ")
    assert not any("or a firewall rule" in r or "loadBalancerSourceRanges" in r for r in found if " on n2: " in r)


def test_a_source_range_drop_the_change_made_is_no_unchanged_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = rows(capsys, state(tmp_path, "before.yaml", [N1, N2], ranges=""), state(tmp_path, "after.yaml", [N1, N2]))
    assert [r for r in found if r.startswith("loadBalancer ")] == [
        f"loadBalancer 192.0.2.10:80 on {n}: DROP (1) - {FIREWALLED}" for n in ("n1", "n2")]


def test_a_local_policy_drop_is_said_as_one_where_no_source_range_is() -> None:
    """The note a view holds for another node is not this node's; one naming no node is every node's."""
    notes = ["web has spec.externalTrafficPolicy Local and node n2 has none of its usable endpoints (its usable "
             "endpoints are 10.1.0.5 on n1), so kube-proxy here drops traffic that is not from this node",
             "nodes n3, n4 and 2 more have none", FIREWALLED]
    assert said_of_node(notes, "n1", {"n1", "n2", "n3", "n4"}) == notes[1:]
    assert said_of_node(notes, "n2", {"n1", "n2", "n3", "n4"}) == notes
    assert said_of_node(notes, "n3", {"n1", "n2", "n3", "n4"}) == notes[1:]
