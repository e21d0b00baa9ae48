"""SIGTERM ends ``watch`` as Ctrl-C does (u1: `kill` gave 143 and no word, cut wherever it landed): after a sync,
0, or 1 when invalid objects were reported; before the first sync 143, the signal's own status as 130 is Ctrl-C's.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproxy_sim.cli import watch_cmd
from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.signals import Terminated, terminate_as_interrupt
from tests.cli.test_watch_cmd import FAST, Clock, ScriptedOut, service, write

REPO = Path(__file__).resolve().parents[2]


def terminate() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_the_handler_raises_terminated_and_is_taken_back_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), terminate_as_interrupt():
        terminate()
    assert signal.getsignal(signal.SIGTERM) == before
    assert issubclass(Terminated, KeyboardInterrupt)  # every Ctrl-C path ends a SIGTERM the same way


def test_an_ignored_sigterm_stays_ignored() -> None:
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with terminate_as_interrupt():
            terminate()  # ignored: nothing raised
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


def test_sigterm_after_a_sync_ends_the_watch_with_its_status(tmp_path: Path) -> None:
    write(tmp_path / "svc.yaml", service("ns1", "svc1", "172.30.0.41", 80, "p80"))
    args = build_parser().parse_args(["watch", "-f", str(tmp_path), "--cluster-cidr", "10.0.0.0/8", *FAST])
    out, clock = ScriptedOut([terminate]), Clock()
    assert watch_cmd.run(args, out=out, err=io.StringIO(), sleep=clock.sleep, clock=clock) == 0
    assert out.getvalue().startswith("# sync 1 full (")


def test_sigterm_before_the_first_sync_exits_143(tmp_path: Path) -> None:
    """--nodeport-addresses primary without --node-ip: the first sync waits (up to 30 s) for the named node's Node
    and its addresses, as kube-proxy does, and the SIGTERM lands in that wait."""
    write(tmp_path / "svc.yaml", service("ns1", "svc1", "172.30.0.41", 80, "p80"))
    args = build_parser().parse_args(["watch", "-f", str(tmp_path), "--hostname-override", "test-node",
                                      "--nodeport-addresses", "primary", "--cluster-cidr", "10.0.0.0/8", *FAST])
    out = io.StringIO()
    assert watch_cmd.run(args, out=out, err=io.StringIO(), sleep=lambda seconds: terminate(),
                         clock=Clock()) == 143
    assert out.getvalue() == ""


@pytest.mark.skipif(sys.platform != "linux", reason="signals to a child process")
def test_a_real_sigterm_to_the_program(tmp_path: Path) -> None:
    write(tmp_path / "svc.yaml", service("ns1", "svc1", "172.30.0.41", 80, "p80"))
    child = subprocess.Popen([sys.executable, "-m", "kubeproxy_sim", "watch", "-f", str(tmp_path), "--cluster-cidr",
                              "10.0.0.0/8", "--poll-interval", "100ms"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().startswith("# sync 1 full (")
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0 and "Traceback" not in err
