"""Standard input as the commands read it ("-"): a closed one is named, not an internal error (QA-cli #3)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli._usage_pointer import pointer


@pytest.mark.parametrize(("argv", "expected"), [
    (["rules", "-f", "-"], "<stdin>: standard input is closed; expected manifests piped or redirected to it"),
    (["graph", "--rules", "-"],
     "<stdin>: standard input is closed; expected an iptables-save dump piped or redirected to it"),
])
def test_a_closed_standard_input_is_said_closed(argv: list[str], expected: str) -> None:
    """``-f - <&-``: Python starts without sys.stdin; the input is named, not an internal error (exit 4)."""
    run = subprocess.run([sys.executable, "-m", "kubeproxy_sim", *argv], capture_output=True, text=True,
                         preexec_fn=lambda: os.close(0))  # (the child's own standard input)
    assert run.returncode == 1
    assert f"kubeproxy-sim: {expected}" in run.stderr.splitlines()


SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.96.0.5, ports: [{port: 80}]}\n"
NODE = "apiVersion: v1\nkind: Node\nmetadata: {name: 'n'}\n---\n"
TWICE = "a pipe can be read once; expected '-' for one input only, the others files"


@pytest.mark.parametrize(("argv", "expected"), [
    (["diff", "-f", "-", "--against", "-"],
     f"--against: '-' (standard input) given 2 times (-f and --against); {TWICE}"),
    (["rules", "-f", "-", "-f", "-"], f"-f: '-' (standard input) given 2 times (-f); {TWICE}"),
    (["scenario", "-", "-f", "-"], f"-f: '-' (standard input) given 2 times (FILE|NAME and -f); {TWICE}"),
    (["replay", "-", "-"], f"STATE: '-' (standard input) given 2 times (STATE); {TWICE}"),  # (review r5 #2)
])
def test_standard_input_given_twice_is_a_usage_error_before_anything_is_read(argv, expected, capsys, monkeypatch):
    """(review r2 #5) it was a warning, and ``diff -f - --against -`` compared the objects with nothing, exit 0."""
    import io

    from kubeproxy_sim.cli.main import main

    stdin = io.TextIOWrapper(io.BytesIO(SERVICE.encode()))
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [f"kubeproxy-sim: {expected}", pointer(argv[0])]
    assert stdin.buffer.tell() == 0  # nothing read


@pytest.mark.parametrize(("script", "stdin", "argv", "expected"), [
    ("apply -f -\n", "apply -f -\n", ["-"], "<stdin>:1: apply -f -: no objects passed to apply (kubectl's error): "
     "standard input was read already, by the script, and a pipe can be read once; expected a file"),
    ("apply -f -\napply -f -\n", SERVICE, ["s.txt"], "s.txt:2: apply -f -: no objects passed to apply (kubectl's "
     "error): standard input was read already, by the apply -f - of line 1, and a pipe can be read once; expected "
     "a file"),
    ("apply -f -\n", NODE + SERVICE, ["s.txt", "-f", "-"], "s.txt:1: apply -f -: no objects passed to apply (kubectl's "
     "error): standard input was read already, by -f, and a pipe can be read once; expected a file"),
])
def test_a_scripts_apply_of_standard_input_read_already_fails_its_step(script, stdin, argv, expected, capsys,
                                                                       monkeypatch, tmp_path):
    """(review r2 #5) a step's ``apply -f -`` of a standard input read already applied nothing, and went on."""
    import io

    from kubeproxy_sim.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.txt").write_text(script)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    assert main(["scenario", *argv, "--show", "endpoints"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"kubeproxy-sim: {expected}"


@pytest.mark.parametrize(("argv", "said"), [
    (["rules", "--help"], "kubectl apply -f (repeatable; - for standard input)"),
    (["scenario", "--help"], "to start with; - for standard input)"),
    (["diff", "--help"], "a file or directory (repeatable; - for standard input)"),
    (["replay", "--help"], "a directory of them (- for standard input)"),
])
def test_the_flags_that_take_standard_input_say_so_in_their_help(capsys, argv: list[str], said: str) -> None:
    """Their errors and the README offered '-', their help did not (r5)."""
    from kubeproxy_sim.cli.main import main

    with pytest.raises(SystemExit):
        main(argv)
    assert said in " ".join(capsys.readouterr().out.split())
