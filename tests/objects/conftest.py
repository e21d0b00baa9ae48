"""Fixtures shared by the objects-layer tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

from kubeproxy_sim.objects import LoadResult, load_text


def _load(text: str, file: str = "t.yaml") -> LoadResult:
    return load_text(textwrap.dedent(text), file)


@pytest.fixture
def load() -> Callable[..., LoadResult]:
    """Load dedented YAML text as file t.yaml."""
    return _load


@pytest.fixture
def messages() -> Callable[[LoadResult], list[str]]:
    """Every diagnostic of a result, as the user reads it."""
    return lambda result: [str(d) for d in result.diagnostics]


def _int_digits(limit: int) -> Iterator[None]:
    """Python's limit on an integer's digits set to ``limit`` (0: none) for one test, and restored."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    yield
    sys.set_int_max_str_digits(before)


@pytest.fixture
def python_int_limit() -> Iterator[None]:
    """Python's default int-digits limit, as a library caller has it (the CLI's main lifts it for the process)."""
    yield from _int_digits(4300)


@pytest.fixture
def unlimited_digits() -> Iterator[None]:
    """Python's limit on an integer's digits lifted, as the command line runs (cli.main), and restored."""
    yield from _int_digits(0)
