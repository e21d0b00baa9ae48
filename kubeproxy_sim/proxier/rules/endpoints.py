"""KUBE-SVC / KUBE-SVL / KUBE-SEP chains: choosing an endpoint and DNATing to it.

A policy chain picks one endpoint with a cascade of ``statistic`` matches
(rule i of n matches with probability 1/(n-i), which makes the choice
uniform), after ``recent`` checks that pin ClientIP-affinity clients to the
endpoint they used last. Each endpoint chain marks hairpin traffic (a pod
reaching itself through the service) for masquerade, records the client for
affinity, and DNATs.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.rules.context import RuleBuffer, SyncContext
from kubeproxy_sim.proxier.rules.masquerade import cluster_ip_masquerade
from kubeproxy_sim.proxier.rules.plan import ServicePlan
from kubeproxy_sim.proxier.state import EndpointInfo

_PROBABILITIES: tuple[str, ...] = tuple("%0.10f" % (1.0 / n) if n else "<bad value>" for n in range(1001))


def probability(n: int) -> str:
    """``1/n`` as kube-proxy writes it (ten decimals, e.g. 0.3333333333)."""
    return _PROBABILITIES[n] if n < len(_PROBABILITIES) else "%0.10f" % (1.0 / n)


def _comment(ctx: SyncContext, text: str) -> str:
    """A per-endpoint comment, or nothing in large-cluster mode (it makes the ruleset ~40% bigger)."""
    return "" if ctx.large_cluster else f"-m comment --comment {text} "


def policy_chain_rules(ctx: SyncContext, plan: ServicePlan, chain: str, endpoints: Sequence[EndpointInfo],
                       names: Sequence[str], out: RuleBuffer) -> None:
    """Declare and fill one SVC or SVL chain: affinity checks first, then the random cascade. ``names``: the
    KUBE-SEP chain of each of ``endpoints``, in their order.

    The per-endpoint comment is made only when written (not in large-cluster mode, where a large sync is)."""
    out.nat_chains.append(chain)
    svc = plan.svc
    rules = out.nat[chain]
    if chain == plan.internal_chain and plan.has_internal:
        cluster_ip_masquerade(ctx, svc.name_string, svc.proto, svc.cluster_ip, svc.port, chain, out)
    name = svc.name_string
    commented = not ctx.large_cluster
    if svc.client_ip_affinity:
        for ep, target in zip(endpoints, names, strict=True):
            comment = f'-m comment --comment "{name} -> {ep.endpoint}" ' if commented else ""
            rules.append(f"{comment}-m recent --name {target} --rcheck --seconds {svc.affinity_timeout}"
                         f" --reap -j {target}")
    last = len(endpoints) - 1
    known = _PROBABILITIES  # (probability's table read inline: one rule per endpoint of a large cluster)
    for i, target in enumerate(names):
        comment = f'-m comment --comment "{name} -> {endpoints[i].endpoint}" ' if commented else ""
        if i < last:
            n = last + 1 - i
            rules.append(f"{comment}-m statistic --mode random --probability "
                         f"{known[n] if n < len(known) else probability(n)} -j {target}")
        else:
            rules.append(f"{comment}-j {target}")


def endpoint_chain_rules(ctx: SyncContext, plan: ServicePlan, endpoints: Sequence[EndpointInfo],
                         names: Sequence[str], out: RuleBuffer) -> None:
    """Declare and fill the KUBE-SEP chain of each endpoint (``names``: each one's, in their order): hairpin
    masquerade, affinity record, DNAT.

    One loop for all of a port's endpoints, what they share formatted once: a large cluster has 100,000s."""
    svc = plan.svc
    head = _comment(ctx, svc.name_string)
    masq = f" -j {naming.KUBE_MARK_MASQ}"
    dnat = f"-m {svc.proto} -p {svc.proto} -j DNAT --to-destination "
    affinity = svc.client_ip_affinity
    declare = out.nat_chains.append
    nat = out.nat
    for ep, chain in zip(endpoints, names, strict=True):
        declare(chain)
        recent = f"-m recent --name {chain} --set " if affinity else ""
        nat[chain].extend((f"{head}-s {ep.ip}{masq}", f"{head}{recent}{dnat}{ep.endpoint}"))


def service_endpoint_rules(ctx: SyncContext, plan: ServicePlan, out: RuleBuffer) -> None:
    """The SVC chain, the SVL chain and the SEP chains of one service port, as needed.

    The SEP names go to the policy chains by position: a policy set that is the reachable tuple itself (every
    port without a Local policy or hints: all but a few of a large cluster's) takes the names list as it is, and
    only a narrower set (topology, a Local policy) looks its names up (:func:`_names_of`). A dict of every
    endpoint's name, built and read twice an endpoint, cost ~1,000 instructions an endpoint (callgrind)."""
    svc = plan.svc
    cats = plan.endpoints
    reachable = cats.reachable
    names = naming.endpoint_chains(svc.name_string, svc.proto, [ep.endpoint for ep in reachable])
    if plan.uses_cluster_chain:
        policy_chain_rules(ctx, plan, plan.cluster_chain, cats.cluster, _names_of(cats.cluster, reachable, names),
                           out)
    if plan.uses_local_chain:
        policy_chain_rules(ctx, plan, plan.local_chain, cats.local, _names_of(cats.local, reachable, names), out)
    endpoint_chain_rules(ctx, plan, reachable, names, out)


def _names_of(chosen: Sequence[EndpointInfo], reachable: Sequence[EndpointInfo], names: list[str]) -> list[str]:
    """The SEP names of ``chosen``, a subset of ``reachable`` (whose names are ``names``, in order)."""
    if chosen is reachable:
        return names
    by_endpoint = dict(zip([ep.endpoint for ep in reachable], names, strict=True))
    return [by_endpoint[ep.endpoint] for ep in chosen]
