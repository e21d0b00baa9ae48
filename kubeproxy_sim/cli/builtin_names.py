"""Which words on a command line can name a built-in scenario (a folder of rulesets/) rather than a path."""

from __future__ import annotations


def plain_name(text: str) -> bool:
    """Whether ``text`` can be a built-in scenario's NAME: not empty, not ``.`` or ``..``, no path separator.
    ``--scenario NAME`` and ``scenario NAME`` use it; a path (anything else) is only ever read as given."""
    return bool(text) and text not in (".", "..") and "/" not in text and "\\" not in text
