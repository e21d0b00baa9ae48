"""Partial syncs: kube-proxy's sync loop, one step at a time, as pure values.

After its first (full) sync kube-proxy rewrites only what changed: the
per-service nat chains (KUBE-SVC/SVL/EXT/FW/SEP) of the services whose Service
or EndpointSlices changed since the last sync. Whatever has to agree with every
service is written each time: the whole filter table and nat KUBE-SERVICES,
KUBE-NODEPORTS, KUBE-POSTROUTING and KUBE-MARK-MASQ. Chains no longer in use
are declared (which flushes them) and deleted with ``-X``; with more than 1000
endpoints that cleanup waits for a sync period, because listing the node's
chains is what costs there.

:func:`sync` is one step: the previous :class:`SyncState`, the objects, the
changed services and a clock value in; the restore input, the metrics and the
state to continue from (one if the restore was applied, one if it failed) out.
:func:`apply_restore` is the node's half: what ``iptables-restore --noflush``
does to its tables, including the refusals that make a restore fail.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from kubeproxy_sim.errors import KubeproxySimError
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Rule, Ruleset, Table
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.jsonkey import go_format_float
from kubeproxy_sim.objects.model import Cluster, EndpointSlice, Service
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier import sync as full_sync
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.rules import filter as filter_rules
from kubeproxy_sim.proxier.rules import masquerade
from kubeproxy_sim.proxier.rules import services as service_rules
from kubeproxy_sim.proxier.rules.context import RuleBuffer, SyncContext, make_context
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo, all_service_ports, endpoints_map
from kubeproxy_sim.proxier.views import service_view, slice_changed_services

ChainRules = tuple[tuple[str, tuple[Rule, ...]], ...]
"""(chain, rules) pairs, in the order they are written (rules are built once and reused by later syncs)."""

_ENTRY_CHAINS = (naming.KUBE_SERVICES, naming.KUBE_NODEPORTS)


@dataclass(frozen=True, slots=True)
class SyncTiming:
    """kube-proxy's periods, in seconds: ``sync_period`` (``--iptables-sync-period``, which also paces the
    stale-chain cleanup of large clusters) and the forced full resync period (one hour upstream)."""

    sync_period: float = 30.0
    full_sync_period: float = 3600.0


DEFAULT_TIMING = SyncTiming()


@dataclass(frozen=True, slots=True)
class PortRules:
    """One service port's rules, split the way a partial sync treats them.

    ``filter`` and ``entry`` (nat KUBE-SERVICES / KUBE-NODEPORTS) are written on
    every sync; ``chains`` (the port's own nat chains) only when its service
    changed, and are otherwise only counted.
    """

    filter: ChainRules
    entry: ChainRules
    chains: ChainRules
    endpoints: int
    no_local_internal: bool = False
    no_local_external: bool = False
    chain_rule_count: int = field(default=0, compare=False)  # derived: the rules in ``chains``

    def __post_init__(self) -> None:
        object.__setattr__(self, "chain_rule_count", sum(len(rules) for _, rules in self.chains))


ServiceRules = Mapping[str, tuple[PortRules, ...]]
"""Rules per service ("namespace/name"), its ports in the service's order."""


@dataclass(frozen=True, slots=True)
class SyncState:
    """What kube-proxy remembers between syncs.

    ``nat_chains``: kube-proxy's per-service chains present in the node's nat
    table (what its ``iptables-save`` would list), the source of stale chains.
    ``services``: the rules of the last sync per service, reused for services
    that did not change; ``endpoint_total``: their endpoints (the large-cluster
    threshold counts them). ``basis``: the config and node zone they were built
    for; when either changes the next sync is full, as kube-proxy restarts or
    resyncs fully on a topology change.
    """

    need_full_sync: bool = True
    last_full_sync: float | None = None
    last_cleanup: float | None = None
    nat_chains: frozenset[str] = frozenset()
    services: ServiceRules = field(default_factory=lambda: MappingProxyType({}))
    basis: tuple[ProxyConfig, str | None] | None = None
    endpoint_total: int = 0
    port_totals: tuple[int, int, int] | None = None  # _port_totals(services.values()), kept up to date
    # sync_proxy_rules_no_local_endpoints_total (internal, external) as last set: kube-proxy sets it only
    # after an applied restore, so a refused sync leaves it at the last applied sync's values
    no_local_endpoints: tuple[int, int] = (0, 0)
    # sync_proxy_rules_iptables_restore_failures_total: the syncs whose restore was refused so far, full or partial
    restore_failures: int = 0
    # sync_proxy_rules_iptables_partial_restore_failures_total: the partial syncs whose restore was refused so far
    partial_restore_failures: int = 0
    # sync_proxy_rules_last_timestamp_seconds: the clock when the last applied restore was applied (None before any)
    last_applied: float | None = None

    def forcing_full(self) -> SyncState:
        """The state after kube-proxy's forced resync request (iptables monitor, topology change)."""
        return replace(self, need_full_sync=True)


@dataclass(frozen=True, slots=True)
class SyncMetrics:
    """The rule-count metrics of one sync, counted as kube-proxy counts them.

    ``filter_rules`` is both sync_proxy_rules_iptables_total and _last for the
    filter table (always written whole); for nat, _last counts the rules
    written and _total adds the rules of the chains a partial sync skipped.
    kube-proxy sets those four before its restore, so they are this sync's
    even when the restore is refused; ``no_local_endpoints_internal`` and
    ``_external`` it sets only after an applied restore (0 before any, where
    its /metrics has no line for them).
    ``restore_failures`` and ``partial_restore_failures`` are the counters
    sync_proxy_rules_iptables_restore_failures_total and
    sync_proxy_rules_iptables_partial_restore_failures_total after this sync:
    kube-proxy adds 1 to the first on every refused restore, to the second
    only when the refused sync was partial (see :meth:`SyncOutcome.refused`).
    ``last_timestamp_seconds`` is sync_proxy_rules_last_timestamp_seconds: the
    clock when the last applied restore was applied (:meth:`SyncOutcome.applied`),
    None before any.
    """

    full: bool
    filter_rules: int
    nat_rules_synced: int
    nat_rules_total: int
    deleted_chains: int
    no_local_endpoints_internal: int
    no_local_endpoints_external: int
    restore_failures: int
    partial_restore_failures: int
    last_timestamp_seconds: float | None

    def prometheus(self, ip_family: str = "IPv4") -> list[str]:
        """The metrics as kube-proxy's /metrics writes their samples (its names and labels).

        A failure counter has a line only once counted: kube-proxy's labelled
        counters get their series at the first increment (it creates none
        beforehand), so its /metrics has no line for them at 0; the gauges set
        only after an applied restore likewise have none before the first.
        The lines are in the Go client's order (client_golang's Gather:
        families by name, a family's series by their label values, each
        series' labels by name) and every value is written as expfmt's
        writeFloat writes a float64 (:func:`prometheus_value`: 1000000 rules
        is ``1e+06``).
        """
        counters = (("kubeproxy_sync_proxy_rules_iptables_restore_failures_total", self.restore_failures),
                    ("kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                     self.partial_restore_failures))
        samples: list[tuple[str, dict[str, str], float]] = [
            ("kubeproxy_sync_proxy_rules_iptables_total", {"table": "filter"}, self.filter_rules),
            ("kubeproxy_sync_proxy_rules_iptables_last", {"table": "filter"}, self.filter_rules),
            ("kubeproxy_sync_proxy_rules_iptables_total", {"table": "nat"}, self.nat_rules_total),
            ("kubeproxy_sync_proxy_rules_iptables_last", {"table": "nat"}, self.nat_rules_synced),
            *((name, {}, value) for name, value in counters if value),
            *self._applied_samples(),
        ]
        series = [(name, sorted({**labels, "ip_family": ip_family}.items()), value)
                  for name, labels, value in samples]
        series.sort(key=lambda one: (one[0], [label_value for _, label_value in one[1]]))
        return [f"{name}{{{_label_text(labels)}}} {prometheus_value(value)}" for name, labels, value in series]

    def _applied_samples(self) -> list[tuple[str, dict[str, str], float]]:
        """The gauges syncProxyRules sets only after an applied restore (no series before the first): the
        no-local-endpoints counts and the time (SetToCurrentTime)."""
        if self.last_timestamp_seconds is None:
            return []
        return [("kubeproxy_sync_proxy_rules_no_local_endpoints_total", {"traffic_policy": "internal"},
                 self.no_local_endpoints_internal),
                ("kubeproxy_sync_proxy_rules_no_local_endpoints_total", {"traffic_policy": "external"},
                 self.no_local_endpoints_external),
                ("kubeproxy_sync_proxy_rules_last_timestamp_seconds", {}, self.last_timestamp_seconds)]


def _label_text(labels: list[tuple[str, str]]) -> str:
    """A series' labels as the text format writes them (its values here need no escaping: families, tables,
    policies)."""
    return ",".join(f'{name}="{value}"' for name, value in labels)


def prometheus_value(value: float) -> str:
    """A sample's value as prometheus/common's expfmt writeFloat writes the float64 every gauge and counter holds:
    0 (negative zero too), 1 and -1 spelled out, NaN, +Inf, -Inf, else Go's ``strconv.FormatFloat(v, 'g', -1,
    64)``, whose exponent form starts at 1e+06 (a rule count of 1,000,000 is ``1e+06``, 1,234,567
    ``1.234567e+06``)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    return go_format_float(value)


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """One sync: the restore input, whether it was full, its metrics (once the restore is applied:
    :meth:`refused` has them for a refusal), and the two possible next states.

    ``jumps`` are the built-in-chain jumps a full sync ensures (empty for a
    partial one). Continue from ``succeeded`` when the restore was applied,
    from ``failed`` when it was refused: the changes are then lost, so the
    next sync is full.
    """

    restore: Ruleset
    full: bool
    metrics: SyncMetrics
    jumps: tuple[tuple[str, str, Rule], ...]
    succeeded: SyncState
    failed: SyncState

    def refused(self) -> SyncOutcome:
        """This sync as it went when its restore was refused: the metrics count the failure, as syncProxyRules
        (pkg/proxy/iptables/proxier.go) increments the restore-failure counter where iptables-restore fails and
        the partial one in its deferred failure handler when the sync was not full; the no-local-endpoints
        gauges and the last-sync timestamp keep the last applied sync's values, as it sets them only after a
        restore succeeded (the timestamp the metrics were built with is that one already)."""
        failed = self.failed
        internal, external = failed.no_local_endpoints
        return replace(self, metrics=replace(self.metrics, restore_failures=failed.restore_failures,
                                             partial_restore_failures=failed.partial_restore_failures,
                                             no_local_endpoints_internal=internal,
                                             no_local_endpoints_external=external))

    def applied(self, at: float) -> SyncOutcome:
        """This sync as it went when its restore was applied at clock ``at``: syncProxyRules sets
        sync_proxy_rules_last_timestamp_seconds to the current time once iptables-restore succeeded, so the time
        is the caller's to say (when the restore went in), not the sync's start."""
        return replace(self, metrics=replace(self.metrics, last_timestamp_seconds=at),
                       succeeded=replace(self.succeeded, last_applied=at))


@dataclass(frozen=True, slots=True)
class ObjectIndex:
    """Services by key and their EndpointSlices grouped by Service key, as the change trackers keep them.

    Given to :func:`sync`, it lets a partial sync look up the changed services
    directly instead of scanning every object of the cluster, which is what
    keeps a one-endpoint change cheap in a cluster of thousands of services.
    It must describe the same objects as the Cluster passed alongside.
    """

    services: Mapping[str, Service]
    slices: Mapping[str, tuple[EndpointSlice, ...]]


class RestoreError(KubeproxySimError):
    """iptables-restore refused the input; nothing of it was applied."""


# ---------------------------------------------------------------------------
# Building rules per service
# ---------------------------------------------------------------------------

_Pair = tuple[ServicePortInfo, tuple[EndpointInfo, ...]]


def _group_pairs(cluster: Cluster, config: ProxyConfig) -> dict[str, list[_Pair]]:
    """(service port, endpoints) pairs per service key, ports in the service's order."""
    eps_map = endpoints_map(cluster.endpoint_slices, config)
    grouped: dict[str, list[_Pair]] = {}
    for svc in all_service_ports(cluster, config):
        grouped.setdefault(f"{svc.namespace}/{svc.name}", []).append((svc, eps_map.get(svc.key, ())))
    return grouped


def _pairs_for(cluster: Cluster, config: ProxyConfig, keys: frozenset[str],
               index: ObjectIndex | None = None) -> dict[str, list[_Pair]]:
    """The pairs of only the services in ``keys``: a partial sync looks at nothing else."""
    if index is not None:
        services = tuple(index.services[key] for key in keys if key in index.services)
        slices = tuple(es for key in keys for es in index.slices.get(key, ()))
        return _group_pairs(Cluster(services, slices), config)
    wanted = {tuple(key.split("/", 1)) for key in keys}
    services = tuple(s for s in cluster.services if (s.namespace, s.name) in wanted)
    slices = tuple(s for s in cluster.endpoint_slices if (s.namespace, s.service_name) in wanted)
    return _group_pairs(Cluster(services, slices), config)


def _rules(chain: str, specs: list[str]) -> tuple[Rule, ...]:
    return tuple([Rule(chain, spec) for spec in specs])


def port_rules(ctx: SyncContext, svc: ServicePortInfo, eps: tuple[EndpointInfo, ...], zone: str | None) -> PortRules:
    """Write one service port's rules into a buffer of its own and split them by how syncs treat them."""
    buf = RuleBuffer()
    plan = full_sync.write_service_port(ctx, svc, eps, zone, buf)
    internal, external = plan.internal_verdict, plan.external_verdict
    return PortRules(
        filter=tuple((chain, _rules(chain, rules)) for chain, rules in buf.filter.items() if rules),
        entry=tuple((chain, _rules(chain, buf.nat[chain])) for chain in _ENTRY_CHAINS if buf.nat.get(chain)),
        chains=tuple((chain, _rules(chain, buf.nat.get(chain, []))) for chain in buf.nat_chains),
        endpoints=len(eps),
        no_local_internal=internal is not None and internal.target == "DROP",
        no_local_external=external is not None and external.target == "DROP",
    )


def _render(ctx: SyncContext, pairs: dict[str, list[_Pair]], zone: str | None) -> dict[str, tuple[PortRules, ...]]:
    return {key: tuple(port_rules(ctx, svc, eps, zone) for svc, eps in ports) for key, ports in pairs.items()}


# ---------------------------------------------------------------------------
# One sync
# ---------------------------------------------------------------------------


def _full_sync_due(state: SyncState, now: float, timing: SyncTiming) -> bool:
    return state.last_full_sync is None or now - state.last_full_sync > timing.full_sync_period


def _cleanup_due(state: SyncState, large_cluster: bool, now: float, timing: SyncTiming) -> bool:
    """Small clusters look for stale chains on every sync; large ones once per sync period."""
    return not large_cluster or state.last_cleanup is None or now - state.last_cleanup > timing.sync_period


def _service_rules(state: SyncState, cluster: Cluster, config: ProxyConfig, zone: str | None, full: bool,
                   changed: frozenset[str], index: ObjectIndex | None = None,
                   ) -> tuple[dict[str, tuple[PortRules, ...]], SyncContext, int]:
    """Rules for every service, in service-name order, rebuilt for all (full) or for the changed ones; the
    context they were written in; the endpoint total.

    The endpoint total (and so large-cluster mode, which drops comments) is
    known only once the changed services' endpoints are, so rendering waits
    for it.
    """
    if full:
        pairs = _group_pairs(cluster, config)
        kept: dict[str, tuple[PortRules, ...]] = {}
        total = 0
    else:
        pairs = _pairs_for(cluster, config, changed, index)
        kept = dict(state.services)
        old = (kept.get(key, ()) for key in changed)
        total = state.endpoint_total - sum(p.endpoints for ports in old for p in ports)
        for key in changed - pairs.keys():  # changed and gone (or no longer programmed)
            kept.pop(key, None)
    total += sum(len(eps) for ports in pairs.values() for _, eps in ports)
    ctx = make_context(config, total)
    rendered = _render(ctx, pairs, zone)
    appeared = not rendered.keys() <= kept.keys()
    kept.update(rendered)  # a service already there keeps its place
    if full or appeared:
        kept = {key: kept[key] for key in sorted(kept)}
    return kept, ctx, total


@dataclass(slots=True)
class _Assembly:
    """The restore input being laid out: declared chains and their rules, per table."""

    filter_chains: list[str]
    nat_chains: list[str]
    filter: defaultdict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    nat: defaultdict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    skipped_rules: int = 0
    written_chains: list[str] = field(default_factory=list)
    no_local_internal: int = 0
    no_local_external: int = 0

    def add_text(self, buf: RuleBuffer) -> None:
        """Take over what the node-wide rule families wrote (text) into ``buf``."""
        for target, source in ((self.filter, buf.filter), (self.nat, buf.nat)):
            for chain, specs in source.items():
                target[chain].extend(Rule(chain, spec) for spec in specs)
        self.filter_chains.extend(c for c in buf.filter_chains if c not in self.filter_chains)


def _assemble(ctx: SyncContext, services: Mapping[str, tuple[PortRules, ...]], full: bool,
              changed: frozenset[str], totals: tuple[int, int, int]) -> _Assembly:
    """Lay the rules out in the order a full sync writes them, leaving out unchanged services' chains."""
    acc = _Assembly(list(filter_rules.TOP_LEVEL_FILTER_CHAINS), list(full_sync.TOP_LEVEL_NAT_CHAINS))
    head = RuleBuffer()
    masquerade.postrouting_rules(ctx, head)
    masquerade.mark_masq_rules(ctx, head)
    filter_rules.localnet_firewall(ctx, head)
    acc.add_text(head)
    if full:
        for ports in services.values():  # already in service-name order
            for port in ports:
                _add_port(acc, port, True)
    else:
        _add_unchanged_and_changed(acc, services, changed, totals)
    tail = RuleBuffer()
    service_rules.nodeports_jump_rules(ctx, tail)
    filter_rules.forward_rules(ctx, tail)
    acc.add_text(tail)
    return acc


def _add_port(acc: _Assembly, port: PortRules, write: bool) -> None:
    for chain, rules in port.filter:
        acc.filter[chain].extend(rules)
    for chain, rules in port.entry:
        acc.nat[chain].extend(rules)
    if write:
        for chain, rules in port.chains:
            acc.nat_chains.append(chain)
            acc.nat[chain].extend(rules)
            acc.written_chains.append(chain)
    else:
        acc.skipped_rules += port.chain_rule_count
    acc.no_local_internal += port.no_local_internal
    acc.no_local_external += port.no_local_external


def _port_totals(groups: Iterable[tuple[PortRules, ...]]) -> tuple[int, int, int]:
    """Over the ports of ``groups``: rules in their own chains, and how many have no local endpoint for
    internal and for external traffic (the counts the metrics need, kept so partial syncs need not recount)."""
    rules = internal = external = 0
    for ports in groups:
        for port in ports:
            rules += port.chain_rule_count
            internal += port.no_local_internal
            external += port.no_local_external
    return rules, internal, external


def _totals_after(state: SyncState, services: Mapping[str, tuple[PortRules, ...]], full: bool,
                  changed: frozenset[str]) -> tuple[int, int, int]:
    """:func:`_port_totals` of ``services``, updated from the previous state's by the changed services alone."""
    if full or state.port_totals is None:
        return _port_totals(services.values())
    old = _port_totals(state.services[key] for key in changed if key in state.services)
    new = _port_totals(services[key] for key in changed if key in services)
    rules, internal, external = state.port_totals
    return rules - old[0] + new[0], internal - old[1] + new[1], external - old[2] + new[2]


def _add_unchanged_and_changed(acc: _Assembly, services: Mapping[str, tuple[PortRules, ...]],
                               changed: frozenset[str], totals: tuple[int, int, int]) -> None:
    """:func:`_add_port` for a partial sync, as one tight loop: with thousands of unchanged services this
    loop is most of a partial sync's cost, so it only copies rules; the counts come from ``totals``."""
    filter_rules_, nat_rules = acc.filter, acc.nat
    written_rules = 0
    for key, ports in services.items():
        if key in changed:
            for port in ports:
                _add_port(acc, port, True)
                written_rules += port.chain_rule_count
            continue
        for port in ports:
            if port.filter:
                for chain, rules in port.filter:
                    filter_rules_[chain].extend(rules)
            for chain, rules in port.entry:
                nat_rules[chain].extend(rules)
    acc.skipped_rules = totals[0] - written_rules
    acc.no_local_internal, acc.no_local_external = totals[1], totals[2]


def _table(name: str, declared: list[str], rules: Mapping[str, list[Rule]], deleted: tuple[str, ...] = ()) -> Table:
    """Declared chains in upstream's canonical order, each with its rules (none for a chain only declared)."""
    empty: list[Rule] = []
    return Table(name, tuple(Chain(chain, tuple(rules.get(chain, empty)))
                             for chain in full_sync.canonical_chain_order(declared)), deleted)


def _restore_input(ctx: SyncContext, acc: _Assembly, stale: list[str]) -> Ruleset:
    """The filter and nat tables; stale chains are declared (flushing them) and then deleted."""
    nat = _table("nat", [*acc.nat_chains, *stale], acc.nat, tuple(full_sync.canonical_chain_order(stale)))
    return Ruleset((_table("filter", acc.filter_chains, acc.filter), nat), ipv6=ctx.ipv6)


def _count(table: Table | None) -> int:
    return sum(len(c.rules) for c in table.chains) if table is not None else 0


def sync(state: SyncState, cluster: Cluster, config: ProxyConfig, changed: Iterable[str], now: float,
         timing: SyncTiming = DEFAULT_TIMING, existing_chains: frozenset[str] | None = None,
         index: ObjectIndex | None = None) -> SyncOutcome:
    """One kube-proxy sync.

    ``changed``: the services ("namespace/name") whose Service or EndpointSlices
    changed since the previous sync, as the change trackers report them.
    ``now``: the clock, in seconds. ``existing_chains``: the node's nat chains
    when known from the node itself (default: what the state remembers).
    ``index``: the same objects by key (see :class:`ObjectIndex`), to make partial syncs cheap.
    """
    with collector_paused():  # a full sync of a big cluster builds ~10^6 acyclic objects
        return _sync(state, cluster, config, frozenset(changed), now, timing, existing_chains, index)


def _stale_chains(existing: frozenset[str], services: ServiceRules) -> list[str]:
    """The node's per-service chains that no service uses any more, sorted."""
    active = {chain for ports in services.values() for port in ports for chain, _ in port.chains}
    return sorted(c for c in existing - active if naming.is_service_chain(c))


def _sync(state: SyncState, cluster: Cluster, config: ProxyConfig, changed_keys: frozenset[str], now: float,
          timing: SyncTiming, existing_chains: frozenset[str] | None,
          index: ObjectIndex | None = None) -> SyncOutcome:
    """:func:`sync` without the collector pause: decide full or partial, build, then both next states."""
    zone = full_sync.node_zone(cluster, config)
    # Of the Node's labels only the zone counts (kube-proxy's node handler drops every other label change)
    basis = (replace(config, node_labels=()), zone)
    full = state.need_full_sync or state.basis != basis or _full_sync_due(state, now, timing)
    services, ctx, endpoint_total = _service_rules(state, cluster, config, zone, full, changed_keys, index)
    totals = _totals_after(state, services, full, changed_keys)
    acc = _assemble(ctx, services, full, changed_keys, totals)
    cleanup = _cleanup_due(state, ctx.large_cluster, now, timing)
    if existing_chains is None:
        existing = state.nat_chains
    else:
        existing = frozenset(c for c in existing_chains if naming.is_service_chain(c))
    stale = _stale_chains(existing, services) if cleanup else []
    restore = _restore_input(ctx, acc, stale)
    nat_synced = _count(restore.table("nat"))
    metrics = SyncMetrics(full, _count(restore.table("filter")), nat_synced, nat_synced + acc.skipped_rules,
                          len(stale), acc.no_local_internal, acc.no_local_external, state.restore_failures,
                          state.partial_restore_failures, state.last_applied)
    written = frozenset(acc.written_chains)
    # When nothing appeared or went, skip copying a set of every endpoint chain of the cluster.
    kernel_after = (existing | written).difference(stale) if stale or not written <= existing else existing
    succeeded = SyncState(
        need_full_sync=False,
        last_full_sync=now if full else state.last_full_sync,
        last_cleanup=now if cleanup else state.last_cleanup,
        nat_chains=kernel_after,
        services=MappingProxyType(services),
        basis=basis,
        endpoint_total=endpoint_total,
        port_totals=totals,
        no_local_endpoints=(acc.no_local_internal, acc.no_local_external),
        restore_failures=state.restore_failures,
        partial_restore_failures=state.partial_restore_failures,
        last_applied=state.last_applied,  # until apply_outcome stamps the applied restore
    )
    failed = replace(succeeded, need_full_sync=True, last_full_sync=state.last_full_sync, nat_chains=existing,
                     no_local_endpoints=state.no_local_endpoints,
                     restore_failures=state.restore_failures + 1,
                     partial_restore_failures=state.partial_restore_failures + (0 if full else 1))
    jumps = full_sync.jump_rules() if full else ()
    return SyncOutcome(restore, full, metrics, jumps, succeeded, failed)


# ---------------------------------------------------------------------------
# What changed between two sets of objects
# ---------------------------------------------------------------------------


def changed_services(before: Cluster, after: Cluster, ipv6: bool = False) -> frozenset[str]:
    """Services ("namespace/name") a partial sync from ``before`` to ``after`` rewrites, as kube-proxy's change
    trackers decide (:mod:`~kubeproxy_sim.proxier.views`): a Service whose port map for the proxier's family
    changed, and the Service of every slice the proxier sees that changed in any way.

    A slice that moves from one service to another changes both.
    """
    old_svc = {s.key: service_view(s, ipv6) for s in before.services}
    new_svc = {s.key: service_view(s, ipv6) for s in after.services}
    changed = {key for key in old_svc.keys() | new_svc.keys() if old_svc.get(key) != new_svc.get(key)}
    return frozenset(changed) | slice_changed_services(before.endpoint_slices, after.endpoint_slices, ipv6)


# ---------------------------------------------------------------------------
# The node's side: iptables-restore --noflush
# ---------------------------------------------------------------------------

# Targets that are extensions, not chains (a jump to anything else must name a chain of the table).
TARGET_EXTENSIONS = frozenset({
    "ACCEPT", "DROP", "REJECT", "RETURN", "QUEUE", "NFQUEUE", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP",
    "MARK", "CONNMARK", "LOG", "NFLOG", "NOTRACK", "CT", "TPROXY", "TCPMSS", "CLASSIFY", "AUDIT", "TRACE",
    "SET", "CHECKSUM", "TEE",
})
_JUMP = re.compile(r'(?:^| )-[jg] ("[^"]*"|\S+)')
_QUOTED = re.compile(r'"[^"]*"')


def jump_target(spec: str) -> str | None:
    """The ``-j``/``-g`` target of a rule's text (quoted comments cannot fake one)."""
    m = _JUMP.search(_QUOTED.sub('""', spec))
    return m.group(1) if m else None


def _empty_table(name: str) -> Table:
    """A table as the kernel creates it: its built-in chains with policy ACCEPT."""
    return Table(name, tuple(Chain(c, (), "ACCEPT") for c in BUILTIN_CHAINS.get(name, ())))


def _apply_table(current: Table, restore: Table) -> Table:
    """Declared chains are flushed and refilled, ``-X`` deletes, every other chain is left alone."""
    chains = {c.name: c for c in current.chains}
    for chain in restore.chains:
        old = chains.get(chain.name)
        policy = chain.policy if chain.policy is not None else (old.policy if old is not None else None)
        chains[chain.name] = Chain(chain.name, chain.rules, policy)
    for name in restore.deleted:
        _delete_chain(restore.name, chains, name)
    _check_targets(restore.name, chains, [chains[c.name] for c in restore.chains if c.name in chains])
    return Table(current.name, tuple(chains.values()))


def _delete_chain(table: str, chains: dict[str, Chain], name: str) -> None:
    if name in BUILTIN_CHAINS.get(table, ()):
        raise RestoreError(f"iptables-restore: table {table}: cannot delete built-in chain {name}")
    chain = chains.get(name)
    if chain is None:
        raise RestoreError(f"iptables-restore: table {table}: cannot delete chain {name}: no such chain")
    if chain.rules:
        raise RestoreError(f"iptables-restore: table {table}: cannot delete chain {name}: it still has "
                           f"{len(chain.rules)} rules (declare it first to flush it)")
    users = sorted(c.name for c in chains.values() if c.name != name
                   and any(jump_target(r.spec) == name for r in c.rules))
    if users:
        raise RestoreError(f"iptables-restore: table {table}: cannot delete chain {name}: still referenced "
                           f"from {', '.join(users)}")
    del chains[name]


def _check_targets(table: str, chains: dict[str, Chain], written: Iterable[Chain] | None = None) -> None:
    """Every jump must land on a chain of the table or a target extension, as the kernel insists.

    Only the ``written`` chains (default: all) need looking at: the others' jumps were checked when they
    were written, and a chain they jump to can only go away through ``-X``, which refuses while in use.
    """
    for chain in chains.values() if written is None else written:
        for rule in chain.rules:
            target = jump_target(rule.spec)
            if target is not None and target not in chains and target not in TARGET_EXTENSIONS:
                raise RestoreError(f"iptables-restore: table {table}: rule in chain {chain.name} jumps to "
                                   f"{target}, which is neither a chain nor a target")


def apply_restore(state: Ruleset, restore: Ruleset) -> Ruleset:
    """The node's tables after ``iptables-restore --noflush`` of ``restore``; raises RestoreError, with the
    node unchanged, when the kernel would refuse it (deleting a chain still in use, jumping nowhere)."""
    tables = {t.name: t for t in state.tables}
    order = [t.name for t in state.tables]
    for table in restore.tables:
        if table.name not in tables:
            order.append(table.name)
        tables[table.name] = _apply_table(tables.get(table.name) or _empty_table(table.name), table)
    return Ruleset(tuple(tables[name] for name in order), state.ipv6 if state.tables else restore.ipv6)


@dataclass(frozen=True, slots=True)
class Step:
    """A sync applied to a node: the node and state after it, the sync, and the refusal if any."""

    node: Ruleset
    state: SyncState
    outcome: SyncOutcome
    error: RestoreError | None = None


def apply_outcome(node: Ruleset, outcome: SyncOutcome, at: float) -> Step:
    """Restore a sync's output on ``node`` at clock ``at`` and pick the state to go on from: the one place that
    knows a refusal leaves the node as it was, continues from ``failed`` and counts the failure in the metrics
    (:meth:`SyncOutcome.refused`), and that an applied one is stamped ``at`` (:meth:`SyncOutcome.applied`), so a
    one-shot step and the watch loop cannot drift apart."""
    try:
        after = apply_restore(node, outcome.restore)
    except RestoreError as exc:
        return Step(node, outcome.failed, outcome.refused(), exc)
    applied = outcome.applied(at)
    return Step(after, applied.succeeded, applied)


def node_service_chains(node: Ruleset) -> frozenset[str]:
    """The per-service chains (KUBE-SVC/SVL/EXT/FW/SEP) of a node's nat table: what kube-proxy's iptables-save
    lists, among which it looks for stale chains."""
    nat = node.table("nat")
    return frozenset(c.name for c in nat.chains if naming.is_service_chain(c.name)) if nat else frozenset()


def sync_and_apply(node: Ruleset, state: SyncState, cluster: Cluster, config: ProxyConfig, changed: Iterable[str],
                   now: float, timing: SyncTiming = DEFAULT_TIMING, index: ObjectIndex | None = None) -> Step:
    """Run one sync and restore its output on ``node``; a refused restore leaves the node as it was.

    The stale chains are found in ``node`` itself, as kube-proxy reads them with iptables-save. The restore is
    applied at ``now`` (a step takes no time on this clock).
    """
    outcome = sync(state, cluster, config, changed, now, timing, node_service_chains(node), index)
    return apply_outcome(node, outcome, now)
