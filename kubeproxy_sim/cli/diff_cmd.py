"""``kubeproxy-sim diff``: what a change of the objects would do, before it is made.

BEFORE is ``-f``/``--scenario``; AFTER is ``--against PATH`` (repeatable) or
``--against-scenario NAME``. Both are read with the same node flags.
"""

from __future__ import annotations

import argparse
import json
import sys

from kubeproxy_sim.cli.options import add_input_flags
from kubeproxy_sim.errors import Diagnostic, InputError

EXAMPLES = """examples:
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
        "refused (REJECT without endpoints, DROP for a Local policy without local endpoints).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    after = parser.add_argument_group("the state after")
    after.add_argument("--against", action="append", default=[], metavar="PATH",
                       help="the objects after the change: a file or directory (repeatable)")
    after.add_argument("--against-scenario", metavar="NAME", help="a built-in scenario's objects as the state after")
    what = parser.add_argument_group("what to compare")
    what.add_argument("--to", metavar="DST", help="only this service (same forms as dist --to)")
    what.add_argument("--node", metavar="NAME", help="the node whose rules are compared (default: "
                      "--hostname-override, else the first node)")
    what.add_argument("--all", action="store_true", help="list unchanged service ports too")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text", help="output format")
    parser.set_defaults(func=run)


def _after_paths(args: argparse.Namespace) -> list[str]:
    from kubeproxy_sim.cli.options import scenario_dir

    paths = list(args.against)
    if args.against_scenario:
        paths.append(str(scenario_dir(args.against_scenario) / "objects.yaml"))
    if not paths:
        raise InputError(Diagnostic("no state to compare with; expected --against PATH or --against-scenario NAME",
                                    field="--against"))
    return paths


def _only(nodes_before, nodes_after, text: str | None):
    """The service-port keys --to names, in either state (a service may exist in only one)."""
    from kubeproxy_sim.analysis.targets import parse_destination

    if text is None:
        return None
    keys = set()
    errors = []
    for nodes in (nodes_before, nodes_after):
        try:
            keys |= {s.svc.key for s in parse_destination(nodes, text)}
        except InputError as exc:
            errors.append(exc)
    if not keys and errors:
        raise errors[0]
    return keys


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis.diff import diff
    from kubeproxy_sim.analysis.diffrender import diff_json, diff_text
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.cli.options import build_config, load_inputs
    from kubeproxy_sim.objects import load_paths

    paths = _after_paths(args)
    before = load_inputs(args)
    loaded = load_paths(paths)
    config, config_diags = build_config(args, loaded.cluster)
    diagnostics = [*before.diagnostics, *loaded.diagnostics, *config_diags]
    for diagnostic in diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)
    nodes_before = node_set(before.cluster, before.config)
    nodes_after = node_set(loaded.cluster, config)
    node = args.node or before.config.node_name
    if node not in nodes_before.configs and node not in nodes_after.configs:
        raise InputError(Diagnostic(f"no node {node!r}; expected one of {', '.join(nodes_before.order)}",
                                    field="--node"))
    report = diff(nodes_before, nodes_after, node, _only(nodes_before, nodes_after, args.to), args.all)
    if args.output == "json":
        sys.stdout.write(json.dumps(diff_json(report), indent=2) + "\n")
    else:
        sys.stdout.write(diff_text(report))
    errors = [d for d in diagnostics if getattr(d.severity, "value", "") == "error"]
    return 1 if errors else 0
