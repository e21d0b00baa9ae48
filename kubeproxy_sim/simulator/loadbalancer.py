"""The cloud load balancer in front of the nodes, for the LoadBalancer services' ingress IPs.

* It spreads new connections evenly over its backend nodes (every node not
  labelled ``node.kubernetes.io/exclude-from-external-load-balancers``) and
  keeps a connection on the node it chose.
* externalTrafficPolicy Local: it probes every node's healthCheckNodePort,
  answered by kube-proxy's health server (:mod:`.health`), and uses only the
  nodes that answer 200. When no node is healthy it fails open (sends to all),
  as the major clouds do.
* ipMode VIP (the default): the packet reaches the node unchanged (destination
  the ingress IP, source the client), and the node's rules for the ingress IP
  take over. ipMode Proxy: the balancer ends the client's connection and opens
  its own to the node's NodePort, from its own address (the ingress IP): the
  node and the pod see the balancer, never the client.
* loadBalancerSourceRanges: in VIP mode the nodes' KUBE-FW rules drop other
  sources; in Proxy mode the nodes cannot tell, so the balancer drops them itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import netaddr

from kubeproxy_sim.netfilter.packet import host_port
from kubeproxy_sim.objects.model import Cluster, EndpointSlice, Service, ServicePort, ServiceType, TrafficPolicy
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.health import HealthResponse, service_health


@dataclass(frozen=True, slots=True)
class Frontend:
    """One listener of the balancer: an ingress IP and a service port."""

    ip: str
    service: Service
    port: ServicePort
    proxy: bool  # ipMode Proxy

    @property
    def label(self) -> str:
        return f"{self.service.key} {host_port(self.ip, self.port.port)}/{self.port.protocol.value.lower()}"


class LoadBalancer:
    """Every ingress IP of every LoadBalancer service, with its health checks."""

    def __init__(self, cluster: Cluster, configs: Mapping[str, ProxyConfig], nodes: Sequence[str],
                 family: int) -> None:
        self.frontends: dict[tuple[str, str, int], Frontend] = {}
        self.addresses: set[str] = set()
        for svc in cluster.services:
            if svc.type is not ServiceType.LOAD_BALANCER:
                continue
            for ingress in svc.load_balancer_ingress:
                if not ingress.ip or (":" in ingress.ip) != (family == 6):
                    continue
                self.addresses.add(ingress.ip)
                for port in svc.ports:
                    key = (ingress.ip, port.protocol.value.lower(), port.port)
                    self.frontends.setdefault(key, Frontend(ingress.ip, svc, port, ingress.ip_mode == "Proxy"))
        self.nodes = tuple(nodes)
        self.health: dict[tuple[str, str], HealthResponse] = {}  # (service key, node): its answer, once probed
        self.probed = frozenset(f.service.key for f in self.frontends.values()
                                if f.service.external_traffic_policy is TrafficPolicy.LOCAL
                                and f.service.health_check_node_port)
        self._cluster = cluster
        self._configs = configs
        self._slices: dict[str, list[EndpointSlice]] | None = None
        self.flows: dict[tuple, str] = {}

    def pin(self, node: str) -> None:
        """Send every new connection to ``node`` and probe no health: a stage with no balancer in front of its
        nodes, where traffic for an ingress IP enters the first node (netns, kernel.differential)."""
        self.nodes = (node,)
        self.health = {}
        self.probed = frozenset()

    def frontend(self, ip: str, proto: str, port: int) -> Frontend | None:
        return self.frontends.get((ip, proto, port))

    def backends(self, service: Service) -> tuple[str, ...]:
        """The nodes new connections of the service go to."""
        if service.key not in self.probed:
            return self.nodes
        healthy = tuple(n for n in self.nodes if self.probe(service, n).healthy)
        return healthy or self.nodes

    def probe(self, service: Service, node: str) -> HealthResponse:
        """The node's answer to the balancer's health check of ``service``, worked out the first time a connection
        of the service needs it: building the balancer probes nothing, so a flow that never meets a load
        balancer costs no health check of every service on every node (pure: asking later changes no answer)."""
        key = (service.key, node)
        found = self.health.get(key)
        if found is None:
            found = self.health[key] = service_health(self._cluster, self._configs[node], service,
                                                      slices=self._grouped().get(service.key, ()))
        return found

    def _grouped(self) -> dict[str, list[EndpointSlice]]:
        """The probed services' EndpointSlices, grouped in one pass over them all (not one scan per service)."""
        if self._slices is None:
            self._slices = {key: [] for key in self.probed}
            for one in self._cluster.endpoint_slices:
                if (group := self._slices.get(one.service_key)) is not None:
                    group.append(one)
        return self._slices

    def weights(self, service: Service) -> dict[str, float]:
        nodes = self.backends(service)
        return {n: 1 / len(nodes) for n in nodes} if nodes else {}

    def choose(self, flow: tuple, service: Service, rng: random.Random) -> str | None:
        """The node of a connection: the one chosen at its first packet."""
        node = self.flows.get(flow)
        if node is None:
            nodes = self.backends(service)
            if not nodes:
                return None
            node = self.flows[flow] = nodes[rng.randrange(len(nodes))]
        return node

    @staticmethod
    def source_allowed(service: Service, source: str) -> bool:
        """loadBalancerSourceRanges (empty: everyone)."""
        ranges = service.load_balancer_source_ranges
        if not ranges:
            return True
        address = netaddr.IPAddress(source)
        return any(address in netaddr.IPNetwork(r) for r in ranges if (":" in r) == (address.version == 6))
