"""-l as labels.Parse reads it (reviewer r5): a trailing or doubled comma is refused in its words, ``>`` and ``<``
are its integer comparisons (a label that is missing or no integer matching neither), and the refusals list every
form taken."""

from __future__ import annotations

import pytest

from kubeproxy_sim.controllers.selector import SelectorError, matches, parse


@pytest.mark.parametrize(("text", "message"), [
    ("app=web,", "found '', expected: identifier after ','"),
    ("app=web, ", "found '', expected: identifier after ','"),
    ("a in (x,y),", "found '', expected: identifier after ','"),
    ("a,,b", "found ',', expected: identifier after ','"),
    ("n>x", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("n<", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("n>99999999999999999999", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("a=b c=d", "KEY>N or KEY<N, comma-joined"),
    ("", "an empty selector; expected KEY=VALUE, KEY!=VALUE, KEY in (A,B), KEY notin (A,B), KEY, !KEY, KEY>N"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


@pytest.mark.parametrize(("text", "labels", "matched"), [
    ("n>3", {"n": "4"}, True),
    ("n>3", {"n": "3"}, False),
    ("n > 3", {"n": "10"}, True),
    ("n<3", {"n": "-1"}, True),
    ("n<3", {"n": "x"}, False),
    ("n<3", {}, False),
    ("n>-2,app=web", {"n": "0", "app": "web"}, True),
    ("n>+2", {"n": "3"}, True),
])
def test_greater_and_less_than(text: str, labels: dict[str, str], matched: bool) -> None:
    assert matches(parse(text), labels.items()) is matched


def test_the_forms_taken_before_still_parse() -> None:
    assert parse("a=b, c!=d,e in (x, y),!f,g") == (("a", "=", ("b",)), ("c", "!=", ("d",)),
                                                   ("e", "in", ("x", "y")), ("f", "!", ()), ("g", "exists", ()))
