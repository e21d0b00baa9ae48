"""``kubectl patch service|deployment|pod``: the object's modelled fields as the API server's JSON, the patch
applied to that (controllers.patch), and the result read back as the API server would store it.

A Service is read back whole by the objects layer's decoder after the API server's own clean-up of a type change
(registry/core/service/strategy.go dropTypeDependentFields: node ports, healthCheckNodePort, the external
traffic policy and, to ExternalName, the cluster IPs are dropped when the new type has no use for them and the
patch left them as they were), then checked as ValidateService checks the fields one type alone may carry
(objects.service_type_rules: source ranges, node ports, the external traffic policy, ...), and compared
with the patched document: a field the decoded Service does not give back is one the model does not hold. A Deployment
patch may change ``spec.replicas`` and its containers' images (what ``scale`` and ``set image`` change); a Pod
patch its labels. Any other field a patch changes is not modelled and refused as such (the real API server
would take many of them), never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from kubeproxy_sim.controllers.model import Deployment, SimPod
from kubeproxy_sim.controllers.patch import MERGE_KEYS, PatchError, apply_patch
from kubeproxy_sim.objects.model import Origin, Service, ServiceType, TrafficPolicy
from kubeproxy_sim.objects.service_type_rules import invalid_message, service_errors

_EXTERNAL_TYPES = (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER)


class Refused(Exception):
    """What kubectl prints (without its ``error: `` prefix) when the patch is refused."""


def read_patch(text: str, kind: str) -> Any:
    """The ``-p`` text, JSON or YAML as kubectl takes it (it converts YAML to JSON before sending)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise Refused(f"unable to parse {text!r}: yaml: {mark}") from None
    if kind != "json" and not isinstance(data, dict):
        raise Refused(f"unable to parse {text!r}: expected a JSON or YAML object for a {kind} patch") from None
    return data


def _patched(kind: str, doc: dict[str, Any], patch: Any) -> Any:
    try:
        return apply_patch(kind, doc, patch)
    except PatchError as exc:
        raise Refused(f"Error from server: {exc}") from None


# -- Service ---------------------------------------------------------------------------------------------------


def _accessible(service_type: str, spec: dict[str, Any]) -> bool:
    """apiservice.ExternallyAccessible: NodePort and LoadBalancer, or ClusterIP with external IPs."""
    return service_type in ("NodePort", "LoadBalancer") or (service_type == "ClusterIP"
                                                            and bool(spec.get("externalIPs")))


def service_document(service: Service, annotations: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """The Service as the API server returns it, in the fields the model holds (defaults written out), with the
    topology annotations it keeps."""
    ports = []
    for p in service.ports:
        port: dict[str, Any] = {"protocol": p.protocol.value, "port": p.port, "targetPort": p.target_port}
        if p.name:
            port["name"] = p.name
        if p.node_port:
            port["nodePort"] = p.node_port
        if p.app_protocol is not None:
            port["appProtocol"] = p.app_protocol
        ports.append(port)
    spec: dict[str, Any] = {"type": service.type.value, "ports": ports,
                            "sessionAffinity": service.session_affinity.value}
    if service.type is ServiceType.EXTERNAL_NAME:
        spec["externalName"] = service.external_name
    else:
        ips = list(service.cluster_ips) or ["None"]
        spec.update(clusterIP=ips[0], clusterIPs=ips, internalTrafficPolicy=service.internal_traffic_policy.value)
        if service.ip_families:
            spec["ipFamilies"] = [f.value for f in service.ip_families]
    if service.selector is not None:
        spec["selector"] = dict(service.selector)
    if service.external_ips:
        spec["externalIPs"] = list(service.external_ips)
    if service.load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = list(service.load_balancer_source_ranges)
    if _accessible(service.type.value, spec):
        spec["externalTrafficPolicy"] = service.external_traffic_policy.value
    if service.health_check_node_port:
        spec["healthCheckNodePort"] = service.health_check_node_port
    if service.session_affinity.value == "ClientIP":
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": service.affinity_timeout}}
    if service.traffic_distribution is not None:
        spec["trafficDistribution"] = service.traffic_distribution
    if service.publish_not_ready_addresses:
        spec["publishNotReadyAddresses"] = True
    metadata: dict[str, Any] = {"name": service.name, "namespace": service.namespace}
    if service.labels:
        metadata["labels"] = dict(service.labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
    ingress = [{k: v for k, v in (("ip", i.ip), ("hostname", i.hostname), ("ipMode", i.ip_mode)) if v is not None}
               for i in service.load_balancer_ingress]
    if ingress:
        doc["status"] = {"loadBalancer": {"ingress": ingress}}
    return doc


def _drop_type_dependent(old: dict[str, Any], new: dict[str, Any]) -> None:
    """dropTypeDependentFields: what the new type has no use for, left as it was by the patch, is cleared; and
    normalizeClusterIPs: a clusterIP changed alone carries clusterIPs[0] with it."""
    before, after = old["spec"], new.get("spec")
    if not isinstance(after, dict):
        return
    kind = after.get("type", "ClusterIP")
    ips = after.get("clusterIPs")
    if after.get("clusterIP") != before.get("clusterIP") and ips == before.get("clusterIPs") and isinstance(ips, list):
        # normalizeClusterIPs: a changed clusterIP alone is clusterIPs[0] changed (which the allocator refuses)
        after["clusterIPs"] = [after["clusterIP"], *ips[1:]] if after.get("clusterIP") else []
    ports = after.get("ports")
    if kind not in ("NodePort", "LoadBalancer") and isinstance(ports, list):
        old_ports = {p.get("port"): p.get("nodePort") for p in before.get("ports", [])}
        if all(isinstance(p, dict) and p.get("nodePort") in (None, old_ports.get(p.get("port"))) for p in ports):
            for p in ports:
                p.pop("nodePort", None)
    needs_hc = kind == "LoadBalancer" and after.get("externalTrafficPolicy") == "Local"
    if not needs_hc and after.get("healthCheckNodePort") == before.get("healthCheckNodePort"):
        after.pop("healthCheckNodePort", None)
    if not _accessible(kind, after) and after.get("externalTrafficPolicy") == before.get("externalTrafficPolicy"):
        after.pop("externalTrafficPolicy", None)
    if kind == "ExternalName" and before.get("type") != "ExternalName":
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "internalTrafficPolicy"):
            if after.get(field) == before.get(field):
                after.pop(field, None)


def patched_service(service: Service, kind: str, patch: Any, annotations: tuple[tuple[str, str], ...] = (),
                    ordered_as: dict[str, Any] | None = None) -> tuple[Service, dict[str, Any], dict[str, str]]:
    """The Service once ``patch`` is applied, before the allocator fills in what it allocates, the document it
    was read from, and its annotations; refused (Refused, in the API server's words) when the result is invalid.
    The status is the live one whatever the patch says of it, as the API server keeps it on an update of the
    object itself (only the status subresource changes it). ``ordered_as``: apply's manifest, whose order of
    ports the result takes (:func:`in_manifest_order`)."""
    from kubeproxy_sim.objects.decode import decode_service
    from kubeproxy_sim.objects.report import Report

    old = service_document(service, annotations)
    new = _patched(kind, json.loads(json.dumps(old)), patch)
    if not isinstance(new, dict):
        raise Refused(f'The Service "{service.name}" is invalid: the patched object is not a mapping')
    _same_identity(new, old, "Service", service.name)
    if ordered_as is not None:
        in_manifest_order(new, ordered_as, old)
    new.pop("status", None)
    if "status" in old:
        new["status"] = old["status"]
    written = _mapping(new["metadata"]).get("annotations") or {}
    if not isinstance(written, dict) or not all(isinstance(v, str) for v in written.values()):
        raise Refused(f'The Service "{service.name}" is invalid: metadata.annotations: expected a map of strings')
    _drop_type_dependent(old, new)
    spec = _mapping(new.get("spec"))
    refused = service_errors(new)
    if refused:
        raise Refused(invalid_message("Service", service.name, refused))
    report = Report("", "Service", service.key)
    decoded = decode_service(new, service.origin or Origin(), report, f"Service {service.key}")
    problems = [d for d in report.diagnostics if d.severity.name == "ERROR"]
    if decoded is None or problems:
        said = "; ".join(f"{d.field}: {d.message}" if d.field else d.message for d in problems)
        raise Refused(f'The Service "{service.name}" is invalid: {said or "the patched object cannot be read"}')
    if decoded.type in _EXTERNAL_TYPES and "externalTrafficPolicy" not in spec:
        decoded = _with_policy(decoded, TrafficPolicy.CLUSTER)  # defaulted by the API server
    read_back = service_document(decoded, tuple(written.items()))
    lost = _unheld({k: v for k, v in new.items() if k != "status"},
                   {k: v for k, v in read_back.items() if k != "status"}, ())
    if lost is not None:
        raise Refused(_not_modelled("Service", service.name, lost))
    return decoded, new, dict(written)


# the fields service_document writes when they are set: one the patch leaves at Go's zero value ("", false, 0)
# reads back as unset, which is the same to the API server (omitempty); so does an empty list or map of any field
# (Go's omitempty slices and maps); any other field the read-back Service does not hold is one the model drops
# (a pointer field's zero, such as allocateLoadBalancerNodePorts: false, is a value)
_HELD_FIELDS = {
    (): {"apiVersion", "kind", "metadata", "spec"},
    ("metadata",): {"name", "namespace", "labels", "annotations"},
    ("spec",): {"type", "ports", "sessionAffinity", "externalName", "clusterIP", "clusterIPs",
                "internalTrafficPolicy", "ipFamilies", "selector", "externalIPs", "loadBalancerSourceRanges",
                "externalTrafficPolicy", "healthCheckNodePort", "sessionAffinityConfig", "trafficDistribution",
                "publishNotReadyAddresses"},
    ("spec", "ports"): {"protocol", "port", "targetPort", "name", "nodePort", "appProtocol"},
}


def _unheld(new: Any, held: Any, path: tuple[str, ...]) -> str | None:
    """The first field path (dotted, a list item by its index) where the patched document says what the Service
    read back from it does not: a field the model does not hold, or a value it reads otherwise. A field the
    patched document leaves out that the read-back has is a default the API server fills in too."""
    if isinstance(new, dict) and isinstance(held, dict):
        for key, value in new.items():
            if value is None or value in ([], {}) or (key in _HELD_FIELDS.get(path, set())
                                                      and value in ("", False, 0)):
                continue  # JSON null, and Go's zero value of an omitempty field, decode as the field unset
            if key not in held:
                return _dotted((*path, key))
            lost = _unheld(value, held[key], (*path, key))
            if lost is not None:
                return lost
        return None
    if isinstance(new, list) and isinstance(held, list) and len(new) == len(held):
        for index, (item, kept) in enumerate(zip(new, held, strict=True)):
            lost = _unheld(item, kept, path)
            if lost is not None:
                return f"{_dotted(path)}[{index}]" + lost[len(_dotted(path)):]
        return None
    if type(new) is type(held) and new == held:
        return None
    return _dotted(path)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _mapping(value: Any) -> dict[str, Any]:
    """A field's value when it is a mapping, else an empty one (the decoder reports a wrong type itself)."""
    return value if isinstance(value, dict) else {}


def _with_policy(service: Service, policy: TrafficPolicy) -> Service:
    from dataclasses import replace

    return replace(service, external_traffic_policy=policy)


def _same_identity(new: dict[str, Any], old: dict[str, Any], kind: str, name: str) -> None:
    """The API server refuses a patch that renames or moves the object, in its words."""
    meta, before = new.get("metadata"), old["metadata"]
    if not isinstance(meta, dict) or meta.get("name") != before["name"]:
        raise Refused(f'The {kind} "{name}" is invalid: metadata.name: Invalid value: '
                      f'"{meta.get("name") if isinstance(meta, dict) else None}": field is immutable')
    if meta.get("namespace") != before["namespace"]:
        raise Refused('the namespace of the provided object does not match the namespace sent on the request')


# -- Deployment and Pod ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeploymentChange:
    """What a Deployment patch changes of the modelled fields: the new replica count, images by container."""

    replicas: int | None
    images: dict[str, str]


def deployment_document(d: Deployment) -> dict[str, Any]:
    containers = [{"name": c.name, "image": c.image} for c in d.template.containers]
    init = [{"name": c.name, "image": c.image} for c in d.template.init_containers]
    pod_spec: dict[str, Any] = {"containers": containers}
    if init:
        pod_spec["initContainers"] = init
    metadata: dict[str, Any] = {"name": d.name, "namespace": d.namespace}
    if d.labels:
        metadata["labels"] = dict(d.labels)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"replicas": d.replicas, "selector": {"matchLabels": dict(d.selector)},
                     "template": {"metadata": {"labels": dict(d.template.labels)}, "spec": pod_spec}}}


def patched_deployment(d: Deployment, kind: str, patch: Any) -> DeploymentChange:
    old = deployment_document(d)
    new = _patched(kind, json.loads(json.dumps(old)), patch)
    if not isinstance(new, dict):
        raise Refused(f'The Deployment "{d.name}" is invalid: the patched object is not a mapping')
    _same_identity(new, old, "Deployment", d.name)
    spec = _mapping(new.get("spec"))
    if spec.get("selector") != old["spec"]["selector"]:
        raise Refused(f'The Deployment "{d.name}" is invalid: spec.selector: Invalid value: '
                      f'{json.dumps(spec.get("selector"))}: field is immutable')
    replicas = spec.get("replicas")
    if replicas is None:  # deleted (null, or a JSON patch's remove): apps/v1's SetDefaults_Deployment gives it 1
        replicas = 1
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise Refused(f'The Deployment "{d.name}" is invalid: spec.replicas: Invalid value: {json.dumps(replicas)}: '
                      "must be greater than or equal to 0")
    images: dict[str, str] = {}
    template = _mapping(spec.get("template"))
    pod_spec = _mapping(template.get("spec"))
    for field, was in (("containers", d.template.containers), ("initContainers", d.template.init_containers)):
        items = pod_spec.get(field, []) if field in pod_spec or was else []
        if not isinstance(items, list) or [c.get("name") if isinstance(c, dict) else None for c in items] != \
                [c.name for c in was]:
            raise Refused(_not_modelled("Deployment", d.name, f"spec.template.spec.{field} (only each container's "
                                                                "image may change)"))
        for c, container in zip(items, was, strict=True):
            if set(c) != {"name", "image"} or not isinstance(c["image"], str) or not c["image"]:
                raise Refused(_not_modelled("Deployment", d.name, f"spec.template.spec.{field}[{container.name}] "
                                                                  "(only its image may change)"))
            if c["image"] != container.image:
                images[container.name] = c["image"]
    rest_old = _without(old, ("spec", "replicas"), ("spec", "template", "spec"))
    rest_new = _without(new, ("spec", "replicas"), ("spec", "template", "spec"))
    if rest_old != rest_new:
        raise Refused(_not_modelled("Deployment", d.name, _first_difference(rest_old, rest_new)))
    return DeploymentChange(replicas if replicas != d.replicas else None, images)


def pod_document(pod: SimPod) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": pod.name, "namespace": pod.namespace}
    if pod.labels:
        metadata["labels"] = dict(pod.labels)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


def patched_pod_labels(pod: SimPod, kind: str, patch: Any) -> dict[str, str]:
    """The pod's labels once the patch is applied; any other change is refused as not modelled."""
    old = pod_document(pod)
    new = _patched(kind, json.loads(json.dumps(old)), patch)
    if not isinstance(new, dict):
        raise Refused(f'The Pod "{pod.name}" is invalid: the patched object is not a mapping')
    _same_identity(new, old, "Pod", pod.name)
    labels = new["metadata"].get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise Refused(f'The Pod "{pod.name}" is invalid: metadata.labels: expected a map of strings')
    if _without(old, ("metadata", "labels")) != _without(new, ("metadata", "labels")):
        raise Refused(_not_modelled("Pod", pod.name, _first_difference(_without(old, ("metadata", "labels")),
                                                                         _without(new, ("metadata", "labels")))))
    return dict(labels)


def _not_modelled(kind: str, name: str, where: str) -> str:
    return (f"{kind} {name}: the patch changes {where}, which the simulator does not model; expected a patch of "
            + _MODELLED[kind])


_MODELLED = {"Deployment": "spec.replicas or the containers' images", "Pod": "metadata.labels",
             "Service": "the fields a Service manifest gives the simulator (metadata.labels and annotations, "
                        "spec.type, ports, selector, clusterIP(s), ipFamilies, externalIPs, traffic policies, "
                        "session affinity, loadBalancerSourceRanges, externalName, trafficDistribution, "
                        "publishNotReadyAddresses)"}


def _without(doc: dict[str, Any], *paths: tuple[str, ...]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    for path in paths:
        node = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


def _first_difference(old: Any, new: Any, path: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    return path or "the object"


# -- apply's three-way merge ------------------------------------------------------------------------------------


def apply_patch_of(original: dict[str, Any] | None, modified: dict[str, Any]) -> dict[str, Any]:
    """What kubectl apply's strategic merge patch does to a live object, as one patch: the manifest
    (``modified``) merged in, and deleted what the last apply wrote (``original``: its last-applied-configuration,
    None when the live object has none) and the manifest leaves out: a map key as null, an item of a list with a
    patch merge key (a Service's ports) as ``$patch: delete`` (kubectl's CreateThreeWayMergePatch: the changes of
    current against modified, deletions ignored, merged with the deletions of original against modified). A field
    neither wrote (one ``kubectl patch`` set, or the API server defaulted or allocated) is left as it is live.
    kubectl sends only what differs from the live object; applied, the two patches give the same object."""
    deletions = _deletions(original, modified, ()) if original is not None else {}
    return _combined(modified, deletions, ())


def _deletions(original: dict[str, Any], modified: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, was in original.items():
        now = modified.get(key)
        if key not in modified:
            out[key] = None
        elif isinstance(was, dict) and isinstance(now, dict):
            if found := _deletions(was, now, (*path, key)):
                out[key] = found
        elif (isinstance(was, list) and isinstance(now, list) and (*path, key) in MERGE_KEYS
              and (items := _item_deletions(was, now, MERGE_KEYS[(*path, key)], (*path, key)))):
            out[key] = items
    return out


def _item_deletions(original: list[Any], modified: list[Any], merge_key: str,
                    path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The deletions of a merge-keyed list: an item the last apply wrote and the manifest does not, and the
    fields an item of both lost."""
    kept = {item[merge_key]: item for item in modified if isinstance(item, dict) and merge_key in item}
    out: list[dict[str, Any]] = []
    for item in original:
        if not isinstance(item, dict) or merge_key not in item:
            continue
        if item[merge_key] not in kept:
            out.append({merge_key: item[merge_key], "$patch": "delete"})
        elif found := _deletions(item, kept[item[merge_key]], path):
            out.append({merge_key: item[merge_key], **found})
    return out


def _combined(modified: dict[str, Any], deletions: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = json.loads(json.dumps(modified))
    for key, value in deletions.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _combined(out[key], value, (*path, key))
        elif isinstance(value, list) and isinstance(out[key], list):
            merge_key = MERGE_KEYS[(*path, key)]
            items = {item[merge_key]: item for item in out[key] if isinstance(item, dict) and merge_key in item}
            for item in value:
                if item[merge_key] in items:
                    items[item[merge_key]].update({k: v for k, v in item.items() if k != merge_key})
                else:
                    out[key].append(item)
    return out


def in_manifest_order(doc: dict[str, Any], modified: dict[str, Any], live: dict[str, Any]) -> None:
    """A Service's ports after apply's patch (``doc``) in the order its ``$setElementOrder/ports`` directive gives
    them (strategicpatch normalizeElementOrder): the manifest's ports in the manifest's order, and the ports only
    the ``live`` object had merged in among them by their places in the live list (mergeSortedSlice: one goes
    before a manifest port when both were live and it came first; a port new to the object goes first)."""
    ports, written = _mapping(doc.get("spec")).get("ports"), _mapping(modified.get("spec")).get("ports")
    if not isinstance(ports, list) or not isinstance(written, list):
        return
    wanted = [item.get("port") for item in written if isinstance(item, dict)]
    served = [item.get("port") for item in _mapping(live.get("spec")).get("ports") or [] if isinstance(item, dict)]

    def key(item: Any) -> Any:
        return item.get("port") if isinstance(item, dict) else None

    right = sorted((item for item in ports if key(item) in wanted), key=lambda item: wanted.index(key(item)))
    left = [item for item in ports if key(item) not in wanted]
    merged: list[Any] = []
    while left or right:
        take_left = bool(left) and (not right or (key(left[0]) in served and key(right[0]) in served
                                                  and served.index(key(left[0])) < served.index(key(right[0]))))
        merged.append(left.pop(0) if take_left else right.pop(0))
    ports[:] = merged
