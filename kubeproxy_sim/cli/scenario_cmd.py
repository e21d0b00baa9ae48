"""``kubeproxy-sim scenario``: replay a script of kubectl commands and show the data plane after each step."""

from __future__ import annotations

import argparse
import difflib
import os
import random
import sys
from pathlib import Path
from typing import Any

from kubeproxy_sim.cli.options import REPO_RULESETS, add_node_flags, build_config, scenario_args
from kubeproxy_sim.errors import Diagnostic, InputError, Severity

DEFAULT_NODES = REPO_RULESETS / "bootcamp"
SHOW_CHOICES = ("rules", "diff", "endpoints")
_ALLOCATED_WARNING = "not set; the API server would allocate one"
_SKIPPED_KIND = "skipped: kube-proxy does not read this kind"

EXAMPLES = """script lines (kubectl's words; # starts a comment):
  create deployment NAME --image=IMG [--replicas=N] [--port=P]
  expose deployment/NAME --type=NodePort|ClusterIP|LoadBalancer --port=P [--target-port=T]
  scale deployments/NAME --replicas=N        set image deployments/NAME CONTAINER=IMG
  rollout status|undo|history deployments/NAME
  label pods NAME KEY=VALUE [--overwrite]     delete service NAME | delete service -l KEY=VALUE
  apply -f FILE                               wait 30s

examples:
  kubeproxy-sim scenario rulesets/bootcamp/scenario --show endpoints
  kubeproxy-sim scenario my.script -f nodes.yaml --hostname-override node1 --show diff --seed 7
"""


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
    parser.add_argument("script", metavar="FILE", help="the script: one kubectl command per line")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="PATH",
                        help="the cluster's Node objects (and any other objects to start with); "
                        "default: the bootcamp tutorial's two nodes")
    parser.add_argument("--show", choices=SHOW_CHOICES, default="rules",
                        help="after each step: the rules (iptables-restore input), a unified diff against the "
                        "previous step, or the endpoint set (default: rules)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random names and addresses (default 0)")
    add_node_flags(parser)
    parser.set_defaults(func=run)


# -- reading manifests ----------------------------------------------------------------------------------------


def _manifest_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith((".yaml", ".yml", ".json"))]
    return [path]


def _raw_documents(paths: list[str]) -> list[tuple[str, Any]]:
    """(file, document) for every parseable document; syntax errors are the object loader's to report."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: list[tuple[str, Any]] = []
    for path in paths:
        for file in _manifest_files(path):
            try:
                with open(file, encoding="utf-8") as handle:
                    documents = list(yaml.load_all(handle.read(), Loader=loader))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            for document in documents:
                items = document.get("items") if isinstance(document, dict) else None
                out.extend((file, item) for item in (items if isinstance(items, list) else [document]))
    return out


def _not_ready(doc: dict[str, Any]) -> bool:
    status = doc.get("status") if isinstance(doc.get("status"), dict) else {}
    for condition in status.get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return condition.get("status") != "True"
    return False


def _wants_headless(doc: dict[str, Any]) -> bool:
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    return isinstance(ips, list) and bool(ips) and ips[0] == "None"


def load_manifests(paths: tuple[str, ...] | list[str]) -> Any:
    """``apply -f``: objects through the objects layer, Deployments and API facts from the raw documents."""
    from kubeproxy_sim.controllers.decode import decode_deployment, is_deployment
    from kubeproxy_sim.controllers.script import Manifests
    from kubeproxy_sim.objects import load_paths

    loaded = load_paths(list(paths))
    diagnostics = [d for d in loaded.diagnostics
                   if not (d.kind == "Deployment" and d.message.startswith(_SKIPPED_KIND))
                   and not (d.kind == "Service" and d.message.startswith(_ALLOCATED_WARNING))]
    deployments, not_ready, headless = [], set(), set()
    for file, doc in _raw_documents(list(paths)):
        if not isinstance(doc, dict):
            continue
        if is_deployment(doc):
            deployment, found = decode_deployment(doc, file)
            diagnostics.extend(found)
            if deployment is not None:
                deployments.append(deployment)
        elif doc.get("kind") == "Node" and _not_ready(doc):
            name = (doc.get("metadata") or {}).get("name")
            if isinstance(name, str):
                not_ready.add(name)
        elif doc.get("kind") == "Service" and _wants_headless(doc):
            meta = doc.get("metadata") or {}
            namespace = meta.get("namespace") or "default"
            headless.add(f"{namespace}/{meta.get('name')}")
    return Manifests(loaded.cluster, tuple(deployments), frozenset(not_ready), frozenset(headless),
                     tuple(diagnostics))


# -- showing a step -------------------------------------------------------------------------------------------


def _condition_word(conditions: Any) -> str:
    ready = conditions.ready is not False
    serving = conditions.serving if conditions.serving is not None else ready
    if conditions.terminating:
        return "serving-terminating" if serving else "terminating"
    return "ready" if ready else "not-ready"


def endpoints_text(cluster: Any) -> str:
    """One line per service port and endpoint, as kube-proxy sees them through the slices."""
    lines = []
    by_service: dict[tuple[str, str], list[Any]] = {}
    for s in cluster.endpoint_slices:
        by_service.setdefault((s.namespace, s.service_name), []).append(s)
    for service in sorted(cluster.services, key=lambda s: (s.namespace, s.name)):
        for port in service.ports:
            label = f"{service.namespace}/{service.name}" + (f":{port.name}" if port.name else "")
            rows = []
            for s in by_service.get((service.namespace, service.name), []):
                number = next((p.port for p in s.ports if (p.name or "") == port.name
                               and p.protocol is port.protocol), None)
                if number is None:
                    continue
                for e in s.endpoints:
                    where = " ".join(x for x in (f"node={e.node_name}" if e.node_name else "",
                                                 f"zone={e.zone}" if e.zone else "",
                                                 f"pod={e.target_ref[2]}" if e.target_ref else "") if x)
                    host = f"[{e.addresses[0]}]" if ":" in e.addresses[0] else e.addresses[0]
                    rows.append(f"{label} {host}:{number}/{port.protocol.value} "
                                f"{_condition_word(e.conditions)} {where}".rstrip())
            lines.extend(sorted(rows) or [f"{label} (no endpoints)"])
    return "".join(line + "\n" for line in lines)


def _rules_text(cluster: Any, config: Any) -> str:
    from kubeproxy_sim.netfilter.codec import render_ruleset
    from kubeproxy_sim.proxier import generate

    return render_ruleset(generate(cluster, config).ruleset)


def _diff(previous: str, current: str, number: int) -> str:
    lines = difflib.unified_diff(previous.splitlines(keepends=True), current.splitlines(keepends=True),
                                 fromfile=f"step {number - 1}", tofile=f"step {number}")
    text = "".join(lines)
    return text or "# rules unchanged\n"


# -- the command ----------------------------------------------------------------------------------------------


def _start_paths(args: argparse.Namespace) -> list[str]:
    """The objects to start from: -f, or the bootcamp nodes with the bootcamp node flags as defaults."""
    if args.filename:
        return list(args.filename)
    node_parser = argparse.ArgumentParser(add_help=False)
    add_node_flags(node_parser)
    for key, value in vars(node_parser.parse_args(scenario_args(DEFAULT_NODES))).items():
        if getattr(args, key, None) is None and value is not None:
            setattr(args, key, value)
    return [str(DEFAULT_NODES / "objects.yaml")]


def _initial_world(args: argparse.Namespace, rng: random.Random) -> Any:
    """A World holding the starting objects; with the default, only the bootcamp Nodes."""
    from kubeproxy_sim.controllers.model import World
    from kubeproxy_sim.controllers.script import Manifests, Step, play
    from kubeproxy_sim.objects.model import Cluster

    manifests = load_manifests(_start_paths(args))
    if not args.filename:
        manifests = Manifests(Cluster(nodes=manifests.cluster.nodes), not_ready_nodes=manifests.not_ready_nodes)
    _report(manifests.diagnostics)
    if any(d.severity is Severity.ERROR for d in manifests.diagnostics):
        raise InputError(Diagnostic("the starting objects have errors (above); fix them first", field="-f"))
    start = Step(0, "apply", "apply", paths=())
    return play(World(), start, rng, lambda _paths: manifests).world


def _report(diagnostics: Any) -> None:
    for diagnostic in diagnostics:
        print(f"kubeproxy-sim: {diagnostic}", file=sys.stderr)


def _script_loader(script: Path, line_holder: list[int]) -> Any:
    """``apply -f`` paths are relative to the script's folder; errors stop the script at that line."""

    def load(paths: tuple[str, ...]) -> Any:
        resolved = tuple(p if os.path.isabs(p) or p == "-" else str(script.parent / p) for p in paths)
        manifests = load_manifests(resolved)
        errors = [d for d in manifests.diagnostics if d.severity is Severity.ERROR]
        _report(d for d in manifests.diagnostics if d.severity is not Severity.ERROR)
        if errors:
            raise InputError([*errors, Diagnostic("apply -f: the objects above are invalid; nothing was applied",
                                                  file=str(script), line=line_holder[0])])
        return manifests

    return load


def run(args: argparse.Namespace) -> int:
    from kubeproxy_sim.controllers import cluster_of
    from kubeproxy_sim.controllers.script import ScriptError, parse_line, play

    script = Path(args.script)
    try:
        text = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Diagnostic(f"cannot read the script: {exc}; expected a text file of kubectl commands",
                                    file=str(script))) from None
    rng = random.Random(args.seed)
    world = _initial_world(args, rng)
    line_holder = [0]
    load = _script_loader(script, line_holder)
    previous = ""
    try:
        number = 0
        for line_number, line in enumerate(text.splitlines(), start=1):
            step = parse_line(line_number, line)  # parsed as it comes: the steps before a bad line still run
            if step is None:
                continue
            number += 1
            line_holder[0] = step.line
            played = play(world, step, rng, load)
            world = played.world
            cluster = cluster_of(world)
            config, diagnostics = build_config(args, cluster)
            if number == 1:
                _report(diagnostics)
            out = [f"# step {number}: {step.text}\n", *(f"# {note}\n" for note in played.notes)]
            if args.show == "endpoints":
                out.append(endpoints_text(cluster))
            else:
                rules = _rules_text(cluster, config)
                out.append(rules if args.show == "rules" else _diff(previous, rules, number))
                previous = rules
            sys.stdout.write("".join(out))
            sys.stdout.flush()
    except ScriptError as exc:
        raise InputError(Diagnostic(exc.message, file=str(script), line=exc.line)) from None
    return 0
