"""tools/bench.py's ratios between two `rules` runs are of CPU time, as README's Speed rows say (wall time moves
with the machine's other load). The runs are made up here: which measure a line prints, not how fast anything is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tool_script import load_tool


@pytest.fixture
def bench(monkeypatch, tmp_path: Path):
    module = load_tool("bench")
    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps({"items": [{"kind": "EndpointSlice", "endpoints": [{"addresses": ["fd00::1"]}]}]}))
    out = tmp_path / "rules-mixed.txt"
    out.write_text("*nat\nCOMMIT\n")
    monkeypatch.setattr(module, "gen_cluster", lambda *args: cluster)
    monkeypatch.setattr(module, "measured", lambda *args: module.Run(wall=9.0, cpu=2.3, peak=100.0))
    monkeypatch.setattr(module, "tree_memory_peak", lambda *args: None)
    return module


def test_the_ipv6_run_is_compared_with_the_ipv4_run_by_cpu_time(bench, tmp_path: Path, capsys) -> None:
    bench.ipv6_rules(tmp_path, 10, bench.Run(wall=1.0, cpu=2.0, peak=100.0))
    assert "CPU time 1.15x the IPv4 run's" in capsys.readouterr().out


def test_the_mixed_run_is_compared_with_the_clusterip_run_by_cpu_time(bench, tmp_path: Path, capsys) -> None:
    figures = bench.mixed_rules_figures(tmp_path, 10, ["rules"])
    bench.print_mixed_rules(10, figures, bench.Run(wall=1.0, cpu=2.0, peak=100.0))
    assert "CPU time 1.15x the ClusterIP-only run's" in capsys.readouterr().out
