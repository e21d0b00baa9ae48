"""netns gc and the scratch namespace of a one-off job (tools/bench.py's): ours while its process runs, garbage
once it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.state import Owner, process_start

pytestmark = pytest.mark.kernel

HOLD = """
import sys, time
from kubeproxy_sim.kernel.build import scratch_netns
with scratch_netns(sys.argv[1]) as name:
    print(name, flush=True)
    time.sleep(600)
"""


def test_a_scratch_namespace_is_removed_on_exit_and_kept_by_gc_while_its_owner_runs(
        kernel: None, run_tag: str, tmp_path: Path) -> None:
    tag = f"{run_tag}-scratch"
    with build.scratch_netns(tag) as name:
        assert name == f"kpsim-{tag}-{os.getpid()}.net" and name in netns.listnetns()
        assert build.read_owner(name) == Owner(os.getpid(), process_start(os.getpid()) or 0)
        assert build.gc(tmp_path, only=tag) == []  # this process owns it
        assert name in netns.listnetns()
    assert name not in netns.listnetns()


def test_gc_removes_the_scratch_namespace_of_a_killed_run_and_nothing_else(
        kernel: None, run_tag: str, tmp_path: Path) -> None:
    """A bench killed while it times iptables-restore leaves its namespace: gc finds its owner gone and removes
    it (the marker, not the name, says it is ours), leaving a live one of the same kind alone."""
    tag = f"{run_tag}-killed"
    child = subprocess.Popen([sys.executable, "-c", HOLD, tag], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        name = child.stdout.readline().strip()
        assert name == f"kpsim-{tag}-{child.pid}.net"
        with build.scratch_netns(f"{run_tag}-alive") as live:
            assert build.gc(tmp_path, only=run_tag) == []  # both owners run
            child.send_signal(signal.SIGKILL)
            child.wait()
            assert name in netns.listnetns()  # the killed run could not clean up
            assert build.gc(tmp_path, only=run_tag) == [name]
            assert name not in netns.listnetns() and live in netns.listnetns()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_netns_on_a_live_scratch_namespace_says_whose_it_is_not_to_take_it_down(
        kernel: None, run_tag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`netns exec bench-PID` while the bench runs: no cluster of that name, and `netns down` (the advice for a
    cluster's leftovers) would pull the namespace from under the bench; the message names the running process."""
    import argparse

    from kubeproxy_sim.cli import netns_cmd
    from kubeproxy_sim.errors import InputError

    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    parser = argparse.ArgumentParser()
    netns_cmd.register(parser.add_subparsers())
    tag = f"{run_tag}-live"
    with build.scratch_netns(tag) as name:
        args = parser.parse_args(["netns", "exec", f"{tag}-{os.getpid()}", "node/node1", "--", "true"])
        with pytest.raises(InputError) as caught:
            args.func(args)
    text = str(caught.value)
    assert f"{name} is the scratch namespace of process {os.getpid()}, still running" in text
    assert "netns down" not in text
