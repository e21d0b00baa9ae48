"""One large JSON List parsed in two halves, one in each process of a split load (cli.split_sync).

Parsing a 17 MB List whole before the fork costs ~0.2 s on one core, and then
each process copies the pages of the parsed objects it touches (copy-on-write).
Instead, before the fork only a place is guessed by a text search (:func:`guess`):
where an item near the middle of ``items`` starts. After it, the parent parses
from the start to that place (:func:`lower_half`), which proves the guess when
the parse ends there after a whole item, and the child from there to the end
(:func:`upper_half`). Each half then tells the other its :class:`Facts` (its
Services, for the cut), and after the cut sends the other the items of its half
the other decodes (:func:`wanted_by`): each process decodes only its share's
objects and those every share reads, in the input's order, with every other item
held in its place by an :class:`~kubeproxy_sim.objects.load.Elsewhere`, so that
its messages (item numbers, positions) are what one whole reading gives.

Anything but one plain JSON object holding a List (a bad guess, a syntax error,
NaN, a second document, a List kind after the items that changes how kindless
items read) gives None here: the caller then reads the text as it always did.

The file is searched and cut as bytes, undecoded: each half decodes only its
own part (the places cut are ASCII, so the parts decode as the whole would). A
17 MB text decoded before the fork cost its fresh pages on the one core there
(~4,200 page faults); each half's piece is one decoded copy (see :func:`_piece`).
A byte order mark, or bytes that are no UTF-8, leave it to the whole reading.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from json import decoder as json_decoder
from typing import Any

from kubeproxy_sim.objects.load import (
    JSON_REFUSED,
    Document,
    Elsewhere,
    Share,
    manifest_json_decoder,
    service_key,
)
from kubeproxy_sim.objects.values import value_class

_scanstring = json_decoder.scanstring  # type: ignore[attr-defined]  # (json's C string reader; not in typeshed)
_BLANKS = re.compile(r"[ \t\n\r]*")  # JSON's whitespace (json's own reading skips no other)
_BLANK_BYTES = re.compile(rb"[ \t\n\r]*")
_FIRST_ITEM = re.compile(rb'[ \t\n\r]*:[ \t\n\r]*(\[)([ \t\n\r]*)(\{[ \t\n\r]*"[^"\\]*")')
"""After ``"items"``: the array's opening, the blanks before its first item, and that item's opening with its first
key (``{"apiVersion"``), which the separator searched for repeats: an item at the List's level, as a formatter
writes them, rarely a nested object (whose first key or indentation differ)."""


@value_class
class Guess:
    """Where ``items`` seems to open, and an item near its middle seems to start: nothing is parsed yet."""

    opening: int
    """The ``[`` of the List's items."""
    comma: int
    """The comma before the guessed item: the lower half ends there."""
    boundary: int
    """Where the guessed item starts: the upper half starts there."""


def guess(data: bytearray, fraction: float) -> Guess | None:
    """A place to cut the List's items, at about ``fraction`` of the file's bytes, found by a search (one regular
    expression's, from there: before the fork, the only serial part); None when they do not look like a JSON
    List whose first item is an object. (Searched as bytes: a multi-byte character never holds an ASCII byte.)"""
    start = _BLANK_BYTES.match(data).end()  # type: ignore[union-attr]  # (it matches anywhere)
    if not data.startswith(b"{", start):
        return None
    key = data.find(b'"items"', start)
    found = _FIRST_ITEM.match(data, key + len(b'"items"')) if key >= 0 else None
    if found is None:
        return None
    blanks, opener = found.group(2), found.group(3)
    # (indented, the items' separator holds their indentation, which a nested object's differs from; else any
    # spaces: ``json.dumps`` writes ", " between items, none before the first)
    separator = re.compile(rb"\}," + (re.escape(blanks) if b"\n" in blanks else rb"[ \t]*") + re.escape(opener))
    at = separator.search(data, max(found.end(), int(len(data) * fraction)))
    if at is None:
        return None
    return Guess(found.start(1), at.start() + 1, at.end() - len(opener))


@value_class
class Facts:
    """What a half tells the other process before the cut (small: no object crosses here)."""

    count: int
    """Its items."""
    tail: dict[str, Any]
    """The List's fields after ``items`` (the upper half's; the lower's is empty: both read the head)."""
    services: tuple[tuple[int, str], ...]
    """(index in the half, ``namespace/name``) of its Services, as the loader reads the items' kinds."""
    kindless: bool
    """Whether an item has no kind (then the List's kind gives it one: the List's kind must be known)."""


@value_class
class Half:
    """One process's part of the List: its parsed items, the service each belongs to, and its :class:`Facts`."""

    head: dict[str, Any]
    """The List's fields before ``items`` (both processes read them)."""
    items: list[Any]
    keys: list[str | None]
    """Per item, the ``namespace/name`` of the service it belongs to (Service, EndpointSlice, Endpoints), None for
    an item every share reads (a Node, a Pod, one that is no object)."""
    facts: Facts


def lower_half(data: bytearray, place: Guess) -> Half | None:
    """The items before the guessed place, parsed in one reading of a copy ending with ``]`` (one reading shares
    its keys' strings across items: item by item, 20% more memory); None unless they end exactly there."""

    def items_to_the_place(decoder: Any) -> tuple[Any, dict[str, Any]] | None:
        piece = _piece(data, place.opening, place.comma, b"]")  # (the comma before the guessed item made "]")
        items, end = decoder.raw_decode(piece)
        return (items, {}) if end == len(piece) else None

    return _read_half(data, place, items_to_the_place)


def upper_half(data: bytearray, place: Guess) -> Half | None:
    """The items from the guessed place on, and the List's fields after them; None unless only blanks follow."""

    def items_and_tail(decoder: Any) -> tuple[Any, dict[str, Any]] | None:
        piece = _piece(data, place.boundary - 1, len(data) - 1, b"[")  # (the byte before the item: "," or a blank)
        items, at = decoder.raw_decode(piece)
        tail = _fields(piece, at, decoder, "}")
        return None if tail is None or "items" in tail else (items, tail)

    return _read_half(data, place, items_and_tail)


def _piece(data: bytearray, start: int, last: int, made: bytes) -> str:
    """``data[start:last + 1]`` decoded, the byte at ``start`` or ``last`` (whichever ``made`` replaces: a
    bracket closes at the end, opens at the start) read as ``made``: one decoded copy, where slicing a decoded
    text and adding the bracket made two (8.5 MB each at 10,000 services, ~2,100 fresh pages apiece). The byte is
    changed in place while decoding, then put back (the whole reading may need the bytes as they were)."""
    at = last if made == b"]" else start
    kept = data[at]
    try:
        data[at] = made[0]
        with memoryview(data) as view, view[start:last + 1] as part:
            return str(part, "utf-8")
    finally:
        data[at] = kept


def _read_half(data: bytearray, place: Guess,
               read: Callable[[Any], tuple[Any, dict[str, Any]] | None]) -> Half | None:
    """A half as ``read`` parses it (its items and the List's fields after them) under the List's head, each
    with the stricter nesting; None when the head or ``read`` finds no List, or the reader refuses the text (a
    UnicodeDecodeError is a ValueError: bytes that are no UTF-8 are the whole reading's to report)."""
    decoder = manifest_json_decoder()
    try:
        with _stricter_nesting():
            head_text = _piece_before(data, place.opening)
            head = _head(head_text, len(head_text), decoder)
            found = None if head is None else read(decoder)
    except JSON_REFUSED:
        return None
    if head is None or found is None or type(found[0]) is not list:
        return None
    return _half(head, found[0], found[1])


NESTING_MARGIN = 64
"""Levels of nesting a half may use fewer than a whole reading. json's reader refuses a value nested deeper than
the interpreter's recursion limit allows from where it is called, and a half is read one level shallower (no
List object around its items) and from another call depth than the whole text: without a margin, an item
nested just past what the whole reading takes was read by the halves (a review found one such depth). With
it, the halves refuse every such item and the text is read whole, which says what is wrong with it."""


@contextmanager
def _stricter_nesting() -> Iterator[None]:
    """The recursion limit :data:`NESTING_MARGIN` lower while a half is read (then as it was)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit - NESTING_MARGIN)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _piece_before(data: bytearray, end: int) -> str:
    """The text of ``data`` before ``end`` (the List's head: a few bytes)."""
    with memoryview(data) as view, view[:end] as part:
        return str(part, "utf-8")


def _head(text: str, opening: int, decoder: Any) -> dict[str, Any] | None:
    """The List's fields before ``items``, whose array must open at ``opening``; None if not so."""
    at = _BLANKS.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("{", at):
        return None
    fields: dict[str, Any] = {}
    at = _BLANKS.match(text, at + 1).end()  # type: ignore[union-attr]
    while text.startswith('"', at):
        key, at = _scanstring(text, at + 1)
        at = _BLANKS.match(text, at).end()  # type: ignore[union-attr]
        if not text.startswith(":", at):
            return None
        at = _BLANKS.match(text, at + 1).end()  # type: ignore[union-attr]
        if key == "items":
            return fields if at == opening else None
        fields[key], at = decoder.raw_decode(text, at)
        at = _BLANKS.match(text, at).end()  # type: ignore[union-attr]
        if not text.startswith(",", at):
            return None
        at = _BLANKS.match(text, at + 1).end()  # type: ignore[union-attr]
    return None


def _fields(text: str, at: int, decoder: Any, closing: str) -> dict[str, Any] | None:
    """The object's fields from ``at`` (after a value: a comma or the closing brace next) to its end, which must
    be the text's but for blanks; None if not so."""
    fields: dict[str, Any] = {}
    at = _BLANKS.match(text, at).end()  # type: ignore[union-attr]
    while text.startswith(",", at):
        at = _BLANKS.match(text, at + 1).end()  # type: ignore[union-attr]
        if not text.startswith('"', at):
            return None
        key, at = _scanstring(text, at + 1)
        at = _BLANKS.match(text, at).end()  # type: ignore[union-attr]
        if not text.startswith(":", at):
            return None
        at = _BLANKS.match(text, at + 1).end()  # type: ignore[union-attr]
        fields[key], at = decoder.raw_decode(text, at)
        at = _BLANKS.match(text, at).end()  # type: ignore[union-attr]
    if not text.startswith(closing, at):
        return None
    return fields if _BLANKS.match(text, at + 1).end() == len(text) else None  # type: ignore[union-attr]


def _half(head: dict[str, Any], items: list[Any], tail: dict[str, Any]) -> Half:
    """Each item's service read as the loader reads it, with the kind the head's List kind gives a kindless item
    (:func:`joined` refuses a tail that would give another)."""
    item_kind = _item_kind(head.get("kind"))
    keys: list[str | None] = []
    services: list[tuple[int, str]] = []
    kindless = False
    for index, item in enumerate(items):
        if type(item) is dict and "kind" not in item:
            kindless = True
            if item_kind:
                item = {**item, "kind": item_kind}
        key = service_key(item)
        keys.append(key)
        if key is not None and item["kind"] == "Service":
            services.append((index, key))
    return Half(head, items, keys, Facts(len(items), tail, tuple(services), kindless))


def _item_kind(kind: object) -> str | None:
    """The kind a List of this kind gives its kindless items (the loader's ``item_kind``)."""
    return (kind[: -len("List")] or None) if type(kind) is str and kind.endswith("List") else None


@value_class
class Cut:
    """Both halves' agreement: the List's fields, the services' names in order, and where each half starts."""

    fields: dict[str, Any]
    names: list[str]
    lower: Facts
    upper: Facts


def joined(head: dict[str, Any], lower: Facts, upper: Facts) -> Cut | None:
    """The two halves as one List, when the loader reads them as one (the same in both processes); None when
    the List's fields are no List's, or name after the items a kind that reads kindless items otherwise."""
    fields = {**head, **upper.tail}
    kind = fields.get("kind")
    if type(kind) is not str or not kind.endswith("List"):
        return None
    if (lower.kindless or upper.kindless) and _item_kind(kind) != _item_kind(head.get("kind")):
        return None
    names = sorted([key for _, key in lower.services] + [key for _, key in upper.services])
    return Cut(fields, names, lower, upper)


def wanted_by(half: Half, first: int, share: Share) -> list[tuple[int, Any]]:
    """(index in the List, item) of the half's items the process of ``share`` decodes and the other half holds:
    its services' objects, and those every share reads."""
    return [(first + i, item) for i, (item, key) in enumerate(zip(half.items, half.keys, strict=True))
            if key is None or share.owns(key)]


def documents(file: str, cut: Cut, half: Half, first: int, received: list[tuple[int, Any]],
              share: Share) -> list[Document]:
    """The one document this process decodes: the List with its share's items (its half's and the ``received``
    other half's) and those every share reads, every other item an Elsewhere in its place."""
    total = cut.lower.count + cut.upper.count
    items: list[Any] = [_ELSEWHERE] * total
    other = cut.upper if first == 0 else cut.lower
    other_first = cut.lower.count if first == 0 else 0
    for index, service in other.services:
        if not share.owns(service):
            items[other_first + index] = Elsewhere(service)
    for index, item in received:
        items[index] = item
    services = dict(half.facts.services)
    for index, (item, key) in enumerate(zip(half.items, half.keys, strict=True)):
        if key is None or share.owns(key):
            items[first + index] = item
        elif index in services:
            items[first + index] = Elsewhere(key)
    return [(file, 0, {**cut.fields, "items": items})]


_ELSEWHERE = Elsewhere()
