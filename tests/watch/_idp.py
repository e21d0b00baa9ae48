"""An OpenID Connect identity provider on loopback, over https, for the oidc refresh tests.

It answers discovery (``/.well-known/openid-configuration``, naming ``/token`` on itself) and the token endpoint's
refresh-token grant: the Nth refresh gives an id-token valid an hour from the clock and rotates the refresh-token to
rN. Every request is recorded (method, path, Authorization header, form), so a test sees what reached it, and
whether anything did: a client that refuses its certificate sends nothing it could read.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# A second self-signed certificate for 127.0.0.1 (openssl req -x509, prime256v1), signed by no CA the tests give:
# the identity provider a client must refuse. Test-only key.
OTHER_CERT = """-----BEGIN CERTIFICATE-----
MIIBmzCCAUKgAwIBAgIUaSGEWzHkzpP7E4s3kTcUiAZ74SswCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPa3BzaW0tb3RoZXItaWRwMCAXDTI2MTIwMTA1NDExM1oYDzIx
MjYxMTA3MDU0MTEzWjAaMRgwFgYDVQQDDA9rcHNpbS1vdGhlci1pZHAwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQabxAqep/S9fTVXqQsJloUord8OVn/2iL38dly
ck6EorzGG6Cu5ymNFHEaTYJ64/ynau43S8LWQuwpnCIowpaLo2QwYjAdBgNVHQ4E
FgQUTUUn0j0Ur2adlXZfz4un+1w7HtYwHwYDVR0jBBgwFoAUTUUn0j0Ur2adlXZf
z4un+1w7HtYwDwYDVR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqG
SM49BAMCA0cAMEQCIGDPdruouFvv0QIa5gBFoh2m89VNWPaXtLrV0UwlkRndAiBf
8PZvWrltPp6oj+6EFr+C0y3LcEDLCziMxTbiZY1wZw==
-----END CERTIFICATE-----
"""
OTHER_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfMQyt+430fHu/O3A
bK9L26nGmzOsPiDrSaeJVHYbv7OhRANCAAQabxAqep/S9fTVXqQsJloUord8OVn/
2iL38dlyck6EorzGG6Cu5ymNFHEaTYJ64/ynau43S8LWQuwpnCIowpaL
-----END PRIVATE KEY-----
"""


def jwt(expiry: float | None, subject: str = "s") -> str:
    """An unsigned JWT (header and signature stand-ins) whose payload holds ``exp`` (unless None) and ``sub``."""
    claims = {"sub": subject} if expiry is None else {"exp": expiry, "sub": subject}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{payload}.c2ln"


@dataclass
class Seen:
    """One request the provider read."""

    method: str
    path: str
    authorization: str | None
    form: dict[str, list[str]] = field(default_factory=dict)


Answer = Callable[["IdentityProvider", Seen], tuple[int, str, bytes]]
"""A token endpoint's answer to a request: status, Content-Type, body."""


def refreshed(idp: IdentityProvider, seen: Seen) -> tuple[int, str, bytes]:
    """The default token answer: a new id-token and refresh-token, JSON."""
    idp.spent.append(seen.form.get("refresh_token", [""])[0])
    n = len(idp.spent)
    body = {"access_token": f"a{n}", "token_type": "Bearer", "expires_in": 3600,
            "id_token": jwt(idp.clock() + 3600, f"r{n}"), "refresh_token": f"r{n}"}
    return 200, "application/json", json.dumps(body).encode()


class IdentityProvider:
    """The https identity provider: ``cert``/``key`` its certificate (PEM text), ``clock`` what its id-tokens'
    exp count from, ``answer`` the token endpoint's answer, ``discovery`` the discovery answer (None: the usual
    one)."""

    def __init__(self, cert_dir: Path, cert: str, key: str, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.answer: Answer = refreshed
        self.discovery: tuple[int, bytes] | None = None
        self.seen: list[Seen] = []
        self.spent: list[str] = []
        (cert_dir / "idp.crt").write_text(cert)
        (cert_dir / "idp.key").write_text(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_dir / "idp.crt", cert_dir / "idp.key")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def issuer(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.method == "POST"]


def _handler(idp: IdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # quiet
            pass

        def handle(self) -> None:
            with contextlib.suppress(ssl.SSLError, ConnectionError):  # (a client that refused the certificate)
                super().handle()

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            idp.seen.append(Seen("GET", self.path, self.headers.get("Authorization")))
            if self.path != "/.well-known/openid-configuration":
                self._send(404, "text/plain", b"404 page not found\n")
            elif idp.discovery is not None:
                self._send(idp.discovery[0], "application/json", idp.discovery[1])
            else:
                self._send(200, "application/json", json.dumps(
                    {"issuer": idp.issuer, "token_endpoint": f"{idp.issuer}/token"}).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            seen = Seen("POST", self.path, self.headers.get("Authorization"), form)
            idp.seen.append(seen)
            self._send(*idp.answer(idp, seen))

    return Handler
