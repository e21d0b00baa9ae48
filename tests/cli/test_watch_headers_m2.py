"""``watch``'s text header says why each sync ran and what it took in, as ``-o json``'s ``reason`` and ``changed``
do, and ``--diff`` says when a sync changed no rule (u1: the text said only '# sync N partial (X ms)', and a sync
that changed nothing printed a bare header)."""

from __future__ import annotations

import re
from pathlib import Path

from kubeproxy_sim.cli.watch_cmd import NAMED_SERVICES, why_synced
from kubeproxy_sim.watch.sync_loop import SyncReason
from tests.cli import test_watch_cmd
from tests.cli.test_watch_cmd import (
    FAST,
    NODE_FLAGS,
    endpoint_slice,
    run_watch,
    write,
)

manifests = test_watch_cmd.manifests  # the fixture: its two services, one endpoint each

HEADER = re.compile(r"^# sync (\d+) (full|partial) \(\d+\.\d ms\) (.*)$", re.MULTILINE)

NOT_READY = """apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc1-1
  namespace: ns1
  labels: {kubernetes.io/service-name: svc1}
addressType: IPv4
endpoints:
- addresses: [10.0.1.1]
- addresses: [10.0.1.5]
  conditions: {ready: false, serving: false}
ports: [{name: p80, port: 80, protocol: TCP}]
"""


def test_headers_name_the_reason_and_the_services_taken_in(manifests: Path) -> None:
    actions = [lambda: write(manifests / "svc1-eps.yaml", endpoint_slice("ns1", "svc1", ["10.0.1.9"], 80, "p80"))]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2"], actions)
    assert status == 0, err
    assert HEADER.findall(out) == [("1", "full", "initial: ns1/svc1, ns2/svc2"),
                                   ("2", "partial", "changes: ns1/svc1")]


def test_diff_says_when_a_sync_changed_no_rule(manifests: Path) -> None:
    """A not-ready, not-serving endpoint added: kube-proxy syncs svc1 (its endpoints changed) and writes the same
    rules, since it uses no such endpoint; -o json's diff is "" then."""
    actions = [lambda: write(manifests / "svc1-eps.yaml", NOT_READY)]
    status, out, err = run_watch(["-f", str(manifests), *NODE_FLAGS, *FAST, "--max-syncs", "2", "--diff"], actions)
    assert status == 0, err
    second = out.split("# sync 2 ", 1)[1].splitlines()
    assert second[0].endswith(" changes: ns1/svc1") and second[1:] == ["(no rule changed)"]


def test_many_services_are_cut_with_a_count() -> None:
    class Report:
        reason = SyncReason.CHANGES
        changed = frozenset(f"ns/s{i}" for i in range(NAMED_SERVICES + 2))

    assert why_synced(Report()) == "changes: ns/s0, ns/s1, ns/s2, +2 more"  # type: ignore[arg-type]
    Report.changed = frozenset()
    Report.reason = SyncReason.FULL_SYNC_PERIOD
    assert why_synced(Report()) == "full-sync-period"  # type: ignore[arg-type]
