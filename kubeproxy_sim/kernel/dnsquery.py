"""The DNS side of ``netns send``: a pod's lookups of a name, as real UDP queries from inside its namespace.

Run as ``python -m kubeproxy_sim.kernel.dnsquery SERVER PORT QTYPE COUNT TIMEOUT BIND DSCP NAME...`` by a child
that entered the client's namespace. Each of COUNT lookups asks SERVER the candidate NAMEs in order (the search
list as the pod's resolver walks it), each from a fresh socket, as glibc's res_send closes its UDP socket after
each query unless RES_STAYOPEN (a new source port: a new conntrack entry and a new draw among kube-dns's endpoints
per name tried, where ``send`` makes one query per connection, see Simulator.dns_query), and stops as glibc's
res_search does: at the first NOERROR answer with records (an address; or a CNAME alone, which res_search
returns and getaddrinfo finds no address in); a name without any (NXDOMAIN, no data, or SERVFAIL) goes on to the
next; a query that fails (refused, no answer within TIMEOUT) or is answered REFUSED (or another error rcode) ends
the lookup. Lookups run concurrently, so dropped queries cost one timeout. Prints one JSON list, per
lookup: the answer (``rcode``, ``name`` answered, ``addresses``, ``witness``: who answered and what it saw) or
``{"error": reason, "name": NAME}``.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubeproxy_sim.kernel import dnswire
from kubeproxy_sim.kernel.probe import PARALLEL, mark, reason

SEARCH_ON = ("NOERROR", "NXDOMAIN", "SERVFAIL")  # the rcodes of an answer without records that go on to the next


def query(server: str, port: int, name: str, qtype: str, timeout: float, bind: str | None,
          dscp: int) -> dict[str, Any]:
    """One question of one name, from a fresh socket: the reply read, or the reason there is none."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    qid = random.getrandbits(16)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        mark(sock, dscp)
        deadline = time.monotonic() + timeout
        try:
            if bind:
                sock.bind((bind, 0))
            sock.connect((server, port))  # connected: an ICMP error comes back as ECONNREFUSED, ...
            sock.send(dnswire.encode_query(qid, name, qtype))
            while True:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    reply = dnswire.parse_response(sock.recv(4096))
                except dnswire.WireError:
                    continue  # not an answer: keep waiting for one (a resolver drops it too)
                if reply.id == qid:
                    break
        except TimeoutError:
            return {"error": "timeout", "name": name}
        except OSError as exc:
            return {"error": reason(exc.errno or 0), "name": name}
    witness = json.loads(reply.witness) if reply.witness else None
    addresses = [value for _, kind, value in reply.answers if kind == qtype]
    return {"rcode": reply.rcode, "name": name, "addresses": addresses, "records": len(reply.answers),
            "witness": witness}


def lookup(server: str, port: int, names: list[str], qtype: str, timeout: float, bind: str | None,
           dscp: int) -> dict[str, Any]:
    """The candidates in order, to the first NOERROR answer with records (a CNAME alone too), the first failed
    query, or the first answer of an rcode that ends glibc's search (REFUSED, NOTIMP, FORMERR: anything but
    NXDOMAIN, no data and SERVFAIL, which __res_context_search passes over as got_servfail); with none, the first
    NOERROR answer (a name with no data), else the first SERVFAIL, else the last NXDOMAIN, as glibc reports it."""
    nodata: dict[str, Any] | None = None
    servfail: dict[str, Any] | None = None
    last: dict[str, Any] = {"rcode": "NXDOMAIN", "name": "", "addresses": [], "witness": None}
    for name in names:
        answer = query(server, port, name, qtype, timeout, bind, dscp)
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
            bind: str | None = None, dscp: int = 0) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=min(PARALLEL, count)) as pool:
        return list(pool.map(lambda _: lookup(server, port, names, qtype, timeout, bind, dscp), range(count)))


if __name__ == "__main__":
    host, number, kind, n, wait, source, value, *wanted = sys.argv[1:]
    print(json.dumps(lookups(host, int(number), wanted, kind, int(n), float(wait), source or None, int(value))))
