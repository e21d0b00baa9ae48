"""The record of a running kernel cluster: a small JSON file per cluster, and liveness checks.

The file is written before the first namespace is created, so a run killed at any
point leaves enough behind for ``netns gc`` to find what is its own (by name
prefix) and decide whether anyone still owns it (by recorded pids).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SERVER_MARK = "kubeproxy_sim.kernel.server"


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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(path)


def read_state(directory: Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(directory, name).read_text())
    except (OSError, ValueError):
        return None


def remove_state(directory: Path, name: str) -> None:
    state_path(directory, name).unlink(missing_ok=True)


def pid_alive(pid: int, mark: str | None = None) -> bool:
    """Running (not a zombie) and, when ``mark`` is given, running our code (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    return mark is None or mark in cmdline


OWNER_BOUND = ("building", "verifying")  # states that live exactly as long as the process that wrote them


def cluster_alive(state: dict[str, Any]) -> bool:
    """A build (or a ``netns verify`` run) whose owner lives, or a cluster that is up with a live server."""
    if state.get("status") in OWNER_BOUND:
        return pid_alive(int(state.get("owner_pid", 0)))
    return any(pid_alive(int(pid), SERVER_MARK) for pid in state.get("servers", {}).values())
