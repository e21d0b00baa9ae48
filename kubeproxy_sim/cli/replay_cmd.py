"""``kubeproxy-sim replay``: kube-proxy's syncs over a sequence of object states, full then partial."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from kubeproxy_sim.cli.node_configs import NodeConfigs
from kubeproxy_sim.cli.options import add_node_flags
from kubeproxy_sim.cli.output import Console, add_output_flags, console, item_stream, progress, report
from kubeproxy_sim.durations import parse_duration
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, literal

if TYPE_CHECKING:  # (the model and the proxier are imported when the command runs)
    from kubeproxy_sim.objects.model import Cluster
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.proxier.partial import Step

EXAMPLES = """examples:
  kubeproxy-sim replay \\
      rulesets/upstream-terminating-endpoints-traffic-policy-cluster-ready-endpoints-exist/objects.yaml \\
      rulesets/upstream-terminating-endpoints-traffic-policy-cluster-only-terminating-endpoints-exist/objects.yaml \\
      --hostname-override test-node --node-ip 192.168.0.2/24 --cluster-cidr 10.0.0.0/8 --metrics
  kubeproxy-sim replay rulesets/bootcamp/objects.yaml rulesets/bootcamp/objects.yaml \\
      --hostname-override node1 --cluster-cidr 10.244.0.0/16 -o yaml
  kubeproxy-sim replay step1.yaml step2.yaml step3/ --hostname-override node1 --cluster-cidr 10.244.0.0/16
  kubeproxy-sim replay before.yaml after.yaml --metrics
  kubeproxy-sim replay s1/ s2/ s3/ --interval 45 --iptables-sync-period 30s

Each STATE holds the complete objects at that step (not a patch). The first sync
is full; later ones rewrite only the chains of services whose Service or
EndpointSlices changed since the previous state, plus the chains kube-proxy
always writes, and delete the chains nothing uses any more (-X). A STATE that
does not exist is refused before any sync; one of which nothing could be read
(every document refused: an iptables-save dump, a syntax error) stops the
replay there with exit 1, rather than sync it as a state without objects.
An object a STATE holds only in an invalid form (reported, exit 1) keeps its
version from the state before, as watch -f keeps it: the API server refuses
such a write.

A state without the node's Node object, after one that had it, keeps that
Node's zone (and addresses and pod CIDRs): kube-proxy ignores a Node's
deletion (its topology handler acts on adds and updates only, and the proxier
reads its addresses once, at start), as the note printed then says. Without
--hostname-override the node (the first Node by name) is picked at the first
state with a Node object and kept: kube-proxy fixes its node name (its
machine's, whose Node it is) at start. States before it run as the default
node of their objects (without Node objects the first node the pods and
endpoints name, else node1).
"""

def duration(text: str) -> float:
    """Seconds from a duration as kube-proxy's flags take it (``30s``, ``1m30s``, ``500ms``; a bare number is
    seconds), its sign kept: kube-proxy's flag takes ``-1s`` and its validation refuses it, so a negative value is
    left to the flag's range check (an input error, 1), as a well-formed value out of range is everywhere (see
    :func:`take_negative_values`)."""
    negative = text.startswith("-")
    seconds = parse_duration(text[1:] if negative else text)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{literal(text)} is not a duration (expected e.g. 30s, 1m30s, 500ms or 30)")
    return (-seconds or 0.0) if negative else seconds  # ("-0" is 0, not -0.0)


def check_not_negative(seconds: float, flag: str) -> None:
    """Refuse a negative duration, which :func:`duration` reads with its sign: an input error (1), as a
    well-formed value out of range is."""
    if seconds < 0:
        raise InputError(Diagnostic(f"{seconds:g}s is negative; expected a duration of 0 or more (e.g. 30s)",
                                    field=flag))


_NEGATIVE_VALUE = re.compile(r"-\.?\d")


def take_negative_values(parser: argparse.ArgumentParser) -> None:
    """Let a flag take a value that starts with "-" and a digit (``--interval -1s``) as its value, so that the
    flag's own check says what is wrong with it; argparse (before Python 3.13) took only a plain negative number
    so, and read ``-1s`` as an unknown option ("expected one argument"). Python 3.13's own rule, here for all."""
    parser._negative_number_matcher = _NEGATIVE_VALUE  # (no flag of these parsers looks like a number)


def add_sync_period_flags(group: argparse._ArgumentGroup, *, min_help: str, sync_help: str) -> None:
    """kube-proxy's two sync periods, each under its short name and kube-proxy's own (``--iptables-...``), so that
    ``replay`` and ``watch`` take the same spellings."""
    group.add_argument("--min-sync-period", "--iptables-min-sync-period", dest="min_sync_period", type=duration,
                       action=_Spelled, metavar="DURATION", help=min_help)
    group.add_argument("--sync-period", "--iptables-sync-period", dest="sync_period", type=duration,
                       action=_Spelled, metavar="DURATION", help=sync_help)


class _Spelled(argparse.Action):
    """Store the value, and the spelling it was given under as ``DEST_flag`` (``--iptables-sync-period``), so
    that a refusal names the option the user typed, not another of its names."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_flag", option_string)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "replay",
        help="print each sync's iptables-restore input for a sequence of object states",
        description="Replay kube-proxy's syncs over STATE1 STATE2 ...: print the iptables-restore input of "
        "each sync (a full one first, then partial ones) under a header line '# sync N full' or "
        "'# sync N partial'. -o json|yaml: {syncs: [{sync, state, kind: full|partial, restore: {tables: [{name, "
        "chains: [{name, policy, rules}], deleted: [CHAIN...]}]}, metrics: {...}, error}]}.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("states", nargs="+", metavar="STATE",
                        help="a manifest file or a directory of them (- for standard input): the complete "
                        "objects at that step")
    add_node_flags(parser)
    timing = parser.add_argument_group("timing")
    timing.add_argument("--interval", type=duration, default=1.0, metavar="DURATION",
                        help="time between two syncs (default 1s); more than an hour forces a full sync")
    add_sync_period_flags(
        timing,
        min_help="kube-proxy's minimum time between syncs (default 1s, or --config's iptables.minSyncPeriod): a "
        "shorter --interval is stretched to it, as kube-proxy's sync runner delays a sync that comes sooner",
        sync_help="kube-proxy's sync period (default 30s, or --config's iptables.syncPeriod): large clusters (over "
        "1000 endpoints) delete stale chains at most once per period")
    parser.add_argument("--metrics", action="store_true",
                        help="after each sync, its metrics as '#' comment lines: rule counts, services without local "
                             "endpoints, and (once there are any) the restore failure counters")
    add_output_flags(parser.add_argument_group("output"))
    take_negative_values(parser)
    parser.set_defaults(func=run, sync_period_flags=("--iptables-min-sync-period", "--iptables-sync-period"))


def _check_paths(paths: list[str]) -> None:
    """Refuse up front a STATE that does not exist, or a second "-": replaying either as 'no objects' would delete
    everything (:func:`stdin_once`)."""
    from kubeproxy_sim.cli.options import stdin_once

    stdin_once(("STATE", paths))
    missing = [problem for p in paths if p != "-" and (problem := _state_missing(p)) is not None]
    if missing:
        raise InputError(missing)


def _state_missing(path: str) -> Diagnostic | None:
    """Why a STATE path cannot be read, or None: not there, or another reason said as it is (a name too long, a
    directory above it that may not be entered: "no such file" was said of these too)."""
    from kubeproxy_sim.objects.load import manifest_unreadable

    try:
        os.stat(path)
    except OSError as exc:
        # (a dangling link or a loop of them is named so; a missing path says what is expected)
        return manifest_unreadable(path, exc, "STATE")
    return None


def _report(diagnostics, seen: set[str], args: argparse.Namespace | None = None) -> None:
    """Print each diagnostic once, even when every state repeats it (a node-flag warning, say)."""
    fresh = [d for d in diagnostics if str(d) not in seen]
    seen.update(str(d) for d in fresh)
    report(fresh, args)


def _empty(cluster: Cluster) -> bool:
    return not (cluster.services or cluster.endpoint_slices or cluster.nodes or cluster.pods)


def nothing_usable(number: int, path: str) -> str:
    """Why the replay stops at a state whose every document was refused (an iptables-save dump, a syntax error,
    objects that are all invalid with no previous version to keep), as it refuses a missing state: synced as a
    state without objects, it would delete every service's rules."""
    return (f"{path}: nothing in this state could be read, so the replay stops before sync {number} (synced as "
            "a state without objects it would delete every service's rules)")


def sync_data(number: int, path: str, step: Step, config: ProxyConfig) -> dict[str, object]:
    """One sync as data: what the text shows, with the restore input's tables as ``rules -o json`` has them."""
    restore = step.outcome.restore
    metrics = step.outcome.metrics
    return {
        "sync": number, "state": path, "kind": "full" if step.outcome.full else "partial",
        "restore": {"tables": [{"name": t.name,
                                "chains": [{"name": c.name, "policy": c.policy, "rules": [r.text() for r in c.rules]}
                                           for c in t.chains],
                                "deleted": list(t.deleted)} for t in restore.tables]},
        "metrics": {**dataclasses.asdict(metrics), "ip_family": "IPv6" if config.ipv6 else "IPv4"},
        "error": None if step.error is None else str(step.error),
    }


def sync_text(number: int, step: Step, config: ProxyConfig, metrics: bool, con: Console) -> str:
    """One sync as the text shows it: a header line, the restore input, (--metrics) '#' metric lines."""
    from kubeproxy_sim.netfilter.codec import render_ruleset

    header = f"# sync {number} {'full' if step.outcome.full else 'partial'}"
    out = [con.paint(header, "bold", "cyan") + "\n", render_ruleset(step.outcome.restore)]
    if metrics:
        family = "IPv6" if config.ipv6 else "IPv4"
        out.extend(con.paint(f"# {line}", "dim") + "\n" for line in step.outcome.metrics.prometheus(family))
    return "".join(out)


def _load_state(path: str) -> tuple[Any, dict[str, str]]:
    """``load_paths([path])``, and a revision token per EndpointSlice (a digest of what the model drops of it:
    see watch.directory.slice_recorder)."""
    from kubeproxy_sim.objects.load import load_paths
    from kubeproxy_sim.watch.directory import slice_recorder

    revisions: dict[str, str] = {}
    return load_paths([path], on_object=slice_recorder(revisions), flag="STATE"), revisions


def _revised(before: dict[str, str], after: dict[str, str], cluster: Cluster, ipv6: bool) -> set[str]:
    """The Services of the slices the proxier sees whose document changed where the model does not look (an
    annotation, a targetRef's uid): kube-proxy's slice cache compares whole slices, so they are changed too."""
    keys = {key for key, revision in after.items() if before.get(key, revision) != revision}
    if not keys:
        return set()
    from kubeproxy_sim.proxier.views import slice_state
    from kubeproxy_sim.watch.trackers import slice_service

    return {svc for es in cluster.endpoint_slices if es.key in keys and slice_state(es, ipv6) is not None
            and (svc := slice_service(es)) is not None}


def _kept_revisions(revisions: dict[str, str], before: dict[str, str], kept: tuple[Diagnostic, ...]) -> dict[str, str]:
    """The slices' revision tokens, a slice that keeps its previous version (:func:`keep_refused_versions`) with
    its previous token: the refused document is no new revision."""
    from kubeproxy_sim.watch.state import keep_revision

    for note in kept:
        if note.kind == "EndpointSlice" and note.object is not None:
            keep_revision(revisions, before, note.object)
    return revisions


def _read_state(number: int, path: str, previous: Cluster, previous_revisions: dict[str, str], seen: set[str],
                args: argparse.Namespace) -> tuple[Cluster, dict[str, str], tuple[Diagnostic, ...]] | None:
    """(objects, slice revision tokens, what reading them found) of the state at ``path``, each refused object
    keeping its version of the ``previous`` state, as kube-proxy's informers keep the last one the API server
    accepted. None, its reasons said, when nothing in it could be read: synced, such a state would delete every
    service's rules (:func:`nothing_usable`)."""
    from kubeproxy_sim.watch.state import keep_refused_versions

    loaded, revisions = _load_state(path)
    # (refused objects keep their previous versions first: a state of only those is no empty state)
    objects, refused = keep_refused_versions(previous, loaded.cluster, loaded.diagnostics)
    if not loaded.ok and _empty(objects):
        _report(loaded.diagnostics, seen, args)
        report([nothing_usable(number, path)], args)
        return None
    revisions = _kept_revisions(revisions, previous_revisions, refused)
    return objects, revisions, (*loaded.diagnostics, *refused)


def _write_sync(document: Any, number: int, path: str, step: Step, config: ProxyConfig, metrics: bool,
                con: Console) -> None:
    """One sync's output, written as soon as it is made: its item of the -o json|yaml ``document``, or its text
    flushed (no document), so a long replay shows each sync as it comes."""
    if document is not None:
        document.add(sync_data(number, path, step, config))
    else:
        sys.stdout.write(sync_text(number, step, config, metrics, con))
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    """Sync each STATE in turn, each sync's output written and flushed as soon as it is made (its text, or its
    item of the ``-o json|yaml`` document through :func:`item_stream`): a long replay shows its syncs as they
    come, and a reader that stops early (``| head``) stops it at the next sync.

    Memory is bounded by one state, not by the number of STATEs: a STATE is loaded when its sync comes, and
    what carries to the next is the node's ruleset, kube-proxy's sync state, the previous state's objects and
    slice revisions (to find what changed) and the last Node seen; a sync's output is made, written and
    dropped. (Only the diagnostics said, kept to say each once, grow: with the distinct ones.) A run stopped by
    an error it reports (a state of which nothing could be read; node settings kube-proxy refuses, such as
    ``--detect-local-mode NodeCIDR`` at a state whose Node has no pod CIDR) still ends its JSON or YAML
    document after the syncs before it.
    """
    from kubeproxy_sim.cli.options import check_node_settings, sync_periods
    from kubeproxy_sim.netfilter.model import Ruleset
    from kubeproxy_sim.objects.model import Cluster, Node
    from kubeproxy_sim.proxier.partial import SyncState, SyncTiming, changed_services, sync_and_apply
    from kubeproxy_sim.watch.state import keep_deleted_node

    check_node_settings(args)
    check_not_negative(args.interval, "--interval")
    _check_paths(args.states)
    min_sync, sync_period = sync_periods(args)
    timing = SyncTiming(sync_period=sync_period)
    step_seconds = max(args.interval, min_sync)
    node, state, previous, now = Ruleset(), SyncState(), Cluster(), 0.0
    previous_revisions: dict[str, str] = {}
    last_node: Node | None = None  # the node's Node object as last seen: a state without it keeps it (kube-proxy does)
    seen: set[str] = set()
    configure = NodeConfigs(args)  # the node's name is fixed at the first state (with a Node object, if not given)
    failed = False
    con = console(args)
    with item_stream("syncs", args.output) as document, progress("replaying syncs", total=len(args.states)) as tick:
        for number, path in enumerate(args.states, 1):
            read = _read_state(number, path, previous, previous_revisions, seen, args)
            if read is None:
                failed = True
                break
            objects, revisions, read_diagnostics = read
            cluster, kept = keep_deleted_node(objects, last_node)
            config, config_diags = configure(cluster)
            last_node = cluster.node(config.node_name) or last_node
            diagnostics = (*read_diagnostics, *config_diags, *([kept] if kept else []))
            _report(diagnostics, seen, args)
            failed |= any(d.severity is Severity.ERROR for d in diagnostics)
            changed = changed_services(previous, objects, config.ipv6) | _revised(
                previous_revisions, revisions, objects, config.ipv6)
            step = sync_and_apply(node, state, cluster, config, changed, now, timing)
            _write_sync(document, number, path, step, config, args.metrics, con)
            if step.error is not None:
                report([f"sync {number} ({path}): {step.error}; the next sync is full"], args)
                failed = True
            node, state, previous, previous_revisions = step.node, step.state, objects, revisions
            now += step_seconds
            tick()
    return 1 if failed else 0
