"""watch --kubeconfig: an exec credential plugin that is not installed fails each request, as in client-go.

kubectl 1.33 (the oracle) fails its request with "getting credentials: exec: executable X not found" and the
plugin's installHint, and sends nothing to the server; kube-proxy's informers would fail each list so, and carry
on once the plugin is there. Session 19's watch refused the kubeconfig at start instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import ApiServerSource

from ._fake_apiserver import FakeApiServer
from ._kubeconfigs import given_up, with_user
from .conftest import Mirror

pytest.importorskip("kubernetes")

PLUGIN = "kpsim-test-credential-plugin"


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch) -> Path:
    """A directory on PATH, without the plugin yet."""
    where = tmp_path / "bin"
    where.mkdir()
    monkeypatch.setenv("PATH", f"{where}{os.pathsep}{os.environ.get('PATH', '')}")
    return where


def _install(bin_dir: Path) -> None:
    plugin = bin_dir / PLUGIN
    plugin.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({{'apiVersion': "
                      "'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
                      "'status': {'token': 'from-exec'}}))\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)


def _kubeconfig(fake: FakeApiServer, tmp_path: Path) -> Path:
    return with_user(fake, tmp_path / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": PLUGIN, "interactiveMode": "Never",
        "installHint": "get it\n  from the vendor"}}, **{"insecure-skip-tls-verify": True})


def test_a_follower_fails_each_request_until_the_plugin_is_installed(tls_fake, tmp_path: Path, bin_dir: Path) -> None:
    kubeconfig = _kubeconfig(tls_fake, tmp_path)
    sleeps: list[float] = []
    src = ApiServerSource(str(kubeconfig), sleep=sleeps.append).start()  # (three kinds: three threads at once)
    try:
        seen = Mirror(src)
        seen.until(lambda: len(sleeps) >= 3)
        assert tls_fake.authorization == []  # no request went out without its credentials
        _install(bin_dir)
        seen.until(lambda: {Kind.SERVICE, Kind.ENDPOINT_SLICE, Kind.NODE} <= set(seen.synced))
    finally:
        src.close(timeout=2)
    assert seen.said() == [
        f"{tls_fake.url}: warning: list failed: getting credentials: exec: executable {PLUGIN} not found "
        f"({kubeconfig}: users[0].user.exec.command, looked up in PATH); get it from the vendor; retrying from a "
        "new list with backoff, until it works"]
    assert set(tls_fake.authorization) == {"Bearer from-exec"}


def test_a_bounded_run_gives_up_at_once(tls_fake, tmp_path: Path, bin_dir: Path) -> None:
    """As kubectl's one request fails: nothing a retry within the run is likely to cure."""
    kubeconfig = _kubeconfig(tls_fake, tmp_path)
    sleeps: list[float] = []
    assert str(given_up(kubeconfig, sleep=sleeps.append)) == (
        f"{tls_fake.url}: list failed: getting credentials: exec: executable {PLUGIN} not found ({kubeconfig}: "
        "users[0].user.exec.command, looked up in PATH); get it from the vendor")
    assert (sleeps, tls_fake.authorization) == ([], [])


def _failing_until(flag: Path) -> dict[str, object]:
    """An exec plugin that fails (exit status 1, a word on stderr) until ``flag`` exists."""
    script = (f"import json, os, sys\nif not os.path.exists({str(flag)!r}):\n    sys.stderr.write('log in first')\n"
              "    sys.exit(1)\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': "
              "'ExecCredential', 'status': {'token': 'from-exec'}}))\n")
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": ["-c", script],
            "interactiveMode": "Never"}


def test_a_failing_plugin_fails_each_request_and_is_run_again_for_the_next(tls_fake, tmp_path: Path) -> None:
    """client-go runs the plugin for each request it has no credentials for, and fails the request when it fails;
    the watch stopped at start."""
    flag = tmp_path / "logged-in"
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": _failing_until(flag)},
                           **{"insecure-skip-tls-verify": True})
    sleeps: list[float] = []
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=sleeps.append).start()
    try:
        seen = Mirror(src)
        seen.until(lambda: len(sleeps) >= 2)
        assert tls_fake.authorization == []
        flag.write_text("")
        seen.until(lambda: Kind.SERVICE in seen.synced)
    finally:
        src.close(timeout=2)
    (said,) = seen.said()
    assert said == (f"{tls_fake.url}: warning: list failed: getting credentials: exec: executable {sys.executable} "
                    f"failed with exit code 1 (its stderr: log in first) ({kubeconfig}: users[0].user.exec); retrying "
                    "from a new list with backoff, until it works")
    assert set(tls_fake.authorization) == {"Bearer from-exec"}


def test_a_bounded_run_gives_up_at_once_on_a_failing_plugin(tls_fake, tmp_path: Path) -> None:
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": _failing_until(tmp_path / "never")},
                           **{"insecure-skip-tls-verify": True})
    sleeps: list[float] = []
    assert str(given_up(kubeconfig, sleep=sleeps.append)) == (
        f"{tls_fake.url}: list failed: getting credentials: exec: executable {sys.executable} failed with exit code 1 "
        f"(its stderr: log in first) ({kubeconfig}: users[0].user.exec)")
    assert (sleeps, tls_fake.authorization) == ([], [])


def _path_plugin(tls_fake: FakeApiServer, tmp_path: Path, command: str) -> Path:
    return with_user(tls_fake, tmp_path / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": command, "interactiveMode": "Never",
        "installHint": "get it from the vendor"}}, **{"insecure-skip-tls-verify": True})


@pytest.mark.parametrize(("command", "made", "error"), [
    ("./nothere.sh", None, "no such file or directory"),
    ("sub/x", None, "no such file or directory"),
    ("./noexec.sh", 0o644, "permission denied"),
])
def test_a_plugin_path_that_cannot_be_run_is_said_in_go_s_words_without_the_hint(
        tls_fake, tmp_path: Path, command: str, made: int | None, error: str) -> None:
    """Review r3 finding 3 (kubectl 1.33, the oracle, with the kubeconfig in /tmp/m3/r, run from /): a command
    with a slash is made absolute from the kubeconfig's directory (ResolvePaths) and started without a lookup, so
    its failure is Go's os error, "getting credentials: exec: fork/exec /tmp/m3/r/nothere.sh: no such file or
    directory" (or "permission denied" for a file without its x bit), with no installHint. The watch said
    "executable ./nothere.sh not found (..., taken from the kubeconfig's directory); get it from the vendor"."""
    if made is not None:
        (tmp_path / command).write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / command).chmod(made)
    kubeconfig = _path_plugin(tls_fake, tmp_path, command)
    assert str(given_up(kubeconfig, sleep=lambda _: None)) == (
        f"{tls_fake.url}: list failed: getting credentials: exec: fork/exec {tmp_path / command}: {error} "
        f"({kubeconfig}: users[0].user.exec.command)")
    assert tls_fake.authorization == []


def test_connect_says_a_plugin_path_not_there_by_its_field(tls_fake, tmp_path: Path) -> None:
    from kubeproxy_sim.watch.apiserver import connect

    kubeconfig = _path_plugin(tls_fake, tmp_path, "./nothere.sh")
    with pytest.raises(InputError) as caught:
        connect(str(kubeconfig))
    assert [str(d) for d in caught.value.diagnostics] == [
        f'{kubeconfig}: users[0].user.exec.command: "./nothere.sh": fork/exec {tmp_path}/nothere.sh: no such file '
        "or directory (a path is taken from the kubeconfig's directory); expected the credential plugin's command"]


def test_a_failing_plugin_path_is_named_as_client_go_ran_it(tls_fake, tmp_path: Path) -> None:
    """Review r3 finding 3: kubectl 1.33 said "exec: executable /tmp/m3/r/fail.sh failed with exit code 3" for
    command ./fail.sh, the path it ran; the watch said ./fail.sh."""
    plugin = tmp_path / "fail.sh"
    plugin.write_text("#!/bin/sh\necho oops >&2\nexit 3\n")
    plugin.chmod(0o755)
    kubeconfig = _path_plugin(tls_fake, tmp_path, "./fail.sh")
    assert str(given_up(kubeconfig, sleep=lambda _: None)) == (
        f"{tls_fake.url}: list failed: getting credentials: exec: executable {plugin} failed with exit code 3 "
        f"(its stderr: oops) ({kubeconfig}: users[0].user.exec)")


def test_a_failing_plugin_that_starts_working_is_run_once_for_the_request(tls_fake, tmp_path: Path) -> None:
    """Review r3 finding 6's nit: the request that found the plugin working read the credentials twice, running
    the plugin a second time (client-go runs it once for a request it has no credentials for)."""
    from kubeproxy_sim.watch.apiserver import CredentialsUnavailable

    flag = tmp_path / "logged-in"
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": _failing_until(flag)},
                           **{"insecure-skip-tls-verify": True})
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])
    try:
        with pytest.raises(CredentialsUnavailable):
            src._check_credentials()
        flag.write_text("")
        reloads: list[bool] = []
        reload = src._reload_credentials

        def counted() -> None:
            reloads.append(True)
            reload()

        src._reload_credentials = counted  # type: ignore[method-assign]
        src._check_credentials()
        src._check_credentials()
    finally:
        src.close()
    assert reloads == [True]


def test_a_missing_plugin_installed_but_failing_fails_the_request(tls_fake, tmp_path: Path, bin_dir: Path) -> None:
    """Final reader f2's finding 2: once a missing plugin was installed, the next request read the credentials
    again (running the plugin), and went out without any when the plugin failed, to a 401; client-go fails that
    request with the plugin's exit code, as it fails any request its plugin cannot give credentials for."""
    from kubeproxy_sim.watch.apiserver import CredentialsUnavailable

    kubeconfig = _kubeconfig(tls_fake, tmp_path)
    src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE])
    try:
        with pytest.raises(CredentialsUnavailable, match="not found"):
            src._check_credentials()
        plugin = bin_dir / PLUGIN
        plugin.write_text("#!/bin/sh\necho nope >&2\nexit 1\n")
        plugin.chmod(0o755)
        with pytest.raises(CredentialsUnavailable, match=r"failed with exit code 1 \(its stderr: nope\)"):
            src._check_credentials()
        with pytest.raises(CredentialsUnavailable, match="failed with exit code 1"):
            src._check_credentials()
    finally:
        src.close()


def test_a_plugin_s_stderr_of_several_lines_is_said_on_one() -> None:
    """Final reader f2's finding 3: the client's "exec: process returned 1. line one\\nline two" was not matched
    (``.`` stops at a newline), so the message kept the Python client's words and a raw newline."""
    from kubeproxy_sim.watch.apiserver import _exec_failed

    data = {"users": [{"name": "u", "user": {"exec": {"command": "/bin/false"}}}],
            "clusters": [{"name": "k", "cluster": {"server": "https://k"}}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}], "current-context": "c"}
    said = _exec_failed("/kc", data, None, "exec: process returned 1. line one\nline two\n")
    assert str(said) == ("/kc: users[0].user.exec: cannot get the kubeconfig's credentials: exec: executable "
                         "/bin/false failed with exit code 1 (its stderr: line one line two)")


@contextlib.contextmanager
def _terminal() -> Iterator[None]:
    """Standard output and input a terminal, as when the watch is run by hand (set in the test's body: pytest's
    capture sets sys.stdout again between a fixture and the test)."""
    leader, follower = pty.openpty()
    saved = sys.stdout, sys.stdin
    try:
        with os.fdopen(follower, "w") as tty, os.fdopen(follower, "r", closefd=False) as tty_in:
            sys.stdout, sys.stdin = tty, tty_in
            try:
                yield
            finally:
                sys.stdout, sys.stdin = saved
    finally:
        os.close(leader)


@contextlib.contextmanager
def _no_terminal() -> Iterator[None]:
    """Standard input no terminal, as under a supervisor or a pipe, whatever the runner's is (pytest's -s under
    script(1) leaves it the terminal)."""
    saved = sys.stdin
    sys.stdin = io.StringIO()
    try:
        yield
    finally:
        sys.stdin = saved


def test_a_never_plugin_run_from_a_terminal_gets_no_terminal(tls_fake, tmp_path: Path) -> None:
    """Final reader f2's finding 1: the Python client hands an exec plugin the terminal whenever stdout is one,
    whatever its interactiveMode, and then fails on the stderr it did not keep ("'NoneType' object has no
    attribute 'strip'"); client-go gives a Never plugin no stdin and says it is not interactive."""
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\n[ -t 0 ] && echo stdin-is-a-terminal >&2\necho \"$KUBERNETES_EXEC_INFO\" >&2\n"
                      "exit 3\n")
    script.chmod(0o755)
    kubeconfig = _path_plugin(tls_fake, tmp_path, "./fail.sh")
    with _terminal():
        assert sys.stdout.isatty()
        failed = given_up(kubeconfig, sleep=lambda _: None)
    assert str(failed) == (
        f"{tls_fake.url}: list failed: getting credentials: exec: executable {script} failed with exit code 3 "
        '(its stderr: {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "spec": '
        f'{{"interactive": false}}}}) ({kubeconfig}: users[0].user.exec)')


def test_an_if_available_plugin_run_from_a_terminal_gets_it(tls_fake, tmp_path: Path) -> None:
    """client-go's IfAvailable: the plugin gets standard input when that is a terminal, and is told it is
    interactive; its stderr is the user's (a prompt goes there), so the message has none of it."""
    seen = tmp_path / "seen"
    script = tmp_path / "fail.sh"
    script.write_text(f"#!/bin/sh\n[ -t 0 ] && echo terminal > {seen}\necho \"$KUBERNETES_EXEC_INFO\" >> {seen}\n"
                      "echo not-kept >&2\nexit 3\n")
    script.chmod(0o755)
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "./fail.sh", "interactiveMode": "IfAvailable"}},
        **{"insecure-skip-tls-verify": True})
    with _terminal():
        failed = given_up(kubeconfig, sleep=lambda _: None)
    assert str(failed) == (f"{tls_fake.url}: list failed: getting credentials: exec: executable {script} failed "
                           f"with exit code 3 ({kubeconfig}: users[0].user.exec)")
    assert seen.read_text().splitlines() == [
        "terminal", '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
        '"spec": {"interactive": true}}']


def test_a_plugin_installed_after_start_but_before_the_first_request_is_run_for_it(
        tls_fake, tmp_path: Path, bin_dir: Path) -> None:
    """The client was built without the plugin (not installed then): the first request, which finds it there, runs
    it, as client-go would, instead of going out without credentials."""
    src = ApiServerSource(str(_kubeconfig(tls_fake, tmp_path)), kinds=[Kind.SERVICE], sleep=lambda _: None)
    _install(bin_dir)
    src.start()
    try:
        seen = Mirror(src)
        seen.until(lambda: Kind.SERVICE in seen.synced)
    finally:
        src.close(timeout=2)
    assert seen.said() == []
    assert set(tls_fake.authorization) == {"Bearer from-exec"}


def _always_plugin(tls_fake: FakeApiServer, tmp_path: Path, seen: Path) -> Path:
    """An interactiveMode Always plugin that notes in ``seen`` each run (and whether its stdin is a terminal) and
    hands out a token."""
    script = tmp_path / "always.sh"
    script.write_text(f"#!/bin/sh\nif [ -t 0 ]; then echo terminal >> {seen}; else echo no-terminal >> {seen}; fi\n"
                      "echo '{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
                      "\"status\": {\"token\": \"from-exec\"}}'\n")
    script.chmod(0o755)
    return with_user(tls_fake, tmp_path / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "./always.sh", "interactiveMode": "Always"}},
        **{"insecure-skip-tls-verify": True})


def test_an_always_plugin_without_a_terminal_is_refused_and_not_run(tls_fake, tmp_path: Path) -> None:
    """client-go's isInteractive refuses an Always plugin when standard input is no terminal, before running it
    (kubectl 1.33, the oracle, with </dev/null: "getting credentials: exec plugin cannot support interactive mode:
    standard input is not a terminal", the plugin never run, no request sent); the watch ran it without one."""
    seen = tmp_path / "seen"
    kubeconfig = _always_plugin(tls_fake, tmp_path, seen)
    with _no_terminal():
        failed = given_up(kubeconfig, sleep=lambda _: None)
    assert str(failed) == (f"{tls_fake.url}: list failed: getting credentials: exec plugin cannot support "
                           f"interactive mode: standard input is not a terminal ({kubeconfig}: users[0].user.exec)")
    assert (seen.exists(), tls_fake.authorization) == (False, [])


def test_an_always_plugin_with_a_terminal_is_run_with_it(tls_fake, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    kubeconfig = _always_plugin(tls_fake, tmp_path, seen)
    with _terminal():
        src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None).start()
        try:
            Mirror(src).until(lambda: set(tls_fake.authorization) == {"Bearer from-exec"})
        finally:
            src.close(timeout=2)
    assert set(seen.read_text().splitlines()) == {"terminal"}


def test_an_always_plugin_not_installed_is_refused_for_want_of_a_terminal_first(tls_fake, tmp_path: Path) -> None:
    """client-go asks isInteractive before it runs the command: kubectl 1.33 said the terminal refusal of an Always
    plugin not installed, where the watch said the missing file."""
    kubeconfig = with_user(tls_fake, tmp_path / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "./nothere.sh", "interactiveMode": "Always"}},
        **{"insecure-skip-tls-verify": True})
    with _no_terminal():
        failed = given_up(kubeconfig, sleep=lambda _: None)
    assert str(failed) == (
        f"{tls_fake.url}: list failed: getting credentials: exec plugin cannot support interactive mode: standard "
        f"input is not a terminal ({kubeconfig}: users[0].user.exec)")
