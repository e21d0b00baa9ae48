"""Standard input as the commands take it ("-" for ``-f``, ``--against`` or ``--rules``): read here, once.

A pipe can be read once: a second "-" in one run finds nothing, and is told so
rather than read as an empty input. A closed standard input (``<&-``: Python
then has no ``sys.stdin``) is said to be closed, not met as a crash.
"""

from __future__ import annotations

import os
import stat
import sys
import weakref
from typing import Any, BinaryIO

NAME = "<stdin>"
"""What messages call standard input."""

_READ: weakref.WeakSet[Any] = weakref.WeakSet()
"""The standard input streams read to their end in this process (a test's replacement stream starts unread)."""


DEVICE_READ_CAP = 64 * 1024 * 1024
"""The most bytes read from a device (a character or block device that is no terminal) before it is refused."""

ENDLESS_DEVICE = "a device that gave more than 64 MiB, and may never end (as /dev/zero does)"
"""Why a device's input was refused."""


def read_all(handle: BinaryIO) -> bytes | None:
    """Everything a binary file object gives; None for a device (no terminal) that gives more than
    :data:`DEVICE_READ_CAP` bytes. /dev/zero and /dev/urandom never end: kubectl streams them until memory runs
    out, and a run here read forever; a FIFO (``<(...)``) and a terminal end when their writer does."""
    try:
        mode = os.fstat(handle.fileno()).st_mode
    except (OSError, ValueError):  # (no descriptor: a test's stream, say)
        return handle.read()
    if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) or handle.isatty():
        return handle.read()
    data = handle.read(DEVICE_READ_CAP + 1)
    return None if len(data) > DEVICE_READ_CAP else data


class StdinUnreadable(Exception):
    """Standard input gives nothing to read; ``read_already``: an earlier "-" of this run read it (the rest are
    errors: closed, or unreadable)."""

    def __init__(self, reason: str, read_already: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.read_already = read_already


def read_stdin() -> bytes:
    """Everything on standard input, as bytes; raises :class:`StdinUnreadable` when it is closed, cannot be
    read, or was read by an earlier "-" of this run."""
    stream = sys.stdin
    if stream is None:
        raise StdinUnreadable("standard input is closed")
    if stream in _READ:
        raise StdinUnreadable("standard input was read already, by an earlier '-' (a pipe can be read once)",
                              read_already=True)
    raw = getattr(stream, "buffer", None)
    try:
        data = read_all(raw) if raw is not None else stream.read()
    except OSError as exc:
        raise StdinUnreadable(f"cannot read standard input: {exc.strerror or exc}") from None
    except ValueError:  # an I/O operation on a closed file (sys.stdin.close() earlier in this process)
        raise StdinUnreadable("standard input is closed") from None
    if data is None:
        raise StdinUnreadable(f"standard input is {ENDLESS_DEVICE}")
    _READ.add(stream)
    return data if isinstance(data, bytes) else data.encode("utf-8")
