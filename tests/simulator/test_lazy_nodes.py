"""A node's rules are generated when a packet first reaches it: the same connections, the same random draws.

A lazy simulator (the default) and an eager one (``lazy=False``, every node
generated and compiled at each build) are run side by side through the same
sequence of connections from every kind of client to every way into every
service of a scenario, on several seeds: every connection, every ``send``
result and the random generator's state afterwards must be equal, so the
injected generator is consumed in the same order.
"""

from __future__ import annotations

import random

import pytest

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.netfilter.packet import host_port
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from tests.simulator.builders import BASE, HOSTS, load, objects

SCENARIOS = ("bootcamp", "upstream-load-balancer", "upstream-external-traffic-policy-local", "session-affinity",
             "sctp-udp", "upstream-overall-iptables-rules", "topology-hints", "ipv6",
             "upstream-terminating-endpoints-traffic-policy-local-terminating-endpoints-on-remote-node")


def destinations(cluster: Cluster, family: int) -> list[tuple[str, str]]:
    """(destination, protocol) for every way into every service port of the address family."""
    found: list[tuple[str, str]] = []
    first = cluster.nodes[0].name if cluster.nodes else None
    for svc in cluster.services:
        for port in svc.ports:
            proto = port.protocol.value.lower()
            addresses = [*svc.cluster_ips, *svc.external_ips, *(i.ip for i in svc.load_balancer_ingress if i.ip)]
            found += [(host_port(ip, port.port), proto) for ip in addresses if (":" in ip) == (family == 6)]
            if port.node_port and first is not None:
                found.append((f"node/{first}:{port.node_port}", proto))
    return found


def sources(sim: Simulator) -> list[str]:
    pods = [f"pod/{p.key}" for p in sim.topology.pods][:3]
    return [*pods, *(f"node/{n.name}" for n in sim.topology.nodes[:2]), "external"]


def run_all(sim: Simulator, seed: int) -> list[object]:
    """Every source to every destination, a few connections each, in one sequence on one simulator."""
    runs: list[object] = []
    for destination, proto in destinations(sim.cluster, sim.family):
        for source in sources(sim):
            try:
                runs.append(send(sim, source, destination, proto=proto, count=4, seed=seed))
            except InputError as error:  # e.g. a source of the other family: the same refusal both ways
                runs.append(str(error))
    return runs


def scenario_simulator(name: str, seed: int, lazy: bool) -> Simulator:
    directory = REPO_RULESETS / name
    cluster = load_paths([str(p) for p in sorted(directory.glob("*.yaml"))]).cluster
    config = config_from_args(scenario_args(directory), cluster)
    return Simulator(cluster, config, rng=random.Random(seed), lazy=lazy)


@pytest.mark.parametrize("seed", [1, 7, 2024])
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_lazy_simulator_makes_the_same_connections_and_draws_as_an_eager_one(name: str, seed: int) -> None:
    lazy, eager = scenario_simulator(name, seed, True), scenario_simulator(name, seed, False)
    assert all(rt.built for rt in eager.runtimes.values())
    assert not any(rt.built for rt in lazy.runtimes.values())  # building the simulator generates no node
    runs = run_all(lazy, seed)
    assert runs == run_all(eager, seed)
    assert any(not isinstance(run, str) and run.delivered for run in runs)  # type: ignore[attr-defined]
    assert lazy.rng.getstate() == eager.rng.getstate()


@pytest.mark.parametrize("seed", [3, 11])
def test_connections_and_updates_draw_alike_on_the_small_cluster(seed: int) -> None:
    """Every kind of service of the builders' cluster (NodePort, eTP Local and Proxy load balancers, externalIPs,
    affinity, UDP), connections interleaved and an update between them that clears stale UDP entries."""
    def run(lazy: bool) -> tuple[list[object], int, object]:
        sim = Simulator(load(objects()), BASE, rng=random.Random(seed), hosts=HOSTS, lazy=lazy)
        clients = [sim.client("pod", "default/client"), sim.client("pod", "default/client2"),
                   sim.client("node", "node2"), sim.client("external", ip="198.51.100.7")]
        flows = [("10.96.0.10", 80, "tcp"), ("192.168.0.11", 30080, "tcp"), ("203.0.113.100", 80, "tcp"),
                 ("203.0.113.101", 80, "tcp"), ("203.0.113.102", 80, "tcp"), ("203.0.113.200", 80, "tcp"),
                 ("10.96.0.16", 80, "tcp"), ("10.96.0.53", 53, "udp")]
        seen: list[object] = []
        for i in range(60):
            client = clients[sim.rng.randrange(len(clients))]
            dst, port, proto = flows[i % len(flows)]
            seen.append(sim.connect(client, dst, port, proto, sport=40000 + i % 7 if proto == "udp" else None))
            sim.advance(0.5)
        cleared = sim.update(load(objects(dns_pods=("web-2",), web_pods=("web-1", "web-3"))))
        for i in range(20):
            dst, port, proto = flows[i % len(flows)]
            seen.append(sim.connect(clients[i % len(clients)], dst, port, proto))
        return seen, cleared, sim.rng.getstate()

    lazy, eager = run(True), run(False)
    assert lazy == eager
    assert lazy[1] >= 1  # the update did clear UDP entries, on the nodes that had them


def test_only_the_nodes_a_packet_reaches_are_generated_and_no_health_is_probed_for_them() -> None:
    """A pod's connection to a ClusterIP whose endpoint is on its own node generates that node's rules alone,
    and the load balancer probes no health check until a connection to an eTP Local ingress IP needs one."""
    sim = Simulator(load(objects(web_pods=("web-1",))), BASE, rng=random.Random(1), hosts=HOSTS)
    assert sim.connect(sim.client("pod", "default/client"), "10.96.0.10", 80).target == "default/web-1"
    assert {name for name, rt in sim.runtimes.items() if rt.built} == {"node1"}
    assert sim.balancer.health == {}
    outside = sim.connect(sim.client("external", ip="198.51.100.7"), "203.0.113.100", 80)
    assert outside.failure is None
    assert set(sim.balancer.health) == {("default/web-local", "node1"), ("default/web-local", "node2")}
    assert outside.entry_node is not None and sim.runtimes[outside.entry_node].built


@pytest.mark.parametrize("seed", [5, 99])
def test_a_many_node_cluster_generates_fewer_nodes_and_draws_alike(seed: int) -> None:
    """Five nodes, services with two endpoints each: a pod's connections generate its node and the endpoints'
    nodes, never all five, and make the same connections and draws as the eager simulator."""
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.simulator.bench import scale_cluster

    cluster = scale_cluster(8, 2, 5)
    config = ProxyConfig(node_name="node1", cluster_cidrs=("10.0.0.0/8",))
    sims = [Simulator(cluster, config, rng=random.Random(seed), lazy=lazy) for lazy in (True, False)]
    runs = [[send(sim, f"pod/{sim.topology.pods[0].key}", host_port(svc.cluster_ips[0], 80), count=30, seed=seed)
             for svc in cluster.services[:2]] for sim in sims]
    assert runs[0] == runs[1] and all(run.delivered for run in runs[0])
    assert sims[0].rng.getstate() == sims[1].rng.getstate()
    built = {name for name, rt in sims[0].runtimes.items() if rt.built}
    assert sims[0].topology.pods[0].node in built and len(built) < len(sims[0].runtimes) == 5


def test_the_analysis_simulator_takes_each_node_s_rules_from_the_node_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """dist's connection runs simulate the cluster whose rules the exact shares were traced in: each node's tables
    are the node set's own object (generated once), while other objects (a later update's) are generated afresh.
    Checked through the simulator itself: its nodes compile the node set's tables and generate none."""
    from kubeproxy_sim.analysis.journeys import build_simulator, shared_rules
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.simulator import network

    nodes = node_set(load(objects()), BASE)
    sim = build_simulator(nodes, (), 1).sim
    rules = shared_rules(nodes)
    for name in sim.runtimes:
        nodes.ruleset(name)  # the exact shares' tracing generated these
    with monkeypatch.context() as patched:
        patched.setattr(network, "generate", lambda *a, **k: pytest.fail("the simulator generated a node's rules"))
        for name, rt in sim.runtimes.items():
            assert sim._generate(sim.cluster, rt.node.config) is nodes.ruleset(name)
            assert rt.compiled is not None and rt.built
    for name, rt in sim.runtimes.items():
        assert rules(sim.cluster, rt.node.config) is nodes.ruleset(name)
    changed = load(objects(web_pods=("web-1",)))
    assert rules(changed, sim.runtimes["node1"].node.config) is not nodes.ruleset("node1")



@pytest.mark.parametrize(("name", "alike"), [
    ("topology-hints", True), ("large-cluster", True), ("sctp-udp", True), ("ipv6", True),
    ("upstream-internal-external-masquerade-base", True), ("traffic-distribution-prefersamenode", False),
    ("detect-local-node-cidr", False),
    ("upstream-internal-traffic-policy-local-and-there-is-one-local-endpoint", False),
    ("upstream-terminating-endpoints-traffic-policy-local-terminating-endpoints-on-remote-node", False)])
def test_the_nodes_of_a_build_share_the_ports_rules_they_read_alike(name: str, alike: bool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulator's nodes share the service ports' rules (``proxier.sync.PortMemo``): each node's tables are still
    the text its own sync writes alone (a Local policy, node hints, a NodeCIDR detector are read per node), and a
    port that reads nothing of its node (``alike``: the scenario has one) is written once for them all."""
    from kubeproxy_sim.netfilter.render import render_ruleset
    from kubeproxy_sim.proxier import sync
    from kubeproxy_sim.simulator.network import node_rules, shared_node_rules

    sim = scenario_simulator(name, 1, True)
    configs = [rt.node.config for rt in sim.runtimes.values()]
    shared = shared_node_rules()
    assert [render_ruleset(shared(sim.cluster, c)) for c in configs] == \
        [render_ruleset(node_rules(sim.cluster, c)) for c in configs]
    written: list[object] = []
    write = sync.write_service_port
    monkeypatch.setattr(sync, "write_service_port", lambda ctx, *rest: written.append(rest) or write(ctx, *rest))
    for rt in sim.runtimes.values():
        assert rt.compiled is not None  # the simulator's own build generates every node
    ports = sum(len(s.ports) for s in sim.cluster.services)
    assert (len(written) < len(configs) * ports) is alike
