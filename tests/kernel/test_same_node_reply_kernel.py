"""The kernel on a reply that goes from an endpoint to a client pod of its own node, the SYN having left that node
for another's NodePort (eTP Local, DNATed there unmasqueraded back to the endpoint): the node's conntrack tracked
the DNATed SYN as it came back in, so the SYN/ACK is that entry's reply, routed or bridged (br_netfilter runs
conntrack and FORWARD on a bridged frame with the same table), never INVALID. KUBE-FORWARD lets it through, the
client hears the endpoint's own address and answers it with a RST: silence to its socket, as the simulator's
WRONG_REPLY_SOURCE (tests/simulator/test_send.py) says."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.options import config_from_args
from kubeproxy_sim.kernel import build, nsexec
from kubeproxy_sim.kernel.plan import Topology, plan
from kubeproxy_sim.kernel.send import send, topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send as sim_send
from tests.simulator.test_send import beside_endpoint

pytestmark = pytest.mark.kernel

CLIENT, ENDPOINT, NODEPORT = "10.244.1.20", "10.244.1.10", "192.168.49.2:30007"
SYN_ACK = f"-s {ENDPOINT}/32 -d {CLIENT}/32 -p tcp --tcp-flags SYN,ACK SYN,ACK"
COUNTERS = {"bridged": f"{SYN_ACK} -m physdev --physdev-is-bridged -m conntrack --ctstate ESTABLISHED",
            "routed": f"{SYN_ACK} -m physdev ! --physdev-is-bridged -m conntrack --ctstate ESTABLISHED",
            "invalid": f"{SYN_ACK} -m conntrack --ctstate INVALID"}
"""Rules without a target, first in node2's FORWARD chain: they count the endpoint's SYN/ACKs by how they pass."""
COUNT = 4


@pytest.fixture(scope="module")
def stage(kernel: None, run_tag: str, state_dir: Path) -> Iterator[tuple[Topology, dict[str, Any]]]:
    name = f"{run_tag}-snr"
    cluster = beside_endpoint()
    config = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"], cluster)
    topo = plan(name, cluster, config)
    state = build.up(cluster, topo, state_dir, topology_record(topo, cluster))
    try:
        yield topo, state
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


def _counted(node: str) -> dict[str, int]:
    """The packets each of :data:`COUNTERS` met, by name (they are FORWARD's first rules, in that order)."""
    done = nsexec.run(node, ["iptables", "-w", "30", "-L", "FORWARD", "-v", "-x", "-n"])
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[2:2 + len(COUNTERS)]
    return {name: int(row.split()[0]) for name, row in zip(COUNTERS, rows, strict=True)}


def _run(state: dict[str, Any], node: str) -> dict[str, int]:
    """netns send's rows of COUNT connections from the client pod to node1's NodePort, checked to be silence as
    send's are (WRONG_REPLY_SOURCE), and the counters of the SYN/ACKs on node2 meanwhile."""
    zeroed = nsexec.run(node, ["iptables", "-w", "30", "-Z", "FORWARD"])
    assert zeroed.returncode == 0, zeroed.stderr
    result = send(state, "pod/default/client-2", NODEPORT, count=COUNT, seed=1).result(state)
    assert not result.delivered and [(f.reason, f.count) for f in result.failed] == [("TIMEOUT", COUNT)]
    assert "no DROP rule met this run's packets" in result.failed[0].detail  # not KUBE-FORWARD's INVALID drop
    return _counted(node)


def test_a_reply_beside_its_client_passes_forward_as_established_routed_or_bridged(
        stage: tuple[Topology, dict[str, Any]]) -> None:
    topo, state = stage
    cluster = beside_endpoint()
    config = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"], cluster)
    simulated = sim_send(Simulator(cluster, config, rng=random.Random(1)), "pod/default/client-2", NODEPORT,
                         count=COUNT, seed=1)
    assert [(f.reason, f.count) for f in simulated.failed] == [("WRONG_REPLY_SOURCE", COUNT)]
    node2 = topo.nodes[1].netns
    (endpoint,) = (pod.netns for pod in topo.pods if pod.ip == ENDPOINT)
    for rule in reversed(COUNTERS.values()):
        done = nsexec.run(node2, ["iptables", "-w", "30", "-I", "FORWARD", "1", *rule.split()])
        assert done.returncode == 0, done.stderr
    # the stage's pods route every address by the bridge's gateway: the endpoint's SYN/ACK is routed by node2
    routed = _run(state, node2)
    assert routed["routed"] >= COUNT and routed["bridged"] == routed["invalid"] == 0, routed
    # a pod route on the link, as a bridge CNI's subnet route: the SYN/ACK is bridged, br_netfilter's FORWARD
    added = nsexec.run(endpoint, ["ip", "route", "add", f"{CLIENT}/32", "dev", "eth0", "scope", "link"])
    assert added.returncode == 0, added.stderr
    bridged = _run(state, node2)
    assert bridged["bridged"] >= COUNT and bridged["routed"] == bridged["invalid"] == 0, bridged
