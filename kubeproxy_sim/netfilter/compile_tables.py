"""The ruleset compiler: each table's chains compiled up front, or lazily, with a memo shared across rulesets.

Compiling is most of the cost of tracing one packet through a large dump
(about 25 µs a rule), so a ruleset can also be compiled lazily: each chain
when a walk first enters it (``compile_ruleset(..., lazy=True)``). Many
packets through one ruleset are faster compiled up front.

A rule that cannot be compiled at all stays in its chain as a rule that never
matches and says why, so a walk reports it exactly when it passes it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.compile_chains import (
    CompiledChain,
    CompiledRule,
    CompiledRuleset,
    LazyChain,
    LazyTable,
    link_chain,
    policy_rule,
    refuse_circles,
    refuse_table_circles,
)
from kubeproxy_sim.netfilter.compile_rules import compile_rule
from kubeproxy_sim.netfilter.compile_types import Doubt, Kind, PathStep, reading
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Rule, Ruleset, Table
from kubeproxy_sim.objects.bulk import collector_paused, draft_class


def _path_step(table: str, chain: str, line: int | None, text: str) -> PathStep:
    """``PathStep(...)`` built on a draft (objects.bulk.draft_class; one per rule compiled): every field of
    PathStep must be written here (tests/netfilter/test_model_drafts.py checks)."""
    step = _new(_STEP_DRAFT)
    step.table = table
    step.chain = chain
    step.line = line
    step.rule = text
    step.__class__ = PathStep
    return step


_new = object.__new__
_STEP_DRAFT: Any = draft_class(PathStep)


RuleMemo = dict[tuple[str, str], tuple[str, bool, CompiledRule]]
"""Rules compiled before, by (table, spec): the target's name, whether it was a chain of the table, the rule.

Every node of a cluster holds the same rule text for a service (chain names are hashes of the
service and endpoint), so tracing a question on every node compiles each text once with a memo
shared by the nodes' rulesets (``compile_ruleset(..., memo=...)``).
"""


BUILT_PER_RULE = 8
"""Objects tracked by the collector that compiling one rule up front builds, at least: 17 a rule of a kube-proxy
dump whose typed views (``Rule.parsed``) are still to build, 9.6 once they are, so ``Ruleset.rule_count() * 8``
does not overstate a build (objects.bulk's ``expected``)."""

BUILT_PER_MEMO_RULE = 3
"""As :data:`BUILT_PER_RULE` with a memo: 3.1 a rule whose text the memo already holds (19 when it does not)."""

Renumber = Callable[[str, Chain], Chain]
"""A chain of a table (by the table's name) as it is to be read: its rules numbered (saveform's
:meth:`~kubeproxy_sim.netfilter.saveform.SavedLines.numbered`), for a chain when it is compiled."""

BUILT_PER_LAZY_CHAIN = 2
"""Objects tracked by the collector that compiling one chain lazily builds: the chain and its (empty) index."""


def compile_ruleset(ruleset: Ruleset, *, lazy: bool = False, memo: RuleMemo | None = None,
                    renumber: Renumber | None = None, generated: bool = False) -> CompiledRuleset:
    """Compile every table (or, ``lazy``, each chain when first walked).

    A rule that cannot be compiled is listed in ``problems`` (when not lazy) and stays
    in its chain as a rule that never matches and reports why. ``memo`` (shared by rulesets
    of one family) reuses what compiling a rule with the same text in the same table made.
    ``renumber``: each chain's rules are read from what it makes of the chain (their lines), so that
    a lazy compile numbers only the chains a walk enters.
    ``generated``: the ruleset is the proxier's own (objects -> ``generate`` -> ``node_tables``), which a lazy
    compile does not check for circles as a whole (see :meth:`_TableCompiler.lazy_chains`); a dump is checked.
    """
    family = 6 if ruleset.ipv6 else 4
    tables: dict[str, dict[str, CompiledChain]] = {}
    problems: list[tuple[Rule, str]] = []
    # One closure and record per rule, or two objects per chain when lazy (see objects.bulk): a large ruleset is
    # collected on the way in. No garbage cycle is made inside (netaddr's errors are dropped by objects.netaddr_safe's
    # helpers, a lazy chain refers to its table weakly; a test checks every dump).
    if lazy:
        expected = sum(len(table.chains) for table in ruleset.tables) * BUILT_PER_LAZY_CHAIN
    else:
        expected = ruleset.rule_count() * (BUILT_PER_MEMO_RULE if memo is not None else BUILT_PER_RULE)
    with collector_paused(expected):
        for table in ruleset.tables:
            compiler = _TableCompiler(table, family, memo, renumber)
            tables[table.name] = compiler.lazy_chains(generated) if lazy else compiler.all_chains()
            problems += compiler.problems
    return CompiledRuleset(family, tables, tuple(problems))


class _TableCompiler:
    """Compiles the chains of one table: all of them up front, or each when a walk first needs it."""

    def __init__(self, table: Table, family: int, memo: RuleMemo | None = None,
                 renumber: Renumber | None = None) -> None:
        self.table = table
        self.family = family
        self.names = {c.name for c in table.chains if not c.builtin} - set(BUILTIN_CHAINS.get(table.name, ()))
        self.sources = {chain.name: chain for chain in table.chains}
        self.problems: list[tuple[Rule, str]] = []
        self.memo = memo
        self.renumber = renumber

    def source(self, name: str) -> Chain:
        """The chain ``name`` as its rules are to be read: numbered by ``renumber`` (when given) on the way."""
        chain = self.sources[name]
        return chain if self.renumber is None else self.renumber(self.table.name, chain)

    def rules(self, name: str) -> tuple[CompiledRule, ...]:
        """A chain's rules compiled (jumps not linked yet), each with its path step."""
        table = self.table.name
        compiled: list[CompiledRule] = []
        for rule in self.source(name).rules:
            try:
                one = self._compile(rule, table)
            except (RulesSyntaxError, ValueError) as exc:
                one = _unusable(rule, table, str(exc))
                self.problems.append((rule, str(exc)))
            one.step = _path_step(table, name, rule.line or None, rule.text())
            compiled.append(one)
        return tuple(compiled)

    def _compile(self, rule: Rule, table: str) -> CompiledRule:
        """``compile_rule``, or a copy of what it made of the same text in another ruleset (``memo``).

        The copy shares everything that depends on the text alone; whether the target is a
        chain depends on the table too, so a text whose target is a chain here and was not
        there (or the other way round) is compiled afresh.
        """
        memo = self.memo
        if memo is None:
            return compile_rule(rule, table, self.names, self.family)
        key = (table, rule.spec)
        seen = memo.get(key)
        if seen is not None:
            target, was_chain, done = seen
            if (target in self.names) == was_chain:
                return _reused(done, rule)
        one = compile_rule(rule, table, self.names, self.family)
        target = one.target.name if one.target is not None else ""
        memo[key] = (target, target in self.names, one)
        return one

    def all_chains(self) -> dict[str, CompiledChain]:
        """Every chain, compiled in the order a walk reaches them (depth first from each chain in turn).

        The order is for the memory a trace touches: a service's KUBE-SVC chain and its KUBE-SEP
        chains (scattered through the dump, which sorts chains by name) are built one after the
        other, so their objects lie together. The result keeps the dump's order of chains and problems.
        """
        done: dict[str, CompiledChain] = {}
        for root in self.table.chains:
            stack = [root.name]
            while stack:
                name = stack.pop()
                if name in done:
                    continue
                compiled = self.rules(name)
                done[name] = CompiledChain(name, self.table.name, compiled, self.sources[name].policy,
                                           policy_rule=self.policy_step(name))
                stack.extend(reversed([r.jump_name for r in compiled if r.jump_name and r.jump_name not in done]))
        position = {name: i for i, name in enumerate(self.sources)}
        self.problems.sort(key=lambda problem: position[problem[0].chain])  # stable: a chain's in rule order
        chains = {chain.name: done[chain.name] for chain in self.table.chains}
        for chain in chains.values():
            link_chain(chain, chains)
        refuse_circles(chains[name] for name in BUILTIN_CHAINS.get(self.table.name, ()) if name in chains)
        return chains

    def lazy_chains(self, generated: bool = False) -> dict[str, CompiledChain]:
        """Every chain, to be compiled when first read; each reaches the others weakly (see LazyChain). A circle
        the built-in chains reach is refused now, by name (see refuse_table_circles), though no walk may enter it,
        as the kernel refuses the table.

        Not in a ``generated`` ruleset (a second at 10,000 services, most of a one-packet trace's set-up): the
        proxier's chains jump only downward (built-in -> KUBE-SERVICES and the other fixed chains -> KUBE-FW ->
        KUBE-EXT -> KUBE-SVC/SVL -> KUBE-SEP -> KUBE-MARK-MASQ ...), so it holds no circle;
        tests/netfilter/test_generated_acyclic.py holds that for clusters of every service kind and every
        scenario. Nor in a table a validating parse checked already (``Table.circles_checked``: a dump read by trace or
        graph). A chain a walk enters is still checked when it is compiled (LazyChain).
        """
        if not generated:
            refuse_table_circles(self.table, lambda name, i: self.source(name).rules[i].line)
        chains = LazyTable()
        compiler = (self, weakref.ref(chains))  # one for the table's chains
        for chain in self.table.chains:
            chains[chain.name] = LazyChain(chain.name, self.table.name, chain.policy, compiler,
                                           self.policy_step(chain.name))
        return chains

    def policy_step(self, name: str) -> CompiledRule | None:
        """A built-in chain's DROP policy as the step a walk ends its path with (None for the others)."""
        if self.sources[name].policy != "DROP":
            return None
        chain = self.source(name)  # its declaration's line
        return policy_rule(self.table.name, name, chain.line, chain.counters)


def _reused(done: CompiledRule, rule: Rule) -> CompiledRule:
    """A compiled rule for ``rule`` from one compiled from the same text: its own rule, jump and step."""
    return CompiledRule(rule, done.table, done.checks, done.kind, done.split, done.split_mode, done.doubts,
                        done.target, done.jump_name, None, done.nat, done.mark, done.recent, done.index_key,
                        None, done.reads, done.zone)


def _unusable(rule: Rule, table: str, why: str) -> CompiledRule:
    """A rule that cannot be compiled: in its place, a rule that never matches and says why when passed."""
    doubt = Doubt(f"the rule cannot be evaluated: {why}; it is skipped", False)
    return CompiledRule(rule, table, (reading(lambda b: doubt),), Kind.CONTINUE, index_key=(None, None),
                        reads=frozenset())
