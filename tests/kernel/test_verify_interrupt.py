"""A Ctrl-C (or SIGTERM) while dump-mode `netns verify --rules` probes a flow stops it at once, as flow mode stops.

Dump mode runs its flows one after another, each one probe whose connections may each wait the whole --timeout.
The signal is sent once the flow's probe runs (not by a timer), into a flow the dump drops, so that what follows
is the interrupt's doing: the probe killed, the stage (namespaces, servers, state record) removed, exit 130 (143)
with no traceback.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from kubeproxy_sim.kernel.send import PROBE
from kubeproxy_sim.kernel.state import SERVER_MARK, pid_alive
from tests.kernel.interrupted_run import assert_stopped_clean, interrupted

pytestmark = pytest.mark.kernel

DUMP = Path(__file__).resolve().parents[2] / "rulesets" / "oncall-incidents" / "full.golden"
# its NodePort 30081 is externalTrafficPolicy Local with no endpoint on the node: KUBE-EXTERNAL-SERVICES drops it
# (`netns verify --rules` of this dump predicts "DROP (line 23)", the socket a timeout), twice so one is queued
DROPPED = "flows:\n" + "- {from: external, to: 'node:30081'}\n" * 2


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_stops_a_dump_mode_run_at_once(kernel: None, run_tag: str, tmp_path: Path,
                                                    signum: signal.Signals, status: int) -> None:
    name = f"{run_tag}-vstop{status}"
    servers: list[int] = []

    def servers_run() -> None:
        servers.extend(_servers(tmp_path / f"{name}.json"))
        assert servers and all(pid_alive(pid, SERVER_MARK) for pid in servers)

    stopped = interrupted(["--rules", str(DUMP), "--count", "5"], DROPPED, name, tmp_path, signum, servers_run)
    assert_stopped_clean(stopped, status, name, tmp_path)
    assert not any(pid_alive(pid, SERVER_MARK) for pid in servers)
    assert PROBE.encode() not in _cmdline(stopped.probe)  # the probe is killed, not left waiting out its timeout


def _servers(record: Path) -> list[int]:
    """The stage's server pids as its state record holds them (written before any flow runs)."""
    return list(json.loads(record.read_text()).get("servers", {}).values())


def _cmdline(pid: int) -> bytes:
    """``pid``'s command line; empty once it has ended (a zombie's is empty too)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
