"""``trace`` tells the whole path: the built-in chains passed by their policy, whether the source is kept, and the
node's own pod bridge address as the node's (addrtype LOCAL), as the simulator's topology gives it."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main

ETP_LOCAL = "upstream-external-traffic-policy-local"


def _out(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_etp_local_from_outside_keeps_the_client_address(capsys: pytest.CaptureFixture[str]) -> None:
    """The scenario's flows say unmasqueraded; the text says so, and what is kept."""
    text = _out(["trace", "--scenario", ETP_LOCAL, "--src", "203.0.113.2", "--dst", "192.168.99.11", "--dport", "80"],
                capsys)
    lines = text.splitlines()
    head = lines.index("DNAT to 10.180.2.1:80: 100% (1)")
    assert lines[head + 1] == "  not masqueraded: the source stays 203.0.113.2"
    assert "  filter FORWARD (no rule decided; policy ACCEPT)" in lines


def test_pod_to_pod_keeps_its_source_and_shows_the_chains_it_fell_through(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.244.1.2", "--dport", "8080"],
                capsys)
    assert text.splitlines()[2:5] == ["ACCEPT: 100% (1)", "  not masqueraded: the source stays 10.244.0.9",
                                      "  nat PREROUTING (no rule decided; policy ACCEPT)"]
    data = json.loads(_out(["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "10.244.1.2",
                            "--dport", "8080", "-o", "json"], capsys))
    assert data["outcomes"][0]["hooks"] == [
        {"table": "nat", "chain": "PREROUTING", "verdict": "ACCEPT", "policy": True},
        {"table": "filter", "chain": "FORWARD", "verdict": "ACCEPT", "policy": True},
        {"table": "nat", "chain": "POSTROUTING", "verdict": "ACCEPT", "policy": True}]


def test_the_node_masquerading_says_nothing_of_a_kept_source(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out(["trace", "--scenario", "bootcamp", "--src", "192.168.49.2", "--dst", "10.96.142.87", "--dport",
                 "8080"], capsys)
    assert "not masqueraded" not in text and text.count(", masqueraded: 25%") == 4


def test_a_chain_passed_with_nothing_matching_has_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    """bootcamp's nat INPUT is empty: a packet for the node passes it (after filter INPUT), and says so."""
    text = _out(["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "192.168.49.2", "--dport", "22"],
                capsys)
    assert text.rstrip().splitlines()[-1] == "  nat INPUT: no rule matched; policy ACCEPT"


def test_the_nodes_pod_bridge_address_is_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    """node1's pod CIDR 10.244.0.0/24 puts its bridge (cbr0, cni0) at 10.244.0.1 (simulator.topology's
    bridge_gateways; network.node_context makes it local): a NodePort there is served (addrtype LOCAL), as on
    the node's InternalIP; node2's bridge 10.244.1.1 is another host's, forwarded untouched."""
    argv = ["trace", "--scenario", "bootcamp", "--src", "10.244.0.9", "--dport", "31526", "-o", "json"]
    own = json.loads(_out([*argv, "--dst", "10.244.0.1"], capsys))
    assert {o["verdict"] for o in own["outcomes"]} == {"DNAT"} and len(own["outcomes"]) == 4
    other = json.loads(_out([*argv, "--dst", "10.244.1.1"], capsys))
    assert [(o["verdict"], o["hooks"][1]["chain"]) for o in other["outcomes"]] == [("ACCEPT", "FORWARD")]
    to_itself = json.loads(_out([*argv[:-2], "--dst", "10.244.0.1", "--dport", "22", "-o", "json"], capsys))
    assert [h["chain"] for h in to_itself["outcomes"][0]["hooks"]] == ["PREROUTING", "INPUT", "INPUT"]


def test_a_packet_from_the_bridge_address_is_the_nodes_own(capsys: pytest.CaptureFixture[str]) -> None:
    """A socket of the node bound to its bridge address (send --from takes that address as the node's) sends from
    OUTPUT, not from elsewhere."""
    data = json.loads(_out(["trace", "--scenario", "bootcamp", "--src", "10.244.0.1", "--dst", "10.96.142.87",
                            "--dport", "8080", "-o", "json"], capsys))
    assert data["origin"] == "local" and data["outcomes"][0]["hooks"][0]["chain"] == "OUTPUT"
