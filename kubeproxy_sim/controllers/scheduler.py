"""Placing pods on nodes and giving them addresses, the way a plain cluster does.

The scheduler model spreads pods: the ready node with the fewest pods wins,
ties broken by name, so a run is reproducible. Addresses come from the node's
pod CIDR like the host-local IPAM plugin hands them out: the network address
and the gateway (the first host, the bridge) are never used, nor IPv4's
broadcast address, and each new pod gets the next free address after the last
one handed out, wrapping around, so a freed address is not reused at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import netaddr

from kubeproxy_sim.controllers.model import SimPod, World
from kubeproxy_sim.objects.model import Node


def schedulable_nodes(world: World) -> tuple[Node, ...]:
    """Ready nodes that have a pod CIDR to give addresses from."""
    return tuple(n for n in world.nodes if n.name not in world.not_ready_nodes and n.pod_cidrs)


def pick_node(world: World) -> Node | None:
    """The node with the fewest pods (terminating ones still occupy it), then the first by name."""
    nodes = schedulable_nodes(world)
    if not nodes:
        return None
    load = Counter(p.node_name for p in world.pods if p.node_name)
    return min(nodes, key=lambda n: (load[n.name], n.name))


def _usable(network: netaddr.IPNetwork, address: netaddr.IPAddress) -> bool:
    if address == network.network or address == network.network + 1:
        return False
    return not (network.version == 4 and network.prefixlen < 31 and address == network.broadcast)


def next_address(cidr: str, last: str | None, in_use: frozenset[str]) -> str | None:
    """The first usable free address after ``last`` (round robin); None when the range is full."""
    network = netaddr.IPNetwork(cidr)
    size = network.size
    start = int(netaddr.IPAddress(last)) - int(network.network) + 1 if last else 2
    limit = min(size, 1 << 16)  # a scan bound: a /64 is never exhausted by a simulated cluster
    for step in range(limit):
        offset = (start + step) % size
        address = netaddr.IPAddress(int(network.network) + offset, network.version)
        text = str(address)
        if _usable(network, address) and text not in in_use:
            return text
    return None


def place(world: World, pod: SimPod) -> tuple[World, SimPod]:
    """Bind an unscheduled pod to a node and give it one address per pod CIDR; unchanged if none fits."""
    if pod.host_network or pod.node_name is not None:
        return world, pod
    node = pick_node(world)
    if node is None:
        return world, pod
    in_use = frozenset(ip for p in world.pods for ip in p.pod_ips)
    last = dict(world.last_ips)
    addresses = []
    for cidr in node.pod_cidrs:
        address = next_address(cidr, last.get(cidr), in_use)
        if address is None:
            return world, pod
        addresses.append(address)
        last[cidr] = address
    placed = replace(pod, node_name=node.name, pod_ips=tuple(addresses))
    return replace(world, last_ips=tuple(sorted(last.items()))), placed
