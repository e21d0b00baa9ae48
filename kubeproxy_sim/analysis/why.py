"""Why a traced packet ended where it did, in the words of the Service and its endpoints.

The trace's paths name iptables rules; an on-call reader wants the object behind the rule: the Service field
(``spec.externalTrafficPolicy``, ``spec.loadBalancerSourceRanges``, ``--nodeport-addresses``) or the endpoint
condition (ready, serving, terminating) that made kube-proxy write it. These notes read the rule comments
kube-proxy writes (``NS/NAME:PORT has no endpoints``, ...) to find the service port an outcome met, then the
objects the rules were made from to say why. Only traces of rules generated from objects get them: a dump has
no objects to explain itself with.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubeproxy_sim.netfilter.packet import split_endpoint
from kubeproxy_sim.objects.model import AddressType, Protocol
from kubeproxy_sim.proxier.config import DetectLocalMode
from kubeproxy_sim.proxier.naming import KUBE_FORWARD
from kubeproxy_sim.proxier.rules.context import local_detector, nodeport_destinations
from kubeproxy_sim.proxier.rules.external import DROPPED_BY_FIREWALL, OTHER_TRAFFIC, POD_TRAFFIC
from kubeproxy_sim.proxier.rules.filter import INVALID_STATE, NOT_ACCEPTED
from kubeproxy_sim.proxier.rules.plan import NO_ENDPOINTS, NO_LOCAL_ENDPOINTS
from kubeproxy_sim.proxier.state import all_service_ports, endpoints_map, service_ports
from kubeproxy_sim.proxier.topology import TopologyMode, topology_mode

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.packet import Packet
    from kubeproxy_sim.netfilter.trace import Outcome, TraceResult
    from kubeproxy_sim.objects.model import Cluster, Endpoint, EndpointSlice, Pod, Service
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo
    from kubeproxy_sim.simulator.network import ReplyLoss, Simulator
    from kubeproxy_sim.simulator.send import Evidence, Failed, SendResult

_COMMENT_NAME = re.compile(rf'--comment "?(?:{OTHER_TRAFFIC} )?([^" ]+)')
"""The service port a kube-proxy rule comment names: its first word (``default/web:http has no endpoints``),
or the one after ``other traffic to`` (a KUBE-FW chain's last rule)."""


@dataclass(frozen=True, slots=True)
class Index:
    """A cluster's Services and EndpointSlices by namespace and (Service) name, found once: dist asks for notes
    at every failing entry (800 Local Services on 20 nodes: 16,000), and a scan of the whole cluster for each
    cost a fifth of its run."""

    cluster: Cluster
    services: Mapping[tuple[str, str], tuple[Service, ...]]
    slices: Mapping[tuple[str, str], tuple[EndpointSlice, ...]]  # of both families, by the Service they are of
    # found as asked, for every node (what differs by node is not in them: whose endpoint is local, see _on_node)
    ports: dict[tuple[str, bool], ServicePortInfo | None] = field(default_factory=dict)  # by name_string, ipv6
    endpoints: dict[tuple[str, bool], tuple[EndpointInfo, ...]] = field(default_factory=dict)
    named: dict[str, str | None] = field(default_factory=dict)  # a rule's text: the service port it names
    read: dict[tuple[tuple[str, ...], str, bool], tuple[ServicePortInfo | None, int]] = field(default_factory=dict)
    listed: dict[tuple[str, bool], dict[str, Endpoint]] = field(default_factory=dict)
    usable: dict[tuple[str, bool], str] = field(default_factory=dict)  # where a port's usable endpoints are
    by_node: dict[tuple[str, bool], dict[str, list[str]]] = field(default_factory=dict)  # its endpoints' conditions
    dropped: dict[int, tuple[ProxyConfig, str]] = field(default_factory=dict)  # by id: see _not_local_traffic
    anywhere: dict[int, tuple[ProxyConfig, ProxyConfig]] = field(default_factory=dict)  # by id: see _endpoints
    pods: list[dict[str, Pod]] = field(default_factory=list)  # by address, made once on first use: see pod_at

    @classmethod
    def of(cls, cluster: Cluster) -> Index:
        services: dict[tuple[str, str], list[Service]] = {}
        for service in cluster.services:
            services.setdefault((service.namespace, service.name), []).append(service)
        slices: dict[tuple[str, str], list[EndpointSlice]] = {}
        for eps in cluster.endpoint_slices:
            slices.setdefault((eps.namespace, eps.service_name), []).append(eps)
        return cls(cluster, {k: tuple(v) for k, v in services.items()}, {k: tuple(v) for k, v in slices.items()})

    def pod_at(self, ip: str) -> Pod | None:
        """The first pod of the cluster having ``ip`` that is not host-network (a host-network pod's address is its
        node's), from a map made on first use: send asks for every delivered row and trace for every DNAT of a
        split, and a scan of 100,000 pods for each of 100,000 rows took send from 13 to 29 s of CPU."""
        if not self.pods:  # (a one-slot list, not the map itself: an empty map, no pods, is made once too)
            by_address: dict[str, Pod] = {}
            for pod in self.cluster.pods:
                if not pod.host_network:
                    for address in pod.pod_ips:
                        by_address.setdefault(address, pod)
            self.pods.append(by_address)
        return self.pods[0].get(ip)


_DNAT_TO = re.compile(r" -j DNAT --to-destination (\S+)")
"""A KUBE-SEP chain's DNAT as the trace's path writes it, and where it sends the connection."""


def why_notes(objects: tuple[Cluster, ProxyConfig], packet: Packet, result: TraceResult,
              index: Index | None = None) -> list[str]:
    """One sentence per reason an outcome shows, in outcome order, each once (see the module's docstring);
    ``index``, the cluster's (``Index.of``), when a caller asks of one cluster many times."""
    return [reason.note for reason in why_reasons(objects, packet, result, index)]


@dataclass(frozen=True, slots=True)
class Reason:
    """One sentence of :func:`why_reasons` and the verdicts of the outcomes it explains: a reader that wants a
    DROP's reasons picks them by what they explain, not by the words they are said in (a rewording would
    silently lose them). No verdict for a reason of the packet's address rather than of an outcome's rules (a
    NodePort at an address ``--nodeport-addresses`` leaves out)."""

    note: str
    verdicts: frozenset[str] = frozenset()


def why_reasons(objects: tuple[Cluster, ProxyConfig], packet: Packet, result: TraceResult,
                index: Index | None = None) -> list[Reason]:
    """:func:`why_notes`' sentences, each with the verdicts of the outcomes that gave it (:class:`Reason`)."""
    cluster, config = objects
    index = Index.of(cluster) if index is None else index
    said: dict[str, set[str]] = {}  # note -> verdicts, in the order first said
    outcomes = result.outcomes
    for outcome in outcomes:  # a split's (400 at large-cluster) share their port: the index holds it
        svc, reading = _reading(index, config, outcome)
        if svc is None:
            continue
        found = _outcome_notes(index, config, packet, outcome, svc, reading, len(outcomes) > 1)
        if outcome.verdict == "DNAT" and svc.client_ip_affinity and _lists_assumed(result) \
                and not _held_by_a_list(outcome):
            found.append(affinity_note(svc, config))
        for note in found:
            said.setdefault(note, set()).add(outcome.verdict)
    if config.nodeport_addresses and not any(o.verdict == "DNAT" for o in outcomes):
        for note in _unserved_node_port(cluster, config, packet):
            said.setdefault(note, set())
    return [Reason(note, frozenset(verdicts)) for note, verdicts in said.items()]


@dataclass(frozen=True, slots=True)
class Cause:
    """A reason several entry nodes' traces gave, said once (:func:`merged_causes`), with the nodes whose traces
    gave it and the verdicts it explains: which nodes a merged sentence holds for is kept as data, since the
    sentence itself may name none of them (a reason of the Service's, the same everywhere) or only some (a list
    cut short: ``nodes A, B, C, D and 3 more``). No nodes: no node's rules gave it (an ipMode Proxy balancer
    turning a client away before any node sees its connection: analysis.exact's ``_proxied_view``)."""

    note: str
    nodes: tuple[str, ...]
    verdicts: frozenset[str]


def merged_causes(said: Iterable[tuple[str, Reason]]) -> list[Cause]:
    """Reasons of several entry nodes (node, reason), each said once: notes that differ only in the node they
    name become one sentence naming the nodes (dist's view of a Local Service drops at each node without an
    endpoint, for the same reason), in first-seen order, holding for every node that gave it and explaining
    every verdict it was given for."""
    nodes: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    verdicts: dict[str, set[str]] = {}
    for node, reason in said:
        note = reason.note
        # \bnode as a look-behind after the literal word: a pattern that starts with a literal is searched for
        # ahead, which made dist's merging of 14,400 notes six times faster than \b first
        key = re.sub(rf"node(?<!\wnode) {re.escape(node)}(?![\w.-])", "node \0", note)
        named = nodes.setdefault(key, [])
        if node not in named:
            named.append(node)
        first.setdefault(key, note)
        verdicts.setdefault(key, set()).update(reason.verdicts)
    return [Cause(first[key] if len(named) == 1 or "\0" not in key else _for_nodes(key, named), tuple(named),
                  frozenset(verdicts[key])) for key, named in nodes.items()]


def _for_nodes(key: str, named: Sequence[str]) -> str:
    nodes = f"nodes {_some(named)}"
    return key.replace("node \0 has ", f"{nodes} have ").replace("node \0", nodes)


def _lists_assumed(result: TraceResult) -> bool:
    """Whether the trace assumed a session-affinity list does not hold the client (none named by --affinity)."""
    return any(u.reason.startswith("recent list ") for u in result.uncertain)


def _held_by_a_list(outcome: Outcome) -> bool:
    """Whether the outcome went through a recent check that matched: the client is in an --affinity list (a list
    not given is assumed not to hold it, so only a given one matches), and this is where it goes back to, not a
    new client's share; the lists the trace assumed are then other endpoints' (checked before the one given)."""
    return any(" -m recent " in step.rule and (" --rcheck" in step.rule or " --update" in step.rule)
               for step in outcome.path)


def affinity_note(svc: ServicePortInfo, config: ProxyConfig) -> str:
    return (f"{svc.name_string} has spec.sessionAffinity ClientIP (timeoutSeconds {svc.affinity_timeout}): these "
            f"shares are a new client's; one that node {config.node_name} sent to an endpoint less than "
            f"{svc.affinity_timeout} s ago goes back to it every time (its KUBE-SEP chain's recent list holds it: "
            "--affinity LIST traces that)")


def _named_ports(index: Index, outcome: Outcome) -> list[str]:
    """The service ports (``ns/name:port``) the outcome's rule comments name, in path order."""
    known = index.named
    names: dict[str, None] = {}
    for step in outcome.path:
        rule = step.rule
        if rule not in known:
            found = _COMMENT_NAME.search(rule)
            known[rule] = found.group(1) if found and "/" in found.group(1) else None
        name = known[rule]
        if name:
            names[name] = None
    return list(names)


def _service_port(index: Index, config: ProxyConfig, names: Sequence[str]) -> ServicePortInfo | None:
    """The last service port the path names (the one whose rules decided), as the proxier sees it."""
    for name in reversed(names):
        key = (name, config.ipv6)
        if key not in index.ports:
            index.ports[key] = next((info for service in _services_named(index, name)
                                     for info in service_ports(service, config) if info.name_string == name), None)
        if index.ports[key] is not None:
            return index.ports[key]
    return None


def _services_named(index: Index, name: str) -> Iterable[Service]:
    namespace, _, rest = name.partition("/")
    short = rest.split(":", 1)[0]
    return index.services.get((namespace, short), ())


_NO_ENDPOINTS, _NO_LOCAL, _NO_LOCAL_INTERNAL, _FIREWALLED, _DNAT, _DNATED_ONTO_FIREWALL = range(1, 7)
"""What an outcome's rules say (:func:`_reading`): the comment of a REJECT for no endpoints, a Local policy's DROP
(external, or internal: in KUBE-SERVICES), the source ranges' DROP after the Service's KUBE-FW chain let the
source through to no endpoint, a DNAT, and that DROP of a connection another Service's DNAT sent to the
load-balancer address (it passed no KUBE-FW chain); 0 for none of them."""


def _reading(index: Index, config: ProxyConfig, outcome: Outcome) -> tuple[ServicePortInfo | None, int]:
    """The service port an outcome's rules decided for (:func:`_service_port`) and what they say of it, found once
    per path text and verdict: dist asks it of every node a Local policy drops at (800 ports on 18 nodes each), and
    their paths read alike."""
    key = (tuple([step.rule for step in outcome.path]), outcome.verdict, config.ipv6)
    found = index.read.get(key)
    if found is None:
        svc = _service_port(index, config, _named_ports(index, outcome))
        found = index.read[key] = (svc, 0 if svc is None else _said(outcome, svc))
    return found


def _said(outcome: Outcome, svc: ServicePortInfo) -> int:
    rules = "\n".join(step.rule for step in outcome.path)  # one text to look for the comments in
    if outcome.verdict == "REJECT" and f'{svc.name_string} {NO_ENDPOINTS}"' in rules:
        return _NO_ENDPOINTS
    if outcome.verdict == "DROP" and NO_LOCAL_ENDPOINTS in rules:
        internal = any(s.chain == "KUBE-SERVICES" and NO_LOCAL_ENDPOINTS in s.rule for s in outcome.path)
        return _NO_LOCAL_INTERNAL if internal else _NO_LOCAL
    if outcome.verdict == "DROP" and f'{svc.name_string} {NOT_ACCEPTED} KUBE-FW-' in rules:
        # KUBE-PROXY-FIREWALL drops whatever is still addressed to the load-balancer IP and port: only a path
        # through the Service's KUBE-FW chain to its last rule says the source is outside the ranges
        if f"{svc.name_string} {DROPPED_BY_FIREWALL}" in rules:
            return _FIREWALLED
        return _DNATED_ONTO_FIREWALL if _DNAT_TO.search(rules) else 0
    return _DNAT if outcome.verdict == "DNAT" else 0


def _outcome_notes(index: Index, config: ProxyConfig, packet: Packet, outcome: Outcome,
                   svc: ServicePortInfo, said: int, split: bool) -> list[str]:
    """The notes of one outcome, its rules saying ``said`` of ``svc`` (:func:`_reading`); ``split``: the outcome
    is one of several (the packet reaches its endpoint only sometimes)."""
    if said == _NO_ENDPOINTS:
        return [no_endpoints_note(index, config, svc, _endpoints(index, config, svc))]
    if said in (_NO_LOCAL, _NO_LOCAL_INTERNAL):
        return [no_local_endpoints_note(index, config, svc, _endpoints(index, config, svc),
                                        said == _NO_LOCAL_INTERNAL)]
    if said == _FIREWALLED:
        return [source_ranges_note(svc, packet)]
    if said == _DNATED_ONTO_FIREWALL:
        return [dnated_onto_firewall_note(index, svc, outcome)]
    if said == _DNAT and outcome.destination:
        return _delivered_notes(index, config, packet, outcome, svc, _endpoints(index, config, svc), split)
    return []


# --------------------------------------------------------------------------- endpoints as kube-proxy reads them


def _slices(index: Index, svc: ServicePortInfo, ipv6: bool) -> list[EndpointSlice]:
    """The port's slices of the proxier's family (as endpoints_map reads them: a dual-stack Service's IPv6 slice
    is no endpoint of its IPv4 rules)."""
    family = AddressType.IPV6 if ipv6 else AddressType.IPV4
    return [s for s in index.slices.get((svc.namespace, svc.name), ()) if s.address_type is family]


def _endpoints(index: Index, config: ProxyConfig, svc: ServicePortInfo) -> tuple[EndpointInfo, ...]:
    """The port's endpoints as the proxier of ``config``'s family reads them, none local (see _on_node)."""
    key = (svc.name_string, config.ipv6)
    if key not in index.endpoints:
        known = index.anywhere.get(id(config))  # (a config's copy is made once: dist asks for 800 ports' here)
        if known is None or known[0] is not config:
            known = index.anywhere[id(config)] = (config, dataclasses.replace(config, node_name=""))
        index.endpoints[key] = endpoints_map(_slices(index, svc, config.ipv6), known[1]).get(svc.key, ())
    return index.endpoints[key]


def _on_node(index: Index, config: ProxyConfig, svc: ServicePortInfo) -> set[str]:
    """The addresses of the port's endpoints on ``config``'s node (endpoints_map's is_local, worked out here as
    _endpoints' are every node's)."""
    return {ip for ip, ep in _listed(index, svc, config.ipv6).items()
            if config.node_name and ep.node_name == config.node_name}


def _listed(index: Index, svc: ServicePortInfo, ipv6: bool) -> dict[str, Endpoint]:
    """The slices' endpoints by address, whatever their ports (the first copy of each)."""
    key = (svc.name_string, ipv6)
    if key not in index.listed:
        found = index.listed[key] = {}
        for eps in _slices(index, svc, ipv6):
            for ep in eps.endpoints:
                if ep.addresses:
                    found.setdefault(ep.addresses[0], ep)
    return index.listed[key]


def conditions_text(endpoint: Endpoint) -> str:
    """An endpoint's conditions as the slice spells them (unset ones as kube-proxy reads them)."""
    cond = endpoint.conditions
    return (f"ready {str(cond.counts_ready).lower()}, serving {str(cond.counts_serving).lower()}, "
            f"terminating {str(bool(cond.terminating)).lower()}")


def _some(items: Sequence[str], most: int = 4) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def no_endpoints_note(index: Index, config: ProxyConfig, svc: ServicePortInfo,
                      endpoints: tuple[EndpointInfo, ...]) -> str:
    """Why kube-proxy rejects: the port has no endpoint it may use, and which of the three reasons it is."""
    head = (f"{svc.name_string} has no endpoints, so kube-proxy rejects the connection (ICMP port unreachable): ")
    listed = _listed(index, svc, config.ipv6)
    if endpoints:  # listed with this port, none ready nor serving while terminating
        ips = {ep.ip for ep in endpoints}
        states = [f"{ip} ({conditions_text(ep)})" for ip, ep in listed.items() if ip in ips]
        return (head + f"none of its endpoints is ready, or serving while terminating: {_some(states)}; "
                "kube-proxy uses ready endpoints, else serving terminating ones" + _publish_text(index, svc))
    if listed:
        port = f"{svc.port_name!r}" if svc.port_name else "without a name"
        port += f" ({svc.protocol.value})"
        return head + f"its EndpointSlices list {_some(list(listed))} but no port {port}" + _port_left_out(index, svc)
    return head + "its EndpointSlices list no address" + _selector_text(index, svc)


def _publish_text(index: Index, svc: ServicePortInfo) -> str:
    """The Service field that lists not-ready pods as ready, when the Service has a selector and not it."""
    service = _service(index, svc)
    if service is None or service.selector is None or service.publish_not_ready_addresses:
        return ""
    return " (spec.publishNotReadyAddresses true would have the EndpointSlice controller list its pods as ready)"


def _service(index: Index, svc: ServicePortInfo) -> Service | None:
    return next(iter(_services_named(index, f"{svc.namespace}/{svc.name}")), None)


def _port_left_out(index: Index, svc: ServicePortInfo) -> str:
    """Who left the port out: the EndpointSlice controller, of a named targetPort no container of the pod has
    (FindPort fails); a numeric one FindPort always returns, so slices without it are not the controller's."""
    service = _service(index, svc)
    ports = [p for p in service.ports if p.name == svc.port_name] if service else []
    if ports and isinstance(ports[0].target_port, int):
        return (f"; the Service's targetPort is a number ({ports[0].target_port}), which the EndpointSlice "
                "controller always writes, so these EndpointSlices were written by hand or by another controller")
    return ("; the EndpointSlice controller leaves out a port when the pod has no container port of the Service's "
            "targetPort" + (f" ({ports[0].target_port})" if ports else ""))


def _selector_text(index: Index, svc: ServicePortInfo) -> str:
    """What spec.selector finds among the pods read (pods are optional input: nothing said without them)."""
    service = _service(index, svc)
    if service is None or service.selector is None:
        return " (the Service has no selector: its EndpointSlices are written by hand or by another controller)"
    selector = ",".join(f"{k}={v}" for k, v in service.selector)
    pods = [p for p in index.cluster.pods if p.namespace == svc.namespace]
    if not pods:
        return f" (spec.selector {selector}; no pod of namespace {svc.namespace} was read to check it against)"
    matched = [p for p in pods if set(service.selector) <= set(p.labels)]
    if not matched:
        return f"; spec.selector {selector} matches none of the {len(pods)} pods read in namespace {svc.namespace}"
    names = [f"{p.name} ({'ready' if p.ready else 'not ready'})" for p in matched]
    return f"; spec.selector {selector} matches pods {_some(names)} (are their slices missing?)"


def no_local_endpoints_note(index: Index, config: ProxyConfig, svc: ServicePortInfo,
                            endpoints: tuple[EndpointInfo, ...], internal: bool) -> str:
    """Why a Local traffic policy drops here: this node has none of the port's usable endpoints."""
    listed = _listed(index, svc, config.ipv6)
    key = (svc.name_string, config.ipv6)
    if key not in index.usable:  # the same at every node
        where = [f"{ep.ip} on {listed[ep.ip].node_name or 'an unnamed node'}" for ep in endpoints
                 if (ep.ready or (ep.serving and ep.terminating)) and ep.ip in listed]
        index.usable[key] = (f"its usable endpoints are {_some(where)}" if where else
                             "it has no usable endpoint on any node")
    elsewhere = index.usable[key]
    if key not in index.by_node:  # the same at every node
        found: dict[str, list[str]] = {}
        index.by_node[key] = found
        for ep in endpoints:
            on = listed[ep.ip].node_name if ep.ip in listed else None
            if on:
                found.setdefault(on, []).append(f"{ep.ip} ({conditions_text(listed[ep.ip])})")
    mine = index.by_node[key].get(config.node_name, [])
    if mine:  # a Local policy uses no other endpoint: they are why, not that the node has none
        elsewhere = (f"its endpoints on {config.node_name} are neither ready nor serving while terminating: "
                     f"{_some(mine)}; {elsewhere}")
    if internal:
        return (f"{svc.name_string} has spec.internalTrafficPolicy Local and node {config.node_name} has none of its "
                f"usable endpoints ({elsewhere}), so kube-proxy drops traffic from this node to its cluster IP: a "
                "Local policy never sends it to another node")
    check = (f"; a load balancer's health check of healthCheckNodePort {svc.health_check_node_port} fails here for "
             "the same reason" if svc.health_check_node_port else "")
    return (f"{svc.name_string} has spec.externalTrafficPolicy Local and node {config.node_name} has none of its "
            f"usable endpoints ({elsewhere}), so kube-proxy here drops {_not_local_traffic(index, config)} rather than "
            f"forward it to another node{check}")


def _not_local_traffic(index: Index, config: ProxyConfig) -> str:
    """The traffic a Local external policy drops at a node without endpoints: the KUBE-EXT chain sends the node's
    own (``--src-type LOCAL``) and its pods' (``--detect-local-mode``'s match) to the cluster chain first, so other
    nodes' hosts and pods are dropped too, not only clients outside the cluster."""
    known = index.dropped.get(id(config))  # by id, the config held with it: hashing a config costs more
    if known is None or known[0] is not config:
        detector = local_detector(config)
        pods = "a pod of the cluster" if config.detect_local_mode is DetectLocalMode.CLUSTER_CIDR else "its pods"
        known = index.dropped[id(config)] = (config, "traffic that is not from this node" if detector is None else
                                             f"traffic that is not from this node or {pods} ({detector.if_local})")
    return known[1]


def source_ranges_note(svc: ServicePortInfo, packet: Packet) -> str:
    ranges = ", ".join(svc.source_ranges)
    return (f"{packet.src_text} is not in spec.loadBalancerSourceRanges of {svc.namespace}/{svc.name} ({ranges}), "
            "so the KUBE-FW chain sends it to no endpoint and KUBE-PROXY-FIREWALL drops it")


def balancer_refusal_note(service: Service, client: str) -> str:
    """An ipMode Proxy balancer's own refusal of a client outside ``service``'s loadBalancerSourceRanges (of every
    family, as the balancer checks them): said like :func:`source_ranges_note`, but of the balancer, since no node's
    rules ever see the client's connection (no trace to read: analysis.exact's ``_proxied_view`` knows it). It
    names no node, as it holds for the view whichever node the balancer would have chosen: diff says it once for
    the view, not once per node."""
    ranges = ", ".join(service.load_balancer_source_ranges)
    return (f"{client} is not in spec.loadBalancerSourceRanges of {service.namespace}/{service.name} ({ranges}), "
            "so the load balancer (ipMode Proxy) turns it away itself, before its connection reaches any node")


def dnated_onto_firewall_note(index: Index, svc: ServicePortInfo, outcome: Outcome) -> str:
    """A connection another Service's rules DNATed to ``svc``'s load-balancer IP and port: the nat table DNATs a
    connection once, so it never passes ``svc``'s KUBE-FW chain (where the source ranges let a source through to
    the endpoints), and KUBE-PROXY-FIREWALL drops what is still addressed there whatever its source. Saying its
    source is outside the ranges would be false (a node's own address often is inside)."""
    step, to = next((step, found.group(1)) for step in outcome.path if (found := _DNAT_TO.search(step.rule)))
    names = _named_ports(index, dataclasses.replace(outcome, path=(step,)))
    by = names[0] if names else "a DNAT rule"
    return (f"{by} DNATed the connection to {to}, the load-balancer IP and port of {svc.name_string}: kube-proxy "
            f"checks that Service's spec.loadBalancerSourceRanges ({', '.join(svc.source_ranges)}) in its KUBE-FW "
            "chain, which a connection already DNATed does not pass (the nat table DNATs a connection once), and "
            "KUBE-PROXY-FIREWALL drops every new connection still addressed there, whatever its source")


# --------------------------------------------------------------------------- a DNAT's reasons


def _delivered_notes(index: Index, config: ProxyConfig, packet: Packet, outcome: Outcome,
                     svc: ServicePortInfo, endpoints: tuple[EndpointInfo, ...], split: bool) -> list[str]:
    target = next((ep for ep in endpoints if ep.endpoint == outcome.destination), None)
    if target is None:
        return []
    notes = []
    chains = {step.chain[:len("KUBE-SVC-")] for step in outcome.path}
    if not target.ready and target.serving and target.terminating and chains & {"KUBE-SVC-", "KUBE-SVL-"}:
        notes.append(_fallback_note(index, config, outcome, svc, endpoints, chains))
    if "KUBE-SVC-" in chains:  # hints narrow the cluster chain only (a Local policy's KUBE-SVL ignores them)
        mode = topology_mode(endpoints, config.node_name, config.zone, config.prefer_same_traffic_distribution)
        hinted = [ep for ep in endpoints if ep.ready and ep.zone_hints]
        if mode is TopologyMode.NONE and hinted and len(hinted) == sum(ep.ready for ep in endpoints):
            notes.append(f"every ready endpoint of {svc.name_string} carries zone hints, but none is for zone "
                         f"{config.zone or '(none: the Node has no topology.kubernetes.io/zone label)'}, where "
                         f"node {config.node_name} is, so kube-proxy here ignores the hints and uses them all")
        elif mode is TopologyMode.NONE and hinted:  # some ready endpoints without: the controller mid-update
            bare = [ep.endpoint for ep in endpoints if ep.ready and not ep.zone_hints]
            notes.append(f"{svc.name_string}'s zone hints are ignored: ready endpoint{'s' if len(bare) > 1 else ''} "
                         f"{_some(bare)} {'have' if len(bare) > 1 else 'has'} none, and kube-proxy uses zone hints "
                         "only when every ready endpoint has them, so it uses every ready endpoint")
        elif mode is not TopologyMode.NONE:
            ready = [ep for ep in endpoints if ep.ready]
            kept = [ep for ep in ready if (config.node_name in (ep.node_hints or ()) if mode is
                                           TopologyMode.PREFER_SAME_NODE else config.zone in (ep.zone_hints or ()))]
            notes.append(_hints_used_note(svc, config, mode, kept, ready))
    if target.ip == packet.src_text and outcome.masquerade and not _host_network(index.cluster, target.ip):
        reached = "; when it reaches itself (hairpin), " if split else " and reached itself (hairpin): "
        notes.append(f"{target.ip} is an endpoint of {svc.name_string}{reached}the KUBE-SEP chain's -s {target.ip} "
                     "rule marks the packet for masquerade, so the pod sees it from the node and its reply returns "
                     "through the node (the pod's bridge port must allow hairpin, as kubelet's hairpinMode or the "
                     "CNI sets it)")
    notes.extend(_container_port_note(index, target, svc))
    notes.extend(_other_family_ranges_note(index, config, packet, svc))
    return notes


def _hints_used_note(svc: ServicePortInfo, config: ProxyConfig, mode: TopologyMode,
                     kept: Sequence[EndpointInfo], ready: Sequence[EndpointInfo]) -> str:
    """Topology hints that narrow the cluster chain: node hints (PreferSameNode) name this node itself, zone hints
    the zone the node is in (topology.go, topologyModeFromHints: node hints first, when every ready endpoint has
    one and one is for this node)."""
    used = (f"so kube-proxy here uses only those: {len(kept)} of {len(ready)} ready endpoints "
            f"({_some([ep.ip for ep in kept])})")
    if mode is TopologyMode.PREFER_SAME_NODE:
        return (f"every ready endpoint of {svc.name_string} carries node hints (hints.forNodes, trafficDistribution "
                f"PreferSameNode) and some are for node {config.node_name} itself, {used}")
    return (f"every ready endpoint of {svc.name_string} carries topology hints and some are for zone {config.zone}, "
            f"where node {config.node_name} is, {used}")


def _host_network(cluster: Cluster, ip: str) -> bool:
    """Whether ``ip`` is a node's own (a host-network endpoint): it reaches itself on the host, through no bridge,
    so hairpin is no matter."""
    return (any(ip == a.address for node in cluster.nodes for a in node.addresses)
            or any(p.host_network and ip in p.pod_ips for p in cluster.pods))


def _fallback_note(index: Index, config: ProxyConfig, outcome: Outcome, svc: ServicePortInfo,
                   endpoints: tuple[EndpointInfo, ...], chains: set[str]) -> str:
    """Why a serving terminating endpoint was picked: a Local policy's chain (KUBE-SVL) falls back when this node
    has no ready endpoint of its own, whatever other nodes have (topology.go, CategorizeEndpoints); the cluster
    chain (KUBE-SVC) only when no node has one."""
    if "KUBE-SVL-" in chains:
        field = ("externalTrafficPolicy" if any(s.chain.startswith("KUBE-EXT-") for s in outcome.path)
                 else "internalTrafficPolicy")
        here = _on_node(index, config, svc)
        elsewhere = [ep.ip for ep in endpoints if ep.ready and ep.ip not in here]
        return (f"{svc.name_string} has spec.{field} Local and node {config.node_name} has no ready local endpoint, "
                "so the Local policy uses its serving terminating ones (conditions ready false, serving true, "
                "terminating true)" + (f", not the ready ones on other nodes: {_some(elsewhere)}" if elsewhere else ""))
    return (f"{svc.name_string} has no ready endpoint, so kube-proxy falls back to its serving "
            "terminating ones (conditions ready false, serving true, terminating true)"
            + _unused_text(index, config, svc, endpoints))


def _unused_text(index: Index, config: ProxyConfig, svc: ServicePortInfo,
                 endpoints: tuple[EndpointInfo, ...]) -> str:
    """The endpoints the fallback leaves out, by the condition that does: not serving, or serving but not
    terminating (it takes endpoints both serving and terminating; kube-proxy reads an unset serving as true and
    an unset terminating as false, so ``{ready: false}`` alone is serving and not terminating)."""
    unused = [ep for ep in endpoints if not ep.ready and not (ep.serving and ep.terminating)]
    if not unused:
        return ""
    listed = _listed(index, svc, config.ipv6)
    stopped = [ep.ip for ep in unused if not ep.serving]
    running = [_unset_text(ep.ip, listed.get(ep.ip)) for ep in unused if ep.serving]
    parts = ([f"not ready and not serving: {_some(stopped)}"] if stopped else []) + (
        [f"not ready and not terminating (serving, but the fallback takes terminating endpoints only): "
         f"{_some(running)}"] if running else [])
    return "; unused, " + "; ".join(parts)


def _unset_text(ip: str, endpoint: Endpoint | None) -> str:
    """An address, with the conditions its slice leaves unset that kube-proxy reads as serving, not terminating."""
    if endpoint is None:
        return ip
    cond = endpoint.conditions
    unset = (["serving unset, read as true"] if cond.serving is None else []) + (
        ["terminating unset, read as false"] if cond.terminating is None else [])
    return ip + (f" ({', '.join(unset)})" if unset else "")


def _other_family_ranges_note(index: Index, config: ProxyConfig, packet: Packet,
                              svc: ServicePortInfo) -> list[str]:
    """A load-balancer IP reached while every loadBalancerSourceRanges entry is of the other family: kube-proxy
    keeps the ranges of its own family only (serviceport.go, MapCIDRsByIPFamily), so this family's proxier writes
    no KUBE-FW chain and lets every client in, which the Service's reader does not expect (a dual-stack one)."""
    if svc.source_ranges or packet.dst_text not in svc.load_balancer_vips:
        return []
    ranges = next((s.load_balancer_source_ranges for s in _services_named(index, svc.name_string)), ())
    if not ranges:
        return []
    family = 6 if config.ipv6 else 4
    return [f"spec.loadBalancerSourceRanges of {svc.namespace}/{svc.name} ({', '.join(ranges)}) holds no IPv{family} "
            f"range, and kube-proxy keeps only the ranges of its own family: its IPv{family} rules let every client "
            f"reach {packet.dst_text}"]


def _container_port_note(index: Index, target: EndpointInfo, svc: ServicePortInfo) -> list[str]:
    return undeclared_port_note(index.pod_at(target.ip), target.port, svc.protocol)


def undeclared_port_note(pod: Pod | None, port: int, protocol: Protocol) -> list[str]:
    """A pod (:meth:`Index.pod_at`) whose declared container ports leave out the port a connection was DNATed to:
    kube-proxy cannot know what listens (trace's note of a DNAT, send's of a pod reached there). Its sidecars'
    ports count as its containers' do (a sidecar listens as any container does, and FindPort resolves a named
    targetPort to one). No note for a pod declaring no port, nor for no pod."""
    if pod is None or not (ports := pod.served_ports):
        return []
    declared = [p.container_port for p in ports if p.protocol is protocol]
    if port in declared:
        return []
    shown = ", ".join(map(str, declared)) or "none"
    return [f"pod {pod.namespace}/{pod.name} declares container ports {shown} ({protocol.value}), not "
            f"{port}: kube-proxy DNATs to the EndpointSlice's port {port} regardless, and whether "
            "anything listens there is not in the objects (a declared port is informational; a wrong targetPort "
            "is refused by the pod, not by the rules)"]


# --------------------------------------------------------------------------- node ports not served


def _unserved_node_port(cluster: Cluster, config: ProxyConfig, packet: Packet) -> list[str]:
    """A NodePort sent to an address of the node that ``--nodeport-addresses`` leaves out: no rule serves it (asked
    only with --nodeport-addresses: without it every local address is served)."""
    ip = packet.dst_text
    if ip not in {a.split("/")[0] for a in config.node_ips}:
        return []
    served = nodeport_destinations(config)
    if served.match_all or ip in served.addresses:
        return []
    # the Services holding the port only: the rest of a 10,000-Service cluster would be made into ports for nothing
    holding = tuple(s for s in cluster.services if any(p.node_port == packet.dport for p in s.ports))
    owners = [s for s in all_service_ports(dataclasses.replace(cluster, services=holding), config)
              if s.node_port == packet.dport and s.proto == packet.proto]
    if not owners:
        return []
    only = ", ".join(served.addresses) or "no address of this family"
    return [f"{packet.dport}/{packet.proto.upper()} is the NodePort of {owners[0].name_string}, but "
            f"--nodeport-addresses {','.join(config.nodeport_addresses)} leaves {ip} out: kube-proxy serves "
            f"NodePorts on node {config.node_name} only at {only}, so the packet reaches the node itself "
            "untranslated (refused unless a host process listens on the port)"]


# --------------------------------------------------------------------------- send's rows


SEND_ANSWERS = ("; send has the pod answer there all the same: a simulated pod serves its declared ports and every "
                "port its EndpointSlices list for it")
"""What ``send`` does at a port the pod does not declare, after the sentence a trace gives it: kube-proxy cannot
know what listens, so neither can the simulation; it takes the slice's word (the EndpointSlice controller copied
the Service's targetPort), as a run that refused would fail every Service whose pods declare no port."""


def send_why(sim: Simulator, result: SendResult) -> SendResult:
    """``result`` with its rows' words: a failure row's rule said as the Service field or endpoint condition behind
    it (the sentences a trace gives the same outcome), a delivery's port the pod does not declare."""
    evidence = result.evidence
    if evidence is None:
        return result
    index = Index.of(sim.cluster)  # the rows' notes read one cluster
    targets: dict[str, list[tuple[str, int]]] = {}  # by pod key, found once for all rows
    for key, ip, port in sorted(evidence.dnat_targets):
        targets.setdefault(key, []).append((ip, port))
    protocol = Protocol(result.proto.upper())
    delivered = tuple(dataclasses.replace(d, why=_delivered_why(index, targets.get(d.pod, ()), protocol))
                      for d in result.delivered)
    failed = tuple(dataclasses.replace(f, why=_failed_why(sim, evidence, f, index)) for f in result.failed)
    return dataclasses.replace(result, delivered=delivered, failed=failed)


def _delivered_why(index: Index, targets: Iterable[tuple[str, int]], protocol: Protocol) -> tuple[str, ...]:
    """A delivered row's notes: each (address, port) a DNAT sent the connection to its pod at that the pod does not
    declare."""
    found = (undeclared_port_note(index.pod_at(ip), port, protocol) for ip, port in targets)
    return tuple(dict.fromkeys(note + SEND_ANSWERS for notes in found for note in notes))


def _failed_why(sim: Simulator, evidence: Evidence, row: Failed, index: Index) -> tuple[str, ...]:
    from kubeproxy_sim.simulator.send import failure_trace

    found = failure_trace(evidence, row.decided_by)
    if found is None:
        return _reply_why(sim, evidence, row.lost, index)
    node, trace, outcome = found
    one = dataclasses.replace(trace, outcomes=(outcome,))  # the notes of this row's outcome only
    return tuple(why_notes((sim.cluster, sim.runtimes[node].node.config), trace.packet, one, index))


_INVALID_DROP = f"-A {KUBE_FORWARD} {INVALID_STATE} "
"""How kube-proxy's KUBE-FORWARD rule that drops what conntrack calls INVALID begins (filter.py writes it unless
--conntrack-tcp-be-liberal)."""


def _reply_why(sim: Simulator, evidence: Evidence, lost: ReplyLoss | None, index: Index) -> tuple[str, ...]:
    """A reply (or refusal) lost on its way back, or heard from the wrong address, because a DNAT kept its source
    and sent the connection off its node (:meth:`Evidence.bypass`): the reply skips the node that would undo the
    DNAT. Read from the facts the simulator recorded of the loss (``lost``: None for a row that was no lost answer,
    a lost ACK's too, whose rule the client's packets meet again after the reply and no Service field is behind),
    never from the row's words. Only those are said; the rest of the reply's losses (a rule of the user's, an
    address the client only borrowed, no route back to a source it bound) have no Service field behind them."""
    if lost is None:
        return ()
    if lost.came_from is not None:
        found = evidence.bypassed.get(lost.came_from)
        return () if found is None else tuple(bypass_notes(sim, index, [found], None))
    dropped = lost.dropped
    if dropped is not None and dropped.step is not None and dropped.step.rule.startswith(_INVALID_DROP):
        return tuple(bypass_notes(sim, index, evidence.bypassed.values(), dropped.node))
    return ()


def bypass_notes(sim: Simulator, index: Index, bypassed: Iterable[tuple[str, TraceResult, Outcome]],
                 invalid_at: str | None) -> list[str]:
    """Why the replies of these DNATs (:meth:`Evidence.bypass`) skip the node that made them, each Service port and
    node once, naming its endpoints: a Local external policy's KUBE-EXT rule for pod traffic sent them on to the
    cluster chain unmasqueraded, matched by ``--detect-local-mode`` (a pod of another node, or any source its
    cluster CIDR holds). ``invalid_at``: the node whose conntrack called the reply INVALID, and KUBE-FORWARD
    dropped it; else the reply reached the client from the endpoint's address."""
    found: dict[tuple[str, str], tuple[ProxyConfig, str, list[str]]] = {}
    for node, trace, outcome in bypassed:
        config = sim.runtimes[node].node.config
        svc = _service_port(index, config, _named_ports(index, outcome))
        if svc is None or outcome.destination is None or \
                not any(f'"{POD_TRAFFIC} {svc.name_string} ' in step.rule for step in outcome.path):
            continue
        where = _listed(index, svc, config.ipv6).get(split_endpoint(outcome.destination)[0])
        on = f" on {where.node_name}" if where is not None and where.node_name else ""
        found.setdefault((node, svc.name_string), (config, trace.packet.src_text, []))[2].append(
            f"{outcome.destination}{on}")
    notes = []
    for (node, name), (config, source, endpoints) in found.items():
        detector = local_detector(config)
        matched = f"{detector.if_local}, " if detector is not None else ""
        head = (f"{name} has spec.externalTrafficPolicy Local, and node {node}'s KUBE-EXT chain takes {source} for "
                f"a pod of the cluster ({matched}--detect-local-mode {config.detect_local_mode.value}), whose "
                f"traffic it sends to the endpoints of every node without masquerade, here to {_some(endpoints)}: "
                f"the endpoint answers {source} directly, and the reply never passes node {node}, where conntrack "
                "would undo the DNAT")
        if invalid_at is None:
            notes.append(head + ", so it comes from the endpoint's own address")
        else:
            notes.append(head + f"; node {invalid_at}'s conntrack never saw the connection from that address, so "
                         f"the reply is INVALID there, and kube-proxy's KUBE-FORWARD drops INVALID packets (it "
                         "writes that rule unless --conntrack-tcp-be-liberal; with it the reply would reach the "
                         "client from the endpoint's address, no answer to its connection either)")
    return notes
