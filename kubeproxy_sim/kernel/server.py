"""The workload in a pod namespace: answers every TCP and UDP port it was given with who it is.

Run as ``python -m kubeproxy_sim.kernel.server POD PROTO:PORT ...`` by a child that
already entered the pod's namespace. Each port is served on IPv4 and on IPv6 (where
the namespace has IPv6). Each reply is one JSON line: the pod's name, the address
the request came from (after any masquerade) and the address it arrived at (after
DNAT). It prints ``ready`` once every socket is bound, then serves until killed
(with no ports it only waits: the keeper of a cluster left up). ``any:PORT`` is a
catch-all: TCP and UDP on PORT, where the namespace's rules redirect every port, so
the address reported is the one asked for (the conntrack original). ``dns:PORT``
is UDP on PORT that also answers DNS queries (a kube-dns endpoint pod's target port,
see :mod:`.responder`): the cluster's records come as JSON on standard input, and
only then is more than the standard library imported; without it the server starts
fast. ``dnstcp:PORT`` is TCP on PORT that answers DNS over TCP (the target port of
kube-dns's 53/TCP, where a client asks again when the UDP answer was truncated, see
:class:`DnsTcp`); it may differ from the dns:PORT.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import selectors
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeproxy_sim.kernel.responder import Responder

IP_PKTINFO = 8  # Linux's; the socket module has no name for it (the others it names: socket.IP_TOS, ...)
SO_ORIGINAL_DST = 80  # IPv4 (SOL_IP) and IPv6 (SOL_IPV6, IP6T_SO_ORIGINAL_DST): a redirected connection's address
CONNTRACK = "/proc/net/nf_conntrack"
DNS_TCP_WAIT = 1.0  # seconds a connection to a DNS TCP port has to ask before it is answered as a probe's
LENGTH = struct.Struct("!H")  # dnswire.LENGTH (not imported: a server without DNS starts on the standard library)


def _bind(proto: str, port: int, family: socket.AddressFamily) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::", port))
    else:
        sock.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        sock.listen(512)
    elif family == socket.AF_INET6:  # the address a datagram came to, and its traffic class (see _serve_udp)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    sock.setblocking(False)
    return sock


def _sockets(proto: str, port: int) -> list[socket.socket]:
    """The port on IPv4, and on IPv6 unless this namespace has none."""
    socks = [_bind(proto, port, socket.AF_INET)]
    with contextlib.suppress(OSError):
        socks.append(_bind(proto, port, socket.AF_INET6))
    return socks


def _answer(pod: str, peer: tuple, local: tuple, fault: str = "") -> bytes:
    """The JSON line; ``fault``: why the DNS responder could not answer (see :meth:`.Responder.failure`)."""
    said = {"pod": pod, "src": f"{peer[0]}:{peer[1]}", "dst": f"{local[0]}:{local[1]}"}
    return (json.dumps({**said, "fault": fault} if fault else said) + "\n").encode()


def _original(conn: socket.socket) -> tuple:
    """The address a redirected TCP connection was made to; its own address when it was not redirected."""
    local = conn.getsockname()
    try:
        if conn.family == socket.AF_INET6:
            raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
            return socket.inet_ntop(socket.AF_INET6, raw[8:24]), struct.unpack("!H", raw[2:4])[0]
        raw = conn.getsockopt(socket.IPPROTO_IP, SO_ORIGINAL_DST, 16)
        return socket.inet_ntoa(raw[4:8]), struct.unpack("!H", raw[2:4])[0]
    except OSError:
        return local


def _asked_port(peer: tuple, port: int) -> int:
    """The port a redirected datagram from ``peer`` was sent to, from this namespace's conntrack table (no socket
    option tells it for UDP); ``port`` when the table cannot be read."""
    try:
        with open(CONNTRACK) as table:
            lines = table.read().splitlines()
    except OSError:
        return port
    want = (ipaddress.ip_address(peer[0].split("%")[0]), peer[1], port)
    for line in lines:
        words = line.split()
        if len(words) < 3 or words[2] != "udp":
            continue
        values: dict[str, list[str]] = {}
        for word in words:
            key, eq, value = word.partition("=")
            if eq:
                values.setdefault(key, []).append(value)
        # original direction first: src, dst, sport, dport; the reply's sport is the server's own port
        if len(values.get("sport", ())) == 2 and len(values.get("src", ())) == 2 and \
                (ipaddress.ip_address(values["src"][0]), int(values["sport"][0]), int(values["sport"][1])) == want:
            return int(values["dport"][0])
    return port


def _serve_tcp(pod: str, listener: socket.socket, catch_all: bool = False) -> None:
    try:
        conn, peer = listener.accept()
    except OSError:  # nothing pending, or the client gave up before we accepted
        return
    with conn:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            conn.sendall(_answer(pod, peer, _original(conn) if catch_all else conn.getsockname()))


def _serve_udp(pod: str, sock: socket.socket, catch_all: bool = False,
               responder: Responder | None = None) -> None:
    """Answer one datagram with the JSON line, or a DNS query (``responder``: a dns:PORT socket) with its DNS
    answer, the JSON line riding along as the witness (see :mod:`kubeproxy_sim.simulator.dnswire`)."""
    try:  # one in(6)_pktinfo (12 or 20 bytes) and the TOS (one byte) or traffic class (an int)
        payload, ancillary, _, peer = sock.recvmsg(2048, socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4))
    except OSError:  # nothing to read, or an ICMP error queued on the socket
        return
    port = sock.getsockname()[1]
    # an unbound UDP socket does not know the address a datagram was sent to: IP(V6)_PKTINFO tells; the reply
    # leaves from that address (a pool namespace has many; the routing's choice would break the conntrack match).
    # It carries the request's DSCP, as TCP's answers do with tcp_reflect_tos: `netns send` counts a run's
    # packets by it, answers included (see kernel.dscp)
    local, reply = "", []
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            local = socket.inet_ntoa(struct.unpack("4s", data[8:12])[0])
            reply.append((level, kind, struct.pack("=i4s4s", 0, data[8:12], b"\0" * 4)))
        elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 16:
            local = socket.inet_ntop(socket.AF_INET6, data[:16])
            reply.append((level, kind, struct.pack("=16si", data[:16], 0)))
        elif level == socket.IPPROTO_IP and kind == socket.IP_TOS and data:
            reply.append((level, socket.IP_TOS, struct.pack("=i", data[0] & ~3)))
        elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_TCLASS and len(data) >= 4:
            reply.append((level, socket.IPV6_TCLASS, struct.pack("=i", struct.unpack("=i", data[:4])[0] & ~3)))
    if catch_all:
        port = _asked_port(peer, port)
    line = _answer(pod, peer, (local, port))
    dns = None
    if responder is not None:
        try:
            dns = responder.answer(payload, line.decode().strip())
        except Exception as exc:  # a bug: told to the client in the answer (nobody reads this server's stderr)
            fault = f"{type(exc).__name__}: {exc}"
            dns = responder.failure(payload, _answer(pod, peer, (local, port), fault).decode().strip())
    with contextlib.suppress(OSError):
        sock.sendmsg([dns or line], reply, 0, peer)


def _send(conn: socket.socket, data: bytes) -> None:
    """All of ``data`` on a connection the selector holds (non-blocking), waiting for a slow client a while."""
    conn.setblocking(True)
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        conn.sendall(data)


class DnsTcp:
    """A DNS port's TCP side. A DNS client speaks first (a query after its two-byte length) and gets the answer
    the same way; a probe waits for the server to speak, so a connection that has sent nothing within
    DNS_TCP_WAIT gets the JSON line. Connections wait in the server's one selector, so none holds up another."""

    def __init__(self, selector: selectors.BaseSelector, responder: Responder) -> None:
        self.selector = selector
        self.responder = responder
        self.waiting: dict[socket.socket, tuple[float, bytes]] = {}  # connection -> (its deadline, read so far)

    def accept(self, pod: str, listener: socket.socket, catch_all: bool = False) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.setblocking(False)
        self.waiting[conn] = (time.monotonic() + DNS_TCP_WAIT, b"")
        self.selector.register(conn, selectors.EVENT_READ, (self.read, catch_all))

    def read(self, pod: str, conn: socket.socket, catch_all: bool = False) -> None:
        """More of a query; the answer once it is whole (a connection closed before that: dropped)."""
        deadline, data = self.waiting[conn]
        try:
            chunk = conn.recv(65537)
        except OSError:
            chunk = b""
        data += chunk
        if chunk and (len(data) < LENGTH.size or len(data) < LENGTH.size + LENGTH.unpack_from(data)[0]):
            self.waiting[conn] = (deadline, data)
            return
        if chunk:
            query = data[LENGTH.size:LENGTH.size + LENGTH.unpack_from(data)[0]]
            with contextlib.suppress(OSError):  # the client went away
                self._reply(pod, conn, query)
        self._close(conn)

    def _reply(self, pod: str, conn: socket.socket, query: bytes) -> None:
        line = _answer(pod, conn.getpeername(), conn.getsockname())
        try:
            dns = self.responder.answer(query, line.decode().strip(), over_tcp=True)
        except Exception as exc:  # a bug: told to the client, as over UDP
            fault = f"{type(exc).__name__}: {exc}"
            dns = self.responder.failure(query, _answer(pod, conn.getpeername(), conn.getsockname(), fault)
                                         .decode().strip())
        _send(conn, LENGTH.pack(len(dns)) + dns if dns is not None else line)

    def timeout(self) -> float | None:
        """How long the selector may wait before a connection's time to ask is up (None: nobody waits)."""
        return max(min(d for d, _ in self.waiting.values()) - time.monotonic(), 0) if self.waiting else None

    def expire(self, pod: str) -> None:
        """Answer each connection that asked nothing in time with the JSON line (a probe's)."""
        now = time.monotonic()
        for conn in [c for c, (deadline, data) in self.waiting.items() if deadline <= now]:
            if not self.waiting[conn][1]:
                with contextlib.suppress(OSError):  # the client went away
                    _send(conn, _answer(pod, conn.getpeername(), conn.getsockname()))
            self._close(conn)

    def _close(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        del self.waiting[conn]
        conn.close()


def answers_dns(specs: list[str]) -> bool:
    """Whether a server of these specs answers DNS (over UDP or TCP): it reads the records on standard input."""
    return any(spec.startswith(("dns:", "dnstcp:")) for spec in specs)


def _responder(specs: list[str]) -> Responder | None:
    """The DNS responder of a server with a dns:PORT or dnstcp:PORT, from the records on standard input; None
    without one."""
    if not answers_dns(specs):
        return None
    from kubeproxy_sim.kernel.responder import Responder

    return Responder(json.load(sys.stdin))


def serve(pod: str, specs: list[str]) -> None:
    selector = selectors.DefaultSelector()
    responder = _responder(specs)
    dns_tcp = DnsTcp(selector, responder) if responder is not None else None
    for spec in specs:
        proto, port = spec.split(":")
        catch_all = proto == "any"
        for kind in ("tcp", "udp") if catch_all else {"dns": ("udp",), "dnstcp": ("tcp",)}.get(proto, (proto,)):
            handler = _serve_tcp if kind == "tcp" else \
                functools.partial(_serve_udp, responder=responder if proto == "dns" else None)
            if dns_tcp is not None and proto == "dnstcp":
                handler = dns_tcp.accept
            for sock in _sockets(kind, int(port)):
                selector.register(sock, selectors.EVENT_READ, (handler, catch_all))
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    while True:
        step(pod, selector, dns_tcp)


def step(pod: str, selector: selectors.BaseSelector, dns_tcp: DnsTcp | None, longest: float | None = None) -> None:
    """Serve what is ready, waiting for it at most until a DNS TCP connection's time to ask is up (or
    ``longest``)."""
    waits = [w for w in (dns_tcp.timeout() if dns_tcp is not None else None, longest) if w is not None]
    for key, _ in selector.select(min(waits) if waits else None):
        handler, catch_all = key.data
        handler(pod, key.fileobj, catch_all)
    if dns_tcp is not None:
        dns_tcp.expire(pod)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
