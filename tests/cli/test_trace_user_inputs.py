"""``trace`` as a user meets it: the packet as written is not always the one the node sees, nor can a dump alone
tell the answer.

- ``--dst 0.0.0.0`` (``::``) from the node: no packet carries it; the node's socket sends to itself on lo (the
  bound source, else 127.0.0.1; IPv6 ::1), as ``send`` connects it (tests/simulator/test_unspecified_destination.py,
  the kernel's answer in tests/kernel/test_send_unspecified_kernel.py). From elsewhere the input routing drops it.
- A dump traced without ``--node-ip``: a packet to a NodePort the dump serves reads ACCEPT (addrtype LOCAL is
  assumed false), and a note under the header says so.
- ``--dst NAME``: a Service's name, read as send and dist read it, is traced to its cluster IP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubeproxy_sim.cli.main import main
from tests.realworld import DUMPS

CENTOS = str(DUMPS / "08-centos7-flannel-nodeport-2024.rules")
UNSPECIFIED = "0.0.0.0 is no host's address"


def _trace(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["trace", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["trace", *argv]) == 0
    return capsys.readouterr().out


def _outcomes(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(o["verdict"], o["destination"], o["probability_exact"], o["masquerade"]) for o in data["outcomes"]]


@pytest.mark.parametrize(("source", "sent_to"), [
    ("192.168.49.2", "192.168.49.2"),  # a packet from the node's address: a socket bound to it
    ("127.0.0.1", "127.0.0.1"),  # an unbound socket's: both addresses 127.0.0.1
])
def test_the_nodes_packet_to_0000_goes_to_the_node_itself(source: str, sent_to: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    given = _trace(["--scenario", "bootcamp", "--src", source, "--dst", "0.0.0.0", "--dport", "31526"], capsys)
    same = _trace(["--scenario", "bootcamp", "--src", source, "--dst", sent_to, "--dport", "31526"], capsys)
    assert _outcomes(given) == _outcomes(same)
    assert {o["verdict"] for o in given["outcomes"]} == {"DNAT"}  # the NodePort: it read ACCEPT, untranslated
    assert given["packet"]["dst"] == sent_to
    assert given["notes"][0].startswith(UNSPECIFIED)
    assert f"-> {sent_to}:31526" in given["notes"][0]
    assert ("unbound socket" in given["notes"][0]) == (source != "127.0.0.1")


def test_the_note_is_under_the_header(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _text(["--scenario", "bootcamp", "--src", "192.168.49.2", "--dst", "0.0.0.0", "--dport", "31526"],
                  capsys).splitlines()
    assert lines[0].startswith("tcp 192.168.49.2 -> 192.168.49.2:31526 (generated on the node)")
    assert lines[1].startswith(f"note: {UNSPECIFIED}")
    assert "127.0.0.1 -> 127.0.0.1:31526" in lines[1]  # what curl 0.0.0.0:31526 (unbound) sends


def test_ipv6_unspecified_is_loopback_bound_or_not(capsys: pytest.CaptureFixture[str]) -> None:
    given = _trace(["--scenario", "ipv6", "--src", "2001:db8:0:1::10", "--dst", "::", "--dport", "30080"], capsys)
    same = _trace(["--scenario", "ipv6", "--src", "2001:db8:0:1::10", "--dst", "::1", "--dport", "30080"], capsys)
    assert _outcomes(given) == _outcomes(same)
    assert given["packet"]["dst"] == "::1"
    assert given["notes"][0].startswith(":: is no host's address")


def test_0000_from_elsewhere_is_a_martian(capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "0.0.0.0", "--dport", "31526"], capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["DROP"]
    assert "martian" in data["outcomes"][0]["path"][-1]["rule"]
    assert data["packet"]["dst"] == "0.0.0.0"
    assert data["notes"] == []  # the node's addresses are known: the routing step says it all


def test_0000_in_a_dump_without_the_nodes_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    """Not knowing whether the source is the node's, the packet is from elsewhere (a martian), and the note
    says what --node-ip would change; a loopback source is the node's in any case."""
    data = _trace(["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "0.0.0.0", "--dport", "31674"], capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["DROP"]
    assert data["notes"] == ["0.0.0.0 from elsewhere is dropped by the node's input routing (a martian "
                             "destination); if 203.0.113.7 is this node's, give --node-ip 203.0.113.7: a socket of "
                             "the node sending to 0.0.0.0 sends to the node itself, on lo"]
    broadcast = _trace(["--rules", CENTOS, "--src", "0.0.0.0", "--dst", "0.0.0.0", "--proto", "udp", "--dport", "67"],
                       capsys)  # 0.0.0.0 -> 0.0.0.0 is a broadcast to the node (brd_input), no martian
    assert broadcast["notes"] == [] and [o["verdict"] for o in broadcast["outcomes"]] == ["ACCEPT"]
    local = _trace(["--rules", CENTOS, "--node-ip", "192.168.122.10", "--src", "192.168.122.10", "--dst", "0.0.0.0",
                    "--dport", "31674"], capsys)
    assert _outcomes(local) == [("DNAT", "10.1.0.66:80", "1", True)]
    assert local["notes"][0].startswith(UNSPECIFIED)


NODEPORT_NOTE = ("31674/tcp is a NodePort here (line 69); if 192.168.122.10 is this node's, give --node-ip "
                 "192.168.122.10")


def test_a_dumps_nodeport_traced_without_node_ip_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "192.168.122.10", "--dport", "31674"]
    data = _trace(argv, capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["ACCEPT"]  # unchanged: the note says what would change it
    assert data["notes"] == [NODEPORT_NOTE]
    lines = _text(argv, capsys).splitlines()
    assert lines[1] == f"note: {NODEPORT_NOTE}"
    given = _trace([*argv, "--node-ip", "192.168.122.10"], capsys)
    assert _outcomes(given) == [("DNAT", "10.1.0.66:80", "1", True)] and given["notes"] == []


@pytest.mark.parametrize("change", [["--dport", "31675"], ["--proto", "udp"]])
def test_a_port_the_dump_does_not_serve_gets_no_note(change: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "192.168.122.10", "--dport", "31674",
                   *change], capsys)
    assert data["notes"] == []


BOOTCAMP_IP = "10.96.142.87"


@pytest.mark.parametrize("name", ["kubernetes-bootcamp", "kubernetes-bootcamp.default",
                                  "kubernetes-bootcamp.default.svc", "Kubernetes-Bootcamp.default.svc.cluster.local.",
                                  "kubernetes-bootcamp.default.svc.cluster.local"])
def test_a_service_name_is_traced_to_its_cluster_ip(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    given = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", name, "--dport", "8080"], capsys)
    same = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", BOOTCAMP_IP, "--dport", "8080"], capsys)
    assert _outcomes(given) == _outcomes(same) and {o["verdict"] for o in given["outcomes"]} == {"DNAT"}
    assert given["packet"]["dst"] == BOOTCAMP_IP
    assert given["notes"][0] == (f"{name} is the Service default/kubernetes-bootcamp: traced to its cluster IP "
                                 f"{BOOTCAMP_IP}")


def test_an_ipv6_service_name_is_its_ipv6_cluster_ip(capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["--scenario", "ipv6", "--src", "2001:db8:0:1::10", "--dst", "web.default", "--dport", "80"], capsys)
    assert data["packet"]["dst"] == "fd00:10:96::10" and data["ip_family"] == "IPv6"


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["--scenario", "bootcamp", "--dst", "nope.default"], 1,
     "'nope.default' is not an IP address, nor a Service's name"),
    (["--scenario", "externalname-and-headless", "--dst", "web-headless"], 1,
     "is the Service default/web-headless, which has no cluster IP to trace to: default/web-headless is headless"),
    (["--scenario", "externalname-and-headless", "--dst", "docs"], 1, "default/docs is an ExternalName Service"),
    (["--rules", CENTOS, "--dst", "lb.shop"], 2, "a Service's name needs objects: -f or --scenario"),
])
def test_a_name_that_is_no_service_to_trace_to_is_refused(argv: list[str], code: int, words: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", *argv, "--src", "10.244.0.9", "--dport", "80"]) == code
    err = capsys.readouterr().err
    assert "--dst" in err and words in err and "Traceback" not in err
