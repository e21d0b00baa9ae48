"""A ping through the simulated cluster: what the destination address is, and why it answers or not.

kube-proxy in iptables mode writes its Service rules per port and protocol (``-p tcp --dport 80``, UDP, SCTP):
an ICMP echo request meets none of them, so it goes where the routes take its destination untranslated. A
Service's cluster IP is on no interface of any node (iptables mode puts it nowhere; IPVS mode binds it to
kube-ipvs0, which is why a ping to it answers there), so the echo request follows the node's default route out
to a network that has no route to it either; an externalIP is routed to a node, which holds it on no interface
and routes it back out; a LoadBalancer ingress IP belongs to the balancer, which forwards its Services' ports
only. A pod's, a node's or an outside host's address is on an interface, and that host's kernel answers the echo
itself (icmp_echo: no socket has to listen). A NodePort is a port: a ping to its node is the node's own answer.

The walk itself is the simulator's (:mod:`.network`): the echo request out, through every node's conntrack and
rules, the echo reply back by the reply path. This module names the destination (:func:`ping_target`) and says
why for the rows (:func:`ping_why`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeproxy_sim.netfilter.packet import loopback, parse_address

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubeproxy_sim.objects.model import Service
    from kubeproxy_sim.simulator.network import Simulator
    from kubeproxy_sim.simulator.send import Failed, SendResult

KINDS = ("loopback", "pod", "node", "cluster-ip", "external-ip", "load-balancer-ip", "outside-host", "pod-subnet",
         "nobody")
"""What a pinged address can be (:attr:`PingTarget.kind`, ``ping.kind`` in ``send -o json``)."""


@dataclass(frozen=True, slots=True)
class PingTarget:
    """The pinged address and what holds it: ``kind`` (one of :data:`KINDS`), ``owner`` (the pod's NS/NAME, the
    node's name, the Service's NS/NAME for its cluster, external or LoadBalancer IP, the outside host's name;
    None for the rest), ``said`` (the words of the text output's head) and ``note`` (why it answers or not)."""

    address: str
    kind: str | None  # (None: netns send's, where its state record does not say)
    owner: str | None
    said: str
    note: str
    resolved: tuple[str, ...] = ()
    """Every address the destination's name resolved to, ``address`` (the one pinged) first ((): an address given);
    not in the JSON, whose ``ping`` is the pinged address's (README), each row saying its own (:func:`ping_why`)."""

    def as_json(self) -> dict[str, object]:
        return {"address": self.address, "kind": self.kind, "owner": self.owner, "note": self.note}


PER_PORT = ("kube-proxy's iptables rules for it are per port and protocol (-p tcp/udp/sctp --dport), so the echo "
            "request meets none of them and is not translated")
"""What every Service address's note begins its reason with."""


REACHED = "wherever the routes and the nodes' rules let the echo through"
"""The hedge of a note saying a host answers: the routes may not reach it (from outside, a pod's address or a node's
pod bridge address), and a rule may stop the echo on the way (:func:`_rule_said`)."""


def _ports(svc: Service) -> str:
    return ", ".join(f"{p.port}/{p.protocol.value}" for p in svc.ports) or "none"


def _service_with(sim: Simulator, address: str, field: str) -> Service | None:
    """The Service whose ``field`` (its cluster IPs, external IPs or LoadBalancer ingress IPs) holds ``address``."""
    for svc in sim.cluster.services:
        held = [i.ip for i in svc.load_balancer_ingress] if field == "lb" else getattr(svc, field)
        if address in held:
            return svc
    return None


def ping_target(sim: Simulator, address: str) -> PingTarget:
    """What ``address`` (canonical text, of the simulated family) is to a ping, and why that answers or not."""
    family, value = parse_address(address)
    if loopback(family, value):
        return PingTarget(address, "loopback", None, f"a loopback address ({address})",
                          "a loopback address never leaves the client's own host, whose kernel answers the echo")
    pod = sim.pod_at.get(value)
    if pod is not None:
        # (an endpoint no Pod object has is named as send's rows name it, by its key: its targetRef's Pod, or
        # NS/ep-ADDRESS)
        who, what = (f"pod {pod.key}", "") if pod.pod_object else \
            (f"endpoint {pod.key}", " (an EndpointSlice's, no Pod object read)")
        return PingTarget(address, "pod", pod.key, f"{who}'s address {address}",
                          f"{address} is {who}'s own address{what}: the pod's kernel answers the echo request "
                          f"itself (no container has to listen), {REACHED}")
    node = sim.host_node(value)
    if node is not None:
        return PingTarget(address, "node", node, f"node {node}'s address {address}",
                          f"{address} is node {node}'s own address: its kernel answers the echo request itself, "
                          f"{REACHED}; a NodePort is a port, which a ping has none of, so the Service plays no part")
    svc = _service_with(sim, address, "cluster_ips")
    if svc is not None:
        named = sim.external_at.get(value)
        return PingTarget(address, "cluster-ip", svc.key, f"Service {svc.key}'s cluster IP {address}",
                          f"{address} is Service {svc.key}'s cluster IP (ports {_ports(svc)}): {PER_PORT}; the "
                          "address is on no interface of any node (iptables mode puts it nowhere, IPVS mode on "
                          "kube-ipvs0), so the node routes the echo request by its default route, out to a network "
                          + ("that has no route to it either" if named is None else
                             f"where --hosts puts an outside host at it ({address} {named}), whose kernel answers "
                             "the echo request: the Service's cluster IP range overlaps that network's"))
    svc = _service_with(sim, address, "external_ips")
    if svc is not None:
        return PingTarget(address, "external-ip", svc.key, f"an externalIP of Service {svc.key} ({address})",
                          f"{address} is an externalIP of Service {svc.key} (ports {_ports(svc)}): {PER_PORT}; the "
                          "network routes it to a node, which holds it on no interface and routes it back out")
    svc = _service_with(sim, address, "lb")
    if svc is not None:
        return PingTarget(address, "load-balancer-ip", svc.key,
                          f"Service {svc.key}'s LoadBalancer ingress IP {address}",
                          f"{address} is Service {svc.key}'s LoadBalancer ingress IP (ports {_ports(svc)}): the load "
                          f"balancer forwards those ports only, and {PER_PORT}; nothing answers the echo there")
    if sim.outside_host(value):
        name = sim.external_at.get(value)
        return PingTarget(address, "outside-host", name, f"the outside host {name or address}",
                          f"{address} is an outside host's address: its kernel answers the echo request")
    if sim.in_pod_subnet(value):
        return PingTarget(address, "pod-subnet", None, f"{address}, in a pod subnet but no pod's",
                          f"{address} is in a node's pod subnet, and no pod has it: nobody answers the node's ARP, "
                          "and the node answers the echo request with ICMP host unreachable once it gives up")
    return PingTarget(address, "nobody", None, f"{address}, nobody's",
                      f"{address} is no pod's, node's, Service's or outside host's address: nobody answers")


def ping_why(sim: Simulator, result: SendResult) -> SendResult:
    """``result`` (a ping's) with its destination's note on each row, answered or not: why it is so. A row's notes
    are those of the addresses its pings went to (its ``addresses``; a row no ping reached, its own address): a
    name of several addresses (a headless Service, ``--hosts``) has the run ping the one its lookup gave, and a
    row no ping reached, the expected one of another pod, names that pod."""
    if result.ping is None:
        return result
    first = result.ping.note
    notes: dict[str, str] = {result.ping.address: first}

    def note(address: str) -> str:
        if address not in notes:
            notes[address] = ping_target(sim, address).note
        return notes[address]

    def why(addresses: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(note(a) for a in addresses)) or (first,)

    return dataclasses.replace(
        result, delivered=tuple(dataclasses.replace(d, why=why(d.addresses or [d.ip] * bool(d.ip)))
                                for d in result.delivered),
        failed=tuple(dataclasses.replace(f, why=_rule_said(f) + why(f.addresses)) for f in result.failed))


def _rule_said(row: Failed) -> tuple[str, ...]:
    """A row a node's rule decided (its request's ``decided_by``, its reply's ``lost.dropped``), said first: the
    address's note says who would answer, and the rule is why that answer did not come. From the row's facts, not
    its detail's words."""
    lost = row.lost.dropped if row.lost is not None else None
    decided, what = (row.decided_by, "echo request") if row.decided_by is not None else (lost, "echo reply")
    if decided is None or decided.step is None:
        return ()
    step = decided.step
    return (f"node {decided.node}'s rule in its {step.table} table's {step.chain} chain ({step.rule}) stopped the "
            f"{what}, so no answer reached the client",)
