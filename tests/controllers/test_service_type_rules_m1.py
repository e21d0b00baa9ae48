"""The scenario's API server refuses a Service carrying a field its type may not carry, on create (apply -f) and on
update (patch, after registry/core/service/strategy.go dropTypeDependentFields cleared what the new type no longer
uses and the patch left as it was), in kubectl's words (u1's walkthrough: both were accepted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.objects.model import ServiceType, TrafficPolicy

from ._helpers import played_worlds, run_cli
from .test_patch_get_label import exposed, run

LB_ONLY = "may only be used when `type` is 'LoadBalancer'"


def test_a_type_change_keeps_the_source_ranges_and_is_refused() -> None:
    world, rng = exposed(kind="LoadBalancer")
    world, played = run(world, rng, "patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\","
                                    "\"loadBalancerSourceRanges\":[\"192.0.2.0/24\"]}}'")
    assert played[0].error is None, played[0].error
    after, played = run(world, rng, "patch service web --type merge -p '{\"spec\":{\"type\":\"ClusterIP\"}}'")
    assert played[0].error == f'The Service "web" is invalid: spec.LoadBalancerSourceRanges: Forbidden: {LB_ONLY}'
    assert after is world
    # the same change dropping the ranges too goes through: node ports, health check port and policy are dropped
    after, played = run(world, rng, "patch service web --type merge -p "
                                    "'{\"spec\":{\"type\":\"ClusterIP\",\"loadBalancerSourceRanges\":null}}'")
    assert played[0].error is None, played[0].error
    service = after.service("default", "web")
    assert service is not None and service.type is ServiceType.CLUSTER_IP and not service.health_check_node_port
    assert all(not p.node_port for p in service.ports)


def test_the_dropped_health_check_port_is_no_error_but_a_kept_one_is() -> None:
    world, rng = exposed(kind="LoadBalancer")
    world, played = run(world, rng, "patch service web -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'")
    service = world.service("default", "web")
    assert service is not None and service.health_check_node_port, played[0].error
    to_node_port, played = run(world, rng, "patch service web -p '{\"spec\":{\"type\":\"NodePort\"}}'")
    assert played[0].error is None, played[0].error
    service = to_node_port.service("default", "web")
    assert service is not None and service.external_traffic_policy is TrafficPolicy.LOCAL
    assert service.health_check_node_port == 0  # dropTypeDependentFields: unchanged, no longer needed
    port = world.service("default", "web").health_check_node_port  # type: ignore[union-attr]
    _, played = run(world, rng, "patch service web -p "
                                f"'{{\"spec\":{{\"type\":\"NodePort\",\"healthCheckNodePort\":{port + 1}}}}}'")
    assert played[0].error == (f'The Service "web" is invalid: spec.healthCheckNodePort: Invalid value: {port + 1}: '
                               "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")


def test_a_node_port_patched_onto_a_cluster_ip_service_is_refused_in_kubectls_words() -> None:
    world, rng = exposed(kind="ClusterIP")
    _, played = run(world, rng, "patch service web -p '{\"spec\":{\"ports\":[{\"port\":80,\"nodePort\":30080}]}}'")
    assert played[0].error == ('The Service "web" is invalid: spec.ports[0].nodePort: Forbidden: may not be used '
                               "when `type` is 'ClusterIP'")


NP_LOCAL_HC = """
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  healthCheckNodePort: 32001
  selector: {app: web}
  ports: [{port: 80}]
"""

CLUSTER_IP_LOCAL = """
apiVersion: v1
kind: Service
metadata: {name: c}
spec:
  externalTrafficPolicy: Local
  loadBalancerClass: example.com/lb
  selector: {app: web}
  ports: [{port: 80}]
"""


@pytest.mark.parametrize(("manifest", "kubectl", "reader"), [
    (NP_LOCAL_HC, 'The Service "np" is invalid: spec.healthCheckNodePort: Invalid value: 32001: may only be set '
                  "when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
     "Service default/np: spec.healthCheckNodePort: may only be set when `type` is 'LoadBalancer' and "
     "`externalTrafficPolicy` is 'Local' (this Service: type NodePort, externalTrafficPolicy Local); the API server "
     "refuses it"),
    (CLUSTER_IP_LOCAL, f'The Service "c" is invalid: [spec.loadBalancerClass: Forbidden: {LB_ONLY}, '
                       'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible '
                       "services]",
     f"Service default/c: spec.loadBalancerClass: {LB_ONLY} (this Service: type ClusterIP); the API server "
     "refuses it"),
])
def test_apply_creating_a_service_its_type_forbids_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str], manifest: str,
                                                              kubectl: str, reader: str) -> None:
    """Refused by the API server in kubectl's words; or, where the manifest reader checks these fields too
    (objects.decode's hook), by the reader first, naming the file and field, as for any object it refuses."""
    (tmp_path / "svc.yaml").write_text(manifest)
    (tmp_path / "script").write_text("apply -f svc.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["scenario", "script"], monkeypatch) == 1
    err = capsys.readouterr().err
    assert f"script:1: apply: {kubectl}" in err or f"svc.yaml: {reader}" in err, err


def test_a_valid_local_load_balancer_applies(tmp_path: Path) -> None:
    text = NP_LOCAL_HC.replace("type: NodePort", "type: LoadBalancer")
    (_, notes), = played_worlds(tmp_path, ["apply -f lb.yaml"], strict=True, lb=text)
    assert notes == ["service/np created"]


def test_the_starting_objects_are_stored_already_and_not_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario's -f objects are the cluster as it stands: rulesets/upstream-internal-external-masquerade-* carry
    upstream's proxier-test LoadBalancers with externalTrafficPolicy Cluster and a healthCheckNodePort, which start
    a scenario as before; applying the same file in a step is the API server's create, and refused."""
    lb = NP_LOCAL_HC.replace("type: NodePort", "type: LoadBalancer").replace("externalTrafficPolicy: Local",
                                                                            "externalTrafficPolicy: Cluster")
    (tmp_path / "lb.yaml").write_text(lb)
    (tmp_path / "script").write_text("get services\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["scenario", "script", "-f", "lb.yaml"], monkeypatch) == 0
    assert "invalid" not in capsys.readouterr().err
    (tmp_path / "script").write_text("apply -f lb.yaml\n")
    assert run_cli(["scenario", "script"], monkeypatch) == 1
    assert 'The Service "np" is invalid: spec.healthCheckNodePort: Invalid value: 32001' in capsys.readouterr().err
