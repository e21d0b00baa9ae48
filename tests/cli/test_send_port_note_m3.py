"""send says when its port is none of the Service's (u-walk 2): ``send --from external --to
kubernetes-bootcamp.default:9999`` showed NO_ROUTE and nothing about 9999, where ``trace`` notes that the address's
Service defines 8080/TCP alone."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main

BOOTCAMP = ["--scenario", "bootcamp"]
POD = "pod/default/kubernetes-bootcamp-855d5cc575-4lb7w"
WHOSE = ("10.96.142.87 is the cluster IP of default/kubernetes-bootcamp, which defines 8080/TCP; no rule matches "
         "{what}")


def _send(capsys: pytest.CaptureFixture[str], source: str, to: str, *more: str) -> dict:
    assert main(["send", *BOOTCAMP, "--from", source, "--to", to, "--count", "5", "-o", "json", *more]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("source", ["external", POD])
def test_a_port_the_service_does_not_define_is_said_on_the_failure(source: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = _send(capsys, source, "kubernetes-bootcamp.default:9999")
    (row,) = data["failed"]
    assert row["reason"] == "NO_ROUTE" and row["count"] == 5
    assert row["why"] == [WHOSE.format(what="9999/TCP") + ", so kube-proxy's rules leave the connection to "
                          "10.96.142.87:9999 untranslated"]


def test_the_protocol_counts_too(capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = _send(capsys, POD, "10.96.142.87:8080", "--proto", "udp")["failed"]
    assert row["why"][0].startswith(WHOSE.format(what="8080/UDP"))


def test_a_port_of_the_service_has_no_such_note(capsys: pytest.CaptureFixture[str]) -> None:
    data = _send(capsys, POD, "kubernetes-bootcamp.default:8080")
    assert data["failed"] == [] and data["delivered"]
    assert not any("no rule matches" in note for row in data["delivered"] for note in row["why"])


def test_an_address_no_service_holds_has_no_such_note(capsys: pytest.CaptureFixture[str]) -> None:
    data = _send(capsys, POD, "10.96.99.99:9999")
    assert not any("no rule matches" in note for row in data["failed"] for note in row["why"])


def test_the_text_says_it_as_trace_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", *BOOTCAMP, "--from", "external", "--to", "kubernetes-bootcamp.default:9999"]) == 0
    said = WHOSE.format(what="9999/TCP")
    assert f"note: {said}, so kube-proxy's rules leave" in capsys.readouterr().out
    main(["trace", *BOOTCAMP, "--src", "203.0.113.10", "--dst", "10.96.142.87", "--dport", "9999"])
    assert f"note: {said}, so the packet leaves the tables untranslated" in capsys.readouterr().out
