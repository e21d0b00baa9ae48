"""Renderers: dot and Mermaid text name the chains, edges and labels; SVG and PNG come out of Graphviz."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from kubeproxy_sim.errors import EnvironmentMissing
from kubeproxy_sim.graph import ServiceRef, build_graph, highlight, render_image, scope_service, to_dot, to_mermaid
from kubeproxy_sim.graph.image import PNG_SIGNATURE
from kubeproxy_sim.graph.mermaid import escape
from kubeproxy_sim.graph.model import Graph
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Ruleset

SVC = "KUBE-SVC-2TYZFXBKM236ELT2"
SEP = "KUBE-SEP-O3PN3INVTYMV5S2K"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and os.environ.get("CI") != "true",
                               reason="Graphviz's dot is not installed (CI=true runs it anyway)")


@pytest.fixture(scope="module")
def service_graph(bootcamp: Ruleset) -> Graph:
    scoped = scope_service(bootcamp, ServiceRef("default", "kubernetes-bootcamp"))
    return build_graph(scoped, title="node node1, service default/kubernetes-bootcamp")


def test_dot_names_chains_edges_and_labels(service_graph: Graph) -> None:
    text = to_dot(service_graph)
    assert text.startswith('digraph "node node1, service default/kubernetes-bootcamp" {')
    assert 'subgraph "cluster_nat" {' in text and "cluster_filter" not in text
    assert f'"nat:KUBE-SERVICES" -> "nat:{SVC}" [label="10.96.142.87:8080/tcp"' in text
    assert len(re.findall(rf'"nat:{SVC}" -> "nat:KUBE-SEP-\w+" \[label="25.0%"', text)) == 4
    assert f'"nat:{SVC}" [label="{SVC}\\ndefault/kubernetes-bootcamp", shape="box", style="filled,rounded"' in text
    assert f'"nat:{SEP}:DNAT 10.244.0.3:8080" [label="DNAT 10.244.0.3:8080", shape="cds"' in text
    assert '"nat:PREROUTING" [label="PREROUTING", shape="invhouse"' in text
    assert '"nat:KUBE-POSTROUTING:MASQUERADE random-fully" [label="MASQUERADE random-fully", shape="hexagon"' in text
    # side trips to KUBE-MARK-MASQ are dashed; tooltips carry the whole rule, quotes escaped
    assert re.search(rf'"nat:{SEP}" -> "nat:KUBE-MARK-MASQ" \[label="src 10.244.0.3", tooltip="[^"]*", '
                     r'style="dashed"', text)
    assert 'tooltip="nat rule 1: -A KUBE-SERVICES -m comment --comment \\"default/kubernetes-bootcamp cluster IP' \
        in text


def test_dot_verdict_shapes(bootcamp: Ruleset) -> None:
    text = to_dot(build_graph(bootcamp, tables=("filter",)))
    assert '"filter:KUBE-FORWARD:DROP" [label="DROP", shape="octagon"' in text
    assert '"filter:KUBE-FORWARD:ACCEPT" [label="ACCEPT", shape="oval"' in text


def test_mermaid_names_chains_edges_and_labels(service_graph: Graph) -> None:
    text = to_mermaid(service_graph)
    lines = text.splitlines()
    assert lines[:2] == ["%% node node1, service default/kubernetes-bootcamp", "flowchart LR"]
    ids = {m.group(2): m.group(1) for m in re.finditer(r'^\s+(n\d+)\W+"([^"]*)"', text, re.M)}
    services, svc = ids["KUBE-SERVICES"], ids[f"{SVC}<br/>default/kubernetes-bootcamp"]
    assert f'  {services} -->|"10.96.142.87:8080/tcp"| {svc}' in lines
    assert len([line for line in lines if line.startswith(f'  {svc} -->|"25.0%"| ')]) == 4
    assert ids["DNAT 10.244.0.3:8080"]
    assert f'    {ids["DNAT 10.244.0.3:8080"]}[/"DNAT 10.244.0.3:8080"/]' in lines
    assert f'  {svc} -.->|"10.96.142.87:8080/tcp, src ! 10.244.0.0/16"| {ids["KUBE-MARK-MASQ"]}' in lines
    assert '  subgraph t_nat["nat table"]' in lines and "  end" in lines


def test_mermaid_escapes_what_it_chokes_on() -> None:
    assert escape('say "hi" [x] (y) {z} a|b <c> #1; &') == (
        "say #quot;hi#quot; #91;x#93; #40;y#41; #123;z#125; a#124;b #lt;c#gt; #35;1#59; #38;")
    assert escape("two\nlines") == "two<br/>lines"
    ruleset = parse_ruleset(
        "*filter\n:INPUT ACCEPT [0:0]\n"
        '-A INPUT -p tcp -m tcp --dport 22 -j LOG --log-prefix "ssh \\"in\\" [x] |y|"\n'
        "-A INPUT -p udp -m udp -d fd00::10 --dport 53 -j ACCEPT\nCOMMIT\n")
    text = to_mermaid(build_graph(ruleset))
    for line in text.splitlines():
        quoted = re.findall(r'"(.*?)"', line)
        for label in quoted:
            assert not set(label) & set('"[](){}|'), line
    assert "LOG log-prefix ssh #quot;in#quot; #91;x#93; #124;y#124;" in text
    assert '|"#91;fd00::10#93;:53/udp"|' in text


def test_mermaid_title_stays_one_comment_line(service_graph: Graph) -> None:
    """The title (a dump's file name) is a ``%%`` comment: a line break in it would start a line Mermaid parses
    as the chart (a file named "a<newline>flowchart x.rules" declared a second chart)."""
    graph = Graph(service_graph.nodes, service_graph.edges, "a\nflowchart x.rules\r, nat table\u2028")
    lines = to_mermaid(graph).splitlines()
    assert lines[:2] == ["%% a\\nflowchart x.rules\\r, nat table\\u2028", "flowchart LR"]


def test_highlighted_path_is_drawn(service_graph: Graph) -> None:
    marked = highlight(service_graph, [("nat", "KUBE-SERVICES", None, next(
        e.rule for e in service_graph.edges if e.target == f"nat:{SVC}" and e.chain == "KUBE-SERVICES"))])
    dot = to_dot(marked)
    assert re.search(rf'"nat:KUBE-SERVICES" -> "nat:{SVC}" \[.*color="#d62728".*penwidth="3"', dot)
    assert re.search(rf'"nat:{SVC}" \[.*color="#d62728", penwidth="3"', dot)
    mermaid = to_mermaid(marked)
    index = next(i for i, e in enumerate(marked.edges) if e.highlighted)
    assert f"  linkStyle {index} stroke:#d62728,stroke-width:3px" in mermaid.splitlines()
    assert " ==>|" in mermaid and "class " in mermaid and " traced" in mermaid


@needs_dot
def test_svg_parses_and_names_chains_and_edges(service_graph: Graph) -> None:
    svg = render_image(to_dot(service_graph), "svg")
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    titles = {t.text for t in root.iterfind(".//svg:title", ns)}
    assert {"nat:KUBE-SERVICES", f"nat:{SVC}", f"nat:{SEP}", f"nat:{SEP}:DNAT 10.244.0.3:8080"} <= titles
    assert f"nat:KUBE-SERVICES->nat:{SVC}" in titles
    assert f"nat:{SVC}->nat:{SEP}" in titles
    texts = {t.text for t in root.iterfind(".//svg:text", ns)}
    assert {"10.96.142.87:8080/tcp", "25.0%", "DNAT 10.244.0.3:8080", "nat table"} <= texts


@needs_dot
def test_png_has_the_png_signature(service_graph: Graph) -> None:
    assert render_image(to_dot(service_graph), "png").startswith(PNG_SIGNATURE)


def test_missing_graphviz_is_an_environment_error(service_graph: Graph, monkeypatch: pytest.MonkeyPatch) -> None:
    import graphviz  # noqa: F401  (a declared dependency: missing, it is a failure, not a skip)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EnvironmentMissing, match="apt-get install graphviz"):
        render_image(to_dot(service_graph), "svg")


def test_without_graphviz_an_image_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """trace prints nothing and suggests what needs nothing (its --graph takes the format from the name)."""
    import graphviz  # noqa: F401  (a declared dependency: missing, it is a failure, not a skip)

    from kubeproxy_sim.cli.main import main

    monkeypatch.setenv("PATH", "/nonexistent")
    argv = ["trace", "--scenario", "bootcamp", "--src", "1.2.3.4", "--dst", "192.168.49.2", "--dport", "31526",
            "--graph", str(tmp_path / "t.png")]
    assert main(argv) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "or name a .dot or .mmd file for --graph" in captured.err
    assert main(["graph", "--scenario", "bootcamp", "-o", str(tmp_path / "g.svg")]) == 3
    assert "or use --format dot|mermaid" in capsys.readouterr().err


# iptables 1.8.9 (legacy and nft) takes all of these as chain names, and iptables-save prints them as is.
ODD_NAMES = ("a\\b", "e\\", "l<g>&", "X\\\\Y")
ODD_DUMP = "*filter\n:FORWARD ACCEPT [0:0]\n" + "".join(f":{n} - [0:0]\n" for n in ODD_NAMES) + \
    "".join(f"-A FORWARD -s 10.0.0.{i}/32 -j {n}\n" for i, n in enumerate(ODD_NAMES, start=1)) + \
    "".join(f"-A {n} -j DROP\n" for n in ODD_NAMES) + "COMMIT\n"


def test_dot_ids_keep_a_chain_name_s_backslashes() -> None:
    """An ID is no escString: Graphviz keeps its backslashes as written, so they are not doubled there (the
    labels, escStrings, double them; tooltips, which Graphviz un-escapes twice, quadruple them); a name no
    quoted ID can hold is an HTML-string ID."""
    dot = to_dot(build_graph(parse_ruleset(ODD_DUMP), tables=("filter",)))
    assert '"filter:FORWARD" -> "filter:a\\b" [label="src 10.0.0.1", tooltip="filter line 7: -A FORWARD ' \
           '-s 10.0.0.1/32 -j a\\\\\\\\b"]' in dot
    assert '<filter:e\\> [label="e\\\\",' in dot  # a trailing backslash would escape the closing quote
    assert '"filter:X\\\\Y" [label="X\\\\\\\\Y",' in dot and '"filter:l<g>&" [label="l<g>&",' in dot


@needs_dot
def test_svg_titles_show_a_chain_name_exactly() -> None:
    svg = render_image(to_dot(build_graph(parse_ruleset(ODD_DUMP), tables=("filter",))), "svg")
    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(svg)
    titles = {t.text for t in root.iterfind(".//svg:title", ns)}
    assert {f"filter:{n}" for n in ODD_NAMES} | {f"filter:FORWARD->filter:{n}" for n in ODD_NAMES} <= titles
    assert {f"filter:{n}:DROP" for n in ODD_NAMES} <= titles
    assert set(ODD_NAMES) <= {t.text for t in root.iterfind(".//svg:text", ns)}  # the labels too
    # and the tooltips, which Graphviz un-escapes twice: a rule's X\\Y read X\Y, and a \N the node's name
    tips = {a.get("{http://www.w3.org/1999/xlink}title") for a in root.iterfind(".//svg:a", ns)}
    lines = ODD_DUMP.splitlines()
    assert {f"filter line {i}: {lines[i - 1]}" for i in range(7, 7 + 2 * len(ODD_NAMES))} <= tips
    assert {f"filter {n}" for n in ODD_NAMES} <= tips
