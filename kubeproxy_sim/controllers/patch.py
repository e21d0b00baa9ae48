"""The three patch types ``kubectl patch --type`` sends, applied to an object as the API server applies them.

``merge`` is the JSON merge patch of RFC 7386 (maps merged, ``null`` deletes a key, any other value, lists
too, replaces); ``strategic`` is Kubernetes' strategic merge patch, which merges a list whose field declares a
patch merge key (a Service's ``spec.ports`` by ``port``, a pod spec's ``containers`` by ``name``) item by item
and honours ``$patch: delete`` / ``$patch: replace`` in such a list's items; ``json`` is the JSON patch of RFC
6902 (``add``, ``remove``, ``replace``, ``test``, ``move``, ``copy``) as the API server's library
(gopkg.in/evanphx/json-patch.v4) applies it, with that library's departures from the RFC (:func:`json_patch`).
Pure: documents in, documents out; a patch the API server refuses raises :class:`PatchError` with its words.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

# the lists strategic merge patch merges item by item, by the key their Go field's patchMergeKey names (k8s.io/api
# core/v1 types.go: ServiceSpec.Ports patchMergeKey=port, PodSpec.Containers/InitContainers name,
# Container.Ports containerPort, Container.Env name, PodSpec.Tolerations has none: replaced), by the path of
# the list (its parents' keys, list items not counted)
MERGE_KEYS: dict[tuple[str, ...], str] = {
    ("spec", "ports"): "port",
    ("spec", "containers"): "name",
    ("spec", "initContainers"): "name",
    ("spec", "containers", "ports"): "containerPort",
    ("spec", "initContainers", "ports"): "containerPort",
    ("spec", "template", "spec", "containers"): "name",
    ("spec", "template", "spec", "initContainers"): "name",
    ("spec", "template", "spec", "containers", "ports"): "containerPort",
    ("spec", "template", "spec", "initContainers", "ports"): "containerPort",
}
PATCH_TYPES = ("json", "merge", "strategic")


class PatchError(Exception):
    """A patch the API server (or kubectl) refuses; the message is theirs."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a patch that is not a mapping replaces the target; a mapping merges key by key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Kubernetes' strategic merge: as :func:`merge_patch`, but a list with a merge key (:data:`MERGE_KEYS`)
    is merged item by item (an item of a new key appended, in the patch's order), ``$patch: delete`` in an item
    removes the item of its key, and ``$patch: replace`` in a map or a list item replaces the whole."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            if key not in ("$patch", "$retainKeys") and not key.startswith("$setElementOrder/"):
                raise PatchError(f"unknown patch directive {key}")
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and (*path, key) in MERGE_KEYS:
            out[key] = _merged_list(out.get(key), value, MERGE_KEYS[(*path, key)], (*path, key))
        else:
            merged = strategic_merge_patch(out.get(key), value, (*path, key))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    return out


def _merged_list(live: Any, patch: list[Any], merge_key: str, path: tuple[str, ...]) -> list[Any]:
    """A list merged by ``merge_key``: patch items update the live item of their key, or are appended."""
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [item for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    out = [copy.deepcopy(item) for item in live] if isinstance(live, list) else []
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        at = next((i for i, old in enumerate(out) if isinstance(old, dict) and old.get(merge_key) == item[merge_key]),
                  None)
        if item.get("$patch") == "delete":
            out = [old for old in out if not (isinstance(old, dict) and old.get(merge_key) == item[merge_key])]
        elif at is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[at] = strategic_merge_patch(out[at], item, path)
    return out


def json_patch(target: Any, operations: Any) -> Any:
    """A JSON patch as the API server applies it: gopkg.in/evanphx/json-patch.v4 (v4.12.0), not strict RFC 6902.
    Its departures, kept: a path's first segment is not checked (``spec/x`` is the root's ``x``); ``replace`` of a
    missing map key adds it; ``add``/``replace`` without a value set null; ``test`` and ``copy`` of a missing key
    read null; array indices are strconv.Atoi's (``01``, ``+1``) and may be negative (``-1`` the last); a
    ``replace`` of the whole document by a scalar changes nothing. The first operation that fails refuses the
    whole patch, in the library's words."""
    if not isinstance(operations, list):
        raise PatchError(f"json: cannot unmarshal {_json_type(operations)} into Go value of type jsonpatch.Patch")
    for op in operations:
        if op is not None and not isinstance(op, dict):
            raise PatchError(f"json: cannot unmarshal {_json_type(op)} into Go value of type jsonpatch.Operation")
    root = [copy.deepcopy(target)]  # a holder, so that a replace of "" can swap the document
    for op in operations:
        _json_operation(root, op or {})
    return root[0]


_MISSING = "missing value"  # ErrMissing
_NO_VALUE = object()  # an operation without a "value" member (a nil *lazyNode, unlike JSON null)


def _json_operation(root: list[Any], op: dict[str, Any]) -> None:
    kind = op.get("op")
    if not isinstance(kind, str):
        kind = "unknown"
    if kind == "add":
        path = _op_string(op, "path", "add", wrap_missing=True)
        parent, key = _find(root, path)
        if parent is None:
            raise PatchError(f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
        _wrapped(lambda: _add_into(parent, key, _value(op)), f"error in add for path: '{path}'")
    elif kind == "remove":
        path = _op_string(op, "path", "remove", wrap_missing=True)
        parent, key = _find(root, path)
        if parent is None:
            raise PatchError(f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
        _wrapped(lambda: _remove_from(parent, key), f"error in remove for path: '{path}'")
    elif kind == "replace":
        _replace(root, op)
    elif kind == "move":
        _move(root, op)
    elif kind == "test":
        _test(root, op)
    elif kind == "copy":
        _copy(root, op)
    else:
        raise PatchError(f"Unexpected kind: {kind}")


def _replace(root: list[Any], op: dict[str, Any]) -> None:
    path = _op_string(op, "path", "replace")
    if path == "":
        value = _value(op)
        if isinstance(value, (dict, list)):
            root[0] = value
        return  # a scalar: the library wraps a nil error, which is no error
    parent, key = _find(root, path)
    if parent is None:
        raise PatchError(f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
    try:
        _get_from(parent, key)
    except PatchError:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path}: {_MISSING}") from None
    if isinstance(parent, dict):
        parent[key] = _value(op)
    else:
        parent[_index(key, len(parent))] = _value(op)


def _move(root: list[Any], op: dict[str, Any]) -> None:
    source = _op_string(op, "from", "move")
    parent, key = _find(root, source)
    if parent is None:
        raise PatchError(f"move operation does not apply: doc is missing from path: {source}: {_MISSING}")
    value = _wrapped(lambda: _get_from(parent, key), f"error in move for path: '{key}'")
    _wrapped(lambda: _remove_from(parent, key), f"error in move for path: '{key}'")
    path = _op_string(op, "path", "move")
    target, last = _find(root, path)
    if target is None:
        raise PatchError(f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    _wrapped(lambda: _add_into(target, last, value), f"error in move for path: '{path}'")


def _copy(root: list[Any], op: dict[str, Any]) -> None:
    source = _op_string(op, "from", "copy")
    parent, key = _find(root, source)
    if parent is None:
        raise PatchError(f"copy operation does not apply: doc is missing from path: {source}: {_MISSING}")
    value = _wrapped(lambda: _get_from(parent, key), f"error in copy for from: '{source}'")
    path = _op_string(op, "path", "copy", wrap_missing=True)
    target, last = _find(root, path)
    if target is None:
        raise PatchError(f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    _wrapped(lambda: _add_into(target, last, copy.deepcopy(value)), "error while adding value during copy")


def _test(root: list[Any], op: dict[str, Any]) -> None:
    path = _op_string(op, "path", "test")
    wanted = op.get("value", _NO_VALUE)
    if path == "":
        if wanted is _NO_VALUE or not _json_equal(root[0], wanted):
            raise PatchError(f"testing value {path} failed: test failed")
        return
    parent, key = _find(root, path)
    if parent is None:
        raise PatchError(f"test operation does not apply: is missing path: {path}: {_MISSING}")
    value = _wrapped(lambda: _get_from(parent, key), f"error in test for path: '{path}'")
    if value is None and wanted is _NO_VALUE:
        # the library dereferences the absent value (patch.go test: op.value().raw) and panics
        raise PatchError("runtime error: invalid memory address or nil pointer dereference (the API server's "
                         f"json-patch library panics on a test of {path}, which is null, without a value)")
    if value is None:
        if wanted is None:
            return
        raise PatchError(f"testing value {path} failed: test failed")
    if wanted is _NO_VALUE or not _json_equal(value, wanted):
        raise PatchError(f"testing value {path} failed: test failed")


def _op_string(op: dict[str, Any], field: str, kind: str, *, wrap_missing: bool = False) -> str:
    """Operation.Path/From: the member as a Go string; the failure wrapped as ``kind`` wraps it (add, remove and
    copy's path wrap ErrMissing whatever the cause, the others the cause itself)."""
    text = op.get(field)
    what = "path" if field == "path" else "from"
    if isinstance(text, str):
        return text
    if wrap_missing:
        raise PatchError(f"{kind} operation failed to decode {what}: {_MISSING}")
    if text is None:
        cause = "operation missing path field" if field == "path" else "operation, missing from field"
        raise PatchError(f"{kind} operation failed to decode {what}: {cause}: {_MISSING}")
    raise PatchError(f"{kind} operation failed to decode {what}: json: cannot unmarshal {_json_type(text)} into Go "
                     "value of type string")


def _value(op: dict[str, Any]) -> Any:
    """The operation's value, a copy; none given is null (the library stores a nil node, written as null)."""
    return copy.deepcopy(op.get("value"))


def _wrapped(action: Any, context: str) -> Any:
    try:
        return action()
    except PatchError as exc:
        raise PatchError(f"{context}: {exc}") from None


def _find(root: list[Any], path: str) -> tuple[Any, str]:
    """findObject: the container holding the path's last segment, and that segment decoded; (None, "") when the
    path has no "/" or a segment before the last is missing, null, or no container. The segment before the first
    "/" is never looked at."""
    split = path.split("/")
    if len(split) < 2:
        return None, ""
    node = root[0]
    for part in split[1:-1]:
        try:
            node = _get_from(node, _unescape(part))
        except PatchError:
            return None, ""
        if not isinstance(node, (dict, list)):
            return None, ""
    return node, _unescape(split[-1])


def _unescape(segment: str) -> str:
    return re.sub("~[01]", lambda m: "/" if m.group(0) == "~1" else "~", segment)


def _atoi(key: str) -> int:
    """strconv.Atoi, in its words when it refuses."""
    quoted = json.dumps(key, ensure_ascii=False)
    if not re.fullmatch(r"[+-]?[0-9]+", key):
        raise PatchError(f"strconv.Atoi: parsing {quoted}: invalid syntax")
    number = int(key)
    if not -2**63 <= number < 2**63:
        raise PatchError(f"strconv.Atoi: parsing {quoted}: value out of range")
    return number


def _invalid_index(index: int) -> PatchError:
    return PatchError(f"Unable to access invalid index: {index}: invalid index referenced")


def _index(key: str, size: int) -> int:
    """An existing element's index (a negative one counted from the end), as get, set and remove take it."""
    index = _atoi(key)
    if index >= size or index < -size:
        raise _invalid_index(index)
    return index + size if index < 0 else index


def _get_from(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)  # a missing key reads as null
    if isinstance(node, list):
        return node[_index(key, len(node))]
    raise PatchError(_MISSING)


def _add_into(node: Any, key: str, value: Any) -> None:
    if isinstance(node, dict):
        node[key] = value
        return
    if key == "-":
        node.append(value)
        return
    try:
        index = _atoi(key)
    except PatchError as exc:
        raise PatchError(f"value was not a proper array index: '{key}': {exc}") from None
    size = len(node) + 1
    if index >= size or index < -size:
        raise _invalid_index(index)
    node.insert(index + size if index < 0 else index, value)


def _remove_from(node: Any, key: str) -> None:
    if isinstance(node, dict):
        if key not in node:
            raise PatchError(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del node[key]
        return
    del node[_index(key, len(node))]


def _json_equal(a: Any, b: Any) -> bool:
    """lazyNode.equal: maps of the same keys with equal values, arrays element by element, numbers by value,
    other scalars as written (a bool is no number, "80" no 80)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            _json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            _json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def apply_patch(kind: str, target: dict[str, Any], patch: Any) -> Any:
    """The document once a patch of ``kind`` (json, merge or strategic) is applied."""
    if kind == "json":
        return json_patch(target, [] if patch is None else patch)  # null unmarshals into a nil Patch
    if patch is None:  # JSON null unmarshals into an empty map: nothing to change
        patch = {}
    if not isinstance(patch, dict):
        raise PatchError(f"json: cannot unmarshal {_json_type(patch)} into Go value of type map[string]interface {{}}")
    if kind == "merge":
        return merge_patch(target, patch)
    return strategic_merge_patch(target, patch)


def _json_type(value: Any) -> str:
    """encoding/json's name of a JSON value's type in its UnmarshalTypeError."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "string" if isinstance(value, str) else "object" if isinstance(value, dict) else "array"
