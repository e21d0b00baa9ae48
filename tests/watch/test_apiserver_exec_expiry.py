"""watch --kubeconfig: an exec plugin's credentials followed as client-go's exec authenticator follows them.

client-go (plugin/pkg/client/auth/exec/exec.go) keeps the ExecCredential a plugin gave until the wall clock is
strictly after its ``status.expirationTimestamp`` (credsExpired: no early margin), then runs the plugin again for the
next request; a run that fails then fails the request ("getting credentials: ...") and the next request runs it
again. A 401 runs it again at once (maybeRefreshCreds), unless the credentials the refused request carried were
replaced meanwhile; a failing run there is logged ("refreshing credentials: ...") and the old credentials are kept.
New client certificates close every connection the authenticator dialed. The watch ran the plugin through the Python
client, which ran it again at each request within five minutes of the timestamp (by its own clock), re-read the
kubeconfig after a 401 at most once every two seconds, failed each request after a failing refresh, and never
presented a rotated client certificate.
"""

from __future__ import annotations

import calendar
import itertools
import json
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._fake_apiserver import FakeApiServer
from ._kubeconfigs import TEST_CERT, TEST_KEY, tls_server, with_user
from .conftest import Mirror

pytest.importorskip("kubernetes")

EXPIRY = "2030-01-01T00:00:00Z"
AT_EXPIRY = float(calendar.timegm(time.strptime(EXPIRY, "%Y-%m-%dT%H:%M:%SZ")))

# A second client certificate the test certificate (a CA) signed (openssl req + x509 -CA, prime256v1); test-only key.
ROTATED_CERT = """-----BEGIN CERTIFICATE-----
MIIBFjCBvQIBAjAKBggqhkjOPQQDAjAVMRMwEQYDVQQDDAprcHNpbS10ZXN0MCAX
DTI2MTIwMTA0MTIyMloYDzIxMjYxMTA3MDQxMjIyWjAYMRYwFAYDVQQDDA1rcHNp
bS1yb3RhdGVkMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUn4HZUbkchihrOjK
x+JWm1hXHV3EtdEakGLmej+6xl+BuzcltR/Mjnsf5ZY9h7f/XChuUvFgFvJ3gIYD
AKfOyjAKBggqhkjOPQQDAgNIADBFAiB5XcZ39kLgJmUE3w4Qkrm3PKrGFW2OSB2v
fUNtvQrLJAIhAI4it1IOBR9EOnhy/HmURhU6W00GApDNjvK5h8XeirL3
-----END CERTIFICATE-----
"""
ROTATED_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0CXB44KqocLQXd8W
Fik1julzP8nBgoglrfgdUz90NOOhRANCAARSfgdlRuRyGKGs6MrH4labWFcdXcS1
0RqQYuZ6P7rGX4G7NyW1H8yOex/llj2Ht/9cKG5S8WAW8neAhgMAp87K
-----END PRIVATE KEY-----
"""

_PLUGIN = """import json, pathlib, sys
plan = json.loads(pathlib.Path(sys.argv[1]).read_text())
runs = pathlib.Path(sys.argv[2])
n = len(runs.read_text().splitlines()) + 1 if runs.exists() else 1
with runs.open("a") as out:
    out.write("ran\\n")
if plan.get("fail"):
    sys.stderr.write("token service down")
    sys.exit(1)
status = {key: value for key, value in plan.items() if key in ("clientCertificateData", "clientKeyData")}
if not status:
    status["token"] = f"t{n}"
if plan.get("expiry"):
    status["expirationTimestamp"] = plan["expiry"]
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}))
"""


class Plugin:
    """An exec plugin handing out ``t<N>`` on its Nth run (or the client certificate of its plan), with the plan's
    expirationTimestamp; it fails while the plan says so."""

    def __init__(self, tmp_path: Path, **plan: Any) -> None:
        self.plan_file, self.runs_file = tmp_path / "plan.json", tmp_path / "runs"
        self.plan(**plan)
        self.entry = {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                      "args": ["-c", _PLUGIN, str(self.plan_file), str(self.runs_file)], "interactiveMode": "Never"}

    def plan(self, **plan: Any) -> None:
        self.plan_file.write_text(json.dumps(plan))

    @property
    def runs(self) -> int:
        return len(self.runs_file.read_text().splitlines()) if self.runs_file.exists() else 0


class Clock:
    """The injected wall clock, moved by the test."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def _source(fake: FakeApiServer, tmp_path: Path, plugin: Plugin, **kw: Any) -> ApiServerSource:
    fake.watch_seconds = 0.05  # (short watches: each one a request that asks for the credentials)
    kubeconfig = with_user(fake, tmp_path / "kc", {"exec": plugin.entry}, **{"insecure-skip-tls-verify": True})
    clock = itertools.count(0.0, 10.0).__next__  # (each watch lasts long enough, to the source: none is very short)
    return ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, clock=clock, **kw).start()


def _requests_after(fake: FakeApiServer, count: int) -> int:
    return len(fake.authorization) - count


def test_credentials_are_kept_until_their_expiry_has_passed(tls_fake, tmp_path: Path) -> None:
    """The plugin runs once while the clock is before the timestamp, and at the timestamp itself (client-go's
    After: strictly later); the first request after it runs the plugin again, and its new token is sent."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    clock = Clock(AT_EXPIRY - 60)
    src = _source(tls_fake, tmp_path, plugin, now=clock)
    try:
        seen = Mirror(src)
        seen.until(lambda: len(tls_fake.authorization) >= 4)
        clock.at = AT_EXPIRY
        before = len(tls_fake.authorization)
        seen.until(lambda: _requests_after(tls_fake, before) >= 3)
        assert (set(tls_fake.authorization), plugin.runs) == ({"Bearer t1"}, 1)
        plugin.plan(expiry="2031-01-01T00:00:00Z")
        clock.at = AT_EXPIRY + 1
        seen.until(lambda: "Bearer t2" in tls_fake.authorization)
        before = len(tls_fake.authorization)
        seen.until(lambda: _requests_after(tls_fake, before) >= 3)
    finally:
        src.close(timeout=2)
    assert plugin.runs == 2
    assert tls_fake.authorization[-3:] == ["Bearer t2"] * 3
    assert seen.said() == []


def test_a_token_minutes_from_expiry_is_not_run_again_at_each_request(tls_fake, tmp_path: Path) -> None:
    """The Python client ran the plugin again for every request within five minutes of the timestamp (by the real
    clock, here): an EKS token (15 minutes) was fetched anew for each watch during its last third."""
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    plugin = Plugin(tmp_path, expiry=expiry)
    src = _source(tls_fake, tmp_path, plugin)
    try:
        Mirror(src).until(lambda: len(tls_fake.authorization) >= 4)
    finally:
        src.close(timeout=2)
    assert (set(tls_fake.authorization), plugin.runs) == ({"Bearer t1"}, 1)


def test_credentials_expired_when_given_serve_the_request_they_were_fetched_for(tls_fake, tmp_path: Path) -> None:
    """client-go runs the plugin for the first request and sends what it gave, whatever its timestamp; each later
    request finds them expired and runs it again (kubectl 1.33 against this fake: one request, one run, t1). The
    watch ran the plugin twice before its first request (once building the client, once for the request)."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    src = _source(tls_fake, tmp_path, plugin, now=Clock(AT_EXPIRY + 1))
    try:
        Mirror(src).until(lambda: len(tls_fake.authorization) >= 4)
    finally:
        src.close(timeout=2)
    assert tls_fake.authorization[:4] == ["Bearer t1", "Bearer t2", "Bearer t3", "Bearer t4"]


def test_a_token_without_expiry_is_kept(tls_fake, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path)
    src = _source(tls_fake, tmp_path, plugin, now=Clock(AT_EXPIRY * 2))
    try:
        Mirror(src).until(lambda: len(tls_fake.authorization) >= 4)
    finally:
        src.close(timeout=2)
    assert (set(tls_fake.authorization), plugin.runs) == ({"Bearer t1"}, 1)


def test_a_failing_run_at_expiry_fails_each_request_until_it_works(tls_fake, tmp_path: Path) -> None:
    """client-go sends no request with credentials that expired: the run fails the request, and the next request
    runs the plugin again."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    clock = Clock(AT_EXPIRY - 60)
    src = _source(tls_fake, tmp_path, plugin, now=clock)
    try:
        seen = Mirror(src)
        seen.until(lambda: len(tls_fake.authorization) >= 2)
        plugin.plan(fail=True)
        clock.at = AT_EXPIRY + 1
        seen.until(lambda: plugin.runs >= 4)
        sent = len(tls_fake.authorization)
        seen.until(lambda: plugin.runs >= 6)
        assert len(tls_fake.authorization) == sent  # (at most the request under way when the clock moved)
        plugin.plan(expiry="2031-01-01T00:00:00Z")
        seen.until(lambda: len(tls_fake.authorization) > sent and tls_fake.authorization[-1] != "Bearer t1")
    finally:
        src.close(timeout=2)
    assert "watch" not in tls_fake.requests[sent][1]  # the first request sent again is a list (it was the watch)
    # the watch request failing so is followed by a list, as client-go's reflector lists after any watch request
    # failure but a connection refused or a 429 (it went on with the same watch): the list fails too, said once
    watch_said, list_said = seen.said()
    for what, said in (("watch", watch_said), ("list", list_said)):
        assert said.startswith(f"{tls_fake.url}: warning: {what} failed: getting credentials: exec: executable "
                               f"{sys.executable} failed with exit code 1 (its stderr: token service down) (")
        assert said.endswith(": users[0].user.exec); retrying from a new list with backoff, until it works")
    assert set(tls_fake.authorization) == {"Bearer t1", f"Bearer t{plugin.runs}"}


def test_a_401_runs_the_plugin_again_at_once(tls_fake, tmp_path: Path) -> None:
    """The server stops taking t1 (revoked) long before its timestamp: the refused request runs the plugin, whose
    new token the next request carries (the watch re-read its kubeconfig after a 401 only two seconds after the
    last reading, sending t1 meanwhile)."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    src = _source(tls_fake, tmp_path, plugin, now=Clock(AT_EXPIRY - 3600))
    try:
        seen = Mirror(src)
        seen.until(lambda: len(tls_fake.authorization) >= 2)
        tls_fake.require_authorization = "Bearer t2"
        seen.until(lambda: tls_fake.authorization[-1:] == ["Bearer t2"])
    finally:
        src.close(timeout=2)
    # counted by the server: requests sent before the switch, however many, were taken (it counted those sent
    # with t1 after a length read on this thread, which a thread switch between the two lines made one too many)
    assert tls_fake.refused_authorization == ["Bearer t1"]  # one refusal, then t2 (one reflector: one request)
    assert plugin.runs == 2


def test_a_failing_run_after_a_401_keeps_the_old_credentials(tls_fake, tmp_path: Path) -> None:
    """client-go logs "refreshing credentials: ..." and sends the credentials it has (not expired) with the next
    request, whose 401 runs the plugin again (the watch failed each request with "getting credentials")."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    src = _source(tls_fake, tmp_path, plugin, now=Clock(AT_EXPIRY - 3600))
    try:
        seen = Mirror(src)
        seen.until(lambda: len(tls_fake.authorization) >= 2)
        plugin.plan(fail=True)
        before = len(tls_fake.authorization)
        tls_fake.require_authorization = "Bearer none"
        seen.until(lambda: plugin.runs >= 4)
    finally:
        src.close(timeout=2)
    assert set(tls_fake.authorization) == {"Bearer t1"}
    assert len(tls_fake.authorization) - before >= 3  # (a request, refused, between each two runs)
    refused = [str(d).split(": warning: ", 1)[1] for d in seen.diagnostics if "refreshing" in str(d)]
    assert refused[0].startswith(f"refreshing credentials after HTTP 401: exec: executable {sys.executable} failed "
                                 "with exit code 1 (its stderr: token service down) (")
    assert "getting credentials" not in " ".join(seen.said())


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def test_a_rotated_client_certificate_is_presented_on_new_connections(tmp_path: Path) -> None:
    """A plugin handing out a client certificate: at its expiry the plugin runs again, and the certificate it gives
    now is the one every later connection presents (the client kept the first one's connection pool for good)."""
    fake = tls_server(tmp_path, require_client_cert=True)
    try:
        plugin = Plugin(tmp_path, expiry=EXPIRY, clientCertificateData=TEST_CERT, clientKeyData=TEST_KEY)
        clock = Clock(AT_EXPIRY - 60)
        src = _source(fake, tmp_path, plugin, now=clock)
        try:
            seen = Mirror(src)
            seen.until(lambda: len(fake.client_certs) >= 3)
            plugin.plan(expiry="2031-01-01T00:00:00Z", clientCertificateData=ROTATED_CERT, clientKeyData=ROTATED_KEY)
            clock.at = AT_EXPIRY + 1
            seen.until(lambda: _der(ROTATED_CERT) in fake.client_certs)
            before = len(fake.client_certs)
            seen.until(lambda: len(fake.client_certs) >= before + 3)
        finally:
            src.close(timeout=2)
    finally:
        fake.stop()
    first = fake.client_certs.index(_der(ROTATED_CERT))
    assert set(fake.client_certs[:first]) == {_der(TEST_CERT)}
    assert set(fake.client_certs[first:]) == {_der(ROTATED_CERT)}
    assert (plugin.runs, seen.said()) == (2, [])


def test_a_plugin_run_only_in_the_handshake_runs_again_once_its_credentials_expired(tls_fake, tmp_path: Path) -> None:
    """Beside the URL's user (Basic auth goes out) client-go runs the plugin only from its certificate callback,
    which asks the authenticator for its credentials: kept until they expire, then run again at the next new
    connection (the watch ran it once for good)."""
    import yaml

    plugin = Plugin(tmp_path, expiry=EXPIRY)
    clock = Clock(AT_EXPIRY - 60)
    src = _source(tls_fake, tmp_path, plugin, now=clock)
    src.close()
    config = yaml.safe_load((tmp_path / "kc").read_text())
    config["clusters"][0]["cluster"]["server"] = tls_fake.url.replace("https://", "https://u:secret@")
    (tmp_path / "kc").write_text(yaml.safe_dump(config))
    runs = plugin.runs
    src = ApiServerSource(str(tmp_path / "kc"), kinds=[Kind.SERVICE], sleep=lambda _: None, now=clock,
                          clock=itertools.count(0.0, 10.0).__next__).start()
    try:
        seen = Mirror(src)
        seen.until(lambda: len(tls_fake.watches("Service")) >= 1)
        tls_fake.inject("Service", "drop", b"")  # (a new connection, a new handshake)
        seen.until(lambda: len(tls_fake.watches("Service")) >= 3)
        assert plugin.runs - runs == 1
        clock.at = AT_EXPIRY + 1
        tls_fake.inject("Service", "drop", b"")
        seen.until(lambda: plugin.runs - runs == 2)
    finally:
        src.close(timeout=2)
    assert set(tls_fake.authorization) == {"Basic dTpzZWNyZXQ="}


def test_a_rotated_client_certificate_closes_the_watches_under_way(tmp_path: Path) -> None:
    """client-go closes every connection its exec authenticator dialed when the certificate changes (a token's
    change closes none): the Node watch, long under way, breaks and comes back presenting the new certificate."""
    fake = tls_server(tmp_path, require_client_cert=True)
    try:
        plugin = Plugin(tmp_path, expiry=EXPIRY, clientCertificateData=TEST_CERT, clientKeyData=TEST_KEY)
        clock = Clock(AT_EXPIRY - 60)
        kubeconfig = with_user(fake, tmp_path / "kc", {"exec": plugin.entry}, **{"insecure-skip-tls-verify": True})
        src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE, Kind.NODE], sleep=lambda _: None, now=clock,
                              clock=itertools.count(0.0, 10.0).__next__, watch_timeout=300).start()
        try:
            seen = Mirror(src)
            seen.until(lambda: len(fake.watches("Node")) == 1 and len(fake.watches("Service")) == 1)
            plugin.plan(expiry="2031-01-01T00:00:00Z", clientCertificateData=ROTATED_CERT, clientKeyData=ROTATED_KEY)
            clock.at = AT_EXPIRY + 1
            fake.inject("Service", "drop", b"")  # (the Service watch's next request finds the credentials expired)
            seen.until(lambda: len(fake.watches("Node")) == 2)
        finally:
            src.close(timeout=2)
    finally:
        fake.stop()
    node_requests = [cert for (path, _), cert in zip(fake.requests, fake.client_certs, strict=True)
                     if path == "/api/v1/nodes"]
    assert node_requests[-1] == _der(ROTATED_CERT) and node_requests[0] == _der(TEST_CERT)
    assert plugin.runs == 2


def test_a_failing_run_at_expiry_keeps_the_credentials_held(tls_fake, tmp_path: Path) -> None:
    """client-go's refreshCredsLocked returns its error and leaves cachedCreds as they were: the request fails, and
    no request under way in another thread meanwhile goes out without an Authorization header (the watch took
    the client built without credentials, reviewer r1)."""
    from kubeproxy_sim.watch.apiserver import CredentialsUnavailable

    plugin = Plugin(tmp_path, expiry=EXPIRY)
    clock = Clock(AT_EXPIRY - 60)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": plugin.entry}, **{"insecure-skip-tls-verify": True})
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], now=clock)
    src._check_credentials()  # (the first request's: takes what the plugin gave)
    plugin.plan(fail=True)
    clock.at = AT_EXPIRY + 1
    with pytest.raises(CredentialsUnavailable, match="token service down"):
        src._check_credentials()
    assert src._headers()["Authorization"] == "Bearer t1"
    assert plugin.runs == 2


class _Recording(ApiServerSource):
    """Notes the order in which the attributes a request reads are assigned."""

    assigned: list[str]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_api", "_request_base", "_auth", "_generation", "_exec_credential"):
            self.__dict__.setdefault("assigned", []).append(name)
        super().__setattr__(name, value)


def test_new_credentials_are_taken_after_the_pool_that_presents_them(tls_fake, tmp_path: Path) -> None:
    """A rotated client certificate: the new client's pool (which alone presents it) and its request base are
    taken before the headers' source and the generation, so that a request in another thread that reads the new
    credentials sends them on the new pool (the watch took the credentials first, reviewer r1)."""
    from kubeproxy_sim.watch.apiserver import ExecCredential, connect

    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "t"}, **{"insecure-skip-tls-verify": True})
    src = _Recording(str(kubeconfig), kinds=[Kind.SERVICE])
    src._exec_credential = ExecCredential(None, cert="a")
    src.assigned.clear()
    client = connect(str(kubeconfig))
    src._take(client, ExecCredential(None, cert="b"))
    assert src.assigned == ["_api", "_request_base", "_auth", "_exec_credential", "_generation"]
    assert src._api is client


def test_a_first_client_certificate_is_presented(tmp_path: Path) -> None:
    """The plugin failed as the watch started (no credentials, as a server requiring a client certificate
    closes the handshake), then hands out a certificate: the connections present it (the watch kept the pool
    built without one: only a change from earlier credentials took the new client's)."""
    fake = tls_server(tmp_path, require_client_cert=True)
    try:
        plugin = Plugin(tmp_path, fail=True)
        src = _source(fake, tmp_path, plugin)
        try:
            seen = Mirror(src)
            seen.until(lambda: plugin.runs >= 3)
            plugin.plan(expiry=EXPIRY, clientCertificateData=TEST_CERT, clientKeyData=TEST_KEY)
            seen.until(lambda: len(fake.client_certs) >= 2)
        finally:
            src.close(timeout=2)
    finally:
        fake.stop()
    assert set(fake.client_certs) == {_der(TEST_CERT)}
