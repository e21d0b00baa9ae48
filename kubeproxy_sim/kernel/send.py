"""``netns send``: real connections from a source namespace, tallied per destination pod.

Addressing is the simulator's: a source is ``pod/NS/NAME``, ``node/NAME``,
``external``, ``external:IP`` or a plain address (a node's pod bridge's: the node,
bound to it); a destination is ``IP:PORT``,
``node/NAME:NODEPORT`` or a name (``NAME.NS:PORT``, ``NAME.NS.svc.cluster.local:PORT``, ...)
that the simulator's cluster DNS resolves with the source pod's own resolver (its dnsPolicy and
dnsConfig, recorded by ``netns up`` as ``send`` builds it), as ``send`` does: a name it does not
resolve is refused with ``send``'s reason. Then, as in ``send``, each connection from a pod whose
resolver asks kube-dns first sends its DNS query, for real: UDP from the pod's namespace to its
first nameserver (kube-dns's cluster IP, through the nodes' DNAT rules) walking its search list
(:mod:`.dnsquery`), answered by the kube-dns endpoint pods' responders (:mod:`.responder`); a
query that fails is that connection's failure (a row whose detail starts ``DNS query to``), and
only the answered ones connect, to the address the answer gives. The cluster is known only
through its state record, so ``send`` works from any later process.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubeproxy_sim.errors import Diagnostic, InputError, one_of
from kubeproxy_sim.kernel import dscp, nsexec
from kubeproxy_sim.kernel.dnsquery import TCP_RETRY
from kubeproxy_sim.kernel.plan import DEFAULT_CLIENT, DEFAULT_CLIENT6, Topology, client_key
from kubeproxy_sim.kernel.probe import REPLY_WAIT, seeded_ports
from kubeproxy_sim.kernel.responder import cluster_dns
from kubeproxy_sim.kernel.state import resolver_of, resolver_record
from kubeproxy_sim.netfilter.packet import canonical_address, is_address
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.objects.nodes import family_of
from kubeproxy_sim.simulator.dns import CLUSTER, ClusterDNS, Resolver
from kubeproxy_sim.simulator.network import (
    DNS_PORT,
    NO_ROUTE,
    TRUNCATED_RETRY,
    UNHEARD,
    dns_query_detail,
    heard,
)
from kubeproxy_sim.simulator.ping import PingTarget
from kubeproxy_sim.simulator.send import (
    Delivered,
    Failed,
    SendResult,
    bridge_source_label,
    check_source_form,
    source_spelled,
    split_destination,
    with_destination_note,
)

PROBE = "kubeproxy_sim.kernel.probe"
DNS_QUERY = "kubeproxy_sim.kernel.dnsquery"
# more than TCP's first SYN retransmission (1 s): an ICMP error that arrives while the connecting socket is busy
# is only noted (a soft error), and the REJECT is heard when the retransmitted SYN is rejected again
DEFAULT_TIMEOUT = 1.5


def topology_record(topo: Topology, cluster: Cluster) -> dict[str, Any]:
    """What ``send`` and ``exec`` need to know about a cluster, as JSON."""
    resolvers, resolver_of_pod = _resolvers(topo, cluster)
    return {
        "family": topo.family,
        "nodes": {n.name: {"netns": n.netns, "addresses": list(n.addresses), "gateways": list(n.gateways)}
                  for n in topo.nodes},
        # pod_object: PodPlan's, so netns send's rows say it as send's do (a state written before: absent, unknown)
        "pods": {p.ip: {"key": p.key, "netns": p.netns, "node": p.node, "host_network": p.host_network,
                        "pod_object": p.pod_object,
                        **({"pooled": True} if p.pooled else {}),
                        **({"resolver": resolver_of_pod[p.ip]} if p.ip in resolver_of_pod else {})}
                 for p in topo.pods},
        "resolvers": resolvers,
        "clients": {c.ip: c.netns for c in topo.clients},
        "via_first_node": list(topo.via_first_node or ()),
        # who answers a DNS query (PodPlan.dns_ports); its presence says netns send asks them (see Query)
        "dns_responders": sorted(f"{p.ip}:{port}" for p in topo.pods for port in p.dns_ports),
        "services": {s.key: {"cluster_ips": list(s.cluster_ips),
                             "ports": [{"name": p.name, "port": p.port, "protocol": p.protocol.value,
                                        "node_port": p.node_port} for p in s.ports],
                             # what cluster DNS reads (see resolve_destination)
                             "type": s.type.value, "cluster_ip_unset": s.cluster_ip_unset,
                             "external_name": s.external_name}
                     for s in cluster.services},
        "slices": [{"key": slc.key, "service": slc.service_name, "address_type": slc.address_type.value,
                    "endpoints": [[list(ep.addresses), ep.hostname, ep.conditions.ready] for ep in slc.endpoints],
                    "ports": [[p.name, p.port, p.protocol.value] for p in slc.ports]}
                   for slc in cluster.endpoint_slices if slc.service_name],
    }


def _resolvers(topo: Topology, cluster: Cluster) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Each pod's resolver as the simulator's ``send`` builds it for the same pod (:meth:`Simulator.resolver`:
    its dnsPolicy and dnsConfig, host network, kube-dns's cluster IP and pods), each distinct one recorded once
    (most pods share their namespace's default one), and per pod address the index of its own. A client address
    in a pod range is no pod to ``send`` (a machine with no resolv.conf of the kubelet's): it has none."""
    from kubeproxy_sim.simulator.network import kube_dns_address

    dns = ClusterDNS(cluster, family=topo.family)
    kube_dns = kube_dns_address(cluster, topo.family)
    index: dict[Resolver, int] = {}
    of_pod: dict[str, int] = {}
    for pod in topo.pods:
        if pod.key != client_key(pod.ip):
            resolver = dns.resolver(pod.key, host_network=pod.host_network, kube_dns=kube_dns)
            of_pod[pod.ip] = index.setdefault(resolver, len(index))
    return [resolver_record(r) for r in index], of_pod


@dataclass(frozen=True, slots=True)
class Source:
    label: str
    netns: str
    bind: str | None = None  # the source address to bind, when the namespace has several
    pod: str = ""  # a pod source's address (its record in the state's pods); "" for a node or a client outside


@dataclass(frozen=True, slots=True)
class Query:
    """The DNS lookup a connection to a name makes first: its resolver's first nameserver, asked for the
    candidate names of its search list in order (:func:`.dnsquery.lookup`)."""

    server: str
    names: tuple[str, ...]
    qtype: str  # A or AAAA: the cluster's family
    edns0: bool = False  # the resolver's ``options edns0``: each query carries an OPT record (dnswire.resolver_opt)


@dataclass(frozen=True, slots=True)
class Destination:
    label: str
    ip: str  # the address connected to; a headless Service's name: its first of several (see addresses)
    port: int
    note: str = ""  # how the name was resolved, when the user should know (a state without the pods' resolvers)
    query: Query | None = None  # a name a pod asks kube-dns for: each connection's lookup
    addresses: tuple[str, ...] = ()  # a name's several (a headless Service's), in cluster DNS's order

    def choices(self) -> tuple[str, ...]:
        """Every address the destination stands for; each connection goes to one (:func:`targets`)."""
        return self.addresses or (self.ip,)


def _bad(text: str, field: str, expected: str, kind: type[InputError] = InputError) -> InputError:
    """``kind`` UsageError for a value not of the flag's forms (exit 2); a value of the right shape that names
    nothing, or is out of range, is invalid input."""
    return kind(Diagnostic(f"{text!r}: {expected}", field=field))


def _family(state: dict[str, Any]) -> int:
    return int(state.get("family", 4))


def resolve_source(state: dict[str, Any], text: str) -> Source:
    """pod/NS/NAME, node/NAME, external, external:IP or an address of a pod, node or client, as ``send`` takes
    them (:func:`.simulator.send.parse_source`): the spellings of its output too (``NS/NAME``, ``external/IP``),
    and an endpoint no Pod object owns by its key (the name its rows show, marked or not) or ``NS/ADDRESS``."""
    check_source_form(text)
    given, text = text, source_spelled(text)
    if text.startswith("pod/"):
        found = _pod_named(state, text[4:])
        if found is None:
            shown = sorted(p["key"] for p in state["pods"].values()
                           if not p["host_network"] and not p["key"].startswith("client/"))
            raise _bad(given, "--from", "no such pod; expected pod/NAMESPACE/NAME of a pod of this cluster "
                       f"({one_of(text[4:], shown, 'pods')})")
        ip, pod = found
        label = f"pod/{pod['key']}"  # (the JSON's stable key, as send's)
        return Source(label, pod["netns"], bind=ip if pod.get("pooled") else None, pod=ip)  # a pool: many addresses
    if text.startswith("node/"):
        node = state["nodes"].get(text[5:])
        if node is None:
            raise _bad(text, "--from", f"no such node; expected one of {one_of(text[5:], state['nodes'], 'nodes')}")
        return Source(text, node["netns"])
    if text == "external" or text.startswith("external:"):
        given = text.partition(":")[2]
        ip = canonical_address(given) if given else DEFAULT_CLIENT if _family(state) == 4 else DEFAULT_CLIENT6
        if ip not in state["clients"]:
            raise _bad(text, "--from", f"no external client {ip}; clients: {', '.join(state['clients'])} "
                       "(add one with `netns up --client IP`)")
        return Source(text, state["clients"][ip])
    return _source_by_address(state, text)  # an address (check_source_form)


def _pod_named(state: dict[str, Any], name: str) -> tuple[str, dict[str, Any]] | None:
    """(address, record) of the pod ``--from pod/NAME`` names, as ``send``'s :func:`.simulator.send.pod_named`
    finds it: by its key, an endpoint no Pod object owns by its key with the mark send's rows put after it, else
    such an endpoint by ``NS/ADDRESS`` (the address in any spelling, with or without the mark). A state written
    before ``netns up`` recorded ``pod_object`` takes a made-up key's address too (its key says it is made up)."""
    from kubeproxy_sim.simulator.topology import NO_POD_MARK

    found = next(((ip, p) for ip, p in state["pods"].items() if p["key"] == name), None)
    if found is not None:
        return found
    marked = next(((ip, p) for ip, p in state["pods"].items() if name.endswith(NO_POD_MARK)
                   and p["key"] == name.removesuffix(NO_POD_MARK) and _endpoint(ip, p)), None)
    if marked is not None:
        return marked
    namespace, _, rest = name.removesuffix(NO_POD_MARK).partition("/")
    if not is_address(rest):
        return None
    ip = canonical_address(rest)
    pod = state["pods"].get(ip)
    if pod is None or pod["host_network"] or pod["key"].partition("/")[0] != namespace:
        return None
    return (ip, pod) if _endpoint(ip, pod) else None


def _endpoint(ip: str, pod: dict[str, Any]) -> bool:
    """Whether the pod record at ``ip`` is an endpoint no Pod object owns: its ``pod_object`` false, or, in a state
    written before ``netns up`` recorded it, a key made up from its address."""
    from kubeproxy_sim.simulator.topology import endpoint_owner_key

    if pod.get("pod_object") is None:
        namespace = pod["key"].partition("/")[0]
        return pod["key"] == endpoint_owner_key(namespace, ip, None)
    return pod["pod_object"] is False


def _source_by_address(state: dict[str, Any], text: str) -> Source:
    """The source at address ``text``, looked up by its canonical text; an error quotes ``text`` as given."""
    ip = canonical_address(text)
    if ip in state["clients"]:
        return Source(ip, state["clients"][ip])
    pod = state["pods"].get(ip)
    if pod is not None and not pod["host_network"]:
        return Source(f"pod/{pod['key']}", pod["netns"], bind=ip if pod.get("pooled") else None, pod=ip)
    for name, node in state["nodes"].items():
        if ip in node["addresses"]:
            return Source(f"node/{name}", node["netns"], bind=ip)
        if ip in node.get("gateways", ()):  # its pod bridge's address, as send reads it (a state before: unknown)
            return Source(bridge_source_label(name, ip), node["netns"], bind=ip)
    raise _bad(text, "--from", "no pod, node (nor its pod bridge) or external client of this cluster has this "
               "address; expected one of theirs (an outside address: `netns up --client IP` first)")


def resolve_destination(state: dict[str, Any], text: str, source: Source | None = None) -> Destination:
    """IP:PORT, node/NAME:NODEPORT or a name resolved as ``send`` resolves it: by the simulator's cluster DNS,
    with the source pod's resolver as ``netns up`` recorded it (``default``'s search path for another source; a
    state without resolvers: the source pod's namespace's, as ClusterFirst), over the state record, so a name it
    does not resolve is refused as ``send`` refuses it, and a headless Service's name stands for all its
    addresses, as in ``send`` (each connection goes to one, :func:`targets`). A pod whose resolver asks kube-dns
    gets the :class:`Query` each connection then sends over the data plane (:func:`lookup`)."""
    host, port = split_destination(text)
    return destination_of(state, host, port, text, source)


def destination_of(state: dict[str, Any], host: str, port: int, text: str, source: Source | None = None
                   ) -> Destination:
    """:func:`resolve_destination` of a ``--to`` already split into ``host`` and ``port`` (a ping's: 0), errors
    quoting ``text``, the value as given."""
    if host.startswith("node/"):
        node = state["nodes"].get(host[5:])
        if node is None:
            raise _bad(text, "--to", f"no such node; expected one of {one_of(host[5:], state['nodes'], 'nodes')}")
        return Destination(text, node["addresses"][0], port)
    family = _family(state)
    if is_address(host):
        if family_of(host) != family:
            raise _bad(text, "--to", f"the cluster is built for IPv{family}; expected such an address")
        return Destination(text, canonical_address(host), port)
    from kubeproxy_sim.simulator.send import unresolved_reason

    resolver, namespace, note = _source_resolver(state, source)
    dns = cluster_dns(state)
    answer = dns.resolve(host, namespace, resolver)
    if not answer.addresses:  # as send's parse_destination says it, without --hosts (netns send has none)
        if resolver is not None and resolver.scope != CLUSTER:
            raise _bad(text, "--to", resolver.unanswered(hosts=False))
        raise _bad(text, "--to", unresolved_reason(answer, dns, namespace, hosts=False) +
                   (resolver.own_settings(source.label, dns.domain) if resolver is not None and source else ""))
    query, unasked = _query(state, resolver, answer.tried, source)
    several = tuple(dict.fromkeys(answer.addresses))
    return Destination(text, several[0], port, note or unasked, query, several if len(several) > 1 else ())


def _query(state: dict[str, Any], resolver: Resolver | None, names: tuple[str, ...],
           source: Source | None) -> tuple[Query | None, str]:
    """The DNS lookup of a pod whose resolver sends one (as ``send``'s ``Simulator.dns_server``), and a note
    when none is sent though ``send`` would send one (a cluster brought up before ``netns up`` ran the kube-dns
    responders), or when a ClusterFirst pod has no kube-dns to ask (``send`` sends none either)."""
    if resolver is None or source is None:
        return None, ""
    if resolver.server is None:
        if resolver.scope != CLUSTER:
            return None, ""
        return None, (f"the cluster has no kube-dns Service (kube-system/kube-dns with port 53/UDP and an "
                      f"IPv{_family(state)} cluster IP): {source.label}'s name is answered by cluster DNS without a "
                      "DNS query, as `send` answers it")
    if "dns_responders" not in state:
        return None, (f"cluster {state.get('name', '')!r} was built before `netns up` ran DNS responders in the "
                      f"kube-dns pods: no DNS query is sent to {resolver.server} (`send` sends one, and fails when "
                      "it fails); `netns down` and `netns up` again to send it")
    return Query(resolver.server, names, "A" if _family(state) == 4 else "AAAA", resolver.edns0), ""


def _source_resolver(state: dict[str, Any], source: Source | None) -> tuple[Resolver | None, str, str]:
    """The source's resolver (None: cluster DNS with a namespace's search path, as ``send`` asks for a node or a
    client outside), the namespace whose search path applies without one, and a note for a state written before
    ``netns up`` recorded resolvers (read as it was then: the source pod's namespace's ClusterFirst path)."""
    pod = state["pods"].get(source.pod) if source is not None and source.pod else None
    if pod is None:
        return None, "default", ""
    namespace = pod["key"].split("/", 1)[0]
    if "resolvers" not in state:
        return None, namespace, (
            f"cluster {state.get('name', '')!r} was built before `netns up` recorded each pod's resolver: the name "
            f"is resolved with the search path of dnsPolicy ClusterFirst in namespace {namespace}, whatever "
            f"pod/{pod['key']}'s dnsPolicy and dnsConfig say (`netns down` and `netns up` again to use them)")
    if "resolver" not in pod:
        return None, "default", ""  # a client address in a pod range: a machine of its own, as send takes it
    return resolver_of(state["resolvers"][pod["resolver"]]), namespace, ""


# What the probe's raw reasons mean in the simulator's words (its ``failed[].reason``). A socket cannot tell
# every verdict apart, so two of them need counters of this run's packets (its DSCP value, see kernel.dscp):
#   refused      ECONNREFUSED: a RST or an ICMP port unreachable (a REJECT rule, or nothing listens)  -> REJECT
#   timeout      no answer: a DROP rule on the way (DROP), or a packet or its reply lost (TIMEOUT)    -> DROP
#                when a node counted this run's packets at a DROP rule, else TIMEOUT
#   unreachable  ENETUNREACH/EHOSTUNREACH: ICMP net unreachable from a router with no route, or   -> NO_ROUTE
#                host unreachable from the last hop, whose ARP/NDP for the address got no answer
#                (~3 s); one raw reason for both (verify and the differential class them as one)
#   EPERM        the node's own datagram stopped by its OUTPUT/POSTROUTING rules at send time:
#                REJECT when a node counted this run's packets at a REJECT rule, else DROP
#   reset        ECONNRESET after the handshake                                                   -> REJECT
#   no reply     connected, but the server closed without a line                                  -> TIMEOUT
REASONS = {"refused": ("REJECT", "connection refused (a REJECT rule answered, or nothing listens on the port)"),
           "unreachable": ("NO_ROUTE", "unreachable (a router has no route to the destination, or the last hop's "
                                        "ARP/NDP for it got no answer)"),
           "reset": ("REJECT", "connection reset"),
           "no reply": ("TIMEOUT", "connected, but the server closed the connection without answering")}


@dataclass(frozen=True, slots=True)
class Tally:
    """The outcome of N attempts: per pod (and the address it was reached at), per failure reason."""

    source: str
    destination: str
    proto: str
    count: int
    pods: dict[str, int] = field(default_factory=dict)  # "ns/name ip:port" -> replies
    seen: dict[str, list[str]] = field(default_factory=dict)  # same key -> source addresses the pod saw
    failures: dict[str, int] = field(default_factory=dict)  # probe reason -> attempts
    seed: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    verdicts: frozenset[str] = frozenset()  # DROP / REJECT: some node's rules of that verdict met this run's packets
    address: str = ""  # the address connected to (what the destination resolved to)
    note: str = ""  # the destination's (Destination.note), for the user
    dns_server: str = ""  # the nameserver each connection's DNS lookup asked ("": none was sent)
    dns_failures: dict[str, int] = field(default_factory=dict)  # query failure reason -> connections
    dns_seen: dict[str, int] = field(default_factory=dict)  # "ns/name ip:port" of the responder -> queries
    destination_note: str | None = None  # what the client's kernel made of the destination (unspecified_note_of)

    def share(self, key: str) -> float:
        return self.pods.get(key, 0) / self.count if self.count else 0.0

    def result(self, state: dict[str, Any]) -> SendResult:
        """The simulator's ``send`` result shape (``expected`` is null: the kernel alone predicts nothing; ``why``
        empty: the kernel says what happened, not why, and the objects send's words come from are not in the
        state). ``pod_object`` is the plan's (:attr:`.plan.PodPlan.pod_object`), null for a node's own address and
        for a state written before ``netns up`` recorded it."""
        delivered = []
        for key, n in sorted(self.pods.items()):
            label, _, where = key.partition(" ")
            ip = where.rsplit(":", 1)[0]
            pod = state["pods"].get(ip)
            name = pod["key"] if pod is not None else label
            node = pod["node"] if pod is not None else None
            if pod is None:  # the node's own address (its pod bridge's too): its workload answered
                node = _node_at(state, ip)
            delivered.append(Delivered(name, ip, node, n, round(n / self.count, 6), None, tuple(self.seen[key]),
                                       pod_object=pod.get("pod_object") if pod is not None else None))
        failed = [Failed(name, n, detail, None) for name, detail, n in
                  ((*self._named(reason), n) for reason, n in sorted(self.failures.items()))]
        failed += [Failed(name, n, dns_query_detail(self.dns_server, detail), None) for name, detail, n in
                   ((*self._named(reason), n) for reason, n in sorted(self.dns_failures.items()))]
        failed.sort(key=lambda f: (f.reason, f.detail))
        return with_destination_note(SendResult(
            self.source, self.destination, self.proto, self.count, self.seed, tuple(delivered), tuple(failed),
            destination_note=self.destination_note))

    def _named(self, reason: str) -> tuple[str, str]:
        if reason.startswith(TCP_RETRY):  # a DNS answer truncated over UDP, asked again over TCP (.dnsquery)
            name, detail = self._named(reason.removeprefix(TCP_RETRY))
            return name, TRUNCATED_RETRY + detail
        if reason == "timeout":
            name = "DROP" if "DROP" in self.verdicts else "TIMEOUT"
            # a router's no route reaches the client (a pod's packet leaves masqueraded), but only TCP hears it
            unheard = UNHEARD.format(self.proto.upper()) if heard(NO_ROUTE, self.proto) != NO_ROUTE else ""
            return name, f"no answer within {self.timeout:g} s" + (
                " (a DROP rule met this run's packets)" if name == "DROP" else
                " (no DROP rule met this run's packets: the packet or its answer was lost on the way: nobody "
                f"answered, or the reply came from an address the client did not connect to{unheard})")
        if reason == "EPERM":
            name = "REJECT" if "REJECT" in self.verdicts else "DROP"
            return name, f"the send failed with EPERM: the node's own rules stopped the packet ({name})"
        return REASONS.get(reason, (reason.upper(), f"the socket failed: {reason}"))

    def as_json(self, state: dict[str, Any]) -> dict[str, object]:
        return self.result(state).as_json()


def tally(source: Source, dest: Destination, proto: str, results: list[dict[str, str]], *, seed: int | None = None,
          timeout: float = DEFAULT_TIMEOUT, verdicts: frozenset[str] = frozenset(),
          lookups: list[dict[str, Any]] | None = None) -> Tally:
    """``results`` of the connections made; ``lookups``: every connection's DNS lookup (:mod:`.dnsquery`), the
    failed ones standing for connections never made."""
    failed = Counter(a["error"] for a in lookups or () if "error" in a)
    answered = Counter(f"{w['pod']} {w['dst']}" for a in lookups or () if (w := a.get("witness")))
    pods: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    seen: dict[str, set[str]] = {}
    for result in results:
        if "error" in result:
            failures[result["error"]] += 1
            continue
        key = f"{result['pod']} {result['dst']}"
        pods[key] += 1
        seen.setdefault(key, set()).add(result["src"].rsplit(":", 1)[0])
    return Tally(source.label, dest.label, proto, len(results) + sum(failed.values()), dict(pods),
                 {k: sorted(v) for k, v in seen.items()}, dict(failures), seed, timeout, verdicts, dest.ip, dest.note,
                 dest.query.server if dest.query is not None else "", dict(failed), dict(answered),
                 unspecified_note_of(source, dest.ip, "connections"))


def check_proto(proto: str) -> str:
    proto = proto.lower()
    if proto == "sctp":
        raise InputError(Diagnostic("SCTP is not supported by the kernel backend: this kernel has no SCTP sockets",
                                    field="--proto"))
    if proto not in ("tcp", "udp"):
        raise InputError(Diagnostic(f"{proto!r} is not a protocol; expected tcp or udp", field="--proto"))
    return proto


def source_ports(seed: int | None, count: int) -> list[int] | None:
    """A seeded run's connections' source ports, distinct while the range lasts (None: the kernel picks them)."""
    return None if seed is None else seeded_ports(random.Random(seed), count)


def probe(source: Source, dest: Destination, proto: str, count: int, timeout: float,
          seed: int | None = None, mark: int = 0, to: list[str] | None = None,
          ports: list[int] | None = None, reply_wait: float = REPLY_WAIT) -> list[dict[str, str]]:
    """Run the probe in the source namespace: one result per attempt (the server's answer or an error).

    ``mark``: the DSCP value of every packet the probe sends (0: unmarked, as any other traffic); ``to``: each
    attempt's own address (:func:`targets`; None: ``dest``'s one); ``ports``: each one's source port (None: the
    seed's, :func:`source_ports`); ``reply_wait``: how long an established connection waits for the server's
    line (:data:`.probe.REPLY_WAIT`; a test whose server can never answer waits less)."""
    sports = ",".join(str(p) for p in (ports if ports is not None else source_ports(seed, count) or ()))
    args = [",".join(to or [dest.ip]), str(dest.port), proto, str(count), str(timeout), source.bind or "", sports,
            str(mark), str(reply_wait)]
    done = nsexec.run(source.netns, nsexec.python_module(PROBE, *args), timeout=120 + count * timeout)
    if done.returncode != 0:
        raise InputError(Diagnostic(f"the probe failed in {source.netns}: {done.stderr.strip()[-300:]}"))
    return json.loads(done.stdout)


def _counters(state: dict[str, Any], mark: int) -> Counter[tuple[str, str]]:
    """Packets of DSCP ``mark`` that met a DROP or REJECT rule of each node so far, keyed (node, verdict)."""
    found: Counter[tuple[str, str]] = Counter()
    for name, node in state["nodes"].items():
        for verdict, n in dscp.counted(node["netns"], _family(state), mark).items():
            found[(name, verdict)] += n
    return found


def _verdicts_seen(before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]) -> frozenset[str]:
    """DROP and REJECT, for whichever of them some node counted packets between the two snapshots."""
    return frozenset(key[1] for key, n in after.items() if n > before.get(key, 0))


def send(state: dict[str, Any], src: str, dst: str, *, proto: str = "tcp", count: int = 100,
         seed: int | None = None, timeout: float = DEFAULT_TIMEOUT, reply_wait: float = REPLY_WAIT) -> Tally:
    """Resolve, run the probe in the source namespace, tally what came back (``reply_wait``: :func:`probe`'s).

    The run's packets carry a DSCP value no other run on the cluster holds (see :mod:`.dscp`). When some
    attempts fail silently (or with EPERM), the nodes' counts of that value before and after tell whether
    this run's packets met a DROP (or REJECT) rule, so the failure gets the name the simulator gives it.
    """
    proto = check_proto(proto)
    source = resolve_source(state, src)
    dest = resolve_destination(state, dst, source)
    with dscp.lease(state.get("dscp_leases")) as mark:
        before = _counters(state, mark)
        asked, results = connect(source, dest, proto, count, timeout, seed=seed, mark=mark, reply_wait=reply_wait)
        verdicts: frozenset[str] = frozenset()
        if any(r.get("error") in ("timeout", "EPERM") for r in [*asked, *results]):
            verdicts = _verdicts_seen(before, _counters(state, mark))
    return tally(source, dest, proto, results, seed=seed, timeout=timeout, verdicts=verdicts, lookups=asked)


def connect(source: Source, dest: Destination, proto: str, count: int, timeout: float, *, seed: int | None = None,
            mark: int = 0, first: int = 0, reply_wait: float = REPLY_WAIT
            ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """``count`` connections as a client makes them: a name a pod looks up is asked for each (:func:`lookup`),
    and only the answered ones connect, each to its own address (:func:`targets`). The lookups (the failed ones
    stand for connections never made) and the connections' results. ``first``: that many connections are made
    before the others, so those find their conntrack (and affinity) entries (``netns verify``'s sticky flows)."""
    asked = lookup(source, dest, count, timeout, mark, seed) if dest.query is not None else []
    to = targets(dest, asked, count, seed)
    ports = source_ports(seed, len(to))
    results: list[dict[str, str]] = []
    for start, end in ((0, first), (first, len(to))) if 0 < first < len(to) else ((0, len(to)),):
        if end > start:
            results += probe(source, dest, proto, end - start, timeout, mark=mark, to=to[start:end],
                             ports=None if ports is None else ports[start:end], reply_wait=reply_wait)
    return asked, results


def lookup(source: Source, dest: Destination, count: int, timeout: float, mark: int = 0,
           seed: int | None = None) -> list[dict[str, Any]]:
    """``count`` DNS lookups of ``dest``'s name from the source namespace (one per connection, as ``send``
    makes them; ``seed``: the run's, which fixes their source ports and message IDs, see :func:`.dnsquery.draws`);
    an answer that does not give the address cluster DNS gave (which the responders answer from)
    is an error, not a result."""
    query = dest.query
    assert query is not None  # (send asks only for a destination with a query)
    args = [query.server, str(DNS_PORT), query.qtype, str(count), str(timeout), source.bind or "", str(mark),
            "" if seed is None else str(seed), "edns0" if query.edns0 else "", *query.names]
    done = nsexec.run(source.netns, nsexec.python_module(DNS_QUERY, *args), timeout=120 + count * timeout)
    if done.returncode != 0:
        raise InputError(Diagnostic(f"the DNS lookup failed in {source.netns}: {done.stderr.strip()[-300:]}"))
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    check_answers(dest, answers)
    return answers


def targets(dest: Destination, answers: list[dict[str, Any]], count: int, seed: int | None) -> list[str]:
    """Each connection's address: with DNS lookups, one per answered lookup, the answer's first address (what a
    client gets first from getaddrinfo; the responder shuffles a headless Service's several as CoreDNS does, see
    :func:`.responder.load_balanced`); without (a node, a machine outside, a pod not asking kube-dns), the one
    address, or a random one of several per connection as ``send``'s client takes it (from a generator derived
    from the run's seed, so the run reproduces)."""
    if dest.query is not None:
        return [a["addresses"][0] for a in answers if "error" not in a]
    choices = dest.choices()
    if len(choices) == 1:
        return [choices[0]] * count
    rng = random.Random(None if seed is None else f"addresses:{seed}")
    return [rng.choice(choices) for _ in range(count)]


def check_answers(dest: Destination, answers: list[dict[str, Any]]) -> None:
    """Refuse the run when an answer does not give the addresses cluster DNS gave: the responders answer from
    cluster DNS, so that is a bug, as is a responder that failed (its SERVFAIL's witness says why) and an answer
    that cannot be read."""
    assert dest.query is not None
    unread = next((a for a in answers if a.get("error") == "undecodable"), None)
    if unread is not None:
        raise InputError(Diagnostic(
            f"{dest.label!r}: the answer to the DNS query for {unread['name']} could not be read ({unread['why']}): "
            "the responder answers every query readably (a bug: please report it)", field="--to"))
    wrong = next((a for a in answers if "error" not in a and set(a["addresses"]) != set(dest.choices())), None)
    if wrong is not None:
        witness = wrong.get("witness") or {}
        fault = f" (its responder failed: {witness['fault']})" if "fault" in witness else ""
        raise InputError(Diagnostic(
            f"{dest.label!r}: {witness.get('pod', 'an unknown server')} answered the DNS query for "
            f"{wrong['name'] or dest.query.names[-1]} with {wrong['rcode']} "
            f"{', '.join(wrong['addresses']) or '(no address)'}{fault}, but cluster DNS resolves the name to "
            f"{', '.join(dest.choices())}: the responder and the simulator disagree (a bug: please report it)",
            field="--to"))


# ---------------------------------------------------------------------------- ping

PINGER = "kubeproxy_sim.kernel.pinger"
PING_INTERVAL = 0.01
"""Seconds between the kernel ping's echo requests (``ping -i 0.01``, root's to ask): the simulator's are a second
apart (ping's default), which only the pcap's times show; a run of 100 need not take 100 s here."""


def ping(state: dict[str, Any], src: str, dst: str, *, proto: str = "icmp", count: int = 1, seed: int | None = None,
         timeout: float = DEFAULT_TIMEOUT) -> SendResult:
    """``netns send --proto icmp``: one ``ping -c count`` from the source's namespace (:mod:`.pinger`: one raw
    socket, one identifier, sequence numbers 1..count), a name looked up once (a pod's DNS query, for real, as a
    connection's: :func:`lookup`) and pinged at the address its answer gave first, as ping(8) does; its rows in
    the simulator's ``send --proto icmp`` shape (:func:`ping_result`). ``seed`` fixes the identifier (and the
    lookup's port and ID, and a headless name's address from a source that sends no query)."""
    from kubeproxy_sim.simulator.send import ping_host, ping_proto

    source = resolve_source(state, src)
    dest = destination_of(state, ping_host(dst), 0, dst, source)
    proto = ping_proto(proto.lower(), _family(state))
    rng = random.Random(None if seed is None else f"ping:{seed}")
    with dscp.lease(state.get("dscp_leases")) as mark:
        before = _counters(state, mark)
        asked = lookup(source, dest, 1, timeout, mark, seed) if dest.query is not None else []
        if asked and "error" in asked[0]:  # ping: no address, no echo request sent
            ends: list[dict[str, Any]] = [{"dns": asked[0]["error"]}] * count
            address = dest.ip
        else:
            address = asked[0]["addresses"][0] if asked else targets(dest, [], 1, seed)[0]
            args = [address, str(count), str(timeout), str(rng.randint(1, 65535)), source.bind or "", str(mark),
                    str(PING_INTERVAL)]
            done = nsexec.run(source.netns, nsexec.python_module(PINGER, *args),
                              timeout=120 + count * PING_INTERVAL + timeout)
            if done.returncode != 0:
                raise InputError(Diagnostic(f"the ping failed in {source.netns}: {done.stderr.strip()[-300:]}"))
            ends = json.loads(done.stdout)
        verdicts: frozenset[str] = frozenset()
        if any(e.get("error") in ("timeout", "EPERM") or "dns" in e for e in ends):
            verdicts = _verdicts_seen(before, _counters(state, mark))
    server = dest.query.server if dest.query is not None else ""
    return ping_result(state, source, dest, proto, address, ends, seed=seed, timeout=timeout, verdicts=verdicts,
                       dns_server=server)


def ping_result(state: dict[str, Any], source: Source, dest: Destination, proto: str, address: str,
                ends: list[dict[str, Any]], *, seed: int | None = None, timeout: float = DEFAULT_TIMEOUT,
                verdicts: frozenset[str] = frozenset(), dns_server: str = "") -> SendResult:
    """The echo requests' ends as ``send --proto icmp``'s rows: an echo reply from the pinged address (any, for a
    loopback or unspecified one, which the client's own host answers) is the host that holds it answering; one
    from another address WRONG_REPLY_SOURCE; an ICMP error NO_ROUTE (naming the error and its sender); silence
    DROP when a node counted this run's packets at a DROP rule, else TIMEOUT. ``sources_seen`` is empty: the
    pinged host's view of the source is not sent back (tests/kernel/test_ping_kernel.py listens for it)."""
    from kubeproxy_sim.simulator.network import WRONG_REPLY_SOURCE

    own = _own_host(address)
    tally = Tally(source.label, dest.label, proto, len(ends), timeout=timeout, verdicts=verdicts)
    answered: Counter[str] = Counter()
    failures: Counter[tuple[str, str]] = Counter()
    for end in ends:
        reply = end.get("reply")
        if reply is not None and (own or reply == address):
            answered[reply] += 1
        elif reply is not None:
            failures[WRONG_REPLY_SOURCE, f"the reply came from {reply}, the client pinged {address}"] += 1
        elif "dns" in end:
            name, detail = tally._named(end["dns"])
            failures[name, dns_query_detail(dns_server, detail)] += 1
        elif end.get("error") == "unreachable" and "icmp" in end:
            failures["NO_ROUTE", f"ICMP {end['icmp']} from {end.get('from', '?')}"] += 1
        elif end.get("error") == "timeout":
            name, detail = tally._named("timeout")
            failures[name, detail.replace("no answer", "no echo reply", 1)] += 1
        else:
            failures[tally._named(str(end.get("error")))] += 1
    total = len(ends)
    delivered = []
    for reply, n in sorted(answered.items()):
        key, node, pod_object = _answerer(state, source, reply)
        delivered.append(Delivered(key, reply, node, n, round(n / total, 6), None, (), pod_object=pod_object))
    failed = tuple(Failed(reason, n, detail, None) for (reason, detail), n in sorted(failures.items()))
    return with_destination_note(SendResult(
        source.label, dest.label, proto, total, seed, tuple(delivered), failed,
        ping=ping_target_of(state, connected_address(source, address)),
        destination_note=unspecified_note_of(source, address, "pings")))


def _own_host(address: str) -> bool:
    """A loopback address, or the unspecified one the kernel sends to the client's own host (its loopback, or the
    address its socket is bound to): whatever answers is that host."""
    from kubeproxy_sim.netfilter.packet import loopback, parse_address

    family, value = parse_address(address)
    return value == 0 or loopback(family, value)


def _answerer(state: dict[str, Any], source: Source, ip: str) -> tuple[str, str | None, bool | None]:
    """(row key, node, pod_object) of the host whose address ``ip`` answered, named as ``send`` names it: a pod's
    key, ``node/NAME`` (its pod bridge address too), ``external/IP``; a loopback one is the source's own host."""
    if _own_host(ip):
        node = next((n for n, v in state["nodes"].items() if v["netns"] == source.netns), None)
        if node is not None:
            return f"node/{node}", node, None
        pod = next((p for p in state["pods"].values() if p["netns"] == source.netns), None)
        if pod is not None:
            return pod["key"], pod["node"], pod.get("pod_object")
        ip = next((c for c, netns in state["clients"].items() if netns == source.netns), ip)
        return f"external/{ip}", None, None
    pod = state["pods"].get(ip)
    if pod is not None and not pod["host_network"]:
        return pod["key"], pod["node"], pod.get("pod_object")
    node = _node_at(state, ip)
    if node is not None:
        return f"node/{node}", node, None
    return f"external/{ip}", None, None


def _node_at(state: dict[str, Any], ip: str) -> str | None:
    """The node of the state record holding ``ip``: one of its addresses or its pod bridge's (a gateway)."""
    return next((n for n, v in state["nodes"].items() if ip in (*v["addresses"], *v.get("gateways", ()))), None)


def unspecified_note_of(source: Source, address: str, what: str) -> str | None:
    """``send``'s note on ``what`` (connections, pings) to the unspecified address (0.0.0.0, ::), which the
    client's kernel sends to its own host (:func:`connected_address`), in the same words
    (:func:`~kubeproxy_sim.simulator.send.unspecified_said`); None for any other address."""
    from kubeproxy_sim.netfilter.packet import parse_address
    from kubeproxy_sim.simulator.send import unspecified_said

    if parse_address(address)[1] != 0:
        return None
    return unspecified_said(address, connected_address(source, address), source.label, source.bind, what)


def connected_address(source: Source, address: str) -> str:
    """The address Linux's ping connects to when told ``address``: the unspecified one (0.0.0.0, ::) is the
    client's own host, the socket's bound source on IPv4 (else 127.0.0.1), ::1 on IPv6 (``send``'s
    :func:`~kubeproxy_sim.simulator.send.unspecified_destination`, for the same client); any other is itself."""
    from kubeproxy_sim.netfilter.packet import format_address, loopback_source, parse_address

    family, value = parse_address(address)
    if value != 0:
        return address
    if family == 4 and source.bind:
        return source.bind
    return format_address(family, loopback_source(family))


def ping_target_of(state: dict[str, Any], address: str) -> PingTarget:
    """What the state record knows the pinged address to be (``send``'s :class:`.ping.PingTarget`, its ``kind``
    null where the record does not say: it keeps no externalIPs or load-balancer IPs), with no note: the kernel
    says what happened, not why (run ``send --proto icmp`` on the same objects for the words). ``address`` is the
    one connected to (:func:`connected_address`: never the unspecified one), as ``send``'s ping names it."""
    if _own_host(address):
        return PingTarget(address, "loopback", None, f"a loopback address ({address})", "")
    pod = state["pods"].get(address)
    if pod is not None and not pod["host_network"]:
        return PingTarget(address, "pod", pod["key"], f"pod {pod['key']}'s address {address}", "")
    node = _node_at(state, address)
    if node is not None:
        return PingTarget(address, "node", node, f"node {node}'s address {address}", "")
    service = next((key for key, svc in state.get("services", {}).items() if address in svc["cluster_ips"]), None)
    if service is not None:
        return PingTarget(address, "cluster-ip", service, f"Service {service}'s cluster IP {address}", "")
    if address in state["clients"]:
        return PingTarget(address, "outside-host", address, f"the outside host {address}", "")
    return PingTarget(address, None, None, address, "")
