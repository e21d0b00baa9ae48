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


def test_ownership_predicates():
    assert naming.is_service_chain("KUBE-SEP-SXIVWICOYRO3J4NJ")
    assert naming.is_service_chain("KUBE-FW-NUKIZ6OKUXPJNT4C")
    assert not naming.is_service_chain("KUBE-SERVICES")
    assert naming.is_kube_proxy_chain("KUBE-SERVICES")
    assert naming.is_kube_proxy_chain("KUBE-FIREWALL")
    assert not naming.is_kube_proxy_chain("DOCKER")
