"""SIGINT and SIGTERM held over a fork, and a child's signals set up after one.

A Ctrl-C that lands while the interpreter runs its at-fork callbacks is reported as "Exception ignored" and
lost, and one that lands in a child forked from our code would run the parent's handlers there. So every
fork of ours happens with the two held (:func:`held`), and each child sets its own dispositions before it
unblocks them (:func:`in_child`). A leaf every layer may use: the YAML loader, the kernel backend and the
command line's progress thread all fork or start threads.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from typing import BinaryIO, NoReturn

HELD = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def held() -> Iterator[set[int | signal.Signals]]:
    """SIGINT and SIGTERM blocked in this thread for the body (the previous mask is yielded); one that came
    meanwhile is handled as the mask is restored, in the caller's code.

    The mask is read before it is changed: ``pthread_sigmask`` runs pending handlers after changing it, so a
    Ctrl-C that came just before would raise from the blocking call itself, and the mask must still be
    restored then."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        yield previous
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def in_child(previous: set[int | signal.Signals]) -> None:
    """In a child of ours: SIGINT and SIGTERM end it (no handler of the parent's runs here), then unblocked.
    One the parent ignores stays ignored, as exec keeps it (a background job's Ctrl-C is not for it)."""
    for signum in HELD:
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def forked(child: Callable[[int, set[int | signal.Signals]], NoReturn]) -> Iterator[BinaryIO]:
    """A child forked with the two held that runs ``child(write_fd, previous)``, which must end it with
    ``os._exit`` after :func:`in_child`; the body reads its answer from the yielded end of the pipe.

    An interrupt held over the fork lands as the mask is restored, in the body or before it; leaving by any
    exception kills the child (its answer is not wanted any more). It is reaped and the pipe closed however
    this ends."""
    read_fd, write_fd = os.pipe()
    pid = 0
    try:
        with os.fdopen(read_fd, "rb") as inbox:
            try:
                with held() as previous:
                    pid = os.fork()
                    if pid == 0:
                        try:
                            os.close(read_fd)
                            child(write_fd, previous)
                        finally:
                            os._exit(1)  # never back into the parent's code
            finally:
                os.close(write_fd)
            yield inbox
    except BaseException:
        if pid:
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        if pid:
            os.waitpid(pid, 0)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C is (a KeyboardInterrupt, so every ``except KeyboardInterrupt`` that ends a run
    cleanly ends it the same way), told apart where the exit status differs (143, 128 + SIGTERM, for 130)."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread for the body, so a command that runs until it is
    stopped (watch) ends on ``kill`` or a service manager's stop as on Ctrl-C, not killed mid-write with no word
    (u1). A SIGTERM the process was started ignoring stays ignored (as a SIGINT ignored in a background job is);
    the previous disposition is back after the body."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
