"""watch --kubeconfig: an exec plugin is run again from the kubeconfig as it was read at start.

client-go's exec authenticator (plugin/pkg/client/auth/exec/exec.go newAuthenticator) keeps the command, args and env
of the config loaded at start, and refreshCredsLocked runs that again when the credentials expire or a 401 comes; the
kubeconfig file is never read again. The watch re-read the file for each refresh (reviewer r1): a pipe
(``--kubeconfig <(...)``) or a deleted file then never refreshed (the failure dropped without a word: the expired
token sent for ever), and a kubeconfig edited mid-watch was taken up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._fake_apiserver import FakeApiServer
from ._kubeconfigs import with_user
from .conftest import Mirror
from .test_apiserver_exec_expiry import AT_EXPIRY, EXPIRY, Clock, Plugin

pytest.importorskip("kubernetes")


def _source(fake: FakeApiServer, kubeconfig: str, clock: Clock) -> ApiServerSource:
    fake.watch_seconds = 0.05  # (short watches: each one a request that asks for the credentials)
    ticks = iter(range(0, 10**9, 10))  # (each watch lasts long enough, to the source: none is very short)
    return ApiServerSource(kubeconfig, kinds=[Kind.SERVICE], sleep=lambda _: None, clock=lambda: float(next(ticks)),
                           now=clock).start()


def _kubeconfig_text(fake: FakeApiServer, tmp_path: Path, plugin: Plugin) -> str:
    path = with_user(fake, tmp_path / "kc", {"exec": plugin.entry}, **{"insecure-skip-tls-verify": True})
    text = path.read_text()
    path.unlink()
    return text


@pytest.fixture
def pipe() -> Iterator[Any]:
    """``--kubeconfig <(...)``: a /dev/fd path of a pipe's reading end, written whole and closed by ``fill``."""
    read_end, write_end = os.pipe()

    def write_all(text: str) -> None:
        os.write(write_end, text.encode())
        os.close(write_end)

    def fill(text: str) -> str:
        # (in a thread: a kubeconfig larger than the pipe's buffer would block a write before the read)
        threading.Thread(target=write_all, args=(text,)).start()
        return f"/dev/fd/{read_end}"

    yield fill
    os.close(read_end)


def _refreshes_at_expiry(fake: FakeApiServer, plugin: Plugin, kubeconfig: str, meanwhile: Any = None) -> Mirror:
    clock = Clock(AT_EXPIRY - 60)
    src = _source(fake, kubeconfig, clock)
    try:
        seen = Mirror(src)
        seen.until(lambda: len(fake.authorization) >= 2)
        if meanwhile is not None:
            meanwhile()
        plugin.plan(expiry="2031-01-01T00:00:00Z")
        clock.at = AT_EXPIRY + 1
        seen.until(lambda: "Bearer t2" in fake.authorization or len(fake.authorization) > 40)
        before = len(fake.authorization)
        seen.until(lambda: len(fake.authorization) >= before + 2)
    finally:
        src.close(timeout=2)
    assert fake.authorization[-2:] == ["Bearer t2"] * 2
    return seen


def test_a_pipe_kubeconfig_runs_its_plugin_again_at_expiry(tls_fake, tmp_path: Path, pipe: Any) -> None:
    """The pipe gave its text once; the watch sent the expired t1 for ever."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    seen = _refreshes_at_expiry(tls_fake, plugin, pipe(_kubeconfig_text(tls_fake, tmp_path, plugin)))
    assert plugin.runs == 2
    assert seen.said() == []


def test_a_deleted_kubeconfig_runs_its_plugin_again_at_expiry(tls_fake, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    path = with_user(tls_fake, tmp_path / "kc", {"exec": plugin.entry}, **{"insecure-skip-tls-verify": True})
    _refreshes_at_expiry(tls_fake, plugin, str(path), meanwhile=path.unlink)
    assert plugin.runs == 2


def test_a_kubeconfig_edited_mid_watch_is_not_taken_up(tls_fake, tmp_path: Path) -> None:
    """The file now names another plugin (and another token): client-go runs the one it loaded."""
    plugin = Plugin(tmp_path, expiry=EXPIRY)
    path = with_user(tls_fake, tmp_path / "kc", {"exec": plugin.entry}, **{"insecure-skip-tls-verify": True})
    other = (tmp_path / "other")
    other.mkdir()
    edited = Plugin(other, expiry="2031-01-01T00:00:00Z")

    def edit() -> None:
        with_user(tls_fake, path, {"token": "edited", "exec": edited.entry}, **{"insecure-skip-tls-verify": True})

    _refreshes_at_expiry(tls_fake, plugin, str(path), meanwhile=edit)
    assert (plugin.runs, edited.runs) == (2, 0)
    assert "Bearer edited" not in tls_fake.authorization


def test_a_certificate_authority_file_removed_mid_watch_does_not_stop_the_refresh(tmp_path: Path) -> None:
    """client-go reads the cluster's CA once, building its transport; the watch built its client again for the
    plugin's new token and read the CA file again: gone, each request failed ('getting credentials: ... cannot
    read it') and t2 never went out."""
    from ._kubeconfigs import tls_server

    fake = tls_server(tmp_path)
    try:
        plugin = Plugin(tmp_path, expiry=EXPIRY)
        path = with_user(fake, tmp_path / "kc", {"exec": plugin.entry},
                         **{"certificate-authority": str(tmp_path / "server.crt")})
        seen = _refreshes_at_expiry(fake, plugin, str(path), meanwhile=(tmp_path / "server.crt").unlink)
    finally:
        fake.stop()
    assert plugin.runs == 2
    assert seen.said() == []
