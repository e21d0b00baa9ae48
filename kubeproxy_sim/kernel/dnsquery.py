"""The DNS side of ``netns send``: a pod's lookups of a name, as real UDP queries from inside its namespace.

Run as ``python -m kubeproxy_sim.kernel.dnsquery SERVER PORT QTYPE COUNT TIMEOUT BIND DSCP SEED EDNS0 NAME...`` by a
child that entered the client's namespace (SEED: the run's ``--seed``, or empty: see :func:`draws`; EDNS0: ``edns0``
when the pod's resolv.conf has ``options edns0``, so each query carries glibc's OPT record, else empty). Each of
COUNT lookups asks SERVER the candidate NAMEs in order (the search list as the pod's resolver walks it), each from a
fresh socket, as glibc's res_send closes its UDP socket after each query unless RES_STAYOPEN (a new source port: a
new conntrack entry and a new draw among kube-dns's endpoints per name tried, where ``send`` makes one query per
connection, see Simulator.dns_query), and stops as glibc's res_search does: at the first NOERROR answer with records
(an address; or a CNAME alone, which res_search returns and getaddrinfo finds no address in); a name without any
(NXDOMAIN, no data, or SERVFAIL) goes on to the next; a query that fails (refused, no answer within TIMEOUT) or is
answered REFUSED (or another error rcode) ends the lookup. An answer truncated to fit a datagram is asked again over
TCP (:func:`query`). Lookups run concurrently, so dropped queries cost one timeout. Prints one JSON list, per
lookup: the answer (``rcode``, ``name`` answered, ``addresses``, ``witness``: who answered and what it saw, ``id``:
the message ID asked with, ``over``: udp or tcp) or ``{"error": reason, "name": NAME}`` (``why`` too for an answer
that cannot be read).
"""

from __future__ import annotations

import errno
import json
import random
import socket
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubeproxy_sim.kernel.probe import PARALLEL, SEEDED_PORTS, mark, reason, seeded_ports
from kubeproxy_sim.simulator import dnswire

SEARCH_ON = ("NOERROR", "NXDOMAIN", "SERVFAIL")  # the rcodes of an answer without records that go on to the next
TCP_RETRY = "tcp "  # before the reason a DNS query's retry over TCP failed for (see query; netns send reads it)
SPARE_TRIES = 64  # ports tried in place of a seeded one that is taken, before the query fails with EADDRINUSE
OURS = dnswire.encode_name(dnswire.WITNESS)  # in every reply of the responder's (its owner is never compressed)


@dataclass(frozen=True, slots=True)
class Draw:
    """One query's source port (0: the kernel's choice, in an unseeded run) and message ID."""

    port: int
    qid: int


def draws(seed: int | None, count: int, names: int) -> list[list[Draw]]:
    """Per lookup, a :class:`Draw` for each of the ``names`` it may ask. Seeded, every one comes from a generator
    derived from the run's seed alone (not the probe's own, so a seed's connection ports stay what they were),
    so two runs of one seed send byte-identical queries from the same ports, whatever order the concurrent
    lookups run in. The ports are distinct across the run (until the range is used up; then they repeat, for
    lookups too far apart to be open together), so concurrent lookups never contend for one, which would make
    who gets it a matter of timing. Unseeded: the kernel's ports, and IDs from the system's entropy."""
    rng = random.Random(None if seed is None else f"dns:{seed}")
    ports = [0] * (count * names) if seed is None else seeded_ports(rng, count * names)
    return [[Draw(ports[k], rng.getrandbits(16)) for k in range(i * names, (i + 1) * names)]
            for i in range(count)]


def _bind(sock: socket.socket, bind: str | None, draw: Draw) -> None:
    """Bind the query's socket to its source port (and address, in a namespace of many). A seeded port that
    another socket holds (a server of the pod's own, say) gives way to the next of a generator derived from that
    draw alone, so the run still reproduces on the same namespace."""
    if not bind and not draw.port:
        return
    host = bind or ("::" if sock.family == socket.AF_INET6 else "0.0.0.0")
    spare = random.Random(draw.port << 16 | draw.qid)
    port = draw.port
    for _ in range(SPARE_TRIES):
        try:
            sock.bind((host, port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or not draw.port:
                raise
        port = spare.choice(SEEDED_PORTS)
    raise OSError(errno.EADDRINUSE, "every port tried is taken")


def _ask_udp(sock: socket.socket, server: str, port: int, message: bytes, qid: int,
             deadline: float) -> dnswire.Reply:
    """The datagram answer to ``message`` with its ID. One of another ID is passed over, as res_send does, and
    so is a datagram that is not a DNS message at all (a resolver drops it, and waits on); one that cannot be read
    but carries the responder's witness is our responder's, broken: its WireError ends the query (a bug)."""
    sock.connect((server, port))  # connected: an ICMP error comes back as ECONNREFUSED, ...
    sock.send(message)
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        data = sock.recv(dnswire.TCP_LIMIT)
        try:
            reply = dnswire.parse_response(data)
        except dnswire.WireError:
            if OURS in data:
                raise
            continue
        if reply.id == qid:
            return reply


def _ask_tcp(sock: socket.socket, server: str, port: int, message: bytes, deadline: float) -> dnswire.Reply:
    """The answer to ``message`` over TCP: each way a two-byte length, then the message (RFC 1035 4.2.2)."""
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    sock.connect((server, port))
    sock.sendall(dnswire.LENGTH.pack(len(message)) + message)
    data = b""
    while len(data) < dnswire.LENGTH.size or len(data) < dnswire.LENGTH.size + dnswire.LENGTH.unpack_from(data)[0]:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(dnswire.TCP_LIMIT + dnswire.LENGTH.size)
        if not chunk:
            raise dnswire.WireError(f"the server closed the connection after {len(data)} bytes of the answer")
        data += chunk
    return dnswire.parse_response(data[dnswire.LENGTH.size:dnswire.LENGTH.size + dnswire.LENGTH.unpack_from(data)[0]])


def query(server: str, port: int, name: str, qtype: str, timeout: float, bind: str | None,
          dscp: int, draw: Draw, edns0: bool = False) -> dict[str, Any]:
    """One question of one name, from a fresh socket: the reply read, or the reason there is none. With ``edns0``
    the query carries the OPT record glibc adds (:func:`.dnswire.resolver_opt`). A truncated answer (TC: it did not
    fit 512 bytes, or the size the OPT advertises) is asked again over TCP, of the same server and port with the
    same message, as glibc's res_send does, from a port of the kernel's choice (``over``: "tcp" then); the error of
    that retry is prefixed :data:`TCP_RETRY` (so netns send can say the retry failed). A reply of the responder's
    that cannot be read (over UDP: one carrying its witness, see :func:`_ask_udp`) is the error ``undecodable``,
    ``why`` saying what is wrong with it (a bug of the responder: netns send refuses the run)."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    message = dnswire.encode_query(draw.qid, name, qtype, dnswire.resolver_opt(edns0))
    deadline = time.monotonic() + timeout
    over = "udp"
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            mark(sock, dscp)
            _bind(sock, bind, draw)
            reply = _ask_udp(sock, server, port, message, draw.qid, deadline)
        if reply.truncated:
            over = "tcp"
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                mark(sock, dscp)
                if bind:
                    sock.bind((bind, 0))
                reply = _ask_tcp(sock, server, port, message, deadline)
    except dnswire.WireError as exc:
        return {"error": "undecodable", "why": f"over {over.upper()}: {exc}", "name": name}
    except TimeoutError:
        return {"error": ("" if over == "udp" else TCP_RETRY) + "timeout", "name": name}
    except OSError as exc:
        return {"error": ("" if over == "udp" else TCP_RETRY) + reason(exc.errno or 0), "name": name}
    witness = json.loads(reply.witness) if reply.witness else None
    addresses = [value for _, kind, value in reply.answers if kind == qtype]
    return {"rcode": reply.rcode, "name": name, "addresses": addresses, "records": len(reply.answers),
            "witness": witness, "id": draw.qid, "over": over}


def lookup(server: str, port: int, names: list[str], qtype: str, timeout: float, bind: str | None,
           dscp: int, drawn: Sequence[Draw] | None = None, edns0: bool = False) -> dict[str, Any]:
    """The candidates in order, to the first NOERROR answer with records (a CNAME alone too), the first failed
    query, or the first answer of an rcode that ends glibc's search (REFUSED, NOTIMP, FORMERR: anything but
    NXDOMAIN, no data and SERVFAIL, which __res_context_search passes over as got_servfail); with none, the first
    NOERROR answer (a name with no data), else the first SERVFAIL, else the last NXDOMAIN, as glibc reports it.
    ``drawn``: each name's port and ID (:func:`draws`; None: an unseeded lookup's); ``edns0``: see :func:`query`."""
    drawn = drawn or draws(None, 1, len(names))[0]
    nodata: dict[str, Any] | None = None
    servfail: dict[str, Any] | None = None
    last: dict[str, Any] = {"rcode": "NXDOMAIN", "name": "", "addresses": [], "witness": None}
    for name, draw in zip(names, drawn, strict=True):
        answer = query(server, port, name, qtype, timeout, bind, dscp, draw, edns0)
        if "error" in answer or answer["rcode"] not in SEARCH_ON or (answer["rcode"] == "NOERROR"
                                                                     and answer["records"]):
            return answer
        if "fault" in (answer["witness"] or {}):  # the responder failed (a bug): netns send reports it
            return answer
        if answer["rcode"] == "NOERROR":
            nodata = nodata or answer
        elif answer["rcode"] == "SERVFAIL":
            servfail = servfail or answer
        last = answer
    return nodata or servfail or last


def lookups(server: str, port: int, names: list[str], qtype: str, count: int, timeout: float,
            bind: str | None = None, dscp: int = 0, seed: int | None = None,
            edns0: bool = False) -> list[dict[str, Any]]:
    """``count`` lookups, at most PARALLEL at a time; ``seed`` fixes their ports and IDs (:func:`draws`)."""
    planned = draws(seed, count, len(names))
    with ThreadPoolExecutor(max_workers=min(PARALLEL, count)) as pool:
        return list(pool.map(lambda drawn: lookup(server, port, names, qtype, timeout, bind, dscp, drawn, edns0),
                             planned))


if __name__ == "__main__":
    host, number, kind, n, wait, source, value, given, opt, *wanted = sys.argv[1:]
    print(json.dumps(lookups(host, int(number), wanted, kind, int(n), float(wait), source or None, int(value),
                             int(given) if given else None, opt == "edns0")))
