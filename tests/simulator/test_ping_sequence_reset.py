"""A ping run's echo sequence number is the simulator's for its duration only: ``send --proto icmp --count N`` sets
``Simulator.echo_sequence`` to each request's (1..N, for the record's hops) and leaves it 1 afterwards, also when
the run is cut short (a Ctrl-C in the progress line's callback, an error in a connection), so a later send on the
same simulator records its packets with sequence 1, not the cut run's last."""

from __future__ import annotations

import random

import pytest

from kubeproxy_sim.cli.options import config_from_args
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from tests.simulator.builders import load, objects


class _Cut(Exception):
    """Stands for what ends a run midway (KeyboardInterrupt in the progress line's callback)."""


def _simulator() -> Simulator:
    cluster = load(objects())
    config = config_from_args(["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"], cluster)
    return Simulator(cluster, config, rng=random.Random(1))


def test_a_ping_run_cut_short_leaves_the_sequence_at_1() -> None:
    sim = _simulator()
    done = []

    def progress() -> None:
        done.append(sim.echo_sequence)
        if len(done) == 3:
            raise _Cut

    with pytest.raises(_Cut):
        send(sim, "node/node1", "10.244.1.10", proto="icmp", count=5, on_connection=progress)
    assert done == [1, 2, 3]
    assert sim.echo_sequence == 1


def test_a_whole_ping_run_leaves_the_sequence_at_1() -> None:
    sim = _simulator()
    send(sim, "node/node1", "10.244.1.10", proto="icmp", count=4)
    assert sim.echo_sequence == 1
