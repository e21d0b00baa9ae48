"""A hostPort on a pod without hostNetwork is warned where the simulator drops what upstream does with it: a
container's (kube-scheduler's NodePorts reserves it and the CNI's portmap plugin forwards it) and a sidecar's
(NodePorts counts a sidecar's host ports as a container's, kubernetes/kubernetes#132040, though the kubelet gives
portmap spec.containers' ports alone), a loaded Pod's as a Deployment template's; a plain init container's, which
nothing upstream reads, is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.controllers.decode import HOST_PORT_DROPPED, SIDECAR_HOST_PORT_DROPPED, decode_deployment

from ._helpers import run_cli

NODE = """apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24]}
status: {addresses: [{address: 192.168.49.2, type: InternalIP}]}
"""
INIT = ("initContainers: [{name: migrate, image: busybox, ports: [{containerPort: 7000, hostPort: 7000}]}, "
        "{name: tls, image: envoy, restartPolicy: Always, ports: [{containerPort: 9443, hostPort: 9443}]}]")
POD = f"""apiVersion: v1
kind: Pod
metadata: {{name: mapped}}
spec:
  containers: [{{name: app, image: nginx, ports: [{{containerPort: 80, hostPort: 8080}}]}}]
  {INIT}
"""
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                  "metadata": {"labels": {"app": "web"}},
                  "spec": {"containers": [{"name": "web", "image": "nginx",
                                           "ports": [{"containerPort": 80, "hostPort": 8080}]}],
                           "initContainers": [
                               {"name": "migrate", "image": "busybox",
                                "ports": [{"containerPort": 7000, "hostPort": 7000}]},
                               {"name": "tls", "image": "envoy", "restartPolicy": "Always",
                                "ports": [{"containerPort": 9443, "hostPort": 9443}]}]}}}}


def test_a_loaded_pods_sidecar_host_port_is_warned_and_a_plain_init_containers_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Before, only spec.containers were looked at: the sidecar's hostPort was dropped with no word."""
    (tmp_path / "node.yaml").write_text(NODE)
    (tmp_path / "pod.yaml").write_text(POD)
    script = tmp_path / "script"
    script.write_text("apply -f pod.yaml\n")
    assert run_cli(["scenario", str(script), "-f", str(tmp_path / "node.yaml"), "--hostname-override", "node1"],
                   monkeypatch) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]
    where = f"kubeproxy-sim: {tmp_path / 'pod.yaml'}: Pod default/mapped: "
    assert warned == [f"{where}spec.containers[0].ports[0].hostPort: warning: {HOST_PORT_DROPPED}",
                      f"{where}spec.initContainers[1].ports[0].hostPort: warning: {SIDECAR_HOST_PORT_DROPPED}"]


def test_a_templates_sidecar_host_port_has_the_sidecars_words_and_a_plain_init_containers_none() -> None:
    """A Deployment template's sidecar is warned in the sidecar's words (portmap forwards no sidecar port), and
    its plain init container not at all (nothing upstream reserves or forwards that port)."""
    _, found = decode_deployment(DEPLOYMENT, "web.yaml")
    assert [(d.field, d.message) for d in found] == [
        ("spec.template.spec.containers[0].ports[0].hostPort", HOST_PORT_DROPPED),
        ("spec.template.spec.initContainers[1].ports[0].hostPort", SIDECAR_HOST_PORT_DROPPED)]
