"""``kubeproxy-sim demo``: the Kubernetes tutorial's story told by the emulator, on the bootcamp cluster.

The NodePort service's rules explained chain by chain; 1,000 requests from
outside and the share each pod answered; the same with externalTrafficPolicy
Local (the source is kept, a node without local pods drops); a request to an
ExternalName service through the cluster DNS; then the tutorial's scaling and
rolling update played by the controllers, with the endpoints and the changed
rules at each step. Every change is made in memory, every random choice comes
from ``--seed``, so two runs print the same text. With another ``--scenario``
the demo explains its rules and makes one batch of requests.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import sys
from fractions import Fraction
from typing import TYPE_CHECKING

from kubeproxy_sim.cli.options import Inputs, add_node_flags, load_inputs, parse_int, scenario_args, scenario_dir
from kubeproxy_sim.cli.output import Column, Console, add_color_flag, console, progress, render_table, report
from kubeproxy_sim.cli.parsers import Parser
from kubeproxy_sim.errors import Diagnostic, InputError, Severity
from kubeproxy_sim.netfilter.model import Chain, Ruleset
from kubeproxy_sim.objects.model import Cluster, EndpointConditions, Node, Service, TrafficPolicy
from kubeproxy_sim.proxier.naming import EXT_PREFIX, FW_PREFIX, SEP_PREFIX, SVC_PREFIX, SVL_PREFIX

if TYPE_CHECKING:
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.simulator.network import Simulator
    from kubeproxy_sim.simulator.send import Failed, SendResult

DEFAULT_SCENARIO = "bootcamp"
DEFAULT_SEED = 1
DEMO_REQUESTS = 1000
DEMO_SMALL = 100
MAX_ROWS = 12
EXTERNAL_NAME_SERVICE = "bootcamp-docs"
EXTERNAL_HOST = ("docs.example.com", "198.51.100.20")
TUTORIAL = (  # the tutorial's modules 2, 4, 5 and 6 (`scenario bootcamp` plays the whole script)
    "create deployment kubernetes-bootcamp --image=gcr.io/google-samples/kubernetes-bootcamp:v1",
    "rollout status deployments/kubernetes-bootcamp",
    "expose deployment/kubernetes-bootcamp --type=NodePort --port=8080",
    "scale deployments/kubernetes-bootcamp --replicas=4",
    "rollout status deployments/kubernetes-bootcamp",
    "scale deployments/kubernetes-bootcamp --replicas=2",
    "wait 30s",
    "set image deployments/kubernetes-bootcamp kubernetes-bootcamp=docker.io/jocatalin/kubernetes-bootcamp:v2",
    "rollout status deployments/kubernetes-bootcamp",
    "wait 30s",
)

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
  kubeproxy-sim demo --seed 7
  kubeproxy-sim demo --scenario upstream-overall-iptables-rules
  kubeproxy-sim demo --scenario session-affinity --color always | less -R
"""
PREFIXES = {
    SVC_PREFIX: "the service port's load balancer: one statistic rule per endpoint",
    SVL_PREFIX: "the service port's load balancer over node-local endpoints only (traffic policy Local)",
    EXT_PREFIX: "external traffic (NodePort, LoadBalancer, externalIPs): masquerade decision, then the service",
    FW_PREFIX: "loadBalancerSourceRanges: allowed sources continue, others are dropped",
    SEP_PREFIX: "one endpoint: mark hairpin traffic for masquerade, then DNAT to the pod",
}
STICKY_PREFIXES = {  # the same chains under sessionAffinity ClientIP, whose rules the captions above leave out
    SVC_PREFIX: "the service port's load balancer: first one recent --rcheck rule per endpoint sends a client seen "
    "within the affinity timeout back to its endpoint (sessionAffinity ClientIP), then one statistic rule per "
    "endpoint",
    SVL_PREFIX: "the service port's load balancer over node-local endpoints only (traffic policy Local): first one "
    "recent --rcheck rule per endpoint sends a known client back (sessionAffinity ClientIP), then the statistic split",
    SEP_PREFIX: "one endpoint: mark hairpin traffic for masquerade, then DNAT to the pod, recording the client in "
    "this endpoint's recent list (--set) for sessionAffinity ClientIP",
}
PROBABILITY = re.compile(r"--probability (\S+)")
COMMENT = re.compile(r'--comment (?:"([^"]*)"|(\S+))')


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="the tutorial's story: rules explained, requests, traffic policy, ExternalName, scaling, rollout",
        description="On the built-in bootcamp cluster: the NodePort service's rules chain by chain, 1,000 "
        "requests from outside and the share each pod answered, the same with externalTrafficPolicy Local, "
        "a request to an ExternalName service through cluster DNS, then scaling and a rolling update played by "
        "the controllers with the endpoints and changed rules at each step. Seeded: the same --seed prints the "
        "same text. Another --scenario gets its rules explained and one batch of requests.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, metavar="NAME",
                        help=f"a scenario in rulesets/ (default {DEFAULT_SCENARIO})")
    parser.add_argument("--seed", type=parse_int, default=DEFAULT_SEED,
                        help=f"seed of every random choice: the statistic splits, names, addresses "
                        f"(default {DEFAULT_SEED})")
    add_color_flag(parser)
    add_node_flags(parser)
    parser.set_defaults(func=run, filename=[], takes_manifests=False)  # (no -f: --scenario alone names the objects)


def chain_purpose(name: str, table: str = "nat", sticky: bool = False) -> str:
    """What the chain is for; ``sticky``: it has session-affinity (``recent``) rules, which the caption names."""
    if table == "filter" and name in FILTER_CHAINS:
        return FILTER_CHAINS[name]
    if name in FIXED_CHAINS:
        return FIXED_CHAINS[name]
    captions = {**PREFIXES, **STICKY_PREFIXES} if sticky else PREFIXES
    return next((text for prefix, text in captions.items() if name.startswith(prefix)), "")


def split_summary(chain: Chain) -> str | None:
    """The share each endpoint gets from a KUBE-SVC/SVL chain, computed from its probabilities."""
    remaining = Fraction(1)
    shares = []
    for rule in chain.rules:
        target = rule.spec.rsplit("-j ", 1)[-1]
        if not target.startswith(SEP_PREFIX) or "--rcheck" in rule.spec:
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
    for number, table in enumerate(ruleset.tables):
        if number:
            lines.append("")  # the last chain of the table before is not run into this heading
        lines.append(con.paint(f"== table {table.name} ==", "bold"))
        for chain in table.chains:
            sticky = any(" -m recent " in f" {rule.spec} " for rule in chain.rules)
            purpose = chain_purpose(chain.name, table.name, sticky)
            lines.append("")
            lines.append(con.paint(chain.name, "bold", "cyan") + (con.paint(f"  # {purpose}", "dim") if purpose
                                                                   else ""))
            summary = split_summary(chain) if chain.name.startswith((SVC_PREFIX, SVL_PREFIX)) else None
            if summary:
                lines.append(con.paint(f"  # new connections split: {summary}", "green"))
            lines.extend(f"  {rule.text()}" for rule in chain.rules)
    return lines


def _ports(svc) -> str:
    return ", ".join(f"{p.port}/{p.protocol.value}" + (f" (nodePort {p.node_port})" if p.node_port else "")
                     for p in svc.ports) or "-"


def _state(conditions: EndpointConditions) -> str:
    """The endpoint's conditions as kubectl would summarise them; unset ready and serving read as kube-proxy reads
    them (true), so the table says what the rules do with the endpoint."""
    if conditions.counts_ready:
        return "ready"
    if conditions.counts_serving and conditions.terminating:
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
    endpoints = [(", ".join(ep.addresses), ep.node_name or "?", _state(ep.conditions), eps.service_key)
                 for eps in inputs.cluster.endpoint_slices for ep in eps.endpoints]
    if endpoints:
        state = Column("state", style=lambda v: STATE_STYLES.get(v, ("yellow",)))
        columns = [Column("endpoint"), Column("node"), state, Column("service")]
        lines += ["", *render_table(columns, endpoints, color=con.color).splitlines()]
    return lines


def _scenario_node(name: str) -> str | None:
    """The node the scenario's own flags name (its --hostname-override, as kube-proxy takes it), if any."""
    parser = Parser(add_help=False)
    add_node_flags(parser)
    preset = parser.parse_known_args(scenario_args(scenario_dir(name, takes_manifests=False)))[0].hostname_override
    return preset.strip().lower() or None if preset else None


def _description(name: str) -> str:
    import yaml

    from kubeproxy_sim.objects.load import safe_load  # (every scenario.yaml is read as go-yaml reads YAML)

    try:
        text = (scenario_dir(name, takes_manifests=False) / "scenario.yaml").read_text()
        data = safe_load(text, single=True)[0] or {}
    except (OSError, yaml.YAMLError):
        return ""
    return str(data.get("description") or "")


# --------------------------------------------------------------------------- the story's pieces


def heading(number: int, title: str, con: Console) -> list[str]:
    return ["", con.paint(f"== {number}. {title} ==", "bold"), ""]


def shell(command: str, con: Console) -> str:
    """A command the reader can run to see this part alone."""
    return con.paint(f"$ {command}", "dim")


@dataclasses.dataclass(frozen=True)
class NodePortTarget:
    """The service port the demo sends to from outside: its Service, node port and protocol (``send --proto``)."""

    service: Service
    node_port: int
    proto: str


def node_port_target(inputs: Inputs) -> NodePortTarget | None:
    """The first service port with a NodePort (the tutorial's Service), by Service name.

    A Service with externalTrafficPolicy Cluster comes before a Local one, whose node may well have no endpoint
    and so only shows a drop; within a Service the first port with a node port is taken, whatever its protocol,
    and the requests use that protocol.
    """
    ranked = sorted(inputs.cluster.services,
                    key=lambda s: (s.external_traffic_policy is TrafficPolicy.LOCAL, s.key))
    for svc in ranked:
        port = next((p for p in svc.ports if p.node_port), None)
        if port is not None:
            return NodePortTarget(svc, port.node_port, port.protocol.value.lower())
    return None


def node_flags(args: argparse.Namespace) -> str:
    """The node flags given on the command line (not those the scenario's own args filled), as they would be typed,
    with a space before each: the commands the demo prints then show the same node and settings it does."""
    import shlex

    from kubeproxy_sim.cli.options import node_flag_dests

    filled: frozenset[str] = getattr(args, "from_scenario", frozenset())
    words: list[str] = []
    for dest, flag in node_flag_dests().items():
        value = getattr(args, dest, None)
        if value is None or dest in filled:
            continue
        for item in value if isinstance(value, list) else [value]:
            words += [flag if item else f"{flag}=false"] if isinstance(item, bool) else [flag, shlex.quote(str(item))]
    return "".join(f" {word}" for word in words)


def proto_flag(proto: str) -> str:
    """``send``'s flag for a protocol other than its default, for the command lines the demo prints."""
    return "" if proto == "tcp" else f" --proto {proto}"


def simulate(cluster: Cluster, inputs: Inputs, seed: int, hosts: tuple[tuple[str, str], ...] = ()) -> Simulator:
    from kubeproxy_sim.simulator.network import Simulator

    return Simulator(cluster, inputs.config, rng=random.Random(seed), hosts=hosts)


def requests(sim: Simulator, source: str, destination: str, count: int, seed: int,
             proto: str = "tcp") -> SendResult:
    """``count`` connections through the simulator, with a progress bar when it takes a while."""
    from kubeproxy_sim.cli.send_cmd import send_counted

    with progress(f"sending {count} connections", total=count) as tick:
        return send_counted(sim, source, destination, proto=proto, count=count, seed=seed, tick=tick)


def result_lines(result: SendResult, con: Console, limit: int | None = None) -> list[str]:
    """The send table (pods with bars, then failures); past ``limit`` pods, the busiest ones and a count."""
    from kubeproxy_sim.cli.send_cmd import delivered_table, failed_table

    lines: list[str] = []
    if result.delivered:
        shown = result
        if limit is not None and len(result.delivered) > limit:
            busiest = sorted(result.delivered, key=lambda d: (-d.count, d.pod))[:limit]
            shown = dataclasses.replace(result, delivered=tuple(sorted(busiest, key=lambda d: d.pod)))
        lines += delivered_table(shown, con).splitlines()
        if shown is not result:
            lines.append(f"... and {len(result.delivered) - limit} more pods "  # type: ignore[operator]
                         f"({limit} busiest shown)")
    if result.failed:
        lines += ["", *failed_table(result, con).splitlines()] if lines else failed_table(result, con).splitlines()
    return lines


def sources(result: SendResult) -> set[str]:
    return {ip for d in result.delivered for ip in d.sources_seen}


def send_section(inputs: Inputs, args: argparse.Namespace, con: Console, number: int) -> list[str]:
    """1,000 requests to the NodePort from outside (or, without one, from the node to a cluster IP)."""
    target = node_port_target(inputs)
    node = inputs.config.node_name
    proto = "tcp"
    if target is not None:
        svc, proto = target.service, target.proto
        source, destination = "external", f"node/{node}:{target.node_port}"
        title = f"{DEMO_REQUESTS:,} requests from outside to {svc.key}'s NodePort on {node}"
    else:
        found = next((s for s in inputs.cluster.services if s.cluster_ips and s.ports), None)
        if found is None:
            return [*heading(number, "Requests", con), "No Service with a cluster IP or a NodePort to send to."]
        svc = found
        ip = svc.cluster_ips[0]
        source, destination = f"node/{node}", f"{f'[{ip}]' if ':' in ip else ip}:{svc.ports[0].port}"
        proto = svc.ports[0].protocol.value.lower()
        title = f"{DEMO_REQUESTS:,} requests from {node} to {svc.key}'s cluster IP"
    lines = heading(number, title, con)
    lines.append(shell(f"kubeproxy-sim send --scenario {args.scenario} --from {source} --to {destination} "
                       f"--count {DEMO_REQUESTS} --seed {args.seed}{proto_flag(proto)}{node_flags(args)}", con))
    try:
        sim = simulate(inputs.cluster, inputs, args.seed)
        result = requests(sim, source, destination, DEMO_REQUESTS, args.seed, proto)
    except InputError as exc:
        return [*lines, "", *(f"Cannot simulate it here: {d}" for d in exc.diagnostics)]
    entered = sim.topology.node(inputs.config.node_name)
    bridge = entered.gateways if entered is not None else ()
    lines += ["", *result_lines(result, con, limit=MAX_ROWS), "", summary(result, svc, inputs, bridge)]
    return lines


def summary(result: SendResult, svc: Service, inputs: Inputs, bridge: tuple[str, ...] = ()) -> str:
    """What the table shows, in a sentence: where connections went, what the pods saw, and why. ``bridge``: the
    entry node's pod bridge addresses, which a masqueraded connection to one of its own pods carries."""
    from kubeproxy_sim.objects.model import SessionAffinity

    if not any(d.count for d in result.delivered):
        return f"{nothing_reached(result)}: the DETAIL column names the rule that decided."
    seen = sorted(sources(result))
    node_ips = {ip.split("/")[0] for ip in inputs.config.node_ips}
    text = share_verdict(result)
    if svc.session_affinity is SessionAffinity.CLIENT_IP:
        text = ("sessionAffinity ClientIP: one client sticks to the pod it first reached; EXPECTED is the share "
                "of new clients")
    text += f"; the pods saw {', '.join(seen)}"
    if set(seen) <= node_ips | set(bridge) and result.source == "external" and \
            svc.external_traffic_policy is TrafficPolicy.CLUSTER:
        via_bridge = sorted(set(seen) & set(bridge))
        text += (": the node's own address" + (
                 f" ({', '.join(via_bridge)}, its pod bridge's, for its own pods: MASQUERADE takes the address of "
                 "the interface the packet leaves by)" if via_bridge else "") +
                 ", because external traffic under externalTrafficPolicy Cluster is "
                 "masqueraded (it may be forwarded to a pod on another node, and the reply must come back "
                 "through this node)")
    return text + "."


def share_verdict(result: SendResult) -> str:
    """Whether the shares agree with EXPECTED, judged by a chi-square test rather than by eye.

    With many pods the table shows only the busiest, which are the outliers of any fair sample; the test looks at
    every destination, so "close" is said only when the whole sample is as chance would make it (p >= 0.001).
    """
    from kubeproxy_sim.analysis.stats import chi_square

    rows = [(d.count, d.expected) for d in result.delivered if d.expected] + \
        [(f.count, f.expected) for f in result.failed if f.expected]
    total = sum(e for _, e in rows)
    # EXPECTED is rounded to 6 decimals (tally), so a third is 0.333333: allow that rounding, then rescale
    if len(rows) < 2 or sum(count for count, _ in rows) != result.connections or \
            abs(total - 1) > 5e-7 * len(rows) + 1e-9:
        return "EXPECTED is the exact probability the rules give each destination"
    _, _, p_value = chi_square([c for c, _ in rows], [e / total for _, e in rows])
    if p_value >= 0.001:
        return (f"The shares agree with the exact probabilities the rules give (EXPECTED): a chi-square test over "
                f"all {len(rows)} destinations finds nothing chance would not explain (p = {p_value:.2f})")
    return (f"The shares differ from the exact probabilities the rules give (EXPECTED) more than chance explains "
            f"(chi-square p = {p_value:.1g})")


def with_service(cluster: Cluster, old: Service, new: Service) -> Cluster:
    return dataclasses.replace(cluster, services=tuple(new if s is old else s for s in cluster.services))


def extra_node(cluster: Cluster) -> Node:
    """A node that joins the cluster with no pod of the app: the next name, address and pod range."""
    import netaddr

    from kubeproxy_sim.objects.model import NodeAddress

    count = len(cluster.nodes) + 1
    last = max((a.address for n in cluster.nodes for a in n.addresses if a.type == "InternalIP"),
               key=lambda a: int(netaddr.IPAddress(a)), default="192.168.49.1")
    cidrs = [netaddr.IPNetwork(c) for n in cluster.nodes for c in n.pod_cidrs if ":" not in c]
    cidr = str(netaddr.IPNetwork(f"{max(cidrs).next().network}/{max(cidrs).prefixlen}")) if cidrs else \
        f"10.244.{count - 1}.0/24"
    return Node(f"node{count}", (NodeAddress("InternalIP", str(netaddr.IPAddress(last) + 1)),), (cidr,),
                (("kubernetes.io/hostname", f"node{count}"), ("topology.kubernetes.io/zone", "zone-new")))


def rules_text(cluster: Cluster, inputs: Inputs) -> str:
    from kubeproxy_sim.netfilter.render import render_ruleset
    from kubeproxy_sim.proxier import generate

    return render_ruleset(generate(cluster, inputs.config).ruleset)


def changed_lines(before: str, after: str, con: Console) -> list[str]:
    """Added rules in green with ``+``, removed ones in red with ``-``; ``-X`` chain deletions included."""
    from kubeproxy_sim.cli.scenario_cmd import changed_rules

    changed = [line for line in changed_rules(before, after) if not line[1:].startswith(":")]
    if not changed:
        return ["  (no rule changed)"]
    return ["  " + con.paint(f"{line[0]} {line[1:]}", "green" if line.startswith("+") else "red") for line in changed]


def local_section(inputs: Inputs, args: argparse.Namespace, con: Console, number: int) -> list[str]:
    """The same requests with externalTrafficPolicy Local, then to a node that has no pod of the app."""
    target = node_port_target(inputs)
    assert target is not None  # story() shows this section only for a scenario with a NodePort
    svc, port, proto = target.service, target.node_port, target.proto
    node = inputs.config.node_name
    local = dataclasses.replace(svc, external_traffic_policy=TrafficPolicy.LOCAL)
    cluster = with_service(inputs.cluster, svc, local)
    lines = heading(number, "The same with externalTrafficPolicy: Local", con)
    lines += [shell(f"kubectl patch service {svc.name} -n {svc.namespace} "
                    "-p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'   # done in memory here", con), "",
              f"What changes in {node}'s rules:", *changed_lines(rules_text(inputs.cluster, inputs),
                                                                 rules_text(cluster, inputs), con), ""]
    newcomer = extra_node(cluster)
    sim = simulate(dataclasses.replace(cluster, nodes=(*cluster.nodes, newcomer)), inputs, args.seed)
    result = requests(sim, "external", f"node/{node}:{port}", DEMO_REQUESTS, args.seed, proto)
    node_ips = {ip.split("/")[0] for ip in inputs.config.node_ips}
    lines += [f"{DEMO_REQUESTS:,} requests from outside to {node}'s NodePort again:", "", *result_lines(result, con),
              "", local_summary(result, node, node_ips), ""]
    dropped = requests(sim, "external", f"node/{newcomer.name}:{port}", DEMO_SMALL, args.seed, proto)
    lines += [f"Now a node with no pod of the app, {newcomer.name} (it joins the cluster, in memory), gets "
              f"{DEMO_SMALL} requests on the NodePort:", "", *result_lines(dropped, con), "",
              newcomer_summary(dropped, newcomer.name, local)]
    return lines


def nothing_reached(result: SendResult) -> str:
    return f"No connection reached a pod ({', '.join(sorted({f.reason for f in result.failed}))})"


def no_local_endpoint(failed: Failed, node: str) -> bool:
    """Whether ``node``'s rule for "no local endpoint" decided this failure row: the filter rule kube-proxy comments
    "NS/NAME has no local endpoints", or a rule of a KUBE-SVL chain (the local endpoints' load balancer) that had
    none. Read from the row's facts (:attr:`Failed.decided_by`: the node and the rule as the tracer's path names
    it), not its words, which are for people and may be reworded."""
    from kubeproxy_sim.proxier.rules.plan import NO_LOCAL_ENDPOINTS  # (here: the parser stays light)

    decided = failed.decided_by
    step = None if decided is None or decided.node != node else decided.step
    return step is not None and (NO_LOCAL_ENDPOINTS in step.rule or step.chain.startswith(SVL_PREFIX))


def local_summary(result: SendResult, node: str, node_ips: set[str] | frozenset[str] = frozenset()) -> str:
    """What the Local run shows, read from its rows: whose pods answered and what source they saw, or what
    decided when nothing answered (the node's missing local endpoint only when its rule for that decided)."""
    if not any(d.count for d in result.delivered):
        if result.failed and all(no_local_endpoint(f, node) for f in result.failed):
            return (f"{nothing_reached(result)}: {node} has no ready pod of the app, and under "
                    "externalTrafficPolicy Local a node sends external traffic only to its own pods.")
        return f"{nothing_reached(result)}: the DETAIL column says what decided."
    answered = [d for d in result.delivered if d.count]
    seen = sorted(sources(result))
    if all(d.node == node for d in answered):
        text = f"Only {node}'s own pods answer"
    else:
        text = f"Pods on {', '.join(sorted({d.node or '?' for d in answered}))} answer"
    if seen and not set(seen) & set(node_ips):
        text += f", and they saw the client's own address ({', '.join(seen)}): no masquerade"
        text += ", no hop to another node." if text.startswith("Only") else "."
    else:
        text += f", and they saw {', '.join(seen) or 'no source'}."
    if result.failed:
        text += f" {sum(f.count for f in result.failed):,} connections failed: the DETAIL column says what decided."
    return text


def newcomer_summary(result: SendResult, name: str, svc: Service) -> str:
    """What the node without pods shows, read from its rows; the health check only where kube-proxy serves one
    (a LoadBalancer Service with externalTrafficPolicy Local: the API server gives no other a healthCheckNodePort)."""
    from kubeproxy_sim.objects.model import ServiceType

    if any(d.count for d in result.delivered) or not result.failed or \
            not all(no_local_endpoint(f, name) for f in result.failed):
        return f"{name}: the table above shows what happened; the DETAIL column says what decided."
    text = f"{name} has no local endpoint, so its rules drop the traffic: a load balancer in front must skip it"
    if svc.type is ServiceType.LOAD_BALANCER:
        return text + ", which is what kube-proxy's health check (healthCheckNodePort) tells it."
    return (text + ". A " + svc.type.value + " Service has no health check to tell it so: kube-proxy serves one "
            "(healthCheckNodePort) only for a LoadBalancer Service with externalTrafficPolicy Local.")


def external_name_section(inputs: Inputs, args: argparse.Namespace, con: Console, number: int) -> list[str]:
    """An ExternalName service: a DNS alias, resolved by the cluster DNS, no kube-proxy rule at all."""
    from kubeproxy_sim.objects.model import ServiceType

    want6 = inputs.config.ipv6
    pod = next((p for p in sorted(inputs.cluster.pods, key=lambda p: p.key)
                if p.node_name == inputs.config.node_name and not p.host_network
                and any((":" in ip) == want6 for ip in p.pod_ips)), None)
    if pod is None:
        return []
    alias = Service("default", EXTERNAL_NAME_SERVICE, ServiceType.EXTERNAL_NAME, external_name=EXTERNAL_HOST[0])
    cluster = dataclasses.replace(inputs.cluster, services=(*inputs.cluster.services, alias))
    sim = simulate(cluster, inputs, args.seed, hosts=(EXTERNAL_HOST,))
    answer = sim.dns.resolve(f"{alias.name}.{alias.namespace}", pod.namespace)
    result = requests(sim, f"pod/{pod.key}", f"{alias.name}.{alias.namespace}:443", 1, args.seed)
    lines = heading(number, "A request to an ExternalName service", con)
    lines += [shell(f"kubectl create service externalname {alias.name} --external-name {EXTERNAL_HOST[0]}"
                    f"   # in memory, with {EXTERNAL_HOST[0]} at {EXTERNAL_HOST[1]} outside", con), "",
              f"The rules do not change: kube-proxy ignores ExternalName services "
              f"({'unchanged' if rules_text(cluster, inputs) == rules_text(inputs.cluster, inputs) else 'CHANGED'}).",
              f"Cluster DNS answers {pod.key}'s query for {alias.name}.{alias.namespace}:"]
    lines += [f"  {r.name} {r.type} {r.value}" for r in answer.records]
    lines += ["", f"One request from {pod.key} to {alias.name}.{alias.namespace}:443:", "",
              *result_lines(result, con), "",
              "It leaves the cluster like any pod egress, through the CNI's masquerade on the node (kube-proxy's "
              "rules do not masquerade it), so the outside host saw "
              + ", ".join(sorted(sources(result))) + "."]
    return lines


def endpoint_table(cluster: Cluster, config: ProxyConfig, con: Console) -> list[str]:
    from kubeproxy_sim.cli.scenario_cmd import endpoint_rows

    rows = [(f"{r.address}:{r.port}", r.state, r.node or "-", r.pod or "-") for r in endpoint_rows(cluster, config)]
    if not rows:
        return ["  (no endpoints)"]
    state = Column("state", style=lambda v: STATE_STYLES.get(v, ("yellow",)))
    table = render_table([Column("endpoint"), state, Column("node"), Column("pod")], rows, color=con.color)
    return ["  " + line for line in table.splitlines()]


def step_title(text: str) -> str:
    """A script line as the reader would type it: kubectl commands, and time passing for ``wait``."""
    if text.startswith("wait "):
        return f"... {text.split()[1]} later"
    return f"$ kubectl {text}"


def controllers_section(inputs: Inputs, args: argparse.Namespace, con: Console, number: int) -> list[str]:
    """The tutorial's deploy, expose, scale and rolling update, with the endpoints and changed rules per step."""
    from kubeproxy_sim.cli.options import build_config
    from kubeproxy_sim.cli.scenario_cmd import _initial_world, _rules_text
    from kubeproxy_sim.controllers import cluster_of, play
    from kubeproxy_sim.controllers.scheduler import take_log
    from kubeproxy_sim.controllers.script import parse_line

    def no_files(_paths: tuple[str, ...]) -> object:
        raise InputError(Diagnostic("the demo applies no files", field="apply -f"))

    rng = random.Random(args.seed)
    world = _initial_world(args, rng)
    lines = heading(number, "Scaling and a rolling update, with the controllers", con)
    lines += ["The tutorial's steps replayed by the Deployment, ReplicaSet and EndpointSlice controllers on a "
              f"fresh cluster; after each, the endpoints kube-proxy sees and what changed in "
              f"{inputs.config.node_name}'s rules: the script's first {len(TUTORIAL)} steps, abridged from these "
              "two (the rules as a unified diff of the whole restore input, and the endpoints):",
              shell(f"kubeproxy-sim scenario bootcamp --show diff --seed {args.seed}{node_flags(args)}", con),
              shell(f"kubeproxy-sim scenario bootcamp --show endpoints --seed {args.seed}{node_flags(args)}", con)]
    previous = ""
    with progress("playing the tutorial", total=len(TUTORIAL)) as tick:
        for index, text in enumerate(TUTORIAL, 1):
            step = parse_line(index, text)
            played = play(world, step, rng, no_files)  # type: ignore[arg-type]
            world, _ = take_log(played.world)  # FailedScheduling is not shown here: the log would only grow
            cluster = cluster_of(world)
            config, _ = build_config(args, cluster)
            rules = _rules_text(cluster, config)
            lines += ["", con.paint(step_title(text), "bold"), *(con.paint(f"  {n}", "dim") for n in played.notes)]
            if cluster.services:
                lines += [*endpoint_table(cluster, config, con), "  rules:", *changed_lines(previous, rules, con)]
            previous = rules
            tick()
    return lines


def story(inputs: Inputs, args: argparse.Namespace, con: Console) -> list[str]:
    """The tutorial's story: rules, requests, the Local policy, ExternalName, then the controllers at work.

    Sections are numbered as they are shown: one with nothing to show here (ExternalName without a pod on the
    node to ask from) is left out without a gap.
    """
    lines = send_section(inputs, args, con, 2)
    if args.scenario != DEFAULT_SCENARIO or node_port_target(inputs) is None:
        return lines
    number = 3
    for section in (local_section, external_name_section, controllers_section):
        try:
            shown = section(inputs, args, con, number)
        except InputError as exc:  # the sections before stay shown; this one is named as left out, with why
            lines += ["", f"(Section {number} of the story cannot run here and is left out: "
                          f"{'; '.join(d.message for d in exc.diagnostics)})"]
            continue
        number += bool(shown)
        lines += shown
    return lines


def family_refusal(inputs: Inputs, scenario: str) -> Diagnostic | None:
    """Why the demo cannot run in the proxier's family: the objects have Service or endpoint addresses, none of it.

    Every request would then be refused and the controllers' steps would show no endpoint, so the demo says so in
    one line before any output, naming the family the objects have.
    """
    addresses = [ip for svc in inputs.cluster.services for ip in svc.cluster_ips if ip and ip != "None"]
    addresses += [a for eps in inputs.cluster.endpoint_slices for ep in eps.endpoints for a in ep.addresses]
    want6 = inputs.config.ipv6
    if not addresses or any((":" in a) == want6 for a in addresses):
        return None
    asked, other = ("IPv6", "ipv4") if want6 else ("IPv4", "ipv6")
    return Diagnostic(f"scenario {scenario} has no {asked} Service or endpoint, only {other[:2].upper()}"
                      f"{other[2:]} ones: every request of the demo would fail; run it with --ip-family {other}",
                      field="demo --ip-family")


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.proxier import generate

    with progress("loading objects"):
        inputs = load_inputs(args)
    refusal = family_refusal(inputs, args.scenario)
    if refusal is not None:  # before the node address warning, which would only restate it
        raise InputError(refusal)
    # The built-in scenarios carry kinds kube-proxy ignores (the Deployment): notes would only be noise here.
    report([d for d in inputs.diagnostics if d.severity is not Severity.NOTE], args)
    with progress("generating rules"):
        result = generate(inputs.cluster, inputs.config)
    con = console(args)
    description = _description(args.scenario)
    node = inputs.config.node_name
    if _scenario_node(args.scenario) not in (None, node):
        description += f" Here seen from {node}, as --hostname-override asks."
    out = [con.paint(f"Scenario {args.scenario}", "bold") + (f": {description}" if description else ""), "",
           *describe_cluster(inputs, con),
           *heading(1, "The rules kube-proxy writes on this node (iptables-restore input), explained", con),
           *explain(result.ruleset, con)]
    if not inputs.errors:
        out += story(inputs, args, con)
    flags = node_flags(args)
    out += ["", f"Raw restore input: kubeproxy-sim rules --scenario {args.scenario}{flags}",
            f"Follow a packet:   kubeproxy-sim trace --scenario {args.scenario}{flags} --src IP --dst IP --dport N",
            f"Draw the chains:   kubeproxy-sim graph --scenario {args.scenario}{flags} -o {args.scenario}.svg"]
    con.write("\n".join(out) + "\n")
    return 1 if inputs.errors else 0
