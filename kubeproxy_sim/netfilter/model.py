"""The ruleset model shared by the codec, the evaluator, the simulator and the kernel backend.

A :class:`Rule` keeps its specification as canonical text (what follows
``-A CHAIN``), because that is what kube-proxy writes, what iptables-restore
reads and what a golden file compares; the typed view (options grouped by match
module, each with its negation, and the target with its options) is parsed from
that text on first use and cached. Rule generation therefore stays as cheap as
string formatting, and every consumer still works on typed values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a rule as written, e.g. ``! -s 10.0.0.0/8`` or ``--dport 80``.

    ``module`` is the match module that owns the option: "" for the built-in
    options (-s, -d, -p, -i, -o, -f), the module's own name for ``-m NAME``.
    """

    flag: str
    args: tuple[str, ...] = ()
    negated: bool = False
    module: str = ""

    @property
    def value(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True, slots=True)
class Target:
    """The verdict or jump of a rule and its options (``-j DNAT --to-destination ...``)."""

    name: str
    options: tuple[Option, ...] = ()
    goto: bool = False  # -g: no return to the calling chain

    def option(self, flag: str) -> Option | None:
        return next((o for o in self.options if o.flag == flag), None)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """The typed view of a rule: options in written order, then the target (None: no target)."""

    options: tuple[Option, ...] = ()
    target: Target | None = None

    def modules(self) -> tuple[str, ...]:
        return tuple(o.args[0] for o in self.options if o.flag == "-m")

    def module_options(self, module: str) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.module == module and o.flag != "-m")


@dataclass(frozen=True, slots=True)
class Rule:
    """``-A chain spec``; ``line`` is where it was read (0 when generated)."""

    chain: str
    spec: str
    line: int = field(default=0, compare=False)
    counters: tuple[int, int] | None = None
    _parsed: RuleSpec | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def parsed(self) -> RuleSpec:
        """The typed view, parsed once. Raises RulesSyntaxError for text that is not a rule."""
        cached = self._parsed
        if cached is None:
            from kubeproxy_sim.netfilter.syntax import parse_spec

            cached = parse_spec(self.spec, line=self.line)
            object.__setattr__(self, "_parsed", cached)
        return cached

    @property
    def target(self) -> Target | None:
        return self.parsed.target

    def text(self) -> str:
        return f"-A {self.chain} {self.spec}" if self.spec else f"-A {self.chain}"


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain: built-in ones have a policy, user-defined ones have none (``-``)."""

    name: str
    rules: tuple[Rule, ...] = ()
    policy: str | None = None
    counters: tuple[int, int] | None = None

    @property
    def builtin(self) -> bool:
        return self.policy is not None


@dataclass(frozen=True, slots=True)
class Table:
    """One ``*table ... COMMIT`` block.

    ``deleted`` holds the chains a restore input removes with ``-X`` (kube-proxy's
    stale chains); they are declared in ``chains`` too, as kube-proxy does.
    """

    name: str
    chains: tuple[Chain, ...] = ()
    deleted: tuple[str, ...] = ()

    def chain(self, name: str) -> Chain | None:
        return next((c for c in self.chains if c.name == name), None)

    def rules(self) -> Iterator[Rule]:
        for chain in self.chains:
            yield from chain.rules


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The tables of one address family, in the order they were written."""

    tables: tuple[Table, ...] = ()
    ipv6: bool = False

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def replace_table(self, table: Table) -> Ruleset:
        """A copy with ``table`` in place of the table of the same name (appended when new)."""
        names = [t.name for t in self.tables]
        if table.name in names:
            tables = tuple(table if t.name == table.name else t for t in self.tables)
        else:
            tables = (*self.tables, table)
        return Ruleset(tables, self.ipv6)
