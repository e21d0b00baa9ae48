"""Ruleset -> chain graph, in pure functions.

Every rule with a target becomes an edge; a target that is not a chain of the
table becomes a verdict node of the chain it is in. Chains that neither jump
nor are jumped to (an empty built-in hook, kube-proxy's canary) are left out:
they carry no path a packet could take.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from fractions import Fraction
from typing import Protocol

from kubeproxy_sim.graph.labels import (
    SERVICE_PORT,
    chain_splits,
    comment,
    match_label,
    percent,
    statistic_probability,
    verdict_label,
)
from kubeproxy_sim.graph.model import Edge, Graph, Node, NodeKind, chain_node_id, verdict_node_id
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Rule, Ruleset, Table

DEFAULT_TABLES = ("nat", "filter")
CHAIN_PREFIXES = (
    ("KUBE-SVC-", NodeKind.SERVICE),
    ("KUBE-SVL-", NodeKind.SERVICE),
    ("KUBE-EXT-", NodeKind.EXTERNAL),
    ("KUBE-FW-", NodeKind.FIREWALL),
    ("KUBE-SEP-", NodeKind.ENDPOINT),
)
TERMINAL_TARGETS = frozenset({"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "ACCEPT", "DROP", "REJECT"})
VERDICT_KINDS_BY_TARGET = {
    "DNAT": NodeKind.DNAT, "SNAT": NodeKind.SNAT, "MASQUERADE": NodeKind.MASQUERADE, "MARK": NodeKind.MARK,
    "ACCEPT": NodeKind.ACCEPT, "DROP": NodeKind.DROP, "REJECT": NodeKind.REJECT, "RETURN": NodeKind.RETURN,
}

Cite = Callable[[int, str, str], "str | None"]
"""The text a rule read from a line is quoted by, given (its line, its table, its chain): what that line says, as
``trace`` cites it (``dumpfile.dump_lines`` for a dump's text as read, trace's ``line_text``); None: not known."""


def saved_form(ipv6: bool) -> Callable[[Rule], str]:
    """A rule as iptables-save prints it: the line of ``rules --full`` that trace numbers generated rules by, and
    an iptables-save dump's own line (its text round-trips through the parser and saveform). saveform (and
    netaddr) is imported at the first rule quoted: a graph of generated rules quotes none."""

    def cite(rule: Rule) -> str:
        from kubeproxy_sim.netfilter.saveform import saved_rule_text

        return saved_rule_text(rule, ipv6)

    return cite


def quoted(rule: Rule, table: str, cite: Cite | None, saved: Callable[[Rule], str]) -> str:
    """A rule read from a line as ``cite`` gives that line (counters and quoting as written); iptables-save's
    form when ``cite`` knows no such line or that line is not the rule's."""
    text = cite(rule.line, table, rule.chain) if cite is not None else None
    if text is not None:
        body = text.split("] ", 1)[-1] if text.startswith("[") else text  # [packets:bytes] -A ...
        if body == f"-A {rule.chain}" or body.startswith(f"-A {rule.chain} "):
            return text
    return saved(rule)


def chain_kind(table: str, name: str, chain: Chain | None) -> NodeKind:
    """What a chain is for, from kube-proxy's naming (the only thing a dump tells)."""
    if (chain is not None and chain.builtin) or name in BUILTIN_CHAINS.get(table, ()):
        return NodeKind.HOOK
    for prefix, kind in CHAIN_PREFIXES:
        if name.startswith(prefix):
            return kind
    return NodeKind.DISPATCH if name.startswith("KUBE-") else NodeKind.CHAIN


def chain_index(table: Table) -> dict[str, Chain]:
    """Chains by name: a table can hold thousands, and Table.chain() searches them one by one."""
    return {c.name: c for c in table.chains}


def is_chain_target(declared: Container[str], name: str) -> bool:
    """A jump to a chain, as opposed to a target extension; a missing KUBE- chain is still a chain."""
    return name in declared or name.startswith("KUBE-")


def returning_test(table: Table, chains: dict[str, Chain] | None = None) -> Callable[[str], bool]:
    """Whether every packet comes back from a chain to its caller (no terminal verdict is reachable from it).

    Jumps to such chains (KUBE-MARK-MASQ) are side trips, drawn differently and
    left out of a split's shares. Worked out only for the chains asked about:
    a service's graph asks about a few of thousands.
    """
    memo: dict[str, bool] = {}
    chains = chain_index(table) if chains is None else chains

    def rules_of(name: str) -> Iterator[Rule]:
        chain = chains.get(name)
        return iter(chain.rules if chain else ())

    def returns(name: str) -> bool:
        """A depth-first walk with its own stack (a dump may nest jumps thousands deep): each frame is a chain
        part way through its rules, jumping to the frame above it."""
        if name in memo:
            return memo[name]
        memo[name] = True  # a cycle does not make a chain terminal
        frames = [(name, rules_of(name))]
        while frames:
            rules = frames[-1][1]
            for rule in rules:
                target = rule.target
                if target is None:
                    continue
                terminal = target.goto or target.name in TERMINAL_TARGETS
                if not terminal and is_chain_target(chains, target.name):
                    known = memo.get(target.name)
                    if known is None:  # walk it first; this chain goes on with its next rule if it returns
                        memo[target.name] = True
                        frames.append((target.name, rules_of(target.name)))
                        break
                    terminal = not known
                if terminal:  # no packet need come back: nor from any chain on the way here
                    for caller, _ in frames:
                        memo[caller] = False
                    frames.clear()
                    break
            else:
                frames.pop()  # every rule passed: it returns (memo stays True)
        return memo[name]

    return returns


def service_label(chain: Chain) -> str | None:
    """The service port a per-service chain belongs to, from its rules' comments.

    Most comments start with the service port name; the EXT chains' say it in
    the middle ("masquerade traffic for ns/svc:p external destinations").
    """
    comments = [c for c in (comment(r.parsed) for r in chain.rules) if c]
    for words in [c.split()[:1] for c in comments] + [c.split() for c in comments]:
        for word in words:
            match = SERVICE_PORT.match(word)
            if match and not word[0].isdigit():
                return word
    return None


def _chain_node(table: Table, chains: dict[str, Chain], name: str) -> Node:
    chain = chains.get(name)
    kind = chain_kind(table.name, name, chain)
    label = name
    tooltip = f"{table.name} {name}"
    if chain is None:
        label, tooltip = f"{name}\n(not declared)", tooltip + ": jumped to but not declared"
    elif kind is NodeKind.HOOK:
        tooltip += f", policy {chain.policy or 'ACCEPT'}"
    elif kind in (NodeKind.SERVICE, NodeKind.EXTERNAL, NodeKind.FIREWALL, NodeKind.ENDPOINT):
        owner = service_label(chain)
        if owner:
            label = f"{name}\n{owner}"
    return Node(chain_node_id(table.name, name), kind, label, table.name, name, tooltip)


def _edge_label(rule: Rule, share: Fraction | None, goto: bool) -> str:
    parts = [match_label(rule.parsed)]
    if share is not None:
        parts.append(percent(share))
    if goto:
        parts.append("goto")
    return ", ".join(p for p in parts if p)


def _chain_edges(table: Table, chains: dict[str, Chain], chain: Chain, returns: Callable[[str], bool],
                 scope: Scope | None, cite: Cite | None, saved: Callable[[Rule], str]
                 ) -> tuple[list[Edge], list[Node]]:
    """The edges of one chain's rules (those in ``scope``) and the verdict nodes they end in; a rule read from
    a line is quoted by ``cite``.

    Shares are those of the whole chain, whatever the scope keeps of it."""
    with_target = [(i, r) for i, r in enumerate(chain.rules, start=1) if r.target is not None]
    first_split = _first_split(with_target)
    keep = [scope is None or scope.keeps(table.name, chain.name, position) for position, _ in with_target]
    # A rule's ``call`` is worked out only where it matters: the rule is drawn, or a split's shares depend
    # on it. It walks the target chain and what that jumps to, so for a service's graph it is not done for
    # the thousands of KUBE-SERVICES rules the scope leaves out.
    calls = [(keep[k] or (first_split is not None and k >= first_split))
             and is_chain_target(chains, r.target.name)  # type: ignore[union-attr]
             and returns(r.target.name)  # type: ignore[union-attr]
             for k, (_, r) in enumerate(with_target)]
    splits = (chain_splits([r.parsed for _, r in with_target], calls) if first_split is not None
              else [None] * len(with_target))
    edges: list[Edge] = []
    verdicts: list[Node] = []
    source = chain_node_id(table.name, chain.name)
    for (position, rule), kept, call, split in zip(with_target, keep, calls, splits, strict=True):
        if not kept:
            continue
        share, reached = split if split else (None, None)
        target = rule.target
        assert target is not None
        if is_chain_target(chains, target.name):
            target_id = chain_node_id(table.name, target.name)
        else:
            label = verdict_label(target)
            target_id = verdict_node_id(table.name, chain.name, label)
            kind = VERDICT_KINDS_BY_TARGET.get(target.name, NodeKind.TARGET)
            verdicts.append(Node(target_id, kind, label, table.name, chain.name, f"{table.name} {chain.name}: "
                                 f"{label}"))
        edges.append(Edge(source, target_id, _edge_label(rule, share, target.goto), table.name, chain.name,
                          position, rule.line, rule.text(), share, call, reached, target.goto,
                          cited=quoted(rule, table.name, cite, saved) if rule.line else ""))
    return edges, verdicts


def _first_split(with_target: Sequence[tuple[int, Rule]]) -> int | None:
    """Where a chain's first statistic rule is (an index into ``with_target``), None: the chain has no split.

    Before it no rule is part of a split, whatever its target does (see :func:`chain_splits`)."""
    return next((k for k, (_, rule) in enumerate(with_target)
                 if "statistic" in rule.spec and statistic_probability(rule.parsed) is not None), None)


class Scope(Protocol):
    """The rules to draw (see ``graph.scope.Selection``): a service's graph draws a few chains of thousands."""

    def keeps(self, table: str, chain: str, position: int) -> bool: ...

    def chains(self) -> frozenset[tuple[str, str]]: ...


def table_graph(table: Table, cite: Cite | None, saved: Callable[[Rule], str], scope: Scope | None = None,
                generated: bool = False) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges of one table (of the rules in ``scope``); chains that take part in no edge are left out.
    Rules read from a line are quoted by ``cite``, else as ``saved`` prints them (see :func:`quoted`).
    ``generated``: the proxier's own table, not checked for a circle of jumps (it holds none: see
    ``compile_ruleset``'s ``generated``); nor is one a validating parse checked (``Table.circles_checked``)."""
    from kubeproxy_sim.netfilter.compile_chains import refuse_table_circles

    if not generated:
        refuse_table_circles(table)  # the whole table, whatever the scope draws: the kernel refuses it whole
    chains = chain_index(table)
    returns = returning_test(table, chains)
    drawn = scope.chains() if scope is not None else None
    edges: list[Edge] = []
    verdicts: dict[str, Node] = {}
    for chain in table.chains:
        if drawn is not None and (table.name, chain.name) not in drawn:
            continue
        chain_edges, chain_verdicts = _chain_edges(table, chains, chain, returns, scope, cite, saved)
        edges.extend(chain_edges)
        for node in chain_verdicts:
            verdicts.setdefault(node.id, node)
    used = {e.source for e in edges} | {e.target for e in edges}
    names = [c.name for c in table.chains]
    names += [e.target.split(":", 1)[1] for e in edges if e.target not in verdicts and
              e.target.split(":", 1)[1] not in chains]
    nodes = [_chain_node(table, chains, name) for name in dict.fromkeys(names)
             if chain_node_id(table.name, name) in used]
    return nodes + list(verdicts.values()), edges


def build_graph(ruleset: Ruleset, *, tables: Sequence[str] = DEFAULT_TABLES, title: str = "",
                scope: Scope | None = None, cite: Cite | None = None, generated: bool = False) -> Graph:
    """The chain graph of the named tables of a ruleset (tables it lacks are skipped); with a ``scope``, of
    the rules it keeps: the whole graph cut down to them, built without drawing the rest.

    A rule read from a line (a dump's, or ``rules --full``'s as trace numbers them) is quoted in its tooltip
    with that line: as ``cite`` gives it (a dump's own lines as read, trace's ``line_text``), else as
    iptables-save prints it. ``generated``: the proxier's own rules, not a dump (see :func:`table_graph`).
    """
    saved = saved_form(ruleset.ipv6)
    nodes: list[Node] = []
    edges: list[Edge] = []
    for name in tables:
        table = ruleset.table(name)
        if table is None:
            continue
        table_nodes, table_edges = table_graph(table, cite, saved, scope, generated)
        nodes.extend(table_nodes)
        edges.extend(table_edges)
    return Graph(tuple(nodes), tuple(edges), title)
