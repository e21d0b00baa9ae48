"""Strategic merge directives the differential fuzzer (test_strategic_fuzz_kubectl_b4) never writes, each against
what kubectl 1.33 (``patch --local --type strategic``, apimachinery's strategicpatch) gave for it: the expected
values are kubectl's, written down, and checked again against the binary where it is installed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.controllers.patch import PatchError, strategic_merge_patch

from .test_apply_notes_kubectl import KUBECTL


def _service(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": spec}


REFUSED = "refused"
TWO_PORTS = [{"port": 80, "name": "a"}, {"port": 81, "name": "b"}]
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {
    # mergePatchIntoOriginal goes on to the next $setElementOrder directive when one names a list neither the
    # object nor the patch has (kubectl gave this in 12 of 12 runs, whatever Go's map order): that directive is
    # dropped, and the next one still orders its list
    "an order for an absent list, then one for externalIPs": (
        _service({"type": "ClusterIP", "externalIPs": ["10.0.0.1", "10.0.0.2"]}),
        {"spec": {"$setElementOrder/ports": [{"port": 99}], "$setElementOrder/externalIPs": ["10.0.0.2", "10.0.0.1"]}},
        {"type": "ClusterIP", "externalIPs": ["10.0.0.2", "10.0.0.1"]},
    ),
    "an order for an absent list, then a list out of its order": (
        _service({"type": "ClusterIP"}),
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 99}],
                "$setElementOrder/externalIPs": ["10.0.0.1"],
                "externalIPs": ["10.0.0.2"],
            }
        },
        REFUSED,
    ),
    # validatePatchWithSetOrderList steps over a $patch item only while the order has items left: one after the
    # order's last match is a patch item the order lacks, and the patch is refused
    "$patch: replace after the order's last item": (
        _service({"ports": TWO_PORTS}),
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 82}],
                "ports": [{"port": 82, "name": "c"}, {"$patch": "replace"}],
            }
        },
        REFUSED,
    ),
    "$patch: delete and replace after the order's last item": (
        _service({"ports": TWO_PORTS}),
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 82}],
                "ports": [{"port": 82, "name": "c"}, {"$patch": "delete", "port": 80}, {"$patch": "replace"}],
            }
        },
        REFUSED,
    ),
    "$patch: replace before the order's last item": (
        _service({"ports": TWO_PORTS}),
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 82}, {"port": 80}],
                "ports": [{"port": 82, "name": "c"}, {"$patch": "replace"}],
            }
        },
        {"ports": [{"name": "c", "port": 82}]},
    ),
}


def ours(live: dict[str, Any], patch: dict[str, Any]) -> Any:
    try:
        return strategic_merge_patch(live, patch)["spec"]
    except PatchError:
        return REFUSED


def kubectls(tmp_path: Path, live: dict[str, Any], patch: dict[str, Any]) -> Any:
    source = tmp_path / "object.json"
    source.write_text(json.dumps(live))
    done = subprocess.run(
        [
            str(KUBECTL),
            "patch",
            "--local",
            "-f",
            str(source),
            "--type",
            "strategic",
            "-p",
            json.dumps(patch),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": "/dev/null"},
    )
    return REFUSED if done.returncode else json.loads(done.stdout)["spec"]


@pytest.mark.parametrize("name", CASES)
def test_strategic_merge_gives_kubectls_answer(name: str) -> None:
    live, patch, expected = CASES[name]
    assert ours(live, patch) == expected


@pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")
@pytest.mark.parametrize("name", CASES)
def test_the_answers_are_kubectls(tmp_path: Path, name: str) -> None:
    live, patch, expected = CASES[name]
    assert kubectls(tmp_path, live, patch) == expected
