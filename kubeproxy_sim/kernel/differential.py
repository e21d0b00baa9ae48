"""The simulator proven against the kernel: the same cluster, the same flows, outcomes compared with statistics.

For each flow (a source, a destination, a protocol) both sides are asked:

* the simulator, exactly: the all-branches tracer on the node where the flow
  enters gives every way the first packet can end with its probability (a
  :class:`~fractions.Fraction`); each endpoint reached is mapped to what the
  client's socket sees (a reply, with the source address the endpoint saw, or
  a silent loss on the way back) by connecting through the simulator;
* the kernel, by counting: N real connections in the namespaces built from the
  same objects.

Both are reduced to what a socket can tell apart (:data:`FAIL_CLASSES`); then
per flow: the kernel may show nothing the simulator gives probability 0 (the
same reachable pods, verdicts and source addresses), and each outcome's count
must fall inside its exact binomial acceptance range. Flows to a Service with
ClientIP affinity are sticky instead: one client, one outcome, on both sides.

The false alarm rate is split (Bonferroni) over every random outcome of every
flow of a run, so a whole run wrongly reports a difference with probability at
most ``alpha``. A flow of three or more random outcomes spends half its share on
the outcomes' ranges and half on one chi-square test over them all (the test that
sees a split redistributed among them); N is sized per flow so that an outcome
of the smallest predicted share is missed with at most that probability too, and
so that the flow's test notices its smallest share off by half (:data:`EFFECT`)
with probability :data:`POWER` (up to a cap). A flow whose ranges still start
at 0 cannot tell a never-reached outcome from an unlucky one: it is reported
so (``inconclusive``), not as agreeing. ``netns verify --rules`` (dump mode)
sizes and judges its flows by these same functions.

Large services (more than :data:`LARGE_SERVICE` endpoints) get a reduced but
sound comparison: only the flows needed (ClusterIP from a pod on the first node,
NodePort from outside into the first node, LoadBalancer IPs and externalIPs); every
endpoint the kernel reached must be one the simulator gives a positive share, with
the outcome (source address seen, or silence) the simulator gives its group; the
endpoints are cut into a fixed set of about :data:`GROUPS` groups (by node, then
contiguous address ranges), and the counts per group (and per DROP/REJECT class) are
tested against the simulator's exact group shares by one chi-square test at the
flow's corrected level. N is sized so that a group whose share is off by half is
caught with probability :data:`POWER`. The endpoints themselves are served from pool
namespaces (see :mod:`kubeproxy_sim.kernel.plan`).

The kernel backend differs from the simulator's network in two places, and the
simulator is pinned to match: the kernel has no cloud load balancer (outside
traffic to LoadBalancer IPs and externalIPs enters the first node, by the
client's routes), so the simulator's balancer and router use the first
node only; ipMode Proxy LoadBalancer IPs have no kernel counterpart and are not
derived.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import netaddr

from kubeproxy_sim import signals
from kubeproxy_sim.analysis import stats
from kubeproxy_sim.errors import Diagnostic, InputError, UsageError
from kubeproxy_sim.kernel.dnsquery import TCP_RETRY
from kubeproxy_sim.kernel.verify import Origin, binomial_range, queued, read_flow_entries, verdict_hook
from kubeproxy_sim.netfilter.packet import host_port, loopback, parse_address
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Pod,
    Protocol,
    Service,
    ServiceType,
    SessionAffinity,
)
from kubeproxy_sim.objects.report import quote
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.hops import Circles, next_hop
from kubeproxy_sim.simulator.topology import about_node, staged_pod_cidrs

KERNEL_PROTOCOLS = ("tcp", "udp")  # this kernel has no SCTP sockets
CLIENT_NAMESPACE = "kpsim-client"
N_MIN, N_RANDOM, N_MAX, N_STICKY = 24, 100, 600, 16  # deterministic, random (at least), cap, affinity
MC_MIN, MC_MAX = 64, 3000  # simulator connections per flow to map each endpoint to what the socket sees
DEFAULT_ALPHA = Fraction(1, 1000)
DEFAULT_TIMEOUT = 1.5  # see kernel.send.DEFAULT_TIMEOUT: a REJECT may be heard only at the SYN's retransmission
PARALLEL_FLOWS = 4
STOP_POLL = 0.05  # seconds between two rounds of killing a stopped run's probes (a probe may start meanwhile)
SIGNAL_POLL = 0.1
"""Seconds the main thread waits for the flows before it runs a signal handler another thread was given. The
kernel hands a Ctrl-C (or SIGTERM) to any thread not blocking it, a pool thread too; Python then runs the
handler in the main thread, but only once that thread next runs Python code: a wait with no end, which only
the signal's own thread would have cut short, held it until the flows it waited for were done (minutes: seen
as a run still going 15 s after its signal, 2 times in 16 runs)."""
# large services: endpoints beyond which only the needed flows run and the shares are compared by group
LARGE_SERVICE, GROUPS, MC_PER_GROUP = 32, 8, 12
EFFECT, POWER, N_GROUPED_MAX = 0.5, 0.9, 2400  # detect a group's share off by half, with this power

# what a client socket can tell apart, whatever the verdict's name
REFUSED, SILENCE, UNREACHABLE, EPERM = "refused", "silence", "unreachable", "EPERM"
FAIL_CLASSES = {
    "refused": REFUSED, "reset": REFUSED,  # a RST or an ICMP port unreachable
    "timeout": SILENCE, "no reply": SILENCE,  # dropped, lost, or the reply went elsewhere
    "unreachable": UNREACHABLE,  # ICMP net/host unreachable from a router
    "EPERM": EPERM,  # the node's own datagram stopped by its OUTPUT rules
}

Key = tuple[str, ...]  # ("reply", ip, seen source) | ("fail", class) | ("group", label, seen source)
Tick = Callable[..., None]
Progress = Callable[..., contextlib.AbstractContextManager[Tick]]  # (label, total) -> a context giving tick()


@contextlib.contextmanager
def no_progress(_label: str, _total: int | None = None) -> Iterator[Tick]:
    """The default progress display: none (the command line passes its own, drawn on a terminal only)."""
    yield lambda n=1: None


@dataclass(frozen=True, slots=True)
class Flow:
    """Connections from ``src`` to ``dst``, in the simulator's ``send`` addressing."""

    src: str  # pod/NS/NAME, node/NAME, external, external:IP
    dst: str  # IP:PORT or node/NAME:PORT
    proto: str = "tcp"
    kind: str = "given"  # ClusterIP, NodePort, LoadBalancer, externalIP, hairpin, given
    service: str = ""

    @property
    def label(self) -> str:
        return f"{self.src} -> {self.dst}/{self.proto}"

    @property
    def origin(self) -> Origin:
        """The kind of client it comes from, as ``--from`` names it."""
        return Origin(self.src.partition("/")[0].partition(":")[0])


@dataclass(frozen=True, slots=True)
class Skipped:
    flow: str
    reason: str
    origins: frozenset[Origin] = frozenset(Origin)  # the clients its flows would come from (``--from`` keeps them)


# --------------------------------------------------------------------------- the cluster both sides get


def _free_address(cidr: str, taken: set[str], family: int = 4) -> str | None:
    """A host address of ``cidr`` nobody uses, from the top of the range (where objects rarely put pods)."""
    net = netaddr.IPNetwork(cidr)
    if net.version != family or net.size < 4:
        return None
    for offset in range(2, min(net.size - 1, 200)):
        candidate = str(net[net.size - offset])
        if candidate not in taken:
            return candidate
    return None


def _taken(cluster: Cluster) -> set[str]:
    taken = {a for p in cluster.pods for a in p.pod_ips}
    taken |= {a for s in cluster.endpoint_slices for e in s.endpoints for a in e.addresses}
    taken |= {a.address for n in cluster.nodes for a in n.addresses}
    return taken


def with_clients(cluster: Cluster, config: ProxyConfig, nodes: Sequence[str]) -> tuple[Cluster, dict[str, str]]:
    """One client Pod per node (an unused address of its pod CIDR, else of the cluster CIDR): node -> pod key.

    A Pod object is invisible to kube-proxy's rules, and both sides place it the
    same way, so traffic "from a pod on each node" has a real source on each.
    """
    taken = _taken(cluster)
    family = 6 if config.ipv6 else 4
    pods: list[Pod] = []
    clients: dict[str, str] = {}
    for index, name in enumerate(nodes):
        first = name == config.node_name
        cidrs = [*staged_pod_cidrs(about_node(config, cluster.node(name), first=first), family),
                 *(config.cluster_cidrs if first else ())]  # the node's pod CIDRs as both sides route them
        address = next((a for a in (_free_address(c, taken, family) for c in cidrs) if a), None)
        if address is None:
            continue
        taken.add(address)
        pod = Pod(CLIENT_NAMESPACE, f"client-{index}", name, (address,))
        pods.append(pod)
        clients[name] = pod.key
    return dataclasses.replace(cluster, pods=(*cluster.pods, *pods)), clients


# --------------------------------------------------------------------------- flows


def _of(addresses: Iterable[str], family: int) -> list[str]:
    return [a for a in addresses if (":" in a) == (family == 6)]


def _endpoint_pod(cluster: Cluster, sim: Any, service: Service) -> str | None:
    """A pod (not host-network) the service's chain can send back to itself: the source of its hairpin flow.

    Only an endpoint in KUBE-SVC-* can hairpin: a ready one, or, when none is ready, a serving terminating one (the
    fallback kube-proxy takes); a not-ready or non-serving pod that sends to its Service lands on the others.
    """
    endpoints = [e for s in cluster.endpoint_slices if s.service_name == service.name
                 and s.namespace == service.namespace
                 and s.address_type is (AddressType.IPV4 if sim.family == 4 else AddressType.IPV6)
                 for e in s.endpoints]
    usable = [e for e in endpoints if e.conditions.counts_ready] or [
        e for e in endpoints if e.conditions.counts_serving and e.conditions.terminating]
    addresses = {a for e in usable for a in e.addresses}
    pods = sorted((p for p in sim.topology.pods if p.ip in addresses and not p.host_network), key=lambda p: p.ip)
    return pods[0].key if pods else None


def _endpoint_count(cluster: Cluster, service: Service, family: int) -> int:
    """Distinct endpoint addresses of the service's slices of the family."""
    kind = AddressType.IPV4 if family == 4 else AddressType.IPV6
    return len({a for s in cluster.endpoint_slices if s.service_name == service.name
                and s.namespace == service.namespace and s.address_type is kind
                for e in s.endpoints for a in e.addresses})


def derive_flows(cluster: Cluster, sim: Any, clients: dict[str, str]) -> tuple[list[Flow], list[Skipped]]:
    """Each service port's ClusterIP from a pod on each node and from the first node, its NodePort on each node
    from outside, its LoadBalancer IPs and externalIPs from outside, and the hairpin from an endpoint pod.
    A large service gets the flows needed only (see the module's docstring)."""
    flows: list[Flow] = []
    skipped: list[Skipped] = []
    first = sim.topology.nodes[0].name
    family = sim.family
    for svc in sorted(cluster.services, key=lambda s: s.key):
        if svc.type is ServiceType.EXTERNAL_NAME or not _of(svc.cluster_ips, family):
            continue
        cip = _of(svc.cluster_ips, family)[0]
        large = _endpoint_count(cluster, svc, family) > LARGE_SERVICE
        hairpin = None if large else _endpoint_pod(cluster, sim, svc)
        sources = list(clients.values())
        if large:  # the flows needed: one pod on the first node (else the node itself), NodePort into it
            sources = [clients[first]] if first in clients else []
        for port in svc.ports:
            proto = port.protocol.value.lower()
            dst = host_port(cip, port.port)
            made = [Flow(f"pod/{key}", dst, proto, "ClusterIP", svc.key) for key in sources]
            if not large or not sources:
                made.append(Flow(f"node/{first}", dst, proto, "ClusterIP", svc.key))
            if hairpin:
                made.append(Flow(f"pod/{hairpin}", dst, proto, "hairpin", svc.key))
            if port.node_port:
                made += [Flow("external", f"node/{n.name}:{port.node_port}", proto, "NodePort", svc.key)
                         for n in (sim.topology.nodes[:1] if large else sim.topology.nodes)]
            proxied: list[Skipped] = []
            for ingress in svc.load_balancer_ingress if svc.type is ServiceType.LOAD_BALANCER else ():
                if not ingress.ip or not _of([ingress.ip], family):
                    continue
                if ingress.ip_mode == "Proxy":
                    proxied.append(Skipped(f"{svc.key} {host_port(ingress.ip, port.port)}/{proto}", "ipMode Proxy: "
                                           "the kernel backend has no load balancer to end the connection",
                                           frozenset((Origin.EXTERNAL,))))
                    continue
                made.append(Flow("external", host_port(ingress.ip, port.port), proto, "LoadBalancer", svc.key))
            made += [Flow("external", host_port(ip, port.port), proto, "externalIP", svc.key)
                     for ip in _of(svc.external_ips, family)]
            if port.protocol is Protocol.SCTP:  # none runs: one entry for the port, from the clients all would have
                skipped.append(Skipped(f"{svc.key} {dst}/sctp", "SCTP: this kernel has no SCTP sockets",
                                       frozenset({f.origin for f in made}.union(*(p.origins for p in proxied)))))
                continue
            flows += made
            skipped += proxied
    return flows, skipped


def from_origins(flows: Sequence[Flow], origins: Collection[Origin]) -> list[Flow]:
    """The flows whose client is of ``origins`` (``netns verify --from``, as dump mode keeps its derived flows):
    a pod (a hairpin's endpoint pod too), a node, or outside (``external``, ``external:IP``). Leaving flows out
    leaves the others' verdicts sound, as ``--max-flows`` does: flows already run side by side in no set order
    (PARALLEL_FLOWS at a time), so none hangs on another having run, and the run's alpha is split over the tests
    of the flows that run (:func:`per_row_alpha`)."""
    return [f for f in flows if f.origin in origins]


def round_robin(flows: Sequence[Flow], limit: int | None) -> list[Flow]:
    """At most ``limit`` flows, taking each kind in turn so that a short list still has every kind."""
    if limit is None or len(flows) <= limit:
        return list(flows)
    by_kind: dict[str, list[Flow]] = {}
    for flow in flows:
        by_kind.setdefault(flow.kind, []).append(flow)
    out: list[Flow] = []
    while len(out) < limit:
        for queue in by_kind.values():
            if queue and len(out) < limit:
                out.append(queue.pop(0))
    return out


_SOURCE_SHAPE = re.compile(r"^(pod/[^/\s]+/[^/\s]+|node/[^/\s]+|external(:\S+)?"
                           r"|[0-9A-Fa-f.:\[\]]+[.:][0-9A-Fa-f.:\]]*)$")
"""What ``send`` reads as a source (checked for real when the flow runs): here only to name a flows file's
entry that cannot be one, e.g. a dump-mode ``from: pod``."""


def load_flows(path: str) -> list[Flow]:
    """``flows: [{from: SRC, to: DST, proto: tcp|udp}]`` with ``send``'s addressing."""
    flows = []
    for index, entry in enumerate(read_flow_entries(path)):
        if not isinstance(entry, dict) or not entry.get("from") or not entry.get("to"):
            raise InputError(Diagnostic("expected a mapping with from and to (and proto)", file=path,
                                        field=f"flows[{index}]"))
        source, target, proto = entry["from"], entry["to"], entry.get("proto", "tcp")
        if not isinstance(source, str) or not _SOURCE_SHAPE.match(source):
            raise InputError(Diagnostic(f"{quote(source)} is not a source; expected pod/NS/NAME, node/NAME, "
                                        "external, external:IP or an IP address (dump mode's pod|node|external "
                                        "need --rules)", file=path, field=f"flows[{index}].from"))
        _check_flow_source(source, path, index)
        if not isinstance(target, str):  # (send's --to forms are checked when the flow runs)
            raise InputError(Diagnostic(f"{quote(target)} is not a destination; expected IP:PORT, node/NAME:PORT "
                                        "or a Service's NAME.NS:PORT", file=path, field=f"flows[{index}].to"))
        if not isinstance(proto, str) or proto.lower() not in KERNEL_PROTOCOLS:
            raise InputError(Diagnostic(f"{quote(proto)}: expected tcp or udp (this kernel has no SCTP sockets)",
                                        file=path, field=f"flows[{index}].proto"))
        flows.append(Flow(source, target, proto.lower()))
    return flows


def _check_flow_source(source: str, path: str, index: int) -> None:
    """A source of send's shapes that ``--from`` would still refuse (a bare loopback address, ``external:`` of one
    no outside machine has) is refused here, naming the file's entry: it was said as ``--from``'s when the flow
    ran, which no option of the command gave."""
    from kubeproxy_sim.simulator.send import check_source_form

    try:
        check_source_form(source)
    except UsageError as exc:
        raise InputError([dataclasses.replace(d, file=path, field=f"flows[{index}].from")
                          for d in exc.diagnostics]) from None


# --------------------------------------------------------------------------- the simulator's side


def fail_class(verdict: str, proto: str, *, sent_locally: bool, hook: str | None) -> str:
    """What a socket sees of a verdict (DROP, REJECT, QUEUE, NO_ROUTE, TIMEOUT) the simulator names.

    A node's own datagram stopped in OUTPUT or POSTROUTING fails the send (EPERM); a TCP SYN stopped there is
    retried (DROP: silence) or answered by the local ICMP error (REJECT: refused). A packet queued to no listener
    (QUEUE: a QUEUE or NFQUEUE rule decided) is freed and the send succeeds, wherever it was: silence. A router's
    "no route" (ICMP net unreachable, never rate limited in the kernel backend) is the caller's to have found
    its way back (``Simulator.answered_from_outside``, which it asks; TIMEOUT when not): the router routes node
    addresses and outside clients, not a node's pod bridge address, and a pod's packet reaches it masqueraded to
    the address of the node it left by (kube-proxy's masquerade, else the CNI's, which takes any pod's packet
    leaving the cluster there: ``build.egress_rules``, ``Simulator._new_entry``); after a node DNATed the packet,
    only that node's conntrack maps the answer back, so it is heard from that node's own address or a pod's, not
    from an outside client or another node. Whether the socket hears it is ``send``'s own rule
    (:func:`~kubeproxy_sim.simulator.network.heard`: only TCP does; to UDP it is a soft error, silence).
    """
    from kubeproxy_sim.simulator.network import NO_ROUTE, heard

    if verdict in ("DROP", "REJECT") and sent_locally and hook in ("OUTPUT", "POSTROUTING") and proto == "udp":
        return EPERM
    if verdict == "REJECT":
        return REFUSED
    if heard(verdict, proto) == NO_ROUTE:
        return UNREACHABLE
    return SILENCE


@dataclass(frozen=True, slots=True)
class Prediction:
    """The simulator's exact share per socket outcome; ``exact`` False when an endpoint's outcome was not
    pinned down (then only the set of outcomes is compared)."""

    shares: dict[Key, Fraction]
    sticky: bool = False
    exact: bool = True
    note: str = ""
    groups: dict[str, str] = field(default_factory=dict)  # endpoint ip -> its group, for a large service

    @property
    def grouped(self) -> bool:
        """Judged by one chi-square test over the groups (not per outcome)."""
        return bool(self.groups) and self.exact and not self.sticky

    def reduce(self, seen: Counter[Key]) -> Counter[Key]:
        """The kernel's replies from an endpoint in a group counted as replies from the group."""
        if not self.groups:
            return seen
        out: Counter[Key] = Counter()
        for key, n in seen.items():
            out[group_key(key, self.groups)] += n
        return out


def group_key(key: Key, groups: Mapping[str, str]) -> Key:
    """A reply from an endpoint of a large service's group (``groups``: endpoint -> group) as a reply from the
    group, the source it saw kept; any other outcome as it is. Predictions and observations are grouped alike."""
    if key[0] == "reply" and key[1] in groups:
        return ("group", groups[key[1]], key[2])
    return key


def _spread(leaves: Mapping[Key, Fraction], outcomes_of: Callable[[Key], tuple[str, set[Key], Key]],
            seen_in: str) -> tuple[dict[Key, Fraction], bool, list[str]]:
    """Each endpoint leaf's share spread evenly over the socket outcomes simulated connections showed for it.

    ``outcomes_of(leaf)`` gives (its name in notes, its outcomes, the outcome to use when none was seen).
    Returns (shares, whether every leaf had exactly one outcome, notes on those that did not).
    """
    shares: defaultdict[Key, Fraction] = defaultdict(Fraction)
    exact, notes = True, []
    for key, p in leaves.items():
        if key[0] != "target":
            shares[key] += p
            continue
        name, found, unknown = outcomes_of(key)
        if len(found) != 1:
            exact = False
            notes.append(f"{name}: {'not reached' if not found else 'answers differently'} in {seen_in}")
        for outcome in found or {unknown}:
            shares[outcome] += p / max(len(found), 1)
    return shares, exact, notes



class SimulatorSide:
    """Two simulators of the cluster with the first node as the only way in from outside: ``plain`` without
    session affinity (every endpoint a new client could reach, and how it answers), ``real`` as given."""

    def __init__(self, cluster: Cluster, config: ProxyConfig, seed: int = 1) -> None:
        from kubeproxy_sim.simulator.network import Simulator

        plain = dataclasses.replace(cluster, services=tuple(
            dataclasses.replace(s, session_affinity=SessionAffinity.NONE) for s in cluster.services))
        self.plain = Simulator(plain, config, rng=random.Random(seed))
        self.real = Simulator(cluster, config, rng=random.Random(seed + 1))
        self.rng = random.Random(seed + 2)
        for sim in (self.plain, self.real):
            sim.balancer.pin(sim.topology.nodes[0].name)

    @property
    def first(self) -> str:
        return self.plain.topology.nodes[0].name

    def _resolve(self, sim: Any, flow: Flow) -> tuple[Any, Any]:
        from kubeproxy_sim.simulator.send import parse_destination, parse_source

        try:
            client = parse_source(sim, flow.src)
            return client, parse_destination(sim, client, flow.dst)
        except UsageError as exc:  # a --flows file's entry of no form is bad content of a file (1), not usage
            raise InputError(exc.diagnostics) from None

    def entries(self, sim: Any, client: Any, dst: str, port: int, proto: str) -> list[tuple[str, Fraction, Any]]:
        """Where the first packet enters; outside traffic to an address no node has enters the first node."""
        from kubeproxy_sim.simulator.send import _entries

        found, _ = _entries(sim, client, dst, port, proto)  # the stage has no balancer to end a connection
        if len(found) > 1:
            found = [(node, Fraction(1), packet) for node, _, packet in found if node == self.first]
        return found

    def leaves(self, flow: Flow) -> dict[Key, Fraction]:
        """Exact probability of each way the first packet ends: ("target", key, entry node) or ("fail", class).
        A pod that connects to a name asks its nameserver first (as ``send`` and ``netns send``): the query's
        failures are the connection's, and only what it lets through is spread over the name's addresses."""
        sim = self.plain
        client, target = self._resolve(sim, flow)
        out: defaultdict[Key, Fraction] = defaultdict(Fraction)
        through = self._query_leaves(client, target, out)
        for dst in target.addresses if through else ():  # (none: every query fails)
            self._leaves_to(client, dst, target.port, flow.proto, through / len(target.addresses), out)
        return out

    def _query_leaves(self, client: Any, target: Any, out: defaultdict[Key, Fraction]) -> Fraction:
        """The DNS query's failures into ``out`` (what a UDP socket sees of them; of a truncated answer's retry
        over TCP, what a TCP socket sees), and the share it lets through: every workload that answers it is a
        responder, each answering alike (``send``'s _dns_step)."""
        from kubeproxy_sim.simulator.network import DNS_PORT

        server = self.plain.dns_server(client) if target.name is not None else None
        if server is None:
            return Fraction(1)
        through = Fraction(1)
        for proto in ("udp", "tcp") if target.truncated else ("udp",):
            query: defaultdict[Key, Fraction] = defaultdict(Fraction)
            self._leaves_to(client, server, DNS_PORT, proto, through, query)
            for key, share in query.items():
                if key[0] == "fail":
                    out[key] += share
            through = sum((share for key, share in query.items() if key[0] == "target"), Fraction(0))
        return through

    def _leaves_to(self, client: Any, dst: str, port: int, proto: str, weight: Fraction,
                   out: defaultdict[Key, Fraction]) -> None:
        """The ways ``weight`` of the client's first packets to ``dst``:``port`` end, into ``out``."""
        answer = self.plain.loopback_answer(client, proto, port) if loopback(*parse_address(dst)) else None
        if answer is not None:  # never leaves the client's own host: names the target unless it names a failure
            key: Key = ("fail", fail_class(answer.failure.reason, proto, sent_locally=False, hook=None)) \
                if answer.failure else ("target", answer.target or "", "")  # no entry node, as its connection has
            out[key] += weight
            return
        entries = self.entries(self.plain, client, dst, port, proto)
        if not entries:  # an outside client's packet the router has no way for (a pod or a node always has one)
            out[("fail", fail_class("NO_ROUTE", proto, sent_locally=False, hook=None))] += weight
        for node, share, packet in entries:
            self._follow(client, node, node, packet, weight * share, proto, out, 0)

    def _follow(self, client: Any, entry: str, node: str, packet: Any, weight: Fraction, proto: str,
                out: defaultdict[Key, Fraction], depth: int) -> None:
        from kubeproxy_sim.simulator.network import circles_reason, translated_at

        sim = self.plain
        for outcome in sim.runtimes[node].tracer.trace(packet).outcomes:
            p = weight * outcome.probability_exact
            local = client.kind == "node" and depth == 0
            if outcome.verdict in ("DROP", "REJECT"):
                verdict = "QUEUE" if queued(outcome.path) else outcome.verdict
                out[("fail", fail_class(verdict, proto, sent_locally=local, hook=verdict_hook(outcome.path)))] += p
                continue
            ip, port = outcome.address_after(packet.dst_text, packet.dport or 0)
            value = parse_address(ip)[1]
            # another node's own address (its pod bridge's too) is traced there, DNATed to it or not: that node's
            # conntrack sees a new connection, which its rules (a NodePort's) may DNAT again
            src = sim.runtimes[node].node.primary if outcome.masquerade else packet.src_text
            hop = next_hop(node, sim.host_node(value), depth, proto, src, ip, port)
            if isinstance(hop, Circles):  # as the walk ends it: the ICMP time exceeded, unreachable to TCP
                out[("fail", fail_class(circles_reason(proto), proto, sent_locally=False, hook=None))] += p
                continue
            if hop is not None:
                self._follow(client, entry, hop[0], hop[1], p, proto, out, depth + 1)
                continue
            translated = translated_at(node, (packet.dst_text, packet.dport), (ip, port))
            out[self._leaf(entry, node, value, ip, port, proto, src, translated)] += p

    def _leaf(self, entry: str, node: str, value: int, ip: str, port: int, proto: str, src: str,
              translated: str | None) -> Key:
        """Who the packet ends at on ``node`` (whose loopback addresses are its own): an answering workload
        (mapped later), or why nobody answers. An outside client's address is a host there too, whose stack refuses
        what nothing listens for (the stage's client namespace, as ``send`` takes it), heard only from a source
        the outside routes back to (``src``, as the rules leave it: ``Simulator.answered_from_outside``)."""
        from kubeproxy_sim.simulator.network import REJECT, Failure

        sim = self.plain
        served = sim.server_at(ip, port, proto, node=node, senders=value in sim.clients)
        if isinstance(served, Failure):
            if served.reason == REJECT and not sim.refusal_heard(value, parse_address(src)[1], translated):
                return ("fail", SILENCE)
            return ("fail", fail_class(served.reason, proto, sent_locally=False, hook=None))
        if served is not None:
            return ("target", served[0], entry)
        # no host has the address: the router's answer comes back, to a pod too, on whichever node the packet
        # left (its egress is masqueraded to that node's address, see fail_class), but not to a source the outside
        # has no route to (a node's pod bridge address), nor to one it routes by another way than ``translated``,
        # the node that DNATed it (Simulator.answered_from_outside)
        reason = sim.unowned_reason(value, parse_address(src)[1], translated)
        return ("fail", fail_class(reason, proto, sent_locally=False, hook=None))

    def _connect(self, sim: Any, client: Any, target: Any, proto: str) -> Any:
        """One simulated connection; outside traffic the router would spread over the nodes enters the first."""
        # a headless Service's name: a random one of its addresses, as send's client takes it
        dst = target.addresses[sim.rng.randrange(len(target.addresses))] if len(target.addresses) > 1 else \
            target.addresses[0]
        sport = sim.ephemeral_port()
        value = parse_address(dst)[1]
        if client.kind == "external" and value in sim.external_ip_nodes:
            key = (proto, sim.family, parse_address(client.ip)[1], sport, value, target.port)
            sim.router_flows[key] = self.first
        return sim.connect(client, dst, target.port, proto, sport=sport)

    def outcome_map(self, flow: Flow, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], set[Key]]:
        """(target, entry node) -> the socket outcomes simulated connections reaching it ended with."""
        sim = self.plain
        client, target = self._resolve(sim, flow)
        found: dict[tuple[str, str], set[Key]] = {}
        tries = 0
        while tries < MC_MAX and (tries < MC_MIN or not wanted <= set(found)):
            tries += 1
            conn = self._connect(sim, client, target, flow.proto)
            if conn.target is None:
                continue
            key: Key = ("fail", SILENCE) if conn.failure is not None else ("reply", conn.ip or "", conn.seen or "")
            found.setdefault((conn.target, conn.entry_node or ""), set()).add(key)
        return found

    def sticky_outcomes(self, flow: Flow, count: int) -> set[Key]:
        """The outcomes of ``count`` connections of one client through the cluster as given (with affinity)."""
        client, target = self._resolve(self.real, flow)
        seen: set[Key] = set()
        for _ in range(count):
            conn = self._connect(self.real, client, target, flow.proto)
            if conn.failure is None:
                seen.add(("reply", conn.ip or "", conn.seen or ""))
            elif conn.target is not None:
                seen.add(("fail", SILENCE))
            else:
                seen.add(("fail", conn.failure.reason))
        return seen

    def predict(self, flow: Flow) -> Prediction:
        leaves = self.leaves(flow)
        targets = {(k[1], k[2]) for k in leaves if k[0] == "target"}
        if len({t for t, _ in targets}) > LARGE_SERVICE:
            return self._predict_grouped(flow, leaves)
        mapping = self.outcome_map(flow, targets) if targets else {}

        def endpoint(key: Key) -> tuple[str, set[Key], Key]:
            return key[1], mapping.get((key[1], key[2]), set()), ("reply", key[1], "?")

        shares, exact, notes = _spread(leaves, endpoint, f"{MC_MAX} simulated connections")
        sticky = sum(1 for p in shares.values() if p > 0) > 1 and self._sticky(flow)
        return Prediction({k: v for k, v in shares.items() if v > 0}, sticky, exact, "; ".join(notes))

    def _predict_grouped(self, flow: Flow, leaves: Mapping[Key, Fraction]) -> Prediction:
        """Exact shares per group of endpoints; each group's socket outcome from simulated connections."""
        pods = {p.key: p for p in self.plain.topology.pods}
        names = sorted({k[1] for k in leaves if k[0] == "target"})
        label = fixed_groups([(pods[n].node, pods[n].ip, n) for n in names if n in pods])
        outcomes = self._group_outcomes(flow, label)

        def group(key: Key) -> tuple[str, set[Key], Key]:
            name = label.get(key[1], key[1])
            return name, outcomes.get(name, set()), ("group", name, "?")

        shares, exact, notes = _spread(leaves, group, "simulated connections")
        ips = {pods[n].ip: g for n, g in label.items()}
        sticky = sum(1 for p in shares.values() if p > 0) > 1 and self._sticky(flow)
        return Prediction({k: v for k, v in shares.items() if v > 0}, sticky, exact, "; ".join(notes), ips)

    def _group_outcomes(self, flow: Flow, label: dict[str, str]) -> dict[str, set[Key]]:
        """group -> the socket outcomes of simulated connections that reached one of its endpoints."""
        sim = self.plain
        client, target = self._resolve(sim, flow)
        found: dict[str, set[Key]] = {}
        hits: Counter[str] = Counter()
        wanted = set(label.values())
        tries = 0
        while tries < MC_MAX and (tries < MC_MIN or any(hits[g] < MC_PER_GROUP for g in wanted)):
            tries += 1
            conn = self._connect(sim, client, target, flow.proto)
            if conn.target is None:
                continue
            group = label.get(conn.target, conn.target)
            hits[group] += 1
            found.setdefault(group, set()).add(("fail", SILENCE) if conn.failure is not None else
                                               ("group", group, conn.seen or ""))
        return found

    def _sticky(self, flow: Flow) -> bool:
        """Whether the flow's first packet, traced through the cluster as given, records its client for ClientIP
        affinity (the DNAT rule of the service port's endpoint sets the client in that port's recent list), so
        its later connections keep one endpoint. Read off the trace, not the Services: a name, a loopback NodePort
        and an address and port a TCP and a UDP Service share are each judged by the service port that took them."""
        from kubeproxy_sim.simulator.send import STICKY, expected_shares

        client, target = self._resolve(self.real, flow)
        return expected_shares(self.real, client, target, flow.proto).get(STICKY, Fraction(0)) > 0


def fixed_groups(endpoints: Sequence[tuple[str, str, str]], total: int = GROUPS) -> dict[str, str]:
    """(node, ip, key) -> a group label: per node, about ``total`` groups in all (in proportion to its endpoints),
    each a contiguous run of its addresses. Fixed by the objects alone, so both sides group alike."""
    by_node: dict[str, list[tuple[str, str]]] = {}
    for node, ip, key in endpoints:
        by_node.setdefault(node, []).append((ip, key))
    labels: dict[str, str] = {}
    for node, members in sorted(by_node.items()):
        members.sort(key=lambda m: netaddr.IPAddress(m[0]))
        parts = max(1, min(len(members), round(total * len(members) / len(endpoints))))
        chunks = [members[i * len(members) // parts:(i + 1) * len(members) // parts] for i in range(parts)]
        for chunk in chunks:
            text = f"{len(chunk)} endpoints on {node} ({chunk[0][0]}-{chunk[-1][0]})"
            labels.update((key, text) for _, key in chunk)
    return labels


# --------------------------------------------------------------------------- the kernel's side


def observation(result: dict[str, str]) -> Key:
    if "error" in result:  # a DNS query's retry over TCP (a truncated answer) fails as a TCP socket's connection
        error = result["error"].removeprefix(TCP_RETRY)
        return ("fail", FAIL_CLASSES.get(error, error))
    return ("reply", result["dst"].rsplit(":", 1)[0], result["src"].rsplit(":", 1)[0])


def observe(state: dict[str, Any], flow: Flow, count: int, timeout: float, sticky: bool) -> Counter[Key]:
    """``count`` real connections as ``netns send`` makes them (a pod's name looked up first, by a real DNS
    query: one that fails is that connection's outcome, as the simulator's side predicts it, see
    :meth:`SimulatorSide.leaves`); a sticky flow makes one first, so the rest find its affinity entry.

    An error names the flow it stopped (:func:`of_flow`): ``send``'s own name only the source's namespace. A
    probe or lookup that ran past its limit is one of them (:class:`.nsexec.Overran`, an InputError)."""
    from kubeproxy_sim.kernel.send import connect, resolve_destination, resolve_source

    try:
        source = resolve_source(state, flow.src)
        dest = resolve_destination(state, flow.dst, source)
        asked, results = connect(source, dest, flow.proto, count, timeout, first=1 if sticky else 0)
    except InputError as exc:
        raise of_flow(exc, flow) from None
    return Counter(observation(r) for r in [*(a for a in asked if "error" in a), *results])


def of_flow(exc: InputError, flow: Flow) -> InputError:
    """``exc`` with each line after the flow's label (a usage error stays one, for its exit status): a run of many
    flows stopped by one, whose message says only "the probe failed in kpsim-NAME.p3", left the user to guess
    which of the flows from that client it was."""
    kind = UsageError if isinstance(exc, UsageError) else InputError
    return kind([Diagnostic(f"flow {flow.label}: {d}") for d in exc.diagnostics])


# --------------------------------------------------------------------------- judging


@dataclass(frozen=True, slots=True)
class Row:
    outcome: str
    share: Fraction
    low: int
    high: int
    observed: int

    @property
    def ok(self) -> bool:
        return self.low <= self.observed <= self.high


@dataclass(frozen=True, slots=True)
class FlowReport:
    flow: Flow
    count: int
    rows: tuple[Row, ...]
    sticky: bool
    exact: bool
    why: tuple[str, ...] = ()
    note: str = ""
    blind: tuple[str, ...] = ()  # outcomes whose range starts at 0: never seen would pass

    @property
    def agree(self) -> bool:
        return not self.why

    @property
    def verdict(self) -> str:
        return "differ" if self.why else ("inconclusive" if self.blind else "agree")

    def as_json(self) -> dict[str, Any]:
        f = self.flow
        return {"from": f.src, "to": f.dst, "proto": f.proto, "kind": f.kind, "service": f.service,
                "connections": self.count, "verdict": self.verdict, "why": list(self.why),
                "sticky": self.sticky, "exact": self.exact, "note": self.note,
                "outcomes": [{"outcome": r.outcome, "expected": share_text(r.share), "range": [r.low, r.high],
                              "observed": r.observed, "ok": r.ok} for r in self.rows]}


def cannot_tell(outcomes: Sequence[str], count: int) -> str:
    """Why a flow whose counts are all in range is no agreement."""
    return (f"cannot tell: the range of {outcomes[0]}" + (f" and {len(outcomes) - 1} more" if len(outcomes) > 1
            else "") + f" starts at 0, so one the kernel never shows would pass too; {count} connections are too "
            "few for its share")


def share_text(share: Fraction) -> str:
    """A share as a fraction string: exact, unless its denominator is beyond any use (a product of hundreds of
    rounded rule probabilities), then the nearest fraction with a denominator up to 10**12."""
    return str(share if share.denominator <= 10**12 else share.limit_denominator(10**12))


def outcome_text(key: Key) -> str:
    if key[0] == "reply":
        return f"reply from {key[1]} (saw {key[2]})"
    if key[0] == "group":
        return f"reply from one of {key[1]} (saw {key[2]})"
    return {SILENCE: "no answer (DROP/TIMEOUT)", REFUSED: "refused (REJECT)", EPERM: "EPERM (REJECT/DROP)",
            UNREACHABLE: "unreachable (NO_ROUTE)"}.get(key[1], key[1])


def sample_size(prediction: Prediction, alpha: Fraction) -> int:
    """Enough connections that the rarest predicted outcome is seen, except with probability ``alpha``, and that
    the flow's test notices its smallest share off by half (:func:`grouped_size`), up to :data:`N_MAX`."""
    if prediction.sticky:
        return N_STICKY
    if prediction.grouped:
        return grouped_size([float(p) for p in prediction.shares.values()], float(alpha))
    rare = min((p for p in prediction.shares.values() if p < 1), default=None)
    if rare is None:
        return N_MIN
    # P(never seen) = (1 - rare)**n must be well inside the range's lower tail (a quarter of alpha when the flow's
    # chi-square takes half) for the range to start at 1
    need = math.ceil(math.log(float(alpha) / 8) / math.log(1 - float(rare)))
    if prediction.exact:
        need = max(need, grouped_size([float(p) for p in prediction.shares.values()],
                                      float(_split(prediction, alpha)[1] or alpha)))
    return max(N_RANDOM, min(N_MAX, need))


def _random_keys(prediction: Prediction) -> list[Key]:
    return [k for k, p in prediction.shares.items() if 0 < p < 1]


def _split(prediction: Prediction, alpha: Fraction) -> tuple[Fraction, Fraction | None]:
    """(each range's level, the flow's chi-square level or None): a flow of three or more random outcomes has
    one test per outcome at ``alpha`` (:func:`per_row_alpha`); it gives half of each to the ranges and the sum
    of those halves to one chi-square over its outcomes. Two outcomes need no chi-square (their ranges are it)."""
    tests = len(_random_keys(prediction))
    if prediction.sticky or not prediction.exact or prediction.grouped or tests < 3:
        return alpha, None
    return alpha / 2, alpha * tests / 2


@dataclass(frozen=True, slots=True)
class Checked:
    """What :func:`check_counts` found: each outcome's accepted range, why the counts differ, and the outcomes
    whose range starts at 0 though the simulator gives them a share (never seen would pass)."""

    ranges: dict[Key, tuple[int, int]]
    why: tuple[str, ...]
    blind: tuple[Key, ...]


def check_counts(prediction: Prediction, seen: Counter[Key], alpha: Fraction, seed: int = 1) -> Checked:
    """The one judging of both ``netns verify`` modes (``seen`` already reduced to the prediction's keys; ``alpha``
    the flow's per-test share of the run's): exact binomial ranges, the flow's chi-square over its outcomes
    (:func:`_split`; its exact or Monte Carlo tail when an outcome expects fewer than 5), a large service's
    chi-square over groups, and the outcomes the ranges cannot tell from never reached."""
    count = sum(seen.values())
    keys = sorted(prediction.shares, key=lambda k: (-prediction.shares[k], k))
    if prediction.grouped:
        ranges = {k: stats.binom_acceptance(count, float(prediction.shares[k]), float(alpha)) for k in keys}
        return Checked(ranges, tuple(_judge_grouped(prediction, seen, alpha)[1]), ())
    if prediction.sticky or not prediction.exact:
        return Checked({k: (0, count) for k in keys}, (), ())
    level, chi_level = _split(prediction, alpha)
    ranges = {k: binomial_range(count, prediction.shares[k], level) for k in keys}
    blind = tuple(k for k in keys if 0 < prediction.shares[k] < 1 and ranges[k][0] == 0)
    why: list[str] = []
    if chi_level is not None:
        unexpected = sum(n for k, n in seen.items() if k not in prediction.shares)
        fit = stats.goodness_of_fit([seen.get(k, 0) for k in keys] + [unexpected],
                                    [([float(prediction.shares[k]) for k in keys] + [0.0], count)], seed)
        if not unexpected and fit.p_value < float(chi_level):  # an unpredicted outcome is said on its own
            why.append(f"the split over its outcomes differs: chi-square {fit.statistic:.1f} on {fit.df} degrees "
                       f"of freedom, p = {fit.p_value:.2g} < {float(chi_level):.2g}")
    return Checked(ranges, tuple(why), blind)


def chi2_quantile(alpha: float, df: int) -> float:
    """The x with P(chi-square(df) >= x) = alpha (bisection)."""
    low, high = 0.0, 10.0 * df + 200.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if stats.chi2_sf(mid, df) > alpha else (low, mid)
    return high


def grouped_size(shares: Sequence[float], alpha: float) -> int:
    """Connections enough that the chi-square test at ``alpha`` notices, with probability :data:`POWER`, the
    smallest group's share off by :data:`EFFECT` of itself (up or down; the other cells scaled to match).

    The power uses Patnaik's approximation of the noncentral chi-square (a scaled central one)."""
    df = len(shares) - 1
    if df < 1:
        return N_MIN
    crit = chi2_quantile(alpha, df)
    index = min(range(len(shares)), key=lambda i: shares[i])
    small, others = shares[index], [p for i, p in enumerate(shares) if i != index]
    lam_per_n = math.inf  # the noncentrality per connection of the harder of the two departures
    for moved in (small * (1 - EFFECT), min(small * (1 + EFFECT), 1.0)):
        scale = (1 - moved) / (1 - small)
        lam_per_n = min(lam_per_n, (moved - small) ** 2 / small + sum((p * scale - p) ** 2 / p for p in others))
    for n in range(N_RANDOM, N_GROUPED_MAX + 1, 50):
        lam = n * lam_per_n
        c, h = (df + 2 * lam) / (df + lam), (df + lam) ** 2 / (df + 2 * lam)
        if stats.chi2_sf(crit / c, h) >= POWER:  # Patnaik's h is no integer: chi2_sf takes any real df
            return n
    return N_GROUPED_MAX


def _judge_grouped(prediction: Prediction, seen: Counter[Key], alpha: Fraction) -> tuple[list[Row], list[str]]:
    """One chi-square test over the groups and failure classes; per-row ranges are shown, not judged."""
    count = sum(seen.values())
    keys = sorted(prediction.shares, key=lambda k: (-prediction.shares[k], k))
    rows = []
    for key in keys:
        low, high = stats.binom_acceptance(count, float(prediction.shares[key]), float(alpha))
        rows.append(Row(outcome_text(key), prediction.shares[key], low, high, seen.get(key, 0)))
    stat, df, p_value = stats.chi_square([seen.get(k, 0) for k in keys], [float(prediction.shares[k]) for k in keys])
    why = []
    if p_value < float(alpha):
        why.append(f"the shares by group differ: chi-square {stat:.1f} on {df} degrees of freedom, "
                   f"p = {p_value:.2g} < {float(alpha):.2g}")
    return rows, why


def judge(flow: Flow, prediction: Prediction, seen: Counter[Key], alpha: Fraction) -> FlowReport:
    """Agree when the kernel shows only predicted outcomes, each count inside its exact binomial range (or,
    sticky, exactly one predicted outcome). A large service's replies are judged by group (chi-square)."""
    count = sum(seen.values())
    why = []
    if prediction.sticky and prediction.groups and len(seen) > 1:
        why.append(f"session affinity: one client reached {len(seen)} different endpoints, expected one")
    seen = prediction.reduce(seen)
    why += [f"the kernel shows {outcome_text(k)} ({n} of {count}), the simulator never does"
            for k, n in sorted(seen.items()) if k not in prediction.shares]
    checked = check_counts(prediction, seen, alpha)
    rows = [Row(outcome_text(key), share, *checked.ranges[key], seen.get(key, 0))
            for key, share in sorted(prediction.shares.items(), key=lambda kv: (-kv[1], kv[0]))]
    rows += [Row(outcome_text(k), Fraction(0), 0, 0, n) for k, n in sorted(seen.items())
             if k not in prediction.shares]
    blind = tuple(outcome_text(k) for k in checked.blind)
    if prediction.grouped:
        return FlowReport(flow, count, tuple(rows), False, True, tuple(why) + checked.why, prediction.note, blind)
    if prediction.sticky and len(seen) > 1:
        why.append(f"session affinity: one client reached {len(seen)} different outcomes, expected one")
    why += [f"{r.outcome}: {r.observed} of {count}, expected {float(r.share):.1%} (range {r.low}-{r.high})"
            for r in rows if not r.ok and r.share > 0]
    return FlowReport(flow, count, tuple(rows), prediction.sticky, prediction.exact, tuple(why) + checked.why,
                      prediction.note, blind)


# --------------------------------------------------------------------------- the whole run


@dataclass(frozen=True, slots=True)
class Report:
    flows: tuple[FlowReport, ...]
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()
    alpha: Fraction = DEFAULT_ALPHA
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(f.agree for f in self.flows)

    @property
    def inconclusive(self) -> int:
        """Flows that could not tell (a range starts at 0): not a difference, yet no pass either (exit status 1)."""
        return sum(1 for f in self.flows if f.verdict == "inconclusive")

    def differences(self) -> list[FlowReport]:
        return [f for f in self.flows if not f.agree]

    def summary(self) -> str:
        bad = len(self.differences())
        blind = self.inconclusive
        unsure = f", {blind} cannot tell" if blind else ""
        return (f"{len(self.flows)} flows: {len(self.flows) - bad - blind} agree, {bad} differ{unsure} "
                f"(false alarm rate of the whole run at most {float(self.alpha):.2%})")

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "inconclusive": self.inconclusive, "alpha": str(self.alpha),
                "notes": list(self.notes),
                "skipped": [{"flow": s.flow, "reason": s.reason} for s in self.skipped],
                "flows": [f.as_json() for f in self.flows]}


def render_table(report: Report) -> str:
    head = ("#", "flow", "kind", "outcome", "expected", "range", "kernel", "verdict")
    table: list[tuple[str, ...]] = [head]
    for number, flow in enumerate(report.flows, start=1):
        for i, row in enumerate(flow.rows):
            first = i == 0
            word = {"agree": "agree", "differ": "DIFFER", "inconclusive": "CANNOT TELL"}[flow.verdict]
            verdict = word + (" (sticky)" if flow.sticky else "") if first else \
                ("" if row.ok and row.share > 0 else "<-")
            table.append((str(number) if first else "", flow.flow.label if first else "",
                          flow.flow.kind if first else "", row.outcome, f"{float(row.share):.1%}",
                          f"{row.low}-{row.high}", f"{row.observed}/{flow.count}", verdict))
    widths = [max(len(r[c]) for r in table) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    for number, flow in enumerate(report.flows, start=1):
        lines += [f"#{number}: {why}" for why in flow.why]
        if flow.blind and flow.agree:
            lines.append(f"#{number}: {cannot_tell(flow.blind, flow.count)}")
    lines += [f"skipped {s.flow}: {s.reason}" for s in report.skipped]
    lines += [f"note: {n}" for n in report.notes]
    lines.append(report.summary())
    return "\n".join(lines)


def compare(sims: SimulatorSide, state: dict[str, Any], flows: Sequence[Flow], *,
            alpha: Fraction = DEFAULT_ALPHA, timeout: float = DEFAULT_TIMEOUT,
            progress: Progress = no_progress) -> list[FlowReport]:
    """Predict every flow, run them in the kernel (a few at a time), judge each at its share of ``alpha``."""
    with progress("predicting", len(flows)) as tick:
        predictions = []
        for flow in flows:
            predictions.append(sims.predict(flow))
            tick()
    with progress("running flows", len(flows)) as tick:
        return _run_and_judge(sims, state, flows, predictions, alpha, timeout, tick)


def per_row_alpha(predictions: Sequence[Prediction], alpha: Fraction) -> Fraction:
    """Bonferroni: ``alpha`` (the whole run's false-alarm rate) split evenly over the run's tests, so that the run
    fails by chance with probability at most ``alpha``. Every outcome of a flow with a share below 1 is a test, a
    flow with one certain outcome is one, and a grouped flow (one chi-square) is one."""
    random_rows = sum(1 if pr.grouped else sum(1 for p in pr.shares.values() if p < 1) or 1
                      for pr in predictions)
    return alpha / max(random_rows, 1)


def _run_and_judge(sims: SimulatorSide, state: dict[str, Any], flows: Sequence[Flow],
                   predictions: Sequence[Prediction], alpha: Fraction, timeout: float, tick: Tick) -> list[FlowReport]:
    """Observe every flow in the kernel (PARALLEL_FLOWS at a time) and judge it; a difference is run again."""
    row_alpha = per_row_alpha(predictions, alpha)
    sizes = [sample_size(pr, row_alpha) for pr in predictions]

    def run(job: tuple[Flow, int, Prediction]) -> Counter[Key]:
        counts = observe(state, job[0], job[1], timeout, job[2].sticky)
        tick()
        return counts

    seen = observe_all(state, [functools.partial(run, job) for job in zip(flows, sizes, predictions, strict=True)])
    reports = []
    for flow, prediction, counts, size in zip(flows, predictions, seen, sizes, strict=True):
        report = judge(flow, prediction, counts, row_alpha)
        if not report.agree:  # once more, alone: a real difference repeats, a machine too busy to answer does not
            again = judge(flow, prediction, observe(state, flow, size, timeout, prediction.sticky), row_alpha)
            report = dataclasses.replace(again, note="; ".join(filter(None, (again.note, "run twice: the first "
                                         "run differed too" if not again.agree else "the first run differed: "
                                         + "; ".join(report.why)))))
        if prediction.sticky:
            stuck = sims.sticky_outcomes(flow, N_STICKY)
            if len(stuck) != 1:
                report = dataclasses.replace(report, why=(*report.why, f"session affinity: the simulator's client "
                                                          f"reached {len(stuck)} outcomes, expected one"))
        reports.append(report)
    return reports


def observe_all(state: dict[str, Any], jobs: Sequence[Callable[[], Counter[Key]]]) -> list[Counter[Key]]:
    """Each job's counts, PARALLEL_FLOWS jobs at a time.

    Stopped by an interrupt (a Ctrl-C, or a SIGTERM the CLI unwinds as one) or a job's error (whichever job's
    comes first, not once the jobs before it are done), it stops at once: the jobs not started are cancelled,
    and the running ones' processes in the cluster's namespaces (the probes, whose connections may each wait the
    whole timeout) are killed until every started job has returned (:func:`_stop_started`). A pool left to
    finish them would hold the interrupt, and the teardown after it, until their flows are done (measured: a
    Ctrl-C 6 s into a flow of dropped connections at --timeout 20 exited 19 s later), for counts no one will
    judge."""
    pool = ThreadPoolExecutor(PARALLEL_FLOWS)
    futures: list[Future[Counter[Key]]] = []
    try:
        for job in jobs:
            futures.append(pool.submit(job))
        pending = set(futures)
        while pending:  # (never one wait for them all: see SIGNAL_POLL)
            done, pending = _wait_held(pending, SIGNAL_POLL, FIRST_EXCEPTION)
            failed = [future for future in done if future.exception() is not None]
            if failed:
                min(failed, key=futures.index).result()  # (raises it)
        return [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_started(state.get("namespaces", ()), futures)
        raise
    finally:
        pool.shutdown(wait=True)


def _stop_started(namespaces: Collection[str], futures: Sequence[Future[Counter[Key]]]) -> None:
    """Kill the started jobs' processes in ``namespaces`` until each of those jobs has returned.

    Only the futures not cancelled are waited for: :func:`concurrent.futures.wait` counts a cancelled one done
    once it is CANCELLED_AND_NOTIFIED, which only a pool thread taking it from the queue makes it, and the
    pool's shutdown emptied the queue (it stays CANCELLED); waiting for all of them waited for ever whenever a
    run of more than PARALLEL_FLOWS flows was stopped. A second Ctrl-C (or SIGTERM) meanwhile does not cut the
    stop short, nor replace what stopped the run (a flow's own error, or the first interrupt), which the caller
    raises: the stop goes on, and takes a moment (the probes are killed every STOP_POLL seconds)."""
    from kubeproxy_sim.kernel import build  # (pyroute2: imported where a kernel run is)

    started = [future for future in futures if not future.cancelled()]
    while True:
        try:
            build.stop_children_in(namespaces)
            _, running = _wait_held(started, STOP_POLL)
            if not running:
                return
        except (KeyboardInterrupt, SystemExit):
            continue


def _wait_held(futures: Iterable[Future[Counter[Key]]], timeout: float,
               return_when: str = ALL_COMPLETED) -> tuple[set[Future[Counter[Key]]], set[Future[Counter[Key]]]]:
    """:func:`concurrent.futures.wait` with SIGINT and SIGTERM held in this thread. It takes every future's
    lock in turn, in Python code: an interrupt raised between two of them would leave the first held by this
    thread for good, the pool thread finishing that future would wait for it for ever, and so would the stop.
    Held, the signal lands as the wait returns, at most ``timeout`` later. The futures done and not done."""
    with signals.held():
        return wait(futures, timeout=timeout, return_when=return_when)


def kernel_cluster(cluster: Cluster, config: ProxyConfig) -> tuple[Cluster, dict[str, str], list[str]]:
    """The cluster with a client pod per node, and the notes on what the kernel backend leaves out."""
    from kubeproxy_sim.simulator.topology import nodes_running

    names = nodes_running(cluster, config.node_name)  # the plan's nodes (a name no Node object has is none)
    with_pods, clients = with_clients(cluster, config, names)
    notes = []
    missing = [n for n in names if n not in clients]
    if missing:
        notes.append(f"no client pod on {', '.join(missing)}: no pod CIDR to give it an address")
    return with_pods, clients, notes


def differential(cluster: Cluster, config: ProxyConfig, directory: Path, *, name: str,
                 flows: Sequence[Flow] | None = None, origins: Collection[Origin] = tuple(Origin),
                 max_flows: int | None = None,
                 alpha: Fraction = DEFAULT_ALPHA, timeout: float = DEFAULT_TIMEOUT, seed: int = 1,
                 progress: Progress = no_progress,
                 warn: Callable[[tuple[Diagnostic, ...]], object] = lambda _warnings: None) -> Report:
    """Build the cluster in namespaces, compare every flow, remove everything (also on error). ``origins``: the
    clients the derived flows are kept from (given ``flows`` run as given); none left is refused before the build.
    ``warn`` is given the plan's warnings (Topology.warnings: what the objects say the stage cannot be) as soon as
    it is made, before the build, so that a run that fails after it has still said them (they are not part of
    the report)."""
    from kubeproxy_sim.kernel import build
    from kubeproxy_sim.kernel.plan import plan
    from kubeproxy_sim.kernel.send import topology_record
    from kubeproxy_sim.kernel.state import read_state

    full, clients, notes = kernel_cluster(cluster, config)
    sims = SimulatorSide(full, config, seed)
    skipped: list[Skipped] = []
    if flows is None:
        derived, skipped = derive_flows(full, sims.plain, clients)
        flows = from_origins(derived, origins)
        skipped = [s for s in skipped if s.origins & set(origins)]  # as the flows: those of the clients kept
        if derived and not flows:
            raise InputError(Diagnostic(f"none of the {len(derived)} flows derived is from {' or '.join(origins)}; "
                                        "expected a client some flow comes from (a pod or the node: ClusterIPs; "
                                        "outside: NodePorts, LoadBalancer IPs, externalIPs)", field="--from"))
    flows = round_robin(flows, max_flows)
    sources = [f.src.partition(":")[2] for f in flows if f.src.startswith("external:")]
    topo = plan(name, full, config, sources)
    warn(topo.warnings)
    with progress(f"building {len(topo.namespaces())} namespaces"):
        state = build.up(full, topo, directory, topology_record(topo, full))
    try:
        reports = compare(sims, state, flows, alpha=alpha, timeout=timeout, progress=progress)
    finally:
        build.teardown(name, directory, read_state(directory, name) or state)
    via = set(state.get("via_first_node", ()))
    if any(f.dst.rpartition(":")[0].strip("[]") in via for f in flows):
        first = next(iter(state.get("nodes", {})), "the first node")
        notes.append(f"LoadBalancer and external IPs enter node/{first} on both sides here (no balancer, no health "
                     "checks): an agreement is about that node; `send` spreads them over the nodes a balancer "
                     "(health checks included) or the network picks")
    return Report(tuple(reports), tuple(skipped), (*notes, *state.get("notes", ())), alpha)
