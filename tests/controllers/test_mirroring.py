"""The scenario's endpointslicemirroring controller: Endpoints kept in the World, mirrored on upstream's events
(onServiceAdd/Update/Delete, onEndpointsAdd/Update/Delete: pkg/controller/endpointslicemirroring), the endpoints
controller's part (a deleted Service's Endpoints deleted; a selector's Endpoints written from the pods)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli.scenario_cmd import load_manifests
from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.mirroring import (
    mirror_queued,
    mirror_step,
    should_mirror,
    sync_mirrored,
    written_by_endpoints_controller,
)
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.script import Step, play
from kubeproxy_sim.controllers.world import controller_sync
from kubeproxy_sim.objects.mirror import (
    MANAGED_BY_LABEL,
    MIRROR_CONTROLLER,
    SKIP_MIRROR_LABEL,
    Endpoints,
    EndpointsAddress,
    EndpointsPort,
    EndpointsSubset,
    sort_subsets,
)
from kubeproxy_sim.objects.model import ContainerPort, IPFamily, Protocol, Service, ServicePort
from kubeproxy_sim.objects.subset_order import CORE, V1
from tests.budget import budget

from ._helpers import deployed, run_cli, split_steps, step_notes

# kubectl 1.33's lines (stderr) before those of a command touching v1 Endpoints: the API server's deprecation
# warning (KEP-4974), once per command, and apply's of an object no apply made (warningNoLastAppliedConfigAnnotation)
WARN = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
NO_LAST_APPLIED = ("Warning: resource endpoints/ext is missing the kubectl.kubernetes.io/last-applied-configuration "
                   "annotation which is required by kubectl apply. kubectl apply should only be used on resources "
                   "created declaratively by either kubectl create --save-config or kubectl apply. The missing "
                   "annotation will be patched automatically.")

SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\n"
           "spec: {clusterIP: 10.96.0.50, ports: [{port: 80, targetPort: 8080}]}\n")
ENDPOINTS = ("apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext, namespace: default}\n"
             "subsets:\n- addresses: [{ip: 192.0.2.10}, {ip: 192.0.2.11}]\n  ports: [{port: 8080}]\n")
SKIPPED = ENDPOINTS.replace("metadata: {name: ext, namespace: default}",
                            f'metadata: {{name: ext, namespace: default, labels: {{{SKIP_MIRROR_LABEL}: "true"}}}}')
ROWS = ["default/ext 192.0.2.10:8080/TCP ready", "default/ext 192.0.2.11:8080/TCP ready"]
NONE = ["default/ext (no endpoints)"]


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
         **files: str) -> tuple[list[tuple[list[str], list[str]]], str]:
    """Play ``script`` with ``files`` (name: text; name ``both`` is Service then Endpoints): per step, (its notes,
    its endpoint rows), and what was said on standard error."""
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    (tmp_path / "script").write_text(script)
    assert run_cli(["scenario", str(tmp_path / "script"), "-f", str(Path(__file__).resolve().parents[2] / "rulesets"
                                                                     / "bootcamp" / "objects.yaml"),
                    "--show", "endpoints"], monkeypatch) == 0
    captured = capsys.readouterr()
    return [(step_notes(step), [line for line in step if line.startswith("default/ext")])
            for step in split_steps(captured.out)], captured.err


def test_endpoints_applied_before_their_service_are_mirrored_when_the_service_is_added(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """onServiceAdd queues the Endpoints of a Service without a selector: the Endpoints the World kept from the
    step before are mirrored then (they were mirrored only against their own apply's Services, and lost)."""
    steps, err = _run(tmp_path, monkeypatch, capsys, "apply -f ep.yaml\napply -f svc.yaml\n", ep=ENDPOINTS,
                      svc=SERVICE)
    assert steps[0] == ([WARN, "endpoints/ext created"], [])
    assert steps[1] == (["service/ext created"], ROWS)
    assert "script:1: Endpoints default/ext: note: not mirrored to EndpointSlices: there is no Service default/ext" \
           f" (from {tmp_path / 'ep.yaml'})" in err


def test_endpoints_deleted_take_their_mirrored_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """onEndpointsDelete: the sync finds no Endpoints and deletes the mirrored slices."""
    steps, _ = _run(tmp_path, monkeypatch, capsys, "apply -f both.yaml\ndelete endpoints ext\n",
                    both=SERVICE + "---\n" + ENDPOINTS)
    assert steps[0] == (["service/ext created", WARN, "endpoints/ext created"], ROWS)
    assert steps[1] == ([WARN, 'endpoints "ext" deleted'], NONE)


def test_a_service_deleted_takes_its_endpoints_and_one_made_again_has_none_until_they_are_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoints controller deletes the Endpoints of a Service not found; the Service made again has no
    endpoints, and Endpoints applied alone after it are mirrored (the Service of an earlier step)."""
    steps, _ = _run(tmp_path, monkeypatch, capsys,
                    "apply -f both.yaml\ndelete service ext\napply -f svc.yaml\napply -f ep.yaml\napply -f ep.yaml\n",
                    both=SERVICE + "---\n" + ENDPOINTS, svc=SERVICE, ep=ENDPOINTS)
    assert [rows for _, rows in steps] == [ROWS, [], NONE, ROWS, ROWS]
    assert steps[3][0] == [WARN, "endpoints/ext created"]  # (gone with the Service: created again)
    assert steps[4][0] == [WARN, "endpoints/ext unchanged"]


def test_the_skip_mirror_label_added_or_removed_is_an_update_the_controller_syncs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """onEndpointsUpdate queues when the old or the new object is one to mirror: the label removed mirrors the
    Endpoints, the label added again deletes their slices."""
    steps, err = _run(tmp_path, monkeypatch, capsys,
                      "apply -f svc.yaml\napply -f skipped.yaml\napply -f ep.yaml\napply -f skipped.yaml\n",
                      svc=SERVICE, skipped=SKIPPED, ep=ENDPOINTS)
    assert [rows for _, rows in steps] == [NONE, NONE, ROWS, NONE]
    assert [notes for notes, _ in steps[1:]] == [[WARN, "endpoints/ext created"], [WARN, "endpoints/ext configured"],
                                                 [WARN, "endpoints/ext configured"]]
    assert err.count(f'not mirrored to EndpointSlices: it has the label {SKIP_MIRROR_LABEL}="true"') == 2


def _mirrored(world: object) -> list[tuple[str, ...]]:
    """The addresses of the mirrored slices kube-proxy is given, per slice."""
    cluster = controller_sync(world).cluster  # type: ignore[arg-type]
    return sorted(tuple(e.addresses[0] for e in s.endpoints) for s in cluster.endpoint_slices
                  if dict(s.labels).get(MANAGED_BY_LABEL) == MIRROR_CONTROLLER)


def test_a_selector_removed_mirrors_what_the_endpoints_controller_wrote_from_the_pods(tmp_path: Path) -> None:
    """A selector added deletes the mirrored slices ("Service now has selector"); while it is there the endpoints
    controller writes the Endpoints from the selected pods (replacing the hand-written ones), and once it is
    removed it leaves them: onServiceUpdate queues them and the mirroring controller mirrors the pods' addresses."""
    world, rng = deployed(2)
    pods = sorted(p.at(world.now).pod_ips[0] for p in world.pods)
    web = SERVICE.replace("name: ext", "name: web")
    (tmp_path / "both.yaml").write_text(web + "---\n" + ENDPOINTS.replace("name: ext", "name: web"))
    (tmp_path / "sel.yaml").write_text(web.replace("spec: {", "spec: {selector: {app: web}, "))
    (tmp_path / "nosel.yaml").write_text(web)
    mirrored = []
    for name in ("both", "sel", "nosel"):
        path = str(tmp_path / f"{name}.yaml")
        world = play(world, Step(1, "apply", "apply", paths=(path,)), rng, lambda _p: load_manifests(_p)).world
        mirrored.append(_mirrored(world))
    assert mirrored == [[("192.0.2.10", "192.0.2.11")], [], [tuple(pods)]]
    (endpoints,) = world.endpoints
    assert {e.target_ref for s in world.mirrored_slices for e in s.endpoints} == {
        ("Pod", "default", p.name) for p in world.pods}
    assert endpoints.subsets and not endpoints.subsets[0].not_ready_addresses


def test_endpoints_applied_in_the_step_that_removes_the_selector_are_the_users(tmp_path: Path) -> None:
    """The endpoints controller reacts to Endpoints only on delete and its syncService returns for a Service
    without a selector: the Endpoints one apply brings with the selector's removal are the user's, mirrored as
    written, whatever the order of the file (not replaced by what the controller wrote from the pods)."""
    web = SERVICE.replace("name: ext", "name: web")
    endpoints = ENDPOINTS.replace("name: ext", "name: web")
    (tmp_path / "sel.yaml").write_text(web.replace("spec: {", "spec: {selector: {app: web}, "))
    (tmp_path / "both.yaml").write_text(web + "---\n" + endpoints)
    (tmp_path / "reversed.yaml").write_text(endpoints + "---\n" + web)
    for both in ("both", "reversed"):
        world, rng = deployed(2)
        for name in ("sel", both):
            path = str(tmp_path / f"{name}.yaml")
            world = play(world, Step(1, "apply", "apply", paths=(path,)), rng, lambda _p: load_manifests(_p)).world
        assert _mirrored(world) == [("192.0.2.10", "192.0.2.11")]
        assert [a.ip for e in world.endpoints for s in e.subsets for a in s.addresses] == ["192.0.2.10", "192.0.2.11"]


def test_endpoints_applied_for_a_service_with_a_selector_are_configured_not_created(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoints controller wrote a selector Service's Endpoints, so kubectl apply finds them and says
    configured; the same file applied again, the World holding what it applied, is unchanged."""
    selected = SERVICE.replace("spec: {", "spec: {selector: {app: web}, ")
    steps, _err = _run(tmp_path, monkeypatch, capsys, "apply -f svc.yaml\napply -f ep.yaml\napply -f ep.yaml\n",
                       svc=selected, ep=ENDPOINTS)
    assert [notes for notes, _rows in steps] == [
        ["service/ext created"], [WARN, NO_LAST_APPLIED, "endpoints/ext configured"], [WARN, "endpoints/ext unchanged"]]


def test_kubectl_warns_of_the_missing_last_applied_annotation_on_the_controllers_endpoints_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl apply warns of an object it finds without its annotation: the endpoints controller's, not those it
    applied itself (their annotation kept), and again once they are deleted and the controller writes them anew;
    the API server's deprecation warning comes first, once a command."""
    selected = SERVICE.replace("spec: {", "spec: {selector: {app: web}, ")
    script = "apply -f svc.yaml\napply -f ep.yaml\napply -f ep2.yaml\ndelete endpoints ext\napply -f ep.yaml\n"
    steps, _err = _run(tmp_path, monkeypatch, capsys, script, svc=selected, ep=ENDPOINTS,
                       ep2=ENDPOINTS.replace("192.0.2.11", "192.0.2.17"))
    assert [notes for notes, _rows in steps[1:]] == [
        [WARN, NO_LAST_APPLIED, "endpoints/ext configured"], [WARN, "endpoints/ext configured"],
        [WARN, 'endpoints "ext" deleted'], [WARN, NO_LAST_APPLIED, "endpoints/ext configured"]]


def test_the_endpoints_of_a_service_with_a_selector_can_be_deleted_and_are_written_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoints controller wrote them, so kubectl finds them (by name or by the Service's labels) and deletes
    them; the controller writes them again from the pods: the Service's endpoints do not change."""
    selected = SERVICE.replace("metadata: {", "metadata: {labels: {tier: x}, ").replace(
        "spec: {", "spec: {selector: {app: kubernetes-bootcamp}, ")
    steps, err = _run(tmp_path, monkeypatch, capsys,
                      "apply -f svc.yaml\ndelete endpoints ext\ndelete endpoints -l tier=x\n", svc=selected)
    assert [notes for notes, _rows in steps] == [["service/ext created"], [WARN, 'endpoints "ext" deleted'],
                                                 [WARN, 'endpoints "ext" deleted']]
    assert steps[0][1] and steps[0][1] == steps[1][1] == steps[2][1] != NONE
    assert "error" not in err


def test_the_endpoints_controller_leaves_out_terminating_pods_and_uses_the_services_family() -> None:
    """ShouldPodBeInEndpoints without publishNotReadyAddresses leaves a terminating pod out; an unready pod is a
    not-ready address; the address is of the Service's family (Endpoints are single-stack)."""
    world, _ = deployed(3)
    pods = [p.at(world.now) for p in world.pods]
    pods = [replace(pods[0], terminating=True), replace(pods[1], ready=False, pod_ips=("fd00::1", pods[1].pod_ips[0])),
            pods[2]]
    service = Service("default", "web", cluster_ips=("10.96.0.9",), selector=(("app", "web"),),
                      ports=(ServicePort(name="", protocol=Protocol.TCP, port=80, target_port=8080),))
    written = written_by_endpoints_controller(service, pods)
    ready = [a.ip for s in written.subsets for a in s.addresses]
    not_ready = [a.ip for s in written.subsets for a in s.not_ready_addresses]
    assert ready == [pods[2].pod_ips[0]] and not_ready == [pods[1].pod_ips[1]]


def test_the_endpoints_controller_truncates_to_1000_addresses_ready_ones_first() -> None:
    """truncateEndpoints: over 1000 addresses, ready ones are kept first (in the repacked order) and not-ready
    ones fill what is left, or all go when the ready ones alone are over; the over-capacity annotation says so."""
    world, _ = deployed(1)
    (pod,) = [p.at(world.now) for p in world.pods]
    service = Service("default", "web", cluster_ips=("10.96.0.9",), selector=(("app", "web"),),
                      ports=(ServicePort(name="", protocol=Protocol.TCP, port=80, target_port=8080),))

    def pods(ready: int, not_ready: int) -> list[Any]:
        return [replace(pod, name=f"p{i}", pod_ips=(f"10.1.{i // 250}.{i % 250 + 1}",), ready=i < ready)
                for i in range(ready + not_ready)]

    def counts(written: Any) -> tuple[int, int, tuple[tuple[str, str], ...]]:
        return (sum(len(s.addresses) for s in written.subsets),
                sum(len(s.not_ready_addresses) for s in written.subsets), written.annotations)

    over = (("endpoints.kubernetes.io/over-capacity", "truncated"),)
    assert counts(written_by_endpoints_controller(service, pods(600, 400))) == (600, 400, ())
    assert counts(written_by_endpoints_controller(service, pods(600, 401))) == (600, 400, over)
    assert counts(written_by_endpoints_controller(service, pods(1001, 5))) == (1000, 0, over)
    (subset,) = written_by_endpoints_controller(service, pods(1001, 0)).subsets
    assert "10.1.4.1" not in {a.ip for a in subset.addresses}  # the last in address order


def test_the_endpoints_controller_labels_the_endpoints_of_a_service_without_a_cluster_ip_headless() -> None:
    """syncService adds service.kubernetes.io/headless: "" when !IsServiceIPSet and removes it otherwise (a
    Service's own label of that name is not copied), so the mirrored slices of a headless Service carry it."""
    service = Service("default", "web", cluster_ips=("10.96.0.9",), selector=(("app", "web"),),
                      labels=(("service.kubernetes.io/headless", "x"), ("tier", "a")))
    assert written_by_endpoints_controller(service, []).labels == (("tier", "a"),)
    headless = replace(service, cluster_ips=())
    assert written_by_endpoints_controller(headless, []).labels == (
        ("service.kubernetes.io/headless", ""), ("tier", "a"))


def _service(selector: tuple[tuple[str, str], ...] | None, port: int = 80) -> Service:
    return Service("default", "ext", cluster_ips=("10.96.0.50",), selector=selector,
                   ports=(ServicePort(name="", protocol=Protocol.TCP, port=port, target_port=8080),))


def _endpoints(labels: tuple[tuple[str, str], ...] = ()) -> Endpoints:
    return Endpoints("default", "ext", labels=labels)


SKIP = ((SKIP_MIRROR_LABEL, "true"),)


@pytest.mark.parametrize(("old", "new", "queued"), [
    (([], []), ([_service(None)], []), True),  # onServiceAdd, no selector
    (([], []), ([_service((("app", "web"),))], []), False),  # onServiceAdd with a selector: nothing
    (([_service(None)], []), ([_service(None, port=81)], []), False),  # an update that keeps no selector
    (([_service(None)], []), ([_service((("app", "web"),))], []), True),  # selector added
    (([_service((("app", "web"),))], []), ([_service(None)], []), True),  # selector removed
    (([_service(None)], []), ([], []), True),  # onServiceDelete of a Service without a selector
    (([_service((("app", "web"),))], []), ([], []), False),  # ... with one: nothing
    (([], []), ([], [_endpoints()]), True),  # onEndpointsAdd
    (([], []), ([], [_endpoints(SKIP)]), False),  # ... skip-mirror: nothing
    (([], [_endpoints(SKIP)]), ([], [_endpoints((*SKIP, ("a", "b")))]), False),  # neither one to mirror
    (([], [_endpoints(SKIP)]), ([], [_endpoints()]), True),  # the label removed
    (([], [_endpoints()]), ([], [_endpoints(SKIP)]), True),  # the label added
    (([], [_endpoints()]), ([], [_endpoints()]), False),  # the same object: no event
    (([], [_endpoints()]), ([], []), True),  # onEndpointsDelete
    (([], [_endpoints(SKIP)]), ([], []), False),
])
def test_the_handlers_queue_as_upstreams(old: tuple[list[Service], list[Endpoints]],
                                         new: tuple[list[Service], list[Endpoints]], queued: bool) -> None:
    assert mirror_queued(old[0], new[0], old[1], new[1]) == (["default/ext"] if queued else [])


def test_should_mirror_reads_the_label_value_and_the_leader_annotation() -> None:
    assert should_mirror(_endpoints(((SKIP_MIRROR_LABEL, "false"),)))
    assert not should_mirror(_endpoints(SKIP)) and not should_mirror(None)
    leader = Endpoints("kube-system", "lock", annotations=(("control-plane.alpha.kubernetes.io/leader", "{}"),))
    assert not should_mirror(leader)


def test_addresses_over_the_cap_are_warned_of_at_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    many = ", ".join(f"{{ip: 10.1.{i // 250}.{i % 250 + 1}}}" for i in range(1001))
    text = ENDPOINTS.replace("[{ip: 192.0.2.10}, {ip: 192.0.2.11}]", f"[{many}]")
    steps, err = _run(tmp_path, monkeypatch, capsys, "apply -f svc.yaml\napply -f ep.yaml\n", svc=SERVICE, ep=text)
    assert len(steps[1][1]) == 1000
    assert "script:2: Endpoints default/ext: warning: 1 addresses not mirrored: the controller copies at most 1000" \
           " per subset" in err


def test_the_starting_objects_endpoints_are_mirrored_with_their_services(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "objects.yaml").write_text(
        (Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml").read_text()
        + "\n---\n" + SERVICE + "---\n" + ENDPOINTS)
    (tmp_path / "script").write_text("wait 1s\n")
    assert run_cli(["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "objects.yaml"), "--show",
                    "endpoints"], monkeypatch) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("default/ext")] == ROWS



# -- invariant: syncing only what the events queue leaves the slices a sync of every key would --------------------

_NAMES = ("a", "b")
_OPS = st.one_of(
    st.tuples(st.just("service"), st.sampled_from(_NAMES), st.booleans(), st.sampled_from((80, 81))),
    st.tuples(st.just("delete service"), st.sampled_from(_NAMES)),
    st.tuples(st.just("endpoints"), st.sampled_from(_NAMES), st.booleans(),
              st.lists(st.sampled_from(("192.0.2.1", "192.0.2.2", "2001:db8::1")), max_size=3, unique=True)),
    st.tuples(st.just("delete endpoints"), st.sampled_from(_NAMES)),
)


def _after(world: World, op: tuple[Any, ...], pods_world: World) -> World:
    """One API change: a Service put (with or without a selector, the pods' app), deleted (W.delete_services, so
    with its Endpoints), Endpoints put (skip-mirror or not) or deleted."""
    kind, name = op[0], str(op[1])
    if kind == "service":
        selector = (("app", "web"),) if op[2] else None
        service = Service("default", name, cluster_ips=("10.96.0.9",), selector=selector,
                          ports=(ServicePort(name="", protocol=Protocol.TCP, port=int(op[3]), target_port=8080),))
        return W.put_service(replace(world, pods=pods_world.pods, now=pods_world.now), service)
    if kind == "delete service":
        return W.delete_services(world, "default", [name]) if world.service("default", name) else world
    others = tuple(e for e in world.endpoints if e.name != name)
    if kind == "delete endpoints":
        return replace(world, endpoints=others)
    addresses = tuple(EndpointsAddress(ip, IPFamily.IPV6 if ":" in ip else IPFamily.IPV4) for ip in op[3])
    subset = EndpointsSubset(addresses=addresses, ports=(EndpointsPort("", 8080),))
    return replace(world, endpoints=(*others, Endpoints("default", name, (subset,), labels=SKIP if op[2] else ())))


@given(st.lists(_OPS, max_size=12))
@settings(max_examples=budget(300), deadline=None)
# the skip-mirror label added: fails when an update queues only Endpoints that are to be mirrored now
@example([("service", "a", False, 80), ("endpoints", "a", False, ["192.0.2.1"]),
          ("endpoints", "a", True, ["192.0.2.1"])])
def test_event_driven_mirroring_agrees_with_a_sync_of_every_key(ops: list[tuple[Any, ...]]) -> None:
    """Upstream's handlers queue every key whose mirrored slices could change: after any sequence of Service and
    Endpoints changes, the slices kept by syncing only the queued keys are those a sync of every key makes. A
    handler rule too narrow (a selector toggle, the skip-mirror label added or removed) breaks it. Not
    onServiceDelete: a Service deleted here takes its Endpoints (W.delete_services), whose delete queues the key."""
    pods_world, _ = deployed(1)
    world = World(nodes=pods_world.nodes)
    for op in ops:
        world, _notes = mirror_step(world, _after(world, op, pods_world))
        every = sync_mirrored([f"default/{n}" for n in _NAMES], {s.key: s for s in world.services},
                              {e.key: e for e in world.endpoints}, (), world.user_slices)
        assert sorted(world.mirrored_slices, key=repr) == sorted(every.slices, key=repr)


HAND_MIRRORED = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ext-by-hand\n"
                 "  namespace: default\n"
                 f"  labels: {{{MANAGED_BY_LABEL}: {MIRROR_CONTROLLER}, kubernetes.io/service-name: ext}}\n"
                 "addressType: IPv4\nendpoints: [{addresses: [198.51.100.7], conditions: {ready: true}}]\n"
                 "ports: [{port: 8080, protocol: TCP}]\n")


@pytest.mark.parametrize(("script", "rows"), [
    ("apply -f svc.yaml\napply -f hand.yaml\n", NONE),  # no Endpoints: deleteMirroredSlices
    ("apply -f both.yaml\napply -f hand.yaml\n", ROWS),  # reconciled to the Endpoints
])
def test_a_slice_of_the_mirroring_controllers_label_applied_by_hand_is_the_controllers_to_delete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
        rows: list[str]) -> None:
    """onEndpointSliceAdd queues the Endpoints of a slice of the controller's label its tracker does not know, and
    the sync deletes it (no Endpoints) or reconciles the Service's slices to the Endpoints: its endpoint is not
    used either way (it was, for a Service without a selector)."""
    steps, err = _run(tmp_path, monkeypatch, capsys, script, svc=SERVICE, both=SERVICE + "---\n" + ENDPOINTS,
                      hand=HAND_MIRRORED)
    assert steps[1] == (["endpointslice.discovery.k8s.io/ext-by-hand created"], rows)
    assert "script:2: EndpointSlice default/ext-by-hand: note: deleted by the mirroring controller" in err


def test_the_endpoints_controller_truncates_in_the_v1_hash_order_and_stores_the_core_one() -> None:
    """RepackSubsets of the endpoints controller (pkg/api/v1/endpoints) sorts the subsets by the hash of the v1
    types, truncateEndpoints then cuts in that order (each subset its share rounded up, the last ones what is
    left), and the API server stores them sorted by the hash of its core types. Seven subsets of 2 addresses and
    one of 1000 (a port each): shares 2 and 987, one too many, so the subset last in the v1 order loses one."""
    world, _ = deployed(1)
    (pod,) = [p.at(world.now) for p in world.pods]
    service = Service("default", "web", cluster_ips=("10.96.0.9",), selector=(("app", "web"),),
                      ports=(ServicePort(name="", protocol=Protocol.TCP, port=80, target_port="http"),))
    sizes = [2] * 8
    sizes[1] = 1000  # 8081: neither last in the v1 order nor in the core one
    pods = [replace(pod, name=f"p{group}-{i}", pod_ips=(f"10.{group + 1}.{i // 250}.{i % 250 + 1}",),
                    ports=(ContainerPort("http", 8080 + group),))
            for group, size in enumerate(sizes) for i in range(size)]
    untruncated = [EndpointsSubset(addresses=tuple(sorted(
        (EndpointsAddress(p.pod_ips[0], IPFamily.IPV4, node_name=p.node_name, target_ref=("Pod", p.namespace, p.name),
                          uid=p.key) for p in pods if p.ports[0].container_port == port),
        key=lambda a: a.ip.encode())), ports=(EndpointsPort("", port),)) for port in range(8080, 8088)]
    v1_last = sort_subsets(untruncated, V1)[-1].ports[0].port
    core_last = sort_subsets(untruncated, CORE)[-1].ports[0].port
    assert len({v1_last, core_last, 8081}) == 3
    written = written_by_endpoints_controller(service, pods)
    kept = {s.ports[0].port: len(s.addresses) for s in written.subsets}
    assert kept == {port: 987 if port == 8081 else 1 if port == v1_last else 2 for port in range(8080, 8088)}
    assert list(written.subsets) == sort_subsets(written.subsets, CORE)
