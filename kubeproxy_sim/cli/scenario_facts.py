"""What ``scenario``'s ``apply -f`` reads of the raw documents beside the object model (cli.scenario_cmd's
:func:`~kubeproxy_sim.cli.scenario_cmd.load_manifests`): the facts the model does not carry, which the controllers
need, and the Deployments it does not read. Imported when a script applies manifests, never at CLI start-up, so
the decoders it uses are imported here once, not in the command's module."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kubeproxy_sim.controllers.decode import (
    HOST_PORT_DROPPED,
    NOTHING_WRITTEN,
    SIDECAR_HOST_PORT_DROPPED,
    WrittenIPFields,
    decode_deployment,
    family_policy,
    family_policy_problem,
    is_deployment,
    read_deletion_cost,
    read_tolerations,
    written_ip_fields,
)
from kubeproxy_sim.controllers.model import Deployment, LastApplied
from kubeproxy_sim.controllers.script import LAST_APPLIED_ANNOTATION, Manifests
from kubeproxy_sim.controllers.topology import ANNOTATIONS, cpu_millis
from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.load import STDIN, Document, read_documents
from kubeproxy_sim.objects.report import Report, described

if TYPE_CHECKING:
    from kubeproxy_sim.objects.model import Cluster


def raw_documents(paths: list[str]) -> list[tuple[str, Any]]:
    """(file, document) for every parseable document, read as the object loader reads them (encodings, JSON
    streams, YAML as kubectl's library reads it); problems are the object loader's to report."""
    out: list[tuple[str, Any]] = []
    for file, _, document in read_documents([p for p in paths if p != STDIN]):  # stdin was read already
        if isinstance(document, Diagnostic):
            continue
        items = document.get("items") if isinstance(document, dict) else None
        out.extend((file, item) for item in (items if isinstance(items, list) else [document]))
    return out


def visit_order(documents: Iterable[Document], order: dict[tuple[str, str], bool]) -> Iterator[Document]:
    """The documents as they come, noting in ``order`` the (kind, key) of each object in the order kubectl apply
    visits them (a List's items in its place: FlattenListVisitor), the first visit of one given twice: keys as
    the models', NS/NAME (a namespace left out is the default one) or a Node's name; each with whether it counts
    as made by kubectl apply (:func:`_last_applied`: what the objects a scenario starts with say of how they were
    made, script.mark_unannotated)."""
    for entry in documents:
        document = entry[2]
        if isinstance(document, dict):
            items, kind = document.get("items"), document.get("kind")
            listed = isinstance(kind, str) and kind.endswith("List")
            for item in items if listed and isinstance(items, list) else [document]:
                if isinstance(item, dict) and (key := _object_key(item)) is not None:
                    order.setdefault(key, _last_applied(item))
        yield entry


CLIENT_SIDE_APPLY_MANAGER = "kubectl-client-side-apply"
"""The field manager kubectl apply (client-side) records in managedFields (kubectl's apply.go)."""


def _last_applied(document: dict[str, Any]) -> bool:
    """Whether a starting document counts as made by kubectl apply, so re-applying it is ``unchanged`` and leaving
    a field out removes it: it carries the last-applied-configuration annotation, or shows nothing of being made
    otherwise (the user's own start file, as it would have been applied). It was not when it is a Node (a kubelet
    registers it), has ownerReferences (a controller made it: a ReplicaSet's pods), or has managedFields none of
    whose managers is kubectl-client-side-apply (create, expose or a controller wrote it, as `kubectl get -o yaml`
    shows)."""
    meta = document.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
        return True
    if document.get("kind") == "Node" or meta.get("ownerReferences"):
        return False
    managed = meta.get("managedFields")
    if isinstance(managed, list) and managed:
        return any(isinstance(m, dict) and m.get("manager") == CLIENT_SIDE_APPLY_MANAGER for m in managed)
    return True


def _object_key(document: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, key) of a document with a kind and a name, as :func:`visit_order` notes it."""
    meta, kind = document.get("metadata"), document.get("kind")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    if kind == "Node":
        return kind, name
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    return kind, f"{namespace if isinstance(namespace, str) and namespace else 'default'}/{name}"


_CONDITION_STATUSES = ("True", "False", "Unknown")


def _ready_status(doc: dict[str, Any]) -> tuple[int, object]:
    """A Node's Ready condition: its index in status.conditions and its status ("True", "False", "Unknown", ...);
    (-1, None) without one: no taint (nodeConditionToTaintKeyStatusMap maps only conditions present), and not
    ready for Topology Aware Routing (the topology cache's isNodeReady wants a Ready condition of True)."""
    status = doc.get("status")
    if not isinstance(status, dict):
        status = {}
    conditions = status.get("conditions")
    for index, condition in enumerate(conditions if isinstance(conditions, list) else []):
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return index, condition.get("status")
    return -1, None


def _odd_ready(file: str, name: str, index: int, value: object) -> Diagnostic:
    """The warning on a Ready status none of True, False and Unknown, and what the controllers make of it."""
    hint = f" (unquoted in YAML or JSON: write '{value}')" if isinstance(value, bool) else ""
    return Diagnostic(f"expected True, False or Unknown, got {described(value)}{hint}; the node lifecycle controller "
                      "taints no Node for such a status (so pods are scheduled there), and Topology Aware Routing "
                      "counts it not ready", file=file, kind="Node", object=name,
                      field=f"status.conditions[{index}].status", severity=Severity.WARNING)


_ALLOCATABLE = {"cpu": 'a CPU quantity; expected e.g. "4" or "3500m"', "pods": 'a pod count; expected e.g. "110"'}


def _allocatable(doc: dict[str, Any], file: str, name: str, resource: str) -> tuple[int | None, Diagnostic | None]:
    """A Node's status.allocatable.RESOURCE in thousandths (cpu: millicores; None when unset), or the error the
    API server gives a value that is not a quantity."""
    status = doc.get("status")
    allocatable = status.get("allocatable") if isinstance(status, dict) else None
    value = allocatable.get(resource) if isinstance(allocatable, dict) else None
    if value is None:
        return None, None
    millis = cpu_millis(value)
    if millis is None or millis < 0:
        return None, Diagnostic(f"{value!r} is not {_ALLOCATABLE[resource]}", file=file,
                                kind="Node", object=name, field=f"status.allocatable.{resource}")
    return millis, None


def _dropped_host_ports(doc: dict[str, Any], file: str, key: str) -> list[Diagnostic]:
    """A warning at each hostPort of a Pod without hostNetwork that upstream reads and the models drop: a
    container's and a sidecar's, each in its words (controllers.decode, which warns a Deployment template's alike);
    the scheduler model and the kubelet model reserve no port for it (a host-network pod's container and sidecar
    ports are its host ports, and those are modelled). A plain init container's nothing upstream reads."""
    spec = doc.get("spec")
    if not isinstance(spec, dict) or spec.get("hostNetwork") is True:
        return []
    sidecars = [(i, c) for i, c in _listed(spec, "initContainers") if c.get("restartPolicy") == "Always"]
    return [Diagnostic(message, file=file, kind="Pod", object=key, field=f"spec.{where}[{i}].ports[{j}].hostPort",
                       severity=Severity.WARNING)
            for where, message, containers in (("containers", HOST_PORT_DROPPED, _listed(spec, "containers")),
                                               ("initContainers", SIDECAR_HOST_PORT_DROPPED, sidecars))
            for i, container in containers
            for j, port in _listed(container, "ports") if port.get("hostPort")]


def _listed(parent: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """The mappings of the list ``parent[key]`` with their indexes (a malformed one is the decoders' to report)."""
    items = parent.get(key)
    return [(i, item) for i, item in enumerate(items if isinstance(items, list) else []) if isinstance(item, dict)]


def _pod_applied(doc: dict[str, Any], meta: dict[str, Any], file: str, key: str,
                 diagnostics: list[Diagnostic]) -> LastApplied:
    """What a Pod manifest writes of the fields apply merges (controllers.model.LastApplied): its spec.tolerations
    (controllers.decode.read_tolerations) and pod-deletion-cost annotation (read_deletion_cost; None: none) as
    written, the refused ones reported."""
    report = Report(file, "Pod", key)
    spec = doc.get("spec")
    tolerations = read_tolerations(report, spec, "spec.tolerations") if isinstance(spec, dict) else ()
    applied = LastApplied(tolerations, read_deletion_cost(report, meta, "metadata"))
    diagnostics.extend(report.diagnostics)
    return applied


def ready_total(spec: dict[str, Any]) -> int:
    """The containers kubectl's READY column counts for a Pod (printPod): spec.containers and the init
    containers with restartPolicy Always (sidecars); those that run to completion are not counted."""
    sidecars = [c for _, c in _listed(spec, "initContainers") if c.get("restartPolicy") == "Always"]
    return len(_listed(spec, "containers")) + len(sidecars)


def _topology_annotations(meta: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return ()
    return tuple(sorted((k, v) for k, v in annotations.items() if k in ANNOTATIONS and isinstance(v, str)))


def _last_applied_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as kubectl apply keeps it in the last-applied-configuration annotation, and compares it with
    the next one: as written, less that annotation itself."""
    out = json.loads(json.dumps(doc, default=str))
    annotations = out.get("metadata", {}).get("annotations") if isinstance(out.get("metadata"), dict) else None
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED_ANNOTATION, None)
        if not annotations:
            del out["metadata"]["annotations"]
    return out


def _annotation_document(meta: dict[str, Any]) -> str | None:
    """The document a last-applied-configuration annotation holds (JSON, keys sorted), when it holds one."""
    annotations = meta.get("annotations")
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, dict) else None
    try:
        held = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return json.dumps(held, sort_keys=True) if isinstance(held, dict) else None


class RawFacts:
    """What ``apply -f`` reads of the raw documents, kind by kind (:meth:`add`; one method per kind): the facts
    the object model does not carry (the controllers need them) and the Deployments it does not read. Mutable on
    purpose, and local to one load; :meth:`manifests` gives them as the frozen result, in key order."""

    __slots__ = ("annotations", "deployment_replicas_last_applied", "deployments", "diagnostics", "endpoints_labels",
                 "ip_fields", "node_cpu", "node_max_pods", "not_ready", "pod_applied", "pod_containers", "policies",
                 "service_documents", "service_last_applied", "unposted", "unreachable", "untainted")

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        self.deployments: list[Deployment] = []
        self.not_ready: set[str] = set()
        self.unreachable: set[str] = set()
        self.untainted: set[str] = set()
        self.unposted: set[str] = set()
        self.node_cpu: dict[str, int] = {}
        self.node_max_pods: dict[str, int] = {}
        self.annotations: dict[str, tuple[tuple[str, str], ...]] = {}
        self.policies: dict[str, str] = {}
        self.ip_fields: dict[str, WrittenIPFields] = {}
        self.pod_applied: dict[str, LastApplied] = {}
        self.pod_containers: dict[str, int] = {}
        self.endpoints_labels: dict[str, bool] = {}
        self.service_documents: dict[str, str] = {}
        self.service_last_applied: dict[str, str] = {}
        self.deployment_replicas_last_applied: dict[str, bool] = {}

    def add(self, file: str, doc: dict[str, Any]) -> None:
        """One document's facts, by its kind (a document of any other kind has none)."""
        raw_meta = doc.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        kind = doc.get("kind")
        if is_deployment(doc):
            self._deployment(file, doc)
        elif kind == "Node" and isinstance(meta.get("name"), str):
            self._node(file, doc, meta["name"])
        elif kind in ("Pod", "Service", "Endpoints"):
            key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
            if kind == "Pod":
                self._pod(file, doc, meta, key)
            elif kind == "Service":
                self._service(file, doc, meta, key)
            else:
                self._endpoints(meta, key)

    def _deployment(self, file: str, doc: dict[str, Any]) -> None:
        """A Deployment, which the object model does not read (the controllers play it), or why it is unusable."""
        deployment, found = decode_deployment(doc, file)
        self.diagnostics.extend(found)
        if deployment is not None:
            self.deployments.append(deployment)
            meta = doc.get("metadata")
            if isinstance(meta, dict) and (annotation := _annotation_document(meta)) is not None:
                spec = json.loads(annotation).get("spec")
                given = isinstance(spec, dict) and spec.get("replicas") is not None
                self.deployment_replicas_last_applied[deployment.key] = given

    def _node(self, file: str, doc: dict[str, Any], name: str) -> None:
        """A Node's readiness, as the taints the node lifecycle controller gives it and Topology Aware Routing
        read it, and its allocatable CPU and pods, which the scheduler model fills."""
        index, ready = _ready_status(doc)
        if ready != "True":
            self.not_ready.add(name)
        if ready == "Unknown":  # the node lifecycle controller's unreachable taint, not its not-ready one
            self.unreachable.add(name)
        elif ready not in _CONDITION_STATUSES:  # no taint at all (nodeConditionToTaintKeyStatusMap)
            self.untainted.add(name)
            if index >= 0:
                self.diagnostics.append(_odd_ready(file, name, index, ready))
            else:
                self.unposted.add(name)
        millis, problem = _allocatable(doc, file, name, "cpu")
        pods, pods_problem = _allocatable(doc, file, name, "pods")
        self.diagnostics.extend(p for p in (problem, pods_problem) if p is not None)
        if millis is not None:
            self.node_cpu[name] = millis
        if pods is not None:
            self.node_max_pods[name] = -(-pods // 1000)  # Quantity.Value() rounds up

    def _pod(self, file: str, doc: dict[str, Any], meta: dict[str, Any], key: str) -> None:
        """A Pod's host ports the models drop (warned) and what its manifest writes of the fields apply merges."""
        self.diagnostics += _dropped_host_ports(doc, file, key)
        self.pod_applied[key] = _pod_applied(doc, meta, file, key, self.diagnostics)  # written twice: the last's
        spec = doc.get("spec")
        if isinstance(spec, dict):
            self.pod_containers[key] = ready_total(spec)

    def _endpoints(self, meta: dict[str, Any], key: str) -> None:
        """How an Endpoints' manifest writes metadata.labels, which the decoded object's labels no longer tell:
        as a map (even ``{}``: kubectl's patch then removes only the entries the last apply wrote) or as null
        (its patch deletes the field whole); one that leaves it out is not recorded (written twice: the last's)."""
        if "labels" in meta and (meta["labels"] is None or isinstance(meta["labels"], dict)):
            self.endpoints_labels[key] = meta["labels"] is not None
        else:
            self.endpoints_labels.pop(key, None)

    def _service(self, file: str, doc: dict[str, Any], meta: dict[str, Any], key: str) -> None:
        """A Service's topology annotations and its IP fields as written (ipFamilyPolicy, clusterIPs,
        ipFamilies), which the model's defaulted Service no longer tells from the API server's defaults."""
        self.service_documents[key] = json.dumps(_last_applied_view(doc), sort_keys=True)
        if (annotation := _annotation_document(meta)) is not None:
            self.service_last_applied[key] = annotation
        if found_annotations := _topology_annotations(meta):
            self.annotations[key] = found_annotations
        if (written := written_ip_fields(doc)) != NOTHING_WRITTEN:
            self.ip_fields[key] = written
        if (policy := family_policy(doc)) is not None:
            self.policies[key] = policy
        elif (refusal := family_policy_problem(doc)) is not None:  # refused, as the API server's validation does
            self.diagnostics.append(Diagnostic(refusal, file=file, kind="Service", object=key,
                                               field="spec.ipFamilyPolicy"))

    def manifests(self, cluster: Cluster) -> Manifests:
        """The facts with the loaded ``cluster``, as the frozen :class:`~kubeproxy_sim.controllers.script.Manifests`
        the script plays."""
        return Manifests(cluster, deployments=tuple(self.deployments), not_ready_nodes=frozenset(self.not_ready),
                         unreachable_nodes=frozenset(self.unreachable), untainted_nodes=frozenset(self.untainted),
                         unposted_nodes=frozenset(self.unposted), diagnostics=tuple(self.diagnostics),
                         node_cpu=tuple(sorted(self.node_cpu.items())),
                         node_max_pods=tuple(sorted(self.node_max_pods.items())),
                         service_annotations=tuple(sorted(self.annotations.items())),
                         family_policies=tuple(sorted(self.policies.items())),
                         ip_fields=tuple(sorted(self.ip_fields.items())),
                         pod_applied=tuple(sorted(self.pod_applied.items())),
                         pod_containers=tuple(sorted(self.pod_containers.items())),
                         endpoints_labels=tuple(sorted(self.endpoints_labels.items())),
                         service_documents=tuple(sorted(self.service_documents.items())),
                         service_last_applied=tuple(sorted(self.service_last_applied.items())),
                         deployment_replicas_last_applied=tuple(sorted(self.deployment_replicas_last_applied.items())))
