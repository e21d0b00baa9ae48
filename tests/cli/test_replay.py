"""``kubeproxy-sim replay`` end to end, on the small states in tests/cli/replay_states/.

The states replay the start of upstream's TestSyncProxyRulesRepeated (add svc3,
then delete svc2's Service) with upstream's fake node flags, so the partial
syncs' chains and deletions are upstream's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import EXIT_INVALID_INPUT, main
from kubeproxy_sim.cli.replay_cmd import duration

STATES = Path(__file__).resolve().parent / "replay_states"
NODE_FLAGS = ["--hostname-override", "test-node", "--node-ip", "192.168.0.2/24", "--cluster-cidr", "10.0.0.0/8",
              "--random-fully=false"]


@pytest.fixture(autouse=True)
def replay_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run through the real ``main`` (its error handling included), with replay registered if it is not yet."""
    from kubeproxy_sim.cli import main as main_module

    if "kubeproxy_sim.cli.replay_cmd" not in main_module.COMMAND_MODULES:
        monkeypatch.setattr(main_module, "COMMAND_MODULES",
                            (*main_module.COMMAND_MODULES, "kubeproxy_sim.cli.replay_cmd"))


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["replay", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def syncs(out: str) -> list[tuple[str, str]]:
    """[(header, restore text)] from the command's output."""
    parts = re.split(r"^(# sync \d+ (?:full|partial))\n", out, flags=re.MULTILINE)
    assert parts[0] == ""
    return list(zip(parts[1::2], parts[2::2], strict=True))


def nat_chains(text: str) -> list[str]:
    nat = text.split("*nat\n", 1)[1]
    return [line[1:].split()[0] for line in nat.splitlines() if line.startswith(":")]


def test_full_then_partial_syncs(capsys):
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(STATES / "step2"),
                              str(STATES / "step3.yaml"), str(STATES / "step3.yaml"), *NODE_FLAGS)
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial", "# sync 4 partial"]
    top = ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]
    assert nat_chains(result[0][1]) == [*top[:2], "KUBE-MARK-MASQ", "KUBE-POSTROUTING", "KUBE-SEP-SNQ3ZNILQDEJNDQO",
                                        "KUBE-SEP-UHEGFW77JX3KXTOV", "KUBE-SVC-2VJB64SDSIJUP5T6",
                                        "KUBE-SVC-XPGD46QRK7WJZT7O"]
    # svc3 added: only its chains are written, KUBE-SERVICES has all three services.
    assert nat_chains(result[1][1]) == [*top, "KUBE-SEP-BSWRHOQ77KEXZLNL", "KUBE-SVC-X27LE4BHSL4DOUIK"]
    assert result[1][1].count("-A KUBE-SERVICES ") == 4
    # svc2's Service deleted: its chains are declared and deleted, its slice does not matter.
    assert nat_chains(result[2][1]) == [*top, "KUBE-SEP-UHEGFW77JX3KXTOV", "KUBE-SVC-2VJB64SDSIJUP5T6"]
    assert result[2][1].endswith("-X KUBE-SEP-UHEGFW77JX3KXTOV\n-X KUBE-SVC-2VJB64SDSIJUP5T6\nCOMMIT\n")
    assert "ns2/svc2" not in result[2][1]
    # Nothing changed: no service chain at all, no deletion.
    assert nat_chains(result[3][1]) == top and "\n-X " not in result[3][1]


def test_first_sync_is_what_rules_prints(capsys):
    status, out, _ = replay(capsys, str(STATES / "step1.yaml"), *NODE_FLAGS)
    assert status == 0
    assert main(["rules", "-f", str(STATES / "step1.yaml"), *NODE_FLAGS]) == 0
    assert out == "# sync 1 full\n" + capsys.readouterr().out


def test_metrics_and_a_long_interval(capsys):
    status, out, _ = replay(capsys, str(STATES / "step1.yaml"), str(STATES / "step2"), "--metrics",
                            "--interval", "2h", *NODE_FLAGS)
    assert status == 0
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 full"]  # over an hour apart: a full resync
    assert '# kubeproxy_sync_proxy_rules_iptables_last{ip_family="IPv4",table="nat"} 15\n' in result[0][1]
    assert '# kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv4",table="nat"} 20\n' in result[1][1]
    # no restore was refused: kube-proxy has no series for its failure counters until one counts
    assert "restore_failures_total" not in result[0][1] + result[1][1]
    assert result[1][1].endswith('# kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} 7200\n'
                                 '# kubeproxy_sync_proxy_rules_no_local_endpoints_total'
                                 '{ip_family="IPv4",traffic_policy="external"} 0\n'
                                 '# kubeproxy_sync_proxy_rules_no_local_endpoints_total'
                                 '{ip_family="IPv4",traffic_policy="internal"} 0\n')  # client_golang's order


def test_bad_object_is_reported_and_the_rest_synced(capsys):
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(STATES / "bad-step.yaml"), *NODE_FLAGS)
    assert status == 1
    assert "bad-step.yaml" in err and "ns9/broken" in err and "Traceback" not in err
    header, text = syncs(out)[1]
    assert header == "# sync 2 partial"
    assert "-X KUBE-SVC-2VJB64SDSIJUP5T6" in text and "ns1/svc1:p80 cluster IP" in text


def test_missing_state_is_refused_before_any_sync(capsys):
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(STATES / "nope.yaml"), *NODE_FLAGS)
    assert status == EXIT_INVALID_INPUT
    assert out == ""
    assert err == (f"kubeproxy-sim: {STATES / 'nope.yaml'}: STATE: cannot read it: No such file or directory; "
                   "expected a YAML or JSON manifest file, a directory of them, or - for standard input\n")


def test_a_state_that_cannot_be_read_is_named_by_its_flag(capsys, tmp_path):
    """A state read by the loader (not UTF-8 here) is said to be named by STATE, not -f, as a missing one is."""
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\n")
    status, _, err = replay(capsys, str(STATES / "step1.yaml"), str(bad), *NODE_FLAGS)
    assert status == EXIT_INVALID_INPUT
    assert (f"kubeproxy-sim: {bad}: STATE: cannot read it: not UTF-8 text (invalid start byte at byte 0); expected "
            "a YAML or JSON manifest file, a directory of them, or - for standard input\n") in err


@pytest.mark.parametrize(("text", "seconds"), [("30", 30.0), ("30s", 30.0), ("1m", 60.0), ("500ms", 0.5),
                                               ("2h", 7200.0)])
def test_durations(text, seconds):
    assert duration(text) == seconds


def test_a_sync_period_kube_proxy_refuses_stops_the_replay(capsys):
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), "--iptables-sync-period", "0", *NODE_FLAGS)
    assert (status, out) == (1, "") and "--iptables-sync-period: 0s: must be greater than 0" in err


ZONED_OBJECTS = """apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: 172.30.0.41
  trafficDistribution: PreferClose
  ports: [{name: p80, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc1-1, namespace: ns1, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
ports: [{name: p80, port: 80, protocol: TCP}]
endpoints:
- {addresses: [10.0.1.1], conditions: {ready: true}, zone: a, hints: {forZones: [{name: a}]}}
- {addresses: [10.0.1.2], conditions: {ready: true}, zone: b, hints: {forZones: [{name: b}]}}
"""
ZONED_NODE = """---
apiVersion: v1
kind: Node
metadata: {name: test-node, labels: {topology.kubernetes.io/zone: a}}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
"""


def test_a_deleted_node_keeps_its_zone(capsys, tmp_path):
    """kube-proxy ignores a Node's deletion (kubernetes 531be81208e2: NodeTopologyConfig's DeleteFunc does
    nothing, and the proxier's only node handler is OnTopologyChange): the zone it had stays, and with it the
    zone hints' choice of endpoints; the sync after the deletion has nothing to rewrite."""
    (tmp_path / "with-node.yaml").write_text(ZONED_OBJECTS + ZONED_NODE)
    (tmp_path / "without.yaml").write_text(ZONED_OBJECTS)
    status, out, err = replay(capsys, str(tmp_path / "with-node.yaml"), str(tmp_path / "without.yaml"),
                              str(tmp_path / "without.yaml"), "--hostname-override", "test-node",
                              "--cluster-cidr", "10.0.0.0/8")
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial"]
    assert "10.0.1.1:80" in result[0][1] and "10.0.1.2:80" not in result[0][1]  # zone a's endpoint only
    # the zone did not change: the service's chains are left alone, and no endpoint of zone b comes in
    assert ":KUBE-SVC-" not in result[1][1] and ":KUBE-SEP-" not in result[1][1] and "10.0.1.2" not in result[1][1]
    assert err.splitlines() == ["kubeproxy-sim: note: no Node object named 'test-node' any more; kube-proxy ignores "
                                "a Node's deletion, so the node keeps its zone 'a' and the addresses it started "
                                "with"]
    # never having had the Node is another matter: no zone, every endpoint
    status, out, err = replay(capsys, str(tmp_path / "without.yaml"), "--hostname-override", "test-node",
                              "--cluster-cidr", "10.0.0.0/8", "--node-ip", "192.168.0.2")
    assert status == 0 and "10.0.1.2:80" in syncs(out)[0][1]


def _kube_proxy_config(tmp_path, iptables: str):
    path = tmp_path / "kube-proxy.yaml"
    path.write_text("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                    f"iptables: {iptables}\n")
    return str(path)


def test_the_config_file_s_sync_periods_are_used_and_flags_override_them(tmp_path, capsys):
    """Precedence as kube-proxy's: defaults (1s, 30s) < --config's iptables.minSyncPeriod/syncPeriod < flags. A
    minimum sync period of 2h stretches the 1s interval, so the second sync is over an hour later: full."""
    from kubeproxy_sim.cli.main import build_parser
    from kubeproxy_sim.cli.options import sync_periods

    config = _kube_proxy_config(tmp_path, "{syncPeriod: 3h, minSyncPeriod: 2h}")
    states = [str(STATES / "step1.yaml"), str(STATES / "step2")]

    def periods(*flags: str) -> tuple[float, float]:
        return sync_periods(build_parser().parse_args(["replay", *states, *flags]), "--iptables-min-sync-period",
                            "--iptables-sync-period")

    assert periods() == (1.0, 30.0)
    assert periods("--config", config) == (7200.0, 10800.0)
    assert periods("--config", config, "--iptables-sync-period", "4h", "--iptables-min-sync-period", "0s") == (
        0.0, 14400.0)
    status, out, _ = replay(capsys, *states, "--config", config, *NODE_FLAGS)
    assert status == 0 and [h for h, _ in syncs(out)] == ["# sync 1 full", "# sync 2 full"]
    status, out, _ = replay(capsys, *states, "--config", config, "--iptables-min-sync-period", "1s", *NODE_FLAGS)
    assert status == 0 and [h for h, _ in syncs(out)] == ["# sync 1 full", "# sync 2 partial"]
    assert periods("--config", config, "--sync-period", "4h", "--min-sync-period", "0s") == (0.0, 14400.0)
    status, out, _ = replay(capsys, *states, "--config", config, "--min-sync-period", "1s", *NODE_FLAGS)
    assert status == 0 and [h for h, _ in syncs(out)] == ["# sync 1 full", "# sync 2 partial"]


def test_replay_and_watch_take_the_same_sync_period_spellings():
    from kubeproxy_sim.cli.main import build_parser

    parser = build_parser()
    for flags in (["--sync-period", "1m", "--min-sync-period", "2s"],
                  ["--iptables-sync-period", "1m", "--iptables-min-sync-period", "2s"]):
        for argv in (["replay", "s1", *flags], ["watch", "-f", "d", *flags]):
            args = parser.parse_args(argv)
            assert (args.sync_period, args.min_sync_period) == (60.0, 2.0), argv


def test_bad_sync_periods_in_the_config_file_name_the_file_and_field(tmp_path, capsys):
    config = _kube_proxy_config(tmp_path, "{syncPeriod: 5, minSyncPeriod: forever}")
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), "--config", config, *NODE_FLAGS)
    assert (status, out) == (1, "")
    assert f"{config}: iptables.minSyncPeriod: 'forever' is not a duration; expected e.g. 1s, 30s or 1m30s" in err
    assert f"{config}: iptables.syncPeriod: expected a duration such as 30s, got an integer 5" in err
    config = _kube_proxy_config(tmp_path, "{syncPeriod: 10s, minSyncPeriod: 20s}")
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), "--config", config, *NODE_FLAGS)
    assert (status, out) == (1, "") and "10s is shorter than the minimum sync period (20s)" in err


LOCAL_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: s, namespace: ns1}
spec: {type: ClusterIP, internalTrafficPolicy: Local, clusterIP: 172.30.0.41,
       ports: [{name: p80, port: 80, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-1, namespace: ns1, labels: {kubernetes.io/service-name: s}}
addressType: IPv4
endpoints:
- {addresses: [10.0.1.1], nodeName: n2}
- {addresses: [10.0.2.1], nodeName: a1}
ports: [{name: p80, port: 80, protocol: TCP}]
"""


def named_node(name: str, ip: str) -> str:
    return f"---\napiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\nstatus: {{addresses: [{{type: InternalIP, " \
           f"address: {ip}}}]}}\n"


def test_the_default_node_is_picked_at_the_first_state_and_kept(capsys, tmp_path):
    """kube-proxy fixes its node name at start: with no --hostname-override, the first Node by name of the first
    state is the node for the whole replay; a Node that sorts before it later gets a note, and moves nothing."""
    (tmp_path / "s1.yaml").write_text(LOCAL_SERVICE + named_node("n2", "192.168.0.2"))
    (tmp_path / "s2.yaml").write_text(LOCAL_SERVICE + named_node("n2", "192.168.0.2") + named_node("a1", "192.168.0.9"))
    status, out, err = replay(capsys, str(tmp_path / "s1.yaml"), str(tmp_path / "s2.yaml"), str(tmp_path / "s2.yaml"),
                              "--cluster-cidr", "10.0.0.0/8")
    assert status == 0, err
    result = syncs(out)
    assert [h for h, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial"]
    assert "--to-destination 10.0.1.1:80" in result[0][1]  # n2's endpoint, internalTrafficPolicy Local
    for _, text in result[1:]:  # nothing to rewrite: still n2
        assert "10.0.2.1" not in text and "-X KUBE-SEP" not in text and ":KUBE-SVL-" not in text
    assert err.splitlines() == ["kubeproxy-sim: note: Node 'a1' now sorts first, but the node stays 'n2', picked at "
                                "the first sync (kube-proxy fixes its node name at start; --hostname-override "
                                "names one)"]


def test_with_no_node_object_yet_the_node_is_picked_once_one_comes(capsys, tmp_path):
    """R-core 3: with no --hostname-override and no Node object in the first state, the node `rules` would pick
    (the first node the endpoints name, a1; node1 when they name none) only stands in: the first Node object that
    comes (n2) is picked, its address used, and no warning blames an ungiven --hostname-override; then it is kept
    as before (a1, sorting first later, gets the note)."""
    (tmp_path / "s1.yaml").write_text(LOCAL_SERVICE)
    (tmp_path / "s2.yaml").write_text(LOCAL_SERVICE + named_node("n2", "192.168.0.2"))
    (tmp_path / "s3.yaml").write_text(LOCAL_SERVICE + named_node("n2", "192.168.0.2") + named_node("a1", "192.168.0.9"))
    status, out, err = replay(capsys, *(str(tmp_path / f"s{n}.yaml") for n in (1, 2, 1, 3)),
                              "--cluster-cidr", "10.0.0.0/8")
    assert status == 0, err
    result = syncs(out)
    assert "10.0.1.1" not in result[0][1] and "--to-destination 10.0.2.1:80" in result[0][1]  # a1's endpoint
    assert "--to-destination 10.0.1.1:80" in result[1][1]  # n2's endpoint: n2 picked at its first state
    assert not any("10.0.2.1" in text for _, text in result[1:])  # n2 kept after a state without it, and a1 came
    assert err.splitlines() == [  # no "warning: no Node object named 'node1'" (--hostname-override was not given)
        "kubeproxy-sim: note: no Node object named 'n2' any more; kube-proxy ignores a Node's deletion, so the node "
        "keeps no zone, as before and the addresses it started with",
        "kubeproxy-sim: note: Node 'a1' now sorts first, but the node stays 'n2', picked at the first sync with a "
        "Node object (kube-proxy fixes its node name at start; --hostname-override names one)"]


def test_a_slice_edit_the_model_drops_rewrites_its_service(capsys, tmp_path):
    """kube-proxy's slice cache compares whole slices: a state whose only change is an annotation on svc1's slice
    rewrites svc1's chains; the same objects again rewrite none."""
    before = (STATES / "step1.yaml").read_text()
    assert "name: svc1-1" in before  # (the edit below lands on svc1's slice)
    (tmp_path / "annotated.yaml").write_text(before.replace(
        "  name: svc1-1\n", "  name: svc1-1\n  annotations: {foo: bar}\n", 1))
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(tmp_path / "annotated.yaml"),
                              str(tmp_path / "annotated.yaml"), *NODE_FLAGS)
    assert status == 0, err
    result = syncs(out)
    assert nat_chains(result[1][1]) == ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING",
                                        "KUBE-SEP-SNQ3ZNILQDEJNDQO", "KUBE-SVC-XPGD46QRK7WJZT7O"]
    assert nat_chains(result[2][1]) == ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]


DUMP = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-NODEPORTS\nCOMMIT\n"


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize(("name", "text", "message"), [
    ("node.rules", DUMP, "this is an iptables-save dump"),
    ("broken.yaml", "foo: [\n", "syntax error"),
])
def test_a_state_with_nothing_readable_stops_the_replay(capsys, tmp_path, output, name, text, message):
    """Every document of the state refused (an iptables-save dump, a syntax error): it stops with exit 1 after
    the message, as a missing state is refused, instead of syncing it as a state without objects (an empty full
    sync; a partial one deleting every service's chains)."""
    bad = tmp_path / name
    bad.write_text(text)
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(bad), str(STATES / "step3.yaml"),
                              *NODE_FLAGS, "-o", output)
    assert status == 1
    assert message in err and "Traceback" not in err
    assert f"{bad}: nothing in this state could be read, so the replay stops before sync 2" in err
    assert err.index(message) < err.index("nothing in this state")
    if output == "text":
        assert [h for h, _ in syncs(out)] == ["# sync 1 full"]
    else:
        import json

        assert [s["sync"] for s in json.loads(out)["syncs"]] == [1]
    status, out, err = replay(capsys, str(bad), *NODE_FLAGS)  # the first state: no empty full sync either
    assert (status, out) == (1, "") and "stops before sync 1" in err


def test_an_empty_state_is_still_a_state_without_objects(capsys, tmp_path):
    """Nothing refused (an empty file only warns): synced as no objects, as before."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(empty), *NODE_FLAGS)
    assert status == 0, err
    header, text = syncs(out)[1]
    assert header == "# sync 2 partial" and "-X KUBE-SVC-2VJB64SDSIJUP5T6" in text
    assert "nothing in this state" not in err


@pytest.mark.parametrize(("flags", "message"), [
    (["--interval", "-1s"], "--interval: -1s is negative; expected a duration of 0 or more (e.g. 30s)"),
    (["--interval", "-0.5"], "--interval: -0.5s is negative"),
    (["--iptables-min-sync-period", "-1m30s"], "--iptables-min-sync-period: -90s: must be greater than or equal to 0"),
    (["--sync-period", "-1s"], "--sync-period: -1s: must be greater than 0"),
])
def test_a_negative_duration_is_refused_by_the_flag_s_own_check(capsys, flags: list[str], message: str) -> None:
    """Not argparse's "expected one argument", which read -1s as an unknown option; and a well-formed value out of
    range, exit 1 (as --sync-period 0 is), not a usage error: kube-proxy's flag takes -1s, its validation refuses it."""
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), *flags)
    assert (status, out) == (EXIT_INVALID_INPUT, "") and message in err, err


@pytest.mark.parametrize(("flag", "shown"), [("--sync-period", "--sync-period"),
                                             ("--iptables-sync-period", "--iptables-sync-period")])
def test_a_refused_sync_period_is_named_as_typed(capsys, flag: str, shown: str) -> None:
    """Both spellings share one value: the message names the one given, not the other."""
    status, _, err = replay(capsys, str(STATES / "step1.yaml"), flag, "0", *NODE_FLAGS)
    assert status == EXIT_INVALID_INPUT and f"kubeproxy-sim: {shown}: 0s: must be greater than 0" in err
    other = "--iptables-sync-period" if flag == "--sync-period" else "--sync-period:"
    assert other not in err


def test_a_long_value_that_is_no_duration_is_cut(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(STATES / "step1.yaml"), "--interval", "9" * 400])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "9" * 201 not in err
    assert f"argument --interval: '{'9' * 200}'... (400 characters) is not a duration" in err


def test_minus_zero_is_zero() -> None:
    assert str(duration("-0")) == "0.0" and duration("-1m") == -60.0


def _refused_state(tmp_path: Path) -> Path:
    """step1 with svc1's Service and its slice in forms the API server refuses (a port out of range; the slice
    annotated too, where the model does not look) and svc2's endpoint moved: a state of every object."""
    text = (STATES / "step1.yaml").read_text()
    assert text.count("    port: 80\n") == 1 and "- 10.0.2.1\n" in text
    text = text.replace("    port: 80\n", "    port: 99999\n", 1)  # the Service's port
    text = text.replace("  port: 80\n", "  port: 99999\n", 1)  # the slice's port
    text = text.replace("  name: svc1-1\n", "  name: svc1-1\n  annotations: {foo: bar}\n", 1)
    state = tmp_path / "refused.yaml"
    state.write_text(text.replace("- 10.0.2.1\n", "- 10.0.2.9\n"))
    return state


def test_an_object_the_api_server_would_refuse_keeps_its_previous_version(capsys, tmp_path):
    """A STATE's invalid version of an object it had is a write the API server refuses: the object keeps the
    version before, with a note, as the directory watch keeps it (not deleted, its chains not rewritten), and the
    others sync; the same version again later is no change."""
    refused = _refused_state(tmp_path)
    status, out, err = replay(capsys, str(STATES / "step1.yaml"), str(refused), str(STATES / "step1.yaml"),
                              *NODE_FLAGS)
    assert status == 1 and "Traceback" not in err
    assert f"{refused}: Service ns1/svc1: spec.ports[0].port: 99999 is not in" in err
    for kind, name in (("Service", "ns1/svc1"), ("EndpointSlice", "ns1/svc1-1")):
        assert f"{refused}: {kind} {name}: note: this object is invalid; keeping its previous version\n" in err
    result = syncs(out)
    top = ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]
    # only svc2 (a new endpoint) is written; svc1 keeps its rules, its chains untouched
    assert nat_chains(result[1][1]) == [*top, "KUBE-SEP-CDPDKNWQTBR6WNJQ", "KUBE-SEP-UHEGFW77JX3KXTOV",
                                        "KUBE-SVC-2VJB64SDSIJUP5T6"]
    assert '"ns1/svc1:p80 cluster IP"' in result[1][1] and "-X KUBE-SEP-UHEGFW77JX3KXTOV" in result[1][1]
    # back to step1: svc2 again, svc1 (the same as the version kept) not
    assert nat_chains(result[2][1]) == [*top, "KUBE-SEP-CDPDKNWQTBR6WNJQ", "KUBE-SEP-UHEGFW77JX3KXTOV",
                                        "KUBE-SVC-2VJB64SDSIJUP5T6"]


def test_replay_and_the_directory_watch_agree_on_a_refused_version(capsys, tmp_path):
    """The same states as files of a watched directory give the same restore inputs, sync by sync."""
    from kubeproxy_sim.cli.options import config_from_args
    from kubeproxy_sim.netfilter.codec import render_ruleset
    from kubeproxy_sim.objects import load_paths
    from kubeproxy_sim.watch import DirectorySource
    from kubeproxy_sim.watch.sync_loop import SyncLoop

    states = [STATES / "step1.yaml", _refused_state(tmp_path), STATES / "step1.yaml"]
    status, out, _ = replay(capsys, *map(str, states), *NODE_FLAGS)
    assert status == 1
    watched = tmp_path / "watched"
    watched.mkdir()
    now = [0.0]
    source = DirectorySource(str(watched), clock=lambda: now[0], debounce=0.0)
    loop = SyncLoop(config_from_args(NODE_FLAGS, load_paths([str(states[0])]).cluster), clock=lambda: now[0])
    restores = []
    for state in states:
        (watched / "objects.yaml").write_text(state.read_text())
        now[0] += 2.0
        loop.feed(source.poll())
        report = loop.sync_now()
        restores.append(render_ruleset(report.restore))
    assert [text for _, text in syncs(out)] == restores


def test_a_state_of_only_refused_objects_with_previous_versions_goes_on(capsys, tmp_path):
    """Every object of the state refused, but each had a valid version before: those are kept, so the state is
    no empty one and the replay goes on (as the directory watch does), where it used to stop with exit 1."""
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns1}\nspec:\n  type: ClusterIP\n"
               "  clusterIP: 172.30.0.41\n  ports: [{name: p80, port: PORT, protocol: TCP}]\n")
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(service.replace("PORT", "80"))
    bad.write_text(service.replace("PORT", "99999"))
    status, out, err = replay(capsys, str(good), str(bad), str(good), *NODE_FLAGS)
    assert status == 1 and "nothing in this state" not in err and "Traceback" not in err
    assert f"{bad}: Service ns1/svc1: note: this object is invalid; keeping its previous version\n" in err
    result = syncs(out)
    assert [header for header, _ in result] == ["# sync 1 full", "# sync 2 partial", "# sync 3 partial"]
    assert all('"ns1/svc1:p80 cluster IP"' not in text for _, text in result[1:])  # svc1 kept, not rewritten
    assert "-X KUBE" not in result[1][1]


def test_a_refused_endpoints_keeps_its_mirrored_slices(capsys, tmp_path):
    """A v1 Endpoints in a form the API server refuses (an address that is no IP): the slices mirrored from its
    previous version stay, so the service keeps its endpoint (no deletion of its chains, no REJECT)."""
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns1}\nspec:\n"
            "  clusterIP: 172.30.0.41\n  ports: [{name: p80, port: 80, protocol: TCP}]\n---\n"
            "apiVersion: v1\nkind: Endpoints\nmetadata: {name: svc1, namespace: ns1}\n"
            "subsets: [{addresses: [{ip: ADDRESS}], ports: [{name: p80, port: 80, protocol: TCP}]}]\n")
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(text.replace("ADDRESS", "10.0.1.1"))
    bad.write_text(text.replace("ADDRESS", "10.0.1.999"))
    status, out, err = replay(capsys, str(good), str(bad), str(good), *NODE_FLAGS)
    assert status == 1 and "Traceback" not in err
    assert f"{bad}: Endpoints ns1/svc1: note: this object is invalid; keeping its previous version\n" in err
    result = syncs(out)
    assert ":KUBE-SEP-" in result[0][1]
    for _, restore in result[1:]:  # svc1's chains neither rewritten nor deleted, its cluster IP still served
        assert "-X " not in restore and "REJECT" not in restore and ":KUBE-SVC-" not in restore
        assert '"ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-' in restore


def test_a_refused_slice_keeps_its_previous_revision_so_a_later_edit_is_a_change(capsys, tmp_path):
    """A slice annotated x, then refused (its port out of range, annotated y), then valid and annotated y: the
    refused state keeps the x version's revision token, so the third state is a new revision of it, which
    rewrites its service (the token merely dropped at the refused state would make it look unchanged)."""
    text = (STATES / "step1.yaml").read_text()
    assert text.count("  port: 80\n") == 2 and "  name: svc1-1\n" in text

    def annotated(value: str, port: str = "80") -> str:
        edited = text.replace("  name: svc1-1\n", f"  name: svc1-1\n  annotations: {{note: {value}}}\n", 1)
        return edited.replace("\n  port: 80\n", f"\n  port: {port}\n") if port != "80" else edited

    states = []
    for name, content in (("x.yaml", annotated("x")), ("refused.yaml", annotated("y", "99999")),
                          ("y.yaml", annotated("y"))):
        (tmp_path / name).write_text(content)
        states.append(str(tmp_path / name))
    assert "  port: 99999\n" in (tmp_path / "refused.yaml").read_text()
    status, out, err = replay(capsys, *states, *NODE_FLAGS)
    assert status == 1 and "EndpointSlice ns1/svc1-1: note: this object is invalid; keeping its previous version" in err
    result = syncs(out)
    assert ":KUBE-SVC-XPGD46QRK7WJZT7O" not in result[1][1]  # the refused version: svc1 kept as it was
    assert ":KUBE-SVC-XPGD46QRK7WJZT7O" in result[2][1]  # a new revision of its slice: rewritten


def test_a_valid_document_beside_a_refused_one_of_the_same_object_is_used(capsys, tmp_path):
    """A state holding a refused and a valid document of svc1 (the refused one later): the valid one is the
    object, not the previous state's version kept beside it, and nothing says it is kept."""
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns1}\nspec:\n  type: ClusterIP\n"
               "  clusterIP: 172.30.0.41\n  ports: [{name: p80, port: PORT, protocol: TCP}]\n")
    first, both = tmp_path / "first.yaml", tmp_path / "both.yaml"
    first.write_text(service.replace("PORT", "80"))
    both.write_text(service.replace("PORT", "81") + "---\n" + service.replace("PORT", "99999"))
    status, out, err = replay(capsys, str(first), str(both), *NODE_FLAGS)
    assert status == 1 and "spec.ports[0].port: 99999" in err and "keeping its previous version" not in err
    restore = syncs(out)[1][1]
    assert "--dport 81 " in restore and "--dport 80 " not in restore


def test_the_help_says_metrics_include_the_failure_counters(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "rule counts, services without local endpoints, and (once there are any) the restore failure counters" \
        in text
