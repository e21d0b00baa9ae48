"""Decoding discovery.k8s.io/v1 EndpointSlices and v1 Endpoints.

Slices are the bulk of a large cluster (hundreds of thousands of endpoints), so
the per-endpoint path avoids the generic helpers where it can: plain IPv4
addresses are matched by a regex, unset or common condition combinations reuse
shared immutable values, and the generic type-checked reads are only used for
the rare fields.
"""

from __future__ import annotations

from _socket import AF_INET, inet_pton  # (not socket.py: see objects.addr)
from collections.abc import Callable
from itertools import product
from typing import Any

from kubeproxy_sim.objects.addr import MAYBE_SPECIAL_V4, PTON_IS_STRICT, is_plain_ipv4, parse_ip
from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.decode import (
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    api_special_address,
    object_name,
    plain_protocol,
    read_enum,
    read_protocol,
)
from kubeproxy_sim.objects.decode import check_metadata as _check_metadata
from kubeproxy_sim.objects.fields import REFERENCE_KEYS, check_endpoint
from kubeproxy_sim.objects.mirror import (
    SERVICE_NAME_LABEL,
    Endpoints,
    EndpointsAddress,
    EndpointsPort,
    EndpointsSubset,
)
from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Origin,
)
from kubeproxy_sim.objects.overlap import repeated_addresses
from kubeproxy_sim.objects.report import Report, described, not_a_string, quote

_ADDRESS_TYPES = {t.value: t for t in AddressType}
_TRI = (None, True, False)
_CONDITIONS = {key: EndpointConditions(*key) for key in product(_TRI, _TRI, _TRI)}
MAX_SLICE_ENDPOINTS = 1000  # the API server's limits for one EndpointSlice
MAX_SLICE_PORTS = 100
MAX_ADDRESSES = 100


# -- EndpointSlice ----------------------------------------------------------------------------------


def decode_endpoint_slice(doc: dict[str, Any], origin: Origin, report: Report, where: str,
                          names: tuple[str, str, str] | None = None) -> EndpointSlice | None:
    """An EndpointSlice, with port protocols defaulted and the service name taken from its label; ``names``: see
    decode_service."""
    namespace, name, _ = names or object_name(doc)
    labels = _check_metadata(report, doc, where)
    address_type = doc.get("addressType")  # (read inline when it is one: _address_type's call only for the rest)
    if type(address_type) is not str or (address_type := _ADDRESS_TYPES.get(address_type)) is None:
        address_type = _address_type(report, doc)
    endpoints = _slice_endpoints(report, doc, address_type)
    ports = _slice_ports(report, doc)
    service_name = dict(labels).get(SERVICE_NAME_LABEL, "")
    if not service_name:
        report.warn(f"metadata.labels.{SERVICE_NAME_LABEL}",
                    "not set; kube-proxy ignores an EndpointSlice that does not name its Service")
    elif (len(service_name) > LABEL_VALUE.limit or LABEL_VALUE.match(service_name) is None) \
            and (problem := LABEL_VALUE.problem(service_name)) is not None:  # (problem's test inline first)
        report.error(f"metadata.labels.{SERVICE_NAME_LABEL}", problem)
    if report.failed:
        return None
    # EndpointSlice(...) built on a draft, as _fast_endpoint builds its endpoints: every field of EndpointSlice
    # must be written here (tests/objects/test_draft_builders.py checks the set and the result)
    es = object.__new__(_SLICE_DRAFT)
    es.namespace = namespace
    es.name = name
    es.service_name = service_name
    es.address_type = address_type or AddressType.IPV4
    es.endpoints = endpoints
    es.ports = ports
    es.labels = labels
    es.origin = origin
    es.__class__ = EndpointSlice
    for path, message in repeated_addresses(es):
        report.warn(path, message)
    return es


_SLICE_DRAFT: Any = draft_class(EndpointSlice)


def _address_type(report: Report, doc: dict[str, Any]) -> AddressType | None:
    if doc.get("addressType") in (None, ""):
        report.error("addressType", "required; expected IPv4, IPv6 or FQDN")
        return None
    return read_enum(report, doc, "addressType", "addressType", _ADDRESS_TYPES, None, "an address type")


def _slice_endpoints(report: Report, doc: dict[str, Any],
                     address_type: AddressType | None) -> tuple[Endpoint, ...]:
    """All endpoints; well-formed ones take the inlined fast path, anything unusual the checked one."""
    out: list[Endpoint] = []
    raw_endpoints = report.seq(doc, "endpoints", "endpoints")
    count = len(raw_endpoints)
    if count > MAX_SLICE_ENDPOINTS:
        report.error("endpoints", f"has {count} endpoints; expected at most {MAX_SLICE_ENDPOINTS} "
                                  "(the API server refuses more in one slice)")
        return ()
    fast_v4 = address_type is AddressType.IPV4
    i = 0
    while True:  # (not Report.each_mapping: its per-item path costs ~9% here)
        if fast_v4:
            i = _fast_endpoints(raw_endpoints, i, out, _MATCH)
        if i >= count:
            return tuple(out)
        endpoint = _endpoint(report, raw_endpoints[i], i, address_type)
        if endpoint is not None:
            out.append(endpoint)
        i += 1


_MATCH = None if PTON_IS_STRICT else is_plain_ipv4
"""How the fast path tells a canonical dotted quad: None for inet_pton inline (a strict one: glibc, musl), else
the regex's function (objects.addr.is_plain_ipv4)."""


def _fast_endpoint(raw: Any, match: Callable[[str], bool] | None) -> Endpoint | None:
    """One endpoint through :func:`_fast_endpoints`: the endpoint it builds, or None where it hands over."""
    out: list[Endpoint] = []
    return out[0] if _fast_endpoints([raw], 0, out, match) else None


def _fast_endpoints(raw_endpoints: list[Any], start: int, out: list[Endpoint],
                    match: Callable[[str], bool] | None) -> int:
    """Append to ``out`` the endpoints from ``start`` on while each is a common IPv4 endpoint with plain fields;
    the index of the first that is not (the checked path's), or the count when all were.

    Handing one over is never an error by itself: the checked path decides, and reports. One loop a slice, not a
    call an endpoint: 100,000 endpoints of a large cluster, and every instruction here counts (callgrind).
    ``match``: None to read the address with inet_pton inline (see :data:`_MATCH`).
    """
    conditions_of = _CONDITIONS
    draft = _ENDPOINT_DRAFT
    new = object.__new__
    for i in range(start, len(raw_endpoints)):
        raw = raw_endpoints[i]
        if type(raw) is not dict:
            return i
        addresses = raw.get("addresses")
        if type(addresses) is not list or len(addresses) != 1:
            return i
        address = addresses[0]
        if type(address) is not str or address.startswith(MAYBE_SPECIAL_V4):
            return i
        if match is None:
            try:
                inet_pton(AF_INET, address)
            except (OSError, ValueError):  # ValueError: embedded NUL
                return i
        elif not match(address):
            return i
        cond = raw.get("conditions")
        if cond is None:
            conditions = conditions_of[(None, None, None)]
        elif type(cond) is dict:
            ready, serving, terminating = key = (cond.get("ready"), cond.get("serving"), cond.get("terminating"))
            if not ((ready is None or ready is True or ready is False)
                    and (serving is None or serving is True or serving is False)
                    and (terminating is None or terminating is True or terminating is False)):
                return i
            # (a key not read: the checked path names it; a count, as known.issuperset(cond) costs several times
            # this, with the keys' 'in' only when one is null)
            held = len(cond)
            if held != (ready is not None) + (serving is not None) + (terminating is not None) \
                    and held != ("ready" in cond) + ("serving" in cond) + ("terminating" in cond):
                return i
            conditions = conditions_of[key]
        else:
            return i
        hostname = raw.get("hostname")
        node_name = raw.get("nodeName")
        zone = raw.get("zone")
        if not ((hostname is None or type(hostname) is str) and (node_name is None or type(node_name) is str)
                and (zone is None or type(zone) is str)):
            return i
        target = raw.get("targetRef")
        # every key held is one read here, not null (hints, an unknown key, a null: the checked path's)
        if len(raw) != 1 + (cond is not None) + (hostname is not None) + (node_name is not None) \
                + (zone is not None) + (target is not None):
            return i
        target_ref = None
        if target is not None:
            if type(target) is not dict or not REFERENCE_KEYS.issuperset(target):
                return i
            kind, namespace, name = target_ref = (target.get("kind", ""), target.get("namespace", ""),
                                                  target.get("name", ""))
            if type(kind) is not str or type(namespace) is not str or type(name) is not str:
                return i
        # Endpoint(...) built on a draft (objects.bulk.draft_class: ~2.3x cheaper than the frozen __init__): every
        # field of Endpoint must be written here (tests/objects/test_draft_builders.py checks the set and the
        # result)
        endpoint = new(draft)
        endpoint.addresses = (address,)
        endpoint.conditions = conditions
        endpoint.hostname = hostname or None
        endpoint.node_name = node_name or None
        endpoint.zone = zone or None
        endpoint.hints_for_zones = None
        endpoint.hints_for_nodes = None
        endpoint.target_ref = target_ref
        endpoint.__class__ = Endpoint
        out.append(endpoint)
    return len(raw_endpoints)


_ENDPOINT_DRAFT: Any = draft_class(Endpoint)


def _endpoint(report: Report, raw: Any, index: int, address_type: AddressType | None) -> Endpoint | None:
    """One endpoint, every field checked and every problem reported."""
    if type(raw) is not dict:
        report.error(f"endpoints[{index}]", f"expected a mapping, got {described(raw)}")
        return None
    check_endpoint(report, raw, index)
    addresses = _endpoint_addresses(report, raw.get("addresses"), index, address_type)
    conditions = _conditions(report, raw.get("conditions"), index)
    names = []
    for key in ("hostname", "nodeName", "zone"):
        value = raw.get(key)
        if not (value is None or type(value) is str):
            report.error(f"endpoints[{index}].{key}", not_a_string(value))
            value = None
        names.append(value or None)
    zones, nodes = _hints(report, raw, index) if raw.get("hints") is not None else (None, None)
    target = raw.get("targetRef")
    target_ref = _target_ref(report, raw, f"endpoints[{index}].targetRef") if target is not None else None
    if addresses is None or conditions is None:
        return None
    return Endpoint(addresses, conditions, names[0], names[1], names[2], zones, nodes, target_ref)


def _endpoint_addresses(report: Report, raw: Any, index: int,
                        address_type: AddressType | None) -> tuple[str, ...] | None:
    """1-100 addresses, all of the slice's address type, in canonical form."""
    path = f"endpoints[{index}].addresses"
    if type(raw) is not list:
        if raw is None:
            report.error(path, "required; expected 1 to 100 addresses")
        else:
            report.error(path, f"expected a list, got {described(raw)}")
        return None
    if not 1 <= len(raw) <= MAX_ADDRESSES:
        report.error(path, f"has {len(raw)} addresses; expected 1 to {MAX_ADDRESSES}")
        return None
    if address_type is AddressType.IPV4 and len(raw) == 1:
        first = raw[0]
        if type(first) is str and is_plain_ipv4(first) and not first.startswith(MAYBE_SPECIAL_V4):
            return (first,)
    out = []
    for k, text in enumerate(raw):
        canonical = _slice_address(report, text, f"{path}[{k}]", address_type)
        if canonical is not None:
            out.append(canonical)
    return tuple(out) if len(out) == len(raw) else None


def _slice_address(report: Report, text: Any, path: str, address_type: AddressType | None) -> str | None:
    """One address checked against the slice's address type (FQDN addresses are names, kept as is)."""
    if type(text) is not str or not text:
        report.error(path, f"expected an address, got {described(text)}")
        return None
    if address_type is AddressType.FQDN or address_type is None:
        return text
    parsed = parse_ip(text)
    if parsed is None:
        report.error(path, f"{quote(text)} is not an IP address")
        return None
    if parsed.family.value != address_type.value:
        report.error(path, f"{quote(text)} is not an {address_type.value} address "
                           f"(the slice's addressType is {address_type.value})")
        return None
    special = api_special_address(parsed)
    if special is not None:
        report.error(path, f"{quote(text)} is {special} address; the API server refuses it as an endpoint")
        return None
    if parsed.legacy:
        report.warn(path, f"{quote(text)} is a legacy address form; read as {parsed.text}")
    return parsed.text


def _conditions(report: Report, raw: Any, index: int) -> EndpointConditions | None:
    """ready/serving/terminating as given; unset stays None (kube-proxy reads unset ready as true)."""
    if raw is None:
        return _CONDITIONS[(None, None, None)]
    path = f"endpoints[{index}].conditions"
    if type(raw) is not dict:
        report.error(path, f"expected a mapping, got {described(raw)}")
        return None
    ready, serving, terminating = values = (raw.get("ready"), raw.get("serving"), raw.get("terminating"))
    if (ready is None or ready is True or ready is False) and \
            (serving is None or serving is True or serving is False) and \
            (terminating is None or terminating is True or terminating is False):
        return _CONDITIONS[values]
    for key, value in zip(("ready", "serving", "terminating"), values, strict=True):
        if value is not None and type(value) is not bool:
            report.error(f"{path}.{key}", f"expected true or false, got {described(value)}")
    return None


def _hints(report: Report, raw: dict[str, Any], index: int) -> tuple[tuple[str, ...] | None, ...]:
    """Topology hints: forZones / forNodes name lists; None when a list is absent.

    A zone hint is validated as a label value, which may be empty: kube-proxy on a node without a zone label
    (zone "") uses an endpoint hinted for zone "". A node hint names a Node, which cannot be empty.
    """
    path = f"endpoints[{index}].hints"
    hints = report.mapping(raw, "hints", path) or {}
    out: list[tuple[str, ...] | None] = []
    for key in ("forZones", "forNodes"):
        if hints.get(key) is None:
            out.append(None)
            continue
        names = []
        for _, item_path, item in report.mappings(hints, key, f"{path}.{key}", what="a mapping with a name"):
            if type(item.get("name")) is not str or not (item["name"] or key == "forZones"):  # see below
                report.error(f"{item_path}.name", f"required; expected a name, got {described(item.get('name'))}")
            else:
                names.append(item["name"])
        out.append(tuple(names))
    return out[0], out[1]


def _target_ref(report: Report, raw: dict[str, Any], path: str) -> tuple[str, str, str] | None:
    ref = report.mapping(raw, "targetRef", path)
    if ref is None:
        return None
    kind = report.string(ref, "kind", f"{path}.kind", "") or ""
    namespace = report.string(ref, "namespace", f"{path}.namespace", "") or ""
    name = report.string(ref, "name", f"{path}.name", "") or ""
    return (kind, namespace, name)


def _slice_ports(report: Report, doc: dict[str, Any]) -> tuple[EndpointPort, ...]:
    """Slice ports: name defaults to "", protocol to TCP; names must be unique (they key service ports)."""
    out = []
    names: dict[str, int] = {}
    raw_ports = report.seq(doc, "ports", "ports")
    if len(raw_ports) > MAX_SLICE_PORTS:
        report.error("ports", f"has {len(raw_ports)} ports; expected at most {MAX_SLICE_PORTS}")
        return ()
    for i, raw in enumerate(raw_ports):  # (Report.each_mapping's, its paths made only for the checked path)
        if type(raw) is not dict:
            report.error(f"ports[{i}]", f"expected a mapping, got {described(raw)}")
            continue
        plain = _plain_slice_port(raw)
        if plain is not None and (name := plain.name or "") not in names:  # (a clash is the checked path's to say)
            names[name] = i
            out.append(plain)
            continue
        path = f"ports[{i}]"
        name = report.string(raw, "name", f"{path}.name", "") or ""
        if name in names:
            report.error(f"{path}.name", f"{quote(name)} is also the name of ports[{names[name]}]; "
                                         "expected unique port names")
        names.setdefault(name, i)
        port = report.integer(raw, "port", f"{path}.port")
        if port == 0:  # (the API server's IsValidPortNum)
            report.error(f"{path}.port", "0 is not a valid port; expected 1-65535")
        else:
            port = report.port_number(port, f"{path}.port")
        if port is None and raw.get("port") is None:  # valid in the API; kube-proxy logs it and skips the port
            report.warn(f"{path}.port", "not set; kube-proxy ignores a slice port without a number, so no "
                                        "service port gets these endpoints through it")
        protocol = read_protocol(report, raw, f"{path}.protocol")
        app_protocol = report.string(raw, "appProtocol", f"{path}.appProtocol")
        out.append(EndpointPort(name=name, port=port, protocol=protocol, app_protocol=app_protocol))
    return tuple(out)


def _plain_slice_port(raw: dict[str, Any]) -> EndpointPort | None:
    """The port :func:`_slice_ports` reads from ``raw`` when every field it reads is plainly valid (nothing to say
    of it but a clash of names, which the caller checks); None for anything else, which the checked path reads and
    reports. Without a path or a call per field: one per slice of a large cluster (tests/objects/
    test_plain_ports_s2.py checks it against the checked path). The port is built on a draft, as
    _fast_endpoints builds its endpoints: EndpointPort's frozen ``__init__`` by keyword cost ~5,000 instructions a
    slice (callgrind); every field of EndpointPort must be written here (tests/objects/
    test_draft_builders_s_endpoint.py checks the set and the result)."""
    name = raw.get("name")
    if name is None:
        name = ""
    elif type(name) is not str:
        return None
    port = raw.get("port")
    if type(port) is not int or not 1 <= port <= 65535:
        return None
    protocol = plain_protocol(raw.get("protocol"))
    app_protocol = raw.get("appProtocol")
    if protocol is None or (app_protocol is not None and type(app_protocol) is not str):
        return None
    plain = object.__new__(_PORT_DRAFT)
    plain.name = name
    plain.port = port
    plain.protocol = protocol
    plain.app_protocol = app_protocol
    plain.__class__ = EndpointPort
    return plain


_PORT_DRAFT: Any = draft_class(EndpointPort)


# -- v1 Endpoints -----------------------------------------------------------------------------------


def decode_endpoints(doc: dict[str, Any], origin: Origin, report: Report, where: str,
                     names: tuple[str, str, str] | None = None) -> Endpoints | None:
    """A v1 Endpoints object, kept only to be mirrored into EndpointSlices; ``names``: see decode_service."""
    namespace, name, _ = names or object_name(doc)
    labels = _check_metadata(report, doc, where)
    meta = doc.get("metadata")
    if type(meta) is not dict:
        meta = {}
    annotations = meta.get("annotations")
    # (the API server holds strings; another value is kept as its text, only to tell revisions apart)
    pairs = tuple((str(k), v if type(v) is str else repr(v)) for k, v in annotations.items()) \
        if type(annotations) is dict else ()
    subsets = [_subset(report, raw, path) for _, path, raw in report.mappings(doc, "subsets", "subsets")]
    if report.failed:
        return None
    return Endpoints(namespace=namespace, name=name, subsets=tuple(subsets), labels=labels,
                     annotations=pairs, origin=origin)


def _subset(report: Report, raw: dict[str, Any], path: str) -> EndpointsSubset:
    """One subset; the API server refuses the whole Endpoints when a subset lists no address at all
    (validateEndpointSubsets), so nothing of it is mirrored. No ports is fine (a headless Service's)."""
    ready = _legacy_addresses(report, raw, "addresses", path)
    not_ready = _legacy_addresses(report, raw, "notReadyAddresses", path)
    # absent, null or [] (a value of another type is a wrong type, said at its field)
    if all(raw.get(key) in (None, []) for key in ("addresses", "notReadyAddresses")):
        report.error(path, "no addresses; expected at least one in addresses or notReadyAddresses (the API server "
                           "refuses a subset without any)")
    ports = _legacy_ports(report, raw, path)
    return EndpointsSubset(addresses=ready, not_ready_addresses=not_ready, ports=ports)


def _legacy_addresses(report: Report, raw: dict[str, Any], key: str, path: str) -> tuple[EndpointsAddress, ...]:
    out = []
    for _, item_path, item in report.mappings(raw, key, f"{path}.{key}"):
        text = item.get("ip")
        parsed = parse_ip(text)
        if parsed is None:
            if text is None:
                report.error(f"{item_path}.ip", "required; expected an IP address")
            else:
                report.error(f"{item_path}.ip", f"{quote(text)} is not an IP address")
            continue
        special = api_special_address(parsed)
        if special is not None:
            report.error(f"{item_path}.ip", f"{quote(text)} is {special} address; the API server refuses it as "
                                            "an endpoint")
            continue
        if parsed.legacy:
            report.warn(f"{item_path}.ip", f"{quote(text)} is a legacy address form; read as {parsed.text}")
        hostname = report.string(item, "hostname", f"{item_path}.hostname") or None
        node_name = report.string(item, "nodeName", f"{item_path}.nodeName")
        if node_name is not None and (problem := DNS1123_SUBDOMAIN.problem(node_name)) is not None:
            report.error(f"{item_path}.nodeName", problem)  # ValidateNodeName: set, even to "", it is checked
            continue
        node_name = node_name or None
        raw_ref = item.get("targetRef")
        target = _target_ref(report, item, f"{item_path}.targetRef") if raw_ref else None
        uid = (report.string(raw_ref, "uid", f"{item_path}.targetRef.uid", "") or "") if type(raw_ref) is dict else ""
        out.append(EndpointsAddress(ip=parsed.text, family=IPFamily(parsed.family), hostname=hostname,
                                    node_name=node_name, target_ref=target, uid=uid,
                                    written=text if isinstance(text, str) and text != parsed.text else ""))
    return tuple(out)


def _legacy_ports(report: Report, raw: dict[str, Any], path: str) -> tuple[EndpointsPort, ...]:
    """Endpoints ports: a port number is required, names must be set (if several) and unique."""
    items = report.seq(raw, "ports", f"{path}.ports")
    out = []
    names: dict[str, int] = {}
    for i, item_path, item in report.each_mapping(items, f"{path}.ports"):
        name = report.string(item, "name", f"{item_path}.name", "") or ""
        if len(items) > 1 and not name:
            report.error(f"{item_path}.name", "required when a subset has more than one port")
        elif name in names:
            report.error(f"{item_path}.name", f"{quote(name)} is also the name of {path}.ports[{names[name]}]; "
                                              "expected unique port names")
        names.setdefault(name, i)
        number = report.integer(item, "port", f"{item_path}.port")
        if number is None and item.get("port") is None:
            report.error(f"{item_path}.port", "required; expected a port number in 1-65535")
        elif number == 0:
            report.error(f"{item_path}.port", "0 is not a valid port; expected 1-65535")
        number = report.port_number(number, f"{item_path}.port") if number else None
        protocol = read_protocol(report, item, f"{item_path}.protocol")
        app_protocol = report.string(item, "appProtocol", f"{item_path}.appProtocol")
        if number is not None:
            out.append(EndpointsPort(name=name, port=number, protocol=protocol, app_protocol=app_protocol))
    return tuple(out)
