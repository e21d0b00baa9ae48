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
from collections.abc import Callable
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
    ("spec", "containers", "env"): "name",
    ("spec", "initContainers", "env"): "name",
    ("spec", "template", "spec", "containers", "env"): "name",
    ("spec", "template", "spec", "initContainers", "env"): "name",
}
PATCH_TYPES = ("json", "merge", "strategic")


class PatchError(Exception):
    """A patch the API server (or kubectl) refuses; the message is theirs."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 as the API server's library (gopkg.in/evanphx/json-patch.v4 MergePatch) applies it: a mapping
    merges key by key, ``null`` deleting one; a value merged into a live mapping is merged if it is a mapping and
    taken as written (nulls and all) if not; a value taken anywhere else (a key the target lacks or holds as
    null, a live list or scalar replaced) first loses its nulls (:func:`_without_nulls`). A patch that is a list
    replaces the document, pruned; null or a scalar is no patch at all: ``Invalid JSON Patch``."""
    if isinstance(patch, list):
        return _without_nulls(copy.deepcopy(patch))
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch")
    return _merged_document(copy.deepcopy(target) if isinstance(target, dict) else {}, copy.deepcopy(patch))


def _merged_document(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """mergeDocs over copies it may change: each patch key merged into ``target``."""
    for key, value in patch.items():
        live = target.get(key)
        if value is None:
            target.pop(key, None)
        elif not isinstance(live, dict):  # absent, null, a list or a scalar: replaced
            target[key] = _without_nulls(value)
        elif isinstance(value, dict):
            target[key] = _merged_document(live, value)
        else:  # a mapping replaced by a list or a scalar: the library returns the patch's node untouched
            target[key] = value
    return target


def strategic_merge_patch(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Kubernetes' strategic merge as the API server applies it (apimachinery strategicpatch mergeMap, with
    MergeParallelList and IgnoreUnmatchedNulls): maps merged key by key (``null`` deletes), a list with a merge key
    (:data:`MERGE_KEYS`) merged item by item and a merged list of scalars (:data:`MERGED_SCALAR_LISTS`) joined,
    both then ordered as the patch orders them (or ``$setElementOrder/LIST``), the live order kept for items the
    patch does not name, a new item before the live ones; any other list replaced. ``$patch: replace|delete`` in
    a map or a list item, ``$retainKeys`` and ``$deleteFromPrimitiveList/LIST`` are honoured; another ``$`` key
    is a field like any other. A value taken whole (its key new, or of another JSON type than the live one's)
    is stored without its nulls and ``$patch`` maps (:func:`_take`). Refusals are in apimachinery's words. The
    order follows the library's Go to the item, where it departs from its intent: its sort's less function
    (:func:`go_slice_stable`) and the live list's shared backing array (:class:`_Backing`); checked against
    kubectl 1.33 by tests/controllers/test_strategic_fuzz_kubectl_b4."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_map(copy.deepcopy(target) if isinstance(target, dict) else None, copy.deepcopy(patch), path)


# the lists of scalars whose field declares patchStrategy merge (ObjectMeta.Finalizers): the patch's items are
# added to the live ones, and $deleteFromPrimitiveList/ takes some out
MERGED_SCALAR_LISTS = frozenset({("metadata", "finalizers"), ("spec", "template", "metadata", "finalizers")})
_ORDER = "$setElementOrder"
_DELETE_FROM = "$deleteFromPrimitiveList"


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    if "$patch" in patch:
        directive = patch["$patch"]
        if directive == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        if directive == "delete":
            return {}
        raise PatchError(f"unknown patch type: {go_format(directive)} in map: {go_format(patch)}")
    original = {} if original is None else original
    _retain_keys(original, patch)
    _set_element_order(original, patch, path)
    for key, value in patch.items():
        delete_list = key.startswith(_DELETE_FROM)
        if delete_list:
            key = _directive_key(key, _DELETE_FROM)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or _go_kind(original[key]) != _go_kind(value):
            if not delete_list:  # a deletion from a list not there (or no list) is nothing
                _take(original, key, _without_nulls(value))
            continue
        live = original[key]
        if isinstance(live, dict):
            original[key] = _merge_map(live, value, (*path, key))
        elif isinstance(live, list):
            original[key] = _merge_list_field(live, value, (*path, key), delete_list)
        else:  # a scalar of the same Go type, even under $deleteFromPrimitiveList/ (as the library does)
            original[key] = value
    return original


def _take(original: dict[str, Any], key: str, value: Any) -> None:
    """mergeMap's removeDirectives step for a value taken whole (the key new, or of another JSON type than the
    live one): the value is stored without the ``$patch`` mappings it holds, and the key is left out when the
    value itself is one (``{"selector": {"$patch": "delete"}}`` on a Service without a selector sets none,
    where storing it would write a map the object's schema cannot read)."""
    kept, keep = _without_directives(value)
    if keep:
        original[key] = kept
    else:
        original.pop(key, None)


def _without_nulls(value: Any) -> Any:
    """A value taken whole, less the null members of its mappings at every depth (a null deletes a key, and
    there is nothing there to delete); a list's null items stay, the mappings inside it pruned. Both libraries
    do so: evanphx's pruneNulls (v4.12.0's pruneAryNulls keeps every item) and strategicpatch's
    discardNullValuesFromPatch (mergeMap, IgnoreUnmatchedNulls)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _without_directives(value: Any) -> tuple[Any, bool]:
    """removeDirectives: (the value less every mapping that holds a ``$patch`` key, whatever its value, at any
    depth; whether the value is kept at all, False when it is such a mapping itself)."""
    if isinstance(value, dict):
        if "$patch" in value:
            return None, False
        out: dict[str, Any] = {}
        for k, v in value.items():
            kept, keep = _without_directives(v)
            if keep:
                out[k] = kept
        return out, True
    if isinstance(value, list):
        items = [_without_directives(v) for v in value]
        return [kept for kept, keep in items if keep], True
    return value, True


def _directive_key(key: str, prefix: str) -> str:
    """extractKey: the list a parallel-list directive names (``$setElementOrder/ports``: ports)."""
    head, slash, rest = key.partition("/")
    if not slash or head != prefix:
        raise PatchError("invalid patch format of primitive list" if prefix == _DELETE_FROM
                         else "invalid patch format of setElementOrder list")
    return rest


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """applyRetainKeysDirective: every field the patch sets must be listed, and live fields not listed go."""
    if "$retainKeys" not in patch:
        return
    kept = patch.pop("$retainKeys")
    if not isinstance(kept, list):
        raise PatchError("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM, _ORDER)):
            continue
        if not any(_go_equal(key, k) for k in kept):
            raise PatchError("invalid patch format of retainKeys")
    for key in [k for k in original if not any(_go_equal(k, listed) for listed in kept)]:
        del original[key]


def _merge_key_of(path: tuple[str, ...]) -> tuple[bool, str]:
    """Whether the list at ``path`` is merged (patchStrategy merge), and its merge key ("" for scalars)."""
    if path in MERGE_KEYS:
        return True, MERGE_KEYS[path]
    return path in MERGED_SCALAR_LISTS, ""


def _merge_list_field(live: list[Any], patch: list[Any], path: tuple[str, ...], delete_list: bool) -> list[Any]:
    """mergeSliceHandler: a merged list is merged, any other replaced by the patch's."""
    merged, merge_key = _merge_key_of(path)
    if delete_list and not merged:  # the API server deletes from any list of scalars so
        return [v for v in live if not any(_go_equal(v, gone) for gone in patch)]
    if not merged:
        return patch
    return _merge_slice(live, patch, merge_key, path, delete_list)


def _merge_slice(original: list[Any], patch: list[Any], merge_key: str, path: tuple[str, ...],
                 delete_list: bool) -> list[Any]:
    return _merge_slice_seen(original, patch, merge_key, path, delete_list)[0]


def _merge_slice_seen(original: list[Any], patch: list[Any], merge_key: str, path: tuple[str, ...],
                      delete_list: bool) -> tuple[list[Any], list[Any]]:
    """mergeSlice: (the merged list, what the caller's ``original`` holds afterwards). Go's slices share their
    backing array: the library appends to, shifts and deduplicates the live list in place while it has room
    (:class:`_Backing`), so the live list mergePatchIntoOriginal then orders by is no longer the live list as it
    was (a deleted item gone and the last one twice, a new item in its place, scalars swapped)."""
    if not original and not patch:
        return original, original
    kind = _element_kind(original, patch)
    if kind != "map":
        if delete_list:
            return [v for v in original if not any(_go_equal(v, gone) for gone in patch)], original
        backing = _Backing(original)
        both = backing.append_all(patch)  # append(original, patch...)
        merged = both.deduplicated()
        order = backing.seen()
        named, server_only = _partition(merged, patch, merge_key)
        return _normalized_order(named, server_only, patch, order, merge_key, kind), order
    if not merge_key:
        raise PatchError("cannot merge lists without merge key for type string")
    backing = _Backing(original)
    current, patch = _special_items(backing, patch, merge_key)
    order = current.items()
    merged = _merged_items(current, patch, merge_key, path)
    named, server_only = _partition(merged, patch, merge_key)
    return _normalized_order(named, server_only, patch, order, merge_key, kind), backing.seen()


def go_capacity(length: int) -> int:
    """The capacity of a []interface{} encoding/json decodes ``length`` items into (arrayInterface appends one at
    a time from make([]any, 0)): growslice's doubling under 256, then its 1.25x step plus 192, each rounded up to
    the allocator's size class of 16-byte items."""
    cap = 0
    while cap < length:
        cap = _grown(cap, cap + 1)
    return cap


# runtime/sizeclasses.go's object sizes up to 32 KiB (larger ones are whole 8 KiB pages)
_SIZE_CLASSES = (16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416,
                 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072,
                 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568,
                 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768)


def _grown(old: int, needed: int) -> int:
    """growslice's new capacity (nextslicecap, then roundupsize) for ``needed`` items of 16 bytes."""
    new = old * 2
    if needed > new:
        new = needed
    elif old >= 256:
        new = old
        while new < needed:
            new += (new + 3 * 256) >> 2
    size = new * 16
    rounded = next((c for c in _SIZE_CLASSES if c >= size), -(-size // 8192) * 8192)
    return rounded // 16


class _Backing:
    """A Go slice's backing array as the live list decoded it (:func:`go_capacity`), and one slice of it
    (``length`` items): an append within the capacity writes into the array, beyond it moves the slice to a new
    array (the caller's old slice no longer sees its writes). :meth:`seen` is what the first slice, the live
    list's, holds now."""

    def __init__(self, items: list[Any]) -> None:
        self.array: list[Any] = [*items, *([None] * (go_capacity(len(items)) - len(items)))]
        self.size = len(items)  # the live list's own length
        self.length = len(items)

    def items(self) -> list[Any]:
        return self.array[:self.length]

    def seen(self) -> list[Any]:
        return self.array[:self.size]

    def slice_of(self, length: int) -> _Backing:
        """Another slice of the same array (shares its writes), of ``length`` items."""
        other = copy.copy(self)
        other.length = length
        return other

    def append(self, item: Any) -> _Backing:
        if self.length < len(self.array):
            self.array[self.length] = item
            return self.slice_of(self.length + 1)
        moved = _Backing([])
        moved.array = [*self.items(), item, *([None] * (_grown(len(self.array), self.length + 1) - self.length - 1))]
        moved.length = self.length + 1
        return moved

    def append_all(self, items: list[Any]) -> _Backing:
        """append(s, items...): in place when all fit, else one new array (growslice for the whole lot)."""
        if self.length + len(items) <= len(self.array):
            self.array[self.length:self.length + len(items)] = items
            return self.slice_of(self.length + len(items))
        moved = _Backing([])
        grown = _grown(len(self.array), self.length + len(items))
        moved.array = [*self.items(), *items, *([None] * (grown - self.length - len(items)))]
        moved.length = self.length + len(items)
        return moved

    def delete_at(self, index: int) -> _Backing:
        """append(s[:index], s[index+1:]...): the rest shifted down in place, the last slot left as it was."""
        self.array[index:self.length - 1] = self.array[index + 1:self.length]
        return self.slice_of(self.length - 1)

    def deduplicated(self) -> list[Any]:
        """deduplicateScalars in place: a duplicate is overwritten by the last item, and the slice shortened."""
        last = self.length - 1
        i = 0
        while i < last:
            j = i + 1
            while j <= last:
                if _go_equal(self.array[i], self.array[j]):
                    self.array[j] = self.array[last]
                    last -= 1
                    j -= 1
                j += 1
            i += 1
        return self.array[:last + 1]


def _special_items(original: _Backing, patch: list[Any], merge_key: str) -> tuple[_Backing, list[Any]]:
    """mergeSliceWithSpecialElements: ``$patch: delete`` items remove their key's live items (in place, as
    deleteMatchingEntries shifts them), ``$patch: replace`` makes the patch's other items the whole list."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if "$patch" not in item:
            plain.append(item)
            continue
        directive = item["$patch"]
        if directive == "delete":
            if merge_key not in item:
                raise PatchError(_no_merge_key(item, merge_key))
            while (at := _find_by_key(original.items(), merge_key, item[merge_key])) is not None:
                original = original.delete_at(at)
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {go_format(directive)} in map: {go_format(item)}")
    if replace:
        whole = _Backing([])
        whole.array, whole.length = list(plain), len(plain)
        return whole, []
    return original, plain


def _merged_items(original: _Backing, patch: list[Any], merge_key: str, path: tuple[str, ...]) -> list[Any]:
    """mergeSliceWithoutSpecialElements: each patch item merged into the first live item of its key, or
    appended (into the live list's array while it has room)."""
    out = original
    for item in patch:
        if merge_key not in item:
            raise PatchError(_no_merge_key(item, merge_key))
        at = _find_by_key(out.items(), merge_key, item[merge_key])
        if at is None:
            out = out.append(item)
        else:
            out.array[at] = _merge_map(out.array[at], item, path)
    return out.items()


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {index} is not a map")
        if merge_key in item and _go_equal(item[merge_key], value):
            return index
    return None


def _partition(merged: list[Any], named_by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """partition*ByPresentInList: the items ``named_by`` names, and the others, each in merged's order."""
    named: list[Any] = []
    others: list[Any] = []
    for item in merged:
        if merge_key:
            if not isinstance(item, dict):
                raise PatchError(_bad_type("map[string]interface {}", item))
            if merge_key not in item:
                raise PatchError(_no_merge_key(item, merge_key))
            found = _find_by_key(named_by, merge_key, item[merge_key]) is not None
        else:
            found = any(_go_equal(item, v) for v in named_by)
        (named if found else others).append(item)
    return named, others


def _normalized_order(named: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any],
                      merge_key: str, kind: str) -> list[Any]:
    """normalizeElementOrder and mergeSortedSlice: the patch's items in the patch's order, the others in the live
    order, then merged: a live item goes before a patch item only when both are live and it was before."""
    left = _sorted_by(server_only, server_order, merge_key, kind)
    right = _sorted_by(named, patch_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li, ri = _index_in(server_order, left[i], merge_key, kind), _index_in(server_order, right[j], merge_key,
                                                                                 kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _sorted_by(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """normalizeSliceOrder: a stable sort by the position in ``order`` (every item here is in it)."""
    deleted: list[Any] = []
    if kind == "map":
        for listed in (items, order):
            for item in listed:
                if not isinstance(item, dict):
                    raise PatchError(_bad_type("map[string]interface {}", item))
                if merge_key not in item:
                    raise PatchError(_no_merge_key(item, merge_key))
        deleted = [item for item in items if item.get("$patch") == "delete"]
        items = [item for item in items if item.get("$patch") != "delete"]
    ranked = [(_index_in(order, item, merge_key, kind), item) for item in items]
    go_slice_stable(ranked, _order_less)
    return [item for _, item in ranked] + deleted


def _order_less(a: tuple[int, Any], b: tuple[int, Any]) -> bool:
    """normalizeSliceOrder's less: by the position in the order when both are in it, else always true (so an
    item the order lacks is "less" than any, both ways: no strict weak order, and the result is whatever Go's
    sort.SliceStable makes of it, which is why :func:`go_slice_stable` follows its steps)."""
    if a[0] >= 0 and b[0] >= 0:
        return a[0] < b[0]
    return True


def go_slice_stable(data: list[Any], less: Callable[[Any, Any], bool]) -> None:
    """Go's sort.SliceStable in place, step for step (sort/zsortfunc.go's stable_func: insertion sorts of blocks
    of 20, then SymMerge of ever larger runs), so that a less function that is no strict weak order permutes the
    items as Go does."""
    size, block = len(data), 20
    start = 0
    while start + block <= size:
        _insertion_sort(data, less, start, start + block)
        start += block
    _insertion_sort(data, less, start, size)
    while block < size:
        start = 0
        while start + 2 * block <= size:
            _sym_merge(data, less, start, start + block, start + 2 * block)
            start += 2 * block
        if start + block < size:
            _sym_merge(data, less, start, start + block, size)
        block *= 2


def _insertion_sort(data: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and less(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


def _sym_merge(data: list[Any], less: Callable[[Any, Any], bool], a: int, m: int, b: int) -> None:
    """SymMerge (Kim and Kutzner) of the sorted runs data[a:m] and data[m:b], with Go's binary searches and
    rotations, one item runs inserted by a search and swaps."""
    if m - a == 1:  # data[a] goes before the first of data[m:b] it is not after
        lo, hi = m, b
        while lo < hi:
            h = (lo + hi) // 2
            if less(data[h], data[a]):
                lo = h + 1
            else:
                hi = h
        for k in range(a, lo - 1):
            data[k], data[k + 1] = data[k + 1], data[k]
        return
    if b - m == 1:  # data[m] goes after the last of data[a:m] it is not less than
        lo, hi = a, m
        while lo < hi:
            h = (lo + hi) // 2
            if not less(data[m], data[h]):
                lo = h + 1
            else:
                hi = h
        for k in range(m, lo, -1):
            data[k], data[k - 1] = data[k - 1], data[k]
        return
    mid = (a + b) // 2
    n = mid + m
    if m > mid:
        start, r = n - b, mid
    else:
        start, r = a, m
    p = n - 1
    while start < r:
        c = (start + r) // 2
        if not less(data[p - c], data[c]):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(data, start, m, end)
    if a < start < mid:
        _sym_merge(data, less, a, start, mid)
    if mid < end < b:
        _sym_merge(data, less, mid, end, b)


def _rotate(data: list[Any], a: int, m: int, b: int) -> None:
    """Go's rotate: data[a:m] and data[m:b] swapped by block swaps (the same moves, so the same result)."""
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(data, m - i, m, j)
            i -= j
        else:
            _swap_range(data, m - i, m + j - i, i)
            j -= i
    _swap_range(data, m - i, m, i)


def _swap_range(data: list[Any], a: int, b: int, n: int) -> None:
    for i in range(n):
        data[a + i], data[b + i] = data[b + i], data[a + i]


def _index_in(items: list[Any], item: Any, merge_key: str, kind: str) -> int:
    def value(v: Any) -> Any:
        if kind == "map":
            return v.get(merge_key) if isinstance(v, dict) else None
        return v
    wanted = value(item)
    return next((n for n, v in enumerate(items) if _go_equal(value(v), wanted)), -1)


def _set_element_order(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> None:
    """mergePatchIntoOriginal: each ``$setElementOrder/LIST`` orders LIST (merged with the patch's LIST, which
    it then consumes) by its order, live items it does not name kept in their order. A directive naming a list
    neither side has is dropped, and the next one is read: kubectl 1.33's library continues there (older ones
    returned, leaving the directives not yet seen in the patch as plain fields; tests/controllers/
    test_strategic_directives_r2)."""
    for key in [k for k in patch if k.startswith(_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise PatchError(_bad_type("[]interface {}", order))
        field = _directive_key(key, _ORDER)
        live, patched = original.get(field), patch.get(field)
        for side in (original, patch):  # a field there, even as null, must be a list
            if field in side and not isinstance(side[field], list):
                raise PatchError(_bad_type("[]interface {}", side[field]))
        merged_field, merge_key = _merge_key_of((*path, field))
        _check_order(patched or [], order, merge_key)
        if live is None and patched is None:
            continue
        if patched is None:
            merged = live
        elif live is None:  # a list added: without its directive items (removeDirectives)
            merged = _without_directives(patched)[0]
        else:
            merged, live = (_merge_slice_seen(live, patched, merge_key, (*path, field), False) if merged_field
                            else (patched, live))
        named, server_only = _partition(merged or [], order, merge_key)
        kind = _element_kind(live or [], patched or [])
        original[field] = _normalized_order(named, server_only, order, live or [], merge_key, kind)
        patch.pop(field, None)


def _check_order(patched: list[Any], order: list[Any], merge_key: str) -> None:
    """validatePatchWithSetOrderList: the patch's items (deletions aside) appear in the directive, in its order."""
    if not order or not patched:
        return
    items = patched
    if merge_key:
        for item in patched:
            if not isinstance(item, dict):
                raise PatchError(_bad_type("map[string]interface {}", item))
        items = [item for item in patched if item.get("$patch") != "delete"]
    # a directive item ($patch: replace, or another) is stepped over only while the order has items left: one
    # after the order's last match is an item the order lacks (kubectl 1.33 refuses [{port: 82}, {$patch:
    # replace}] against [{port: 82}]; tests/controllers/test_strategic_directives_r2)
    at = listed = 0
    while at < len(items) and listed < len(order):
        if isinstance(items[at], dict) and "$patch" in items[at]:
            at += 1
            continue
        if _same_key(items[at], order[listed], merge_key):
            at += 1
        listed += 1
    if at < len(items):
        raise PatchError(f"The order in patch list:\n{go_format(patched)}\n doesn't match {_ORDER} list:\n"
                         f"{go_format(order)}")


def _same_key(left: Any, right: Any, merge_key: str) -> bool:
    """mergeKeyValueEqual."""
    if not merge_key:
        return _go_equal(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise PatchError(_bad_type("map[string]interface {}", item))
        if merge_key not in item:
            raise PatchError(_no_merge_key(item, merge_key))
    return _go_equal(left[merge_key], right[merge_key])


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: the one Go type of every element of the lists, in its words when they differ."""
    seen: str | None = None
    for items in lists:
        for item in items:
            kind = _go_kind(item)
            if seen is None:
                if kind == "slice":
                    raise PatchError("lists of lists are not supported")
                seen = kind
            elif kind != seen:
                raise PatchError(f"list element types are not identical: {go_format(list(lists))}")
    if seen is None:
        raise PatchError("no elements in any of the given slices")
    return seen


def _go_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    # apimachinery's json keeps a number written with a fraction or an exponent (80.0, 1e2) a float64, as
    # json.loads keeps it a float
    return "int64" if isinstance(value, int) else "float64"


def _go_equal(a: Any, b: Any) -> bool:
    """Go's == on two decoded JSON scalars: same type and value (true is no 1)."""
    return _go_kind(a) == _go_kind(b) and a == b


def _no_merge_key(item: Any, merge_key: str) -> str:
    return f"map: {go_format(item)} does not contain declared merge key: {merge_key}"


def _bad_type(expected: str, actual: Any) -> str:
    """ErrBadArgType: both reflect.TypeOf values through %s, so a null's (a nil reflect.Type) is fmt's
    ``%!s(<nil>)``."""
    names = {"map": "map[string]interface {}", "slice": "[]interface {}", "nil": "%!s(<nil>)", "int64": "int64",
             "float64": "float64", "bool": "bool", "string": "string"}
    return f"expected a {expected}, but received a {names[_go_kind(actual)]}"


def go_format(value: Any) -> str:
    """fmt's %v of a decoded JSON value: map[k:v ...] with sorted keys, [a b], <nil>, numbers as Go prints them."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return str(value)


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
    if kind == "merge" and not isinstance(patch, (dict, list)):  # MergePatch refuses null and scalars itself
        return merge_patch(target, patch)
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
