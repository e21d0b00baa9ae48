"""Strategic merge's list order where apimachinery's Go departs from a plain reading (without kubectl: the
expected lists are what kubectl 1.33 printed for these cases, found by test_strategic_fuzz_kubectl_b4):
normalizeSliceOrder's less says true whenever an item is missing from the order, so the result is what Go's
sort.SliceStable (insertion sorts of 20, then SymMerge) makes of it; and the live list's backing array is shifted,
appended to and deduplicated in place while it has room, so the order mergePatchIntoOriginal reads is no longer
the live list as it was."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.controllers.patch import go_capacity, go_slice_stable, strategic_merge_patch


def _service(ports: list[tuple[int, str]], finalizers: list[str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    return {"metadata": metadata, "spec": {"ports": [{"port": p, "name": n} for p, n in ports]}}


def _ports(doc: dict[str, Any]) -> list[tuple[int, str]]:
    return [(p["port"], p["name"]) for p in doc["spec"]["ports"]]


def test_an_empty_order_with_a_deletion_and_new_ports() -> None:
    live = _service([(12, "a"), (5, "b"), (2, "c"), (8, "d"), (5, "e")])
    items = [{"port": 3, "name": "n3"}, {"port": 14, "name": "n14"}, {"$patch": "delete", "port": 8}]
    patch = {"spec": {"ports": items, "$setElementOrder/ports": []}}
    assert _ports(strategic_merge_patch(live, patch)) == [(12, "a"), (5, "b"), (5, "e"), (2, "c"), (14, "n14"),
                                                         (3, "n3")]


def test_a_deletion_shifts_the_live_list_the_order_reads() -> None:
    live = _service([(10, "a"), (2, "b"), (11, "c"), (3, "d"), (11, "e"), (11, "f"), (4, "g"), (10, "h")])
    patch = {"spec": {"ports": [{"port": 2, "name": "n2"}, {"port": 14, "name": "n14"}, {"$patch": "delete", "port": 4},
                                {"port": 10, "name": "n10"}],
                      "$setElementOrder/ports": [{"port": 2}, {"port": 14}, {"port": 10}]}}
    assert _ports(strategic_merge_patch(live, patch)) == [(2, "n2"), (11, "c"), (11, "e"), (11, "f"), (3, "d"),
                                                         (14, "n14"), (10, "n10"), (10, "h")]


def test_scalars_deduplicated_in_the_live_array() -> None:
    live = ["f1", "f2", "f2", "f1", "f4", "f0", "f1", "f1", "f3", "f6", "f3", "f6", "f4", "f5", "f2", "f1", "f6",
            "f4", "f4", "f4", "f6", "f1"]
    doc = strategic_merge_patch(_service([], live), {"metadata": {"finalizers": []}})
    assert doc["metadata"]["finalizers"] == ["f1", "f2", "f6", "f4", "f3", "f0", "f5"]


def test_decoded_capacities() -> None:
    assert [go_capacity(n) for n in (0, 1, 2, 3, 5, 17, 256, 257, 513)] == [0, 1, 2, 4, 8, 32, 256, 512, 848]


@given(st.lists(st.integers(0, 6), max_size=90))
def test_go_stable_sort_of_a_true_order_is_a_stable_sort(keys: list[int]) -> None:
    items = list(enumerate(keys))
    go_slice_stable(items, lambda a, b: a[1] < b[1])
    assert items == sorted(enumerate(keys), key=lambda item: item[1])
