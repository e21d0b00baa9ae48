"""A `netns verify` run signalled while a flow's probe runs, and what it must leave: the interrupt tests' shared part.

test_differential_interrupt (flow mode, ``--scenario``) and test_verify_interrupt (dump mode, ``--rules``) run the
same experiment on two code paths: start the run on flows the rules drop (each probe's connections wait the whole
TIMEOUT), send the signal once a probe runs (found in /proc, not guessed by a timer), then judge how it stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.send import PROBE
from kubeproxy_sim.kernel.state import stat_fields

TIMEOUT = 30.0  # seconds a dropped connection waits (--timeout's largest): the flow's probe runs that long
START_WAIT = 120.0  # seconds for the build and the flow's prediction on a loaded machine


def probe_of(pid: int) -> int | None:
    """A probe process ``pid`` started, if one runs."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields is None or len(fields) < 2 or int(fields[1]) != pid:
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if PROBE.encode() in cmdline:
            return int(entry.name)
    return None


@dataclass(frozen=True)
class Stopped:
    """How a signalled run ended: its exit status and output, and the probe that ran when it was signalled."""

    returncode: int
    out: str
    err: str
    probe: int


def interrupted(verify_args: Sequence[str], flows: str, name: str, state_dir: Path, signum: signal.Signals,
                at_probe: Callable[[], None] = lambda: None) -> Stopped:
    """Run ``netns verify VERIFY_ARGS --flows FILE --timeout TIMEOUT --name NAME`` (FILE holding ``flows``, the
    state records in ``state_dir``), call ``at_probe`` once a probe of its runs, then send it ``signum``.

    Fails if it ends before a probe runs, if none runs within START_WAIT, or if it still runs TIMEOUT / 2 after
    the signal (it waited for the probe). However this ends, a run still going is killed and its stage removed
    (its servers outlive it)."""
    flows_file = state_dir / "flows.yaml"
    flows_file.write_text(flows)
    env = {**os.environ, "KPSIM_STATE_DIR": str(state_dir), "KUBEPROXY_SIM_NO_PROGRESS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kubeproxy_sim", "netns", "verify", *verify_args, "--flows",
                             str(flows_file), "--timeout", str(TIMEOUT), "--name", name],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_WAIT
        while (probe := probe_of(proc.pid)) is None:
            assert proc.poll() is None, f"the run ended before its flows ran: {proc.communicate()}"
            assert time.monotonic() < deadline, "no flow's probe ever started"
            time.sleep(0.05)
        at_probe()
        proc.send_signal(signum)
        try:
            out, err = proc.communicate(timeout=TIMEOUT / 2)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {TIMEOUT / 2:g} s after the signal: it waits for its flows")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
            build.gc(state_dir, only=name)
    return Stopped(proc.returncode, out, err, probe)


def assert_stopped_clean(stopped: Stopped, status: int, name: str, state_dir: Path) -> None:
    """It exited ``status`` (128 + the signal) with no traceback and nothing printed, its namespaces and state
    record removed."""
    assert stopped.returncode == status, stopped.err
    assert "Traceback" not in stopped.err and stopped.out == ""
    assert [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")] == []
    assert list(state_dir.glob("*.json")) == []  # its state is gone with it
