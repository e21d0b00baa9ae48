"""objects.fields' field sets are the API's: each checked mapping's fields are its Go struct's json names.

The reference data below is the JSON name of every field of each struct the field check walks (TypeMeta's
apiVersion and kind inlined in the objects), at Kubernetes 1.34, the reference's release (kubeproxy_sim's
KUBERNETES_MINOR): taken from the release-1.34 OpenAPI document, as the Kubernetes Python client 34.1.0 carries it
(each model's ``attribute_map``; the document is generated from the json tags of staging/src/k8s.io/api core/v1
and discovery/v1 types.go and apimachinery's meta/v1). types.go at the reference commit itself is not in the public
source store this was checked with; the stored older versions of core/v1 types.go (815c3d8f, 001a778f) have the
Container struct of this list less restartPolicyRules, which 1.34 added.

A field the API has and the set lacks is warned of as unknown in a valid manifest (the harm this test is for);
a field the set has and the API lacks is a misspelling let through in silence.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.objects import fields
from kubeproxy_sim.objects.fields import Schema

STRUCTS: dict[str, str] = {
    "core/v1 Service": "apiVersion kind metadata spec status",
    "meta/v1 ObjectMeta": (
        "annotations creationTimestamp deletionGracePeriodSeconds deletionTimestamp finalizers generateName generation "
        "labels managedFields name namespace ownerReferences resourceVersion selfLink uid"
    ),
    "core/v1 ServiceSpec": (
        "allocateLoadBalancerNodePorts clusterIP clusterIPs externalIPs externalName externalTrafficPolicy "
        "healthCheckNodePort internalTrafficPolicy ipFamilies ipFamilyPolicy loadBalancerClass loadBalancerIP "
        "loadBalancerSourceRanges ports publishNotReadyAddresses selector sessionAffinity sessionAffinityConfig "
        "trafficDistribution type"
    ),
    "core/v1 ServicePort": "appProtocol name nodePort port protocol targetPort",
    "core/v1 SessionAffinityConfig": "clientIP",
    "core/v1 ClientIPConfig": "timeoutSeconds",
    "core/v1 ServiceStatus": "conditions loadBalancer",
    "core/v1 LoadBalancerStatus": "ingress",
    "core/v1 LoadBalancerIngress": "hostname ip ipMode ports",
    "discovery/v1 EndpointSlice": "addressType apiVersion endpoints kind metadata ports",
    "discovery/v1 EndpointPort": "appProtocol name port protocol",
    "discovery/v1 Endpoint": "addresses conditions deprecatedTopology hints hostname nodeName targetRef zone",
    "discovery/v1 EndpointConditions": "ready serving terminating",
    "core/v1 ObjectReference": "apiVersion fieldPath kind name namespace resourceVersion uid",
    "discovery/v1 EndpointHints": "forNodes forZones",
    "discovery/v1 ForZone": "name",
    "discovery/v1 ForNode": "name",
    "core/v1 Endpoints": "apiVersion kind metadata subsets",
    "core/v1 EndpointSubset": "addresses notReadyAddresses ports",
    "core/v1 EndpointAddress": "hostname ip nodeName targetRef",
    "core/v1 EndpointPort": "appProtocol name port protocol",
    "core/v1 Node": "apiVersion kind metadata spec status",
    "core/v1 NodeSpec": "configSource externalID podCIDR podCIDRs providerID taints unschedulable",
    "core/v1 NodeStatus": (
        "addresses allocatable capacity conditions config daemonEndpoints features images nodeInfo phase "
        "runtimeHandlers volumesAttached volumesInUse"
    ),
    "core/v1 NodeAddress": "address type",
    "core/v1 Pod": "apiVersion kind metadata spec status",
    "core/v1 PodSpec": (
        "activeDeadlineSeconds affinity automountServiceAccountToken containers dnsConfig dnsPolicy enableServiceLinks "
        "ephemeralContainers hostAliases hostIPC hostNetwork hostPID hostUsers hostname hostnameOverride "
        "imagePullSecrets initContainers nodeName nodeSelector os overhead preemptionPolicy priority priorityClassName "
        "readinessGates resourceClaims resources restartPolicy runtimeClassName schedulerName schedulingGates "
        "securityContext serviceAccount serviceAccountName setHostnameAsFQDN shareProcessNamespace subdomain "
        "terminationGracePeriodSeconds tolerations topologySpreadConstraints volumes"
    ),
    "core/v1 Container": (
        "args command env envFrom image imagePullPolicy lifecycle livenessProbe name ports readinessProbe "
        "resizePolicy resources restartPolicy restartPolicyRules securityContext startupProbe stdin stdinOnce "
        "terminationMessagePath terminationMessagePolicy tty volumeDevices volumeMounts workingDir"
    ),
    "core/v1 ContainerPort": "containerPort hostIP hostPort name protocol",
    "core/v1 PodDNSConfig": "nameservers options searches",
    "core/v1 PodDNSConfigOption": "name value",
    "core/v1 PodStatus": (
        "conditions containerStatuses ephemeralContainerStatuses extendedResourceClaimStatus hostIP hostIPs "
        "initContainerStatuses message nominatedNodeName observedGeneration phase podIP podIPs qosClass reason resize "
        "resourceClaimStatuses startTime"
    ),
    "core/v1 PodIP": "ip",
    "core/v1 HostIP": "ip",
    "core/v1 PodCondition": "lastProbeTime lastTransitionTime message observedGeneration reason status type",}
"""Go struct (package and name) -> the JSON names of its fields, at Kubernetes 1.34."""

CHECKED: list[tuple[str, str, str]] = [
    ("Service", "", "core/v1 Service"),
    ("Service", "metadata", "meta/v1 ObjectMeta"),
    ("Service", "spec", "core/v1 ServiceSpec"),
    ("Service", "spec.ports", "core/v1 ServicePort"),
    ("Service", "spec.sessionAffinityConfig", "core/v1 SessionAffinityConfig"),
    ("Service", "spec.sessionAffinityConfig.clientIP", "core/v1 ClientIPConfig"),
    ("Service", "status", "core/v1 ServiceStatus"),
    ("Service", "status.loadBalancer", "core/v1 LoadBalancerStatus"),
    ("Service", "status.loadBalancer.ingress", "core/v1 LoadBalancerIngress"),
    ("EndpointSlice", "", "discovery/v1 EndpointSlice"),
    ("EndpointSlice", "metadata", "meta/v1 ObjectMeta"),
    ("EndpointSlice", "ports", "discovery/v1 EndpointPort"),
    ("endpoint", "", "discovery/v1 Endpoint"),
    ("endpoint", "conditions", "discovery/v1 EndpointConditions"),
    ("endpoint", "targetRef", "core/v1 ObjectReference"),
    ("endpoint", "hints", "discovery/v1 EndpointHints"),
    ("endpoint", "hints.forZones", "discovery/v1 ForZone"),
    ("endpoint", "hints.forNodes", "discovery/v1 ForNode"),
    ("Endpoints", "", "core/v1 Endpoints"),
    ("Endpoints", "metadata", "meta/v1 ObjectMeta"),
    ("Endpoints", "subsets", "core/v1 EndpointSubset"),
    ("Endpoints", "subsets.addresses", "core/v1 EndpointAddress"),
    ("Endpoints", "subsets.addresses.targetRef", "core/v1 ObjectReference"),
    ("Endpoints", "subsets.notReadyAddresses", "core/v1 EndpointAddress"),
    ("Endpoints", "subsets.notReadyAddresses.targetRef", "core/v1 ObjectReference"),
    ("Endpoints", "subsets.ports", "core/v1 EndpointPort"),
    ("Node", "", "core/v1 Node"),
    ("Node", "metadata", "meta/v1 ObjectMeta"),
    ("Node", "spec", "core/v1 NodeSpec"),
    ("Node", "status", "core/v1 NodeStatus"),
    ("Node", "status.addresses", "core/v1 NodeAddress"),
    ("Pod", "", "core/v1 Pod"),
    ("Pod", "metadata", "meta/v1 ObjectMeta"),
    ("Pod", "spec", "core/v1 PodSpec"),
    ("Pod", "spec.containers", "core/v1 Container"),
    ("Pod", "spec.containers.ports", "core/v1 ContainerPort"),
    ("Pod", "spec.initContainers", "core/v1 Container"),
    ("Pod", "spec.initContainers.ports", "core/v1 ContainerPort"),
    ("Pod", "spec.dnsConfig", "core/v1 PodDNSConfig"),
    ("Pod", "spec.dnsConfig.options", "core/v1 PodDNSConfigOption"),
    ("Pod", "status", "core/v1 PodStatus"),
    ("Pod", "status.podIPs", "core/v1 PodIP"),
    ("Pod", "status.hostIPs", "core/v1 HostIP"),
    ("Pod", "status.conditions", "core/v1 PodCondition"),]
"""(root, dotted path of children under it, the struct the mapping there is): every mapping objects.fields checks.
The roots are :data:`objects.fields.SCHEMAS`' kinds, and ``endpoint`` for an EndpointSlice's endpoint
(:data:`objects.fields.ENDPOINT`, checked by the slice decoder)."""

ROOTS: dict[str, Schema] = {**fields.SCHEMAS, "endpoint": fields.ENDPOINT}


def _at(root: str, path: str) -> Schema:
    schema = ROOTS[root]
    for key in path.split(".") if path else ():
        schema = schema.children[key]
    return schema


def _every_checked(schema: Schema, path: str = "") -> list[str]:
    """The dotted paths of ``schema`` and of every child mapping under it."""
    found = [path]
    for key, child in schema.children.items():
        found += _every_checked(child, f"{path}.{key}" if path else key)
    return found


@pytest.mark.parametrize(("root", "path", "struct"), CHECKED, ids=[f"{r}:{p or '.'}" for r, p, _ in CHECKED])
def test_the_fields_of_each_checked_mapping_are_its_struct_s(root: str, path: str, struct: str) -> None:
    expected = frozenset(STRUCTS[struct].split())
    known = _at(root, path).known
    assert (sorted(expected - known), sorted(known - expected)) == ([], []), (
        f"{root} {path or '(top)'} ({struct}): (missing from objects.fields, not in the API)")


def test_every_mapping_the_check_walks_has_its_reference_struct() -> None:
    """A level added to objects.fields without a reference struct here would go unchecked."""
    listed = {(root, path) for root, path, _ in CHECKED}
    walked = {(root, path) for root, schema in ROOTS.items() for path in _every_checked(schema)}
    assert walked - listed == set()
    assert listed - walked == set()


def test_the_endpoint_fast_path_keys_are_the_endpoint_schema_s() -> None:
    """objects.decode_slices compares an endpoint's keys with these sets directly, not through the Schema."""
    assert frozenset(STRUCTS["discovery/v1 Endpoint"].split()) == fields.ENDPOINT_KEYS
    assert frozenset(STRUCTS["discovery/v1 EndpointConditions"].split()) == fields.CONDITION_KEYS
    assert frozenset(STRUCTS["core/v1 ObjectReference"].split()) == fields.REFERENCE_KEYS
