"""Per-test hypothesis budgets that scale with the loaded profile (see tests/conftest.py).

``@settings(max_examples=budget(300))``: 300 examples in CI (the ``ci`` profile's budget is CI_EXAMPLES a test,
and this test asks for 10 times that), and the same multiple of the ``deep`` profile's budget under KPSIM_DEEP=1
(5000). A bare ``max_examples=300`` would override the profile and run 300 in both.
"""

from __future__ import annotations

from hypothesis import settings

CI_EXAMPLES = 30
DEEP_EXAMPLES = 500


def budget(ci_examples: int) -> int:
    """``ci_examples`` scaled from the ``ci`` profile's budget to the loaded profile's."""
    loaded = settings.default
    assert loaded is not None, "tests/conftest.py loads a hypothesis profile before any test module"
    return max(1, round(ci_examples * loaded.max_examples / CI_EXAMPLES))
