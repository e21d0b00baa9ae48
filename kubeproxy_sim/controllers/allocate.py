"""The API server's allocators for what ``kubectl expose`` leaves out: cluster IPs and node ports.

Both draw from the injected generator, as the real allocators pick at random;
the first host of the service range is left for the ``kubernetes`` Service.
The default ranges are kubeadm's IPv4 one and, as kubeadm has no IPv6 default,
kind's IPv6 one.
"""

from __future__ import annotations

import random
from collections.abc import Container
from typing import TYPE_CHECKING, NamedTuple

import netaddr

from kubeproxy_sim.objects.model import IPFamily

if TYPE_CHECKING:
    from kubeproxy_sim.objects.addr import ParsedCIDR

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_SERVICE_CIDR_V6 = "fd00:10:96::/112"
DEFAULT_SERVICE_CIDRS = {IPFamily.IPV4: DEFAULT_SERVICE_CIDR, IPFamily.IPV6: DEFAULT_SERVICE_CIDR_V6}
NODE_PORT_RANGE = (30000, 32767)
SERVICE_RANGE_FLAG = "--service-cluster-ip-range"
MAX_SERVICE_RANGE_HOST_BITS = 64
"""kube-apiserver's maxCIDRBits with MultiCIDRServiceAllocator on (GA and locked on by 1.34, the release of the
reference commit: it has trafficDistribution PreferSameNode); 20 was the old bitmap allocator's limit."""
MIN_PRIMARY_RANGE_SIZE = 8  # controlplane ServiceIPRange: the primary range's least number of addresses


class AllocationError(Exception):
    """A range is full."""


class ServiceRanges(NamedTuple):
    """``--service-cluster-ip-range`` read: the canonical ranges, or kube-apiserver's reason for refusing the value
    (``malformed`` when an entry is no CIDR at all: a value of the wrong shape, a usage error)."""

    cidrs: tuple[str, ...]
    problem: str | None = None
    malformed: bool = False


def service_ranges_flag(text: str) -> ServiceRanges:
    """``--service-cluster-ip-range`` as kube-apiserver reads and validates it (options' getServiceIPAndRanges,
    controlplane ServiceIPRange, validateClusterIPFlags): one CIDR, or two of different families (primary first),
    each at most 64 host bits, the primary at least 8 addresses. The canonical ranges, or kube-apiserver's reason
    for refusing the value (it exits, so nothing is played)."""
    from kubeproxy_sim.objects.addr import parse_cidr

    entries = text.split(",")
    if len(entries) > 2:
        return ServiceRanges((), f"{SERVICE_RANGE_FLAG} must not contain more than two entries")
    parsed: list[ParsedCIDR] = []
    for index, entry in enumerate(entries):
        cidr = parse_cidr(entry)
        if cidr is None:  # the two parse errors' words differ upstream
            what = "not a valid cidr" if index == 0 else "not an ip net"
            return ServiceRanges((), f"service-cluster-ip-range[{index}] is {what}", malformed=True)
        parsed.append(cidr)
    if 2 ** _host_bits(parsed[0])[1] < MIN_PRIMARY_RANGE_SIZE:
        return ServiceRanges((), "error determining service IP ranges for primary service cidr: the service "
                             f"cluster IP range must be at least {MIN_PRIMARY_RANGE_SIZE} IP addresses")
    problems = [_too_large(parsed[0], SERVICE_RANGE_FLAG)]
    if len(parsed) == 2:
        if parsed[0].family is parsed[1].family:
            problems.append(f"{SERVICE_RANGE_FLAG}[0] and {SERVICE_RANGE_FLAG}[1] must be of different IP family")
        problems.append(_too_large(parsed[1], f"{SERVICE_RANGE_FLAG}[1]"))
    found = [p for p in problems if p]
    return ServiceRanges(tuple(c.text for c in parsed)) if not found else ServiceRanges((), "; ".join(found))


def _host_bits(cidr: ParsedCIDR) -> tuple[int, int]:
    """A parsed CIDR's address width and host bits (its canonical text ends in /PREFIX)."""
    bits = 32 if cidr.family is IPFamily.IPV4 else 128
    return bits, bits - int(cidr.text.rpartition("/")[2])


def _too_large(cidr: ParsedCIDR, flag: str) -> str | None:
    """validateMaxCIDRRange's refusal of a range with more than 64 host bits (only IPv6 can have that many)."""
    bits, host_bits = _host_bits(cidr)
    if host_bits <= MAX_SERVICE_RANGE_HOST_BITS:
        return None
    return f"specified {flag} is too large; for {bits}-bit addresses, the mask must be >= " \
           f"{bits - MAX_SERVICE_RANGE_HOST_BITS}"


def host_offsets(cidr: str) -> tuple[netaddr.IPNetwork, int]:
    """The service range and the last offset its allocator gives out (the broadcast address excluded for IPv4):
    the one bound both allocation and the check of a written address use."""
    network = netaddr.IPNetwork(cidr)
    return network, network.size - (2 if network.version == 4 else 1)


def cluster_ip(cidr: str, used: Container[str], rng: random.Random) -> str:
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


def node_port(used: Container[int], rng: random.Random) -> int:
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
