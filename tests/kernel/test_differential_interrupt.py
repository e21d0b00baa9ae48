"""A Ctrl-C (or SIGTERM) while `netns verify -f/--scenario` runs its flows in the kernel stops it at once.

The flows run on a pool of threads, each waiting for a probe whose connections may each wait the whole
--timeout. The run used to wait for the running flows to end before its teardown (a Ctrl-C 6 s into a flow of
dropped connections at --timeout 20 exited 19 s later); now it kills their probes, removes the namespaces and
exits 130 (143), with no traceback, also with flows still queued behind the running ones (a run of more flows
than the pool runs at once waited for ever). The signal is sent once a flow's probe runs, not by a timer.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from kubeproxy_sim.kernel.differential import PARALLEL_FLOWS
from tests.kernel.interrupted_run import assert_stopped_clean, interrupted

pytestmark = pytest.mark.kernel

FLOWS = PARALLEL_FLOWS + 2  # some still queued when the signal comes: a run of as many as the pool ran stopped,
# and one of more waited for ever for the queued flows the stop had cancelled
DROPPED = "flows:\n" + "- {from: external, to: 'node/node1:30081'}\n" * FLOWS
"""oncall-incidents' NodePort of externalTrafficPolicy Local whose endpoints are on no node: dropped
(`netns verify --scenario oncall-incidents` says no answer (DROP/TIMEOUT) for it); the same flow several times."""


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_stops_the_running_flows_at_once(kernel: None, run_tag: str, tmp_path: Path,
                                                      signum: signal.Signals, status: int) -> None:
    name = f"{run_tag}-stop{status}"
    stopped = interrupted(["--scenario", "oncall-incidents"], DROPPED, name, tmp_path, signum)
    assert_stopped_clean(stopped, status, name, tmp_path)
