"""``kubeproxy-sim watch``: follow a directory of manifests or a live API server and print every sync."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from kubeproxy_sim.cli.node_configs import NodeConfigs, given_node_name
from kubeproxy_sim.cli.options import add_node_flags, add_recursive_flag, no_stdin
from kubeproxy_sim.cli.output import add_output_flags
from kubeproxy_sim.cli.replay_cmd import add_sync_period_flags, check_not_negative, duration, take_negative_values
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError, cannot_read
from kubeproxy_sim.signals import Terminated, terminate_as_interrupt

if TYPE_CHECKING:
    from kubeproxy_sim.cli.config_file import ReadFailure
    from kubeproxy_sim.netfilter.model import Ruleset, Table
    from kubeproxy_sim.watch.events import Batch
    from kubeproxy_sim.watch.sync_loop import SyncLoop, SyncReport

EXAMPLES = """examples:
  kubeproxy-sim watch -f manifests/ --hostname-override node1 --cluster-cidr 10.244.0.0/16
  kubeproxy-sim watch -f manifests/ --diff --min-sync-period 0
  kubeproxy-sim watch -f manifests/ -R --hostname-override node1    # and the subdirectories, as kubectl -R
  kubeproxy-sim watch --kubeconfig ~/.kube/config --context kind-kind --hostname-override kind-worker -o json

The first sync is full; after it, each sync rewrites only the chains of the
services whose Service or EndpointSlices changed, plus the chains kube-proxy
always writes, and deletes the chains nothing uses any more (-X). As
kube-proxy's sync runner: a change syncs no sooner than --min-sync-period after
the previous sync; a sync whose restore was refused is retried (full)
--sync-period after it; with nothing changed, a full sync runs once an hour
(kube-proxy's FullSyncPeriod). Files in the directory are read once they have
stopped changing for --debounce. Problems in the input are reported
on stderr (file, object, field) and the other objects keep syncing. Ctrl-C stops.
The node's Node object, once deleted, keeps its zone (and addresses and pod
CIDRs), as in replay: kube-proxy ignores a Node's deletion; a note says so.
New node IPs on the node's Node are said and ignored, as kube-proxy keeps the
ones it started with; a new spec.podCIDRs under --detect-local-mode NodeCIDR
makes kube-proxy exit, as a warning says, and the watch goes on as the
restarted kube-proxy (the Node read afresh, a full sync), which waits for pod
CIDRs as at start (a Node registered again without them, say). So does a write to
the --config file, or its renaming away (kube-proxy exits on either): the watch
says so and goes on with the file then at that path, or ends with exit status 1
naming what kube-proxy's restart would refuse in it; a file replaced or removed,
or touched, goes unnoticed, as by kube-proxy.
Without --hostname-override the node (the first Node by name) is picked at the
first sync with a Node object and kept, across a restart too unless the new
file sets hostnameOverride: kube-proxy fixes its node name (its machine's,
whose Node it is) at start. Syncs before it run as the default node of their
objects (without Node objects the first node the pods and endpoints name, else
node1). A node named (or
picked, at a restart) waits for its Node, as kube-proxy at start: the first
sync comes once that Node has addresses (--node-ip gives them and skips this
wait), or after 30s without (a warning); under
--detect-local-mode NodeCIDR up to 5 minutes more for its spec.podCIDRs, then
the watch ends with exit status 1, as kube-proxy fails to start.

--kubeconfig asks for what kube-proxy's informers ask for: Services and
EndpointSlices without the service-proxy-name and headless labels, and only
the Node named by --hostname-override (every Node without it); no Pods. A
restart as another node (a new hostnameOverride in the --config file) asks
for that node's Node, and lists everything again, as kube-proxy's restart
does. A failing request is retried with backoff, and said once until it
works again.
With --once or --max-syncs a list the server refuses for good (HTTP 400, 401,
403, 404, a TLS verification error), one that still fails after 4 attempts
(an unreachable server), or a first watch refused for good (a role that may
list but not watch) ends the run with exit status 1, before the first sync.

Exit status: 0; 1 when the run reported invalid objects (ended by --once,
--max-syncs or Ctrl-C) or gave up on the API server; 130 when Ctrl-C came
before the first sync (interrupted with nothing done).
"""

GIVE_UP_ATTEMPTS = 4
"""--once/--max-syncs: failed attempts at a kind's first list before the run gives up (~6 s of backoff)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "watch",
        help="follow a manifest directory or an API server and print each sync's iptables-restore input",
        description="Follow a directory of manifests (-f DIR) or a live API server (--kubeconfig FILE) the way "
        "kube-proxy follows its watches, and print each sync's iptables-restore input under a header line "
        "'# sync N full|partial (X ms) REASON[: NS/NAME, ...]': why it ran (initial, changes, retry, "
        "full-sync-period) and the services whose changes it took in.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = parser.add_argument_group("source (one of)")
    src.add_argument("-f", "--filename", metavar="DIR", type=no_stdin(
                         "a directory is watched as its files change, not standard input", WATCHED_DIRECTORY),
                     help="a directory of manifests (YAML or JSON); files added, edited or removed are changes")
    add_recursive_flag(src, "watch")
    src.add_argument("--kubeconfig", metavar="FILE", type=no_stdin(
                     "the kubeconfig is read from a file, not standard input", "a kubeconfig file"),
                     help="watch the API server this kubeconfig points at")
    src.add_argument("--context", metavar="NAME", help="the kubeconfig context to use (default: its current one)")
    add_node_flags(parser)
    timing = parser.add_argument_group("timing (kube-proxy's durations: 500ms, 1s, 2m30s, or plain seconds)")
    add_sync_period_flags(
        timing,
        min_help="a change syncs no sooner than this after the previous sync (default 1s, or the --config file's "
        "iptables.minSyncPeriod)",
        sync_help="retry a sync whose restore was refused this long after it (default 30s, or iptables.syncPeriod); "
        "large clusters delete stale chains at most once per period. With nothing changed, a full sync runs once "
        "an hour, as in kube-proxy")
    timing.add_argument("--poll-interval", type=duration, default=1.0, metavar="DURATION",
                        help="how often to look at the source (default 1s; a live API server is followed "
                        "as events arrive)")
    timing.add_argument("--debounce", type=duration, default=0.5, metavar="DURATION",
                        help="-f: read a file once it has stopped changing for this long (default 500ms); "
                        "also how long a --config file's change stands before kube-proxy's restart reads it")
    stop = parser.add_argument_group("stopping (default: run until Ctrl-C)").add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="exit after the first sync")
    stop.add_argument("--max-syncs", type=_positive_int, metavar="N", help="exit after N syncs")
    parser.add_argument("--diff", action="store_true",
                        help="instead of the restore input, a unified diff of the node's kube-proxy chains "
                        "against the previous sync")
    add_output_flags(parser, formats=("text", "json"))
    take_negative_values(parser)
    parser.set_defaults(func=run)


# --------------------------------------------------------------------------- sources


MIN_POLL_INTERVAL = 0.05


def _check_source(args: argparse.Namespace) -> None:
    """Exactly one source, and a directory that exists: anything else is a usage error named by its flag."""
    if bool(args.filename) == bool(args.kubeconfig):
        raise UsageError(Diagnostic("give exactly one source: -f DIR or --kubeconfig FILE", field="-f"))
    if args.context and not args.kubeconfig:
        raise UsageError(Diagnostic("--context needs --kubeconfig", field="--context"))
    if args.filename and not os.path.isdir(args.filename):
        raise InputError(Diagnostic(cannot_read(_not_a_directory(args.filename), WATCHED_DIRECTORY),
                                    file=args.filename, field="-f"))
    if args.kubeconfig:
        _check_kubeconfig(args.kubeconfig)
    if args.poll_interval < MIN_POLL_INTERVAL:  # 0 would poll as fast as a core runs
        raise InputError(Diagnostic(f"{args.poll_interval:g} s: expected at least {MIN_POLL_INTERVAL:g} s",
                                    field="--poll-interval"))
    check_not_negative(args.debounce, "--debounce")


WATCHED_DIRECTORY = "a directory of manifests to watch (put a single file in a directory of its own)"


def _not_a_directory(path: str) -> OSError | str:
    """Why ``-f PATH``, no directory, cannot be watched: the reason it cannot be looked at (missing, a dangling
    link, a name too long), or what it is (a file, or objects.load.special_kind's FIFO, socket or device)."""
    from kubeproxy_sim.objects.load import special_kind

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return exc
    return f"{special_kind(mode) or 'a file'}, not a directory"


def _check_kubeconfig(path: str) -> None:
    """A --kubeconfig that is not there (or cannot be looked at) stops the watch before anything else, in the words
    its reading would say it in (watch.apiserver.kubeconfig_unreadable); what only reading finds (a directory, no
    permission, not UTF-8) is said when it is read."""
    try:
        os.stat(path)
    except OSError as exc:
        from kubeproxy_sim.watch.apiserver import kubeconfig_unreadable

        raise InputError(kubeconfig_unreadable(path, exc)) from None


def _open_source(args: argparse.Namespace, sleep: Callable[[float], None],
                 clock: Callable[[], float]) -> tuple[Any, Callable[[float], Batch]]:
    """The source and its ``poll(timeout)``: a live one waits for events, a directory is looked at after a nap."""
    if args.kubeconfig:
        from kubeproxy_sim.watch.apiserver import ApiServerSource

        bounded = bool(args.once or args.max_syncs)
        live = ApiServerSource(args.kubeconfig, context=args.context, node_name=given_node_name(args),
                               give_up=GIVE_UP_ATTEMPTS if bounded else None).start()
        return live, live.poll

    from kubeproxy_sim.watch.directory import DirectorySource

    directory = DirectorySource(args.filename, clock=clock, debounce=args.debounce, recursive=args.recursive)

    def poll(timeout: float) -> Batch:
        if timeout > 0:
            sleep(timeout)
        return directory.poll()

    return directory, poll


class Source:
    """The watch's source and its ``poll``. A live one selects the Node of the node kube-proxy runs as, so a
    restart as another node (a new --config file's hostnameOverride) opens it anew: the restarted kube-proxy's
    informers select the new name, and list everything again."""

    def __init__(self, args: argparse.Namespace, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self._sleep, self._clock = sleep, clock
        self._source, self.poll = _open_source(args, sleep, clock)
        self._node = given_node_name(args)

    def restarted(self, args: argparse.Namespace) -> bool:
        """Follow kube-proxy restarted with ``args``: True when the source was opened anew (its objects are then
        listed again, from an empty store, as the new kube-proxy's informers list them)."""
        if not args.kubeconfig or given_node_name(args) == self._node:
            return False
        self.close()
        self._source, self.poll = _open_source(args, self._sleep, self._clock)
        self._node = given_node_name(args)
        return True

    def close(self) -> None:
        self._source.close()


# --------------------------------------------------------------------------- output


def _chain_lines(table: Table | None, names: list[str]) -> list[str]:
    """Each named chain of ``table`` as a declaration followed by its rules (absent chains give nothing)."""
    if table is None:
        return []
    wanted = set(names)
    chains = {c.name: c for c in table.chains if c.name in wanted}
    lines: list[str] = []
    for name in names:
        chain = chains.get(name)
        if chain is not None:
            lines.append(f":{name} {chain.policy or '-'}")
            lines.extend(rule.text() for rule in chain.rules)
    return lines


def chains_diff(before: Ruleset, after: Ruleset, restore: Ruleset, old_label: str, new_label: str) -> list[str]:
    """A unified diff of the node's kube-proxy chains that the restore input touched and that differ.

    Only chains the restore declared or deleted can have changed, so only those are
    compared (a partial sync of a big cluster touches a handful of its chains).
    """
    from kubeproxy_sim.proxier.naming import is_kube_proxy_chain

    old_lines: list[str] = []
    new_lines: list[str] = []
    for table in restore.tables:
        names = [c.name for c in table.chains] + list(table.deleted)
        names = [n for n in dict.fromkeys(names) if is_kube_proxy_chain(n)]
        old = _chain_lines(before.table(table.name), names)
        new = _chain_lines(after.table(table.name), names)
        changed = _changed_chains(old, new)
        if changed:
            old_lines += [f"*{table.name}", *_only(old, changed)]
            new_lines += [f"*{table.name}", *_only(new, changed)]
    return list(difflib.unified_diff(old_lines, new_lines, old_label, new_label, lineterm=""))


def _split_chains(lines: list[str]) -> dict[str, list[str]]:
    chains: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines:
        if line.startswith(":"):
            current = chains.setdefault(line[1:].split(" ", 1)[0], [])
        current.append(line)
    return chains


def _changed_chains(old: list[str], new: list[str]) -> set[str]:
    before, after = _split_chains(old), _split_chains(new)
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def _only(lines: list[str], names: set[str]) -> Iterator[str]:
    for name, chain_lines in _split_chains(lines).items():
        if name in names:
            yield from chain_lines


NO_RULE_CHANGED = "(no rule changed)"
"""What --diff prints under the header of a sync that changed no kube-proxy rule (-o json's ``diff`` is "")."""
NAMED_SERVICES = 3
"""How many of a sync's changed services its text header names before '+N more' (-o json's ``changed`` has all)."""


def why_synced(report: SyncReport) -> str:
    """The header's end: the sync's ``reason`` as -o json writes it and, after ':', the services whose changes it
    took in (``changed``), the first :data:`NAMED_SERVICES` of them and how many more (u1: the text said neither)."""
    names = sorted(report.changed)
    if not names:
        return report.reason.value
    more = len(names) - NAMED_SERVICES
    shown = ", ".join(names[:NAMED_SERVICES]) + (f", +{more} more" if more > 0 else "")
    return f"{report.reason.value}: {shown}"


class Printer:
    """Writes each sync as text, a diff, or one JSON line, flushed at once (a pipe sees each sync as it ends)."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        from kubeproxy_sim.cli.output import console
        from kubeproxy_sim.netfilter.model import Ruleset

        self.out = out
        self.diff = bool(args.diff)
        self.json = args.output == "json"
        self.console = console(args, out)
        self.previous: Ruleset = Ruleset()

    def show(self, report: SyncReport) -> None:
        from kubeproxy_sim.netfilter.codec import render_ruleset

        kind = "full" if report.full else "partial"
        diff = (chains_diff(self.previous, report.node, report.restore, f"sync {report.number - 1}",
                            f"sync {report.number}") if self.diff else None)
        self.previous = report.node
        if self.json:
            self.out.write(json.dumps(self._record(report, diff, render_ruleset)) + "\n")
        else:
            header = f"# sync {report.number} {kind} ({report.duration * 1000:.1f} ms) {why_synced(report)}"
            self.out.write(self.console.paint(header, "bold") + "\n")
            if diff is None:
                self.out.write(render_ruleset(report.restore))
            elif not diff:
                self.out.write(NO_RULE_CHANGED + "\n")
            else:
                self.out.write("".join(self._paint_diff(line) + "\n" for line in diff))
        self.out.flush()

    @staticmethod
    def _record(report: SyncReport, diff: list[str] | None, render: Callable[[Ruleset], str]) -> dict[str, Any]:
        from dataclasses import asdict

        record: dict[str, Any] = {
            "number": report.number, "full": report.full, "reason": report.reason.value,
            "duration_ms": round(report.duration * 1000, 3),
            "apply_ms": round(report.apply_duration * 1000, 3),
            "changed": sorted(report.changed),
            "metrics": {**asdict(report.metrics), "ip_family": "IPv6" if report.restore.ipv6 else "IPv4"},  # as replay
            "restore": render(report.restore),
            "error": str(report.error) if report.error is not None else None,
        }
        if diff is not None:
            record["diff"] = "".join(line + "\n" for line in diff)
        return record

    def _paint_diff(self, line: str) -> str:
        if line.startswith(("---", "+++")):
            return self.console.paint(line, "bold")
        if line.startswith("@@"):
            return self.console.paint(line, "cyan")
        if line.startswith("+"):
            return self.console.paint(line, "green")
        if line.startswith("-"):
            return self.console.paint(line, "red")
        return line


# --------------------------------------------------------------------------- the command


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time) -> int:
    """Watch until Ctrl-C or --once/--max-syncs: exit 1 if invalid objects were reported, else 0; 130 when
    Ctrl-C came before the first sync. ``clock`` paces the syncs, ``wall`` stamps them (the last-sync timestamp
    metric, Unix time: see watch.sync_loop.SyncLoop)."""
    _check_source(args)
    from kubeproxy_sim.cli.options import check_node_settings, with_config_read

    args = with_config_read(args)  # kube-proxy reads its --config file once, at start (main read it: kept)
    check_node_settings(args)  # a node setting kube-proxy refuses stops the command before it connects
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr

    report = Reporter(err)
    source = Source(args, sleep, clock)
    synced = [False]  # a flag _follow sets: a sync was done
    try:
        with terminate_as_interrupt():  # SIGTERM (kill, a service manager's stop) ends it as Ctrl-C does
            _follow(args, source, out, clock, wall, report, synced)
    except KeyboardInterrupt as exc:
        # Ctrl-C is how a watch ends: the status says, as with --once, whether invalid objects were seen;
        # before the first sync nothing was done, and the status is the interrupted command's (main's): 130,
        # or 143 (128 + SIGTERM) for a SIGTERM, as a shell reports a process the signal ended
        if not synced[0]:
            return 143 if isinstance(exc, Terminated) else 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while closing
            source.close()
    return 1 if report.errors else 0


class Reporter:
    """Says what is found on ``err`` as it is found: errors and warnings every time, a note (a skipped kind, say)
    once per kube-proxy run: a restarted kube-proxy (:meth:`restarted`) says its notes anew, its wait for its Node
    among them. Counts the errors, for the exit status."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._notes: set[str] = set()
        self.errors = 0

    def __call__(self, found: tuple[Diagnostic, ...]) -> None:
        for d in found:
            text = str(d)
            if d.severity is Severity.NOTE:
                if text in self._notes:
                    continue
                self._notes.add(text)
            print(f"kubeproxy-sim: {text}", file=self._err)
        self.errors += sum(d.severity is Severity.ERROR for d in found)
        self._err.flush()

    def restarted(self) -> None:
        self._notes.clear()


class _ConfigWritten(Exception):
    """kube-proxy's watch on its --config file saw a Write or a Rename: it exits, to be restarted with the file
    then at that path. ``what`` the file went through, for the messages."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


Signature = tuple[int, int]  # (mtime in ns, size) of the watched file: what a write moves


class ConfigFileWatch:
    """kube-proxy's watch on its --config file (kubernetes 531be81208e2, cmd/kube-proxy/app/server.go:
    ``eventHandler``: an inotify watch, through fsnotify, on the file it read), by polling. kube-proxy exits on
    a Write or a Rename event, to be restarted (by its DaemonSet) with the file then at the path, and ignores
    the others. The file kube-proxy read is held open (as the inotify watch holds its inode), and each look is:

    * its link count 0: removed, or a new file renamed over it (a ConfigMap update, an editor's atomic save):
      Chmod and Remove events, ignored; the watch is gone with the inode, and a note says so once;
    * the path now naming another inode, or none: the file was renamed away (Rename): kube-proxy exits, and its
      restart reads what is at the path then (refused when nothing is);
    * its modification time or size moved: a write, if its bytes differ from those read at (re)start (Write);
      the same bytes with a new time are a ``touch`` (Chmod), ignored.

    A change is acted on once it has stood for ``debounce`` seconds, as the restart comes a moment after the
    exit (and a half-written file is not read). What polling cannot tell is in docs/watch.md (A --config file that
    changes). A --config that is no regular file (``--config <(...)``, a named FIFO) is not watched, and a note
    says so once: its bytes cannot be read again to compare (a pipe cannot seek; a FIFO gives them once)."""

    def __init__(self, path: str, clock: Callable[[], float], debounce: float, read: str | ReadFailure | None) -> None:
        self.path = path
        self._clock = clock
        self._debounce = debounce
        self._fd: int | None = None
        self._content = b""  # the bytes kube-proxy (re)started with
        self._read: Signature = (0, 0)  # the file as last compared with them
        self._seen: tuple[object, float] | None = None  # a change not yet acted on: (what it looks like, since)
        self._unwatched: Diagnostic | None = None  # the note that the file is not watched, until said
        self.restart(read)

    def restart(self, read: str | ReadFailure | None) -> None:
        """Watch the file now at the path, as the restarted kube-proxy does after reading ``read`` from it
        (:func:`~kubeproxy_sim.cli.options.config_text`): a write between the two is acted on. (A reading that
        failed does not get here: the (re)start refuses the file first.)"""
        from kubeproxy_sim.objects.load import special_kind

        self.close()
        try:  # a FIFO is not opened: opening it, then closing it, would let a writer waiting for a reader on to
            # EPIPE; only a regular file is, O_NONBLOCK should a FIFO take its place in between (not to wait for
            # a writer), and looked at again once open
            special = special_kind(os.stat(self.path).st_mode)
            if special is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                special = special_kind(os.fstat(self._fd).st_mode)
        except OSError:
            return  # (the restart refused a missing file before this)
        if special is not None:
            self.close()
            self._unwatched = Diagnostic(
                f"the --config file is {special}, not a regular file: the watch does not follow it for writes "
                "(it finds one by reading a regular file's bytes again)", file=self.path, severity=Severity.NOTE)
            return
        self._content = read.encode("utf-8") if isinstance(read, str) else b""
        now, self._read = self._contents()
        if now != self._content:
            self._read = (-1, -1)  # written since it was read: the next look sees a change

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._seen = None, None

    def _contents(self) -> tuple[bytes, Signature]:
        assert self._fd is not None
        st = os.fstat(self._fd)
        return os.pread(self._fd, st.st_size + 1, 0), (st.st_mtime_ns, st.st_size)

    def _renamed_away(self, watched: os.stat_result) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != (watched.st_dev, watched.st_ino)

    def check(self) -> tuple[Diagnostic, ...]:
        """Raise :class:`_ConfigWritten` for a settled write or rename; a note, once, when the file is gone or
        is not watched."""
        if self._unwatched is not None:
            said, self._unwatched = self._unwatched, None
            return (said,)
        if self._fd is None:
            return ()
        watched = os.fstat(self._fd)
        if watched.st_nlink == 0:
            self.close()  # kube-proxy's watch is gone with the file it was on
            return (Diagnostic("the --config file was replaced or removed: kube-proxy, watching the file it read, "
                               "does not notice; it keeps its config and sees no later change to that path until "
                               "it restarts", file=self.path, severity=Severity.NOTE),)
        change: object
        if self._renamed_away(watched):
            change = "renamed"
        elif (watched.st_mtime_ns, watched.st_size) != self._read:
            change = (watched.st_mtime_ns, watched.st_size)
        else:
            self._seen = None
            return ()
        now = self._clock()
        if self._seen is None or self._seen[0] != change:
            self._seen = (change, now)
        if now - self._seen[1] < self._debounce:
            return ()
        self._seen = None
        if change == "renamed":
            raise _ConfigWritten("renamed")
        content, self._read = self._contents()
        if content != self._content:
            raise _ConfigWritten("written")
        return ()  # a touch: kube-proxy sees a Chmod event and ignores it


def _restart_loop(args: argparse.Namespace, clock: Callable[[], float], wall: Callable[[], float],
                  previous: tuple[SyncLoop, NodeConfigs] | None,
                  report: Callable[[tuple[Diagnostic, ...]], None],
                  cause: str = "written", source: Source | None = None) -> tuple[SyncLoop, NodeConfigs]:
    """A sync loop as kube-proxy (re)starts, and its node's configs: its config as ``args`` read it (once per
    start: :func:`~kubeproxy_sim.cli.options.with_config_read`); after ``previous`` (kube-proxy exited as its
    --config file was ``cause``, or "exited" on a Node change), on the node's tables as that one left them, with
    the objects it held, as the restarted kube-proxy's informers list them again, and as the same node (its
    hostname); paced by ``clock`` and stamped by ``wall`` (:func:`run`'s); what that first batch brings (the new
    file's problems, with the config it builds) goes to ``report``. A config file the restart refuses ends the
    watch; one it takes is followed by ``source``, opened anew for another node (:meth:`Source.restarted`), which
    then lists the objects itself."""
    from kubeproxy_sim.cli.options import check_node_settings, sync_periods
    from kubeproxy_sim.watch.events import Batch, bookmark, diff_events
    from kubeproxy_sim.watch.sync_loop import LoopTiming, SyncLoop

    try:
        if previous is not None:
            check_node_settings(args)
        low, period = sync_periods(args)
    except InputError as exc:
        if previous is None:
            raise
        why = {"written": "the --config file was written: kube-proxy exits, and its restart refuses the new file",
               "renamed": "the --config file was renamed: kube-proxy exits, and its restart refuses what is at "
                          "that path now",
               "exited": "kube-proxy exited on its Node's change, and its restart refuses the --config file now at "
                         "that path"}[cause]
        raise InputError([Diagnostic(f"{why} (kube-proxy would restart over and over); the watch stops",
                                     file=args.config), *exc.diagnostics]) from None
    relisted = previous is not None and source is not None and source.restarted(args)
    timing = LoopTiming(min_sync_period=low, sync_period=period)
    # the node's name is fixed at the first sync
    configs = NodeConfigs(args, exits=True) if previous is None else previous[1].restarted(args)
    loop = SyncLoop(configs, timing=timing, clock=clock, wall=wall, node=None if previous is None else previous[0].node,
                    node_wait=configs.node_wait())
    if previous is not None and not relisted:
        state = previous[0].state
        objects = {(kind, key): obj for kind in state.synced for key, obj in state.objects(kind).items()}
        listed = diff_events({}, objects, lambda: "0")
        found = loop.feed(Batch((*listed, *(bookmark(kind, state.resource_versions.get(kind, "0"))
                                            for kind in state.synced))))
        if found:
            report(found)
    return loop, configs


def _follow(args: argparse.Namespace, source: Source, out: TextIO, clock: Callable[[], float],
            wall: Callable[[], float], report: Reporter, synced: list[bool]) -> None:
    """Sync as the source changes; ``synced[0]`` turns True when the first sync is done, before it is printed.
    A write to the --config file (see :class:`ConfigFileWatch`), or a Node change kube-proxy exits on, restarts the
    loop as kube-proxy restarts; the sync numbers go on."""
    import dataclasses
    import gc

    from kubeproxy_sim.cli.options import config_text, with_config_read
    from kubeproxy_sim.watch.sync_loop import Exited, drive

    watch = (ConfigFileWatch(args.config, clock, args.debounce, config_text(args))
             if getattr(args, "config", None) else None)

    def watched_poll(timeout: float) -> Batch:
        if watch is not None:
            gone = watch.check()
            if gone:
                report(gone)
        return source.poll(timeout)

    printer = Printer(args, out)
    limit = 1 if args.once else args.max_syncs
    done, running, cause, restarts = 0, None, "", 0
    try:
        while limit is None or done < limit:
            if running is not None:
                gc.unfreeze()  # the loop kube-proxy exited with, frozen at its full syncs, must be collectable
            current = with_config_read(args, again=True) if cause else args  # the restart reads the file once
            if cause:
                report.restarted()
            running = _restart_loop(current, clock, wall, running, report, cause, source)
            if cause:
                gc.collect()  # (it holds reference cycles) before the new loop's full sync freezes what is left
                if watch is not None:
                    watch.restart(config_text(current))
            try:
                for sync in drive(running[0], watched_poll, clock=clock, poll_interval=args.poll_interval,
                                  max_syncs=None if limit is None else limit - done, on_diagnostics=report):
                    done += 1
                    sync = dataclasses.replace(sync, number=done)
                    synced[0] = True  # done, if not yet all printed: a Ctrl-C from here on ends a watch that ran
                    printer.show(sync)
                    if sync.error is not None:
                        report((Diagnostic(f"sync {sync.number}: {sync.error}; the next sync is full"),))
                    if sync.full:
                        # What a full sync built lives as long as the watch: keep the collector from rescanning it.
                        gc.freeze()
            except _ConfigWritten as exc:
                cause, restarts = exc.what, restarts + 1
                reads = "it" if cause == "written" else "the file then at that path"
                # (the sync and the restart numbered: report says a note once, and each restart is to be said)
                report((Diagnostic(f"the --config file was {cause} after sync {done}: kube-proxy exits and its "
                                   f"restart reads {reads}; the watch goes on as the restarted kube-proxy (restart "
                                   f"{restarts}; its first sync is full)", file=args.config,
                                   severity=Severity.NOTE),))
                continue
            except Exited as exc:  # on a Node change: said, and restarted as on a --config write
                cause, restarts = "exited", restarts + 1
                report(exc.diagnostics)
                continue
            return
    finally:
        if watch is not None:
            watch.close()
