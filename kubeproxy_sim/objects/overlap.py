"""Endpoints two EndpointSlices of one Service both list, in copies kube-proxy may take either of.

kube-proxy merges a Service's slices into one endpoint per ``ip:port``
(endpointslicecache.go ``addEndpoints``): a copy that is not terminating
replaces the one taken before, a terminating copy never does. It walks the
slices in Go map order, so when the copies that could win (every one not
terminating; or, when all are terminating, every one) differ in what kube-proxy
reads of them, the one used changes from sync to sync: upstream's own comment
calls the result undefined. The proxier here walks the slices in name order
(``proxier.state.endpoints_map``): the last copy not terminating wins, or else
the first terminating one. That is one fixed answer to a question kube-proxy
answers at random, so the user is told. A terminating copy beside one that is
not is decided the same way upstream decides it, and says nothing.

One slice listing an address twice is another matter: ``addEndpoints`` walks a
slice's endpoints in list order, so the same rule (the last copy not
terminating, or the first when all are) gives the same copy on every sync, and
the proxier here takes it too. Copies that differ are still worth a word, since
all but one are dropped: :func:`repeated_addresses` names the one kept.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointSlice,
    Protocol,
    Service,
    ServiceType,
    watched_by_kube_proxy,
)
from kubeproxy_sim.objects.report import joined
from kubeproxy_sim.objects.values import value_class

_PortKey = tuple[str, Protocol, int]  # (port name, protocol, port number): with the address, one endpoint


@value_class
class _Copy:
    """One copy of an endpoint, and what kube-proxy reads of it as (field, value) pairs. ``name``: what messages
    call the copy (its slice's name; within one slice, its ``endpoints[i]``)."""

    name: str
    terminating: bool
    view: tuple[tuple[str, str | None], ...]


def conflicting_copies(services: Mapping[str, Service],
                       slices: Iterable[EndpointSlice]) -> Iterator[tuple[Service, list[Diagnostic]]]:
    """Per Service (in ``services``' order) that kube-proxy programs, a warning for each endpoint address whose
    copies in its slices differ where kube-proxy's pick is random (see the module's docstring): the loader's
    entry, which holds every slice at once and groups them here."""
    by_service = slices_by_service(slices)
    for key, service in services.items():
        group = by_service.get(key)
        if group is None or len(group) < 2:  # most Services: one slice has no copy to disagree with (no call)
            continue
        notes = service_conflicts(service, group)
        if notes:
            yield service, notes


def slices_by_service(slices: Iterable[EndpointSlice]) -> dict[str, list[EndpointSlice]]:
    """The slices that name a Service, grouped by its "ns/name" (kube-proxy's key for them)."""
    by_service: dict[str, list[EndpointSlice]] = {}
    for es in slices:
        if es.service_name:
            by_service.setdefault(es.service_key, []).append(es)
    return by_service


def service_conflicts(service: Service, slices: Collection[EndpointSlice]) -> list[Diagnostic]:
    """The warnings for one Service, given the slices labelled with its name (in any order): the entry of a watch,
    which keeps its slices merged per Service and checks the Services a sync takes in."""
    if len(slices) < 2:  # (the filter below only drops slices: fewer than two stay fewer)
        return []
    seen = [es for es in slices if es.address_type is not AddressType.FQDN and watched_by_kube_proxy(es.labels)]
    if len(seen) < 2 or not _programmed(service):
        return []
    return _service_notes(service, sorted(seen, key=lambda es: es.name))


def _programmed(service: Service) -> bool:
    """Whether kube-proxy writes rules for the Service at all: a note about one it skips would be noise."""
    return (service.type is not ServiceType.EXTERNAL_NAME and bool(service.cluster_ips)
            and watched_by_kube_proxy(service.labels))


def _service_notes(service: Service, slices: list[EndpointSlice]) -> list[Diagnostic]:
    """The warnings for one Service's slices (sorted by name, the order the proxier merges them in)."""
    shared = _shared_addresses(slices)
    if not shared:
        return []
    wanted = {(port.name, port.protocol) for port in service.ports}
    copies: dict[tuple[str, _PortKey], list[_Copy]] = {}
    for es in slices:
        ports = [(p.name or "", p.protocol, p.port) for p in es.ports
                 if p.port and (p.name or "", p.protocol) in wanted]
        for ep in es.endpoints:
            if ep.addresses and ep.addresses[0] in shared:
                copy = _copy(es.name, ep)
                for port in ports:
                    copies.setdefault((ep.addresses[0], port), []).append(copy)
    notes: dict[str, Diagnostic] = {}
    for (address, _), found in sorted(copies.items()):
        if address not in notes:
            message = _conflict(address, found)
            if message:
                notes[address] = Diagnostic(message, file=service.origin.file, kind="Service", object=service.key,
                                            severity=Severity.WARNING)
    return list(notes.values())


def _shared_addresses(slices: list[EndpointSlice]) -> set[str]:
    """The endpoint addresses more than one of the slices lists (a cheap first pass: most addresses are in
    one slice, and only the others need their copies compared)."""
    first: dict[str, str] = {}
    shared: set[str] = set()
    for es in slices:
        for ep in es.endpoints:
            if ep.addresses and first.setdefault(ep.addresses[0], es.name) != es.name:
                shared.add(ep.addresses[0])
    return shared


def _copy(name: str, ep: Endpoint) -> _Copy:
    """What kube-proxy reads of an endpoint (the fields ``proxier.state`` builds its EndpointInfo from)."""
    cond = ep.conditions
    view = (
        ("ready", _flag(cond.counts_ready)),
        ("serving", _flag(cond.counts_serving)),
        ("terminating", _flag(bool(cond.terminating))),
        ("nodeName", ep.node_name),
        ("hints.forZones", _names(ep.hints_for_zones)),
        ("hints.forNodes", _names(ep.hints_for_nodes)),
    )
    return _Copy(name, bool(cond.terminating), view)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _names(names: tuple[str, ...] | None) -> str | None:
    """Hints as a set (kube-proxy keeps them in one), written in a fixed order; an empty list is no hints, as
    absent is (kube-proxy and ``proxier.state`` keep hints only when some are listed)."""
    return "[" + ", ".join(sorted(set(names))) + "]" if names else None


def _conflict(address: str, found: list[_Copy]) -> str | None:
    """The warning for one endpoint's copies (in merge order), or None when the pick is not random or cannot
    matter. Copies within one slice are left alone: only the order of slices is Go's map order."""
    live = [c for c in found if not c.terminating]
    rivals = live or found
    used = _kept(found)
    others = {c.name: c for c in rivals if c.name != used.name and c.view != used.view}
    if not others:
        return None
    listed = sorted([*others.values(), used], key=lambda c: c.name)
    described = _described(listed)
    both = len(listed) == 2
    which = ("neither" if both else "none") if live else ("both" if both else "all")
    return (f"endpoint {address} is in EndpointSlices {described}, {which} terminating: kube-proxy's "
            f"{_family(address)} proxier picks one copy at random on each sync; this simulation uses "
            f"{used.name}'s (the slice whose name sorts {'last' if live else 'first'})")


def _kept(found: list[_Copy]) -> _Copy:
    """The copy ``addEndpoints`` ends with when it meets ``found`` in this order: a copy not terminating replaces
    the one before it, a terminating one never does; so the last one not terminating, or else the first."""
    live = [c for c in found if not c.terminating]
    return live[-1] if live else found[0]


def _described(copies: list[_Copy]) -> str:
    """Each copy's name with the fields in which the copies differ: ``a (ready=false) and b (ready=true)``."""
    first = copies[0].view
    fields = [name for i, (name, _) in enumerate(first) if len({c.view[i] for c in copies}) > 1]
    return joined([f"{c.name} ({_shown(c, fields)})" for c in copies])


def repeated_addresses(es: EndpointSlice) -> list[tuple[str, str]]:
    """(field path, message) for each address one decoded slice lists more than once in copies that differ in
    what kube-proxy reads, naming the copy it keeps (see the module's docstring); the field is the first repeat.
    Nothing for a slice kube-proxy does not read endpoints from (FQDN, no Service, another proxy's, no port)."""
    endpoints = es.endpoints  # (a decoded endpoint has an address at least)
    if len({ep.addresses[0] for ep in endpoints}) == len(endpoints) or not _read(es):  # ~0.1 us an endpoint
        return []
    at: dict[str, list[int]] = {}
    for i, ep in enumerate(endpoints):
        at.setdefault(ep.addresses[0], []).append(i)
    found = []
    for address, indices in at.items():
        copies = [_copy(f"endpoints[{i}]", endpoints[i]) for i in indices]
        if len({c.view for c in copies}) > 1:
            found.append((f"endpoints[{indices[1]}].addresses[0]", _repeat(address, copies)))
    return found


def _read(es: EndpointSlice) -> bool:
    """Whether kube-proxy merges the slice's endpoints into any service port."""
    return (es.address_type is not AddressType.FQDN and bool(es.service_name) and watched_by_kube_proxy(es.labels)
            and any(port.port for port in es.ports))


def _repeat(address: str, copies: list[_Copy]) -> str:
    used = _kept(copies)
    why = "the last one not terminating" if not used.terminating else "the first one, as all are terminating"
    times = "twice" if len(copies) == 2 else f"{len(copies)} times"
    return (f"address {address} is listed {times} in this EndpointSlice, in copies that differ: "
            f"{_described(copies)}; kube-proxy keeps one copy of an address, on every sync the same: "
            f"{used.name}'s ({why})")


def _family(address: str) -> str:
    """The family whose proxier reads the endpoint: a load warns for the whole cluster, whatever family the
    command later runs (a node of the other family never reads these slices), so the warning says which."""
    return "IPv6" if ":" in address else "IPv4"


def _shown(copy: _Copy, fields: list[str]) -> str:
    values = dict(copy.view)
    return ", ".join(f"{name} unset" if values[name] is None else f"{name}={values[name]}" for name in fields)
