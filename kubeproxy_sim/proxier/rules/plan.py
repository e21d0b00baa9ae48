"""The decisions behind one service port's rules, made once and read by every family.

Which chains exist, where internal and external traffic go, and what the
filter table does when there is nowhere to go: REJECT when the service has no
usable endpoint at all, DROP when only a Local policy has none on this node.
"""

from __future__ import annotations

from typing import Any

from kubeproxy_sim.objects.bulk import draft_class
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.state import ServicePortInfo
from kubeproxy_sim.proxier.topology import Categorized

NO_LOCAL_ENDPOINTS = "has no local endpoints"
"""The end of the comment on kube-proxy's DROP for a Local policy with no endpoint on this node ("NS/NAME:PORT has
no local endpoints"); demo reads failures by it."""

NO_ENDPOINTS = "has no endpoints"
"""The end of the comment on kube-proxy's REJECT for a port with no usable endpoint ("NS/NAME:PORT has no
endpoints"); analysis.why reads failures by it."""


@value_class
class Verdict:
    """A filter-table verdict for traffic that has no endpoint: target and quoted comment."""

    target: str
    comment: str


@value_class
class ServicePlan:
    """The chains and routing of one service port."""

    svc: ServicePortInfo
    endpoints: Categorized
    cluster_chain: str
    local_chain: str
    external_chain: str
    firewall_chain: str
    uses_cluster_chain: bool
    uses_local_chain: bool
    internal_chain: str  # where cluster-IP traffic goes
    has_internal: bool
    external_policy_chain: str  # where the EXT chain finally sends outside traffic
    has_external: bool
    uses_external_chain: bool
    uses_firewall_chain: bool
    internal_verdict: Verdict | None  # None: internal traffic has endpoints
    external_verdict: Verdict | None

    @property
    def has_endpoints(self) -> bool:
        return self.endpoints.has_any

    @property
    def load_balancer_chain(self) -> str:
        """Load-balancer IPs go through the firewall chain when source ranges are set."""
        return self.firewall_chain if self.uses_firewall_chain else self.external_chain


def _verdicts(name: str, has_any: bool, has_internal: bool,
              has_external: bool) -> tuple[Verdict | None, Verdict | None]:
    """(internal, external) verdicts; the DROP built only when one of them is it: a port whose traffic has
    endpoints both ways (all but a few of a large cluster's) builds no Verdict, whose frozen ``__init__`` and
    comment cost ~4,000 instructions a port (callgrind)."""
    if has_internal and has_external:
        return _NO_VERDICTS
    if not has_any:
        reject = Verdict("REJECT", f'"{name} {NO_ENDPOINTS}"')
        return reject, reject
    drop = Verdict("DROP", f'"{name} {NO_LOCAL_ENDPOINTS}"')
    return (None if has_internal else drop), (None if has_external else drop)


_NO_VERDICTS: tuple[Verdict | None, Verdict | None] = (None, None)


def plan_service(svc: ServicePortInfo, endpoints: Categorized) -> ServicePlan:
    """Decide chains and targets for ``svc`` given its categorized endpoints.

    The plan is built on a draft (:func:`~kubeproxy_sim.objects.bulk.draft_class`), one per service port: the frozen
    ``__init__``'s seventeen ``object.__setattr__`` calls cost ~40,000 instructions a plan, the plain stores a
    tenth of that. Every field of ServicePlan must be written here (tests/objects/test_draft_builders.py checks)."""
    name, proto = svc.name_string, svc.proto
    suffix = naming.port_proto_hash(name, proto)
    cluster_chain = naming.SVC_PREFIX + suffix
    local_chain = naming.SVL_PREFIX + suffix
    has_any = endpoints.has_any
    has_internal = has_any and (not svc.internal_policy_local or bool(endpoints.local))
    has_external = has_any and (not svc.external_policy_local or bool(endpoints.local))
    plan = object.__new__(_PLAN_DRAFT)
    plan.svc = svc
    plan.endpoints = endpoints
    plan.cluster_chain = cluster_chain
    plan.local_chain = local_chain
    plan.external_chain = naming.EXT_PREFIX + suffix
    plan.firewall_chain = naming.FW_PREFIX + suffix
    plan.uses_cluster_chain = bool(endpoints.cluster) and svc.uses_cluster_endpoints
    plan.uses_local_chain = bool(endpoints.local) and svc.uses_local_endpoints
    plan.internal_chain = local_chain if svc.internal_policy_local else cluster_chain
    plan.has_internal = has_internal
    plan.external_policy_chain = local_chain if svc.external_policy_local else cluster_chain
    plan.has_external = has_external
    plan.uses_external_chain = has_any and svc.externally_accessible
    plan.uses_firewall_chain = has_any and bool(svc.load_balancer_vips) and bool(svc.source_ranges)
    plan.internal_verdict, plan.external_verdict = _verdicts(name, has_any, has_internal, has_external)
    plan.__class__ = ServicePlan
    return plan


_PLAN_DRAFT: Any = draft_class(ServicePlan)
