"""Decoding v1 Nodes and v1 Pods: the host facts (addresses, pod CIDRs, zone labels) and pod state."""

from __future__ import annotations

from typing import Any

from kubeproxy_sim.objects.addr import parse_cidr, parse_ip
from kubeproxy_sim.objects.decode import (
    DNS1123_SUBDOMAIN,
    check_metadata,
    object_name,
    read_enum,
    read_ip,
    read_protocol,
)
from kubeproxy_sim.objects.model import (
    SINGLE_POD_CIDR,
    ContainerPort,
    DNSPolicy,
    Node,
    NodeAddress,
    Origin,
    Pod,
    PodDNSConfig,
)
from kubeproxy_sim.objects.report import Report, not_a_string, quote

_IP_ADDRESS_TYPES = frozenset({"InternalIP", "ExternalIP"})
_DNS_POLICIES = {p.value: p for p in DNSPolicy}
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048
"""The API server's limits on spec.dnsConfig (pkg/apis/core/validation: MaxDNSNameservers, MaxDNSSearchPaths,
MaxDNSSearchListChars), which the kubelet applies again to the merged resolv.conf."""


def decode_node(doc: dict[str, Any], origin: Origin, report: Report, where: str,
                names: tuple[str, str, str] | None = None) -> Node | None:
    """A Node: its addresses, pod CIDRs (podCIDRs, or the older single podCIDR) and labels; ``names``: see
    decode_service (read as a cluster-scoped object's)."""
    _, name, _ = names or object_name(doc, namespaced=False)
    labels = check_metadata(report, doc, where, namespaced=False)
    spec = report.mapping(doc, "spec", "spec") or {}
    status = report.mapping(doc, "status", "status") or {}
    pod_cidrs, pod_cidrs_field = _pod_cidrs(report, spec)
    addresses = _node_addresses(report, status)
    if report.failed:
        return None
    return Node(name=name, addresses=addresses, pod_cidrs=pod_cidrs, labels=labels, origin=origin,
                pod_cidrs_field=pod_cidrs_field)


def _pod_cidrs(report: Report, spec: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """spec.podCIDRs, falling back to spec.podCIDR; when the two differ, podCIDR wins, as the API server's
    conversion keeps it (the authoritative field for older clients) and stores podCIDRs = [podCIDR]. Every entry
    given is checked under its own path, the one that loses too (the API server validates both). With the field
    they were taken from (:attr:`Node.pod_cidrs_field`)."""
    single = report.string(spec, "podCIDR", SINGLE_POD_CIDR, "")
    many = report.seq(spec, "podCIDRs", "spec.podCIDRs")
    same = bool(many) and single == many[0]  # (then podCIDR is checked as podCIDRs[0])
    alone = _pod_cidr(report, SINGLE_POD_CIDR, single) if single and not same else None
    listed = [_pod_cidr(report, f"spec.podCIDRs[{i}]", text) for i, text in enumerate(many)]
    if single and not same:
        if many and type(many[0]) is str:  # (an entry of another type was an error above)
            report.warn("spec.podCIDRs[0]", f"{quote(many[0])} differs from spec.podCIDR {quote(single)}; the "
                                            "API server keeps spec.podCIDR alone, and so does this")
        return () if alone is None else (alone,), SINGLE_POD_CIDR
    return tuple(p for p in listed if p is not None), "spec.podCIDRs"


def _pod_cidr(report: Report, path: str, text: object) -> str | None:
    """One pod CIDR in its canonical form, or None (reported at ``path``)."""
    if type(text) is not str:
        report.error(path, not_a_string(text))
        return None
    parsed = parse_cidr(text)
    if parsed is None:
        report.error(path, f"{quote(text)} is not a CIDR like 10.244.0.0/24")
        return None
    return parsed.text


def _node_addresses(report: Report, status: dict[str, Any]) -> tuple[NodeAddress, ...]:
    """status.addresses; InternalIP and ExternalIP are IP addresses, other types are names. The API server
    does not check an address's text, and kube-proxy (GetNodeHostIPs) skips an InternalIP or ExternalIP it
    cannot parse: such an address is a warning, and goes alone (the Node, its zone and podCIDRs stay)."""
    out = []
    for _, path, raw in report.mappings(status, "addresses", "status.addresses"):
        kind = report.string(raw, "type", f"{path}.type", "")
        address = report.string(raw, "address", f"{path}.address", "")
        if not kind:
            report.error(f"{path}.type", "required; expected InternalIP, ExternalIP, Hostname, ...")
            continue
        if not address:
            if raw.get("address") in (None, ""):  # (a non-string was named above)
                wanted = "an IP address" if kind in _IP_ADDRESS_TYPES else "a host name"
                report.error(f"{path}.address", f"required; expected {wanted}")
            continue
        if kind in _IP_ADDRESS_TYPES:
            parsed = parse_ip(address)
            if parsed is None:
                report.warn(f"{path}.address", f"{quote(address)} is not an IP address; kube-proxy ignores this "
                                               f"{kind}")
                continue
            if parsed.legacy:
                report.warn(f"{path}.address", f"{quote(address)} is a legacy address form; kube-proxy reads it "
                                               f"as {parsed.text}")
            address = parsed.text
        out.append(NodeAddress(type=kind, address=address))
    return tuple(out)


def decode_pod(doc: dict[str, Any], origin: Origin, report: Report, where: str,
               names: tuple[str, str, str] | None = None) -> Pod | None:
    """A Pod: where it runs, its IPs, container ports, and whether it is ready or terminating; ``names``: see
    decode_service."""
    namespace, name, _ = names or object_name(doc)
    labels = check_metadata(report, doc, where)
    meta = report.mapping(doc, "metadata", "metadata") or {}
    spec = report.mapping(doc, "spec", "spec") or {}
    status = report.mapping(doc, "status", "status") or {}
    node_name = report.string(spec, "nodeName", "spec.nodeName") or None
    host_network = bool(report.boolean(spec, "hostNetwork", "spec.hostNetwork"))
    ports = _container_ports(report, spec)
    sidecar_ports = _container_ports(report, spec, "initContainers")
    pod_ips = _pod_ips(report, status)
    phase = report.string(status, "phase", "status.phase", "Running") or "Running"
    ready = _ready(report, status)
    terminating = meta.get("deletionTimestamp") is not None
    dns_policy, dns_config = (DNSPolicy.CLUSTER_FIRST, None) if "dnsConfig" not in spec and spec.get(
        "dnsPolicy", "ClusterFirst") == "ClusterFirst" else _pod_dns(report, spec)  # the common case in one test
    if report.failed:
        return None
    return Pod(namespace=namespace, name=name, node_name=node_name, pod_ips=pod_ips, host_network=host_network,
               labels=labels, ports=ports, sidecar_ports=sidecar_ports, phase=phase, ready=ready,
               terminating=terminating, dns_policy=dns_policy, dns_config=dns_config, origin=origin)


def _pod_dns(report: Report, spec: dict[str, Any]) -> tuple[DNSPolicy, PodDNSConfig | None]:
    """spec.dnsPolicy (absent or "": ClusterFirst, the API server's default) and spec.dnsConfig, refused where
    the API server refuses them (validateDNSPolicy, validatePodDNSConfig), since they decide how the pod
    resolves names: a policy of the enum, at most 3 nameservers that are addresses, at most 32 searches of
    at most 2048 characters in all that are DNS-1123 subdomains, options with a name; None needs a nameserver."""
    policy = read_enum(report, spec, "dnsPolicy", "spec.dnsPolicy", _DNS_POLICIES, DNSPolicy.CLUSTER_FIRST,
                       "a DNS policy")
    raw = report.mapping(spec, "dnsConfig", "spec.dnsConfig")
    if raw is None:
        if policy is DNSPolicy.NONE:
            report.error("spec.dnsConfig", "required when spec.dnsPolicy is None (the pod's resolv.conf is "
                                           "dnsConfig alone); expected at least one nameserver")
        return policy, None
    nameservers = _nameservers(report, raw)
    if policy is DNSPolicy.NONE and not raw.get("nameservers"):
        report.error("spec.dnsConfig.nameservers", "required when spec.dnsPolicy is None; expected at least one "
                                                   "nameserver address")
    config = PodDNSConfig(nameservers=nameservers, searches=_searches(report, raw), options=_options(report, raw))
    return policy, config


def _capped(report: Report, raw: dict[str, Any], key: str, limit: int, noun: str) -> list[Any]:
    """The list spec.dnsConfig.KEY, its length refused over the API server's ``limit``."""
    items = report.seq(raw, key, f"spec.dnsConfig.{key}")
    if len(items) > limit:
        report.error(f"spec.dnsConfig.{key}", f"{len(items)} {noun}; expected at most {limit} (the API server "
                                              "refuses more)")
    return items


def _nameservers(report: Report, raw: dict[str, Any]) -> tuple[str, ...]:
    items = _capped(report, raw, "nameservers", MAX_DNS_NAMESERVERS, "nameservers")
    out = []
    for i, item in enumerate(items):
        parsed = read_ip(report, item, f"spec.dnsConfig.nameservers[{i}]", what="an IP address (a nameserver)")
        if parsed is not None:
            out.append(parsed.text)
    return tuple(out)


def _searches(report: Report, raw: dict[str, Any]) -> tuple[str, ...]:
    items = _capped(report, raw, "searches", MAX_DNS_SEARCH_PATHS, "search domains")
    out = []
    for i, item in enumerate(items):
        path = f"spec.dnsConfig.searches[{i}]"
        if type(item) is not str:
            report.error(path, not_a_string(item))
            continue
        problem = DNS1123_SUBDOMAIN.problem(item.removesuffix("."))  # a trailing dot is allowed
        if problem is not None:
            report.error(path, problem)
            continue
        out.append(item)
    length = len(" ".join(item for item in items if type(item) is str))
    if length > MAX_DNS_SEARCH_LIST_CHARS:
        report.error("spec.dnsConfig.searches", f"{length:,} characters (with the spaces between them); expected "
                                                f"at most {MAX_DNS_SEARCH_LIST_CHARS} (the API server refuses more)")
    return tuple(out)


def _options(report: Report, raw: dict[str, Any]) -> tuple[tuple[str, str | None], ...]:
    out = []
    for _, path, item in report.mappings(raw, "options", "spec.dnsConfig.options"):
        name = report.string(item, "name", f"{path}.name")
        value = report.string(item, "value", f"{path}.value")
        if not name:
            if item.get("name") is None or item.get("name") == "":
                report.error(f"{path}.name", "required; expected a resolver option such as ndots")
            continue
        out.append((name, value))
    return tuple(out)


def _container_ports(report: Report, spec: dict[str, Any], key: str = "containers") -> tuple[ContainerPort, ...]:
    """Every container's ports, in order: named targetPorts resolve through these. ``key`` "initContainers": those
    of the sidecars alone (restartPolicy Always, the one value the API server takes there), the init containers
    FindPort searches; an init container that runs to completion serves no Service."""
    out = []
    for _, path, container in report.mappings(spec, key, f"spec.{key}"):
        if key == "initContainers" and not is_sidecar(report, container, path):
            continue
        for _, port_path, raw in report.mappings(container, "ports", f"{path}.ports"):
            name = report.string(raw, "name", f"{port_path}.name") or None
            number = report.integer(raw, "containerPort", f"{port_path}.containerPort")
            if raw.get("containerPort") is None:
                report.error(f"{port_path}.containerPort", "required; expected a port number in 1-65535")
            elif number == 0:
                report.error(f"{port_path}.containerPort", "0 is not a valid port; expected 1-65535")
                number = None
            number = report.port_number(number, f"{port_path}.containerPort")
            protocol = read_protocol(report, raw, f"{port_path}.protocol")
            if number is not None:
                out.append(ContainerPort(name=name, container_port=number, protocol=protocol))
    return tuple(out)


def is_sidecar(report: Report, container: dict[str, Any], path: str) -> bool:
    """Whether an init container is a sidecar: restartPolicy Always. Any other value the API server refuses
    (validateInitContainerRestartPolicy: "Unsupported value: ...: supported values: "Always""), a Pod's as a
    Deployment template's (controllers.decode reads those with this too)."""
    policy = report.string(container, "restartPolicy", f"{path}.restartPolicy")
    if policy is not None and policy != "Always":
        report.error(f"{path}.restartPolicy", f'Unsupported value: {quote(policy)}: supported values: "Always"')
    return policy == "Always"


def _pod_ips(report: Report, status: dict[str, Any]) -> tuple[str, ...]:
    """status.podIPs, falling back to status.podIP; when they differ, podIP wins (the API server's conversion)."""
    single = report.string(status, "podIP", "status.podIP", "")
    texts: list[tuple[str, Any]] = [(f"{path}.ip", item.get("ip"))
                                    for _, path, item in report.mappings(status, "podIPs", "status.podIPs")]
    if not texts:
        texts = [("status.podIP", single)] if single else []
    elif single:
        if read_ip(report, single, "status.podIP") is None:
            return ()
        first_path, first = texts[0]
        if first_path == "status.podIPs[0].ip" and first != single:  # the API server keeps podIP alone
            if type(first) is not str:  # (the API server's decoding refuses it before any conversion)
                report.error(first_path, not_a_string(first))
                return ()
            report.warn(first_path, f"{quote(first)} differs from status.podIP {quote(single)}; the API server "
                                    "keeps status.podIP alone, and so does this")
            texts = [("status.podIP", single)]
    out = []
    for path, text in texts:
        parsed = read_ip(report, text, path)
        if parsed is not None:
            out.append(parsed.text)
    return tuple(out)


def _ready(report: Report, status: dict[str, Any]) -> bool:
    """The Ready condition's status; a pod without one (a hand-written manifest) counts as ready."""
    for _, _, raw in report.mappings(status, "conditions", "status.conditions"):
        if raw.get("type") == "Ready":
            return raw.get("status") == "True"
    return True
