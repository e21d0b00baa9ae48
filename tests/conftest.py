"""Shared pytest setup: hypothesis profiles (a small default budget; KPSIM_DEEP=1 selects "deep")."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("deep" if os.environ.get("KPSIM_DEEP") == "1" else "default")
