"""The ruleset model shared by the codec, the evaluator, the simulator and the kernel backend.

A :class:`Rule` keeps its specification as canonical text (what follows
``-A CHAIN``), because that is what kube-proxy writes, what iptables-restore
reads and what a golden file compares; the typed view (options grouped by match
module, each with its negation, and the target with its options) is parsed from
that text on first use and cached. Rule generation therefore stays as cheap as
string formatting, and every consumer still works on typed values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from typing import Any

from kubeproxy_sim.objects.bulk import draft_class, slot_setters
from kubeproxy_sim.objects.values import value_class

BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}


@value_class
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

    @staticmethod
    def make(flag: str, args: tuple[str, ...], negated: bool, module: str) -> Option:
        """The bulk path: same result as ``Option(flag, args, negated, module)``, about a third of the cost.

        A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field; here the slots are
        written on a draft that then becomes an Option (:func:`~kubeproxy_sim.objects.bulk.draft_class`;
        1,700 instructions an option against 3,600 through the slots' setters and 6,300 through ``__init__``,
        callgrind). Used where a dump's hundreds of thousands of options are built; every field must be written
        here (tests/netfilter/test_model_drafts.py checks), so nothing else can tell the difference. Static: always
        an Option (a subclass's layout would refuse the assignment).
        """
        option = _new(_OPTION_DRAFT)
        option.flag = flag
        option.args = args
        option.negated = negated
        option.module = module
        option.__class__ = Option
        return option


@value_class
class Target:
    """The verdict or jump of a rule and its options (``-j DNAT --to-destination ...``)."""

    name: str
    options: tuple[Option, ...] = ()
    goto: bool = False  # -g: no return to the calling chain

    def option(self, flag: str) -> Option | None:
        return next((o for o in self.options if o.flag == flag), None)

    @staticmethod
    def make(name: str, options: tuple[Option, ...], goto: bool) -> Target:
        """The bulk path, like :meth:`Option.make`: one per rule of a dump with a target, built by the typed
        view's builder of each rule shape (syntax._builder)."""
        target = _new(_TARGET_DRAFT)
        target.name = name
        target.options = options
        target.goto = goto
        target.__class__ = Target
        return target


@value_class
class RuleSpec:
    """The typed view of a rule: options in written order, then the target (None: no target)."""

    options: tuple[Option, ...] = ()
    target: Target | None = None

    @staticmethod
    def make(options: tuple[Option, ...], target: Target | None) -> RuleSpec:
        """The bulk path, like :meth:`Option.make` (one per rule of a dump)."""
        spec = _new(_SPEC_DRAFT)
        spec.options = options
        spec.target = target
        spec.__class__ = RuleSpec
        return spec

    def modules(self) -> tuple[str, ...]:
        return tuple(o.args[0] for o in self.options if o.flag == "-m")

    def module_options(self, module: str) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.module == module and o.flag != "-m")


@value_class
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
            cached = _spec_parser()(self.spec, line=self.line)
            _SET_PARSED(self, cached)
        return cached

    @property
    def target(self) -> Target | None:
        return self.parsed.target

    def text(self) -> str:
        return f"-A {self.chain} {self.spec}" if self.spec else f"-A {self.chain}"

    @staticmethod
    def make(chain: str, spec: str, line: int = 0, counters: tuple[int, int] | None = None,
             parsed: RuleSpec | None = None) -> Rule:
        """The bulk path: ``Rule(chain, spec, line, counters)`` with its typed view already set (or not).

        Parsing a dump and generating a large sync make hundreds of thousands of rules; this
        writes the slots on a draft, like :meth:`Option.make`.
        """
        rule = _new(_RULE_DRAFT)
        rule.chain = chain
        rule.spec = spec
        rule.line = line
        rule.counters = counters
        rule._parsed = parsed
        rule._save_text = None
        rule.__class__ = Rule
        return rule

    @staticmethod
    def many(chain: str, specs: list[str] | tuple[str, ...], lines: tuple[int, ...] | None = None) -> tuple[Rule, ...]:
        """Generated rules of one chain (line 0, no counters), built in one loop: the sync's bulk path.

        ``lines``: where each rule was read instead (a chain parsed from a dump).
        """
        new, draft, made = _new, _RULE_DRAFT, Rule
        out: list[Rule] = []
        append = out.append
        for spec, line in zip(specs, repeat(0) if lines is None else lines, strict=False):
            rule = new(draft)
            rule.chain = chain
            rule.spec = spec
            rule.line = line
            rule.counters = None
            rule._parsed = None
            rule._save_text = None
            rule.__class__ = made
            append(rule)
        return tuple(out)


_new = object.__new__


@cache
def _spec_parser() -> Callable[..., RuleSpec]:
    """syntax.parse_spec, imported on first use and kept: syntax imports this module, and is too heavy to import
    for commands that never parse a rule (``rules`` renders texts). An import statement in :attr:`Rule.parsed`
    cost 8,000 instructions a rule (callgrind), and reading a dump parses every rule (codec's undeclared_jumps)."""
    from kubeproxy_sim.netfilter.syntax import parse_spec

    return parse_spec


(_SET_PARSED,) = slot_setters(Rule, "_parsed")  # (cheaper than object.__setattr__)
# Drafts of the bulk builders (objects.bulk.draft_class): every slot is written before the class changes
_OPTION_DRAFT: Any = draft_class(Option)
_TARGET_DRAFT: Any = draft_class(Target)
_SPEC_DRAFT: Any = draft_class(RuleSpec)
_RULE_DRAFT: Any = draft_class(Rule)


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

    @staticmethod
    def of_specs(name: str, specs: list[str] | tuple[str, ...],
                 lines: list[int] | tuple[int, ...] | None = None) -> Chain:
        """A user-defined chain of generated rules (line 0, no counters), given as spec texts.

        ``lines``: the line each rule was read from, for a chain parsed from a dump (else 0). Built on a draft
        (:meth:`Option.make`): a sync of 10,000 services makes 110,000 chains.
        """
        chain = _new(_CHAIN_DRAFT)
        chain.name = name
        chain.policy = None
        chain.counters = None
        chain._rules = None
        chain._specs = tuple(specs)
        chain._lines = None if lines is None else tuple(lines)
        chain.line = 0
        chain.__class__ = Chain
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
    def lines(self) -> tuple[int, ...] | None:
        """The line each of :attr:`specs` was read from (None: not read from a dump, or not built from texts)."""
        return self._lines

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
_CHAIN_DRAFT: Any = draft_class(Chain)


@value_class
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
    undeclared_words: frozenset[str] | None = field(default=None, init=False, compare=False, repr=False)
    """The words its rules jump or go to that may name a chain it does not declare (neither a chain of its, nor,
    for a jump, a verdict or a target extension), as a validating parse noted them: codec's undeclared_jumps reads
    the rules only when there is one (a -g quoted in a comment may add one). None: not known. Set like
    ``circles_checked``, by the parser alone."""

    def chain(self, name: str) -> Chain | None:
        return next((c for c in self.chains if c.name == name), None)

    def rules(self) -> Iterator[Rule]:
        for chain in self.chains:
            yield from chain.rules


@value_class
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
