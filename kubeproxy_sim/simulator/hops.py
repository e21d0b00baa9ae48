"""Following a connection on to another node: the one decision send's expected shares, dist's exact shares and
the kernel differential's prediction share.

A connection DNATed to (or left addressed to) another node's own address arrives there from outside: that
node's conntrack sees a new connection, which its rules (a NodePort's) may DNAT again. NodePorts whose
endpoints are each other's go round until the packet's TTL runs out, and the node that would forward it once
more sends ICMP time exceeded to its source as it arrived there, which each node before de-NATs by its conntrack
as it does a reply: the client hears it as it hears a router's "no route" (``network.circles_reason``). The
packet walk (``network.MAX_HOPS``) ends such a connection so, and so must every prediction of it: past
:data:`NODE_HOPS` followings a packet that would still be followed is that verdict, never the address it was
last sent to.
"""

from __future__ import annotations

from typing import Final

from kubeproxy_sim.netfilter.packet import ICMP_PROTOS, Packet
from kubeproxy_sim.simulator.topology import UPLINK

NODE_HOPS: Final = 3
"""How many times one connection is followed on to another node before it counts as going round in circles (a
real chain of Services in front of other nodes' NodePorts is one or two long; the walk's own cap is
``network.MAX_HOPS``, of single packet hops)."""

IN_CIRCLES: Final = "the connection went round in circles: each node's rules sent it on to another node's NodePort"
"""Why a connection :func:`next_hop` stops following ends as ``network.circles_reason`` says, for the notes that
name it."""


class Circles:
    """:func:`next_hop`'s answer for a packet that would be followed once more than :data:`NODE_HOPS` allow."""

    __slots__ = ()


CIRCLES: Final = Circles()


def circled(depth: int) -> bool:
    """Whether a packet followed ``depth`` times already and sent on once more goes round in circles (past
    :data:`NODE_HOPS`): the one limit :func:`next_hop` and send's router hops both test."""
    return depth >= NODE_HOPS


def next_hop(node: str, owner: str | None, depth: int, proto: str, src: str, ip: str,
             port: int) -> tuple[str, Packet] | Circles | None:
    """Where a packet leaving ``node`` for ``ip``:``port`` (from ``src``, as the rules leave it) is traced next:
    ``owner`` (the node whose own address ``ip`` is; None: no node's), as a new connection arriving from outside,
    or None when it ends here (no other node has the address). ``depth``: how many followings led to ``node``;
    at :data:`NODE_HOPS` a packet that would be followed again is :data:`CIRCLES` (``network.circles_reason``)."""
    if owner is None or owner == node:
        return None
    if circled(depth):
        return CIRCLES
    return owner, Packet.of(proto, src, ip, None if proto in ICMP_PROTOS else port, in_iface=UPLINK)
