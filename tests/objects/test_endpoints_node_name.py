"""An Endpoints address's nodeName, when set (even to ""), must be a node name: the API server's ValidateEndpoints
(validateEndpointAddress: ValidateNodeName, a DNS-1123 subdomain, on a non-nil NodeName) refuses the object
otherwise, so ``rules -f`` reports it on one line (file, Endpoints NS/NAME, the field path, what is expected),
skips it, uses the others and exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

OBJECTS = """\
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {clusterIP: 10.96.0.20, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext}
subsets: [{addresses: [{ip: 192.0.2.10, nodeName: NODE}], ports: [{port: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: ok}
spec: {clusterIP: 10.96.0.21, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ok}
subsets: [{addresses: [{ip: 192.0.2.11, nodeName: node1}], ports: [{port: 8080}]}]
"""


@pytest.mark.parametrize("node", ['""', "Node_1", "-a"])
def test_an_endpoints_address_with_a_bad_node_name_is_refused(tmp_path: Path, node: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ep.yaml"
    path.write_text(OBJECTS.replace("NODE", node))
    assert main(["rules", "-f", str(path), "--hostname-override", "node1"]) == 1
    captured = capsys.readouterr()
    refusals = [line for line in captured.err.splitlines() if "nodeName" in line]
    assert len(refusals) == 1
    assert refusals[0].startswith(f"kubeproxy-sim: {path}: Endpoints default/ext: "
                                  "subsets[0].addresses[0].nodeName: ")
    assert "is not a DNS-1123 subdomain" in refusals[0]
    assert "192.0.2.11" in captured.out and "192.0.2.10" not in captured.out


def test_a_node_name_left_out_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ep.yaml"
    path.write_text(OBJECTS.replace(", nodeName: NODE", ""))
    assert main(["rules", "-f", str(path), "--hostname-override", "node1"]) == 0
    assert "192.0.2.10" in capsys.readouterr().out
