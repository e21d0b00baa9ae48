"""netns's cluster names where ``sudo`` records them. netns needs root, and sudo's env_reset runs it without the
caller's $XDG_RUNTIME_DIR (and $KPSIM_STATE_DIR), so ``sudo kubeproxy-sim netns up --name lab`` records lab in
/run/kubeproxy-sim while the completing shell's own $XDG_RUNTIME_DIR names another directory: listing that one
alone offered none of the running clusters. Unless $KPSIM_STATE_DIR names the directory, both are listed. And
netns exec NAME TARGET: TARGET completes to the forms --from takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli import completion_cmd
from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.kernel.state import state_dir
from tests.cli.test_completion import complete_zsh
from tests.cli.test_completion_sources_m2 import complete_bash, needs_zsh


def test_the_default_directory_is_kernel_state_s() -> None:
    assert str(state_dir({})) == completion_cmd.DEFAULT_STATE_DIR


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """The user's $XDG_RUNTIME_DIR (one cluster of its own) and a stand-in for /run/kubeproxy-sim (sudo's): a
    cluster there, and one of the same name as the user's."""
    xdg, run = tmp_path / "xdg", tmp_path / "run"
    (xdg / "kubeproxy-sim").mkdir(parents=True)
    run.mkdir()
    for path in (xdg / "kubeproxy-sim" / "mine.json", run / "mine.json", run / "rootlab.json"):
        path.write_text("{}")
    return xdg, run


def script(shell: str, run: Path) -> str:
    return completion_cmd.script(shell, build_parser()).replace(completion_cmd.DEFAULT_STATE_DIR, str(run))


def test_bash_offers_sudo_s_clusters_besides_the_user_s(dirs: tuple[Path, Path]) -> None:
    xdg, run = dirs
    offered = complete_bash(script("bash", run), ["netns", "send", ""], {"XDG_RUNTIME_DIR": str(xdg)})[0]
    assert sorted(set(offered)) == ["mine", "rootlab"]
    # no variable at all (root's own shell, or sudo's): the default directory alone
    assert complete_bash(script("bash", run), ["netns", "down", "r"])[0] == ["rootlab"]


def test_kpsim_state_dir_names_the_one_directory(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    xdg, run = dirs
    env = {"XDG_RUNTIME_DIR": str(xdg), "KPSIM_STATE_DIR": str(xdg / "kubeproxy-sim")}
    assert complete_bash(script("bash", run), ["netns", "exec", ""], env)[0] == ["mine"]


@needs_zsh
def test_zsh_offers_sudo_s_clusters_besides_the_user_s(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    xdg, run = dirs
    path = tmp_path / "_kubeproxy-sim"  # (sourced by the harness's shell: the variables are set there)
    path.write_text(f"export XDG_RUNTIME_DIR={xdg}\nunset KPSIM_STATE_DIR\n" + script("zsh", run))
    assert complete_zsh(path, ["kubeproxy-sim netns send "], tmp_path) == [{"mine", "rootlab"}]
    path.write_text(f"export XDG_RUNTIME_DIR={xdg}\nexport KPSIM_STATE_DIR={xdg / 'kubeproxy-sim'}\n"
                    + script("zsh", run))
    assert complete_zsh(path, ["kubeproxy-sim netns down "], tmp_path) == [{"mine"}]


def test_netns_exec_s_target_offers_the_forms_at_its_own_position_alone(dirs: tuple[Path, Path]) -> None:
    """netns exec NAME TARGET: TARGET takes what --from takes; NAME stays the clusters, the command after none."""
    xdg, run = dirs
    bash, env = script("bash", run), {"XDG_RUNTIME_DIR": str(xdg)}
    assert complete_bash(bash, ["netns", "exec", "mine", ""], env)[0] == list(completion_cmd.SOURCE_FORMS)
    assert complete_bash(bash, ["netns", "exec", "mine", "po"], env) == (["pod/"], "-o nospace")
    assert not set(completion_cmd.SOURCE_FORMS) & set(complete_bash(bash, ["netns", "exec", ""], env)[0])
    assert complete_bash(bash, ["netns", "exec", "mine", "node/node1", ""], env)[0] == []
    assert complete_bash(bash, ["netns", "send", "mine", ""], env)[0] == []  # send's destination is --to's


@needs_zsh
def test_zsh_offers_the_forms_for_netns_exec_s_target(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    xdg, run = dirs
    path = tmp_path / "_kubeproxy-sim"
    path.write_text(f"export XDG_RUNTIME_DIR={xdg}\nunset KPSIM_STATE_DIR\n" + script("zsh", run))
    assert complete_zsh(path, ["kubeproxy-sim netns exec mine "], tmp_path) == [set(completion_cmd.SOURCE_FORMS)]
