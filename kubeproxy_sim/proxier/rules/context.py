"""Node-wide facts every rule family needs, computed once per sync from the config.

Also the buffer the families write into: a plain per-table mapping from chain
to rule texts, local to one :func:`generate` call, so building 300,000 rules
costs one ``list.append`` each.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubeproxy_sim.objects.addr import ParsedCIDR, parse_cidr
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig
from kubeproxy_sim.proxier.state import is_ipv6_text

if TYPE_CHECKING:
    import netaddr

LARGE_CLUSTER_THRESHOLD = 1000
"""More endpoints than this: kube-proxy drops per-endpoint comments to keep the ruleset small."""

NFACCT_LOCALHOST_NODEPORTS = "localhost_nps_accepted_pkts"
NFACCT_INVALID_DROPPED = "ct_state_invalid_dropped_pkts"

IPV4_LOOPBACK = "127.0.0.1"
IPV6_LOOPBACK = "::1"


@value_class
class LocalDetector:
    """Match text for "from a pod on this node" and its negation (e.g. ``-s 10.0.0.0/8``)."""

    if_local: str
    if_not_local: str


@value_class
class NodePortDestinations:
    """Where NodePorts are accepted: any local address (``match_all``) or the listed node IPs."""

    match_all: bool
    addresses: tuple[str, ...] = ()
    contains_ipv4_loopback: bool = False


@value_class
class SyncContext:
    """Derived, read-only settings of one sync."""

    config: ProxyConfig
    ipv6: bool
    mark: str
    node_ip: str  # the primary node IP of the family, else loopback (as kube-proxy's detectNodeIPs)
    detector: LocalDetector | None
    nodeports: NodePortDestinations
    localhost_nodeports: bool
    large_cluster: bool

    @property
    def localhost_nodeport_counter(self) -> bool:
        """NodePorts on 127.0.0.0/8 get their own counted rule (IPv4 only)."""
        return self.localhost_nodeports and not self.ipv6 and self.config.nfacct


@dataclass(slots=True)
class RuleBuffer:
    """Rule texts per chain, per table, plus the per-service nat chains declared so far."""

    filter: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    nat: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    filter_chains: list[str] = field(default_factory=list)
    nat_chains: list[str] = field(default_factory=list)

    def extend(self, other: RuleBuffer) -> None:
        """Append ``other``'s rules after this buffer's, chain by chain, and its declared chains.

        Writing A then B into one buffer equals writing them into two and
        extending the first with the second: how a split sync joins its shares.
        """
        for mine, theirs in ((self.filter, other.filter), (self.nat, other.nat)):
            for chain, rules in theirs.items():
                if chain in mine:
                    mine[chain].extend(rules)
                else:
                    mine[chain] = rules
        self.filter_chains.extend(other.filter_chains)
        self.nat_chains.extend(other.nat_chains)


def family_addresses(values: tuple[str, ...], ipv6: bool) -> list[str]:
    """The entries of ``values`` (addresses or CIDRs, canonical text) of one family."""
    return [v for v in values if is_ipv6_text(v) == ipv6]


def local_detector(config: ProxyConfig) -> LocalDetector | None:
    """The pod-traffic matcher of ``--detect-local-mode``; None when it cannot be built
    (no CIDR of this family, no interface), which disables the rules that need it."""
    mode = config.detect_local_mode
    if mode in (DetectLocalMode.CLUSTER_CIDR, DetectLocalMode.NODE_CIDR):
        cidrs = config.cluster_cidrs if mode is DetectLocalMode.CLUSTER_CIDR else config.node_pod_cidrs
        matching = family_addresses(cidrs, config.ipv6)
        if not matching:
            return None
        return LocalDetector(f"-s {matching[0]}", f"! -s {matching[0]}")
    if mode is DetectLocalMode.BRIDGE_INTERFACE and config.bridge_interface:
        return LocalDetector(f"-i {config.bridge_interface}", f"! -i {config.bridge_interface}")
    if mode is DetectLocalMode.INTERFACE_NAME_PREFIX and config.interface_name_prefix:
        name = config.interface_name_prefix + "+"
        return LocalDetector(f"-i {name}", f"! -i {name}")
    return None


def primary_ip(config: ProxyConfig, ipv6: bool) -> str | None:
    """The first configured node IP of this family, without its prefix length."""
    ips = family_addresses(tuple(v.split("/")[0] for v in config.node_ips), ipv6)
    return ips[0] if ips else None


def is_loopback(ip: str) -> bool:
    """Whether an address's text (the loader's canonical one) is loopback: 127.0.0.0/8 or ::1, as Go's
    IsLoopback."""
    return ip == "::1" or ip.startswith("127.")


def primary_nodeport_cidrs(config: ProxyConfig) -> list[str]:
    """What ``--nodeport-addresses primary`` stands for: each family's node IP as a /32 or /128, but a loopback
    one, as kube-proxy's newProxyServer expands it (a node without node IPs is assumed loopback: then none)."""
    ips = ((primary_ip(config, ipv6), "/128" if ipv6 else "/32") for ipv6 in (False, True))
    return [ip + length for ip, length in ips if ip and not is_loopback(ip)]


def _nodeport_cidrs(config: ProxyConfig) -> list[ParsedCIDR]:
    """``--nodeport-addresses`` of this family, read from the entries as written as kube-proxy's
    NewNodePortAddresses reads them (ParseCIDRSloppy: ``::ffff:192.168.0.0/96`` is IPv4); "primary" stands for
    the node IP of each family (:func:`primary_nodeport_cidrs`)."""
    texts: list[str] = []
    for value in config.nodeport_addresses:
        if value == "primary":
            texts += primary_nodeport_cidrs(config)
        else:
            texts.append(value)
    parsed = (parse_cidr(text) for text in texts)
    return [cidr for cidr in parsed if cidr is not None and cidr.family is config.ip_family]


def nodeport_destinations(config: ProxyConfig) -> NodePortDestinations:
    """Resolve ``--nodeport-addresses`` against the node's addresses.

    No CIDR of this family means every local address; a zero CIDR anywhere
    means the same. Otherwise the node IPs inside the CIDRs, in CIDR order.
    """
    cidrs = _nodeport_cidrs(config)
    if not cidrs:  # kube-proxy's default, without netaddr: 0.0.0.0/0 (which holds 127.0.0.0) or ::/0
        return NodePortDestinations(True, (), contains_ipv4_loopback=not config.ipv6)
    return _matching_destinations(config, cidrs)


def _matching_destinations(config: ProxyConfig, cidrs: list[ParsedCIDR]) -> NodePortDestinations:
    """:func:`nodeport_destinations` for the CIDRs of this family. Match-all is kube-proxy's IsZeroCIDR, which reads
    the prefix as written (Go's mask): ``::ffff:192.168.0.0/96``, written 0.0.0.0/0, is no zero CIDR, so kube-proxy
    writes a ``-d`` rule for each IPv4 address of the node (loopback too) instead of ``--dst-type LOCAL``."""
    # imported here: only --nodeport-addresses needs netaddr (the default does not: ~15 ms of start-up)
    import netaddr

    from kubeproxy_sim.objects.netaddr_safe import netaddr_network

    # (netaddr_safe gives netaddr the family: without it, IPv6 text leaves a reference cycle)
    networks = [n for n in (netaddr_network(cidr.text) for cidr in cidrs) if n is not None]
    loopback = netaddr.IPAddress("127.0.0.0")
    contains_loopback = any(n.version == 4 and (n.network.is_loopback() or loopback in n) for n in networks)
    if any(cidr.zero for cidr in cidrs):
        return NodePortDestinations(True, (), contains_loopback)
    found: list[str] = []
    addresses = _interface_addresses(config)
    for network in networks:
        for address in addresses:
            text = str(address)
            if address.version == network.version and address in network and text not in found:
                found.append(text)
    return NodePortDestinations(False, tuple(found), contains_loopback)


def _interface_addresses(config: ProxyConfig) -> list[netaddr.IPAddress]:
    """This node's addresses: loopback (always present) then the configured interface IPs."""
    from kubeproxy_sim.objects.netaddr_safe import netaddr_address  # (as _matching_destinations)

    texts = [IPV4_LOOPBACK, IPV6_LOOPBACK, *(v.split("/")[0] for v in config.node_ips)]
    return [a for a in map(netaddr_address, texts) if a is not None]  # (with the family, as for the CIDRs)


def serves_localhost_nodeports(config: ProxyConfig, nodeports: NodePortDestinations | None = None) -> bool:
    """Whether kube-proxy serves NodePorts on 127.0.0.0/8, and so sets net.ipv4.conf.all.route_localnet=1
    (NewProxier: localhostNodePorts on, IPv4, an IPv4 loopback among the node port addresses): a trace of
    generated rules then knows that sysctl, which a dump does not say."""
    if nodeports is None:
        nodeports = nodeport_destinations(config)
    return config.localhost_nodeports and not config.ipv6 and nodeports.contains_ipv4_loopback


def make_context(config: ProxyConfig, total_endpoints: int) -> SyncContext:
    """Everything node-wide a sync needs, from the config and the cluster's endpoint count."""
    nodeports = nodeport_destinations(config)
    return SyncContext(
        config=config,
        ipv6=config.ipv6,
        mark=config.masquerade_mark,
        # kube-proxy's detectNodeIPs starts from loopback for each family and keeps it when no node IP of the
        # family is known; a source range holding it lets the LB VIPs in as sources ("allow from node")
        node_ip=primary_ip(config, config.ipv6) or ("::1" if config.ipv6 else "127.0.0.1"),
        detector=local_detector(config),
        nodeports=nodeports,
        localhost_nodeports=serves_localhost_nodeports(config, nodeports),
        large_cluster=total_endpoints > LARGE_CLUSTER_THRESHOLD,
    )
