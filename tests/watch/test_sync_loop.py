"""SyncLoop: sources -> state and trackers -> full, then partial, syncs, scheduled by an injected clock."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table
from kubeproxy_sim.objects.model import Cluster, Node
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.naming import is_kube_proxy_chain, is_service_chain
from kubeproxy_sim.proxier.partial import apply_restore
from kubeproxy_sim.watch import ApiServerSource, Batch, Kind, MemorySource
from kubeproxy_sim.watch.events import added, bookmark, deleted, modified
from kubeproxy_sim.watch.sync_loop import Exited, LoopTiming, NodeWait, SyncLoop, SyncReason, drive

from ._objects import eps, node_json, slice_json, svc, svc_json

CONFIG = ProxyConfig(node_name="n1", node_ips=("192.168.0.1/24",), cluster_cidrs=("10.0.0.0/8",))
ZONE = "topology.kubernetes.io/zone"


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def kube_chains(node: Ruleset) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(t.name, c.name): tuple(r.spec for r in c.rules)
            for t in node.tables for c in t.chains if is_kube_proxy_chain(c.name)}


def full_sync_node(loop: SyncLoop) -> dict[tuple[str, str], tuple[str, ...]]:
    """The node a single full sync of the loop's current objects would give."""
    return kube_chains(apply_restore(Ruleset(), generate(loop.state.cluster(), CONFIG).ruleset))


def service_chains(restore: Ruleset) -> set[str]:
    nat = restore.table("nat")
    assert nat is not None
    return {c.name for c in nat.chains if is_service_chain(c.name)}


def make(objects=(), **timing) -> tuple[MemorySource, SyncLoop, Clock]:
    clock = Clock()
    timing.setdefault("min_sync_period", 1.0)
    timing.setdefault("sync_period", 30.0)
    source = MemorySource(objects)
    loop = SyncLoop(CONFIG, clock=clock, timing=LoopTiming(**timing))
    return source, loop, clock


def step(source: MemorySource, loop: SyncLoop):
    loop.feed(source.poll())
    return loop.sync_if_due()


BASE = (svc("a", "172.30.0.1"), eps("a-1", "a", ["10.0.1.1", "10.0.1.2"]),
        svc("b", "172.30.0.2"), eps("b-1", "b", ["10.0.2.1"]), Node("n1"))


# --------------------------------------------------------------------------- scheduling


def test_nothing_syncs_before_the_initial_lists_are_complete():
    loop = SyncLoop(CONFIG, clock=Clock(), timing=LoopTiming())
    loop.feed(Batch((added(svc("a", "172.30.0.1"), "1"), bookmark(Kind.SERVICE, "1"))))
    assert loop.due_at() is None and loop.sync_if_due() is None
    loop.feed(Batch((bookmark(Kind.ENDPOINT_SLICE, "1"),)))
    assert loop.sync_if_due() is None  # the Node list is still missing: its addresses shape the rules
    loop.feed(Batch((bookmark(Kind.NODE, "1"),)))
    report = loop.sync_if_due()
    assert report is not None and report.number == 1 and report.full and report.reason is SyncReason.INITIAL
    assert "KUBE-SVC" not in str(service_chains(report.restore))  # no endpoints yet: no service chain


def _n1(*, ips: bool = True, pod_cidrs: bool = False) -> Node:
    from kubeproxy_sim.objects.model import NodeAddress

    return Node("n1", addresses=(NodeAddress("InternalIP", "192.168.0.1"),) if ips else (),
                pod_cidrs=("10.244.0.0/24",) if pod_cidrs else ())


def _waiting(wait: NodeWait) -> tuple[MemorySource, SyncLoop, Clock]:
    clock = Clock()
    return MemorySource(BASE[:4]), SyncLoop(CONFIG, clock=clock, node_wait=wait), clock


def _said(found: tuple[Diagnostic, ...]) -> list[str]:
    return [f"{d.severity.value}: {d.message}" for d in found]


def test_with_no_node_object_the_first_sync_waits_30s_then_runs_with_a_warning():
    """kubernetes 531be81208e2, pkg/proxy/node.go newNodeManager: once its Node informer has listed, kube-proxy
    waits up to 30 s for its Node to exist with node IPs; then, without them, it logs the timeout and goes on."""
    source, loop, clock = _waiting(NodeWait("n1"))
    assert _said(loop.feed(source.poll())) == [
        "note: waiting for Node 'n1' to exist: kube-proxy waits up to 30s at start for its Node's addresses before "
        "its first sync (--node-ip gives them and skips this wait)"]
    assert loop.due_at() is None and loop.sync_if_due() is None
    clock.now += 29.9
    assert loop.feed(source.poll()) == () and loop.sync_if_due() is None
    clock.now += 0.1
    assert _said(loop.feed(source.poll())) == [
        "warning: timed out waiting for Node 'n1' to exist: kube-proxy starts without its node IPs, assuming "
        "loopback (127.0.0.1, ::1) unless --bind-address names one, until it restarts"]
    report = loop.sync_if_due()
    assert report is not None and report.full and report.reason is SyncReason.INITIAL


@pytest.mark.parametrize("late", [_n1(), Node("n1")], ids=["with-ips", "without-ips"])
def test_the_node_s_ips_end_the_wait_at_once_and_a_node_without_them_is_waited_for(late: Node):
    source, loop, clock = _waiting(NodeWait("n1"))
    loop.feed(source.poll())
    clock.now += 10
    source.apply(late)
    found = loop.feed(source.poll())
    if late.ips:
        assert found == () and loop.sync_if_due() is not None
        return
    assert loop.sync_if_due() is None  # a Node with no InternalIP nor ExternalIP is not what kube-proxy waits for
    clock.now += 20
    assert _said(loop.feed(source.poll())) == [
        "warning: timed out waiting for Node 'n1' to have node IPs: kube-proxy starts without its node IPs, "
        "assuming loopback (127.0.0.1, ::1) unless --bind-address names one, until it restarts"]
    assert loop.sync_if_due() is not None


@pytest.mark.parametrize("wait, objects, said", [
    (NodeWait("n1"), (*BASE[:4], _n1()), []),
    (NodeWait("n1", ips=False), (*BASE[:4], Node("n1")), []),
    (NodeWait("n1", ips=False), BASE[:4], ["warning: no Node object named 'n1'; node facts come from flags only"]),
], ids=["listed-with-ips", "no-ip-wait", "no-ip-wait-and-no-node"])
def test_a_node_listed_with_its_ips_is_not_waited_for_nor_without_an_ip_wait(wait, objects, said):
    """Without an IP wait (--node-ip) a Node that does not exist is not waited for: it is said, once, as the
    timeout says it otherwise (the Configure's own warning is then not wanted)."""
    loop = SyncLoop(CONFIG, clock=Clock(), node_wait=wait)
    assert _said(loop.feed(MemorySource(objects).poll())) == said and loop.sync_if_due() is not None


def test_a_node_with_only_a_hostname_address_has_no_node_ips_to_end_the_wait():
    """kube-proxy's GetNodeHostIPs takes InternalIP and ExternalIP addresses only (Node.host_ips)."""
    from kubeproxy_sim.objects.model import NodeAddress

    loop = SyncLoop(CONFIG, clock=Clock(), node_wait=NodeWait("n1"))
    named = Node("n1", addresses=(NodeAddress("Hostname", "n1"),))
    assert [d.message[:39] for d in loop.feed(MemorySource((*BASE[:4], named)).poll())] == [
        "waiting for Node 'n1' to have node IPs:"]
    assert loop.due_at() is None


def test_under_node_cidr_the_pod_cidrs_are_waited_for_5_minutes_more():
    """With watchPodCIDRs (detect-local-mode NodeCIDR), once the node IPs are there (or 30 s gone), kube-proxy
    waits up to 5 minutes more for spec.podCIDRs; then it fails to start, which the loop's config says."""
    source, loop, clock = _waiting(NodeWait("n1", pod_cidrs=True))
    loop.feed(source.poll())
    clock.now += 5
    source.apply(_n1())
    assert _said(loop.feed(source.poll())) == [
        "note: waiting for Node 'n1' to have spec.podCIDRs: kube-proxy (detect-local-mode NodeCIDR) waits up to 300s "
        "more for its spec.podCIDRs, then fails to start"]
    clock.now += 299.9
    assert loop.feed(source.poll()) == () and loop.sync_if_due() is None
    source.apply(_n1(pod_cidrs=True))
    assert loop.feed(source.poll()) == () and loop.sync_if_due() is not None


def test_under_node_cidr_a_node_that_never_comes_ends_the_wait_after_5m30s():
    source, loop, clock = _waiting(NodeWait("n1", pod_cidrs=True))
    loop.feed(source.poll())
    clock.now += 30
    assert [d.message[:36] for d in loop.feed(source.poll())] == ["waiting for Node 'n1' to exist: kube"]
    clock.now += 299
    assert loop.feed(source.poll()) == () and loop.due_at() is None
    clock.now += 1
    assert loop.feed(source.poll()) == () and loop.due_at() is not None  # the config is then to refuse the node


def test_a_change_syncs_no_sooner_than_min_sync_period_after_the_last_sync():
    source, loop, clock = make(BASE)
    assert step(source, loop).full
    clock.now += 0.2
    source.apply(eps("a-1", "a", ["10.0.1.1"]))
    assert step(source, loop) is None
    assert loop.due_at() == pytest.approx(101.0)
    clock.now = 100.9
    source.apply(eps("b-1", "b", ["10.0.2.1", "10.0.2.2"]))  # a burst: joins the same sync
    assert step(source, loop) is None
    clock.now = 101.0
    report = step(source, loop)
    assert report is not None and not report.full and report.reason is SyncReason.CHANGES
    assert report.changed == {"default/a", "default/b"} and report.at == 101.0
    assert step(source, loop) is None  # nothing left


def test_a_change_long_after_the_last_sync_syncs_at_once():
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 10
    source.apply(eps("a-1", "a", ["10.0.1.9"]))
    report = step(source, loop)
    assert report is not None and report.changed == {"default/a"}


def test_without_changes_only_the_full_sync_period_syncs():
    """kube-proxy's runner (531be81208e2: NewBoundedFrequencyRunner(minSyncPeriod, syncPeriod, FullSyncPeriod))
    retries after syncPeriod only a failed sync; with nothing changed it runs once per FullSyncPeriod, full."""
    source, loop, clock = make(BASE, sync_period=30.0)
    step(source, loop)
    clock.now += 29.9
    assert step(source, loop) is None
    clock.now += 0.1
    assert step(source, loop) is None  # the sync period forces nothing
    assert loop.due_at() == pytest.approx(3700.0)
    clock.now = 3699.9
    assert step(source, loop) is None
    clock.now = 3700.0
    report = step(source, loop)
    assert report is not None and report.reason is SyncReason.FULL_SYNC_PERIOD and report.full
    assert report.changed == frozenset() and service_chains(report.restore) == service_chains(
        generate(loop.state.cluster(), CONFIG).ruleset)
    assert kube_chains(report.node) == full_sync_node(loop)
    clock.now += 30.0
    assert step(source, loop) is None and loop.due_at() == pytest.approx(7300.0)


def test_service_changes_that_cancel_out_still_sync_but_rewrite_no_service_chain():
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 0.5
    source.apply(svc("a", "10.0.0.1", port=81))
    assert step(source, loop) is None
    source.apply(BASE[0])  # back as it was
    clock.now += 0.5
    report = step(source, loop)
    assert report is not None and report.changed == frozenset()
    assert service_chains(report.restore) == set()


def test_a_change_undone_within_one_batch_still_asks_for_a_sync():
    """kube-proxy's handlers ask for a sync per event (OnServiceUpdate: the tracker holds a change), so a
    Service created and deleted, or edited and edited back, in the same batch of events still syncs, as
    when the undoing came in a later batch; label-only edits ask for nothing."""
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 5
    passing = svc("passing", "172.30.0.9")
    loop.feed(Batch((added(passing, "7"), deleted(passing, "8"))))
    report = loop.sync_if_due()
    assert report is not None and not report.full and report.changed == frozenset()
    assert service_chains(report.restore) == set()
    clock.now += 5
    loop.feed(Batch((modified(svc("a", "172.30.0.1", port=81), "9"), modified(BASE[0], "10"))))
    assert loop.requested
    relabelled = dataclasses.replace(BASE[0], labels=(("team", "x"),))
    loop.sync_if_due()
    clock.now += 5
    loop.feed(Batch((modified(relabelled, "11"), modified(BASE[0], "12"))))
    assert not loop.requested and loop.sync_if_due() is None


def test_slice_changes_undone_before_the_sync_still_rewrite_the_service():
    """kube-proxy's slice cache holds every update that differs from the last one it has, so unlike a Service's
    the edit and its undoing both count: the Service's chains are rewritten (with the same rules)."""
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 0.5
    source.apply(eps("a-1", "a", ["10.0.1.7"]))
    assert step(source, loop) is None
    source.apply(eps("a-1", "a", ["10.0.1.1", "10.0.1.2"]))  # back as it was
    clock.now += 0.5
    report = step(source, loop)
    assert report is not None and report.changed == {"default/a"}
    assert service_chains(report.restore) and kube_chains(report.node) == full_sync_node(loop)


def test_label_only_changes_request_no_sync():
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 5
    source.apply(dataclasses.replace(BASE[0], labels=(("team", "x"),)))
    assert step(source, loop) is None and not loop.requested


def test_full_sync_period_forces_a_full_sync():
    source, loop, clock = make(BASE, full_sync_period=100.0, sync_period=30.0)
    step(source, loop)
    kinds = []
    for n in range(4):
        clock.now += 30.0
        source.apply(eps("a-1", "a", [f"10.0.1.{n + 10}"]))  # a sync more than the period after the full one
        kinds.append(step(source, loop).full)
    assert kinds == [False, False, False, True]


# --------------------------------------------------------------------------- full and partial


def test_partial_sync_writes_only_the_changed_service_chains():
    source, loop, clock = make(BASE)
    assert step(source, loop).full
    clock.now += 2
    source.apply(eps("a-1", "a", ["10.0.1.1", "10.0.1.3"]))
    report = step(source, loop)
    expected = generate(loop.state.cluster(), CONFIG).ruleset
    written = service_chains(report.restore)
    b_chains = {c for c in service_chains(expected) if any(
        "default/b" in r.spec for r in expected.table("nat").chain(c).rules)}
    assert written and not written & b_chains
    assert written <= service_chains(expected) | set(report.restore.table("nat").deleted)
    assert report.metrics.nat_rules_total == sum(len(c.rules) for c in expected.table("nat").chains)
    assert kube_chains(report.node) == full_sync_node(loop)


def test_a_deleted_service_has_its_chains_deleted():
    source, loop, clock = make(BASE)
    first = step(source, loop)
    b_chains = {c for c in service_chains(first.restore)
                if any("default/b" in r.spec for r in first.restore.table("nat").chain(c).rules)}
    assert len(b_chains) == 2  # KUBE-SVC and one KUBE-SEP
    clock.now += 2
    source.delete(Kind.SERVICE, "default/b")
    source.delete(Kind.ENDPOINT_SLICE, "default/b-1")
    report = step(source, loop)
    nat = report.restore.table("nat")
    assert not report.full and set(nat.deleted) == b_chains
    assert report.metrics.deleted_chains == 2
    assert not b_chains & {c.name for c in report.node.table("nat").chains}
    assert kube_chains(report.node) == full_sync_node(loop)


def test_a_node_zone_change_makes_the_next_sync_full():
    source, loop, clock = make((*BASE[:4], Node("n1", labels=((ZONE, "z1"),))))
    step(source, loop)
    clock.now += 2
    source.apply(Node("n2"))  # another node: not this one's config
    assert step(source, loop) is None
    source.apply(Node("n1", labels=((ZONE, "z2"),)))
    report = step(source, loop)
    assert report is not None and report.full and report.changed == frozenset()


def test_a_zone_changed_and_changed_back_before_the_sync_still_makes_it_full():
    """kube-proxy's topology handler sets needFullSync on each zone change it sees (531be81208e2:
    OnTopologyChange), not on a difference from the last sync: z1 -> z2 -> z1 between two syncs is full."""
    source, loop, clock = make((*BASE[:4], Node("n1", labels=((ZONE, "z1"),))))
    step(source, loop)
    clock.now += 0.2
    source.apply(Node("n1", labels=((ZONE, "z2"),)))
    assert step(source, loop) is None  # the minimum sync period holds it back
    source.apply(Node("n1", labels=((ZONE, "z1"),)))
    clock.now += 1
    report = step(source, loop)
    assert report is not None and report.full and report.changed == frozenset()
    clock.now += 2
    source.apply(Node("n1", labels=((ZONE, "z1"), ("team", "x"))))  # not the zone: no sync at all
    assert step(source, loop) is None


def test_a_zone_changed_and_changed_back_within_one_batch_still_makes_the_sync_full():
    """The topology handler runs per Node event, so z1 -> z2 -> z1 in one batch of the API server's events is a
    zone change seen twice: the next sync is full, though the last event leaves the zone as it was."""
    source, loop, clock = make((*BASE[:4], Node("n1", labels=((ZONE, "z1"),))))
    step(source, loop)
    clock.now += 2
    loop.feed(Batch((modified(Node("n1", labels=((ZONE, "z2"),)), "7"),
                     modified(Node("n1", labels=((ZONE, "z1"),)), "8"))))
    report = loop.sync_if_due()
    assert report is not None and report.full and report.changed == frozenset()


def test_a_zone_changed_and_back_in_one_batch_counts_when_the_config_carries_the_node_s_labels():
    """The commands' config carries the node's Node labels (build_config's node_labels), as they were when it
    was built: the topology handler still takes each event's zone from that event's Node, as upstream's
    OnTopologyChange gets the Node's labels, so z1 -> z2 -> z1 in one batch still makes the sync full."""
    def configure(cluster: Cluster):
        node = cluster.node("n1")
        return dataclasses.replace(CONFIG, node_labels=node.labels if node is not None else ()), ()

    clock = Clock()
    source = MemorySource((*BASE[:4], Node("n1", labels=((ZONE, "z1"),))))
    loop = SyncLoop(configure, clock=clock, timing=LoopTiming(min_sync_period=1.0, sync_period=30.0))
    step(source, loop)
    clock.now += 2
    loop.feed(Batch((modified(Node("n1", labels=((ZONE, "z2"),)), "7"),
                     modified(Node("n1", labels=((ZONE, "z1"),)), "8"))))
    report = loop.sync_if_due()
    assert report is not None and report.full and report.changed == frozenset()


def test_a_node_picked_after_the_first_sync_makes_the_next_sync_full_with_its_zone():
    """Syncs before any Node object run as a stand-in node; the Node picked later (another name, so its events
    are no zone change of the node synced) brings a new config and its zone: the sync's basis differs, and the
    sync is full, with the zone's endpoints."""
    def configure(cluster: Cluster):
        node = min(cluster.nodes, key=lambda n: n.name) if cluster.nodes else None
        if node is None:
            return dataclasses.replace(CONFIG, node_name="node1"), ()
        return dataclasses.replace(CONFIG, node_name=node.name, node_labels=node.labels), ()

    clock = Clock()
    source = MemorySource(BASE[:4])
    loop = SyncLoop(configure, clock=clock, timing=LoopTiming(min_sync_period=1.0, sync_period=30.0))
    assert step(source, loop) is not None
    clock.now += 2
    source.apply(Node("n1", labels=((ZONE, "z1"),)))
    report = step(source, loop)
    assert report is not None and report.full and loop.config.node_name == "n1"
    assert loop.sync_state.basis is not None and loop.sync_state.basis[1] == "z1"


def test_node_config_follows_the_node_object():
    from kubeproxy_sim.objects.model import NodeAddress

    configs = []

    def configure(cluster: Cluster):
        node = cluster.node("n1")
        ips = tuple(f"{a.address}/24" for a in node.addresses) if node else ()
        configs.append(ips)
        problems = () if node else (Diagnostic("no Node object named 'n1'", severity=Severity.WARNING),)
        return dataclasses.replace(CONFIG, node_ips=ips), problems

    clock = Clock()
    source = MemorySource(BASE[:4])
    loop = SyncLoop(configure, clock=clock, timing=LoopTiming(min_sync_period=0))
    first = step(source, loop)
    assert [d.message for d in first.diagnostics] == ["no Node object named 'n1'"]
    source.apply(svc("c", "172.30.0.3"))  # no node change: the config is not rebuilt
    step(source, loop)
    assert configs == [()]
    clock.now += 1
    source.apply(Node("n1", addresses=(NodeAddress("InternalIP", "192.168.5.5"),)))
    report = step(source, loop)
    assert report.full and configs[-1] == ("192.168.5.5/24",) and report.diagnostics == ()


def test_a_node_change_kube_proxy_exits_on_carries_what_its_batch_said_first():
    """Configure raising Exited (kube-proxy exits on a Node change) ends the loop's part; the batch's own
    problems come with it, before what kube-proxy said, so none is lost, and the state holds the batch."""
    exit_note = Diagnostic("kube-proxy exits", severity=Severity.WARNING)

    def configure(cluster: Cluster):
        node = cluster.node("n1")
        if node is not None and node.pod_cidrs:
            raise Exited([exit_note])
        return CONFIG, ()

    source = MemorySource(BASE)
    loop = SyncLoop(configure, clock=Clock())
    step(source, loop)
    with pytest.raises(Exited) as exited:
        loop.feed(Batch((deleted(svc("gone", "172.30.0.9"), "8"), modified(Node("n1", pod_cidrs=("10.1.0.0/24",)),
                                                                           "9"))))
    assert [d.message for d in exited.value.diagnostics] == [
        "DELETED event for an object that was never added; ignored", "kube-proxy exits"]
    assert loop.state.get(Kind.NODE, "n1").pod_cidrs == ("10.1.0.0/24",)


def test_a_node_kube_proxy_fails_to_start_on_comes_after_what_its_batch_said():
    """Configure refusing the node (InputError: NodeCIDR without pod CIDRs, once the wait is over) ends the
    watch; what the same batch brought is in the error, first, not lost."""
    from kubeproxy_sim.errors import InputError

    def configure(cluster: Cluster):
        raise InputError(Diagnostic("NodeCIDR needs the node's pod CIDR"))

    loop = SyncLoop(configure, clock=Clock())
    problem = Diagnostic("a bad object", severity=Severity.WARNING)
    with pytest.raises(InputError) as refused:
        loop.feed(Batch((*MemorySource(BASE).poll().events,), (problem,)))
    assert [d.message for d in refused.value.diagnostics] == ["a bad object", "NodeCIDR needs the node's pod CIDR"]


def test_the_first_sync_deletes_the_service_chains_a_given_node_already_had():
    """kube-proxy finds stale chains with iptables-save of the node: a node that already holds per-service
    chains (an earlier kube-proxy's) has those nothing uses any more deleted by the first sync."""
    old = ("KUBE-SEP-OLDOLDOLDOLDOLD1", "KUBE-SVC-OLDOLDOLDOLDOLD1")
    nat = Table("nat", (Chain(old[0], (Rule(old[0], "-j DNAT --to-destination 10.9.9.9:80"),)),
                        Chain(old[1], (Rule(old[1], f"-j {old[0]}"),))))
    loop = SyncLoop(CONFIG, clock=Clock(), timing=LoopTiming(), node=Ruleset((nat,)))
    report = step(MemorySource(BASE), loop)
    assert report.error is None and report.full
    assert report.restore.table("nat").deleted == old and report.metrics.deleted_chains == 2
    assert kube_chains(report.node) == full_sync_node(loop)


def test_a_refused_restore_is_reported_and_the_next_sync_is_full():
    source, loop, clock = make(BASE)
    first = step(source, loop)
    b_sep = next(c for c in service_chains(first.restore) if c.startswith("KUBE-SEP-")
                 and "10.0.2.1" in str(first.restore.table("nat").chain(c).rules))
    # someone else's rule jumps to b's endpoint chain: deleting b cannot delete that chain
    nat = loop.node.table("nat")
    foreign = Chain("FOREIGN", (Rule("FOREIGN", f"-j {b_sep}"),))
    loop.node = loop.node.replace_table(Table("nat", (*nat.chains, foreign)))
    clock.now += 2
    source.delete(Kind.SERVICE, "default/b")
    source.delete(Kind.ENDPOINT_SLICE, "default/b-1")
    failed = step(source, loop)
    assert failed.error is not None and b_sep in str(failed.error) and not failed.full
    assert failed.node is loop.node and loop.sync_state.need_full_sync
    clock.now += 29.0
    assert step(source, loop) is None  # retried with the sync period
    loop.node = loop.node.replace_table(Table("nat", nat.chains))  # the foreign rule goes away
    clock.now += 1.0
    retry = step(source, loop)
    assert retry.full and retry.error is None and retry.reason is SyncReason.RETRY
    assert kube_chains(retry.node) == full_sync_node(loop)
    # sync_proxy_rules_iptables_partial_restore_failures_total and _restore_failures_total: the refused partial
    # sync counts in both, and it stays
    assert [r.metrics.partial_restore_failures for r in (first, failed, retry)] == [0, 1, 1]
    assert [r.metrics.restore_failures for r in (first, failed, retry)] == [0, 1, 1]


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_reported_with_the_next_sync_and_the_rest_syncs():
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 2
    source.delete(Kind.SERVICE, "default/never-added")  # the source reports it
    bad = Diagnostic("spec.ports[0].port: 0 is not a port", file="svc.yaml", kind="Service", object="default/x",
                     field="spec.ports[0].port")
    polled = source.poll()
    found = loop.feed(Batch(polled.events, (*polled.diagnostics, bad)))
    assert any(d.object == "default/never-added" for d in found)
    source.apply(eps("a-1", "a", ["10.0.1.5"]))
    found += loop.feed(source.poll())
    # a DELETED for an object never added (as from a confused stream) is reported by the state
    from kubeproxy_sim.watch.events import deleted

    found += loop.feed(Batch((deleted(svc("ghost", "172.30.9.9"), "99"),)))
    assert bad in found and any(d.object == "default/ghost" for d in found)
    report = loop.sync_if_due()
    assert report is not None and report.changed == {"default/a"}
    assert bad in report.diagnostics and any(d.object == "default/ghost" for d in report.diagnostics)
    assert kube_chains(report.node) == full_sync_node(loop)
    clock.now += 2
    source.apply(eps("a-1", "a", ["10.0.1.6"]))
    assert step(source, loop).diagnostics == ()  # reported once


def test_the_first_full_sync_equals_generate():
    source, loop, _ = make(BASE)
    report = step(source, loop)
    assert report.restore == generate(loop.state.cluster(), CONFIG).ruleset


def test_durations_come_from_the_injected_timer():
    ticks = iter(range(0, 1000, 5))
    source = MemorySource(BASE)
    loop = SyncLoop(CONFIG, clock=Clock(), timer=lambda: next(ticks) / 1000)
    report = step(source, loop)
    assert report.duration == pytest.approx(0.005) and report.apply_duration == pytest.approx(0.005)


def test_the_last_sync_timestamp_is_the_wall_clock_as_the_restore_goes_in_and_the_pacing_is_the_monotonic_one():
    """sync_proxy_rules_last_timestamp_seconds: kube-proxy's SetToCurrentTime reads the wall clock (Unix time) once
    iptables-restore succeeded, unset until then; its syncs are paced by the monotonic clock, which a step of the
    wall clock (here: back an hour) does not move. The loop read its one clock for both, anchored to Unix time
    once."""
    walls = iter([1_700_000_000.25, 1_699_996_400.5])
    source = MemorySource(BASE)
    clock = Clock(5.0)
    loop = SyncLoop(CONFIG, clock=clock, wall=lambda: next(walls), timing=LoopTiming(min_sync_period=1.0))
    assert loop.sync_state.last_applied is None
    first = step(source, loop)
    assert (first.at, first.metrics.last_timestamp_seconds, loop.sync_state.last_applied) == (
        5.0, 1_700_000_000.25, 1_700_000_000.25)
    source.apply(svc("a", "10.0.0.1", port=81))
    loop.feed(source.poll())
    clock.now += 1.0
    second = loop.sync_if_due()
    assert second is not None and (second.at, second.metrics.last_timestamp_seconds) == (6.0, 1_699_996_400.5)


# --------------------------------------------------------------------------- drive


def test_drive_waits_for_what_is_due_and_stops_after_max_syncs():
    source, loop, clock = make(BASE, min_sync_period=1.0, sync_period=10.0, full_sync_period=10.0)
    waits = []

    def poll(timeout: float) -> Batch:
        waits.append(timeout)
        clock.now += timeout
        if len(waits) == 3:
            source.apply(eps("a-1", "a", ["10.0.1.4"]))
        return source.poll()

    reports = list(drive(loop, poll, clock=clock, poll_interval=0.4, max_syncs=3))
    assert [(r.number, r.reason) for r in reports] == [
        (1, SyncReason.INITIAL), (2, SyncReason.CHANGES), (3, SyncReason.FULL_SYNC_PERIOD)]
    assert reports[1].at == pytest.approx(101.0)  # the change came at 100.8: min-sync-period from 100.0
    assert reports[2].at == pytest.approx(111.0)
    assert waits[0] == 0.0 and max(waits) <= 0.4 + 1e-9


def test_drive_reports_diagnostics_as_they_arrive():
    source, loop, clock = make(BASE)
    seen = []
    batches = iter([source.poll(), Batch((), (Diagnostic("garbage", file="x.yaml"),))])

    def poll(timeout: float) -> Batch:
        clock.now += timeout
        return next(batches, Batch())

    gen = drive(loop, poll, clock=clock, poll_interval=0.5, max_syncs=2, on_diagnostics=seen.append)
    next(gen)
    assert seen == []
    clock.now += 28
    report = next(gen)
    assert [d.message for batch in seen for d in batch] == ["garbage"]
    assert [d.message for d in report.diagnostics] == ["garbage"]


# --------------------------------------------------------------------------- a live API server


def _live_loop(fake, tmp_path):
    """A started source on the fake API server and a loop whose clock fails the test after 10 s without a sync."""
    source = ApiServerSource(fake.write_kubeconfig(str(tmp_path / "kubeconfig")), sleep=lambda _: None,
                             rng=random.Random(1), watch_timeout=5).start()
    deadline = time.monotonic() + 10

    def clock() -> float:
        now = time.monotonic()
        assert now < deadline, "timed out waiting for a sync"
        return now

    return source, SyncLoop(CONFIG, clock=clock, timing=LoopTiming(min_sync_period=0.2)), clock


def test_live_api_server_one_add_and_one_change(fake, tmp_path):
    fake.add("Node", node_json("n1", "192.168.0.1"))
    fake.add("Service", svc_json("a", "172.30.0.1"))
    fake.add("EndpointSlice", slice_json("a-1", "a", ["10.0.1.1"]))
    source, loop, clock = _live_loop(fake, tmp_path)
    reports = []

    def until(predicate) -> None:
        for report in drive(loop, source.poll, clock=clock, poll_interval=0.05):
            reports.append(report)
            assert not [d for d in report.diagnostics if d.severity is Severity.ERROR], report.diagnostics
            if predicate(report):
                return

    def has(report, text: str) -> bool:
        return text in "\n".join(r.text() for t in report.node.tables for r in t.rules())

    try:
        until(lambda r: True)
        assert reports[0].full and has(reports[0], "10.0.1.1:80")
        fake.add("Service", svc_json("b", "172.30.0.2"))
        fake.add("EndpointSlice", slice_json("b-1", "b", ["10.0.2.1"]))
        until(lambda r: has(r, "10.0.2.1:80"))
        assert not reports[-1].full and "default/b" in reports[-1].changed
        fake.modify("EndpointSlice", slice_json("a-1", "a", ["10.0.1.2"]))
        until(lambda r: has(r, "10.0.1.2:80"))
        last = reports[-1]
        assert not last.full and last.changed == {"default/a"} and not has(last, "10.0.1.1:80")
        assert kube_chains(last.node) == full_sync_node(loop)
    finally:
        source.close(timeout=2)


def test_live_api_server_relist_after_410_syncs_what_changed_meanwhile(fake, tmp_path):
    """The watch is cut and the history compacted while a slice is deleted and a Service changed: the relist's
    events (DELETED at the list's resourceVersion, MODIFIED) give partial syncs that leave the node as a full
    sync would."""
    fake.add("Node", node_json("n1", "192.168.0.1"))
    for name, ip, ep in (("a", "172.30.0.1", "10.0.1.1"), ("b", "172.30.0.2", "10.0.2.1")):
        fake.add("Service", svc_json(name, ip))
        fake.add("EndpointSlice", slice_json(f"{name}-1", name, [ep]))
    source, loop, clock = _live_loop(fake, tmp_path)
    try:
        first = next(drive(loop, source.poll, clock=clock, poll_interval=0.05))
        assert first.full
        for kind in ("Service", "EndpointSlice"):
            fake.inject(kind, "drop")
        fake.delete("EndpointSlice", slice_json("b-1", "b", ["10.0.2.1"]))
        fake.modify("Service", svc_json("a", "172.30.0.1", port=8080))
        fake.compact()
        seen: set[str] = set()
        for report in drive(loop, source.poll, clock=clock, poll_interval=0.05):  # one sync, or one per kind
            assert not report.full and report.error is None
            seen |= report.changed
            if seen == {"default/a", "default/b"}:
                break
        assert "default/b-1" not in loop.state.objects(Kind.ENDPOINT_SLICE)
        # relisted: after the 410, or at once after a cut within a second of the watch (a very short watch, on
        # this real clock), and then after a 410 too when the compaction came after that list
        assert len(fake.lists("EndpointSlice")) >= 2 and len(fake.lists("Service")) >= 2
        assert kube_chains(report.node) == full_sync_node(loop)
    finally:
        source.close(timeout=2)


def test_a_slice_listing_one_address_twice_with_and_without_a_node_syncs():
    from kubeproxy_sim.objects.model import Endpoint, EndpointConditions

    twice = dataclasses.replace(eps("a-1", "a", []), endpoints=(
        Endpoint(("10.0.1.1",), EndpointConditions(ready=True), node_name="n1"),
        Endpoint(("10.0.1.1",), EndpointConditions(ready=True))))
    source, loop, clock = make(BASE)
    step(source, loop)
    clock.now += 2
    source.apply(twice)
    report = step(source, loop)
    assert report.changed == {"default/a"} and kube_chains(report.node) == full_sync_node(loop)


def test_partial_sync_with_the_trackers_index_equals_one_without():
    from kubeproxy_sim.proxier.partial import ObjectIndex, SyncState, sync
    from kubeproxy_sim.watch import EndpointSliceChangeTracker, ServiceChangeTracker

    before = Cluster(services=(BASE[0], BASE[2]), endpoint_slices=(BASE[1], BASE[3]), nodes=(BASE[4],))
    after = dataclasses.replace(before, services=(BASE[0], svc("c", "172.30.0.3")),
                                endpoint_slices=(eps("a-1", "a", ["10.0.1.9"]), BASE[3], eps("c-1", "c", ["10.0.3.1"])))
    state = sync(SyncState(), before, CONFIG, (), 1.0).succeeded
    services = ServiceChangeTracker(initial=before.services)
    slices = EndpointSliceChangeTracker(initial=before.endpoint_slices)
    for s in before.services:
        services.set(s.key, None)
    for s in after.services:
        services.set(s.key, s)
    for es in before.endpoint_slices:
        slices.set(es.key, None)
    for es in after.endpoint_slices:
        slices.set(es.key, es)
    svc_update, eps_update = services.apply(), slices.apply()
    changed = svc_update.changed | eps_update.changed
    assert changed == {"default/a", "default/b", "default/c"}
    plain = sync(state, after, CONFIG, changed, 2.0)
    indexed = sync(state, after, CONFIG, changed, 2.0, index=ObjectIndex(svc_update.objects, eps_update.by_service))
    assert not plain.full and indexed == plain


def test_crossing_the_large_cluster_threshold_during_a_watch():
    """Above 1000 endpoints kube-proxy drops the comments from the endpoint rules it writes, leaves the chains
    of unchanged services as they are (commented), and deletes stale chains only once a sync period has passed
    since its last cleanup (531be81208e2: largeClusterMode, lastIPTablesCleanup)."""
    big = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(990)]
    source, loop, clock = make((*BASE, svc("big", "172.30.0.9"), eps("big-1", "big", big)), sync_period=30.0)
    first = step(source, loop)  # 993 endpoints, cleanup at 100
    b_chains = {c for c in service_chains(first.restore)
                if any("default/b:p" in r.spec for r in first.restore.table("nat").chain(c).rules)}
    assert len(b_chains) == 2  # KUBE-SVC and one KUBE-SEP

    def sep_rules(rules: Ruleset) -> list[str]:
        return [r.spec for t in rules.tables if t.name == "nat" for c in t.chains if c.name.startswith("KUBE-SEP-")
                for r in c.rules]

    assert all("--comment" in spec for spec in sep_rules(first.restore))
    clock.now += 2
    source.apply(svc("c", "172.30.0.3"))
    source.apply(eps("c-1", "c", [f"10.3.0.{i}" for i in range(1, 11)]))
    crossing = step(source, loop)  # 1003 endpoints
    assert not crossing.full and crossing.changed == {"default/c"}
    written = sep_rules(crossing.restore)
    assert len(written) == 20 and not any("--comment" in spec for spec in written)  # c's, without comments
    assert sum("--comment default/big:p " in spec for spec in sep_rules(crossing.node)) == 2 * 990  # kept
    clock.now += 2
    source.delete(Kind.SERVICE, "default/b")
    gone = step(source, loop)
    assert gone.restore.table("nat").deleted == () and b_chains <= service_chains(gone.node)
    clock.now += 30  # 34 s since the last cleanup
    source.apply(eps("a-1", "a", ["10.0.1.9"]))
    later = step(source, loop)
    assert b_chains <= set(later.restore.table("nat").deleted)
    assert not b_chains & {c.name for c in later.node.table("nat").chains}
