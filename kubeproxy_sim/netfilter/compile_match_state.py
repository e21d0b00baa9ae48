"""Match compilers for what the packet does not carry: conntrack, marks, lists, the node and chance.

conntrack/state, mark/connmark, recent, set (ipset), addrtype and pkttype (the
node's addresses), physdev (the bridge port), statistic (a probability split,
not a check) and limit (a token bucket, assumed to match), plus comment and
nfacct, which never change the answer. Most of their checks ask the
evaluator's environment (``b.env``) rather than the packet's fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kubeproxy_sim.netfilter.compile_match_packet import address_check, ports_check, protocol_check
from kubeproxy_sim.netfilter.compile_types import Check, Doubt, RuleParts, reading
from kubeproxy_sim.netfilter.model import Option
from kubeproxy_sim.netfilter.packet import parse_address

TWO_31 = 1 << 31


def parse_mark(text: str) -> tuple[int, int]:
    """``VALUE[/MASK]`` (hex or decimal) as the mark match and MARK target read it."""
    value, _, mask = text.partition("/")
    return int(value, 0), int(mask, 0) if mask else 0xFFFFFFFF


def _mark(parts: RuleParts, attr: str, opts: Sequence[Option]) -> None:
    for o in opts:
        value, mask = parse_mark(o.value)
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


def _statistic(parts: RuleParts, opts: Sequence[Option]) -> None:
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


def _recent(parts: RuleParts, opts: Sequence[Option]) -> None:
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


def _ctstate_check(states: frozenset[str], negated: bool) -> Check:
    def check(b: object) -> object:
        hit = (b.ctstate in states or ("DNAT" in states and b.dnat)  # type: ignore[attr-defined]
               or ("SNAT" in states and b.snat))  # type: ignore[attr-defined]
        return hit != negated

    return reading(check, "ctstate", "dnat", "snat")


def _conntrack(parts: RuleParts, opts: Sequence[Option]) -> None:
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
            parts.checks.append(address_check(attr, o.flag, o.value, neg, parts.family))
        elif o.flag in ("--ctorigdstport", "--ctorigsrcport"):
            attr = "orig_dport" if o.flag == "--ctorigdstport" else "orig_sport"
            parts.checks.append(ports_check(attr, o.value, neg))
        elif o.flag == "--ctproto":
            parts.checks.append(protocol_check(o.value, neg))
        elif o.flag == "--ctdir":
            original = o.value.upper() == "ORIGINAL"  # every packet traced is in the original direction
            parts.checks.append(reading(lambda b, hit=original != neg: hit))  # type: ignore[misc]  # mypy#15459
        else:
            parts.doubts.append(f"conntrack {o.flag} is not modelled; assumed to match")


def _set(parts: RuleParts, opts: Sequence[Option]) -> None:
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


def _physdev(parts: RuleParts, opts: Sequence[Option]) -> None:
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
    "limit": _limit,
    "pkttype": _pkttype,
}
