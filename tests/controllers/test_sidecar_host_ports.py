"""kube-scheduler's NodePorts counts the host ports of a Pod's sidecars (initContainers with restartPolicy Always)
as its containers' (kubernetes/kubernetes#132040, in 1.34: GetHostPorts reads both), and the API server defaults a
host-network Pod's initContainers' hostPorts as its containers' (SetDefaults_Pod, defaultHostNetworkPorts): two
host-network Pods whose sidecar and container ask one port do not share a Node."""

from __future__ import annotations

import random

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.scheduler import scheduling_failures
from kubeproxy_sim.objects.model import ContainerPort, Pod, Protocol

from ._helpers import NODES, world


def _agent(name: str, port: int, *, sidecar: bool) -> Pod:
    ports = (ContainerPort(None, port, Protocol.TCP),)
    return Pod("default", name, host_network=True, labels=(("app", "agent"),),
               ports=() if sidecar else ports, sidecar_ports=ports if sidecar else ())


def test_a_host_network_pods_sidecar_port_is_a_host_port_nodeports_keeps_apart() -> None:
    """a holds 9100 in a container, b in a sidecar, c in a sidecar too: one Node each for a and b, and c waits
    with NodePorts' words (before, the sidecars' ports were not counted: all three shared the nodes freely)."""
    rng = random.Random(0)
    w = world(NODES)
    w, _ = W.add_pods(w, [_agent("a", 9100, sidecar=False), _agent("b", 9100, sidecar=True),
                          _agent("c", 9100, sidecar=True), _agent("d", 9200, sidecar=True)], rng)
    w = W.advance(w, 10, rng)
    placed = {p.name: p.node_name for p in w.pods}
    assert placed["c"] is None and {placed["a"], placed["b"]} == {"node1", "node2"} and placed["d"] is not None
    failures = scheduling_failures(w)
    assert [f.pods for f in failures] == [("default/c",)]
    assert "2 node(s) didn't have free ports for the requested pod ports" in failures[0].message
