"""``kubeproxy-sim send``: connections through the simulated cluster, tallied per destination pod."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from kubeproxy_sim.cli.options import add_input_flags, no_stdin, parse_int
from kubeproxy_sim.cli.output import (
    Column,
    Console,
    add_output_flags,
    check_writable,
    console,
    emit,
    progress,
    refuse_nothing_read,
    render_table,
    report,
)

if TYPE_CHECKING:
    from kubeproxy_sim.simulator.network import Simulator
    from kubeproxy_sim.simulator.send import Delivered, SendResult

T = TypeVar("T")
EXAMPLES = """examples:
  kubeproxy-sim send --scenario bootcamp --from external --to node/node1:31526 --count 1000
  kubeproxy-sim send --scenario bootcamp --from pod/default/kubernetes-bootcamp-855d5cc575-4lb7w \\
      --to kubernetes-bootcamp.default:8080 -o json
  kubeproxy-sim send --scenario upstream-external-traffic-policy-local --from external --to 192.168.0.2:3001 -o yaml
  kubeproxy-sim send --scenario bootcamp --from external --to node/node2:31526 --count 5000 --plot shares.svg
  kubeproxy-sim send -f objects.yaml --hosts hosts.txt --from pod/default/client --to my-externalname.default:443
  kubeproxy-sim send --scenario bootcamp --from pod/default/kubernetes-bootcamp-855d5cc575-4lb7w \
      --to kubernetes-bootcamp.default --proto icmp --count 3
"""
BAR_WIDTH = 30
HOSTS_EXPECTED = "an /etc/hosts-style file (ADDRESS NAME [ALIAS...] lines)"
"""What --hosts wants, said when the file it names cannot be read."""
EIGHTHS = " ▏▎▍▌▋▊▉"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "send",
        help="send connections through the simulated cluster and count which pod answers",
        description="Simulate the whole cluster (every node's kube-proxy rules, conntrack and routes, the "
        "pods, cluster DNS, the load balancer and the outside) and make connections from a source to a "
        "destination: per destination pod the count, the share, the exact expected share and the source "
        "address the pod saw; failures with their reason. -o json|yaml is a public contract (README).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_flags(parser)
    parser.add_argument("--from", dest="source", required=True, metavar="SRC",
                        help="pod/NS/NAME, node/NAME, external (203.0.113.10) or external:IP")
    parser.add_argument("--to", dest="destination", required=True, metavar="DST",
                        help="IP:PORT, NAME.NS:PORT, NAME.NS.svc.cluster.local:PORT, node/NAME:NODEPORT, or a "
                        "LoadBalancer ingress IP:PORT; a Service's name takes a port's name too (NAME.NS:http); "
                        "with --proto icmp the host alone (IP, node/NAME, NAME.NS); 0.0.0.0 ([::]) is the client's "
                        "own host, as Linux sends to it (127.0.0.1, ::1)")
    parser.add_argument("--proto", default="tcp", choices=["tcp", "udp", "sctp", "icmp", "icmpv6"],
                        help="protocol (default tcp); icmp (icmpv6) pings: an echo request, answered or not by an "
                        "echo reply (icmp to an IPv6 host is icmpv6, as ping sends it)")
    parser.add_argument("--count", type=parse_int, default=100, metavar="N", help="connections (default 100)")
    parser.add_argument("--seed", type=parse_int, default=1, help="random seed (default 1)")
    parser.add_argument("--hosts", metavar="FILE", type=no_stdin(
                        "the outside hosts are read from a file, not standard input", HOSTS_EXPECTED),
                        help="an /etc/hosts-style file: the outside hosts "
                        "(what ExternalName services point at)")
    parser.add_argument("--pcap", metavar="FILE", help="write every hop's packets to a pcap file")
    parser.add_argument("--plot", metavar="FILE.png|FILE.svg",
                        help="also draw the shares (observed vs expected) as a bar chart")
    add_output_flags(parser.add_argument_group("output"))
    parser.set_defaults(func=run)


def read_hosts(path: str | None) -> tuple[tuple[str, str], ...]:
    from kubeproxy_sim.errors import Diagnostic, InputError, cannot_read
    from kubeproxy_sim.objects.stdin import read_text
    from kubeproxy_sim.simulator.dns import parse_hosts

    if not path:
        return ()
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Diagnostic(cannot_read(exc, HOSTS_EXPECTED), file=path, field="--hosts")) from None
    return parse_hosts(text, path)


def build_simulator(args: argparse.Namespace, family: int | None = None) -> tuple[Simulator, bool]:
    """Objects and the base config from the input flags, then the simulator (with --seed and --hosts);
    ``family``: the packet's, as load_inputs takes it.

    Every message about the input is reported here, once; objects and settings in error are left out and the
    rest is simulated, as kube-proxy would. The flag says whether there were errors (the exit status).
    """
    import random

    from kubeproxy_sim.cli.options import load_inputs
    from kubeproxy_sim.simulator.network import Simulator

    with progress("loading objects"):
        inputs = load_inputs(args, family=family)
    report(inputs.diagnostics, args)
    refuse_nothing_read(inputs, "send")
    hosts = read_hosts(getattr(args, "hosts", None))
    with progress("building the cluster"):
        sim = Simulator(inputs.cluster, inputs.config, rng=random.Random(getattr(args, "seed", 1)), hosts=hosts)
    report(sim.topology.warnings, args)  # what the objects say the network cannot be (a host-network pod's address)
    return sim, bool(inputs.errors)


def send_counted(sim: Simulator, source: str, destination: str, *, proto: str = "tcp", count: int = 100,
                 seed: int | None = None, record: bool = False,
                 tick: Callable[..., None] | None = None) -> SendResult:
    """:func:`kubeproxy_sim.simulator.send.send`, calling ``tick`` after each connection (a progress bar), its rows
    with their words (:func:`kubeproxy_sim.analysis.why.send_why` and :func:`with_port_note`; a ping's:
    :func:`.ping.ping_why`, as no Service port's rule is about an echo)."""
    from kubeproxy_sim.analysis.why import send_why
    from kubeproxy_sim.netfilter.packet import ICMP_PROTOS
    from kubeproxy_sim.simulator import send as simsend

    result = simsend.send(sim, source, destination, proto=proto, count=count, seed=seed, record=record,
                          on_connection=tick)
    if proto in ICMP_PROTOS:
        from kubeproxy_sim.simulator.ping import ping_why

        return simsend.with_destination_note(ping_why(sim, result))
    return simsend.with_destination_note(with_port_note(sim, send_why(sim, result)))


def with_port_note(sim: Simulator, result: SendResult) -> SendResult:
    """``result`` with :func:`kubeproxy_sim.analysis.targets.unserved_port_note` of each address the connections
    went to first on every row's words: a connection to a Service's address on a port it does not define meets no
    rule of kube-proxy's and fails (NO_ROUTE, a timeout) or reaches whatever else has the address, rows that alone
    never name the port (u-walk 2: ``--to NAME.NS:9999``, which ``trace`` says in the same words)."""
    import dataclasses

    from kubeproxy_sim.analysis.targets import unserved_port_note

    target = result.target
    if target is None:
        return result
    notes = tuple(note for ip in dict.fromkeys(target.addresses)
                  if (note := unserved_port_note(sim.cluster, sim.base, ip, target.port, result.proto)) is not None)
    if not notes:
        return result
    return dataclasses.replace(
        result, delivered=tuple(dataclasses.replace(d, why=(*notes, *d.why)) for d in result.delivered),
        failed=tuple(dataclasses.replace(f, why=(*notes, *f.why)) for f in result.failed))


def ticking(items: Iterable[T], tick: Callable[..., None]) -> Iterator[T]:
    """``items``, calling ``tick`` after each: a progress bar for a consumer that takes an iterable (the pcap
    writer, ~20 us a frame: a --count 65535 run writes a million frames, seconds of silence otherwise)."""
    for item in items:
        yield item
        tick()


# --------------------------------------------------------------------------- text


def share_bar(share: float, width: int = BAR_WIDTH, unicode: bool = False) -> str:
    """A horizontal bar ``share`` of ``width`` long: eighth blocks on a terminal, ``#`` elsewhere."""
    share = min(max(share, 0.0), 1.0)
    if not unicode:
        return "#" * round(share * width)
    eighths = round(share * width * 8)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


NO_POD = "*"  # (topology.NO_POD_MARK, which --from pod/NS/NAME* takes after a name)
"""The mark of a row whose address no Pod object has (``pod_object`` false in JSON), one word so the table's
columns stay words; :data:`NO_POD_NOTE` says what it means under the table."""
NO_POD_NOTE = (f"{NO_POD} no Pod object was read at this address: an EndpointSlice's endpoint, named after its "
               "targetRef, else made up from its address (NS/ep-10-244-1-10: '-' for its dots or colons), as -o "
               "json names it; send has it answer on the ports its slices list")


def pod_shown(row: Delivered) -> str:
    """A row's destination as a person reads it: the JSON's ``pod`` (the stable key ``--from pod/...`` takes, so a
    row's name is the same in every output), marked when no Pod object was read at its address, as a name made up
    from the address (``NS/ep-10-244-1-10``) reads like a Pod's; the ip column gives the address itself."""
    return f"{row.pod}{NO_POD}" if row.pod_object is False else row.pod


def delivered_table(result: SendResult, con: Console) -> str:
    """One row per destination: count, share, expected share, the source it saw, and a bar of its share."""
    rows = [(pod_shown(d), d.ip, d.node or "-", d.count, _pct(d.share), _pct(d.expected), ", ".join(d.sources_seen),
             con.paint(share_bar(d.share, unicode=con.unicode), "cyan")) for d in result.delivered]
    columns = [Column("pod"), Column("ip"), Column("node"), Column("count", "right"), Column("share", "right"),
               Column("expected", "right"), Column("source seen"), Column("")]
    return render_table(columns, rows, color=con.color)


def failed_table(result: SendResult, con: Console) -> str:
    rows = [(f.reason, f.count, _pct(f.count / result.connections), _pct(f.expected), f.detail)
            for f in result.failed]
    columns = [Column("failed", style=lambda _v: ("red", "bold")), Column("count", "right"),
               Column("share", "right"), Column("expected", "right"), Column("detail")]
    return render_table(columns, rows, color=con.color)


def send_text(result: SendResult, con: Console | None = None) -> str:
    """A person's view: the run, the pods that answered as a table with bars, then the failures."""
    con = con or Console(sys.stdout)
    plural = "" if result.connections == 1 else "s"
    what = (f"{result.proto} ping{plural} (echo request{plural})" if result.ping is not None else
            f"{result.proto} connection{plural}")
    head = (f"{result.connections} {what} from {result.source} to {result.destination}"
            + (f" (seed {result.seed})" if result.seed is not None else ""))
    parts = [con.paint(head, "bold"), ""]
    if result.ping is not None:
        answered = sum(d.count for d in result.delivered)
        several = len(result.ping.resolved) > 1  # (ping pings the one address its lookup gave first)
        parts += [f"answered: {answered} of {result.connections} (echo replies); the destination is "
                  f"{result.ping.said}" + (f" (one of the {len(result.ping.resolved)} addresses it resolves to: "
                                           "one ping, one lookup, its first answer)" if several else ""), ""]
    if result.delivered:
        parts.append(delivered_table(result, con))
    if result.failed:
        parts += [""] if result.delivered else []
        parts.append(failed_table(result, con))
    if any(d.pod_object is False for d in result.delivered):
        parts += ["", NO_POD_NOTE]
    notes = dict.fromkeys([*(n for d in result.delivered for n in d.why), *(n for f in result.failed for n in f.why)])
    if notes:
        parts += ["", *(f"note: {note}" for note in notes)]
    if result.sticky:
        # kube-proxy's affinity is a recent table in each node's kernel: a balancer or router that spreads one
        # client over several nodes gives it one pod per node (each node's first pick)
        parts += ["", "sessionAffinity ClientIP: each node remembers the client, so its connections through one node "
                      "stay with the pod the first of them reached (one pod per node it enters, when a load "
                      "balancer or router spreads it over nodes); EXPECTED is the share of new clients"]
    return "\n".join(p.rstrip("\n") for p in parts) + "\n"


# --------------------------------------------------------------------------- the command


def named_port(destination: str) -> str | None:
    """The port name of ``--to HOST:PORTNAME`` (None: a number), the value checked for send's forms first (usage
    errors, a port out of range invalid input). Only a Service's DNS name has named ports: with an address or
    ``node/NAME`` it is a usage error."""
    from kubeproxy_sim.errors import Diagnostic, UsageError
    from kubeproxy_sim.simulator.send import NAMED_DESTINATION_FORMS, destination_shape

    host, port = destination_shape(destination, port_names=True)
    if port.isdigit():
        return None
    if host.startswith(("node/", "[")) or all(part.isdigit() for part in host.split(".")):
        raise UsageError(Diagnostic(f"{destination!r}: a port name needs a Service's DNS name (NAME.NS:PORTNAME, "
                                    f"read from the Service); an address or a node takes a number; expected "
                                    f"{NAMED_DESTINATION_FORMS}", field="--to"))
    return port


def port_numbered(sim: Simulator, source: str, destination: str, proto: str) -> str:
    """``--to HOST:PORTNAME`` with the number of the Service's port of that name and protocol: the Service whose
    name answers the client's lookup of HOST by its own resolver (a pod's resolv.conf: dnsPolicy, dnsConfig), so
    the port is read where the connection, which resolves HOST the same way, then goes. Errors quote
    ``destination`` as given."""
    from kubeproxy_sim.errors import Diagnostic, InputError
    from kubeproxy_sim.simulator.send import parse_source, resolve_host

    host, _, name = destination.rpartition(":")
    answer = resolve_host(sim, parse_source(sim, source), host, destination)
    svc = sim.dns.service_named(answer.name)
    if svc is None:
        raise InputError(Diagnostic(f"{destination!r}: {host} resolves to {answer.name}, which is no Service's name, "
                                    f"so port name {name!r} names no port; expected a Service's name, or a port "
                                    "number", field="--to"))
    number = next((p.port for p in svc.ports if p.name == name and p.protocol.value == proto.upper()), None)
    if number is None:
        have = ", ".join(f"{p.name or '(unnamed)'}={p.port}/{p.protocol.value}" for p in svc.ports)
        raise InputError(Diagnostic(f"{destination!r}: Service {svc.key} has no {proto.upper()} port named {name!r} "
                                    f"(its ports: {have or 'none'})", field="--to"))
    return f"{host}:{number}"


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.cli.dist_cmd import check_connections
    from kubeproxy_sim.netfilter.packet import ICMP_PROTOS
    from kubeproxy_sim.simulator.send import check_source_form, packet_family, ping_family

    check_connections(args.count, "--count")  # before any work
    check_source_form(args.source)  # --from's and --to's shapes (usage errors) before the objects are read
    ping = args.proto in ICMP_PROTOS
    port_name = None if ping else named_port(args.destination)  # (checking --to's shape)
    if args.plot is not None:
        from kubeproxy_sim.cli.plot import check_plot_path

        check_plot_path(args.plot)  # refuse a bad name or an unwritable place before the work
    if args.pcap is not None:
        check_writable(args.pcap, "--pcap", expected="FILE.pcap")
    # (ping_family checks a ping's --to shape: a host, no port)
    family = (ping_family if ping else packet_family)(args.source, args.destination)
    sim, input_errors = build_simulator(args, family)
    destination = args.destination if port_name is None else port_numbered(sim, args.source, args.destination,
                                                                            args.proto)
    with progress("sending connections", total=max(args.count, 0)) as tick:
        result = send_counted(sim, args.source, destination, proto=args.proto, count=args.count,
                              seed=args.seed, record=args.pcap is not None, tick=tick)
    if args.pcap is not None:
        from kubeproxy_sim.simulator.pcap import write_pcap

        with progress("writing the pcap", total=len(result.hops)) as tick:
            frames = write_pcap(args.pcap, ticking(result.hops, tick))
        print(f"kubeproxy-sim: wrote {frames} packets to {args.pcap}", file=sys.stderr)
    if args.plot is not None:
        from kubeproxy_sim.cli.plot import plot_send

        with progress("drawing"):
            plot_send(result.as_json(), args.plot)
        print(f"kubeproxy-sim: wrote {args.plot}", file=sys.stderr)
    emit(result.as_json() if args.output != "text" else None, args.output,
         text=lambda: send_text(result, console(args)))
    return 1 if input_errors else 0
