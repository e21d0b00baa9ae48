"""Topology Aware Routing: the zone hints the EndpointSlice controller writes for an annotated Service.

A Service annotated ``service.kubernetes.io/topology-mode: Auto`` (or with the
deprecated ``service.kubernetes.io/topology-aware-hints: auto``) gets each ready
endpoint hinted for one zone, so that every zone receives a share of endpoints
in proportion to the allocatable CPU of its ready Nodes. This follows the
controller's topology cache (k8s.io/endpointslice/topologycache):

- Capacity: Nodes labelled as control plane, and Nodes that are not ready (a
  Ready condition other than True, or none), do not count. If any other Node
  lacks a zone label or allocatable CPU the cache knows nothing (every
  annotated Service loses its hints); so it does when the CPU adds up to zero
  or the Nodes span fewer than two zones.
- Allocation: with ``n`` ready endpoints, a zone holding a ratio ``r`` of the CPU
  wants ``r * n`` of them and must get at least ``ceil(r * n / 1.2)``, so that no
  endpoint takes more than 20 % over its fair share (the overload threshold).
  Fewer ready endpoints than zones, or minimums adding up to more than ``n``,
  and the hints are removed instead.
- Every ready endpoint is first hinted for its own zone; zones over their share
  then give endpoints to zones under theirs, whole endpoints only, a zone
  needing less than half an endpoint getting none. An endpoint without a zone
  removes every hint of its address family.

Each decision comes with the event upstream records on the Service (reason
``TopologyAwareHintsEnabled`` or ``TopologyAwareHintsDisabled``, upstream's
message and the address type). Where upstream iterates a Go map (ties between
zones, which receiving zone an endpoint goes to) zones are taken in name order,
so a run is reproducible.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from kubeproxy_sim.objects.model import Endpoint, Node

TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
DEPRECATED_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"
ANNOTATIONS = (DEPRECATED_HINTS_ANNOTATION, TOPOLOGY_MODE_ANNOTATION)
ZONE_LABEL = "topology.kubernetes.io/zone"
EXCLUDED_NODE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
OVERLOAD_THRESHOLD = 0.2

NORMAL = "Normal"
WARNING = "Warning"
ENABLED_REASON = "TopologyAwareHintsEnabled"
DISABLED_REASON = "TopologyAwareHintsDisabled"

# upstream's event messages, word for word (users search logs and events for them)
NO_ZONE_SPECIFIED = "One or more endpoints do not have a zone specified"
NO_ALLOCATED_HINTS_FOR_ZONES = "No hints allocated for zones"
HINTS_ENABLED = "Topology Aware Hints has been enabled"
HINTS_DISABLED = "Topology Aware Hints has been disabled"
INSUFFICIENT_NODE_INFO = "Insufficient Node information: allocatable CPU or zone not specified on one or more nodes"
NODES_READY_IN_ONE_ZONE_ONLY = "Nodes only ready in one zone"
INSUFFICIENT_NUMBER_OF_ENDPOINTS = "Insufficient number of endpoints"
MIN_ALLOCATION_EXCEEDS_OVERLOAD_THRESHOLD = ("Unable to allocate minimum required endpoints to each zone without "
                                             "exceeding overload threshold")


@dataclass(frozen=True, slots=True)
class Event:
    """An event the controller records on a Service: type (Normal/Warning), reason, message."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Allocation:
    """How many endpoints one zone should get: at least ``minimum``, at most ``maximum``, ideally ``desired``.
    Only ``desired`` steers the hints (giving_and_receiving); the bounds are upstream's Allocation's, kept for the
    tests that pin them."""

    minimum: int
    maximum: int
    desired: float


def hints_enabled(annotations: Mapping[str, str]) -> bool:
    """The annotations ask for hints: the deprecated key decides when present (whatever the other says), else
    topology-mode; the value must be ``Auto`` or ``auto``."""
    value = annotations.get(DEPRECATED_HINTS_ANNOTATION)
    if value is None:
        value = annotations.get(TOPOLOGY_MODE_ANNOTATION)
    return value in ("Auto", "auto")


# -- Node capacity ------------------------------------------------------------------------------------------

_SUFFIXES = {"": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
             "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
             "P": Fraction(10**15), "E": Fraction(10**18), "Ki": Fraction(2**10), "Mi": Fraction(2**20),
             "Gi": Fraction(2**30), "Ti": Fraction(2**40), "Pi": Fraction(2**50), "Ei": Fraction(2**60)}
_QUANTITY = re.compile(r"([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?")


def cpu_millis(value: object) -> int | None:
    """A Kubernetes quantity (``"4"``, ``"3500m"``, ``"1.5"``, a YAML number) in millicores, rounded up as
    Quantity.MilliValue does; None when it is not a quantity."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value) if not isinstance(value, float) else repr(value)
    match = _QUANTITY.fullmatch(text.strip() if isinstance(value, str) else text)
    if match is None:
        return None
    sign, digits, exponent, suffix = match.groups()
    amount = Fraction(digits) * (Fraction(10) ** int(exponent) if exponent else _SUFFIXES[suffix or ""])
    millis = math.ceil(amount * 1000)
    return -millis if sign == "-" else millis


def _excluded(node: Node) -> bool:
    labels = dict(node.labels)
    return any(label in labels for label in EXCLUDED_NODE_LABELS)


def zone_ratios(nodes: Iterable[Node], not_ready: Iterable[str] = (),
                cpu: Mapping[str, int] | None = None) -> dict[str, float] | None:
    """Each zone's share of the ready Nodes' allocatable CPU (millicores by Node name in ``cpu``); None when the
    cache would hold no ratios: a counted Node without a zone or CPU, no CPU at all, or fewer than two zones."""
    down = frozenset(not_ready)
    cpu = cpu or {}
    by_zone: dict[str, int] = {}
    for node in nodes:
        if _excluded(node) or node.name in down:
            continue
        zone = node.label(ZONE_LABEL)
        millis = cpu.get(node.name, 0)
        if not zone or not millis:
            return None  # one Node without the information spoils them all, as upstream's TODO says
        by_zone[zone] = by_zone.get(zone, 0) + millis
    total = sum(by_zone.values())
    if total == 0 or len(by_zone) < 2:
        return None
    return {zone: float(millis) / float(total) for zone, millis in by_zone.items()}


# -- allocation ---------------------------------------------------------------------------------------------


def with_address_type(message: str, address_type: str) -> str:
    return f"{message}, addressType: {address_type}"


def allocations(ratios: Mapping[str, float] | None, ready: int) -> tuple[dict[str, Allocation] | None, str | None]:
    """Each zone's allocation for ``ready`` endpoints, or None and the reason hints cannot be given safely."""
    if ratios is None:
        return None, INSUFFICIENT_NODE_INFO
    if len(ratios) < 2:
        return None, NODES_READY_IN_ONE_ZONE_ONLY
    counts = f"({ready} endpoints, {len(ratios)} zones)"
    if len(ratios) > ready:
        return None, f"{INSUFFICIENT_NUMBER_OF_ENDPOINTS} {counts}"
    factor = 1 / (1 + OVERLOAD_THRESHOLD)
    wanted: dict[str, tuple[int, float]] = {}
    for zone, ratio in ratios.items():
        desired = ratio * float(ready)
        minimum = math.ceil(desired * factor)
        wanted[zone] = (minimum, max(desired, float(minimum)))
    spare = ready - sum(minimum for minimum, _ in wanted.values())
    if spare < 0:
        return None, f"{MIN_ALLOCATION_EXCEEDS_OVERLOAD_THRESHOLD} {counts}"
    return {zone: Allocation(minimum, minimum + spare, desired) for zone, (minimum, desired) in wanted.items()}, None


def _largest(amounts: Mapping[str, float]) -> tuple[str, float]:
    """The zone with the largest positive amount (the first by name on a tie), or ("", 0.0)."""
    best, most = "", 0.0
    for zone in sorted(amounts):
        if amounts[zone] > most:
            best, most = zone, amounts[zone]
    return best, most


def giving_and_receiving(allocs: Mapping[str, Allocation],
                         allocated: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Whole endpoints each zone over its share gives, and each zone under it receives."""
    surplus: dict[str, float] = {}
    shortfall: dict[str, float] = {}
    for zone, allocation in allocs.items():
        have = float(allocated.get(zone, 0))
        if have > allocation.desired:
            surplus[zone] = have - allocation.desired
        elif have < allocation.desired:
            shortfall[zone] = allocation.desired - have
    giving: dict[str, int] = {}
    receiving: dict[str, int] = {}
    while True:
        giver, give = _largest(surplus)
        taker, take = _largest(shortfall)
        if not giver or not taker or (give < 1.0 and take < 1.0) or give < 0.5 or take < 0.5:
            return giving, receiving
        giving[giver] = giving.get(giver, 0) + 1
        surplus[giver] -= 1
        receiving[taker] = receiving.get(taker, 0) + 1
        shortfall[taker] -= 1


def redistribute(zones: Sequence[str | None], ready: Sequence[bool], hints: list[str | None],
                 giving: dict[str, int], receiving: dict[str, int]) -> dict[str, int]:
    """Re-hint ready endpoints of giving zones for receiving zones, in endpoint order; ``hints`` is changed in
    place and each zone's change in count is returned. ``giving`` and ``receiving`` are used up."""
    moved: dict[str, int] = {}
    for i, zone in enumerate(zones):
        if not ready[i]:
            continue
        if not giving or not receiving:
            break
        if not zone or giving.get(zone, 0) <= 0:
            continue
        taker = next(z for z in sorted(receiving) if receiving[z] > 0)
        hints[i] = taker
        for counts, key in ((giving, zone), (receiving, taker)):
            counts[key] -= 1
            if counts[key] == 0:
                del counts[key]
        moved[taker] = moved.get(taker, 0) + 1
        moved[zone] = moved.get(zone, 0) - 1
    return moved


@dataclass(frozen=True, slots=True)
class Hinted:
    """One address family's endpoints after the cache: hints set (``ok``) or all removed, and the warning."""

    endpoints: tuple[Endpoint, ...]
    ok: bool
    warning: Event | None = None
    per_zone: tuple[tuple[str, int], ...] = ()  # endpoints hinted for each zone, when ok (read by the tests only)


def _cleared(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
    return tuple(e if e.hints_for_zones is None and e.hints_for_nodes is None
                 else replace(e, hints_for_zones=None, hints_for_nodes=None) for e in endpoints)


def add_hints(endpoints: Sequence[Endpoint], ratios: Mapping[str, float] | None, address_type: str) -> Hinted:
    """Zone hints for one address family's endpoints (every slice of it, in slice order), or none with the
    warning that says why."""
    ready = [e.conditions.ready is True for e in endpoints]
    allocs, problem = allocations(ratios, sum(ready))
    if allocs is None:
        return Hinted(_cleared(endpoints), False, Event(WARNING, DISABLED_REASON,
                                                        with_address_type(problem or "", address_type)))
    zones = [e.zone for e in endpoints]
    hints: list[str | None] = [None] * len(endpoints)
    per_zone: dict[str, int] = {}
    for i, zone in enumerate(zones):
        if not ready[i]:
            continue
        if not zone:
            return Hinted(_cleared(endpoints), False,
                          Event(WARNING, DISABLED_REASON, with_address_type(NO_ZONE_SPECIFIED, address_type)))
        per_zone[zone] = per_zone.get(zone, 0) + 1
        hints[i] = zone
    giving, receiving = giving_and_receiving(allocs, per_zone)
    for zone, change in redistribute(zones, ready, hints, giving, receiving).items():
        per_zone[zone] = per_zone.get(zone, 0) + change
    if not per_zone:
        return Hinted(_cleared(endpoints), False, Event(WARNING, DISABLED_REASON,
                                                        with_address_type(NO_ALLOCATED_HINTS_FOR_ZONES, address_type)))
    out = tuple(replace(e, hints_for_zones=(hint,) if hint is not None else None, hints_for_nodes=None)
                for e, hint in zip(endpoints, hints, strict=True))
    return Hinted(out, True, None, tuple(sorted(per_zone.items())))


def enabled_event(address_type: str) -> Event:
    return Event(NORMAL, ENABLED_REASON, with_address_type(HINTS_ENABLED, address_type))


def disabled_event(address_type: str) -> Event:
    """The annotation went away from a Service whose hints the cache had populated."""
    return Event(WARNING, DISABLED_REASON, with_address_type(HINTS_DISABLED, address_type))
