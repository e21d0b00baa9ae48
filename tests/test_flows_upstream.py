"""Every packet-flow expectation in rulesets/*/flows.yaml, traced through the rules it is about.

Upstream scenarios that carry upstream's expected dump (``upstream.rules``) are
traced through that dump, parsed, with the built-in chains and the jumps
kube-proxy installs added; the others through the node's tables generated from
the scenario's objects and flags. The expectation is upstream's notation
(proxier_test.go's ``packetFlowTest``): the set of DNAT destinations, or DROP,
REJECT, ACCEPT (accepted by a filter rule), "" (accepted, not NATed), and
whether the packet is masqueraded.

Upstream's tracer treats the node's addresses (and loopback) as LOCAL and a
packet from one of them as locally generated; so does ours.

Some upstream tests delete objects, sync again and check more flows; a folder's
``flows-after-delete.yaml`` names what is deleted (``delete``: kind, namespace,
name) and lists those flows (``flows``, as in flows.yaml). They are traced
through rules generated from the objects that remain, even where flows.yaml
uses ``upstream.rules``: upstream has no dump of that second sync.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Outcome, Tracer, TraceResult
from kubeproxy_sim.objects import Cluster

ROOT = Path(__file__).resolve().parents[1]

RULESETS = ROOT / "rulesets"
UPSTREAM_NODE = ("192.168.0.2", "192.168.1.2", "192.168.99.11", "2001:db8::1", "2001:db8:1::2")
AFTER_DELETE = "flows-after-delete.yaml"
_KINDS = {"Service": "services", "EndpointSlice": "endpoint_slices", "Node": "nodes", "Pod": "pods"}
"""The kinds a ``delete`` entry may name, and the Cluster field that holds them."""


def _flows() -> list[tuple[Path, dict]]:
    cases = []
    for path in sorted(RULESETS.glob("*/flows.yaml")):
        for flow in yaml.safe_load(path.read_text()) or []:
            cases.append((path.parent, flow))
    return cases


def _after_delete_spec(folder: Path) -> dict[str, Any]:
    """A folder's flows-after-delete.yaml: ``delete`` and ``flows``, nothing else (a misspelt key is an error,
    not a file that silently checks nothing)."""
    spec = yaml.safe_load((folder / AFTER_DELETE).read_text())
    if not isinstance(spec, dict) or set(spec) != {"delete", "flows"}:
        raise ValueError(f"{folder.name}/{AFTER_DELETE}: a mapping with exactly the keys delete and flows")
    return spec


def _flows_after_delete() -> list[tuple[Path, dict]]:
    return [(path.parent, flow) for path in sorted(RULESETS.glob(f"*/{AFTER_DELETE}"))
            for flow in _after_delete_spec(path.parent)["flows"]]


CASES = _flows()
AFTER_DELETE_CASES = _flows_after_delete()
_TRACERS: dict[tuple[Path, int, bool], tuple[Tracer, str, Ruleset, NodeContext]] = {}


def cluster_without(cluster: Cluster, delete: list[dict[str, Any]]) -> Cluster:
    """The cluster after upstream's OnServiceDelete / OnEndpointSliceDelete calls. An unknown kind, or a
    namespace/name that is not there, raises: a typo must not delete nothing and leave the flows traced
    through the first sync's objects (where they would fail, or worse, pass for the wrong reason)."""
    fields: dict[str, tuple[Any, ...]] = {}
    for item in delete:
        well_formed = isinstance(item, dict) and set(item) <= {"kind", "namespace", "name"}
        if not well_formed or item.get("kind") not in _KINDS:
            raise ValueError(f"cannot delete {item!r}: want {{kind, namespace, name}}, kind one of {sorted(_KINDS)}")
        field = _KINDS[item["kind"]]
        objects = fields.get(field, getattr(cluster, field))
        key = (item.get("namespace"), item.get("name"))
        kept = tuple(o for o in objects if (getattr(o, "namespace", None), o.name) != key)
        if len(kept) == len(objects):
            raise ValueError(f"cannot delete {item!r}: no such {item['kind']} in the scenario's objects")
        fields[field] = kept
    return dataclasses.replace(cluster, **fields)


def _scenario_rules(folder: Path, family: int | None = None,
                    delete: list[dict[str, Any]] | None = None) -> tuple[Ruleset, NodeContext]:
    """The node's tables from the scenario's objects (less ``delete``) and flags, and the node's addresses.
    The flags and the node's routes come from all the objects: kube-proxy reads its settings once, at start.
    ``family``: the packet's, whose proxier's tables it meets on a dual-stack node (None: the args' proxier)."""
    from kubeproxy_sim.cli.options import PROXIER_SUFFIXES, config_from_args, scenario_args, scenario_proxiers
    from kubeproxy_sim.objects import load_paths
    from kubeproxy_sim.proxier import generate
    from kubeproxy_sim.proxier.full import node_tables

    loaded = load_paths([str(folder / "objects.yaml")])
    flags = scenario_proxiers(folder).get(PROXIER_SUFFIXES[family], []) if family else []
    config = config_from_args([*scenario_args(folder), *flags], loaded.cluster)
    result = generate(cluster_without(loaded.cluster, delete or []), config)
    node = NodeContext.of([ip.split("/")[0] for ip in config.node_ips], routes=_routes(loaded.cluster, config))
    return node_tables(result.ruleset, result.jumps), node


def _routes(cluster, config) -> list[tuple[str, str]]:
    """The flows' convention: this node's pods sit behind its pod bridge (cni0, or the name prefix
    kube-proxy is told), everything else is reached through eth0."""
    node = cluster.node(config.node_name)
    bridge = config.bridge_interface or (config.interface_name_prefix + "0" if config.interface_name_prefix
                                         else "cni0")
    pod_routes = [(cidr, bridge) for cidr in (node.pod_cidrs if node else ())]
    default = "::/0" if config.ipv6 else "0.0.0.0/0"
    return [*pod_routes, (default, "eth0")]


def tracer_for(folder: Path, family: int, after_delete: bool = False) -> tuple[Tracer, str]:
    """One tracer per scenario (and family, and before or after the deletions), built on first use."""
    key = (folder, family, after_delete)
    if key not in _TRACERS:
        dump = folder / "upstream.rules"
        if after_delete:
            ruleset, node = _scenario_rules(folder, family, _after_delete_spec(folder)["delete"])
            _TRACERS[key] = (Tracer(ruleset, node), "generated rules after delete", ruleset, node)
        elif dump.is_file():
            from kubeproxy_sim.netfilter.codec import parse_ruleset_file
            from kubeproxy_sim.proxier.full import as_node_holds_it

            ruleset = as_node_holds_it(parse_ruleset_file(str(dump), ipv6=family == 6))
            node = NodeContext.of(UPSTREAM_NODE)
            _TRACERS[key] = (Tracer(ruleset, node), "upstream.rules", ruleset, node)
        else:
            ruleset, node = _scenario_rules(folder, family)
            _TRACERS[key] = (Tracer(ruleset, node), "generated rules", ruleset, node)
    return _TRACERS[key][:2]


def lazy_tracer_for(folder: Path, family: int, after_delete: bool = False) -> Tracer:
    """A new tracer over the same rules that compiles each chain when the packet first enters it."""
    tracer_for(folder, family, after_delete)
    _, _, ruleset, node = _TRACERS[(folder, family, after_delete)]
    return Tracer(ruleset, node, lazy=True)


def upstream_notation(result: TraceResult) -> tuple[str, bool]:
    """(output, masq) as upstream's tracer reports them: destinations joined, or the one verdict."""
    destinations = sorted({_destination(o) for o in result.outcomes if o.verdict == "DNAT"})
    verdicts = {o.verdict for o in result.outcomes if o.verdict != "DNAT"}
    parts = list(destinations)
    for verdict in ("DROP", "REJECT"):
        if verdict in verdicts:
            parts.append(verdict)
    if not parts and any(o.verdict == "ACCEPT" and _accepted_by_rule(o) for o in result.outcomes):
        parts.append("ACCEPT")
    return ", ".join(parts), any(o.masquerade for o in result.outcomes)


def _destination(outcome: Outcome) -> str:
    """A DNAT outcome's destination (``IP:PORT``), which every DNAT has: None is only other verdicts'."""
    assert outcome.destination is not None, f"a DNAT outcome without its destination: {outcome}"
    return outcome.destination


def _accepted_by_rule(outcome) -> bool:
    """An explicit ``-j ACCEPT`` in the filter table ended the walk (not a chain's policy)."""
    last = outcome.path[-1] if outcome.path else None
    return last is not None and last.table == "filter" and last.rule.endswith("-j ACCEPT")


def _sorted_output(text: str) -> str:
    return ", ".join(sorted(p.strip() for p in text.split(",") if p.strip()))


@pytest.mark.parametrize(("folder", "flow"), CASES, ids=[f"{f.name}:{fl['name']}" for f, fl in CASES])
def test_flow(folder: Path, flow: dict) -> None:
    check_flow(folder, flow)


@pytest.mark.parametrize(("folder", "flow"), AFTER_DELETE_CASES,
                         ids=[f"{f.name}:{fl['name']}" for f, fl in AFTER_DELETE_CASES])
def test_flow_after_delete(folder: Path, flow: dict) -> None:
    check_flow(folder, flow, after_delete=True)


def test_delete_names_an_existing_object() -> None:
    """A misspelt kind or name in ``delete`` fails instead of deleting nothing."""
    from kubeproxy_sim.objects import load_paths

    cluster = load_paths([str(RULESETS / "upstream-internal-traffic-policy-cluster" / "objects.yaml")]).cluster
    slice_ = {"kind": "EndpointSlice", "namespace": "ns1", "name": "svc1-1"}
    assert not cluster_without(cluster, [slice_]).endpoint_slices and cluster.endpoint_slices
    for typo in ({"kind": "EndpointSlices", "namespace": "ns1", "name": "svc1-1"},
                 {"kind": "EndpointSlice", "namespace": "ns1", "name": "svc1"},
                 {"kind": "Service", "name": "svc1"},
                 {"kind": "Service", "namespace": "ns1", "name": "svc1", "nmae": "x"}):
        with pytest.raises(ValueError, match="cannot delete"):
            cluster_without(cluster, [typo])


def check_flow(folder: Path, flow: dict, after_delete: bool = False) -> None:
    """Trace one flow (eagerly and lazily compiled, which must agree) and compare with upstream's notation."""
    packet = Packet.of(flow.get("proto", "tcp"), flow["src"], flow["dst"], int(flow["dport"]))
    tracer, source = tracer_for(folder, packet.family, after_delete)
    result = tracer.trace(packet)
    # compiling as it goes changes nothing
    assert lazy_tracer_for(folder, packet.family, after_delete).trace(packet) == result
    output, masq = upstream_notation(result)
    assert sum(o.probability_exact for o in result.outcomes) == 1
    want = (_sorted_output(str(flow["output"] or "")), bool(flow.get("masq", False)))
    assert (_sorted_output(output), masq) == want, (
        f"{folder.name} ({source}): {flow['name']}: {packet.proto} {flow['src']} -> {flow['dst']}:{flow['dport']}"
        f"\nwant output={want[0]!r} masq={want[1]}, got output={output!r} masq={masq}\n"
        + "\n".join(f"  {o.verdict} {o.destination} {o.probability_exact} masq={o.masquerade}: "
                    + " | ".join(s.rule for s in o.path) for o in result.outcomes)
    )
