"""``kubeproxy-sim graph`` end to end: inputs, scopes, formats, files, and errors without tracebacks."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import kubeproxy_sim.cli.main as cli_main
from kubeproxy_sim.graph.image import PNG_SIGNATURE

from .conftest import restore_input

SVC = "KUBE-SVC-2TYZFXBKM236ELT2"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and os.environ.get("CI") != "true",
                               reason="Graphviz's dot is not installed (CI=true runs it anyway)")


@pytest.fixture(autouse=True)
def graph_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure the command is registered, whether or not main lists it yet."""
    if "kubeproxy_sim.cli.graph_cmd" not in cli_main.COMMAND_MODULES:
        monkeypatch.setattr(cli_main, "COMMAND_MODULES", (*cli_main.COMMAND_MODULES, "kubeproxy_sim.cli.graph_cmd"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli_main.main(["graph", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dot_to_stdout_for_one_service(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--scenario", "bootcamp", "--service", "default/kubernetes-bootcamp"], capsys)
    assert code == 0, err
    assert out.startswith('digraph "node node1, service default/kubernetes-bootcamp" {')
    assert f'"nat:KUBE-SERVICES" -> "nat:{SVC}" [label="10.96.142.87:8080/tcp"' in out
    assert "KUBE-FORWARD" not in out
    assert "Traceback" not in err


def test_mermaid_whole_node_and_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--scenario", "bootcamp", "--format", "mermaid"], capsys)
    assert code == 0 and out.splitlines()[1] == "flowchart LR"
    assert 'subgraph t_nat["nat table"]' in out and 'subgraph t_filter["filter table"]' in out
    code, out, _ = run(["--scenario", "bootcamp", "--format", "mermaid", "--table", "filter"], capsys)
    assert code == 0 and "t_nat" not in out and '"KUBE-FORWARD"' in out


@needs_dot
def test_images_to_files_by_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, png = tmp_path / "bootcamp.svg", tmp_path / "svc5.png"
    code, out, err = run(["--scenario", "bootcamp", "-o", str(svg)], capsys)
    assert code == 0 and out == "" and f"wrote {svg}" in err
    titles = {t.text for t in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}title")}
    assert {"nat:PREROUTING", f"nat:{SVC}", "filter:KUBE-FORWARD", f"nat:KUBE-SERVICES->nat:{SVC}"} <= titles
    code, _, _ = run(["--scenario", "upstream-overall-iptables-rules", "--service", "ns5/svc5:p80", "-o", str(png)],
                     capsys)
    assert code == 0 and png.read_bytes().startswith(PNG_SIGNATURE)


def test_from_a_dump_with_and_without_built_in_chains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    restore = restore_input(tmp_path)
    code, from_dump, err = run(["--rules", str(restore), "--format", "mermaid", "--table", "nat"], capsys)
    assert code == 0, err
    code, from_objects, _ = run(["--scenario", "bootcamp", "--format", "mermaid", "--table", "nat"], capsys)
    # the same picture: the dump gets the hooks' jumps kube-proxy adds on a node, drawn dotted and marked added
    assert from_dump.replace('-.->|"added"|', "-->").splitlines()[1:] == from_objects.splitlines()[1:]
    assert '>"PREROUTING"]' in from_dump and from_dump.count('-.->|"added"|') == 3


def test_max_endpoints_folds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--scenario", "bootcamp", "--service", "default/kubernetes-bootcamp", "--max-endpoints", "2",
                        "--format", "mermaid"], capsys)
    assert code == 0
    assert '[["+2 more endpoints"]]' in out and '-->|"2 endpoints, 50.0%"|' in out
    assert out.count('-->|"25.0%"|') == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--scenario", "bootcamp", "--service", "ns9/nope"],
     "--service: no rules for service port ns9/nope; expected one of: default/kubernetes-bootcamp"),
    # a Service kube-proxy writes no rules for is said to be one, as dist --to says it
    (["--scenario", "externalname-and-headless", "--service", "default/docs"],
     "--service: no rules for service port default/docs: default/docs is an ExternalName Service: kube-proxy "
     "writes no rules for it (cluster DNS answers a CNAME to docs.example.com); expected one of: default/web:http"),
    (["--scenario", "externalname-and-headless", "--service", "default/web-headless:http"],
     "--service: no rules for service port default/web-headless:http: default/web-headless is headless (clusterIP "
     "None): kube-proxy writes no rules; clients reach its pods directly; expected one of: default/web:http"),
    (["--scenario", "ipv6", "--ip-family", "ipv4", "--service", "default/web"],
     "--service: no rules for service port default/web: default/web has no IPv4 cluster IP, so this proxier "
     "writes no rules for it"),
    (["--scenario", "bootcamp", "--max-endpoints", "-1"], "--max-endpoints: -1 is negative"),
    (["--rules", "/nonexistent/node.rules"],
     "/nonexistent/node.rules: --rules: cannot read it: No such file or directory"),
])
def test_errors_are_reported_not_raised(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--scenario", "bootcamp", "--rules", "x.rules"], "--rules: both a dump and objects given"),
    # a value of the wrong shape, as the README's exit statuses say (it exited 1, after the rules were made)
    (["--scenario", "bootcamp", "--service", "nope"], "--service: 'nope' is not a service; expected NAMESPACE/NAME"),
    ([], "nothing to draw; expected --rules DUMP, -f PATH or --scenario NAME"),
    # an -o file name whose suffix names no format (u1: it exited 1, without the help pointer)
    (["--scenario", "bootcamp", "-o", "graph.jpg"], "-o: cannot tell the format from 'graph.jpg'; expected --format"),
])
def test_usage_errors_exit_2_as_trace_s_do(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == "" and message in err


@pytest.mark.parametrize("service", ["nope", "default/kubernetes-bootcamp:", "default/kubernetes-bootcamp::80"])
def test_a_malformed_service_is_refused_before_the_rules_are_loaded(service: str, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from kubeproxy_sim.cli import graph_cmd

    def no_loading(*_args: object) -> None:
        raise AssertionError("the rules were loaded before --service was parsed")

    monkeypatch.setattr(graph_cmd, "load_rules", no_loading)
    code, out, err = run(["--scenario", "bootcamp", "--service", service], capsys)
    assert code == 2 and out == "" and err.startswith(f"kubeproxy-sim: --service: {service!r} ")


def test_bad_dump_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j\nCOMMIT\n")
    code, out, err = run(["--rules", str(bad)], capsys)
    assert code == 1 and out == "" and f"{bad}:3" in err


def test_a_mermaid_chart_past_mermaid_s_edge_limit_is_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    from kubeproxy_sim.cli.main import main

    assert main(["graph", "--scenario", "upstream-sync-proxy-rules-large-cluster-mode-above-threshold",
                 "--max-endpoints", "0", "--format", "mermaid"]) == 0
    err = capsys.readouterr().err
    assert "Mermaid draws at most 500" in err
    assert main(["graph", "--scenario", "bootcamp", "--format", "mermaid"]) == 0
    assert "Mermaid draws" not in capsys.readouterr().err


def test_dash_for_output_is_standard_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``-o -`` is standard output, as ``-`` is for the CLI's inputs (it wrote a file named ``-``)."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["--scenario", "bootcamp", "--format", "mermaid", "-o", "-"], capsys)
    assert code == 0 and out.splitlines()[1] == "flowchart LR" and "wrote" not in err
    code, out, _ = run(["--scenario", "bootcamp", "-o", "-"], capsys)  # no suffix to go by: dot, as without -o
    assert code == 0 and out.startswith("digraph ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("fmt", "name", "message"), [
    ("svg", "x.png", "-o: 'x.png' names a png file, but --format is svg; expected a file ending in .svg, or no "
     "--format (the format is then the suffix's)"),
    ("mermaid", "x.dot", "-o: 'x.dot' names a dot file, but --format is mermaid; expected a file ending in .mmd or "
     ".mermaid, or no --format"),
])
def test_a_format_other_than_the_suffix_s_is_a_usage_error(tmp_path: Path, fmt: str, name: str, message: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--scenario", "bootcamp", "--format", fmt, "-o", str(tmp_path / name)], capsys)
    assert code == 2 and out == "" and message.replace(repr(name), repr(str(tmp_path / name))) in err
    assert not (tmp_path / name).exists()


def test_a_format_the_suffix_agrees_with_or_does_not_name_is_written(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("x.gv", "x.txt"):
        code, _, err = run(["--scenario", "bootcamp", "--format", "dot", "-o", str(tmp_path / name)], capsys)
        assert code == 0, err
        assert (tmp_path / name).read_text().startswith("digraph ")


CIRCLES = {  # rules of the nat table (from line 5), the circle, the line of the jump that closes it
    "statistic": ("-A PREROUTING -j A\n-A A -m statistic --mode random --probability 0.5 -j A\n", "A -> A", 6),
    "goto": ("-A PREROUTING -j A\n-A A -m comment --comment x -j B\n-A B -m mark --mark 0x1 -g A\n", "A -> B -> A", 7),
    "reached-late": ("-A B -j A\n-A A -m recent --rcheck --name x --mask 255.255.255.255 --rsource -j B\n"
                     "-A PREROUTING -p udp -j B\n", "B -> A -> B", 6),
    # (review r5 #3) a jump that is not the rule's last word, as iptables takes it
    "options-after": ("-A PREROUTING -j A\n-A A -j B\n-A B -j A -p tcp\n", "A -> B -> A", 7),
    "comment-after": ("-A PREROUTING -j A -m comment --comment x\n-A A -g B -m comment --comment y\n-A B -j A "
                      "-m comment --comment z\n", "A -> B -> A", 7),
}


def test_a_circle_no_built_in_chain_reaches_is_drawn_as_the_kernel_loads_it(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The kernel looks for circles from the built-in chains only: B -> A -> B with nothing jumping to it loads
    (iptables-nft-restore and iptables-legacy-restore), so it is drawn (review r1 #1)."""
    dump = tmp_path / "loop.rules"
    dump.write_text("*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A B -j A\n-A A -j B\n"
                    "-A PREROUTING -d 2.2.2.2/32 -p tcp -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n")
    code, out, err = run(["--rules", str(dump), "--format", "dot"], capsys)
    assert (code, err) == (0, "")
    assert '"nat:B" -> "nat:A"' in out


def test_a_comment_that_quotes_a_jump_is_no_arrow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only a rule's own -j or -g is an arrow: a comment saying "-j A" closes no circle (review r5 #3)."""
    dump = tmp_path / "quoted.rules"
    dump.write_text('*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n-A PREROUTING -j A\n'
                    '-A A -m comment --comment "back -j A here" -j RETURN -p tcp\nCOMMIT\n')
    code, _, err = run(["--rules", str(dump), "--format", "dot"], capsys)
    assert (code, err) == (0, "")


@pytest.mark.parametrize("kind", sorted(CIRCLES))
def test_chains_that_jump_in_a_circle_are_refused_as_trace_refuses_them(kind: str, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Every -j and -g to a chain is an arrow, whatever its rule matches, as the kernel counts them (a graph of
    such a dump was drawn, exit 0, with no word of it: QA-cli #2); named at the dump's line, as trace does."""
    rules, circle, line = CIRCLES[kind]
    dump = tmp_path / "loop.rules"
    dump.write_text(f"*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n{rules}COMMIT\n")
    code, out, err = run(["--rules", str(dump)], capsys)
    assert (code, out) == (1, "")
    assert err == (f"kubeproxy-sim: {dump}:{line}: the nat table's chains jump in a circle: {circle}; the kernel "
                   "refuses to load such rules (iptables-restore: RULE_APPEND failed (Too many links))\n")
