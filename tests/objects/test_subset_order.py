"""objects.subset_order: RepackSubsets' final SortSubsets orders an Endpoints object's ports and subsets by the MD5
of go-spew's ``%#v`` of the API server's internal types (pkg/api/endpoints/util.go, pkg/util/hash DeepHashObject).

The expected digests were printed by Go (go1.x, go-spew's formatter paths for %#v with methods disabled, over
structs declared as pkg/apis/core declares EndpointSubset, EndpointAddress, EndpointPort and ObjectReference):
the Python text must be the same bytes."""

from __future__ import annotations

from kubeproxy_sim.objects.mirror import EndpointsAddress, EndpointsPort, EndpointsSubset, repack_subsets, sort_subsets
from kubeproxy_sim.objects.model import IPFamily, Protocol
from kubeproxy_sim.objects.subset_order import CORE, V1, port_hash, subset_hash

HTTP = EndpointsPort("http", 80)
H2C = EndpointsPort("", 8080, Protocol.UDP, "kubernetes.io/h2c")


def _v4(ip: str, **fields: object) -> EndpointsAddress:
    return EndpointsAddress(ip, IPFamily.IPV4, **fields)  # type: ignore[arg-type]


def test_the_digests_are_gos() -> None:
    assert port_hash(HTTP) == "76747a3a56cb5d96e2b0d34ea6ee337f"
    assert port_hash(H2C) == "9b23734257da4ae2ba2a098c45d1095f"
    both = EndpointsSubset(addresses=(_v4("10.0.0.1", node_name="node1", target_ref=("Pod", "default", "p1"),
                                          uid="u1"), _v4("10.0.0.2", hostname="h")), ports=(HTTP,))
    assert subset_hash(both) == "b8083bff790514010ddeba07799f7ca5"
    portless = EndpointsSubset(not_ready_addresses=(EndpointsAddress("fd00::1", IPFamily.IPV6),))
    assert subset_hash(portless) == "2b700d5ca8bb9350f1491508a390dd02"


def test_repacked_ports_and_subsets_come_in_hash_order_not_as_first_seen() -> None:
    """Written http then dns, and the 8080/5353 subset first: stored with the ports and subsets by hash."""
    http, dns = EndpointsPort("http", 8080), EndpointsPort("dns", 5353, Protocol.UDP)
    given = (EndpointsSubset(addresses=(_v4("10.1.0.1"),), ports=(dns, http)),
             EndpointsSubset(addresses=(_v4("10.1.0.3"),), ports=(EndpointsPort("http", 9090),)))
    repacked = repack_subsets(given)
    assert [s.ports for s in repacked] == [(EndpointsPort("http", 9090),), (http, dns)]
    assert [subset_hash(s) for s in repacked] == sorted(subset_hash(s) for s in repacked)
    assert port_hash(http) < port_hash(dns)


def test_the_v1_digests_name_the_v1_types_and_give_another_order() -> None:
    """pkg/api/v1/endpoints (the endpoints controller's RepackSubsets) hashes k8s.io/api/core/v1's types, printed
    v1.EndpointSubset, v1.Protocol, ...: other digests (printed by Go over the same structs declared in a package
    v1), so eight one-port subsets come in another order than the API server's."""
    assert port_hash(HTTP, V1) == "a0afc9289a5b862f31961966cd661a6e"
    assert port_hash(H2C, V1) == "f829d0bcf2d9a0b186b12012903fd9bc"
    both = EndpointsSubset(addresses=(_v4("10.0.0.1", node_name="node1", target_ref=("Pod", "default", "p1"),
                                          uid="u1"), _v4("10.0.0.2", hostname="h")), ports=(HTTP,))
    assert subset_hash(both, V1) == "89ef77816b21d775431bf6b8009111fd"
    portless = EndpointsSubset(not_ready_addresses=(EndpointsAddress("fd00::1", IPFamily.IPV6),))
    assert subset_hash(portless, V1) == "f6cd40ccc9ddd867e87d67d13a8f842a"
    eight = [EndpointsSubset(addresses=(_v4(f"10.0.0.{i + 1}"),), ports=(EndpointsPort("", 8080 + i),))
             for i in range(8)]
    assert [s.ports[0].port for s in sort_subsets(eight, CORE)] == [8084, 8081, 8087, 8085, 8086, 8082, 8083, 8080]
    assert [s.ports[0].port for s in sort_subsets(eight, V1)] == [8080, 8081, 8086, 8084, 8085, 8083, 8087, 8082]
