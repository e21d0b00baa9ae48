"""Building hundreds of thousands of small objects without the cyclic collector's rescans.

Loading a large cluster, generating its rules and reading a large dump each
allocate millions of acyclic containers. With the collector on, every
allocation burst triggers collections that walk the whole young heap again,
and the first collection after a pause walks everything built during it; both
cost more than the building itself (measured on 10,000 services: about a
third of the time). :func:`collector_paused` pauses the collector, and on the
way out, when a large number of objects were built, moves them to the
collector's permanent generation (``gc.freeze``) so they are never scanned again.

The garbage is collected before the freeze: ``gc.freeze`` takes every tracked
object, not only ours, and an unreachable cycle of the caller's that is frozen
would never be freed. A caller that can tell its build will be large (from its
input's size: ``expected``) has it collected on the way in, while the heap holds
only its own objects (a few milliseconds); otherwise it is collected on the way
out, which walks everything just built too (0.15-0.3 s at 10,000 services).
Collecting on the way in cannot free a cycle made inside the pause, so it is
for bodies that make none: the models built here have none (the first call
may leave a few hundred objects of the modules it imports). Frozen objects are
still freed by reference counting as soon as they are dropped; only reference
cycles among them would outlive their use. Small builds (tests, one scenario)
stay below the threshold and leave the collector exactly as they found it.

netaddr's errors are reference cycles (their tracebacks reach the frames that
hold them), and so is netaddr reading IPv6 text without a family, even valid
text: it tries IPv4 first and swallows that error inside itself. A paused body
that parses with netaddr therefore goes through :mod:`kubeproxy_sim.objects.netaddr_safe`'s
``netaddr_address``/``netaddr_network``, or gives the version and calls
``drop_tracebacks`` on what it catches (tests/test_netaddr_cycles.py checks each
such caller with the collector off).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def slot_setters(cls: type, names: str | None = None) -> tuple[Callable[[object, object], None], ...]:
    """The ``__set__`` of a slotted class's slot descriptors (all slots, or the blank-separated ``names``).

    The bulk constructors (``make``) write a frozen dataclass's slots through these: the
    frozen ``__init__`` goes through ``object.__setattr__`` per field, about twice the cost,
    and a large cluster or dump builds hundreds of thousands of such objects.
    """
    fields = cls.__slots__ if names is None else names.split()  # type: ignore[attr-defined]
    return tuple(getattr(cls, name).__set__ for name in fields)


def draft_class(cls: type) -> type:
    """A plain class with the slots of the slotted class ``cls``, for bulk constructors that beat :func:`slot_setters`.

    A draft's slots are written as plain attributes (the cheapest store Python has), and the draft then becomes a
    ``cls`` by ``__class__`` assignment, which CPython allows between classes of one layout (same base, same
    slots): the object is a ``cls`` like any other, its fields the values written. For a frozen dataclass of 9
    fields that is 3,800 instructions an object against 8,900 through the setters (callgrind), and a large
    cluster builds two such objects per endpoint. Every slot must be written before the assignment: an unwritten
    one would be missing on the ``cls``.

    CPython-specific: ``__class__`` assignment between such classes is a CPython rule (its layout check), not a
    language guarantee. A slotted class directly on ``object`` qualifies; on CPython 3.11 a dataclass with
    ``weakref_slot=True`` (a ``__weakref__`` slot) or one whose base has slots of its own is refused, here, with
    TypeError (tests/objects/test_draft_builders.py).
    """
    slots = cls.__slots__  # type: ignore[attr-defined]
    draft = type(f"{cls.__name__}Draft", (), {"__slots__": slots, "__module__": cls.__module__})
    probe: Any = object.__new__(draft)
    probe.__class__ = cls  # refused at import if the layouts differ (TypeError), not on the first endpoint
    return draft


FREEZE_THRESHOLD = 200_000
"""Tracked objects allocated during a pause above which they are frozen rather than rescanned."""


@contextmanager
def collector_paused(expected: int = 0) -> Iterator[None]:
    """Pause the cyclic collector; restore it afterwards, freezing a large build once the garbage is
    collected (see the module doc).

    ``expected``: about how many objects the body will build, when the caller can tell. From half the
    threshold on, the garbage is collected on the way in rather than on the way out; a wrong guess costs
    time, never a leak (a build that turns out large is still collected before its freeze).
    """
    was_enabled = gc.isenabled()
    collected = was_enabled and expected >= FREEZE_THRESHOLD // 2
    if collected:
        gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > FREEZE_THRESHOLD:
                if not collected:
                    gc.collect()
                gc.freeze()
            gc.enable()
