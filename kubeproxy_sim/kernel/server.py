"""The workload in a pod namespace: answers every TCP and UDP port it was given with who it is.

Run as ``python -m kubeproxy_sim.kernel.server POD PROTO:PORT ...`` by a child that
already entered the pod's namespace. Each port is served on IPv4 and on IPv6 (where
the namespace has IPv6). Each reply is one JSON line: the pod's name, the address
the request came from (after any masquerade) and the address it arrived at (after
DNAT). It prints ``ready`` once every socket is bound, then serves until killed
(with no ports it only waits: the keeper of a cluster left up). Standard library
only, so it starts fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import struct
import sys

IP_PKTINFO = 8
IPV6_RECVPKTINFO, IPV6_PKTINFO = 49, 50


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
    elif family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.setblocking(False)
    return sock


def _sockets(proto: str, port: int) -> list[socket.socket]:
    """The port on IPv4, and on IPv6 unless this namespace has none."""
    socks = [_bind(proto, port, socket.AF_INET)]
    with contextlib.suppress(OSError):
        socks.append(_bind(proto, port, socket.AF_INET6))
    return socks


def _answer(pod: str, peer: tuple, local: tuple) -> bytes:
    return (json.dumps({"pod": pod, "src": f"{peer[0]}:{peer[1]}", "dst": f"{local[0]}:{local[1]}"}) + "\n").encode()


def _serve_tcp(pod: str, listener: socket.socket) -> None:
    try:
        conn, peer = listener.accept()
    except OSError:  # nothing pending, or the client gave up before we accepted
        return
    with conn:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            conn.sendall(_answer(pod, peer, conn.getsockname()))


def _serve_udp(pod: str, sock: socket.socket) -> None:
    try:
        _, ancillary, _, peer = sock.recvmsg(2048, socket.CMSG_SPACE(20))
    except OSError:  # nothing to read, or an ICMP error queued on the socket
        return
    # an unbound UDP socket does not know the address a datagram was sent to: IP(V6)_PKTINFO tells; the reply
    # leaves from that address (a pool namespace has many; the routing's choice would break the conntrack match)
    local, reply = "", []
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            local = socket.inet_ntoa(struct.unpack("4s", data[8:12])[0])
            reply = [(level, kind, struct.pack("=i4s4s", 0, data[8:12], b"\0" * 4))]
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(data) >= 16:
            local = socket.inet_ntop(socket.AF_INET6, data[:16])
            reply = [(level, kind, struct.pack("=16si", data[:16], 0))]
    with contextlib.suppress(OSError):
        sock.sendmsg([_answer(pod, peer, (local, sock.getsockname()[1]))], reply, 0, peer)


def serve(pod: str, specs: list[str]) -> None:
    selector = selectors.DefaultSelector()
    for spec in specs:
        proto, port = spec.split(":")
        for sock in _sockets(proto, int(port)):
            selector.register(sock, selectors.EVENT_READ, _serve_tcp if proto == "tcp" else _serve_udp)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    while True:
        for key, _ in selector.select():
            key.data(pod, key.fileobj)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
