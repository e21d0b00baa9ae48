"""rules.endpoints hands the SEP names to the SVC and SVL chains by position: a policy set that is not the
reachable tuple itself (a Local policy's, a zone's) jumps to the same names as endpoint_chain gives, each to its
own endpoint."""

from __future__ import annotations

from kubeproxy_sim.objects.model import Protocol
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.rules.context import RuleBuffer, make_context
from kubeproxy_sim.proxier.state import EndpointInfo, ServicePortInfo
from kubeproxy_sim.proxier.sync import write_service_port

NODE = "node1"


def _ep(ip: str, local: bool = False, zones: frozenset[str] | None = None) -> EndpointInfo:
    return EndpointInfo(ip, 80, f"{ip}:80", local, True, True, False, zones, None)


def _jumps(out: RuleBuffer, chain: str) -> list[str]:
    return [rule.rsplit(" -j ", 1)[1] for rule in out.nat[chain] if "KUBE-SEP-" in rule]


def _sep(svc: ServicePortInfo, ep: EndpointInfo) -> str:
    return naming.endpoint_chain(svc.name_string, svc.proto, ep.endpoint)


def test_a_local_policy_chain_jumps_to_its_own_endpoints_names() -> None:
    svc = ServicePortInfo("ns", "svc", "p80", Protocol.TCP, "172.30.0.1", 80, node_port=30080,
                          external_policy_local=True)
    eps = (_ep("10.0.0.1"), _ep("10.0.0.2", local=True), _ep("10.0.0.3"), _ep("10.0.0.4", local=True))
    ctx = make_context(ProxyConfig(node_name=NODE, cluster_cidrs=("10.0.0.0/8",)), len(eps))
    out = RuleBuffer()
    plan = write_service_port(ctx, svc, eps, None, out)
    assert plan.endpoints.local is not plan.endpoints.reachable
    assert _jumps(out, plan.local_chain) == [_sep(svc, eps[1]), _sep(svc, eps[3])]
    assert _jumps(out, plan.cluster_chain) == [_sep(svc, ep) for ep in eps]
    assert {_sep(svc, ep) for ep in eps} <= set(out.nat_chains)


def test_a_zone_narrowed_cluster_chain_jumps_to_its_own_endpoints_names() -> None:
    svc = ServicePortInfo("ns", "svc", "p80", Protocol.TCP, "172.30.0.1", 80, internal_policy_local=False)
    a, b, c = (_ep("10.0.0.1", zones=frozenset({"z1"})), _ep("10.0.0.2", zones=frozenset({"z2"})),
               _ep("10.0.0.3", local=True, zones=frozenset({"z2"})))
    ctx = make_context(ProxyConfig(node_name=NODE, cluster_cidrs=("10.0.0.0/8",)), 3)
    out = RuleBuffer()
    plan = write_service_port(ctx, svc, (a, b, c), "z2", out)
    assert _jumps(out, plan.cluster_chain) == [_sep(svc, b), _sep(svc, c)]
