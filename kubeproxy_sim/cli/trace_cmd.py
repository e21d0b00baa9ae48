"""``kubeproxy-sim trace``: where one packet goes through a node's rules, and why.

The rules come from a dump (``--rules FILE``, an iptables-save of a node or a
kube-proxy restore input) or are generated from objects (``-f``/``--scenario``
plus the node flags). A restore input has no built-in chains; the jumps
kube-proxy installs in them are added, so the packet reaches its chains.
"""

from __future__ import annotations

import argparse
import json
import sys

from kubeproxy_sim.cli.options import add_input_flags
from kubeproxy_sim.errors import Diagnostic, InputError
from kubeproxy_sim.proxier.full import as_node_holds_it

EXAMPLES = """examples:
  kubeproxy-sim trace --scenario bootcamp --src 10.0.0.2 --dst 10.96.0.10 --dport 8080
  kubeproxy-sim trace --rules node.rules --node-ip 192.168.0.2 --src 203.0.113.9 --dst 192.168.0.2 --dport 30080
  kubeproxy-sim trace --rules node.rules --src 10.0.0.2 --dst 172.30.0.41 --dport 80 -o json
"""


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
    parser.add_argument("--rules", metavar="DUMP", help="an iptables-save (or iptables-restore) text file")
    add_input_flags(parser)
    pkt = parser.add_argument_group("the packet")
    pkt.add_argument("--src", required=True, metavar="IP", help="source address")
    pkt.add_argument("--dst", required=True, metavar="IP", help="destination address")
    pkt.add_argument("--dport", required=True, type=int, metavar="N", help="destination port")
    pkt.add_argument("--sport", type=int, metavar="N", help="source port (default: unknown)")
    pkt.add_argument("--proto", default="tcp", choices=["tcp", "udp", "sctp"], help="protocol (default tcp)")
    pkt.add_argument("--in-iface", metavar="IFACE", help="the interface it arrives on (default: unknown, or "
                     "none for a packet from the node itself)")
    pkt.add_argument("--out-iface", metavar="IFACE", help="the interface it leaves by (default: unknown)")
    pkt.add_argument("--affinity", action="append", default=[], metavar="LIST",
                     help="an xt_recent list (session affinity, e.g. KUBE-SEP-...) that already holds the client "
                     "(repeatable)")
    pkt.add_argument("--bridge-port", metavar="IFACE", help="the bridge port it came in through (physdev)")
    pkt.add_argument("--ctstate", default="NEW", choices=["NEW", "ESTABLISHED", "RELATED", "INVALID"],
                     help="its connection's conntrack state (default NEW: the first packet)")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text", help="output format")
    parser.set_defaults(func=run)


def _packet(args: argparse.Namespace):
    from kubeproxy_sim.netfilter.packet import CtState, Packet, parse_address

    for flag, value in (("--src", args.src), ("--dst", args.dst)):
        try:
            parse_address(value)
        except ValueError as exc:
            raise InputError(Diagnostic(f"{exc}; expected an IPv4 or IPv6 address", field=flag)) from None
    try:
        return Packet.of(args.proto, args.src, args.dst, args.dport, args.sport, in_iface=args.in_iface,
                         out_iface=args.out_iface, bridge_port=args.bridge_port, ctstate=CtState(args.ctstate))
    except ValueError as exc:
        raise InputError(Diagnostic(f"{exc}; expected addresses of one family and ports 0-65535",
                                    field="--src/--dst/--dport/--sport")) from None


def _from_dump(args: argparse.Namespace, family: int):
    from kubeproxy_sim.netfilter.codec import parse_ruleset_file

    ruleset = parse_ruleset_file(args.rules, ipv6=family == 6)
    addresses = tuple(ip.split("/")[0] for ip in (args.node_ip or ()))
    return as_node_holds_it(ruleset), addresses, ()


def _from_objects(args: argparse.Namespace, family: int):
    from kubeproxy_sim.cli.options import load_node_rules

    node = load_node_rules(args)
    for diagnostic in node.inputs.diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)
    if (6 if node.ruleset.ipv6 else 4) != family:
        raise InputError(Diagnostic(f"the packet is IPv{family} but the node's proxier is "
                                    f"IPv{6 if node.ruleset.ipv6 else 4}; expected addresses of that family "
                                    "(or --ip-family)", field="--src/--dst"))
    return node.ruleset, node.node_addresses(), node.inputs.errors


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, render_text

    packet = _packet(args)
    if args.rules and (args.filename or args.scenario):
        raise InputError(Diagnostic("--rules and -f/--scenario both given; expected one source of rules",
                                    field="--rules"))
    if args.rules:
        ruleset, addresses, errors = _from_dump(args, packet.family)
    elif args.filename or args.scenario:
        ruleset, addresses, errors = _from_objects(args, packet.family)
    else:
        raise InputError(Diagnostic("no rules given; expected --rules DUMP, -f PATH or --scenario NAME",
                                    field="--rules"))
    node = NodeContext.of(addresses, affinity=args.affinity)
    result = Tracer(ruleset, node).trace(packet)
    if args.output == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(result))
    return 1 if errors else 0
