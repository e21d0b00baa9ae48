"""The one rule replay, the directory watch and the API server watch share for a refused object: its previous
version stays (the API server refuses the write), said with one note."""

from __future__ import annotations

from kubeproxy_sim.watch.state import keep_previous, keep_revision


def test_a_refused_key_keeps_its_previous_version_only_when_it_has_no_valid_one() -> None:
    now: dict[str, str] = {"b": "b2"}
    assert keep_previous("a", {"a": "a1", "b": "b1"}, now) == "a1" and now == {"a": "a1", "b": "b2"}
    assert keep_previous("b", {"b": "b1"}, now) is None and now["b"] == "b2"  # a valid document of it wins
    assert keep_previous("c", {}, now) is None and "c" not in now  # new and refused: nothing to keep


def test_a_kept_slice_keeps_its_previous_revision_or_none() -> None:
    revisions = {"ns/s1": "refused", "ns/s2": "refused"}
    keep_revision(revisions, {"ns/s1": "old"}, "ns/s1")
    keep_revision(revisions, {}, "ns/s2")
    assert revisions == {"ns/s1": "old"}

