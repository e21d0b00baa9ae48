"""Refusing a YAML document whose aliases expand to far more than it holds, as kubectl's YAML reader does.

PyYAML builds an alias as a second reference to the anchored value, so a
"billion laughs" document (ten aliases of ten aliases of ...) loads in a few
kilobytes; but every walk of it (a message quoting a value, JSON output, a
copy) meets each value once per path to it, a billion times. kubectl's reader
(go-yaml, under sigs.k8s.io/yaml) decodes aliases by expanding them and
counts as it goes: each value decoded counts once, and once more as an alias's
when it is inside an alias's expansion; past 100 from aliases and 1,000 in
all, it stops with "document contains excessive aliasing" when the share from
aliases exceeds 99% (10% from 4,000,000 values decoded on, scaling between
400,000 and that). An anchor that holds an alias to itself is refused too
("anchor value contains itself").

The check here walks the composed node graph once, each value at its place in
the text, and counts an alias as the size of its expansion, computed once per
anchored value: the cost is the text's size, whatever the aliases expand to.
The answer is go-yaml's: within one alias's expansion both counts grow by one
a value and the share allowed never grows, so if go-yaml stops anywhere inside
it, it stops at its end, where this check looks. A mapping's ``<<`` merge key is
counted as go-yaml's merge counts it: the key not at all, its value as any
value, but a list of mappings to merge not itself, only its items, last first.
"""

from __future__ import annotations

import re
from typing import Any

_RATIO_LOW, _RATIO_HIGH = 400_000, 4_000_000
_ANCHOR = re.compile(r"(?:^|[\s\[{,:])&[^\s\[\]{},]")  # an anchor property; a string with "& " is no alias
_SHOWN = 10 ** 15  # counts past this are said as "over 10^15" (a deep bomb's run to thousands of digits)
_Child = tuple[Any, str, Any, bool]  # a value to walk: node, path step, mapping key it is under, counted itself


class AliasingError(Exception):
    """A document kubectl's YAML reader refuses over its aliases: ``line`` (1-based, in its text) is the line of
    the key of the mapping nearest the alias, ``field`` the path to the alias, ``named`` the document's kind and
    metadata as far as they are plain scalars (to name the object)."""

    def __init__(self, message: str, line: int, field: str | None, named: dict[str, Any]) -> None:
        super().__init__(message)
        self.message, self.line, self.field, self.named = message, line, field, named


def may_alias(text: str) -> bool:
    """Whether a text can hold an alias: only then is the walk needed (an alias needs an anchor before it)."""
    return "&" in text and _ANCHOR.search(text) is not None


def allowed_alias_ratio(decoded: int) -> float:
    """The share of the values decoded so far that go-yaml lets come from aliases."""
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def _excessive(from_aliases: int, decoded: int) -> bool:
    return from_aliases > 100 and decoded > 1000 and from_aliases / decoded > allowed_alias_ratio(decoded)


class _Frame:
    """A collection being walked: its children still to walk (last first), its expanded size so far (0 for a
    merge key's list, which go-yaml does not count), the path step that led to it and the mapping key it is under
    (for the message)."""

    __slots__ = ("counted", "key", "node", "size", "step", "todo")

    def __init__(self, node: Any, todo: list[_Child], step: str, key: Any, counted: bool) -> None:
        self.node, self.todo, self.step, self.key, self.counted = node, todo, step, key, counted
        self.size = int(counted)


def check_aliases(document: Any, merge_tag: str) -> None:
    """Raise :class:`AliasingError` for a composed document kubectl's YAML reader refuses over its aliases."""
    decoded, from_aliases = 2, 0  # (the document node and its root node count, as go-yaml counts them)
    sizes: dict[int, int] = {}  # id(node) -> values its expansion decodes, once walked
    stack = [_Frame(document, _children(document, merge_tag), "", None, True)]
    walking = {id(document)}  # an alias to one of these is a cycle
    while stack:
        frame = stack[-1]
        if not frame.todo:
            stack.pop()
            walking.discard(id(frame.node))
            sizes[id(frame.node)] = frame.size + (not frame.counted)  # (an alias to it elsewhere counts it)
            if stack:
                stack[-1].size += frame.size
            continue
        child, step, key, counted = frame.todo.pop()
        if id(child) in walking:
            raise _refusal(document, stack, step, key, "an anchor's value holds an alias to itself (kubectl's YAML "
                                                       "reader: anchor value contains itself); expected no alias "
                                                       "inside its own anchor")
        expanded = sizes.get(id(child))
        if expanded is None:  # its place in the text
            decoded += counted
            walking.add(id(child))
            todo = _children(child, merge_tag) if counted else _merged(child)
            stack.append(_Frame(child, todo, step, key, counted))
        else:  # an alias: itself, and its expansion, all from aliases
            decoded += 1 + expanded
            from_aliases += expanded
            frame.size += 1 + expanded
        if _excessive(from_aliases, decoded):
            size = f"{expanded:,}" if expanded is not None and expanded < _SHOWN else "over 10^15"
            share = round(allowed_alias_ratio(decoded) * 100)
            raise _refusal(document, stack, step, key,
                           f"document contains excessive aliasing: the alias here expands to {size} values, and "
                           f"kubectl's YAML reader refuses a document more than {share}% of whose values come from "
                           "aliases; expected fewer aliases")


def _children(node: Any, merge_tag: str) -> list[_Child]:
    """(child, path step, mapping key, counted) for each value of a collection, last first: a merge key left out,
    and a merge key's list of mappings not counted itself (go-yaml's merge decodes its items directly)."""
    if node.id == "sequence":
        return [(item, f"[{i}]", None, True) for i, item in reversed(list(enumerate(node.value)))]
    if node.id != "mapping":
        return []
    out: list[_Child] = []
    for key, value in node.value:
        step = key.value if key.id == "scalar" else "?"
        if key.tag != merge_tag:
            out.append((key, step, key, True))
        out.append((value, step, key, key.tag != merge_tag or value.id != "sequence"))
    out.reverse()
    return out


def _merged(node: Any) -> list[_Child]:
    """The items of a merge key's list, to walk last first as go-yaml's merge does (earlier ones take precedence)."""
    return [(item, f"[{i}]", None, True) for i, item in enumerate(node.value)]


def _refusal(document: Any, stack: list[_Frame], step: str, key: Any, message: str) -> AliasingError:
    steps = [frame.step for frame in stack[1:]] + [step]
    field = "".join(s if s.startswith("[") or i == 0 else "." + s for i, s in enumerate(steps)) or None
    keys = [key] + [frame.key for frame in reversed(stack)]
    nearest = next((k for k in keys if k is not None), document)
    return AliasingError(message, nearest.start_mark.line + 1, field, _scalars(document))


def _scalars(document: Any) -> dict[str, Any]:
    """The document's kind and metadata name and namespace, where each is a plain scalar (to name it)."""
    if document.id != "mapping":
        return {}
    named: dict[str, Any] = {}
    kind = _value(document, "kind")
    if kind is not None and kind.id == "scalar":
        named["kind"] = kind.value
    meta = _value(document, "metadata")
    if meta is not None and meta.id == "mapping":
        named["metadata"] = {name: found.value for name in ("name", "namespace")
                             if (found := _value(meta, name)) is not None and found.id == "scalar"}
    return named


def _value(mapping: Any, name: str) -> Any:
    """The value node of a mapping node's key ``name``, or None."""
    return next((value for key, value in mapping.value if key.id == "scalar" and key.value == name), None)
