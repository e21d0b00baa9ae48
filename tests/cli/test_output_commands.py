"""The output layer in the commands: rules/trace -o json|yaml, trace text and --graph, demo, and --help examples."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli import demo_cmd, graph_cmd, rules_cmd, trace_cmd
from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.cli.options import REPO_RULESETS, load_inputs, load_node_rules
from kubeproxy_sim.cli.output import Console
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, render_text
from kubeproxy_sim.proxier.rules.context import serves_localhost_nodeports

SVC = "KUBE-SVC-2TYZFXBKM236ELT2"
CLIENT_TO_CLUSTER_IP = ["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"]
OUTSIDE_TO_NODEPORT = ["--scenario", "bootcamp", "--src", "192.168.49.1", "--dst", "192.168.49.2", "--dport", "31526"]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and os.environ.get("CI") != "true",
                               reason="Graphviz's dot is not installed (CI=true runs it anyway)")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- rules


def test_rules_json_and_yaml_are_the_text_as_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(["rules", "--scenario", "bootcamp"], capsys)
    assert code == 0
    code, out, _ = run(["rules", "--scenario", "bootcamp", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and [t["name"] for t in data["tables"]] == ["filter", "nat"]
    nat = data["tables"][1]
    assert set(nat) == {"name", "chains"} and all(set(c) == {"name", "policy", "rules"} for c in nat["chains"])
    svc = next(c for c in nat["chains"] if c["name"] == SVC)
    assert svc["policy"] is None and svc["rules"][0].startswith(f"-A {SVC} ")
    # every rule line of the text, in the same order
    assert [r for t in data["tables"] for c in t["chains"] for r in c["rules"]] == [
        line for line in text.splitlines() if line.startswith("-A ")]
    code, out, _ = run(["rules", "--scenario", "bootcamp", "-o", "yaml"], capsys)
    assert code == 0 and yaml.safe_load(out) == data


def test_rules_full_json_has_builtin_policies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rules", "--scenario", "bootcamp", "--full", "-o", "json"], capsys)
    nat = next(t for t in json.loads(out)["tables"] if t["name"] == "nat")
    policies = {c["name"]: c["policy"] for c in nat["chains"]}
    assert code == 0 and policies["PREROUTING"] == "ACCEPT" and policies["KUBE-SERVICES"] is None


@pytest.mark.parametrize("scenario", ["bootcamp", "upstream-overall-iptables-rules", "ipv6", "nfacct-off"])
def test_rules_full_json_lines_are_the_iptables_save_lines(scenario: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With --full the text is iptables-save's (quoted comments, its spacing): so are the JSON's lines."""
    code, text, _ = run(["rules", "--scenario", scenario, "--full"], capsys)
    assert code == 0 and '--comment "' in text
    code, out, _ = run(["rules", "--scenario", scenario, "--full", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and [r for t in data["tables"] for c in t["chains"] for r in c["rules"]] == [
        line for line in text.splitlines() if line.startswith("-A ")]


def test_rules_text_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    inputs = load_inputs(parser.parse_args(["rules", "--scenario", "bootcamp"]))
    code, out, _ = run(["rules", "--scenario", "bootcamp"], capsys)
    assert code == 0 and out == rules_cmd.rules_text(inputs, full=False)


# --------------------------------------------------------------------------- trace


def _flows(scenario: str) -> list[dict]:
    return yaml.safe_load((REPO_RULESETS / scenario / "flows.yaml").read_text()) or []


@pytest.mark.parametrize("scenario", ["bootcamp", "upstream-overall-iptables-rules", "session-affinity"])
def test_plain_trace_text_is_the_tracers_text(scenario: str) -> None:
    """Off a terminal the tree renderer gives the tracer's own text, line for line (scripts may read it)."""
    args = build_parser().parse_args(["trace", "--scenario", scenario, "--src", "1.1.1.1", "--dst", "1.1.1.2",
                                      "--dport", "1"])
    node = load_node_rules(args)
    tracer = Tracer(node.ruleset, NodeContext.of(node.config.node_ips,
                                                  route_localnet_known=serves_localhost_nodeports(node.config)))
    from kubeproxy_sim.netfilter.packet import Packet

    for flow in _flows(scenario)[:12]:
        if ":" in str(flow["src"]):
            continue
        result = tracer.trace(Packet.of(flow.get("proto", "tcp"), flow["src"], flow["dst"], flow["dport"]))
        assert trace_cmd.trace_text(result) == render_text(result)


def test_trace_on_a_terminal_draws_boxes_and_colours() -> None:
    args = build_parser().parse_args(["trace", *OUTSIDE_TO_NODEPORT])
    node = load_node_rules(args)
    from kubeproxy_sim.netfilter.packet import Packet

    result = Tracer(node.ruleset, NodeContext.of(node.config.node_ips)).trace(
        Packet.of("tcp", "192.168.49.1", "192.168.49.2", 31526))
    fancy = trace_cmd.trace_text(result, Console(None, color=True, unicode=True))  # type: ignore[arg-type]
    assert "\x1b[32;1mDNAT to 10.244.0.3:8080\x1b[0m" in fancy
    assert "  \x1b[1mnat PREROUTING\x1b[0m\n  ├── added: -A PREROUTING" in fancy
    assert "└── " in fancy and "│   " in fancy


def test_trace_yaml_is_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["trace", *CLIENT_TO_CLUSTER_IP, "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and set(data) == {"packet", "origin", "outcomes", "uncertain", "notes", "node", "ip_family"}
    assert sorted(o["destination"] for o in data["outcomes"]) == [
        "10.244.0.3:8080", "10.244.0.4:8080", "10.244.1.2:8080", "10.244.1.3:8080"]
    code, out, _ = run(["trace", *CLIENT_TO_CLUSTER_IP, "-o", "yaml"], capsys)
    assert code == 0 and yaml.safe_load(out) == data and out.startswith("packet:\n  proto: tcp\n")
    assert data["packet"] == {"proto": "tcp", "src": "10.244.0.9", "dst": "10.96.142.87", "sport": None,
                              "dport": 8080, "in_iface": None, "out_iface": None, "bridge_port": None,
                              "ctstate": "NEW", "ctdir": "ORIGINAL", "icmp_type": None, "icmp_code": None,
                              "affinity": []}


def test_trace_json_packet_says_what_was_asked(capsys: pytest.CaptureFixture[str]) -> None:
    """Every packet flag is echoed, so a saved answer says which question it answers."""
    code, out, _ = run(["trace", *CLIENT_TO_CLUSTER_IP, "--sport", "40000", "--in-iface", "cni0", "--ctstate",
                        "ESTABLISHED", "--affinity", "KUBE-SEP-A", "--affinity", "KUBE-SEP-B", "-o", "json"], capsys)
    packet = json.loads(out)["packet"]
    assert code == 0 and packet["sport"] == 40000 and packet["in_iface"] == "cni0"
    assert packet["ctstate"] == "ESTABLISHED" and packet["affinity"] == ["KUBE-SEP-A", "KUBE-SEP-B"]


def test_trace_graph_highlights_every_outcome_with_its_probability(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "path.dot"
    code, out, err = run(["trace", *OUTSIDE_TO_NODEPORT, "--graph", str(target)], capsys)
    assert code == 0 and out.startswith("tcp 192.168.49.1 -> 192.168.49.2:31526") and f"wrote {target}" in err
    dot = target.read_text()
    assert dot.startswith('digraph "trace tcp 192.168.49.1 -> 192.168.49.2:31526, service '
                          'default/kubernetes-bootcamp" {')
    traced = [line for line in dot.splitlines() if "->" in line and 'penwidth="3"' in line]
    assert '"nat:KUBE-SERVICES" -> "nat:KUBE-NODEPORTS"' in "\n".join(traced)
    assert sum(f'"nat:{SVC}" -> "nat:KUBE-SEP-' in line for line in traced) == 4  # the four branches
    assert dot.count("traced: 25.0% masqueraded") == 4 and dot.count('label="25.0%"') == 4  # one percent
    assert "KUBE-FORWARD" not in dot  # scoped to the service


def test_trace_graph_mermaid_without_a_service_draws_only_its_path(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "path.mmd"
    argv = ["trace", "--scenario", "bootcamp", "--src", "192.168.49.1", "--dst", "192.168.49.3", "--dport", "31526",
            "--graph", str(target)]
    code, out, _ = run(argv, capsys)
    text = target.read_text()
    assert code == 0 and "ACCEPT: 100%" in out
    # ACCEPT by the chains' policies: no rule to label, so the title says it
    assert text.startswith("%% trace tcp 192.168.49.1 -> 192.168.49.3:31526, only the rules it matched (it hits no "
                           "service) (ACCEPT 100.0%)\nflowchart LR")
    assert "linkStyle" in text and '"KUBE-FORWARD"' in text  # on its path: FORWARD jumps there
    assert "KUBE-SVC-" not in text and "KUBE-MARK-MASQ" not in text  # not the whole node


@needs_dot
def test_trace_graph_svg_names_the_traced_chains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "path.svg"
    code, _, _ = run(["trace", *CLIENT_TO_CLUSTER_IP, "--graph", str(target)], capsys)
    assert code == 0
    ns = "{http://www.w3.org/2000/svg}"
    red = set()
    for group in ET.parse(target).getroot().iter(f"{ns}g"):
        title = group.find(f"{ns}title")
        if title is not None and any(p.get("stroke") == "#d62728" for p in group.iter(f"{ns}path")):
            red.add(title.text)
    assert {f"nat:KUBE-SERVICES->nat:{SVC}", f"nat:{SVC}->nat:KUBE-SEP-O3PN3INVTYMV5S2K"} <= red


def test_trace_graph_errors_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["trace", *CLIENT_TO_CLUSTER_IP, "--graph", "path.pdf"], capsys)
    assert code == 1 and "--graph: cannot tell the picture's format from 'path.pdf'" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- demo


def test_demo_lists_services_and_endpoints_as_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo"], capsys)
    assert code == 0 and "\x1b[" not in out
    assert "SERVICE                       TYPE       CLUSTER-IP     PORTS\n" in out
    assert "default/kubernetes-bootcamp   NodePort   10.96.142.87   8080/TCP (nodePort 31526)\n" in out
    assert "10.244.1.3   node2   ready   default/kubernetes-bootcamp\n" in out
    assert "# new connections split: 25.0%, 25.0%, 25.0%, 25.0%" in out
    code, out, _ = run(["demo", "--color", "always"], capsys)
    assert code == 0 and "\x1b[1;36mKUBE-SERVICES\x1b[0m" in out


# --------------------------------------------------------------------------- --help examples


def _examples(module: str) -> list[list[str]]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    epilog = sub.choices[module].epilog
    lines = [line.strip() for line in epilog.splitlines() if line.strip().startswith("kubeproxy-sim ")]
    commands = []
    for line in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        cut = next((i for i, w in enumerate(words) if w in ("|", ">", "<", "<(", "&&", ";")), len(words))
        commands.append(words[1:cut])  # the command alone, without pipes or redirections
    return commands


@pytest.mark.parametrize("command", ["rules", "trace", "demo", "graph", "completion"])
def test_help_examples_parse_and_the_built_in_ones_run(command: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    examples = _examples(command)
    assert examples, f"{command} --help has no examples"
    monkeypatch.chdir(tmp_path)
    for argv in examples:
        build_parser().parse_args(argv)  # every example is valid syntax
        if "--scenario" in argv or argv in (["demo"], ["completion", "bash"]):
            if any(a.endswith(".png") or a.endswith(".svg") for a in argv) and shutil.which("dot") is None:
                continue
            code, _, err = run(argv, capsys)
            assert code == 0, (argv, err)


def test_modules_keep_their_examples() -> None:
    for module in (rules_cmd, trace_cmd, demo_cmd, graph_cmd):
        assert "examples:" in module.EXAMPLES


def test_trace_warns_of_an_affinity_list_no_rule_uses(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in --affinity would silently give the no-affinity answer; the warning names the lists in use."""
    flags = ["trace", "--scenario", "session-affinity", "--src", "10.244.1.5", "--dst", "10.96.0.10", "--dport", "80"]
    code, _, err = run([*flags, "--affinity", "KUBE-SEP-GWQABTP5GBYXHJY5"], capsys)
    assert code == 0 and "--affinity" not in err
    code, _, err = run([*flags, "--affinity", "KUBE-SEP-TYPO", "--affinity", "KUBE-SEP-TYPO"], capsys)
    assert code == 0 and err.count("xt_recent list 'KUBE-SEP-TYPO'") == 1
    assert "the lists they use: KUBE-SEP-GWQABTP5GBYXHJY5, KUBE-SEP-IQIBSY2R4USWK4F3" in err
