"""``kubeproxy-sim demo``: a built-in scenario's objects and rules, explained for a person."""

from __future__ import annotations

import argparse
import re
import sys
from fractions import Fraction

from kubeproxy_sim.cli.options import Inputs, add_node_flags, load_inputs, scenario_dir
from kubeproxy_sim.cli.output import Column, Console, add_color_flag, console, progress, render_table, report
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
FILTER_CHAINS = {
    "KUBE-SERVICES": "filter: rejects traffic to service ports that have no endpoints at all",
    "KUBE-NODEPORTS": "filter: accepts NodePort traffic of services with a health check node port",
}
EXAMPLES = """examples:
  kubeproxy-sim demo
  kubeproxy-sim demo --scenario upstream-overall-iptables-rules
  kubeproxy-sim demo --scenario session-affinity --color always | less -R
"""
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
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default="bootcamp", metavar="NAME", help="a scenario in rulesets/")
    add_color_flag(parser)
    add_node_flags(parser)
    parser.set_defaults(func=run, filename=[])


def chain_purpose(name: str, table: str = "nat") -> str:
    if table == "filter" and name in FILTER_CHAINS:
        return FILTER_CHAINS[name]
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


def explain(ruleset: Ruleset, con: Console | None = None) -> list[str]:
    """Chain by chain: what the chain is for, how a service chain splits new connections, its rules."""
    con = con or Console(sys.stdout)
    lines: list[str] = []
    for table in ruleset.tables:
        lines.append(con.paint(f"== table {table.name} ==", "bold"))
        for chain in table.chains:
            purpose = chain_purpose(chain.name, table.name)
            lines.append("")
            lines.append(con.paint(chain.name, "bold", "cyan") + (con.paint(f"  # {purpose}", "dim") if purpose
                                                                   else ""))
            summary = split_summary(chain) if chain.name.startswith(("KUBE-SVC-", "KUBE-SVL-")) else None
            if summary:
                lines.append(con.paint(f"  # new connections split: {summary}", "green"))
            lines.extend(f"  {rule.text()}" for rule in chain.rules)
    return lines


def _ports(svc) -> str:
    return ", ".join(f"{p.port}/{p.protocol.value}" + (f" (nodePort {p.node_port})" if p.node_port else "")
                     for p in svc.ports) or "-"


def _state(conditions) -> str:
    """The endpoint's conditions as kubectl would summarise them."""
    if conditions.ready in (True, None):
        return "ready"
    if conditions.serving and conditions.terminating:
        return "serving, terminating"
    return "terminating" if conditions.terminating else "not ready"


STATE_STYLES = {"ready": ("green",), "not ready": ("red",)}


def describe_cluster(inputs: Inputs, con: Console | None = None) -> list[str]:
    """The node, then its Services and their endpoints as two tables."""
    con = con or Console(sys.stdout)
    lines = [f"node {con.paint(inputs.config.node_name, 'bold')} (node IPs: "
             f"{', '.join(inputs.config.node_ips) or 'none'})", ""]
    services = [(svc.key, svc.type.value, ", ".join(svc.cluster_ips) or "-", _ports(svc))
                for svc in inputs.cluster.services]
    lines += render_table(["service", "type", "cluster-ip", "ports"], services, color=con.color).splitlines()
    endpoints = [(", ".join(ep.addresses), ep.node_name or "?", _state(ep.conditions),
                  f"{eps.namespace}/{eps.service_name}")
                 for eps in inputs.cluster.endpoint_slices for ep in eps.endpoints]
    if endpoints:
        state = Column("state", style=lambda v: STATE_STYLES.get(v, ("yellow",)))
        columns = [Column("endpoint"), Column("node"), state, Column("service")]
        lines += ["", *render_table(columns, endpoints, color=con.color).splitlines()]
    return lines


def _description(name: str) -> str:
    import yaml

    try:
        data = yaml.safe_load((scenario_dir(name) / "scenario.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    return str(data.get("description") or "")


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.proxier import generate

    with progress("loading objects"):
        inputs = load_inputs(args)
    report(inputs.diagnostics, args)
    with progress("generating rules"):
        result = generate(inputs.cluster, inputs.config)
    con = console(args)
    description = _description(args.scenario)
    out = [con.paint(f"Scenario {args.scenario}", "bold") + (f": {description}" if description else ""), "",
           *describe_cluster(inputs, con), "",
           "The rules kube-proxy writes on this node (iptables-restore input), explained:", "",
           *explain(result.ruleset, con), "",
           "Raw restore input: kubeproxy-sim rules --scenario " + args.scenario,
           "Follow a packet:   kubeproxy-sim trace --scenario " + args.scenario + " --src IP --dst IP --dport N",
           "Draw the chains:   kubeproxy-sim graph --scenario " + args.scenario + " -o " + args.scenario + ".svg"]
    con.write("\n".join(out) + "\n")
    return 1 if inputs.errors else 0
