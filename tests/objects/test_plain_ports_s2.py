"""The plain-port paths of the Service and EndpointSlice decoders read what the checked paths read.

decode._plain_service_port and decode_slices._plain_slice_port take a port whose every field is plainly valid
without a path or a call per field (one per service port and slice of a large cluster) and hand anything else to
the checked path. The invariant: a whole ``spec.ports`` / ``ports`` list decodes to the same ports and the same
messages with the plain paths as with the checked paths alone; and what a plain path takes, the checked path takes
without a word.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import decode, decode_slices
from kubeproxy_sim.objects.model import ServicePort, ServiceType
from kubeproxy_sim.objects.report import Report
from tests.budget import budget
from tests.objects.test_draft_builders import assert_same_object, field_names, written_attributes

# Field values: the plain ones (what a manifest usually holds) and odd ones of every kind the checked paths
# speak of (a wrong type, out of range, zero, empty, a float port, a bool, a bad name, a clash of names).
names = st.one_of(st.none(), st.sampled_from(["", "http", "https", "dns-tcp", "Http", "a_b", "-x", "x" * 64, "80"]),
                  st.sampled_from([1, True, [], {}]))
protocols = st.one_of(st.none(), st.sampled_from(["TCP", "UDP", "SCTP", "", "tcp", "ICMP"]), st.sampled_from([6, True]))
numbers = st.one_of(st.none(), st.integers(-2, 3), st.integers(65534, 65537), st.sampled_from([80, 8080, 53]),
                    st.sampled_from([80.0, 80.5, True, False, "80", ""]))
target_ports = st.one_of(numbers, st.sampled_from(["http", "h--p", "-a", "123", "a" * 16, "metrics", [], {}]))
node_ports = st.one_of(st.none(), st.sampled_from([0, 30000, 32767, 32768, 29999, 31000, 65536, -1, 31000.0, "31000",
                                                   True]))
app_protocols = st.one_of(st.none(), st.sampled_from(["", "http", "kubernetes.io/h2c", 1, [], None]))

raw_service_port = st.fixed_dictionaries({}, optional={
    "name": names, "protocol": protocols, "port": numbers, "targetPort": target_ports, "nodePort": node_ports,
    "appProtocol": app_protocols})
plain_service_port = st.fixed_dictionaries({"port": st.integers(1, 65535)}, optional={
    "name": st.sampled_from(["http", "https", "dns", ""]), "protocol": st.sampled_from(["TCP", "UDP", "SCTP"]),
    "targetPort": st.one_of(st.integers(0, 65535), st.sampled_from(["http", "metrics", ""])),
    "appProtocol": st.sampled_from(["http", ""])})
service_port_lists = st.lists(st.one_of(raw_service_port, plain_service_port, st.sampled_from([None, 1, "x"])),
                              max_size=4)
service_specs = st.fixed_dictionaries({"type": st.sampled_from([t.value for t in ServiceType])},
                                      optional={"allocateLoadBalancerNodePorts": st.sampled_from([True, False, None])})


def _service_ports(spec: dict[str, Any], plain: bool) -> tuple[Any, list[Any]]:
    """(ports, messages) of decode._service_ports on ``spec``, with the plain path or the checked path alone."""
    with pytest.MonkeyPatch.context() as patched:
        if not plain:
            patched.setattr(decode, "_plain_service_port", lambda *_: None)
        report = Report("t.yaml", "Service", "ns/s")
        ports = decode._service_ports(report, spec, decode._SERVICE_TYPES[spec["type"]], headless=False)
    return ports, report.diagnostics


@settings(max_examples=budget(400), deadline=None)
@given(service_port_lists, service_specs)
def test_service_ports_read_the_same_with_the_plain_path(ports: list[Any], spec: dict[str, Any]) -> None:
    spec = {**spec, "ports": ports}
    fast, fast_said = _service_ports(spec, True)
    checked, checked_said = _service_ports(spec, False)
    assert fast_said == checked_said
    assert len(fast) == len(checked)
    for mine, theirs in zip(fast, checked, strict=True):
        assert_same_object(mine, theirs)


@settings(max_examples=budget(400), deadline=None)
@given(st.one_of(raw_service_port, plain_service_port), st.booleans(),
       st.sampled_from([(False, False), (True, False), (True, True)]))
def test_a_plain_service_port_is_the_checked_paths(raw: dict[str, Any], multi: bool,
                                                   external_allocated: tuple[bool, bool]) -> None:
    """What the plain path takes, the checked path takes without a word, and builds the same ServicePort."""
    external, allocated = external_allocated
    plain = decode._plain_service_port(raw, multi, external, allocated)
    if plain is None:
        return  # handed over: the checked path decides
    svc_type = ServiceType.NODE_PORT if external else ServiceType.CLUSTER_IP
    report = Report("t.yaml", "Service", "ns/s")
    checked = decode._service_port(report, raw, "spec.ports[0]", svc_type, multi=multi, allocated=allocated)
    assert report.diagnostics == []
    assert checked is not None
    assert_same_object(plain, checked)


def test_the_plain_service_port_is_drawn_and_writes_every_field() -> None:
    """The plain path takes a manifest's usual port (the parity tests compare something), and builds every field
    of ServicePort on its draft."""
    raw = {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "appProtocol": "http"}
    assert decode._plain_service_port(raw, True, False, False) is not None
    assert decode._plain_service_port({**raw, "nodePort": 31000}, True, True, True) is not None
    assert decode._plain_service_port({"port": 53, "targetPort": "dns"}, False, False, False) is not None
    written = written_attributes(decode._plain_service_port, "port") - {"__class__"}
    assert written == field_names(ServicePort)


raw_slice_port = st.fixed_dictionaries({}, optional={
    "name": names, "protocol": protocols, "port": numbers, "appProtocol": app_protocols})
slice_port_lists = st.lists(st.one_of(raw_slice_port, st.sampled_from([None, 1, "x"]),
                                      st.fixed_dictionaries({"port": st.integers(1, 65535)},
                                                            optional={"name": st.sampled_from(["http", ""])})),
                            max_size=4)


def _slice_ports(doc: dict[str, Any], plain: bool) -> tuple[Any, list[Any]]:
    """(ports, messages) of decode_slices._slice_ports on ``doc``, with the plain path or the checked path alone
    (a MonkeyPatch context a call: hypothesis runs a test's body many times, the fixture would patch once)."""
    with pytest.MonkeyPatch.context() as patched:
        if not plain:
            patched.setattr(decode_slices, "_plain_slice_port", lambda _: None)
        report = Report("t.yaml", "EndpointSlice", "ns/s")
        ports = decode_slices._slice_ports(report, doc)
    return ports, report.diagnostics


@settings(max_examples=budget(400), deadline=None)
@given(slice_port_lists)
def test_slice_ports_read_the_same_with_the_plain_path(ports: list[Any]) -> None:
    fast, fast_said = _slice_ports({"ports": ports}, True)
    checked, checked_said = _slice_ports({"ports": ports}, False)
    assert fast_said == checked_said
    assert fast == checked


def test_the_plain_slice_port_is_drawn() -> None:
    assert decode_slices._plain_slice_port({"name": "http", "port": 80, "protocol": "TCP"}) is not None
    fast, said = _slice_ports({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}, True)
    assert [d.field for d in said] == ["ports[1].name"]  # the clash is still told, by the checked path
    assert len(fast) == 2
