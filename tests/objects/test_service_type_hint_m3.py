"""A manifest's ``spec.type`` that is no type: the API server's answer (ValidateService's NotSupported, the
supported set sorted, as kubernetes' validation.go lists it) and, for a type differing only in case, the type meant,
worded as the scenario's ``expose --type`` (controllers.script); other enums name a near miss in case too."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  type: {kind}
  selector: {{app: web}}
  ports: [{{port: 80, protocol: {protocol}}}]
"""


def _error(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, protocol: str = "TCP") -> str:
    path = tmp_path / "svc.yaml"
    path.write_text(SERVICE.format(kind=kind, protocol=protocol))
    assert main(["rules", "-f", str(path)]) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize(("written", "meant"), [("Nodeport", "NodePort"), ("nodeport", "NodePort"),
                                                ("clusterIP", "ClusterIP"), ("LOADBALANCER", "LoadBalancer")])
def test_a_type_differing_in_case_names_the_type_and_the_api_servers_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, meant: str) -> None:
    err = _error(tmp_path, capsys, written)
    assert err == (f'kubeproxy-sim: {tmp_path / "svc.yaml"}: Service shop/web: spec.type: "{written}" is not a Service '
                   f"type (did you mean {meant}? the value is case-sensitive); expected ClusterIP, NodePort, "
                   f"LoadBalancer or ExternalName; the API server refuses it: spec.type: Unsupported value: "
                   f'"{written}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"\n')


def test_a_type_far_from_any_names_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(tmp_path, capsys, "Headless")
    assert "did you mean" not in err and 'Unsupported value: "Headless"' in err and err.count("\n") == 1


def test_a_protocol_in_lower_case_names_the_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(tmp_path, capsys, "ClusterIP", protocol="udp")
    assert 'spec.ports[0].protocol: "udp" is not a protocol (did you mean UDP? the value is case-sensitive)' in err
