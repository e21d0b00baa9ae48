"""Session 10 M-opts: what the command line gives with a dump (``--rules``) or as a flag's value: the picture of
a packet that hits no service quotes the dump's lines, node flags a dump makes idle are named, ``--rules -``
reads standard input, and a value of the wrong shape is a usage error (2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

# counters and no `-m tcp`: the line reads otherwise than iptables-save would print the rule
NO_SERVICE = "*filter\n:FORWARD DROP [0:0]\n[3:180] -A FORWARD -p tcp --dport 80 -j ACCEPT\nCOMMIT\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_graph_of_a_packet_that_hits_no_service_quotes_the_dump_s_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "plain.rules"
    dump.write_text(NO_SERVICE)
    picture = tmp_path / "t.dot"
    code, _, err = run(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80",
                        "--graph", str(picture)], capsys)
    assert code == 0, err
    dot = picture.read_text()
    assert "it hits no service" in dot
    assert re.search(r'tooltip="filter line 3: \[3:180\] -A FORWARD -p tcp --dport 80 -j ACCEPT"', dot), dot
