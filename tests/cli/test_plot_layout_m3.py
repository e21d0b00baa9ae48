"""Every word of a ``--plot`` chart lies inside the picture (u-walk 4: send's PNG cut its leftmost x-axis label at
the left edge: rotated pod names hang left of their ticks, and one constrained-layout run left them 1.5 pixels in,
inside the 4-pixel pad, 'd' of ``default/`` clipped)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from kubeproxy_sim.cli import plot
from kubeproxy_sim.cli.main import main

BOOTCAMP_SEND = ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--count", "100"]
PAD_PIXELS = 3.0  # (constrained layout's pad is 3 points, 4 pixels at 100 dpi: a little less for rounding)


def _words_outside(figure: Any) -> list[tuple[str, tuple[float, ...]]]:
    """The texts drawn (tick labels, titles, legends, bar labels) whose box comes nearer the edge than the pad."""
    figure.savefig(io.BytesIO(), format="png")  # (the layout savefig runs, then the boxes as drawn)
    renderer = figure._get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    outside = []
    for text in figure.findobj(lambda a: a.__class__.__name__ in ("Text", "Annotation")):
        if not text.get_visible() or not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < PAD_PIXELS or box.y0 < PAD_PIXELS or box.x1 > width - PAD_PIXELS or box.y1 > height - PAD_PIXELS:
            outside.append((text.get_text(), tuple(round(v, 1) for v in box.bounds)))
    return outside


def _positions(figure: Any) -> list[float]:
    """Every axes' left, bottom, width and height, as fractions of the figure."""
    return [value for ax in figure.axes for value in ax.get_position().bounds]


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    main([*argv, "-o", "json"])
    return json.loads(capsys.readouterr().out)


def test_send_s_long_pod_names_stay_inside(capsys: pytest.CaptureFixture[str]) -> None:
    panels = plot.send_panels(_json(capsys, BOOTCAMP_SEND))
    assert panels[0].categories[0] == "default/kubernetes-bootcamp-855d5cc575-4lb7w"
    assert _words_outside(plot.chart_figure(panels)) == []


def test_failure_labels_stay_inside(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["send", "--scenario", "bootcamp", "--from", "external", "--to",
                          "kubernetes-bootcamp.default:9999", "--count", "5"])
    assert data["failed"], "a failure row, its label 60 characters"
    assert _words_outside(plot.chart_figure(plot.send_panels(data))) == []


def test_dist_charts_stay_inside(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["dist", "--scenario", "bootcamp", "--to", "kubernetes-bootcamp.default:8080"])
    panels = plot.dist_panels(data)
    assert _words_outside(plot.chart_figure(panels, "exact share of each endpoint")) == []


def test_the_layout_saved_is_settled(capsys: pytest.CaptureFixture[str]) -> None:
    """Another run after the one savefig makes moves nothing (less than a pixel): the picture is of a layout that
    converged, not of a run midway (which moved the axes 3 pixels)."""
    figure = plot.chart_figure(plot.send_panels(_json(capsys, BOOTCAMP_SEND)))
    figure.savefig(io.BytesIO(), format="png")
    before = _positions(figure)
    figure.get_layout_engine().execute(figure)
    assert _positions(figure) == pytest.approx(before, abs=1e-3)  # (a pixel of the 980)
