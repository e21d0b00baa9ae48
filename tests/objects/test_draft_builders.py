"""The hand-written builders on objects.bulk.draft_class drafts build exactly what the dataclass's __init__ builds.

The EndpointSlice decoder's fast endpoint (decode_slices._fast_endpoint) and EndpointInfo.make write every slot
of a draft by hand and then turn it into the frozen dataclass. Nothing in Python ties those stores to the
dataclass's fields: a field added to Endpoint or EndpointInfo and forgotten there would give objects without it
(AttributeError far away, on first read). The first tests compare the fields each builder writes with the class's
fields, naming what is missing; the others check that the objects built equal the checked path's, field by field.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import decode, decode_slices
from kubeproxy_sim.objects.addr import _regex_plain_ipv4, is_plain_ipv4
from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.load import load_paths
from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointSlice,
    IPFamily,
    LoadBalancerIngress,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from kubeproxy_sim.objects.report import Report
from kubeproxy_sim.proxier import state, topology
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.rules import plan
from kubeproxy_sim.proxier.rules.plan import ServicePlan
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo
from kubeproxy_sim.proxier.topology import Categorized, categorize
from tests.budget import budget


def written_attributes(function: Callable[..., Any], target: str) -> set[str]:
    """The attributes ``function`` stores on its local ``target`` (``target.name = ...``), read from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name) and node.value.id == target
    }


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_the_fast_endpoint_writes_every_field_of_endpoint() -> None:
    written = written_attributes(decode_slices._fast_endpoints, "endpoint") - {"__class__"}
    assert written == field_names(Endpoint), (
        f"decode_slices._fast_endpoints writes {sorted(written)}; Endpoint's fields are "
        f"{sorted(field_names(Endpoint))}: update the fast path with the dataclass")


def test_endpoint_info_make_writes_every_field_of_endpoint_info() -> None:
    written = written_attributes(EndpointInfo.make, "info") - {"__class__"}
    assert written == field_names(EndpointInfo), (
        f"EndpointInfo.make writes {sorted(written)}; EndpointInfo's fields are "
        f"{sorted(field_names(EndpointInfo))}: update make with the dataclass")


def test_the_guard_reads_stores_only() -> None:
    """written_attributes sees a store through the named local only: a read, or a store on another name, is not
    a field written (so a builder that only reads a new field is still caught)."""

    def builder(other: Any) -> Any:
        draft: Any = object()
        draft.a = other.b
        other.c = draft.d
        return draft

    assert written_attributes(builder, "draft") == {"a"}


def assert_same_object(made: Any, built: Any) -> None:
    """Equal, hashed and printed alike, of the same class, and every field of the same type and value."""
    assert type(made) is type(built)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    for f in dataclasses.fields(built):
        mine, theirs = getattr(made, f.name), getattr(built, f.name)
        assert type(mine) is type(theirs) and mine == theirs, f.name


def raw_endpoint(addresses: st.SearchStrategy[Any], condition: st.SearchStrategy[Any], text: st.SearchStrategy[Any],
                 extra: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Raw endpoints whose fields are drawn from the given values (``extra``: the odd ones in any field)."""
    names = st.one_of(st.none(), text, extra)
    return st.fixed_dictionaries(
        {"addresses": addresses},
        optional={
            "conditions": st.one_of(st.none(), extra, st.fixed_dictionaries(
                {}, optional={"ready": condition, "serving": condition, "terminating": condition})),
            "hostname": names,
            "nodeName": names,
            "zone": names,
            "hints": st.one_of(st.none(), extra),
            "targetRef": st.one_of(st.none(), extra, st.fixed_dictionaries(
                {}, optional={"kind": st.one_of(st.sampled_from(["Pod", ""]), extra), "namespace": names,
                              "name": names})),
        },
    )


short_text = st.one_of(st.text(max_size=3), st.sampled_from(["node-1", "zone-a"]))
# Half the draws are endpoints the fast path takes (every field of a type it reads), half have odd values anywhere,
# which it mostly hands over: the test compares what it does take
raw_endpoints = st.one_of(
    raw_endpoint(st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=1), st.sampled_from([None, True, False]),
                 short_text, st.nothing()),
    raw_endpoint(st.one_of(st.lists(st.sampled_from(["10.0.0.1", "0.0.0.0", "127.0.0.1", "169.254.1.1", "224.0.0.1",
                                                     "010.0.0.1", "1.2.3", "fd00::1"]), max_size=2),
                           st.just("10.0.0.1")),
                 st.sampled_from([None, True, False, 1, "x"]), short_text,
                 st.sampled_from([1, "x", 2.0, [], {"forZones": [{"name": "zone-a"}]}])),
)


@settings(max_examples=budget(300), deadline=None)
@given(raw_endpoints)
def test_a_fast_endpoint_is_the_checked_paths_endpoint(raw: dict[str, Any]) -> None:
    """What the fast path takes, the checked path takes without a word, and builds the same Endpoint."""
    fast = decode_slices._fast_endpoint(raw, decode_slices._MATCH)
    # (inet_pton inline where it is strict, as `rules` reads: the same as through the function, or the regex)
    assert repr(decode_slices._fast_endpoint(raw, is_plain_ipv4)) == repr(fast)
    assert repr(decode_slices._fast_endpoint(raw, _regex_plain_ipv4)) == repr(fast)
    if fast is None:
        return  # handed over: the checked path decides, and it has its own tests
    report = Report("t.yaml", "EndpointSlice", "ns/s")
    checked = decode_slices._endpoint(report, raw, 0, AddressType.IPV4)
    assert report.diagnostics == []
    assert_same_object(fast, checked)


def test_the_fast_path_is_drawn() -> None:
    """The parity test above compares something: the fast path takes a plain endpoint with every field it reads."""
    raw = {"addresses": ["10.0.0.1"], "conditions": {"ready": True, "serving": None, "terminating": False},
           "hostname": "h", "nodeName": "n", "zone": "z", "targetRef": {"kind": "Pod", "namespace": "ns"}}
    fast = decode_slices._fast_endpoint(raw, decode_slices._MATCH)
    assert fast is not None
    assert_same_object(fast, decode_slices._endpoint(Report("t.yaml", "EndpointSlice", "ns/s"), raw, 0,
                                                     AddressType.IPV4))


hints = st.one_of(st.none(), st.frozensets(st.sampled_from(["a", "b", "node-1"]), max_size=2))


@settings(max_examples=budget(100), deadline=None)
@given(st.text(max_size=5), st.integers(1, 65535), st.text(max_size=8), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), hints, hints)
def test_endpoint_info_make_is_the_init(ip: str, port: int, endpoint: str, is_local: bool, ready: bool,
                                        serving: bool, terminating: bool, zone_hints: frozenset[str] | None,
                                        node_hints: frozenset[str] | None) -> None:
    values = (ip, port, endpoint, is_local, ready, serving, terminating, zone_hints, node_hints)
    assert_same_object(EndpointInfo.make(*values), EndpointInfo(*values))


def test_add_endpoints_writes_every_field_of_endpoint_info() -> None:
    written = written_attributes(state._add_endpoints, "info") - {"__class__"}
    assert written == field_names(EndpointInfo), (
        f"state._add_endpoints writes {sorted(written)}; EndpointInfo's fields are "
        f"{sorted(field_names(EndpointInfo))}: update its builder with the dataclass")


def reference_add_endpoints(found: dict[str, EndpointInfo], eps: EndpointSlice, port: int, node_name: str,
                            ipv6: bool) -> None:
    """state._add_endpoints as it read before its builder was inlined: EndpointInfo's __init__ and the
    conditions' properties."""
    for ep in eps.endpoints:
        if not ep.addresses:
            continue
        ip = ep.addresses[0]
        text = f"[{ip}]:{port}" if ipv6 else f"{ip}:{port}"
        cond = ep.conditions
        terminating = bool(cond.terminating)
        if text in found and terminating:
            continue
        found[text] = EndpointInfo(
            ip, port, text, bool(node_name) and ep.node_name == node_name, cond.counts_ready, cond.counts_serving,
            terminating, frozenset(ep.hints_for_zones) if ep.hints_for_zones else None,
            frozenset(ep.hints_for_nodes) if ep.hints_for_nodes else None)


tri = st.sampled_from([None, True, False])
slice_endpoints = st.lists(st.builds(
    lambda address, ready, serving, terminating, node, zones, nodes: Endpoint(
        addresses=(address,) if address else (), conditions=EndpointConditions(ready, serving, terminating),
        node_name=node, hints_for_zones=zones, hints_for_nodes=nodes),
    st.sampled_from(["", "10.0.0.1", "10.0.0.2", "fd00::1"]), tri, tri, tri, st.sampled_from([None, "", "n1", "n2"]),
    st.one_of(st.none(), st.just(()), st.tuples(st.sampled_from(["a", "b"]))),
    st.one_of(st.none(), st.just(()), st.tuples(st.sampled_from(["n1", "n2"])))), max_size=6)


@settings(max_examples=budget(200), deadline=None)
@given(slice_endpoints, slice_endpoints, st.integers(1, 65535), st.sampled_from(["", "n1"]), st.booleans())
def test_add_endpoints_builds_what_the_init_builds(first: list[Endpoint], second: list[Endpoint], port: int,
                                                   node_name: str, ipv6: bool) -> None:
    """Two slices added in turn (the second meets the first's texts: a terminating copy left out), each
    EndpointInfo the same object as __init__ and the conditions' properties give."""
    slices = [EndpointSlice(namespace="ns", name=f"s{i}", service_name="web", address_type=AddressType.IPV4,
                            endpoints=tuple(endpoints)) for i, endpoints in enumerate((first, second))]
    found: dict[str, EndpointInfo] = {}
    expected: dict[str, EndpointInfo] = {}
    for eps in slices:
        state._add_endpoints(found, eps, port, node_name, ipv6)
        reference_add_endpoints(expected, eps, port, node_name, ipv6)
    assert list(found) == list(expected)
    for text, info in found.items():
        assert_same_object(info, expected[text])


def test_endpoint_info_make_on_a_subclass_builds_an_endpoint_info() -> None:
    """make is static: called through a subclass it still builds an EndpointInfo, rather than trying to turn the
    draft into a class of another layout (a TypeError on the first endpoint)."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(EndpointInfo):
        tag: str = ""

    made = Tagged.make("10.0.0.1", 80, "10.0.0.1:80", False, True, True, False, None, None)
    assert type(made) is EndpointInfo


def test_draft_class_refuses_what_cpython_will_not_reassign() -> None:
    """objects.bulk.draft_class's documented limits (CPython 3.11): a ``__weakref__`` slot, or slots on a base, give
    another layout than a plain draft's, and the draft is refused when made, not on the first object."""

    @dataclasses.dataclass(frozen=True, slots=True, weakref_slot=True)
    class Referable:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived(Base):
        y: int

    for cls in (Referable, Derived):
        with pytest.raises(TypeError, match="layout differs"):
            draft_class(cls)


def test_port_info_writes_every_field_of_service_port_info() -> None:
    written = written_attributes(state._port_info, "info") - {"__class__"}
    assert written == field_names(ServicePortInfo), (
        f"state._port_info writes {sorted(written)}; ServicePortInfo's fields are "
        f"{sorted(field_names(ServicePortInfo))}: update the builder with the dataclass")


def test_plan_service_writes_every_field_of_service_plan() -> None:
    written = written_attributes(plan.plan_service, "plan") - {"__class__"}
    assert written == field_names(ServicePlan), (
        f"plan.plan_service writes {sorted(written)}; ServicePlan's fields are "
        f"{sorted(field_names(ServicePlan))}: update the builder with the dataclass")


names = st.sampled_from(["", "a", "http", "svc-1"])
port_services = st.builds(
    lambda ns, name, port_name, protocol, number, node_port, stype, etp, itp, affinity, ext, lb, ranges, hc: Service(
        namespace=ns or "default", name=name or "s", type=stype, cluster_ips=("10.0.0.1",),
        ports=(ServicePort(port_name, protocol, number, number, node_port),), external_ips=ext,
        load_balancer_ingress=tuple(LoadBalancerIngress(ip=ip) for ip in lb), load_balancer_source_ranges=ranges,
        external_traffic_policy=etp, internal_traffic_policy=itp, health_check_node_port=hc,
        session_affinity=affinity, affinity_timeout=10800),
    names, names, names, st.sampled_from(list(Protocol)), st.integers(1, 65535), st.sampled_from([0, 30080]),
    st.sampled_from(list(ServiceType)[:3]), st.sampled_from(list(TrafficPolicy)), st.sampled_from(list(TrafficPolicy)),
    st.sampled_from(list(SessionAffinity)), st.sampled_from([(), ("192.0.2.1",)]),
    st.sampled_from([(), ("192.0.2.9",)]), st.sampled_from([(), ("10.0.0.0/8",)]), st.sampled_from([0, 31000]))


@settings(max_examples=budget(100), deadline=None)
@given(port_services, st.booleans(), st.booleans())
def test_port_info_and_plan_are_their_inits(service: Service, local: bool, ready: bool) -> None:
    """The draft-built ServicePortInfo (its derived name and protocol too) and ServicePlan are the objects their
    __init__ builds from the same values: equal, hashed, printed and typed alike, field by field."""
    (info,) = state.family_service_ports(service, ipv6=False)
    assert_same_object(info, ServicePortInfo(**{f.name: getattr(info, f.name) for f in dataclasses.fields(info)
                                                if f.name not in ("name_string", "proto")}))
    ep = EndpointInfo("10.1.0.1", 80, "10.1.0.1:80", is_local=local, ready=ready)
    made = plan.plan_service(info, categorize((ep,), info, "node-1", None))
    assert_same_object(made, ServicePlan(**{f.name: getattr(made, f.name) for f in dataclasses.fields(made)}))


def test_decode_service_writes_every_field_of_service() -> None:
    written = written_attributes(decode.decode_service, "service") - {"__class__"}
    assert written == field_names(Service), (
        f"decode.decode_service writes {sorted(written)}; Service's fields are {sorted(field_names(Service))}: "
        "update the builder with the dataclass")


def test_decode_endpoint_slice_writes_every_field_of_endpoint_slice() -> None:
    written = written_attributes(decode_slices.decode_endpoint_slice, "es") - {"__class__"}
    assert written == field_names(EndpointSlice), (
        f"decode_slices.decode_endpoint_slice writes {sorted(written)}; EndpointSlice's fields are "
        f"{sorted(field_names(EndpointSlice))}: update the builder with the dataclass")


RULESETS = Path(__file__).resolve().parents[2] / "rulesets"


def test_decoded_services_and_slices_are_their_inits() -> None:
    """Every Service and EndpointSlice of the rulesets' scenarios (every type, policy, family, hints, odd values)
    is the object its __init__ builds from the same values: equal, hashed, printed and typed alike."""
    seen = 0
    for objects in sorted(RULESETS.glob("*/objects.yaml")):
        cluster = load_paths([str(objects)], overlaps=False).cluster
        objs: list[Service | EndpointSlice] = [*cluster.services, *cluster.endpoint_slices]
        for obj in objs:
            rebuilt = type(obj)(**{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
            assert_same_object(obj, rebuilt)
            assert obj.origin == rebuilt.origin  # (not compared by ==)
            seen += 1
    assert seen > 100


def test_service_port_and_categorized_builders_write_every_field() -> None:
    for builder, target, cls in ((decode._plain_service_port, "port", ServicePort),
                                 (topology._categorized, "made", Categorized)):
        written = written_attributes(builder, target) - {"__class__"}
        assert written == field_names(cls), (
            f"{builder.__qualname__} writes {sorted(written)}; {cls.__name__}'s fields are "
            f"{sorted(field_names(cls))}: update the builder with the dataclass")


def test_decoded_service_ports_and_categorized_sets_are_their_inits() -> None:
    """Every port of the rulesets' Services, and the endpoint sets of every port, equal what __init__ builds."""
    seen = 0
    for objects in sorted(RULESETS.glob("*/objects.yaml")):
        cluster = load_paths([str(objects)], overlaps=False).cluster
        for port in (p for service in cluster.services for p in service.ports):
            assert_same_object(port, ServicePort(**{f.name: getattr(port, f.name) for f in dataclasses.fields(port)}))
            seen += 1
        for family in IPFamily:
            ipv6 = family is IPFamily.IPV6
            by_port = state.endpoints_map(cluster.endpoint_slices, ProxyConfig(node_name="node-1", ip_family=family))
            for service in cluster.services:
                for info in state.family_service_ports(service, ipv6):
                    cats = categorize(by_port.get(info.key, ()), info, "node-1", "zone-a")
                    assert_same_object(cats, Categorized(cats.cluster, cats.local, cats.reachable, cats.has_any))
    assert seen > 50
