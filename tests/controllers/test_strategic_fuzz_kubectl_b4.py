"""A differential fuzzer of controllers.patch's strategic merge against kubectl 1.33's own (``kubectl patch --local
-f svc.json --type strategic -p PATCH -o json``, apimachinery's strategicpatch with the Service's schema):
Services with up to 26 ports (duplicate live ports too) and finalizers, patches with ``$setElementOrder`` (empty
ones too), items in or out of its order, ``$patch: delete`` items and ``$deleteFromPrimitiveList`` (never with the
list itself: kubectl's result then depends on Go's map order). Compared: the
ports and finalizers kubectl prints, or that both refuse the patch. A small budget in CI (KPSIM_SMP_FUZZ_CASES
sets the count, e.g. 3000 for a deep run; KPSIM_SMP_FUZZ_SEED the seed); skipped without the binary."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.controllers.patch import PatchError, strategic_merge_patch

from .test_apply_notes_kubectl import KUBECTL

pytestmark = pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")

CASES = int(os.environ.get("KPSIM_SMP_FUZZ_CASES", "40"))
SEED = int(os.environ.get("KPSIM_SMP_FUZZ_SEED", "20261201"))


def _port(rng: random.Random) -> dict[str, Any]:
    number = rng.randint(1, 12)
    return {"port": number, "name": f"p{number}-{rng.randint(0, 2)}"}


def _live(rng: random.Random) -> dict[str, Any]:
    count = rng.choice((0, 1, 2, 3, 5, 8, 19, 20, 21, 26))
    ports = [_port(rng) for _ in range(count)]
    finalizers = [f"f{rng.randint(0, 6)}" for _ in range(rng.choice((0, 1, 3, 6, 22)))]
    metadata: dict[str, Any] = {"name": "web", "namespace": "default"}
    if finalizers:
        metadata["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata,
            "spec": {"ports": ports} if ports else {}}


def _order(rng: random.Random, pool: list[Any]) -> list[Any]:
    shape = rng.random()
    if shape < 0.25:
        return []
    picked = rng.sample(pool, rng.randint(0, len(pool))) if pool else []
    return picked


def _ports_patch(rng: random.Random, live: list[dict[str, Any]]) -> dict[str, Any]:
    known = sorted({p["port"] for p in live} | {rng.randint(1, 14) for _ in range(rng.randint(0, 4))})
    patch: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    for number in rng.sample(known, rng.randint(0, len(known))):
        if rng.random() < 0.2:
            items.append({"$patch": "delete", "port": number})
        else:
            items.append({"port": number, "name": f"n{number}"})
    if items or rng.random() < 0.5:
        patch["ports"] = items
    if rng.random() < 0.7:
        plain = [{"port": i["port"]} for i in items if i.get("$patch") != "delete"]
        order = _order(rng, [{"port": n} for n in known])
        if rng.random() < 0.6:  # mostly a valid order: every patch item in it, in its order
            order = plain + [o for o in order if o not in plain]
            rng.shuffle(order) if rng.random() < 0.2 else None
        patch["$setElementOrder/ports"] = order
    return patch


def _finalizers_patch(rng: random.Random, live: list[str]) -> dict[str, Any]:
    pool = sorted(set(live) | {f"f{rng.randint(0, 8)}" for _ in range(3)})
    patch: dict[str, Any] = {}
    if rng.random() < 0.6:
        patch["finalizers"] = rng.sample(pool, rng.randint(0, len(pool)))
    if rng.random() < 0.5:
        order = _order(rng, pool)
        if "finalizers" in patch and rng.random() < 0.6:
            order = patch["finalizers"] + [o for o in order if o not in patch["finalizers"]]
        patch["$setElementOrder/finalizers"] = order
    # never both the list and its deletions: mergeMap visits the patch's keys in Go's random map order, and
    # kubectl's result then changes from run to run (the deletions before or after the items are added)
    if "finalizers" not in patch and rng.random() < 0.3:
        patch["$deleteFromPrimitiveList/finalizers"] = rng.sample(pool, rng.randint(0, len(pool)))
    return patch


def case(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a live Service, a strategic merge patch of its ports and finalizers)."""
    live = _live(rng)
    patch: dict[str, Any] = {}
    spec = _ports_patch(rng, live["spec"].get("ports", []))
    if spec:
        patch["spec"] = spec
    metadata = _finalizers_patch(rng, live["metadata"].get("finalizers", []))
    if metadata:
        patch["metadata"] = metadata
    return live, patch


def _view(doc: dict[str, Any]) -> tuple[Any, Any]:
    ports = [{k: p[k] for k in ("port", "name") if k in p} for p in (doc.get("spec") or {}).get("ports") or []]
    return ports, (doc.get("metadata") or {}).get("finalizers") or []


def ours(live: dict[str, Any], patch: dict[str, Any]) -> tuple[Any, Any] | str:
    try:
        return _view(strategic_merge_patch(live, patch))
    except PatchError:
        return "refused"


def kubectls(tmp_path: Path, live: dict[str, Any], patch: dict[str, Any]) -> tuple[Any, Any] | str:
    source = tmp_path / "svc.json"
    source.write_text(json.dumps(live))
    done = subprocess.run([str(KUBECTL), "patch", "--local", "-f", str(source), "--type", "strategic", "-p",
                           json.dumps(patch), "-o", "json"], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "KUBECONFIG": "/dev/null"})
    if done.returncode != 0:
        return "refused"
    return _view(json.loads(done.stdout))


def test_strategic_merge_is_kubectls(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    differ = []
    for number in range(CASES):
        live, patch = case(rng)
        expected = kubectls(tmp_path, live, patch)
        if ours(live, patch) != expected:
            differ.append((number, live, patch, expected))
    assert not differ, f"{len(differ)} of {CASES} differ; the first: {json.dumps(differ[0])}"


# the kinds of case the fuzzer found differing before normalizeSliceOrder's Go sort was followed: an empty
# $setElementOrder over live ports with a new one (every comparison "less", as the less function says of an item
# the order lacks), and over more than 20 (sort.SliceStable's insertion blocks of 20, then its merges)
@pytest.mark.parametrize("count", [2, 5, 20, 21, 26])
def test_an_empty_order_over_many_ports(tmp_path: Path, count: int) -> None:
    live = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": n, "name": f"p{n}"} for n in range(1, count + 1)]}}
    patch = {"spec": {"$setElementOrder/ports": [], "ports": [{"port": 99, "name": "new"}]}}
    assert ours(live, patch) == kubectls(tmp_path, live, patch)
