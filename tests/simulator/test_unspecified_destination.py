"""send to the unspecified address (0.0.0.0, ::), as Linux connects to it: to the client's own host.

No packet carries 0.0.0.0: the kernel's output route (ip_route_output_key_hash_rcu) makes a zero destination the
socket's bound source, else 127.0.0.1, and sends on lo; IPv6's connect and send make :: ::1. So ``curl
0.0.0.0:NODEPORT`` on a node reaches the NodePort through kube-proxy's localhost rules, as 127.0.0.1:NODEPORT does
(tests/kernel/test_send_unspecified_kernel.py has the kernel's answer); the simulator said NO_ROUTE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.simulator.send import SendResult, send
from tests.simulator.builders import objects, simulator

UNSPECIFIED = "0.0.0.0 is no host's address"


def rows(result: SendResult) -> tuple[object, ...]:
    """What two runs to the same place share: every row's numbers, not its words."""
    return (tuple((d.pod, d.ip, d.node, d.count, d.expected, d.sources_seen) for d in result.delivered),
            tuple((f.reason, f.count, f.expected) for f in result.failed))


@pytest.mark.parametrize(("source", "same_as"), [
    ("node/node1", "127.0.0.1:30080"),  # the localhost NodePort rules
    ("192.168.0.10", "192.168.0.10:30080"),  # a socket bound to the node's address: to that address
    ("pod/default/client", "127.0.0.1:30080"),  # a pod's own loopback: nothing listens there
    ("external", "127.0.0.1:30080"),  # an outside host's own loopback
])
def test_the_unspecified_address_is_the_clients_own_host(source: str, same_as: str) -> None:
    given = send(simulator(), source, "0.0.0.0:30080", count=40)
    expected = send(simulator(), source, same_as, count=40)
    assert rows(given) == rows(expected)
    assert given.destination == "0.0.0.0:30080"


def test_a_nodes_connection_to_0000_reaches_the_node_port() -> None:
    result = send(simulator(), "node/node1", "0.0.0.0:30080", count=40)
    assert not result.failed
    assert sum(d.count for d in result.delivered) == 40
    assert result.destination_note is not None and result.destination_note.startswith(UNSPECIFIED)
    assert result.destination_note.endswith("went to 127.0.0.1")


def test_a_ping_to_0000_is_answered_by_the_client_itself() -> None:
    result = send(simulator(), "node/node1", "0.0.0.0", proto="icmp", count=2)
    assert result.ping is not None and (result.ping.address, result.ping.kind) == ("127.0.0.1", "loopback")
    assert [(d.pod, d.count) for d in result.delivered] == [("node/node1", 2)]


def test_every_row_says_where_the_connections_went(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(tmp_path / "objects.yaml")
    Path(path).write_text(yaml.safe_dump_all(objects()))
    assert main(["send", "-f", path, "--from", "node/node1", "--to", "0.0.0.0:30080", "--count", "4",
                 "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["to"] == "0.0.0.0:30080"
    assert out["delivered"] and all(r["why"][0].startswith(UNSPECIFIED) for r in out["delivered"])
    assert main(["send", "-f", path, "--from", "node/node1", "--to", "0.0.0.0:30080", "--count", "4"]) == 0
    assert f"note: {UNSPECIFIED}" in capsys.readouterr().out


def test_ipv6_unspecified_is_loopback_bound_or_not() -> None:
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.objects import load_paths
    from kubeproxy_sim.simulator.network import Simulator

    ipv6 = REPO_RULESETS / "ipv6"
    objs = load_paths([str(ipv6 / "objects.yaml")]).cluster
    config = config_from_args(scenario_args(ipv6), objs)
    result = send(Simulator(objs, config), "node/node1", "[::]:30080", count=3)
    assert result.destination_note is not None and result.destination_note.endswith("went to ::1")
    assert rows(result) == rows(send(Simulator(objs, config), "node/node1", "[::1]:30080", count=3))

