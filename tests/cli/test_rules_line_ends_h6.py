"""``--rules FILE`` and ``--rules -`` read the same bytes alike (h6): ``trace`` and ``graph`` cite a rule by the
parser's line number (lines end at "\\n" only, as iptables-restore's do) with the line's whole text, and a refusal
names the same line either way. A file was read with universal newlines (a comment's CR ended its line) and cited
by str.splitlines() (a comment's U+2028 or form feed did)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

PACKET = ["--src", "10.0.0.3", "--dst", "10.0.0.4", "--dport", "80"]


def _dump(inside: str, end: str = "\n") -> str:
    """A dump whose line 4 is a comment holding ``inside`` (jumping to X), whose line 5 drops every packet."""
    lines = ["*filter", ":FORWARD ACCEPT [0:0]", ":X - [0:0]", f'-A FORWARD -m comment --comment "a{inside}b" -j X',
             '-A X -m comment --comment "c" -j DROP', "COMMIT"]
    return "".join(line + end for line in lines)


def _run(argv: list[str], data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str], base_name: bool = False) -> list[tuple[int, str, str]]:
    """(exit code, output, errors) of ``argv`` with the dump given as a file, then on standard input; standard
    input's name replaced by the file's (``base_name``: by its base name, as graph's title names it), so the two
    compare whole."""
    dump = tmp_path / "node.rules"
    dump.write_bytes(data)
    name = dump.name if base_name else str(dump)
    runs = []
    for path in (str(dump), "-"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        code = main([argv[0], "--rules", path, *argv[1:]])
        out, err = capsys.readouterr()
        runs.append((code, out.replace("<stdin>", name), err.replace("<stdin>", name)))
    return runs


@pytest.mark.parametrize("inside", ["\r", "\u2028", "\x0c", "\x85"])
def test_trace_cites_the_parser_s_lines_from_a_file_and_from_standard_input(
        inside: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    file_run, stdin_run = _run(["trace", *PACKET, "-o", "json"], _dump(inside).encode(), tmp_path, monkeypatch,
                               capsys)
    assert file_run == stdin_run and file_run[0] == 0
    steps = [(s["line"], s["rule"]) for o in json.loads(file_run[1])["outcomes"] for s in o["path"]]
    assert steps == [(4, f'-A FORWARD -m comment --comment "a{inside}b" -j X'),
                     (5, '-A X -m comment --comment "c" -j DROP')]


def test_a_crlf_dump_traces_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """iptables-restore refuses a CRLF dump ('filter\\r' is no table); the parser drops a line-final CR, from a
    file as from standard input, and the lines are cited without it."""
    file_run, stdin_run = _run(["trace", *PACKET], _dump("", "\r\n").encode(), tmp_path, monkeypatch, capsys)
    assert file_run == stdin_run and file_run[0] == 0
    assert "line 4: -A FORWARD -m comment --comment \"ab\" -j X\n" in file_run[1]
    assert "line 5: -A X -m comment --comment \"c\" -j DROP\n" in file_run[1] and "\r" not in file_run[1]


@pytest.mark.parametrize("inside", ["\r", "\u2028"])
def test_graph_s_tooltips_quote_the_parser_s_lines(inside: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    file_run, stdin_run = _run(["graph", "--table", "filter", "--format", "dot", "-o", "-"], _dump(inside).encode(),
                               tmp_path, monkeypatch, capsys, base_name=True)
    assert file_run == stdin_run and file_run[0] == 0
    assert f'tooltip="filter line 4: -A FORWARD -m comment --comment \\"a{inside}b\\" -j X"' in file_run[1]
    assert 'tooltip="filter line 5: -A X -m comment --comment \\"c\\" -j DROP"' in file_run[1]


def test_a_refusal_after_a_comment_s_cr_names_its_own_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The file said 'node.rules:4: unexpected line at 'b" -j X'' (the CR's tail) where standard input read the
    rule; iptables-legacy-restore refuses such a dump's bad rule at its line counted by newlines."""
    data = _dump("\r").replace("-j DROP", "-j NOPE").encode()
    file_run, stdin_run = _run(["trace", *PACKET], data, tmp_path, monkeypatch, capsys)
    assert file_run == stdin_run and file_run[0] == 1
    assert f"{tmp_path / 'node.rules'}:5: " in file_run[2] and "NOPE" in file_run[2]
    assert "unexpected line" not in file_run[2]
