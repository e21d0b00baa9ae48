"""KUBE-EXT and KUBE-FW chains: external traffic handling and loadBalancerSourceRanges.

Every external destination (node port, external IP, load-balancer IP) enters
the EXT chain. With externalTrafficPolicy Cluster it just masquerades (the
endpoint may be on another node). With Local it keeps the client address, but
traffic from this node's pods or from the host itself is short-circuited to the
Cluster chain, as if it had gone out to the load balancer and come back.
"""

from __future__ import annotations

from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.rules.context import RuleBuffer, SyncContext
from kubeproxy_sim.proxier.rules.plan import ServicePlan

OTHER_TRAFFIC = "other traffic to"
DROPPED_BY_FIREWALL = f"will be dropped by {naming.KUBE_PROXY_FIREWALL}"
"""The two ends of the comment on a KUBE-FW chain's last rule ("other traffic to NS/NAME:PORT will be dropped by
KUBE-PROXY-FIREWALL"): the traffic from outside the source ranges falls through it; analysis.why reads it."""
POD_TRAFFIC = "pod traffic for"
"""How the comment of a Local policy's KUBE-EXT rule begins that sends ``--detect-local-mode``'s matches (the
cluster's pods, as it takes them) to the cluster chain unmasqueraded: analysis.why reads it, of a lost reply."""


def external_chain_rules(ctx: SyncContext, plan: ServicePlan, out: RuleBuffer) -> None:
    """Declare and fill KUBE-EXT for an externally reachable service port with endpoints."""
    if not plan.uses_external_chain:
        return
    svc, chain = plan.svc, plan.external_chain
    out.nat_chains.append(chain)
    rules = out.nat[chain]
    name = svc.name_string
    if not svc.external_policy_local:
        rules.append(f'-m comment --comment "masquerade traffic for {name} external destinations"'
                     f" -j {naming.KUBE_MARK_MASQ}")
    else:
        if ctx.detector is not None:
            rules.append(f'-m comment --comment "{POD_TRAFFIC} {name} external destinations"'
                         f" {ctx.detector.if_local} -j {plan.cluster_chain}")
        rules.append(f'-m comment --comment "masquerade LOCAL traffic for {name} external destinations"'
                     f" -m addrtype --src-type LOCAL -j {naming.KUBE_MARK_MASQ}")
        rules.append(f'-m comment --comment "route LOCAL traffic for {name} external destinations"'
                     f" -m addrtype --src-type LOCAL -j {plan.cluster_chain}")
    if plan.has_external:
        rules.append(f"-j {plan.external_policy_chain}")


def _node_ip_allowed(ctx: SyncContext, source_ranges: tuple[str, ...]) -> bool:
    """Whether a source range contains this node's IP (then the LB VIPs are allowed as sources).

    Through objects.netaddr_safe, which gives netaddr the family: read without one, IPv6 text leaves
    a reference cycle (netaddr swallows its IPv4 attempt's error), inside generate()'s collector pause.
    """
    # imported here: only a Service with source ranges needs netaddr (~15 ms of start-up for the rest)
    from kubeproxy_sim.objects.netaddr_safe import netaddr_address, netaddr_network

    node_ip = netaddr_address(ctx.node_ip)
    if node_ip is None:
        return False
    for cidr in source_ranges:
        network = netaddr_network(cidr)
        if network is not None and network.version == node_ip.version and node_ip in network:
            return True
    return False


def firewall_chain_rules(ctx: SyncContext, plan: ServicePlan, out: RuleBuffer) -> None:
    """Declare and fill KUBE-FW: allowed sources go on to KUBE-EXT, the rest falls through.

    What falls through is not DNATed, so KUBE-PROXY-FIREWALL (filter) drops it.
    A node reaching its own VIP loops back with the VIP as source, so when the
    node is allowed the VIPs are allowed too.
    """
    if not plan.uses_firewall_chain:
        return
    svc, chain = plan.svc, plan.firewall_chain
    out.nat_chains.append(chain)
    rules = out.nat[chain]
    head = f'-m comment --comment "{svc.name_string} loadbalancer IP"'
    for cidr in svc.source_ranges:
        rules.append(f"{head} -s {cidr} -j {plan.external_chain}")
    if _node_ip_allowed(ctx, svc.source_ranges):
        for ip in svc.load_balancer_vips:
            rules.append(f"{head} -s {ip} -j {plan.external_chain}")
    rules.append(f'-m comment --comment "{OTHER_TRAFFIC} {svc.name_string} {DROPPED_BY_FIREWALL}"')
