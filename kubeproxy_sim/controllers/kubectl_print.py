"""``kubectl get ... -o json|yaml``: the simulated control plane's objects as kubectl 1.33 prints them.

What is printed (kubectl's get.go ``printGeneric``): one object asked for by one name (``get svc web``,
``get svc/web``) is printed alone; anything else (a kind listed, a selector, ``-A``, several names, or one name of
two kinds) is wrapped in ``{"apiVersion": "v1", "items": [...], "kind": "List", "metadata": {"resourceVersion":
""}}``, also when it holds one item or none. How it is printed: ``-o json`` is encoding/json's MarshalIndent of the
unstructured object (keys sorted at every level, 4-space indent, ``<``, ``>`` and ``&`` escaped as ``\\u003c``...,
a newline after); ``-o yaml`` is sigs.k8s.io/yaml's Marshal (the JSON read back into go-yaml v2 and written by it:
keys in go-yaml's order (:func:`go_yaml_less`), 2-space indent, block style, a sequence not indented under its key,
a string with a newline as a literal block, one go-yaml would read as another type (``"80"``, ``"yes"``, ``""``)
double-quoted, one that cannot be plain (``'-'``) single-quoted, lines folded at 80 columns). Both were compared
byte for byte with kubectl 1.33's printers (``kubectl patch --local -p {} -o json|yaml -f FILE`` prints offline
with the same printers; tests/controllers/test_kubectl_print_c1.py).

The objects (:func:`documents`) carry the fields the model holds, with the defaults the API server and the
controllers fill in that the model knows (a Service's ``status.loadBalancer: {}``, a pod's ``dnsPolicy``,
``schedulerName``, its containers' ``imagePullPolicy``, a Deployment's ``strategy`` and ``status`` counts). They
leave out, as the Service builder (kubectl_patch.service_document) does, what the model does not hold rather than
invent it: ``uid``, ``resourceVersion``, ``generation``, ``creationTimestamp`` (the scenario clock has no date; a
pod template's is the null of a zero time), ``managedFields``, and so ``ownerReferences`` (which need the owner's
uid), every timestamp (a condition's ``lastTransitionTime``, a NoExecute taint's ``timeAdded``,
``deletionTimestamp``), the kubelet's ``nodeInfo`` and ``containerStatuses``, the service-account token volume
(named with a random suffix), annotations the model does not read (a Service keeps its topology ones, and kubectl's
last-applied-configuration, whose document the model keeps; the other kinds' is not kept) and a Service's
``ipFamilyPolicy`` (admission reads it; the model keeps the families it gave). A bare pod's containers are left out
too: the model keeps their images and ports, not their names. A pod template's fields the model does not read (a
container's ``resources``, ``imagePullPolicy``, the ``serviceAccountName``, ``dnsPolicy``...) are printed as the API
server defaults them, as the model takes them: right for ``create deployment`` and a manifest that leaves them out,
not for one that sets them. What is printed reads back with ``kubeproxy-sim rules -f`` (the Services, slices, Nodes
and Pods kube-proxy reads).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from kubeproxy_sim.controllers.model import (
    POD_DELETION_COST,
    Container,
    Deployment,
    PodTemplate,
    ReplicaSet,
    SimPod,
    Strategy,
    Toleration,
    World,
)
from kubeproxy_sim.objects.mirror import Endpoints, EndpointsAddress
from kubeproxy_sim.objects.model import ContainerPort, EndpointSlice, Node, Service

LIST_KIND = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}}

# -- printing -------------------------------------------------------------------------------------------------


def printed(items: Sequence[dict[str, Any]], output: str, *, single: bool) -> list[str]:
    """The lines kubectl prints for ``items`` under ``-o json|yaml``: the one item alone when ``single`` (one name
    of one kind asked for, and found), else a List of them all (none too)."""
    obj = items[0] if single and len(items) == 1 else {**LIST_KIND, "items": list(items)}
    text = to_json(obj) if output == "json" else to_yaml(obj)
    return text.removesuffix("\n").split("\n")


def to_json(obj: Any, indent: int | None = 4) -> str:
    """encoding/json's MarshalIndent(obj, "", "    ") of an unstructured object, and a newline: keys sorted, the
    HTML characters and U+2028/U+2029 escaped as Go escapes them, other non-ASCII text as it is; ``indent`` None:
    its compact Marshal."""
    text = json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":") if indent is None else None)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)  # (none of these is JSON syntax: each stands in a string)
    return text + "\n"


def go_yaml_less(a: str, b: str) -> bool:
    """go-yaml v2's order of mapping keys (sorter.go keyList.Less), which sigs.k8s.io/yaml's writer applies to the
    JSON's keys: at the first character that differs, two letters by code point, a letter after any other
    character, else the runs of digits starting there as numbers (none: 0; ``a1-`` before ``a10``, ``a10`` before
    ``a12``; where either is a ``0`` after a digit other than 0, both read after a 1: ``1_0`` before ``10``), the
    shorter run first (``a1b`` before ``a01``), else by code point; a prefix first. Not byte order:
    ``a-b`` and ``a1`` go before ``ab``, ``_x`` before ``A``."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == y:
            continue
        x_letter, y_letter = _is_letter(x), _is_letter(y)
        if x_letter and y_letter:
            return x < y
        if x_letter or y_letter:
            return y_letter
        carried = 1 if "0" in (x, y) and _nonzero_digit_before(a, i) else 0
        (x_number, x_end), (y_number, y_end) = _digits(a, i, carried), _digits(b, i, carried)
        if x_number != y_number:
            return x_number < y_number
        if x_end != y_end:
            return x_end < y_end
        return x < y
    return len(a) < len(b)


def _is_letter(char: str) -> bool:
    """unicode.IsLetter: a character of a letter category."""
    return unicodedata.category(char).startswith("L")


def _nonzero_digit_before(text: str, at: int) -> bool:
    """Whether the run of digits just before ``at`` (the keys' common part) holds one other than ``0``: keyList.Less
    then starts both numbers at 1, so that ``10`` reads as ten against ``1_0``'s one (``1_0`` first), not as the
    zero a run starting at the ``0`` would be."""
    at -= 1
    while at >= 0 and unicodedata.category(text[at]) == "Nd":
        if text[at] != "0":
            return True
        at -= 1
    return False


def _digits(text: str, start: int, number: int = 0) -> tuple[int, int]:
    """The run of unicode.IsDigit characters from ``start`` as keyList.Less reads it (each as its code point less
    that of ``0``, after ``number``) and where it ends."""
    end = start
    while end < len(text) and unicodedata.category(text[end]) == "Nd":
        number, end = number * 10 + ord(text[end]) - ord("0"), end + 1
    return number, end


def _go_yaml_cmp(a: str, b: str) -> int:
    return -1 if go_yaml_less(a, b) else 1 if go_yaml_less(b, a) else 0


# Python's sort with Less. Where Less is not transitive (a1b < a9 < a10 < a12 < a1b) kubectl itself prints such
# keys in an order that changes from run to run (go-yaml sorts them from Go's random map order): any is its
_GO_YAML_KEY = functools.cmp_to_key(_go_yaml_cmp)


@functools.cache
def _dumper() -> Any:
    """objects.load's go_safe_dumper (quoting every string go-yaml would read as another type) writing strings as
    go-yaml v2's encoder asks its emitter to: a literal block with a newline, double quotes where the string would
    resolve to another type, else plain (which the emitter turns to single quotes where plain cannot be read)."""
    import yaml

    from kubeproxy_sim.objects.load import go_safe_dumper

    base = go_safe_dumper()
    str_tag = "tag:yaml.org,2002:str"

    def represent_str(self: Any, value: str) -> Any:
        style = None
        if "\n" in value:
            style = "|"
        elif self.resolve(yaml.ScalarNode, value, (True, False)) != str_tag:
            style = '"'
        return self.represent_scalar(str_tag, value, style=style)

    def represent_dict(self: Any, value: dict[str, Any]) -> Any:
        pairs = sorted(value.items(), key=lambda kv: _GO_YAML_KEY(kv[0]))
        return self.represent_mapping("tag:yaml.org,2002:map", pairs)

    # PyYAML reads a lone "=" as YAML 1.1's value key and "<<" as its merge key; go-yaml v2's encoder writes both
    # plain (kubectl 1.33 prints ``<<: v`` and ``k: <<``)
    unread = {"tag:yaml.org,2002:value", "tag:yaml.org,2002:merge"}
    resolvers = {first: [entry for entry in entries if entry[0] not in unread]
                 for first, entries in base.yaml_implicit_resolvers.items()}
    representers = {**base.yaml_representers, str: represent_str, dict: represent_dict}
    return type("KubectlDumper", (base,), {"yaml_representers": representers, "yaml_implicit_resolvers": resolvers})


def to_yaml(obj: Any) -> str:
    """sigs.k8s.io/yaml's Marshal of the object as kubectl's YAML printer writes it."""
    import yaml

    return str(yaml.dump(obj, Dumper=_dumper(), default_flow_style=False, sort_keys=False, allow_unicode=True,
                         width=80, indent=2))


# -- the objects -------------------------------------------------------------------------------------------------


def _metadata(name: str, namespace: str | None, labels: Iterable[tuple[str, str]] = (),
              annotations: Iterable[tuple[str, str]] = (), **more: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **{k: v for k, v in more.items() if v is not None}}
    if namespace is not None:
        meta["namespace"] = namespace
    if written := dict(labels):
        meta["labels"] = written
    if notes := dict(annotations):
        meta["annotations"] = notes
    return meta


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def last_applied_text(kept: str, namespace: str) -> str:
    """The last-applied-configuration annotation kubectl apply writes, from the document the World keeps of the
    last apply (World.services_last_applied: as written, less the annotation): encoding/json's compact text of
    it (keys sorted) and a newline, in its namespace (the resource builder sets a manifest's missing one) and
    with ``annotations: {}`` when it had none (kubectl takes its own annotation out of a copy, leaving the map)."""
    doc = json.loads(kept)
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        doc["metadata"] = {**meta, "annotations": meta.get("annotations") or {},
                           "namespace": meta.get("namespace") or namespace}
    return to_json(doc, indent=None)


def service_object(world: World, service: Service) -> dict[str, Any]:
    """kubectl_patch.service_document (its topology annotations, and kubectl's last-applied-configuration when an
    apply wrote one) and the status every Service has: the API server writes ``status.loadBalancer: {}`` for one
    without ingress."""
    from kubeproxy_sim.controllers.kubectl_patch import service_document

    annotations = dict(next((a for key, a in world.service_annotations if key == service.key), ()))
    kept = dict(world.services_last_applied).get(service.key)
    if kept is not None and ("Service", service.key) not in world.unannotated:
        annotations[LAST_APPLIED] = last_applied_text(kept, service.namespace)
    doc = service_document(service, tuple(annotations.items()))
    doc.setdefault("status", {"loadBalancer": {}})
    return doc


def _port(port: ContainerPort, host_network: bool) -> dict[str, Any]:
    """A container port as stored: protocol defaulted to TCP; with hostNetwork the hostPort defaulted to it."""
    out: dict[str, Any] = {"containerPort": port.container_port, "protocol": port.protocol.value}
    if port.name:
        out["name"] = port.name
    if host_network:
        out["hostPort"] = port.container_port
    return out


def _pull_policy(image: str) -> str:
    """SetDefaults_Container's imagePullPolicy: Always for the ``latest`` tag or none (no digest), else
    IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(c: Container, host_network: bool) -> dict[str, Any]:
    """A container with the defaults SetDefaults_Container fills in (no resources: ``resources: {}``)."""
    out: dict[str, Any] = {"image": c.image, "imagePullPolicy": _pull_policy(c.image), "name": c.name,
                           "resources": {}, "terminationMessagePath": "/dev/termination-log",
                           "terminationMessagePolicy": "File"}
    if c.ports:
        out["ports"] = [_port(p, host_network) for p in c.ports]
    if c.restart_policy:
        out["restartPolicy"] = c.restart_policy
    return out


def _toleration(t: Toleration) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in (("key", t.key), ("operator", t.operator), ("value", t.value),
                                             ("effect", t.effect)) if v}
    if t.seconds is not None:
        out["tolerationSeconds"] = t.seconds
    return out


def _pod_spec(template: PodTemplate, containers: bool = True) -> dict[str, Any]:
    """A pod template's spec with SetDefaults_PodSpec's defaults."""
    spec: dict[str, Any] = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                            "schedulerName": "default-scheduler", "securityContext": {},
                            "terminationGracePeriodSeconds": template.grace_period}
    if containers:
        spec["containers"] = [_container(c, template.host_network) for c in template.containers]
        if template.init_containers:
            spec["initContainers"] = [_container(c, template.host_network) for c in template.init_containers]
    if template.host_network:
        spec["hostNetwork"] = True
    if template.tolerations:
        spec["tolerations"] = [_toleration(t) for t in template.tolerations]
    return spec


def _template(template: PodTemplate) -> dict[str, Any]:
    """spec.template; its metadata's creationTimestamp is the null a 1.33 API server writes for a zero time (it
    is left out only since 1.34, kubernetes/kubernetes#130989)."""
    meta: dict[str, Any] = {"creationTimestamp": None}
    if template.labels:
        meta["labels"] = dict(template.labels)
    if template.deletion_cost is not None:
        meta["annotations"] = {POD_DELETION_COST: template.deletion_cost}
    return {"metadata": meta, "spec": _pod_spec(template)}


def pod_object(world: World, pod: SimPod) -> dict[str, Any]:
    """A pod as the API server stores it once admitted (the ServiceAccount and Priority plugins' fields, the
    DefaultTolerationSeconds tolerations) and as its kubelet reports it: phase, host and pod IPs, the Ready and
    PodScheduled conditions (type and status; the model has no other). A ReplicaSet's pod has its template's
    containers and its generateName; a terminating one its deletionGracePeriodSeconds."""
    now = world.now
    owner = next((rs for rs in world.replica_sets if rs.namespace == pod.namespace and rs.name == pod.owner), None)
    template = owner.template if owner is not None else PodTemplate(labels=pod.labels, containers=(),
                                                                     grace_period=pod.grace_period,
                                                                     host_network=pod.host_network)
    annotations = () if pod.deletion_cost is None else ((POD_DELETION_COST, pod.deletion_cost),)
    meta = _metadata(pod.name, pod.namespace, pod.labels, annotations,
                     generateName=f"{pod.owner}-" if owner is not None else None,
                     deletionGracePeriodSeconds=pod.grace_period if pod.terminating else None)
    spec = _pod_spec(template, containers=owner is not None)
    spec.update(enableServiceLinks=True, preemptionPolicy="PreemptLowerPriority", priority=0,
                serviceAccount="default", serviceAccountName="default",
                terminationGracePeriodSeconds=pod.grace_period)
    if pod.node_name is not None:
        spec["nodeName"] = pod.node_name
    if pod.tolerations:
        spec["tolerations"] = [_toleration(t) for t in pod.tolerations]
    api = pod.at(now)
    status: dict[str, Any] = {"phase": api.phase, "qosClass": "BestEffort"}
    conditions: list[dict[str, str]] = [{"status": "True" if pod.node_name is not None else "False",
                                         "type": "PodScheduled"}]
    if pod.node_name is None:  # the scheduler's reason, and its FailedScheduling message once it has tried
        conditions[0]["reason"] = "Unschedulable"
        conditions[0].update(("message", m) for key, m in world.unschedulable if key == pod.key)
    else:  # the kubelet's Ready before the scheduler's PodScheduled, as the API holds them
        conditions.insert(0, {"status": "True" if api.ready else "False", "type": "Ready"})
        node = next((n for n in world.nodes if n.name == pod.node_name), None)
        if node is not None and node.host_ips and not pod.unreported:
            status.update(hostIP=node.host_ips[0], hostIPs=[{"ip": ip} for ip in node.host_ips])
    status["conditions"] = conditions
    if api.pod_ips:
        status.update(podIP=api.pod_ips[0], podIPs=[{"ip": ip} for ip in api.pod_ips])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _nonzero(**counts: int) -> dict[str, int]:
    """A status's omitempty counts: a zero is left out."""
    return {k: v for k, v in counts.items() if v}


def deployment_object(world: World, d: Deployment) -> dict[str, Any]:
    """apps/v1 Deployment with SetDefaults_Deployment's strategy, progress deadline and history limit, the
    controller's revision annotation and status counts (ready pods are available: minReadySeconds is not
    modelled)."""
    from kubeproxy_sim.controllers.decode import CHANGE_CAUSE
    from kubeproxy_sim.controllers.deployment import rollout_status

    status = rollout_status(world, d)
    revisions = [rs.revision for rs in world.owned_sets(d)]
    annotations = [("deployment.kubernetes.io/revision", str(max(revisions)))] if revisions else []
    if d.change_cause:
        annotations.append((CHANGE_CAUSE, d.change_cause))
    strategy: dict[str, Any] = {"type": d.strategy.value}
    if d.strategy is Strategy.ROLLING_UPDATE:
        strategy["rollingUpdate"] = {"maxSurge": d.max_surge, "maxUnavailable": d.max_unavailable}
    spec = {"progressDeadlineSeconds": d.progress_deadline, "replicas": d.replicas,
            "revisionHistoryLimit": d.history_limit, "selector": {"matchLabels": dict(d.selector)},
            "strategy": strategy, "template": _template(d.template)}
    counts = _nonzero(replicas=status.replicas, updatedReplicas=status.updated, readyReplicas=status.available,
                      availableReplicas=status.available,
                      unavailableReplicas=max(0, d.replicas - status.available))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _metadata(d.name, d.namespace, d.labels, annotations), "spec": spec, "status": counts}


def replica_set_object(world: World, rs: ReplicaSet) -> dict[str, Any]:
    """apps/v1 ReplicaSet as the Deployment controller writes it: its revision, desired and max replicas (desired
    plus the Deployment's surge) annotations, the template's labels; ``status.replicas`` is written even at 0."""
    from kubeproxy_sim.controllers.decode import CHANGE_CAUSE
    from kubeproxy_sim.controllers.deployment import fenceposts

    d = world.deployment(rs.namespace, rs.owner)  # MaxSurge of the Deployment at the size the set was scaled for
    rolling = d is not None and d.strategy is Strategy.ROLLING_UPDATE
    surge = fenceposts(replace(d, replicas=rs.desired))[0] if d is not None and rolling else 0
    annotations = [("deployment.kubernetes.io/desired-replicas", str(rs.desired)),
                   ("deployment.kubernetes.io/max-replicas", str(rs.desired + surge)),
                   ("deployment.kubernetes.io/revision", str(rs.revision))]
    if rs.change_cause:
        annotations.append((CHANGE_CAUSE, rs.change_cause))
    active, available = world.active_pods(rs), world.available_pods(rs)
    status = {"replicas": active, **_nonzero(fullyLabeledReplicas=active, readyReplicas=available,
                                              availableReplicas=available)}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": _metadata(rs.name, rs.namespace, rs.template.labels, annotations),
            "spec": {"replicas": rs.replicas, "selector": {"matchLabels": dict(rs.selector)},
                     "template": _template(rs.template)},
            "status": status}


def _cpu(millis: int) -> str:
    """A CPU quantity in its canonical form: whole cores bare, else millicores."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def node_object(world: World, node: Node) -> dict[str, Any]:
    """v1 Node: labels, pod CIDRs, the node lifecycle controller's taints (key and effect), addresses, the
    allocatable CPU and pods a manifest gave, and the Ready condition's status (none for a Node that had none or
    one of another status, which the model keeps alike)."""
    spec: dict[str, Any] = {}
    if node.pod_cidrs:
        spec.update(podCIDR=node.pod_cidrs[0], podCIDRs=list(node.pod_cidrs))
    if (key := world.taint_key(node.name)) is not None:
        spec["taints"] = [{"effect": "NoSchedule", "key": key}, {"effect": "NoExecute", "key": key}]
    status: dict[str, Any] = {}
    if node.addresses:
        status["addresses"] = [{"address": a.address, "type": a.type} for a in node.addresses]
    cpu, pods = dict(world.node_cpu).get(node.name), dict(world.node_max_pods).get(node.name)
    allocatable = {k: v for k, v in (("cpu", None if cpu is None else _cpu(cpu)),
                                     ("pods", None if pods is None else str(pods))) if v is not None}
    if allocatable:
        status["allocatable"] = allocatable
    if node.name not in world.untainted_nodes:
        ready = ("True" if node.name not in world.not_ready_nodes
                 else "Unknown" if node.name in world.unreachable_nodes else "False")
        status["conditions"] = [{"status": ready, "type": "Ready"}]
    return {"apiVersion": "v1", "kind": "Node", "metadata": _metadata(node.name, None, node.labels),
            "spec": spec, "status": status}


_GENERATED_BY = {"endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"}


def slice_object(s: EndpointSlice) -> dict[str, Any]:
    """discovery.k8s.io/v1 EndpointSlice; ``endpoints`` and ``ports`` are written even when empty (no omitempty:
    the API server returns null), a controller's slice has its generateName (the Service's name and a dash)."""
    endpoints: list[dict[str, Any]] = []
    for e in s.endpoints:
        conditions = {k: v for k, v in (("ready", e.conditions.ready), ("serving", e.conditions.serving),
                                        ("terminating", e.conditions.terminating)) if v is not None}
        item: dict[str, Any] = {"addresses": list(e.addresses), "conditions": conditions}
        for field, value in (("hostname", e.hostname), ("nodeName", e.node_name), ("zone", e.zone)):
            if value is not None:
                item[field] = value
        if e.target_ref is not None:
            item["targetRef"] = {"kind": e.target_ref[0], "name": e.target_ref[2], "namespace": e.target_ref[1]}
        hints = {field: [{"name": z} for z in zones] for field, zones in (("forZones", e.hints_for_zones),
                                                                           ("forNodes", e.hints_for_nodes))
                 if zones is not None}
        if hints:
            item["hints"] = hints
        endpoints.append(item)
    ports = []
    for p in s.ports:
        port: dict[str, Any] = {"protocol": p.protocol.value}
        given: tuple[tuple[str, str | int | None], ...] = (("name", p.name), ("port", p.port),
                                                             ("appProtocol", p.app_protocol))
        port.update((field, value) for field, value in given if value is not None)
        ports.append(port)
    managed = dict(s.labels).get("endpointslice.kubernetes.io/managed-by")
    meta = _metadata(s.name, s.namespace, s.labels,
                     generateName=f"{s.service_name}-" if managed in _GENERATED_BY and s.service_name else None)
    return {"addressType": s.address_type.value, "apiVersion": "discovery.k8s.io/v1", "endpoints": endpoints or None,
            "kind": "EndpointSlice", "metadata": meta, "ports": ports or None}


def _address(a: EndpointsAddress) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": a.ip}
    if a.hostname:
        out["hostname"] = a.hostname
    if a.node_name is not None:
        out["nodeName"] = a.node_name
    if a.target_ref is not None:
        out["targetRef"] = {"kind": a.target_ref[0], "name": a.target_ref[2], "namespace": a.target_ref[1]}
    return out


def endpoints_object(e: Endpoints) -> dict[str, Any]:
    """v1 Endpoints; ``subsets`` left out when there are none (omitempty), a port's empty name too."""
    subsets = []
    for subset in e.subsets:
        item: dict[str, Any] = {}
        if subset.addresses:
            item["addresses"] = [_address(a) for a in subset.addresses]
        if subset.not_ready_addresses:
            item["notReadyAddresses"] = [_address(a) for a in subset.not_ready_addresses]
        if subset.ports:
            item["ports"] = [{k: v for k, v in (("name", p.name), ("port", p.port), ("protocol", p.protocol.value),
                                                ("appProtocol", p.app_protocol)) if v}
                             for p in subset.ports]
        subsets.append(item)
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                           "metadata": _metadata(e.name, e.namespace, e.labels, e.annotations)}
    if subsets:
        doc["subsets"] = subsets
    return doc


def documents(world: World, kind: str,
              endpoints: Callable[[World], Iterable[Endpoints]]) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(namespace, name, labels, object) of every object of ``kind`` (kubectl_get.KINDS' keys) as ``get -o
    json|yaml`` prints it (a Node's namespace is ""); ``endpoints``: the v1 Endpoints the World has, the
    controller's written out (script's, as ``get endpoints`` lists them)."""
    from kubeproxy_sim.controllers import world as W

    if kind == "pods":
        return [(p.namespace, p.name, p.labels, pod_object(world, p)) for p in world.pods]
    if kind == "services":
        return [(s.namespace, s.name, s.labels, service_object(world, s)) for s in world.services]
    if kind == "endpoints":
        return [(e.namespace, e.name, e.labels, endpoints_object(e)) for e in endpoints(world)]
    if kind == "nodes":
        return [("", n.name, n.labels, node_object(world, n)) for n in world.nodes]
    if kind == "endpointslices":
        return [(s.namespace, s.name, s.labels, slice_object(s))
                for s in W.controller_sync(world).cluster.endpoint_slices]
    if kind == "replicasets":
        return [(rs.namespace, rs.name, rs.template.labels, replica_set_object(world, rs))
                for rs in world.replica_sets]
    return [(d.namespace, d.name, d.labels, deployment_object(world, d)) for d in world.deployments]
