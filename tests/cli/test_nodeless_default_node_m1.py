"""The default node of objects without any Node object (``kubectl get svc,endpointslices,pods``; u-walk): the
pods' and endpoints' nodeNames are the nodes, so the first of them by name is the node, and no ``node1`` joins
them unless nothing names a node (it is then the one node) or the user names it (--hostname-override)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.main import main

# web: externalTrafficPolicy Local, one endpoint on each of n1 and n2; a client pod on n2
NODELESS = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec:
    type: NodePort
    clusterIP: 10.96.0.50
    externalTrafficPolicy: Local
    healthCheckNodePort: 32000
    ports: [{name: http, port: 80, protocol: TCP, targetPort: 80, nodePort: 30080}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{name: http, port: 80, protocol: TCP}]
  endpoints:
  - {addresses: [10.1.0.5], nodeName: n1, conditions: {ready: true}}
  - {addresses: [10.1.1.5], nodeName: n2, conditions: {ready: true}}
- {apiVersion: v1, kind: Pod, metadata: {name: client, namespace: shop}, spec: {nodeName: n2},
   status: {phase: Running, podIP: 10.1.1.9, podIPs: [{ip: 10.1.1.9}]}}
"""
NODE_FLAGS = ["--cluster-cidr", "10.1.0.0/16"]


def _write(tmp_path: Path, text: str = NODELESS, name: str = "objects.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main([*argv, *NODE_FLAGS, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _view(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(v for v in data["services"][0]["views"] if v["kind"] == kind)


def test_dist_takes_the_named_nodes_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["dist", "-f", _write(tmp_path), "--to", "web.shop"])
    assert data["nodes"] == ["n1", "n2"]
    node_port = _view(data, "nodePort")
    assert [(e["node"], e["weight_exact"]) for e in node_port["entries"]] == [("n1", "1/2"), ("n2", "1/2")]
    # each node has a local endpoint: the Local policy drops nothing on average
    assert {o["verdict"] for o in node_port["average"]["outcomes"]} == {"DNAT"}
    sources = [e["source"]["address"] for e in _view(data, "clusterIP")["entries"]]
    assert sources == ["10.1.0.200", "10.1.1.9"]  # one made-up client pod, on n1 alone


def test_a_node_named_by_the_user_joins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["dist", "-f", _write(tmp_path), "--to", "web.shop", "--hostname-override", "node1"])
    assert data["nodes"] == ["node1", "n1", "n2"]
    drops = [o for o in _view(data, "nodePort")["average"]["outcomes"] if o["verdict"] == "DROP"]
    assert [o["probability_exact"] for o in drops] == ["1/3"]  # node1 has no local endpoint of the Local policy


def test_node1_is_the_one_node_when_nothing_names_a_node(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    unnamed = NODELESS.replace(", nodeName: n1", "").replace(", nodeName: n2", "").replace(
        ", spec: {nodeName: n2}", ", spec: {}")
    data = _json(capsys, ["dist", "-f", _write(tmp_path, unnamed), "--to", "web.shop"])
    assert data["nodes"] == ["node1"]


def test_the_objects_naming_node1_keep_it_the_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["dist", "-f", _write(tmp_path, NODELESS.replace("n2", "node1")), "--to", "web.shop"])
    assert data["nodes"] == ["node1", "n1"]  # node1 first, as before: an object names it


def test_diff_compares_on_a_named_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = NODELESS.replace("  - {addresses: [10.1.1.5], nodeName: n2, conditions: {ready: true}}\n", "")
    argv = ["diff", "-f", _write(tmp_path), "--against", _write(tmp_path, after, "after.yaml")]
    assert main([*argv, *NODE_FLAGS]) == 0
    text = capsys.readouterr().out
    assert text.startswith("rules compared on node n1\n")
    assert "node1" not in text
    assert "nodePort <node>:30080 on n2: DROP" in text  # n2 lost its local endpoint; n1 kept its own


def test_send_refuses_the_made_up_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["send", "-f", _write(tmp_path), "--from", "external", "--to", "node/node1:30080", "--count", "4"]
    assert main([*argv, *NODE_FLAGS]) == 1
    assert "expected one of n1, n2" in capsys.readouterr().err


def test_rules_are_those_of_the_first_named_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "-f", _write(tmp_path), *NODE_FLAGS]) == 0
    text = capsys.readouterr().out
    assert "-A KUBE-SVL-" in text and "10.1.0.5:80" in text  # n1's local endpoint: its Local chain
    assert "\"shop/web:http has no local endpoints\"" not in text


def test_trace_without_src_pod_traces_the_first_named_node(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["trace", "-f", _write(tmp_path), "--src", "203.0.113.10", "--dst", "10.96.0.50",
                          "--dport", "80"])
    assert data["node"] == "n1"
