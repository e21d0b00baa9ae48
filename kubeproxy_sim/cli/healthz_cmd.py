"""``kubeproxy-sim healthz``: what a node's kube-proxy answers on a service's healthCheckNodePort."""

from __future__ import annotations

import argparse
import json
import sys

from kubeproxy_sim.cli.options import add_input_flags
from kubeproxy_sim.errors import Diagnostic, InputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "healthz",
        help="kube-proxy's health check answer for a service on a node",
        description="Answer as kube-proxy's service health server on the node would: HTTP 200 with the count "
        "of the node's local ready endpoints when it has any, 503 otherwise (LoadBalancer services with "
        "externalTrafficPolicy Local only).",
        epilog="example:\n  kubeproxy-sim healthz --scenario upstream-health-check-node-port --node test-node ns1/svc1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--node", required=True, metavar="NAME", help="the node whose kube-proxy answers")
    parser.add_argument("service", metavar="NS/SERVICE", help="the service")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text", help="output format")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.cli.options import load_inputs
    from kubeproxy_sim.simulator.health import health_check_port, service_health
    from kubeproxy_sim.simulator.topology import plan_nodes

    inputs = load_inputs(args)
    for diagnostic in inputs.diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)
    namespace, _, name = args.service.rpartition("/")
    service = next((s for s in inputs.cluster.services if s.namespace == (namespace or "default")
                    and s.name == name), None)
    if service is None:
        raise InputError(Diagnostic(f"no Service {args.service!r} in the objects; expected NAMESPACE/NAME",
                                    field="SERVICE"))
    node = next((n for n in plan_nodes(inputs.cluster, inputs.config) if n.name == args.node), None)
    if node is None:
        raise InputError(Diagnostic(f"no node {args.node!r}; expected a node the objects name", field="--node"))
    if not health_check_port(service, node.config):
        raise InputError(Diagnostic("kube-proxy serves no health check for it; expected a LoadBalancer service "
                                    "with externalTrafficPolicy Local and a healthCheckNodePort",
                                    kind="Service", object=service.key, field="spec.healthCheckNodePort"))
    response = service_health(inputs.cluster, node.config, service)
    if args.output == "json":
        sys.stdout.write(json.dumps(response.as_json(), indent=2) + "\n")
    else:
        sys.stdout.write(response.render_http())
    return 0
