"""What the watch takes of an exec plugin's status, as client-go's exec authenticator (refreshCredsLocked): its token
and its client certificate, both when both are given (the token in the Authorization header of requests on
connections presenting the certificate: the watch took the token alone); an empty string is no value; a certificate
without its key is refused in client-go's words, failing each request."""

from __future__ import annotations

import itertools
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._kubeconfigs import TEST_CERT, TEST_KEY, tls_server, with_user
from .conftest import Mirror

pytest.importorskip("kubernetes")


def _plugin(tmp_path: Path, status: dict[str, Any]) -> dict[str, Any]:
    """An exec plugin printing an ExecCredential of ``status``."""
    output = tmp_path / "credential.json"
    output.write_text(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                                  "status": status}))
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "interactiveMode": "Never",
            "args": ["-c", "import sys; print(open(sys.argv[1]).read())", str(output)]}


def _source(fake: Any, tmp_path: Path, status: dict[str, Any]) -> ApiServerSource:
    fake.watch_seconds = 0.05  # (short watches: each one a new request)
    kubeconfig = with_user(fake, tmp_path / "kc", {"exec": _plugin(tmp_path, status)},
                           **{"insecure-skip-tls-verify": True})
    return ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None,
                           clock=itertools.count(0.0, 10.0).__next__).start()


def test_a_token_and_a_client_certificate_are_both_sent(tmp_path: Path) -> None:
    fake = tls_server(tmp_path, require_client_cert=True)
    try:
        src = _source(fake, tmp_path, {"token": "both", "clientCertificateData": TEST_CERT,
                                       "clientKeyData": TEST_KEY})
        try:
            Mirror(src).until(lambda: len(fake.authorization) >= 3)
        finally:
            src.close(timeout=2)
    finally:
        fake.stop()
    assert set(fake.authorization) == {"Bearer both"}
    assert set(fake.client_certs) == {ssl.PEM_cert_to_DER_cert(TEST_CERT)}


def test_an_empty_token_beside_a_client_certificate_is_no_token(tmp_path: Path) -> None:
    fake = tls_server(tmp_path, require_client_cert=True)
    try:
        src = _source(fake, tmp_path, {"token": "", "clientCertificateData": TEST_CERT, "clientKeyData": TEST_KEY})
        try:
            Mirror(src).until(lambda: len(fake.authorization) >= 2)
        finally:
            src.close(timeout=2)
    finally:
        fake.stop()
    assert set(fake.authorization) == {None}


@pytest.mark.parametrize(("status", "said"), [
    ({"token": "t", "clientCertificateData": TEST_CERT}, "exec plugin returned only certificate or key, not both"),
    ({"clientKeyData": TEST_KEY}, "exec plugin returned only certificate or key, not both"),
    ({"token": ""}, "exec plugin didn't return a token or cert/key pair"),
], ids=["token and certificate, no key", "key alone", "empty token"])
def test_a_status_client_go_refuses_fails_each_request(status: dict[str, Any], said: str, tls_fake,
                                                        tmp_path: Path) -> None:
    src = _source(tls_fake, tmp_path, status)
    try:
        seen = Mirror(src)
        seen.until(lambda: len(seen.said()) >= 1)
    finally:
        src.close(timeout=2)
    assert tls_fake.authorization == []  # (never sent: client-go sends no request without the credentials)
    assert said in seen.said()[0], seen.said()
