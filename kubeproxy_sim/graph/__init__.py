"""Pictures of a node's chains: a small graph model built from a ruleset, and its renderers.

``build_graph`` turns a Ruleset into a :class:`Graph` (pure); ``scope_service``
narrows the ruleset to one service port's path; ``collapse_endpoints`` folds
long endpoint fans; ``highlight`` marks a traced path; ``to_dot`` and
``to_mermaid`` write text, ``render_image`` draws SVG or PNG through Graphviz.
"""

from kubeproxy_sim.graph.build import DEFAULT_TABLES, build_graph
from kubeproxy_sim.graph.dot import to_dot
from kubeproxy_sim.graph.image import render_image
from kubeproxy_sim.graph.mermaid import to_mermaid
from kubeproxy_sim.graph.model import Edge, Graph, Node, NodeKind
from kubeproxy_sim.graph.scope import (
    Selection,
    ServiceRef,
    parse_service_ref,
    scope_graph,
    scope_service,
    select_service,
)
from kubeproxy_sim.graph.transform import DEFAULT_MAX_ENDPOINTS, collapse_endpoints, highlight

__all__ = [
    "DEFAULT_MAX_ENDPOINTS", "DEFAULT_TABLES", "Edge", "Graph", "Node", "NodeKind", "Selection", "ServiceRef",
    "build_graph", "collapse_endpoints", "highlight", "parse_service_ref", "render_image", "scope_graph",
    "scope_service", "select_service", "to_dot", "to_mermaid",
]
