"""A speed figure for the simulator: many connections through a large generated cluster.

``tools/bench.py`` calls :func:`bench_connections`; it builds the cluster in
memory (N ClusterIP services x M endpoints over a few nodes, like
``tools/gen_scale.py``), then makes connections from pods on every node to
the services in turn, and returns the timings.
"""

from __future__ import annotations

import random
import time

from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Node,
    NodeAddress,
    Protocol,
    Service,
    ServicePort,
)
from kubeproxy_sim.proxier.config import ProxyConfig


def _ip(base: int, offset: int) -> str:
    value = base + offset
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def scale_cluster(services: int, endpoints: int, nodes: int = 3) -> Cluster:
    """Service i: 10.96.0.0+i+1 port 80; endpoints port 8080 round-robin on the nodes, in node N's 10.N.0.0/16."""
    node_objs = tuple(Node(f"node{i}", (NodeAddress("InternalIP", f"192.168.0.{9 + i}"),), (f"10.{i}.0.0/16",),
                           (("topology.kubernetes.io/zone", f"zone-{'abc'[(i - 1) % 3]}"),))
                      for i in range(1, nodes + 1))
    svcs, slices = [], []
    k = 0
    for i in range(services):
        name = f"svc-{i:05d}"
        svcs.append(Service("scale", name, cluster_ips=(_ip(0x0A600000, i + 1),),
                            ports=(ServicePort("http", Protocol.TCP, 80, 8080),), selector=(("app", name),)))
        eps = []
        for _ in range(endpoints):
            k += 1
            node = (k - 1) % nodes + 1
            address = _ip(0x0A000000 + (node << 16), k // nodes + 2)
            eps.append(Endpoint((address,), EndpointConditions(True, True, False), node_name=f"node{node}"))
        slices.append(EndpointSlice("scale", f"{name}-000", name, AddressType.IPV4, tuple(eps),
                                    (EndpointPort("http", 8080, Protocol.TCP),)))
    return Cluster(tuple(svcs), tuple(slices), node_objs, ())


def bench_connections(services: int = 1000, endpoints: int = 10, connections: int = 100_000, nodes: int = 3,
                      seed: int = 1) -> dict[str, float]:
    """Seconds to build the simulator and to make the connections (TCP: SYN, SYN-ACK, ACK each)."""
    from kubeproxy_sim.simulator.network import Simulator

    cluster = scale_cluster(services, endpoints, nodes)
    start = time.perf_counter()
    sim = Simulator(cluster, ProxyConfig(node_name="node1", cluster_cidrs=("10.0.0.0/8",)), rng=random.Random(seed),
                    lazy=False)  # the set-up figure includes compiling every node; the run is connections only
    setup = time.perf_counter() - start
    clients = [sim.client("pod", p.key) for p in sim.topology.pods[: nodes * 4]]
    vips = [s.cluster_ips[0] for s in cluster.services]
    failed = 0
    start = time.perf_counter()
    for i in range(connections):
        result = sim.connect(clients[i % len(clients)], vips[i % len(vips)], 80)
        failed += result.failure is not None
        sim.advance(0.0001)
    run = time.perf_counter() - start
    return {"setup_s": setup, "run_s": run, "per_connection_us": run / connections * 1e6, "failed": failed,
            "connections": connections, "services": services}
