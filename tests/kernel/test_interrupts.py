"""A Ctrl-C (or SIGTERM) that lands while the kernel backend forks: never lost, never handled twice.

The interrupt is raised from an at-fork hook at a chosen fork, not by a timer: the same point every run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kubeproxy_sim import signals
from kubeproxy_sim.kernel import nsexec

# runs the CLI (or a snippet) with a hook that sends SIGINT at fork number AT: MODE "parent" sends it to the
# process itself from the parent's at-fork callbacks (where CPython would report it as "Exception ignored" and
# drop it); "group" sends it, as a terminal's Ctrl-C does, to the forked child and its parent both
HOOK = """
import os, signal, sys
at, mode = int(sys.argv[1]), sys.argv[2]
forks = [0]
def before():
    forks[0] += 1
    if mode == "parent" and forks[0] == at:
        os.kill(os.getpid(), signal.SIGINT)
def child():
    if mode == "group" and forks[0] == at:
        os.kill(os.getppid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
os.register_at_fork(before=before, after_in_child=child)
"""

# after the interrupt, no child of ours may be left (running or unreaped) and no descriptor open
LEFT = """
def left():
    try:
        os.waitpid(-1, os.WNOHANG)
        return " (a child is left)"
    except ChildProcessError:
        return " (an fd is left)" if set(os.listdir("/proc/self/fd")) != fds else ""
fds = set(os.listdir("/proc/self/fd"))
"""

CALL = HOOK + LEFT + """
from kubeproxy_sim.kernel import nsexec
try:
    nsexec.call("kpsim-no-such-namespace-here", os.getpid)
except KeyboardInterrupt:
    print("interrupted" + left())
except OSError as exc:
    print(f"lost: {exc}")
"""

# popen and iproute with the namespace's entry faked (no root needed): the process or socket they made
# before the interrupt landed is not lost
POPEN = HOOK + """
from kubeproxy_sim.kernel import nsexec
nsexec.enter_netns = lambda name: None
""" + LEFT + """
try:
    proc = nsexec.popen("kpsim-no-such-namespace-here", ["sleep", "30"], stdout=-1)
    print("lost: started", proc.pid)
except KeyboardInterrupt:
    print("interrupted" + left())
"""

IPROUTE = HOOK + """
import pyroute2
closed = []
class IPRoute:
    def __init__(self, netns):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    def close(self):
        closed.append(self)
pyroute2.IPRoute = IPRoute
from kubeproxy_sim.kernel import nsexec
try:
    nsexec.iproute("kpsim-no-such-namespace-here")
    print("lost")
except KeyboardInterrupt:
    print("interrupted" + ("" if closed else " (the socket is left open)"))
"""

# objects.yamlsplit's fork (a large YAML file loaded on two cores) is held the same way
YAMLSPLIT = HOOK + LEFT + """
import yaml
from kubeproxy_sim.objects import yamlsplit
text = "---\\n".join(f"kind: ConfigMap\\nmetadata: {{name: c{i}}}\\n" for i in range(200))
try:
    docs = yamlsplit.load_in_two(text, lambda part: list(yaml.safe_load_all(part)))
    print(f"lost: {len(docs or ())} documents loaded")
except KeyboardInterrupt:
    print("interrupted" + left())
"""

CLI = HOOK + """
from kubeproxy_sim.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def python(code: str, *argv: str, env: dict[str, str] | None = None,
           terminal: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``code``; with ``terminal`` its stderr is a pseudo-terminal (so a progress line and its thread are
    shown), read back as the result's stderr."""
    command = [sys.executable, "-c", code, *argv]
    environ = {**os.environ, **(env or {})}
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=environ, check=False)
    import pty
    import threading

    environ["TERM"] = "xterm"
    environ.pop("KUBEPROXY_SIM_NO_PROGRESS", None)
    master, slave = pty.openpty()
    read: list[bytes] = []

    def drain() -> None:  # a full terminal would stop the writer
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer is gone
                return
            if not chunk:
                return
            read.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, text=True, env=environ) as proc:
            os.close(slave)
            slave = -1
            reader.start()
            out, _ = proc.communicate(timeout=300)
        reader.join(10)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    err = b"".join(read).decode(errors="replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_a_ctrl_c_at_a_fork_is_raised_in_our_code_not_lost() -> None:
    """Without root: the interrupt waits for the fork to be done and surfaces in the caller, once."""
    done = python(CALL, "1", "parent")
    assert done.stdout == "interrupted\n", done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr and "KeyboardInterrupt" not in done.stderr


@pytest.mark.parametrize("code", [POPEN, IPROUTE, YAMLSPLIT], ids=["popen", "iproute", "yamlsplit"])
def test_a_ctrl_c_at_a_fork_leaves_no_process_or_socket(code: str) -> None:
    """The interrupt lands as the signals are unblocked, after the fork: what the fork made is cleaned up."""
    done = python(code, "1", "parent")
    assert done.stdout == "interrupted\n", done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr and "KeyboardInterrupt" not in done.stderr


def test_a_library_child_never_comes_back_into_our_code() -> None:
    """A child forked inside :func:`nsexec.forking` (pyroute2's) has the signals blocked, and one that returns
    or raises out of the body exits there: our cleanup never runs in it."""
    read_fd, write_fd = os.pipe()
    pids = []
    for outcome in ("raise", "return"):
        try:
            with nsexec.forking():
                pid = os.fork()
                if pid == 0:
                    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
                    os.write(write_fd, b"B" if blocked >= signals.HELD else b"-")
                    if outcome == "raise":
                        raise KeyboardInterrupt
            pids.append(pid)
        except KeyboardInterrupt:
            os.write(write_fd, b"!")  # only a child could come here
    os.close(write_fd)
    statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    with os.fdopen(read_fd, "rb") as src:
        assert src.read() == b"BB"
    assert statuses == [1, 0]
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, []) & signals.HELD  # the parent's mask is back


def test_a_ctrl_c_raised_as_the_signals_are_blocked_leaves_them_unblocked() -> None:
    """``pthread_sigmask`` runs a pending handler after it has blocked the signals: the KeyboardInterrupt
    from it must not leave SIGINT and SIGTERM blocked for good."""
    from unittest import mock

    real = signal.pthread_sigmask

    def pending_ctrl_c(how: int, mask: object) -> set[int | signal.Signals]:
        previous = real(how, mask)  # type: ignore[arg-type]
        if how == signal.SIG_BLOCK and mask == signals.HELD:
            raise KeyboardInterrupt
        return previous

    with mock.patch.object(nsexec.signal, "pthread_sigmask", side_effect=pending_ctrl_c), \
            pytest.raises(KeyboardInterrupt), signals.held():
        pytest.fail("the body ran")  # pragma: no cover
    assert not real(signal.SIG_BLOCK, []) & signals.HELD


def test_our_children_keep_an_ignored_sigint_ignored() -> None:
    """A kubeproxy-sim started with SIGINT ignored (a background job of a script) passes that on to what it
    runs, as exec does; SIGTERM, which it handles, takes the default action in the child."""
    from unittest import mock

    def dispositions() -> list[int]:
        return [int(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM)]  # type: ignore[arg-type]

    int_before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    term_before = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        with mock.patch.object(nsexec, "enter_netns"):
            assert nsexec.call("kpsim-no-such-namespace-here", dispositions) == [signal.SIG_IGN, signal.SIG_DFL]
            with nsexec.popen("kpsim-no-such-namespace-here", ["grep", "^SigIgn:", "/proc/self/status"],
                              stdout=subprocess.PIPE) as proc:
                ignored = int(proc.communicate()[0].split()[1], 16)
    finally:
        signal.signal(signal.SIGINT, int_before)
        signal.signal(signal.SIGTERM, term_before)
    assert (ignored >> (signal.SIGINT - 1) & 1, ignored >> (signal.SIGTERM - 1) & 1) == (1, 0)


def held_ctrl_c() -> None:
    """SIGINT sent to this thread, as a Ctrl-C reaches a one-threaded CLI: a thread that holds it keeps it
    pending. (``os.kill(os.getpid(), ...)`` lets the kernel pick any thread that does not block it, such as a
    pytest-xdist worker's I/O thread, and Python then raises it in this one at once, held or not.)"""
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)


def test_a_build_tears_down_only_a_name_it_claimed(tmp_path: Path) -> None:
    """R-kernel 2: an interrupt while the name is checked, or one held over a creation that lost the name,
    removes nothing (the name is another cluster's); a failure or an interrupt once the name is ours removes
    what was built. No kernel touched: the creation, the check and the teardown are faked."""
    from types import SimpleNamespace
    from unittest import mock

    from kubeproxy_sim.kernel import build

    topo = SimpleNamespace(name="other", net_netns="kpsim-other.net")

    def interrupted(then: BaseException | None) -> mock.Mock:
        def create(_name: str) -> None:
            held_ctrl_c()  # a Ctrl-C while pyroute2 creates it: held
            if then is not None:
                raise then
        return mock.Mock(side_effect=create)

    cases = [  # (exists, create, the body's error, expected error, torn down)
        (mock.Mock(side_effect=KeyboardInterrupt), None, None, KeyboardInterrupt, False),
        (lambda _: False, interrupted(FileExistsError(17, "File exists")), None, KeyboardInterrupt, False),
        (lambda _: False, mock.Mock(side_effect=FileExistsError(17, "File exists")), None, build.NameTaken, False),
        (lambda _: True, None, None, build.NameTaken, False),
        (lambda _: False, interrupted(None), None, KeyboardInterrupt, True),
        (lambda _: False, mock.Mock(), RuntimeError("wire"), RuntimeError, True),
        (lambda _: False, mock.Mock(), KeyboardInterrupt(), KeyboardInterrupt, True),
    ]
    for exists, create, body_error, expected, torn_down in cases:
        with mock.patch.object(build, "exists", exists), mock.patch.object(build.nsexec, "create_netns", create), \
                mock.patch.object(build, "mark_owner"), mock.patch.object(build, "teardown") as teardown, \
                pytest.raises(expected), build.claimed(topo, tmp_path, {"name": "other"}):  # type: ignore[arg-type]
            if body_error is not None:
                raise body_error
        torn = [call.args[0] for call in teardown.call_args_list]
        assert torn == (["other"] if torn_down else []), (exists, create, body_error)
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, []) & signals.HELD


def test_teardown_skips_a_namespace_that_vanished(tmp_path: Path) -> None:
    """Two teardowns of one cluster at once: the slower one finds a namespace gone, and goes on."""
    from unittest import mock

    from kubeproxy_sim.kernel import build

    gone = "kpsim-demo.n0"

    def remove(name: str) -> None:
        if name == gone:
            raise FileNotFoundError(2, "No such file or directory", f"/run/netns/{name}")

    with mock.patch.object(build.netns, "listnetns", return_value=[gone, "kpsim-demo.n1", "kpsim-demo.net"]), \
            mock.patch.object(build.netns, "remove", side_effect=remove), \
            mock.patch.object(build, "_servers_in", return_value=[]):
        assert build.teardown("demo", tmp_path, None) == ["kpsim-demo.n1", "kpsim-demo.net"]


@pytest.mark.kernel
@pytest.mark.parametrize(("at", "mode", "terminal"), [(1, "parent", False), (4, "parent", False),
                                                     (4, "group", False), (30, "group", False),
                                                     (1, "parent", True), (4, "parent", True)])
def test_interrupted_up_exits_130_and_leaves_nothing(kernel: None, run_tag: str, tmp_path: Path, at: int,
                                                      mode: str, terminal: bool) -> None:
    """A Ctrl-C at a fork of `netns up` (pyroute2's namespace creation, its netlink sockets, our sysctl
    children): exit 130, no cluster reported up, no namespace or state file left, no traceback. On a terminal
    too, where the progress line's thread runs (and must not be the one the kernel hands the signal to)."""
    from pyroute2 import netns

    from kubeproxy_sim.kernel import build

    name = f"{run_tag}i{at}{mode[0]}{'t' if terminal else ''}"
    try:
        done = python(CLI, str(at), mode, "netns", "up", "--scenario", "bootcamp", "--name", name,
                      env={"KPSIM_STATE_DIR": str(tmp_path)}, terminal=terminal)
        left = [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
        assert (done.returncode, done.stdout, left) == (130, "", []), done.stderr
        for noise in ("Exception ignored", "Traceback", "internal error"):
            assert noise not in done.stderr
        assert not (tmp_path / f"{name}.json").exists()
    finally:
        build.teardown(name, tmp_path, None)
