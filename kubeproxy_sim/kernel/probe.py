"""The client side of ``netns send``: N connections from inside a source namespace, results as JSON.

Run as ``python -m kubeproxy_sim.kernel.probe IP PORT PROTO COUNT TIMEOUT [BIND [SPORTS [DSCP [REPLY_WAIT]]]]``
by a child that entered the source namespace (IP: one address, or comma-separated one per attempt, as a
headless Service's name gives each connection its own; SPORTS: comma-separated source ports, or empty; DSCP:
the run's mark on every packet it sends, see :mod:`.dscp`). Every attempt uses a fresh socket (a new
source port, so a new conntrack entry and a new load-balancing draw). Attempts run
concurrently so that dropped packets cost one timeout, not COUNT of them. A TCP
connection that is established has been let through by every rule, so its reply
is waited for much longer (``REPLY_WAIT`` unless given): a server slowed down by a loaded
machine is not mistaken for a DROP. Prints
one JSON list: per attempt the server's answer, or ``{"error": reason}``.
"""

from __future__ import annotations

import errno
import json
import random
import selectors
import socket
import sys
import time

REASONS = {
    errno.ECONNREFUSED: "refused",
    errno.EPERM: "EPERM",
    errno.EACCES: "EPERM",
    errno.ENETUNREACH: "unreachable",
    errno.EHOSTUNREACH: "unreachable",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNRESET: "reset",
}
PARALLEL = 64
SEEDED_PORTS = range(20000, 60000)  # where a seeded run draws its source ports (netns send --seed, its DNS queries)
REPLY_WAIT = 20.0  # seconds for the server's line once a TCP connection is established


def seeded_ports(rng: random.Random, count: int) -> list[int]:
    """``count`` source ports drawn from SEEDED_PORTS: distinct until the range is used up, then the same again in
    order, so a port comes back only for an attempt too far from its first use to be open with it (at most
    PARALLEL are at a time)."""
    ports = rng.sample(SEEDED_PORTS, min(count, len(SEEDED_PORTS)))
    return [ports[k % len(ports)] for k in range(count)]


def reason(code: int) -> str:
    return REASONS.get(code, errno.errorcode.get(code, str(code)))


def mark(sock: socket.socket, dscp: int) -> None:
    """Mark every packet ``sock`` sends with ``dscp`` (0: leave it unmarked)."""
    if dscp:  # the upper six bits of the TOS / traffic class byte; the lower two are ECN's
        level, option = (socket.IPPROTO_IPV6, socket.IPV6_TCLASS) if sock.family == socket.AF_INET6 else \
            (socket.IPPROTO_IP, socket.IP_TOS)
        sock.setsockopt(level, option, dscp << 2)


class Attempt:
    """One connection: open, send (UDP) or connect (TCP), read the server's one line."""

    def __init__(self, ip: str, port: int, proto: str, bind: str | None, sport: int = 0, dscp: int = 0) -> None:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.socket(family, kind)
        self.sock.setblocking(False)
        mark(self.sock, dscp)
        self.proto = proto
        self.connected = proto == "udp"
        self.data = b""
        self.result: dict[str, str] | None = None
        try:
            if bind or sport:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.sock.bind((bind or ("::" if family == socket.AF_INET6 else "0.0.0.0"), sport))
            code = self.sock.connect_ex((ip, port))
            if proto == "udp" and code == 0:
                self.sock.send(b"?")
            elif code not in (0, errno.EINPROGRESS):
                self.fail(code)
        except OSError as exc:
            self.fail(exc.errno or 0)

    def fail(self, code: int) -> None:
        self.result = {"error": reason(code)}

    def events(self) -> int:
        return selectors.EVENT_READ if self.connected else selectors.EVENT_WRITE

    def step(self) -> None:
        """Advance on readiness: finish the connect, or read the reply."""
        if not self.connected:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.fail(code)
            self.connected = True
            return
        try:
            chunk = self.sock.recv(4096)
        except OSError as exc:
            self.fail(exc.errno or 0)
            return
        self.data += chunk
        if not chunk or b"\n" in self.data or self.proto == "udp":
            self.finish()

    def finish(self) -> None:
        try:
            self.result = json.loads(self.data.decode().splitlines()[0])
        except (ValueError, IndexError):
            self.result = {"error": "no reply"}


def probe(ips: list[str], port: int, proto: str, count: int, timeout: float, bind: str | None,
          sports: list[int] | None = None, dscp: int = 0, reply_wait: float = REPLY_WAIT) -> list[dict[str, str]]:
    """``count`` attempts, at most PARALLEL at a time, to ``ips``' one address or each to its own; ``sports``
    fixes the source ports (a seeded run), ``dscp`` marks every packet; an established connection waits
    ``reply_wait`` (at least ``timeout``) for the server's line."""
    results: list[dict[str, str]] = []
    pending = count
    selector = selectors.DefaultSelector()
    live: dict[Attempt, float] = {}
    while pending or live:
        while pending and len(live) < PARALLEL:
            pending -= 1
            attempt = Attempt(ips[pending % len(ips)], port, proto, bind, sports[pending] if sports else 0, dscp)
            if attempt.result is not None:
                attempt.sock.close()
                results.append(attempt.result)
                continue
            live[attempt] = time.monotonic() + timeout
            selector.register(attempt.sock, attempt.events(), attempt)
        for key, _ in selector.select(timeout=0.05):
            attempt = key.data
            was_connected = attempt.connected
            attempt.step()
            if attempt.result is None:
                selector.modify(attempt.sock, attempt.events(), attempt)
                if not was_connected:  # the handshake is done: the verdict is in, only the server is awaited
                    live[attempt] = time.monotonic() + max(timeout, reply_wait)
        now = time.monotonic()
        for attempt, deadline in list(live.items()):
            if attempt.result is None and now > deadline:
                attempt.result = {"error": "timeout"}
            if attempt.result is not None:
                selector.unregister(attempt.sock)
                attempt.sock.close()
                results.append(attempt.result)
                del live[attempt]
    return results


if __name__ == "__main__":
    target, port, protocol, n, wait = sys.argv[1:6]
    source = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else None
    ports = [int(p) for p in sys.argv[7].split(",")] if len(sys.argv) > 7 and sys.argv[7] else None
    value = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    patience = float(sys.argv[9]) if len(sys.argv) > 9 else REPLY_WAIT
    print(json.dumps(probe(target.split(","), int(port), protocol, int(n), float(wait), source, ports, value,
                           patience)))
