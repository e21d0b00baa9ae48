"""One rule compiled: its options handed to the match compilers, its target read, its index key and reads.

This is where the families of match compilers (:mod:`~kubeproxy_sim.netfilter.compile_match_packet`,
:mod:`~kubeproxy_sim.netfilter.compile_match_state`) and the target compiler
(:mod:`~kubeproxy_sim.netfilter.compile_targets`) meet: every rule becomes a tuple
of checks (header checks first, as the kernel tests the ``ipt_entry`` header
before any match module, then the match modules in written order), an optional
probability split (statistic), the reasons it is uncertain, and a target kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from kubeproxy_sim.netfilter.compile_chains import CompiledRule
from kubeproxy_sim.netfilter.compile_match_packet import (
    PACKET_MODULES,
    PROTOCOL_MODULES,
    header_checks,
    icmp_module,
    proto_module,
)
from kubeproxy_sim.netfilter.compile_match_state import STATE_MODULES, RecentMatch, recent_match
from kubeproxy_sim.netfilter.compile_targets import ct_zone, mark_target, nat_of, nat_reads, target_kind
from kubeproxy_sim.netfilter.compile_types import IndexKey, Kind, RuleParts
from kubeproxy_sim.netfilter.model import Option, Rule, RuleSpec
from kubeproxy_sim.netfilter.packet import PACKET_PROTOCOLS, parse_network
from kubeproxy_sim.netfilter.syntax import protocol_number

MODULES: dict[str, Callable[[RuleParts, Sequence[Option]], None]] = {**PACKET_MODULES, **STATE_MODULES}
ICMP_MODULES = frozenset({"icmp", "icmp6", "icmpv6", "ipv6-icmp"})
"""icmp and icmp6 by every name iptables loads them by: ip6tables 1.8.9 (legacy and nft) reads ``-m icmpv6`` and
``-m ipv6-icmp`` as icmp6 (xtables' match aliases; -S prints ``-m icmp6``), case as written (``ICMP6``: "Couldn't
load match")."""


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


def match_parts(spec: RuleSpec, family: int) -> RuleParts:
    parts = RuleParts(family, header_checks(spec.options, family))
    for module, opts in _module_groups(spec):
        if module in PROTOCOL_MODULES:
            proto_module(parts, module, opts)
        elif module in ICMP_MODULES:
            icmp_module(parts, module, opts)
        elif module in MODULES:
            MODULES[module](parts, opts)
        else:
            written = " ".join(f"{'! ' if o.negated else ''}{o.flag} {o.value}".strip() for o in opts)
            parts.doubts.append(f"match module {module}{' (' + written + ')' if written else ''} "
                                "is not modelled; assumed to match")
    return parts


def recent_matches(spec: RuleSpec, family: int) -> Iterator[RecentMatch]:
    """Each ``-m recent`` of a rule, in written order, whose options iptables takes (one it refuses is left out,
    as compiling leaves its rule unusable). What xt_recent's recent_mt_check reads of each when the rule loads."""
    for module, opts in _module_groups(spec):
        if module == "recent":
            try:
                yield recent_match(opts, family)
            except ValueError:
                continue


def compile_rule(rule: Rule, table: str, chains: set[str], family: int) -> CompiledRule:
    """One rule; raises RulesSyntaxError/ValueError when its text cannot be used at all."""
    spec = rule.parsed
    parts = match_parts(spec, family)
    kind, doubt = target_kind(spec.target, table, chains)
    doubts = [*parts.doubts, *([doubt] if doubt else [])]
    compiled = CompiledRule(rule, table, tuple(parts.checks), kind, parts.split, parts.split_mode,
                            tuple(doubts), spec.target, recent=parts.recent)
    target = spec.target
    if kind in (Kind.JUMP, Kind.GOTO) and target is not None:
        compiled.jump_name = target.name
    elif kind in (Kind.DNAT, Kind.SNAT, Kind.MASQUERADE, Kind.REDIRECT) and target is not None:
        compiled.nat = nat_of(target, kind, family)
    elif kind in (Kind.MARK, Kind.CONNMARK) and target is not None:
        compiled.mark = mark_target(target)
    elif kind is Kind.CT_ZONE and target is not None:
        compiled.zone = ct_zone(target)
    compiled.index_key = index_keys(spec, family)
    compiled.reads = _rule_reads(compiled)
    return compiled


# The branch fields a target's effect reads: a walk that rewrites them can make later checks depend on them.
EFFECT_READS = {Kind.MARK: frozenset({"mark", "ctmark"}), Kind.CONNMARK: frozenset({"mark", "ctmark"}),
                Kind.MASQUERADE: frozenset({"out_iface"}), Kind.REDIRECT: frozenset({"in_iface"}),
                Kind.CT_ZONE: frozenset({"mark"})}  # (--zone mark reads it)


def _rule_reads(rule: CompiledRule) -> frozenset[str] | None:
    """Every branch field the rule's checks and effect read; None when a check does not declare its reads."""
    fields = set(EFFECT_READS.get(rule.kind, ())) | nat_reads(rule.kind, rule.nat)
    for check in rule.checks:
        reads = getattr(check, "reads", None)
        if reads is None:
            return None
        fields |= reads
    return frozenset(fields)


def index_keys(spec: RuleSpec, family: int) -> IndexKey:
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
            number = protocol_number(opt.value)  # (-p 6 and 0x6 are tcp, as packets say)
            proto = PACKET_PROTOCOLS.get(number) if number is not None else None
        elif opt.flag == "--dport" and opt.module in PROTOCOL_MODULES and opt.value.isdigit():
            port = int(opt.value)
    return dst, ((proto, port) if proto is not None and port is not None else None)
