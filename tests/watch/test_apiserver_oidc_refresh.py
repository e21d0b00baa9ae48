"""watch --kubeconfig: an oidc auth-provider's id-token refreshed when and as client-go's oidc provider refreshes it.

client-go (plugin/pkg/client/auth/oidc/oidc.go) looks at the id-token at each request (idToken): valid while now plus
expiryDelta (10 s) is before its exp, else refreshed with the refresh-token, the new tokens persisted to the
kubeconfig and then kept in memory; a refresh that fails fails the request. The refresh is discovery at the
idp-issuer-url, then oauth2's refresh-token grant at the token endpoint it names, both over TLS verified against
idp-certificate-authority(-data) or the system's roots. The Python client's own exchange, which the watch used
until this file's security tests, did not verify the identity provider when no CA was given (verify_ssl=False),
so whatever answered at the issuer's address was talked to and could name the token endpoint the refresh-token and
client secret went to. These tests stand a real identity provider on loopback (tests/watch/_idp.py).
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource, oidc_token_fresh
from kubeproxy_sim.watch.oidc import NO_ID_TOKEN, OidcRefreshFailed, go_quote, go_std_b64decode, refreshed_config

from ._fake_apiserver import FakeApiServer
from ._idp import OTHER_CERT, OTHER_KEY, IdentityProvider, Seen, jwt
from ._kubeconfigs import TEST_CERT, TEST_KEY, with_user
from .conftest import Mirror
from .test_apiserver_exec_expiry import Clock

pytest.importorskip("kubernetes")

START = 4_000_000_000.0  # (the injected wall clock; the real one is not asked)
TRUSTED = {"idp-certificate-authority-data": base64.b64encode(TEST_CERT.encode()).decode()}
UNVERIFIED = "tls: failed to verify certificate: x509: certificate signed by unknown authority"


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[IdentityProvider]:
    """The identity provider serving the test certificate, which TRUSTED names as its CA."""
    provider = IdentityProvider(tmp_path, TEST_CERT, TEST_KEY, Clock(START))
    yield provider
    provider.stop()


def _config(idp: IdentityProvider, **extra: Any) -> dict[str, Any]:
    return {"client-id": "kpsim", "client-secret": "s/cret", "idp-issuer-url": idp.issuer, "refresh-token": "first",
            **extra}


def _source(fake: FakeApiServer, tmp_path: Path, idp: IdentityProvider, id_token: str | None,
            ca: dict[str, str] | None = None) -> tuple[ApiServerSource, Path]:
    fake.watch_seconds = 0.05  # (short watches: each one a request that looks at the id-token)
    token = {} if id_token is None else {"id-token": id_token}
    kubeconfig = with_user(fake, tmp_path / "kc", {"auth-provider": {"name": "oidc", "config": _config(
        idp, **token, **(TRUSTED if ca is None else ca))}}, **{"insecure-skip-tls-verify": True})
    assert isinstance(idp.clock, Clock)
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


def _clock(idp: IdentityProvider) -> Clock:
    assert isinstance(idp.clock, Clock)
    return idp.clock


def test_an_id_token_is_refreshed_ten_seconds_before_its_exp(tls_fake, tmp_path: Path, idp: IdentityProvider) -> None:
    first = jwt(START + 600)
    src, kubeconfig = _source(tls_fake, tmp_path, idp, first)
    try:
        seen = Mirror(src)
        _clock(idp).at = START + 589  # (589 + 10 < 600: still valid)
        assert set(_more(tls_fake, seen)) == {f"Bearer {first}"}
        _clock(idp).at = START + 590
        refreshed = f"Bearer {jwt(START + 590 + 3600, 'r1')}"
        seen.until(lambda: refreshed in tls_fake.authorization)
        assert set(_more(tls_fake, seen)) == {refreshed}
    finally:
        src.close(timeout=2)
    assert idp.spent == ["first"]
    assert _written(kubeconfig)["refresh-token"] == "r1"
    assert tls_fake.authorization[tls_fake.authorization.index(refreshed):].count(f"Bearer {first}") == 0
    assert seen.said() == []


@pytest.mark.parametrize("id_token", [None, ""])
def test_a_user_without_an_id_token_gets_one_before_the_first_request(tls_fake, tmp_path: Path, idp: IdentityProvider,
                                                                     id_token: str | None) -> None:
    """client-go refreshes when the config holds no id-token or an empty one (the watch refused the first at
    start, as the Python client needed one, and failed each request for the second: "ID Token is not a valid
    JWT")."""
    src, kubeconfig = _source(tls_fake, tmp_path, idp, id_token)
    try:
        seen = Mirror(src)
        assert set(_more(tls_fake, seen, 2)) == {f"Bearer {jwt(START + 3600, 'r1')}"}
    finally:
        src.close(timeout=2)
    assert idp.spent == ["first"] and _written(kubeconfig)["refresh-token"] == "r1"


def _invalid_grant(idp: IdentityProvider, seen: Seen) -> tuple[int, str, bytes]:
    return 400, "application/json", b'{"error": "invalid_grant", "error_description": "spent"}'


def test_a_failed_refresh_fails_the_request_and_the_next_one_tries_again(tls_fake, tmp_path: Path,
                                                                         idp: IdentityProvider) -> None:
    """client-go sends no request with an expired id-token: the request fails ("failed to refresh token" and
    oauth2's RetrieveError), and the next one refreshes again."""
    first = jwt(START + 600)
    src, _ = _source(tls_fake, tmp_path, idp, first)
    try:
        seen = Mirror(src)
        _more(tls_fake, seen, 2)
        idp.answer = _invalid_grant
        _clock(idp).at = START + 700
        words = 'failed to refresh token: oauth2: "invalid_grant" "spent"'
        seen.until(lambda: any(words in said for said in seen.said()))
        sent = len(tls_fake.authorization)
        from tests.watch._idp import refreshed
        idp.answer = refreshed
        seen.until(lambda: len(tls_fake.authorization) > sent + 1)
    finally:
        src.close(timeout=2)
    assert tls_fake.authorization[sent:] and f"Bearer {first}" not in tls_fake.authorization[sent:]
    assert idp.spent == ["first"]


@pytest.mark.parametrize("case", ["self-signed, no CA given", "not signed by the CA data", "not signed by the CA file"])
def test_an_identity_provider_not_verified_is_refused(tls_fake, tmp_path: Path, case: str) -> None:
    """The refresh-token goes to no identity provider whose certificate is not verified: client-go verifies it
    against the CA given, else the system's roots. The Python client's exchange (before) talked to it without a CA:
    the discovery was read from it, whose token endpoint then gets the refresh-token and client secret."""
    (tmp_path / "ca.crt").write_text(TEST_CERT)
    cert, key, ca = {"self-signed, no CA given": (TEST_CERT, TEST_KEY, {}),
                     "not signed by the CA data": (OTHER_CERT, OTHER_KEY, TRUSTED),
                     "not signed by the CA file": (OTHER_CERT, OTHER_KEY,
                                                   {"idp-certificate-authority": str(tmp_path / "ca.crt")})}[case]
    untrusted = IdentityProvider(tmp_path, cert, key, Clock(START))
    try:
        src, kubeconfig = _source(tls_fake, tmp_path, untrusted, jwt(START - 1), ca)
        try:
            seen = Mirror(src)
            seen.until(lambda: any(UNVERIFIED in said for said in seen.said()))
        finally:
            src.close(timeout=2)
    finally:
        untrusted.stop()
    assert untrusted.seen == []
    assert tls_fake.authorization == []  # (no request went out with the expired id-token)
    url = f"{untrusted.issuer}/.well-known/openid-configuration"
    assert any(f'Get "{url}": {UNVERIFIED} ({kubeconfig}: users[0].user.auth-provider)' in said
               for said in seen.said())
    assert _written(kubeconfig)["refresh-token"] == "first"


def test_the_client_s_own_exchange_never_runs(tls_fake, tmp_path: Path, idp: IdentityProvider, monkeypatch) -> None:
    """connect(), which refreshes an expired id-token as it builds the client, does client-go's exchange; the Python
    client's _refresh_oidc (unverified without a CA) is not called."""
    from kubernetes.config.kube_config import KubeConfigLoader

    from kubeproxy_sim.watch.apiserver import connect

    def refused(*_: Any) -> None:
        raise AssertionError("the Python client's own oidc refresh ran")

    monkeypatch.setattr(KubeConfigLoader, "_refresh_oidc", refused)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"auth-provider": {"name": "oidc", "config": _config(
        idp, **{"id-token": jwt(1.0), **TRUSTED})}}, **{"insecure-skip-tls-verify": True})
    client = connect(str(kubeconfig))
    settings = client.configuration.auth_settings()
    assert [s["value"] for s in settings.values()] == [f"Bearer {jwt(START + 3600, 'r1')}"]
    assert _written(kubeconfig)["refresh-token"] == "r1"
    assert [seen.method for seen in idp.seen] == ["GET", "POST"]


def test_the_grant_is_oauth2_s(idp: IdentityProvider) -> None:
    """grant_type=refresh_token and the refresh-token in the form, no scope (client-go sends none, extra-scopes or
    not), the client id and secret URL-escaped in a Basic header (oauth2's AuthStyleInHeader, tried first)."""
    new = refreshed_config(_config(idp, **TRUSTED, **{"id-token": "x", "extra-scopes": "groups,email"}))
    (post,) = idp.posts()
    assert post.path == "/token"
    assert post.form == {"grant_type": ["refresh_token"], "refresh_token": ["first"]}
    assert post.authorization == "Basic " + base64.b64encode(b"kpsim:s%2Fcret").decode()
    assert new["id-token"] == jwt(START + 3600, "r1") and new["refresh-token"] == "r1"
    assert new["extra-scopes"] == "groups,email"


def test_credentials_go_in_the_form_when_the_header_is_refused(idp: IdentityProvider) -> None:
    """oauth2's auto-detection: any failure of the Basic-header request, and it is sent again with client_id and
    client_secret in the form (each only when not empty), without the header."""
    def header_refused(idp: IdentityProvider, seen: Seen) -> tuple[int, str, bytes]:
        if seen.authorization is not None:
            return 401, "application/json", b'{"error": "invalid_client"}'
        from tests.watch._idp import refreshed
        return refreshed(idp, seen)

    idp.answer = header_refused
    refreshed_config(_config(idp, **TRUSTED, **{"client-secret": ""}))
    first, second = idp.posts()
    assert first.authorization == "Basic " + base64.b64encode(b"kpsim:").decode()
    assert second.authorization is None
    assert second.form == {"client_id": ["kpsim"], "grant_type": ["refresh_token"], "refresh_token": ["first"]}


def _answer(status: int, content_type: str, body: bytes) -> Any:
    return lambda idp, seen: (status, content_type, body)


@pytest.mark.parametrize(("answer", "words"), [
    (_answer(200, "application/json", b'{"access_token": "a", "refresh_token": "r"}'), NO_ID_TOKEN),
    (_answer(200, "application/json", b'{"access_token": "a", "id_token": 5}'), NO_ID_TOKEN),
    (_answer(200, "application/x-www-form-urlencoded", b"access_token=a&id_token=12"), NO_ID_TOKEN),
    (_answer(200, "application/json", b'{"id_token": "x.y.z"}'),
     "failed to refresh token: oauth2: server response missing access_token"),
    (_answer(500, "text/html", b"<html>down</html>"),
     "failed to refresh token: oauth2: cannot fetch token: 500 Internal Server Error\nResponse: <html>down</html>"),
])
def test_token_answers_refused_in_client_go_s_words(idp: IdentityProvider, answer: Any, words: str) -> None:
    idp.answer = answer
    with pytest.raises(OidcRefreshFailed) as refused:
        refreshed_config(_config(idp, **TRUSTED))
    assert str(refused.value) == words


def test_a_form_answer_and_an_unrotated_refresh_token(idp: IdentityProvider) -> None:
    """A form-encoded answer is read as oauth2 reads it; a refresh-token answered as sent, or none, keeps it."""
    idp.answer = _answer(200, "text/plain", b"access_token=a&id_token=h.p.s")
    assert refreshed_config(_config(idp, **TRUSTED)) == {**_config(idp, **TRUSTED), "id-token": "h.p.s"}


@pytest.mark.parametrize(("discovery", "words"), [
    ((404, b"not here"), 'oidc: failed to query metadata endpoint 404 Not Found: "not here"'),
    ((503, b"x" * 81), f'oidc: failed to query metadata endpoint 503 Service Unavailable: "{"x" * 80}..."'),
    ((200, b'{"issuer": "i"}'), "oidc: discovery object doesn't contain a token_endpoint"),
    ((200, b'{"token_endpoint": 1}'), "oidc: failed to decode provider discovery object: json: cannot unmarshal "
                                      "number into Go struct field .token_endpoint of type string"),
])
def test_discovery_refused_in_client_go_s_words(idp: IdentityProvider, discovery: tuple[int, bytes],
                                                words: str) -> None:
    """tokenEndpoint's errors are not wrapped in "failed to refresh token", and nothing is POSTed."""
    idp.discovery = discovery
    with pytest.raises(OidcRefreshFailed) as refused:
        refreshed_config(_config(idp, **TRUSTED))
    assert str(refused.value) == words
    assert idp.posts() == []


@pytest.mark.parametrize(("config", "words"), [
    ({"idp-issuer-url": ""}, "Must provide idp-issuer-url"),
    ({"client-id": ""}, "Must provide client-id"),
    ({"refresh-token": ""}, "No valid id-token, and cannot refresh without refresh-token"),
    ({"idp-certificate-authority-data": "not*base64"}, "illegal base64 data at input byte 3"),
    ({"idp-certificate-authority-data": "", "idp-certificate-authority": "/nonexistent/ca.crt"},
     "open /nonexistent/ca.crt: no such file or directory"),
])
def test_a_config_client_go_cannot_refresh_with(idp: IdentityProvider, config: dict[str, str], words: str) -> None:
    with pytest.raises(OidcRefreshFailed) as refused:
        refreshed_config({**_config(idp, **TRUSTED), **config})
    assert str(refused.value) == words
    assert idp.seen == []


@pytest.mark.parametrize(("config", "words"), [
    ({"idp-issuer-url": ""}, "users[0].user.auth-provider.config.idp-issuer-url: Must provide idp-issuer-url"),
    ({"client-id": None}, "users[0].user.auth-provider.config.client-id: Must provide client-id"),
    ({"idp-certificate-authority-data": "x"},
     "users[0].user.auth-provider.config.idp-certificate-authority-data: illegal base64 data at input byte 1"),
    ({"idp-certificate-authority-data": "", "idp-certificate-authority": "/nonexistent/ca.crt"},
     "users[0].user.auth-provider.config.idp-certificate-authority: open /nonexistent/ca.crt: no such file or "
     "directory"),
])
def test_a_provider_client_go_cannot_build_is_refused_at_start(tls_fake, tmp_path: Path, idp: IdentityProvider,
                                                               config: dict[str, Any], words: str) -> None:
    """client-go's newOIDCAuthProvider fails as the client is built, a fresh id-token or not (kubectl fails each
    command with it): the watch refuses such a kubeconfig at start, by the key's path."""
    from kubeproxy_sim.errors import InputError

    given = {key: value for key, value in {**_config(idp, **TRUSTED), **config}.items() if value is not None}
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"auth-provider": {"name": "oidc", "config": {
        **given, "id-token": jwt(START + 3600)}}}, **{"insecure-skip-tls-verify": True})
    with pytest.raises(InputError) as refused:
        ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], now=_clock(idp))
    assert [str(d) for d in refused.value.diagnostics] == [
        f"{kubeconfig}: {words}; expected the oidc auth-provider config kubectl takes"]
    assert idp.seen == []


def test_an_identity_provider_s_name_is_verified(idp: IdentityProvider) -> None:
    """Its certificate (for 127.0.0.1) signed by the CA given but not for the name dialed (localhost): refused, as
    Go's verification checks the name too (its words: "x509: certificate is valid for 127.0.0.1, not localhost";
    these are OpenSSL's), before anything is sent."""
    with pytest.raises(OidcRefreshFailed, match=r"tls: failed to verify certificate: .*localhost"):
        refreshed_config(_config(idp, **TRUSTED, **{"idp-issuer-url": idp.issuer.replace("127.0.0.1", "localhost")}))
    assert idp.seen == []


def test_a_ca_holding_no_certificate_trusts_nothing(idp: IdentityProvider) -> None:
    """Go's AppendCertsFromPEM skips what it cannot parse; the empty pool verifies no server."""
    with pytest.raises(OidcRefreshFailed, match=UNVERIFIED):
        refreshed_config(_config(idp, **{"idp-certificate-authority-data": base64.b64encode(b"junk").decode()}))
    assert idp.seen == []


@pytest.mark.parametrize(("data", "quoted"), [
    (b"plain", '"plain"'), (b'a"b\\c', '"a\\"b\\\\c"'), (b"\n\t\x00\x7f", '"\\n\\t\\x00\\x7f"'),
    (b"\xff\xc3\xa9", '"\\xffé"'), ("\u200b".encode(), '"\\u200b"')])
def test_go_quote(data: bytes, quoted: str) -> None:
    assert go_quote(data) == quoted


def test_go_base64_is_padded_std() -> None:
    assert go_std_b64decode("aGk=\n") == b"hi"
    with pytest.raises(OidcRefreshFailed, match="input byte 2"):
        go_std_b64decode("aG_k")


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


def test_the_idp_helper_answers_discovery(idp: IdentityProvider) -> None:
    """(The stand-in itself: discovery names its own token endpoint.)"""
    import ssl
    import urllib.request

    context = ssl.create_default_context(cadata=TEST_CERT)
    with urllib.request.urlopen(f"{idp.issuer}/.well-known/openid-configuration", context=context) as answer:
        assert json.loads(answer.read())["token_endpoint"] == f"{idp.issuer}/token"
