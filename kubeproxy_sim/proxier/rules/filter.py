"""filter-table rules: verdicts for traffic kube-proxy cannot deliver, and node-wide accepts.

Per service port: REJECT (no endpoints) or DROP (no local endpoints for a
Local policy) in KUBE-SERVICES and KUBE-EXTERNAL-SERVICES, the
loadBalancerSourceRanges drop in KUBE-PROXY-FIREWALL, and the health-check
node port accept in KUBE-NODEPORTS. Node-wide: KUBE-FORWARD (INVALID drop,
marked and established traffic accepted) and the anti-martian KUBE-FIREWALL.
"""

from __future__ import annotations

from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.rules.context import NFACCT_INVALID_DROPPED, RuleBuffer, SyncContext
from kubeproxy_sim.proxier.rules.plan import ServicePlan

NOT_ACCEPTED = "traffic not accepted by"
"""The middle of the comment on KUBE-PROXY-FIREWALL's DROP of a load balancer's traffic from outside its source
ranges ("NS/NAME:PORT traffic not accepted by KUBE-FW-..."); analysis.why reads failures by it."""
INVALID_STATE = "-m conntrack --ctstate INVALID"
"""The match of KUBE-FORWARD's drop of INVALID packets (written unless --conntrack-tcp-be-liberal): analysis.why
reads a reply lost to it by it."""

TOP_LEVEL_FILTER_CHAINS = (naming.KUBE_SERVICES, naming.KUBE_EXTERNAL_SERVICES, naming.KUBE_FORWARD,
                           naming.KUBE_NODEPORTS, naming.KUBE_PROXY_FIREWALL)


def _match(proto: str, address: str, port: int) -> str:
    return f"-m {proto} -p {proto} -d {address} --dport {port}"


def cluster_ip_verdict(plan: ServicePlan, out: RuleBuffer) -> None:
    """REJECT/DROP cluster-IP traffic that has no internal endpoint."""
    verdict = plan.internal_verdict
    if verdict is None:
        return
    svc = plan.svc
    out.filter[naming.KUBE_SERVICES].append(
        f"-m comment --comment {verdict.comment} {_match(svc.proto, svc.cluster_ip, svc.port)} -j {verdict.target}")


def external_verdicts(plan: ServicePlan, out: RuleBuffer) -> None:
    """REJECT/DROP external-IP, load-balancer and node-port traffic without external endpoints.

    Pod and host traffic still reaches the service: the EXT chain DNATs it
    before the filter table sees it.
    """
    verdict = plan.external_verdict
    if verdict is None:
        return
    svc = plan.svc
    rules = out.filter[naming.KUBE_EXTERNAL_SERVICES]
    head = f"-m comment --comment {verdict.comment}"
    for ip in (*svc.external_ips, *svc.load_balancer_vips):
        rules.append(f"{head} {_match(svc.proto, ip, svc.port)} -j {verdict.target}")
    if svc.node_port:
        rules.append(f"{head} -m addrtype --dst-type LOCAL -m {svc.proto} -p {svc.proto}"
                     f" --dport {svc.node_port} -j {verdict.target}")


def firewall_drops(plan: ServicePlan, out: RuleBuffer) -> None:
    """Drop load-balancer traffic the KUBE-FW chain did not DNAT (source not allowed)."""
    if not plan.uses_firewall_chain:
        return
    svc = plan.svc
    rules = out.filter[naming.KUBE_PROXY_FIREWALL]
    comment = f'"{svc.name_string} {NOT_ACCEPTED} {plan.firewall_chain}"'
    for ip in svc.load_balancer_vips:
        rules.append(f"-m comment --comment {comment} {_match(svc.proto, ip, svc.port)} -j DROP")


def health_check_accept(plan: ServicePlan, out: RuleBuffer) -> None:
    """Accept the health-check node port whether or not this node has local endpoints."""
    svc = plan.svc
    if not svc.health_check_node_port:
        return
    out.filter[naming.KUBE_NODEPORTS].append(
        f'-m comment --comment "{svc.name_string} health check node port" -m tcp -p tcp'
        f" --dport {svc.health_check_node_port} -j ACCEPT")


def service_filter_rules(plan: ServicePlan, out: RuleBuffer) -> None:
    """All filter rules of one service port."""
    cluster_ip_verdict(plan, out)
    external_verdicts(plan, out)
    firewall_drops(plan, out)
    health_check_accept(plan, out)


def localnet_firewall(ctx: SyncContext, out: RuleBuffer) -> None:
    """With route_localnet on, drop martian packets to 127/8 that did not come from loopback."""
    if ctx.ipv6 or not ctx.localhost_nodeports:
        return
    out.filter_chains.append(naming.KUBE_FIREWALL)
    out.filter[naming.KUBE_FIREWALL].append(
        '-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8'
        " -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")


def forward_rules(ctx: SyncContext, out: RuleBuffer) -> None:
    """KUBE-FORWARD: drop INVALID (unless tcp_be_liberal), accept marked and established traffic."""
    rules = out.filter[naming.KUBE_FORWARD]
    if not ctx.config.conntrack_tcp_be_liberal:
        counter = f" -m nfacct --nfacct-name {NFACCT_INVALID_DROPPED}" if ctx.config.nfacct else ""
        rules.append(f"{INVALID_STATE}{counter} -j DROP")
    rules.append(f'-m comment --comment "kubernetes forwarding rules" -m mark --mark {ctx.mark}/{ctx.mark}'
                 " -j ACCEPT")
    rules.append('-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack'
                 " --ctstate RELATED,ESTABLISHED -j ACCEPT")
