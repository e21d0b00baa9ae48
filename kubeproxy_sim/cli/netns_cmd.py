"""``kubeproxy-sim netns``: the cluster in real network namespaces (up, send, exec, down, gc)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kubeproxy_sim.cli.options import add_input_flags, idle_with_dump, no_stdin, parse_float, parse_int
from kubeproxy_sim.cli.output import add_output_flags, emit, progress, report
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError

if TYPE_CHECKING:
    from kubeproxy_sim.kernel.verify import Origin


CLUSTER_NAME_HELP = "the cluster, as netns up --name named it"
"""netns send|exec|down's NAME: named so in --help's usage, as its errors name it (NAME: ...) and README writes it."""

def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "netns", help="build the cluster in real network namespaces and send real packets (root)",
        description="Build the cluster out of Linux network namespaces on this machine (one per node, pod and "
        "external client), load each node's generated rules with iptables-restore and send real traffic. "
        "Needs root and iptables. Only namespaces named kpsim-NAME.* are ever created or touched.",
        epilog="examples:\n  kubeproxy-sim netns up --scenario bootcamp --name demo\n"
        "  kubeproxy-sim netns send demo --from external --to node/node1:31526 --count 200\n"
        "  kubeproxy-sim netns send demo --from node/node1 --to 10.96.142.87:8080 -o yaml\n"
        "  kubeproxy-sim netns exec demo node/node1 -- iptables-save -t nat\n  kubeproxy-sim netns down demo\n"
        "  kubeproxy-sim netns verify --scenario bootcamp\n  kubeproxy-sim netns gc",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    up = verbs.add_parser(
        "up", help="build a cluster", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build the cluster in namespaces kpsim-NAME.* and leave it up until `netns down NAME`. "
        "Endpoints without a Pod object are served from one namespace per node and port set once there are "
        "many of them (the packets' path through the rules is the same).",
        epilog="examples:\n  kubeproxy-sim netns up --scenario bootcamp --name demo\n"
        "  kubeproxy-sim netns up -f cluster.yaml --hostname-override node1 --name lab --client 198.51.100.7")
    add_input_flags(up)
    up.add_argument("--name", required=True, help="the cluster's name (namespaces are kpsim-NAME.*)")
    up.add_argument("--client", action="append", default=[], metavar="IP",
                    help="an external client address to create (repeatable; 203.0.113.10, or 2001:db8:ffff::10 "
                    "in an IPv6 cluster, always exists)")
    up.set_defaults(func=run_up)

    send = verbs.add_parser(
        "send", help="open connections and count which pod answered",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Open COUNT real connections from a source namespace and report, as the simulator's `send` "
        "does, which pod answered (and the source address it saw) or how the connection failed. A name is resolved "
        "by the simulator's cluster DNS with the source pod's resolver (its dnsPolicy and dnsConfig, as "
        "`netns up` recorded it: the search list, ndots and nameserver `send` uses), and, as in `send`, each "
        "connection from a pod that asks kube-dns first sends a real DNS query over UDP to its first nameserver "
        "(kube-dns's cluster IP, through the nodes' rules), walking its search list, answered by a responder in "
        "each kube-dns endpoint pod: a query refused or dropped fails the connection (a row whose detail starts "
        "'DNS query to'). A silent failure "
        "is named DROP (a node's own refused datagram REJECT) only when the nodes' counting copies of their DROP "
        "(REJECT) rules met this run's packets, which carry a DSCP value of their own; else TIMEOUT (DROP).",
        epilog="examples:\n  kubeproxy-sim netns send demo --from external --to node/node1:31526 --count 200\n"
        "  kubeproxy-sim netns send demo --from pod/default/kubernetes-bootcamp-855d5cc575-4lb7w "
        "--to 10.96.142.87:8080\n  kubeproxy-sim netns send demo --from node/node1 --to 10.96.142.87:8080 -o json")
    send.add_argument("name", metavar="NAME", help=CLUSTER_NAME_HELP)
    send.add_argument("--from", dest="src", required=True,
                      help="pod/NS/NAME, node/NAME, external, external:IP, or an address")
    send.add_argument("--to", dest="dst", required=True,
                      help="IP:PORT ([IPv6]:PORT), node/NAME:NODEPORT or NAME:PORT: a Service NAME.NS (or its "
                      "FQDN), a bare NAME by the source pod's search list (its dnsPolicy and dnsConfig), an "
                      "endpoint's or a pod's DNS name")
    send.add_argument("--proto", default="tcp", choices=["tcp", "udp", "sctp", "icmp", "icmpv6"],
                      help="the connections' protocol (default tcp; sctp is refused where the kernel has no SCTP "
                      "sockets); icmp (icmpv6) is one `ping -c COUNT` to a host without a port, its rows as "
                      "`send --proto icmp`'s")
    send.add_argument("--count", type=parse_int, default=100, metavar="N", help="connections to open (default 100)")
    send.add_argument("--seed", type=parse_int, help="fix our side's randomness: the source ports of the "
                      "connections and DNS queries, the queries' IDs, a headless Service's address per connection "
                      "from a source that sends no query (default: unseeded, and -o json's seed is null)")
    send.add_argument("--timeout", type=parse_float, default=1.5, metavar="SECONDS",
                      help="seconds to wait per connection (default 1.5: longer than TCP's first SYN "
                      "retransmission, so a REJECT reads as refused)")
    add_output_flags(send)
    send.set_defaults(func=run_send)

    exe = verbs.add_parser("exec", help="run a command in a node's (or pod's) namespace",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="examples:\n  kubeproxy-sim netns exec demo node/node1 -- iptables-save -t nat\n"
                           "  kubeproxy-sim netns exec demo node/node1 -- conntrack -L")
    exe.add_argument("name", metavar="NAME", help=CLUSTER_NAME_HELP)
    exe.add_argument("target", metavar="TARGET", help="node/NAME, pod/NS/NAME, external[:IP] or an address of a "
                     "pod, node, pod bridge or outside client of the cluster (as netns send --from)")
    exe.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    exe.set_defaults(func=run_exec)

    down = verbs.add_parser("down", help="remove a cluster", epilog="example: kubeproxy-sim netns down demo")
    down.add_argument("name", metavar="NAME", help=CLUSTER_NAME_HELP)
    down.set_defaults(func=run_down)

    gc = verbs.add_parser("gc", help="remove what killed runs left behind",
                          description="Remove the namespaces of clusters whose owner process is gone (a killed "
                          "build, verify or test run, or a cluster whose keeper was killed), whatever state "
                          "directory they were started with, the scratch namespace a killed tools/bench.py left "
                          "(kpsim-bench-PID.net), and the scratch pairs of a killed kernel test run (kpsim-RUN-TAG.c "
                          "and .n, beside their owner record .net); live ones are never touched.")
    gc.add_argument("--only", metavar="PREFIX", default="",
                    help="only clusters whose name starts with PREFIX (a test run's own, say)")
    gc.set_defaults(func=run_gc)

    _register_verify(verbs)


def _register_verify(verbs: argparse._SubParsersAction) -> None:
    verify = verbs.add_parser(
        "verify", help="check the simulator against the kernel (-f/--scenario: the whole cluster in namespaces), "
        "or the tracer (--rules: a real node's iptables-save replayed)",
        description="Objects mode (-f or --scenario): build the whole cluster in namespaces and run every flow "
        "both in the simulator and in the kernel, comparing what each client socket sees. Dump mode (--rules "
        "DUMP): stage a namespace that plays the node (the dump loaded with iptables-restore, or "
        "ip6tables-restore for an ip6tables-save, its addresses, "
        "a server in every DNAT target, a client pod and an external client), then for each flow compare the "
        "tracer's prediction with real connections: endpoints and shares, masquerading, REJECT/DROP as the "
        "socket sees them, each count against an exact binomial range, a chi-square over each flow's outcomes, "
        "at the whole run's --alpha as objects mode judges them; a flow whose ranges start at 0 (too few "
        "connections) cannot tell and says so, and fails the run (exit status 1) in both modes. Everything is "
        "removed at the end.",
        epilog="flows file (YAML):\n  flows:\n  - {from: pod, to: 10.96.0.10:53, proto: udp, count: 200}\n"
        "  - {from: external, to: node:30080}\n  - {from: pod, to: '[fd00:10:96::10]:80'}   (an ip6tables-save)\n\n"
        "examples:\n"
        "  kubeproxy-sim netns verify --rules node.rules --node-ip 192.168.1.5\n"
        "  kubeproxy-sim netns verify --rules node.rules --flows flows.yaml -o json\n\n"
        "objects mode (-f/--scenario): the whole cluster is built in namespaces and every flow is run both in the "
        "simulator and in the kernel;\nflows file: flows: [{from: SRC, to: DST, proto: tcp|udp}], SRC and DST as netns "
        "send's --from and --to take them\n(pod/NS/NAME, node/NAME, external[:IP] or an address; IP:PORT, "
        "node/NAME:PORT or a Service's name, NAME.NS:PORT)\n"
        "  kubeproxy-sim netns verify --scenario bootcamp\n"
        "  kubeproxy-sim netns verify --scenario bootcamp --from external\n"
        "  kubeproxy-sim netns verify -f cluster.yaml --hostname-override node1 --flows flows.yaml -o json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("--rules", metavar="DUMP", help="an iptables-save or ip6tables-save of the node (dump mode; "
                        "the family is read off the dump, --node-ip must match it)")
    add_input_flags(verify)
    verify.add_argument("--flows", metavar="FILE", type=no_stdin(
                        "the flows are read from a file, not standard input", "a YAML file of flows: [...]"),
                        help="the flows to check (default, dump mode: every ClusterIP, "
                        "NodePort, externalIP and LoadBalancer address in the dump, from a pod, the node and outside; "
                        "objects mode: each service's ClusterIP from a pod on each node and from the node, NodePorts "
                        "from outside on each node, LoadBalancer IPs and externalIPs from outside, the hairpin)")
    verify.add_argument("--from", dest="origins", action="append", choices=["pod", "node", "external"],
                        help="the derived flows only from these clients (repeatable; default all three; both "
                        "modes; not with --flows, whose flows run as given)")
    verify.add_argument("--count", type=parse_int, default=None, metavar="N",
                        help="dump mode only: connections per flow (default: each flow sized for its tests, as "
                        "objects mode always does)")
    verify.add_argument("--timeout", type=parse_float, default=None, metavar="SECONDS",
                        help="seconds to wait per connection (default 0.3 in dump mode, 1.5 in objects mode; "
                        "dump mode waits at least 5 s for flows that must be answered)")
    verify.add_argument("--max-flows", type=parse_int, metavar="N", help="check at most N flows")
    verify.add_argument("--bridge", metavar="NAME", help="dump mode only: the pods' bridge on the node (default cbr0)")
    verify.add_argument("--alpha", type=parse_float, default=0.001, help="the false alarm rate of the whole run, split "
                        "over its comparisons (default 0.001; both modes)")
    verify.add_argument("--name", help="the stage's name (namespaces kpsim-NAME.*; default verify-PID)")
    add_output_flags(verify)
    verify.set_defaults(func=run_verify)


def _state(name: str) -> dict[str, Any]:
    from pyroute2 import netns

    from kubeproxy_sim.kernel.state import read_state, state_dir

    _check_cluster_name(name)  # (a name `netns up` refuses is no cluster's: said so, not "start one with" it)
    state = read_state(state_dir(), name)
    if state is None or state.get("status") != "up":
        _refuse_while_building(name, state)  # its builder removes it if it fails: `netns down` is no advice
        raise InputError(Diagnostic(f"no running cluster {name!r}; {_absent_hint(name)}", field="NAME"))
    gone = sorted(set(state.get("namespaces", ())) - set(netns.listnetns()))
    if gone:
        raise InputError(Diagnostic(f"cluster {name!r} is broken: {', '.join(gone)} is gone (removed outside "
                                    f"kubeproxy-sim?); expected `netns down {name}` and a new `netns up`",
                                    field="NAME"))
    return state


def _absent_hint(name: str) -> str:
    """What to do about NAME, which is no running cluster: start one; take down the namespaces a cluster left;
    or nothing, for the scratch namespace of a one-off job still running (build.scratch_netns: owner-marked, no
    state file), which is no cluster and goes when its process ends (taking it down would pull it from under
    that process)."""
    from kubeproxy_sim.kernel import build
    from kubeproxy_sim.kernel.plan import cluster_prefix

    if not build.exists(name):
        return f"start one with `netns up --name {name}`"
    net = f"{cluster_prefix(name)}net"
    try:
        owner = build.read_owner(net)
    except Exception:  # a marker that cannot be read: the advice for a cluster's leftovers stands
        owner = None
    if owner is not None and not owner.state and owner.alive():
        return (f"{net} is the scratch namespace of process {owner.pid}, still running (a one-off job such as "
                "tools/bench.py's iptables-restore timing), and goes when that process ends; expected the name of "
                "a cluster started with `netns up`")
    return f"`netns down {name}` first: its namespaces are still there"


def run_up(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis.render import counted
    from kubeproxy_sim.cli.options import load_inputs
    from kubeproxy_sim.kernel import build, env
    from kubeproxy_sim.kernel.plan import check_placed, checked_clients, plan
    from kubeproxy_sim.kernel.send import topology_record
    from kubeproxy_sim.kernel.state import state_dir

    usable_name(args.name, "--name")
    env.require()
    inputs = load_inputs(args)
    report([d for d in inputs.diagnostics if d.severity is not Severity.NOTE], args)
    if inputs.errors and not inputs.cluster.services:
        raise InputError(list(inputs.errors))
    clients = checked_clients(args.client, inputs.cluster, 6 if inputs.config.ipv6 else 4)
    topo = plan(args.name, inputs.cluster, inputs.config, clients)
    check_placed(clients, topo)
    report(topo.warnings, args)  # what the objects say the stage cannot be, as `send` says it
    # persistent: the cluster outlives this command, owned by a keeper process until `netns down`
    # a SIGTERM while building unwinds like Ctrl-C, so build.up removes what it made
    with _unwinding_on_sigterm(), progress(f"building {len(topo.namespaces())} namespaces"):
        state = build.up(inputs.cluster, topo, state_dir(), topology_record(topo, inputs.cluster),
                         persistent=True)
    print(f"cluster {args.name} is up: {counted(len(topo.nodes), 'node')}, {counted(len(topo.pods), 'workload')}, "
          f"{counted(len(topo.clients), 'external client')}, {counted(len(state['namespaces']), 'namespace')}")
    for node in topo.nodes:
        print(f"  node/{node.name:<20} {', '.join(node.addresses):<30} {node.netns}")
    for client in topo.clients:
        print(f"  external:{client.ip:<17} {'':<30} {client.netns}")
    for note in state["notes"]:
        print(f"  note: {note}")
    return 0


def run_send(args: argparse.Namespace) -> int:
    from kubeproxy_sim.cli.output import console, emit
    from kubeproxy_sim.cli.send_cmd import send_text
    from kubeproxy_sim.kernel import env
    from kubeproxy_sim.kernel.send import resolve_source, send
    from kubeproxy_sim.simulator.send import check_source_form, ping_host, split_destination

    pinging = args.proto in ("icmp", "icmpv6")
    check_source_form(args.src)  # a malformed target is a usage error, whatever the machine and the cluster
    (ping_host if pinging else split_destination)(args.dst)
    env.require()
    if args.count < 1:
        raise InputError(Diagnostic(f"{args.count} is not a count; expected 1 or more", field="--count"))
    if not 0 < args.timeout <= 30:
        raise InputError(Diagnostic(f"{args.timeout} seconds: expected more than 0 and at most 30", field="--timeout"))
    state = _state(args.name)
    if pinging:
        from kubeproxy_sim.kernel.send import ping

        pinged = ping(state, args.src, args.dst, proto=args.proto, count=args.count, seed=args.seed,
                      timeout=args.timeout)
        emit(pinged.as_json() if args.output != "text" else None, args.output,
             text=lambda: send_text(pinged, console(args)))
        return 0
    result = send(state, args.src, args.dst, proto=args.proto, count=args.count, seed=args.seed,
                  timeout=args.timeout)
    if result.note:
        report([Diagnostic(result.note, field="--to", severity=Severity.NOTE)], args)
    address = result.address
    # only external clients are routed that way (build._client_routes): a pod or node enters its own node
    client = resolve_source(state, args.src).netns in state.get("clients", {}).values()
    if client and address in state.get("via_first_node", ()):
        first = next(iter(state["nodes"]))
        report([Diagnostic(f"{address} is a LoadBalancer or external IP: the stage has no balancer "
                           f"or router to spread it, so it enters node/{first}; the simulator's `send` spreads it "
                           "over the nodes the balancer (health checks included) or the network picks",
                           severity=Severity.NOTE)], args)
    # the simulator's `send` output, key for key and line for line (its own renderer), so the two can be diffed
    shared = result.result(state)
    emit(shared.as_json() if args.output != "text" else None, args.output,
         text=lambda: send_text(shared, console(args)))
    return 0


def _as_target(exc: InputError) -> InputError:
    """The error with exec's TARGET named where send's --from was (a usage error stays one)."""
    return type(exc)([dataclasses.replace(d, field="TARGET") if d.field == "--from" else d for d in exc.diagnostics])


def run_exec(args: argparse.Namespace) -> int:
    import subprocess

    from kubeproxy_sim.kernel import env, nsexec
    from kubeproxy_sim.kernel.send import resolve_source
    from kubeproxy_sim.simulator.send import check_source_form

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UsageError(Diagnostic("no command; expected `netns exec NAME node/NODE -- CMD ARGS`", field="CMD"))
    try:
        check_source_form(args.target)  # a malformed target is a usage error, whatever the machine and the cluster
    except InputError as exc:
        raise _as_target(exc) from None
    env.require()
    try:
        source = resolve_source(_state(args.name), args.target)
    except InputError as exc:
        raise _as_target(exc) from None
    try:
        code = nsexec.popen(source.netns, command).wait()
    except FileNotFoundError:
        report([Diagnostic(f"{command[0]}: command not found", field="CMD")], args)
        return 127  # as a shell says it
    except PermissionError:
        report([Diagnostic(f"{command[0]}: permission denied (not an executable)", field="CMD")], args)
        return 126
    except subprocess.SubprocessError as exc:
        raise InputError(Diagnostic(str(exc), field="CMD")) from None
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says it


def _check_cluster_name(name: str) -> None:
    """A positional NAME that ``netns up`` would refuse, refused in plan.check_name's words but named NAME (its
    words name --name, the flag of netns up, which these commands do not take)."""
    usable_name(name, "NAME")


def usable_name(name: str, field: str) -> str:
    """``name`` when ``netns up`` can make namespaces of it; else a usage error (exit 2, with the help pointer):
    a name of the wrong shape is a flag's or argument's value of the wrong shape, as README's exit statuses say (u1:
    `netns up --name Bad_Name` exited 1). ``field``: --name, or NAME for the commands that take it positionally."""
    from kubeproxy_sim.kernel.plan import check_name

    try:
        return check_name(name)
    except InputError as exc:
        raise UsageError(dataclasses.replace(exc.diagnostics[0], field=field)) from None


def run_down(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis.render import counted
    from kubeproxy_sim.kernel import build, env
    from kubeproxy_sim.kernel.state import read_state, state_dir

    _check_cluster_name(args.name)
    env.require()
    state = read_state(state_dir(), args.name)
    _refuse_while_building(args.name, state)
    removed = build.teardown(args.name, state_dir(), state)
    print(f"cluster {args.name}: removed {counted(len(removed), 'namespace')}" if removed else
          f"cluster {args.name}: nothing to remove")
    return 0


def _refuse_while_building(name: str, state: dict[str, Any] | None) -> None:
    """A cluster still being built (or staged by a verify run) belongs to its live builder: taking it down
    under it would leave that build half-made, or report success for namespaces that are gone."""
    from kubeproxy_sim.kernel.state import being_built, building_owner

    builder = building_owner(state)
    if builder is not None:
        raise InputError(Diagnostic(being_built(name, builder), field="NAME"))


def run_gc(args: argparse.Namespace) -> int:
    from kubeproxy_sim.analysis.render import counted
    from kubeproxy_sim.kernel import build, env
    from kubeproxy_sim.kernel.state import state_dir

    env.require()
    removed = build.gc(state_dir(), only=args.only)
    print(f"removed {counted(len(removed), 'leftover namespace')}"
          + (": " + ", ".join(removed) if removed else ""))
    return 0


def _check_verify_args(args: argparse.Namespace) -> None:
    import netaddr

    for ip in args.node_ip or []:
        try:
            netaddr.IPAddress(ip.split("/")[0])
        except (netaddr.AddrFormatError, ValueError):
            raise UsageError(Diagnostic(f"{ip!r} is not an IP address; expected the node's address",
                                        field="--node-ip")) from None  # the wrong shape: exit 2
    for flag, value in (("--count", args.count), ("--max-flows", args.max_flows)):
        if value is not None and value < 1:
            raise InputError(Diagnostic(f"{value} is not a count; expected 1 or more", field=flag))
    if args.timeout is not None and not 0 < args.timeout <= 30:
        raise InputError(Diagnostic(f"{args.timeout} seconds: expected more than 0 and at most 30", field="--timeout"))
    if args.rules and (args.filename or args.scenario):
        raise UsageError(Diagnostic("--rules and -f/--scenario both given; expected one: a node's dump, or the "
                                    "objects of a cluster", field="--rules"))
    if not args.rules and (args.filename or args.scenario):
        _refuse_dump_mode_flags(args)
    if args.flows and args.origins:  # --from picks among the derived flows; a file's are run as given
        raise UsageError(Diagnostic("applies only to the derived flows, and a --flows file's are run as given; "
                                    "expected it left out, or the file's flows chosen in the file", field="--from"))
    if args.bridge is not None and (args.bridge in ("lo", "eth0") or args.bridge.startswith("veth")
                                    or not 0 < len(args.bridge) <= 15):
        raise InputError(Diagnostic(f"{args.bridge!r}: the staged node has an interface of that name (or it is "
                                    "not an interface name); expected another bridge name, e.g. cbr0",
                                    field="--bridge"))


DUMP_MODE_FLAGS = {"count": "--count", "bridge": "--bridge"}  # dest -> flag


def _refuse_dump_mode_flags(args: argparse.Namespace) -> None:
    """Objects mode sizes and stages its flows itself: a dump-mode flag given there would be silently ignored
    (another number of connections than ``--count``), so it is a usage error, one line a flag."""
    given = [flag for dest, flag in DUMP_MODE_FLAGS.items() if getattr(args, dest) is not None]
    if given:
        raise UsageError([Diagnostic("applies only with --rules DUMP (dump mode), not with -f/--scenario; "
                                     "expected it left out", field=flag) for flag in given])


def _origins(args: argparse.Namespace) -> tuple[Origin, ...]:
    """--from's clients, once each in the order given; all three when none is given."""
    from kubeproxy_sim.kernel.verify import Origin

    return tuple(Origin(o) for o in dict.fromkeys(args.origins or Origin))


def run_verify(args: argparse.Namespace) -> int:
    import os
    from fractions import Fraction

    from kubeproxy_sim.kernel import env
    from kubeproxy_sim.kernel.state import state_dir
    from kubeproxy_sim.kernel.verify import render_table, verify
    from kubeproxy_sim.simulator.topology import DEFAULT_BRIDGE

    name = usable_name(args.name or f"verify-{os.getpid()}", "--name")
    _check_verify_args(args)
    if not args.rules:
        return _run_verify_objects(args, name)
    if not 0 < args.alpha < 1:
        raise InputError(Diagnostic(f"{args.alpha}: expected a rate between 0 and 1", field="--alpha"))
    report(idle_with_dump(args, used=("node_ip",)), args)  # the dump's family is read when it is staged
    env.require()
    timeout = args.timeout if args.timeout is not None else 0.3
    with _unwinding_on_sigterm():
        result = verify(args.rules, state_dir(), name=name, node_ips=args.node_ip or [], flows_file=args.flows,
                        count=args.count, timeout=timeout, max_flows=args.max_flows,
                        bridge=args.bridge or DEFAULT_BRIDGE, alpha=Fraction(args.alpha).limit_denominator(10**9),
                        origins=_origins(args),
                        progress=progress)
    report([Diagnostic(f"left out of the staged dump ({x.reason}): {x.rule}", file=result.file, line=x.line,
                       severity=Severity.WARNING) for x in result.left_out], args)
    emit(result.as_json(), args.output,
         text=lambda: "\n".join(result.summary()) + "\n" + render_table(result.results) + "\n")
    return verify_status(result.ok, result.inconclusive, len(result.results), args,
                         "run more connections: a larger --count (or a flows file's count), or neither, so each "
                         "flow is sized")


def verify_status(ok: bool, inconclusive: int, flows: int, args: argparse.Namespace, hint: str) -> int:
    """A verify run's exit status: 0 only when every flow passed. A flow that cannot tell (a range starts at 0)
    is no mismatch, but the run checked less than it says, so it is no pass either: 1, with a line saying why."""
    if ok and inconclusive:
        report([Diagnostic(f"{inconclusive} of {flows} flows cannot tell (a range starts at 0, so an outcome the "
                           f"kernel never shows would pass); {hint}")], args)
    return 0 if ok and not inconclusive else 1


@contextlib.contextmanager
def _unwinding_on_sigterm() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the namespaces are removed. Only this process unwinds: a forked child
    never runs the handler (ours reset SIGTERM before unblocking it, pyroute2's keep it blocked; see
    :mod:`kubeproxy_sim.kernel.nsexec`), and one that somehow did would only exit, never run our cleanup."""
    import os
    import signal

    owner = os.getpid()

    def stop(signum: int, _frame: Any) -> None:
        if os.getpid() != owner:
            os._exit(128 + signum)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_verify_objects(args: argparse.Namespace, name: str) -> int:
    """Objects mode: the cluster built in namespaces, every flow run in the simulator and the kernel."""
    from fractions import Fraction

    from kubeproxy_sim.cli.options import load_inputs
    from kubeproxy_sim.kernel import env
    from kubeproxy_sim.kernel.differential import DEFAULT_TIMEOUT, N_MAX, differential, load_flows, render_table
    from kubeproxy_sim.kernel.state import state_dir

    if not args.filename and not args.scenario:
        raise UsageError(Diagnostic("nothing to verify; expected --rules DUMP, or the objects (-f PATH or "
                                    "--scenario NAME)", field="--rules"))
    if not 0 < args.alpha < 1:
        raise InputError(Diagnostic(f"{args.alpha}: expected a rate between 0 and 1", field="--alpha"))
    inputs = load_inputs(args)
    report([d for d in inputs.diagnostics if d.severity is not Severity.NOTE], args)
    if inputs.errors:
        raise InputError(list(inputs.errors))
    flows = load_flows(args.flows) if args.flows else None
    env.require()
    with _unwinding_on_sigterm():
        result = differential(inputs.cluster, inputs.config, state_dir(), name=name, flows=flows,
                              origins=_origins(args), max_flows=args.max_flows,
                              alpha=Fraction(args.alpha).limit_denominator(10**9),
                              timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
                              progress=progress, warn=lambda warnings: report(warnings, args))  # as netns up
    emit(result.as_json(), args.output, text=lambda: render_table(result) + "\n")
    return verify_status(result.ok, result.inconclusive, len(result.flows), args,
                         f"a share that small needs more than the {N_MAX} connections a flow is given (a larger "
                         "--alpha needs fewer)")
