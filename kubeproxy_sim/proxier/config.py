"""kube-proxy's configuration for one node, plus what kube-proxy learns from the host.

Rule generation is a pure function of the cluster's objects and this value.
Field names follow KubeProxyConfiguration and kube-proxy's flags.
"""

from __future__ import annotations

from enum import StrEnum

from kubeproxy_sim.objects.model import IPFamily
from kubeproxy_sim.objects.values import value_class

DEFAULT_NODE_NAME = "node1"


class DetectLocalMode(StrEnum):
    CLUSTER_CIDR = "ClusterCIDR"
    NODE_CIDR = "NodeCIDR"
    BRIDGE_INTERFACE = "BridgeInterface"
    INTERFACE_NAME_PREFIX = "InterfaceNamePrefix"


@value_class
class ProxyConfig:
    """One node's kube-proxy, iptables mode, one IP family.

    ``node_ips`` are the node's interface addresses as ``IP/PREFIX`` (the first
    is the primary node IP; the prefix is the interface's network, which
    ``nodeport_addresses`` CIDRs are matched against). Loopback (127.0.0.1/8,
    ::1/128) is always assumed present, as on a real host.
    """

    node_name: str = DEFAULT_NODE_NAME
    ip_family: IPFamily = IPFamily.IPV4
    node_ips: tuple[str, ...] = ()
    cluster_cidrs: tuple[str, ...] = ()
    detect_local_mode: DetectLocalMode = DetectLocalMode.CLUSTER_CIDR
    node_pod_cidrs: tuple[str, ...] = ()  # for NodeCIDR mode (the Node object's podCIDRs)
    bridge_interface: str = ""
    interface_name_prefix: str = ""
    masquerade_all: bool = False
    masquerade_bit: int = 14
    localhost_nodeports: bool = True
    nodeport_addresses: tuple[str, ...] = ()  # CIDRs as written, or "primary"; empty: all local addresses
    conntrack_tcp_be_liberal: bool = False
    random_fully: bool = True  # iptables supports MASQUERADE --random-fully
    nfacct: bool = True  # the kernel has the nfacct counters kube-proxy uses
    node_labels: tuple[tuple[str, str], ...] = ()  # the node's labels (topology zone)
    # the PreferSameTrafficDistribution feature gate (featureGates): whether endpoints' node hints are read
    prefer_same_traffic_distribution: bool = True

    @property
    def ipv6(self) -> bool:
        return self.ip_family is IPFamily.IPV6

    @property
    def masquerade_mark(self) -> str:
        """The mark as upstream's expected dumps write it (0x4000 for bit 14).

        A real kube-proxy formats it with ``%#08x`` (0x00004000); the kernel
        reads both the same, and the golden dumps use the short form.
        """
        return f"{1 << self.masquerade_bit:#x}"

    @property
    def primary_node_ip(self) -> str | None:
        return self.node_ips[0].split("/")[0] if self.node_ips else None

    @property
    def zone(self) -> str | None:
        return dict(self.node_labels).get("topology.kubernetes.io/zone")
