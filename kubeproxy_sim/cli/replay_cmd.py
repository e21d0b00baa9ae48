"""``kubeproxy-sim replay``: kube-proxy's syncs over a sequence of object states, full then partial."""

from __future__ import annotations

import argparse
import os
import re
import sys

from kubeproxy_sim.cli.options import add_node_flags
from kubeproxy_sim.errors import Diagnostic, InputError

EXAMPLES = """examples:
  kubeproxy-sim replay step1.yaml step2.yaml step3/ --hostname-override node1 --cluster-cidr 10.244.0.0/16
  kubeproxy-sim replay before.yaml after.yaml --metrics
  kubeproxy-sim replay s1/ s2/ s3/ --interval 45 --iptables-sync-period 30s

Each STATE holds the complete objects at that step (not a patch). The first sync
is full; later ones rewrite only the chains of services whose Service or
EndpointSlices changed since the previous state, plus the chains kube-proxy
always writes, and delete the chains nothing uses any more (-X).
"""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """Seconds from ``30``, ``30s``, ``1m``, ``500ms`` or ``1h`` (the forms kube-proxy's durations take)."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (expected e.g. 30s, 1m, 500ms or 30)")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "replay",
        help="print each sync's iptables-restore input for a sequence of object states",
        description="Replay kube-proxy's syncs over STATE1 STATE2 ...: print the iptables-restore input of "
        "each sync (a full one first, then partial ones) under a header line '# sync N full' or "
        "'# sync N partial'.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("states", nargs="+", metavar="STATE",
                        help="a manifest file or a directory of them: the complete objects at that step")
    add_node_flags(parser)
    timing = parser.add_argument_group("timing")
    timing.add_argument("--interval", type=duration, default=1.0, metavar="DURATION",
                        help="time between two syncs (default 1s); more than an hour forces a full sync")
    timing.add_argument("--iptables-sync-period", type=duration, default=30.0, metavar="DURATION",
                        help="kube-proxy's sync period (default 30s): large clusters (over 1000 endpoints) "
                        "delete stale chains at most once per period")
    parser.add_argument("--metrics", action="store_true",
                        help="after each sync, its rule-count metrics as '#' comment lines")
    parser.set_defaults(func=run)


def _check_paths(paths: list[str]) -> None:
    """Refuse up front a STATE that does not exist: replaying it as 'no objects' would delete everything."""
    missing = [Diagnostic("no such file or directory; expected a manifest file or a directory of them",
                          file=p, field="STATE") for p in paths if p != "-" and not os.path.exists(p)]
    if missing:
        raise InputError(missing)


def _report(diagnostics, seen: set[str]) -> None:
    """Print each diagnostic once, even when every state repeats it (a node-flag warning, say)."""
    for diagnostic in diagnostics:
        text = str(diagnostic)
        if text not in seen:
            seen.add(text)
            print(f"kubeproxy-sim: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.cli.options import build_config
    from kubeproxy_sim.errors import Severity
    from kubeproxy_sim.netfilter.codec import render_ruleset
    from kubeproxy_sim.netfilter.model import Ruleset
    from kubeproxy_sim.objects import load_paths
    from kubeproxy_sim.objects.model import Cluster
    from kubeproxy_sim.proxier.partial import SyncState, SyncTiming, changed_services, sync_and_apply

    _check_paths(args.states)
    timing = SyncTiming(sync_period=args.iptables_sync_period)
    node, state, previous, now = Ruleset(), SyncState(), Cluster(), 0.0
    seen: set[str] = set()
    failed = False
    out = sys.stdout
    for number, path in enumerate(args.states, 1):
        loaded = load_paths([path])
        config, config_diags = build_config(args, loaded.cluster)
        diagnostics = (*loaded.diagnostics, *config_diags)
        _report(diagnostics, seen)
        failed |= any(d.severity is Severity.ERROR for d in diagnostics)
        step = sync_and_apply(node, state, loaded.cluster, config, changed_services(previous, loaded.cluster),
                              now, timing)
        out.write(f"# sync {number} {'full' if step.outcome.full else 'partial'}\n")
        out.write(render_ruleset(step.outcome.restore))
        if args.metrics:
            family = "IPv6" if config.ipv6 else "IPv4"
            out.write("".join(f"# {line}\n" for line in step.outcome.metrics.prometheus(family)))
        if step.error is not None:
            print(f"kubeproxy-sim: sync {number} ({path}): {step.error}; the next sync is full", file=sys.stderr)
            failed = True
        node, state, previous = step.node, step.state, loaded.cluster
        now += args.interval
    return 1 if failed else 0
