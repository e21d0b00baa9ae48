"""The simulator's syncs replace a node's rules as kube-proxy's restore does: a Service whose ClientIP affinity is
removed and later set again forgets its clients, as the kernel destroys the KUBE-SEP lists no rule names any more
(netfilter.evaluate.RecentTable.load; measured in tests/kernel/test_recent_reload_kernel), even when no packet
reached the node between the two syncs."""

from __future__ import annotations

import copy

import pytest

from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.simulator.network import Simulator
from tests.simulator.builders import WEB, load, objects, simulator

AFFINITY_VIP = "10.96.0.16"
CLIENT = "10.244.1.5"  # pod default/client, on node1
MODES = pytest.mark.parametrize("lazy", [True, False], ids=["lazy", "eager"])


def without_affinity(docs: list[dict]) -> list[dict]:
    """The builders' objects with web-aff's sessionAffinity removed."""
    docs = copy.deepcopy(docs)
    for doc in docs:
        if doc["kind"] == "Service" and doc["metadata"]["name"] == "web-aff":
            del doc["spec"]["sessionAffinity"]
    return docs


def remembered(sim: Simulator) -> set[str]:
    """The lists of node1 (the client's node, where its connections are balanced) that hold the client."""
    recent = sim.runtimes["node1"].sampler.recent
    client = parse_address(CLIENT)[1]
    return {name for name, entries in recent.lists.items() if client in entries}


def first_and_later(seed: int, lazy: bool, syncs: list[list[dict]], forgets: bool) -> tuple[str, str]:
    """The pod the client's first connection to web-aff reaches, and the pod a later one reaches after ``syncs``
    (``forgets``: whether their first drops web-aff's lists, before any packet reaches node1 again)."""
    sim = simulator(seed, lazy=lazy)
    client = sim.client("pod", "default/client")
    first = sim.connect(client, AFFINITY_VIP, 80, sport=41000).target
    assert first is not None and len(remembered(sim)) == 1
    for docs in syncs:
        sim.update(load(docs))
        if forgets:
            assert not remembered(sim)
    later = sim.connect(client, AFFINITY_VIP, 80, sport=41001).target
    assert later is not None
    return first, later


@MODES
def test_affinity_removed_then_set_again_forgets_the_client(lazy: bool) -> None:
    """Kept affinity across a sync: the same pod every time; removed and set again: drawn afresh, so across seeds
    a later connection lands on another pod than the first (with three pods, 2/3 of the time)."""
    kept = [first_and_later(seed, lazy, [objects()], False) for seed in range(12)]
    assert all(first == later for first, later in kept)
    again = [first_and_later(seed, lazy, [without_affinity(objects()), objects()], True) for seed in range(12)]
    assert any(first != later for first, later in again)


@MODES
def test_an_endpoint_removed_and_added_back_starts_its_list_empty(lazy: bool) -> None:
    """The client's endpoint leaves the slices (its KUBE-SEP chain and list go) and comes back before the client
    connects again: the list is new, so across seeds the client lands elsewhere some of the time."""
    moved = 0
    for seed in range(12):
        sim = simulator(seed, lazy=lazy)
        client = sim.client("pod", "default/client")
        first = sim.connect(client, AFFINITY_VIP, 80, sport=41000).target
        (chain,) = remembered(sim)
        sim.update(load(objects(web_pods=tuple(p for p in WEB if f"default/{p}" != first))))
        assert chain not in sim.runtimes["node1"].sampler.recent.rings  # destroyed at this sync
        sim.update(load(objects()))
        assert not remembered(sim)
        moved += sim.connect(client, AFFINITY_VIP, 80, sport=41001).target != first
    assert moved > 0
