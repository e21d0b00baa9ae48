"""``diff`` output: the public JSON form and a person's view (tables, bars before and after)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from kubeproxy_sim.analysis.diff import DiffReport, PortDiff, ViewChange
from kubeproxy_sim.analysis.exact import Share, uniform_share
from kubeproxy_sim.analysis.render import ExactTexts, bar, outcome_json, percent

BAR = 20


def _view_json(change: ViewChange, pods: dict[str, str], texts: ExactTexts) -> dict[str, object]:
    even_before, even_after = uniform_share(change.before), uniform_share(change.after)  # once: big rationals
    return {
        "kind": change.kind,
        "destination": change.destination,
        "status": "added" if change.new else "removed" if change.gone else "kept",
        "before": [outcome_json(s, even_before, pods, texts) for s in change.before],
        "after": [outcome_json(s, even_after, pods, texts) for s in change.after],
        "on_node": _on_node_json(change, pods, texts),
    }


def _on_node_json(change: ViewChange, pods: dict[str, str], texts: ExactTexts) -> dict[str, object]:
    """The compared node's own outcomes (its entries', as ``dist`` lists them), beside the view's average."""
    even_before, even_after = uniform_share(change.node_before), uniform_share(change.node_after)
    return {
        "before": [outcome_json(s, even_before, pods, texts) for s in change.node_before],
        "after": [outcome_json(s, even_after, pods, texts) for s in change.node_after],
        "receives_before": change.node_sent[0],
        "receives_after": change.node_sent[1],
    }


def port_json(port: PortDiff, texts: ExactTexts) -> dict[str, object]:
    pods = dict(port.pods)
    return {
        "name": port.name,
        "protocol": port.protocol,
        "status": port.status,
        "endpoints": {"gained": list(port.gained), "lost": list(port.lost),
                      "changed": [{"endpoint": e, "before": b, "after": a} for e, b, a in port.changed]},
        "rules": {"added": list(port.rules_added), "removed": list(port.rules_removed)},
        "views": [_view_json(v, pods, texts) for v in port.views],
        "existing_connections": [{"endpoint": f.endpoint, "pod": pods.get(f.endpoint), "fate": f.fate,
                                  "reason": f.reason} for f in port.fates],
        "new_connections": list(port.new_connections),
    }


def diff_json(report: DiffReport) -> dict[str, object]:
    """The public ``diff -o json`` document."""
    texts = ExactTexts()
    services = [port_json(p, texts) for p in report.ports]
    texts.write()
    return {"node": report.node, "services": services,
            "other_rules": {"added": list(report.other_added), "removed": list(report.other_removed)}}


def _share_map(shares: Sequence[Share]) -> dict[str, Share]:
    return {(s.endpoint if s.verdict == "DNAT" else s.verdict) or s.verdict: s for s in shares}


def view_text(change: ViewChange, pods: dict[str, str], node: str | None = None) -> list[str]:
    """The view's average shares before and after; then, when ``node``'s own differ from them (a Local policy),
    that node's, which its clients meet; each followed by a masquerade change, which the shares do not show."""
    out = [f"  {change.kind} {change.destination}" + ("  (new)" if change.new else "")
           + ("  (gone)" if change.gone else "")]
    mine = node is not None and change.node_differs
    every = [*change.before, *change.after, *((*change.node_before, *change.node_after) if mine else ())]
    width = max((len(_label(lbl, pods)) for lbl in _share_map(every)), default=0)
    out += _share_lines(change.before, change.after, pods, width)
    out += _masquerade_lines(change.before, change.after)
    if mine:
        out.append(f"    on {node} alone (the lines above average every node's){_arrivals(change)}:")
        out += _share_lines(change.node_before, change.node_after, pods, width)
        out += _masquerade_lines(change.node_before, change.node_after)
    return out


def _share_lines(before_shares: Sequence[Share], after_shares: Sequence[Share], pods: dict[str, str],
                 width: int) -> list[str]:
    before, after = _share_map(before_shares), _share_map(after_shares)
    out = []
    for label in dict.fromkeys([*before, *after]):
        b, a = before.get(label), after.get(label)
        pb = b.probability if b else 0
        pa = a.probability if a else 0
        out.append(f"    {_label(label, pods):<{width}} {percent(pb)} {bar(pb, width=BAR)} -> {percent(pa)} "
                   f"{bar(pa, width=BAR)}")
    return out


def _arrivals(change: ViewChange) -> str:
    """Said when the view's new connections do not enter the node in a state it has shares in (a balancer that
    skips it): its shares are then those of a connection that would."""
    sent = dict(zip(("before", "after"), change.node_sent, strict=True))
    states = [state for state, shares in (("before", change.node_before), ("after", change.node_after))
              if shares and not sent[state]]
    if not states:
        return ""
    return f"; no new connection of this view enters it {' or '.join(states)}: the shares of one that would"


DELIVERED = frozenset({"DNAT", "ACCEPT"})


def _masquerade_lines(before: Sequence[Share], after: Sequence[Share]) -> list[str]:
    """The part of the delivered connections masqueraded (their source replaced by a node's address), when it
    changes: e.g. externalTrafficPolicy Local -> Cluster, whose KUBE-EXT chain then marks every connection for
    masquerade (upstream: 'masquerade traffic for ... external destinations'), so the pods stop seeing the client's
    IP. Said of delivered connections only: a share that goes from DROP to an endpoint is no masquerade change."""
    was, now = _masqueraded(before), _masqueraded(after)
    if was is None or now is None or was == now:
        return []
    if now == 1 and not was:
        effect = "client source IPs are no longer kept: the pods see a node's address"
    elif was == 1 and not now:
        effect = "client source IPs are kept now: the pods see the client's address"
    elif now > was:
        effect = "fewer connections keep the client's source IP"
    else:
        effect = "more connections keep the client's source IP"
    return [f"    masqueraded: {percent(was).strip()} -> {percent(now).strip()} of the connections delivered; {effect}"]


def _masqueraded(shares: Sequence[Share]) -> Fraction | None:
    """The masqueraded part of the delivered connections (None: nothing delivered)."""
    delivered = sum((s.probability for s in shares if s.verdict in DELIVERED), Fraction(0))
    if not delivered:
        return None
    return sum((s.masqueraded for s in shares if s.verdict in DELIVERED), Fraction(0)) / delivered


def _label(label: str, pods: dict[str, str]) -> str:
    pod = pods.get(label)
    return f"{label} ({pod})" if pod else label


def port_text(port: PortDiff, node: str | None = None) -> list[str]:
    pods = dict(port.pods)
    out = [f"{port.name} ({port.protocol}): {port.status}"]
    if port.gained:
        out.append("  endpoints gained: " + ", ".join(port.gained))
    if port.lost:
        out.append("  endpoints lost:   " + ", ".join(port.lost))
    for endpoint, b, a in port.changed:
        out.append(f"  endpoint {endpoint}: {b} -> {a}")
    for change in port.views:
        out += view_text(change, pods, node)
    if port.fates:
        out.append("  open connections:")
        width = max(len(f.endpoint) for f in port.fates)
        out += [f"    {f.endpoint:<{width}} {f.fate:<11} {f.reason}" for f in port.fates]
    if port.new_connections:
        out.append("  new connections:")
        out += [f"    {n}" for n in port.new_connections]
    if port.rules_added or port.rules_removed:
        out.append(f"  rules (+{len(port.rules_added)} -{len(port.rules_removed)}):")
        out += [f"    + {r}" for r in port.rules_added]
        out += [f"    - {r}" for r in port.rules_removed]
    return out


def diff_text(report: DiffReport) -> str:
    out = [f"rules compared on node {report.node}"]
    if report.ports:
        out.append(f"shares: each view's average over every node's clients; {report.node}'s own below it where "
                   "they differ")
    out.append("")
    if not report.ports:
        out.append("no service port changes")
    for port in report.ports:
        out += port_text(port, report.node)
        out.append("")
    if report.other_added or report.other_removed:
        out.append("other rules:")
        out += [f"  + {r}" for r in report.other_added]
        out += [f"  - {r}" for r in report.other_removed]
    return "\n".join(out).rstrip() + "\n"
