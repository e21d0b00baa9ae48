"""A slice of the EndpointSlice controller's label that someone else adds or changes queues its Service a second
later (endpointslice_controller.go: queueServiceForEndpointSlice, AddAfter endpointSliceChangeMinSyncDelay, 1s,
kube-controller-manager's --endpoint-updates-batch-period being 0): kube-proxy sees the slice until that sync
deletes it, on the scenario clock, unless another event syncs the Service sooner (the Service and pod handlers
queue it at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import play_steps

SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
           "spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
SLICE = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-fake\n"
         "  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: "
         "endpointslice-controller.k8s.io}\naddressType: IPv4\n"
         "endpoints: [{addresses: [10.9.9.9], conditions: {ready: true}}]\nports: [{port: 8080, protocol: TCP}]\n")
POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p1, labels: {app: web}}\n"
       "spec: {nodeName: node1, containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}\n"
       "status: {podIP: 10.244.0.7, podIPs: [{ip: 10.244.0.7}], conditions: [{type: Ready, status: 'True'}]}\n")
FAKE = "default/web 10.9.9.9:8080/TCP ready"


def rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         script: str) -> list[list[str]]:
    """Each step's endpoint rows of default/web (the bootcamp nodes)."""
    for name, text in (("svc", SERVICE), ("slice", SLICE), ("pod", POD)):
        (tmp_path / f"{name}.yaml").write_text(text)
    return [[line for line in step if line.startswith("default/web")]
            for step in play_steps(tmp_path, monkeypatch, capsys, script, "--show", "endpoints")]


def test_kube_proxy_sees_the_slice_for_the_second_before_the_controller_deletes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Applied at 0s: there at once and at 0.5s, gone at 1s; applied again (created anew) at 1s: there until 2s,
    a wait past the due instant deleting it too."""
    steps = rows(tmp_path, monkeypatch, capsys, "apply -f svc.yaml\napply -f slice.yaml\nwait 500ms\nwait 500ms\n"
                 "apply -f slice.yaml\nwait 3s\n")
    none = ["default/web (no endpoints)"]
    assert steps == [none, [FAKE], [FAKE], none, [FAKE], none]


def test_another_event_of_the_service_syncs_it_and_deletes_the_slice_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod of the Service applied in the next step (no time passing) queues it at once: the sync deletes the
    slice and writes the pod's endpoint; so does a pod in the same file as the slice."""
    steps = rows(tmp_path, monkeypatch, capsys, "apply -f svc.yaml\napply -f slice.yaml\napply -f pod.yaml\n")
    assert steps[1:] == [[FAKE], ["default/web 10.244.0.7:8080/TCP ready node=node1 zone=zone-a pod=p1"]]
    (tmp_path / "both.yaml").write_text(SLICE + "---\n" + POD.replace("p1", "p2").replace("0.7", "0.8"))
    steps = rows(tmp_path, monkeypatch, capsys, "apply -f svc.yaml\napply -f both.yaml\n")
    assert steps[1] == ["default/web 10.244.0.8:8080/TCP ready node=node1 zone=zone-a pod=p2"]
