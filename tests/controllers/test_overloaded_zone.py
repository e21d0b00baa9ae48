"""serviceOverloaded as upstream decides it (final reader f1's finding 5)."""

from __future__ import annotations

from kubeproxy_sim.controllers import queue as Q


def test_a_zone_of_the_ratios_without_hints_overloads_the_service_even_at_a_zero_share() -> None:
    """topologycache.serviceOverloaded returns true for a zone of the ratios missing from the hints before it
    computes the zone's minimum; read as 0 hints, a zone whose share rounds to a minimum of 0 (a ratio of 0: its
    nodes' allocatable CPU is 0) passed."""
    assert Q.overloaded({"zone-a": 3}, {"zone-a": 1.0, "zone-b": 0.0})
    assert not Q.overloaded({"zone-a": 3, "zone-b": 0}, {"zone-a": 1.0, "zone-b": 0.0})
    assert not Q.overloaded({}, {"zone-a": 1.0})  # (upstream: len(ezi) == 0 is false, as here)
