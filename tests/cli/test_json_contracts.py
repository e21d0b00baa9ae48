"""The JSON outputs README.md documents as public contracts keep their keys (fields may only be added).

dist, diff, replay, watch and scenario run through the real commands on the built-in scenarios; netns verify's two
shapes are built from the pure parts that make them (no root), and netns send's ``seed`` from its tally. Each
key set is pinned exactly, nested ones too, so that adding, renaming or dropping a key breaks a test here; the
last test checks that the README's section for each command names every pinned key.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli import watch_cmd
from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.cli.options import REPO_RULESETS
from tests.cli.test_watch_cmd import Clock

ROOT = Path(__file__).resolve().parents[2]
BOOTCAMP = REPO_RULESETS / "bootcamp"
BOOTCAMP_FLAGS = ["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]
TERMINATING = "upstream-terminating-endpoints-traffic-policy-cluster-"

# --------------------------------------------------------------------------- the pinned key sets

DIFF = {"node", "services", "other_rules"}
DIFF_RULE_LISTS = {"added", "removed"}  # other_rules and services[].rules
DIFF_SERVICE = {"name", "protocol", "status", "endpoints", "rules", "views", "existing_connections", "new_connections"}
DIFF_ENDPOINTS = {"gained", "lost", "changed"}
DIFF_CHANGED = {"endpoint", "before", "after"}
DIFF_VIEW = {"kind", "destination", "status", "before", "after", "on_node"}
DIFF_ON_NODE = {"before", "after", "receives_before", "receives_after"}  # the compared node's own outcomes
DIFF_CONNECTION = {"endpoint", "pod", "fate", "reason"}
OUT = {"verdict", "endpoint", "pod", "probability", "probability_exact", "percent", "deviation", "deviation_exact",
       "masquerade", "masquerade_exact"}  # dist's OUT, which diff's views reuse

DIST = {"nodes", "notes", "services"}
DIST_SERVICE = {"service", "name", "port_name", "port", "protocol", "endpoints", "views", "affinity", "connections"}
DIST_ENDPOINT = {"endpoint", "pod", "node", "ready", "serving", "terminating"}
DIST_VIEW = {"kind", "destination", "notes", "entries", "average"}
DIST_SHARES = {"outcomes", "uniform_exact", "max_deviation", "max_deviation_exact"}  # an average; an entry adds:
DIST_ENTRY = DIST_SHARES | {"node", "source", "destination", "weight", "weight_exact", "note", "uncertain"}
DIST_SOURCE = {"kind", "address", "node", "name"}
DIST_AFFINITY = {"timeout_seconds", "list_size", "endpoints", "sticky", "clients_per_endpoint",
                 "client_interval_seconds", "live_within_timeout", "sampled"}
DIST_STICKY = {"node", "endpoint", "list", "returns", "returns_exact"}
DIST_CLIENT_LOAD = {"clients", "listed", "listed_exact", "same_endpoint", "same_endpoint_exact"}
DIST_SAMPLED = {"clients", "returning_connections", "same_endpoint", "seed", "view", "destination", "node"}
DIST_CONNECTIONS = {"view", "connections", "requests_per_connection", "seed", "engine", "outcomes",
                    "expected_idle_pods", "sampled_idle_pods", "chi_square", "note"}
DIST_CONNECTION_OUTCOME = {"verdict", "endpoint", "probability_exact", "expected_requests", "requests_interval_95",
                           "idle_probability", "sampled_connections", "sampled_requests", "sampled_share",
                           "sampled_share_interval_95"}
DIST_CHI_SQUARE = {"statistic", "df", "p_value"}

TRACE = {"packet", "origin", "outcomes", "uncertain", "notes", "node", "ip_family"}
TRACE_PACKET = {"proto", "src", "dst", "sport", "dport", "in_iface", "out_iface", "bridge_port", "ctstate", "ctdir",
                "affinity", "icmp_type", "icmp_code"}
TRACE_OUTCOME = {"verdict", "destination", "probability", "probability_exact", "masquerade", "path", "hooks"}
TRACE_NO_CONNECTION = "no_connection"  # on an ESTABLISHED trace's outcome whose first packet is dropped, only
TRACE_STEP = {"table", "chain", "line", "rule"}
TRACE_HOOK = {"table", "chain", "verdict", "policy"}
TRACE_UNCERTAIN = {"line", "rule", "reason"}

SEND = {"from", "to", "proto", "connections", "seed", "delivered", "failed", "sticky", "answered", "ping"}  # netns
# send's too ("ping" null but for send --proto icmp/icmpv6)
SEND_PING = {"address", "kind", "owner", "note"}
SEND_DELIVERED = {"pod", "ip", "node", "count", "share", "expected", "sources_seen", "pod_object", "why"}
SEND_FAILED = {"reason", "count", "detail", "expected", "why"}

HEALTHZ = {"status", "headers", "body", "ipFamily"}
HEALTHZ_DUAL = {*HEALTHZ, "otherFamily", "portConflict"}  # a dual-stack node: its other family's server too
HEALTHZ_HEADERS = {"Content-Type", "X-Content-Type-Options", "X-Load-Balancing-Endpoint-Weight", "Date",
                   "Content-Length"}
HEALTHZ_BODY = {"service", "localEndpoints", "serviceProxyHealthy"}
HEALTHZ_SERVICE = {"namespace", "name"}

RULES = {"tables"}

REPLAY = {"syncs"}
REPLAY_SYNC = {"sync", "state", "kind", "restore", "metrics", "error"}
REPLAY_TABLE = {"name", "chains", "deleted"}
CHAIN = {"name", "policy", "rules"}  # as rules -o json
METRICS = {"full", "filter_rules", "nat_rules_synced", "nat_rules_total", "deleted_chains",
           "no_local_endpoints_internal", "no_local_endpoints_external", "restore_failures",
           "partial_restore_failures", "last_timestamp_seconds", "ip_family"}

WATCH = {"number", "full", "reason", "duration_ms", "apply_ms", "changed", "metrics", "restore", "error"}
WATCH_DIFF = WATCH | {"diff"}

SCENARIO = {"steps"}
SCENARIO_STEP = {"step", "line", "command", "notes", "endpoints"}  # + rules | diff, by --show
SCENARIO_ENDPOINT = {"service", "port_name", "address", "port", "protocol", "state", "node", "zone", "pod"}
SCENARIO_TABLE = {"name", "chains"}

VERIFY_OBJECTS = {"ok", "inconclusive", "alpha", "notes", "skipped", "flows"}
VERIFY_OBJECTS_SKIPPED = {"flow", "reason"}
VERIFY_OBJECTS_FLOW = {"from", "to", "proto", "kind", "service", "connections", "verdict", "why", "sticky", "exact",
                       "note", "outcomes"}
VERIFY_OBJECTS_OUTCOME = {"outcome", "expected", "range", "observed", "ok"}

VERIFY_DUMP = {"rules", "node_ips", "pod_subnets", "client_pod", "external_client", "endpoints", "ipsets", "nfacct",
               "left_out", "notes", "ok", "inconclusive", "flows"}
VERIFY_DUMP_ENDPOINT = {"on_node", "ports"}
VERIFY_DUMP_LEFT_OUT = {"line", "rule", "reason"}
VERIFY_DUMP_FLOW = {"from", "source", "to", "proto", "kind", "service", "count", "verdict", "uncertain_rules",
                    "outcomes", "sticky", "note"}
VERIFY_DUMP_OUTCOME = {"predicted", "expect", "share", "range", "observed", "masquerade_predicted",
                       "masquerade_observed", "ok"}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def bootcamp_without(tmp_path: Path, ip: str = "10.244.1.3") -> Path:
    """bootcamp with one pod and its endpoint gone (a scale-down): a changed service port, a partial sync."""
    docs = [d for d in yaml.safe_load_all((BOOTCAMP / "objects.yaml").read_text()) if d]
    out = []
    for doc in docs:
        if doc["kind"] == "Pod" and doc["status"].get("podIP") == ip:
            continue
        if doc["kind"] == "EndpointSlice":
            doc["endpoints"] = [e for e in doc["endpoints"] if e["addresses"] != [ip]]
        out.append(doc)
    path = tmp_path / "bootcamp-3.yaml"
    path.write_text(yaml.safe_dump_all(out, sort_keys=False))
    return path


def check_tables(tables: list[dict], table_keys: set[str]) -> None:
    assert [t["name"] for t in tables] == ["filter", "nat"]
    for table in tables:
        assert set(table) == table_keys
        assert table["chains"] and all(set(c) == CHAIN for c in table["chains"])
        assert all(isinstance(r, str) and r.startswith("-A ") for c in table["chains"] for r in c["rules"])


# --------------------------------------------------------------------------- diff


def check_diff(data: dict) -> None:
    assert set(data) == DIFF
    assert isinstance(data["node"], str) and set(data["other_rules"]) == DIFF_RULE_LISTS
    for port in data["services"]:
        assert set(port) == DIFF_SERVICE
        assert port["status"] in ("added", "removed", "changed", "unchanged")
        assert set(port["endpoints"]) == DIFF_ENDPOINTS and set(port["rules"]) == DIFF_RULE_LISTS
        assert all(set(c) == DIFF_CHANGED for c in port["endpoints"]["changed"])
        assert all(line.startswith(("nat: -A ", "filter: -A ")) for lines in port["rules"].values() for line in lines)
        assert port["rules"]["added"] == sorted(port["rules"]["added"])
        for view in port["views"]:
            assert set(view) == DIFF_VIEW and view["status"] in ("added", "removed", "kept")
            assert all(set(o) == OUT for o in (*view["before"], *view["after"]))
            mine = view["on_node"]
            assert set(mine) == DIFF_ON_NODE and all(set(o) == OUT for o in (*mine["before"], *mine["after"]))
            assert isinstance(mine["receives_before"], bool) and isinstance(mine["receives_after"], bool)
        for connection in port["existing_connections"]:
            assert set(connection) == DIFF_CONNECTION and connection["fate"] in ("kept", "reset", "black-holed")
        assert all(isinstance(n, str) for n in port["new_connections"])


def test_diff_json_keys_terminating_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    data = run(["diff", "--scenario", TERMINATING + "ready-endpoints-exist", "--against-scenario",
                TERMINATING + "only-terminating-endpoints-exist", "-o", "json"], capsys)
    check_diff(data)
    (port,) = data["services"]
    assert port["status"] == "changed" and port["endpoints"]["lost"] == ["10.0.1.1:80"]
    assert port["endpoints"]["changed"][0] == {"endpoint": "10.0.1.2:80", "before": "ready",
                                               "after": "serving-terminating"}
    assert {v["kind"] for v in port["views"]} == {"clusterIP", "loadBalancer"}
    assert port["existing_connections"][0]["pod"] is None  # no Pod objects in this scenario


def test_diff_json_keys_scale_down_and_removal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scaled = run(["diff", "--scenario", "bootcamp", "--against", str(bootcamp_without(tmp_path)), "-o", "json"], capsys)
    check_diff(scaled)
    port = scaled["services"][0]
    assert scaled["node"] == "node1" and port["endpoints"]["lost"] == ["10.244.1.3:8080"]
    assert [(v["kind"], v["destination"]) for v in port["views"]] == [("clusterIP", "10.96.142.87:8080"),
                                                                      ("nodePort", "<node>:31526")]
    gone = port["existing_connections"][-1]
    assert gone["pod"] == "default/kubernetes-bootcamp-855d5cc575-w7tdp" and gone["fate"] == "black-holed"
    docs = [d for d in yaml.safe_load_all((BOOTCAMP / "objects.yaml").read_text())
            if d and d["kind"] not in ("Service", "EndpointSlice")]
    (tmp_path / "nosvc.yaml").write_text(yaml.safe_dump_all(docs))
    removed = run(["diff", "--scenario", "bootcamp", "--against", str(tmp_path / "nosvc.yaml"), "-o", "json"], capsys)
    check_diff(removed)
    port = removed["services"][0]
    assert port["status"] == "removed" and all(v["after"] == [] for v in port["views"])
    assert {v["status"] for v in port["views"]} == {"removed"}
    assert {v["status"] for v in scaled["services"][0]["views"]} == {"kept"}
    added = run(["diff", "-f", str(tmp_path / "nosvc.yaml"), "--hostname-override", "node1", "--against",
                 str(BOOTCAMP / "objects.yaml"), "-o", "json"], capsys)
    check_diff(added)
    new_port = added["services"][0]
    assert new_port["status"] == "added" and {v["status"] for v in new_port["views"]} == {"added"}
    assert all(v["before"] == [] and v["after"] for v in new_port["views"])
    assert len(port["new_connections"]) == 1


def test_diff_json_of_identical_states(capsys: pytest.CaptureFixture[str]) -> None:
    data = run(["diff", "--scenario", "bootcamp", "--against-scenario", "bootcamp", "-o", "json"], capsys)
    assert data == {"node": "node1", "services": [], "other_rules": {"added": [], "removed": []}}
    every = run(["diff", "--scenario", "bootcamp", "--against-scenario", "bootcamp", "--all", "-o", "json"], capsys)
    check_diff(every)
    assert [p["status"] for p in every["services"]] == ["unchanged"]


# --------------------------------------------------------------------------- trace


def test_trace_json_outcomes_keep_the_walk_order_readme_gives(capsys: pytest.CaptureFixture[str]) -> None:
    """Walk order, not rule order: the README's example is what the command prints."""
    data = run(["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080",
                "-o", "json"], capsys)
    order = [o["destination"].rpartition(":")[0] for o in data["outcomes"]]
    assert order == ["10.244.0.3", "10.244.1.3", "10.244.1.2", "10.244.0.4"]
    assert ", ".join(f"`{ip}`" for ip in order) in readme_section("`trace -o json`")
    assert set(data) == TRACE and data["ip_family"] == "IPv4"


def test_trace_json_ip_family_is_the_proxier_whose_lines_the_path_cites(capsys: pytest.CaptureFixture[str]) -> None:
    """A packet of a dual-stack node's other family is traced through that family's proxier's rules (no
    --ip-family given): the key says which, as the text's note does, and the lines are those rules --ip-family
    ipv6 prints."""
    flags = ["--scenario", "dual-stack", "--hostname-override", "node1"]
    data = run(["trace", *flags, "--src", "2001:db8:ffff::1", "--dst", "fd00:10:96::10", "--dport", "80", "-o",
                "json"], capsys)
    assert set(data) == TRACE and data["ip_family"] == "IPv6"
    step = data["outcomes"][0]["path"][0]
    assert main(["rules", *flags, "--ip-family", "ipv6", "--full"]) == 0
    assert capsys.readouterr().out.splitlines()[step["line"] - 1] == step["rule"]


def check_trace(data: dict) -> None:
    assert set(data) == TRACE and set(data["packet"]) == TRACE_PACKET
    assert all(set(u) == TRACE_UNCERTAIN for u in data["uncertain"])
    for outcome in data["outcomes"]:
        assert set(outcome) - {TRACE_NO_CONNECTION} == TRACE_OUTCOME
        assert outcome.get(TRACE_NO_CONNECTION, True) is True  # present only as true
        assert outcome["path"] and all(set(step) == TRACE_STEP for step in outcome["path"])
        assert all(set(hook) == TRACE_HOOK for hook in outcome["hooks"])


def test_trace_json_inner_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The packet, each outcome, its path's steps and the uncertain entries, of generated rules and of a dump."""
    packet = ["--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080", "-o", "json"]
    generated = run(["trace", "--scenario", "bootcamp", *packet], capsys)
    check_trace(generated)
    assert generated["packet"]["ctstate"] == "NEW" and generated["outcomes"][0]["path"][0]["table"] == "nat"
    assert main(["rules", "--scenario", "bootcamp", "--full"]) == 0
    (tmp_path / "boot.full").write_text(capsys.readouterr().out)
    dumped = run(["trace", "--rules", str(tmp_path / "boot.full"), *packet], capsys)
    check_trace(dumped)
    assert dumped["node"] is None and dumped["uncertain"]  # no --node-ip: the packet's origin is assumed
    assert dumped["uncertain"][0]["line"] is None and dumped["uncertain"][0]["rule"] == "packet origin"


def test_trace_json_no_connection_marks_an_established_packet_whose_first_was_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    data = run(["trace", "--scenario", "upstream-no-endpoints-reject", "--src", "10.0.0.2", "--dst", "172.30.0.41",
                "--dport", "80", "--ctstate", "ESTABLISHED", "-o", "json"], capsys)
    check_trace(data)
    assert [(o["verdict"], o.get(TRACE_NO_CONNECTION)) for o in data["outcomes"]] == [("REJECT", True)]


NAT_DUMP = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080
-A POSTROUTING -p tcp --dport 81 -j SNAT --to-source 10.0.0.1
COMMIT
"""


@pytest.mark.parametrize(("dport", "outcome", "claim"), [
    ("80", ("DNAT", "10.0.0.1:8080", False), "a `REDIRECT` is one too"),
    ("81", ("ACCEPT", None, True), "an SNAT or MASQUERADE alone rewrites only the source, `masquerade`")])
def test_trace_json_verdicts_of_redirect_and_snat(dport: str, outcome: tuple, claim: str,
                                                  capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """README's outcomes[].verdict: a REDIRECT is a DNAT to the node's own address; an SNAT alone is an ACCEPT
    whose source is rewritten (masquerade). Each case checks README's clause for it."""
    (tmp_path / "nat.dump").write_text(NAT_DUMP)
    data = run(["trace", "--rules", str(tmp_path / "nat.dump"), "--node-ip", "10.0.0.1", "--src", "10.0.0.9",
                "--dst", "10.0.0.1" if dport == "80" else "10.0.0.50", "--dport", dport, "-o", "json"], capsys)
    check_trace(data)
    assert [(o["verdict"], o["destination"], o["masquerade"]) for o in data["outcomes"]] == [outcome]
    assert claim in readme_section("`trace -o json`")


# --------------------------------------------------------------------------- send, healthz, rules


def check_send(data: dict) -> None:
    assert set(data) == SEND
    assert all(set(row) == SEND_DELIVERED for row in data["delivered"])
    assert all(set(row) == SEND_FAILED for row in data["failed"])
    assert data["answered"] == sum(row["count"] for row in data["delivered"])
    assert data["ping"] is None or set(data["ping"]) == SEND_PING


def test_send_json_of_a_ping_names_its_destination(capsys: pytest.CaptureFixture[str]) -> None:
    """A ping (--proto icmp) to a cluster IP: no echo reply, the router's net unreachable, and ``ping`` saying
    whose address it is; every row carries its note."""
    data = run(["send", "--scenario", "bootcamp", "--from", "pod/default/kubernetes-bootcamp-855d5cc575-4lb7w",
                "--to", "10.96.142.87", "--proto", "icmp", "--count", "3", "-o", "json"], capsys)
    check_send(data)
    assert (data["proto"], data["answered"], data["delivered"]) == ("icmp", 0, [])
    assert [(f["reason"], f["count"]) for f in data["failed"]] == [("NO_ROUTE", 3)]
    assert {k: v for k, v in data["ping"].items() if k != "note"} == {
        "address": "10.96.142.87", "kind": "cluster-ip", "owner": "default/kubernetes-bootcamp"}
    assert data["failed"][0]["why"] == [data["ping"]["note"]]


def test_send_json_keys_delivered_and_failed(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's two examples: four delivered rows, and a refused NodePort's one failed row."""
    delivered = run(["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--count",
                     "1000", "-o", "json"], capsys)
    check_send(delivered)
    assert (delivered["seed"], delivered["sticky"], delivered["failed"]) == (1, False, [])
    assert delivered["delivered"][0] == {
        "pod": "default/kubernetes-bootcamp-855d5cc575-4lb7w", "ip": "10.244.0.3", "node": "node1", "count": 247,
        "share": 0.247, "expected": 0.25, "sources_seen": ["10.244.0.1"], "pod_object": True, "why": []}
    refused = run(["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31527", "--count",
                   "10", "-o", "json"], capsys)
    check_send(refused)
    assert refused["failed"] == [{"reason": "REJECT", "count": 10, "detail": "node node1 (192.168.49.2): nothing "
                                  "listens on tcp/31527 (connection refused)", "expected": 1.0, "why": []}]
    readme = readme_section("`send -o json`")
    assert '"count": 247, "share": 0.247, "expected": 0.25' in readme and "tcp/31527 (connection refused)" in readme


def test_netns_send_json_has_send_s_keys() -> None:
    """`netns send -o json prints the same shape`: its tally's JSON, with a delivered and a failed row."""
    from kubeproxy_sim.kernel.send import Destination, Source, tally

    state = {"nodes": {"node1": {"netns": "x", "addresses": ["192.168.49.2"]}},
             "pods": {"10.244.0.3": {"key": "default/web-a", "netns": "y", "node": "node1", "host_network": False}}}
    results = [{"pod": "default/web-a", "src": "192.168.49.2:1", "dst": "10.244.0.3:8080"}, {"error": "timeout"}]
    source, dest = Source("external", "z"), Destination("node/node1:31526", "192.168.49.2", 31526)
    data = json.loads(json.dumps(tally(source, dest, "tcp", results, seed=3).as_json(state)))
    check_send(data)
    assert len(data["delivered"]) == 1 and len(data["failed"]) == 1


def test_healthz_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    healthy = run(["healthz", "--scenario", "upstream-external-traffic-policy-local", "ns1/svc1", "-o", "json"],
                  capsys)
    unhealthy = run(["healthz", "--scenario", "dual-stack", "--node", "node1", "default/local", "-o", "json"], capsys)
    for data, status, count in ((healthy, 200, 1), (unhealthy, 503, 0)):
        assert set(data) == (HEALTHZ_DUAL if "otherFamily" in data else HEALTHZ) and data["status"] == status
        assert data["ipFamily"] == "IPv4"
        assert set(data["headers"]) == HEALTHZ_HEADERS
        assert data["headers"]["X-Load-Balancing-Endpoint-Weight"] == str(count)
        assert set(data["body"]) == HEALTHZ_BODY and set(data["body"]["service"]) == HEALTHZ_SERVICE
        assert (data["body"]["localEndpoints"], data["body"]["serviceProxyHealthy"]) == (count, True)
    assert set(unhealthy) == HEALTHZ_DUAL and set(unhealthy["otherFamily"]) == HEALTHZ
    readme = readme_section("`healthz -o json`")
    assert all(f"`{header}`" in readme for header in HEALTHZ_HEADERS)
    assert all(f"`{key}`" in readme for key in HEALTHZ_DUAL)


@pytest.mark.parametrize("full", [False, True])
def test_rules_json_keys(full: bool, capsys: pytest.CaptureFixture[str]) -> None:
    data = run(["rules", "--scenario", "bootcamp", "-o", "json", *(["--full"] if full else [])], capsys)
    assert set(data) == RULES
    check_tables(data["tables"], SCENARIO_TABLE)
    policies = {c["name"]: c["policy"] for t in data["tables"] for c in t["chains"]}
    assert policies["KUBE-FORWARD"] is None and policies.get("FORWARD") == ("ACCEPT" if full else None)


# --------------------------------------------------------------------------- dist


def check_shares(shares: dict) -> None:
    """A list of OUT and the values README gives its keys: the even split of what is delivered, percent, the
    masqueraded part of each outcome."""
    outcomes = shares["outcomes"]
    assert all(set(o) == OUT for o in outcomes)
    delivered = [Fraction(o["probability_exact"]) for o in outcomes if o["verdict"] == "DNAT"]
    assert Fraction(shares["uniform_exact"]) == sum(delivered) / len(delivered)
    for o in outcomes:
        assert o["percent"] == pytest.approx(o["probability"] * 100)
        assert 0 <= Fraction(o["masquerade_exact"]) <= Fraction(o["probability_exact"])
        assert o["masquerade"] is (Fraction(o["masquerade_exact"]) > 0)
        assert Fraction(o["deviation_exact"]) == Fraction(o["probability_exact"]) - Fraction(shares["uniform_exact"])


def test_dist_json_keys_inner_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    data = run(["dist", "--scenario", "session-affinity", "--to", "web.default:80", "--clients", "500",
                "--client-interval", "5", "--connections", "4", "--requests-per-connection", "10", "--seed", "3",
                "-o", "json"], capsys)
    assert set(data) == DIST
    (port,) = data["services"]
    assert set(port) == DIST_SERVICE and all(set(e) == DIST_ENDPOINT for e in port["endpoints"])
    for view in port["views"]:
        assert set(view) == DIST_VIEW and set(view["average"]) == DIST_SHARES
        check_shares(view["average"])
        for entry in view["entries"]:
            assert set(entry) == DIST_ENTRY and set(entry["source"]) == DIST_SOURCE
            assert all(isinstance(u, str) for u in entry["uncertain"])
            check_shares(entry)
    masqueraded = [o for v in port["views"] for o in v["average"]["outcomes"]]
    assert {o["masquerade"] for o in masqueraded} == {True, False}  # the cluster IP's are not, the NodePort's are
    affinity = port["affinity"]
    assert set(affinity) == DIST_AFFINITY and set(affinity["sampled"]) == DIST_SAMPLED
    assert affinity["sticky"] and all(set(s) == DIST_STICKY for s in affinity["sticky"])
    assert all(s["list"].startswith("KUBE-SEP-") and s["returns_exact"] == "1" for s in affinity["sticky"])
    (load,) = affinity["clients_per_endpoint"]
    assert set(load) == DIST_CLIENT_LOAD and load["clients"] == 250  # 500 clients over 2 endpoints
    assert (load["listed_exact"], load["same_endpoint_exact"]) == ("2/5", "7/10")  # 100/250; 2/5 + 3/5 * 1/2
    assert affinity["client_interval_seconds"] == 5.0 and 0 < affinity["live_within_timeout"] <= 1
    connections = port["connections"]
    assert set(connections) == DIST_CONNECTIONS and set(connections["chi_square"]) == DIST_CHI_SQUARE
    assert connections["outcomes"] and all(set(o) == DIST_CONNECTION_OUTCOME for o in connections["outcomes"])
    for outcome in connections["outcomes"]:
        low, high = outcome["sampled_share_interval_95"]
        assert 0 <= low <= high <= 1 and len(outcome["requests_interval_95"]) == 2
        assert outcome["sampled_share"] == outcome["sampled_connections"] / connections["connections"]


# --------------------------------------------------------------------------- replay


def test_replay_json_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = run(["replay", str(BOOTCAMP / "objects.yaml"), str(bootcamp_without(tmp_path)), *BOOTCAMP_FLAGS,
                "-o", "json"], capsys)
    assert set(data) == REPLAY
    first, second = data["syncs"]
    for number, sync in enumerate(data["syncs"], 1):
        assert set(sync) == REPLAY_SYNC and sync["sync"] == number and sync["error"] is None
        assert set(sync["restore"]) == {"tables"}
        check_tables(sync["restore"]["tables"], REPLAY_TABLE)
        assert set(sync["metrics"]) == METRICS and sync["metrics"]["ip_family"] == "IPv4"
        assert sync["metrics"]["full"] is (sync["kind"] == "full")
    assert (first["kind"], second["kind"]) == ("full", "partial")
    assert first["state"] == str(BOOTCAMP / "objects.yaml")
    nat = second["restore"]["tables"][1]
    assert nat["deleted"] == ["KUBE-SEP-YBRCQ2MN75WMSUM6"] and second["metrics"]["deleted_chains"] == 1
    # the replay's clock: 0 at the first state, --interval (1s) more at each
    assert [sync["metrics"]["last_timestamp_seconds"] for sync in data["syncs"]] == [0.0, 1.0]
    assert {"name": "KUBE-SEP-YBRCQ2MN75WMSUM6", "policy": None, "rules": []} in nat["chains"]


# --------------------------------------------------------------------------- watch


def watch_records(directory: Path, *flags: str) -> list[dict]:
    args = build_parser().parse_args(["watch", "-f", str(directory), *BOOTCAMP_FLAGS, "--once", "-o", "json", *flags])
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    assert watch_cmd.run(args, out=out, err=err, sleep=clock.sleep, clock=clock) == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_watch_json_keys_with_and_without_diff(tmp_path: Path) -> None:
    (tmp_path / "objects.yaml").write_text((BOOTCAMP / "objects.yaml").read_text())
    (record,) = watch_records(tmp_path, "--diff")
    assert set(record) == WATCH_DIFF and set(record["metrics"]) == METRICS
    assert (record["number"], record["full"], record["reason"], record["error"]) == (1, True, "initial", None)
    assert record["changed"] == ["default/kubernetes-bootcamp"]
    assert isinstance(record["duration_ms"], float) and isinstance(record["apply_ms"], float)
    assert isinstance(record["metrics"]["last_timestamp_seconds"], float)  # the watch's clock as the restore went in
    assert record["restore"].startswith("*filter\n") and record["restore"].endswith("COMMIT\n")
    assert record["diff"].startswith("--- sync 0\n+++ sync 1\n@@ ")
    (plain,) = watch_records(tmp_path)
    assert set(plain) == WATCH  # `diff` only with --diff


# --------------------------------------------------------------------------- scenario


@pytest.mark.parametrize("show", ["rules", "diff", "endpoints"])
def test_scenario_json_keys(show: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = run(["scenario", str(BOOTCAMP / "scenario"), "--show", show, "-o", "json"], capsys)
    assert set(data) == SCENARIO
    extra = {"rules": {"rules"}, "diff": {"diff"}, "endpoints": set()}[show]
    steps = data["steps"]
    assert steps and [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    for step in steps:
        assert set(step) == SCENARIO_STEP | extra
        assert isinstance(step["line"], int) and all(isinstance(n, str) for n in step["notes"])
        for endpoint in step["endpoints"]:
            assert set(endpoint) == SCENARIO_ENDPOINT
            assert endpoint["state"] in ("ready", "not-ready", "serving-terminating", "terminating")
        if show == "rules":
            assert set(step["rules"]) == {"tables"}
            check_tables(step["rules"]["tables"], SCENARIO_TABLE)
        if show == "diff":
            assert step["diff"] == "# rules unchanged\n" or step["diff"].startswith(
                f"--- step {step['step'] - 1}\n+++ step {step['step']}\n")
    exposed = next(s for s in steps if s["command"].startswith("expose deployment/kubernetes-bootcamp"))
    lines = (BOOTCAMP / "scenario").read_text().splitlines()
    assert lines[exposed["line"] - 1] == exposed["command"]  # the script's line, counted from 1
    pod = exposed["endpoints"][0]["pod"]
    assert pod.startswith("kubernetes-bootcamp-") and "/" not in pod  # the bare name (dist, send, diff: NS/NAME)


# --------------------------------------------------------------------------- netns verify, netns send (no root)


def test_netns_verify_objects_mode_json_keys() -> None:
    from kubeproxy_sim.kernel.differential import Flow, Prediction, Report, Skipped, judge

    a, b = ("reply", "10.244.0.3", "192.168.49.2"), ("reply", "10.244.1.2", "192.168.49.2")
    half, alpha = Fraction(1, 2), Fraction(1, 1000)
    flow = Flow("external", "node/node1:31526", "tcp", "NodePort", "default/kubernetes-bootcamp")
    agree = judge(flow, Prediction({a: half, b: half}), Counter({a: 52, b: 48}), alpha)
    differ = judge(flow, Prediction({a: Fraction(1)}), Counter({a: 20, ("fail", "silence"): 4}), alpha)
    report = Report((agree, differ), (Skipped("default/x 10.96.0.9:80/sctp", "SCTP: no sockets"),), ("a note",), alpha)
    data = json.loads(json.dumps(report.as_json()))
    assert set(data) == VERIFY_OBJECTS and data["ok"] is False and data["alpha"] == "1/1000"
    assert [set(s) for s in data["skipped"]] == [VERIFY_OBJECTS_SKIPPED]
    for flow_json in data["flows"]:
        assert set(flow_json) == VERIFY_OBJECTS_FLOW
        assert all(set(o) == VERIFY_OBJECTS_OUTCOME for o in flow_json["outcomes"])
    assert [(f["verdict"], bool(f["why"])) for f in data["flows"]] == [("agree", False), ("differ", True)]
    first = data["flows"][0]["outcomes"][0]
    assert first["expected"] == "1/2" and isinstance(first["range"], list) and len(first["range"]) == 2
    assert data["flows"][1]["outcomes"][-1]["expected"] == "0"  # what only the kernel showed


def test_netns_verify_dump_mode_json_keys() -> None:
    from kubeproxy_sim.kernel.stage import LeftOut, plan_stage, read_dump
    from kubeproxy_sim.kernel.verify import Expectation, Report, derive_flows, judge
    from kubeproxy_sim.netfilter.codec import parse_ruleset_file

    ruleset = parse_ruleset_file(str(BOOTCAMP / "full.golden"), ipv6=False)
    plan = plan_stage("t-contract", read_dump(ruleset), ["192.168.49.2"])
    flow = derive_flows(ruleset, "192.168.49.2")[0]
    reply = ("reply", "10.244.0.3:8080", "192.168.49.2")
    expect = [Expectation(reply, "DNAT to 10.244.0.3:8080", Fraction(1, 2), True),
              Expectation(("error", "timeout"), "DROP", Fraction(1, 2), None)]
    result = judge(flow, plan.client_pod.ip, expect, Counter({reply: 20, ("error", "timeout"): 20}), 40)
    report = Report("boot.full", plan, (LeftOut(7, "-A X -j Y", "refused"),), ("s",), ("c",), (result,), ("n",))
    data = json.loads(json.dumps(report.as_json()))
    assert set(data) == VERIFY_DUMP and data["ok"] is True and data["rules"] == "boot.full"
    assert data["endpoints"] and all(set(e) == VERIFY_DUMP_ENDPOINT for e in data["endpoints"].values())
    assert data["endpoints"]["10.244.0.3"] == {"on_node": False, "ports": ["tcp:8080"]}
    assert [set(x) for x in data["left_out"]] == [VERIFY_DUMP_LEFT_OUT]
    (flow_json,) = data["flows"]
    assert set(flow_json) == VERIFY_DUMP_FLOW and flow_json["verdict"] == "ok" and flow_json["note"] == ""
    assert all(set(o) == VERIFY_DUMP_OUTCOME for o in flow_json["outcomes"])
    by_expect = {o["expect"]: o for o in flow_json["outcomes"]}
    assert by_expect["timeout"]["masquerade_predicted"] is None and by_expect["timeout"]["share"] == "1/2"


def test_netns_send_seed_is_null_without_seed() -> None:
    from kubeproxy_sim.kernel.send import Destination, Source, tally

    state = {"nodes": {"node1": {"netns": "x", "addresses": ["192.168.49.2"]}},
             "pods": {"10.244.0.3": {"key": "default/web-a", "netns": "y", "node": "node1", "host_network": False}}}
    results = [{"pod": "default/web-a", "src": "192.168.49.2:1", "dst": "10.244.0.3:8080"}] * 2
    source, dest = Source("external", "z"), Destination("node/node1:31526", "192.168.49.2", 31526)
    unseeded = tally(source, dest, "tcp", results).as_json(state)
    assert unseeded["seed"] is None and unseeded["sticky"] is None
    assert tally(source, dest, "tcp", results, seed=3).as_json(state)["seed"] == 3


# --------------------------------------------------------------------------- the README names every key


def readme_section(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n### {heading}")
    end = text.find("\n### ", start + 1)
    return text[start:end if end != -1 else len(text)]


def documented_words(section: str) -> set[str]:
    """Every quoted word of the section's examples and every word in backticks in its prose."""
    examples = "".join(re.findall(r"```\w*\n(.*?)```", section, flags=re.DOTALL))
    prose = re.sub(r"```.*?```", "", section, flags=re.DOTALL)
    words = set(re.findall(r'"(\w+)"', examples))
    for span in re.findall(r"`([^`\n]+)`", prose):
        words |= set(re.findall(r"\w+", span))
    return words


CONTRACT_KEYS = [
    ("`diff -o json`", DIFF | DIFF_RULE_LISTS | DIFF_SERVICE | DIFF_ENDPOINTS | DIFF_CHANGED | DIFF_VIEW
     | DIFF_ON_NODE | DIFF_CONNECTION),
    ("`replay -o json`", REPLAY | REPLAY_SYNC | REPLAY_TABLE | CHAIN | METRICS),
    ("`watch -o json`", WATCH_DIFF),
    ("`scenario -o json`", SCENARIO | SCENARIO_STEP | SCENARIO_ENDPOINT | {"rules", "diff", "tables"}),
    ("`rules -o json|yaml`", {"tables"} | SCENARIO_TABLE | CHAIN),  # the tables scenario and replay reuse
    ("`netns verify -o json`", VERIFY_OBJECTS | VERIFY_OBJECTS_SKIPPED | VERIFY_OBJECTS_FLOW | VERIFY_OBJECTS_OUTCOME
     | VERIFY_DUMP | VERIFY_DUMP_ENDPOINT | VERIFY_DUMP_LEFT_OUT | VERIFY_DUMP_FLOW | VERIFY_DUMP_OUTCOME),
    ("`dist -o json`", OUT | DIST | DIST_SERVICE | DIST_ENDPOINT | DIST_VIEW | DIST_ENTRY | DIST_SOURCE | DIST_AFFINITY
     | DIST_STICKY | DIST_CLIENT_LOAD | DIST_SAMPLED | DIST_CONNECTIONS | DIST_CONNECTION_OUTCOME | DIST_CHI_SQUARE),
    ("`send -o json`", SEND | SEND_DELIVERED | SEND_FAILED | SEND_PING),
    ("`trace -o json`", TRACE | TRACE_PACKET | TRACE_OUTCOME | {TRACE_NO_CONNECTION} | TRACE_STEP | TRACE_HOOK
     | TRACE_UNCERTAIN),
    ("`healthz -o json`", HEALTHZ | HEALTHZ_BODY | HEALTHZ_SERVICE),
]


@pytest.mark.parametrize(("heading", "keys"), CONTRACT_KEYS)
def test_readme_documents_every_pinned_key(heading: str, keys: set[str]) -> None:
    missing = keys - documented_words(readme_section(heading))
    assert not missing, f"README.md's {heading} section does not name {sorted(missing)}"


def example_keys(section: str) -> set[str]:
    """The keys a section's JSON examples show: in its code blocks and its inline objects (a span starting ``{``),
    written ``"key": value`` or, in a schema, bare (``{"endpoint", "pod"}``)."""
    prose = re.sub(r"```.*?```", "", section, flags=re.DOTALL)
    text = "".join(re.findall(r"```\w*\n(.*?)```", section, flags=re.DOTALL)) + " ".join(
        span for span in re.findall(r"`([^`\n]+)`", prose) if span.startswith("{"))
    return set(re.findall(r'"(\w+)"\s*:', text)) | set(re.findall(r'[{,]\s*"(\w+)"\s*(?=[,}])', text))


# Keys a section's examples show that another section documents: diff's views hold dist's OUT, replay's restore
# holds rules -o json's tables, watch's metrics are replay's.
SHOWN_FROM_ELSEWHERE = {"`diff -o json`": OUT, "`replay -o json`": RULES, "`watch -o json`": METRICS}


@pytest.mark.parametrize(("heading", "keys"), CONTRACT_KEYS)
def test_readme_examples_show_only_keys_the_program_prints(heading: str, keys: set[str]) -> None:
    """The other way: a key README's example shows that no pinned set has is one the program does not print (a
    renamed or dropped key the README kept)."""
    extra = example_keys(readme_section(heading)) - keys - SHOWN_FROM_ELSEWHERE.get(heading, set())
    assert not extra, f"README.md's {heading} examples show keys the program does not print: {sorted(extra)}"


def test_example_keys_reads_both_forms() -> None:
    section = '```json\n{"node": "n1", "gone": [{"verdict": "DNAT"}]}\n```\n(`{"service": {"namespace", "name"}}`)'
    assert example_keys(section) == {"node", "gone", "verdict", "service", "namespace", "name"}


# Each command that prints -o json, and the README section that documents its contract.
CONTRACT_SECTIONS = {
    "rules": "`rules -o json|yaml`", "trace": "`trace -o json`", "send": "`send -o json`", "dist": "`dist -o json`",
    "diff": "`diff -o json`", "replay": "`replay -o json`", "watch": "`watch -o json`",
    "scenario": "`scenario -o json`", "healthz": "`healthz -o json`",
    "netns send": "`send -o json`", "netns verify": "`netns verify -o json`",
}


def _commands_printing(output: str, parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[str]:
    """The commands (and netns verbs) whose -o takes ``output``."""
    for action in parser._actions:
        if "--output" in action.option_strings and output in (action.choices or ()):
            yield " ".join(words)
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands_printing(output, child, (*words, name))


def test_every_json_command_has_a_contract_section_and_a_test() -> None:
    """A command that gains -o json must get a README section (and its keys pinned above) before this passes;
    the section's heading names the command (netns send's is send's, whose heading says so)."""
    assert set(_commands_printing("json", build_parser())) == set(CONTRACT_SECTIONS)
    for command, heading in CONTRACT_SECTIONS.items():
        section = readme_section(heading)
        assert f"`{command} -o json" in section.split("\n", 2)[1], (command, heading)


# --------------------------------------------------------------------------- -o yaml carries the same content

SAME_IN_YAML = {
    "rules": ["rules", "--scenario", "bootcamp", "--full"],
    "trace": ["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"],
    "send": ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31527", "--count", "10"],
    "dist": ["dist", "--scenario", "session-affinity", "--to", "web.default:80", "--clients", "50", "--connections",
             "4"],
    "diff": ["diff", "--scenario", TERMINATING + "ready-endpoints-exist", "--against-scenario",
             TERMINATING + "only-terminating-endpoints-exist"],
    "replay": ["replay", str(BOOTCAMP / "objects.yaml"), str(BOOTCAMP / "objects.yaml"), *BOOTCAMP_FLAGS],
    "scenario": ["scenario", str(BOOTCAMP / "scenario"), "--show", "diff"],
    "healthz": ["healthz", "--scenario", "upstream-external-traffic-policy-local", "ns1/svc1"],
}


def test_every_yaml_command_is_compared() -> None:
    """Each command with -o yaml but those that need root (netns send and verify: tests/kernel/test_cli.py)."""
    assert set(_commands_printing("yaml", build_parser())) - {"netns send", "netns verify"} == set(SAME_IN_YAML)


@pytest.mark.parametrize("command", list(SAME_IN_YAML))
def test_yaml_output_carries_the_json_content(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """README: "json and yaml carry the same content" (healthz's Date is the clock's, read at each run)."""
    as_json = run([*SAME_IN_YAML[command], "-o", "json"], capsys)
    assert main([*SAME_IN_YAML[command], "-o", "yaml"]) == 0
    as_yaml = yaml.safe_load(capsys.readouterr().out)
    if command == "healthz":
        as_json["headers"].pop("Date"), as_yaml["headers"].pop("Date")
    assert as_yaml == as_json


def test_each_contract_section_says_it_is_one() -> None:
    """README's Outputs: "a command's -o json is a public contract, below": each section says so in its heading."""
    for heading in set(CONTRACT_SECTIONS.values()):
        assert "(a public contract" in readme_section(heading).split("\n", 2)[1], heading
