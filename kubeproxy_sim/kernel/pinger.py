"""The client side of ``netns send --proto icmp``: one ``ping -c COUNT`` from inside a source namespace, as JSON.

Run as ``python -m kubeproxy_sim.kernel.pinger IP COUNT TIMEOUT IDENT [BIND [DSCP [INTERVAL]]]`` by a child that
entered the source namespace. One raw ICMP (ICMPv6) socket sends COUNT echo requests with one identifier IDENT and
sequence numbers 1, 2, ... (16 bits: the 65,536th is 0 again, as ping(8)'s wrap), INTERVAL seconds apart (default
0.01: ``ping -i``, which root may make that short), as one ping process sends them, so every node's conntrack sees
one flow; then it waits TIMEOUT seconds past the last for what is still to come. Each request's end is read from
what came back about it: its echo reply (the address it came from), an ICMP error quoting it (destination
unreachable, time exceeded: ``unreachable`` with the error's type, code and sender), or nothing (``timeout``); a
send the node's own rules refused is ``EPERM``. A raw socket is handed a copy of every ICMP packet the namespace
receives, so the identifier and the quoted request tell ours apart. What comes back is about the latest request sent
with its sequence number (an answer comes within TIMEOUT, at most 30 s, and a sequence number recurs 65,536 requests
later), so the ends are kept by each request's index, 1..COUNT, not by its sequence number. Prints one JSON list,
one object per request.
"""

from __future__ import annotations

import errno
import json
import select
import socket
import struct
import sys
import time

from kubeproxy_sim.kernel.probe import mark
from kubeproxy_sim.simulator.checksum import internet_checksum

V4 = (socket.AF_INET, socket.IPPROTO_ICMP, 8, 0, (3, 11))
V6 = (socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129, (1, 3))
"""Per family: the socket's family and protocol, the echo request's and reply's types, and the ICMP errors about a
request (destination unreachable, time exceeded)."""
ERROR_NAMES = {(4, 3): "destination unreachable", (4, 11): "time exceeded", (6, 1): "destination unreachable",
               (6, 3): "time exceeded"}


def request(six: bool, ident: int, sequence: int) -> bytes:
    """An echo request's ICMP message: its identifier, sequence number and a payload naming both; an ICMP one
    carries its checksum, an ICMPv6 one's (over a pseudo-header) the kernel fills in."""
    body = struct.pack("!BBHHH", V6[2] if six else V4[2], 0, 0, ident, sequence) + \
        b"kubeproxy-sim ping %d %d" % (ident, sequence)
    return body if six else body[:2] + struct.pack("!H", internet_checksum(body)) + body[4:]


def read(data: bytes, six: bool, ident: int) -> tuple[int, dict[str, object]] | None:
    """(sequence, end) of a received ICMP packet about one of our requests, else None. An IPv4 raw socket hands
    over the IP header too, an ICMPv6 one the message alone (the sender comes with recvfrom)."""
    kind = V6 if six else V4
    icmp = data if six else data[(data[0] & 15) * 4:]
    if len(icmp) < 8:
        return None
    type_, code = icmp[0], icmp[1]
    if type_ == kind[3] and struct.unpack("!H", icmp[4:6])[0] == ident:
        return struct.unpack("!H", icmp[6:8])[0], {"reply": ""}
    if type_ in kind[4]:  # an error quotes the request's IP header and what follows it
        inner = icmp[8:]
        quoted = inner[40:] if six else inner[(inner[0] & 15) * 4:] if inner else b""
        if len(quoted) >= 8 and quoted[0] == kind[2] and struct.unpack("!H", quoted[4:6])[0] == ident:
            name = ERROR_NAMES[(6 if six else 4, type_)]
            return struct.unpack("!H", quoted[6:8])[0], {"error": "unreachable", "icmp": f"{name} ({type_}/{code})"}
    return None


SEQUENCES = 1 << 16
"""An echo's sequence number is 16 bits: request ``index`` (1, 2, ...) carries ``index % SEQUENCES``."""


def latest_index(sequence: int, sent: int) -> int | None:
    """The index (1..sent) of the latest request sent with ``sequence``; None when none was."""
    index = sent - (sent - sequence) % SEQUENCES
    return index if index >= 1 else None


def ping(ip: str, count: int, timeout: float, ident: int, bind: str = "", dscp: int = 0,
         interval: float = 0.01) -> list[dict[str, object]]:
    """Send the echo requests, then gather their ends (the module's docstring)."""
    six = ":" in ip
    kind = V6 if six else V4
    sock = socket.socket(kind[0], socket.SOCK_RAW, kind[1])
    ends: dict[int, dict[str, object]] = {}
    try:
        if bind:
            sock.bind((bind, 0))
        mark(sock, dscp)
        deadline = time.monotonic()
        for index in range(1, count + 1):
            try:
                sock.sendto(request(six, ident, index % SEQUENCES), (ip, 0))
            except OSError as exc:
                ends[index] = {"error": "EPERM" if exc.errno in (errno.EPERM, errno.EACCES) else
                                  "unreachable" if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else
                                  errno.errorcode.get(exc.errno or 0, str(exc.errno))}
            deadline = time.monotonic() + timeout
            _gather(sock, six, ident, ends, time.monotonic() + interval, index)
        _gather(sock, six, ident, ends, deadline, count, until=count)
    finally:
        sock.close()
    return [ends.get(index, {"error": "timeout"}) for index in range(1, count + 1)]


def _gather(sock: socket.socket, six: bool, ident: int, ends: dict[int, dict[str, object]], deadline: float,
            sent: int, until: int = 0) -> None:
    """Read what comes back until ``deadline`` (or, ``until``: as soon as that many requests have their end), each
    end kept at the index of the latest of the ``sent`` requests with its sequence number."""
    while (left := deadline - time.monotonic()) > 0 and not (until and len(ends) >= until):
        if not select.select([sock], [], [], left)[0]:
            return
        data, sender = sock.recvfrom(65535)
        found = read(data, six, ident)
        index = latest_index(found[0], sent) if found is not None else None
        if found is not None and index is not None and index not in ends:
            end = found[1]
            ends[index] = {**end, "reply": sender[0]} if "reply" in end else {**end, "from": sender[0]}


def main(argv: list[str]) -> None:
    ip, count, timeout, ident = argv[0], int(argv[1]), float(argv[2]), int(argv[3])
    bind = argv[4] if len(argv) > 4 else ""
    dscp = int(argv[5]) if len(argv) > 5 and argv[5] else 0
    interval = float(argv[6]) if len(argv) > 6 and argv[6] else 0.01
    print(json.dumps(ping(ip, count, timeout, ident, bind, dscp, interval)))


if __name__ == "__main__":
    main(sys.argv[1:])
