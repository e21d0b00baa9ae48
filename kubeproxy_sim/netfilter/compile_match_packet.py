"""Match compilers for what the packet's own headers say: addresses, interfaces, protocols and ports.

The built-in options (``-s -d -i -o -p -f``, tested in the kernel's header
order before any match module) and the match modules that read only header
fields (tcp/udp/sctp/dccp with their ports and flags, multiport,
iprange, icmp, and IPv6's extension-header matches: rt, frag, hbh, dst, ah,
ipv6header). The conntrack match reuses the address, port and protocol
checks here for the addresses its connection recorded.

Several checks are memoised (``lru_cache``): a few protocols and ports recur
across thousands of service rules, and one shared function serves them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from kubeproxy_sim.netfilter.compile_types import SOURCE_FIELDS, Check, Doubt, RuleParts, reading
from kubeproxy_sim.netfilter.hostmask import read_conntrack_host
from kubeproxy_sim.netfilter.model import Option
from kubeproxy_sim.netfilter.packet import PACKET_PROTOCOLS, parse_network
from kubeproxy_sim.netfilter.syntax import iprange_bounds, ipv6_headers, protocol_number


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


def address_check(attr: str, flag: str, value: str, negated: bool, family: int) -> Check:
    """-s/-d as a mask and a compare; an anonymised or foreign address never matches (reported)."""
    if "," in value and flag in ("-s", "-d"):  # (conntrack's addresses are one each: iptables refuses a list)
        return _address_list_check(attr, flag, value, negated, family)
    # (read as the dump's family reads it: ::ffff:1.2.3.4 is 1.2.3.4/32 to iptables-legacy-restore v1.8.9, and a
    # zero mask, read before the host, takes any host: ip6tables reads -s 1.2.3.4/0 as ::/0)
    try:
        _, net, mask = parse_network(value, family == 6) if flag in ("-s", "-d") else \
            _conntrack_network(value, family)
    except ValueError:
        doubt = Doubt(f"{flag} {value} is not an address (anonymised in the dump?); assumed not to match",
                      negated)
        return reading(lambda b: doubt)
    source = ("net", net, mask) if attr in SOURCE_FIELDS else None
    if negated:
        return reading(lambda b: (getattr(b, attr) & mask) != net, attr, source=source)
    return reading(lambda b: (getattr(b, attr) & mask) == net, attr, source=source)


def _conntrack_network(value: str, family: int) -> tuple[int, int, int]:
    """(family, network, mask) of a conntrack match's address, read as libxt_conntrack reads it
    (:func:`~kubeproxy_sim.netfilter.hostmask.read_conntrack_host`: ``1.2.3`` is 1.2.0.3, where -s reads
    1.2.3.0); ValueError for what it cannot read."""
    read = read_conntrack_host(value, family == 6)
    if read is None:
        raise ValueError(f"{value!r} is not an IP address (a name, or anonymised)")
    address, mask = read
    return family, address & mask, mask


def _address_list_check(attr: str, flag: str, value: str, negated: bool, family: int) -> Check:
    """A list (``-s 1.2.3.4/0,5.6.7.8``) matches when any item does: iptables-restore makes one rule per item
    (v1.8.9 saves that one as ``-A FORWARD -j DROP`` and ``-A FORWARD -s 5.6.7.8/32 -j DROP``), and a walk through
    them meets the same verdict. (A negated list is refused as the dump is read; here it is the negation of any.)"""
    items = [address_check(attr, flag, item, False, family) for item in value.split(",")]

    def check(b: object) -> object:
        doubt: Doubt | None = None
        for item in items:
            answer = item(b)
            if isinstance(answer, Doubt):
                doubt = doubt or answer
            elif answer:
                return not negated
        if doubt is not None:
            return Doubt(doubt.reason, doubt.assume != negated)
        return negated

    return reading(check, attr)


@lru_cache(maxsize=1024)
def protocol_check(value: str, negated: bool, conntrack: bool = False) -> Check:
    """-p's check, or (``conntrack``) conntrack's ``--ctproto``, whose value iptables does not lower-case and whose
    0 (all) the kernel compares as any other number (xt_conntrack: no connection's protocol is 0), where -p's 0 is
    every protocol. (Memoised: a pure function of its arguments, and every service rule names its protocol.)"""
    number = protocol_number(value, fold=not conntrack)  # (iptables' reading: -p 6, 006 and 0x6 are tcp)
    if number == 0 and not conntrack:
        return reading(lambda b: not negated)
    name = PACKET_PROTOCOLS.get(number) if number is not None else None
    return reading(lambda b: (b.proto == name) != negated, "proto")  # type: ignore[attr-defined]


HEADER_ORDER = {"-s": 0, "-d": 1, "-i": 2, "-o": 3, "-p": 4, "-f": 5}


def header_checks(options: Sequence[Option], family: int) -> list[Check]:
    """The checks of the built-in options, in the kernel's order (addresses, interfaces, protocol)."""
    builtin = [(HEADER_ORDER[o.flag], o) for o in options if not o.module and o.flag in HEADER_ORDER]
    builtin.sort(key=lambda item: item[0])
    checks: list[Check] = []
    for _, opt in builtin:
        if opt.flag in ("-s", "-d"):
            checks.append(address_check("src" if opt.flag == "-s" else "dst", opt.flag, opt.value,
                                         opt.negated, family))
        elif opt.flag in ("-i", "-o"):
            checks.append(_iface_check("in_iface" if opt.flag == "-i" else "out_iface", opt.flag, opt.value,
                                       opt.negated))
        elif opt.flag == "-p":
            checks.append(protocol_check(opt.value, opt.negated))
        else:  # -f: the first packet of a connection is never a non-first fragment
            checks.append(reading(lambda b, neg=opt.negated: neg))  # type: ignore[misc]  # mypy#15459
    return checks


def _port_range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition(":")
    low = int(lo) if lo else 0
    return low, int(hi) if hi else (65535 if _ else low)


@lru_cache(maxsize=4096)
def ports_check(attr: str, spec: str, negated: bool) -> Check:
    """(Memoised like :func:`protocol_check`: a few ports recur across thousands of rules.)

    A packet given without this port (``trace`` without ``--sport``) is assumed to pass the test, negated or
    not, one port or a range alike, and the doubt says which way that put the port."""
    ranges = tuple(_port_range(p) for p in spec.split(","))
    unknown = port_doubt(attr, spec, negated)
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        port = ranges[0][0]

        def one(b: object) -> object:
            value = getattr(b, attr)
            return unknown if value is None else (value == port) != negated

        return reading(one, attr)

    def check(b: object) -> object:
        value = getattr(b, attr)
        if value is None:
            return unknown
        return any(lo <= value <= hi for lo, hi in ranges) != negated

    return reading(check, attr)


def port_doubt(attr: str, spec: str, negated: bool) -> Doubt:
    """What a port test assumes of a packet without that port: that it passes, the port taken as outside
    ``spec`` when the test is negated."""
    return Doubt(f"the packet has no {attr}; assumed {'outside' if negated else 'within'} {spec}, so the "
                 "test matches", True)


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


def proto_module(parts: RuleParts, module: str, opts: Sequence[Option]) -> None:
    """tcp/udp/sctp/dccp: the protocol itself, then --sport/--dport (ranges, negation)."""
    parts.checks.append(_is_protocol(module))
    for o in opts:
        if o.flag in ("--sport", "--dport"):
            parts.checks.append(ports_check("sport" if o.flag == "--sport" else "dport", o.value, o.negated))
        elif o.flag == "--syn":
            parts.checks.append(_tcp_flags_check("SYN,RST,ACK,FIN", "SYN", o.negated))
        elif o.flag == "--tcp-flags" and len(o.args) == 2:
            parts.checks.append(_tcp_flags_check(o.args[0], o.args[1], o.negated))
        else:
            parts.doubts.append(f"{module} {o.flag} is not modelled; assumed to match")


def _multiport(parts: RuleParts, opts: Sequence[Option]) -> None:
    for o in opts:
        if o.flag == "--ports":
            parts.checks.append(_either_port(o.value, o.negated))
        else:
            parts.checks.append(ports_check("sport" if o.flag == "--sports" else "dport", o.value, o.negated))


def _either_port(spec: str, negated: bool) -> Check:
    """multiport ``--ports``: the source or the destination port in ``spec``. Either port found in it decides;
    else an unknown port is assumed to pass the test (as :func:`ports_check` assumes), and says so."""
    src, dst = ports_check("sport", spec, False), ports_check("dport", spec, False)
    no_sport, no_dport = port_doubt("sport", spec, negated), port_doubt("dport", spec, negated)

    def check(b: object) -> object:
        from_src, from_dst = src(b), dst(b)
        if from_src is True or from_dst is True:
            return not negated
        if isinstance(from_src, Doubt):
            return no_sport
        return no_dport if isinstance(from_dst, Doubt) else negated

    return reading(check, "sport", "dport")


def _iprange(parts: RuleParts, opts: Sequence[Option]) -> None:
    """iprange's ranges as the parser read them (:func:`iprange_bounds`: ``1-2`` is 1.0.0.0-2.0.0.0,
    ``0x0a.0.0.1`` 10.0.0.1); ValueError for a side no address of the family reads (an anonymised one)."""
    for o in opts:
        bounds = iprange_bounds(o.value, parts.family == 6)
        if isinstance(bounds, str):
            raise ValueError(f"{o.flag} {o.value}: {bounds!r} is not an IPv{parts.family} address (a name, or "
                             "anonymised)")
        lo, hi = bounds
        attr = "src" if o.flag == "--src-range" else "dst"
        parts.checks.append(reading(
            lambda b, a=attr, lo=lo, hi=hi, n=o.negated:  # type: ignore[misc]  # mypy#15459
            (lo <= getattr(b, a) <= hi) != n,
            attr, source=("range", lo, hi) if attr == "src" else None))


ICMP_ANY = 0xFF
"""xt_icmp's wildcard type (``--icmp-type any``, ``255``): it matches every ICMP packet whatever its code
(ip_tables.c's icmp_type_code_match). ip6_tables' icmp6 match has none: its 255 is type 255 alone."""


def read_icmp_type(text: str, ipv6: bool) -> tuple[int, int, int] | None:
    """(type, lowest code, highest code) of an ``--icmp-type``/``--icmpv6-type`` value as iptables 1.8.9 reads
    it: :func:`~kubeproxy_sim.netfilter.saveform.read_icmp`, the one reader the parser refuses values by (a name
    in any case or a prefix naming one entry alone, else ``TYPE[:TYPE][/CODE[:CODE]]`` in C's bases; ``3:3`` is
    type 3, ``3:3/1`` 3/1; a bare type takes every code; ``any``, IPv4's only, is type 255). None when iptables
    refuses it (``256``, ``3:5``, ``8/``, ``3/3/3``). saveform is imported here only when a type is read: it costs
    every trace ~20 ms to import, and most rules and packets have no ICMP type."""
    from kubeproxy_sim.netfilter.saveform import read_icmp

    read = read_icmp(text, ipv6)
    return None if isinstance(read, str) else read


def _icmp_written(text: str, ipv6: bool) -> str | None:
    """The ``TYPE[/CODE[:CODE]]`` (or ``any``) a value stands for: the entry of iptables' name table it names, or
    is an unambiguous prefix of, any case, else the text itself; None when it is a prefix of several names. The
    tables are saveform's (iptables' own: each name with the type and code it stands for, the numbers
    iptables-save prints in its place), imported here only when a type is read: saveform costs every trace ~20 ms
    to import, and most rules and packets have no ICMP type."""
    from kubeproxy_sim.netfilter.saveform import ICMP_TYPES, ICMPV6_TYPES

    names = ICMPV6_TYPES if ipv6 else ICMP_TYPES
    folded = text.lower()
    found = [value for name, value in names.items() if name.lower().startswith(folded)]
    if len(found) > 1:
        return None  # ("Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?")
    return found[0] if found else text


def icmp_packet_type(text: str, ipv6: bool) -> tuple[int, int] | None:
    """One packet's (type, code) in ``--icmp-type``'s words (what trace's ``--icmp-type`` reads): a name or
    ``TYPE[/CODE]`` as :func:`read_icmp_type` reads it, a bare type having code 0. None for what names no one
    packet: what iptables refuses, IPv4's ``any`` by any of its spellings (``an``: a rule's wildcard, no packet's
    type; the number 255 is type 255), and a code range (``3/0:255``, ``3/3:3``)."""
    written = _icmp_written(text, ipv6)
    if written is None or written == "any" or ":" in written:
        return None
    test = read_icmp_type(written, ipv6)
    if test is None:
        return None
    return test[0], (test[1] if "/" in written else 0)


@lru_cache(maxsize=256)
def icmp_check(value: str, negated: bool, ipv6: bool) -> Check:
    """``--icmp-type``/``--icmpv6-type`` as xt_icmp and ip6t_icmp6 test it: the packet's type that one and its
    code within the range, or (IPv4) the type is ``any``, the answer inverted by ``!``. (The kernel's match also
    fails a fragment that is not the first whatever ``!`` says; a packet here is never one.) A packet whose type
    is not known is assumed to pass, negated or not, and the doubt says so; a value iptables refuses (a rule no
    dump holds) is assumed to match. (Memoised: a pure function, and a few types recur.)"""
    flag = "--icmpv6-type" if ipv6 else "--icmp-type"
    test = read_icmp_type(value, ipv6)
    if test is None:
        doubt = Doubt(f"{flag} {value} is not an ICMP{'v6' if ipv6 else ''} type iptables reads; assumed to match")
        return reading(lambda b: doubt)
    type_, low, high = test
    unknown = Doubt(f"the packet's ICMP type is not known; assumed {'not ' if negated else ''}to be {value}, so the "
                    "test matches")
    if type_ == ICMP_ANY and not ipv6:
        return reading(lambda b: not negated)  # (every ICMP packet: the protocol is the module's own check)

    def check(b: object) -> object:
        got = b.icmp_type  # type: ignore[attr-defined]
        if got is None:
            return unknown
        return (got == type_ and low <= b.icmp_code <= high) != negated  # type: ignore[attr-defined]

    return reading(check, "icmp_type", "icmp_code")


def icmp_module(parts: RuleParts, module: str, opts: Sequence[Option]) -> None:
    """icmp (IPv4) and icmp6, by either name: the module's own protocol (the kernel loads it only after ``-p icmp``
    or ``-p ipv6-icmp``), then its type test."""
    ipv6 = module != "icmp"
    parts.checks.append(_is_protocol("icmpv6" if ipv6 else "icmp"))
    for o in opts:
        if o.flag in ("--icmp-type", "--icmpv6-type"):
            parts.checks.append(icmp_check(o.value, o.negated, ipv6))
        else:
            parts.doubts.append(f"{module} {o.flag} {o.value} is not modelled; assumed to match")


NEVER = reading(lambda b: False)  # a match no packet passes (also statistic with no chance, in compile_match_state)


def _extension_header(parts: RuleParts, opts: Sequence[Option]) -> None:
    """rt, frag, hbh, dst, ah: the kernel looks for its header (``ipv6_find_hdr``) and, without one, the match
    fails whatever its options and their ``!`` say (ip6t_rt.c, ip6t_frag.c, ip6t_hbh.c, ip6t_ah.c); the packets
    traced and sent here carry no extension header (IPv4's ah and esp need ``-p ah``/``-p esp`` anyway)."""
    parts.checks.append(NEVER)


def _ipv6header(parts: RuleParts, opts: Sequence[Option]) -> None:
    """ipv6header (ip6t_ipv6header.c): the headers a packet has, as a set, against the ``--header`` list. A packet
    here has no extension header, only its protocol's: the set is {proto}. Exact (no ``--soft``): a list of just
    ``proto`` matches, ``!`` matches any other list. ``--soft`` (the packet has all of them): a list within
    {proto} matches; ``! --soft`` (it has none of them): a list without ``proto`` matches."""
    header = next((o for o in opts if o.flag == "--header"), None)
    soft = any(o.flag == "--soft" for o in opts)
    if header is None:
        return
    wanted = ipv6_headers(header.value)
    if isinstance(wanted, str):  # (not reached: reading the rule refuses such a list, and its rule is skipped)
        return
    if soft:
        hit = wanted <= {"proto"} if not header.negated else "proto" not in wanted
    else:
        hit = (wanted == {"proto"}) != header.negated
    if not hit:
        parts.checks.append(NEVER)


PROTOCOL_MODULES = frozenset({"tcp", "udp", "sctp", "dccp"})  # each by proto_module; icmp by icmp_module
PACKET_MODULES: dict[str, Callable[[RuleParts, Sequence[Option]], None]] = {  # the others here, by name
    "multiport": _multiport,
    "iprange": _iprange,
    **dict.fromkeys(("rt", "frag", "hbh", "dst", "ah"), _extension_header),
    "ipv6header": _ipv6header,
}
