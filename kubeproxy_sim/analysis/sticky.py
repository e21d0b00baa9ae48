"""Where a client held in an endpoint's ``recent`` list goes, for every endpoint of an entry from one walk.

The sticky check (:func:`kubeproxy_sim.analysis.affinity.sticky_checks`) traces an entry once per endpoint with
the client in that endpoint's list. Each such walk passes the service chain's ``--rcheck`` rules one by one up to
the endpoint's own: at 1,000 endpoints, half a million rule checks per entry. Here the entry is walked once with
no list known to hold the client: every rule whose match hangs on a list records a doubt (assumed not to hold,
which is what a list not held does), so each branch carries, in order, the rules that read each list, and the
rules it matched. The walk holding one list ``L`` is derived from it where the walk proves these:

1. Every branch has the same history up to ``D``, the first rule that reads ``L``: the same rules matched and no
   split taken before it. The walk holding ``L`` is then this one up to ``D``, with the whole probability; ``L``
   was ``D``'s only doubt, so there ``D`` matches, and it is a jump (no split) to a chain ``J``.
2. ``D``'s chain was entered once, and every branch went on at one of its later rules (``r``, the first of it
   matched after ``D``). Nothing matched between ``D`` and ``r``, so the branches at an ``r`` that jumps to ``J``
   are in the state the walk holding ``L`` has at ``D``; exactly one such ``r`` must exist.
3. Those branches ended the table's walk inside ``J`` or a chain below it, never returning to ``D``'s chain or its
   callers (where the two walks would resume at different rules), and no rule they met later reads ``L``.

Then the walk holding ``L`` ends as the branches after ``r`` do, scaled to the whole: the client returns to the
endpoint with probability 1 when they all reach it, 0 when none does. Anything else (a mix, a rule shape not
covered) answers None and the caller traces that list. kube-proxy's rules (the ``--rcheck`` rules, then the
random split, each jumping to the endpoint's KUBE-SEP chain that DNATs) always fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction

from kubeproxy_sim.netfilter.compile import TERMINAL_NAT, CompiledChain, CompiledRule, CompiledRuleset, Kind
from kubeproxy_sim.netfilter.evaluate import Branch, End, Engine, NodeContext, end_of
from kubeproxy_sim.netfilter.packet import Packet

JUMPS = frozenset({Kind.JUMP, Kind.GOTO})
VERDICTS = frozenset({Kind.ACCEPT, Kind.DROP, Kind.REJECT, *TERMINAL_NAT})
"""Targets that end a table's walk (a NAT target ends the nat table's with ACCEPT)."""
MEMBERSHIP = frozenset({"--rcheck", "--update", "--remove"})
"""The recent commands that read whether a list holds the client (``--set`` holds it either way)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Fork:
    """Where the branches part in a chain: ``below`` is the smallest position in the chain of the rules they
    matched at one path position, ``jumps`` the branches by the chain that rule jumps or goes to (one list per
    rule)."""

    below: int
    jumps: dict[int, list[list[End]]]


class UnheldWalk:
    """One entry's walk with no list known to hold the client; :meth:`returns` answers per list."""

    def __init__(self, compiled: CompiledRuleset, node: NodeContext, packet: Packet) -> None:
        self.compiled = compiled
        self.first_read: dict[str, int] = {}  # list -> where the shared doubts first read it
        self.reasons: dict[str, tuple[int, int]] = {}  # doubt -> (first position, occurrences) in the shared doubts
        self.rule_doubts: dict[int, int] = {}  # id(rule) -> its doubts in the shared doubts
        self._orders: dict[int, dict[int, int] | None] = {}
        self._forks: dict[tuple[int, int], _Fork | None] = {}
        # a context that already holds lists, or does not know which, is not the sticky check's: nothing is read
        known = not node.affinity and node.affinity_known
        unknown = dataclasses.replace(node, affinity=frozenset(), affinity_known=False)
        self.ends: list[End] = Engine(compiled, unknown).walk(packet) if known else []
        if not self.ends:
            return
        self.first = first = self.ends[0][0]
        self.shared_doubts = _shared_length([b.doubts for b, _ in self.ends], first.doubts)
        self.shared_path = _shared_identity([b.path for b, _ in self.ends], first.path)
        for at, (rule, reason) in enumerate(first.doubts[:self.shared_doubts]):
            if rule.recent is not None and rule.recent[1] in MEMBERSHIP:
                self.first_read.setdefault(rule.recent[0], at)
            seen = self.reasons.get(reason)
            self.reasons[reason] = (at, 1) if seen is None else (seen[0], seen[1] + 1)
            self.rule_doubts[id(rule)] = self.rule_doubts.get(id(rule), 0) + 1

    def returns(self, list_name: str, endpoint: str) -> Fraction | None:
        """The chance a client held in ``list_name`` reaches ``endpoint``, when this walk proves it; else None."""
        at = self.first_read.get(list_name)
        if at is None:
            return None
        rule, reason = self.first.doubts[at]
        if self.reasons[reason] != (at, 1) or self.rule_doubts[id(rule)] != 1:
            return None  # read before, or again in the shared part, or the rule has another doubt
        target = rule.jump
        if rule.kind not in JUMPS or target is None or rule.split is not None:
            return None
        chain = self.compiled.chain(rule.table, rule.rule.chain)
        order = self._order(chain) if chain is not None else None
        if chain is None or order is None or id(rule) not in order:
            return None
        position = self._position(rule, chain, order)
        fork = self._fork(position, chain, order) if position is not None else None
        if position is None or fork is None or fork.below <= order[id(rule)]:
            return None
        found = fork.jumps.get(id(target), [])
        if len(found) != 1 or not self._ends_below(found[0], position, chain, target, reason):
            return None
        reached = {end_of(b, verdict)[1] == endpoint for b, verdict in found[0]}
        return None if len(reached) != 1 else Fraction(int(reached.pop()))

    def _order(self, chain: CompiledChain) -> dict[int, int] | None:
        """id(rule) -> its position in the chain (None when a rule object occurs twice)."""
        if id(chain) not in self._orders:
            order = {id(rule): i for i, rule in enumerate(chain.rules)}
            self._orders[id(chain)] = order if len(order) == len(chain.rules) else None
        return self._orders[id(chain)]

    def _position(self, rule: CompiledRule, chain: CompiledChain, order: dict[int, int]) -> int | None:
        """The position in the shared path of the first rule of ``chain`` matched after ``rule``, when before it
        the chain was entered once, ``rule`` did not match and no split was taken; else None."""
        index, entered = order[id(rule)], 0
        for position, matched in enumerate(self.first.path):
            if order.get(id(matched), -1) > index:
                return position if entered == 1 and position <= self.shared_path else None
            if matched is rule or matched.split is not None:
                return None
            entered += matched.jump is chain
        return None

    def _fork(self, position: int, chain: CompiledChain, order: dict[int, int]) -> _Fork | None:
        """Every branch by the rule of ``chain`` it matched at ``position`` (None: one matched something else)."""
        key = (position, id(chain))
        if key not in self._forks:
            groups: dict[int, tuple[CompiledRule, list[End]]] = {}
            for end in self.ends:
                path = end[0].path
                taken = path[position] if len(path) > position else None
                if taken is None or id(taken) not in order:
                    self._forks[key] = None
                    return None
                groups.setdefault(id(taken), (taken, []))[1].append(end)
            jumps: dict[int, list[list[End]]] = {}
            for taken, ends in groups.values():
                if taken.kind in JUMPS and taken.jump is not None:
                    jumps.setdefault(id(taken.jump), []).append(ends)
            self._forks[key] = _Fork(min(order[i] for i in groups), jumps)
        return self._forks[key]

    def _ends_below(self, ends: list[End], position: int, chain: CompiledChain, target: CompiledChain,
                    reason: str) -> bool:
        """Whether each branch ended the table's walk in ``target`` or below it, and read the list no more."""
        below = _chains_below(target)
        callers = {chain.name, *(m.rule.chain for m in self.first.path[:position]
                                 if m.kind in JUMPS and m.table == chain.table)}
        if below & callers:
            return False
        return all(_ended_in(b, position, chain.table, below) and
                   all(doubt[1] != reason for doubt in b.doubts[self.shared_doubts:]) for b, _ in ends)


def _ended_in(b: Branch, position: int, table: str, chains: frozenset[str]) -> bool:
    """Whether, after the rule at ``position``, the branch matched only rules of ``chains`` until one ended the
    table's walk."""
    for matched in b.path[position + 1:]:
        if matched.table != table or matched.rule.chain not in chains:
            return False
        if matched.kind in VERDICTS:
            return True
    return False


def _chains_below(chain: CompiledChain) -> frozenset[str]:
    """The chain and every chain its rules jump or go to, and theirs (names, in its table)."""
    seen: set[str] = set()
    todo = [chain]
    while todo:
        here = todo.pop()
        if here.name not in seen:
            seen.add(here.name)
            todo.extend(rule.jump for rule in here.rules if rule.jump is not None)
    return frozenset(seen)


def _shared_length(lists: Sequence[list], first: list) -> int:
    """How many leading items every list has equal to ``first``'s (a branch's doubts: equal content is what the
    counts read; the lists share most items as objects, so comparing them costs little)."""
    length = len(first)
    for items in lists:
        length = min(length, len(items))
        if items[:length] != first[:length]:
            low, high = 0, length - 1  # the longest equal prefix is shorter than ``length``
            while low < high:
                middle = (low + high + 1) // 2
                if items[:middle] == first[:middle]:
                    low = middle
                else:
                    high = middle - 1
            length = low
    return length


def _shared_identity(lists: Sequence[list], first: list) -> int:
    """How many leading items every list has that are ``first``'s very objects (a branch's matched rules)."""
    length = len(first)
    for items in lists:
        length = min(length, len(items))
        length = next((i for i in range(length) if items[i] is not first[i]), length)
    return length
