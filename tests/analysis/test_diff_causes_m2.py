"""diff's new-connection rows name the one cause the traces found for a DROP (a Local policy without a local
endpoint, or loadBalancerSourceRanges), not both as a guess, and say a refusal the change did not alter unchanged
(u-walk: a LoadBalancer whose source ranges drop dist's outside client on n1, the node with the local endpoint,
was told 'no local endpoint for a Local policy (or a firewall rule)' and listed as a change)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kubeproxy_sim.analysis import why
from kubeproxy_sim.analysis.exact import View
from kubeproxy_sim.analysis.why import Reason, merged_causes
from kubeproxy_sim.cli.main import main

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.packet import Packet
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.proxier.state import ServicePortInfo

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


def test_a_view_s_drop_reasons_are_found_by_node_and_verdict_not_by_words() -> None:
    """A merged sentence holds for the nodes whose traces gave it, even those its cut list hides ('and 2 more');
    one naming no node (the source ranges') holds only where it was said, and a delivery's note is no DROP's."""
    local = ("web has spec.externalTrafficPolicy Local and node {} has none of its usable endpoints, so kube-proxy "
             "here drops traffic that is not from this node")
    drop = frozenset({"DROP"})
    said = [*((f"n{i}", Reason(local.format(f"n{i}"), drop)) for i in range(1, 7)), ("n1", Reason(FIREWALLED, drop)),
            ("n2", Reason("a hairpin note of a DNAT", frozenset({"DNAT"})))]
    causes = merged_causes(said)
    merged = local.replace("node {} has", "nodes n1, n2, n3, n4 and 2 more have")
    assert [(c.note, c.nodes) for c in causes] == [(merged, ("n1", "n2", "n3", "n4", "n5", "n6")),
                                                   (FIREWALLED, ("n1",)), ("a hairpin note of a DNAT", ("n2",))]
    view = View("nodePort", "<node>:30080", (), (), tuple(c.note for c in causes), tuple(causes))
    assert view.said_at("n1", "DROP") == [merged, FIREWALLED]
    assert view.said_at("n6", "DROP") == [merged]
    assert view.said_at("n2", "DNAT") == ["a hairpin note of a DNAT"]
    assert view.said_at("n7", "DROP") == []


def test_a_reworded_cause_is_still_the_row_s_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows take the DROP's reasons from the traces' facts (which node, which verdict), not from the
    sentences: reworded so that neither says 'drops' nor names its node as 'node N', each is still its row's
    cause, and only its own node's."""
    def local(index: object, config: ProxyConfig, svc: ServicePortInfo, endpoints: object, internal: bool) -> str:
        return f"reworded: at {config.node_name}, {svc.name_string} keeps its Local traffic to itself"

    def ranges(svc: ServicePortInfo, packet: Packet) -> str:
        return f"reworded: {packet.src_text} is outside the ranges of {svc.name_string}"

    monkeypatch.setattr(why, "no_local_endpoints_note", local)
    monkeypatch.setattr(why, "source_ranges_note", ranges)
    found = rows(capsys, state(tmp_path, "before.yaml", [N1, N2]), state(tmp_path, "after.yaml", [N1]))
    assert [r for r in found if r.startswith("loadBalancer ")] == [
        "loadBalancer 192.0.2.10:80 on n1: DROP (1, unchanged) - reworded: 203.0.113.10 is outside the ranges of "
        "shop/web:http"]
    assert [r for r in found if r.startswith("nodePort ")] == [
        "nodePort <node>:30080 on n2: DROP (1) - reworded: at n2, shop/web:http keeps its Local traffic to itself"]
