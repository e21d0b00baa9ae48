"""``netns send --from`` takes every name ``send --from`` takes (no root: the state record ``netns up`` writes):
a Pod's key, an endpoint's made-up key (the name send's rows show it under, marked or not) or ``NS/ADDRESS``, the
rows' own spellings (``NS/NAME``, ``external/IP``); a name that matches nothing lists what is valid, as send's
error does. Before, netns send took an endpoint only by its ``NS/ep-...`` key, and its error listed nothing."""

from __future__ import annotations

import io
import json
import random

import pytest

from kubeproxy_sim.cli.output import Console
from kubeproxy_sim.cli.send_cmd import send_text
from kubeproxy_sim.errors import InputError, UsageError
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import Destination, resolve_source, tally, topology_record
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import parse_source
from tests.cli.test_send_why import WEB
from tests.cli.test_trace_why import NODES, endpoint
from tests.simulator.builders import BASE

CLIENT = "10.244.1.99"


@pytest.fixture(scope="module")
def cluster():
    """web-1 (a Pod), db's 10.244.1.10 (no Pod, no targetRef) and 10.244.1.11 (no Pod, targetRef db-0)."""
    return load_text(NODES + WEB % endpoint("10.244.2.10", "node2")).cluster


@pytest.fixture(scope="module")
def state(cluster) -> dict:
    return json.loads(json.dumps(topology_record(plan("names", cluster, BASE, (CLIENT,)), cluster)))


@pytest.fixture(scope="module")
def sim(cluster) -> Simulator:
    return Simulator(cluster, BASE, rng=random.Random(1))


@pytest.mark.parametrize(("given", "key"), [
    ("pod/default/web-1", "pod/default/web-1"),
    ("default/web-1", "pod/default/web-1"),  # a row's pod column
    ("pod/default/ep-10-244-1-10", "pod/default/ep-10-244-1-10"),
    ("pod/default/ep-10-244-1-10*", "pod/default/ep-10-244-1-10"),  # the row's name, with its mark
    ("default/ep-10-244-1-10*", "pod/default/ep-10-244-1-10"),
    ("pod/default/10.244.1.10", "pod/default/ep-10-244-1-10"),  # the name send's text showed before u-walk 1
    ("pod/default/10.244.1.10*", "pod/default/ep-10-244-1-10"),
    ("pod/default/db-0", "pod/default/db-0"),  # targetRef-named, no Pod object
    ("default/db-0*", "pod/default/db-0"),
    ("pod/default/10.244.1.11", "pod/default/db-0"),
    ("10.244.1.10", "pod/default/ep-10-244-1-10"),
])
def test_netns_send_takes_what_send_takes(state: dict, sim: Simulator, given: str, key: str) -> None:
    source = resolve_source(state, given)
    assert source.label == key
    assert state["pods"][source.pod]["key"] == key.removeprefix("pod/")
    assert parse_source(sim, given).label == key  # the same pod as send's
    result = tally(source, Destination("10.96.0.20:5432", "10.96.0.20", 5432), "tcp", []).result(state)
    assert result.source == key  # the JSON's stable key, as send's
    assert send_text(result, Console(io.StringIO())).startswith(f"0 tcp connections from {key} to ")


def test_external_as_the_rows_name_it(state: dict, sim: Simulator) -> None:
    assert resolve_source(state, "external/203.0.113.10").netns == resolve_source(state, "external").netns
    assert parse_source(sim, "external/203.0.113.10").label == "external:203.0.113.10"


@pytest.mark.parametrize("given", ["pod/default/nope", "default/nope", "pod/other/10.244.1.10",
                                   "pod/default/10.244.1.5"])  # (10.244.1.5 is a Pod object's: its name, not this)
def test_a_name_matching_nothing_lists_what_is_valid(state: dict, sim: Simulator, given: str) -> None:
    with pytest.raises(InputError) as kernel:
        resolve_source(state, given)
    with pytest.raises(InputError) as simulated:
        parse_source(sim, given)
    for error in (kernel, simulated):
        (diagnostic,) = error.value.diagnostics
        assert diagnostic.message.startswith(f"{given!r}: no such pod; expected pod/NAMESPACE/NAME of a pod of ")
        assert "default/client, default/db-0, default/ep-10-244-1-10, default/web-1" in diagnostic.message
        assert "client/" not in diagnostic.message


def test_a_bare_name_says_the_forms(state: dict) -> None:
    with pytest.raises(UsageError) as error:
        resolve_source(state, "node1")
    assert error.value.diagnostics[0].message == ("'node1': expected pod/NS/NAME, node/NAME, external, external:IP "
                                                  "or an IP address")
