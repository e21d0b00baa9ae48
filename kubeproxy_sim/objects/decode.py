"""Turning one manifest (a parsed YAML/JSON mapping) into one typed, defaulted model object.

Each ``decode_*`` function applies the defaults the API server would have
filled in, checks what the data plane depends on, and returns the object, or
None when it is unusable; its findings go to the :class:`Report` it is given.
Where kube-proxy itself is lenient (legacy IPv4 forms, invalid external IPs,
padded source ranges, odd node ports) the decoder is lenient too and only warns,
so the simulation matches what a real node would do.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubeproxy_sim.objects.addr import ParsedCIDR, ParsedIP, is_plain_ipv4, parse_cidr, parse_ip, special_address
from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.model import (
    DEFAULT_AFFINITY_TIMEOUT,
    TRAFFIC_DISTRIBUTIONS,
    UNWATCHED_LABELS,
    IPFamily,
    LoadBalancerIngress,
    Origin,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from kubeproxy_sim.objects.report import Report, as_integer, described, not_a_string, number, quote, quoting_hint
from kubeproxy_sim.objects.service_type_rules import manifest_problems

DEFAULT_NAMESPACE = "default"
NODE_PORT_RANGE = (30000, 32767)
_PROTOCOLS = {p.value: p for p in Protocol}
_SERVICE_TYPES = {t.value: t for t in ServiceType}
_POLICIES = {p.value: p for p in TrafficPolicy}
_AFFINITIES = {a.value: a for a in SessionAffinity}
_FAMILIES = {f.value: f for f in IPFamily}


def _one_of(values: dict[str, Any]) -> str:
    """'A, B or C' for an "expected ..." clause."""
    names = list(values)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def read_enum(report: Report, parent: dict[str, Any], key: str, path: str, choices: dict[str, Any],
              default: Any, what: str, *, api_words: bool = False) -> Any:
    """A string enum field (case-sensitive, as the API is); unknown values are errors, one differing only in
    case named (``Nodeport``: NodePort to a reader, not to the API server). ``api_words``: the error also gives
    the API server's answer, ValidateService's NotSupported (``PATH: Unsupported value: "X": supported values:
    ...``, the set's values sorted), as the scenario's ``expose --type`` says it (controllers.script)."""
    raw = report.string(parent, key, path)
    if raw is None or raw == "":
        return default
    if raw in choices:
        return choices[raw]
    close = next((name for name in choices if name.lower() == raw.lower()), None)
    hint = f" (did you mean {close}? the value is case-sensitive)" if close else ""
    api = ""
    if api_words:
        supported = ", ".join(json.dumps(name) for name in sorted(choices))
        api = f"; the API server refuses it: {path}: Unsupported value: {json.dumps(raw)}: supported values: " \
              f"{supported}"
    report.error(path, f"{quote(raw)} is not {what}{hint}; expected {_one_of(choices)}{api}")
    return default


def read_protocol(report: Report, parent: dict[str, Any], path: str) -> Protocol:
    return read_enum(report, parent, "protocol", path, _PROTOCOLS, Protocol.TCP, "a protocol")


def plain_protocol(written: object) -> Protocol | None:
    """What :func:`read_protocol` reads from a protocol field holding ``written`` when it has nothing to say of it
    (unset, or a protocol's name); None for anything else."""
    if written is None:
        return Protocol.TCP
    return _PROTOCOLS.get(written) if type(written) is str else None


def read_ip(report: Report, value: Any, path: str, *, what: str = "an IP address") -> ParsedIP | None:
    """An address that must parse; a legacy leading-zero form is accepted with a warning."""
    parsed = parse_ip(value)
    if parsed is None:
        if isinstance(value, str):
            report.error(path, f"{quote(value)} is not {what}")
        else:
            report.error(path, not_a_string(value))
        return None
    if parsed.legacy:
        report.warn(path, f"{quote(value)} is a legacy address form; kube-proxy reads it as {parsed.text}")
    return parsed


def api_special_address(parsed: ParsedIP) -> str | None:
    """What makes an address one the API server refuses as an endpoint or external IP (ValidateNonSpecialIP):
    :func:`special_address`, with Go's IsLinkLocalMulticast for IPv6, which takes every ffX2::/16 (the low
    nibble of the second byte is 2, whatever the flags: ff12::1, ff32::1), not ff02::/16 alone."""
    special = special_address(parsed)
    if special is None and parsed.family is IPFamily.IPV6 and parsed.text[:2] == "ff" and parsed.text[3] == "2":
        return "a link-local multicast"  # (canonical text: the first group of an ff.. address has 4 digits)
    return special


# -- metadata ---------------------------------------------------------------------------------------


def object_name(doc: dict[str, Any], *, namespaced: bool = True) -> tuple[str, str, str]:
    """(namespace, name, display) read leniently, just to name the object in messages."""
    meta = doc.get("metadata")
    meta = meta if type(meta) is dict else {}
    name = meta.get("name")
    name = name if type(name) is str and name else ""
    if not namespaced:
        return "", name, name or "(unnamed)"
    namespace = meta.get("namespace")
    namespace = namespace if type(namespace) is str and namespace else DEFAULT_NAMESPACE
    return namespace, name, f"{namespace}/{name or '(unnamed)'}"


_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class NameRule:
    """How the API server validates one kind's metadata.name (pkg/apis/core/validation: ValidateServiceName is
    NameIsDNS1035Label; Endpoints, EndpointSlice, Pod and Node names are NameIsDNSSubdomain; a namespace is a
    DNS-1123 label): one precompiled fullmatch, and what to say when it fails."""

    __slots__ = ("expected", "limit", "match", "what")

    def __init__(self, pattern: re.Pattern[str], limit: int, what: str, expected: str) -> None:
        self.match = pattern.fullmatch
        self.limit = limit
        self.what = what
        self.expected = expected

    def problem(self, name: str) -> str | None:
        """None when ``name`` is valid; else the message (it is used unquoted in rule comments and chain keys,
        where a quote or a newline would break or inject rules)."""
        if len(name) <= self.limit and self.match(name) is not None:
            return None
        if len(name) > self.limit:
            return f"{quote(name)} is {len(name):,} characters long; expected at most {self.limit} ({self.what})"
        return f"{quote(name)} is not {self.what}; expected {self.expected} (the API server refuses it)"


_LABEL_WORDS = 'lower-case letters, digits and "-"'
DNS1035_LABEL = NameRule(_DNS1035_LABEL, 63, "a DNS-1035 label",
                         f"at most 63 {_LABEL_WORDS}, starting with a letter and ending with a letter or digit")
DNS1123_LABEL = NameRule(_DNS1123_LABEL, 63, "a DNS-1123 label",
                         f"at most 63 {_LABEL_WORDS}, starting and ending with a letter or digit")
LABEL_VALUE = NameRule(re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"), 63, "a label value",
                        'at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit')
DNS1123_SUBDOMAIN = NameRule(_DNS1123_SUBDOMAIN, 253, "a DNS-1123 subdomain",
                             f'at most 253 {_LABEL_WORDS} and ".", each "."-separated part starting and ending '
                             "with a letter or digit")


_GOOD_NAMESPACES: set[str] = {DEFAULT_NAMESPACE}  # namespaces already found valid (a cluster has few)


def check_metadata(report: Report, doc: dict[str, Any], where: str,
                   rule: NameRule = DNS1123_SUBDOMAIN, *, namespaced: bool = True) -> tuple[tuple[str, str], ...]:
    """Check name/namespace types, presence and form (``rule`` for the name, a DNS-1123 label for the
    namespace, as the API server does); return the labels."""
    meta = doc.get("metadata")
    if type(meta) is dict:  # the common case in one pass; anything unusual takes the reporting path below
        name = meta.get("name")
        namespace = meta.get("namespace")
        if type(name) is str and len(name) <= rule.limit and rule.match(name) is not None and (
                namespace is None or not namespaced or (type(namespace) is str and namespace in _GOOD_NAMESPACES)):
            return report.string_map(meta, "labels", "metadata.labels") or ()
    meta = report.mapping(doc, "metadata", "metadata")
    if meta is None:
        report.error("metadata.name", f"required; every object needs a name ({where})")
        return ()
    name = report.string(meta, "name", "metadata.name")
    if not name:
        if meta.get("name") is None or meta.get("name") == "":
            report.error("metadata.name", f"required; every object needs a name ({where})")
    else:
        problem = rule.problem(name)
        if problem is not None:
            report.error("metadata.name", problem)
    namespace = report.string(meta, "namespace", "metadata.namespace")
    if namespaced and namespace:
        problem = DNS1123_LABEL.problem(namespace)
        if problem is not None:
            report.error("metadata.namespace", problem)
        elif len(_GOOD_NAMESPACES) < 4096:
            _GOOD_NAMESPACES.add(namespace)
    return report.string_map(meta, "labels", "metadata.labels") or ()


# -- Service ----------------------------------------------------------------------------------------


_DNS_NAME = _DNS1123_SUBDOMAIN
"""A lowercase RFC 1123 subdomain: what the API server accepts as a Service's spec.externalName."""


def decode_service(doc: dict[str, Any], origin: Origin, report: Report, where: str,
                   names: tuple[str, str, str] | None = None) -> Service | None:
    """A v1 Service, defaulted; None when the data plane could not use it. Every field is read (and its problems
    reported) before giving up, so one run names all that is wrong with the object. ``names``: object_name's
    reading of ``doc``, when the caller made it (the loader does, once an object)."""
    namespace, name, _ = names or object_name(doc)
    labels = check_metadata(report, doc, where, DNS1035_LABEL)
    # (the common reads inline, their Report calls only where they may have something to say: once per Service of
    # a large cluster)
    spec = doc.get("spec")
    if type(spec) is not dict:
        spec = report.mapping(doc, "spec", "spec")
        if spec is None:
            if doc.get("spec") is not None:  # not a mapping, named: nothing in it to check, no cascade of messages
                return None
            spec = {}
    status = doc.get("status")
    if type(status) is not dict:
        status = report.mapping(doc, "status", "status") or {}
    svc_type = spec.get("type")
    if type(svc_type) is not str or (svc_type := _SERVICE_TYPES.get(svc_type)) is None:
        svc_type = read_enum(report, spec, "type", "spec.type", _SERVICE_TYPES, ServiceType.CLUSTER_IP,
                             "a Service type", api_words=True)
    external_name = spec.get("externalName")
    if type(external_name) is not str:
        external_name = report.string(spec, "externalName", "spec.externalName", "") or ""
    cluster_ips: tuple[str, ...] = ()
    families: tuple[IPFamily, ...] = ()
    cluster_ip: str | None = None  # not read for ExternalName, which has no cluster IP
    if svc_type is ServiceType.EXTERNAL_NAME:
        _check_external_name(report, external_name)
    else:
        cluster_ips, families, cluster_ip = _cluster_ips(report, spec, svc_type)
    ports = _service_ports(report, spec, svc_type, headless=cluster_ip == "None")
    raw_external = spec.get("externalIPs")
    if type(raw_external) is not list:
        raw_external = report.seq(spec, "externalIPs", "spec.externalIPs")
    external_ips = _lenient_ips(report, raw_external, "spec.externalIPs") if raw_external else ()
    source_ranges = _source_ranges(report, spec) if spec.get("loadBalancerSourceRanges") else ()
    ingress = _lb_ingress_if_load_balancer(report, status, svc_type) if status.get("loadBalancer") else ()
    affinity, timeout = _affinity(report, spec) if "sessionAffinity" in spec or "sessionAffinityConfig" in spec \
        else (SessionAffinity.NONE, DEFAULT_AFFINITY_TIMEOUT)
    # (unset, these say nothing: read_enum's default, no health check node port but a LoadBalancer's)
    external_policy = TrafficPolicy.CLUSTER if spec.get("externalTrafficPolicy") is None \
        else _external_policy(report, spec, svc_type, bool(raw_external))
    internal_policy = TrafficPolicy.CLUSTER if spec.get("internalTrafficPolicy") is None \
        else read_enum(report, spec, "internalTrafficPolicy", "spec.internalTrafficPolicy", _POLICIES,
                       TrafficPolicy.CLUSTER, "a traffic policy")
    hc_port = _health_check_node_port(report, spec, svc_type, external_policy) \
        if svc_type is ServiceType.LOAD_BALANCER or spec.get("healthCheckNodePort") is not None else 0
    selector = report.string_map(spec, "selector", "spec.selector") or None
    distribution = _traffic_distribution(report, spec) if "trafficDistribution" in spec else None
    publish = spec.get("publishNotReadyAddresses")
    if type(publish) is not bool:
        publish = bool(report.boolean(spec, "publishNotReadyAddresses", "spec.publishNotReadyAddresses"))
    if "allocateLoadBalancerNodePorts" in spec:  # (read by _service_ports; its type checked here)
        report.boolean(spec, "allocateLoadBalancerNodePorts", "spec.allocateLoadBalancerNodePorts")
    for path, problem, error in manifest_problems(spec, doc.get("metadata")):  # fields another type alone carries
        (report.error if error else report.warn)(path, problem)
    if report.failed:
        return None
    if labels:
        _note_unwatched(report, labels)
    # Service(...) built on a draft (objects.bulk.draft_class): its frozen __init__ takes 21 fields by keyword and
    # calls object.__setattr__ for each, ~10 times the plain stores, once per Service of a large cluster. Every
    # field of Service must be written here (tests/objects/test_draft_builders.py checks the set and the result)
    service = object.__new__(_SERVICE_DRAFT)
    service.namespace = namespace
    service.name = name
    service.type = svc_type
    service.cluster_ips = cluster_ips
    service.ip_families = families
    service.ports = ports
    service.selector = selector
    service.external_ips = external_ips
    service.load_balancer_ingress = ingress
    service.load_balancer_source_ranges = source_ranges
    service.external_traffic_policy = external_policy
    service.internal_traffic_policy = internal_policy
    service.health_check_node_port = hc_port
    service.session_affinity = affinity
    service.affinity_timeout = timeout
    service.external_name = external_name
    service.traffic_distribution = distribution
    service.labels = labels
    service.origin = origin
    service.publish_not_ready_addresses = publish
    service.cluster_ip_unset = cluster_ip == ""
    service.__class__ = Service
    return service


_SERVICE_DRAFT: Any = draft_class(Service)


def _check_external_name(report: Report, external_name: str) -> None:
    """An ExternalName Service's DNS name: kube-proxy writes no rule for it, yet a missing or malformed name is
    told, since the API server refuses it and cluster DNS would answer with it."""
    if not external_name:
        report.error("spec.externalName", "required for a Service of type ExternalName")
    elif not _DNS_NAME.fullmatch(external_name.removesuffix(".")) or len(external_name) > 254:
        report.warn("spec.externalName", f"{external_name!r} is not a DNS name; the API server refuses it "
                    "(kube-proxy ignores ExternalName services; cluster DNS answers with this CNAME)")


def _lb_ingress_if_load_balancer(report: Report, status: dict[str, Any],
                                 svc_type: ServiceType) -> tuple[LoadBalancerIngress, ...]:
    """status.loadBalancer.ingress, kept only on a LoadBalancer Service: the API server refuses it on any other
    type since 1.29, and an older one left there is no address kube-proxy serves."""
    ingress = _lb_ingress(report, status)
    if ingress and svc_type is not ServiceType.LOAD_BALANCER:
        report.warn("status.loadBalancer.ingress", f"only a LoadBalancer Service has one, not {svc_type.value}; "
                    "ignored")
        return ()
    return ingress


def _health_check_node_port(report: Report, spec: dict[str, Any], svc_type: ServiceType,
                            external_policy: TrafficPolicy) -> int:
    """spec.healthCheckNodePort, 0 when unset; a LoadBalancer Service with eTP Local is warned about when it
    lacks one, because the API server would have allocated it and its rule is then missing from ours."""
    if spec.get("healthCheckNodePort") is not None:
        return report.port_number(report.integer(spec, "healthCheckNodePort", "spec.healthCheckNodePort"),
                                  "spec.healthCheckNodePort") or 0
    if svc_type is ServiceType.LOAD_BALANCER and external_policy is TrafficPolicy.LOCAL:
        report.warn("spec.healthCheckNodePort", "not set; the API server would allocate one, so no health check "
                    "node port rule is made")
    return 0


def _traffic_distribution(report: Report, spec: dict[str, Any]) -> str | None:
    """spec.trafficDistribution as written: an unknown value is kept but warned about, since the API server
    refuses it and the EndpointSlice controller would write no hints for it."""
    distribution = report.string(spec, "trafficDistribution", "spec.trafficDistribution") or None
    if distribution is not None and distribution not in TRAFFIC_DISTRIBUTIONS:
        report.warn("spec.trafficDistribution", f"{quote(distribution)} is not a value the API server accepts; "
                    "expected PreferClose, PreferSameZone or PreferSameNode (the EndpointSlice controller then "
                    "writes no hints)")
    return distribution


def _note_unwatched(report: Report, labels: tuple[tuple[str, str], ...]) -> None:
    """A note per label that makes kube-proxy skip the Service (:data:`UNWATCHED_LABELS`): the object is valid,
    yet no rules are written for it, which would surprise without a word."""
    for key, value in labels:
        if key in UNWATCHED_LABELS:
            report.note(f"metadata.labels.{key}", f"{key}={value}: kube-proxy does not watch this Service (another "
                        "proxy serves it), so it writes no rules for it")


def _cluster_ips(report: Report, spec: dict[str, Any],
                 svc_type: ServiceType) -> tuple[tuple[str, ...], tuple[IPFamily, ...], str]:
    """clusterIP / clusterIPs / ipFamilies, reconciled as the API server keeps them consistent; and spec.clusterIP
    as written ("" when not set: the API server allocates one; "None": headless, which alone needs no ports)."""
    single = spec.get("clusterIP")  # (read inline where Report has nothing to say, as decode_service reads)
    if type(single) is not str:
        single = report.string(spec, "clusterIP", "spec.clusterIP") or ""
    many = spec.get("clusterIPs")
    if type(many) is not list:
        many = report.seq(spec, "clusterIPs", "spec.clusterIPs")
    raw_families = spec.get("ipFamilies")
    if type(raw_families) is not list:
        raw_families = report.seq(spec, "ipFamilies", "spec.ipFamilies")
    plain = _plain_cluster_ip(single, many, raw_families)
    if plain is not None:
        return plain
    given_families = _ip_families(report, raw_families) if raw_families else ()
    if many and single and many[0] != single:
        report.error("spec.clusterIPs[0]", f"{quote(many[0])} differs from spec.clusterIP {quote(single)}; "
                                           "expected the same address (clusterIPs[0] is clusterIP)")
        return (), (), single
    if many and not single:
        if spec.get("clusterIP") in (None, ""):  # (not one of another type: report.string named it)
            report.error("spec.clusterIPs", "set without spec.clusterIP; expected spec.clusterIP too (the API "
                                            "server refuses clusterIPs alone, and kube-proxy reads spec.clusterIP)")
        return (), (), single
    texts = list(many) if many else ([single] if single else [])
    path = "spec.clusterIPs" if many else "spec.clusterIP"
    if not texts:
        if spec.get("clusterIP") in (None, "") and spec.get("clusterIPs") in (None, []):  # (else named above)
            report.warn(path, "not set; the API server would allocate one, and kube-proxy skips a Service "
                              'without it (set an address, or "None" for a headless Service)')
        return (), given_families, single
    if texts[0] == "None":
        if len(texts) > 1:
            report.error(f"{path}[1]" if many else path, '"None" (headless) must be the only cluster IP')
        if svc_type is not ServiceType.CLUSTER_IP:
            report.error(path + ("[0]" if many else ""),
                         f'"None" (headless) is only valid for type ClusterIP, not {svc_type.value}')
        return (), given_families, single
    return (*_parse_cluster_ips(report, texts, path if not many else None, given_families), single)


_IPV4_ONLY = (IPFamily.IPV4,)


def _plain_cluster_ip(single: str, many: list[Any], raw_families: list[Any]) \
        -> tuple[tuple[str, ...], tuple[IPFamily, ...], str] | None:
    """What :func:`_cluster_ips` returns for one canonical IPv4 cluster IP (clusterIPs unset or the same address,
    ipFamilies unset or IPv4), where it has nothing to say; None for anything else, which it reads and checks.
    Once per Service of a large cluster: the checked path (parse_ip, a ParsedIP, the families' checks) cost
    ~10,000 instructions a Service (callgrind; tests/objects/test_plain_cluster_ip_s_endpoint.py checks the two
    agree)."""
    if single and is_plain_ipv4(single) and (not many or (len(many) == 1 and many[0] == single)) \
            and (not raw_families or (len(raw_families) == 1 and raw_families[0] == "IPv4")):
        return (single,), _IPV4_ONLY, single
    return None


def _parse_cluster_ips(report: Report, texts: list[Any], single_path: str | None,
                       given_families: tuple[IPFamily, ...]) -> tuple[tuple[str, ...], tuple[IPFamily, ...]]:
    """Parse the cluster IPs (at most one per family) and check them against ipFamilies."""
    ips: list[str] = []
    families: list[IPFamily] = []
    if len(texts) > 2:
        report.error("spec.clusterIPs", f"has {len(texts)} addresses; expected at most 2 (one per IP family)")
    for i, text in enumerate(texts[:2]):
        path = single_path or f"spec.clusterIPs[{i}]"
        parsed = read_ip(report, text, path)
        if parsed is None:
            continue
        if parsed.family in families:
            report.error(path, f"{quote(text)} is {parsed.family.value} like spec.clusterIPs[0]; "
                               "expected one address of each IP family")
            continue
        ips.append(parsed.text)
        families.append(parsed.family)
    for i, family in enumerate(given_families[: len(families)]):
        if family is not families[i]:
            report.error(f"spec.ipFamilies[{i}]", f"{family.value} does not match the cluster IP "
                                                  f"{ips[i]} ({families[i].value})")
    return tuple(ips), tuple(families)


def _ip_families(report: Report, raw: list[Any]) -> tuple[IPFamily, ...]:
    families = []
    for i, item in enumerate(raw):
        if isinstance(item, str) and item in _FAMILIES:  # a list or a mapping here is not hashable
            families.append(_FAMILIES[item])
        else:
            report.error(f"spec.ipFamilies[{i}]", f"{quote(item)} is not an IP family; expected IPv4 or IPv6")
    return tuple(families)


def _service_ports(report: Report, spec: dict[str, Any], svc_type: ServiceType,
                   *, headless: bool) -> tuple[ServicePort, ...]:
    """spec.ports: each port defaulted and checked, then the set checked for clashes."""
    raw_ports = report.seq(spec, "ports", "spec.ports")
    if not spec.get("ports") and not headless and svc_type is not ServiceType.EXTERNAL_NAME:
        report.error("spec.ports", "required; expected at least one port")
    ports: list[tuple[int, ServicePort]] = []
    multi = len(raw_ports) > 1
    allocated = svc_type is ServiceType.NODE_PORT or (
        svc_type is ServiceType.LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") in (None, True))
    external = svc_type is ServiceType.NODE_PORT or svc_type is ServiceType.LOAD_BALANCER
    for i, raw in enumerate(raw_ports):  # (Report.each_mapping's, its paths made only for the checked path)
        if type(raw) is not dict:
            report.error(f"spec.ports[{i}]", f"expected a mapping, got {described(raw)}")
            continue
        port = _plain_service_port(raw, multi, external, allocated)
        if port is None:
            port = _service_port(report, raw, f"spec.ports[{i}]", svc_type, multi=multi, allocated=allocated)
        if port is not None:
            ports.append((i, port))
    _check_port_clashes(report, ports)
    return tuple(port for _, port in ports)


def _plain_service_port(raw: dict[str, Any], multi: bool, external: bool, allocated: bool) -> ServicePort | None:
    """The port :func:`_service_port` reads from ``raw`` when every field it reads is plainly valid (nothing to
    say of it); None for anything else, which the checked path reads and reports.

    Read without a path or a call per field: one per service port of a large cluster (tests/objects/
    test_plain_ports_s2.py checks it against the checked path, and that it hands over whatever that path says
    something of).
    """
    name = raw.get("name")
    if name is None or name == "":
        if multi:  # (required then)
            return None
        name = ""
    elif type(name) is not str or len(name) > DNS1123_LABEL.limit or DNS1123_LABEL.match(name) is None:
        return None
    protocol = plain_protocol(raw.get("protocol"))
    if protocol is None:
        return None
    number = raw.get("port")
    if type(number) is not int or not 1 <= number <= 65535:
        return None
    target = raw.get("targetPort")
    if target is None:
        target = number
    elif type(target) is int:
        if target == 0:
            target = number
        elif not 1 <= target <= 65535:
            return None
    elif type(target) is str:
        if target == "":
            target = number
        elif not _is_port_name(target):
            return None
    else:
        return None
    node_port = raw.get("nodePort")
    if node_port is None:
        if allocated:  # (warned of)
            return None
        node_port = 0
    elif type(node_port) is not int or not external or not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
        return None
    app_protocol = raw.get("appProtocol")
    if app_protocol is not None and type(app_protocol) is not str:
        return None
    # ServicePort(...) built on a draft, as decode_service builds the Service: every field of ServicePort must be
    # written here (tests/objects/test_draft_builders.py checks the set and the result)
    port = object.__new__(_SERVICE_PORT_DRAFT)
    port.name = name
    port.protocol = protocol
    port.port = number
    port.target_port = target
    port.node_port = node_port
    port.app_protocol = app_protocol
    port.__class__ = ServicePort
    return port


def _service_port(report: Report, raw: dict[str, Any], path: str, svc_type: ServiceType,
                  *, multi: bool, allocated: bool = False) -> ServicePort | None:
    """One entry of spec.ports, with targetPort and protocol defaulted."""
    name = report.string(raw, "name", f"{path}.name", "") or ""
    if multi and not name:
        report.error(f"{path}.name", "required when a Service has more than one port")
    elif name and (problem := DNS1123_LABEL.problem(name)) is not None:  # it is written into rule comments
        report.error(f"{path}.name", problem)
    protocol = read_protocol(report, raw, f"{path}.protocol")
    number = report.integer(raw, "port", f"{path}.port")
    if number is None and raw.get("port") is None:
        report.error(f"{path}.port", "required; expected a port number in 1-65535")
    elif number == 0:
        report.error(f"{path}.port", "0 is not a valid Service port; expected 1-65535")
        number = None
    else:
        number = report.port_number(number, f"{path}.port")
    target = _target_port(report, raw, f"{path}.targetPort", number)
    node_port = report.port_number(report.integer(raw, "nodePort", f"{path}.nodePort"), f"{path}.nodePort")
    if node_port is not None or raw.get("nodePort") is None:  # else the value was reported as wrong already
        node_port = _check_node_port(report, node_port or 0, f"{path}.nodePort", svc_type, allocated)
    node_port = node_port or 0
    app_protocol = report.string(raw, "appProtocol", f"{path}.appProtocol")
    if number is None or target is None:
        return None
    # the plain constructor: a port reaches this path only when the plain one has something to say of it (no port
    # of a large generated cluster does), so the draft is built in _plain_service_port alone
    return ServicePort(name=name, protocol=protocol, port=number, target_port=target, node_port=node_port,
                       app_protocol=app_protocol)


_SERVICE_PORT_DRAFT: Any = draft_class(ServicePort)


def _target_port(report: Report, raw: dict[str, Any], path: str, port: int | None) -> int | str | None:
    """targetPort: a number, or a container port name; unset, 0 and "" all mean "same as port"."""
    value = raw.get("targetPort")
    if value is None or value == 0 or value == "":
        if value is False:  # (False == 0) the API's decoder refuses a boolean for an int-or-string
            report.error(path, _not_a_port(value))
            return None
        return port
    if (whole := as_integer(value)) is not None:  # kubectl sends 8080.0 as 8080
        return report.port_number(whole, path)
    if type(value) is str:
        if _is_port_name(value):
            return value
        report.error(path, f"{quote(value)} is not a port name; expected a number in 1-65535 "
                           'or a name of up to 15 lower-case letters, digits and "-" with at least one letter')
        return None
    report.error(path, _not_a_port(value))
    return None


def _not_a_port(value: object) -> str:
    """The error of a targetPort of the wrong type. A boolean is told how YAML made it one (:func:`quoting_hint`):
    ``targetPort: n`` is a port name to its writer but false to go-yaml, and the API server's IntOrString
    (UnmarshalJSON: not a JSON string, so an int32) refuses it ("cannot unmarshal bool ... of type int32")."""
    return f"expected a port number or name, got {described(value)}{quoting_hint(value)}"


def _is_port_name(text: str) -> bool:
    """An IANA service name, the only form a named targetPort may take."""
    if not 1 <= len(text) <= 15 or text[0] == "-" or text[-1] == "-" or "--" in text:
        return False
    if not all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in text):
        return False
    return any(c.isalpha() for c in text)


def _check_node_port(report: Report, node_port: int, path: str, svc_type: ServiceType,
                     allocated: bool = False) -> int:
    """A node port outside the default range works (kube-proxy does not check), so only warn; one the API
    server would allocate (NodePort, LoadBalancer unless allocateLoadBalancerNodePorts is false) but the
    manifest lacks is warned about too: its rules are missing."""
    external = svc_type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER)
    if node_port and not external:
        report.error(path, f"only valid for type NodePort or LoadBalancer, not {svc_type.value}")
        return 0
    if node_port and not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
        report.warn(path, f"{node_port} is outside the default node port range "
                          f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}; kube-proxy uses it as given")
    elif not node_port and allocated:
        report.warn(path, "not set; the API server would allocate one, so no node port rules are made for "
                          "this port")
    return node_port


def _check_port_clashes(report: Report, ports: list[tuple[int, ServicePort]]) -> None:
    """Port names and port/protocol pairs must be unique: kube-proxy keys service ports by them."""
    names: dict[str, int] = {}
    pairs: dict[tuple[int, Protocol], int] = {}
    node_ports: dict[tuple[int, Protocol], int] = {}
    for position, port in ports:
        taken = node_ports.setdefault((port.node_port, port.protocol), position) if port.node_port else position
        if taken != position:
            report.error(f"spec.ports[{position}].nodePort", f"{port.node_port}/{port.protocol.value} is also "
                         f"spec.ports[{taken}]'s; expected each node port and protocol once")
        if port.name in names:
            report.error(f"spec.ports[{position}].name", f"{quote(port.name)} is also the name of "
                                                         f"spec.ports[{names[port.name]}]; "
                                                         "expected unique port names")
        else:
            names[port.name] = position
        key = (port.port, port.protocol)
        if key in pairs:
            report.error(f"spec.ports[{position}]", f"{port.port}/{port.protocol.value} is also "
                                                    f"spec.ports[{pairs[key]}]; "
                                                    "expected each port and protocol once")
        else:
            pairs[key] = position


def _lenient_ips(report: Report, raw: list[Any], path: str) -> tuple[str, ...]:
    """externalIPs: kube-proxy drops what it cannot parse, so an invalid entry is only a warning."""
    out = []
    for i, text in enumerate(raw):
        parsed = parse_ip(text)
        if parsed is None:
            report.warn(f"{path}[{i}]", f"{quote(text)} is not an IP address; kube-proxy ignores it")
            continue
        special = api_special_address(parsed)
        if special is not None:  # the API server refuses the Service over it; here the address alone goes
            report.warn(f"{path}[{i}]", f"{quote(text)} is {special} address, which the API server refuses as an "
                                        "external IP; ignored")
            continue
        if parsed.legacy:
            report.warn(f"{path}[{i}]", f"{quote(text)} is a legacy address form; kube-proxy reads it "
                                        f"as {parsed.text}")
        out.append(parsed.text)
    return tuple(out)


_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
"""What Go's strings.TrimSpace trims (unicode.IsSpace): Python's str.strip() also trims \\x1c-\\x1f."""


def _source_ranges(report: Report, spec: dict[str, Any]) -> tuple[str, ...]:
    """loadBalancerSourceRanges: padding is trimmed and bad CIDRs dropped, both as kube-proxy does; the rest
    canonical, as the proxier takes them (one parse, here)."""
    read: list[tuple[str, object, ParsedCIDR]] = []
    for i, text in enumerate(report.seq(spec, "loadBalancerSourceRanges", "spec.loadBalancerSourceRanges")):
        path = f"spec.loadBalancerSourceRanges[{i}]"
        parsed = read_source_range(text)
        if parsed is None:
            report.warn(path, f"{quote(text)} is not a CIDR like 10.0.0.0/8; kube-proxy ignores it")
            continue
        read.append((path, text, parsed))
    for path, text, parsed in read:
        others = {other.family for _, _, other in read if other is not parsed}
        widened = _mapped_range_widened(parsed, others)
        if widened:
            report.warn(path, f"{quote(text)} is {widened}")
    return tuple(parsed.text for _, _, parsed in read)


def read_source_range(text: object) -> ParsedCIDR | None:
    """One loadBalancerSourceRanges entry as kube-proxy reads it (serviceport.go: strings.TrimSpace, then
    ParseCIDRSloppy); None when it is no CIDR."""
    return parse_cidr(text.strip(_GO_SPACE)) if isinstance(text, str) else None


def _mapped_range_widened(parsed: ParsedCIDR, others: set[IPFamily]) -> str | None:
    """What an IPv4-mapped range of /96 or less is to kube-proxy, whose parser (Go's) counts its prefix over
    128 bits: /96 leaves no bit of the IPv4 address, so 0.0.0.0/0; below /96 the ::ffff: is masked off too, and
    the range is an IPv6 one, which each proxier keeps or drops by family (``others``: the families of the
    Service's other ranges, which decide what that does to each family's clients). Either way not the IPv4 range
    its writer meant; None for the other ranges."""
    if not parsed.mapped or (parsed.family is IPFamily.IPV4 and parsed.text != "0.0.0.0/0"):
        return None
    meant = "an IPv4 range is a.b.c.d/n, or ::ffff:a.b.c.d/n+96"
    if parsed.family is IPFamily.IPV4:
        return (f"0.0.0.0/0 as kube-proxy reads it (its prefix counts 128 bits, and /96 leaves none of the IPv4 "
                f"address): every IPv4 client is let in; {meant}")
    v4 = ("the Service's other IPv4 ranges alone decide which IPv4 clients get in" if IPFamily.IPV4 in others
          else "with no other IPv4 range, the Service's IPv4 rules let every IPv4 client in")
    v6 = ("beside the Service's other IPv6 ranges, it lets in no more real IPv6 clients" if IPFamily.IPV6 in others
          else "as the Service's only IPv6 range, its IPv6 rules let in only clients in that reserved block: no "
               "real IPv6 client")
    return (f"the IPv6 range {parsed.text} as kube-proxy reads it (its prefix counts 128 bits, and below 96 the "
            f"::ffff: is masked off): the IPv4 proxier does not see it ({v4}); the IPv6 proxier keeps it ({v6}); "
            f"{meant}")


def _lb_ingress(report: Report, status: dict[str, Any]) -> tuple[LoadBalancerIngress, ...]:
    """status.loadBalancer.ingress; an unparseable IP is dropped (kube-proxy skips it)."""
    lb = report.mapping(status, "loadBalancer", "status.loadBalancer") or {}
    out = []
    for _, path, raw in report.mappings(lb, "ingress", "status.loadBalancer.ingress"):
        ip_text = report.string(raw, "ip", f"{path}.ip")
        ip = None
        if ip_text:
            parsed = parse_ip(ip_text)
            if parsed is None:
                report.warn(f"{path}.ip", f"{quote(ip_text)} is not an IP address; kube-proxy ignores it")
            else:
                ip = parsed.text
        hostname = report.string(raw, "hostname", f"{path}.hostname") or None
        ip_mode = read_enum(report, raw, "ipMode", f"{path}.ipMode", {"VIP": "VIP", "Proxy": "Proxy"}, None,
                            "an IP mode")
        if raw.get("ipMode") == "":  # set but empty: not unset (kube-proxy writes no rule for it), and refused
            report.error(f"{path}.ipMode", '"" is not an IP mode; expected "VIP" or "Proxy", or no ipMode at all')
        out.append(LoadBalancerIngress(ip=ip, hostname=hostname, ip_mode=ip_mode))
    return tuple(out)


def _affinity(report: Report, spec: dict[str, Any]) -> tuple[SessionAffinity, int]:
    """sessionAffinity and its ClientIP timeout (API default 10800 s, allowed 1-86400)."""
    affinity = read_enum(report, spec, "sessionAffinity", "spec.sessionAffinity", _AFFINITIES,
                         SessionAffinity.NONE, "a session affinity")
    if affinity is not SessionAffinity.CLIENT_IP:  # the API server's defaulting clears the config then
        return affinity, DEFAULT_AFFINITY_TIMEOUT
    config = report.mapping(spec, "sessionAffinityConfig", "spec.sessionAffinityConfig") or {}
    client = report.mapping(config, "clientIP", "spec.sessionAffinityConfig.clientIP") or {}
    path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    timeout = report.integer(client, "timeoutSeconds", path)
    if timeout is None:
        return affinity, DEFAULT_AFFINITY_TIMEOUT
    if not 1 <= timeout <= 86400:
        report.error(path, f"{number(timeout)} is not in 1-86400")
        return affinity, DEFAULT_AFFINITY_TIMEOUT
    return affinity, timeout


def _external_policy(report: Report, spec: dict[str, Any], svc_type: ServiceType,
                     has_external_ips: bool) -> TrafficPolicy:
    """externalTrafficPolicy; kube-proxy treats it as Cluster unless the Service is reachable from outside."""
    policy = read_enum(report, spec, "externalTrafficPolicy", "spec.externalTrafficPolicy", _POLICIES,
                       TrafficPolicy.CLUSTER, "a traffic policy")
    accessible = svc_type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER) or (
        svc_type is ServiceType.CLUSTER_IP and has_external_ips)
    if policy is TrafficPolicy.LOCAL and not accessible:
        report.warn("spec.externalTrafficPolicy", "Local has no effect on a Service without node ports, "
                                                  "external IPs or a load balancer; read as Cluster")
        return TrafficPolicy.CLUSTER
    return policy
