"""watch --kubeconfig: which of a user's credentials go to a plain-http server, as client-go decides it.

client-go's ClientConfig merges a user's credentials (token, tokenFile, username/password, auth-provider, exec
plugin, client certificates) only when the server is https (IsConfigTransportTLS); kubectl 1.33, the oracle, sent
no Authorization header to an http:// or scheme-less server for any of them and ran no exec plugin. Session 19's
watch sent a token, a password and an oidc id-token over plain http (only the exec plugin and the token file were
left out). ConfirmUsable still opens a client certificate and its key whatever the scheme.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._kubeconfigs import TEST_CERT, TEST_KEY, synced, tls_server, with_user

pytest.importorskip("kubernetes")


def _jwt(expiry: int) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": expiry}).encode()).decode().rstrip("=")
    return f"e30.{claims}.c2ln"


def _users(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """One user per kind of credential, each one the Python client would send (or run) if it were given it."""
    (tmp_path / "token").write_text("from-a-file\n")
    (tmp_path / "client.crt").write_text(TEST_CERT)
    (tmp_path / "client.key").write_text(TEST_KEY)
    ran = tmp_path / "plugin-ran"
    plugin = (f"open({str(ran)!r}, 'w').close(); import json; print(json.dumps({{'apiVersion': "
              "'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))")
    return {
        "token": {"token": "a-token"},
        "tokenFile": {"tokenFile": str(tmp_path / "token")},
        "basic": {"username": "u", "password": "p"},
        "auth-provider": {"auth-provider": {"name": "oidc", "config": {
            "client-id": "kpsim", "idp-issuer-url": "https://idp.invalid", "id-token": _jwt(4_102_444_800)}}},
        "exec": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                          "args": ["-c", plugin], "interactiveMode": "Never"}},
        "client-certificate": {"client-certificate": str(tmp_path / "client.crt"),
                               "client-key": str(tmp_path / "client.key")},
    }


@pytest.mark.parametrize("scheme", ["http://", ""])
@pytest.mark.parametrize("kind", ["token", "tokenFile", "basic", "auth-provider", "exec", "client-certificate"])
def test_no_credential_goes_to_a_plain_http_server(populated, tmp_path: Path, kind: str, scheme: str) -> None:
    kubeconfig = with_user(populated, tmp_path / "kc", _users(tmp_path)[kind],
                           server=scheme + populated.url.removeprefix("http://"))
    seen = synced(kubeconfig)
    assert seen.keys(Kind.SERVICE) == {"default/s1"}
    assert set(populated.authorization) == {None}
    assert not (tmp_path / "plugin-ran").exists()


@pytest.mark.parametrize("kind", ["token", "tokenFile", "basic", "auth-provider", "exec"])
def test_each_credential_goes_to_an_https_server(tmp_path: Path, kind: str) -> None:
    """The same users give their credentials to an https server (a client certificate is the TLS handshake's)."""
    fake = tls_server(tmp_path)
    try:
        kubeconfig = with_user(fake, tmp_path / "kc", _users(tmp_path)[kind], **{"insecure-skip-tls-verify": True})
        synced(kubeconfig)
    finally:
        fake.stop()
    expected = {"token": "Bearer a-token", "tokenFile": "Bearer from-a-file", "basic": "Basic dTpw",
                "auth-provider": f"Bearer {_jwt(4_102_444_800)}", "exec": "Bearer from-exec"}[kind]
    assert fake.authorization[-1] == expected


def test_a_client_certificate_not_there_is_refused_for_an_http_server_too(populated, tmp_path: Path) -> None:
    """ConfirmUsable opens the files before it asks about TLS (kubectl 1.33: "unable to read client-cert")."""
    kubeconfig = with_user(populated, tmp_path / "kc", {"client-certificate": str(tmp_path / "nowhere.crt"),
                                                  "client-key": str(tmp_path / "client.key")})
    (tmp_path / "client.key").write_text(TEST_KEY)
    with pytest.raises(InputError) as caught:
        ApiServerSource(str(kubeconfig))
    assert [d.field for d in caught.value.diagnostics] == ["users[0].user.client-certificate"]


@pytest.mark.parametrize(("user", "sent"), [
    ({"username": "u"}, "Basic dTo="),  # (kubectl 1.33, the oracle, sent this)
    ({"username": "ü", "password": "p"}, "Basic w7w6cA=="),  # (Go's SetBasicAuth: the string's UTF-8 bytes)
    ({"username": "u", "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/nothere/plugin",
                                "interactiveMode": "Never"}}, "Basic dTo="),
])
def test_a_username_goes_as_basic_auth_without_a_password_too(tls_fake, tmp_path: Path, user: dict[str, Any],
                                                              sent: str) -> None:
    """client-go's basic auth round tripper is installed for a username (HasBasicAuth) and sends it with the
    password it has, "" when none; the Python client sent basic auth only for both, and nothing (or the exec
    plugin's token) for a username alone."""
    synced(with_user(tls_fake, tmp_path / "kc", user, **{"insecure-skip-tls-verify": True}), sleep=lambda _: None)
    assert set(tls_fake.authorization) == {sent}
