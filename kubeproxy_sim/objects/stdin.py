"""Standard input as the commands take it ("-" for ``-f``, ``--against`` or ``--rules``): read here, once.

A pipe can be read once: a second "-" in one run finds nothing, and is told so
rather than read as an empty input. A closed standard input (``<&-``: Python
then has no ``sys.stdin``) is said to be closed, not met as a crash.
"""

from __future__ import annotations

import codecs
import errno
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
"""The most bytes read from a character device that is no terminal before it is refused."""

ENDLESS_DEVICE = f"a device that gave more than {DEVICE_READ_CAP >> 20} MiB, and may never end (as /dev/zero does)"
"""Why a device's input was refused."""


def read_all(handle: BinaryIO) -> bytes | None:
    """Everything a binary file object gives; None for a character device (no terminal) that gives more than
    :data:`DEVICE_READ_CAP` bytes. /dev/zero and /dev/urandom never end: kubectl streams them until memory runs
    out, and a run here read forever; a FIFO (``<(...)``) and a terminal end when their writer does, and a block
    device (a disk, a loop device holding an image) has a size, so it is read whole."""
    try:
        mode = os.fstat(handle.fileno()).st_mode
    except (OSError, ValueError):  # (no descriptor: a test's stream, say)
        return handle.read()
    if not stat.S_ISCHR(mode) or handle.isatty():
        return handle.read()
    data = handle.read(DEVICE_READ_CAP + 1)
    return None if len(data) > DEVICE_READ_CAP else data


class EndlessDevice(OSError):
    """:func:`read_text` met a device past :data:`DEVICE_READ_CAP`; an OSError whose ``strerror`` says so, so
    that a reader's "cannot read ..." message for an unreadable file words it too."""


def read_text(path: str | os.PathLike[str], newline: str | None = None) -> str:
    """A UTF-8 file's text as ``open(path, encoding="utf-8", newline=newline).read()`` gives it, read by
    :func:`read_all`: the one way the commands read a file given by a flag (--config, --kubeconfig, --hosts,
    --rules, a scenario's script), so that ``/dev/zero`` there is refused (:class:`EndlessDevice`) rather than
    read until memory runs out. Raises OSError or UnicodeDecodeError as ``open`` does; a UTF-8 byte order mark
    is dropped (as the manifests' reader drops it: it was left in the text: "unexpected line" at U+FEFF),
    and a UTF-16 or UTF-32 one is refused by name (it said "invalid start byte at byte 0")."""
    with open(path, "rb") as handle:
        data = read_all(handle)
    if data is None:
        raise EndlessDevice(errno.EFBIG, ENDLESS_DEVICE, os.fspath(path))
    text = utf8_text(data)
    return text.replace("\r\n", "\n").replace("\r", "\n") if newline is None else text  # (universal newlines)


def utf8_text(data: bytes) -> str:
    """UTF-8 ``data`` as text (:func:`read_text`'s decoding, for bytes read another way, as standard input's): a
    UTF-8 byte order mark dropped, a UTF-16 or UTF-32 one refused by name (UnicodeDecodeError)."""
    mark, encoding = byte_order_mark(data)
    if encoding != "utf-8-sig" and encoding != "utf-8":  # (a UTF-8 one is dropped, as a manifest's is)
        raise UnicodeDecodeError("utf-8", data, 0, len(mark), f"a {encoding.upper()} byte order mark")
    return decoded(data, encoding)


BYTE_ORDER_MARKS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
"""The byte order marks a text may start with and the encoding each announces (UTF-32 LE's starts as UTF-16 LE's
does: looked for first)."""


def byte_order_mark(data: bytes | bytearray) -> tuple[bytes, str]:
    """The byte order mark ``data`` starts with and the encoding it announces (``utf-8-sig``, ``utf-16``,
    ``utf-32``); ``(b"", "utf-8")`` without one. One scan gives both: a refusal names the encoding and spans the
    mark."""
    return next(((bom, name) for bom, name in BYTE_ORDER_MARKS if data.startswith(bom)), (b"", "utf-8"))


def decoded(data: bytes | bytearray, encoding: str) -> str:
    """``data`` as text; a UnicodeDecodeError's offsets are counted from its first byte (``utf-8-sig`` counts
    them after its mark, which made "at byte 1" of the fourth)."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        skipped = len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0
        raise UnicodeDecodeError(exc.encoding, data, exc.start + skipped, exc.end + skipped, exc.reason) from None


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
