"""Collecting the findings about one object, and type-checked reads of manifest fields.

Every decoder reads untrusted, hand-written data. Instead of raising at the
first problem, each read records a diagnostic that names the field path and
returns None, so the user sees *all* problems of an object at once and the
loader can skip just that object.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from kubeproxy_sim.errors import SHOWN_CHARS, Diagnostic, Severity, quoted, shortened
from kubeproxy_sim.objects.values import value_class


@value_class
class WrittenNumber:
    """A number no field can take, kept as the manifest wrote it: JSON's ``1e400`` (past a 64-bit float, which
    Python reads as inf) and YAML's ``.inf``, ``-.inf`` and ``.nan``. Messages then name it as written, not as
    Python's ``inf``; and being no float, no arithmetic takes it for one. kubectl refuses all of them (Go's float
    parsing fails on the first; JSON, which kubectl sends, has none of the others). ``whole``: a number with a zero
    fraction past the integers a 64-bit float holds exactly (``1e30``, see :data:`EXACT_FLOAT`), named as written
    rather than as Python's ``1e+30``."""

    text: str
    whole: bool = False

    def __str__(self) -> str:
        return self.text


_TYPE_NAMES = {
    WrittenNumber: "a number",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}


def type_name(value: object) -> str:
    """How a YAML/JSON value's type is called in messages ("a string", "a mapping", ...)."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def described(value: object) -> str:
    """'a string "x"', 'an integer 5', or 'null': what a user's value is, for "expected ..., got ..." messages."""
    if type(value) is int:
        shown = number(value)
        return shown if shown.endswith(" digits") else f"an integer {shown}"
    return "null" if value is None else f"{type_name(value)} {quote(value)}"


def not_a_string(value: object) -> str:
    """"expected a string, got ...", saying for a boolean how it became one (:func:`quoting_hint`)."""
    return f"expected a string, got {described(value)}{quoting_hint(value)}"


def quoting_hint(value: object) -> str:
    """For a boolean where a string is expected, how YAML or JSON made it one: go-yaml v2, kubectl's and
    kube-proxy's YAML reader, reads a bare ``n`` (or ``no``, ``off``, ``y`` ...) as a boolean, so a name ``n`` needs
    quotes; worded to be true of a JSON file too (whose reader knows only ``true`` and ``false``). "" for any other
    value."""
    if type(value) is not bool:
        return ""
    words = "y, yes, on and true" if value else "n, no, off and false"
    return f" (unquoted, {words} are booleans in YAML, {str(value).lower()} in JSON: quote a string)"


_WRITTEN_BITS = 664
"""Integers up to this many bits (fewer than 201 digits) are written out in messages; a longer one of at most 200
digits too, and past that only how many digits (writing it takes time quadratic in its digits, and the line
would be as long)."""


def number(value: int) -> str:
    """An integer as a message shows it: its digits, or for one past 200 digits how many it has, found from its
    size in bits without writing it (``an integer of 50,000 digits``)."""
    if value.bit_length() <= _WRITTEN_BITS:
        return str(value)
    magnitude = abs(value)
    digits = int((magnitude.bit_length() - 1) * math.log10(2)) + 1  # this, or one more
    if magnitude >= 10 ** digits:
        digits += 1
    if digits <= 200:
        return str(value)
    return f"{'a negative' if value < 0 else 'an'} integer of {digits:,} digits"


def quote(value: object) -> str:
    """Show a user's value in a message: strings in double quotes, the rest as written; cut at 200 characters
    as ``--config`` messages are (control characters are escaped where every diagnostic is formatted)."""
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return number(value)
    if isinstance(value, list | dict):  # as JSON, the way it could be written, not as a Python repr
        return _json_cut(value)
    return shortened(str(value))


def joined(items: Sequence[str]) -> str:
    """Items as a sentence lists them: ``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _json_cut(value: list[Any] | dict[Any, Any]) -> str:
    """A list or mapping as JSON, written only as far as a message shows it (a large value is not written whole
    to be cut): past 200 characters, cut and said how many items it has."""
    shown = ""
    for chunk in _json_pieces(value):
        shown += chunk
        if len(shown) > SHOWN_CHARS:
            what, unit = ("a list", "item") if isinstance(value, list) else ("a mapping", "key")
            return f"{shown[:SHOWN_CHARS]}... ({what} of {len(value):,} {unit}{'' if len(value) == 1 else 's'})"
    return shown


def _json_pieces(value: Any) -> Iterator[str]:
    """A value's JSON text piece by piece, as ``json.JSONEncoder(default=str)`` writes it, but an integer past 200
    digits said by its number of digits as :func:`number` says it (JSON's encoder writes it whole: quadratic in
    its digits, seconds for one in a list, and the line as long)."""
    import json

    if isinstance(value, list):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ", "
            yield from _json_pieces(item)
        yield "]"
    elif isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield (", " if i else "") + json.dumps(_json_key(key)) + ": "
            yield from _json_pieces(item)
        yield "}"
    elif type(value) is int:
        yield number(value)
    elif type(value) is WrittenNumber:
        yield value.text
    else:
        yield json.dumps(value, default=str)


def _json_key(key: object) -> str:
    """A mapping key as JSON names it: a number, a boolean or null as its JSON text, anything else (a YAML date)
    as its ``str``."""
    if key is None or isinstance(key, int | float):
        return "".join(_json_pieces(key))
    return str(key)


EXACT_FLOAT = 2 ** 53
"""The integers a 64-bit float holds exactly: past them a number with a zero fraction (``1e30``) no longer says
which integer was meant (int(1e30) is 1000000000000000019884624838656), so it is refused as written; the
fields read with :meth:`Report.integer` (ports, counts, seconds) take far smaller ones."""


def named_if_inexact(value: float, text: str) -> float | WrittenNumber:
    """A read float, or the text it was read from when it has a zero fraction past :data:`EXACT_FLOAT` (``1e30``),
    for the field's message to name it as written; the JSON and the YAML readers of manifests share this."""
    return WrittenNumber(text, whole=True) if value.is_integer() and abs(value) > EXACT_FLOAT else value


def as_integer(value: object) -> int | None:
    """The integer a value of an integer field reads as (:meth:`Report.integer`), or None: an integer, or a float
    with a zero fraction that a 64-bit float holds exactly (``8080.0``; inf and nan come as
    :class:`WrittenNumber`, no float)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer() and abs(value) <= EXACT_FLOAT:
        return int(value)
    return None


class Report:
    """The diagnostics of one object; mutable on purpose, and local to one decode call."""

    __slots__ = ("diagnostics", "failed", "file", "kind", "object")

    def __init__(self, file: str, kind: str, obj: str | None) -> None:
        self.file = file
        self.kind = kind
        self.object = obj
        self.diagnostics: list[Diagnostic] = []
        self.failed = False

    def _add(self, severity: Severity, field: str | None, message: str) -> None:
        self.diagnostics.append(Diagnostic(message, file=self.file, kind=self.kind, object=self.object,
                                           field=field or None, severity=severity))

    def error(self, field: str | None, message: str) -> None:
        """The object cannot be used; it is skipped once all its fields are checked."""
        self.failed = True
        self._add(Severity.ERROR, field, message)

    def warn(self, field: str | None, message: str) -> None:
        """Accepted the way kube-proxy accepts it, but worth telling the user."""
        self._add(Severity.WARNING, field, message)

    def note(self, field: str | None, message: str) -> None:
        self._add(Severity.NOTE, field, message)

    # -- typed reads ------------------------------------------------------------------------------

    def mapping(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        """A nested object; missing or null is None, anything else but a mapping is an error."""
        value = parent.get(key)
        if value is None or type(value) is dict:
            return value
        self.error(path, f"expected a mapping, got {type_name(value)}")
        return None

    def seq(self, parent: dict[str, Any], key: str, path: str) -> list[Any]:
        """A list; missing or null reads as empty."""
        value = parent.get(key)
        if value is None:
            return []
        if type(value) is list:
            return value
        self.error(path, f"expected a list, got {type_name(value)}")
        return []

    def mappings(self, parent: dict[str, Any], key: str, path: str,
                 *, what: str = "a mapping") -> Iterator[tuple[int, str, dict[str, Any]]]:
        """A list of objects (ports, addresses, ...) read with :meth:`seq`, walked as :meth:`each_mapping` does."""
        return self.each_mapping(self.seq(parent, key, path), path, what=what)

    def each_mapping(self, items: list[Any], path: str,
                     *, what: str = "a mapping") -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(index, "path[index]", item) for each mapping in a list already read; any other item is reported
        ("expected ``what``, got ...") and skipped, so the decoder goes on with the rest of the list."""
        for i, item in enumerate(items):
            item_path = f"{path}[{i}]"
            if type(item) is dict:
                yield i, item_path, item
            else:
                self.error(item_path, f"expected {what}, got {described(item)}")

    def string(self, parent: dict[str, Any], key: str, path: str, default: str | None = None) -> str | None:
        """A string field; missing, null and (like the API's omitempty) absent all read as default."""
        value = parent.get(key)
        if value is None:
            return default
        if type(value) is str:
            return value
        self.error(path, not_a_string(value))
        return default

    def integer(self, parent: dict[str, Any], key: str, path: str) -> int | None:
        """An integer field: an integer, or a number whose fraction is zero (``8080.0``), which kubectl sends as
        the integer (apimachinery's converter takes a float equal to its truncation for an int field, and Go's
        JSON writes 8080.0 as 8080). A bool, a fraction, a quoted number, YAML's ``.inf`` and ``.nan`` and a
        number past a 64-bit float (:class:`WrittenNumber`) are errors naming the value as written."""
        value = parent.get(key)
        if value is None:
            return None
        whole = as_integer(value)
        if whole is not None:
            return whole
        if (type(value) is WrittenNumber and value.whole) or (type(value) is float and value.is_integer()):
            self.error(path, f"expected an integer, got {described(value)}, past the integers a 64-bit float "
                             "holds exactly")
            return None
        self.error(path, f"expected an integer, got {described(value)}")
        return None

    def boolean(self, parent: dict[str, Any], key: str, path: str) -> bool | None:
        value = parent.get(key)
        if value is None or type(value) is bool:
            return value
        self.error(path, f"expected true or false, got {described(value)}")
        return None

    def string_map(self, parent: dict[str, Any], key: str, path: str) -> tuple[tuple[str, str], ...] | None:
        """Labels or a selector, as sorted pairs (stable and hashable); None when absent."""
        value = self.mapping(parent, key, path)
        if value is None:
            return None
        pairs = []
        for name, item in value.items():
            if type(item) is not str:
                self.error(f"{path}.{name}", not_a_string(item))
                continue
            pairs.append((str(name), item))
        pairs.sort()
        return tuple(pairs)

    def port_number(self, value: int | None, path: str, *, low: int = 0) -> int | None:
        """Range-check a port read with :meth:`integer`."""
        if value is None:
            return None
        if not low <= value <= 65535:
            self.error(path, f"{number(value)} is not in {low}-65535")
            return None
        return value
