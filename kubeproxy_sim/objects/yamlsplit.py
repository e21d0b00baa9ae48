"""A large YAML text loaded on two cores: libyaml's loader takes seconds on a big ``kubectl get -o yaml``.

The text is cut where a cut cannot fall inside a document's content:

* a stream of documents: at a ``---`` line (a document marker at column 0 ends
  any content, block scalars and quoted strings included);
* one List as kubectl writes it (``items:`` at column 0, every item a ``- ``
  line at column 0): at the ``- `` line of an item, with no other top-level
  line between ``items:`` and the cut. The second part reads ``items:`` and
  the rest, so each part is a List of its own.

A child process loads the second part and sends its documents back (pickled);
the parent loads the first part and joins them. The fork holds SIGINT and
SIGTERM blocked, as the kernel backend's forks do (``kernel.nsexec``, which this
layer may not import): a Ctrl-C landing in the interpreter's at-fork callbacks
would be dropped there, and the load would go on as if never interrupted. Held,
it lands in our code once the child exists; the child is then killed and reaped. Anything unexpected (no cut, a
syntax error in either part, an alias to an anchor in the other part, parts
that are not what the cut promised, a failed child) gives None, and the caller
loads the whole text in one process, which also gives errors their positions
in the whole text.
"""

from __future__ import annotations

import os
import pickle
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from kubeproxy_sim import signals

MIN_PARALLEL_CHARS = 1 << 20
"""Texts below this load in one process: a fork and the transfer cost more than half the load saves."""

DOCUMENT_MARKER = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)
"""A ``---`` line: where a YAML document starts (the loader's chunked retry after an error cuts there too)."""
_ITEMS = re.compile(r"^items:[ \t]*$", re.MULTILINE)
_LEADING = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*")  # blank and comment lines
_OTHER_TOP_LINE = re.compile(r"^[^-\s#]", re.MULTILINE)  # a column-0 line that is not an item, blank or comment

Load = Callable[[str], list[Any]]


@dataclass(frozen=True, slots=True)
class Cut:
    """The two parts of a text; ``items``: they are the two halves of one List's items."""

    first: str
    second: str
    items: bool


def find_cut(text: str) -> Cut | None:
    """Where to cut ``text`` into two loadable parts near its middle, or None."""
    middle = len(text) // 2
    lead = _LEADING.match(text).end()  # type: ignore[union-attr]  # a marker here starts the first document
    markers = [m.start() for m in DOCUMENT_MARKER.finditer(text) if m.start() > lead]
    if markers:
        at = min(markers, key=lambda start: abs(start - middle))
        return Cut(text[:at], text[at:], items=False)
    items = _ITEMS.search(text)
    if items is None:
        return None
    first_item = text.find("\n- ", items.end() - 1) + 1  # the start of its line; 0: there is none
    if first_item == 0:
        return None
    at = text.find("\n- ", max(middle, first_item)) + 1  # a later item's line, so the first part holds one
    if at == 0:  # none after the middle: the last one
        at = text.rfind("\n- ", first_item) + 1
    if at <= first_item or _OTHER_TOP_LINE.search(text, items.end(), at) is not None:
        return None
    return Cut(text[:at], "items:\n" + text[at:], items=True)


def load_in_two(text: str, load: Load) -> list[Any] | None:
    """``load(text)`` computed by two processes, or None when that cannot be done exactly (see above)."""
    cut = find_cut(text)
    if cut is None or not hasattr(os, "fork"):
        return None
    try:
        with signals.forked(lambda write_end, previous: _child(load, cut.second, write_end, previous)) as inbox:
            first = load(cut.first)  # (raising, it kills the child, whose half is not wanted then: not waited for)
            data = inbox.read()
    except Exception:  # the whole-text load reports it, with its position in the whole text
        return None
    return _join(cut, first, pickle.loads(data)) if data else None


def _child(load: Load, part: str, write_end: int, previous: set[int | signal.Signals]) -> NoReturn:
    """The child: loads ``part`` and writes it to the parent; never returns (os._exit skips inherited buffers).
    SIGINT and SIGTERM end it (not one ignored: that stays so) before they are unblocked."""
    status = 1
    try:
        signals.in_child(previous)
        with os.fdopen(write_end, "wb") as out:
            out.write(_pickled(load, part))
        status = 0
    finally:
        os._exit(status)


def _pickled(load: Load, part: str) -> bytes:
    """The part's documents, pickled; nothing when it does not load (the parent then loads the whole text)."""
    try:
        return pickle.dumps(load(part), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return b""


def _join(cut: Cut, first: list[Any], second: list[Any]) -> list[Any] | None:
    """The documents of the whole text from those of its parts; None when the parts are not what the cut said."""
    if not cut.items:
        return first + second
    if len(first) != 1 or len(second) != 1 or type(first[0]) is not dict or type(second[0]) is not dict:
        return None
    head, tail = first[0], second[0]
    if list(head)[-1:] != ["items"] or next(iter(tail), None) != "items":
        return None
    if type(head["items"]) is not list or type(tail["items"]) is not list:
        return None
    return [{**head, "items": head["items"] + tail["items"], **{k: v for k, v in tail.items() if k != "items"}}]
