"""``get -A`` over several kinds and with --no-headers / --show-labels, as kubectl 1.33 prints it (get.go: each
kind's table with NAMESPACE first, the kind before each name when several were asked for, ``No resources found``
with no namespace and no full stop)."""

from __future__ import annotations

from .test_patch_get_label import exposed, run


def test_several_kinds_across_namespaces() -> None:
    world, rng = exposed(replicas=1)
    _, played = run(world, rng, "get svc,deploy -A", "get pods -A --no-headers", "get svc -A --show-labels",
                    "get endpoints -A -l nosuch=1", "get svc -A -o name")
    lines = played[0].notes
    assert lines[0].split()[:3] == ["NAMESPACE", "NAME", "TYPE"]
    assert lines[1].split()[:2] == ["default", "service/web"]
    assert lines[2] == "" and lines[3].split()[:2] == ["NAMESPACE", "NAME"]
    assert lines[4].split()[:2] == ["default", "deployment.apps/web"]
    assert len(played[1].notes) == 1 and played[1].notes[0].split()[0] == "default"
    assert played[2].notes[0].split()[0] == "NAMESPACE" and played[2].notes[0].endswith("LABELS")
    assert played[3].notes[-1] == "No resources found"
    assert played[4].notes == ("service/web",)
