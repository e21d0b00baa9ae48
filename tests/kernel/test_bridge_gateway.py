"""The pod bridge's gateway address on the kernel: a masqueraded connection that lands on a pod of the same node
(hairpin, the node's own connection to a ClusterIP, an outside one to a NodePort) shows the pod the bridge's
address, the pod CIDR's first (kubenet's ``cbr0``, the bridge plugin's ``cni0``, Flannel); one landing on another
node's pod shows the node's. The simulator predicts the same, flow by flow (QA-diff s14 #3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.kernel.differential import Flow, Report, differential
from kubeproxy_sim.objects import load_paths
from tests.simulator.builders import BASE, load, objects

pytestmark = pytest.mark.kernel

SAW = re.compile(r"reply from (\S+) \(saw (\S+)\)")


def _seen(report: Report) -> dict[str, dict[str, set[str]]]:
    """flow label -> endpoint -> the sources it was seen to see (rows observed at least once)."""
    bad = report.differences()
    assert not bad, "\n".join(f"{f.flow.label}: {'; '.join(f.why)}" for f in bad)
    found: dict[str, dict[str, set[str]]] = {}
    for flow in report.flows:
        for row in flow.rows:
            match = SAW.match(row.outcome)
            if match and row.observed:
                found.setdefault(flow.flow.label, {}).setdefault(match[1], set()).add(match[2])
    return found


def test_ipv4_local_endpoints_see_the_bridge_address(kernel: None, run_tag: str, state_dir: Path) -> None:
    flows = [Flow("pod/default/web-1", "10.96.0.10:80", kind="hairpin"),
             Flow("node/node1", "10.96.0.10:80", kind="ClusterIP"),
             Flow("external", "node/node1:30080", kind="NodePort"),
             Flow("node/node1", "10.244.1.10:8080"),  # no Service: the bridge route's own source
             Flow("pod/default/client", "10.244.1.1:30080")]  # the bridge address is the node's: its NodePort
    report = differential(load(objects(web_pods=("web-1", "web-2"))), BASE, state_dir, name=f"{run_tag}-bg4",
                          flows=flows)
    seen = _seen(report)
    assert seen["pod/default/web-1 -> 10.96.0.10:80/tcp"] == {"10.244.1.10": {"10.244.1.1"},
                                                              "10.244.2.10": {"10.244.1.10"}}
    for label in ("node/node1 -> 10.96.0.10:80/tcp", "external -> node/node1:30080/tcp"):
        assert seen[label] == {"10.244.1.10": {"10.244.1.1"}, "10.244.2.10": {"192.168.0.10"}}, label
    assert seen["node/node1 -> 10.244.1.10:8080/tcp"] == {"10.244.1.10": {"10.244.1.1"}}
    assert set(seen["pod/default/client -> 10.244.1.1:30080/tcp"]) == {"10.244.1.10", "10.244.2.10"}


def test_another_node_s_bridge_address_is_that_node_s_own(kernel: None, run_tag: str, state_dir: Path) -> None:
    """10.244.2.1 is node2's own: node1 routes it by node2's pod CIDR and node2 delivers it locally, so a port with
    no listener refuses (the differential predicted silence, as for an address nobody has), node2's healthz
    answers and its NodePort balances; and ``10.244.1.1`` as a source is node1 bound to it (netns send refused it)."""
    flows = [Flow("pod/default/client", "10.244.2.1:80"),
             Flow("pod/default/client", "10.244.2.1:80", "udp"),
             Flow("node/node1", "10.244.2.1:10256"),
             Flow("pod/default/client", "10.244.2.1:30080", kind="NodePort"),
             Flow("10.244.1.1", "10.244.2.10:8080"),
             Flow("10.244.1.1", "10.96.0.10:80", kind="ClusterIP")]
    report = differential(load(objects(web_pods=("web-1", "web-2"))), BASE, state_dir, name=f"{run_tag}-bgo",
                          flows=flows)
    seen = _seen(report)
    outcomes = {f.flow.label: {(r.outcome, r.share) for r in f.rows} for f in report.flows}
    for proto in ("tcp", "udp"):
        assert outcomes[f"pod/default/client -> 10.244.2.1:80/{proto}"] == {("refused (REJECT)", 1)}
    assert seen["node/node1 -> 10.244.2.1:10256/tcp"] == {"10.244.2.1": {"192.168.0.10"}}
    assert set(seen["pod/default/client -> 10.244.2.1:30080/tcp"]) == {"10.244.1.10", "10.244.2.10"}
    assert seen["10.244.1.1 -> 10.244.2.10:8080/tcp"] == {"10.244.2.10": {"10.244.1.1"}}
    assert seen["10.244.1.1 -> 10.96.0.10:80/tcp"] == {"10.244.1.10": {"10.244.1.1"}, "10.244.2.10": {"10.244.1.1"}}


def test_ipv6_local_endpoints_see_the_bridge_address(kernel: None, run_tag: str, state_dir: Path) -> None:
    """IPv6 MASQUERADE selects its source among every interface's addresses, the outgoing interface's first
    (RFC 6724 rule 5): the bridge's global gateway towards a local pod, not its link-local fe80::1."""
    directory = REPO_RULESETS / "ipv6"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    config = config_from_args(scenario_args(directory), cluster)
    report = differential(cluster, config, state_dir, name=f"{run_tag}-bg6")
    seen = _seen(report)
    local, remote = "fd00:10:244:1::10", "fd00:10:244:2::10"
    hairpin = next(label for label, f in seen.items() if label.endswith("-> [fd00:10:96::10]:80/tcp")
                   and label.startswith("pod/default/"))
    assert seen[hairpin][local] == {"fd00:10:244:1::1"}
    assert seen["node/node1 -> [fd00:10:96::10]:80/tcp"] == {local: {"fd00:10:244:1::1"}, remote: {"2001:db8:0:1::10"}}
    assert seen["external -> node/node2:30080/tcp"] == {local: {"2001:db8:0:1::11"}, remote: {"fd00:10:244:2::1"}}


def test_an_outside_refusal_of_the_bridge_address_is_lost(kernel: None, run_tag: str, state_dir: Path) -> None:
    """node1 bound to its pod bridge address, to the stage's outside client: the stage masquerades pod sources
    only, so the client namespace's RST (ICMP port unreachable) has no way back and the socket times out, as the
    prediction and send say; node1's own address hears the refusal. The router's "no route" to an address nobody
    has is lost alike (the prediction said unreachable)."""
    flows = [Flow("10.244.1.1", "203.0.113.10:80"), Flow("10.244.1.1", "203.0.113.10:80", "udp"),
             Flow("node/node1", "203.0.113.10:80"), Flow("10.244.1.1", "198.51.100.99:80"),
             Flow("node/node1", "198.51.100.99:80")]
    report = differential(load(objects(web_pods=("web-1", "web-2"))), BASE, state_dir, name=f"{run_tag}-bgr",
                          flows=flows)
    _seen(report)  # no differences
    outcomes = {f.flow.label: {(r.outcome, r.share) for r in f.rows} for f in report.flows}
    for proto in ("tcp", "udp"):
        assert outcomes[f"10.244.1.1 -> 203.0.113.10:80/{proto}"] == {("no answer (DROP/TIMEOUT)", 1)}
    assert outcomes["node/node1 -> 203.0.113.10:80/tcp"] == {("refused (REJECT)", 1)}
    assert outcomes["10.244.1.1 -> 198.51.100.99:80/tcp"] == {("no answer (DROP/TIMEOUT)", 1)}
    assert outcomes["node/node1 -> 198.51.100.99:80/tcp"] == {("unreachable (NO_ROUTE)", 1)}
