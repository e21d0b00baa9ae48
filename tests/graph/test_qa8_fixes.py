"""Regression tests for the QA of `graph` and `trace --graph` (notes/s8-graph.md, findings 1, 2, 3, 6 and 7)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

import kubeproxy_sim.graph.build as graph_build
from kubeproxy_sim.cli import graph_cmd
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.graph import Selection, build_graph, scope_graph, select_service
from kubeproxy_sim.graph.scope import ServiceRef
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Chain, Ruleset, Table

from .conftest import restore_input

NO_ENDPOINTS = ["graph", "--scenario", "upstream-no-endpoints-reject", "--format", "mermaid"]
BOOTCAMP_MISS = ["trace", "--scenario", "bootcamp", "--src", "10.0.0.9", "--dst", "10.200.0.1", "--dport", "80"]
BOOTCAMP_HIT = ["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- 1: --service NS/NAME:NUMBER


def test_a_service_without_endpoints_is_found_by_its_port_number(capsys: pytest.CaptureFixture[str]) -> None:
    """Its only rules are filter REJECTs: the number is looked up there, not only in nat KUBE-SERVICES."""
    code, by_number, err = run([*NO_ENDPOINTS, "--service", "ns1/svc1:80"], capsys)
    assert code == 0, err
    code, by_name, _ = run([*NO_ENDPOINTS, "--service", "ns1/svc1:p80"], capsys)
    assert code == 0
    assert by_number.splitlines()[1:] == by_name.splitlines()[1:]  # the same picture; the titles name the ref
    assert by_number.startswith("%% node test-node, service ns1/svc1:80\n")
    assert '-->|"172.30.0.41:80/tcp"|' in by_number and 'REJECT' in by_number
    code, _, _ = run([*NO_ENDPOINTS, "--service", "ns1/svc1:80", "--table", "filter"], capsys)
    assert code == 0


def test_a_node_port_number_is_not_a_service_port(capsys: pytest.CaptureFixture[str]) -> None:
    """3001 is the port's nodePort (its REJECT matches --dst-type LOCAL --dport 3001): not the service port."""
    code, out, err = run([*NO_ENDPOINTS, "--service", "ns1/svc1:3001"], capsys)
    assert code == 1 and out == ""
    assert "no rules for service port ns1/svc1:3001; expected one of: ns1/svc1:p80" in err


def test_a_port_number_still_finds_a_service_with_endpoints(bootcamp: Ruleset) -> None:
    by_number = select_service(bootcamp, ServiceRef("default", "kubernetes-bootcamp", "8080"))
    assert by_number == select_service(bootcamp, ServiceRef("default", "kubernetes-bootcamp"))


# --------------------------------------------------------------------------- 2: trace --graph


def test_trace_graph_of_a_packet_no_service_catches_draws_only_its_rules(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "miss.dot"
    code, out, err = run([*BOOTCAMP_MISS, "--graph", str(target)], capsys)
    assert code == 0 and "ACCEPT: 100%" in out
    traced_rules = sum(1 for line in out.splitlines() if line.strip().startswith("line "))
    assert f"wrote {target} ({traced_rules} traced rules highlighted)" in err
    dot = target.read_text()
    assert dot.startswith('digraph "trace tcp 10.0.0.9 -> 10.200.0.1:80, only the rules it matched (it hits no '
                          'service) (ACCEPT 100.0%)" {')
    edges = [line for line in dot.splitlines() if " -> " in line and line.startswith("  \"")]
    assert len(edges) == traced_rules and all('penwidth="3"' in e for e in edges)  # every edge is the packet's
    assert "KUBE-SVC-" not in dot and "KUBE-SEP-" not in dot
    assert '"nat:PREROUTING" -> "nat:KUBE-SERVICES"' in dot and '"filter:FORWARD" -> "filter:KUBE-FORWARD"' in dot


def test_trace_graph_of_a_service_still_draws_the_service(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "hit.dot"
    code, _, _ = run([*BOOTCAMP_HIT, "--graph", str(target)], capsys)
    dot = target.read_text()
    assert code == 0 and dot.startswith('digraph "trace tcp 10.244.0.9 -> 10.96.142.87:8080, service '
                                        'default/kubernetes-bootcamp" {')
    assert dot.count("traced: 25.0%") == 4  # as the split's edges read (QA wording #4: was "25%")


def test_trace_graph_when_no_rule_matches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "node.rules"
    dump.write_text("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    "-A OUTPUT -d 192.0.2.1/32 -j DROP\nCOMMIT\n")
    target = tmp_path / "none.mmd"
    code, out, err = run(["trace", "--rules", str(dump), "--src", "10.0.0.9", "--dst", "10.200.0.1", "--dport", "80",
                          "--graph", str(target)], capsys)
    assert code == 0 and "ACCEPT: 100%" in out and "Traceback" not in err
    assert target.read_text().startswith("%% trace tcp 10.0.0.9 -> 10.200.0.1:80: no rule matched it (ACCEPT 100.0%)\n")


def test_trace_graph_warnings_name_what_trace_offers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """trace has no --max-endpoints or --service: its advice is another file name for --graph."""
    monkeypatch.setattr(graph_cmd, "MERMAID_MAX_EDGES", 3)
    code, _, err = run([*BOOTCAMP_HIT, "--graph", str(tmp_path / "t.mmd")], capsys)
    warning = next(line for line in err.splitlines() if "warning" in line)
    assert code == 0 and "Mermaid draws at most 3" in warning
    assert warning.endswith("name a .dot or .svg file for --graph instead")
    assert "--max-endpoints" not in err and "--service" not in err
    # graph's own advice is unchanged
    code, _, err = run(["graph", "--scenario", "bootcamp", "--format", "mermaid"], capsys)
    assert code == 0 and "fewer with --max-endpoints or --service, or use dot or svg" in err


def test_graph_size_warning_is_a_diagnostic_that_honours_color(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Printed as every other warning is: yellow with --color always, plain text with --color never."""
    monkeypatch.setattr(graph_cmd, "MERMAID_MAX_EDGES", 3)
    code, _, err = run(["graph", "--scenario", "bootcamp", "--format", "mermaid", "--color", "always"], capsys)
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert code == 0 and warning.startswith("\x1b[33mkubeproxy-sim: warning: ") and "Mermaid draws at most 3" in warning
    code, _, err = run(["graph", "--scenario", "bootcamp", "--format", "mermaid", "--color", "never"], capsys)
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert code == 0 and warning.startswith("kubeproxy-sim: warning: ") and "\x1b[" not in err


# --------------------------------------------------------------------------- 3: slow Graphviz layouts


def fake_graphviz(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Image tools that are always there, and a `dot` that records what stderr held when it was started."""
    import kubeproxy_sim.graph as graph_pkg
    import kubeproxy_sim.graph.image as image

    seen: list[str] = []

    def render_image(dot_text: str, fmt: str, instead: str = "") -> bytes:
        seen.append(capsys.readouterr().err)
        return b"<svg/>"

    monkeypatch.setattr(image, "check_image_tools", lambda instead="": None)
    monkeypatch.setattr(graph_pkg, "render_image", render_image)
    return seen


def test_a_big_image_is_warned_about_before_graphviz_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    seen = fake_graphviz(monkeypatch, capsys)
    monkeypatch.setattr(graph_cmd, "GRAPHVIZ_SLOW_EDGES", 10)
    target = tmp_path / "node.svg"
    code, _, err = run(["graph", "--scenario", "bootcamp", "-o", str(target)], capsys)
    assert code == 0 and target.read_bytes() == b"<svg/>" and f"wrote {target}" in err  # drawn anyway
    (before,) = seen
    (warning,) = [line for line in before.splitlines() if "warning" in line]  # one line, before dot ran
    assert warning.startswith("kubeproxy-sim: warning: ") and "edges; Graphviz may take minutes" in warning
    assert all(flag in warning for flag in ("--service", "--table", "--format dot", "-o FILE.dot"))
    # trace --graph words it for trace
    seen.clear()
    code, _, _ = run([*BOOTCAMP_HIT, "--graph", str(tmp_path / "t.svg")], capsys)
    assert code == 0 and "name a .dot file for --graph instead" in seen[0] and "--table" not in seen[0]


def test_no_warning_under_the_threshold_or_for_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    seen = fake_graphviz(monkeypatch, capsys)
    assert graph_cmd.GRAPHVIZ_SLOW_EDGES >= 2000  # the QA's 100 services (2,623 edges) took 12 s: no warning
    code, _, _ = run(["graph", "--scenario", "bootcamp", "-o", str(tmp_path / "node.svg")], capsys)
    assert code == 0 and "warning" not in seen[0]
    monkeypatch.setattr(graph_cmd, "GRAPHVIZ_SLOW_EDGES", 10)
    code, _, err = run(["graph", "--scenario", "bootcamp", "-o", str(tmp_path / "node.dot")], capsys)
    assert code == 0 and "Graphviz" not in err


# --------------------------------------------------------------------------- 6: the output checked first


def test_graph_refuses_an_unwritable_output_before_the_work(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    def no_loading(*_args: object) -> None:
        raise AssertionError("the rules were loaded before the output was checked")

    monkeypatch.setattr(graph_cmd, "load_rules", no_loading)
    code, out, err = run(["graph", "--scenario", "bootcamp", "-o", "/nonexistent-dir/x.svg"], capsys)
    assert code == 1 and out == ""
    assert err.endswith("/nonexistent-dir/x.svg: -o: cannot write it: its directory does not exist\n")


@pytest.mark.parametrize("name", ["", "  "])
def test_graph_with_an_empty_output_name_is_a_usage_error(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["graph", "--scenario", "bootcamp", "-o", name], capsys)
    assert code == 2 and out == ""
    assert "-o: an empty file name; expected -o FILE" in err


# --------------------------------------------------------------------------- 7: calls worked out in scope only


def test_a_service_s_graph_asks_only_about_its_own_chains(overall: Ruleset, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a chain returns is worked out for the rules drawn, not for every rule of KUBE-SERVICES."""
    asked: set[str] = set()
    real = graph_build.returning_test

    def spy(table: Table, chains: dict[str, Chain] | None = None) -> Callable[[str], bool]:
        returns = real(table, chains)

        def recorded(name: str) -> bool:
            asked.add(name)
            return returns(name)

        return recorded

    monkeypatch.setattr(graph_build, "returning_test", spy)
    selection = select_service(overall, ServiceRef("ns5", "svc5", "p80"))
    scoped = build_graph(overall, scope=selection)
    drawn_targets = {e.target.split(":", 1)[1] for e in scoped.edges}
    assert asked and asked <= drawn_targets
    assert not any(name.startswith("KUBE-SVC-") and name not in drawn_targets for name in asked)


def test_a_split_s_shares_do_not_depend_on_what_the_scope_keeps() -> None:
    """Rules out of scope still count in a split: a returning jump inside it takes no share."""
    ruleset = parse_ruleset("\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":KUBE-MARK-MASQ - [0:0]", ":A - [0:0]", ":B - [0:0]", ":X - [0:0]",
        "-A PREROUTING -j X",
        "-A X -m comment --comment before -j A",
        "-A X -m statistic --mode random --probability 0.5 -j KUBE-MARK-MASQ",
        "-A X -m statistic --mode random --probability 0.5 -j A",
        "-A X -j B",
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
        "-A A -j DROP", "-A B -j DROP", "COMMIT", ""]))
    whole = build_graph(ruleset)
    for position in (1, 2, 3, 4):
        selection = Selection(positions=frozenset({("nat", "X", position)}))
        assert build_graph(ruleset, scope=selection) == scope_graph(whole, selection)
    last = next(e for e in whole.edges if e.chain == "X" and e.position == 4)
    assert last.share == Fraction(1, 2)  # the MARK-MASQ rule came back: A took half, B the rest


# --------------------------------------------------------------------------- 7 (second bullet): added jumps


def test_jumps_the_graph_adds_to_a_restore_input_are_drawn_as_added(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    restore = restore_input(tmp_path)
    code, dot, err = run(["graph", "--rules", str(restore), "--table", "nat", "--format", "dot"], capsys)
    assert code == 0, err
    added = [line for line in dot.splitlines() if 'style="dotted"' in line]
    assert [line.split(" [")[0].strip() for line in added] == [
        '"nat:PREROUTING" -> "nat:KUBE-SERVICES"', '"nat:OUTPUT" -> "nat:KUBE-SERVICES"',
        '"nat:POSTROUTING" -> "nat:KUBE-POSTROUTING"']
    assert all('tooltip="nat added: -A ' in line for line in added)  # as trace's text says `added:`
    assert dot.count("added") == 3 and 'tooltip="nat line ' in dot  # the file's own rules keep their lines
    # the objects' graph holds those rules itself: nothing is added there
    code, dot, _ = run(["graph", "--scenario", "bootcamp", "--table", "nat", "--format", "dot"], capsys)
    assert code == 0 and "added" not in dot and "dotted" not in dot


def test_a_traced_added_jump_is_highlighted_and_still_marked(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    restore = restore_input(tmp_path)
    target = tmp_path / "t.mmd"
    code, out, _ = run(["trace", "--rules", str(restore), "--src", "10.0.0.9", "--dst", "10.200.0.1", "--dport", "80",
                        "--graph", str(target)], capsys)
    assert code == 0 and "added: -A PREROUTING" in out
    text = target.read_text()
    assert '==>|"added"|' in text  # traced (thick) and marked added (Mermaid has no edge tooltips)
