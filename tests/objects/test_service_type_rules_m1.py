"""objects.service_type_rules: the fields one type of Service alone may carry, refused as kube-apiserver's
ValidateService refuses them (pkg/apis/core/validation/validation.go at 531be81208e2: the source ranges, field and
annotation, allocateLoadBalancerNodePorts and loadBalancerClass are LoadBalancer's; healthCheckNodePort a
LoadBalancer's with externalTrafficPolicy Local (validateServiceExternalTrafficPolicy); no nodePort on ClusterIP;
externalTrafficPolicy only on an externally accessible Service), in its order and in kubectl's words."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import service_type_rules as R

LB_ONLY = "may only be used when `type` is 'LoadBalancer'"
HC_ONLY = "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"


def doc(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def texts(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> list[str]:
    return [e.text() for e in R.service_errors(doc(spec, annotations))]


def test_source_ranges_on_a_cluster_ip_service_are_forbidden_by_the_api_servers_path() -> None:
    # the API server builds this path as specPath.Child("LoadBalancerSourceRanges"): kubectl prints it capitalised
    assert texts({"type": "ClusterIP", "loadBalancerSourceRanges": ["192.0.2.0/24"]}) == [
        f"spec.LoadBalancerSourceRanges: Forbidden: {LB_ONLY}"]
    assert texts({"type": "LoadBalancer", "loadBalancerSourceRanges": ["192.0.2.0/24"]}) == []
    assert texts({"type": "NodePort", "loadBalancerSourceRanges": []}) == []  # an empty list is not set


def test_the_annotation_is_checked_only_when_the_field_is_empty() -> None:
    key = R.SOURCE_RANGES_ANNOTATION
    assert texts({"type": "NodePort"}, {key: "10.0.0.0/8"}) == [
        f"metadata.annotations[{key}]: Forbidden: {LB_ONLY}"]
    assert texts({"type": "NodePort", "loadBalancerSourceRanges": ["10.0.0.0/8"]}, {key: "10.0.0.0/8"}) == [
        f"spec.LoadBalancerSourceRanges: Forbidden: {LB_ONLY}"]
    assert texts({"type": "LoadBalancer"}, {key: "10.0.0.0/8"}) == []


def test_load_balancer_switch_and_class_are_forbidden_on_other_types_false_included() -> None:
    assert texts({"type": "NodePort", "allocateLoadBalancerNodePorts": False, "loadBalancerClass": "x/y"}) == [
        f"spec.allocateLoadBalancerNodePorts: Forbidden: {LB_ONLY}", f"spec.loadBalancerClass: Forbidden: {LB_ONLY}"]
    assert texts({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False, "loadBalancerClass": "x/y"}) == []


def test_health_check_node_port_needs_a_local_load_balancer() -> None:
    # the walkthrough's NodePort with externalTrafficPolicy Local and a healthCheckNodePort (u1 np-lbsr.yaml)
    assert texts({"type": "NodePort", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32001}) == [
        f"spec.healthCheckNodePort: Invalid value: 32001: {HC_ONLY}"]
    assert texts({"type": "LoadBalancer", "externalTrafficPolicy": "Cluster", "healthCheckNodePort": 32001}) == [
        f"spec.healthCheckNodePort: Invalid value: 32001: {HC_ONLY}"]
    assert texts({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 32001}) == []
    assert texts({"type": "NodePort", "healthCheckNodePort": 0}) == []  # 0 is unset (Go's zero value)


def test_external_traffic_policy_only_on_an_externally_accessible_service() -> None:
    why = "may only be set for externally-accessible services"
    assert texts({"externalTrafficPolicy": "Local"}) == [f'spec.externalTrafficPolicy: Invalid value: "Local": {why}']
    assert texts({"type": "ExternalName", "externalName": "a.example", "externalTrafficPolicy": "Cluster"}) == [
        f'spec.externalTrafficPolicy: Invalid value: "Cluster": {why}']
    assert texts({"externalTrafficPolicy": "Local", "externalIPs": ["192.0.2.9"]}) == []  # ClusterIP with external IPs
    assert R.type_field_errors({"externalTrafficPolicy": "Local"}, traffic_policy=False) == ()


def test_node_port_on_cluster_ip_comes_first_as_validate_service_orders_it() -> None:
    assert texts({"ports": [{"port": 80}, {"port": 81, "nodePort": 30081}], "loadBalancerSourceRanges": ["::/0"]}) \
        == ["spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
            f"spec.LoadBalancerSourceRanges: Forbidden: {LB_ONLY}"]
    assert texts({"type": "ExternalName", "externalName": "a.example", "ports": [{"port": 80, "nodePort": 30080}]}) \
        == []  # ValidateService forbids it on ClusterIP alone


def test_kubectls_words_for_one_and_several_errors() -> None:
    one = R.service_errors(doc({"type": "ClusterIP", "loadBalancerSourceRanges": ["192.0.2.0/24"]}))
    assert R.invalid_message("Service", "web", one) == (
        f'The Service "web" is invalid: spec.LoadBalancerSourceRanges: Forbidden: {LB_ONLY}')
    two = R.service_errors(doc({"type": "NodePort", "loadBalancerSourceRanges": ["a"], "loadBalancerClass": "c"}))
    assert R.invalid_message("Service", "web", two) == (
        f'The Service "web" is invalid: [spec.LoadBalancerSourceRanges: Forbidden: {LB_ONLY}, '
        f"spec.loadBalancerClass: Forbidden: {LB_ONLY}]")


def test_the_manifest_readers_messages_name_the_field_as_written() -> None:
    spec = {"type": "NodePort", "loadBalancerSourceRanges": ["10.0.0.0/8"], "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 32001}
    assert R.manifest_problems(spec, {"name": "np"}) == [
        ("spec.loadBalancerSourceRanges", f"{LB_ONLY} (this Service: type NodePort); the API server refuses it", True),
        # kube-proxy reads a health check port only where NeedsHealthCheck: told, not refused
        ("spec.healthCheckNodePort", f"{HC_ONLY} (this Service: type NodePort, externalTrafficPolicy Local); the "
                                     "API server refuses the Service, and kube-proxy ignores the port", False)]
    assert R.manifest_problems({"externalTrafficPolicy": "Local"}, None) == []  # the reader warns of that itself
    assert R.manifest_problems({"type": "NodePort", "healthCheckNodePort": -5}, None) == []  # refused as no port
    key = R.SOURCE_RANGES_ANNOTATION
    assert R.manifest_problems({}, {"annotations": {key: "10.0.0.0/8"}})[0][0] == f"metadata.annotations.{key}"


def test_no_watched_field_is_the_fast_path() -> None:
    spec = {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"port": 80}], "clusterIP": "10.96.0.10"}
    assert R.type_field_errors(spec) is R.type_field_errors({})  # the shared empty answer, nothing built


_TYPES = st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName", None])
_SPECS = st.fixed_dictionaries({}, optional={
    "type": _TYPES, "loadBalancerSourceRanges": st.lists(st.just("10.0.0.0/8"), max_size=2),
    "allocateLoadBalancerNodePorts": st.booleans(), "loadBalancerClass": st.just("x/y"),
    "externalTrafficPolicy": st.sampled_from(["Cluster", "Local"]),
    "healthCheckNodePort": st.integers(0, 32767), "externalIPs": st.lists(st.just("192.0.2.1"), max_size=1)})


@settings(max_examples=300, derandomize=True)
@given(_SPECS)
def test_a_local_load_balancer_carries_every_field_and_no_other_type_gains_one(spec: dict[str, Any]) -> None:
    """Invariants: a LoadBalancer with externalTrafficPolicy Local may carry every field here; dropping the fields
    another type may not carry (as dropTypeDependentFields would, had the user not set them) leaves no error."""
    if spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
        assert R.type_field_errors(spec) == ()
    errors = R.type_field_errors(spec)
    kept = {k: v for k, v in spec.items() if not any(e.path.lower().endswith("." + k.lower()) for e in errors)}
    assert R.type_field_errors(kept) == ()
