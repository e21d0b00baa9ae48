"""Change trackers: pairs per object since the last sync, cancelled changes dropped, changed Services exact."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects.model import AddressType, Endpoint, EndpointConditions
from kubeproxy_sim.watch import (
    EndpointSliceChangeTracker,
    EventType,
    Kind,
    ServiceChangeTracker,
    WatchEvent,
    service_view,
    slice_state,
)
from tests.budget import budget

from ._objects import eps, svc


def ev(kind: EventType, obj) -> WatchEvent:
    k = Kind.SERVICE if obj.__class__.__name__ == "Service" else Kind.ENDPOINT_SLICE
    return WatchEvent(kind, k, obj.key, "1", obj)


def test_service_add_then_apply_reports_it_once() -> None:
    t = ServiceChangeTracker()
    a = svc("a", "10.0.0.1")
    t.observe(ev(EventType.ADDED, a))
    assert t.pending() == {"default/a"}
    update = t.apply()
    assert dict(update.objects) == {"default/a": a}
    assert update.changed == {"default/a"}
    assert t.pending() == frozenset()
    assert t.apply().changed == frozenset()


def test_service_add_then_delete_cancels_out() -> None:
    t = ServiceChangeTracker()
    a = svc("a", "10.0.0.1")
    t.observe(ev(EventType.ADDED, a))
    t.observe(ev(EventType.DELETED, a))
    assert t.pending() == frozenset()
    assert t.apply() .changed == frozenset()
    assert dict(t.apply().objects) == {}


def test_service_modified_back_to_original_cancels_out_but_keeps_latest_object() -> None:
    a = svc("a", "10.0.0.1")
    t = ServiceChangeTracker(initial=[a])
    assert t.pending() == frozenset()
    t.observe(ev(EventType.MODIFIED, svc("a", "10.0.0.1", port=81)))
    assert t.pending() == {"default/a"}
    relabelled = dataclasses.replace(a, labels=(("team", "x"),))
    t.observe(ev(EventType.MODIFIED, relabelled))
    assert t.pending() == frozenset()  # only a label differs from the synced state: no rules change
    update = t.apply()
    assert update.objects["default/a"] is relabelled
    assert update.changed == frozenset()


def test_headless_and_external_name_services_are_tracked_but_never_change_rules() -> None:
    t = ServiceChangeTracker()
    headless = dataclasses.replace(svc("h", "10.0.0.9"), cluster_ips=())
    t.observe(ev(EventType.ADDED, headless))
    assert t.pending() == frozenset()
    assert "default/h" in t.apply().objects
    # becoming a normal service is a change
    t.observe(ev(EventType.MODIFIED, svc("h", "10.0.0.9")))
    assert t.pending() == {"default/h"}


def test_custom_view_narrows_what_counts() -> None:
    t = ServiceChangeTracker(view=lambda s: None if s is None else s.cluster_ips)
    t.observe(ev(EventType.ADDED, svc("a", "10.0.0.1")))
    t.apply()
    t.observe(ev(EventType.MODIFIED, svc("a", "10.0.0.1", port=8080)))
    assert t.pending() == frozenset()


def test_other_kinds_and_bookmarks_are_ignored() -> None:
    t = ServiceChangeTracker()
    t.observe(ev(EventType.ADDED, eps("a-1", "a", ["10.1.0.1"])))
    t.observe(WatchEvent(EventType.BOOKMARK, Kind.SERVICE, "", "7"))
    assert t.pending() == frozenset() and not t.objects


def test_slice_changes_are_reported_per_service() -> None:
    t = EndpointSliceChangeTracker()
    t.observe_all([ev(EventType.ADDED, eps("a-1", "a", ["10.1.0.1"])),
                   ev(EventType.ADDED, eps("a-2", "a", ["10.1.0.2"])),
                   ev(EventType.ADDED, eps("b-1", "b", ["10.1.0.3"]))])
    update = t.apply()
    assert update.changed == {"default/a", "default/b"}
    assert [s.name for s in update.by_service["default/a"]] == ["a-1", "a-2"]
    # an update carrying the very same slice is no update at all
    t.observe(ev(EventType.MODIFIED, eps("a-1", "a", ["10.1.0.1"])))
    assert t.pending() == frozenset()
    # conditions spelled out the way kube-proxy defaults them: the same endpoints, but another slice object,
    # and kube-proxy's slice cache compares whole slices
    same = dataclasses.replace(eps("b-1", "b", ["10.1.0.3"]),
                               endpoints=(Endpoint(("10.1.0.3",), EndpointConditions(True, True, False)),))
    t.observe(ev(EventType.MODIFIED, same))
    assert t.pending() == {"default/b"}
    t.apply()
    # a slice moving from b to a changes both
    t.observe(ev(EventType.MODIFIED, dataclasses.replace(eps("b-1", "a", ["10.1.0.3"]))))
    assert t.pending() == {"default/a", "default/b"}
    update = t.apply()
    assert "default/b" not in update.by_service
    assert [s.name for s in update.by_service["default/a"]] == ["a-1", "a-2", "b-1"]
    assert t.slices_for("default/a") == update.by_service["default/a"]


def test_slices_kube_proxy_ignores_never_change_a_service() -> None:
    t = EndpointSliceChangeTracker()
    fqdn = dataclasses.replace(eps("f-1", "f", ["10.1.0.1"]), address_type=AddressType.FQDN)
    orphan = eps("o-1", "", ["10.1.0.2"])
    t.observe_all([ev(EventType.ADDED, fqdn), ev(EventType.ADDED, orphan)])
    assert t.pending() == frozenset()
    assert set(t.apply().objects) == {"default/f-1", "default/o-1"}


def test_slice_updates_undone_before_the_sync_still_change_the_service() -> None:
    """Unlike Services: upstream's slice cache keeps each update that differs from the one it holds pending,
    so a slice added and deleted again, or edited and edited back, still has its Service's chains rewritten."""
    first = eps("a-1", "a", ["10.1.0.1"])
    t = EndpointSliceChangeTracker(initial=[first, eps("b-1", "b", ["10.1.0.5"])])
    extra = eps("a-2", "a", ["10.1.0.2"])
    t.observe_all([ev(EventType.ADDED, extra), ev(EventType.DELETED, extra)])
    assert t.pending() == {"default/a"}
    update = t.apply()
    assert update.changed == {"default/a"}
    assert [s.name for s in update.by_service["default/a"]] == ["a-1"]
    t.observe_all([ev(EventType.MODIFIED, eps("b-1", "b", ["10.1.0.6"])),
                   ev(EventType.MODIFIED, eps("b-1", "b", ["10.1.0.5"]))])
    assert t.apply().changed == {"default/b"}
    t.observe(ev(EventType.MODIFIED, dataclasses.replace(first, labels=(("team", "x"),))))  # labels count too
    assert t.apply().changed == {"default/a"}


def test_an_ipv6_proxier_hears_only_of_ipv6_slices() -> None:
    t = EndpointSliceChangeTracker(lambda es: slice_state(es, True))
    v4 = eps("a-1", "a", ["10.1.0.1"])
    v6 = dataclasses.replace(eps("a-2", "a", ["fd00::1"]), address_type=AddressType.IPV6)
    t.observe(ev(EventType.ADDED, v4))
    assert t.pending() == frozenset()
    t.observe(ev(EventType.ADDED, v6))
    assert t.pending() == {"default/a"}


# -- property: for any event sequence, the tracked state and the changed set are exact ------------

_SERVICES = [svc(n, ip, port) for n in ("a", "b", "c") for ip in ("10.0.0.1", "10.0.0.2") for port in (80, 81)]
_SERVICES += [dataclasses.replace(s, labels=(("l", "1"),)) for s in _SERVICES[:3]]
_SERVICES += [dataclasses.replace(svc(n, "10.0.0.3"), cluster_ips=()) for n in ("a", "b")]
_SLICES = [eps(name, service, ips) for name in ("s1", "s2", "s3") for service in ("a", "b", "")
           for ips in (["10.1.0.1"], ["10.1.0.1", "10.1.0.2"], ["10.1.0.2", "10.1.0.1"])]

_steps = st.lists(st.one_of(
    st.tuples(st.just("svc"), st.sampled_from(_SERVICES), st.booleans()),
    st.tuples(st.just("slice"), st.sampled_from(_SLICES), st.booleans()),
    st.tuples(st.just("sync"), st.none(), st.none()),
), max_size=60)


def _seen_by_service(slices: dict) -> dict:
    out: dict = {}
    for key, s in slices.items():
        if slice_state(s) is not None:
            out.setdefault(f"{s.namespace}/{s.service_name}", {})[key] = s
    return out


def _updated_services(old, new) -> set[str]:
    """The Services an update of one slice touches, as kube-proxy's slice cache hears of it."""
    if old == new:
        return set()
    return {f"{s.namespace}/{s.service_name}" for s in (old, new) if s is not None and slice_state(s) is not None}


@settings(max_examples=budget(300), deadline=None)
@given(_steps)
def test_trackers_match_a_naive_model(steps) -> None:
    services, slices = ServiceChangeTracker(), EndpointSliceChangeTracker()
    truth_svc: dict = {}
    truth_slices: dict = {}
    synced_svc: dict = {}
    synced_slices: dict = {}
    updated: set = set()
    for what, obj, delete in [*steps, ("sync", None, None)]:
        if what == "sync":
            svc_update, slice_update = services.apply(), slices.apply()
            assert dict(svc_update.objects) == truth_svc
            assert dict(slice_update.objects) == truth_slices
            expected_svc = {k for k in truth_svc.keys() | synced_svc.keys()
                            if service_view(truth_svc.get(k)) != service_view(synced_svc.get(k))}
            assert svc_update.changed == expected_svc
            assert slice_update.changed == updated
            now, before = _seen_by_service(truth_slices), _seen_by_service(synced_slices)
            assert {k for k in now.keys() | before.keys() if now.get(k) != before.get(k)} <= updated  # none missed
            updated = set()
            grouped = {k: tuple(sorted((s for s in truth_slices.values() if s.service_name
                                        and f"{s.namespace}/{s.service_name}" == k), key=lambda s: s.name))
                       for k in {f"{s.namespace}/{s.service_name}" for s in truth_slices.values() if s.service_name}}
            assert dict(slice_update.by_service) == grouped
            synced_svc, synced_slices = dict(truth_svc), dict(truth_slices)
            continue
        tracker, truth = (services, truth_svc) if what == "svc" else (slices, truth_slices)
        if what == "slice":
            updated |= _updated_services(truth.get(obj.key), None if delete else obj)
        if delete:
            if obj.key in truth:
                tracker.observe(ev(EventType.DELETED, truth.pop(obj.key)))
        else:
            tracker.observe(ev(EventType.MODIFIED if obj.key in truth else EventType.ADDED, obj))
            truth[obj.key] = obj


def test_a_new_revision_of_a_slice_changes_its_service_even_if_equal_in_the_model() -> None:
    """Upstream's esDataChanged compares whole slices: an update at a new resourceVersion that changed only a
    field the model drops (an annotation, a targetRef's uid) still has the Service's chains rewritten. The same
    revision again is no update; a slice the proxier does not see (no Service) changes nothing."""
    a1 = eps("a-1", "a", ["10.1.0.1"])
    orphan = eps("o-1", "", ["10.1.0.9"])
    t = EndpointSliceChangeTracker()
    t.observe_all([WatchEvent(EventType.ADDED, Kind.ENDPOINT_SLICE, a1.key, "5", a1),
                   WatchEvent(EventType.ADDED, Kind.ENDPOINT_SLICE, orphan.key, "5", orphan)])
    t.apply()
    t.observe(WatchEvent(EventType.MODIFIED, Kind.ENDPOINT_SLICE, a1.key, "5", a1))
    assert t.pending() == frozenset()
    t.observe(WatchEvent(EventType.MODIFIED, Kind.ENDPOINT_SLICE, a1.key, "8", a1))
    t.observe(WatchEvent(EventType.MODIFIED, Kind.ENDPOINT_SLICE, orphan.key, "9", orphan))
    assert t.pending() == {"default/a"} and t.apply().changed == {"default/a"}


def test_asks_sync_says_whether_the_last_event_of_an_object_asks_for_a_sync() -> None:
    """What kube-proxy's handlers call Sync() for: a Service event that leaves it differing from the last sync,
    and a slice update the proxier sees (a new revision too, equal in the model); not a label-only edit, not a
    slice of another family, not the very same slice again."""
    services = ServiceChangeTracker()
    a = svc("a", "10.0.0.1")

    def asks(tracker, event: WatchEvent) -> bool:
        tracker.observe(event)
        return tracker.asks_sync(event.key)

    assert asks(services, ev(EventType.ADDED, a))
    assert not asks(services, ev(EventType.DELETED, a))  # undone: nothing held (the caller has asked already)
    services.observe(ev(EventType.ADDED, a))
    services.apply()
    assert not asks(services, ev(EventType.MODIFIED, dataclasses.replace(a, labels=(("team", "x"),))))
    slices = EndpointSliceChangeTracker()
    one = eps("a-1", "a", ["10.1.0.1"])
    assert asks(slices, WatchEvent(EventType.ADDED, Kind.ENDPOINT_SLICE, one.key, "1", one))
    assert not asks(slices, WatchEvent(EventType.BOOKMARK, Kind.ENDPOINT_SLICE, "", "1"))
    assert not asks(slices, WatchEvent(EventType.MODIFIED, Kind.ENDPOINT_SLICE, one.key, "1", one))
    assert asks(slices, WatchEvent(EventType.MODIFIED, Kind.ENDPOINT_SLICE, one.key, "2", one))
    fqdn = dataclasses.replace(eps("f-1", "f", ["10.1.0.2"]), address_type=AddressType.FQDN)
    assert not asks(slices, WatchEvent(EventType.ADDED, Kind.ENDPOINT_SLICE, fqdn.key, "3", fqdn))
