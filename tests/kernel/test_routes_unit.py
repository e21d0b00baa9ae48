"""The routes the kernel backend gives its nodes (``build.pod_cidr_routes``), without root."""

from __future__ import annotations

import dataclasses

from kubeproxy_sim.kernel.build import pod_cidr_routes
from kubeproxy_sim.kernel.plan import plan
from tests.simulator.test_topology import CONFIG, places


def test_nodes_route_the_pod_cidrs_to_their_owner() -> None:
    """Its own pod CIDR on-link on the bridge, the others' through their node (as the simulator's node routes);
    a range two nodes claim stays its own."""
    topo = plan("gaps", places(), CONFIG)
    n1, n2, n3 = topo.nodes
    assert pod_cidr_routes(topo, n1) == [("10.244.1.0/24", None), ("10.244.2.0/24", "192.168.0.11")]
    assert pod_cidr_routes(topo, n3) == [("10.244.1.0/24", "192.168.0.10"), ("10.244.2.0/24", "192.168.0.11")]
    claimed = dataclasses.replace(n3, config=dataclasses.replace(n3.config, node_pod_cidrs=("10.244.2.7/24",)))
    both = dataclasses.replace(topo, nodes=(n1, n2, claimed))
    assert pod_cidr_routes(both, claimed) == [("10.244.2.0/24", None), ("10.244.1.0/24", "192.168.0.10")]
