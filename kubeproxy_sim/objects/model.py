"""Typed, validated Kubernetes objects: the subset of the API the data plane reads.

Every value here is immutable and already defaulted the way the API server would
default it, so later layers never re-check a manifest. Addresses are kept in
their canonical text form (validated with netaddr when loaded): the rules
kube-proxy writes are text, chain names hash that text, and strings keep a
100,000-endpoint cluster cheap to hold.
"""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum

from kubeproxy_sim.objects.values import value_class


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class ServiceType(StrEnum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"


class TrafficPolicy(StrEnum):
    CLUSTER = "Cluster"
    LOCAL = "Local"


class SessionAffinity(StrEnum):
    NONE = "None"
    CLIENT_IP = "ClientIP"


class IPFamily(StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


class AddressType(StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"
    FQDN = "FQDN"


DEFAULT_AFFINITY_TIMEOUT = 10800
"""Seconds; the API server's default for sessionAffinityConfig.clientIP.timeoutSeconds."""

SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
HEADLESS_LABEL = "service.kubernetes.io/headless"
UNWATCHED_LABELS = (SERVICE_PROXY_NAME_LABEL, HEADLESS_LABEL)
"""kube-proxy's informers list Services and EndpointSlices with neither label (server.go's label selector):
another proxy serves a Service naming one, and kube-proxy never sees it nor its slices."""


def watched_by_kube_proxy(labels: tuple[tuple[str, str], ...]) -> bool:
    """Whether kube-proxy sees an object with these labels at all (see :data:`UNWATCHED_LABELS`): a label
    added later is, to kube-proxy, the object's deletion."""
    return not any(key in UNWATCHED_LABELS for key, _ in labels)


@value_class
class Origin:
    """Where an object came from, so every message can name the file."""

    file: str = "<memory>"
    index: int = 0  # position of the document in the file (0-based)


@value_class
class ServicePort:
    """One entry of spec.ports."""

    name: str
    protocol: Protocol
    port: int
    target_port: int | str  # a number, or a named port resolved through slice ports
    node_port: int = 0  # 0: none allocated
    app_protocol: str | None = None


@value_class
class LoadBalancerIngress:
    """One entry of status.loadBalancer.ingress."""

    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None  # "VIP" (default) or "Proxy"


TRAFFIC_DISTRIBUTIONS = frozenset({"PreferClose", "PreferSameZone", "PreferSameNode"})
"""spec.trafficDistribution values the API server accepts (PreferSameZone and PreferSameNode: 1.34's beta gate, on)."""


@value_class
class Service:
    """A Service, defaulted as the API server stores it."""

    namespace: str
    name: str
    type: ServiceType = ServiceType.CLUSTER_IP
    cluster_ips: tuple[str, ...] = ()  # empty for headless ("None") and ExternalName
    ip_families: tuple[IPFamily, ...] = ()
    ports: tuple[ServicePort, ...] = ()
    selector: tuple[tuple[str, str], ...] | None = None  # None: no selector (manual endpoints)
    external_ips: tuple[str, ...] = ()
    load_balancer_ingress: tuple[LoadBalancerIngress, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()  # canonical CIDRs
    external_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    internal_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    health_check_node_port: int = 0
    session_affinity: SessionAffinity = SessionAffinity.NONE
    affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT
    external_name: str = ""
    traffic_distribution: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    origin: Origin = field(default=Origin(), compare=False, repr=False)
    publish_not_ready_addresses: bool = False  # for the EndpointSlice controller; kube-proxy never reads it
    # spec.clusterIP not set (a manifest before the API server allocates one): no address yet, and not headless
    cluster_ip_unset: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def headless(self) -> bool:
        """clusterIP "None" (CoreDNS's Service.Headless): not an ExternalName one, nor one whose clusterIP is not
        set yet. kube-proxy skips all three alike (it reads only ``cluster_ips``). controllers.world keeps "None"
        for an apply that leaves clusterIP out of a headless Service, as the API server does."""
        return self.type is not ServiceType.EXTERNAL_NAME and not self.cluster_ips and not self.cluster_ip_unset


@value_class
class EndpointConditions:
    """Conditions as the API carries them; None means unset (kube-proxy reads unset ready as true)."""

    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None

    @property
    def counts_ready(self) -> bool:
        """Ready as kube-proxy (EndpointSliceCache) and CoreDNS read it: unset counts as true (the API says nil
        is unknown; both take it as ready)."""
        return self.ready is None or self.ready

    @property
    def counts_serving(self) -> bool:
        """Serving as kube-proxy reads it: unset counts as true, as ready does."""
        return self.serving is None or self.serving


@value_class
class Endpoint:
    """One endpoint of an EndpointSlice. A field added here must be added to the hand-written builder too:
    objects.decode_slices._fast_endpoint fills every slot itself (tests/objects/test_draft_builders.py fails
    until it does)."""

    addresses: tuple[str, ...]
    conditions: EndpointConditions = EndpointConditions()
    hostname: str | None = None
    node_name: str | None = None
    zone: str | None = None
    hints_for_zones: tuple[str, ...] | None = None  # None: no hints at all
    hints_for_nodes: tuple[str, ...] | None = None
    target_ref: tuple[str, str, str] | None = None  # (kind, namespace, name)


@value_class
class EndpointPort:
    """One entry of an EndpointSlice's ports (a name or port of None: unset in the API)."""

    name: str | None = None
    port: int | None = None
    protocol: Protocol = Protocol.TCP
    app_protocol: str | None = None


@value_class
class EndpointSlice:
    """A discovery.k8s.io/v1 EndpointSlice (or one mirrored from a v1 Endpoints)."""

    namespace: str
    name: str
    service_name: str  # label kubernetes.io/service-name; "" when missing
    address_type: AddressType
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    origin: Origin = field(default=Origin(), compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def service_key(self) -> str:
        """The key of the Service its kubernetes.io/service-name label names (Service.key's form)."""
        return f"{self.namespace}/{self.service_name}"


@value_class
class NodeAddress:
    """One entry of a Node's status.addresses."""

    type: str  # InternalIP, ExternalIP, Hostname, ...
    address: str


SINGLE_POD_CIDR = "spec.podCIDR"
"""A Node's older single pod CIDR field (:attr:`Node.pod_cidrs_field`)."""


@value_class
class Node:
    """A Node: what kube-proxy reads of it (addresses, pod CIDRs, labels)."""

    name: str
    addresses: tuple[NodeAddress, ...] = ()
    pod_cidrs: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    origin: Origin = field(default=Origin(), compare=False, repr=False)
    # the field pod_cidrs were read from: spec.podCIDRs (entry i at spec.podCIDRs[i]), or the older spec.podCIDR
    # (which wins when the two differ), so that a message about one names where it is written
    pod_cidrs_field: str = field(default="spec.podCIDRs", compare=False, repr=False)

    @property
    def key(self) -> str:
        return self.name

    def pod_cidr_path(self, index: int) -> str:
        """The field path of ``pod_cidrs[index]`` in the object as written."""
        return self.pod_cidrs_field if self.pod_cidrs_field == SINGLE_POD_CIDR else f"{self.pod_cidrs_field}[{index}]"

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)

    @property
    def ips(self) -> list[str]:
        """The InternalIP addresses, then the ExternalIP ones, of both families as given: the order in which
        kube-proxy takes a node's IPs (GetNodeHostIPs)."""
        return [a.address for kind in ("InternalIP", "ExternalIP") for a in self.addresses if a.type == kind]

    @property
    def host_ips(self) -> tuple[str, ...]:
        """The node's host IPs (upstream's GetNodeHostIPs): the first of :attr:`ips`, and the first of the other
        family after it. kube-proxy's node IPs, and the kubelet's status.podIPs of a host-network pod."""
        ips = self.ips
        other = next((ip for ip in ips if (":" in ip) != (":" in ips[0])), None) if ips else None
        return tuple(ips[:1]) + ((other,) if other is not None else ())


@value_class
class ContainerPort:
    """One entry of a container's ports."""

    name: str | None
    container_port: int
    protocol: Protocol = Protocol.TCP


class DNSPolicy(StrEnum):
    """spec.dnsPolicy: where the kubelet points the pod's resolv.conf (the API server's default: ClusterFirst)."""

    CLUSTER_FIRST = "ClusterFirst"
    CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
    DEFAULT = "Default"
    NONE = "None"


@value_class
class PodDNSConfig:
    """spec.dnsConfig: what the kubelet adds to the resolv.conf the policy gives (all of it with dnsPolicy None).
    ``options`` are (name, value or None) in the order written."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()


@value_class
class Pod:
    """A Pod: what the EndpointSlice controller and the simulators read of it."""

    namespace: str
    name: str
    node_name: str | None = None
    pod_ips: tuple[str, ...] = ()
    host_network: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    # the ports of its sidecars (spec.initContainers with restartPolicy Always), kept apart from ``ports`` as the
    # spec keeps them; findPort searches them after the containers' (the EndpointSlice controller's copy in
    # k8s.io/endpointslice since kubernetes/kubernetes#128850, pkg/api/v1/pod's FindPort since #127976), and the
    # scheduler's NodePorts counts them as a host-network pod's host ports (since kubernetes/kubernetes#132040)
    sidecar_ports: tuple[ContainerPort, ...] = ()
    phase: str = "Running"
    ready: bool = True
    terminating: bool = False  # metadata.deletionTimestamp is set
    dns_policy: DNSPolicy = DNSPolicy.CLUSTER_FIRST
    dns_config: PodDNSConfig | None = None
    origin: Origin = field(default=Origin(), compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def served_ports(self) -> tuple[ContainerPort, ...]:
        """The ports of its containers, then its sidecars': a sidecar listens as any container does, so what the
        pod serves (and a named targetPort is looked for in, in that order) is both."""
        return (*self.ports, *self.sidecar_ports)


@value_class
class Cluster:
    """Everything loaded: the input of rule generation and of the simulators."""

    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def has_family(self, family: int) -> bool:
        """Whether the objects give the family's proxier anything to proxy: a cluster IP or a slice of it (here,
        not in analysis: the commands that only note the other family load no netaddr; tests/cli/test_startup)."""
        return (any((":" in ip) == (family == 6) for s in self.services for ip in s.cluster_ips)
                or any(s.address_type.value == f"IPv{family}" for s in self.endpoint_slices))
