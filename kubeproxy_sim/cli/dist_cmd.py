"""``kubeproxy-sim dist``: the exact share of each endpoint for new connections, from the rules alone.

Every node's rules are generated from the objects (the node flags describe the
``--hostname-override`` node; the others are derived from their Node objects)
and traced along every probability branch, per node where the traffic enters.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from kubeproxy_sim.cli.options import add_input_flags, parse_float, parse_int
from kubeproxy_sim.cli.output import Console, add_output_flags, console, emit, progress, report
from kubeproxy_sim.errors import Diagnostic, InputError, UsageError, one_of

EXAMPLES = """examples:
  kubeproxy-sim dist --scenario bootcamp
  kubeproxy-sim dist --scenario bootcamp --to kubernetes-bootcamp.default:8080 -o json
  kubeproxy-sim dist --scenario session-affinity --to default/web --clients 500
  kubeproxy-sim dist --scenario bootcamp --to default/kubernetes-bootcamp --connections 3 \\
      --requests-per-connection 1000 --seed 7
  kubeproxy-sim dist --scenario upstream-external-traffic-policy-local -o yaml
  kubeproxy-sim dist --scenario bootcamp --to node/node1:31526 --plot shares.png
"""

DEFAULT_SEED = 1  # of the samples (--connections, --clients); the exact shares need none


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "dist",
        help="exact load-balancing shares of a service's endpoints, per entry node",
        description="For each way into a service port (cluster IP from pods on each node, NodePort on each "
        "node, external IPs, load-balancer IPs through the nodes the balancer uses) the exact probability "
        "of each endpoint for a new connection, as the rational the kernel's 31-bit statistic thresholds "
        "give and as a percentage, with the deviation from an even split. Session affinity, keep-alive "
        "connections (--connections) and the limits of both are explained. -o json|yaml is a public contract "
        "(README).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    what = parser.add_argument_group("what to analyse")
    what.add_argument("--to", metavar="DST", help="IP[:PORT], NAME.NS[:PORT], NAME.NS.svc.cluster.local[:PORT], "
                      "NAME[:PORT] (namespace default's), NS/NAME[:PORT] or node/NAME:NODEPORT, PORT a number or a "
                      "port's name (default: every service port)")
    what.add_argument("--from", dest="sources", action="append", default=None, metavar="SRC",
                      help="pod/NS/NAME, node/NAME, external or external:IP (repeatable; default: a pod on each "
                      "node for cluster IPs, an external client for the rest)")
    what.add_argument("--node", action="append", default=None, metavar="NAME",
                      help="only traffic entering these nodes (repeatable)")
    more = parser.add_argument_group("keep-alive connections and affinity")
    more.add_argument("--connections", type=parse_int, metavar="C",
                      help="sample C keep-alive connections through each service port's first view that carries "
                      "traffic (e.g. clusterIP; one view, see connections.view in -o json)")
    more.add_argument("--requests-per-connection", type=parse_int, metavar="R",
                      help="requests each --connections connection carries (default 1; needs --connections)")
    more.add_argument("--seed", type=parse_int, help=f"the Monte Carlo seed of the --connections and --clients "
                      f"samples (default {DEFAULT_SEED}; needs one of them)")
    more.add_argument("--clients", type=parse_int, metavar="K",
                      help="distinct clients (session affinity: how the 100-entry lists cope; sampled too)")
    more.add_argument("--client-interval", type=parse_float, metavar="SECONDS",
                      help="mean time between one client's connections (session affinity timeout)")
    out = parser.add_argument_group("output")
    out.add_argument("--plot", metavar="FILE.png|FILE.svg",
                     help="also draw each endpoint's exact share, per entry node, as a bar chart")
    add_output_flags(out)
    parser.set_defaults(func=run)


MAX_CONNECTIONS = 1_000_000  # about 0.35 ms a connection (send), so a slip of the finger cost hours


def check_connections(value: int | None, flag: str) -> None:
    """The one bound on the connections a command samples (dist --connections, send --count), before any work."""
    if value is not None and value > MAX_CONNECTIONS:
        raise InputError(Diagnostic(f"{value} connections is more than this command samples; "
                                    f"expected at most {MAX_CONNECTIONS}", field=flag))


def _check_counts(args: argparse.Namespace) -> None:
    for flag, value, low in (("--connections", args.connections, 1), ("--requests-per-connection",
                             args.requests_per_connection, 1), ("--clients", args.clients, 1)):
        if value is not None and value < low:
            raise InputError(Diagnostic(f"{value} is too small; expected a whole number >= {low}", field=flag))
    check_connections(args.connections, "--connections")
    if args.client_interval is not None and args.client_interval <= 0:
        raise InputError(Diagnostic(f"{args.client_interval:g} is not positive; expected a positive, finite number of "
                                    "seconds", field="--client-interval"))
    _check_companions(args)


def _check_companions(args: argparse.Namespace) -> None:
    """A flag that shapes only a sample, given with no sample to shape, would change nothing and say nothing:
    a usage error naming the flag it needs, as watch's --context without --kubeconfig is."""
    if args.requests_per_connection is not None and args.connections is None:
        raise UsageError(Diagnostic("only the --connections sample carries requests; expected --connections C "
                                    "with it", field="--requests-per-connection"))
    if args.seed is not None and args.connections is None and args.clients is None:
        raise UsageError(Diagnostic("seeds only the samples (the exact shares need no seed); expected "
                                    "--connections C or --clients K with it", field="--seed"))


def build_report(args: argparse.Namespace, inputs, tick: Callable[..., None] | None = None):
    """The analysis the flags ask for (pure: objects and flags in, report out); ``tick`` per service port."""
    import dataclasses

    from kubeproxy_sim.analysis.affinity import analyse_affinity
    from kubeproxy_sim.analysis.exact import analyse
    from kubeproxy_sim.analysis.longlived import analyse_connections
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.analysis.targets import parse_destination, parse_sources

    nodes = node_set(inputs.cluster, inputs.config)
    selections = parse_destination(nodes, args.to, "dist")
    if args.node:
        unknown = [n for n in args.node if n not in nodes.configs]
        if unknown:
            choices = one_of(unknown[0], nodes.order, "nodes")
            raise InputError(Diagnostic(f"no node {unknown[0]!r}; expected one of {choices}", field="--node"))
        selections = [dataclasses.replace(s, nodes=tuple(n for n in (s.nodes or nodes.order) if n in args.node))
                      for s in selections]
    sources = parse_sources(nodes, args.sources)
    report = analyse(nodes, selections, sources)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    services = []
    unsampled = []
    for dist in report.services:
        affinity = analyse_affinity(nodes, dist, args.clients, args.client_interval, seed)
        connections = None
        if args.connections:
            view = next((v for v in dist.views if any(e.weight > 0 for e in v.entries)), None)
            if view is not None:
                connections = analyse_connections(nodes, view, dist.svc.proto, args.connections,
                                                  args.requests_per_connection or 1, seed,
                                                  dist.svc.client_ip_affinity)
            else:  # every entry of weight 0 (--node keeps nodes the balancer does not use), or none at all
                unsampled.append(f"{dist.name}: --connections sampled nothing: no way in analysed carries traffic "
                                 "(see the views' notes)")
        services.append(dataclasses.replace(dist, affinity=affinity, connections=connections))
        if tick is not None:
            tick()
    notes = (([] if services else ["no service port matches"]) + unsampled
             + _other_family_notes(args, inputs.cluster, nodes))
    return dataclasses.replace(report, services=tuple(services), notes=tuple(notes)), nodes


def _other_family_notes(args: argparse.Namespace, cluster, nodes) -> list[str]:
    """Dual-stack objects read without --ip-family: the shares are the node's primary family's proxier's, as
    upstream runs one proxier per family; diff's note when the other family's proxier has the ports --to names
    (every port without it) too, naming the --ip-family that shows them."""
    from kubeproxy_sim.analysis.nodes import node_set, other_family_note
    from kubeproxy_sim.analysis.targets import parse_destination
    from kubeproxy_sim.cli.options import build_config

    family = 6 if nodes.ipv6 else 4
    other = 4 if family == 6 else 6
    if args.ip_family is not None or not cluster.has_family(other):
        return []
    flags = argparse.Namespace(**{**vars(args), "ip_family": f"ipv{other}"})
    try:
        selections = parse_destination(node_set(cluster, build_config(flags, cluster)[0]), args.to, "dist")
    except InputError:  # --to names an address of this family, or a port the other proxier does not have
        return []
    names = list(dict.fromkeys(s.svc.name_string for s in selections))
    return [other_family_note(family, names, "has shares", "shows")] if names else []


HEADING = re.compile(r"^(\S.*)$|^  ((?:clusterIP|nodePort|externalIP|loadBalancer) .*)$")


def colour_text(text: str, con: Console) -> str:
    """The analysis' text with its headings (service ports, ways in) emphasised on a colour terminal."""
    from kubeproxy_sim.cli.output import plain_bars

    text = plain_bars(text, con)
    if not con.color:
        return text
    lines = []
    for line in text.split("\n"):
        match = HEADING.match(line)
        if match and match.group(1):
            line = con.paint(line, "bold")
        elif match:
            line = "  " + con.paint(match.group(2), "cyan")
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis.render import dist_json, dist_text
    from kubeproxy_sim.analysis.targets import packet_family
    from kubeproxy_sim.cli.options import load_inputs

    _check_counts(args)
    if args.plot is not None:
        from kubeproxy_sim.cli.plot import check_plot_path

        check_plot_path(args.plot)  # refuse a bad name or an unwritable place before the work
    with progress("loading objects"):
        inputs = load_inputs(args, family=packet_family(args.sources, args.to))
    args.ip_family = inputs.ip_family  # the proxier the packets meet, chosen: no note of the other one's shares
    report(inputs.diagnostics, args)
    from kubeproxy_sim.simulator.topology import phantom_nodes

    report(phantom_nodes(inputs.cluster, inputs.config.node_name), args)  # node names no Node object backs, as send's
    with progress("analysing service ports") as tick:
        dist, nodes = build_report(args, inputs, tick)
    data = dist_json(dist, nodes.order) if (args.output != "text" or args.plot) else None
    if data is not None and args.plot:
        from kubeproxy_sim.cli.plot import plot_dist

        with progress("drawing"):
            plot_dist(data, args.plot)
        print(f"kubeproxy-sim: wrote {args.plot}", file=sys.stderr)
    emit(data, args.output, text=lambda: colour_text(dist_text(dist), console(args)))
    return 1 if inputs.errors else 0
