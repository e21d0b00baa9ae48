"""Bar charts of shares as PNG or SVG files (``send --plot``, ``dist --plot``).

The charts are drawn from the commands' public JSON forms (``send -o json``,
``dist -o json``), so a picture always shows exactly what the data says.
matplotlib is imported here only, lazily and with the Agg backend: it needs no
display, and commands that draw nothing never pay for its import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeproxy_sim.errors import Diagnostic, InputError

FORMATS = {".png": "png", ".svg": "svg"}
OBSERVED_COLOUR, EXPECTED_COLOUR = "#3d85c6", "#bbbbbb"
MAX_PANELS = 12  # more service ports than this: the first ones, and a note in the title
FAILURE_COLOUR = "#cc0000"
OTHERS_COLOUR = "#999999"
MAX_BARS = 40
"""Bars in one chart (destinations x series) beyond which it shows only the largest and smallest shares and one
bar for the mean of the others, and says so in its title. A bar per endpoint made a 1,500-endpoint service's
chart 270,500 pixels wide: too wide to read, and to open (PIL refuses it as a decompression bomb)."""
MAX_SERIES = MAX_BARS // 3
"""Entry points (dist's nodes the traffic enters by) drawn side by side in one chart. With more, a chart draws
their weighted average alone, and says so: a bar per node for 100 nodes left room for one destination."""
MAX_WIDTH_INCHES = 30.0
"""The widest a figure gets (3,000 pixels at matplotlib's 100 dpi), however many series a chart has."""
SHARE_AXIS = "share of new connections (%)"


@dataclass(frozen=True, slots=True)
class Series:
    """One set of bars: a legend label and a height per category (None: no bar)."""

    label: str
    values: tuple[float | None, ...]
    colour: str | None = None
    colours: tuple[str, ...] | None = None  # per bar (failures stand out), overriding ``colour``


@dataclass(frozen=True, slots=True)
class Panel:
    """One chart: a title, the category names along x, and one or more series of bars per category."""

    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    ylabel: str = SHARE_AXIS


def plot_format(path: str, flag: str = "--plot") -> str:
    """``png`` or ``svg`` from the file name; anything else is the user's mistake, said plainly."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(Diagnostic(f"cannot tell the picture's format from {path!r}; expected a file name "
                                    "ending in .png or .svg", field=flag))
    return fmt


def check_plot_path(path: str, flag: str = "--plot") -> str:
    """Before the work: an empty name (``--plot "$OUT"`` with OUT unset) is a usage error, a name without
    .png or .svg or a place that cannot be written an input error; returns the format."""
    from kubeproxy_sim.cli.output import check_writable

    check_writable(path, flag, expected="FILE.png or FILE.svg")
    return plot_format(path, flag)


# --------------------------------------------------------------------------- from the JSON contracts


def send_panels(data: Mapping[str, Any]) -> list[Panel]:
    """send: per destination (pod, node, outside host) and per failure reason, observed vs expected share."""
    names = [str(d["pod"]) for d in data["delivered"]]
    names += [f"{f['reason']}: {f['detail']}"[:60] for f in data["failed"]]
    observed = [float(d["share"]) for d in data["delivered"]]
    total = max(int(data["connections"]), 1)
    observed += [int(f["count"]) / total for f in data["failed"]]
    expected = [d.get("expected") for d in data["delivered"]] + [f.get("expected") for f in data["failed"]]
    title = f"{data['connections']} {data['proto']} connections from {data['from']} to {data['to']}"
    if data.get("seed") is not None:
        title += f" (seed {data['seed']})"
    sticky = bool(data.get("sticky"))
    if sticky:  # observed 100% against expected 50% is right here: say so where the bars are
        title += "\nClientIP session affinity: each client stays with one pod;\nexpected is the share of new clients"
    colours = (OBSERVED_COLOUR,) * len(data["delivered"]) + (FAILURE_COLOUR,) * len(data["failed"])
    series = [Series("observed (share of connections)" if sticky else "observed", tuple(observed),
                     OBSERVED_COLOUR, colours)]
    if any(e is not None for e in expected):
        series.append(Series("expected: share of new clients" if sticky else "expected (exact, from the rules)",
                             tuple(None if e is None else float(e) for e in expected), EXPECTED_COLOUR))
    return [Panel(title, tuple(names), tuple(series), "share (%)" if sticky else SHARE_AXIS)]


UNUSED = " (weight 0: the balancer sends none here)"
"""After the legend label of an entry point the load balancer does not use (eTP Local, its health check failing;
or excluded): its bars are what the node's rules would do (DROP, say), not where any traffic goes."""


def _entry_label(entry: Mapping[str, Any]) -> str:
    source = entry.get("source") or {}
    who = source.get("name") or source.get("address") or source.get("kind") or "?"
    unused = UNUSED if entry.get("weight_exact") == "0" else ""
    return f"via {entry.get('node') or '?'} from {source.get('kind', '?')} {who}{unused}"


def _outcome_name(outcome: Mapping[str, Any]) -> str:
    if outcome.get("verdict") != "DNAT":
        return str(outcome.get("verdict"))
    return str(outcome.get("pod") or outcome.get("endpoint"))


def dist_panels(data: Mapping[str, Any]) -> list[Panel]:
    """dist: one chart per service port and way in; a bar per endpoint for every node the traffic enters by."""
    panels: list[Panel] = []
    for service in data["services"]:
        for view in service["views"]:
            entries = [e for e in view["entries"] if e.get("outcomes")]
            seen: dict[str, None] = {}  # a dict keeps the order and finds fast: a service may have thousands
            for entry in entries:
                seen.update(dict.fromkeys(map(_outcome_name, entry["outcomes"])))
            names = list(seen)
            if not names:
                continue
            title = f"{service['name']} {view['kind']} {view.get('destination') or ''}".rstrip()
            average = (view.get("average") or {}).get("outcomes")
            if len(entries) > MAX_SERIES and average:
                drawn = [(f"average of {len(entries):,} entry points", average)]
                title += f"\n(the weighted average of {len(entries):,} entry points: too many to draw side by side)"
            else:
                drawn = [(_entry_label(entry), entry["outcomes"]) for entry in entries]
            series = []
            for label, outcomes in drawn:
                shares = {_outcome_name(o): float(o["probability"]) for o in outcomes}
                series.append(Series(label, tuple(shares.get(n) for n in names)))
            panels.append(Panel(title, tuple(names), tuple(series)))
    return panels


# --------------------------------------------------------------------------- drawing


def summarise(panel: Panel, max_bars: int = MAX_BARS) -> Panel:
    """The panel itself when its bars fit in ``max_bars``; else its largest and smallest shares (by the mean
    over the series) and one bar for the mean of the others, with the title saying so."""
    count = len(panel.categories)
    room = max(max_bars // max(len(panel.series), 1), 3)  # categories that fit, the others' bar included
    if count <= room:
        return panel

    def mean(values: Sequence[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    def rank(index: int) -> float:
        return mean([s.values[index] for s in panel.series]) or 0.0

    order = sorted(range(count), key=lambda i: (-rank(i), i))
    largest, smallest = room // 2, (room - 1) // 2  # and the others' bar: room in all
    shown = order[:largest] + order[count - smallest:]  # room >= 3: smallest >= 1
    others = order[largest:count - smallest]
    series = []
    for s in panel.series:
        values = (*(s.values[i] for i in shown), mean([s.values[i] for i in others]))
        colours = (*(s.colours[i] for i in shown), OTHERS_COLOUR) if s.colours else None
        series.append(Series(s.label, values, s.colour, colours))
    categories = (*(panel.categories[i] for i in shown), f"mean of the {len(others):,} others")
    title = (f"{panel.title}\n(the {largest} largest and {smallest} smallest shares of {count:,} destinations, "
             f"and one bar for the mean of the other {len(others):,})")
    return Panel(title, categories, tuple(series), panel.ylabel)


def _draw(ax: Any, panel: Panel) -> None:
    """Grouped bars: categories along x, one bar per series side by side, shares as percentages."""
    count = max(len(panel.series), 1)
    width = 0.8 / count
    for index, series in enumerate(panel.series):
        xs = [i - 0.4 + width * (index + 0.5) for i in range(len(panel.categories))]
        heights = [100 * (v or 0.0) for v in series.values]
        colour = list(series.colours) if series.colours else series.colour
        bars = ax.bar(xs, heights, width=width, label=series.label, color=colour)
        for bar, value in zip(bars, series.values, strict=True):
            if value is not None:
                ax.annotate(_percent(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(panel.categories)))
    ax.set_xticklabels(panel.categories, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(panel.ylabel)
    ax.set_title(panel.title, fontsize=9)
    # above the tallest bar, however small (1/1,500 of the traffic); 1% when there is no bar at all
    ax.set_ylim(0, (max([100 * (v or 0) for s in panel.series for v in s.values], default=0) or 1) * 1.15)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _percent(share: float) -> str:
    """A bar's label: one decimal, or two significant digits for the small shares of a large service."""
    pct = 100 * share
    return f"{pct:.1f}%" if pct >= 1 or pct == 0 else f"{pct:.2g}%"


def write_chart(panels: Sequence[Panel], path: str, title: str | None = None) -> str:
    """Draw ``panels`` stacked vertically into ``path`` (PNG or SVG by its suffix); returns the format."""
    fmt = plot_format(path)
    if not panels:
        raise InputError(Diagnostic("nothing to draw: no destination got any share", field="--plot"))
    import matplotlib

    figure = chart_figure(panels, title)
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "kubeproxy-sim"}):
            figure.savefig(path, format=fmt, metadata=_metadata(fmt))
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot write the picture: {exc.strerror or exc}", file=path,
                                    field="--plot")) from None
    return fmt


def chart_figure(panels: Sequence[Panel], title: str | None = None) -> Any:
    """The figure of ``panels`` (at least one), its layout settled (:func:`settle_layout`)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = [summarise(p) for p in panels[:MAX_PANELS]]
    widest = max(len(p.categories) * max(len(p.series), 1) for p in shown)
    width = min(max(9.0, 0.6 * widest + 5), MAX_WIDTH_INCHES)
    figure = Figure(figsize=(width, 3.6 * len(shown) + 0.8), layout="constrained")
    axes = figure.subplots(len(shown), 1, squeeze=False)
    for ax, panel in zip(axes[:, 0], shown, strict=True):
        _draw(ax, panel)
    heading = title or ""
    if len(panels) > len(shown):
        heading += f" (the first {len(shown)} of {len(panels)} charts)"
    if heading:
        figure.suptitle(heading.strip(), fontsize=10)
    settle_layout(figure)
    return figure


def settle_layout(figure: Any) -> None:
    """Run the constrained layout once before the run savefig makes, so that that one starts from a layout of the
    figure's own. One run (two passes) from the first guess does not converge when rotated tick labels hang left of
    the axes: the legend beside them narrows the axes, the first tick moves toward their left edge and its label
    hangs further out than the margin made for it (u-walk 4: the leftmost label was cut at the picture's edge, 1.5
    pixels in, where the pad is 4; one more run: 4.1, a third: 4.2). A run takes about a third of the drawing (0.25
    s on a loaded machine): one, not a loop that needs another to see nothing moved."""
    figure.get_layout_engine().execute(figure)


def _metadata(fmt: str) -> dict[str, Any]:
    """No creation date in the file: the same run gives the same bytes."""
    return {"Date": None} if fmt == "svg" else {"Software": "kubeproxy-sim"}


def plot_send(data: Mapping[str, Any], path: str) -> str:
    return write_chart(send_panels(data), path)


def plot_dist(data: Mapping[str, Any], path: str) -> str:
    return write_chart(dist_panels(data), path, "exact share of each endpoint, per node the traffic enters by")
