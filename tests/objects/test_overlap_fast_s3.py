"""The fast paths of objects.overlap find what the plain definitions find.

conflicting_copies and service_conflicts skip a Service with fewer than two slices before filtering them. The
invariant: conflicting_copies yields exactly what service_conflicts says of each Service in turn, on slices of any
shape (several Services, repeats, terminating copies, several addresses an endpoint, another proxy's slices); and
repeated_addresses names only first addresses listed before.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Service,
)
from kubeproxy_sim.objects.overlap import (
    conflicting_copies,
    repeated_addresses,
    service_conflicts,
    slices_by_service,
)
from tests.budget import budget

ADDRESSES = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "fd00::1"]
conditions = st.builds(EndpointConditions, ready=st.sampled_from([None, True, False]),
                       serving=st.sampled_from([None, True, False]), terminating=st.sampled_from([None, True, False]))
endpoints = st.builds(Endpoint, addresses=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3).map(tuple),
                      conditions=conditions, node_name=st.sampled_from([None, "node1", "node2"]),
                      hints_for_zones=st.sampled_from([None, (), ("a",), ("b", "a")]))
endpoint_lists = st.lists(endpoints, max_size=6).map(tuple)
labels = st.sampled_from([(), (("kubernetes.io/service-name", "web"),),
                          (("service.kubernetes.io/service-proxy-name", "other"),)])
slices = st.builds(EndpointSlice, namespace=st.just("ns"), name=st.sampled_from(["a", "b", "c", "d"]),
                   service_name=st.sampled_from(["web", "api", ""]),
                   address_type=st.sampled_from([AddressType.IPV4, AddressType.FQDN]), endpoints=endpoint_lists,
                   ports=st.sampled_from([(), (EndpointPort("p", 8080),), (EndpointPort("p", None),)]),
                   labels=labels)


def _services() -> dict[str, Service]:
    text = "".join(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\n"
                   f"spec: {{clusterIP: 10.96.0.{i + 10}, ports: [{{name: p, port: 80}}]}}\n"
                   for i, name in enumerate(["web", "api"]))
    result = load_text(text)
    assert result.ok, result.diagnostics
    return {s.key: s for s in result.cluster.services}


SERVICES = _services()


@settings(max_examples=budget(300), deadline=None)
@given(st.lists(slices, max_size=6))
def test_conflicting_copies_is_service_conflicts_per_service(found: list[EndpointSlice]) -> None:
    grouped = slices_by_service(found)
    expected = [(service, notes) for key, service in SERVICES.items()
                if (notes := service_conflicts(service, grouped.get(key, [])))]
    assert list(conflicting_copies(SERVICES, found)) == expected


@settings(max_examples=budget(300), deadline=None)
@given(slices)
def test_repeated_addresses_names_each_repeat_that_differs(es: EndpointSlice) -> None:
    firsts = [ep.addresses[0] for ep in es.endpoints]
    found = repeated_addresses(es)
    assert len(found) <= len(firsts) - len(set(firsts))
    for path, message in found:
        index = int(path.split("[")[1].split("]")[0])
        assert firsts[index] in firsts[:index] and f"address {firsts[index]} is listed" in message
