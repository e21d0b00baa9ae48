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
from dataclasses import dataclass

from kubeproxy_sim.errors import Diagnostic, InputError, one_of
from kubeproxy_sim.graph.build import CHAIN_PREFIXES, chain_index, is_chain_target
from kubeproxy_sim.graph.labels import service_port_of
from kubeproxy_sim.graph.model import Graph
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table

SERVICE_REF = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::([^\s:]*))?$")
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
    match = SERVICE_REF.match(text.strip())
    if match is None:
        raise InputError(Diagnostic(f"{text!r} is not a service; expected NAMESPACE/NAME or NAMESPACE/NAME:PORT "
                                    "(PORT: the port's name, or its number)", field="--service"))
    return ServiceRef(match.group(1), match.group(3), match.group(5) or None)


def _is_per_service(name: str) -> bool:
    return name.startswith(PER_SERVICE_PREFIXES)


def _owner(rule: Rule) -> tuple[str, str, str | None] | None:
    return service_port_of(rule.parsed)


def _seeds(table: Table, ref: ServiceRef) -> dict[str, set[int]]:
    """Rules about the service in the shared chains, by chain and index."""
    seeds: dict[str, set[int]] = {}
    for chain in table.chains:
        if _is_per_service(chain.name):
            continue
        for index, rule in enumerate(chain.rules):
            owner = _owner(rule)
            if owner is not None and ref.names(owner):
                seeds.setdefault(chain.name, set()).add(index)
    return seeds


def _reachable(table: Table, starts: set[str]) -> set[str]:
    """Chains reachable from ``starts`` (included), following every jump."""
    chains = chain_index(table)
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


def _jumps_to(table: Table, targets: set[str], exclude: set[str]) -> dict[str, set[int]]:
    """Jump rules into ``targets`` from the chains that are not per-service and not in ``exclude``."""
    found: dict[str, set[int]] = {}
    for chain in table.chains:
        if chain.name in exclude or _is_per_service(chain.name):
            continue
        for index, rule in enumerate(chain.rules):
            target = rule.target
            if target is not None and target.name in targets:
                found.setdefault(chain.name, set()).add(index)
    return found


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


def select_table(table: Table, ref: ServiceRef) -> Selection:
    """The part of one table a packet of the service can take (empty: the table has nothing about it)."""
    kept = _seeds(table, ref)
    if not kept:
        return Selection()
    full = _reachable(table, _targets(table, kept))
    if "KUBE-MARK-MASQ" in full and table.chain("KUBE-POSTROUTING") is not None:
        _merge(kept, _jumps_to(table, {"KUBE-POSTROUTING"}, full))
        full |= _reachable(table, {"KUBE-POSTROUTING"})
    anchors = set(kept)
    while _merge(kept, _jumps_to(table, anchors, full)):
        anchors = set(kept)
    positions = {(table.name, name, index + 1) for name, indices in kept.items() if name not in full
                 for index in indices}
    return Selection(frozenset((table.name, name) for name in full), frozenset(positions))


def scope_table(table: Table, selection: Selection) -> Table | None:
    """The table cut down to a selection (None: nothing of it is selected)."""
    chains = []
    for chain in table.chains:
        rules = tuple(r for i, r in enumerate(chain.rules, start=1) if selection.keeps(table.name, chain.name, i))
        if (table.name, chain.name) in selection.full or rules:
            chains.append(Chain(chain.name, rules, chain.policy, chain.counters))
    return Table(table.name, tuple(chains)) if chains else None


def _targets(table: Table, kept: dict[str, set[int]]) -> set[str]:
    chains = chain_index(table)
    names: set[str] = set()
    for chain_name, indices in kept.items():
        chain = chains[chain_name]
        for index in indices:
            target = chain.rules[index].target
            if target is not None and is_chain_target(chains, target.name):
                names.add(target.name)
    return names


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


def _port_names_for_number(ruleset: Ruleset, ref: ServiceRef) -> set[str | None]:
    """Port names of the service whose KUBE-SERVICES rule matches ``--dport`` = ref.port (unnamed ports)."""
    names: set[str | None] = set()
    nat = ruleset.table("nat")
    services = nat.chain("KUBE-SERVICES") if nat else None
    for rule in services.rules if services else ():
        owner = _owner(rule)
        if owner is None or owner[:2] != (ref.namespace, ref.name):
            continue
        ports = [o.value for o in rule.parsed.options if o.flag in ("--dport", "--dports") and not o.negated]
        if ref.port in ports:
            names.add(owner[2])
    return names


def select_service(ruleset: Ruleset, ref: ServiceRef, tables: tuple[str, ...] | None = None) -> Selection:
    """The rules one service port's packets can meet on this node; InputError naming the choices if none."""
    wanted = [t for t in ruleset.tables if tables is None or t.name in tables]
    choices = [[ref]]
    if ref.port is not None and ref.port.isdigit():
        # a number names every port with that number (53/UDP and 53/TCP, say): all of them are drawn
        choices.append([ServiceRef(ref.namespace, ref.name, name)
                        for name in sorted(_port_names_for_number(ruleset, ref), key=str)])
    for refs in choices:
        parts = [select_table(t, candidate) for t in wanted for candidate in refs]
        if any(parts):
            return Selection(frozenset().union(*(p.full for p in parts)),
                             frozenset().union(*(p.positions for p in parts)))
    known = known_services(ruleset, tables)
    where = f" in the {' and '.join(tables)} table" + ("s" if len(tables) > 1 else "") if tables else ""
    hint = f"expected one of: {one_of(str(ref), known, 'service ports')}" if known else \
        "no rule there names a service"
    raise InputError(Diagnostic(f"no rules for service port {ref}{where}; {hint}", field="--service"))


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
