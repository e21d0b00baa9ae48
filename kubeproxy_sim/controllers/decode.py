"""Decoding apps/v1 Deployment manifests (the loader of the objects layer skips them: kube-proxy never reads them).

Only what the controllers model is read: replicas, matchLabels selector,
template labels and pod-deletion-cost annotation, containers and init containers (name, image, ports; a
sidecar's restartPolicy), grace period,
hostNetwork, tolerations, strategy with
maxSurge/maxUnavailable, progress deadline and history limit. Problems are
reported like every other object's: file, Deployment namespace/name, field
path, what is wrong and what is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from kubeproxy_sim.controllers.model import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_PROGRESS_DEADLINE,
    DEFAULT_SURGE,
    DEFAULT_UNAVAILABLE,
    NO_EXECUTE,
    POD_DELETION_COST,
    Container,
    Deployment,
    PodTemplate,
    Strategy,
    Toleration,
    replicas_over_limit,
)
from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.objects.decode import DNS1123_SUBDOMAIN, LABEL_VALUE, check_metadata, object_name, read_protocol
from kubeproxy_sim.objects.decode_nodes import is_sidecar
from kubeproxy_sim.objects.model import ContainerPort
from kubeproxy_sim.objects.report import Report, quote

API_VERSION = "apps/v1"
HOST_PORT_DROPPED = ("not modelled on a pod without hostNetwork: kube-scheduler's NodePorts would keep two pods "
                     "asking it off one node, and the CNI's portmap plugin would forward the node's port to the pod; "
                     "the simulator does neither (expected hostNetwork: true for a pod serving on its node's "
                     "address)")
SIDECAR_HOST_PORT_DROPPED = ("not modelled on a pod without hostNetwork: kube-scheduler's NodePorts would keep two "
                             "pods asking it off one node (it counts a sidecar's host ports as a container's, "
                             "kubernetes/kubernetes#132040; the kubelet gives the CNI's portmap plugin "
                             "spec.containers' ports alone, so nothing forwards it); the simulator reserves nothing "
                             "(expected hostNetwork: true for a sidecar serving on its node's address)")
_PERCENT = re.compile(r"^[0-9]+%$")
_STRATEGIES = {s.value: s for s in Strategy}
_OPERATORS = ("Equal", "Exists")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", NO_EXECUTE)


def is_deployment(document: object) -> bool:
    return type(document) is dict and document.get("kind") == "Deployment"


SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK = "SingleStack", "PreferDualStack", "RequireDualStack"
FAMILY_POLICIES = (SINGLE_STACK, PREFER_DUAL_STACK, REQUIRE_DUAL_STACK)


def _written_policy(doc: dict[str, Any]) -> object:
    spec = doc.get("spec")
    return spec.get("ipFamilyPolicy") if isinstance(spec, dict) else None


def family_policy(doc: dict[str, Any]) -> str | None:
    """A Service document's spec.ipFamilyPolicy (SingleStack, PreferDualStack, RequireDualStack), for the cluster IP
    allocator (the objects layer does not keep it: kube-proxy reads the addresses); None when absent or not one of
    those (a value given and not one of those is refused: :func:`family_policy_problem`)."""
    policy = _written_policy(doc)
    return policy if policy in FAMILY_POLICIES else None


def family_policy_problem(doc: dict[str, Any]) -> str | None:
    """The API server's refusal of a spec.ipFamilyPolicy given and not one of the three, in its words
    (531be81208e2 pkg/apis/core/validation/validation.go ValidateServiceClusterIPsRelatedFields: field.NotSupported,
    the supported values sorted); None when it is absent (null too) or supported."""
    policy = _written_policy(doc)
    if policy is None or policy in FAMILY_POLICIES:
        return None
    return f"Unsupported value: {quote(policy)}: supported values: {', '.join(map(quote, sorted(FAMILY_POLICIES)))}"


@dataclass(frozen=True, slots=True)
class WrittenIPFields:
    """What a manifest wrote of the fields the objects layer folds into cluster_ips and ip_families, where the API
    server tells them apart: whether the list ``spec.clusterIPs`` was written (kubectl apply writing ``clusterIP``
    alone leaves the live list, which the API server keeps when that address is unchanged), and how many
    ``spec.ipFamilies`` entries were (a written family is where it reports a family without a range)."""

    cluster_ips_list: bool = False
    ip_families: int = 0


NOTHING_WRITTEN = WrittenIPFields()  # kubectl expose's Service, and a manifest writing neither field


def written_ip_fields(doc: dict[str, Any]) -> WrittenIPFields:
    """What a Service document wrote of spec.clusterIPs (the list) and spec.ipFamilies (badly typed values are the
    objects layer's to refuse)."""
    spec = doc.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    ips, families = spec.get("clusterIPs"), spec.get("ipFamilies")
    return WrittenIPFields(cluster_ips_list=isinstance(ips, list) and bool(ips),
                           ip_families=len(families) if isinstance(families, list) else 0)


def decode_deployment(doc: dict[str, Any], file: str) -> tuple[Deployment | None, list[Diagnostic]]:
    """One Deployment manifest: the object (None if unusable) and the findings."""
    namespace, name, display = object_name(doc)
    report = Report(file, "Deployment", display)
    if doc.get("apiVersion") != API_VERSION:
        report.error("apiVersion", f"{quote(doc.get('apiVersion'))} is not supported; expected {API_VERSION}")
        return None, report.diagnostics
    labels = check_metadata(report, doc, "Deployment")
    spec = report.mapping(doc, "spec", "spec") or {}
    replicas = _count(report, spec, "replicas", "spec.replicas", 1)
    if (too_many := replicas_over_limit(replicas)) is not None:
        report.error("spec.replicas", too_many)
    selector = _selector(report, spec)
    template = _template(report, spec)
    strategy, surge, unavailable = _strategy(report, spec)
    deadline = _count(report, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds",
                      DEFAULT_PROGRESS_DEADLINE)
    limit = _count(report, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", DEFAULT_HISTORY_LIMIT)
    if template is not None and selector and not all(dict(template.labels).get(k) == v for k, v in selector):
        report.error("spec.template.metadata.labels", "does not match spec.selector; expected every selector "
                                                      "label among the template's labels")
    cause = _change_cause(report, doc)
    if report.failed or template is None:
        return None, report.diagnostics
    for key, what in (("paused", "a paused rollout"), ("minReadySeconds", "minReadySeconds")):
        if spec.get(key):
            report.warn(f"spec.{key}", f"{what} is not modelled; the rollout is played without it")
    return Deployment(namespace=namespace, name=name, replicas=replicas, selector=selector, template=template,
                      strategy=strategy, max_surge=surge, max_unavailable=unavailable, progress_deadline=deadline,
                      history_limit=limit, labels=labels, change_cause=cause,
                      replicas_given=spec.get("replicas") is not None), report.diagnostics


CHANGE_CAUSE = "kubernetes.io/change-cause"


def _change_cause(report: Report, doc: dict[str, Any]) -> str:
    """The annotation ``kubectl rollout history`` shows as CHANGE-CAUSE (copied to the revision it made)."""
    meta = doc.get("metadata")
    annotations = report.mapping(meta, "annotations", "metadata.annotations") if isinstance(meta, dict) else None
    return report.string(annotations or {}, CHANGE_CAUSE, f"metadata.annotations.{CHANGE_CAUSE}") or ""


def _count(report: Report, parent: dict[str, Any], key: str, path: str, default: int) -> int:
    value = report.integer(parent, key, path)
    if value is None:
        return default
    if value < 0:
        report.error(path, f"{value} is negative; expected 0 or more")
        return default
    return value


def _selector(report: Report, spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    selector = report.mapping(spec, "selector", "spec.selector")
    if selector is None:
        report.error("spec.selector", "required; expected matchLabels")
        return ()
    if selector.get("matchExpressions"):
        report.error("spec.selector.matchExpressions", "not supported; expected matchLabels only")
    pairs = report.string_map(selector, "matchLabels", "spec.selector.matchLabels") or ()
    if not pairs and not report.failed:
        report.error("spec.selector.matchLabels", "empty; expected at least one label")
    return pairs


def _template(report: Report, spec: dict[str, Any]) -> PodTemplate | None:
    template = report.mapping(spec, "template", "spec.template") or {}
    meta = report.mapping(template, "metadata", "spec.template.metadata") or {}
    labels = report.string_map(meta, "labels", "spec.template.metadata.labels") or ()
    pod_spec = report.mapping(template, "spec", "spec.template.spec") or {}
    grace = _count(report, pod_spec, "terminationGracePeriodSeconds",
                   "spec.template.spec.terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
    host_network = bool(report.boolean(pod_spec, "hostNetwork", "spec.template.spec.hostNetwork"))
    containers = []
    names: set[str] = set()
    for _, path, raw in report.mappings(pod_spec, "containers", "spec.template.spec.containers"):
        _check_unique_name(report, raw, path, names)
        container = _container(report, raw, path, host_network)
        if container is not None:
            containers.append(container)
    if not containers:
        report.error("spec.template.spec.containers", "required; expected at least one container with an image")
        return None
    tolerations = read_tolerations(report, pod_spec, "spec.template.spec.tolerations")
    cost = read_deletion_cost(report, meta, "spec.template.metadata")
    return PodTemplate(labels=labels, containers=tuple(containers), grace_period=grace, host_network=host_network,
                       tolerations=tolerations, deletion_cost=cost,
                       init_containers=_init_containers(report, pod_spec, host_network, names))


def _check_unique_name(report: Report, raw: dict[str, Any], path: str, names: set[str]) -> None:
    """A container's name, refused when a container or init container before it has it (``names``, which it joins):
    the API server keeps one name space for both (validateContainers, then validateInitContainers seeded with the
    containers' names), since kubectl set image, logs and exec pick a container by name alone. An empty name is
    the required-field error of :func:`_container`, not a duplicate."""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return
    if name in names:
        report.error(f"{path}.name", f'Duplicate value: "{name}"; expected a name no other container or init '
                                     "container of the template has")
    names.add(name)


def _init_containers(report: Report, pod_spec: dict[str, Any], host_network: bool,
                     names: set[str]) -> tuple[Container, ...]:
    """The template's spec.initContainers, in order: a sidecar (restartPolicy Always) and one that runs to
    completion (no restartPolicy) alike, for both are part of the template (a new image is a new revision, and
    kubectl set image names them) and both must start before the containers. Another restartPolicy fails the
    Deployment as it fails a Pod, by the one rule of objects.decode_nodes.is_sidecar."""
    out = []
    for _, path, raw in report.mappings(pod_spec, "initContainers", "spec.template.spec.initContainers"):
        _check_unique_name(report, raw, path, names)
        sidecar = is_sidecar(report, raw, path)
        dropped = SIDECAR_HOST_PORT_DROPPED if sidecar else None  # nothing upstream reads a plain one's hostPort
        if (container := _container(report, raw, path, host_network, dropped)) is not None:
            out.append(replace(container, restart_policy="Always" if sidecar else ""))
    return tuple(out)


_DELETION_COST = re.compile(r"-[0-9]+|0|[1-9][0-9]*")  # validFirstDigit, then strconv.ParseInt base 10


def read_deletion_cost(report: Report, meta: dict[str, Any], path: str) -> str | None:
    """The pod-deletion-cost annotation of the metadata at ``path`` as written (None when absent), kept a string as
    the API server keeps it ("0" is set, "-007" is not "-7"; model.deletion_cost_value reads its number). A value
    the API server refuses (ValidatePodSpecificAnnotations, "must be a 32bit integer": no plus sign, no leading
    zero unless after a minus, base 10, 32 bits) is reported at its field and read as none."""
    annotations = report.mapping(meta, "annotations", f"{path}.annotations") or {}
    field = f"{path}.annotations[{POD_DELETION_COST}]"
    value = report.string(annotations, POD_DELETION_COST, field)
    if value is None:
        return None
    if _DELETION_COST.fullmatch(value) and -(2**31) <= int(value) < 2**31:
        return value
    report.error(field, f"Invalid value: {quote(value)}: must be a 32bit integer; expected a whole number from "
                        "-2147483648 to 2147483647, no plus sign, no leading zero unless after a minus sign")
    return None


_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
LABEL_KEY_EXPECTED = ("[PREFIX/]NAME, NAME up to 63 letters, digits, '-', '_' and '.' (alphanumeric at both ends), "
                      "PREFIX a DNS subdomain")
_INT64 = 2**63


def is_label_key(key: str) -> bool:
    """The API server's label key (ValidateLabelName, IsQualifiedName): an optional DNS-subdomain prefix of up to
    253 characters and a name of up to 63. The prefix is checked as the DNS subdomain it is, so ``a..b/x`` and
    ``a.-b/x`` are refused as upstream refuses them."""
    prefix, slash, name = key.rpartition("/")
    if slash and DNS1123_SUBDOMAIN.problem(prefix) is not None:
        return False
    return _LABEL_NAME.fullmatch(name) is not None and len(name) <= 63


def read_tolerations(report: Report, pod_spec: dict[str, Any], path: str) -> tuple[Toleration, ...]:
    """A pod spec's tolerations, checked as the API server's validateTolerations does (a refused one is reported at
    its field and left out): a key that is a label key, operator Equal or Exists (left out: kept empty, checked as
    Equal), Equal with a label value (reported at operator, as upstream does), Exists with no value, an empty key
    only with Exists, effect NoSchedule, PreferNoSchedule, NoExecute or none, tolerationSeconds an int64 and only
    with NoExecute."""
    found = []
    for _, item_path, raw in report.mappings(pod_spec, "tolerations", path):
        key = report.string(raw, "key", f"{item_path}.key", "") or ""
        operator = report.string(raw, "operator", f"{item_path}.operator", "") or ""  # as written: none stays empty
        value = report.string(raw, "value", f"{item_path}.value", "") or ""
        effect = report.string(raw, "effect", f"{item_path}.effect", "") or ""
        seconds = report.integer(raw, "tolerationSeconds", f"{item_path}.tolerationSeconds")
        problems = []
        if key and not is_label_key(key):
            problems.append(("key", f"{quote(key)} is not a label key; expected {LABEL_KEY_EXPECTED}"))
        if seconds is not None and not -_INT64 <= seconds < _INT64:
            problems.append(("tolerationSeconds", f"{seconds} does not fit an int64; expected {-_INT64} to "
                                                  f"{_INT64 - 1}"))
        if operator and operator not in _OPERATORS:
            problems.append(("operator", f'Unsupported value: {quote(operator)}: supported values: "Equal", "Exists"'))
        elif not key and operator != "Exists":
            problems.append(("operator", 'must be Exists when `key` is empty, which means "match all values and '
                                         'all keys"'))
        elif operator == "Exists" and value:
            problems.append(("operator", "value must be empty when `operator` is 'Exists'"))
        elif (problem := LABEL_VALUE.problem(value)) is not None:
            problems.append(("operator", problem))
        if effect and effect not in _EFFECTS:
            problems.append(("effect", f'Unsupported value: {quote(effect)}: supported values: "NoExecute", '
                                       '"NoSchedule", "PreferNoSchedule"'))
        if seconds is not None and effect != NO_EXECUTE:
            problems.append(("effect", "must be 'NoExecute' when `tolerationSeconds` is set"))
        for field, message in problems:
            report.error(f"{item_path}.{field}", message)
        if not problems:
            found.append(Toleration(key=key, operator=operator, value=value, effect=effect, seconds=seconds))
    return tuple(found)


def _container(report: Report, raw: dict[str, Any], path: str, host_network: bool,
               dropped: str | None = HOST_PORT_DROPPED) -> Container | None:
    """One container of the template; ``dropped``: the warning at a hostPort the simulator drops on a pod without
    hostNetwork (None: upstream drops it too)."""
    name = report.string(raw, "name", f"{path}.name", "")
    image = report.string(raw, "image", f"{path}.image", "")
    if not name:
        report.error(f"{path}.name", "required; expected a container name")
    if not image:
        report.error(f"{path}.image", "required; expected an image like registry/app:tag")
    ports = []
    for _, port_path, port in report.mappings(raw, "ports", f"{path}.ports"):
        number = report.port_number(report.integer(port, "containerPort", f"{port_path}.containerPort"),
                                    f"{port_path}.containerPort", low=1)
        if port.get("containerPort") is None:
            report.error(f"{port_path}.containerPort", "required; expected a port number in 1-65535")
        protocol = read_protocol(report, port, f"{port_path}.protocol")
        if port.get("hostPort") and not host_network and dropped is not None:
            report.warn(f"{port_path}.hostPort", dropped)
        if number is not None:
            ports.append(ContainerPort(name=report.string(port, "name", f"{port_path}.name") or None,
                                       container_port=number, protocol=protocol))
    if not name or not image:
        return None
    return Container(name=name, image=image, ports=tuple(ports))


def _int_or_percent(report: Report, parent: dict[str, Any], key: str, path: str, default: str) -> int | str:
    value = parent.get(key)
    if value is None:
        return default
    if type(value) is int and value >= 0:
        return value
    if type(value) is str and _PERCENT.match(value):
        return value
    report.error(path, f"{quote(value)} is not a count or a percentage; expected e.g. 1 or \"25%\"")
    return default


def _strategy(report: Report, spec: dict[str, Any]) -> tuple[Strategy, int | str, int | str]:
    raw = report.mapping(spec, "strategy", "spec.strategy") or {}
    kind_text = report.string(raw, "type", "spec.strategy.type", Strategy.ROLLING_UPDATE.value)
    strategy = _STRATEGIES.get(kind_text or "")
    if strategy is None:
        report.error("spec.strategy.type", f"{quote(kind_text)} is not a strategy; expected RollingUpdate or Recreate")
        strategy = Strategy.ROLLING_UPDATE
    rolling = report.mapping(raw, "rollingUpdate", "spec.strategy.rollingUpdate") or {}
    if strategy is Strategy.RECREATE and rolling:
        report.error("spec.strategy.rollingUpdate", "may not be set when spec.strategy.type is Recreate")
    surge = _int_or_percent(report, rolling, "maxSurge", "spec.strategy.rollingUpdate.maxSurge", DEFAULT_SURGE)
    unavailable = _int_or_percent(report, rolling, "maxUnavailable", "spec.strategy.rollingUpdate.maxUnavailable",
                                  DEFAULT_UNAVAILABLE)
    if surge in (0, "0%") and unavailable in (0, "0%"):
        report.error("spec.strategy.rollingUpdate.maxUnavailable",
                     "may not be 0 when maxSurge is 0; expected one of them above 0")
    return strategy, surge, unavailable
