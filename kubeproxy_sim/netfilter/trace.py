"""Where does this packet go, and why: every outcome with its exact probability and its path.

``trace(ruleset, packet, node)`` follows every branch of every statistic
split (see :mod:`kubeproxy_sim.netfilter.evaluate`) and merges the branches
that end the same way: same verdict, same destination, same masquerading.
Probabilities are exact fractions that sum to exactly 1. Everything the answer
depends on but the model cannot know (an unmodelled match, an anonymised
address, an unknown interface or bridge port, a route back to the source) is
listed in ``uncertain`` with its rule; a routing decision that hangs on the
node's addresses (not given) is listed with no line and the rule text
``routing decision``. A verdict given by a built-in chain's DROP policy ends
its path with a step for that policy: the chain's declaration
(``:FORWARD DROP [0:0]``) at its line in the dump. Each outcome also lists every
built-in chain the packet passed (``hooks``), those it went through with no rule
matching or left by their ACCEPT policy included, which the path (matched rules
only) cannot show.

For many packets through one ruleset, build a :class:`Tracer` once: it
compiles the rules (and indexes the long chains) a single time. For one
packet through a large dump, ``Tracer(..., lazy=True)`` compiles only the
chains the packet enters.
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from math import gcd
from operator import attrgetter
from typing import Any

from kubeproxy_sim.errors import printable
from kubeproxy_sim.netfilter.compile import CompiledRule, CompiledRuleset, PathStep, Renumber, compile_ruleset
from kubeproxy_sim.netfilter.digits import fraction_texts
from kubeproxy_sim.netfilter.evaluate import End, Engine, HookPass, NodeContext, end_of
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Ruleset
from kubeproxy_sim.netfilter.packet import ICMP_PROTOS, CtState, Packet, split_endpoint
from kubeproxy_sim.netfilter.tracekey import TraceKeys, Unkeyable
from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.values import value_class

__all__ = ["FirstPacketOutcome", "Hook", "NodeContext", "Outcome", "PathStep", "TraceResult", "Tracer", "Uncertainty",
           "exact_fraction", "exact_text", "no_connection_note", "packet_head", "render_text", "trace"]


@value_class
class Hook:
    """A built-in chain the packet passed (a netfilter hook of a table), in the order met: the verdict it left with
    (ACCEPT, DROP, REJECT), whether the chain's policy gave it (``policy``: no rule of it, or of a chain it jumped
    to, decided: nothing matched, or only jumps, marks and returns did) and how many steps of the outcome's path
    were taken in it (``steps``: 0 for a chain passed with nothing matching)."""

    table: str
    chain: str
    verdict: str
    policy: bool
    steps: int

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "chain": self.chain, "verdict": self.verdict, "policy": self.policy}


@value_class
class Outcome:
    """One way the packet ends: DNAT (to ``destination``), ACCEPT, DROP or REJECT. ``hooks``: every built-in
    chain its path passed (see :class:`Hook`); empty when not known (an outcome built by hand)."""

    verdict: str
    destination: str | None
    probability_exact: Fraction
    masquerade: bool
    path: tuple[PathStep, ...]
    hooks: tuple[Hook, ...] = ()

    @property
    def probability(self) -> float:
        return float(self.probability_exact)

    def address_after(self, dst: str, dport: int) -> tuple[str, int]:
        """Where the packet (to ``dst:dport``) goes next: the DNAT destination, else unchanged."""
        if self.verdict == "DNAT" and self.destination:
            return split_endpoint(self.destination)
        return dst, dport


@value_class
class FirstPacketOutcome(Outcome):
    """A later packet's outcome that its connection's first packet decided: that packet was dropped or
    rejected, so no connection exists (:func:`~kubeproxy_sim.netfilter.established.trace_later`); ``path`` is
    the first packet's walk, not the later packet's."""


def no_connection_note(outcome: Outcome) -> str | None:
    """For a :class:`FirstPacketOutcome`, what decided it, in words; None for any other outcome."""
    if not isinstance(outcome, FirstPacketOutcome):
        return None
    verb = "rejected" if outcome.verdict == "REJECT" else "dropped"
    last = outcome.path[-1] if outcome.path else None
    if last is None:
        where = ""
    elif last.line:
        where = f" at line {last.line}"
    else:
        where = f" by {last.chain}'s policy" if last.rule.startswith(":") else f" by {last.chain}"
    return f"the connection's first packet is {verb}{where}, so no connection exists; the path is that packet's"


JUMP_FLAGS = frozenset({"-j", "--jump", "-g", "--goto"})


def jump_target(rule: str) -> str | None:
    """The chain or target a rule's text jumps (or goes) to, its last -j/-g; None: it names none."""
    words = rule.split()
    found = [words[i + 1] for i, word in enumerate(words[:-1]) if word in JUMP_FLAGS]
    return found[-1] if found else None


SERVICE_CHAIN_PREFIXES = ("KUBE-SEP-", "KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-XLB-")
"""kube-proxy's chains of one service port or endpoint, which it never writes without rules (unlike
KUBE-PROXY-FIREWALL, KUBE-NODEPORTS or a CNI's chains, often declared empty)."""


def empty_chains_entered(ruleset: Ruleset, outcome: Outcome) -> list[tuple[PathStep, str]]:
    """The path's jumps into a service port's or endpoint's chain (:data:`SERVICE_CHAIN_PREFIXES`) declared
    with no rules, with the chain's name: the walk enters it and returns at once, so the path shows nothing of
    it, though its emptiness decided the outcome (a KUBE-SEP chain without its DNAT rule leaves the packet
    untranslated)."""
    found = []
    for step in outcome.path:
        target = jump_target(step.rule) if not step.rule.startswith(":") else None
        if target is None or not target.startswith(SERVICE_CHAIN_PREFIXES):
            continue
        table = ruleset.table(step.table) if target else None
        chain = table.chain(target) if table is not None and target else None
        if chain is not None and not chain.builtin and not chain.rules:
            found.append((step, chain.name))
    return found


@value_class
class Uncertainty:
    line: int | None
    rule: str
    reason: str


@value_class
class TraceResult:
    packet: Packet
    origin: str  # "local" (generated on the node) or "remote"
    outcomes: tuple[Outcome, ...]
    uncertain: tuple[Uncertainty, ...]

    def to_json(self) -> dict[str, Any]:
        """The public ``-o json`` form."""
        p = self.packet
        shares = fraction_texts([o.probability_exact for o in self.outcomes])  # str() of each, in linear time
        return {
            "packet": {"proto": p.proto, "src": p.src_text, "dst": p.dst_text, "sport": p.sport, "dport": p.dport,
                       "in_iface": p.in_iface, "out_iface": p.out_iface, "bridge_port": p.bridge_port,
                       "ctstate": str(p.ctstate), "ctdir": "REPLY" if p.reply else "ORIGINAL",
                       "icmp_type": p.icmp_type, "icmp_code": p.icmp_code},
            "origin": self.origin,
            "outcomes": [
                {
                    "verdict": o.verdict,
                    "destination": o.destination,
                    "probability": o.probability,
                    "probability_exact": share,
                    "masquerade": o.masquerade,
                    "path": [{"table": s.table, "chain": s.chain, "line": s.line, "rule": s.rule} for s in o.path],
                    "hooks": [h.to_json() for h in o.hooks],
                    **({"no_connection": True} if isinstance(o, FirstPacketOutcome) else {}),
                }
                for o, share in zip(self.outcomes, shares, strict=True)
            ],
            "uncertain": [{"line": u.line, "rule": u.rule, "reason": u.reason} for u in self.uncertain],
        }


_STEP_OF = attrgetter("step")
_new = object.__new__


def _outcome(verdict: str, destination: str | None, share: Fraction, masquerade: bool,
             path: tuple[PathStep, ...], hooks: tuple[Hook, ...] = ()) -> Outcome:
    """``Outcome(...)`` built on a draft (objects.bulk.draft_class): every field of Outcome must be written here
    (tests/netfilter/test_model_drafts.py checks)."""
    outcome = _new(_OUTCOME_DRAFT)
    outcome.verdict = verdict
    outcome.destination = destination
    outcome.probability_exact = share
    outcome.masquerade = masquerade
    outcome.path = path
    outcome.hooks = hooks
    outcome.__class__ = Outcome
    return outcome


_OUTCOME_DRAFT: Any = draft_class(Outcome)


CACHE_LIMIT = 1 << 16  # entries of the tracer's share cache before it starts afresh
ANSWER_LIMIT = 1 << 17  # answers a tracer keeps before it starts afresh (bounded memory)


class Tracer:
    """A ruleset compiled once, for one node; :meth:`trace` answers for one packet.

    Answers are kept under the packet's key (:mod:`~kubeproxy_sim.netfilter.tracekey`), so a
    packet that traces like an earlier one is answered from memory; :meth:`warm` traces every
    service address up front, after which a trace to any of them is a lookup.
    """

    def __init__(self, rules: Ruleset | CompiledRuleset, node: NodeContext, *, lazy: bool = False,
                 renumber: Renumber | None = None, generated: bool = False) -> None:
        """``lazy``: compile each chain when a packet first enters it (for few packets through a large dump);
        ``renumber``: read each chain's rules (their lines) from what it makes of the chain; ``generated``: the
        rules are the proxier's own, not a dump (see compile_ruleset)."""
        self.compiled = (rules if isinstance(rules, CompiledRuleset)
                         else compile_ruleset(rules, lazy=lazy, renumber=renumber, generated=generated))
        self.engine = Engine(self.compiled, node)
        self._shares: dict[tuple[int, int], Fraction] = {}  # the same split thresholds recur in every service
        self._hooks: dict[HookPass, Hook] = {}  # the few distinct hook passes there are, shared by all outcomes
        # ... and the few distinct runs of them (a branch's hooks, a tuple): one lookup an outcome, not one a hook
        self._hook_runs: dict[tuple[HookPass, ...], tuple[Hook, ...]] = {}
        # answers by key: the outcomes alone, or the whole result when local or uncertain
        self._answers: dict[tuple, tuple[Outcome, ...] | TraceResult] = {}
        # Not knowing the node's addresses, a packet's answer quotes its source (the doubt about its origin),
        # which a key classes: then every packet is walked.
        try:
            self.keys: TraceKeys | None = (TraceKeys(self.compiled, self.engine.env) if node.addresses_known
                                           else None)
        except Unkeyable:
            self.keys = None

    def trace(self, packet: Packet) -> TraceResult:
        if self.keys is None:
            return self._walk(packet)
        self.engine.check_family(packet)  # before the key: addresses of two families can be equal integers
        keys, answers = self.keys, self._answers
        key = keys.quick(packet)
        answer = answers.get(key)
        if answer is None:
            key = keys.key(packet)
            answer = answers.get(key)
            if answer is None:
                return self._keep(key, self._walk(packet))
        if answer.__class__ is tuple:
            return TraceResult(packet, "remote", answer, ())
        return TraceResult(packet, answer.origin, answer.outcomes, answer.uncertain)  # type: ignore[union-attr]

    def _keep(self, key: tuple, result: TraceResult) -> TraceResult:
        """Keep the answer: the most common kind (from elsewhere, certain) as its bare outcomes."""
        if len(self._answers) >= ANSWER_LIMIT:
            self._answers.clear()
        plain = result.origin == "remote" and not result.uncertain
        self._answers[key] = result.outcomes if plain else result
        return result

    def warm(self) -> int:
        """Trace every (address, protocol, port) a rule names as its one destination, from a source of each class.

        Worth it before many traces to many services (each first trace to a service costs a
        walk of all its branches; afterwards it costs a lookup). Returns how many were traced.
        """
        if self.keys is None:
            return 0
        count = 0
        for packet in self.keys.warming():
            if len(self._answers) >= ANSWER_LIMIT - 1:
                break
            self.trace(packet)
            count += 1
        return count

    def _walk(self, packet: Packet) -> TraceResult:
        ends = self.engine.walk(packet)
        origin = "local" if self.engine.is_local_origin(packet) else "remote"
        return TraceResult(packet, origin, self._merge(ends), self._uncertain(ends))

    def _merge(self, ends: list[End]) -> tuple[Outcome, ...]:
        """One outcome per (verdict, destination, masquerade); the path (and hooks) are the first branch's."""
        runs = self._hook_runs.get
        return tuple(_outcome(verdict, dest, self._share(num, den), masq, self._path(path),
                              runs(hooks) or self._hook_run(hooks))
                     for (verdict, dest, masq), (num, den, path, hooks) in _totals(ends).items())

    def _share(self, num: int, den: int) -> Fraction:
        """The exact probability, normalised once per distinct (num, den) rather than once per outcome."""
        share = self._shares.get((num, den))
        if share is None:
            if len(self._shares) >= CACHE_LIMIT:
                self._shares.clear()
            share = self._shares[(num, den)] = exact_fraction(num, den)
        return share

    def _hook_run(self, passed: tuple[HookPass, ...]) -> tuple[Hook, ...]:
        """The public records of a branch's hook passes, kept by the whole run (measured: a lookup per pass and
        the tuple built from them were most of what recording hooks added to an uncached trace)."""
        runs = self._hook_runs
        if len(runs) >= CACHE_LIMIT:
            runs.clear()
        hooks = runs[passed] = tuple(map(self._hook, passed))
        return hooks

    def _hook(self, passed: HookPass) -> Hook:
        """The public record of a hook pass, one object per distinct pass."""
        hook = self._hooks.get(passed)
        if hook is None:
            if len(self._hooks) >= CACHE_LIMIT:
                self._hooks.clear()
            hook = self._hooks[passed] = Hook(*passed)
        return hook

    @staticmethod
    def _path(rules: list[CompiledRule]) -> tuple[PathStep, ...]:
        """The rules' steps by a C-level map (compiling gave every rule its step)."""
        return tuple(map(_STEP_OF, rules))

    def _uncertain(self, ends: list[End]) -> tuple[Uncertainty, ...]:
        seen: dict[tuple[int, str], Uncertainty] = {}
        for branch, _ in ends:
            for rule, reason in branch.doubts:
                key = (id(rule), reason)
                if key not in seen:
                    seen[key] = Uncertainty(rule.line or None, rule.text(), reason)
        return tuple(seen.values())


class _LowestTerms:
    """A rational whose terms are known coprime (``den > 0``), as :class:`numbers.Rational` promises a rational's
    terms are: ``Fraction(_LowestTerms(num, den))``, Fraction's public conversion from a Rational, takes them as
    they are, without the gcd that ``Fraction(num, den)`` takes of two numbers of tens of thousands of bits.

    Why a registration (process-wide, and it lets a class that implements none of Rational's arithmetic pass
    ``isinstance(x, numbers.Rational)``) rather than the alternatives: Fraction's own constructors that skip
    the gcd are private (``_normalize=False`` up to Python 3.11, ``_from_coprime_ints`` from 3.12), a true
    subclass of the ABC would have to define its twenty-odd arithmetic methods that nothing calls, and the
    gcd itself is what this avoids. The registration's reach is this module: an instance lives only inside
    :func:`_coprime`, which drops it once Fraction has read its two terms, so no other code meets one."""

    __slots__ = ("denominator", "numerator")

    def __init__(self, numerator: int, denominator: int) -> None:
        self.numerator = numerator
        self.denominator = denominator


numbers.Rational.register(_LowestTerms)


def _coprime(num: int, den: int) -> Fraction:
    """``Fraction(num, den)`` for terms already in lowest terms (``den > 0``), without Fraction's gcd."""
    return Fraction(_LowestTerms(num, den))  # type: ignore[call-overload]  # registered, not a subclass


FRACTION_GCD_BITS = 192
"""Up to this size of terms Fraction's own gcd is cheaper than shifting (a service of up to about seven endpoints)."""
SMALL_ODD_BITS = 64
"""An odd factor of a denominator up to this size is cheap to take a gcd with (one pass over the numerator)."""


def exact_fraction(num: int, den: int) -> Fraction:
    """``Fraction(num, den)`` (``den > 0``) in lowest terms, cheaply for the denominators shares have.

    Every share is a product of 31-bit statistic splits, so its denominator is a power of two (times a
    small odd number once dist weighs entries, 1/3 for three nodes). At 2,000 endpoints the terms have
    60,000 bits, and Fraction's gcd of two such numbers costs milliseconds (quadratic), where shifting
    out their common factors of 2 is linear; what may remain in common is in the small odd factor, a gcd
    with a small number. A denominator with a large odd factor (an nth split, a user's own) falls back
    to Fraction's gcd: there the shift proves nothing.
    """
    if den.bit_length() <= FRACTION_GCD_BITS and num.bit_length() <= FRACTION_GCD_BITS:
        return Fraction(num, den)  # a gcd of a few machine words costs less than the shifts
    if not num:
        return Fraction(0)
    twos = min((num & -num).bit_length(), (den & -den).bit_length()) - 1
    num, den = num >> twos, den >> twos
    odd = den >> ((den & -den).bit_length() - 1)
    if odd == 1:  # a power of two: num is odd now (or den is 1), so they are coprime
        return _coprime(num, den)
    if odd.bit_length() > SMALL_ODD_BITS:
        return Fraction(num, den)
    common = gcd(num, odd)  # num odd or den odd: every common factor divides the odd part
    return _coprime(num // common, den // common)


def _totals(ends: list[End]) -> dict[tuple[str, str | None, bool], list]:
    """(num, den, first path, its hooks) per (verdict, destination, masquerade), in the order the ends came.

    Shares are summed as plain integer fractions and normalised once per outcome: a
    Fraction per branch (gcd and all) cost more than the rest of the merge.
    """
    totals: dict[tuple[str, str | None, bool], list] = {}
    for branch, verdict in ends:
        key = end_of(branch, verdict)
        total = totals.get(key)
        if total is None:
            totals[key] = [branch.num, branch.den, branch.path, branch.hooks]  # (hooks: a tuple, a cache key)
        elif total[1] == branch.den:
            total[0] += branch.num
        else:
            total[0] = total[0] * branch.den + branch.num * total[1]
            total[1] *= branch.den
    return totals


def trace(rules: Ruleset | CompiledRuleset, packet: Packet, node: NodeContext) -> TraceResult:
    """Trace one packet (compiles the rules; use :class:`Tracer` for many packets)."""
    return Tracer(rules, node).trace(packet)


# --------------------------------------------------------------------------- text for a person


EXACT_TEXT_DIGITS = 100
"""A person is shown a fraction in full up to a denominator of this many digits (a split over about ten
endpoints); beyond, its form (:func:`exact_text`): its thousands of digits are for -o json."""
_EXACT_TEXT_LIMIT = 10 ** EXACT_TEXT_DIGITS


def exact_text(share: Fraction) -> str:
    """A share's exact fraction as a person reads it: ``1/3``; of a denominator of more than
    :data:`EXACT_TEXT_DIGITS` digits, ``n/2^6200 exactly, n in -o json`` (``n/(3*2^6200)`` with a small odd
    factor; ``n/d``, d of about N digits, with a large one). Writing out 18,000 digits per outcome (a service of
    2,000 endpoints) is slow (quadratic) as well as unreadable; -o json has every digit."""
    den = share.denominator
    if den < _EXACT_TEXT_LIMIT:
        return str(share)
    twos = (den & -den).bit_length() - 1
    odd = den >> twos
    if odd == 1:
        return f"n/2^{twos} exactly, n in -o json"
    if odd < _EXACT_TEXT_LIMIT:
        return f"n/({odd}*2^{twos}) exactly, n in -o json"
    return f"n/d exactly, d of about {round(den.bit_length() * 0.30103):,} digits, both in -o json"


def percent(share: Fraction) -> str:
    """A share as a person reads it: ``33.3333% (1/3)``; a long fraction in short (:func:`exact_text`)."""
    text = f"{float(share) * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}% ({exact_text(share)})"


def step_where(step: PathStep) -> str:
    """Where a path step's rule is: ``line N``; for one not read from a dump, ``policy`` (a chain's declaration:
    its policy decided) or ``added``."""
    return f"line {step.line}" if step.line else ("policy" if step.rule.startswith(":") else "added")


def _tree(path: tuple[PathStep, ...]) -> list[str]:
    """The path as an indented tree: a chain's rules under the rule that jumped to it."""
    lines: list[str] = []
    stack: list[tuple[str, str]] = []
    for step in path:
        if not step.table:  # a routing decision that ended the packet: no chain holds it
            stack = []
            lines.append(f"  {step.rule}")
            continue
        here = (step.table, step.chain)
        if here in stack:
            del stack[stack.index(here) + 1:]
        else:
            if step.chain in BUILTIN_CHAINS.get(step.table, ()):
                stack = []
            stack.append(here)
            label = f"{step.table} {step.chain}" if len(stack) == 1 else step.chain
            lines.append("  " * len(stack) + label)
        lines.append("  " * (len(stack) + 1) + f"{step_where(step)}: {printable(step.rule)}")
    return lines


PASSED = "no rule matched; policy ACCEPT"
"""What a text says of built-in chains a packet went through with nothing matching (one line for a run of them)."""
LEFT_BY_POLICY = " (no rule decided; policy ACCEPT)"
"""What a text adds to the header of a built-in chain whose rules matched but let the packet fall to its policy."""


def path_sections(outcome: Outcome) -> list[tuple[str, tuple[PathStep, ...]]]:
    """The outcome's path cut at the hooks it passed, for a text: ``(line, ())`` for a run of built-in chains
    passed with nothing matching (``raw PREROUTING, mangle PREROUTING: ...``), ``(suffix, steps)`` for one whose
    rules matched (``suffix``, for its header: :data:`LEFT_BY_POLICY` when its ACCEPT policy let it through),
    and the steps after the last hook (a routing decision that dropped the packet) with no suffix. An outcome
    without hooks (built by hand) is its whole path."""
    if not outcome.hooks:
        return [("", outcome.path)] if outcome.path else []
    sections: list[tuple[str, tuple[PathStep, ...]]] = []
    passed: list[str] = []
    at = 0
    for hook in outcome.hooks:
        if not hook.steps:
            passed.append(f"{hook.table} {hook.chain}")
            continue
        if passed:
            sections.append((f"{', '.join(passed)}: {PASSED}", ()))
            passed = []
        suffix = LEFT_BY_POLICY if hook.policy and hook.verdict == "ACCEPT" else ""
        sections.append((suffix, outcome.path[at:at + hook.steps]))
        at += hook.steps
    if passed:
        sections.append((f"{', '.join(passed)}: {PASSED}", ()))
    if at < len(outcome.path):
        sections.append(("", outcome.path[at:]))
    return sections


def source_kept(result: TraceResult, outcome: Outcome) -> str | None:
    """For an outcome that lets the packet on with its source as it came (no SNAT or MASQUERADE reached), the
    line that says so: users ask whether the client's address is kept (externalTrafficPolicy Local, a pod's
    packet to another pod). None for a masqueraded, dropped or rejected one, and for a reply (conntrack's
    reverse translation, not known, may rewrite it)."""
    if outcome.masquerade or outcome.verdict not in ("ACCEPT", "DNAT") or result.packet.reply:
        return None
    return f"not masqueraded: the source stays {result.packet.src_text}"


def _sections_tree(outcome: Outcome) -> list[str]:
    """The outcome's path as :func:`_tree` draws it, hook by hook, with the hooks passed without a rule."""
    lines: list[str] = []
    for text, steps in path_sections(outcome):
        if not steps:
            lines.append(f"  {text}")
            continue
        tree = _tree(steps)
        tree[0] += text
        lines.extend(tree)
    return lines


def state_note(packet: Packet) -> list[str]:
    """The header's second line for a packet that is not NEW: whether nat rules are on its path, and why."""
    if packet.ctstate is CtState.NEW:
        return []
    if packet.reply:
        return [f"a reply ({packet.ctstate}, conntrack direction REPLY): nat rules are not read; conntrack undoes "
                "the connection's translation, which is not known here (see Uncertain)"]
    if packet.ctstate is CtState.ESTABLISHED:
        return ["a later packet of its connection: nat rules are read only for the first packet, whose translation "
                "it keeps (--ctstate NEW shows how that was chosen)"]
    if packet.ctstate is CtState.RELATED and packet.proto in ICMP_PROTOS:
        return ["RELATED ICMP: an error about a tracked connection, translated from that connection's NAT (not known "
                "here); nat rules are not read"]
    if packet.ctstate is CtState.RELATED:
        return ["RELATED: the first packet of a connection a conntrack helper expected; nat rules are read as for a "
                "NEW one (see Uncertain)"]
    return [f"{packet.ctstate}: nat rules are read only for a connection's first packet; none is walked"]



def packet_head(p: Packet) -> str:
    """The packet in a line: ``tcp 10.0.0.1 -> 10.96.0.10:80``, an ICMP one with its type and code
    (``icmp 10.0.0.1 -> 10.0.0.2 type 8/0``)."""
    head = f"{p.proto} {p.src_text} -> {p.dst_endpoint}"
    return head if p.icmp_type is None else f"{head} type {p.icmp_text}"


def origin_words(result: TraceResult) -> str:
    """Where the packet enters the tables, for a text's header: not "from elsewhere", since a pod of the traced
    node sends through an interface too (its veth), and u1 read that as another node's."""
    return "generated on the node" if result.origin == "local" else "arrives on an interface: PREROUTING"


def render_text(result: TraceResult) -> str:
    """A person's view: each outcome with its probability and the chains it went through."""
    p = result.packet
    out = [f"{packet_head(p)} ({origin_words(result)})", *state_note(p), ""]
    for o in result.outcomes:
        head = f"DNAT to {o.destination}" if o.verdict == "DNAT" else o.verdict
        if o.masquerade:
            head += ", masqueraded"
        out.append(f"{head}: {percent(o.probability_exact)}")
        note = no_connection_note(o)
        if note:
            out.append(f"  ({note})")
        kept = source_kept(result, o)
        if kept:
            out.append(f"  {kept}")
        out.extend(_sections_tree(o))
        out.append("")
    if result.uncertain:
        out.append("Uncertain (the answer depends on these):")
        for u in result.uncertain:
            where = f"line {u.line}" if u.line else "rule"
            out.append(f"  {where}: {printable(u.rule)}")
            out.append(f"    {u.reason}")
    return "\n".join(out).rstrip() + "\n"
