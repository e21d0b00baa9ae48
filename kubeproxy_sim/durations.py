"""Durations as kube-proxy and kubectl write them (Go's time.ParseDuration): ``30s``, ``1m30s``, ``2h45m``,
``500ms``; a bare number is seconds. One parser for every flag and script line that takes one."""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
GO_MAX_SECONDS = (2**63 - 1) / 1e9
"""The longest duration Go holds (int64 nanoseconds, about 292 years): ParseDuration refuses a longer one."""


def parse_duration(text: str) -> float | None:
    """Seconds, or None when ``text`` is not a duration, or one longer than Go holds (a float would read 400
    digits as inf, which no later bound check catches)."""
    text = text.strip()
    if _PLAIN.fullmatch(text):
        seconds = float(text)
    else:
        parts = _PART.findall(text)
        if not parts or "".join(number + unit for number, unit in parts) != text:
            return None
        seconds = sum(float(number) * _SECONDS[unit] for number, unit in parts)
    return seconds if seconds <= GO_MAX_SECONDS else None
