"""Which UDP conntrack entries kube-proxy deletes after an endpoints change.

UDP has no connection teardown: a conntrack entry DNATed to an endpoint that
is gone would keep sending a client's datagrams into the void for as long as
the client keeps talking. kube-proxy (the pinned commit's
``conntrack.CleanStaleEntries``) reconciles, after a sync in which the slices
of some service with a UDP port changed (upstream's ConntrackCleanupRequired:
the endpoints change tracker reports a Service whenever one of its slices of
the proxier's family changed, and the flag is set when that Service has a UDP
port with endpoints before or after, even when only its TCP slices changed;
a Service-only change never sets it). It then goes over every UDP service,
not only the changed ones:

* for every UDP service port with at least one *serving* endpoint, the set of
  their IPs (not IP:port: a changed targetPort keeps the entries);
* an entry whose original destination is one of the port's addresses (cluster
  IP, load-balancer IPs, external IPs, with the port) and whose reply source
  is not in that set is deleted; so is one whose original destination port is
  the service's NodePort (any address);
* a service without serving endpoints is left alone: its entries stay.

TCP entries are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.objects.model import Cluster, Protocol
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.state import all_service_ports, endpoints_map
from kubeproxy_sim.proxier.views import slice_changed_services


@dataclass(frozen=True, slots=True)
class UdpCleanup:
    """Serving endpoint IPs (as integers) by (service address, port), and by NodePort."""

    by_address: dict[tuple[int, int], frozenset[int]]
    by_node_port: dict[int, frozenset[int]]

    def doomed(self, orig_dst: int, orig_port: int, reply_src: int) -> bool:
        """Whether kube-proxy deletes a UDP entry with this original destination and reply source."""
        serving = self.by_address.get((orig_dst, orig_port))
        if serving is not None and reply_src not in serving:
            return True
        serving = self.by_node_port.get(orig_port)
        return serving is not None and reply_src not in serving


def udp_cleanup(old: Cluster, new: Cluster, config: ProxyConfig) -> UdpCleanup | None:
    """What one node's kube-proxy clears after going from ``old`` to ``new``; None when nothing runs (no
    service with a UDP port had a slice change: upstream's ConntrackCleanupRequired is false)."""
    before = endpoints_map(old.endpoint_slices, config)
    after = endpoints_map(new.endpoint_slices, config)
    changed = slice_changed_services(old.endpoint_slices, new.endpoint_slices, config.ipv6)
    if not any(key[3] is Protocol.UDP and f"{key[0]}/{key[1]}" in changed for key in {*before, *after}):
        return None
    by_address: dict[tuple[int, int], frozenset[int]] = {}
    by_node_port: dict[int, frozenset[int]] = {}
    for info in all_service_ports(new, config):
        if info.protocol is not Protocol.UDP:
            continue
        serving = frozenset(parse_address(e.ip)[1] for e in after.get(info.key, ()) if e.serving)
        if not serving:
            continue  # a service without serving endpoints needs no cleanup
        for ip in (info.cluster_ip, *info.load_balancer_vips, *info.external_ips):
            by_address[(parse_address(ip)[1], info.port)] = serving
        if info.node_port:
            by_node_port[info.node_port] = serving
    return UdpCleanup(by_address, by_node_port)
