"""The fields each kind kube-proxy reads may hold, to name a misspelled one.

A field the decoders do not know (``sessionAfinity``, ``targetport``) would otherwise be ignored in silence: the
object is used with the field's default, and the rules differ from what the manifest meant. kubectl apply refuses
such a manifest ('strict decoding error: unknown field "spec.sessionAfinity"'), and the API server's field
validation warns; here each one is a warning at its path, with the known field it is closest to.

The sets list every field of the API types (k8s.io/api core/v1 and discovery/v1 at the reference), not only the
ones kube-proxy reads: a field the API has, read or not, is no mistake. Only the levels the decoders walk are
checked (an object's top, metadata, the Service's spec and ports, an EndpointSlice's endpoints, ...); free-form
maps (labels, selector, annotations) and the parts of a Pod kube-proxy never looks at are not.

The check is a key-set comparison with a frozenset per mapping (``known.issuperset(mapping)``): on the common,
clean object it costs one C-level pass over the keys, with no path made (:func:`_clean`); an object with an unknown
key is walked again (:func:`_walk`), and only then are the names and the paths made.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from kubeproxy_sim.objects.report import Report
from kubeproxy_sim.objects.values import value_class

Plan = tuple[tuple[str, frozenset[str], "Plan"], ...]


@value_class
class Schema:
    """The fields of one mapping; ``children``: the fields that are themselves checked (a mapping, or a list of
    mappings, each with its own Schema). ``plan``: the children as (key, its known set, its own plan), the form
    the clean-object check reads without attribute look-ups or a call per leaf (a leaf's plan is empty)."""

    known: frozenset[str]
    children: dict[str, Schema] = field(default_factory=dict)
    plan: Plan = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plan = tuple((key, child.known, child.plan) for key, child in self.children.items())
        object.__setattr__(self, "plan", plan)


def _schema(known: str, **children: Schema) -> Schema:
    return Schema(frozenset(known.split()), children)


_TOP = "apiVersion kind metadata"
_OBJECT_META = _schema(
    "name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp "
    "deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields")
_OBJECT_REFERENCE = _schema("kind namespace name uid apiVersion resourceVersion fieldPath")

SERVICE = _schema(
    f"{_TOP} spec status",
    metadata=_OBJECT_META,
    spec=_schema(
        "ports selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP "
        "loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses "
        "sessionAffinityConfig ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass "
        "internalTrafficPolicy trafficDistribution",
        ports=_schema("name protocol appProtocol port targetPort nodePort"),
        sessionAffinityConfig=_schema("clientIP", clientIP=_schema("timeoutSeconds"))),
    status=_schema(
        "loadBalancer conditions",
        loadBalancer=_schema("ingress", ingress=_schema("ip hostname ipMode ports"))))

ENDPOINT = _schema(
    "addresses conditions hostname targetRef deprecatedTopology nodeName zone hints",
    conditions=_schema("ready serving terminating"),
    targetRef=_OBJECT_REFERENCE,
    hints=_schema("forZones forNodes", forZones=_schema("name"), forNodes=_schema("name")))
"""An EndpointSlice's endpoint: checked by the decoder (objects.decode_slices), not by :data:`ENDPOINT_SLICE`'s
walk, so that the 100,000 endpoints of a large cluster cost two key-set comparisons each in its fast path."""
ENDPOINT_KEYS = ENDPOINT.known
CONDITION_KEYS = ENDPOINT.children["conditions"].known
REFERENCE_KEYS = _OBJECT_REFERENCE.known
ENDPOINT_SLICE = _schema(
    f"{_TOP} addressType endpoints ports",
    metadata=_OBJECT_META,
    ports=_schema("name protocol port appProtocol"))

_ENDPOINT_ADDRESS = _schema("ip hostname nodeName targetRef", targetRef=_OBJECT_REFERENCE)
ENDPOINTS = _schema(
    f"{_TOP} subsets",
    metadata=_OBJECT_META,
    subsets=_schema("addresses notReadyAddresses ports", addresses=_ENDPOINT_ADDRESS,
                    notReadyAddresses=_ENDPOINT_ADDRESS, ports=_schema("name port protocol appProtocol")))

NODE = _schema(
    f"{_TOP} spec status",
    metadata=_OBJECT_META,
    spec=_schema("podCIDR podCIDRs providerID unschedulable taints configSource externalID"),
    status=_schema(
        "capacity allocatable phase conditions addresses daemonEndpoints nodeInfo images volumesInUse "
        "volumesAttached config runtimeHandlers features",
        addresses=_schema("type address")))

_CONTAINER = _schema(
    "name image command args workingDir ports envFrom env resources resizePolicy restartPolicy volumeMounts "
    "volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath "
    "terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty restartPolicyRules",
    ports=_schema("name hostPort containerPort protocol hostIP"))
POD = _schema(
    f"{_TOP} spec status",
    metadata=_OBJECT_META,
    spec=_schema(
        "volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds "
        "activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount automountServiceAccountToken "
        "nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname "
        "subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig "
        "readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints "
        "setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources hostnameOverride",
        containers=_CONTAINER, initContainers=_CONTAINER,
        dnsConfig=_schema("nameservers searches options", options=_schema("name value"))),
    status=_schema(
        "phase conditions message reason nominatedNodeName hostIP hostIPs podIP podIPs startTime "
        "initContainerStatuses containerStatuses qosClass ephemeralContainerStatuses resize resourceClaimStatuses "
        "observedGeneration extendedResourceClaimStatus",
        podIPs=_schema("ip"), hostIPs=_schema("ip"),
        conditions=_schema("type status lastProbeTime lastTransitionTime reason message observedGeneration")))

SCHEMAS = {"Service": SERVICE, "EndpointSlice": ENDPOINT_SLICE, "Endpoints": ENDPOINTS, "Node": NODE, "Pod": POD}


def check_fields(report: Report, doc: dict[str, Any], schema: Schema) -> None:
    """Warn, through ``report``, of each field of ``doc`` its schema does not know, once at its path.

    The top level of :func:`_clean`'s check is written out here rather than called: a call costs about as much
    as a key-set comparison (~800 instructions against ~1,300 for a 4-key mapping), and every object of a large
    cluster makes one (an EndpointSlice's check is then no call, a Service's one: its spec's children)."""
    if schema.known.issuperset(doc):
        for key, known, inner in schema.plan:
            value = doc.get(key)
            if value is None:
                continue
            if type(value) is dict:
                if not known.issuperset(value) or (inner and not _clean(value, inner)):
                    break
            elif type(value) is list:
                for item in value:
                    if type(item) is dict and (not known.issuperset(item) or (inner and not _clean(item, inner))):
                        break
                else:
                    continue
                break
        else:
            return
    _walk(report, doc, schema, "")


def check_endpoint(report: Report, raw: dict[str, Any], index: int) -> None:
    """Warn of each unknown field of an EndpointSlice's endpoint ``endpoints[index]`` (its checked path)."""
    if not (ENDPOINT.known.issuperset(raw) and _clean(raw, ENDPOINT.plan)):
        _walk(report, raw, ENDPOINT, f"endpoints[{index}].")


def _clean(raw: dict[str, Any], plan: Plan) -> bool:
    """Whether the checked children of ``raw`` (a mapping whose own keys are known) hold known fields only, at
    every level: the common case, so no path is made, and a leaf child (metadata, a Service's ports) is checked
    inline, without a call; the first unknown field ends it, and :func:`_walk` then names every one.
    (``known.issuperset(raw)``: ~40% fewer instructions than ``raw.keys() <= known``, which goes through the
    generic iterator and ``in`` protocols per key.)"""
    for key, known, inner in plan:
        value = raw.get(key)
        if value is None:
            continue
        if type(value) is dict:
            if not known.issuperset(value) or (inner and not _clean(value, inner)):
                return False
        elif type(value) is list:
            for item in value:
                if type(item) is dict and (not known.issuperset(item) or (inner and not _clean(item, inner))):
                    return False
    return True


def _walk(report: Report, raw: dict[str, Any], schema: Schema, path: str) -> None:
    """Warn of every unknown field under ``raw`` (an object :func:`_clean` found one in), at its path."""
    if not schema.known.issuperset(raw):
        _unknown(report, raw, schema.known, path)
    for key, child in schema.children.items():
        value = raw.get(key)
        if type(value) is dict:
            _walk(report, value, child, f"{path}{key}.")
        elif type(value) is list:
            for i, item in enumerate(value):
                if type(item) is dict:
                    _walk(report, item, child, f"{path}{key}[{i}].")


def _unknown(report: Report, raw: dict[str, Any], known: frozenset[str], path: str) -> None:
    for key in raw:
        if key not in known:
            report.warn(f"{path}{key}", f"unknown field, ignored (kubectl apply refuses it: strict decoding)"
                                        f"{_did_you_mean(key, known)}")


def _did_you_mean(key: object, known: frozenset[str]) -> str:
    """'; did you mean X?' naming the known field closest to ``key``: the same name in another case first
    (``targetport``), else difflib's closest at 0.8, as the --config reader's."""
    if type(key) is not str:
        return ""
    import difflib  # (only when a field is unknown: `rules` on clean objects never loads it; tests/cli/test_startup)

    folded = [name for name in known if name.lower() == key.lower()]
    close = folded or difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    return f"; did you mean {close[0]}?" if close else ""
