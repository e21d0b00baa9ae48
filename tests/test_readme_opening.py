"""README.md opens with exactly two commands, setup + demo and setup + tests, and both are true.

CI (.ci/run) provisions the machine and runs the second; the first's demo is run here as the README writes it, through
the virtualenv's console script, so CI checks it too. The paragraph under them names what the setup installs, which
is held to vagrant/provision.sh's own list.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = "bash vagrant/provision.sh"
DEMO = f"{SETUP} && .venv/bin/kubeproxy-sim demo"
TESTS = f"{SETUP} && .venv/bin/python -m pytest"


def _opening() -> tuple[list[str], str]:
    """The first code block's lines, and the prose between it and the next heading."""
    match = re.match(r"# kubeproxy-sim\n\n```sh\n(.*?)\n```\n\n(.*?)\n\n", README, flags=re.DOTALL)
    assert match, "README.md does not open with its title and one sh block"
    return match.group(1).splitlines(), match.group(2)


def test_readme_opens_with_exactly_the_two_commands() -> None:
    assert _opening()[0] == [DEMO, TESTS]


def test_ci_runs_the_setup_and_the_test_command_readme_gives() -> None:
    steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert steps == TESTS.split(" && ")


def test_the_setup_paragraph_names_every_package_provision_installs() -> None:
    """provision.sh's ``command:package`` pairs (and python3-venv, installed when venv or ensurepip is missing)."""
    script = (ROOT / "vagrant" / "provision.sh").read_text()
    pairs = re.search(r"^for pair in (.*?); do$", script, flags=re.MULTILINE)
    assert pairs and "python3-venv" in script
    packages = [pair.split(":", 1)[1] for pair in shlex.split(pairs.group(1))] + ["python3-venv"]
    paragraph = " ".join(_opening()[1].split())
    assert not [p for p in packages if not re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", paragraph)]


def test_the_demo_command_runs_as_readme_writes_it() -> None:
    """`.venv/bin/kubeproxy-sim demo` (the console script of the environment running the tests, which provision.sh
    made) explains the rules written for the tutorial's kubernetes-bootcamp Service."""
    script = Path(sys.executable).parent / "kubeproxy-sim"
    assert script.exists(), f"{script}: pip install -e '.[test]' makes the console script"
    done = subprocess.run([str(script), "demo"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Scenario bootcamp: The Kubernetes tutorial's kubernetes-bootcamp app")
    assert "== 1. The rules kube-proxy writes on this node (iptables-restore input), explained ==" in done.stdout
