"""``-o json`` is written by our own indenting writer: it must be json.dumps(indent=2)'s text, byte for byte.

The JSON outputs are public contracts, and people diff them; the writer exists only because the
standard library's indenting encoder is pure Python (seconds on a large cluster's rules). It hands
containers of plain scalars to the C encoder and walks the rest, so the payloads below mix both, at
every depth, with the values that must not take the C road (subclasses, which json.dumps spells its way).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from enum import IntEnum, StrEnum
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli.output import ItemStream, emit, item_stream, to_json, to_yaml, write_json
from kubeproxy_sim.errors import InputError
from tests.budget import budget

RULE = "-A KUBE-SVC-X -m comment --comment \"ns/svc:p\" -j DNAT"


class Counted(int):
    """An int subclass (json.dumps spells it as an int); the writer hands such values to json.dumps."""


class Share(float):
    """A float subclass: json.dumps spells it as a float."""


class Verdict(StrEnum):
    DNAT = "DNAT"


class Family(IntEnum):
    V4 = 4


ODD = st.sampled_from([Counted(3), Share(0.25), Verdict.DNAT, Family.V4, Counted(-10**30)])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**20, max_value=10**60)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text()
           | st.text(st.characters(blacklist_categories=())) | st.sampled_from(["", RULE, "\u00e9\u2603\U0001f600"])
           | ODD)
KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats() | st.sampled_from([Counted(7), Family.V4])
DATA = st.recursive(SCALARS, lambda children: st.lists(children) | st.tuples(children, children)
                    | st.dictionaries(KEYS, children), max_leaves=60)


@settings(max_examples=budget(400), deadline=None)
@given(DATA)
def test_writes_what_json_dumps_writes(data: object) -> None:
    assert to_json(data) == json.dumps(data, indent=2) + "\n"


@settings(max_examples=budget(100), deadline=None)
@given(DATA)
def test_the_stream_carries_the_same_text(data: object) -> None:
    pieces: list[str] = []
    write_json(data, pieces.append)
    assert "".join(pieces) == to_json(data)


WRAPS = st.sampled_from([lambda v: [v], lambda v: (v, 0), lambda v: {"k": v}, lambda v: [1, v, {}],
                         lambda v: {2: v, "s": RULE}, lambda v: {"odd": Share(0.5), "v": (v,)}])
DEEP = st.tuples(DATA, st.lists(WRAPS, min_size=1, max_size=6), st.integers(300, 900)).map(
    lambda drawn: _nested(drawn[0], drawn[1], drawn[2]))


def _nested(leaf: object, wraps: Sequence[Callable[[object], object]], depth: int) -> object:
    """``leaf`` under ``depth`` containers, the ``wraps`` taken in turn from the innermost out."""
    value = leaf
    for level in range(depth):
        value = wraps[level % len(wraps)](value)
    return value


@settings(max_examples=budget(30), deadline=None)
@given(DEEP)
def test_deep_nesting_writes_what_json_dumps_writes(data: object) -> None:
    """As deep as json.dumps goes (some 990 levels), byte for byte: the writer walks with its own stack."""
    assert to_json(data) == json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize("wrap", [lambda v: [v], lambda v: {"k": v}, lambda v: (1, v)], ids=["list", "dict", "tuple"])
def test_900_levels_as_json_dumps_writes_them(wrap: Callable[[object], object]) -> None:
    data = _nested({"leaf": [1, 2.5]}, [wrap], 900)
    assert to_json(data) == json.dumps(data, indent=2) + "\n"


def test_no_depth_limit_of_its_own() -> None:
    """Past json.dumps's depth (which fails there) the text is what it would be: one bracket a line, indented."""
    depth = 10_000
    expected = ("".join(f"{'  ' * n}[\n" for n in range(depth)) + "  " * depth + "1\n"
                + "".join(f"{'  ' * n}]\n" for n in reversed(range(depth))))
    assert to_json(_nested(1, [lambda v: [v]], depth)) == expected


@pytest.mark.parametrize("value", [
    Counted(3), {"a": [Counted(1), 2.5, math.inf]}, [[], {}, [[]], {"k": {}}], [math.nan, -math.inf, -0.0, 1e300],
    OrderedDict(b=[1, {"c": ()}], a="x"), {"outer": [{"flat": 1, "odd": Share(0.5)}, [Verdict.DNAT, "s"]]},
    {2**70: [2**70, -(2**70)], 1.5: None, None: True, False: [], Family.V4: {}},
])
def test_subclasses_non_finite_and_empty_containers(value: object) -> None:
    assert to_json(value) == json.dumps(value, indent=2) + "\n"


def test_what_json_cannot_write_fails_as_json_dumps_does() -> None:
    """Exact shares are the renderers' to spell (as strings): a Fraction reaching the writer is a bug, loudly."""
    for bad in ({"a": [object()]}, {(1, 2): "tuple key"}, {"p": Fraction(1, 3)}, [Fraction(1, 3)],
                {"flat": 1, "nested": {(1,): 2}}):
        with pytest.raises(TypeError):
            json.dumps(bad, indent=2)
        with pytest.raises(TypeError):
            to_json(bad)


def test_a_large_output_is_written_in_pieces() -> None:
    """Streamed: a large output reaches the stream in many writes, not one string of all of it."""
    data = {"services": [{"name": f"svc-{n}", "outcomes": [{"p": n / 7, "ok": True}, {"e": []}]}
                         for n in range(20_000)]}
    pieces: list[str] = []
    write_json(data, pieces.append)
    assert len(pieces) > 10 and max(map(len, pieces)) < len("".join(pieces)) / 10
    assert "".join(pieces) == json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_emit_writes_what_render_makes(fmt: str) -> None:
    data: dict[str, object] = {"b": [1, 2.5, {"c": "\u00e9"}], "a": None, "e": {}}
    out = io.StringIO()
    emit(data, fmt, stream=out)
    assert out.getvalue() == (to_json(data) if fmt == "json" else to_yaml(data))


# YAML's part of the data: what SafeDumper writes (no subclasses), strings of every kind, long ones that wrap
YAML_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
                | st.sampled_from(["", RULE, "a\nb", " lead", "x: y", "- z", "\u00e9\u2603\U0001f600", "w " * 60]))
YAML_DATA = st.recursive(YAML_SCALARS, lambda children: st.lists(children) | st.dictionaries(st.text(), children),
                         max_leaves=40)


@settings(max_examples=budget(60), deadline=None)
@given(st.lists(DATA, max_size=5), st.sampled_from(["steps", "syncs", "a \"key\"\u00e9"]))
def test_items_streamed_one_by_one_are_the_whole_document_as_json(items: list[object], key: str) -> None:
    """``scenario``/``replay -o json`` write their list an item at a time: the bytes json.dumps writes of it whole,
    and after each item the document so far is the whole one's beginning (nothing held back)."""
    whole = json.dumps({key: items}, indent=2) + "\n"
    _streams_as(whole, key, "json", items)


@settings(max_examples=budget(60), deadline=None)
@given(st.lists(YAML_DATA, max_size=5), st.sampled_from(["steps", "syncs"]))
def test_items_streamed_one_by_one_are_the_whole_document_as_yaml(items: list[object], key: str) -> None:
    _streams_as(to_yaml({key: items}), key, "yaml", items)


def _streams_as(whole: str, key: str, fmt: str, items: list[object]) -> None:
    out = io.StringIO()
    document = ItemStream(key, fmt, out)
    for item in items:
        document.add(item)
        assert whole.startswith(out.getvalue())
    document.close()
    assert out.getvalue() == whole


class _Flushes(io.StringIO):
    """A stream that records what it held at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_each_item_is_flushed_as_it_is_written() -> None:
    """A reader of a pipe sees an item when it is added, not when the document ends."""
    out = _Flushes()
    document = ItemStream("steps", "json", out)
    document.add({"step": 1})
    assert out.flushed == ['{\n  "steps": [\n    {\n      "step": 1\n    }']


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize(("items", "error", "expected"), [
    ([], None, {"steps": []}),  # ended normally with no item: the empty document
    ([{"step": 1}], None, {"steps": [{"step": 1}]}),
    ([{"step": 1}], InputError("bad line"), {"steps": [{"step": 1}]}),  # an error the command reports: whole
    ([], InputError("bad line"), None),  # ... or none
])
def test_item_stream_ends_the_document_unless_the_run_died(fmt: str, items: list[object], error: Exception | None,
                                                           expected: object) -> None:
    out = io.StringIO()
    with pytest.raises(type(error)) if error else contextlib.nullcontext(), item_stream("steps", fmt, out) as document:
        assert document is not None
        for item in items:
            document.add(item)
        if error:
            raise error
    assert out.getvalue() == ("" if expected is None else to_json(expected) if fmt == "json" else to_yaml(expected))


@pytest.mark.parametrize("died", [KeyboardInterrupt, BrokenPipeError, RuntimeError])
def test_a_run_that_dies_leaves_its_document_open(died: type[BaseException]) -> None:
    """Ctrl-C, an output that cannot be written or a bug: no closing brackets that would pass for a whole run."""
    out = io.StringIO()
    with pytest.raises(died), item_stream("syncs", "json", out) as document:
        assert document is not None
        document.add({"sync": 1})
        raise died
    assert out.getvalue() == '{\n  "syncs": [\n    {\n      "sync": 1\n    }'


def test_text_has_no_item_stream() -> None:
    out = io.StringIO()
    with item_stream("steps", "text", out) as document:
        assert document is None
    assert out.getvalue() == ""
