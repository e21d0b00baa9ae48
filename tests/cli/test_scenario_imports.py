"""``scenario`` and ``demo`` write rules through netfilter.render, as ``rules`` does: importing netfilter.codec
loads the iptables-save tokenizer and parser (netfilter.syntax) too."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

CODEC, SYNTAX = "kubeproxy_sim.netfilter.codec", "kubeproxy_sim.netfilter.syntax"


@pytest.mark.parametrize(("argv", "watched"), [
    (["scenario", "bootcamp", "--show", "rules"], (CODEC, SYNTAX)),
    (["scenario", "bootcamp", "--show", "diff"], (CODEC, SYNTAX)),
    (["demo"], (CODEC,)),  # its traces read rules with netfilter.syntax's helpers
])
def test_scenario_and_demo_write_rules_without_the_codec(argv: list[str], watched: tuple[str, ...]) -> None:
    code = (f"import sys; from kubeproxy_sim.cli.main import main; main({argv!r}); "
            f"print(sorted(m for m in {watched!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(out.splitlines()[-1]) == []
    assert "-A KUBE-SERVICES" in out or argv[0] == "demo"
