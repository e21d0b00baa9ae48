"""``-o json`` is written by our own indenting writer: it must be json.dumps(indent=2)'s text, byte for byte.

The JSON outputs are public contracts, and people diff them; the writer exists only because the
standard library's indenting encoder is pure Python (seconds on a large cluster's rules). It hands
containers of plain scalars to the C encoder and walks the rest, so the payloads below mix both, at
every depth, with the values that must not take the C road (subclasses, which json.dumps spells its way).
"""

from __future__ import annotations

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

from kubeproxy_sim.cli.output import emit, to_json, to_yaml, write_json
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
    data = {"b": [1, 2.5, {"c": "\u00e9"}], "a": None, "e": {}}
    out = io.StringIO()
    emit(data, fmt, stream=out)
    assert out.getvalue() == (to_json(data) if fmt == "json" else to_yaml(data))
