"""watch --kubeconfig: a user's ``tokenFile`` read again while watching, as client-go's bearer round tripper reads it.

client-go (transport.NewBearerAuthWithRefreshRoundTripper) asks a caching file token source at each request: the
token it read is kept for a minute less ten seconds of leeway, then the file is read again (a projected
service-account token the kubelet rotates); a file that cannot be read then (gone, emptied) leaves the token read
last in use ("Unable to rotate token", logged) and is tried again at the next request. A 401 does not make it read
the file sooner. With a ``token`` beside the file, the file's token goes out while the file gives one (kubectl 1.33,
the oracle, sent the file's). The watch read the file once, and again only after a 401 (at most every two seconds),
and sent the ``token`` beside it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._fake_apiserver import FakeApiServer
from ._kubeconfigs import with_user
from .conftest import Mirror

pytest.importorskip("kubernetes")


class Wall:
    """The injected wall clock, moved by the test."""

    def __init__(self) -> None:
        self.at = 1_000_000.0

    def __call__(self) -> float:
        return self.at


def _source(fake: FakeApiServer, tmp_path: Path, user: dict[str, Any], wall: Wall) -> tuple[ApiServerSource, Path]:
    fake.watch_seconds = 0.05  # (short watches: each one a request that asks for the token)
    kubeconfig = with_user(fake, tmp_path / "kc", user, **{"insecure-skip-tls-verify": True})
    return ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, now=wall,
                           clock=itertools.count(0.0, 10.0).__next__).start(), kubeconfig


def _more(fake: FakeApiServer, seen: Mirror, count: int = 3) -> list[str | None]:
    """The Authorization headers of the next ``count`` requests."""
    before = len(fake.authorization)
    seen.until(lambda: len(fake.authorization) >= before + count)
    return fake.authorization[before:before + count]


def test_a_rotated_token_file_is_read_again_50_seconds_after_the_last_reading(tls_fake, tmp_path: Path) -> None:
    token, wall = tmp_path / "token", Wall()
    token.write_text("first\n")
    src, _ = _source(tls_fake, tmp_path, {"tokenFile": str(token)}, wall)
    try:
        seen = Mirror(src)
        assert set(_more(tls_fake, seen)) == {"Bearer first"}
        token.write_text("second\n")  # (the kubelet writes the rotated token)
        wall.at += 49.5
        assert set(_more(tls_fake, seen)) == {"Bearer first"}
        wall.at += 0.5
        assert set(_more(tls_fake, seen)[1:]) == {"Bearer second"}  # (the first may have been under way)
    finally:
        src.close(timeout=2)
    assert seen.said() == []


@pytest.mark.parametrize("how", ["emptied", "removed"])
def test_a_token_file_that_cannot_be_read_again_leaves_the_last_token_in_use(
        tls_fake, tmp_path: Path, how: str) -> None:
    """client-go's caching source keeps its token when the base source fails ("Unable to rotate token") and, its
    token being stale, reads the file at each request until it gives one."""
    token, wall = tmp_path / "token", Wall()
    token.write_text("first")
    src, kubeconfig = _source(tls_fake, tmp_path, {"tokenFile": str(token)}, wall)
    try:
        seen = Mirror(src)
        _more(tls_fake, seen)
        if how == "emptied":
            token.write_text(" \n")
        else:
            token.unlink()
        wall.at += 60
        assert set(_more(tls_fake, seen, 5)) == {"Bearer first"}
        token.write_text("second")
        assert set(_more(tls_fake, seen)[1:]) == {"Bearer second"}
    finally:
        src.close(timeout=2)
    why = (f'read empty token from file "{token}"' if how == "emptied" else
           f'failed to read token file "{token}": open {token}: no such file or directory')
    assert seen.said() == [f"{kubeconfig}: users[0].user.tokenFile: warning: cannot read the token file again ({why}); "
                           "the token read last is sent until it can (client-go: \"Unable to rotate token\")"]


def test_the_file_s_token_goes_out_before_a_token_beside_it(tls_fake, tmp_path: Path) -> None:
    """clientcmd keeps both; the bearer round tripper sends what the file token source reads (kubectl 1.33 sent
    ``Bearer from-file`` for this user), and the token only while the file gives none."""
    token, wall = tmp_path / "token", Wall()
    token.write_text("from-file\n")
    src, _ = _source(tls_fake, tmp_path, {"token": "from-token", "tokenFile": str(token)}, wall)
    try:
        seen = Mirror(src)
        assert set(_more(tls_fake, seen)) == {"Bearer from-file"}
    finally:
        src.close(timeout=2)


def test_a_401_does_not_read_the_file_again(tls_fake, tmp_path: Path) -> None:
    """The bearer round tripper leaves a 401 alone: the file is read again by the clock only (the watch read the
    kubeconfig again after a 401)."""
    token, wall = tmp_path / "token", Wall()
    token.write_text("first")
    src, _ = _source(tls_fake, tmp_path, {"tokenFile": str(token)}, wall)
    try:
        seen = Mirror(src)
        _more(tls_fake, seen)
        token.write_text("second")
        tls_fake.require_authorization = "Bearer second"
        assert set(_more(tls_fake, seen, 5)) == {"Bearer first"}
    finally:
        src.close(timeout=2)
