"""``kubeproxy-sim graph``: a node's chains as a picture (SVG, PNG) or as dot / Mermaid text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kubeproxy_sim.cli.options import add_input_flags, idle_with_dump, parse_int
from kubeproxy_sim.cli.output import add_color_flag, check_writable, progress, report
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError
from kubeproxy_sim.proxier.full import as_node_holds_it

if TYPE_CHECKING:
    from kubeproxy_sim.graph.build import Cite
    from kubeproxy_sim.graph.model import Graph
    from kubeproxy_sim.graph.scope import Selection, ServiceRef
    from kubeproxy_sim.netfilter.model import Ruleset
    from kubeproxy_sim.objects.model import Cluster

FORMATS = ("svg", "png", "dot", "mermaid")
SUFFIX_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
                  ".mermaid": "mermaid"}
EXAMPLES = """examples:
  kubeproxy-sim graph --scenario bootcamp -o bootcamp.svg
  kubeproxy-sim graph --scenario bootcamp --service default/kubernetes-bootcamp --format mermaid
  kubeproxy-sim graph --scenario upstream-overall-iptables-rules --service ns5/svc5:p80 -o svc5.png
  kubeproxy-sim graph --rules node.rules --table nat --max-endpoints 4 --format dot | dot -Tpdf > nat.pdf
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "graph",
        help="draw a node's chains as a graph (SVG, PNG, dot or Mermaid)",
        description="Draw the chains a packet can take on one node: built-in hooks -> KUBE-SERVICES -> "
        "service, external and firewall chains -> endpoint chains -> DNAT and the other verdicts. Edges are "
        "labelled with the rule's match, statistic shares as percentages of the chain's traffic, and "
        "session affinity. Input: objects (-f/--scenario with the node flags) or a dump (--rules).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--rules", metavar="DUMP",
                        help="an iptables-save dump (or kube-proxy's iptables-restore input) instead of objects; "
                        "- reads it from standard input")
    scope = parser.add_argument_group("what to draw")
    scope.add_argument("--service", metavar="NS/NAME[:PORT]",
                       help="one service port's path: its rules in the shared chains and all they lead to "
                       "(PORT: the port's name, or its number: every port with that number)")
    scope.add_argument("--table", choices=["nat", "filter"], help="one table only (default: nat and filter)")
    scope.add_argument("--max-endpoints", type=parse_int, default=8, metavar="N",
                       help="fold a service's endpoint chains beyond the first N into one node "
                       "(default 8; 0: draw them all)")
    out = parser.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS,
                     help="svg or png (need Graphviz), dot or mermaid text (default: from -o's suffix, else dot)")
    out.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output (- is standard "
                     "output)")
    add_color_flag(out)
    parser.set_defaults(func=run)


def output_format(args: argparse.Namespace) -> str:
    """--format, else the output file's suffix, else dot text. A --format other than the one the suffix names is
    a usage error: the file would hold what its name says it does not (SVG text in x.png)."""
    suffix = Path(args.output).suffix.lower() if args.output else ""
    if args.format:
        named = SUFFIX_FORMATS.get(suffix)
        if named is not None and named != args.format:
            raise UsageError(Diagnostic(f"{args.output!r} names a {named} file, but --format is {args.format}; "
                                        f"expected a file ending in {_suffixes(args.format)}, or no --format (the "
                                        "format is then the suffix's)", field="-o"))
        return args.format
    if args.output:
        if suffix not in SUFFIX_FORMATS:
            # a file name of the wrong shape for -o (README's exit statuses: a usage error, as the mismatch above)
            raise UsageError(Diagnostic(f"cannot tell the format from {args.output!r}; expected --format "
                                        f"{'|'.join(FORMATS)} or a file ending in "
                                        f"{', '.join(SUFFIX_FORMATS)}", field="-o"))
        return SUFFIX_FORMATS[suffix]
    return "dot"


def _suffixes(fmt: str) -> str:
    return " or ".join(suffix for suffix, named in SUFFIX_FORMATS.items() if named == fmt)


def load_rules(args: argparse.Namespace) -> tuple[Ruleset, str, bool, Cite | None, Cluster | None]:
    """(ruleset, title, had errors, how its rules' lines read, the objects): from a dump (read once: its tooltips
    quote the lines parsed; no objects), or generated from the objects for one node (no rule read from a line)."""
    if args.rules:
        if args.filename or args.scenario:
            raise UsageError(Diagnostic("both a dump and objects given; expected --rules DUMP or -f/--scenario, "
                                        "not both", field="--rules"))
        from kubeproxy_sim.netfilter.codec import parse_ruleset, partial_input
        from kubeproxy_sim.netfilter.dumpfile import dump_lines, dump_name, read_dump_text

        text = read_dump_text(args.rules)  # "-": standard input
        ruleset = parse_ruleset(text, file=dump_name(args.rules))
        report(idle_with_dump(args, family=6 if ruleset.ipv6 else 4), args)  # --node-ip too: nothing reads it
        partial = partial_input(ruleset, dump_name(args.rules), "they are drawn empty, marked (not declared); the "
                                "node's iptables-save output draws them whole", Severity.WARNING)
        if partial:  # drawn as it is, those chains as boxes '(not declared)': their rules are on the node
            report([partial], args)
        return as_node_holds_it(ruleset), Path(dump_name(args.rules)).name, False, dump_lines(text), None
    if not args.filename and not args.scenario:
        raise UsageError(Diagnostic("nothing to draw; expected --rules DUMP, -f PATH or --scenario NAME",
                                    field="--rules"))
    from kubeproxy_sim.cli.options import load_node_rules

    with progress("loading objects and generating rules"):
        node_rules = load_node_rules(args)
    from kubeproxy_sim.cli.load_notes import other_family_note

    inputs = node_rules.inputs
    report([*inputs.diagnostics, *other_family_note(inputs.cluster, inputs.config, inputs.ip_family)], args)
    errors = bool(node_rules.inputs.errors)
    return node_rules.ruleset, f"node {node_rules.config.node_name}", errors, None, node_rules.inputs.cluster


def build(args: argparse.Namespace, ruleset: Ruleset, title: str, service: ServiceRef | None,
          cite: Cite | None = None, cluster: Cluster | None = None) -> Graph:
    """The graph the flags ask for: tables, service scope (``--service`` parsed), folded endpoints. With the
    ``cluster`` the rules came from, a Service kube-proxy writes none for is said to be one (as dist --to says)."""
    unproxied = None
    if service is not None and cluster is not None:
        from kubeproxy_sim.analysis.targets import unproxied as why_unproxied

        unproxied = why_unproxied(cluster, ruleset.ipv6, service.namespace, service.name)
    return scoped_graph(ruleset, title, service=service, table=args.table, max_endpoints=args.max_endpoints,
                        dump=args.rules, cite=cite, unproxied=unproxied, generated=not args.rules)


def scoped_graph(ruleset: Ruleset, title: str, *, service: ServiceRef | None = None, table: str | None = None,
                 max_endpoints: int = 8, dump: str | None = None, cite: Cite | None = None,
                 also: tuple[Selection, tuple[str, ...]] | None = None, unproxied: str | None = None,
                 generated: bool = False) -> Graph:
    """One node's graph, cut to one service port (``NS/NAME[:PORT]``) and/or one table, long fans folded.

    ``trace --graph`` draws through here too, so its picture is the one ``graph --service`` shows; ``also``
    (:func:`~kubeproxy_sim.graph.steps.path_selection`'s rules and tables) adds rules to the service's (a later
    packet's path, which meets none of its nat rules), in their tables too, after the default ones in the order
    the path enters them. With a ``dump`` (its file name), the rules it does not hold (a restore input's hooks'
    jumps) are marked added. ``unproxied``: why kube-proxy writes no rules for the service, said if none are
    found. A rule read from a line is quoted in its tooltip as ``cite`` gives that line (the
    dump's lines as read, as trace cites them), else as iptables-save prints it. ``generated``: the proxier's own
    rules, not a dump (see ``build_graph``).
    """
    from kubeproxy_sim.graph import DEFAULT_TABLES, build_graph, collapse_endpoints
    from kubeproxy_sim.graph.scope import select_service

    tables: tuple[str, ...] = (table,) if table else DEFAULT_TABLES
    selection = None
    if service:
        selection = select_service(ruleset, service, (table,) if table else None, unproxied)
        title += f", service {service}"
        if also and also[0]:
            selection |= also[0]
            if not table:
                tables += tuple(t for t in also[1] if t not in tables)
    if table:
        title += f", {table} table"
    from kubeproxy_sim.cli.trace_cmd import in_dump
    from kubeproxy_sim.netfilter.dumpfile import dump_name

    with in_dump(dump_name(dump) if dump else None):  # chains that jump in a circle: FILE:LINE
        graph = build_graph(ruleset, tables=tables, title=title, scope=selection, cite=cite, generated=generated)
    if not graph.nodes:

        raise InputError(Diagnostic(f"no rules to draw in the {' and '.join(tables)} table(s)",
                                    file=dump_name(dump) if dump else None, field="--table" if table else None))
    if dump:
        from kubeproxy_sim.graph.transform import mark_added

        graph = mark_added(graph)
    return collapse_endpoints(graph, max_endpoints)


MERMAID_MAX_EDGES = 500
"""Mermaid's default ``maxEdges``: a bigger chart is refused ("Edge limit exceeded")."""

GRAPHVIZ_SLOW_EDGES = 3000
"""Above this many edges, ``dot``'s layout takes long enough to warn before it starts (it is not refused).

Its time grows much faster than the graph: a whole node of 100 services (2,623 edges) took about 12 s, of
300 services (7,823 edges) about 194 s, and of 1,000 services (26,023 edges) did not finish in 10 minutes,
while the same graphs as dot text took seconds. 3,000 edges is about 15 s of layout."""

MERMAID_ADVICE = "fewer with --max-endpoints or --service, or use dot or svg"
IMAGE_ADVICE = "narrow it with --service or --table, or write text with --format dot or -o FILE.dot"


def warn_size(graph: Graph, fmt: str, *, mermaid_advice: str = MERMAID_ADVICE,
              image_advice: str = IMAGE_ADVICE, args: argparse.Namespace | None = None) -> None:
    """A one-line warning when the graph is too big for its format; it is drawn anyway.

    The advice is what the command printing it offers (``trace --graph`` has neither --service nor
    --max-endpoints); ``args`` carries its ``--color``. Called before :func:`render`, outside a progress
    line, so the two do not mix.
    """
    edges = len(graph.edges)
    if fmt == "mermaid" and edges > MERMAID_MAX_EDGES:
        message = (f"{edges} edges; Mermaid draws at most {MERMAID_MAX_EDGES} with its default maxEdges "
                   f"(GitHub's too): {mermaid_advice}")
    elif fmt in ("svg", "png") and edges > GRAPHVIZ_SLOW_EDGES:
        message = (f"{edges} edges; Graphviz may take minutes to lay them out (2,600 took about 12 s, 7,800 "
                   f"over 3 minutes): {image_advice}")
    else:
        return
    report([Diagnostic(message, severity=Severity.WARNING)], args)


def render(graph: Graph, fmt: str, instead: str | None = None) -> bytes:
    """The graph as ``fmt``'s bytes; ``instead`` is what to suggest when an image cannot be drawn here."""
    from kubeproxy_sim.graph import render_image, to_dot, to_mermaid

    if fmt == "mermaid":
        return to_mermaid(graph).encode()
    dot_text = to_dot(graph)
    if fmt == "dot":
        return dot_text.encode()
    return render_image(dot_text, fmt, instead) if instead else render_image(dot_text, fmt)


def write(data: bytes, fmt: str, output: str | None, summary: str, flag: str = "-o") -> None:
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            raise InputError(Diagnostic(f"cannot write the graph: {exc.strerror or exc}", file=output,
                                        field=flag)) from None
        print(f"kubeproxy-sim: wrote {output} ({summary})", file=sys.stderr)
        return
    if fmt == "png" and sys.stdout.isatty():
        raise InputError(Diagnostic("PNG is binary; expected -o FILE.png or a pipe", field="--format"))
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def run(args: argparse.Namespace) -> int:
    service = None
    if args.service:  # before the work
        from kubeproxy_sim.graph.scope import parse_service_ref

        service = parse_service_ref(args.service)
    if args.max_endpoints < 0:
        raise InputError(Diagnostic(f"{args.max_endpoints} is negative; expected 0 (no folding) or more",
                                    field="--max-endpoints"))
    if args.output == "-":  # standard output, as "-" is elsewhere (binary PNG only to a pipe: write says so)
        args.output = None
    if args.output is not None:  # before the work: a large graph takes minutes to draw
        check_writable(args.output, "-o", expected="-o FILE (or no -o: standard output)")
    fmt = output_format(args)
    if fmt in ("svg", "png"):  # before loading a large cluster, not after
        from kubeproxy_sim.graph.image import check_image_tools

        check_image_tools()
    ruleset, title, had_errors, cite, cluster = load_rules(args)
    with progress("building the graph"):
        graph = build(args, ruleset, title, service, cite, cluster)
    warn_size(graph, fmt, args=args)
    with progress("drawing the graph"):
        data = render(graph, fmt)
    chains = sum(1 for n in graph.nodes if n.kind.is_chain)
    write(data, fmt, args.output, f"{chains} chains, {len(graph.edges)} rules")
    return 1 if had_errors else 0
