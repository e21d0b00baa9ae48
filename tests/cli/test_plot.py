"""``--plot`` on send and dist: real PNG and SVG files, drawn from the commands' JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kubeproxy_sim.cli import plot
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.graph.image import PNG_SIGNATURE

PODS = ("default/kubernetes-bootcamp-855d5cc575-4lb7w", "default/kubernetes-bootcamp-855d5cc575-9qzkx",
        "default/kubernetes-bootcamp-855d5cc575-hx2nv", "default/kubernetes-bootcamp-855d5cc575-w7tdp")
SEND = ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--count", "200"]
DIST = ["dist", "--scenario", "bootcamp", "--to", "kubernetes-bootcamp.default:8080"]


def svg_texts(path: Path) -> list[str]:
    """Every text of the SVG (it must parse as XML); matplotlib keeps text as text with svg.fonttype none."""
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]


def test_send_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "shares.png"
    assert main([*SEND, "--plot", str(target)]) == 0
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    out, err = capsys.readouterr()
    assert f"wrote {target}" in err and out.startswith("200 tcp connections")


def test_send_svg_names_the_pods_observed_and_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "shares.svg"
    assert main([*SEND, "--plot", str(target), "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)  # -o json still prints the contract
    texts = svg_texts(target)
    assert set(PODS) <= set(texts)
    assert "observed" in texts and "expected (exact, from the rules)" in texts
    assert "25.0%" in texts  # the expected bars' labels
    observed = {f"{100 * d['share']:.1f}%" for d in data["delivered"]}
    assert observed <= set(texts)


def test_dist_svg_has_a_chart_per_way_in_and_a_series_per_entry_node(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "dist.svg"
    assert main([*DIST, "--plot", str(target)]) == 0
    capsys.readouterr()
    texts = svg_texts(target)
    assert set(PODS) <= set(texts)
    assert "default/kubernetes-bootcamp clusterIP 10.96.142.87:8080" in texts
    assert "default/kubernetes-bootcamp nodePort <node>:31526" in texts
    assert "via node1 from pod 10.244.0.200" in texts and "via node2 from external 203.0.113.10" in texts


def test_dist_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "dist.PNG"
    assert main([*DIST, "--plot", str(target)]) == 0
    capsys.readouterr()
    assert target.read_bytes().startswith(PNG_SIGNATURE)


def test_same_run_same_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert main([*SEND, "--plot", str(first)]) == 0 and main([*SEND, "--plot", str(second)]) == 0
    capsys.readouterr()
    assert first.read_bytes() == second.read_bytes()


def test_send_panels_put_failures_in_red() -> None:
    data = {"from": "external", "to": "node/n:1", "proto": "tcp", "connections": 10, "seed": 1,
            "delivered": [{"pod": "ns/a", "share": 0.6, "expected": 0.5}],
            "failed": [{"reason": "DROP", "count": 4, "detail": "node n: -j DROP", "expected": 0.5}]}
    (panel,) = plot.send_panels(data)
    assert panel.categories == ("ns/a", "DROP: node n: -j DROP")
    observed, expected = panel.series
    assert observed.values == (0.6, 0.4) and expected.values == (0.5, 0.5)
    assert observed.colours == (plot.OBSERVED_COLOUR, plot.FAILURE_COLOUR)


def test_bad_names_and_empty_charts_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"expected a file name ending in \.png or \.svg"):
        plot.plot_format("chart.jpeg")
    with pytest.raises(InputError, match="nothing to draw"):
        plot.write_chart([], str(tmp_path / "x.png"))
    with pytest.raises(InputError, match="cannot write the picture"):
        plot.plot_send({"from": "a", "to": "b", "proto": "tcp", "connections": 1, "seed": None,
                        "delivered": [{"pod": "p", "share": 1.0, "expected": None}], "failed": []},
                       str(tmp_path / "missing" / "x.png"))


def test_dist_series_of_a_node_the_balancer_does_not_use_says_so(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """eTP Local: the balancer sends nothing to a node without a local endpoint (weight 0), whose rules DROP.
    Its bars are the node's rules, not where the balancer's traffic goes: the legend says it gets none."""
    objects = Path(__file__).parents[1] / "analysis" / "data" / "lb_local_terminating.yaml"
    cluster = tmp_path / "cluster.yaml"  # n2's one endpoint only terminating: its health check fails
    cluster.write_text(objects.read_text().replace("publishNotReadyAddresses: true", "")
                       .replace("{ready: true, serving: true, terminating: true}",
                                "{ready: false, serving: true, terminating: true}"))
    target = tmp_path / "lb.svg"
    argv = ["dist", "-f", str(cluster), "--plot", str(target), "-o", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    idle = [(view["kind"], entry["node"]) for service in data["services"] for view in service["views"]
            for entry in view["entries"] if entry["weight_exact"] == "0"]
    assert idle, "the data has a node the balancer does not use"
    labels = [s.label for panel in plot.dist_panels(data) for s in panel.series]
    unused = [label for label in labels if label.endswith(plot.UNUSED)]
    assert len(unused) == len(idle) and all(f"via {node} " in " ".join(unused) for _, node in idle)
    assert set(unused) <= set(svg_texts(target))


def test_small_shares_fill_the_chart() -> None:
    """The y axis ends above the tallest bar, however small: 1/1,500 of the traffic on an axis to 1.15% was a
    row of slivers."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    plot._draw(ax, plot.Panel("t", ("a", "b"), (plot.Series("s", (1 / 1500, 1 / 1600)),)))
    assert ax.get_ylim() == pytest.approx((0, 100 / 1500 * 1.15))
    ax = Figure().subplots()
    plot._draw(ax, plot.Panel("t", ("DROP",), (plot.Series("s", (None,)),)))
    assert ax.get_ylim() == pytest.approx((0, 1.15))  # no bar at all: an axis of its own
