"""Every YAML file of a user's that a command reads names a tab where a tab is what YAML cannot start a token with.

The manifests' reader said it first (objects.load.yaml_syntax_error); the --config file, a scenario directory's
scenario.yaml and netns verify's --flows file are read by ``safe_load`` and said by the same helper, given the text
read, so the tab is found whether or not the reader's error mark holds its buffer (PyYAML's Python reader's
does, libyaml's does not: the second half of each test reads with marks stripped of it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kubeproxy_sim.objects.load as load
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS
from tests.cli._usage_pointer import pointer

HINT = "(a tab? YAML indents with spaces)"

CONFIG = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"
          "iptables:\n\tmasqueradeAll: true\n")


def _marks_without_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    """``safe_load`` as a reader whose marks do not hold the text (libyaml's: an index, no buffer)."""
    real: Callable[..., Any] = load.safe_load

    def stripped(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs)
        except load._yaml().YAMLError as exc:
            for name in ("problem_mark", "context_mark"):
                mark = getattr(exc, name, None)
                if mark is not None:
                    mark.buffer = None
            raise

    monkeypatch.setattr(load, "safe_load", stripped)


def _error_lines(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(argv) != 0
    return [line for line in capsys.readouterr().err.splitlines() if "note:" not in line]


@pytest.mark.parametrize("marked", [True, False], ids=["python-marks", "marks-without-buffer"])
def test_a_config_file_indented_by_a_tab_names_the_tab(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, marked: bool) -> None:
    if not marked:
        _marks_without_buffer(monkeypatch)
    config = tmp_path / "proxy.yaml"
    config.write_text(CONFIG)
    assert _error_lines(["rules", "--scenario", "bootcamp", "--config", str(config)], capsys) == [
        f"kubeproxy-sim: {config}:5: syntax error: found character '\\t' that cannot start any token (while "
        f"scanning for the next token) at column 1 {HINT}"]


@pytest.mark.parametrize("marked", [True, False], ids=["python-marks", "marks-without-buffer"])
def test_a_scenario_yaml_indented_by_a_tab_names_the_tab(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch, marked: bool) -> None:
    if not marked:
        _marks_without_buffer(monkeypatch)
    directory = tmp_path / "scen"
    directory.mkdir()
    (directory / "objects.yaml").write_text((REPO_RULESETS / "bootcamp" / "objects.yaml").read_text())
    (directory / "scenario.yaml").write_text("description: mine\nargs:\n\t- --hostname-override\n")
    lines = _error_lines(["rules", "--scenario", str(directory)], capsys)
    assert lines[1:] == [pointer("rules")]  # a scenario's args are the command line's: a usage error
    assert lines[0].startswith(f"kubeproxy-sim: {directory / 'scenario.yaml'}:3: syntax error")
    assert lines[0].endswith(f"at column 1 {HINT}")


@pytest.mark.parametrize("marked", [True, False], ids=["python-marks", "marks-without-buffer"])
@pytest.mark.parametrize(("text", "line", "column"), [
    ("flows:\n\t- from: pod\n", 2, 1),
    ("flows:\n- from: pod\n  to: 10.96.0.10:53\n  \tproto: udp\n", 4, 3),  # (spaces, then a tab)
])
def test_a_flows_file_with_a_tab_names_the_tab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marked: bool,
                                              text: str, line: int, column: int) -> None:
    """netns verify's --flows (both modes, and the differential run, read it with read_flow_entries)."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.kernel.verify import read_flow_entries

    if not marked:
        _marks_without_buffer(monkeypatch)
    path = tmp_path / "flows.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_flow_entries(str(path))
    [said] = [str(d) for d in caught.value.diagnostics]
    assert said.startswith(f"{path}:{line}: syntax error: ") and said.endswith(f"at column {column} {HINT}")


def test_netns_verify_says_its_flows_file_s_tab_before_building_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text("flows:\n\t- from: pod\n")
    lines = _error_lines(["netns", "verify", "--scenario", "bootcamp", "--flows", str(path)], capsys)
    assert len(lines) == 1 and lines[0].endswith(HINT)
