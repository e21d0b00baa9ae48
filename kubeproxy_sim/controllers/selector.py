"""kubectl's ``-l`` label selectors (apimachinery labels.Parse): comma-joined requirements, each ``KEY=VALUE``,
``KEY==VALUE``, ``KEY!=VALUE``, ``KEY in (A,B)``, ``KEY notin (A,B)``, ``KEY`` (it exists), ``!KEY`` (it does
not), ``KEY>N`` or ``KEY<N`` (its value an integer above or below N). ``!=`` and ``notin`` also match an object
without the label, as upstream's do; ``>`` and ``<`` match only a label whose value is an integer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Requirement = tuple[str, str, tuple[str, ...]]  # (key, operator: = != in notin exists ! > <, values)

# the lexer's identifier: a run of characters that are neither white space nor one of its symbols =!(),<>
_TERM = re.compile(r"\s*(?:(?P<not>!)\s*(?P<nkey>[^\s,!=()<>]+)"
                   r"|(?P<key>[^\s,!=()<>]+)\s*(?:(?P<op>==|=|!=|>|<)\s*(?P<value>[^\s,!=()<>]*)"
                   r"|\s(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?)\s*(?:(?P<comma>,)\s*|$)")
_EXPECTED = "expected KEY=VALUE, KEY!=VALUE, KEY in (A,B), KEY notin (A,B), KEY, !KEY, KEY>N or KEY<N, comma-joined"
_INTEGER = re.compile(r"[-+]?[0-9]+")


class SelectorError(ValueError):
    """A selector labels.Parse refuses; the message says what was expected."""


def parse(text: str) -> tuple[Requirement, ...]:
    """The requirements of ``text``, in order; refused (SelectorError) when it is not a selector."""
    out: list[Requirement] = []
    at = 0
    while at < len(text):
        match = _TERM.match(text, at)
        if match is None or match.end() == at:
            if out and text[at:].lstrip().startswith(","):  # after a comma: labels.Parse's own words
                raise SelectorError("found ',', expected: identifier after ','")
            raise SelectorError(f"unable to parse requirement: {text[at:]!r}; {_EXPECTED}")
        at = match.end()
        if match["comma"] is not None and at == len(text):
            raise SelectorError("found '', expected: identifier after ','")
        if match["not"]:
            out.append((match["nkey"], "!", ()))
        elif match["op"] in (">", "<"):
            if not _INTEGER.fullmatch(match["value"]) or not -2**63 <= int(match["value"]) < 2**63:
                raise SelectorError(f"unable to parse requirement: values[0]: Invalid value: {match['value']!r}: "
                                    "for 'Gt', 'Lt' operators, the value must be an integer")
            out.append((match["key"], match["op"], (match["value"],)))
        elif match["op"]:
            out.append((match["key"], "!=" if match["op"] == "!=" else "=", (match["value"],)))
        elif match["set"]:
            values = tuple(v.strip() for v in match["values"].split(","))
            out.append((match["key"], match["set"], values))
        else:
            out.append((match["key"], "exists", ()))
    if not out:
        raise SelectorError(f"an empty selector; {_EXPECTED}")
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
        if op in (">", "<") and not _compares(value, op, int(values[0])):
            return False
    return True


def _compares(value: str | None, op: str, bound: int) -> bool:
    """Requirement.Matches for Gt and Lt: the label's value read as a 64-bit integer (strconv.ParseInt, base 10),
    a label missing or not such an integer matching neither."""
    if value is None or not _INTEGER.fullmatch(value) or not -2**63 <= int(value) < 2**63:
        return False
    return int(value) > bound if op == ">" else int(value) < bound
