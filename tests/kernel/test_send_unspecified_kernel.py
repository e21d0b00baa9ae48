"""The kernel on a connection to the unspecified address: from a node, ``0.0.0.0:NODEPORT`` is 127.0.0.1:NODEPORT
(the output route makes a zero destination the bound source, else 127.0.0.1, on lo), which kube-proxy's localhost
NodePort rules take; from a socket bound to the node's address, that address; from a pod or an outside client,
its own loopback, where nothing listens. Each compared with ``send`` (tests/simulator/test_unspecified_destination.py)
in the builders' cluster built in real namespaces."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.options import config_from_args
from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import send as kernel_send
from kubeproxy_sim.kernel.send import topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send as sim_send
from tests.simulator.builders import HOSTS, load, objects

pytestmark = pytest.mark.kernel

ARGS = ["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]


@pytest.fixture(scope="module")
def stage(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    name = f"{run_tag}-uns"
    objs = load(objects())
    topo = plan(name, objs, config_from_args(ARGS, objs))
    state = build.up(objs, topo, state_dir, topology_record(topo, objs))
    try:
        yield state
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


@pytest.mark.parametrize("source", ["node/node1", "192.168.0.10", "pod/default/client", "external"])
def test_the_unspecified_address_is_answered_as_the_simulator_says(stage: dict[str, Any], source: str) -> None:
    objs = load(objects())
    simulated = sim_send(Simulator(objs, config_from_args(ARGS, objs), rng=random.Random(1), hosts=HOSTS), source,
                         "0.0.0.0:30080", count=20)
    real = kernel_send(stage, source, "0.0.0.0:30080", count=20, seed=1).result(stage)
    expected = {d.pod: d for d in simulated.delivered if d.expected}
    for row in real.delivered:  # every pod the kernel reached, the simulator expects, seeing the same source
        assert row.pod in expected, f"{source}: the kernel reached {row.pod}, the simulator expects {list(expected)}"
        assert set(row.sources_seen) <= set(expected[row.pod].sources_seen) | {""}, (source, row)
    assert {f.reason for f in real.failed} == {f.reason for f in simulated.failed}, (source, real, simulated)
    assert sum(d.count for d in real.delivered) == sum(d.count for d in simulated.delivered)
