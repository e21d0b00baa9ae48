"""What ``trace`` makes of a packet as a user writes it, where the written packet is not the one the node sees
or the dump alone cannot tell the answer.

- ``--dst 0.0.0.0`` (``::``): no packet carries the unspecified address. A socket of the node told to send there
  sends to the node itself, on lo (the rule is ``send``'s:
  :func:`kubeproxy_sim.simulator.send.unspecified_destination`); a packet from elsewhere with that destination
  is dropped by the input routing as a martian (the tracer's own routing step says so), which a note recalls
  when the node's addresses are not known.
- A dump traced without ``--node-ip``: addrtype ``--dst-type LOCAL`` is assumed false, so a packet to a NodePort
  of the node reads ``ACCEPT``; when the dump does serve that port, a note says so and what to give.
- ``--dst NAME``: a Service's name, read as ``send`` and ``dist`` read it (:func:`kubeproxy_sim.analysis.targets.
  service_named`), traced to its cluster IP of the packet's family.

Pure: the notes are returned, the callers print them.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError
from kubeproxy_sim.netfilter.packet import format_address, loopback, parse_address

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.model import Ruleset
    from kubeproxy_sim.netfilter.packet import Packet
    from kubeproxy_sim.netfilter.trace import NodeContext, TraceResult
    from kubeproxy_sim.objects.model import Cluster

NAME_FORMS = "NAME, NAME.NS or NAME.NS.svc.cluster.local"
"""The Service names ``--dst`` reads, as the cluster DNS answers them for a pod of namespace default."""


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
    loop = format_address(packet.family, 0x7F000001 if packet.family == 4 else 1)
    if packet.family == 4 and not loopback(4, packet.src):
        unbound = dataclasses.replace(packet, src=0x7F000001, dst=0x7F000001)
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
    if _nodeport_line(result) is not None:
        return None
    local = dataclasses.replace(node, addresses=(packet.dst_text,), addresses_known=True)
    line = _nodeport_line(Tracer(ruleset, local, lazy=True).trace(packet))
    if line is None:
        return None
    return (f"{packet.dport}/{packet.proto} is a NodePort here (line {line}); if {packet.dst_text} is this node's, "
            f"give --node-ip {packet.dst_text}")


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


def service_destination(cluster: Cluster, name: str, family: int) -> tuple[str, str]:
    """(the address, the note) of ``--dst NAME``: the cluster IP of the packet's family of the Service the
    cluster DNS's search path for a pod of namespace default finds for NAME, as ``send`` and ``dist`` read it.
    A name no Service has, or a Service with no such cluster IP (headless, ExternalName, another family's), is
    an InputError saying which."""
    from kubeproxy_sim.analysis.targets import NAME_NAMESPACE, service_named, unproxied

    found = service_named(cluster, name)
    if found is None:
        raise InputError(Diagnostic(f"{name!r} is not an IP address, nor a Service's name in the objects (read as "
                                    f"the cluster DNS reads it for a pod of namespace {NAME_NAMESPACE}); expected "
                                    f"an IPv4 or IPv6 address, or {NAME_FORMS}", field="--dst"))
    namespace, service_name = found
    svc = next(s for s in cluster.services if s.namespace == namespace and s.name == service_name)
    ips = [ip for ip in svc.cluster_ips if (":" in ip) == (family == 6)]
    if not ips:
        why = unproxied(cluster, family == 6, namespace, service_name)
        raise InputError(Diagnostic(f"{name!r} is the Service {svc.key}, which has no cluster IP to trace to"
                                    f"{': ' + why if why else ''}; expected a Service with an IPv{family} cluster IP, "
                                    "or an address", field="--dst"))
    return ips[0], f"{name} is the Service {svc.key}: traced to its cluster IP {ips[0]}"
