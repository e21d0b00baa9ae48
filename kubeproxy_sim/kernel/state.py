"""The record of a running kernel cluster: a small JSON file per cluster, its owner, and liveness checks.

The file is written once the cluster's first namespace has claimed its name
(of two builds of one name, the loser never writes it). Ownership also
travels with the namespaces themselves: the cluster's node-network namespace
holds a link whose alias names the owning process (pid and start time, so a
reused pid is not mistaken for it) and the state file. ``netns gc`` judges a
cluster by that marker alone, whichever state directory it was started with,
so it never removes a live cluster of another run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubeproxy_sim.simulator.dns import Resolver

SERVER_MARK = "kubeproxy_sim.kernel.server"
MARKER_HEAD = "kpsim-owner"
IFALIAS_MAX = 255  # IFALIASZ - 1


@dataclass(frozen=True, slots=True)
class Owner:
    """The process a cluster lives and dies with: a build, a verify run, or the keeper of ``netns up``."""

    pid: int
    start: int  # /proc/PID/stat starttime (clock ticks since boot): a reused pid has another
    state: str = ""  # the state file's path

    def text(self) -> str:
        """The marker's alias (one line, at most 255 bytes: a very long state path is cut)."""
        return f"{MARKER_HEAD} pid={self.pid} start={self.start} state={self.state}"[:IFALIAS_MAX]

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        """The owner an alias names; None for anything that is not our marker."""
        parts = (text or "").split(" ", 3)
        if len(parts) != 4 or parts[0] != MARKER_HEAD:
            return None
        fields = dict(p.partition("=")[::2] for p in parts[1:])
        try:
            return cls(int(fields["pid"]), int(fields["start"]), fields.get("state", ""))
        except (KeyError, ValueError):
            return None

    def alive(self) -> bool:
        return process_start(self.pid) == self.start

    def as_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start": self.start}


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (``fields[0]`` is field 3 of proc(5), the state), or None
    when ``pid`` is gone. Cut after the name's last ")": the name itself may hold spaces and parentheses."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def process_start(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when no such process runs (zombies count as gone)."""
    fields = stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of proc(5); fields[0] is field 3


def owner_of(pid: int, state_file: Path | None = None) -> Owner:
    """The owner record for a running process (this one, or a child just started); ``state_file``: its cluster's
    (none for a namespace without state, build.scratch_netns)."""
    start = process_start(pid)
    if start is None:
        raise ProcessLookupError(pid)
    return Owner(pid, start, "" if state_file is None else str(state_file))


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """$KPSIM_STATE_DIR, else $XDG_RUNTIME_DIR/kubeproxy-sim, else /run/kubeproxy-sim."""
    env = os.environ if env is None else env
    if env.get("KPSIM_STATE_DIR"):
        return Path(env["KPSIM_STATE_DIR"])
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "kubeproxy-sim"
    return Path("/run/kubeproxy-sim")


def state_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.json"


def write_state(directory: Path, state: dict[str, Any]) -> None:
    """Atomic replace, so a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = state_path(directory, state["name"])
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(path)


def read_state(directory: Path, name: str) -> dict[str, Any] | None:
    return read_state_file(state_path(directory, name))


def read_state_file(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def remove_state(directory: Path, name: str) -> None:
    state_path(directory, name).unlink(missing_ok=True)


def pid_alive(pid: int, mark: str | None = None) -> bool:
    """Running (not a zombie) and, when ``mark`` is given, running our code (guards against pid reuse)."""
    if process_start(pid) is None:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return mark is None or mark in cmdline


def building_owner(state: dict[str, Any] | None) -> int | None:
    """The pid of the live process still building (or verifying on) the cluster ``state`` records; None when
    the cluster is up (its keeper owns it) or that process is gone."""
    if not state or state.get("status") == "up" or not state_owner_alive(state):
        return None
    return int(state["owner"]["pid"])


def being_built(name: str, pid: int) -> str:
    return (f"cluster {name!r} is being built or verified by process {pid}; expected it to finish (or stop it: it "
            "removes what it built)")


def state_owner_alive(state: dict[str, Any]) -> bool:
    """Whether the owner a state file records still runs (for a state file whose namespaces are gone)."""
    owner = state.get("owner")
    if isinstance(owner, dict) and "pid" in owner and "start" in owner:
        return Owner(int(owner["pid"]), int(owner["start"])).alive()
    return False


def resolver_record(resolver: Resolver) -> dict[str, Any]:
    """A pod's resolver (its resolv.conf as the kubelet writes it, and who answers it) as the state keeps it:
    ``netns up`` records it once, so every later ``netns send`` resolves with what ``send`` would use."""
    return {"policy": resolver.policy.value, "nameservers": list(resolver.nameservers),
            "searches": list(resolver.searches), "ndots": resolver.ndots, "server": resolver.server,
            "scope": resolver.scope, "why": resolver.why, "edns0": resolver.edns0}


def resolver_of(record: Mapping[str, Any]) -> Resolver:
    """The resolver :func:`resolver_record` wrote (imported here: gc and down never read one); one written before
    it kept ``edns0`` sent its queries without an OPT record, as it was then."""
    from kubeproxy_sim.objects.model import DNSPolicy
    from kubeproxy_sim.simulator.dns import Resolver

    return Resolver(DNSPolicy(record["policy"]), tuple(record["nameservers"]), tuple(record["searches"]),
                    int(record["ndots"]), record["server"], record["scope"], record["why"],
                    bool(record.get("edns0", False)))
