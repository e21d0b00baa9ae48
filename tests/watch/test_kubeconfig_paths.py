"""watch --kubeconfig: the paths of a kubeconfig as client-go's clientcmd resolves them (ResolveLocalPaths): a
relative one from the kubeconfig's directory, cleaned by filepath.Join; an absolute one as written."""

from __future__ import annotations

from pathlib import Path

from kubeproxy_sim.watch.apiserver import _exec_not_found


def test_an_absolute_exec_command_is_run_as_written(tmp_path: Path) -> None:
    """kubectl 1.33 said "fork/exec /usr/bin/../nothere: no such file or directory"; before, /usr/nothere."""
    found = _exec_not_found(str(tmp_path / "kc"), {"exec": {"command": "/usr/bin/../nothere"}})
    assert found is not None
    assert found.error == "fork/exec /usr/bin/../nothere: no such file or directory"


def test_a_relative_exec_command_is_taken_from_the_kubeconfig_s_directory_and_cleaned(tmp_path: Path) -> None:
    found = _exec_not_found(str(tmp_path / "kc"), {"exec": {"command": "./bin/../nothere.sh"}})
    assert found is not None and found.error == f"fork/exec {tmp_path}/nothere.sh: no such file or directory"
