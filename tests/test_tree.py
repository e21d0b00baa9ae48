"""The tree stays clean: ruff (the README's lint, with pyproject.toml's rules) and mypy find nothing.

A test rather than a separate CI step, so that the README's one test command is the whole gate.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        _missing("ruff")
        pytest.skip("ruff is not installed (it is in the test extras: pip install -e '.[test]')")
    done = subprocess.run([ruff, "check", "--no-cache", "kubeproxy_sim", "tests", "tools"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing() -> None:
    """The type hints are checked, not decoration: pyproject.toml's [tool.mypy] names the package and its settings."""
    if importlib.util.find_spec("mypy") is None:
        _missing("mypy")
        pytest.skip("mypy is not installed (it is in the test extras: pip install -e '.[test]')")
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _missing(tool: str) -> None:
    """Under CI the test extras are installed: a missing linter is a broken set-up, not a reason to skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{tool} is missing under CI=true; vagrant/provision.sh installs the test extras")
