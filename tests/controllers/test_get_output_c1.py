"""A scenario script's ``get ... -o json|yaml`` as kubectl 1.33's get prints it (printGeneric): one name asked for
prints the object alone, anything else a v1 List (none found too, with no "No resources found"); a name not found
is the API server's NotFound after the List, or alone when it was the one name asked for. The objects and their
text are controllers.kubectl_print's (tests/controllers/test_kubectl_print_c1.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.controllers.script import ScriptError, parse_line
from kubeproxy_sim.objects.load import load_text

from ._helpers import play_steps, step_notes
from .test_kubectl_print_c1 import SERVICE  # the web NodePort Service a script applies
from .test_patch_get_label import exposed, run

BOOTCAMP = str(Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml")


def test_one_name_is_the_object_alone() -> None:
    world, rng = exposed(replicas=2)
    _, played = run(world, rng, "get svc web -o yaml", "get service/web -o json", "get svc,deploy web -o json")
    assert played[0].notes[:2] == ("apiVersion: v1", "kind: Service")
    assert f"  clusterIP: {world.service('default', 'web').cluster_ips[0]}" in played[0].notes
    service = json.loads("\n".join(played[1].notes))
    assert (service["kind"], service["metadata"]["name"], service["status"]) == ("Service", "web",
                                                                                  {"loadBalancer": {}})
    both = json.loads("\n".join(played[2].notes))  # one name of two kinds: singleItemImplied, two found: a List
    assert both["kind"] == "List" and [i["kind"] for i in both["items"]] == ["Service", "Deployment"]


def test_lists_and_what_is_not_found() -> None:
    world, rng = exposed(replicas=2)
    _, played = run(world, rng, "get pods -o json", "get pods -l nosuch=1 -o yaml", "get svc web nosuch -o json",
                    "get svc nosuch -o yaml", "get endpoints -o json")
    pods = json.loads("\n".join(played[0].notes))
    assert pods["kind"] == "List" and pods["metadata"] == {"resourceVersion": ""}
    assert [p["metadata"]["name"] for p in pods["items"]] == sorted(p.name for p in world.pods)
    assert played[1].notes == ("apiVersion: v1", "items: []", "kind: List", "metadata:", '  resourceVersion: ""')
    assert [i["metadata"]["name"] for i in json.loads("\n".join(played[2].notes))["items"]] == ["web"]
    assert played[2].error == 'Error from server (NotFound): services "nosuch" not found'
    assert played[3].notes == () and played[3].error == 'Error from server (NotFound): services "nosuch" not found'
    warning, *text = played[4].notes
    assert warning.startswith("Warning: v1 Endpoints is deprecated")
    (endpoints,) = json.loads("\n".join(text))["items"]
    assert len(endpoints["subsets"][0]["addresses"]) == 2


def test_all_namespaces_and_kinds_in_the_order_asked() -> None:
    world, rng = exposed(replicas=1)
    _, played = run(world, rng, "get rs,deploy,nodes -A -o json")
    kinds = [i["kind"] for i in json.loads("\n".join(played[0].notes))["items"]]
    assert kinds == ["ReplicaSet", "Deployment", "Node", "Node"]


def test_other_outputs_are_refused_in_one_line() -> None:
    with pytest.raises(ScriptError, match="-o jsonpath: this simulator prints wide, name, json and yaml"):
        parse_line(1, "get pods -o jsonpath")


def test_round_trip_from_the_scenario_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl get svc,endpointslices,nodes,pods -A -o json, as README's first five minutes saves a cluster: the
    step's output read back gives the rules the scenario printed at that step."""
    steps = play_steps(tmp_path, monkeypatch, capsys,
                       "create deployment web --image=nginx:1.25 --replicas=2\n"
                       "expose deployment web --port=80 --target-port=8080 --type=NodePort\nwait 10s\n"
                       "get svc,endpointslices,nodes,pods -A -o json\n",
                       "-f", BOOTCAMP, "--show", "rules")
    dumped = "\n".join(step_notes(steps[-1]))
    loaded = load_text(dumped, "dump.json")
    assert {s.name for s in loaded.cluster.services} == {"kubernetes-bootcamp", "web"}
    assert len(loaded.cluster.pods) == 6 and len(loaded.cluster.endpoint_slices) == 2
    from kubeproxy_sim.cli import main as main_module

    (tmp_path / "dump.json").write_text(dumped)
    assert main_module.main(["rules", "-f", str(tmp_path / "dump.json"), "--hostname-override", "node1"]) == 0
    rules = capsys.readouterr().out.splitlines()
    assert steps[-1][-1] == "# rules unchanged: as after step 3"  # a get changes nothing: the wait's rules
    assert rules == [line for line in steps[2] if not line.startswith("# ")]


def test_a_dump_starts_another_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """get deploy,pods,svc,nodes -A -o yaml saved starts a scenario with the same pods and Deployments, and the
    applied Service's last-applied-configuration makes the same apply unchanged."""
    (tmp_path / "web.yaml").write_text(SERVICE)
    first = play_steps(tmp_path, monkeypatch, capsys,
                       f"create deployment web --image=nginx:1.25 --replicas=2\napply -f {tmp_path / 'web.yaml'}\n"
                       "wait 10s\nget pods\nget deploy,pods,svc,nodes -A -o yaml\n",
                       "-f", BOOTCAMP, "--show", "endpoints")
    (tmp_path / "dump.yaml").write_text("\n".join(step_notes(first[-1])) + "\n")
    again = play_steps(tmp_path, monkeypatch, capsys, f"get pods\napply -f {tmp_path / 'web.yaml'}\n",
                       "-f", str(tmp_path / "dump.yaml"), "--show", "endpoints")
    names = [line.split()[0] for line in step_notes(again[0])[1:]]
    assert names == [line.split()[0] for line in step_notes(first[3])[1:]]
    assert step_notes(again[1]) == ["service/web unchanged"]
    assert [line for line in again[1] if not line.startswith("# ")] == [
        line for line in first[-1] if not line.startswith("# ")]
