"""``kubeproxy-sim demo``: a built-in scenario's objects and rules, explained for a person."""

from __future__ import annotations

import argparse
import re
import sys
from fractions import Fraction

from kubeproxy_sim.cli.options import Inputs, add_node_flags, load_inputs
from kubeproxy_sim.netfilter.model import Chain, Ruleset

FIXED_CHAINS = {
    "KUBE-SERVICES": "every packet to a Service IP enters here (from PREROUTING and OUTPUT); "
    "one rule per service port, the NodePort dispatch last",
    "KUBE-NODEPORTS": "packets to a local address on a NodePort",
    "KUBE-EXTERNAL-SERVICES": "filter: rejects or drops external traffic to services without usable endpoints",
    "KUBE-POSTROUTING": "on the way out: masquerade what was marked, then clear the mark",
    "KUBE-MARK-MASQ": "sets the masquerade mark (0x4000 by default) so POSTROUTING rewrites the source",
    "KUBE-FORWARD": "filter: accepts forwarded service traffic, drops INVALID conntrack state",
    "KUBE-PROXY-FIREWALL": "filter: loadBalancerSourceRanges enforcement",
    "KUBE-PROXY-CANARY": "an empty chain kube-proxy watches to notice a flushed table",
    "KUBE-FIREWALL": "filter: drops martian packets to 127.0.0.0/8 from outside",
}
PREFIXES = {
    "KUBE-SVC-": "the service port's load balancer: one statistic rule per endpoint",
    "KUBE-SVL-": "the service port's load balancer over node-local endpoints only (traffic policy Local)",
    "KUBE-EXT-": "external traffic (NodePort, LoadBalancer, externalIPs): masquerade decision, then the service",
    "KUBE-FW-": "loadBalancerSourceRanges: allowed sources continue, others are dropped",
    "KUBE-SEP-": "one endpoint: mark hairpin traffic for masquerade, then DNAT to the pod",
}
PROBABILITY = re.compile(r"--probability (\S+)")
COMMENT = re.compile(r'--comment (?:"([^"]*)"|(\S+))')


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="explain the rules of a built-in scenario (default: the kubernetes-bootcamp tutorial)",
        description="Load a built-in scenario, print its Services and endpoints, then kube-proxy's rules "
        "chain by chain with what each chain does and how it splits traffic.",
        epilog="examples:\n  kubeproxy-sim demo\n  kubeproxy-sim demo --scenario upstream-overall-iptables-rules",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default="bootcamp", metavar="NAME", help="a scenario in rulesets/")
    add_node_flags(parser)
    parser.set_defaults(func=run, filename=[])


def chain_purpose(name: str) -> str:
    if name in FIXED_CHAINS:
        return FIXED_CHAINS[name]
    return next((text for prefix, text in PREFIXES.items() if name.startswith(prefix)), "")


def split_summary(chain: Chain) -> str | None:
    """The share each endpoint gets from a KUBE-SVC/SVL chain, computed from its probabilities."""
    remaining = Fraction(1)
    shares = []
    for rule in chain.rules:
        target = rule.spec.rsplit("-j ", 1)[-1]
        if not target.startswith("KUBE-SEP-") or "--rcheck" in rule.spec:
            continue
        match = PROBABILITY.search(rule.spec)
        p = Fraction(match.group(1)) if match else Fraction(1)
        shares.append(remaining * p)
        remaining -= remaining * p
    if not shares:
        return None
    return ", ".join(f"{float(s):.1%}" for s in shares)


def explain(ruleset: Ruleset) -> list[str]:
    lines: list[str] = []
    for table in ruleset.tables:
        lines.append(f"== table {table.name} ==")
        for chain in table.chains:
            purpose = chain_purpose(chain.name)
            lines.append("")
            lines.append(f"{chain.name}" + (f"  # {purpose}" if purpose else ""))
            summary = split_summary(chain) if chain.name.startswith(("KUBE-SVC-", "KUBE-SVL-")) else None
            if summary:
                lines.append(f"  # new connections split: {summary}")
            lines.extend(f"  {rule.text()}" for rule in chain.rules)
    return lines


def describe_cluster(inputs: Inputs) -> list[str]:
    lines = [f"node {inputs.config.node_name} (node IPs: {', '.join(inputs.config.node_ips) or 'none'})", ""]
    for svc in inputs.cluster.services:
        ports = ", ".join(
            f"{p.port}/{p.protocol.value}" + (f" nodePort {p.node_port}" if p.node_port else "") for p in svc.ports
        )
        lines.append(f"Service {svc.key}: {svc.type.value} {', '.join(svc.cluster_ips) or '-'} ({ports})")
    for eps in inputs.cluster.endpoint_slices:
        for ep in eps.endpoints:
            ready = "ready" if ep.conditions.ready in (True, None) else "not ready"
            lines.append(f"  endpoint {', '.join(ep.addresses)} on {ep.node_name or '?'} ({ready}) "
                         f"of {eps.namespace}/{eps.service_name}")
    return lines


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.proxier import generate

    inputs = load_inputs(args)
    for diagnostic in inputs.diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)
    result = generate(inputs.cluster, inputs.config)
    out = [f"Scenario {args.scenario}", "", *describe_cluster(inputs), "",
           "The rules kube-proxy writes on this node (iptables-restore input), explained:", "",
           *explain(result.ruleset), "",
           "Raw restore input: kubeproxy-sim rules --scenario " + args.scenario,
           "Follow a packet:   kubeproxy-sim trace --scenario " + args.scenario + " --src IP --dst IP --dport N"]
    sys.stdout.write("\n".join(out) + "\n")
    return 1 if inputs.errors else 0
