"""README's Commands table and command sections name what the parser has (QA-dumps #11)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SHOWN = {"--help", "--color", "--output", "--filename"}  # every command's; README names -o, -f and colour once


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_the_commands_table_has_a_row_for_every_command() -> None:
    table = README.split("## Commands", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1] for line in table.splitlines()[2:]]
    missing = [name for name in _commands() if not any(re.search(rf"`(kubeproxy-sim )?{name}\b", r) for r in rows)]
    assert not missing


@pytest.mark.parametrize("command", ["watch", "scenario", "replay"])
def test_every_flag_of_the_sync_commands_is_named(command: str) -> None:
    flags = {o for a in _commands()[command]._actions for o in a.option_strings if o.startswith("--")} - SHOWN
    missing = sorted(f for f in flags if not re.search(rf"`[^`\n]*{re.escape(f)}(?![\w-])", README))
    assert not missing
