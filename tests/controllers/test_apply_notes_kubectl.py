"""The scenario's ``apply -f`` lines against kubectl 1.33's own, where the binary is at hand: kubectl applies the
same files to a small stand-in API server (discovery, GET, POST, PATCH; the v1 Endpoints deprecation warning on
every Endpoints request, as the v1.33 API server sends it), and prints, on stdout and stderr together, what the
scenario's step notes say. Skipped without the binary."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ._helpers import play_steps, played_worlds, step_notes

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
pytestmark = pytest.mark.skipif(not KUBECTL.is_file(), reason="kubectl 1.33 is not installed here")

RESOURCES = {
    "/api/v1": [("endpoints", "Endpoints", True), ("services", "Service", True), ("pods", "Pod", True),
                ("nodes", "Node", False)],
    "/apis/apps/v1": [("deployments", "Deployment", True)],
    "/apis/discovery.k8s.io/v1": [("endpointslices", "EndpointSlice", True)],
}
DEPRECATED = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'


def _handler(existing: dict[str, dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    """Discovery of the kinds the scenario applies; an object in ``existing`` (by path) is there, without the
    last-applied-configuration annotation; any other is not found, and created when posted."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _send(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if "/endpoints" in self.path:
                self.send_header("Warning", DEPRECATED)
            self.end_headers()
            self.wfile.write(data)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            if path == "/api":
                return self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
            if path == "/apis":
                return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                    {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                     "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}
                    for g in ("apps", "discovery.k8s.io")]})
            if path in RESOURCES:
                return self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": path.split("/", 2)[2], "resources": [
                                            {"name": r, "singularName": "", "namespaced": namespaced, "kind": k,
                                             "verbs": ["create", "get", "patch"]}
                                            for r, k, namespaced in RESOURCES[path]]})
            if self.command == "GET" and path in existing:
                return self._send(200, existing[path])
            if self.command == "POST":
                return self._send(201, json.loads(sent))
            if self.command == "PATCH" and path in existing:
                existing[path] = _patched(existing[path], json.loads(sent) if sent else {})
                return self._send(200, existing[path])
            return self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                    "code": 404})

        do_GET = do_POST = do_PATCH = _any

    return Handler


SELECTED = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {tier: x}}\n"
            "spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n")
WEB_ENDPOINTS = ("apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n"
                 "subsets: [{addresses: [{ip: 192.0.2.10}], ports: [{port: 8080}]}]\n")


def _patched(live: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``live`` with kubectl's strategic merge patch applied as the API server applies it to the fields of an
    Endpoints: maps merged (null deletes a key), anything else, lists included (subsets has no patch merge key),
    replaced."""
    out = dict(live)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _patched(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def server() -> Iterator[tuple[ThreadingHTTPServer, dict[str, dict[str, Any]]]]:
    existing: dict[str, dict[str, Any]] = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(existing))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd, existing
    finally:
        httpd.shutdown()
        httpd.server_close()


def kubectl_apply(tmp_path: Path, port: int, files: list[str]) -> list[str]:
    """kubectl 1.33's lines (stderr and stdout as they come) for ``apply -f FILE...`` in ``tmp_path``."""
    config = tmp_path / "kubeconfig"
    config.write_text(f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: "
                      f"'http://127.0.0.1:{port}'}}}}]\nusers: [{{name: u, user: {{token: x}}}}]\n"
                      "contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]\n"
                      "current-context: c\n")
    argv = [str(KUBECTL), "--kubeconfig", str(config), "apply", "--validate=false"]
    for file in files:
        argv += ["-f", file]
    done = subprocess.run(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout
    return done.stdout.splitlines()


def scenario_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                   script: str) -> list[str]:
    """The last step's notes of ``script`` (in ``tmp_path``)."""
    return step_notes(play_steps(tmp_path, monkeypatch, capsys, script, "--show", "endpoints")[-1])


def test_the_order_of_files_documents_a_directory_and_a_list_is_kubectls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        server: tuple[ThreadingHTTPServer, dict[str, dict[str, Any]]]) -> None:
    (tmp_path / "ep.yaml").write_text(
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext}\n"
        "subsets: [{addresses: [{ip: 10.244.0.9}], ports: [{port: 8080}]}]\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {ports: [{port: 80, targetPort: 8080}]}\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n---\n"
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Endpoints, metadata: {name: b}}\n"
        "- {apiVersion: v1, kind: Service, metadata: {name: b}, spec: {ports: [{port: 80}]}}\n")
    (tmp_path / "d" / "a.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: z}\n"
                                           "spec: {ports: [{port: 80}]}\n")
    theirs = kubectl_apply(tmp_path, server[0].server_address[1], ["ep.yaml", "d"])
    assert theirs[:3] == ["Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
                          "endpoints/ext created", "service/ext created"]
    assert scenario_notes(tmp_path, monkeypatch, capsys, "apply -f ep.yaml -f d\n") == theirs


def test_the_warning_of_objects_expose_and_create_deployment_made_is_kubectls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        server: tuple[ThreadingHTTPServer, dict[str, dict[str, Any]]]) -> None:
    """A Deployment and a Service there without the annotation, as ``create deployment`` and ``expose`` leave
    them: kubectl warns of each and says configured, in the file's order."""
    httpd, existing = server
    for path, kind, api in (("/apis/apps/v1/namespaces/default/deployments/web", "Deployment", "apps/v1"),
                            ("/api/v1/namespaces/default/services/web", "Service", "v1")):
        existing[path] = {"apiVersion": api, "kind": kind,
                          "metadata": {"name": "web", "namespace": "default", "resourceVersion": "5"}}
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {app: web}}\n"
        "spec: {selector: {app: web}, ports: [{port: 80, protocol: TCP, targetPort: 8080}]}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\n"
        "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n    spec: {containers: [{name: nginx, image: nginx, "
        "ports: [{containerPort: 8080}]}]}\n")
    theirs = kubectl_apply(tmp_path, httpd.server_address[1], ["app.yaml"])
    assert [line.split(" is missing")[0] for line in theirs] == [
        "Warning: resource services/web", "service/web configured", "Warning: resource deployments/web",
        "deployment.apps/web configured"]
    script = "create deployment web --image=nginx --port=8080\nexpose deployment/web --port=80\napply -f app.yaml\n"
    assert scenario_notes(tmp_path, monkeypatch, capsys, script) == theirs


def test_endpoints_applied_over_the_controllers_are_merged_as_kubectl_merges_them(
        tmp_path: Path, server: tuple[ThreadingHTTPServer, dict[str, dict[str, Any]]]) -> None:
    """The endpoints controller's Endpoints of Service web (labelled tier: x, as the Service), applied over with a
    manifest labelled mine (no last-applied-configuration: nothing removed, tier kept), then one labelled other
    (only mine, which the last apply wrote, removed), then one with no labels (the field the last apply wrote is
    gone: kubectl's patch deletes it whole, tier too); the subsets replaced each time. The model stores the same
    labels and addresses."""
    httpd, existing = server
    path = "/api/v1/namespaces/default/endpoints/web"
    existing[path] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
        "name": "web", "namespace": "default", "resourceVersion": "5", "labels": {"tier": "x"}},
        "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 8080}]}]}
    mine = WEB_ENDPOINTS.replace("name: web}", "name: web, labels: {mine: 'yes'}}")
    other = WEB_ENDPOINTS.replace("name: web}", "name: web, labels: {other: z}}")
    for name, text in (("mine", mine), ("other", other), ("ep", WEB_ENDPOINTS)):
        (tmp_path / f"{name}.yaml").write_text(text)
    theirs = []
    for file in ("mine.yaml", "other.yaml", "ep.yaml"):
        kubectl_apply(tmp_path, httpd.server_address[1], [file])
        stored = existing[path]
        theirs.append((tuple(sorted(stored["metadata"].get("labels", {}).items())),
                       [a["ip"] for s in stored["subsets"] for a in s["addresses"]]))
    steps = played_worlds(tmp_path, ["apply -f svc.yaml", "apply -f mine.yaml", "apply -f other.yaml",
                                     "apply -f ep.yaml"], svc=SELECTED)
    ours = [(e.labels, [a.ip for s in e.subsets for a in s.addresses])
            for world, _ in steps[1:] for e in world.endpoints]
    assert theirs == [((("mine", "yes"), ("tier", "x")), ["192.0.2.10"]),
                      ((("other", "z"), ("tier", "x")), ["192.0.2.10"]), ((), ["192.0.2.10"])]
    assert ours == theirs


LABELLED = {"mine": "{mine: 'yes'}", "other": "{other: z}", "empty": "{}", "null": "null"}


@pytest.mark.parametrize("sequence", [("mine", "empty", "ep"), ("mine", "empty", "mine"), ("null",), ("ep", "null"),
                                      ("empty", "ep"), ("null", "ep"), ("mine", "null", "mine"), ("ep", "ep"),
                                      ("empty", "mine", "other")])
def test_endpoints_labels_written_empty_null_or_not_at_all_are_merged_as_kubectl_merges_them(
        tmp_path: Path, server: tuple[ThreadingHTTPServer, dict[str, dict[str, Any]]],
        sequence: tuple[str, ...]) -> None:
    """Endpoints manifests writing labels as a map, as ``{}``, as null or not at all, applied in turn over the
    endpoints controller's (labelled tier: x): kubectl 1.33 patches ``labels: {}`` after {mine: yes} as
    {"labels":{"mine":null}} (tier kept), null as {"labels":null} (the field deleted whole, with or without a
    last apply), and no labels after a last apply that wrote the field, even ``{}`` or null, as {"labels":null}
    too. The model stores the labels the stand-in API server holds after each apply."""
    httpd, existing = server
    path = "/api/v1/namespaces/default/endpoints/web"
    existing[path] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
        "name": "web", "namespace": "default", "resourceVersion": "5", "labels": {"tier": "x"}},
        "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 8080}]}]}
    (tmp_path / "ep.yaml").write_text(WEB_ENDPOINTS)
    for name, labels in LABELLED.items():
        (tmp_path / f"{name}.yaml").write_text(WEB_ENDPOINTS.replace("name: web}", f"name: web, labels: {labels}}}"))
    theirs = []
    for name in sequence:
        kubectl_apply(tmp_path, httpd.server_address[1], [f"{name}.yaml"])
        theirs.append(tuple(sorted((existing[path]["metadata"].get("labels") or {}).items())))
    steps = played_worlds(tmp_path, ["apply -f svc.yaml", *(f"apply -f {name}.yaml" for name in sequence)],
                          svc=SELECTED)
    ours = [e.labels for world, _ in steps[1:] for e in world.endpoints]
    assert ours == theirs
    if sequence == ("mine", "empty", "ep"):
        assert theirs == [(("mine", "yes"), ("tier", "x")), (("tier", "x"),), ()]
