"""Hypothesis strategies for sequences of cluster states and node configs, wider than test_partial_property's own:
either family (dual-stack Services, slices of both families), zone and node hints with the node's zone changing
between syncs, slices that move to another Service of their namespace, --masquerade-all, and syncs an hour apart.
A sequence is replayed with :func:`replay`, as ``kubeproxy-sim replay`` syncs its states."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    LoadBalancerIngress,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from kubeproxy_sim.proxier.config import IPFamily, ProxyConfig
from kubeproxy_sim.proxier.partial import Step, SyncState, changed_services, sync_and_apply

NODE = "n1"
ZONE_LABEL = "topology.kubernetes.io/zone"
NAMES = (("ns1", "a"), ("ns1", "b"), ("ns2", "a"))
PORTS = (("p80", 80), ("p81", 81))


@dataclass(frozen=True, slots=True)
class StateSequence:
    """A proxier's family and --masquerade-all, and the states it syncs: (objects, node zone, seconds since the
    previous sync)."""

    config: ProxyConfig
    states: tuple[tuple[Cluster, str | None, float], ...]


def _addresses(v6: bool) -> tuple[str, ...]:
    return tuple(f"fd00:10::{a}{b}" if v6 else f"10.0.{a}.{b}" for a in range(2) for b in range(1, 4))


@st.composite
def services(draw: st.DrawFn, index: int, ns: str, name: str) -> Service:
    kind = draw(st.sampled_from([ServiceType.CLUSTER_IP, ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER]))
    protocols = (Protocol.TCP, draw(st.sampled_from([Protocol.TCP, Protocol.UDP])))  # p81's slice ports miss UDP
    ports = tuple(ServicePort(pn, protocols[k], number, number,
                              node_port=30000 + 10 * index + k if kind is not ServiceType.CLUSTER_IP else 0)
                  for k, (pn, number) in enumerate(PORTS[:draw(st.integers(1, 2))]))
    v4, v6 = f"172.30.0.{10 + index}", f"fd00:30::{10 + index}"
    lb = kind is ServiceType.LOAD_BALANCER
    return Service(
        ns, name, type=kind, cluster_ips=draw(st.sampled_from([(v4, v6), (v6, v4), (v4,), (v6,)])), ports=ports,
        external_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        internal_traffic_policy=draw(st.sampled_from(list(TrafficPolicy))),
        load_balancer_ingress=tuple(LoadBalancerIngress(ip=ip) for ip in draw(st.sampled_from(
            [(f"1.2.3.{index + 1}",), (f"2001:db8:9::{index + 1}",)]))) if lb else (),
        load_balancer_source_ranges=draw(st.sampled_from([(), ("203.0.113.0/25",), ("2001:db8:7::/64",)]))
        if lb else (),
        health_check_node_port=32000 + index if lb else 0,
        session_affinity=draw(st.sampled_from(list(SessionAffinity))),
    )


# what the EndpointSlice controller writes: ready (mostly), not ready, terminating and still serving or not
CONDITIONS = (EndpointConditions(), EndpointConditions(True, True, False), EndpointConditions(False, False, False),
              EndpointConditions(False, True, True), EndpointConditions(False, False, True))


def endpoints(v6: bool) -> st.SearchStrategy[Endpoint]:
    return st.builds(
        lambda ip, conditions, node, zone, zones, nodes: Endpoint(
            (ip,), conditions, node_name=node, zone=zone, hints_for_zones=zones, hints_for_nodes=nodes),
        st.sampled_from(_addresses(v6)), st.sampled_from(CONDITIONS), st.sampled_from([NODE, "n2", None]),
        st.sampled_from(["z1", "z2", None]), st.sampled_from([None, ("z1",), ("z2",), ("z1", "z2")]),
        st.sampled_from([None, (NODE,), ("n2",)]))


@st.composite
def slices(draw: st.DrawFn, ns: str, name: str, ipv6: bool) -> list[EndpointSlice]:
    """0-2 slices named after ``name``, most of them its own, some another Service's of the namespace (a slice
    that moved there), most of the proxier's family (``ipv6``)."""
    owners = [other for space, other in NAMES if space == ns]
    result = []
    for n in range(draw(st.integers(0, 2))):
        v6 = draw(st.sampled_from([ipv6, ipv6, ipv6, not ipv6]))
        ports = tuple(EndpointPort(pn, number, Protocol.TCP) for pn, number in PORTS[:draw(st.integers(1, 2))])
        result.append(EndpointSlice(ns, f"{name}-{n}", draw(st.sampled_from([name, name, *owners])),
                                    AddressType.IPV6 if v6 else AddressType.IPV4,
                                    endpoints=tuple(draw(st.lists(endpoints(v6), max_size=3))), ports=ports))
    return result


@st.composite
def clusters(draw: st.DrawFn, ipv6: bool) -> Cluster:
    svcs, eps = [], []
    for index, (ns, name) in enumerate(NAMES):
        if draw(st.integers(0, 4)):
            svcs.append(draw(services(index, ns, name)))
        eps.extend(draw(slices(ns, name, ipv6)))
    return Cluster(tuple(svcs), tuple(eps))


@st.composite
def sequences(draw: st.DrawFn, nfacct: bool = True) -> StateSequence:
    config = ProxyConfig(node_name=NODE, ip_family=draw(st.sampled_from(list(IPFamily))),
                         node_ips=("192.168.0.2/24", "2001:db8::1/64"), cluster_cidrs=("10.0.0.0/8", "fd00:10::/64"),
                         masquerade_all=draw(st.booleans()), random_fully=False, nfacct=nfacct)
    states, objects, zone = [], Cluster(), draw(st.sampled_from(["z1", "z2", None]))
    for _ in range(draw(st.integers(1, 5))):
        objects = draw(st.one_of(mixed(objects, config.ipv6), clusters(config.ipv6), st.just(objects)))
        # a new zone, or an hour's gap (the sync period), makes the sync full: each comes in about 1 of 8 syncs,
        # so that most syncs are partial ones, which skip the chains of the services that did not change
        if draw(st.integers(0, 7)) == 0:
            zone = draw(st.sampled_from(["z1", "z2", None]))
        states.append((objects, zone, 4000.0 if draw(st.integers(0, 7)) == 0 else 1.0))
    return StateSequence(config, tuple(states))


@st.composite
def mixed(draw: st.DrawFn, previous: Cluster, ipv6: bool) -> Cluster:
    """Each Service and slice of ``previous`` kept or replaced by a new state's: most of a cluster stays as it was
    from one sync to the next, which is what a partial sync must leave alone."""
    fresh = draw(clusters(ipv6))
    names = [f"{ns}/{name}" for ns, name in NAMES]
    services = {name for name in names if draw(st.booleans())}  # whose Service stays
    slices = {name for name in names if draw(st.booleans())}  # whose slices (by their name) stay

    def named(es: EndpointSlice) -> str:
        return es.key.rsplit("-", 1)[0]

    return Cluster(tuple([*(s for s in previous.services if s.key in services),
                          *(s for s in fresh.services if s.key not in services)]),
                   tuple([*(s for s in previous.endpoint_slices if named(s) in slices),
                          *(s for s in fresh.endpoint_slices if named(s) not in slices)]))


def config_at(config: ProxyConfig, zone: str | None) -> ProxyConfig:
    """The node's config with its Node's zone label."""
    return replace(config, node_labels=((ZONE_LABEL, zone),) if zone else ())


def replay(config: ProxyConfig, states: Sequence[tuple[Cluster, str | None, float]]) -> Iterator[Step]:
    """Each state's sync, applied to the node before the next, as ``replay`` runs them."""
    node, state, previous, now = Ruleset(), SyncState(), Cluster(), 0.0
    for objects, zone, seconds in states:
        now += seconds
        step = sync_and_apply(node, state, objects, config_at(config, zone),
                              changed_services(previous, objects, config.ipv6), now)
        yield step
        node, state, previous = step.node, step.state, objects
