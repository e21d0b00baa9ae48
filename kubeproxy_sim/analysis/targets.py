"""``--to DST`` and ``--from SRC``: which service ports and which clients an analysis is about.

The syntax is the simulator's (``send``): DST is ``IP[:PORT]`` (a cluster IP,
external IP, load-balancer IP, or a node address with a NodePort), a Service's
DNS name with an optional ``:PORT`` (``NAME.NS``, ``NAME.NS.svc.cluster.local``,
or a bare ``NAME``), ``node/NAME:NODEPORT``, and, for convenience,
``NS/NAME[:PORT]``; PORT may be a number or a port name. A name is read as the
cluster DNS reads it for a pod of namespace ``default`` (``send``'s search path
for a client that is no pod; dist and diff have no client pod, ``--from`` included):
case-insensitive, a trailing dot ends the search, and a bare NAME is
``default``'s Service NAME.
SRC is ``pod/NS/NAME``, ``node/NAME``, ``external`` or ``external:IP``.

An address is also read the other way (:func:`port_owners`): which Services hold it and which ports they define,
for the note ``send`` and ``trace`` give when a packet's port is none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from kubeproxy_sim.analysis.exact import (
    CLUSTER_IP,
    EXTERNAL_IP,
    LOAD_BALANCER,
    NODE_PORT,
    Selection,
    proxy_ingress,
    service_ports,
)
from kubeproxy_sim.analysis.nodes import NodeSet, Source, external_source, node_source, pod_source
from kubeproxy_sim.errors import Diagnostic, InputError, UsageError, one_of
from kubeproxy_sim.netfilter.packet import (
    canonical_address,
    format_address,
    format_endpoint,
    is_address,
    literal_family,
    loopback,
    parse_address,
)
from kubeproxy_sim.objects.model import Cluster, ServiceType, watched_by_kube_proxy
from kubeproxy_sim.proxier.state import ServicePortInfo, all_service_ports
from kubeproxy_sim.simulator.dns import DOMAIN, search_candidates
from kubeproxy_sim.simulator.topology import family_mismatch, ip_family_flag

if TYPE_CHECKING:
    from kubeproxy_sim.proxier.config import ProxyConfig

DST_FORMS = ("IP[:PORT], NAME.NS[:PORT], NAME.NS.svc.cluster.local[:PORT], NAME[:PORT] (namespace default), "
             "NS/NAME[:PORT] or node/NAME:NODEPORT, PORT a number or a port's name")
"""dist's and diff's ``--to`` forms, as their errors name them: every PORT is optional (a bare IP is each port on
that address) and may be a port's name; a node's is a NodePort number."""
NAME_NAMESPACE = "default"
"""The namespace whose search path reads a DNS name: a bare NAME is this namespace's Service (send's too, for a
client that is no pod)."""
SRC_FORMS = "pod/NS/NAME, node/NAME, external or external:IP"


def _bad(text: str, flag: str, why: str, forms: str, *, usage: bool = False) -> InputError:
    """The flag's value refused; ``usage``: it is of none of the forms (a usage error, 2), else it is of the right
    shape but names nothing there is, or something of the other family (invalid input, 1)."""
    return (UsageError if usage else InputError)(Diagnostic(f"{text!r}: {why}; expected {forms}", field=flag))


def _split_port(text: str) -> tuple[str, str | None]:
    """``host:port`` -> (host, port); IPv6 in brackets; a bare IPv6 address has no port."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if text.count(":") > 1:
        return text, None
    host, sep, port = text.partition(":")
    return host, (port if sep else None)


def _named_port(text: str) -> tuple[str, str | None]:
    """(host, port) of a ``--to`` that is no node's (:func:`_split_port`); a ':' with no port after it is of no
    form (a usage error, 2), where a port no Service has is invalid input."""
    host, port = _split_port(text)
    if port == "":
        raise _bad(text, "--to", "no port after ':'", DST_FORMS, usage=True)
    return host, port


def _port_matches(svc: ServicePortInfo, port: str | None, node_port: bool = False) -> bool:
    if port is None:
        return True
    if port.isascii() and port.isdigit():  # ('²' is a digit int() cannot read: a port name, which none has)
        return int(port) == (svc.node_port if node_port else svc.port)
    return port == svc.port_name


def unproxied(cluster: Cluster, ipv6: bool, namespace: str, name: str) -> str | None:
    """Why kube-proxy (the ``ipv6`` proxier) writes no rules for a Service that exists; None when there is no
    such Service, or it has a cluster IP of the family (its rules are missing for some other reason). dist and
    graph --service say it instead of "no such service port"."""
    svc = next((s for s in cluster.services if s.namespace == namespace and s.name == name), None)
    if svc is None:
        return None
    if svc.type is ServiceType.EXTERNAL_NAME:
        return (f"{svc.key} is an ExternalName Service: kube-proxy writes no rules for it (cluster DNS answers "
                f"a CNAME to {svc.external_name})")
    if svc.headless:
        return f"{svc.key} is headless (clusterIP None): kube-proxy writes no rules; clients reach its pods directly"
    if not watched_by_kube_proxy(svc.labels):
        return f"{svc.key} is labelled for another proxy: kube-proxy does not watch it"
    if any((":" in ip) == ipv6 for ip in svc.cluster_ips):
        return None
    return f"{svc.key} has no IPv{6 if ipv6 else 4} cluster IP, so this proxier writes no rules for it"


def _by_name(ports: list[ServicePortInfo], namespace: str, name: str, port: str | None,
             text: str, nodes: NodeSet | None = None) -> list[Selection]:
    found = [s for s in ports if s.namespace == namespace and s.name == name]
    if not found:
        wanted = f"{namespace}/{name}"
        why = unproxied(nodes.cluster, nodes.ipv6, namespace, name) if nodes is not None else None
        if why is not None:
            raise _bad(text, "--to", why, DST_FORMS)
        raise _bad(text, "--to", f"no proxied service {wanted} (known: {_services(ports, wanted)})", DST_FORMS)
    chosen = [s for s in found if _port_matches(s, port)]
    if not chosen:
        have = ", ".join(f"{s.port_name or '(unnamed)'}={s.port}" for s in found)
        raise _bad(text, "--to", f"service {namespace}/{name} has no port {port} (ports: {have})", DST_FORMS)
    return [Selection(s) for s in chosen]


def _services(ports: list[ServicePortInfo], wanted: str) -> str:
    return one_of(wanted, sorted({f"{s.namespace}/{s.name}" for s in ports}), "services")


def address_views(svc: ServicePortInfo, ip: str, ingress: Sequence[str] = ()) -> list[str]:
    """How the service port answers at ``ip`` (canonical_address's text), NodePorts aside: as its cluster IP, an
    external IP, a load-balancer IP (``ingress``: its balancer's ipMode Proxy addresses, which have no rules of
    their own); none: the address is not the port's. dist's ``--to IP`` and trace's notes read addresses alike."""
    views = [CLUSTER_IP] if svc.cluster_ip == ip else []
    if ip in svc.external_ips:
        views.append(EXTERNAL_IP)
    if ip in svc.load_balancer_vips or ip in ingress:
        views.append(LOAD_BALANCER)
    return views


def port_owners(cluster: Cluster, config: ProxyConfig, ip: str, port: int | None, proto: str) -> str | None:
    """Which Services hold ``ip`` (as cluster, external or load-balancer IP) and the ports they define (``the
    cluster IP of NS/NAME, which defines 8080/TCP``), when none of them defines ``port``/``proto`` (None: an
    echo's, which has no port): no rule of kube-proxy's matches the packet, which keeps its destination. None
    when no Service holds the address, or one of its ports is the packet's. Only the Services holding the address
    are made into service ports (all of them took 0.23 s at 10,000). ``trace`` words it for a packet."""
    holding = tuple(s for s in cluster.services if ip in s.cluster_ips or ip in s.external_ips
                    or any(ingress.ip == ip for ingress in s.load_balancer_ingress))
    owners: dict[tuple[str, str], list[str]] = {}  # (role, ns/name) -> the ports it defines
    for svc in all_service_ports(replace(cluster, services=holding), config):
        for view in address_views(svc, ip):
            role = {CLUSTER_IP: "the cluster IP", EXTERNAL_IP: "an external IP"}.get(view, "a load-balancer IP")
            owners.setdefault((role, f"{svc.namespace}/{svc.name}"), []).append(f"{svc.port}/{svc.protocol.value}")
            if svc.port == port and svc.proto == proto:
                return None  # a port of it is the packet's: its rules decide
    if not owners:
        return None
    return ", and ".join(f"{role} of {key}, which defines {', '.join(ports)}" for (role, key), ports in owners.items())


def unserved_port_note(cluster: Cluster, config: ProxyConfig, ip: str, port: int, proto: str) -> str | None:
    """send's words for :func:`port_owners`: the connection keeps its destination whether it meets a node's rules
    (a pod's, a node's) or none (the outside's, which the router then has no route for)."""
    whose = port_owners(cluster, config, ip, port, proto)
    if whose is None:
        return None
    return (f"{ip} is {whose}; no rule matches {port}/{proto.upper()}, so kube-proxy's rules leave the connection "
            f"to {format_endpoint(*parse_address(ip), port)} untranslated")


def _by_address(nodes: NodeSet, ports: list[ServicePortInfo], ip: str, port: str | None,
                text: str) -> list[Selection]:
    family, value = parse_address(ip)
    ip = format_address(family, value)  # the objects loader's text of the address
    out = []
    for svc in ports:
        if _port_matches(svc, port):
            out += [Selection(svc, frozenset({view}), ip) for view in address_views(svc, ip, proxy_ingress(nodes, svc))]
    node = nodes.node_of(ip)
    if node is not None:
        out += [Selection(s, frozenset({NODE_PORT}), None, (node,)) for s in ports
                if s.node_port and _port_matches(s, port, node_port=True)]
    if out:
        return out
    proxier_family = 6 if nodes.ipv6 else 4
    if family != proxier_family:  # every address of a NodeSet is of its proxier's family
        raise InputError(Diagnostic(f"{text!r}: {family_mismatch('the packet', family, proxier_family)}",
                                    field="--to"))
    if loopback(family, value):
        raise _bad(text, "--to", "a NodePort on loopback answers the node's own connections only, which dist does "
                   "not sample (`send --from node/NAME` does)", DST_FORMS)
    raise _bad(text, "--to", "no service port answers on that address and port", DST_FORMS)


def packet_family(sources: Sequence[str] | None, destination: str | None) -> int | None:
    """The family of the packets dist's (or diff's) flags name by address: ``--from external:IP``'s and a ``--to``
    that is one (IP, IP:PORT, [IPv6]:PORT), as send's (:func:`~kubeproxy_sim.netfilter.packet.literal_family`);
    None when none is an address or they differ."""
    hosts = [s.removeprefix("external:") for s in sources or () if s.startswith("external:")]
    return literal_family([*hosts, _split_port(destination.strip())[0] if destination is not None else ""])


def parse_destination(nodes: NodeSet, text: str | None, command: str) -> list[Selection]:
    """The service ports (and views) ``--to`` names; every proxied service port when None. ``command``: the
    command reading it (dist, diff), named where a message says why a bare NAME is namespace default's."""
    ports = service_ports(nodes)
    if text is None:
        return [Selection(s) for s in ports]
    text = text.strip()
    if text.startswith("node/"):
        name, port = _split_port(text[len("node/"):])
        shaped = port is not None and port.isascii() and port.isdigit()  # ('²' is a digit int() cannot read)
        if name not in nodes.configs:
            raise _bad(text, "--to", f"no node {name!r} (nodes: {one_of(name, nodes.order, 'nodes')})", DST_FORMS,
                       usage=not shaped)
        if port is None or not shaped:
            raise _bad(text, "--to", "a node destination needs a NodePort number", DST_FORMS, usage=True)
        chosen = [Selection(s, frozenset({NODE_PORT}), None, (name,)) for s in ports if s.node_port == int(port)]
        if not chosen:
            raise _bad(text, "--to", f"no service has NodePort {port}", DST_FORMS)
        return chosen
    if "/" in text:
        ref, port = _named_port(text)
        namespace, _, name = ref.partition("/")
        if not namespace or not name or "/" in name:
            raise _bad(text, "--to", "not NS/NAME: a namespace and a Service's name, one each side of one '/'",
                       DST_FORMS, usage=True)
        return _by_name(ports, namespace, name, port, text, nodes)
    host, port = _named_port(text)
    if is_address(host):
        return _by_address(nodes, ports, host, port, text)
    service = service_named(nodes.cluster, host)
    if service is not None:
        return _by_name(ports, service[0], service[1], port, text, nodes)
    absolute = host.endswith(".")  # a trailing dot: the name as it is, no search path
    labels = host.lower().removesuffix(".").split(".")
    if len(labels) == 1 and labels[0] and not absolute:  # no Service of that name where the search path looks
        wanted = f"{NAME_NAMESPACE}/{labels[0]}"
        raise _bad(text, "--to", f"not an address, a service name or a node: no Service {wanted} (a bare NAME is "
                   f"looked up in namespace {NAME_NAMESPACE}, as {command} has no client pod; known: "
                   f"{_services(ports, wanted)})", DST_FORMS)
    tails = (f"svc.{DOMAIN}",) if absolute else ("svc", f"svc.{DOMAIN}")
    if len(labels) >= 2 and ((len(labels) == 2 and not absolute) or ".".join(labels[2:]) in tails):
        return _by_name(ports, labels[1], labels[0], port, text, nodes)
    if absolute and all(labels):
        # a whole name that is no Service's full name: send's resolver answers NXDOMAIN, so invalid input (1)
        short = {1: "NAME", 2: "NAME.NS"}.get(len(labels))
        hint = f" (write that, or {short} without the dot)" if short else ""
        raise _bad(text, "--to", f"no such name: with a trailing dot a name is whole, so it is not looked up as "
                   f"NAME.NS.svc.{DOMAIN}.{hint}", DST_FORMS)
    why = "not an address, a service name or a node"
    if absolute:
        why += f" (with a trailing dot a name is whole: NAME.NS.svc.{DOMAIN}.)"
    raise _bad(text, "--to", why, DST_FORMS, usage=True)


def service_named(cluster: Cluster, host: str, namespace: str = NAME_NAMESPACE) -> tuple[str, str] | None:
    """(namespace, name) of the first Service the cluster DNS's search path for a pod of ``namespace`` finds
    for ``host`` (case-insensitive; a trailing dot: the name alone), as ``send`` resolves it; None for none."""
    zone = f".svc.{DOMAIN}"
    services = {(s.namespace, s.name) for s in cluster.services}
    for candidate in search_candidates(host, namespace):
        labels = candidate.removesuffix(zone).split(".") if candidate.endswith(zone) else []
        if len(labels) == 2 and (labels[1], labels[0]) in services:
            return labels[1], labels[0]
    return None


def parse_source(nodes: NodeSet, text: str) -> Source:
    """One ``--from`` client."""
    ipv6 = nodes.ipv6
    if text == "external":
        return external_source(ipv6)
    if text.startswith("external:"):
        address = text[len("external:"):]  # is_address takes the brackets, and only paired, as send's --from
        if not is_address(address):
            raise _bad(text, "--from", f"not an IPv{6 if ipv6 else 4} address", SRC_FORMS, usage=True)
        if (":" in address) != ipv6:
            raise _bad(text, "--from", f"not an IPv{6 if ipv6 else 4} address, the proxier's family (or "
                       f"{ip_family_flag(4 if ipv6 else 6)})", SRC_FORMS)
        return external_source(ipv6, canonical_address(address))
    if text.startswith("node/"):
        name = text[len("node/"):]
        if name not in nodes.configs:
            raise _bad(text, "--from", f"no node {name!r} (nodes: {one_of(name, nodes.order, 'nodes')})", SRC_FORMS)
        return node_source(nodes, name)
    if text.startswith("pod/"):
        key = text[len("pod/"):]
        pod = next((p for p in nodes.cluster.pods if p.key == key), None)
        if pod is None:
            raise _bad(text, "--from", f"no Pod object {key}", SRC_FORMS)
        source = pod_source(pod, ipv6)
        if source is None or source.node not in nodes.configs:
            raise _bad(text, "--from", f"pod {key} has no IPv{6 if ipv6 else 4} pod IP, no node, or uses the "
                       "host network (use node/NAME)", SRC_FORMS)
        return source
    raise _bad(text, "--from", "not a known kind of source", SRC_FORMS, usage=True)


def parse_sources(nodes: NodeSet, texts: Sequence[str] | None) -> list[Source] | None:
    return [parse_source(nodes, t) for t in texts] if texts else None
