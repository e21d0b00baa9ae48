"""A FIFO standing for a file given once, as ``<(cat FILE)`` gives it: what reading it twice meets."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fifo_giving(path: Path, text: str | bytes) -> Iterator[None]:
    """``path`` a FIFO whose writer gives ``text`` (UTF-8, or the bytes given) to its first reader and nothing to
    any later one, as a process substitution does (its writer has ended): a reader that opens it again reads it
    empty, rather than waiting (the test fails, not hangs)."""
    os.mkfifo(path)
    done = threading.Event()

    def writer() -> None:
        given = text.encode("utf-8") if isinstance(text, str) else text
        while not done.is_set():
            with open(path, "wb") as handle:  # (waits for a reader)
                handle.write(given)
            given = b""

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        while thread.is_alive():  # the writer waiting for a reader: one that reads nothing ends it
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            thread.join(0.05)
