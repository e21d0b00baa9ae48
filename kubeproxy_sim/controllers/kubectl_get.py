"""``kubectl get KIND [NAME...]``: the model's objects in kubectl 1.33's default table (and ``-o wide``, ``-o
name``), its columns as its printers (pkg/printers/internalversion/printers.go) fill them, aligned as its tab
writer aligns them (a column as wide as its widest cell plus 3 spaces, at least 6; the last one not padded), and
ages from the scenario clock as apimachinery's duration.HumanDuration writes them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubeproxy_sim.controllers.model import Container, SimPod
from kubeproxy_sim.objects.mirror import Endpoints
from kubeproxy_sim.objects.model import EndpointSlice, Node, Service, ServiceType

NONE = "<none>"


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: 2 significant units at most, coarser as the age grows."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m" if whole % 60 == 0 else f"{minutes}m{whole % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Go's tabwriter as kubectl sets it up (minwidth 6, padding 3, spaces): every cell but a row's last padded."""
    widths = [max(6, max(len(row[i]) for row in rows) + 3) for i in range(len(rows[0]) - 1)]
    return ["".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + row[-1] for row in rows]


@dataclass(frozen=True, slots=True)
class Kind:
    resource: str  # the plural name kubectl's NotFound names it by
    name_prefix: str  # -o name's prefix
    header: tuple[str, ...]
    wide: tuple[str, ...]
    cluster_scoped: bool = False  # no namespace: no NAMESPACE column with -A, "No resources found" bare


KINDS: dict[str, Kind] = {
    "pods": Kind("pods", "pod", ("NAME", "READY", "STATUS", "RESTARTS", "AGE"),
                 ("IP", "NODE", "NOMINATED NODE", "READINESS GATES")),
    "services": Kind("services", "service", ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"),
                     ("SELECTOR",)),
    "endpoints": Kind("endpoints", "endpoints", ("NAME", "ENDPOINTS", "AGE"), ()),
    "deployments": Kind("deployments.apps", "deployment.apps", ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"),
                        ("CONTAINERS", "IMAGES", "SELECTOR")),
    "replicasets": Kind("replicasets.apps", "replicaset.apps", ("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
                        ("CONTAINERS", "IMAGES", "SELECTOR")),
    "nodes": Kind("nodes", "node", ("NAME", "STATUS", "ROLES", "AGE", "VERSION"),
                  ("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"),
                  cluster_scoped=True),
    "endpointslices": Kind("endpointslices.discovery.k8s.io", "endpointslice.discovery.k8s.io",
                           ("NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"), ()),
}


def format_labels(pairs: Sequence[tuple[str, str]] | None) -> str:
    """labels.FormatLabels: key=value by key, comma-joined; <none> for none."""
    return ",".join(f"{k}={v}" for k, v in sorted(pairs or ())) or NONE


def pod_status(pod: SimPod, now: float) -> str:
    """The STATUS column: Terminating once deleted, Pending unscheduled, ContainerCreating scheduled and not
    started, ImagePullBackOff for an image that never starts (the model's broken image), else Running."""
    if pod.terminating:
        return "Terminating"
    if pod.node_name is None:
        return "Pending"
    if pod.ready_at is None:
        return "ImagePullBackOff"
    return "Running" if pod.running(now) else "ContainerCreating"


def pod_row(pod: SimPod, now: float, wide: bool) -> list[str]:
    """printPod's row; READY counts the containers and sidecars (SimPod.containers: images counts every init
    container, which printPod leaves out once it has run), all ready once the pod is."""
    total = pod.containers
    row = [pod.name, f"{total if pod.ready(now) else 0}/{total}", pod_status(pod, now), "0",
           human_duration(now - pod.created)]
    if wide:
        ip = pod.pod_ips[0] if pod.pod_ips and not pod.unreported else NONE
        row += [ip, pod.node_name or NONE, NONE, NONE]
    return row


# loadBalancerWidth of the API server's table printer: the ingress column is cut to this many bytes unless wide
_LB_WIDTH = 16


def _ingress_text(service: Service, wide: bool) -> str:
    """loadBalancerStatusStringer: each ingress's IP, else its hostname (one with neither left out), as a sorted
    set joined by commas, cut to 13 bytes and ``...`` when longer than 16 and not ``-o wide``."""
    found = sorted({i.ip or i.hostname or "" for i in service.load_balancer_ingress} - {""})
    text = ",".join(found)
    if not wide and len(text.encode()) > _LB_WIDTH:
        text = text.encode()[:_LB_WIDTH - 3].decode(errors="ignore") + "..."
    return text


def _external_ip(service: Service, wide: bool = False) -> str:
    """getServiceExternalIP of the API server's table printer (printers.go)."""
    if service.type is ServiceType.EXTERNAL_NAME:
        return service.external_name
    if service.type is ServiceType.LOAD_BALANCER:
        ingress = _ingress_text(service, wide)
        if service.external_ips:
            return ",".join([*(ingress.split(",") if ingress else []), *service.external_ips])
        return ingress or "<pending>"
    return ",".join(service.external_ips) or NONE


def service_row(service: Service, age: str, wide: bool) -> list[str]:
    ports = ",".join(f"{p.port}:{p.node_port}/{p.protocol.value}" if p.node_port else f"{p.port}/{p.protocol.value}"
                     for p in service.ports) or NONE
    if service.type is ServiceType.EXTERNAL_NAME:
        cluster_ip = NONE
    else:
        cluster_ip = service.cluster_ips[0] if service.cluster_ips else "None"
    row = [service.name, service.type.value, cluster_ip, _external_ip(service, wide), ports, age]
    if wide:
        row.append(format_labels(service.selector))
    return row


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ipaddress.ip_address(ip).version == 6 else f"{ip}:{port}"


def endpoints_cell(e: Endpoints) -> str:
    """formatEndpoints: the first 3 ready address:port pairs, subset by subset and port by port, and how many
    more; <none> with no subsets."""
    if not e.subsets:
        return NONE
    shown: list[str] = []
    count = 0
    for subset in e.subsets:
        if not subset.ports:
            count += len(subset.addresses)
            shown += [a.ip for a in subset.addresses][:max(0, 3 - len(shown))]
            continue
        for port in subset.ports:
            count += len(subset.addresses)
            shown += [_host_port(a.ip, port.port) for a in subset.addresses][:max(0, 3 - len(shown))]
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


# the labels printNode reads roles from: node-role.kubernetes.io/ROLE (any value) and kubernetes.io/role=ROLE
_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def node_roles(labels: Sequence[tuple[str, str]]) -> str:
    """findNodeRoles: each node-role.kubernetes.io/ROLE key's ROLE and a non-empty kubernetes.io/role value, as
    a sorted set, comma-joined; <none> for none."""
    roles = {key.removeprefix(_ROLE_PREFIX) for key, _ in labels if key.startswith(_ROLE_PREFIX)} - {""}
    roles |= {value for key, value in labels if key == _ROLE_LABEL and value}
    return ",".join(sorted(roles)) or NONE


def node_status(ready: bool, condition_known: bool) -> str:
    """printNode's STATUS of the Ready condition: Ready when True, NotReady for another status, Unknown when the
    Node has none. The model keeps a Node's readiness apart from its object (World.not_ready_nodes,
    untainted_nodes): a Node whose Ready status is none of True, False and Unknown shares "no condition"'s state,
    so it prints Unknown here, where kubectl says NotReady; a cordoned Node's ``,SchedulingDisabled`` is added by
    the caller (script._node_status, World.cordoned)."""
    if ready:
        return "Ready"
    return "NotReady" if condition_known else "Unknown"


def _first_address(node: Node, kind: str) -> str:
    return next((a.address for a in node.addresses if a.type == kind), NONE)


def node_row(node: Node, status: str, age: str, wide: bool) -> list[str]:
    """printNode's row. VERSION is the kubelet's status.nodeInfo.kubeletVersion, which the model does not keep:
    empty, as kubectl prints a Node without nodeInfo; so -o wide's OS-IMAGE, KERNEL-VERSION and CONTAINER-RUNTIME
    are <unknown>, as printNode writes an empty one."""
    row = [node.name, status, node_roles(node.labels), age, ""]
    if wide:
        row += [_first_address(node, "InternalIP"), _first_address(node, "ExternalIP"), *(["<unknown>"] * 3)]
    return row


def _with_more(shown: list[str], count: int) -> str:
    """listWithMoreString: the first 3, then `` + N more...``; <unset> for an empty list."""
    text = ",".join(shown[:3])
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or "<unset>"


def slice_row(s: EndpointSlice, age: str) -> list[str]:
    """printEndpointSlice's row: each port's number (its name without one, ``*`` with neither), every endpoint's
    addresses in order."""
    ports = [str(p.port) if p.port is not None else p.name if p.name is not None else "*" for p in s.ports]
    addresses = [a for e in s.endpoints for a in e.addresses]
    return [s.name, s.address_type.value, _with_more(ports, len(ports)), _with_more(addresses, len(addresses)), age]


def workload_wide(containers: Sequence[Container], selector: Sequence[tuple[str, str]]) -> list[str]:
    """-o wide's CONTAINERS, IMAGES and SELECTOR of a Deployment or ReplicaSet."""
    return [",".join(c.name for c in containers), ",".join(c.image for c in containers), format_labels(selector)]


def printed(kind: str, rows: Mapping[str, list[str]], names: Sequence[str], output: str,
            namespace: str | None) -> tuple[list[str], list[str]]:
    """(lines, names not found) of ``get`` over ``rows``; ``names`` empty lists them all."""
    spec = KINDS[kind]
    wanted = list(names) or sorted(rows)
    missing = [n for n in wanted if n not in rows]
    found = [n for n in wanted if n in rows]
    if not found:
        if names:
            return [], missing
        where = f" in {namespace} namespace" if namespace is not None else ""
        return [f"No resources found{where}."], []
    if output == "name":
        return [f"{spec.name_prefix}/{n}" for n in found], missing
    header = list(spec.header) + (list(spec.wide) if output == "wide" else [])
    return table([header, *(rows[n] for n in found)]), missing


def age_of(created: Mapping[tuple[str, str], float], kind: str, key: str, now: float) -> str:
    """The age of an object the scenario made at a known instant; one it started with is as old as the scenario."""
    return human_duration(now - created.get((kind, key), 0.0))



@dataclass(frozen=True, slots=True)
class Group:
    """One kind's part of a ``get`` over several kinds (``get svc,pods``, ``get pod/a svc/b``, ``get all``): its
    rows by name, each object's labels (for ``--show-labels``), and the names asked for (none: all)."""

    kind: str
    rows: Mapping[str, list[str]]
    labels: Mapping[str, Sequence[tuple[str, str]]]
    names: Sequence[str] = ()


def multiple_types_requested(words: Sequence[str]) -> bool:
    """cli-runtime's MultipleTypesRequested: ``all``, a ``a,b`` of two distinct words, or TYPE/NAME words of two
    type words (as written: ``svc/a service/b`` are two) ask for the kind before each name (``service/web``)."""
    types: set[str] = set()
    for word in words:
        if word == "all":
            return True
        if "/" in word:
            types.add(word.partition("/")[0])
        elif len(dict.fromkeys(word.split(","))) > 1:
            return True
    return len(types) > 1


def printed_groups(groups: Sequence[Group], output: str, namespace: str | None, *, with_kind: bool,
                   show_labels: bool = False, no_headers: bool = False,
                   all_namespaces: bool = False) -> tuple[list[str], list[str]]:
    """(lines, NotFound errors) of ``get`` over several kinds, as kubectl prints them: each kind's own table
    (widths of its own), a blank line between two when headers are shown, names prefixed by the kind when
    ``with_kind``, a LABELS column with ``--show-labels``; ``No resources found in NS namespace.`` when nothing
    was found and no name was asked for; a name not found is the API server's NotFound
    (``Error from server (NotFound): services "x" not found``). With ``all_namespaces`` (``-A``) a group's rows are
    keyed NS/NAME in the order to print, each with its namespace first under NAMESPACE, and nothing found is
    kubectl's ``No resources found`` (no namespace, no full stop)."""
    lines: list[str] = []
    missing: list[str] = []
    asked = any(group.names for group in groups)
    for group in groups:
        spec = KINDS[group.kind]
        by_namespace = all_namespaces and not spec.cluster_scoped  # kubectl prints no NAMESPACE of a Node
        wanted = list(group.names) or (list(group.rows) if by_namespace else sorted(group.rows))
        at = 1 if by_namespace else 0  # the NAME column
        missing += [f'Error from server (NotFound): {spec.resource} "{n}" not found'
                    for n in wanted if n not in group.rows]
        found = [n for n in wanted if n in group.rows]
        if not found:
            continue
        if output == "name":
            lines += [f"{spec.name_prefix}/{group.rows[n][at]}" for n in found]
            continue
        rows = []
        for n in found:
            row = list(group.rows[n])
            if with_kind:
                row[at] = f"{spec.name_prefix}/{row[at]}"
            if show_labels:
                row.append(format_labels(group.labels.get(n)))
            rows.append(row)
        header = [*(["NAMESPACE"] if by_namespace else []), *spec.header, *(spec.wide if output == "wide" else ()),
                  *(["LABELS"] if show_labels else [])]
        if lines and not no_headers:
            lines.append("")
        lines += table(rows if no_headers else [header, *rows])
    if not lines and not asked and (all_namespaces or any(KINDS[g.kind].cluster_scoped for g in groups)):
        lines = ["No resources found"]
    elif not lines and not asked:
        where = f" in {namespace} namespace" if namespace is not None else ""
        lines = [f"No resources found{where}."]
    return lines, missing


# what ``get all`` lists (the "all" category: pods, services, daemonsets, deployments, replicasets, statefulsets,
# jobs, cronjobs, horizontalpodautoscalers), of the kinds the model holds, in kubectl's order
ALL_KINDS = ("pods", "services", "deployments", "replicasets")
