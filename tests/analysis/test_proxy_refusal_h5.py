"""An ipMode Proxy balancer turns away a client outside loadBalancerSourceRanges itself, before any node sees it
(the simulator's ``network._proxied``): diff's DROP rows and dist's notes say so, as they say the KUBE-FW chain's
reason for a VIP balancer, rather than 'dropped by node N's rules' (h5: the entry had no trace, so no cause). Since
no node is where the connection ends, diff says it in one row for the view, not one per node ('on n1 ... no node's
rules see its connection' read as a contradiction)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.analysis.exact import LOAD_BALANCER, Selection, service_views
from kubeproxy_sim.analysis.nodes import node_set
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.objects.load import load_text
from kubeproxy_sim.objects.nodes import EXCLUDE_FROM_LB_LABEL
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.state import all_service_ports

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
{ranges}  ports: [{{name: http, port: 80, targetPort: 80, protocol: TCP, nodePort: 30080}}]
status: {{loadBalancer: {{ingress: [{{ip: 192.0.2.10, ipMode: {mode}}}]}}}}
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
RANGES = "  loadBalancerSourceRanges: [198.51.100.0/24, 2001:db8:5::/48]\n"
TURNED_AWAY = ("203.0.113.10 is not in spec.loadBalancerSourceRanges of shop/web (198.51.100.0/24, 2001:db8:5::/48), "
               "so the load balancer (ipMode Proxy) turns it away itself, before its connection reaches any node")


def state(tmp_path: Path, name: str, endpoints: list[str], ranges: str = RANGES, mode: str = "Proxy",
          nodes: str = NODES) -> Path:
    path = tmp_path / name
    path.write_text(nodes + SERVICE.format(ranges=ranges, endpoints=", ".join(endpoints), mode=mode))
    return path


def diff_rows(capsys: pytest.CaptureFixture[str], before: Path, after: Path) -> list[str]:
    assert main(["diff", "-f", str(before), "--hostname-override", "n1", "--against", str(after), "-o", "json"]) == 0
    (port,) = json.loads(capsys.readouterr().out)["services"]
    return [r for r in port["new_connections"] if r.startswith("loadBalancer ")]


def dist_view(capsys: pytest.CaptureFixture[str], path: Path, *sources: str) -> dict:
    froms = [arg for source in sources for arg in ("--from", source)]
    assert main(["dist", "-f", str(path), "--hostname-override", "n1", *froms, "-o", "json"]) == 0
    (port,) = json.loads(capsys.readouterr().out)["services"]
    (view,) = [v for v in port["views"] if v["kind"] == "loadBalancer"]
    return view


def test_ranges_added_to_a_proxy_balancer_say_the_balancer_turns_the_client_away(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = diff_rows(capsys, state(tmp_path, "before.yaml", [N1, N2], ranges=""),
                      state(tmp_path, "after.yaml", [N1, N2]))
    assert found == [f"loadBalancer 192.0.2.10:80: DROP (1) - {TURNED_AWAY}"]


def test_a_balancer_refusal_the_change_did_not_alter_is_said_unchanged_with_its_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = diff_rows(capsys, state(tmp_path, "before.yaml", [N1, N2]), state(tmp_path, "after.yaml", [N1]))
    assert found == [f"loadBalancer 192.0.2.10:80: DROP (1, unchanged) - {TURNED_AWAY}"]


def test_a_client_the_ranges_let_through_before_is_not_said_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before, the client was inside the ranges and the nodes dropped nothing; after, the balancer turns it away:
    a new refusal (the state before had none at the balancer, nor at a node)."""
    inside = "  loadBalancerSourceRanges: [203.0.113.0/24]\n"
    found = diff_rows(capsys, state(tmp_path, "before.yaml", [N1, N2], ranges=inside),
                      state(tmp_path, "after.yaml", [N1, N2]))
    assert found == [f"loadBalancer 192.0.2.10:80: DROP (1) - {TURNED_AWAY}"]


def test_the_refusal_is_a_cause_of_no_node(tmp_path: Path) -> None:
    """No node's rules gave it, so none is asked for its DROP reasons (diff's per-node rows read those)."""
    nodes = node_set(load_text(state(tmp_path, "svc.yaml", [N1, N2]).read_text()).cluster,
                     ProxyConfig(node_name="n1", node_ips=("172.18.0.2/32",)))
    (svc,) = all_service_ports(nodes.cluster, nodes.configs["n1"])
    (view,) = [v for v in service_views(nodes, Selection(svc), None) if v.kind == LOAD_BALANCER]
    assert [(c.note, c.nodes, c.verdicts) for c in view.causes] == [(TURNED_AWAY, (), frozenset({"DROP"}))]
    assert view.said_at("n1", "DROP") == view.said_at("n2", "DROP") == []


def test_the_balancer_turns_the_client_away_even_with_no_node_to_send_to(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every node excluded from the balancer: the simulator's balancer checks the ranges before it looks for a
    node, so dist and diff still say why the client is turned away (a node's row would weigh nothing)."""
    excluded = NODES.replace("metadata: {name: n", f"metadata: {{labels: {{{EXCLUDE_FROM_LB_LABEL}: ''}}, name: n")
    view = dist_view(capsys, state(tmp_path, "svc.yaml", [N1, N2], nodes=excluded))
    assert TURNED_AWAY in view["notes"]
    found = diff_rows(capsys, state(tmp_path, "before.yaml", [N1, N2], ranges="", nodes=excluded),
                      state(tmp_path, "after.yaml", [N1, N2], nodes=excluded))
    assert found == [f"loadBalancer 192.0.2.10:80: DROP (1) - {TURNED_AWAY}"]


def test_a_vip_balancer_keeps_the_kube_fw_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same Service with ipMode VIP: the node's own rules drop the client, and the row says which."""
    found = diff_rows(capsys, state(tmp_path, "before.yaml", [N1, N2], ranges="", mode="VIP"),
                      state(tmp_path, "after.yaml", [N1, N2], mode="VIP"))
    assert found == [f"loadBalancer 192.0.2.10:80 on {n}: DROP (1) - 203.0.113.10 is not in "
                     "spec.loadBalancerSourceRanges of shop/web (198.51.100.0/24), so the KUBE-FW chain sends it to "
                     "no endpoint and KUBE-PROXY-FIREWALL drops it" for n in ("n1", "n2")]


def test_dist_says_the_balancer_turns_the_client_away(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    view = dist_view(capsys, state(tmp_path, "svc.yaml", [N1, N2]))
    assert TURNED_AWAY in view["notes"]
    assert {e["outcomes"][0]["verdict"] for e in view["entries"]} == {"DROP"}


def test_dist_says_it_of_the_client_outside_the_ranges_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One client inside the ranges, one outside: the note names the one turned away; the other reaches the
    endpoints through the NodePorts and has no refusal to explain."""
    view = dist_view(capsys, state(tmp_path, "svc.yaml", [N1, N2]), "external:198.51.100.7", "external:203.0.113.10")
    assert [n for n in view["notes"] if "turns it away" in n] == [TURNED_AWAY]
    inside = dist_view(capsys, state(tmp_path, "svc.yaml", [N1, N2]), "external:198.51.100.7")
    assert not [n for n in inside["notes"] if "turns it away" in n]


def test_dist_text_shows_the_reason_among_the_view_s_notes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As a VIP balancer's view, the reason comes before the hint to measure a client the ranges allow."""
    assert main(["dist", "-f", str(state(tmp_path, "svc.yaml", [N1, N2])), "--hostname-override", "n1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    hint = next(i for i, line in enumerate(lines) if "is dist's default outside client" in line)
    assert lines.index(f"    ({TURNED_AWAY})") < hint
