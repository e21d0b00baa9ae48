"""``kubeproxy-sim rules``: the iptables-restore input kube-proxy writes for one node."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kubeproxy_sim.cli.options import Inputs, add_input_flags
from kubeproxy_sim.cli.output import add_output_flags, emit, progress
from kubeproxy_sim.cli.output import report as report_diagnostics
from kubeproxy_sim.errors import Severity

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.model import Chain, Ruleset
    from kubeproxy_sim.netfilter.saveform import SavedTables
    from kubeproxy_sim.proxier.sync import SyncResult

EXAMPLES = """examples:
  kubeproxy-sim rules --scenario bootcamp
  kubeproxy-sim rules --scenario bootcamp --full -o json
  kubeproxy-sim rules -f cluster.yaml --hostname-override node1 --cluster-cidr 10.244.0.0/16
  kubeproxy-sim rules -f manifests/ --node-ip 192.168.0.2/24 --nodeport-addresses 192.168.0.0/24 --full
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rules",
        help="print the iptables rules kube-proxy writes for one node",
        description="Print the iptables-restore input of one full kube-proxy sync (filter and nat tables), "
        "byte for byte as upstream's tests expect it: kube-proxy's lines, in the order the tests list them "
        "(kube-proxy itself writes them in its own order, the mark padded as 0x00004000). -o json|yaml gives the same "
        "rules as data: {tables: [{name, chains: [{name, policy, rules: [\"-A CHAIN ...\", ...]}]}]} (policy is "
        "null for a chain kube-proxy creates, the built-in chain's policy with --full).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--full", action="store_true",
                        help="print the node's whole nat and filter tables in iptables-save's format "
                        "(built-in chains, kube-proxy's jump rules, kube-proxy's chains; without the dated "
                        "comment lines iptables-save writes)")
    add_output_flags(parser.add_argument_group("output"))
    parser.set_defaults(func=run, quick_exit=True)  # leaves nothing to clean up: see main._exit_now


def node_ruleset(inputs: Inputs, *, full: bool) -> Ruleset | SavedTables:
    """The restore input kube-proxy writes, or (full) the node's whole tables as iptables-save shows them."""
    from kubeproxy_sim.proxier import generate

    return sync_ruleset(generate(inputs.cluster, inputs.config), full=full)


def sync_ruleset(result: SyncResult, *, full: bool) -> Ruleset | SavedTables:
    """A sync's restore input, or (full) the node's whole tables after it as iptables-save prints them (its
    lines only: nothing reads the saved rules)."""
    if not full:
        return result.ruleset
    from kubeproxy_sim.netfilter.saveform import save_lines
    from kubeproxy_sim.proxier.full import node_tables

    return save_lines(node_tables(result.ruleset, result.jumps))


def render_rules(rules: Ruleset | SavedTables) -> str:
    """Restore input in kube-proxy's text; the full tables (:func:`sync_ruleset`'s lines) in iptables-save's, its
    quoting included. The type decides which."""
    if isinstance(rules, tuple):
        from kubeproxy_sim.netfilter.saveform import render_saved

        return render_saved(rules)
    from kubeproxy_sim.netfilter.render import render_ruleset

    return render_ruleset(rules)


def rules_text(inputs: Inputs, *, full: bool) -> str:
    return render_rules(node_ruleset(inputs, full=full))


def rules_data(rules: Ruleset | SavedTables) -> dict[str, object]:
    """The public ``-o json|yaml`` form: tables, chains and rule lines exactly as the text prints them, in its
    order (the full tables: iptables-save's lines, with its quoting and spacing)."""
    if isinstance(rules, tuple):
        return {"tables": [
            {"name": table.name,
             "chains": [{"name": chain.name, "policy": chain.policy, "rules": list(chain.lines)}
                        for chain in table.chains]}
            for table in rules
        ]}
    return {"tables": [
        {"name": table.name,
         "chains": [{"name": chain.name, "policy": chain.policy, "rules": _rule_lines(chain)}
                    for chain in table.chains]}
        for table in rules.tables
    ]}


def _rule_lines(chain: Chain) -> list[str]:
    """Each rule as ``-A CHAIN SPEC`` (``Rule.text``), from the spec texts when the chain keeps them:
    a generated chain's rule objects are otherwise built only to be printed."""
    specs = chain.specs
    if specs is None:
        return [rule.text() for rule in chain.rules]
    bare = f"-A {chain.name}"
    head = bare + " "
    return [head + spec if spec else bare for spec in specs]


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.cli.split_sync import load_and_generate

    text_only = args.output == "text" and not args.full
    with progress("loading objects and generating rules"):
        synced = load_and_generate(args, text=text_only)
        ruleset = None
        if not text_only:
            assert synced.result is not None  # built whenever the text alone is not what was asked for
            ruleset = sync_ruleset(synced.result, full=args.full)
    report_diagnostics(synced.diagnostics, args)
    if ruleset is None:
        synced.write_text(sys.stdout)  # (in parts: see there)
    else:
        emit(rules_data(ruleset) if args.output != "text" else None, args.output,
             text=lambda: render_rules(ruleset))
    return 1 if any(d.severity is Severity.ERROR for d in synced.diagnostics) else 0
