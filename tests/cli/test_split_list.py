"""One JSON List parsed after the fork, half in each process (objects.json_halves, split_sync._split_list).

Every test runs ``rules`` once in one process and once split with the threshold forced to 0, and checks that the
List was (or, for inputs it must not take, was not) read in halves, and that the text, the messages and their
order are exactly the one-process run's.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli import split_sync
from kubeproxy_sim.objects import json_halves
from kubeproxy_sim.objects.load import Share, text_documents
from tests.cli.test_split_sync import _endpoints, _not_ready, _service, _slice, rules_args, written

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}}


def _split_by_halves(path: Path, *, halves: bool, extra: tuple[str, ...] = ()) -> None:
    """``rules -f path`` both ways: the same text and messages; the List read in halves exactly when ``halves``
    (else the text was read before the fork, as it always was)."""
    argv = ["-f", str(path), "--hostname-override", "n1", "--cluster-cidr", "10.0.0.0/8", *extra]
    whole = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=10**9)
    results: list[bool] = []
    split_list = split_sync._split_list

    def recorded(*args: Any) -> split_sync.Synced | None:
        synced = split_list(*args)
        results.append(synced is not None)
        return synced

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(split_sync, "_split_list", recorded)
        split = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=0)
    assert results == [True] if halves else results in ([], [False])
    assert [str(d) for d in split.diagnostics] == [str(d) for d in whole.diagnostics]
    assert split.diagnostics == whole.diagnostics and split.config == whole.config
    assert written(split) == written(whole)


def _messy_items() -> list[Any]:
    """Services, their slices and v1 Endpoints, bad objects, duplicates, Nodes, kinds not read, no objects."""
    items: list[Any] = [NODE]
    for i in range(16):
        name = f"s{i:02d}"
        items.append(_service(name, port=70000 if i in (1, 12) else 80))
        items.append(_slice(name, [f"10.1.{i}.1", "not-an-ip" if i in (2, 13) else f"10.1.{i}.2"]))
    items += [_service("s03"), _service("s14"),  # defined again
              _endpoints("s05", ["10.2.0.1"]), _endpoints("s13", ["10.2.0.2"]), _endpoints("s99", ["10.2.0.3"]),
              {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
              {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
              {"apiVersion": "v1", "kind": "Node", "metadata": {"name": 5}}, "junk", 7, {"kind": 3},
              {"apiVersion": "v1", "kind": "service", "metadata": {"name": "lower"}},
              {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}, "status": {"addresses": [
                  {"type": "InternalIP", "address": "192.168.0.11"}]}},
              _slice("s07", ["10.3.0.1"], "odd"), _slice("s15", ["10.3.0.2"], "odd2"),
              _not_ready(_slice("s03", ["10.1.3.2"], "s03-y")), _not_ready(_slice("s14", ["10.1.14.1"], "s14-y")),
              {**_slice("ghost", ["10.4.0.1"]), "metadata": {"name": "g", "namespace": "other",
                                                             "labels": {"kubernetes.io/service-name": "s04"}}}]
    return items


def _write(tmp_path: Path, document: Any, **dumps: Any) -> Path:
    path = tmp_path / "list.json"
    path.write_text(json.dumps(document, **dumps))
    return path


@pytest.mark.parametrize("seed", range(6))
def test_a_shuffled_list_reads_the_same_in_halves(tmp_path: Path, seed: int) -> None:
    """Items of either share on either side of the boundary, duplicates across it, Nodes and bad items on both
    sides: the messages (item numbers, "defined again", the kinds' note) are one reading's, in its order."""
    items = _messy_items()
    rest = items[1:]  # (the first item, an object, shows how the others start: see json_halves.guess)
    random.Random(seed).shuffle(rest)
    _split_by_halves(_write(tmp_path, {"apiVersion": "v1", "kind": "List", "items": [items[0], *rest]}), halves=True)


def test_a_list_that_starts_with_no_object_is_read_as_before(tmp_path: Path) -> None:
    document = {"apiVersion": "v1", "kind": "List", "items": ["junk", *_messy_items()]}
    _split_by_halves(_write(tmp_path, document), halves=False)


@pytest.mark.parametrize("dumps", [{}, {"indent": 4, "sort_keys": True}, {"indent": "\t"}],
                         ids=["compact", "kubectl", "tabs"])
def test_the_ways_lists_are_written_read_in_halves(tmp_path: Path, dumps: dict[str, Any]) -> None:
    """gen_scale's one line, and ``kubectl get -o json``'s indented keys in order (kind and metadata after the
    items: the child reads them)."""
    document = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": _messy_items()}
    _split_by_halves(_write(tmp_path, document, **dumps), halves=True)


def test_a_typed_list_gives_its_kindless_items_their_kind(tmp_path: Path) -> None:
    items = [{k: v for k, v in _service(f"s{i:02d}").items() if k not in ("kind", "apiVersion")} for i in range(12)]
    items[7] = {**items[7], "kind": "Service", "apiVersion": "v2"}  # a wrong version, said with its item number
    _split_by_halves(_write(tmp_path, {"apiVersion": "v1", "kind": "ServiceList", "items": items}), halves=True)


def test_a_typed_list_named_after_its_items_is_read_whole(tmp_path: Path) -> None:
    """Kindless items with the List's kind after them: the halves could not know how to read them."""
    items = [{k: v for k, v in _service(f"s{i:02d}").items() if k != "kind"} for i in range(12)]
    document = {"apiVersion": "v1", "items": items, "kind": "ServiceList"}
    _split_by_halves(_write(tmp_path, document), halves=False)


@pytest.mark.parametrize("text", [
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS], "items": []}',  # a second items: the last one counts
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS]}{"kind": "Service"}',  # a second document
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS]} x',
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS, NaN]}',
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS, {"a": 1e400, "b": -Infinity}]}',
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS, {"a": }]}',  # a syntax error in the child's half
    '{"apiVersion": "v1", "kind": "List", "items": [{"a": }, ITEMS]}',  # and in the parent's
    '{"apiVersion": "v1", "kind": "Service", "items": [ITEMS]}',  # no List
    '{"apiVersion": "v1", "items": [ITEMS]}',
    '{"apiVersion": "v1", "kind": "List", "items": [ITEMS]',  # cut off
], ids=["items-twice", "second-document", "trailing", "nan", "infinity", "child-syntax", "parent-syntax",
        "no-list", "no-kind", "cut-off"])
def test_what_is_no_plain_list_is_read_as_before(tmp_path: Path, text: str) -> None:
    items = ", ".join(json.dumps(item) for item in _messy_items())
    path = tmp_path / "list.json"
    path.write_text(text.replace("ITEMS", items))
    _split_by_halves(path, halves=False)


def test_a_guess_inside_an_item_is_read_as_before(tmp_path: Path) -> None:
    """The separator searched for found between two objects nested in an item (the same first key): the parent's
    half does not end there, and the text is read whole before the fork."""
    items = _messy_items()
    owners = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"r{i}", "uid": "u"} for i in range(2000)]
    meta = {"name": "owned", "namespace": "ns", "labels": {"kubernetes.io/service-name": "s05"},
            "ownerReferences": owners}
    items.insert(len(items) // 2, {**_slice("s05", ["10.5.0.1"], "owned"), "metadata": meta})
    path = _write(tmp_path, {"apiVersion": "v1", "kind": "List", "items": items})
    data = bytearray(path.read_bytes())
    place = json_halves.guess(data, split_sync.LIST_PARENT_SHARE)
    assert place is not None and json_halves.lower_half(data, place) is None
    _split_by_halves(path, halves=False)


def test_the_halves_are_the_whole_reading(tmp_path: Path) -> None:
    """Together the two halves hold every item of the one-shot reading, in order, and the List's fields."""
    document = {"apiVersion": "v1", "items": _messy_items(), "kind": "List", "metadata": {"resourceVersion": "7"}}
    text = json.dumps(document, indent=2)
    data = bytearray(text.encode())
    place = json_halves.guess(data, 0.5)
    assert place is not None
    lower, upper = json_halves.lower_half(data, place), json_halves.upper_half(data, place)
    assert data == text.encode()  # (each half changes one byte while it decodes, then puts it back)
    assert lower is not None and upper is not None and lower.items and upper.items
    assert lower.items + upper.items == document["items"]
    cut = json_halves.joined(lower.head, lower.facts, upper.facts)
    assert cut is not None and cut.fields == {k: v for k, v in document.items() if k != "items"}
    [(_, _, whole)] = list(text_documents(text, "f"))
    assert whole == document


def test_each_process_holds_only_its_share_and_what_every_share_reads(tmp_path: Path) -> None:
    items = _messy_items()
    random.Random(1).shuffle(items)
    data = bytearray(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).encode())
    place = json_halves.guess(data, 0.5)
    assert place is not None
    lower, upper = json_halves.lower_half(data, place), json_halves.upper_half(data, place)
    assert lower is not None and upper is not None
    cut = json_halves.joined(lower.head, lower.facts, upper.facts)
    assert cut is not None
    low, high = Share("", "ns/s08"), Share("ns/s08", None)
    parent = json_halves.documents("f", cut, lower, 0, json_halves.wanted_by(upper, len(lower.items), low), low)
    child = json_halves.documents("f", cut, upper, len(lower.items), json_halves.wanted_by(lower, 0, high), high)
    for share, [(_, _, document)] in ((low, parent), (high, child)):
        assert len(document["items"]) == len(items)
        for held, item in zip(document["items"], items, strict=True):
            key = json_halves.service_key(item)
            if key is None or share.owns(key):
                assert held == item
            else:
                assert held == json_halves.Elsewhere(key if item["kind"] == "Service" else None)


def test_a_failing_child_falls_back_to_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = _messy_items()
    path = _write(tmp_path, {"apiVersion": "v1", "kind": "List", "items": items})

    def broken(*args: object) -> None:
        raise RuntimeError("the child breaks")

    monkeypatch.setattr(json_halves, "upper_half", broken)
    _split_by_halves(path, halves=False)


def test_gen_scale_lists_are_read_in_halves(tmp_path: Path) -> None:
    """tools/gen_scale's List (issue 2's input, one line, items interleaved by service) at a small size."""
    import subprocess
    import sys

    path = tmp_path / "scale.json"
    subprocess.run([sys.executable, "tools/gen_scale.py", "--services", "40", "--endpoints", "3", "-o", str(path)],
                   check=True, cwd=Path(__file__).resolve().parents[2])
    _split_by_halves(path, halves=True)


def _nested_list(tmp_path: Path, depth: int, *, first: bool) -> Path:
    """16 Services and their slices, with one item nested ``depth`` levels: a ConfigMap first (in the parent's
    half), or the last Service's annotation (in the child's)."""
    items: list[Any] = []
    for i in range(16):
        items += [_service(f"s{i:02d}"), _slice(f"s{i:02d}", [f"10.1.{i}.1"])]
    if first:
        items.insert(0, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "namespace": "ns"},
                         "data": "X"})
    else:
        items[-2]["metadata"] = {**items[-2]["metadata"], "annotations": {"a": "X"}}
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}).replace('"X"', "[" * depth + "]" * depth)
    path = tmp_path / f"deep-{depth}-{first}.json"
    path.write_text(text)
    return path


def test_an_item_too_deep_for_pickle_falls_back_to_one_process(tmp_path: Path) -> None:
    """pickle gives up at ~500 levels where the JSON reader takes ~990: an item that deep in the parent's half,
    which the child decodes too, cannot cross the pipe, and the run is one process's (it ended with exit 4)."""
    _split_by_halves(_nested_list(tmp_path, 600, first=True), halves=False)


def test_an_item_nested_just_past_the_whole_reading_is_not_read_by_the_halves(tmp_path: Path) -> None:
    """Around the depth the whole reading first refuses (found here, where the test's own stack is), the halves,
    read one level shallower and from another depth, agree with it: they refuse NESTING_MARGIN levels sooner."""
    def refused(depth: int) -> bool:
        argv = ["-f", str(_nested_list(tmp_path, depth, first=False)), "--hostname-override", "n1"]
        whole = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=10**9)
        return any("nesting" in str(d) for d in whole.diagnostics)

    low, high = 100, 5000  # taken, refused
    assert not refused(low) and refused(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if refused(middle) else (middle, high)
    for depth in (high - 2, high - 1, high, high + 1):
        _split_by_halves(_nested_list(tmp_path, depth, first=False), halves=False)
    _split_by_halves(_nested_list(tmp_path, high - 2 * json_halves.NESTING_MARGIN, first=False), halves=True)


def test_no_fork_to_be_had_is_one_process_and_leaks_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fork failing (EAGAIN: a process limit) is the one-process run, its pipes closed again (they were leaked,
    and the error went out of load_and_generate)."""
    import os

    path = _nested_list(tmp_path, 1, first=False)
    argv = ["-f", str(path), "--hostname-override", "n1", "--cluster-cidr", "10.0.0.0/8"]
    whole = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=10**9)

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    before = len(os.listdir("/proc/self/fd"))
    split = split_sync.load_and_generate(rules_args(*argv), text=True, threshold=0)
    assert len(os.listdir("/proc/self/fd")) == before
    assert written(split) == written(whole) and split.diagnostics == whole.diagnostics
