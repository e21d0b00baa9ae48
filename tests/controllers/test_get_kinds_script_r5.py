"""The scenario's ``get`` over several kinds and its flags (reviewer r5), and ``label``'s refusal to set and remove
one key, as kubectl 1.33 prints and refuses them."""

from __future__ import annotations

import pytest

from kubeproxy_sim.controllers.script import ScriptError, parse_line

from .test_patch_get_label import exposed, run


def test_get_svc_comma_pods_prints_both_tables_with_kinds() -> None:
    world, rng = exposed(replicas=1)
    _, played = run(world, rng, "get svc,pods")
    lines = played[0].notes
    assert lines[0].split()[:2] == ["NAME", "TYPE"] and lines[1].startswith("service/web ")
    assert lines[2] == "" and lines[3].split()[:2] == ["NAME", "READY"] and lines[4].startswith("pod/web-")


def test_get_type_slash_name_words_and_all() -> None:
    world, rng = exposed(replicas=1)
    pod = next(p.name for p in world.pods)
    _, played = run(world, rng, f"get pod/{pod} svc/web", "get all --no-headers", "get svc/web")
    assert [line.split()[0] for line in played[0].notes if line and not line.startswith("NAME")] == [
        f"pod/{pod}", "service/web"]
    assert [line.split()[0].partition("/")[0] for line in played[1].notes] == [
        "pod", "service", "deployment.apps", "replicaset.apps"]
    assert played[2].notes[1].startswith("web ")  # one type: no kind


def test_show_labels_and_not_found() -> None:
    world, rng = exposed(replicas=1)
    _, played = run(world, rng, "get svc --show-labels", "get svc web nope")
    assert played[0].notes[0].endswith("LABELS")
    assert played[1].error == 'Error from server (NotFound): services "nope" not found'
    assert played[1].notes[1].startswith("web ")


@pytest.mark.parametrize(("line", "message"), [
    ("get pod/a web", "no need to specify a resource type as a separate argument"),
    ("get svc,frob", "'frob' cannot be listed here"),
    ("label pods --all a=b a-", "can not both modify and remove a label in the same command"),
    ("label pods web-1 a=b a-", "can not both modify and remove a label in the same command"),
])
def test_refusals(line: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse_line(1, line)


def test_a_negative_bound_is_taken() -> None:
    step = parse_line(1, "get pods -l 'n>-1'")
    assert step is not None and step.requirements == (("n", ">", ("-1",)),)
