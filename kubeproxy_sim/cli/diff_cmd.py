"""``kubeproxy-sim diff``: what a change of the objects would do, before it is made.

BEFORE is ``-f``/``--scenario``; AFTER is ``--against PATH`` (repeatable) or
``--against-scenario NAME``. Both are read with the same node flags.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kubeproxy_sim.cli.options import add_input_flags, scenario_name
from kubeproxy_sim.cli.output import Console, add_output_flags, console, emit, progress, report
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError, one_of

if TYPE_CHECKING:  # (the loader is imported when the command runs)
    from kubeproxy_sim.objects.load import PathNames

EXAMPLES = """examples:
  kubeproxy-sim diff --scenario upstream-internal-traffic-policy-local-and-there-is-one-local-endpoint \\
      --against-scenario upstream-internal-traffic-policy-local-and-there-are-no-local-endpoints
  kubeproxy-sim diff --scenario upstream-internal-traffic-policy-cluster \\
      --against-scenario upstream-internal-traffic-policy-local-and-there-is-one-local-endpoint -o yaml
  kubeproxy-sim diff -f before.yaml --against after.yaml
  kubeproxy-sim diff --scenario bootcamp --against scaled.yaml --to default/kubernetes-bootcamp -o json
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "diff",
        help="what-if: how rules, shares and open connections change between two cluster states",
        description="Compare two cluster states service port by service port: the rules added and removed "
        "on a node, endpoints gained and lost, the exact shares before and after, which open connections "
        "keep their backend (conntrack) and which are reset or black-holed, and where new connections are "
        "refused (REJECT without endpoints; DROP for a Local policy without local endpoints, and for a client "
        "outside loadBalancerSourceRanges, by a node's rules or by an ipMode Proxy load balancer itself).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    after = parser.add_argument_group("the state after")
    after.add_argument("--against", "-f2", dest="against", action="append", default=[], metavar="PATH",
                       help="the objects after the change: a file or directory (repeatable; - for standard "
                       "input)")
    after.add_argument("--against-scenario", metavar="NAME", type=scenario_name,
                       help="a built-in scenario's objects as the state after")
    what = parser.add_argument_group("what to compare")
    what.add_argument("--to", metavar="DST", help="only this service (same forms as dist --to)")
    what.add_argument("--node", metavar="NAME", help="the node whose rules are compared (default: "
                      "--hostname-override, else the first node)")
    what.add_argument("--all", action="store_true", help="list unchanged service ports too")
    add_output_flags(parser.add_argument_group("output"))
    parser.set_defaults(func=run)


def _after_paths(args: argparse.Namespace) -> tuple[list[str], PathNames]:
    """The after state's paths, and its scenario's objects.yaml named by --against-scenario (what
    options.input_paths and input_names give)."""
    from kubeproxy_sim.cli.options import require_paths, scenario_dir, scenario_objects, stdin_once

    stdin_once(("-f", args.filename), ("--against", args.against))  # (before either is read)
    paths = require_paths(list(args.against), "--against", recursive=args.recursive)
    named: PathNames = {}
    if args.against_scenario:
        flag = "--against-scenario"
        paths.append(str(scenario_dir(args.against_scenario, flag) / "objects.yaml"))
        named = scenario_objects(paths[-1], flag)
    if not paths:
        raise UsageError(Diagnostic("no state to compare with; expected --against PATH or --against-scenario NAME",
                                    field="--against"))
    return paths, named


def _only(nodes_before, nodes_after, text: str | None):
    """The service-port keys --to names, in either state (a service may exist in only one)."""
    from kubeproxy_sim.analysis.targets import parse_destination

    if text is None:
        return None
    keys = set()
    errors = []
    for nodes in (nodes_before, nodes_after):
        try:
            keys |= {s.svc.key for s in parse_destination(nodes, text, "diff")}
        except InputError as exc:
            errors.append(exc)
    if not keys and errors:
        raise errors[0]
    return keys


def _other_family_note(args: argparse.Namespace, before, after, node: str, family: int) -> list[Diagnostic]:
    """Dual-stack objects compared without --ip-family: the node's primary family's proxier is compared, as
    upstream runs one proxier per family; a note when the other family's proxier sees changes too (they are not
    shown), naming the --ip-family that shows them."""
    from kubeproxy_sim.analysis.diff import diff
    from kubeproxy_sim.analysis.nodes import node_set, other_family_note
    from kubeproxy_sim.cli.options import build_config

    other = 4 if family == 6 else 6
    if not (before.has_family(other) or after.has_family(other)):
        return []
    flags = argparse.Namespace(**{**vars(args), "ip_family": f"ipv{other}"})
    nodes_before = node_set(before, build_config(flags, before)[0], running_only=True)  # (messages: the other's)
    nodes_after = node_set(after, build_config(flags, after)[0], running_only=True)
    try:
        only = _only(nodes_before, nodes_after, args.to)
    except InputError:  # --to names an address of this family only
        return []
    with progress(f"comparing the IPv{other} proxier"):
        result = diff(nodes_before, nodes_after, node, only)
    if not (result.ports or result.other_added or result.other_removed):
        return []
    return [Diagnostic(other_family_note(family, [p.name for p in result.ports], "sees changes", "compares"),
                       field="--ip-family", severity=Severity.NOTE)]


def colour_text(text: str, con: Console) -> str:
    """The comparison's text with added rules green, removed ones red and service ports bold, on a terminal."""
    from kubeproxy_sim.cli.output import plain_bars

    text = plain_bars(text, con)
    if not con.color:
        return text
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("+ "):
            line = con.paint(line, "green")
        elif stripped.startswith("- "):
            line = con.paint(line, "red")
        elif line and not line.startswith(" "):
            line = con.paint(line, "bold")
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis.diff import diff
    from kubeproxy_sim.analysis.diffrender import diff_json, diff_text
    from kubeproxy_sim.analysis.nodes import node_set, phantom_nodes
    from kubeproxy_sim.analysis.targets import packet_family
    from kubeproxy_sim.cli.options import build_config, load_inputs
    from kubeproxy_sim.objects import load_paths

    paths, named = _after_paths(args)
    with progress("loading objects"):
        before = load_inputs(args, family=packet_family(None, args.to))
        loaded = load_paths(paths, flag="--against", named=named)
    args.ip_family = before.ip_family  # the after state's proxier is the before state's (the packet's, say)
    config, config_diags = build_config(args, loaded.cluster)
    # Both states are read with the same node flags, and often from the same files: a message both give is one
    # (a pod on a node no Node object has, in both states: said once, of the before state's file)
    phantoms = {(d.object, d.field, d.message): d for d in (*phantom_nodes(loaded.cluster, config.node_name),
                                                            *phantom_nodes(before.cluster, before.config.node_name))}
    diagnostics = list({str(d): d for d in (*before.diagnostics, *loaded.diagnostics, *config_diags,
                                            *phantoms.values())}.values())
    report(diagnostics, args)
    # the nodes a kube-proxy runs on: a pod's nodeName no Node object has is no node (phantom_nodes' note)
    nodes_before = node_set(before.cluster, before.config, running_only=True)
    nodes_after = node_set(loaded.cluster, config, running_only=True)
    # the before state's node; a before state without Node objects (empty, say) names none: the after state's
    node = args.node or (before.config.node_name if before.cluster.nodes or not loaded.cluster.nodes
                         else config.node_name)
    if node not in nodes_before.configs and node not in nodes_after.configs:
        raise InputError(Diagnostic(f"no node {node!r}; expected one of {one_of(node, nodes_before.order, 'nodes')}",
                                    field="--node"))
    with progress("comparing"):
        result = diff(nodes_before, nodes_after, node, _only(nodes_before, nodes_after, args.to), args.all)
    if args.ip_family is None and before.cluster != loaded.cluster:
        report(_other_family_note(args, before.cluster, loaded.cluster, node, 6 if before.config.ipv6 else 4), args)
    emit(diff_json(result) if args.output != "text" else None, args.output,
         text=lambda: colour_text(diff_text(result), console(args)))
    errors = [d for d in diagnostics if getattr(d.severity, "value", "") == "error"]
    return 1 if errors else 0
