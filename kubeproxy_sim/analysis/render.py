"""``dist`` output: the public JSON form and the text for a person (tables and bar charts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from kubeproxy_sim.analysis.affinity import AffinityReport
from kubeproxy_sim.analysis.exact import DistReport, Entry, ServiceDist, Share, deviation, max_deviation, uniform_share
from kubeproxy_sim.analysis.longlived import LongLived
from kubeproxy_sim.netfilter.digits import Difference, exact_texts
from kubeproxy_sim.netfilter.trace import exact_text

BAR_WIDTH = 30
ENGINES = {"simulator": "through the cluster simulator", "sampler": "via the rule engine's sampler"}


class ExactTexts:
    """The exact values of one JSON document, filled in when the document is built: ``str`` of each, the
    large ones written together (:func:`~kubeproxy_sim.netfilter.digits.exact_texts`) since ``str`` of the
    shares of a service of 1,000 endpoints takes seconds (quadratic) and of related terms milliseconds."""

    def __init__(self) -> None:
        self._values: list[tuple[dict[str, object], str, Fraction]] = []
        self._differences: list[tuple[dict[str, object], str, Difference]] = []

    def put(self, doc: dict[str, object], key: str, value: Fraction | None) -> None:
        """``doc[key]`` is ``value``'s text once :meth:`write` runs (None stays None)."""
        doc[key] = None
        if value is not None:
            self._values.append((doc, key, value))

    def put_difference(self, doc: dict[str, object], key: str, value: Fraction, minus: Fraction | None,
                       difference: Fraction | None) -> None:
        """``doc[key]`` is the text of ``difference``, ``value - minus`` (a deviation from the even split)."""
        doc[key] = None
        if difference is not None and minus is not None:
            self._differences.append((doc, key, (value, minus, difference)))
        else:
            self.put(doc, key, difference)

    def write(self) -> None:
        values, differences = exact_texts([v for _, _, v in self._values], [d for _, _, d in self._differences])
        for (doc, key, _), text in zip((*self._values, *self._differences), (*values, *differences), strict=True):
            doc[key] = text
        self._values.clear()
        self._differences.clear()


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def outcome_json(share: Share, uniform: Fraction | None, pods: Mapping[str, str | None],
                 texts: ExactTexts | None = None) -> dict[str, object]:
    """One outcome; its exact values are filled in by ``texts.write()`` (at once when ``texts`` is None)."""
    own = texts if texts is not None else ExactTexts()
    dev = deviation(share, uniform)
    out: dict[str, object] = {
        "verdict": share.verdict,
        "endpoint": share.endpoint,
        "pod": pods.get(share.endpoint or ""),
        "probability": float(share.probability),
        "probability_exact": None,
        "percent": float(share.probability * 100),
        "deviation": _float(dev),
        "deviation_exact": None,
        "masquerade": bool(share.masqueraded),
        "masquerade_exact": None,
    }
    own.put(out, "probability_exact", share.probability)
    own.put_difference(out, "deviation_exact", share.probability, uniform, dev)
    own.put(out, "masquerade_exact", share.masqueraded)
    if texts is None:
        own.write()
    return out


def shares_json(shares: Sequence[Share], pods: dict[str, str | None], texts: ExactTexts,
                out: dict[str, object] | None = None) -> dict[str, object]:
    """The shares' keys, added to ``out`` when given (the dict ``texts`` fills in, not a copy of it)."""
    uniform = uniform_share(shares)
    worst = max_deviation(shares, uniform)
    out = {} if out is None else out
    out["outcomes"] = [outcome_json(s, uniform, pods, texts) for s in shares]
    texts.put(out, "uniform_exact", uniform)
    out["max_deviation"] = None if worst is None else float(worst)
    texts.put(out, "max_deviation_exact", worst)
    return out


def entry_json(entry: Entry, pods: dict[str, str | None], texts: ExactTexts) -> dict[str, object]:
    src = entry.source
    out: dict[str, object] = {
        "node": entry.node,
        "source": {"kind": src.kind, "address": src.address, "node": src.node, "name": src.name},
        "destination": entry.destination,
        "weight": float(entry.weight),
        "weight_exact": None,
        "note": entry.note or None,
        "uncertain": list(entry.uncertain),
    }
    texts.put(out, "weight_exact", entry.weight)
    return shares_json(entry.shares, pods, texts, out)


def affinity_json(report: AffinityReport) -> dict[str, object]:
    return {
        "timeout_seconds": report.timeout,
        "list_size": report.list_size,
        "endpoints": report.endpoints,
        "sticky": [{"node": c.node, "endpoint": c.endpoint, "list": c.list_name, "returns": float(c.returns),
                    "returns_exact": str(c.returns)} for c in report.checks],
        "clients_per_endpoint": [{"clients": c.clients, "listed": float(c.listed), "listed_exact": str(c.listed),
                                  "same_endpoint": float(c.same_endpoint),
                                  "same_endpoint_exact": str(c.same_endpoint)} for c in report.loads],
        "client_interval_seconds": report.client_interval,
        "live_within_timeout": report.live_within_timeout,
        "sampled": None if report.sampled is None else {
            "clients": report.sampled[0], "returning_connections": report.sampled[1],
            "same_endpoint": report.sampled[2], "seed": report.seed,
            "view": report.sampled_entry[0] if report.sampled_entry else None,
            "destination": report.sampled_entry[1] if report.sampled_entry else None,
            "node": report.sampled_entry[2] if report.sampled_entry else None},
    }


def connections_json(ll: LongLived, texts: ExactTexts) -> dict[str, object]:
    stat, df, p_value = ll.chi_square
    outcomes: list[dict[str, object]] = []
    for p in ll.pods:
        outcomes.append({
            "verdict": p.verdict, "endpoint": p.endpoint, "probability_exact": None,
            "expected_requests": p.expected_requests, "requests_interval_95": list(p.requests_interval),
            "idle_probability": p.idle_probability, "sampled_connections": p.sampled_connections,
            "sampled_requests": p.sampled_requests, "sampled_share": p.sampled_share,
            "sampled_share_interval_95": list(p.sampled_share_interval),
        })
        texts.put(outcomes[-1], "probability_exact", p.probability)
    return {
        "view": ll.view,
        "connections": ll.connections,
        "requests_per_connection": ll.requests_per_connection,
        "seed": ll.seed,
        "engine": ll.engine,
        "outcomes": outcomes,
        "expected_idle_pods": float(ll.expected_idle),
        "sampled_idle_pods": ll.sampled_idle,
        "chi_square": {"statistic": stat if stat != float("inf") else None, "df": df, "p_value": p_value},
        "note": ll.note or None,
    }


def _pods(dist: ServiceDist) -> dict[str, str | None]:
    return {r.endpoint: r.pod for r in dist.endpoints} | dict(dist.reached)


def service_json(dist: ServiceDist, texts: ExactTexts) -> dict[str, object]:
    svc = dist.svc
    pods = _pods(dist)
    return {
        "service": f"{svc.namespace}/{svc.name}",
        "name": svc.name_string,
        "port_name": svc.port_name,
        "port": svc.port,
        "protocol": svc.protocol.value,
        "endpoints": [{"endpoint": r.endpoint, "pod": r.pod, "node": r.node, "ready": r.ready,
                       "serving": r.serving, "terminating": r.terminating} for r in dist.endpoints],
        "views": [{
            "kind": v.kind,
            "destination": v.destination,
            "notes": list(v.notes),
            "entries": [entry_json(e, pods, texts) for e in v.entries],
            "average": shares_json(v.average, pods, texts),
        } for v in dist.views],
        "affinity": affinity_json(dist.affinity) if isinstance(dist.affinity, AffinityReport) else None,
        "connections": connections_json(dist.connections, texts) if isinstance(dist.connections, LongLived) else None,
    }


def dist_json(report: DistReport, nodes: Sequence[str]) -> dict[str, object]:
    """The public ``dist -o json`` document."""
    texts = ExactTexts()
    services = [service_json(d, texts) for d in report.services]
    texts.write()
    return {"nodes": list(nodes), "notes": list(report.notes), "services": services}


# --------------------------------------------------------------------------- text


def percent(value: Fraction | float) -> str:
    return f"{float(value) * 100:8.4f}%"


def bar(value: Fraction | float, scale: float = 1.0, width: int = BAR_WIDTH) -> str:
    """A bar of ``value`` (0..scale) in eighths of a character."""
    cells = 0 if scale <= 0 else round(float(value) / scale * width * 8)
    full, part = divmod(max(0, min(cells, width * 8)), 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width)


def _label(share: Share, pods: dict[str, str | None]) -> str:
    if share.verdict != "DNAT":
        return share.verdict
    pod = pods.get(share.endpoint or "")
    return f"{share.endpoint} ({pod})" if pod else str(share.endpoint)


def points(fraction: Fraction, *, sign: bool = False) -> str:
    """A deviation in percentage points, to three significant digits in plain decimals: the 31-bit thresholds
    make most shares miss an even split by some 1e-08 points, which exponent form (``+1.16e-08``) hid from a
    reader scanning for the large ones (``0.0000000116`` against ``16.7``)."""
    rounded = Decimal(f"{float(fraction) * 100:.3g}")
    text = format(rounded.normalize() if rounded == rounded.to_integral() else rounded, "f")
    return ("+" if sign and not text.startswith("-") else "") + text


def shares_text(shares: Sequence[Share], pods: dict[str, str | None], indent: str = "    ") -> list[str]:
    """One line per outcome: percentage, bar, exact rational (a long one in short: trace.exact_text), deviation from
    an even split."""
    uniform = uniform_share(shares)
    width = max((len(_label(s, pods)) for s in shares), default=0)
    lines = []
    for s in shares:
        dev = deviation(s, uniform)
        extra = "" if dev is None else f"  {points(dev, sign=True)} pts vs even"
        masq = "  masqueraded" if s.masqueraded == s.probability and s.masqueraded else (
            "  partly masqueraded" if s.masqueraded else "")
        lines.append(f"{indent}{_label(s, pods):<{width}} {percent(s.probability)} {bar(s.probability)} "
                     f"{exact_text(s.probability)}{extra}{masq}")
    return lines


def affinity_text(report: AffinityReport) -> list[str]:
    sticky = "yes" if report.all_sticky else "NO"
    out = [f"  sessionAffinity ClientIP: timeout {report.timeout} s (recent --rcheck --seconds {report.timeout} "
           f"--reap), one list of at most {report.list_size} clients per endpoint, per node",
           f"    a client already listed returns to its endpoint with probability 1: {sticky} "
           f"({len(report.checks)} checks traced)"]
    for c in report.checks:
        if c.returns != 1:
            out.append(f"      {c.node}: held in {c.list_name} but returns to {c.endpoint} with {c.returns}")
    out.append("    with m clients per endpoint connecting equally often, the list keeps the "
               f"{report.list_size} most recently connected (LRU):")
    for load in report.loads:
        out.append(f"      m={load.clients:>5}: still listed {percent(load.listed)}   back on the same endpoint "
                   f"{percent(load.same_endpoint)}")
    if report.per_node:
        out.append(f"      (a client no longer listed is balanced again by its node's chain, over {_spread(report)} "
                   f"of the {report.endpoints} endpoints, as the rules split it: an internal or external traffic "
                   "policy Local keeps each node to its local ones)")
    if report.live_within_timeout is not None:
        out.append(f"    a client connecting every {report.client_interval:g} s on average is back within the timeout "
                   f"{percent(report.live_within_timeout)} of the time (exponential gaps)")
    if report.sampled:
        clients, returning, same = report.sampled
        rate = same / returning if returning else 0.0
        how = ENGINES.get(report.engine or "sampler", report.engine)
        pace = (f", each back every {report.client_interval:g} s on average" if report.client_interval
                else ", each back within moments")
        via = (f"through {report.sampled_entry[0]} {report.sampled_entry[1]} on node {report.sampled_entry[2]}"
               if report.sampled_entry else "entering one node")
        out.append(f"    sampled {how} with {clients} clients{pace}, {via} (seed {report.seed}; the lists fill "
                   f"up first, so the share starts above the steady state): {same}/{returning} returning "
                   f"connections reached the same endpoint ({rate * 100:.2f}%)")
    out.append("    beyond the list: a client evicted (or idle past the timeout) is balanced again like a new one; "
               "entering through another node it is unknown there")
    return out


def _spread(report: AffinityReport) -> str:
    """How many endpoints the nodes' chains split over: ``1`` or ``1 to 2``."""
    low, high = min(report.per_node), max(report.per_node)
    return str(low) if low == high else f"{low} to {high}"


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun`` (a regular one: an s makes its plural), plural unless one: ``--requests-per-connection
    1`` wrote "x 1 requests", ``netns up`` "1 nodes"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def connections_text(ll: LongLived) -> list[str]:
    total = ll.connections * ll.requests_per_connection
    engine = ENGINES.get(ll.engine, ll.engine)
    out = [f"  {counted(ll.connections, 'keep-alive connection')} x "
           f"{counted(ll.requests_per_connection, 'request')} = {counted(total, 'request')} "
           f"({ll.view}; balanced per connection; seeded Monte Carlo, seed {ll.seed}, {engine})"]
    for p in ll.pods:
        label = p.endpoint if p.verdict == "DNAT" else p.verdict
        lo, hi = p.sampled_share_interval
        out.append(f"    {label:<24} expected {p.expected_requests:10.1f} req (95%: {p.requests_interval[0]}.."
                   f"{p.requests_interval[1]}, idle {p.idle_probability * 100:.2f}%)   sampled "
                   f"{p.sampled_requests:>8} req over {p.sampled_connections} conn, share {p.sampled_share * 100:.2f}% "
                   f"[{lo * 100:.2f}, {hi * 100:.2f}]")
    stat, df, pv = ll.chi_square
    out.append(f"    pods without any connection: expected {ll.expected_idle:.2f}, sampled {ll.sampled_idle}; "
               f"chi-square vs exact {stat:.2f} (df {df}), p = {pv:.3g}")
    if ll.note:
        out.append(f"    note: {ll.note}")
    return out


def service_text(dist: ServiceDist) -> list[str]:
    svc = dist.svc
    pods = _pods(dist)
    out = [f"{svc.name_string} ({svc.protocol.value})"]
    states = []
    for r in dist.endpoints:
        cond = "ready" if r.ready else ("serving, terminating" if r.serving and r.terminating else
                                        "terminating" if r.terminating else "not ready")
        states.append(f"    {r.endpoint:<24} {r.pod or '-':<40} node {r.node or '-':<12} {cond}")
    out.append(f"  endpoints ({len(dist.endpoints)}):" if states else "  no endpoints")
    out += states
    for view in dist.views:
        out.append(f"  {view.kind} {view.destination}")
        out += [f"    ({n})" for n in view.notes]
        for entry in view.entries:
            weight = "" if len(view.entries) == 1 else f" [weight {entry.weight}]"
            note = f" - {entry.note}" if entry.note else ""
            out.append(f"   entering {entry.node} from {entry.source.label_entering(entry.node)}{weight}{note}")
            out += shares_text(entry.shares, pods)
            if entry.uncertain:
                out.append(f"     uncertain: {len(entry.uncertain)} rule(s) the answer depends on (see trace)")
        if len(view.entries) > 1:
            worst = max_deviation(view.average)
            spread = "nothing delivered" if worst is None else \
                f"max deviation from even {points(worst)} pts"
            out.append(f"   average ({spread})")
            out += shares_text(view.average, pods)
    if isinstance(dist.affinity, AffinityReport):
        out += affinity_text(dist.affinity)
    if isinstance(dist.connections, LongLived):
        out += connections_text(dist.connections)
    return out


def dist_text(report: DistReport) -> str:
    out: list[str] = []
    for dist in report.services:
        out += service_text(dist)
        out.append("")
    out += [f"note: {n}" for n in report.notes]
    return "\n".join(out).rstrip() + "\n"
