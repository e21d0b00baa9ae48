"""The compiled form a walk moves through: rules, chains and the ruleset, and chains compiled on demand.

Jumps are resolved to chain objects, so no name is looked up while tracing.
Long chains (KUBE-SERVICES, KUBE-NODEPORTS: one or two rules per service
port) are indexed: rules that test one destination address (or one
protocol/port) are bucketed by it, and a lookup returns that bucket merged in
order with the rules the index cannot place. A trace then costs about the same
at 100 or 10,000 services.

A :class:`LazyChain` compiles its rules when a walk first reads them, through
the table compiler it was made with (:mod:`~kubeproxy_sim.netfilter.compile_tables`,
seen here only as a :class:`ChainCompiler`, so this module does not import it),
and links them to its table's chains (a :class:`LazyTable`, reached through a
weak reference: a lazy ruleset holds no reference cycle).
:func:`chain_reads` is what a tracer memoises a walk from a chain on. A table whose built-in chains reach
chains that jump in a circle is refused (:func:`refuse_table_circles`), as the kernel refuses to load it: a walk
never enters a circle, whatever the rules on it match.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from kubeproxy_sim.errors import Diagnostic, InputError
from kubeproxy_sim.netfilter.compile_types import Check, IndexKey, Kind, NatRange, PathStep
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Rule, Table, Target
from kubeproxy_sim.netfilter.syntax import jump_target
from kubeproxy_sim.objects.values import value_class

INDEX_MIN_RULES = 16
_Node = TypeVar("_Node")
_Arrow = TypeVar("_Arrow")


class ChainCompiler(Protocol):
    """What compiles the rules of a :class:`LazyChain` (the table compiler of ``compile_tables``)."""

    table: Table
    """The table as written, whose chains it compiles."""

    def rules(self, name: str) -> tuple[CompiledRule, ...]:
        """A chain's rules compiled, jumps not linked yet."""
        ...

    def source(self, name: str) -> Chain:
        """The chain as written, for what must be read of it before it is compiled (the recent lists it names,
        which the kernel creates when the rules load)."""
        ...


@dataclass(slots=True)
class CompiledRule:
    """One rule, ready to evaluate. ``jump`` is filled in once every chain exists."""

    rule: Rule
    table: str
    checks: tuple[Check, ...]
    kind: Kind
    split: tuple[int, int] | None = None  # (numerator, denominator) of the match probability
    split_mode: str = ""  # "random" or "nth" (how a sampling run draws it)
    doubts: tuple[str, ...] = ()  # unmodelled parts, assumed to match
    target: Target | None = None
    jump_name: str = ""
    jump: CompiledChain | None = None
    nat: NatRange | None = None
    mark: tuple[int, int, str] | None = None  # (value, mask, operation) for MARK/CONNMARK
    recent: tuple[str, str, int, int] | None = None  # (name, command, addr mask, hitcount) for recent side effects
    index_key: IndexKey = (None, None)
    step: PathStep | None = None  # this rule as a step of a path
    reads: frozenset[str] | None = None  # branch fields the checks and the effect read (None: not known)
    zone: int | None = None  # CT_ZONE: the zone's id (None: the packet's mark, --zone mark)

    @property
    def line(self) -> int:
        return self.rule.line

    def text(self) -> str:
        return self.rule.text()


class PseudoRule(CompiledRule):
    """A step of a walk that is no rule of a chain: a built-in chain's policy, or a routing decision.

    It has no checks; its :meth:`text` is its own (the chain's declaration, ``routing decision``)
    and its line the declaration's (0 when not known, and for a routing decision). A walk that
    falls off the end of a built-in chain with a DROP policy puts that policy on the path (its
    kind is the verdict, so a reader of the path's last step sees what decided); the routing
    decisions only carry doubts (the ``rule`` of an ``uncertain`` entry with no line).
    """

    __slots__ = ("label",)

    def __init__(self, table: str, chain: str, line: int, label: str, kind: Kind = Kind.CONTINUE) -> None:
        CompiledRule.__init__(self, Rule(chain, "", line), table, (), kind, reads=frozenset())
        self.label = label
        self.step = PathStep(table, chain, line or None, label)

    def text(self) -> str:
        return self.label


def policy_rule(table: str, chain: str, line: int = 0, counters: tuple[int, int] | None = None) -> PseudoRule:
    """A built-in chain's DROP policy as a path step: its declaration as iptables-save prints it, at its line
    (line 0, a chain not read from a dump: the step has no line and reads ``policy``)."""
    packets, octets = counters or (0, 0)
    return PseudoRule(table, chain, line, f":{chain} DROP [{packets}:{octets}]", Kind.DROP)


@dataclass(slots=True)
class CompiledChain:
    """A chain's rules; ``index`` maps a key of the packet to the rules that can match it."""

    name: str
    table: str
    rules: tuple[CompiledRule, ...]
    policy: str | None = None
    index_on: str = ""  # "", "dst" or "dport"
    index: dict[object, tuple[CompiledRule, ...]] = field(default_factory=dict)
    rest: tuple[CompiledRule, ...] = ()
    compiler: LazyCompiler | None = field(default=None, repr=False, compare=False)  # what compiles a LazyChain
    policy_rule: CompiledRule | None = field(default=None, repr=False, compare=False)
    """A built-in chain's DROP policy as a path step (:func:`policy_rule`); None for any other chain."""

    def rules_for(self, b: object) -> tuple[CompiledRule, ...]:
        """The rules that can match the branch's packet, in order."""
        if not self.index_on:
            return self.rules
        key = b.dst if self.index_on == "dst" else (b.proto, b.dport)  # type: ignore[attr-defined]
        return self.index.get(key, self.rest)


@value_class
class CompiledRuleset:
    """Tables by name, each a dict of chains by name; ``family`` is 4 or 6."""

    family: int
    tables: dict[str, dict[str, CompiledChain]]
    problems: tuple[tuple[Rule, str], ...] = ()  # rules that could not be compiled (empty when lazy)

    def chain(self, table: str, name: str) -> CompiledChain | None:
        return self.tables.get(table, {}).get(name)

    def release(self) -> None:
        """Cut the link each chain not compiled yet keeps to its table compiler (and through it to the source
        table and the memo), for a caller that may keep a chain: the chains not compiled yet can no longer be.

        Dropping a lazy ruleset frees it by reference counting, released or not (a LazyChain reaches its
        table's chains through a weak reference: there is no cycle for the cyclic collector to find).
        """
        for chains in self.tables.values():
            for chain in chains.values():
                if isinstance(chain, LazyChain):
                    chain.compiler = None


def refuse_table_circles(table: Table, line: Callable[[str, int], int] | None = None,
                         targets: Mapping[str, Collection[str]] | None = None) -> None:
    """Raise an InputError when chains reached from the table's built-in chains jump in a circle.

    As the kernel checks a table before loading it (ip_tables' mark_source_chains walks from each hook's chain,
    nf_tables' loop check from each base chain): a circle no built-in chain reaches is loaded (checked with
    iptables-nft-restore and iptables-legacy-restore), and no walk enters it. Every -j and -g to a chain is an
    arrow, whatever the rule matches (a rule that matches half the packets, ``-m statistic``, still closes a
    circle). One linear pass by chain name over the rules' text (:func:`.syntax.jump_target`: a rule is parsed only
    when a user chain's name follows a -j or -g that is not its last word), unless ``targets`` gives each chain's
    -j/-g words in the order its rules first name them (the parser notes them as it reads a table that only -A
    filled: no rule is read again, 0.4 s at 10,000 services; only a circle's rules are, to name its jumps).
    ``line(chain, i)``: the line the message names for the chain's i-th rule (default: the line it was read from).
    Compiling up front (compile_tables), a lazy compile (the same, before any walk) and graph all check a table
    with this. A table a validating parse checked already (``Table.circles_checked``: the codec sets it after its
    own call here) is not walked again.
    """
    if table.circles_checked:
        return
    users = {chain.name for chain in table.chains}.difference(BUILTIN_CHAINS.get(table.name, ()))
    if targets is None:
        targets = {chain.name: [word for spec in (chain.specs if chain.specs is not None else
                                                  [r.spec for r in chain.rules])
                                if (word := jump_target(spec, users)) is not None] for chain in table.chains}
    # A chain that jumps to no chain on a circle is on none: peeled off (C-level set tests) until each left jumps to
    # one left, the walk then meets the same circle first (kube-proxy's tables peel away whole: 0.3 s of walk saved
    # at 10,000 services).
    live = {name for name, words in targets.items() if not users.isdisjoint(words)}  # (built-in chains too)
    while True:
        ends = live & users
        peeled = {name for name in live if not ends.isdisjoint(targets[name])}
        if len(peeled) == len(live):
            break
        live = peeled
    arrows = {name: [word for word in targets[name] if word in ends] for name in live}
    roots = [c.name for c in table.chains if c.name not in users]

    def pairs(name: str) -> Iterator[tuple[str, str]]:  # a zip, not a generator: 110,000 chains at 10,000 services
        out = arrows.get(name, ())
        return zip(out, out, strict=True)

    found = find_circle(roots, pairs, str)
    if found is not None:
        ring = found[0]
        jumps = [next(i for i, rule in enumerate(table.chain(name).rules)  # type: ignore[union-attr]
                      if jump_target(rule.spec, users) == to)
                 for name, to in zip(ring, [*ring[1:], ring[0]], strict=True)]
        raise circle_error(table.name, ring, [line(name, i) if line is not None else
                                              table.chain(name).rules[i].line  # type: ignore[union-attr]
                                              for name, i in zip(ring, jumps, strict=True)])


def refuse_circles(roots: Iterable[CompiledChain]) -> None:
    """Raise an InputError when the jumps of the compiled chains reached from ``roots`` go round in a circle.

    Arrows as :func:`refuse_table_circles` counts them. A lazy chain checks itself with this when it is linked
    (any new circle passes through it, and a walk reached it from a built-in chain), before a walk goes on
    through it: the table was checked by name before any walk, and this catches what that pass does not read.
    A chain not compiled yet (:class:`LazyChain`) is not entered.
    """

    def arrows(chain: CompiledChain) -> Iterator[tuple[CompiledChain, CompiledRule]]:
        return ((r.jump, r) for r in chain.rules if r.jump is not None and type(r.jump) is not LazyChain)

    found = find_circle((c for c in roots if type(c) is not LazyChain), arrows, id)
    if found is not None:
        chains, rules = found
        raise circle_error(rules[0].table, [c.name for c in chains], [r.line for r in rules])


def circle_error(table: str, ring: list[str], lines: list[int]) -> InputError:
    """Chains that jump in a circle: ``ring`` goes round it, ``lines[i]`` the line of the jump from ``ring[i]``
    to the next. Named from the chain the last-written jump goes to, at that jump's line (A -> B -> A), so that
    the message does not hang on which chain a walk compiled first; the caller that read a dump adds its file."""
    last = max(range(len(ring)), key=lambda i: lines[i])
    start = (last + 1) % len(ring)
    names = ring[start:] + ring[:start] + [ring[start]]
    return InputError(Diagnostic(f"the {table} table's chains jump in a circle: {' -> '.join(names)}; the kernel "
                                 "refuses to load such rules (iptables-restore: RULE_APPEND failed (Too many links))",
                                 line=lines[last] or None))


def find_circle(roots: Iterable[_Node], arrows: Callable[[_Node], Iterable[tuple[_Node, _Arrow]]],
                key: Callable[[_Node], Hashable]) -> tuple[list[_Node], list[_Arrow]] | None:
    """The first circle a depth-first walk from each root in turn meets: its nodes, and the arrow from each to
    the next (the last: back to the first); None when there is none. ``key``: a node's identity. Its own stack:
    chains may nest thousands deep."""
    done: set[Hashable] = set()
    for root in roots:
        if key(root) in done:
            continue
        path, on_path, todo = [root], {key(root)}, [iter(arrows(root))]
        via: list[_Arrow] = []
        while todo:
            for target, arrow in todo[-1]:
                seen = key(target)
                if seen in done:
                    continue
                if seen in on_path:
                    start = next(i for i, node in enumerate(path) if key(node) == seen)
                    return path[start:], [*via[start:], arrow]
                path.append(target)
                via.append(arrow)
                on_path.add(seen)
                todo.append(iter(arrows(target)))
                break
            else:
                finished = key(path.pop())
                if via:
                    via.pop()
                on_path.discard(finished)
                done.add(finished)
                todo.pop()
    return None


def link_chain(chain: CompiledChain, chains: dict[str, CompiledChain]) -> None:
    """Resolve the chain's jumps to chain objects and index it."""
    for rule in chain.rules:
        if rule.jump_name:
            rule.jump = chains[rule.jump_name]
    build_index(chain)


def build_index(chain: CompiledChain) -> None:
    """Index a long chain on whichever key places more of its rules."""
    rules = chain.rules
    if len(rules) < INDEX_MIN_RULES:
        return
    by_dst = sum(1 for r in rules if r.index_key[0] is not None)
    by_port = sum(1 for r in rules if r.index_key[1] is not None)
    if max(by_dst, by_port) < len(rules) // 2:
        return
    slot = 0 if by_dst >= by_port else 1
    buckets: dict[object, list[CompiledRule]] = {}
    rest: list[CompiledRule] = []
    for rule in rules:
        key = rule.index_key[slot]
        if key is None:
            rest.append(rule)
        else:
            buckets.setdefault(key, []).append(rule)
    position = {id(r): i for i, r in enumerate(rules)}
    chain.index = {k: tuple(sorted([*v, *rest], key=lambda r: position[id(r)])) for k, v in buckets.items()}
    chain.rest = tuple(rest)
    chain.index_on = "dst" if slot == 0 else "dport"


INDEX_READS = {"": frozenset(), "dst": frozenset({"dst"}), "dport": frozenset({"proto", "dport"})}


def chain_reads(chain: CompiledChain) -> frozenset[str] | None:
    """The branch fields a walk from ``chain`` can read (through every chain it may jump to), or None.

    This is what makes memoising a walk sound: two branches that agree on these fields take
    the same rules, forks and verdicts.
    """
    fields: set[str] = set()
    seen: set[int] = set()
    todo = [chain]
    while todo:
        here = todo.pop()
        if id(here) in seen:
            continue
        seen.add(id(here))
        fields |= INDEX_READS[here.index_on]
        for rule in here.rules:
            if rule.reads is None:
                return None
            fields |= rule.reads
            if rule.jump is not None:
                todo.append(rule.jump)
    return frozenset(fields)


def _lazy_field(name: str) -> property:
    """A CompiledChain field that compiles the chain on first read (see :class:`LazyChain`)."""
    slot = getattr(CompiledChain, name)

    def get(self: LazyChain) -> object:
        self._compile()
        return slot.__get__(self, CompiledChain)

    return property(get, slot.__set__)


class LazyTable(dict[str, "CompiledChain"]):
    """A table's chains by name when they are compiled lazily: a dict its :class:`LazyChain` s can refer to
    weakly (a plain dict cannot be), so that the table and its chains make no reference cycle."""

    __slots__ = ("__weakref__",)


LazyCompiler = tuple[ChainCompiler, "weakref.ref[LazyTable]"]
"""What a :class:`LazyChain` compiles with: its table compiler, and its table's chains (weakly), shared by the
table's lazy chains."""


class LazyChain(CompiledChain):
    """A chain whose rules are compiled when first read: a walk pays only for the chains it enters.

    Once compiled it becomes a plain :class:`CompiledChain` (same slots, so the class can be
    swapped): walks through it cost exactly what they cost in a ruleset compiled up front.
    Like the tracer itself, it is for one thread at a time. Until compiled it refers to its
    table's chains, itself among them, through a weak reference (no cycle: a dropped ruleset is freed by
    reference counting, and a bulk build of one need not wait for the cyclic collector); so it can be
    compiled while its table (its ruleset) is held, as a tracer holds it.
    """

    __slots__ = ()

    def __init__(self, name: str, table: str, policy: str | None, compiler: LazyCompiler,
                 policy_step: CompiledRule | None = None) -> None:
        CompiledChain.__init__(self, name, table, (), policy, compiler=compiler, policy_rule=policy_step)

    def _compile(self) -> None:
        if self.compiler is None:  # cut by CompiledRuleset.release(): the chain can no longer be compiled
            raise TypeError(f"chain {self.name} was released before it was compiled")
        table, held = self.compiler
        chains = held()
        if chains is None:
            raise TypeError(f"chain {self.name} outlived its table before it was compiled")
        self.__class__ = CompiledChain  # type: ignore[assignment]
        self.compiler = None
        self.rules = table.rules(self.name)  # a chain at a time: too few objects to pause the collector for
        link_chain(self, chains)
        try:
            refuse_circles((self,))  # any new circle passes through this chain
        except InputError:  # left to be compiled (and refused) again, not entered by a later walk
            self.__class__ = LazyChain
            self.compiler = (table, held)
            raise

    rules = _lazy_field("rules")
    index_on = _lazy_field("index_on")
    index = _lazy_field("index")
    rest = _lazy_field("rest")
