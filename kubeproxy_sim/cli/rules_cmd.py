"""``kubeproxy-sim rules``: the iptables-restore input kube-proxy writes for one node."""

from __future__ import annotations

import argparse
import sys

from kubeproxy_sim.cli.options import Inputs, add_input_flags, load_inputs

EXAMPLES = """examples:
  kubeproxy-sim rules --scenario bootcamp
  kubeproxy-sim rules -f cluster.yaml --hostname-override node1 --cluster-cidr 10.244.0.0/16
  kubeproxy-sim rules -f manifests/ --node-ip 192.168.0.2/24 --nodeport-addresses 192.168.0.0/24 --full
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rules",
        help="print the iptables rules kube-proxy writes for one node",
        description="Print the iptables-restore input of one full kube-proxy sync (filter and nat tables), "
        "byte for byte as kube-proxy writes it, in upstream's canonical test order.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--full", action="store_true",
                        help="print the node's whole nat and filter tables as iptables-save shows them "
                        "(built-in chains, kube-proxy's jump rules, kube-proxy's chains)")
    parser.set_defaults(func=run)


def report(inputs: Inputs) -> None:
    for diagnostic in inputs.diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)


def rules_text(inputs: Inputs, *, full: bool) -> str:
    from kubeproxy_sim.netfilter.codec import render_ruleset
    from kubeproxy_sim.proxier import generate

    result = generate(inputs.cluster, inputs.config)
    if not full:
        return render_ruleset(result.ruleset)
    from kubeproxy_sim.netfilter.saveform import to_save_form
    from kubeproxy_sim.proxier.full import node_tables

    return render_ruleset(to_save_form(node_tables(result.ruleset, result.jumps)))


def run(args: argparse.Namespace) -> int:
    inputs = load_inputs(args)
    report(inputs)
    sys.stdout.write(rules_text(inputs, full=args.full))
    return 1 if inputs.errors else 0
