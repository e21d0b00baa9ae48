"""netns gc and the kernel tests' scratch pairs (conftest.joined_pair: the evaluator, martian and NAT-range
differentials'): kept while the test process that made them runs, garbage once it is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.kernel import build
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


def _ours(prefix: str) -> list[str]:
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def test_gc_removes_the_pair_of_a_killed_test_run_and_keeps_a_live_one(
        kernel: None, run_tag: str, tmp_path: Path) -> None:
    """An interrupted CI run (its pytest killed) used to leave ``kpsim-<run>-ekc``/``-ekn`` for good: no owner
    record, so gc passed over them. Now the pair of a killed process goes, with its owner record, and the live
    pair of this process (and of a same-named tag of another run) stays."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, run_tag, "gk"], stdout=subprocess.PIPE, text=True,
                             cwd=REPO)
    try:
        assert child.stdout is not None
        client, node = child.stdout.readline().split()
        assert (client, node) == (f"kpsim-{run_tag}-gk.c", f"kpsim-{run_tag}-gk.n")
        for live in joined_pair(run_tag, "gl", lambda _client, _node: None):
            killed = [f"kpsim-{run_tag}-gk.{role}" for role in ("c", "n", "net")]
            alive = [f"kpsim-{run_tag}-gl.{role}" for role in ("c", "n", "net")]
            assert _ours(f"kpsim-{run_tag}-g") == sorted(killed + alive)
            assert build.gc(tmp_path, only=run_tag) == []  # both owners run
            child.send_signal(signal.SIGKILL)
            child.wait()
            assert _ours(f"kpsim-{run_tag}-gk.") == sorted(killed)  # the killed run could not clean up
            assert sorted(build.gc(tmp_path, only=run_tag)) == sorted(killed)
            assert _ours(f"kpsim-{run_tag}-g") == sorted(alive) and set(live) <= set(alive)
        assert _ours(f"kpsim-{run_tag}-g") == []  # the live pair's own cleanup, its owner record too
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
