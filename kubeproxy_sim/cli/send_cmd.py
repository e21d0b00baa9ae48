"""``kubeproxy-sim send``: connections through the simulated cluster, tallied per destination pod."""

from __future__ import annotations

import argparse
import json
import sys

from kubeproxy_sim.cli.options import add_input_flags

EXAMPLES = """examples:
  kubeproxy-sim send --scenario bootcamp --from external --to node/node1:31526 --count 1000
  kubeproxy-sim send --scenario bootcamp --from pod/default/kubernetes-bootcamp-855d5cc575-4lb7w \\
      --to kubernetes-bootcamp.default:8080 -o json
  kubeproxy-sim send -f objects.yaml --hosts hosts.txt --from pod/default/client --to my-externalname.default:443
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "send",
        help="send connections through the simulated cluster and count which pod answers",
        description="Simulate the whole cluster (every node's kube-proxy rules, conntrack and routes, the "
        "pods, cluster DNS, the load balancer and the outside) and make connections from a source to a "
        "destination: per destination pod the count, the share, the exact expected share and the source "
        "address the pod saw; failures with their reason.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--from", dest="source", required=True, metavar="SRC",
                        help="pod/NS/NAME, node/NAME, external (203.0.113.10) or external:IP")
    parser.add_argument("--to", dest="destination", required=True, metavar="DST",
                        help="IP:PORT, NAME.NS:PORT, NAME.NS.svc.cluster.local:PORT, node/NAME:NODEPORT, or a "
                        "LoadBalancer ingress IP:PORT")
    parser.add_argument("--proto", default="tcp", choices=["tcp", "udp", "sctp"], help="protocol (default tcp)")
    parser.add_argument("--count", type=int, default=100, metavar="N", help="connections (default 100)")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    parser.add_argument("--hosts", metavar="FILE", help="an /etc/hosts-style file: the outside hosts "
                        "(what ExternalName services point at)")
    parser.add_argument("--pcap", metavar="FILE", help="write every hop's packets to a pcap file")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text", help="output format")
    parser.set_defaults(func=run)


def read_hosts(path: str | None) -> tuple[tuple[str, str], ...]:
    from kubeproxy_sim.errors import Diagnostic, InputError
    from kubeproxy_sim.simulator.dns import parse_hosts

    if not path:
        return ()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read the hosts file: {exc.strerror}", file=path,
                                    field="--hosts")) from None
    return parse_hosts(text, path)


def build_simulator(args: argparse.Namespace):
    """Objects and the base config from the input flags, then the simulator (with --seed and --hosts)."""
    import random

    from kubeproxy_sim.cli.options import load_inputs
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.simulator.network import Simulator

    inputs = load_inputs(args)
    for diagnostic in inputs.diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)
    if inputs.errors:
        raise InputError(list(inputs.errors))
    return Simulator(inputs.cluster, inputs.config, rng=random.Random(getattr(args, "seed", 1)),
                     hosts=read_hosts(getattr(args, "hosts", None)))


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.simulator.send import render_text, send

    sim = build_simulator(args)
    result = send(sim, args.source, args.destination, proto=args.proto, count=args.count, seed=args.seed,
                  record=bool(args.pcap))
    if args.pcap:
        from kubeproxy_sim.simulator.pcap import write_pcap

        frames = write_pcap(args.pcap, result.hops)
        print(f"kubeproxy-sim: wrote {frames} packets to {args.pcap}", file=sys.stderr)
    if args.output == "json":
        sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(result))
    return 0
