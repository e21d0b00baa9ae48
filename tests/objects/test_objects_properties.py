"""Invariants: valid generated objects round-trip through YAML and JSON; no input makes the loader raise."""

from __future__ import annotations

import ipaddress
import json

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import Protocol, ServiceType, load_text
from kubeproxy_sim.objects.addr import parse_ip, special_address
from kubeproxy_sim.objects.load import go_safe_dumper
from tests.budget import budget

_names = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_port_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
_ipv6 = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n)).filter(
    lambda a: a.ipv4_mapped is None).map(str)


@st.composite
def services(draw):
    """A valid Service manifest and the fields the loader must produce from it."""
    svc_type = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    ip = draw(st.one_of(_ipv4, _ipv6))
    numbers = draw(st.lists(st.integers(1, 65535), min_size=1, max_size=4, unique=True))
    names = draw(st.lists(_port_names, min_size=len(numbers), max_size=len(numbers), unique=True))
    if len(numbers) == 1:
        names = [draw(st.sampled_from(["", names[0]]))]
    node_ports = draw(st.lists(st.integers(30000, 32767), min_size=len(numbers), max_size=len(numbers),
                               unique=True))  # the API server refuses a node port used twice
    ports, expected_ports = [], []
    for name, number, drawn_node_port in zip(names, numbers, node_ports, strict=True):
        protocol = draw(st.sampled_from(list(Protocol)))
        target = draw(st.one_of(st.none(), st.integers(1, 65535), _port_names))
        node_port = drawn_node_port if svc_type is not ServiceType.CLUSTER_IP else 0
        port = {"port": number, "protocol": protocol.value}
        if name:
            port["name"] = name
        if target is not None:
            port["targetPort"] = target
        if node_port:
            port["nodePort"] = node_port
        ports.append(port)
        expected_ports.append((name, protocol, number, number if target is None else target, node_port))
    selector = draw(st.one_of(st.none(), st.dictionaries(_names, _names, min_size=1, max_size=3)))
    timeout = draw(st.integers(1, 86400))
    spec = {"type": svc_type.value, "clusterIP": ip, "ports": ports, "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": timeout}}}
    if selector is not None:
        spec["selector"] = selector
    manifest = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": draw(_names), "namespace": draw(_names)}, "spec": spec}
    expected = {"type": svc_type, "cluster_ips": (str(ipaddress.ip_address(ip)),), "ports": expected_ports,
                "selector": tuple(sorted(selector.items())) if selector else None, "timeout": timeout}
    return manifest, expected


def _check(manifest, expected, result):
    assert result.errors == (), result.errors
    (svc,) = result.cluster.services
    assert (svc.namespace, svc.name) == (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
    assert svc.type is expected["type"]
    assert svc.cluster_ips == expected["cluster_ips"]
    assert [(p.name, p.protocol, p.port, p.target_port, p.node_port) for p in svc.ports] == expected["ports"]
    assert svc.selector == expected["selector"]
    assert svc.affinity_timeout == expected["timeout"]


@settings(max_examples=budget(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services())
def test_valid_services_round_trip_through_yaml_and_json(case):
    manifest, expected = case
    # (go_safe_dumper: PyYAML's own writes a selector key n plain, which kubectl, as the loader, reads as false)
    _check(manifest, expected, load_text(yaml.dump(manifest, Dumper=go_safe_dumper()), "s.yaml"))
    _check(manifest, expected, load_text(json.dumps(manifest), "s.json"))


def _usable_endpoint(address: str) -> bool:
    """Whether the API takes ``address`` as an endpoint's: it refuses the special ones (loopback, link-local...)."""
    parsed = parse_ip(address)
    return parsed is not None and special_address(parsed) is None


_endpoint_ipv4: st.SearchStrategy[str] = _ipv4.filter(_usable_endpoint)


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(st.tuples(_endpoint_ipv4, st.booleans()), min_size=1, max_size=20))
def test_endpoint_slices_round_trip(endpoints):
    manifest = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "a"}},
                "addressType": "IPv4", "ports": [{"name": "p", "port": 80}],
                "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, ready in endpoints]}
    result = load_text(yaml.safe_dump(manifest))
    (eps,) = result.cluster.endpoint_slices
    assert [(e.addresses[0], e.conditions.ready) for e in eps.endpoints] == endpoints


@settings(max_examples=budget(100), deadline=None)
@given(_ipv4)
@example("127.0.0.1")
@example("0.0.0.0")
@example("169.254.169.254")
@example("224.0.0.5")
@example("224.0.1.5")
@example("0.1.2.3")
def test_an_endpoint_the_api_server_would_refuse_is_refused_on_both_paths(ip):
    """The bulk path and the checked one agree on which addresses the API server refuses (its
    ValidateNonSpecialIP: unspecified, loopback, link-local, link-local multicast)."""
    manifest = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "a"}},
                "addressType": "IPv4", "ports": [{"name": "p", "port": 80}], "endpoints": [{"addresses": [ip]}]}
    result = load_text(json.dumps(manifest))
    refused = ipaddress.IPv4Address(ip)
    expected = refused.is_unspecified or refused.is_loopback or refused.is_link_local or \
        refused in ipaddress.IPv4Network("224.0.0.0/24")
    assert bool(result.errors) == expected and len(result.cluster.endpoint_slices) == (0 if expected else 1)


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 70000), st.floats(allow_nan=False),
              st.sampled_from(["", "None", "10.0.0.1", "fd00::1", "TCP", "IPv4", "ClientIP", "x", "80"])),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(
                                   ["name", "namespace", "port", "ports", "clusterIP", "clusterIPs", "spec",
                                    "metadata", "addresses", "endpoints", "protocol", "targetPort", "type",
                                    "conditions", "ready", "status", "subsets", "ip", "labels", "addressType",
                                    "podIP", "podCIDR", "selector", "externalIPs", "ingress", "loadBalancer"]),
                                   children, max_size=4)),
    max_leaves=20)


@settings(max_examples=budget(300), deadline=None)
@given(st.sampled_from(["Service", "EndpointSlice", "Endpoints", "Node", "Pod", "List", "ServiceList"]),
       st.dictionaries(st.sampled_from(["metadata", "spec", "status", "endpoints", "addressType", "ports",
                                        "subsets", "items"]), _json, max_size=5))
def test_arbitrary_input_never_raises_and_never_hits_an_internal_error(kind, body):
    version = "discovery.k8s.io/v1" if kind == "EndpointSlice" else "v1"
    result = load_text(json.dumps({"apiVersion": version, "kind": kind, **body}), "fuzz.json")
    for diagnostic in result.diagnostics:
        assert "internal error" not in diagnostic.message, diagnostic
        assert diagnostic.file == "fuzz.json"


_CLUSTER = [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": {"topology.kubernetes.io/zone": "a"}},
     "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
     "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"}, "sessionAffinity": "ClientIP",
              "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}},
              "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-a", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.244.1.10"], "conditions": {"ready": True}, "nodeName": "node1", "zone": "a",
                    "hints": {"forZones": [{"name": "a"}]}}]},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "old", "namespace": "default"},
     "subsets": [{"addresses": [{"ip": "10.244.1.11", "nodeName": "node1"}], "ports": [{"port": 8080}]}]},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
     "spec": {"nodeName": "node1", "containers": [{"name": "c", "ports": [{"containerPort": 8080, "name": "http"}]}]},
     "status": {"podIP": "10.244.1.10", "podIPs": [{"ip": "10.244.1.10"}]}},
]
# the object that must come through whatever happens to the others: a Service and its slice, named apart
_KEPT = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kept", "namespace": "other"},
          "spec": {"clusterIP": "10.96.0.99", "ports": [{"port": 53, "protocol": "UDP"}]}},
         {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": "kept-a", "namespace": "other", "labels": {"kubernetes.io/service-name": "kept"}},
          "addressType": "IPv4", "ports": [{"port": 53, "protocol": "UDP"}],
          "endpoints": [{"addresses": ["10.244.2.2"]}]}]


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path] if path else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found += _paths(child, (*path, key))
    return found


_WHERE = [(i, path) for i, document in enumerate(_CLUSTER) for path in _paths(document)]


def _replaced(document: dict, path: tuple[object, ...], value: object) -> dict:
    """``document`` with ``value`` at ``path``; as it was when an earlier change took the path away."""
    document = json.loads(json.dumps(document))
    parent: object = document
    for key in path[:-1]:
        try:
            parent = parent[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return document
    last = path[-1]
    if isinstance(parent, list):
        if isinstance(last, int) and last < len(parent):  # (a list index only: a key of a list is no path)
            parent[last] = value
    elif isinstance(parent, dict):
        parent[last] = value
    return document


@settings(max_examples=budget(300), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_WHERE), _json), min_size=1, max_size=3), st.booleans())
def test_a_broken_field_costs_its_object_alone_and_every_error_says_where(changes, as_yaml):
    """QA-errors: any value at any field of any object (of every kind read) costs that object at most: the object
    apart still loads, and every error names the file and the field it is about, and the object too unless the
    field is the one that says what object it is (kind, apiVersion)."""
    documents = list(_CLUSTER)
    for (index, path), value in changes:
        documents[index] = _replaced(documents[index], path, value)
    stream = [*documents, *_KEPT]
    text = yaml.safe_dump_all(stream) if as_yaml else "\n".join(json.dumps(d) for d in stream)
    result = load_text(text, "m.yaml")
    assert ("other", "kept") in {(s.namespace, s.name) for s in result.cluster.services}
    assert ("other", "kept-a") in {(s.namespace, s.name) for s in result.cluster.endpoint_slices}
    for diagnostic in result.errors:
        if not as_yaml and diagnostic.message.startswith("syntax error: invalid value "):
            assert diagnostic.file == "m.yaml" and diagnostic.line, diagnostic  # (json.dumps' Infinity: no JSON)
            continue
        assert diagnostic.file == "m.yaml" and diagnostic.field, diagnostic
        assert diagnostic.object or diagnostic.field in ("kind", "apiVersion"), diagnostic
        assert "internal error" not in diagnostic.message and "Traceback" not in diagnostic.message, diagnostic


def test_a_slice_over_the_api_server_s_endpoint_limit_is_refused():
    manifest = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "a"}}, "addressType": "IPv4",
                "endpoints": [{"addresses": [f"10.1.{i // 250}.{i % 250 + 1}"]} for i in range(1001)]}
    result = load_text(json.dumps(manifest), "big.json")
    assert [str(d) for d in result.errors] == [
        "big.json: EndpointSlice default/s: endpoints: has 1001 endpoints; expected at most 1000 (the API server "
        "refuses more in one slice)"]
