"""Reviewer u1: dual-stack objects gave one family's rules in silence; graph names the other's flag."""

from __future__ import annotations

import pytest

import kubeproxy_sim.cli.main as cli_main

NOTE = ("kubeproxy-sim: --ip-family: note: the objects also give IPv6 rules: --ip-family ipv6 (kube-proxy runs a "
        "proxier per family; these are the node's IPv4 one's)")


def _graph(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert cli_main.main(["graph", *argv]) == 0
    return capsys.readouterr().err.splitlines()


def test_graph_of_dual_stack_objects_names_the_other_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert NOTE in _graph(["--scenario", "dual-stack"], capsys)


def test_no_note_with_the_flag_given_or_one_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert [line for line in _graph(["--scenario", "dual-stack", "--ip-family", "ipv4"], capsys)
            if "--ip-family" in line] == []
    err = _graph(["--scenario", "dual-stack", "--ip-family", "ipv6"], capsys)
    assert not any("also give" in line for line in err)
    assert not any("also give" in line for line in _graph(["--scenario", "bootcamp"], capsys))
