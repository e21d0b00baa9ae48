"""The scenario's ``kubectl patch``, ``kubectl get`` and ``kubectl label pods -l|--all`` steps: what the object
becomes, and kubectl 1.33's lines and refusals (captured from kubectl 1.33 against the stand-in API server of
test_apply_notes_kubectl where they are kubectl's own: ``patched``/``patched (no change)``, the --type and
missing-patch errors, label's --all/--selector refusal)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.kubectl_get import human_duration, table
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.patch import json_patch, merge_patch, strategic_merge_patch
from kubeproxy_sim.controllers.script import Played, ScriptError, parse_line, parse_script, play
from kubeproxy_sim.objects.model import ServiceType, TrafficPolicy

from ._helpers import deployed, play_steps, step_notes


def _no_files(_paths: tuple[str, ...]) -> object:
    raise AssertionError("no apply here")


def run(world: World, rng: random.Random, *lines: str) -> tuple[World, list[Played]]:
    played = []
    for number, text in enumerate(lines, start=1):
        step = parse_line(number, text)
        assert step is not None
        result = play(world, step, rng, _no_files)  # type: ignore[arg-type]
        world = result.world
        played.append(result)
    return world, played


def exposed(replicas: int = 2, kind: str = "NodePort") -> tuple[World, random.Random]:
    world, rng = deployed(replicas)
    world, _ = W.expose(world, "default", "web", rng, port=80, target_port=8080, service_type=ServiceType(kind))
    return world, rng


# -- patch ----------------------------------------------------------------------------------------------------


def test_the_demos_patch_sets_the_external_traffic_policy_and_again_is_no_change() -> None:
    world, rng = exposed()
    world, played = run(world, rng, "kubectl patch service web -n default "
                                    "-p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'   # done in memory here",
                        "kubectl patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'")
    assert [p.notes for p in played] == [("service/web patched",), ("service/web patched (no change)",)]
    service = world.service("default", "web")
    assert service is not None and service.external_traffic_policy is TrafficPolicy.LOCAL


def test_strategic_merge_patches_a_port_by_its_number_and_keeps_its_node_port() -> None:
    world, rng = exposed()
    before = world.service("default", "web")
    assert before is not None
    world, _ = run(world, rng, "patch svc web -p '{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090}]}}'")
    after = world.service("default", "web")
    assert after is not None
    assert [(p.port, p.target_port, p.node_port) for p in after.ports] == [(80, 9090, before.ports[0].node_port)]


def test_a_type_change_to_cluster_ip_drops_the_node_ports_and_local_policy_is_then_refused() -> None:
    world, rng = exposed()
    world, played = run(world, rng, "patch service/web -p 'spec: {type: ClusterIP}'",
                        "patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'")
    service = played[0].world.service("default", "web")
    assert service is not None and service.type is ServiceType.CLUSTER_IP
    assert [p.node_port for p in service.ports] == [0]
    assert played[1].error == ('The Service "web" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": '
                               "may only be set for externally-accessible services")


def test_internal_policy_selector_and_type_by_merge_and_json_patches() -> None:
    world, rng = exposed(kind="ClusterIP")
    world, _ = run(world, rng,
                   "patch service web --type merge -p '{\"spec\":{\"internalTrafficPolicy\":\"Local\","
                   "\"type\":\"NodePort\"}}'",
                   "patch service web --type=json -p '[{\"op\":\"add\",\"path\":\"/spec/selector/tier\","
                   "\"value\":\"x\"}]'")
    service = world.service("default", "web")
    assert service is not None
    assert service.internal_traffic_policy is TrafficPolicy.LOCAL and service.type is ServiceType.NODE_PORT
    assert service.ports[0].node_port and service.external_traffic_policy is TrafficPolicy.CLUSTER
    assert dict(service.selector or ()) == {"app": "web", "tier": "x"}


def test_a_topology_annotation_is_patched_and_the_status_is_not() -> None:
    world, rng = exposed(kind="LoadBalancer")
    world, played = run(world, rng, "patch service web -p '{\"metadata\":{\"annotations\":{"
                                    "\"service.kubernetes.io/topology-mode\":\"Auto\"}}}'",
                        "patch service web -p '{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.2.3.4\"}]}}}'")
    assert W.annotations_of(world, "default/web") == (("service.kubernetes.io/topology-mode", "Auto"),)
    assert played[1].notes == ("service/web patched (no change)",)  # the object's status is not the patch's
    service = world.service("default", "web")
    assert service is not None and service.load_balancer_ingress == ()


def test_deployment_replicas_and_pod_labels_are_patched() -> None:
    world, rng = exposed(replicas=3)
    pod = sorted(p.name for p in world.pods)[0]
    world, played = run(world, rng, "patch deployment web -p '{\"spec\":{\"replicas\":1}}'",
                        f"patch pod {pod} --type merge -p '{{\"metadata\":{{\"labels\":{{\"role\":\"x\"}}}}}}'")
    assert [p.notes for p in played] == [("deployment.apps/web patched",), (f"pod/{pod} patched",)]
    d = world.deployment("default", "web")
    assert d is not None and d.replicas == 1
    labelled = world.pod("default", pod)
    assert labelled is not None and dict(labelled.labels)["role"] == "x"


def test_a_field_not_modelled_is_refused_as_such_not_dropped() -> None:
    world, rng = exposed()
    _, played = run(world, rng, "patch deployment web -p '{\"spec\":{\"paused\":true}}'")
    assert played[0].error is not None and "spec.paused" in played[0].error
    assert "does not model" in played[0].error


@pytest.mark.parametrize(("line", "message"), [
    ("patch service web", "must specify --patch or --patch-file containing the contents of the patch"),
    ("patch service web -p '{}' --type x", '--type must be one of [json merge strategic], not "x"'),
    ("patch configmap web -p '{}'", "'configmap' cannot be patched here"),
])
def test_kubectls_refusals_of_a_patch_line(line: str, message: str) -> None:
    with pytest.raises(ScriptError) as raised:
        parse_line(1, line)
    assert raised.value.message.startswith(message)


def test_a_changed_cluster_ip_is_refused_as_the_api_server_refuses_it_and_null_changes_nothing() -> None:
    world, rng = exposed()
    with pytest.raises(ScriptError, match=r'spec.clusterIPs\[0\]: Invalid value: \[\]string\{"10.0.0.5"\}: may not '
                                          "change once set"):
        run(world, rng, "patch service web -p '{\"spec\":{\"clusterIP\":\"10.0.0.5\"}}'")
    _, played = run(world, rng, "patch service web -p null", "patch service web -p '{\"spec\":{\"clusterIP\":null}}'")
    assert [p.notes for p in played] == [("service/web patched (no change)",)] * 2


def test_a_missing_service_is_kubectls_not_found() -> None:
    world, rng = exposed()
    with pytest.raises(ScriptError, match='patch: services "nosuch" not found'):
        run(world, rng, "patch service nosuch -p '{}'")


def test_patch_types_as_the_api_server_applies_them() -> None:
    live = {"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "b"}], "selector": {"app": "x"}}}
    assert strategic_merge_patch(live, {"spec": {"ports": [{"port": 81, "name": "c"}, {"port": 82}]}}) == {
        "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "c"}, {"port": 82}],
                 "selector": {"app": "x"}}}
    assert strategic_merge_patch(live, {"spec": {"ports": [{"port": 80, "$patch": "delete"}]}})["spec"]["ports"] \
        == [{"port": 81, "name": "b"}]
    assert merge_patch(live, {"spec": {"ports": [{"port": 90}], "selector": {"app": None}}}) == {
        "spec": {"ports": [{"port": 90}], "selector": {}}}
    assert json_patch(live, [{"op": "remove", "path": "/spec/ports/0"},
                             {"op": "replace", "path": "/spec/selector/app", "value": "y"}]) == {
        "spec": {"ports": [{"port": 81, "name": "b"}], "selector": {"app": "y"}}}


# -- label -l / --all -----------------------------------------------------------------------------------------


def test_label_by_selector_and_all_labels_each_pod_in_name_order() -> None:
    world, rng = exposed(replicas=3)
    names = sorted(p.name for p in world.pods)
    world, played = run(world, rng, "label pods -l app=web role=x", "label pods --all role=y --overwrite",
                        "label pods -l app=nosuch role=z")
    assert list(played[0].notes) == [f"pod/{n} labeled" for n in names]
    assert list(played[1].notes) == [f"pod/{n} labeled" for n in names]
    assert played[2].notes == ()  # kubectl label prints nothing when the selector finds no pod
    assert {dict(p.labels)["role"] for p in world.pods} == {"y"}


def test_set_based_and_inequality_selectors_pick_as_kubectls_do() -> None:
    world, rng = exposed(replicas=3)
    names = sorted(p.name for p in world.pods)
    world, _ = run(world, rng, f"label pods {names[0]} tier=a", f"label pods {names[1]} tier=b")
    _, played = run(world, rng, "get pods -l 'tier in (a, b)' -o name", "get pods -l tier!=a -o name",
                    "get pods -l '!tier' -o name", "get pods -l 'app=web,tier notin (b)' -o name",
                    "get pods -l tier -o name")
    assert [[line.removeprefix("pod/") for line in p.notes] for p in played] == [
        names[:2], names[1:], names[2:], [names[0], names[2]], names[:2]]
    with pytest.raises(ScriptError, match="unable to parse requirement"):
        parse_line(1, "get pods -l 'tier in a'")


@pytest.mark.parametrize(("line", "message"), [
    ("label pods -l app=web --all a=b", "cannot set --all and --selector at the same time"),
    ("label pods web-1 -l app=web a=b", "name cannot be provided when a selector is specified"),
    ("label pods a=b", "resource(s) were provided, but no name was specified"),
    ("label pods --all", "at least one label update is required"),
])
def test_label_refusals_are_kubectls(line: str, message: str) -> None:
    with pytest.raises(ScriptError) as raised:
        parse_line(1, line)
    assert raised.value.message.startswith(message)


# -- get ------------------------------------------------------------------------------------------------------


def test_get_prints_kubectls_default_tables() -> None:
    world, rng = exposed(replicas=2)
    world = W.advance(world, 125, rng)
    service = world.service("default", "web")
    assert service is not None
    names = sorted(p.name for p in world.pods)
    ips = {p.name: p.pod_ips[0] for p in world.pods}
    _, played = run(world, rng, "get pods", "get svc -o wide", "get endpoints", "get deployments",
                    "kubectl get pods -o name")
    age = human_duration(world.now - min(p.created for p in world.pods))
    assert list(played[0].notes) == table([["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
                                           *([n, "1/1", "Running", "0", age] for n in names)])
    node_port = service.ports[0].node_port
    assert list(played[1].notes) == table([
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
        ["web", "NodePort", service.cluster_ips[0], "<none>", f"80:{node_port}/TCP", "2m10s", "app=web"]])
    endpoints = ",".join(sorted(f"{ips[n]}:8080" for n in names))
    assert played[2].notes[0].startswith("Warning: v1 Endpoints is deprecated")
    assert played[2].notes[1:] == ("NAME   ENDPOINTS" + " " * (len(endpoints) - 6) + "AGE",
                                   f"web    {endpoints}   2m10s")
    assert played[3].notes[1].split() == ["web", "2/2", "2", "2", age]
    assert list(played[4].notes) == [f"pod/{n}" for n in names]


def test_get_replicasets_counts_their_pods_and_dates_them_from_the_step_that_made_them() -> None:
    world, rng = exposed(replicas=2)
    world, played = run(world, rng, "set image deployments/web kubernetes-bootcamp=nginx:2", "wait 3m",
                        "get rs -o wide")
    old, new = sorted(world.replica_sets, key=lambda rs: rs.serial)
    rows = {line.split()[0]: line.split() for line in played[2].notes[1:]}
    assert played[2].notes[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES",
                                          "SELECTOR"]
    assert rows[new.name][1:5] == ["2", "2", "2", "3m"]  # made by the set image step, at its start
    assert rows[old.name][1:4] == ["0", "0", "0"]
    assert rows[old.name][6] == "gcr.io/google-samples/kubernetes-bootcamp:v1"


def test_get_of_a_missing_name_is_kubectls_not_found_and_of_nothing_says_so() -> None:
    world, rng = exposed()
    _, played = run(world, rng, "get pods nosuch", "get deployments -n other")
    assert played[0].error == 'Error from server (NotFound): pods "nosuch" not found'
    assert played[1].notes == ("No resources found in other namespace.",)


def test_get_all_namespaces_heads_a_namespace_column_and_takes_no_name() -> None:
    world, rng = exposed(replicas=1)
    world = W.create_deployment(world, W.new_deployment("other", "api", ["nginx:1"], 1, 80), rng)
    _, played = run(world, rng, "get deployments -A", "kubectl get rs --all-namespaces -o name")
    assert [line.split()[:2] for line in played[0].notes] == [["NAMESPACE", "NAME"], ["default", "web"],
                                                              ["other", "api"]]
    assert [line.split("-")[0] for line in played[1].notes] == ["replicaset.apps/web", "replicaset.apps/api"]
    with pytest.raises(ScriptError, match="a resource cannot be retrieved by name across all namespaces"):
        parse_line(1, "get pods web -A")
    _, played = run(W.advance(deployed(0)[0], 1, rng), rng, "get endpoints -A")
    assert played[0].notes[1:] == ("No resources found",)


def test_ages_and_columns_are_kubectls() -> None:
    assert [human_duration(s) for s in (0, 119, 120, 185, 600, 3 * 3600 + 60, 8 * 3600, 49 * 3600, 400 * 86400)] \
        == ["0s", "119s", "2m", "3m5s", "10m", "3h1m", "8h", "2d1h", "400d"]
    assert table([["NAME", "X"], ["a", "b"]]) == ["NAME   X", "a      b"]


def test_the_scenario_plays_get_and_patch_to_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    script = ("create deployment web --image=gcr.io/google-samples/kubernetes-bootcamp:v1\n"
              "expose deployment/web --type=NodePort --port=8080\n"
              "wait 10s\n"
              "kubectl get services\n"
              "kubectl patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'\n")
    assert len(parse_script(script)) == 5
    steps = play_steps(tmp_path, monkeypatch, capsys, script, "--show", "rules")
    assert step_notes(steps[3])[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert step_notes(steps[4]) == ["service/web patched"]
    assert not any("KUBE-SVL" in line for line in steps[3])
    assert any("KUBE-SVL" in line for line in steps[4])  # externalTrafficPolicy Local's chain
