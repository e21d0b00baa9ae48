"""kubectl's ``-l`` label selectors (apimachinery labels.Parse): comma-joined requirements, each ``KEY=VALUE``,
``KEY==VALUE``, ``KEY!=VALUE``, ``KEY in (A,B)``, ``KEY notin (A,B)``, ``KEY`` (it exists) or ``!KEY`` (it does
not). ``!=`` and ``notin`` also match an object without the label, as upstream's do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Requirement = tuple[str, str, tuple[str, ...]]  # (key, operator: = != in notin exists !, values)

_TERM = re.compile(r"\s*(?:(?P<not>!)\s*(?P<nkey>[^\s,!=()]+)"
                   r"|(?P<key>[^\s,!=()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,!=()]*)"
                   r"|\s(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?)\s*(?:,|$)")


class SelectorError(ValueError):
    """A selector labels.Parse refuses; the message says what was expected."""


def parse(text: str) -> tuple[Requirement, ...]:
    """The requirements of ``text``, in order; refused (SelectorError) when it is not a selector."""
    out: list[Requirement] = []
    at = 0
    while at < len(text):
        match = _TERM.match(text, at)
        if match is None or match.end() == at:
            raise SelectorError(f"unable to parse requirement: {text[at:]!r}; expected KEY=VALUE, KEY!=VALUE, "
                                "KEY in (A,B), KEY notin (A,B), KEY or !KEY, comma-joined")
        at = match.end()
        if match["not"]:
            out.append((match["nkey"], "!", ()))
        elif match["op"]:
            out.append((match["key"], "!=" if match["op"] == "!=" else "=", (match["value"],)))
        elif match["set"]:
            values = tuple(v.strip() for v in match["values"].split(","))
            out.append((match["key"], match["set"], values))
        else:
            out.append((match["key"], "exists", ()))
    if not out:
        raise SelectorError("an empty selector; expected KEY=VALUE")
    return tuple(out)


def matches(requirements: Iterable[Requirement], labels: Iterable[tuple[str, str]]) -> bool:
    """Whether every requirement holds for ``labels``."""
    held = dict(labels)
    for key, op, values in requirements:
        value = held.get(key)
        if op == "=" and value != values[0]:
            return False
        if op == "!=" and value == values[0]:
            return False
        if op == "in" and value not in values:
            return False
        if op == "notin" and value in values:
            return False
        if op == "exists" and value is None:
            return False
        if op == "!" and value is not None:
            return False
    return True
