"""Every chain name kube-proxy writes, and the test for "is this chain ours".

Per-service chains are named by hashing: iptables limits chain names to 28
characters, so kube-proxy hashes the service port name (plus protocol, plus the
endpoint for KUBE-SEP) with SHA-256, base32-encodes it and keeps 16 characters.
The names must be bit-for-bit upstream's, because they are what a golden dump,
a ``recent`` list name and an ``iptables-save`` of a real node all contain.
"""

from __future__ import annotations

import hashlib

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


def _hash16(text: str, _sha=hashlib.sha256, _pairs=_B32_PAIRS, _int=int.from_bytes) -> str:
    """First 16 base32 characters of SHA-256(text).

    16 base32 characters are exactly the first 80 digest bits, so only those
    are encoded, ten bits at a time through a table: the result is identical to
    ``base64.b32encode(digest)[:16]`` and several times cheaper, which matters
    with a hundred thousand endpoints. The eight pairs are joined by one
    f-string (one string built, where ``+`` built seven).
    """
    n = _int(_sha(text.encode()).digest()[:10], "big")
    return (f"{_pairs[n >> 70]}{_pairs[(n >> 60) & 1023]}{_pairs[(n >> 50) & 1023]}{_pairs[(n >> 40) & 1023]}"
            f"{_pairs[(n >> 30) & 1023]}{_pairs[(n >> 20) & 1023]}{_pairs[(n >> 10) & 1023]}{_pairs[n & 1023]}")


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
    """:func:`endpoint_chain` of each of ``endpoints``, the port's part of the hashed text joined once."""
    base = service_port_name + protocol
    return [SEP_PREFIX + _hash16(base + endpoint) for endpoint in endpoints]


def is_service_chain(name: str) -> bool:
    """True for the per-service chains kube-proxy deletes when they are no longer used."""
    return name.startswith(SERVICE_CHAIN_PREFIXES)


def is_kube_proxy_chain(name: str) -> bool:
    """True for any chain kube-proxy creates (top-level or per-service)."""
    return name in TOP_LEVEL_CHAINS or is_service_chain(name)
