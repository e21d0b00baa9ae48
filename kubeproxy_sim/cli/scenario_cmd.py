"""``kubeproxy-sim scenario``: replay a script of kubectl commands and show the data plane after each step."""

from __future__ import annotations

import argparse
import difflib
import os
import random
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeproxy_sim.cli.builtin_names import plain_name
from kubeproxy_sim.cli.options import (
    REPO_RULESETS,
    add_filename_flags,
    add_node_flags,
    build_config,
    check_node_settings,
    fill_node_flags,
    parse_int,
    recursive_paths,
    stdin_once,
)
from kubeproxy_sim.cli.output import Console, add_output_flags, console, item_stream, progress
from kubeproxy_sim.cli.output import report as report_diagnostics
from kubeproxy_sim.errors import Diagnostic, InputError, Severity, UsageError, cannot_read
from kubeproxy_sim.objects.stdin import NAME as STDIN_NAME
from kubeproxy_sim.objects.stdin import StdinUnreadable, read_stdin, read_text

if TYPE_CHECKING:  # (the controllers, the proxier and netfilter are imported when the command runs)
    from kubeproxy_sim.controllers.model import World
    from kubeproxy_sim.controllers.script import Loader, Manifests, Played, Step
    from kubeproxy_sim.controllers.world import ControllerSync
    from kubeproxy_sim.netfilter.model import Ruleset
    from kubeproxy_sim.objects.model import Cluster
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.watch.overlaps import OverlapWarnings

DEFAULT_NODES = REPO_RULESETS / "bootcamp"
SCRIPT_FILE = "scenario"  # a built-in scenario's kubectl script, rulesets/NAME/scenario: `scenario NAME` plays it
SHOW_CHOICES = ("rules", "diff", "endpoints")
_ALLOCATED_WARNING = "not set; the API server would allocate one"
SANDBOX_PODS_SHOWN = 3  # pods a node's sandbox warning names; thousands of replicas would bury it

EXAMPLES = """script lines (kubectl's words; # starts a comment):
  create deployment NAME --image=IMG [--replicas=N] [--port=P]
  expose deployment/NAME [--type=NodePort|ClusterIP|LoadBalancer] [--port=P] [--target-port=T]
  scale deployments/NAME --replicas=N        set image deployments/NAME CONTAINER=IMG
  rollout status|undo|history deployments/NAME
  label pods NAME...|-l KEY=VALUE|--all KEY=VALUE... [--overwrite]
  patch service|deployment|pod NAME -p JSON|YAML [--type strategic|merge|json]
  get pods|services|endpoints|endpointslices|deployments|replicasets|nodes [NAME...|-A] [-l KEY=VALUE]
      [-o wide|name|json|yaml]
  delete service|deployment|pod|endpoints NAME | delete service|deployment|pod|endpoints -l KEY=VALUE
  apply -f FILE                               wait 30s
apply -f reads a relative FILE from the script's folder (kubectl: the working directory), so a script finds
its manifests wherever it is played from; a script on standard input reads them from the working directory.
Replicas: at most 150,000 (Kubernetes' tested limit of pods in a cluster).
A line that cannot be parsed or played stops the script, with exit status 1, as does a step kubectl exits 1
on: a rollout status past its progress deadline (its step is shown, kubectl's error among its notes), a
patch the API server refuses, a get of a name not found.

examples:
  kubeproxy-sim scenario bootcamp --show endpoints
  kubeproxy-sim scenario bootcamp --show diff --seed 7
  kubeproxy-sim scenario rulesets/bootcamp/scenario --show endpoints -o json
  kubeproxy-sim scenario my.script -f nodes.yaml --hostname-override node1 --show diff --seed 7

-o json|yaml: {steps: [{step, line, command, notes: [...], endpoints: [{service, port_name, address, port,
protocol, state, node, zone, pod}], rules: {tables: ...} (--show rules) | diff: "..." (--show diff)}]}
"""

SCRIPT_METAVAR = "FILE|NAME"  # the script's positional, which a message naming no flag names (as replay's STATE)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "scenario",
        help="replay kubectl steps (deployments, scaling, rollouts) and show the rules after each",
        description="Replay a script of kubectl commands against a simulated cluster (Deployments, ReplicaSets, "
        "Pods, the EndpointSlice controller, time passing) and print, after each step, kube-proxy's rules, "
        "their diff against the previous step, or the endpoints.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("script", metavar=SCRIPT_METAVAR,
                        help="the script: one kubectl command per line (-: standard input); or a built-in scenario's "
                        "name (bootcamp: the Kubernetes basics tutorial)")
    add_filename_flags(parser, "the cluster's Node objects (and any other objects to start with; - for standard "
                       "input); default: the "
                       "bootcamp tutorial's two nodes")
    parser.add_argument("--show", choices=SHOW_CHOICES, default="rules",
                        help="after each step: the rules (iptables-restore input; a step that leaves them as they "
                        "were says so in one line), a unified diff against the previous step, or the endpoint set "
                        "(default: rules)")
    parser.add_argument("--seed", type=parse_int, default=0, help="seed of the random names and addresses (default 0)")
    parser.add_argument("--service-cluster-ip-range", metavar="CIDR[,CIDR]",
                        help="the API server's service range (kube-apiserver's flag): one CIDR, or two of different "
                        "families, primary first (default: 10.96.0.0/12 and fd00:10:96::/112 for the Nodes' "
                        "families)")
    add_node_flags(parser)
    add_output_flags(parser.add_argument_group("output"))
    parser.set_defaults(func=run)


# -- reading manifests ----------------------------------------------------------------------------------------


def port_conflict_diagnostics(conflicts: Any, file: str | None = None, line: int | None = None) -> list[Diagnostic]:
    """The kubelet's refusal of each host-network pod an apply bound where a pod before it holds one of its host
    ports (scheduler.PortConflict), said at the step that applied it."""
    return [Diagnostic(c.message, file=file, line=line, kind="Pod", object=c.pod, severity=Severity.WARNING)
            for c in conflicts]


def load_manifests(paths: tuple[str, ...] | list[str]) -> Manifests:
    """``apply -f``: objects through the objects layer, Deployments and API facts from the raw documents (Node
    readiness, allocatable CPU and pods, Services' topology annotations, ipFamilyPolicy, and what
    they wrote of clusterIPs and ipFamilies, Pods' tolerations and pod-deletion-cost: cli.scenario_facts). v1
    Endpoints come unmirrored: the World keeps them, and the mirroring controller mirrors them on its events, with
    the Services of every step (controllers.mirroring), not with this apply's alone."""
    from kubeproxy_sim.cli.scenario_facts import RawFacts, raw_documents, visit_order
    from kubeproxy_sim.objects.bulk import collector_paused
    from kubeproxy_sim.objects.load import decode_documents, input_bytes, objects_in, read_documents

    # overlaps: said of the whole cluster after each step (overlap_diagnostics); Deployments: read below
    order: dict[tuple[str, str], bool] = {}  # (kind, key) as kubectl apply visits them (stdin's documents too)
    with collector_paused(objects_in(input_bytes(list(paths)))):  # as load_paths, but unmirrored
        loaded = decode_documents(visit_order(read_documents(list(paths)), order), mirror=False, overlaps=False,
                                  read_elsewhere=frozenset({"Deployment"}))
    facts = RawFacts([d for d in loaded.diagnostics
                      if not (d.kind == "Service" and d.message.startswith(_ALLOCATED_WARNING))])
    for file, doc in raw_documents(list(paths)):
        if isinstance(doc, dict):
            facts.add(file, doc)
    return replace(facts.manifests(loaded.cluster), endpoints=loaded.endpoints, order=tuple(order),
                   annotated=frozenset(key for key, annotated in order.items() if annotated))


# -- showing a step -------------------------------------------------------------------------------------------


def _state_word(endpoint: Any) -> str:
    """A word for the conditions kube-proxy made of the slices (an EndpointInfo): a ready endpoint is used as ready
    whether or not it is terminating."""
    if endpoint.ready:
        return "ready"
    if endpoint.terminating:
        return "serving-terminating" if endpoint.serving else "terminating"
    return "not-ready"


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """One endpoint of one service port, as kube-proxy sees it through the slices."""

    service: str  # NS/NAME
    port_name: str
    address: str
    port: int
    protocol: str
    state: str  # ready, not-ready, serving-terminating, terminating
    node: str | None
    zone: str | None
    pod: str | None
    for_zones: tuple[str, ...] = ()  # the slice's hints (the EndpointSlice controller's decision), in text only
    for_nodes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.service + (f":{self.port_name}" if self.port_name else "")

    def text(self) -> str:
        where = " ".join(x for x in (f"node={self.node}" if self.node else "", f"zone={self.zone}" if self.zone
                                     else "", f"pod={self.pod}" if self.pod else "",
                                     f"for-zones={','.join(self.for_zones)}" if self.for_zones else "",
                                     f"for-nodes={','.join(self.for_nodes)}" if self.for_nodes else "") if x)
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.label} {host}:{self.port}/{self.protocol} {self.state} {where}".rstrip()

    def as_json(self) -> dict[str, object]:
        return {"service": self.service, "port_name": self.port_name, "address": self.address, "port": self.port,
                "protocol": self.protocol, "state": self.state, "node": self.node, "zone": self.zone,
                "pod": self.pod}


def _service_ports(cluster: Any, config: Any) -> Iterator[tuple[Any, list[EndpointRow]]]:
    """(service port, its endpoint rows in text order) for every service port this node's proxier programs, as
    the proxier merged the slices (proxier.state); node, zone and pod from the slice's copy of the endpoint."""
    from kubeproxy_sim.proxier.state import all_service_ports, endpoints_map

    eps_map = endpoints_map(cluster.endpoint_slices, config)
    copies: dict[tuple[str, str, str, bool], Any] = {}
    for s in sorted(cluster.endpoint_slices, key=lambda s: s.name):
        for e in s.endpoints:
            if e.addresses:  # an address in two slices: the copy kube-proxy kept has its terminating flag
                copies.setdefault((s.namespace, s.service_name, e.addresses[0], bool(e.conditions.terminating)), e)
    for info in all_service_ports(cluster, config):
        rows = []
        for ep in eps_map.get(info.key, ()):
            e = copies.get((info.namespace, info.name, ep.ip, ep.terminating))
            rows.append(EndpointRow(f"{info.namespace}/{info.name}", info.port_name, ep.ip, ep.port,
                                    info.protocol.value, _state_word(ep), e.node_name if e else None,
                                    e.zone if e else None, e.target_ref[2] if e and e.target_ref else None,
                                    tuple(e.hints_for_zones or ()) if e else (),
                                    tuple(e.hints_for_nodes or ()) if e else ()))
        yield info, sorted(rows, key=EndpointRow.text)


def endpoint_rows(cluster: Any, config: Any) -> list[EndpointRow]:
    return [row for _, rows in _service_ports(cluster, config) for row in rows]


def endpoints_text(cluster: Any, config: Any) -> str:
    """One line per service port and endpoint, as kube-proxy sees them through the slices."""
    lines = []
    for info, rows in _service_ports(cluster, config):
        lines.extend([r.text() for r in rows] or [f"{info.name_string} (no endpoints)"])
    return "".join(line + "\n" for line in lines)


def _ruleset(cluster: Any, config: Any) -> Any:
    from kubeproxy_sim.proxier import generate

    return generate(cluster, config).ruleset


def _rules_text(cluster: Any, config: Any) -> str:
    from kubeproxy_sim.netfilter.render import render_ruleset

    return render_ruleset(_ruleset(cluster, config))


def _diff(previous: str, current: str, number: int) -> str:
    lines = difflib.unified_diff(previous.splitlines(keepends=True), current.splitlines(keepends=True),
                                 fromfile=f"step {number - 1}", tofile=f"step {number}")
    text = "".join(lines)
    return text or "# rules unchanged\n"


def changed_rules(previous: str, current: str) -> list[str]:
    """The rule lines added (``+``) and removed (``-``) between two restore inputs, in the newer one's order."""
    lines = difflib.unified_diff(previous.splitlines(), current.splitlines(), lineterm="", n=0)
    return [line for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))
            and line[1:].startswith(("-A ", "-X ", ":"))]


def colour_step(text: str, con: Console) -> str:
    """A step's text with its header bold, notes dim, and added or removed rules green or red, on a terminal."""
    if not con.color:
        return text
    out = []
    for line in text.split("\n"):
        if line.startswith("# step "):
            line = con.paint(line, "bold", "cyan")
        elif line.startswith("#"):
            line = con.paint(line, "dim")
        elif line.startswith("+") and not line.startswith("+++"):
            line = con.paint(line, "green")
        elif line.startswith("-") and not line.startswith(("---", "-A ", "-X ")):
            line = con.paint(line, "red")
        out.append(line)
    return "\n".join(out)


# -- the command ----------------------------------------------------------------------------------------------


def _start_paths(args: argparse.Namespace) -> list[str]:
    """The objects to start from: -f, or the bootcamp nodes with the bootcamp node flags as defaults."""
    if args.filename:
        return recursive_paths(list(args.filename)) if args.recursive else list(args.filename)
    fill_node_flags(args, DEFAULT_NODES)
    return [str(DEFAULT_NODES / "objects.yaml")]


def service_cidrs(args: argparse.Namespace) -> tuple[str, ...]:
    """``--service-cluster-ip-range`` as kube-apiserver validates it (empty when not given: the defaults); a value
    it would refuse to start with stops the command before any step (an entry that is no CIDR: a usage error, 2)."""
    from kubeproxy_sim.controllers.allocate import SERVICE_RANGE_FLAG, service_ranges_flag

    text = args.service_cluster_ip_range
    if text is None:
        return ()
    ranges = service_ranges_flag(text)
    if ranges.problem is not None:
        error = UsageError if ranges.malformed else InputError
        raise error(Diagnostic(f"{text!r}: {ranges.problem}; expected one CIDR of at most 64 host bits (e.g. "
                               "10.96.0.0/12), or two of different families (10.96.0.0/12,fd00:10:96::/112)",
                               field=SERVICE_RANGE_FLAG))
    return ranges.cidrs


def _initial_world(args: argparse.Namespace, rng: random.Random, cidrs: tuple[str, ...] = (),
                   unposted: UnpostedNodes | None = None) -> Any:
    """A World holding the starting objects (``cidrs``: the service ranges); with the default, only the bootcamp
    Nodes. A starting object the API server would refuse (a cluster IP outside the range) stops the command.
    ``unposted``: told which Nodes have no Ready condition."""
    from kubeproxy_sim.controllers.model import World
    from kubeproxy_sim.controllers.script import Manifests, ScriptError, Step, mark_unannotated, play
    from kubeproxy_sim.objects.model import Cluster

    manifests = load_manifests(_start_paths(args))
    if not args.filename:
        manifests = Manifests(Cluster(nodes=manifests.cluster.nodes), not_ready_nodes=manifests.not_ready_nodes,
                              unreachable_nodes=manifests.unreachable_nodes, untainted_nodes=manifests.untainted_nodes,
                              unposted_nodes=manifests.unposted_nodes, node_cpu=manifests.node_cpu,
                              node_max_pods=manifests.node_max_pods,
                              order=tuple(key for key in manifests.order if key[0] == "Node"),
                              annotated=manifests.annotated)
    if unposted is not None:
        unposted.record(manifests)
    _report(manifests.diagnostics)
    if any(d.severity is Severity.ERROR for d in manifests.diagnostics):
        raise InputError(Diagnostic("the starting objects have errors (above); fix them first", field="-f"))
    start = Step(0, "apply", "apply", paths=())
    try:
        played = play(World(service_cidrs=cidrs), start, rng, lambda _paths: manifests)
    except ScriptError as exc:
        raise InputError(Diagnostic(exc.message.removeprefix("apply: "), file=exc.file,
                                    field=None if exc.file else "-f")) from None
    _report([*port_conflict_diagnostics(played.port_conflicts), *played.mirror_notes])
    return mark_unannotated(played.world, manifests)


class UnpostedNodes:
    """The Nodes applied without a Ready condition, to say once why Topology Aware Routing counts none of them:
    the topology cache takes a Node only when its Ready condition is True (isNodeReady), so hand-written Nodes
    without status.conditions leave it with upstream's "Insufficient Node information" alone. (The node lifecycle
    controller would write Ready Unknown after --node-startup-grace-period, 60 s, and taint the Node unreachable;
    the simulator leaves such a Node untainted, as the Nodes it is given are the API after the controllers wrote
    them, and a minimal hand-written Node is meant as a working one.)"""

    def __init__(self) -> None:
        self.names: dict[str, bool] = {}  # Node -> applied last without a Ready condition
        self.said: set[str] = set()

    def record(self, manifests: Any) -> None:
        for node in manifests.cluster.nodes:
            self.names[node.name] = node.name in manifests.unposted_nodes

    def note(self, events: Any, seen: Any, file: str | None = None, line: int | None = None) -> list[Diagnostic]:
        """The note, with the first "Insufficient Node information" event said while such Nodes are not yet named
        (each Node once)."""
        from kubeproxy_sim.controllers.topology import INSUFFICIENT_NODE_INFO

        if not any(item not in seen and item.event.message.startswith(INSUFFICIENT_NODE_INFO) for item in events):
            return []
        names = sorted(name for name, unposted in self.names.items() if unposted and name not in self.said)
        if not names:
            return []
        self.said.update(names)
        return [Diagnostic(f"Node(s) {', '.join(names)} have no Ready condition: the topology cache counts a Node "
                           "only when its Ready condition is True (isNodeReady), so their CPU is not counted and "
                           "hints are off; write status.conditions: [{type: Ready, status: 'True'}] for a Node that "
                           "is up", file=file, line=line, severity=Severity.NOTE)]


def _report(diagnostics: Any, args: argparse.Namespace | None = None) -> None:
    report_diagnostics(diagnostics, args)


def event_diagnostics(events: Any, seen: Any, file: str | None = None, line: int | None = None) -> list[Diagnostic]:
    """The EndpointSlice controller's events on Services not already said at the previous step, as kube-proxy-sim
    diagnostics: ``Service NS/NAME: warning: REASON: MESSAGE`` (a Normal event is a note)."""
    out = []
    for item in events:
        if item in seen:
            continue
        event = item.event
        severity = Severity.WARNING if event.type == "Warning" else Severity.NOTE
        out.append(Diagnostic(f"{event.reason}: {event.message}", file=file, line=line, kind="Service",
                              object=item.service, severity=severity))
    return out


def _some_pods(pods: Any, verb: str) -> str:
    """``pod NS/NAME stays`` or ``7 pods (NS/A, NS/B, NS/C and 4 more) stay`` (``verb``: "stay"): thousands of
    replicas would bury the message."""
    count = len(pods)
    if count == 1:
        return f"pod {pods[0]} {verb}s"
    shown = ", ".join(pods[:SANDBOX_PODS_SHOWN])
    more = f" and {count - SANDBOX_PODS_SHOWN:,} more" if count > SANDBOX_PODS_SHOWN else ""
    return f"{count:,} pods ({shown}{more}) {verb}"


def sandbox_diagnostics(world: Any, file: str | None = None, line: int | None = None) -> list[Diagnostic]:
    """One warning per node with pods that have no address because its pod CIDR is full (the kubelet's
    FailedCreatePodSandBox event with host-local's error); the scheduler, as upstream, placed them anyway."""
    from kubeproxy_sim.controllers.scheduler import sandbox_failures

    return [Diagnostic(f"FailedCreatePodSandBox: {_some_pods(failure.pods, 'stay')} ContainerCreating: "
                       f"{failure.message}", file=file, line=line, kind="Node", object=failure.node,
                       severity=Severity.WARNING)
            for failure in sandbox_failures(world)]


def scheduling_diagnostics(world: Any, file: str | None = None,
                           line: int | None = None) -> tuple[Any, list[Diagnostic]]:
    """kube-scheduler's FailedScheduling warnings of a step, and the World with them taken from its log: every
    failure the scheduler logged during the step (scheduler.record_failures: at each instant the controllers came
    to rest, each pod once while its message holds, as the event recorder folds repeats into a count), so a pod
    that waited only in the middle of a step (a rollout's surge while every node is full) is said too.

    Pods said with one message share a warning: ``Pod NS/NAME: warning: FailedScheduling: MESSAGE`` for one,
    ``warning: FailedScheduling: 7 pods (...) stay Pending: MESSAGE`` for several still waiting at the end of
    the step, and ``... were Pending during the step: MESSAGE`` for several no longer waiting by then (for that
    reason)."""
    from kubeproxy_sim.controllers.scheduler import take_log

    world, log = take_log(world)
    by_message: dict[str, dict[str, None]] = {}
    for failure in log:
        by_message.setdefault(failure.message, {}).update(dict.fromkeys(failure.pods))
    found = []
    for message, pods in by_message.items():
        staying = [p for p in pods if (p, message) in world.unschedulable]
        passed = [p for p in pods if (p, message) not in world.unschedulable]
        for group, words in ((staying, "stay Pending"), (passed, "were Pending during the step")):
            if len(group) == 1:
                found.append(Diagnostic(f"FailedScheduling: {message}", file=file, line=line, kind="Pod",
                                        object=group[0], severity=Severity.WARNING))
            elif group:
                verb, _, rest = words.partition(" ")
                found.append(Diagnostic(f"FailedScheduling: {_some_pods(group, verb)} {rest}: {message}", file=file,
                                        line=line, severity=Severity.WARNING))
    return world, found


def mirror_diagnostics(found: Iterable[Diagnostic], file: str, line: int) -> list[Diagnostic]:
    """What the mirroring controller's syncs of a step call for saying of Endpoints (not mirrored and why, addresses
    over its cap), at the step's line; the Endpoints' own file follows, as the object came from it."""
    return [replace(d, file=file, line=line, message=f"{d.message} (from {d.file})") for d in found]


def overlap_diagnostics(overlaps: Any, cluster: Any, config: Any, file: str | None = None,
                        line: int | None = None) -> list[Diagnostic]:
    """The warnings of endpoints whose copies in two slices of a Service kube-proxy picks between at random, for
    those that hold from this step on (``overlaps``: a watch.overlaps.OverlapWarnings), at the step's line: slices
    ``apply``'d in different steps overlap only in the whole cluster, which no one load sees."""
    found = overlaps.check_cluster(cluster, config.ipv6)
    return [replace(d, file=file, line=line) for d in found] if file else list(found)


def _script_loader(script: Path, name: str, line_holder: list[int], stdin_readers: list[str],
                   unposted: UnpostedNodes) -> Any:
    """``apply -f`` paths are relative to the script's folder (standard input's: the working directory), not to
    the working directory as kubectl's are: a script and its manifests travel together, so ``scenario dir/story``
    plays the same from anywhere, as a built-in scenario must (``scenario NAME`` plays from any directory); errors
    stop the script at that line (``name``: the script as messages name it). Standard input is read by one
    ``apply -f -`` at most, and by none when the command read it (``stdin_readers``: what read it so far): that
    step fails, as kubectl's ``apply -f -`` fails with no objects on it, instead of applying nothing."""
    from kubeproxy_sim.controllers.script import ScriptError

    def load(paths: tuple[str, ...]) -> Any:
        if "-" in paths:
            if stdin_readers or paths.count("-") > 1:
                by = stdin_readers[0] if stdin_readers else "this step's first '-'"
                raise ScriptError(line_holder[0], f"apply -f -: no objects passed to apply (kubectl's error): "
                                  f"standard input was read already, by {by}, and a pipe can be read once; "
                                  "expected a file")
            stdin_readers.append(f"the apply -f - of line {line_holder[0]}")
        resolved = tuple(p if os.path.isabs(p) or p == "-" else str(script.parent / p) for p in paths)
        _paths_exist(paths, resolved, line_holder[0], name == STDIN_NAME)
        manifests = load_manifests(resolved)
        unposted.record(manifests)
        errors = [d for d in manifests.diagnostics if d.severity is Severity.ERROR]
        _report(d for d in manifests.diagnostics if d.severity is not Severity.ERROR)
        if errors:
            raise InputError([*errors, Diagnostic("apply -f: the objects above are invalid; nothing was applied",
                                                  file=name, line=line_holder[0])])
        return manifests

    return load


def _paths_exist(paths: tuple[str, ...], resolved: tuple[str, ...], line: int, from_stdin: bool) -> None:
    """kubectl apply checks every -f path before it applies anything (its FilenameParam visitor stats each):
    a missing one stops the step with its error, naming the path as written, and nothing is applied."""
    from kubeproxy_sim.controllers.script import ScriptError

    for written, path in zip(paths, resolved, strict=True):
        if path != "-" and _missing(path):
            where = "the working directory" if from_stdin else "the script's folder"
            raise ScriptError(line, f'apply -f: the path "{written}" does not exist (kubectl\'s error); expected a '
                              f"file or directory, a relative path read from {where}")


def _missing(path: str) -> bool:
    """os.Stat's IsNotExist, as kubectl asks it: a dangling link is missing; an unreadable path is not (its
    reading says why)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def step_data(number: int, step: Any, notes: Any, cluster: Any, config: Any, show: str, rules: Any,
              diff: str | None) -> dict[str, object]:
    """One step as data for -o json|yaml."""
    data: dict[str, object] = {"step": number, "line": step.line, "command": step.text, "notes": list(notes),
                               "endpoints": [r.as_json() for r in endpoint_rows(cluster, config)]}
    if show == "rules":
        data["rules"] = {"tables": [{"name": t.name, "chains": [
            {"name": c.name, "policy": c.policy, "rules": [r.text() for r in c.rules]} for c in t.chains]}
            for t in rules.tables]}
    elif show == "diff":
        data["diff"] = diff
    return data


def builtin_scripts() -> list[str]:
    """The built-in scenarios that have a kubectl script."""
    return sorted(p.parent.name for p in REPO_RULESETS.glob(f"*/{SCRIPT_FILE}") if p.is_file())


def script_path(text: str) -> Path:
    """The script FILE|NAME names: a file as given, else for a plain name (no slash) a built-in scenario's
    script, as ``--scenario NAME`` finds rulesets/NAME (a file of the user's own of that name wins; a directory of
    that name does not, as it is no script). A path that cannot be looked at (a name longer than the system
    takes, a directory above it that may not be entered) is no file here: reading it says why."""
    path = Path(text)
    builtin = REPO_RULESETS / text / SCRIPT_FILE
    return builtin if plain_name(text) and not os.path.isfile(path) and os.path.isfile(builtin) else path


def _read_script(script: Path, name: str) -> str:
    """The script's text; ``name`` STDIN_NAME: standard input's, read once by the one reader of it."""
    try:
        return read_stdin().decode("utf-8") if name == STDIN_NAME else read_text(script)
    except StdinUnreadable as exc:
        raise InputError(Diagnostic(f"{exc.reason}; expected kubectl commands piped or redirected to it",
                                    file=name)) from None
    except (OSError, UnicodeDecodeError) as exc:
        names = ", ".join(builtin_scripts())
        expected = "a text file of kubectl commands" + (f" or a built-in scenario's name ({names})" if names else "")
        raise InputError(Diagnostic(cannot_read(exc, expected), file=name, field=SCRIPT_METAVAR)) from None


@contextmanager
def _script_errors(name: str) -> Iterator[None]:
    """A line of the script ``name`` that cannot be parsed or played (a ScriptError) as the input error it is,
    at that line."""
    from kubeproxy_sim.controllers.script import ScriptError

    try:
        yield
    except ScriptError as exc:
        raise InputError(Diagnostic(exc.message, file=name, line=exc.line)) from None


@dataclass(frozen=True, slots=True)
class _Carry:
    """What carries from one step of a script to the next (see :func:`run`), each the size of one state: the
    world (the cluster as it is now), the controller's memory of it (``sync``: hints populated, its slices), the
    overlap warnings in force (said once while they hold, as a watch says them: the one mutable part, which
    :func:`overlap_diagnostics` updates as it says them), the previous step's rules (for ``--show diff``, and
    for ``--show rules`` to tell a step that leaves them as they were) and the step that first made them so
    (``since``: 0 before any step)."""

    world: World
    sync: ControllerSync
    overlaps: OverlapWarnings
    previous: str
    since: int = 0


@dataclass(frozen=True, slots=True)
class _Shown:
    """A step as played, with all :func:`run` says and writes of it: what ``play`` gave (its notes, kubectl's
    error), the cluster and the node's config it leaves (with that config's diagnostics, which run says at the
    first step only), the step's own diagnostics (said after its output), and its rules when ``--show`` shows
    them (``ruleset``, its text and, for ``--show diff``, the diff against the previous step's); ``same_as``: the
    step whose rules these are too when they are the previous step's (0 when they changed, or are not shown)."""

    played: Played
    cluster: Cluster
    config: ProxyConfig
    config_diagnostics: list[Diagnostic]
    events: list[Diagnostic]
    ruleset: Ruleset | None
    rules: str
    diff: str | None
    same_as: int = 0


def collected(world: World, sync: ControllerSync) -> World:
    """``world`` without the loaded slices the sync of it deleted (W.collect_slices: those of the EndpointSlice
    controller's label whose Service it synced; one whose sync still waits stays, and kube-proxy sees it)."""
    if not sync.deleted:
        return world
    return replace(world, user_slices=tuple(s for s in world.user_slices if s not in sync.deleted))


def _first_carry(args: argparse.Namespace, world: World, unposted: UnpostedNodes) -> tuple[_Carry, list[Diagnostic]]:
    """The carry before the first step, and what the starting objects gave rise to (the controller's events, the
    pods no node takes, the overlaps), for :func:`run` to say before any step."""
    from kubeproxy_sim.controllers.world import controller_sync
    from kubeproxy_sim.watch.overlaps import OverlapWarnings

    sync = controller_sync(world)
    world = collected(world, sync)
    overlaps = OverlapWarnings()
    world, unschedulable = scheduling_diagnostics(world)  # the same: pods no node takes
    said = [*event_diagnostics(sync.events, ()), *unposted.note(sync.events, ()), *unschedulable,
            *overlap_diagnostics(overlaps, sync.cluster, build_config(args, sync.cluster)[0])]
    return _Carry(world, sync, overlaps, "", 0), said


def _play_step(carry: _Carry, number: int, step: Step, args: argparse.Namespace, name: str, rng: random.Random,
               load: Loader, unposted: UnpostedNodes) -> tuple[_Carry, _Shown]:
    """Play step ``number`` of the script ``name`` on ``carry``: the carry it leaves, and the step as
    :func:`run` says and writes it. Says and writes nothing itself. The rules are rendered only when shown."""
    from kubeproxy_sim.controllers.script import play
    from kubeproxy_sim.controllers.world import controller_sync
    from kubeproxy_sim.netfilter.render import render_ruleset

    played = play(carry.world, step, rng, load)
    sync = controller_sync(played.world, carry.sync, played.slice_events)
    cluster = sync.cluster
    played = replace(played, world=collected(played.world, sync))
    config, config_diagnostics = build_config(args, cluster)
    seen = set(carry.sync.events)
    events = [*event_diagnostics(sync.events, seen, name, step.line),
              *unposted.note(sync.events, seen, name, step.line)]
    world, unschedulable = scheduling_diagnostics(played.world, name, step.line)
    events += [*port_conflict_diagnostics(played.port_conflicts, name, step.line), *unschedulable,
               *sandbox_diagnostics(world, name, step.line), *mirror_diagnostics(played.mirror_notes, name, step.line)]
    events += overlap_diagnostics(carry.overlaps, cluster, config, name, step.line)
    ruleset = _ruleset(cluster, config) if args.show != "endpoints" else None
    rules = render_ruleset(ruleset) if ruleset is not None else ""
    diff = _diff(carry.previous, rules, number) if args.show == "diff" else None
    same_as = carry.since if rules and carry.since and rules == carry.previous else 0
    carry = _Carry(world, sync, carry.overlaps, rules or carry.previous, same_as or number)
    return carry, _Shown(played, cluster, config, config_diagnostics, events, ruleset, rules, diff, same_as)


def unchanged_rules(same_as: int) -> str:
    """What ``--show rules`` prints, as text, for a step that leaves the rules as they were (a ``get``, a
    ``wait`` before anything is due, a scale of a Deployment no Service selects): one line naming the step whose
    full rules are these, in place of the same dump again (a 15-step script printed 15). kube-proxy's own
    sync would write the same restore input again; the dump is the same, so the text says so; -o json|yaml keeps
    each step's full ``rules`` (its documented contract)."""
    return f"# rules unchanged: as after step {same_as}\n"


def _write_step(shown: _Shown, number: int, step: Step, show: str, document: Any, con: Console) -> None:
    """A step's output, written as soon as it is made: its item of the -o json|yaml ``document``, or its text
    flushed (no document)."""
    cluster, config, notes = shown.cluster, shown.config, shown.played.notes
    if document is not None:
        document.add(step_data(number, step, notes, cluster, config, show, shown.ruleset, shown.diff))
    else:
        out = [f"# step {number}: {step.text}\n", *(f"# {note}\n" for note in notes)]
        out.append(endpoints_text(cluster, config) if show == "endpoints" else shown.diff or (
            unchanged_rules(shown.same_as) if shown.same_as else shown.rules))
        sys.stdout.write(colour_step("".join(out), con))
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    """Play the script a line at a time, each step's output written and flushed as soon as the step is played
    (its text, or its item of the ``-o json|yaml`` document through :func:`item_stream`): a long script shows
    its steps as they come, and a reader that stops early (``| head``) stops it at the next step.

    Memory is bounded by one step, not by the number of steps: what carries from one step to the next is the
    world (the cluster as it is now), the controller's memory of it, the previous step's restore input (for
    ``--show diff``) and the overlap warnings in force, each the size of one state; a step's output is made,
    written and dropped. (The script's text is read whole first: its lines, not what the steps print.)
    A line that fails ends a JSON or YAML document after the steps before it, a whole document, as the text
    shows them; with none before it, there is no document.
    """
    from kubeproxy_sim.controllers.script import ScriptError, parse_line

    check_node_settings(args)
    stdin_once((SCRIPT_METAVAR, [args.script]), ("-f", args.filename))  # (before either is read)
    stdin_readers = ["the script"] if args.script == "-" else ["-f"] if "-" in args.filename else []
    script = script_path(args.script)
    name = STDIN_NAME if args.script == "-" else str(script)
    text = _read_script(script, name)
    rng = random.Random(args.seed)
    unposted = UnpostedNodes()
    carry, said = _first_carry(args, _initial_world(args, rng, service_cidrs(args), unposted), unposted)
    _report(said, args)
    line_holder = [0]
    load = _script_loader(script, name, line_holder, stdin_readers, unposted)
    con = console(args)
    lines = text.splitlines()
    number = 0
    with (item_stream("steps", args.output) as document, progress("playing the script", total=len(lines)) as tick,
          _script_errors(name)):
        for line_number, line in enumerate(lines, start=1):
            tick()
            step = parse_line(line_number, line)  # parsed as it comes: the steps before a bad line still run
            if step is None:
                continue
            number += 1
            line_holder[0] = step.line
            carry, shown = _play_step(carry, number, step, args, name, rng, load, unposted)
            if number == 1:
                _report(shown.config_diagnostics, args)  # the node's config, said once, before any step's output
            _write_step(shown, number, step, args.show, document, con)
            _report(shown.events, args)  # the controller's events on Services, after the step they came with
            if shown.played.error is not None:  # kubectl exits 1 (a rollout past its deadline): the script stops
                raise ScriptError(step.line, f"{step.verb}: {shown.played.error}")
    if not number:  # comments and blank lines only: nothing was played, and nothing would be shown
        _report([Diagnostic("no steps in this script; expected kubectl lines such as `create deployment ...`",
                            file=name, severity=Severity.WARNING)], args)
    return 0
