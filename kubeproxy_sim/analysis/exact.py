"""Exact shares of a new connection over a service's endpoints, per node where the traffic enters.

For every way into a service port (its cluster IP, each node's NodePort, each
external IP, each load-balancer IP) and every node the traffic can enter on,
the first packet is traced through that node's rules along every branch of
every ``statistic`` split. The shares are therefore the kernel's exact
rationals (thresholds of 31 bits), not the ideal 1/n, and they include DROP and
REJECT where the rules say so. Views are averaged over their entry points with
explicit weights: pods on every node alike for a cluster IP, every node alike
for NodePorts and external IPs, and the nodes a load balancer would use (with
externalTrafficPolicy Local, those whose health check passes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd

import netaddr

from kubeproxy_sim.analysis.nodes import (
    EXTERNAL_IFACE,
    NodeSet,
    Source,
    client_pod_source,
    external_source,
)
from kubeproxy_sim.analysis.why import Cause, Index, Reason, balancer_refusal_note, merged_causes, why_reasons
from kubeproxy_sim.netfilter.packet import Packet, split_endpoint
from kubeproxy_sim.netfilter.trace import SMALL_ODD_BITS, TraceResult, exact_fraction
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.objects.nodes import EXCLUDE_FROM_LB_LABEL, load_balancer_backends
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo, all_service_ports, endpoints_map
from kubeproxy_sim.simulator.hops import IN_CIRCLES, next_hop
from kubeproxy_sim.simulator.network import NO_ROUTE, TIMEOUT, circles_reason

CLUSTER_IP, NODE_PORT, EXTERNAL_IP, LOAD_BALANCER = "clusterIP", "nodePort", "externalIP", "loadBalancer"
NO_POD_SOURCE = ("no pod to send from: no Pod object on any node, and no pod CIDR to make one up in (give the "
                 "Node objects' spec.podCIDR or --cluster-cidr, or --from pod/NS/NAME)")
KINDS = (CLUSTER_IP, NODE_PORT, EXTERNAL_IP, LOAD_BALANCER)
OUTSIDE_TO_CLUSTER_IP = ("the outside routes no cluster IPs to the nodes: these are the shares of a packet from "
                         "outside that reaches a node anyway; send and netns find no route")


@dataclass(frozen=True, slots=True)
class Share:
    """One way a new connection ends, with its exact probability (``masqueraded``: the part masqueraded)."""

    verdict: str  # DNAT, DROP, REJECT, ACCEPT
    endpoint: str | None  # ip:port for DNAT
    probability: Fraction
    masqueraded: Fraction = Fraction(0)


@dataclass(frozen=True, slots=True)
class Entry:
    """Traffic from one source entering one node, and where its new connections go."""

    node: str
    source: Source
    destination: str
    weight: Fraction
    shares: tuple[Share, ...]
    uncertain: tuple[str, ...] = ()
    note: str = ""
    traced: tuple[Packet, TraceResult] | None = field(default=None, compare=False, repr=False)
    """The first packet and its trace, for the view to ask why it is dropped or rejected (analysis.why), of its
    entries carrying traffic one after another (:func:`_failure_reasons`); let go of once it has."""
    onward: tuple[Entry, ...] = field(default=(), compare=False, repr=False)
    """The entries of the nodes a DNAT sent the connection on to (:func:`_rehomed`), for the view to ask why
    they drop or reject it there (:func:`_failure_reasons`); let go of with ``traced``."""
    own: tuple[Share, ...] | None = field(default=None, compare=False, repr=False)
    """The entry node's own shares when a DNAT was followed to another node (:func:`_rehomed`; else None): the
    endpoints of the port's own rules, whose KUBE-SEP chains affinity's checks name."""
    refused: str | None = field(default=None, compare=False, repr=False)
    """Why its connections end though nothing was traced: an ipMode Proxy balancer turns the client away before
    any node sees it (:func:`_proxied_view`), so the same for each of the view's entry nodes; one of the view's
    causes, of no node (:class:`Cause`)."""

    @property
    def own_shares(self) -> tuple[Share, ...]:
        """The shares of the entry node's rules alone, before any hop to another node's NodePort."""
        return self.shares if self.own is None else self.own


@dataclass(frozen=True, slots=True)
class View:
    """One way into a service port (e.g. its cluster IP): every entry point, and their weighted average."""

    kind: str
    destination: str
    entries: tuple[Entry, ...]
    average: tuple[Share, ...]
    notes: tuple[str, ...] = ()
    causes: tuple[Cause, ...] = ()
    """Why its entries carrying traffic fail (:func:`_view`), each reason once, with the nodes whose rules gave it
    (none for a balancer's own refusal, said whatever the weights: :func:`_turned_away`) and the verdicts it
    explains; their sentences are among ``notes`` too. A reader picks one node's reasons by these facts
    (:meth:`said_at`), not by the sentences' words, which a rewording changes."""

    def said_at(self, node: str, verdict: str) -> list[str]:
        """The sentences of the reasons ``node``'s rules gave for ``verdict``, in the view's order."""
        return [cause.note for cause in self.causes if verdict in cause.verdicts and node in cause.nodes]


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """An endpoint of the service port as the EndpointSlices list it."""

    endpoint: str
    ip: str
    pod: str | None
    node: str | None
    ready: bool
    serving: bool
    terminating: bool


@dataclass(frozen=True, slots=True)
class ServiceDist:
    svc: ServicePortInfo
    endpoints: tuple[EndpointRow, ...]
    views: tuple[View, ...]
    affinity: object | None = None  # analysis.affinity.AffinityReport
    connections: object | None = None  # analysis.longlived.LongLived
    reached: tuple[tuple[str, str], ...] = ()  # endpoint -> pod, of those reached that are not the port's own

    @property
    def name(self) -> str:
        return self.svc.name_string


@dataclass(frozen=True, slots=True)
class DistReport:
    services: tuple[ServiceDist, ...]
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- arithmetic on shares


def _over_common(values: Sequence[tuple[int, int]]) -> tuple[list[int], int] | None:
    """The (numerator, denominator) values' numerators over one common denominator, and that denominator, when
    every denominator is a power of two times a small odd number (every share's: 31-bit splits, weights over a
    few nodes); else None."""
    odd_lcm, top, parts = 1, 0, []
    for num, den in values:
        twos = (den & -den).bit_length() - 1
        odd = den >> twos
        if odd != 1:
            odd_lcm = odd_lcm // gcd(odd_lcm, odd) * odd
            if odd_lcm.bit_length() > SMALL_ODD_BITS:
                return None
        top = max(top, twos)
        parts.append((num, odd, twos))
    return [num * (odd_lcm // odd) << (top - twos) for num, odd, twos in parts], odd_lcm << top


FRACTION_BITS = 512
"""Up to this size of denominator Fraction's own adds (a gcd each) cost less than a common denominator."""


def fraction_sum(values: Sequence[Fraction]) -> Fraction:
    """``sum(values)``, exactly: integer adds over one common denominator, normalised once
    (:func:`~kubeproxy_sim.netfilter.trace.exact_fraction`). Fraction's own adds take a gcd of two numbers of
    up to 60,000 bits each (a service of 2,000 endpoints), quadratic; they are used where that gcd is cheap
    (small denominators; two terms, one of them small: :func:`_plus`) and for denominators with a large odd
    factor (none of this module's)."""
    first = values[0]
    if len(values) == 1:
        return Fraction(first)
    if max(value.denominator.bit_length() for value in values) <= FRACTION_BITS:
        return sum(values[1:], first)
    common = _over_common([(value.numerator, value.denominator) for value in values])
    if common is None:
        return sum(values, Fraction(0))
    nums, den = common
    return exact_fraction(sum(nums), den)


def uniform_share(shares: Sequence[Share]) -> Fraction | None:
    """What each delivered-to endpoint would get if the delivered traffic were split evenly."""
    delivered = [s.probability for s in shares if s.verdict == "DNAT" and s.probability]
    if not delivered:
        return None
    total = fraction_sum(delivered)
    return exact_fraction(total.numerator, total.denominator * len(delivered))


def deviation(share: Share, uniform: Fraction | None) -> Fraction | None:
    if share.verdict != "DNAT" or uniform is None:
        return None
    return _plus(share.probability, -uniform)


def max_deviation(shares: Sequence[Share], uniform: Fraction | None = None) -> Fraction | None:
    """The largest distance of a delivered share from the even split; None when nothing is delivered.
    ``uniform``: :func:`uniform_share` of the same shares, when the caller has it already. The farthest share
    is the largest or the smallest, so two subtractions do (not one per endpoint: a report of every service port
    at 5,000 services x 30 nodes made 1.7 million)."""
    if uniform is None:
        uniform = uniform_share(shares)
    dnat = [s.probability for s in shares if s.verdict == "DNAT"]
    if uniform is None or not dnat:
        return None
    largest, smallest = _extremes(dnat)
    return max(_plus(largest, -uniform), _plus(uniform, -smallest))


def _extremes(values: Sequence[Fraction]) -> tuple[Fraction, Fraction]:
    """``(max(values), min(values))``; for large denominators by comparing numerators over one common
    denominator: a Fraction compare multiplies two numbers of tens of thousands of bits (a service of 1,000
    endpoints: 2,000 compares took half a second)."""
    if max(value.denominator.bit_length() for value in values) <= FRACTION_BITS:
        return max(values), min(values)
    common = _over_common([(value.numerator, value.denominator) for value in values])
    if common is None:
        return max(values), min(values)
    nums = common[0]
    indices = range(len(values))
    return values[max(indices, key=nums.__getitem__)], values[min(indices, key=nums.__getitem__)]


def _endpoint_key(share: Share) -> tuple[int, tuple[int, ...], str]:
    """DNAT shares by endpoint address (numerically), other verdicts after them."""
    from kubeproxy_sim.netfilter.packet import parse_address

    if share.verdict != "DNAT" or share.endpoint is None:
        return (1, (), share.verdict)
    host, _, port = share.endpoint.rpartition(":")
    try:
        family, value = parse_address(host.strip("[]"))
    except ValueError:
        return (0, (0,), share.endpoint)
    return (0, (family, value, int(port) if port.isdigit() else 0), share.endpoint)


def merge_shares(weighted: Iterable[tuple[Fraction, Iterable[Share]]]) -> tuple[Share, ...]:
    """Sum weighted shares per (verdict, endpoint); the result is sorted by endpoint."""
    terms: dict[tuple[str, str | None], tuple[list[tuple[Fraction, Fraction]], list[tuple[Fraction, Fraction]]]] = {}
    for weight, shares in weighted:
        if not weight:
            continue
        for s in shares:
            probabilities, masqueraded = terms.setdefault((s.verdict, s.endpoint), ([], []))
            probabilities.append((weight, s.probability))
            masqueraded.append((weight, s.masqueraded))
    merged = [Share(v, e, p, weighted_sum(m)) for (v, e), (ps, m) in terms.items() if (p := weighted_sum(ps))]
    return tuple(sorted(merged, key=_endpoint_key))


def weighted_sum(terms: Sequence[tuple[Fraction, Fraction]]) -> Fraction:
    """The sum of ``weight * value`` over ``terms``, exactly, with one normalisation at the end: a view averages
    its 30 entries' shares at weight 1/30 each, and a Fraction product and sum per term (a gcd each) cost a
    report of every service port at 5,000 services x 30 nodes more than its traces did."""
    if len(terms) == 1:
        weight, value = terms[0]
        return value if weight == 1 else weight * value
    parts = [(w.numerator * v.numerator, w.denominator * v.denominator) for w, v in terms if v]
    if not parts:
        return Fraction(0)
    common = _over_common(parts)
    if common is None:
        return sum((Fraction(num, den) for num, den in parts), Fraction(0))
    nums, den = common
    return exact_fraction(sum(nums), den)


def _plus(a: Fraction, b: Fraction) -> Fraction:
    """``a + b``; of two large denominators (a service of 1,000 endpoints) without Fraction's gcd of them."""
    if a.denominator.bit_length() <= FRACTION_BITS or b.denominator.bit_length() <= FRACTION_BITS:
        return a + b
    return fraction_sum((a, b))


# --------------------------------------------------------------------------- tracing one entry


def first_packet(nodes: NodeSet, entry_node: str, source: Source, dst: str, dport: int, proto: str) -> Packet:
    """The first packet as the entry node sees it (which interface, if any, it arrives on)."""
    if source.kind in ("pod", "node") and source.node == entry_node:
        iface = nodes.pod_iface(entry_node) if source.kind == "pod" else None
    else:
        iface = EXTERNAL_IFACE
    return Packet.of(proto, source.address, dst, dport, in_iface=iface)


def trace_entry(nodes: NodeSet, entry_node: str, source: Source, dst: str, dport: int, proto: str,
                weight: Fraction = Fraction(1), note: str = "", hops: int = 0) -> Entry:
    """Trace the first packet of a connection from ``source`` to dst:dport entering ``entry_node``; a DNAT to
    another node's own address is followed there (:func:`_rehomed`), ``hops`` being how many were so far."""
    packet = first_packet(nodes, entry_node, source, dst, dport, proto)
    return _traced(nodes, entry_node, source, packet, _fmt(dst, dport), proto, weight, note, hops)


def _traced(nodes: NodeSet, entry_node: str, source: Source, packet: Packet, destination: str, proto: str,
            weight: Fraction, note: str, hops: int) -> Entry:
    """:func:`trace_entry` of the packet as ``entry_node`` sees it."""
    result = nodes.tracer(entry_node).trace(packet)
    shares = merge_shares([(Fraction(1), [
        Share(o.verdict, o.destination, o.probability_exact, o.probability_exact if o.masquerade else Fraction(0))
        for o in result.outcomes
    ])])
    uncertain = tuple(dict.fromkeys(f"{u.rule}: {u.reason}" for u in result.uncertain))
    entry = Entry(entry_node, source, destination, weight, shares, uncertain, note, (packet, result))
    return _rehomed(nodes, entry, proto, hops)


def _parts(nodes: NodeSet, entry: Entry, share: Share) -> list[tuple[str, Fraction, bool]]:
    """(source address, part of ``share``, masqueraded) of what leaves ``entry``'s node on to another: the part
    masqueraded from the node's own address, the rest from the entry's source; parts of nothing left out."""
    parts = ((nodes.primary(entry.node), share.masqueraded, True),
             (entry.source.address, share.probability - share.masqueraded, False))
    return [part for part in parts if part[1]]


def _rehomed(nodes: NodeSet, entry: Entry, proto: str, hops: int) -> Entry:
    """``entry`` with each DNAT to another node's own address followed to that node, where it arrives from
    outside: its conntrack sees a new connection, which its rules (a NodePort's) may DNAT again, so the shares
    are of what answers there, as send's expected shares and the kernel (``netns verify``) have them. What that
    node lets through unchanged ends at the node itself, the first DNAT's endpoint. One followed past
    :data:`~kubeproxy_sim.simulator.hops.NODE_HOPS` went round in circles: the ICMP time exceeded as the client
    hears it (:func:`~kubeproxy_sim.simulator.network.circles_reason`: NO_ROUTE to TCP, else TIMEOUT), as send's
    walk ends it."""
    owners = {s: nodes.node_of(split_endpoint(s.endpoint)[0])
              for s in entry.shares if s.verdict == "DNAT" and s.endpoint}
    onward = {s: owner for s, owner in owners.items() if owner is not None and owner != entry.node}
    if not onward:
        return entry
    weighted: list[tuple[Fraction, Iterable[Share]]] = [(Fraction(1), [s for s in entry.shares if s not in onward])]
    uncertain, followed = list(entry.uncertain), []
    for share, owner in onward.items():
        assert share.endpoint is not None
        ip, port = split_endpoint(share.endpoint)
        for address, part, masqueraded in _parts(nodes, entry, share):
            hop = next_hop(entry.node, owner, hops, proto, address, ip, port)
            if not isinstance(hop, tuple):  # (None: never, the address being another node's)
                weighted.append((part, [Share(circles_reason(proto), None, Fraction(1))]))
                continue
            found = _traced(nodes, hop[0], external_source(nodes.ipv6, address), hop[1], share.endpoint, proto,
                            Fraction(1), "", hops + 1)
            weighted.append((part, [_ended(s, share.endpoint, masqueraded) for s in found.shares]))
            uncertain += found.uncertain
            followed.append(found)
    note = "; ".join(n for n in (entry.note, _hop_note([(s.endpoint, owner) for s, owner in onward.items()
                                                        if s.endpoint is not None])) if n)
    return dataclasses.replace(entry, shares=merge_shares(weighted), uncertain=tuple(dict.fromkeys(uncertain)),
                               note=note, own=entry.shares, onward=tuple(followed))


def _hop_note(targets: list[tuple[str, str]]) -> str:
    """The entry's note on the DNAT's (endpoint, node) targets it followed: one named, of more the count and
    the first two (a Service in front of every node's NodePort has one per node: at 30 nodes a line of a
    thousand characters)."""
    said = ", ".join(f"{endpoint} is {node}'s" for endpoint, node in targets[:2])
    if len(targets) == 1:
        return (f"the DNAT's target {said} own address: that node's rules take the new connection again, and the "
                "shares are where it ends there")
    more = f" and {len(targets) - 2} more" if len(targets) > 2 else ""
    return (f"{len(targets)} of the DNAT's targets are other nodes' own addresses ({said}{more}): those nodes' "
            "rules take the new connection again, and the shares are where it ends there")


def _ended(share: Share, first: str, masqueraded: bool) -> Share:
    """A share of the node a DNAT sent the connection on to: what it lets through unchanged is that node itself
    answering at ``first`` (the DNAT's target); what the first node masqueraded and reaches an endpoint stays
    masqueraded (a DROP or REJECT there reaches none: masqueraded describes a delivered connection)."""
    verdict, endpoint = ("DNAT", first) if share.verdict == "ACCEPT" else (share.verdict, share.endpoint)
    delivered = verdict == "DNAT"
    return Share(verdict, endpoint, share.probability,
                 share.probability if masqueraded and delivered else share.masqueraded)


def _failure_reasons(nodes: NodeSet, entry: Entry) -> list[tuple[str, Reason]]:
    """Why the entry's connections are dropped or rejected, in the Service's words (a delivery's shares say
    where it goes; a bare DROP does not say why): asked only then, as most entries deliver, and by the view, of
    its entries one after another rather than as each is traced (dist of 800 Local Services on 20 nodes asks
    14,400 times: each took about twice as long between traces). (node, reason) pairs: the entry's node's, then
    those of the nodes it sent the connection on to (``onward``), where a hop's NodePort may drop or reject it."""
    if entry.traced is None:
        return []
    lost = frozenset(s.verdict for s in entry.shares if s.verdict in (NO_ROUTE, TIMEOUT))
    circles = [(entry.node, Reason(IN_CIRCLES, lost))] if lost else []
    further = [pair for hop in entry.onward for pair in _failure_reasons(nodes, hop)]
    packet, result = entry.traced
    for outcome in result.outcomes:  # (a plain loop: most entries deliver, and any() took twice as long)
        if outcome.verdict in ("DROP", "REJECT"):
            index = nodes.derived("why index", lambda: Index.of(nodes.cluster))
            reasons = why_reasons((nodes.cluster, nodes.configs[entry.node]), packet, result, index)
            return [*((entry.node, reason) for reason in reasons), *further, *circles]
    return [*further, *circles]


def _view(nodes: NodeSet, kind: str, destination: str, entries: list[Entry], notes: Iterable[str] = ()) -> View:
    """The view of ``entries``; its notes end with why those carrying traffic fail, each reason once (its
    ``causes``)."""
    causes = tuple(merged_causes(pair for e in entries if e.weight for pair in _failure_reasons(nodes, e)))
    notes = (*notes, *(cause.note for cause in causes))
    total = sum((e.weight for e in entries), Fraction(0))
    # their traces are let go of, the notes being said, whatever the weights
    entries = [dataclasses.replace(e, weight=e.weight / total if total else e.weight, traced=None, onward=())
               for e in entries]
    average = merge_shares((e.weight, e.shares) for e in entries)
    return View(kind, destination, tuple(entries), average, tuple(notes), causes)


# --------------------------------------------------------------------------- the views of a service port


@dataclass(frozen=True, slots=True)
class Selection:
    """What to analyse: a service port, which views (None: all), which address and nodes (None: all)."""

    svc: ServicePortInfo
    kinds: frozenset[str] | None = None
    address: str | None = None
    nodes: tuple[str, ...] | None = None


def _fmt(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _entry_nodes(nodes: NodeSet, sel: Selection) -> list[str]:
    return [n for n in nodes.order if sel.nodes is None or n in sel.nodes]


def _not_sent_here(nodes: NodeSet, node: str) -> str:
    if not load_balancer_backends(nodes.cluster, (node,)):
        return f"the load balancer does not send here (the node is labelled {EXCLUDE_FROM_LB_LABEL})"
    return "the load balancer does not send here (health check fails)"


def _onwards(nodes: NodeSet, entry: Entry, dst: str, svc: ServicePortInfo, hops: dict[str, Fraction],
             carrier: str) -> Entry:
    """``entry`` with what leaves its node unchanged (ACCEPT, no DNAT) followed to where ``carrier`` (the load
    balancer, the network) takes it: ``hops``, node -> weight, each traced as arriving from outside.

    A node's own traffic to a load-balancer IP of a service with no endpoints meets no rule on the way out
    (kube-proxy rejects it in INPUT and FORWARD only): it goes to the balancer, and ends on the nodes it picks.
    """
    leaving = [s for s in entry.shares if _leaves(s)]
    if not leaving or not hops:
        return entry
    weighted: list[tuple[Fraction, Iterable[Share]]] = [(Fraction(1), [s for s in entry.shares if not _leaves(s)])]
    # the port's own rules' shares: the entry node's (kept), then each hop node's before its own hops
    own: list[tuple[Fraction, Iterable[Share]]] = [(Fraction(1), [s for s in entry.own_shares if not _leaves(s)])]
    uncertain, followed = list(entry.uncertain), []
    for share in leaving:
        for address, part, _ in _parts(nodes, entry, share):
            for node, weight in hops.items():  # (the carrier's hop is one: as send's walk counts it)
                hop = trace_entry(nodes, node, external_source(nodes.ipv6, address), dst, svc.port, svc.proto,
                                  hops=1)
                weighted.append((part * weight, hop.shares))
                own.append((part * weight, hop.own_shares))
                uncertain += hop.uncertain
                followed.append(hop)
    note = (f"the packet leaves {entry.node} unchanged for the {carrier}, which sends it to "
            f"{', '.join(hops)}: the shares are where it ends there")
    return dataclasses.replace(entry, shares=merge_shares(weighted), uncertain=tuple(dict.fromkeys(uncertain)),
                               note=note, own=merge_shares(own), onward=(*entry.onward, *followed))


def _leaves(share: Share) -> bool:
    """Whether ``share`` leaves its node unchanged (ACCEPT, no DNAT), for the carrier to take on."""
    return share.verdict == "ACCEPT" and share.endpoint is None


def _hops(balancer: dict[str, bool] | None, order: Sequence[str]) -> dict[str, Fraction]:
    """The nodes a packet for the address goes to once it leaves a node, each with its weight."""
    chosen = [n for n in order if balancer is None or balancer.get(n, False)]
    return {n: Fraction(1, len(chosen)) for n in chosen}


def _vip_entries(nodes: NodeSet, sel: Selection, dst: str, sources: Sequence[Source] | None,
                 default: str, balancer: dict[str, bool] | None = None, owner: str | None = None) -> list[Entry]:
    """Entries for a virtual IP: pods and nodes enter on their own node, external clients on each node (the
    nodes ``balancer`` uses; only ``owner`` for an address a node has).

    For a load-balancer IP or an external IP (not ``default == "pod"``), what a pod or node sends out unchanged
    is followed to the nodes the balancer or the network hands it to (see :func:`_onwards`).
    """
    if owner is not None:
        sel = dataclasses.replace(sel, nodes=(owner,))
    svc = sel.svc
    entries: list[Entry] = []
    wanted = _entry_nodes(nodes, sel)
    if sources is None:
        if default == "pod":
            avoid = frozenset(r.ip for r in endpoint_rows(nodes.cluster, nodes, svc))
            for node in wanted:
                source = client_pod_source(nodes, node, avoid)
                if source is not None:
                    entries.append(trace_entry(nodes, node, source, dst, svc.port, svc.proto))
            return entries
        sources = [external_source(nodes.ipv6)]
    for source in sources:
        if source.kind in ("pod", "node") and source.node in nodes.configs:
            entry = trace_entry(nodes, source.node, source, dst, svc.port, svc.proto)
            if default == "external":
                carrier = "network" if balancer is None else "load balancer"
                hops = {owner: Fraction(1)} if owner is not None else _hops(balancer, nodes.order)
                entry = _onwards(nodes, entry, dst, svc, hops, carrier)
            entries.append(entry)
            continue
        for node in wanted:
            healthy = True if balancer is None else balancer.get(node, False)
            note = "" if healthy else _not_sent_here(nodes, node)
            entries.append(trace_entry(nodes, node, source, dst, svc.port, svc.proto,
                                       Fraction(1 if healthy else 0), note))
    return entries


def _nodeport_entries(nodes: NodeSet, sel: Selection, sources: Sequence[Source] | None) -> list[Entry]:
    """NodePort: the traffic enters the node whose address it is sent to."""
    svc = sel.svc
    entries = []
    for node in _entry_nodes(nodes, sel):
        dst = nodes.primary(node)
        for source in sources or [external_source(nodes.ipv6)]:
            entries.append(trace_entry(nodes, node, source, dst, svc.node_port, svc.proto))
    return entries


def local_ready_index(cluster: Cluster, ipv6: bool) -> dict[tuple[str, str], frozenset[str]]:
    """(namespace, service name) -> the nodes with a local *ready* endpoint of it, whose kube-proxy health check
    answers 200, from one scan of every EndpointSlice of the family."""
    family = "IPv6" if ipv6 else "IPv4"
    found: dict[tuple[str, str], set[str]] = {}
    for slc in cluster.endpoint_slices:
        if slc.address_type.value != family or not slc.service_name:
            continue
        for ep in slc.endpoints:
            # upstream's LocalReadyEndpoints: the ready condition alone (publishNotReadyAddresses: ready, terminating)
            if ep.conditions.counts_ready and ep.node_name:
                found.setdefault((slc.namespace, slc.service_name), set()).add(ep.node_name)
    return {key: frozenset(names) for key, names in found.items()}


def balancer_nodes(nodes: NodeSet, svc: ServicePortInfo) -> tuple[dict[str, bool], list[str]]:
    """Which nodes a load balancer sends new connections to, and why."""
    backends = load_balancer_backends(nodes.cluster, nodes.order)
    excluded = [n for n in nodes.order if n not in backends]
    left_out = [f"nodes labelled {EXCLUDE_FROM_LB_LABEL} are not backends: {', '.join(excluded)}"] if excluded else []
    if not svc.external_policy_local or not svc.health_check_node_port:
        why = [] if not svc.external_policy_local else [
            "externalTrafficPolicy Local without a healthCheckNodePort: kube-proxy serves no health check, so the "
            "balancer cannot tell the nodes apart"]
        return ({n: n in backends for n in nodes.order},
                [f"the balancer spreads connections evenly over every {'other ' if excluded else ''}node", *why,
                 *left_out])
    # one scan of the slices for the run, not one per eTP Local service (quadratic over a report of them all)
    index = nodes.derived("local ready nodes", lambda: local_ready_index(nodes.cluster, nodes.ipv6))
    ready = index.get((svc.namespace, svc.name), frozenset())
    healthy = ready & set(backends)
    if not healthy:
        cause = ("every node with a local ready endpoint is excluded from the balancer" if ready & set(nodes.order)
                 else "no node has a local ready endpoint")
        used = [n for n in nodes.order if n in backends]
        return ({n: n in backends for n in nodes.order},
                [f"externalTrafficPolicy Local and {cause}: every health check the balancer makes fails; balancers "
                 f"usually fail open to every node they use, {_fail_open_outcome(nodes, svc, used)}", *left_out])
    return ({n: n in healthy for n in nodes.order},
            [f"externalTrafficPolicy Local: the balancer uses the nodes whose health check (port "
             f"{svc.health_check_node_port}) reports a local ready endpoint: "
             + ", ".join(n for n in nodes.order if n in healthy), *left_out])


def _fail_open_outcome(nodes: NodeSet, svc: ServicePortInfo, used: Sequence[str]) -> str:
    """What the nodes a failed-open balancer sends to do with the connection, as their rules say: REJECT when the
    port has no usable endpoint anywhere (upstream writes REJECT for a port without endpoints, whatever its
    policy), else each node its local serving terminating endpoints (the fallback) or DROP (no local endpoint)."""
    rows = endpoint_rows(nodes.cluster, nodes, svc)
    if not any(r.ready or (r.serving and r.terminating) for r in rows):
        return (f"which then REJECT: {svc.name_string} has no ready or serving terminating endpoint anywhere, so "
                "kube-proxy rejects its connections rather than dropping them")
    fallback = {r.node for r in rows if r.serving and r.terminating and not r.ready}
    using = [n for n in used if n in fallback]
    dropping = [n for n in used if n not in fallback]
    if not using:
        return "which then DROP: none has a local endpoint"
    if not dropping:
        return f"which then use their local serving terminating endpoints ({', '.join(using)})"
    use = "uses its" if len(using) == 1 else "use their"
    return (f"of which {', '.join(using)} {use} local serving terminating endpoints and "
            f"{', '.join(dropping)} {'DROPs' if len(dropping) == 1 else 'DROP'} (no local endpoint)")


def proxy_ingress(nodes: NodeSet, svc: ServicePortInfo) -> tuple[str, ...]:
    """The service's load-balancer IPs in ipMode Proxy, of the nodes' family: kube-proxy writes no rule for
    them (the balancer proxies to the NodePorts), so they are not among ``load_balancer_vips``."""
    if not svc.node_port:
        return ()
    proxied = nodes.derived("ipMode Proxy ingress", lambda: {
        (s.namespace, s.name): tuple(i.ip for i in s.load_balancer_ingress
                                     if i.ip and i.ip_mode == "Proxy" and (":" in i.ip) == nodes.ipv6)
        for s in nodes.cluster.services if any(i.ip_mode == "Proxy" for i in s.load_balancer_ingress)})
    return proxied.get((svc.namespace, svc.name), ())


def _proxied_view(nodes: NodeSet, sel: Selection, ip: str, sources: Sequence[Source] | None) -> View:
    """An ipMode Proxy balancer: it ends the client's connection and opens its own, from its address, to a
    node's NodePort (the simulator's ``network._proxied``); it drops clients outside loadBalancerSourceRanges
    itself, since the nodes never see them: against the Service's ranges of every family, as the simulator's
    balancer checks them (a client of a family none of them is of is outside them all), not kube-proxy's ranges
    of its own family, which write nothing for a Proxy balancer."""
    from kubeproxy_sim.simulator.loadbalancer import LoadBalancer

    svc = sel.svc
    service = next(s for s in nodes.cluster.services if (s.namespace, s.name) == (svc.namespace, svc.name))
    health, notes = balancer_nodes(nodes, svc)
    entries = []
    for source in sources or [external_source(nodes.ipv6)]:
        allowed = LoadBalancer.source_allowed(service, source.address)
        refused = None if allowed else balancer_refusal_note(service, source.address)
        for node in _entry_nodes(nodes, sel):
            weight = Fraction(1 if health.get(node, False) else 0)
            if refused is not None:
                entries.append(Entry(node, source, _fmt(ip, svc.port), weight, (Share("DROP", None, Fraction(1)),),
                                     (), "the balancer drops a client outside loadBalancerSourceRanges",
                                     refused=refused))
                continue
            # what the node sees: the balancer's own connection to its NodePort (not the client's)
            entries.append(trace_entry(nodes, node, Source("external", ip), nodes.primary(node), svc.node_port,
                                       svc.proto, weight, f"for {source.label}, the balancer connects from {ip} "
                                       f"to {node}'s NodePort {svc.node_port}"))
    notes = ["ipMode Proxy: the balancer ends the client's connection and opens its own to a node's NodePort; "
             "the pods see the balancer's address", *notes]
    view = _view(nodes, LOAD_BALANCER, _fmt(ip, svc.port), entries, notes)
    turned = _turned_away(entries)
    # the hint after the causes, which say the default client is turned away (as a VIP balancer's view does)
    return dataclasses.replace(view, causes=(*view.causes, *turned), notes=(
        *view.notes, *(cause.note for cause in turned),
        *_default_client_notes(nodes, service.load_balancer_source_ranges, sources)))


def _turned_away(entries: Sequence[Entry]) -> list[Cause]:
    """The balancer's refusals of the entries' clients, each once and of no node: it turns a client away before
    choosing a node (the simulator's ``network._proxied`` checks the ranges first), so it is said whatever the
    nodes' weights, even when the balancer would send to none."""
    refusals = dict.fromkeys(entry.refused for entry in entries if entry.refused is not None)
    return [Cause(note, (), frozenset({"DROP"})) for note in refusals]


def service_views(nodes: NodeSet, sel: Selection, sources: Sequence[Source] | None) -> tuple[View, ...]:
    """Every requested view of one service port."""
    svc = sel.svc
    kinds = sel.kinds if sel.kinds is not None else frozenset(KINDS)
    views: list[View] = []

    def wanted(kind: str, address: str | None) -> bool:
        return kind in kinds and (sel.address is None or address is None or address == sel.address)

    if wanted(CLUSTER_IP, svc.cluster_ip):
        entries = _vip_entries(nodes, sel, svc.cluster_ip, sources, "pod")
        missing = [] if entries else [NO_POD_SOURCE]
        if any(source.kind == "external" for source in sources or ()):
            missing.append(OUTSIDE_TO_CLUSTER_IP)
        views.append(_view(nodes, CLUSTER_IP, _fmt(svc.cluster_ip, svc.port), entries, missing))
    if svc.node_port and NODE_PORT in kinds:
        views.append(_view(nodes, NODE_PORT, f"<node>:{svc.node_port}", _nodeport_entries(nodes, sel, sources)))
    for ip in svc.external_ips:
        if wanted(EXTERNAL_IP, ip):
            owner = nodes.node_of(ip)
            if owner is None:
                entries = _vip_entries(nodes, sel, ip, sources, "external")
                note = "external IPs reach whichever node the network routes them to; every node alike"
            else:  # the network delivers a node's own address to that node, and only there
                entries = _vip_entries(nodes, sel, ip, sources, "external", owner=owner)
                note = f"{ip} is node {owner}'s address: the network delivers it there"
            views.append(_view(nodes, EXTERNAL_IP, _fmt(ip, svc.port), entries, [note]))
    for ip in proxy_ingress(nodes, svc):
        if wanted(LOAD_BALANCER, ip):
            views.append(_proxied_view(nodes, sel, ip, sources))
    for ip in svc.load_balancer_vips:
        if wanted(LOAD_BALANCER, ip):
            health, notes = balancer_nodes(nodes, svc)
            entries = _vip_entries(nodes, sel, ip, sources, "external", health)
            view = _view(nodes, LOAD_BALANCER, _fmt(ip, svc.port), entries, notes)
            # after the view's why-notes, which say the default client is outside the ranges
            views.append(dataclasses.replace(view, notes=(*view.notes, *_default_client_notes(
                nodes, svc.source_ranges, sources))))
    return _with_service_notes(nodes, sel, tuple(views))


def _with_service_notes(nodes: NodeSet, sel: Selection, views: tuple[View, ...]) -> tuple[View, ...]:
    """The views with the notes about the Service as a whole put first where they apply: ignored topology hints
    on the views whose chains use the cluster endpoints (the hints narrow those alone), a hostname ingress on the
    nodePort view (or, without one, on the first view when every view is asked for)."""
    svc = sel.svc
    hints = _ignored_hints_notes(nodes, svc)
    hostname = _hostname_ingress_note(nodes, svc)
    out = []
    for i, view in enumerate(views):
        local = svc.internal_policy_local if view.kind == CLUSTER_IP else svc.external_policy_local
        first = [*([] if local else hints)]
        if hostname and (view.kind == NODE_PORT or (not svc.node_port and sel.kinds is None and i == 0)):
            first.append(hostname)
        out.append(dataclasses.replace(view, notes=(*first, *view.notes)) if first else view)
    return tuple(out)


def _service_object(nodes: NodeSet, svc: ServicePortInfo):
    return next((s for s in nodes.cluster.services if (s.namespace, s.name) == (svc.namespace, svc.name)), None)


def _hostname_ingress_note(nodes: NodeSet, svc: ServicePortInfo) -> str | None:
    """A balancer's ingress of a hostname alone (AWS ELB's): kube-proxy writes rules for ingress IPs only
    (upstream's LoadBalancerVIPs come from ingress[].ip), so dist has no loadBalancer view of it; said, since a
    silent absence reads as a missing balancer."""
    service = _service_object(nodes, svc)
    names = [i.hostname for i in (service.load_balancer_ingress if service else ()) if i.hostname and not i.ip]
    if not names:
        return None
    where = ("the balancer reaches the nodes through this NodePort" if svc.node_port else
             "and the port has no NodePort (allocateLoadBalancerNodePorts false), so the balancer must reach the "
             "pods by itself, past kube-proxy")
    return (f"load-balancer ingress {', '.join(names)} is a hostname, not an IP: kube-proxy writes no rules for it "
            f"(only for ingress IPs), so there is no loadBalancer view; {where}")


def _ignored_hints_notes(nodes: NodeSet, svc: ServicePortInfo) -> list[str]:
    """Why topology hints some ready endpoints carry change nothing: kube-proxy uses a kind of hint only when every
    ready endpoint carries it (upstream's topology.go: a partial set means the EndpointSlice controller is
    mid-update), naming the endpoints without, so an even spread is not taken for a bug."""
    config = nodes.configs[nodes.order[0]]
    eps_map = nodes.derived("endpoints map", lambda: endpoints_map(nodes.cluster.endpoint_slices, config))
    ready = [ep for ep in eps_map.get(svc.key, ()) if ep.ready]
    node_gate = config.prefer_same_traffic_distribution
    kinds = [("zone", [ep for ep in ready if not ep.zone_hints])]
    if node_gate:
        kinds.append(("node", [ep for ep in ready if not ep.node_hints]))
    complete = [kind for kind, without in kinds if not without]
    notes = []
    for kind, without in kinds:
        if not without or len(without) == len(ready):
            continue
        names = _pod_names_of(nodes, without)
        spread = "" if complete else "; so every node spreads its connections over all ready endpoints"
        notes.append(f"{svc.name_string}'s {kind} hints are ignored: ready endpoint{'s' if len(without) > 1 else ''} "
                     f"{names} {'have' if len(without) > 1 else 'has'} none, and kube-proxy uses {kind} hints only "
                     f"when every ready endpoint has them (a partial set means the EndpointSlice controller is "
                     f"mid-update){spread}")
    return notes


def _pod_names_of(nodes: NodeSet, eps: Sequence[EndpointInfo], most: int = 3) -> str:
    names = nodes.derived("pod names", lambda: _pod_names(nodes.cluster))
    said = [f"{ep.endpoint} ({names[ep.ip]})" if ep.ip in names else ep.endpoint for ep in eps[:most]]
    return ", ".join(said) + (f" and {len(eps) - most} more" if len(eps) > most else "")


def _default_client_notes(nodes: NodeSet, ranges: Sequence[str], sources: Sequence[Source] | None) -> list[str]:
    """dist's default outside client, outside loadBalancerSourceRanges: how to measure one the ranges allow."""
    if sources is not None or not ranges:
        return []
    client = external_source(nodes.ipv6).address
    address = netaddr.IPAddress(client)
    if any(address in netaddr.IPNetwork(r) for r in ranges if (":" in r) == (address.version == 6)):
        return []
    return [f"{client} is dist's default outside client; --from external:IP measures another, e.g. an address in "
            f"{', '.join(ranges)}"]


# --------------------------------------------------------------------------- endpoints and the whole report


def _pod_names(cluster: Cluster) -> dict[str, str]:
    """Endpoint IP -> pod namespace/name, from targetRefs and Pod objects."""
    names: dict[str, str] = {}
    for slc in cluster.endpoint_slices:
        for ep in slc.endpoints:
            ref = ep.target_ref
            if ref and ref[0] == "Pod":
                for ip in ep.addresses:
                    names.setdefault(ip, f"{ref[1] or slc.namespace}/{ref[2]}")
    for pod in cluster.pods:
        for ip in pod.pod_ips:
            names.setdefault(ip, pod.key)
    return names


def _endpoint_nodes(cluster: Cluster) -> dict[str, str]:
    return {ip: ep.node_name for s in cluster.endpoint_slices for ep in s.endpoints if ep.node_name
            for ip in ep.addresses}


def endpoint_rows(cluster: Cluster, nodes: NodeSet, svc: ServicePortInfo) -> tuple[EndpointRow, ...]:
    """Every endpoint of the service port (any condition), with its pod and node."""
    config = nodes.configs[nodes.order[0]]
    if cluster is nodes.cluster:  # worked out once per run, not once per service: see NodeSet.derived
        eps_map = nodes.derived("endpoints map", lambda: endpoints_map(cluster.endpoint_slices, config))
        pods = nodes.derived("pod names", lambda: _pod_names(cluster))
        where = nodes.derived("endpoint nodes", lambda: _endpoint_nodes(cluster))
    else:
        eps_map, pods, where = endpoints_map(cluster.endpoint_slices, config), _pod_names(cluster), \
            _endpoint_nodes(cluster)
    eps: tuple[EndpointInfo, ...] = eps_map.get(svc.key, ())
    return tuple(EndpointRow(e.endpoint, e.ip, pods.get(e.ip), where.get(e.ip), e.ready, e.serving, e.terminating)
                 for e in eps)


def reached_pods(nodes: NodeSet, rows: Sequence[EndpointRow], views: Sequence[View]) -> tuple[tuple[str, str], ...]:
    """The Pods of the endpoints the views reach that are not the port's own (a DNAT to another node's NodePort,
    followed there, ends on another Service's pods: :func:`_rehomed`), for dist's and diff's outcomes to name them
    too."""
    own = {r.endpoint for r in rows}
    other = {s.endpoint for v in views for e in v.entries for s in e.shares if s.endpoint and s.endpoint not in own}
    if not other:
        return ()
    names = nodes.derived("pod names", lambda: _pod_names(nodes.cluster))
    return tuple(sorted((ep, names[ip]) for ep in other if (ip := split_endpoint(ep)[0]) in names))


def service_ports(nodes: NodeSet) -> list[ServicePortInfo]:
    return all_service_ports(nodes.cluster, nodes.configs[nodes.order[0]])


def analyse(nodes: NodeSet, selections: Sequence[Selection], sources: Sequence[Source] | None = None,
            notes: Iterable[str] = ()) -> DistReport:
    """The exact distribution of every selected service port."""
    out = []
    # each port traced on every node, compiling chains as they are entered (~360 objects each): see objects.bulk
    with collector_paused(300 * len(selections) * len(nodes.order)):
        for sel in selections:
            rows = endpoint_rows(nodes.cluster, nodes, sel.svc)
            views = service_views(nodes, sel, sources)
            out.append(ServiceDist(sel.svc, rows, views, reached=reached_pods(nodes, rows, views)))
    return DistReport(tuple(out), tuple(notes))
