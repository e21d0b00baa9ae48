"""Short human forms of a rule's match and target, and the shares of a statistic split.

An edge label has to be read at a glance in a picture: ``10.96.0.10:53/udp``
rather than ``-d 10.96.0.10/32 -p udp -m udp --dport 53``. Comments and
counters (nfacct) say nothing about where a packet goes, so they are left to
the tooltip, which carries the whole rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from kubeproxy_sim.netfilter.model import Option, RuleSpec, Target

PORT_MODULES = ("tcp", "udp", "sctp", "dccp", "multiport")
SILENT_MODULES = frozenset({"comment", "nfacct"})
SERVICE_PORT = re.compile(r"^([^\s/]+)/([^\s/:]+)(?::(\S*))?$")
"""``ns/name``, ``ns/name:port``, and ``ns/name:`` (how kube-proxy wrote an unnamed port before 1.9 or so)."""


def _bang(option: Option) -> str:
    return "! " if option.negated else ""


def _address(value: str) -> str:
    """Host routes are written without their prefix, as kube-proxy writes them."""
    if value.endswith("/32") and ":" not in value:
        return value[:-3]
    if value.endswith("/128") and ":" in value:
        return value[:-4]
    return value


def _first(options: Sequence[Option], flag: str, module: str | None = None) -> Option | None:
    return next((o for o in options if o.flag == flag and (module is None or o.module == module)), None)


def _port_option(options: Sequence[Option], flags: tuple[str, ...]) -> Option | None:
    return next((o for o in options if o.flag in flags and o.module in PORT_MODULES), None)


def _destination(options: Sequence[Option]) -> list[str]:
    """``address:port/proto`` when the rule names both, which is how people think of a service."""
    dest = _first(options, "-d", "")
    proto = _first(options, "-p", "")
    port = _port_option(options, ("--dport", "--dports"))
    proto_text = proto.value if proto and not proto.negated else ""
    port_text = ""
    if port is not None:
        port_text = _bang(port) + port.value.replace(":", "-")
    parts: list[str] = []
    if dest is not None and not dest.negated and port is not None and not port.negated:
        host = _address(dest.value)
        host = f"[{host}]" if ":" in host else host
        parts.append(f"{host}:{port_text}" + (f"/{proto_text}" if proto_text else ""))
        return parts
    if dest is not None:
        parts.append(f"dst {_bang(dest)}{_address(dest.value)}")
    if port is not None:
        parts.append(f"port {port_text}" + (f"/{proto_text}" if proto_text else ""))
    elif proto is not None:
        parts.append(f"{_bang(proto)}{proto.value}")
    return parts


def _source(options: Sequence[Option]) -> list[str]:
    parts: list[str] = []
    src = _first(options, "-s", "")
    if src is not None:
        parts.append(f"src {_bang(src)}{_address(src.value)}")
    sport = _port_option(options, ("--sport", "--sports"))
    if sport is not None:
        parts.append(f"sport {_bang(sport)}{sport.value}")
    for flag, word in (("-i", "in"), ("-o", "out")):
        iface = _first(options, flag, "")
        if iface is not None:
            parts.append(f"{word} {_bang(iface)}{iface.value}")
    if _first(options, "-f", "") is not None:
        parts.append(f"{_bang(_first(options, '-f', ''))}fragment")  # type: ignore[arg-type]
    return parts


def _recent(options: Sequence[Option]) -> str:
    """Session affinity: the rcheck rule keeps a client on its endpoint, the set rule records it."""
    flags = {o.flag: o for o in options}
    if "--rcheck" in flags or "--update" in flags:
        seconds = flags.get("--seconds")
        return "recent: sticky" + (f" {seconds.value}s" if seconds else "")
    if "--set" in flags:
        return "recent: remember source"
    if "--remove" in flags:
        return "recent: forget source"
    return "recent: " + " ".join(_plain(o) for o in options)


def _statistic(options: Sequence[Option]) -> str:
    """Random splits are shown as shares (see :func:`chain_shares`); only nth mode needs words."""
    flags = {o.flag: o for o in options}
    mode = flags.get("--mode")
    if mode is not None and mode.value == "nth":
        every = flags.get("--every")
        packet = flags.get("--packet")
        return f"every {every.value if every else '?'} packets (#{packet.value if packet else '0'})"
    return ""


def _plain(option: Option) -> str:
    text = option.flag.lstrip("-")
    if option.args:
        text += " " + option.value
    return _bang(option) + text


def _mark(options: Sequence[Option]) -> str:
    return "; ".join(f"mark {_bang(o)}{o.value}" for o in options)


def _addrtype(options: Sequence[Option]) -> str:
    return ", ".join(f"{o.flag.lstrip('-')} {_bang(o)}{o.value}" for o in options)


def _conntrack(options: Sequence[Option]) -> str:
    return ", ".join(f"{o.flag.lstrip('-')} {_bang(o)}{o.value}" if o.args else _plain(o) for o in options)


MODULE_LABELS: dict[str, Callable[[Sequence[Option]], str]] = {
    "recent": _recent,
    "statistic": _statistic,
    "mark": _mark,
    "connmark": lambda opts: "conn" + _mark(opts),
    "addrtype": _addrtype,
    "conntrack": _conntrack,
    "state": _conntrack,
}


def _modules(spec: RuleSpec) -> list[str]:
    """The other matches, each in its own short form, in the order the rule loads them."""
    parts: list[str] = []
    for module in dict.fromkeys(spec.modules()):
        if module in SILENT_MODULES or module in PORT_MODULES:
            continue
        options = spec.module_options(module)
        render = MODULE_LABELS.get(module)
        text = render(options) if render else f"{module}: " + " ".join(_plain(o) for o in options)
        if text:
            parts.append(text.rstrip(": "))
    return parts


def match_label(spec: RuleSpec) -> str:
    """What a packet must look like to take this rule, in a few words ("" when it takes everything)."""
    return ", ".join([*_destination(spec.options), *_source(spec.options), *_modules(spec)])


def percent(share: Fraction) -> str:
    """A share as a percentage with one decimal, half up: 1/4 -> ``25.0%``, 1/16 -> ``6.3%``.

    kube-proxy writes probabilities with 10 decimals, so the shares of an even
    split differ from 1/n by ~1e-11; snapping to 1e-8 first keeps them all on
    the same side of a rounding boundary.
    """
    snapped = Fraction(round(share * 100 * 10**6), 10**6)
    value = (Decimal(snapped.numerator) / Decimal(snapped.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{value}%"


def comment(spec: RuleSpec) -> str | None:
    option = _first(spec.options, "--comment", "comment")
    return option.value if option is not None else None


def service_port_of(spec: RuleSpec) -> tuple[str, str, str | None] | None:
    """``(namespace, name, port name)`` when the rule's comment starts with a service port name."""
    text = comment(spec)
    if not text:
        return None
    match = SERVICE_PORT.match(text.split()[0])
    if match is None:
        return None
    return match.group(1), match.group(2), match.group(3) or None


def statistic_probability(spec: RuleSpec) -> Fraction | None:
    """The exact probability of a ``statistic --mode random`` match, None for any other rule."""
    options = spec.module_options("statistic")
    flags = {o.flag: o.value for o in options}
    if flags.get("--mode") != "random" or "--probability" not in flags:
        return None
    try:
        return Fraction(flags["--probability"])
    except (ValueError, ZeroDivisionError):
        return None


def chain_splits(specs: Sequence[RuleSpec], calls: Sequence[bool]) -> list[tuple[Fraction, Fraction] | None]:
    """For each rule of a statistic split, (its share of the chain's traffic, the share that reached it).

    Each random rule takes ``p`` of what the rules before it left; the first
    plain rule after a split takes the rest. Rules that jump to a chain that
    returns (``calls``) and affinity checks do not consume traffic: what a
    random rule sends into a returning chain comes back and goes on. A rule
    with a condition of its own (``-s``, a port...) inside a split takes an
    unknown part: the split's shares are not known past it (None).
    """
    splits: list[tuple[Fraction, Fraction] | None] = []
    remaining: Fraction | None = Fraction(1)
    open_split = False
    for spec, call in zip(specs, calls, strict=True):
        probability = statistic_probability(spec)
        if probability is not None:
            splits.append(None if remaining is None else (remaining * probability, remaining))
            if remaining is not None and not call:
                remaining *= 1 - probability
            open_split = True
        elif open_split and not call and "recent" not in spec.modules() and spec.target is not None:
            if _has_condition(spec):
                splits.append(None)
                remaining = None  # it takes what matches its condition: nobody can say how much
                continue
            splits.append(None if remaining is None else (remaining, remaining))
            remaining, open_split = Fraction(1), False
        else:
            splits.append(None)
    return splits


def _has_condition(spec: RuleSpec) -> bool:
    """Whether a rule matches on something of the packet (not only a comment or a counter)."""
    return any(o.flag != "-m" and o.module not in ("comment", "nfacct") for o in spec.options)


def chain_shares(specs: Sequence[RuleSpec], calls: Sequence[bool]) -> list[Fraction | None]:
    """The part of a chain's traffic each rule takes (None: not part of a split); see :func:`chain_splits`."""
    return [split[0] if split else None for split in chain_splits(specs, calls)]


def _target_option(target: Target, *flags: str) -> Option | None:
    return next((o for o in target.options if o.flag in flags), None)


MARK_WORDS = {"--or-mark": "or", "--xor-mark": "xor", "--and-mark": "and", "--set-mark": "set"}
MARK_BITS = 0xFFFFFFFF


def _xmark(value: str) -> str:
    """``--set-xmark V[/M]`` (``mark = (mark & ~M) ^ V``, M 0xffffffff when left out) by what it does, in the
    words ``iptables -L`` uses (libxt_MARK's ``mark_tg_print``) for and, or, xor and set: iptables-save writes
    every MARK rule this way, so a dump's ``--or-mark 0x4000`` reads ``--set-xmark 0x4000/0x4000`` and is
    labelled ``or 0x4000`` again. Any other V/M keeps iptables-save's own ``set-xmark V/M`` (``iptables -L``
    prints ``xset V/M``), as does a value that is not a mark."""
    mark_text, _, mask_text = value.partition("/")
    try:
        mark = int(mark_text, 0)
        mask = int(mask_text, 0) if mask_text else MARK_BITS
    except ValueError:
        return f"set-xmark {value}"
    if not (0 <= mark <= MARK_BITS and 0 <= mask <= MARK_BITS):
        return f"set-xmark {value}"
    if mark == 0:
        return f"and {(~mask & MARK_BITS):#x}"  # clears the mask's bits
    if mark == mask:
        return f"or {mark:#x}"  # sets them
    if mask == 0:
        return f"xor {mark:#x}"
    if mask == MARK_BITS:
        return f"set {mark:#x}"
    return f"set-xmark {mark:#x}/{mask:#x}"


def _mark_word(option: Option) -> str:
    if option.flag == "--set-xmark":
        return _xmark(option.value)
    return f"{MARK_WORDS.get(option.flag, option.flag.lstrip('-'))} {option.value}"


def verdict_label(target: Target) -> str:
    """The verdict as a person names it: ``DNAT 10.244.1.2:8080``, ``MARK or 0x4000``."""
    name = target.name
    if name == "DNAT":
        option = _target_option(target, "--to-destination", "--to")
        return f"DNAT {option.value}" if option else "DNAT"
    if name == "SNAT":
        option = _target_option(target, "--to-source", "--to")
        return f"SNAT {option.value}" if option else "SNAT"
    if name == "MARK":
        words = [_mark_word(o) for o in target.options]
        return " ".join(["MARK", *words])
    if name in ("MASQUERADE", "REJECT"):
        extras = [o.value if o.args else o.flag.lstrip("-") for o in target.options]
        return " ".join([name, *extras])
    if name in ("ACCEPT", "DROP", "RETURN"):
        return name
    return " ".join([name, *(_plain(o) for o in target.options)])
