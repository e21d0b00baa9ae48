"""What-if: what a change of the objects does to each service port's rules, shares and connections.

Two cluster states are analysed alike (every node's rules, every view's exact
shares). For each service port the comparison lists the rules added and
removed on the chosen node, the endpoints gained, lost or changed, the shares
before and after, and the fate of connections already open:

* conntrack keeps an established flow on the endpoint it was DNATed to, so
  TCP/SCTP flows stay where they are: on a pod that still runs they go on, on
  an endpoint that disappeared they are black-holed until the client gives up
  or is reset;
* for UDP, kube-proxy (after an endpoint change) deletes the conntrack entries
  of the service's addresses and NodePort whose reply source is not a serving
  endpoint's IP, but only when at least one serving endpoint remains: the next
  datagram is then balanced again; with none left nothing is cleared (and a
  pod that still runs goes on answering);
* new connections follow the new rules: REJECT when the service has no usable
  endpoint, DROP where a Local policy has no local endpoint.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubeproxy_sim.analysis.exact import EndpointRow, Selection, Share, View, endpoint_rows, service_views
from kubeproxy_sim.analysis.nodes import NodeSet
from kubeproxy_sim.netfilter.model import Chain
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.model import Cluster, Protocol
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.state import PortKey, ServicePortInfo, all_service_ports

_COMMENT = re.compile(r'--comment "?([^" ]+)')


@dataclass(frozen=True, slots=True)
class ViewChange:
    kind: str
    destination: str
    before: tuple[Share, ...]
    after: tuple[Share, ...]
    new: bool = False  # no such view before (a view may exist with no shares: nobody to send from)
    gone: bool = False


@dataclass(frozen=True, slots=True)
class Fate:
    """What happens to connections already open to ``endpoint``."""

    endpoint: str
    fate: str  # "kept", "reset" or "black-holed"
    reason: str


@dataclass(frozen=True, slots=True)
class PortDiff:
    name: str
    protocol: str
    status: str  # "added", "removed", "changed", "unchanged"
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    changed: tuple[tuple[str, str, str], ...]  # (endpoint, condition before, condition after)
    rules_added: tuple[str, ...]
    rules_removed: tuple[str, ...]
    views: tuple[ViewChange, ...]
    fates: tuple[Fate, ...]
    new_connections: tuple[str, ...]
    pods: tuple[tuple[str, str], ...] = ()  # endpoint -> pod, both states


@dataclass(frozen=True, slots=True)
class DiffReport:
    node: str
    ports: tuple[PortDiff, ...]
    other_added: tuple[str, ...]
    other_removed: tuple[str, ...]


def condition(row: EndpointRow | None) -> str:
    if row is None:
        return "absent"
    if row.ready:
        return "ready"
    if row.serving and row.terminating:
        return "serving-terminating"
    return "terminating" if row.terminating else "not-ready"


def _chains(svc: ServicePortInfo, endpoints: Sequence[str]) -> set[str]:
    name, proto = svc.name_string, svc.proto
    chains = {naming.service_chain(name, proto), naming.local_chain(name, proto),
              naming.external_chain(name, proto), naming.firewall_chain(name, proto)}
    chains |= {naming.endpoint_chain(name, proto, ep) for ep in endpoints}
    return chains


def _chains_of(nodes: NodeSet | None, node: str) -> dict[tuple[str, str], Chain]:
    """The node's chains by (table, name); none when the node is absent."""
    if nodes is None or node not in nodes.configs:
        return {}
    return {(table.name, chain.name): chain for table in nodes.ruleset(node).tables for chain in table.chains}


def _spec_texts(chain: Chain) -> tuple[str, ...]:
    specs = chain.specs
    return specs if specs is not None else tuple(rule.spec for rule in chain.rules)


def _changed_rules(before: NodeSet | None, after: NodeSet | None,
                   node: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(chain, 'table: -A CHAIN spec') of the rules of every chain that differs between the states, before
    and after. A chain with the same rules in both is left out: its lines would cancel out anyway, and a
    large node has 100,000 chains of which a change touches a few."""
    old, new = _chains_of(before, node), _chains_of(after, node)
    same = {key for key, chain in old.items() if key in new and _spec_texts(chain) == _spec_texts(new[key])}

    def lines(chains: dict[tuple[str, str], Chain]) -> list[tuple[str, str]]:
        return [(chain.name, f"{key[0]}: {rule.text()}")
                for key, chain in chains.items() if key not in same for rule in chain.rules]

    return lines(old), lines(new)


def _owner(chain: str, text: str, owners: dict[str, str]) -> str | None:
    if chain in owners:
        return owners[chain]
    match = _COMMENT.search(text)
    return owners.get("comment:" + match.group(1)) if match else None


def rule_changes(before: NodeSet | None, after: NodeSet | None, node: str,
                 ports: Mapping[PortKey, tuple[ServicePortInfo, Sequence[str]]]
                 ) -> tuple[dict[str, tuple[list[str], list[str]]], list[str], list[str]]:
    """Rules added/removed on ``node``, grouped by the service port they belong to (by chain or comment)."""
    owners: dict[str, str] = {}
    for svc, endpoints in ports.values():
        for chain in _chains(svc, endpoints):
            owners[chain] = svc.name_string
        owners["comment:" + svc.name_string] = svc.name_string
    rules_before, rules_after = _changed_rules(before, after, node)
    old, new = Counter(r[1] for r in rules_before), Counter(r[1] for r in rules_after)
    by_text = {r[1]: r[0] for r in (*rules_before, *rules_after)}
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    other_added: list[str] = []
    other_removed: list[str] = []
    for text, count in (new - old).items():
        owner = _owner(by_text[text], text, owners)
        target = grouped.setdefault(owner, ([], []))[0] if owner else other_added
        target.extend([text] * count)
    for text, count in (old - new).items():
        owner = _owner(by_text[text], text, owners)
        target = grouped.setdefault(owner, ([], []))[1] if owner else other_removed
        target.extend([text] * count)
    return grouped, other_added, other_removed


def _align(before: Sequence[View], after: Sequence[View]) -> tuple[ViewChange, ...]:
    keys = list(dict.fromkeys([(v.kind, v.destination) for v in (*before, *after)]))
    b = {(v.kind, v.destination): v.average for v in before}
    a = {(v.kind, v.destination): v.average for v in after}
    return tuple(ViewChange(k, d, b.get((k, d), ()), a.get((k, d), ()), (k, d) not in b, (k, d) not in a)
                 for k, d in keys)


def _serving(row: EndpointRow | None) -> bool:
    return row is not None and (row.ready or row.serving)


def fates(svc: ServicePortInfo, before: Sequence[EndpointRow], after: Sequence[EndpointRow] | None,
          running: frozenset[str] = frozenset()) -> tuple[Fate, ...]:
    """The fate of open connections to each endpoint that could have had them.

    ``running``: the addresses of the after state's Pods that still run (an endpoint dropped from the slices,
    e.g. by a changed label, whose pod goes on answering). UDP follows upstream's reconciler (see
    ``simulator.stale``): with some serving endpoint left, an entry whose reply source is not a serving
    endpoint's *IP* is deleted; with none left, nothing is.
    """
    now = {r.endpoint: r for r in after or ()}
    serving_ips = {r.ip for r in now.values() if _serving(r)}
    cleanup = svc.protocol is Protocol.UDP and bool(serving_ips)
    return tuple(_fate(row, now.get(row.endpoint), after is None, svc.protocol is Protocol.UDP, cleanup,
                       serving_ips, row.ip in running) for row in before if _serving(row))


def _fate(row: EndpointRow, later: EndpointRow | None, port_gone: bool, udp: bool, cleanup: bool,
          serving_ips: set[str], alive: bool) -> Fate:
    if port_gone and alive:
        return Fate(row.endpoint, "kept", "the service port's rules are gone, but conntrack keeps open flows "
                    "DNATed to the pod, which still runs")
    if port_gone:  # the pod is gone too (or no Pod object says it runs), as for a lost endpoint below
        return Fate(row.endpoint, "black-holed", "the service port and its pod are gone; conntrack still sends "
                    "the flow to the pod's address until " + ("the entry times out (30 s, 120 s if assured)"
                                                              if udp else "the client times out or is reset"))
    if _serving(later):
        return Fate(row.endpoint, "kept", "still a serving endpoint; conntrack keeps the flow on it")
    if cleanup and row.ip not in serving_ips:
        return Fate(row.endpoint, "reset", "UDP: kube-proxy deletes the conntrack entries whose reply source is "
                    "no serving endpoint's IP; the next datagram is balanced again")
    if cleanup:
        return Fate(row.endpoint, "kept", "UDP: its IP is still a serving endpoint (on another port), which is "
                    "what kube-proxy's cleanup compares, so the entries stay and datagrams go on to "
                    f"{row.endpoint}")
    if later is not None:
        return Fate(row.endpoint, "kept", "no longer chosen for new connections, but conntrack keeps open flows "
                    "on the pod (still listed, not serving)")
    if alive:
        return Fate(row.endpoint, "kept", "no longer an endpoint, but its pod still runs: conntrack keeps the "
                    "flow on it" + (" (UDP: no serving endpoint is left, so kube-proxy clears nothing)"
                                    if udp else ""))
    if udp:
        return Fate(row.endpoint, "black-holed", "UDP: no serving endpoint is left, so kube-proxy clears nothing; "
                    "datagrams follow the stale entry until it times out (30 s, 120 s if assured)")
    return Fate(row.endpoint, "black-holed", "the endpoint is gone; conntrack still sends the flow to its address "
                "until the client times out or is reset")


def running_pod_ips(cluster: Cluster) -> frozenset[str]:
    """The addresses of the Pods that still run (not Succeeded or Failed): they answer flows conntrack keeps."""
    return frozenset(ip for p in cluster.pods if p.phase not in ("Succeeded", "Failed") for ip in p.pod_ips)


def new_connection_notes(views: Sequence[View]) -> tuple[str, ...]:
    """Where new connections are refused after the change."""
    notes = []
    for view in views:
        for entry in view.entries:
            if not entry.weight:  # a node the balancer does not send to: nothing new arrives there
                continue
            for share in entry.shares:
                if share.verdict == "REJECT":
                    notes.append(f"{view.kind} {view.destination} on {entry.node}: REJECT ({share.probability}) - "
                                 "the service has no usable endpoint")
                elif share.verdict == "DROP":
                    notes.append(f"{view.kind} {view.destination} on {entry.node}: DROP ({share.probability}) - no "
                                 "local endpoint for a Local policy (or a firewall rule)")
    return tuple(dict.fromkeys(notes))


def _ports(nodes: NodeSet) -> dict[PortKey, ServicePortInfo]:
    return {s.key: s for s in all_service_ports(nodes.cluster, nodes.configs[nodes.order[0]])}


def diff(before: NodeSet, after: NodeSet, node: str, only: set[PortKey] | None = None,
         include_unchanged: bool = False) -> DiffReport:
    """Compare two cluster states, service port by service port, on ``node`` for the rules."""
    old, new = _ports(before), _ports(after)
    every = list(dict.fromkeys([*old, *new]))
    keys = [k for k in every if only is None or k in only]
    rows_b = {k: endpoint_rows(before.cluster, before, old[k]) for k in every if k in old}
    rows_a = {k: endpoint_rows(after.cluster, after, new[k]) for k in every if k in new}
    # every port owns its rules, the ones --to leaves out too: else their rules would be "other rules"
    owners = {k: ((new.get(k) or old[k]), [r.endpoint for r in (*rows_b.get(k, ()), *rows_a.get(k, ()))])
              for k in every}
    grouped, other_added, other_removed = rule_changes(before, after, node, owners)
    views_b, views_a = _state_views(before, old, keys), _state_views(after, new, keys)
    running = running_pod_ips(after.cluster)
    out = []
    for key in keys:
        port = _port_diff(key, old.get(key), new.get(key), rows_b.get(key, ()), rows_a.get(key),
                          views_b.get(key, ()), views_a.get(key, ()), grouped, running)
        if port.status != "unchanged" or include_unchanged:
            out.append(port)
    return DiffReport(node, tuple(out), tuple(other_added), tuple(other_removed))


def _state_views(nodes: NodeSet, ports: dict[PortKey, ServicePortInfo],
                 keys: Sequence[PortKey]) -> dict[PortKey, tuple[View, ...]]:
    """The views of the ports in one state; then the state's rules are let go, so that the two states'
    compiled rules (every node's, a gigabyte or more for a large cluster) are never held at once."""
    with collector_paused(30 * len(keys) * len(nodes.order)):  # every port traced on every node: see objects.bulk
        views = {key: service_views(nodes, Selection(ports[key]), None) for key in keys if key in ports}
        nodes.forget_rules()
    return views


def _port_diff(key: PortKey, svc_b: ServicePortInfo | None, svc_a: ServicePortInfo | None,
               rows_b: Sequence[EndpointRow], rows_a: Sequence[EndpointRow] | None, views_b: Sequence[View],
               views_a: Sequence[View], grouped: dict[str, tuple[list[str], list[str]]],
               running: frozenset[str] = frozenset()) -> PortDiff:
    svc = svc_a or svc_b
    assert svc is not None
    cond_b = {r.endpoint: condition(r) for r in rows_b}
    cond_a = {r.endpoint: condition(r) for r in rows_a or ()}
    added, removed = grouped.get(svc.name_string, ([], []))
    views = _align(views_b, views_a)
    changed = tuple((e, cond_b[e], cond_a[e]) for e in cond_b if e in cond_a and cond_b[e] != cond_a[e])
    gained = tuple(e for e in cond_a if e not in cond_b)
    lost = tuple(e for e in cond_b if e not in cond_a)
    if svc_b is None:
        status = "added"
    elif svc_a is None:
        status = "removed"
    elif added or removed or gained or lost or changed or svc_a != svc_b or any(v.before != v.after for v in views):
        status = "changed"
    else:
        status = "unchanged"
    pods = {r.endpoint: r.pod for r in (*rows_b, *(rows_a or ())) if r.pod}
    notes = new_connection_notes(views_a)
    if svc_a is None:
        notes = ("the service port is gone: no rule catches its addresses any more; new connections are not "
                 "load-balanced (they go wherever the address routes, usually nowhere)",)
    return PortDiff(svc.name_string, svc.protocol.value, status, gained, lost, changed, tuple(sorted(added)),
                    tuple(sorted(removed)), views, fates(svc, rows_b, rows_a, running), notes,
                    tuple(sorted(pods.items())))
