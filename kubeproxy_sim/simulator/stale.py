"""Which UDP conntrack entries kube-proxy deletes after an endpoints change.

UDP has no connection teardown: a conntrack entry DNATed to an endpoint that
is gone would keep sending a client's datagrams into the void for as long as
the client keeps talking. So on every sync kube-proxy deletes, for UDP
service ports only:

* entries DNATed to an endpoint that was serving and no longer is (removed,
  or no longer serving);
* entries to the service's addresses (cluster IP, external IPs, load-balancer
  IPs, NodePorts) when the service goes from no serving endpoint to some: while
  it had none, its packets were rejected and the entries would keep that so.

TCP entries are never touched.
"""

from __future__ import annotations

from kubeproxy_sim.objects.model import Cluster, Protocol
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.state import EndpointInfo, PortKey, all_service_ports, endpoints_map

Endpoint = tuple[str, int]


def _serving(eps: tuple[EndpointInfo, ...]) -> set[tuple[str, int]]:
    return {(e.ip, e.port) for e in eps if e.serving}


def stale_udp(old: Cluster, new: Cluster, config: ProxyConfig) -> tuple[set[Endpoint], set[Endpoint]]:
    """(endpoints whose entries go, service destinations whose entries go) for one node's proxier."""
    before = endpoints_map(old.endpoint_slices, config)
    after = endpoints_map(new.endpoint_slices, config)
    gone: set[Endpoint] = set()
    woke: set[PortKey] = set()
    for key in set(before) | set(after):
        if key[3] is not Protocol.UDP:
            continue
        was, now = _serving(before.get(key, ())), _serving(after.get(key, ()))
        gone |= was - now
        if now and not was:
            woke.add(key)
    destinations: set[Endpoint] = set()
    node_ips = [ip.split("/")[0] for ip in config.node_ips]
    for info in all_service_ports(new, config):
        if info.key not in woke:
            continue
        for ip in (info.cluster_ip, *info.external_ips, *info.load_balancer_vips):
            destinations.add((ip, info.port))
        if info.node_port:
            destinations.update((ip, info.node_port) for ip in node_ips)
    return gone, destinations
