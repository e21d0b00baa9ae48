"""A trace that jumps into a chain declared with no rules says so (u1 item 7): dump 03's KUBE-SEP chain of the
API server's endpoint lost its DNAT rule, and the packet returns from it untranslated; the tree alone shows a
jump and then nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.realworld import DUMPS

DUMP_03 = str(DUMPS / "03-bind-dns-externalip-affinity-2017.rules")
PACKET = ["--src", "10.99.0.5", "--dst", "10.24.0.1", "--dport", "443"]
SEP = "KUBE-SEP-UPD7ND2TPNSDBE6L"

# a service chain declared and jumped to, with no rules; and an empty KUBE-FORWARD, as kube-proxy often leaves it
NAT_AND_FILTER = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]
-A PREROUTING -d 10.24.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-AAAAAAAAAAAAAAAA
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
-A FORWARD -j KUBE-FORWARD
COMMIT
"""


def _notes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["trace", *argv, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)["notes"]


@pytest.mark.skipif(not Path(DUMP_03).exists(), reason="the real-world dumps are not here")
def test_the_empty_kube_sep_chain_is_named_with_its_effect(capsys: pytest.CaptureFixture[str]) -> None:
    notes = _notes(["--rules", DUMP_03, *PACKET], capsys)
    empty = [n for n in notes if SEP in n]
    assert len(empty) == 1
    assert empty[0].startswith("line 53 (nat KUBE-SVC-NPX46M4PTMTKRN6Y) jumps to " + SEP)
    assert "no rules" in empty[0] and "untranslated" in empty[0]


@pytest.mark.skipif(not Path(DUMP_03).exists(), reason="the real-world dumps are not here")
def test_the_text_says_it_under_the_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--rules", DUMP_03, *PACKET]) == 0
    head = capsys.readouterr().out.split("\n\n")[0]
    assert f"jumps to {SEP}, a chain declared with no rules" in head


def test_only_a_service_s_empty_chain_is_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "node.rules"
    dump.write_text(NAT_AND_FILTER)
    notes = _notes(["--rules", str(dump), "--node-ip", "192.168.0.2", *PACKET], capsys)
    assert [n.split(":")[0] for n in notes if "declared with no rules" in n] == [
        "line 7 (nat PREROUTING) jumps to KUBE-SVC-AAAAAAAAAAAAAAAA, a chain declared with no rules"
    ]  # not KUBE-FORWARD: kube-proxy declares chains like it empty


@pytest.mark.skipif(not Path(DUMP_03).exists(), reason="the real-world dumps are not here")
def test_a_chain_with_rules_gets_no_such_note(capsys: pytest.CaptureFixture[str]) -> None:
    notes = _notes(
        ["--rules", DUMP_03, "--src", "10.99.0.5", "--dst", "10.24.138.29", "--dport", "53", "--proto", "udp"], capsys
    )
    assert not any("declared with no rules" in n for n in notes)
