"""Chain names must be upstream's exactly: they appear in every golden dump."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.proxier import naming


def test_known_names_from_upstream_dumps():
    assert naming.service_chain("ns1/svc1:p80", "tcp") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert naming.external_chain("ns2/svc2:p80", "tcp") == "KUBE-EXT-GNZBNJ2PO5MGZ6GT"
    assert naming.local_chain("ns2/svc2:p80", "tcp") == "KUBE-SVL-GNZBNJ2PO5MGZ6GT"
    assert naming.firewall_chain("ns5/svc5:p80", "tcp") == "KUBE-FW-NUKIZ6OKUXPJNT4C"
    assert naming.endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert naming.endpoint_chain("ns4/svc4:p80", "tcp", "10.180.0.5:80") == "KUBE-SEP-C6EBXVWJJZMIWKLZ"
    # the per-port loop's naming (rules/endpoints) joins the port's part once: the same names
    assert naming.endpoint_chains("ns1/svc1:p80", "tcp", ["10.180.0.1:80"]) == ["KUBE-SEP-SXIVWICOYRO3J4NJ"]


@given(st.text(min_size=0, max_size=60))
def test_fast_hash_equals_base32_of_sha256(text):
    reference = base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]
    assert naming.port_proto_hash(text, "") == reference


class _Digest:
    """A stand-in SHA-256 result: ``digest()`` gives the bytes it was made with."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def digest(self) -> bytes:
        return self.data


@given(st.binary(min_size=32, max_size=32))
def test_pairs_read_from_windows_are_base32_of_the_first_80_bits(digest):
    """The window tables and the doubled-digest read give base32's 16 characters for any digest (every bit of
    the first 80 lands in its character: all-zero and all-one bytes, single bits, random)."""
    assert naming._hash16("", _sha=lambda _: _Digest(digest)) == base64.b32encode(digest).decode()[:16]


def test_pairs_at_edges():
    for digest in (bytes(32), b"\xff" * 32, *(bytes([0] * i + [0x80 >> j] + [0] * (31 - i))
                                             for i in range(10) for j in range(8))):
        assert naming._hash16("", _sha=lambda _, d=digest: _Digest(d)) == base64.b32encode(digest).decode()[:16]


def test_own_sha256_is_hashlibs():
    for text in (b"", b"ns1/svc1:p80tcp10.180.0.1:80", bytes(range(256)) * 3):
        assert naming._SHA256(text).digest() == hashlib.sha256(text).digest()


def test_ownership_predicates():
    assert naming.is_service_chain("KUBE-SEP-SXIVWICOYRO3J4NJ")
    assert naming.is_service_chain("KUBE-FW-NUKIZ6OKUXPJNT4C")
    assert not naming.is_service_chain("KUBE-SERVICES")
    assert naming.is_kube_proxy_chain("KUBE-SERVICES")
    assert naming.is_kube_proxy_chain("KUBE-FIREWALL")
    assert not naming.is_kube_proxy_chain("DOCKER")
