"""The cluster's nodes as the analysis sees them: one kube-proxy config and one ruleset per node.

A distribution depends on where traffic enters: each node's kube-proxy writes
its own rules (its local endpoints, its addresses, its zone). The base config
(the command's node flags) describes the ``--hostname-override`` node; every
other node gets the same settings with its own name, addresses, pod CIDRs and
labels, the way the kernel backend and the simulator derive them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import netaddr

from kubeproxy_sim.netfilter.compile import CompiledRuleset, RuleMemo, compile_ruleset
from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from kubeproxy_sim.objects.model import Cluster, Pod
from kubeproxy_sim.objects.nodes import node_names, node_object_addresses, synthesised_node_addresses, used_addresses
from kubeproxy_sim.proxier.config import DetectLocalMode, ProxyConfig
from kubeproxy_sim.proxier.rules.context import serves_localhost_nodeports
from kubeproxy_sim.simulator.topology import about_node, nodes_running, staged_pod_cidrs
from kubeproxy_sim.simulator.topology import phantom_nodes as phantom_nodes  # (diff's, from here as before)

if TYPE_CHECKING:
    from kubeproxy_sim.proxier.sync import PortMemo

T = TypeVar("T")

EXTERNAL_CLIENT_V4 = "203.0.113.10"  # the kernel backend's default ``external`` client
EXTERNAL_CLIENT_V6 = "2001:db8:ffff::10"
EXTERNAL_IFACE = "eth0"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a connection comes from: a pod, a node itself, or a client outside the cluster."""

    kind: str  # "pod", "node" or "external"
    address: str
    node: str | None = None  # the pod's node, or the node itself
    name: str | None = None  # the pod's namespace/name when it is a real Pod object

    @property
    def label(self) -> str:
        if self.kind == "pod":
            who = f"pod {self.name}" if self.name else "a pod"
            return f"{who} ({self.address}) on {self.node}"
        if self.kind == "node":
            return f"node {self.node} itself ({self.address})"
        return f"external client {self.address}"

    def label_entering(self, node: str) -> str:
        """The label as the sender of traffic entering ``node``: "itself" is said only of a node sending to
        itself, as "entering node3 from node node2 itself" reads as if node3 sent it."""
        if self.kind == "node" and self.node != node:
            return f"node {self.node} ({self.address})"
        return self.label


@dataclass(slots=True)
class NodeSet:
    """Every node's config, with its rules generated and compiled on first use (a per-run cache)."""

    cluster: Cluster
    configs: dict[str, ProxyConfig]
    order: tuple[str, ...]
    _tracers: dict[str, Tracer] = field(default_factory=dict)
    _compiled: dict[str, CompiledRuleset] = field(default_factory=dict)
    _memo: RuleMemo = field(default_factory=dict)
    _rulesets: dict[str, Ruleset] = field(default_factory=dict)
    cache: dict[object, object] = field(default_factory=dict)  # other layers' per-run state (e.g. simulators)
    written: PortMemo | None = field(default_factory=dict)
    """Service ports' rules (``proxier.sync.PortMemo``) the nodes share, and another state's NodeSet may: a port
    that reads nothing of its node is written once for all of them. None: each node writes every port itself."""

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """A value worked out from the whole cluster, once per run: a report about every service asks for the
        cluster's endpoints, pods and used addresses once per service, and each is a scan of the whole cluster."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]  # type: ignore[return-value]

    def forget_rules(self) -> None:
        """Let go of every node's generated and compiled rules (they are made again if asked for): a run done
        with a state frees them, about half a gigabyte a node for a 10,000-service cluster."""
        self._tracers.clear()
        for compiled in self._compiled.values():
            compiled.release()
        self._compiled.clear()
        self._memo = {}  # a new one, not cleared: another state may share it (share_rules)
        if self.written is not None:
            self.written = {}  # (the same)
        self._rulesets.clear()

    def share_rules(self, other: NodeSet) -> None:
        """Write and compile rules with ``other``'s memos (another state of the cluster, as diff's two): each
        service port's rules (``written``, see ``proxier.sync.PortMemo``), and each rule text compiled when the
        family is the same. :meth:`forget_rules` lets go of this state's rules, not of those."""
        self.written = other.written
        if self.ipv6 == other.ipv6:
            self._memo = other._memo

    @property
    def ipv6(self) -> bool:
        return self.configs[self.order[0]].ipv6

    def addresses(self, node: str) -> tuple[str, ...]:
        return tuple(ip.split("/")[0] for ip in self.configs[node].node_ips)

    def node_of(self, address: str) -> str | None:
        """The node whose own address ``address`` (canonical text) is, the first in :attr:`order` for one that
        several share; None: no node's. A map made once per run: dist follows every DNAT's target by it."""
        owners = self.derived("address owners", lambda: {a: n for n in reversed(self.order) for a in self.addresses(n)})
        return owners.get(address)

    def primary(self, node: str) -> str:
        return self.addresses(node)[0]

    def context(self, node: str) -> NodeContext:
        """The node's own addresses (addrtype LOCAL, the local-origin test and the masquerade source)."""
        addresses = self.addresses(node)
        return NodeContext.of(addresses, interfaces={EXTERNAL_IFACE: addresses},
                              route_localnet_known=serves_localhost_nodeports(self.configs[node]))

    def ruleset(self, node: str) -> Ruleset:
        """The node's whole nat and filter tables after kube-proxy's sync."""
        if node not in self._rulesets:
            from kubeproxy_sim.simulator.network import node_rules

            self._rulesets[node] = node_rules(self.cluster, self.configs[node], self.written)
        return self._rulesets[node]

    def compiled(self, node: str) -> CompiledRuleset:
        if node not in self._compiled:
            # a chain is compiled when first walked: a question about one service compiles its chains only
            # and a rule text met on another node is not compiled again (the memo is shared); the proxier's own
            # rules are not read whole for a circle of jumps first (see compile_ruleset's generated)
            self._compiled[node] = compile_ruleset(self.ruleset(node), lazy=True, memo=self._memo, generated=True)
        return self._compiled[node]

    def tracer(self, node: str) -> Tracer:
        if node not in self._tracers:
            self._tracers[node] = Tracer(self.compiled(node), self.context(node))
        return self._tracers[node]

    def pod_iface(self, node: str) -> str:
        """The interface a pod's packet arrives on, as the node's local-traffic detector expects it."""
        config = self.configs[node]
        if config.detect_local_mode is DetectLocalMode.INTERFACE_NAME_PREFIX and config.interface_name_prefix:
            return f"{config.interface_name_prefix}0"
        return config.bridge_interface or "cbr0"


def node_set(cluster: Cluster, base: ProxyConfig, *, running_only: bool = True) -> NodeSet:
    """Configs for every node: the base config's node as given, the others derived from their objects. The nodes
    are the ones a kube-proxy runs on (:func:`nodes_running`), as send's, netns's and diff's: not a node name only
    pods or endpoints give when Node objects were read. ``running_only`` False (a test's) takes every name the
    objects give (:func:`.objects.nodes.node_names`)."""
    ipv6 = base.ipv6
    names = nodes_running(cluster, base.node_name) if running_only else node_names(cluster, base.node_name)
    synth = synthesised_node_addresses(used_addresses(cluster, base.node_ips), 6 if ipv6 else 4)
    host = "/128" if ipv6 else "/32"
    configs: dict[str, ProxyConfig] = {}
    for index, name in enumerate(names):
        node = cluster.node(name)
        own = [ip for ip in base.node_ips if (":" in ip) == ipv6] if index == 0 else []
        addresses = own or [a + host for a in node_object_addresses(node, 6 if ipv6 else 4)] or [next(synth) + host]
        config = dataclasses.replace(base, node_name=name, node_ips=tuple(addresses))
        configs[name] = about_node(config, node, first=index == 0)  # pod CIDRs and labels as the simulator's
    return NodeSet(cluster, configs, tuple(names))


# --------------------------------------------------------------------------- client sources


def external_source(ipv6: bool, address: str | None = None) -> Source:
    return Source("external", address or (EXTERNAL_CLIENT_V6 if ipv6 else EXTERNAL_CLIENT_V4))


def node_source(nodes: NodeSet, name: str) -> Source:
    return Source("node", nodes.primary(name), node=name)


def pod_source(pod: Pod, ipv6: bool) -> Source | None:
    ip = next((a for a in pod.pod_ips if (":" in a) == ipv6), None)
    if ip is None or pod.host_network:
        return None
    return Source("pod", ip, node=pod.node_name, name=pod.key)


BLOCK_PREFIX = {4: 24, 6: 64}
"""A node's share of a cluster CIDR is commonly a /24 (IPv6: /64): a client made up for a node without a pod
CIDR takes a block no other node's pod CIDR overlaps, so it never looks like another node's pod."""


def _free_address(cidrs: tuple[str, ...], ipv6: bool, used: set[str],
                  taken: tuple[netaddr.IPNetwork, ...] = ()) -> str | None:
    """A client address no pod or endpoint uses, inside the first CIDR of the family, outside ``taken``."""
    for cidr in cidrs:
        net = netaddr.IPNetwork(cidr)
        if (net.version == 6) != ipv6:
            continue
        for block in _blocks(net):
            if any(block.first <= t.last and t.first <= block.last for t in taken):
                continue
            for offset in range(200, min(260, block.size)):
                candidate = str(block[offset])
                if candidate not in used:
                    return candidate
    return None


def _blocks(net: netaddr.IPNetwork, most: int = 256) -> Iterator[netaddr.IPNetwork]:
    """The first ``most`` node-sized blocks of a CIDR (the CIDR itself when it is no bigger)."""
    prefix = BLOCK_PREFIX[net.version]
    if net.prefixlen >= prefix:
        yield net
        return
    step = 1 << ((32 if net.version == 4 else 128) - prefix)
    for index in range(min(most, 1 << (prefix - net.prefixlen))):
        yield netaddr.IPNetwork(f"{netaddr.IPAddress(net.first + index * step, net.version)}/{prefix}")


def default_pod_source(nodes: NodeSet, node: str, avoid: frozenset[str] = frozenset()) -> Source | None:
    """A pod on ``node`` to send from: a real client pod (not one of ``avoid``), else a free pod-CIDR address.

    Endpoints of the service itself are avoided, so the default answer shows
    ordinary traffic rather than hairpin traffic.
    """
    ipv6 = nodes.ipv6
    pods = sorted((p for p in nodes.cluster.pods if p.node_name == node), key=lambda p: p.key)
    for pod in pods:
        source = pod_source(pod, ipv6)
        if source is not None and source.address not in avoid:
            return source
    address = free_pod_address(nodes, node, nodes.derived("used addresses", lambda: used_addresses(nodes.cluster)))
    return Source("pod", address, node=node) if address else None


def client_pod_source(nodes: NodeSet, node: str, avoid: frozenset[str]) -> Source | None:
    """``default_pod_source(nodes, node, avoid)``, its answer without ``avoid`` worked out once per node and run:
    making up a free address scans every node's pod CIDRs, and a report of every service asks every node for
    each service (5,000 x 30 times). ``avoid`` only passes over pods, so that answer stands unless it is one."""
    first = nodes.derived(f"default pod source {node}", lambda: default_pod_source(nodes, node))
    if first is None or first.address not in avoid:
        return first
    return default_pod_source(nodes, node, avoid)


def free_pod_address(nodes: NodeSet, node: str, used: set[str]) -> str | None:
    """An address for a client pod on ``node`` that none of ``used`` has: its pod CIDR first, else the cluster's.
    Pod CIDRs as the network routes them (:func:`staged_pod_cidrs`, as ``send`` and ``netns`` do): a /1 is none."""
    config, family = nodes.configs[node], 6 if nodes.ipv6 else 4
    others = tuple(netaddr.IPNetwork(c) for name, other in nodes.configs.items() if name != node
                   for c in staged_pod_cidrs(other, family))
    return (_free_address(staged_pod_cidrs(config, family), nodes.ipv6, used)
            or _free_address(config.cluster_cidrs, nodes.ipv6, used, others))


def other_family_note(family: int, ports: Sequence[str], seen: str, shown: str) -> str:
    """The one wording for dual-stack objects of which a command gave the node's ``family`` proxier's answer
    alone (upstream runs one proxier per family; ``--ip-family`` picks the one simulated): the other family's
    proxier ``seen`` too (``sees changes``) for ``ports`` (names; none: rules outside service ports), and what this
    command ``shown`` (``compares``) of its own."""
    other = 4 if family == 6 else 6
    names = ", ".join(ports[:3]) + (", ..." if len(ports) > 3 else "")
    what = f"{len(ports)} service port{'s' if len(ports) != 1 else ''} ({names})" if ports \
        else "rules outside service ports"
    return (f"the objects are dual-stack and the IPv{other} proxier {seen} too: {what}; this {shown} the node's "
            f"IPv{family} proxier's (expected --ip-family ipv{other} to see them)")
