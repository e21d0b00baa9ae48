"""Fixtures shared by the objects-layer tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

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
