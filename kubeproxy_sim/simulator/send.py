"""``send``: N connections from a source to a destination, tallied per destination pod.

Addressing (the kernel backend's ``netns send`` takes the same):

* source: ``pod/NS/NAME``, ``node/NAME``, ``external`` (203.0.113.10),
  ``external:IP``, or a plain address of a pod, a node (its pod bridge's too:
  the node's socket bound to it) or an outside machine;
* destination: ``IP:PORT`` (``[IPv6]:PORT``; a LoadBalancer ingress IP goes
  through the balancer), ``node/NAME:NODEPORT``, or a name ``HOST:PORT``
  (``NAME.NS``, ``NAME.NS.svc.cluster.local``, an ExternalName service, any
  name of ``--hosts``), resolved by the cluster DNS with the pod's search path.
  A name with several addresses (a headless service) is resolved again for
  every connection, and the client takes a random one of them (a ping, one
  ``ping -c N``, resolves it once). ``0.0.0.0`` (``::``) is the client's own
  host, as Linux sends to it (:func:`unspecified_destination`).

The expected share of each pod is the exact probability the all-branches
tracer computes on the node where the connection enters, averaged over the
nodes the balancer (or the router, for externalIPs) can pick. It is the share
of *new* clients: with session affinity one client sticks to one pod. A pod
that connects to a name asks kube-dns first (a UDP query to its cluster IP):
that query's own failures come first (a failure row whose detail starts
``DNS query to``), and only what it lets through is spread over the pods.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import netaddr

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError, literal, one_of
from kubeproxy_sim.netfilter.packet import (
    ICMP_PROTOS,
    Packet,
    canonical_address,
    format_address,
    is_address,
    literal_family,
    loopback,
    loopback_source,
    parse_address,
)
from kubeproxy_sim.netfilter.trace import Outcome, TraceResult
from kubeproxy_sim.objects.model import ServiceType
from kubeproxy_sim.objects.report import number
from kubeproxy_sim.simulator.dns import (
    CLUSTER,
    MAX_CNAME_CHAIN,
    Answer,
    ClusterDNS,
    external_name_is_address,
    pod_record_address,
)
from kubeproxy_sim.simulator.hops import Circles, circled, next_hop
from kubeproxy_sim.simulator.network import (
    DNS_PORT,
    DROP,
    NO_ROUTE,
    PING_ID,
    REJECT,
    TIMEOUT,
    Client,
    Connection,
    Decided,
    Failure,
    ReplyLoss,
    Simulator,
    circles_reason,
    heard,
    translated_at,
)
from kubeproxy_sim.simulator.ping import PingTarget, ping_target
from kubeproxy_sim.simulator.topology import (
    NO_POD_MARK,
    UPLINK,
    SimPod,
    family_mismatch,
    ip_family_flag,
    no_machines,
    why_not_placed,
)

PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")
"""send's protocols: connections, or (icmp, icmpv6) pings, echo requests answered by echo replies."""


def probe_packet(proto: str, src: str, dst: str, port: int | None, **fields: object) -> Packet:
    """The first packet of a connection to ``dst``:``port``, or of a ping to ``dst`` (an echo request: no port)."""
    return Packet.of(proto, src, dst, None if proto in ICMP_PROTOS else port, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed destination: the addresses it stands for (one per connection is used) and the port."""

    label: str
    addresses: tuple[str, ...]
    port: int
    name: str | None = None  # the DNS name, when it was one
    truncated: bool = False  # its DNS answer does not fit a datagram: the query is asked again over TCP
    note: str | None = None  # what the client's kernel made of the address given (:func:`unspecified_note`)


@dataclass(frozen=True, slots=True)
class Delivered:
    pod: str
    ip: str
    node: str | None
    count: int
    share: float
    expected: float | None
    sources_seen: tuple[str, ...]
    pod_object: bool | None = None  # a Pod object's (False: an endpoint address no Pod owns; None: no pod, unknown)
    why: tuple[str, ...] = ()  # what the objects leave unsaid about it (a port its pod does not declare)
    addresses: tuple[str, ...] = field(default=(), compare=False, repr=False)  # a ping's: as Failed.addresses


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    count: int
    detail: str
    expected: float | None
    why: tuple[str, ...] = ()  # the Service field or endpoint condition behind the rule that dropped or rejected
    lost: ReplyLoss | None = field(default=None, compare=False, repr=False)  # its Failure's (the same for the row)
    decided_by: Decided | None = field(default=None, compare=False, repr=False)  # its Failure's: failure_trace's
    addresses: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """A ping's row: the addresses its echo requests went to (a name may resolve to several: a headless Service),
    so that its words are about them (:func:`.ping.ping_why`); () for the rest."""


@dataclass(frozen=True, slots=True)
class SendResult:
    source: str
    destination: str
    proto: str
    connections: int
    seed: int | None
    delivered: tuple[Delivered, ...]
    failed: tuple[Failed, ...]
    hops: tuple = field(default=(), compare=False, repr=False)
    sticky: bool | None = None  # ClientIP affinity on the way: one client keeps its pod (None: not predicted)
    evidence: Evidence | None = field(default=None, compare=False, repr=False)  # (send's, for the rows' words)
    ping: PingTarget | None = None  # a ping's (icmp, icmpv6) destination: what has the address, why it answers
    destination_note: str | None = field(default=None, compare=False, repr=False)
    """What the client's kernel made of the destination given (0.0.0.0: its own host, :func:`unspecified_note`),
    said first on every row by :func:`with_destination_note` once the rows have their own words."""
    target: Target | None = field(default=None, compare=False, repr=False)
    """The destination as the client's lookup gave it (its addresses and port; None: netns send's), for words
    about where the connections went (send's note on a port no Service at the address defines)."""

    def as_json(self) -> dict[str, object]:
        """The public ``-o json`` contract (shared with ``netns send``): ``answered`` the connections (pings) the
        destination's answer reached the client of, ``ping`` a ping's destination (:class:`.ping.PingTarget`)."""
        return {
            "from": self.source, "to": self.destination, "proto": self.proto, "connections": self.connections,
            "seed": self.seed,
            "delivered": [{"pod": d.pod, "ip": d.ip, "node": d.node, "count": d.count, "share": d.share,
                           "expected": d.expected, "sources_seen": list(d.sources_seen), "pod_object": d.pod_object,
                           "why": list(d.why)} for d in self.delivered],
            "failed": [{"reason": f.reason, "count": f.count, "detail": f.detail, "expected": f.expected,
                        "why": list(f.why)} for f in self.failed],
            "sticky": self.sticky,
            "answered": sum(d.count for d in self.delivered),
            "ping": None if self.ping is None else self.ping.as_json(),
        }


@dataclass(slots=True)
class Evidence:
    """What the expected pass meets that words about the rows need (analysis.why turns it into sentences; the
    simulator keeps the facts): the trace of each rule that dropped or rejected, by its node and path step (a
    failure's :class:`Decided`: :func:`failure_trace`), and the (pod key, address, port) a DNAT delivered the
    connection to (not its DNS query: :func:`_dns_step`), which the pod may not declare; and each DNAT whose answer
    cannot come back through its node (:meth:`bypass`), by the (address, port) it sent the connection to, which the
    reply comes from. Filled as the pass goes (not frozen), then only read."""

    failures: dict[Decided, tuple[TraceResult, Outcome]] = field(default_factory=dict)
    dnat_targets: set[tuple[str, str, int]] = field(default_factory=set)
    bypassed: dict[tuple[str, int], tuple[str, TraceResult, Outcome]] = field(default_factory=dict)

    def failed(self, node: str, result: TraceResult, outcome: Outcome) -> None:
        if outcome.path:
            self.failures.setdefault(Decided(node, outcome.path[-1]), (result, outcome))

    def bypass(self, node: str, result: TraceResult, outcome: Outcome, destination: tuple[str, int]) -> None:
        """A DNAT on ``node`` of a packet from another host, kept unmasqueraded, to an endpoint off the node: the
        answer goes from the endpoint straight back to the source, never through ``node``, where conntrack would
        undo the DNAT (what a row's lost or wrong-sourced reply is then about: analysis.why)."""
        self.bypassed.setdefault(destination, (node, result, outcome))


def failure_trace(evidence: Evidence, decided: Decided | None) -> tuple[str, TraceResult, Outcome] | None:
    """(node, trace, outcome) of the rule that decided a failure row (its :attr:`Failed.decided_by`: the
    connection's first packet's, or its DNS query's), when the expected pass met it; None for a failure no rule of
    the first packet decided."""
    # (one decided by no rule, step None, finds nothing: Evidence.failed keys each by its rule's path step)
    if decided is None or (found := evidence.failures.get(decided)) is None:
        return None
    return (decided.node, *found)


# ---------------------------------------------------------------------------- addressing


def _bad(text: str, flag: str, expected: str, *, usage: bool = False) -> InputError:
    """The flag's value refused; ``usage``: it is of none of the flag's forms (a usage error, 2), else it is of
    the right shape but names nothing there is, or something of the other family (invalid input, 1). A value
    past 200 characters is cut, saying its length, as objects.report's quote does."""
    return (UsageError if usage else InputError)(Diagnostic(f"{literal(text)}: {expected}", field=flag))


def _nodes(sim: Simulator, wanted: str) -> str:
    return one_of(wanted, (n.name for n in sim.topology.nodes), "nodes")


SOURCE_FORMS = "pod/NS/NAME, node/NAME, external, external:IP or an IP address"
"""The forms of send's and netns send's ``--from``, as their usage errors name them."""
LOOPBACK_SOURCE = ("a loopback address is a node's own, and which node's is not said; expected node/NAME (a node's "
                   "connection to a loopback address leaves from its loopback)")
"""Why a bare loopback ``--from`` is refused, in send and netns send alike: every node has one, so it names no
client (send took it for an outside host, netns send for the first node)."""
EXTERNAL_UNICAST = ("{kind} is no outside machine's; expected external:IP with a routable unicast address (`netns "
                    "up --client` refuses it too)")
"""Why ``--from external:IP`` of an address no machine has (:func:`.no_machines`) is refused, in send and netns send
alike: send took it for a host out there, whose packets a node takes for martians (or whose replies it keeps),
netns send for a client it lacks."""
BARE_UNICAST = ("{kind} is no pod's, node's or outside machine's; expected a routable unicast address (`netns up "
                "--client` refuses it too)")
"""Why a bare ``--from`` address no machine has is refused, in send and netns send alike (a loopback one is
:data:`LOOPBACK_SOURCE`'s): send took it for a host out there, netns send advised a client it cannot make."""


def check_source_form(text: str) -> None:
    """Refuse a ``--from`` value of none of the forms (a usage error, 2) from its text alone, so send and netns
    send say it before the objects are read or a cluster is looked up, as :func:`split_destination` does ``--to``.
    The spellings of send's own output are forms too (:func:`source_spelled`)."""
    given, text = text, source_spelled(text)
    if is_address(text) and loopback(*parse_address(text)):
        raise _bad(given, "--from", LOOPBACK_SOURCE, usage=True)
    if is_address(text):
        _refuse_no_machines(given, text, BARE_UNICAST)
        return
    if text.startswith(("pod/", "node/")) or text == "external":
        return
    if text.startswith("external:"):
        if not is_address(text.partition(":")[2]):
            raise _bad(given, "--from", "expected external:IP with an IP address", usage=True)
        _refuse_no_machines(given, text.partition(":")[2], EXTERNAL_UNICAST)
        return
    # (a bare NAME, a row's node column, is no form: a typo would be looked up only after the objects are read)
    raise _bad(given, "--from", f"expected {SOURCE_FORMS}", usage=True)


_NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
"""A name as Kubernetes validates a Node's and a namespace's (a DNS-1123 subdomain)."""


def _bare_name(text: str) -> bool:
    """Whether ``--from`` text is a bare name (a namespace's, before ``/NAME`` in a row's ``pod``)."""
    return len(text) <= 253 and _NODE_NAME.fullmatch(text) is not None


def source_spelled(text: str) -> str:
    """``--from`` in its own form when written as send's output names a source: a row's ``pod`` (``NS/NAME``, an
    endpoint's with or without its mark, or its ``NS/ADDRESS``) is ``pod/NS/NAME``, ``external/IP`` (an outside
    host's row) ``external:IP``; any other text as it is. netns send takes the same
    (:func:`.kernel.send.resolve_source`)."""
    if text.startswith("external/") and is_address(text[9:]):
        return f"external:{text[9:]}"
    if text.startswith(("pod/", "node/", "external:")) or text == "external" or is_address(text):
        return text
    namespace, sep, name = text.partition("/")
    if sep and name and "/" not in name and _bare_name(namespace):
        return f"pod/{text}"
    return text


def _refuse_no_machines(text: str, address: str, why: str) -> None:
    """Refuse ``--from`` ``text`` (a usage error) when its ``address`` is one no machine has, ``why`` saying so."""
    kind = no_machines(netaddr.IPAddress(canonical_address(address)))
    if kind is not None:
        raise _bad(text, "--from", why.format(kind=kind), usage=True)


def parse_source(sim: Simulator, text: str) -> Client:
    """pod/NS/NAME, node/NAME, external, external:IP, or an address of a pod, node or outside machine; the
    spellings of send's output too (:func:`source_spelled`: NS/NAME, external/IP)."""
    check_source_form(text)
    given, text = text, source_spelled(text)
    if text.startswith("pod/"):
        pod = pod_named(sim, text[4:])
        if pod is None:
            absent = why_not_placed(sim.cluster, text[4:], sim.family, {n.name for n in sim.topology.nodes})
            if absent is not None:
                raise _bad(text, "--from", absent)
            # named as the rows name them: an endpoint no Pod object owns by its key (NS/ep-10-244-1-10)
            known = one_of(text[4:], sorted(p.key for p in sim.topology.pods), "pods")
            raise _bad(given, "--from", f"no such pod; expected pod/NAMESPACE/NAME of a pod of the objects ({known})")
        return sim.client("pod", pod.key)
    if text.startswith("node/"):
        if sim.topology.node(text[5:]) is None:
            raise _bad(text, "--from", f"no such node; expected one of {_nodes(sim, text[5:])}")
        return sim.client("node", text[5:])
    if text == "external":
        return sim.client("external")
    if text.startswith("external:"):
        ip = text.partition(":")[2]
        if (":" in ip) != (sim.family == 6):  # an address (check_source_form), of the other family
            raise _bad(text, "--from", f"expected external:IP with an IPv{sim.family} address "
                       f"(or {ip_family_flag(10 - sim.family)})")
        return sim.client("external", ip=canonical_address(ip))
    return _source_by_address(sim, text)  # an address (check_source_form)


def pod_named(sim: Simulator, name: str) -> SimPod | None:
    """The workload ``--from pod/NAME`` names (:meth:`.topology.Topology.pod_named`), and one named as a row shows
    it: an endpoint no Pod object owns by its key with the table's mark (``NS/ep-10-244-1-10*``, ``NS/db-0*``), so
    that a row's name can be copied as it is."""
    found = sim.topology.pod_named(name)
    if found is not None or not name.endswith(NO_POD_MARK):
        return found
    marked = sim.topology.pod(name.removesuffix(NO_POD_MARK))
    return marked if marked is not None and not marked.pod_object else None


def _source_by_address(sim: Simulator, text: str) -> Client:
    ip = canonical_address(text)
    pod = next((p for p in sim.topology.pods if p.ip == ip and not p.host_network), None)
    if pod is not None:
        return sim.client("pod", pod.key)
    node = next((n for n in sim.topology.nodes if ip in n.addresses), None)
    if node is not None:
        return Client(f"node/{node.name}", ip, "node", node.name, bound=True)  # as netns send binds it
    node = next((n for n in sim.topology.nodes if ip in n.gateways), None)
    if node is not None:  # its pod bridge's address is the node's own too: its socket bound there
        return Client(bridge_source_label(node.name, ip), ip, "node", node.name, bound=True)
    return sim.client("external", ip=ip)


def bridge_source_label(node: str, ip: str) -> str:
    """How ``send`` and ``netns send`` name a ``--from`` of a node's pod bridge address (:func:`.bridge_gateways`):
    the node, its socket bound to that address (the source its peers see, where ``node/NAME`` lets the route pick)."""
    return f"node/{node} ({ip})"


_DESTINATIONS = ("IP:PORT, NAME:PORT (by the client's DNS search list), NAME.NAMESPACE:PORT, "
                 "NAME.NAMESPACE.svc.cluster.local:PORT, a pod's or an endpoint's DNS name:PORT or node/NAME:NODEPORT")
DESTINATION_FORMS = f"{_DESTINATIONS}, PORT a number 1-65535 (not a port's name)"
"""The forms of a ``--to`` of port numbers only, as netns send's usage errors name them (and the simulator's,
which the send command hands the number of a port's name)."""
NAMED_DESTINATION_FORMS = (f"{_DESTINATIONS}, PORT a number 1-65535 or, after a Service's name, a port's name "
                           "(NAME.NAMESPACE:http)")
"""The forms of send's ``--to``, as its usage errors name them: a Service's name takes a port's name too."""
PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
"""The shape of a Service port's name (IANA_SVC_NAME's letters): ``--to NAME.NS:http``, as dist takes it."""


def packet_family(source: str, destination: str) -> int | None:
    """The family of a ``--from``/``--to`` pair's literal addresses (external:IP, IP; IP:PORT), both checked for
    their forms already; None when neither is an address or the two differ (that refusal is the simulation's)."""
    return literal_family((source_spelled(source).removeprefix("external:"), destination.rpartition(":")[0]))


def split_destination(text: str) -> tuple[str, int]:
    """(host, port) of a ``--to`` value from its text alone (netns send's and the simulator's, before any cluster
    is looked up): not of the forms, a usage error (2); a port out of range, invalid input (1)."""
    host, port = destination_shape(text, port_names=False)
    return host, int(port)


def destination_shape(text: str, *, port_names: bool) -> tuple[str, str]:
    """(host, port text) of a ``--to`` value checked for its forms, :data:`NAMED_DESTINATION_FORMS` (send's)
    with ``port_names``, else :data:`DESTINATION_FORMS`, each error quoting ``text`` and naming those forms."""
    forms = NAMED_DESTINATION_FORMS if port_names else DESTINATION_FORMS
    host, sep, port_text = text.rpartition(":")
    # HOST:PORT, the port of ASCII digits ('²' is a digit int() cannot read); a value out of range is of the shape
    numbered = port_text.isascii() and port_text.isdigit()
    if not (sep and host and (numbered or (port_names and PORT_NAME.fullmatch(port_text)))):
        raise _bad(text, "--to", f"expected {forms}", usage=True)
    if numbered and not 0 < int(port_text) < 65536:
        port = number(int(port_text))  # (past 200 digits: how many)
        raise _bad(text, "--to", f"port {port if port.isdigit() else f'({port})'} is out of range; expected a port "
                   "1-65535")
    if ":" in host and not host.startswith("["):
        # "fd00::1:80" is fd00::1 port 80, or fd00::1:80 with the port left out: the brackets say which
        raise _bad(text, "--to", "an IPv6 address with a port is written [ADDRESS]:PORT, e.g. [fd00::1]:80",
                   usage=True)
    if "/" in host:
        _check_slashed(text, host, port_text, forms)
    return host, port_text


def _check_slashed(text: str, host: str, port: str | None, forms: str) -> None:
    """A host with a '/' is node/NAME or of no form: no DNS name holds a '/', so looking it up (an NXDOMAIN, 1)
    would say the wrong thing. NS/NAME, dist's form of a Service, is answered with send's spelling of it. ``port``
    None: a ping's ``--to``, a host alone, whose '/' is node/NAME's only (an IP/PREFIX is a network, no host)."""
    from kubeproxy_sim.objects.decode import DNS1123_LABEL

    prefix, _, rest = host.partition("/")
    if prefix == "node" and rest and "/" not in rest:
        return
    if prefix.lower() == "node":  # (Node/NAME is no Service NAME.Node: said before the Service's spelling)
        why = ("node/NAME takes one node's name after 'node/'" if prefix == "node" else
               f"a node is node/NAME, 'node/' in lower case (not '{prefix}/')")
    elif all(DNS1123_LABEL.problem(part.lower()) is None for part in (prefix, rest)):
        spelled = f"{rest}.{prefix}" if port is None else f"{rest}.{prefix}:{port}"
        why = f"a Service is NAME.NAMESPACE here ({spelled}; NS/NAME is dist's form)"
    elif port is None:
        why = (f"a ping goes to one host, not a network: {prefix}, without '/{rest}'" if is_address(prefix) else
               "of a ping's forms only node/NAME holds a '/'")
    else:
        why = "of the forms only node/NAME:NODEPORT holds a '/'"
    raise _bad(text, "--to", f"{why}; expected {forms}", usage=True)


PING_DESTINATION_FORMS = ("IP, [IPv6], node/NAME, NAME.NAMESPACE (a Service's name, by the client's DNS search list) "
                          "or any name the client resolves, without a port (a ping has none)")
"""The forms of send's ``--to`` for ``--proto icmp``/``icmpv6``, as its usage errors name them."""


def ping_host(text: str) -> str:
    """The host of a ping's ``--to`` (:data:`PING_DESTINATION_FORMS`) from its text alone: an address (an IPv6 one
    bare or in brackets), ``node/NAME`` or a name; a port given is a usage error (2), as an echo has none."""
    if is_address(text):
        return text
    if is_address(text.partition("/")[0]):  # (an IPv6 network's colons are no port's)
        _check_slashed(text, text, None, PING_DESTINATION_FORMS)
    host, sep, port = text.rpartition(":")
    if sep and (not host or port.isdigit() or ":" in host or host.startswith("[")):
        raise _bad(text, "--to", f"a ping (--proto icmp) goes to a host, not a port; expected {PING_DESTINATION_FORMS}",
                   usage=True)
    if not text or sep or any(c.isspace() for c in text):
        raise _bad(text, "--to", f"expected {PING_DESTINATION_FORMS}", usage=True)
    if "/" in text:
        _check_slashed(text, text, None, PING_DESTINATION_FORMS)
    return text


def ping_family(source: str, destination: str) -> int | None:
    """:func:`packet_family` of a ping's ``--from``/``--to`` (its host has no port)."""
    return literal_family((source_spelled(source).removeprefix("external:"), ping_host(destination)))


def ping_proto(proto: str, family: int) -> str:
    """A ping's protocol in the simulated family: ``--proto icmp`` to an IPv6 address is ICMPv6, as ``ping`` sends
    an echo of the address's family; ``icmpv6`` in an IPv4 cluster is refused (no IPv4 packet carries it)."""
    if proto == "icmp" and family == 6:
        return "icmpv6"
    if proto == "icmpv6" and family == 4:
        raise InputError(Diagnostic("icmpv6 is IPv6's ICMP, and the packet is IPv4; expected --proto icmp",
                                    field="--proto"))
    return proto


def parse_destination(sim: Simulator, client: Client, text: str, *, ping: bool = False) -> Target:
    """IP:PORT, [IPv6]:PORT, node/NAME:NODEPORT, or HOST:PORT resolved by the client's DNS; ``ping``: the host
    alone (:func:`ping_host`), the target's port 0."""
    host, port = (ping_host(text), 0) if ping else split_destination(text)
    if host.startswith("node/"):
        node = sim.topology.node(host[5:])
        if node is None:
            raise _bad(text, "--to", f"no such node; expected one of {_nodes(sim, host[5:])}")
        return Target(text, (node.primary,), port)
    if is_address(host):
        ip = canonical_address(host)
        if (":" in ip) != (sim.family == 6):
            raise _bad(text, "--to", family_mismatch("the packet", 6 if ":" in ip else 4, sim.family))
        if parse_address(ip)[1] == 0:  # 0.0.0.0 or ::: the client's kernel connects to its own host
            connected = unspecified_destination(client, sim.family)
            return Target(text, (connected,), port, note=unspecified_note(ip, connected, client,
                                                                          "pings" if ping else "connections"))
        return Target(text, (ip,), port)
    answer = resolve_host(sim, client, host, text)
    return Target(text, answer.addresses, port, host, sim.dns.truncated(answer, sim.resolver(client)))


def unspecified_destination(client: Client, family: int) -> str:
    """The address a client's socket is connected to when told the unspecified one (0.0.0.0, ::), which no packet
    can carry: Linux's IPv4 output route (ip_route_output_key_hash_rcu, which connect, sendto and a raw socket's
    send all take) makes a zero destination the socket's bound source, else 127.0.0.1 (the source as well), and
    sends on lo; IPv6's connect (tcp_v6_connect, ip6_datagram_connect) and send (udpv6_sendmsg, rawv6_sendmsg)
    make it ::1, bound or not. So ``curl 0.0.0.0:NODEPORT`` on a node is a connection to 127.0.0.1:NODEPORT,
    which kube-proxy's localhost NodePort rules take."""
    if family == 4 and client.bound:
        return client.ip
    return format_address(family, loopback_source(family))


def unspecified_note(given: str, connected: str, client: Client, what: str) -> str:
    """Why ``what`` (connections, pings) to the unspecified address ``given`` went to ``connected``
    (:func:`unspecified_destination`)."""
    return unspecified_said(given, connected, client.label, client.ip, what)


def unspecified_said(given: str, connected: str, label: str, address: str | None, what: str) -> str:
    """:func:`unspecified_note` of a client named ``label`` at ``address`` (its socket's bound one, or the one it
    would be connected to were it bound): ``send``'s and ``netns send``'s words alike."""
    where = f"its socket's bound source, {connected}" if connected == address else connected
    return (f"{given} is no host's address (no packet carries it): Linux sends to it as to the client's own host, "
            f"on lo, at {where}, so {label}'s {what} went to {connected}")


def with_destination_note(result: SendResult) -> SendResult:
    """``result`` with its :attr:`SendResult.destination_note` first on every row's words (after the rows got their
    own: analysis.why's and ping_why replace them)."""
    note = result.destination_note
    if note is None:
        return result
    return dataclasses.replace(
        result, delivered=tuple(dataclasses.replace(d, why=(note, *d.why)) for d in result.delivered),
        failed=tuple(dataclasses.replace(f, why=(note, *f.why)) for f in result.failed))


def resolve_host(sim: Simulator, client: Client, host: str, text: str) -> Answer:
    """The client's lookup of a ``--to`` host, by its own resolver (a pod's resolv.conf: dnsPolicy, dnsConfig;
    else default's search path); an InputError quoting ``text`` (the --to value as given) when it gives no
    address, saying why."""
    resolver = sim.resolver(client)
    answer = sim.dns.resolve(host, client.namespace or "default", resolver)
    if not answer.addresses:
        if resolver is not None and resolver.scope != CLUSTER:
            raise _bad(text, "--to", resolver.unanswered())
        raise _bad(text, "--to", unresolved_reason(answer, sim.dns, client.namespace or "default") +
                   (resolver.own_settings(client.label, sim.dns.domain) if resolver is not None else ""))
    return answer


def unresolved_reason(answer: Answer, dns: ClusterDNS, namespace: str | None = None, *, hosts: bool = True) -> str:
    """Why a name gives no address: no such name, a Service without an address of this family (or none at all),
    a CNAME to a name nobody has, a CNAME loop or chain too long, or a name --hosts gives only addresses of the
    other family. An NXDOMAIN answer is explained by the first name of the search path that is a Service.
    ``hosts``: the command has --hosts (the outside's names); without it (netns send) no advice names it."""
    start = answer.name
    if answer.rcode == "NXDOMAIN":
        start = next((c for c in answer.tried or dns.candidates(answer.query, namespace)
                      if dns.service_named(c) is not None), start)
    names, ending = _cname_walk(dns, start)
    if ending == "loop":
        return (f"the CNAMEs (ExternalName services) go round: {' -> '.join(names)}; cluster DNS answers no address "
                "(NOERROR, no data)")
    if ending == "long":
        return (f"the CNAMEs (ExternalName services) go on for more than {MAX_CNAME_CHAIN} names: "
                f"{' -> '.join(names)}; cluster DNS follows {MAX_CNAME_CHAIN} and answers no address (NOERROR, no "
                "data)")
    name = names[-1]
    other_family = _hosts_other_family(dns, name, len(names) > 1)
    if other_family is not None:
        return other_family
    reason = _no_address(dns, name)
    if len(names) > 1:
        if reason is not None:
            return f"the name resolves to {name}: {reason}"
        if dns.in_zone(name):
            return (f"the name resolves to {name}, which is no name of the cluster (NXDOMAIN"
                    + (f"; --hosts answers only names outside {dns.domain})" if hosts else ")"))
        if not hosts:
            return (f"the name resolves to {name}, a name outside the cluster, which this command cannot resolve "
                    "(it has no --hosts): give its address as IP:PORT")
        return f"the name resolves to {name}, which does not resolve (add it to --hosts)"
    if reason is not None:
        return reason
    expected = "expected a Service (NAME.NAMESPACE)" + (" or a name of --hosts" if hosts else "")
    if answer.rcode == "NOERROR":
        return f"the name exists but has no address (NOERROR, no data); {expected}"
    return f"no such name (NXDOMAIN); {expected}"


def _cname_walk(dns: ClusterDNS, name: str) -> tuple[list[str], str | None]:
    """The names from ``name`` along its CNAMEs, and "loop" or "long" when cluster DNS gives up on them."""
    names = [name]
    while True:
        _, found = dns.lookup(names[-1])
        target = next((r.value for r in found if r.type == "CNAME"), None)
        if target is None:
            return names, None
        names.append(target)
        if target in names[:-1]:
            return names, "loop"
        if len(names) - 1 > MAX_CNAME_CHAIN:
            return names, "long"


def _no_address(dns: ClusterDNS, name: str) -> str | None:
    """Why one name (no CNAME) has no address of the simulated family, when the cluster or --hosts says why."""
    family, other = dns.family, 4 if dns.family == 6 else 6
    service = dns.service_named(name)
    if service is not None:
        if service.type is ServiceType.EXTERNAL_NAME:
            if external_name_is_address(service):
                return (f"{service.key} is an ExternalName Service whose externalName {service.external_name} is an "
                        "IP address: cluster DNS answers no record for it (NXDOMAIN); use the address itself")
            return None
        if service.headless:
            ready = sorted({a for a, _ in dns.ready_endpoints(service)})
            if not ready:
                return (f"{service.key} is headless (clusterIP None) and has no ready endpoint: cluster DNS answers "
                        "NXDOMAIN")
            return family_mismatch(f"{service.key} is headless, and every ready endpoint of it "
                                   f"({', '.join(ready)})", other, family, "a Service with endpoints of that family")
        if not service.cluster_ips:
            return (f"{service.key} has no cluster IP (its spec.clusterIP is not set: the API server would allocate "
                    "one; a headless Service says \"None\"), so cluster DNS answers no address")
        return family_mismatch(f"{service.key} has no IPv{family} cluster IP: its cluster IP "
                               f"{service.cluster_ips[0]}", other, family, "a Service with a cluster IP of that family")
    pod = pod_record_address(name, dns.domain)
    if pod is not None and (":" in pod) != (family == 6):
        return family_mismatch(f"the pod name {name} stands for {pod}, which", other, family,
                               "a pod name of that family")
    return None


def _hosts_other_family(dns: ClusterDNS, name: str, chained: bool) -> str | None:
    """A name --hosts gives only addresses of the other family."""
    family, other = dns.family, 4 if dns.family == 6 else 6
    known = [a for a in dns.upstream.get(name, ()) if (":" in a) != (family == 6)]
    if not known:
        return None
    what = f"the name resolves to {name}, whose" if chained else "its"
    return family_mismatch(f"{what} only {'address' if len(known) == 1 else 'addresses'} in --hosts "
                           f"({', '.join(known)})", other, family, f"an IPv{family} address for {name} in --hosts")


# ---------------------------------------------------------------------------- expected shares


Entries = list[tuple[str, Fraction, Packet]]
STICKY = "sticky:"
"""A key of the expected shares: the probability that the way taken records the client for ClientIP affinity."""
_REMEMBERS = re.compile(r"-m recent (?:.* )?--set\b")


def remembers_client(outcomes: Iterable[Outcome]) -> bool:
    """Whether a traced path records the client in a ``recent`` list (kube-proxy's ClientIP affinity: the
    endpoint's DNAT rule does), so that its later connections take the same way."""
    return any(_REMEMBERS.search(step.rule) for outcome in outcomes for step in outcome.path)


def _entries(sim: Simulator, client: Client, dst: str, port: int, proto: str) -> tuple[Entries, str | None]:
    """(node, weight, first packet there) for every node the connection can enter by; else why it ends first."""
    if client.kind == "pod":
        pod = client.pod
        assert pod is not None  # a pod client always has its pod (Simulator.client)
        rt = sim.runtimes[pod.node]
        bport = None if rt.node.pods_by_veth else pod.veth
        return [(pod.node, Fraction(1), probe_packet(proto, client.ip, dst, port, in_iface=rt.pod_iface(pod),
                                                  bridge_port=bport))], None
    if client.kind == "node":
        assert client.node is not None  # a node client (or a host-network pod's) always names its node
        family, value = parse_address(dst)
        src = format_address(family, sim.client_source(client, family, value))
        return [(client.node, Fraction(1), probe_packet(proto, src, dst, port))], None
    return _router_entries(sim, client.ip, dst, port, proto)


def _router_entries(sim: Simulator, src: str, dst: str, port: int, proto: str) -> tuple[Entries, str | None]:
    """(node, weight, packet there) for a packet the outside network carries: to the node that has the address,
    through the balancer to its backend nodes, or to any node for an external IP. None of them: no entries,
    and the reason when the balancer ends the connection itself (as ``network._proxied`` and ``_router``)."""
    node = next((n for n in sim.topology.nodes if dst in n.addresses), None)
    if node is not None:
        return [(node.name, Fraction(1), probe_packet(proto, src, dst, port, in_iface=UPLINK))], None
    frontend = sim.balancer.frontend(dst, proto, port)
    if frontend is not None:
        nodes = sim.balancer.backends(frontend.service)
        if frontend.proxy:
            if not sim.balancer.source_allowed(frontend.service, src):
                return [], DROP
            if not frontend.port.node_port or not nodes:
                return [], TIMEOUT
            return [(n, Fraction(1, len(nodes)), probe_packet(proto, frontend.ip, sim.runtimes[n].node.primary,
                                                            frontend.port.node_port, in_iface=UPLINK))
                    for n in nodes], None
        if not nodes:
            return [], TIMEOUT
        return [(n, Fraction(1, len(nodes)), probe_packet(proto, src, dst, port, in_iface=UPLINK)) for n in nodes], None
    value = parse_address(dst)[1]
    if value in sim.external_ip_nodes:
        names = list(sim.runtimes)
        return [(n, Fraction(1, len(names)), probe_packet(proto, src, dst, port, in_iface=UPLINK))
                for n in names], None
    if value in sim.pod_at or sim.in_pod_subnet(value):
        return [], heard(NO_ROUTE, proto)  # the outside network has no route to pod addresses
    return [], None


def _target_of(sim: Simulator, ip: str, port: int, proto: str, node: str | None = None, src: str | None = None,
               translated: str | None = None) -> str:
    """Who answers at ip:port when the packet ends there, else the failure's reason: a host with nothing
    listening refuses (a TCP RST or an ICMP port unreachable: REJECT; a client's host too, heard only where its
    answer finds a way back, as the router's below), a balancer's
    address without this port stays silent, an address nobody has is NO_ROUTE (as TCP hears it, :func:`.heard`;
    silence when the router's answer has no way back to ``src``, the source as the rules leave it, through
    ``translated``, the node that DNATed it: ``Simulator.answered_from_outside``). Loopback is ``node`` itself."""
    served = sim.server_at(ip, port, proto, node=node, senders=True)
    source = None if src is None else parse_address(src)[1]
    if served is None:
        value = parse_address(ip)[1]
        if proto in ICMP_PROTOS and sim.in_pod_subnet(value):  # the node's ICMP host unreachable (network.ARP_FAILED)
            return NO_ROUTE
        return heard(sim.unowned_reason(value, source, translated), proto)
    if not isinstance(served, Failure):
        return served[0]
    heard_here = served.reason != REJECT or sim.refusal_heard(parse_address(ip)[1], source, translated)
    return served.reason if heard_here else TIMEOUT


def _follow(sim: Simulator, node: str, packet: Packet, weight: Fraction, proto: str,
            shares: defaultdict[str, Fraction], depth: int = 0, evidence: Evidence | None = None) -> None:
    """Trace on ``node``; a packet for another node's own address (its pod bridge's too), DNATed there or left
    unchanged, is traced on that node, whose conntrack sees a new connection that its rules (a NodePort's) may DNAT
    again; one for a load balancer's or an external IP, left unchanged or DNATed there (a Service's endpoint may be
    another's LB IP), is traced where the network takes it (a node sending to a LoadBalancer IP with no rules for
    it on the way out reaches the balancer, which sends it back to the nodes). ``evidence`` gathers the failures'
    traces and the DNATs' targets on the way."""
    result = sim.runtimes[node].tracer.trace(packet)
    for outcome in result.outcomes:
        p = weight * outcome.probability_exact
        if remembers_client([outcome]):
            shares[STICKY] += p
        if outcome.verdict in ("DROP", "REJECT"):
            shares[outcome.verdict] += p
            shares[f"{outcome.verdict}@{node}"] += p  # what a failure row of this node expects (see tally)
            if evidence is not None:
                evidence.failed(node, result, outcome)
            continue
        ip, port = outcome.address_after(packet.dst_text, packet.dport or 0)
        family, value = parse_address(ip)
        owner = sim.host_node(value)
        here = owner == node or loopback(family, value)
        src = sim.runtimes[node].node.primary if outcome.masquerade else packet.src_text
        if evidence is not None and outcome.verdict == "DNAT" and packet.in_iface == UPLINK \
                and not outcome.masquerade and not here and value not in sim.runtimes[node].local_pods:
            evidence.bypass(node, result, outcome, (ip, port))  # (before following it: the reply skips this node)
        onto = next_hop(node, None if here else owner, depth, proto, src, ip, port)
        if isinstance(onto, Circles):  # as the walk ends it (network.MAX_HOPS)
            shares[circles_reason(proto)] += p
            continue
        if onto is not None:
            _follow(sim, onto[0], onto[1], p, proto, shares, depth + 1, evidence)
            continue
        if outcome.verdict in ("ACCEPT", "DNAT") and not here and value not in sim.pod_at \
                and not sim.in_pod_subnet(value):  # the nodes route pod subnets among themselves
            onward, ended = _router_entries(sim, src, ip, port, proto)
            if onward and circled(depth):  # the network would send it on once more: see next_hop
                shares[circles_reason(proto)] += p
                continue
            if onward or ended:
                for nxt, share, hop in onward:
                    _follow(sim, nxt, hop, p * share, proto, shares, depth + 1, evidence)
                if ended:
                    shares[ended] += p
                continue
        target = _target_of(sim, ip, port, proto, node, src,
                            translated_at(node, (packet.dst_text, packet.dport), (ip, port)))
        shares[target] += p
        if evidence is not None and outcome.verdict == "DNAT":
            evidence.dnat_targets.add((target, ip, port))


def _shares_to(sim: Simulator, client: Client, dst: str, port: int, proto: str, weight: Fraction,
               shares: defaultdict[str, Fraction], evidence: Evidence | None = None) -> None:
    """Add one connection's exact outcomes to ``shares``, ``weight`` in all (``evidence``: see :func:`_follow`)."""
    answer = sim.loopback_answer(client, proto, port) if loopback(*parse_address(dst)) else None
    if answer is not None:  # answered inside the client's own host (a pod's, an outside one's)
        # loopback_answer names the target whenever it names no failure
        shares[answer.failure.reason if answer.failure else answer.target] += weight  # type: ignore[index]
        return
    entries, ended = _entries(sim, client, dst, port, proto)
    if not entries:
        shares[ended or _target_of(sim, dst, port, proto)] += weight
    for node, node_weight, packet in entries:
        _follow(sim, node, packet, weight * node_weight, proto, shares, evidence=evidence)


DNS = "dns:"
"""The prefix of the expected shares of a failure of the DNS query (a row of a :attr:`Failure.dns_query`)."""


def _dns_step(sim: Simulator, client: Client, target: Target, shares: defaultdict[str, Fraction],
              evidence: Evidence | None = None) -> Fraction:
    """A pod that connects to a name asks kube-dns first (``Simulator.resolve``, a UDP query to its cluster IP,
    then over TCP when the answer was truncated): the query's failures go into ``shares`` (as DNS + reason), and
    what gets through to an answer is returned. ``evidence`` gets the query's failures, not its DNAT targets:
    the rows delivered are the connection's, and a DNS query's kube-dns endpoint (another port, UDP) is not."""
    server = sim.dns_server(client) if target.name is not None else None
    if server is None:
        return Fraction(1)
    evidence = None if evidence is None else Evidence(failures=evidence.failures,  # its DNAT targets apart
                                                      bypassed=evidence.bypassed)
    through = Fraction(1)
    for proto in ("udp", "tcp") if target.truncated else ("udp",):
        query: defaultdict[str, Fraction] = defaultdict(Fraction)
        _shares_to(sim, client, server, DNS_PORT, proto, through, query, evidence)
        through = Fraction(0)
        for key, share in query.items():
            if "/" in key:  # a pod, a node or an outside host answered (the answer is the same whoever gives it)
                through += share
            elif key != STICKY:  # kube-dns's affinity is not the destination's
                shares[DNS + key] += share
    return through


def expected_shares(sim: Simulator, client: Client, target: Target, proto: str,
                    evidence: Evidence | None = None) -> dict[str, Fraction]:
    """Exact probability per destination (pod key, node/NAME, external/NAME) and per failure reason; a pod's
    connection to a name first has its DNS query's failures (keys DNS + reason), the rest is the connection's.
    ``evidence`` gathers what the rows' words need on the way (:class:`Evidence`)."""
    shares: defaultdict[str, Fraction] = defaultdict(Fraction)
    through = _dns_step(sim, client, target, shares, evidence)
    if through:
        weight = through / len(target.addresses)
        for dst in target.addresses:
            _shares_to(sim, client, dst, target.port, proto, weight, shares, evidence)
    return dict(shares)


# ---------------------------------------------------------------------------- the run


def _one(sim: Simulator, client: Client, target: Target, proto: str) -> tuple[str, Connection]:
    """One connection: the address it went to (one of the target's, drawn) and what came of it."""
    dst = target.addresses[0] if len(target.addresses) == 1 else \
        target.addresses[sim.rng.randrange(len(target.addresses))]
    if target.name is not None:  # (the name was resolved once, by parse_destination)
        failure = sim.dns_query(client, target.truncated)
        if failure is not None:
            return dst, Connection(failure=failure)
    return dst, sim.connect(client, dst, target.port, proto, close=True)  # one connection per socket, then closed


PING_INTERVAL = 1.0
"""Seconds between a ping's echo requests: ping(8)'s default interval (``-i 1``)."""


def _ping_run(sim: Simulator, client: Client, target: Target, proto: str, count: int,
              on_connection: Callable[[], None] | None) -> list[tuple[str, Connection]]:
    """``ping -c count``: one process, so one lookup of a name (its address drawn once, as the answer's first of a
    name of several: cluster DNS shuffles them, as CoreDNS's loadbalance does), one echo identifier, and sequence
    numbers 1, 2, ... a second apart. Conntrack keys an echo by its addresses and identifier, not its sequence:
    the requests after the first are that first one's flow (ESTABLISHED once a reply came), as the kernel sees a
    ping, not ``count`` new ones. A lookup that fails fails every request (ping sends none). The simulator's
    echo sequence is the run's alone: back to 1 however the run ends (a Ctrl-C in ``on_connection`` too)."""
    dst = target.addresses[0] if len(target.addresses) == 1 else \
        target.addresses[sim.rng.randrange(len(target.addresses))]
    failure = sim.dns_query(client, target.truncated) if target.name is not None else None
    ident = sim.rng.randint(*PING_ID)
    sent: list[tuple[str, Connection]] = []
    try:
        for sequence in range(1, count + 1):
            sim.echo_sequence = sequence
            sent.append((dst, Connection(failure=failure) if failure is not None else
                         sim.connect(client, dst, 0, proto, sport=ident)))
            sim.advance(PING_INTERVAL)
            if on_connection is not None:
                on_connection()
    finally:
        sim.echo_sequence = 1
    return sent


def _rows_to(result: SendResult, sent: list[tuple[str, Connection]]) -> SendResult:
    """``result`` (a ping's) with each row's addresses: those its echo requests went to, in the order first sent
    (the pinged address, which the row's own may not be: 127.0.0.1 answered by the client, a node's bridge address
    by the node). Rows are keyed as :func:`tally` groups them."""
    to: dict[object, dict[str, None]] = {}
    for dst, conn in sent:
        key = conn.target or "?" if conn.failure is None else (conn.failure.reason, conn.failure.detail)
        to.setdefault(key, {})[dst] = None
    return dataclasses.replace(
        result, delivered=tuple(dataclasses.replace(d, addresses=tuple(to.get(d.pod, ()))) for d in result.delivered),
        failed=tuple(dataclasses.replace(f, addresses=tuple(to.get((f.reason, f.detail), ()))) for f in result.failed))


def send(sim: Simulator, source: str, destination: str, *, proto: str = "tcp", count: int = 100,
         seed: int | None = None, interval: float = 0.001, record: bool = False,
         on_connection: Callable[[], None] | None = None) -> SendResult:
    """Make ``count`` connections, ``interval`` simulated seconds apart, and tally them.

    ``on_connection`` is called after each connection (a progress bar); it sees nothing and changes nothing.
    """
    proto = proto.lower()
    if proto not in PROTOCOLS:
        raise InputError(Diagnostic(f"{proto!r} is not a protocol; expected tcp, udp, sctp, icmp or icmpv6",
                                    field="--proto"))
    if count < 1:
        raise InputError(Diagnostic(f"{count} connections; expected at least 1", field="--count"))
    ping = proto in ICMP_PROTOS
    if ping:
        proto = ping_proto(proto, sim.family)
    client = parse_source(sim, source)
    target = parse_destination(sim, client, destination, ping=ping)
    sim.record = [] if record else None
    if ping:
        sent = _ping_run(sim, client, target, proto, count, on_connection)
    else:
        sent = []
        for _ in range(count):
            sent.append(_one(sim, client, target, proto))
            sim.advance(interval)
            if on_connection is not None:
                on_connection()
    hops = tuple(sim.record or ())
    sim.record = None
    evidence = Evidence()
    expected = expected_shares(sim, client, target, proto, evidence)
    places = {p.key: (p.ip, p.node) for p in sim.topology.pods}
    places.update({f"node/{name}": (rt.node.primary, name) for name, rt in sim.runtimes.items()})
    result = tally(client.label, destination, proto, seed, [conn for _, conn in sent], expected, hops, places)
    pods = {(p.key, p.ip): p.pod_object for p in sim.topology.pods}
    delivered = tuple(dataclasses.replace(d, pod_object=pods.get((d.pod, d.ip))) for d in result.delivered)
    if not ping:
        return dataclasses.replace(result, delivered=delivered, evidence=evidence, destination_note=target.note,
                                   target=target)
    # ping(8) pings the one address its lookup gave first: the JSON's ping is that one's, each row's words its own
    pinged = sent[0][0]
    first = dataclasses.replace(ping_target(sim, pinged), resolved=(pinged, *(a for a in target.addresses
                                                                               if a != pinged)))
    return _rows_to(dataclasses.replace(result, delivered=delivered, evidence=evidence, ping=first,
                                        destination_note=target.note), sent)


def tally(source: str, destination: str, proto: str, seed: int | None, results: list[Connection],
          expected: dict[str, Fraction], hops: tuple = (),
          places: Mapping[str, tuple[str, str | None]] | None = None) -> SendResult:
    """The rows: every destination reached, and every one the rules give a share that drew no connection
    (count 0: what a short run missed, or what the network lost); failures by reason and detail.
    ``places`` gives a destination's (address, node) for those rows."""
    total = len(results)
    reached: dict[str, list[Connection]] = {}
    failures: Counter[tuple[str, str]] = Counter()
    facts: dict[tuple[str, str], Failure] = {}  # a row's first failure: one detail says one failure's facts
    for r in results:
        if r.failure is not None:
            said = (r.failure.reason, r.failure.detail)
            failures[said] += 1
            facts.setdefault(said, r.failure)
        else:
            reached.setdefault(r.target or "?", []).append(r)
    missed = {key for key, share in expected.items() if share > 0 and "/" in key and key not in reached}
    delivered = []
    for key in sorted(reached.keys() | missed):
        group = reached.get(key, [])
        ip, node = (group[0].ip or "", group[0].node) if group else (places or {}).get(key, ("", None))
        exp = expected.get(key)
        delivered.append(Delivered(key, ip, node, len(group), round(len(group) / total, 6),
                                   None if not expected else round(float(exp or 0), 6),
                                   tuple(sorted({c.seen or "" for c in group}))))
    rows = _RowIndex.of(facts.values(), expected)
    # a row decided after the first packet (its words name the reply: every failure of the row is) expects none
    failed = [Failed(reason, n, detail, None if not expected or first.after_first
                     else _failure_expected(expected, first, rows), lost=first.lost, decided_by=first.decided_by)
              for (reason, detail), n in sorted(failures.items()) for first in (facts[reason, detail],)]
    sticky = None if not expected else expected.get(STICKY, 0) > 0
    return SendResult(source, destination, proto, total, seed, tuple(delivered), tuple(failed), hops, sticky)


@dataclass(frozen=True, slots=True)
class _RowIndex:
    """How many failure rows share each expectation :func:`_failure_expected` may give, counted once per tally (a
    row compared with every other made tally quadratic in its distinct rows): ``rows`` by (reason, DNS query?,
    node that decided, or None for all of the reason's), and ``split`` the expected keys' ``[dns:]REASON`` that
    have per-node shares (``REASON@node``)."""

    rows: Counter[tuple[str, bool, str | None]]
    split: frozenset[str]

    @staticmethod
    def of(rows: Iterable[Failure], expected: Mapping[str, Fraction]) -> _RowIndex:
        counts: Counter[tuple[str, bool, str | None]] = Counter()
        for r in rows:
            counts[r.reason, r.dns_query, None] += 1
            if r.decided_by is not None:
                counts[r.reason, r.dns_query, r.decided_by.node] += 1
        return _RowIndex(counts, frozenset(key.split("@", 1)[0] for key in expected if "@" in key))


def _failure_expected(expected: dict[str, Fraction], row: Failure, rows: _RowIndex) -> float | None:
    """The exact share a failure row expects: its reason's on its node when a node decided (its
    :attr:`Failure.decided_by`: each node's row gets its own), else its reason's; None when several rows share that
    expectation. A DNS query's failure (:attr:`Failure.dns_query`) expects the query's share, compared with the
    query's rows alone. Read from the failures' facts, never their words."""
    prefix, reason = DNS if row.dns_query else "", row.reason
    node = None if row.decided_by is None else row.decided_by.node
    if node is not None and prefix + reason in rows.split:
        share = expected.get(f"{prefix}{reason}@{node}", Fraction(0))
    else:
        node, share = None, expected.get(prefix + reason, Fraction(0))
    return round(float(share), 6) if rows.rows[reason, row.dns_query, node] == 1 else None
