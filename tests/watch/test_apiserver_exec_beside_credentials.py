"""watch --kubeconfig: an exec plugin beside another credential of the same user, as client-go takes it.

client-go's exec authenticator installs nothing, neither its round tripper nor its certificate callback, when
the transport config already has a bearer token (``token``, ``tokenFile``), a username (basic auth) or a client
certificate and key (UpdateTransportConfig returns early on HasTokenAuth, HasBasicAuth, HasCertAuth): the plugin
is never run, and that credential is what goes out. kubectl 1.33 (the oracle), given a token beside a plugin not
installed, sent ``Bearer tok``. The watch failed each request for the plugin (``getting credentials: exec:
fork/exec ...``), or ran it and sent its token in place of the username and password or beside the certificate
(the Python client's loader runs the plugin before it looks at a username, and whatever the certificate).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._kubeconfigs import TEST_CERT, TEST_KEY, noting_plugin, synced, tls_server, with_user

pytest.importorskip("kubernetes")


NOT_INSTALLED = {"apiVersion": "client.authentication.k8s.io/v1", "command": "/nothere/plugin",
                 "interactiveMode": "Never"}
ALWAYS = {**NOT_INSTALLED, "interactiveMode": "Always"}  # (refused without a terminal, were it installed)


@pytest.mark.parametrize(("credential", "sent"), [
    ({"token": "tok"}, "Bearer tok"),
    ({"tokenFile": "TOKEN_FILE"}, "Bearer from-a-file"),
    ({"username": "u", "password": "p"}, "Basic dTpw"),
])
@pytest.mark.parametrize("plugin", ["noting", "not installed", "always"])
def test_a_token_or_username_beside_an_exec_plugin_is_sent_and_the_plugin_never_run(
        tls_fake, tmp_path: Path, credential: dict[str, str], sent: str, plugin: str) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    credential = {key: str(tmp_path / "token") if value == "TOKEN_FILE" else value
                  for key, value in credential.items()}
    ran = tmp_path / "ran"
    run = {"noting": lambda: noting_plugin(tmp_path)[0], "not installed": lambda: NOT_INSTALLED,
           "always": lambda: ALWAYS}[plugin]()
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {**credential, "exec": run},
                           **{"insecure-skip-tls-verify": True})
    seen = synced(kubeconfig, sleep=lambda _: None)
    assert (set(tls_fake.authorization), seen.said(), ran.exists()) == ({sent}, [], False)


def test_a_client_certificate_beside_an_exec_plugin_is_the_credential_and_the_plugin_never_run(
        tmp_path: Path) -> None:
    """A server asking every client for a certificate (as kube-apiserver with a client CA): the user's own is
    given, and no Authorization header goes out (the Python client also sent the plugin's token)."""
    (tmp_path / "client.crt").write_text(TEST_CERT)
    (tmp_path / "client.key").write_text(TEST_KEY)
    run, ran = noting_plugin(tmp_path)
    mtls = tls_server(tmp_path, require_client_cert=True)
    try:
        kubeconfig = with_user(mtls, tmp_path / "kc", {
            "client-certificate": str(tmp_path / "client.crt"), "client-key": str(tmp_path / "client.key"),
            "exec": run}, **{"insecure-skip-tls-verify": True})
        seen = synced(kubeconfig, sleep=lambda _: None)
    finally:
        mtls.stop()
    assert (set(mtls.authorization), seen.said(), ran.exists()) == ({None}, [], False)


def test_a_password_alone_beside_an_exec_plugin_leaves_the_plugin_installed(tls_fake, tmp_path: Path) -> None:
    """HasBasicAuth looks at the username only: a password without one does not keep the plugin out (its token is
    sent; the Python client would have sent it too)."""
    run, ran = noting_plugin(tmp_path)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"password": "p", "exec": run},
                           **{"insecure-skip-tls-verify": True})
    synced(kubeconfig, sleep=lambda _: None)
    assert set(tls_fake.authorization) == {"Bearer from-exec"} and ran.exists()
