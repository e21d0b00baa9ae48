"""A whole slice's endpoints read with the fast path and without it: the same endpoints and the same diagnostics.

decode_slices._slice_endpoints hands the common IPv4 endpoint to _fast_endpoints, which reads the address with
inet_pton inline where the C library's is strict (objects.addr.PTON_IS_STRICT). Whatever that takes must be what
the checked path takes without a word, and whatever it hands over (a legacy leading-zero octet, ``1.2.3``, an
IPv4-mapped IPv6 text, a zone, whitespace, a NUL, a lone surrogate) must come out as the checked path alone says:
kube-proxy's Go parser reads ``010.0.0.1`` as 10.0.0.1 (a warning here), and refuses the rest.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import decode_slices
from kubeproxy_sim.objects.model import AddressType
from kubeproxy_sim.objects.report import Report
from tests.budget import budget

TRICKY = [
    "10.0.0.1",
    "010.0.0.1",
    "10.0.0.01",
    "0010.0.0.1",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "10.0.0.1 ",
    " 10.0.0.1",
    "10.0.0.1\n",
    "10.0.0.1\x00",
    "10.0.0.\udcff",
    "::ffff:10.0.0.1",
    "::ffff:a00:1",
    "10.0.0.1%eth0",
    "fe80::1%eth0",
    "fd00::1",
    "0x0a.0.0.1",
    "10.0.0.1/32",
    "1٠.0.0.1",
    "",
    "127.0.0.1",
    "169.254.0.1",
    "0.0.0.0",
    "224.0.0.251",
    "10.00.000.1",
]
octet = st.one_of(st.integers(0, 300).map(str), st.text(alphabet="0123456789", min_size=1, max_size=4))
address = st.one_of(st.sampled_from(TRICKY), st.lists(octet, min_size=3, max_size=5).map(".".join))
endpoint = st.fixed_dictionaries(
    {"addresses": st.lists(address, min_size=1, max_size=2)},
    optional={
        "conditions": st.fixed_dictionaries({}, optional={"ready": st.sampled_from([None, True, False])}),
        "nodeName": st.sampled_from(["node-1", ""]),
    },
)


def _read(raw_endpoints: list[dict[str, Any]], fast: bool) -> tuple[str, list[str]]:
    """The endpoints and the diagnostics of one IPv4 slice, with or without the fast path."""
    report = Report("t.yaml", "EndpointSlice", "ns/s")
    doc = {"endpoints": raw_endpoints}
    if fast:
        found = decode_slices._slice_endpoints(report, doc, AddressType.IPV4)
    else:
        with mock.patch.object(decode_slices, "_fast_endpoints", lambda raw, start, out, match: start):
            found = decode_slices._slice_endpoints(report, doc, AddressType.IPV4)
    return repr(found), [str(d) for d in report.diagnostics]


@settings(max_examples=budget(300), deadline=None)
@given(st.lists(endpoint, max_size=6))
def test_the_fast_path_changes_nothing_a_slice_reads(raw_endpoints: list[dict[str, Any]]) -> None:
    assert _read(raw_endpoints, fast=True) == _read(raw_endpoints, fast=False)


def test_a_legacy_leading_zero_address_is_read_as_go_reads_it() -> None:
    """The fast path hands 010.0.0.1 over (inet_pton refuses it); the checked path reads it as decimal 10."""
    found, diagnostics = _read([{"addresses": ["010.0.0.1"]}, {"addresses": ["10.0.0.2"]}], fast=True)
    assert "('10.0.0.1',)" in found and "('10.0.0.2',)" in found
    assert len(diagnostics) == 1 and "legacy" in diagnostics[0]
