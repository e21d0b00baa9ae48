"""send, dist, diff, replay, scenario, healthz: -o text|json|yaml, colour, progress, examples, exit codes."""

from __future__ import annotations

import argparse
import json
import random
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli import send_cmd
from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send

REPO = REPO_RULESETS.parent
TERMINATING = "upstream-terminating-endpoints-traffic-policy-cluster-"
SEND = ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--count", "300"]
DATA_COMMANDS = {
    "send": SEND,
    "dist": ["dist", "--scenario", "bootcamp", "--to", "kubernetes-bootcamp.default:8080"],
    "diff": ["diff", "--scenario", TERMINATING + "ready-endpoints-exist", "--against-scenario",
             TERMINATING + "only-terminating-endpoints-exist"],
    "healthz": ["healthz", "--scenario", "upstream-external-traffic-policy-local", "--node", "test-node", "ns1/svc1"],
    "replay": ["replay", str(REPO_RULESETS / "bootcamp" / "objects.yaml"),
               str(REPO_RULESETS / "bootcamp" / "objects.yaml"), "--hostname-override", "node1"],
    "scenario": ["scenario", str(REPO_RULESETS / "bootcamp" / "scenario"), "--show", "diff"],
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _undated(data: dict) -> dict:
    """healthz's answer carries a Date header read from the clock: two runs may fall in different seconds."""
    headers = data.get("headers")
    if isinstance(headers, dict):
        data = {**data, "headers": {k: v for k, v in headers.items() if k != "Date"}}
    return data


def bootcamp_simulator(seed: int) -> Simulator:
    directory = REPO_RULESETS / "bootcamp"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    return Simulator(cluster, config_from_args(scenario_args(directory), cluster), rng=random.Random(seed))


# --------------------------------------------------------------------------- -o json|yaml


@pytest.mark.parametrize("command", sorted(DATA_COMMANDS))
def test_yaml_carries_the_json(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = DATA_COMMANDS[command]
    code, out, err = run([*argv, "-o", "json"], capsys)
    assert code == 0, err
    data = _undated(json.loads(out))
    code, out, _ = run([*argv, "-o", "yaml"], capsys)
    assert code == 0 and _undated(yaml.safe_load(out)) == data
    code, out, _ = run(argv, capsys)
    assert code == 0 and out and "\x1b[" not in out and not out.lstrip().startswith("{")


def test_send_json_contract_is_the_simulators(capsys: pytest.CaptureFixture[str]) -> None:
    """The command's JSON is exactly simulator.send's as_json(): same keys, same draws, same numbers."""
    code, out, _ = run([*SEND, "--seed", "9"], capsys)
    code, out, _ = run([*SEND, "--seed", "9", "-o", "json"], capsys)
    expected = send(bootcamp_simulator(9), "external", "node/node1:31526", count=300, seed=9).as_json()
    assert code == 0 and json.loads(out) == expected
    assert list(json.loads(out)) == ["from", "to", "proto", "connections", "seed", "delivered", "failed", "sticky",
                                     "answered", "ping"]
    delivered = expected["delivered"]
    assert isinstance(delivered, list)
    assert list(delivered[0]) == ["pod", "ip", "node", "count", "share", "expected", "sources_seen",
                                              "pod_object", "why"]


def test_send_counted_ticks_once_per_connection_and_matches_send() -> None:
    ticks = []
    counted = send_cmd.send_counted(bootcamp_simulator(3), "external", "node/node2:31526", count=57, seed=3,
                                    tick=lambda n=1: ticks.append(n))
    assert len(ticks) == 57
    assert counted == send(bootcamp_simulator(3), "external", "node/node2:31526", count=57, seed=3)


def test_dist_json_keeps_its_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*DATA_COMMANDS["dist"], "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and set(data) == {"nodes", "notes", "services"}
    view = data["services"][0]["views"][0]
    assert view["kind"] == "clusterIP" and {"outcomes", "weight_exact", "node"} <= set(view["entries"][0])


def test_replay_json_lists_each_sync(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*DATA_COMMANDS["replay"], "-o", "json"], capsys)
    syncs = json.loads(out)["syncs"]
    assert code == 0 and [s["kind"] for s in syncs] == ["full", "partial"]
    nat = next(t for t in syncs[0]["restore"]["tables"] if t["name"] == "nat")
    assert any(r.startswith("-A KUBE-SVC-2TYZFXBKM236ELT2 ") for c in nat["chains"] for r in c["rules"])
    assert syncs[1]["metrics"]["full"] is False and syncs[1]["error"] is None


def test_scenario_json_has_a_step_per_command(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["scenario", str(REPO_RULESETS / "bootcamp" / "scenario"), "--show", "endpoints", "--seed", "3"]
    code, text, _ = run(argv, capsys)
    code, out, _ = run([*argv, "-o", "json"], capsys)
    steps = json.loads(out)["steps"]
    assert code == 0 and len(steps) == text.count("# step ")
    scaled = steps[4]
    assert scaled["command"] == "rollout status deployments/kubernetes-bootcamp"
    assert [e["state"] for e in scaled["endpoints"]] == ["ready"] * 4
    assert {e["node"] for e in scaled["endpoints"]} == {"node1", "node2"}
    assert "rules" not in scaled and "diff" not in scaled


def test_healthz_json_keeps_its_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*DATA_COMMANDS["healthz"], "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["status"] == 200 and data["body"]["localEndpoints"] == 1


# --------------------------------------------------------------------------- colour and text


def test_send_text_is_a_table_with_bars(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*SEND, "--count", "1000"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "1000 tcp connections from external to node/node1:31526 (seed 1)"
    assert lines[2].split() == ["POD", "IP", "NODE", "COUNT", "SHARE", "EXPECTED", "SOURCE", "SEEN"]
    row = lines[3].split()
    # a pod of node1: masqueraded to node1's pod bridge address
    assert row[0].startswith("default/kubernetes-bootcamp-") and row[2] == "node1" and row[5] == "25.0%" and \
        row[6] == "10.244.0.1"
    assert set(row[7]) == {"#"}


def test_send_text_says_one_connection_in_the_singular(capsys: pytest.CaptureFixture[str]) -> None:
    """`send` and `netns send` (the same text) said "1 tcp connections" (QA-docs 7)."""
    code, out, _ = run([*SEND, "--count", "1"], capsys)
    assert code == 0 and out.splitlines()[0] == "1 tcp connection from external to node/node1:31526 (seed 1)"


def test_colour_only_when_asked_or_on_a_terminal(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run([*SEND, "--color", "always"], capsys)
    assert code == 0 and "\x1b[1mPOD\x1b[0m" in out
    code, out, _ = run([*DATA_COMMANDS["diff"], "--color", "always"], capsys)
    assert code == 0 and "\x1b[32m    + nat: -A KUBE-SEP-" in out and "\x1b[31m    - nat:" in out
    code, out, _ = run([*DATA_COMMANDS["healthz"], "--color", "always"], capsys)
    assert out.startswith("\x1b[32;1mHTTP/1.1 200 OK\x1b[0m\n")
    monkeypatch.setenv("NO_COLOR", "1")
    for argv in DATA_COMMANDS.values():
        code, out, _ = run(argv, capsys)
        assert code == 0 and "\x1b[" not in out


def test_send_table_on_a_terminal_draws_block_bars() -> None:
    from kubeproxy_sim.cli.output import Console

    result = send(bootcamp_simulator(1), "external", "node/node1:31526", count=400, seed=1)
    text = send_cmd.send_text(result, Console(None, color=True, unicode=True))  # type: ignore[arg-type]
    assert "█" in text and "\x1b[36m" in text
    assert send_cmd.share_bar(0.5, 10) == "#####" and send_cmd.share_bar(0.5, 10, unicode=True) == "█████"
    assert send_cmd.share_bar(0.0625, 2, unicode=True) == "▏"


# --------------------------------------------------------------------------- errors and exit codes


def test_input_errors_exit_1_and_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["send", "--scenario", "bootcamp", "--from", "pod/x/y", "--to", "node/node1:31526"], capsys)
    assert code == 1 and "--from" in err and "Traceback" not in err
    code, _, err = run([*SEND, "--plot", "shares.pdf"], capsys)
    assert code == 1 and "--plot: cannot tell the picture's format from 'shares.pdf'" in err
    code, _, err = run(["dist", "--scenario", "bootcamp", "--plot", "x.gif"], capsys)
    assert code == 1 and "--plot" in err
    code, _, err = run(["replay", "/nonexistent/state.yaml"], capsys)
    assert code == 1 and "STATE" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["send", "--scenario", "bootcamp"], ["dist", "-o", "xml"], ["healthz"], ["scenario"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


# --------------------------------------------------------------------------- --help examples


def _examples(command: str) -> list[list[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    epilog = sub.choices[command].epilog or ""
    joined = epilog.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("kubeproxy-sim "):
            words = shlex.split(line)
            cut = next((i for i, w in enumerate(words) if w in ("|", ">", "<")), len(words))
            commands.append(words[1:cut])
    return commands


@pytest.mark.parametrize("command", ["send", "dist", "diff", "replay", "scenario", "healthz", "demo"])
def test_help_examples_run_on_the_built_in_scenarios(command: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    examples = _examples(command)
    assert examples, f"{command} --help has no examples"
    built_in = 0
    monkeypatch.chdir(tmp_path)
    for argv in examples:
        argv = [str(REPO / a) if a.startswith("rulesets/") else a for a in argv]
        build_parser().parse_args(argv)
        if "--scenario" in argv or any(a.startswith(str(REPO_RULESETS)) for a in argv) or argv == ["demo"]:
            if "-f" in argv or any(a.endswith((".yaml", ".txt", ".script")) and not Path(a).exists() for a in argv):
                continue  # a user's own files
            code, _, err = run(argv, capsys)
            assert code == 0, (argv, err)
            built_in += 1
    assert built_in >= 1, f"{command}: no example runs on a built-in scenario"


def test_parser_does_not_import_matplotlib() -> None:
    code = ("import sys; from kubeproxy_sim.cli.main import build_parser; build_parser(); "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_send_count_has_dist_connections_bound(capsys) -> None:
    """send --count 99999999999999999999999 ran until killed; dist --connections stops at 1,000,000."""
    argv = ["--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526"]
    assert main(["send", *argv, "--count", "99999999999999999999999"]) == 1
    assert capsys.readouterr().err == ("kubeproxy-sim: --count: 99999999999999999999999 connections is more than this "
                                       "command samples; expected at most 1000000\n")
    assert main(["dist", "--scenario", "bootcamp", "--to", "default/kubernetes-bootcamp",
                 "--connections", "1000001"]) == 1
    assert capsys.readouterr().err.endswith("kubeproxy-sim: --connections: 1000001 connections is more than this "
                                            "command samples; expected at most 1000000\n")
