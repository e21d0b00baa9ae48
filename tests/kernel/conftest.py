"""Kernel tests: skipped (with the reason) without root or iptables, except under CI=true where they must run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.kernel import env


def require_kernel() -> None:
    problems = env.missing()
    if not problems:
        return
    reason = "kernel backend unavailable: " + "; ".join(problems)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: kernel tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def kernel() -> None:
    require_kernel()


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A tag unique to this test run: every cluster name (and so every namespace) starts with it."""
    return f"t{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kpsim-state")


@pytest.fixture(scope="session", autouse=True)
def no_leftovers(run_tag: str) -> Iterator[None]:
    """After the run, nothing of ours may remain (and whatever a failure left is removed)."""
    yield
    if env.missing():
        return
    from pyroute2 import netns

    left = [n for n in netns.listnetns() if n.startswith(f"kpsim-{run_tag}")]
    for name in left:
        netns.remove(name)
    assert not left, f"namespaces left behind: {left}"
