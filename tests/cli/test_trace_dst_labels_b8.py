"""``trace --dst``: a name is held to DNS's label rules (a hyphen-only label names nothing), and the crafted-packet
note on a packet to 0.0.0.0 (::) is said only when its source is known to be another host's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer
from tests.cli.test_trace_user_inputs import CENTOS, UNSPECIFIED

NAME_EXPECTED = "expected an IPv4 or IPv6 address, or a Service's NAME, NAME.NS or NAME.NS.svc.cluster.local\n"


def _notes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    code = main(["trace", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data["notes"]


@pytest.mark.parametrize(("dst", "why"), [
    ("-", "a label starts and ends with a letter or digit, and '-' does not"),
    ("--", "a label starts and ends with a letter or digit, and '--' does not"),
    ("web-.default", "a label starts and ends with a letter or digit, and 'web-' does not"),
    ("web.-default", "a label starts and ends with a letter or digit, and '-default' does not"),
    ("-.", "a label starts and ends with a letter or digit, and '-' does not"),
    ("a" * 64, "a label is at most 63 characters, and aaaaaaaaaaaaaaaa... has 64"),
    (".".join(["a" * 63] * 4), "a name is at most 253 characters, and this one has 255"),
])
@pytest.mark.parametrize("rules", [["--scenario", "bootcamp"], ["--rules", CENTOS]])
def test_a_name_breaking_the_label_rules_is_a_usage_error(dst: str, why: str, rules: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Before: '-' and 'web-.default' were looked up (exit 1, "nor a Service's name in the objects"), and with a
    dump refused as a name a dump cannot read; now no name at all, said with the rule it breaks (exit 2)."""
    assert main(["trace", *rules, "--src", "10.244.0.9", f"--dst={dst}", "--dport", "80"]) == 2
    err = without_pointer(capsys.readouterr().err, "trace")
    assert err == f"kubeproxy-sim: --dst: {dst!r} is not an IP address, nor a DNS name ({why}); {NAME_EXPECTED}"


@pytest.mark.parametrize("dst", ["kubernetes-bootcamp", "kubernetes-bootcamp.default.svc.cluster.local.",
                                 "a" * 63 + ".default", "Kubernetes-Bootcamp.Default"])
def test_a_name_within_the_rules_is_still_read(dst: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--scenario", "bootcamp", "--src", "10.244.0.9", f"--dst={dst}", "--dport", "8080"]
    code = main(["trace", *argv])
    err = capsys.readouterr().err
    assert "nor a DNS name" not in err
    assert code == (0 if "aaaa" not in dst else 1)  # (a well-formed name no Service has: the lookup's refusal)


def test_the_packets_other_faults_come_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--scenario", "bootcamp", "--src", "300.1.1.1", "--dst=-", "--dport", "80"]) == 2
    assert capsys.readouterr().err.startswith("kubeproxy-sim: --src: '300.1.1.1' is not an IP address; expected")


# --------------------------------------------------------------------------- the crafted-packet note


def test_the_nodes_bridge_address_is_no_other_host(capsys: pytest.CaptureFixture[str]) -> None:
    """10.244.0.1 is node1's pod bridge address (send --from takes it as node/node1 bound there): a socket of
    the node sends 0.0.0.0 to itself, so "a crafted packet from the host at 10.244.0.1" was wrong."""
    notes = _notes(["--scenario", "bootcamp", "--src", "10.244.0.1", "--dst", "0.0.0.0", "--dport", "31526"], capsys)
    assert not any("crafted" in n for n in notes), notes


def test_the_nodes_own_address_on_an_interface_is_no_other_host(capsys: pytest.CaptureFixture[str]) -> None:
    notes = _notes(["--scenario", "bootcamp", "--src", "192.168.49.2", "--in-iface", "eth0", "--dst", "0.0.0.0",
                    "--dport", "31526"], capsys)
    assert not any("crafted" in n for n in notes), notes


def test_another_nodes_pod_is_another_host(capsys: pytest.CaptureFixture[str]) -> None:
    notes = _notes(["--scenario", "bootcamp", "--src", "10.244.1.9", "--dst", "0.0.0.0", "--dport", "31526"], capsys)
    assert notes == [f"{UNSPECIFIED} (no packet carries it): a socket of the host at 10.244.1.9 sending to it sends "
                     "to its own host, on lo, and reaches no node (as send --to 0.0.0.0 says); only a crafted packet "
                     "arrives looking like this one, traced here as the node takes it"]


def test_an_ipv6_dump_without_the_nodes_addresses_hedges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --node-ip the source may be the node's (IPv4 has the martian note for that; IPv6 routes :: like any
    address): the note says both cases, not "crafted" alone."""
    assert main(["rules", "--scenario", "ipv6", "--full"]) == 0
    dump = tmp_path / "v6.rules"
    dump.write_text(capsys.readouterr().out)
    notes = _notes(["--rules", str(dump), "--src", "fd00::99", "--dst", "::", "--dport", "80"], capsys)
    assert notes == [":: is no host's address (no packet carries it): if fd00::99 is this node's, give --node-ip "
                     "fd00::99: a socket of the node sending to :: sends to the node itself, on lo (::1); from "
                     "another host only a crafted packet arrives looking like this one (a host's socket sends to "
                     "its own lo)"]
    known = _notes(["--rules", str(dump), "--node-ip", "fd00::1", "--src", "fd00::99", "--dst", "::", "--dport",
                    "80"], capsys)
    assert len(known) == 1 and "only a crafted packet arrives" in known[0] and "--node-ip" not in known[0]
