"""``kubeproxy-sim scenario``: the script language, its errors, and the bootcamp tutorial end to end."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.decode import decode_deployment
from kubeproxy_sim.controllers.model import ContainerPort
from kubeproxy_sim.controllers.script import ScriptError, parse_duration, parse_line, parse_script, play
from kubeproxy_sim.controllers.world import ActionError
from kubeproxy_sim.objects.model import Protocol

from ._helpers import deployed, run_cli

REPO = Path(__file__).resolve().parents[2]
BOOTCAMP = REPO / "rulesets" / "bootcamp" / "scenario"


def _steps(text: str) -> list[tuple[str, list[str]]]:
    """(header, body lines) per step of the command's output."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# step "):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return out


def _endpoint_states(body: list[str]) -> Counter[str]:
    return Counter(line.split()[2] for line in body if not line.startswith("#") and "(no endpoints)" not in line)


def test_bootcamp_tutorial_endpoints_after_each_step(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scenario", str(BOOTCAMP), "--show", "endpoints", "--seed", "3"], monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    states = [dict(_endpoint_states(body)) for _, body in steps]
    assert states == [
        {}, {},  # created, rolled out: no Service yet
        {"ready": 1},  # exposed
        {"ready": 1, "not-ready": 3},  # scaled to 4: three pods starting
        {"ready": 4},  # rollout status
        {"ready": 2, "serving-terminating": 2},  # scaled to 2
        {"ready": 2},  # 30 s later
        {"ready": 2, "not-ready": 1},  # set image v2: one surge pod
        {"ready": 2, "serving-terminating": 2},  # rolled out to v2; the v1 pods still terminating
        {"ready": 2},
        {"ready": 2, "not-ready": 1},  # set image v10
        {"ready": 2, "not-ready": 1},  # 60 s later, stuck: the v2 pods keep serving
        {"ready": 2},  # undo
        {"ready": 2},  # rolled out
        {"ready": 2},  # history
    ]
    bodies = [body for _, body in steps]
    v2_pods = {line.split("pod=")[1] for line in bodies[9] if "pod=" in line}
    # undo went back to the same v2 pods
    assert {line.split("pod=")[1] for line in bodies[13] if "pod=" in line} == v2_pods
    assert bodies[11][0] == "# t=140s"  # (a rollout status would fail at the deadline and stop the tutorial)
    assert "# 4         <none>" in bodies[14]


def test_bootcamp_rules_and_diff(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["scenario", str(BOOTCAMP), "--seed", "3"], monkeypatch) == 0
    rules = _steps(capsys.readouterr().out)
    scaled = "\n".join(rules[4][1])
    assert len(re.findall(r"^-A KUBE-SVC-\S+ .* -j KUBE-SEP-", scaled, re.M)) == 4
    assert "*nat" in scaled and scaled.rstrip().endswith("COMMIT")
    assert run_cli(["scenario", str(BOOTCAMP), "--seed", "3", "--show", "diff"], monkeypatch) == 0
    diffs = _steps(capsys.readouterr().out)
    assert diffs[3][1][-1] == "# rules unchanged"  # scale to 4: the new pods are not ready yet
    added = [line for line in diffs[4][1] if line.startswith("+-A KUBE-SEP-") and "DNAT" in line]
    assert len(added) == 3


def test_seed_makes_runs_reproducible(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for seed in ("5", "5", "6"):
        run_cli(["scenario", str(BOOTCAMP), "--seed", seed, "--show", "endpoints"], monkeypatch)
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] != outputs[2]


def _script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "script"
    path.write_text(text)
    return str(path)


def test_unknown_command_stops_the_script_naming_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(tmp_path, "# a comment\ncreate deployment web --image=nginx\nfrobnicate all\nwait 5s\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.out.count("# step") == 1  # the steps before the bad line ran
    assert f"{script}:3: unknown command 'frobnicate'; expected one of: create deployment" in captured.err


def test_refused_action_stops_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(tmp_path, "create deployment web --image=nginx\nscale deployments/nope --replicas=2\nwait 1s\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.out.count("# step") == 1
    assert f'{script}:2: scale: deployments.apps "nope" not found' in captured.err


def test_kubectl_s_namespace_flag_may_come_before_the_verb() -> None:
    for line in ("kubectl -n prod create deployment web --image=nginx", "--namespace=prod create deployment web "
                 "--image=nginx", "kubectl --namespace prod -n prod create deployment web --image=nginx"):
        step = parse_line(1, line)
        assert step is not None and (step.verb, step.namespace, step.name) == ("create deployment", "prod", "web")
    with pytest.raises(ScriptError, match="flag --context before the command: only -n/--namespace NS may come first"):
        parse_line(1, "kubectl --context kind scale deployments/web --replicas=1")
    with pytest.raises(ScriptError, match="flag -n before the command"):
        parse_line(1, "kubectl -n")
    with pytest.raises(ScriptError, match="flag -n before the command has no value; expected -n NS and then one of: "
                       "create deployment"):
        parse_line(1, "kubectl -n")
    # R-core 8: the namespace flag is the allowed one; what is missing is the command
    for line, given in (("kubectl -n prod", "-n prod"), ("kubectl --namespace=prod", "--namespace=prod")):
        with pytest.raises(ScriptError) as caught:
            parse_line(1, line)
        assert caught.value.message.startswith(f"expected a command after {given}; expected one of: create deployment")


def test_a_line_ending_in_a_backslash_is_said_not_to_continue() -> None:
    with pytest.raises(ScriptError) as caught:
        parse_script("create deployment web \\\n  --image=nginx\n")
    assert caught.value.line == 1
    assert caught.value.message == ("the line ends with '\\', but a line does not continue onto the next; expected "
                                    "one command per line, written on one line")
    assert parse_line(1, "# a comment may end in \\") is None
    # R-core 2: only a dangling escape is refused; a comment ending in '\' and an escaped '\' are whole lines
    step = parse_line(1, "scale deployments/web --replicas=3  # see \\")
    assert step is not None and step.replicas == 3
    with pytest.raises(ScriptError, match="is not a valid label value"):  # split into k=v\ for kubectl's check
        parse_line(1, "label pods a k=v\\\\")
    with pytest.raises(ScriptError, match=r"the line ends with '\\', but a line does not continue"):
        parse_line(1, 'create deployment web --image="nginx\\')


def test_times_are_written_without_an_exponent() -> None:
    w, rng = deployed(1)
    played = play(w, parse_line(1, "wait 100000h"), rng, lambda paths: None)  # type: ignore[arg-type,return-value]
    assert played.notes == (f"t={w.now + 360_000_000:.0f}s",)
    played = play(played.world, parse_line(2, "wait 500ms"), rng, lambda paths: None)  # type: ignore[arg-type,return-value]
    assert played.notes == (f"t={w.now + 360_000_000:.0f}.5s",)


def test_label_takes_several_pods_as_kubectl_does() -> None:
    """kubectl labels every resource named before the first change (KEY=VALUE or KEY-)."""
    for line in ("label pods web-1 web-2 app=x tier-", "label pods/web-1 po/web-2 app=x tier- --overwrite"):
        step = parse_line(1, line)
        assert step is not None and step.names == ("web-1", "web-2") and step.labels == (("app", "x"), ("tier", None))


@pytest.mark.parametrize(("line", "message"), [
    ("scale deployments/web", "--replicas is required"),
    ("scale deployments/web --replicas=two", "--replicas=two: expected a whole number"),
    ("scale deployments/web --replica=2", "unknown flag --replica=2; expected --namespace, --replicas"),
    ("expose deployment/web --type=Fancy --port=80", "--type=Fancy: expected ClusterIP, NodePort or LoadBalancer"),
    ("set image deployments/web v2", "'v2': expected CONTAINER=IMAGE"),
    ("rollout restart deployments/web", "expected rollout status|undo|history deployments/NAME"),
    ("wait soon", "'soon' is not a duration"),
    ("delete service", "expected either names or -l KEY=VALUE"),
    ("label pods web-1 bad", "'bad' is not a label; expected KEY=VALUE or KEY-"),
    ('create deployment web --image="nginx', "a quotation mark is not closed; expected each ' or \" closed on "
     "the line it opens on (one command per line)"),
    ("create deployment Bad_Name --image=nginx", "'Bad_Name' is not a valid deployment name; expected a lowercase "
     "RFC 1123 subdomain"),
    ("expose deployment/web --type=nodeport --port=80", "--type=nodeport: expected ClusterIP, NodePort or"),
    ("expose deployment/web --protocol=udp --port=80", "--protocol=udp: expected TCP, UDP or SCTP"),
    ("expose deployment/web --port=80 --name=My_svc", "'My_svc' is not a valid Service name; expected an RFC 1035 "
     "label"),
    ("label pods web-1 app=" + "x" * 64, "is not a valid label value; expected up to 63 letters"),
    ("label pods web-1 app=-x", "'-x' is not a valid label value"),
    ("label pods web-1 " + "k" * 64 + "=v", "is not a valid label key; expected [PREFIX/]NAME"),
    ("label pods web-1 a.-b/x=v", "'a.-b/x' is not a valid label key; expected [PREFIX/]NAME"),
    ("create deployment web --image=nginx --image=repo/nginx:2", 'spec.template.spec.containers[1].name: Duplicate '
     'value: "nginx"'),
    ("expose deployment/web.v2 --port=80", "'web.v2' is not a valid Service name; expected an RFC 1035 label (up to "
     "63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit), as the API "
     "server requires; give one with --name"),
    ("scale deployments/web --replicas=2147483647", "--replicas=2147483647: 2,147,483,647 replicas is more than the "
     "simulator's limit of 150,000 (Kubernetes' tested limit of pods in a whole cluster); expected 0-150000"),
    ("create deployment web --image=nginx --replicas=150001", "--replicas=150001: 150,001 replicas is more than"),
    ("scale deployments/web --replicas=1e9", "--replicas=1e9: expected a whole number in 0-150000"),
    ("label pods web-1 app=x web-2", "all resources must be specified before label changes: web-2"),
    ("label pods web-1 pods/web-2 app=x", "there is no need to specify a resource type as a separate argument"),
    ("label pods/web-1 deploy/web app=x", "'deploy': only pods can be labelled here"),
    ("apply -f a\0b.yaml", "the line holds a NUL character; expected a line of text, as a shell reads it"),
])
def test_bad_lines_say_what_was_expected(line: str, message: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_script(f"# header\n{line}\n")
    assert caught.value.line == 2
    assert message in caught.value.message


def test_parsing_accepts_kubectl_spellings() -> None:
    step = parse_line(1, "kubectl scale deployment web --replicas 3 -n prod  # trailing comment")
    assert (step.verb, step.name, step.replicas, step.namespace) == ("scale", "web", 3, "prod")
    step = parse_line(1, "delete svc -l app=web,tier=front")
    assert (step.kind, step.requirements) == ("service", (("app", "=", ("web",)), ("tier", "=", ("front",))))
    assert parse_line(1, "   ") is None and parse_line(1, "# only a comment") is None
    assert parse_duration(1, "1m30s") == 90 and parse_duration(1, "500ms") == 0.5 and parse_duration(1, "7") == 7


def test_apply_label_and_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.yaml").write_text("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  replicas: 2
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: example/api:1
        ports: [{name: http, containerPort: 9376}]
---
apiVersion: v1
kind: Service
metadata: {name: api, labels: {app: api}}
spec:
  selector: {app: api}
  ports: [{name: web, port: 80, targetPort: http}]
""")
    script = _script(tmp_path, "apply -f app.yaml\nwait 10s\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    pods = [line.split("pod=")[1] for line in steps[1][1] if "pod=" in line]
    assert len(pods) == 2 and all(":9376/TCP ready" in line for line in steps[1][1] if "pod=" in line)
    assert all(line.startswith("default/api:web ") for line in steps[1][1] if "pod=" in line)
    # Relabel one pod: it leaves the Service and its ReplicaSet, which starts a replacement.
    relabel = _script(tmp_path, "apply -f app.yaml\nwait 10s\n"
                                f"label pods {pods[0]} app=debug --overwrite\nwait 10s\ndelete service -l app=api\n")
    assert run_cli(["scenario", relabel, "--show", "endpoints"], monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    after_label = [line for line in steps[2][1] if "pod=" in line]
    assert len(after_label) == 2 and not any(pods[0] in line for line in after_label)
    assert sorted(line.split()[2] for line in after_label) == ["not-ready", "ready"]  # the replacement starts
    assert len([line for line in steps[3][1] if " ready " in line]) == 2
    assert steps[4][1] == ['# service "api" deleted']


def test_apply_reports_invalid_objects_with_file_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: -1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: api}]}
""")
    script = _script(tmp_path, "apply -f bad.yaml\n")
    assert run_cli(["scenario", script], monkeypatch) == 1
    err = capsys.readouterr().err
    bad = str(tmp_path / "bad.yaml")
    assert f"{bad}: Deployment default/api: spec.replicas: -1 is negative; expected 0 or more" in err
    assert f"{bad}: Deployment default/api: spec.template.spec.containers[0].image: required" in err
    assert f"{script}:1: apply -f: the objects above are invalid; nothing was applied" in err


def test_decode_deployment_defaults() -> None:
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "ns"},
           "spec": {"selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    d, diagnostics = decode_deployment(doc, "f.yaml")
    assert diagnostics == [] and d is not None
    assert (d.replicas, d.max_surge, d.max_unavailable, d.progress_deadline) == (1, "25%", "25%", 600)


def test_replicas_beyond_the_simulator_s_limit_are_refused_in_one_line() -> None:
    """A typo's 2147483647 replicas used to build pods until the memory ran out (1.5 GB after two minutes); the
    limit is Kubernetes' tested limit of pods in a cluster, in a manifest as on a script line."""
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": 2147483647, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    d, diagnostics = decode_deployment(doc, "f.yaml")
    assert d is None and [str(x) for x in diagnostics] == [
        "f.yaml: Deployment default/x: spec.replicas: 2,147,483,647 replicas is more than the simulator's limit of "
        "150,000 (Kubernetes' tested limit of pods in a whole cluster); expected 0-150000"]
    doc["spec"]["replicas"] = 150000
    d, diagnostics = decode_deployment(doc, "f.yaml")
    assert diagnostics == [] and d is not None and d.replicas == 150000
    step = parse_line(1, "scale deployments/web --replicas=150000")
    assert step is not None and step.replicas == 150000


def test_the_progress_deadline_runs_from_the_rollout_s_last_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The controller marks a stuck rollout 600 s after it last moved, watched or not: a `rollout status` run
    later says so at once (it used to count 600 s from when it ran)."""
    script = _script(tmp_path, "create deployment web --image=gcr.io/google-samples/kubernetes-bootcamp:v1 "
                     "--replicas=2\nrollout status deployments/web\nset image deployments/web "
                     "kubernetes-bootcamp=gcr.io/google-samples/kubernetes-bootcamp:v10\n"
                     "wait 700s\nrollout status deployments/web\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 1
    out = capsys.readouterr().out
    last = out[out.rindex("# step 5"):]
    assert '# t=705s: error: deployment "web" exceeded its progress deadline' in last


def test_a_bad_line_still_prints_the_steps_before_it_in_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Text output shows the steps played before a bad line; -o json says the same, then the error."""
    script = _script(tmp_path, "create deployment web --image=gcr.io/google-samples/kubernetes-bootcamp:v1\n"
                     "set image deployments/web nosuch=img:v2\n")
    assert run_cli(["scenario", script, "-o", "json"], monkeypatch) == 1
    captured = capsys.readouterr()
    steps = json.loads(captured.out)["steps"]
    assert [s["command"] for s in steps] == [
        "create deployment web --image=gcr.io/google-samples/kubernetes-bootcamp:v1"]
    assert ':2: set image: unable to find container named "nosuch"' in captured.err


def test_expose_without_port_takes_the_pod_template_s_ports_as_kubectl_does() -> None:
    w, rng = deployed(1)
    w, service = W.expose(w, "default", "web", rng, port=None)
    assert [(p.name, p.protocol, p.port, p.target_port) for p in service.ports] == [("", Protocol.TCP, 8080, 8080)]
    d = W.new_deployment("default", "dns", ["coredns"], 1, None)
    container = replace(d.template.containers[0], ports=(
        ContainerPort("dns", 53, Protocol.UDP), ContainerPort("dns-tcp", 53, Protocol.TCP),
        ContainerPort("metrics", 9153, Protocol.TCP)))
    d = replace(d, template=replace(d.template, containers=(container,)))
    w = W.create_deployment(w, d, rng)
    w, service = W.expose(w, "default", "dns", rng, port=None)
    assert [(p.name, p.protocol, p.port) for p in service.ports] == [
        ("port-1-udp", Protocol.UDP, 53), ("port-1-tcp", Protocol.TCP, 53), ("port-2", Protocol.TCP, 9153)]
    w, service = W.expose(w, "default", "dns", rng, port=None, protocol=Protocol.UDP, name="dns-udp",
                          target_port="dns")
    assert [(p.name, p.protocol, p.port, p.target_port) for p in service.ports] == [
        ("port-1", Protocol.UDP, 53, "dns"), ("port-2", Protocol.UDP, 9153, "dns")]
    w = W.create_deployment(w, W.new_deployment("default", "bare", ["nginx"], 1, None), rng)
    with pytest.raises(ActionError, match="couldn't find port via --port flag or introspection"):
        W.expose(w, "default", "bare", rng, port=None)


def test_container_names_are_sanitised_as_kubectl_create_deployment_does() -> None:
    assert W.container_name("gcr.io/google-samples/kubernetes-bootcamp:v1") == "kubernetes-bootcamp"
    assert W.container_name("registry:5000/team/my_app@sha256:abc") == "my_app".replace("_", "-") + "-" + \
        W.stable_suffix("registry:5000/team/my_app@sha256:abc")
    assert re.fullmatch(r"web-app-[a-z0-9]{5}", W.container_name("web.app"))


APP = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def test_apply_says_created_unchanged_or_configured_and_keeps_the_selector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.yaml").write_text(APP)
    (tmp_path / "app3.yaml").write_text(APP.replace("replicas: 2", "replicas: 3"))
    (tmp_path / "sel.yaml").write_text(APP.replace("{app: web}}", "{app: web, tier: x}}"))
    app, app3, sel = (tmp_path / n for n in ("app.yaml", "app3.yaml", "sel.yaml"))
    script = _script(tmp_path, f"apply -f {app}\napply -f {app}\napply -f {app3}\napply -f {sel}\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 1
    captured = capsys.readouterr()
    notes = [line for line in captured.out.splitlines() if line.startswith("# ") and "step" not in line]
    assert notes[:6] == ["# deployment.apps/web created", "# service/web created",  # the file's order
                         "# deployment.apps/web unchanged", "# service/web unchanged",
                         "# deployment.apps/web configured", "# service/web unchanged"]
    assert 'sel.yaml' not in captured.err and ':4: apply: The Deployment "web" is invalid: spec.selector: field is ' \
        'immutable' in captured.err


def test_a_label_that_changes_nothing_is_not_labeled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p1, labels: {app: web}}\n"
                                       "spec: {containers: [{name: c, image: nginx}]}\n")
    script = _script(tmp_path, f"apply -f {tmp_path / 'pod.yaml'}\nlabel pods p1 app=web\nlabel pods p1 tier=x\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "# pod/p1 not labeled" in out and "# pod/p1 labeled" in out


def test_a_script_without_steps_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(tmp_path, "# only a comment\n\n")
    assert run_cli(["scenario", script], monkeypatch) == 0
    assert "warning: no steps in this script" in capsys.readouterr().err


CAUSED = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {kubernetes.io/change-cause: "first release"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
"""


def test_rollout_history_shows_the_change_cause_annotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "v1.yaml").write_text(CAUSED)
    (tmp_path / "v2.yaml").write_text(CAUSED.replace("first release", "image bump").replace("image: nginx",
                                                                                            "image: nginx:2"))
    script = _script(tmp_path, f"apply -f {tmp_path / 'v1.yaml'}\nwait 10s\napply -f {tmp_path / 'v2.yaml'}\n"
                     "wait 30s\nrollout history deployments/web\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "# 1         first release\n# 2         image bump\n" in out


NOREP = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1
        ports: [{containerPort: 80}]
"""
NODEPORT = """apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80}]}
"""
SOLO = """apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec: {containers: [{name: c, image: nginx:1, ports: [{containerPort: 80}]}]}
"""


def test_apply_again_leaves_what_the_manifest_omits_as_kubectl_apply_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """No spec.replicas keeps the scaled count, an allocated nodePort stays, a running bare Pod stays put."""
    for name, text in (("d.yaml", NOREP), ("s.yaml", NODEPORT), ("p.yaml", SOLO)):
        (tmp_path / name).write_text(text)
    d, svc, pod = (tmp_path / n for n in ("d.yaml", "s.yaml", "p.yaml"))
    script = _script(tmp_path, f"apply -f {d}\napply -f {svc}\napply -f {pod}\nscale deployments/web --replicas=3\n"
                     f"wait 10s\napply -f {d}\napply -f {svc}\napply -f {pod}\n")
    assert run_cli(["scenario", script, "--show", "endpoints", "-o", "json"], monkeypatch) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert [n for step in steps[5:] for n in step["notes"]] == [
        "deployment.apps/web unchanged", "service/web unchanged", "pod/solo unchanged"]
    assert steps[4]["endpoints"] == steps[7]["endpoints"]  # the same pods, addresses and conditions


def test_expose_with_a_port_takes_its_protocols_from_the_pod_template() -> None:
    w, rng = deployed(1)
    d = W.new_deployment("default", "dns", ["coredns"], 1, None)
    container = replace(d.template.containers[0], ports=(
        ContainerPort("dns", 53, Protocol.UDP), ContainerPort("dns-tcp", 53, Protocol.TCP),
        ContainerPort("syslog", 514, Protocol.UDP)))
    d = replace(d, template=replace(d.template, containers=(container,)))
    w = W.create_deployment(w, d, rng)
    w, both = W.expose(w, "default", "dns", rng, port=53)
    assert [(p.name, p.protocol) for p in both.ports] == [("port-1-udp", Protocol.UDP), ("port-1-tcp", Protocol.TCP)]
    w, udp = W.expose(w, "default", "dns", rng, port=514, name="syslog")
    assert [(p.name, p.protocol) for p in udp.ports] == [("", Protocol.UDP)]
    w, other = W.expose(w, "default", "dns", rng, port=8080, name="web8080")
    assert [(p.name, p.protocol) for p in other.ports] == [("", Protocol.TCP)]


def test_kubectl_s_words_for_no_ops_and_deadlines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(tmp_path, "create deployment web --image=nginx:1 --replicas=2\nrollout status deployments/web\n"
                     "set image deployments/web nginx=nginx:1\nset image deployments/web "
                     "nginx=gcr.io/google-samples/kubernetes-bootcamp:v10\nrollout status deployments/web\n"
                     "rollout status deployments/web\n")
    assert run_cli(["scenario", script, "--show", "endpoints", "-o", "json"], monkeypatch) == 1
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[2]["notes"] == []  # the same image: kubectl prints nothing
    assert steps[4]["notes"][-1] == 't=605s: error: deployment "web" exceeded its progress deadline'
    script = _script(tmp_path, "create deployment web --image=gcr.io/google-samples/kubernetes-bootcamp:v10\n"
                     "wait 700s\nrollout status deployments/web\n")
    assert run_cli(["scenario", script, "--show", "endpoints", "-o", "json"], monkeypatch) == 1
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[2]["notes"] == ['t=700s: error: deployment "web" exceeded its progress deadline']  # no Waiting line


def test_removing_a_label_the_pod_lacks_says_so_and_undo_restores_the_change_cause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "v1.yaml").write_text(CAUSED)
    (tmp_path / "v2.yaml").write_text(CAUSED.replace("first release", "v2").replace("image: nginx", "image: nginx:2"))
    (tmp_path / "pod.yaml").write_text(SOLO)
    script = _script(tmp_path, f"apply -f {tmp_path / 'pod.yaml'}\nlabel pods solo tier-\n"
                     f"apply -f {tmp_path / 'v1.yaml'}\nrollout status deployments/web\n"
                     f"apply -f {tmp_path / 'v2.yaml'}\n"
                     "rollout status deployments/web\nrollout undo deployments/web\nrollout status deployments/web\n"
                     "rollout history deployments/web\n")
    assert run_cli(["scenario", script, "--show", "endpoints", "-o", "json"], monkeypatch) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[1]["notes"] == ['label "tier" not found.', "pod/solo not labeled"]
    assert steps[8]["notes"][-2:] == ["2         v2", "3         first release"]


def test_a_snapshot_s_running_pods_are_the_deployment_s_current_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The bootcamp objects hold the Deployment and its 4 pods: the first ReplicaSet takes their hash and adopts
    them (upstream's hash is not this model's), instead of starting 4 more."""
    objects = Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml"
    script = _script(tmp_path, "wait 10s\n")
    assert run_cli(["scenario", script, "-f", str(objects), "--show", "endpoints"], monkeypatch) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("default/kubernetes-bootcamp")]
    assert len(lines) == 4 and all("pod=kubernetes-bootcamp-855d5cc575-" in line for line in lines)


def test_old_revisions_are_cleaned_up_once_the_rollout_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """revisionHistoryLimit 0: when the rollout completes the old set goes at once (its terminating pods do not
    keep it), so there is nothing to undo to, as upstream says."""
    limited = CAUSED.replace("replicas: 1\n", "replicas: 1\n  revisionHistoryLimit: 0\n")
    (tmp_path / "v1.yaml").write_text(limited)
    (tmp_path / "v2.yaml").write_text(limited.replace("first release", "v2").replace("image: nginx", "image: nginx:2"))
    script = _script(tmp_path, f"apply -f {tmp_path / 'v1.yaml'}\nrollout status deployments/web\n"
                     f"apply -f {tmp_path / 'v2.yaml'}\nrollout status deployments/web\n"
                     "rollout history deployments/web\nrollout undo deployments/web\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 1
    captured = capsys.readouterr()
    assert "# REVISION  CHANGE-CAUSE\n# 2         v2\n" in captured.out
    assert ':6: rollout undo: no rollout history found for deployment "web"' in captured.err


ZONED_NODES = """\
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: zone-a}}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {topology.kubernetes.io/zone: zone-b}}
spec: {podCIDR: 10.244.2.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.11}]}
"""


def _zoned(tmp_path: Path, script: str, objects: str) -> list[str]:
    (tmp_path / "nodes.yaml").write_text(ZONED_NODES)
    (tmp_path / "objects.yaml").write_text(objects)
    return [_script(tmp_path, script), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
            "--cluster-cidr", "10.244.0.0/16"]


def test_prefer_close_keeps_node1_in_its_zone_as_the_controllers_hints_make_kube_proxy_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The EndpointSlice controller hints each ready endpoint for its zone (trafficdist); kube-proxy on node1
    (zone-a) then uses node1's pods only. Without the hints it spread over both zones."""
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n"
               "  selector: {app: web}\n  clusterIP: 10.96.0.10\n  trafficDistribution: PreferClose\n"
               "  ports: [{port: 80, protocol: TCP, targetPort: 8080}]\n")
    script = "create deployment web --image=nginx --replicas=4 --port=8080\napply -f objects.yaml\nwait 30s\n"
    argv = _zoned(tmp_path, script, service)
    assert run_cli(["scenario", *argv, "--show", "rules"], monkeypatch) == 0
    last = _steps(capsys.readouterr().out)[-1][1]
    targets = [line.split("-> ")[1].split(":")[0] for line in last if "KUBE-SVC" in line and "-> " in line]
    assert targets and all(t.startswith("10.244.1.") for t in targets), targets
    assert len(targets) == 2  # node1's two pods of four, half each


def test_scenario_endpoints_are_shown_as_kube_proxy_reads_the_conditions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """ready wins over terminating; an unset serving is true; an address in two slices is one endpoint."""
    objects = """\
apiVersion: v1
kind: Service
metadata: {name: manual, namespace: default}
spec: {clusterIP: 10.96.0.77, ports: [{port: 80, protocol: TCP, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: manual-a, namespace: default, labels: {kubernetes.io/service-name: manual}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.10], conditions: {ready: true, terminating: true}, nodeName: node1}
- {addresses: [10.244.2.10], conditions: {ready: false, terminating: true}, nodeName: node2}
ports: [{port: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: manual-b, namespace: default, labels: {kubernetes.io/service-name: manual}}
addressType: IPv4
endpoints:
- {addresses: [10.244.2.10], conditions: {ready: false, serving: false, terminating: true}, nodeName: node2}
ports: [{port: 8080, protocol: TCP}]
"""
    assert run_cli(["scenario", *_zoned(tmp_path, "apply -f objects.yaml\n", objects), "--show", "endpoints"],
                   monkeypatch) == 0
    rows = [line for line in _steps(capsys.readouterr().out)[-1][1] if line.startswith("default/manual ")]
    assert rows == ["default/manual 10.244.1.10:8080/TCP ready node=node1",
                    "default/manual 10.244.2.10:8080/TCP serving-terminating node=node2"]


def test_scenario_endpoints_are_the_proxiers_own_view() -> None:
    """Only what kube-proxy programs: not a headless Service's slices, nor a Service another proxy serves, nor
    the other family's slices; an unset condition is true and the slice's node, zone and pod are kept."""
    from kubeproxy_sim.cli.scenario_cmd import endpoint_rows, endpoints_text
    from kubeproxy_sim.objects import load_text
    from kubeproxy_sim.proxier.config import ProxyConfig

    def service(name: str, cluster_ip: str, labels: str = "{}") -> str:
        return (f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default, labels: {labels}}}\n"
                f"spec: {{clusterIP: {cluster_ip}, ports: [{{port: 80, protocol: TCP}}]}}\n---\n")

    def endpoint_slice(name: str, service: str, address: str, labels: str = "", family: str = "IPv4") -> str:
        return (f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}, namespace: default, "
                f"labels: {{kubernetes.io/service-name: {service}{labels}}}}}\naddressType: {family}\n"
                f"endpoints: [{{addresses: ['{address}'], nodeName: node1, zone: z1, "
                f"targetRef: {{kind: Pod, name: {name}-pod, namespace: default}}}}]\n"
                f"ports: [{{port: 80, protocol: TCP}}]\n---\n")

    other = "{service.kubernetes.io/service-proxy-name: someone-else}"
    text = (service("db", "None") + endpoint_slice("db-1", "db", "10.244.1.10", ", service.kubernetes.io/headless: ''")
            + service("other", "10.96.0.8", other)
            + endpoint_slice("other-1", "other", "10.244.1.12", ", service.kubernetes.io/service-proxy-name: x")
            + service("web", "10.96.0.9") + endpoint_slice("web-1", "web", "10.244.1.11")
            + endpoint_slice("web-6", "web", "fd00::11", family="IPv6"))
    cluster = load_text(text, "objects.yaml").cluster
    config = ProxyConfig(node_name="node1", cluster_cidrs=("10.244.0.0/16",))
    assert endpoints_text(cluster, config) == "default/web 10.244.1.11:80/TCP ready node=node1 zone=z1 pod=web-1-pod\n"
    assert [r.as_json() for r in endpoint_rows(cluster, config)] == [
        {"service": "default/web", "port_name": "", "address": "10.244.1.11", "port": 80, "protocol": "TCP",
         "state": "ready", "node": "node1", "zone": "z1", "pod": "web-1-pod"}]


SMALL_NODES = """
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: zone-a}}
spec: {podCIDR: 10.244.0.0/28, podCIDRs: [10.244.0.0/28]}
status: {addresses: [{address: 192.168.49.2, type: InternalIP}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {topology.kubernetes.io/zone: zone-b}}
spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}
status: {addresses: [{address: 192.168.49.3, type: InternalIP}]}
"""


def _small_nodes(node1: str = "", node2: str = "") -> str:
    """SMALL_NODES with more of node1's and node2's status (YAML flow fields after their addresses)."""
    text = SMALL_NODES
    for address, extra in (("192.168.49.2", node1), ("192.168.49.3", node2)):
        if extra:
            status = f"status: {{addresses: [{{address: {address}, type: InternalIP}}]"
            assert f"{status}}}" in text
            text = text.replace(f"{status}}}", f"{status}, {extra}}}")
    return text


def test_a_full_pod_cidr_is_warned_per_node_and_step_and_caps_no_other_node(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """node1's /28 holds 13 pods: the 7 more the scheduler binds there stay ContainerCreating, said once per step
    as the kubelet's event, while node2 runs its 20 (it used to stop at 13 too, silently)."""
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES)
    script = _script(tmp_path, "create deployment web --image=nginx\nexpose deployment/web --port=80\n"
                               "scale deployments/web --replicas=40\nwait 30s\n")
    argv = ["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
            "--show", "endpoints", "-o", "json"]
    assert run_cli(argv, monkeypatch) == 0
    captured = capsys.readouterr()
    last = json.loads(captured.out)["steps"][-1]["endpoints"]
    assert Counter(e["node"] for e in last) == {"node1": 13, "node2": 20}
    assert {e["state"] for e in last} == {"ready"}
    warnings = [line for line in captured.err.splitlines() if "FailedCreatePodSandBox" in line]
    assert [w.split(": warning:")[0] for w in warnings] == [f"kubeproxy-sim: {script}:{n}: Node node1" for n in (3, 4)]
    assert re.fullmatch(r".*: 7 pods \(default/web-\S+, default/web-\S+, default/web-\S+ and 4 more\) stay "
                        r"ContainerCreating: failed to allocate for range 0: no IP addresses available in range "
                        r"set: 10\.244\.0\.1-10\.244\.0\.14", warnings[0])


def test_a_node_s_allocatable_pods_caps_what_is_scheduled_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """status.allocatable.pods is the scheduler's limit per node: 3 + 20 of 40 replicas run, the others stay
    Pending and are no endpoints; a value that is no quantity is reported at its field and the node keeps 110."""
    text = _small_nodes("allocatable: {pods: '3'}", "allocatable: {pods: 20}")
    (tmp_path / "nodes.yaml").write_text(text)
    script = _script(tmp_path, "create deployment web --image=nginx\nexpose deployment/web --port=80\n"
                               "scale deployments/web --replicas=40\nwait 30s\n")
    argv = ["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
            "--show", "endpoints", "-o", "json"]
    assert run_cli(argv, monkeypatch) == 0
    last = json.loads(capsys.readouterr().out)["steps"][-1]["endpoints"]
    assert Counter(e["node"] for e in last) == {"node1": 3, "node2": 20}
    (tmp_path / "nodes.yaml").write_text(text.replace("pods: 20", "pods: many"))
    assert run_cli(argv, monkeypatch) == 1
    captured = capsys.readouterr()
    assert "status.allocatable.pods" in captured.err and "'many' is not a pod count" in captured.err


def test_pods_no_node_takes_are_said_once_as_kube_scheduler_s_failed_scheduling(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The pods left Pending when every node is at its allocatable pods are said once, at the step they became
    unschedulable, in kube-scheduler's words (several share a warning, one is named as the Pod); the steps after
    it, while they stay Pending for the same reason, say nothing more, and a new one is said alone."""
    text = _small_nodes("allocatable: {pods: '3'}", "allocatable: {pods: 20}")
    (tmp_path / "nodes.yaml").write_text(text)
    script = _script(tmp_path, "create deployment web --image=nginx\nscale deployments/web --replicas=40\n"
                               "wait 30s\nscale deployments/web --replicas=25\nscale deployments/web --replicas=26\n")
    argv = ["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
            "--show", "endpoints"]
    assert run_cli(argv, monkeypatch) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "FailedScheduling" in line]
    why = ("0/2 nodes are available: 2 Too many pods. preemption: 0/2 nodes are available: 2 No preemption victims "
           "found for incoming pod.")
    assert len(warnings) == 2
    assert re.fullmatch(rf"kubeproxy-sim: {re.escape(script)}:2: warning: FailedScheduling: 17 pods "
                        rf"\(default/web-\S+, default/web-\S+, default/web-\S+ and 14 more\) stay Pending: "
                        rf"{re.escape(why)}", warnings[0])
    assert re.fullmatch(rf"kubeproxy-sim: {re.escape(script)}:5: Pod default/web-\S+: warning: FailedScheduling: "
                        rf"{re.escape(why)}", warnings[1])


def test_pods_that_wait_only_in_the_middle_of_a_step_are_said_at_that_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kube-scheduler reports FailedScheduling whenever it tries and fails: a rollout on two nodes of 2 pods makes
    surge pods that wait for an old pod to go; those of `set image` still wait when it ends (stay Pending), and
    those `rollout status` makes wait only in its middle, yet are said at its line, with kube-scheduler's words."""
    text = SMALL_NODES.replace("type: InternalIP}]}", "type: InternalIP}], allocatable: {pods: 2}}")
    (tmp_path / "nodes.yaml").write_text(text)
    script = _script(tmp_path, "create deployment web --image=nginx --replicas=4\nwait 10s\n"
                               "set image deployments/web nginx=nginx:2\nrollout status deployments/web\n")
    argv = ["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
            "--show", "endpoints"]
    assert run_cli(argv, monkeypatch) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "FailedScheduling" in line]
    why = re.escape("0/2 nodes are available: 2 Too many pods. preemption: 0/2 nodes are available: 2 No preemption "
                    "victims found for incoming pod.")
    prefix = f"kubeproxy-sim: {re.escape(script)}"
    assert len(warnings) == 2
    assert re.fullmatch(rf"{prefix}:3: warning: FailedScheduling: 2 pods \(default/web-\S+, default/web-\S+\) stay "
                        rf"Pending: {why}", warnings[0])
    assert re.fullmatch(rf"{prefix}:4: warning: FailedScheduling: 2 pods \(default/web-\S+, default/web-\S+\) were "
                        rf"Pending during the step: {why}", warnings[1])


def test_a_node_whose_ready_condition_is_unknown_is_named_by_its_unreachable_taint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A Node applied with Ready "Unknown" carries node.kubernetes.io/unreachable, one with "False"
    node.kubernetes.io/not-ready: the pod that neither takes is said with both."""
    text = _small_nodes("conditions: [{type: Ready, status: Unknown}]",
                        "conditions: [{type: Ready, status: 'False'}]")
    (tmp_path / "nodes.yaml").write_text(text)
    script = _script(tmp_path, "create deployment web --image=nginx\n")
    assert run_cli(["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
                    "--show", "endpoints"], monkeypatch) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "warning: FailedScheduling: 0/2 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")


def test_a_missed_progress_deadline_fails_the_step_as_kubectl_does_and_the_help_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl exits 1 on a rollout past its deadline: the step is shown (its error among the notes), the script
    stops there with kubectl's error naming the line, and the exit status is 1, as for a line that cannot be
    played; -o json prints the steps played, that one included. The help says so."""
    script = _script(tmp_path, "create deployment web --image=gcr.io/google-samples/kubernetes-bootcamp:v10\n"
                     "rollout status deployments/web\nscale deployments/web --replicas=2\n")
    assert run_cli(["scenario", script, "--show", "endpoints", "-o", "json"], monkeypatch) == 1
    captured = capsys.readouterr()
    steps = json.loads(captured.out)["steps"]
    assert steps[1]["notes"][-1] == 't=600s: error: deployment "web" exceeded its progress deadline'
    assert len(steps) == 2  # the step after it was not played
    assert captured.err == (f'kubeproxy-sim: {script}:2: rollout status: deployment "web" exceeded its progress '
                            "deadline\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 1
    out = capsys.readouterr().out
    assert out.count("# step ") == 2
    assert '# t=600s: error: deployment "web" exceeded its progress deadline' in out
    with pytest.raises(SystemExit):
        run_cli(["scenario", "--help"], monkeypatch)
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("A line that cannot be parsed or played stops the script, with exit status 1, as does a step kubectl "
            "exits 1 on: a rollout status past its progress deadline (its step is shown, kubectl's error among its "
            "notes), a patch the API server refuses, a get of a name not found.") in help_text


AGENT = """
apiVersion: v1
kind: Pod
metadata: {name: agent-bound, labels: {app: agent}}
spec: {nodeName: node2, hostNetwork: true, containers: [{name: agent, image: agent, ports: [{containerPort: 9100}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: agent}
spec: {selector: {app: agent}, ports: [{port: 9100}]}
"""


def test_a_host_network_pod_applied_bound_without_a_status_is_an_endpoint_at_its_node_s_ip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A hostNetwork Pod written with spec.nodeName and no status was kept without an address, so its Service had
    no endpoint and nothing said why; the kubelet gives it its node's IP, which is the endpoint once it runs."""
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES)
    (tmp_path / "agent.yaml").write_text(AGENT)
    script = _script(tmp_path, "apply -f agent.yaml\nwait 10s\n")
    assert run_cli(["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
                    "--show", "endpoints", "-o", "json"], monkeypatch) == 0
    last = json.loads(capsys.readouterr().out)["steps"][-1]["endpoints"]
    assert [(e["address"], e["port"], e["state"], e["node"]) for e in last] == [("192.168.49.3", 9100, "ready",
                                                                                 "node2")]


def test_a_ready_status_other_than_true_false_or_unknown_is_warned_and_taints_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The node lifecycle controller taints a Node for Ready False or Unknown only: node2's "Maybe" is warned at
    its field, and the scheduler places the pods there while node1 (Ready False) takes none; it used to count
    silently as NotReady, leaving every pod Pending."""
    text = _small_nodes("conditions: [{type: Ready, status: 'False'}]",
                        "conditions: [{type: MemoryPressure, status: 'False'}, {type: Ready, status: Maybe}]")
    (tmp_path / "nodes.yaml").write_text(text)
    script = _script(tmp_path, "create deployment web --image=nginx --replicas=2\nexpose deployment/web --port=80\n"
                               "wait 10s\n")
    assert run_cli(["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
                    "--show", "endpoints", "-o", "json"], monkeypatch) == 0
    captured = capsys.readouterr()
    last = json.loads(captured.out)["steps"][-1]["endpoints"]
    assert [(e["node"], e["state"]) for e in last] == [("node2", "ready"), ("node2", "ready")]
    (warning,) = [line for line in captured.err.splitlines() if "status.conditions" in line]
    assert 'Node node2: status.conditions[1].status: warning: expected True, False or Unknown, got a string "Maybe"' \
        in warning and "FailedScheduling" not in captured.err


def test_an_unquoted_boolean_ready_status_is_warned_with_the_quoted_word_it_stands_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bare false (or n, no, off) is a boolean, not the string False: the hint says to write 'False', where it
    used to say 'True' for any boolean."""
    text = _small_nodes(node2="conditions: [{type: Ready, status: n}]")
    (tmp_path / "nodes.yaml").write_text(text)
    script = _script(tmp_path, "create deployment web --image=nginx --replicas=1\nwait 10s\n")
    assert run_cli(["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
                    "-o", "json"], monkeypatch) == 0
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "status.conditions" in line]
    assert "Node node2: status.conditions[0].status: warning: expected True, False or Unknown, got a boolean " \
        "false (unquoted in YAML or JSON: write 'False')" in warning


def test_a_host_port_the_kubelet_would_refuse_or_the_model_drops_is_warned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Which of two host-network pods asking one port of node1 gets it depended silently on the manifest's order:
    the scheduler puts agent-free on node1 first, and agent-bound, written bound there, is one the kubelet
    refuses (NodePorts), said at the apply's line; a hostPort on a pod without hostNetwork, which nothing here
    reserves, is warned at its field (a Deployment template's too)."""
    host_pod = ("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec: {{{node}hostNetwork: {host}, containers: "
                "[{{name: a, image: a, ports: [{{containerPort: 9100{extra}}}]}}]}}\n")
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES)
    (tmp_path / "pods.yaml").write_text("---\n".join([
        host_pod.format(name="agent-free", node="", host="true", extra=""),
        host_pod.format(name="agent-bound", node="nodeName: node1, ", host="true", extra=""),
        host_pod.format(name="mapped", node="", host="false", extra=", hostPort: 8080")]))
    script = _script(tmp_path, "apply -f pods.yaml\n")
    assert run_cli(["scenario", script, "-f", str(tmp_path / "nodes.yaml"), "--hostname-override", "node1",
                    "--show", "endpoints"], monkeypatch) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": warning: ")[0] for line in err if ": warning: " in line] == [
        f"kubeproxy-sim: {tmp_path / 'pods.yaml'}: Pod default/mapped: spec.containers[0].ports[0].hostPort",
        f"kubeproxy-sim: {script}:1: Pod default/agent-bound"]
    assert err[-1].endswith("warning: NodePorts: Predicate NodePorts failed: node(s) didn't have free ports for the "
                            "requested pod ports (9100/TCP held on node node1 by a pod before it): the kubelet "
                            "rejects this pod, which the simulator keeps as applied (an endpoint it would not be); "
                            "expected one host-network pod per host port and node")
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
               "metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "nginx",
                                        "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}}}
    assert [d.field for d in decode_deployment(doc, "web.yaml")[1]] == [
        "spec.template.spec.containers[0].ports[0].hostPort"]


TOLERATIONS_V1 = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
"""
TOLERATIONS_V2 = TOLERATIONS_V1 + "      tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]\n"


def test_apply_of_a_template_gaining_a_toleration_rolls_out_a_set_of_its_own_hash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The hash left tolerations out, so the new template's hash was the old one's and the new set took the
    collision-stepped hash instead; now it is the template's own hash, as upstream's ComputeHash gives, and
    undo finds the first set again by its hash."""
    from kubeproxy_sim.controllers.naming import template_hash

    (tmp_path / "v1.yaml").write_text(TOLERATIONS_V1)
    (tmp_path / "v2.yaml").write_text(TOLERATIONS_V2)
    (tmp_path / "script").write_text("apply -f v1.yaml\nexpose deployment/web --port=80\nwait 30s\n"
                                     "apply -f v2.yaml\nwait 60s\nrollout undo deployments/web\nwait 60s\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "--show", "endpoints", "-o", "json"], monkeypatch) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    hashes = [sorted({str(e["pod"]).rsplit("-", 2)[1] for e in step["endpoints"]}) for step in steps]
    first, second = (decode_deployment(yaml.safe_load(text), "web.yaml")[0] for text in (TOLERATIONS_V1,
                                                                                         TOLERATIONS_V2))
    assert first is not None and second is not None and second.template.tolerations
    old, new = template_hash(first.template), template_hash(second.template)
    assert old != new
    assert [hashes[2], hashes[4], hashes[6]] == [[old], [new], [old]]


def test_a_service_applied_without_its_selector_keeps_its_last_endpoints(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The EndpointSlice controller leaves a selectorless Service's slices alone (endpointslice_controller.go
    syncService): kube-proxy keeps the two endpoints it had, frozen as they were, while the Deployment grows. The
    Service is made by an apply that wrote its selector, so kubectl's three-way merge removes what the next apply
    leaves out (one made by expose would keep its selector under kubectl)."""
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: 8080}]}\n"
    (tmp_path / "svc.yaml").write_text(service)
    (tmp_path / "sel.yaml").write_text(service.replace("spec: {", "spec: {selector: {app: web}, "))
    script = _script(tmp_path, "create deployment web --image=nginx --replicas=2 --port=8080\n"
                               "apply -f sel.yaml\nwait 10s\n"
                               "apply -f svc.yaml\nscale deployment web --replicas=3\nwait 10s\n")
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    before = [line for line in steps[2][1] if "pod=" in line]
    assert len(before) == 2 and all(" ready " in line for line in before)
    assert [line for line in steps[5][1] if "pod=" in line] == before


BOOTCAMP_NO_SELECTOR = ("apiVersion: v1\nkind: Service\nmetadata: {name: kubernetes-bootcamp, namespace: default}\n"
                        "spec:\n  type: NodePort\n  clusterIP: 10.96.142.87\n"
                        "  ports: [{port: 8080, targetPort: 8080, nodePort: 31526}]\n")


@pytest.mark.parametrize(("script", "kept"), [
    ("scale deployment kubernetes-bootcamp --replicas=2\nwait 30s\napply -f nosel.yaml\n", 2),
    ("delete service kubernetes-bootcamp\napply -f nosel.yaml\n", 0),
])
def test_the_loaded_controller_slices_do_not_come_back_when_the_service_loses_its_selector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
        kept: int) -> None:
    """The bootcamp objects' slice (4 endpoints, the controller's label) was replaced by the controller's own once
    it reconciled the Service: when the Service then loses its selector, the slices the controller last wrote
    stay (the 2 pods left), not the file's; a Service deleted takes its slices with it (their owner), so one made
    again without a selector has none. (The selector goes because the scenario's apply replaces an object whole;
    kubectl apply's merge would keep the selector of bootcamp's Service, which kubectl expose made, with no
    last-applied configuration to tell it the selector was removed.)"""
    objects = REPO / "rulesets" / "bootcamp" / "objects.yaml"
    (tmp_path / "nosel.yaml").write_text(BOOTCAMP_NO_SELECTOR)
    assert run_cli(["scenario", _script(tmp_path, script), "-f", str(objects), "--show", "endpoints"],
                   monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    last = [line for line in steps[-1][1] if "pod=" in line]
    assert len(last) == kept
    if kept:
        assert last == [line for line in steps[-2][1] if "pod=" in line]


MIRRORED_WEB = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
                "spec: {clusterIP: 10.96.0.50, ports: [{port: 80, targetPort: 8080}]}\n---\n"
                "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web, namespace: default}\n"
                "subsets:\n- addresses: [{ip: 10.9.9.9}]\n  ports: [{port: 8080}]\n")


@pytest.mark.parametrize("script", ["apply -f sel.yaml\napply -f nosel.yaml\n",
                                    "delete service web\napply -f nosel.yaml\n"])
def test_mirrored_slices_go_when_their_service_gets_a_selector_or_is_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str) -> None:
    """The mirroring controller deletes a Service's mirrored slices once it has a selector ("Service now has
    selector, cleaning up any mirrored EndpointSlices") or is gone, and the endpoints controller then writes the
    Endpoints from the pods it selects (none here) or deletes them: the Service without a selector again has no
    endpoints."""
    (tmp_path / "objects.yaml").write_text(MIRRORED_WEB)
    (tmp_path / "nosel.yaml").write_text(MIRRORED_WEB.split("---")[0])
    (tmp_path / "sel.yaml").write_text(MIRRORED_WEB.split("---")[0].replace("spec: {", "spec: {selector: {app: web}, "))
    assert run_cli(["scenario", _script(tmp_path, script), "-f", str(tmp_path / "objects.yaml"),
                    "--show", "endpoints"], monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    assert not [line for _, body in steps for line in body if "10.9.9.9" in line]
    assert steps[-1][1][-1] == "default/web (no endpoints)"


HAND_SLICE = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: by-hand\n  namespace: default\n"
              "  labels: {endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io,\n"
              "           kubernetes.io/service-name: kubernetes-bootcamp}\n"
              "addressType: IPv4\nendpoints: [{addresses: [10.9.9.9], conditions: {ready: true}}]\n"
              "ports: [{port: 8080, protocol: TCP}]\n")


@pytest.mark.parametrize(("script", "shown"), [
    ("apply -f nosel.yaml\napply -f hand.yaml\n", True),
    ("apply -f hand.yaml\nwait 1s\n", False),  # (the Service still has its selector: the controller deletes it
    # a second later, endpointSliceChangeMinSyncDelay)
])
def test_a_controller_labelled_slice_applied_after_the_service_lost_its_selector_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
        shown: bool) -> None:
    """The controller deleted the file's slice of its label when it reconciled the Service; a slice of that label
    applied after the Service lost its selector is a new object the controller leaves alone (its syncService
    returns before reconciling a selectorless Service), so its endpoint is used. It was hidden: what was deleted
    was known by label and Service, not by the slices deleted."""
    objects = REPO / "rulesets" / "bootcamp" / "objects.yaml"
    (tmp_path / "nosel.yaml").write_text(BOOTCAMP_NO_SELECTOR)
    (tmp_path / "hand.yaml").write_text(HAND_SLICE)
    assert run_cli(["scenario", _script(tmp_path, script), "-f", str(objects), "--show", "endpoints"],
                   monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    assert any("10.9.9.9" in line for line in steps[-1][1]) is shown


def test_a_loaded_slice_the_controller_deleted_is_created_again_by_an_apply(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The controller deletes a slice of its label for a Service it reconciles, at its sync a second after the
    slice came (endpointSliceChangeMinSyncDelay; kube-proxy uses it meanwhile): the slice is gone from the API, so
    applying the same file again is kubectl's `created`, not `unchanged` (the World kept the deleted object while a
    separate list in the controller's memory hid it), and the controller deletes the new object in turn."""
    objects = REPO / "rulesets" / "bootcamp" / "objects.yaml"
    (tmp_path / "hand.yaml").write_text(HAND_SLICE)
    script = "apply -f hand.yaml\nwait 1s\napply -f hand.yaml\nwait 999ms\nwait 1ms\n"
    assert run_cli(["scenario", _script(tmp_path, script), "-f", str(objects), "--show", "endpoints"],
                   monkeypatch) == 0
    steps = _steps(capsys.readouterr().out)
    assert [body[0] for _, body in steps][::2] == ["# endpointslice.discovery.k8s.io/by-hand created"] * 2 + [
        "# t=2s"]
    assert [any("10.9.9.9" in line for line in body) for _, body in steps] == [True, False, True, True, False]


SIDECAR_OBJECTS = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.50, selector: {app: web}, ports: [{name: https, port: 443, targetPort: https}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: default, labels: {app: web}}
spec:
  nodeName: node1
  containers: [{name: app, image: nginx, ports: [{name: http, containerPort: 8000}]}]
  initContainers:
  - {name: setup, image: busybox, ports: [{name: https, containerPort: 7443}]}
  - {name: tls, image: envoy, restartPolicy: POLICY, ports: [{name: https, containerPort: 9443}]}
status: {podIP: 10.244.0.9, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.10}], conditions: [{type: Ready, status: "True"}]}
"""

SIDECAR_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
      initContainers: [{name: tls, image: envoy, restartPolicy: POLICY, ports: [{name: https, containerPort: 9444}]}]
"""


def test_a_named_target_port_of_a_sidecar_is_used_and_a_plain_init_containers_port_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The EndpointSlice controller's findPort searches the init containers with restartPolicy Always after the
    containers (kubernetes/kubernetes#128850): a loaded Pod's sidecar and a Deployment template's give the Service's
    endpoints their port; an init container that runs to completion (no restartPolicy) is not searched."""
    (tmp_path / "objects.yaml").write_text(SIDECAR_OBJECTS.replace("POLICY", "Always"))
    (tmp_path / "dep.yaml").write_text(SIDECAR_DEPLOYMENT.replace("POLICY", "Always"))
    assert run_cli(["scenario", _script(tmp_path, "apply -f dep.yaml\nwait 10s\n"), "-f",
                    str(tmp_path / "objects.yaml"), "--show", "endpoints"], monkeypatch) == 0
    (_, last), = _steps(capsys.readouterr().out)[-1:]
    assert [line.split()[1] for line in last if "pod=" in line] == ["10.244.0.2:9444/TCP", "10.244.0.9:9443/TCP"]


def test_an_init_containers_restart_policy_other_than_always_is_refused_as_the_api_server_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """validateInitContainerRestartPolicy takes Always alone: a Pod or a Deployment template saying Never or
    OnFailure is refused, named at the field, as any invalid object."""
    (tmp_path / "bad.yaml").write_text(SIDECAR_OBJECTS.replace("POLICY", "Never"))
    assert run_cli(["scenario", _script(tmp_path, "wait 1s\n"), "-f", str(tmp_path / "bad.yaml")], monkeypatch) == 1
    assert ('bad.yaml: Pod default/bare: spec.initContainers[1].restartPolicy: Unsupported value: "Never": '
            'supported values: "Always"') in capsys.readouterr().err
    (tmp_path / "good.yaml").write_text(SIDECAR_OBJECTS.replace("POLICY", "Always"))
    (tmp_path / "dep.yaml").write_text(SIDECAR_DEPLOYMENT.replace("POLICY", "OnFailure"))
    assert run_cli(["scenario", _script(tmp_path, "apply -f dep.yaml\n"), "-f", str(tmp_path / "good.yaml")],
                   monkeypatch) == 1
    assert ('dep.yaml: Deployment default/api: spec.template.spec.initContainers[0].restartPolicy: Unsupported '
            'value: "OnFailure": supported values: "Always"') in capsys.readouterr().err


def test_set_image_names_a_sidecar_too_as_kubectl_does() -> None:
    """kubectl set image looks a name up in initContainers as well as containers, and ``*`` sets both (kubectl
    1.33 set image --local on a template with a sidecar): the sidecar's new image is a new template, so a new
    ReplicaSet; a name neither has is still refused."""
    d, _ = decode_deployment(yaml.safe_load(SIDECAR_DEPLOYMENT.replace("POLICY", "Always")), "dep.yaml")
    assert d is not None
    w, rng = deployed(0)
    w = W.apply_deployment(w, d, rng)
    w = W.set_image(w, "default", "api", {"tls": "envoy:v2"}, rng)
    (now,) = [x for x in w.deployments if x.name == "api"]
    assert [c.image for c in now.template.sidecars] == ["envoy:v2"]
    assert [c.image for c in now.template.containers] == ["nginx"]
    assert len([rs for rs in w.replica_sets if rs.owner == "api"]) == 2
    w = W.set_image(w, "default", "api", {"*": "busybox"}, rng)
    (now,) = [x for x in w.deployments if x.name == "api"]
    assert {c.image for c in (*now.template.containers, *now.template.sidecars)} == {"busybox"}
    with pytest.raises(ActionError, match='unable to find container named "nosuch"'):
        W.set_image(w, "default", "api", {"nosuch": "x"}, rng)
