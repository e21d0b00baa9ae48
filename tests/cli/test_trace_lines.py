"""A trace's path cites lines: each step's rule reads exactly as that line does (``rules --full``'s, or the
dump's own with ``--rules``), so a user can find it with grep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

PACKETS = [["--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"],
           ["--src", "198.51.100.7", "--dst", "192.168.49.2", "--dport", "31526"],
           ["--src", "192.168.49.2", "--dst", "127.0.0.1", "--dport", "31526"]]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _cited(trace: dict) -> list[tuple[int, str]]:
    return [(step["line"], step["rule"]) for o in trace["outcomes"] for step in o["path"] if step["line"]]


@pytest.mark.parametrize("packet", PACKETS)
def test_steps_read_as_the_lines_they_cite(packet: list[str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    full = _run(["rules", "--scenario", "bootcamp", "--full"], capsys).splitlines()
    cited = _cited(json.loads(_run(["trace", "--scenario", "bootcamp", *packet, "-o", "json"], capsys)))
    assert cited and all(full[line - 1] == rule for line, rule in cited)
    dump = tmp_path / "node1.rules"  # hand-edited spacing: the dump's own text is what is cited
    dump.write_text("\n".join(line.replace(" -j ", "  -j ") if line.startswith("-A") else line for line in full))
    argv = ["trace", "--rules", str(dump), "--node-ip", "192.168.49.2", *packet, "-o", "json"]
    text = dump.read_text().splitlines()
    cited = _cited(json.loads(_run(argv, capsys)))
    assert cited and all(text[line - 1] == rule and "  -j " in rule for line, rule in cited)


def test_an_empty_dump_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.rules"
    empty.write_text("")
    assert main(["trace", "--rules", str(empty), "--src", "10.0.0.3", "--dst", "10.96.0.1", "--dport", "80"]) == 0
    assert f"{empty}: warning: no tables in this file" in capsys.readouterr().err
