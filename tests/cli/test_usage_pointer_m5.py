"""A usage error ends with the pointer to the command's own help whoever found it (README's Exit status row 2):
argparse, or the command as it ran (no input given, a malformed flag value, a scenario's args); an input that
cannot be used (exit 1) gets none, its help saying nothing of a file's contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import pointer


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("argv", "command"), [
    (["rules"], "rules"),  # no input given: found by the command (it had no pointer)
    (["rules", "--no-such-flag"], "rules"),  # argparse's
    (["send", "--scenario", "bootcamp", "--from", "bogus", "--to", "10.0.0.1:80"], "send"),
    (["netns", "send", "nosuch-cluster", "--from", "external", "--to", "bogus"], "netns send"),
    (["netns", "exec", "nosuch-cluster", "bogus", "--", "true"], "netns exec"),  # its COMMAND hides the name
])
def test_a_usage_error_ends_with_the_pointer_to_the_command_s_help(
        capsys: pytest.CaptureFixture[str], argv: list[str], command: str) -> None:
    code, lines = _run(argv, capsys)
    assert code == 2 and lines[-1] == pointer(command), lines
    assert sum("for usage." in line for line in lines) == 1, lines


def test_a_scenario_s_args_of_the_wrong_shape_point_at_the_help_and_a_wrong_value_does_not(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "objects.yaml").write_text("")
    (tmp_path / "scenario.yaml").write_text("args: [--cluster-cidr, foo]\n")
    code, lines = _run(["rules", "--scenario", str(tmp_path)], capsys)
    assert code == 2 and lines[-1] == pointer("rules"), lines
    (tmp_path / "scenario.yaml").write_text("args: [--iptables-masquerade-bit, 99]\n")
    code, lines = _run(["rules", "--scenario", str(tmp_path)], capsys)
    assert code == 1 and not any("for usage." in line for line in lines), lines


def test_an_input_that_cannot_be_used_gets_no_pointer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "bad.rules"
    dump.write_text("*filter\nbogus\n")
    code, lines = _run(["graph", "--rules", str(dump)], capsys)
    assert code == 1 and lines and not any("for usage." in line for line in lines), lines
