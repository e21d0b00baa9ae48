"""send's note on which family's proxier is simulated (cli.options._switched_note) is said only when it informs:
an address of the other family given and no --ip-family (u1 reported it under an explicit --ip-family ipv6 with no
address given; not reproduced at this commit, kept as a regression test)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main

SEND = ["send", "--scenario", "dual-stack", "--count", "3"]
NOTE = "the addresses given are IPv6"


@pytest.mark.parametrize("source", ["external", "node/node2", "external:2001:db8::99"])
def test_no_note_under_an_explicit_ip_family(source: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--from", source, "--to", "node/node1:30080", "--ip-family", "ipv6"]) == 0
    assert NOTE not in capsys.readouterr().err


def test_no_note_without_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    """node/NAME:PORT names no family: the primary proxier is simulated, as every command does, nothing to say."""
    assert main([*SEND, "--from", "external", "--to", "node/node1:30080"]) == 0
    assert NOTE not in capsys.readouterr().err


def test_the_note_when_an_ipv6_address_picks_the_ipv6_proxier(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--from", "external:2001:db8::99", "--to", "node/node1:30080"]) == 0
    err = capsys.readouterr().err
    assert err.count(NOTE) == 1 and "as --ip-family ipv6 does" in err
