"""A split ``rules`` run whose every object is refused says what a one-process run says: the config's notes about
rules (--detect-local-mode's) are of rules for objects nobody gave, so they are dropped (cli.options.follow_on).
Each share read nothing of its own, and only both together know the whole read nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.errors import Severity
from tests.cli.test_split_sync import _service, both_ways, written

FLAGS = ("--hostname-override", "n1", "--detect-local-mode", "ClusterCIDR")
"""A detect-local mode without its CIDR (no --cluster-cidr): its note says rules are left out."""


def _refused_services(count: int) -> list[dict]:
    return [_service(f"s{i:02d}", port=70000) for i in range(count)]


@pytest.mark.parametrize("layout", ["list", "stream"])
def test_every_object_refused_drops_the_detect_local_note_split_as_whole(tmp_path: Path, layout: str) -> None:
    """A JSON List (parsed in halves after the fork) and a YAML stream (parsed before it) alike."""
    items = _refused_services(12)
    path = tmp_path / ("list.json" if layout == "list" else "stream.yaml")
    if layout == "list":
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    else:
        path.write_text("".join(f"---\n{json.dumps(item)}\n" for item in items))
    whole, split = both_ways(["-f", str(path), *FLAGS], text=True)
    assert written(split) == written(whole)
    assert split.diagnostics == whole.diagnostics
    assert not [d for d in whole.diagnostics if d.severity is Severity.NOTE and "detect-local" in str(d)]
    assert sum(d.severity is Severity.ERROR for d in whole.diagnostics) == 12


def test_one_object_read_keeps_the_note_split_as_whole(tmp_path: Path) -> None:
    """One Service read (in either share) and the note is said, split or not."""
    items = [*_refused_services(11), _service("s20")]
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    whole, split = both_ways(["-f", str(path), *FLAGS], text=True)
    assert split.diagnostics == whole.diagnostics
    assert [d for d in whole.diagnostics if d.severity is Severity.NOTE and "detect-local" in str(d)]
