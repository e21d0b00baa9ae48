"""``kubeproxy-sim healthz``: what a node's kube-proxy answers on a service's healthCheckNodePort."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from kubeproxy_sim.cli.options import add_input_flags
from kubeproxy_sim.cli.output import Console, add_output_flags, console, emit, progress, report
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError, one_of, printable, shortened

if TYPE_CHECKING:
    from kubeproxy_sim.cli.options import Inputs
    from kubeproxy_sim.objects.model import Service
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.simulator.health import HealthResponse
    from kubeproxy_sim.simulator.topology import SimNode

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
    from kubeproxy_sim.simulator.topology import plan_nodes

    wanted_service = service_target(args.service)
    check_one_node(args)
    with progress("loading objects"):
        inputs = load_inputs(args)
    report(answer_diagnostics(inputs.diagnostics), args)
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
    answers = family_answers(args, inputs, node, service)
    if not answers:
        raise InputError(Diagnostic("kube-proxy serves no health check for it; expected a LoadBalancer service "
                                    "with externalTrafficPolicy Local and a healthCheckNodePort",
                                    kind="Service", object=service.key, field="spec.healthCheckNodePort"))
    now = clock()
    sent = [a._replace(response=a.response.sent(now)) for a in answers]
    report(family_notes(sent, service, node.config.ipv6), args)
    emit(answer_json(sent) if args.output != "text" else None, args.output,
         text=lambda: http_text(sent[0].response.render_http(), sent[0].response.status, console(args)))
    return 0


RULES_ONLY_NOTES = frozenset({"--detect-local-mode"})
"""The settings whose notes are about kube-proxy's iptables rules alone (a detect-local mode with nothing to detect
with: masquerade and short-circuit rules left out), which the service health server never reads: its answer is
the node's local ready endpoints, on the addresses --nodeport-addresses gives, whatever the rules are."""


def answer_diagnostics(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """The input's messages that can bear on the health answer: all but :data:`RULES_ONLY_NOTES`' notes (their
    warnings and errors stay, as a setting kube-proxy refuses keeps it from starting)."""
    return [d for d in diagnostics if not (d.severity is Severity.NOTE and d.field in RULES_ONLY_NOTES)]


class FamilyAnswer(NamedTuple):
    """One family's proxier's health server and its answer: a dual-stack node runs a proxier per family, each
    with its own service health server on the service's healthCheckNodePort (iptables NewProxier makes one from
    the family's --nodeport-addresses)."""

    family: int
    config: ProxyConfig
    response: HealthResponse


def family_answers(args: argparse.Namespace, inputs: Inputs, node: SimNode, service: Service) -> list[FamilyAnswer]:
    """The answer of each family's proxier that serves the service's health check, the one simulated first (the
    primary family's, or --ip-family's). The other family's proxier runs when the objects give it something to
    proxy, as for the other commands (:meth:`~kubeproxy_sim.objects.model.Cluster.has_family`); a service of that
    family alone is answered by it alone."""
    from kubeproxy_sim.simulator.health import health_check_port, service_health

    family = 6 if node.config.ipv6 else 4
    configs = [(family, node.config)]
    other = other_family_config(args, inputs, node.name, 10 - family)
    if other is not None:
        configs.append((10 - family, other))
    return [FamilyAnswer(f, config, service_health(inputs.cluster, config, service))
            for f, config in configs if health_check_port(service, config)]


def other_family_config(args: argparse.Namespace, inputs: Inputs, node_name: str, family: int) -> ProxyConfig | None:
    """The node's config for its ``family`` proxier, built from the same flags, as load_inputs builds the other
    family's (its diagnostics were said of the simulated one's already); None when the objects give that proxier
    nothing to proxy."""
    from kubeproxy_sim.cli.options import build_config
    from kubeproxy_sim.simulator.topology import plan_nodes

    if not inputs.cluster.has_family(family):
        return None
    config, _ = build_config(argparse.Namespace(**{**vars(args), "ip_family": f"ipv{family}"}), inputs.cluster)
    return next((n.config for n in plan_nodes(inputs.cluster, config) if n.name == node_name), None)


def wildcard_families(answers: Sequence[FamilyAnswer]) -> list[int]:
    """The families whose server listens on every address: a proxier whose --nodeport-addresses name no CIDR of its
    family listens on "0.0.0.0:PORT", which Go opens as [::]:PORT, taking IPv4 and IPv6 alike
    (service_health.go's newServiceHealthServer; kubernetes#114702, fixed after the reference commit). With one
    such server on a dual-stack node the two ask for the port on overlapping addresses: the first proxier to sync
    gets it, and the other's listen fails (address already in use, a FailedToStartServiceHealthcheck event)."""
    from kubeproxy_sim.proxier.rules.context import nodeport_destinations

    return [a.family for a in answers if nodeport_destinations(a.config).match_all]


def family_notes(answers: Sequence[FamilyAnswer], service: Service, primary_ipv6: bool) -> list[Diagnostic]:
    """What the answer printed leaves out on a dual-stack node: whose answer it is, when the other family's server
    answers otherwise (or the service is of the other family alone), and which server a probe then meets.
    ``primary_ipv6``: whether the family simulated (the primary one, or --ip-family's) is IPv6."""
    from kubeproxy_sim.simulator.health import health_check_port

    first = answers[0]
    name = f"IPv{first.family}"
    if len(answers) == 1:
        if first.family == (6 if primary_ipv6 else 4):
            return []
        simulated = 6 if primary_ipv6 else 4
        return [Diagnostic(f"the {name} proxier's health server answers: the service has no IPv{simulated} cluster "
                           f"IP, so the IPv{simulated} proxier serves no health check for it",
                           kind="Service", object=service.key, severity=Severity.NOTE)]
    other = answers[1]
    if (other.response.status, other.response.local_endpoints) == (first.response.status,
                                                                   first.response.local_endpoints):
        return []
    said = (f"this is the {name} proxier's health server; the IPv{other.family} proxier's answers "
            f"{other.response.status} with localEndpoints {other.response.local_endpoints} (healthz --ip-family "
            f"ipv{other.family} prints it)")
    wild = wildcard_families(answers)
    if wild:
        which = "both" if len(wild) == 2 else f"the IPv{wild[0]} one"
        said += (f"; they ask for port {health_check_port(service, first.config)} on overlapping addresses ({which} "
                 "on every address of both families: --nodeport-addresses names no CIDR of its family), so only "
                 "the first proxier to sync listens, answering with its own family's count, and the other's listen "
                 "fails (address already in use)")
        if len(wild) == 1:
            # the other server listens on its own family's node addresses alone (GetNodeIPs of its CIDRs): first
            # to sync, it leaves the wildcard family's addresses with no server (kubernetes#122899's restart)
            narrow = 10 - wild[0]
            said += (f"; the IPv{narrow} one first, a probe to an IPv{wild[0]} node address finds no server "
                     "(connection refused)")
    else:
        said += "; each answers the probes to its own family's node addresses"
    return [Diagnostic(said, kind="Service", object=service.key, severity=Severity.NOTE)]


def answer_json(answers: Sequence[FamilyAnswer]) -> dict[str, object]:
    """The simulated family's answer as before, with its ``ipFamily``; on a dual-stack node the other family's
    server's answer under ``otherFamily`` and whether they ask for the port on overlapping addresses, so that only
    the first proxier to sync gets it (``portConflict``)."""
    first = answers[0]
    out: dict[str, object] = {**first.response.as_json(), "ipFamily": f"IPv{first.family}"}
    if len(answers) == 2:
        out["otherFamily"] = {**answers[1].response.as_json(), "ipFamily": f"IPv{answers[1].family}"}
        out["portConflict"] = bool(wildcard_families(answers))
    return out


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
