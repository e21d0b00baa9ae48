"""TestCategorizeEndpoints (upstream pkg/proxy/topology_test.go), case by case.

The index holds topology_test.go at 6c039d9075ef (not at the reference commit
531be81208e2, whose copy is not stored); its cases are reproduced with their
names and expected sets. Upstream compares sets: ``cluster`` and ``local`` are
None where the service does not use that kind of endpoints at all (a nil set),
``all`` (our ``reachable``) defaults to whichever of the two is set, and
``has_any`` must be true when ``all`` is non-empty or ``only_remote`` says the
service has usable endpoints on other nodes only.

Upstream's endpoints are ``ip:80`` strings with zone hints, ready, serving,
terminating and local flags; ``serving`` and ``terminating`` default to false
there (BaseEndpointInfo's zero values), unlike an EndpointSlice's conditions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from kubeproxy_sim.objects.model import Protocol
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo
from kubeproxy_sim.proxier.topology import categorize

NODE = "test-node"


def ep(endpoint: str, zones: tuple[str, ...] | None = None, ready: bool = False, serving: bool = False,
       terminating: bool = False, local: bool = False) -> EndpointInfo:
    ip, port = endpoint.rsplit(":", 1)
    return EndpointInfo(ip, int(port), endpoint, local, ready, serving, terminating,
                        frozenset(zones) if zones is not None else None, None)


def svc(itp_local: bool = False, etp_local: bool = False, node_port: int = 0) -> ServicePortInfo:
    return ServicePortInfo("ns", "svc", "", Protocol.TCP, "172.30.0.1", 80, node_port=node_port,
                           external_policy_local=etp_local, internal_policy_local=itp_local)


@dataclass(frozen=True)
class Case:
    name: str
    zone: str | None
    service: ServicePortInfo
    endpoints: tuple[EndpointInfo, ...]
    cluster: frozenset[str] | None
    local: frozenset[str] | None
    all: frozenset[str] | None = None
    only_remote: bool = False


def s(*endpoints: str) -> frozenset[str]:
    return frozenset(endpoints)


FOUR_ZONED = (ep("10.1.2.3:80", ("zone-a",), ready=True), ep("10.1.2.4:80", ("zone-b",), ready=True),
              ep("10.1.2.5:80", ("zone-c",), ready=True), ep("10.1.2.6:80", ("zone-a",), ready=True))
LOCAL_ZONED = (ep("10.1.2.3:80", ("zone-a",), ready=True, local=True),
               ep("10.1.2.4:80", ("zone-b",), ready=True, local=True),
               ep("10.1.2.5:80", ("zone-c",), ready=True), ep("10.1.2.6:80", ("zone-a",), ready=True))
ALL4 = s("10.1.2.3:80", "10.1.2.4:80", "10.1.2.5:80", "10.1.2.6:80")
PAIR = s("10.0.0.0:80", "10.0.0.1:80")

CASES = [
    Case("should use topology since all endpoints have hints, node has a zone label and and there are endpoints "
         "for the node's zone", "zone-a", svc(), FOUR_ZONED, s("10.1.2.3:80", "10.1.2.6:80"), None),
    Case("externalTrafficPolicy: Local, topology ignored for Local endpoints", "zone-a",
         svc(etp_local=True, node_port=8080), LOCAL_ZONED, s("10.1.2.3:80", "10.1.2.6:80"),
         s("10.1.2.3:80", "10.1.2.4:80"), s("10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80")),
    Case("internalTrafficPolicy: Local, topology ignored for Local endpoints", "zone-a",
         svc(itp_local=True, node_port=8080), LOCAL_ZONED, s("10.1.2.3:80", "10.1.2.6:80"),
         s("10.1.2.3:80", "10.1.2.4:80"), s("10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80")),
    Case("empty node labels", None, svc(), (ep("10.1.2.3:80", ("zone-a",), ready=True),), s("10.1.2.3:80"), None),
    Case("empty zone label", "", svc(), (ep("10.1.2.3:80", ("zone-a",), ready=True),), s("10.1.2.3:80"), None),
    Case("node in different zone, no endpoint filtering", "zone-b", svc(),
         (ep("10.1.2.3:80", ("zone-a",), ready=True),), s("10.1.2.3:80"), None),
    Case("unready endpoint", "zone-a", svc(), (*FOUR_ZONED[:3], ep("10.1.2.6:80", ("zone-a",), ready=False)),
         s("10.1.2.3:80"), None),
    Case("only unready endpoints in same zone (should not filter)", "zone-a", svc(),
         (ep("10.1.2.3:80", ("zone-a",)), FOUR_ZONED[1], FOUR_ZONED[2], ep("10.1.2.6:80", ("zone-a",))),
         s("10.1.2.4:80", "10.1.2.5:80"), None),
    Case("missing hints, no filtering applied", "zone-a", svc(),
         (FOUR_ZONED[0], FOUR_ZONED[1], ep("10.1.2.5:80", None, ready=True), FOUR_ZONED[3]), ALL4, None),
    Case("multiple hints per endpoint, filtering includes any endpoint with zone included", "zone-c", svc(),
         (ep("10.1.2.3:80", ("zone-a", "zone-b", "zone-c"), ready=True),
          ep("10.1.2.4:80", ("zone-b", "zone-c"), ready=True), ep("10.1.2.5:80", ("zone-b", "zone-d"), ready=True),
          ep("10.1.2.6:80", ("zone-c",), ready=True)), s("10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"), None),
    Case("conflicting topology and localness require merging allEndpoints", "zone-a",
         svc(etp_local=True, node_port=8080),
         (ep("10.0.0.0:80", ("zone-a",), ready=True, local=True),
          ep("10.0.0.1:80", ("zone-b",), ready=True, local=True),
          ep("10.0.0.2:80", ("zone-a",), ready=True), ep("10.0.0.3:80", ("zone-b",), ready=True)),
         s("10.0.0.0:80", "10.0.0.2:80"), PAIR, s("10.0.0.0:80", "10.0.0.1:80", "10.0.0.2:80")),
    Case("internalTrafficPolicy: Local, with empty endpoints", None, svc(itp_local=True), (), None, s()),
    Case("internalTrafficPolicy: Local, but all endpoints are remote", None, svc(itp_local=True),
         (ep("10.0.0.0:80", ready=True), ep("10.0.0.1:80", ready=True)), None, s(), only_remote=True),
    Case("internalTrafficPolicy: Local, all endpoints are local", None, svc(itp_local=True),
         (ep("10.0.0.0:80", ready=True, local=True), ep("10.0.0.1:80", ready=True, local=True)), None, PAIR),
    Case("internalTrafficPolicy: Local, some endpoints are local", None, svc(itp_local=True),
         (ep("10.0.0.0:80", ready=True, local=True), ep("10.0.0.1:80", ready=True)), None, s("10.0.0.0:80")),
    Case("Cluster traffic policy, endpoints not Ready", None, svc(),
         (ep("10.0.0.0:80"), ep("10.0.0.1:80")), s(), None),
    Case("Cluster traffic policy, some endpoints are Ready", None, svc(),
         (ep("10.0.0.0:80"), ep("10.0.0.1:80", ready=True)), s("10.0.0.1:80"), None),
    Case("Cluster traffic policy, all endpoints are terminating", None, svc(),
         (ep("10.0.0.0:80", serving=True, terminating=True, local=True),
          ep("10.0.0.1:80", serving=True, terminating=True)), PAIR, None),
    Case("iTP: Local, eTP: Cluster, some endpoints local", None, svc(itp_local=True, node_port=8080),
         (ep("10.0.0.0:80", ready=True, local=True), ep("10.0.0.1:80", ready=True)), PAIR, s("10.0.0.0:80"), PAIR),
    Case("iTP: Cluster, eTP: Local, some endpoints local", None, svc(etp_local=True, node_port=8080),
         (ep("10.0.0.0:80", ready=True, local=True), ep("10.0.0.1:80", ready=True)), PAIR, s("10.0.0.0:80"), PAIR),
    Case("iTP: Local, eTP: Local, some endpoints local", None, svc(itp_local=True, etp_local=True, node_port=8080),
         (ep("10.0.0.0:80", ready=True, local=True), ep("10.0.0.1:80", ready=True)), PAIR, s("10.0.0.0:80"), PAIR),
    Case("iTP: Local, eTP: Local, all endpoints remote", None, svc(itp_local=True, etp_local=True, node_port=8080),
         (ep("10.0.0.0:80", ready=True), ep("10.0.0.1:80", ready=True)), PAIR, s(), PAIR),
    Case("iTP: Local, eTP: Local, all endpoints remote and terminating", None,
         svc(itp_local=True, etp_local=True, node_port=8080),
         (ep("10.0.0.0:80", serving=True, terminating=True), ep("10.0.0.1:80", serving=True, terminating=True)),
         PAIR, s(), PAIR, only_remote=True),
    Case("iTP: Cluster, eTP: Local, with terminating endpoints", None, svc(etp_local=True, node_port=8080),
         (ep("10.0.0.0:80", ready=True), ep("10.0.0.1:80", local=True),
          ep("10.0.0.2:80", serving=True, terminating=True, local=True),
          ep("10.0.0.3:80", serving=True, terminating=True)),
         s("10.0.0.0:80"), s("10.0.0.2:80"), s("10.0.0.0:80", "10.0.0.2:80")),
    Case("externalTrafficPolicy ignored if not externally accessible", None, svc(etp_local=True),
         (ep("10.0.0.0:80", ready=True), ep("10.0.0.1:80", ready=True, local=True)), PAIR, None, PAIR),
    Case("no cluster endpoints for iTP:Local internal-only service", None, svc(itp_local=True),
         (ep("10.0.0.0:80", ready=True), ep("10.0.0.1:80", ready=True, local=True)), None, s("10.0.0.1:80"),
         s("10.0.0.1:80")),
]


def _expected_all(case: Case) -> frozenset[str]:
    """Upstream's rule: all defaults to whichever of cluster and local is set alone."""
    if case.cluster is not None and case.local is None:
        return case.cluster
    if case.local is not None and case.cluster is None:
        return case.local
    assert case.all is not None, case.name
    return case.all


def _distinct(endpoints: Iterable[EndpointInfo]) -> frozenset[str]:
    """The endpoints' ``ip:port`` texts, none listed twice: upstream's checkExpectedEndpoints deletes each from the
    expected set as it meets it, so a second copy is an "unexpected endpoint"."""
    texts = [e.endpoint for e in endpoints]
    assert len(texts) == len(set(texts)), texts
    return frozenset(texts)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_categorize_endpoints(case: Case) -> None:
    got = categorize(case.endpoints, case.service, NODE, case.zone)
    assert case.service.uses_cluster_endpoints is (case.cluster is not None)
    assert case.service.uses_local_endpoints is (case.local is not None)
    assert _distinct(got.cluster) == (case.cluster or frozenset())
    assert _distinct(got.local) == (case.local or frozenset())
    expected_all = _expected_all(case)
    assert _distinct(got.reachable) == expected_all
    assert got.has_any is (bool(expected_all) or case.only_remote)


def test_every_upstream_case_is_here() -> None:
    """topology_test.go at 6c039d9075ef has 26 cases; a dropped one would pass unseen."""
    assert len({c.name for c in CASES}) == len(CASES) == 26
