"""A ruleset compiled once into the form the evaluator walks quickly.

Every rule becomes a tuple of small check functions (header checks first, as
the kernel tests the ``ipt_entry`` header before any match module, then the
match modules in written order), an optional probability split (statistic),
the reasons it is uncertain, and a target kind. Jumps are resolved to chain
objects, so no name is looked up while tracing.

Long chains (KUBE-SERVICES, KUBE-NODEPORTS: one or two rules per service
port) are indexed: rules that test one destination address (or one
protocol/port) are bucketed by it, and a lookup returns that bucket merged in
order with the rules the index cannot place. A trace then costs about the same
at 100 or 10,000 services.

A check takes the evaluator's branch state ``b`` and returns True, False or a
:class:`Doubt` (the answer depends on something the model does not know; the
doubt says which way it was assumed and why). A rule that cannot be compiled
at all stays in its chain as a rule that never matches and says why, so a walk
reports it exactly when it passes it.

Compiling is most of the cost of tracing one packet through a large dump
(about 25 µs a rule), so a ruleset can also be compiled lazily: each chain
when a walk first enters it (``compile_ruleset(..., lazy=True)``). Many
packets through one ruleset are faster compiled up front.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Option, Rule, Ruleset, RuleSpec, Table, Target
from kubeproxy_sim.netfilter.packet import PROTOCOL_NUMBERS, format_endpoint, parse_address, parse_network
from kubeproxy_sim.objects.bulk import collector_paused, slot_setters

Check = Callable[[object], object]
# A check made in a loop binds the loop's values through a lambda's default arguments; mypy
# cannot type such a lambda against Check (python/mypy#15459), hence "ignore[misc]  # mypy#15459".
TWO_31 = 1 << 31
INDEX_MIN_RULES = 16


@dataclass(frozen=True, slots=True)
class Doubt:
    """An answer that depends on something unknown: ``assume`` is the answer used."""

    reason: str
    assume: bool = True


SOURCE_FIELDS = frozenset({"src", "orig_src"})


def reading(check: Check, *fields: str, source: tuple | None = None) -> Check:
    """Declare the branch fields ``check`` reads (its only inputs besides the node's constant facts).

    The tracer's memo keys a walk on the fields its checks read, so a check without this
    declaration makes every chain that reaches it unmemoised (correct, only slower).

    ``source`` says how a check that reads the source address tests it, so that a tracer can
    class sources instead of keeping every address apart (:mod:`~kubeproxy_sim.netfilter.tracekey`):
    ``("net", network, mask)``, ``("range", low, high)``, ``("type",)`` (addrtype) or ``("none",)``
    (a trace's answer does not depend on the address; only a sampled walk's does).
    """
    check.reads = frozenset(fields)  # type: ignore[attr-defined]
    check.source = source  # type: ignore[attr-defined]
    return check


class Kind(IntEnum):
    """What a rule's target does to the walk."""

    CONTINUE = 0  # no target, or one that only annotates (LOG, NFLOG, comment-only rules)
    JUMP = 1
    GOTO = 2
    RETURN = 3
    ACCEPT = 4
    DROP = 5
    REJECT = 6
    DNAT = 7
    SNAT = 8
    MASQUERADE = 9
    REDIRECT = 10
    MARK = 11
    CONNMARK = 12
    NOTRACK = 13


TERMINAL_NAT = frozenset({Kind.DNAT, Kind.SNAT, Kind.MASQUERADE, Kind.REDIRECT})
# Targets that do not change anything this model follows (verdict, addresses, marks, conntrack).
PASSIVE_TARGETS = frozenset(
    "LOG NFLOG ULOG TRACE AUDIT CHECKSUM TCPMSS CLASSIFY DSCP TOS TTL HL SECMARK CONNSECMARK IDLETIMER LED"
    " RATEEST TEE".split()
)


@dataclass(frozen=True, slots=True)
class NatRange:
    """``--to-destination``/``--to-source``: an address range and a port range (None: unchanged)."""

    addr_lo: int | None
    addr_hi: int | None
    port_lo: int | None
    port_hi: int | None
    text: str
    endpoint: str | None = None
    """``IP:PORT`` as a trace prints a destination, for one address and one port: formatted once here,
    not once per traced branch (100,000 endpoints are too many to keep formatted in a cache)."""


@dataclass(frozen=True, slots=True)
class PathStep:
    """A rule the packet matched; ``line`` is its line in the dump (None for a rule not read from one)."""

    table: str
    chain: str
    line: int | None
    rule: str


_STEP_SET = slot_setters(PathStep, "table chain line rule")


def _path_step(table: str, chain: str, line: int | None, text: str) -> PathStep:
    """``PathStep(...)`` through its slots (half the cost of the frozen ``__init__``; one per rule compiled)."""
    step = object.__new__(PathStep)
    set_table, set_chain, set_line, set_rule = _STEP_SET
    set_table(step, table)
    set_chain(step, chain)
    set_line(step, line)
    set_rule(step, text)
    return step


IndexKey = tuple[int | None, tuple[str, int] | None]
"""What a rule can only match (see :func:`_index_keys`): (destination address, (protocol, port)), None when wider."""


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
    recent: tuple[str, str, int] | None = None  # (name, command, addr mask) for recent side effects
    index_key: IndexKey = (None, None)
    step: PathStep | None = None  # this rule as a step of a path
    reads: frozenset[str] | None = None  # branch fields the checks and the effect read (None: not known)

    @property
    def line(self) -> int:
        return self.rule.line

    def text(self) -> str:
        return self.rule.text()


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
    compiler: tuple[_TableCompiler, dict[str, CompiledChain]] | None = field(
        default=None, repr=False, compare=False)  # what compiles a LazyChain

    def rules_for(self, b: object) -> tuple[CompiledRule, ...]:
        """The rules that can match the branch's packet, in order."""
        if not self.index_on:
            return self.rules
        key = b.dst if self.index_on == "dst" else (b.proto, b.dport)  # type: ignore[attr-defined]
        return self.index.get(key, self.rest)


@dataclass(frozen=True, slots=True)
class CompiledRuleset:
    """Tables by name, each a dict of chains by name; ``family`` is 4 or 6."""

    family: int
    tables: dict[str, dict[str, CompiledChain]]
    problems: tuple[tuple[Rule, str], ...] = ()  # rules that could not be compiled (empty when lazy)

    def chain(self, table: str, name: str) -> CompiledChain | None:
        return self.tables.get(table, {}).get(name)

    def release(self) -> None:
        """Cut the link each chain not compiled yet keeps to its table (a reference cycle, see LazyChain).

        Dropping the ruleset then frees it at once, by reference counting: a run that lets go of
        one large ruleset before building the next does not wait for the cyclic collector, and
        can run with the collector paused. The chains not compiled yet can no longer be.
        """
        for chains in self.tables.values():
            for chain in chains.values():
                if isinstance(chain, LazyChain):
                    chain.compiler = None


# --------------------------------------------------------------------------- header checks


def _iface_check(attr: str, flag: str, name: str, negated: bool) -> Check:
    """-i/-o: ``+`` at the end matches any interface with that prefix.

    An interface the model does not know is assumed to be some other
    interface than the one named (traffic from elsewhere arrives on an uplink
    the dump does not name), and that assumption is reported.
    """
    prefix = name[:-1] if name.endswith("+") else None

    def check(b: object) -> object:
        iface = getattr(b, attr)
        if iface is None:
            return Doubt(f"the {'input' if attr == 'in_iface' else 'output'} interface is not known; "
                         f"assumed not to be {name}", negated)
        hit = iface.startswith(prefix) if prefix is not None else iface == name
        return hit != negated

    return reading(check, attr)


def _address_check(attr: str, flag: str, value: str, negated: bool, family: int) -> Check:
    """-s/-d as a mask and a compare; an anonymised or foreign address never matches (reported)."""
    try:
        fam, net, mask = parse_network(value)
    except ValueError:
        doubt = Doubt(f"{flag} {value} is not an address (anonymised in the dump?); assumed not to match",
                      negated)
        return reading(lambda b: doubt)
    if fam != family:
        return reading(lambda b: negated)

    source = ("net", net, mask) if attr in SOURCE_FIELDS else None
    if negated:
        return reading(lambda b: (getattr(b, attr) & mask) != net, attr, source=source)
    return reading(lambda b: (getattr(b, attr) & mask) == net, attr, source=source)


@lru_cache(maxsize=1024)
def _protocol_check(value: str, negated: bool) -> Check:
    """(Memoised: a pure function of its arguments, and every service rule names its protocol.)"""
    name = value.lower()
    if name in ("all", "0"):
        return reading(lambda b: not negated)
    number = PROTOCOL_NUMBERS.get(name, int(name) if name.isdigit() else -1)
    names = frozenset(n for n, v in PROTOCOL_NUMBERS.items() if v == number) | {name}
    return reading(lambda b: (b.proto in names) != negated, "proto")  # type: ignore[attr-defined]


HEADER_ORDER = {"-s": 0, "-d": 1, "-i": 2, "-o": 3, "-p": 4, "-f": 5}


def header_checks(options: Sequence[Option], family: int) -> list[Check]:
    """The checks of the built-in options, in the kernel's order (addresses, interfaces, protocol)."""
    builtin = [(HEADER_ORDER[o.flag], o) for o in options if not o.module and o.flag in HEADER_ORDER]
    builtin.sort(key=lambda item: item[0])
    checks: list[Check] = []
    for _, opt in builtin:
        if opt.flag in ("-s", "-d"):
            checks.append(_address_check("src" if opt.flag == "-s" else "dst", opt.flag, opt.value,
                                         opt.negated, family))
        elif opt.flag in ("-i", "-o"):
            checks.append(_iface_check("in_iface" if opt.flag == "-i" else "out_iface", opt.flag, opt.value,
                                       opt.negated))
        elif opt.flag == "-p":
            checks.append(_protocol_check(opt.value, opt.negated))
        else:  # -f: the first packet of a connection is never a non-first fragment
            checks.append(reading(lambda b, neg=opt.negated: neg))  # type: ignore[misc]  # mypy#15459
    return checks


# --------------------------------------------------------------------------- match modules


@dataclass(slots=True)
class _RuleParts:
    """What the match modules of one rule contribute while it is compiled."""

    family: int
    checks: list[Check] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)
    split: tuple[int, int] | None = None
    split_mode: str = ""
    recent: tuple[str, str, int] | None = None


def _port_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition(":")
    low = int(lo) if lo else 0
    return low, int(hi) if hi else (65535 if _ else low)


@lru_cache(maxsize=4096)
def _ports_check(attr: str, spec: str, negated: bool) -> Check:
    """(Memoised like :func:`_protocol_check`: a few ports recur across thousands of rules.)"""
    ranges = tuple(_port_range(p) for p in spec.split(","))
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        port = ranges[0][0]
        return reading(lambda b: (getattr(b, attr) == port) != negated, attr)

    def check(b: object) -> object:
        value = getattr(b, attr)
        if value is None:
            return Doubt(f"the packet has no {attr}; assumed to match", True)
        return any(lo <= value <= hi for lo, hi in ranges) != negated

    return reading(check, attr)


TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")


def _flag_set(text: str) -> frozenset[str]:
    if text.upper() == "ALL":
        return frozenset(TCP_FLAGS)
    if text.upper() == "NONE":
        return frozenset()
    return frozenset(f.upper() for f in text.split(","))


def _tcp_flags_check(mask: str, comp: str, negated: bool) -> Check:
    masked, wanted = _flag_set(mask), _flag_set(comp)
    return reading(lambda b: ((b.tcp_flags & masked) == wanted) != negated, "tcp_flags")  # type: ignore[attr-defined]


@lru_cache(maxsize=64)
def _is_protocol(module: str) -> Check:
    """The check of ``-m tcp`` and its kin, one shared function per protocol."""
    return reading(lambda b: b.proto == module, "proto")  # type: ignore[attr-defined]


def _proto_module(parts: _RuleParts, module: str, opts: Sequence[Option]) -> None:
    """tcp/udp/sctp/udplite/dccp: the protocol itself, then --sport/--dport (ranges, negation)."""
    parts.checks.append(_is_protocol(module))
    for o in opts:
        if o.flag in ("--sport", "--dport"):
            parts.checks.append(_ports_check("sport" if o.flag == "--sport" else "dport", o.value, o.negated))
        elif o.flag == "--syn":
            parts.checks.append(_tcp_flags_check("SYN,RST,ACK,FIN", "SYN", o.negated))
        elif o.flag == "--tcp-flags" and len(o.args) == 2:
            parts.checks.append(_tcp_flags_check(o.args[0], o.args[1], o.negated))
        else:
            parts.doubts.append(f"{module} {o.flag} is not modelled; assumed to match")


def _multiport(parts: _RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        if o.flag == "--ports":
            src = _ports_check("sport", o.value, False)
            dst = _ports_check("dport", o.value, False)
            neg = o.negated
            parts.checks.append(reading(
                lambda b, s=src, d=dst, n=neg: (s(b) is True or d(b) is True) != n,  # type: ignore[misc]  # mypy#15459
                "sport", "dport"))
        else:
            parts.checks.append(_ports_check("sport" if o.flag == "--sports" else "dport", o.value, o.negated))


def parse_mark(text: str) -> tuple[int, int]:
    """``VALUE[/MASK]`` (hex or decimal) as the mark match and MARK target read it."""
    value, _, mask = text.partition("/")
    return int(value, 0), int(mask, 0) if mask else 0xFFFFFFFF


def _mark(parts: _RuleParts, attr: str, opts: Sequence[Option]) -> None:
    for o in opts:
        value, mask = parse_mark(o.value)
        neg = o.negated
        parts.checks.append(reading(
            lambda b, v=value, m=mask, n=neg: ((getattr(b, attr) & m) == v) != n,  # type: ignore[misc]  # mypy#15459
            attr))


ADDRESS_TYPES = frozenset(
    "UNSPEC UNICAST LOCAL BROADCAST ANYCAST MULTICAST BLACKHOLE UNREACHABLE PROHIBIT THROW NAT XRESOLVE".split()
)


def _addrtype(parts: _RuleParts, opts: Sequence[Option]) -> None:
    """--src-type/--dst-type, optionally limited to the packet's input or output interface."""
    limit = ""
    for o in opts:
        if o.flag == "--limit-iface-in":
            limit = "in_iface"
        elif o.flag == "--limit-iface-out":
            limit = "out_iface"
    for o in opts:
        if o.flag not in ("--src-type", "--dst-type"):
            continue
        wanted = frozenset(t.upper() for t in o.value.split(","))
        attr = "src" if o.flag == "--src-type" else "dst"
        neg = o.negated

        def check(b: object, attr: str = attr, wanted: frozenset[str] = wanted, neg: bool = neg) -> object:
            iface = getattr(b, limit) if limit else ""
            kind = b.env.address_type(b.family, getattr(b, attr), iface)  # type: ignore[attr-defined]
            if kind is None:
                return Doubt(f"addrtype --limit-iface: the addresses of interface {iface or '(unknown)'} are "
                             "not known; assumed to match", True)
            if kind == "UNICAST" and not b.env.addresses_known:  # type: ignore[attr-defined]
                return Doubt("addrtype: the node's own addresses are not known (give --node-ip); assumed not "
                             "to be one of them", (kind in wanted) != neg)
            return (kind in wanted) != neg

        parts.checks.append(reading(check, attr, *([limit] if limit else []),
                                    source=("type",) if attr == "src" else None))


def _probability_threshold(text: str) -> int:
    """libxt_statistic: lround(2^31 * p), halves away from zero, p read as a C double; iptables refuses a
    probability outside 0-1 (a ValueError here: the rule cannot be compiled, and says so)."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"--probability {text} is not in 0-1; iptables refuses it")
    scaled = value * TWO_31  # exact: scaling by a power of two
    whole = int(scaled)
    if scaled - whole >= 0.5:
        whole += 1
    return min(whole, TWO_31)


def _statistic(parts: _RuleParts, opts: Sequence[Option]) -> None:
    """random: the kernel matches when (random & 0x7fffffff) < threshold; nth: one packet in ``every``."""
    values = {o.flag: o.value for o in opts}
    negated = any(o.negated for o in opts)
    mode = values.get("--mode", "random")
    if mode == "random":
        threshold = _probability_threshold(values.get("--probability", "0"))
        num, den = (TWO_31 - threshold if negated else threshold), TWO_31
    elif mode == "nth":
        every = int(values.get("--every", "1"))
        num, den = (every - 1 if negated else 1), every
        parts.doubts.append(f"statistic --mode nth --every {every}: one packet in {every} matches; "
                            "which one depends on the counter, shown as a probability")
    else:
        parts.doubts.append(f"statistic --mode {mode} is not known; assumed to match")
        return
    if num == 0:
        parts.checks.append(reading(lambda b: False))
    elif num != den:
        parts.split, parts.split_mode = (num, den), mode


def _recent(parts: _RuleParts, opts: Sequence[Option]) -> None:
    """recent: --rcheck/--update match when the list holds the address (within --seconds/--hitcount)."""
    values = {o.flag: o.value for o in opts}
    name = values.get("--name", "DEFAULT")
    command = next((f for f in ("--set", "--rcheck", "--update", "--remove") if f in values), "--set")
    attr = "dst" if "--rdest" in values else "src"
    mask_text = values.get("--mask")
    mask = -1 if mask_text is None else parse_address(mask_text)[1]
    seconds = int(values["--seconds"]) if "--seconds" in values else 0
    hitcount = int(values["--hitcount"]) if "--hitcount" in values else 0
    negated = any(o.negated for o in opts)
    reap = "--reap" in values
    parts.recent = (name, command, mask)
    if "--rttl" in values:
        parts.doubts.append("recent --rttl is not modelled; assumed to match")

    def check(b: object) -> object:
        return b.env.recent(command, name, getattr(b, attr) & mask, seconds, hitcount, negated, reap)  # type: ignore[attr-defined]

    # traced, a list holds the client or not by its name alone (Env.recent); only sampling reads the address
    parts.checks.append(reading(check, attr, source=("none",) if attr == "src" else None))


CT_VIRTUAL = frozenset({"DNAT", "SNAT"})


def _ctstate_check(states: frozenset[str], negated: bool) -> Check:
    def check(b: object) -> object:
        hit = (b.ctstate in states or ("DNAT" in states and b.dnat)  # type: ignore[attr-defined]
               or ("SNAT" in states and b.snat))  # type: ignore[attr-defined]
        return hit != negated

    return reading(check, "ctstate", "dnat", "snat")


def _conntrack(parts: _RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        neg = o.negated
        if o.flag in ("--ctstate", "--state"):
            parts.checks.append(_ctstate_check(frozenset(s.upper() for s in o.value.split(",")), neg))
        elif o.flag == "--ctstatus":
            wanted = frozenset(s.upper() for s in o.value.split(","))
            parts.checks.append(reading(  # the kernel tests the status bits alone: NONE (no bit) never matches
                lambda b, w=wanted, n=neg: bool(w & b.ctstatus) != n,  # type: ignore[misc]  # mypy#15459
                "ctstatus"))
        elif o.flag in ("--ctorigdst", "--ctorigsrc", "--ctreplsrc", "--ctrepldst"):
            attr = {"--ctorigdst": "orig_dst", "--ctorigsrc": "orig_src",
                    "--ctreplsrc": "dst", "--ctrepldst": "src"}[o.flag]
            parts.checks.append(_address_check(attr, o.flag, o.value, neg, parts.family))
        elif o.flag in ("--ctorigdstport", "--ctorigsrcport"):
            attr = "orig_dport" if o.flag == "--ctorigdstport" else "orig_sport"
            parts.checks.append(_ports_check(attr, o.value, neg))
        elif o.flag == "--ctproto":
            parts.checks.append(_protocol_check(o.value, neg))
        elif o.flag == "--ctdir":
            original = o.value.upper() == "ORIGINAL"  # every packet traced is in the original direction
            parts.checks.append(reading(lambda b, hit=original != neg: hit))  # type: ignore[misc]  # mypy#15459
        else:
            parts.doubts.append(f"conntrack {o.flag} is not modelled; assumed to match")


def _set(parts: _RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        if o.flag != "--match-set" or len(o.args) < 2:
            continue
        name, dims, neg = o.args[0], tuple(o.args[1].split(",")), o.negated

        def check(b: object, name: str = name, dims: tuple[str, ...] = dims, neg: bool = neg) -> object:
            hit = b.env.ipset_member(name, dims, b)  # type: ignore[attr-defined]
            if hit is None:
                return Doubt(f"ipset {name} is not known; assumed to match", True)
            return hit != neg

        parts.checks.append(reading(check, "src", "dst", "proto", "sport", "dport"))


def _physdev(parts: _RuleParts, opts: Sequence[Option]) -> None:
    """physdev: the bridge port the packet came in through; the way out of a bridge is not modelled."""
    for o in opts:
        neg = o.negated
        if o.flag in ("--physdev-in", "--physdev-is-in"):
            name = o.value

            def check(b: object, name: str = name, neg: bool = neg) -> object:
                port = b.bridge_port  # type: ignore[attr-defined]
                hit = port is not None and (not name or port == name
                                            or (name.endswith("+") and port.startswith(name[:-1])))
                return hit != neg

            parts.checks.append(reading(check, "bridge_port"))
        else:
            flag = o.flag

            def out_check(b: object, flag: str = flag, neg: bool = neg) -> object:
                if b.bridge_port is None:  # type: ignore[attr-defined]
                    return neg  # not bridged: no bridge port out either
                return Doubt(f"physdev {flag}: the bridge port out is not modelled; assumed to match", True)

            parts.checks.append(reading(out_check, "bridge_port"))


def _iprange(parts: _RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        lo_text, _, hi_text = o.value.partition("-")
        lo = parse_address(lo_text)[1]
        hi = parse_address(hi_text)[1] if hi_text else lo
        attr = "src" if o.flag == "--src-range" else "dst"
        parts.checks.append(reading(
            lambda b, a=attr, lo=lo, hi=hi, n=o.negated:  # type: ignore[misc]  # mypy#15459
            (lo <= getattr(b, a) <= hi) != n,
            attr, source=("range", lo, hi) if attr == "src" else None))


def _pkttype(parts: _RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        wanted = o.value.upper()

        def check(b: object, wanted: str = wanted, neg: bool = o.negated) -> object:
            kind = b.env.address_type(b.family, b.dst, "")  # type: ignore[attr-defined]
            kind = kind if kind in ("BROADCAST", "MULTICAST") else "UNICAST"
            return (kind == wanted) != neg

        parts.checks.append(reading(check, "dst"))


def _comment(parts: _RuleParts, opts: Sequence[Option]) -> None:
    """Comments and nfacct counters never change the answer."""


def _limit(parts: _RuleParts, opts: Sequence[Option]) -> None:
    rate = next((o.value for o in opts if o.flag == "--limit"), "3/hour")
    parts.doubts.append(f"limit --limit {rate}: matches until its token bucket runs out; assumed to match")


def _icmp(parts: _RuleParts, module: str, opts: Sequence[Option]) -> None:
    parts.checks.append(reading(lambda b: b.proto in ("icmp", "icmpv6"), "proto"))  # type: ignore[attr-defined]
    for o in opts:
        parts.doubts.append(f"{module} {o.flag} {o.value} is not modelled; assumed to match")


MODULES: dict[str, Callable[[_RuleParts, Sequence[Option]], None]] = {
    "multiport": _multiport,
    "comment": _comment,
    "nfacct": _comment,
    "mark": lambda p, o: _mark(p, "mark", o),
    "connmark": lambda p, o: _mark(p, "ctmark", o),
    "addrtype": _addrtype,
    "statistic": _statistic,
    "recent": _recent,
    "conntrack": _conntrack,
    "state": _conntrack,
    "set": _set,
    "physdev": _physdev,
    "limit": _limit,
    "iprange": _iprange,
    "pkttype": _pkttype,
}
PROTOCOL_MODULES = frozenset({"tcp", "udp", "sctp", "udplite", "dccp"})


def _module_groups(spec: RuleSpec) -> list[tuple[str, list[Option]]]:
    """The match modules of a rule, each with its options, in written order."""
    groups: list[tuple[str, list[Option]]] = []
    for opt in spec.options:
        if opt.module == "":
            continue
        if opt.flag == "-m":
            groups.append((opt.module, []))
            continue
        owner = next((g for g in reversed(groups) if g[0] == opt.module), None)
        if owner is None:  # a protocol module implied by -p
            owner = (opt.module, [])
            groups.append(owner)
        owner[1].append(opt)
    return groups


def match_parts(spec: RuleSpec, family: int) -> _RuleParts:
    parts = _RuleParts(family, header_checks(spec.options, family))
    for module, opts in _module_groups(spec):
        if module in PROTOCOL_MODULES:
            _proto_module(parts, module, opts)
        elif module in ("icmp", "icmp6", "icmpv6"):
            _icmp(parts, module, opts)
        elif module in MODULES:
            MODULES[module](parts, opts)
        else:
            written = " ".join(f"{'! ' if o.negated else ''}{o.flag} {o.value}".strip() for o in opts)
            parts.doubts.append(f"match module {module}{' (' + written + ')' if written else ''} "
                                "is not modelled; assumed to match")
    return parts


# --------------------------------------------------------------------------- targets


def parse_nat_range(text: str, family: int) -> NatRange:
    """``ADDR[-ADDR][:PORT[-PORT]]``; IPv6 addresses in brackets when a port follows."""
    if text.startswith("["):
        close = text.find("]")
        addrs, rest = text[1:close], text[close + 1:]
        if rest.startswith("-["):  # [a]-[b]:port
            close2 = rest.find("]")
            addrs, rest = f"{addrs}-{rest[2:close2]}", rest[close2 + 1:]
        ports = rest[1:] if rest.startswith(":") else ""
    elif family == 6:
        addrs, ports = text, ""
    else:
        addrs, _, ports = text.partition(":")
    lo = hi = None
    if addrs:
        lo_text, _, hi_text = addrs.partition("-") if family == 4 or addrs.count("-") else (addrs, "", "")
        lo = parse_address(lo_text)[1]
        hi = parse_address(hi_text)[1] if hi_text else lo
    plo = phi = None
    if ports:
        p1, _, p2 = ports.partition("-")
        plo = int(p1)
        phi = int(p2) if p2 else plo
    endpoint = None
    if lo is not None and lo == hi and plo is not None and plo == phi:  # one address, one port
        endpoint = format_endpoint(family, lo, plo)
    return NatRange(lo, hi, plo, phi, text, endpoint)


def _mark_target(target: Target) -> tuple[int, int, str]:
    """MARK/CONNMARK as (value, mask, op); iptables-save writes most forms as --set-xmark."""
    for opt in target.options:
        if opt.flag in ("--set-xmark", "--set-mark"):
            value, mask = parse_mark(opt.value)
            return value, mask, "xset" if opt.flag == "--set-xmark" else "set"
        if opt.flag in ("--or-mark", "--xor-mark", "--and-mark"):
            return int(opt.value, 0), 0, opt.flag[2:-5]
        if opt.flag in ("--save-mark", "--restore-mark"):  # (nfmask, ctmask, op); --mask M sets both to M
            both = target.option("--mask")
            nf, ct = target.option("--nfmask") or both, target.option("--ctmask") or both
            return (int(nf.value, 0) if nf else 0xFFFFFFFF), (int(ct.value, 0) if ct else 0xFFFFFFFF), \
                opt.flag[2:-5]
    raise ValueError(f"{target.name} needs --set-xmark, --set-mark, --or-mark, --xor-mark or --and-mark")


def _target_kind(target: Target | None, table: str, chains: set[str]) -> tuple[Kind, str]:
    """The kind of a target and, for an unmodelled one, why it is uncertain."""
    if target is None:
        return Kind.CONTINUE, ""
    name = target.name
    if name in chains:
        return (Kind.GOTO if target.goto else Kind.JUMP), ""
    fixed = {"ACCEPT": Kind.ACCEPT, "DROP": Kind.DROP, "REJECT": Kind.REJECT, "RETURN": Kind.RETURN,
             "DNAT": Kind.DNAT, "SNAT": Kind.SNAT, "MASQUERADE": Kind.MASQUERADE, "REDIRECT": Kind.REDIRECT,
             "MARK": Kind.MARK, "CONNMARK": Kind.CONNMARK, "NOTRACK": Kind.NOTRACK}
    if name in fixed:
        return fixed[name], ""
    if name == "CT":
        notrack = target.option("--notrack") is not None
        return (Kind.NOTRACK if notrack else Kind.CONTINUE), ""
    if name in PASSIVE_TARGETS:
        return Kind.CONTINUE, ""
    if name in ("QUEUE", "NFQUEUE"):  # always the end of the walk here: a userspace verdict, or the default
        bypass = target.option("--queue-bypass") is not None
        return (Kind.ACCEPT if bypass else Kind.DROP), (
            f"target {name}: a userspace program listening on the queue decides; with none the kernel "
            + ("accepts (--queue-bypass)" if bypass else "drops the packet"))
    if name == "SYNPROXY":  # answers a SYN itself (a cookie) and takes the handshake's ACK: nothing goes on
        return Kind.DROP, "target SYNPROXY: the proxy answers the SYN itself; the packet goes no further"
    return Kind.CONTINUE, (f"target {name} is neither a modelled target nor a chain of table {table}; "
                           "assumed to continue")


def compile_rule(rule: Rule, table: str, chains: set[str], family: int) -> CompiledRule:
    """One rule; raises RulesSyntaxError/ValueError when its text cannot be used at all."""
    spec = rule.parsed
    parts = match_parts(spec, family)
    kind, doubt = _target_kind(spec.target, table, chains)
    doubts = [*parts.doubts, *([doubt] if doubt else [])]
    compiled = CompiledRule(rule, table, tuple(parts.checks), kind, parts.split, parts.split_mode,
                            tuple(doubts), spec.target, recent=parts.recent)
    target = spec.target
    if kind in (Kind.JUMP, Kind.GOTO) and target is not None:
        compiled.jump_name = target.name
    elif kind in (Kind.DNAT, Kind.SNAT, Kind.MASQUERADE, Kind.REDIRECT) and target is not None:
        compiled.nat = _nat_of(target, kind, family)
    elif kind in (Kind.MARK, Kind.CONNMARK) and target is not None:
        compiled.mark = _mark_target(target)
    compiled.index_key = _index_keys(spec, family)
    compiled.reads = _rule_reads(compiled)
    return compiled


# The branch fields a target's effect reads: a walk that rewrites them can make later checks depend on them.
EFFECT_READS = {Kind.MARK: frozenset({"mark", "ctmark"}), Kind.CONNMARK: frozenset({"mark", "ctmark"}),
                Kind.MASQUERADE: frozenset({"out_iface"}), Kind.REDIRECT: frozenset({"in_iface"})}


def _rule_reads(rule: CompiledRule) -> frozenset[str] | None:
    """Every branch field the rule's checks and effect read; None when a check does not declare its reads."""
    fields = set(EFFECT_READS.get(rule.kind, ()))
    for check in rule.checks:
        reads = getattr(check, "reads", None)
        if reads is None:
            return None
        fields |= reads
    return frozenset(fields)


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


def _nat_of(target: Target, kind: Kind, family: int) -> NatRange | None:
    flag = {Kind.DNAT: "--to-destination", Kind.SNAT: "--to-source"}.get(kind, "--to-ports")
    opt = target.option(flag)
    if opt is None:
        if kind in (Kind.DNAT, Kind.SNAT):
            raise ValueError(f"{target.name} needs {flag}")
        return None
    if kind in (Kind.MASQUERADE, Kind.REDIRECT):
        low, _, high = opt.value.partition("-")
        return NatRange(None, None, int(low), int(high) if high else int(low), opt.value)
    return parse_nat_range(opt.value, family)


# --------------------------------------------------------------------------- indexes


PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "58": "ipv6-icmp"}


def _index_keys(spec: RuleSpec, family: int) -> IndexKey:
    """(destination, (protocol, port)) this rule can only match, each None when it is not that narrow."""
    dst = port = None
    proto = None
    for opt in spec.options:
        if opt.negated:
            continue
        if opt.flag == "-d" and opt.module == "":
            try:
                fam, net, mask = parse_network(opt.value)
            except ValueError:
                continue
            if fam == family and mask == (0xFFFFFFFF if family == 4 else (1 << 128) - 1):
                dst = net
        elif opt.flag == "-p" and opt.module == "":
            proto = PROTOCOL_NAMES.get(opt.value.lower(), opt.value.lower())  # -p 6 is tcp, as packets say
        elif opt.flag == "--dport" and opt.module in PROTOCOL_MODULES and opt.value.isdigit():
            port = int(opt.value)
    return dst, ((proto, port) if proto is not None and port is not None else None)


def _build_index(chain: CompiledChain) -> None:
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


RuleMemo = dict[tuple[str, str], tuple[str, bool, CompiledRule]]
"""Rules compiled before, by (table, spec): the target's name, whether it was a chain of the table, the rule.

Every node of a cluster holds the same rule text for a service (chain names are hashes of the
service and endpoint), so tracing a question on every node compiles each text once with a memo
shared by the nodes' rulesets (``compile_ruleset(..., memo=...)``).
"""


def compile_ruleset(ruleset: Ruleset, *, lazy: bool = False, memo: RuleMemo | None = None) -> CompiledRuleset:
    """Compile every table (or, ``lazy``, each chain when first walked).

    A rule that cannot be compiled is listed in ``problems`` (when not lazy) and stays
    in its chain as a rule that never matches and reports why. ``memo`` (shared by rulesets
    of one family) reuses what compiling a rule with the same text in the same table made.
    """
    family = 6 if ruleset.ipv6 else 4
    tables: dict[str, dict[str, CompiledChain]] = {}
    problems: list[tuple[Rule, str]] = []
    with collector_paused():  # one closure and record per rule, no cycles: see objects.bulk
        for table in ruleset.tables:
            compiler = _TableCompiler(table, family, memo)
            tables[table.name] = compiler.lazy_chains() if lazy else compiler.all_chains()
            problems += compiler.problems
    return CompiledRuleset(family, tables, tuple(problems))


class _TableCompiler:
    """Compiles the chains of one table: all of them up front, or each when a walk first needs it."""

    def __init__(self, table: Table, family: int, memo: RuleMemo | None = None) -> None:
        self.table = table
        self.family = family
        self.names = {c.name for c in table.chains if not c.builtin} - set(BUILTIN_CHAINS.get(table.name, ()))
        self.sources = {chain.name: chain for chain in table.chains}
        self.problems: list[tuple[Rule, str]] = []
        self.memo = memo

    def rules(self, name: str) -> tuple[CompiledRule, ...]:
        """A chain's rules compiled (jumps not linked yet), each with its path step."""
        table = self.table.name
        compiled: list[CompiledRule] = []
        for rule in self.sources[name].rules:
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
                done[name] = CompiledChain(name, self.table.name, compiled, self.sources[name].policy)
                stack.extend(reversed([r.jump_name for r in compiled if r.jump_name and r.jump_name not in done]))
        position = {name: i for i, name in enumerate(self.sources)}
        self.problems.sort(key=lambda problem: position[problem[0].chain])  # stable: a chain's in rule order
        chains = {chain.name: done[chain.name] for chain in self.table.chains}
        for chain in chains.values():
            _link(chain, chains)
        return chains

    def lazy_chains(self) -> dict[str, CompiledChain]:
        chains: dict[str, CompiledChain] = {}
        for chain in self.table.chains:
            chains[chain.name] = LazyChain(chain.name, self.table.name, chain.policy, (self, chains))
        return chains


def _reused(done: CompiledRule, rule: Rule) -> CompiledRule:
    """A compiled rule for ``rule`` from one compiled from the same text: its own rule, jump and step."""
    return CompiledRule(rule, done.table, done.checks, done.kind, done.split, done.split_mode, done.doubts,
                        done.target, done.jump_name, None, done.nat, done.mark, done.recent, done.index_key,
                        None, done.reads)


def _link(chain: CompiledChain, chains: dict[str, CompiledChain]) -> None:
    """Resolve the chain's jumps to chain objects and index it."""
    for rule in chain.rules:
        if rule.jump_name:
            rule.jump = chains[rule.jump_name]
    _build_index(chain)


def _unusable(rule: Rule, table: str, why: str) -> CompiledRule:
    """A rule that cannot be compiled: in its place, a rule that never matches and says why when passed."""
    doubt = Doubt(f"the rule cannot be evaluated: {why}; it is skipped", False)
    return CompiledRule(rule, table, (reading(lambda b: doubt),), Kind.CONTINUE, index_key=(None, None),
                        reads=frozenset())


def _lazy_field(name: str) -> property:
    """A CompiledChain field that compiles the chain on first read (see :class:`LazyChain`)."""
    slot = getattr(CompiledChain, name)

    def get(self: LazyChain) -> object:
        self._compile()
        return slot.__get__(self, CompiledChain)

    return property(get, slot.__set__)


class LazyChain(CompiledChain):
    """A chain whose rules are compiled when first read: a walk pays only for the chains it enters.

    Once compiled it becomes a plain :class:`CompiledChain` (same slots, so the class can be
    swapped): walks through it cost exactly what they cost in a ruleset compiled up front.
    Like the tracer itself, it is for one thread at a time. Until compiled it refers to its
    table's chains, itself among them: :meth:`CompiledRuleset.release` cuts that cycle.
    """

    __slots__ = ()

    def __init__(self, name: str, table: str, policy: str | None,
                 compiler: tuple[_TableCompiler, dict[str, CompiledChain]]) -> None:
        CompiledChain.__init__(self, name, table, (), policy, compiler=compiler)

    def _compile(self) -> None:
        if self.compiler is None:  # cut by CompiledRuleset.release(): the chain can no longer be compiled
            raise TypeError(f"chain {self.name} was released before it was compiled")
        table, chains = self.compiler
        self.__class__ = CompiledChain  # type: ignore[assignment]
        self.compiler = None
        self.rules = table.rules(self.name)  # a chain at a time: too few objects to pause the collector for
        _link(self, chains)

    rules = _lazy_field("rules")
    index_on = _lazy_field("index_on")
    index = _lazy_field("index")
    rest = _lazy_field("rest")
