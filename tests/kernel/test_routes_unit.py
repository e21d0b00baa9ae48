"""The routes the kernel backend gives its nodes (``build.pod_cidr_routes``), without root."""

from __future__ import annotations

import dataclasses

from kubeproxy_sim.kernel.build import pod_cidr_routes
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.objects import load_text
from tests.simulator.test_topology import CONFIG, PLACES

N3 = """
---
apiVersion: v1
kind: Node
metadata: {name: n3}
status: {addresses: [{type: InternalIP, address: 192.168.0.12}]}
"""
"""A third Node without a pod CIDR: PLACES' n3 is only an endpoint's nodeName, no node among Node objects (b8's
phantom-node rule, simulator.topology.nodes_running)."""


def test_nodes_route_the_pod_cidrs_to_their_owner() -> None:
    """Its own pod CIDR on-link on the bridge, the others' through their node (as the simulator's node routes);
    a range two nodes claim stays its own."""
    topo = plan("gaps", load_text(PLACES + N3).cluster, CONFIG)
    n1, n2, n3 = topo.nodes
    assert pod_cidr_routes(topo, n1) == [("10.244.1.0/24", None), ("10.244.2.0/24", "192.168.0.11")]
    assert pod_cidr_routes(topo, n3) == [("10.244.1.0/24", "192.168.0.10"), ("10.244.2.0/24", "192.168.0.11")]
    claimed = dataclasses.replace(n3, config=dataclasses.replace(n3.config, node_pod_cidrs=("10.244.2.7/24",)))
    both = dataclasses.replace(topo, nodes=(n1, n2, claimed))
    assert pod_cidr_routes(both, claimed) == [("10.244.2.0/24", None), ("10.244.1.0/24", "192.168.0.10")]


def test_a_pod_cidr_the_node_already_routes_is_left_out() -> None:
    """A /32 pod CIDR at a pod's address (the pod's host route says it) gets no route of its own: the kernel
    refuses a second route to one destination (EEXIST); a /0 is no pod CIDR of the stage (the default route
    stands: tests/simulator/test_topology.py has its warning)."""
    text = PLACES.replace("spec: {podCIDRs: [10.244.2.0/24]}", "spec: {podCIDRs: [10.244.2.22/32]}")
    topo = plan("gaps", load_text(text).cluster, CONFIG)
    n1, n2 = topo.nodes
    assert pod_cidr_routes(topo, n1) == [("10.244.1.0/24", None)]
    assert pod_cidr_routes(topo, n2) == [("10.244.1.0/24", "192.168.0.10")]
    everything = PLACES.replace("spec: {podCIDRs: [10.244.2.0/24]}", "spec: {podCIDRs: [0.0.0.0/0]}")
    topo = plan("gaps", load_text(everything).cluster, CONFIG)
    assert pod_cidr_routes(topo, topo.nodes[1]) == [("10.244.1.0/24", "192.168.0.10")]
    assert (topo.nodes[1].pod_cidrs, topo.nodes[1].gateways) == ((), ())
    assert topo.nodes[1].config.node_pod_cidrs == ("0.0.0.0/0",)  # kube-proxy's rules keep it
