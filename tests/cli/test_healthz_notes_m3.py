"""healthz says only what can bear on its answer: the detect-local note (rules left out) is the rules' business.

u-walk 3: ``healthz -f np.yaml default/lbnonp`` printed ``--detect-local-mode: note: ClusterCIDR with no IPv4
cluster CIDR...``, a note about masquerade rules, which the service health server never reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

LB_LOCAL = """\
apiVersion: v1
kind: Service
metadata: {name: lbnonp, namespace: default}
spec:
  type: LoadBalancer
  allocateLoadBalancerNodePorts: false
  clusterIP: 10.96.13.1
  externalTrafficPolicy: Local
  healthCheckNodePort: 31999
  ports: [{port: 80}]
status: {loadBalancer: {ingress: [{ip: 192.0.2.77}]}}
"""
DETECT_LOCAL_NOTE = "--detect-local-mode: note: ClusterCIDR with no IPv4 cluster CIDR"


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    path = tmp_path / "np.yaml"
    path.write_text(LB_LOCAL, encoding="utf-8")
    return path


def test_healthz_leaves_out_the_detect_local_note_that_rules_gives(objects: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "-f", str(objects)]) == 0
    assert DETECT_LOCAL_NOTE in capsys.readouterr().err  # (the note is there to leave out)
    assert main(["healthz", "-f", str(objects), "default/lbnonp", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] == 503 and err == ""


def test_a_detect_local_setting_kube_proxy_refuses_is_still_said(objects: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Only the note goes: a mode without its interface keeps kube-proxy from starting, an answer's business."""
    main(["healthz", "-f", str(objects), "--detect-local-mode", "BridgeInterface", "default/lbnonp"])
    assert "--detect-local-mode: BridgeInterface needs an interface" in capsys.readouterr().err
