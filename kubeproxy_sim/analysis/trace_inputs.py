"""What ``trace`` makes of a packet as a user writes it, where the written packet is not the one the node sees
or the dump alone cannot tell the answer.

- ``--dst 0.0.0.0`` (``::``): no packet carries the unspecified address. A socket of the node told to send there
  sends to the node itself, on lo (the rule is ``send``'s:
  :func:`kubeproxy_sim.simulator.send.unspecified_destination`); a packet from elsewhere with that destination
  is no socket's (a socket of another host sends to its own lo): only a crafted packet looks so, which a note
  says; on IPv4 the input routing drops it as a martian (the tracer's own routing step says so, a note when the
  node's addresses are not known), on IPv6 it is routed like any address.
- A dump traced without ``--node-ip``: addrtype ``--dst-type LOCAL`` is assumed false, so a packet to a NodePort
  of the node reads ``ACCEPT``; when the dump does serve that port, a note says so and what to give.
- ``--dst NAME``: a Service's name, read as ``send`` and ``dist`` read it (:func:`kubeproxy_sim.analysis.targets.
  service_named`) for the pod whose address is ``--src`` (namespace default when none is), traced to its cluster
  IP of the packet's family. Only text shaped as a DNS name is taken for one (:func:`dns_shaped`): other text
  that is no address (``300.1.1.1``, ``10.0.0.1/32``) is a malformed address, a usage error.

Pure: the notes are returned, the callers print them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError
from kubeproxy_sim.netfilter.packet import format_address, loopback, loopback_source, parse_address

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.model import Rule, Ruleset
    from kubeproxy_sim.netfilter.packet import Packet
    from kubeproxy_sim.netfilter.trace import NodeContext, TraceResult
    from kubeproxy_sim.objects.model import Cluster, Pod

NAME_FORMS = "NAME, NAME.NS or NAME.NS.svc.cluster.local"
"""The Service names ``--dst`` reads, as the cluster DNS answers them for the source pod's namespace."""

_DNS_LABEL = re.compile(r"[A-Za-z0-9-]+")


def dns_shaped(text: str) -> bool:
    """Whether ``--dst`` text that is no address reads as a host name: dot-separated labels of letters, digits
    and '-', the last not all digits (so ``300.1.1.1`` is a malformed address, not a name), an optional trailing
    dot. Anything else (``10.0.0.1/32``, ``foo bar``, empty) is an address of the wrong shape: a usage error, as
    README's exit statuses promise for "not an address where it takes an address"."""
    labels = text.removesuffix(".").split(".")
    return all(_DNS_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def source_pod(cluster: Cluster, packet: Packet) -> Pod | None:
    """The pod whose own (not host-network) address is the packet's source, if the objects hold one: whose DNS
    search path reads ``--dst NAME``, and whose socket a packet to 0.0.0.0 would come from. Among several with
    that address (a finished pod keeps its IP in its status), a running one first, then by name."""
    found = [p for p in cluster.pods if not p.host_network and
             any(_same_address(ip, packet.family, packet.src) for ip in p.pod_ips)]
    found.sort(key=lambda p: (p.phase in ("Succeeded", "Failed"), p.key))
    return found[0] if found else None


def _same_address(text: str, family: int, value: int) -> bool:
    try:
        return parse_address(text) == (family, value)
    except ValueError:  # (a pod IP the decoder let through unparsed: no match)
        return False


def unspecified(packet: Packet) -> bool:
    """Whether the packet is sent to the unspecified address (0.0.0.0, ::), which no packet on a wire carries."""
    return packet.dst == 0


def sent_by_the_node(packet: Packet) -> tuple[Packet, str]:
    """The packet a socket of the node sends when told the unspecified destination, and the note saying so.

    A packet whose source is given is one from a socket bound to it (an unbound socket's route would have made
    both addresses 127.0.0.1), so its destination is ``send``'s for a bound client: the source itself on IPv4,
    ::1 on IPv6 (bound or not). The note names what an unbound socket (``curl 0.0.0.0:PORT``) sends instead."""
    from kubeproxy_sim.netfilter.trace import packet_head
    from kubeproxy_sim.simulator.network import Client
    from kubeproxy_sim.simulator.send import unspecified_destination

    source = packet.src_text
    connected = unspecified_destination(Client(source, source, "node", bound=True), packet.family)
    sent = dataclasses.replace(packet, dst=parse_address(connected)[1])
    given = "0.0.0.0" if packet.family == 4 else "::"
    how = ("Linux's output route makes it the socket's bound source, else 127.0.0.1" if packet.family == 4
           else "IPv6's connect and send make it ::1, bound or not")
    note = (f"{given} is no host's address (no packet carries it): a socket of the node sending to it sends to the "
            f"node itself, on lo ({how}), so the packet traced is {packet_head(sent)}")
    loop = format_address(packet.family, loopback_source(packet.family))
    if packet.family == 4 and not loopback(4, packet.src):
        unbound = dataclasses.replace(packet, src=loopback_source(4), dst=loopback_source(4))
        example = f" (curl {given}:{packet.dport})" if packet.proto == "tcp" and packet.dport is not None else ""
        note += f"; an unbound socket's{example} is {packet_head(unbound)} (trace --src {loop} --dst {loop})"
    return sent, note


def martian_note(packet: Packet) -> str:
    """For a packet to the unspecified address traced as from elsewhere while the node's addresses are not known:
    the input routing drops it (ip_route_input_slow's martian destination), unless its source is the node's."""
    given = "0.0.0.0" if packet.family == 4 else "::"
    return (f"{given} from elsewhere is dropped by the node's input routing (a martian destination); if "
            f"{packet.src_text} is this node's, give --node-ip {packet.src_text}: a socket of the node sending to "
            f"{given} sends to the node itself, on lo")


def crafted_note(packet: Packet, pod: Pod | None) -> str:
    """For a packet to the unspecified address from a host other than the node: no socket sends one (the host's
    own kernel turns it into its own loopback, as ``send --to 0.0.0.0`` says), so only a crafted packet (a raw
    socket's, a forged frame) reaches the node so; traced as the node takes it."""
    given = "0.0.0.0" if packet.family == 4 else "::"
    who = f"pod {pod.key}" if pod is not None else f"the host at {packet.src_text}"
    return (f"{given} is no host's address (no packet carries it): a socket of {who} sending to it sends to its "
            f"own host, on lo, and reaches no node (as send --to {given} says); only a crafted packet arrives "
            "looking like this one, traced here as the node takes it")


def nodeport_note(ruleset: Ruleset, node: NodeContext, packet: Packet, result: TraceResult) -> str | None:
    """The note for a dump traced without the node's addresses, when the packet would have been a NodePort's:
    addrtype ``--dst-type LOCAL`` was assumed false for its destination (one of the result's doubts), and the
    same packet, its destination taken as the node's, enters the dump's nat KUBE-NODEPORTS at a rule for its
    port. Traced again rather than read off the chain, so the rule's every test (its protocol, ``-d``, a
    ``--dport`` range) is the tracer's; None when the first trace entered that chain already, or this one does
    not."""
    from kubeproxy_sim.netfilter.trace import Tracer

    if packet.dport is None or not any("--dst-type LOCAL" in u.rule for u in result.uncertain):
        return None
    if _nodeport_line(result) is not None or not _nodeports_may_take(ruleset, packet):
        return None
    local = dataclasses.replace(node, addresses=(packet.dst_text,), addresses_known=True)
    line = _nodeport_line(Tracer(ruleset, local, lazy=True).trace(packet))
    if line is None:
        return None
    return (f"{packet.dport}/{packet.proto} is a NodePort here (line {line}); if {packet.dst_text} is this node's, "
            f"give --node-ip {packet.dst_text}")


_PORT_FLAGS = ("--dport", "--dports")
_PORT_PROTOCOLS = frozenset({"tcp", "udp", "sctp", "udplite", "dccp"})


def _nodeports_may_take(ruleset: Ruleset, packet: Packet) -> bool:
    """Whether some rule of the dump's nat KUBE-NODEPORTS may match the packet's protocol and port, before the
    packet is traced again for it (a whole second trace, +0.8 s on a 430,000-line dump with no NodePort): a rule
    is ruled out only by a protocol or destination port test it plainly fails; any other rule may match."""
    table = ruleset.table("nat")
    chain = table.chain("KUBE-NODEPORTS") if table is not None else None
    return chain is not None and any(_may_take(rule, packet) for rule in chain.rules)


def _may_take(rule: Rule, packet: Packet) -> bool:
    from kubeproxy_sim.errors import RulesSyntaxError

    try:
        options = rule.parsed.options
    except RulesSyntaxError:
        return True  # (the tracer says what it makes of it)
    for option in options:
        if option.negated:
            continue
        if option.flag == "-p" and option.value.lower() in _PORT_PROTOCOLS and option.value.lower() != packet.proto:
            return False
        if option.flag in _PORT_FLAGS and not _port_listed(option.value, packet.dport):
            return False
    return True


def _port_listed(value: str, port: int | None) -> bool:
    """Whether ``--dport``'s or ``--dports``' value (``P``, ``A:B``, ``A,B:C``) holds ``port``; True when it
    cannot be read here (a service name): the tracer decides."""
    if port is None:
        return False
    try:
        for item in value.split(","):
            low, colon, high = item.partition(":")
            last = (high or "65535") if colon else low  # (A: is A to 65535, :B 0 to B)
            if int(low or "0") <= port <= int(last):
                return True
    except ValueError:
        return True
    return False


def _nodeport_line(result: TraceResult) -> int | None:
    """The line of the first nat KUBE-NODEPORTS rule an outcome's path matched (None: none did)."""
    for outcome in result.outcomes:
        for step in outcome.path:
            if step.table == "nat" and step.chain == "KUBE-NODEPORTS" and step.line:
                return step.line
    return None


def names_need_objects(name: str) -> UsageError:
    """A ``--dst`` that is no address, given with a dump: a dump holds no Service to read a name by."""
    return UsageError(Diagnostic(f"{name!r} is not an IP address, and a dump holds no Service to read a name by "
                                 "(a Service's name needs objects: -f or --scenario); expected an IPv4 or IPv6 "
                                 "address", field="--dst"))


def service_destination(cluster: Cluster, name: str, packet: Packet) -> tuple[str, str]:
    """(the address, the note) of ``--dst NAME``: the cluster IP of the packet's family of the Service the
    cluster DNS's search path finds for NAME, as ``send`` and ``dist`` read it, for the pod whose address is the
    packet's source (:func:`source_pod`; ``send --from pod/NS/NAME`` looks names up in NS), else for a pod of
    namespace default. A name no Service has, or a Service with no such cluster IP (headless, ExternalName,
    another family's), is an InputError saying which."""
    from kubeproxy_sim.analysis.targets import NAME_NAMESPACE, service_named, unproxied

    family = packet.family
    pod = source_pod(cluster, packet)
    found = service_named(cluster, name, pod.namespace if pod is not None else NAME_NAMESPACE)
    asker = (f"pod {pod.key}, whose address is --src" if pod is not None else
             f"a pod of namespace {NAME_NAMESPACE}, as --src is no pod's")
    if found is None:
        raise InputError(Diagnostic(f"{name!r} is not an IP address, nor a Service's name in the objects (read as "
                                    f"the cluster DNS reads it for {asker}); expected an IPv4 or IPv6 address, or "
                                    f"{NAME_FORMS}", field="--dst"))
    namespace, service_name = found
    svc = next(s for s in cluster.services if s.namespace == namespace and s.name == service_name)
    ips = [ip for ip in svc.cluster_ips if (":" in ip) == (family == 6)]
    if not ips:
        why = unproxied(cluster, family == 6, namespace, service_name)
        raise InputError(Diagnostic(f"{name!r} is the Service {svc.key}, which has no cluster IP to trace to"
                                    f"{': ' + why if why else ''}; expected a Service with an IPv{family} cluster IP, "
                                    "or an address", field="--dst"))
    read = f" (looked up for pod {pod.key}, whose address is --src)" if pod is not None else ""
    return ips[0], f"{name} is the Service {svc.key}{read}: traced to its cluster IP {ips[0]}"
