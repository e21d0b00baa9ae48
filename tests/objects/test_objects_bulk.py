"""objects.bulk's collector pause when the caller expects a large build: the garbage is collected on the way in.

The default (no estimate) is covered in tests/netfilter/test_fastpaths.py.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.objects import bulk
from kubeproxy_sim.objects.load import input_bytes, objects_in

LARGE = bulk.FREEZE_THRESHOLD


class Peer:
    other: object


@pytest.fixture
def collections() -> Iterator[list[tuple[str, int]]]:
    """The collections that run, as ("start" or "stop", generation) events."""
    events: list[tuple[str, int]] = []

    def record(phase: str, info: dict[str, int]) -> None:
        events.append((phase, info["generation"]))

    gc.callbacks.append(record)
    try:
        yield events
    finally:
        gc.callbacks.remove(record)
        gc.unfreeze()


def dropped_cycle() -> weakref.ref[Peer]:
    a, b = Peer(), Peer()
    a.other, b.other = b, a
    gc.collect()  # the cycle is old, as a long-lived caller's state is
    return weakref.ref(a)


def test_an_expected_large_build_collects_on_the_way_in_only(collections: list[tuple[str, int]]) -> None:
    dropped = dropped_cycle()
    collections.clear()
    with bulk.collector_paused(LARGE):
        assert dropped() is None  # the caller's garbage is gone already
        assert collections[-2:] == [("start", 2), ("stop", 2)]
        before = list(collections)
        large = [[i] for i in range(LARGE + 1000)]
    assert collections == before, "no collection walks the build on the way out"
    assert gc.isenabled() and gc.get_freeze_count() > LARGE and large


def test_a_build_larger_than_expected_is_still_collected_before_its_freeze(collections: list[tuple[str, int]]) -> None:
    dropped = dropped_cycle()
    with bulk.collector_paused(LARGE // 2 - 1):
        large = [[i] for i in range(LARGE + 1000)]
    gc.collect()
    assert dropped() is None and large and gc.get_freeze_count() > LARGE


def test_an_expected_large_build_that_is_small_is_not_frozen(collections: list[tuple[str, int]]) -> None:
    frozen = gc.get_freeze_count()
    with bulk.collector_paused(LARGE):
        small = [[i] for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == frozen and small
    gc.disable()
    try:
        collections.clear()
        with bulk.collector_paused(LARGE):
            pass
        assert not gc.isenabled() and ("start", 2) not in collections  # a caller's own pause is left alone
    finally:
        gc.enable()


def test_the_loaders_estimate_from_the_inputs_size(tmp_path: Path) -> None:
    directory = tmp_path / "manifests"
    (directory / "nested").mkdir(parents=True)
    (directory / "a.yaml").write_text("x" * 4000)
    (directory / "b.json").write_text("y" * 1000)
    (directory / "notes.txt").write_text("z" * 100_000)  # not read, as the loader reads a directory
    (directory / "nested" / "d.yaml").write_text("v" * 100_000)
    single = tmp_path / "c.yml"
    single.write_text("w" * 10)
    assert input_bytes([str(directory), str(single), "-", str(tmp_path / "missing.yaml")]) == 5010
    # 21-24 objects a kilobyte, measured on 1,000 services x 10 endpoints in JSON and YAML
    assert objects_in(17_184_701) >= LARGE  # tools/gen_scale.py's 10,000 x 10 in JSON
    assert objects_in(1_742_485) < LARGE // 2  # 1,000 x 10 in YAML: 41,485 objects


def test_a_draft_becomes_the_frozen_dataclass_its_fields_as_written() -> None:
    """draft_class: what the bulk constructors build is the dataclass itself, equal to what its __init__ builds,
    hashed alike and still frozen (EndpointInfo.make and the EndpointSlice decoder's fast path use it)."""
    import dataclasses

    from kubeproxy_sim.objects.model import Endpoint, EndpointConditions
    from kubeproxy_sim.proxier.state import EndpointInfo

    made = EndpointInfo.make("10.0.0.1", 80, "10.0.0.1:80", True, True, False, True, frozenset({"a"}), None)
    built = EndpointInfo("10.0.0.1", 80, "10.0.0.1:80", True, True, False, True, frozenset({"a"}), None)
    assert type(made) is EndpointInfo
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.port = 81  # type: ignore[misc]

    draft = bulk.draft_class(Endpoint)
    endpoint: Any = object.__new__(draft)
    for name, value in zip(Endpoint.__slots__, (("10.0.0.2",), EndpointConditions(True), "h", "n", "z", None,
                                                None, ("Pod", "ns", "p")), strict=True):
        setattr(endpoint, name, value)
    endpoint.__class__ = Endpoint
    assert endpoint == Endpoint(("10.0.0.2",), EndpointConditions(True), "h", "n", "z", None, None, ("Pod", "ns", "p"))


def test_a_draft_of_a_class_of_another_layout_is_refused_when_made() -> None:
    """A class whose instances cannot take a plain draft's layout (here: one with a __dict__) is refused by
    draft_class itself, not by the first object built."""

    class Loose:
        pass

    Loose.__slots__ = ("a",)  # type: ignore[attr-defined]  # declared after the class was made: instances still have a __dict__
    with pytest.raises(TypeError):
        bulk.draft_class(Loose)
