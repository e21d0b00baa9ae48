"""netns send's names (no root): resolved by the simulator's cluster DNS with the source's search path, as send."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import resolve_destination, resolve_source, topology_record
from kubeproxy_sim.simulator.send import parse_destination, parse_source
from tests.simulator.builders import BASE, load, objects, simulator


def _other_web() -> list[dict]:
    """other/web (10.96.0.30) beside default/web, and a client pod in namespace other."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "other"},
             "spec": {"clusterIP": "10.96.0.30", "selector": {"app": "web"}, "ports": [{"port": 80}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client3", "namespace": "other"},
             "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]},
             "status": {"phase": "Running", "podIP": "10.244.1.6", "podIPs": [{"ip": "10.244.1.6"}]}}]


@pytest.fixture(scope="module")
def state() -> dict:
    cluster = load(objects(extra=_other_web()))
    return json.loads(json.dumps(topology_record(plan("names", cluster, BASE, ()), cluster)))  # as stored


@pytest.mark.parametrize(("source", "destination", "address"), [
    ("pod/other/client3", "web:80", "10.96.0.30"),  # QA-dns M1: the client's namespace first, not default
    ("pod/default/client", "web:80", "10.96.0.10"),
    ("pod/other/client3", "Web.Default:80", "10.96.0.10"),
    ("pod/other/client3", "web.other.svc.cluster.local:80", "10.96.0.30"),
    ("pod/other/client3", "web.default.svc.cluster.local.:80", "10.96.0.10"),
    ("node/node1", "web:80", "10.96.0.10"),
    ("pod/default/client", "web-1.web-headless.default:8080", "10.244.1.10"),
    ("pod/default/client", "10-244-2-10.default.pod.cluster.local:8080", "10.244.2.10"),
])
def test_netns_send_resolves_names_as_send(state: dict, source: str, destination: str, address: str) -> None:
    assert resolve_destination(state, destination, resolve_source(state, source)).ip == address
    sim = simulator(docs=objects(extra=_other_web()))
    assert parse_destination(sim, parse_source(sim, source), destination).addresses == (address,)


def test_netns_send_names_what_it_cannot_resolve(state: dict) -> None:
    client = resolve_source(state, "pod/default/client")
    with pytest.raises(InputError, match="NXDOMAIN"):
        resolve_destination(state, "nope.default:80", client)
    with pytest.raises(InputError, match="netns send has no --hosts"):
        resolve_destination(state, "ext.default:80", client)
    with pytest.raises(InputError, match=r"the name has 3 addresses .* give one of them as IP:PORT"):
        resolve_destination(state, "web-headless.default:8080", client)
