"""``-o json`` is written by our own indenting writer: it must be json.dumps(indent=2)'s text, byte for byte.

The JSON outputs are public contracts, and people diff them; the writer exists only because the
standard library's indenting encoder is pure Python (seconds on a large cluster's rules).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli.output import to_json
from tests.budget import budget

RULE = "-A KUBE-SVC-X -m comment --comment \"ns/svc:p\" -j DNAT"
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text() | st.sampled_from(["", RULE, "\u00e9\u2603"]))
KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
DATA = st.recursive(SCALARS, lambda children: st.lists(children) | st.tuples(children, children)
                    | st.dictionaries(KEYS, children), max_leaves=40)


@settings(max_examples=budget(400), deadline=None)
@given(DATA)
def test_writes_what_json_dumps_writes(data: object) -> None:
    assert to_json(data) == json.dumps(data, indent=2) + "\n"


class Counted(int):
    """An int subclass (json.dumps spells it as an int); the writer hands such values to json.dumps."""


@pytest.mark.parametrize("value", [Counted(3), {"a": [Counted(1), 2.5, math.inf]}, [[], {}, [[]], {"k": {}}]])
def test_subclasses_and_empty_containers(value: object) -> None:
    assert to_json(value) == json.dumps(value, indent=2) + "\n"


def test_what_json_cannot_write_fails_as_json_dumps_does() -> None:
    with pytest.raises(TypeError):
        to_json({"a": [object()]})
    with pytest.raises(TypeError):
        to_json({(1, 2): "tuple key"})
