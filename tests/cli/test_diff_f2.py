"""`diff -f BEFORE -f2 AFTER` (issue 7's spelling) is the same as `--against AFTER`."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS

AFTER = str(REPO_RULESETS / "upstream-cluster-ip-general" / "objects.yaml")  # from any working directory


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


def test_a_message_both_states_give_is_reported_once(tmp_path) -> None:
    """The same file on both sides: its skipped Deployment and the node's detect-local note, once each (a copy of
    bootcamp's objects: the built-in scenario's own files are not noted)."""
    state = str(tmp_path / "objects.yaml")
    shutil.copyfile(REPO_RULESETS / "bootcamp" / "objects.yaml", state)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["diff", "-f", state, "--against", state, "--hostname-override", "node1"]) == 0
    lines = err.getvalue().splitlines()
    skipped = [line for line in lines if "Deployment default/kubernetes-bootcamp: note: skipped" in line]
    detect_local = [line for line in lines if "--detect-local-mode: note: ClusterCIDR with no IPv4" in line]
    assert len(skipped) == len(detect_local) == 1, lines
