"""kube-proxy's sync loop, driven by watch events: sources -> state and trackers -> partial syncs.

kube-proxy never rewrites rules per event. Its informers fold events into the
change trackers and ask for a sync; the sync runner (kubernetes 531be81208e2:
``NewBoundedFrequencyRunner(minSyncPeriod, retryInterval=syncPeriod,
maxInterval=FullSyncPeriod)``) runs one

* when asked (a change), no sooner than ``min_sync_period`` after the previous
  one, so a burst of events costs one sync;
* ``sync_period`` after a sync whose restore was refused (a retry, full);
* ``full_sync_period`` (an hour) after the previous sync when nothing asked for
  one: a full sync, as one more than an hour after the last full sync is.

Nothing changed, nothing failed: no sync before the hour. Nothing is synced
before the initial lists of the kinds the proxier needs are complete, nor,
given a :class:`NodeWait`, before kube-proxy's wait at start for its own Node
object is over.

:class:`SyncLoop` is that loop as an object with an injected clock (monotonic:
the pacing), wall clock (the last-sync timestamp metric) and timer:
``feed(batch)`` folds a source's batch, ``sync_if_due()`` runs a sync when one
is due and returns its :class:`SyncReport`, and :func:`drive` strings them
together over a source. The node's tables are kept by applying each restore
input with :func:`~kubeproxy_sim.proxier.partial.apply_outcome`, as
``iptables-restore --noflush`` would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from kubeproxy_sim.errors import Diagnostic, InputError, Severity
from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.objects.model import Cluster, Node
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.partial import (
    ObjectIndex,
    RestoreError,
    SyncMetrics,
    SyncState,
    SyncTiming,
    apply_outcome,
    node_service_chains,
)
from kubeproxy_sim.proxier.partial import sync as partial_sync
from kubeproxy_sim.proxier.sync import node_zone
from kubeproxy_sim.proxier.views import service_view, slice_state
from kubeproxy_sim.watch.events import Batch, EventType, Kind, WatchEvent
from kubeproxy_sim.watch.overlaps import OverlapWarnings
from kubeproxy_sim.watch.state import ClusterState, keep_deleted_node
from kubeproxy_sim.watch.trackers import EndpointSliceChangeTracker, ServiceChangeTracker

Configure = Callable[[Cluster], tuple[ProxyConfig, Sequence[Diagnostic]]]
"""Builds the node's config from the objects (its Node object supplies addresses, zone, pod CIDRs); raises
:class:`Exited` for a Node change kube-proxy exits on, InputError for a node kube-proxy fails to start on."""


class Exited(Exception):
    """kube-proxy exits on what the objects became (its Node's new pod CIDRs under detect-local-mode NodeCIDR),
    to be restarted: what it said, after what the batch that brought it had to say. The loop is then done with;
    its ``state`` holds that batch, for the restarted kube-proxy to list."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__("; ".join(map(str, diagnostics)))
        self.diagnostics = tuple(diagnostics)

DEFAULT_WAIT_FOR = frozenset({Kind.SERVICE, Kind.ENDPOINT_SLICE, Kind.NODE})


@dataclass(frozen=True, slots=True)
class LoopTiming:
    """kube-proxy's periods in seconds: ``--iptables-min-sync-period`` (1s), ``--iptables-sync-period``
    (30s: the retry after a refused restore; also paces large clusters' stale-chain cleanup) and the forced
    full resync (one hour: the sync runner's maximum interval)."""

    min_sync_period: float = 1.0
    sync_period: float = 30.0
    full_sync_period: float = 3600.0

    def sync_timing(self) -> SyncTiming:
        return SyncTiming(sync_period=self.sync_period, full_sync_period=self.full_sync_period)


class SyncReason(StrEnum):
    """Why a sync ran: the first one, changes waiting, the retry ``sync_period`` after a refused restore, or
    ``full_sync_period`` (an hour) gone by with no sync."""

    INITIAL = "initial"
    CHANGES = "changes"
    RETRY = "retry"
    FULL_SYNC_PERIOD = "full-sync-period"


@dataclass(frozen=True, slots=True)
class SyncReport:
    """One sync of the loop.

    ``duration``: seconds from taking the trackers' changes to the restore
    input (the injected timer); ``apply_duration``: the emulated
    iptables-restore on the node. ``diagnostics``: everything reported since
    the previous sync (sources, folding, the node config). ``node``: the
    node's tables after this sync (unchanged when ``error`` says the restore
    was refused, in which case the next sync is full). ``overlaps``: what
    the sync itself found in the objects it took in, not in ``diagnostics``:
    endpoints two slices of a Service list in copies kube-proxy picks between
    at random (see :mod:`kubeproxy_sim.watch.overlaps`), each said once while
    it holds.
    """

    number: int
    full: bool
    reason: SyncReason
    at: float
    restore: Ruleset
    duration: float
    apply_duration: float
    metrics: SyncMetrics
    changed: frozenset[str]
    diagnostics: tuple[Diagnostic, ...]
    node: Ruleset
    error: RestoreError | None = None
    overlaps: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeWait:
    """kube-proxy's wait at start for its own Node object (kubernetes 531be81208e2, pkg/proxy/node.go:
    newNodeManager), before it builds its proxier: once its Node informer has listed, up to ``ips_timeout``
    (30 s) for the Node ``name`` to exist with node IPs, then, when it watches pod CIDRs (``pod_cidrs``:
    detect-local-mode NodeCIDR) and has none, up to ``pod_cidrs_timeout`` (5 min) more for spec.podCIDRs.
    Without IPs kube-proxy logs the timeout and starts anyway; without pod CIDRs it fails to start (the
    loop's ``Configure`` is then to refuse the node, as the commands' build_config does).
    ``ips`` False: the node's IPs come from elsewhere (the commands' --node-ip), so none are waited for.
    A Node still missing when the wait is over is said once, by the wait (its timeout; a warning when the IPs
    were not waited for): the ``Configure`` need not say it again. (kube-proxy looks once a second; the loop
    ends the wait at the first batch that shows the Node.)"""

    name: str
    ips: bool = True
    pod_cidrs: bool = False
    ips_timeout: float = 30.0
    pod_cidrs_timeout: float = 300.0


class _NodeWaiter:
    """Where a :class:`NodeWait` stands: ``step`` it with the Node as the state holds it; ``over`` once it is."""

    def __init__(self, wait: NodeWait) -> None:
        self.wait = wait
        self.over = False
        self._phase: tuple[str, float] | None = None  # ("ips" | "pod_cidrs", since when)

    def _lacks_ips(self, node: Node | None) -> bool:
        return self.wait.ips and not _has_ips(node)

    def _lacks_pod_cidrs(self, node: Node | None) -> bool:
        return self.wait.pod_cidrs and not (node is not None and node.pod_cidrs)

    def step(self, node: Node | None, now: float) -> list[Diagnostic]:
        """Move the wait on at ``now``; what it has to say (each phase's start, a timeout)."""
        wait, name, said = self.wait, repr(self.wait.name), []
        if self._phase is None:
            self._phase = ("ips", now)
            if self._lacks_ips(node):
                said.append(Diagnostic(f"waiting for Node {name} {_missing(node)}: kube-proxy waits up to "
                                       f"{wait.ips_timeout:g}s at start for its Node's addresses before its first "
                                       "sync (--node-ip gives them and skips this wait)", severity=Severity.NOTE))
        phase, since = self._phase
        if phase == "ips":
            if self._lacks_ips(node) and now < since + wait.ips_timeout:
                return said
            self._phase = phase, since = ("pod_cidrs", min(now, since + wait.ips_timeout))
            if self._lacks_pod_cidrs(node):
                said.append(Diagnostic(f"waiting for Node {name} {_missing(node, 'spec.podCIDRs')}: kube-proxy "
                                       f"(detect-local-mode NodeCIDR) waits up to {wait.pod_cidrs_timeout:g}s more "
                                       "for its spec.podCIDRs, then fails to start", severity=Severity.NOTE))
        if self._lacks_pod_cidrs(node) and now < since + wait.pod_cidrs_timeout:
            return said
        self.over = True  # without pod CIDRs, the config refuses to be built, as kube-proxy fails to start
        if self._lacks_pod_cidrs(node):
            return said
        if self._lacks_ips(node):
            said.append(Diagnostic(f"timed out waiting for Node {name} {_missing(node)}: kube-proxy starts without "
                                   "its node IPs, assuming loopback (127.0.0.1, ::1) unless --bind-address names one, "
                                   "until it restarts", severity=Severity.WARNING))
        elif node is None:  # (the IPs not waited for: nothing said it yet)
            said.append(Diagnostic(f"no Node object named {name}; node facts come from flags only",
                                   severity=Severity.WARNING))
        return said


def _missing(node: Node | None, what: str = "node IPs") -> str:
    return "to exist" if node is None else f"to have {what}"


def _has_ips(node: Node | None) -> bool:
    """Whether kube-proxy finds node IPs on the Node (GetNodeHostIPs: an InternalIP or ExternalIP address)."""
    return node is not None and bool(node.host_ips)


def _fixed(config: ProxyConfig) -> Configure:
    return lambda _cluster: (config, ())


class SyncLoop:
    """Watch events in, kube-proxy syncs out; see the module docstring for the scheduling rules."""

    def __init__(self, config: ProxyConfig | Configure, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, timer: Callable[[], float] = time.perf_counter,
                 timing: LoopTiming = LoopTiming(), node: Ruleset | None = None,
                 wait_for: frozenset[Kind] = DEFAULT_WAIT_FOR, node_wait: NodeWait | None = None) -> None:
        self._configure = _fixed(config) if isinstance(config, ProxyConfig) else config
        # kube-proxy paces its syncs by the monotonic reading of Go's time.Now() (``clock``), and stamps
        # sync_proxy_rules_last_timestamp_seconds with SetToCurrentTime, the wall clock's Unix time (``wall``):
        # a step of the wall clock moves the stamp, never the pacing
        self._clock, self._wall = clock, wall
        self._timer = timer
        self.timing = timing
        self._wait_for = wait_for
        self._node_wait = _NodeWaiter(node_wait) if node_wait is not None else None
        self.state = ClusterState()
        self.services = ServiceChangeTracker(lambda svc: service_view(svc, self._ipv6()))
        self.slices = EndpointSliceChangeTracker(lambda es: slice_state(es, self._ipv6()))
        self.overlaps = OverlapWarnings()
        self.node = node if node is not None else Ruleset()
        # The loop alone writes the node from here on, so the state's record of its chains stays what
        # iptables-save would list: the given node's per-service chains are stale unless the first sync uses them.
        self.sync_state = SyncState(nat_chains=node_service_chains(self.node))
        self.number = 0
        self.last_sync: float | None = None
        self.requested = False
        self.failed = False  # the last sync's restore was refused: retried after the sync period
        self._config: ProxyConfig | None = None
        self._config_diagnostics: tuple[Diagnostic, ...] = ()
        self._nodes_changed = True
        self._diagnostics: list[Diagnostic] = []
        # the node's Node object as last seen, kept while the state has none of its name: kube-proxy ignores a
        # Node's deletion, so the node keeps its zone (replay does the same per state). The Node objects the
        # proxier sees (the state's, and that kept one) and the node's zone, as the config was last built on.
        self._last_node: Node | None = None
        self._nodes_seen: tuple[Node, ...] = ()
        self._zone: str | None = None

    # -- folding events -----------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        """Whether the initial lists of the kinds waited for are complete (kube-proxy's isInitialized) and the
        wait for the node's Node (:class:`NodeWait`) is over."""
        return self._wait_for <= self.state.synced and (self._node_wait is None or self._node_wait.over)

    @property
    def config(self) -> ProxyConfig:
        """The node's config for the objects as they are now (rebuilt when a Node object changed)."""
        self._refresh_config(self._diagnostics)
        assert self._config is not None
        return self._config

    def feed(self, batch: Batch) -> tuple[Diagnostic, ...]:
        """Fold one batch into the state and the trackers; returns the problems it brought, to show now.

        An event that leaves the trackers a change (or a new node config) requests
        a sync; changes undone before the sync, in this batch or a later one, still
        leave it requested, as in kube-proxy, whose sync then rewrites nothing
        service-specific.
        """
        found = list(batch.diagnostics)
        asked = self.requested  # whether an event left a change for the next sync (kube-proxy asks per event)
        for event in batch.events:
            problem = self.state.apply(event)
            if problem is not None:
                found.append(problem)
                continue
            if event.kind is Kind.SERVICE:
                self.services.observe(event)
                asked = asked or self.services.asks_sync(event.key)
            elif event.kind is Kind.ENDPOINT_SLICE:
                self.slices.observe(event)
                asked = asked or self.slices.asks_sync(event.key)
            elif event.kind is Kind.NODE:
                self._nodes_changed = True
                asked = self._see_topology(event) or asked
        waiter = self._node_wait
        if waiter is not None and not waiter.over and Kind.NODE in self.state.synced:
            found.extend(waiter.step(self.state.get(Kind.NODE, waiter.wait.name), self._clock()))
        if self.initialized:
            try:
                rebuilt = self._refresh_config(found)
            except Exited as exc:
                raise Exited((*found, *exc.diagnostics)) from None
            except InputError as exc:  # kube-proxy fails to start (no pod CIDR): what the batch said comes first
                raise InputError([*found, *exc.diagnostics]) from None
            if not self.requested and self.number:
                self.requested = asked or (rebuilt and self._basis_changed())
        self._diagnostics.extend(found)
        return tuple(found)

    def _ipv6(self) -> bool:
        """The proxier's family, for the trackers: which Service fields and slices it reads."""
        return self._config.ipv6 if self._config is not None else False

    def _see_topology(self, event: WatchEvent) -> bool:
        """kube-proxy's topology handler, per Node event: this node's zone other than the last one seen forces the
        next sync full and asks for it (True). NodeTopologyConfig calls OnTopologyChange (needFullSync, then
        Sync) on each change it sees, so z1 -> z2 -> z1 within one batch counts; a deletion it ignores. Before
        the first config nothing is compared: the first sync is full anyway. The zone is the event's Node's, as
        upstream's handler gets that Node's labels: not the config's node_labels, the Node's as it was when the
        config was built."""
        node = event.obj if event.type in (EventType.ADDED, EventType.MODIFIED) else None
        if self._config is None or not isinstance(node, Node) or node.name != self._config.node_name:
            return False
        zone = node_zone(Cluster(nodes=(node,)), replace(self._config, node_labels=()))
        if zone == self._zone:
            return False
        self._zone = zone
        self.sync_state = self.sync_state.forcing_full()
        return True

    def _refresh_config(self, found: list[Diagnostic]) -> bool:
        """Rebuild the config after Node changes (True when it did); its problems go to ``found`` when they
        differ from last time, so a warning about the node is not repeated on every change."""
        if not self._nodes_changed and self._config is not None:
            return False
        self._nodes_changed = False
        cluster, kept = keep_deleted_node(self.state.cluster(), self._last_node)
        config, problems = self._configure(cluster)
        self._config = config
        # (a zone the Node events did not show, a node picked since, say, comes with a new config: the sync's
        # basis then differs, and the sync is full)
        self._nodes_seen, self._zone = cluster.nodes, node_zone(cluster, config)
        self._last_node = cluster.node(config.node_name) or self._last_node
        problems = (*problems, *([kept] if kept is not None else []))
        if problems != self._config_diagnostics:
            found.extend(problems)
        self._config_diagnostics = problems
        return True

    def _basis_changed(self) -> bool:
        """Whether the node config or zone differs from the last sync's (the next sync is then full)."""
        config = self.config  # first: its refresh sets the zone
        return self.sync_state.basis != (replace(config, node_labels=()), self._zone)

    # -- scheduling ---------------------------------------------------------------------------------

    def due_at(self) -> float | None:
        """When the next sync is due (clock seconds); None before the initial lists are complete."""
        if not self.initialized:
            return None
        if self.last_sync is None:
            return float("-inf")
        last, timing = self.last_sync, self.timing
        due = last + timing.full_sync_period
        if self.requested:
            due = min(due, last + timing.min_sync_period)
        if self.failed:  # the runner's retry timer, still held to the minimum interval
            due = min(due, last + max(timing.sync_period, timing.min_sync_period))
        return due

    def sync_if_due(self, now: float | None = None) -> SyncReport | None:
        """Run the sync that is due at ``now`` (default: the clock), if any."""
        now = self._clock() if now is None else now
        due = self.due_at()
        if due is None or now < due:
            return None
        return self.sync_now(now)

    # -- one sync -----------------------------------------------------------------------------------

    def sync_now(self, now: float | None = None) -> SyncReport:
        """Sync whatever the trackers hold, now, and restore the result on the node."""
        now = self._clock() if now is None else now
        reason = (SyncReason.INITIAL if not self.number else SyncReason.CHANGES if self.requested
                  else SyncReason.RETRY if self.failed else SyncReason.FULL_SYNC_PERIOD)
        if reason is SyncReason.FULL_SYNC_PERIOD:
            # the runner's maximum interval ran out: upstream's sync finds more than an hour since its last full
            # one (the timer starts when the previous sync ends, after that sync took its start time)
            self.sync_state = self.sync_state.forcing_full()
        start = self._timer()
        config = self.config  # first: the trackers read its family, and its refresh sets the nodes seen
        services, slices = self.services.apply(), self.slices.apply()
        changed = services.changed | slices.changed
        # The proxier sorts what it reads, so the trackers' objects serve as they are, unsorted: re-sorting
        # ten thousand slices after one change would cost more than the partial sync itself.
        cluster = Cluster(services=tuple(services.objects.values()), endpoint_slices=tuple(slices.objects.values()),
                          nodes=self._nodes_seen)
        outcome = partial_sync(self.sync_state, cluster, config, changed, now, self.timing.sync_timing(),
                               index=ObjectIndex(services.objects, slices.by_service))
        duration = self._timer() - start
        overlaps = self.overlaps.check(services.objects, slices.by_service, changed, config.ipv6)
        start = self._timer()
        # (stamped as the restore is handed over: the emulated restore's time is not the kernel's)
        step = apply_outcome(self.node, outcome, self._wall())
        apply_duration = self._timer() - start
        self.node, self.sync_state, outcome, error = step.node, step.state, step.outcome, step.error
        self.number += 1
        self.last_sync, self.requested, self.failed = now, False, error is not None
        diagnostics, self._diagnostics = tuple(self._diagnostics), []
        return SyncReport(self.number, outcome.full, reason, now, outcome.restore, duration, apply_duration,
                          outcome.metrics, changed, diagnostics, self.node, error, overlaps)


def drive(loop: SyncLoop, poll: Callable[[float], Batch], *, clock: Callable[[], float] = time.monotonic,
          poll_interval: float = 1.0, max_syncs: int | None = None,
          on_diagnostics: Callable[[tuple[Diagnostic, ...]], None] | None = None) -> Iterator[SyncReport]:
    """Poll a source and yield each sync's report, forever or until ``max_syncs``.

    ``poll(timeout)`` returns the source's next batch, waiting up to
    ``timeout`` seconds (a live source returns as soon as something arrives; a
    polled one sleeps, then looks). The wait is the poll interval, cut short
    when a sync falls due sooner. ``on_diagnostics`` sees problems as they
    arrive, before the sync that carries them, and a sync's ``overlaps``
    before that sync is yielded.
    """
    done, timeout = 0, 0.0
    while max_syncs is None or done < max_syncs:
        found = loop.feed(poll(timeout))
        if found and on_diagnostics is not None:
            on_diagnostics(found)
        report = loop.sync_if_due()
        if report is not None:
            if report.overlaps and on_diagnostics is not None:
                on_diagnostics(report.overlaps)
            done += 1
            yield report
        due = loop.due_at()
        timeout = poll_interval if due is None else max(0.0, min(poll_interval, due - clock()))
