"""The hypothesis profiles of tests/conftest.py: CI reproducible, KPSIM_DEEP=1 deeper *and* new every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.budget import CI_EXAMPLES, DEEP_EXAMPLES, budget

REPO = Path(__file__).resolve().parents[1]


def test_ci_is_derandomized_without_a_database_and_deep_is_random_with_one() -> None:
    ci, deep = settings.get_profile("ci"), settings.get_profile("deep")
    assert (ci.max_examples, ci.derandomize, ci.database) == (CI_EXAMPLES, True, None)
    assert (deep.max_examples, deep.derandomize) == (DEEP_EXAMPLES, False)
    assert isinstance(deep.database, DirectoryBasedExampleDatabase)
    assert Path(deep.database.path) == REPO / ".hypothesis" / "examples"  # not the cwd's
    expected = "deep" if os.environ.get("KPSIM_DEEP") == "1" else "ci"
    assert settings.get_current_profile_name() == expected


def test_budgets_follow_the_loaded_profile() -> None:
    """A test's own budget is its CI number in CI and scales with the profile (a bare max_examples does not)."""
    code = ("import tests.conftest; from tests.budget import budget; from hypothesis import settings; "
            "print(budget(30), budget(600), settings.default.derandomize)")
    out = {}
    for deep in ("0", "1"):
        env = {**os.environ, "KPSIM_DEEP": deep, "PYTHONPATH": str(REPO)}
        out[deep] = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                                   check=True).stdout.split()
    assert out["0"] == ["30", "600", "True"]
    assert out["1"] == [str(DEEP_EXAMPLES), str(600 * DEEP_EXAMPLES // CI_EXAMPLES), "False"]
    loaded = settings.default  # typed Optional: None only before hypothesis loads a profile
    assert loaded is not None and budget(CI_EXAMPLES) == loaded.max_examples
