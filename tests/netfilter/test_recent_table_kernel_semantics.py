"""RecentTable as xt_recent keeps its lists where time and size matter, without a kernel: what
tests/kernel/test_eval_kernel_time measured (--reap removes the list's least recently updated entry, not the one
the packet asks about; an entry keeps 32 stamps, more for a larger --hitcount)."""

from __future__ import annotations

from kubeproxy_sim.netfilter.evaluate import RecentTable, stamp_ring

A, B, C = 1, 2, 3


def test_reap_removes_the_oldest_entry_whichever_address_asks() -> None:
    table = RecentTable()
    table.apply("--set", "R", A, 0.0, 0, 0, False)
    table.apply("--set", "R", B, 0.2, 0, 0, False)
    assert not table.apply("--rcheck", "R", B, 2.0, 1, 0, False, reap=True)  # B stale: no match
    assert not table.holds("R", A) and table.holds("R", B)  # A, the older, went


def test_reap_needs_an_entry_for_the_address_and_a_stale_oldest() -> None:
    table = RecentTable()
    table.apply("--set", "R", A, 0.0, 0, 0, False)
    assert not table.apply("--rcheck", "R", C, 2.0, 1, 0, False, reap=True)  # C not held: nothing is reaped
    assert table.holds("R", A)
    table.apply("--set", "R", B, 1.5, 0, 0, False)
    table.apply("--set", "R", A, 1.8, 0, 0, False)  # A stamped again: B is now the oldest, and fresh
    assert table.apply("--rcheck", "R", A, 2.0, 1, 0, False, reap=True)
    assert table.holds("R", A) and table.holds("R", B)


def test_a_negated_update_stamps_the_stale_entry_it_would_have_reaped() -> None:
    table = RecentTable()
    table.apply("--set", "U", C, 0.0, 0, 0, False)
    assert table.apply("--update", "U", C, 2.0, 1, 0, True, reap=True)  # not within the window: ! matches
    assert table.apply("--rcheck", "U", C, 2.1, 1, 0, False)  # stamped at 2.0, not reaped


def test_an_entry_keeps_32_stamps_and_more_for_a_larger_hitcount() -> None:
    assert [stamp_ring(h) for h in (0, 1, 3, 20, 32, 33, 40, 65535)] == [32, 1, 4, 32, 32, 64, 64, 65536]
    table = RecentTable()
    for t in range(40):
        table.apply("--set", "H", A, float(t), 0, 0, False)
    assert table.apply("--rcheck", "H", A, 40.0, 0, 21, False)
    assert table.apply("--rcheck", "H", A, 40.0, 0, 32, False)
    wide = RecentTable()
    wide.declare("H", -1, 40)
    for t in range(40):
        wide.apply("--set", "H", A, float(t), 0, 0, False)
    assert wide.apply("--rcheck", "H", A, 40.0, 0, 40, False)


def test_a_list_whose_ring_grows_at_a_reload_is_emptied() -> None:
    table = RecentTable()
    table.declare("L", -1)
    table.apply("--set", "L", A, 0.0, 0, 0, False)
    table.declare("L", -1)  # the same rules again: kept
    assert table.holds("L", A)
    table.declare("L", -1, 64)  # a rule asking for more stamps: recent_mt_check flushes the list
    assert not table.holds("L", A)
