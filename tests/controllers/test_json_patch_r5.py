"""``--type json`` as the API server's library applies it (gopkg.in/evanphx/json-patch.v4 v4.12.0), not strict RFC
6902 (reviewer r5): its departures, and every case against kubectl 1.33's ``patch --local``, which applies the same
library, where the binary is at hand (its one rewording, "Object to be patched is missing field (...)" for the
library's "replace operation does not apply: doc is missing key: ...", is kubectl's own and undone here)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.controllers.patch import PatchError, apply_patch

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
SVC: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default", "labels": {"a": "1"}},
    "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.5",
             "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 443}]}}


def ours(patch: Any) -> Any:
    try:
        return apply_patch("json", copy.deepcopy(SVC), patch)
    except PatchError as exc:
        return f"ERR {exc}"


def spec(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SVC)
    doc["spec"].update(changes)
    return doc


PORTS = SVC["spec"]["ports"]
# the library's departures from RFC 6902, each refused or done otherwise by the RFC (and by us before)
DEPARTURES: list[tuple[Any, Any]] = [
    ([{"op": "replace", "path": "/spec/nope", "value": 1}], spec(nope=1)),
    ([{"op": "add", "path": "/spec/x"}], spec(x=None)),
    ([{"op": "replace", "path": "/spec/type"}], spec(type=None)),
    ([{"op": "test", "path": "/spec/nope", "value": None}], SVC),
    ([{"op": "copy", "from": "/spec/nope", "path": "/spec/x"}], spec(x=None)),
    ([{"op": "remove", "path": "/spec/ports/-1"}], spec(ports=PORTS[:1])),
    ([{"op": "replace", "path": "/spec/ports/-1", "value": 1}], spec(ports=[PORTS[0], 1])),
    ([{"op": "add", "path": "/spec/ports/-3", "value": 1}], spec(ports=[1, *PORTS])),
    ([{"op": "add", "path": "/spec/ports/01", "value": 1}], spec(ports=[PORTS[0], 1, PORTS[1]])),
    ([{"op": "add", "path": "spec/x", "value": 1}], {**SVC, "x": 1}),
    ([{"op": "replace", "path": "", "value": 5}], SVC),
    ([{"op": "remove", "path": "/spec/ports/5"}],
     "ERR error in remove for path: '/spec/ports/5': Unable to access invalid index: 5: invalid index referenced"),
    ([{"op": "remove", "path": "/spec/nope"}],
     "ERR error in remove for path: '/spec/nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "remove", "path": "/spec/ports/-"}],
     "ERR error in remove for path: '/spec/ports/-': strconv.Atoi: parsing \"-\": invalid syntax"),
    ([{"op": "add", "path": "/spec/ports/5", "value": 1}],
     "ERR error in add for path: '/spec/ports/5': Unable to access invalid index: 5: invalid index referenced"),
    ([{"op": "move", "from": "/spec/nope", "path": "/spec/x"}],
     "ERR error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "add", "value": 1}], "ERR add operation failed to decode path: missing value"),
    ([{"op": "replace", "path": 5, "value": 1}],
     "ERR replace operation failed to decode path: json: cannot unmarshal number into Go value of type string"),
    ([{"op": "test", "path": "/spec/ports/0/port", "value": True}],
     "ERR testing value /spec/ports/0/port failed: test failed"),
    ([{"op": "test", "path": "/spec/selector", "value": {"app": "web", "x": "y"}}],
     "ERR testing value /spec/selector failed: test failed"),
    ([None], "ERR Unexpected kind: unknown"),
    ({"op": "add"}, "ERR json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    ([1], "ERR json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
    (None, SVC),
]


@pytest.mark.parametrize(("patch", "expected"), DEPARTURES)
def test_the_librarys_departures(patch: Any, expected: Any) -> None:
    assert ours(patch) == expected


def _kubectl(tmp_path: Path, patch: Any) -> Any:
    source = tmp_path / "svc.json"
    source.write_text(json.dumps(SVC))
    done = subprocess.run([str(KUBECTL), "patch", "--local", "-f", str(source), "--type", "json", "-p",
                           json.dumps(patch), "-o", "json", "--kubeconfig", "/dev/null"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode == 0:
        return json.loads(done.stdout)
    said = (done.stderr.strip() or done.stdout.strip()).removeprefix("error: ")
    prefix = "Object to be patched is missing field ("
    if said.startswith(prefix):  # kubectl's rewording (cmd/patch getPatchedJSON); the API server keeps the library's
        said = f"replace operation does not apply: doc is missing key: {said[len(prefix):-1]}"
    return f"ERR {said}"


MORE: list[Any] = [
    [{"op": "add", "path": "/spec/ports/-", "value": {"port": 9}}],
    [{"op": "add", "path": "/spec/ports/-4", "value": 1}],
    [{"op": "add", "path": "/spec/ports/x", "value": 1}],
    [{"op": "add", "path": "/spec/ports/+1", "value": 7}],
    [{"op": "add", "path": "/spec/type/x", "value": 1}],
    [{"op": "add", "path": "/nope/x/y", "value": 1}],
    [{"op": "add", "path": "", "value": {"a": 1}}],
    [{"op": "add", "path": "/spec/", "value": 1}],
    [{"op": "add", "path": "/metadata/labels/a~1b~0c", "value": "d"}],
    [{"op": "remove", "path": ""}],
    [{"op": "remove", "path": "/spec/ports/-3"}],
    [{"op": "remove", "path": "/spec/ports/99999999999999999999"}],
    [{"op": "remove", "path": "/spec/ports/0/"}],
    [{"op": "replace", "path": "/spec/ports/5", "value": 1}],
    [{"op": "replace", "path": "/spec/ports/-", "value": 1}],
    [{"op": "replace", "path": "/spec/x/y"}],
    [{"op": "test", "path": "", "value": {"a": 1}}],
    [{"op": "test", "path": "/spec/type", "value": "ClusterIP"}],
    [{"op": "test", "path": "/spec/type"}],
    [{"op": "test", "path": "/spec/nope", "value": 1}],
    [{"op": "test", "path": "/spec/ports/9", "value": 1}],
    [{"op": "test", "path": "/spec/ports/0/port", "value": 80.0}],
    [{"op": "test", "path": "/spec/ports/0/port", "value": "80"}],
    [{"op": "test", "path": "/spec/ports", "value": [{"port": 80, "name": "a"}, {"name": "b", "port": 443}]}],
    [{"op": "test", "path": 5, "value": 1}],
    [{"op": "move", "from": "/spec/selector", "path": "/spec/selector/x"}],
    [{"op": "move", "from": "/spec/ports/0", "path": "/spec/ports/-"}],
    [{"op": "move", "from": "/spec/ports/9", "path": "/spec/x"}],
    [{"op": "move", "from": "", "path": "/spec/x"}],
    [{"op": "move", "path": "/spec/x"}],
    [{"op": "move", "from": "/spec/selector", "path": 5}],
    [{"op": "copy", "path": "/spec/x"}],
    [{"op": "copy", "from": "/spec/ports/7", "path": "/spec/x"}],
    [{"op": "copy", "from": "/spec/selector", "path": "/spec/ports/9"}],
    [{"op": "copy", "from": "/spec/selector", "path": 5}],
    [{"op": "remove", "path": 5}],
    [{"op": "frob", "path": "/spec"}],
    [{"op": 5, "path": "/x", "value": 1}],
    [],
    "x",
]


@pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")
@pytest.mark.parametrize("patch", [p for p, _ in DEPARTURES] + MORE)
def test_as_kubectl_applies_it(tmp_path: Path, patch: Any) -> None:
    assert ours(patch) == _kubectl(tmp_path, patch)
