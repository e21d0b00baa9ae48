"""netaddr, read without leaving reference cycles behind.

netaddr's errors are reference cycles, and so is netaddr reading IPv6 text
without being told the family (it tries IPv4 first and keeps that error). With
the cyclic collector paused around bulk work (:mod:`kubeproxy_sim.objects.bulk`)
one such value would keep a whole build alive, so every caller that reads
untrusted text with netaddr goes through :func:`netaddr_address` /
:func:`netaddr_network`, or gives the version and calls :func:`drop_tracebacks`
on what it catches (tests/test_netaddr_cycles.py checks each entry point).

A module of its own, apart from :mod:`kubeproxy_sim.objects.addr`: the objects
loader reads addresses without netaddr, and a command that never needs netaddr
(``rules`` on an IPv4 cluster) does not pay for importing it.
"""

from __future__ import annotations

import traceback

import netaddr

NETADDR_ERRORS = (netaddr.AddrFormatError, ValueError, TypeError)
"""What netaddr raises for text (or a value) it cannot read."""


def drop_tracebacks(exc: BaseException) -> None:
    """Free the frames of a caught exception's chain (``__cause__`` and ``__context__``) now.

    netaddr's errors are reference cycles: ``str_to_int`` keeps the OSError it chains from
    in a local (exc -> ``__traceback__`` -> frame -> local -> exc), and the frames of its
    traceback reach the callers' frames and their data. Without the cyclic collector (objects.bulk
    pauses it around bulk work) one unreadable address would keep a whole build alive.
    Clearing each traceback's finished frames and dropping the tracebacks breaks every such cycle.
    """
    pending = [exc]
    seen: set[int] = set()
    while pending:
        one = pending.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        if one.__traceback__ is not None:
            traceback.clear_frames(one.__traceback__)  # frames still running are left alone
            one.__traceback__ = None
        pending += [e for e in (one.__cause__, one.__context__) if e is not None]


def _version(text: object, version: int | None) -> int | None:
    """The family netaddr is told: a text with a colon can only be IPv6, one without only IPv4.

    Without it netaddr tries IPv4 first and swallows that error inside itself: every IPv6 text,
    valid or not, would leave a cycle that no caller can reach to break.
    """
    if version is None and isinstance(text, str):
        return 6 if ":" in text else 4
    return version


def netaddr_address(text: object, version: int | None = None, flags: int = 0) -> netaddr.IPAddress | None:
    """``netaddr.IPAddress(text, version, flags)``, or None where it raises, leaving no cycle behind.

    Every caller that reads untrusted text with netaddr and goes on after a refusal comes
    through here (or :func:`netaddr_network`): the family is given (:func:`_version`) and a
    refusal's tracebacks are dropped (:func:`drop_tracebacks`). Reads what netaddr reads.
    """
    try:
        return netaddr.IPAddress(text, _version(text, version), flags)
    except NETADDR_ERRORS as exc:
        drop_tracebacks(exc)
        return None


def netaddr_network(text: object) -> netaddr.IPNetwork | None:
    """``netaddr.IPNetwork(text)``, or None where it raises, leaving no cycle behind (as :func:`netaddr_address`)."""
    try:
        return netaddr.IPNetwork(text, _version(text, None))
    except NETADDR_ERRORS as exc:
        drop_tracebacks(exc)
        return None
