"""One service's path through a node's rules: the rules about it and everything they lead to.

kube-proxy names the service port in the comment of each rule it writes for
it (``ns/name:port cluster IP``, ``ns/name:port has no endpoints``). Starting
from those rules in the shared chains (KUBE-SERVICES, KUBE-NODEPORTS,
KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL), the scope keeps every chain they
reach in full, and, walking backwards, only the jumps that lead to them from
the built-in hooks. POSTROUTING's masquerade chain comes along when the path
can mark packets for masquerading, since that is where the mark takes effect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError, one_of
from kubeproxy_sim.graph.build import CHAIN_PREFIXES, chain_index, is_chain_target
from kubeproxy_sim.graph.labels import service_port_of
from kubeproxy_sim.graph.model import Graph
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table

SERVICE_REF = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::([^\s:]+))?$")
PER_SERVICE_PREFIXES = tuple(prefix for prefix, _ in CHAIN_PREFIXES)
MASQUERADE_CHAINS = ("KUBE-MARK-MASQ", "KUBE-POSTROUTING")


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """``NS/NAME[:PORT]``: PORT is the service port's name, or its number when the port is unnamed."""

    namespace: str
    name: str
    port: str | None = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" + (f":{self.port}" if self.port else "")

    def names(self, owner: tuple[str, str, str | None]) -> bool:
        namespace, name, port = owner
        return (namespace, name) == (self.namespace, self.name) and self.port in (None, port)


def parse_service_ref(text: str) -> ServiceRef:
    """``NS/NAME[:PORT]``; any other shape (``NS/NAME:``, an empty port, too) is a usage error."""
    stripped = text.strip()
    match = SERVICE_REF.match(stripped)
    if match is None:
        empty_port = stripped.endswith(":") and SERVICE_REF.match(stripped[:-1]) is not None
        raise UsageError(Diagnostic(f"{text!r} {'has an empty port' if empty_port else 'is not a service'}; expected "
                                    "NAMESPACE/NAME or NAMESPACE/NAME:PORT (PORT: the port's name, or its number)",
                                    field="--service"))
    return ServiceRef(match.group(1), match.group(3), match.group(5))


def _is_per_service(name: str) -> bool:
    return name.startswith(PER_SERVICE_PREFIXES)


def _owner(rule: Rule) -> tuple[str, str, str | None] | None:
    return service_port_of(rule.parsed)


class _TableIndex:
    """One table's chains by name, and its shared chains' rules (not per-service ones) by owner and by
    target, read once: a large cluster's KUBE-SERVICES holds thousands of rules, and a scope asks of them
    several times (every candidate port, every step back towards the hooks)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.chains = chain_index(table)
        self.owned: dict[tuple[str, str, str | None], dict[str, set[int]]] = {}
        self.jumps: dict[str, dict[str, set[int]]] = {}
        for chain in table.chains:
            if _is_per_service(chain.name):
                continue
            for index, rule in enumerate(chain.rules):
                owner = _owner(rule)
                if owner is not None:
                    self.owned.setdefault(owner, {}).setdefault(chain.name, set()).add(index)
                target = rule.target
                if target is not None:
                    self.jumps.setdefault(target.name, {}).setdefault(chain.name, set()).add(index)

    def seeds(self, ref: ServiceRef) -> dict[str, set[int]]:
        """Rules about the service in the shared chains, by chain and index."""
        seeds: dict[str, set[int]] = {}
        for owner, where in self.owned.items():
            if ref.names(owner):
                _merge(seeds, where)
        return seeds

    def reachable(self, starts: set[str]) -> set[str]:
        """Chains reachable from ``starts`` (included), following every jump."""
        chains = self.chains
        seen: set[str] = set()
        stack = list(starts)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            chain = chains.get(name)
            for rule in chain.rules if chain else ():
                target = rule.target
                if target is not None and is_chain_target(chains, target.name):
                    stack.append(target.name)
        return seen

    def jumps_to(self, targets: set[str], exclude: set[str]) -> dict[str, set[int]]:
        """Jump rules into ``targets`` from the chains that are not per-service and not in ``exclude``."""
        found: dict[str, set[int]] = {}
        for target in targets:
            _merge(found, {name: indices for name, indices in self.jumps.get(target, {}).items()
                           if name not in exclude})
        return found

    def targets(self, kept: dict[str, set[int]]) -> set[str]:
        """The chains the kept rules jump to."""
        names: set[str] = set()
        for chain_name, indices in kept.items():
            chain = self.chains[chain_name]
            for index in indices:
                target = chain.rules[index].target
                if target is not None and is_chain_target(self.chains, target.name):
                    names.add(target.name)
        return names


def _merge(into: dict[str, set[int]], more: dict[str, set[int]]) -> bool:
    changed = False
    for name, indices in more.items():
        have = into.setdefault(name, set())
        if not indices <= have:
            have |= indices
            changed = True
    return changed


@dataclass(frozen=True, slots=True)
class Selection:
    """The rules of a scope: whole chains (``full``) and single rules (1-based ``positions``) of others."""

    full: frozenset[tuple[str, str]] = frozenset()
    positions: frozenset[tuple[str, str, int]] = frozenset()

    def keeps(self, table: str, chain: str, position: int) -> bool:
        return (table, chain) in self.full or (table, chain, position) in self.positions

    def __bool__(self) -> bool:
        return bool(self.full or self.positions)

    def chains(self) -> frozenset[tuple[str, str]]:
        """(table, chain) of every chain with a rule in the selection."""
        return self.full | {(table, chain) for table, chain, _ in self.positions}

    def __or__(self, other: Selection) -> Selection:
        """The rules of both selections."""
        return Selection(self.full | other.full, self.positions | other.positions)


def select_table(index: _TableIndex, ref: ServiceRef) -> Selection:
    """The part of one table a packet of the service can take (empty: the table has nothing about it)."""
    name = index.table.name
    kept = index.seeds(ref)  # fresh sets, built by _merge: growing them below changes no index
    if not kept:
        return Selection()
    full = index.reachable(index.targets(kept))
    if "KUBE-MARK-MASQ" in full and "KUBE-POSTROUTING" in index.chains:
        _merge(kept, index.jumps_to({"KUBE-POSTROUTING"}, full))
        full |= index.reachable({"KUBE-POSTROUTING"})
    anchors = set(kept)
    while _merge(kept, index.jumps_to(anchors, full)):
        anchors = set(kept)
    positions = {(name, chain, i + 1) for chain, indices in kept.items() if chain not in full for i in indices}
    return Selection(frozenset((name, chain) for chain in full), frozenset(positions))


def scope_table(table: Table, selection: Selection) -> Table | None:
    """The table cut down to a selection (None: nothing of it is selected)."""
    chains = []
    for chain in table.chains:
        rules = tuple(r for i, r in enumerate(chain.rules, start=1) if selection.keeps(table.name, chain.name, i))
        if (table.name, chain.name) in selection.full or rules:
            chains.append(Chain(chain.name, rules, chain.policy, chain.counters))
    return Table(table.name, tuple(chains)) if chains else None


def known_services(ruleset: Ruleset, tables: tuple[str, ...] | None = None) -> list[str]:
    """Service ports named in the shared chains' comments (of ``tables``, None: all), for a helpful error."""
    names: set[str] = set()
    for table in ruleset.tables:
        if tables is not None and table.name not in tables:
            continue
        for chain in table.chains:
            if _is_per_service(chain.name):
                continue
            for rule in chain.rules:
                owner = _owner(rule)
                if owner is not None:
                    names.add(f"{owner[0]}/{owner[1]}" + (f":{owner[2]}" if owner[2] else ""))
    return sorted(names)


NODE_PORT_CHAINS = ("KUBE-NODEPORTS",)


def _is_node_port_rule(rule: Rule) -> bool:
    """A rule on the node's own addresses (``--dst-type LOCAL``): its ``--dport`` is a node port."""
    return any(o.flag == "--dst-type" and o.value == "LOCAL" and not o.negated for o in rule.parsed.options)


def _port_names_for_number(indexes: Iterable[_TableIndex], ref: ServiceRef) -> set[str | None]:
    """Port names of the service whose rules in the shared chains match ``--dport`` = ref.port.

    Every table searched counts: a service without endpoints has no nat rules, only filter REJECTs
    (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES) that carry the port. Node-port rules (KUBE-NODEPORTS, and
    ``--dst-type LOCAL`` ones) match the node port, not the service's, and are left out. Only the
    service's own rules are read, from each table's index of owners.
    """
    names: set[str | None] = set()
    for index in indexes:
        for owner, where in index.owned.items():
            if owner[:2] != (ref.namespace, ref.name) or owner[2] in names:
                continue
            for chain_name, positions in where.items():
                if chain_name in NODE_PORT_CHAINS:
                    continue
                rules = index.chains[chain_name].rules
                if any(_matches_port(rules[i], ref.port) for i in positions):
                    names.add(owner[2])
                    break
    return names


def _matches_port(rule: Rule, port: str | None) -> bool:
    """A service-port rule whose ``--dport`` is ``port`` (not a node port's)."""
    ports = [o.value for o in rule.parsed.options if o.flag in ("--dport", "--dports") and not o.negated]
    return port in ports and not _is_node_port_rule(rule)


def select_service(ruleset: Ruleset, ref: ServiceRef, tables: tuple[str, ...] | None = None,
                   unproxied: str | None = None) -> Selection:
    """The rules one service port's packets can meet on this node; InputError naming the choices if none, and
    ``unproxied``, why kube-proxy writes no rules for the Service when the objects say (an ExternalName one)."""
    wanted = [_TableIndex(t) for t in ruleset.tables if tables is None or t.name in tables]
    choices = [[ref]]
    if ref.port is not None and ref.port.isdigit():
        # a number names every port with that number (53/UDP and 53/TCP, say): all of them are drawn
        choices.append([ServiceRef(ref.namespace, ref.name, name)
                        for name in sorted(_port_names_for_number(wanted, ref), key=str)])
    for refs in choices:
        parts = [select_table(t, candidate) for t in wanted for candidate in refs]
        if any(parts):
            return Selection(frozenset().union(*(p.full for p in parts)),
                             frozenset().union(*(p.positions for p in parts)))
    known = known_services(ruleset, tables)
    where = f" in the {' and '.join(tables)} table" + ("s" if len(tables) > 1 else "") if tables else ""
    hint = f"expected one of: {one_of(str(ref), known, 'service ports')}" if known else \
        "no rule there names a service"
    why = f": {unproxied}" if unproxied else ""
    raise InputError(Diagnostic(f"no rules for service port {ref}{where}{why}; {hint}", field="--service"))


def scope_service(ruleset: Ruleset, ref: ServiceRef, tables: tuple[str, ...] | None = None) -> Ruleset:
    """The ruleset cut down to one service port's rules (see :func:`select_service`)."""
    selection = select_service(ruleset, ref, tables)
    scoped = (scope_table(t, selection) for t in ruleset.tables if tables is None or t.name in tables)
    return Ruleset(tuple(t for t in scoped if t is not None), ruleset.ipv6)


def scope_graph(graph: Graph, selection: Selection) -> Graph:
    """The graph cut down to a selection: its edges, and the nodes they join.

    Cutting the drawn graph rather than the ruleset keeps each rule's position
    and each split's shares as they are in the whole chain.
    """
    edges = tuple(e for e in graph.edges if selection.keeps(e.table, e.chain, e.position))
    used = {e.source for e in edges} | {e.target for e in edges}
    return Graph(tuple(n for n in graph.nodes if n.id in used), edges, graph.title)
