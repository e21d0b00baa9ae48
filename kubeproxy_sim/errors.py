"""The exception tree and the one diagnostic type every layer reports with.

A user never sees a traceback: loaders collect :class:`Diagnostic` values (one
bad object is reported and skipped, the rest are used), and the CLI turns the
few exceptions below into a message and an exit status.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

CHOICES_SHOWN = 8  # names a message lists: a large cluster's every service or node would bury it


def one_of(wanted: str, names: Iterable[str], noun: str) -> str:
    """The names a message offers instead of ``wanted``: all of a few, else the closest few and how many.

    A cluster of 10,000 services (or thousands of nodes) made errors of hundreds of kilobytes.
    """
    known = list(dict.fromkeys(names))
    if len(known) <= CHOICES_SHOWN:
        return ", ".join(known) or "none"
    import difflib  # here: only this error path needs it, and every command imports this module

    close = difflib.get_close_matches(wanted, known, n=CHOICES_SHOWN, cutoff=0.6)
    shown = close or sorted(known)[:CHOICES_SHOWN]
    return f"{', '.join(shown)} ({'the closest' if close else 'the first'} of {len(known):,} {noun})"


SHOWN_CHARS = 200  # a user's value longer than this is cut in messages (a 5,000-character name made a 5 kB line)

# What must not reach a terminal raw from a user's name or value: C0 and C1 controls (a newline forges a second
# diagnostic line, ESC colours the terminal), DEL, and the invisible format characters that reorder or hide text
# (bidi overrides such as U+202E, zero-width characters, the BOM, line and paragraph separators).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


def _escape_char(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # as Python writes it (a backslash, then n, x1b or u202e), as dump messages do


def printable(text: str) -> str:
    r"""``text`` with every control and invisible format character escaped (``\n``, ``\x1b``, ``\u202e``)."""
    return _UNSAFE.sub(_escape_char, text) if _UNSAFE.search(text) else text


def cut(text: str, limit: int = SHOWN_CHARS) -> tuple[str, str]:
    """``text``'s first ``limit`` characters, and what to add after them: how long it was ("" when it fits).
    Apart, so that a quoted value keeps the length outside its quotes."""
    return (text, "") if len(text) <= limit else (text[:limit], f"... ({len(text):,} characters)")


def shortened(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut at ``limit`` characters, saying how long it was."""
    shown, more = cut(text, limit)
    return shown + more


def unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read, in a user's words: the system's reason ("No such file or directory", "Is a
    directory"), a dangling symbolic link or a loop of them named so (:func:`link_fault`), or where its bytes stop
    being UTF-8, not Python's text for the exception ("[Errno 21] ...", "'utf-8' codec can't decode ..."). Text in
    another encoding is only read where its byte order mark announces it (a manifest in UTF-16 or UTF-32), and is
    said so."""
    if isinstance(exc, UnicodeDecodeError):
        encoding = exc.encoding.upper().removesuffix("-LE").removesuffix("-BE")
        announced = "" if encoding == "UTF-8" else ", which its byte order mark announces"
        return f"not {encoding} text{announced} ({exc.reason} at byte {exc.start})"
    return link_fault(exc) or exc.strerror or type(exc).__name__


def cannot_read(why: OSError | UnicodeDecodeError | str, expected: str) -> str:
    """The one wording of a path a flag names that could not be read: why (:func:`unreadable`, or a reason of the
    caller's: "a device, not a regular file"), and what the flag wants there (a reason alone, "File name too
    long", does not say)."""
    return f"cannot read it: {why if isinstance(why, str) else unreadable(why)}; expected {expected}"


def link_fault(exc: OSError) -> str | None:
    """A dangling symbolic link or a loop of them, when that is why a file could not be opened (the system's "no
    such file" and "too many levels" do not say a link is at fault); None otherwise."""
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links (too many levels to follow)"
    if not isinstance(exc, FileNotFoundError) or exc.filename is None:
        return None
    try:
        target = os.readlink(exc.filename)
    except OSError:  # not a link (or no longer there)
        return None
    return f"a symbolic link to {quoted(target)}, which does not exist"


def quoted(text: str) -> str:
    """A user's string in double quotes for a message, cut at 200 characters (its length said after the quotes)."""
    shown, more = cut(text)
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"' + more


def literal(text: str) -> str:
    """A user's text as flag and --config messages show it: in Python's quotes (``'10.0.0.0/8,'``), cut at 200
    characters, its length said after the quotes."""
    shown, more = cut(text)
    return f"{shown!r}{more}"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about the input, phrased as ``file: Kind ns/name: field.path: message``."""

    message: str
    file: str | None = None
    kind: str | None = None
    object: str | None = None  # "namespace/name" (or "name" for cluster-scoped objects)
    field: str | None = None  # e.g. "spec.ports[1].port"
    line: int | None = None
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        """The one line a user reads; control characters of a user's name or value escaped (see
        :func:`printable`), and a long object name cut."""
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        elif self.line:
            parts.append(f"line {self.line}")
        if self.kind or self.object:
            parts.append(" ".join(p for p in (self.kind, self.object and shortened(self.object)) if p))
        if self.field:
            parts.append(self.field)
        prefix = "" if self.severity is Severity.ERROR else f"{self.severity.value}: "
        return printable(": ".join([*parts, prefix + self.message]))


class KubeproxySimError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(KubeproxySimError):
    """The input cannot be used at all (unreadable file, no objects, bad flag value)."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str) -> None:
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class UsageError(InputError):
    """The command line itself is wrong (flags that exclude or need one another, no source given): exit 2,
    as argparse's own usage errors."""


class RulesSyntaxError(InputError):
    """iptables-save / iptables-restore text that does not parse.

    The message names the line, the offending token and what was expected.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 token: str | None = None, expected: str | None = None) -> None:
        self.line = line
        self.token = token
        self.expected = expected
        text = message
        if token is not None:
            text += f" at {token!r}"
        if expected:
            text += f"; expected {expected}"
        super().__init__(Diagnostic(text, file=file, line=line))


class EnvironmentMissing(KubeproxySimError):
    """Something the command needs is not on this machine (root, iptables, a kernel feature)."""
