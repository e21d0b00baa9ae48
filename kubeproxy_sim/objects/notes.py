"""Notes about the objects read as a whole, said once at load time.

``kubectl get all -o yaml`` gives Services, Pods, Deployments, ... and no EndpointSlices (they are not in the
"all" category). kube-proxy reads EndpointSlices only, so each such Service gets a REJECT "has no endpoints" rule
although pods serve it: the rules are right for the objects given, and wrong for the cluster they came from.
``trace`` explains it for one packet (analysis.why's selector text); :func:`sliceless_services` says it once,
for every command reading objects.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.model import EndpointSlice, Pod, Service, ServiceType

SLICELESS_SHOWN = 5
"""Services named one per line; past it, one more line counts the rest (a ``get all`` of a big namespace)."""


def ready_pods_selected(service: Service, pods: Sequence[Pod]) -> list[Pod]:
    """The ready pods of the Service's namespace its selector matches (every pair of it among their labels, as
    the EndpointSlice controller's selector does); none without a selector (its slices are not the controller's)."""
    if service.selector is None:
        return []
    wanted = set(service.selector)
    return [pod for pod in pods
            if pod.namespace == service.namespace and pod.ready and not pod.terminating
            and wanted <= set(pod.labels)]


def sliceless_services(services: Iterable[Service], slices: Iterable[EndpointSlice],
                       pods: Sequence[Pod]) -> list[Diagnostic]:
    """A note for each Service kube-proxy writes rules for (a cluster IP, not ExternalName) that no EndpointSlice
    names while its selector matches ready pods: one line a Service, :data:`SLICELESS_SHOWN` at most, and a count
    of the rest. Without pods nothing can match: no work at all (a large cluster's input rarely holds pods)."""
    if not pods:
        return []
    named = {(s.namespace, s.service_name) for s in slices}
    found: list[tuple[Service, list[Pod]]] = []
    for service in services:
        if (service.selector is None or service.type is ServiceType.EXTERNAL_NAME or not service.cluster_ips
                or (service.namespace, service.name) in named):
            continue
        matched = ready_pods_selected(service, pods)
        if matched:
            found.append((service, matched))
    notes = [_sliceless(service, matched) for service, matched in found[:SLICELESS_SHOWN]]
    if len(found) > SLICELESS_SHOWN:
        notes.append(_rest_note(len(found) - SLICELESS_SHOWN))
    return notes


def stray_slices(slices: Iterable[EndpointSlice], service_keys: Collection[str]) -> list[Diagnostic]:
    """A note for each EndpointSlice whose service-name label names no Service of its own namespace while a
    Service of that name was read in another: a slice belongs to the Service of its namespace (kube-proxy keys it
    by namespace/label), so its endpoints serve nothing, likely a slice copied or applied into the wrong
    namespace. ``service_keys``: the ``namespace/name`` of every Service read (a split load's other shares' too).
    A slice whose Service was not read at all is not noted: a partial input is common."""
    strays = [s for s in slices if s.service_name and s.service_key not in service_keys]
    if not strays:
        return []
    elsewhere: dict[str, list[str]] = {}
    for key in service_keys:
        namespace, _, name = key.partition("/")
        elsewhere.setdefault(name, []).append(namespace)
    return [_stray(s, sorted(elsewhere[s.service_name])) for s in strays if s.service_name in elsewhere]


def _stray(endpoint_slice: EndpointSlice, namespaces: list[str]) -> Diagnostic:
    shown = ", ".join(namespaces[:3]) + (", ..." if len(namespaces) > 3 else "")
    return Diagnostic(
        f"metadata.labels.kubernetes.io/service-name names {endpoint_slice.service_name!r}, a Service read in "
        f"namespace {shown} but not in {endpoint_slice.namespace}: a slice belongs to the Service of its own "
        "namespace, so kube-proxy uses its endpoints for none (a slice in the wrong namespace?)",
        file=endpoint_slice.origin.file or None, kind="EndpointSlice", object=endpoint_slice.key,
        severity=Severity.NOTE)


def capped_sliceless(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """``diagnostics`` with the notes of :func:`sliceless_services` capped once more, over them all.

    A ``rules`` run split over two processes (cli.split_sync) loads two shares of the Services, and each share
    notes its own sliceless ones: merged in input order, up to twice :data:`SLICELESS_SHOWN` lines and two
    counts. Kept here are the first Services' lines, then one count of every other (the hidden lines and both
    counts'), where one load of every Service puts it: what one process prints.
    """
    named = [i for i, d in enumerate(diagnostics) if _names_sliceless(d)]
    counts = [(i, count) for i, d in enumerate(diagnostics) if (count := _rest_count(d)) is not None]
    if len(counts) <= 1 and len(named) <= SLICELESS_SHOWN:
        return list(diagnostics)  # one load's notes: already capped
    hidden = len(named) - SLICELESS_SHOWN if len(named) > SLICELESS_SHOWN else 0
    rest = hidden + sum(count for _, count in counts)
    dropped = {*named[SLICELESS_SHOWN:], *(i for i, _ in counts)}
    last_shown = named[min(len(named), SLICELESS_SHOWN) - 1] if named else -1
    kept: list[Diagnostic] = []
    for i, diagnostic in enumerate(diagnostics):
        if i not in dropped:
            kept.append(diagnostic)
        if i == last_shown and rest:
            kept.append(_rest_note(rest))
    return kept


_SLICELESS_WORDS = "but no EndpointSlice of this Service was read"
_REST = re.compile(r"and ([0-9]+) more Services? with ready pods and no EndpointSlice")


def _rest_note(rest: int) -> Diagnostic:
    return Diagnostic(f"and {rest} more Service{'s' if rest != 1 else ''} with ready pods and no EndpointSlice",
                      severity=Severity.NOTE)


def _names_sliceless(diagnostic: Diagnostic) -> bool:
    """Whether it is one Service's line of :func:`sliceless_services`."""
    return (diagnostic.severity is Severity.NOTE and diagnostic.kind == "Service"
            and _SLICELESS_WORDS in diagnostic.message)


def _rest_count(diagnostic: Diagnostic) -> int | None:
    """The Services a count of :func:`sliceless_services` stands for; None for any other message."""
    if diagnostic.severity is not Severity.NOTE or diagnostic.kind is not None:
        return None
    match = _REST.fullmatch(diagnostic.message)
    return int(match.group(1)) if match else None


def _sliceless(service: Service, matched: list[Pod]) -> Diagnostic:
    names = ", ".join(pod.name for pod in matched[:3]) + (", ..." if len(matched) > 3 else "")
    selector = ",".join(f"{key}={value}" for key, value in service.selector or ())
    return Diagnostic(
        f"spec.selector {selector} matches {len(matched)} ready pod{'s' if len(matched) != 1 else ''} ({names}) "
        f"{_SLICELESS_WORDS}, so kube-proxy rejects its connections (\"has no "
        "endpoints\"); are its slices missing? (kubectl get all leaves them out: add kubectl get endpointslices "
        "-o yaml)", file=service.origin.file or None, kind="Service", object=service.key, severity=Severity.NOTE)
