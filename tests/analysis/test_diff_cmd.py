"""``kubeproxy-sim diff``: rules, endpoints, shares and the fate of open connections between two states."""

from __future__ import annotations

import json
from pathlib import Path

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer

ROOT = Path(__file__).resolve().parents[2]
AFFINITY = ROOT / "rulesets" / "session-affinity" / "objects.yaml"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _edited(tmp_path: Path, old: str, new: str, protocol: str = "TCP") -> Path:
    path = tmp_path / "after.yaml"
    path.write_text(AFFINITY.read_text().replace(old, new).replace("protocol: TCP", f"protocol: {protocol}"))
    return path


def test_replaced_endpoint_tcp(capsys, tmp_path) -> None:
    after = _edited(tmp_path, "10.244.2.10", "10.244.2.11")
    code, out, _ = run(capsys, "diff", "--scenario", "session-affinity", "--against", str(after), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["node"] == "node1" and doc["other_rules"] == {"added": [], "removed": []}
    (port,) = doc["services"]
    assert port["status"] == "changed"
    assert port["endpoints"] == {"gained": ["10.244.2.11:8080"], "lost": ["10.244.2.10:8080"], "changed": []}
    assert len(port["rules"]["added"]) == 4 and len(port["rules"]["removed"]) == 4
    assert any("--to-destination 10.244.2.11:8080" in r for r in port["rules"]["added"])
    fates = {f["endpoint"]: f["fate"] for f in port["existing_connections"]}
    assert fates == {"10.244.1.10:8080": "kept", "10.244.2.10:8080": "black-holed"}
    view = port["views"][0]
    assert [o["endpoint"] for o in view["before"]] == ["10.244.1.10:8080", "10.244.2.10:8080"]
    assert [(o["endpoint"], o["probability_exact"]) for o in view["after"]] == [
        ("10.244.1.10:8080", "1/2"), ("10.244.2.11:8080", "1/2")]


def test_udp_entries_are_cleared_when_serving_endpoints_remain(capsys, tmp_path) -> None:
    before = tmp_path / "before.yaml"
    before.write_text(AFFINITY.read_text().replace("protocol: TCP", "protocol: UDP"))
    after = _edited(tmp_path, "ready: true\n  nodeName: node2", "ready: false\n    serving: false\n  nodeName: node2",
                    "UDP")
    code, out, _ = run(capsys, "diff", "-f", str(before), "--hostname-override", "node1", "--cluster-cidr",
                       "10.244.0.0/16", "--against", str(after), "-o", "json")
    assert code == 0
    (port,) = json.loads(out)["services"]
    assert port["endpoints"]["changed"] == [{"endpoint": "10.244.2.10:8080", "before": "ready",
                                             "after": "not-ready"}]
    fates = {f["endpoint"]: f["fate"] for f in port["existing_connections"]}
    assert fates == {"10.244.1.10:8080": "kept", "10.244.2.10:8080": "reset"}


def test_no_endpoints_left_rejects_new_connections(capsys, tmp_path) -> None:
    text = AFFINITY.read_text()
    after = tmp_path / "after.yaml"
    after.write_text(text.split("apiVersion: discovery.k8s.io/v1")[0].rstrip().rstrip("-"))
    code, out, _ = run(capsys, "diff", "--scenario", "session-affinity", "--against", str(after))
    assert code == 0
    assert "black-holed" in out and "REJECT (1)" in out and "the service has no usable endpoint" in out
    assert "->   0.0000%" in out and "#" in out  # a bar: ASCII, as a pipe gets it


def test_unchanged_states_report_nothing(capsys) -> None:
    code, out, _ = run(capsys, "diff", "--scenario", "bootcamp", "--against-scenario", "bootcamp")
    assert code == 0 and "no service port changes" in out
    code, out, _ = run(capsys, "diff", "--scenario", "bootcamp", "--against-scenario", "bootcamp", "--all", "-o",
                       "json")
    assert [p["status"] for p in json.loads(out)["services"]] == ["unchanged"]


def test_missing_after_state_is_an_error(capsys) -> None:
    code, out, err = run(capsys, "diff", "--scenario", "bootcamp")
    assert code == 2 and out == "" and "--against: " in err  # a usage error


def test_an_unknown_against_scenario_is_named_as_typed(capsys, tmp_path) -> None:
    """QA-dumps #2: the error named --scenario (scenario_dir's own flag) though the user typed --against-scenario."""
    code, _, err = run(capsys, "diff", "--scenario", "bootcamp", "--against-scenario", "nosuch")
    assert code == 1 and err.startswith("kubeproxy-sim: --against-scenario: no scenario 'nosuch'; expected a built-in ")
    (tmp_path / "objects.yaml").write_text("")
    code, _, err = run(capsys, "diff", "--scenario", "bootcamp", "--against-scenario", str(tmp_path))
    assert code == 2 and without_pointer(err, "diff") == (
        f"kubeproxy-sim: {tmp_path / 'scenario.yaml'}: --against-scenario: cannot read it: "
        "No such file or directory; expected a YAML mapping with description and args\n")


def test_the_cluster_is_scanned_once_per_state_not_once_per_service(capsys, monkeypatch) -> None:
    """Every service port's endpoint rows come from one endpoints map per state (diff was quadratic)."""
    from kubeproxy_sim.analysis import exact

    calls = []
    real = exact.endpoints_map

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(exact, "endpoints_map", counting)
    code, out, _ = run(capsys, "diff", "--scenario", "upstream-overall-iptables-rules", "--against-scenario",
                       "upstream-overall-iptables-rules", "--all", "-o", "json")
    ports = json.loads(out)["services"]
    assert code == 0 and len(ports) > 5 and {p["status"] for p in ports} == {"unchanged"}
    assert len(calls) == 2  # before and after


def _fates_between(capsys, tmp_path: Path, before: list[dict], after: list[dict], service: str) -> dict[str, str]:
    import yaml

    paths = []
    for name, docs in (("before.yaml", before), ("after.yaml", after)):
        paths.append(tmp_path / name)
        paths[-1].write_text(yaml.safe_dump_all(docs))
    code, out, _ = run(capsys, "diff", "-f", str(paths[0]), "--against", str(paths[1]), "--cluster-cidr",
                       "10.244.0.0/16", "--to", service, "-o", "json")
    assert code == 0
    (port,) = json.loads(out)["services"]
    return {f["endpoint"]: f["fate"] for f in port["existing_connections"]}


def test_an_endpoint_whose_pod_still_runs_keeps_its_connections(capsys, tmp_path) -> None:
    """web-2 leaves the slices (a changed label, say) but its Pod still runs: conntrack keeps the flows on it."""
    from tests.simulator.builders import objects

    fates = _fates_between(capsys, tmp_path, objects(), objects(web_pods=("web-1", "web-3")), "default/web")
    assert set(fates.values()) == {"kept"} and len(fates) == 3
    udp = _fates_between(capsys, tmp_path, objects(), objects(dns_pods=()), "default/dns")
    assert set(udp.values()) == {"kept"}  # no serving endpoint left: nothing cleared, and the pods still answer


def test_a_udp_target_port_change_keeps_the_entries(capsys, tmp_path) -> None:
    """Upstream's cleanup compares the reply source's IP with the serving endpoints' IPs: they all still serve."""
    import copy

    from tests.simulator.builders import objects

    after = copy.deepcopy(objects())  # the builders share their port lists
    for doc in after:
        if doc["metadata"]["name"].startswith("dns"):
            for port in doc.get("spec", doc).get("ports", []):
                port.update({k: 5454 for k in ("targetPort", "port") if port.get(k) == 5353})
    fates = _fates_between(capsys, tmp_path, objects(), after, "default/dns")
    assert fates and set(fates.values()) == {"kept"}


DATA = Path(__file__).with_name("data")


def test_deleting_an_app_with_its_pods_black_holes_its_open_connections(capsys) -> None:
    """The Service, its slice and its Pods all gone: nothing answers the flows conntrack keeps (as for a lost
    endpoint whose pod is gone), where a Service deleted with its pods still running keeps them."""
    code, out, _ = run(capsys, "diff", "-f", str(DATA / "gone_before.yaml"), "--against",
                       str(DATA / "gone_after.yaml"), "-o", "json")
    assert code == 0
    (port,) = json.loads(out)["services"]
    assert {f["fate"] for f in port["existing_connections"]} == {"black-holed"}


def _removed_port_fates(capsys, tmp_path: Path, before: list[str], after: list[str]) -> dict[str, tuple[str, str]]:
    paths = [tmp_path / "before.yaml", tmp_path / "after.yaml"]
    for path, docs in zip(paths, (before, after), strict=True):
        path.write_text("---\n".join(docs))
    code, out, _ = run(capsys, "diff", "-f", str(paths[0]), "--against", str(paths[1]), "-o", "json")
    assert code == 0
    (port,) = json.loads(out)["services"]
    assert port["status"] == "removed"
    return {f["endpoint"]: (f["fate"], f["reason"]) for f in port["existing_connections"]}


def test_a_removed_ports_fate_says_only_what_the_objects_given_say(capsys, tmp_path) -> None:
    """No Pod objects given: an endpoint a slice still lists keeps its flows (something is at the address), and
    one no slice lists is black-holed without claiming a pod is gone; with Pods given, a gone pod is named."""
    node, pod1, pod2, service, eps = (DATA / "gone_before.yaml").read_text().split("---\n")
    fates = _removed_port_fates(capsys, tmp_path, [node, service, eps], [node, eps])
    assert {e: f for e, (f, _) in fates.items()} == {"10.244.1.10:8080": "kept", "10.244.1.11:8080": "kept"}
    assert all("an EndpointSlice still lists" in r and "pod" not in r for _, r in fates.values())
    fates = _removed_port_fates(capsys, tmp_path, [node, service, eps], [node])
    assert {f for f, _ in fates.values()} == {"black-holed"}
    assert all(r.startswith("the service port is gone and no EndpointSlice lists its address any more; ")
               and "pod" not in r for _, r in fates.values())
    fates = _removed_port_fates(capsys, tmp_path, [node, pod1, pod2, service, eps], [node, pod1])
    assert fates["10.244.1.10:8080"][0] == "kept" and "which still runs" in fates["10.244.1.10:8080"][1]
    assert fates["10.244.1.11:8080"][0] == "black-holed"
    assert fates["10.244.1.11:8080"][1].startswith("the service port and its pod are gone; ")


def test_a_local_endpoint_ready_and_terminating_passes_the_health_check(capsys) -> None:
    """Upstream's health check counts local endpoints by the ready condition alone (publishNotReadyAddresses
    keeps terminating pods ready): the balancer sends to that node, in dist as in send and healthz."""
    code, out, _ = run(capsys, "dist", "-f", str(DATA / "lb_local_terminating.yaml"), "--to", "198.51.100.10:80",
                       "-o", "json")
    assert code == 0
    (svc,) = json.loads(out)["services"]
    (view,) = [v for v in svc["views"] if v["kind"] == "loadBalancer"]
    assert sorted((e["node"], e["weight_exact"]) for e in view["entries"]) == [("n1", "1/2"), ("n2", "1/2")]


def test_to_leaves_the_other_services_rules_out_not_under_other_rules(capsys, tmp_path) -> None:
    """--to shows one service; the rules of the other changed services are theirs, not "other rules" (QA-docs 1)."""
    def service(name: str, ip: str, port: int) -> str:
        return (f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\n"
                f"spec: {{clusterIP: {ip}, ports: [{{port: {port}}}]}}\n")

    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(service("a", "10.96.0.10", 80) + "---\n" + service("b", "10.96.0.11", 80))
    after.write_text(service("a", "10.96.0.10", 81))
    code, out, _ = run(capsys, "diff", "-f", str(before), "--against", str(after), "--to", "default/a", "-o", "json")
    doc = json.loads(out)
    assert code == 0 and [p["name"] for p in doc["services"]] == ["default/a"]
    assert doc["other_rules"] == {"added": [], "removed": []}
    code, out, _ = run(capsys, "diff", "-f", str(before), "--against", str(after), "--to", "default/a")
    assert code == 0 and "default/b" not in out and "other rules" not in out
    code, out, _ = run(capsys, "diff", "-f", str(before), "--against", str(after), "-o", "json")
    doc = json.loads(out)
    assert doc["other_rules"] == {"added": [], "removed": []}
    removed = {p["name"]: p["rules"]["removed"] for p in doc["services"]}
    assert any("default/b has no endpoints" in r for r in removed["default/b"])


def test_a_udp_black_hole_lasts_while_the_client_keeps_sending(capsys, tmp_path) -> None:
    """Every datagram refreshes a stale UDP entry (nf_conntrack_udp_packet): the reason says the client is held for
    as long as it keeps sending at least every 30 s (120 s once assured), not merely until the entry times out."""
    import yaml

    from tests.simulator.builders import WEB, objects

    after = [d for d in objects(dns_pods=()) if not (d["kind"] == "Pod" and d["metadata"]["name"] in WEB)]
    paths = []
    for name, docs in (("before.yaml", objects()), ("after.yaml", after)):
        paths.append(tmp_path / name)
        paths[-1].write_text(yaml.safe_dump_all(docs))
    code, out, _ = run(capsys, "diff", "-f", str(paths[0]), "--against", str(paths[1]), "--cluster-cidr",
                       "10.244.0.0/16", "--to", "default/dns", "-o", "json")
    assert code == 0
    (port,) = json.loads(out)["services"]
    reasons = {f["fate"]: f["reason"] for f in port["existing_connections"]}
    assert set(reasons) == {"black-holed"}
    assert "every datagram refreshes the entry" in reasons["black-holed"]
    assert "keeps sending at least that often is black-holed indefinitely" in reasons["black-holed"]
    assert "until it times out" not in reasons["black-holed"]
