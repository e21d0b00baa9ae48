"""The tree stays clean: ruff (the README's lint, with pyproject.toml's rules) finds nothing.

A test rather than a separate CI step, so that the README's one test command is the whole gate.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the test extras: pip install -e '.[test]')")
    done = subprocess.run([ruff, "check", "--no-cache", "kubeproxy_sim", "tests", "tools"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
