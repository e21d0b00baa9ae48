"""The Service fields that only one type of Service may carry, checked as the API server checks them.

A Service is a union discriminated by ``spec.type``: some fields make sense for one type alone, and
kube-apiserver refuses the object that carries them under another (pkg/apis/core/validation/validation.go,
ValidateService and validateServiceExternalTrafficPolicy, read at kubernetes 531be81208e2): source ranges, the
load-balancer node port switch and class are LoadBalancer's; a health check node port is a LoadBalancer's with
externalTrafficPolicy Local; a node port is not a ClusterIP Service's; an external traffic policy is only an
externally reachable Service's (NodePort, LoadBalancer, or ClusterIP with external IPs).

The rules are data (:data:`TYPE_ONLY_FIELDS`) and a few small functions over the document as written (a mapping
from JSON or YAML), so the manifest reader and the scenario's API server (after its strategy's dropTypeDependentFields
on an update) say the same thing. They are pure, and cheap when none of the fields is set: reading 10,000 Services
pays one set test per Service (:func:`type_field_errors`).

Each finding is a :class:`FieldError`, which prints as Go's field.Error prints (``path: Forbidden: detail``,
``path: Invalid value: 32001: detail``); :func:`invalid_message` is kubectl's line for an update or create the API
server refuses. The API server names the source ranges' path ``spec.LoadBalancerSourceRanges``, capital L (its
validation builds the path with that spelling), and kubectl prints it so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
LOAD_BALANCER = "LoadBalancer"
ONLY_LOAD_BALANCER = "may only be used when `type` is 'LoadBalancer'"
ONLY_LOCAL_LOAD_BALANCER = "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
ONLY_ACCESSIBLE = "may only be set for externally-accessible services"
NOT_CLUSTER_IP = "may not be used when `type` is 'ClusterIP'"

TYPE_ONLY_FIELDS: tuple[tuple[str, str], ...] = (
    # (spec field, the path the API server names): Forbidden unless the Service is a LoadBalancer, in
    # ValidateService's order; set means a non-empty list for the ranges, any value (false too) for the others
    ("loadBalancerSourceRanges", "spec.LoadBalancerSourceRanges"),
    ("allocateLoadBalancerNodePorts", "spec.allocateLoadBalancerNodePorts"),
    ("loadBalancerClass", "spec.loadBalancerClass"),
)
_WATCHED = frozenset({*(key for key, _ in TYPE_ONLY_FIELDS), "externalTrafficPolicy", "healthCheckNodePort"})
"""The spec fields any rule here reads but ``type``, ``externalIPs`` and ``ports``: none set, no rule applies."""
_NONE: tuple[FieldError, ...] = ()


class FieldError(NamedTuple):
    """One of the API server's field errors: ``kind`` is Go's ErrorType text (``Forbidden``, ``Invalid value``),
    ``value`` the bad value (shown for Invalid only)."""

    path: str
    kind: str
    detail: str
    value: Any = None

    def text(self) -> str:
        """As field.Error's Error() prints it: a string value quoted as Go's %q, a number as it is."""
        if self.kind != "Invalid value":
            return f"{self.path}: {self.kind}: {self.detail}"
        shown = json.dumps(self.value) if isinstance(self.value, str) or self.value is None else str(self.value)
        return f"{self.path}: {self.kind}: {'null' if self.value is None else shown}: {self.detail}"


def service_type(spec: Mapping[str, Any]) -> Any:
    """spec.type as written, ClusterIP (the API server's default) when unset."""
    return spec.get("type") or "ClusterIP"


def externally_accessible(spec: Mapping[str, Any]) -> bool:
    """apiservice.ExternallyAccessible: NodePort and LoadBalancer, or ClusterIP with external IPs."""
    kind = service_type(spec)
    return kind in ("NodePort", LOAD_BALANCER) or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def needs_health_check(spec: Mapping[str, Any]) -> bool:
    """apiservice.NeedsHealthCheck: a LoadBalancer with externalTrafficPolicy Local."""
    return service_type(spec) == LOAD_BALANCER and spec.get("externalTrafficPolicy") == "Local"


def type_field_errors(spec: Mapping[str, Any], annotations: Mapping[str, Any] | None = None,
                      *, traffic_policy: bool = True) -> tuple[FieldError, ...]:
    """The errors of the fields the Service's type may not carry, in ValidateService's order: the LoadBalancer
    fields (the source ranges annotation when spec.loadBalancerSourceRanges is empty), then the external
    traffic policy (``traffic_policy``: checked; the manifest reader tells that one itself) and the health check
    node port. A port's node port is :func:`node_port_errors`'."""
    if _WATCHED.isdisjoint(spec) and not (annotations and SOURCE_RANGES_ANNOTATION in annotations):
        return _NONE
    errors = [FieldError(path, "Forbidden", ONLY_LOAD_BALANCER) for key, path in _load_balancer_fields(spec,
                                                                                                      annotations)]
    policy = spec.get("externalTrafficPolicy")
    if traffic_policy and policy not in (None, "") and not externally_accessible(spec):
        errors.append(FieldError("spec.externalTrafficPolicy", "Invalid value", ONLY_ACCESSIBLE, policy))
    health = spec.get("healthCheckNodePort")
    if health not in (None, 0) and not needs_health_check(spec):
        errors.append(FieldError("spec.healthCheckNodePort", "Invalid value", ONLY_LOCAL_LOAD_BALANCER, health))
    return tuple(errors)


def _load_balancer_fields(spec: Mapping[str, Any],
                          annotations: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(key, path) of each LoadBalancer-only field set on a Service of another type."""
    if service_type(spec) == LOAD_BALANCER:
        return []
    found = [(key, path) for key, path in TYPE_ONLY_FIELDS
             if (spec.get(key) if key == "loadBalancerSourceRanges" else spec.get(key) is not None)]
    if not spec.get("loadBalancerSourceRanges") and annotations and SOURCE_RANGES_ANNOTATION in annotations:
        found.insert(0, (SOURCE_RANGES_ANNOTATION, f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"))
    return found


def node_port_errors(spec: Mapping[str, Any]) -> tuple[FieldError, ...]:
    """A ClusterIP Service's ports may not name a node port (ValidateService; the manifest reader has its own
    check, in its words)."""
    ports = spec.get("ports")
    if service_type(spec) != "ClusterIP" or not isinstance(ports, list):
        return _NONE
    return tuple(FieldError(f"spec.ports[{i}].nodePort", "Forbidden", NOT_CLUSTER_IP)
                 for i, port in enumerate(ports) if isinstance(port, Mapping) and port.get("nodePort"))


def service_errors(doc: Mapping[str, Any]) -> tuple[FieldError, ...]:
    """Every type-dependent error of a Service document, in ValidateService's order: what the API server says
    of it on create, and on update once dropTypeDependentFields has cleared what the new type no longer uses."""
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return _NONE
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return (*node_port_errors(spec),
            *type_field_errors(spec, annotations if isinstance(annotations, Mapping) else None))


def manifest_problems(spec: Mapping[str, Any], metadata: Any) -> list[tuple[str, str, bool]]:
    """(field path as the manifest writes it, message, whether it is an error) for each field of
    :func:`type_field_errors` but the external traffic policy (the manifest reader reads that one leniently and
    warns of it itself), naming the type and that the API server refuses the object. A health check node port the
    Service does not need is only a warning: kube-proxy reads it only where apiservice.NeedsHealthCheck (its
    serviceport.go), so it changes nothing, and upstream's proxier tests, which rulesets/ reproduce, build
    LoadBalancer Services with externalTrafficPolicy Cluster that carry one; one the reader refused as no port is
    not told again."""
    annotations = metadata.get("annotations") if type(metadata) is dict else None
    if type(annotations) is not dict:
        annotations = None
    if _WATCHED.isdisjoint(spec) and (annotations is None or SOURCE_RANGES_ANNOTATION not in annotations):
        return []  # the common case, decided here: one call a Service of a large cluster
    errors = type_field_errors(spec, annotations, traffic_policy=False)
    if not errors:
        return []
    this = f"type {service_type(spec)}"
    found = []
    for e in errors:
        if e.path != "spec.healthCheckNodePort":
            found.append((_WRITTEN.get(e.path, e.path), f"{e.detail} (this Service: {this}); the API server refuses "
                                                         "it", True))
        elif _a_port(e.value):
            found.append((e.path, f"{e.detail} (this Service: {this}{_with_policy(spec)}); the API server refuses "
                                  "the Service, and kube-proxy ignores the port", False))
    return found


def _a_port(value: Any) -> bool:
    """A port number the reader took (another value it has refused as such: once is enough)."""
    return type(value) is int and 0 < value <= 65535


def _with_policy(spec: Mapping[str, Any]) -> str:
    return f", externalTrafficPolicy {spec.get('externalTrafficPolicy') or 'Cluster'}"


_WRITTEN = {"spec.LoadBalancerSourceRanges": "spec.loadBalancerSourceRanges",
            f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]": f"metadata.annotations.{SOURCE_RANGES_ANNOTATION}"}
"""The paths the API server spells otherwise than the manifest reader's messages do."""


def invalid_message(kind: str, name: str, errors: tuple[FieldError, ...] | list[FieldError]) -> str:
    """kubectl's words for the API server's Invalid status (``The Service "web" is invalid: ...``), on one line as
    every diagnostic here is: several errors in brackets, as Go's error aggregate prints them and as
    controllers.world's refusals list them (kubectl's MultilineError puts each on a ``* `` line of its own)."""
    texts = [error.text() for error in errors]
    return f'The {kind} "{name}" is invalid: ' + (texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")
