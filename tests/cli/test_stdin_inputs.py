"""Standard input as the commands read it ("-"): a closed one is named, not an internal error (QA-cli #3)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(("argv", "expected"), [
    (["rules", "-f", "-"], "<stdin>: standard input is closed; expected manifests piped or redirected to it"),
    (["graph", "--rules", "-"],
     "<stdin>: standard input is closed; expected an iptables-save dump piped or redirected to it"),
])
def test_a_closed_standard_input_is_said_closed(argv: list[str], expected: str) -> None:
    """``-f - <&-``: Python starts without sys.stdin; the input is named, not an internal error (exit 4)."""
    run = subprocess.run([sys.executable, "-m", "kubeproxy_sim", *argv], capture_output=True, text=True,
                         preexec_fn=lambda: os.close(0))  # (the child's own standard input)
    assert run.returncode == 1
    assert f"kubeproxy-sim: {expected}" in run.stderr.splitlines()
