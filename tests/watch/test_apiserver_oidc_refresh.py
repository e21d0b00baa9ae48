"""watch --kubeconfig: an oidc auth-provider's id-token refreshed when client-go's oidc provider refreshes it.

client-go (plugin/pkg/client/auth/oidc/oidc.go) looks at the id-token at each request (idToken): valid while now plus
expiryDelta (10 s) is before its exp, else refreshed with the refresh-token, the new tokens persisted to the
kubeconfig and then kept in memory; a refresh that fails fails the request. The watch refreshed it only as its
client was built (the Python client's load, five minutes early by its own clock), so a watch outliving its id-token
sent the expired one for ever (helper b11, after a4f1571 removed the 401 re-read).
"""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource, oidc_token_fresh

from ._fake_apiserver import FakeApiServer
from ._kubeconfigs import with_user
from .conftest import Mirror
from .test_apiserver_exec_expiry import Clock

pytest.importorskip("kubernetes")

START = 4_000_000_000.0  # (the injected wall clock; the real one is not asked)


def jwt(expiry: float | None, subject: str = "s") -> str:
    claims = {"sub": subject} if expiry is None else {"exp": expiry, "sub": subject}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{payload}.c2ln"


class IdentityProvider:
    """The Python client's refresh answered as a token endpoint would: the Nth refresh gives an id-token valid
    an hour from the clock, and rotates the refresh-token to rN; ``failing`` gives nothing new (the client's
    refresh returns so when the discovery document is not there)."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.failing = clock, False
        self.spent: list[str] = []

    def refresh(self, loader: Any, provider: Any) -> None:
        if self.failing:
            return
        self.spent.append(provider["config"]["refresh-token"])
        provider["config"].value["id-token"] = jwt(self.clock.at + 3600, f"r{len(self.spent)}")
        provider["config"].value["refresh-token"] = f"r{len(self.spent)}"


@pytest.fixture
def idp(monkeypatch) -> IdentityProvider:
    from kubernetes.config.kube_config import KubeConfigLoader

    provider = IdentityProvider(Clock(START))
    monkeypatch.setattr(KubeConfigLoader, "_refresh_oidc", lambda self, p: provider.refresh(self, p))
    return provider


def _source(fake: FakeApiServer, tmp_path: Path, idp: IdentityProvider, id_token: str) -> tuple[ApiServerSource, Path]:
    fake.watch_seconds = 0.05  # (short watches: each one a request that looks at the id-token)
    kubeconfig = with_user(fake, tmp_path / "kc", {"auth-provider": {"name": "oidc", "config": {
        "client-id": "kpsim", "idp-issuer-url": "https://idp.invalid", "id-token": id_token,
        "refresh-token": "first"}}}, **{"insecure-skip-tls-verify": True})
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, now=idp.clock,
                          clock=itertools.count(0.0, 10.0).__next__)
    return src.start(), kubeconfig


def _written(kubeconfig: Path) -> dict[str, str]:
    import yaml

    return yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["auth-provider"]["config"]


def _more(fake: FakeApiServer, seen: Mirror, count: int = 3) -> list[str | None]:
    before = len(fake.authorization)
    seen.until(lambda: len(fake.authorization) >= before + count)
    return fake.authorization[before:]


def test_an_id_token_is_refreshed_ten_seconds_before_its_exp(tls_fake, tmp_path: Path, idp: IdentityProvider) -> None:
    first = jwt(START + 600)
    src, kubeconfig = _source(tls_fake, tmp_path, idp, first)
    try:
        seen = Mirror(src)
        idp.clock.at = START + 589  # (589 + 10 < 600: still valid)
        assert set(_more(tls_fake, seen)) == {f"Bearer {first}"}
        idp.clock.at = START + 590
        refreshed = f"Bearer {jwt(START + 590 + 3600, 'r1')}"
        seen.until(lambda: refreshed in tls_fake.authorization)
        assert set(_more(tls_fake, seen)) == {refreshed}
    finally:
        src.close(timeout=2)
    assert idp.spent == ["first"]
    assert _written(kubeconfig)["refresh-token"] == "r1"
    assert tls_fake.authorization[tls_fake.authorization.index(refreshed):].count(f"Bearer {first}") == 0
    assert seen.said() == []


def test_a_failed_refresh_fails_the_request_and_the_next_one_tries_again(tls_fake, tmp_path: Path,
                                                                         idp: IdentityProvider) -> None:
    """client-go sends no request with an expired id-token: the request fails ("failed to refresh token"), and
    the next one refreshes again."""
    first = jwt(START + 600)
    src, _ = _source(tls_fake, tmp_path, idp, first)
    try:
        seen = Mirror(src)
        _more(tls_fake, seen, 2)
        idp.failing = True
        idp.clock.at = START + 700
        seen.until(lambda: any("failed to refresh token" in said for said in seen.said()))
        sent = len(tls_fake.authorization)
        idp.failing = False
        seen.until(lambda: len(tls_fake.authorization) > sent + 1)
    finally:
        src.close(timeout=2)
    assert tls_fake.authorization[sent:] and f"Bearer {first}" not in tls_fake.authorization[sent:]
    assert idp.spent == ["first"]


@pytest.mark.parametrize(("token", "now", "fresh"), [
    (jwt(100), 89.5, True), (jwt(100), 90.0, False), (jwt(100.9), 90.0, False), (jwt(None), 0.0, False)])
def test_freshness_is_client_go_s(token: str, now: float, fresh: bool) -> None:
    """now + 10 s strictly before exp, exp read as whole seconds (jsonTime: int64 of a float); none is the zero
    time, always expired."""
    assert oidc_token_fresh(token, now) is fresh


@pytest.mark.parametrize("token", ["a.b", "e30.e30=.c2ln", "e30.!!!!.c2ln"])
def test_a_token_that_is_no_jwt_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        oidc_token_fresh(token, 0.0)
