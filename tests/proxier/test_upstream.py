"""Every upstream scenario (rulesets/*/upstream.rules) must be reproduced byte for byte.

The objects come from the scenario's objects.yaml, the node's flags from its
scenario.yaml; upstream.rules is the expected dump of the upstream test the
scenario reproduces.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.proxier import generate

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
SCENARIOS = sorted(p.parent for p in RULESETS.glob("*/upstream.rules"))


def _load(folder: Path):
    from kubeproxy_sim.cli.options import config_from_args
    from kubeproxy_sim.objects import load_paths

    loaded = load_paths([str(folder / "objects.yaml")])
    assert not loaded.errors, [str(d) for d in loaded.errors]
    args = (yaml.safe_load((folder / "scenario.yaml").read_text()) or {}).get("args") or []
    return loaded.cluster, config_from_args([str(a) for a in args], loaded.cluster)


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_upstream_scenario(folder: Path):
    cluster, config = _load(folder)
    expected = (folder / "upstream.rules").read_text()
    actual = render_ruleset(generate(cluster, config).ruleset)
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            "upstream.rules", "generated"))
        pytest.fail(f"{folder.name}: generated rules differ from upstream.rules\n{diff}")
