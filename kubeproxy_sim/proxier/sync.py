"""One full sync: the cluster's objects in, kube-proxy's iptables-restore input out.

The rule families write text into a buffer in the order kube-proxy writes
each chain; this module runs them service port by service port and assembles
the tables. Service ports are visited sorted by service name, so the result is
already in the canonical order upstream's tests compare dumps in (chains:
KUBE-NODEPORTS, KUBE-SERVICES, the other KUBE-* chains by name, the rest by
name; within KUBE-SERVICES and KUBE-NODEPORTS, rules grouped by service name
with the "must be the last rule" rule last).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.rules import endpoints, external, masquerade, services
from kubeproxy_sim.proxier.rules import filter as filter_rules
from kubeproxy_sim.proxier.rules.context import RuleBuffer, SyncContext, make_context
from kubeproxy_sim.proxier.rules.plan import ServicePlan, plan_service
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo, all_service_ports, endpoints_map
from kubeproxy_sim.proxier.topology import categorize

if TYPE_CHECKING:  # imported where a ruleset is built: `rules` asked for text renders a split sync without it
    from kubeproxy_sim.netfilter.model import Rule, Ruleset, Table

T = TypeVar("T")

TOP_LEVEL_NAT_CHAINS = (naming.KUBE_SERVICES, naming.KUBE_NODEPORTS, naming.KUBE_POSTROUTING,
                        naming.KUBE_MARK_MASQ)

ZONE_LABEL = "topology.kubernetes.io/zone"


@value_class
class SyncResult:
    """What one full sync installs.

    ``ruleset``: the iptables-restore input (filter, then nat), canonically
    ordered. ``jumps``: (table, built-in chain, rule) for the jumps kube-proxy
    inserts into built-in chains with ``iptables -I``, in the order they end up
    in each chain (filter INPUT/FORWARD/OUTPUT, then nat PREROUTING/OUTPUT/POSTROUTING).
    """

    ruleset: Ruleset
    jumps: tuple[tuple[str, str, Rule], ...]


def chain_order(name: str) -> tuple[int, str]:
    """Sort key of upstream's canonical dump order for chains."""
    if name == naming.KUBE_NODEPORTS:
        return (0, name)
    if name == naming.KUBE_SERVICES:
        return (1, name)
    return (2 if name.startswith("KUBE-") else 3, name)


def node_zone(cluster: Cluster, config: ProxyConfig) -> str | None:
    """This node's zone: from the config's node labels, else from the Node object."""
    if config.node_labels:
        return config.zone
    node = cluster.node(config.node_name)
    return node.label(ZONE_LABEL) if node is not None else None


@overload
def canonical_chain_order(items: list[str], name: None = None) -> list[str]: ...
@overload
def canonical_chain_order(items: list[T], name: Callable[[T], str]) -> list[T]: ...
# (one body for both: no key means the items are the names themselves, which mypy cannot tie to T)
def canonical_chain_order(items: list[Any], name: Callable[[Any], str] | None = None) -> list[Any]:
    """Chains (names, or items whose ``name`` is given) in upstream's canonical dump order.

    The same as sorting by :func:`chain_order`, with one sort and no Python call per item
    (a split sync orders 220,000 rendered chains this way): every name starting with "KUBE-"
    sits in one contiguous run of the sorted list, so the order is the two top-level
    chains, that run without them, then the items before and after it.
    """
    ordered = sorted(items, key=name)
    start = bisect_left(ordered, "KUBE-", key=name)
    end = bisect_left(ordered, "KUBE.", start, key=name)  # "." follows "-": the first name past the KUBE- run
    kube = ordered[start:end]
    first = []
    for top in (naming.KUBE_NODEPORTS, naming.KUBE_SERVICES):
        at = bisect_left(kube, top, key=name)
        if at < len(kube) and (kube[at] if name is None else name(kube[at])) == top:
            first.append(kube.pop(at))
    return first + kube + ordered[:start] + ordered[end:]


def build_table(name: str, declared: list[str], rules: dict[str, list[str]]) -> Table:
    """A table of the declared chains (each declared once), with their rules, canonically ordered."""
    from kubeproxy_sim.netfilter.model import Chain, Table

    empty: list[str] = []
    of_specs = Chain.of_specs
    get = rules.get
    return Table(name, tuple([of_specs(chain, get(chain, empty)) for chain in canonical_chain_order(declared)]))


@value_class
class ServiceWork:
    """The service ports one sync (or one share of a split sync) writes, with their endpoints, in order."""

    pairs: list[tuple[ServicePortInfo, tuple[EndpointInfo, ...]]]
    zone: str | None

    @property
    def endpoint_count(self) -> int:
        """What decides large-cluster mode; a split sync adds up its shares' counts."""
        return sum(len(eps) for _, eps in self.pairs)


def service_work(cluster: Cluster, config: ProxyConfig) -> ServiceWork:
    """kube-proxy's view of the cluster's services and endpoints for this node and family."""
    ports = all_service_ports(cluster, config)
    eps_map = endpoints_map(cluster.endpoint_slices, config)
    return ServiceWork([(svc, eps_map.get(svc.key, ())) for svc in ports], node_zone(cluster, config))


def generate(cluster: Cluster, config: ProxyConfig, written: PortMemo | None = None) -> SyncResult:
    """The rules one full sync of kube-proxy (iptables mode) writes for this node and family.

    ``written``: service ports' rules from other syncs (see :data:`PortMemo`), used and added to."""
    endpoints = sum(len(s.endpoints) for s in cluster.endpoint_slices)
    # ~10^6 acyclic objects at 10,000 services, about two per service and endpoint: see objects.bulk
    with collector_paused(2 * (len(cluster.services) + endpoints)):
        work = service_work(cluster, config)
        ctx = make_context(config, work.endpoint_count)
        out = new_buffer()
        write_head(ctx, out)
        if written is None:
            write_services(ctx, work, out)
        else:
            write_services_reusing(ctx, work, out, written)
        write_tail(ctx, out)
        return assemble(ctx, out)


def new_buffer() -> RuleBuffer:
    """An empty buffer with the top-level chains every sync declares."""
    return RuleBuffer(filter_chains=list(filter_rules.TOP_LEVEL_FILTER_CHAINS), nat_chains=list(TOP_LEVEL_NAT_CHAINS))


def write_head(ctx: SyncContext, out: RuleBuffer) -> None:
    """The node-wide rules written before any service's (they depend on the config only)."""
    masquerade.postrouting_rules(ctx, out)
    masquerade.mark_masq_rules(ctx, out)
    filter_rules.localnet_firewall(ctx, out)


def write_tail(ctx: SyncContext, out: RuleBuffer) -> None:
    """The node-wide rules written after every service's: KUBE-SERVICES' last rule, KUBE-FORWARD."""
    services.nodeports_jump_rules(ctx, out)
    filter_rules.forward_rules(ctx, out)


def assemble(ctx: SyncContext, out: RuleBuffer) -> SyncResult:
    """The canonically ordered tables of a filled buffer, and the jumps from the built-in chains."""
    from kubeproxy_sim.netfilter.model import Ruleset

    ruleset = Ruleset(
        (build_table("filter", out.filter_chains, out.filter), build_table("nat", out.nat_chains, out.nat)),
        ipv6=ctx.ipv6,
    )
    return SyncResult(ruleset, jump_rules())


def write_services(ctx: SyncContext, work: ServiceWork, out: RuleBuffer) -> None:
    """Write the rules of every (service port, endpoints) pair, in order."""
    zone = work.zone
    for svc, eps in work.pairs:
        write_service_port(ctx, svc, eps, zone, out)


@value_class
class PortText:
    """What :func:`write_service_port` wrote for one service port, in the order it wrote it."""

    filter: tuple[tuple[str, tuple[str, ...]], ...]
    nat: tuple[tuple[str, tuple[str, ...]], ...]
    filter_chains: tuple[str, ...]
    nat_chains: tuple[str, ...]

    @classmethod
    def of(cls, buf: RuleBuffer) -> PortText:
        return cls(tuple((chain, tuple(rules)) for chain, rules in buf.filter.items()),
                   tuple((chain, tuple(rules)) for chain, rules in buf.nat.items()),
                   tuple(buf.filter_chains), tuple(buf.nat_chains))

    def write(self, out: RuleBuffer) -> None:
        """Append it to ``out``, as writing the port there would (:meth:`RuleBuffer.extend`)."""
        for mine, theirs in ((out.filter, self.filter), (out.nat, self.nat)):
            for chain, rules in theirs:
                mine[chain].extend(rules)
        out.filter_chains.extend(self.filter_chains)
        out.nat_chains.extend(self.nat_chains)


PortMemo = dict[tuple[object, ...], PortText]
"""Service ports' rules by what :func:`write_service_port` reads for them (:func:`port_inputs`). Syncs of
several nodes (``dist``'s), and of one node in two states of a cluster (``diff``'s), share most ports' rules:
a ClusterIP port without a Local policy or hints reads nothing of its node, so every node after the first
takes its rules, and a second state writes only the ports that changed."""


def node_wide_inputs(ctx: SyncContext) -> tuple[object, ...]:
    """What :func:`write_service_port` may read of the sync's context that is the same for every port: the
    large-cluster comment switch, the localhost node port counter, ``--masquerade-all`` (and the family)."""
    return (ctx.ipv6, ctx.large_cluster, ctx.localhost_nodeport_counter, ctx.config.masquerade_all)


def port_inputs(ctx: SyncContext, node_wide: tuple[object, ...], svc: ServicePortInfo,
                eps: tuple[EndpointInfo, ...], zone: str | None) -> tuple[object, ...]:
    """Everything :func:`write_service_port` reads to write this port on this node, node-specific inputs only
    where the port reads them, so equal inputs on two nodes write equal rules:

    - which endpoints are the node's own (``is_local``), for a port that uses local endpoints (a Local policy);
      the endpoints themselves are keyed without it;
    - the node's name, when a port using cluster endpoints has an endpoint with node hints and the
      PreferSameTrafficDistribution gate lets kube-proxy read them (with it off, no port reads the name);
    - the node's zone, when a port using cluster endpoints has an endpoint with zone hints;
    - the local-traffic detector (``--detect-local-mode``'s match, per node with NodeCIDR), when the port has
      endpoints (cluster IP masquerade, the EXT chain's pod short-circuit);
    - the node IP, when source ranges make a KUBE-FW chain (a range holding it lets the LB VIPs in).

    A rule family that reads another node-specific input for a service port must add it here."""
    local = tuple([i for i, ep in enumerate(eps) if ep.is_local])
    if local:
        eps = tuple([_not_local(ep) if ep.is_local else ep for ep in eps])
    cluster = svc.uses_cluster_endpoints
    return (node_wide, svc, eps,
            local if svc.uses_local_endpoints else None,
            ctx.config.node_name if cluster and ctx.config.prefer_same_traffic_distribution
            and any(ep.node_hints for ep in eps) else None,
            zone if cluster and any(ep.zone_hints for ep in eps) else None,
            ctx.detector if eps else None,
            ctx.node_ip if eps and svc.load_balancer_vips and svc.source_ranges else None)


def _not_local(ep: EndpointInfo) -> EndpointInfo:
    """The endpoint as a node it is not on sees it (``dataclasses.replace`` through the bulk path: a third of a
    3-node cluster's endpoints are each node's own)."""
    return EndpointInfo.make(ep.ip, ep.port, ep.endpoint, False, ep.ready, ep.serving, ep.terminating,
                             ep.zone_hints, ep.node_hints)


def write_services_reusing(ctx: SyncContext, work: ServiceWork, out: RuleBuffer, written: PortMemo) -> None:
    """:func:`write_services`, taking each port's rules from ``written`` when it holds them (written for the
    same :func:`port_inputs`, on this node or another), and adding the others'."""
    zone = work.zone
    node_wide = node_wide_inputs(ctx)
    for svc, eps in work.pairs:
        key = port_inputs(ctx, node_wide, svc, eps, zone)
        text = written.get(key)
        if text is None:
            buf = RuleBuffer()
            write_service_port(ctx, svc, eps, zone, buf)
            text = written[key] = PortText.of(buf)
        text.write(out)


def write_service_port(ctx: SyncContext, svc: ServicePortInfo, eps: tuple[EndpointInfo, ...], zone: str | None,
                       out: RuleBuffer) -> ServicePlan:
    """Write every rule of one service port; the plan is returned for callers that count verdicts."""
    plan = plan_service(svc, categorize(eps, svc, ctx.config.node_name, zone,
                                        ctx.config.prefer_same_traffic_distribution))
    services.service_entry_rules(ctx, plan, out)
    filter_rules.service_filter_rules(plan, out)
    external.external_chain_rules(ctx, plan, out)
    external.firewall_chain_rules(ctx, plan, out)
    endpoints.service_endpoint_rules(ctx, plan, out)
    return plan


# (table, built-in chain, target chain, comment, extra match) in the order kube-proxy ensures them.
_JUMPS = (
    ("filter", "INPUT", naming.KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", True),
    ("filter", "FORWARD", naming.KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", True),
    ("filter", "INPUT", naming.KUBE_NODEPORTS, "kubernetes health check service ports", False),
    ("filter", "FORWARD", naming.KUBE_SERVICES, "kubernetes service portals", True),
    ("filter", "OUTPUT", naming.KUBE_SERVICES, "kubernetes service portals", True),
    ("filter", "FORWARD", naming.KUBE_FORWARD, "kubernetes forwarding rules", False),
    ("filter", "INPUT", naming.KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", True),
    ("filter", "OUTPUT", naming.KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", True),
    ("filter", "FORWARD", naming.KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", True),
    ("nat", "OUTPUT", naming.KUBE_SERVICES, "kubernetes service portals", False),
    ("nat", "PREROUTING", naming.KUBE_SERVICES, "kubernetes service portals", False),
    ("nat", "POSTROUTING", naming.KUBE_POSTROUTING, "kubernetes postrouting rules", False),
)
# kubelet's KUBE-FIREWALL jumps, which kube-proxy ensures too (no comment, no match).
_KUBELET_JUMPS = (
    ("filter", "INPUT", naming.KUBE_FIREWALL, "", False),
    ("filter", "OUTPUT", naming.KUBE_FIREWALL, "", False),
)
_BUILTIN_ORDER = {("filter", "INPUT"): 0, ("filter", "FORWARD"): 1, ("filter", "OUTPUT"): 2,
                  ("nat", "PREROUTING"): 3, ("nat", "INPUT"): 4, ("nat", "OUTPUT"): 5, ("nat", "POSTROUTING"): 6}


def _jump_spec(target: str, comment: str, new_only: bool) -> str:
    parts = []
    if new_only:
        parts.append("-m conntrack --ctstate NEW")
    if comment:
        parts.append(f'-m comment --comment "{comment}"')
    parts.append(f"-j {target}")
    return " ".join(parts)


def jump_rules() -> tuple[tuple[str, str, Rule], ...]:
    """The jumps from built-in chains, each chain's in its final order.

    kube-proxy inserts each jump at the top of its chain, in list order, so
    within a chain the last one ensured ends up first. KUBE-FIREWALL's jumps
    are ensured on every node, in both families, with the (then empty) chain
    itself (see :data:`~kubeproxy_sim.proxier.full.ENSURED_CHAINS`).
    """
    from kubeproxy_sim.netfilter.model import Rule

    entries = _JUMPS + _KUBELET_JUMPS
    by_chain: dict[tuple[str, str], list[Rule]] = {}
    for table, builtin, target, comment, new_only in entries:
        by_chain.setdefault((table, builtin), []).insert(0, Rule(builtin, _jump_spec(target, comment, new_only)))
    ordered = sorted(by_chain.items(), key=lambda item: _BUILTIN_ORDER[item[0]])
    return tuple((table, builtin, rule) for (table, builtin), rules in ordered for rule in rules)
