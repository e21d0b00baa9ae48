"""The API server's allocators for what ``kubectl expose`` leaves out: cluster IPs and node ports.

Both draw from the injected generator, as the real allocators pick at random;
the first host of the service range is left for the ``kubernetes`` Service.
The default ranges are kubeadm's IPv4 one and, as kubeadm has no IPv6 default,
kind's IPv6 one.
"""

from __future__ import annotations

import random
from collections.abc import Collection

import netaddr

from kubeproxy_sim.objects.model import IPFamily

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_SERVICE_CIDR_V6 = "fd00:10:96::/112"
DEFAULT_SERVICE_CIDRS = {IPFamily.IPV4: DEFAULT_SERVICE_CIDR, IPFamily.IPV6: DEFAULT_SERVICE_CIDR_V6}
NODE_PORT_RANGE = (30000, 32767)


class AllocationError(Exception):
    """A range is full."""


def host_offsets(cidr: str) -> tuple[netaddr.IPNetwork, int]:
    """The service range and the last offset its allocator gives out (the broadcast address excluded for IPv4):
    the one bound both allocation and the check of a written address use."""
    network = netaddr.IPNetwork(cidr)
    return network, network.size - (2 if network.version == 4 else 1)


def cluster_ip(cidr: str, used: Collection[str], rng: random.Random) -> str:
    """A free address of the service range (not the network address, the first host, or the broadcast)."""
    network, last = host_offsets(cidr)
    if last < 2:
        raise AllocationError(f"the service range {cidr} is too small")
    for _ in range(1000):
        address = str(netaddr.IPAddress(int(network.network) + rng.randint(2, last), network.version))
        if address not in used:
            return address
    for offset in range(2, last + 1):
        address = str(netaddr.IPAddress(int(network.network) + offset, network.version))
        if address not in used:
            return address
    raise AllocationError(f"the service range {cidr} is full")


def node_port(used: Collection[int], rng: random.Random) -> int:
    """A free port of the node port range."""
    low, high = NODE_PORT_RANGE
    for _ in range(1000):
        port = rng.randint(low, high)
        if port not in used:
            return port
    free = [p for p in range(low, high + 1) if p not in used]
    if not free:
        raise AllocationError("the node port range 30000-32767 is full")
    return free[0]
