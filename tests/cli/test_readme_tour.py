"""The README's tour is generated from real runs and cannot go stale."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tool_script import load_tool

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "readme_tour.py"


def _tool():
    return load_tool("readme_tour")


def test_readme_tour_is_up_to_date() -> None:
    """If this fails: run `.venv/bin/python tools/readme_tour.py` and commit README.md."""
    done = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_check_reports_a_stale_readme_and_the_tool_fixes_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\n<!-- tour:start -->\nold tour\n<!-- tour:end -->\n\n## after\n")
    tool = _tool()
    assert tool.main(["--check", "--readme", str(readme)]) == 1
    assert "old tour" in readme.read_text()  # --check never writes
    assert tool.main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\n<!-- tour:start -->\n## Tour\n")
    assert text.endswith("<!-- tour:end -->\n\n## after\n")
    assert "$ kubeproxy-sim rules --scenario bootcamp\n*filter\n" in text
    assert "```mermaid\n%% trace tcp 192.168.49.1 -> 192.168.49.2:31526" in text
    assert "{tmp}" not in text and "kpsim-tour-" not in text and "\x1b[" not in text
    assert tool.main(["--check", "--readme", str(readme)]) == 0


def test_missing_markers_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "OTHER.md"
    readme.write_text("# no markers\n")
    assert _tool().main(["--check", "--readme", str(readme)]) == 2
    assert "OTHER.md has no <!-- tour:start --> ... <!-- tour:end --> markers" in capsys.readouterr().err


def test_a_readme_that_is_not_there_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _tool().main(["--check", "--readme", str(tmp_path / "nope.md")]) == 2
    assert capsys.readouterr().err == f"readme_tour: cannot read {tmp_path / 'nope.md'}: No such file or directory\n"


def test_steps_of_absent_commands_are_left_out_and_failing_optional_ones_warned(tmp_path: Path) -> None:
    tool = _tool()
    steps = (tool.Step("Not registered", "x", ("no-such-command",)),
             tool.Step("Fails", "x", ("rules", "--scenario", "no-such-scenario"), optional=True),
             tool.Step("Works", "y", ("rules", "--scenario", "bootcamp"), head=2))
    warnings: list[str] = []
    section = tool.tour(steps, warn=warnings.append)
    assert "Not registered" not in section and "Fails" not in section
    assert "### Works\n\ny\n\n```console\n$ kubeproxy-sim rules --scenario bootcamp\n*filter\n" in section
    assert len(warnings) == 1 and "no-such-scenario" in warnings[0]
    with pytest.raises(tool.StepFailed):
        tool.tour((tool.Step("Fails", "x", ("rules", "--scenario", "no-such-scenario")),), warn=warnings.append)


def test_excerpt_says_how_much_is_left_out() -> None:
    tool = _tool()
    assert tool.excerpt("a\nb\nc\n", 2) == "a\nb\n... (1 more lines)"
    assert tool.excerpt("a\nb\n", 2) == "a\nb"


def test_steps_point_to_the_contracts_where_they_are() -> None:
    """The tour comes right after "First five minutes", before the reference (a reader meets examples first), so
    the contract sections come after it: a step that names one says `below`, and it is there."""
    tool = _tool()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour_end = readme.index(tool.END)
    assert -1 < readme.index("\n## First five minutes\n") < readme.index(tool.START) < readme.index("\n## Commands\n")
    assert not [s.title for s in tool.STEPS if "above" in s.text]
    named = [name for s in tool.STEPS for name in re.findall(r"`([\w ]+ -o json)` below", s.text)]
    assert named and all(readme.find(f"\n### `{name}`") > tour_end for name in named)
