"""A Ctrl-C (or SIGTERM) while dump-mode `netns verify --rules` probes a flow stops it at once, as flow mode stops.

Dump mode runs its flows one after another, each one probe whose connections may each wait the whole --timeout.
The signal is sent once the flow's probe runs (not by a timer), into a flow the dump drops, so that what follows
is the interrupt's doing: the probe killed, the stage (namespaces, servers, state record) removed, exit 130 (143)
with no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.send import PROBE
from kubeproxy_sim.kernel.state import SERVER_MARK, pid_alive
from tests.kernel.test_differential_interrupt import START_WAIT, TIMEOUT, _probe_of

pytestmark = pytest.mark.kernel

DUMP = Path(__file__).resolve().parents[2] / "rulesets" / "oncall-incidents" / "full.golden"
# its NodePort 30081 is externalTrafficPolicy Local with no endpoint on the node: KUBE-EXTERNAL-SERVICES drops it
# (`netns verify --rules` of this dump predicts "DROP (line 23)", the socket a timeout), twice so one is queued
DROPPED = "flows:\n" + "- {from: external, to: 'node:30081'}\n" * 2


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_stops_a_dump_mode_run_at_once(kernel: None, run_tag: str, tmp_path: Path,
                                                    signum: signal.Signals, status: int) -> None:
    name = f"{run_tag}-vstop{status}"
    flows = tmp_path / "flows.yaml"
    flows.write_text(DROPPED)
    env = {**os.environ, "KPSIM_STATE_DIR": str(tmp_path), "KUBEPROXY_SIM_NO_PROGRESS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kubeproxy_sim", "netns", "verify", "--rules", str(DUMP),
                             "--flows", str(flows), "--count", "5", "--timeout", str(TIMEOUT), "--name", name],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    servers: list[int] = []
    try:
        deadline = time.monotonic() + START_WAIT
        while (probe := _probe_of(proc.pid)) is None:
            assert proc.poll() is None, f"the run ended before its flow ran: {proc.communicate()}"
            assert time.monotonic() < deadline, "no flow's probe ever started"
            time.sleep(0.05)
        servers = _servers(tmp_path / f"{name}.json")
        assert servers and all(pid_alive(pid, SERVER_MARK) for pid in servers)
        proc.send_signal(signum)
        try:
            out, err = proc.communicate(timeout=TIMEOUT / 2)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {TIMEOUT / 2:g} s after the signal: it waits for the flow")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
            build.gc(tmp_path, only=name)  # its servers too, which outlive it
    assert proc.returncode == status, err
    assert "Traceback" not in err and out == ""
    assert [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")] == []
    assert list(tmp_path.glob("*.json")) == []  # its state is gone with it
    assert not any(pid_alive(pid, SERVER_MARK) for pid in servers)
    assert PROBE.encode() not in _cmdline(probe)  # the probe is killed, not left waiting out its timeout


def _servers(record: Path) -> list[int]:
    """The stage's server pids as its state record holds them (written before any flow runs)."""
    return list(json.loads(record.read_text()).get("servers", {}).values())


def _cmdline(pid: int) -> bytes:
    """``pid``'s command line; empty once it has ended (a zombie's is empty too)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
