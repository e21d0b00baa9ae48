"""Every scenario's golden files equal a fresh run, and upstream scenarios equal upstream's expected dump.

A failure here means the generator changed: regenerate with tools/regen_goldens.py and review the diff,
or fix the generator. Goldens are never edited by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# tools/ is no package but a namespace one, found from the repository root (pytest's pythonpath, as tests.* are):
# imported by that name, mypy checks the calls against the script's own types, which a tools/ dir put on sys.path
# hid from it (import-not-found)
from tools.regen_goldens import FailedRun, golden_outputs, refresh

ROOT = Path(__file__).resolve().parents[2]

SCENARIOS = sorted(p for p in (ROOT / "rulesets").iterdir() if (p / "scenario.yaml").is_file())


@pytest.mark.parametrize("directory", SCENARIOS, ids=lambda p: p.name)
def test_goldens_match_a_fresh_run(directory: Path) -> None:
    fresh = golden_outputs(directory)
    for name, text in fresh.items():
        golden = directory / name
        assert golden.exists(), f"{golden} is missing: run tools/regen_goldens.py {directory.name}"
        assert text == golden.read_text(), f"{golden} differs from a fresh run"
    strays = sorted(p.name for p in directory.glob("*.golden") if p.name not in fresh)
    assert not strays, f"{directory.name}: no run makes {strays} (remove them, or mark the scenario dual-stack)"


def test_a_dual_stack_scenario_has_each_family_s_goldens() -> None:
    """Both proxiers of a dual-stack node: rules.golden is the iptables one's, rules-ipv6.golden ip6tables'."""
    fresh = golden_outputs(ROOT / "rulesets" / "dual-stack")
    assert sorted(fresh) == ["full-ipv6.golden", "full.golden", "rules-ipv6.golden", "rules.golden"]
    assert "-d 10.96.0.10" in fresh["rules.golden"] and "fd00:" not in fresh["rules.golden"]
    assert "-d fd00:10:96::10" in fresh["rules-ipv6.golden"] and "10.96.0.10" not in fresh["rules-ipv6.golden"]


UPSTREAM = [d for d in SCENARIOS if (d / "upstream.rules").is_file()]


@pytest.mark.parametrize("directory", UPSTREAM, ids=lambda p: p.name)
def test_upstream_expected_dump_is_reproduced_byte_for_byte(directory: Path) -> None:
    ours = golden_outputs(directory)["rules.golden"]
    assert ours == (directory / "upstream.rules").read_text()


def test_a_failed_run_is_not_a_golden(tmp_path: Path) -> None:
    """A broken object makes the CLI exit 1: the tool must say so, not write what the failed run printed."""
    import shutil

    broken = tmp_path / "ipv6"
    shutil.copytree(ROOT / "rulesets" / "ipv6", broken)
    with (broken / "objects.yaml").open("a") as objects:
        objects.write("---\napiVersion: v1\nkind: Service\nmetadata: {name: broken\n")
    with pytest.raises(FailedRun, match=r"exited 1:\n.*objects.yaml"):
        golden_outputs(broken)


def _copy(tmp_path: Path, name: str) -> Path:
    import shutil

    copy = tmp_path / name
    shutil.copytree(ROOT / "rulesets" / name, copy)
    return copy


def test_goldens_no_run_makes_are_reported_and_removed_but_no_other_file(tmp_path: Path) -> None:
    """A scenario no longer dual-stack leaves its IPv6 proxier's goldens: --check names them, a regeneration
    removes them, and a file of another name (even one ending in .golden) is never touched."""
    scenario = _copy(tmp_path, "dual-stack")
    yaml_path = scenario / "scenario.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("dual-stack: true\n", ""))
    (scenario / "notes.golden").write_text("mine\n")
    others = sorted(p.name for p in scenario.iterdir() if p.suffix != ".golden")
    ipv6 = [scenario / "full-ipv6.golden", scenario / "rules-ipv6.golden"]
    assert refresh(scenario, write=False) == ([], ipv6)
    assert all(p.is_file() for p in ipv6)
    assert refresh(scenario, write=True) == ([], ipv6)
    assert not any(p.exists() for p in ipv6)
    assert (scenario / "notes.golden").read_text() == "mine\n"
    assert sorted(p.name for p in scenario.iterdir() if p.suffix != ".golden") == others
    assert sorted(p.name for p in scenario.iterdir() if p.suffix == ".golden") == [
        "full.golden", "notes.golden", "rules.golden"]
    assert refresh(scenario, write=False) == ([], [])


def test_a_broken_scenario_yaml_is_said_in_the_cli_s_words_and_nothing_is_touched(tmp_path: Path) -> None:
    scenario = _copy(tmp_path, "dual-stack")
    (scenario / "scenario.yaml").write_text("description: x\nargs: [--hostname-override, node1\n")
    before = {p.name: p.read_text() for p in scenario.iterdir()}
    with pytest.raises(FailedRun, match=r"scenario.yaml:\d+"):
        refresh(scenario, write=True)
    (scenario / "scenario.yaml").write_text("description: x\nargs: [--hostname-override, node1]\ndual-stack: yes!\n")
    with pytest.raises(FailedRun, match=r"scenario.yaml: dual-stack: expected true or false, got "):
        refresh(scenario, write=True)
    assert {p.name for p in scenario.iterdir()} == set(before)
    assert all((scenario / n).read_text() == t for n, t in before.items() if n != "scenario.yaml")
