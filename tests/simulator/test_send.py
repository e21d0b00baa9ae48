"""End to end: connections through the simulated cluster, for every service type and policy."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPAddress

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.objects import load_paths, load_text
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from tests.budget import budget
from tests.simulator.builders import (
    HOSTS,
    NODES,
    PODS,
    WEB,
    chi_square_p,
    dns_node_port,
    first_forward_rule,
    load,
    objects,
    simulator,
    with_conditions,
)

NODE_IPS = {ip for ip, _, _ in NODES.values()}
ALPHA = 0.001


def shares_agree(result, seed) -> None:
    """Chi-square at 99.9% of the delivered counts (and failures) against the tracer's exact shares."""
    observed = {d.pod: d.count for d in result.delivered}
    observed.update({f"{f.reason} {f.detail}": f.count for f in result.failed})
    expected = {d.pod: d.expected for d in result.delivered if d.expected}
    expected.update({f"{f.reason} {f.detail}": f.expected for f in result.failed if f.expected})
    for key in observed:
        assert expected.get(key), f"seed {seed}: {key} got connections but its expected share is 0: {result}"
    p = chi_square_p(observed, expected)
    assert p > ALPHA, f"seed {seed}: p={p:.2e}, observed {observed}, expected {expected}"


def bootcamp(seed: int) -> Simulator:
    directory = REPO_RULESETS / "bootcamp"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    return Simulator(cluster, config_from_args(scenario_args(directory), cluster), rng=random.Random(seed))


@pytest.mark.parametrize("client", ["client", "client2"])
def test_cluster_ip_from_a_pod_on_each_node(client):
    seed = 11
    result = send(simulator(seed), f"pod/default/{client}", "web.default:80", count=3000, seed=seed)
    assert not result.failed
    assert {d.pod for d in result.delivered} == {"default/web-1", "default/web-2", "default/web-3"}
    assert all(d.sources_seen == (PODS[client][1],) for d in result.delivered)  # no masquerade pod to pod
    assert all(d.expected == pytest.approx(1 / 3, abs=1e-6) for d in result.delivered)
    shares_agree(result, seed)


@pytest.mark.parametrize("node,address", [("node1", "192.168.49.2"), ("node2", "192.168.49.3")])
def test_bootcamp_node_port_from_outside_on_each_node_is_masqueraded(node, address):
    """Masqueraded to the address of the interface the connection leaves by: the node's own towards a pod on the
    other node (eth0), its pod bridge's gateway (the pod CIDR's first address) towards one of its own pods."""
    seed = 5
    sim = bootcamp(seed)
    gateway = sim.topology.node(node).gateways
    result = send(sim, "external", f"node/{node}:31526", count=2000, seed=seed)
    assert not result.failed and len(result.delivered) == 4
    assert {d.node for d in result.delivered} == {"node1", "node2"}
    assert all(d.sources_seen == (gateway if d.node == node else (address,)) for d in result.delivered)
    shares_agree(result, seed)


def test_external_traffic_policy_local_node_port_keeps_the_source_and_stays_local():
    result = send(simulator(), "external:198.51.100.7", "node/node2:30081", count=400)
    assert {d.pod for d in result.delivered} == {"default/web-2", "default/web-3"}
    assert all(d.sources_seen == ("198.51.100.7",) for d in result.delivered)
    shares_agree(result, 1)


def test_external_traffic_policy_local_drops_on_a_node_without_local_endpoints():
    sim = simulator(docs=objects(local_pods=("web-2", "web-3")))
    result = send(sim, "external", "node/node1:30081", count=50)
    assert not result.delivered
    (failed,) = result.failed
    assert failed.reason == "DROP" and failed.expected == 1.0
    assert "node node1" in failed.detail and "-j DROP" in failed.detail and "KUBE-EXT" in failed.detail


def test_load_balancer_local_policy_uses_health_checks():
    sim = simulator(docs=objects(local_pods=("web-2", "web-3")))
    service = next(s for s in sim.cluster.services if s.name == "web-local")
    assert sim.balancer.backends(service) == ("node2",)
    result = send(sim, "external", "203.0.113.100:80", count=600, seed=3)
    assert {d.pod for d in result.delivered} == {"default/web-2", "default/web-3"} and not result.failed
    assert all(d.sources_seen == ("203.0.113.10",) for d in result.delivered)  # the client's address
    shares_agree(result, 3)


def test_load_balancer_local_policy_skips_a_node_whose_only_local_endpoint_is_terminating():
    """node1's only local endpoint is serving and terminating but not ready: its health check fails (upstream
    counts ready endpoints only), so the balancer never sends the eTP Local service's traffic there, although
    node1's own rules would still fall back to the draining pod."""
    docs = with_conditions(objects(), "web-local", "web-1", ready=False, serving=True, terminating=True)
    sim = simulator(docs=docs)
    service = next(s for s in sim.cluster.services if s.name == "web-local")
    assert sim.balancer.backends(service) == ("node2",)
    result = send(sim, "external", "203.0.113.100:80", count=400, seed=3)
    assert not result.failed
    assert {d.pod for d in result.delivered} == {"default/web-2", "default/web-3"}
    assert {d.pod: d.expected for d in result.delivered} == {"default/web-2": 0.5, "default/web-3": 0.5}
    shares_agree(result, 3)
    local = send(sim, "external", "node/node1:30081", count=50, seed=3)  # the node's rules do use the draining pod
    assert {d.pod for d in local.delivered} == {"default/web-1"}


def test_load_balancer_local_policy_all_nodes_healthy_weights_by_node():
    result = send(simulator(4), "external", "203.0.113.100:80", count=2000, seed=4)
    shares = {d.pod: d.expected for d in result.delivered}
    assert shares == {"default/web-1": 0.5, "default/web-2": 0.25, "default/web-3": 0.25}
    shares_agree(result, 4)


def test_load_balancer_source_ranges_vip_mode_dropped_by_the_nodes_rules():
    sim = simulator()
    denied = send(sim, "external", "203.0.113.101:80", count=40)
    assert not denied.delivered and {f.reason for f in denied.failed} == {"DROP"}
    assert all("KUBE-PROXY-FIREWALL" in f.detail or "KUBE-FW" in f.detail for f in denied.failed)
    allowed = send(sim, "external:198.51.100.7", "203.0.113.101:80", count=300)
    assert not allowed.failed and len(allowed.delivered) == 3
    bridges = {"10.244.1.1", "10.244.2.1"}  # a local endpoint sees its node's pod bridge address
    assert {s for d in allowed.delivered for s in d.sources_seen} <= NODE_IPS | bridges  # eTP Cluster: masqueraded


def test_load_balancer_ip_mode_proxy():
    sim = simulator()
    allowed = send(sim, "external:198.51.100.7", "203.0.113.102:80", count=300)
    assert not allowed.failed and len(allowed.delivered) == 3
    assert "198.51.100.7" not in {s for d in allowed.delivered for s in d.sources_seen}
    denied = send(sim, "external", "203.0.113.102:80", count=10)
    (failed,) = denied.failed
    assert failed.reason == "DROP" and "loadBalancerSourceRanges" in failed.detail


def test_load_balancer_ip_mode_proxy_local_policy_pod_sees_the_balancer():
    docs = objects(extra=[])
    for doc in docs:
        if doc["metadata"]["name"] == "web-proxy" and doc["kind"] == "Service":
            doc["spec"]["externalTrafficPolicy"] = "Local"
            doc["spec"]["healthCheckNodePort"] = 32001
    result = send(simulator(docs=docs), "external:198.51.100.7", "203.0.113.102:80", count=100)
    assert not result.failed
    assert {s for d in result.delivered for s in d.sources_seen} == {"203.0.113.102"}


def test_external_ips_from_outside():
    result = send(simulator(6), "external", "203.0.113.200:80", count=1500, seed=6)
    assert not result.failed and len(result.delivered) == 3
    shares_agree(result, 6)


def test_external_name_through_dns_and_hosts():
    result = send(simulator(), "pod/default/client", "ext.default.svc.cluster.local:443", count=20)
    (delivered,) = result.delivered
    assert delivered.pod == "external/example.com" and delivered.ip == "93.184.216.34"
    assert delivered.sources_seen == ("192.168.0.10",)  # pod egress is masqueraded by the node
    assert delivered.expected == 1.0


def test_external_name_without_hosts_entry_is_an_input_error():
    sim = Simulator(load(objects()), simulator().base, rng=random.Random(1))
    with pytest.raises(InputError, match=r"example\.com"):
        send(sim, "pod/default/client", "ext.default:443")


def test_without_hosts_the_reason_a_name_has_no_address_does_not_point_to_hosts():
    """netns send has no --hosts: unresolved_reason(hosts=False) names neither --hosts nor asks for it (the
    review found "...or a name of --hosts; netns send has no --hosts"); send's own words are unchanged."""
    from kubeproxy_sim.simulator.send import unresolved_reason

    dns = Simulator(load(objects()), simulator().base, rng=random.Random(1)).dns  # ext.default: example.com
    for name, with_hosts, without in (
            ("nope.default", "no such name (NXDOMAIN); expected a Service (NAME.NAMESPACE) or a name of --hosts",
             "no such name (NXDOMAIN); expected a Service (NAME.NAMESPACE)"),
            ("ext.default", "the name resolves to example.com, which does not resolve (add it to --hosts)",
             "the name resolves to example.com, a name outside the cluster, which this command cannot resolve (it "
             "has no --hosts): give its address as IP:PORT")):
        answer = dns.resolve(name, "default")
        assert not answer.addresses
        assert unresolved_reason(answer, dns, "default") == with_hosts
        assert unresolved_reason(answer, dns, "default", hosts=False) == without


def test_headless_service_resolves_to_the_pods():
    result = send(simulator(7), "pod/default/client", "web-headless:8080", count=1500, seed=7)
    assert not result.failed
    assert {d.pod: d.ip for d in result.delivered} == {f"default/{p}": PODS[p][1] for p in ("web-1", "web-2", "web-3")}
    assert all(d.sources_seen == ("10.244.1.5",) for d in result.delivered)
    shares_agree(result, 7)


def test_hairpin_a_pod_reaching_itself_through_its_service():
    result = send(simulator(8), "pod/default/web-1", "web.default:80", count=600, seed=8)
    assert not result.failed
    seen = {d.pod: d.sources_seen for d in result.delivered}
    # masqueraded to node1's pod bridge address (the pod CIDR's gateway), so the reply comes back through the node
    assert seen["default/web-1"] == ("10.244.1.1",)
    assert seen["default/web-2"] == ("10.244.1.10",)
    shares_agree(result, 8)


def test_cross_node_connection_goes_through_the_other_nodes_forward_chain():
    sim = simulator(9)
    result = send(sim, "pod/default/client", "10.244.2.10:8080", count=1, record=True)
    assert [d.pod for d in result.delivered] == ["default/web-2"]
    places = [hop.where for hop in result.hops]
    assert places[:5] == ["pod default/client eth0", "node1 cbr0 in", "node1 eth0 out", "node2 eth0 in",
                          "node2 cbr0 out"]


def test_reply_is_un_natted_on_its_way_back():
    sim = simulator(10)
    result = send(sim, "pod/default/client", "web.default:80", count=1, record=True)
    assert not result.failed
    vip = 0x0A60000A  # 10.96.0.10
    client = 0x0AF40105  # 10.244.1.5
    replies = [h for h in result.hops if h.flags == "SA"]
    assert replies[0].packet[2] != vip  # the pod answers from its own address
    last = [h for h in replies if h.packet[4] == client][-1]
    assert last.packet[2] == vip and last.packet[3] == 80  # the client sees the service address


def test_wrong_reply_source_when_a_pod_uses_another_nodes_local_node_port():
    """eTP Local from a pod to another node's NodePort is not masqueraded: an endpoint on the client's
    node answers it directly, from its own address, and the client drops that reply."""
    result = send(simulator(12), "pod/default/client", "192.168.0.11:30081", count=600, seed=12)
    (failed,) = result.failed
    assert failed.reason == "WRONG_REPLY_SOURCE" and "10.244.1.10:8080" in failed.detail
    assert {d.pod for d in result.delivered if d.count} == {"default/web-2", "default/web-3"}
    (lost,) = [d for d in result.delivered if not d.count]  # the rules' share for it, lost on the way back
    assert lost.pod == "default/web-1" and lost.expected and lost.ip == "10.244.1.10"


def test_a_pod_the_rules_give_a_share_is_listed_even_when_no_connection_reached_it():
    result = send(simulator(1), "external", "192.168.0.11:30080", count=1, seed=1)
    assert sum(d.count for d in result.delivered) == 1 and len(result.delivered) > 1
    assert all(d.expected for d in result.delivered)
    assert abs(sum(d.expected for d in result.delivered) + sum(f.expected or 0 for f in result.failed) - 1) < 1e-5


def test_session_affinity_sticks_per_client():
    picked = set()
    for seed in range(6):
        sim = simulator(seed)
        for client in ("client", "client2"):
            result = send(sim, f"pod/default/{client}", "web-aff.default:80", count=30, seed=seed)
            reached = [d for d in result.delivered if d.count]
            assert len(reached) == 1 and not result.failed, (seed, result)
            picked.add(reached[0].pod)
    assert len(picked) > 1  # different clients land on different pods


def test_udp_entries_to_a_removed_endpoint_are_cleared_tcp_entries_persist():
    sim = simulator(13)
    client = sim.client("pod", "default/client")
    first = sim.connect(client, "10.96.0.53", 53, "udp", sport=40000)
    tcp = sim.connect(client, "10.96.0.10", 80, "tcp", sport=40001)
    assert first.target and tcp.target
    assert sim.connect(client, "10.96.0.53", 53, "udp", sport=40000).target == first.target  # conntrack
    dns_left = tuple(p for p in ("web-1", "web-2", "web-3") if f"default/{p}" != first.target)
    web_left = tuple(p for p in ("web-1", "web-2", "web-3") if f"default/{p}" != tcp.target)
    cleared = sim.update(load(objects(web_pods=web_left, dns_pods=dns_left)))
    assert cleared >= 1
    again = sim.connect(client, "10.96.0.53", 53, "udp", sport=40000)
    assert again.target in {f"default/{p}" for p in dns_left}
    assert sim.connect(client, "10.96.0.10", 80, "tcp", sport=40001).target == tcp.target


def test_udp_entries_to_a_node_port_whose_endpoint_was_removed_are_cleared():
    """The NodePort half of kube-proxy's stale UDP cleanup: an outside client that keeps talking to a UDP NodePort
    is moved off a removed endpoint instead of staying pinned to it."""
    sim = simulator(15, docs=dns_node_port(objects()))
    client = sim.client("external", ip="198.51.100.7")
    first = sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000)
    assert first.target
    assert sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000).target == first.target  # conntrack
    dns_left = tuple(p for p in ("web-1", "web-2", "web-3") if f"default/{p}" != first.target)
    assert sim.update(load(dns_node_port(objects(dns_pods=dns_left)))) >= 1
    again = sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000)
    assert again.target in {f"default/{p}" for p in dns_left}


def test_udp_entries_expire_after_their_timeout():
    sim = simulator(14)
    client = sim.client("pod", "default/client")
    sim.connect(client, "10.96.0.53", 53, "udp", sport=41000)
    table = sim.runtimes["node1"].conntrack
    assert len(table) == 1
    sim.advance(121)
    assert table.expire(sim.now) == 1


def test_dns_queries_travel_to_kube_dns_when_it_exists():
    kube_dns = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
                 "spec": {"clusterIP": "10.96.0.99", "selector": {"k8s-app": "kube-dns"},
                          "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}]
    sim = simulator(docs=objects(extra=kube_dns))
    result = send(sim, "pod/default/client", "web.default:80", count=5)
    assert {f.reason for f in result.failed} == {"REJECT"} and "DNS query" in result.failed[0].detail
    assert send(sim, "pod/default/client", "10.96.0.10:80", count=5).delivered  # no name, no query


def _kube_dns(endpoints: tuple[str, ...], **spec) -> list[dict]:
    """kube-system/kube-dns (10.96.0.99, UDP 53) with endpoints at these pods (default/NAME) on their nodes."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"clusterIP": "10.96.0.99", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}], **spec}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"name": "kube-dns-a", "namespace": "kube-system",
                          "labels": {"kubernetes.io/service-name": "kube-dns"}},
             "endpoints": [{"addresses": [PODS[p][1]], "conditions": {"ready": True}, "nodeName": PODS[p][0]}
                           for p in endpoints],
             "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}]


def test_the_dns_query_s_own_failures_come_first_in_the_expected_shares():
    """QA-dns M2: a kube-dns that REJECTs every query expected 0% REJECT and 100% delivery; now the query's fate
    comes first and only what it lets through is spread over the destination's pods."""
    sim = simulator(docs=objects(extra=_kube_dns(())))
    result = send(sim, "pod/default/client", "web.default:80", count=5)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("REJECT", 5, 1.0)]
    assert result.failed[0].detail.startswith("DNS query to 10.96.0.99:53: node node1: filter table: ")
    assert not result.delivered  # no pod has a share left
    assert send(sim, "pod/default/client", "10.96.0.10:80", count=5).failed == ()  # no name, no query

    # internalTrafficPolicy Local with kube-dns on node2 only: node1's rules DROP the query, node2's answer it
    sim = simulator(docs=objects(extra=_kube_dns(("web-2",), internalTrafficPolicy="Local")))
    result = send(sim, "pod/default/client", "web.default:80", count=5)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("DROP", 5, 1.0)]
    assert result.failed[0].detail.startswith("DNS query to 10.96.0.99:53: node node1: filter table: ")
    assert not result.delivered
    result = send(sim, "pod/default/client2", "web.default:80", count=30)
    assert not result.failed and {d.pod: d.expected for d in result.delivered} == {
        f"default/{p}": 0.333333 for p in WEB}


def test_who_asks_kube_dns_and_how_its_failed_query_reads_are_said_in_one_place():
    """Simulator.dns_server says whether a client's name is asked of kube-dns over the network (a pod's, not a
    node's, a host-network pod's or an outside machine's; not without a kube-dns of port 53/UDP), for the run,
    the DNS step of the expected shares and resolve alike; network.dns_query_detail makes the detail, and the
    failure says it is the query's (Failure.dns_query), which send tells DNS rows by."""
    from kubeproxy_sim.simulator.network import dns_query_detail

    sim = simulator(docs=objects(extra=_kube_dns(())))
    assert sim.dns_server(sim.client("pod", "default/client")) == "10.96.0.99"
    assert sim.dns_server(sim.client("node", "node1")) is None and sim.dns_server(sim.client("external")) is None
    assert simulator().dns_server(simulator().client("pod", "default/client")) is None  # no kube-dns
    tcp_only = _kube_dns(())
    tcp_only[0]["spec"]["ports"] = [{"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
    assert simulator(docs=objects(extra=tcp_only)).dns_server(sim.client("pod", "default/client")) is None
    failure = sim.dns_query(sim.client("pod", "default/client"))
    assert failure is not None and failure.reason == "REJECT" and failure.dns_query
    prefix = "DNS query to 10.96.0.99:53: "
    assert failure.detail.startswith(prefix) and failure.detail == dns_query_detail("10.96.0.99",
                                                                                    failure.detail[len(prefix):])
    assert sim.dns_query(sim.client("node", "node1")) is None  # a node sends no query over the network
    assert dns_query_detail("fd00::10", "x") == "DNS query to fd00::10:53: x"


def test_a_dns_failure_row_and_a_connection_failure_row_each_expect_their_own_share():
    from fractions import Fraction

    from kubeproxy_sim.simulator.network import Connection, Decided, Failure
    from kubeproxy_sim.simulator.send import tally

    query = "DNS query to 10.96.0.99:53: "
    results = [Connection(failure=Failure("REJECT", f"{query}node a: filter table: -A X -j REJECT",
                                          decided_by=Decided("a"), dns_query=True)),
               Connection(failure=Failure("REJECT", "node a: filter table: -A Y -j REJECT", decided_by=Decided("a"))),
               Connection(failure=Failure("DROP", f"{query}the reply from 10.244.1.10 was lost", after_first=True,
                                          dns_query=True))]
    expected = {"dns:REJECT": Fraction(1, 4), "dns:REJECT@a": Fraction(1, 4), "REJECT": Fraction(1, 2),
                "REJECT@a": Fraction(1, 2), "DROP": Fraction(1, 8)}
    got = sorted((f.reason, f.detail.startswith("DNS"), f.expected)
                 for f in tally("s", "d", "tcp", 1, results, expected).failed)
    assert got == [("DROP", True, None), ("REJECT", False, 0.5), ("REJECT", True, 0.25)]


def test_unknown_source_and_destination_are_input_errors():
    sim = simulator()
    with pytest.raises(InputError, match="--from"):
        send(sim, "pod/default/nope", "web.default:80")
    with pytest.raises(InputError, match="NXDOMAIN"):
        send(sim, "pod/default/client", "nope.default:80")
    with pytest.raises(InputError, match="--to"):
        send(sim, "pod/default/client", "web.default")
    with pytest.raises(InputError, match=r"an IPv6 address with a port is written \[ADDRESS\]:PORT"):
        send(sim, "pod/default/client", "2001:db8:ffff::80:80")


@pytest.mark.parametrize(("source", "destination", "usage"), [
    # of none of the flag's forms: the parser says it is a usage error (2) itself
    ("bogus", "web.default:80", True),
    ("external:zz", "web.default:80", True),
    ("pod/default/client", "web.default", True),
    ("pod/default/client", ":80", True),
    ("pod/default/client", "web.default:http", True),
    ("pod/default/client", "10.0.0.1:\u00b2", True),  # a digit, but not of 0-9 (it was an internal error)
    ("pod/default/client", "2001:db8:ffff::80:80", True),
    # of the right shape, but naming nothing there is (or of the other family): invalid input (1)
    ("pod/default/nope", "web.default:80", False),
    ("external:2001:db8::1", "web.default:80", False),
    ("pod/default/client", "nope.default:80", False),
    ("pod/default/client", "10.0.0.1:70000", False),
    ("pod/default/client", "10.0.0.1:0", False),
    ("pod/default/client", "node/nope:80", False),
])
def test_a_source_or_destination_of_no_form_is_a_usage_error_where_it_is_parsed(source, destination, usage):
    from kubeproxy_sim.errors import UsageError

    with pytest.raises(InputError) as caught:
        send(simulator(), source, destination)
    assert isinstance(caught.value, UsageError) is usage, caught.value


def test_a_flows_file_entry_of_no_form_is_bad_content_of_the_file_not_a_usage_error():
    """The differential reads a --flows file's entries with send's parsers: an entry of no form is invalid input
    (exit 1), as the file's other problems are."""
    from kubeproxy_sim.errors import UsageError
    from kubeproxy_sim.kernel.differential import Flow, SimulatorSide

    directory = REPO_RULESETS / "bootcamp"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    side = SimulatorSide(cluster, config_from_args(scenario_args(directory), cluster))
    with pytest.raises(InputError, match="'bogus': expected IP:PORT") as caught:
        side.leaves(Flow("external", "bogus"))
    assert not isinstance(caught.value, UsageError)


def test_json_contract():
    result = send(simulator(), "pod/default/client", "web.default:80", count=10, seed=1)
    data = result.as_json()
    assert list(data) == ["from", "to", "proto", "connections", "seed", "delivered", "failed", "sticky",
                          "answered", "ping"]
    assert data["from"] == "pod/default/client" and data["connections"] == 10 and data["seed"] == 1
    assert data["sticky"] is False
    entry = data["delivered"][0]
    assert list(entry) == ["pod", "ip", "node", "count", "share", "expected", "sources_seen", "pod_object", "why"]
    assert sum(d["count"] for d in data["delivered"]) == 10


def test_same_seed_same_result():
    a = send(simulator(21), "external", "203.0.113.200:80", count=200, seed=21)
    b = send(simulator(21), "external", "203.0.113.200:80", count=200, seed=21)
    assert a.as_json() == b.as_json()


def test_hosts_are_the_outside():
    assert HOSTS[0][0] == "example.com"


@settings(max_examples=budget(15), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), client=st.sampled_from(["client", "client2", "web-2"]),
       count=st.integers(1, 40))
def test_every_connection_is_accounted_for_and_shares_sum_to_one(seed, client, count):
    result = send(simulator(seed), f"pod/default/{client}", "web.default:80", count=count, seed=seed)
    assert sum(d.count for d in result.delivered) + sum(f.count for f in result.failed) == count
    assert not result.failed, f"seed {seed}"
    assert sum(d.expected for d in result.delivered if d.expected) <= 1 + 1e-6
    assert abs(sum(d.share for d in result.delivered) - 1) < 1e-5


@pytest.mark.parametrize(("source", "destination"), [
    ("pod/default/kubernetes-bootcamp-855d5cc575-4lb7w", "kubernetes-bootcamp.default:8080"),  # hairpin too
    ("external", "node/node1:31526"),
])
def test_compiling_chains_lazily_changes_no_connection(source: str, destination: str) -> None:
    """The simulator compiles a node's chains when a packet first enters them; up front gives the same run."""
    directory = REPO_RULESETS / "bootcamp"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    config = config_from_args(scenario_args(directory), cluster)
    runs = [send(Simulator(cluster, config, rng=random.Random(5), lazy=lazy), source, destination, count=300, seed=5)
            for lazy in (True, False)]
    assert runs[0] == runs[1] and runs[0].delivered


def test_a_node_s_own_connection_to_a_load_balancer_ip_without_endpoints_ends_where_the_balancer_sends_it():
    """kube-proxy rejects such a packet in INPUT and FORWARD, never on its way out: it leaves the node, and the
    balancer (failing open, no node being healthy) hands it to either node, whose rules reject it."""
    sim = simulator(docs=objects(local_pods=()))
    result = send(sim, "node/node1", "203.0.113.100:80", count=200, seed=5)
    assert not result.delivered
    assert [(f.reason, f.expected) for f in result.failed] == [("REJECT", 0.5), ("REJECT", 0.5)]  # each node's
    shares_agree(result, 5)
    assert {f.detail.split(":")[0] for f in result.failed} == {"node node1", "node node2"}
    assert all("KUBE-EXTERNAL-SERVICES" in f.detail for f in result.failed)


def test_each_failure_row_expects_its_own_node_s_share_and_null_when_rows_share_one():
    from fractions import Fraction

    from kubeproxy_sim.simulator.network import Connection, Decided, Failure
    from kubeproxy_sim.simulator.send import tally

    def fail(reason: str, detail: str) -> Connection:
        node = detail.split(":")[0].removeprefix("node ")
        return Connection(failure=Failure(reason, detail, decided_by=Decided(node) if reason != "TIMEOUT" else None))

    results = [fail("REJECT", "node a: filter table: -A X -j REJECT"),
               fail("REJECT", "node b: filter table: -A X -j REJECT"),
               fail("DROP", "node a: filter table: -A Y -j DROP"), fail("DROP", "node a: filter table: -A Z -j DROP"),
               fail("TIMEOUT", "router: nothing")]
    expected = {"REJECT": Fraction(1, 2), "REJECT@a": Fraction(1, 8), "REJECT@b": Fraction(3, 8),
                "DROP": Fraction(1, 4), "DROP@a": Fraction(1, 4), "TIMEOUT": Fraction(1, 4)}
    rows = {(f.reason, f.detail.split(":")[0]): f.expected for f in tally("s", "d", "tcp", 1, results, expected).failed}
    assert rows[("REJECT", "node a")] == 0.125 and rows[("REJECT", "node b")] == 0.375
    assert rows[("DROP", "node a")] is None  # two rules of node a share the node's expectation
    assert rows[("TIMEOUT", "router")] == 0.25


def test_a_pod_name_that_is_no_address_is_no_such_name_and_one_of_the_other_family_is_named():
    """QA-dns H1: these ended in an internal error (ValueError from the simulator's address parsing)."""
    sim = simulator()
    for name in ("foo", "1-2-3", "999-1-1-1"):
        with pytest.raises(InputError, match="NXDOMAIN"):
            send(sim, "pod/default/client", f"{name}.default.pod.cluster.local:80")
    with pytest.raises(InputError) as caught:
        send(sim, "pod/default/client", "fd00-10-244-1--5.default.pod.cluster.local:80")
    assert "stands for fd00:10:244:1::5, which is IPv6 but the node's proxier is IPv4" in str(caught.value)


def test_a_service_whose_cluster_ip_is_not_set_is_not_headless():
    """QA-dns H3: it went straight to the pods as a headless one; CoreDNS (ClusterIPs [""]) answers no address."""
    noip = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "noip", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    docs = objects(extra=[noip, {**objects()[-2], "metadata": {**objects()[-2]["metadata"], "name": "noip-abc",
                                                               "labels": {"kubernetes.io/service-name": "noip"}}}])
    sim = simulator(docs=docs)
    assert sim.dns.resolve("noip.default", "default").rcode == "NOERROR"
    assert sim.dns.resolve("noip.default", "default").records == ()
    with pytest.raises(InputError) as caught:
        send(sim, "pod/default/client", "noip.default:8080")
    assert "default/noip has no cluster IP (its spec.clusterIP is not set" in str(caught.value)


def test_a_name_without_an_address_is_explained_by_its_service():
    """QA-dns M3: the Service is named with why it gives no address, not "no such name" nor "add it to --hosts"."""
    def doc(name: str, spec: dict) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": spec}

    unready = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
               "metadata": {"name": "hlnr-a", "namespace": "default", "labels": {"kubernetes.io/service-name": "hlnr"}},
               "endpoints": [{"addresses": ["10.244.2.10"], "conditions": {"ready": False}}],
               "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    sim = simulator(docs=objects(extra=[
        doc("v6only", {"clusterIP": "fd00:10:96::20", "ports": [{"port": 80}]}),
        doc("hlnr", {"clusterIP": "None", "ports": [{"port": 80}]}), unready,
        doc("extip", {"type": "ExternalName", "externalName": "192.0.2.7"}),
        doc("extin", {"type": "ExternalName", "externalName": "gone.default.svc.cluster.local"})]))
    expected = {
        "v6only.default:80": "default/v6only has no IPv4 cluster IP: its cluster IP fd00:10:96::20 is IPv6",
        "hlnr.default:80": "default/hlnr is headless (clusterIP None) and has no ready endpoint",
        "extip.default:80": "default/extip is an ExternalName Service whose externalName 192.0.2.7 is an IP address",
        "extin.default:80": "the name resolves to gone.default.svc.cluster.local, which is no name of the cluster "
                            "(NXDOMAIN; --hosts answers only names outside cluster.local)"}
    for destination, text in expected.items():
        with pytest.raises(InputError) as caught:
            send(sim, "pod/default/client", destination)
        assert text in str(caught.value), destination
        assert "add it to --hosts" not in str(caught.value) and "no such name" not in str(caught.value)


def test_an_external_name_loop_is_named_as_one():
    def alias(name: str, target: str) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": {"type": "ExternalName", "externalName": target}}

    sim = simulator(docs=objects(extra=[alias("l1", "l2.default.svc.cluster.local"),
                                        alias("l2", "l1.default.svc.cluster.local")]))
    with pytest.raises(InputError) as caught:
        send(sim, "pod/default/client", "l1.default:80")
    assert str(caught.value.diagnostics[0]).endswith(
        "the CNAMEs (ExternalName services) go round: l1.default.svc.cluster.local -> l2.default.svc.cluster.local "
        "-> l1.default.svc.cluster.local; cluster DNS answers no address (NOERROR, no data)")  # QA-dns L1


@pytest.mark.parametrize(("source", "destination", "reason"), [
    ("external", "203.0.113.101:81", "TIMEOUT"),  # a balancer's address without that port: nobody answers
    ("external", "203.0.113.102:80", "DROP"),  # ipMode Proxy: the balancer drops a source outside the ranges
])
def test_failures_the_network_decides_are_expected_as_they_happen(source: str, destination: str, reason: str):
    result = send(simulator(), source, destination, count=5)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [(reason, 5, 1.0)] and not result.delivered


def test_loopback_is_the_node_itself_in_the_expected_shares():
    directory = REPO_RULESETS / "ipv6"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    sim = Simulator(cluster, config_from_args(scenario_args(directory), cluster), rng=random.Random(1))
    result = send(sim, "node/node1", "[::1]:30080", count=5)  # no localhost NodePorts in IPv6: nothing listens
    assert [(f.reason, f.expected) for f in result.failed] == [("REJECT", 1.0)]


def test_a_node_s_connection_to_loopback_comes_from_loopback():
    """The kernel picks 127.0.0.1 as the source for a loopback peer: a localhost NodePort is masqueraded to the
    address of the interface it leaves by (the node's towards another node's pod, its pod bridge's gateway towards
    its own), and a loopback port nothing listens on is refused (not dropped as if from the node's IP)."""
    nodeport = send(bootcamp(1), "node/node1", "127.0.0.1:31526", count=40)
    seen = {d.node: set(d.sources_seen) for d in nodeport.delivered}
    assert not nodeport.failed and seen == {"node1": {"10.244.0.1"}, "node2": {"192.168.49.2"}}
    closed = send(bootcamp(1), "node/node1", "127.0.0.1:31999", count=3)
    assert [(f.reason, f.expected) for f in closed.failed] == [("REJECT", 1.0)]
    assert "(127.0.0.1): nothing listens" in closed.failed[0].detail


def test_a_pod_s_loopback_stays_in_the_pod():
    """A pod has its own lo: its 127.0.0.1 never meets the node's localhost NodePort or KUBE-FIREWALL rules; the
    pod answers itself on its own port and refuses the rest (what the kernel does in `netns`)."""
    pod = "pod/default/kubernetes-bootcamp-855d5cc575-4lb7w"
    own = send(bootcamp(1), pod, "127.0.0.1:8080", count=4)
    assert [(d.pod, d.count, d.expected, d.sources_seen) for d in own.delivered] == [
        ("default/kubernetes-bootcamp-855d5cc575-4lb7w", 4, 1.0, ("127.0.0.1",))]
    nodeport = send(bootcamp(1), pod, "127.0.0.1:31526", count=4)
    assert not nodeport.delivered and [(f.reason, f.expected) for f in nodeport.failed] == [("REJECT", 1.0)]
    assert "on its own loopback" in nodeport.failed[0].detail


def test_replies_lost_to_another_host_are_one_row():
    """A client outside using a node's address: every reply goes to that node; the rows group (no port)."""
    result = send(bootcamp(1), "external:192.168.49.2", "node/node2:31526", count=6)
    assert [(f.reason, f.count) for f in result.failed] == [("TIMEOUT", 6)]
    assert result.failed[0].detail == "the reply went to node node1 (192.168.49.2), not to external:192.168.49.2"


def test_a_reply_that_comes_back_another_way_is_invalid_to_conntrack():
    """eTP Local NodePort of node1 from a pod on node3, its endpoint on node2: node1 forwards unmasqueraded,
    the SYN/ACK reaches node3 straight from node2, and node3's conntrack, which never saw the SYN, calls it
    INVALID: kube-proxy's KUBE-FORWARD drops it there (what the kernel does in `netns`)."""
    path = Path(__file__).with_name("asymmetric_reply.yaml")
    cluster = load_paths([str(path)]).cluster
    config = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"], cluster)
    result = send(Simulator(cluster, config, rng=random.Random(1)), "pod/default/client-3", "192.168.49.2:30007",
                  count=5)
    (failed,) = result.failed
    assert failed.reason == "DROP" and failed.expected is None  # the expectation follows the rules forward only
    assert failed.detail.startswith("the reply: node node3: filter table: -A KUBE-FORWARD -m conntrack --ctstate "
                                    "INVALID")
    liberal = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
                                "--conntrack-tcp-be-liberal"], cluster)
    result = send(Simulator(cluster, liberal, rng=random.Random(1)), "pod/default/client-3", "192.168.49.2:30007",
                  count=5)  # no INVALID drop rule: the SYN/ACK reaches the client, from the wrong address
    assert [f.reason for f in result.failed] == ["WRONG_REPLY_SOURCE"]


def test_a_lost_answer_s_row_carries_the_facts_its_words_say() -> None:
    """What analysis.why reads of an answer lost on its way back (Failure.lost, on the row as Failed.lost), where it
    used to parse the detail: the node and rule that dropped it (node3's KUBE-FORWARD INVALID drop; a user's rule
    stopping a refusal), the address it came from (tcp-be-liberal); nothing more when it went to another host. A
    lost ACK is no lost answer: no facts. The facts take no part in equality or repr (a row is its reason and
    detail, which say them), so failures group into rows as before."""
    from kubeproxy_sim.simulator.network import Decided, Failure, ReplyLoss

    cluster = load_paths([str(Path(__file__).with_name("asymmetric_reply.yaml"))]).cluster

    def said(loss: ReplyLoss | None) -> object:
        """The loss with its rule as text (the dump's line aside)."""
        if loss is None or loss.dropped is None:
            return loss
        step = loss.dropped.step
        return ReplyLoss(loss.came_from), loss.dropped.node, None if step is None else step.rule

    def lost(*flags: str, sim: Simulator | None = None, source: str = "pod/default/client-3",
             destination: str = "192.168.49.2:30007") -> list[tuple[str, object]]:
        if sim is None:
            config = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16", *flags],
                                      cluster)
            sim = Simulator(cluster, config, rng=random.Random(1))
        return [(f.reason, said(f.lost)) for f in send(sim, source, destination, count=3).failed]

    invalid = ("node3", "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name "
                        "ct_state_invalid_dropped_pkts -j DROP")
    assert lost() == [("DROP", (ReplyLoss(), *invalid))]
    assert lost("--conntrack-tcp-be-liberal") == [("WRONG_REPLY_SOURCE", ReplyLoss(came_from=("10.244.1.10", 8080)))]
    assert lost(sim=bootcamp(1), source="external:192.168.49.2", destination="node/node2:31526") == [
        ("TIMEOUT", ReplyLoss())]
    back = "-A FORWARD -s 10.244.2.10/32 -d 10.244.1.5/32 -j DROP"
    refused = simulator(rules=first_forward_rule(back, "node2"))
    assert lost(sim=refused, source="pod/default/client", destination="10.244.2.10:9999") == [
        ("DROP", (ReplyLoss(), "node2", back))]
    ack = "-A FORWARD -s 10.244.1.5/32 -d 10.244.2.10/32 -p tcp -m conntrack --ctstate ESTABLISHED -j DROP"
    acked = simulator(rules=first_forward_rule(ack, "node1"))
    assert lost(sim=acked, source="pod/default/client", destination="10.244.2.10:8080") == [("DROP", None)]
    plain, known = Failure("DROP", "the reply: x", True), Failure("DROP", "the reply: x", True, Decided("node3"),
                                                                  ReplyLoss(), True)
    assert plain == known and hash(plain) == hash(known) and repr(plain) == repr(known)


CLIENT_BESIDE_ENDPOINT = """
---
apiVersion: v1
kind: Pod
metadata: {name: client-2, namespace: default, labels: {app: client}}
spec: {nodeName: node2, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.1.20, podIPs: [{ip: 10.244.1.20}], conditions: [{type: Ready, status: 'True'}]}
"""
"""A client pod on node2 of asymmetric_reply.yaml, beside the Service's endpoint 10.244.1.10."""


def beside_endpoint() -> Cluster:
    """asymmetric_reply.yaml with :data:`CLIENT_BESIDE_ENDPOINT` (tests/kernel builds the same)."""
    text = Path(__file__).with_name("asymmetric_reply.yaml").read_text() + CLIENT_BESIDE_ENDPOINT
    return load_text(text, "asymmetric_reply.yaml").cluster


@pytest.mark.parametrize("liberal", [(), ("--conntrack-tcp-be-liberal",)])
def test_a_reply_beside_its_client_is_tracked_by_their_node_not_invalid(liberal: tuple[str, ...]) -> None:
    """eTP Local NodePort of node1 from a pod on node2, where the endpoint is: node1 DNATs it unmasqueraded back to
    node2, whose conntrack tracks the DNATed SYN coming in as a connection of its own (client -> endpoint). The
    SYN/ACK is that entry's reply, not INVALID, with or without tcp-be-liberal: KUBE-FORWARD passes it and the
    client hears the endpoint's own address. The kernel does the same, routed or bridged (br_netfilter's conntrack
    finds the entry alike): tests/kernel/test_same_node_reply_kernel.py."""
    cluster = beside_endpoint()
    config = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16", *liberal],
                              cluster)
    sim = Simulator(cluster, config, rng=random.Random(1))
    result = send(sim, "pod/default/client-2", "192.168.49.2:30007", count=3)
    assert [(f.reason, f.count, f.detail) for f in result.failed] == [
        ("WRONG_REPLY_SOURCE", 3, "the reply came from 10.244.1.10:8080, the client connected to 192.168.49.2:30007")]
    client, endpoint, node1 = (int(IPAddress(a)) for a in ("10.244.1.20", "10.244.1.10", "192.168.49.2"))
    tracked = [(e.orig[4], e.orig[5], e.seen_reply) for e in sim.runtimes["node2"].conntrack.entries()
               if e.orig[2] == client]
    assert sorted(tracked) == [(endpoint, 8080, True)] * 3 + [(node1, 30007, False)] * 3


@pytest.mark.parametrize(("verdict", "then"), [
    ("DROP", " (the SYN/ACK came), and it waits for the server, which never sees it"),
    ("REJECT", ", and the ICMP error is a soft error of its socket, which SO_ERROR hands over with the connect's "
               "result")])
def test_a_lost_client_ack_keeps_its_verdict_as_the_connected_client_meets_it(verdict: str, then: str) -> None:
    """The SYN and the SYN/ACK pass, node1 stops the client's ACK (a rule of later packets): the client's connect
    has completed. A DROP leaves it waiting (netns send's counters name the timeout DROP); a REJECT's ICMP port
    unreachable is a soft error of the connected socket, which SO_ERROR hands over: netns send's probe reads it
    when the connect completes, and says REJECT (refused). The rows keep the rule's verdict and say why
    (tests/kernel/test_kernel.py has the kernel's)."""
    rule = f"-A FORWARD -s 10.244.1.5/32 -d 10.244.2.10/32 -p tcp -m conntrack --ctstate ESTABLISHED -j {verdict}"
    result = send(simulator(rules=first_forward_rule(rule, "node1")), "pod/default/client", "10.244.2.10:8080",
                  count=3)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [(verdict, 3, None)]
    assert result.failed[0].detail == (f"the client's ACK: node node1: filter table (line 16): {rule}; the client's "
                                       f"connect completed{then}")
    assert [(d.pod, d.count) for d in result.delivered] == [("default/web-2", 0)]


@pytest.mark.parametrize(("proto", "reason"), [("tcp", "DROP"), ("udp", "TIMEOUT")])
def test_a_pod_s_refusal_goes_back_as_a_reply_and_is_lost_as_one(proto: str, reason: str) -> None:
    """web-2 refuses port 9999 and node2 drops what goes back (a rule first in its FORWARD chain): the client
    hears nothing, as on the kernel (tests/kernel/test_kernel.py); send said REJECT, routing only an outside
    host's refusal back. A dropped RST is DROP (it carries the run's DSCP to netns send's counters), a dropped
    ICMP port unreachable TIMEOUT (its TOS keeps none); no expectation, as for a lost reply. A refusal nothing
    stops is heard, from its own source too; one sent to a node's address the client only borrowed is lost."""
    rule = "-A FORWARD -s 10.244.2.10/32 -d 10.244.1.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j DROP"
    lost = send(simulator(rules=first_forward_rule(rule, "node2")), "pod/default/client", "10.244.2.10:9999",
                proto=proto, count=3)
    assert [(f.reason, f.count, f.expected) for f in lost.failed] == [(reason, 3, None)]
    assert lost.failed[0].detail == (f"pod default/web-2 (10.244.2.10): nothing listens on {proto}/9999 (it serves "
                                     f"tcp/8080, udp/5353), and the reply: node node2: filter table (line 16): {rule}")
    for source in ("pod/default/client", "10.244.1.1"):  # node1 bound to its bridge address: routed back too
        heard = send(simulator(), source, "10.244.2.10:9999", proto=proto, count=3)
        assert [(f.reason, f.count, f.expected) for f in heard.failed] == [("REJECT", 3, 1.0)], source
    borrowed = send(simulator(), "external:192.168.0.10", "192.168.0.11:9999", proto=proto, count=3)
    assert [(f.reason, f.expected) for f in borrowed.failed] == [("TIMEOUT", None)]
    assert borrowed.failed[0].detail.endswith(", and the reply went to node node1 (192.168.0.10), not to "
                                              "external:192.168.0.10")


def test_a_row_decided_after_the_first_packet_is_told_by_its_flag_not_its_words() -> None:
    """tally gives no expectation to a failure decided after the first packet (its reply or refusal lost on the way
    back, the client's ACK): Failure.after_first says so, where send used to look for words in the detail, which a
    rule's own comment or a pod's name could hold."""
    from fractions import Fraction

    from kubeproxy_sim.simulator.network import Connection, Failure
    from kubeproxy_sim.simulator.send import tally

    forward = Failure("REJECT", "node n1: filter table (line 3): -A X -m comment --comment \", and the reply\" -j "
                                "REJECT")
    late = Failure("TIMEOUT", "pod default/web (10.0.0.5): nothing listens on tcp/9 (it serves tcp/80), and the "
                              "reply: node n2: filter table (line 4): -A Y -j DROP", after_first=True)
    result = tally("pod/default/client", "10.0.0.5:9", "tcp", None,
                   [Connection(failure=forward), Connection(failure=late)],
                   {"REJECT": Fraction(1, 2), "TIMEOUT": Fraction(1, 2)})
    assert [(f.reason, f.expected) for f in result.failed] == [("REJECT", 0.5), ("TIMEOUT", None)]


def test_expectations_for_pod_addresses_follow_the_routes():
    """The outside has no route to pod addresses; an address of a pod subnet no pod has gets no ARP answer."""
    outside = send(bootcamp(1), "external", "10.244.1.2:8080", count=2)
    assert [(f.reason, f.expected) for f in outside.failed] == [("NO_ROUTE", 1.0)] and not outside.delivered
    unused = send(bootcamp(1), "pod/default/kubernetes-bootcamp-855d5cc575-4lb7w", "10.244.1.99:80", count=2)
    assert [(f.reason, f.expected) for f in unused.failed] == [("TIMEOUT", 1.0)]


@pytest.mark.parametrize("source", ["pod/default/client", "node/node1", "external"])
def test_a_port_the_service_does_not_define_is_no_route_to_tcp_and_silence_to_udp(source):
    """No KUBE-SERVICES rule takes 10.96.0.10:81, and the cluster IP is no host's: the nodes' default route takes
    it to the router, whose ICMP net unreachable a TCP connect hears (NO_ROUTE) and a UDP socket, for which it is
    a soft error, does not (TIMEOUT): what netns send sees of the same packets (tests/kernel/test_kernel.py)."""
    for proto, reason in (("tcp", "NO_ROUTE"), ("udp", "TIMEOUT")):
        result = send(simulator(1), source, "10.96.0.10:81", proto=proto, count=5)
        assert not result.delivered
        assert [(f.reason, f.count, f.expected) for f in result.failed] == [(reason, 5, 1.0)], proto
        assert result.failed[0].detail.startswith("router: no route to 10.96.0.10")
        assert ("soft error to a UDP socket" in result.failed[0].detail) is (proto == "udp")


def test_a_sticky_service_says_so_and_expected_is_per_new_client():
    """ClientIP affinity: all of one client's connections on one pod is right, and the result must say why."""
    from kubeproxy_sim.cli.options import scenario_dir
    from kubeproxy_sim.proxier.config import ProxyConfig

    loaded = load_paths([str(scenario_dir("session-affinity") / "objects.yaml")])
    config = ProxyConfig(node_name="node1", cluster_cidrs=("10.244.0.0/16",))
    result = send(Simulator(loaded.cluster, config, rng=random.Random(1)), "external", "node/node1:30080",
                  count=20, seed=1)
    assert result.sticky is True and result.as_json()["sticky"] is True
    assert sorted(d.count for d in result.delivered) == [0, 20] and {d.expected for d in result.delivered} == {0.5}


def test_send_balances_every_tcp_connection_even_when_a_client_port_comes_again() -> None:
    """send closes each TCP connection (the server ends it, as netns send's does): its entries go to TIME_WAIT,
    and a later SYN with the same tuple reopens them as conntrack does, so every connection is a new draw of the
    statistic splits, not the earlier connection's DNAT. Here every connection has the same client port."""
    from kubeproxy_sim.simulator.conntrack import State

    sim = simulator(21)
    sim.ephemeral_port = lambda: 40000  # type: ignore[method-assign]
    result = send(sim, "pod/default/client", "10.96.0.10:80", count=300, seed=21)
    assert result.connections == 300 and not result.failed
    assert {d.pod for d in result.delivered if d.count} == {f"default/{p}" for p in WEB}
    shares_agree(result, 21)
    states = {e.state for rt in sim.runtimes.values() for e in rt.conntrack.entries() if e.proto == "tcp"}
    assert states == {State.TIME_WAIT}
    masqueraded = send(sim, "external", "node/node1:30080", count=300, seed=21)  # NodePort, masqueraded to node2
    assert {d.pod for d in masqueraded.delivered if d.count} == {f"default/{p}" for p in WEB}
    shares_agree(masqueraded, 21)


def test_a_connection_not_closed_keeps_its_tuple_and_a_closed_one_is_reopened() -> None:
    """Simulator.connect: by default the connection stays ESTABLISHED and the same tuple again follows it; with
    close=True it is in TIME_WAIT and the same tuple again is a new connection (balanced again, a new entry)."""
    from kubeproxy_sim.simulator.conntrack import State

    sim = simulator(22)
    client = sim.client("pod", "default/client")
    table = sim.runtimes["node1"].conntrack
    first = sim.connect(client, "10.96.0.10", 80, sport=40100)
    assert all(sim.connect(client, "10.96.0.10", 80, sport=40100).target == first.target for _ in range(30))
    assert [e.state for e in table.entries()] == [State.ESTABLISHED]
    landed = set()
    for _ in range(30):
        landed.add(sim.connect(client, "10.96.0.10", 80, sport=40200, close=True).target)
        closed = [e for e in table.entries() if e.orig[3] == 40200]
        assert [e.state for e in closed] == [State.TIME_WAIT] and len(table) == 2
    assert landed == {f"default/{p}" for p in WEB}


def test_a_refused_connection_s_entries_close_for_ten_seconds_and_a_new_syn_reopens_them() -> None:
    """web-2's RST for a port nothing listens on aborts the connection's entries on both nodes: CLOSE, whose
    timeout is nf_conntrack_tcp_timeout_close's 10 s (the kernel's TCP tracker takes a RST there, not to
    TIME_WAIT's 120 s, which FINs lead to); a SYN on the tuple before then reopens it as a new connection."""
    from kubeproxy_sim.simulator.conntrack import State

    sim = simulator()
    client = sim.client("pod", "default/client")
    refused = sim.connect(client, "10.244.2.10", 9999, sport=40300)
    assert refused.failure is not None and refused.failure.reason == "REJECT"
    entries = {name: [e for e in rt.conntrack.entries() if e.orig[3] == 40300] for name, rt in sim.runtimes.items()}
    assert {name: [(e.state, e.expires) for e in found] for name, found in entries.items() if found} == {
        "node1": [(State.CLOSE, sim.now + 10)], "node2": [(State.CLOSE, sim.now + 10)]}
    sim.advance(5)
    sim.connect(client, "10.244.2.10", 9999, sport=40300)
    assert [e.created for e in sim.runtimes["node1"].conntrack.entries() if e.orig[3] == 40300] == [5.0]
    sim.advance(10.5)
    assert all(rt.conntrack.lookup(e.orig, sim.now) is None for rt in sim.runtimes.values()
               for e in list(rt.conntrack.entries()) if e.orig[3] == 40300)


def test_send_udp_datagrams_from_a_port_whose_entry_lives_follow_it() -> None:
    """UDP, one request per socket: the kernel gives a new socket any free port, and a datagram from a port whose
    entry still lives (30 s after the answer) follows that entry, as in the kernel; send does the same."""
    sim = simulator(23)
    sim.ephemeral_port = lambda: 40000  # type: ignore[method-assign]
    result = send(sim, "pod/default/client", "10.96.0.53:53", proto="udp", count=50, seed=23)
    assert [d.count for d in result.delivered if d.count] == [50]


def test_a_port_of_thousands_of_digits_is_said_by_its_length_not_written_out() -> None:
    """objects.report's way with a huge integer (review r1 #9): the value cut at 200 characters with its length,
    the port by its number of digits, so the line stays short."""
    from kubeproxy_sim.simulator.send import split_destination

    text = "10.96.0.1:" + "9" * 1000  # (the CLI lifts Python's 4,300-digit limit; a test has it)
    with pytest.raises(InputError) as caught:
        split_destination(text)
    message = str(caught.value)
    assert message.endswith("'... (1,010 characters): port (an integer of 1,000 digits) is out of range; expected "
                            "a port 1-65535")
    assert len(message) < 320


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_reply_the_router_cannot_route_is_silence_to_the_client(proto: str) -> None:
    """node1 bound to its pod bridge address (which nothing masquerades) to an outside host: the host answers, the
    router has no route back, and its ICMP goes to that host: the client hears nothing (the kernel times out),
    the detail still says why."""
    result = send(simulator(), "10.244.1.1", "93.184.216.34:80", count=3, proto=proto)
    assert [(f.reason, f.count) for f in result.failed] == [("TIMEOUT", 3)]
    assert result.failed[0].detail.startswith("the reply: router: no route to 10.244.1.1 ")


def test_the_router_s_no_route_to_a_bridge_address_source_is_lost() -> None:
    """node1 bound to its pod bridge address, to an address nobody has: the router has no route for the packet,
    nor for its ICMP net unreachable back to 10.244.1.1, so even TCP hears nothing (netns send times out:
    tests/kernel/test_kernel.py); the expectation says so too. node1's own address hears NO_ROUTE."""
    result = send(simulator(), "10.244.1.1", "198.51.100.99:80", count=3)
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("TIMEOUT", 3, 1.0)]
    assert result.failed[0].detail == ("router: no route to 198.51.100.99 (no node, load balancer or outside host has "
                                       "it; the outside does not route pod or service addresses), nor back to "
                                       "10.244.1.1: its ICMP net unreachable is lost, and the client hears nothing")
    plain = send(simulator(), "node/node1", "198.51.100.99:80", count=3)
    assert [(f.reason, f.expected) for f in plain.failed] == [("NO_ROUTE", 1.0)]


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_an_outside_refusal_of_a_bridge_address_source_is_lost(proto: str) -> None:
    """The outside client's host refuses node1 bound to its pod bridge address, but nothing masquerades that
    source and the router has no route back: the client hears nothing (the kernel times out). node1's own address
    hears the refusal."""
    result = send(simulator(), "10.244.1.1", "203.0.113.10:80", count=3, proto=proto)
    assert [(f.reason, f.count) for f in result.failed] == [("TIMEOUT", 3)]
    assert result.failed[0].detail == (f"203.0.113.10: nothing listens on {proto}/80 (connection refused), and the "
                                       "reply: router: no route to 10.244.1.1 (no node, load balancer or outside host "
                                       "has it; the outside does not route pod or service addresses)")
    plain = send(simulator(), "node/node1", "203.0.113.10:80", count=3, proto=proto)
    assert [(f.reason, f.count) for f in plain.failed] == [("REJECT", 3)]


def test_a_failure_row_s_expectation_and_trace_read_the_failure_s_facts_not_its_words(monkeypatch) -> None:
    """Each row keeps its expectation (its node's share, the DNS query's) and its trace's notes (analysis.why) when
    the simulator words its failures otherwise: send reads what the failure records (Failure.decided_by,
    Failure.dns_query), where it used to parse the detail (a rewording silently moved a row to its reason's total,
    or to the connection's shares, and dropped its notes)."""
    import dataclasses

    from kubeproxy_sim.analysis.why import send_why
    from kubeproxy_sim.simulator import network
    from kubeproxy_sim.simulator.network import Failure

    runs = [(lambda: simulator(docs=objects(local_pods=())), "node/node1", "203.0.113.100:80"),  # node1's, node2's
            (lambda: simulator(docs=objects(extra=_kube_dns(()))), "pod/default/client", "web.default:80"),
            (lambda: simulator(docs=objects(extra=_kube_dns(("web-2",), internalTrafficPolicy="Local"))),
             "pod/default/client", "web.default:80")]

    def rows() -> list[list[tuple[str, str, int, float | None, tuple[str, ...]]]]:
        found = []
        for make, source, destination in runs:
            sim = make()
            result = send_why(sim, send(sim, source, destination, count=60, seed=5))
            found.append([(f.reason, f.detail, f.count, f.expected, f.why) for f in result.failed])
        return found

    plain = rows()
    through_node = network.Simulator._through_node

    def reworded_node(self, *args):  # "NODE NODE1: ...": the node's words no longer begin as they did
        moved = through_node(self, *args)
        return dataclasses.replace(moved, detail=moved.detail.upper()) if isinstance(moved, Failure) else moved

    monkeypatch.setattr(network.Simulator, "_through_node", reworded_node)
    monkeypatch.setattr(network, "dns_query_detail", lambda server, detail: f"asking {server}: {detail}")
    reworded = rows()
    assert [[row[1] for row in run] for run in reworded] == [
        [row[1].upper() for row in run] for run in plain[:1]] + [
        [f"asking 10.96.0.99: {row[1].split(': ', 1)[1].upper()}" for row in run] for run in plain[1:]]
    assert [[(r, n, e, w) for r, _, n, e, w in run] for run in reworded] == \
        [[(r, n, e, w) for r, _, n, e, w in run] for run in plain]
    assert [[(r, e) for r, _, _, e, _ in run] for run in plain] == [[("REJECT", 0.5), ("REJECT", 0.5)],
                                                                    [("REJECT", 1.0)], [("DROP", 1.0)]]
    assert all(w for run in plain for *_, w in run)  # each row has its trace's notes


def test_a_proxying_balancer_s_connection_to_a_node_has_the_notes_of_the_rule_that_stopped_it():
    """ipMode Proxy: the balancer opens its own connection (from its address) to a node's NodePort, and the rule
    that stops that one is the row's, so its notes are: eTP Local on a node without endpoints (the balancer's
    address is neither the node nor a pod of the cluster: KUBE-EXTERNAL-SERVICES drops it), or no endpoints at
    all (rejected). Each keeps its node's share."""
    from kubeproxy_sim.analysis.why import send_why

    directory = REPO_RULESETS / "upstream-load-balancer-ingress-route-type-proxy-ipmode-proxy"
    text = (directory / "objects.yaml").read_text()
    local = text.replace("  type: LoadBalancer\n", "  type: LoadBalancer\n  externalTrafficPolicy: Local\n")
    empty = text.replace("- addresses:\n  - 10.180.0.1\n", "").replace("endpoints:\n", "endpoints: []\n")
    found = []
    for variant in (local, empty):
        cluster = load_text(variant).cluster
        sim = Simulator(cluster, config_from_args(scenario_args(directory), cluster), rng=random.Random(1))
        (row,) = send_why(sim, send(sim, "external", "1.2.3.4:80", count=10, seed=1)).failed
        assert row.detail.startswith("load balancer ns1/svc1 1.2.3.4:80/tcp -> node test-node: node test-node: ")
        found.append((row.reason, row.expected, row.why))
    assert found == [
        ("DROP", 1.0, ("ns1/svc1:p80 has spec.externalTrafficPolicy Local and node test-node has none of its usable "
                       "endpoints (its usable endpoints are 10.180.0.1 on an unnamed node), so kube-proxy here drops "
                       "traffic that is not from this node or a pod of the cluster (-s 10.0.0.0/8) rather than "
                       "forward it to another node",)),
        ("REJECT", 1.0, ("ns1/svc1:p80 has no endpoints, so kube-proxy rejects the connection (ICMP port unreachable): "
                         "its EndpointSlices list no address (the Service has no selector: its EndpointSlices are "
                         "written by hand or by another controller)",))]


def test_a_proxying_balancer_s_rows_per_node_expect_their_node_s_share():
    """The balancer spreads its connections over both nodes, and with no endpoints each node's NodePort rejects
    its own: each node's row expects that node's share (it was None, the two rows sharing the reason's total)."""
    from kubeproxy_sim.analysis.why import send_why

    sim = simulator(docs=objects(web_pods=()))
    result = send_why(sim, send(sim, "external:198.51.100.7", "203.0.113.102:80", count=300, seed=2))
    assert not result.delivered
    assert [(f.reason, f.expected, f.detail.split(": node ", 1)[0]) for f in result.failed] == [
        ("REJECT", 0.5, f"load balancer default/web-proxy 203.0.113.102:80/tcp -> node {node}") for node in
        ("node1", "node2")]
    assert all(f.why and f.why[0].startswith("default/web-proxy:http has no endpoints") for f in result.failed)
    shares_agree(result, 2)
