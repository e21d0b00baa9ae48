"""A probe that runs past its limit: a named error that says which flow, what and how long, never a traceback.

``nsexec.run`` let :class:`subprocess.TimeoutExpired` escape, and the CLI's general handler reported it as a bug
of ours. No namespace is needed here: the child's entry into one is stubbed out (it still takes the signal
handling a child of ours takes), and the probe is a stand-in module that only sleeps, so nothing reaches any
network, the root namespace's included.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from signal import Signals
from types import SimpleNamespace
from typing import Any

import pytest

from kubeproxy_sim import signals
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel import differential, nsexec, send, verify

HUNG = "kpsim_hung_probe"  # the stand-in's module name: what the messages call the command
Started = list[subprocess.Popen[str]]  # every process the commands started, in order
LIMIT = 0.2  # seconds the stand-in is given (it sleeps far longer: only its kill ends it)


def _no_netns(name: str, previous: set[int | Signals]) -> Callable[[], None]:
    """The child's set-up without the setns: the namespace named need not exist."""
    def child() -> None:
        signals.in_child(previous)

    return child


@pytest.fixture
def hung(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Started:
    """A module on the children's path that never finishes by itself; commands run without entering a namespace.
    Every process started, to see how it ended."""
    (tmp_path / f"{HUNG}.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(nsexec, "_preexec", _no_netns)
    started: Started = []
    real = nsexec.popen

    def popen(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        started.append(real(name, argv, **kwargs))
        return started[-1]

    monkeypatch.setattr(nsexec, "popen", popen)
    return started


def killed(started: Started) -> bool:
    """Whether the one process started was killed (SIGKILL) and reaped, not left to sleep on."""
    return [p.returncode for p in started] == [-signal.SIGKILL]


def _short(run: Callable[..., object]) -> Callable[..., object]:
    """``nsexec.run`` with every limit cut to LIMIT: the callers' own (a minute and more) would make a slow test."""
    def short(name: str, argv: list[str], *, stdin: str | None = None, timeout: float = 60.0) -> object:
        return run(name, argv, stdin=stdin, timeout=LIMIT)

    return short


def test_a_command_past_its_limit_is_killed_and_named(hung: Started) -> None:
    with pytest.raises(nsexec.Overran) as raised:
        nsexec.run("kpsim-t.n0", nsexec.python_module(HUNG, "10.96.0.10"), timeout=LIMIT)
    assert isinstance(raised.value, InputError)  # the CLI's named errors, exit 1, not its bug report
    assert [str(d) for d in raised.value.diagnostics] == [
        f"{HUNG} in kpsim-t.n0 ran past its 0.2 s limit and was killed; expected it to finish well within it "
        "(a machine too busy, or a command that hangs)"]
    assert (raised.value.namespace, raised.value.command, raised.value.timeout) == ("kpsim-t.n0", HUNG, LIMIT)
    assert killed(hung)


def test_a_command_is_named_by_its_program(hung: Started) -> None:
    with pytest.raises(nsexec.Overran) as raised:
        nsexec.run("kpsim-t.n0", ["/bin/sleep", "30"], timeout=LIMIT)
    assert raised.value.command == "sleep"
    assert killed(hung)
    assert str(raised.value).startswith("sleep in kpsim-t.n0 ran past its 0.2 s limit")


def test_a_command_that_finishes_in_time_is_not_refused(hung: Started) -> None:
    done = nsexec.run("kpsim-t.n0", [sys.executable, "-c", "print('ok')"], timeout=30)
    assert (done.returncode, done.stdout) == (0, "ok\n")
    assert [p.returncode for p in hung] == [0]


def test_verify_names_the_flow_whose_probe_ran_past_its_limit(hung: Started, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "PROBE", HUNG)
    monkeypatch.setattr(nsexec, "run", _short(nsexec.run))
    plan = SimpleNamespace(**{role: SimpleNamespace(netns=f"kpsim-t.{role}")
                              for role in ("client_pod", "node", "external")})
    flow = verify.Flow(verify.Origin.NODE, "10.96.0.10", 53, "udp")
    with pytest.raises(InputError) as raised:
        verify.observe(plan, flow, "192.168.1.5", 3, 0.3)  # type: ignore[arg-type]  # (a plan's netns names only)
    assert [str(d) for d in raised.value.diagnostics] == [
        f"flow node 192.168.1.5 -> 10.96.0.10:53/udp: {HUNG} in kpsim-t.node ran past its 0.2 s limit and was "
        "killed; expected it to finish well within it (a machine too busy, or a command that hangs)"]
    assert killed(hung)


def test_objects_mode_names_the_flow_whose_probe_ran_past_its_limit(hung: Started,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ``send``'s own probe (kernel/send.py is unchanged: nsexec's error is an InputError it passes on),
    and objects mode's wrapping of a flow's error."""
    monkeypatch.setattr(send, "PROBE", HUNG)
    monkeypatch.setattr(nsexec, "run", _short(nsexec.run))
    source = send.Source("pod/default/client-n1", "kpsim-t.p1")
    monkeypatch.setattr(send, "resolve_source", lambda state, src: source)
    monkeypatch.setattr(send, "resolve_destination", lambda state, dst, src: send.Destination(dst, "10.96.0.1", 80))
    flow = differential.Flow("pod/default/client-n1", "10.96.0.1:80", "tcp")
    with pytest.raises(InputError) as raised:
        differential.observe({}, flow, 5, 0.3, sticky=False)
    assert [str(d) for d in raised.value.diagnostics] == [
        f"flow pod/default/client-n1 -> 10.96.0.1:80/tcp: {HUNG} in kpsim-t.p1 ran past its 0.2 s limit and was "
        "killed; expected it to finish well within it (a machine too busy, or a command that hangs)"]
    assert killed(hung)


def test_the_command_line_reports_it_as_an_input_error_not_a_bug(hung: Started,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A command whose probe runs past its limit (here ``rules``' own function stands in for ``netns send``'s,
    which needs a cluster in namespaces): exit 1 and one line, not 'internal error ... a bug in kubeproxy-sim'."""
    import argparse
    import contextlib
    import io

    from kubeproxy_sim.cli import main as cli

    def probing(args: object) -> int:
        nsexec.run("kpsim-t.p1", nsexec.python_module(HUNG), timeout=LIMIT)
        return 0

    monkeypatch.delenv("KPSIM_DEBUG", raising=False)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda command=None: parser)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands.choices["rules"].set_defaults(func=probing)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["rules", "--scenario", "bootcamp"])
    assert (code, err.getvalue().splitlines()) == (cli.EXIT_INVALID_INPUT, [
        f"kubeproxy-sim: {HUNG} in kpsim-t.p1 ran past its 0.2 s limit and was killed; expected it to finish "
        "well within it (a machine too busy, or a command that hangs)"])
    assert killed(hung)
