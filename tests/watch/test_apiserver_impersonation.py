"""watch --kubeconfig: a user's impersonation (``as``, ``as-uid``, ``as-groups``, ``as-user-extra``) is sent as
client-go sends it, to an http or https server alike.

kubectl 1.33 (the oracle), for this user against http://, sent (sorted, as Go writes them):
Impersonate-Extra-K: c, Impersonate-Extra-Scopes%2fx%25y%20%c3%a9: a and b (two lines), Impersonate-Group: g1 and
g 2 (two lines), Impersonate-Uid: u-1, Impersonate-User: bob. The Python client sent none of them, so the watch
listed as the kubeconfig's own user, with that user's RBAC.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource, impersonation_headers

pytest.importorskip("kubernetes")

USER = {"as": "bob", "as-uid": "u-1", "as-groups": ["g1", "g 2"],
        "as-user-extra": {"Scopes/x%y é": ["a", "b"], "k": ["c"]}}
SENT = [("Impersonate-Extra-K", "c"), ("Impersonate-Extra-Scopes%2fx%25y%20%c3%a9", "a"),
        ("Impersonate-Extra-Scopes%2fx%25y%20%c3%a9", "b"), ("Impersonate-Group", "g1"), ("Impersonate-Group", "g 2"),
        ("Impersonate-Uid", "u-1"), ("Impersonate-User", "bob")]


def _by_name(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Sorted by name only, as Go writes them: the lines of one name keep their order."""
    return sorted(headers, key=lambda header: header[0])


class _Recording(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[list[tuple[str, str]]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Recording

    def do_GET(self) -> None:
        raw = [(key, value.encode("latin-1").decode("utf-8")) for key, value in self.headers.items()]
        self.server.seen.append(raw)
        body = json.dumps({"kind": "ServiceList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                           "items": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def test_the_headers_are_client_go_s() -> None:
    assert _by_name(impersonation_headers(USER)) == SENT
    assert impersonation_headers({"as-groups": ["g"]}) == []  # (ConfirmUsable refuses it before: no user to be)


def test_each_header_line_goes_to_the_server(tmp_path: Path) -> None:
    server = _Recording()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kubeconfig = tmp_path / "kc"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "x",
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": "not-sent-over-http", **USER}}]}))
        src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])
        try:
            src._get(Kind.SERVICE, {}).release_conn()
        finally:
            src.close()
    finally:
        server.shutdown()
        server.server_close()
    (seen,) = server.seen
    assert _by_name([(key, value) for key, value in seen if key.startswith("Impersonate-")]) == SENT
    assert "Authorization" not in dict(seen)
