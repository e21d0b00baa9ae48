"""A later packet of a connection: the translation its first packet chose, then the chains it still meets.

The kernel consults the nat table only for a connection's first packet; every later packet gets the same
translation from conntrack (DNAT in PREROUTING or OUTPUT, SNAT in POSTROUTING) without a rule being read.
So "where does an ESTABLISHED packet to this Service go?" has one answer per way the first packet can go:
trace the first packet (NEW), then, for each outcome that opens a connection, the later packet already
translated. Walking the later packet alone would keep the Service's address and route it wrongly (a packet
to a cluster IP is forwarded, not delivered to the node's API server it was DNATed to).

The later packet carries its connection (:attr:`Packet.ct_dnat`, ``ct_snat``, ``ctstatus``): raw and mangle
PREROUTING (or OUTPUT) see its own destination, conntrack rewrites it to the first packet's DNAT destination
before routing, and ``-m conntrack`` tests the connection, the same for every packet of it: its DNAT or SNAT
status, its original destination and port (the packet's own), its status bits (:func:`later_status`).

A reply (conntrack direction REPLY, :func:`trace_reply`) is walked as given, with no nat rule: its
connection's first packet went the other way, from a client the trace is not told of, so the translation
conntrack undoes for it (a masqueraded client's address restored as the destination before routing, the
service's address put back as the source on the way out) is not known. That is listed as uncertain.
"""

from __future__ import annotations

from dataclasses import replace

from kubeproxy_sim.netfilter.packet import ICMP_ANSWERS, ICMP_PROTOS, CtState, Packet, parse_address, split_endpoint
from kubeproxy_sim.netfilter.trace import FirstPacketOutcome, Outcome, Tracer, TraceResult, Uncertainty

REPLY_STATES = (CtState.ESTABLISHED, CtState.RELATED)
"""The states a packet in its connection's reply direction can have: a NEW one is its connection's first packet,
the original direction; an INVALID or UNTRACKED one belongs to no connection. ``trace --ctdir REPLY`` reads it."""
CLOSED = ("DROP", "REJECT")
"""Verdicts of a first packet that open no connection: no later packet exists on those branches."""
REVERSE_NAT = Uncertainty(
    None, "conntrack's reverse translation",
    "the connection's first packet is not known, so the translation conntrack undoes for its replies is not: the "
    "reply keeps the addresses given all the way (the kernel restores a masqueraded client's address as the "
    "destination before routing, and a DNATed service's address as the source on the way out; give the endpoint "
    "as --src and the client as --dst)")
"""What a reply's trace assumes: listed first, as conntrack applies it before the first nat hook's rules."""


def as_reply(packet: Packet) -> Packet:
    """``packet`` in its connection's reply direction, as ``-m conntrack --ctdir REPLY`` sees it: an ICMP request
    (a packet made in the original direction: a ping) becomes its answer (an echo reply), which is what that
    direction carries (conntrack's invmap)."""
    answer = ICMP_ANSWERS.get(packet.proto, {}).get(packet.icmp_type) if not packet.reply else None  # type: ignore[arg-type]
    reply = replace(packet, reply=True) if answer is None else replace(packet, reply=True, icmp_type=answer)
    return replace(reply, ctstatus=later_status(reply))


def later_status(packet: Packet) -> frozenset[str]:
    """The status bits a packet of an established connection finds (``-m conntrack --ctstatus``), besides those
    it was given.

    conntrack sets them before any rule but raw's sees the packet: CONFIRMED (the first packet passed its last hook),
    SEEN_REPLY (a reply came: the connection is ESTABLISHED) and, in a TCP connection's original direction,
    ASSURED (the ACK ending the handshake sets it). A reply, or a UDP or SCTP packet, may come before ASSURED
    (the SYN-ACK, a flow's first exchange): not known, listed as uncertain where a rule tests it.

    A RELATED packet in the original direction opens a connection a helper expected: init_conntrack sets EXPECTED
    on every connection made from an expectation. An ICMP error RELATED to a connection belongs to that
    connection (its master), which holds no EXPECTED of its own.
    """
    if packet.ctstate is CtState.RELATED and not packet.reply and packet.proto not in ICMP_PROTOS:
        return packet.ctstatus | {"EXPECTED"}
    if packet.ctstate is not CtState.ESTABLISHED:
        return packet.ctstatus
    assured = ("ASSURED",) if packet.proto == "tcp" and not packet.reply else ()
    return packet.ctstatus | {"CONFIRMED", "SEEN_REPLY", *assured}


def trace_reply(tracer: Tracer, packet: Packet) -> TraceResult:
    """Trace ``packet`` (ESTABLISHED or RELATED) as a reply of its connection: walked as given, reading no nat
    rule (conntrack's reverse translation applies instead, unknown here and listed as uncertain)."""
    if packet.ctstate not in REPLY_STATES:
        raise ValueError(f"a {packet.ctstate} packet has no reply direction; expected {' or '.join(REPLY_STATES)}")
    result = tracer.trace(as_reply(packet))
    return replace(result, uncertain=(REVERSE_NAT, *result.uncertain))


def trace_later(tracer: Tracer, packet: Packet) -> TraceResult:
    """Trace ``packet`` (ESTABLISHED) as a later packet of the connection its NEW twin opens.

    A branch on which the first packet is dropped or rejected keeps that outcome, as a
    :class:`FirstPacketOutcome` with the first packet's path: the connection never exists, which
    is what a client sending to that address sees. Outcomes are merged as the tracer merges them
    (one per verdict, destination and masquerade, and whether the first packet decided it; the
    first path kept).
    """
    first = tracer.trace(replace(packet, ctstate=CtState.NEW))
    merged: dict[tuple[str, str | None, bool, bool], Outcome] = {}
    uncertain: dict[tuple[int | None, str, str], Uncertainty] = {}
    _note(uncertain, first.uncertain)
    for opened in first.outcomes:
        if opened.verdict in CLOSED:
            _add(merged, FirstPacketOutcome(opened.verdict, None, opened.probability_exact, False, opened.path,
                                                 opened.hooks))
            continue
        later = tracer.trace(_later(packet, opened))
        _note(uncertain, later.uncertain)
        for outcome in later.outcomes:
            _add(merged, _through(opened, outcome))
    return TraceResult(packet, first.origin, tuple(merged.values()), tuple(uncertain.values()))


def _later(packet: Packet, opened: Outcome) -> Packet:
    """The later packet with its connection as ``opened`` made it: conntrack's DNAT binding, if any (applied before
    routing), its source NAT and status bits."""
    status = later_status(packet)
    if opened.verdict != "DNAT" or opened.destination is None:
        return replace(packet, ctstatus=status, ct_snat=opened.masquerade)
    dnat: tuple[int, int | None]
    if packet.dport is None:  # a packet without ports: the destination is a bare address
        dnat = (parse_address(opened.destination)[1], None)
    else:
        address, port = split_endpoint(opened.destination)
        dnat = (parse_address(address)[1], port)
    return replace(packet, ctstatus=status, ct_dnat=dnat, ct_snat=opened.masquerade)


def _through(opened: Outcome, later: Outcome) -> Outcome:
    """The later packet's end, with the connection's translation: its share is conditional on ``opened``."""
    share = opened.probability_exact * later.probability_exact
    if later.verdict in CLOSED:
        return Outcome(later.verdict, None, share, False, later.path, later.hooks)
    verdict = "DNAT" if opened.verdict == "DNAT" else later.verdict
    return Outcome(verdict, opened.destination, share, opened.masquerade, later.path, later.hooks)


def _add(merged: dict[tuple[str, str | None, bool, bool], Outcome], outcome: Outcome) -> None:
    key = (outcome.verdict, outcome.destination, outcome.masquerade, isinstance(outcome, FirstPacketOutcome))
    kept = merged.get(key)
    if kept is None:
        merged[key] = outcome
    else:
        merged[key] = replace(kept, probability_exact=kept.probability_exact + outcome.probability_exact)


def _note(seen: dict[tuple[int | None, str, str], Uncertainty], found: tuple[Uncertainty, ...]) -> None:
    for doubt in found:
        seen.setdefault((doubt.line, doubt.rule, doubt.reason), doubt)


__all__ = ["REPLY_STATES", "REVERSE_NAT", "as_reply", "later_status", "trace_later", "trace_reply"]
