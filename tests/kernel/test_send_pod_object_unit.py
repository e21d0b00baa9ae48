"""netns send's rows say, as send's do, whether a Pod object was read at the address that answered (no root):
the plan marks each workload as the simulator's topology does, ``netns up`` records it, and the rows (JSON and
the text's ``*``) are send's."""

from __future__ import annotations

import io
import json

import pytest

from kubeproxy_sim.cli.output import Console
from kubeproxy_sim.cli.send_cmd import NO_POD_NOTE, send_text
from kubeproxy_sim.kernel.plan import POOL_OVER, plan
from kubeproxy_sim.kernel.send import Destination, Source, tally, topology_record
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.simulator.topology import build_topology
from tests.cli.test_send_why import WEB
from tests.cli.test_trace_why import NODES, endpoint
from tests.simulator.builders import BASE

CLIENT = "10.244.1.99"  # a client address in node1's pod range: no pod at all


@pytest.fixture(scope="module")
def cluster():
    """web-1 (a Pod), db's 10.244.1.10 (no Pod, no targetRef) and 10.244.1.11 (no Pod, targetRef db-0)."""
    return load_text(NODES + WEB % endpoint("10.244.2.10", "node2")).cluster


@pytest.fixture(scope="module")
def state(cluster) -> dict:
    return json.loads(json.dumps(topology_record(plan("marks", cluster, BASE, (CLIENT,)), cluster)))  # as stored


def test_the_plan_says_pod_object_as_the_simulators_topology_does(cluster) -> None:
    planned = {p.ip: p.pod_object for p in plan("marks", cluster, BASE, (CLIENT,)).pods}
    simulated = {p.ip: p.pod_object for p in build_topology(cluster, BASE).pods}
    assert planned == {**simulated, CLIENT: None}
    assert {ip: simulated[ip] for ip in ("10.244.1.5", "10.244.2.10", "10.244.1.10", "10.244.1.11")} == {
        "10.244.1.5": True, "10.244.2.10": True, "10.244.1.10": False, "10.244.1.11": False}


def test_pooled_endpoints_have_no_pod_object() -> None:
    addresses = [f"10.244.1.{100 + i}" for i in range(POOL_OVER + 1)]
    text = NODES + WEB % ", ".join(endpoint(ip, "node1") for ip in addresses)
    topo = plan("pool", load_text(text).cluster, BASE)
    pooled = [p for p in topo.pods if p.pooled]
    assert sorted(p.ip for p in pooled) == sorted(addresses)
    assert {p.pod_object for p in pooled} == {False}


ANSWERS = [("default/web-1", "10.244.2.10:8080"), ("default/ep-10-244-1-10", "10.244.1.10:5432"),
           ("default/db-0", "10.244.1.11:5432"), ("node/node2", "192.168.0.11:10256")]


def _rows(state: dict):
    results = [{"pod": pod, "src": "10.244.1.5:40000", "dst": dst} for pod, dst in ANSWERS]
    return tally(Source("pod/default/client", "x"), Destination("10.96.0.20:5432", "10.96.0.20", 5432), "tcp",
                 results).result(state)


def test_netns_send_rows_say_pod_object_and_the_text_marks_as_send(state: dict) -> None:
    result = _rows(state)
    assert {d.pod: d.pod_object for d in result.delivered} == {
        "default/web-1": True, "default/ep-10-244-1-10": False, "default/db-0": False, "node/node2": None}
    assert all(d.why == () for d in result.delivered)  # the kernel says what happened, not why
    text = send_text(result, Console(io.StringIO()))
    shown = [line.split()[0] for line in text.splitlines()[3:7]]
    assert sorted(shown) == ["default/db-0*", "default/ep-10-244-1-10*", "default/web-1", "node/node2"]
    assert text.splitlines()[-1] == NO_POD_NOTE


def test_a_state_written_before_pod_object_was_recorded_says_unknown(state: dict) -> None:
    older = {**state, "pods": {ip: {k: v for k, v in pod.items() if k != "pod_object"}
                               for ip, pod in state["pods"].items()}}
    result = _rows(older)
    assert {d.pod_object for d in result.delivered} == {None}
    assert "*" not in send_text(result, Console(io.StringIO()))
