"""Where an endpoint address with no nodeName, in no pod CIDR and of no node, is placed (README, send section).

A selectorless Service in front of a database outside the cluster: the objects do not say where the address is,
so ``send`` and ``netns up`` both make it a pod on the first node (the ``--hostname-override`` node), and a pod
client's connection to it, one pod's to another, keeps the client's address (a real CNI would often masquerade it).
"""

from __future__ import annotations

import random

from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from kubeproxy_sim.simulator.topology import build_topology
from tests.simulator.builders import BASE, PODS, load, objects

OUTSIDE = "203.0.113.5"
DB = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "default"},
       "spec": {"clusterIP": "10.96.0.88", "ports": [{"name": "pg", "port": 5432}]}},
      {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
       "metadata": {"name": "db-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "db"}},
       "addressType": "IPv4", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
       "endpoints": [{"addresses": [OUTSIDE]}]}]


def test_an_outside_endpoint_without_a_node_is_a_pod_on_the_first_node_in_send_as_in_netns() -> None:
    cluster = load(objects(extra=DB))
    (simulated,) = [p for p in build_topology(cluster, BASE).pods if p.ip == OUTSIDE]
    (planned,) = [p for p in plan("h339", cluster, BASE).pods if p.ip == OUTSIDE]
    assert (simulated.node, simulated.host_network, simulated.pod_object) == (BASE.node_name, False, False)
    assert (planned.node, planned.host_network) == (BASE.node_name, False)
    assert PODS["client2"][0] != BASE.node_name  # a client on another node: crossing nodes, still unmasqueraded
    result = send(Simulator(cluster, BASE, rng=random.Random(1)), "pod/default/client2", "10.96.0.88:5432",
                  count=5, seed=1)
    assert [(d.ip, d.sources_seen) for d in result.delivered] == [(OUTSIDE, (PODS["client2"][1],))]
