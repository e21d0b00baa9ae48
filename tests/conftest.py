"""Shared pytest setup: the hypothesis profiles.

* ``ci`` (the default): 30 examples a test, derandomized and without an example database, so every run (CI's,
  a developer's) tries the same inputs in the same order and a failure reproduces by running the test again.
* ``deep`` (``KPSIM_DEEP=1``): 500 examples a test, randomized (new inputs every run), with the example database
  in the repository's ``.hypothesis/`` (git-ignored), which replays the failures it found first on the next run.

A test that needs its own number of examples asks :func:`tests.budget.budget` for it, so that it scales with the
profile (its CI number in ``ci``, proportionally more in ``deep``); ``settings(max_examples=N)`` would not.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.budget import CI_EXAMPLES, DEEP_EXAMPLES


class _Common(TypedDict):
    """Both profiles' settings, typed key by key: a plain dict's value type (a union) could be ``parent``'s."""

    deadline: None
    suppress_health_check: list[HealthCheck]


COMMON: _Common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, database=None, **COMMON)
settings.register_profile("deep", max_examples=DEEP_EXAMPLES, derandomize=False, print_blob=True,
                          database=DirectoryBasedExampleDatabase(Path(__file__).resolve().parent.parent /
                                                                 ".hypothesis" / "examples"), **COMMON)
settings.load_profile("deep" if os.environ.get("KPSIM_DEEP") == "1" else "ci")


def _deliver_ctrl_c() -> None:
    """Ctrl-C deliverable again when pytest started with SIGINT ignored (a shell's ``&`` or ``nohup`` job): the
    processes the interrupt tests start would inherit the ignored signal (an ignored disposition survives exec)
    and never see their Ctrl-C. A handler of our own is reset to the default in each child at exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_deliver_ctrl_c()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of a module that use a module-scoped fixture of that module run on one pytest-xdist worker
    (``--dist loadgroup``, pyproject.toml), so the fixture (a kernel cluster, a pair of namespaces) is built once,
    not once on each worker; the other tests go one by one to whichever worker is free. Fixtures of a conftest
    (``kernel``, ``state_dir``) are cheap and do not group."""
    for item in items:
        module_id = item.nodeid.split("::", 1)[0]
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d.scope == "module" and d.baseid == module_id for chain in defs for d in chain):
            item.add_marker(pytest.mark.xdist_group(module_id))


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The garbage collector off for the test (after one collection), so ``gc.collect() == 0`` at its end proves
    the work under test left no reference cycle: the kind a collector pause (objects.bulk) would freeze for good."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _kernel_iptables_unavailable() -> str | None:
    """Why iptables cannot be run in a throw-away netns here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("unshare", "iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    probe = subprocess.run(["unshare", "--net", "iptables-save"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "cannot run iptables in a new network namespace: " + probe.stderr.strip()[:200]
    return None


@pytest.fixture(scope="module")
def kernel_iptables() -> None:
    """Real iptables in ``unshare --net``: skipped with the reason where it cannot run, failed under CI=true
    (where the kernel tests must run); shared by the save-form and the partial-sync kernel tests."""
    reason = _kernel_iptables_unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: kernel tests must run here)", pytrace=False)
    pytest.skip(reason)
