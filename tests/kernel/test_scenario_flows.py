"""Scenario flows (rulesets/*/flows.yaml) replayed with real packets in the kernel.

Each scenario is built once (a dual-stack one once per family's proxier); every flow whose source sits on the
scenario's node (a pod there, the node itself, localhost, or an outside client) is sent and its
outcome compared with the expected one: the set of endpoints reached, REJECT as
refused, DROP as timeout, and masquerade as the source address the pod saw.
Flows the kernel cannot replay (SCTP, the other IP family, a source on another
node, whose rules differ) are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netaddr
import pytest
import yaml

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args, scenario_proxiers
from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import send, topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.netfilter.packet import host_port
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.objects.nodes import family_of

pytestmark = pytest.mark.kernel

SCENARIOS = [
    "bootcamp",
    "upstream-cluster-ip-general",
    "upstream-node-ports-ipv4-localhost-nodeports-enabled",
    "upstream-no-endpoints-reject",
    "upstream-internal-external-masquerade-base",
    "detect-local-interface-name-prefix",
    "ipv6",
    "upstream-node-ports-ipv6-localhost-nodeports-enabled",
    "upstream-node-ports-ipv6-localhost-nodeports-disabled",
    "upstream-node-ports-ipv6-localhost-nodeports-disabled-multiple-nodeport-addresses",
    "dual-stack",
]
CASES = [(name, suffix, flags) for name in SCENARIOS
         for suffix, flags in scenario_proxiers(REPO_RULESETS / name).items()]
"""(scenario, golden-name suffix, flags after its args): one per proxier whose rules the scenario shows."""
COUNT = 40  # P(an endpoint of 4 is never drawn) = 4 * 0.75**40 < 1e-4


def flows(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((REPO_RULESETS / name / "flows.yaml").read_text()) or []


@pytest.fixture(scope="module", params=CASES, ids=[name + suffix for name, suffix, _ in CASES])
def scenario(request: pytest.FixtureRequest, kernel: None, run_tag: str,
             state_dir: Path) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    scenario_name, _, flags = request.param
    directory = REPO_RULESETS / scenario_name
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args([*scenario_args(directory), *flags], loaded.cluster)
    name = f"{run_tag}-s{CASES.index(request.param)}"
    topo = plan(name, loaded.cluster, config, [str(f["src"]) for f in flows(scenario_name)])
    # upstream's flow tables send from outside straight to the node, whatever the destination (a cluster IP
    # too): here the outside client routes everything through the node
    topo = dataclasses.replace(topo, via_first_node=None)
    state = build.up(loaded.cluster, topo, state_dir, topology_record(topo, loaded.cluster))
    try:
        yield scenario_name, state, topo.nodes[0].gateways
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


def replayable(flow: dict[str, Any], state: dict[str, Any]) -> bool:
    primary = next(iter(state["nodes"]))
    src, dst = str(flow["src"]), str(flow["dst"])
    family = state.get("family", 4)
    if flow.get("proto", "tcp") == "sctp" or {family_of(src), family_of(dst)} != {family}:
        return False
    pod = state["pods"].get(src)
    if pod is not None and pod["node"] != primary:
        return False
    other_nodes = {a for n, node in state["nodes"].items() if n != primary for a in node["addresses"]}
    return dst not in other_nodes and src not in other_nodes


def check(flow: dict[str, Any], state: dict[str, Any], bridge: tuple[str, ...] = ()) -> str | None:
    """None when the kernel agrees with the flow, else what differs. ``bridge``: the first node's pod bridge
    addresses, its own too (a masquerade towards its own pods takes one)."""
    src, dst, port = str(flow["src"]), str(flow["dst"]), int(flow["dport"])
    expected = str(flow["output"]).strip()
    # silence is waited for briefly; an answer that must come gets time on a loaded machine
    timeout = 0.5 if expected == "DROP" else 5.0
    # upstream's flows send from the node under test's loopback: named as that node (a bare loopback is refused)
    sender = f"node/{next(iter(state['nodes']))}" if netaddr.IPAddress(src).is_loopback() else src
    result = send(state, sender, host_port(dst, port), proto=flow.get("proto", "tcp"), count=COUNT,
                  timeout=timeout)
    reached = {_witnessed(key.split()[1]) for key in result.pods}
    seen = {ip for ips in result.seen.values() for ip in ips}
    if expected == "REJECT":
        ok = result.failures == {"refused": COUNT}
    elif expected == "DROP":
        ok = result.failures == {"timeout": COUNT}
    elif expected == "":
        ok = reached <= {host_port(dst, port)}
    elif expected == "ACCEPT":  # let in by a filter rule, to the node's own port (a health check node port)
        ok = reached == {host_port(dst, port)} and not result.failures
    else:
        ok = reached == {p.strip() for p in expected.split(",")} and not result.failures
        node_addresses = {*next(iter(state["nodes"].values()))["addresses"], *bridge}
        if ok and flow.get("masq"):  # masqueraded to an address of the node's own
            ok = seen <= node_addresses
        elif ok and not netaddr.IPAddress(src).is_loopback():
            ok = seen == {src}
    if ok:
        return None
    return f"{flow['name']}: expected {expected or 'not NATed'} (masq {flow.get('masq')}), " \
           f"kernel: reached {sorted(reached)}, seen {sorted(seen)}, failures {result.failures}"


def _witnessed(text: str) -> str:
    """The ``IP:PORT`` a probe's witness answered from, as :func:`host_port` writes it (a flow's output's form)."""
    host, _, port = text.rpartition(":")
    return host_port(host, int(port))


def test_scenario_flows_agree_with_kernel(scenario: tuple[str, dict[str, Any], tuple[str, ...]]) -> None:
    name, state, bridge = scenario
    chosen = [f for f in flows(name) if replayable(f, state)]
    assert chosen, f"{name}: no flow the kernel can replay"
    problems = [p for p in (check(f, state, bridge) for f in chosen) if p]
    assert not problems, f"{name}:\n" + "\n".join(problems)
