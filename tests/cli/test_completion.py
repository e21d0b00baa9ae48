"""``kubeproxy-sim completion``: the scripts are generated from the parser and complete what --help lists."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproxy_sim.cli import completion_cmd
from kubeproxy_sim.cli.completion_cmd import command_spec, first_sentence, scenario_names
from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.cli.scenario_cmd import builtin_scripts

needs_zsh = pytest.mark.skipif(shutil.which("zsh") is None and os.environ.get("CI") != "true",
                               reason="zsh is not installed (CI=true runs it anyway: the provisioner installs it)")


@pytest.fixture(scope="module")
def bash_script() -> str:
    return completion_cmd.script("bash", build_parser())


@pytest.fixture(scope="module")
def zsh_script() -> str:
    return completion_cmd.script("zsh", build_parser())


def complete_bash(script: str, words: list[str], cwd: Path | None = None) -> list[str]:
    """Run the completion function the way bash does on TAB after ``words`` (the last is being typed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (f"{script}\nCOMP_WORDS=(kubeproxy-sim {quoted}); COMP_CWORD={len(words)}\n"
               "_kubeproxy_sim\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                         check=True, cwd=cwd).stdout
    return [line for line in out.splitlines() if line]


# --------------------------------------------------------------------------- the parser as data


def test_spec_covers_every_command_and_flag() -> None:
    parser = build_parser()
    spec = command_spec(parser)
    names = {" ".join(c.path) for c in spec.walk()}
    assert {"", "rules", "trace", "demo", "graph", "completion"} <= names
    trace = next(c for c in spec.walk() if c.path == ("trace",))
    flags = {f for o in trace.options for f in o.flags}
    assert {"--src", "--dst", "--dport", "--graph", "-o", "--output", "--color", "--scenario", "--rules"} <= flags
    by_flag = {f: o for o in trace.options for f in o.flags}
    assert by_flag["--rules"].files and by_flag["--graph"].files and by_flag["--config"].files
    assert by_flag["-f"].files and by_flag["-f"].repeatable
    assert by_flag["--proto"].choices == ("tcp", "udp", "sctp", "icmp", "icmpv6")
    assert by_flag["--scenario"].choices == scenario_names() and "bootcamp" in by_flag["--scenario"].choices
    assert by_flag["--masquerade-all"].optional_value and by_flag["--masquerade-all"].choices == ("true", "false")
    assert not by_flag["--src"].files and not by_flag["--src"].choices


def test_scenario_names_are_the_folders_with_a_scenario(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "scenario.yaml").write_text("args: []\n")
    (tmp_path / "notes").mkdir()
    assert scenario_names(tmp_path) == ("one",)
    assert scenario_names(tmp_path / "missing") == ()


def test_first_sentence_keeps_parentheses_whole() -> None:
    assert first_sentence("an address (repeatable; the first is primary). More.") == \
        "an address (repeatable; the first is primary)"
    assert first_sentence("one thing; another") == "one thing"


def test_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# bash completion for kubeproxy-sim") and "complete -F _kubeproxy_sim kubeproxy-sim" in out
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("#compdef kubeproxy-sim\n")


def test_nested_subcommands_are_walked() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers()
    outer = sub.add_parser("net", help="networks")
    inner = outer.add_subparsers()
    up = inner.add_parser("up", help="bring up")
    up.add_argument("--rules", metavar="DUMP")
    spec = command_spec(parser, scenarios=())
    assert [c.path for c in spec.walk()] == [(), ("net",), ("net", "up")]
    script = completion_cmd.bash_script(spec, "tool")
    assert '"net") echo "up" ;;' in script and '"net up|--rules") echo "@file" ;;' in script


# --------------------------------------------------------------------------- bash, for real


def test_bash_script_is_valid(bash_script: str) -> None:
    subprocess.run(["bash", "-n"], input=bash_script, text=True, check=True)


def test_bash_completes_commands_flags_and_values(bash_script: str) -> None:
    commands = complete_bash(bash_script, [""])
    assert {"rules", "trace", "demo", "graph", "completion"} <= set(commands)
    assert complete_bash(bash_script, ["tr"]) == ["trace"]
    assert complete_bash(bash_script, ["--"]) == ["--help", "--version", "--color"]
    assert complete_bash(bash_script, ["rules", "--fu"]) == ["--full"]
    assert complete_bash(bash_script, ["trace", "--proto", ""]) == ["tcp", "udp", "sctp", "icmp", "icmpv6"]
    assert complete_bash(bash_script, ["rules", "-o", ""]) == ["text", "json", "yaml"]
    assert complete_bash(bash_script, ["rules", "--scenario", "bootc"]) == ["bootcamp"]
    assert complete_bash(bash_script, ["completion", ""]) == ["bash", "zsh"]
    assert complete_bash(bash_script, ["trace", "--src", ""]) == []  # an address: nothing to offer


def test_bash_skips_option_values_when_finding_the_command(bash_script: str) -> None:
    """A value that happens to be a command name is not taken for the command."""
    assert "--dport" in complete_bash(bash_script, ["trace", "--hostname-override", "rules", "--dp"])
    assert complete_bash(bash_script, ["rules", "--masquerade-all", "--fu"]) == ["--full"]  # optional value
    # bash splits "--proto=" at the "=" (COMP_WORDBREAKS)
    assert complete_bash(bash_script, ["trace", "--proto", "=", ""]) == ["tcp", "udp", "sctp", "icmp", "icmpv6"]


def test_bash_completes_files_for_path_flags(bash_script: str, tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text("")
    (tmp_path / "node.rules").write_text("")
    (tmp_path / "manifests").mkdir()
    assert sorted(complete_bash(bash_script, ["rules", "-f", ""], tmp_path)) == ["cluster.yaml", "manifests",
                                                                                  "node.rules"]
    assert complete_bash(bash_script, ["trace", "--rules", "node"], tmp_path) == ["node.rules"]
    assert complete_bash(bash_script, ["trace", "--graph", "clu"], tmp_path) == ["cluster.yaml"]
    assert complete_bash(bash_script, ["graph", "-o", "no"], tmp_path) == ["node.rules"]  # graph's -o is a file


# --------------------------------------------------------------------------- zsh


@needs_zsh
def test_zsh_script_is_valid_and_loads(zsh_script: str, tmp_path: Path) -> None:
    path = tmp_path / "_kubeproxy-sim"
    path.write_text(zsh_script)
    subprocess.run(["zsh", "-n", str(path)], check=True)
    program = (f"autoload -U compinit && compinit -u -D && source {path} && "
               "whence -w _kubeproxy_sim _kubeproxy_sim_trace _kubeproxy_sim_completion && "
               "print -r -- ${_comps[kubeproxy-sim]}")
    out = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert "_kubeproxy_sim: function" in out and out.strip().endswith("_kubeproxy_sim")


# A zsh in a pseudo-terminal: each line is typed, TAB pressed, and every candidate compadd accepts after
# matching is printed with a "@@" prefix, and "==done" when the completion has finished; then the line is erased.
ZSH_HARNESS = r"""zmodload zsh/zpty
zpty kps zsh -f -i
zpty -w kps 'PS1= PROMPT= RPROMPT=; unsetopt zle_bracketed_paste 2>/dev/null'
zpty -w kps 'autoload -U compinit && compinit -u -D'
zpty -w kps "source ${(q)1}"
zpty -w kps 'zstyle ":completion:*" list-grouped false'
zpty -w kps "source ${(q)2}"
zpty -w kps "print -r -- \$'\\x3d\\x3d'ready"
zpty -r kps out '*==ready*'
shift 2
integer n=0
for line in "$@"; do
  (( n++ ))
  zpty -w -n kps "$line"$'\t'
  zpty -r kps out '*==done*'
  print -r -- "==line$n"
  print -r -- "$out"
  zpty -w -n kps $'\x15'
done
zpty -d kps
"""


# Every candidate compadd keeps after matching, printed (calls that only filter, -O/-A/-D, are left alone).
CAPTURE = r"""compadd() {
    local -a hits
    if [[ " $* " != *" -O "* && " $* " != *" -A "* && " $* " != *" -D "* ]]; then
        builtin compadd -O hits "$@"
        (( $#hits )) && print -rl -- $'\x40\x40'${^hits}
    fi
    builtin compadd "$@"
}
# TAB completes, then says it is done (comppostfuncs is emptied after every completion, so set it each time)
_kps_done() { print -r -- $'\x3d\x3ddone' }
_kps_complete() { comppostfuncs=(_kps_done); zle complete-word }
zle -N _kps_complete
bindkey "^I" _kps_complete
"""


def complete_zsh(script: Path, lines: list[str], cwd: Path) -> list[set[str]]:
    hook = cwd / "capture.zsh"
    hook.write_text(CAPTURE)
    out = subprocess.run(["zsh", "-f", "-c", ZSH_HARNESS, "harness", str(script), str(hook), *lines],
                         capture_output=True,
                         text=True, cwd=cwd, timeout=60).stdout.replace("\r", "")
    found: list[set[str]] = []
    for chunk in out.split("==line")[1:]:
        found.append({m for m in re.findall(r"@@([^@\x00-\x1f]*)", chunk)})
    return found


@needs_zsh
def test_zsh_completes_commands_and_choices(zsh_script: str, tmp_path: Path) -> None:
    path = tmp_path / "_kubeproxy-sim"
    path.write_text(zsh_script)
    (tmp_path / "node.rules").write_text("")
    lines = ["kubeproxy-sim tr", "kubeproxy-sim trace --proto ", "kubeproxy-sim rules --scenario boot",
             "kubeproxy-sim rules --masquerade-all --fu", "kubeproxy-sim rules --node-ip 1.2.3.4 --cl",
             "kubeproxy-sim completion ", "kubeproxy-sim trace --rules no", "kubeproxy-sim rules -o "]
    assert complete_zsh(path, lines, tmp_path) == [
        {"trace"}, {"tcp", "udp", "sctp", "icmp", "icmpv6"}, {"bootcamp"}, {"--full"}, {"--cluster-cidr"},
        {"bash", "zsh"}, {"node.rules"}, {"text", "json", "yaml"}]


def test_bash_completes_positional_files_names_with_spaces_and_every_scenario_flag(
        bash_script: str, tmp_path: Path) -> None:
    (tmp_path / "my cluster.yaml").write_text("")
    (tmp_path / "state1.yaml").write_text("")
    assert complete_bash(bash_script, ["rules", "-f", "my"], tmp_path) == ["my cluster.yaml"]  # one candidate
    assert complete_bash(bash_script, ["replay", "sta"], tmp_path) == ["state1.yaml"]  # replay STATE...
    assert complete_bash(bash_script, ["scenario", "st"], tmp_path) == ["state1.yaml"]  # scenario FILE
    assert complete_bash(bash_script, ["diff", "--against-scenario", "bootc"]) == ["bootcamp"]
    assert complete_bash(bash_script, ["rules", "--masquerade-all", ""]) == ["true", "false"]


@needs_zsh
def test_zsh_completes_values_after_an_equals_sign_and_every_scenario_flag(zsh_script: str, tmp_path: Path) -> None:
    path = tmp_path / "_kubeproxy-sim"
    path.write_text(zsh_script)
    (tmp_path / "state1.yaml").write_text("")
    lines = ["kubeproxy-sim rules --scenario=boot", "kubeproxy-sim diff --against-scenario boot",
             "kubeproxy-sim replay sta"]
    assert complete_zsh(path, lines, tmp_path) == [{"bootcamp"}, {"bootcamp"}, {"state1.yaml"}]


def test_scenario_s_script_completes_to_built_in_names_and_files(bash_script: str, tmp_path: Path) -> None:
    """QA-cli 10: ``scenario FILE|NAME`` takes a built-in scenario's name; only files were offered."""
    scenario = next(c for c in command_spec(build_parser()).walk() if c.path == ("scenario",))
    (script,) = scenario.positionals
    # only the built-in scenarios with a kubectl script: `scenario upstream-load-balancer` is refused (no script)
    assert script.files and script.choices == tuple(builtin_scripts()) == ("bootcamp",)
    (tmp_path / "bootcamp.svg").write_text("")
    assert sorted(complete_bash(bash_script, ["scenario", "boot"], tmp_path)) == ["bootcamp", "bootcamp.svg"]
    assert "upstream-load-balancer" not in complete_bash(bash_script, ["scenario", ""], tmp_path)
    assert "upstream-load-balancer" in complete_bash(bash_script, ["rules", "--scenario", ""], tmp_path)
    replay = next(c for c in command_spec(build_parser()).walk() if c.path == ("replay",))
    assert all(not p.choices for p in replay.positionals)  # STATE: files only
    (tmp_path / "state1.yaml").write_text("")
    assert complete_bash(bash_script, ["replay", "--masquerade-all", "=", "true", "sta"], tmp_path) == ["state1.yaml"]


def test_after_a_boolean_flag_its_values_and_what_follows_the_bare_flag(bash_script: str, tmp_path: Path) -> None:
    """``--masquerade-all`` takes an optional true|false: the next word may be its value or what would follow
    the bare flag (a file, a built-in scenario, another flag), and both are offered; after "=", its values only."""
    (tmp_path / "state1.yaml").write_text("")
    assert complete_bash(bash_script, ["replay", "--masquerade-all", ""], tmp_path) == ["true", "false", "state1.yaml"]
    assert complete_bash(bash_script, ["replay", "--masquerade-all", "st"], tmp_path) == ["state1.yaml"]
    assert complete_bash(bash_script, ["replay", "--masquerade-all", "t"], tmp_path) == ["true"]
    assert complete_bash(bash_script, ["replay", "--masquerade-all", "=", ""], tmp_path) == ["true", "false"]
    assert complete_bash(bash_script, ["scenario", "--nfacct", "boot"], tmp_path) == ["bootcamp"]
    assert complete_bash(bash_script, ["rules", "--masquerade-all", ""]) == ["true", "false"]  # no positional
    assert complete_bash(bash_script, ["rules", "--masquerade-all", "--fu"]) == ["--full"]


@needs_zsh
def test_zsh_after_a_boolean_flag_its_values_and_what_follows_the_bare_flag(zsh_script: str, tmp_path: Path) -> None:
    path = tmp_path / "_kubeproxy-sim"
    path.write_text(zsh_script)
    (tmp_path / "state1.yaml").write_text("")
    lines = ["kubeproxy-sim replay --masquerade-all st", "kubeproxy-sim replay --masquerade-all=",
             "kubeproxy-sim scenario --nfacct boot", "kubeproxy-sim rules --masquerade-all "]
    assert complete_zsh(path, lines, tmp_path) == [{"state1.yaml"}, {"true", "false"}, {"bootcamp"},
                                                    {"true", "false"}]
    (everything,) = complete_zsh(path, ["kubeproxy-sim replay --masquerade-all "], tmp_path)
    assert {"true", "false", "state1.yaml"} <= everything


def test_a_word_after_a_boolean_flag_is_its_value_only_when_it_is_a_boolean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What completion offers after ``--masquerade-all`` the parser takes: a boolean is the flag's value, any
    other word follows the bare flag (argparse took it for the value and refused it); a stray word says so."""
    from kubeproxy_sim.cli.options import bare_bool_flags

    flags = {"--masquerade-all", "--nfacct"}
    assert bare_bool_flags(["replay", "--masquerade-all", "s.yaml"], flags) == ["replay", "--masquerade-all=true",
                                                                                 "s.yaml"]
    assert bare_bool_flags(["rules", "--masquerade-all", "F", "--nfacct"], flags) == ["rules", "--masquerade-all",
                                                                                      "F", "--nfacct"]
    assert bare_bool_flags(["replay", "--", "--nfacct", "x"], flags) == ["replay", "--", "--nfacct", "x"]
    rules = ["rules", "--scenario", "bootcamp", "--full"]
    assert main([*rules, "--masquerade-all", "false"]) == 0
    plain = capsys.readouterr().out
    assert main([*rules, "--masquerade-all"]) == 0
    masquerade_all = capsys.readouterr().out
    assert masquerade_all != plain
    state = Path(__file__).parent / "replay_states" / "step1.yaml"
    assert main(["replay", "--masquerade-all", str(state)]) == 0  # the file follows the bare flag
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*rules, "--masquerade-all", "yes"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[0].endswith(
        "error: unrecognized arguments: yes (--masquerade-all takes true or false)")


@needs_zsh
def test_zsh_completes_scenario_names_and_files(zsh_script: str, tmp_path: Path) -> None:
    path = tmp_path / "_kubeproxy-sim"
    path.write_text(zsh_script)
    (tmp_path / "bootcamp.svg").write_text("")
    assert complete_zsh(path, ["kubeproxy-sim scenario boot"], tmp_path) == [{"bootcamp", "bootcamp.svg"}]


def test_the_install_examples_work_in_a_fresh_home(tmp_path: Path) -> None:
    """The help's bash install line, run as shown in a home that has no completions directory yet, writes the
    script there (it ran into 'No such file or directory' before it made the directory)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "kubeproxy-sim"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m kubeproxy_sim "$@"\n')
    shim.chmod(0o755)
    lines = completion_cmd.EXAMPLES.replace("&&\n", "&& ").splitlines()
    install = next(line.strip() for line in lines if "bash-completion" in line)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", install], env=env, check=True, capture_output=True, timeout=60)
    written = home / ".local/share/bash-completion/completions/kubeproxy-sim"
    assert written.read_text(encoding="utf-8") == completion_cmd.script("bash", build_parser())
