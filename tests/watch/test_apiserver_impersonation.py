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


@pytest.mark.parametrize(("user", "field", "value", "header"), [
    ({"as": "al\nice"}, "as", '"al\\nice"', "Impersonate-User"),
    ({"as": "bob", "as-groups": ["g", "g\x7fx"]}, "as-groups[1]", '"g\\x7fx"', "Impersonate-Group"),
    ({"as": "bob", "as-user-extra": {"Scopes/x": ["a", "b\rc"]}}, "as-user-extra.Scopes/x[1]", '"b\\rc"',
     "Impersonate-Extra-Scopes%2fx"),
])
def test_an_impersonation_value_with_a_control_character_is_refused_by_its_field(
        tmp_path: Path, user: dict[str, Any], field: str, value: str, header: str) -> None:
    """Review r3 finding 5 (kubectl 1.33, the oracle): as "al\\nice" fails every request, 'net/http: invalid
    header field value for "Impersonate-User"' (a group with DEL alike; a group "g\\tx" went out). The watch said
    urllib3's "ValueError: Invalid header value b'al\\nice'" per kind and retried."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.watch.apiserver import connect

    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": user}]}))
    with pytest.raises(InputError) as caught:
        connect(str(kubeconfig))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{kubeconfig}: users[0].user.{field}: {value} has a control character, which Go's HTTP client refuses in a "
        f'header, failing every request (net/http: invalid header field value for "{header}"); expected a value '
        "without control characters (a tab is allowed)"]


def test_a_tab_in_an_impersonation_value_is_sent() -> None:
    from kubeproxy_sim.watch.apiserver import _impersonation_problems

    assert _impersonation_problems("kc", "users[0].user", {"as": "a\tb", "as-groups": ["g\tx"]}) == []
