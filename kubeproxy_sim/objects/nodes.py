"""The nodes of a cluster and their addresses, as every cluster-wide view sees them.

The simulator, the kernel backend and the analysis all build one node per name
the objects mention; they must agree on the names, their order and the
addresses, or their answers could not be compared. Nodes whose objects give no
address get one from a benchmarking range (RFC 2544), never a real host.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import netaddr

from kubeproxy_sim.objects.addr import ipv6_text
from kubeproxy_sim.objects.model import Cluster, Node
from kubeproxy_sim.objects.netaddr_safe import netaddr_address

SYNTH_NODE_NETS = {4: netaddr.IPNetwork("198.18.0.0/24"), 6: netaddr.IPNetwork("fd00:198:18::/64")}
EXCLUDE_FROM_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def load_balancer_backends(cluster: Cluster, names: Iterable[str]) -> tuple[str, ...]:
    """The nodes of ``names`` a cloud load balancer may send to: all but those labelled to be excluded.

    The simulator's balancer and ``dist``'s exact views both ask this, so that they pick the same nodes.
    """
    excluded = {n.name for n in cluster.nodes if n.label(EXCLUDE_FROM_LB_LABEL) is not None}
    return tuple(n for n in names if n not in excluded)


def node_names(cluster: Cluster, primary: str) -> list[str]:
    """The primary node first, then every node an object names (Node, endpoint nodeName, pod), sorted."""
    names = {n.name for n in cluster.nodes}
    names |= {e.node_name for s in cluster.endpoint_slices for e in s.endpoints if e.node_name}
    names |= {p.node_name for p in cluster.pods if p.node_name}
    names.discard(primary)
    return [primary, *sorted(names)]


def family_of(address: str) -> int:
    return 6 if ":" in address else 4


def of_family(addresses: Iterable[str], family: int) -> list[str]:
    """The addresses of one family, without prefix lengths, in canonical form (the loader's, Go's text: netaddr
    writes ``::1.2.3.4`` where Go writes ``::102:304``); text that is no address is skipped, as kube-proxy skips
    a node address it cannot parse (a decoded Node holds none).

    netaddr is read through objects.netaddr_safe, given the family: without it every IPv6 text leaves a reference
    cycle, which outlives a build with the collector paused (objects.bulk).
    """
    parsed = (netaddr_address(a.split("/")[0], family) for a in addresses if family_of(a) == family)
    return [str(ip) if family == 4 else ipv6_text(ip.packed) for ip in parsed if ip is not None]


def node_object_addresses(node: Node | None, family: int) -> list[str]:
    """A Node object's addresses of one family: InternalIP first, then ExternalIP (kube-proxy's order)."""
    return of_family(node.ips, family) if node is not None else []


def used_addresses(cluster: Cluster, extra: Iterable[str] = ()) -> set[str]:
    """Every address the objects already give a node, an endpoint or a pod (plus ``extra``)."""
    taken = {a.split("/")[0] for a in extra}
    taken |= {a.address for n in cluster.nodes for a in n.addresses}
    taken |= {a for s in cluster.endpoint_slices for e in s.endpoints for a in e.addresses}
    taken |= {a for p in cluster.pods for a in p.pod_ips}
    return taken


def synthesised_node_addresses(taken: set[str], family: int) -> Iterator[str]:
    """Free addresses for nodes the objects give none, from .10 of the benchmarking range on."""
    for ip in SYNTH_NODE_NETS[family].iter_hosts():
        if str(ip) not in taken and int(ip) & 0xFF >= 10:
            yield str(ip)
