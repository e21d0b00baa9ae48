"""watch --kubeconfig: a user's client-certificate and client-key files are followed as client-go's dynamicClientCert
follows them (transport/cert_rotation.go, task w1).

client-go reads a file pair (no -data beside: loadTLSFiles sets ReloadTLSFiles) again every 5 minutes
(CertCallbackRefreshDuration, PollImmediateUntil) and at each new connection's handshake (GetClientCertificate); a
pair that differs, compared parsed (certsEqual), replaces the one held and closes every connection, so a long watch
ends and the next request presents the new certificate. The watch kept the first certificate on its connections (a
watch, a kept-alive connection) for good. The watch's clock is injected: no test waits 5 minutes.
"""

from __future__ import annotations

import contextlib
import itertools
import ssl
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import CERT_REFRESH, ApiServerSource, client_cert_pair

from ._kubeconfigs import TEST_CERT, TEST_KEY, tls_server, with_user
from .conftest import Mirror
from .test_apiserver_exec_expiry import ROTATED_CERT, ROTATED_KEY, Clock

pytest.importorskip("kubernetes")


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def _write(tmp_path: Path, cert: str, key: str) -> None:
    (tmp_path / "client.crt").write_text(cert)
    (tmp_path / "client.key").write_text(key)


def _rewrapped(pem: str) -> str:
    """The same PEM block, its base64 in lines of 40 (what X509KeyPair reads is the same DER)."""
    lines = pem.strip().splitlines()
    return "\n".join([lines[0], *textwrap.wrap("".join(lines[1:-1]), 40), lines[-1]]) + "\n"


@pytest.fixture
def mtls(tmp_path: Path):  # type: ignore[no-untyped-def]
    fake = tls_server(tmp_path, require_client_cert=True)
    yield fake
    fake.stop()


def _source(fake, tmp_path: Path, clock: Clock) -> ApiServerSource:  # type: ignore[no-untyped-def]
    """A source on ``fake`` whose user names client.crt and client.key, relative to the kubeconfig's directory."""
    _write(tmp_path, TEST_CERT, TEST_KEY)
    kubeconfig = with_user(fake, tmp_path / "kc", {"client-certificate": "client.crt", "client-key": "client.key"},
                           **{"insecure-skip-tls-verify": True})
    return ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, clock=clock).start()


@contextlib.contextmanager
def _watching(fake, tmp_path: Path) -> Iterator[tuple[ApiServerSource, Mirror, Clock]]:  # type: ignore[no-untyped-def]
    """:func:`_source` on a clock at 1000 s, mirrored, once its Service watch is open; closed on the way out (the
    Mirror stays readable after)."""
    clock = Clock(1000.0)
    src = _source(fake, tmp_path, clock)
    try:
        seen = Mirror(src)
        seen.until(lambda: len(fake.watches("Service")) >= 1)
        yield src, seen, clock
    finally:
        src.close(timeout=2)


def _notes(seen: Mirror) -> list[str]:
    return [d.message for d in seen.diagnostics if d.severity is Severity.NOTE]


def test_a_rotated_pair_closes_the_watch_after_five_minutes(mtls, tmp_path: Path) -> None:
    with _watching(mtls, tmp_path) as (src, seen, clock):
        _write(tmp_path, ROTATED_CERT, ROTATED_KEY)
        clock.at += CERT_REFRESH - 1
        seen.fold(src.poll(0.2))
        assert set(mtls.client_certs) == {_der(TEST_CERT)} and len(mtls.watches("Service")) == 1  # (not yet)
        clock.at += 1
        seen.until(lambda: _der(ROTATED_CERT) in mtls.client_certs and len(mtls.watches("Service")) >= 2)
    first = mtls.client_certs.index(_der(ROTATED_CERT))
    assert set(mtls.client_certs[:first]) == {_der(TEST_CERT)} and set(mtls.client_certs[first:]) == {
        _der(ROTATED_CERT)}
    assert _notes(seen) == ["the client certificate changed: every connection to the server closed, to present the "
                            "new one, as client-go does"]
    assert [d.field for d in seen.diagnostics if d.severity is Severity.NOTE] == ["users[0].user.client-certificate"]
    assert seen.said() == []


def test_the_same_pair_written_anew_closes_nothing(mtls, tmp_path: Path) -> None:
    """certsEqual compares the certificates and key, not the files' text."""
    with _watching(mtls, tmp_path) as (src, seen, clock):
        _write(tmp_path, _rewrapped(TEST_CERT), "junk before the block\n" + TEST_KEY)
        for _ in range(3):
            clock.at += CERT_REFRESH
            seen.fold(src.poll(0.1))
        watches = len(mtls.watches("Service"))
    assert watches == 1 and _notes(seen) == [] and seen.said() == []


def test_a_pair_half_written_is_not_taken_until_it_is_whole(mtls, tmp_path: Path) -> None:
    """A new certificate beside the old key fails X509KeyPair: the pair held is kept, and the next look (client-go
    retries at once) takes the whole new pair."""
    with _watching(mtls, tmp_path) as (src, seen, clock):
        (tmp_path / "client.crt").write_text(ROTATED_CERT)
        clock.at += CERT_REFRESH
        seen.fold(src.poll(0.2))
        assert len(mtls.watches("Service")) == 1 and _notes(seen) == []
        (tmp_path / "client.key").write_text(ROTATED_KEY)
        clock.at += 1  # (not five minutes: the failed look is retried)
        seen.until(lambda: _der(ROTATED_CERT) in mtls.client_certs)
    assert len(_notes(seen)) == 1 and seen.said() == []


def test_a_new_connection_looks_at_the_files(mtls, tmp_path: Path) -> None:
    """A connection dropped by the server: the next one's handshake finds the new pair, before five minutes, and
    closes every other connection (GetClientCertificate is loadClientCert)."""
    with _watching(mtls, tmp_path) as (_, seen, clock):
        _write(tmp_path, ROTATED_CERT, ROTATED_KEY)
        clock.at += 2  # (a watch of more than a second: watched again at once, no "very short watch")
        mtls.inject("Service", "drop", b"")
        seen.until(lambda: _der(ROTATED_CERT) in mtls.client_certs)
    assert len(_notes(seen)) == 1 and seen.said() == []


@pytest.mark.parametrize(("cert", "key", "same"), [
    (TEST_CERT, TEST_KEY, True),
    (_rewrapped(TEST_CERT), TEST_KEY.replace("\n", "\r\n"), True),
    (TEST_CERT + "-----BEGIN X-----\nAAAA\n-----END X-----\n", TEST_KEY, True),  # (other blocks skipped)
    (ROTATED_CERT, ROTATED_KEY, False),
])
def test_the_pair_is_compared_as_certs_equal_compares_it(tmp_path: Path, cert: str, key: str, same: bool) -> None:
    _write(tmp_path, TEST_CERT, TEST_KEY)
    held = client_cert_pair(str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
    _write(tmp_path, cert, key)
    assert held is not None and (client_cert_pair(str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
                                 == held) is same


@pytest.mark.parametrize(("cert", "key"), [
    (ROTATED_CERT, TEST_KEY),  # (not the certificate's key)
    (TEST_KEY, TEST_KEY),  # (no CERTIFICATE block)
    (TEST_CERT, TEST_CERT),  # (no PRIVATE KEY block)
    (TEST_CERT, None),  # (no file)
])
def test_a_pair_x509_key_pair_refuses_is_none(tmp_path: Path, cert: str, key: str | None) -> None:
    (tmp_path / "client.crt").write_text(cert)
    if key is not None:
        (tmp_path / "client.key").write_text(key)
    assert client_cert_pair(str(tmp_path / "client.crt"), str(tmp_path / "client.key")) is None


def test_only_a_file_pair_of_an_https_server_is_followed(mtls, tmp_path: Path) -> None:
    """-data beside the files, or data alone: client-go's static certificate (ReloadTLSFiles unset)."""
    _write(tmp_path, TEST_CERT, TEST_KEY)
    import base64

    data = base64.b64encode(TEST_KEY.encode()).decode()
    kubeconfig = with_user(mtls, tmp_path / "kc", {"client-certificate": "client.crt", "client-key-data": data},
                           **{"insecure-skip-tls-verify": True})
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], clock=itertools.count().__next__)
    try:
        assert src._cert_files is None
    finally:
        src.close()
