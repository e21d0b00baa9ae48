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
  endpoint, DROP where a Local policy has no local endpoint or the source ranges
  leave the client out (the cause the traces found, analysis.why), one row per
  entry node; an ipMode Proxy balancer that turns the client away before any
  node sees it gets one row for the view, as no node is where it ends; a refusal
  the state before had alike is said unchanged.

A port whose views cannot have changed (:func:`views_kept`) is not traced again:
a change of two services in a cluster of 10,000 traces those two.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from kubeproxy_sim.analysis.exact import (
    EndpointRow,
    Entry,
    Selection,
    Share,
    View,
    endpoint_rows,
    merge_shares,
    proxy_ingress,
    reached_pods,
    service_views,
)
from kubeproxy_sim.analysis.nodes import NodeSet, Source, client_pod_source
from kubeproxy_sim.netfilter.model import Chain
from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.model import Cluster, EndpointSlice, Protocol
from kubeproxy_sim.objects.nodes import load_balancer_backends
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.state import PortKey, ServicePortInfo, all_service_ports

_COMMENT = re.compile(r'--comment "?([^" ]+)')


@dataclass(frozen=True, slots=True)
class ViewChange:
    """A view's average shares over every node's entries before and after, and the compared node's own.

    The average is what the view's traffic does as a whole (the public ``before``/``after``); a node's clients
    meet that node's rules only, which a Local traffic policy (or a topology hint) makes differ from node to
    node: the node whose rules are compared is the one a user named, so its own shares are kept beside it."""

    kind: str
    destination: str
    before: tuple[Share, ...]
    after: tuple[Share, ...]
    new: bool = False  # no such view before (a view may exist with no shares: nobody to send from)
    gone: bool = False
    node_before: tuple[Share, ...] = ()  # the compared node's entries' shares (none: the view does not enter it)
    node_after: tuple[Share, ...] = ()
    node_sent: tuple[bool, bool] = (False, False)  # whether the view's new connections enter the node, each state

    @property
    def node_differs(self) -> bool:
        """Whether the node's own shares say something the averages do not (in either state)."""
        return bool(self.node_before or self.node_after) and (self.node_before, self.node_after) != (self.before,
                                                                                                    self.after)


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
    pods: tuple[tuple[str, str], ...] = ()  # endpoint -> pod, both states, its own and those its views reach


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
    """The port's SVC, SVL, EXT and FW chains (one hash: they share it) and each endpoint's SEP chain, an endpoint
    listed in both states hashed once (each name is a SHA-256: 150,000 of them at 10,000 services)."""
    name, proto = svc.name_string, svc.proto
    suffix = naming.port_proto_hash(name, proto)
    chains = {prefix + suffix for prefix in (naming.SVC_PREFIX, naming.SVL_PREFIX, naming.EXT_PREFIX,
                                             naming.FW_PREFIX)}
    chains |= {naming.endpoint_chain(name, proto, ep) for ep in set(endpoints)}
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


def chain_owners(ports: Mapping[PortKey, tuple[ServicePortInfo, Sequence[str]]]) -> dict[str, str]:
    """Chain name -> the name of the service port it belongs to, for ``ports``' (port, endpoints): its SVC, SVL,
    EXT and FW chains and each endpoint's SEP chain, whether or not a state has them."""
    return {chain: svc.name_string for svc, endpoints in ports.values() for chain in _chains(svc, endpoints)}


def _owner(chain: str, text: str, owners: Mapping[str, str], names: set[str]) -> str | None:
    if chain in owners:
        return owners[chain]
    match = _COMMENT.search(text)
    return match.group(1) if match and match.group(1) in names else None


def rule_changes(before: NodeSet | None, after: NodeSet | None, node: str, owners: Mapping[str, str]
                 ) -> tuple[dict[str, tuple[list[str], list[str]]], list[str], list[str]]:
    """Rules added/removed on ``node``, grouped by the service port they belong to (by chain, see
    :func:`chain_owners`, or comment)."""
    names = set(owners.values())
    rules_before, rules_after = _changed_rules(before, after, node)
    old, new = Counter(r[1] for r in rules_before), Counter(r[1] for r in rules_after)
    by_text = {r[1]: r[0] for r in (*rules_before, *rules_after)}
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    other_added: list[str] = []
    other_removed: list[str] = []
    for side, lines, other in ((0, new - old, other_added), (1, old - new, other_removed)):  # added, then removed
        for text, count in lines.items():
            owner = _owner(by_text[text], text, owners, names)
            target = grouped.setdefault(owner, ([], []))[side] if owner else other
            target.extend([text] * count)
    return grouped, other_added, other_removed


def node_shares(view: View | None, node: str) -> tuple[tuple[Share, ...], bool]:
    """The shares of the view's entries on ``node`` (weighted as the view weighs them; alike when none carries
    traffic: what a connection that entered there would meet), and whether any of the view's traffic enters it."""
    mine = [e for e in view.entries if e.node == node] if view is not None else []
    sent = any(e.weight for e in mine)
    weighted = [(e.weight, e.shares) for e in mine] if sent else [(Fraction(1), e.shares) for e in mine]
    total = sum((weight for weight, _ in weighted), Fraction(0))
    return (merge_shares((weight / total, shares) for weight, shares in weighted) if total else ()), sent


def _align(before: Sequence[View], after: Sequence[View], node: str | None = None) -> tuple[ViewChange, ...]:
    keys = list(dict.fromkeys([(v.kind, v.destination) for v in (*before, *after)]))
    b = {(v.kind, v.destination): v for v in before}
    a = {(v.kind, v.destination): v for v in after}
    out = []
    for key in keys:
        old, new = b.get(key), a.get(key)
        mine_b, sent_b = node_shares(old, node) if node is not None else ((), False)
        mine_a, sent_a = node_shares(new, node) if node is not None else ((), False)
        out.append(ViewChange(key[0], key[1], old.average if old else (), new.average if new else (), old is None,
                              new is None, mine_b, mine_a, (sent_b, sent_a)))
    return tuple(out)


def _serving(row: EndpointRow | None) -> bool:
    return row is not None and (row.ready or row.serving)


@dataclass(frozen=True, slots=True)
class Answering:
    """What the state after says of the addresses open flows were DNATed to: conntrack keeps a flow on its
    address whatever the rules say, so whether it is kept or black-holed depends on what is still there."""

    running: frozenset[str] = frozenset()  # the addresses of the Pods that still run (not Succeeded or Failed)
    listed: frozenset[str] = frozenset()  # the addresses an EndpointSlice still lists (any service, any port)
    pods_given: bool = False  # some Pod object was given: a pod absent from them is gone


def answering(cluster: Cluster) -> Answering:
    return Answering(frozenset(ip for p in cluster.pods if p.phase not in ("Succeeded", "Failed") for ip in p.pod_ips),
                     frozenset(e.addresses[0] for s in cluster.endpoint_slices for e in s.endpoints if e.addresses),
                     bool(cluster.pods))


def fates(svc: ServicePortInfo, before: Sequence[EndpointRow], after: Sequence[EndpointRow] | None,
          there: Answering = Answering()) -> tuple[Fate, ...]:
    """The fate of open connections to each endpoint that could have had them.

    ``there``: what still runs at, or still lists, an address in the state after (an endpoint dropped from the
    slices, e.g. by a changed label, whose pod goes on answering). UDP follows upstream's reconciler (see
    ``simulator.stale``): with some serving endpoint left, an entry whose reply source is not a serving
    endpoint's *IP* is deleted; with none left, nothing is.
    """
    udp = svc.protocol is Protocol.UDP
    if after is None:
        return tuple(_gone_port_fate(row, udp, there) for row in before if _serving(row))
    now = {r.endpoint: r for r in after}
    serving_ips = {r.ip for r in now.values() if _serving(r)}
    cleanup = udp and bool(serving_ips)
    return tuple(_fate(row, now.get(row.endpoint), udp, cleanup, serving_ips, row.ip in there.running)
                 for row in before if _serving(row))


UDP_STALE_UNTIL = ("the client stops sending for 30 s (120 s once the entry is assured): every datagram refreshes "
                   "the entry, so a client that keeps sending at least that often is black-holed indefinitely")
"""How long a stale UDP conntrack entry keeps a client's datagrams (nf_conntrack_udp_packet refreshes its timeout on
every packet)."""


def _gone_port_fate(row: EndpointRow, udp: bool, there: Answering) -> Fate:
    """A removed port's endpoint: its flows live on while something is still at the address. Said only from
    what was given: without Pod objects an address no slice lists any more is not said to be a pod that is gone."""
    if row.ip in there.running:
        return Fate(row.endpoint, "kept", "the service port's rules are gone, but conntrack keeps open flows "
                    "DNATed to the pod, which still runs")
    if row.ip in there.listed:
        return Fate(row.endpoint, "kept", "the service port's rules are gone, but conntrack keeps open flows "
                    "DNATed to its address, which an EndpointSlice still lists")
    until = UDP_STALE_UNTIL if udp else "the client times out or is reset"
    if row.pod is not None and there.pods_given:
        return Fate(row.endpoint, "black-holed", "the service port and its pod are gone; conntrack still sends "
                    "the flow to the pod's address until " + until)
    return Fate(row.endpoint, "black-holed", "the service port is gone and no EndpointSlice lists its address any "
                "more; conntrack still sends the flow there until " + until)


def _fate(row: EndpointRow, later: EndpointRow | None, udp: bool, cleanup: bool, serving_ips: set[str],
          alive: bool) -> Fate:
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
                    "datagrams follow the stale entry until " + UDP_STALE_UNTIL +
                    " (or until the service has a serving endpoint again, when kube-proxy deletes the entry)")
    return Fate(row.endpoint, "black-holed", "the endpoint is gone; conntrack still sends the flow to its address "
                "until the client times out or is reset")


def new_connection_notes(views: Sequence[View], before: Sequence[View] = ()) -> tuple[str, ...]:
    """Where new connections are refused after the change, each with the reason the view's traces gave (a DROP has
    several: a Local policy, the source ranges, a DNAT onto a firewalled address), and said unchanged where the
    same entry ended so before it (``before``: the views of the state before)."""
    was, turned = _refused(before), _turned_away(before)
    notes = [note for view in views for entry in view.entries
             for note in _entry_notes(view, entry, was, turned)]
    return tuple(dict.fromkeys(notes))  # a balancer's refusal: each entry node's row is the view's one row


def _entry_notes(view: View, entry: Entry, was: Mapping[tuple[str, str, str, Source, str], tuple[Fraction, Fraction]],
                 turned: set[tuple[str, str, Source]]) -> list[str]:
    """The rows of one entry's refused connections: where they end, the part of them and why."""
    if entry.refused is not None:
        return [_turned_away_row(view, entry, turned)]
    if not entry.weight:  # a node the balancer does not send to: nothing new arrives there
        return []
    notes = []
    for share in entry.shares:
        if share.verdict not in ("REJECT", "DROP"):
            continue
        where = f"{view.kind} {view.destination} on {entry.node}: {share.verdict}"
        own = sum((s.probability for s in entry.own_shares if s.verdict == share.verdict), Fraction(0))
        same = was.get((view.kind, view.destination, entry.node, entry.source, share.verdict))
        if own:
            kept = ", unchanged" if same is not None and same[0] == own else ""
            notes.append(f"{where} ({own}{kept}) - {_refusal(view, entry.node, share.verdict)}")
        if share.probability != own:  # the rest ends on a node its DNAT sent the connection on to
            rest = share.probability - own
            kept = ", unchanged" if same is not None and same[1] == rest else ""
            notes.append(f"{where} ({rest}{kept}) - {_beyond(entry, share.verdict)}")
    return notes


def _turned_away_row(view: View, entry: Entry, turned: set[tuple[str, str, Source]]) -> str:
    """An ipMode Proxy balancer's refusal of the entry's client: it ends every connection of the client at the
    balancer, whichever node it would have chosen and whatever the weights (exact._turned_away), so the row names
    no node and is the same for each entry (one row for the view); unchanged when the balancer turned the same
    client away before."""
    kept = ", unchanged" if (view.kind, view.destination, entry.source) in turned else ""
    return f"{view.kind} {view.destination}: DROP (1{kept}) - {entry.refused}"


def _turned_away(views: Sequence[View]) -> set[tuple[str, str, Source]]:
    """The clients a balancer turns away in one state, by view (:func:`_turned_away_row`)."""
    return {(view.kind, view.destination, entry.source) for view in views for entry in view.entries
            if entry.refused is not None}


def _refused(views: Sequence[View]) -> dict[tuple[str, str, str, Source, str], tuple[Fraction, Fraction]]:
    """The refusals of new connections in one state, by view, entry and verdict: (the part the entry node's own
    rules refuse, the part refused on a node its DNAT sent the connection on to); of entries that carry traffic
    to a node (not those a balancer turned away before any node: :func:`_turned_away`)."""
    found = {}
    for view in views:
        for entry in view.entries:
            if not entry.weight or entry.refused is not None:
                continue
            for share in entry.shares:
                if share.verdict in ("REJECT", "DROP"):
                    own = sum((s.probability for s in entry.own_shares if s.verdict == share.verdict), Fraction(0))
                    found[(view.kind, view.destination, entry.node, entry.source, share.verdict)] = (
                        own, share.probability - own)
    return found


def _refusal(view: View, node: str, verdict: str) -> str:
    """Why the entry node's own rules refuse the view's connections: the reasons the view's traces gave for a DROP
    at that node (:meth:`View.said_at`: kept as facts, the node and the verdict, not read back from the sentences);
    a REJECT of a port's own rules is always its having no usable endpoint."""
    if verdict == "REJECT":
        return "the service has no usable endpoint"
    said = view.said_at(node, "DROP")
    return "; ".join(said) if said else f"dropped by node {node}'s rules"


def _beyond(entry: Entry, verdict: str) -> str:
    """Why a connection the entry's node DNATed to another node's own address fails: that node's rules drop or
    reject it where it ends (exact._rehomed), not the entry's Service, which had an endpoint."""
    sent = [s.endpoint for s in entry.own_shares if s.verdict == "DNAT" and s.endpoint and s not in entry.shares]
    named = ", ".join(sent[:2]) + (f" and {len(sent) - 2} more" if len(sent) > 2 else "")
    return (f"{'rejected' if verdict == 'REJECT' else 'dropped'} where the connection ends: on the node its DNAT "
            f"sent it on to ({named or 'another node'}, that node's own address), by that node's rules")


def _ports(nodes: NodeSet) -> dict[PortKey, ServicePortInfo]:
    return {s.key: s for s in all_service_ports(nodes.cluster, nodes.configs[nodes.order[0]])}


# --------------------------------------------------------------------------- ports whose views cannot have changed
#
# A port's views are its first packets traced on every node. What those traces read: each node's rules that such a
# packet can meet, the node configs (addresses, interfaces), the Service port and its endpoints, which nodes a load
# balancer uses and the client pod each node sends from. When all of that is equal in both states the views are too,
# and the port need not be traced twice. The packets of port P go to P's addresses (cluster, external, balancer IPs,
# every node's for the NodePort), P's port or NodePort, or after DNAT to an endpoint: they meet P's own chains, the
# node-wide rules (KUBE-MARK-MASQ, KUBE-POSTROUTING, the filter chains, the built-in ones, the jumps between them),
# and P's own entries in the shared chains (KUBE-SERVICES, KUBE-NODEPORTS, ...). Another port's entry there is
# skipped by P's packets only when it matches a protocol and destination port (and address, if one) none of P's
# packets has; anything less plain counts as node-wide. When in doubt, the port is traced.
#
# A DNAT to a node's own address is followed on that node (exact._rehomed), where another port Q's rules may take
# the connection again: P's views then read Q's endpoints too. They are met only through Q's entry there (its
# NodePort, or an external or balancer IP that is the node's address) or a node-wide rule, and P's destinations
# include every node's addresses and its endpoints' ports: so P meets Q's entry and is traced, whatever of Q changed.
# Keeping such a P would need Q's reasons to differ (its rules, slices, pods) added to P's.


@dataclass(frozen=True, slots=True)
class _Entry:
    """A shared chain's rule that matches one protocol and destination port (and address, when it names a single
    one) only, which a service port's comment names: only packets to that port can meet it."""

    port: str  # the service port's name
    proto: str
    dport: int
    destination: tuple[int, int] | None  # (family, value); None: any address


@dataclass(frozen=True, slots=True)
class _NodeRules:
    """One node's rules in one state, split for :func:`views_kept`."""

    chains: dict[str, dict[str, Chain]]  # table -> name -> a chain some service port owns
    common: tuple[tuple[str, str, str | None, tuple[str, ...]], ...]  # every other chain with its node-wide rules
    placed: dict[str, tuple[tuple[str, str, int, str], ...]]  # port -> its entries (table, chain, node-wide rules
    # before it, spec) in the other chains
    entries: tuple[_Entry, ...]
    entered: frozenset[str]  # ports whose chains a node-wide rule jumps to


def _target(spec: str) -> str:
    """The chain or target a rule jumps to (its last ``-j``/``-g``), '' when none."""
    for flag in ("-j ", "-g "):
        at = spec.rfind(flag)
        if at == 0 or (at > 0 and spec[at - 1] == " "):
            return spec[at + 3:].split(" ", 1)[0]
    return ""


def _destination(text: str | None) -> tuple[int, int] | None:
    """A ``-d`` value as one address; None for none, a network or anything unreadable (any address)."""
    if text is None:
        return None
    host, _, length = text.partition("/")
    if length not in ("", "32" if ":" not in host else "128"):
        return None
    try:
        return parse_address(host)
    except ValueError:
        return None


def _entry(spec: str, names: set[str]) -> _Entry | None:
    """The rule as an :class:`_Entry`, or None: no service port's comment, or no plain protocol and port match."""
    match = _COMMENT.search(spec)
    if match is None or match.group(1) not in names:
        return None
    words = " ".join(spec.split('"')[0::2]).split()  # the comment's words are no options
    found: dict[str, str] = {}
    for index, word in enumerate(words[:-1]):
        if word in ("-p", "--dport", "-d") and (index == 0 or words[index - 1] != "!"):  # '! -d X' matches more
            found[word] = words[index + 1]
    proto, dport = found.get("-p"), found.get("--dport", "")
    if proto is None or not dport.isdigit():
        return None
    return _Entry(match.group(1), proto, int(dport), _destination(found.get("-d")))


def _node_rules(nodes: NodeSet, node: str, owner: Mapping[str, str], names: set[str],
                memo: dict[str, tuple[_Entry | None, str]]) -> _NodeRules:
    """``memo``: a rule text's entry and target, for the next node and state (most shared rules are on all)."""
    chains: dict[str, dict[str, Chain]] = {}
    common = []
    placed: dict[str, list[tuple[str, str, int, str]]] = {}
    entries: list[_Entry] = []
    entered: set[str] = set()
    for table in nodes.ruleset(node).tables:
        owned = chains.setdefault(table.name, {})
        for chain in table.chains:
            if chain.name in owner:
                owned[chain.name] = chain
                continue
            wide: list[str] = []
            for spec in _spec_texts(chain):
                known = memo.get(spec)
                if known is None:
                    known = memo[spec] = (_entry(spec, names), _target(spec))
                entry, target = known
                if entry is not None and owner.get(target, entry.port) == entry.port:
                    placed.setdefault(entry.port, []).append((table.name, chain.name, len(wide), spec))
                    entries.append(entry)
                    continue
                wide.append(spec)
                if target in owner:
                    entered.add(owner[target])
            common.append((table.name, chain.name, chain.policy, tuple(wide)))
    return _NodeRules(chains, tuple(common), {port: tuple(rules) for port, rules in placed.items()},
                      tuple(entries), frozenset(entered))


def _differing(before: _NodeRules, after: _NodeRules, owner: Mapping[str, str],
               jumps: re.Pattern[str]) -> tuple[set[str], set[str]]:
    """The ports whose rules on the node differ between the states, and those of the rest whose chains jump to
    another port's chain (whose rules the port's packets then meet too). ``jumps`` finds the jumps to chains
    named as ports' chains are (one search of a chain's text: most chains have none)."""
    differ = {port for port in before.placed.keys() | after.placed.keys()
              if before.placed.get(port) != after.placed.get(port)}
    strays: set[str] = set()
    for table in before.chains.keys() | after.chains.keys():
        chains_b, chains_a = before.chains.get(table, {}), after.chains.get(table, {})
        differ.update(owner[name] for name in chains_a.keys() - chains_b.keys())
        for name, old in chains_b.items():
            new, specs = chains_a.get(name), _spec_texts(old)
            if new is None or old.policy != new.policy or specs != _spec_texts(new):
                differ.add(owner[name])
                continue
            targets = jumps.findall("\n".join(specs))
            if targets and any(owner.get(target, owner[name]) != owner[name] for target in targets):
                strays.add(owner[name])
    return differ, strays


def _slices(cluster: Cluster) -> dict[tuple[str, str], tuple[EndpointSlice, ...]]:
    """Each service's EndpointSlices (which nodes pass a load balancer's health check reads them all)."""
    out: dict[tuple[str, str], list[EndpointSlice]] = {}
    for slc in cluster.endpoint_slices:
        out.setdefault((slc.namespace, slc.service_name), []).append(slc)
    return {key: tuple(slices) for key, slices in out.items()}


def _node_addresses(nodes: NodeSet) -> set[tuple[int, int]] | None:
    """Every node's addresses, read once for every port's :func:`_packet_targets`; None when one cannot be read."""
    try:
        return {parse_address(text) for node in nodes.order for text in nodes.addresses(node) if text}
    except ValueError:
        return None


def _packet_targets(svc: ServicePortInfo, rows: Sequence[EndpointRow], ingress: Sequence[str],
                    node_addresses: set[tuple[int, int]]) -> tuple[set[int], set[tuple[int, int]]] | None:
    """Every destination port and address a packet of the port's views can have, before DNAT or after; None when
    an address cannot be read. ``ingress``: the port's :func:`proxy_ingress`; ``node_addresses``: every node's."""
    ports = {svc.port, *([svc.node_port] if svc.node_port else [])}
    texts = {svc.cluster_ip, *svc.external_ips, *svc.load_balancer_vips, *ingress}
    for row in rows:
        texts.add(row.ip)
        port = row.endpoint.rpartition(":")[2]
        if not port.isdigit():
            return None
        ports.add(int(port))
    try:
        return ports, {parse_address(text) for text in texts if text} | node_addresses
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Met:
    """The shared chains' entries of every node and both states, by what packets they can match."""

    by_port: dict[tuple[str, int], set[str]]  # (proto, dport) -> ports with an entry for any address
    by_address: dict[tuple[str, int, tuple[int, int]], set[str]]  # (proto, dport, address) -> ports

    def add(self, entries: Sequence[_Entry]) -> None:
        for entry in entries:
            if entry.destination is None:
                self.by_port.setdefault((entry.proto, entry.dport), set()).add(entry.port)
            else:
                self.by_address.setdefault((entry.proto, entry.dport, entry.destination), set()).add(entry.port)

    def ports(self, proto: str, targets: tuple[set[int], set[tuple[int, int]]]) -> set[str]:
        """The ports whose entries a packet of ``proto`` to one of ``targets`` (ports, addresses) can match."""
        dports, addresses = targets
        met = {port for dport in dports for port in self.by_port.get((proto, dport), ())}
        met.update(port for dport in dports for address in addresses
                   for port in self.by_address.get((proto, dport, address), ()))
        return met


def _rules_apart(before: NodeSet, after: NodeSet, owner: Mapping[str, str]) -> tuple[set[str], _Met] | None:
    """The ports whose rules differ on some node or whose chains jump to another port's, and every shared entry;
    None when the node-wide rules differ (or enter such a port's chains): then every port's views may."""
    names = set(owner.values())
    kinds = sorted({chain[:chain.rindex("-") + 1] for chain in owner})  # KUBE-SVC-, KUBE-SEP-, ...
    alternation = "|".join(map(re.escape, kinds))
    jumps = re.compile(rf"-[jg] ((?:{alternation})\S+)")
    memo: dict[str, tuple[_Entry | None, str]] = {}
    apart: set[str] = set()
    entered: set[str] = set()
    met = _Met({}, {})
    with collector_paused(2 * len(owner) * len(before.order)):  # a chain map per node and state: see objects.bulk
        for node in before.order:
            rules_b, rules_a = _node_rules(before, node, owner, names, memo), _node_rules(after, node, owner, names,
                                                                                          memo)
            if rules_b.common != rules_a.common:
                return None
            differ, strays = _differing(rules_b, rules_a, owner, jumps)
            apart |= differ | strays
            entered |= rules_b.entered | rules_a.entered
            met.add(rules_b.entries)
            met.add(rules_a.entries)
    return (apart, met) if not entered & apart else None


def views_kept(before: NodeSet, after: NodeSet, keys: Sequence[PortKey], old: Mapping[PortKey, ServicePortInfo],
               new: Mapping[PortKey, ServicePortInfo], rows_b: Mapping[PortKey, Sequence[EndpointRow]],
               rows_a: Mapping[PortKey, Sequence[EndpointRow]], owner: Mapping[str, str]) -> frozenset[PortKey]:
    """The ports of ``keys`` whose views are the same in both states, by what the traces read (see above), not by
    tracing them. ``owner``: :func:`chain_owners` of every port of either state, with the endpoints of both."""
    if (before.order != after.order or before.configs != after.configs
            or load_balancer_backends(before.cluster, before.order)
            != load_balancer_backends(after.cluster, after.order)):
        return frozenset()
    slices_b, slices_a = _slices(before.cluster), _slices(after.cluster)
    candidates = []  # the per-port checks first: the rule scan below reads every node's rules in both states
    for key in keys:
        svc = old.get(key)
        if svc is None or svc != new.get(key):
            continue
        rows = rows_b[key]
        if rows != rows_a[key]:
            continue
        if slices_b.get(key[:2]) != slices_a.get(key[:2]):
            continue
        ingress = proxy_ingress(before, svc)
        if ingress != proxy_ingress(after, svc):
            continue
        avoid = frozenset(row.ip for row in rows)
        if any(client_pod_source(before, node, avoid) != client_pod_source(after, node, avoid)
               for node in before.order):
            continue
        candidates.append((key, svc, rows, ingress))
    if not candidates:
        return frozenset()
    found = _rules_apart(before, after, owner)
    node_addresses = _node_addresses(before)
    if found is None or node_addresses is None:  # an unreadable node address: no port's targets are known
        return frozenset()
    apart, met = found
    kept = set()
    for key, svc, rows, ingress in candidates:
        if svc.name_string in apart:
            continue
        targets = _packet_targets(svc, rows, ingress, node_addresses)
        if targets is not None and met.ports(svc.proto, targets) <= {svc.name_string}:
            kept.add(key)
    return frozenset(kept)


def diff(before: NodeSet, after: NodeSet, node: str, only: set[PortKey] | None = None,
         include_unchanged: bool = False) -> DiffReport:
    """Compare two cluster states, service port by service port, on ``node`` for the rules.

    A port whose views are provably the same in both states (:func:`views_kept`) is not traced twice: not at all
    when nothing else about it changed (it is not listed), once when it is listed anyway (``include_unchanged``,
    or a rule of it moved on ``node``)."""
    with rules_shared(before, after):
        return _diff(before, after, node, only, include_unchanged)


@contextlib.contextmanager
def rules_shared(before: NodeSet, after: NodeSet) -> Iterator[None]:
    """Both states' nodes write the rules of a service port once for the two (``proxier.sync.PortMemo``): a
    port unchanged on a node has the same rules in both, and most are; and compile a rule text once for the two
    (a changed port's packets walk KUBE-SERVICES, 10,000 rules at 10,000 services, in each). When the comparison
    ends the state after has its own port memo back (None stays None: the caller chose no sharing for it); the
    shared ones go with the states' rules (``NodeSet.forget_rules``)."""
    if after.written is before.written:  # the caller shares them already (or neither state shares any)
        yield
        return
    own = after.written
    after.share_rules(before)
    try:
        yield
    finally:
        after.written = own


def _diff(before: NodeSet, after: NodeSet, node: str, only: set[PortKey] | None,
          include_unchanged: bool) -> DiffReport:
    old, new = _ports(before), _ports(after)
    every = list(dict.fromkeys([*old, *new]))
    keys = [k for k in every if only is None or k in only]
    rows_b = {k: endpoint_rows(before.cluster, before, old[k]) for k in every if k in old}
    rows_a = {k: endpoint_rows(after.cluster, after, new[k]) for k in every if k in new}
    # every port owns its rules, the ones --to leaves out too: else their rules would be "other rules"
    owners = chain_owners({k: ((new.get(k) or old[k]), [r.endpoint for r in (*rows_b.get(k, ()),
                                                                          *rows_a.get(k, ()))]) for k in every})
    grouped, other_added, other_removed = rule_changes(before, after, node, owners)
    kept = views_kept(before, after, keys, old, new, rows_b, rows_a, owners)
    # a kept port is listed only with --all or when its rules on the node moved: then it is traced once, before
    shown = {k for k in kept if include_unchanged or old[k].name_string in grouped}
    views_b = _state_views(before, old, [k for k in keys if k in old and (k not in kept or k in shown)])
    views_a = _state_views(after, new, [k for k in keys if k in new and k not in kept])
    views_a.update((k, views_b[k]) for k in shown)
    there = answering(after.cluster)
    out = []
    for key in keys:
        reached = (*reached_pods(before, rows_b.get(key, ()), views_b.get(key, ())),
                   *reached_pods(after, rows_a.get(key, ()), views_a.get(key, ())))
        port = _port_diff(key, old.get(key), new.get(key), rows_b.get(key, ()), rows_a.get(key),
                          views_b.get(key, ()), views_a.get(key, ()), grouped, there, reached, node)
        if port.status != "unchanged" or include_unchanged:
            out.append(port)
    return DiffReport(node, tuple(out), tuple(other_added), tuple(other_removed))


def _state_views(nodes: NodeSet, ports: dict[PortKey, ServicePortInfo],
                 keys: Sequence[PortKey]) -> dict[PortKey, tuple[View, ...]]:
    """The views of the ports in one state; then the state's rules are let go, so that the two states'
    compiled rules (every node's, a gigabyte or more for a large cluster) are never held at once."""
    with collector_paused(30 * len(keys) * len(nodes.order)):  # each port traced on every node: see objects.bulk
        views = {key: service_views(nodes, Selection(ports[key]), None) for key in keys}
        nodes.forget_rules()
    return views


def _port_diff(key: PortKey, svc_b: ServicePortInfo | None, svc_a: ServicePortInfo | None,
               rows_b: Sequence[EndpointRow], rows_a: Sequence[EndpointRow] | None, views_b: Sequence[View],
               views_a: Sequence[View], grouped: dict[str, tuple[list[str], list[str]]],
               there: Answering = Answering(), reached: Sequence[tuple[str, str]] = (),
               node: str | None = None) -> PortDiff:
    """``reached``: the pods of endpoints the views reach that are not the port's own (:func:`reached_pods`), named
    in its outcomes as dist names them; ``node``: the compared node, whose own shares each view keeps too."""
    svc = svc_a or svc_b
    assert svc is not None
    cond_b = {r.endpoint: condition(r) for r in rows_b}
    cond_a = {r.endpoint: condition(r) for r in rows_a or ()}
    added, removed = grouped.get(svc.name_string, ([], []))
    views = _align(views_b, views_a, node)
    changed = tuple((e, cond_b[e], cond_a[e]) for e in cond_b if e in cond_a and cond_b[e] != cond_a[e])
    gained = tuple(e for e in cond_a if e not in cond_b)
    lost = tuple(e for e in cond_b if e not in cond_a)
    if svc_b is None:
        status = "added"
    elif svc_a is None:
        status = "removed"
    elif (added or removed or gained or lost or changed or svc_a != svc_b
          or any(v.before != v.after or v.node_before != v.node_after for v in views)):
        status = "changed"
    else:
        status = "unchanged"
    pods = dict(reached) | {r.endpoint: r.pod for r in (*rows_b, *(rows_a or ())) if r.pod}
    notes = new_connection_notes(views_a, views_b)
    if svc_a is None:
        notes = ("the service port is gone: no rule catches its addresses any more; new connections are not "
                 "load-balanced (they go wherever the address routes, usually nowhere)",)
    return PortDiff(svc.name_string, svc.protocol.value, status, gained, lost, changed, tuple(sorted(added)),
                    tuple(sorted(removed)), views, fates(svc, rows_b, rows_a, there), notes,
                    tuple(sorted(pods.items())))
