"""dist's text writes deviations from an even split in plain decimals (u1: ``+1.55e-08 pts vs even`` and
``max deviation from even 1.67e+01 pts`` read badly); its JSON keeps its floats and exact texts."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import pytest

from kubeproxy_sim.analysis.render import points
from kubeproxy_sim.cli.main import main

DIST = ["dist", "--scenario", "bootcamp", "--to", "kubernetes-bootcamp.default:8080"]


@pytest.mark.parametrize(("fraction", "text"), [
    (Fraction(0), "+0"), (Fraction(1, 8589934592), "+0.0000000116"), (Fraction(-1, 17179869184), "-0.00000000582"),
    (Fraction(1, 6), "+16.7"), (Fraction(-1, 6), "-16.7"), (Fraction(1, 2), "+50"), (Fraction(1, 1000), "+0.1"),
])
def test_points_are_three_significant_digits_in_plain_decimals(fraction: Fraction, text: str) -> None:
    assert points(fraction, sign=True) == text
    assert points(abs(fraction)) == text.lstrip("+-")


def test_dist_text_has_no_exponent_and_its_json_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(DIST) == 0
    text = capsys.readouterr().out
    assert not re.search(r"\d[eE][+-]\d", text)
    assert "2147483649/8589934592  +0.0000000116 pts vs even" in text
    assert "max deviation from even 0.0000000116 pts" in text
    assert main([*DIST, "-o", "json"]) == 0
    view = json.loads(capsys.readouterr().out)["services"][0]["views"][0]
    average = view["average"]  # (a fraction, not points: unchanged)
    assert [o["deviation_exact"] for o in average["outcomes"]] == ["0", "1/8589934592", "-1/17179869184",
                                                                    "-1/17179869184"]
    assert average["max_deviation"] == 1 / 8589934592 and average["max_deviation_exact"] == "1/8589934592"
