"""The fake API server itself: what it prints when a client goes away."""

from __future__ import annotations

import socket
import ssl

import pytest

from ._fake_apiserver import FakeApiServer


@pytest.mark.parametrize("hang_up", [BrokenPipeError(32, "Broken pipe"),
                                     ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")])
def test_a_client_hanging_up_mid_request_is_not_printed(hang_up: OSError, capsys: pytest.CaptureFixture[str]) -> None:
    """A TLS client that closes its socket without close_notify while the handler writes (as a Ctrl-C'd watch
    does) reaches handle_error as ssl.SSLEOFError, an OSError but no ConnectionError: socketserver printed its
    traceback into the suite's output (seen by hand: a half-sent request line, then the TCP socket closed)."""
    server = FakeApiServer().start()
    try:
        assert server.server is not None
        try:
            raise hang_up
        except OSError:
            with socket.socket() as request:
                server.server.handle_error(request, ("127.0.0.1", 1))
    finally:
        server.stop()
    assert capsys.readouterr().err == ""


def test_any_other_handler_error_is_still_printed(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeApiServer().start()
    try:
        assert server.server is not None
        try:
            raise ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
        except OSError:
            with socket.socket() as request:
                server.server.handle_error(request, ("127.0.0.1", 1))
    finally:
        server.stop()
    assert "WRONG_VERSION_NUMBER" in capsys.readouterr().err
