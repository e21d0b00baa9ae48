"""A later packet of a connection: the translation its first packet chose, then the chains it still meets.

The kernel consults the nat table only for a connection's first packet; every later packet gets the same
translation from conntrack (DNAT in PREROUTING or OUTPUT, SNAT in POSTROUTING) without a rule being read.
So "where does an ESTABLISHED packet to this Service go?" has one answer per way the first packet can go:
trace the first packet (NEW), then, for each outcome that opens a connection, the later packet already
translated. Walking the later packet alone would keep the Service's address and route it wrongly (a packet
to a cluster IP is forwarded, not delivered to the node's API server it was DNATed to).

The later packet is translated before its first chain: raw and mangle PREROUTING (or OUTPUT) then see the
new destination, where the kernel shows them the old one. kube-proxy writes nothing there.
"""

from __future__ import annotations

from dataclasses import replace

from kubeproxy_sim.netfilter.packet import CtState, Packet, parse_address, split_endpoint
from kubeproxy_sim.netfilter.trace import Outcome, Tracer, TraceResult, Uncertainty

CLOSED = ("DROP", "REJECT")
"""Verdicts of a first packet that open no connection: no later packet exists on those branches."""


def trace_later(tracer: Tracer, packet: Packet) -> TraceResult:
    """Trace ``packet`` (ESTABLISHED) as a later packet of the connection its NEW twin opens.

    A branch on which the first packet is dropped or rejected keeps that outcome: the connection
    never exists, which is what a client sending to that address sees. Outcomes are merged as the
    tracer merges them (one per verdict, destination and masquerade; the first path kept).
    """
    first = tracer.trace(replace(packet, ctstate=CtState.NEW))
    merged: dict[tuple[str, str | None, bool], Outcome] = {}
    uncertain: dict[tuple[int | None, str, str], Uncertainty] = {}
    _note(uncertain, first.uncertain)
    for opened in first.outcomes:
        if opened.verdict in CLOSED:
            _add(merged, opened)
            continue
        later = tracer.trace(_translated(packet, opened))
        _note(uncertain, later.uncertain)
        for outcome in later.outcomes:
            _add(merged, _through(opened, outcome))
    return TraceResult(packet, first.origin, tuple(merged.values()), tuple(uncertain.values()))


def _translated(packet: Packet, opened: Outcome) -> Packet:
    """The later packet as conntrack rewrites it: to the first packet's DNAT destination, if any."""
    if opened.verdict != "DNAT" or opened.destination is None:
        return packet
    address, port = split_endpoint(opened.destination)
    return replace(packet, dst=parse_address(address)[1], dport=port)


def _through(opened: Outcome, later: Outcome) -> Outcome:
    """The later packet's end, with the connection's translation: its share is conditional on ``opened``."""
    share = opened.probability_exact * later.probability_exact
    if later.verdict in CLOSED:
        return Outcome(later.verdict, None, share, False, later.path)
    verdict = "DNAT" if opened.verdict == "DNAT" else later.verdict
    return Outcome(verdict, opened.destination, share, opened.masquerade, later.path)


def _add(merged: dict[tuple[str, str | None, bool], Outcome], outcome: Outcome) -> None:
    key = (outcome.verdict, outcome.destination, outcome.masquerade)
    kept = merged.get(key)
    if kept is None:
        merged[key] = outcome
    else:
        merged[key] = replace(kept, probability_exact=kept.probability_exact + outcome.probability_exact)


def _note(seen: dict[tuple[int | None, str, str], Uncertainty], found: tuple[Uncertainty, ...]) -> None:
    for doubt in found:
        seen.setdefault((doubt.line, doubt.rule, doubt.reason), doubt)


__all__ = ["trace_later"]
