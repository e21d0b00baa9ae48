"""Match compilers for what the packet does not carry: conntrack, marks, lists, the node and chance.

conntrack/state, mark/connmark, recent, set (ipset), addrtype and pkttype (the
node's addresses), physdev (the bridge port), rpfilter (the node's routes),
statistic (a probability split, not a check) and limit (a token bucket, assumed
to match), plus comment and nfacct, which never change the answer. Most of
their checks ask the evaluator's environment (``b.env``) rather than the
packet's fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.compile_match_packet import NEVER, address_check, ports_check, protocol_check
from kubeproxy_sim.netfilter.compile_types import Check, Doubt, RuleParts, reading
from kubeproxy_sim.netfilter.model import Option
from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.objects.values import value_class

TWO_31 = 1 << 31


def parse_mark(text: str, flag: str = "") -> tuple[int, int]:
    """``VALUE[/MASK]`` as the mark match and MARK target read it (each as :func:`uint32_value`); ``flag``: the
    option it is the value of, for the message when iptables would refuse it."""
    value, slash, mask = text.partition("/")
    what = "a mark: VALUE[/MASK], numbers in 0-4294967295 (0x.. hex, 0.. octal)"
    return (uint32_value(value, flag, text, what),
            uint32_value(mask, flag, text, what) if slash else 0xFFFFFFFF)


def uint32_value(text: str, flag: str, whole: str | None = None, what: str = "") -> int:
    """An unsigned 32-bit option value as iptables reads it (strtoul, base 0: 0x.. hex, 0.. octal); a ValueError
    in the user's words when iptables refuses it (the rule cannot be compiled, and says so), not Python's.
    ``whole``: the option's whole value, when ``text`` is a part of it; ``what``: what iptables expects there."""
    from kubeproxy_sim.netfilter.saveform import c_uint

    value = c_uint(text)
    if value is None or value > 0xFFFFFFFF or text != text.strip():
        named = f"{flag} {whole or text}" if flag else repr(whole or text)
        raise ValueError(f"{named} is not {what or 'a number in 0-4294967295 (0x.. hex, 0.. octal)'}; "
                         "iptables refuses it")
    return value


def _mark(parts: RuleParts, attr: str, opts: Sequence[Option]) -> None:
    for o in opts:
        value, mask = parse_mark(o.value, o.flag)
        neg = o.negated
        parts.checks.append(reading(
            lambda b, v=value, m=mask, n=neg: ((getattr(b, attr) & m) == v) != n,  # type: ignore[misc]  # mypy#15459
            attr))


def _addrtype(parts: RuleParts, opts: Sequence[Option]) -> None:
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
            if b.family == 6:  # type: ignore[attr-defined]
                return _addrtype6(b, getattr(b, attr), iface, wanted, neg)
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


def _addrtype6(b: object, value: int, iface: str | None, wanted: frozenset[str], neg: bool) -> object:
    """One IPv6 --src-type/--dst-type test (the node's answer: ``Env.addrtype6``), negated as asked."""
    hit = b.env.addrtype6(value, iface, wanted)  # type: ignore[attr-defined]
    if hit is None:
        return Doubt(f"addrtype --limit-iface: the addresses of interface {iface or '(unknown)'} are not known; "
                     "assumed to match", True)
    if isinstance(hit, Doubt):
        return Doubt(hit.reason, hit.assume != neg)
    certain = value == 1 or value >> 120 == 0xFF or b.env.is_local(value)  # type: ignore[attr-defined]
    if not certain and not b.env.addresses_known and wanted & {"LOCAL", "ANYCAST"}:  # type: ignore[attr-defined]
        return Doubt("addrtype: the node's own addresses are not known (give --node-ip); assumed not to be one "
                     "of them", hit != neg)
    return hit != neg


def _probability_threshold(text: str) -> int:
    """libxt_statistic: lround(2^31 * p), halves away from zero, p read as a C double; iptables refuses text that
    is no number, or a probability outside 0-1 (a ValueError here: the rule cannot be compiled, and says so)."""
    try:
        value = float.fromhex(text) if text.lower().lstrip("+-").startswith("0x") else float(text)  # strtod's hex
    except ValueError:
        value = math.nan  # (float()'s own words name Python, not the rule)
    # float() reads 0_5 as 5, skips blanks and reads any script's digits ('٠.٥'); strtod stops at each
    if "_" in text or text != text.strip() or not text.isascii():
        value = math.nan
    if not 0.0 <= value <= 1.0:
        problem = "not a number in 0-1" if math.isnan(value) else "not in 0-1"
        raise ValueError(f"--probability {text} is {problem}; iptables refuses it")
    scaled = value * TWO_31  # exact: scaling by a power of two
    whole = int(scaled)
    if scaled - whole >= 0.5:
        whole += 1
    return min(whole, TWO_31)


def _nth_every(text: str) -> int:
    """libxt_statistic's ``--every``: a uint32 of at least 1 (its option table has ``.min = 1``), so
    iptables-restore refuses 0 (a ValueError here, as for a probability outside 0-1)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 0xFFFFFFFF:
        raise ValueError(f"--every {text} is not in 1-4294967295; iptables refuses it")
    return int(text)


def _nth_packet(text: str, every: int) -> int:
    """libxt_statistic's ``--packet``: 0 to ``every - 1`` (iptables refuses any other)."""
    if not (text.isascii() and text.isdigit()) or int(text) >= every:
        raise ValueError(f"--packet {text} is not in 0-{every - 1}; iptables refuses it")
    return int(text)


def _nth_check(every: int, packet: int, negated: bool) -> Check:
    """A sampled walk's nth counter, advanced where the kernel advances it: whenever a walk reaches this match
    (the rule's earlier matches passed), whatever its later matches say (xt_statistic counts evaluations of
    the match, not matches of the rule). Packets ``packet``, ``packet + every``, ... of those evaluations
    match: libxt_statistic starts the counter at ``(every - 1) - packet`` and the kernel matches when it
    wraps. A traced walk (no sampler) passes here; the rule's split carries the probability."""

    def check(b: object) -> bool:
        sampler = b.env.sampler  # type: ignore[attr-defined]
        return True if sampler is None else sampler.nth(id(check), every, packet) != negated

    return reading(check)


def _statistic(parts: RuleParts, opts: Sequence[Option]) -> None:
    """random: the kernel matches when (random & 0x7fffffff) < threshold; nth: one packet in ``every``."""
    values = {o.flag: o.value for o in opts}
    negated = any(o.negated for o in opts)
    mode = values.get("--mode", "random")
    if mode == "random":
        threshold = _probability_threshold(values.get("--probability", "0"))
        num, den = (TWO_31 - threshold if negated else threshold), TWO_31
    elif mode == "nth":
        every = _nth_every(values.get("--every", "1"))
        num, den = (every - 1 if negated else 1), every
        parts.checks.append(_nth_check(every, _nth_packet(values.get("--packet", "0"), every), negated))
        parts.doubts.append(f"statistic --mode nth --every {every}: one packet in {every} matches; "
                            "which one depends on the counter, shown as a probability")
    else:
        parts.doubts.append(f"statistic --mode {mode} is not known; assumed to match")
        return
    if num == 0:
        parts.checks.append(NEVER)
    elif num != den:
        parts.split, parts.split_mode = (num, den), mode


@value_class
class RecentMatch:
    """One ``-m recent`` as the kernel gets it: the list (``name``, the address ``mask`` it creates the list with),
    the command, which address it reads (``attr``), the window and the hit count, and its modifiers."""

    name: str
    command: str
    attr: str
    mask: int
    seconds: int
    hitcount: int
    negated: bool
    reap: bool


def recent_match(opts: Sequence[Option], family: int) -> RecentMatch:
    """A recent match's options read; raises ValueError for a value iptables refuses. Compiling a rule and
    declaring the lists of a chain not compiled yet (evaluate) both read them here, so they agree."""
    values = {o.flag: o.value for o in opts}
    command = next((f for f in ("--set", "--rcheck", "--update", "--remove") if f in values), "--set")
    sides = [o.flag for o in opts if o.flag in ("--rsource", "--rdest")]
    mask_text = values.get("--mask")
    return RecentMatch(
        values.get("--name", "DEFAULT"), command,
        "dst" if sides and sides[-1] == "--rdest" else "src",  # (the last one given wins, as libxt_recent reads)
        -1 if mask_text is None else _recent_mask(mask_text, family),
        uint32_value(values["--seconds"], "--seconds") if "--seconds" in values else 0,
        uint32_value(values["--hitcount"], "--hitcount") if "--hitcount" in values else 0,
        any(o.negated for o in opts), "--reap" in values)


def _recent(parts: RuleParts, opts: Sequence[Option]) -> None:
    """recent: --rcheck/--update match when the list holds the address (within --seconds/--hitcount)."""
    match = recent_match(opts, parts.family)
    name, command, attr, mask = match.name, match.command, match.attr, match.mask
    seconds, hitcount, negated, reap = match.seconds, match.hitcount, match.negated, match.reap  # (the check's)
    parts.recent = (name, command, mask, hitcount)
    if any(o.flag == "--rttl" for o in opts):
        parts.doubts.append("recent --rttl is not modelled; assumed to match")
    # the client's history is not known (a dump, or any node but a fresh one): not holding it is assumed
    unknown = Doubt(f"recent list {name} is not known; assumed not to hold the client (give --affinity {name} "
                    "if it does)", negated)

    def check(b: object) -> object:
        hit = b.env.recent(command, name, getattr(b, attr), mask, seconds, hitcount, negated, reap)  # type: ignore[attr-defined]
        return unknown if hit is None else hit

    # traced, a list holds the client or not by its name alone (Env.recent); only sampling reads the address
    parts.checks.append(reading(check, attr, source=("none",) if attr == "src" else None))


def _recent_mask(text: str, family: int) -> int:
    """recent's ``--mask`` as the rule's family reads it: IPv4's in any form inet_aton takes (``16``: 0.0.0.16, as
    saveform prints it), IPv6's only as an IPv6 address (ip6tables-restore 1.8.9 refuses ``16``: "getaddrinfo:
    Address family for hostname not supported"). Raises ValueError for another (the rule is not evaluated)."""
    found, mask = parse_address((syntax.recent_mask(text) or text) if family == 4 else text)
    if found != family:
        raise ValueError(f"recent --mask {text!r} is not an IPv{family} mask")
    return mask


def _ctstate_check(states: frozenset[str], negated: bool) -> Check:
    def check(b: object) -> object:
        hit = (b.ctstate in states or ("DNAT" in states and b.dnat)  # type: ignore[attr-defined]
               or ("SNAT" in states and b.snat))  # type: ignore[attr-defined]
        return hit != negated

    return reading(check, "ctstate", "dnat", "snat")


def _ctstatus_check(value: str, negated: bool) -> Check:
    """--ctstatus: the kernel tests the connection's status bits alone (NONE, no bit, never matches).

    Whether an ESTABLISHED connection is ASSURED is known only for a TCP packet in the original direction
    (the handshake's last ACK set it); for a reply (the SYN-ACK comes before it) or a UDP or SCTP flow (assured
    after some exchange) a bit not listed (:attr:`Packet.ctstatus`) may be set: assumed set, and said so.
    """
    wanted = frozenset(s.upper() for s in value.split(","))
    unknown = Doubt(f"conntrack {'! ' if negated else ''}--ctstatus {value}: whether the connection is ASSURED "
                    "hangs on its history (a reply may be the SYN-ACK, a UDP or SCTP flow is assured after some "
                    "exchange); assumed ASSURED", not negated)

    def check(b: object) -> object:
        status = b.ctstatus  # type: ignore[attr-defined]
        if wanted & status:
            return not negated
        if ("ASSURED" in wanted and b.ctstate == "ESTABLISHED"  # type: ignore[attr-defined]
                and (b.reply or b.proto != "tcp")):  # type: ignore[attr-defined]
            return unknown
        return negated

    return reading(check, "ctstatus", "ctstate", "reply", "proto")


def _repl_dst_check(value: str, negated: bool, family: int) -> Check:
    """--ctrepldst: in the original direction, where replies go, the packet's source after source NAT.

    A later packet of a source-NATed connection (SNAT, MASQUERADE) still carries the client's address through
    the rules (conntrack rewrites it in POSTROUTING's nat hook), and the address its first packet was given is
    not known here: the test is uncertain, assumed not to match (the client's address is not the reply's)."""
    known = address_check("repl_dst", "--ctrepldst", value, negated, family)
    unknown = Doubt(f"conntrack {'! ' if negated else ''}--ctrepldst {value}: the connection's first packet was "
                    "source-NATed to an address not known here (the reply tuple's destination); assumed not in "
                    f"{value}, so the {'negated ' if negated else ''}test "
                    f"{'matches' if negated else 'does not match'}", negated)

    def check(b: object) -> object:
        if b.snat and not b.reply and b.ctstate == "ESTABLISHED":  # type: ignore[attr-defined]
            return unknown
        return known(b)

    return reading(check, "repl_dst", "snat", "reply", "ctstate", source=known.source)  # type: ignore[attr-defined]


def _conntrack(parts: RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        neg = o.negated
        if o.flag in ("--ctstate", "--state"):
            parts.checks.append(_ctstate_check(frozenset(s.upper() for s in o.value.split(",")), neg))
        elif o.flag == "--ctstatus":
            parts.checks.append(_ctstatus_check(o.value, neg))
        elif o.flag == "--ctrepldst":
            parts.checks.append(_repl_dst_check(o.value, neg, parts.family))
        elif o.flag in ("--ctorigdst", "--ctorigsrc", "--ctreplsrc"):
            attr = {"--ctorigdst": "orig_dst", "--ctorigsrc": "orig_src", "--ctreplsrc": "repl_src"}[o.flag]
            parts.checks.append(address_check(attr, o.flag, o.value, neg, parts.family))
        elif o.flag in ("--ctorigdstport", "--ctorigsrcport"):
            attr = "orig_dport" if o.flag == "--ctorigdstport" else "orig_sport"
            parts.checks.append(ports_check(attr, o.value, neg))
        elif o.flag == "--ctproto":
            parts.checks.append(protocol_check(o.value, neg, conntrack=True))
        elif o.flag == "--ctdir":
            reply = o.value.upper() == "REPLY"
            parts.checks.append(reading(
                lambda b, r=reply, n=neg: (b.reply == r) != n,  # type: ignore[misc]  # mypy#15459
                "reply"))
        else:
            parts.doubts.append(f"conntrack {o.flag} is not modelled; assumed to match")


def _set(parts: RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        if o.flag != "--match-set" or len(o.args) < 2:
            continue
        name, dims, neg = o.args[0], tuple(o.args[1].split(",")), o.negated
        # the test is assumed to match either way, so a negated one assumes the address is not in the set
        unknown = Doubt(f"ipset {name} is not known; assumed the address is {'not ' if neg else ''}in it, so the "
                        f"{'negated ' if neg else ''}test matches", True)

        def check(b: object, name: str = name, dims: tuple[str, ...] = dims, neg: bool = neg,
                  unknown: Doubt = unknown) -> object:
            hit = b.env.ipset_member(name, dims, b)  # type: ignore[attr-defined]
            if hit is None:
                return unknown
            return hit != neg

        parts.checks.append(reading(check, "src", "dst", "proto", "sport", "dport"))


PHYSDEV_OUT = frozenset({"--physdev-out", "--physdev-is-out", "--physdev-is-bridged"})


def _physdev(parts: RuleParts, opts: Sequence[Option]) -> None:
    """physdev, as xt_physdev decides it for a routed packet (the path the tracer follows).

    ``b.bridge_port`` is the port the packet came in through: a name (bridged in), ``""`` (not
    bridged) or None (not known). A packet that did not come in through a bridge carries no
    bridge information, and each option then matches only negated. One that did has its port
    in; routed, it has no port out (br_netfilter sets one only for a frame the bridge forwards
    itself), so --physdev-out does not match, negated or not, and --physdev-is-out and
    --physdev-is-bridged match only negated.

    What is not known is a :class:`Doubt`: with the port in not known, the packet is assumed not
    bridged; a bridged packet that may leave by the bridge it came in on (the output interface
    is that bridge, or not known) may be forwarded by the bridge through a port out the tracer
    does not know, and is assumed routed. A test whose answer is the same either way is certain.
    """
    for o in opts:
        neg, flag = o.negated, o.flag
        written = f"physdev {'! ' if neg else ''}{flag} {o.value}".rstrip()
        if flag in PHYSDEV_OUT:
            routed = False if flag == "--physdev-out" else neg  # a routed packet has no port out
            unknown = _unknown_port(written, neg)
            forwarded = Doubt(f"{written}: the packet came in through a bridge port and may leave by that bridge, "
                              "which would forward it through a port out that is not known; assumed routed, with "
                              "no port out", routed)

            def out_check(b: object, routed: bool = routed, neg: bool = neg, unknown: Doubt = unknown,
                          forwarded: Doubt = forwarded) -> object:
                port = b.bridge_port  # type: ignore[attr-defined]
                if port == "":
                    return neg
                into, out = b.in_iface, b.out_iface  # type: ignore[attr-defined]
                leaves_elsewhere = out is not None and into is not None and out != into
                if port is None:
                    return neg if leaves_elsewhere and routed == neg else unknown
                return routed if leaves_elsewhere else forwarded

            parts.checks.append(reading(out_check, "bridge_port", "in_iface", "out_iface"))
        elif flag in ("--physdev-in", "--physdev-is-in"):
            name = o.value if flag == "--physdev-in" else ""
            unknown = _unknown_port(written, neg)

            def check(b: object, name: str = name, neg: bool = neg, unknown: Doubt = unknown) -> object:
                port = b.bridge_port  # type: ignore[attr-defined]
                if port is None:
                    return unknown
                if not port:
                    return neg
                hit = not name or port == name or (name.endswith("+") and port.startswith(name[:-1]))
                return hit != neg

            parts.checks.append(reading(check, "bridge_port"))
        else:
            parts.doubts.append(f"physdev {flag} is not modelled; assumed to match")


def _unknown_port(written: str, assume: bool) -> Doubt:
    return Doubt(f"{written}: the bridge port the packet came in through is not known; assumed not bridged "
                 "(give --bridge-port)", assume)


def _rpfilter(parts: RuleParts, opts: Sequence[Option]) -> None:
    """rpfilter: the reverse-path test of xt_rpfilter (is the source routed back through the input interface?).

    The node's routes decide it when they hold the source (:meth:`Env.reverse_path`); when they
    do not, the packet is assumed to pass, as real traffic does (the rule exists to drop spoofed
    sources), so ``--invert`` does not match, and the doubt says so. --validmark only adds the
    packet's mark to the route lookup, which matters with policy routing by mark: not modelled
    (the routes are one table).
    """
    flags = {o.flag for o in opts}
    loose, accept_local, invert = "--loose" in flags, "--accept-local" in flags, "--invert" in flags
    written = " ".join(["rpfilter", *(o.flag for o in opts)])
    doubt = Doubt(f"{written}: the route back to the source is not known; assumed to pass the reverse-path "
                  f"check{' (so --invert does not match)' if invert else ''}", not invert)
    for o in opts:
        if o.flag not in ("--loose", "--validmark", "--accept-local", "--invert"):
            parts.doubts.append(f"rpfilter {o.flag} is not known; assumed to match")

    def check(b: object) -> object:
        passed = b.env.reverse_path(b.src, b.dst, b.in_iface, loose, accept_local)  # type: ignore[attr-defined]
        return doubt if passed is None else passed != invert

    # IPv4: the answer reads the source as the tracer's key already holds it (whether it is local, where it
    # is routed), but for 0.0.0.0, which reverse_path passes to a broadcast (zeronet: since Linux 5.3 the rest
    # of 0.0.0.0/8 is routed as any address): an exact test, so the key says so itself rather than by
    # tracekey's martian_source happening to keep 0.0.0.0. IPv6 also tells link-local and multicast sources
    # apart: the key then holds the address.
    source = ("net", 0, 0xFFFFFFFF) if parts.family == 4 else None
    parts.checks.append(reading(check, "src", "dst", "in_iface", source=source))


def _pkttype(parts: RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        wanted = o.value.upper()

        def check(b: object, wanted: str = wanted, neg: bool = o.negated) -> object:
            kind = b.env.address_type(b.family, b.dst, "")  # type: ignore[attr-defined]
            kind = kind if kind in ("BROADCAST", "MULTICAST") else "UNICAST"
            return (kind == wanted) != neg

        parts.checks.append(reading(check, "dst"))


def _comment(parts: RuleParts, opts: Sequence[Option]) -> None:
    """Comments and nfacct counters never change the answer."""


def _limit(parts: RuleParts, opts: Sequence[Option]) -> None:
    rate = next((o.value for o in opts if o.flag == "--limit"), "3/hour")
    parts.doubts.append(f"limit --limit {rate}: matches until its token bucket runs out; assumed to match")


STATE_MODULES: dict[str, Callable[[RuleParts, Sequence[Option]], None]] = {
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
    "rpfilter": _rpfilter,
    "limit": _limit,
    "pkttype": _pkttype,
}
