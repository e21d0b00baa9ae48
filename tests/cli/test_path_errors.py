"""Paths the system refuses to look at (a name longer than it takes, errno ENAMETOOLONG; the same code path as a
directory above that may not be entered) are said as input errors naming the path, the flag and the reason:
pathlib's is_dir, is_file and exists raise for these, and each showed as an internal error (QA-errors)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.main import EXIT_INVALID_INPUT, main
from kubeproxy_sim.cli.options import REPO_RULESETS
from kubeproxy_sim.objects import load, stdin
from kubeproxy_sim.objects.stdin import ENDLESS_DEVICE
from tests.cli._usage_pointer import command_of, pointer, without_pointer

LONG = "a" * 300  # past the 255 bytes a file name may have
BUILT_IN = [p for p in REPO_RULESETS.iterdir() if p.is_dir()]


def _one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    lines = [line for line in capsys.readouterr().err.splitlines() if "note:" not in line]
    assert code == EXIT_INVALID_INPUT, lines
    (line,) = lines
    return line


def test_a_scenario_name_too_long_is_no_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_error(capsys, ["rules", "--scenario", LONG])
    assert line == (f"kubeproxy-sim: --scenario: no scenario '{'a' * 200}'... (300 characters); expected a built-in "
                    f"scenario (one of the {len(BUILT_IN)} in {REPO_RULESETS}, which its README.md lists) or a "
                    "directory holding scenario.yaml and objects.yaml")


@pytest.mark.parametrize(("name", "guess"), [
    ("bootcmp", "bootcamp"),
    ("terminating", "upstream-terminating-endpoints-traffic-policy-cluster-no-usable-endpoints-on-any-node, "
     "upstream-terminating-endpoints-traffic-policy-cluster-only-terminating-endpoints-exist, "
     "upstream-terminating-endpoints-traffic-policy-cluster-ready-endpoints-exist (or 5 more with that in the name)"),
])
def test_an_unknown_scenario_is_offered_close_names_and_where_all_are_listed(capsys, name: str, guess: str) -> None:
    """QA-errors: it listed all 58 scenarios (a 3 kB line); now the close ones, and where the others are."""
    assert _one_error(capsys, ["rules", "--scenario", name]) == (
        f"kubeproxy-sim: --scenario: no scenario '{name}'; did you mean {guess}? expected a built-in scenario (one "
        f"of the {len(BUILT_IN)} in {REPO_RULESETS}, which its README.md lists) or a directory holding scenario.yaml "
        "and objects.yaml")


def test_a_scenario_path_too_long_says_why(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = f"{tmp_path}/{LONG}"
    assert _one_error(capsys, ["diff", "--scenario", "bootcamp", "--against-scenario", path]) == (
        f"kubeproxy-sim: {path}: --against-scenario: cannot read it: File name too long; expected a directory "
        "holding scenario.yaml and objects.yaml")


@pytest.mark.parametrize(("argv", "flag", "name"), [
    (["graph", "--scenario", "bootcamp", "-o"], "-o", LONG + ".svg"),
    (["dist", "--scenario", "bootcamp", "--plot"], "--plot", LONG + ".svg"),
    (["send", "--scenario", "bootcamp", "--from", "external", "--to", "kubernetes-bootcamp.default:8080", "--pcap"],
     "--pcap", LONG),
    (["trace", "--scenario", "bootcamp", "--src", "10.244.1.5", "--dst", "10.96.0.10", "--dport", "8080",
      "--graph"], "--graph", LONG + ".svg"),
])
def test_an_output_file_name_too_long_is_refused_before_the_work(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path, argv: list[str], flag: str,
                                                                  name: str) -> None:
    path = f"{tmp_path}/{name}"
    assert _one_error(capsys, [*argv, path]) == f"kubeproxy-sim: {path}: {flag}: cannot write it: file name too long"


def test_a_script_name_too_long_is_unreadable(capsys: pytest.CaptureFixture[str]) -> None:
    assert _one_error(capsys, ["scenario", LONG]) == (
        f"kubeproxy-sim: {LONG}: FILE|NAME: cannot read it: File name too long; expected a text file of kubectl "
        "commands or a built-in scenario's name (bootcamp)")


def test_a_replay_state_too_long_is_unreadable_not_missing(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    path = f"{tmp_path}/{LONG}"
    assert _one_error(capsys, ["replay", path]) == (
        f"kubeproxy-sim: {path}: STATE: cannot read it: File name too long; expected a YAML or JSON manifest file, a "
        "directory of them, or - for standard input")


def test_a_watched_directory_too_long_is_unreadable_not_missing(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    path = f"{tmp_path}/{LONG}"
    assert _one_error(capsys, ["watch", "-f", path, "--once"]) == (
        f"kubeproxy-sim: {path}: -f: cannot read it: File name too long; expected a directory of manifests to watch "
        "(put a single file in a directory of its own)")


def test_an_empty_file_name_is_a_usage_error_saying_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    """``-f "$DIR"`` with DIR unset said only "kubeproxy-sim: -f: no such file or directory"."""
    assert main(["rules", "-f", ""]) == 2
    assert without_pointer(capsys.readouterr().err, "rules") == (
        "kubeproxy-sim: -f: an empty file name; expected a YAML or JSON manifest file, "
        "a directory of them, or - for standard input\n")


@pytest.mark.parametrize(("argv", "flag"), [(["rules", "--scenario", ""], "--scenario"),
                                            (["diff", "--scenario", "bootcamp", "--against-scenario", ""],
                                             "--against-scenario")])
def test_an_empty_scenario_name_is_refused_as_an_empty_file_name_is(capsys: pytest.CaptureFixture[str],
                                                                    argv: list[str], flag: str) -> None:
    """``--scenario "$S"`` with S unset was taken for no --scenario (rules said 'no objects given; expected -f PATH or
    --scenario NAME' of the flag given; with -f, -f alone was read) (reviewer)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and capsys.readouterr().err.splitlines()[0] == (
        f"kubeproxy-sim {argv[0]}: error: argument {flag}: an empty name; expected a built-in scenario's name "
        "(rulesets/README.md lists them) or a directory holding scenario.yaml and objects.yaml")


def test_a_config_that_is_a_dangling_link_says_what_the_flag_wants(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    """The --config reason alone was said for a dangling link ('a symbolic link to ..., which does not exist'), while
    a missing file said what is expected (reviewer: unreadable paths were worded three ways)."""
    link = tmp_path / "kp.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    assert main(["rules", "--scenario", "bootcamp", "--config", str(link)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"kubeproxy-sim: {link}: --config: cannot read it: a symbolic link to \"{tmp_path}/gone.yaml\", which does "
        "not exist; expected a KubeProxyConfiguration file")


DUMP = REPO_RULESETS / "bootcamp" / "full.golden"
HOSTS = "an /etc/hosts-style file (ADDRESS NAME [ALIAS...] lines)"
TO_NODEPORT = ["--from", "external", "--to", "node/node1:31526", "--count", "1"]
PACKET = ["--src", "10.244.1.5", "--dst", "10.96.0.10", "--dport", "8080"]
READ_SITES = {  # the argv naming the file (at {path}), the flag said, what it wants there, the exit status
    "send --hosts": (["send", "--scenario", "bootcamp", "--hosts", "{path}", *TO_NODEPORT], "--hosts", HOSTS, 1),
    "--config": (["rules", "--scenario", "bootcamp", "--config", "{path}"], "--config",
                 "a KubeProxyConfiguration file", 1),
    "trace --rules": (["trace", "--rules", "{path}", *PACKET], "--rules", "an iptables-save dump", 1),
    "graph --rules": (["graph", "--rules", "{path}"], "--rules", "an iptables-save dump", 1),
    "scenario FILE": (["scenario", "{path}"], "FILE|NAME", "a text file of kubectl commands or a built-in "
                      "scenario's name (bootcamp)", 1),
    "--scenario DIR's scenario.yaml": (["rules", "--scenario", "{dir}"], "--scenario",
                                       "a YAML mapping with description and args", 2),  # (its args: usage)
    "-f": (["rules", "-f", "{path}"], "-f", "a YAML or JSON manifest file, a directory of them, or - for standard "
           "input", 1),
    "watch --kubeconfig": (["watch", "--kubeconfig", "{path}", "--once"], "--kubeconfig",
                           "a kubeconfig (what `kubectl config view --raw` prints)", 1),
}
UNREADABLE = {  # how the file is made unreadable, and the reason said
    "missing": "No such file or directory",
    "a directory": "Is a directory",
    "permission denied": "Permission denied",
    "not UTF-8": "not UTF-8 text (invalid start byte at byte 0)",
    "UTF-16": "not UTF-8 text (a UTF-16 byte order mark at byte 0)",  # (a manifest: read as UTF-16)
    "an endless device": ENDLESS_DEVICE,
}


def _unreadable(path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``path`` made unreadable as ``kind`` says. We run as root, whom file modes do not stop: permission is
    refused by the one reader's open (objects.stdin.read_text), as the system refuses it to another user."""
    if kind == "a directory":
        path.mkdir()
    elif kind == "not UTF-8":
        path.write_bytes(b"\xff\n")  # (not \xff\xfe: a manifest read as UTF-16 by that byte order mark)
    elif kind == "UTF-16":
        path.write_text("a: b\n", encoding="utf-16")  # (with its byte order mark, as Windows editors write it)
    elif kind == "an endless device":
        path.symlink_to("/dev/zero")
        monkeypatch.setattr(stdin, "DEVICE_READ_CAP", 16)  # (the cap's size is not what is tested: quick)
    elif kind == "permission denied":
        path.write_text("")

        def refusing(name: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Any:
            if os.fspath(name) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return open(name, *args, **kwargs)

        monkeypatch.setattr(stdin, "open", refusing, raising=False)
        monkeypatch.setattr(load, "open", refusing, raising=False)  # (the manifest reader's own)


NOT_REGULAR = {"an endless device": "a device, not a regular file"}
"""The reasons of a --scenario directory's file that is looked at before it is read: a regular file only (a FIFO
there would be read more than once; a device may never end)."""


@pytest.mark.parametrize(("site", "kind"), [(site, kind) for site in READ_SITES for kind in UNREADABLE
                                            if not (site == "-f" and kind in ("a directory", "UTF-16"))])
def test_every_file_a_user_names_that_cannot_be_read_is_said_in_one_wording(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: str,
        kind: str) -> None:
    """send --hosts, --config, trace's and graph's --rules, scenario's script, a scenario's scenario.yaml, -f and
    watch's --kubeconfig each worded their own ("cannot read the hosts file: ...", "cannot read rules: ...", a bare
    "not UTF-8 text", "no such file or directory; ...", "cannot read the kubeconfig: ...", the expected thing said by
    some only): now errors.cannot_read's one line, naming the file and the flag."""
    argv, flag, expected, status = READ_SITES[site]
    directory = tmp_path / "scenario"
    directory.mkdir()
    (directory / "objects.yaml").write_text((REPO_RULESETS / "bootcamp" / "objects.yaml").read_text())
    path = directory / "scenario.yaml" if "{dir}" in argv else tmp_path / "named"
    _unreadable(path, kind, monkeypatch)
    code = main([part.format(path=path, dir=directory) for part in argv])
    lines = [line for line in capsys.readouterr().err.splitlines() if "note:" not in line]
    said = f"{flag}: " if flag else ""
    why = NOT_REGULAR.get(kind, UNREADABLE[kind]) if "{dir}" in argv else UNREADABLE[kind]
    pointer_line = [pointer(command_of(argv))] if status == 2 else []
    assert (code, lines) == (
        status, [f"kubeproxy-sim: {path}: {said}cannot read it: {why}; expected {expected}", *pointer_line])


@pytest.mark.parametrize("kind", UNREADABLE)
def test_a_flows_file_that_cannot_be_read_is_said_in_the_same_wording(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      kind: str) -> None:
    """netns verify's --flows (both modes read it here), without the namespaces the command would build."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.kernel.verify import read_flow_entries

    path = tmp_path / "flows.yaml"
    _unreadable(path, kind, monkeypatch)
    with pytest.raises(InputError) as caught:
        read_flow_entries(str(path))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{path}: --flows: cannot read it: {UNREADABLE[kind]}; expected a YAML file of flows: [...]"]


@pytest.mark.parametrize("name", ["scenario.yaml", "objects.yaml"])
@pytest.mark.parametrize(("kind", "why"), [
    ("a dangling link", 'a symbolic link to "{tmp}/gone.yaml", which does not exist'),
    ("a directory", "Is a directory"),
    ("a FIFO", "a FIFO, not a regular file"),
    ("/dev/zero", "a device, not a regular file"),
])
def test_a_scenario_directory_s_file_that_is_no_regular_file_says_what_it_is(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, kind: str, why: str) -> None:
    """scenario_dir asked os.path.isfile and said "no such file" of a directory, a dangling link and a link to
    /dev/zero alike (reviewer r5); each is said by its reason now, naming the flag, before anything is read (a FIFO
    is not opened: nothing waits for a writer)."""
    directory = tmp_path / "scen"
    directory.mkdir()
    (directory / "scenario.yaml").write_text("args: []\n")
    (directory / "objects.yaml").write_text((REPO_RULESETS / "bootcamp" / "objects.yaml").read_text())
    path = directory / name
    path.unlink()
    if kind == "a dangling link":
        path.symlink_to(tmp_path / "gone.yaml")
    elif kind == "a directory":
        path.mkdir()
    elif kind == "a FIFO":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    expected = {"scenario.yaml": "a YAML mapping with description and args",
                "objects.yaml": "a YAML or JSON manifest file"}[name]
    for argv, flag in ((["rules", "--scenario", str(directory)], "--scenario"),
                       (["diff", "--scenario", "bootcamp", "--against-scenario", str(directory)],
                        "--against-scenario")):
        assert main(argv) == 2
        assert without_pointer(capsys.readouterr().err, argv[0]) == (
            f"kubeproxy-sim: {path}: {flag}: cannot read it: {why.format(tmp=tmp_path)}; expected {expected}\n")


@pytest.mark.parametrize(("argv", "flag"), [
    (["rules", "--scenario", "{dir}"], "--scenario"),  # (split_sync's reading)
    (["dist", "--scenario", "{dir}", "--to", "kubernetes-bootcamp.default:8080"], "--scenario"),  # (load_inputs')
    (["diff", "--scenario", "bootcamp", "--against-scenario", "{dir}"], "--against-scenario"),
])
def test_a_scenario_s_objects_that_cannot_be_read_are_named_by_the_scenario_s_flag(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], flag: str) -> None:
    """A scenario's objects.yaml that could not be read was blamed on -f (or --against), with "or - for standard
    input" advice (r5): the loader names every file it cannot read by one flag."""
    directory = tmp_path / "scen"
    directory.mkdir()
    (directory / "scenario.yaml").write_text("args: [--hostname-override, node1]\n")
    (directory / "objects.yaml").write_bytes(b"\xff\n")
    code = main([part.format(dir=directory) for part in argv])
    lines = [line for line in capsys.readouterr().err.splitlines() if "cannot read" in line]
    assert code == 1 and lines == [f"kubeproxy-sim: {directory}/objects.yaml: {flag}: cannot read it: not UTF-8 text "
                                   "(invalid start byte at byte 0); expected a YAML or JSON manifest file"]


def test_a_file_given_with_f_beside_a_scenario_is_still_named_by_f(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\n")
    assert main(["rules", "--scenario", "bootcamp", "-f", str(bad)]) == 1
    assert [line for line in capsys.readouterr().err.splitlines() if "cannot read" in line] == [
        f"kubeproxy-sim: {bad}: -f: cannot read it: not UTF-8 text (invalid start byte at byte 0); expected a YAML or "
        "JSON manifest file, a directory of them, or - for standard input"]


@pytest.mark.parametrize(("argv", "flag", "reason", "expected"), [
    (["send", "--scenario", "bootcamp", *TO_NODEPORT, "--hosts", "-"], "--hosts",
     "the outside hosts are read from a file", HOSTS),
    (["netns", "verify", "--scenario", "bootcamp", "--flows", "-"], "--flows", "the flows are read from a file",
     "a YAML file of flows: [...]"),
    (["watch", "--kubeconfig", "-", "--once"], "--kubeconfig", "the kubeconfig is read from a file",
     "a kubeconfig file"),
])
def test_standard_input_is_refused_by_name_where_a_file_is_read(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                                flag: str, reason: str, expected: str) -> None:
    """'-' was looked for as a file of that name ('-: --hosts: cannot read it: No such file ...') (r5); refused as
    --config's is."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and capsys.readouterr().err.splitlines()[0].endswith(
        f"error: argument {flag}: '-': {reason}, not standard input; expected {expected}")


def test_a_utf8_byte_order_mark_is_dropped_where_a_flag_s_file_is_read(tmp_path: Path) -> None:
    """It was left in the text (``unexpected line at '\\ufeff*filter'`` of a dump), where the manifests' reader
    drops it (r5); an undecodable byte after it is said at its offset in the file."""
    path = tmp_path / "f"
    path.write_bytes(b"\xef\xbb\xbf*filter\r\nCOMMIT\n")
    assert stdin.read_text(path) == "*filter\nCOMMIT\n"
    path.write_bytes(b"\xef\xbb\xbfa\xff")
    with pytest.raises(UnicodeDecodeError) as caught:
        stdin.read_text(path)
    assert (caught.value.start, caught.value.reason) == (4, "invalid start byte")


def test_a_dump_with_a_utf8_byte_order_mark_is_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.write_bytes(b"\xef\xbb\xbf" + DUMP.read_bytes())
    assert main(["graph", "--rules", str(dump), "-o", str(tmp_path / "g.svg")]) == 0, capsys.readouterr().err
