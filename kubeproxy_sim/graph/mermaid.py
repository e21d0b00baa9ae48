"""Graph -> Mermaid flowchart text, for docs and GitHub, which render it in place.

Mermaid's parser stops at quotes, brackets and pipes even inside labels, so
every label is quoted and those characters are written as Mermaid's ``#code;``
entities. Node ids are generated (``n0``, ``n1``...): chain names and ids like
``nat:KUBE-SERVICES`` are not valid Mermaid ids.
"""

from __future__ import annotations

from kubeproxy_sim.errors import printable
from kubeproxy_sim.graph.dot import HIGHLIGHT
from kubeproxy_sim.graph.model import Edge, Graph, NodeKind

ENTITIES = {
    '"': "#quot;", "#": "#35;", "&": "#38;", ";": "#59;", "<": "#lt;", ">": "#gt;", "[": "#91;", "]": "#93;",
    "(": "#40;", ")": "#41;", "{": "#123;", "}": "#125;", "|": "#124;", "`": "#96;",
}
SHAPES: dict[NodeKind, tuple[str, str]] = {
    NodeKind.HOOK: (">", "]"),
    NodeKind.DISPATCH: ("[", "]"),
    NodeKind.SERVICE: ("(", ")"),
    NodeKind.EXTERNAL: ("(", ")"),
    NodeKind.FIREWALL: ("(", ")"),
    NodeKind.ENDPOINT: ("[", "]"),
    NodeKind.CHAIN: ("[", "]"),
    NodeKind.SUMMARY: ("[[", "]]"),
    NodeKind.DNAT: ("[/", "/]"),
    NodeKind.SNAT: ("{{", "}}"),
    NodeKind.MASQUERADE: ("{{", "}}"),
    NodeKind.MARK: ("[\\", "\\]"),
    NodeKind.ACCEPT: ("([", "])"),
    NodeKind.DROP: ("((", "))"),
    NodeKind.REJECT: ("(((", ")))"),
    NodeKind.RETURN: ("{", "}"),
    NodeKind.TARGET: ("[/", "\\]"),
}
CLASSES: dict[NodeKind, str] = {
    NodeKind.HOOK: "fill:#dddddd,stroke:#333,font-weight:bold",
    NodeKind.DISPATCH: "fill:#f2f2f2,stroke:#666",
    NodeKind.SERVICE: "fill:#cfe2f3,stroke:#3d85c6",
    NodeKind.EXTERNAL: "fill:#d9d2e9,stroke:#674ea7",
    NodeKind.FIREWALL: "fill:#fce5cd,stroke:#e69138",
    NodeKind.ENDPOINT: "fill:#d9ead3,stroke:#6aa84f",
    NodeKind.CHAIN: "fill:#ffffff,stroke:#666,stroke-dasharray:4 2",
    NodeKind.SUMMARY: "fill:#d9ead3,stroke:#6aa84f",
    NodeKind.DNAT: "fill:#93c47d,stroke:#38761d",
    NodeKind.SNAT: "fill:#ffd966,stroke:#bf9000",
    NodeKind.MASQUERADE: "fill:#ffd966,stroke:#bf9000",
    NodeKind.MARK: "fill:#fff2cc,stroke:#bf9000",
    NodeKind.ACCEPT: "fill:#b6d7a8,stroke:#38761d",
    NodeKind.DROP: "fill:#ea9999,stroke:#990000",
    NodeKind.REJECT: "fill:#f4cccc,stroke:#990000",
    NodeKind.RETURN: "fill:#ffffff,stroke:#999,stroke-dasharray:3 3",
    NodeKind.TARGET: "fill:#ffffff,stroke:#666",
}


def escape(text: str) -> str:
    """A label as Mermaid reads it back: special characters as entities, line breaks as ``<br/>``."""
    return "<br/>".join("".join(ENTITIES.get(ch, ch) for ch in line) for line in text.split("\n"))


def _class_name(kind: NodeKind) -> str:
    return "k_" + kind.value.lower()


def _edge_line(edge: Edge, ids: dict[str, str]) -> str:
    arrow = "-.->" if edge.call or edge.added else "-->"
    if edge.highlighted:
        arrow = "==>"
    text = ", ".join(p for p in ("added" if edge.added else "", edge.label) if p)  # Mermaid has no edge tooltips
    label = f'|"{escape(text)}"|' if text else ""
    return f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}"


def to_mermaid(graph: Graph) -> str:
    """The graph as a ``flowchart LR``, one subgraph per table."""
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    if graph.title:
        lines.insert(0, f"%% {printable(graph.title)}")  # one comment line: a line break would start the chart
    for table in graph.tables():
        lines.append(f'  subgraph t_{table}["{escape(table + " table")}"]')
        for node in graph.nodes:
            if node.table == table:
                opening, closing = SHAPES[node.kind]
                lines.append(f'    {ids[node.id]}{opening}"{escape(node.label)}"{closing}')
        lines.append("  end")
    lines.extend(_edge_line(e, ids) for e in graph.edges)
    used = dict.fromkeys(n.kind for n in graph.nodes)
    lines.extend(f"  classDef {_class_name(kind)} {CLASSES[kind]}" for kind in used)
    for kind in used:
        members = ",".join(ids[n.id] for n in graph.nodes if n.kind is kind)
        lines.append(f"  class {members} {_class_name(kind)}")
    marked_nodes = [ids[n.id] for n in graph.nodes if n.highlighted]
    if marked_nodes:
        lines.append(f"  classDef traced stroke:{HIGHLIGHT},stroke-width:3px")
        lines.append(f"  class {','.join(marked_nodes)} traced")
    marked_edges = [str(i) for i, e in enumerate(graph.edges) if e.highlighted]
    if marked_edges:
        lines.append(f"  linkStyle {','.join(marked_edges)} stroke:{HIGHLIGHT},stroke-width:3px")
    return "\n".join(lines) + "\n"
