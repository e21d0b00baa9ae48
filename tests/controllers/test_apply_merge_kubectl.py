"""``apply -f`` over a live Service against kubectl 1.33's three-way merge, where the binary is at hand: before
each step the stand-in API server holds the model's Service (kubectl_patch.service_document) with the
last-applied-configuration kubectl itself last wrote; kubectl's PATCH body is applied to that Service as the
model's API server applies a patch (kubectl_patch.patched_service), and the result must be the Service the
scenario's step leaves, in every field the model holds but those the allocator fills in; its line too. Skipped
without the binary."""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeproxy_sim.controllers import kubectl_patch as KP
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.script import LAST_APPLIED_ANNOTATION, parse_line, play
from kubeproxy_sim.objects.model import Service

from ._helpers import deployed, run_cli, split_steps, step_notes
from .test_apply_notes_kubectl import KUBECTL, RESOURCES
from .test_patch_kubectl import _kubectl

pytestmark = pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")

PATH = "/api/v1/namespaces/default/services/web"


class _StandIn:
    """The stand-in's state: the Service it holds (or none) and the PATCH bodies it was sent."""

    def __init__(self) -> None:
        self.held: dict[str, Any] | None = None
        self.patches: list[Any] = []
        self.posted: list[dict[str, Any]] = []


def _handler(state: _StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _send(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sent = json.loads(self.rfile.read(length)) if length else {}
            path = self.path.split("?")[0]
            if path == "/api":
                return self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
            if path == "/apis":
                return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            if path in RESOURCES:
                return self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": path.split("/", 2)[2], "resources": [
                                            {"name": r, "singularName": "", "namespaced": namespaced, "kind": k,
                                             "verbs": ["create", "get", "patch"]}
                                            for r, k, namespaced in RESOURCES[path]]})
            if path == PATH and state.held is not None and self.command in ("GET", "PATCH"):
                if self.command == "PATCH":
                    state.patches.append(sent)
                return self._send(200, state.held)
            if self.command == "POST":
                state.posted.append(sent)
                return self._send(201, sent)
            return self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                    "code": 404})

        do_GET = do_POST = do_PATCH = _any

    return Handler


@pytest.fixture
def stand_in() -> Iterator[tuple[int, _StandIn]]:
    state = _StandIn()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _unallocated(service: Service) -> dict[str, Any]:
    """The Service's document less what the allocator fills in (node ports, the health check node port)."""
    doc = KP.service_document(service)
    for port in doc["spec"]["ports"]:
        port.pop("nodePort", None)
    doc["spec"].pop("healthCheckNodePort", None)
    return doc


def _last_applied(body: dict[str, Any]) -> str | None:
    return body.get("metadata", {}).get("annotations", {}).get(LAST_APPLIED_ANNOTATION)


def _without_last_applied(body: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(body))
    annotations = out.get("metadata", {}).get("annotations", {})
    annotations.pop(LAST_APPLIED_ANNOTATION, None)
    return out


NODE_PORT = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
             "spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
TWO_PORTS = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {a: '1'}}\n"
             "spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}, "
             "{name: https, port: 443, targetPort: 8443}]}\n")
ONE_PORT = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {b: '2'}}\n"
            "spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}\n")
SWAPPED = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {a: '1'}}\n"
           "spec: {selector: {app: web}, ports: [{name: https, port: 443, targetPort: 8443}, "
           "{name: http, port: 80, targetPort: 8080}]}\n")
SINGLE = NODE_PORT.replace("spec: {", "spec: {ipFamilyPolicy: SingleStack, ")
NAMESPACED = NODE_PORT.replace("name: web}", "name: web, namespace: default}")
ANNOTATED = NODE_PORT.replace("name: web}", "name: web, annotations: {note: x}}")
CLUSTER_IP = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
              "spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
LOCAL = "patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'"
FIRST_PORT = ("patch service web --type json -p '[{\"op\":\"add\",\"path\":\"/spec/ports/0\",\"value\":"
              "{\"name\":\"x\",\"port\":9090,\"targetPort\":9090}}]'")
ADD_PORT = "patch service web -p '{\"spec\":{\"ports\":[{\"name\":\"x\",\"port\":9090,\"targetPort\":9090}]}}'"


def _played(tmp_path: Path, lines: list[str]) -> list[tuple[World, list[str]]]:
    """Each step of ``lines`` played on a World with app 'web' at no pods, the manifests above written in
    ``tmp_path``: (the World after it, its notes)."""
    from kubeproxy_sim.cli.scenario_cmd import load_manifests

    files = {"node_port": NODE_PORT, "two_ports": TWO_PORTS, "one_port": ONE_PORT, "cluster_ip": CLUSTER_IP,
             "swapped": SWAPPED, "annotated": ANNOTATED,
             "namespaced": NAMESPACED, "single": SINGLE}
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    state, rng = deployed(0)
    out = []
    for number, text in enumerate(lines, start=1):
        step = parse_line(number, text)
        assert step is not None
        step = replace(step, paths=tuple(str(tmp_path / p) for p in step.paths))
        played = play(state, step, rng, load_manifests)
        state = played.world
        out.append((state, list(played.notes)))
    return out


@pytest.mark.parametrize("lines", [
    # c4's leftover: the patched policy is in neither the last apply nor the manifest, so it stays
    ["apply -f node_port.yaml", LOCAL, "apply -f node_port.yaml"],
    # a port and a label the last apply wrote and this one leaves out go; the port a patch added stays
    ["apply -f two_ports.yaml", ADD_PORT, "apply -f one_port.yaml"],
    # a port only the live object has keeps its place before the manifest's (mergeSortedSlice), reordered ones
    # take the manifest's order
    ["apply -f two_ports.yaml", FIRST_PORT, "apply -f one_port.yaml"],
    ["apply -f two_ports.yaml", FIRST_PORT, "apply -f swapped.yaml"],
    # a change of what the model does not hold changes the last-applied annotation: configured
    ["apply -f node_port.yaml", "apply -f annotated.yaml"],
    # a field the model does not act on, left out after the last apply wrote it: kubectl's patch deletes it
    ["apply -f single.yaml", "apply -f node_port.yaml"],
    # a namespace the last apply named and this one leaves to the context is no deletion (kubectl sets it)
    ["apply -f namespaced.yaml", "apply -f node_port.yaml"],
    # a type left out goes back to the default, and the node port with it (dropTypeDependentFields)
    ["apply -f node_port.yaml", LOCAL, "apply -f cluster_ip.yaml"],
    # expose's Service has no last-applied-configuration: nothing is deleted (its labels stay), warned of
    ["expose deployment/web --port=80 --target-port=8080", "apply -f two_ports.yaml"],
])
def test_apply_over_a_live_service_is_kubectls_three_way_merge(lines: list[str], tmp_path: Path,
                                                               stand_in: tuple[int, _StandIn]) -> None:
    port, state = stand_in
    steps = _played(tmp_path, lines)
    annotation: str | None = None
    before: Service | None = None
    for line, (world, notes) in zip(lines, steps, strict=True):
        if before is not None:
            state.held = KP.service_document(before)
            if annotation is not None:
                state.held["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: annotation}
        state.patches.clear()
        if line.startswith("expose"):  # (made as expose makes it: no last-applied-configuration)
            before = world.service("default", "web")
            continue
        code, said = _kubectl(tmp_path, port, ["apply", "--validate=false", "-f", str(tmp_path / line.split()[-1])]
                              if line.startswith("apply") else shlex.split(line))
        assert code == 0, said
        after = world.service("default", "web")
        assert after is not None
        if line.startswith("apply"):
            assert notes == said, line
        if state.posted:
            annotation = _last_applied(state.posted.pop())
        if state.patches and before is not None:
            body = state.patches[-1]
            if line.startswith("apply"):
                annotation = _last_applied(body) or annotation
                body = _without_last_applied(body)
            order = body.get("spec", {}).get("$setElementOrder/ports") if isinstance(body, dict) else None
            theirs, _, _ = KP.patched_service(before, "json" if "--type json" in line else "strategic", body,
                                              ordered_as=None if order is None else {"spec": {"ports": order}})
            assert _unallocated(after) == _unallocated(theirs), line
        before = after
    assert before is not None
    if lines[1] == LOCAL and lines[2] == "apply -f node_port.yaml":
        assert before.external_traffic_policy.value == "Local"
    if lines[1] == FIRST_PORT:  # (the stand-in orders by the model's own reading of $setElementOrder: pinned here)
        assert [p.port for p in before.ports] == ([9090, 80] if lines[2].endswith("one_port.yaml") else [9090, 443, 80])


DUMPED = """apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"web","namespace":"default"},\
"spec":{"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"web"},"type":"NodePort"}}
spec:
  clusterIP: 10.96.10.10
  clusterIPs: [10.96.10.10]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  internalTrafficPolicy: Cluster
  externalTrafficPolicy: Cluster
  sessionAffinity: None
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: 8080, protocol: TCP, nodePort: 30080}
"""


@pytest.mark.parametrize("manifest", [NODE_PORT, CLUSTER_IP])
def test_a_service_a_scenario_starts_with_was_last_applied_as_its_annotation_says(
        manifest: str, tmp_path: Path, stand_in: tuple[int, _StandIn], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A Service as ``kubectl get -o yaml`` shows it (the API server's defaults and allocations, the
    last-applied-configuration annotation) to start from: its manifest applied again is unchanged, as kubectl
    1.33 says against a server holding that object, and one leaving the type out is configured to a ClusterIP
    Service keeping its cluster IP, not refused for the fields the annotation never held."""
    port, state = stand_in
    (tmp_path / "start.yaml").write_text(DUMPED)
    (tmp_path / "svc.yaml").write_text(manifest)
    (tmp_path / "script").write_text("apply -f svc.yaml\n")
    state.held = yaml.safe_load(DUMPED)
    _, said = _kubectl(tmp_path, port, ["apply", "--validate=false", "-f", str(tmp_path / "svc.yaml")])
    assert run_cli(["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "start.yaml"), "--show", "rules"],
                   monkeypatch) == 0
    out = capsys.readouterr().out
    assert step_notes(split_steps(out)[-1]) == said
    assert ("service/web unchanged" if manifest == NODE_PORT else "service/web configured") in said
    assert "-d 10.96.10.10 --dport 80" in out
