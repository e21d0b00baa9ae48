"""A regular install (a wheel, `pip install .`) carries the built-in scenarios and finds them outside a checkout.

The scenarios live at the top of the repository (rulesets/), outside the package; pyproject.toml maps them into the
wheel as kubeproxy_sim/rulesets, and builtin_folder.RULESETS (cli.options.REPO_RULESETS, objects.load.BUILT_IN)
is that copy when the package does not sit in a checkout. The wheel is built from a copy of the tree (the checkout
gets no build/ folder, and parallel runs do not share one), installed with ``pip install --target`` (no venv,
nothing of the shared one touched), and run from a directory outside both.

The build is offline when the venv's setuptools can build this project by itself (setuptools >= 77, for the SPDX
license string); otherwise pip's isolated build fetches pyproject.toml's build requirement from the configured
index: where none answers, the test is skipped with the reason, except under CI=true, where it must run.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE_INDEX = ("No matching distribution found for setuptools", "Could not find a version that satisfies")
"""What pip says when an isolated build cannot get its build backend (no index answers): a set-up, not a bug."""


@dataclass(frozen=True)
class Installed:
    """A built wheel's archive names, the folder it was installed into with ``pip install --target``, and the copy
    of the tree it was built from (what it is held to: the checkout itself may gain files while the tests run)."""

    names: frozenset[str]
    target: Path
    source: Path


def _offline_build() -> bool:
    """Whether the venv's own setuptools builds this project's wheel, so that ``--no-build-isolation`` needs no
    index: pyproject.toml's SPDX ``license = "Apache-2.0"`` needs setuptools >= 77 (older ones refuse the string),
    which also has bdist_wheel built in (from 70.1)."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=300)


def _copy_tree(destination: Path) -> None:
    """What a build of the checkout sees, caches and tests included (the wheel must leave them out)."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, destination / name)
    for name in ("kubeproxy_sim", "rulesets", "tests"):
        shutil.copytree(ROOT / name, destination / name, symlinks=True,
                        ignore=shutil.ignore_patterns(".hypothesis", ".pytest_cache"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    _copy_tree(source)
    wheels = base / "wheels"
    isolation = ["--no-build-isolation"] if _offline_build() else []
    built = _pip("wheel", "--no-deps", *isolation, str(source), "-w", str(wheels))
    if built.returncode != 0 and not isolation and any(words in built.stderr for words in UNREACHABLE_INDEX):
        reason = "pip's isolated build could not fetch setuptools (no index reachable, and the venv's cannot build)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the packaging test must run here)", pytrace=False)
        pytest.skip(reason)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("kubeproxy_sim-*.whl")
    target = base / "site"
    done = _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(wheel) as archive:
        return Installed(frozenset(archive.namelist()), target, source)


def _run_installed(installed: Installed, *argv: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, run from a folder outside the checkout with only the install on the path (the
    shared venv's editable finder comes after PYTHONPATH, so the installed package is the one imported)."""
    cwd = installed.target.parent
    env = {**os.environ, "PYTHONPATH": str(installed.target)}
    return subprocess.run([str(installed.target / "bin" / "kubeproxy-sim"), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_installed_copy_is_the_one_run(installed: Installed) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed.target)}
    code = ("import kubeproxy_sim.cli.options as o, kubeproxy_sim.objects.load as l; "
            "print(o.__file__); print(o.REPO_RULESETS); print(l.BUILT_IN)")
    done = subprocess.run([sys.executable, "-c", code], cwd=installed.target.parent, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    module, folder, built_in = done.stdout.splitlines()
    rulesets = installed.target / "kubeproxy_sim" / "rulesets"
    assert Path(module).is_relative_to(installed.target)
    assert Path(folder) == rulesets and built_in == os.path.realpath(rulesets)


def test_an_install_into_a_project_folder_reads_its_own_copy(installed: Installed, tmp_path: Path) -> None:
    """``pip install --target`` into a folder that is itself a project (a pyproject.toml there) is no checkout: the
    scenarios are still the copy the wheel carries, not a rulesets/ beside that pyproject.toml (none there)."""
    project = tmp_path / "proj"
    shutil.copytree(installed.target, project, symlinks=True)
    (project / "pyproject.toml").write_text('[project]\nname = "theirs"\n')
    env = {**os.environ, "PYTHONPATH": str(project)}
    code = ("import kubeproxy_sim.cli.options as o, kubeproxy_sim.objects.load as l; "
            "print(o.REPO_RULESETS); print(l.BUILT_IN)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    folder, built_in = done.stdout.splitlines()
    rulesets = project / "kubeproxy_sim" / "rulesets"
    assert Path(folder) == rulesets and built_in == os.path.realpath(rulesets)
    ran = subprocess.run([sys.executable, "-m", "kubeproxy_sim", "rules", "--scenario", "bootcamp"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (installed.source / "rulesets" / "bootcamp" / "rules.golden").read_text()


def test_rules_of_a_built_in_scenario_equal_the_golden(installed: Installed) -> None:
    done = _run_installed(installed, "rules", "--scenario", "bootcamp")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (installed.source / "rulesets" / "bootcamp" / "rules.golden").read_text()


def test_completion_offers_the_installed_scenarios(installed: Installed) -> None:
    done = _run_installed(installed, "rules", "--scenario", "no-such-scenario")
    assert done.returncode != 0
    assert str(installed.target / "kubeproxy_sim" / "rulesets") in done.stderr  # the folder searched is the copy
    names = sorted(p.parent.name for p in (installed.source / "rulesets").glob("*/scenario.yaml"))
    env = {**os.environ, "PYTHONPATH": str(installed.target)}
    code = "from kubeproxy_sim.cli.completion_cmd import scenario_names; print(*scenario_names())"
    listed = subprocess.run([sys.executable, "-c", code], cwd=installed.target.parent, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert listed.stdout.split() == names


def test_the_wheel_carries_the_package_and_scenarios_only(installed: Installed) -> None:
    files = {n for n in installed.names if not n.split("/")[0].endswith(".dist-info")}
    source = installed.source
    modules = {p.relative_to(source).as_posix() for p in (source / "kubeproxy_sim").rglob("*.py")}
    scenarios = {"kubeproxy_sim/" + p.relative_to(source).as_posix()
                 for p in (source / "rulesets").rglob("*") if p.is_file()}
    assert files == modules | scenarios  # a subpackage missing from pyproject.toml's list shows here
    junk = [n for n in installed.names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n or n.startswith("tests/")]
    assert junk == []


def test_a_checkout_reads_its_own_rulesets() -> None:
    """From a checkout (and so an editable install) the scenarios are the repository's, the ones being edited."""
    from kubeproxy_sim.cli.options import REPO_RULESETS
    from kubeproxy_sim.objects.load import BUILT_IN

    assert REPO_RULESETS == ROOT / "rulesets"
    assert os.path.realpath(ROOT / "rulesets") == BUILT_IN
