"""``kubeproxy-sim dist``: the public JSON contract, the text, the flags and their errors."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer

TOP = {"nodes", "notes", "services"}
SERVICE = {"service", "name", "port_name", "port", "protocol", "endpoints", "views", "affinity", "connections"}
ENDPOINT = {"endpoint", "pod", "node", "ready", "serving", "terminating"}
VIEW = {"kind", "destination", "notes", "entries", "average"}
ENTRY = {"node", "source", "destination", "weight", "weight_exact", "note", "uncertain", "outcomes", "uniform_exact",
         "max_deviation", "max_deviation_exact"}
AVERAGE = {"outcomes", "uniform_exact", "max_deviation", "max_deviation_exact"}
OUTCOME = {"verdict", "endpoint", "pod", "probability", "probability_exact", "percent", "deviation",
           "deviation_exact", "masquerade", "masquerade_exact"}
AFFINITY = {"timeout_seconds", "list_size", "endpoints", "sticky", "clients_per_endpoint", "client_interval_seconds",
            "live_within_timeout", "sampled"}
CONNECTIONS = {"view", "connections", "requests_per_connection", "seed", "engine", "outcomes", "expected_idle_pods",
               "sampled_idle_pods", "chi_square", "note"}
CONN_OUTCOME = {"verdict", "endpoint", "probability_exact", "expected_requests", "requests_interval_95",
                "idle_probability", "sampled_connections", "sampled_requests", "sampled_share",
                "sampled_share_interval_95"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def dist_json(capsys, tmp_path, docs: list[dict], *argv: str) -> dict:
    """``dist -o json`` on the builders' objects written to a file, with their cluster CIDR."""
    import yaml

    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    code, out, _ = run(capsys, "dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", *argv, "-o", "json")
    assert code == 0
    return json.loads(out)


def test_json_contract_session_affinity(capsys) -> None:
    code, out, _ = run(capsys, "dist", "--scenario", "session-affinity", "--to", "web.default:80", "--clients", "500",
                       "--connections", "4", "--requests-per-connection", "10", "--seed", "3", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == TOP and doc["nodes"] == ["node1", "node2"] and doc["notes"] == []
    (svc,) = doc["services"]
    assert set(svc) == SERVICE
    assert (svc["service"], svc["name"], svc["port_name"], svc["port"], svc["protocol"]) == (
        "default/web", "default/web:http", "http", 80, "TCP")
    assert all(set(e) == ENDPOINT for e in svc["endpoints"])
    assert [v["kind"] for v in svc["views"]] == ["clusterIP", "nodePort"]
    cluster_ip = svc["views"][0]
    assert set(cluster_ip) == VIEW and cluster_ip["destination"] == "10.96.0.10:80"
    first = cluster_ip["entries"][0]
    assert set(first) == ENTRY and set(cluster_ip["average"]) == AVERAGE
    assert first["node"] == "node1" and first["weight_exact"] == "1/2"
    assert first["source"] == {"kind": "pod", "address": "10.244.1.200", "node": "node1", "name": None}
    assert first["outcomes"][0] == {
        "verdict": "DNAT", "endpoint": "10.244.1.10:8080", "pod": None, "probability": 0.5,
        "probability_exact": "1/2", "percent": 50.0, "deviation": 0.0, "deviation_exact": "0",
        "masquerade": False, "masquerade_exact": "0"}
    node_port = svc["views"][1]
    assert node_port["destination"] == "<node>:30080"
    assert all(o["masquerade"] for e in node_port["entries"] for o in e["outcomes"])
    aff = svc["affinity"]
    assert set(aff) == AFFINITY and aff["timeout_seconds"] == 300 and aff["list_size"] == 100
    assert all(s["returns_exact"] == "1" for s in aff["sticky"]) and len(aff["sticky"]) == 4
    assert aff["clients_per_endpoint"] == [{"clients": 250, "listed": 0.4, "listed_exact": "2/5",
                                            "same_endpoint": 0.7, "same_endpoint_exact": "7/10"}]
    assert aff["sampled"]["clients"] == 500 and aff["sampled"]["seed"] == 3
    assert (aff["sampled"]["view"], aff["sampled"]["node"]) == ("nodePort", "node1")  # the model's entry too
    conns = svc["connections"]
    assert set(conns) == CONNECTIONS and conns["engine"] == "simulator" and conns["view"] == "clusterIP"
    assert all(set(o) == CONN_OUTCOME for o in conns["outcomes"])
    assert sum(o["sampled_connections"] for o in conns["outcomes"]) == 4
    assert sum(o["expected_requests"] for o in conns["outcomes"]) == pytest.approx(40)


def test_kernel_rounding_shows_in_exact_shares(capsys) -> None:
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp", "-o", "json")
    assert code == 0
    view = json.loads(out)["services"][0]["views"][0]
    shares = [Fraction(o["probability_exact"]) for o in view["average"]["outcomes"]]
    assert sum(shares) == 1 and len(shares) == 4
    assert shares[0] == Fraction(1, 4) and shares[1] == Fraction(2147483649, 8589934592)  # 1/3 rounded up
    assert 0 < Fraction(view["average"]["max_deviation_exact"]) < Fraction(1, 2**31)


def test_local_policy_load_balancer_averages_over_healthy_nodes(capsys) -> None:
    code, out, _ = run(capsys, "dist", "--scenario", "upstream-external-traffic-policy-local", "--to", "1.2.3.4:80",
                       "-o", "json")
    assert code == 0
    (view,) = json.loads(out)["services"][0]["views"]
    assert view["kind"] == "loadBalancer"
    assert [(o["endpoint"], o["probability_exact"], o["masquerade"]) for o in view["average"]["outcomes"]] == [
        ("10.180.2.1:80", "1", False)]


def test_the_even_split_is_over_delivered_traffic_only(capsys) -> None:
    """README: ``deviation`` is the share minus the even split of *delivered* traffic (null for DROP/REJECT). The
    load balancer's average here is 1/2 to the one endpoint (through node-1) and 1/2 dropped (test-node has only a
    remote terminating endpoint): the lone endpoint gets all the delivered traffic, so it deviates by 0."""
    code, out, _ = run(capsys, "dist", "--scenario",
                       "upstream-terminating-endpoints-traffic-policy-local-terminating-endpoints-on-remote-node",
                       "--to", "1.2.3.4:80", "-o", "json")
    assert code == 0
    (view,) = json.loads(out)["services"][0]["views"]
    assert view["kind"] == "loadBalancer"
    average = view["average"]
    assert [(o["verdict"], o["probability_exact"], o["deviation_exact"]) for o in average["outcomes"]] == [
        ("DNAT", "1/2", "0"), ("DROP", "1/2", None)]
    assert (average["uniform_exact"], average["max_deviation_exact"], average["max_deviation"]) == ("1/2", "0", 0)
    dropping = next(e for e in view["entries"] if e["node"] == "test-node")
    assert (dropping["uniform_exact"], dropping["max_deviation_exact"], dropping["max_deviation"]) == (None, None, None)


def test_even_split_and_deviation_leave_out_dropped_and_rejected_shares() -> None:
    from kubeproxy_sim.analysis.exact import Share, deviation, max_deviation, uniform_share

    shares = [Share("DNAT", "10.0.0.1:80", Fraction(1, 2)), Share("DNAT", "10.0.0.2:80", Fraction(1, 4)),
              Share("DROP", None, Fraction(1, 8)), Share("REJECT", None, Fraction(1, 8))]
    assert uniform_share(shares) == Fraction(3, 8)  # (1/2 + 1/4) / 2 endpoints
    assert [deviation(s, Fraction(3, 8)) for s in shares] == [Fraction(1, 8), Fraction(-1, 8), None, None]
    assert max_deviation(shares) == Fraction(1, 8)
    assert uniform_share([Share("DROP", None, Fraction(1))]) is None


def test_text_output_and_sources(capsys) -> None:
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "node/node2:31526", "--from", "external")
    assert code == 0
    assert "nodePort <node>:31526" in out and "entering node2 from external client 203.0.113.10" in out
    assert "masqueraded" in out and "node1" not in out.split("nodePort")[1]


@pytest.mark.parametrize(("sender", "words"), [("node1", "entering node2 from node node1 (192.168.49.2)"),
                                               ("node2", "entering node2 from node node2 itself (192.168.49.3)")])
def test_a_node_sender_is_itself_only_entering_its_own_node(capsys, sender: str, words: str) -> None:
    """"itself" is the node entered sending to its own NodePort; another node is named plainly (QA wording #1:
    "entering node3 from node node2 itself" read as if node3 sent it)."""
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "node/node2:31526", "--from", f"node/{sender}")
    assert code == 0
    assert f"   {words}\n" in out


@pytest.mark.parametrize(("argv", "field", "words"), [
    (["--to", "nosuch.default"], "--to", "no proxied service default/nosuch"),
    (["--to", "default/kubernetes-bootcamp:9"], "--to", "has no port 9"),
    (["--to", "10.1.2.3:80"], "--to", "no service port answers"),
    (["--from", "pod/default/none"], "--from", "no Pod object default/none"),
    (["--from", "external:2001:db8::1"], "--from", "not an IPv4 address"),
    (["--connections", "0"], "--connections", "expected a whole number >= 1"),
    (["--node", "nodeX"], "--node", "no node 'nodeX'"),
])
def test_errors_name_the_flag(capsys, argv, field, words) -> None:
    code, out, err = run(capsys, "dist", "--scenario", "bootcamp", *argv)
    assert code == 1 and out == ""
    assert f"{field}: " in err and words in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "field", "needs"), [
    (["--requests-per-connection", "5"], "--requests-per-connection", "--connections C"),
    (["--requests-per-connection", "5", "--clients", "10"], "--requests-per-connection", "--connections C"),
    (["--seed", "5"], "--seed", "--connections C or --clients K"),
    (["--seed", "5", "--client-interval", "3"], "--seed", "--connections C or --clients K"),
])
def test_a_sampling_flag_without_its_sample_is_a_usage_error(capsys, argv, field, needs) -> None:
    """QA-dumps #3: these changed nothing and said nothing; a flag that needs another is a usage error (exit 2),
    as watch's --context without --kubeconfig is."""
    code, out, err = run(capsys, "dist", "--scenario", "bootcamp", *argv)
    assert code == 2 and out == ""
    err = without_pointer(err, "dist")
    assert err.startswith(f"kubeproxy-sim: {field}: ") and err.endswith(f"expected {needs} with it\n")


@pytest.mark.parametrize("argv", [["--seed", "5", "--clients", "10"], ["--seed", "5", "--connections", "3"],
                                  ["--requests-per-connection", "5", "--connections", "3"]])
def test_a_sampling_flag_with_its_sample_is_taken(capsys, argv) -> None:
    code, _, _ = run(capsys, "dist", "--scenario", "session-affinity", *argv, "-o", "json")
    assert code == 0


@pytest.mark.parametrize("scenario", ["bootcamp", "session-affinity", "ipv6", "topology-hints", "sctp-udp",
                                      "upstream-overall-iptables-rules", "upstream-no-endpoints-reject"])
def test_runs_on_scenarios(capsys, scenario) -> None:
    code, out, err = run(capsys, "dist", "--scenario", scenario, "-o", "json")
    assert code == 0, err
    for svc in json.loads(out)["services"]:
        for view in svc["views"]:
            for entry in view["entries"]:
                assert sum(Fraction(o["probability_exact"]) for o in entry["outcomes"]) == 1


def test_an_unknown_service_names_the_closest_few_of_a_large_cluster() -> None:
    """A 10,000-service cluster's every name would bury the message: the closest names and a count instead."""
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.analysis.targets import parse_destination
    from kubeproxy_sim.errors import CHOICES_SHOWN, InputError
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.simulator.bench import scale_cluster

    nodes = node_set(scale_cluster(40, 1), ProxyConfig(cluster_cidrs=("10.0.0.0/8",)))
    svc = nodes.cluster.services[7]
    wanted = f"{svc.namespace}/{svc.name}"
    with pytest.raises(InputError) as caught:
        parse_destination(nodes, wanted[:-1] + ":80", "dist")  # one character short
    message = str(caught.value.diagnostics[0])
    known = message.split("(known: ")[1].split(")")[0]
    assert known.endswith(" (the closest of 40 services") and wanted in known
    assert known.count(",") == CHOICES_SHOWN - 1


def test_one_of_lists_a_few_names_whole_and_many_by_the_closest() -> None:
    from kubeproxy_sim.errors import CHOICES_SHOWN, one_of

    assert one_of("x", ["b", "a", "b"], "nodes") == "b, a" and one_of("x", [], "nodes") == "none"
    many = [f"node{n}" for n in range(1, 5001)]
    assert one_of("node4321x", many, "nodes").endswith("(the closest of 5,000 nodes)")
    assert one_of("node4321x", many, "nodes").startswith("node4321, ")
    unlike = one_of("zzzz", many, "nodes")
    assert unlike == ", ".join(sorted(many)[:CHOICES_SHOWN]) + " (the first of 5,000 nodes)"


def test_a_node_s_own_traffic_to_a_load_balancer_ip_is_followed_through_the_balancer(capsys, tmp_path) -> None:
    """With no endpoints nothing stops the packet on its way out of the node: the view follows it to the nodes
    the balancer sends it to, where it is rejected, as `send` sees it."""
    from tests.simulator.builders import objects

    (svc,) = dist_json(capsys, tmp_path, objects(local_pods=()), "--to", "203.0.113.100:80", "--from",
                       "node/node1")["services"]
    (view,) = svc["views"]
    (entry,) = view["entries"]
    assert entry["node"] == "node1" and entry["source"]["kind"] == "node"
    assert [(o["verdict"], o["probability_exact"]) for o in entry["outcomes"]] == [("REJECT", "1")]
    assert entry["note"] == ("the packet leaves node1 unchanged for the load balancer, which sends it to node1, "
                             "node2: the shares are where it ends there")


def test_nodes_excluded_from_load_balancers_are_no_backend_as_in_the_simulator(capsys, tmp_path) -> None:
    """node2 holds web-local's only endpoints but is labelled out of the balancer: the balancer fails open to
    node1, which has no local endpoint and DROPs (eTP Local), exactly what `send` expects."""
    from kubeproxy_sim.objects.nodes import EXCLUDE_FROM_LB_LABEL
    from kubeproxy_sim.simulator.send import send
    from tests.simulator.builders import objects, simulator

    docs = objects(local_pods=("web-2", "web-3"))
    next(d for d in docs if d["kind"] == "Node" and d["metadata"]["name"] == "node2")["metadata"]["labels"][
        EXCLUDE_FROM_LB_LABEL] = ""
    (view,) = dist_json(capsys, tmp_path, docs, "--to", "203.0.113.100:80")["services"][0]["views"]
    assert [(e["node"], e["weight_exact"]) for e in view["entries"]] == [("node1", "1"), ("node2", "0")]
    assert EXCLUDE_FROM_LB_LABEL in view["entries"][1]["note"]
    assert [(o["verdict"], o["probability_exact"]) for o in view["average"]["outcomes"]] == [("DROP", "1")]
    assert any("are not backends: node2" in note for note in view["notes"])
    result = send(simulator(docs=docs), "external", "203.0.113.100:80", count=20)
    assert [(f.reason, f.expected) for f in result.failed] == [("DROP", 1.0)] and not result.delivered


def test_local_policy_without_a_health_check_port_spreads_over_every_node_as_the_simulator(capsys,
                                                                                          tmp_path) -> None:
    from kubeproxy_sim.simulator.send import send
    from tests.simulator.builders import objects, simulator

    docs = objects(local_pods=("web-2", "web-3"))
    del next(d for d in docs if d["metadata"]["name"] == "web-local" and d["kind"] == "Service")["spec"][
        "healthCheckNodePort"]
    (view,) = dist_json(capsys, tmp_path, docs, "--to", "203.0.113.100:80")["services"][0]["views"]
    assert [(e["node"], e["weight_exact"]) for e in view["entries"]] == [("node1", "1/2"), ("node2", "1/2")]
    assert any("without a healthCheckNodePort" in note for note in view["notes"])
    drop = next(o["probability_exact"] for o in view["average"]["outcomes"] if o["verdict"] == "DROP")
    result = send(simulator(docs=docs), "external", "203.0.113.100:80", count=10)
    assert drop == "1/2" and [f.expected for f in result.failed if f.reason == "DROP"] == [0.5]


PODCIDR_CLUSTER = """apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {type: NodePort, clusterIP: 10.96.0.10, ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.5], nodeName: node1}
- {addresses: [10.244.1.5], nodeName: node2}
ports: [{name: http, port: 8080}]
"""


def test_a_client_made_up_for_a_node_without_a_pod_cidr_stays_out_of_other_nodes_ranges(capsys, tmp_path) -> None:
    path = tmp_path / "cluster.yaml"
    # node2's Node object gives no pod CIDR (without one, among Node objects, node2 would be no node: nodes_running)
    path.write_text("apiVersion: v1\nkind: Node\nmetadata: {name: node2}\nspec: {}\n"
                    "status: {addresses: [{type: InternalIP, address: 192.168.0.3}]}\n---\n" + PODCIDR_CLUSTER)
    code, out, _ = run(capsys, "dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "-o", "json")
    assert code == 0
    cluster_ip = json.loads(out)["services"][0]["views"][0]
    assert [(e["node"], e["source"]["address"]) for e in cluster_ip["entries"]] == [
        ("node1", "10.244.0.200"), ("node2", "10.244.1.200")]  # not in node1's 10.244.0.0/24


def test_a_cluster_ip_view_with_nobody_to_send_from_says_so(capsys, tmp_path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(PODCIDR_CLUSTER.replace("spec: {podCIDR: 10.244.0.0/24}", "spec: {}"))
    code, out, _ = run(capsys, "dist", "-f", str(path), "-o", "json")
    assert code == 0
    cluster_ip = json.loads(out)["services"][0]["views"][0]
    assert cluster_ip["entries"] == [] and cluster_ip["notes"][0].startswith("no pod to send from")
    after = tmp_path / "after.yaml"
    after.write_text(path.read_text().replace("10.244.1.5", "10.244.1.6"))
    code, out, _ = run(capsys, "diff", "-f", str(path), "--against", str(after))
    assert code == 0 and "  clusterIP 10.96.0.10:80\n" in out  # there before and after: neither new nor gone


def test_an_external_ip_that_is_a_node_s_address_enters_that_node_only(capsys, tmp_path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(PODCIDR_CLUSTER.replace("type: NodePort,", "type: NodePort, externalIPs: [192.168.0.2],"))
    code, out, _ = run(capsys, "dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--to", "192.168.0.2:80",
                       "-o", "json")
    assert code == 0
    (view,) = json.loads(out)["services"][0]["views"]
    assert view["kind"] == "externalIP" and [(e["node"], e["weight_exact"]) for e in view["entries"]] == [
        ("node1", "1")]
    assert view["notes"] == ["192.168.0.2 is node node1's address: the network delivers it there"]


AFFINITY_10S = PODCIDR_CLUSTER.replace(
    "spec: {type: NodePort, clusterIP: 10.96.0.10,",
    "spec: {type: NodePort, clusterIP: 10.96.0.10, sessionAffinity: ClientIP, "
    "sessionAffinityConfig: {clientIP: {timeoutSeconds: 10}},").replace(
    "- {addresses: [10.244.1.5], nodeName: node2}",
    "- {addresses: [10.244.1.5], nodeName: node2}\n- {addresses: [10.244.1.6], nodeName: node2}")


def test_the_affinity_sample_keeps_the_client_interval(capsys, tmp_path) -> None:
    """50 clients each back every 20 s on average against a 10 s timeout: a returning client finds its entry
    with P(gap <= 10 s) (the gap a geometric number of 0.4 s steps), else is balanced again (1/3 to stay)."""
    from fractions import Fraction

    from kubeproxy_sim.kernel.verify import binomial_range

    path = tmp_path / "cluster.yaml"
    path.write_text(AFFINITY_10S)
    code, out, _ = run(capsys, "dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--to", "default/web",
                       "--clients", "50", "--client-interval", "20", "--seed", "5", "-o", "json")
    assert code == 0
    affinity = json.loads(out)["services"][0]["affinity"]
    sampled = affinity["sampled"]
    returning, same = sampled["returning_connections"], sampled["same_endpoint"]
    assert sampled["clients"] == 50 and affinity["endpoints"] == 3
    listed = 1 - Fraction(49, 50) ** 25  # back within 25 steps of 0.4 s
    expected = listed + (1 - listed) / 3
    # the exact p has a 10^42 denominator (too slow for exact tails over 4,000 trials): bracket it between
    # thousandths, and take the lower tail of the lower one and the upper tail of the upper one (sound: the
    # binomial's tails are monotone in p)
    below, above = Fraction(int(expected * 1000), 1000), Fraction(int(expected * 1000) + 1, 1000)
    low, high = binomial_range(returning, below, Fraction(1, 1000))[0], binomial_range(returning, above,
                                                                                      Fraction(1, 1000))[1]
    assert low <= same <= high, (same, returning, float(expected))


def test_an_ip_mode_proxy_balancer_has_a_view_through_the_node_ports(capsys, tmp_path) -> None:
    """kube-proxy writes no rule for it: the balancer connects from its address to a NodePort (as `send`)."""
    from tests.simulator.builders import objects

    argv = ("--to", "203.0.113.102:80")
    (view,) = dist_json(capsys, tmp_path, objects(), *argv, "--from", "external:198.51.100.7")["services"][0]["views"]
    assert view["kind"] == "loadBalancer" and view["notes"][0].startswith("ipMode Proxy")
    assert {(e["source"]["address"], e["destination"]) for e in view["entries"]} == {
        ("203.0.113.102", "192.168.0.10:30083"), ("203.0.113.102", "192.168.0.11:30083")}
    assert sorted(o["endpoint"] for o in view["average"]["outcomes"]) == [
        "10.244.1.10:8080", "10.244.2.10:8080", "10.244.2.11:8080"]
    (view,) = dist_json(capsys, tmp_path, objects(), *argv)["services"][0]["views"]  # outside the ranges
    assert [(o["verdict"], o["probability_exact"]) for o in view["average"]["outcomes"]] == [("DROP", "1")]


def test_an_ip_mode_proxy_balancer_drops_a_client_of_a_family_its_ranges_do_not_list(capsys, tmp_path) -> None:
    """The balancer, not kube-proxy, checks an ipMode Proxy Service's loadBalancerSourceRanges: an IPv6 client is
    in none of them when they are all IPv4, so dist drops it as send does (kube-proxy's own ranges of the family,
    none here, are no part of it)."""
    import yaml

    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "prx", "namespace": "default"},
               "spec": {"type": "LoadBalancer", "clusterIP": "fd00:10:96::90", "ipFamilies": ["IPv6"],
                        "loadBalancerSourceRanges": ["203.0.113.0/24"],
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30090}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "2001:db8:ffff::90", "ipMode": "Proxy"}]}}}
    endpoints = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv6",
                 "metadata": {"name": "prx-1", "namespace": "default",
                              "labels": {"kubernetes.io/service-name": "prx"}},
                 "endpoints": [{"addresses": ["fd00:10:244:1::90"], "nodeName": "node1"}],
                 "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
            "status": {"addresses": [{"type": "InternalIP", "address": "2001:db8::10"}]}}
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([node, service, endpoints]))
    argv = ("-f", str(path), "--cluster-cidr", "fd00:10:244::/56")
    code, out, _ = run(capsys, "dist", *argv, "--to", "[2001:db8:ffff::90]:80", "-o", "json")
    assert code == 0
    (view,) = json.loads(out)["services"][0]["views"]
    assert [(o["verdict"], o["probability_exact"]) for o in view["average"]["outcomes"]] == [("DROP", "1")]
    code, out, _ = run(capsys, "send", *argv, "--from", "external", "--to", "[2001:db8:ffff::90]:80", "--count",
                       "5", "-o", "json")
    assert code == 0
    assert [f["reason"] for f in json.loads(out)["failed"]] == ["DROP"]


def test_dropped_connections_carry_no_requests(capsys, tmp_path) -> None:
    from tests.simulator.builders import objects

    doc = dist_json(capsys, tmp_path, objects(local_pods=("web-2", "web-3")), "--to", "node/node1:30081",
                    "--connections", "4", "--requests-per-connection", "10")
    outcomes = doc["services"][0]["connections"]["outcomes"]
    (drop,) = [o for o in outcomes if o["verdict"] == "DROP"]
    assert drop["sampled_connections"] == 4 and drop["sampled_requests"] == 0 and drop["expected_requests"] == 0


@pytest.mark.parametrize(("scenario", "to", "message"), [
    ("externalname-and-headless", "default/web-headless", "default/web-headless is headless (clusterIP None): "
     "kube-proxy writes no rules; clients reach its pods directly"),
    ("externalname-and-headless", "default/docs", "default/docs is an ExternalName Service: kube-proxy writes no "
     "rules for it"),
    ("bootcamp", "127.0.0.1:31526", "a NodePort on loopback answers the node's own connections only"),
])
def test_a_destination_without_rules_says_why(capsys, scenario: str, to: str, message: str) -> None:
    code, _, err = run(capsys, "dist", "--scenario", scenario, "--to", to)
    assert code == 1 and message in err


def test_outside_clients_to_a_cluster_ip_are_told_the_outside_does_not_route_there(capsys) -> None:
    """send finds no route from outside to a cluster IP; dist's shares for it must say so."""
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "10.96.142.87:8080", "--from", "external",
                       "-o", "json")
    view = json.loads(out)["services"][0]["views"][0]
    assert code == 0 and view["kind"] == "clusterIP"
    assert any("the outside routes no cluster IPs to the nodes" in note for note in view["notes"])
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "10.96.142.87:8080", "-o", "json")
    assert json.loads(out)["services"][0]["views"][0]["notes"] == []


def test_to_takes_a_service_s_dns_name_as_send_does():
    """QA-dns L3: case-insensitive, a trailing dot, a bare NAME from namespace default's search path (dist has no
    client pod: send reads a name from default too for a client that is no pod); they were refused."""
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.analysis.targets import parse_destination
    from kubeproxy_sim.errors import InputError
    from tests.simulator.builders import BASE, load, objects

    other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "other"},
             "spec": {"clusterIP": "10.96.0.30", "ports": [{"name": "http", "port": 80}]}}
    nodes = node_set(load(objects(extra=[other])), BASE)

    def keys(text: str) -> list[str]:
        return [f"{s.svc.namespace}/{s.svc.name}:{s.svc.port}" for s in parse_destination(nodes, text, "dist")]

    assert keys("web.default:80") == ["default/web:80"]
    for text in ("Web.Default:80", "WEB.default.SVC:80", "web.default.svc.cluster.local.:80", "web:80", "web:http",
                 "web.default.svc.cluster.local:80"):
        assert keys(text) == ["default/web:80"], text
    assert keys("web.other:80") == keys("WEB.Other.svc.cluster.local.:80") == ["other/web:80"]
    for text, words in (("nosuch:80", "no Service default/nosuch (a bare NAME is looked up in namespace default, "
                                      "as dist has no client pod; known: "),
                        ("web.default.:80", "with a trailing dot a name is whole"),  # absolute: no search path
                        ("nosuch.other.svc.cluster.local.:80", "no proxied service other/nosuch"),
                        ("web.nosuchns:80", "no proxied service nosuchns/web")):
        with pytest.raises(InputError) as caught:
            parse_destination(nodes, text, "dist")
        assert words in str(caught.value), text


@pytest.mark.parametrize(("flag", "text", "usage"), [
    # of none of the flag's forms: the parser says it is a usage error (2) itself
    ("--to", "a.b.c", True),
    ("--to", ":80", True),
    ("--to", "node/node1", True),
    ("--to", "node/node1:http", True),
    ("--to", "node/node1:\u00b2", True),  # a digit, but not of 0-9 (int() cannot read it)
    ("--to", "node/nope", True),  # no NodePort: of no form, whatever the node
    ("--to", "default/", True),  # NS/NAME short of a part (QA-cli #20: 'no proxied service default/', 1)
    ("--to", "/", True),
    ("--to", "/web:80", True),
    ("--to", "default/web/x", True),
    ("--from", "bogus", True),
    ("--from", "external:zz", True),
    # of the right shape, but naming nothing there is (or of the other family): invalid input (1)
    ("--to", "nosuch", False),  # a bare NAME is namespace default's Service NAME (M-dns2: it was 2)
    ("--to", "nosuch:80", False),
    ("--to", "nosuch.default.svc.cluster.local.:80", False),
    ("--to", "web.default.:80", False),  # a trailing dot: the name is whole, NAME.NS. names nothing (send: NXDOMAIN)
    ("--to", "web.default:\u00b2", False),  # a port's name no port has (int() raised on it)
    ("--to", "default/nope", False),
    ("--to", "node/nope:30080", False),
    ("--to", "10.1.2.3:80", False),
    ("--from", "external:2001:db8::1", False),
    ("--from", "node/nope", False),
    ("--from", "pod/default/nope", False),
])
def test_a_target_of_no_form_is_a_usage_error_where_it_is_parsed(flag: str, text: str, usage: bool) -> None:
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.analysis.targets import parse_destination, parse_source
    from kubeproxy_sim.errors import InputError, UsageError
    from tests.simulator.builders import BASE, load, objects

    nodes = node_set(load(objects()), BASE)
    with pytest.raises(InputError) as caught:
        parse_destination(nodes, text, "dist") if flag == "--to" else parse_source(nodes, text)
    assert isinstance(caught.value, UsageError) is usage, caught.value
    assert caught.value.diagnostics[0].field == flag


@pytest.mark.parametrize("text", ["KUBERNETES-BOOTCAMP.Default.:8080", "kubernetes-bootcamp.default.:8080",
                                  "kubernetes-bootcamp.:8080", "a.b.c.:8080"])  # any whole name (review-h3 #5)
def test_a_trailing_dot_short_of_the_full_name_is_the_same_status_in_dist_and_send(capsys, text: str) -> None:
    """QA-dumps #4: the same string names nothing for both (send's resolver: NXDOMAIN): invalid input, 1."""
    scenario = ["--scenario", "bootcamp"]
    assert main(["dist", *scenario, "--to", text]) == 1
    assert "with a trailing dot a name is whole" in capsys.readouterr().err
    assert main(["send", *scenario, "--from", "external", "--to", text, "--count", "1"]) == 1
    assert "NXDOMAIN" in capsys.readouterr().err
    if text.count(".") == 2:  # NAME.NS.: the full name is a Service's
        assert main(["dist", *scenario, "--to", text.replace(".:", ".svc.cluster.local.:"), "-o", "json"]) == 0


@pytest.mark.parametrize(("connections", "requests", "words"), [
    ("1", "1", "  1 keep-alive connection x 1 request = 1 request ("),
    ("2", "1", "  2 keep-alive connections x 1 request = 2 requests ("),
    ("1", "3", "  1 keep-alive connection x 3 requests = 3 requests ("),
])
def test_the_connections_headline_counts_in_the_singular_for_one(capsys, connections: str, requests: str,
                                                                   words: str) -> None:
    """One connection or one request each is said in the singular (QA wording #2: "x 1 requests")."""
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp",
                       "--connections", connections, "--requests-per-connection", requests)
    assert code == 0
    assert f"\n{words}" in out


def test_connections_help_names_the_one_view_that_is_sampled(capsys) -> None:
    """--connections samples one view per service port (the first that carries traffic), as the JSON's single
    ``connections.view`` says: the help must not promise every view."""
    with pytest.raises(SystemExit):
        main(["dist", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "per view" not in text
    assert "first view that carries traffic" in text
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp",
                       "--connections", "3", "-o", "json")
    assert code == 0
    (svc,) = json.loads(out)["services"]
    assert len(svc["views"]) > 1 and svc["connections"]["view"] == svc["views"][0]["kind"]


def test_connections_p_value_at_small_expected_counts_is_the_exact_tail(capsys) -> None:
    """The help's own example: 3 connections over 4 endpoints expect 0.75 a cell, where the chi-square
    distribution misstates the tail (it gave p = 0.3 for this sample, 1 + 2 connections on two pods): the p-value
    is the statistic's exact tail, 40/64 (no caveat needed: the note stays empty)."""
    code, out, _ = run(capsys, "dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp",
                       "--connections", "3", "--requests-per-connection", "1000", "--seed", "7", "-o", "json")
    assert code == 0
    conns = json.loads(out)["services"][0]["connections"]
    assert sorted(o["sampled_connections"] for o in conns["outcomes"]) == [0, 0, 1, 2]
    assert conns["chi_square"]["df"] == 3 and conns["chi_square"]["statistic"] == pytest.approx(11 / 3, rel=1e-6)
    assert conns["chi_square"]["p_value"] == pytest.approx(0.625, abs=1e-6)
    assert conns["note"] is None


@pytest.mark.parametrize("source", [[], ["--from", "external"]])  # the simulator, and the sampler's fallback
def test_connections_under_affinity_are_judged_as_draws_per_client_and_entry_node(capsys, source) -> None:
    """ClientIP affinity pins each client (one per entry node here: two) to the pod of its first connection, so
    200 connections are two draws: all of them on one pod happens half the time. The spread was judged as 200
    independent connections (p = 2e-45 for this correct run, one pod idle with chance 1e-60); it is judged over
    the two draws, each carrying its connections."""
    code, out, _ = run(capsys, "dist", "--scenario", "session-affinity", "--to", "default/web", *source,
                       "--connections", "200", "--seed", "2", "-o", "json")
    assert code == 0
    conns = json.loads(out)["services"][0]["connections"]
    assert set(conns) == CONNECTIONS
    sampled = sorted(o["sampled_connections"] for o in conns["outcomes"])
    assert sum(sampled) == 200 and conns["chi_square"]["df"] == 1
    assert conns["chi_square"]["p_value"] == pytest.approx(0.5 if sampled == [0, 200] else 1.0, abs=1e-9)
    assert conns["expected_idle_pods"] == pytest.approx(0.5, abs=1e-9)  # both clients avoid a pod: 1/4 each
    for outcome in conns["outcomes"]:
        assert outcome["idle_probability"] == pytest.approx(0.25, abs=1e-9)
        assert outcome["requests_interval_95"] == [0, 200]
        assert outcome["expected_requests"] == pytest.approx(100.0)
        low, high = outcome["sampled_share_interval_95"]
        assert low <= 0.5 <= high  # a share interval over two draws, not over 200 connections
    assert "200 connections are 2 draws" in conns["note"]


def test_draws_sum_range_is_exact_for_few_draws() -> None:
    from kubeproxy_sim.analysis import stats
    from kubeproxy_sim.analysis.longlived import _sum_range

    assert _sum_range([(90, 0.5), (110, 0.5)], 0.95) == (0, 200)
    assert _sum_range([(100, 1.0), (50, 0.0)], 0.95) == (100, 100)
    assert _sum_range([(1, 0.5)] * 20, 0.95) == stats.binom_acceptance(20, 0.5, 0.05) == (6, 14)  # one a draw
    # 25,001 sums, more than SUM_STATES: the normal one, mean 12,500 and sd sqrt(5000 / 4 + 10000), decided from
    # the reachable sums before any is weighed (the former 5,000 + 5,000 draws made 15,001 sums, all listed: 20 s)
    spread = stats.normal_quantile(0.975) * math.sqrt(5000 / 4 + 10000)
    assert _sum_range([(1, 0.5)] * 5000 + [(2, 0.5)] * 10000, 0.95) == (12292, 12708) == (
        math.floor(12500 - spread), math.ceil(12500 + spread))


@pytest.mark.parametrize("command", ["dist", "diff"])
def test_a_bare_name_that_names_nothing_says_which_command_has_no_client_pod(capsys, command: str) -> None:
    """QA-cli #19: diff's message said 'as dist has no client pod'."""
    extra = ["--against-scenario", "bootcamp"] if command == "diff" else []
    assert main([command, "--scenario", "bootcamp", *extra, "--to", "bogus"]) == 1
    err = capsys.readouterr().err
    assert f"as {command} has no client pod; known: default/kubernetes-bootcamp" in err


@pytest.mark.parametrize("command", ["dist", "diff"])
def test_ns_slash_name_short_of_a_part_says_the_form_expected(capsys, command: str) -> None:
    extra = ["--against-scenario", "bootcamp"] if command == "diff" else []
    assert main([command, "--scenario", "bootcamp", *extra, "--to", "default/"]) == 2
    assert ("--to: 'default/': not NS/NAME: a namespace and a Service's name, one each side of one '/'; expected "
            "IP[:PORT]") in capsys.readouterr().err


def test_connections_with_no_way_in_carrying_traffic_say_so(capsys) -> None:
    """--node keeps only a node the balancer does not use (eTP Local, no local ready endpoint): every entry has
    weight 0, so --connections has no view to sample; a note says so instead of a silent null."""
    code, out, _ = run(capsys, "dist", "--scenario",
                       "upstream-terminating-endpoints-traffic-policy-local-only-terminating-endpoints-exist",
                       "--to", "1.2.3.4:80", "--node", "test-node", "--connections", "10", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    (svc,) = doc["services"]
    assert [e["weight_exact"] for v in svc["views"] for e in v["entries"]] == ["0"]
    assert svc["connections"] is None
    assert doc["notes"] == ["ns1/svc1: --connections sampled nothing: no way in analysed carries traffic (see the "
                            "views' notes)"]
