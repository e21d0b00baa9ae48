"""netns send's rows to the unspecified address (0.0.0.0, ::) carry send's note, word for word (no root: the
state record ``netns up`` writes and the probe's and the pinger's results as they come back), for connections
(kernel/send.tally) and pings (ping_result) alike. Before, neither said where Linux had sent them."""

from __future__ import annotations

import io
import json
import random

import pytest

from kubeproxy_sim.cli.options import config_from_args
from kubeproxy_sim.cli.output import Console
from kubeproxy_sim.cli.send_cmd import send_counted, send_text
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import (
    Destination,
    connected_address,
    ping_result,
    resolve_source,
    tally,
    topology_record,
)
from kubeproxy_sim.simulator.network import Simulator
from tests.simulator.builders import HOSTS, load, objects

ARGS = ["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]


@pytest.fixture(scope="module")
def cluster():
    return load(objects())


@pytest.fixture(scope="module")
def state(cluster) -> dict:
    return json.loads(json.dumps(topology_record(plan("uns", cluster, config_from_args(ARGS, cluster)), cluster)))


def _simulated(cluster, source: str, destination: str, proto: str) -> tuple[str, ...]:
    sim = Simulator(cluster, config_from_args(ARGS, cluster), rng=random.Random(1), hosts=HOSTS)
    result = send_counted(sim, source, destination, proto=proto, count=2)
    notes = {row.why[0] for row in (*result.delivered, *result.failed)}
    assert len(notes) == 1, notes
    return tuple(notes)


@pytest.mark.parametrize("source", ["node/node1", "192.168.0.10", "pod/default/client", "external"])
def test_a_connection_rows_note_is_sends(state: dict, cluster, source: str) -> None:
    origin = resolve_source(state, source)
    dest = Destination("0.0.0.0:30080", "0.0.0.0", 30080)
    result = tally(origin, dest, "tcp", [{"error": "refused"}, {"pod": "node/node1", "src": "127.0.0.1:4000",
                                                                 "dst": "127.0.0.1:30080"}]).result(state)
    (note,) = _simulated(cluster, source, "0.0.0.0:30080", "tcp")
    assert all(row.why == (note,) for row in (*result.delivered, *result.failed)), result
    assert f"note: {note}" in send_text(result, Console(io.StringIO()))


@pytest.mark.parametrize("source", ["node/node1", "192.168.0.10", "pod/default/client", "external"])
def test_a_ping_rows_note_is_sends(state: dict, cluster, source: str) -> None:
    origin = resolve_source(state, source)
    dest = Destination("0.0.0.0", "0.0.0.0", 0)
    answered = connected_address(origin, "0.0.0.0")
    result = ping_result(state, origin, dest, "icmp", "0.0.0.0", [{"reply": answered}, {"error": "timeout"}])
    (note,) = _simulated(cluster, source, "0.0.0.0", "icmp")
    assert "pings went to" in note
    assert all(row.why == (note,) for row in (*result.delivered, *result.failed)), result


def test_another_address_has_no_note(state: dict) -> None:
    origin = resolve_source(state, "node/node1")
    result = ping_result(state, origin, Destination("192.168.0.11", "192.168.0.11", 0), "icmp", "192.168.0.11",
                         [{"reply": "192.168.0.11"}])
    assert result.delivered[0].why == ()
    connected = tally(origin, Destination("10.96.0.1:80", "10.96.0.1", 80), "tcp", [{"error": "refused"}])
    assert connected.result(state).failed[0].why == ()
