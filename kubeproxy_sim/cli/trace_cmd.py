"""``kubeproxy-sim trace``: where one packet goes through a node's rules, and why.

The rules come from a dump (``--rules DUMP``, an iptables-save of a node or a
kube-proxy restore input) or are generated from objects (``-f``/``--scenario``
plus the node flags). A restore input has no built-in chains; the jumps
kube-proxy installs in them are added, so the packet reaches its chains.
Generated rules are numbered as ``rules --full`` prints them, so a path's
``line N`` can be looked up there.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeproxy_sim.cli.options import add_input_flags, idle_with_dump, parse_int
from kubeproxy_sim.cli.output import (
    INDENT_TREE,
    UNICODE_TREE,
    Console,
    TreeNode,
    add_output_flags,
    check_writable,
    console,
    emit,
    progress,
    refuse_nothing_read,
    render_tree,
    report,
)
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError, printable
from kubeproxy_sim.proxier.full import as_node_holds_it

if TYPE_CHECKING:
    from kubeproxy_sim.cli.options import Inputs
    from kubeproxy_sim.graph import Graph, ServiceRef
    from kubeproxy_sim.netfilter.dumpfile import LineText
    from kubeproxy_sim.netfilter.model import Rule, Ruleset
    from kubeproxy_sim.netfilter.packet import Packet
    from kubeproxy_sim.netfilter.saveform import SavedLines
    from kubeproxy_sim.netfilter.trace import Outcome, PathStep, Tracer, TraceResult, Uncertainty
    from kubeproxy_sim.objects.model import Cluster
    from kubeproxy_sim.proxier.config import ProxyConfig

EXAMPLES = """examples:
  kubeproxy-sim trace --scenario bootcamp --src 10.244.0.9 --dst 10.96.142.87 --dport 8080
  kubeproxy-sim trace --scenario bootcamp --src 192.168.49.1 --dst 192.168.49.2 --dport 31526 --graph path.svg
  kubeproxy-sim trace --scenario bootcamp --src 10.244.0.9 --dst 10.96.142.87 --dport 8080 -o yaml
  kubeproxy-sim trace --rules node.rules --node-ip 192.168.0.2 --src 203.0.113.9 --dst 192.168.0.2 --dport 30080
  kubeproxy-sim trace --rules node.rules --src 10.0.0.2 --dst 172.30.0.41 --dport 80 -o json
"""
NODE_IP_WITH_DUMP = (". With --rules, list every local address of the node, a bridge's (cni0, docker0) "
                     "included: one not listed is taken as not the node's (without --node-ip, the node's "
                     "addresses are unknown and tests that hang on them are listed as uncertain); with /PREFIX, "
                     "its subnet's broadcast address is known too")
GRAPH_SUFFIXES = ".svg, .png, .dot, .gv, .mmd or .mermaid"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "trace",
        help="follow one packet through a node's iptables rules",
        description="Follow the first packet of a connection through the node's raw, mangle, nat and filter "
        "chains, along every branch of every probability split: each outcome (DNAT destination, ACCEPT, "
        "DROP, REJECT) with its exact probability, whether it is masqueraded, and the rules on its path.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rules", metavar="DUMP", help="an iptables-save (or iptables-restore) text file; - reads "
                        "it from standard input")
    add_input_flags(parser, node_ip_help=NODE_IP_WITH_DUMP)
    pkt = parser.add_argument_group("the packet")
    pkt.add_argument("--src", required=True, metavar="IP", help="source address: a pod's, the node's own or an outside "
                     "client's")
    pkt.add_argument("--dst", required=True, metavar="IP", help="destination address: a cluster IP, a node's address "
                     "(NodePort), an external or load-balancer IP (0.0.0.0 or :: from the node: the node itself, as "
                     "its socket sends there); with -f/--scenario, a Service's name too (NAME, NAME.NS, "
                     "NAME.NS.svc.cluster.local, read in the namespace of the pod at --src, else default: its "
                     "cluster IP)")
    pkt.add_argument("--dport", type=parse_int, metavar="N", help="destination port (required, but for ICMP)")
    pkt.add_argument("--sport", type=parse_int, metavar="N", help="source port (default: unknown)")
    pkt.add_argument("--proto", default="tcp", choices=["tcp", "udp", "sctp", "icmp", "icmpv6"],
                     help="protocol (default tcp)")
    pkt.add_argument("--icmp-type", metavar="TYPE[/CODE]", help="an ICMP or ICMPv6 packet's type and code, as "
                     "iptables reads --icmp-type (echo-reply, 3/3, port-unreach; a bare type has code 0; not any "
                     "nor a code range, a rule's, no packet's; default: echo-request, its echo-reply with --ctdir "
                     "REPLY, port-unreachable with --ctstate RELATED)")
    pkt.add_argument("--in-iface", metavar="IFACE", help="the interface it arrives on (default: unknown, or "
                     "none for a packet from the node itself)")
    pkt.add_argument("--out-iface", metavar="IFACE", help="the interface it leaves by (default: unknown)")
    pkt.add_argument("--affinity", action="append", default=[], metavar="LIST",
                     help="an xt_recent list (session affinity, e.g. KUBE-SEP-...) that already holds the client "
                     "(repeatable)")
    pkt.add_argument("--bridge-port", metavar="IFACE", help="the bridge port it came in through (physdev)")
    pkt.add_argument("--ctstate", default="NEW", choices=["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"],
                     help="its connection's conntrack state (default NEW: the first packet; ESTABLISHED: a later "
                     "one, which keeps the translation its first packet got and walks no nat rule; RELATED: the first "
                     "packet of a connection a conntrack helper expected; INVALID: a packet of no connection, which "
                     "walks no nat rule; UNTRACKED: one conntrack leaves alone (a raw table NOTRACK, ICMPv6 neighbour "
                     "discovery and MLD), which walks no nat rule)")
    pkt.add_argument("--ctdir", default="ORIGINAL", choices=["ORIGINAL", "REPLY"],
                     help="its direction in the connection, as -m conntrack --ctdir tests it (default ORIGINAL; "
                     "REPLY, with --ctstate ESTABLISHED or RELATED: a reply, given as the filter table sees it, "
                     "from the endpoint to the client; walked through no nat rule)")
    out = parser.add_argument_group("output")
    add_output_flags(out)
    out.add_argument("--graph", metavar="FILE", help="also draw the node's chains, scoped to the service the packet "
                     "hits (or, when it hits none, to the rules it matched), with the packet's paths highlighted "
                     f"and each outcome's probability ({GRAPH_SUFFIXES})")
    parser.set_defaults(func=run)


def _packet(args: argparse.Namespace):
    from kubeproxy_sim.netfilter.packet import ICMP_PROTOS, CtState, Packet, icmp_family_problem, parse_address

    families = []
    for flag, value in (("--src", args.src), ("--dst", args.dst)):
        try:
            families.append(parse_address(value)[0])
        except ValueError as exc:  # text that is no address: the wrong shape, a usage error
            raise UsageError(Diagnostic(f"{exc}; expected an IPv4 or IPv6 address", field=flag)) from None
    if families[0] != families[1]:  # first, for every protocol: the same words and status whatever --proto says
        raise InputError(Diagnostic(f"source {args.src} and destination {args.dst} are of different IP families; "
                                    "expected addresses of one family", field="--src/--dst"))
    problem = icmp_family_problem(args.proto, families[0]) if args.proto in ICMP_PROTOS else None
    if problem is not None:  # (the kernel finds no ICMP in such a frame: INVALID, which no packet here models)
        raise UsageError(Diagnostic(problem, field="--proto"))
    icmp = _icmp_of_args(args)
    state = CtState(args.ctstate)
    # (a direction a NEW packet cannot have is _check_direction's refusal, not the ICMP type's)
    reply = args.ctdir == "REPLY" and state in (CtState.ESTABLISHED, CtState.RELATED)
    for flag, port in (("--dport", args.dport), ("--sport", args.sport)):  # (None for ICMP: refused above)
        if port is not None and not 0 <= port <= 65535:  # the right shape, out of range: invalid input
            raise InputError(Diagnostic(f"{port} is not a port; expected 0-65535", field=flag))
    try:  # (an ICMP packet's ports are None and another's icmp is None: _icmp_of_args refused the rest)
        return Packet.of(args.proto, args.src, args.dst, args.dport, args.sport, icmp=icmp, in_iface=args.in_iface,
                         out_iface=args.out_iface, bridge_port=args.bridge_port, ctstate=state, reply=reply)
    except ValueError as exc:
        if args.proto in ICMP_PROTOS:  # a type conntrack never gives that state or direction
            raise UsageError(Diagnostic(str(exc), field="--icmp-type/--ctstate/--ctdir")) from None
        # (the families were checked above: only a port is left to be wrong; the words are kept for their tests)
        raise InputError(Diagnostic(f"{exc}; expected addresses of one family and ports 0-65535",
                                    field="--src/--dst/--dport/--sport")) from None


def _icmp_of_args(args: argparse.Namespace) -> tuple[int, int] | None:
    """The ICMP (type, code) --icmp-type gives an ICMP packet; None when not given (Packet.of's default then) and
    for another protocol, which needs --dport and takes no --icmp-type. Ports and an ICMP type are never both
    given: an ICMP packet has no ports (an echo's identifier stands in for one in conntrack alone)."""
    from kubeproxy_sim.netfilter.compile_match_packet import icmp_packet_type
    from kubeproxy_sim.netfilter.packet import ICMP_PROTOS

    if args.proto not in ICMP_PROTOS:
        if args.icmp_type is not None:
            raise UsageError(Diagnostic(f"--icmp-type given for a {args.proto} packet; expected --proto icmp or "
                                        "icmpv6", field="--icmp-type"))
        if args.dport is None:
            raise UsageError(Diagnostic(f"no --dport for a {args.proto} packet; expected a destination port",
                                        field="--dport"))
        return None
    for flag, value in (("--dport", args.dport), ("--sport", args.sport)):
        if value is not None:
            raise UsageError(Diagnostic(f"{flag} given for an {args.proto} packet, which has no ports; expected "
                                        "--icmp-type for its type, or --proto tcp, udp or sctp", field=flag))
    if args.icmp_type is None:
        return None
    read = icmp_packet_type(args.icmp_type, args.proto == "icmpv6")
    if read is None:  # (any spelling of IPv4's any, a code range: a rule's, no packet's)
        names = "an ICMPv6 type's name or number" if args.proto == "icmpv6" else "an ICMP type's name or number"
        raise UsageError(Diagnostic(f"{args.icmp_type!r} is not one ICMP type and code as iptables reads "
                                    f"--icmp-type; expected {names} 0-255, with /CODE (0-255) or not, not any nor a "
                                    "code range", field="--icmp-type"))
    return read


@dataclass(frozen=True, slots=True)
class TracedRules:
    """The rules a packet is traced through (a dump's, or those generated from objects), with what the trace
    needs to know of the node they came from and of how to cite them."""

    ruleset: Ruleset
    addresses: tuple[str, ...]
    """The node's addresses, with their prefix lengths where known (a subnet's broadcast address); none: unknown."""
    route_localnet_known: bool
    """Whether route_localnet is known to be set (not whether it is: see NodeContext): kube-proxy sets it itself
    when it serves NodePorts on localhost, and a dump does not say."""
    errors: tuple[Diagnostic, ...]
    """The input's errors (the objects'), reported already: the run's exit status."""
    line_text: LineText
    """A cited line's text: the dump's own line, or that of ``rules --full`` for the same inputs."""
    saved: SavedLines | None
    """Generated rules as iptables-save numbers them (chains numbered as the walk enters them); None: a dump."""
    gaps: tuple[Uncertainty, ...]
    """What the dump leaves out (a table, iptables-legacy's rules), assumed: uncertain for every packet."""
    objects: tuple[Cluster, ProxyConfig] | None = None
    """The objects and the node's config the rules were generated from (the node's name, its Services'
    ports for the notes); None: a dump."""
    notes: tuple[str, ...] = ()
    """What the choice of the node needs said: the source pod's node traced, or the node asked for not it."""

    @property
    def generated(self) -> bool:
        """Whether the proxier generated the rules (from objects), not read from a dump: their tables are not
        checked for circles as a whole before the walk (see compile_ruleset)."""
        return self.objects is not None


def _from_dump(args: argparse.Namespace, family: int) -> TracedRules:
    from kubeproxy_sim.netfilter.codec import parse_ruleset, partial_input
    from kubeproxy_sim.netfilter.dumpfile import (
        dump_gaps,
        dump_lines,
        dump_name,
        dump_node_addresses,
        read_dump_text,
    )

    text = read_dump_text(args.rules)  # once ("-": standard input), so the lines cited are the lines read
    name = dump_name(args.rules)
    ruleset = parse_ruleset(text, file=name)  # in the dump's own family: an iptables-save is IPv4
    partial = partial_input(ruleset, name, "trace cannot follow a packet into them; expected the node's "
                            "iptables-save output (or a full sync's input, as rules prints it)")
    if partial:  # (a packet jumping there would be traced through nothing: the chains' rules are on the node)
        raise InputError(partial)
    try:
        if (6 if ruleset.ipv6 else 4) != family:
            ruleset = _of_packet_family(text, name, family)  # a dump without addresses: read as the packet's
    finally:  # the flags it makes idle are named before a refusal too; after a re-read, in the family traced
        report(idle_with_dump(args, used=("node_ip",), family=6 if ruleset.ipv6 else 4), args)
    if not any(table.chains for table in ruleset.tables):  # every packet would read ACCEPT: likely the wrong file
        report([Diagnostic("no tables in this file; expected iptables-save output (every packet is accepted)",
                           file=name, severity=Severity.WARNING)], args)
    # of the dump's family, as netns verify --rules takes them: one of the other family is refused; with their
    # prefix lengths (a subnet's broadcast address)
    addresses = dump_node_addresses(args.node_ip or (), 6 if ruleset.ipv6 else 4, prefixes=True)
    # what the dump leaves out (a table, iptables-legacy's rules): a reply reads no nat rule, so nat's absence
    # changes nothing for it
    gaps = dump_gaps(text, [table.name for table in ruleset.tables], ruleset.ipv6, nat_read=args.ctdir != "REPLY")
    # a dump holds no sysctls: route_localnet is not known
    return TracedRules(as_node_holds_it(ruleset), addresses, route_localnet_known=False, errors=(),
                       line_text=dump_lines(text), saved=None, gaps=gaps)


def _of_packet_family(text: str, file: str, family: int) -> Ruleset:
    """A dump read as the family of a packet of the other family: its rules hold no address (their family is
    only guessed), else the packet is refused in the words for an input of the other family than the dump's."""
    from kubeproxy_sim.errors import RulesSyntaxError
    from kubeproxy_sim.netfilter.codec import parse_ruleset
    from kubeproxy_sim.netfilter.dumpfile import dump_family_mismatch

    try:
        return parse_ruleset(text, file=file, ipv6=family == 6)
    except RulesSyntaxError:  # a rule has an address of the dump's family, the other one
        raise InputError(Diagnostic(dump_family_mismatch(f"the packet is IPv{family}", 10 - family, "addresses"),
                                    file=file, field="--src/--dst")) from None


def _from_objects(args: argparse.Namespace, packet: Packet) -> TracedRules:
    from kubeproxy_sim.cli.options import load_inputs, node_rules
    from kubeproxy_sim.proxier.rules.context import serves_localhost_nodeports

    family = packet.family
    with progress("loading objects and generating rules"):
        # the objects read once (standard input can be), the node chosen, then its rules generated once
        inputs, node_notes = _source_pods_node(args, packet, load_inputs(args, family=family))
        node = node_rules(inputs)
    report(node.inputs.diagnostics, args)
    refuse_nothing_read(node.inputs, "trace")
    if (6 if node.ruleset.ipv6 else 4) != family:
        from kubeproxy_sim.simulator.topology import family_mismatch

        raise InputError(Diagnostic(family_mismatch("the packet", family, 6 if node.ruleset.ipv6 else 4),
                                    field="--src/--dst"))
    from kubeproxy_sim.netfilter.saveform import RuleShapes, SavedLines, saved_rule_text

    # a path's lines are those of `rules --full` for the same inputs: the node's tables as iptables-save shows
    # them; a chain is numbered when the walk enters it or a step cites it (node_tables deletes no chain)
    saved = SavedLines(node.ruleset)
    by_line: dict[tuple[str, str], dict[int, Rule]] = {}  # a chain's rules by line, at its first citation
    shapes = RuleShapes(node.ruleset.ipv6)  # one for every step: the outcomes' paths share most rules
    cited: dict[tuple[int, str | None, str | None], str | None] = {}
    # a table's chains named like a target (:TPROXY - [0:0]): a -j TPROXY without options is a plain jump there,
    # as `rules --full` (and both iptables-save) print it, not the extension with its options; once per table
    jumps: dict[str, frozenset[str]] = {}

    def line_text(line: int, table: str | None, chain: str | None) -> str | None:
        text = cited.get((line, table, chain), cited)
        if text is not cited:
            return text  # type: ignore[return-value]
        key = (table or "", chain or "")
        rules = by_line.get(key)
        if rules is None:
            found = saved.chain(*key)
            rules = by_line[key] = {r.line: r for r in found.rules} if found is not None else {}
        rule = rules.get(line)
        if rule is None:
            text = None
        else:
            named = jumps.get(key[0])
            if named is None:
                named = jumps[key[0]] = saved.jumps(key[0])
            text = saved_rule_text(rule, node.ruleset.ipv6, shapes, named)
        cited[line, table, chain] = text
        return text

    # the node's addresses as the simulator gives them (simulator.network.node_context): its node IPs and its pod
    # bridge's gateway, which is as much the node's (addrtype LOCAL, delivered to INPUT) as eth0's
    addresses = (*node.config.node_ips, *_bridge_addresses(node.inputs.cluster, node.config))
    return TracedRules(node.ruleset, addresses, route_localnet_known=serves_localhost_nodeports(node.config),
                       errors=node.inputs.errors, line_text=line_text, saved=saved, gaps=(),
                       objects=(node.inputs.cluster, node.config), notes=node_notes)


def _source_pods_node(args: argparse.Namespace, packet: Packet, inputs: Inputs) -> tuple[Inputs, tuple[str, ...]]:
    """The node whose rules a packet from a known pod meets: the pod's own (its spec.nodeName), as ``send --from
    pod/...`` walks it, unless a node was asked for (--hostname-override, the --config file's or the scenario's
    hostnameOverride): that one is kept, with a note naming the node the packet would leave from. A reply
    (--ctdir REPLY) is the client node's business, and a pod on no node (a name no Node object has, when Node
    objects were read: :func:`~kubeproxy_sim.simulator.topology.nodes_running`) has no rules to trace; without any
    Node object the pods' and endpoints' names are the nodes, as ``send`` and ``dist`` take them. Only the
    inputs: the objects are not read again for the pod's node (nor its default node's rules made)."""
    from kubeproxy_sim.analysis.trace_inputs import source_pod
    from kubeproxy_sim.cli.options import load_inputs, node_settings
    from kubeproxy_sim.simulator.topology import nodes_running

    pod = source_pod(inputs.cluster, packet) if args.ctdir != "REPLY" else None
    here = inputs.config.node_name
    if pod is None or not pod.node_name or pod.node_name.lower() == (here or "").lower():
        return inputs, ()
    its = pod.node_name
    asked = "node_name" in node_settings(args)[0]
    if asked or its not in nodes_running(inputs.cluster, here):
        why = "as asked" if asked else f"no Node object is named {its!r}"
        return inputs, (f"pod {pod.key} (--src {packet.src_text}) runs on node {its} (its spec.nodeName): its packets "
                      f"leave through node {its}'s rules, not node {here}'s ({why}: traced here as a packet "
                      f"arriving from another host)",)
    moved = argparse.Namespace(**{**vars(args), "hostname_override": its})
    inputs = load_inputs(moved, family=packet.family, loaded=inputs.loaded)
    return inputs, (f"traced on node {its}, where pod {pod.key} (--src {packet.src_text}) runs (its spec.nodeName), "
                  f"not on the default node {here}: give --hostname-override to trace another node's rules",)


@contextmanager
def in_dump(file: str | None) -> Iterator[None]:
    """An InputError a walk raises at a line of the dump (chains that jump in a circle) names the dump's file as
    well (``FILE:LINE: ...``, as the dump's parse errors do); None: the rules were generated, nothing to add."""
    try:
        yield
    except InputError as exc:
        if file is None or not any(d.line and not d.file for d in exc.diagnostics):
            raise
        named = [dataclasses.replace(d, file=file) if d.line and not d.file else d for d in exc.diagnostics]
        # the same exit status; not type(exc)(named): a RulesSyntaxError's first argument is one message
        raise (UsageError if isinstance(exc, UsageError) else InputError)(named) from None


def cite_lines(result: TraceResult, line_text: LineText) -> TraceResult:
    """The result with every step's and uncertainty's rule as its cited line reads (the dump's own line, or
    ``rules --full``'s): what a user finds there, not the rule re-rendered in another spelling."""

    def at(line: int | None, rule: str, table: str | None = None, chain: str | None = None) -> str:
        return (line_text(line, table, chain) or rule) if line else rule

    outcomes = tuple(dataclasses.replace(o, path=tuple(
        dataclasses.replace(step, rule=at(step.line, step.rule, step.table, step.chain)) for step in o.path))
        for o in result.outcomes)
    uncertain = tuple(dataclasses.replace(u, rule=at(u.line, u.rule)) for u in result.uncertain)
    return dataclasses.replace(result, outcomes=outcomes, uncertain=uncertain)


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis import trace_inputs
    from kubeproxy_sim.netfilter.dumpfile import dump_name
    from kubeproxy_sim.netfilter.packet import is_address
    from kubeproxy_sim.netfilter.trace import NodeContext, Tracer

    # --dst NAME: a Service's name, read once the objects are (the packet's family is its source's meanwhile);
    # text no DNS name has (300.1.1.1, 10.0.0.1/32, '') is a malformed address: _packet's usage error
    name = args.dst if args.dst is not None and not is_address(args.dst) and trace_inputs.dns_shaped(args.dst) \
        else None
    packet = _packet(args if name is None else _with_dst(args, args.src))  # (a name: the rest of its faults first)
    if name is not None:
        _check_dns_name(name)
        if args.rules:
            raise trace_inputs.names_need_objects(name)
    reply = args.ctdir == "REPLY"
    _check_direction(packet, reply)  # before the rules load
    graph_format = None if args.graph is None else _check_graph(args.graph)  # --graph "" too: a usage error
    rules = _rules_of_args(args, packet)
    input_notes: list[str] = list(rules.notes)
    if name is not None and rules.objects is not None:
        address, note = trace_inputs.service_destination(rules.objects[0], name, packet)
        packet = _packet(_with_dst(args, address))
        input_notes.append(note)
    ruleset, saved = rules.ruleset, rules.saved
    report(_unknown_lists(ruleset, args.affinity), args)
    # a dump says nothing of the node's addresses: without --node-ip, addrtype LOCAL tests are uncertain
    # nor says it (nor do objects) whether the client is in a session-affinity list: one not named is uncertain
    node = NodeContext.of(rules.addresses, affinity=args.affinity,
                          addresses_known=bool(rules.addresses) or not args.rules, affinity_known=False,
                          route_localnet_known=rules.route_localnet_known)
    with progress("tracing"), in_dump(dump_name(args.rules) if args.rules else None):
        # one packet: compile (and number) only the chains it enters
        tracer = Tracer(ruleset, node, lazy=True, renumber=saved.numbered if saved is not None else None,
                        generated=rules.generated)
        if trace_inputs.unspecified(packet):  # no packet carries 0.0.0.0 (::): what the node makes of it
            if tracer.engine.is_local_origin(packet):
                packet, note = trace_inputs.sent_by_the_node(packet)
                input_notes.append(note)
            elif not node.addresses_known and packet.src:
                # (known: the routing step that drops it says why; 0.0.0.0 -> 0.0.0.0 is a broadcast to the node)
                input_notes.append(trace_inputs.martian_note(packet) if packet.family == 4 else
                                   _unknown_source_note(packet))
            elif packet.src and _another_hosts(tracer, rules, packet):
                # another host's socket sends to its own lo: only a crafted packet gets here
                pod = trace_inputs.source_pod(rules.objects[0], packet) if rules.objects else None
                input_notes.append(trace_inputs.crafted_note(packet, pod))
        traced = _trace(tracer, packet, reply)
        if args.rules and not node.addresses_known and not reply:  # addrtype LOCAL assumed false
            hint = trace_inputs.nodeport_note(ruleset, node, packet, traced)
            input_notes.extend([hint] if hint else [])
        if rules.gaps:  # first: they concern every rule of the dump
            traced = dataclasses.replace(traced, uncertain=(*rules.gaps, *traced.uncertain))
        result = cite_lines(traced, rules.line_text)
    notes = [*input_notes, *empty_chain_notes(ruleset, result),
             *(explain(rules.objects, packet, result) if rules.objects and not reply else [])]
    con = console(args)
    # the text reads the result: no JSON form (a fraction's digits) made and thrown away
    data = None if args.output == "text" else _trace_json(result, args, notes, rules)
    # the header names whose rules these are: -f's default node (the first Node by name) is not on the command line
    rules_of = f"node {rules.objects[1].node_name}" if rules.objects else dump_name(args.rules)
    emit(data, args.output, text=lambda: trace_text(result, con, notes, rules_of))
    if graph_format is not None:
        _graph_of_trace(args, graph_format, tracer, packet, reply, traced, rules)
    return 1 if rules.errors else 0


DNS_LABEL_MAX = 63
DNS_NAME_MAX = 253


def _check_dns_name(name: str) -> None:
    """Refuse ``--dst NAME`` (already DNS-shaped: letters, digits and '-' between dots) that breaks RFC 1123's
    label rules, which Kubernetes' validation (IsDNS1123Label, IsDNS1123Subdomain) holds a Service's and a
    namespace's name to and CoreDNS a query name: a usage error saying which rule. A hyphen-only label (``-``,
    ``--``) would otherwise be looked up and read as "no such Service", where it is no name at all."""
    from kubeproxy_sim.analysis.trace_inputs import NAME_FORMS

    labels = name.removesuffix(".").split(".")
    bad = next((label for label in labels if not (label[0].isalnum() and label[-1].isalnum())), None)
    long = next((label for label in labels if len(label) > DNS_LABEL_MAX), None)
    if bad is not None:
        why = f"a label starts and ends with a letter or digit, and {bad!r} does not"
    elif long is not None:
        why = f"a label is at most {DNS_LABEL_MAX} characters, and {long[:16]}... has {len(long)}"
    elif len(name.removesuffix(".")) > DNS_NAME_MAX:
        why = f"a name is at most {DNS_NAME_MAX} characters, and this one has {len(name.removesuffix('.'))}"
    else:
        return
    raise UsageError(Diagnostic(f"{name!r} is not an IP address, nor a DNS name ({why}); expected an IPv4 or IPv6 "
                                f"address, or a Service's {NAME_FORMS}", field="--dst"))


def _another_hosts(tracer: Tracer, rules: TracedRules, packet: Packet) -> bool:
    """Whether a packet to the unspecified address comes from a host other than the node, as far as the trace
    knows (the node's addresses known): then no socket sent it (a host's socket sends 0.0.0.0 to its own lo), and
    :func:`.trace_inputs.crafted_note` says so. Not for a source that is the node's own, though it arrived on an
    interface (``--in-iface``): the node's socket sends to itself, and the note's "reaches no node" would be
    wrong; nor for the node's pod bridge address in objects mode (:func:`.topology.bridge_gateways`), which the
    node's socket may be bound to (``send --from`` takes it as the node's)."""
    if tracer.engine.env.is_local(packet.src):
        return False
    return rules.objects is None or packet.src_text not in _bridge_addresses(*rules.objects)


def _bridge_addresses(cluster: Cluster, config: ProxyConfig) -> tuple[str, ...]:
    """The traced node's pod bridge addresses, as the simulator gives them (:func:`.topology.bridge_gateways`): none
    where an address the objects give a pod, an endpoint or a node holds the gateway's (the topology's ``taken``)."""
    from kubeproxy_sim.proxier.config import DetectLocalMode
    from kubeproxy_sim.simulator.topology import bridge_gateways

    taken = {ip for pod in cluster.pods for ip in pod.pod_ips}
    taken.update(address for slc in cluster.endpoint_slices for ep in slc.endpoints for address in ep.addresses)
    taken.update(a.address for n in cluster.nodes for a in n.addresses)
    routed = config.detect_local_mode is DetectLocalMode.INTERFACE_NAME_PREFIX
    return bridge_gateways(config.node_pod_cidrs, routed, taken)


def _unknown_source_note(packet: Packet) -> str:
    """For an IPv6 packet to ``::`` traced through a dump without the node's addresses: whether its source is the
    node's is not known, so whether a socket sent it (the node's, to itself) or only a crafted packet looks so
    (another host's socket sends to its own lo) is not either; IPv6 routes ``::`` like any address."""
    return (f":: is no host's address (no packet carries it): if {packet.src_text} is this node's, give --node-ip "
            f"{packet.src_text}: a socket of the node sending to :: sends to the node itself, on lo (::1); from "
            "another host only a crafted packet arrives looking like this one (a host's socket sends to its own lo)")


def _with_dst(args: argparse.Namespace, dst: str) -> argparse.Namespace:
    """The command line with another --dst: a Service's name's address, or (before the objects are read) the
    source's, so the packet's other faults are found, and its family known, as for an address."""
    return argparse.Namespace(**{**vars(args), "dst": dst})


def _check_direction(packet: Packet, reply: bool) -> None:
    """Refuse --ctdir REPLY for a packet that can have no reply direction, before any rules are read: a
    connection's first packet (NEW, or RELATED's) is its original direction by definition."""
    from kubeproxy_sim.netfilter.established import REPLY_STATES

    if reply and packet.ctstate not in REPLY_STATES:
        raise UsageError(Diagnostic(f"a {packet.ctstate} packet has no reply direction (a connection's first packet "
                                    f"is its original direction); expected --ctstate {' or '.join(REPLY_STATES)} "
                                    "with --ctdir REPLY", field="--ctdir"))


def _check_graph(path: str) -> str:
    """The --graph picture's format, once its path is known writable and the tools an image needs are there:
    checked before the trace, so a wrong path or a missing tool costs no work."""
    check_writable(path, "--graph")
    graph_format = _graph_format(path)
    if graph_format in ("svg", "png"):
        from kubeproxy_sim.graph.image import check_image_tools

        check_image_tools(TRACE_GRAPH_ALTERNATIVE)
    return graph_format


def _rules_of_args(args: argparse.Namespace, packet: Packet) -> TracedRules:
    """The rules from the one source the command line names: a dump (--rules), or objects (-f/--scenario) to
    generate them from; both or neither is a usage error."""
    if args.rules and (args.filename or args.scenario):
        raise UsageError(Diagnostic("--rules and -f/--scenario both given; expected one source of rules",
                                    field="--rules"))
    if args.rules:
        return _from_dump(args, packet.family)
    if args.filename or args.scenario:
        return _from_objects(args, packet)
    raise UsageError(Diagnostic("no rules given; expected --rules DUMP, -f PATH or --scenario NAME", field="--rules"))


def _trace(tracer: Tracer, packet: Packet, reply: bool) -> TraceResult:
    """The packet traced as its conntrack state and direction make it: a reply, or a later packet of the
    original direction, walks rules no first packet does (and no nat rule), so each has its own walk."""
    from kubeproxy_sim.netfilter.established import later_status, trace_later, trace_reply
    from kubeproxy_sim.netfilter.packet import CtState

    if reply:
        return trace_reply(tracer, packet)
    if packet.ctstate is CtState.ESTABLISHED:
        return trace_later(tracer, packet)
    # NEW keeps its status bits; RELATED gains EXPECTED (the connection a helper expected)
    return tracer.trace(dataclasses.replace(packet, ctstatus=later_status(packet)))


def _trace_json(result: TraceResult, args: argparse.Namespace, notes: list[str], rules: TracedRules) -> dict:
    """The trace's JSON document: the result's own, and what the command line and the rules' source add to it."""
    data = result.to_json()
    data["packet"]["affinity"] = list(args.affinity)  # the recent lists that hold the client: its input too
    data["notes"] = notes
    data["node"] = rules.objects[1].node_name if rules.objects else None  # a dump's node is not known
    # whose rules the lines are: a dual-stack node's other proxier's when the packet chose it (load_inputs)
    data["ip_family"] = "IPv6" if rules.ruleset.ipv6 else "IPv4"
    return data


def _graph_of_trace(args: argparse.Namespace, graph_format: str, tracer: Tracer, packet: Packet, reply: bool,
                    traced: TraceResult, rules: TracedRules) -> None:
    """Write --graph. It reads the rules' own text (their comments) and its tooltips quote the cited lines; a
    later packet walks no nat rule, so its connection's first packet is traced too, to tell the Service it
    belongs to (a reply's first packet is not known)."""
    from kubeproxy_sim.netfilter.packet import CtState

    later = packet.ctstate is CtState.ESTABLISHED and not reply
    first = tracer.trace(dataclasses.replace(packet, ctstate=CtState.NEW)) if later else None
    saved = rules.saved
    numbered = saved.every_chain() if saved is not None else rules.ruleset  # the graph finds a step's rule by line
    write_trace_graph(numbered, traced, args.graph, graph_format, args.rules, first,
                      rules.line_text, rules.generated)


def explain(objects: tuple[Cluster, ProxyConfig], packet: Packet, result: TraceResult) -> list[str]:
    """The trace's notes: a Service address's port no rule serves, then why each outcome ended as it did."""
    from kubeproxy_sim.analysis.why import why_notes

    return [*unserved_port_notes(objects, packet, result), *why_notes(objects, packet, result)]


def empty_chain_notes(ruleset: Ruleset, result: TraceResult) -> list[str]:
    """A note for each jump of the outcomes' paths into a chain declared with no rules (u1's dump 03: a
    KUBE-SEP chain without its DNAT rule): the tree shows nothing of it, yet the packet returned from it unchanged,
    which is what decided the outcome."""
    from kubeproxy_sim.netfilter.trace import empty_chains_entered, step_where

    notes: dict[str, None] = {}
    for outcome in result.outcomes:
        for step, chain in empty_chains_entered(ruleset, outcome):
            what = ", untranslated" if step.table == "nat" else ""
            why = (" (a KUBE-SEP chain holds its endpoint's DNAT rule: without one, this endpoint's share of the "
                   "traffic keeps its destination)") if step.table == "nat" and chain.startswith("KUBE-SEP-") else ""
            notes[f"{step_where(step)} ({step.table} {step.chain}) jumps to {chain}, a chain declared with no rules: "
                  f"the packet returns from it at once{what}{why}"] = None
    return list(notes)


def unserved_port_notes(objects: tuple[Cluster, ProxyConfig], packet: Packet, result: TraceResult) -> list[str]:
    """Why a packet to a Service's address went through untranslated: the Services owning the address (as
    cluster, external or load-balancer IP) define no port of its port and protocol
    (:func:`kubeproxy_sim.analysis.targets.port_owners`, whose words send gives too). The trace alone reads as a
    plain ACCEPT, where ``send`` to the same address fails: say which ports the address does answer on."""
    from kubeproxy_sim.analysis.targets import port_owners

    if any(o.verdict == "DNAT" for o in result.outcomes):
        return []
    whose = port_owners(*objects, packet.dst_text, packet.dport, packet.proto)
    if whose is None:
        return []
    what = packet.proto.upper() if packet.dport is None else f"{packet.dport}/{packet.proto.upper()}"
    return [f"{packet.dst_text} is {whose}; no rule matches {what}, so the packet leaves the tables untranslated"]


# --------------------------------------------------------------------------- text


TREE_DEPTH = 16
"""Chains nested deeper than this are drawn at this depth, each with its own depth in its label (each rule's
text names its chain), so a path's text grows with its steps, not with their square (5,000 chains deep: 50 MB).
Not refused, as the kernel does not refuse such a table: ip_tables' jump stack is as deep as the table has chains,
so chains without a circle always fit (nf_tables' stack is 16: iptables-nft refuses a table that nests deeper, so
a dump of such a node never reaches this depth)."""


NOT_INDENTED = "; its rules, and deeper chains', are not indented further"


def outcome_forest(outcome: Outcome) -> tuple[TreeNode, ...]:
    """An outcome's path as :func:`path_forest` draws it, hook by hook (:func:`~.trace.path_sections`): a run of
    built-in chains passed with nothing matching is a line of its own, a chain its ACCEPT policy let the packet
    through says so in its header."""
    from kubeproxy_sim.netfilter.trace import path_sections

    forest: list[TreeNode] = []
    for text, steps in path_sections(outcome):
        if not steps:
            forest.append(TreeNode(text, (), ()))
            continue
        trees = path_forest(steps)
        if text:
            trees = (dataclasses.replace(trees[0], label=trees[0].label + text), *trees[1:])
        forest.extend(trees)
    return tuple(forest)


def path_forest(path: Sequence[PathStep]) -> tuple[TreeNode, ...]:
    """A path as trees: one per built-in chain entered, a chain's rules under it, a jumped-to chain after
    the rule that jumped (so returning to the caller reads naturally); past :data:`TREE_DEPTH`, flat."""
    from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS
    from kubeproxy_sim.netfilter.trace import step_where

    roots: list[list] = []
    stack: list[tuple[tuple[str, str], list]] = []
    for step in path:
        if not step.table:  # a routing decision that ended the packet: no chain holds it
            stack = []
            roots.append([step.rule, [], ("bold",)])
            continue
        here = (step.table, step.chain)
        keys = [key for key, _ in stack]
        if here in keys:
            del stack[keys.index(here) + 1:]
        else:
            if step.chain in BUILTIN_CHAINS.get(step.table, ()):
                stack = []
            node: list = [f"{step.table} {step.chain}" if not stack else step.chain, [], ("bold",)]
            (stack[-1][1] if stack else roots).append(node)
            deep = len(stack) >= TREE_DEPTH
            if deep:
                node[0] += f" ({len(stack)} jumps deep{'' if len(stack) > TREE_DEPTH else NOT_INDENTED})"
            stack.append((here, stack[-1][1] if deep else node[1]))
        stack[-1][1].append([f"{step_where(step)}: {printable(step.rule)}", [], ()])  # (a comment's CR, say)
    return tuple(_freeze(n) for n in roots)


def _freeze(root: list) -> TreeNode:
    """The tree of nested lists as TreeNodes, children first, without recursion (chains may nest deep)."""
    order, todo = [], [root]
    while todo:
        node = todo.pop()
        order.append(node)
        todo.extend(node[1])
    frozen: dict[int, TreeNode] = {}
    for label, children, styles in reversed(order):
        frozen[id(children)] = TreeNode(label, tuple(frozen[id(c[1])] for c in children), styles)
    return frozen[id(root[1])]


VERDICT_STYLES = {"DNAT": ("green", "bold"), "ACCEPT": ("green", "bold"), "DROP": ("red", "bold"),
                  "REJECT": ("red", "bold")}


def _unknown_lists(ruleset: Ruleset, lists: Sequence[str]) -> list[Diagnostic]:
    """An --affinity list no rule names (a typo, another service's chain) changes nothing: say so."""
    if not lists:
        return []
    named = _recent_lists(ruleset)
    shown = sorted(named)[:4]
    here = ", ".join(shown) + (f" and {len(named) - len(shown)} more" if len(named) > len(shown) else "")
    return [Diagnostic(f"no rule of these tables uses the xt_recent list {name!r}, so it changes nothing; the "
                       f"lists they use: {here or 'none'}", field="--affinity", severity=Severity.WARNING)
            for name in dict.fromkeys(lists) if name not in named]


def _recent_lists(ruleset: Ruleset) -> set[str]:
    """The xt_recent lists the rules name (``DEFAULT`` for a recent match without ``--name``, as the kernel
    does). Reads the spec texts and parses only the few rules that mention recent: most chains are kept as
    texts (a full sync's 110,000), and building every Rule would cost more than the trace."""
    from kubeproxy_sim.netfilter.model import Rule

    named: set[str] = set()
    for table in ruleset.tables:
        for chain in table.chains:
            specs = chain.specs if chain.specs is not None else (r.spec for r in chain.rules)
            for spec in specs:
                if "recent" not in spec:
                    continue
                options = Rule.make(chain.name, spec).parsed.options
                matches = sum(1 for o in options if o.flag == "-m" and o.args[:1] == ("recent",))
                names = [o.value for o in options if o.module == "recent" and o.flag == "--name"]
                named.update(names)
                if len(names) < matches:
                    named.add("DEFAULT")
    return named


def trace_text(result: TraceResult, con: Console | None = None, notes: Sequence[str] = (),
               rules_of: str | None = None) -> str:
    """The person's view of a trace. Plain (a pipe, a file) it is the tracer's own text, line for line;
    on a terminal the paths are drawn with box-drawing characters and the verdicts coloured. The header says
    whose rules were read (``rules_of``: ``node NAME``, or the dump's name); ``notes`` follow it (see
    :func:`unserved_port_notes`)."""
    from kubeproxy_sim.netfilter.trace import (
        no_connection_note,
        origin_words,
        packet_head,
        percent,
        source_kept,
        state_note,
    )

    con = con or Console(sys.stdout)
    p = result.packet
    origin = origin_words(result)
    out = [con.paint(packet_head(p), "bold") + f" ({origin})"
           + (f" through the rules of {rules_of}" if rules_of else ""), *state_note(p),
           *(f"note: {note}" for note in notes), ""]
    chars = UNICODE_TREE if con.unicode else INDENT_TREE
    for o in result.outcomes:
        head = f"DNAT to {o.destination}" if o.verdict == "DNAT" else o.verdict
        head = con.paint(head, *VERDICT_STYLES.get(o.verdict, ()))
        if o.masquerade:
            head += ", " + con.paint("masqueraded", "yellow")
        out.append(f"{head}: {con.paint(percent(o.probability_exact), 'bold')}")
        note = no_connection_note(o)
        if note:
            out.append(f"  ({note})")
        kept = source_kept(result, o)
        if kept:
            out.append(f"  {kept}")
        out.extend(render_tree(outcome_forest(o), chars, color=con.color, indent="  "))
        out.append("")
    if result.uncertain:
        out.append(con.paint("Uncertain (the answer depends on these):", "yellow", "bold"))
        for u in result.uncertain:
            where = f"line {u.line}" if u.line else "rule"
            out.append(f"  {where}: {printable(u.rule)}")
            out.append(f"    {con.paint(u.reason, 'yellow')}")
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- --graph


def _graph_format(path: str) -> str:
    from pathlib import Path

    from kubeproxy_sim.cli.graph_cmd import SUFFIX_FORMATS

    fmt = SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(Diagnostic(f"cannot tell the picture's format from {path!r}; expected a file ending in "
                                    f"{GRAPH_SUFFIXES}", field="--graph"))
    return fmt


def service_hit(ruleset: Ruleset, result: TraceResult) -> ServiceRef | None:
    """The service port whose rules in the shared chains the packet matched first (None: no service)."""
    from kubeproxy_sim.graph import ServiceRef
    from kubeproxy_sim.graph.labels import service_port_of
    from kubeproxy_sim.graph.scope import PER_SERVICE_PREFIXES
    from kubeproxy_sim.graph.steps import step_rule

    for outcome in result.outcomes:
        for step in outcome.path:
            if step.chain.startswith(PER_SERVICE_PREFIXES):
                continue
            found = step_rule(ruleset, step)
            owner = service_port_of(found[1].parsed) if found is not None else None
            if owner is not None:
                return ServiceRef(*owner)
    return None


def traced_graph(ruleset: Ruleset, result: TraceResult, dump: str | None = None,
                 first: TraceResult | None = None, lines: LineText | None = None, generated: bool = False) -> Graph:
    """The node's graph scoped to the service hit, every outcome's path highlighted, and each outcome's
    verdict labelled with its probability. For a later packet of a connection (no nat rule on its paths),
    ``first``, its connection's first packet traced, tells the service, and the rules its own paths matched
    (filter's, say) are drawn beside the service's to be highlighted; when none is, the title says why.

    A packet no service catches gets the rules its paths matched, not the whole node: on a large cluster
    that is tens of thousands of edges, of which a handful are the packet's. The title says so. Tooltips quote
    a rule's line as ``lines`` gives it: trace's own citations (the dump's lines as read, ``rules --full``'s).
    ``generated``: the proxier's own rules, not a dump (see ``build_graph``).
    """
    from kubeproxy_sim.cli.graph_cmd import scoped_graph
    from kubeproxy_sim.graph import highlight
    from kubeproxy_sim.graph.steps import path_selection
    from kubeproxy_sim.netfilter.trace import packet_head

    p = result.packet
    title = f"trace {packet_head(p)}"
    ref = service_hit(ruleset, first or result)
    if ref is None:
        graph = path_graph(ruleset, result, title, dump, lines, generated)
    else:
        also = path_selection(ruleset, (o.path for o in result.outcomes)) if first is not None else None
        # Endpoints are never folded: a folded endpoint could hide the outcome being drawn.
        graph = scoped_graph(ruleset, title, service=ref, max_endpoints=0, dump=dump, cite=lines, also=also,
                             generated=generated)
    for outcome in result.outcomes:
        graph = highlight(graph, outcome.path)
    if first is not None and graph.edges and not any(e.highlighted for e in graph.edges):
        graph = graph.with_title(f"{graph.title}; nothing highlighted: {LATER_UNMARKED}")
    return label_outcomes(graph, result)


LATER_UNMARKED = ("a later packet of a connection meets no nat rule (its first packet did, --ctstate NEW shows "
                  "them), and it matched no other rule drawn")


def path_graph(ruleset: Ruleset, result: TraceResult, title: str, dump: str | None = None,
               lines: LineText | None = None, generated: bool = False) -> Graph:
    """Only the rules the outcomes' paths matched (and the chains and verdicts they lead to), in every
    table the paths cross; with no rule matched, an empty graph whose title says so. From a ``dump``, the
    jumps the node adds to it (a restore input's hooks) are marked as added; rules' tooltips quote their lines
    as ``lines`` gives them (as trace's ``rule`` and ``graph --rules`` do)."""
    from kubeproxy_sim.graph import Graph, build_graph
    from kubeproxy_sim.graph.steps import path_selection
    from kubeproxy_sim.graph.transform import mark_added

    selection, tables = path_selection(ruleset, (o.path for o in result.outcomes))
    if not selection:
        return Graph(title=f"{title}: no rule matched it")
    graph = build_graph(ruleset, tables=tables, title=f"{title}, only the rules it matched (it hits no service)",
                        scope=selection, cite=lines, generated=generated)
    return mark_added(graph) if dump else graph


def label_outcomes(graph: Graph, result: TraceResult) -> Graph:
    """Each outcome's probability on the verdict it ends in (the last verdict of its kind on its path), in the
    graph's own percent (``25.0%``) so it reads as the split's edges beside it do."""
    from dataclasses import replace

    from kubeproxy_sim.graph.labels import percent
    from kubeproxy_sim.graph.steps import path_edges

    kinds = {n.id: n.kind.value for n in graph.nodes}
    shares: dict[str, list[str]] = {}
    unplaced: list[str] = []  # outcomes no drawn rule decides: a chain's policy (ACCEPT), or outside the scope
    for outcome in result.outcomes:
        ends = [e for e in path_edges(graph, outcome.path) if kinds.get(e.target) == outcome.verdict]
        text = percent(outcome.probability_exact) + (" masqueraded" if outcome.masquerade else "")
        if ends:
            shares.setdefault(ends[-1].target, []).append(text)
        else:
            unplaced.append(f"{outcome.verdict} {text}")
    nodes = tuple(replace(n, label=n.label + "\ntraced: " + ", ".join(shares[n.id])) if n.id in shares else n
                  for n in graph.nodes)
    title = graph.title + (f" ({', '.join(unplaced)})" if unplaced else "")
    return replace(graph, nodes=nodes, title=title)


TRACE_GRAPH_ALTERNATIVE = "name a .dot or .mmd file for --graph"
TRACE_MERMAID_ADVICE = "name a .dot or .svg file for --graph instead"
TRACE_IMAGE_ADVICE = "name a .dot file for --graph instead (text, written at once)"


def write_trace_graph(ruleset: Ruleset, result: TraceResult, path: str, fmt: str, dump: str | None,
                      first: TraceResult | None = None, lines: LineText | None = None, generated: bool = False) -> None:
    from kubeproxy_sim.cli.graph_cmd import render, warn_size, write

    with progress("building the graph"):
        graph = traced_graph(ruleset, result, dump, first, lines, generated)
    warn_size(graph, fmt, mermaid_advice=TRACE_MERMAID_ADVICE, image_advice=TRACE_IMAGE_ADVICE)
    with progress("drawing the graph"):
        data = render(graph, fmt, TRACE_GRAPH_ALTERNATIVE)
    marked = sum(1 for e in graph.edges if e.highlighted)
    why = f": {LATER_UNMARKED}" if first is not None and not marked else ""
    write(data, fmt, path, f"{marked} traced rules highlighted{why}", "--graph")
