"""Scale: 10,000 services x 10 endpoints (320,000 rules) in one sync (its speed: tools/bench.py)."""

from __future__ import annotations

from kubeproxy_sim.objects.model import AddressType, Cluster, Endpoint, EndpointPort, EndpointSlice
from kubeproxy_sim.proxier import generate

from .builders import fake_config, service


def big_cluster(n_services: int = 10_000, n_endpoints: int = 10) -> Cluster:
    services, slices = [], []
    for i in range(n_services):
        ns, name = f"ns{i % 50}", f"svc{i}"
        services.append(service(ns, name, f"172.30.{i // 256}.{i % 256}"))
        endpoints = tuple(Endpoint((f"10.{i // 256}.{i % 256}.{j}",), node_name="node2") for j in range(n_endpoints))
        slices.append(EndpointSlice(ns, f"{name}-1", name, AddressType.IPV4, endpoints=endpoints,
                                    ports=(EndpointPort("p80", 80),)))
    return Cluster(tuple(services), tuple(slices))


def test_ten_thousand_services():
    c = big_cluster()
    result = generate(c, fake_config())
    nat = result.ruleset.table("nat")
    assert sum(len(ch.rules) for ch in nat.chains) == 10_000 * 32 + 5
    assert not any("--comment" in r.spec for ch in nat.chains if ch.name.startswith("KUBE-SEP-") for r in ch.rules)
