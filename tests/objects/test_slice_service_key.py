"""An EndpointSlice belongs to the Service its kubernetes.io/service-name label names, in the slice's own namespace
(kube-proxy's endpointslicecache keys it so; a slice cannot name a Service of another namespace):
EndpointSlice.service_key spells that key once, and every grouping of slices by Service reads it there."""

from __future__ import annotations

import io

from kubeproxy_sim.cli.demo_cmd import describe_cluster
from kubeproxy_sim.cli.options import Inputs
from kubeproxy_sim.cli.output import Console
from kubeproxy_sim.objects.mirror import MANAGED_BY_LABEL, MIRROR_CONTROLLER
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointSlice,
    LoadBalancerIngress,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    TrafficPolicy,
)
from kubeproxy_sim.objects.overlap import slices_by_service
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.loadbalancer import LoadBalancer
from kubeproxy_sim.watch.state import mirrored_from
from kubeproxy_sim.watch.trackers import slice_service

MIRRORED = ((MANAGED_BY_LABEL, MIRROR_CONTROLLER),)


def _slice(namespace: str, name: str, service: str, labels: tuple[tuple[str, str], ...] = ()) -> EndpointSlice:
    return EndpointSlice(namespace, name, service, AddressType.IPV4, (Endpoint(("10.1.0.7",), node_name="n1"),),
                         labels=labels)


# the same Service name in two namespaces, and a slice that names no Service
WEB_A, WEB_B = _slice("ns", "web-a", "web"), _slice("ns", "web-b", "web")
OTHER = _slice("other", "web-c", "web")
NAMELESS = _slice("ns", "loose", "")


def test_the_key_is_the_named_services_key_in_the_slices_namespace() -> None:
    assert WEB_A.service_key == Service("ns", "web").key == "ns/web"
    assert OTHER.service_key == "other/web"


def test_slices_group_by_their_service_and_a_nameless_one_by_none() -> None:
    assert slices_by_service([WEB_A, OTHER, NAMELESS, WEB_B]) == {"ns/web": [WEB_A, WEB_B], "other/web": [OTHER]}
    assert [slice_service(s) for s in (WEB_A, OTHER, NAMELESS)] == ["ns/web", "other/web", None]


def test_mirrored_slices_are_found_by_their_endpoints_key() -> None:
    mirrored = [_slice("ns", "web-m", "web", MIRRORED), _slice("other", "web-m", "web", MIRRORED)]
    cluster = Cluster(endpoint_slices=(*mirrored, WEB_A, _slice("ns", "loose-m", "", MIRRORED)))
    assert mirrored_from(cluster) == {"ns/web": (mirrored[0],), "other/web": (mirrored[1],)}


def test_the_balancer_probes_a_service_with_its_own_slices_only() -> None:
    web = Service("ns", "web", ServiceType.LOAD_BALANCER, load_balancer_ingress=(LoadBalancerIngress("192.0.2.1"),),
                  ports=(ServicePort("p", Protocol.TCP, 80, 8080, 30080),),
                  external_traffic_policy=TrafficPolicy.LOCAL, health_check_node_port=30000)
    balancer = LoadBalancer(Cluster((web,), (WEB_A, OTHER, NAMELESS, WEB_B)), {"n1": ProxyConfig()}, ["n1"], 4)
    assert balancer.probed == {"ns/web"}
    assert balancer._grouped() == {"ns/web": [WEB_A, WEB_B]}


def test_the_demo_names_each_endpoints_service() -> None:
    inputs = Inputs(Cluster(endpoint_slices=(OTHER, NAMELESS)), ProxyConfig(node_name="n1"), ())
    lines = describe_cluster(inputs, Console(io.StringIO()))
    rows = [line.split()[-1] for line in lines if "10.1.0.7" in line]
    assert rows == ["other/web", "ns/"]
