"""netns gc and the kernel tests' scratch pairs (conftest.joined_pair: the evaluator, martian and NAT-range
differentials'): kept while the test process that made them runs, garbage once it is killed."""

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
from kubeproxy_sim.kernel.state import process_start
from tests.kernel.conftest import joined_pair

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]

HOLD = """
import sys, time
from tests.kernel.conftest import joined_pair
for names in joined_pair(sys.argv[1], sys.argv[2], lambda client, node: None):
    print(" ".join(names), flush=True)
    time.sleep(600)
"""


LISTENING = """
import sys, time
from tests.kernel.eval_kernel import listening_pair
from tests.kernel.test_eval_kernel_differential import Node
for node in listening_pair(sys.argv[1], sys.argv[2], lambda client, node: None, Node):
    print(node.node, flush=True)
    time.sleep(600)
"""


def _ours(prefix: str) -> list[str]:
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def test_gc_removes_the_pair_of_a_killed_test_run_and_keeps_a_live_one(
        kernel: None, run_tag: str, tmp_path: Path) -> None:
    """An interrupted CI run (its pytest killed) used to leave ``kpsim-<run>-ekc``/``-ekn`` for good: no owner
    record, so gc passed over them. Now the pair of a killed process goes, with its owner record, and the live
    pairs stay: this process's own, and one of the killed pair's tag under another run's tag (which ``only``
    takes in too: its name starts with this run's), told apart by its own owner record."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, run_tag, "gk"], stdout=subprocess.PIPE, text=True,
                             cwd=REPO)
    other = f"{run_tag}o"  # another run's tag

    def roles(run: str, tag: str) -> list[str]:
        return [f"kpsim-{run}-{tag}.{role}" for role in ("c", "n", "net")]

    try:
        assert child.stdout is not None
        client, node = child.stdout.readline().split()
        assert (client, node) == (f"kpsim-{run_tag}-gk.c", f"kpsim-{run_tag}-gk.n")
        for live in joined_pair(run_tag, "gl", lambda _client, _node: None):
            for twin in joined_pair(other, "gk", lambda _client, _node: None):
                killed, alive, twins = roles(run_tag, "gk"), roles(run_tag, "gl"), roles(other, "gk")
                assert _ours(f"kpsim-{run_tag}-g") == sorted(killed + alive)
                assert _ours(f"kpsim-{other}-") == sorted(twins)
                assert build.gc(tmp_path, only=run_tag) == []  # every owner runs
                child.send_signal(signal.SIGKILL)
                child.wait()
                assert _ours(f"kpsim-{run_tag}-gk.") == sorted(killed)  # the killed run could not clean up
                assert sorted(build.gc(tmp_path, only=run_tag)) == sorted(killed)
                assert _ours(f"kpsim-{run_tag}-g") == sorted(alive) and set(live) <= set(alive)
                assert _ours(f"kpsim-{other}-") == sorted(twins) and set(twin) <= set(twins)
            assert _ours(f"kpsim-{other}-") == []
        assert _ours(f"kpsim-{run_tag}-g") == []  # the live pairs' own cleanup, their owner records too
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_the_listener_of_a_killed_test_run_dies_with_it(kernel: None, run_tag: str, tmp_path: Path) -> None:
    """The evaluator differentials' listener (eval_kernel.listener) slept on for a day after its test process
    was killed, in a namespace gc then removed (gc kills only our servers): now it dies with that process."""
    child = subprocess.Popen([sys.executable, "-c", LISTENING, run_tag, "gs"], stdout=subprocess.PIPE, text=True,
                             cwd=REPO)
    listener, started = 0, None
    try:
        assert child.stdout is not None
        node = child.stdout.readline().strip()
        assert node == f"kpsim-{run_tag}-gs.n"
        (listener,) = build._processes_in([node])
        started = process_start(listener)
        child.send_signal(signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 30
        while process_start(listener) is not None:
            assert time.monotonic() < deadline, f"the listener {listener} outlived its test process"
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if started is not None and process_start(listener) == started:  # (the failure above: not left behind)
            os.kill(listener, signal.SIGKILL)
        build.gc(tmp_path, only=f"{run_tag}-gs")
    assert _ours(f"kpsim-{run_tag}-gs.") == []


def test_a_failed_tests_leftovers_are_removed_with_their_servers(kernel: None, run_tag: str) -> None:
    """What no_leftovers removes at the end of a run: a failed test's namespaces, and the servers in them (a
    CLI killed mid-run leaves its cluster's servers to init; removing the names alone left them running)."""
    from kubeproxy_sim.kernel import nsexec
    from kubeproxy_sim.kernel.state import SERVER_MARK
    from tests.kernel.conftest import remove_leftovers

    name = f"kpsim-{run_tag}-lo.p0"
    nsexec.create_netns(name)
    server = None
    try:
        server = nsexec.popen(name, [sys.executable, "-c", "import time; time.sleep(600)", SERVER_MARK])
        started = process_start(server.pid)
        assert started is not None
        assert remove_leftovers(f"kpsim-{run_tag}-lo.") == [name]
        assert name not in netns.listnetns()
        assert server.poll() is not None  # killed and reaped
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        if name in netns.listnetns():
            netns.remove(name)
