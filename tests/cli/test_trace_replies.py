"""trace of a reply (--ctdir REPLY), a later packet whose connection never opened, and session-affinity lists
that neither a dump nor objects describe (QA-dumps findings 2, 4 and 5, session 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.realworld import DUMPS

DOCKER = str(DUMPS / "04-kubeadm-docker-kubedns-noendpoints-2018.rules")
NODE = ["--node-ip", "192.168.50.101"]
CONTAINER_REPLY = ["--src", "1.2.3.4", "--sport", "443", "--dst", "172.17.0.2", "--dport", "40000",
                   "--in-iface", "eth0", "--out-iface", "docker0", "--ctstate", "ESTABLISHED"]
REVERSE = "conntrack's reverse translation"

# dump 03's KUBE-SVC-NPX46M4PTMTKRN6Y shape: an rcheck per endpoint, then the split; each SEP --set's its list
AFFINITY = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-NPX46M4PTMTKRN6Y - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.24.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y
-A KUBE-SVC-NPX46M4PTMTKRN6Y -m comment --comment "default/kubernetes:https" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-AAAAAAAAAAAAAAAA --mask 255.255.255.255 --rsource -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SVC-NPX46M4PTMTKRN6Y -m comment --comment "default/kubernetes:https" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-BBBBBBBBBBBBBBBB --mask 255.255.255.255 --rsource -j KUBE-SEP-BBBBBBBBBBBBBBBB
-A KUBE-SVC-NPX46M4PTMTKRN6Y -m comment --comment "default/kubernetes:https" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SVC-NPX46M4PTMTKRN6Y -m comment --comment "default/kubernetes:https" -j KUBE-SEP-BBBBBBBBBBBBBBBB
-A KUBE-SEP-AAAAAAAAAAAAAAAA -m comment --comment "default/kubernetes:https" -m recent --set --name KUBE-SEP-AAAAAAAAAAAAAAAA --mask 255.255.255.255 --rsource -m tcp -p tcp -j DNAT --to-destination 10.0.0.1:6443
-A KUBE-SEP-BBBBBBBBBBBBBBBB -m comment --comment "default/kubernetes:https" -m recent --set --name KUBE-SEP-BBBBBBBBBBBBBBBB --mask 255.255.255.255 --rsource -m tcp -p tcp -j DNAT --to-destination 10.0.0.2:6443
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""  # noqa: E501  (a whole dump: a filter table, if empty; one without is said to be partial)


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main([*argv, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_containers_reply_is_accepted_by_the_rule_for_replies(capsys: pytest.CaptureFixture[str]) -> None:
    """Dump 04, FORWARD DROP: line 51 (`-o docker0 --ctstate RELATED,ESTABLISHED -j ACCEPT`) accepts the reply, as
    the kernel does; read in the original direction it was dropped by the policy at line 36."""
    data = _json(["trace", "--rules", DOCKER, *NODE, *CONTAINER_REPLY, "--ctdir", "REPLY"], capsys)
    assert data["packet"]["ctdir"] == "REPLY" and data["packet"]["ctstate"] == "ESTABLISHED"
    (outcome,) = data["outcomes"]
    assert outcome["verdict"] == "ACCEPT" and outcome["path"][-1]["line"] == 51
    assert outcome["path"][-1]["rule"] == "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    assert all(step["table"] != "nat" for step in outcome["path"]) and "no_connection" not in outcome
    assert data["uncertain"][0]["line"] is None and data["uncertain"][0]["rule"] == REVERSE
    assert main(["trace", "--rules", DOCKER, *NODE, *CONTAINER_REPLY, "--ctdir", "REPLY"]) == 0
    text = capsys.readouterr().out
    assert "a reply (ESTABLISHED, conntrack direction REPLY)" in text and "line 51: -A FORWARD -o docker0" in text


def test_a_pods_reply_is_accepted_by_kube_forward(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["trace", "--rules", DOCKER, *NODE, "--src", "10.32.0.9", "--sport", "53", "--dst", "10.32.0.5",
                  "--dport", "40000", "--ctstate", "ESTABLISHED", "--ctdir", "REPLY"], capsys)
    assert [(o["verdict"], o["path"][-1]["line"]) for o in data["outcomes"]] == [("ACCEPT", 64)]


def test_a_reply_traced_from_objects_meets_kube_forward(capsys: pytest.CaptureFixture[str]) -> None:
    """The simulator's rules take a reply the same way: the endpoint pod answering the client, accepted by
    KUBE-FORWARD's RELATED,ESTABLISHED rule (the FORWARD chain's --ctstate NEW jumps are not taken)."""
    data = _json(["trace", "--scenario", "bootcamp", "--src", "10.244.0.3", "--sport", "8080", "--dst", "10.244.0.9",
                  "--dport", "40000", "--ctstate", "ESTABLISHED", "--ctdir", "REPLY"], capsys)
    (outcome,) = data["outcomes"]
    assert outcome["verdict"] == "ACCEPT" and outcome["path"][-1]["chain"] == "KUBE-FORWARD"
    assert "RELATED,ESTABLISHED" in outcome["path"][-1]["rule"]
    assert [u["rule"] for u in data["uncertain"]] == [REVERSE]


@pytest.mark.parametrize("state", ["NEW", "INVALID"])
def test_a_reply_needs_a_connection(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--rules", DOCKER, "--src", "1.2.3.4", "--dst", "172.17.0.2", "--dport", "80",
                 "--ctstate", state, "--ctdir", "REPLY"]) == 2
    err = capsys.readouterr().err
    assert f"a {state} packet has no reply direction" in err and "--ctdir" in err


def test_a_later_packet_whose_first_is_dropped_says_no_connection_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """The reply read in the original direction: its first packet (NEW, from 1.2.3.4) is dropped by FORWARD's
    policy, and the outcome says so instead of passing that walk off as the later packet's (QA-dumps 4)."""
    argv = ["trace", "--rules", DOCKER, *NODE, *CONTAINER_REPLY]
    (outcome,) = _json(argv, capsys)["outcomes"]
    assert outcome["verdict"] == "DROP" and outcome["no_connection"] is True
    assert outcome["path"][-1] == {"table": "filter", "chain": "FORWARD", "line": 36, "rule": ":FORWARD DROP [0:0]"}
    assert main(argv) == 0
    assert ("DROP: 100% (1)\n  (the connection's first packet is dropped at line 36, so no connection exists; the "
            "path is that packet's)\n") in capsys.readouterr().out


def test_affinity_lists_a_dump_does_not_hold_are_uncertain(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """As an ipset's members, a recent list's clients are not in a dump: the even split is said to assume that
    the client is in neither (QA-dumps 5); --affinity names a list that holds it, the other stays assumed."""
    dump = tmp_path / "aff.rules"
    dump.write_text(AFFINITY)
    argv = ["trace", "--rules", str(dump), "--src", "10.24.5.5", "--dst", "10.24.0.1", "--dport", "443",
            "--node-ip", "10.5.6.30"]
    data = _json(argv, capsys)
    assert [(o["destination"], o["probability_exact"]) for o in data["outcomes"]] == [
        ("10.0.0.1:6443", "1/2"), ("10.0.0.2:6443", "1/2")]
    assert [(u["line"], u["reason"]) for u in data["uncertain"]] == [
        (12, "recent list KUBE-SEP-AAAAAAAAAAAAAAAA is not known; assumed not to hold the client (give --affinity "
             "KUBE-SEP-AAAAAAAAAAAAAAAA if it does)"),
        (13, "recent list KUBE-SEP-BBBBBBBBBBBBBBBB is not known; assumed not to hold the client (give --affinity "
             "KUBE-SEP-BBBBBBBBBBBBBBBB if it does)")]
    data = _json([*argv, "--affinity", "KUBE-SEP-BBBBBBBBBBBBBBBB"], capsys)
    assert [(o["destination"], o["probability_exact"]) for o in data["outcomes"]] == [("10.0.0.2:6443", "1")]
    assert [u["line"] for u in data["uncertain"]] == [12]


def test_affinity_lists_are_uncertain_from_objects_too(capsys: pytest.CaptureFixture[str]) -> None:
    """Objects say no more than a dump of which clients a node's lists hold: the same assumption is listed."""
    data = _json(["trace", "--scenario", "session-affinity", "--src", "10.244.1.5", "--dst", "10.96.0.10",
                  "--dport", "80"], capsys)
    reasons = [u["reason"] for u in data["uncertain"]]
    assert reasons and all(r.startswith("recent list KUBE-SEP-") and "assumed not to hold the client" in r
                           for r in reasons)
    assert len(reasons) == len(data["outcomes"])  # one rcheck per endpoint, each a share of the split
