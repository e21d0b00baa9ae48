"""TestSyncProxyRulesRepeated and TestSyncProxyRulesLargeClusterMode (upstream, 531be81208e2) step by step.

TestSyncProxyRulesRepeated's objects and upstream's expected dumps are files of
rulesets/upstream-sync-proxy-rules-repeated/: objects.yaml and upstream.rules for
the first, full sync; syncs/state-N.yaml and syncs/sync-N.rules for the partial
syncs 2-8; syncs/state-9.yaml and syncs/sync-9-recovery.rules for the full sync
that follows the forced partial-restore failure. Upstream's dumps are kept
verbatim (the test's text after dedent), never assembled here.

Each sync's restore input is compared the way assertIPTablesRulesEqual compares
(sortIPTablesRules applied to ours, then equal to upstream's text), and also byte
for byte (ours is written in that order); the consistency check runs where
upstream runs it (the first sync). The rule-count metrics are checked the way
upstream checks them: nat "last sync" equals the rules in the expected dump, nat
"total" moves by the deltas the test states.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args
from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.objects.model import Cluster, EndpointPort, EndpointSlice, Protocol, Service, TrafficPolicy
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.partial import (
    DEFAULT_TIMING,
    RestoreError,
    Step,
    SyncState,
    SyncTiming,
    apply_restore,
    changed_services,
    sync_and_apply,
)

from .builders import cluster, ep, eps, fake_config, port, service
from .dumps import check_jumps, parse_dump, upstream_sort

SCENARIO = REPO_RULESETS / "upstream-sync-proxy-rules-repeated"
SYNCS = SCENARIO / "syncs"
ARGS = [str(a) for a in yaml.safe_load((SCENARIO / "scenario.yaml").read_text())["args"]]


def state_path(n: int) -> Path:
    """The complete objects of sync n (the scenario's objects.yaml for the first)."""
    return SCENARIO / "objects.yaml" if n == 1 else SYNCS / f"state-{n}.yaml"


def expected_path(n: int) -> Path:
    """Upstream's expected dump of sync n (9: the recovery after the failed partial restore)."""
    return {1: SCENARIO / "upstream.rules", 9: SYNCS / "sync-9-recovery.rules"}.get(n, SYNCS / f"sync-{n}.rules")


def expected(n: int) -> str:
    # assertIPTablesRulesEqual compares strings.TrimLeft(expected, " \t\n"); the files hold that text.
    return expected_path(n).read_text()


def load_state(n: int) -> Cluster:
    loaded = load_paths([str(state_path(n))])
    assert not loaded.diagnostics, loaded.diagnostics
    return loaded.cluster


def _nat_rules(text: str) -> int:
    """upstream's countRules for the nat table: the rules of its chains."""
    return sum(len(c.rules) for t in parse_dump(text) if t.name == "nat" for c in t.chains)


class Driver:
    """Feeds successive object sets to the syncer and applies each restore to a simulated node."""

    def __init__(self, config, timing: SyncTiming = DEFAULT_TIMING) -> None:
        self.config = config
        self.timing = timing
        self.node = Ruleset()
        self.state = SyncState()
        self.objects = Cluster()
        self.now = 0.0
        self.last: Step | None = None

    def sync(self, objects: Cluster, advance: float = 1.0) -> Step:
        self.now += advance
        step = sync_and_apply(self.node, self.state, objects, self.config, changed_services(self.objects, objects),
                              self.now, self.timing)
        self.node, self.state, self.objects, self.last = step.node, step.state, objects, step
        return step

    def text(self) -> str:
        assert self.last is not None
        return render_ruleset(self.last.outcome.restore)


def _svc(ns: str, name: str, ip: str, name_port: str = "p80", number: int = 80) -> Service:
    return service(ns, name, ip, port(name_port, number))


def _slice(ns: str, name: str, *ips: str, name_port: str = "p80", number: int = 80) -> EndpointSlice:
    return eps(ns, name, *(ep(ip) for ip in ips), ports=(EndpointPort(name_port, number, Protocol.TCP),))


def test_sync_proxy_rules_repeated():
    d = Driver(config_from_args(ARGS, load_state(1)))
    expected_totals: list[int] = []

    def check(n: int, full: bool, delta: int | None, consistent: bool = False) -> None:
        step, want, text = d.last, expected(n), d.text()
        assert step is not None
        assert upstream_sort(text) == want, f"sync {n}: not upstream's {expected_path(n).name}"
        assert text == want, f"sync {n}: upstream's rules, but not in upstream's order"
        if consistent:  # assertIPTablesRulesEqual's checkConsistency (true only for the first sync)
            assert check_jumps(want) == []
        assert step.outcome.full is full and step.error is None
        assert step.outcome.metrics.nat_rules_synced == _nat_rules(want)
        total = _nat_rules(want) if delta is None else expected_totals[-1] + delta
        assert step.outcome.metrics.nat_rules_total == total
        expected_totals.append(total)

    d.sync(load_state(1))
    check(1, True, None, consistent=True)
    # (sync, nat rules added to the total), the deltas upstream's comments count
    for n, delta in ((2, +5), (3, -5), (4, 0), (5, +5), (6, 0), (7, +3), (8, 0)):
        d.sync(load_state(n))
        check(n, False, delta)

    # A foreign jump from svc3's chain to svc4's endpoint: the partial sync deleting svc4 cannot delete
    # that endpoint's chain, so the restore is refused and the next sync is a full one.
    # Upstream reads sync_proxy_rules_iptables_partial_restore_failures_total before (0) and after (1).
    assert not d.state.need_full_sync
    assert d.last is not None and d.last.outcome.metrics.partial_restore_failures == 0
    assert not any("restore_failures_total" in line for line in d.last.outcome.metrics.prometheus())  # none yet
    d.node = _append_rule(d.node, "nat", "KUBE-SVC-X27LE4BHSL4DOUIK", "-j KUBE-SEP-AYCN5HPXMIRJNJXU")
    failed = d.sync(load_state(9))
    assert not failed.outcome.full and isinstance(failed.error, RestoreError)
    assert "KUBE-SEP-AYCN5HPXMIRJNJXU" in str(failed.error)
    assert d.state.need_full_sync
    assert failed.outcome.metrics.partial_restore_failures == d.state.partial_restore_failures == 1
    assert failed.outcome.metrics.restore_failures == d.state.restore_failures == 1  # every refusal counts
    assert {'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total{ip_family="IPv4"} 1',
            'kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"} 1'} \
        <= set(failed.outcome.metrics.prometheus())
    assert _chain(d.node, "nat", "KUBE-SEP-AYCN5HPXMIRJNJXU") is not None
    d.sync(d.objects)
    check(9, True, -5)
    assert d.last.outcome.metrics.partial_restore_failures == 1  # a counter: the full resync keeps it
    assert d.last.outcome.metrics.restore_failures == 1
    assert _chain(d.node, "nat", "KUBE-SEP-AYCN5HPXMIRJNJXU") is None
    assert "KUBE-SEP-AYCN5HPXMIRJNJXU" not in str(_chain(d.node, "nat", "KUBE-SVC-X27LE4BHSL4DOUIK"))


def test_replay_command_writes_upstreams_dumps(capsys: pytest.CaptureFixture[str]):
    """`kubeproxy-sim replay` over the state files prints upstream's dump for every sync, 1 to 8."""
    status = main(["replay", *(str(state_path(n)) for n in range(1, 9)), *ARGS])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    parts = re.split(r"^# sync (\d+) (full|partial)\n", captured.out, flags=re.MULTILINE)
    assert parts[0] == ""
    syncs = list(zip(parts[1::3], parts[2::3], parts[3::3], strict=True))
    assert [(int(n), kind) for n, kind, _ in syncs] == [(1, "full")] + [(n, "partial") for n in range(2, 9)]
    for n, _, text in syncs:
        assert text == expected(int(n)), f"replay's sync {n} is not upstream's {expected_path(int(n)).name}"


def test_the_expected_dumps_are_in_upstreams_order_and_full_ones_are_consistent():
    """sortIPTablesRules leaves upstream's expected text as it is (its -X lines last in their table), and a full
    sync's dump passes checkIPTablesRuleJumps once the chains it deletes are not counted as created (upstream
    only checks the first; the recovery, which deletes svc4's chains, passes too)."""
    for n in range(1, 10):
        assert upstream_sort(expected(n)) == expected(n), expected_path(n).name
    assert check_jumps(expected(1)) == []
    assert check_jumps(expected(9)) == []
    # A partial sync's dump jumps to chains it does not write: why upstream passes checkConsistency=false.
    assert check_jumps(expected(2))


def test_upstream_sort_prints_deleted_chains_at_the_end_of_their_table():
    """parse.go reads -X anywhere among a table's rules and String() prints the deletions after the rules."""
    want = expected(3)
    deletes = "-X KUBE-SEP-UHEGFW77JX3KXTOV\n-X KUBE-SVC-2VJB64SDSIJUP5T6\n"
    svc3 = next(line for line in want.splitlines(keepends=True) if '"ns3/svc3:p80 cluster IP"' in line)
    moved = want.replace(deletes, "").replace(svc3, "").replace(":KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]\n",
                                                               ":KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]\n" + deletes + svc3)
    assert moved != want
    assert upstream_sort(moved) == want
    with pytest.raises(ValueError, match="cannot add rules to deleted chain"):
        parse_dump(moved.replace(deletes, deletes + "-A KUBE-SVC-2VJB64SDSIJUP5T6 -j KUBE-MARK-MASQ\n"))


def _chain(node: Ruleset, table: str, name: str):
    t = node.table(table)
    return t.chain(name) if t is not None else None


def _append_rule(node: Ruleset, table: str, chain: str, spec: str) -> Ruleset:
    t = node.table(table)
    assert t is not None
    chains = tuple(Chain(c.name, (*c.rules, Rule(chain, spec)), c.policy, c.counters) if c.name == chain else c
                   for c in t.chains)
    return node.replace_table(dataclasses.replace(t, chains=chains))


def _dnat_lines(text: str, match: str) -> tuple[str, int, int]:
    """upstream's countEndpointsAndComments: (the SEP DNAT line containing match, DNAT count, commented count)."""
    matched, count, comments = "", 0, 0
    for line in text.splitlines():
        if line.startswith("-A KUBE-SEP-") and "-j DNAT" in line:
            count += 1
            comments += "--comment" in line
            if match in line:
                matched = line
    return matched, count, comments


def _big_slice(ns: str, name: str, second: int, name_port: str, number: int) -> EndpointSlice:
    ips = [f"10.{second}.{i % 256}.{i // 256}" for i in range(499)]
    return _slice(ns, name, *ips, name_port=name_port, number=number)


def test_sync_proxy_rules_large_cluster_mode():
    d = Driver(fake_config(masquerade_all=True), SyncTiming(sync_period=30.0))
    base = [_svc("ns1", "svc1", "172.30.0.41"), _svc("ns2", "svc2", "172.30.0.42", "p8080", 8080),
            _svc("ns3", "svc3", "172.30.0.43", "p8081", 8081),
            _big_slice("ns1", "svc1", 0, "p80", 80), _big_slice("ns2", "svc2", 1, "p8080", 8080)]
    d.sync(cluster(*base))
    line, count, comments = _dnat_lines(d.text(), "10.0.0.0")
    assert line == ("-A KUBE-SEP-DKGQUZGBKLTPAR56 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT"
                    " --to-destination 10.0.0.0:80")
    assert count == comments == 998

    base.append(_slice("ns3", "svc3", "203.0.113.4", "203.0.113.8", "203.0.113.12", name_port="p8081", number=8081))
    step = d.sync(cluster(*base))
    line, count, comments = _dnat_lines(d.text(), "203.0.113.4")
    assert not step.outcome.full
    assert line == "-A KUBE-SEP-RUVVH7YV3PHQBDOS -m tcp -p tcp -j DNAT --to-destination 203.0.113.4:8081"
    assert (count, comments) == (3, 0)

    d.state = d.state.forcing_full()
    d.sync(d.objects)
    line, count, comments = _dnat_lines(d.text(), "10.0.0.0")
    assert line == "-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80"
    assert (count, comments) == (1001, 0)

    svc4 = _svc("ns4", "svc4", "172.30.0.44", "p8082", 8082)
    eps4 = _slice("ns4", "svc4", "10.4.0.1", name_port="p8082", number=8082)
    d.sync(cluster(*base, svc4, eps4))
    line, count, _ = _dnat_lines(d.text(), "10.4.0.1")
    assert line == "-A KUBE-SEP-SU5STNODRYEWJAUF -m tcp -p tcp -j DNAT --to-destination 10.4.0.1:8082"
    assert count == 1

    # Deleting a service in large-cluster mode leaves its chains until a sync period has passed.
    d.state = dataclasses.replace(d.state, last_cleanup=d.now + 1.0)
    d.sync(cluster(*base, eps4))
    line, count, _ = _dnat_lines(d.text(), "10.4.0.1")
    assert (line, count) == ("", 0)
    assert "-X " not in d.text()
    assert _chain(d.node, "nat", "KUBE-SVC-EBDQOQU5SJFXRIL3") is not None

    d.state = dataclasses.replace(d.state, last_cleanup=d.now + 1.0 - 30.0 - 1e-9)
    d.sync(d.objects)
    line, count, _ = _dnat_lines(d.text(), "10.4.0.1")
    assert (line, count) == ("", 0)
    assert "-X KUBE-SVC-EBDQOQU5SJFXRIL3" in d.text()
    assert "-X KUBE-SEP-SU5STNODRYEWJAUF" in d.text()
    assert _chain(d.node, "nat", "KUBE-SVC-EBDQOQU5SJFXRIL3") is None

    d.state = d.state.forcing_full()
    d.sync(d.objects)
    assert _dnat_lines(d.text(), "10.0.0.0")[1] == 1001


def test_first_sync_is_the_full_sync_of_generate():
    objects = cluster(_svc("ns1", "svc1", "172.30.0.41"), _slice("ns1", "svc1", "10.0.1.1"))
    d = Driver(fake_config())
    d.sync(objects)
    assert d.text() == render_ruleset(generate(objects, fake_config()).ruleset)
    assert d.last is not None and d.last.outcome.jumps == generate(objects, fake_config()).jumps


def test_apply_restore_refuses_a_dangling_jump():
    objects = cluster(_svc("ns1", "svc1", "172.30.0.41"), _slice("ns1", "svc1", "10.0.1.1"))
    restore = generate(objects, fake_config()).ruleset
    nat = restore.table("nat")
    assert nat is not None
    broken = restore.replace_table(dataclasses.replace(
        nat, chains=tuple(c for c in nat.chains if not c.name.startswith("KUBE-SEP-"))))
    try:
        apply_restore(Ruleset(), broken)
    except RestoreError as exc:
        assert "KUBE-SEP-SNQ3ZNILQDEJNDQO" in str(exc)
    else:
        raise AssertionError("a jump to a missing chain was accepted")


STALE = "KUBE-SEP-OLDOLDOLDOLDOLD1"


def _stale_chain_in_use() -> Ruleset:
    """A node whose stale endpoint chain a foreign rule still jumps to: a full sync deleting it is refused."""
    stale = Chain(STALE, (Rule(STALE, "-j DNAT --to-destination 10.9.9.9:80"),))
    return Ruleset((Table("nat", (stale, Chain("FOREIGN", (Rule("FOREIGN", f"-j {STALE}"),)))),))


def _jumped_to(node: Ruleset, chain: str) -> Ruleset:
    """``node`` with a foreign rule jumping to ``chain``: a partial sync deleting that chain is refused."""
    nat = node.table("nat")
    assert nat is not None
    return node.replace_table(Table("nat", (*nat.chains, Chain("FOREIGN", (Rule("FOREIGN", f"-j {chain}"),)))))


def test_a_refused_full_sync_is_no_partial_restore_failure():
    """kube-proxy counts sync_proxy_rules_iptables_partial_restore_failures_total only when the failed sync was
    partial: a full sync refused (a stale chain a foreign rule still jumps to) leaves it at 0, and so does its
    retry, also full, refused again; sync_proxy_rules_iptables_restore_failures_total counts both refusals."""
    d = Driver(config_from_args(ARGS, load_state(1)))
    d.node = _stale_chain_in_use()
    for count in (1, 2):
        refused = d.sync(load_state(1))
        assert refused.outcome.full and isinstance(refused.error, RestoreError) and STALE in str(refused.error)
        assert refused.outcome.metrics.partial_restore_failures == d.state.partial_restore_failures == 0
        assert refused.outcome.metrics.restore_failures == d.state.restore_failures == count
        lines = [line for line in refused.outcome.metrics.prometheus("IPv4") if "restore_failures" in line]
        assert lines == [f'kubeproxy_sync_proxy_rules_iptables_restore_failures_total{{ip_family="IPv4"}} {count}']


def test_a_refused_sync_leaves_the_no_local_endpoints_gauges_as_last_applied():
    """kube-proxy sets sync_proxy_rules_no_local_endpoints_total only after iptables-restore succeeded, and the
    rule-count gauges before it: a refused sync, full or partial, reports its own rule counts but the last applied
    sync's no-local counts (none yet: 0, and no series in its /metrics, as WithLabelValues first runs then)."""
    a = service("ns1", "a", "172.30.0.41", internal_traffic_policy=TrafficPolicy.LOCAL)  # its endpoint is remote
    b = _svc("ns1", "b", "172.30.0.42")
    objects = cluster(a, eps("ns1", "a", ep("10.0.1.1", node="other-node")), b,
                      eps("ns1", "b", ep("10.0.2.1", node="test-node")))
    d = Driver(fake_config())
    d.node = _stale_chain_in_use()
    full = d.sync(objects)  # refused: a foreign rule still jumps to the stale chain
    assert full.outcome.full and isinstance(full.error, RestoreError)
    assert full.outcome.metrics.no_local_endpoints_internal == 0
    assert not any("no_local_endpoints" in line for line in full.outcome.metrics.prometheus())
    d.node = Ruleset()
    applied = d.sync(objects)
    assert applied.error is None and applied.outcome.metrics.no_local_endpoints_internal == 1
    assert {'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="internal"} 1',
            'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="external"} 0'} \
        <= set(applied.outcome.metrics.prometheus())
    assert full.outcome.metrics.nat_rules_synced == applied.outcome.metrics.nat_rules_synced > 0

    b_sep = next(c.name for c in d.node.table("nat").chains if c.name.startswith("KUBE-SEP-"))  # b's only
    d.node = _jumped_to(d.node, b_sep)
    partial = d.sync(Cluster())  # both deleted: b's endpoint chain cannot go
    assert not partial.outcome.full and isinstance(partial.error, RestoreError)
    assert (partial.outcome.metrics.no_local_endpoints_internal, partial.outcome.metrics.deleted_chains) == (1, 2)
    assert d.state.no_local_endpoints == (1, 0)
    d.node = apply_restore(Ruleset(), applied.outcome.restore)
    assert d.sync(Cluster()).outcome.metrics.no_local_endpoints_internal == 0  # the full retry, applied


def test_the_last_sync_timestamp_is_the_clock_of_the_last_applied_restore():
    """kube-proxy sets sync_proxy_rules_last_timestamp_seconds to the current time (SetToCurrentTime) only after
    iptables-restore succeeded: no series before the first applied restore, the clock of the last applied one
    after, kept through a refused sync, full or partial; Prometheus's text format writes it as Go's shortest 'g'."""
    objects = cluster(_svc("ns1", "b", "172.30.0.42"), eps("ns1", "b", ep("10.0.2.1", node="test-node")))
    d = Driver(fake_config())
    d.node = _stale_chain_in_use()
    refused = d.sync(objects)
    assert isinstance(refused.error, RestoreError) and d.state.last_applied is None
    assert refused.outcome.metrics.last_timestamp_seconds is None
    assert not any("last_timestamp" in line for line in refused.outcome.metrics.prometheus())
    d.node = Ruleset()
    applied = d.sync(objects, advance=1_700_000_000.25)
    assert applied.error is None and applied.outcome.metrics.last_timestamp_seconds == d.now == d.state.last_applied
    assert 'kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv6"} 1.70000000125e+09' in \
        applied.outcome.metrics.prometheus("IPv6")
    b_sep = next(c.name for c in d.node.table("nat").chains if c.name.startswith("KUBE-SEP-"))
    d.node = _jumped_to(d.node, b_sep)
    partial = d.sync(Cluster())  # deleting b cannot delete its endpoint chain
    assert isinstance(partial.error, RestoreError) and not partial.outcome.full
    assert partial.outcome.metrics.last_timestamp_seconds == applied.outcome.metrics.last_timestamp_seconds
