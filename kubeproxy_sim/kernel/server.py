"""The workload in a pod namespace: answers every TCP and UDP port it was given with who it is.

Run as ``python -m kubeproxy_sim.kernel.server POD PROTO:PORT ...`` by a child that
already entered the pod's namespace. Each reply is one JSON line: the pod's name,
the address the request came from (after any masquerade) and the address it
arrived at (after DNAT). It prints ``ready`` once every socket is bound, then
serves until killed. Standard library only, so it starts fast.
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


def _bind(proto: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        sock.listen(512)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.setblocking(False)
    return sock


def _answer(pod: str, peer: tuple[str, int], local: tuple[str, int]) -> bytes:
    return (json.dumps({"pod": pod, "src": f"{peer[0]}:{peer[1]}", "dst": f"{local[0]}:{local[1]}"}) + "\n").encode()


def _serve_tcp(pod: str, listener: socket.socket) -> None:
    try:
        conn, peer = listener.accept()
    except BlockingIOError:
        return
    with conn:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            conn.sendall(_answer(pod, peer, conn.getsockname()))


def _serve_udp(pod: str, sock: socket.socket) -> None:
    try:
        _, ancillary, _, peer = sock.recvmsg(2048, socket.CMSG_SPACE(12))
    except (BlockingIOError, ConnectionRefusedError):
        return
    # an unbound UDP socket does not know the address a datagram was sent to: IP_PKTINFO tells
    local = ""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            local = socket.inet_ntoa(struct.unpack("4s", data[8:12])[0])
    sock.sendto(_answer(pod, peer, (local, sock.getsockname()[1])), peer)


def serve(pod: str, specs: list[str]) -> None:
    selector = selectors.DefaultSelector()
    for spec in specs:
        proto, port = spec.split(":")
        sock = _bind(proto, int(port))
        selector.register(sock, selectors.EVENT_READ, _serve_tcp if proto == "tcp" else _serve_udp)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    while True:
        for key, _ in selector.select():
            key.data(pod, key.fileobj)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
