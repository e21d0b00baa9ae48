"""controllers.queue: which Services the EndpointSlice controller's event handlers queue, rule by rule
(GetServicesToUpdateOnPodChange, podEndpointsChanged, onEndpointSlice*, updateNode, serviceOverloaded)."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import queue as Q
from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.endpointslice import CONTROLLER_NAME, MANAGED_BY_LABEL, SERVICE_NAME_LABEL
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.controllers.script import Manifests, Step, parse_line, play
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    ContainerPort,
    Endpoint,
    EndpointConditions,
    EndpointSlice,
    Node,
    Pod,
    Protocol,
    Service,
    ServicePort,
)
from tests.budget import budget

from ._helpers import IMAGE_BROKEN, IMAGE_V1, IMAGE_V2, deployed

PORTS = (ServicePort(name="", protocol=Protocol.TCP, port=80, target_port=8080),)
WEB = Service(namespace="default", name="web", ports=PORTS, selector=(("app", "web"),))
API = Service(namespace="default", name="api", ports=PORTS, selector=(("tier", "api"),))
BARE = Service(namespace="default", name="bare", ports=PORTS, selector=None)
POD = Pod(namespace="default", name="p", node_name="node1", pod_ips=("10.244.0.5",), labels=(("app", "web"),))


def test_an_unchanged_pod_queues_nothing_and_new_or_gone_pods_queue_their_services() -> None:
    services = [WEB, API, BARE]
    assert Q.pod_queued([POD], [POD], services) == set()
    assert Q.pod_queued([], [POD], services) == {"default/web"}
    assert Q.pod_queued([POD], [], services) == {"default/web"}


def test_readiness_ips_or_deletion_queue_the_pods_services() -> None:
    for changed in (replace(POD, ready=False), replace(POD, pod_ips=("10.244.0.6",)), replace(POD, terminating=True)):
        assert Q.pod_queued([POD], [changed], [WEB, API]) == {"default/web"}


def test_a_change_podEndpointsChanged_ignores_queues_nothing() -> None:
    """Phase alone is not looked at (only deletion, readiness, IPs and labels are), nor a node set where there was
    none (kube-scheduler's binding, an update)."""
    unbound = replace(POD, node_name=None)
    assert Q.pod_queued([POD], [replace(POD, phase="Pending")], [WEB]) == set()
    assert Q.pod_queued([unbound], [POD], [WEB]) == set()


def test_a_pod_replaced_under_its_name_queues_the_services_of_old_and_new() -> None:
    """A new node, ports, sidecar ports or hostNetwork: fields no update may change, so the model's replacement
    is a delete and a create upstream (deletePod, addPod), whatever podEndpointsChanged would say."""
    port = ContainerPort(name="http", container_port=9090)
    moved = (replace(POD, node_name="node2"), replace(POD, ports=(port,)), replace(POD, sidecar_ports=(port,)),
             replace(POD, host_network=True))
    for changed in moved:
        assert Q.pod_queued([POD], [changed], [WEB, API]) == {"default/web"}
    relabelled = replace(moved[0], labels=(("app", "web"), ("x", "y")))  # both sides, not the Services left or joined
    assert Q.pod_queued([POD], [relabelled], [WEB, API]) == {"default/web"}
    left = replace(POD, node_name="node2", labels=(("tier", "api"),))  # the old pod's Service too: deletePod of it
    assert Q.pod_queued([POD], [left], [WEB, API]) == {"default/web", "default/api"}


def test_any_update_of_a_terminating_pod_queues_it() -> None:
    """The deletion timestamps are compared as pointers, which differ on every update of a terminating pod."""
    dying = replace(POD, terminating=True)
    assert Q.pod_queued([dying], [replace(dying, phase="Pending")], [WEB]) == {"default/web"}


def test_labels_alone_queue_the_services_left_or_joined_and_with_another_change_all_of_both() -> None:
    both = replace(POD, labels=(("app", "web"), ("tier", "api")))
    assert Q.pod_queued([POD], [replace(POD, labels=(("app", "web"), ("x", "y")))], [WEB, API]) == set()
    assert Q.pod_queued([POD], [both], [WEB, API]) == {"default/api"}
    assert Q.pod_queued([POD], [replace(both, ready=False)], [WEB, API]) == {"default/web", "default/api"}


def _slice(name: str, service: str, manager: str, address: str = "10.244.0.5") -> EndpointSlice:
    return EndpointSlice(namespace="default", name=name, service_name=service, address_type=AddressType.IPV4,
                         endpoints=(Endpoint(addresses=(address,)),),
                         labels=((MANAGED_BY_LABEL, manager), (SERVICE_NAME_LABEL, service)))


def test_slices_of_the_controllers_label_queue_their_service_and_others_do_not() -> None:
    mine, theirs = _slice("a", "web", CONTROLLER_NAME), _slice("b", "web", "someone-else")
    assert Q.slice_queued([], [mine]) == {"default/web"}
    assert Q.slice_queued([mine], []) == {"default/web"}
    assert Q.slice_queued([mine], [mine]) == set()
    assert Q.slice_queued([], [theirs]) == set()
    assert Q.slice_queued([theirs], [replace(theirs, endpoints=())]) == set()


def test_a_slice_changing_hands_or_service_queues_both_sides() -> None:
    theirs = _slice("b", "web", "someone-else")
    assert Q.slice_queued([theirs], [_slice("b", "web", CONTROLLER_NAME)]) == {"default/web"}
    assert Q.slice_queued([theirs], [_slice("b", "api", "someone-else")]) == {"default/web", "default/api"}


def _node(name: str, zone: str) -> Node:
    return Node(name=name, labels=(("topology.kubernetes.io/zone", zone),))


def test_node_events_are_additions_deletions_readiness_and_zone_only() -> None:
    nodes = (_node("node1", "zone-a"), _node("node2", "zone-b"))
    seen = Q.Snapshot(nodes=nodes)
    assert not Q.nodes_event(seen, Q.Snapshot(nodes=nodes))
    assert not Q.nodes_event(seen, Q.Snapshot(nodes=(nodes[0], replace(nodes[1], labels=(
        *nodes[1].labels, ("other", "x"))))))
    assert Q.nodes_event(seen, Q.Snapshot(nodes=nodes[:1]))
    assert Q.nodes_event(seen, Q.Snapshot(nodes=(nodes[0], _node("node2", "zone-c"))))
    assert Q.nodes_event(seen, Q.Snapshot(nodes=nodes, not_ready=frozenset({"node2"})))


def test_service_overloaded_as_upstream_computes_it() -> None:
    """No hints: never; no ratios: always; a zone of the ratios missing or below ceil(total * ratio / 1.2)."""
    assert not Q.overloaded({}, None)
    assert Q.overloaded({"zone-a": 1}, None)
    assert Q.overloaded({"zone-a": 1, "zone-b": 1}, {"zone-a": 0.5, "zone-c": 0.5})
    assert not Q.overloaded({"zone-a": 2, "zone-b": 2}, {"zone-a": 0.5, "zone-b": 0.5})
    assert not Q.overloaded({"zone-a": 1, "zone-b": 3}, {"zone-a": 0.25, "zone-b": 0.75})
    assert Q.overloaded({"zone-a": 1, "zone-b": 3}, {"zone-a": 0.5, "zone-b": 0.5})  # zone-a needs ceil(4*.5/1.2)=2


@given(st.lists(st.tuples(st.sampled_from(["zone-a", "zone-b", "zone-c"]), st.booleans()), max_size=12))
def test_hints_by_zone_counts_the_ready_hinted_endpoints_per_family(spec: list[tuple[str, bool]]) -> None:
    endpoints = tuple(Endpoint(addresses=(f"10.0.0.{i + 1}",), conditions=EndpointConditions(ready=ready),
                               hints_for_zones=(zone,)) for i, (zone, ready) in enumerate(spec))
    counted = Q.hints_by_zone([replace(_slice("a", "web", CONTROLLER_NAME), endpoints=endpoints)])
    expected: dict[str, int] = {}
    for zone, ready in spec:
        if ready:
            expected[zone] = expected.get(zone, 0) + 1
    assert counted == ({"IPv4": expected} if expected else {})


# a bare pod, applied again and again under one name: its labels (in web, in api, in both, in both with one more
# label), its address and its readiness change together or alone, as the informers see updates of one pod
_BARE_LABELS = ((("app", "web"),), (("tier", "api"),), (("app", "web"), ("tier", "api")),
                (("app", "web"), ("tier", "api"), ("x", "y")))
_ACTIONS = st.lists(st.one_of(st.tuples(st.just("scale"), st.integers(0, 4)),
                              st.tuples(st.just("wait"), st.sampled_from([0.5, 3.0, 20.0, 60.0])),
                              st.tuples(st.just("image"), st.sampled_from([IMAGE_V1, IMAGE_V2, IMAGE_BROKEN])),
                              st.tuples(st.just("label"), st.sampled_from(["web", "other"])),
                              st.tuples(st.just("delete"), st.integers(0, 3)),
                              st.tuples(st.just("distribution"), st.sampled_from([None, "PreferClose"])),
                              st.tuples(st.just("bare"), st.tuples(st.integers(0, len(_BARE_LABELS) - 1),
                                                                   st.sampled_from(["10.244.0.250", "10.244.0.251"]),
                                                                   st.booleans()))),
                    min_size=1, max_size=8)


def _bare(w: World, spec: tuple[int, str, bool], rng: random.Random) -> World:
    labels, address, ready = spec
    pod = Pod(namespace="default", name="bare", node_name="node1", pod_ips=(address,), labels=_BARE_LABELS[labels],
              ports=(ContainerPort(name=None, container_port=8080),), ready=ready)
    return W.add_pods(w, [pod], rng)[0]


def _act(w: World, action: tuple[str, object], rng: random.Random) -> World:
    kind, arg = action
    pods = sorted(p.name for p in w.pods if p.name != "bare")
    if kind == "scale":
        return W.scale(w, "default", "web", int(arg), rng)  # type: ignore[call-overload]
    if kind == "wait":
        return W.advance(w, float(arg), rng)  # type: ignore[arg-type]
    if kind == "image":
        return W.set_image(w, "default", "web", {"kubernetes-bootcamp": str(arg)}, rng)
    if kind == "bare":
        return _bare(w, arg, rng)  # type: ignore[arg-type]
    if kind in ("label", "delete") and not pods:
        return w
    if kind == "label":
        return W.label_pod(w, "default", pods[0], {"app": str(arg)}, rng, overwrite=True)
    if kind == "delete":
        return W.delete_pods(w, "default", [pods[int(arg) % len(pods)]], rng)  # type: ignore[call-overload]
    service = w.service("default", "web")
    assert service is not None
    return W.put_service(w, replace(service, traffic_distribution=arg))  # type: ignore[arg-type]


@settings(max_examples=budget(60), deadline=None)
@given(actions=_ACTIONS, seed=st.integers(0, 3))
# the bare pod's address changed alone: fails with the IP comparison dropped from podEndpointsChanged
@example(actions=[("bare", (0, "10.244.0.250", True)), ("bare", (0, "10.244.0.251", True))], seed=0)
# labels and address changed together: fails when such a change queues only the Services left or joined
@example(actions=[("bare", (0, "10.244.0.250", False)), ("bare", (2, "10.244.0.251", False))], seed=0)
def test_without_node_events_the_queued_syncs_give_what_syncing_every_service_gives(
        actions: list[tuple[str, object]], seed: int) -> None:
    """While the Nodes stay as they are, the events cover every change a sync could see: after any run of
    scaling, waiting, rollouts, relabelled and deleted pods, trafficDistribution changes and a bare pod applied
    again with other labels, address or readiness, the slices of the queued syncs, over two Services (web, and
    api selecting tier=api), are those a sync of every Service writes."""
    w, rng = deployed(2, seed)
    w, web = W.expose(w, "default", "web", rng, port=80)
    api = replace(web, name="api", selector=(("tier", "api"),), cluster_ips=(), cluster_ip_unset=True)
    w = W.put_service(w, W.admit_service(w, api, rng))
    sync = W.controller_sync(w)
    for action in actions:
        w = _act(w, action, rng)
        sync = W.controller_sync(w, sync)
        assert sync.cluster == W.controller_sync(w).cluster


def _zones(sync: W.ControllerSync) -> set[str | None]:
    return {e.zone for s in sync.own for e in s.endpoints}


def test_a_slice_put_under_the_controllers_label_outside_a_script_queues_its_service_once() -> None:
    """Through the World's API, not script.play: onEndpointSliceAdd queues the Service of a slice of the
    controller's label that its tracker does not know a second later (endpointSliceChangeMinSyncDelay): a sync
    at the same instant leaves the slice (kube-proxy sees it) and the old zone; once the second has passed the
    sync deletes it and writes node2's new zone (which no Node event queued: the Service has no Auto hints);
    the next sync, the World still holding the slice it deleted, queues nothing again (the zone moved back stays
    unsynced)."""
    w, rng = deployed(2, 0)
    w, web = W.expose(w, "default", "web", rng, port=80)
    sync = W.controller_sync(w)
    w = replace(w, nodes=(w.nodes[0], replace(w.nodes[1], labels=(("topology.kubernetes.io/zone", "zone-c"),))))
    sync = W.controller_sync(w, sync)
    assert _zones(sync) == {"zone-a", "zone-b"}
    fake = _slice("web-fake", web.name, CONTROLLER_NAME, "10.9.9.9")
    w = W.put_slices(w, (fake,))
    sync = W.controller_sync(w, sync)
    assert _zones(sync) == {"zone-a", "zone-b"} and fake in sync.cluster.endpoint_slices and not sync.deleted
    w = W.advance(w, 1.0, rng)
    sync = W.controller_sync(w, sync)
    assert _zones(sync) == {"zone-a", "zone-c"}
    assert "default/web-fake" not in {s.key for s in sync.cluster.endpoint_slices} and sync.deleted == (fake,)
    w = replace(w, nodes=(w.nodes[0], replace(w.nodes[1], labels=(("topology.kubernetes.io/zone", "zone-b"),))))
    w = W.advance(w, 5.0, rng)
    assert _zones(W.controller_sync(w, sync)) == {"zone-a", "zone-c"}


def _step(line: int, text: str) -> Step:
    step = parse_line(line, text)
    assert step is not None
    return step


def test_a_played_steps_slice_events_are_the_steps_own_and_reach_the_sync_it_is_given_to() -> None:
    """A slice of the controller's label applied by a step stays in the World play leaves (the controller syncs
    its Service a second later, and deletes it then); the step's Played.slice_events name its Service, the next
    step's (which touches no slice) name none, and a sync given the first step's events, a second after them,
    rewrites the Service's slices though a play came between."""
    w, rng = deployed(2, 0)
    w, web = W.expose(w, "default", "web", rng, port=80)
    sync = W.controller_sync(w)
    w = replace(w, nodes=(w.nodes[0], replace(w.nodes[1], labels=(("topology.kubernetes.io/zone", "zone-c"),))))
    fake = _slice("web-fake", web.name, CONTROLLER_NAME, "10.9.9.9")
    first = play(w, _step(1, "apply -f slice.yaml"), rng, lambda _paths: Manifests(Cluster(endpoint_slices=(fake,))))
    assert first.slice_events == {"default/web"} and first.world.user_slices == (fake,)
    second = play(first.world, _step(2, "wait 1s"), rng, lambda _paths: Manifests(Cluster()))
    assert second.slice_events == frozenset()
    gone = replace(second.world, user_slices=())  # (the slice's own event queues it otherwise)
    assert _zones(W.controller_sync(gone, sync, second.slice_events)) == {"zone-a", "zone-b"}
    assert _zones(W.controller_sync(gone, sync, first.slice_events | second.slice_events)) == {"zone-a", "zone-b"}
    later = W.controller_sync(second.world, W.controller_sync(first.world, sync, first.slice_events))
    assert _zones(later) == {"zone-a", "zone-c"} and later.deleted == (fake,)


def test_the_retry_delays_are_the_rate_limiters_and_the_16th_failure_drops_the_key() -> None:
    """ItemExponentialFailureRateLimiter(1s, 1000s) under handleErr's maxRetries 15: a key failing at every sync
    is synced again 1, 2, 4, ... 512s after each failure, then 1000s (2**10 > 1000) five times; the failure at
    6023s is the 16th, NumRequeues 15: Forget, nothing waits."""
    policy, retries, times = Q.ENDPOINTSLICE_BACKOFF, Q.retried(Q.ENDPOINTSLICE_BACKOFF, (), 0.0, {"k"}, {"k"}), []
    while retries:
        (retry,) = retries
        assert retry.due is not None
        times.append(retry.due)
        retries = Q.retried(policy, retries, retry.due, (), {"k"})
    assert times == [1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2023, 3023, 4023, 5023, 6023]
    assert [Q.Backoff(1.0, 100.0, 15).delay(n) for n in (0, 6, 7, 20)] == [1, 64, 100, 100]  # a lower cap


def test_retries_due_within_a_step_are_all_taken_and_an_event_does_not_reset_the_count() -> None:
    """A long wait takes every retry due in it (the state after 100s of failing is the one after the retry at
    63s: 7 failures counted, the next at 127s); an event's sync that fails counts on from there (Add does not
    Forget), its re-add later than the waiting one, which is kept; a success forgets the count but not the
    waiting re-add (the delaying queue still holds it)."""
    policy = Q.ENDPOINTSLICE_BACKOFF
    first = Q.retried(policy, (), 0.0, {"k", "ok"}, {"k"})
    assert first == (Q.Retry("k", 1, 1.0),)
    assert Q.due_keys(first, 0.5) == set() and Q.due_keys(first, 1.0) == {"k"}
    later = Q.retried(policy, first, 100.0, (), {"k"})
    assert later == (Q.Retry("k", 7, 127.0),)
    assert Q.retried(policy, later, 110.0, {"k"}, {"k"}) == (Q.Retry("k", 8, 127.0),)
    assert Q.retried(policy, later, 110.0, {"k"}, ()) == (Q.Retry("k", 0, 127.0),)
    assert Q.retried(policy, later, 130.0, (), ()) == ()


def test_the_re_adds_before_an_instant_fire_without_it_and_one_due_at_it_is_left() -> None:
    """fired_before: the re-adds due before 5s fire (2s and 4s fail: 3 failures, next at 8s); one due at 5s is
    the sync at that instant, left to retried with the instant's own failing set; a success forgets the key."""
    policy = Q.ENDPOINTSLICE_BACKOFF
    first = (Q.Retry("k", 1, 2.0),)
    assert Q.due_before(first, 2.0) == set() and Q.due_before(first, 2.5) == {"k"}
    assert Q.fired_before(policy, first, 5.0, {"k"}) == (Q.Retry("k", 3, 8.0),)
    assert Q.fired_before(policy, first, 4.0, {"k"}) == (Q.Retry("k", 2, 4.0),)
    assert Q.fired_before(policy, first, 5.0, ()) == ()
    at_five = Q.fired_before(policy, first, 5.0, {"k"})
    assert Q.retried(policy, at_five, 5.0, {"k"}, {"k"}) == (Q.Retry("k", 4, 8.0),)  # 13s loses to 8s


def test_a_wait_records_the_pods_at_each_instant_it_stopped_at_before_its_end() -> None:
    """World.trail: advance's instants before its end, with the pods then; not compared with the World."""
    rng = random.Random(1)
    start = W.create_deployment(World(), W.new_deployment("default", "web", [IMAGE_V1], 1, 8080), rng)
    start = W.put_nodes(start, (Node("node1", pod_cidrs=("10.244.0.0/24",)),), frozenset(), rng)
    later = W.advance(start, 60.0, rng)
    assert later == replace(later, trail=()) and later.now == 60.0
    assert [(when, [p.at(when).ready for p in pods]) for when, pods in later.trail] == [(5.0, [True])]
    assert W.advance(later, 1.0, rng).trail == ()
