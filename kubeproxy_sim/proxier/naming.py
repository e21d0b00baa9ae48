"""Every chain name kube-proxy writes, and the test for "is this chain ours".

Per-service chains are named by hashing: iptables limits chain names to 28
characters, so kube-proxy hashes the service port name (plus protocol, plus the
endpoint for KUBE-SEP) with SHA-256, base32-encodes it and keeps 16 characters.
The names must be bit-for-bit upstream's, because they are what a golden dump,
a ``recent`` list name and an ``iptables-save`` of a real node all contain.
"""

from __future__ import annotations

import importlib
import struct
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any

# Top-level chains kube-proxy creates and fills on every sync.
KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_PROXY_CANARY = "KUBE-PROXY-CANARY"
KUBE_FIREWALL = "KUBE-FIREWALL"  # kubelet's anti-martian chain, duplicated by kube-proxy

SVC_PREFIX = "KUBE-SVC-"
SVL_PREFIX = "KUBE-SVL-"
FW_PREFIX = "KUBE-FW-"
EXT_PREFIX = "KUBE-EXT-"
SEP_PREFIX = "KUBE-SEP-"

SERVICE_CHAIN_PREFIXES = (SVC_PREFIX, SVL_PREFIX, SEP_PREFIX, FW_PREFIX, EXT_PREFIX)

TOP_LEVEL_CHAINS = frozenset({
    KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ,
    KUBE_FORWARD, KUBE_PROXY_FIREWALL, KUBE_PROXY_CANARY, KUBE_FIREWALL,
})


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_PAIRS = tuple(a + b for a in _B32 for b in _B32)  # every 10-bit group as two base32 characters


def _pairs_at(shift: int) -> list[str]:
    """For every 16-bit window w, the base32 pair of its 10 bits ``(w >> shift) & 1023``: a pair of the digest
    read by one list index, where shifting and masking its 80 bits as a Python int cost ~300 instructions an
    operation. Built by repetition (each pair ``2**shift`` times in a row, the run repeated to 65,536 entries):
    ~8 M instructions at import, a few milliseconds."""
    run = list(chain.from_iterable(map(repeat, _B32_PAIRS, repeat(1 << shift))))
    return run * (65536 // len(run))


_PAIRS_AT = (_pairs_at(6), _pairs_at(4), _pairs_at(2), _pairs_at(0))
"""Indexed by a big-endian 16-bit window starting at the byte where a 10-bit group starts: the group's first bit
is the window's bit 0, 2, 4 or 6 (10k mod 8), so its 10 bits are the window shifted right by 6, 4, 2 or 0."""


def _own_sha256() -> Callable[[bytes], Any]:
    """CPython's own SHA-256 (3.11: ``_sha256``, 3.12 on: ``_sha2``), else hashlib's: the same digest, without
    the OpenSSL context hashlib's sha256 sets up per call (~1,750 instructions of a short text's ~4,900)."""
    for module in ("_sha256", "_sha2"):
        try:
            sha256: Callable[[bytes], Any] = importlib.import_module(module).sha256
        except (ImportError, AttributeError):  # pragma: no cover (another build or interpreter)
            continue
        return sha256
    import hashlib  # pragma: no cover (here: importing hashlib sets up OpenSSL, ~13M instructions)

    return hashlib.sha256  # pragma: no cover


_SHA256 = _own_sha256()

_WINDOWS = struct.Struct(">HHxHH24xHHxHH").unpack_from
"""The eight 16-bit windows of the 80 bits (digest bytes 0-9) that hold the eight 10-bit groups, read from the
digest doubled (64 bytes) in one call: windows must overlap (group 1 starts in byte 1, group 2 in byte 2), and
``unpack`` reads forwards only, so bytes 0, 2, 5, 7 come from the first copy and 1, 3, 6, 8 from the second
(offset 32 on)."""


def _hash16(text: str, _sha: Callable[[bytes], Any] = _SHA256, _windows: Any = _WINDOWS,
            _at: tuple[list[str], ...] = _PAIRS_AT) -> str:
    """First 16 base32 characters of SHA-256(text).

    16 base32 characters are exactly the first 80 digest bits, so only those are encoded, ten bits (a pair of
    characters) at a time: the result is identical to ``base64.b32encode(digest)[:16]``. With a hundred thousand
    endpoints this is on the hot path, so each pair is one index into a window table (:data:`_PAIRS_AT`,
    :data:`_WINDOWS`), and the digest is CPython's own SHA-256, which skips the OpenSSL context hashlib's
    sha256 sets up per call: 9,800 instructions a name, where shifting an 80-bit int took 14,100 (callgrind).
    """
    w0, w2, w5, w7, w1, w3, w6, w8 = _windows(_sha(text.encode()).digest() * 2)
    a, b, c, d = _at
    return f"{a[w0]}{b[w1]}{c[w2]}{d[w3]}{a[w5]}{b[w6]}{c[w7]}{d[w8]}"


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """The 16-character suffix shared by a service port's SVC/SVL/EXT/FW chains.

    ``service_port_name`` is ``namespace/name`` or ``namespace/name:port``;
    ``protocol`` is lower case ("tcp").
    """
    return _hash16(service_port_name + protocol)


def service_chain(service_port_name: str, protocol: str) -> str:
    """KUBE-SVC-*: dispatch to the endpoints used with the Cluster traffic policy."""
    return SVC_PREFIX + port_proto_hash(service_port_name, protocol)


def local_chain(service_port_name: str, protocol: str) -> str:
    """KUBE-SVL-*: dispatch to this node's endpoints (a Local traffic policy)."""
    return SVL_PREFIX + port_proto_hash(service_port_name, protocol)


def firewall_chain(service_port_name: str, protocol: str) -> str:
    """KUBE-FW-*: loadBalancerSourceRanges filtering."""
    return FW_PREFIX + port_proto_hash(service_port_name, protocol)


def external_chain(service_port_name: str, protocol: str) -> str:
    """KUBE-EXT-*: entry for NodePort, external IP and load-balancer traffic."""
    return EXT_PREFIX + port_proto_hash(service_port_name, protocol)


def endpoint_chain(service_port_name: str, protocol: str, endpoint: str) -> str:
    """KUBE-SEP-*: one endpoint (``ip:port``, ``[ip6]:port``) of one service port."""
    return SEP_PREFIX + _hash16(service_port_name + protocol + endpoint)


def endpoint_chains(service_port_name: str, protocol: str, endpoints: list[str]) -> list[str]:
    """:func:`endpoint_chain` of each of ``endpoints``, the port's part of the hashed text joined once.

    :func:`_hash16`'s body inline, the prefix in its format: one name per endpoint of a large cluster (100,000),
    where the call and the prefix's concatenation were a tenth of a name's cost."""
    base = service_port_name + protocol
    sha, windows = _SHA256, _WINDOWS
    a, b, c, d = _PAIRS_AT
    names: list[str] = []
    append = names.append
    for endpoint in endpoints:
        w0, w2, w5, w7, w1, w3, w6, w8 = windows(sha((base + endpoint).encode()).digest() * 2)
        append(f"KUBE-SEP-{a[w0]}{b[w1]}{c[w2]}{d[w3]}{a[w5]}{b[w6]}{c[w7]}{d[w8]}")
    return names


def is_service_chain(name: str) -> bool:
    """True for the per-service chains kube-proxy deletes when they are no longer used."""
    return name.startswith(SERVICE_CHAIN_PREFIXES)


def is_kube_proxy_chain(name: str) -> bool:
    """True for any chain kube-proxy creates (top-level or per-service)."""
    return name in TOP_LEVEL_CHAINS or is_service_chain(name)
