"""Completion of what --from takes and of netns's cluster names (u1: `send --from <TAB>` offered nothing, and
`netns send <TAB>` could not list the running clusters). The cluster names are the state directory's file names,
listed by the shell at TAB time (nothing run, nothing that needs root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kubeproxy_sim.cli import completion_cmd
from kubeproxy_sim.cli.main import build_parser
from tests.cli.test_completion import complete_zsh

needs_zsh = pytest.mark.skipif(shutil.which("zsh") is None and os.environ.get("CI") != "true",
                               reason="zsh is not installed (CI=true runs it anyway: the provisioner installs it)")


@pytest.fixture(scope="module")
def bash_script() -> str:
    return completion_cmd.script("bash", build_parser())


def complete_bash(script: str, words: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """The candidates bash is given after ``words`` (the last being typed), and the compopt options then set."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (f"{script}\nOPTS=''; compopt() {{ OPTS+=\"$* \"; }}\n"  # (the script sends compopt's stderr away)
               f"COMP_WORDS=(kubeproxy-sim {quoted}); COMP_CWORD={len(words)}\n"
               "_kubeproxy_sim\nprintf '%s\\n' \"${COMPREPLY[@]}\"; printf '@compopt %s\\n' \"$OPTS\"\n")
    run = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                         check=True, env={"PATH": os.environ["PATH"], **(env or {})})
    lines = run.stdout.splitlines()
    return [line for line in lines[:-1] if line], lines[-1].removeprefix("@compopt ").strip()


@pytest.mark.parametrize("command", [["send"], ["dist"], ["netns", "send", "lab"]])
def test_from_offers_the_forms_it_takes(bash_script: str, command: list[str]) -> None:
    assert complete_bash(bash_script, [*command, "--from", ""])[0] == list(completion_cmd.SOURCE_FORMS)


def test_a_form_begun_takes_no_space_after_it(bash_script: str) -> None:
    assert complete_bash(bash_script, ["send", "--from", "po"]) == (["pod/"], "-o nospace")
    words, options = complete_bash(bash_script, ["send", "--from", "exte"])
    assert words == ["external", "external:"] and options == ""


def test_netns_verify_s_from_keeps_its_choices(bash_script: str) -> None:
    assert complete_bash(bash_script, ["netns", "verify", "--from", ""])[0] == ["pod", "node", "external"]


def test_netns_names_are_the_state_directory_s(bash_script: str, tmp_path: Path) -> None:
    for name in ("lab", "demo"):
        (tmp_path / f"{name}.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    env = {"KPSIM_STATE_DIR": str(tmp_path)}
    for command in (["netns", "send", ""], ["netns", "exec", ""], ["netns", "down", ""]):
        assert sorted(complete_bash(bash_script, command, env)[0]) == ["demo", "lab"]
    assert complete_bash(bash_script, ["netns", "send", "l"], env)[0] == ["lab"]
    # only the first positional is a cluster's name; netns up takes --name, a new one
    # (exec's second, TARGET, offers --from's forms: tests/cli/test_completion_sudo_rv2.py)
    assert complete_bash(bash_script, ["netns", "exec", "lab", ""], env)[0] == list(completion_cmd.SOURCE_FORMS)
    assert complete_bash(bash_script, ["netns", "up", ""], env)[0] == []


def test_the_state_directory_follows_xdg_runtime_dir_and_a_missing_one_offers_nothing(bash_script: str,
                                                                                      tmp_path: Path) -> None:
    (tmp_path / "kubeproxy-sim").mkdir()
    (tmp_path / "kubeproxy-sim" / "lab.json").write_text("{}")
    # (sudo's directory, /run/kubeproxy-sim, is listed too: pointed at an empty one, this machine's is not read)
    script = bash_script.replace(completion_cmd.DEFAULT_STATE_DIR, str(tmp_path / "no"))
    assert complete_bash(script, ["netns", "down", ""], {"XDG_RUNTIME_DIR": str(tmp_path)})[0] == ["lab"]
    assert complete_bash(bash_script, ["netns", "down", ""], {"KPSIM_STATE_DIR": str(tmp_path / "no")})[0] == []


@needs_zsh
def test_zsh_offers_the_forms_and_the_clusters(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "lab.json").write_text("{}")
    path = tmp_path / "_kubeproxy-sim"  # (sourced by the harness's shell: the variable is set there)
    path.write_text(f"export KPSIM_STATE_DIR={state}\n" + completion_cmd.script("zsh", build_parser()))
    lines = ["kubeproxy-sim send --from ", "kubeproxy-sim netns send ", "kubeproxy-sim netns exec lab "]
    found = complete_zsh(path, lines, tmp_path)
    assert found[:2] == [set(completion_cmd.SOURCE_FORMS), {"lab"}] and "lab" not in found[2]
