"""The CLI starts fast: building the parser (what --help and every command do first) imports no heavy module."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("scapy", "pyroute2", "kubernetes", "graphviz")


def test_parser_imports_no_heavy_module() -> None:
    code = (
        "import sys; from kubeproxy_sim.cli.main import build_parser; build_parser(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_command_s_help_loads_no_manifest_reader_or_rule_family() -> None:
    """Flag parsing needs the model and the config, not YAML, the decoders or the generator."""
    code = ("import sys; from kubeproxy_sim.cli.main import build_parser; build_parser('rules'); "
            "print(sorted(m for m in ('yaml', 'kubeproxy_sim.objects.load', 'kubeproxy_sim.proxier.sync') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_rules_from_json_loads_no_yaml_reader(tmp_path) -> None:
    """A JSON input (how a large cluster comes) pays for neither PyYAML nor the YAML splitter."""
    listing = tmp_path / "cluster.json"
    listing.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    code = (f"import sys; from kubeproxy_sim.cli.main import main; main(['rules', '-f', {str(listing)!r}]); "
            "print(sorted(m for m in ('yaml', 'kubeproxy_sim.objects.yamlsplit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"


IPV4_CLUSTER = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
     "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
     "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
              "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "node1"}]},
]}
"""The common input: IPv4 objects, a Node with its pod CIDR, a NodePort Service and its endpoints."""


def _rules_modules(tmp_path: Path, watched: tuple[str, ...], *flags: str) -> tuple[list[str], str]:
    """The ``watched`` modules a ``rules`` run on :data:`IPV4_CLUSTER` imported, and its output."""
    listing = tmp_path / "cluster.json"
    listing.write_text(json.dumps(IPV4_CLUSTER))
    code = (f"import sys; from kubeproxy_sim.cli.main import main; "
            f"main(['rules', '-f', {str(listing)!r}, *{flags!r}]); "
            f"print(sorted(m for m in {watched!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out.splitlines()[-1]), out


def test_rules_on_an_ipv4_cluster_loads_no_netaddr(tmp_path: Path) -> None:
    """IPv4 addresses and CIDRs are read without netaddr, and so is kube-proxy's default --nodeport-addresses:
    importing it was a sixth of the start-up. A setting that needs it still gets it."""
    watched = ("netaddr", "kubeproxy_sim.objects.netaddr_safe")
    loaded, out = _rules_modules(tmp_path, watched, "--hostname-override", "node1")
    assert loaded == []
    assert "-A KUBE-NODEPORTS -m comment --comment default/web -m tcp -p tcp --dport 30080 -j KUBE-EXT-" in out
    loaded, out = _rules_modules(tmp_path, watched, "--hostname-override", "node1",
                                 "--nodeport-addresses", "192.168.0.0/24")
    assert loaded == sorted(watched)
    assert 'this must be the last rule in this chain" -d 192.168.0.10 -j KUBE-NODEPORTS' in out


def test_rules_writes_without_the_rules_parser(tmp_path: Path) -> None:
    """``rules`` only writes rules: the iptables-save tokenizer and parser are not imported (netfilter.render
    holds the writer)."""
    watched = ("kubeproxy_sim.netfilter.codec", "kubeproxy_sim.netfilter.syntax")
    for flags in ((), ("-o", "json")):
        loaded, out = _rules_modules(tmp_path, watched, *flags)
        assert loaded == []
        assert "KUBE-SVC-LOLE4ISW44XBNF3G" in out


def test_rules_loads_no_close_match_finder(tmp_path: Path) -> None:
    """difflib only suggests a name for a misspelt one (errors.one_of, an unknown --config field): a run that
    goes well does not import it."""
    from kubeproxy_sim.errors import one_of

    loaded, _ = _rules_modules(tmp_path, ("difflib",), "--hostname-override", "node1")
    assert loaded == []
    nodes = [f"worker-{n}" for n in range(20)]
    assert one_of("worker-1O", nodes, "nodes").endswith("(the closest of 20 nodes)")  # imported when needed


def test_help_lists_the_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "kubeproxy_sim", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "rules" in out and "demo" in out


def test_a_command_builds_only_its_own_parser() -> None:
    from kubeproxy_sim.cli.main import build_parser

    def commands(parser: object) -> list[str]:
        return sorted(parser._subparsers._group_actions[0].choices)  # type: ignore[attr-defined]

    assert commands(build_parser("rules")) == ["rules"]
    assert len(commands(build_parser("no-such-command"))) == len(commands(build_parser())) >= 13


def test_options_before_the_command_still_work(capsys: object) -> None:
    from kubeproxy_sim.cli.main import main

    assert main(["--color", "never", "rules", "--scenario", "bootcamp"]) == 0
    assert main(["rules", "--scenario", "bootcamp"]) == 0


def test_the_command_word_is_found_past_top_level_options() -> None:
    from kubeproxy_sim.cli.main import _command_word

    assert _command_word(["--color", "never", "rules", "-f", "x"]) == "rules"
    assert _command_word(["--color=never", "trace"]) == "trace"
    assert _command_word(["--version"]) == "--version"  # builds no command's parser at all
    assert _command_word(["--help", "rules"]) is None and _command_word([]) is None
    assert _command_word(["--col", "never", "rules"]) == "--col"  # not "never": reported as an unknown option


def test_the_top_level_options_the_command_word_is_found_past_are_the_parser_s() -> None:
    """_command_word walks the words before any parser is built, by TOP_OPTIONS: it must know every top-level
    option and how many words it takes, or it takes an option's value for the command."""
    from kubeproxy_sim.cli.main import TOP_OPTIONS, build_parser

    actions = build_parser("--version")._option_string_actions
    assert {option: 0 if action.nargs == 0 else 1 for option, action in actions.items()} == TOP_OPTIONS


def test_graph_of_generated_rules_loads_no_saveform_or_netaddr(tmp_path: Path) -> None:
    """A graph's tooltips quote a rule read from a line as iptables-save prints it; generated rules are read from
    no line, so ``graph -f``/``--scenario`` imports neither saveform nor the netaddr it needs (about 19 ms).
    A rule read from a line, with no line text to quote, still reads as iptables-save prints it."""
    listing = tmp_path / "cluster.json"
    listing.write_text(json.dumps(IPV4_CLUSTER))
    watched = ("netaddr", "kubeproxy_sim.netfilter.saveform")
    for source in (["-f", str(listing), "--hostname-override", "node1"], ["--scenario", "bootcamp"]):
        code = (f"import sys; from kubeproxy_sim.cli.main import main; "
                f"main(['graph', *{source!r}, '--format', 'dot']); "
                f"print(sorted(m for m in {watched!r} if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert "-> " in out and ast.literal_eval(out.splitlines()[-1]) == []
    from kubeproxy_sim.graph import build_graph
    from kubeproxy_sim.netfilter.codec import parse_ruleset

    edges = build_graph(parse_ruleset("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp --dport 80 -j DROP\n"
                                      "COMMIT\n"), tables=("filter",)).edges
    assert [e.cited for e in edges] == ["-A FORWARD -p tcp -m tcp --dport 80 -j DROP"]
