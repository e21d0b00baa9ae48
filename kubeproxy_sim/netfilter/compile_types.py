"""The small types every part of the rule compiler shares: a check, its answer, a target's kind.

A check takes the evaluator's branch state ``b`` and returns True, False or a
:class:`Doubt` (the answer depends on something the model does not know; the
doubt says which way it was assumed and why). :func:`reading` declares the
branch fields a check reads, which the tracer's memo keys on.

These sit apart from the compiled chains (:mod:`~kubeproxy_sim.netfilter.compile_chains`)
so that the match and target compilers can use them without importing the
structure they are assembled into; this module imports nothing of the package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from kubeproxy_sim.objects.values import value_class

Check = Callable[[object], object]
# A check made in a loop binds the loop's values through a lambda's default arguments; mypy
# cannot type such a lambda against Check (python/mypy#15459), hence "ignore[misc]  # mypy#15459".


@value_class
class Doubt:
    """An answer that depends on something unknown: ``assume`` is the answer used."""

    reason: str
    assume: bool = True


SOURCE_FIELDS = frozenset({"src", "orig_src", "orig_dst", "repl_src", "repl_dst"})
"""Branch fields that hold the packet's source address for some packet: a reply's original destination and
reply source are its source (a trace keys a packet's source by the tests of these: see tracekey)."""


def reading(check: Check, *fields: str, source: tuple | None = None) -> Check:
    """Declare the branch fields ``check`` reads (its only inputs besides the node's constant facts).

    The tracer's memo keys a walk on the fields its checks read, so a check without this
    declaration makes every chain that reaches it unmemoised (correct, only slower).

    ``source`` says how a check that reads the source address tests it, so that a tracer can
    class sources instead of keeping every address apart (:mod:`~kubeproxy_sim.netfilter.tracekey`):
    ``("net", network, mask)``, ``("range", low, high)``, ``("type",)`` (addrtype) or ``("none",)``
    (a trace's answer does not depend on the address; only a sampled walk's does).
    """
    check.reads = frozenset(fields)  # type: ignore[attr-defined]
    check.source = source  # type: ignore[attr-defined]
    return check


class Kind(IntEnum):
    """What a rule's target does to the walk."""

    CONTINUE = 0  # no target, or one that only annotates (LOG, NFLOG, comment-only rules)
    JUMP = 1
    GOTO = 2
    RETURN = 3
    ACCEPT = 4
    DROP = 5
    REJECT = 6
    DNAT = 7
    SNAT = 8
    MASQUERADE = 9
    REDIRECT = 10
    MARK = 11
    CONNMARK = 12
    NOTRACK = 13
    CT_ZONE = 14  # CT --zone/--zone-orig/--zone-reply: the connection's conntrack zone


TERMINAL_NAT = frozenset({Kind.DNAT, Kind.SNAT, Kind.MASQUERADE, Kind.REDIRECT})


@value_class
class NatRange:
    """``--to-destination``/``--to-source``: an address range and a port range (None: unchanged)."""

    addr_lo: int | None
    addr_hi: int | None
    port_lo: int | None
    port_hi: int | None
    text: str
    endpoint: str | None = None
    """``IP:PORT`` as a trace prints a destination, for one address and one port: formatted once here,
    not once per traced branch (100,000 endpoints are too many to keep formatted in a cache)."""
    persistent: bool = False
    """``--persistent`` (NF_NAT_RANGE_PERSISTENT): the address hash leaves the destination out."""
    random: bool = False
    """``--random`` or ``--random-fully`` (NF_NAT_RANGE_PROTO_RANDOM_ALL): the port is drawn at random, and an
    SNAT neither keeps a source already in its range nor reuses an earlier connection's mapping."""


@value_class
class PathStep:
    """A rule the packet matched; ``line`` is its line in the dump (None for a rule not read from one)."""

    table: str
    chain: str
    line: int | None
    rule: str


IndexKey = tuple[int | None, tuple[str, int] | None]
"""What a rule can only match: (destination address, (protocol, port)), None when wider.

See :func:`~kubeproxy_sim.netfilter.compile_rules.index_keys`."""


@dataclass(slots=True)
class RuleParts:
    """What the match modules of one rule contribute while it is compiled."""

    family: int
    checks: list[Check] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)
    split: tuple[int, int] | None = None
    split_mode: str = ""
    recent: tuple[str, str, int, int] | None = None  # (name, command, addr mask, hitcount)
