"""watch --kubeconfig: a user's empty ``tokenFile``, refused as the client is built, as client-go refuses it.

clientcmd takes a token file's bytes as the bearer token; with none, client-go's NewBearerAuthWithRefreshRoundTripper
asks its file token source for one as the transport is built, which refuses a file empty once trimmed: kubectl 1.33
(the oracle) said ``error: read empty token from file "..."`` and exited 1 without dialing, an exec plugin beside
the file never run (the file's token set it aside); kube-proxy builds its client at start and stops there. The
watch took the file for no token and synced without an Authorization header (reviewer r3 finding 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch.apiserver import ApiServerSource
from kubeproxy_sim.watch.events import Kind

from ._kubeconfigs import synced, with_user

pytest.importorskip("kubernetes")


def _noting_plugin(tmp_path: Path) -> tuple[dict[str, str], Path]:
    ran = tmp_path / "ran"
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(f"#!/bin/sh\necho ran >> {ran}\necho '{{\"apiVersion\": \"client.authentication.k8s.io/v1\", "
                      "\"kind\": \"ExecCredential\", \"status\": {\"token\": \"from-exec\"}}'\n")
    plugin.chmod(0o755)
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never"}, ran


@pytest.mark.parametrize("beside", ["nothing", "an exec plugin"])
@pytest.mark.parametrize("written", ["absolute", "relative"])
def test_an_empty_token_file_is_refused_at_start_naming_its_field(
        tls_fake, tmp_path: Path, beside: str, written: str) -> None:
    (tmp_path / "empty.tok").write_text("")
    run, ran = _noting_plugin(tmp_path)
    name = str(tmp_path / "empty.tok") if written == "absolute" else "empty.tok"
    user = {"tokenFile": name, **({"exec": run} if beside == "an exec plugin" else {})}
    kubeconfig = with_user(tls_fake, tmp_path / "kc", user, **{"insecure-skip-tls-verify": True})
    with pytest.raises(InputError) as caught:
        ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])
    assert str(caught.value) == (f'{kubeconfig}: users[0].user.tokenFile: "{name}": the file is empty (client-go: '
                                 '"read empty token from file"); expected a file holding the user\'s bearer token')
    assert (tls_fake.requests, ran.exists()) == ([], False)


def test_an_empty_token_file_beside_a_token_is_not_read(tls_fake, tmp_path: Path) -> None:
    """clientcmd takes the token and reads no file: the token source is asked only at requests, and its failure
    there leaves the token as it is."""
    (tmp_path / "empty.tok").write_text("")
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "tok", "tokenFile": str(tmp_path / "empty.tok")},
                           **{"insecure-skip-tls-verify": True})
    seen = synced(kubeconfig, sleep=lambda _: None)
    assert (seen.said(), set(tls_fake.authorization)) == ([], {"Bearer tok"})


def test_an_empty_token_file_is_not_read_for_an_http_server(fake, tmp_path: Path) -> None:
    """client-go takes no credentials for an http:// server (IsConfigTransportTLS), the token file among them."""
    from ._kubeconfigs import populate

    populate(fake)
    (tmp_path / "empty.tok").write_text("")
    seen = synced(with_user(fake, tmp_path / "kc", {"tokenFile": str(tmp_path / "empty.tok")}), sleep=lambda _: None)
    assert (seen.said(), set(fake.authorization)) == ([], {None})
