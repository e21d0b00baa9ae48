"""watch --kubeconfig: the paths of a kubeconfig as client-go's clientcmd resolves them (ResolveLocalPaths): a
relative one from the kubeconfig's directory, cleaned by filepath.Join; an absolute one as written."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from kubeproxy_sim.watch.apiserver import _exec_not_found, connect

from ._kubeconfigs import with_user


def test_an_absolute_exec_command_is_run_as_written(tmp_path: Path) -> None:
    """kubectl 1.33 said "fork/exec /usr/bin/../nothere: no such file or directory"; before, /usr/nothere."""
    found = _exec_not_found(str(tmp_path / "kc"), {"exec": {"command": "/usr/bin/../nothere"}})
    assert found is not None
    assert found.error == "fork/exec /usr/bin/../nothere: no such file or directory"


def test_a_relative_exec_command_is_taken_from_the_kubeconfig_s_directory_and_cleaned(tmp_path: Path) -> None:
    found = _exec_not_found(str(tmp_path / "kc"), {"exec": {"command": "./bin/../nothere.sh"}})
    assert found is not None and found.error == f"fork/exec {tmp_path}/nothere.sh: no such file or directory"


def test_the_exec_plugin_runs_in_the_caller_s_directory_and_relative_paths_are_the_kubeconfig_s(
        tls_fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reviewer r5 finding 1: kubectl 1.33's plugin printed the caller's cwd; ours ran in the kubeconfig's
    directory (the Python client's exec provider takes its base path for the plugin's cwd). The command ./plugin
    and the tokenFile are still taken from the kubeconfig's directory, as clientcmd's ResolveLocalPaths takes them."""
    kcdir, elsewhere = tmp_path / "kcdir", tmp_path / "elsewhere"
    kcdir.mkdir()
    elsewhere.mkdir()
    plugin = kcdir / "plugin"
    plugin.write_text(f"#!{sys.executable}\nimport json, os, sys\nsys.stderr.write('cwd=' + os.getcwd())\n"
                      "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
                      " 'status': {'token': os.getcwd()}}))\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    kubeconfig = with_user(tls_fake, kcdir / "kc", {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "./plugin", "interactiveMode": "Never"}},
        **{"insecure-skip-tls-verify": True})
    monkeypatch.chdir(elsewhere)
    client = connect(str(kubeconfig))
    assert client.configuration.api_key["BearerToken"] == f"Bearer {elsewhere}"


def test_a_relative_token_file_is_the_kubeconfig_s_from_any_directory(
        tls_fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kcdir, elsewhere = tmp_path / "kcdir", tmp_path / "elsewhere"
    (kcdir / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (kcdir / "token").write_text("from-file")
    kubeconfig = with_user(tls_fake, kcdir / "kc", {"tokenFile": "sub/../token"},
                           **{"insecure-skip-tls-verify": True})
    monkeypatch.chdir(elsewhere)
    client = connect(str(kubeconfig))
    assert client.configuration.api_key["BearerToken"] == "Bearer from-file"
