"""A Pod's sidecars (initContainers with restartPolicy Always) listen as its containers do: where a reader of a Pod's
container ports decides what the pod serves or declares, it reads the sidecars' ports too (``Pod.sidecar_ports``):
send's simulated pod answers on them, ``netns up`` plans a server for them, and trace/send say no "declares
container ports ..., not N" of a port a sidecar declares (a named targetPort FindPort resolves to a sidecar's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeproxy_sim.analysis.why import undeclared_port_note
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import ContainerPort, Pod, Protocol
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.topology import build_topology
from tests.cli.test_trace_why import NODES
from tests.simulator.builders import sidecar_pod


def _service(name: str, cluster_ip: str, port: dict, endpoint_port: dict) -> list[dict]:
    """A Service selecting web-1 by its ``port`` (its targetPort a name) and the slice the EndpointSlice controller
    writes for it (``endpoint_port``, that name resolved)."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
             "spec": {"clusterIP": cluster_ip, "selector": {"app": "web"}, "ports": [port]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": f"{name}-abcde", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4",
             "endpoints": [{"addresses": ["10.244.2.10"], "nodeName": "node2",
                            "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-1"}}],
             "ports": [endpoint_port]}]


def _with_nodes(*docs: dict) -> str:
    """tests/cli's two nodes and client pod, then ``docs``: one manifest file's text."""
    return NODES + "---\n" + yaml.safe_dump_all(docs)


# web-1: its app serves http (8080), its TLS sidecar https (9443); web's targetPort names the one, web-tls's the
# other (the slices as the EndpointSlice controller writes them); nothing names the sidecar's admin port 9901
SIDECAR = _with_nodes(
    sidecar_pod("web-1", "10.244.2.10", "node2", [{"name": "http", "containerPort": 8080}],
                [{"name": "https", "containerPort": 9443}, {"name": "admin", "containerPort": 9901}],
                labels={"app": "web"}),
    *_service("web", "10.96.0.10", {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
              {"name": "http", "port": 8080, "protocol": "TCP"}),
    *_service("web-tls", "10.96.0.11", {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"},
              {"name": "https", "port": 9443, "protocol": "TCP"}))

CONFIG = ProxyConfig(node_name="node1", node_ips=("192.168.0.10/24",), cluster_cidrs=("10.244.0.0/16",))
SERVED = {("tcp", 8080), ("tcp", 9443), ("tcp", 9901)}


def _send(tmp_path: Path, capsys: pytest.CaptureFixture[str], to: str) -> dict:
    path = tmp_path / "sidecar.yaml"
    path.write_text(SIDECAR)
    assert main(["send", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
                 "--from", "pod/default/client", "--to", to, "--count", "4", "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_send_reaches_a_port_only_a_sidecar_declares(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No EndpointSlice lists 9901: before, the simulated pod served its containers' ports and the slices' only,
    and refused it ('nothing listens on tcp/9901 (it serves tcp/8080, tcp/9443)')."""
    out = _send(tmp_path, capsys, "10.244.2.10:9901")
    assert [(d["pod"], d["count"]) for d in out["delivered"]] == [("default/web-1", 4)]
    assert not out["failed"]


def test_send_to_a_service_whose_named_target_port_is_a_sidecars_says_no_undeclared_port(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """web-tls's targetPort https is the sidecar's 9443: the pod answers, and send's why has no 'declares container
    ports 8080 (TCP), not 9443' (said before)."""
    out = _send(tmp_path, capsys, "10.96.0.11:443")
    assert [(d["pod"], d["count"], d["why"]) for d in out["delivered"]] == [("default/web-1", 4, [])]


def test_trace_of_a_dnat_to_a_sidecars_port_has_no_undeclared_port_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sidecar.yaml"
    path.write_text(SIDECAR)
    assert main(["trace", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
                 "--src", "10.244.1.5", "--dst", "10.96.0.11", "--dport", "443", "-o", "json"]) == 0
    assert not [n for n in json.loads(capsys.readouterr().out)["notes"] if "declares container ports" in n]


def test_the_undeclared_port_note_counts_the_sidecars_ports_and_still_names_a_port_nobody_declares() -> None:
    pod = Pod("default", "web-1", ports=(ContainerPort("http", 8080, Protocol.TCP),),
              sidecar_ports=(ContainerPort("https", 9443, Protocol.TCP),))
    assert undeclared_port_note(pod, 9443, Protocol.TCP) == []
    sidecar_only = Pod("default", "proxy", sidecar_ports=(ContainerPort("https", 9443, Protocol.TCP),))
    assert undeclared_port_note(sidecar_only, 9443, Protocol.TCP) == []
    assert undeclared_port_note(pod, 7000, Protocol.TCP)[0].startswith(
        "pod default/web-1 declares container ports 8080, 9443 (TCP), not 7000:")


def test_both_backends_serve_the_sidecars_ports() -> None:
    """send's topology and netns up's plan give the pod the same ports: its app's, its sidecar's (9901 too, which
    no slice lists) and its slices'; before, both left 9901 out."""
    cluster = load_text(SIDECAR).cluster
    sim = {p.ip: p for p in build_topology(cluster, CONFIG).pods}
    kernel = {p.ip: p for p in plan("sidecar", cluster, CONFIG).pods}
    assert sim["10.244.2.10"].ports == frozenset(SERVED)
    assert set(kernel["10.244.2.10"].ports) == SERVED and not kernel["10.244.2.10"].any_port


def _in_both_backends(pod: dict) -> tuple[Any, Any]:
    """``pod`` beside tests/cli's nodes, as send's topology and netns up's plan each give it (found by its key)."""
    cluster = load_text(_with_nodes(pod)).cluster
    key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    return (next(p for p in build_topology(cluster, CONFIG).pods if p.key == key),
            next(p for p in plan("sidecar", cluster, CONFIG).pods if p.key == key))


def test_a_pod_whose_sidecar_alone_declares_ports_serves_those_in_both_backends() -> None:
    """Its containers declare none and no slice lists it: before, neither backend read the sidecar, so both took
    it for a pod declaring nothing, which answers on any port (the plan's any_port, send's ports None); now both
    serve the sidecar's port alone, as for a pod declaring it in a container."""
    sim, kernel = _in_both_backends(sidecar_pod("proxy", "10.244.2.20", "node2", [], [{"containerPort": 15001}]))
    assert sim.ports == frozenset({("tcp", 15001)})
    assert (kernel.ports, kernel.any_port) == ((("tcp", 15001),), False)


def test_a_host_network_pods_sidecar_port_is_served_at_its_node() -> None:
    """A host-network pod's sidecar listens in its node's namespace: the node answers its port in both backends."""
    sim, kernel = _in_both_backends(sidecar_pod("agent", "192.168.0.11", "node2", [{"containerPort": 9100}],
                                                [{"containerPort": 9101}], namespace="kube-system",
                                                host_network=True))
    assert sim.host_network and sim.ports == frozenset({("tcp", 9100), ("tcp", 9101)})
    assert kernel.host_network and kernel.ports == (("tcp", 9100), ("tcp", 9101))
