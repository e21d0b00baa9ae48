"""send's rows say what the objects behind them say, as an on-call reader needs it: a failed row's rule as the
Service field behind it (trace's sentence, one home in analysis/why.py), a delivery to a port the pod does not
declare (noted, not refused: containerPorts are informational), and an endpoint no Pod object was read for
(marked, its made-up name not shown as if it were a Pod's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli.test_trace_why import NODES, endpoint

WEB = """
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec: {nodeName: node2, containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
status: {podIP: 10.244.2.10, podIPs: [{ip: 10.244.2.10}], phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [%s]
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: pg, port: 5432, protocol: TCP, targetPort: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: default, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
endpoints: [{addresses: [10.244.1.10], nodeName: node1}, {addresses: [10.244.1.11], nodeName: node1,
             targetRef: {kind: Pod, namespace: default, name: db-0}}]
ports: [{name: pg, port: 5432, protocol: TCP}]
"""

UNDECLARED = ("pod default/web-1 declares container ports 80 (TCP), not 8080: kube-proxy DNATs to the EndpointSlice's "
              "port 8080 regardless, and whether anything listens there is not in the objects (a declared port is "
              "informational; a wrong targetPort is refused by the pod, not by the rules); send has the pod answer "
              "there all the same: a simulated pod serves its declared ports and every port its EndpointSlices list "
              "for it")
LOCAL = ("default/web:http has spec.externalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
         "usable endpoints are 10.244.2.10 on node2), so kube-proxy here drops traffic that is not from this node or "
         "a pod of the cluster (-s 10.244.0.0/16) rather than forward it to another node")


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(NODES + WEB % endpoint("10.244.2.10", "node2"))
    return path


def send(path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict, str]:
    """send's JSON and text of one run."""
    args = ["send", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--count", "10", *argv]
    assert main([*args, "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    return data, capsys.readouterr().out


def test_a_delivery_to_a_port_the_pod_does_not_declare_is_noted_not_refused(objects, capsys) -> None:
    data, text = send(objects, capsys, "--from", "pod/default/client", "--to", "10.96.0.10:80")
    (row,) = data["delivered"]
    assert (row["pod"], row["count"], row["pod_object"], row["why"]) == ("default/web-1", 10, True, [UNDECLARED])
    assert text.splitlines()[-1] == f"note: {UNDECLARED}"


def test_a_declared_port_gets_no_note(tmp_path, capsys) -> None:
    path = tmp_path / "cluster.yaml"
    declared = (WEB % endpoint("10.244.2.10", "node2")).replace("containerPort: 80", "containerPort: 8080")
    path.write_text(NODES + declared)
    data, text = send(path, capsys, "--from", "pod/default/client", "--to", "10.96.0.10:80")
    assert data["delivered"][0]["why"] == [] and "note:" not in text


def test_a_dropped_row_names_the_service_field_behind_its_rule(objects, capsys) -> None:
    data, text = send(objects, capsys, "--from", "external", "--to", "node/node1:30080")
    (row,) = data["failed"]
    assert row["reason"] == "DROP" and "has no local endpoints" in row["detail"] and row["why"] == [LOCAL]
    assert text.splitlines()[-1] == f"note: {LOCAL}"


def test_a_rejected_row_says_which_of_the_no_endpoints_reasons(tmp_path, capsys) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(NODES + WEB % endpoint("10.244.2.10", "node2", ready=False, serving=False))
    data, _ = send(path, capsys, "--from", "pod/default/client", "--to", "10.96.0.10:80")
    (row,) = data["failed"]
    assert row["reason"] == "REJECT" and row["why"] == [
        "default/web:http has no endpoints, so kube-proxy rejects the connection (ICMP port unreachable): none of "
        "its endpoints is ready, or serving while terminating: 10.244.2.10 (ready false, serving false, terminating "
        "false); kube-proxy uses ready endpoints, else serving terminating ones (spec.publishNotReadyAddresses true "
        "would have the EndpointSlice controller list its pods as ready)"]


def test_a_failure_no_rule_decided_has_no_why(objects, capsys) -> None:
    data, _ = send(objects, capsys, "--from", "pod/default/client", "--to", "10.244.2.10:9999")
    (row,) = data["failed"]
    assert row["reason"] == "REJECT" and row["detail"].startswith("pod default/web-1 (10.244.2.10): nothing listens")
    assert row["why"] == []


def test_an_endpoint_without_a_pod_object_is_marked_not_named_like_a_pod(objects, capsys) -> None:
    data, text = send(objects, capsys, "--from", "pod/default/client", "--to", "10.96.0.20:5432", "--count", "40")
    rows = {row["pod"]: row for row in data["delivered"]}
    assert set(rows) == {"default/ep-10-244-1-10", "default/db-0"}  # the JSON's keys stay as they were
    assert [row["pod_object"] for row in rows.values()] == [False, False]
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[3:5]] == ["default/db-0*", "default/10.244.1.10*"]
    assert "ep-10-244-1-10" not in text
    assert lines[-1] == ("* no Pod object was read at this address: an EndpointSlice's endpoint, named after its "
                         "targetRef or (NS/ADDRESS) its address; send has it answer on the ports its slices list")


def test_pod_object_is_null_for_a_node(objects, capsys) -> None:
    healthz = "192.168.0.11:10256"  # kube-proxy's, a node's own socket
    data, text = send(objects, capsys, "--from", "pod/default/client", "--to", healthz)
    assert [(row["pod"], row["pod_object"]) for row in data["delivered"]] == [("node/node2", None)]
    assert "*" not in text
