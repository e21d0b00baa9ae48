"""Target compilers: what a rule's target does to a walk, and the parameters of the targets that act.

A target is a :class:`~kubeproxy_sim.netfilter.compile_types.Kind` (a jump or goto
when it names a chain of the table, a verdict, a NAT, a mark, or nothing this
model follows), the reason when that kind is only assumed, and for
DNAT/SNAT/MASQUERADE/REDIRECT and MARK/CONNMARK their range or mark operation.
"""

from __future__ import annotations

from dataclasses import replace

from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.compile_match_state import parse_mark, uint32_value
from kubeproxy_sim.netfilter.compile_types import Kind, NatRange
from kubeproxy_sim.netfilter.model import Target
from kubeproxy_sim.netfilter.natrange import read_nat_to
from kubeproxy_sim.netfilter.packet import format_endpoint

# Targets that do not change anything this model follows (verdict, addresses, marks, conntrack).
PASSIVE_TARGETS = frozenset(
    "LOG NFLOG ULOG TRACE AUDIT CHECKSUM TCPMSS CLASSIFY DSCP TOS TTL HL SECMARK CONNSECMARK IDLETIMER LED"
    " RATEEST TEE".split()
)


def parse_nat_range(text: str, family: int) -> NatRange:
    """A ``--to-destination``/``--to-source`` value read as the parser read it (libxt_NAT's parse_to:
    :func:`~kubeproxy_sim.netfilter.natrange.read_nat_to`, its ports by :func:`syntax.nat_port_range`), so a trace
    maps what iptables-restore loaded: ``[fd00::1]x:8080`` is [fd00::1]:8080, ``12:80`` port 80 alone. Raises
    ValueError for what iptables refuses or a name (an anonymised address), which no packet can be mapped to."""
    read = read_nat_to(text, family)
    if isinstance(read, str):
        raise ValueError(f"{text!r} is not a NAT range of IPv{family} ({read}; a name, or anonymised?)")
    plo = phi = None
    if read.ports is not None:
        ports = syntax.nat_port_range(read.ports)
        if ports is None:
            raise ValueError(f"{text!r}: {read.ports!r} is not a port range iptables takes")
        p1, _, p2 = ports.partition("-")
        plo = int(p1)
        phi = int(p2) if p2 else plo
    lo, hi = read.low, read.high
    endpoint = None
    if lo is not None and lo == hi and plo is not None and plo == phi:  # one address, one port
        endpoint = format_endpoint(family, lo, plo)
    return NatRange(lo, hi, plo, phi, text, endpoint)


def mark_target(target: Target) -> tuple[int, int, str]:
    """MARK/CONNMARK as (value, mask, op); iptables-save writes most forms as --set-xmark."""
    for at, opt in enumerate(target.options):
        if opt.flag in ("--set-xmark", "--set-mark"):
            value, mask = parse_mark(opt.value, opt.flag)
            return _connmark_masked(target, at, value, mask, "xset" if opt.flag == "--set-xmark" else "set")
        if opt.flag in ("--or-mark", "--xor-mark", "--and-mark"):
            return _connmark_masked(target, at, uint32_value(opt.value, opt.flag), 0, opt.flag[2:-5])
        if opt.flag in ("--save-mark", "--restore-mark"):  # (nfmask, ctmask, op); --mask M sets both to M
            both = target.option("--mask")
            nf, ct = target.option("--nfmask") or both, target.option("--ctmask") or both
            return (uint32_value(nf.value, nf.flag) if nf else 0xFFFFFFFF), \
                (uint32_value(ct.value, ct.flag) if ct else 0xFFFFFFFF), opt.flag[2:-5]
    raise ValueError(f"{target.name} needs --set-xmark, --set-mark, --or-mark, --xor-mark or --and-mark")


def _connmark_masked(target: Target, at: int, value: int, mask: int, op: str) -> tuple[int, int, str]:
    """(value, mask, op) of the mark operation at option ``at``, but for CONNMARK's ``--mask`` or ``--ctmask``
    after it (:func:`syntax.connmark_ctmask`), which replaces the operation's own ctmask: an xset of the
    operation's ctmark, an ``--and-mark``'s being 0."""
    if target.name != "CONNMARK":
        return value, mask, op
    given = syntax.connmark_ctmask(target.options, at)
    if given is None:
        return value, mask, op
    return (0 if op == "and" else value), uint32_value(given.value, given.flag), "xset"


def target_kind(target: Target | None, table: str, chains: set[str]) -> tuple[Kind, str]:
    """The kind of a target and, for an unmodelled one, why it is uncertain."""
    if target is None:
        return Kind.CONTINUE, ""
    name = target.name
    if name in chains and not target.options:  # (-j LOG --log-prefix x before -E FOO LOG: the extension, as
        return (Kind.GOTO if target.goto else Kind.JUMP), ""  # libiptc keeps it; the parser refuses a chain's)
    fixed = {"ACCEPT": Kind.ACCEPT, "DROP": Kind.DROP, "REJECT": Kind.REJECT, "RETURN": Kind.RETURN,
             "DNAT": Kind.DNAT, "SNAT": Kind.SNAT, "MASQUERADE": Kind.MASQUERADE, "REDIRECT": Kind.REDIRECT,
             "MARK": Kind.MARK, "CONNMARK": Kind.CONNMARK, "NOTRACK": Kind.NOTRACK}
    if name in fixed:
        return fixed[name], ""
    if name == "CT":
        if target.option("--notrack") is not None:
            return Kind.NOTRACK, ""
        zoned = next((o for o in reversed(target.options) if o.flag in ZONE_FLAGS), None)  # (the last: ct_zone)
        if zoned is None:
            return Kind.CONTINUE, ""
        return Kind.CT_ZONE, (f"target CT {zoned.flag} {zoned.value}: conntrack keeps each zone's connections "
                              "apart, which is not modelled: the packet's conntrack state is assumed to be its "
                              "state in that zone (the zone's number is followed into a NAT range's choice)")
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


ZONE_FLAGS = ("--zone", "--zone-orig", "--zone-reply")


def ct_zone(target: Target) -> int | None:
    """The conntrack zone id a CT target gives a new connection (libxt_CT reads 0-65535, base 0), None for
    ``mark``: the packet's mark then, cut to 16 bits (nf_ct_zone_tmpl). A direction's zone (--zone-orig,
    --zone-reply) has the same id, which is all the NAT range's choice reads (find_best_ips_proto). Given more
    than once (``--zone-orig 1 --zone-reply 2``), each sets the one id, so the last is kept, as libxt_CT does;
    a ``mark`` among them sets a flag the later ones do not clear, so the mark is read then."""
    zones = [_zone_id(o.flag, o.value) for o in target.options if o.flag in ZONE_FLAGS]
    return None if None in zones else zones[-1]


def _zone_id(flag: str, value: str) -> int | None:
    """One zone option's id, None for ``mark``; raises ValueError for what iptables refuses."""
    if value.lower() == "mark":  # (libxt_CT compares it ignoring case)
        return None
    zone = uint32_value(value, flag, what="a zone 0-65535 or mark")
    if zone > 0xFFFF:
        raise ValueError(f"{flag} {value} is not a zone 0-65535 or mark; iptables refuses it")
    return zone


def nat_of(target: Target, kind: Kind, family: int) -> NatRange | None:
    """The range a NAT target maps into, with the flags that change how the kernel picks from it: the one reading
    of a NAT rule's options that the tracer and the simulator share. None for a MASQUERADE or REDIRECT with
    neither ``--to-ports`` nor a flag (the port is left to the kernel's default search)."""
    flag = {Kind.DNAT: "--to-destination", Kind.SNAT: "--to-source"}.get(kind, "--to-ports")
    opt = target.option(flag)
    if opt is None and kind in (Kind.DNAT, Kind.SNAT):
        raise ValueError(f"{target.name} needs {flag}")
    persistent = target.option("--persistent") is not None
    random = target.option("--random") is not None or target.option("--random-fully") is not None
    if opt is None:
        nat = NatRange(None, None, None, None, "")  # a MASQUERADE or REDIRECT: no port range
    elif kind in (Kind.MASQUERADE, Kind.REDIRECT):
        low, _, high = opt.value.partition("-")
        nat = NatRange(None, None, int(low), int(high) if high else int(low), opt.value)
    else:
        nat = parse_nat_range(opt.value, family)
    if persistent or random:
        return replace(nat, persistent=persistent, random=random)
    return nat if opt is not None else None


def nat_reads(kind: Kind, nat: NatRange | None) -> frozenset[str]:
    """The branch fields a DNAT's or SNAT's choice from its range reads (see evaluate's ``_nat``): an address
    range hashes the source and destination addresses and the conntrack zone; a port range keeps a DNAT's
    destination port when inside it; an SNAT keeps a source (address and port) already inside its range, and
    a MASQUERADE keeps its source port inside its ``--to-ports`` range."""
    if nat is not None and kind is Kind.MASQUERADE and nat.port_lo != nat.port_hi:
        return frozenset({"src", "sport"})  # its port kept inside --to-ports; the doubt names the source
    if nat is None or kind not in (Kind.DNAT, Kind.SNAT):
        return frozenset()
    fields = set()
    if nat.addr_lo != nat.addr_hi:
        fields |= {"src", "dst", "zone"}
    if nat.port_lo != nat.port_hi:
        fields.add("dport" if kind is Kind.DNAT else "sport")
    if kind is Kind.SNAT and fields:
        fields |= {"src", "sport"}
    return frozenset(fields)
