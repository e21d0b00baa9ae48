"""Upstream's TestSyncProxyRulesRepeated (531be81208e2) played through the watch: a directory whose manifest is
replaced by each state of rulesets/upstream-sync-proxy-rules-repeated, read by the directory source, synced by
the sync loop (its change trackers, not ``changed_services``). Every applied sync's restore input is
upstream's expected dump, byte for byte, the full retry after a refused partial restore too; the refused
restore itself is checked for its refusal only (the chain it could not delete), not compared."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args
from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.directory import DirectorySource
from kubeproxy_sim.watch.sync_loop import LoopTiming, SyncLoop, SyncReason, SyncReport
from tests.proxier.dumps import parse_dump

SCENARIO = REPO_RULESETS / "upstream-sync-proxy-rules-repeated"
SYNCS = SCENARIO / "syncs"
ARGS = [str(a) for a in yaml.safe_load((SCENARIO / "scenario.yaml").read_text())["args"]]


def state_path(n: int) -> Path:
    return SCENARIO / "objects.yaml" if n == 1 else SYNCS / f"state-{n}.yaml"


def expected(n: int) -> str:
    path = {1: SCENARIO / "upstream.rules", 9: SYNCS / "sync-9-recovery.rules"}.get(n, SYNCS / f"sync-{n}.rules")
    return path.read_text()


class Watched:
    """A watched directory holding one manifest, the source on it and the loop, on an injected clock."""

    def __init__(self, directory: Path) -> None:
        self.manifest = directory / "objects.yaml"
        self.now = 100.0
        self.source = DirectorySource(str(directory), clock=lambda: self.now, debounce=0)
        config = config_from_args(ARGS, load_paths([str(state_path(1))]).cluster)
        self.loop = SyncLoop(config, clock=lambda: self.now,
                             timing=LoopTiming(min_sync_period=1.0, sync_period=30.0))
        self.edits = 0

    def put(self, n: int, extra: str = "") -> None:
        """Replace the manifest by state n, and ``extra`` documents (a new mtime, so the source sees it)."""
        self.manifest.write_text(state_path(n).read_text() + extra)
        self.edits += 1
        os.utime(self.manifest, ns=(self.edits * 10**9, self.edits * 10**9))

    def sync(self, advance: float = 5.0) -> SyncReport | None:
        self.now += advance
        self.loop.feed(self.source.poll())
        return self.loop.sync_if_due()


EXTRA_SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {name: passing, namespace: ns9}
spec: {clusterIP: 172.30.9.9, ports: [{name: p80, port: 80, protocol: TCP}]}
"""


def _with_rule(node: Ruleset, table: str, chain: str, spec: str) -> Ruleset:
    t = node.table(table)
    assert t is not None
    chains = tuple(Chain(c.name, (*c.rules, Rule(chain, spec)), c.policy, c.counters) if c.name == chain else c
                   for c in t.chains)
    return node.replace_table(dataclasses.replace(t, chains=chains))


def _nat_rules(text: str) -> int:
    """upstream's countRules for the nat table: the rules of its chains."""
    return sum(len(c.rules) for t in parse_dump(text) if t.name == "nat" for c in t.chains)


# The nat rules each sync adds to sync_proxy_rules_iptables_total, as upstream's comments count them
NAT_TOTAL_DELTAS = {2: +5, 3: -5, 4: 0, 5: +5, 6: 0, 7: +3, 8: 0, 9: -5}


def _check_metrics(n: int, report: SyncReport, totals: list[int]) -> None:
    """nat "last" counts the rules upstream's dump writes; nat "total" moves by upstream's delta."""
    assert report.metrics.nat_rules_synced == _nat_rules(expected(n)), f"sync {n}"
    totals.append(_nat_rules(expected(n)) if n == 1 else totals[-1] + NAT_TOTAL_DELTAS[n])
    assert report.metrics.nat_rules_total == totals[-1], f"sync {n}"


def test_the_watch_writes_upstreams_dumps_for_every_sync(tmp_path: Path) -> None:
    w = Watched(tmp_path)
    w.put(1)
    totals: list[int] = []
    for n in range(1, 8):
        if n > 1:
            w.put(n)
        report = w.sync()
        assert report is not None and report.error is None, n
        assert report.full is (n == 1), n
        assert render_ruleset(report.restore) == expected(n), f"sync {n}"
        _check_metrics(n, report, totals)
    # Sync 8 changes nothing (upstream calls syncProxyRules directly). Here a Service is added and deleted again
    # before the sync: that asks for a sync, in which no service changed, so no service chain is written.
    w.put(8, extra=EXTRA_SERVICE)
    assert w.sync(advance=0.2) is None  # (the minimum sync period holds it back)
    assert "ns9/passing" in w.loop.state.objects(Kind.SERVICE) and w.loop.requested
    w.put(8)
    report = w.sync(advance=1.0)
    assert report is not None and not report.full and report.changed == frozenset()
    assert render_ruleset(report.restore) == expected(8)
    _check_metrics(8, report, totals)

    # A foreign jump into svc4's endpoint chain: the partial sync deleting svc4 is refused, and retried, full,
    # the sync period later.
    w.loop.node = _with_rule(w.loop.node, "nat", "KUBE-SVC-X27LE4BHSL4DOUIK", "-j KUBE-SEP-AYCN5HPXMIRJNJXU")
    w.put(9)
    failed = w.sync()
    assert failed is not None and not failed.full and failed.error is not None
    assert "KUBE-SEP-AYCN5HPXMIRJNJXU" in str(failed.error)
    assert w.sync(advance=29.0) is None
    retry = w.sync(advance=1.0)
    assert retry is not None and retry.full and retry.reason is SyncReason.RETRY and retry.error is None
    assert render_ruleset(retry.restore) == expected(9)
    _check_metrics(9, retry, totals)
