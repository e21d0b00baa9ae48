"""The watch tests' shared setup: a fake API server, an ApiServerSource on it, and what the source produced."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.watch import EventType, Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource  # (the package's lazy name is no type to mypy)

from ._fake_apiserver import FakeApiServer


class Mirror:
    """What a source produced, folded strictly: an ADDED for a held key, or a MODIFIED/DELETED for an absent
    one, is a bug. ``until`` polls ``src``; ``fold`` takes batches polled elsewhere."""

    def __init__(self, src: ApiServerSource | None = None) -> None:
        self.src = src
        self.objects: dict[Kind, dict[str, Any]] = {k: {} for k in Kind}
        self.events: list[Any] = []
        self.diagnostics: list[Any] = []
        self.synced: set[Kind] = set()  # the kinds whose list ended (its BOOKMARK came)

    def fold(self, batch: Any) -> None:
        self.diagnostics += batch.diagnostics
        for e in batch.events:
            self.events.append(e)
            table = self.objects[e.kind]
            if e.type is EventType.BOOKMARK:
                self.synced.add(e.kind)
            elif e.type is EventType.ADDED:
                assert e.key not in table, f"duplicate ADDED {e.kind} {e.key}"
                table[e.key] = e.obj
            elif e.type is EventType.MODIFIED:
                assert e.key in table, f"MODIFIED before ADDED {e.kind} {e.key}"
                table[e.key] = e.obj
            else:
                assert table.pop(e.key, None) is not None, f"DELETED unknown {e.kind} {e.key}"

    def until(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Poll until ``predicate`` holds, and once more after: what was said before it came true is seen."""
        assert self.src is not None
        deadline = time.monotonic() + timeout
        while True:
            done = predicate()
            assert done or time.monotonic() < deadline, f"timed out; said: {[str(d) for d in self.diagnostics]}"
            self.fold(self.src.poll(0 if done else 0.02))
            if done:
                return

    def keys(self, kind: Kind) -> set[str]:
        return set(self.objects[kind])

    def said(self, severity: Severity = Severity.WARNING) -> list[str]:
        return [str(d) for d in self.diagnostics if d.severity is severity]


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def dead_server(tmp_path) -> tuple[str, str]:
    """The kubeconfig and URL of an API server that has stopped: its port refuses connections."""
    server = FakeApiServer().start()
    kubeconfig = server.write_kubeconfig(str(tmp_path / "kc"))
    server.stop()
    return kubeconfig, server.url


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connect(fake, tmp_path, sleeps) -> Iterator[Callable[..., ApiServerSource]]:
    """An ApiServerSource on ``fake`` (or on ``kubeconfig=``), injected sleep, closed at the end of the test."""
    sources: list[ApiServerSource] = []

    def make(**kw: Any) -> ApiServerSource:
        kubeconfig = kw.pop("kubeconfig", None) or fake.write_kubeconfig(str(tmp_path / "kubeconfig"))
        kw.setdefault("sleep", sleeps.append)
        kw.setdefault("rng", random.Random(7))
        kw.setdefault("watch_timeout", 5)
        src = ApiServerSource(kubeconfig, **kw).start()
        sources.append(src)
        return src

    yield make
    for src in sources:
        src.close(timeout=2)


@pytest.fixture
def populated(fake) -> FakeApiServer:
    """``fake`` holding one object of each kind, Service default/s1 among them."""
    from ._kubeconfigs import populate  # (here, not above: _kubeconfigs takes Mirror from this module)

    populate(fake)
    return fake


@pytest.fixture
def fake6() -> Iterator[FakeApiServer]:
    """A populated fake on [::1] (skipped where there is no IPv6 loopback)."""
    from ._kubeconfigs import populate

    try:
        server = FakeApiServer(address="::1").start()
    except OSError as exc:
        pytest.skip(f"cannot listen on [::1]: {exc}")
    populate(server)
    yield server
    server.stop()


@pytest.fixture
def tls_fake(tmp_path) -> Iterator[FakeApiServer]:
    """A populated https fake, its server.crt and server.key (the test certificate) in ``tmp_path``."""
    from ._kubeconfigs import tls_server

    server = tls_server(tmp_path)
    yield server
    server.stop()
