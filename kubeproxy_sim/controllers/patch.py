"""The three patch types ``kubectl patch --type`` sends, applied to an object as the API server applies them.

``merge`` is the JSON merge patch of RFC 7386 (maps merged, ``null`` deletes a key, any other value, lists
too, replaces); ``strategic`` is Kubernetes' strategic merge patch, which merges a list whose field declares a
patch merge key (a Service's ``spec.ports`` by ``port``, a pod spec's ``containers`` by ``name``) item by item
and honours ``$patch: delete`` / ``$patch: replace`` in such a list's items; ``json`` is the JSON patch of RFC
6902 (``add``, ``remove``, ``replace``, ``test``, ``move``, ``copy``). Pure: documents in, documents out; a
patch the API server refuses raises :class:`PatchError` with its words.
"""

from __future__ import annotations

import copy
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
    """RFC 6902 against a copy of ``target``; the first operation that fails refuses the whole patch."""
    if not isinstance(operations, list):
        raise PatchError("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict):
            raise PatchError("json: cannot unmarshal into Go value of type jsonpatch.Operation")
        kind = op.get("op")
        if kind not in ("add", "remove", "replace", "test", "move", "copy"):
            raise PatchError(f"Unexpected kind: {kind}")
        path = _pointer(op.get("path"))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"missing value: {kind} operation does not apply: doc is missing key: value")
        if kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {op.get('path')} failed: test failed")
        elif kind == "remove":
            doc = _remove(doc, path, op.get("path"))
        elif kind == "replace":
            doc = _remove(doc, path, op.get("path"), replaced=True)
            doc = _add(doc, path, copy.deepcopy(op["value"]), op.get("path"))
        elif kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), op.get("path"))
        else:
            source = _pointer(op.get("from"))
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                doc = _remove(doc, source, op.get("from"))
            doc = _add(doc, path, value, op.get("path"))
    return doc


def _pointer(text: Any) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"add operation does not apply: doc is missing path: {text}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]] if text else []


def _parent(doc: Any, path: list[str], text: Any) -> Any:
    node = doc
    for part in path[:-1]:
        node = _child(node, part, text)
    return node


def _child(node: Any, part: str, text: Any) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise PatchError(f"doc is missing path: \"{text}\": missing value")


def _get(doc: Any, path: list[str]) -> Any:
    node = doc
    for part in path:
        node = _child(node, part, "/" + "/".join(path))
    return node


def _add(doc: Any, path: list[str], value: Any, text: Any) -> Any:
    if not path:
        return value
    parent, last = _parent(doc, path, text), path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise PatchError(f"add operation does not apply: doc is missing path: \"{text}\": missing value")
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: \"{text}\": missing value")
    return doc


def _remove(doc: Any, path: list[str], text: Any, *, replaced: bool = False) -> Any:
    word = "replace" if replaced else "remove"
    if not path:
        return None
    parent, last = _parent(doc, path, text), path[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise PatchError(f"{word} operation does not apply: doc is missing key: {text}: missing value")
    return doc


def apply_patch(kind: str, target: dict[str, Any], patch: Any) -> Any:
    """The document once a patch of ``kind`` (json, merge or strategic) is applied."""
    if kind == "json":
        return json_patch(target, patch)
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
    return "string" if isinstance(value, str) else "array"
