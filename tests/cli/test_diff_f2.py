"""`diff -f BEFORE -f2 AFTER` (issue 7's spelling) is the same as `--against AFTER`."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from kubeproxy_sim.cli.main import main

REPO = Path(__file__).resolve().parents[2]
AFTER = str(REPO / "rulesets" / "upstream-cluster-ip-general" / "objects.yaml")  # from any working directory


def run(argv: list[str]) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, json.loads(out.getvalue())


def test_f2_is_against() -> None:
    code_f2, f2 = run(["diff", "--scenario", "bootcamp", "-f2", AFTER, "-o", "json"])
    code_against, against = run(["diff", "--scenario", "bootcamp", "--against", AFTER, "-o", "json"])
    assert code_f2 == code_against == 0
    assert f2 == against
    assert any(s["name"] == "default/kubernetes-bootcamp" and s["status"] == "removed" for s in f2["services"])
