"""How iptables-save prints a ruleset that iptables-restore loaded.

The kernel keeps rules in binary form; iptables-save prints them back from that
form, so the text changes on the way: hosts get a prefix length (``-d 10.0.0.1``
-> ``-d 10.0.0.1/32``), the built-in options come first in a fixed order
(``-s -d -i -o -p -f``), the protocol match that ``-p tcp --dport`` loads
implicitly is written out (``-m tcp``), every match prints its options in its
own order with its defaults filled in (``recent``'s ``--mask`` and
``--rsource``, ``REJECT``'s ``--reject-with``), numbers are printed the way its
``save`` function prints them (``MARK --or-mark 0x4000`` ->
``--set-xmark 0x4000/0x4000``; a probability is stored as a 31-bit fraction and
printed with 11 decimals), and built-in chains come first, user chains sorted.

:func:`save_lines` applies all of that to a :class:`Ruleset` and gives the lines
with iptables-save's quoting (``xtables_save_string``: quoted unless only
``[A-Za-z0-9_-]``), which is what the real tool prints, byte for byte
(:func:`render_saved` joins them: ``rules --full``). :func:`to_save_form` then
:func:`render_save` do the same rule by rule, the reference the tests hold it to.
Values the normaliser does not understand (host names, ``x.x.x.x``, modules it
does not model) are kept verbatim.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import accumulate
from operator import attrgetter, itemgetter
from typing import cast

import netaddr

from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.hostmask import (
    C_NUMBER,
    HostRefusal,
    address_text,
    c_number,
    c_value,
    read_conntrack_host,
    read_hosts,
    saved_host,
)
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Option, Rule, Ruleset, RuleSpec, Table, Target
from kubeproxy_sim.netfilter.natrange import read_nat_to, read_netmap_to
from kubeproxy_sim.netfilter.packet import is_dotted_quad
from kubeproxy_sim.netfilter.protocols import saved_protocol
from kubeproxy_sim.netfilter.syntax import HOLE, skeleton_spec, split_skeleton
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.netaddr_safe import NETADDR_ERRORS, drop_tracebacks, netaddr_address
from kubeproxy_sim.objects.values import value_class

FULL32 = 0xFFFFFFFF
BUILTIN_ORDER = ("-s", "-d", "-i", "-o", "-p", "-f")

MODULE_ALIASES = {"icmpv6": "icmp6", "ipv6-icmp": "icmp6"}

# ---------------------------------------------------------------------------
# Small value helpers
# ---------------------------------------------------------------------------


def c_uint(text: str) -> int | None:
    """An unsigned number as strtoul(base 0) reads it (0x.. hex, 0.. octal), or None."""
    t = text.strip().lower()
    try:
        if t.startswith("0x"):
            return int(t[2:], 16)
        if len(t) > 1 and t.startswith("0"):
            return int(t[1:], 8)
        return int(t, 10) if t.isdigit() else None
    except ValueError:
        return None


def _value_mask(text: str) -> tuple[int, int] | None:
    value, _, mask = text.partition("/")
    v = c_uint(value)
    m = c_uint(mask) if mask else FULL32
    return None if v is None or m is None else (v, m)


def probability_text(text: str) -> str:
    """``--probability`` as iptables-save prints it: the kernel keeps lround(p * 2^31)."""
    try:
        p = float(text)
    except ValueError:
        return text
    if not 0.0 <= p <= 1.0:
        return text
    x = p * 0x80000000
    whole = math.floor(x)
    stored = whole + (1 if x - whole >= 0.5 else 0)  # lround: halves away from zero
    return f"{stored / 0x80000000:.11f}"


def _prefix_of(mask: int, bits: int) -> int | None:
    inverted = ~mask & ((1 << bits) - 1)
    return bits - inverted.bit_length() if inverted & (inverted + 1) == 0 else None


def save_address(value: str, ipv6: bool, *, host_suffix: bool = True) -> str:
    """``ADDR[/MASK]`` as iptables prints it: network address, then ``/prefix`` (or a dotted mask).

    ``host_suffix=False`` drops a full-length mask, as the conntrack match prints its addresses.
    """
    addr, _, mask = value.partition("/")
    if not ipv6 and (not mask or mask == "32") and is_dotted_quad(addr):  # a host, as kube-proxy writes them
        return f"{addr}/32" if host_suffix else addr
    flags = netaddr.INET_PTON if not ipv6 else 0
    try:  # objects.netaddr_safe.netaddr_address inline (every IPv6 address of a dump comes here)
        ip = netaddr.IPAddress(addr, 6 if ipv6 else 4, flags=flags)
    except NETADDR_ERRORS as exc:
        drop_tracebacks(exc)  # netaddr's error is a cycle holding the callers' frames (x.x.x.x in a dump)
        return value
    bits = 128 if ipv6 else 32
    if not mask:
        prefix: int | None = bits
        mask_int = (1 << bits) - 1
    elif mask.isdigit() and int(mask) <= bits:
        prefix = int(mask)
        mask_int = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    else:
        mask_ip = netaddr_address(mask, 6 if ipv6 else 4, flags)
        if mask_ip is None:
            return value
        mask_int = int(mask_ip)
        prefix = _prefix_of(mask_int, bits)
    network = netaddr.IPAddress(int(ip) & mask_int, 6 if ipv6 else 4)
    if prefix is None:
        return f"{network}/{netaddr.IPAddress(mask_int, 6 if ipv6 else 4)}"
    if prefix == bits and not host_suffix:
        return str(network)
    return f"{network}/{prefix}"


def conntrack_address(value: str, ipv6: bool) -> str:
    """A conntrack match's ``--ctorigsrc`` etc. as iptables-legacy-save v1.8.9 prints it (unshare --net): the host
    as getaddrinfo reads it (``010.1.1.1`` 8.1.1.1, ``1.2.3`` 1.2.0.3, ``::ffff:1.2.3.4`` 1.2.3.4 in IPv4) and
    kept whole (``1.2.3.4/24`` stays: the match masks both sides as it compares), then ``/LENGTH`` read in C's
    bases (``/0x10`` /16) or from a mask, none for a full one or a mask that is no prefix (``/255.0.255.0``);
    as written what it cannot read (a name, an anonymised value)."""
    host, slash, mask = value.partition("/")
    if not ipv6 and (not slash or mask == "32") and is_dotted_quad(host):  # (the common form, as written)
        return host
    read = read_conntrack_host(value, ipv6)
    if read is None:
        return value
    bits, family = (128, 6) if ipv6 else (32, 4)
    prefix = _prefix_of(read[1], bits)
    text = address_text(family, read[0])
    return text if prefix in (None, bits) else f"{text}/{prefix}"


def _on_ip(value: str, ipv6: bool) -> str:
    """TPROXY's ``--on-ip``, which libxt_TPROXY reads as getaddrinfo does, as the conntrack match's host is read
    (v1.8.9 saves ``010.1.1.1`` as 8.1.1.1 and ``1.2.3`` as 1.2.0.3); the parser refuses a mask, as iptables does
    (:func:`~kubeproxy_sim.netfilter.syntax.tproxy_address_problem`)."""
    return conntrack_address(value, ipv6)


def _port_range(value: str, sep: str = ":") -> str | None:
    """``lo:hi`` normalised (``4:4`` -> ``4``, ``:4`` -> ``0:4``); None for the full range."""
    if sep in value:
        lo, _, hi = value.partition(sep)
        lo, hi = lo or "0", hi or "65535"
    else:
        lo = hi = value
    if not (lo.isdigit() and hi.isdigit()):
        return value
    low, high = int(lo), int(hi)
    if low == 0 and high == 65535:
        return None
    return str(low) if low == high else f"{low}{sep}{high}"


def _ordered_list(value: str, order: Sequence[str], *, upper: bool = True) -> str:
    """A comma list printed in the module's bit order; unknown words keep the value verbatim."""
    words = [w.upper() if upper else w for w in value.split(",")]
    if not all(w in order for w in words):
        return value
    return ",".join(w for w in order if w in words)


# ---------------------------------------------------------------------------
# Match modules: each returns the group's options in the module's save order
# ---------------------------------------------------------------------------

Options = list[Option]
Normaliser = Callable[[Options, bool], Options]


def _by_flag(options: Options) -> dict[str, Option]:
    return {o.flag: o for o in options}


def _with(option: Option, *args: str, flag: str | None = None, negated: bool | None = None) -> Option:
    return Option(flag or option.flag, tuple(args), option.negated if negated is None else negated,
                  option.module)


def _in_order(options: Options, order: tuple[str, ...]) -> Options:
    """Known flags in ``order``, then anything else as written (a stable sort on each flag's rank)."""
    if len(options) < 2:
        return list(options)
    return sorted(options, key=_ranks(order))


@functools.lru_cache(maxsize=64)
def _ranks(order: tuple[str, ...]) -> Callable[[Option], int]:
    """The sort key of :func:`_in_order`: a flag's place in ``order``, after all of them when not there."""
    rank: dict[str, int] = {}
    for i, flag in enumerate(order):
        rank.setdefault(flag, i)
    get, last = rank.get, len(order)
    return lambda option: get(option.flag, last)


def _ports_module(extra: Sequence[str]) -> Normaliser:
    def normalise(options: Options, ipv6: bool) -> Options:
        out: Options = []
        for o in _in_order(options, ("--sport", "--dport", *extra)):
            if o.flag in ("--sport", "--dport") and len(o.args) == 1:
                ports = _port_range(o.args[0])
                if ports is not None:
                    out.append(_with(o, ports))
            else:
                out.append(o)
        return out

    return normalise


TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")


def _tcp_flag_list(value: str) -> str:
    bits = 0
    for word in value.upper().split(","):
        if word == "ALL":
            bits |= 0x3F
        elif word in TCP_FLAGS:
            bits |= 1 << TCP_FLAGS.index(word)
        elif word != "NONE":
            return value
    return ",".join(f for i, f in enumerate(TCP_FLAGS) if bits & (1 << i)) or "NONE"


def _tcp(options: Options, ipv6: bool) -> Options:
    converted: Options = []
    for o in options:
        if o.flag == "--syn":
            converted.append(Option("--tcp-flags", ("FIN,SYN,RST,ACK", "SYN"), o.negated, o.module))
        elif o.flag == "--tcp-flags" and len(o.args) == 2:
            converted.append(_with(o, _tcp_flag_list(o.args[0]), _tcp_flag_list(o.args[1])))
        else:
            converted.append(o)
    return _ports_module(("--tcp-option", "--tcp-flags"))(converted, ipv6)


def _multiport(options: Options, ipv6: bool) -> Options:
    out: Options = []
    for o in options:
        if o.flag in ("--sports", "--dports", "--ports") and len(o.args) == 1:
            items = [_port_range(p) or "0:65535" for p in o.args[0].split(",")]
            out.append(_with(o, ",".join(items)))
        else:
            out.append(o)
    return out


def _comment(options: Options, ipv6: bool) -> Options:
    # The kernel keeps at most 255 bytes of a comment.
    return [_with(o, o.args[0].encode()[:255].decode(errors="ignore")) if o.flag == "--comment" and len(o.args) == 1
            else o for o in options]


def _mark_match(options: Options, ipv6: bool) -> Options:
    out: Options = []
    for o in options:
        pair = _value_mask(o.args[0]) if o.flag == "--mark" and len(o.args) == 1 else None
        if pair is None:
            out.append(o)
            continue
        value, mask = pair
        out.append(_with(o, f"{value:#x}" if mask == FULL32 else f"{value:#x}/{mask:#x}"))
    return out


ADDRTYPES = ("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
             "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE")


def _addrtype(options: Options, ipv6: bool) -> Options:
    out = [_with(o, _ordered_list(o.args[0], ADDRTYPES)) if o.flag in ("--src-type", "--dst-type")
           and len(o.args) == 1 else o for o in options]
    return _in_order(out, ("--src-type", "--dst-type", "--limit-iface-in", "--limit-iface-out"))


def _statistic(options: Options, ipv6: bool) -> Options:
    flags = _by_flag(options)
    mode = flags.get("--mode")
    negated = any(o.negated for o in options)
    if mode is None or mode.args not in (("random",), ("nth",)):
        return options
    head = Option("--mode", mode.args, False, mode.module)
    if mode.args == ("random",) and "--probability" in flags:
        p = flags["--probability"]
        return [head, Option("--probability", (probability_text(p.value),), negated, p.module)]
    if mode.args == ("nth",) and "--every" in flags:
        packet = flags.get("--packet")
        return [head, Option("--every", flags["--every"].args, negated, mode.module),
                Option("--packet", packet.args if packet is not None else ("0",), False, mode.module)]
    return options


def _recent(options: Options, ipv6: bool) -> Options:
    """libxt_recent's save: the numbers printed as C ints (``--seconds 4294967295`` as ``-1``), the name as the
    kernel holds it (cut: :func:`syntax.recent_value`)."""
    flags = _by_flag(options)
    module = options[0].module if options else "recent"
    negated = any(o.negated for o in options if o.flag in syntax.RECENT_COMMANDS)
    out = [Option(op, (), negated, module) for op in syntax.RECENT_COMMANDS if op in flags]
    for flag in ("--seconds", "--hitcount"):
        number = int(syntax.recent_value(syntax.RECENT_VALUE_KINDS[flag], flags[flag].value) or 0) \
            if flag in flags else 0
        if number:
            out.append(Option(flag, (str(number - (number >> 31 << 32)),), False, module))  # (printf "%d")
        if flag == "--seconds" and "--reap" in flags:
            out.append(Option("--reap", (), False, module))
    if "--rttl" in flags:
        out.append(Option("--rttl", (), False, module))
    name = syntax.recent_value("list-name", flags["--name"].value) if "--name" in flags else None
    out.append(Option("--name", (name or "DEFAULT",), False, module))
    mask = flags["--mask"].value if "--mask" in flags else ("ffff:" * 8)[:-1] if ipv6 else "255.255.255.255"
    mask_ip = netaddr_address(mask, 6) if ipv6 else None
    if mask_ip is not None:
        mask = str(mask_ip)
    elif not ipv6:
        mask = syntax.recent_mask(mask) or mask
    out.append(Option("--mask", (mask,), False, module))
    sides = [o.flag for o in options if o.flag in ("--rsource", "--rdest")]
    out.append(Option(sides[-1] if sides else "--rsource", (), False, module))  # the last one given wins
    return out


CT_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")
CT_STATUSES = ("NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED")
CONNTRACK_ORDER = ("--ctstate", "--ctproto", "--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst",
                   "--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport", "--ctstatus",
                   "--ctexpire", "--ctdir")


def _conntrack(options: Options, ipv6: bool) -> Options:
    out: Options = []
    for o in options:
        value = o.args[0] if len(o.args) == 1 else None
        if value is None:
            out.append(o)
        elif o.flag == "--ctstate":
            out.append(_with(o, _ordered_list(value, CT_STATES)))
        elif o.flag == "--ctstatus":
            out.append(_with(o, _ordered_list(value, CT_STATUSES)))
        elif o.flag == "--ctproto":
            number = syntax.protocol_number(value, fold=False)  # (printed as a number: TCP and 0x6 are 6)
            out.append(_with(o, value if number is None else str(number)))
        elif o.flag in ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"):
            out.append(_with(o, conntrack_address(value, ipv6)))
        elif o.flag.endswith("port"):
            out.append(_with(o, _port_range(value) or "0:65535"))
        elif o.flag == "--ctexpire":
            lo, _, hi = value.partition(":")
            out.append(_with(o, lo if hi in ("", lo) else value))
        else:
            out.append(o)
    return _in_order(out, CONNTRACK_ORDER)


STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED")


def _state(options: Options, ipv6: bool) -> Options:
    return [_with(o, _ordered_list(o.args[0], STATES)) if o.flag == "--state" and len(o.args) == 1 else o
            for o in options]


def _physdev(options: Options, ipv6: bool) -> Options:
    return _in_order(options, ("--physdev-is-in", "--physdev-in", "--physdev-is-out", "--physdev-out",
                               "--physdev-is-bridged"))


ICMP_TYPES = {
    "any": "any", "echo-reply": "0", "pong": "0", "destination-unreachable": "3",
    "network-unreachable": "3/0", "host-unreachable": "3/1", "protocol-unreachable": "3/2",
    "port-unreachable": "3/3", "fragmentation-needed": "3/4", "source-route-failed": "3/5",
    "network-unknown": "3/6", "host-unknown": "3/7", "network-prohibited": "3/9", "host-prohibited": "3/10",
    "TOS-network-unreachable": "3/11", "TOS-host-unreachable": "3/12", "communication-prohibited": "3/13",
    "host-precedence-violation": "3/14", "precedence-cutoff": "3/15", "source-quench": "4",
    "redirect": "5", "network-redirect": "5/0", "host-redirect": "5/1", "TOS-network-redirect": "5/2",
    "TOS-host-redirect": "5/3", "echo-request": "8", "ping": "8", "router-advertisement": "9",
    "router-solicitation": "10", "time-exceeded": "11", "ttl-exceeded": "11", "ttl-zero-during-transit": "11/0",
    "ttl-zero-during-reassembly": "11/1", "parameter-problem": "12", "ip-header-bad": "12/0",
    "required-option-missing": "12/1", "timestamp-request": "13", "timestamp-reply": "14",
    "address-mask-request": "17", "address-mask-reply": "18",
}
ICMPV6_TYPES = {
    "destination-unreachable": "1", "no-route": "1/0", "communication-prohibited": "1/1",
    "beyond-scope": "1/2", "address-unreachable": "1/3", "port-unreachable": "1/4",
    "failed-policy": "1/5", "reject-route": "1/6", "packet-too-big": "2", "time-exceeded": "3",
    "ttl-exceeded": "3", "ttl-zero-during-transit": "3/0", "ttl-zero-during-reassembly": "3/1",
    "parameter-problem": "4", "bad-header": "4/0", "unknown-header-type": "4/1", "unknown-option": "4/2",
    "echo-request": "128", "ping": "128", "echo-reply": "129", "pong": "129",
    "router-solicitation": "133", "router-advertisement": "134", "neighbour-solicitation": "135",
    "neighbor-solicitation": "135", "neighbour-advertisement": "136", "neighbor-advertisement": "136",
    "redirect": "137",
}


def read_icmp(text: str, ipv6: bool) -> tuple[int, int, int] | str:
    """(type, lowest code, highest code) of an ``--icmp-type``/``--icmpv6-type`` value as iptables 1.8.9's
    __parse_icmp reads it, or what it says refusing it (both restores v1.8.9, unshare --net, alike): a name of the
    family's table, any case, or a prefix of one alone (a prefix of two: "Ambiguous ICMP type `echo': `echo-reply'
    or `echo-request'?", the first two in the table's order; IPv6 has no ``any``), else ``TYPE[:TYPE][/CODE[:CODE]]``,
    each a number 0-255 as xtables_strtoui reads one (C's bases, a ``+``, blanks before it): "Unknown ICMP type
    `256'", "Unknown ICMP code `3/256'", "unknown character /" (``3/3/3``), and two types that differ "ICMP type
    range not supported" (``3:3`` is type 3, ``3/1:2`` codes 1 to 2). ICMPv6 for ICMP in IPv6's words."""
    kind = "ICMPv6" if ipv6 else "ICMP"
    folded = text.lower()
    names = [name for name in (ICMPV6_TYPES if ipv6 else ICMP_TYPES) if name.lower().startswith(folded)]
    if len(names) > 1:
        return f"Ambiguous {kind} type `{text}': `{names[0]}' or `{names[1]}'?"
    if names:
        written = (ICMPV6_TYPES if ipv6 else ICMP_TYPES)[names[0]]
        if written == "any":
            return 255, 0, 255
        type_, _, code = written.partition("/")
        return (int(type_), 0, 255) if not code else (int(type_), int(code), int(code))
    types, rest = _icmp_range(text)
    if types is None:
        return f"Unknown {kind} type `{text}'"
    codes = (0, 255)
    if rest[:1] == "/":
        read, rest = _icmp_range(rest[1:])
        if read is None:
            return f"Unknown {kind} code `{text}'"
        codes = read
    if rest:
        return f"unknown character {rest[0]}"
    if types[0] != types[1]:
        return f"{kind} type range not supported"
    return types[0], codes[0], codes[1]


def _icmp_range(text: str) -> tuple[tuple[int, int] | None, str]:
    """((first, last), the rest of ``text``) of a ``N[:N]`` that ``text`` starts with, each 0-255 (xt_icmp.h's
    parse_range); (None, text) when it starts with none."""
    first = C_NUMBER.match(text)
    if first is None or c_value(first) > 255:
        return None, text
    low = c_value(first)
    rest = text[first.end():]
    if rest[:1] != ":":
        return (low, low), rest
    last = C_NUMBER.match(rest, 1)
    if last is None or c_value(last) > 255:
        return None, text
    return (low, c_value(last)), rest[last.end():]


def icmp_type_refusal(text: str, ipv6: bool) -> str | None:
    """What iptables says refusing ``--icmp-type``/``--icmpv6-type`` ``text`` (:func:`read_icmp`); None when it
    takes it."""
    read = read_icmp(text, ipv6)
    return read if isinstance(read, str) else None


def icmp_type_saved(text: str, ipv6: bool) -> str:
    """An ``--icmp-type``/``--icmpv6-type`` value as libipt_icmp's and libip6t_icmp6's save print what their parse
    read (:func:`~kubeproxy_sim.netfilter.compile_match_packet.read_icmp_type`: a name in any case or an unambiguous
    prefix of one, numbers in C's bases): the type as a number, then ``/CODE`` with the range's first code alone
    unless the range is every code, 0:255; IPv4's type 255 as ``any``. So ``ECHO-REQ`` is saved ``8``,
    ``network-unr`` ``3/0``, ``3/3:5`` ``3/3``, ``8/0`` ``8/0``, ``255`` ``any``; in IPv6 ``No-Route`` ``1/0`` and
    ``255`` stays (iptables- and ip6tables-legacy-restore and -nft-restore v1.8.9, then -save, unshare --net: both
    alike, numbers only). A value iptables refuses (``echo``, a prefix of two names) stays as written."""
    read = read_icmp(text, ipv6)
    if isinstance(read, str):
        return text
    type_, low, high = read
    if type_ == 255 and not ipv6:
        return "any"
    return str(type_) if (low, high) == (0, 255) else f"{type_}/{low}"


def _icmp_module(flag: str) -> Normaliser:
    def normalise(options: Options, ipv6: bool) -> Options:
        return [_with(o, icmp_type_saved(o.args[0], ipv6)) if o.flag == flag and len(o.args) == 1 else o
                for o in options]

    return normalise


LIMIT_SCALE = 10000
LIMIT_UNITS = (("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1))


def _limit_period(rate: str) -> int | None:
    """``N/unit`` as the kernel stores it: the period between tokens, in 1/10000 s."""
    count, _, unit = rate.partition("/")
    if not count.isdigit() or int(count) == 0:
        return None
    unit = unit.lower() or "sec"
    for name, seconds in (("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)):
        if name.startswith(unit):
            return LIMIT_SCALE * seconds // int(count)
    return None


def _limit_rate(period: int) -> str:
    """The coarsest unit that still shows the rate as a whole number (libxt_limit's print_rate)."""
    chosen = 0
    for i in range(1, len(LIMIT_UNITS)):
        mult = LIMIT_UNITS[i][1] * LIMIT_SCALE
        if period > mult or mult // period < mult % period:
            break
        chosen = i
    name, seconds = LIMIT_UNITS[chosen]
    return f"{seconds * LIMIT_SCALE // period}/{name}"


def _limit(options: Options, ipv6: bool) -> Options:
    flags = _by_flag(options)
    module = options[0].module if options else "limit"
    period = _limit_period(flags["--limit"].value) if "--limit" in flags else LIMIT_SCALE * 3600 // 3
    if period is None or period == 0:
        return options
    out = [Option("--limit", (_limit_rate(period),), False, module)]
    burst = flags.get("--limit-burst")
    if burst is not None and c_uint(burst.value) not in (5, None):
        out.append(Option("--limit-burst", (str(c_uint(burst.value)),), False, module))
    return out


def _ipv6header(options: Options, ipv6: bool) -> Options:
    """``--header``'s names as ip6tables-save writes them, in its order (``syntax.IPV6_HEADERS_SAVED``: ``frag`` is
    saved ``ipv6-frag``), before ``--soft``; a list iptables refuses (read unchecked) stays as written."""
    out: Options = []
    for o in options:
        wanted = syntax.ipv6_headers(o.args[0]) if o.flag == "--header" and len(o.args) == 1 else None
        if wanted is None or isinstance(wanted, str):
            out.append(o)
            continue
        out.append(_with(o, ",".join(saved for header, saved in syntax.IPV6_HEADERS_SAVED.items()
                                     if header in wanted)))
    return _in_order(out, ("--header", "--soft"))


def _mh(options: Options, ipv6: bool) -> Options:
    """``--mh-type`` as ip6tables-save writes it (libip6t_mh's mh_save): numbers, one when the range is one type,
    nothing (and no "!") for every type, 0:255; a value iptables refuses (read unchecked) stays as written."""
    out: Options = []
    for o in options:
        read = syntax.mh_type_range(o.args[0]) if o.flag == "--mh-type" and len(o.args) == 1 else None
        if read is None or isinstance(read, str):
            out.append(o)
        elif read != (0, 255):
            out.append(_with(o, str(read[0]) if read[0] == read[1] else f"{read[0]}:{read[1]}"))
    return out


DEVGROUP_NAMES = syntax.DEVGROUP_NAMES


def _tos(options: Options, ipv6: bool) -> Options:
    """tos as libxt_tos saves it: ``--tos 0xVV/0xMM`` (``0x10`` is 0x10/0xff, ``Minimize-Delay`` 0x10/0x3f)."""
    out = []
    for o in options:
        read = syntax.tos_value_mask(o.args[0]) if o.flag == "--tos" and len(o.args) == 1 else None
        out.append(o if read is None else _with(o, f"0x{read[0]:02x}/0x{read[1]:02x}"))
    return out


def _dscp(options: Options, ipv6: bool) -> Options:
    """dscp as libxt_dscp saves it: ``--dscp 0xVV``, a class by its value (``--dscp-class EF`` is --dscp 0x2e)."""
    return _dscp_values(options, "--dscp")


def _dscp_values(options: Options, flag: str) -> Options:
    """Each DSCP value or class of the dscp match or the DSCP target as ``flag 0xVV`` (its save's one form)."""
    out = []
    for o in options:
        value = syntax.dscp_value(o.flag, o.args[0]) if len(o.args) == 1 else None
        out.append(o if value is None else _with(o, f"0x{value:02x}", flag=flag))
    return out


def _devgroup_value(text: str) -> str:
    """A device group ``VALUE[/MASK]`` as xtables_print_val_mask prints it: ``0xV/0xM``, without a full mask
    ``0xV`` or the group's name (:data:`DEVGROUP_NAMES`); as written what it cannot read (another name)."""
    if text in DEVGROUP_NAMES.values():
        return text
    value_text, slash, mask_text = text.partition("/")
    value, mask = c_number(value_text, FULL32), c_number(mask_text, FULL32) if slash else FULL32
    if value is None or mask is None:
        return text
    if mask != FULL32:
        return f"{value:#x}/{mask:#x}"
    return DEVGROUP_NAMES.get(value, f"{value:#x}")


def _devgroup(options: Options, ipv6: bool) -> Options:
    out = [_with(o, _devgroup_value(o.args[0])) if len(o.args) == 1 else o for o in options]
    return _in_order(out, ("--src-group", "--dst-group"))


def _iprange(options: Options, ipv6: bool) -> Options:
    """iprange as libxt_iprange 1.8.9 saves what it read (:func:`~kubeproxy_sim.netfilter.syntax.iprange_bounds`):
    ``--src-range`` then ``--dst-range``, each ``LOW-HIGH`` even for one address (``1.2.3.4`` is 1.2.3.4-1.2.3.4,
    ``1-2`` 1.0.0.0-2.0.0.0); as written what it cannot read."""
    family = 6 if ipv6 else 4
    out = []
    for o in options:
        read = syntax.iprange_bounds(o.args[0], ipv6) if len(o.args) == 1 else ""
        out.append(o if isinstance(read, str) else
                   _with(o, f"{address_text(family, read[0])}-{address_text(family, read[1])}"))
    return _in_order(out, ("--src-range", "--dst-range"))


def _cgroup(options: Options, ipv6: bool) -> Options:
    """cgroup as libxt_cgroup saves it: --path as the kernel holds it (cut: syntax.cgroup_path; printed by
    xtables_save_string: SAVE_STRING_OPTIONS), --cgroup in decimal (``0x10`` is 16: syntax.cgroup_classid)."""
    out = []
    for o in options:
        if o.flag == "--path" and len(o.args) == 1:
            path = syntax.cgroup_path(o.args[0])
            out.append(o if path == o.args[0] else _with(o, path))
            continue
        number = syntax.cgroup_classid(o.args[0]) if o.flag == "--cgroup" and len(o.args) == 1 else None
        out.append(_with(o, str(number)) if isinstance(number, int) else o)
    return out


MATCHES: dict[str, Normaliser] = {
    "limit": _limit,
    "tcp": _tcp,
    "udp": _ports_module(()),
    "sctp": _ports_module(("--chunk-types",)),
    "dccp": _ports_module(("--dccp-types", "--dccp-option")),
    "multiport": _multiport,
    "comment": _comment,
    "mark": _mark_match,
    "connmark": _mark_match,
    "addrtype": _addrtype,
    "statistic": _statistic,
    "recent": _recent,
    "conntrack": _conntrack,
    "state": _state,
    "physdev": _physdev,
    "icmp": _icmp_module("--icmp-type"),
    "icmp6": _icmp_module("--icmpv6-type"),
    "ipv6header": _ipv6header,
    "mh": _mh,
    "iprange": _iprange,
    "tos": _tos,
    "dscp": _dscp,
    "devgroup": _devgroup,
    "cgroup": _cgroup,
    "ecn": lambda options, ipv6: _ecn_match(options),  # (defined below: the ECN target's numbers too)
}

# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------


def _xmark(options: Options) -> tuple[int, int] | None:
    """(mark, mask) of MARK/CONNMARK's set-* and and/or/xor forms, as the target stores them."""
    for o in options:
        if len(o.args) != 1:
            continue
        if o.flag in ("--set-xmark", "--set-mark"):
            pair = _value_mask(o.args[0])
            if pair is None:
                return None
            value, mask = pair
            return (value, mask) if o.flag == "--set-xmark" else (value, (value | mask) & FULL32)
        number = c_uint(o.args[0])
        if number is None:
            continue
        if o.flag == "--and-mark":
            return 0, ~number & FULL32
        if o.flag == "--or-mark":
            return number, number
        if o.flag == "--xor-mark":
            return number, 0
    return None


def _mark_target(name: str, options: Options, ipv6: bool) -> Options:
    pair = _xmark(options)
    if pair is None:
        return options
    return [Option("--set-xmark", (f"{pair[0]:#x}/{pair[1]:#x}",), False, name)]


def _connmark_target(name: str, options: Options, ipv6: bool) -> Options:
    flags = _by_flag(options)
    if "--save-mark" in flags or "--restore-mark" in flags:
        op = "--save-mark" if "--save-mark" in flags else "--restore-mark"
        mask = c_uint(flags["--mask"].value) if "--mask" in flags else None
        nfmask = c_uint(flags["--nfmask"].value) if "--nfmask" in flags else mask
        ctmask = c_uint(flags["--ctmask"].value) if "--ctmask" in flags else mask
        return [Option(op, (), False, name),
                Option("--nfmask", (f"{FULL32 if nfmask is None else nfmask:#x}",), False, name),
                Option("--ctmask", (f"{FULL32 if ctmask is None else ctmask:#x}",), False, name)]
    pair = _xmark(options)
    at = next((i for i, o in enumerate(options) if o.flag in syntax.MARK_OPERATIONS), len(options))
    given = syntax.connmark_ctmask(options, at)
    mask = None if given is None else c_uint(given.args[0])
    if pair is None or mask is None:
        return _mark_target(name, options, ipv6)
    return [Option("--set-xmark", (f"{pair[0]:#x}/{mask:#x}",), False, name)]


def _reject(name: str, options: Options, ipv6: bool) -> Options:
    """REJECT's type by its full name (``--reject-with TCP`` is tcp-reset: syntax.reject_type), by default the
    family's port unreachable; a type iptables would refuse (read unvalidated) stays as written."""
    given = _by_flag(options).get("--reject-with")
    default = "icmp6-port-unreachable" if ipv6 else "icmp-port-unreachable"
    value = default if given is None else syntax.reject_type(given.value, ipv6) or given.value
    return [Option("--reject-with", (value,), False, name)]


def _nat_range(value: str, ipv6: bool) -> str:
    """A NAT range as libxt_NAT's save prints what its parse_to read (:func:`~kubeproxy_sim.netfilter.natrange.
    read_nat_to`): inet_ntop's addresses, the high one only when it differs, an IPv6 range in brackets before its
    ports (``[fd00::1-fd00::9]:80``), the ports as numbers (one when both ends are the same), no address for a value
    of ports only (``[]:80`` is ``:80``); as written what the family refuses."""
    family = 6 if ipv6 else 4
    read = read_nat_to(value, family)
    if isinstance(read, str):
        return value
    ports = None
    if read.ports is not None:
        written = syntax.nat_port_range(read.ports)
        if written is None:
            return value
        ports = _port_range(written, "-") or "0-65535"
    return read.saved(family, ports)


def _nat(flag: str, order: Sequence[str]) -> Callable[[str, Options, bool], Options]:
    def normalise(name: str, options: Options, ipv6: bool) -> Options:
        out = [_with(o, _nat_range(o.args[0], ipv6)) if o.flag == flag and len(o.args) == 1 else o
               for o in options]
        return _in_order(out, (flag, *order))

    return normalise


def _to_ports(name: str, options: Options, ipv6: bool) -> Options:
    out = [_with(o, _port_range(o.args[0], "-") or "0-65535") if o.flag == "--to-ports" and len(o.args) == 1
           else o for o in options]
    return _in_order(out, ("--to-ports", "--random", "--random-fully"))


LOG_LEVELS = {"emerg": "0", "alert": "1", "crit": "2", "err": "3", "error": "3", "warning": "4",
              "warn": "4", "notice": "5", "info": "6", "debug": "7", "panic": "0"}


LOG_PREFIX_LIMIT = 29  # the kernel's prefix is 30 bytes with its NUL: libxt_LOG keeps a longer one's first 29
NFLOG_PREFIX_LIMIT = 63  # ... 64 for NFLOG (iptables-legacy; iptables-nft 1.8.9 keeps all of it)


def _log(name: str, options: Options, ipv6: bool) -> Options:
    out: Options = []
    for o in options:
        if o.flag == "--log-level" and len(o.args) == 1:
            level = LOG_LEVELS.get(o.args[0].lower(), o.args[0])
            if level != "4":
                out.append(_with(o, level))
        elif o.flag == "--log-prefix" and o.args == ("",):
            continue
        elif o.flag == "--log-prefix" and len(o.args) == 1:
            out.append(_with(o, o.args[0][:LOG_PREFIX_LIMIT]))
        else:
            out.append(o)
    return _in_order(out, ("--log-prefix", "--log-level", "--log-tcp-sequence", "--log-tcp-options",
                           "--log-ip-options", "--log-uid", "--log-macdecode"))


def _nflog(name: str, options: Options, ipv6: bool) -> Options:
    out = [_with(o, o.args[0][:NFLOG_PREFIX_LIMIT]) if o.flag == "--nflog-prefix" and len(o.args) == 1 else o
           for o in options if not (o.flag == "--nflog-group" and c_uint(o.value) == 0)]
    return _in_order(out, ("--nflog-prefix", "--nflog-group", "--nflog-range", "--nflog-size",
                           "--nflog-threshold"))


def _tproxy(name: str, options: Options, ipv6: bool) -> Options:
    """TPROXY as libxt_TPROXY's save prints it: the port as a number (a service name looked up), the address
    (``0.0.0.0`` or ``::`` when not given) and the mark as ``VALUE/MASK`` in hex (``0x0/0x0`` when not given, a
    value without a mask masked by ``0xffffffff``): ``--on-port http`` is saved ``--on-port 80 --on-ip 0.0.0.0
    --tproxy-mark 0x0/0x0`` (iptables-legacy-restore and -save v1.8.9, ip6tables alike with ``::``)."""
    given = _by_flag(options)
    out = [o for o in options if o.flag not in ("--on-port", "--on-ip", "--tproxy-mark")]
    port = given.get("--on-port")
    if port is not None and len(port.args) == 1:
        text = port.args[0]
        number = int(text) if text.isascii() and text.isdigit() else syntax.service_port(text, "any")
        out.append(_with(port, str(number) if number is not None and number <= 65535 else text))
    address = given.get("--on-ip")
    out.append(_with(address, _on_ip(address.args[0], ipv6))
               if address is not None and len(address.args) == 1
               else Option("--on-ip", ("::" if ipv6 else "0.0.0.0",), False, name))
    mark = given.get("--tproxy-mark")
    out.append(Option("--tproxy-mark", ("0x0/0x0",), False, name) if mark is None or len(mark.args) != 1
               else _with(mark, _mark_mask(mark.args[0])))
    return _in_order(out, ("--on-port", "--on-ip", "--tproxy-mark"))


def _netmap(name: str, options: Options, ipv6: bool) -> Options:
    """NETMAP's ``--to`` as libxt_NETMAP 1.8.9 saves what it read (:func:`~kubeproxy_sim.netfilter.natrange.
    read_netmap_to`): the network and its length, always (``10.0.0.1/24`` is 10.0.0.0/24, ``10.0.0.0`` /32,
    ``/255.255.255.0`` /24, a mask that is no prefix /32); as written what it cannot read (a name)."""
    family = 6 if ipv6 else 4
    out = []
    for o in options:
        read = read_netmap_to(o.args[0], family) if o.flag == "--to" and len(o.args) == 1 else None
        if read is None or isinstance(read, str):
            out.append(o)
            continue
        network, mask = read
        out.append(_with(o, f"{address_text(family, network)}/{_prefix_of(mask, 32 if family == 4 else 128)}"))
    return out


def _tos_target(name: str, options: Options, ipv6: bool) -> Options:
    """TOS as libxt_TOS saves it: one ``--set-tos 0xVV/0xMM`` (``--and-tos 0x10`` is 0x00/0xef, ``--or-tos 0x10``
    0x10/0x10, ``--xor-tos 0x10`` 0x10/0x00)."""
    out = []
    for o in options:
        read = None
        if len(o.args) == 1 and o.flag == "--set-tos":
            read = syntax.tos_value_mask(o.args[0])
        elif len(o.args) == 1 and (number := c_number(o.args[0], 0xFF)) is not None:
            read = {"--and-tos": (0, ~number & 0xFF), "--or-tos": (number, number),
                    "--xor-tos": (number, 0)}.get(o.flag)
        out.append(o if read is None else _with(o, f"0x{read[0]:02x}/0x{read[1]:02x}", flag="--set-tos"))
    return out


def _dscp_target(name: str, options: Options, ipv6: bool) -> Options:
    """DSCP as libxt_DSCP saves it: ``--set-dscp 0xVV``, a class by its value."""
    return _dscp_values(options, "--set-dscp")


def _classify(name: str, options: Options, ipv6: bool) -> Options:
    """CLASSIFY as libxt_CLASSIFY saves it: ``--set-class MMMM:mmmm`` in four hex digits each."""
    out = []
    for o in options:
        read = syntax.classify_class(o.args[0]) if o.flag == "--set-class" and len(o.args) == 1 else None
        out.append(o if read is None else _with(o, f"{read[0]:04x}:{read[1]:04x}"))
    return out


def _mark_mask(text: str) -> str:
    """A ``VALUE[/MASK]`` mark as ``0xVALUE/0xMASK`` (no mask: 0xffffffff); as written when it is no number."""
    value_text, slash, mask_text = text.partition("/")
    value, mask = c_uint(value_text), c_uint(mask_text) if slash else 0xFFFFFFFF
    return text if value is None or mask is None else f"{value:#x}/{mask:#x}"


_ECN_VALUED = frozenset({"--ecn-ip-ect", "--ecn-tcp-cwr", "--ecn-tcp-ece"})


def _ecn_numbers(options: Options) -> Options:
    """The ECN target's and the ecn match's values as libipt_ECN and libxt_ecn save them: in decimal (``0x1`` and
    ``01`` are 1; iptables-legacy-save and -nft-save v1.8.9)."""
    out = []
    for o in options:
        number = c_number(o.args[0], 0xFF) if o.flag in _ECN_VALUED and len(o.args) == 1 else None
        out.append(o if number is None else _with(o, str(number)))
    return out


def _ecn_match(options: Options) -> Options:
    """The ecn match as libxt_ecn saves it (:func:`_ecn_numbers`): --ecn-tcp-ece, --ecn-tcp-cwr, --ecn-ip-ect in that
    order, each with its own ``!`` (both -save v1.8.9: ``--ecn-ip-ect 1 --ecn-tcp-ece --ecn-tcp-cwr`` is saved
    ``--ecn-tcp-ece --ecn-tcp-cwr --ecn-ip-ect 1``); an option twice or not its own: as written."""
    out = _ecn_numbers(options)
    order = {flag: at for at, flag in enumerate(("-m", "--ecn-tcp-ece", "--ecn-tcp-cwr", "--ecn-ip-ect"))}
    if len({o.flag for o in out}) != len(out) or any(o.flag not in order for o in out):
        return out
    return sorted(out, key=lambda o: order[o.flag])


_ECN_ORDER = ("--ecn-tcp-remove", "--ecn-tcp-ece", "--ecn-tcp-cwr", "--ecn-ip-ect")


def _ecn_target(name: str, options: Options, ipv6: bool) -> Options:
    """ECN as libipt_ECN saves it (:func:`_ecn_numbers`): --ecn-tcp-ece, --ecn-tcp-cwr, --ecn-ip-ect in that order,
    and --ecn-tcp-remove alone when its operation is to clear both TCP bits and nothing else (so written, or as
    ``--ecn-tcp-cwr 0 --ecn-tcp-ece 0``). --ecn-tcp-remove sets the operation afresh, an --ecn-ip-ect before it
    dropped, and one after it is added to it: ``--ecn-ip-ect 1 --ecn-tcp-remove`` is saved ``--ecn-tcp-remove``,
    ``--ecn-tcp-remove --ecn-ip-ect 1`` ``--ecn-tcp-ece 0 --ecn-tcp-cwr 0 --ecn-ip-ect 1`` (both -save v1.8.9)."""
    out = _ecn_numbers(options)
    if len({o.flag for o in out}) != len(out) or not {o.flag for o in out} <= set(_ECN_ORDER):  # (an option twice,
        return out  # or unknown: as written)
    given: dict[str, Option] = {}
    for option in out:
        if option.flag == "--ecn-tcp-remove":
            given = {flag: Option(flag, ("0",), False, option.module) for flag in ("--ecn-tcp-ece", "--ecn-tcp-cwr")}
        else:
            given[option.flag] = option
    if set(given) == {"--ecn-tcp-ece", "--ecn-tcp-cwr"} and all(o.args == ("0",) for o in given.values()):
        return [Option("--ecn-tcp-remove", (), False, given["--ecn-tcp-ece"].module)]
    return [given[flag] for flag in _ECN_ORDER if flag in given]


def _queue_numbers(option: Option) -> Option:
    """A --queue-num or --queue-balance in the decimal numbers libxt_NFQUEUE prints (``0x10`` is 16, ``1:`` is
    1:65535, ``:2`` 0:2: syntax.nfqueue_number, nfqueue_balance); as written when it is none."""
    if len(option.args) != 1:
        return option
    if option.flag == "--queue-num":
        number = syntax.nfqueue_number(option.args[0])
        return _with(option, str(number)) if isinstance(number, int) else option
    if option.flag == "--queue-balance":
        bounds = syntax.nfqueue_balance(option.args[0])
        return _with(option, f"{bounds[0]}:{bounds[1]}") if isinstance(bounds, tuple) else option
    return option


def _nfqueue(name: str, options: Options, ipv6: bool) -> Options:
    """NFQUEUE as libxt_NFQUEUE saves it: --queue-balance, else --queue-num (0 when not given), then --queue-bypass
    and --queue-cpu-fanout (both -save v1.8.9: ``-j NFQUEUE --queue-bypass`` is saved ``--queue-num 0
    --queue-bypass``, ``--queue-cpu-fanout --queue-balance 1:2`` ``--queue-balance 1:2 --queue-cpu-fanout``), the
    queue numbers in decimal (:func:`_queue_numbers`)."""
    out = [_queue_numbers(o) for o in options]
    if not any(o.flag in ("--queue-num", "--queue-balance") for o in out):
        out.insert(0, Option("--queue-num", ("0",), False, name))
    return _in_order(out, ("--queue-balance", "--queue-num", "--queue-bypass", "--queue-cpu-fanout"))


CT_EVENTS = {"--ctevents": ("new", "related", "destroy", "reply", "assured", "protoinfo", "helper", "mark",
                            "natseqinfo", "secmark"), "--expevents": ("new",)}
"""libxt_CT's event names in the order of their bits, which its save prints them in."""
_CT_ZONES = ("--zone", "--zone-orig", "--zone-reply")


def _ct_events(option: Option) -> Option:
    """A --ctevents or --expevents list in the order of its bits, each name once; as written when a name is none
    of them."""
    names = CT_EVENTS[option.flag]
    given = option.args[0].split(",") if len(option.args) == 1 else [""]
    if not set(given) <= set(names):
        return option
    return _with(option, ",".join(name for name in names if name in given))


def _ct(name: str, options: Options, ipv6: bool) -> Options:
    """CT as libxt_CT saves it (both -save v1.8.9): --notrack, --helper, --ctevents, --expevents (each list in its
    bits' order), the zone, --timeout. The zone is the last value given, not printed when 0; it is --zone-orig
    (--zone-reply) when only that direction was ever named, else --zone (``--zone-orig 5 --zone-reply 6`` is saved
    ``--zone 6``, ``--zone-reply 5 --zone 6`` ``--zone-reply 6``)."""
    out = [_ct_events(o) if o.flag in CT_EVENTS else o for o in options if o.flag not in _CT_ZONES]
    zones = [o for o in options if o.flag in _CT_ZONES and len(o.args) == 1]
    if zones and c_uint(zones[-1].args[0]) != 0:
        named = {o.flag for o in zones} - {"--zone"}
        flag = named.pop() if len(named) == 1 else "--zone"
        out.append(_with(zones[-1], zones[-1].args[0], flag=flag))
    return _in_order(out, ("--notrack", "--helper", "--ctevents", "--expevents", *_CT_ZONES, "--timeout"))


TARGETS: dict[str, Callable[[str, Options, bool], Options]] = {
    "MARK": _mark_target,
    "CONNMARK": _connmark_target,
    "REJECT": _reject,
    "DNAT": _nat("--to-destination", ("--random", "--persistent")),
    "SNAT": _nat("--to-source", ("--random", "--random-fully", "--persistent")),
    "MASQUERADE": _to_ports,
    "REDIRECT": _to_ports,
    "LOG": _log,
    "NFLOG": _nflog,
    "TPROXY": _tproxy,
    "NETMAP": _netmap,
    "TOS": _tos_target,
    "DSCP": _dscp_target,
    "CLASSIFY": _classify,
    "ECN": _ecn_target,
    "NFQUEUE": _nfqueue,
    "CT": _ct,
}

# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------


ANY_HOST = Option("", (), False, "")
"""In :func:`_builtin`'s list of a -s or -d option's hosts, one iptables-save omits (``0.0.0.0/0``): its rule has
no such option (``-s 1.2.3.4/0,5.6.7.8`` is a rule without -s, then one with ``-s 5.6.7.8/32``)."""


def saved_hosts(value: str, ipv6: bool) -> list[str]:
    """A -s or -d value's hosts as iptables-save prints them after iptables-restore read them
    (:mod:`~kubeproxy_sim.netfilter.hostmask`: ``1.2.3`` is ``1.2.3.0/32``, ``10.1.2.3/0x10`` is
    ``10.1.0.0/16``); a name, or a value iptables refuses (read without validating), as written."""
    if is_dotted_quad(value):  # (a host as kube-proxy writes them)
        return [f"{value}/32"]
    hosts = read_hosts(value, ipv6)
    if isinstance(hosts, HostRefusal):
        return value.split(",")
    return [saved_host(host) for host in hosts]


def _builtin(option: Option, ipv6: bool) -> list[Option]:
    """One built-in option in save form: [] when iptables-save would omit it, several for a list of hosts (each
    omitted one :data:`ANY_HOST`)."""
    if option.flag in ("-s", "-d") and len(option.args) == 1:
        saved = saved_hosts(option.args[0], ipv6)
        full = "::/0" if ipv6 else "0.0.0.0/0"
        if option.negated:
            return [_with(option, v) for v in saved]
        if len(saved) == 1:
            return [] if saved[0] == full else [_with(option, saved[0])]
        return [ANY_HOST if v == full else _with(option, v) for v in saved]
    if option.flag == "-p" and len(option.args) == 1:
        number = syntax.protocol_number(option.args[0])  # (printed by its netbase name, as iptables-save does)
        if number is None:
            return [option]
        return [] if number == 0 and not option.negated else [_with(option, saved_protocol(number))]
    if option.flag in ("-i", "-o") and option.args == ("+",) and not option.negated:
        return []
    return [option]


def _groups(options: Sequence[Option]) -> tuple[list[Option], list[list[Option]]]:
    """Built-in options, and the matches in load order (an implicit protocol match where its first option is)."""
    builtins: list[Option] = []
    groups: list[list[Option]] = []
    for o in options:
        if o.module == "" and o.flag != "-m":
            builtins.append(o)
        elif o.flag == "-m":
            groups.append([o])
        else:
            group = next((g for g in reversed(groups) if g[0].module == o.module), None)
            if group is None:  # -p tcp --dport 80: iptables loads the tcp match here
                group = [Option("-m", (o.module,), False, o.module)]
                groups.append(group)
            group.append(o)
    return builtins, groups


def _save_group(group: list[Option], ipv6: bool) -> list[Option]:
    head = group[0]
    name = MODULE_ALIASES.get(head.module, head.module)
    normaliser = MATCHES.get(name)
    body = group[1:] if name == head.module else [Option(o.flag, o.args, o.negated, name) for o in group[1:]]
    body = normaliser(body, ipv6) if normaliser else body
    return [Option("-m", (name,), False, name), *body]


SaveMemo = dict[object, list[Option]]
"""Save forms of built-in options and of match groups already seen in one ruleset: a dump repeats them
(320,000 rules of a 10,000-service node hold 10,000 distinct match groups), and each is a pure function."""


def save_specs(spec: RuleSpec, ipv6: bool = False, memo: SaveMemo | None = None,
               jumps: frozenset[str] = frozenset()) -> list[RuleSpec]:
    """The save form of one rule; several rules when ``-s``/``-d`` list several hosts (as iptables adds them).
    ``jumps``: the names that are jumps to a chain of the rule's table, not a target (:func:`chain_jumps`)."""
    memo = {} if memo is None else memo
    builtins, groups = _groups(spec.options)
    by_flag: dict[str, list[list[Option]]] = {f: [] for f in BUILTIN_ORDER}
    others: list[Option] = []
    for o in builtins:
        if o.flag in by_flag:
            saved = memo.get(o)
            if saved is None:
                saved = memo[o] = _builtin(o, ipv6)
            by_flag[o.flag].append(saved)
        else:
            others.append(o)
    matches: list[Option] = []
    for g in groups:
        key = tuple(g)
        saved = memo.get(key)
        if saved is None:
            saved = memo[key] = _save_group(g, ipv6)
        matches += saved
    target = spec.target
    if target is not None:
        handler = TARGETS.get(target.name)
        if handler is not None and (target.options or target.name not in jumps):
            target = Target(target.name, tuple(handler(target.name, list(target.options), ipv6)), target.goto)
    sources: list[Option | None] = [o if o is not ANY_HOST else None for alts in by_flag["-s"] for o in alts] or [
        None]
    dests: list[Option | None] = [o if o is not ANY_HOST else None for alts in by_flag["-d"] for o in alts] or [None]
    rest = [o for flag in BUILTIN_ORDER[2:] for alts in by_flag[flag] for o in alts] + others
    return [
        RuleSpec(tuple(o for o in (src, dst) if o is not None) + tuple(rest) + tuple(matches), target)
        for src in sources for dst in dests
    ]


def _save_rules(rule: Rule, ipv6: bool, memo: SaveMemo, jumps: frozenset[str] = frozenset()) -> list[Rule]:
    out = []
    for spec in save_specs(rule.parsed, ipv6, memo, jumps):
        text, save_text = _spec_texts(spec)
        saved = Rule.make(rule.chain, text, rule.line, rule.counters, spec)
        object.__setattr__(saved, "_save_text", save_text)
        out.append(saved)
    return out


def _spec_texts(spec: RuleSpec) -> tuple[str, str]:
    """``(syntax.render_spec(spec), render_save_spec(spec))`` in one pass: they differ only in the quoting of
    iptables-save's string options (:data:`SAVE_STRING_OPTIONS`), nfacct's spacing and a quoted target name,
    so each other option is rendered once for both (a 10,000-service node's 320,000 rules rendered twice were
    a fifth of ``rules --full``)."""
    render = syntax.render_option
    parts = []
    save = []
    for o in spec.options:
        text = render(o)
        parts.append(text)
        save.append(_render_option(o, o.module) if o.flag in _SPECIAL_FLAGS else text)
    target = spec.target
    if target is not None:
        head = "-g " if target.goto else "-j "
        parts.append(head + syntax.quote(target.name))
        save.append(head + target.name)
        for o in target.options:
            text = render(o)
            parts.append(text)
            save.append(_render_option(o, target.name) if o.flag in _SPECIAL_FLAGS else text)
    text = " ".join(parts)
    save_text = " ".join(save)
    return text, (text if save_text == text else save_text)


# ---------------------------------------------------------------------------
# Rules by shape: each distinct shape of rule planned once
# ---------------------------------------------------------------------------
#
# A rule's save form is decided by its *skeleton* (its text with every free value
# replaced by a hole; see syntax's skeleton fast path) and, group by group, by the
# values of that group: which options are built-in and in what order they print,
# which options form which match, and where an implicit protocol match loads, depend
# on the flags, bangs, -m and -p values only. The 430,000 rules of a 10,000-service
# node have a few dozen skeletons. So each skeleton is interpreted once, into a
# *plan*: its groups in save order (built-in options by BUILTIN_ORDER, the matches in
# load order, the target), each with where its values are in the rule's text. A
# group's iptables-save text is worked out once per distinct value tuple by the
# functions :func:`save_specs` uses (``_builtin``, ``_save_group``, ``TARGETS``) on
# the options parse_spec builds for the rule, and a rule's text is its groups' texts
# joined: the same text. Three groups carry a value unique to the rule (an
# endpoint's address, its DNAT destination, the jump to its chain); for the values
# they carry as they are, their texts are written directly (see _SHORTCUTS) rather
# than kept.

Converted = str
"""A group's iptables-save text, with a leading blank (empty for a group iptables-save leaves out), so a rule's
text is its groups' joined."""
Convert = Callable[[object], "Converted | None"]
Part = tuple[Callable[[list[str]], object] | None, dict[object, "Converted | None"] | None, Convert]
"""One group of a plan: its values from a rule's values (None: it has none), its memo by those values (None: not
kept, see _SHORTCUTS), and its conversion (None: iptables would expand the rule, ``-s A,B``)."""
Plan = tuple[Part, ...]
"""A skeleton's groups in save order, the target's last."""


class RuleShapes:
    """The plans of the skeletons, and the save texts of the value groups, met in one ruleset of one family (see
    above). It keeps what it met: make one per ruleset (:func:`save_lines`), or per trace, whose path steps repeat
    rules."""

    def __init__(self, ipv6: bool) -> None:
        self.ipv6 = ipv6
        self._plans: dict[str, Plan | None] = {}
        self._memos: dict[object, dict[object, Converted | None]] = {}

    def save_text(self, spec: str) -> str | None:
        """The iptables-save text of a rule written ``spec`` (what follows ``-A CHAIN``); None when
        :func:`save_specs` must decide (a skeleton without a program, a rule iptables expands)."""
        split = split_skeleton(spec)
        if split is None:
            return None
        skeleton, values = split
        plan = self._plans.get(skeleton)
        if plan is None:
            if skeleton in self._plans:
                return None
            plan = self._plans[skeleton] = self._plan(skeleton)
            if plan is None:
                return None
        texts = []
        for key_of, memo, convert in plan:  # once per group of 430,000 rules: kept inline
            key = key_of(values) if key_of is not None else None
            if memo is None:
                done = convert(key)
            else:
                done = memo.get(key, memo)  # type: ignore[arg-type]  # the memo itself: not there yet
                if done is memo:
                    done = memo[key] = convert(key)
            if done is None:
                return None
            texts.append(done)
        return "".join(texts)[1:]

    def _plan(self, skeleton: str) -> Plan | None:
        """The skeleton's groups in the order iptables-save prints them; None when a rule of it may expand or
        the skeleton has no program (parse_spec's general path reads it)."""
        spec = skeleton_spec(skeleton)
        if spec is None or any(o.module.startswith(HOLE) for o in spec.options):
            return None  # a match module taken from the rule (only a target's options' module is its name)
        builtins, groups = _groups(spec.options)
        if sum(o.flag == "-s" for o in builtins) > 1 or sum(o.flag == "-d" for o in builtins) > 1:
            return None  # each -s and -d is a list of alternatives: a rule with two of either is several rules
        ranked = sorted((o for o in builtins if o.flag in BUILTIN_ORDER), key=lambda o: BUILTIN_ORDER.index(o.flag))
        parts = [self._part(("builtin",), [o]) for o in ranked]
        parts += [self._part(("other",), [o]) for o in builtins if o.flag not in BUILTIN_ORDER]
        parts += [self._part(("match",), group) for group in groups]
        target = spec.target
        if target is not None:
            head = Option(target.name, (), target.goto, "")  # see _converter
            parts.append(self._part(("target",), [head, *target.options]))
        return None if None in parts else tuple(parts)  # type: ignore[arg-type]

    def _part(self, kind: tuple[str], group: list[Option]) -> Part | None:
        """A group's part of a plan. Its holes are numbered from 0 in the order met, so that the groups of one
        shape in every skeleton share one memo."""
        holes: list[int] = []
        local = [_renumbered(o, holes) for o in group]
        if None in local:
            return None
        shape = (*kind, *local)
        key_of = itemgetter(*holes) if holes else None
        convert = _converter(kind[0], tuple(local), len(holes), self.ipv6)  # type: ignore[arg-type]
        memo = self._memos.get(shape)
        if memo is None:
            memo = self._memos[shape] = {}
        shortcut = _SHORTCUTS.get(shape) if not self.ipv6 else None
        if shortcut is not None:  # the general conversion still memoised, for the values not written directly
            return key_of, None, shortcut(_memoised(convert, memo))
        return key_of, memo, convert


def _memoised(convert: Convert, memo: dict[object, Converted | None]) -> Convert:
    def get(key: object) -> Converted | None:
        done = memo.get(key, memo)
        if done is memo:
            done = memo[key] = convert(key)
        return done  # type: ignore[return-value]

    return get


def _hole(index: int) -> str:
    return f"{HOLE}{index}"


def _renumbered(option: Option, holes: list[int]) -> Option | None:
    """``option`` with its holes (in its arguments, its module, or a target's name in its flag) numbered in the
    order ``holes`` met them; None when a hole is part of a longer text (placed in a way not planned for)."""

    def local(text: str) -> str | None:
        if HOLE not in text:
            return text
        if not (text[0] == HOLE and text[1:].isdigit()):
            return None
        index = int(text[1:])
        if index not in holes:
            holes.append(index)
        return _hole(holes.index(index))

    flag, module = local(option.flag), local(option.module)
    args = [local(a) for a in option.args]
    if flag is None or module is None or None in args:
        return None
    return Option(flag, tuple(args), option.negated, module)  # type: ignore[arg-type]


def _filled(text: str, values: tuple[str, ...]) -> str:
    """A placeholder's value (a quoted one without its quotes, as parse_spec reads it); other text as it is."""
    if text[:1] != HOLE:
        return text
    value = values[int(text[1:])]
    return value[1:-1] if value[0] == '"' else value


def _converter(kind: str, group: tuple[Option, ...], holes: int, ipv6: bool) -> Convert:
    """The conversion of one group of a plan from its values (one value, a tuple of them, or None without any).
    A target is planned as a group whose first option holds its name as the flag and ``goto`` as the bang."""
    ports = _port_positions(kind, group)

    def convert(key: object) -> Converted | None:
        values: tuple[str, ...] = () if holes == 0 else (key,) if holes == 1 else key  # type: ignore[assignment]
        real = [Option(_filled(o.flag, values), tuple(_filled(a, values) for a in o.args), o.negated,
                       _filled(o.module, values)) for o in group]
        if kind == "target":
            head = real[0]
            if len(real) > 1 and not syntax.takes_options(head.flag):
                return None  # a match's options after a chain or verdict (-m comment -j X --comment c): see save_specs
            if ports and not all(_plain_nat_ports(real[i]) for i in ports):
                return None  # a NAT port by name or in another base (:http, 0x50): the typed view has its number
            target = Target(head.flag, tuple(real[1:]), head.negated)
            handler = TARGETS.get(target.name)
            if handler is not None:
                target = Target(target.name, tuple(handler(target.name, list(target.options), ipv6)), target.goto)
            return _target_text(target)
        if kind == "match":
            if ports and not all(_plain_ports(real[i]) for i in ports):
                return None  # a port by name or in another base (http, 010): the rule's typed view has its number
            return _options_text(_save_group(real, ipv6))
        saved = _builtin(real[0], ipv6) if kind == "builtin" else real
        return _options_text(saved) if len(saved) < 2 else None

    return convert


_PORT_OR_NONE = f"(?:{syntax.PORT_VALUE})?"
_PLAIN_PORTS = re.compile(f"{_PORT_OR_NONE}(?::{_PORT_OR_NONE})?(?:,{_PORT_OR_NONE}(?::{_PORT_OR_NONE})?)*")
"""A match's port value as :func:`_port_range` prints it right: decimal numbers 0-65535 without leading zeros."""


def _port_positions(kind: str, group: tuple[Option, ...]) -> tuple[int, ...]:
    """Where a group's port values are, decided once per group of a skeleton (its flags and match names are no
    holes; a NAT port's kind does not depend on the target's name): a match's ports, or a target's NAT ports."""
    if kind == "match":
        return tuple(i for i, o in enumerate(group) if syntax.port_kind(o.flag, o.module) in ("port", "ports"))
    if kind == "target":
        return tuple(i for i, o in enumerate(group) if i and syntax.port_kind(o.flag, "") in ("nat", "to-ports"))
    return ()


def _plain_ports(option: Option) -> bool:
    """Whether a match's port value is written in plain numbers (:data:`_PLAIN_PORTS`)."""
    return len(option.args) == 1 and _PLAIN_PORTS.fullmatch(option.args[0]) is not None


def _plain_nat_ports(option: Option) -> bool:
    """Whether a NAT target's port value is one its typed view holds as written (decimal)."""
    kind = syntax.port_kind(option.flag, option.module)
    return len(option.args) != 1 or syntax.nat_values(kind or "", option.args[0]) == option.args[0]


def _options_text(options: Sequence[Option]) -> Converted:
    """Options' iptables-save text (see :data:`Converted`)."""
    return "".join(" " + (_render_option(o, o.module) if o.flag in _SPECIAL_FLAGS else syntax.render_option(o))
                   for o in options)


def _target_text(target: Target) -> Converted:
    """A target's iptables-save text, with a leading blank (as :func:`_spec_texts`' second)."""
    return (" -g " if target.goto else " -j ") + target.name + "".join(
        " " + (_render_option(o, target.name) if o.flag in _SPECIAL_FLAGS else syntax.render_option(o))
        for o in target.options)


# The groups that carry a value unique to the rule (so a memo would only grow), written directly for values in
# the form kube-proxy writes them; any other value takes the general conversion. Why each is the same:
# - a jump to a chain named by a bare value (not quoted: a quoted name takes the general conversion) with no
#   options: no TARGETS handler changes it;
# - -s/-d of a dotted quad (IPv4): _builtin -> save_address prints it with /32, and render_option leaves that bare;
# - DNAT --to-destination of a dotted quad and a port written without leading zeros (IPv4): _nat_range prints
#   the address as it is (host_suffix=False) and str(int(port)), the same text.

_PORT = re.compile(r"0|[1-9][0-9]{0,4}")


def _jump(goto: bool, general: Convert) -> Convert:
    head = " -g " if goto else " -j "

    def convert(name: object) -> Converted | None:
        if not isinstance(name, str) or name[0] == '"' or name in TARGETS:
            return general(name)
        return head + name

    return convert


def _host(flag: str, negated: bool, general: Convert) -> Convert:
    head = f" ! {flag} " if negated else f" {flag} "

    def convert(value: object) -> Converted | None:
        if not isinstance(value, str) or not is_dotted_quad(value):
            return general(value)
        return head + value + "/32"

    return convert


def _dnat(general: Convert) -> Convert:
    def convert(key: object) -> Converted | None:
        name, value = cast(tuple[str, str], key)
        address, _, port = value.partition(":")
        if name != "DNAT" or not (is_dotted_quad(address) and _PORT.fullmatch(port)):
            return general(key)
        return " -j DNAT --to-destination " + value

    return convert


_SHORTCUTS: dict[tuple[object, ...], Callable[[Convert], Convert]] = {
    ("target", Option(_hole(0), (), False, "")): functools.partial(_jump, False),
    ("target", Option(_hole(0), (), True, "")): functools.partial(_jump, True),
    **{("builtin", Option(flag, (_hole(0),), negated, "")): functools.partial(_host, flag, negated)
       for flag in ("-s", "-d") for negated in (False, True)},
    ("target", Option(_hole(0), (), False, ""), Option("--to-destination", (_hole(1),), False, _hole(0))): _dnat,
}
"""The shortcut of a group's shape (see above), made from the general conversion."""


def saved_chain_order(table: Table) -> list[Chain]:
    """Chains as the kernel lists them: built-ins in hook order (always present), then user chains sorted."""
    deleted = set(table.deleted)
    chains = {c.name: c for c in table.chains if c.name not in deleted}
    builtin_names = BUILTIN_CHAINS.get(table.name, ())
    ordered = [chains.get(n) or Chain(n, (), "ACCEPT") for n in builtin_names]
    ordered += [chains[n] for n in sorted(chains) if n not in builtin_names]
    return ordered


def chain_jumps(ordered: Sequence[Chain], table: str) -> frozenset[str]:
    """The names among a table's chains (``ordered`` as :func:`saved_chain_order` lists them: the built-in ones,
    then the others sorted) that are also targets saveform rewrites (:data:`TARGETS`): iptables takes a ``-j NAME``
    (``-g``) without options to such a chain as a jump to it, never the extension (iptables-legacy-restore and
    -nft-restore v1.8.9 after ``:TPROXY - [0:0]`` save ``-A INPUT -j TPROXY`` as it is, without TPROXY's ``--on-ip
    0.0.0.0 --tproxy-mark 0x0/0x0``; ``-j REJECT`` to a chain REJECT gets no ``--reject-with``). A rule with
    options still has the extension (legacy's ``-j MARK --set-mark 1`` before an ``-E FOO MARK``). Found by
    bisection: a 10,000-service node has 110,000 chains."""
    start = len(BUILTIN_CHAINS.get(table, ()))
    found = []
    for name in _REWRITTEN:
        at = bisect_left(ordered, name, lo=start, key=_chain_name)
        if at < len(ordered) and ordered[at].name == name:
            found.append(name)
    return frozenset(found)


_REWRITTEN = tuple(TARGETS)
_chain_name = attrgetter("name")


def _save_table(table: Table, ipv6: bool, memo: SaveMemo) -> Table:
    builtin_names = BUILTIN_CHAINS.get(table.name, ())
    ordered = saved_chain_order(table)
    jumps = chain_jumps(ordered, table.name)
    return Table(table.name, tuple(
        Chain(c.name, tuple(r for rule in c.rules for r in _save_rules(rule, ipv6, memo, jumps)), c.policy or (
            "ACCEPT" if c.name in builtin_names else None), c.counters)
        for c in ordered))


SAVED_PER_RULE = 6
"""Objects tracked by the collector that saving one rule builds, at least: 13.6 a rule of a kube-proxy dump whose
typed views (``Rule.parsed``) are still to build, 6.1 once they are (objects.bulk's ``expected``)."""


def to_save_form(ruleset: Ruleset) -> Ruleset:
    """The ruleset iptables-save would print after iptables-restore loaded ``ruleset``, every rule through
    :func:`save_specs`: the reference the tests hold :func:`save_lines` (what ``rules --full`` prints) to."""
    # A few small acyclic records per rule (see objects.bulk): a large ruleset is collected on the way in. No garbage
    # cycle is made inside (netaddr is read through objects.netaddr_safe; a test checks every dump).
    with collector_paused(ruleset.rule_count() * SAVED_PER_RULE):
        memo: SaveMemo = {}
        return Ruleset(tuple(_save_table(t, ruleset.ipv6, memo) for t in ruleset.tables), ruleset.ipv6)


# ---------------------------------------------------------------------------
# Text with iptables-save's quoting
# ---------------------------------------------------------------------------

_NO_QUOTE = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Values iptables-save prints with xtables_save_string; every other value is printed raw.
SAVE_STRING_OPTIONS = frozenset({("comment", "--comment"), ("LOG", "--log-prefix"),
                                 ("NFLOG", "--nflog-prefix"), ("nfacct", "--nfacct-name"), ("cgroup", "--path")})
# Values printed with plain printf, as they are, whatever their characters: libxt_recent's ``--name %s``, and the
# interfaces (iptables-save's -i and -o, libxt_physdev's --physdev-in and --physdev-out). Both v1.8.9, legacy and
# nft, print ``-i "a b"``, ``-i "a\"b"``, ``-i "-x"`` and ``-i "!"`` restored as ``-i a b``, ``-i a"b``, ``-i -x``
# and ``-i !``. Such a line does not always read back: restore refuses ``-i a b`` ("Bad argument `b'") and reads
# ``-i a"b`` as the interface ``ab -j ...`` and a newline (a quote left open); ``-i -x`` and ``-i !`` read back
# (syntax.ANY_WORD_FLAGS, syntax.BANG_VALUE_FLAGS).
RAW_OPTIONS = frozenset({("recent", "--name"), ("", "-i"), ("", "-o"), ("physdev", "--physdev-in"),
                         ("physdev", "--physdev-out")})
# libxt_nfacct (iptables 1.8.9) prints "--nfacct-name " and then xtables_save_string's own leading space.
DOUBLE_SPACED_OPTIONS = frozenset({("nfacct", "--nfacct-name")})
_SPECIAL_FLAGS = frozenset(flag for _, flag in SAVE_STRING_OPTIONS | DOUBLE_SPACED_OPTIONS | RAW_OPTIONS)
"""The flags whose iptables-save text may differ from the canonical text (:func:`_spec_texts`)."""


def save_string(value: str) -> str:
    """xtables_save_string: bare when only ``[A-Za-z0-9_-]``, else double-quoted with ``"``, ``\\`` and ``'``
    escaped. (A value that would read back as an option, ``-x``, is quoted too, so the text re-parses.)"""
    if value and all(c in _NO_QUOTE for c in value) and not (value[0] == "-" and len(value) > 1
                                                                and not value[1].isdigit()):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'") + '"'


def _raw(value: str) -> str:
    """A value printed with plain printf; quoted only when it would not read back as one word (a value of a
    module not modelled, whose save function is not known)."""
    return syntax.quote(value)


def _render_option(option: Option, owner: str) -> str:
    key = (owner, option.flag)
    quote = save_string if key in SAVE_STRING_OPTIONS else str if key in RAW_OPTIONS else _raw
    head = f"! {option.flag}" if option.negated else option.flag
    if (owner, option.flag) in DOUBLE_SPACED_OPTIONS:
        head += " "
    return " ".join([head, *(quote(a) for a in option.args)])


def render_save_spec(spec: RuleSpec) -> str:
    """A rule's text as iptables-save prints it (the spec should already be in save form)."""
    parts = [_render_option(o, o.module) for o in spec.options]
    if spec.target is not None:
        parts.append(("-g " if spec.target.goto else "-j ") + spec.target.name)
        parts.extend(_render_option(o, spec.target.name) for o in spec.target.options)
    return " ".join(parts)


def numbered_as_saved(ruleset: Ruleset) -> Ruleset:
    """The ruleset with each rule's ``line`` where iptables-save prints it after a restore
    (:func:`to_save_form` then :func:`render_save`): generated rules then name their line in ``rules --full``'s
    output. One line per rule: kube-proxy writes no rule that iptables expands into several.

    Every chain is renumbered (a new chain each); a trace, which reads the few chains its packet enters, numbers
    only those (:class:`SavedLines`)."""
    return SavedLines(ruleset).every_chain()


NUMBERED_PER_CHAIN = 3
"""Objects tracked by the collector that numbering one chain builds: the chain, its lines, a place in a dict."""


class SavedLines:
    """Where iptables-save prints each chain of a ruleset after a restore: every chain's first line is worked out
    at once (a count of the lines before it), and a chain is numbered (:meth:`numbered`) only when asked for.

    A trace of one packet through a 10,000-service node enters a handful of its 110,000 chains: building a
    numbered copy of each (:func:`numbered_as_saved`) cost more than the walk.
    """

    __slots__ = ("_tables", "ruleset")

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        # per table: its chains as iptables-save lists them, each one's place in that list, the line of each
        # one's first rule (a running count: C loops, no object per chain), and the line of the first declaration
        self._tables: dict[str, tuple[list[Chain], dict[str, int], list[int], int]] = {}
        line = 0
        for table in ruleset.tables:
            ordered = saved_chain_order(table)
            declared = line + 2  # "*table", then one declaration per chain
            line += 1 + len(ordered)
            sizes = [len(specs) if (specs := chain.specs) is not None else len(chain.rules) for chain in ordered]
            starts = list(accumulate(sizes, initial=line + 1))
            self._tables[table.name] = (ordered, {chain.name: i for i, chain in enumerate(ordered)}, starts,
                                        declared)
            line = starts[-1]  # COMMIT, after the last rule

    def numbered(self, table: str, chain: Chain) -> Chain:
        """``chain`` (of ``table``, not deleted) with each rule's line; a chain of rules with its declaration's."""
        _, place, starts, declared = self._tables[table]
        i = place[chain.name]
        specs = chain.specs
        if specs is not None:
            return Chain.of_specs(chain.name, specs, tuple(range(starts[i], starts[i + 1])))
        return _numbered(chain, starts[i], declared + i)

    def chain(self, table: str, name: str) -> Chain | None:
        """The chain ``name`` of ``table``, numbered; None when the table lists no such chain."""
        if table not in self._tables:
            return None
        ordered, place, _, _ = self._tables[table]
        i = place.get(name)
        return self.numbered(table, ordered[i]) if i is not None else None

    def jumps(self, table: str) -> frozenset[str]:
        """The chains of ``table`` named as a target (:func:`chain_jumps`; :func:`saved_rule_text`'s ``jumps``)."""
        return chain_jumps(self._tables[table][0], table) if table in self._tables else frozenset()

    def every_chain(self) -> Ruleset:
        """The whole ruleset numbered, in its own order of chains (a deleted one left out)."""
        with collector_paused(sum(len(table.chains) for table in self.ruleset.tables) * NUMBERED_PER_CHAIN):
            return Ruleset(tuple(
                Table(table.name, tuple(self.numbered(table.name, chain) for chain in table.chains
                                        if chain.name in self._tables[table.name][1]), table.deleted)
                for table in self.ruleset.tables), self.ruleset.ipv6)


def _numbered(chain: Chain, start: int, declared: int) -> Chain:
    """A chain of rules with its rules numbered from ``start`` and its declaration at line ``declared``."""
    rules = tuple(Rule(r.chain, r.spec, start + i, r.counters) for i, r in enumerate(chain.rules))
    return Chain(chain.name, rules, chain.policy, chain.counters, declared)


def saved_rule_text(rule: Rule, ipv6: bool, shapes: RuleShapes | None = None,
                    jumps: frozenset[str] = frozenset()) -> str:
    """The line iptables-save prints for one rule after a restore (the first, when iptables expands it).
    ``shapes``: the plans and groups met so far, for a caller that asks for many rules of one ruleset (a trace's
    path steps; 20,000 of them for one packet to a service of 2,000 endpoints). ``jumps``: the rule's table's
    chains named as a target (:func:`chain_jumps`, :meth:`SavedLines.jumps`), whose rules the shapes do not
    plan for."""
    if shapes is not None and not jumps:
        text = shapes.save_text(rule.spec)
        if text is not None:
            return _rule_line(f"-A {rule.chain} ", text)
    saved = _save_rules(rule, ipv6, {}, jumps)
    return save_rule_line(rule.chain, saved[0]) if saved else rule.text()


def save_rule_line(chain: str, rule: Rule) -> str:
    """``-A CHAIN SPEC`` as iptables-save prints the rule (its quoting and spacing), without counters."""
    text = rule._save_text
    return _rule_line(f"-A {chain} ", render_save_spec(rule.parsed) if text is None else text)


def _rule_line(head: str, text: str) -> str:
    """``head`` (``-A CHAIN``, and a blank) and a rule's save text: iptables-save prints a blank before each
    option, so a rule of none is ``-A CHAIN`` alone, where a last value printed as it is keeps the blanks and the
    newline that end it (both v1.8.9: ``-i "a "`` last is saved ``-i a`` and a blank, ``-i a"b`` as the
    interface ``ab`` and a newline, then the rule's own newline)."""
    return head + text if text else head[:-1]


@value_class
class SavedChain:
    """A chain as iptables-save prints it: its declaration (name, policy, counters), then its rules' lines
    (``-A NAME ...``, without counters), with each rule's counters in ``rule_counters`` (None when no rule has
    any)."""

    name: str
    policy: str | None
    counters: tuple[int, int] | None
    lines: tuple[str, ...]
    rule_counters: tuple[tuple[int, int] | None, ...] | None = None


@value_class
class SavedTable:
    name: str
    chains: tuple[SavedChain, ...]


SavedTables = tuple[SavedTable, ...]


def save_lines(ruleset: Ruleset) -> SavedTables:
    """What iptables-save prints after iptables-restore loaded ``ruleset``, as :func:`to_save_form` then
    :func:`render_save` print it, line for line, without building the saved rules: ``rules --full`` prints the
    lines only, and the rules of a 10,000-service node (430,000, two texts and a typed view each) were most of
    its memory."""
    shapes, memo = RuleShapes(ruleset.ipv6), cast(SaveMemo, {})
    tables = []
    for table in ruleset.tables:
        builtin_names = BUILTIN_CHAINS.get(table.name, ())
        ordered = saved_chain_order(table)
        jumps = chain_jumps(ordered, table.name)
        tables.append(SavedTable(table.name, tuple(
            SavedChain(c.name, c.policy or ("ACCEPT" if c.name in builtin_names else None), c.counters,
                       *_saved_lines(c, shapes, memo, jumps))
            for c in ordered)))
    return tuple(tables)


def _saved_lines(chain: Chain, shapes: RuleShapes, memo: SaveMemo, jumps: frozenset[str]) -> tuple[
        tuple[str, ...], tuple[tuple[int, int] | None, ...] | None]:
    """A chain's rules as iptables-save prints them, and their counters (None when no rule has any). In a table
    with a chain named as a target (``jumps``) every rule is saved by :func:`save_specs`, which knows it: the
    shapes' plans take such a name for the target."""
    head = f"-A {chain.name} "
    lines: list[str] = []
    specs = chain.specs
    if specs is not None:  # generated: read from its texts
        for spec in specs:
            text = None if jumps else shapes.save_text(spec)
            if text is None:
                lines += [save_rule_line(chain.name, r) for r in _save_rules(Rule.make(chain.name, spec),
                                                                              shapes.ipv6, memo, jumps)]
            else:
                lines.append(_rule_line(head, text))
        return tuple(lines), None
    counters: list[tuple[int, int] | None] = []
    for rule in chain.rules:
        text = None if jumps else shapes.save_text(rule.spec)
        if text is None:
            saved = [save_rule_line(chain.name, r) for r in _save_rules(rule, shapes.ipv6, memo, jumps)]
        else:
            saved = [_rule_line(head, text)]
        lines += saved
        counters += [rule.counters] * len(saved)
    return tuple(lines), (tuple(counters) if any(n is not None for n in counters) else None)


def render_save(ruleset: Ruleset) -> str:
    """iptables-save's text for a ruleset (apply :func:`to_save_form` first for the kernel's view)."""
    return render_saved(tuple(
        SavedTable(table.name, tuple(
            SavedChain(c.name, c.policy, c.counters, tuple(save_rule_line(c.name, r) for r in c.rules),
                       tuple(r.counters for r in c.rules)) for c in table.chains))
        for table in ruleset.tables))


def render_saved(tables: SavedTables) -> str:
    """iptables-save's text of :func:`save_lines`' tables."""
    lines: list[str] = []
    for table in tables:
        lines.append(f"*{table.name}")
        for c in table.chains:
            packets, octets = c.counters or (0, 0)
            lines.append(f":{c.name} {c.policy or '-'} [{packets}:{octets}]")
        for c in table.chains:
            if c.rule_counters is None:
                lines += c.lines
            else:
                lines += [text if n is None else f"[{n[0]}:{n[1]}] {text}"
                          for text, n in zip(c.lines, c.rule_counters, strict=True)]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"
