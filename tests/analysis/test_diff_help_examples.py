"""diff --help's examples on built-in scenarios run clean: no warning before the comparison."""

from __future__ import annotations

import shlex

from kubeproxy_sim.cli.diff_cmd import EXAMPLES
from kubeproxy_sim.cli.main import main


def test_diff_help_examples_on_built_in_scenarios_print_no_warning(capsys) -> None:
    """The first example of diff --help printed two nodePort 'not set' warnings before its comparison (u1): the
    upstream test it reproduces writes a LoadBalancer without a nodePort, which a user's manifest would get from
    the API server, so the warning is right and the example now compares scenarios that draw none."""
    ran = 0
    for line in EXAMPLES.replace("\\\n", " ").splitlines():
        words = shlex.split(line.strip())
        if words[:2] != ["kubeproxy-sim", "diff"] or "--against-scenario" not in words:
            continue
        assert main(words[1:]) == 0
        out, err = capsys.readouterr()
        assert err == "", (words, err)
        assert "changed" in out
        ran += 1
    assert ran >= 2
