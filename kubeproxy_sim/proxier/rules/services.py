"""nat-table entry rules: how traffic to a service address reaches the service's chains.

KUBE-SERVICES matches cluster IPs, external IPs and load-balancer IPs;
KUBE-NODEPORTS matches node ports (it is reached from the last rule of
KUBE-SERVICES for local destinations). Addresses without usable endpoints get
no nat rule: the filter table rejects or drops them instead.
"""

from __future__ import annotations

from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.rules.context import NFACCT_LOCALHOST_NODEPORTS, RuleBuffer, SyncContext, is_loopback
from kubeproxy_sim.proxier.rules.plan import ServicePlan

LAST_RULE_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


def _match(proto: str, address: str, port: int) -> str:
    return f"-m {proto} -p {proto} -d {address} --dport {port}"


def cluster_ip_rule(plan: ServicePlan, out: RuleBuffer) -> None:
    """Cluster IP -> the internal policy chain (SVC, or SVL for internalTrafficPolicy Local)."""
    if not plan.has_internal:
        return
    svc = plan.svc
    out.nat[naming.KUBE_SERVICES].append(
        f'-m comment --comment "{svc.name_string} cluster IP" {_match(svc.proto, svc.cluster_ip, svc.port)}'
        f" -j {plan.internal_chain}")


def external_ip_rules(plan: ServicePlan, out: RuleBuffer) -> None:
    """External IPs -> the EXT chain (which masquerades or short-circuits, then dispatches)."""
    if not plan.has_endpoints:
        return
    svc = plan.svc
    rules = out.nat[naming.KUBE_SERVICES]
    for ip in svc.external_ips:
        rules.append(f'-m comment --comment "{svc.name_string} external IP" {_match(svc.proto, ip, svc.port)}'
                     f" -j {plan.external_chain}")


def load_balancer_rules(plan: ServicePlan, out: RuleBuffer) -> None:
    """Load-balancer VIPs -> the FW chain when source ranges are set, else the EXT chain."""
    if not plan.has_endpoints:
        return
    svc = plan.svc
    rules = out.nat[naming.KUBE_SERVICES]
    target = plan.load_balancer_chain
    for ip in svc.load_balancer_vips:
        rules.append(f'-m comment --comment "{svc.name_string} loadbalancer IP" '
                     f"{_match(svc.proto, ip, svc.port)} -j {target}")


def node_port_rules(ctx: SyncContext, plan: ServicePlan, out: RuleBuffer) -> None:
    """Node port -> the EXT chain; localhost node ports first, through their own counter."""
    svc = plan.svc
    if not svc.node_port or not plan.has_endpoints:
        return
    rules = out.nat[naming.KUBE_NODEPORTS]
    head = f"-m comment --comment {svc.name_string} -m {svc.proto} -p {svc.proto}"
    if ctx.localhost_nodeport_counter:
        rules.append(f"{head} -d 127.0.0.0/8 --dport {svc.node_port}"
                     f" -m nfacct --nfacct-name {NFACCT_LOCALHOST_NODEPORTS} -j {plan.external_chain}")
    rules.append(f"{head} --dport {svc.node_port} -j {plan.external_chain}")


def service_entry_rules(ctx: SyncContext, plan: ServicePlan, out: RuleBuffer) -> None:
    """All nat entry rules of one service port, in kube-proxy's order."""
    cluster_ip_rule(plan, out)
    external_ip_rules(plan, out)
    load_balancer_rules(plan, out)
    node_port_rules(ctx, plan, out)


def nodeports_jump_rules(ctx: SyncContext, out: RuleBuffer) -> None:
    """The tail of KUBE-SERVICES: local destinations (or the chosen node IPs) -> KUBE-NODEPORTS.

    Localhost is excluded where localhost node ports cannot work: always for
    IPv6, and for IPv4 unless route_localnet is in use.
    """
    rules = out.nat[naming.KUBE_SERVICES]
    head = f"-m comment --comment {LAST_RULE_COMMENT}"
    if ctx.nodeports.match_all:
        exclude = ""
        if ctx.ipv6:
            exclude = " ! -d ::1/128"
        elif not ctx.localhost_nodeports:
            exclude = " ! -d 127.0.0.0/8"
        rules.append(f"{head} -m addrtype --dst-type LOCAL{exclude} -j {naming.KUBE_NODEPORTS}")
        return
    for ip in ctx.nodeports.addresses:
        if is_loopback(ip) and (ctx.ipv6 or not ctx.localhost_nodeports):
            continue
        rules.append(f"{head} -d {ip} -j {naming.KUBE_NODEPORTS}")
