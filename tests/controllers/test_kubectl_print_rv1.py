"""kubectl_print's key order and quoting where go-yaml v2 differs from the simple reading (review rv1).

The expectations are kubectl 1.33's own (``kubectl.1.33 patch --local -p {} -o yaml -f FILE``), checked again
live where that binary is installed. keyList.Less (go-yaml v2 sorter.go) reads a run of digits that differs at a
``0`` after a digit other than 0 as continuing a number that started at 1: ``v100`` is a hundred against ``v19``'s
nineteen (``v19`` first), not the zero a run read from the ``0`` gives, which put ``v100`` first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kubeproxy_sim.controllers import kubectl_print as P

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
needs_kubectl = pytest.mark.skipif(shutil.which(KUBECTL) is None, reason="kubectl 1.33 is not installed here")

PAIRS = [("v19", "v100"), ("19", "100"), ("a1_0", "a10"), ("x29y", "x200y"), ("1_0", "10"), ("a1-", "a10"),
         ("a1b", "a01"), ("a9", "a10"), ("x9y", "x09y")]
"""(first, second) as kubectl 1.33 prints two keys of one map."""


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_go_yaml_key_order(first: str, second: str) -> None:
    assert P.go_yaml_less(first, second) and not P.go_yaml_less(second, first)


def test_labels_in_kubectl_s_order_and_merge_key_plain() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "x", "labels": {"example.com/v100": "<<", "example.com/v19": "b"}}}
    assert P.to_yaml(obj) == ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    example.com/v19: b\n"
                              "    example.com/v100: <<\n  name: x\n")


@needs_kubectl
@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_key_order_live(first: str, second: str, tmp_path: Path) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {second: "<<", first: "="}}
    path = tmp_path / "object.json"
    path.write_text(json.dumps(obj))
    done = subprocess.run([KUBECTL, "patch", "--local", "-p", "{}", "-o", "yaml", "-f", str(path)],
                          capture_output=True, text=True, check=True)
    assert P.to_yaml(obj) == done.stdout
