"""iptables-save / iptables-restore text <-> :class:`Ruleset`.

Rendering writes the canonical form (:mod:`kubeproxy_sim.netfilter.render`, which
``rules`` imports without the parser; ``render_ruleset`` is re-exported here).

Parsing reads what iptables-save prints on real nodes (legacy and nf_tables
variants, with or without counters, comment lines, blank lines between tables)
and what kube-proxy and people feed to iptables-restore (``-N``, ``-I``, ``-D``,
``-R``, ``-F``, ``-Z``, ``-P``, ``-X``, ``-E``): each command is applied, in order, to the
table being built, so the result is the ruleset the kernel would hold if the
table started empty. A chain written with ``[0:0]`` counters is stored with
``counters=None``, which renders back as ``[0:0]``: generated rulesets carry no
counters, and that is what makes ``parse(render(x)) == x`` hold for them.
Counters (a line's ``[packets:bytes]``, a rule's ``-c``, a chain's) are read as
``iptables-restore --counters`` reads them, the mode kube-proxy restores in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kubeproxy_sim.errors import Diagnostic, InputError, RulesSyntaxError, Severity
from kubeproxy_sim.netfilter import hostmask, syntax
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Option, Rule, Ruleset, Table
from kubeproxy_sim.netfilter.render import render_ruleset as render_ruleset  # re-exported
from kubeproxy_sim.objects.bulk import collector_paused

MAX_CHAIN_NAME = 28  # XT_EXTENSION_MAXNAMELEN - 1: the kernel rejects longer names
POLICIES = frozenset({"ACCEPT", "DROP"})
VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
"""The standard targets, which no user chain may be named as (a declaration: legacy's "error creating chain
'ACCEPT':File exists", nft's "chain name may not clash with target name"; -E: legacy's "line N failed")."""
NEW_CHAIN_CLASHES = VERDICTS | syntax.TARGET_EXTENSIONS | {"standard"}
"""What -N refuses as a chain's name, both restores alike ("chain name may not clash with target name": it looks the
name up as a target extension). A declaration (``:LOG - [0:0]``) takes an extension's name; its chain then shadows
the extension in the jumps after it (``-j LOG --log-prefix x``: 'unknown option "--log-prefix"')."""


# ---------------------------------------------------------------------------
# Is a rule's text already canonical? (the validate=False fast path)
# ---------------------------------------------------------------------------

# A word the canonical text never contains (long aliases, restore's counters
# option, a rule's -4 or -6 or a value that looks like one: the interpreter reads
# those, syntax.FAMILY_WORDS), searched in " " + spec: a literal blank first is
# much faster than a lookbehind, and one search than two (a text with a tab is
# refused before it).
_ALIAS_WORD = re.compile(
    r" -(?:-(?:s(?:ource|rc|ource-ports?|et-counters)|d(?:estination|st|estination-ports?)|protocol"
    r"|in-interface|out-interface|fragment|match|jump|goto|ipv[46]?)|c|[46])(?: |$)"
)
_NOT_NEGATABLE = frozenset({"-m", "-j", "-g", "--match", "--jump", "--goto", "!"})


_ECN_OPTION = re.compile(r'(?:^|[ \t])-(?:j|-jump)[ \t]+"?ECN"?[ \t](?:.*?[ \t])??(--ecn-[a-z-]+)')
"""The first ECN option of a rule's line (:meth:`_Parser.ecn_in_ipv6`)."""
_LONG_WORD = re.compile(r'(?<![^ ])--[^ "]+')
_MULTIPORT_PREFIX = re.compile(r" --[sd]port ")


def _bang_canonical(words: list[str]) -> bool:
    """Canonical negation is ``! -flag``: a bang after a flag (``-s ! ADDR``) or before a value is not."""
    last = len(words) - 1
    for i, word in enumerate(words):
        if word != "!":
            continue
        following = words[i + 1] if i < last else ""
        if following[:1] != "-" or following in _NOT_NEGATABLE:
            return False
        if i and words[i - 1][:1] == "-" and not words[i - 1][1:2].isdigit():
            return False
    return True


def _needs_quotes(value: str) -> bool:
    """Mirror of :func:`syntax.quote`: would the canonical text quote this value?"""
    if not value or " " in value or "\t" in value or "\r" in value or value == "!":
        return True
    return value[0] == "-" and len(value) > 1 and not value[1].isdigit()


def _bare_return(spec: str) -> bool:
    """Whether a carriage return of ``spec`` stands outside quotes (its quotes canonical: :func:`_quotes_canonical`,
    so that every other piece between quotes is outside them)."""
    return any("\r" in outside for outside in spec.split('"')[0::2])


def _quotes_canonical(spec: str) -> bool:
    """Every quoted value stands alone between blanks and really needs its quotes."""
    end = -1
    while (start := spec.find('"', end + 1)) != -1:
        end = spec.find('"', start + 1)
        if end == -1 or (start and spec[start - 1] != " "):
            return False
        if end + 1 < len(spec) and spec[end + 1] != " ":
            return False
        if not _needs_quotes(spec[start + 1:end]):
            return False
    return True


def is_canonical_text(spec: str, words: bool = True) -> bool:
    """True when ``spec`` is certainly what the canonical renderer would write for it.

    Cheap string checks only, so a bulk parse can skip tokenising. False may be
    a false alarm (the slow path then canonicalises); True is never wrong for
    text that is a valid rule.
    """
    if not spec:
        return True
    if "  " in spec or "\t" in spec or "\\" in spec or spec[0] == " " or spec[-1] == " ":
        return False
    if '"' in spec and not _quotes_canonical(spec):
        return False
    if "\r" in spec and _bare_return(spec):  # (a word's own character: the canonical text quotes it, syntax.quote)
        return False
    if _ALIAS_WORD.search(" " + spec) is not None:
        return False
    if not words:  # (the bulk path keeps unchecked text: an option unknown, or abbreviated, is read when used)
        return "!" not in spec or _bang_canonical(spec.split(" "))
    if not syntax.LONG_FLAGS.issuperset(_LONG_WORD.findall(spec)):  # (an abbreviation, or an option not modelled)
        return False
    if "multiport" in spec and _MULTIPORT_PREFIX.search(spec) is not None:  # (--dport of --dports: long_option)
        return False
    if " --to " in spec and "NETMAP" not in spec:  # (NETMAP's own, else DNAT's --to-destination, SNAT's ...)
        return False
    return "!" not in spec or _bang_canonical(spec.split(" "))


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _ChainState:
    """A chain while its table is being read (mutable, private to one parse).

    Plain rules (canonical ``-A`` lines without counters) are kept as their texts and
    line numbers, and the chain is frozen with :meth:`Chain.of_specs`, whose Rule
    objects are made on first use: reading a 320,000-rule dump then builds no object
    per rule (a third of the time). Any other edit (counters, -I, -D, -R, -Z, a
    re-rendered rule) turns the chain into Rule objects first (:meth:`rule_list`);
    ``specs`` is None from then on.
    """

    name: str
    policy: str | None
    counters: tuple[int, int] | None
    specs: list[str] | None = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rules: list[Rule] | None = None  # set when specs becomes None
    line: int = 0  # where it was declared, or its policy last set (a built-in chain's: a trace cites it)
    deleted: int = 0  # the line of its -X, from which on it is gone (0: it is not)
    renamed: int = 0  # the line of the -E that gave it its name (0: none did); its rules before it are judged
    extension_lines: frozenset[int] = frozenset()  # ... and of those, the rules that named it as a target extension
    targets: dict[str, None] = field(default_factory=dict)  # its rules' -j/-g words in the order first met, while
    # validating and only -A added its rules (:attr:`_TableState.edited`): the arrows of the circle check

    def add_plain(self, spec: str, line: int) -> None:
        """Append a canonical rule without counters (its text is checked already)."""
        if self.specs is not None:
            self.specs.append(spec)
            self.lines.append(line)
        else:
            self.rule_list().append(Rule.make(self.name, spec, line))

    def rule_list(self) -> list[Rule]:
        """The rules as objects, to be edited in place."""
        if self.rules is None:
            self.rules = list(Rule.many(self.name, self.specs or (), tuple(self.lines)))
            self.specs, self.lines = None, []
        return self.rules

    def is_empty(self) -> bool:
        return not (self.specs if self.specs is not None else self.rules)

    def clear(self) -> None:
        self.specs, self.lines, self.rules = [], [], None

    def spec_list(self) -> list[str]:
        """Every rule's text, in order."""
        return self.specs if self.specs is not None else [r.spec for r in self.rules or ()]

    def texts(self) -> list[tuple[str, int]]:
        """(spec, line) of every rule, in order."""
        if self.specs is not None:
            return list(zip(self.specs, self.lines, strict=True))
        return [(r.spec, r.line) for r in self.rules or ()]

    def texts_naming(self, word: str, other: str) -> list[tuple[str, int]]:
        """(spec, line) of the rules whose text holds ``word`` or ``other`` anywhere: a literal search, cheap
        enough for each -E of a table of 400,000 rules, before its readings of the few it finds."""
        if self.specs is not None:
            return [(spec, line) for spec, line in zip(self.specs, self.lines, strict=True)
                    if word in spec or other in spec]
        return [(r.spec, r.line) for r in self.rules or () if word in r.spec or other in r.spec]

    def freeze(self) -> Chain:
        specs = self.specs
        if specs is None:
            return Chain(self.name, tuple(self.rule_list()), self.policy, self.counters, self.line)
        if not specs:
            return Chain(self.name, (), self.policy, self.counters, self.line)
        if self.policy is None and self.counters is None:
            return Chain.of_specs(self.name, specs, self.lines)
        return Chain(self.name, Rule.many(self.name, specs, tuple(self.lines)), self.policy, self.counters,
                     self.line)


@dataclass(slots=True)
class _TableState:
    name: str
    line: int
    chains: dict[str, _ChainState] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    targets: Counter[str] | None = None  # see _Parser.jump_counts
    jumps: set[str] = field(default_factory=set)  # every added rule's -j/-g words, validating (check_table_jumps)
    gotos: set[str] = field(default_factory=set)  # ... its -g words
    bare: set[str] = field(default_factory=set)  # ... the last words of those of no shape that name a target
    # extension needing an option (syntax.REQUIRED_TARGET_OPTIONS), which jump_error refuses but for a chain's
    first_command: int = 0  # the line of its first command (a rule, -N ...): 0 while it has none
    renamed_away: dict[str, int] = field(default_factory=dict)  # a target extension's name a chain was declared
    # under (:MARK), and the line of the -E that first renamed it: legacy loads that extension no more (jump_error)
    edited: bool = False  # a command other than -A changed its rules or chains (-I, -D, -R, -F, -X, -E): the
    # chains' targets no longer say their arrows (the circle check reads the rules then: :meth:`_Parser.circles`)
    arrow_map: dict[str, dict[str, None]] | None = None  # what arrows() made (10 ms at 110,000 chains)

    def arrows(self) -> dict[str, dict[str, None]] | None:
        """Each chain's -j/-g words, to check for circles and what the hooks reach without reading its rules again;
        None when they may not say it (:attr:`edited`, or a chain named as a target extension, which a rule with
        options names as the extension: :func:`.syntax.jump_target`). Made once, when the table is read (the
        checks that ask run after reading stopped)."""
        if self.edited or not syntax.TARGET_EXTENSIONS.isdisjoint(self.chains):
            return None
        if self.arrow_map is None or len(self.arrow_map) != len(self.chains):
            self.arrow_map = {name: chain.targets for name, chain in self.chains.items()}
        return self.arrow_map

    def holds(self, holder: str, line: int) -> bool:
        """Whether a rule read at ``line`` (an -A, -I or -R naming chain ``holder``) is still in the table: a later
        -F or -D may have removed it before COMMIT, when the kernel never sees it. Looked for in ``holder`` first,
        then (a chain renamed since: -E) in every chain; a line holds one rule only."""
        if not self.edited:  # (only -A added rules: none was removed)
            return True
        chain = self.chains.get(holder)
        if chain is not None and not chain.deleted and any(line == at for _, at in chain.texts()):
            return True
        return any(line == at for chain in self.chains.values() if not chain.deleted for _, at in chain.texts())

    def freeze(self) -> Table:
        return Table(self.name, tuple(c.freeze() for c in self.chains.values()), tuple(self.deleted))


_COMMANDS = {
    "-A": "-A", "--append": "-A",
    "-I": "-I", "--insert": "-I",
    "-D": "-D", "--delete": "-D",
    "-R": "-R", "--replace": "-R",
    "-F": "-F", "--flush": "-F",
    "-Z": "-Z", "--zero": "-Z",
    "-N": "-N", "--new-chain": "-N",
    "-X": "-X", "--delete-chain": "-X",
    "-P": "-P", "--policy": "-P",
    "-E": "-E", "--rename-chain": "-E",
}
_RULE_COMMANDS = frozenset({"-A", "-I", "-D", "-R"})
_JUMP = re.compile(r" -[jg] ([^ \t\n]+)")
"""The target of a rule's canonical text led by a blank, or a word after ``-j`` inside a quoted value: what -X counts
(:meth:`_Parser.jump_counts`; a rule it finds is read again, :func:`syntax.jump_target`) and what the jumps of a rule
no shape vouched for are checked by (:meth:`_Parser.added`). A literal start: a whole table's targets take 0.15 s at
320,000 rules (-X's count, once per parse); one rule's search, a few microseconds."""
_GOTO = re.compile(r" -g ([^ \t\n]+)")
"""The word after a goto in a rule's canonical text (a chain's name; :meth:`_Parser.added`)."""
_WRONG_INTERFACE = {"PREROUTING": "-o", "INPUT": "-o", "OUTPUT": "-i", "POSTROUTING": "-i"}
"""The built-in chains (by name, in every table) whose rules iptables refuses an interface option of: a packet
there has no output interface yet, or no input interface (:meth:`_Parser.check_interfaces`)."""
_INTERFACE_EXPECTED = {"-o": "-o only in FORWARD, OUTPUT, POSTROUTING or a user-defined chain (-i here)",
                       "-i": "-i only in PREROUTING, INPUT, FORWARD or a user-defined chain (-o here)"}
_EDITING_COMMANDS = frozenset({"-I", "-D", "-R", "-F", "-X", "-E"})  # see _TableState.edited
_COUNTED_COMMANDS = frozenset({"-A", "-I", "-R", "-P"})  # those that take counters ("Illegal option `-c'" else)


def _counters_at(tokens: list[syntax.Token]) -> int | None:
    """Where a rule's own ``-c PACKETS BYTES`` starts among its tokens (None: it has none); a quoted "-c" is a
    value (a comment's, say), not the option."""
    return next((i for i, t in enumerate(tokens) if not t.quoted and t.text in ("-c", "--set-counters")), None)


def _inline_counters(tokens: list[syntax.Token]) -> tuple[list[syntax.Token], list[str] | None]:
    """A rule's tokens without its first ``-c`` option, and that option's values as iptables takes them: ``-c P B``
    or ``-c P,B`` (the bytes after the comma), the second word only when it does not start with - or ! (getopt's
    xs_has_arg); None without -c, fewer than two values when some are missing."""
    i = _counters_at(tokens)
    if i is None:
        return tokens, None
    values = [t.text for t in tokens[i + 1:i + 2]]
    end = i + 1 + len(values)
    comma = values[0].find(",", 1) if values else -1
    if comma != -1:
        values.append(values[0][comma + 1:])
    elif values and end < len(tokens) and tokens[end].text[:1] not in ("-", "!"):
        values.append(tokens[end].text)
        end += 1
    return tokens[:i] + tokens[end:], values


def _scan_counter(text: str) -> int | None:
    """``text``'s leading counter as iptables reads one (sscanf ``%llu``: :func:`syntax.strtoul_at`); None when it
    has none."""
    found = syntax.strtoul_at(text)
    return None if found is None else found[0]


def _declared_counters(text: str) -> tuple[int, int] | None:
    """A chain declaration's ``[packets:bytes]`` as iptables-restore reads it (sscanf ``[%llu:%llu]``: what
    follows the second number is not looked at); None when it does not read."""
    if text[:1] != "[":
        return None
    packets = syntax.strtoul_at(text, 1)
    if packets is None or text[packets[1]:packets[1] + 1] != ":":
        return None
    count = syntax.strtoul_at(text, packets[1] + 1)
    return None if count is None else (packets[0], count[0])


_SHAPES_PER_BUCKET = 8  # shapes tried per rule at most; a kube-proxy dump puts 1-3 in a bucket
_SHAPES_LIMIT = 256  # shapes learnt per parse at most: each costs a regex compile (a dump has a few dozen)
_SKELETONS_MET_LIMIT = 4096  # skeletons remembered


class _Shapes:
    """The rule shapes (``syntax.shape_matcher``) met so far in one parse, all canonical and valid.

    A validating parse interprets a rule only when its text matches no known shape, and
    then learns the rule's shape: a kube-proxy dump of 320,000 rules has a few dozen
    shapes, so nearly every rule is checked by one C-level fullmatch, and its typed
    view is left to be built on first use. Shapes are filed by the text's number of
    blanks, so a rule is tried against a handful of them, not all. A shape is learnt
    when met a second time: one met once does not repay its compile.
    """

    __slots__ = ("buckets", "count", "met", "own", "targets")

    def __init__(self) -> None:
        self.buckets: dict[int, list[Callable[[str], re.Match[str] | None]]] = {}
        self.count = 0
        self.met: dict[tuple[int, str], bool] = {}  # (blanks, skeleton) -> made into a shape (or refused)
        self.targets: set[str] = set()  # the -j/-g words of the rules the shapes were made of (see known)
        self.own: dict[str, str] = {}  # each shape's own -j word ("" without one), by its pattern's text (a str
        # caches its hash, where a Pattern's hashes its whole code each time: 0.2 s at 10,000 services)

    def known(self, spec: str) -> re.Match[str] | None:
        """The match of ``spec`` by a shape already learnt (so it is canonical and valid; group 1 is its -j
        target, "" without one, None when it is the shape's own, one of :attr:`targets`:
        ``syntax.shape_matcher``), None when it has none."""
        bucket = self.buckets.get(spec.count(" "))
        if bucket is None:
            return None
        found = bucket[0](spec)
        if found is not None:
            return found
        for i in range(1, len(bucket)):
            found = bucket[i](spec)
            if found is not None:
                # Rules come in runs of one shape (a chain's rules, a kind of chain): the last hit goes first.
                bucket.insert(0, bucket.pop(i))
                return found
        return None

    def target(self, found: re.Match[str]) -> str:
        """The -j word of a rule a shape matched (``found``: :meth:`known`'s), "" without one."""
        jump = found[1]
        return jump if jump is not None else self.own[found.re.pattern]

    def learn(self, spec: str) -> None:
        """Remember the shape of ``spec``, canonical text that has just been interpreted without error; not one
        naming a match only IPv6 has, or one of some hooks only, whose every rule the parser notes
        (:meth:`_Parser.note_line`), nor one that may hold a value the family decides (:meth:`_Parser.note_values`)."""
        if self.count >= _SHAPES_LIMIT or _IPV6_ONLY.search(spec) is not None or (
                any(name in spec for name in _PLACED_NAMES) and _PLACED_MATCH.search(spec) is not None) or \
                any(name in spec for name in _FAMILY_VALUE_NAMES):
            return
        blanks = spec.count(" ")
        bucket = self.buckets.get(blanks, ())
        if len(bucket) >= _SHAPES_PER_BUCKET:
            return
        skeleton = syntax.skeleton(spec)
        if skeleton is None:
            return
        key = (blanks, skeleton)
        if self.met.get(key, False) or len(self.met) >= _SKELETONS_MET_LIMIT:
            return
        second = key in self.met
        self.met[key] = second
        if not second:
            return
        match = syntax.shape_matcher(spec)
        if match is not None:
            self.buckets[blanks] = [match, *bucket]
            self.count += 1
            self.targets.update(_JUMP.findall(" " + spec))
            target = syntax.parse_spec(spec).target  # (a shape's target is no goto: syntax.shape_matcher)
            self.own[match(spec).re.pattern] = target.name if target is not None else ""  # type: ignore[union-attr]


def _last_declared(table: _TableState) -> int:
    """The line of the user chain of ``table`` declared last: the chains are kept in the order they were declared
    (one renamed keeps its place and line, one declared again after -X goes last), built-in chains aside."""
    builtin = BUILTIN_CHAINS[table.name]
    return next((chain.line for chain in reversed(table.chains.values()) if chain.name not in builtin), 0)


_NO_TABLE: dict[str, _ChainState] = {}  # (never written: a declaration outside a table takes the general path)


def _on_node(table: _TableState) -> bool:
    """Whether ``table`` declares none of its built-in chains: a restore input, such as kube-proxy's partial sync,
    which it loads with ``iptables-restore --noflush``. A jump to a chain it never declares then goes to a chain the
    node holds already (kube-proxy leaves a chain it did not change undeclared), which iptables-restore takes when
    the node has it (refused only when not: "Couldn't load target", both tools); a full dump declares its built-in
    chains, and such a jump there is refused at its line."""
    return not any(name in table.chains for name in BUILTIN_CHAINS[table.name])


def undeclared_jumps(ruleset: Ruleset) -> list[tuple[str, str, int]]:
    """(table, chain, line of the first rule jumping to it) for each chain a rule jumps to (or goes to) that its
    table does not declare, in the order of those lines: the chains a partial restore input leaves on the node
    (:func:`_on_node`; a validated full dump has none), which no reading of the file can follow. Each rule's
    target is read off its text (:func:`.syntax.target_word`), no rule parsed nor built (parsing them took 40% of
    a trace of a 10,000-service dump), and only in a table whose validating parse noted a word that may be one
    (:attr:`.Table.undeclared_words`), which a full dump has not."""
    found: dict[tuple[str, str], int] = {}
    for table in ruleset.tables:
        if table.undeclared_words is not None and not table.undeclared_words:  # (a validated full dump's)
            continue
        declared = {chain.name for chain in table.chains}
        for chain in table.chains:
            for spec, line in _chain_texts(chain):
                target = syntax.target_word(spec)
                if target is None or target[0] in declared or (key := (table.name, target[0])) in found:
                    continue
                if target[1] or not (target[0] in VERDICTS or target[0] in syntax.TARGET_EXTENSIONS):
                    found[key] = line
    return sorted(((table, chain, line) for (table, chain), line in found.items()), key=lambda item: item[2])


def _undeclared_words(state: _TableState) -> frozenset[str] | None:
    """:attr:`.Table.undeclared_words` of a table a validating parse read: its chains' -j/-g words
    (:meth:`_TableState.arrows`, None when they may not say them) and its rules' -g words, less those that need no
    look at the rules."""
    arrows = state.arrows()
    if arrows is None:
        return None
    words: set[str] = set().union(*arrows.values())
    words.difference_update(state.chains, VERDICTS, syntax.TARGET_EXTENSIONS, ("",))  # ("": a shape without -j)
    words.update(state.gotos.difference(state.chains))
    return frozenset(words)


def _chain_texts(chain: Chain) -> Iterable[tuple[str, int]]:
    """(spec, line) of each rule of ``chain``, without building the rules of a chain kept as texts."""
    specs = chain.specs
    if specs is None:
        return ((rule.spec, rule.line) for rule in chain.rules)
    return zip(specs, chain.lines or itertools.repeat(0), strict=False)


def partial_input(ruleset: Ruleset, file: str, consequence: str,
                  severity: Severity = Severity.ERROR) -> Diagnostic | None:
    """What a command that reads ``ruleset`` says when it is a partial restore input (:func:`undeclared_jumps`),
    at the line of its first such jump: one sentence naming its chains, then the command's ``consequence`` (trace
    and netns verify refuse it, graph draws it with a warning); None for a whole dump."""
    missing = undeclared_jumps(ruleset)
    if not missing:
        return None
    names = ", ".join(f"{table} {chain}" for table, chain, _ in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return Diagnostic(f"a partial restore input (as kube-proxy loads with iptables-restore --noflush): it jumps to "
                      f"chains it does not declare, which live on the node ({names}{more}; first jumped to at line "
                      f"{missing[0][2]}); {consequence}", file=file, line=missing[0][2], severity=severity)


def _plain_chain_name(name: str) -> bool:
    """A chain name the general declaration path would take as it is (checked there otherwise)."""
    return (0 < len(name) <= MAX_CHAIN_NAME and " " not in name and "\t" not in name and name[0] not in '-!"'
            and '"' not in name and name not in VERDICTS)


class _Parser:
    """Reads one text, line by line, into tables; every error names the line."""

    def __init__(self, file: str | None, validate: bool) -> None:
        self.file = file
        self.validate = validate
        self.tables: list[_TableState] = []
        self.table: _TableState | None = None
        self.lineno = 0
        self.verbatim = True  # every rule's text was stored as written (none was re-rendered)
        self.shapes = _Shapes()
        self.text = ""  # the text being read (for messages that look ahead)
        self.raw = ""  # the line being read, as written (what a quote left open takes in: line_end)
        self.last = 0  # the number of the text's last line, which no newline ends (0: not counted yet, line_end)
        self.ipv6_only = False  # a line no shape vouched for names a match only IPv6 has (_IPV6_ONLY; note_line)
        self.family: bool | None = None  # the family given (True: IPv6), which a rule's -4 or -6 is read against
        self.placed: list[tuple[_TableState, int, str]] = []  # ... or a match of some hooks only (_PLACED_MATCH):
        # its table, line and text (note_line), which the hooks' checks read, not the whole text (judged)
        self.named_hosts: list[tuple[_TableState, int, str]] = []  # ... or an -s/-d name with a mask, which the
        # family read once known judges again (its table, line and text: note_line, _named_host_refusal)
        self.valued: list[tuple[_TableState, int, str]] = []  # ... or may hold a value the family decides (a
        # conntrack address, an iprange range: note_values), judged once the family is known (judged)
        self.replaced: list[_TableState] = []  # tables committed, then given again: iptables-restore committed them,
        # so what it refuses in them stands (the family's and the targets' checks read them too: :meth:`all_committed`)

    # -- errors ---------------------------------------------------------------

    def error(self, message: str, token: str | None = None, expected: str | None = None) -> RulesSyntaxError:
        return RulesSyntaxError(message, file=self.file, line=self.lineno or None, token=token,
                                expected=expected)

    # -- driver ---------------------------------------------------------------

    def run(self, text: str, ipv6: bool | None) -> list[_TableState]:
        """The tables of ``text``; an error inside a table gives way to a refused jump of its rules before it
        (:meth:`earlier_jump`), and to a refusal that waits for the family (:meth:`earlier_in_family`)."""
        self.family = ipv6
        try:
            return self.read(text)
        except RulesSyntaxError as error:
            raise self.earlier_in_family(self.earlier_jump(error), ipv6) from None

    def read(self, text: str) -> list[_TableState]:
        make = Rule.make
        validate = self.validate
        buckets = self.shapes.buckets
        known = self.shapes.known
        own = self.shapes.own
        chains: dict[str, _ChainState] = _NO_TABLE  # the open table's chains
        deleted: list[str] = []  # ... and those of them deleted (-X): each rule is checked then (added())
        jumps: set[str] = set()  # ... and its rules' targets, to check at COMMIT (validating)
        started = 0  # the open table's first_command, kept here too: the -A line's test is a local's
        self.text = text
        for lineno, raw in enumerate(text.split("\n"), 1):
            if raw[:3] == "-A ":
                if not started:
                    started = self.note_first_command(lineno)
                # The common case, inlined: nearly every line of a big dump is a canonical -A of a known shape
                # (validating; else canonical text). The shape test is _Shapes.known with its first try inlined.
                # Blanks around the line fail both tests (a shape never ends in one), so it needs no strip here.
                try:
                    _, name, spec = raw.split(" ", 2)
                except ValueError:  # "-A CHAIN" alone: the general path
                    name = spec = ""
                chain = chains.get(name)
                if chain is not None and not deleted and name not in _WRONG_INTERFACE:
                    if validate:  # (a known shape's match holds its -j target: see check_table_jumps)
                        bucket = buckets.get(spec.count(" "))
                        found = (bucket[0](spec) or known(spec)) if bucket is not None else None
                        vouched = found is not None
                        if vouched:
                            jump = found[1]  # type: ignore[index]
                            if jump:
                                jumps.add(jump)
                                chain.targets[jump] = None
                            elif jump is None:  # (the shape's own: _Shapes.target, inlined)
                                chain.targets[own[found.re.pattern]] = None  # type: ignore[union-attr]
                    else:
                        vouched = is_canonical_text(spec, words=False)
                    if vouched:
                        specs = chain.specs
                        if specs is not None:  # (_ChainState.add_plain, inlined)
                            specs.append(spec)
                            chain.lines.append(lineno)
                        else:
                            chain.rule_list().append(make(name, spec, lineno))
                        continue
                self.lineno, self.raw = lineno, raw
                self.append_fast(raw.strip(" \t"), None)
                continue
            if raw[-8:] == " - [0:0]" and raw[:1] == ":" and chains is not _NO_TABLE:
                # The other common line, a user-defined chain's declaration (what declare() does first, inlined).
                name = raw[1:-8]
                if _plain_chain_name(name) and name not in chains:
                    chains[name] = _ChainState(name, None, None, line=lineno)
                    continue
            line = raw.strip(" \t")  # (str.strip() would also eat a CR, a word's own: syntax._BLANKS)
            self.lineno, self.raw = lineno, raw
            if not line or line[0] == "#":
                continue
            first = line[0]
            if first == "*":
                self.open_table(line, raw)
                chains = self.table.chains  # type: ignore[union-attr]
                deleted = self.table.deleted  # type: ignore[union-attr]
                jumps = self.table.jumps  # type: ignore[union-attr]
                started = 0
            elif first == ":":
                self.declare(line)
            elif first == "[":
                started = started or self.note_first_command(lineno)
                self.counted_command(line)
            elif line == "COMMIT":
                self.commit()
                chains = _NO_TABLE
            elif first == "-" and line != "---":
                started = started or self.note_first_command(lineno)
                self.command(line, None)
            else:
                raise self.error("unexpected line", line[:40], "*TABLE, :CHAIN POLICY [p:b], a command such as "
                                 "-A CHAIN, COMMIT or # comment" + _objects_hint(line) + _return_hint(line))
        if self.table is not None:
            self.lineno = text.count("\n") + 1
            raise self.error(f"table {self.table.name!r} (opened at line {self.table.line}) has no COMMIT",
                             "end of input", "COMMIT")
        return self.tables

    def earlier_jump(self, error: RulesSyntaxError) -> RulesSyntaxError:
        """``error``, or the refusal of a jump of the open table's rules before its line: iptables-legacy-restore
        loads a rule's target at the rule's line and stops there, while a canonical rule's jump waits for COMMIT
        here (:meth:`check_table_jumps`). Only on the way out with an error."""
        table = self.table
        if not self.validate or table is None or error.line is None:
            return error
        try:
            self.check_table_jumps(table)
        except RulesSyntaxError as earlier:
            if earlier.line is not None and earlier.line < error.line:
                return earlier
        return error

    def earlier_in_family(self, error: RulesSyntaxError, ipv6: bool | None) -> RulesSyntaxError:
        """``error``, or a refusal of the rules read before it that is judged once their family is known (an address
        of the other family, a target out of place ...: :func:`_family`, :func:`_check_targets`) when
        iptables-restore meets that first (:data:`_Found`): it stops at the first bad line, and at a table's COMMIT
        before the next is read. Only on the way out with an error: the rules read so far, and the lines of the
        text before the error that may hold such a rule."""
        if not self.validate or error.line is None:
            return error
        committed = self.all_committed(self.tables)
        tables = [*committed, *([self.table] if self.table is not None else [])]
        family, found = self.judged(tables, ipv6, until=error.line)
        found = _earlier(found, self.circles(committed))
        reading = self.table.line if self.table is not None else error.line
        if found is not None and found[0] < (reading, 0, error.line):
            return found[1]
        return self.host_in_family(error, ipv6 if ipv6 is not None else family if found is None else None)

    def host_in_family(self, error: RulesSyntaxError, ipv6: bool | None) -> RulesSyntaxError:
        """``error``, or, when it refuses an -s/-d mask read before the family was known (``-s 1.2.3/64``: the
        interpreter reads an IPv4-looking host's mask as IPv4's) and the family is IPv6, what ip6tables-restore
        v1.8.9 says of the value instead: "host/network `1.2.3' not found" (it reads the mask as IPv6's, then
        fails on the host), or the mask refused with what IPv6 expects of it (``/129``); likewise a NAT range of an
        IPv4 host in brackets (``[1.2.3.4]:80``), which iptables calls "Invalid address format" and ip6tables (both
        restores v1.8.9) 'Bad IP address "1.2.3.4"'."""
        message = error.diagnostics[0].message
        if ipv6 and error.token is not None and error.token.startswith("[") and \
                f"{error.token}: Invalid address format at " in message:
            bracketed = _nat_family_refusal(error.token, True)  # ([1.2.3.4]:80: 'Bad IP address "1.2.3.4"')
            if bracketed is not None:
                return RulesSyntaxError(bracketed[0], file=self.file, line=error.line, token=bracketed[1],
                                        expected="an IPv6 address, as the ruleset's other rules have")
        if ipv6 and error.line is not None and message.startswith("ECN: bad value for option "):
            return self.ecn_in_ipv6(error)
        if not ipv6 or error.line is None or "invalid mask `" not in message:
            return error
        lines = self.text.split("\n", error.line)
        text = lines[error.line - 1] if len(lines) >= error.line else ""
        refused = _host_refusal(text, error.line, True, self.file)
        return refused if refused is not None else error

    def ecn_in_ipv6(self, error: RulesSyntaxError) -> RulesSyntaxError:
        """An ECN option's value refused in IPv4's words (the syntax layer, which has no family, judges it as
        libipt_ECN does) in a rule of IPv6, where ip6tables-restore v1.8.9 knows no ECN option (no libip6t_ECN):
        'unknown option' naming the target's first (both restores, unshare --net), as :func:`.syntax.
        foreign_extension` does for a value it takes."""
        at = error.line or 0
        lines = self.text.split("\n", at)
        text = lines[at - 1] if 0 < at <= len(lines) else ""
        first = _ECN_OPTION.search(text)
        if first is None:
            return error
        return RulesSyntaxError(f'unknown option "{first[1]}"', file=self.file, line=error.line, token=first[1],
                                expected="ECN only in an IPv4 ruleset (ip6tables has no ECN target)")

    def judged(self, tables: list[_TableState], ipv6: bool | None,
               until: int | None = None) -> tuple[bool, _Found | None]:
        """:func:`_judged` of ``tables`` (read from this text), without a regex per rule when it may: every rule's
        text being a piece of the input (:attr:`verbatim`) and none of the input reading as IPv6, every rule is
        IPv4 or has no address, so nothing is refused for its family and the family is IPv4 (a C-level search)."""
        more = (_IPV6_ONLY,) if self.ipv6_only else ()
        if self.verbatim and ipv6 is not True and not _mentions_ipv6(self.text):
            family, found = _judged(self.text, tables, ipv6, self.file, until, address_family=False, more=more)
        else:
            family, found = _judged(self.text, tables, ipv6, self.file, until, more=more)
        words = self.shapes.targets
        for table, line, text in self.named_hosts:
            if (until is None or line < until) and any(table is one for one in tables):
                found = _earlier(found, _named_host_refusal(table, line, text, family, self.file))
        valued = self.valued_found(tables, family, until)
        if valued is not None and ipv6 is None and not family and self.valued_found(tables, True, until) is None \
                and _addressless(tables):  # (IPv4 for want of an address; IPv6's values: an ip6tables-save dump)
            return self.judged(tables, True, until)
        found = _earlier(found, valued)
        holders: dict[int, set[str]] = {}  # id of a table -> the chains its placed matches' lines name
        for table, line, text in self.placed:
            if (until is None or line < until) and any(table is one for one in tables):
                problem = _misplaced(table, text, family, line)
                if problem is not None and problem[3] and not table.holds(_holder(text), line):
                    continue  # (the kernel's refusal at COMMIT, of a rule a later -F or -D removed: never loaded)
                found = _earlier(found, _found(table, problem, line, self.file))
                holders.setdefault(id(table), set()).add(_holder(text))
        for table in tables:
            found = _earlier(found, _hook_problems(table, (table.jumps, words), holders.get(id(table), set()),
                                                   self.file, until))
        return family, found

    def valued_found(self, tables: list[_TableState], family: bool, until: int | None) -> _Found | None:
        """The first refusal, in ``family``, of the lines :meth:`note_values` kept (of ``tables``, before
        ``until``)."""
        found: _Found | None = None
        for table, line, text in self.valued:
            if (until is None or line < until) and any(table is one for one in tables):
                found = _earlier(found, _found(table, _misplaced(table, text, family, line), line, self.file))
        return found

    def all_committed(self, tables: list[_TableState]) -> list[_TableState]:
        """``tables`` and the copies they replaced: every table iptables-restore committed, each to be judged."""
        return [*self.replaced, *tables] if self.replaced else tables

    # -- table structure -------------------------------------------------------

    def open_table(self, line: str, raw: str) -> None:
        """The table of a ``*TABLE`` line (``raw`` as written): only blanks (:data:`_INDENT`) may stand before
        its "*", where :func:`_table_spans` looks for it; iptables-restore refuses anything there."""
        if raw.lstrip(_INDENT)[:1] != "*":
            raise self.error("a *TABLE line with a character other than a blank before its *", raw[:40],
                             "*TABLE at the start of its line")
        if self.table is not None:
            raise self.error(f"table {self.table.name!r} (opened at line {self.table.line}) has no COMMIT",
                             line, "COMMIT before the next *table")
        name = line[1:].strip(" \t")
        if name not in BUILTIN_CHAINS:
            raise self.error("unknown table", name, "one of " + ", ".join(BUILTIN_CHAINS) + _return_hint(name))
        earlier = next((t for t in self.tables if t.name == name), None)
        self.table = _TableState(name, self.lineno)
        if earlier is not None:
            self.check_family(name, earlier.line, line)
            # iptables-legacy-restore starts the table again from what the first one committed: every rule and
            # user chain flushed away, the built-in chains' policies kept (their counters cleared)
            self.table.chains = {c.name: _ChainState(c.name, c.policy, None, line=c.line)
                                 for c in earlier.chains.values() if c.name in BUILTIN_CHAINS[name]}

    def check_family(self, name: str, first: int, line: str) -> None:
        """A table met again, which iptables-restore takes as a new start of it; but an iptables-save followed by
        an ip6tables-save in one file is refused, saying so."""
        lines = self.text.split("\n")
        before, after = "\n".join(lines[:self.lineno - 1]), "\n".join(lines[self.lineno - 1:])
        if _mentions_ipv6(after) and not _mentions_ipv6(before):
            raise self.error(f"table {name!r} appears twice (first at line {first}); from here on the addresses "
                             "are IPv6, as if an ip6tables-save followed an iptables-save", line,
                             "each family in a file of its own: iptables-save's and ip6tables-save's output "
                             "saved apart")

    def circles(self, tables: list[_TableState], frozen: dict[int, Table] | None = None) -> _Found | None:
        """The first refusal (:data:`_Found`) of committed ``tables`` whose built-in chains reach chains that jump
        in a circle (:func:`.compile_chains.refuse_table_circles`): the kernel refuses such a table at its COMMIT
        (iptables-legacy-restore v1.8.9: "line N failed", N the COMMIT's; iptables-nft-restore: RULE_APPEND failed
        (Too many links) at the rule that closes it), named at the jump that closes it, as the other refusals of
        the kernel at COMMIT are named at their rule, after all of those of its table (:data:`_Found`). A copy of a
        table given again is judged too (it was committed). ``frozen``: the tables frozen already, by their line."""
        from kubeproxy_sim.netfilter.compile_chains import refuse_table_circles

        best: _Found | None = None
        for state in tables:
            table = frozen.get(state.line) if frozen is not None else None
            try:
                refuse_table_circles(table if table is not None else state.freeze(), targets=state.arrows())
            except InputError as circle:
                line = circle.diagnostics[0].line
                best = _earlier(best, ((state.line, 2, line or 0), RulesSyntaxError(
                    circle.diagnostics[0].message, file=self.file, line=line)))
        return best

    def note_first_command(self, line: int) -> int:
        """``line``, noted as the open table's first command (a rule, -N, ...: read() notes each table's once;
        outside a table the command is refused next)."""
        if self.table is not None:
            self.table.first_command = line
        return line

    def commit(self) -> None:
        """The table as committed; one committed before under its name is replaced (:meth:`open_table`)."""
        table = self.table
        if table is None:
            raise self.error("COMMIT outside a table", "COMMIT", "*TABLE before COMMIT")
        if self.validate:
            self.check_table_jumps(table)
        self.check_late_names(table)
        self.replaced += [t for t in self.tables if t.name == table.name]
        self.tables = [t for t in self.tables if t.name != table.name] + [table]
        self.table = None

    def current(self, token: str) -> _TableState:
        if self.table is None:
            raise self.error("command before any *table line", token, "*filter, *nat, ... first")
        return self.table

    def declare(self, line: str) -> None:
        """``:NAME POLICY [packets:bytes]`` (the common user-chain line has its fast path in :meth:`run`)."""
        table = self.current(line.split(" ", 1)[0])
        parts = [p for p in re.split(r"[ \t]+", line[1:]) if p]
        if not parts:
            raise self.error("chain declaration without a name", line, ":NAME POLICY [packets:bytes]")
        name = self.chain_name(parts[0])
        if len(parts) < 2:  # (both restores v1.8.9: "line N policy invalid")
            raise self.error(f"chain {name} is declared without a policy", line,
                             f":{name} - [0:0] for a user-defined chain, :{name} ACCEPT [0:0] for a built-in one")
        policy = parts[1]
        counters = _declared_counters(parts[2]) if len(parts) > 2 else None  # (a word after them is not read:
        # both restores v1.8.9 take ':INPUT DROP [5:6] x', or a CR there, strtok's fourth word never asked for)
        builtin = name in BUILTIN_CHAINS[table.name]
        if builtin and len(parts) < 3:  # (iptables-restore --counters, as kube-proxy runs it and counters are read)
            raise self.error(f"chain {name} is declared without its counters", line,
                             f":{name} {policy} [packets:bytes], as iptables-save prints it")
        if counters is None and len(parts) > 2 and builtin:
            raise self.error(f"bad counters for chain {name}", parts[2], "[packets:bytes], each a number")
        if policy == "-":
            policy_value = None
        elif policy not in POLICIES:
            raise self.error(f"bad policy for chain {name}", policy, "ACCEPT, DROP or - (user-defined chain)")
        elif not builtin:
            raise self.error(f"chain {name} is not built into table {table.name}, so it has no policy",
                             policy, "-")
        else:
            policy_value = policy
        if counters == (0, 0) or not builtin:  # (a user chain's are not read: iptables-save prints [0:0])
            counters = None
        existing = self.undeleted(table, name)
        if existing is None:
            table.chains[name] = _ChainState(name, policy_value, counters, line=self.lineno)
        elif builtin:  # declared again: its policy and counters change, its rules stay (both iptables-restores)
            existing.policy, existing.counters, existing.line = policy_value, counters, self.lineno
        else:
            raise self.redeclared(table, name)

    def undeleted(self, table: _TableState, name: str) -> _ChainState | None:
        """The chain ``name`` if it exists; one deleted (-X) is forgotten, to be made anew as iptables-restore
        makes it (``:FOO``, ``-X FOO``, ``:FOO`` is one empty FOO; no rule jumped to it meanwhile: :meth:`added`)."""
        chain = table.chains.get(name)
        if chain is not None and chain.deleted:
            del table.chains[name]
            table.deleted.remove(name)
            if not table.deleted:  # (the fast path of run() adds rules again, uncounted)
                table.targets = None
            return None
        return chain

    def redeclared(self, table: _TableState, name: str) -> RulesSyntaxError:
        """A user chain declared again in its table, refused as iptables-legacy-restore refuses it ("error creating
        chain 'FOO': File exists"); iptables-nft-restore would flush it instead, and so did this parser once."""
        lines = self.text.split("\n")[table.line:self.lineno - 1]
        first = next((table.line + 1 + i for i, line in enumerate(lines)
                      if re.match(rf"[ \t]*(?::|-N[ \t]+|--new-chain[ \t]+){re.escape(name)}(?:[ \t]|$)", line)), None)
        where = f" (first at line {first})" if first is not None else ""
        return self.error(f"chain {name} is declared twice in table {table.name}{where}", f":{name}",
                          "each user-defined chain declared once (-F NAME empties it)")

    def chain_name(self, name: str, clashes: frozenset[str] = VERDICTS) -> str:
        """``name`` as a new user chain's, refused when too long, of an odd first character or one of ``clashes``
        (the targets whose names iptables-restore refuses here: a declaration's and -E's, or -N's)."""
        if len(name) > MAX_CHAIN_NAME:
            raise self.error("chain name too long", name, f"at most {MAX_CHAIN_NAME} characters")
        if name in clashes:
            kind = "a standard target's" if name in VERDICTS else "a target extension's"
            raise self.error(f"chain name {name} is {kind} name", name, "a name such as KUBE-SERVICES"
                             + ("" if name in VERDICTS else f" (':{name} - [0:0]' may take it)"))
        if name[0] in "-!" or '"' in name:
            raise self.error("bad chain name", name, "a name such as KUBE-SERVICES")
        return name

    def prefix_counters(self, line: str) -> tuple[tuple[int, int], str]:
        """A restore line's leading ``[packets:bytes]`` and the command after it, split as iptables-restore
        splits them: at the first ``]`` (no blank needed after it), packets before the first ``:``."""
        close = line.find("]")
        if close == -1:
            raise self.error("counters without their closing ]", line[:40], "[packets:bytes] before the command")
        packets, colon, count = line[1:close].partition(":")
        values = (_scan_counter(packets), _scan_counter(count) if colon else None)
        if values[0] is None or values[1] is None:
            raise self.error("bad counters", line[:close + 1], "[packets:bytes], each a number")
        return (values[0], values[1]), line[close + 1:].lstrip(" \t")

    def chain(self, table: _TableState, name: str) -> _ChainState:
        chain = table.chains.get(name)
        if chain is not None and chain.deleted:
            raise self.error(f"chain {name} was deleted (-X at line {chain.deleted}) in table {table.name}", name,
                             f"':{name} - [0:0]' (or -N {name}) again before its rules")
        if chain is None and name in BUILTIN_CHAINS[table.name]:
            # A built-in chain the table does not declare is the kernel's own: both restores v1.8.9 take its rules
            # (unshare --net), iptables-save printing it ACCEPT [0:0] after a flushing restore into a new namespace
            # (on a node, legacy keeps the policy it had, counters cleared, nft sets ACCEPT; --noflush keeps
            # both and its rules, which a reading of the file cannot know). Line 0: no line declared it. Its table
            # is then no partial input (:func:`_on_node`): a jump to no chain is refused, as into a new namespace.
            chain = table.chains[name] = _ChainState(name, "ACCEPT", None, line=0)
        if chain is None:
            raise self.error(f"chain {name} is not declared in table {table.name}", name,
                             f"':{name} - [0:0]' (or -N {name}) before its rules")
        return chain

    # -- commands --------------------------------------------------------------

    def line_end(self, text: str) -> str:
        """What followed ``text``, the stripped tail of the line being read, on its line: the blanks stripped and
        the newline (none after the last line), which a quote left open in ``text`` takes in, as in
        iptables-restore (:func:`syntax.tokenize`). Only looked at for a text with a quote."""
        if '"' not in text:
            return syntax.LINE_END
        if not self.last:
            self.last = self.text.count("\n") + 1
        raw = self.raw
        return raw[len(raw.rstrip(" \t")):] + (syntax.LINE_END if self.lineno < self.last else "")

    def counted_command(self, line: str) -> None:
        counters, rest = self.prefix_counters(line)
        if rest[:3] == "-A ":
            self.append_fast(rest, counters)
        else:
            self.command(rest, counters)

    def note_line(self, line: str) -> None:
        """A rule's line that no shape vouched for (every such line comes here or to :meth:`command`): one naming a
        match only IPv6 has makes the family's checks search the text for them (:meth:`judged`); one naming a match
        of some hooks only is kept, to be judged at its place (no shape is learnt from either: :meth:`_Shapes.learn`,
        so each such line comes here)."""
        if not self.ipv6_only and _IPV6_ONLY.search(line) is not None:
            self.ipv6_only = True
        if any(name in line for name in _PLACED_NAMES) and _PLACED_MATCH.search(line) is not None and \
                self.table is not None:
            self.placed.append((self.table, self.lineno, line))
        if "/" in line and self.table is not None and _NAMED_HOST.search(line) is not None:
            self.named_hosts.append((self.table, self.lineno, line))

    def note_values(self, line: str) -> None:
        """Keep a rule's line that no shape vouched for and that may hold a value the family decides
        (:data:`_FAMILY_VALUE_NAMES`), to be judged once the family is known (:meth:`judged`)."""
        if self.table is not None and any(name in line for name in _FAMILY_VALUE_NAMES):
            self.valued.append((self.table, self.lineno, line))

    def append_fast(self, line: str, counters: tuple[int, int] | None) -> None:
        """``-A CHAIN spec``: the line kind that makes up nearly all of a big dump."""
        self.note_line(line)
        table = self.table
        if table is None:
            raise self.error("rule before any *table line", line[:40], "*filter, *nat, ... first")
        parts = line.split(" ", 2)
        name = parts[1] if len(parts) > 1 else ""  # ("-A " stripped is "-A": the general path names the line)
        chain = table.chains.get(name)
        if chain is None or chain.deleted:  # undeclared, deleted, no name, or odd spacing: the general path
            # reports or copes
            self.command(line, counters)
            return
        spec = parts[2] if len(parts) > 2 else ""
        found = self.shapes.known(spec) if self.validate else None
        if found is not None:
            chain.targets[self.shapes.target(found)] = None
        elif not self.validate and is_canonical_text(spec, words=False):
            pass
        elif is_canonical_text(spec):  # (never true when the rule holds -c counters)
            # The text is already canonical: no need to render it again. The typed view is checked
            # here and built again on first use, like the views of the rules of a known shape.
            self.note_target(chain, syntax.parse_spec(spec, line=self.lineno, file=self.file))
            self.shapes.learn(spec)
            self.note_values(line)
        else:
            self.note_values(line)
            try:
                rule = self.rule(name, syntax.tokenize(spec, end=self.line_end(spec)), counters)
            except syntax.OtherFamilyRule:
                return  # (iptables-restore skips the line: see command)
            self.added(table, rule.spec)
            self.note_target(chain, rule.parsed)
            chain.rule_list().append(rule)
            return
        if self.validate and name in _WRONG_INTERFACE:
            self.check_interfaces(name, syntax.parse_spec(spec))
        self.added(table, spec, found)
        if counters is None:
            chain.add_plain(spec, self.lineno)
        else:
            chain.rule_list().append(Rule.make(name, spec, self.lineno, counters))

    def added(self, table: _TableState, spec: str, shaped: re.Match[str] | None = None) -> None:
        """A rule of ``table`` with the canonical text ``spec`` is being added: its target is noted to be checked at
        COMMIT (validating; ``shaped``: a shape's match, which holds it, else its text is searched); refused, at its
        own line, when it jumps to a chain deleted (-X) before it, as iptables-legacy-restore refuses it ("Couldn't
        load target `FOO'"; iptables-nft-restore likewise), also when a later line (-F, -D, -R) would remove it
        again. Only while a chain of the table is deleted (kube-proxy's -X lines end a table)."""
        if not self.validate:
            pass
        elif shaped is not None:
            if shaped[1]:
                table.jumps.add(shaped[1])
        else:
            table.jumps.update(_JUMP.findall(" " + spec))
            if " -g " in " " + spec:
                table.gotos.update(_GOTO.findall(" " + spec))
            last = spec[spec.rfind(" ") + 1:]  # (a shape takes no such bare target: syntax.shape_matcher)
            if last in syntax.REQUIRED_TARGET_OPTIONS:
                table.bare.add(last)
        if not table.deleted:
            return
        word = syntax.jump_target(spec, table.deleted)
        if word is not None:
            raise self.error(f"chain {word} was deleted (-X at line {table.chains[word].deleted}) in table "
                             f"{table.name}", word, f"':{word} - [0:0]' (or -N {word}) again before a rule jumps to it")
        if table.targets is not None:
            table.targets.update(_JUMP.findall(" " + spec))

    def removed(self, table: _TableState, specs: list[str], lines: list[int] | None = None) -> None:
        """Rules of ``table`` with these texts are being removed (-D, -R, -F): their targets are counted no more,
        and (``lines``: theirs) a jump iptables-restore refused at its line is refused now, before it is gone
        (:meth:`check_jumps`)."""
        if lines is not None and self.validate and specs:
            self.check_jumps(table, list(zip(specs, lines, strict=True)))
        if table.targets is not None and specs:
            table.targets.subtract(_JUMP.findall(" " + "\n ".join(specs)))

    # -- jumps (at COMMIT, or as their rules are removed) ----------------------

    def check_late_names(self, table: _TableState) -> None:
        """Refuse a chain that took a target extension's name (declared, or by -E) after a rule named that
        extension alone (``-A INPUT -j LOG``, then ``:LOG`` or ``-E FOO LOG``), as not modelled: iptables-legacy
        loaded the extension at the rule's line and keeps it (the chain has 0 references, the rule logs and goes
        on; unshare --net), but the rule's text, all the model keeps, reads as a jump to the chain. With options
        (``-j LOG --log-prefix x``) a rule is the extension all the same (a chain takes none: compile_targets), and
        after the chain's -X, or a later -E away from the name, the text is the extension again."""
        for chain in table.chains.values():
            named_at = chain.renamed or chain.line
            if chain.deleted or chain.name not in syntax.TARGET_EXTENSIONS or named_at <= table.line:
                continue
            name, before = chain.name, chain.extension_lines  # (renamed: the rules that named it before the -E)
            if chain.renamed and not before:
                continue
            early = [line for state in table.chains.values() for spec, line in state.texts_naming(name, name)
                     if (line in before if chain.renamed else line < named_at)
                     and syntax.jump_target(spec, (name,)) == name
                     and (target := syntax.parse_spec(spec).target) is not None
                     and not target.options and not target.goto]
            if early:
                how = f"-E at line {named_at}" if chain.renamed else f"declared at line {named_at}"
                raise RulesSyntaxError(
                    f"chain {name} ({how}) takes the name of the target extension the rule at line {min(early)} "
                    f"names alone (-j {name}); iptables keeps that rule the extension, but its text reads as a "
                    "jump to the chain: not modelled", file=self.file, line=named_at, token=name,
                    expected="another name for the chain, or the chain declared before the rule")

    def check_table_jumps(self, table: _TableState) -> None:
        """Refuse, at its line, the first rule of ``table`` whose jump iptables-restore refuses (:meth:`jump_error`).

        Its rules' targets, noted as they were added (:meth:`run`: a known shape's match holds the name, left
        out when it is the shape's own, one of ``_Shapes.targets``; other rules' texts are searched, a word quoted
        in a comment being one more to look at), that are neither a verdict, a target extension nor a chain are
        the suspects, and so are a built-in chain, a shadowed extension, a goto's word other than a chain's and,
        when the table's first command (``first_command``) comes before a declaration, each chain declared after
        it; only then are its rules read one by one (never for a dump iptables-save printed). No second
        search of the text: that took a fifth of a validating parse; what is left is a look-up per distinct
        target (10k services: 110,000)."""
        names = table.jumps
        names.update(self.shapes.targets)
        chains = table.chains
        suspects = names.difference(chains, VERDICTS, syntax.TARGET_EXTENSIONS)
        suspects.update(names.intersection(BUILTIN_CHAINS[table.name]))
        suspects.update(name for name in names.intersection(syntax.TARGET_EXTENSIONS) if name in chains)  # shadowed
        suspects.update(table.gotos.difference(chains))  # (a goto needs a user chain; kube-proxy writes none)
        suspects.update(table.bare)  # (-j MARK alone: a chain MARK declared before, or refused)
        suspects.update(names.intersection(table.renamed_away))  # (-j LOG after :LOG, -E LOG FOO: refused)
        if suspects and _on_node(table):  # (a partial restore input's jumps to the node's chains: see jump_error)
            suspects.difference_update(names.difference(chains, BUILTIN_CHAINS[table.name], VERDICTS,
                                                        syntax.TARGET_EXTENSIONS))
        started = table.first_command
        if started and _last_declared(table) > started:  # (a chain declared after a rule: was it jumped to before?)
            suspects.update(name for name, chain in chains.items() if chain.line > started)
        if suspects:
            self.check_jumps(table, [text for chain in chains.values() for text in chain.texts()], suspects)

    def check_jumps(self, table: _TableState, texts: list[tuple[str, int]], suspects: set[str] | None = None
                    ) -> None:
        """Refuse the first (by line) of these rules of ``table``, as (spec, line), whose jump iptables-restore
        refuses (:meth:`jump_error`); only a rule with a word of ``suspects`` after a -j or -g is read (None: any
        that is not a verdict or an extension not shadowed)."""
        found: list[tuple[int, RulesSyntaxError]] = []
        for spec, line in texts:
            words = _JUMP.findall(" " + spec)
            if suspects is not None:
                words = [word for word in words if word in suspects]
            else:
                words = [word for word in words if not self.plain_jump(table, word, line, " -g " in " " + spec)]
            if words:
                error = self.jump_error(table, spec, line)
                if error is not None:
                    found.append((line, error))
        if found:
            raise min(found, key=lambda item: item[0])[1]

    @staticmethod
    def plain_jump(table: _TableState, word: str, line: int, goto: bool) -> bool:
        """Whether a -j (``goto``: -g) to ``word`` at ``line`` of ``table`` is certainly taken: a verdict or a target
        extension not shadowed by a chain, or a user chain of another name declared before it."""
        chain = table.chains.get(word)
        if chain is None:
            return not goto and (word in VERDICTS or word in syntax.TARGET_EXTENSIONS) \
                and word not in syntax.REQUIRED_TARGET_OPTIONS  # (-j MARK alone is refused: jump_error)
        return chain.line < line and word not in BUILTIN_CHAINS[table.name] and word not in syntax.TARGET_EXTENSIONS

    def jump_error(self, table: _TableState, spec: str, line: int) -> RulesSyntaxError | None:
        """What iptables-restore says of the rule's jump when it refuses it at the rule's line: to no chain
        declared before it and no target (legacy: "Couldn't load target `FOO'", nft: "Chain 'FOO' does not
        exist", at COMMIT), to a built-in chain (both: the rule fails), a goto to no user chain ("goto 'LOG' is
        not a chain"), options after a jump to a chain that shadows an extension ('unknown option'), a target
        extension without the option it needs (both: "MARK: One of the --set-xmark, ... is required"), unless a
        chain declared under its name (``:MARK``, not ``-E FOO MARK``: legacy checks the extension then) before the
        rule takes the jump, or a target extension's name after the chain declared under it was renamed away."""
        try:
            target = syntax.parse_spec(spec).target
        except RulesSyntaxError:
            return None  # (reported where the rule was read)
        if target is None or (target.name in VERDICTS and not target.goto):
            return None
        name, chain = target.name, table.chains.get(target.name)
        if chain is not None and line < chain.renamed:
            return None  # (judged when the chain took its name: rename_chain)
        declared_at = chain.line if chain is not None else 0
        declared = chain is not None and declared_at < line and name not in BUILTIN_CHAINS[table.name]
        error = functools.partial(RulesSyntaxError, file=self.file, line=line, token=name)
        if name in BUILTIN_CHAINS[table.name]:
            return error(f"a rule cannot jump to built-in chain {name}",
                         expected="a user-defined chain, a verdict such as ACCEPT or a target extension")
        away = table.renamed_away.get(name, 0)
        if chain is None and 0 < away < line and not target.goto:
            return self.renamed_away_error(target, away, error)
        if declared and name in syntax.TARGET_EXTENSIONS and target.options:
            # (after -E FOO LOG legacy takes the rule with "Warning: using chain LOG, not extension" and drops the
            # options, a rule that no longer logs; nft refuses the -E itself: refused here for both)
            renamed = chain.renamed if chain is not None else 0
            named = f"renamed to {name} at line {renamed}" if renamed else f"declared at line {declared_at}"
            return error(f"-j {name} is a jump to chain {name} ({named}, which shadows the target extension), and "
                         "a chain takes no options", expected=f"-j {name} alone, or another name for the chain")
        shadowed = declared and chain is not None and (not chain.renamed or away > 0)  # (declared under it: :MARK)
        by_family = chain is None and name in syntax.FAMILY_TARGETS  # (-j HL alone, no chain HL: _misplaced)
        missing = None if shadowed or by_family or target.goto or target.options else syntax.missing_option(name, ())
        if missing is not None:
            return error(missing[0], expected=f"{missing[1]} (or ':{name} - [0:0]' before the rule, for a jump to "
                                              "a chain of that name)")
        if declared or (name in syntax.TARGET_EXTENSIONS and not target.goto):
            return None
        if name in syntax.TARGET_EXTENSIONS or name in VERDICTS:
            return error(f"-g {name}: a goto needs a user-defined chain", expected="-j " + name)
        if chain is None and _on_node(table):
            return None  # (iptables-restore --noflush takes it when the node holds the chain: undeclared_jumps)
        later = f" (it is declared at line {declared_at}, after this rule)" if chain is not None else ""
        if target.goto:
            return error(f"-g {name}: no user-defined chain {name} is declared before this rule{later}",
                         expected=f"':{name} - [0:0]' before the rule (a goto goes only to a user-defined chain)")
        return error(f"target {name} is neither a chain declared before this rule nor a target{later}",
                     expected=f"':{name} - [0:0]' before the rule, or a target such as ACCEPT, DROP or DNAT")

    @staticmethod
    def renamed_away_error(target: syntax.Target, away: int,
                           error: Callable[..., RulesSyntaxError]) -> RulesSyntaxError:
        """A -j to a target extension's name after the chain declared under it (``:LOG``) was renamed away: legacy
        takes that name for a chain's from its declaration on and loads no extension of it ("Couldn't load target
        `LOG'", or 'unknown option "--log-prefix"' with options; unshare --net, 1.8.9), where a chain only an -E
        gave the name shadows no extension (a bare -j MARK to it still needs MARK's option: jump_error)."""
        name = target.name
        why = f"the chain declared {name} was renamed at line {away}, and iptables then loads no target {name}"
        expected = f"':{name} - [0:0]' again before the rule, or a target of another name"
        if target.options:
            return error(f'unknown option "{target.options[0].flag}": {why}', expected=expected)
        return error(f"Couldn't load target `{name}': {why}", expected=expected)

    def rule(self, chain: str, tokens: list[syntax.Token], counters: tuple[int, int] | None) -> Rule:
        """A rule with its canonical text and typed view (``-c P B`` inside the rule sets counters)."""
        tokens, counters = self.inline_counters(tokens, counters)
        text, parsed = syntax.canonical_spec(tokens, line=self.lineno, file=self.file, family=self.family)
        if self.validate and self.table is not None:  # (a rule of canonical text is checked at COMMIT)
            self.check_jumps(self.table, [(text, self.lineno)])
        if self.validate and chain in _WRONG_INTERFACE:
            self.check_interfaces(chain, parsed)
        self.verbatim = False
        rule = Rule(chain, text, self.lineno, counters)
        object.__setattr__(rule, "_parsed", parsed)
        return rule

    @staticmethod
    def note_target(chain: _ChainState, parsed: syntax.RuleSpec) -> None:
        """Note the -j/-g word of a rule appended to ``chain`` (:attr:`_ChainState.targets`)."""
        if parsed.target is not None:
            chain.targets[parsed.target.name] = None

    def check_interfaces(self, chain: str, parsed: syntax.RuleSpec) -> None:
        """Refuse a rule of a built-in chain of that name (in any table) with the interface its packets have not,
        as iptables refuses it at the rule (-A, -I, -R and -D alike; legacy and nft 1.8.9: "Can't use -o with
        INPUT"): no -o in PREROUTING or INPUT, which come before routing, no -i in OUTPUT or POSTROUTING."""
        flag = _WRONG_INTERFACE[chain]
        if any(o.flag == flag and not o.module for o in parsed.options):
            raise self.error(f"Can't use {flag} with {chain}", flag, _INTERFACE_EXPECTED[flag])

    def inline_counters(self, tokens: list[syntax.Token], prefix: tuple[int, int] | None
                        ) -> tuple[list[syntax.Token], tuple[int, int] | None]:
        """The tokens without their ``-c PACKETS BYTES``, and the command's counters: that option's, else the
        line's ``[p:b]`` prefix (``prefix``); refused as iptables refuses them (both, or -c twice: "multiple -c
        flags not allowed")."""
        rest, values = _inline_counters(tokens)
        if values is None:
            return tokens, prefix
        if prefix is not None or _counters_at(rest) is not None:
            raise self.error("counters given twice", "-c", "[p:b] before the command or one -c PACKETS BYTES")
        numbers = [_scan_counter(v) for v in values]
        if len(numbers) != 2 or numbers[0] is None or numbers[1] is None:
            raise self.error("bad counters", " ".join(["-c", *values]),
                             "-c PACKETS BYTES (or -c PACKETS,BYTES), each a number")
        return rest, (numbers[0], numbers[1])

    def command(self, line: str, counters: tuple[int, int] | None) -> None:
        self.note_line(line)
        self.note_values(line)
        tokens = syntax.tokenize(line, end=self.line_end(line))
        while self.family is not None and tokens and not tokens[0].quoted and tokens[0].text in syntax.FAMILY_WORDS:
            # (``-4 -A INPUT ...``, a file for both restores: the other family's line is skipped, as in a rule)
            if syntax.FAMILY_WORDS[tokens[0].text] != self.family:
                return
            tokens = tokens[1:]
        verb = _COMMANDS.get(tokens[0].text) if tokens else None
        if verb is None:
            raise self.error("unknown command", tokens[0].text if tokens else line,
                             "-A, -I, -D, -R, -F, -Z, -N, -X, -E or -P")
        table = self.current(tokens[0].text)
        args = tokens[1:]
        if counters is not None and verb not in _COUNTED_COMMANDS:
            raise self.error("counters before a command that takes none", verb, "[p:b] only before -A, -I, -R or -P")
        if verb in _EDITING_COMMANDS:
            table.edited = True
        if verb in _RULE_COMMANDS:
            try:
                self.rule_command(table, verb, args, counters)
            except syntax.OtherFamilyRule as other:
                if verb == "-R":
                    raise self.error(f"-R with {other} (the other family's) crashes iptables-restore v1.8.9",
                                     str(other), "no -4/-6 of the other family in a -R line") from None
                # (iptables-restore skips the line: nothing of it is read after the word, nothing is done)
        elif verb in ("-F", "-Z"):
            self.flush_or_zero(table, verb, args)
        elif verb == "-N":
            name = self.chain_name(self.one_arg(verb, args, "a chain name"), NEW_CHAIN_CLASHES)
            if any(c in hostmask.BLANKS_C for c in name):  # (parse_chain's isspace: not a declaration's, nor -E's)
                raise self.error("invalid chain name: it holds a blank (iptables: \"Invalid chain name\")", name,
                                 "a name such as KUBE-SERVICES, without spaces, tabs, CRs or other blanks")
            if self.undeleted(table, name) is not None:
                raise self.error(f"chain {name} already exists in table {table.name}", name, "a new chain name")
            table.chains[name] = _ChainState(name, None, None, line=self.lineno)
        elif verb == "-X" and not args:  # every user chain, as iptables -X deletes them: each must be free to go
            builtin = BUILTIN_CHAINS[table.name]
            for name in [c.name for c in table.chains.values() if not c.deleted and c.name not in builtin]:
                self.delete_chain(table, name)
        elif verb == "-X":
            self.delete_chain(table, self.one_arg(verb, args, "a chain name"))
        elif verb == "-E":
            self.rename_chain(table, args)
        else:
            self.set_policy(table, args, counters)

    def family_read(self, verb: str, index: int | None, rest: list[syntax.Token]) -> list[syntax.Token]:
        """A rule's words holding a -4 or -6 (:meth:`syntax._Interpreter.family_word`), read before its chain is
        looked up, as iptables-restore reads the line before it looks: the other family's makes the line skipped
        (:class:`syntax.OtherFamilyRule`, also for a chain that does not exist). ``-D CHAIN NUMBER`` reads no rule:
        either family's word is nothing to it (both restores delete the rule)."""
        if verb == "-D" and index is not None:
            return [t for t in rest if t.quoted or t.text not in syntax.FAMILY_WORDS]
        with contextlib.suppress(RulesSyntaxError):  # (its own error comes in its turn: the chain's first, as before)
            syntax.interpret(rest, line=self.lineno, file=self.file, family=self.family)
        return rest

    def one_arg(self, verb: str, args: list[syntax.Token], what: str) -> str:
        if len(args) != 1:
            raise self.error(f"{verb} takes {what}", " ".join(a.text for a in args) or "end of line", what)
        return args[0].text

    def rule_command(self, table: _TableState, verb: str, args: list[syntax.Token],
                     counters: tuple[int, int] | None) -> None:
        if not args:
            raise self.error(f"{verb} needs a chain name", "end of line", f"{verb} CHAIN ...")
        rest = args[1:]
        index: int | None = None
        if verb != "-A" and rest and not rest[0].quoted and rest[0].text.isascii() and rest[0].text.isdigit():
            index = int(rest[0].text)
            rest = rest[1:]
        if self.family is not None and any(not t.quoted and t.text in syntax.FAMILY_WORDS for t in rest):
            rest = self.family_read(verb, index, rest)
        chain = self.chain(table, args[0].text)
        if index is not None:
            count = len(chain.rule_list())
            limit = count + (1 if verb == "-I" else 0)
            if not 1 <= index <= limit:
                raise self.error(f"rule number {index} out of range for chain {chain.name} "
                                 f"({count} rules)", str(index), f"1..{limit}")
        if verb == "-D":
            self.delete_rule(table, chain, index, rest)
            return
        if verb == "-R" and index is None:
            raise self.error("-R needs a rule number", rest[0].text if rest else "end of line", "-R CHAIN NUMBER spec")
        rule = self.rule(chain.name, rest, counters)  # (-A takes no number: rest is all its words)
        self.added(table, rule.spec)
        if verb == "-A":
            self.note_target(chain, rule.parsed)
            chain.rule_list().append(rule)
        elif verb == "-I":
            chain.rule_list().insert((index or 1) - 1, rule)
        elif index is not None:  # -R (without a number it was refused above)
            rules = chain.rule_list()
            self.removed(table, [rules[index - 1].spec], [rules[index - 1].line])
            rules[index - 1] = rule

    def delete_rule(self, table: _TableState, chain: _ChainState, index: int | None, rest: list[syntax.Token]
                    ) -> None:
        rules = chain.rule_list()
        if index is not None and not rest:
            self.removed(table, [rules[index - 1].spec], [rules[index - 1].line])
            del rules[index - 1]
            return
        if _counters_at(rest) is not None:
            raise self.error("-D takes no counters", "-c", "the rule as it was added, without -c")
        target = self.rule(chain.name, rest, None).spec
        for i, existing in enumerate(rules):
            if existing.spec == target:
                self.removed(table, [target], [existing.line])
                del rules[i]
                return
        raise self.error(f"no such rule in chain {chain.name}", target or "(empty rule)",
                         "a rule written exactly as it was added")

    def flush_or_zero(self, table: _TableState, verb: str, args: list[syntax.Token]) -> None:
        if len(args) > 1:
            raise self.error(f"{verb} takes at most one chain name", args[1].text, "end of line")
        chains = [self.chain(table, args[0].text)] if args else list(table.chains.values())
        for chain in chains:
            if verb == "-F":
                texts = chain.texts()
                self.removed(table, [spec for spec, _ in texts], [line for _, line in texts])
                chain.clear()
            else:
                chain.counters = None
                rules = chain.rule_list()
                rules[:] = [self.zeroed(r) for r in rules]

    @staticmethod
    def zeroed(rule: Rule) -> Rule:
        if rule.counters is None:
            return rule
        fresh = Rule(rule.chain, rule.spec, rule.line, (0, 0))
        object.__setattr__(fresh, "_parsed", rule._parsed)
        return fresh

    def delete_chain(self, table: _TableState, name: str) -> None:
        """``-X NAME``: the chain is gone from here on, as iptables-legacy-restore deletes it at once (a chain it does
        not know, one with rules or one a rule still jumps to is refused: libiptc's ENOTEMPTY and EMLINK, "line N
        failed"; iptables-nft-restore's CHAIN_DEL fails with EBUSY); it stays listed to render the restore input
        again."""
        if name in BUILTIN_CHAINS[table.name]:
            raise self.error(f"cannot delete built-in chain {name}", name, "a user-defined chain")
        chain = self.chain(table, name)
        if not chain.is_empty():
            raise self.error(f"chain {name} still has rules, so -X cannot delete it", name, f"-F {name} before -X")
        if self.jump_counts(table).get(name):
            self.check_unreferenced(table, name)
        chain.deleted = self.lineno
        table.deleted.append(name)

    def rename_chain(self, table: _TableState, args: list[syntax.Token]) -> None:
        """``-E OLD NEW``: the user chain OLD is NEW from here on, and so is every jump to it, as both
        iptables-restores rename it (a libiptc jump points at its chain, not at a name); NEW may be a chain deleted
        (forgotten then), not one that exists ("File exists"), nor OLD a built-in chain. The rules before it that
        name OLD or NEW are judged now, by the chains of their time (legacy loaded their targets at their lines: a
        -j NEW before is "Couldn't load target `NEW'", or a target extension NEW, which it stays: NEW's -X may
        delete the chain, a later -E NEW OTHER does not rename it, and one alone is refused at COMMIT if NEW is still
        a chain then, :meth:`check_late_names`)."""
        if len(args) != 2:
            raise self.error("-E takes the chain's name and its new name",
                             " ".join(a.text for a in args) or "end of line", "-E OLD NEW")
        old, new = args[0].text, self.chain_name(args[1].text)
        if old in BUILTIN_CHAINS[table.name]:
            raise self.error(f"cannot rename built-in chain {old}", old, "a user-defined chain")
        chain = self.chain(table, old)
        if new in BUILTIN_CHAINS[table.name] or self.undeleted(table, new) is not None:
            raise self.error(f"chain {new} already exists in table {table.name}", new, "a new chain name")
        named = self.may_jump_to(table, old) or self.may_jump_to(table, new)
        texts = [text for state in table.chains.values() for text in state.texts_naming(old, new)] if named else []
        if self.validate:  # (a jump is judged by the chains of its time: OLD's and NEW's, before they change)
            self.check_jumps(table, texts, {old, new})
        kept = chain.extension_lines  # (those named OLD before an -E gave it that name stay the extension OLD)
        if not chain.renamed and old in syntax.TARGET_EXTENSIONS:
            table.renamed_away.setdefault(old, self.lineno)
        chain.extension_lines = frozenset(line for spec, line in texts if f" {new}" in spec
                                          and syntax.jump_target(spec, (new,)) == new)
        chain.renamed = self.lineno
        renamed = [(new if name == old else name, state) for name, state in table.chains.items()]
        table.chains.clear()  # (in place, its place kept: run() holds this dict)
        table.chains.update(renamed)
        chain.name = new
        if chain.rules is not None:
            chain.rules = [self.moved(rule, new) for rule in chain.rules]
        for state in table.chains.values() if named else ():
            lines = state.lines if state.specs is not None else [r.line for r in state.rules or ()]
            hits = [i for i, spec in enumerate(state.spec_list())
                    if old in spec and lines[i] not in kept and syntax.jump_target(spec, (old,)) == old]
            rules = state.rule_list() if hits else []
            for i in hits:
                parsed = rules[i].parsed
                if parsed.target is not None:  # (it is: it is named OLD)
                    parsed = dataclasses.replace(parsed, target=dataclasses.replace(parsed.target, name=new))
                retargeted = self.moved(rules[i], state.name, parsed)
                self.removed(table, [rules[i].spec])
                self.added(table, retargeted.spec)
                rules[i] = retargeted

    def may_jump_to(self, table: _TableState, name: str) -> bool:
        """Whether a rule of ``table`` may name ``name`` after a -j or -g: validating, only when the targets noted as
        its rules were added (:meth:`check_table_jumps`) hold it, so an -E of a chain no rule names costs a look-up,
        not a search of 400,000 rules; not validating, always."""
        return not self.validate or name in table.jumps or name in self.shapes.targets

    def moved(self, rule: Rule, chain: str, parsed: syntax.RuleSpec | None = None) -> Rule:
        """``rule`` as a rule of ``chain``; with ``parsed``, of that typed view instead (its text rendered)."""
        text = rule.spec
        if parsed is not None:
            text, self.verbatim = syntax.render_spec(parsed), False
        fresh = Rule(chain, text, rule.line, rule.counters)
        object.__setattr__(fresh, "_parsed", parsed if parsed is not None else rule._parsed)
        return fresh

    @staticmethod
    def jump_counts(table: _TableState) -> Counter[str]:
        """How many rules of ``table`` name each word as their target (by :data:`_JUMP`: a word inside a quoted
        value may count too), for -X. Counted at a table's first -X and kept up to date from then on, while a
        chain of it is deleted (each rule added, :meth:`added`, or removed, :meth:`removed`; run()'s fast path
        is not taken then), so a -X costs the whole table once, not once per run of -X lines."""
        if table.targets is None:
            specs = itertools.chain.from_iterable(c.spec_list() for c in table.chains.values())
            table.targets = Counter(_JUMP.findall(" " + "\n ".join(specs)))
        return table.targets

    def check_unreferenced(self, table: _TableState, name: str) -> None:
        """Refuse the -X of chain ``name`` when a rule of ``table`` jumps to it (its first by line)."""
        skipped = table.chains[name].extension_lines  # (a target extension of its name before -E named it)
        found = [(line, chain.name) for chain in table.chains.values() for spec, line in chain.texts()
                 if name in spec and line not in skipped and syntax.jump_target(spec, (name,)) == name]
        if found:
            line, source = min(found)
            raise self.error(f"chain {name} is still the target of a rule of {source} (line {line}), so -X cannot "
                             "delete it", name, f"-F {source} (or -D that rule) before -X {name}")

    def set_policy(self, table: _TableState, args: list[syntax.Token], counters: tuple[int, int] | None) -> None:
        """``-P CHAIN POLICY``; counters (``[p:b]`` or ``-c``) become the chain's, as iptables-legacy-restore sets
        them (iptables-nft-restore v1.8.9 leaves them at 0)."""
        args, counters = self.inline_counters(args, counters)
        if len(args) != 2:
            raise self.error("-P takes a chain and a policy", " ".join(a.text for a in args) or "end of line",
                             "-P CHAIN ACCEPT|DROP")
        name, policy = args[0].text, args[1].text
        if name not in BUILTIN_CHAINS[table.name]:
            raise self.error(f"only built-in chains of table {table.name} have a policy", name,
                             ", ".join(BUILTIN_CHAINS[table.name]))
        if policy not in POLICIES:
            raise self.error(f"bad policy for chain {name}", policy, "ACCEPT or DROP")
        chain = table.chains.get(name)
        stored = None if counters == (0, 0) else counters  # ([0:0] is stored as no counters: see the top)
        if chain is None:
            table.chains[name] = _ChainState(name, policy, stored, line=self.lineno)
        else:
            chain.policy, chain.line = policy, self.lineno
            if counters is not None:
                chain.counters = stored


# ---------------------------------------------------------------------------
# Address family
# ---------------------------------------------------------------------------

_ADDRESS = re.compile(r'(?:^| )(-[sd]|--(?:src|dst)-range|--to(?:-destination|-source)?|--on-ip) "?\[?([0-9A-Fa-f.:]+)')
_ITEM_REST = re.compile(r'[^ \t",/]*')
"""The rest of an -s/-d item's host after :data:`_ADDRESS`'s run of address characters (a name's letters)."""
_MASK = re.compile(r'/([^ \t",]*)')


_IPV6_VALUE = re.compile(
    r'(?:^| )(?:-[sd] "?(?:[^ \t",]*,)*|(?:--(?:src|dst)-range|--to(?:-destination|-source)?|--on-ip) "?\[?)'
    r'[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:'
)
"""An address value :func:`_rule_family` reads as IPv6 (two colons in its run of address characters), or an item
of an -s/-d list that may be one (:func:`_holds_other`)."""


_COLON_PAIR = re.compile(r":[0-9A-Fa-f.]*:")
"""Two colons with only address characters between: every :data:`_IPV6_VALUE` match holds one."""


def _mentions_ipv6(text: str) -> bool:
    """``_IPV6_VALUE.search(text) is not None``, searched only in the lines that hold a colon pair.

    A pattern that starts with a literal colon skips through the text at memchr speed,
    where the full pattern is tried at every position (0.5 s on a 32 MB dump). A match
    never spans lines, and a line whose colon pair is hidden by an overlapping pair
    was already searched for that pair.
    """
    searched_to = -1
    for pair in _COLON_PAIR.finditer(text):
        if pair.start() < searched_to:
            continue
        start = text.rfind("\n", 0, pair.start()) + 1
        end = text.find("\n", pair.end())
        searched_to = len(text) if end == -1 else end
        if _IPV6_VALUE.search(text, start, searched_to) is not None:
            return True
    return False


_GETADDRINFO_FLAGS = ("--to", "--on-ip")  # (NETMAP's and TPROXY's host, read by getaddrinfo: _value_family_refusal)


def _find_family(spec: str, want: bool | None = None) -> bool | None:
    """The family (True: IPv6) of a rule's first address-like value that tells one, or (``want``) of the first that
    tells that one; None when none does.

    An -s/-d item with a zero mask tells none (both tools read the mask first and then skip the host:
    ``-s 1.2.3.4/0`` is taken by ip6tables-restore), and one iptables reads as an IPv4 number without three dots
    (``1.2.3``, ``1``, ``0x100``) is IPv4, which ip6tables refuses ("host/network `1.2.3' not found"; as NETMAP's
    --to or TPROXY's --on-ip, "getaddrinfo: Address family for hostname not supported")."""
    for m in _ADDRESS.finditer(spec):
        flag, value = m.groups()
        end = m.end()
        if len(flag) == 2 and spec.startswith("/", end):
            mask = _MASK.match(spec, end)
            if mask is not None and hostmask.zero_mask(mask.group(1)):
                continue
        if ":" in value and value.count(":") >= 2:
            if (len(flag) == 2 or flag in _GETADDRINFO_FLAGS) and hostmask.mapped_ipv4(value) is not None:
                continue  # (::ffff:1.2.3.4: iptables reads it as 1.2.3.4, ip6tables as itself; getaddrinfo too)
            if want is not False:
                return True
        elif value.count(".") == 3:
            if not want:
                return False
        elif (len(flag) == 2 or flag in _GETADDRINFO_FLAGS) and ":" not in value and not want:
            rest = _ITEM_REST.match(spec, end)  # (NETMAP's --to 10.1, TPROXY's --on-ip 1: getaddrinfo reads IPv4's)
            if hostmask.numeric_ipv4(value + rest.group() if rest is not None else value):
                return False
    return None


def _rule_family(spec: str) -> bool | None:
    """True (IPv6), False (IPv4) or None (no address) from a rule's first address-like value (:func:`_find_family`;
    an -s/-d list's first item)."""
    return _find_family(spec)


def _holds_other(spec: str, first: bool) -> bool:
    """Whether a rule whose first address is of the family ``first`` (:func:`_rule_family`) holds one of the other
    family too (an -s/-d list item after the first counts). Asked only when its text may hold one (two dots besides
    IPv6, not the one of kube-proxy's ``--probability 0.5``; two colons besides IPv4): a rule of IPv6 and an IPv4
    number of fewer dots, ``-s fd00::1 -d 1.2``, is not told apart."""
    if _find_family(spec, not first) is not None:
        return True
    return "," in spec and any(_item_family(item) is (not first) for m in _HOST_VALUE.finditer(spec)
                               for item in m.group(1).split(",")[1:])


def _item_family(item: str) -> bool | None:
    """The family an -s/-d list item after the first tells (:func:`_find_family`'s reading of an item)."""
    host, slash, mask = item.strip(hostmask.BLANKS_C).rpartition("/")
    if not slash:
        host = item.strip(hostmask.BLANKS_C)
    elif hostmask.zero_mask(mask):
        return None
    if host.count(":") >= 2:
        return None if hostmask.mapped_ipv4(host) is not None else True
    return False if ":" not in host and hostmask.numeric_ipv4(host) else None


_NAMED_HOST = re.compile(r'-(?:[sd]|-source|-destination|-src|-dst)[ \t]+(?:![ \t]+)?"?[^ \t"]*'
                         r'[^ \t"0-9A-Fa-f.:,/!][^ \t"]*/')
"""An -s/-d value holding a name (a letter no address holds) and a mask: the interpreter, before the family is
known, takes either family's mask for a name (``localhost/54``), which the family then judges
(:func:`_named_host_refusal`); noted only on lines no shape vouched for (a shape's -s/-d is numeric)."""
_HOST_WRITTEN = re.compile(r'(?:^|[ \t])(?:-[sd]|--source|--destination|--src|--dst)[ \t]+(?:![ \t]+)?'
                           r'("[^"]*"|[^ \t]+)')


def _host_refusal(text: str, line: int, ipv6: bool, file: str | None) -> RulesSyntaxError | None:
    """The refusal of the first -s/-d value of the rule at ``line`` (as written, ``text``) that the family ``ipv6``
    refuses (:func:`hostmask.read_hosts`); None when it takes them all."""
    for m in _HOST_WRITTEN.finditer(text):
        value = m.group(1)
        value = value[1:-1] if value[:1] == '"' and value[-1:] == '"' and len(value) > 1 else value
        hosts = hostmask.read_hosts(value, ipv6)
        if isinstance(hosts, hostmask.HostRefusal):
            return RulesSyntaxError(hosts.message, file=file, line=line, token=value, expected=hosts.expected)
    return None


def _named_host_refusal(table: _TableState, line: int, text: str, ipv6: bool, file: str | None) -> _Found | None:
    """:func:`_host_refusal` of the rule at ``line``, in the order iptables-restore meets it: iptables-restore
    v1.8.9 says "invalid mask `54' specified" of ``-s localhost/54`` (a mask up to 128 is IPv6's only), as
    ip6tables-restore says it of ``-s localhost/255.255.0.0``."""
    refused = _host_refusal(text, line, ipv6, file)
    return None if refused is None else ((table.line, 0, line), refused)


_Found = tuple[tuple[int, int, int], RulesSyntaxError]
"""A refusal found once the family is known, with the order iptables-restore meets it in: (its table's line, 0 for
what iptables refuses as it reads the rule, 1 for what the kernel refuses at the table's COMMIT, 2 for a circle of
jumps, which the kernel finds after every rule's own check (iptables-nft-restore v1.8.9 names the later rule of
``-m mh`` without ``-p mh`` first; legacy names the COMMIT either way), the rule's line).
The tools stop at the first: a table is read, then committed, then the next is read. A limit: the parser's own
refusal is ranked as one at its rule (:meth:`_Parser.earlier_in_family`), and the parser stops there, also for one
the kernel makes only at COMMIT (``-m udp`` without ``-p udp``, some ``-m recent`` options: restore_cases'
``at_commit``; its error does not say which), where iptables-restore reads on and names first a later rule of the
table it refuses as it reads, or one of nat's targets out of place before it that the kernel meets first
(iptables-legacy-restore 1.8.9 names line 6 of ``-A INPUT -m udp --dport 53 ...`` at line 5, ``--bogus`` at 6)."""


def _earlier(first: _Found | None, other: _Found | None) -> _Found | None:
    """The one of two refusals (None: none) that iptables-restore meets first."""
    if first is None or (other is not None and other[0] < first[0]):
        return other
    return first


_DOTTED_PAIR = re.compile(r"\.[0-9]*\.")
"""Two dots with only digits between, which an IPv4 address value holds (:func:`_holds_other` looks for one only
when the text has this: a search for a literal dot, 14 ms in a 33 MB IPv6 dump whose one dot a line is
kube-proxy's ``--probability 0.5``, where asking each rule took 25 ms)."""


def _family(tables: list[_TableState], ipv6: bool | None, validate: bool,
            file: str | None, may_mix: bool = True) -> tuple[bool, _Found | None]:
    """The ruleset's family: given, else that of the earliest address (in its first table with one; not
    validating, the first found); validating, also the earliest rule (by table, then line) with an address of the
    other family, which iptables refuses as it reads it ("host/network not found"), a rule of both families among
    them (``may_mix``: whether the text may hold one, :data:`_DOTTED_PAIR`)."""
    if ipv6 is not None and not validate:
        return ipv6, None
    guess = ipv6
    for table in sorted(tables, key=lambda t: t.line):
        first: dict[bool, tuple[int, int, str, str]] = {}  # family -> its earliest rule's (line, 0 when the family
        # is that of the rule's first address else 1, chain, text): a rule of both families counts for both
        for chain in table.chains.values():
            for spec, line in chain.texts():
                family = _find_family(spec)  # (:func:`_rule_family`, one call less a rule: 30 ms at 320,000)
                if family is None:
                    if validate and "," in spec:  # (-s localhost,fd00::1: a name first tells none, the rest may)
                        told_by = {_item_family(item) for m in _HOST_VALUE.finditer(spec)
                                   for item in m.group(1).split(",")[1:]}
                        for told in (told for told in (False, True) if told in told_by):
                            known = first.get(told)
                            if known is None or line < known[0]:
                                first[told] = (line, 1, chain.name, spec)
                    continue
                if not validate:
                    return family, None
                known = first.get(family)
                if known is None or line < known[0]:
                    first[family] = (line, 0, chain.name, spec)
                if (((may_mix and spec.count(".") >= 2) or ((("-s " in spec and "-d " in spec) or "," in spec)
                                                            and _IPV4_ITEM.search(spec) is not None))
                        if family else may_mix and spec.count(":") >= 2) and _holds_other(spec, family):
                    # (may hold one: an IPv4 rule two colons, an IPv6 rule two dots, both with the text's dotted pair
                    # (may_mix), or an IPv6 rule with two -s/-d items an IPv4 number of fewer dots, _IPV4_ITEM; written
                    # out, as a call a rule costs 30 ms on a 10k-service IPv6 dump, and the two-items test 15 ms)
                    known = first.get(not family)
                    if known is None or line < known[0]:  # (one rule a line: a tie is the same rule)
                        first[not family] = (line, 1, chain.name, spec)
        if guess is None and first:
            guess = min(first, key=lambda f: first[f][:2])
        other = first.get(not guess)
        if other is not None:
            line, _, name, spec = other
            return bool(guess), ((table.line, 0, line), _other_family(name, spec, bool(guess), file, line))
    return bool(guess), None


_HOST_VALUE = re.compile(r'(?:^| )-[sd] "?([^ \t"]*)')
"""A rule's -s/-d value as written (the form that tells its family: :data:`_ADDRESS`)."""
_IPV4_ITEM = re.compile(r'-[sd] "?(?:[^ \t",]*,)*[0-9][^ \t":,/]*(?=[/ \t",]|$)')
"""An -s/-d item of an IPv6 rule that may be an IPv4 number of fewer than two dots (``-s fd00::1 -d 1.2``, ``-d 1``,
``0x100``: ip6tables-restore v1.8.9 says "host/network `1.2' not found"), which :func:`_holds_other` then reads."""


_NAT_VALUE = re.compile(r'(?:^| )--to-(?:destination|source) "?([^ \t"]*)')
"""A NAT target's address range as written (:data:`_ADDRESS`'s --to-destination and --to-source)."""


def _nat_family_refusal(value: str, ipv6: bool) -> tuple[str, str] | None:
    """(message, the address it names) of a NAT target's range of the other family, as libxt_DNAT and libxt_SNAT
    1.8.9 say it: iptables 'Invalid address format' for a bracketed IPv6 host, else 'Bad IP address "fd00::1"';
    ip6tables 'Bad IP address "10.0.0.1"' for an IPv4 host, bracketed or not, with or without a port (both
    restores alike, unshare --net); None when its family is the ruleset's."""
    if ipv6:
        host = value[1:value.find("]")] if value.startswith("[") else value
        if host.count(":") == 1:
            host = host[:host.find(":")]  # (10.0.0.1:80: the port cut off)
        host = host.split("-")[0]
        return (f'Bad IP address "{host}"', host) if host.count(".") == 3 and ":" not in host else None
    if value.startswith("[") and value.count(":") >= 2:
        return "Invalid address format", value
    host = value.split("-")[0]
    return (f'Bad IP address "{host}"', host) if host.count(":") >= 2 else None


_OPTION_VALUE = re.compile(r'(?:^| )(--(?:src|dst)-range|--to|--on-ip) "?([^ \t"]*)')
"""An iprange range, NETMAP's --to or TPROXY's --on-ip, whose value of the other family the tools refuse as they read
it (:func:`_value_family_refusal`)."""


def _value_family_refusal(flag: str, value: str, ipv6: bool) -> tuple[str, str] | None:
    """(message, the address it names) of an :data:`_OPTION_VALUE` value whose first address of the other family
    (the one :func:`_find_family` reads) the tools refuse, in their words (both restores v1.8.9, unshare --net):
    libxt_iprange 'Bad value for "--src-range" option: "fd00::1"', NETMAP's and TPROXY's getaddrinfo (xtables'
    host_to_ip(6)addr asks for the family's addresses only) 'Address family for hostname not supported'."""
    hosts = value.split("-") if flag.endswith("-range") else [value.split("/")[0]]
    for host in hosts:
        family = _find_family(f"{flag} {host}")
        if family is not None and family is not ipv6:
            if flag.endswith("-range"):
                return f'iprange: Bad value for "{flag}" option: "{host}"', host
            return "getaddrinfo: Address family for hostname not supported", value
    return None


def _other_family(chain: str, spec: str, ipv6: bool, file: str | None, line: int) -> RulesSyntaxError:
    """The refusal of a rule with an address of the other family, in iptables' words: a NAT target's first (the
    tools read it with the target's options, an -s/-d value after them: "Invalid address format", 'Bad IP address
    "fd00::1"', :func:`_nat_family_refusal`), then an -s/-d value the ruleset's family cannot read (``-s 1.2.3`` in
    an IPv6 ruleset: "host/network `1.2.3' not found", as ip6tables-restore v1.8.9 says), else saying so."""
    expected = "an IPv6 address, as the ruleset's other rules have" if ipv6 else \
        "an IPv4 address, as the ruleset's other rules have"
    refusals = [(m.start(), _nat_family_refusal(m.group(1), ipv6)) for m in _NAT_VALUE.finditer(spec)]
    refusals += [(m.start(), _value_family_refusal(m.group(1), m.group(2), ipv6)) for m in _OPTION_VALUE.finditer(spec)]
    refused = min(((at, found) for at, found in refusals if found is not None), default=None)
    if refused is not None:  # (the first in the rule: iptables reads the options in turn)
        return RulesSyntaxError(refused[1][0], file=file, line=line, token=refused[1][1], expected=expected)
    for m in _HOST_VALUE.finditer(spec):
        hosts = hostmask.read_hosts(m.group(1), ipv6)
        if isinstance(hosts, hostmask.HostRefusal):
            return RulesSyntaxError(hosts.message, file=file, line=line, token=m.group(1), expected=hosts.expected)
    return RulesSyntaxError(f"rule in chain {chain} has an address of the other family", file=file, line=line,
                            token=spec[:60], expected=f"{'IPv6' if ipv6 else 'IPv4'} addresses only")


# ---------------------------------------------------------------------------
# Where a target may stand (what the kernel and iptables-restore check at COMMIT)
# ---------------------------------------------------------------------------

_MANGLE_ONLY = ("CHECKSUM", "DSCP", "ECN", "HL", "TCPOPTSTRIP", "TOS", "TTL")
TARGET_PLACES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "DNAT": ("nat", ("PREROUTING", "OUTPUT")), "REDIRECT": ("nat", ("PREROUTING", "OUTPUT")),
    "SNAT": ("nat", ("POSTROUTING", "INPUT")), "MASQUERADE": ("nat", ("POSTROUTING",)),
    "NETMAP": ("nat", BUILTIN_CHAINS["nat"]),
    "REJECT": ("filter", BUILTIN_CHAINS["filter"]),
    "CT": ("raw", BUILTIN_CHAINS["raw"]), "NOTRACK": ("raw", BUILTIN_CHAINS["raw"]),
    "TRACE": ("raw", BUILTIN_CHAINS["raw"]),
    "TPROXY": ("mangle", ("PREROUTING",)), "CLASSIFY": (None, ("FORWARD", "OUTPUT", "POSTROUTING")),
    "SYNPROXY": (None, ("INPUT", "FORWARD")),
    "DNPT": ("mangle", ("PREROUTING", "OUTPUT")), "SNPT": ("mangle", ("INPUT", "POSTROUTING")),
    **{name: ("mangle", BUILTIN_CHAINS["mangle"]) for name in _MANGLE_ONLY},
}
"""Target -> (its table, None for any table, and the built-in chains it may stand in, with the chains only they
reach): the kernel's ``.table`` and ``.hooks`` of xt_nat, xt_MASQUERADE, xt_REDIRECT, xt_NETMAP, ipt_REJECT, xt_CT
(CT and NOTRACK), xt_TRACE, xt_TPROXY, ip6t_NPT, xt_CHECKSUM, xt_DSCP (DSCP and TOS), ipt_ECN, xt_HL (TTL and HL)
and xt_TCPOPTSTRIP; xt_CLASSIFY and xt_SYNPROXY have hooks and no ``.table`` (-j CLASSIFY in filter OUTPUT, raw
OUTPUT and nat POSTROUTING is taken, in filter INPUT refused). A rule elsewhere makes iptables-restore fail at
COMMIT (iptables-legacy-restore v1.8.9: "line N failed", N the COMMIT's; iptables-nft-restore: "RULE_APPEND failed
(Invalid argument)"; unshare --net), but for -j TRACE outside raw, which iptables-nft-restore takes (nf_tables
traces by itself). Not here: SECMARK and CONNSECMARK (mangle or security), whose places one table does not say."""
MATCH_PLACES: dict[str, tuple[str, ...]] = {
    "mac": ("PREROUTING", "INPUT", "FORWARD"), "socket": ("PREROUTING", "INPUT"),
    "cgroup": ("INPUT", "OUTPUT", "POSTROUTING"), "rpfilter": ("PREROUTING",), "owner": ("OUTPUT", "POSTROUTING"),
}
"""Match -> the built-in chains (of any table) it may stand in, with the chains only they reach: the ``.hooks`` of
xt_mac (a packet has a source MAC address only as it comes in), xt_cgroup (a local socket's packet), xt_socket,
xt_rpfilter and xt_owner (a packet a local socket sends: LOCAL_OUT and POST_ROUTING). Elsewhere a rule fails at
COMMIT (both restores v1.8.9, unshare --net: -m mac in OUTPUT, -m socket in mangle OUTPUT, -m cgroup in FORWARD or
mangle PREROUTING, -m rpfilter in raw OUTPUT, -m owner in filter INPUT and FORWARD, nat PREROUTING and INPUT,
mangle PREROUTING; ip6tables- alike)."""
MATCH_TABLES: dict[str, tuple[str, ...]] = {"rpfilter": ("raw", "mangle")}
"""Match -> the tables its checkentry takes it in: xt_rpfilter's refuses any other, even in a chain no hook reaches
(-m rpfilter in filter INPUT and in a filter chain nothing jumps to fail at COMMIT, both restores v1.8.9)."""
OPTION_PLACES: dict[str, tuple[str, tuple[str, ...]]] = {
    "--clamp-mss-to-pmtu": ("TCPMSS", ("FORWARD", "OUTPUT", "POSTROUTING")),
    "--limit-iface-in": ("addrtype", ("PREROUTING", "INPUT", "FORWARD")),
    "--limit-iface-out": ("addrtype", ("FORWARD", "OUTPUT", "POSTROUTING")),
}
"""Option -> (the extension it is of, the built-in chains a rule with it may stand in, with the chains only they
reach), where the extension's checkentry refuses some hooks for that option alone: tcpmss_tg4_check (path-MTU
clamping in FORWARD, OUTPUT and POSTROUTING only) and addrtype_mt_checkentry_v1 (no input interface in OUTPUT and
POSTROUTING, no output interface in PREROUTING and INPUT). Both restores v1.8.9 refuse such a rule in a built-in chain
(legacy at COMMIT, nft at the rule; unshare --net); in a user chain a hook reaches, legacy refuses it at COMMIT and
nft takes it (nft_compat checks an extension against a user chain's hooks, not its options): this follows legacy."""
_PLACED_NAMES = (*MATCH_PLACES, "--clamp-mss-to-pmtu", "--limit-iface-")

_JUMP_TO = r'-j(?:ump)?[ \t]+"?'  # (from "--jump"'s second dash on: a literal "-j" first, which re finds fast)
_NAT_JUMP = re.compile(_JUMP_TO + r'(?:DNAT|SNAT|MASQUERADE|REDIRECT)"?(?=[ \t\n]|$)')
_REJECT_WITH = re.compile(r'--reject-with')
_MANGLE_JUMP = re.compile(_JUMP_TO + r'(?:ECN|HL|TTL|TCPOPTSTRIP)"?(?=[ \t\n]|$)')
"""In mangle: HL, TTL and ECN (the other family's, or its own without an option; ECN's protocol is judged here,
after its family: syntax.IPV4_ONLY_TARGETS), and TCPOPTSTRIP, which the kernel takes only in a rule of ``-p tcp``
(its xt_target's .proto) and the syntax layer judges only with an option (bare, the name may be a chain's): one
search for the four."""
_ICMP = re.compile(r'icmp(?:-type|v6-type|(?:v?6)?(?=[" \t\n]|$))')
_FAMILY_VALUE_NAMES = ("--ctorig", "--ctrepl", "-range")
"""What a rule's line names when it may hold a conntrack address or an iprange range, whose value the family decides
(:func:`_family_value_problem`): no shape is learnt from such a line (:meth:`_Shapes.learn`), so each comes to the
parser's slower paths, which keep it (:meth:`_Parser.note_values`; a search of the text would add 4% to a
10k-service parse, and a test a line 2%)."""  # (-m icmp6, --icmp-type ...: not REJECT's
# icmp-port-unreachable; syntax.foreign_extension. Two literal starts: 2.5% of a 10k-service parse, one pattern 5%)


def _placed_jumps(table: str) -> re.Pattern[str]:
    """The -j of each target :data:`TARGET_PLACES` may refuse in ``table`` (another table's, or one of only some of
    its hooks; a target of any table that does not serve every hook of ``table``), but nat's own there: its many
    DNAT rules are not searched (nat's built-in chains are read apart)."""
    builtin = set(BUILTIN_CHAINS[table])
    names = sorted(name for name, (home, hooks) in TARGET_PLACES.items()
                   if home not in (table, None) or (home != "nat" and not builtin.issubset(hooks)))
    return re.compile(_JUMP_TO + "(?:" + "|".join(names) + r')"?(?=[ \t\n]|$)')


_SUSPECTS: dict[str, tuple[re.Pattern[str], ...]] = {
    table: (_placed_jumps(table), _ICMP) if table != "mangle" else (_placed_jumps(table), _MANGLE_JUMP, _ICMP)
    for table in BUILTIN_CHAINS}
_SUSPECTS["filter"] += (_REJECT_WITH,)
"""Per table, what may be a target out of place, or an extension of the other family, in its text (each such line
is then read exactly). A kube-proxy dump has none: each is a search for a literal first, fast on a large dump.
HL and TTL, mangle's, are among the targets out of place elsewhere (one search less: 8% of the searches)."""
_PLACED_MATCH = re.compile(r'-m(?:atch)?[ \t]+"?(?:' + "|".join(MATCH_PLACES) + r')"?(?=[ \t\n]|$)|"?(?:'
                           + "|".join(OPTION_PLACES) + r')"?(?=[ \t\n]|$)')
"""A match :data:`MATCH_PLACES` may refuse, or an option :data:`OPTION_PLACES` may: a line naming one is kept as
it is read (:attr:`_Parser.placed`) and judged at its place; a search of the text for it would
cost 0.3 s on a 10k-service dump."""
_IPV6_ONLY = re.compile(r'-m(?:atch)?[ \t]+"?(?:' + "|".join(syntax.IPV6_ONLY_MATCHES) + r')"?(?=[ \t\n]|$)')
"""A match only IPv6 has (``syntax.IPV6_ONLY_MATCHES``), one more suspect; searched for only when a line no shape
vouched for names one (:attr:`_Parser.ipv6_only`): no shape is learnt from such a rule, and a search starting with
"-m" would add 3% to a 10k-service parse."""


def _check_targets(text: str, tables: list[_TableState], ipv6: bool, file: str | None, until: int | None = None,
                   more: tuple[re.Pattern[str], ...] = ()) -> _Found | None:
    """The first refusal (:data:`_Found`) of a target where iptables-restore refuses it: outside its table, in a
    built-in chain of a hook it does not serve, ``--reject-with`` a type the family has not, or tcp-reset without
    ``-p tcp``, and the other family's TTL/HL or icmp/icmp6, or icmp/icmp6 without its type (:func:`_misplaced`).
    Each table's text is searched for the lines that may be such a rule, and only those are read (``until``: those
    before that line, where reading stopped; ``more``: further suspects); so are the rules of nat's built-in
    chains (a few) that name a target of nat."""
    spans = _table_spans(text, tables)
    best: _Found | None = None
    for table in tables:
        start, end = spans[table.line]
        for suspects in (*_SUSPECTS[table.name], *more):
            line, counted = table.line, start  # the line at offset counted: the matches come in order, so each
            for found in suspects.finditer(text, start, end):  # line is counted on from the last (not from 0)
                line_start = text.rfind("\n", 0, found.start()) + 1
                line_end = text.find("\n", found.start())
                line += text.count("\n", counted, line_start)
                counted = line_start
                if until is not None and line >= until:
                    break
                problem = _misplaced(table, text[line_start:line_end if line_end != -1 else len(text)], ipv6, line)
                best = _earlier(best, _found(table, problem, line, file))
        if table.name == "nat":
            for name in BUILTIN_CHAINS["nat"]:
                chain = table.chains.get(name)
                for spec, line in chain.texts() if chain is not None else ():
                    if _NAT_JUMP.search(spec) is not None:
                        problem = _misplaced(table, f"-A {name} {spec}", ipv6, line)
                        best = _earlier(best, _found(table, problem, line, file))
    return best


def _judged(text: str, tables: list[_TableState], ipv6: bool | None, file: str | None, until: int | None = None,
            address_family: bool | None = None, more: tuple[re.Pattern[str], ...] = ()) -> tuple[bool, _Found | None]:
    """The family (given, else guessed: :func:`_family`; ``address_family``: what it found already) and the first
    refusal that waits for it (:func:`_family`'s, :func:`_check_targets`'s). A guess of IPv4 made for want of an
    address gives way to IPv6 when only IPv6 loads the rules' extensions (``-m icmp6``, ``-j HL``, REJECT's
    ``icmp6-*`` types, ``-m frag`` and the other matches only IPv6 has: :data:`_IPV6_ONLY`, in ``more``): a dump
    of that family alone, which ip6tables-save wrote."""
    family, found = (address_family, None) if address_family is not None else \
        _family(tables, ipv6, True, file, _DOTTED_PAIR.search(text) is not None)
    found = _earlier(found, _check_targets(text, tables, family, file, until, more))
    if (found is not None and ipv6 is None and not family and _addressless(tables)
            and _check_targets(text, tables, True, file, until, more) is None):
        return True, None
    return family, found


_REACH_BUDGET = 4096
"""Chains a walk from a built-in chain visits before :func:`_hook_problems` asks the other way round (which chains
jump to the few that hold a target): kube-proxy's PREROUTING reaches 110,000 chains at 10,000 services."""


def _reach(arrows: dict[str, dict[str, None]], root: str, budget: int | None) -> set[str] | None:
    """The chains ``root`` reaches by its rules' jumps and gotos (itself included); None past ``budget`` chains."""
    seen = {root}
    frontier: set[str] = {root}
    while frontier:
        found = set().union(*[arrows[name] for name in frontier if name in arrows])
        frontier = found - seen
        seen |= frontier
        if budget is not None and len(seen) > budget:
            return None
    return seen


def _unconditional(spec: str) -> bool:
    """Whether rule ``spec`` is an unconditional standard verdict (-j ACCEPT, DROP, RETURN or QUEUE and no match,
    address or protocol: ``-p all`` and ``-s 0.0.0.0/0`` leave the kernel's ipt_ip zero, and iptables-save prints
    such a rule bare), where ip_tables' mark_source_chains stops walking its chain."""
    words = spec.split()
    if len(words) < 2 or words[-2] != "-j" or words[-1] not in VERDICTS:  # (canonical text: the target last)
        return False
    if len(words) == 2:
        return True
    parsed = syntax.parse_spec(spec)
    target = parsed.target
    if target is None or target.goto or target.name not in VERDICTS or target.options:
        return False
    return all(not o.negated and not o.module and ((o.flag == "-p" and o.value in ("all", "0")) or
                                                   (o.flag in ("-s", "-d") and o.value.endswith("/0")))
               for o in parsed.options)


def _walked(chain: _ChainState) -> list[tuple[str, int]]:
    """(spec, line) of the rules of ``chain`` a hook's walk marks (ip_tables' mark_source_chains): up to its first
    unconditional standard verdict, after which no packet goes on. The kernel checks the others against no hook,
    so iptables-legacy-restore v1.8.9 takes -m mac after ``-A OUTPUT -j ACCEPT`` (iptables-nft-restore refuses
    it: nf_tables checks every rule of a chain against the hooks that reach the chain)."""
    texts = chain.texts()
    for at, (spec, _) in enumerate(texts):
        if _unconditional(spec):
            return texts[:at + 1]
    return texts


def _walked_jumps(table: _TableState, root: str) -> dict[str, str]:
    """Each chain ``root`` reaches through the rules a hook's walk marks (:func:`_walked`), with the chain whose
    jump first led there (breadth first). Asked only for a rule about to be refused: it reads every rule reached."""
    parent = {root: root}
    queue = [root]
    for name in queue:
        for spec, _ in _walked(table.chains[name]):
            for word in _JUMP.findall(" " + spec):
                if word not in parent and word in table.chains:
                    parent[word] = name
                    queue.append(word)
    return parent


def _past_verdict(state: _TableState, chain: str, line: int | None) -> bool:
    """Whether the rule of ``line`` in built-in chain ``chain`` comes after an unconditional standard verdict, so
    that no hook's walk reaches it (:func:`_walked`)."""
    rules = state.chains.get(chain)
    if line is None or rules is None:
        return False
    for spec, at in rules.texts():
        if at == line:
            return False
        if _unconditional(spec):
            return True
    return False


def _jump_line(table: _TableState, source: str, chain: str) -> int:
    """The line of the first rule of ``source`` that jumps (or goes) to ``chain``."""
    return next((line for spec, line in table.chains[source].texts() if chain in _JUMP.findall(" " + spec)), 0)


def _holder(line: str) -> str:
    """The chain a rule's line (an -A, -I or -R the parser has read: :meth:`_Parser.note_line`) names, quoted or
    not; "" for a line of another command (one naming a match out of place only in a comment's words)."""
    line = line.strip(" \t")
    if line[:1] == "[":  # a restore input's [packets:bytes]
        line = line[line.find("]") + 1:]
    tokens = syntax.tokenize(line)
    return tokens[1].text if len(tokens) > 1 and _COMMANDS.get(tokens[0].text) in ("-A", "-I", "-R") else ""


def _roots_reaching(arrows: dict[str, dict[str, None]], holders: set[str],
                    builtin: tuple[str, ...]) -> set[str] | None:
    """The built-in chains that reach one of ``holders`` (user chains), walking back from these (a pass over the
    chains per step; no rule jumps to a built-in chain, so the walk stops at one); None past :data:`_REACH_BUDGET`
    chains."""
    behind, frontier, roots = set(holders), set(holders), set()
    while frontier:
        if len(frontier) == 1:
            (one,) = frontier
            found = {name for name, words in arrows.items() if one in words}
        else:
            found = {name for name, words in arrows.items() if not frontier.isdisjoint(words)}
        roots |= found.intersection(builtin)
        frontier = found.difference(behind, builtin)
        behind |= frontier
        if len(behind) > _REACH_BUDGET:
            return None
    return roots


def _hook_problems(table: _TableState, targets: tuple[set[str], ...], matched: set[str], file: str | None,
                   until: int | None = None) -> _Found | None:
    """The first refusal (:data:`_Found`) of a target of :data:`TARGET_PLACES` or a match of :data:`MATCH_PLACES`
    in a user chain that a built-in chain not of its hooks reaches: the kernel checks a rule against every hook
    whose chain reaches it (ip_tables' mark_source_chains, nf_tables' chain validation), and takes one in a chain
    no built-in chain reaches (iptables-legacy-restore and -nft-restore v1.8.9, unshare --net: ``-A OUTPUT -j FOO``
    and ``-m mac`` in FOO fails, FOO alone is taken). Named at the rule, as at a built-in chain. ``targets``: sets
    that hold every -j word of the table's rules (and more); ``matched``: the chains whose rules may name a match
    of :data:`MATCH_PLACES` (:attr:`_Parser.placed`). Cheap when the hooks a target may not stand in reach few
    chains (kube-proxy's DNAT), or few chains hold it (its MASQUERADE): a walk back from those then; a full walk
    only past both budgets. A match is judged walking back from its few chains (one -m mac in a 10k-service dump
    walked every table from every built-in chain: 2.5 -> 3.6 s)."""
    builtin = BUILTIN_CHAINS[table.name]
    roots = {name for name in builtin if name in table.chains and not table.chains[name].is_empty()}
    if not roots:
        return None  # (a restore input without its built-in chains: the node's rules reach its chains)
    wanted = {name: roots.difference(hooks) for name, (home, hooks) in TARGET_PLACES.items()
              if home in (table.name, None) and any(name in words for words in targets)}
    wanted = {name: hooks for name, hooks in wanted.items() if hooks}
    if table.edited:  # (-E may have moved a rule to a chain of another name than its line's)
        matched = set(table.chains) if matched else matched
    matched = matched.intersection(table.chains).difference(builtin)  # (a built-in chain's own: _misplaced)
    if not wanted and not matched:
        return None
    arrows = table.arrows()
    if arrows is None:
        arrows = {name: dict.fromkeys(word for spec in chain.spec_list() for word in _JUMP.findall(" " + spec))
                  for name, chain in table.chains.items()}
    reached: dict[str, set[str] | None] = {}

    def reach(root: str) -> set[str] | None:
        if root not in reached:
            reached[root] = _reach(arrows, root, _REACH_BUDGET)
        return reached[root]

    bad: list[tuple[str, str]] = []  # (root, what) that reach a chain holding a target or match they may not
    for name, hooks in wanted.items():
        for root in sorted(hooks):
            chains = reach(root)
            if chains is not None:
                if any(name in arrows.get(chain, ()) for chain in chains if chain not in builtin):
                    bad.append((root, name))
                continue
            holders = {chain for chain, words in arrows.items() if name in words and chain not in builtin}
            behind = _roots_reaching(arrows, holders, builtin) if len(holders) <= _REACH_BUDGET else None
            if behind is None or not behind.isdisjoint(hooks):
                bad.extend((hook, name) for hook in sorted(hooks))
            break  # (every hook of the target was judged at once)
    if matched:
        reaching = _roots_reaching(arrows, matched, builtin)
        bad.extend((root, "-m") for root in sorted(roots if reaching is None else roots.intersection(reaching)))
    found: _Found | None = None
    for root, what in bad:
        parent = _walked_jumps(table, root)
        for chain, via in parent.items():
            if chain in builtin or (what not in arrows.get(chain, ()) if what != "-m" else chain not in matched):
                continue
            for spec, line in _walked(table.chains[chain]):
                if until is not None and line >= until:
                    break
                problem = _hook_problem(chain, spec, what, root, functools.partial(_jump_line, table, via, chain))
                if problem is not None:
                    found = _earlier(found, _found(table, problem, line, file))
                    break
    return found


def _hook_problem(chain: str, spec: str, what: str, root: str,
                  jump: Callable[[], int]) -> tuple[str, str, str, bool] | None:
    """What the kernel refuses of rule ``spec`` of user chain ``chain`` that ``root`` reaches (``jump``: the line of
    the jump into the chain on the way): its target ``what``, or (``what`` "-m") a match of :data:`MATCH_PLACES`,
    not of that hook."""
    if what != "-m":
        if what not in _JUMP.findall(" " + spec) or root in TARGET_PLACES[what][1]:
            return None
        hooks = TARGET_PLACES[what][1]
        return (f"target {what} cannot be used in chain {chain}, which {root} reaches (the jump at line {jump()})",
                chain, f"{what} in {' or '.join(hooks)} (or a chain only they jump to)", True)
    if _PLACED_MATCH.search(spec) is None:
        return None
    parsed = syntax.parse_spec(spec)
    for option in parsed.options:
        if option.flag == "-m" and root not in MATCH_PLACES.get(option.module, (root,)):
            return _match_misplaced(option.module, chain, (root, jump()))
    return _option_misplaced(parsed, chain, root, jump)


def _option_misplaced(spec: syntax.RuleSpec, chain: str, root: str,
                      jump: Callable[[], int] | None) -> tuple[str, str, str, bool] | None:
    """The refusal of an option of :data:`OPTION_PLACES` in rule ``spec`` of ``chain``, which built-in chain
    ``root`` is or reaches (``jump``: the line of the jump on the way, None for a built-in chain's own rule), when
    ``root`` is not of the option's places; None when no such option is out of place. In a user chain the two
    restores part (legacy's checkentry refuses the table at COMMIT; nft_compat takes the rule), and the words say so,
    as the TCPMSS SYN-match refusal does, since a user may meet the other tool's answer."""
    options = (*spec.options, *(spec.target.options if spec.target is not None else ()))
    for option in options:
        owner, hooks = OPTION_PLACES.get(option.flag, ("", (root,)))
        if option.module == owner and root not in hooks:
            places = f"{', '.join(hooks[:-1])} or {hooks[-1]}"
            reached = (f", which {root} reaches (the jump at line {jump()}; iptables-legacy-restore fails at "
                       "COMMIT; iptables-nft-restore takes it)" if jump is not None else "")
            return (f"{option.flag} of {owner} cannot be used in chain {chain}{reached}", chain,
                    f"{option.flag} in {places} (or a chain only they jump to)", True)
    return None


def _addressless(tables: list[_TableState]) -> bool:
    """Whether no rule of ``tables`` holds an address (:func:`_rule_family`), which would tell their family."""
    return all(_rule_family(spec) is None for table in tables for chain in table.chains.values()
               for spec in chain.spec_list())


_INDENT = " \t"
"""What may stand before a ``*TABLE`` line's "*" (the parser refuses anything else: :meth:`_Parser.open_table`)."""


def _table_spans(text: str, tables: list[_TableState]) -> dict[int, tuple[int, int]]:
    """Where the text of each of ``tables`` (by its ``*TABLE`` line) starts and ends: from its ``*TABLE`` line to
    the next one, a "*" with only blanks before it on its line (a table met twice is read from its later line). A
    search for "*" (rare elsewhere in a dump), not a regex tried at every position (0.7 s on a 34 MB dump)."""
    starts: list[tuple[int, int]] = []  # (line, offset) of each *TABLE line, to one past the last of tables
    last = max((t.line for t in tables), default=0)
    line, counted = 1, 0
    at = text.find("*")
    while at != -1 and line <= last:
        line_start = text.rfind("\n", 0, at) + 1
        if not text[line_start:at].strip(_INDENT):
            line += text.count("\n", counted, line_start)
            counted = line_start
            starts.append((line, line_start))
        at = text.find("*", at + 1)
    ends = [offset for _, offset in starts] + [len(text)]
    return {line: (offset, end) for (line, offset), end in zip(starts, ends[1:], strict=True)}


def _found(table: _TableState, problem: tuple[str, str, str, bool] | None, line: int,
           file: str | None) -> _Found | None:
    """``problem`` (:func:`_misplaced`'s) as the refusal of ``line`` of ``table``; None when there is none."""
    if problem is None:
        return None
    message, token, expected, at_commit = problem
    return (table.line, int(at_commit), line), RulesSyntaxError(message, file=file, line=line, token=token,
                                                                 expected=expected)


def _misplaced(state: _TableState, line: str, ipv6: bool,
               lineno: int | None = None) -> tuple[str, str, str, bool] | None:
    """What is wrong with the rule of ``line`` (of the table ``state``, of the family ``ipv6``) as iptables judges
    the other family's extensions (:func:`syntax.foreign_extension`), IPv6's own (:func:`syntax.ipv6_match_problem`),
    its own HL or TTL alone (no chain of the name:
    jump_error left it here), its own icmp or icmp6 match's type and protocol, and REJECT's type, and the kernel its
    target's place, as (message, token, expected, whether the kernel refuses it at COMMIT rather than iptables at
    the rule); None when nothing is (or the line is no rule with such a target). ``lineno``: the line's, to tell a
    rule of a built-in chain no hook's walk reaches (:func:`_past_verdict`), which the kernel checks against none."""
    table = state.name
    line = line.strip(" \t")
    if line[:1] == "[":  # a restore input's [packets:bytes], which the parser has read already
        line = line[line.find("]") + 1:]
    tokens = syntax.tokenize(line)
    verb = _COMMANDS.get(tokens[0].text) if tokens else None
    if len(tokens) < 2 or verb not in ("-A", "-I", "-R"):
        return None
    chain, rest = tokens[1].text, tokens[2:]
    number = rest[0].text if rest and not rest[0].quoted else ""
    if verb != "-A" and number.isascii() and number.isdigit():  # as the parser reads a number
        rest = rest[1:]
    rest = _inline_counters(rest)[0]  # a restore input's -c PACKETS BYTES, likewise
    try:
        spec = syntax.interpret(rest, family=ipv6)  # (read without error already: the parser has seen every line)
    except syntax.OtherFamilyRule:
        return None  # (a line the restore skips: see _Parser.command)
    target = spec.target
    foreign = syntax.foreign_extension(spec, ipv6)
    if foreign is not None and (target is None or foreign[1] != target.name or target.name not in state.chains):
        return (*foreign, "an extension of the " + ("IPv6" if ipv6 else "IPv4") + " family (" +
                " and ".join(syntax.FAMILY_EXTENSIONS[ipv6]) + " here" +
                ("" if ipv6 else "; " + ", ".join(syntax.IPV6_ONLY_MATCHES) + " are IPv6's") + ")", False)
    ipv6_only = syntax.ipv6_match_problem(spec.options) if ipv6 else None
    if ipv6_only is not None:
        return ipv6_only
    # The family's own icmp/icmp6 match: judged after the family, as iptables does; its type (at the rule) first,
    # then its protocol (the kernel's, at COMMIT)
    own_match = syntax.FAMILY_EXTENSIONS[ipv6][1]
    missing_type = syntax.missing_match_option(spec.options, own_match)
    if missing_type is not None:
        return (*missing_type, False)
    icmp_type = _icmp_type_problem(spec.options, ipv6)
    if icmp_type is not None:
        return icmp_type
    value = _family_value_problem(spec.options, ipv6)
    if value is not None:
        return value
    if any(o.flag == "-m" and syntax.MATCH_ALIASES.get(o.module, o.module) == own_match for o in spec.options):
        unasked = syntax.unasked_protocol(syntax.asked_module(spec.options), own_match)
        if unasked is not None:
            return (*unasked, True)
    if target is not None and target.name in syntax.FAMILY_TARGETS and state.chains.get(target.name) is None:
        missing = syntax.missing_option(target.name, [o.flag for o in target.options])
        if missing is not None:
            return missing[0], target.name, missing[1], False
    for option in spec.options:
        if option.flag == "-m" and table not in MATCH_TABLES.get(option.module, (table,)):
            tables = MATCH_TABLES[option.module]
            return (f"match {option.module} is valid only in table {' or '.join(tables)}, not {table}",
                    option.module, f"-m {option.module} in table {' or '.join(tables)}", True)
    walked = chain in BUILTIN_CHAINS[table] and not _past_verdict(state, chain, lineno)
    if walked:
        for option in spec.options:
            if option.flag == "-m" and chain not in MATCH_PLACES.get(option.module, (chain,)):
                return _match_misplaced(option.module, chain, None)
        misplaced = _option_misplaced(spec, chain, chain, None)
        if misplaced is not None:
            return misplaced
    if target is None or target.name not in TARGET_PLACES or target.name in state.chains:
        return None  # (a jump to a chain of an extension's name: :meth:`_Parser.jump_error` judged it)
    home, hooks = TARGET_PLACES[target.name]
    if home is not None and table != home:
        return (f"target {target.name} is valid only in table {home}, not {table}", target.name,
                f"{target.name} in table {home} ({', '.join(hooks)} or a chain they jump to)", True)
    if walked and chain not in hooks:
        return (f"target {target.name} cannot be used in chain {chain}", chain, f"{target.name} in "
                f"{' or '.join(hooks)} (or a chain they jump to)", True)
    unasked = syntax.unasked_target_protocol(target, spec.options) \
        if not target.options or target.name in syntax.IPV4_ONLY_TARGETS else None
    if unasked is not None:  # (-j SYNPROXY alone, no chain of the name: the syntax layer judged one with options;
        # ECN's with options too, IPv6 refusing them first as unknown: the family's check above)
        return (*unasked, True)
    if target.name != "REJECT":
        return None
    given = target.option("--reject-with")
    kind = None if given is None else syntax.reject_type(given.value, ipv6)
    if given is not None and kind is None:
        names = ", ".join(name for name, _ in syntax.REJECT_TYPES[ipv6])
        return (f'unknown reject type "{given.value}"', given.value,
                f"one of {names}, an alias (such as port-unreach) or the start of one, in any case", False)
    proto = next((o for o in spec.options if o.flag == "-p" and not o.module), None)
    if kind == "tcp-reset" and (proto is None or proto.negated or syntax.protocol_number(proto.value) != 6):
        return ("--reject-with tcp-reset needs a TCP packet", given.value if given else kind, "-p tcp in the rule",
                True)
    return None


def _icmp_type_problem(options: tuple[Option, ...], ipv6: bool) -> tuple[str, str, str, bool] | None:
    """The refusal of the first of the family's ``--icmp-type`` (``--icmpv6-type``) values that iptables does not
    read (:func:`saveform.icmp_type_refusal`: a prefix of two names, a number past 255, a range of types), which it
    makes at the rule; the syntax layer takes any value, the family deciding the names."""
    flag = "--icmpv6-type" if ipv6 else "--icmp-type"
    for option in options:
        if option.flag == flag:
            from kubeproxy_sim.netfilter.saveform import icmp_type_refusal  # (a rule with an ICMP type only)

            refused = icmp_type_refusal(option.value, ipv6)
            if refused is not None:
                return (refused, option.value, f"an ICMP{'v6' if ipv6 else ''} type's name (or the start of one "
                        "name alone), any case, or TYPE[/CODE[:CODE]], numbers 0-255", False)
    return None


_CONNTRACK_HOSTS = frozenset({"--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"})


def _family_value_problem(options: tuple[Option, ...], ipv6: bool) -> tuple[str, str, str, bool] | None:
    """The refusal of the first conntrack address (:func:`_conntrack_host_problem`) or IPv6 iprange range
    (:func:`_ipv6_range_problem`) that the family's tool refuses as it reads the rule; None when there is none."""
    for option in options:
        if option.flag in _CONNTRACK_HOSTS:
            problem = _conntrack_host_problem(option.flag, option.value, ipv6)
        elif ipv6 and option.flag in ("--src-range", "--dst-range"):
            problem = _ipv6_range_problem(option.flag, option.value)
        else:
            continue
        if problem is not None:
            return problem
    return None


def _conntrack_host_problem(flag: str, value: str, ipv6: bool) -> tuple[str, str, str, bool] | None:
    """libxt_conntrack's refusal of an address (XTTYPE_HOSTMASK: the host read by getaddrinfo, then the mask) the
    family's tool cannot read, when its host is a number: of the other family (``fd00::1`` in IPv4, ``10.0.0.1`` or
    inet_aton's ``1`` in IPv6: "getaddrinfo: Address family for hostname not supported", whatever the mask), or with
    a mask that is neither a length nor an address (``/-1``, ``/129`` in IPv6, ``/abc``, ``/``: 'conntrack: bad
    value for option "--ctorigdst", neither a valid network mask nor valid CIDR (0-32).'), both restores v1.8.9
    alike (unshare --net). A name is the machine's to resolve: not judged."""
    if hostmask.read_conntrack_host(value, ipv6) is not None:
        return None
    host = value.partition("/")[0]
    expected = f"an IPv{6 if ipv6 else 4} address[/MASK] (a length 0-{128 if ipv6 else 32} or a mask address)"
    if hostmask.getaddrinfo_number(host, ipv6) is not None:
        return (f'conntrack: bad value for option "{flag}", neither a valid network mask nor valid CIDR '
                f"(0-{128 if ipv6 else 32}).", value, expected, False)
    if hostmask.getaddrinfo_number(host, not ipv6) is not None:
        return "getaddrinfo: Address family for hostname not supported", value, expected, False
    return None


def _ipv6_range_problem(flag: str, value: str) -> tuple[str, str, str, bool] | None:
    """libxt_iprange's refusal, in IPv6, of a range whose part (cut at the first ``-``) inet_pton does not read:
    ``24``, ``1-2`` ('iprange: Bad value for "--src-range" option: "24"', ip6tables-legacy- and -nft-restore
    v1.8.9, unshare --net), which IPv4 reads as 24.0.0.0 (the syntax layer, not knowing the family, takes it)."""
    low, dash, high = value.partition("-")
    for part in (low, high) if dash else (low,):
        if hostmask.ipv6_number(part) is None:
            return (f'iprange: Bad value for "{flag}" option: "{part}"', value,
                    "ADDRESS[-ADDRESS] of IPv6 addresses such as fd00::1-fd00::9", False)
    return None


def _match_misplaced(match: str, chain: str, hook: tuple[str, int] | None) -> tuple[str, str, str, bool]:
    """The refusal of ``-m MATCH`` in ``chain`` (a built-in chain not of its hooks: :data:`MATCH_PLACES`; else a
    user chain that ``hook``, (a built-in chain, the line of the jump on the way), reaches), which the kernel makes
    at COMMIT."""
    hooks = MATCH_PLACES[match]
    places = f"{', '.join(hooks[:-1])} or {hooks[-1]}" if len(hooks) > 1 else hooks[0]
    reached = f", which {hook[0]} reaches (the jump at line {hook[1]})" if hook is not None else ""
    return (f"match {match} cannot be used in chain {chain}{reached}", chain,
            f"-m {match} in {places} (or a chain only {'they jump' if len(hooks) > 1 else 'it jumps'} to)", True)


BYTES_PER_OBJECT = 100
"""Bytes of a kube-proxy dump per object tracked by the collector that parsing it builds (97 at 10,000
services); other dumps build more per byte, so ``len(text) // BYTES_PER_OBJECT`` does not overstate a build."""


def parse_ruleset(text: str, *, file: str | None = None, ipv6: bool | None = None,
                  validate: bool = True) -> Ruleset:
    """Read iptables-save or iptables-restore text.

    ``validate=True`` checks every rule now: every syntax error is raised with
    its line, token and what was expected, and addresses are checked against the
    family. A rule whose text has the shape of a rule already interpreted (the
    same skeleton, see ``syntax.shape_matcher``) is checked by that alone; the
    others are interpreted one by one. ``validate=False`` is the bulk path: rules
    whose text is already canonical are stored as is, unchecked.
    Either way, canonical rules without counters are kept as text: their
    ``Rule`` objects are made on first use of ``Chain.rules`` and their typed
    views on first use of ``Rule.parsed`` (the same ``syntax.parse_spec``).
    ``ipv6=None`` guesses the family from the address of the earliest line (:func:`_family`), without one
    IPv4 unless only IPv6 loads the rules' extensions (:func:`_judged`).
    """
    text = crlf_as_lf(text)
    if ipv6 is None and _family_words_in(text):
        return _either_family(text, file, validate)
    # Hundreds of thousands of acyclic objects (see objects.bulk), about one per 100 bytes of kube-proxy's own
    # dump (other dumps build more): a large one is collected on the way in. Nothing here catches an exception
    # bound to a name or calls netaddr, whose errors are reference cycles, so no garbage cycle is made inside.
    with collector_paused(len(text) // BYTES_PER_OBJECT):
        parser = _Parser(file, validate)
        tables = parser.run(text, ipv6)
        frozen = {t.line: t.freeze() for t in tables}
        found = None
        if validate:
            committed = parser.all_committed(tables)
            family, found = parser.judged(committed, ipv6)
            found = _earlier(found, parser.circles(committed, frozen))
            for table in frozen.values():
                object.__setattr__(table, "circles_checked", True)  # (init=False: see Table)
            for state in tables:
                object.__setattr__(frozen[state.line], "undeclared_words", _undeclared_words(state))
        else:  # (what is kept decides: a replaced copy is judged only when validating)
            family = _family(tables, ipv6, validate, file)[0]
        if found is not None:
            raise found[1]
        return Ruleset(tuple(frozen[t.line] for t in tables), family)


def crlf_as_lf(text: str) -> str:
    """``text`` with each line's final CR dropped when every line ends in CRLF (the last line's ending may be
    missing), else as it is.

    Both restores v1.8.9 read a CR as a character of its word wherever it stands (ip netns: "*filter\\r" is
    "table name 'filter\\r' invalid", so they refuse a CRLF file at its first line; ``-j ACCEPT\\r`` is "Invalid
    target name", ``--comment abc\\r`` is saved with its CR). A file all of CRLF lines is read here deliberately,
    as its LF twin (a dump passed through a Windows editor), its line numbers unchanged. A file of LF lines with
    one or a few ending in CRLF is no such file: nothing says its line ends are other than iptables reads them, so
    its CRs are read as its other lines are, as iptables reads them: a comment keeps its CR, a table name, COMMIT
    or a target with one is refused at its line as both restores refuse it. One search for a CR when there is none
    (~2 ms at 32 MB)."""
    if "\r" not in text:
        return text
    newlines = text.count("\n")
    if not newlines or text.count("\r\n") != newlines:
        return text
    text = text.replace("\r\n", "\n")
    return text[:-1] if text[-1:] == "\r" else text


def _family_words_in(text: str) -> bool:
    """Whether ``text`` holds a -4 or -6 (--ipv4, --ipv6, --ipv) as a word: after a line's start, a space or a
    tab, before a blank or the end.

    One search for the word and what follows it, which starts at a literal "-" (a scan C does), its start checked
    after: five substring searches for the words with a blank before them, then a regular expression that
    looked behind, read a 10,000-service dump's 32 MB six times (~140 ms of its 1.1 s parse; this, ~55 ms), and
    missed a word after a tab or at the text's start."""
    at = 0
    while (found := _FAMILY_WORD.search(text, at)) is not None:
        start = found.start()
        if start == 0 or text[start - 1] in " \t\n":
            return True
        at = start + 1
    return False


_FAMILY_WORD = re.compile(r"-(?:[46]|-ipv[46]?)(?=[ \t\n]|\Z)")


def _either_family(text: str, file: str | None, validate: bool) -> Ruleset:
    """A text with a rule's -4 or -6, its family not given: read as IPv4 (what the parser guesses without an
    address), else as IPv6 when only that reading takes it; which family a -4 or -6 rule belongs to decides
    whether it is read or skipped (syntax.FAMILY_WORDS), so the family cannot be guessed from the rules alone."""
    try:
        return parse_ruleset(text, file=file, ipv6=False, validate=validate)
    except RulesSyntaxError as ipv4_error:
        try:
            return parse_ruleset(text, file=file, ipv6=True, validate=validate)
        except RulesSyntaxError:
            raise ipv4_error from None


def parse_ruleset_file(path: str, *, ipv6: bool | None = None, validate: bool = True) -> Ruleset:
    """Read a dump from disk, or from standard input for ``-`` (the one reader,
    :func:`~kubeproxy_sim.netfilter.dumpfile.read_dump_text`); an unreadable file is an InputError naming it."""
    from kubeproxy_sim.netfilter.dumpfile import dump_name, read_dump_text

    return parse_ruleset(read_dump_text(path), file=dump_name(path), ipv6=ipv6, validate=validate)


_OBJECTS_LINE = re.compile(r'---$|(apiVersion|kind|metadata|items):|\{\s*("(apiVersion|kind|metadata|items)"|$)')
"""A line that starts Kubernetes objects, in YAML or JSON: a manifest given where a dump is read."""


def _return_hint(word: str) -> str:
    """The way out when a refused table name or line holds a carriage return: iptables-restore reads it as a
    character of its word, so a file with a CRLF line among LF ones is refused there; one whose every line ends in
    CRLF is read here (:func:`crlf_as_lf`)."""
    if "\r" not in word:
        return ""
    return (" (a carriage return is part of its word, as iptables-restore reads it; a file whose every line ends "
            "in CRLF is read as if each ended in LF)")


def _objects_hint(line: str) -> str:
    """The way out when the first line of no dump's form starts a manifest (the opposite mistake, a dump given
    to -f, is answered by the objects' reader): the commands read objects with -f."""
    if _OBJECTS_LINE.match(line):
        return " (this looks like Kubernetes objects, which -f PATH reads; --rules reads an iptables-save dump)"
    return ""
