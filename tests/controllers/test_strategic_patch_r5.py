"""``--type strategic`` as apimachinery's strategicpatch applies it (reviewer r5): a merged list ordered by the
patch (or ``$setElementOrder``), a new item before the live ones, ``$retainKeys``, ``$deleteFromPrimitiveList``,
``$patch: delete`` of a map leaving it empty, another ``$`` key a plain field, and the refusals in its words (Go's
``map[k:v]``); each case against kubectl 1.33's ``patch --local`` where the binary is at hand."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.controllers.patch import PatchError, apply_patch

from .test_patch_get_label import exposed, run

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
A = {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 8080}
B = {"name": "b", "port": 443, "protocol": "TCP", "targetPort": 8443}
SVC: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "namespace": "default", "labels": {"a": "1"}, "finalizers": ["x", "y"]},
    "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.5",
             "externalIPs": ["1.1.1.1", "2.2.2.2"], "ports": [A, B]}}


def ours(patch: Any) -> Any:
    try:
        return apply_patch("strategic", copy.deepcopy(SVC), patch)
    except PatchError as exc:
        return f"ERR {exc}"


def spec(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SVC)
    doc["spec"].update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del doc["spec"][key]
    return doc


def meta(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SVC)
    doc["metadata"].update(changes)
    return doc


CASES: list[tuple[Any, Any]] = [
    ({"spec": {"ports": [{"port": 443}, {"port": 80}]}}, spec(ports=[B, A])),
    ({"spec": {"ports": [{"port": 8080, "targetPort": 80}]}}, spec(ports=[{"port": 8080, "targetPort": 80}, A, B])),
    ({"spec": {"ports": [{"port": 8080}, {"port": 80, "name": "z"}, {"port": 7}]}},
     spec(ports=[{"port": 8080}, {**A, "name": "z"}, {"port": 7}, B])),
    ({"spec": {"ports": [{"port": 443, "$patch": "delete"}, {"port": 9}]}}, spec(ports=[{"port": 9}, A])),
    ({"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}], "ports": [{"port": 80, "name": "z"}]}},
     spec(ports=[B, {**A, "name": "z"}])),
    ({"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}]}}, spec(ports=[B, A])),
    ({"spec": {"$setElementOrder/externalIPs": ["2.2.2.2", "1.1.1.1"], "externalIPs": ["2.2.2.2", "1.1.1.1"]}},
     spec(externalIPs=["2.2.2.2", "1.1.1.1"])),
    ({"spec": {"$retainKeys": ["type", "ports"], "type": "ClusterIP"}},
     {**SVC, "spec": {"type": "ClusterIP", "ports": [A, B]}}),
    ({"spec": {"selector": {"$patch": "delete"}}}, spec(selector={})),
    ({"spec": {"$foo": 1}}, spec(**{"$foo": 1})),
    ({"metadata": {"finalizers": ["a", "b"]}}, meta(finalizers=["a", "b", "x", "y"])),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}, meta(finalizers=["y"])),
    ({"spec": {"$deleteFromPrimitiveList/externalIPs": ["1.1.1.1"]}}, spec(externalIPs=["2.2.2.2"])),
    ({"spec": {"ports": [{"name": "a", "targetPort": 1}]}},
     "ERR map: map[name:a targetPort:1] does not contain declared merge key: port"),
    ({"spec": {"ports": [None]}}, "ERR list element types are not identical: [[map[name:a port:80 protocol:TCP "
                                  "targetPort:8080] map[name:b port:443 protocol:TCP targetPort:8443]] [<nil>]]"),
    ({"spec": {"ports": [{"port": 80, "$patch": "merge"}]}}, "ERR merging lists cannot yet be specified in the patch"),
    ({"spec": {"selector": {"$patch": "frob"}}}, "ERR unknown patch type: frob in map: map[$patch:frob]"),
    ({"spec": {"$retainKeys": ["ports"], "type": "ClusterIP"}}, "ERR invalid patch format of retainKeys"),
    ({"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"port": 443}]}},
     "ERR The order in patch list:\n[map[port:443]]\n doesn't match $setElementOrder list:\n[map[port:80]]"),
    ({"metadata": {"$deleteFromPrimitiveListfinalizers": ["x"]}}, "ERR invalid patch format of primitive list"),
]


@pytest.mark.parametrize(("patch", "expected"), CASES)
def test_strategic_merge_as_apimachinery(patch: Any, expected: Any) -> None:
    assert ours(patch) == expected


MORE: list[Any] = [
    {"spec": {"ports": [{"port": 80, "protocol": "UDP"}]}},
    {"spec": {"ports": [{"port": 8080, "targetPort": 80}, {"port": 443, "name": "c"}]}},
    {"spec": {"ports": [{"port": 443, "$patch": "replace"}, {"port": 1}]}},
    {"spec": {"ports": [{"$patch": "replace"}, {"port": 9, "protocol": "TCP"}]}},
    {"spec": {"ports": [{"$patch": "delete"}]}},
    {"spec": {"ports": [{"port": 80}, {"port": 80, "name": "dup"}]}},
    {"spec": {"ports": [{"port": "80", "name": "s"}]}},
    {"spec": {"ports": [{"port": 80.0, "name": "f"}]}},
    {"spec": {"ports": [{"port": True}]}},
    {"spec": {"ports": [[1]]}},
    {"spec": {"ports": "x"}},
    {"spec": {"ports": []}},
    {"spec": {"ports": None}},
    {"spec": {"ports": [{"port": 443, "name": None, "targetPort": None}]}},
    {"spec": {"ports": [{"port": 1}, {"port": 2}, {"port": 443}, {"port": 3}, {"port": 80}, {"port": 4}]}},
    {"spec": {"$patch": "replace", "type": "ClusterIP", "ports": [{"port": 1}]}},
    {"spec": {"$patch": "delete"}},
    {"spec": {"$retainKeys": "x", "type": "ClusterIP"}},
    {"spec": {"$retainKeys": ["type", "ports", "selector"], "type": "ClusterIP", "selector": None}},
    {"spec": {"$setElementOrder/ports": "x", "ports": [{"port": 80}]}},
    {"spec": {"$setElementOrderports": [{"port": 80}]}},
    {"spec": {"$setElementOrder/ports": [{"name": "x"}], "ports": [{"port": 443}]}},
    {"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 9}, {"port": 80}], "ports": [{"port": 9}]}},
    {"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}], "ports": [{"port": 80, "$patch": "delete"}]}},
    {"metadata": {"finalizers": ["y", "y", "z", "x"]}},
    {"metadata": {"$setElementOrder/finalizers": ["y", "x"]}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x", "q"], "finalizers": ["w"]}},
    {"metadata": {"finalizers": [1]}},
    {"spec": {"selector": {"$patch": "replace", "x": "y"}}},
    {"spec": {"selector": {"app": None, "x": "y"}}},
]


def _kubectl(tmp_path: Path, patch: Any) -> Any:
    source = tmp_path / "svc.json"
    source.write_text(json.dumps(SVC))
    done = subprocess.run([str(KUBECTL), "patch", "--local", "-f", str(source), "--type", "strategic", "-p",
                           json.dumps(patch), "-o", "json", "--kubeconfig", "/dev/null"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode == 0:
        return json.loads(done.stdout)
    return "ERR " + (done.stderr.strip() or done.stdout.strip()).removeprefix("error: ")


@pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")
@pytest.mark.parametrize("patch", [p for p, _ in CASES] + MORE)
def test_as_kubectl_applies_it(tmp_path: Path, patch: Any) -> None:
    assert ours(patch) == _kubectl(tmp_path, patch)


def test_a_reordering_patch_changes_the_service_and_get_shows_the_new_order() -> None:
    world, rng = exposed()
    world, played = run(world, rng, "patch service web -p '{\"spec\":{\"ports\":[{\"port\":443,\"name\":\"https\","
                                    "\"targetPort\":8443},{\"port\":80,\"name\":\"http\"}]}}'", "get svc web")
    assert played[1].notes[1].split()[4].startswith("443:")  # the patch's order, the new port first
    _, played = run(world, rng, "patch service web -p '{\"spec\":{\"ports\":[{\"port\":80},{\"port\":443}]}}'",
                    "get svc web")
    assert played[0].notes == ("service/web patched",)
    assert played[1].notes[1].split()[4].startswith("80:")
