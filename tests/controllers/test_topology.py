"""Topology Aware Routing in the EndpointSlice controller model: the topology cache's allocation, checked against
the expected values of upstream's own tests (k8s.io/endpointslice/topologycache: TestAddHints, TestSetNodes,
Test_getGivingAndReceivingZones, Test_redistributeHints), the reconciler's precedence over trafficDistribution,
and a scenario end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.controllers import topology as T
from kubeproxy_sim.controllers.endpointslice import TopologyView, reconcile_all, reconcile_service
from kubeproxy_sim.objects.model import Endpoint, EndpointConditions, Node, Pod, Protocol, Service, ServicePort

from ._helpers import run_cli


def _ep(address: str, zone: str | None, ready: bool | None = True) -> Endpoint:
    return Endpoint(addresses=(address,), conditions=EndpointConditions(ready=ready), zone=zone)


def _hints(hinted: T.Hinted) -> list[tuple[str, ...] | None]:
    return [e.hints_for_zones for e in hinted.endpoints]


# -- TestAddHints ---------------------------------------------------------------------------------------------


def test_add_hints_without_zone_ratios_removes_hints_for_insufficient_node_info() -> None:
    for endpoints in ([], [_ep("10.1.2.3", "zone-a")]):  # "empty", "slice to create, no zone ratios"
        hinted = T.add_hints(endpoints, None, "IPv4")
        assert not hinted.ok and all(h is None for h in _hints(hinted))
        assert hinted.warning is not None
        assert (hinted.warning.type, hinted.warning.reason) == ("Warning", "TopologyAwareHintsDisabled")
        assert hinted.warning.message.startswith(T.INSUFFICIENT_NODE_INFO)
        assert hinted.warning.message.endswith(", addressType: IPv4")


def test_add_hints_2_endpoints_for_3_zones_is_insufficient() -> None:
    hinted = T.add_hints([_ep("10.1.2.3", "zone-a"), _ep("10.1.2.4", "zone-b")],
                         {"zone-a": 0.3, "zone-b": 0.4, "zone-c": 0.3}, "IPv4")
    assert not hinted.ok and _hints(hinted) == [None, None]
    assert hinted.warning is not None
    assert hinted.warning.message == "Insufficient number of endpoints (2 endpoints, 3 zones), addressType: IPv4"


def test_add_hints_2_endpoints_2_zones() -> None:
    hinted = T.add_hints([_ep("10.1.2.3", "zone-a"), _ep("10.1.2.4", "zone-b")], {"zone-a": 0.45, "zone-b": 0.55},
                         "IPv4")
    assert hinted.ok and hinted.warning is None
    assert _hints(hinted) == [("zone-a",), ("zone-b",)]
    assert hinted.per_zone == (("zone-a", 1), ("zone-b", 1))


def test_add_hints_skips_unready_and_unknown_endpoints() -> None:
    endpoints = [_ep("10.1.2.3", "zone-a"), _ep("10.1.2.4", "zone-b"), _ep("10.1.2.5", "zone-b", False),
                 _ep("10.1.2.6", "zone-b", None)]
    hinted = T.add_hints(endpoints, {"zone-a": 0.45, "zone-b": 0.55}, "IPv4")
    assert hinted.ok and _hints(hinted) == [("zone-a",), ("zone-b",), None, None]
    assert hinted.per_zone == (("zone-a", 1), ("zone-b", 1))


def test_add_hints_within_3_zone_threshold_moves_one_zone_a_endpoint_to_zone_b() -> None:
    """"slices to create and update within 3 zone threshold": the four slices, in order, flattened."""
    zones = ["zone-a", "zone-b", "zone-c", "zone-c", "zone-a", "zone-a", "zone-a", "zone-b", "zone-c", "zone-a"]
    endpoints = [_ep(f"10.0.0.{i}", z) for i, z in enumerate(zones)]
    hinted = T.add_hints(endpoints, {"zone-a": 0.35, "zone-b": 0.35, "zone-c": 0.30}, "IPv4")
    assert hinted.ok
    assert _hints(hinted) == [("zone-b",), ("zone-b",), ("zone-c",), ("zone-c",), ("zone-a",), ("zone-a",),
                              ("zone-a",), ("zone-b",), ("zone-c",), ("zone-a",)]
    assert hinted.per_zone == (("zone-a", 4), ("zone-b", 3), ("zone-c", 3))


def test_add_hints_endpoint_without_zone_removes_every_hint() -> None:
    hinted = T.add_hints([_ep("10.1.2.3", "zone-a"), _ep("10.1.2.4", None)], {"zone-a": 0.5, "zone-b": 0.5}, "IPv6")
    assert not hinted.ok and _hints(hinted) == [None, None]
    assert hinted.warning == T.Event("Warning", "TopologyAwareHintsDisabled",
                                     "One or more endpoints do not have a zone specified, addressType: IPv6")


def test_overload_threshold_refuses_minimums_over_the_endpoints() -> None:
    """A zone of a quarter of the CPU with 2 endpoints: minimums 1 + 2 > 2."""
    allocs, problem = T.allocations({"zone-a": 0.25, "zone-b": 0.75}, 2)
    assert allocs is None and problem == (
        "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold "
        "(2 endpoints, 2 zones)")
    allocs, problem = T.allocations({"zone-a": 0.25, "zone-b": 0.75}, 6)
    assert problem is None and allocs == {"zone-a": T.Allocation(2, 2, 2.0), "zone-b": T.Allocation(4, 4, 4.5)}
    assert T.allocations({"zone-a": 1.0}, 3) == (None, "Nodes only ready in one zone")


# -- TestSetNodes ---------------------------------------------------------------------------------------------


def _node(i: int, zone: str | None, *labels: str) -> Node:
    pairs = tuple((label, "") for label in labels) + ((("topology.kubernetes.io/zone", zone),) if zone else ())
    return Node(name=f"n{i}", labels=pairs)


@pytest.mark.parametrize(("nodes", "cpu", "not_ready", "expected"), [
    ([], {}, (), None),  # empty
    ([_node(0, "zone-a")], {"n0": 1000}, (), None),  # single node
    ([_node(0, "zone-a"), _node(1, "zone-a")], {"n0": 1000, "n1": 1000}, (), None),  # single zone
    ([_node(0, "zone-a"), _node(1, "zone-b")], {"n0": 1000, "n1": 1000}, (), {"zone-a": 0.5, "zone-b": 0.5}),
    ([_node(0, "zone-a"), _node(1, "zone-b")], {"n0": 1000, "n1": 1000}, ("n0",), None),  # unready in 1
    ([_node(0, "zone-a"), _node(1, "zone-b", "node-role.kubernetes.io/control-plane")], {"n0": 1000, "n1": 1000},
     (), None),
    ([_node(0, "zone-a"), _node(1, "zone-b"), _node(2, "zone-b")], {"n0": 1000, "n1": 1000, "n2": 1000}, ("n2",),
     {"zone-a": 0.5, "zone-b": 0.5}),
    ([_node(0, "zone-a"), _node(1, "zone-b"), _node(2, "zone-b", "node-role.kubernetes.io/control-plane")],
     {"n0": 1000, "n1": 1000, "n2": 1000}, (), {"zone-a": 0.5, "zone-b": 0.5}),
    ([_node(0, "zone-a"), _node(1, "zone-a"), _node(2, "zone-a"), _node(3, "zone-a"), _node(4, "zone-b"),
      _node(5, "zone-b"), _node(6, "zone-c")],
     {"n0": 1000, "n1": 1000, "n2": 1000, "n3": 2000, "n4": 3000, "n5": 1500, "n6": 500}, (),
     {"zone-a": 0.5, "zone-b": 0.45, "zone-c": 0.05}),
    # not upstream's table: a counted Node without a zone, or without CPU, spoils them all
    ([_node(0, "zone-a"), _node(1, "zone-b"), _node(2, None)], {"n0": 1000, "n1": 1000, "n2": 1000}, (), None),
    ([_node(0, "zone-a"), _node(1, "zone-b"), _node(2, "zone-b")], {"n0": 1000, "n1": 1000}, (), None),
    ([_node(0, "zone-a"), _node(1, "zone-b"), _node(2, None, "node-role.kubernetes.io/master")],
     {"n0": 1000, "n1": 3000}, (), {"zone-a": 0.25, "zone-b": 0.75}),
])
def test_zone_ratios_as_set_nodes(nodes: list[Node], cpu: dict[str, int], not_ready: tuple[str, ...],
                                  expected: dict[str, float] | None) -> None:
    assert T.zone_ratios(nodes, not_ready, cpu) == expected


@pytest.mark.parametrize(("text", "millis"), [
    ("4", 4000), ("3500m", 3500), ("1.5", 1500), (8, 8000), (0.25, 250), ("1k", 1_000_000), ("2e3", 2_000_000),
    ("2e3m", None), ("100u", 1), ("0", 0), ("four", None), ("", None), (True, None), (None, None), ("1.5x", None)])
def test_cpu_quantities_in_millicores(text: object, millis: int | None) -> None:
    assert T.cpu_millis(text) == millis


# -- Test_getGivingAndReceivingZones, Test_redistributeHints ----------------------------------------------------


def _alloc(desired: float) -> T.Allocation:
    return T.Allocation(0, 0, desired)


@pytest.mark.parametrize(("desired", "allocated", "giving", "receiving"), [
    ({}, {}, {}, {}),
    ({"zone-a": 1.2, "zone-b": 1.1, "zone-c": 1.0}, {"zone-a": 1, "zone-b": 1, "zone-c": 1}, {}, {}),
    ({"zone-a": 5.1, "zone-b": 5.1, "zone-c": 5.8}, {"zone-a": 16}, {"zone-a": 10}, {"zone-b": 5, "zone-c": 5}),
    ({"zone-a": 5.0, "zone-b": 5.6, "zone-c": 5.4}, {"zone-a": 16}, {"zone-a": 11}, {"zone-b": 6, "zone-c": 5}),
    ({"zone-a": 5.0, "zone-b": 5.6, "zone-c": 5.4}, {"zone-b": 8, "zone-c": 8}, {"zone-b": 2, "zone-c": 3},
     {"zone-a": 5}),
    ({"zone-a": 5.0, "zone-b": 5.0, "zone-c": 5.0}, {"zone-a": 6, "zone-b": 6, "zone-c": 6}, {}, {}),
    ({"zone-a": -5.0, "zone-b": -5.0, "zone-c": -5.0}, {"zone-a": 6, "zone-b": 6, "zone-c": 6}, {}, {}),
    ({"zone-a": 5.0, "zone-b": 5.0, "zone-c": 5.0}, {"zone-a": -4, "zone-b": -3, "zone-c": -2}, {}, {}),
    ({"zone-a": 5.0, "zone-b": 5.0, "zone-c": 5.0}, {"zone-a": -40, "zone-b": 20, "zone-c": 20},
     {"zone-b": 15, "zone-c": 15}, {"zone-a": 30}),
])
def test_giving_and_receiving_zones(desired: dict[str, float], allocated: dict[str, int], giving: dict[str, int],
                                    receiving: dict[str, int]) -> None:
    allocs = {zone: _alloc(d) for zone, d in desired.items()}
    assert T.giving_and_receiving(allocs, allocated) == (giving, receiving)


@pytest.mark.parametrize(("count", "giving", "receiving", "moved"), [
    (0, {}, {}, {}),
    (1, {"zone-a": 1}, {"zone-b": 1}, {"zone-a": -1, "zone-b": 1}),
    (3, {"zone-a": 2}, {"zone-b": 1, "zone-c": 1}, {"zone-a": -2, "zone-b": 1, "zone-c": 1}),
])
def test_redistribute_hints(count: int, giving: dict[str, int], receiving: dict[str, int],
                            moved: dict[str, int]) -> None:
    hints: list[str | None] = ["zone-a"] * count
    assert T.redistribute(["zone-a"] * count, [True] * count, hints, giving, receiving) == moved
    assert hints.count("zone-a") == count + moved.get("zone-a", 0)


# -- the annotations and the reconciler's precedence ----------------------------------------------------------


@pytest.mark.parametrize(("annotations", "enabled"), [
    ({}, False),
    ({T.TOPOLOGY_MODE_ANNOTATION: "Auto"}, True),
    ({T.TOPOLOGY_MODE_ANNOTATION: "auto"}, True),
    ({T.TOPOLOGY_MODE_ANNOTATION: "PreferZone"}, False),
    ({T.DEPRECATED_HINTS_ANNOTATION: "auto"}, True),
    ({T.DEPRECATED_HINTS_ANNOTATION: "disabled", T.TOPOLOGY_MODE_ANNOTATION: "Auto"}, False),  # the old key wins
    ({T.DEPRECATED_HINTS_ANNOTATION: "Auto", T.TOPOLOGY_MODE_ANNOTATION: "Disabled"}, True),
])
def test_hints_enabled_by_either_annotation_the_deprecated_one_first(annotations: dict[str, str],
                                                                     enabled: bool) -> None:
    assert T.hints_enabled(annotations) is enabled


NODES = {"node1": Node(name="node1", labels=(("topology.kubernetes.io/zone", "zone-a"),)),
         "node2": Node(name="node2", labels=(("topology.kubernetes.io/zone", "zone-b"),))}


def _web(distribution: str | None = None) -> tuple[Service, list[Pod]]:
    port = ServicePort(name="", protocol=Protocol.TCP, port=80, target_port=8080)
    service = Service(namespace="default", name="web", cluster_ips=("10.96.0.10",), selector=(("app", "web"),),
                      ports=(port,), traffic_distribution=distribution)
    pods = [Pod(namespace="default", name=f"web-{i}", node_name=f"node{1 + i % 2}", pod_ips=(f"10.244.{i % 2}.{i}",),
                labels=(("app", "web"),)) for i in range(4)]
    return service, pods


def _zone_hints(slices: tuple[object, ...]) -> list[tuple[str, ...] | None]:
    return [e.hints_for_zones for s in slices for e in s.endpoints]  # type: ignore[attr-defined]


def test_annotation_wins_over_traffic_distribution_even_when_it_gives_no_hints() -> None:
    """canUseTrafficDistribution is false whenever the annotation asks for hints: an allocation that fails
    leaves no hints at all, not PreferClose's."""
    service, pods = _web("PreferClose")
    closeby = reconcile_service(service, pods, NODES)
    assert _zone_hints(closeby.slices) == [("zone-a",), ("zone-a",), ("zone-b",), ("zone-b",)]
    lopsided = TopologyView(ratios={"zone-a": 0.1, "zone-b": 0.9}, auto=frozenset({"default/web"}))
    moved = reconcile_service(service, pods, NODES, view=lopsided)  # the cache's hints, not the closest zone
    assert _zone_hints(moved.slices) == [("zone-b",), ("zone-a",), ("zone-b",), ("zone-b",)]
    overloaded = TopologyView(ratios={"zone-a": 0.4, "zone-b": 0.4, "zone-c": 0.2}, auto=frozenset({"default/web"}))
    done = reconcile_service(service, pods, NODES, view=overloaded)
    assert _zone_hints(done.slices) == [None] * 4 and done.populated == frozenset()
    assert [(e.event.reason, e.event.message.split(" (")[0]) for e in done.events] == [
        ("TopologyAwareHintsDisabled", T.MIN_ALLOCATION_EXCEEDS_OVERLOAD_THRESHOLD)]


def test_enabled_is_said_once_and_dropping_the_annotation_is_said_too() -> None:
    service, pods = _web()
    view = TopologyView(ratios={"zone-a": 0.5, "zone-b": 0.5}, auto=frozenset({"default/web"}))
    first = reconcile_service(service, pods, NODES, view=view)
    assert [e.event for e in first.events] == [T.enabled_event("IPv4")] and first.populated == {"default/web"}
    assert _zone_hints(first.slices) == [("zone-a",), ("zone-a",), ("zone-b",), ("zone-b",)]
    again = reconcile_service(service, pods, NODES, view=TopologyView(view.ratios, view.auto, first.populated))
    assert again.events == () and again.slices == first.slices
    dropped = reconcile_service(service, pods, NODES, view=TopologyView(view.ratios, frozenset(), first.populated))
    assert [e.event for e in dropped.events] == [T.disabled_event("IPv4")] and dropped.populated == frozenset()
    assert _zone_hints(dropped.slices) == [None] * 4


def test_the_cache_remembers_a_deleted_service_so_its_namesake_is_not_enabled_again() -> None:
    """syncService's not-found branch leaves the topology cache alone: hints stay populated for the key, so a
    Service made again under the name gets its hints without TopologyAwareHintsEnabled, and one made without the
    annotation says they were disabled."""
    service, pods = _web()
    nodes = list(NODES.values())
    view = TopologyView(ratios={"zone-a": 0.5, "zone-b": 0.5}, auto=frozenset({"default/web"}))
    first = reconcile_all([service], pods, nodes, view=view)
    gone = reconcile_all([], pods, nodes, view=TopologyView(view.ratios, view.auto, first.populated))
    assert gone.populated == {"default/web"} and gone.events == ()
    again = reconcile_all([service], pods, nodes, view=TopologyView(view.ratios, view.auto, gone.populated))
    assert again.events == () and _zone_hints(again.slices) == _zone_hints(first.slices)
    plain = reconcile_all([service], pods, nodes, view=TopologyView(view.ratios, frozenset(), gone.populated))
    assert [e.event for e in plain.events] == [T.disabled_event("IPv4")] and plain.populated == frozenset()


# -- a scenario end to end ------------------------------------------------------------------------------------


def _node_yaml(name: str, zone: str, index: int, cpu: str, *, ready: bool = True) -> str:
    """A Node of ``zone``; ``ready``: with a Ready condition of True, else with no Ready condition at all."""
    conditions = ", conditions: [{type: Ready, status: 'True'}]" if ready else ""
    return (f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{topology.kubernetes.io/zone: {zone}}}}}\n"
            f"spec: {{podCIDR: 10.244.{index}.0/24}}\nstatus: {{addresses: [{{type: InternalIP, address: "
            f"192.168.0.{9 + index}}}], allocatable: {{cpu: '{cpu}'}}{conditions}}}\n---\n")


def _zoned_cluster(tmp_path: Path, *, node3_ready: bool = True) -> None:
    """nodes.yaml (node1 in zone-a with 4 CPUs, node2 and node3 in zone-b with 4 and 8) and svc.yaml (web, its
    topology mode Auto), as both scenario tests of the zones' capacity start."""
    (tmp_path / "nodes.yaml").write_text(_node_yaml("node1", "zone-a", 1, "4") + _node_yaml("node2", "zone-b", 2,
                                         "4000m") + _node_yaml("node3", "zone-b", 3, "8", ready=node3_ready))
    (tmp_path / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {service.kubernetes.io/topology-mode: "
        "Auto}\nspec:\n  selector: {app: web}\n  clusterIP: 10.96.0.10\n  ports: [{port: 80, targetPort: 8080}]\n")


def test_scenario_topology_mode_auto_keeps_node1_on_zone_local_endpoints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """zone-a has a quarter of the CPU: 2 pods are too few (the overload threshold) and node1 uses both zones;
    at 6 pods zone-a gets its 2, node1 keeps to them and the endpoints show their hints."""
    _zoned_cluster(tmp_path)
    (tmp_path / "s.script").write_text("create deployment web --image=nginx --replicas=2 --port=8080\n"
                                       "apply -f svc.yaml\nwait 30s\nscale deployments/web --replicas=6\nwait 30s\n")
    argv = ["scenario", str(tmp_path / "s.script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16"]
    assert run_cli([*argv, "--show", "rules"], monkeypatch) == 0
    captured = capsys.readouterr()
    steps = captured.out.split("# step ")[1:]

    def targets(step: str) -> list[str]:
        return [line.split("-> ")[1].split(":")[0] for line in step.splitlines()
                if line.startswith("-A KUBE-SVC-") and "-> " in line]

    assert sorted(targets(steps[2])) == ["10.244.1.2", "10.244.2.2"]  # no hints: both zones
    assert sorted(targets(steps[4])) == ["10.244.1.2", "10.244.1.3"]  # zone-a's own two
    err = captured.err.splitlines()
    assert err == [
        f"kubeproxy-sim: {tmp_path / 's.script'}:2: Service default/web: warning: TopologyAwareHintsDisabled: "
        "Insufficient number of endpoints (0 endpoints, 2 zones), addressType: IPv4",
        f"kubeproxy-sim: {tmp_path / 's.script'}:3: Service default/web: warning: TopologyAwareHintsDisabled: "
        "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold "
        "(2 endpoints, 2 zones), addressType: IPv4",
        f"kubeproxy-sim: {tmp_path / 's.script'}:5: Service default/web: note: TopologyAwareHintsEnabled: "
        "Topology Aware Hints has been enabled, addressType: IPv4"]
    assert run_cli([*argv, "--show", "endpoints"], monkeypatch) == 0
    last = capsys.readouterr().out.split("# step ")[-1].splitlines()
    rows = [line for line in last if line.startswith("default/web ")]
    assert len(rows) == 6 and all(row.endswith("for-zones=zone-a") == ("zone=zone-a" in row) for row in rows)
    assert sum(row.endswith("for-zones=zone-b") for row in rows) == 4


def test_scenario_a_node_without_a_ready_condition_is_left_out_of_the_zone_capacity(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The topology cache counts a Node only when its Ready condition is True (isNodeReady): node3's 8 CPUs
    without one leave zone-a and zone-b 4 each, so 2 pods (one a zone) are enough for hints, where counted (zone-b
    three quarters) they broke the overload threshold. The Node is no worse for it (no warning; the scheduler,
    untainted, uses it)."""
    _zoned_cluster(tmp_path, node3_ready=False)
    (tmp_path / "s.script").write_text("create deployment web --image=nginx --replicas=3 --port=8080\n"
                                       "apply -f svc.yaml\nwait 30s\nscale deployments/web --replicas=2\n")
    argv = ["scenario", str(tmp_path / "s.script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16", "--show", "endpoints"]
    assert run_cli(argv, monkeypatch) == 0
    captured = capsys.readouterr()
    steps = captured.out.split("# step ")[1:]
    assert "10.244.3.2:8080" in steps[2]  # node3 holds a pod
    last = [line for line in steps[3].splitlines() if line.startswith("default/web ") and " ready " in line]
    assert len(last) == 2 and all(row.endswith("for-zones=zone-a") == ("zone=zone-a" in row) for row in last)
    script = tmp_path / "s.script"
    assert captured.err.splitlines() == [
        f"kubeproxy-sim: {script}:2: Service default/web: warning: TopologyAwareHintsDisabled: "
        "Insufficient number of endpoints (0 endpoints, 2 zones), addressType: IPv4",
        f"kubeproxy-sim: {script}:3: Service default/web: warning: TopologyAwareHintsDisabled: Unable to allocate "
        "minimum required endpoints to each zone without exceeding overload threshold (3 endpoints, 2 zones), "
        "addressType: IPv4",
        f"kubeproxy-sim: {script}:4: Service default/web: note: TopologyAwareHintsEnabled: "
        "Topology Aware Hints has been enabled, addressType: IPv4"]


def test_scenario_nodes_without_cpu_say_insufficient_node_info(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The default bootcamp Nodes carry no allocatable CPU: an annotated Service gets no hints, and a bad
    quantity is refused like the API server refuses it."""
    (tmp_path / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {service.kubernetes.io/topology-"
        "aware-hints: auto}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n")
    (tmp_path / "s.script").write_text("create deployment web --image=nginx --replicas=2 --port=8080\n"
                                       "apply -f svc.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "s.script"), "--show", "endpoints"], monkeypatch) == 0
    captured = capsys.readouterr()
    assert captured.err.endswith("Service default/web: warning: TopologyAwareHintsDisabled: Insufficient Node "
                                 "information: allocatable CPU or zone not specified on one or more nodes, "
                                 "addressType: IPv4\n")
    assert "for-zones" not in captured.out
    (tmp_path / "bad.yaml").write_text(_node_yaml("node9", "zone-c", 9, "lots"))
    (tmp_path / "s.script").write_text("apply -f bad.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "s.script"), "--show", "endpoints"], monkeypatch) == 1
    assert "Node node9: status.allocatable.cpu: 'lots' is not a CPU quantity" in capsys.readouterr().err


def test_scenario_a_pod_on_a_missing_node_is_skipped_and_the_others_keep_their_hints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Upstream's reconciler skips a pod whose Node is not found ("Node not found"): it is no endpoint, so it
    takes no zone-less endpoint into the topology cache, and node1 keeps to its zone's two endpoints."""
    (tmp_path / "nodes.yaml").write_text("".join(_node_yaml(f"node{i}", f"zone-{z}", i, "4")
                                                 for i, z in ((1, "a"), (2, "b"), (3, "c"))))
    (tmp_path / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {service.kubernetes.io/topology-mode: "
        "Auto}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n")
    (tmp_path / "ghost.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ghost, labels: {app: web}}\nspec:\n  nodeName: ghost-node\n"
        "  containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]\nstatus:\n  podIP: 10.244.9.9\n"
        "  phase: Running\n  conditions: [{type: Ready, status: 'True'}]\n")
    (tmp_path / "s.script").write_text("create deployment web --image=nginx --replicas=6 --port=8080\n"
                                       "apply -f svc.yaml\nwait 30s\napply -f ghost.yaml\nwait 30s\n")
    argv = ["scenario", str(tmp_path / "s.script"), "-f", str(tmp_path / "nodes.yaml"), "--hostname-override",
            "node1", "--cluster-cidr", "10.244.0.0/16"]
    assert run_cli([*argv, "--show", "endpoints"], monkeypatch) == 0
    captured = capsys.readouterr()
    for step in captured.out.split("# step ")[3:]:
        rows = [line for line in step.splitlines() if line.startswith("default/web ")]
        assert len(rows) == 6 and "10.244.9.9" not in step
        assert sorted(row.rsplit("for-zones=", 1)[1] for row in rows) == ["zone-a", "zone-a", "zone-b", "zone-b",
                                                                          "zone-c", "zone-c"]
    skipped = ("Service default/web: warning: FailedToUpdateEndpointSlices: Error updating Endpoint Slices for "
               "Service default/web: skipping Pod ghost for Service default/web: Node ghost-node Not Found")
    err = captured.err.splitlines()
    assert f"kubeproxy-sim: {tmp_path / 's.script'}:4: {skipped}" in err
    assert sum(skipped in line for line in err) == 1 and "do not have a zone" not in captured.err
    assert run_cli([*argv, "--show", "rules"], monkeypatch) == 0
    printed = capsys.readouterr().out.split("# step ")
    assert printed[-1].rstrip().endswith("# rules unchanged: as after step 3")  # nor ghost nor wait changed them
    last = printed[3]  # step 3's, the first wait's, zones and hints in place
    targets = [line.split("-> ")[1].split(":")[0] for line in last.splitlines()
               if line.startswith("-A KUBE-SVC-") and "-> " in line]
    assert sorted(targets) == ["10.244.1.2", "10.244.1.3"]  # zone-a's own two, not the ghost's address
