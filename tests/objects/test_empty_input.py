"""A manifest that holds only whitespace is said to be empty: the same whitespace ``str.strip`` strips.

The loader asks ``text.isspace()`` rather than stripping a copy of the text (13 ms of a 17 MB cluster's
start-up, before the split sync's second process starts); these hold the two to the same answer.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.objects.load import _read_bytes

WARNING = "f.yaml: warning: empty; no objects in this file"


def _said(text: str) -> list[str]:
    _, _, problem = _read_bytes(text.encode("utf-8"), "f.yaml", "in this file", "-f", "a manifest")
    return [str(problem)] if problem is not None else []


def test_unicode_whitespace_alone_is_empty() -> None:
    assert _said("\u3000\u00a0\x0b\x0c\x1c\u2028 \t\r\n") == [WARNING]


def test_an_empty_text_is_empty() -> None:
    assert _said("") == [WARNING]


@given(st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000\u200bxé#")))
def test_empty_exactly_when_strip_leaves_nothing(text: str) -> None:
    assert bool(_said(text)) == (not text.strip())
