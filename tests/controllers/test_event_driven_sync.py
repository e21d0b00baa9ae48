"""The EndpointSlice controller syncs a Service on events, end to end through the scenario command: its own
changes, its pods' (GetServicesToUpdateOnPodChange; a pod the model replaces is a delete and a create), slices
under its label written by others, its last sync failing (retried), and after a Node change only the Services
whose Auto hints the topology cache finds overloaded (updateNode -> checkNodeTopologyDistribution ->
GetOverloadedServices); so a Service no event queued keeps what its last sync wrote, where syncing every Service
at every step would not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import run_cli

NODES = """\
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: zone-a}}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.10}], conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {topology.kubernetes.io/zone: ZONE}}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.11}], conditions: [{type: Ready, status: "True"}]}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, trafficDistribution: PreferClose, ports: [{port: 80, targetPort: 8080}]}
"""


def test_a_nodes_new_zone_does_not_resync_a_prefer_close_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """node2 moves from zone-b to zone-a. Upstream: no pod changed and the Service is not overloaded Auto, so its
    slice keeps node2's endpoint at zone=zone-b, for-zones=zone-b, and node1 (zone-a) keeps its own endpoint
    alone until something else syncs the Service (kubernetes/kubernetes#123401 describes the same for hints)."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "relabel.yaml").write_text(NODES.replace("ZONE", "zone-a").split("---\n")[1])
    (tmp_path / "svc.yaml").write_text(SERVICE)
    (tmp_path / "s.script").write_text("create deployment web --image=nginx --replicas=2 --port=8080\n"
                                       "apply -f svc.yaml\nwait 10s\napply -f relabel.yaml\n")
    assert run_cli(["scenario", str(tmp_path / "s.script"), "-f", str(tmp_path / "nodes.yaml"), "--show",
                    "endpoints", "--hostname-override", "node1"], monkeypatch) == 0
    last = capsys.readouterr().out.split("# step 4:")[1]
    node2 = next(line for line in last.splitlines() if "node=node2" in line)
    assert "zone=zone-b" in node2 and node2.endswith("for-zones=zone-b")


def _node(name: str, zone: str, index: int, cpu: str) -> str:
    return (f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{topology.kubernetes.io/zone: {zone}}}}}\n"
            f"spec: {{podCIDR: 10.244.{index}.0/24}}\nstatus: {{addresses: [{{type: InternalIP, address: "
            f"192.168.1.{9 + index}}}], allocatable: {{cpu: '{cpu}'}}, "
            "conditions: [{type: Ready, status: 'True'}]}\n---\n")


AUTO = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {service.kubernetes.io/topology-mode: "
        "Auto}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n")


def _endpoint_steps(tmp_path: Path, script: str, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> list[str]:
    (tmp_path / "s.script").write_text(script)
    assert run_cli(["scenario", str(tmp_path / "s.script"), "-f", str(tmp_path / "nodes.yaml"), "--show",
                    "endpoints", "--hostname-override", "node1"], monkeypatch) == 0
    return capsys.readouterr().out.split("# step ")[1:]


def _on(step: str, node: str) -> list[str]:
    return [line for line in step.splitlines() if f"node={node}" in line]


def test_a_prefer_close_service_takes_the_new_zone_when_a_pod_event_syncs_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """After node2's move, a pod label that leaves the Service's membership as it was queues nothing (labels
    changed, nothing else: the Services it left or joined, none); scaling up adds a pod, whose addPod syncs the
    Service, and every endpoint then gets its Node's zone as it is."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "relabel.yaml").write_text(NODES.replace("ZONE", "zone-a").split("---\n")[1])
    (tmp_path / "svc.yaml").write_text(SERVICE)
    start = "create deployment web --image=nginx --replicas=2 --port=8080\napply -f svc.yaml\nwait 10s\n"
    pod = _on(_endpoint_steps(tmp_path, start, monkeypatch, capsys)[2], "node2")[0].split("pod=")[1].split()[0]
    steps = _endpoint_steps(tmp_path, f"{start}apply -f relabel.yaml\nlabel pods {pod} extra=yes\n"
                            "scale deployments/web --replicas=3\nwait 10s\n", monkeypatch, capsys)
    assert "pod/" + pod + " labeled" in steps[4]
    assert all("zone=zone-b" in line and line.endswith("for-zones=zone-b") for line in _on(steps[4], "node2"))
    assert _on(steps[6], "node2") and all("zone=zone-a" in line and line.endswith("for-zones=zone-a")
                                          for line in _on(steps[6], "node2"))


def test_a_nodes_cpu_alone_is_not_read_by_the_topology_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """updateNode reaches the topology cache only when readiness or the zone label changes: node2's CPU going
    from 4 to 12 is not read, so scaling to 8 (which syncs the Service) still splits the hints 4/4 by the ratios
    the cache read (0.5/0.5), where fresh ones (0.25/0.75) would give zone-b two of zone-a's endpoints."""
    (tmp_path / "nodes.yaml").write_text(_node("node1", "zone-a", 1, "4") + _node("node2", "zone-b", 2, "4"))
    (tmp_path / "cpu.yaml").write_text(_node("node2", "zone-b", 2, "12"))
    (tmp_path / "svc.yaml").write_text(AUTO)
    steps = _endpoint_steps(tmp_path, "create deployment web --image=nginx --replicas=4 --port=8080\n"
                            "apply -f svc.yaml\nwait 10s\napply -f cpu.yaml\n"
                            "scale deployments/web --replicas=8\nwait 10s\n", monkeypatch, capsys)
    node1 = _on(steps[5], "node1")
    assert len(node1) == 4 and all(line.endswith("for-zones=zone-a") for line in node1)


def test_a_zone_change_that_overloads_an_auto_service_resyncs_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """node2 moves from zone-b to zone-c: the cache's hints (zone-a 1, zone-b 1) leave zone-c without any, so
    GetOverloadedServices queues the Service and its slices take the new zone at once."""
    (tmp_path / "nodes.yaml").write_text(_node("node1", "zone-a", 1, "4") + _node("node2", "zone-b", 2, "4"))
    (tmp_path / "zone.yaml").write_text(_node("node2", "zone-c", 2, "4"))
    (tmp_path / "svc.yaml").write_text(AUTO)
    steps = _endpoint_steps(tmp_path, "create deployment web --image=nginx --replicas=2 --port=8080\n"
                            "apply -f svc.yaml\nwait 10s\napply -f zone.yaml\n", monkeypatch, capsys)
    assert all("zone=zone-b" in line and line.endswith("for-zones=zone-b") for line in _on(steps[2], "node2"))
    assert _on(steps[3], "node2") and all("zone=zone-c" in line and line.endswith("for-zones=zone-c")
                                          for line in _on(steps[3], "node2"))


def test_cpu_given_later_without_a_node_event_leaves_the_cache_without_node_information(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """node2 starts without allocatable CPU, so the cache holds no ratios; applying it again with CPU (same zone,
    still Ready) is no event the cache reads, so a sync after it still finds insufficient Node information."""
    (tmp_path / "nodes.yaml").write_text(_node("node1", "zone-a", 1, "4") + _node("node2", "zone-b", 2, "4")
                                         .replace(", allocatable: {cpu: '4'}", ""))
    (tmp_path / "cpu.yaml").write_text(_node("node2", "zone-b", 2, "4"))
    (tmp_path / "svc.yaml").write_text(AUTO)
    steps = _endpoint_steps(tmp_path, "create deployment web --image=nginx --replicas=2 --port=8080\n"
                            "apply -f svc.yaml\nwait 10s\napply -f cpu.yaml\nscale deployments/web --replicas=4\n"
                            "wait 10s\n", monkeypatch, capsys)
    assert "node/node2 configured" in steps[3]
    assert len(_on(steps[5], "node1")) == 2 and "for-zones" not in steps[5]


def test_a_slice_applied_under_the_controllers_label_syncs_its_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """onEndpointSliceAdd queues the Service of a slice labelled as the controller's that its tracker does not
    know, a second later (endpointSliceChangeMinSyncDelay: kube-proxy uses the slice meanwhile); the sync deletes
    that slice and writes the Service's own, with node2's zone as it is now."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "relabel.yaml").write_text(NODES.replace("ZONE", "zone-a").split("---\n")[1])
    (tmp_path / "svc.yaml").write_text(SERVICE)
    (tmp_path / "slice.yaml").write_text(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-fake\n  labels:\n"
        "    kubernetes.io/service-name: web\n"
        "    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io\n"
        "addressType: IPv4\nendpoints: [{addresses: [10.9.9.9]}]\nports: [{port: 8080, protocol: TCP}]\n")
    steps = _endpoint_steps(tmp_path, "create deployment web --image=nginx --replicas=2 --port=8080\n"
                            "apply -f svc.yaml\nwait 10s\napply -f relabel.yaml\napply -f slice.yaml\nwait 1s\n",
                            monkeypatch, capsys)
    assert all("zone=zone-b" in line for line in _on(steps[3], "node2"))
    assert "10.9.9.9" in steps[4] and all("zone=zone-b" in line for line in _on(steps[4], "node2"))
    assert "10.9.9.9" not in steps[5]
    assert _on(steps[5], "node2") and all("zone=zone-a" in line and line.endswith("for-zones=zone-a")
                                          for line in _on(steps[5], "node2"))


def _pod(name: str, node: str, ip: str, port: str) -> str:
    return ("apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default, labels: {app: web}}\n"
            "spec: {nodeName: " + node + ", containers: [{name: c, image: nginx, ports: [" + port + "]}]}\n"
            "status: {podIPs: [{ip: " + ip + "}], podIP: " + ip + ", conditions: [{type: Ready, status: 'True'}]}\n")


def test_a_pod_applied_again_on_another_node_is_replaced_and_its_service_synced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """spec.nodeName cannot be updated once set: the model replaces the pod, which upstream is a delete and a
    create (deletePod, addPod), so the Service is synced and the endpoint names node2 and its zone."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "svc.yaml").write_text(SERVICE)
    (tmp_path / "a.yaml").write_text(_pod("mover", "node1", "10.244.0.50", "{containerPort: 8080}"))
    (tmp_path / "b.yaml").write_text(_pod("mover", "node2", "10.244.0.50", "{containerPort: 8080}"))
    steps = _endpoint_steps(tmp_path, "apply -f svc.yaml\napply -f a.yaml\napply -f b.yaml\nwait 10s\n",
                            monkeypatch, capsys)
    assert _on(steps[1], "node1") and not _on(steps[1], "node2")
    assert "pod/mover configured" in steps[2]
    for step in steps[2:]:
        assert not _on(step, "node1")
        assert [line.endswith("zone=zone-b pod=mover for-zones=zone-b") for line in _on(step, "node2")] == [True]


def test_a_pod_applied_again_with_a_new_port_is_replaced_and_its_service_synced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A named targetPort whose container port moves from 8080 to 9090 (containers' ports are immutable, so the
    pod is replaced): the endpoint follows the new port."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "svc.yaml").write_text(SERVICE.replace("targetPort: 8080", "targetPort: http")
                                       .replace(", trafficDistribution: PreferClose", ""))
    (tmp_path / "a.yaml").write_text(_pod("porter", "node1", "10.244.0.60", "{name: http, containerPort: 8080}"))
    (tmp_path / "b.yaml").write_text(_pod("porter", "node1", "10.244.0.60", "{name: http, containerPort: 9090}"))
    steps = _endpoint_steps(tmp_path, "apply -f svc.yaml\napply -f a.yaml\napply -f b.yaml\n", monkeypatch, capsys)
    assert "10.244.0.60:8080/TCP ready" in steps[1]
    assert "pod/porter configured" in steps[2] and "10.244.0.60:9090/TCP ready" in steps[2]
    assert ":8080/" not in steps[2]


def _lost_pod_steps(tmp_path: Path, waits: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    """The steps of: the Service, a pod on node9 (no such Node: the sync fails at t=0), the first wait, node9
    applied, the other waits; and the diagnostics."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "svc.yaml").write_text(SERVICE)
    (tmp_path / "pod.yaml").write_text(_pod("lost", "node9", "10.244.9.7", "{containerPort: 8080}"))
    (tmp_path / "node9.yaml").write_text(_node("node9", "zone-a", 9, "4"))
    first, *rest = waits
    script = "".join(["apply -f svc.yaml\napply -f pod.yaml\n", first, "apply -f node9.yaml\n", *rest])
    (tmp_path / "s.script").write_text(script)
    assert run_cli(["scenario", str(tmp_path / "s.script"), "-f", str(tmp_path / "nodes.yaml"), "--show",
                    "endpoints", "--hostname-override", "node1"], monkeypatch) == 0
    out, err = capsys.readouterr()
    return out.split("# step ")[1:], err


LOST = ["10.244.9.7:8080/TCP ready node=node9 zone=zone-a pod=lost for-zones=zone-a"]


def _lost(step: str) -> list[str]:
    return [line.split("default/web ")[1] for line in _on(step, "node9")]


def test_a_failed_sync_is_retried_a_second_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod on a Node the controller does not know fails the Service's sync (FailedToUpdateEndpointSlices); the
    workqueue retries the key after 1s (defaultSyncBackOff), so once node9 exists the retry writes its endpoint
    though no event of the Service or its pods came (a Node added queues only overloaded Auto Services); not at
    once: node9 applied at the same instant waits for that second."""
    steps, err = _lost_pod_steps(tmp_path, ("", "wait 0.5s\n", "wait 0.5s\n"), monkeypatch, capsys)
    assert "(no endpoints)" in steps[1] and "Node node9 Not Found" in err
    assert _lost(steps[2]) == [] and _lost(steps[3]) == []  # t=0, t=0.5s
    assert _lost(steps[4]) == LOST  # t=1s


def test_the_retries_back_off_and_the_service_is_dropped_after_15(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The retries come at 1, 3, 7, ... 1023s (1s doubling to 512s), then every 1000s (maxSyncBackOff): the
    15th and last at 6023s. Node9 applied at 6022s is written by that retry; applied at 6023s, after it, the
    Service is out of the queue (maxRetries 15) and nothing writes the endpoint, however long one waits, until
    an event queues the Service again."""
    steps, _ = _lost_pod_steps(tmp_path, ("wait 6022s\n", "wait 1s\n"), monkeypatch, capsys)
    assert _lost(steps[3]) == [] and _lost(steps[4]) == LOST
    steps, _ = _lost_pod_steps(tmp_path, ("wait 5024s\n", "wait 998s\n", "wait 1s\n"), monkeypatch, capsys)
    assert _lost(steps[4]) == [] and _lost(steps[5]) == LOST  # node9 after the 14th retry (5023s); the 15th
    (tmp_path / "other.yaml").write_text(_pod("other", "node1", "10.244.0.8", "{containerPort: 8080}"))
    steps, _ = _lost_pod_steps(tmp_path, ("wait 6023s\n", "wait 100000s\n", "apply -f other.yaml\n"),
                               monkeypatch, capsys)
    assert _lost(steps[3]) == [] and _lost(steps[4]) == []
    assert _lost(steps[5]) == LOST  # addPod of another pod queues the Service


def test_a_pod_event_during_a_wait_is_synced_at_its_own_instant_between_the_retries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The lost pod applied at 1s fails the sync; during the wait 1s-20s the retries at 2s and 4s fail, the
    Deployment's pod turns ready at 5s, whose event's sync fails too (its re-add at 13s loses to the one waiting
    for 8s: the earlier is kept), and the retry at 8s fails, the 5th failure: next at 24s. So node9, applied at
    20s, is written at 24s, not at 23s. Counted at the wait's end instead, the ready event was a 6th failure
    after the retry at 16s, and node9 waited for 32s."""
    (tmp_path / "nodes.yaml").write_text(NODES.replace("ZONE", "zone-b"))
    (tmp_path / "svc.yaml").write_text(SERVICE)
    (tmp_path / "pod.yaml").write_text(_pod("lost", "node9", "10.244.9.7", "{containerPort: 8080}"))
    (tmp_path / "node9.yaml").write_text(_node("node9", "zone-a", 9, "4"))
    steps = _endpoint_steps(tmp_path, "apply -f svc.yaml\ncreate deployment web --image=nginx --replicas=1 "
                            "--port=8080\nwait 1s\napply -f pod.yaml\nwait 19s\napply -f node9.yaml\nwait 3s\n"
                            "wait 1s\n", monkeypatch, capsys)
    assert "t=23s" in steps[6] and _lost(steps[6]) == []
    assert "t=24s" in steps[7] and _lost(steps[7]) == LOST
