"""README's Commands table has a row for every command the parser has (QA-dumps #11); that README names every
option is tests/cli/test_readme_options.py's."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from kubeproxy_sim.cli.main import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_the_commands_table_has_a_row_for_every_command() -> None:
    table = README.split("## Commands", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1] for line in table.splitlines()[2:]]
    missing = [name for name in _commands() if not any(re.search(rf"`(kubeproxy-sim )?{name}\b", r) for r in rows)]
    assert not missing

