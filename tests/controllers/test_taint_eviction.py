"""The taint eviction controller: pods leave a Node tainted NoExecute (Ready False or Unknown) once their
tolerations run out, 300 s by the DefaultTolerationSeconds admission plugin unless the pod says otherwise.

Upstream: plugin/pkg/admission/defaulttolerationseconds, pkg/controller/tainteviction (processPodOnNode).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.decode import read_tolerations
from kubeproxy_sim.controllers.model import (
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    LastApplied,
    Toleration,
    World,
    admitted_tolerations,
    only_added_tolerations,
)
from kubeproxy_sim.controllers.script import Manifests, Played, Step, play
from kubeproxy_sim.controllers.tainteviction import toleration_time
from kubeproxy_sim.objects.model import Cluster, Pod
from kubeproxy_sim.objects.report import Report

from ._helpers import IMAGE_V1, deployed, run_cli, world
from .test_node_lifecycle import NODE2, SMALL_NODES, _status

DEFAULTS = (Toleration(NOT_READY_TAINT, "Exists", "", "NoExecute", 300),
            Toleration(UNREACHABLE_TAINT, "Exists", "", "NoExecute", 300))
FOREVER = Toleration(UNREACHABLE_TAINT, "Exists", "", "NoExecute", None)


def _deployed(replicas: int, *tolerations: Toleration) -> tuple[World, random.Random]:
    """'web' rolled out over node1 and node2, its template tolerating ``tolerations``."""
    template = W.new_deployment("default", "web", [IMAGE_V1], replicas, 8080).template
    return deployed(replicas, template=replace(template, tolerations=tolerations))


def _where(w: World) -> tuple[list[str], list[str]]:
    """(nodes of the active pods, names of the terminating ones), sorted."""
    active = sorted(str(p.node_name) for p in w.pods if not p.terminating)
    return active, sorted(p.name for p in w.pods if p.terminating)


def test_every_pod_gets_the_default_tolerations_unless_it_covers_the_taint_itself() -> None:
    """DefaultTolerationSeconds adds 300 s for each taint no toleration of the pod names (by key, or none, and
    effect NoExecute, or none), whatever that toleration's operator and value."""
    assert admitted_tolerations(()) == DEFAULTS
    assert admitted_tolerations((FOREVER,)) == (FOREVER, DEFAULTS[0])
    everything = Toleration("", "Exists")
    assert admitted_tolerations((everything,)) == (everything,)
    no_schedule = Toleration(UNREACHABLE_TAINT, "Exists", "", "NoSchedule")
    assert admitted_tolerations((no_schedule,)) == (no_schedule, *DEFAULTS)
    w, _ = deployed(2)
    assert all(p.tolerations == DEFAULTS for p in w.pods)


def test_toleration_time_takes_the_first_matching_toleration() -> None:
    """GetMatchingTolerations' first match decides; none matching is 0 (at once), no seconds is forever, and
    seconds of 0 or less are 0."""
    assert toleration_time(DEFAULTS, UNREACHABLE_TAINT) == 300
    assert toleration_time((FOREVER, *DEFAULTS), UNREACHABLE_TAINT) == float("inf")
    assert toleration_time((FOREVER,), NOT_READY_TAINT) == 0
    assert toleration_time((Toleration(NOT_READY_TAINT, "Equal", "x", "NoExecute", 60),), NOT_READY_TAINT) == 0
    assert toleration_time((Toleration(NOT_READY_TAINT, "Exists", "", "NoExecute", -5),), NOT_READY_TAINT) == 0


def test_pods_of_an_unknown_node_are_evicted_300_s_after_the_taint_and_replaced_on_the_ready_node() -> None:
    """node2 Unknown at t: at t+299 s its 2 pods are still there; at t+300 s they are terminating (and stay so:
    no kubelet there stops them), their ReplicaSet has made 2 more, which the scheduler put on node1."""
    w, rng = deployed(4)
    on2 = sorted(p.name for p in w.pods if p.node_name == "node2")
    down = _status(w, "Unknown", rng)
    before = W.advance(down, 299, rng)
    assert _where(before) == (["node1", "node1", "node2", "node2"], [])
    after = W.advance(before, 1, rng)
    assert after.now == down.now + 300 and _where(after) == (["node1"] * 4, on2)
    later = W.advance(after, 3600, rng)
    assert _where(later) == (["node1"] * 4, on2) and all(p.ready(later.now) for p in later.pods if not p.terminating)
    back = W.advance(_status(later, "True", rng), 30, rng)  # its kubelet stops them within their grace period
    assert _where(back) == (["node1"] * 4, [])


def test_a_not_ready_node_evicts_too_and_its_live_kubelet_stops_the_pods() -> None:
    """Ready False: the not-ready taint, the same 300 s; the kubelet there is alive, so the pods are gone after
    their 30 s grace period."""
    w, rng = deployed(4)
    down = W.advance(_status(w, "False", rng), 300, rng)
    assert len(_where(down)[1]) == 2
    assert _where(W.advance(down, 30, rng)) == (["node1"] * 4, [])


def test_a_node_ready_again_before_300_s_cancels_the_eviction_and_a_later_taint_starts_anew() -> None:
    w, rng = deployed(4)
    w = W.advance(_status(w, "Unknown", rng), 200, rng)
    w = W.advance(_status(w, "True", rng), 200, rng)
    assert _where(w) == (["node1", "node1", "node2", "node2"], [])
    w = W.advance(_status(w, "Unknown", rng), 299, rng)
    assert _where(w)[1] == []
    assert len(_where(W.advance(w, 1, rng))[1]) == 2


def test_a_swap_of_the_taint_keeps_the_clock() -> None:
    """Unknown, then False 200 s later: the deletion the controller scheduled stands (300 s from the first)."""
    w, rng = deployed(4)
    w = W.advance(_status(w, "Unknown", rng), 200, rng)
    w = W.advance(_status(w, "False", rng), 99, rng)
    assert _where(w)[1] == []
    assert len(_where(W.advance(w, 1, rng))[1]) == 2


@pytest.mark.parametrize(("own", "gone_after"), [(Toleration(NOT_READY_TAINT, "Exists", "", "NoExecute", 0), 300),
                                                 (Toleration(NOT_READY_TAINT, "Equal", "x", "NoExecute"), 100)])
def test_a_swap_to_a_taint_tolerated_for_0_s_keeps_the_scheduled_time_and_one_not_tolerated_deletes_at_once(
        own: Toleration, gone_after: int) -> None:
    """processPodOnNode keeps a scheduled deletion when the new taint is tolerated, however briefly (0 s: its
    trigger would be now, not before the scheduled one), and deletes at once only when it is not tolerated:
    unreachable 300 s (the default), not-ready tolerated 0 s or not matched; Unknown, then False at 100 s."""
    w, rng = _deployed(4, own)
    w = W.advance(_status(w, "Unknown", rng), 100, rng)
    w = _status(w, "False", rng)
    if gone_after > 100:
        assert _where(W.advance(w, gone_after - 101, rng))[1] == []
    assert len(_where(W.advance(w, gone_after - 100, rng))[1]) == 2


NOT_READY_FOREVER = Toleration(NOT_READY_TAINT, "Exists", "", "NoExecute", None)


@pytest.mark.parametrize(("own", "first", "then", "gone_at"), [
    # a deletion scheduled under the first taint stands, however long the new one is tolerated
    (Toleration(NOT_READY_TAINT, "Exists", "", "NoExecute", 1000), "Unknown", "False", 300),
    # the new taint tolerated forever cancels it
    (NOT_READY_FOREVER, "Unknown", "False", None),
    (FOREVER, "False", "Unknown", None),
    # none was scheduled (the first taint tolerated forever): the new one's clock starts at the swap
    (FOREVER, "Unknown", "False", 100 + 300),
    (NOT_READY_FOREVER, "False", "Unknown", 100 + 300),
])
def test_a_swap_of_the_taint_is_judged_as_upstream_sees_it_through_both_taints(
        own: Toleration, first: str, then: str, gone_at: int | None) -> None:
    """The node lifecycle controller swaps its taints with SwapNodeControllerTaint: the new taint added in one
    update, the old removed in the next, so the taint eviction controller sees the Node with both, then with the
    new one, and runs processPodOnNode at each. With both, a scheduled deletion whose CreatedAt is in the past
    stands (its CreatedAt + the least toleration is before now + it), a toleration forever of both keeps none,
    and with none scheduled the least of the two starts one now; with the new taint alone, forever cancels, and
    a deletion scheduled stands (pkg/controller/tainteviction/taint_eviction.go at the reference commit's
    release, before the taintSet rework). ``first`` at 0 s, ``then`` at 100 s; ``gone_at``: when node2's pod is
    deleted (None: never)."""
    w, rng = _deployed(2, own)
    start = w.now
    (on2,) = [p.name for p in w.pods if p.node_name == "node2"]
    w = W.advance(_status(w, first, rng), 100, rng)
    w = _status(w, then, rng)
    if gone_at is None:
        kept = W.advance(w, 100_000, rng).pod("default", on2)
        assert kept is not None and not kept.terminating
        return
    assert _where(W.advance(w, gone_at - 101, rng))[1] == []
    after = W.advance(w, gone_at - 100, rng)
    assert after.now == start + gone_at and len(_where(after)[1]) == 1


def test_a_pod_tolerating_the_taint_without_seconds_is_never_evicted() -> None:
    w, rng = _deployed(4, FOREVER)
    w = W.advance(_status(w, "Unknown", rng), 100_000, rng)
    assert _where(w) == (["node1", "node1", "node2", "node2"], [])
    # the same pods on a not-ready node have the default for that taint
    assert len(_where(W.advance(_status(w, "False", rng), 300, rng))[1]) == 2


@pytest.mark.parametrize(("toleration", "after"), [
    (Toleration(UNREACHABLE_TAINT, "Exists", "", "NoExecute", 60), 60),
    (Toleration(UNREACHABLE_TAINT, "Exists", "", "NoExecute", 0), 0),
    # covered for the admission plugin (key and effect), tolerating nothing (the taint has no value): at once
    (Toleration(UNREACHABLE_TAINT, "Equal", "x", "NoExecute", 600), 0),
])
def test_a_pods_own_toleration_seconds_decide(toleration: Toleration, after: int) -> None:
    w, rng = _deployed(2, toleration)
    down = _status(w, "Unknown", rng)
    if after:
        assert _where(W.advance(down, after - 1, rng))[1] == []
    assert len(_where(W.advance(down, after, rng))[1]) == 1


def test_the_clock_stops_at_the_first_of_several_scheduled_deletions() -> None:
    """'fast' tolerates not-ready for 60 s, 'web' for the default 300 s: node2 False, `wait 100s` deletes fast's
    node2 pod at 60 s (the clock stops at the earliest scheduled deletion, not only at the wait's end), and its
    replacement, made then, has started by 100 s; the pod itself is gone 30 s after its deletion."""
    w, rng = deployed(2)
    fast = W.new_deployment("default", "fast", [IMAGE_V1], 2, 8080)
    own = Toleration(NOT_READY_TAINT, "Exists", "", "NoExecute", 60)
    w = W.create_deployment(w, replace(fast, template=replace(fast.template, tolerations=(own,))), rng)
    w = W.wait_for_rollout(w, "default", "fast", rng).world
    on2 = [p.name for p in w.pods if p.node_name == "node2" and p.owner and p.owner.startswith("fast-")]
    down = _status(w, "False", rng)
    after = W.advance(down, 100, rng)
    fast_pods = [p for p in after.pods if p.owner is not None and p.owner.startswith("fast-")]
    # deleted at 60 s, gone after its 30 s grace period (node2's kubelet is alive)
    assert len(on2) == 1 and after.pod("default", on2[0]) is None
    assert len(fast_pods) == 2 and all(p.ready(after.now) for p in fast_pods)
    assert not any(p.terminating for p in after.pods if p.owner is not None and p.owner.startswith("web-"))


def test_a_pod_bound_to_a_tainted_node_later_is_timed_from_its_arrival() -> None:
    """processPodOnNode starts a pod's clock when it sees the pod there: a bare pod applied bound to node2 100 s
    after the taint goes 300 s after that."""
    w = W.put_nodes(world(), NODE2, frozenset({"node2"}), random.Random(0), unreachable=frozenset({"node2"}))
    rng = random.Random(0)
    w = W.advance(w, 100, rng)
    w, _ = W.add_pods(w, [Pod("default", "bare", node_name="node2")], rng)
    assert _where(W.advance(w, 299, rng))[1] == []
    assert _where(W.advance(w, 300, rng))[1] == ["bare"]


@given(st.lists(st.tuples(st.sampled_from(["True", "False", "Unknown"]), st.integers(0, 400)), max_size=6))
def test_pods_are_evicted_exactly_when_the_node_stayed_tainted_for_300_s(path: list[tuple[str, int]]) -> None:
    """Over any sequence of node2's Ready statuses held for some seconds, its pods are terminating exactly when
    some stretch of not-True statuses has lasted 300 s (then it is terminating, or gone where a kubelet stopped it)."""
    w, rng = deployed(2)
    (on2,) = [p.name for p in w.pods if p.node_name == "node2"]
    stretch, expected = 0, False
    for status, seconds in path:
        w = W.advance(_status(w, status, rng), seconds, rng)
        stretch = 0 if status == "True" else stretch + seconds
        expected = expected or stretch >= 300
        pod = w.pod("default", on2)
        assert (pod is None or pod.terminating) == expected


def test_tolerations_are_checked_as_the_api_server_does() -> None:
    report = Report("p.yaml", "Pod", "default/p")
    spec = {"tolerations": [
        {"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10},
        {"operator": "Exists"},
        {"key": "b", "effect": "NoSchedule", "tolerationSeconds": 10},
        {"operator": "Equal", "value": "v"},
        {"key": "c", "operator": "Exists", "value": "v"},
        {"key": "d", "operator": "Less"},
        {"key": "e", "effect": "Sometimes"},
        {"key": "bad key!", "operator": "Exists"},
        {"key": "f", "operator": "Equal", "value": "bad value!"},
        {"key": "g", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2**63},
        {"key": "example.com/h", "operator": "Equal", "value": "v-1.x", "effect": "NoExecute",
         "tolerationSeconds": -2**63},
        {"key": "a..b/x", "operator": "Exists"},  # the prefix is no DNS subdomain (an empty part)
    ]}
    found = read_tolerations(report, spec, "spec.tolerations")
    assert found == (Toleration("a", "Exists", "", "NoExecute", 10), Toleration("", "Exists"),
                     Toleration("example.com/h", "Equal", "v-1.x", "NoExecute", -2**63))
    assert [(d.field, d.message) for d in report.diagnostics] == [
        ("spec.tolerations[2].effect", "must be 'NoExecute' when `tolerationSeconds` is set"),
        ("spec.tolerations[3].operator", 'must be Exists when `key` is empty, which means "match all values and all '
                                         'keys"'),
        ("spec.tolerations[4].operator", "value must be empty when `operator` is 'Exists'"),
        ("spec.tolerations[5].operator", 'Unsupported value: "Less": supported values: "Equal", "Exists"'),
        ("spec.tolerations[6].effect", 'Unsupported value: "Sometimes": supported values: "NoExecute", '
                                       '"NoSchedule", "PreferNoSchedule"'),
        ("spec.tolerations[7].key", '"bad key!" is not a label key; expected [PREFIX/]NAME, NAME up to 63 letters, '
                                    "digits, '-', '_' and '.' (alphanumeric at both ends), PREFIX a DNS subdomain"),
        ("spec.tolerations[8].operator", '"bad value!" is not a label value; expected at most 63 letters, digits, '
                                         '"-", "_" and ".", starting and ending with a letter or digit (the API '
                                         "server refuses it)"),
        ("spec.tolerations[9].tolerationSeconds", "9223372036854775808 does not fit an int64; expected "
                                                  "-9223372036854775808 to 9223372036854775807"),
        ("spec.tolerations[11].key", '"a..b/x" is not a label key; expected [PREFIX/]NAME, NAME up to 63 letters, '
                                     "digits, '-', '_' and '.' (alphanumeric at both ends), PREFIX a DNS subdomain"),
    ]


TOLERATING = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: calm}
spec:
  replicas: 3
  selector: {matchLabels: {app: calm}}
  template:
    metadata: {labels: {app: calm}}
    spec:
      containers: [{name: calm, image: nginx, ports: [{containerPort: 8080}]}]
      tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]
---
apiVersion: v1
kind: Pod
metadata: {name: bare, labels: {app: calm}}
spec:
  nodeName: node2
  containers: [{name: bare, image: nginx}]
  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]
---
apiVersion: v1
kind: Service
metadata: {name: calm}
spec: {selector: {app: calm}, ports: [{port: 80, targetPort: 8080}]}
"""


def _play(tmp_path: Path, script: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          show: str) -> list[dict[str, object]]:
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES.format(ready="True"))
    (tmp_path / "down.yaml").write_text(SMALL_NODES.format(ready="Unknown"))
    (tmp_path / "script").write_text(script)
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "-o", "json", "--show", show]
    assert run_cli(argv, monkeypatch) == 0
    steps: list[dict[str, object]] = json.loads(capsys.readouterr().out)["steps"]
    return steps


def test_scenario_wait_299_s_keeps_node2s_pod_and_1_s_more_moves_it_with_its_endpoint_and_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """node2 goes Unknown: its pod is not ready at once (MarkPodsNotReady), still there after `wait 299s`; `wait
    1s` more evicts it (terminating, not serving) and its replacement on node1 is in the endpoints and the rules
    once started."""
    script = ("create deployment web --image=nginx --replicas=2 --port=8080\nexpose deployment/web --port=80\n"
              "wait 10s\napply -f down.yaml\nwait 299s\nwait 1s\nwait 10s\n")
    steps = _play(tmp_path, script, monkeypatch, capsys, "endpoints")
    states = [sorted((str(e["node"]), str(e["state"])) for e in step["endpoints"])  # type: ignore[attr-defined]
              for step in steps[3:]]
    assert states == [
        [("node1", "ready"), ("node2", "not-ready")],  # apply -f down.yaml
        [("node1", "ready"), ("node2", "not-ready")],  # wait 299s
        [("node1", "not-ready"), ("node1", "ready"), ("node2", "terminating")],  # wait 1s: the new pod starting
        [("node1", "ready"), ("node1", "ready"), ("node2", "terminating")],
    ]
    rules = [json.dumps(step["rules"]) for step in _play(tmp_path, script, monkeypatch, capsys, "rules")]
    assert "10.244.1." in rules[2] and "10.244.1." not in rules[3]
    assert rules[4].count("10.244.0.") == rules[3].count("10.244.0.")  # unchanged after 299 s
    assert rules[6].count("10.244.0.") > rules[5].count("10.244.0.")  # the replacement in the rules


def test_scenario_pods_tolerating_unreachable_forever_stay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A Deployment template's and a bare Pod's own toleration without tolerationSeconds: read from the
    manifests, nothing is evicted however long node2 stays Unknown."""
    (tmp_path / "calm.yaml").write_text(TOLERATING)
    steps = _play(tmp_path, "apply -f calm.yaml\nwait 10s\napply -f down.yaml\nwait 1h\n", monkeypatch, capsys,
                  "endpoints")
    last = sorted((str(e["node"]), str(e["state"])) for e in steps[-1]["endpoints"])  # type: ignore[attr-defined]
    assert last == [("node1", "ready"), ("node1", "ready"), ("node2", "not-ready"), ("node2", "not-ready")]


BARE = """
apiVersion: v1
kind: Pod
metadata: {{name: p1, labels: {{app: calm}}}}
spec:
  nodeName: node2
  containers: [{{name: p1, image: nginx, ports: [{{containerPort: 8080}}]}}]
  tolerations: {tolerations}
---
apiVersion: v1
kind: Service
metadata: {{name: calm}}
spec: {{selector: {{app: calm}}, ports: [{{port: 80, targetPort: 8080}}]}}
"""


def test_scenario_a_bare_pod_reapplied_with_a_toleration_added_is_configured_and_its_eviction_rescheduled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bare Pod on node2, which goes Unknown; 100 s later the same Pod applied tolerating unreachable forever:
    kubectl says "configured" (the API server allows adding tolerations, validateOnlyAddedTolerations), the pod
    keeps its node, address and readiness, and the taint eviction controller, seeing it again, cancels the
    deletion it had scheduled at 300 s. Applied the same again: "unchanged"."""
    (tmp_path / "p1.yaml").write_text(BARE.format(tolerations="[]"))
    forever = "[{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]"
    (tmp_path / "p1-forever.yaml").write_text(BARE.format(tolerations=forever))
    script = ("apply -f p1.yaml\nwait 10s\napply -f down.yaml\nwait 100s\napply -f p1-forever.yaml\n"
              "apply -f p1-forever.yaml\nwait 1h\n")
    steps = _play(tmp_path, script, monkeypatch, capsys, "endpoints")
    assert [step["notes"][0] for step in steps[4:6]] == ["pod/p1 configured", "pod/p1 unchanged"]  # (file order)
    endpoints = [[(str(e["node"]), str(e["state"])) for e in step["endpoints"]]  # type: ignore[attr-defined]
                 for step in steps[3:]]
    assert endpoints == [[("node2", "not-ready")]] * 4  # never terminating


MAINTENANCE = Toleration("example.com/maintenance", "Exists")


def test_a_pod_update_may_add_tolerations_and_change_their_seconds_only() -> None:
    """validateOnlyAddedTolerations, on the lists as admitted: each old toleration is found again with only its
    tolerationSeconds changed (longer, shorter or gone); added ones are fine; one dropped or changed otherwise is
    refused. An own toleration dropped may come back as the admission plugin's default, which differs from it in
    its seconds alone, so that update is allowed."""
    old = admitted_tolerations((MAINTENANCE, FOREVER))
    assert only_added_tolerations(old, old)
    assert only_added_tolerations(old, admitted_tolerations((MAINTENANCE, replace(FOREVER, seconds=5))))
    assert only_added_tolerations(old, admitted_tolerations((MAINTENANCE, Toleration("b", "Exists"))))
    assert only_added_tolerations(old, admitted_tolerations((MAINTENANCE,)))  # FOREVER -> the 300 s default
    assert not only_added_tolerations(old, admitted_tolerations((FOREVER,)))
    assert not only_added_tolerations(old, admitted_tolerations((replace(MAINTENANCE, effect="NoSchedule"), FOREVER)))
    # tolerating every taint, the new list has neither default: the old defaults are gone
    assert not only_added_tolerations(admitted_tolerations(()), admitted_tolerations((Toleration("", "Exists"),)))


TOLERATIONS_ = st.lists(st.builds(Toleration, st.sampled_from(["", NOT_READY_TAINT, UNREACHABLE_TAINT, "k"]),
                                  st.sampled_from(["Equal", "Exists"]), st.just(""),
                                  st.sampled_from(["", "NoExecute", "NoSchedule"]),
                                  st.none() | st.integers(-5, 500)), max_size=4).map(tuple)


@given(TOLERATIONS_, TOLERATIONS_, st.lists(st.none() | st.integers(0, 500), min_size=4, max_size=4))
def test_what_an_update_may_do_to_tolerations(old: tuple[Toleration, ...], added: tuple[Toleration, ...],
                                             seconds: list[int | None]) -> None:
    """Any list is a valid update of itself with added tolerations and other seconds; dropping an old toleration
    that nothing else equals but for its seconds is refused."""
    reseconded = tuple(replace(t, seconds=s) for t, s in zip(old, seconds, strict=False))
    assert only_added_tolerations(old, reseconded + added)
    for index, dropped in enumerate(old):
        rest = old[:index] + old[index + 1:]
        unique = all(replace(t, seconds=None) != replace(dropped, seconds=None) for t in rest)
        assert only_added_tolerations(old, rest) != unique


def test_scenario_a_pod_reapplied_without_a_toleration_is_refused_and_the_rest_of_the_file_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """p1 applied tolerating example.com/maintenance, then a file of p1 without it and a new pod p2: the API server
    refuses p1's update (kubectl prints it and exits 1), p1 stays as it was, and p2 and the Service are applied,
    as kubectl apply goes on with a file's other objects; the script stops after that step."""
    (tmp_path / "p1.yaml").write_text(BARE.format(tolerations="[{key: example.com/maintenance, operator: Exists}]"))
    p2 = BARE.split("---")[0].replace("p1", "p2").replace("node2", "node1").format(tolerations="[]")
    (tmp_path / "p1-none.yaml").write_text(BARE.format(tolerations="[]") + "---" + p2)
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES.format(ready="True"))
    (tmp_path / "script").write_text("apply -f p1.yaml\nwait 10s\napply -f p1-none.yaml\nwait 1s\n")
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "-o", "json", "--show", "endpoints"]
    assert run_cli(argv, monkeypatch) == 1
    captured = capsys.readouterr()
    steps = json.loads(captured.out)["steps"]
    assert [step["command"] for step in steps] == ["apply -f p1.yaml", "wait 10s", "apply -f p1-none.yaml"]
    assert steps[2]["notes"] == ["service/calm unchanged", "pod/p2 created"]
    assert sorted(e["pod"] for e in steps[2]["endpoints"]) == ["p1", "p2"]
    assert captured.err == (
        f'kubeproxy-sim: {tmp_path / "script"}:3: apply: The Pod "p1" is invalid: spec.tolerations: Forbidden: '
        f"existing toleration can not be modified except its tolerationSeconds ({tmp_path / 'p1-none.yaml'}: Pod "
        "default/p1 keeps the tolerations it has; expected each of them again, its tolerationSeconds alone "
        "changed, and any new ones added)\n")


def test_a_toleration_without_an_operator_is_kept_so_and_matches_as_equal() -> None:
    """The API server stores a left-out operator empty (no defaulting function sets it; validateTolerations and
    ToleratesTaint take it as Equal): it is read so, matches the taint as Equal does, and an update writing
    ``operator: Equal`` for it changes it, which validateOnlyAddedTolerations refuses."""
    report = Report("p.yaml", "Pod", "default/p")
    spec = {"tolerations": [{"key": UNREACHABLE_TAINT, "effect": "NoExecute"}, {"key": "x", "value": "bad value!"},
                            {"effect": "NoExecute"}]}
    (bare,) = read_tolerations(report, spec, "spec.tolerations")
    assert bare == Toleration(UNREACHABLE_TAINT, "", "", "NoExecute") and bare.operator == ""
    assert [d.field for d in report.diagnostics] == ["spec.tolerations[1].operator", "spec.tolerations[2].operator"]
    assert toleration_time((bare,), UNREACHABLE_TAINT) == math.inf
    assert toleration_time((replace(bare, value="x"),), UNREACHABLE_TAINT) == 0
    old = admitted_tolerations((bare,))
    assert only_added_tolerations(old, admitted_tolerations((bare,)))
    assert not only_added_tolerations(old, admitted_tolerations((replace(bare, operator="Equal"),)))
    assert not only_added_tolerations(admitted_tolerations((replace(bare, operator="Equal"),)), old)


def test_scenario_a_pod_reapplied_writing_operator_equal_it_had_left_out_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """p1 applied tolerating example.com/maintenance with no operator, then the same with ``operator: Equal``:
    the same manifest again is unchanged, the other is refused as the API server refuses it (the stored
    toleration's operator is empty, the update's Equal)."""
    (tmp_path / "p1.yaml").write_text(BARE.format(tolerations="[{key: example.com/maintenance}]"))
    (tmp_path / "p1-equal.yaml").write_text(BARE.format(
        tolerations="[{key: example.com/maintenance, operator: Equal}]"))
    (tmp_path / "nodes.yaml").write_text(SMALL_NODES.format(ready="True"))
    (tmp_path / "script").write_text("apply -f p1.yaml\napply -f p1.yaml\napply -f p1-equal.yaml\n")
    argv = ["scenario", str(tmp_path / "script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "-o", "json"]
    assert run_cli(argv, monkeypatch) == 1
    captured = capsys.readouterr()
    steps = json.loads(captured.out)["steps"]
    assert steps[1]["notes"] == ["pod/p1 unchanged", "service/calm unchanged"]  # the file's order
    assert captured.err.startswith(f'kubeproxy-sim: {tmp_path / "script"}:3: apply: The Pod "p1" is invalid: '
                                   "spec.tolerations: Forbidden: existing toleration can not be modified")


def test_a_refused_pod_keeps_its_tolerations_and_its_scheduled_deletion() -> None:
    """Played on its own: the refused update leaves p1 as it was, tolerations and the deletion the eviction
    controller scheduled on Unknown node2 included, and the step's error says so; the same file with the
    toleration kept and another added is played without error."""
    rng = random.Random(0)
    w = W.put_nodes(world(), NODE2, frozenset({"node2"}), rng, unreachable=frozenset({"node2"}))
    pod = Pod("default", "p1", node_name="node2")

    def apply(w: World, *own: Toleration) -> Played:
        manifests = Manifests(Cluster(pods=(pod,)), pod_applied=(("default/p1", LastApplied(own)),))
        return play(w, Step(1, "apply -f p1.yaml", "apply", paths=("p1.yaml",)), rng, lambda _: manifests)

    w = W.advance(apply(w, MAINTENANCE).world, 10, rng)
    before = w.pod("default", "p1")
    refused = apply(w)
    assert refused.error is not None and refused.error.startswith('The Pod "p1" is invalid: spec.tolerations: ')
    assert refused.world.pod("default", "p1") == before and refused.notes == ()
    assert before is not None and before.evict_at == w.now - 10 + 300
    allowed = apply(w, MAINTENANCE, FOREVER)
    assert allowed.error is None and allowed.notes == ("pod/p1 configured",)
    assert allowed.world.pod("default", "p1").evict_at is None  # type: ignore[union-attr]


DEDICATED = Toleration("dedicated", "Exists", "", "NoSchedule")


def _reapply(w: World, rng: random.Random, name: str, *, cost: str | None = None,
             own: tuple[Toleration, ...] = ()) -> Played:
    """``apply -f`` of a Pod manifest for the running pod ``name``: its labels, ports, node and address as they
    are, then the tolerations ``own`` and the pod-deletion-cost ``cost`` (None: left out)."""
    running = w.pod("default", name)
    assert running is not None
    manifests = Manifests(Cluster(pods=(running.at(w.now),)), pod_applied=((running.key, LastApplied(own, cost)),))
    return play(w, Step(1, "apply -f p.yaml", "apply", paths=("p.yaml",)), rng, lambda _: manifests)


def no_last_applied(name: str) -> str:
    """kubectl apply's warning before patching a pod no apply made (a ReplicaSet's)."""
    return (f"Warning: resource pods/{name} is missing the kubectl.kubernetes.io/last-applied-configuration "
            "annotation which is required by kubectl apply. kubectl apply should only be used on resources created "
            "declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be "
            "patched automatically.")


def test_a_pod_the_replicaset_made_keeps_what_a_reapplied_manifest_leaves_out() -> None:
    """A ReplicaSet's pod has no last-applied-configuration, so kubectl's three-way merge removes nothing from
    it: a Pod manifest of its name writing only a pod-deletion-cost leaves its tolerations ('dedicated' and the
    defaults) as they are (no Forbidden), and one leaving the cost out keeps the template's "4". Either is
    'configured' (kubectl warns of the missing annotation and adds it) and updates the pod in place, owner and all."""
    w, rng = _deployed(2, DEDICATED)
    name = sorted(p.name for p in w.pods)[0]
    before = w.pod("default", name)
    assert before is not None and before.tolerations == (DEDICATED, *DEFAULTS)
    played = _reapply(w, rng, name, cost="5")
    assert played.error is None and played.notes == (no_last_applied(name), f"pod/{name} configured")
    after = played.world.pod("default", name)
    assert after is not None and after.tolerations == before.tolerations and after.deletion_cost == "5"
    assert after.owner == before.owner and after.serial == before.serial

    template = W.new_deployment("default", "web", [IMAGE_V1], 2, 8080).template
    w, rng = deployed(2, template=replace(template, deletion_cost="4"))
    played = _reapply(w, rng, name := sorted(p.name for p in w.pods)[0])
    assert played.error is None and played.notes == (no_last_applied(name), f"pod/{name} configured")
    assert played.world.pod("default", name).deletion_cost == "4"  # type: ignore[union-attr]


def test_a_reapply_removes_only_what_the_last_apply_wrote() -> None:
    """After one apply, the pod has the last-applied view of it: the same manifest again is 'unchanged'; a cost
    that apply wrote and the next leaves out is removed, while the tolerations neither wrote stay; tolerations an
    apply wrote and the next leaves out are removed, which the API server refuses (Forbidden)."""
    w, rng = _deployed(2, DEDICATED)
    name = sorted(p.name for p in w.pods)[0]
    first = _reapply(w, rng, name, cost="5")
    assert _reapply(first.world, rng, name, cost="5").notes == (f"pod/{name} unchanged",)
    dropped = _reapply(first.world, rng, name)
    assert dropped.error is None and dropped.notes == (f"pod/{name} configured",)
    after = dropped.world.pod("default", name)
    assert after is not None and after.deletion_cost is None and after.tolerations == (DEDICATED, *DEFAULTS)
    written = _reapply(w, rng, name, own=(DEDICATED, FOREVER))
    assert written.error is None and written.notes == (no_last_applied(name), f"pod/{name} configured")
    refused = _reapply(written.world, rng, name)
    assert refused.error is not None and refused.error.startswith(f'The Pod "{name}" is invalid: spec.tolerations')
