"""A 401 makes the watch read nothing again but the exec plugin's credentials, as client-go: its exec round tripper
is the only one that reacts to a 401 (maybeRefreshCreds); a token, basic auth, a client certificate and an
auth-provider's token stay what the client was built with, the request failing until they are accepted (a follower
retries; kube-proxy, restarted, reads its kubeconfig then). The watch read the kubeconfig again after a 401, at
most every 2 s, and sent what it said then.
"""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._kubeconfigs import TEST_CERT, TEST_KEY, with_user
from .conftest import Mirror

pytest.importorskip("kubernetes")


def _jwt(subject: str) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 4_102_444_800, "sub": subject}).encode()).decode()
    return f"e30.{claims.rstrip('=')}.c2ln"


def _oidc(subject: str) -> dict[str, Any]:
    return {"auth-provider": {"name": "oidc", "config": {"client-id": "kpsim", "idp-issuer-url": "https://idp.invalid",
                                                         "id-token": _jwt(subject)}}}


def _certificate(tmp_path: Path, name: str) -> dict[str, Any]:
    (tmp_path / f"{name}.crt").write_text(TEST_CERT)
    (tmp_path / f"{name}.key").write_text(TEST_KEY)
    return {"client-certificate": str(tmp_path / f"{name}.crt"), "client-key": str(tmp_path / f"{name}.key")}


USERS = {  # the kubeconfig's user, then the one written over it while the server refuses the first
    "token": (lambda _: {"token": "old"}, lambda _: {"token": "new"}, "Bearer old"),
    "basic": (lambda _: {"username": "u", "password": "old"}, lambda _: {"username": "u", "password": "new"},
              "Basic " + base64.b64encode(b"u:old").decode()),
    "client certificate": (lambda p: _certificate(p, "old"), lambda p: {**_certificate(p, "new"), "token": "new"},
                           None),
    "auth-provider": (lambda _: _oidc("old"), lambda _: _oidc("new"), f"Bearer {_jwt('old')}"),
}


@pytest.mark.parametrize("case", list(USERS))
def test_a_401_reads_no_credentials_again(case: str, tls_fake, tmp_path: Path, monkeypatch) -> None:
    first, second, sent = USERS[case]
    kubeconfig = with_user(tls_fake, tmp_path / "kc", first(tmp_path), **{"insecure-skip-tls-verify": True})
    tls_fake.require_authorization = "Bearer the server's"  # every request refused: 401
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None,
                          clock=itertools.count(0.0, 10.0).__next__)
    reads: list[str] = []
    import kubeproxy_sim.watch.apiserver as apiserver

    connected = apiserver._connected

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append("read")
        return connected(*args, **kwargs)

    monkeypatch.setattr(apiserver, "_connected", counted)
    src.start()
    try:
        seen = Mirror(src)
        seen.until(lambda: len(tls_fake.authorization) >= 2)
        with_user(tls_fake, tmp_path / "kc", second(tmp_path), **{"insecure-skip-tls-verify": True})
        before = len(tls_fake.authorization)
        seen.until(lambda: len(tls_fake.authorization) >= before + 5)
    finally:
        src.close(timeout=2)
    assert (reads, set(tls_fake.authorization)) == ([], {sent})
    (said,) = seen.said()
    assert "list failed: HTTP 401 Unauthorized" in said
