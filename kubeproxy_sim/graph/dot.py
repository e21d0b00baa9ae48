"""Graph -> Graphviz dot text: one cluster per table, a shape and colour per kind of node.

Node ids are the graph's own (``nat:KUBE-SERVICES``), so Graphviz's SVG names
each node and edge by them in its ``<title>`` elements.
"""

from __future__ import annotations

import html

from kubeproxy_sim.graph.model import Edge, Graph, Node, NodeKind

HIGHLIGHT = "#d62728"
NODE_STYLES: dict[NodeKind, dict[str, str]] = {
    NodeKind.HOOK: {"shape": "invhouse", "style": "filled,bold", "fillcolor": "#dddddd"},
    NodeKind.DISPATCH: {"shape": "box", "style": "filled", "fillcolor": "#f2f2f2"},
    NodeKind.SERVICE: {"shape": "box", "style": "filled,rounded", "fillcolor": "#cfe2f3"},
    NodeKind.EXTERNAL: {"shape": "box", "style": "filled,rounded", "fillcolor": "#d9d2e9"},
    NodeKind.FIREWALL: {"shape": "box", "style": "filled,rounded", "fillcolor": "#fce5cd"},
    NodeKind.ENDPOINT: {"shape": "box", "style": "filled", "fillcolor": "#d9ead3"},
    NodeKind.CHAIN: {"shape": "box", "style": "dashed"},
    NodeKind.SUMMARY: {"shape": "box3d", "style": "filled", "fillcolor": "#d9ead3"},
    NodeKind.DNAT: {"shape": "cds", "style": "filled", "fillcolor": "#93c47d"},
    NodeKind.SNAT: {"shape": "hexagon", "style": "filled", "fillcolor": "#ffd966"},
    NodeKind.MASQUERADE: {"shape": "hexagon", "style": "filled", "fillcolor": "#ffd966"},
    NodeKind.MARK: {"shape": "note", "style": "filled", "fillcolor": "#fff2cc"},
    NodeKind.ACCEPT: {"shape": "oval", "style": "filled", "fillcolor": "#b6d7a8"},
    NodeKind.DROP: {"shape": "octagon", "style": "filled", "fillcolor": "#ea9999"},
    NodeKind.REJECT: {"shape": "doubleoctagon", "style": "filled", "fillcolor": "#f4cccc"},
    NodeKind.RETURN: {"shape": "circle", "style": "dashed", "fontsize": "9"},
    NodeKind.TARGET: {"shape": "parallelogram"},
}


def quote(text: str) -> str:
    """A dot string for a label (an escString): quotes and backslashes escaped, newlines as dot's centred line
    break. A tooltip needs :func:`quote_tooltip`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def quote_tooltip(text: str) -> str:
    r"""A dot string for a tooltip: Graphviz un-escapes a tooltip's backslashes twice, so each backslash of the
    text is doubled once more than a label's.

    Graphviz 2.43 applies the escString escapes to a tooltip twice: one written ``X\\\\Y`` in dot comes out
    ``X\Y`` in the SVG's ``xlink:title``, and ``\\N`` as the node's name. With the extra doubling the tooltip
    reads as the text: a dump's ``\'`` and ``\\`` as the file has them.
    """
    return quote(text.replace("\\", "\\\\"))


def quote_id(text: str) -> str:
    """A dot ID (a graph, cluster or node name) that Graphviz reads back as ``text`` exactly: the name its SVG
    ``<title>`` elements show.

    An ID is no escString: Graphviz's lexer keeps a name's backslashes as written (only ``\\"`` is an escape;
    ``\\\\`` stays two characters), so the doubling a label needs would double them in the title. A backslash
    just before a quote or at the end cannot be written in quotes at all (iptables allows both in a chain
    name): such a name becomes an HTML-string ID, ``&<>`` written as entities, which the SVG keeps as entities,
    so that it reads as the name.
    """
    if text.endswith("\\") or '\\"' in text or "\\\n" in text:
        return f"<{html.escape(text, quote=False)}>"
    escaped = text.replace('"', '\\"')
    return f'"{escaped}"'


def _attrs(attrs: dict[str, str]) -> str:
    return "[" + ", ".join(f"{k}={quote_tooltip(v) if k == 'tooltip' else quote(v)}" for k, v in attrs.items()
                           if v != "") + "]"


def _node_line(node: Node) -> str:
    attrs = {"label": node.label, **NODE_STYLES[node.kind], "tooltip": node.tooltip}
    if node.highlighted:
        attrs.update(color=HIGHLIGHT, penwidth="3")
    return f"    {quote_id(node.id)} {_attrs(attrs)}"


def _edge_line(edge: Edge) -> str:
    where = "added" if edge.added else f"line {edge.line}" if edge.line else f"rule {edge.position}"
    text = edge.cited or edge.rule
    attrs = {"label": edge.label, "tooltip": f"{edge.table} {where}: {text}" if text else edge.label}
    if edge.call:
        attrs.update(style="dashed", color="#888888", fontcolor="#888888")
    if edge.highlighted:
        attrs.update(color=HIGHLIGHT, fontcolor=HIGHLIGHT, penwidth="3", style="bold")
    if edge.added:  # not in the file: dotted, highlighted or not
        attrs.update(style="dotted")
    return f"  {quote_id(edge.source)} -> {quote_id(edge.target)} {_attrs(attrs)}"


def to_dot(graph: Graph) -> str:
    """The whole graph as a ``digraph`` (left to right: hooks on the left, verdicts on the right)."""
    lines = [f"digraph {quote_id(graph.title or 'kube-proxy chains')} {{",
             "  rankdir=LR;",
             '  graph [fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.6];',
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    if graph.title:
        lines.append(f"  label={quote(graph.title)}; labelloc=t;")
    for table in graph.tables():
        lines.append(f"  subgraph {quote_id('cluster_' + table)} {{")
        lines.append(f"    label={quote(table + ' table')}; style=rounded; color=\"#999999\";")
        lines.extend(_node_line(n) for n in graph.nodes if n.table == table)
        lines.append("  }")
    lines.extend(_edge_line(e) for e in graph.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"
