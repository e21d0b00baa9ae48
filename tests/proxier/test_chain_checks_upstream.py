"""proxier_test.go's single-chain checks on the upstream scenario folders (upstream, 531be81208e2).

TestNodePorts ends each case with assertIPTablesChainEqual on filter
KUBE-FIREWALL: the "block incoming localnet connections" rule for IPv4 with
localhost NodePorts on (nodePortAddresses unset), nothing otherwise.
TestLoadBalancerIngressRouteTypeProxy looks for a nat KUBE-SERVICES rule whose
destination is the LB IP: present for ipMode VIP and nil, absent for Proxy.
Both run on the rules the scenarios' objects and flags generate, the same
rules their flows are traced through.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.proxier import generate

from .dumps import chain, parse_rule
from .test_upstream import RULESETS, _load

FIREWALL_RULE = ('-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8'
                 " ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")

NODE_PORTS = {  # TestNodePorts case -> expectFirewall
    "ipv4, localhost-nodeports enabled": True,
    "ipv4, localhost-nodeports disabled": False,
    "ipv4, localhost-nodeports disabled, localhost in nodeport-addresses": False,
    "ipv4, localhost-nodeports enabled, multiple nodeport-addresses": False,
    "ipv6, localhost-nodeports enabled": False,
    "ipv6, localhost-nodeports disabled": False,
    "ipv6, localhost-nodeports disabled, multiple nodeport-addresses": False,
}
ROUTE_TYPE = {"ipMode Proxy": ("1.2.3.4", False), "ipMode VIP": ("1.2.3.5", True), "ipMode nil": ("1.2.3.6", True)}


def _folders(test: str) -> dict[str, Path]:
    """The scenario folders reproducing one upstream test, by case name."""
    found = {}
    for path in sorted(RULESETS.glob("upstream-*/scenario.yaml")):
        upstream = (yaml.safe_load(path.read_text()) or {}).get("upstream", "")
        if upstream.startswith(test + "/"):
            found[upstream.removeprefix(test + "/")] = path.parent
    return found


def _rules(folder: Path) -> str:
    cluster, config = _load(folder)
    return render_ruleset(generate(cluster, config).ruleset)


def test_every_case_has_a_folder() -> None:
    assert set(_folders("TestNodePorts")) == set(NODE_PORTS)
    assert set(_folders("TestLoadBalancerIngressRouteTypeProxy")) == set(ROUTE_TYPE)


@pytest.mark.parametrize(("case", "firewall"), NODE_PORTS.items(), ids=list(NODE_PORTS))
def test_node_ports_kubelet_firewall_chain(case: str, firewall: bool) -> None:
    text = _rules(_folders("TestNodePorts")[case])
    assert chain(text, "filter", "KUBE-FIREWALL") == ([FIREWALL_RULE] if firewall else [])


@pytest.mark.parametrize(("case", "expected"), ROUTE_TYPE.items(), ids=list(ROUTE_TYPE))
def test_load_balancer_ingress_route_type_proxy(case: str, expected: tuple[str, bool]) -> None:
    lb_ip, has_rule = expected
    text = _rules(_folders("TestLoadBalancerIngressRouteTypeProxy")[case])
    destinations = {parse_rule(r).get("-d") for r in chain(text, "nat", "KUBE-SERVICES")}
    assert (lb_ip in destinations) is has_rule
