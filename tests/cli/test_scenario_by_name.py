"""``scenario NAME`` plays a built-in scenario's script from any directory, as ``--scenario NAME`` finds its
objects; a path is read as given, and a file of the user's own of that name wins (QA-docs 6)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS

BOOTCAMP_SCRIPT = REPO_RULESETS / "bootcamp" / "scenario"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scenario", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_built_in_name_plays_its_script_from_any_directory(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    by_name = _run(capsys, "bootcamp", "--show", "endpoints", "--seed", "3")
    by_path = _run(capsys, str(BOOTCAMP_SCRIPT), "--show", "endpoints", "--seed", "3")
    assert by_name[0] == 0 and by_name[1].startswith("# step 1: create deployment kubernetes-bootcamp")
    assert by_name[1] == by_path[1]


def test_a_file_of_that_name_wins_and_an_unknown_name_lists_the_built_in_ones(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bootcamp").write_text("create deployment web --image=nginx\n")
    code, out, _ = _run(capsys, "bootcamp", "--show", "endpoints")
    assert code == 0 and out.startswith("# step 1: create deployment web") and "kubernetes-bootcamp" not in out
    code, out, err = _run(capsys, "no-such-scenario")
    assert code == 1 and out == ""
    assert err.startswith("kubeproxy-sim: no-such-scenario: FILE|NAME: cannot read it: ")
    assert err.rstrip().endswith("expected a text file of kubectl commands or a built-in scenario's name (bootcamp)")


def test_a_directory_of_that_name_does_not_hide_the_built_in_script(capsys, tmp_path, monkeypatch) -> None:
    """Only a file of the user's own wins: a directory of the name (as in rulesets/ itself) is no script, so the
    built-in one plays, as ``--scenario NAME`` passes over such a directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bootcamp").mkdir()
    by_name = _run(capsys, "bootcamp", "--show", "endpoints", "--seed", "3")
    by_path = _run(capsys, str(BOOTCAMP_SCRIPT), "--show", "endpoints", "--seed", "3")
    assert by_name[0] == 0 and by_name[2] == "" and by_name[1] == by_path[1]
    monkeypatch.chdir(REPO_RULESETS)
    assert _run(capsys, "bootcamp", "--show", "endpoints", "--seed", "3")[:2] == by_path[:2]


def test_a_name_is_plain_as_scenario_dir_reads_it() -> None:
    from kubeproxy_sim.cli.builtin_names import plain_name

    assert plain_name("bootcamp")
    assert not any(plain_name(text) for text in ("", ".", "..", "./bootcamp", "rulesets/bootcamp", "a\\b"))


@pytest.mark.parametrize(("make", "reason"), [
    (lambda path: path.mkdir(), "Is a directory"),
    (lambda path: None, "No such file or directory"),
    (lambda path: path.write_bytes(b"kubectl \xaf\x00"), "not UTF-8 text (invalid start byte at byte 8)"),
    (lambda path: path.symlink_to("gone"), 'a symbolic link to "gone", which does not exist'),  # (review r2 #6)
    (lambda path: path.symlink_to("x"), "a loop of symbolic links (too many levels to follow)"),
])
def test_a_script_that_cannot_be_read_says_why_in_a_users_words(capsys, tmp_path, monkeypatch, make,
                                                               reason: str) -> None:
    """Not Python's text for the exception ("[Errno 21] Is a directory: 'x'", "'utf-8' codec can't decode")."""
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "x")
    code, out, err = _run(capsys, "x")
    assert (code, out) == (1, "")
    assert err == (f"kubeproxy-sim: x: FILE|NAME: cannot read it: {reason}; expected a text file of kubectl commands "
                   "or a built-in scenario's name (bootcamp)\n")



def test_standard_input_is_read_for_the_script(capsys, tmp_path, monkeypatch) -> None:
    """``scenario -`` reads the script from standard input (it said "No such file or directory" of '-'), named
    ``<stdin>`` in messages; its ``apply -f`` paths are relative to the working directory."""
    import io

    monkeypatch.chdir(tmp_path)
    (tmp_path / "nodes.yaml").write_text("apiVersion: v1\nkind: Node\nmetadata: {name: node9}\n")
    script = "create deployment web --image=nginx\napply -f nodes.yaml\nbogus\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(script.encode())))
    code, out, err = _run(capsys, "-", "--show", "endpoints")
    assert code == 1 and out.startswith("# step 1: create deployment web") and "# step 2: apply -f nodes.yaml" in out
    assert err.splitlines()[-1].startswith("kubeproxy-sim: <stdin>:3: unknown command 'bogus'")
