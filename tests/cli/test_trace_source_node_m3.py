"""``trace --src POD_IP`` traces the node the pod runs on (u1 item 1): a packet from a pod leaves through its own
node's rules, where internalTrafficPolicy Local keeps it on that node's endpoints; a node asked for is kept, with
a note naming the pod's node. ``send --from pod/...`` walks the pod's node the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.main import main

# api has internalTrafficPolicy Local, one endpoint per node: the node traced decides the endpoint
OBJECTS = """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Node, metadata: {name: node-a},
   spec: {podCIDR: 10.244.0.0/24}, status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}}
- {apiVersion: v1, kind: Node, metadata: {name: node-b},
   spec: {podCIDR: 10.244.1.0/24}, status: {addresses: [{type: InternalIP, address: 192.168.0.11}]}}
- apiVersion: v1
  kind: Service
  metadata: {name: api, namespace: shop}
  spec:
    clusterIP: 10.96.10.30
    internalTrafficPolicy: Local
    ports: [{name: grpc, port: 9090, protocol: TCP, targetPort: 9090}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: api-1, namespace: shop, labels: {kubernetes.io/service-name: api}}
  addressType: IPv4
  ports: [{name: grpc, port: 9090, protocol: TCP}]
  endpoints:
  - {addresses: [10.244.0.10], nodeName: node-a, conditions: {ready: true}}
  - {addresses: [10.244.1.11], nodeName: node-b, conditions: {ready: true}}
- {apiVersion: v1, kind: Pod, metadata: {name: api-1, namespace: shop}, spec: {nodeName: node-a},
   status: {phase: Running, podIP: 10.244.0.10, podIPs: [{ip: 10.244.0.10}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: api-2, namespace: shop}, spec: {nodeName: node-b},
   status: {phase: Running, podIP: 10.244.1.11, podIPs: [{ip: 10.244.1.11}]}}
"""

PACKET = ["--cluster-cidr", "10.244.0.0/16", "--src", "10.244.1.11", "--dst", "10.96.10.30", "--dport", "9090"]


def _trace(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    objects = tmp_path / "objects.yaml"
    objects.write_text(OBJECTS)
    code = main(["trace", "-f", str(objects), *PACKET, *extra, "-o", "json"])
    out, _ = capsys.readouterr()
    assert code == 0
    return json.loads(out)


def test_a_pods_packet_is_traced_on_the_pods_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(tmp_path, capsys)
    assert data["node"] == "node-b"  # the default node (the first by name) is node-a
    assert [o["destination"] for o in data["outcomes"]] == ["10.244.1.11:9090"]  # Local: node-b's own endpoint
    assert any("traced on node node-b, where pod shop/api-2" in n and "default node node-a" in n for n in data["notes"])


def test_a_node_asked_for_is_kept_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(tmp_path, capsys, "--hostname-override", "node-a")
    assert data["node"] == "node-a"
    assert [o["destination"] for o in data["outcomes"]] == ["10.244.0.10:9090"]
    assert any("pod shop/api-2" in n and "runs on node node-b" in n and "node node-a's" in n for n in data["notes"])


def test_a_pod_on_the_default_node_gets_no_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects = tmp_path / "objects.yaml"
    objects.write_text(OBJECTS)
    argv = [a if a != "10.244.1.11" else "10.244.0.10" for a in PACKET]
    assert main(["trace", "-f", str(objects), *argv, "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["node"] == "node-a"
    assert not any("spec.nodeName" in n for n in data["notes"])
