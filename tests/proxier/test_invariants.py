"""Properties of every generated ruleset, over random clusters."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects.model import EndpointPort, IPFamily, Protocol, ServiceType
from kubeproxy_sim.objects.model import SessionAffinity as SA
from kubeproxy_sim.objects.model import TrafficPolicy as TP
from tests.budget import budget

from .builders import cluster, ep, eps, fake_config, port, service
from .dumps import check_jumps, rules_text, upstream_sort

NODES = ("test-node", "node2", None)


@st.composite
def services_and_slices(draw):
    objects = []
    for i in range(draw(st.integers(0, 5))):
        ns, name = draw(st.sampled_from(["a", "b", "ns1"])), f"svc{i}"
        kind = draw(st.sampled_from(list(ServiceType)[:3]))
        proto = draw(st.sampled_from(list(Protocol)))
        node_port = 30000 + i if kind is not ServiceType.CLUSTER_IP else 0
        objects.append(service(
            ns, name, f"172.30.0.{i + 1}", port("p", 80, proto, node_port),
            type=kind,
            external_ips=tuple(draw(st.lists(st.sampled_from(["192.168.99.1", "192.168.99.2"]), max_size=2,
                                             unique=True))),
            lb=tuple(draw(st.lists(st.sampled_from(["1.2.3.4", "5.6.7.8"]), max_size=2, unique=True)))
            if kind is ServiceType.LOAD_BALANCER else (),
            load_balancer_source_ranges=tuple(draw(st.lists(st.sampled_from(["203.0.113.0/25", "192.168.0.0/24"]),
                                                            max_size=2, unique=True))),
            external_traffic_policy=draw(st.sampled_from(list(TP))),
            internal_traffic_policy=draw(st.sampled_from(list(TP))),
            health_check_node_port=32000 + i,
            session_affinity=draw(st.sampled_from(list(SA))),
        ))
        endpoints = [ep(f"10.180.{i}.{j}", node=draw(st.sampled_from(NODES)), ready=draw(st.booleans()),
                        serving=draw(st.booleans()), terminating=draw(st.booleans()),
                        zones=draw(st.sampled_from([None, ("z1",), ("z2",)])))
                     for j in range(draw(st.integers(0, 4)))]
        objects.append(eps(ns, name, *endpoints, ports=(EndpointPort("p", 8080, proto),)))
    return cluster(*objects)


CONFIGS = st.builds(
    fake_config,
    localhost_nodeports=st.booleans(),
    masquerade_all=st.booleans(),
    nodeport_addresses=st.sampled_from([(), ("192.168.0.0/24",), ("127.0.0.0/8", "192.168.1.0/24")]),
    node_labels=st.sampled_from([(), (("topology.kubernetes.io/zone", "z1"),)]),
    ip_family=st.just(IPFamily.IPV4),
)


@settings(max_examples=budget(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services_and_slices(), CONFIGS)
def test_output_is_canonical_and_consistent(c, config):
    text = rules_text(c, config)
    assert upstream_sort(text) == text
    assert check_jumps(text) == []


@settings(max_examples=budget(50), deadline=None)
@given(services_and_slices(), CONFIGS)
def test_generation_is_deterministic_and_independent_of_object_order(c, config):
    reordered = type(c)(tuple(reversed(c.services)), tuple(reversed(c.endpoint_slices)))
    assert rules_text(c, config) == rules_text(reordered, config)
