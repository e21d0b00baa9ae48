"""``trace --src POD_IP`` on objects without any Node object (``kubectl get svc,endpointslices,pods``; u-walk): the
pods' and endpoints' nodeNames are the nodes then, as ``send`` and ``dist`` take them, so a pod's packet is
traced on its own node, not on a node no object names with a note that "no Node object is named" the pod's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.main import main

# web has internalTrafficPolicy Local, one endpoint on each of n1 and n2: the node traced decides the endpoint
NODELESS = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec:
    clusterIP: 10.96.0.50
    internalTrafficPolicy: Local
    ports: [{name: http, port: 80, protocol: TCP, targetPort: 80}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{name: http, port: 80, protocol: TCP}]
  endpoints:
  - {addresses: [10.1.0.5], nodeName: n1, conditions: {ready: true}}
  - {addresses: [10.1.1.5], nodeName: n2, conditions: {ready: true}}
- {apiVersion: v1, kind: Pod, metadata: {name: web-a, namespace: shop}, spec: {nodeName: n1},
   status: {phase: Running, podIP: 10.1.0.5, podIPs: [{ip: 10.1.0.5}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: client, namespace: shop}, spec: {nodeName: n2},
   status: {phase: Running, podIP: 10.1.1.9, podIPs: [{ip: 10.1.1.9}]}}
"""


def _trace(tmp_path: Path, capsys: pytest.CaptureFixture[str], src: str, *extra: str) -> dict[str, Any]:
    objects = tmp_path / "objects.yaml"
    objects.write_text(NODELESS)
    code = main(["trace", "-f", str(objects), "--cluster-cidr", "10.1.0.0/16", "--src", src, "--dst", "10.96.0.50",
                 "--dport", "80", *extra, "-o", "json"])
    out, _ = capsys.readouterr()
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize(("src", "node", "endpoint"), [("10.1.0.5", "n1", "10.1.0.5:80"),
                                                        ("10.1.1.9", "n2", "10.1.1.5:80")])
def test_a_pods_packet_is_traced_on_its_node_without_node_objects(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], src: str, node: str, endpoint: str) -> None:
    data = _trace(tmp_path, capsys, src)
    assert data["node"] == node
    assert [o["destination"] for o in data["outcomes"]] == [endpoint]  # Local: the pod's node's own endpoint
    assert not any("no Node object is named" in n for n in data["notes"])


def test_a_node_asked_for_is_kept_without_node_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(tmp_path, capsys, "10.1.1.9", "--hostname-override", "n1")
    assert data["node"] == "n1"
    assert [o["destination"] for o in data["outcomes"]] == ["10.1.0.5:80"]
    assert any("runs on node n2" in n and "as asked" in n for n in data["notes"])
