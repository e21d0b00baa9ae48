"""The lines ``apply -f`` prints in a scenario, as kubectl 1.33 prints them: in the order it visits the objects
(the files as given, a directory's in name order, each file's documents, a List's items in place), with the API
server's v1 Endpoints deprecation warning once, before the first Endpoints' lines, and apply's warning of an
object that lacks the last-applied-configuration annotation (one ``expose``, ``create deployment`` or the
ReplicaSet controller made), which the apply then patches in ("configured")."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kubeproxy_sim.cli.scenario_cmd import load_manifests
from kubeproxy_sim.controllers.script import Step, parse_line, play

from ._helpers import deployed, play_steps, played_worlds, run_cli, step_notes

BOOTCAMP = str(Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml")
WARN = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def no_last_applied(resource: str) -> str:
    """apply.go's warningNoLastAppliedConfigAnnotation for RESOURCE (Info.ObjectName: plural/name)."""
    return (f"Warning: resource {resource} is missing the kubectl.kubernetes.io/last-applied-configuration "
            "annotation which is required by kubectl apply. kubectl apply should only be used on resources "
            "created declaratively by either kubectl create --save-config or kubectl apply. The missing "
            "annotation will be patched automatically.")


SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\n"
           "spec: {ports: [{port: 80, targetPort: 8080}]}\n")
ENDPOINTS = ("apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext}\n"
             "subsets: [{addresses: [{ip: 192.0.2.10}], ports: [{port: 8080}]}]\n")
NODE = ("apiVersion: v1\nkind: Node\nmetadata: {name: node9}\nspec: {podCIDR: 10.244.9.0/24}\n"
        "status: {addresses: [{type: InternalIP, address: 192.168.1.19}], conditions: [{type: Ready, "
        "status: 'True'}]}\n")
WEB = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {app: web}}\n"
       "spec: {selector: {app: web}, ports: [{port: 8080, protocol: TCP, targetPort: 8080}]}\n")
DEPLOYMENT = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\n"
              "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
              "    metadata: {labels: {app: web}}\n    spec: {containers: [{name: nginx, image: nginx, "
              "ports: [{containerPort: 8080}]}]}\n")


def notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
          **files: str) -> list[list[str]]:
    """Each step's notes of ``script`` played with ``files`` (name: text, written as name.yaml; a name with
    '__' is a path below a directory: d__a is d/a.yaml)."""
    for name, text in files.items():
        path = tmp_path / (name.replace("__", "/") + ".yaml")
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    return [step_notes(step) for step in play_steps(tmp_path, monkeypatch, capsys, script, "-f", BOOTCAMP,
                                                     "--show", "endpoints")]


def test_the_lines_come_in_the_files_order_not_by_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Endpoints before their Service in a file: kubectl prints the Endpoints' lines first (the model applied
    Services first and said so); the deprecation warning comes with the first Endpoints, where it is."""
    steps = notes(tmp_path, monkeypatch, capsys, "apply -f ep.yaml\napply -f svc.yaml\n",
                  ep=ENDPOINTS + "---\n" + SERVICE, svc=SERVICE.replace("ext", "other") + "---\n"
                  + ENDPOINTS.replace("ext", "other") + "---\n" + NODE)
    assert steps == [[WARN, "endpoints/ext created", "service/ext created"],
                     ["service/other created", WARN, "endpoints/other created", "node/node9 created"]]


def test_several_files_a_directory_and_a_list_are_visited_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """-f files as given; a directory's files by name (filepath.Walk), not as written; a List's items in its
    place (FlattenListVisitor)."""
    items = "".join(f"- {line}\n" if i == 0 else f"  {line}\n" for doc in (NODE, ENDPOINTS)
                    for i, line in enumerate(doc.splitlines()))
    steps = notes(tmp_path, monkeypatch, capsys, "apply -f svc.yaml -f d\n", svc=SERVICE,
                  d__b=f"apiVersion: v1\nkind: List\nitems:\n{items}", d__a=SERVICE.replace("ext", "aaa"))
    assert steps == [["service/ext created", "service/aaa created", "node/node9 created", WARN,
                      "endpoints/ext created"]]


def test_an_exposed_service_applied_is_warned_of_and_configured_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``expose`` saves no last-applied-configuration: the first apply over its Service warns and patches it in
    (configured, though the spec is the same), the next finds it (unchanged); deleted and exposed again, it has
    none again; a Service applied first and exposed... cannot be (AlreadyExists), so an applied one never warns."""
    script = ("create deployment web --image=nginx --port=8080\nexpose deployment/web\napply -f web.yaml\n"
              "apply -f web.yaml\ndelete service web\nexpose deployment/web\napply -f web.yaml\n")
    steps = notes(tmp_path, monkeypatch, capsys, script, web=WEB)
    assert steps[2:5] == [[no_last_applied("services/web"), "service/web configured"], ["service/web unchanged"],
                          ['service "web" deleted']]
    assert steps[6] == [no_last_applied("services/web"), "service/web configured"]


def test_a_created_deployment_applied_is_warned_of_and_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``create deployment`` saves no last-applied-configuration either: deployments/web is warned of once."""
    steps = notes(tmp_path, monkeypatch, capsys, "create deployment web --image=nginx --port=8080\n"
                  "apply -f d.yaml\napply -f d.yaml\ndelete deployment web\napply -f d.yaml\n", d=DEPLOYMENT)
    assert steps[1:] == [[no_last_applied("deployments/web"), "deployment.apps/web configured"],
                         ["deployment.apps/web unchanged"], ['deployment.apps "web" deleted'],
                         ["deployment.apps/web created"]]


def test_a_replicasets_pod_applied_is_warned_of(tmp_path: Path) -> None:
    """A pod the ReplicaSet controller made has no last-applied-configuration: applying its manifest warns
    (pods/NAME); one applied before does not."""
    world, rng = deployed(1)
    (pod,) = world.pods
    ip = pod.at(world.now).pod_ips[0]
    (tmp_path / "p.yaml").write_text(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod.name}, labels: {dict(pod.labels)}}}\n"
        f"spec: {{nodeName: {pod.node_name}, containers: [{{name: c, image: x, ports: [{{containerPort: 8080}}]}}]}}\n"
        f"status: {{podIP: {ip}, podIPs: [{{ip: {ip}}}], conditions: [{{type: Ready, status: 'True'}}]}}\n")
    said = []
    for _ in range(2):
        played = play(world, Step(1, "apply", "apply", paths=(str(tmp_path / "p.yaml"),)), rng,
                      lambda p: load_manifests(p))
        world = played.world
        said.append(list(played.notes))
    assert said == [[no_last_applied(f"pods/{pod.name}"), f"pod/{pod.name} configured"], [f"pod/{pod.name} unchanged"]]


def test_a_parsed_expose_marks_the_service_for_the_warning() -> None:
    """The mark is the World's (unannotated), kept to the objects it holds."""
    world, rng = deployed(1)
    step = parse_line(1, "expose deployment/web --port=80")
    assert step is not None
    world = play(world, step, rng, lambda _p: pytest.fail("no apply")).world
    assert world.unannotated == {("Service", "default/web")}
    step = parse_line(2, "delete service web")
    assert step is not None
    assert play(world, step, random.Random(0), lambda _p: pytest.fail("no apply")).world.unannotated == frozenset()


SELECTED = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {tier: x}}\n"
            "spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
WEB_ENDPOINTS = ENDPOINTS.replace("name: ext", "name: web")


def test_endpoints_applied_over_a_selector_service_are_rewritten_at_the_controllers_next_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoints controller has no handler for an Endpoints update: what apply wrote stays until an event
    queues the Service (a pod of it here), whose sync writes the subsets and labels from the pods again, keeping
    the annotation: the same file applied then is "configured" (kubectl's patch puts the subsets back), without
    the warning; with no event in between it is "unchanged"."""
    script = ("apply -f svc.yaml\napply -f ep.yaml\napply -f ep.yaml\ncreate deployment web --image=nginx "
              "--port=8080\nwait 20s\napply -f ep.yaml\napply -f ep.yaml\n")
    steps = notes(tmp_path, monkeypatch, capsys, script, svc=SELECTED, ep=WEB_ENDPOINTS)
    assert [s for s in steps if s and s[0] == WARN] == [
        [WARN, no_last_applied("endpoints/web"), "endpoints/web configured"], [WARN, "endpoints/web unchanged"],
        [WARN, "endpoints/web configured"], [WARN, "endpoints/web unchanged"]]


def test_the_controllers_rewrite_takes_the_services_labels_for_a_delete_by_label(tmp_path: Path) -> None:
    """Rewritten, the Endpoints carry the Service's labels (newEndpoints.Labels = service.Labels), so
    ``delete endpoints -l`` of them finds them; the user's copy had none. A Service changed is an event too."""
    played = played_worlds(tmp_path, ["apply -f svc.yaml", "apply -f ep.yaml", "apply -f svc2.yaml",
                                      "delete endpoints -l tier=x"],
                           svc=SELECTED, svc2=SELECTED.replace("port: 80,", "port: 81,"), ep=WEB_ENDPOINTS)
    world, deleted = played[3]
    assert deleted == [WARN, 'endpoints "web" deleted']
    assert world.endpoints == () and world.endpoints_applied == frozenset()


def test_the_objects_a_scenario_starts_with_lack_the_annotation_when_their_documents_show_another_maker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The bootcamp Nodes (a kubelet registers its Node) and the objects of -f whose documents show they were not
    applied (ownerReferences: a controller's; managedFields without kubectl-client-side-apply, as `kubectl get -o
    yaml` shows what create or expose made) are warned of at their first apply; one whose document carries the
    annotation, or shows no maker (a hand-written file), counts as applied and is not."""
    node1 = NODE.replace("node9", "node1").replace("10.244.9.0", "10.244.0.0").replace("1.19", "49.2")
    (tmp_path / "node1.yaml").write_text(node1)
    (tmp_path / "script").write_text("apply -f node1.yaml\napply -f node1.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "--show", "endpoints"], monkeypatch) == 0
    out = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("# ")]
    assert out == ["step 1: apply -f node1.yaml", no_last_applied("nodes/node1"), "node/node1 configured",
                   "step 2: apply -f node1.yaml", "node/node1 unchanged"]
    annotated = SERVICE.replace("metadata: {", "metadata: {annotations: {kubectl.kubernetes.io/last-applied-"
                                "configuration: '{}'}, ")
    exposed = SERVICE.replace("ext", "exposed").replace(
        "metadata: {", "metadata: {managedFields: [{manager: kubectl-expose, operation: Update}], ")
    applied = SERVICE.replace("ext", "applied").replace(
        "metadata: {", "metadata: {managedFields: [{manager: kubectl-client-side-apply, operation: Update}], ")
    owned = POD.replace("p1", "p2").replace("0.77", "0.78").replace(
        "metadata: {", "metadata: {ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u1}], ")
    (tmp_path / "start.yaml").write_text("---\n".join((annotated, SERVICE.replace("ext", "bare"), exposed, applied,
                                                        POD, owned)))
    (tmp_path / "again.yaml").write_text("---\n".join((SERVICE, SERVICE.replace("ext", "bare"),
                                                        SERVICE.replace("ext", "exposed"),
                                                        SERVICE.replace("ext", "applied"), POD,
                                                        POD.replace("p1", "p2").replace("0.77", "0.78"))))
    (tmp_path / "script").write_text("apply -f again.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "-f", BOOTCAMP, "-f", str(tmp_path / "start.yaml"),
                    "--show", "endpoints"], monkeypatch) == 0
    out = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("# ")]
    assert out[2:] == ["service/bare unchanged", no_last_applied("services/exposed"), "service/exposed configured",
                       "service/applied unchanged", "pod/p1 unchanged", no_last_applied("pods/p2"),
                       "pod/p2 configured"]
    assert out[1].startswith("service/ext ")  # (no warning: its word is the model's comparison of the objects)


def test_the_users_start_file_applied_again_is_unchanged_without_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl 1.33 says `unchanged` of a file applied twice: the start file counts as the first apply (reviewer r8
    on 350e852: the bench scenario printed 1,000 missing-annotation warnings); and a re-apply that leaves out a
    field the start wrote removes it (the pod-deletion-cost: configured, no warning)."""
    costly = POD.replace("metadata: {", "metadata: {annotations: {controller.kubernetes.io/pod-deletion-cost: '5'}, ")
    start = "---\n".join((WEB, DEPLOYMENT, costly, SERVICE))
    (tmp_path / "start.yaml").write_text(start)
    (tmp_path / "less.yaml").write_text(POD)
    (tmp_path / "script").write_text(f"apply -f {tmp_path / 'start.yaml'}\napply -f {tmp_path / 'less.yaml'}\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "start.yaml"), "--show", "endpoints"],
                   monkeypatch) == 0
    out = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("# ")]
    assert out[1:5] == ["service/web unchanged", "deployment.apps/web unchanged", "pod/p1 unchanged",
                        "service/ext unchanged"]
    assert out[6:] == ["pod/p1 configured"]
    assert not any("Warning" in line for line in out)


POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p1, labels: {app: x}}\n"
       "spec: {nodeName: node1, containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}\n"
       "status: {podIP: 10.244.0.77, podIPs: [{ip: 10.244.0.77}], conditions: [{type: Ready, status: 'True'}]}\n")


def test_endpoints_applied_over_the_controllers_keep_its_labels(tmp_path: Path) -> None:
    """kubectl's client-side apply over the controller's Endpoints (no last-applied-configuration) patches the
    manifest's labels in and removes none: kubectl 1.33 against a stand-in server holding Endpoints labelled
    app and tier sends {"labels":{"mine":"yes"}} with the subsets whole. So the Service's label stays on what
    was applied, and ``delete endpoints -l`` of it finds them at once."""
    mine = WEB_ENDPOINTS.replace("name: web}", "name: web, labels: {mine: 'yes'}}")
    steps = played_worlds(tmp_path, ["apply -f svc.yaml", "apply -f ep.yaml", "delete endpoints -l tier=x"],
                    svc=SELECTED, ep=mine)
    applied = steps[1][0].endpoints
    assert [(e.name, e.labels) for e in applied] == [("web", (("mine", "yes"), ("tier", "x")))]
    assert [a.ip for s in applied[0].subsets for a in s.addresses] == ["192.0.2.10"]
    assert steps[2][1] == [WARN, 'endpoints "web" deleted']


def test_a_second_apply_removes_only_what_the_last_one_wrote(tmp_path: Path) -> None:
    """With the annotation the merge is three-way: a label the last apply wrote and this one leaves out goes, the
    controller's stays, and the same file again is unchanged; a manifest with no labels at all, after one that
    wrote some, loses the field whole (kubectl 1.33 patches "labels":null), the controller's label too."""
    mine = WEB_ENDPOINTS.replace("name: web}", "name: web, labels: {mine: 'yes'}}")
    other = WEB_ENDPOINTS.replace("name: web}", "name: web, labels: {other: z}}")
    steps = played_worlds(tmp_path, ["apply -f svc.yaml", "apply -f mine.yaml", "apply -f other.yaml",
                                     "apply -f other.yaml", "apply -f ep.yaml"],
                          svc=SELECTED, mine=mine, other=other, ep=WEB_ENDPOINTS)
    assert [e.labels for e in steps[2][0].endpoints] == [(("other", "z"), ("tier", "x"))]
    assert steps[2][1] == [WARN, "endpoints/web configured"]
    assert steps[3][1] == [WARN, "endpoints/web unchanged"]
    assert [e.labels for e in steps[4][0].endpoints] == [()]


def test_a_deleted_service_takes_its_last_applied_document_with_it(tmp_path: Path) -> None:
    """The last apply's document kept for a Service's next three-way merge (World.services_last_applied) goes
    with the Service, as its last-applied-configuration annotation goes with the object: one made again by
    ``expose`` has none."""
    steps = played_worlds(tmp_path, ["apply -f svc.yaml", "delete service ext"], svc=SERVICE)
    assert [key for key, _ in steps[0][0].services_last_applied] == ["default/ext"]
    assert steps[1][0].services_last_applied == ()
