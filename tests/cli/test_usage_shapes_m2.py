"""Values of the wrong shape are usage errors (exit 2, with the help pointer), as README's exit statuses say (u1:
`netns up --name Bad_Name` and `graph -o x.txt` exited 1 without it). Neither needs root: the name is checked before
the kernel is looked at, the suffix before the rules are made."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main

NAME_RULE = ("is not a usable cluster name; expected 1-32 lowercase letters, digits and dashes, starting and ending "
             "with a letter or digit")


@pytest.mark.parametrize(("argv", "said"), [
    (["netns", "up", "--scenario", "bootcamp", "--name", "Bad_Name"], f"--name: 'Bad_Name' {NAME_RULE}"),
    (["netns", "verify", "--scenario", "bootcamp", "--name", "x_"], f"--name: 'x_' {NAME_RULE}"),
    (["netns", "down", "Bad_Name"], f"NAME: 'Bad_Name' {NAME_RULE}"),
    (["graph", "--scenario", "bootcamp", "-o", "x.txt"], "-o: cannot tell the format from 'x.txt'; expected --format "
     "svg|png|dot|mermaid or a file ending in .svg, .png, .dot, .gv, .mmd, .mermaid"),
])
def test_a_value_of_the_wrong_shape_exits_2_with_the_help_pointer(argv: list[str], said: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    command = " ".join(argv[:2]) if argv[0] == "netns" else argv[0]
    assert out == "" and err == f"kubeproxy-sim: {said}\nSee 'kubeproxy-sim {command} --help' for usage.\n"
