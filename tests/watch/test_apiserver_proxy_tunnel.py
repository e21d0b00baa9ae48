"""watch --kubeconfig: what a cluster's proxy-url's proxy is sent, as Go's transport sends it.

kubectl 1.33 (the oracle), against a local proxy that noted each request's head: for an https server a tunnel,
``CONNECT :6443 HTTP/1.1`` with ``Host: :6443`` and ``User-Agent: Go-http-client/1.1`` for https://:6443 (net/http's
canonicalAddr of the URL: the host as written, capitals kept, an IPv6 address in brackets), then
``Proxy-Authorization: Basic ...`` of the proxy-url's user; for an http server ``GET http://LOCALHOST:6443/...`` with
``Host: LOCALHOST:6443`` and that Proxy-Authorization. The watch sent ``CONNECT 0.0.0.0:6443 HTTP/1.0`` (the address it
dials), the host in small letters (urllib3's), and never the proxy-url's user.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.watch import Kind

from ._kubeconfigs import port_of, synced, with_user

pytest.importorskip("kubernetes")


class TunnelProxy:
    """An http proxy on loopback that notes each request's head and, for a CONNECT, relays to 127.0.0.1 at the
    port asked for (whatever the host: ``:PORT``, ``LOCALHOST:PORT``, ``[::1]:PORT`` are all this machine here)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            self.heads.append(head)
            if not head.startswith(b"CONNECT "):
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            port = int(head.split(b" ", 2)[1].rsplit(b":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                upstream.sendall(rest)
                threading.Thread(target=_relay, args=(upstream, client), daemon=True).start()
                _relay(client, upstream)

    def close(self) -> None:
        self.listener.close()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy() -> Iterator[TunnelProxy]:
    running = TunnelProxy()
    yield running
    running.close()


@pytest.mark.parametrize(("server", "target"), [
    ("https://:{port}", ":{port}"), ("https://LOCALHOST:{port}", "LOCALHOST:{port}"),
    ("https://127.0.0.1:{port}", "127.0.0.1:{port}"), ("https://::1:{port}", "[::1]:{port}")])
def test_a_tunnel_is_asked_for_as_go_asks(tls_fake, proxy: TunnelProxy, tmp_path: Path, server: str,
                                          target: str) -> None:
    port = port_of(tls_fake)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "t"}, server=server.format(port=port),
                           **{"proxy-url": f"http://127.0.0.1:{proxy.port}", "insecure-skip-tls-verify": True})
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}  # (through the tunnel)
    connect = target.format(port=port).encode()
    assert set(proxy.heads) == {b"CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Go-http-client/1.1" % (connect,
                                                                                                      connect)}
    assert set(tls_fake.host_headers) == {server.format(port=port).removeprefix("https://")}  # (Go's: as written)


def test_a_tunnel_carries_the_proxy_url_s_user(tls_fake, proxy: TunnelProxy, tmp_path: Path) -> None:
    port = port_of(tls_fake)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"token": "t"}, server=f"https://LOCALHOST:{port}", **{
        "proxy-url": f"http://us%40er:p%3Ass@127.0.0.1:{proxy.port}", "insecure-skip-tls-verify": True})
    synced(kubeconfig)
    assert set(proxy.heads) == {b"CONNECT LOCALHOST:%d HTTP/1.1\r\nHost: LOCALHOST:%d\r\nUser-Agent: Go-http-client/1.1"
                                b"\r\nProxy-Authorization: Basic dXNAZXI6cDpzcw==" % (int(port), int(port))}


def test_an_http_proxy_is_sent_the_host_as_written_and_the_proxy_url_s_user(populated, tmp_path: Path) -> None:
    """(The fake answers a request for an absolute URL as the proxy would pass it on.)"""
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server="http://LOCALHOST:6443", **{
        "proxy-url": populated.url.replace("http://", "http://us%40er:p%3Ass@")})
    synced(kubeconfig)
    assert {target.partition("/api/")[0] for target in populated.targets} == {"http://LOCALHOST:6443"}
    assert set(populated.host_headers) == {"LOCALHOST:6443"}
    assert populated.proxy_authorization and set(populated.proxy_authorization) == {"Basic dXNAZXI6cDpzcw=="}


def test_the_tunnel_s_host_is_go_s_alone_when_http_client_set_one(tls_fake, proxy: TunnelProxy) -> None:
    """Python 3.12's set_tunnel puts a Host of its own (the address dialed, in small letters) among the tunnel
    headers; the CONNECT carried it after Go's, two Host lines (reviewer r1: 'Host: 0.0.0.0:6443' second)."""
    import http.client

    from kubeproxy_sim.watch.apiserver import _go_tunnel

    target = f"LOCALHOST:{port_of(tls_fake)}"
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port)
    conn._tunnel_headers = {"Host": f"0.0.0.0:{port_of(tls_fake)}", "Proxy-Authorization": "Basic dXM6cA=="}
    conn.sock = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        _go_tunnel(conn, target)
    finally:
        conn.close()
    assert proxy.heads == [f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: Go-http-client/1.1\r\n"
                           "Proxy-Authorization: Basic dXM6cA==".encode()]
