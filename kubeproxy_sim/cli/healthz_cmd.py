"""``kubeproxy-sim healthz``: what a node's kube-proxy answers on a service's healthCheckNodePort."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from kubeproxy_sim.cli.options import add_input_flags
from kubeproxy_sim.cli.output import Console, add_output_flags, console, emit, progress, report
from kubeproxy_sim.errors import Diagnostic, InputError, UsageError, one_of, printable, shortened

EXAMPLES = """examples:
  kubeproxy-sim healthz --scenario upstream-external-traffic-policy-local --node test-node ns1/svc1
  kubeproxy-sim healthz --scenario upstream-health-check-node-port --node test-node ns1/svc1 -o json
  kubeproxy-sim healthz -f cluster.yaml --node node2 default/my-lb -o yaml
  kubeproxy-sim healthz -f cluster.yaml --node node2 my-lb.default

200 carries the count of the node's local ready endpoints; 503 tells the load balancer to skip the node.
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "healthz",
        help="kube-proxy's health check answer for a service on a node",
        description="Answer as kube-proxy's service health server on the node would: HTTP 200 with the count "
        "of the node's local ready endpoints when it has any, 503 otherwise (LoadBalancer services with "
        "externalTrafficPolicy Local only).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--node", metavar="NAME", help="the node whose kube-proxy answers (default: "
                        "--hostname-override, the node the other commands' rules are of, else the first node)")
    parser.add_argument("service", metavar=SERVICE_ARG, help="the service: NS/NAME, or its DNS name as dist's, "
                        "send's and diff's --to read it, without a port: NAME.NS, NAME.NS.svc.cluster.local, or "
                        "a bare NAME (namespace default's)")
    add_output_flags(parser.add_argument_group("output"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, clock: Callable[[], float] = time.time) -> int:
    """``clock``: Unix seconds, for the answer's Date header."""
    from kubeproxy_sim.cli.options import load_inputs
    from kubeproxy_sim.simulator.health import health_check_port, service_health
    from kubeproxy_sim.simulator.topology import plan_nodes

    wanted_service = service_target(args.service)
    check_one_node(args)
    with progress("loading objects"):
        inputs = load_inputs(args)
    report(inputs.diagnostics, args)
    if wanted_service is None:  # a DNS name, read as dist and send read one (a bare NAME is default's)
        from kubeproxy_sim.analysis.targets import service_named

        wanted_service = service_named(inputs.cluster, args.service)
    service = next((s for s in inputs.cluster.services if (s.namespace, s.name) == wanted_service), None)
    if service is None:
        known = one_of(args.service, (s.key for s in inputs.cluster.services), "services")
        where = "" if "/" in args.service or "." in args.service else " (a bare NAME is namespace default's)"
        raise InputError(Diagnostic(f"no Service {printable(shortened(args.service))!r} in the objects{where}; "
                                    f"expected one of {known}", field=SERVICE_ARG))
    nodes = plan_nodes(inputs.cluster, inputs.config)
    wanted = args.node or inputs.config.node_name  # as diff's --node: the --hostname-override node by default
    node = next((n for n in nodes if n.name == wanted), None)
    if node is None:
        known = one_of(wanted, (n.name for n in nodes), "nodes")
        raise InputError(Diagnostic(f"no node {printable(shortened(wanted))!r}; expected one of {known}",
                                    field="--node" if args.node else "--hostname-override"))
    if not health_check_port(service, node.config):
        raise InputError(Diagnostic("kube-proxy serves no health check for it; expected a LoadBalancer service "
                                    "with externalTrafficPolicy Local and a healthCheckNodePort",
                                    kind="Service", object=service.key, field="spec.healthCheckNodePort"))
    response = service_health(inputs.cluster, node.config, service).sent(clock())
    emit(response.as_json() if args.output != "text" else None, args.output,
         text=lambda: http_text(response.render_http(), response.status, console(args)))
    return 0


def check_one_node(args: argparse.Namespace) -> None:
    """--node and --hostname-override on the command line naming two nodes is a usage error: the answer is one
    node's, and taking either silently would leave the other looking used."""
    from kubeproxy_sim.cli.options import normal_node_name

    other = normal_node_name(args.hostname_override)
    if args.node and other and other != args.node:
        raise UsageError(Diagnostic(f"--node {printable(shortened(args.node))!r} and --hostname-override "
                                    f"{printable(shortened(args.hostname_override))!r} name two nodes; expected one "
                                    "of them (healthz answers for one node: --node, which defaults to "
                                    "--hostname-override)", field="--node"))


SERVICE_ARG = "SERVICE"  # the argument as the usage line names it
SERVICE_FORMS = "NS/NAME or NAME.NS (NAME.NS.svc.cluster.local, or a bare NAME: namespace default's)"


def service_target(text: str) -> tuple[str, str] | None:
    """NS/NAME's namespace and name; None for a DNS name (NAME.NS, NAME.NS.svc.cluster.local, a bare NAME), which
    is looked up in the objects as dist's, send's and diff's ``--to`` look one up (the cluster DNS's search path of
    namespace default). Any other form (a port after ':', an empty label, two '/') is a usage error (exit 2),
    before the objects are read."""
    if "/" in text:
        namespace, _, name = text.partition("/")
        if namespace and name and "/" not in name:
            return namespace, name
        why = "not NS/NAME: a namespace and a Service's name, one each side of one '/'"
    elif ":" in text:
        why = "healthz answers for a Service, not one of its ports"
    elif not text.removesuffix(".") or "" in text.removesuffix(".").split(".") or text.strip() != text:
        why = "not a Service's name"
    else:
        return None
    raise UsageError(Diagnostic(f"{printable(shortened(text))!r}: {why}; expected {SERVICE_FORMS}",
                                field=SERVICE_ARG))


def http_text(text: str, status: int, con: Console) -> str:
    """The HTTP answer as the health server sends it; on a colour terminal its status line says healthy or not."""
    head, sep, rest = text.partition("\n")
    return con.paint(head, "green" if status == 200 else "red", "bold") + sep + rest
