"""Running code inside a named network namespace without ever moving this process.

The parent stays in the namespace it started in (so a crash can never leave the
caller's own sockets in a test namespace): every command runs in a child that
enters the namespace between fork and exec, and every Python callable runs in a
forked child that enters it and reports back through a pipe.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def enter_netns(name: str) -> None:
    """setns(2) into ``name``; only ever called in a child process."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def _preexec(name: str) -> Callable[[], None]:
    def enter() -> None:
        enter_netns(name)

    return enter


def run(name: str, argv: Sequence[str], *, stdin: str | None = None,
        timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside namespace ``name`` and capture its output."""
    return subprocess.run(list(argv), input=stdin, text=True, capture_output=True, timeout=timeout,
                          preexec_fn=_preexec(name), check=False)


def popen(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``argv`` inside namespace ``name`` (a background process when start_new_session is set)."""
    return subprocess.Popen(list(argv), text=True, preexec_fn=_preexec(name), **kwargs)


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs one of our helper modules with this interpreter."""
    return [sys.executable, "-m", module, *args]


def call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a forked child inside ``name``; returns its JSON-able result or raises OSError."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(read_fd)
        status = 0
        try:
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
    os.close(write_fd)
    with os.fdopen(read_fd) as src:
        text = src.read()
    os.waitpid(pid, 0)
    result = json.loads(text) if text else {"error": "the child process died"}
    if "error" in result:
        raise OSError(result.get("errno") or 0, f"in namespace {name}: {result['error']}")
    return result["ok"]
