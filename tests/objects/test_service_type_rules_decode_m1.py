"""The manifest reader refuses a Service carrying a field its type may not carry (objects.service_type_rules), as
README "Inputs and outputs" promises for an object the API server would refuse: ``rules -f`` read a NodePort with
loadBalancerSourceRanges, or with a healthCheckNodePort, silently (u1's walkthrough)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubeproxy_sim.objects import LoadResult

LB_ONLY = "may only be used when `type` is 'LoadBalancer'"
REFUSED = "the API server refuses it"
LOCAL = {"externalTrafficPolicy": "Local", "healthCheckNodePort": 32001, "loadBalancerSourceRanges": ["192.0.2.0/24"]}
"""What a local load balancer carries, and a NodePort may not all carry."""


def _service(name: str, metadata: dict[str, Any] | None = None, **spec: Any) -> str:
    """A Service manifest (JSON, which the YAML reader reads) selecting app=web on port 80 unless ``spec`` says
    otherwise: each test writes only the fields it is about."""
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, **(metadata or {})},
                       "spec": spec})


def test_a_node_port_with_source_ranges_is_refused(
        load: Callable[..., LoadResult], messages: Callable[[LoadResult], list[str]]) -> None:
    result = load(_service("np", type="NodePort", **LOCAL))
    assert result.cluster.services == ()
    assert messages(result) == [
        f"t.yaml: Service default/np: spec.loadBalancerSourceRanges: {LB_ONLY} (this Service: type NodePort); "
        f"{REFUSED}"]  # (no warning after an object's errors)


def test_a_health_check_port_kube_proxy_ignores_is_only_a_warning(
        load: Callable[..., LoadResult], messages: Callable[[LoadResult], list[str]]) -> None:
    """Upstream's proxier tests build such LoadBalancer Services (rulesets/upstream-internal-external-masquerade-*):
    kube-proxy reads the port only with externalTrafficPolicy Local, so the Service is read."""
    result = load(_service("lb", type="LoadBalancer", healthCheckNodePort=32001, clusterIP="10.96.0.10",
                           ports=[{"port": 80, "nodePort": 30080}]))
    assert [s.name for s in result.cluster.services] == ["lb"]
    assert not result.errors
    assert messages(result) == [
        "t.yaml: Service default/lb: spec.healthCheckNodePort: warning: may only be set when `type` is "
        "'LoadBalancer' and `externalTrafficPolicy` is 'Local' (this Service: type LoadBalancer, "
        "externalTrafficPolicy Cluster); the API server refuses the Service, and kube-proxy ignores the port"]


def test_the_load_balancer_fields_and_the_annotation_on_a_cluster_ip_service(
        load: Callable[..., LoadResult], messages: Callable[[LoadResult], list[str]]) -> None:
    key = "service.beta.kubernetes.io/load-balancer-source-ranges"
    result = load(_service("c", {"annotations": {key: "10.0.0.0/8"}}, allocateLoadBalancerNodePorts=False,
                           loadBalancerClass="example.com/lb"))
    assert result.cluster.services == ()
    assert messages(result) == [
        f"t.yaml: Service default/c: {where}: {LB_ONLY} (this Service: type ClusterIP); {REFUSED}"
        for where in (f"metadata.annotations.{key}", "spec.allocateLoadBalancerNodePorts", "spec.loadBalancerClass")]


def test_a_local_load_balancer_with_every_field_is_read(
        load: Callable[..., LoadResult], messages: Callable[[LoadResult], list[str]]) -> None:
    result = load(_service("lb", type="LoadBalancer", **LOCAL, allocateLoadBalancerNodePorts=False,
                           loadBalancerClass="example.com/lb"))
    assert [s.name for s in result.cluster.services] == ["lb"], messages(result)
    assert result.cluster.services[0].health_check_node_port == 32001
    assert not result.errors
