"""``diff`` output: the public JSON form and a person's view (tables, bars before and after)."""

from __future__ import annotations

from collections.abc import Sequence

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


def view_text(change: ViewChange, pods: dict[str, str]) -> list[str]:
    before, after = _share_map(change.before), _share_map(change.after)
    labels = list(dict.fromkeys([*before, *after]))
    out = [f"  {change.kind} {change.destination}" + ("  (new)" if change.new else "")
           + ("  (gone)" if change.gone else "")]
    width = max((len(_label(lbl, pods)) for lbl in labels), default=0)
    for label in labels:
        b, a = before.get(label), after.get(label)
        pb = b.probability if b else 0
        pa = a.probability if a else 0
        out.append(f"    {_label(label, pods):<{width}} {percent(pb)} {bar(pb, width=BAR)} -> {percent(pa)} "
                   f"{bar(pa, width=BAR)}")
    return out


def _label(label: str, pods: dict[str, str]) -> str:
    pod = pods.get(label)
    return f"{label} ({pod})" if pod else label


def port_text(port: PortDiff) -> list[str]:
    pods = dict(port.pods)
    out = [f"{port.name} ({port.protocol}): {port.status}"]
    if port.gained:
        out.append("  endpoints gained: " + ", ".join(port.gained))
    if port.lost:
        out.append("  endpoints lost:   " + ", ".join(port.lost))
    for endpoint, b, a in port.changed:
        out.append(f"  endpoint {endpoint}: {b} -> {a}")
    for change in port.views:
        out += view_text(change, pods)
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
    out = [f"rules compared on node {report.node}", ""]
    if not report.ports:
        out.append("no service port changes")
    for port in report.ports:
        out += port_text(port)
        out.append("")
    if report.other_added or report.other_removed:
        out.append("other rules:")
        out += [f"  + {r}" for r in report.other_added]
        out += [f"  - {r}" for r in report.other_removed]
    return "\n".join(out).rstrip() + "\n"
