"""Telling one ``netns send`` run's DROP and REJECT verdicts from every other packet's, by a DSCP value.

A socket cannot tell a DROP from a packet lost on the way, nor (for a node's own
datagram stopped with EPERM) a DROP from a REJECT; the rules' counters can. A rule's
own counters count every packet of every run, so each run marks its packets instead:
the probe sets a DSCP value of the run's own on its sockets (IP_TOS, IPV6_TCLASS),
servers answer with it (``tcp_reflect_tos`` for TCP, :mod:`.server` echoes it for UDP),
and every node counts, per DSCP value, the packets that reach a DROP or REJECT rule.

The counting lives in the node's filter table, beside kube-proxy's rules, as the kernel
build loads them (:func:`with_counting`): right before each DROP or REJECT rule, a copy of
its matches jumps to ``KPSIM-COUNT-DROP`` (or ``-REJECT``), a chain of 63 target-less rules
``-m dscp --dscp N`` that returns to the next rule, kube-proxy's own. Neither has a
verdict, so every packet meets the rules kube-proxy wrote exactly as generated (the
differential tests compare those with the simulator); one chain per verdict rather than
63 copies of each rule keeps the table small. A run leases its value (:func:`lease`):
no two runs on a cluster hold one at once, and the value taken is the one unused longest,
so an earlier run's stragglers are not counted as this run's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

from kubeproxy_sim.errors import Diagnostic, InputError, RulesSyntaxError
from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.netfilter.model import Option, RuleSpec, Target
from kubeproxy_sim.netfilter.syntax import parse_spec, render_spec

COUNT_CHAINS = {"DROP": "KPSIM-COUNT-DROP", "REJECT": "KPSIM-COUNT-REJECT"}
VALUES = range(1, 64)  # DSCP 0 is every other packet's
TABLE = "filter"  # where kube-proxy writes its DROP and REJECT rules (REJECT is a filter-table target)
# matches a copy must not run a second time: each match changes state (a recent list, a random draw, a
# rate, a quota, a set's counters); a verdict behind one is not counted (kube-proxy writes none such)
STATEFUL = frozenset({"recent", "statistic", "limit", "hashlimit", "quota", "set"})
# counts and always matches (kube-proxy's counters have no quota): left out of a copy, which would count twice
COUNTER_ONLY = "nfacct"


def _copy(spec: str) -> tuple[str, str] | None:
    """(verdict, the counting copy's spec) for a DROP or REJECT rule whose matches can run twice; else None."""
    try:
        parsed = parse_spec(spec)
    except RulesSyntaxError as exc:  # our own generated text: a rule left without its copy would read as TIMEOUT
        raise RuntimeError(f"a generated rule does not parse, so it cannot be counted: {spec!r}: {exc}") from exc
    target = parsed.target
    if target is None or target.goto or target.name not in COUNT_CHAINS or set(parsed.modules()) & STATEFUL:
        return None
    options = tuple(o for o in parsed.options if not _counter_only(o))
    return target.name, render_spec(RuleSpec(options, Target(COUNT_CHAINS[target.name])))


def _counter_only(option: Option) -> bool:
    return option.module == COUNTER_ONLY or (option.flag == "-m" and option.args[:1] == (COUNTER_ONLY,))


def with_counting(text: str) -> str:
    """Restore input ``text`` with the counting copies and chains added to its filter table (see the module)."""
    out: list[str] = []
    table, header = "", 0
    used: set[str] = set()
    for line in text.splitlines():
        if line.startswith("*"):
            table, header, used = line[1:].strip(), len(out) + 1, set()
        elif line == "COMMIT" and table == TABLE and used:
            out[header:header] = [f":{COUNT_CHAINS[v]} - [0:0]" for v in sorted(used)]
            out += [f"-A {COUNT_CHAINS[v]} -m dscp --dscp {n}" for v in sorted(used) for n in VALUES]
        elif table == TABLE and line.startswith("-A ") and (" -j DROP" in line or " -j REJECT" in line):
            chain, _, spec = line[3:].partition(" ")
            copy = _copy(spec)
            if copy is not None:
                used.add(copy[0])
                out.append(f"-A {chain} {copy[1]}")
        out.append(line)
    return "\n".join(out) + "\n"


def counted(netns: str, family: int, value: int) -> dict[str, int]:
    """Packets of DSCP ``value`` that reached a DROP and a REJECT rule of this node so far, by verdict (a node
    without such rules has no counting chain: 0)."""
    tool = "iptables" if family == 4 else "ip6tables"
    found = {}
    for verdict, chain in COUNT_CHAINS.items():
        done = nsexec.run(netns, [tool, "-w", "30", "-t", TABLE, "-n", "-v", "-x", "-L", chain, str(value)])
        words = done.stdout.split()
        found[verdict] = int(words[0]) if done.returncode == 0 and words and words[0].isdigit() else 0
    return found


def lease_dir(directory: Path, cluster: str) -> Path:
    """Where a cluster's runs take their DSCP values: one lock file per value, next to its state file."""
    return directory / f"{cluster}.dscp"


def forget(directory: Path, cluster: str) -> None:
    shutil.rmtree(lease_dir(directory, cluster), ignore_errors=True)


@contextlib.contextmanager
def lease(folder: str | None) -> Iterator[int]:
    """A DSCP value no other run on the cluster holds, the one used least recently, held while the run lasts.

    ``folder`` None (a cluster recorded without one): a random value, which a run at the same time may share.
    """
    if folder is None:
        yield random.choice(VALUES)
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for value in sorted(VALUES, key=lambda v: _last_used(path / str(v))):
        fd = os.open(path / str(value), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            os.utime(fd)
            yield value
        finally:
            os.utime(fd)  # late packets come after the run: it is the end that makes a value recent
            os.close(fd)
        return
    raise InputError(Diagnostic(f"all {len(VALUES)} DSCP values of this cluster are held by runs in progress; "
                                "expected fewer `netns send` runs at once", field="NAME"))


def _last_used(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
