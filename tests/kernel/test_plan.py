"""The topology plan: pure, so checked without root."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel import env
from kubeproxy_sim.kernel.plan import DEFAULT_CLIENT, ROUTER6, check_name, plan
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.proxier.config import ProxyConfig

UPSTREAM_STYLE = """
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec:
  clusterIP: 172.30.0.41
  ports: [{name: p, port: 80, protocol: TCP}, {name: d, port: 53, protocol: UDP}, {name: s, port: 9, protocol: SCTP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc-1, namespace: ns, labels: {kubernetes.io/service-name: svc}}
addressType: IPv4
endpoints:
- {addresses: [10.180.0.1], nodeName: test-node}
- {addresses: [10.180.2.1], nodeName: node2}
- {addresses: [192.168.0.2], nodeName: test-node}
ports: [{name: p, port: 80, protocol: TCP}, {name: d, port: 53, protocol: UDP}, {name: s, port: 9, protocol: SCTP}]
"""
CONFIG = ProxyConfig(node_name="test-node", node_ips=("192.168.0.2/24", "2001:db8::1/64"),
                     cluster_cidrs=("10.0.0.0/8",))


def topology(sources: tuple[str, ...] = ()):
    return plan("demo", load_text(UPSTREAM_STYLE).cluster, CONFIG, sources)


def test_nodes_come_from_config_objects_or_are_synthesised() -> None:
    topo = topology()
    assert [(n.name, n.netns, n.addresses) for n in topo.nodes] == [
        ("test-node", "kpsim-demo.n0", ("192.168.0.2",)),
        ("node2", "kpsim-demo.n1", ("198.18.0.10",)),
    ]
    assert topo.nodes[1].config.node_name == "node2"
    assert topo.nodes[1].config.node_ips == ("198.18.0.10/32",)


def test_workloads_serve_their_endpoint_ports_and_node_addresses_are_host_network() -> None:
    topo = topology()
    pods = {p.ip: p for p in topo.pods}
    assert pods["10.180.0.1"].node == "test-node" and pods["10.180.2.1"].node == "node2"
    assert pods["10.180.0.1"].ports == (("tcp", 80), ("udp", 53))  # SCTP is not served
    assert pods["192.168.0.2"].host_network and pods["192.168.0.2"].netns == "kpsim-demo.n0"
    assert any("SCTP" in note for note in topo.notes)


def test_sources_become_client_pods_or_external_clients() -> None:
    topo = topology(("10.0.0.2", "203.0.113.2", "127.0.0.1", "192.168.0.2", "2001:db8::9"))
    pods = {p.ip: p for p in topo.pods}
    assert pods["10.0.0.2"].node == "test-node" and not pods["10.0.0.2"].ports
    assert [c.ip for c in topo.clients] == ["203.0.113.2", DEFAULT_CLIENT]


def test_plan_is_deterministic_and_every_namespace_is_prefixed() -> None:
    first, second = topology(("10.0.0.2",)), topology(("10.0.0.2",))
    assert first == second
    assert all(n.startswith("kpsim-demo.") for n in first.namespaces())
    assert len(set(first.namespaces())) == len(first.namespaces())


@pytest.mark.parametrize("name", ["", "Demo", "a.b", "-x", "x" * 40])
def test_cluster_names_are_checked(name: str) -> None:
    with pytest.raises(InputError, match="--name"):
        check_name(name)


def test_missing_root_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr("shutil.which", lambda tool: None)
    problems = env.missing()
    assert any("root" in p for p in problems) and any("iptables-restore" in p for p in problems)
    with pytest.raises(env.EnvironmentMissing, match="root"):
        env.require()


def _scenario(name: str):
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.objects import load_paths

    directory = REPO_RULESETS / name
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    return cluster, config_from_args(scenario_args(directory), cluster)


def test_ipv6_plan_uses_the_config_family() -> None:
    cluster, config = _scenario("ipv6")
    topo = plan("six", cluster, config, ("fd00:10:244:1::5", "2001:db8:ffff::1", "10.0.0.1"))
    assert topo.family == 6 and topo.router == ROUTER6 and topo.gateway == "fe80::1"
    assert [(n.name, n.addresses) for n in topo.nodes] == [("node1", ("2001:db8:0:1::10",)),
                                                           ("node2", ("2001:db8:0:1::11",))]
    assert topo.nodes[1].config.node_ips == ("2001:db8:0:1::11/128",)
    pods = {p.ip: p for p in topo.pods}
    assert pods["fd00:10:244:1::10"].ports == (("tcp", 8080),) and pods["fd00:10:244:2::10"].node == "node2"
    assert pods["fd00:10:244:1::5"].key == "client/fd00-10-244-1--5"
    assert [c.ip for c in topo.clients] == ["2001:db8:ffff::1", "2001:db8:ffff::10"]  # no IPv4 source
    assert topo.via_first_node == ("2001:db8:ffff::80",)  # the LoadBalancer IP, through the first node


def test_interface_name_prefix_nodes_route_their_pods_on_veths() -> None:
    cluster, config = _scenario("detect-local-interface-name-prefix")
    topo = plan("pfx", cluster, config)
    assert all(n.routed for n in topo.nodes)
    assert all(p.host_veth.startswith("veth") for p in topo.pods if not p.host_network)
    assert not plan("demo", load_text(UPSTREAM_STYLE).cluster, CONFIG).nodes[0].routed


def test_many_endpoints_without_pods_share_a_pool_namespace_per_node_and_ports() -> None:
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.kernel.plan import POOL_OVER
    from kubeproxy_sim.objects import load_paths

    directory = REPO_RULESETS / "large-cluster"
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    topo = plan("big", loaded.cluster, config)
    pooled = [p for p in topo.pods if p.pooled]
    assert len(pooled) == 1200 and len(topo.namespaces()) < 12
    by_netns: dict[str, set[str]] = {}
    for pod in pooled:
        by_netns.setdefault(pod.netns, set()).add(pod.node)
        assert pod.netns.startswith("kpsim-big.q") and pod.ports == (("tcp", 8080),)
    assert all(len(nodes) == 1 for nodes in by_netns.values()) and len(by_netns) == 3
    assert len({p.host_veth for p in pooled}) == 3
    assert not any(p.pooled for p in topology().pods) and POOL_OVER >= 16


def test_root_without_capabilities_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root in a default container (or after setpriv) lacks CAP_SYS_ADMIN/CAP_NET_ADMIN: exit 3 naming it,
    not an internal error at the first mount."""
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda tool: f"/usr/sbin/{tool}")
    monkeypatch.setattr(env, "effective_capabilities", lambda: 1 << 21)  # CAP_SYS_ADMIN only
    assert [p.split(" (")[0] for p in env.missing()] == ["the CAP_NET_ADMIN capability"]
    monkeypatch.setattr(env, "effective_capabilities", lambda: 0)
    with pytest.raises(env.EnvironmentMissing, match="the CAP_SYS_ADMIN and CAP_NET_ADMIN capabilities"):
        env.require()
    monkeypatch.setattr(env, "effective_capabilities", lambda: (1 << 21) | (1 << 12))
    assert env.missing() == []


def test_effective_capabilities_are_read_from_the_status_text() -> None:
    assert env.effective_capabilities("Name:\tx\nCapInh:\t0\nCapEff:\t000001ffffffffff\n") == 0x1ffffffffff
    assert env.effective_capabilities("Name:\tx\n") is None
    assert env.effective_capabilities() is not None  # this machine's own /proc/self/status



def test_the_plan_places_pods_and_pod_cidrs_as_the_simulator_does() -> None:
    """Finished Pods left out, a host-network Pod in its node's namespace at the node's address (its foreign
    status.podIP warned about in the same words: a warning for standard error, not a note saved with the stage,
    which `netns up` listed as "note: ...: warning: ..." on standard output), a node's pod CIDRs from its Node
    object (the config's only for the first node without one), as simulator.topology.build_topology
    (tests/simulator/test_topology.py)."""
    from kubeproxy_sim.simulator.topology import build_topology
    from tests.simulator.test_topology import CONFIG, places

    sim = build_topology(places(), CONFIG)
    topo = plan("gaps", places(), CONFIG)
    assert [(n.name, n.pod_cidrs, n.config.node_labels) for n in topo.nodes] == [
        (n.name, n.pod_cidrs, n.config.node_labels) for n in sim.nodes]
    assert {(p.key, p.ip, p.node) for p in topo.pods if not p.host_network} == {
        (p.key, p.ip, p.node) for p in sim.pods if not p.host_network}
    # host-network workloads: one entry per node address here (one server in the node's namespace answers them all)
    host = {(p.ip, p.node): set(p.ports) for p in topo.pods if p.host_network}
    expected: dict[tuple[str, str], set[tuple[str, int]]] = {}
    for pod in (p for p in sim.pods if p.host_network):
        expected.setdefault((pod.ip, pod.node), set()).update(pod.ports or ())
    # agent's slice port too (its podIP's), borrower's at its own node's address (its podIP is n2's)
    assert host == expected == {("192.168.0.11", "n2"): {("tcp", 80), ("tcp", 9100), ("tcp", 9300)},
                                ("192.168.0.10", "n1"): {("tcp", 9400)}}
    agent = next(p for p in topo.pods if p.key == "kube-system/agent")
    assert (agent.netns, agent.ip) == ("kpsim-gaps.n1", "192.168.0.11")
    assert topo.warnings == sim.warnings != ()
    assert not [n for n in topo.notes if "warning" in n or "host-network" in n]


def test_host_network_pods_of_one_node_address_all_get_their_ports() -> None:
    """Two host-network Pods at one node address: the node's server answers the ports of both (as the simulator's
    listeners of each host-network pod on the node)."""
    from tests.simulator.test_topology import CONFIG, PLACES

    text = PLACES.replace("podIP: 192.168.0.11", "podIP: 10.9.9.7")  # exporter's podIP now foreign too
    topo = plan("gaps", load_text(text).cluster, CONFIG)
    on_n2 = [p for p in topo.pods if p.host_network and p.node == "n2"]
    assert [(p.key, p.ip, p.ports) for p in on_n2] == [
        ("kube-system/agent", "192.168.0.11", (("tcp", 80), ("tcp", 9100), ("tcp", 9300)))]



@pytest.mark.parametrize(("family", "client", "why"), [
    (4, "255.255.255.255", "the broadcast address"), (4, "0.0.0.0", "the unspecified address"),
    (4, "224.0.0.1", "a multicast address"), (4, "127.0.0.2", "a loopback address"),
    (6, "fe80::5", "a link-local address"), (6, "::1", "the loopback address"), (6, "ff02::1", "a multicast address")])
def test_a_client_of_an_address_no_machine_has_is_refused_naming_what_it_is(family: int, client: str,
                                                                             why: str) -> None:
    """netns up --client took 255.255.255.255 and failed when the stage gave its namespace the address (EINVAL);
    a link-local client's connections the nodes would never forward (ip6_forward). The addresses are
    evaluate.SPECIAL_RANGES', which the simulator's clients and pod ranges read too."""
    from kubeproxy_sim.kernel.plan import checked_clients

    with pytest.raises(InputError) as caught:
        checked_clients([client], load_text(UPSTREAM_STYLE).cluster, family)
    assert str(caught.value) == f"--client: {client!r} is {why}; expected an address no node, pod or Service has"


def test_a_client_in_0_0_0_0_8_other_than_0_0_0_0_is_taken() -> None:
    """Since Linux 5.3 only 0.0.0.0 of 0.0.0.0/8 is the kernel's zeronet (evaluate.zeronet): a client at 0.1.2.3
    is a unicast host (the reviewer's netns send from it was answered 4/4 on this kernel)."""
    from kubeproxy_sim.kernel.plan import checked_clients

    assert checked_clients(["0.1.2.3"], load_text(UPSTREAM_STYLE).cluster, 4) == ["0.1.2.3"]


@pytest.mark.parametrize("given", ["::1.2.3.4", "[::1.2.3.4]", "::102:304"])
def test_a_client_recorded_by_checked_clients_is_found_by_send_from(given: str) -> None:
    """checked_clients wrote netaddr's text (``::1.2.3.4``) where netns send's --from looks a client up by
    canonical_address's (``::102:304``, Go's), so ``--client ::1.2.3.4`` then ``--from external:::1.2.3.4``
    said 'no external client ::102:304'. Both now write canonical_address's text."""
    from kubeproxy_sim.kernel.plan import checked_clients
    from kubeproxy_sim.kernel.send import resolve_source, topology_record

    cluster, config = _scenario("ipv6")
    clients = checked_clients([given], cluster, 6)
    assert clients == ["::102:304"]
    state = topology_record(plan("six", cluster, config, clients), cluster)
    for source in ("external:::1.2.3.4", "external:[::1.2.3.4]", "external:::102:304", "::1.2.3.4"):
        assert resolve_source(state, source).netns == state["clients"]["::102:304"]


@pytest.mark.parametrize("given", ["::1.2.3.4", "[::1.2.3.4]"])
def test_a_client_at_a_services_address_in_another_text_is_refused(given: str) -> None:
    """The Services' addresses are the loader's (Go's) text: a client written otherwise is still theirs."""
    from kubeproxy_sim.kernel.plan import checked_clients

    cluster = load_text(UPSTREAM_STYLE.replace("172.30.0.41", "::102:304")).cluster
    with pytest.raises(InputError) as caught:
        checked_clients([given], cluster, 6)
    assert str(caught.value) == (f"--client: {given!r} is an address of Service ns/svc; "
                                 "expected an address no node, pod or Service has")


@pytest.mark.parametrize("given", ["[10.96.0.10", "010.1.2.3", "fd00::1%eth0", "10.0.0.1/32", " 10.0.0.1"])
def test_a_client_that_is_no_address_as_send_reads_them_is_refused(given: str) -> None:
    """is_address is the one judge of a command's address text: --client takes what --from takes."""
    from kubeproxy_sim.errors import UsageError
    from kubeproxy_sim.kernel.plan import checked_clients

    with pytest.raises(UsageError) as caught:
        checked_clients([given], load_text(UPSTREAM_STYLE).cluster, 4)
    assert str(caught.value) == f"--client: {given!r} is not an IP address"


@pytest.mark.parametrize("given", ["::1.2.3.5", "[::1.2.3.5]", "2001:DB8:FFFF::99"])
def test_netns_send_from_an_address_nothing_has_quotes_the_users_text(given: str) -> None:
    """The error quoted the rewritten address ('::102:305') where the user wrote ::1.2.3.5."""
    from kubeproxy_sim.kernel.send import resolve_source, topology_record

    cluster, config = _scenario("ipv6")
    state = topology_record(plan("six", cluster, config), cluster)
    with pytest.raises(InputError) as caught:
        resolve_source(state, given)
    assert str(caught.value).startswith(f"--from: {given!r}: no pod, node (nor its pod bridge) or external client")


def elsewhere(pooled: int = 0) -> list[dict]:
    """Two nodes (10.244.1.0/24, 10.244.2.0/24), a client pod on node1, and endpoints without a Pod object that
    name no node: one in node2's pod CIDR, one outside every pod CIDR; ``pooled`` more in node2's CIDR under a
    Service of another port (a pool once above POOL_OVER)."""
    from tests.simulator.builders import node, pod

    def db(name: str, port: int, endpoints: list[dict]) -> list[dict]:
        ports = [{"name": "p", "port": port, "protocol": "TCP"}]
        return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                 "spec": {"clusterIP": f"10.96.0.{port % 200}", "ports": [{"name": "p", "port": port}]}},
                {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"name": f"{name}-1", "namespace": "default",
                              "labels": {"kubernetes.io/service-name": name}},
                 "addressType": "IPv4", "ports": ports, "endpoints": endpoints}]

    endpoints = [{"addresses": ["10.244.2.50"]}, {"addresses": ["203.0.113.5"]}]
    many = [{"addresses": [f"10.244.2.{100 + i}"]} for i in range(pooled)]
    return [node("node1"), node("node2"), pod("client"), *db("db", 5432, endpoints),
            *(db("cache", 6379, many) if pooled else [])]


def test_an_endpoint_that_names_no_node_is_placed_as_the_simulator_places_it() -> None:
    """An endpoint with no nodeName in the pod CIDR of a node: on that node (its bridge, where the other nodes
    route the address), else on the first node, pooled or not, by the simulator's own rule (PodOwners). `netns
    up` put all of them on the first node, so a hairpin through one in node2's CIDR was masqueraded to node1's
    bridge address in the kernel, node2's in the simulator, and `netns verify` differed."""
    from kubeproxy_sim.kernel.plan import POOL_OVER
    from kubeproxy_sim.simulator.topology import build_topology
    from tests.simulator.builders import BASE, load

    cluster = load(elsewhere(pooled=POOL_OVER + 1))
    topo = plan("far", cluster, BASE)
    placed = {p.ip: p.node for p in topo.pods}
    assert placed == {p.ip: p.node for p in build_topology(cluster, BASE).pods}
    assert [placed[ip] for ip in ("10.244.2.50", "203.0.113.5")] == ["node2", "node1"]
    pooled = [p for p in topo.pods if p.pooled]
    assert len(pooled) == POOL_OVER + 1 and {p.node for p in pooled} == {"node2"}
