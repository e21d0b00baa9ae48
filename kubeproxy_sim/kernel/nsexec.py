"""Running code inside a named network namespace without ever moving this process.

The parent stays in the namespace it started in (so a crash can never leave the
caller's own sockets in a test namespace): every command runs in a child that
enters the namespace between fork and exec, and every Python callable runs in a
forked child that enters it and reports back through a pipe.

Every fork here, and every call into pyroute2 that forks (:func:`create_netns`,
:func:`iproute`), holds SIGINT and SIGTERM blocked in the parent for the fork's
length (:func:`kubeproxy_sim.signals.held`): a Ctrl-C landing in the interpreter's at-fork
callbacks (logging's lock, threading's reinit) would be reported as "Exception
ignored" and lost, so the build would go on and report success. Held, it waits
and lands in our own code once the child exists. A child of ours takes the
default action for both (one the parent ignores stays ignored) before
unblocking them; pyroute2's children keep them blocked for their short life,
and one that comes back into our code anyway exits there (:func:`forking`), so
an interrupt never runs our cleanup twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from kubeproxy_sim import signals
from kubeproxy_sim.errors import Diagnostic, InputError

if TYPE_CHECKING:
    from pyroute2 import IPRoute

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def mounted(name: str) -> bool:
    """Whether ``name``'s mount point holds a namespace (a file of nsfs, as /proc/self/ns/net is); False for
    none and for a bare file (a create cut short before its mount, or a removal after its unmount)."""
    try:
        return os.stat(netns_path(name)).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


def enter_netns(name: str) -> None:
    """setns(2) into ``name``; only ever called in a child process."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


@contextlib.contextmanager
def forking() -> Iterator[None]:
    """Around a call into a library that forks (pyroute2): signals held, and a child that returns or raises
    out of the body (its own code only catches Exception) exits here instead of running our code."""
    parent = os.getpid()
    try:
        with signals.held():
            yield
    except BaseException:
        if os.getpid() != parent:
            os._exit(1)
        raise
    if os.getpid() != parent:
        os._exit(0)


def create_netns(name: str) -> None:
    """pyroute2's ``netns.create`` (a forked child mounts the namespace; FileExistsError when the name is
    taken), with the interrupt held until it is there: teardown then finds it."""
    from pyroute2 import netns

    with forking():
        netns.create(name)


def iproute(name: str) -> IPRoute:
    """An ``IPRoute`` whose netlink socket lives in namespace ``name`` (pyroute2 forks a child to open it)."""
    from pyroute2 import IPRoute

    ipr = None
    try:
        with forking():
            ipr = IPRoute(netns=name)
    except BaseException:  # an interrupt held over the fork lands as the mask is restored: close what it made
        if ipr is not None:
            ipr.close()
        raise
    return ipr


def _preexec(name: str, previous: set[int | signal.Signals]) -> Callable[[], None]:
    def enter() -> None:
        enter_netns(name)
        signals.in_child(previous)

    return enter


class Overran(InputError):
    """A command in a namespace that ran past its time limit, and was killed.

    An error of its own, not :class:`subprocess.TimeoutExpired`: that one reached the CLI as a bug of ours
    (internal error, exit 70) though it says something of the machine (too busy to run a probe's attempts
    within their limit) or of the command (one that hangs). Its message names the command, the namespace and
    the limit; a caller that knows more (the flow a probe was for) puts that before it."""

    def __init__(self, name: str, argv: Sequence[str], timeout: float) -> None:
        self.namespace = name
        self.command = command_name(argv)
        self.timeout = timeout
        super().__init__(Diagnostic(f"{self.command} in {name} ran past its {timeout:g} s limit and was killed; "
                                    "expected it to finish well within it (a machine too busy, or a command "
                                    "that hangs)"))


def command_name(argv: Sequence[str]) -> str:
    """What a message calls ``argv``: one of our helper modules by its module name (every one of them is this
    interpreter's ``-m``, :func:`python_module`), another command by its program's name."""
    if len(argv) >= 3 and argv[1] == "-m":
        return argv[2]
    return os.path.basename(argv[0]) if argv else "the command"


def run(name: str, argv: Sequence[str], *, stdin: str | None = None,
        timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside namespace ``name`` and capture its output (as ``subprocess.run`` does; only the
    start holds the signals, so a Ctrl-C while it runs stops the wait at once). One still running after
    ``timeout`` seconds is killed, and :class:`Overran` raised."""
    piped = subprocess.PIPE if stdin is not None else None
    with popen(name, argv, stdin=piped, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise Overran(name, argv, timeout) from None
        except BaseException:
            proc.kill()
            raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def popen(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``argv`` inside namespace ``name`` (a background process when start_new_session is set)."""
    proc = None
    try:
        with signals.held() as previous:
            proc = subprocess.Popen(list(argv), text=True, preexec_fn=_preexec(name, previous), **kwargs)
    except BaseException:  # an interrupt held over the start lands as the mask is restored: stop what started
        if proc is not None:
            with proc:
                proc.kill()
        raise
    return proc


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs one of our helper modules with this interpreter."""
    return [sys.executable, "-m", module, *args]


def call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a forked child inside ``name``; returns its JSON-able result or raises OSError.

    An interrupt held over the fork lands as the mask is restored; the child is then killed, and reaped and
    the pipe closed however this ends."""
    with signals.forked(lambda write_fd, previous: _child(name, fn, args, write_fd, previous)) as answer:
        text = answer.read()
    result = json.loads(text) if text else {"error": "the child process died"}
    if "error" in result:
        raise OSError(result.get("errno") or 0, f"in namespace {name}: {result['error']}")
    return result["ok"]


def _child(name: str, fn: Callable[..., Any], args: tuple[Any, ...], write_fd: int,
           previous: set[int | signal.Signals]) -> NoReturn:
    """The forked child of :func:`call`: runs ``fn`` in the namespace, writes its answer and exits."""
    status = 0
    try:
        signals.in_child(previous)
        enter_netns(name)
        payload = {"ok": fn(*args)}
    except BaseException as exc:
        payload = {"error": f"{type(exc).__name__}: {exc}", "errno": getattr(exc, "errno", None)}
        status = 1
    try:
        with os.fdopen(write_fd, "w") as out:
            json.dump(payload, out)
    finally:
        os._exit(status)
