"""Terse constructors for the objects upstream's proxier tests build (makeTestService etc.)."""

from __future__ import annotations

from collections.abc import Iterable

from kubeproxy_sim.objects.decode import read_source_range
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
)
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.state import all_service_ports

TEST_NODE = "test-node"
FAKE_NODE_IPS = ("192.168.0.2/24", "192.168.1.2/24", "192.168.99.11/24", "2001:db8::1/64", "2001:db8:1::2/64")


def fake_config(**overrides) -> ProxyConfig:
    """upstream's NewFakeProxier: node test-node, its interface addresses, pod CIDR 10.0.0.0/8,
    nfacct counters present, no --random-fully (the fake iptables lacks it)."""
    values = {
        "node_name": TEST_NODE,
        "node_ips": FAKE_NODE_IPS,
        "cluster_cidrs": ("10.0.0.0/8", "fd00:10::/64"),
        "random_fully": False,
    }
    values.update(overrides)
    return ProxyConfig(**values)


def port(name: str = "p80", number: int = 80, protocol: Protocol = Protocol.TCP, node_port: int = 0,
         target: int | str = 0) -> ServicePort:
    return ServicePort(name, protocol, number, target or number, node_port)


def service(ns: str, name: str, ip: str | tuple[str, ...], *ports: ServicePort, **kw) -> Service:
    ips = (ip,) if isinstance(ip, str) else ip
    lb = kw.pop("lb", ())
    kw.setdefault("ports", ports or (port(),))
    # the API's text, as upstream's tests give it (" 203.0.113.0/25"), read as the loader reads it
    ranges = (read_source_range(text) for text in kw.pop("load_balancer_source_ranges", ()))
    kw["load_balancer_source_ranges"] = tuple(cidr.text for cidr in ranges if cidr is not None)
    return Service(ns, name, cluster_ips=ips,
                   load_balancer_ingress=tuple(LoadBalancerIngress(ip=i) if isinstance(i, str) else i for i in lb),
                   **kw)


def lb_service(ns: str, name: str, ip: str, *ports: ServicePort, **kw) -> Service:
    return service(ns, name, ip, *ports, type=ServiceType.LOAD_BALANCER, **kw)


def ep(address: str, node: str | None = None, ready: bool | None = None, serving: bool | None = None,
       terminating: bool | None = None, zones: tuple[str, ...] | None = None,
       nodes: tuple[str, ...] | None = None) -> Endpoint:
    return Endpoint((address,), EndpointConditions(ready, serving, terminating), node_name=node,
                    hints_for_zones=zones, hints_for_nodes=nodes)


def eps(ns: str, svc: str, *endpoints: Endpoint, ports: tuple[EndpointPort, ...] = (), slice_num: int = 1,
        ipv6: bool = False) -> EndpointSlice:
    return EndpointSlice(ns, f"{svc}-{slice_num}", svc, AddressType.IPV6 if ipv6 else AddressType.IPV4,
                         endpoints=endpoints, ports=ports or (EndpointPort("p80", 80, Protocol.TCP),))


def cluster(*objects) -> Cluster:
    return Cluster(tuple(o for o in objects if isinstance(o, Service)),
                   tuple(o for o in objects if isinstance(o, EndpointSlice)))


def service_map(services: Iterable[Service]) -> tuple[int, dict[str, int]]:
    """(service ports, health check node port by "namespace/name") of the fake proxier's services: the length of
    upstream's svcPortMap and its HealthCheckNodePorts()."""
    infos = all_service_ports(cluster(*services), fake_config())
    return len(infos), {f"{i.namespace}/{i.name}": i.health_check_node_port for i in infos if i.health_check_node_port}
