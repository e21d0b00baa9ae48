"""``diff``'s rule lists (analysis.diff.rule_changes): the rules a change adds and removes on a node, under the
service port that owns them (by chain, or by the port named in the rule's comment), the rest as other rules."""

from __future__ import annotations

from kubeproxy_sim.analysis.diff import rule_changes
from kubeproxy_sim.analysis.nodes import NodeSet, node_set
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.proxier.config import ProxyConfig

CONFIG = ProxyConfig(node_name="node1", node_ips=("192.168.0.1/32",))
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: ns}}
spec: {{clusterIP: {ip}, ports: [{{name: p, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-a, namespace: ns, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: p, port: 8080}}]
endpoints: [{{addresses: [{endpoint}], nodeName: node1}}]
---
"""


def _nodes(*services: tuple[str, str, str]) -> NodeSet:
    text = "".join(SERVICE.format(name=name, ip=ip, endpoint=endpoint) for name, ip, endpoint in services)
    result = load_text(text)
    assert result.ok, result.diagnostics
    return node_set(result.cluster, CONFIG)


# web's endpoint moves from .7 to .8; gone goes away; new comes
BEFORE = _nodes(("web", "10.96.0.10", "10.1.0.7"), ("gone", "10.96.0.11", "10.1.0.9"))
AFTER = _nodes(("web", "10.96.0.10", "10.1.0.8"), ("new", "10.96.0.12", "10.1.0.5"))


def _addresses(lines: list[str]) -> set[str]:
    return {a for line in lines for a in ("10.1.0.5", "10.1.0.7", "10.1.0.8", "10.1.0.9") if a in line}


def test_an_owned_ports_rules_are_grouped_and_the_rest_are_other_rules() -> None:
    grouped, added, removed = rule_changes(BEFORE, AFTER, "node1", {"NO-SUCH-CHAIN": "ns/web:p"})
    assert list(grouped) == ["ns/web:p"]
    web_added, web_removed = grouped["ns/web:p"]
    assert len(web_added) == len(web_removed) == 3  # the endpoint's SEP chain (2 rules) and the SVC's jump to it
    assert _addresses(web_added) == {"10.1.0.8"} and _addresses(web_removed) == {"10.1.0.7"}
    assert all(line.startswith("nat: -A ") and "ns/web:p" in line for line in (*web_added, *web_removed))
    assert _addresses(added) == {"10.1.0.5"} and all("ns/new:p" in line for line in added) and len(added) == 4
    assert _addresses(removed) == {"10.1.0.9"} and all("ns/gone:p" in line for line in removed) and len(removed) == 4


def test_ports_with_added_rules_come_first_in_rule_order_then_those_with_removed_ones_only() -> None:
    owners = {"A": "ns/gone:p", "B": "ns/web:p", "C": "ns/new:p"}
    grouped, added, removed = rule_changes(BEFORE, AFTER, "node1", owners)
    assert list(grouped) == ["ns/new:p", "ns/web:p", "ns/gone:p"] and added == removed == []  # (KUBE-SERVICES first)
    assert grouped["ns/new:p"][1] == [] and grouped["ns/gone:p"][0] == []
    assert len(grouped["ns/new:p"][0]) == len(grouped["ns/gone:p"][1]) == 4


def test_a_chain_owns_its_rules_whatever_their_comment_says() -> None:
    unowned = rule_changes(BEFORE, AFTER, "node1", {})[1]
    (svc_chain,) = {line.split()[2] for line in unowned if "-A KUBE-SVC-" in line and "ns/new:p" in line}
    grouped, added, _ = rule_changes(BEFORE, AFTER, "node1", {svc_chain: "ns/elsewhere:q"})
    assert [line.split()[2] for line in grouped["ns/elsewhere:q"][0]] == [svc_chain]
    assert len(added) == len(unowned) - 1 and svc_chain not in [line.split()[2] for line in added]


def test_the_same_state_changes_nothing() -> None:
    assert rule_changes(BEFORE, BEFORE, "node1", {"NO-SUCH-CHAIN": "ns/web:p"}) == ({}, [], [])
