"""An auth-provider token the client refreshes, written back to the kubeconfig it came from
(watch.apiserver._persist_auth_provider), as client-go's persister writes it: made whole before the file is
touched, then written in place (its inode, owner, permission bits and symbolic link kept), every value read written
back as kubectl reads it. A write-back that fails fails the connection, as client-go's Persist returns
ModifyConfig's error and its oidc plugin fails the request with it ("could not persist new tokens")."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch.apiserver import connect

pytest.importorskip("kubernetes")


def jwt(expiry: int) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": expiry}).encode()).decode().rstrip("=")
    return f"e30.{claims}.c2ln"


FRESH = jwt(4_102_444_800)


class _Node:
    """What a refresh below is given as its provider's config: the mapping (``value``) and its items."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def __getitem__(self, key: str) -> Any:
        return self.value[key]


Refresh = Callable[[Any, dict[str, Any]], None]
"""A refresh that sets the new tokens in ``provider["config"].value`` (its first argument unused)."""


def refreshing_with(monkeypatch, refresh: Refresh) -> None:
    """The oidc exchange (oidc.refreshed_config, which the watch's loader calls) answered by ``refresh``, without an
    identity provider; the refresh installed is kept as ``installed``, for one that wraps it."""
    from kubeproxy_sim.watch import oidc

    def refreshed(config: Any, _idp: Any = None) -> dict[str, str]:
        new = dict(config)
        refresh(None, {"config": _Node(new)})
        return new

    monkeypatch.setattr(oidc, "refreshed_config", refreshed)
    monkeypatch.setattr(sys.modules[__name__], "installed", refresh)


installed: Refresh | None = None


@pytest.fixture(autouse=True)
def refreshing(monkeypatch) -> None:
    """The oidc refresh answered as a token endpoint would (a new id-token, the refresh token rotated)."""

    def refresh(self, provider) -> None:
        provider["config"].value["id-token"] = FRESH
        provider["config"].value["refresh-token"] = "rotated"

    refreshing_with(monkeypatch, refresh)


def kubeconfig_text(extra: str = "") -> str:
    """A kubeconfig whose user's oidc id-token has expired (the client refreshes it as it loads the file)."""
    return ("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n"
            "users:\n- name: u\n  user:\n    auth-provider:\n      name: oidc\n      config:\n"
            "        client-id: kpsim\n        idp-issuer-url: https://idp.invalid\n"
            f"        id-token: {jwt(1)}\n        refresh-token: first\ncontexts:\n- name: x\n  context:\n"
            f"    cluster: c\n    user: u\ncurrent-context: x\n{extra}")


def provider_config(path: Path) -> dict[str, str]:
    from kubeproxy_sim.objects.load import safe_load

    data, _ = safe_load(path.read_text(encoding="utf-8"))
    return data["users"][0]["user"]["auth-provider"]["config"]


def test_every_value_the_reader_keeps_is_written_back_as_kubectl_reads_it(tmp_path: Path) -> None:
    """A string go-yaml would read as a boolean stays quoted, a float stays a float. (A .inf the reader keeps as
    written made the dump fail after the file was opened for writing, which left the kubeconfig empty; such a file
    is now refused before the client is built, as client-go refuses it: JSON cannot hold it.)"""
    from kubeproxy_sim.objects.load import safe_load

    config = tmp_path / "config"
    config.write_text(kubeconfig_text(
        "preferences:\n  extensions:\n  - name: e\n    extension: {limit: 1e30, answer: 'n'}\n"))
    connect(str(config))
    data, _ = safe_load(config.read_text(encoding="utf-8"))
    assert data["preferences"]["extensions"][0]["extension"] == {"limit": 1e30, "answer": "n"}
    assert provider_config(config)["refresh-token"] == "rotated"


def test_a_kubeconfig_json_cannot_hold_is_refused_and_not_written(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(kubeconfig_text("preferences:\n  extensions:\n  - name: e\n    extension: {limit: -.Inf}\n"))
    with pytest.raises(InputError, match=r"preferences\.extensions\[0\]\.extension\.limit: -\.Inf is a number JSON"):
        connect(str(config))
    assert provider_config(config)["refresh-token"] == "first"


def test_a_write_back_stopped_while_rendering_leaves_the_kubeconfig_as_it_was(tmp_path: Path, monkeypatch) -> None:
    """The text is made before the file is touched: an error (or Ctrl-C) while making it left an empty file."""
    import yaml

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(yaml, "dump", interrupted)
    monkeypatch.setattr(yaml, "safe_dump", interrupted)
    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    with pytest.raises(KeyboardInterrupt):
        connect(str(config))
    assert config.read_text() == kubeconfig_text()
    assert os.listdir(tmp_path) == ["config"]


def test_the_write_back_writes_the_file_in_place(tmp_path: Path, monkeypatch) -> None:
    """As client-go's WriteToFile (os.WriteFile): the file keeps its inode, hence its owner and a bind mount it is
    reached by (a new file renamed over it was root's when root wrote it, and a rename over a single-file bind
    mount fails with EBUSY); nothing is renamed and no other file is left."""
    renamed: list[object] = []
    monkeypatch.setattr(os, "replace", lambda *given: renamed.append(given))
    monkeypatch.setattr(os, "rename", lambda *given: renamed.append(given))
    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    inode = config.stat().st_ino
    connect(str(config))
    assert (config.stat().st_ino, renamed, os.listdir(tmp_path)) == (inode, [], ["config"])
    assert provider_config(config)["refresh-token"] == "rotated"


def test_the_write_back_keeps_the_file_s_permission_bits_and_its_symbolic_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "config"
    target.write_text(kubeconfig_text())
    target.chmod(0o640)
    link = tmp_path / "config"
    link.symlink_to(target)
    connect(str(link))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert provider_config(target)["id-token"] == FRESH
    assert (target.stat().st_mode & 0o7777, sorted(os.listdir(tmp_path / "real"))) == (0o640, ["config"])


def test_a_kubeconfig_given_through_a_pipe_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    """``--kubeconfig <(...)`` gives its text once: the write-back read it a second time (a named FIFO whose writer
    is gone waits there for ever); there is no file to write to, so nothing is read or written."""
    from kubeproxy_sim.objects import stdin
    from tests.cli._fifo import fifo_giving

    config = tmp_path / "config"
    reads: list[str] = []
    read_text = stdin.read_text

    def counted(path, *args):
        reads.append(str(path))
        return read_text(path, *args)

    monkeypatch.setattr(stdin, "read_text", counted)
    with fifo_giving(config, kubeconfig_text()):
        client = connect(str(config))
    assert reads == [str(config)]
    assert client.configuration.api_key["BearerToken"] == f"Bearer {FRESH}"


def test_a_kubeconfig_gone_before_the_write_back_is_nothing_to_write_to(tmp_path: Path, monkeypatch) -> None:
    """client-go's Persist reads a missing file as an empty config, which has no such user: nothing is written
    and the client goes on (the write-back failed the connection with '[Errno 2] No such file or directory')."""
    config = tmp_path / "config"
    refresh = installed
    assert refresh is not None

    def removed_meanwhile(self, provider) -> None:
        refresh(self, provider)
        config.unlink()

    refreshing_with(monkeypatch, removed_meanwhile)
    config.write_text(kubeconfig_text())
    assert connect(str(config)).configuration.api_key["BearerToken"] == f"Bearer {FRESH}"
    assert os.listdir(tmp_path) == []


def refusing(monkeypatch, path: Path, flags: int, error: int, call: str = "open") -> None:
    """``os.<call>`` fails with ``error`` for ``path`` (opened with any of ``flags``), as a read-only mount or a full
    disk makes it fail."""
    import errno

    real_open, real = os.open, getattr(os, call)
    refused: set[int] = set()

    def opening(name: Any, given: int, *args: Any) -> int:
        if str(name) == str(path) and given & flags:
            if call == "open":
                raise OSError(error, os.strerror(error))
            handle = real_open(name, given, *args)
            refused.add(handle)
            return handle
        return real_open(name, given, *args)

    def failing(handle: int, *args: Any) -> Any:
        if handle in refused:
            raise OSError(error, os.strerror(error))
        return real(handle, *args)

    assert error in (errno.EROFS, errno.ENOSPC)
    monkeypatch.setattr(os, "open", opening)
    if call != "open":
        monkeypatch.setattr(os, call, failing)


def refused_write_back(config: Path, reason: str) -> str:
    return f"{config}: users[0].user.auth-provider: could not persist new tokens: {reason}"


def first_request_refusal(config: Path) -> str:
    """Why the watch's first request fails: the watch starts with the expired id-token as it is, and refreshes it
    before that request, which fails as client-go's does when the refresh or its write-back fails (not the start)."""
    from kubeproxy_sim.watch import ApiServerSource, Kind
    from kubeproxy_sim.watch.apiserver import CredentialsUnavailable

    source = ApiServerSource(str(config), kinds=[Kind.SERVICE])
    with pytest.raises(CredentialsUnavailable) as refused:
        source._check_credentials()
    return str(refused.value)


def refused_request(config: Path, reason: str) -> str:
    return f"could not persist new tokens: {reason} ({config}: users[0].user.auth-provider)"


def test_a_kubeconfig_that_cannot_be_written_fails_the_connection(tmp_path: Path, monkeypatch) -> None:
    """client-go's Persist returns ModifyConfig's error, and the oidc plugin fails kubectl's request with it; the
    connection fails alike, in Go's words for the open that failed, and our lock file is removed."""
    import errno

    from kubeproxy_sim.watch.apiserver import PersistFailed

    config = tmp_path / "config"
    refusing(monkeypatch, config, os.O_WRONLY | os.O_RDWR, errno.EROFS)
    config.write_text(kubeconfig_text())
    expected = refused_write_back(config, f"open {config}: read-only file system")
    with pytest.raises(PersistFailed) as refused:
        connect(str(config))
    assert [str(d) for d in refused.value.diagnostics] == [expected]
    assert first_request_refusal(config) == refused_request(config, f"open {config}: read-only file system")
    assert (config.read_text(), os.listdir(tmp_path)) == (kubeconfig_text(), ["config"])


def test_a_write_that_fails_midway_fails_the_connection_and_removes_the_lock(tmp_path: Path, monkeypatch) -> None:
    """A full disk: the file was opened (and emptied, as os.WriteFile empties it) and the write failed; said as
    Go says a failed write."""
    import errno

    from kubeproxy_sim.watch.apiserver import PersistFailed

    config = tmp_path / "config"
    refusing(monkeypatch, config, os.O_WRONLY, errno.ENOSPC, call="write")
    config.write_text(kubeconfig_text())
    with pytest.raises(PersistFailed) as refused:
        connect(str(config))
    assert [str(d) for d in refused.value.diagnostics] == [
        refused_write_back(config, f"write {config}: no space left on device")]
    assert os.listdir(tmp_path) == ["config"]


def test_the_write_back_holds_the_kubeconfig_s_lock_file_and_removes_it(tmp_path: Path, monkeypatch) -> None:
    """client-go's ModifyConfig makes <file>.lock (O_CREATE|O_EXCL) around its read-modify-write, so two writers
    (kubectl, the watch) do not write over each other; the lock is removed afterwards, and after an error too (the
    render-interrupted test above)."""
    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    held: list[bool] = []
    fsync = os.fsync

    def seen(handle: int) -> None:
        held.append(os.path.exists(f"{config}.lock"))
        fsync(handle)

    monkeypatch.setattr(os, "fsync", seen)
    connect(str(config))
    assert (held, os.listdir(tmp_path)) == ([True], ["config"])
    assert provider_config(config)["refresh-token"] == "rotated"


def test_a_kubeconfig_locked_by_another_writer_fails_the_connection_and_its_lock_stays(tmp_path: Path) -> None:
    """A lock file already there is another writer's (or one a stopped kubectl left): ModifyConfig's lockFile
    fails, and so does the connection; the lock, not ours, is left as it is, and the file is not touched."""

    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    (tmp_path / "config.lock").write_text("")
    assert first_request_refusal(config) == refused_request(
        config, f"open {config}.lock: file exists (another kubectl is writing the file, or one stopped before "
        "removing its lock)")
    assert (config.read_text(), sorted(os.listdir(tmp_path))) == (kubeconfig_text(), ["config", "config.lock"])


def test_a_write_back_failing_when_credentials_are_got_again_fails_the_request(tmp_path: Path, monkeypatch) -> None:
    """When the watch builds its client again while watching (for what client-go gets again at a request: an exec
    plugin run again, a token file that was blank; never for a 401 alone, which client-go's oidc plugin leaves alone
    too) from the kubeconfig as read at start, and the client refreshes an expired id-token there, a write-back
    that fails fails the request with it, as client-go's oidc plugin fails it ("could not persist new tokens"),
    and the credentials held are kept for a request under way (the watch said a warning and went on). The
    id-token is refreshed at the request, as it has expired (:meth:`ApiServerSource._oidc_problem`)."""
    from kubeproxy_sim.watch import ApiServerSource, Kind
    from kubeproxy_sim.watch.apiserver import CredentialsUnavailable

    def refresh(self, provider) -> None:  # (an id-token that has expired again by the next build)
        provider["config"].value["id-token"] = jwt(2)
        provider["config"].value["refresh-token"] = "rotated"

    refreshing_with(monkeypatch, refresh)
    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    source = ApiServerSource(str(config), kinds=[Kind.SERVICE])
    before = source._auth
    (tmp_path / "config.lock").write_text("")
    source._reload_credentials()
    assert source._auth is before
    with pytest.raises(CredentialsUnavailable) as refused:
        source._check_credentials()
    assert str(refused.value) == (  # (the oidc round tripper's words: no "getting credentials", the exec one's)
        f"could not persist new tokens: open {config}.lock: file exists (another kubectl is "
        f"writing the file, or one stopped before removing its lock) ({config}: users[0].user.auth-provider)")
    assert source._auth is before


def test_a_refreshed_token_written_back_is_what_the_next_client_starts_from(tmp_path: Path, monkeypatch) -> None:
    """The client is built again from the kubeconfig as read at start (not the file), with the tokens the last
    refresh wrote back, as client-go's oidc provider keeps them in memory: a refresh-token rotated by the identity
    provider is not spent again."""
    from kubeproxy_sim.watch import ApiServerSource, Kind

    spent: list[str] = []

    def refresh(self, provider) -> None:
        spent.append(provider["config"]["refresh-token"])
        provider["config"].value["id-token"] = jwt(2)  # (expired again by the next build)
        provider["config"].value["refresh-token"] = f"r{len(spent)}"

    refreshing_with(monkeypatch, refresh)
    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    source = ApiServerSource(str(config), kinds=[Kind.SERVICE])
    source._reload_credentials()
    source._reload_credentials()
    assert spent == ["first", "r1"]  # (the start refreshes nothing: the first request does)
    assert provider_config(config)["refresh-token"] == "r2"


def _refreshed_then(monkeypatch, meanwhile) -> None:
    """The client's refresh (the ``refreshing`` fixture's), then ``meanwhile()``: what another program does to the
    file between the client's reading it and the write-back."""
    refresh = installed
    assert refresh is not None

    def then(self, provider) -> None:
        refresh(self, provider)
        meanwhile()

    refreshing_with(monkeypatch, then)


def test_a_kubeconfig_gone_before_the_write_back_takes_no_lock(tmp_path: Path, monkeypatch) -> None:
    """client-go's Persist reads the file before ModifyConfig locks it: a file gone is an empty config, no such user,
    and no lock is taken, so another writer's lock there is no matter (it failed the connection, 'open
    config.lock: file exists', and made a lock of its own in an empty directory)."""
    config, lock = tmp_path / "config", tmp_path / "config.lock"
    config.write_text(kubeconfig_text())
    lock.write_text("")
    _refreshed_then(monkeypatch, config.unlink)
    assert connect(str(config)).configuration.api_key["BearerToken"] == f"Bearer {FRESH}"
    assert os.listdir(tmp_path) == ["config.lock"]


def test_a_user_no_longer_with_its_auth_provider_takes_no_lock(tmp_path: Path, monkeypatch) -> None:
    """Persist writes only for a user the file still gives an auth-provider; the file is left as it is."""
    config, lock = tmp_path / "config", tmp_path / "config.lock"
    config.write_text(kubeconfig_text())
    lock.write_text("")
    changed = kubeconfig_text().split("users:")[0] + "users:\n- name: u\n  user: {token: t}\n" + \
        "contexts:" + kubeconfig_text().split("contexts:")[1]
    _refreshed_then(monkeypatch, lambda: config.write_text(changed))
    connect(str(config))
    assert (config.read_text(), sorted(os.listdir(tmp_path))) == (changed, ["config", "config.lock"])


def test_a_kubeconfig_already_holding_the_refreshed_settings_is_not_written(tmp_path: Path, monkeypatch) -> None:
    """ModifyConfig writes nothing when the file already says what it would write (another kubectl refreshed the
    same way meanwhile): the file keeps its own text, not ours."""
    config = tmp_path / "config"
    config.write_text(kubeconfig_text())
    same = kubeconfig_text().replace(jwt(1), FRESH).replace("refresh-token: first", "refresh-token: rotated")
    _refreshed_then(monkeypatch, lambda: config.write_text(same))
    connect(str(config))
    assert (config.read_text(), os.listdir(tmp_path)) == (same, ["config"])
