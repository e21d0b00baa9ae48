"""A Ctrl-C (or SIGTERM) while `netns verify -f/--scenario` runs its flows in the kernel stops it at once.

The flows run on a pool of threads, each waiting for a probe whose connections may each wait the whole
--timeout. The run used to wait for the running flows to end before its teardown (a Ctrl-C 6 s into a flow of
dropped connections at --timeout 20 exited 19 s later); now it kills their probes, removes the namespaces and
exits 130 (143), with no traceback, also with flows still queued behind the running ones (a run of more flows
than the pool runs at once waited for ever). The signal is sent once a flow's probe runs, not by a timer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.differential import PARALLEL_FLOWS
from kubeproxy_sim.kernel.send import PROBE
from kubeproxy_sim.kernel.state import stat_fields

pytestmark = pytest.mark.kernel

TIMEOUT = 30.0  # seconds a dropped connection waits (--timeout's largest): the flow's probe runs that long
FLOWS = PARALLEL_FLOWS + 2  # some still queued when the signal comes: a run of as many as the pool ran stopped,
# and one of more waited for ever for the queued flows the stop had cancelled
DROPPED = "flows:\n" + "- {from: external, to: 'node/node1:30081'}\n" * FLOWS
"""oncall-incidents' NodePort of externalTrafficPolicy Local whose endpoints are on no node: dropped
(`netns verify --scenario oncall-incidents` says no answer (DROP/TIMEOUT) for it); the same flow several times."""
START_WAIT = 120.0  # seconds for the build and the flow's prediction on a loaded machine


def _probe_of(pid: int) -> int | None:
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


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_stops_the_running_flows_at_once(kernel: None, run_tag: str, tmp_path: Path,
                                                      signum: signal.Signals, status: int) -> None:
    name = f"{run_tag}-stop{status}"
    flows = tmp_path / "flows.yaml"
    flows.write_text(DROPPED)
    env = {**os.environ, "KPSIM_STATE_DIR": str(tmp_path), "KUBEPROXY_SIM_NO_PROGRESS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kubeproxy_sim", "netns", "verify", "--scenario",
                             "oncall-incidents", "--flows", str(flows), "--timeout", str(TIMEOUT), "--name", name],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_WAIT
        while _probe_of(proc.pid) is None:
            assert proc.poll() is None, f"the run ended before its flows ran: {proc.communicate()}"
            assert time.monotonic() < deadline, "no flow's probe ever started"
            time.sleep(0.05)
        proc.send_signal(signum)
        try:
            out, err = proc.communicate(timeout=TIMEOUT / 2)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {TIMEOUT / 2:g} s after the signal: it waits for the flows")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
            build.gc(tmp_path, only=name)  # its servers too, which outlive it
    assert proc.returncode == status, err
    assert "Traceback" not in err and out == ""
    assert [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")] == []
    assert list(tmp_path.glob("*.json")) == []  # its state is gone with it
