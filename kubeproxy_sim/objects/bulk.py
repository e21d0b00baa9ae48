"""Building hundreds of thousands of small objects without the cyclic collector's rescans.

Loading a large cluster, generating its rules and reading a large dump each
allocate millions of acyclic containers. With the collector on, every
allocation burst triggers collections that walk the whole young heap again,
and the first collection after a pause walks everything built during it; both
cost more than the building itself (measured on 10,000 services: about a
third of the time). :func:`collector_paused` pauses the collector, and on the
way out, when a large number of objects were built, collects once and then
moves what survives to the collector's permanent generation (``gc.freeze``)
so it is never scanned again.

The collection before the freeze matters: ``gc.freeze`` takes every tracked
object, not only ours, and an unreachable cycle of the caller's that is frozen
would never be freed. Frozen objects are still freed by reference counting as
soon as they are dropped; only reference cycles among them would outlive their
use, and none of the models built here has one. Small builds (tests, one
scenario) stay below the threshold and leave the collector exactly as they
found it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def slot_setters(cls: type, names: str | None = None) -> tuple[Callable[[object, object], None], ...]:
    """The ``__set__`` of a slotted class's slot descriptors (all slots, or the blank-separated ``names``).

    The bulk constructors (``make``) write a frozen dataclass's slots through these: the
    frozen ``__init__`` goes through ``object.__setattr__`` per field, about twice the cost,
    and a large cluster or dump builds hundreds of thousands of such objects.
    """
    fields = cls.__slots__ if names is None else names.split()  # type: ignore[attr-defined]
    return tuple(getattr(cls, name).__set__ for name in fields)


FREEZE_THRESHOLD = 200_000
"""Tracked objects allocated during a pause above which they are frozen rather than rescanned."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector; restore it afterwards, freezing a large build once the garbage is
    collected (see the module doc)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > FREEZE_THRESHOLD:
                gc.collect()
                gc.freeze()
            gc.enable()
