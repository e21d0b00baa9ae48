"""The chain graph: what a picture of a node's rules is made of, independent of how it is drawn.

A node is a chain (a built-in hook, one of kube-proxy's fixed chains, a
per-service or per-endpoint chain, or any other chain of the dump) or a
terminal verdict of one chain (DNAT to an address, DROP, MASQUERADE, ...).
An edge is one rule with a target: from the chain it is in to the chain it
jumps to or the verdict it applies. Keeping one edge per rule, with the rule's
position, line and text, is what lets a traced path be laid over the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction


class NodeKind(StrEnum):
    HOOK = "hook"  # a built-in chain: where the kernel hands packets to the table
    DISPATCH = "dispatch"  # kube-proxy's fixed chains: KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, ...
    SERVICE = "service"  # KUBE-SVC-* and KUBE-SVL-*: the load balancer of one service port
    EXTERNAL = "external"  # KUBE-EXT-*: external traffic's masquerade decision
    FIREWALL = "firewall"  # KUBE-FW-*: loadBalancerSourceRanges
    ENDPOINT = "endpoint"  # KUBE-SEP-*: one endpoint
    CHAIN = "chain"  # any other user-defined chain (a CNI's, a missing one)
    SUMMARY = "summary"  # endpoints folded into one node to keep a large graph readable
    DNAT = "DNAT"
    SNAT = "SNAT"
    MASQUERADE = "MASQUERADE"
    MARK = "MARK"
    ACCEPT = "ACCEPT"
    DROP = "DROP"
    REJECT = "REJECT"
    RETURN = "RETURN"
    TARGET = "target"  # another target extension (LOG, CT, ...)

    @property
    def is_verdict(self) -> bool:
        return self in VERDICT_KINDS

    @property
    def is_chain(self) -> bool:
        return self in CHAIN_KINDS


CHAIN_KINDS = frozenset({NodeKind.HOOK, NodeKind.DISPATCH, NodeKind.SERVICE, NodeKind.EXTERNAL,
                         NodeKind.FIREWALL, NodeKind.ENDPOINT, NodeKind.CHAIN})
VERDICT_KINDS = frozenset({NodeKind.DNAT, NodeKind.SNAT, NodeKind.MASQUERADE, NodeKind.MARK, NodeKind.ACCEPT,
                           NodeKind.DROP, NodeKind.REJECT, NodeKind.RETURN, NodeKind.TARGET})


@dataclass(frozen=True, slots=True)
class Node:
    """One box of the picture; ``id`` is unique in the graph and stable across runs (``nat:KUBE-SERVICES``)."""

    id: str
    kind: NodeKind
    label: str  # lines separated by "\n"
    table: str
    chain: str | None = None  # the chain's name for chain nodes, the owning chain for verdicts
    tooltip: str = ""
    highlighted: bool = False


@dataclass(frozen=True, slots=True)
class Edge:
    """One rule with a target, drawn from its chain to where it sends the packet.

    ``position`` is the rule's 1-based index in its chain, ``line`` its line in
    the dump (0 for generated rules), ``rule`` its ``-A CHAIN spec`` text (what a traced step is found by),
    ``cited`` the text of its line as the file (or ``rules --full``) has it, which the tooltip quotes with
    the line ("": no line, the tooltip quotes ``rule``).
    ``share`` is the part of the chain's traffic the rule takes when it belongs
    to a statistic split, ``reached`` the part that got as far as this rule
    (what the rule and the rest of its split share); ``call`` is set when the target chain always returns
    (KUBE-MARK-MASQ): the packet goes on in the calling chain. ``added`` marks a rule the input did not
    hold: a jump a node adds to a restore input's built-in hooks (trace's text says ``added:`` for it).
    """

    source: str
    target: str
    label: str
    table: str
    chain: str
    position: int
    line: int = 0
    rule: str = ""
    share: Fraction | None = None
    call: bool = False
    reached: Fraction | None = None
    goto: bool = False
    highlighted: bool = False
    added: bool = False
    cited: str = ""


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes and edges in a stable order (tables, then chains and rules as written)."""

    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    title: str = ""

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def tables(self) -> tuple[str, ...]:
        """The tables the graph draws, in order of first appearance."""
        return tuple(dict.fromkeys(n.table for n in self.nodes))

    def edges_from(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.source == node_id)

    def edges_to(self, node_id: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.target == node_id)

    def with_title(self, title: str) -> Graph:
        return replace(self, title=title)


def chain_node_id(table: str, chain: str) -> str:
    return f"{table}:{chain}"


def verdict_node_id(table: str, chain: str, label: str) -> str:
    """Verdicts are drawn per chain: a shared DROP for a whole table would tangle the layout."""
    return f"{table}:{chain}:{label}"
