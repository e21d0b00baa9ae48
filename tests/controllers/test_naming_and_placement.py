"""Generated names (template hashes, pod suffixes), pod placement and pod addresses."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import netaddr
import pytest

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.model import Container, PodTemplate, SchedulingFailure
from kubeproxy_sim.controllers.naming import SAFE_ALPHABET, safe_encode, stable_suffix, template_hash
from kubeproxy_sim.controllers.scheduler import next_address, scheduling_failures
from kubeproxy_sim.objects.model import ContainerPort, NodeAddress, Pod, Protocol

from ._helpers import IMAGE_V1, IMAGE_V2, NODES, deployed, node, world


def _template(image: str) -> PodTemplate:
    return PodTemplate(labels=(("app", "web"),), containers=(Container("web", image),))


def test_template_hash_is_ten_safe_characters_and_depends_only_on_the_template() -> None:
    first = template_hash(_template(IMAGE_V1))
    assert len(first) == 10
    assert set(first) <= set(SAFE_ALPHABET)
    assert template_hash(_template(IMAGE_V1)) == first
    assert template_hash(_template(IMAGE_V2)) != first
    # The hash label itself does not change the hash (ReplicaSets carry it, Deployments do not).
    labelled = PodTemplate(labels=(("app", "web"), ("pod-template-hash", first)), containers=_template(IMAGE_V1)
                           .containers)
    assert template_hash(labelled) == first


def test_digits_map_into_the_alphabet_by_code_point() -> None:
    # '0' is code 48, 48 % 27 = 21 -> '4'; '6' is 54, 54 % 27 = 0 -> 'b'.
    assert safe_encode("0123456789") == "456789bcdf"


def test_stable_suffix_is_five_safe_characters() -> None:
    suffix = stable_suffix("default", "web", "IPv4")
    assert len(suffix) == 5 and set(suffix) <= set(SAFE_ALPHABET)
    assert stable_suffix("default", "web", "IPv4") == suffix


def test_names_are_deterministic_per_seed() -> None:
    names = lambda seed: sorted(p.name for p in deployed(3, seed)[0].pods)  # noqa: E731
    assert names(7) == names(7)
    assert names(7) != names(8)
    w, _ = deployed(3, 7)
    (rs,) = w.replica_sets
    assert rs.name == f"web-{rs.template_hash}"
    for pod in w.pods:
        prefix, suffix = pod.name.rsplit("-", 1)
        assert prefix == rs.name and len(suffix) == 5 and set(suffix) <= set(SAFE_ALPHABET)
        assert dict(pod.labels) == {"app": "web", "pod-template-hash": rs.template_hash}


def test_pods_spread_over_nodes_fewest_first_then_by_name() -> None:
    w, _ = deployed(5)
    by_node = sorted(p.node_name for p in w.pods)
    assert by_node == ["node1", "node1", "node1", "node2", "node2"]


def test_not_ready_nodes_and_nodes_without_pod_cidr_get_no_pods() -> None:
    nodes = (*NODES, node("node0", "10.244.2.0/24", "192.168.49.4", "zone-c"),
             dataclasses.replace(node("node00", "10.244.3.0/24", "192.168.49.5", "zone-c"), pod_cidrs=()))
    rng = random.Random(0)
    w = world(nodes, not_ready_nodes=frozenset({"node0"}))
    w = W.create_deployment(w, W.new_deployment("default", "web", [IMAGE_V1], 4, None), rng)
    assert {p.node_name for p in w.pods} == {"node1", "node2"}


def test_pods_without_a_node_wait_and_are_placed_when_one_is_ready() -> None:
    rng = random.Random(0)
    w = world(nodes=(), )
    w = W.create_deployment(w, W.new_deployment("default", "web", [IMAGE_V1], 2, None), rng)
    assert [p.node_name for p in w.pods] == [None, None]
    assert all(not p.pod_ips for p in w.pods)
    w = W.put_nodes(w, NODES, frozenset(), rng)
    assert sorted(p.node_name for p in w.pods) == ["node1", "node2"]
    assert W.wait_for_rollout(w, "default", "web", rng).done


def test_addresses_skip_network_and_gateway_and_go_round_robin() -> None:
    w, rng = deployed(4)
    ips = sorted((p.node_name, p.pod_ips[0]) for p in w.pods)
    assert ips == [("node1", "10.244.0.2"), ("node1", "10.244.0.3"), ("node2", "10.244.1.2"), ("node2", "10.244.1.3")]
    # After a scale-down and the grace period, new pods get the next addresses, not the freed ones.
    w = W.scale(w, "default", "web", 2, rng)
    w = W.advance(w, 60, rng)
    w = W.scale(w, "default", "web", 4, rng)
    new = sorted(ip for p in w.pods for ip in p.pod_ips)
    assert "10.244.0.4" in new and "10.244.1.4" in new


def test_next_address_wraps_and_skips_broadcast_and_used() -> None:
    assert next_address("10.0.0.0/29", None, frozenset()) == "10.0.0.2"
    assert next_address("10.0.0.0/29", "10.0.0.6", frozenset()) == "10.0.0.2"  # .7 is broadcast
    assert next_address("10.0.0.0/29", "10.0.0.3", frozenset({"10.0.0.4"})) == "10.0.0.5"
    full = frozenset(str(ip) for ip in netaddr.IPNetwork("10.0.0.0/29")[2:7])
    assert next_address("10.0.0.0/29", None, full) is None
    assert next_address("fd00::/120", None, frozenset()) == "fd00::2"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_addresses_are_unique_across_a_busy_history(seed: int) -> None:
    w, rng = deployed(6, seed)
    for replicas in (10, 3, 8, 1, 6):
        w = W.scale(w, "default", "web", replicas, rng)
        w = W.advance(w, 7, rng)
        live = [ip for p in w.pods for ip in p.pod_ips]
        assert len(live) == len(set(live))


def test_scale_down_counts_a_node_s_pods_of_every_revision_as_upstream_does() -> None:
    """The set drops the pod on the node most crowded with its Deployment's pods, old revisions included."""
    from kubeproxy_sim.controllers.model import SimPod
    from kubeproxy_sim.controllers.replicaset import deletion_order

    def pod(name: str, owner: str, node_name: str, serial: int, created: float = 0.0) -> SimPod:
        return SimPod("default", name, (), owner, (), (), created=created, serial=serial, node_name=node_name,
                      pod_ips=(f"10.0.0.{serial}",), ready_at=created + 5)

    new = (pod("new-a", "web-new", "node1", 1), pod("new-b", "web-new", "node2", 0))
    old = (pod("old-a", "web-old", "node1", 2), pod("old-b", "web-old", "node1", 3))
    w = world(now=100.0)
    # alone: a tie on crowding and on every time, which upstream breaks by UID
    assert deletion_order(w, new)[0] == min(new, key=lambda p: p.uid)
    assert deletion_order(w, new, new + old)[0].name == "new-a"
    # ready 5 s and 95 s ago: log2 ranks 32 and 36 of nanoseconds
    younger_on_node2 = (pod("new-a", "web-new", "node1", 0), pod("new-b", "web-new", "node2", 1, created=90.0))
    assert deletion_order(w, younger_on_node2)[0].name == "new-b"
    assert deletion_order(w, younger_on_node2, younger_on_node2 + old)[0].name == "new-a"  # node1 is crowded


def test_scale_down_deletes_a_pending_pod_before_a_running_one_not_ready() -> None:
    """ActivePodsWithRanks ranks phase (Pending before Running) ahead of readiness and crowding: a pod still
    starting goes before one running but marked not ready (its node silent), though that one is younger and on
    the more crowded node."""
    from kubeproxy_sim.controllers.model import SimPod
    from kubeproxy_sim.controllers.replicaset import deletion_order

    w = world(now=100.0)
    starting = SimPod("default", "starting", (), "web-a", (), (), created=98.0, serial=0, node_name="node2",
                      pod_ips=("10.244.1.2",), ready_at=103.0)
    marked = SimPod("default", "marked", (), "web-a", (), (), created=0.0, serial=2, node_name="node1",
                    pod_ips=("10.244.0.2",), ready_at=5.0, marked_not_ready=True)
    crowd = SimPod("default", "crowd", (), "web-a", (), (), created=0.0, serial=1, node_name="node1",
                   pod_ips=("10.244.0.3",), ready_at=5.0)
    assert [p.name for p in deletion_order(w, (marked, starting, crowd))] == ["starting", "marked", "crowd"]


SMALL = (node("node1", "10.244.0.0/28", "192.168.49.2", "zone-a"), NODES[1])  # node1: 13 usable addresses


def test_a_full_pod_cidr_leaves_pods_containercreating_and_the_other_node_s_pods_run() -> None:
    """The scheduler, like kube-scheduler, does not know pod CIDRs: it goes on spreading, the pods bound to the
    full node get no address (the CNI's sandbox fails) and never become ready, and node2's pods all run."""
    from kubeproxy_sim.controllers.scheduler import sandbox_failures

    rng = random.Random(0)
    w = W.create_deployment(world(SMALL), W.new_deployment("default", "web", [IMAGE_V1], 40, 8080), rng)
    w = W.advance(w, 30, rng)
    assert sorted(p.node_name for p in w.pods) == ["node1"] * 20 + ["node2"] * 20
    addressed = sorted(p.node_name for p in w.pods if p.pod_ips)
    assert addressed == ["node1"] * 13 + ["node2"] * 20
    assert all(p.ready(w.now) == bool(p.pod_ips) for p in w.pods)
    waiting = [p.key for p in w.pods if not p.pod_ips]
    [failure] = sandbox_failures(w)
    assert failure.node == "node1" and list(failure.pods) == waiting and len(waiting) == 7
    assert failure.message == ("failed to allocate for range 0: no IP addresses available in range set: "
                               "10.244.0.1-10.244.0.14")
    live = [ip for p in w.pods for ip in p.pod_ips]
    assert len(live) == len(set(live))
    # Scaling down deletes the pods that never started first; a freed address then goes to a waiting pod.
    w = W.advance(W.scale(w, "default", "web", 33, rng), 1, rng)
    assert all(p.pod_ips for p in w.pods if not p.terminating) and sandbox_failures(w) == []
    w = W.advance(W.scale(w, "default", "web", 40, rng), 1, rng)
    assert len(sandbox_failures(w)[0].pods) == 7
    doomed = next(p.name for p in w.pods if p.node_name == "node1" and p.pod_ips)
    w = W.advance(W.delete_pods(w, "default", [doomed], rng), 60, rng)  # its 30 s grace, then the address is free
    assert sum(1 for p in w.pods if p.node_name == "node1" and p.pod_ips and not p.terminating) == 13
    assert len(sandbox_failures(w)[0].pods) == 7  # the set's replacement took one, a waiting pod the other


THREE = (*NODES, node("node3", "10.244.2.0/24", "192.168.49.4", "zone-c"))


def test_a_node_at_its_pod_limit_takes_no_more_and_the_rest_stay_pending() -> None:
    """kube-scheduler's NodeResourcesFit refuses a node holding status.allocatable.pods pods: 3 nodes of 2 pods
    each run 6 of 8 replicas, the other 2 stay Pending (unbound, no address, never ready) until room is made."""
    rng = random.Random(0)
    w = world(THREE, node_max_pods=(("node1", 2), ("node2", 2), ("node3", 2)))
    w = W.advance(W.create_deployment(w, W.new_deployment("default", "web", [IMAGE_V1], 8, 8080), rng), 30, rng)
    assert sorted(p.node_name or "" for p in w.pods) == ["", "", "node1", "node1", "node2", "node2", "node3", "node3"]
    assert sorted(p.at(w.now).phase for p in w.pods) == ["Pending"] * 2 + ["Running"] * 6
    assert all(not p.pod_ips and not p.ready(w.now) for p in w.pods if p.node_name is None)
    # A node with room (a fourth, of the default 110) takes the waiting pods at once.
    w = W.put_nodes(w, (node("node4", "10.244.3.0/24", "192.168.49.5", "zone-c"),), frozenset(), rng)
    assert sorted(p.node_name for p in w.pods if p.node_name in ("node4", None)) == ["node4", "node4"]


def scheduling_failure(w: W.World) -> SchedulingFailure | None:
    """The one group of pods no node takes (all ask the same of a node), or None."""
    failures = scheduling_failures(w)
    assert len(failures) <= 1
    return failures[0] if failures else None


def test_pods_no_node_takes_get_kube_scheduler_s_failed_scheduling_message() -> None:
    """FitError's words: each Node counted by why it failed (a full Node: NodeResourcesFit's "Too many pods", and
    no preemption victim, as every pod has the same priority; a NotReady Node: the not-ready taint, where
    preemption is not helpful), sorted as text; no Node at all: ErrNoNodesAvailable; no pod waiting: none."""
    rng = random.Random(0)
    limits = (("node1", 2), ("node2", 2), ("node3", 2))
    d = W.new_deployment("default", "web", [IMAGE_V1], 8, 8080)
    w = W.advance(W.create_deployment(world(THREE, node_max_pods=limits), d, rng), 30, rng)
    failure = scheduling_failure(w)
    assert failure is not None
    assert failure.pods == tuple(p.key for p in w.pods if p.node_name is None) and len(failure.pods) == 2
    assert failure.message == ("0/3 nodes are available: 3 Too many pods. preemption: 0/3 nodes are available: "
                               "3 No preemption victims found for incoming pod.")
    w = W.create_deployment(world(THREE, node_max_pods=limits, not_ready_nodes=frozenset({"node3"})), d, rng)
    failure = scheduling_failure(w)
    assert failure is not None and len(failure.pods) == 4
    assert failure.message == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                               "{node.kubernetes.io/not-ready: }, 2 Too many pods. preemption: 0/3 nodes are "
                               "available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
                               "found for incoming pod.")
    failure = scheduling_failure(W.create_deployment(world(()), d, rng))
    assert failure is not None and failure.message == "no nodes available to schedule pods"
    assert scheduling_failure(W.scale(w, "default", "web", 4, rng)) is None


FULL = ("0/2 nodes are available: 2 Too many pods. preemption: 0/2 nodes are available: 2 No preemption victims "
        "found for incoming pod.")


def test_a_pod_that_waits_only_in_the_middle_of_a_rollout_is_logged_as_kube_scheduler_s_event() -> None:
    """The scheduler's failures are logged whenever the controllers come to rest, not only at the end of an
    action: a rollout on full nodes makes a surge pod at each step of it that waits until an old pod is gone, and
    each is logged once, though none waits when the rollout is done; a pod still waiting is not logged again."""

    def still_waiting(w: W.World) -> set[str]:
        return {pod for pod, _ in w.unschedulable}
    from kubeproxy_sim.controllers.scheduler import take_log

    rng = random.Random(0)
    w = world(node_max_pods=(("node1", 2), ("node2", 2)))
    w = W.advance(W.create_deployment(w, W.new_deployment("default", "web", [IMAGE_V1], 4, 8080), rng), 10, rng)
    w, log = take_log(w)
    assert log == ()
    w, log = take_log(W.set_image(w, "default", "web", {"*": IMAGE_V2}, rng))
    surge = {p for f in log for p in f.pods}
    assert len(surge) == 2 and still_waiting(w) == surge and {f.message for f in log} == {FULL}
    w, log = take_log(W.advance(w, 1, rng))
    assert log == () and still_waiting(w) == surge  # still waiting, for the same reason: nothing new
    waited = W.wait_for_rollout(w, "default", "web", rng)
    assert waited.done
    w, log = take_log(waited.world)
    later = [p for f in log for p in f.pods]
    assert len(later) == 2 and not set(later) & surge and {f.message for f in log} == {FULL}
    assert still_waiting(w) == set() and all(p.node_name for p in w.pods)


def test_a_node_whose_ready_condition_is_unknown_counts_by_the_unreachable_taint() -> None:
    """The node lifecycle controller taints a Node node.kubernetes.io/not-ready for Ready False and
    node.kubernetes.io/unreachable for Unknown (nodeConditionToTaintKeyStatusMap); FitError names each."""
    rng = random.Random(0)
    w = world(THREE, node_max_pods=(("node1", 0),), not_ready_nodes=frozenset({"node2", "node3"}),
              unreachable_nodes=frozenset({"node3"}))
    w = W.create_deployment(w, W.new_deployment("default", "web", [IMAGE_V1], 1, 8080), rng)
    failure = scheduling_failure(w)
    assert failure is not None and failure.message == (
        "0/3 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: "
        "}, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are "
        "available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")
    # node3 reports Ready again: it is taken off both sets, and takes the pod
    w = W.put_nodes(w, (THREE[2],), frozenset(), rng)
    assert w.unreachable_nodes == frozenset() and [p.node_name for p in w.pods] == ["node3"]


def _host_pod(name: str, port: int, protocol: Protocol = Protocol.TCP) -> Pod:
    return Pod("default", name, host_network=True, labels=(("app", "agent"),),
               ports=(ContainerPort(None, port, protocol),))


def test_host_network_pods_without_a_node_are_scheduled_apart_on_their_host_ports() -> None:
    """kube-scheduler takes a host-network pod with an empty spec.nodeName like any other; its container ports
    are its host ports, and NodePorts keeps two that share one (same protocol) off one Node. Bound, it has its
    node's host IPs as its addresses and starts; a third asking the same port waits with NodePorts' words, and
    one asking another port, or the same number over UDP, still fits."""
    rng = random.Random(0)
    dual = dataclasses.replace(NODES[1], addresses=(*NODES[1].addresses, NodeAddress("InternalIP", "fd00::3")))
    w = world((NODES[0], dual))
    pods = [_host_pod(name, 9100) for name in ("a", "b", "c")]
    w, _ = W.add_pods(w, [*pods, _host_pod("d", 9200), _host_pod("e", 9100, Protocol.UDP)], rng)
    w = W.advance(w, 10, rng)
    placed = {p.name: (p.node_name, p.pod_ips, p.ready(w.now)) for p in w.pods}
    assert placed == {"a": ("node1", ("192.168.49.2",), True), "b": ("node2", ("192.168.49.3", "fd00::3"), True),
                      "c": (None, (), False), "d": ("node1", ("192.168.49.2",), True),
                      "e": ("node2", ("192.168.49.3", "fd00::3"), True)}
    failure = scheduling_failure(w)
    assert failure is not None and failure.pods == ("default/c",)
    assert failure.message == ("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod "
                               "ports. preemption: 0/2 nodes are available: 2 No preemption victims found for "
                               "incoming pod.")
    w = W.advance(W.delete_pods(w, "default", ["a"], rng), 60, rng)  # its grace period over, its port is free
    assert [(p.name, p.node_name) for p in w.pods if p.name == "c"] == [("c", "node1")]
    assert scheduling_failure(w) is None


def test_pods_applied_together_are_scheduled_as_if_one_by_one() -> None:
    """One manifest's pods share the scheduler's state: a pod applied bound (with its address) counts on its node
    for the pods after it, and those scheduled spread as they would one at a time; a name given twice is the
    last one's."""
    rng = random.Random(0)
    w = world(THREE, node_max_pods=(("node1", 1), ("node2", 2), ("node3", 2)))
    bound = Pod("default", "bound", node_name="node1", pod_ips=("10.244.0.9",), ready=True)
    fresh = [Pod("default", f"p{i}") for i in range(4)]
    w = W.advance(W.add_pods(w, [bound, *fresh, dataclasses.replace(fresh[3], labels=(("v", "2"),))], rng)[0], 10,
                  rng)
    assert [(p.name, p.node_name) for p in w.pods] == [("bound", "node1"), ("p0", "node2"), ("p1", "node3"),
                                                       ("p2", "node2"), ("p3", "node3")]
    assert dict(w.pods[-1].labels) == {"v": "2"} and all(p.ready(w.now) for p in w.pods)
    assert len({ip for p in w.pods for ip in p.pod_ips}) == 5


def test_the_default_pod_limit_is_the_kubelet_s_110() -> None:
    rng = random.Random(0)
    w = W.create_deployment(world(), W.new_deployment("default", "web", [IMAGE_V1], 230, 8080), rng)
    assert sorted(Counter(p.node_name for p in w.pods).items(), key=str) == [
        ("node1", 110), ("node2", 110), (None, 10)]


def test_five_thousand_replicas_complete() -> None:
    """A burst far beyond every node's range: each pod costs O(1) (no pass over all pods or a full range per pod),
    so this finishes in about a second rather than minutes; the addresses stay unique."""
    from kubeproxy_sim.controllers.scheduler import sandbox_failures

    rng = random.Random(0)
    w = world(node_max_pods=(("node1", 5000), ("node2", 5000)))
    w = W.create_deployment(w, W.new_deployment("default", "web", [IMAGE_V1], 5000, 8080), rng)
    w = W.advance(w, 10, rng)
    assert len(w.pods) == 5000
    live = [ip for p in w.pods for ip in p.pod_ips]
    assert len(live) == len(set(live)) == 2 * 253
    assert sum(p.ready(w.now) for p in w.pods) == 506
    assert [(f.node, len(f.pods)) for f in sandbox_failures(w)] == [("node1", 2247), ("node2", 2247)]


def test_a_pod_applied_with_an_address_but_no_node_is_scheduled_like_any_other() -> None:
    """kube-scheduler takes every pod whose spec.nodeName is empty, whatever its status says: one applied with
    an address waits (named in FailedScheduling) while every Node is full, and is bound, its address kept, once
    one has room."""
    from kubeproxy_sim.objects.model import Pod

    rng = random.Random(0)
    full = world(THREE, node_max_pods=(("node1", 0), ("node2", 0), ("node3", 0)))
    w, _ = W.add_pods(full, [Pod("default", "bare", pod_ips=("10.244.9.9",))], rng)
    (pod,) = w.pods
    assert pod.node_name is None and pod.pod_ips == ("10.244.9.9",)
    failure = scheduling_failure(w)
    assert failure is not None and failure.pods == ("default/bare",)
    w = W.put_nodes(w, (node("node4", "10.244.3.0/24", "192.168.49.5", "zone-c"),), frozenset(), rng)
    (pod,) = w.pods
    assert (pod.node_name, pod.pod_ips, pod.ready(w.now)) == ("node4", ("10.244.9.9",), True)
    assert scheduling_failure(w) is None


def test_a_host_network_pod_applied_bound_without_a_status_takes_its_node_s_host_ips() -> None:
    """The kubelet reports a host-network pod's status.podIPs as its node's host IPs (the first IP, and one of the
    other family on a dual-stack node): a Pod applied with spec.nodeName and no status starts there with them,
    counts on that node for the pods after it, and one bound to a Node applied later takes that Node's once it
    is there (it had no address, so no endpoint, before)."""
    rng = random.Random(0)
    dual = dataclasses.replace(NODES[1], addresses=(*NODES[1].addresses, NodeAddress("InternalIP", "fd00::3")))
    w = world((NODES[0], dual), node_max_pods=(("node2", 1),))
    bound = dataclasses.replace(_host_pod("agent-bound", 9100), node_name="node2")
    late = dataclasses.replace(_host_pod("agent-late", 9100), node_name="node3")
    w = W.advance(W.add_pods(w, [bound, late, Pod("default", "plain")], rng)[0], 10, rng)
    placed = {p.name: (p.node_name, p.pod_ips, p.ready(w.now)) for p in w.pods}
    assert placed["agent-bound"] == ("node2", ("192.168.49.3", "fd00::3"), True)
    assert placed["agent-late"] == ("node3", (), False)
    assert placed["plain"][0] == "node1"  # node2 is at its limit of one pod: agent-bound holds it
    w = W.advance(W.put_nodes(w, (THREE[2],), frozenset(), rng), 10, rng)
    assert [(p.pod_ips, p.ready(w.now)) for p in w.pods if p.name == "agent-late"] == [(("192.168.49.4",), True)]


def test_a_pod_applied_bound_without_an_address_keeps_its_node() -> None:
    """kube-scheduler takes only pods whose spec.nodeName is empty: one applied bound to node2 with no status
    stays on node2 (it was scheduled to the emptier node1) and takes an address of node2's range there; one bound
    to a Node not applied is said to wait for it, not rescheduled."""
    from kubeproxy_sim.controllers.scheduler import sandbox_failures

    rng = random.Random(0)
    w = W.advance(W.add_pods(world(), [Pod("default", "pinned", node_name="node2"),
                                       Pod("default", "lost", node_name="node9")], rng)[0], 10, rng)
    placed = {p.name: (p.node_name, p.pod_ips, p.ready(w.now)) for p in w.pods}
    assert placed["pinned"][0] == "node2" and placed["pinned"][2]
    assert netaddr.IPAddress(placed["pinned"][1][0]) in netaddr.IPNetwork("10.244.1.0/24")
    assert placed["lost"] == ("node9", (), False)
    assert [(f.node, f.pods, f.message) for f in sandbox_failures(w)] == [
        ("node9", ("default/lost",), "no Node of this name is applied (a pod applied with spec.nodeName waits for "
                                     "that node)")]


def test_a_deployment_template_s_host_network_reaches_its_pods() -> None:
    """spec.template.spec.hostNetwork was never read, so a DaemonSet-like Deployment's replicas got pod IPs and
    shared nodes freely: its pods take their node's host IPs, NodePorts keeps two off one node (the third waits),
    and the setting is part of the template (its hash)."""
    from kubeproxy_sim.controllers.decode import decode_deployment
    from kubeproxy_sim.controllers.naming import template_hash

    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "agent"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "agent"}},
                    "template": {"metadata": {"labels": {"app": "agent"}},
                                 "spec": {"hostNetwork": True, "containers": [
                                     {"name": "agent", "image": "agent", "ports": [{"containerPort": 9100}]}]}}}}
    d, found = decode_deployment(doc, "agent.yaml")
    assert d is not None and not found and d.template.host_network
    assert template_hash(d.template) != template_hash(dataclasses.replace(d.template, host_network=False))
    rng = random.Random(0)
    w = W.advance(W.apply_deployment(world(), d, rng), 10, rng)
    assert sorted((p.node_name, p.pod_ips, p.ready(w.now)) for p in w.pods if p.node_name) == [
        ("node1", ("192.168.49.2",), True), ("node2", ("192.168.49.3",), True)]
    failure = scheduling_failure(w)
    assert failure is not None and len(failure.pods) == 1 and "didn't have free ports" in failure.message
    doc["spec"]["template"]["spec"]["hostNetwork"] = "yes"  # type: ignore[index]
    assert [(f.field, f.message) for f in decode_deployment(doc, "agent.yaml")[1]] == [
        ("spec.template.spec.hostNetwork", 'expected true or false, got a string "yes"')]


def test_a_pod_written_twice_is_placed_once_and_a_replaced_pod_frees_its_place() -> None:
    """Only the last copy of a name in one apply is scheduled: the first used to be placed too (taking node1's
    one pod slot and an address) and dropped, pushing the copy kept and the pods after it elsewhere; and a pod
    applied again (changed) no longer counts its old self on the node it held."""
    rng = random.Random(0)
    w = world(node_max_pods=(("node1", 1), ("node2", 1)))
    w, _ = W.add_pods(w, [Pod("default", "a"), Pod("default", "a", labels=(("v", "2"),)), Pod("default", "b")],
                      rng)
    assert [(p.name, p.node_name, p.pod_ips, p.labels) for p in w.pods] == [
        ("a", "node1", ("10.244.0.2",), (("v", "2"),)), ("b", "node2", ("10.244.1.2",), ())]
    w, _ = W.add_pods(w, [Pod("default", "a", labels=(("v", "3"),))], rng)
    assert [(p.name, p.node_name) for p in w.pods] == [("b", "node2"), ("a", "node1")]


def test_tolerations_are_part_of_the_template_hash_and_a_template_without_them_hashes_as_before() -> None:
    """Upstream's ComputeHash hashes the whole PodTemplateSpec, tolerations included: two templates differing
    only in them were two revisions under one hash. Every field of a toleration and their order count; a
    template without tolerations keeps its hash (pinned here; the goldens pin it too)."""
    from kubeproxy_sim.controllers.model import Toleration

    plain = _template(IMAGE_V1)
    assert template_hash(plain) == "77d9d89b74"  # its hash before tolerations were hashed
    dedicated = Toleration(key="dedicated", operator="Exists", effect="NoSchedule")
    forever = Toleration(key="node.kubernetes.io/unreachable", operator="Exists", effect="NoExecute")
    variants = [(dedicated,), (forever,), (dedicated, forever), (forever, dedicated),
                (dataclasses.replace(forever, seconds=0),), (dataclasses.replace(forever, seconds=60),),
                (dataclasses.replace(dedicated, operator=""),), (dataclasses.replace(dedicated, operator="Equal"),),
                (dataclasses.replace(dedicated, operator="Equal", value="db"),)]
    hashes = [template_hash(plain), *(template_hash(dataclasses.replace(plain, tolerations=t)) for t in variants)]
    assert len(set(hashes)) == len(hashes)
