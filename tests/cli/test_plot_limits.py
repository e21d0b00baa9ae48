"""Regression tests for `send --plot` and `dist --plot` from the QA of the pictures (notes/s8-graph.md, findings
4, 5 and 6): session affinity said on the chart, many endpoints summarised, the file checked before the work."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli import options, plot, send_cmd
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.graph.image import PNG_SIGNATURE
from tests.cli.test_plot import svg_texts


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --------------------------------------------------------------------------- 4: ClientIP affinity


def test_send_chart_under_client_ip_affinity_says_what_expected_means(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "aff.svg"
    assert main(["send", "--scenario", "session-affinity", "--from", "external", "--to", "node/node1:30080",
                 "--count", "200", "--plot", str(target)]) == 0
    capsys.readouterr()
    texts = svg_texts(target)
    assert "expected: share of new clients" in texts and "expected (exact, from the rules)" not in texts
    assert "ClientIP session affinity: each client stays with one pod;" in texts
    assert "100.0%" in texts and "50.0%" in texts  # the bars are the same; what they mean is said


def test_send_panels_without_affinity_are_as_before() -> None:
    data = {"from": "external", "to": "node/n:1", "proto": "tcp", "connections": 10, "seed": 1, "sticky": False,
            "delivered": [{"pod": "ns/a", "share": 1.0, "expected": 1.0}], "failed": []}
    (panel,) = plot.send_panels(data)
    assert [s.label for s in panel.series] == ["observed", "expected (exact, from the rules)"]
    assert panel.title == "10 tcp connections from external to node/n:1 (seed 1)"
    assert panel.ylabel == "share of new connections (%)"
    (sticky,) = plot.send_panels({**data, "sticky": True})
    assert [s.label for s in sticky.series] == ["observed (share of connections)", "expected: share of new clients"]
    assert "expected is the share of new clients" in sticky.title


# --------------------------------------------------------------------------- 5: many endpoints


def dist_data(endpoints: int, entries: int = 3) -> dict[str, Any]:
    """dist -o json's shape for one service port with many endpoints; pod-0007 the largest, pod-0003 the least."""
    def share(i: int) -> float:
        return (2.0 if i == 7 else 0.5 if i == 3 else 1.0) / endpoints

    outcomes = [{"verdict": "DNAT", "pod": f"scale/pod-{i:04d}", "probability": share(i)} for i in range(endpoints)]
    return {"services": [{"name": "scale/big:http", "views": [{"kind": "clusterIP", "destination": "10.96.0.1:80",
            "entries": [{"node": f"node{n}", "source": {"kind": "pod", "address": f"10.244.{n}.200"},
                         "outcomes": outcomes} for n in range(1, entries + 1)],
            "average": {"outcomes": outcomes}}]}]}


def test_a_chart_of_1500_endpoints_stays_a_readable_size(tmp_path: Path) -> None:
    target = tmp_path / "e1500.png"
    plot.plot_dist(dist_data(1500), str(target))
    width, height = png_size(target)
    assert width <= 3000 and height <= 1000  # was 270,500 x 440 px


def test_the_summary_keeps_the_extremes_and_says_so(tmp_path: Path) -> None:
    (panel,) = plot.dist_panels(dist_data(1500))
    summary = plot.summarise(panel)
    bars = len(summary.categories) * len(summary.series)
    assert bars <= plot.MAX_BARS
    assert summary.categories[0] == "scale/pod-0007" and "scale/pod-0003" in summary.categories
    others = 1500 - (len(summary.categories) - 1)
    assert summary.categories[-1] == f"mean of the {others:,} others"
    assert all(s.values[-1] == pytest.approx(1 / 1500) for s in summary.series)
    assert "smallest shares of 1,500 destinations" in summary.title and f"the other {others:,}" in summary.title
    target = tmp_path / "e1500.svg"
    plot.plot_dist(dist_data(1500), str(target))
    texts = svg_texts(target)
    assert f"mean of the {others:,} others" in texts and "0.13%" in texts  # small shares keep two digits


def test_many_entry_points_are_drawn_as_their_average(tmp_path: Path) -> None:
    """A cluster of 100 nodes: one series (the average), not 100 squeezed side by side, and the title says so."""
    (panel,) = plot.dist_panels(dist_data(1500, entries=100))
    assert [s.label for s in panel.series] == ["average of 100 entry points"]
    assert "the weighted average of 100 entry points" in panel.title
    summary = plot.summarise(panel)
    assert len(summary.categories) * len(summary.series) <= plot.MAX_BARS
    assert summary.categories[0] == "scale/pod-0007" and "scale/pod-0003" in summary.categories
    target = tmp_path / "n100.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "constrained_layout not applied" among them
        plot.plot_dist(dist_data(1500, entries=100), str(target))
    width, height = png_size(target)
    assert width <= 3000 and height <= 1000
    # up to MAX_SERIES, every entry point keeps its own bars
    (few,) = plot.dist_panels(dist_data(10, entries=plot.MAX_SERIES))
    assert len(few.series) == plot.MAX_SERIES and few.series[0].label == "via node1 from pod 10.244.1.200"


def test_a_chart_that_fits_is_drawn_as_it_is() -> None:
    (panel,) = plot.dist_panels(dist_data(10))
    assert plot.summarise(panel) is panel
    failed = plot.Panel("t", ("a", "b", "c", "d"), (plot.Series("observed", (0.4, 0.3, 0.2, 0.1), None,
                                                                 ("x", "x", "x", "red")),))
    summary = plot.summarise(failed, max_bars=3)
    assert summary.categories == ("a", "d", "mean of the 2 others")
    assert summary.series[0].colours == ("x", "red", plot.OTHERS_COLOUR)  # a failure keeps its colour


# --------------------------------------------------------------------------- 6: the file checked first


@pytest.mark.parametrize(("command", "argv", "loader"), [
    (send_cmd, ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526"],
     "build_simulator"),
    (options, ["dist", "--scenario", "bootcamp"], "load_inputs"),  # dist imports it when it runs
])
def test_plot_refuses_an_unwritable_file_before_the_work(command: Any, argv: list[str], loader: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    def no_work(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the work started before --plot was checked")

    monkeypatch.setattr(command, loader, no_work)
    assert main([*argv, "--plot", "/nonexistent-dir/x.png"]) == 1
    assert capsys.readouterr().err.endswith("/nonexistent-dir/x.png: --plot: cannot write it: its directory does "
                                            "not exist\n")
    assert main([*argv, "--plot", ""]) == 2
    assert "--plot: an empty file name; expected FILE.png or FILE.svg" in capsys.readouterr().err
