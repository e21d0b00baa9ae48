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
from itertools import repeat

from kubeproxy_sim.objects.bulk import slot_setters

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

    @classmethod
    def make(cls, flag: str, args: tuple[str, ...], negated: bool, module: str) -> Option:
        """The bulk path: same result as ``Option(flag, args, negated, module)``, about twice as fast.

        A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field; writing
        the slots through their descriptors skips that. Used where a dump's hundreds of
        thousands of options are built; every field is set, so nothing else can tell the difference.
        """
        option = _new(cls)
        _OPTION_SET[0](option, flag)
        _OPTION_SET[1](option, args)
        _OPTION_SET[2](option, negated)
        _OPTION_SET[3](option, module)
        return option


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

    @classmethod
    def make(cls, options: tuple[Option, ...], target: Target | None) -> RuleSpec:
        """The bulk path, like :meth:`Option.make`."""
        spec = _new(cls)
        _SPEC_SET[0](spec, options)
        _SPEC_SET[1](spec, target)
        return spec

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
    _save_text: str | None = field(default=None, init=False, compare=False, repr=False)
    """The spec as iptables-save prints it, when :func:`~kubeproxy_sim.netfilter.saveform.to_save_form` made the
    rule (it renders both texts in one pass, so printing does not render the rule again); None otherwise."""

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

    @classmethod
    def make(cls, chain: str, spec: str, line: int = 0, counters: tuple[int, int] | None = None,
             parsed: RuleSpec | None = None) -> Rule:
        """The bulk path: ``Rule(chain, spec, line, counters)`` with its typed view already set (or not).

        Parsing a dump and generating a large sync make hundreds of thousands of rules; this
        writes the slots through their descriptors, about 2.5 times faster than ``__init__``.
        """
        rule = _new(cls)
        _RULE_SET[0](rule, chain)
        _RULE_SET[1](rule, spec)
        _RULE_SET[2](rule, line)
        _RULE_SET[3](rule, counters)
        _RULE_SET[4](rule, parsed)
        _RULE_SET[5](rule, None)
        return rule

    @classmethod
    def many(cls, chain: str, specs: list[str] | tuple[str, ...],
             lines: tuple[int, ...] | None = None) -> tuple[Rule, ...]:
        """Generated rules of one chain (line 0, no counters), built in one loop: the sync's bulk path.

        ``lines``: where each rule was read instead (a chain parsed from a dump).
        """
        new, set_chain, set_spec, set_line, set_counters, set_parsed, set_save_text = _new, *_RULE_SET
        out: list[Rule] = []
        append = out.append
        for spec, line in zip(specs, repeat(0) if lines is None else lines, strict=False):
            rule = new(cls)
            set_chain(rule, chain)
            set_spec(rule, spec)
            set_line(rule, line)
            set_counters(rule, None)
            set_parsed(rule, None)
            set_save_text(rule, None)
            append(rule)
        return tuple(out)


_new = object.__new__


_OPTION_SET = slot_setters(Option, "flag args negated module")
_SPEC_SET = slot_setters(RuleSpec, "options target")
_RULE_SET = slot_setters(Rule, "chain spec line counters _parsed _save_text")


@dataclass(frozen=True, slots=True, init=False, eq=False, repr=False)
class Chain:
    """A chain: built-in ones have a policy, user-defined ones have none (``-``).

    ``Chain(name, rules, policy, counters)`` as usual. A generated chain can
    instead be built from its rules' spec texts (:meth:`of_specs`): its
    :class:`Rule` objects are made on first read of :attr:`rules`. A full sync
    of 10,000 services has 110,000 chains and 430,000 rules that are usually
    only rendered, and rendering reads the texts directly (:attr:`specs`); not
    building the objects is about a third of the sync's time.
    """

    name: str
    policy: str | None
    counters: tuple[int, int] | None
    _rules: tuple[Rule, ...] | None
    _specs: tuple[str, ...] | None
    _lines: tuple[int, ...] | None
    line: int
    """Where the chain was declared (``:NAME POLICY [p:b]``, or its last ``-P``); 0 when not read from a dump.
    Like a rule's line it is not part of equality."""

    def __init__(self, name: str, rules: tuple[Rule, ...] = (), policy: str | None = None,
                 counters: tuple[int, int] | None = None, line: int = 0) -> None:
        _CHAIN_SET[0](self, name)
        _CHAIN_SET[1](self, policy)
        _CHAIN_SET[2](self, counters)
        _CHAIN_SET[3](self, rules)
        _CHAIN_SET[4](self, None)
        _CHAIN_SET[5](self, None)
        _CHAIN_SET[6](self, line)

    @classmethod
    def of_specs(cls, name: str, specs: list[str] | tuple[str, ...],
                 lines: list[int] | tuple[int, ...] | None = None) -> Chain:
        """A user-defined chain of generated rules (line 0, no counters), given as spec texts.

        ``lines``: the line each rule was read from, for a chain parsed from a dump (else 0).
        """
        chain = _new(cls)
        _CHAIN_SET[0](chain, name)
        _CHAIN_SET[1](chain, None)
        _CHAIN_SET[2](chain, None)
        _CHAIN_SET[3](chain, None)
        _CHAIN_SET[4](chain, tuple(specs))
        _CHAIN_SET[5](chain, None if lines is None else tuple(lines))
        _CHAIN_SET[6](chain, 0)
        return chain

    @property
    def rules(self) -> tuple[Rule, ...]:
        rules = self._rules
        if rules is None:
            rules = Rule.many(self.name, self._specs or (), self._lines)
            _CHAIN_SET[3](self, rules)
        return rules

    @property
    def specs(self) -> tuple[str, ...] | None:
        """The spec texts of a chain built by :meth:`of_specs` (every rule ``-A NAME SPEC``), else None."""
        return self._specs

    @property
    def builtin(self) -> bool:
        return self.policy is not None

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.rules, self.policy, self.counters)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chain):
            return NotImplemented
        if self._specs is not None and other._specs is not None:  # generated: compare texts, build nothing
            return (self.name, self._specs) == (other.name, other._specs)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.name, self.policy, self.counters, len(self._specs or self.rules)))

    def __repr__(self) -> str:
        return f"Chain(name={self.name!r}, rules={self.rules!r}, policy={self.policy!r}, counters={self.counters!r})"


_CHAIN_SET = slot_setters(Chain, "name policy counters _rules _specs _lines line")


@dataclass(frozen=True, slots=True)
class Table:
    """One ``*table ... COMMIT`` block.

    ``deleted`` holds the chains a restore input removes with ``-X`` (kube-proxy's
    stale chains); they are declared in ``chains`` too, as kube-proxy does.
    ``circles_checked``: a validating parse found no circle of jumps its built-in chains reach (codec's
    ``_Parser.circles``), so a compile need not look again (a second at 10,000 services). Set by the parser alone
    (``object.__setattr__``), so that a table built otherwise, also from a parsed one by ``dataclasses.replace``
    (which copies only the fields ``__init__`` takes), is checked when compiled.
    """

    name: str
    chains: tuple[Chain, ...] = ()
    deleted: tuple[str, ...] = ()
    circles_checked: bool = field(default=False, init=False, compare=False, repr=False)

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

    def rule_count(self) -> int:
        """The rules of every table, counted without building the rules of a chain made of spec texts."""
        return sum(len(c._specs) if c._specs is not None else len(c.rules) for t in self.tables for c in t.chains)

    def replace_table(self, table: Table) -> Ruleset:
        """A copy with ``table`` in place of the table of the same name (appended when new)."""
        names = [t.name for t in self.tables]
        if table.name in names:
            tables = tuple(table if t.name == table.name else t for t in self.tables)
        else:
            tables = (*self.tables, table)
        return Ruleset(tables, self.ipv6)
