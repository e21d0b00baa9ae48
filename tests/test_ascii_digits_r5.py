"""Digits are ASCII wherever Go reads a number: time.ParseDuration and resource.ParseQuantity compare bytes
against '0'..'9', so another script's digits (Arabic-Indic ٣٠, fullwidth ３０) are no number to kube-proxy; Python's
``\\d`` and float() take them (reviewer r5: ``--sync-period '٣٠s'`` ran with 30 s)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.config_file import go_duration, read_config_file
from kubeproxy_sim.controllers.topology import cpu_millis
from kubeproxy_sim.durations import parse_duration

OTHER_DIGITS = ["٣٠s", "٣٠", "３０s", "1٣s", "1.٥s", "١m٣٠s"]


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_a_duration_of_other_digits_is_none(text: str) -> None:
    assert parse_duration(text) is None
    assert go_duration(text) is None


def test_ascii_durations_still_read() -> None:
    assert parse_duration("30") == 30.0
    assert parse_duration("1m30s") == 90.0
    assert go_duration("1m30s") == 90.0


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_a_config_sync_period_of_other_digits_is_refused(text: str) -> None:
    _, diagnostics = read_config_file("kp.yaml", f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                                                      f"kind: KubeProxyConfiguration\niptables:\n"
                                                      f"  syncPeriod: \"{text}\"\n")
    said = [str(d) for d in diagnostics]
    assert any("iptables.syncPeriod" in s and "is not a duration" in s for s in said), said


@pytest.mark.parametrize("text", ["٤", "٣٥٠٠m", "４", "1.٥"])
def test_a_quantity_of_other_digits_is_none(text: str) -> None:
    assert cpu_millis(text) is None


def test_ascii_quantities_still_read() -> None:
    assert cpu_millis("3500m") == 3500
    assert cpu_millis("1.5") == 1500
