"""Which Services hold an address and the ports they define (:func:`.targets.port_owners`): the analysis behind
the note send and trace give when a packet's port is none of them, read here without either command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.analysis.targets import port_owners, unserved_port_note
from kubeproxy_sim.objects.load import load_paths
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.config import ProxyConfig

CONFIG = ProxyConfig(node_name="node1", cluster_cidrs=("10.0.0.0/8",))
WEB = "the cluster IP of ns/web, which defines 80/TCP, 53/UDP"


def _service(name: str, cluster_ip: str, ports: list[tuple[int, str]], external_ips: tuple[str, ...] = ()) -> dict:
    spec: dict = {"clusterIP": cluster_ip, "ports": [{"name": f"p{i}", "port": port, "protocol": proto}
                                                     for i, (port, proto) in enumerate(ports)]}
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """ns/web at 10.96.0.1 (80/TCP, 53/UDP); ns/edge at 10.96.0.2, with web's address as its external IP too."""
    path: Path = tmp_path_factory.mktemp("owners") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
         "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}},
        _service("web", "10.96.0.1", [(80, "TCP"), (53, "UDP")]),
        _service("edge", "10.96.0.2", [(443, "TCP")], external_ips=("10.96.0.1",))]))
    loaded = load_paths([str(path)])
    assert loaded.ok, loaded.diagnostics
    return loaded.cluster


@pytest.mark.parametrize(("port", "proto"), [(80, "tcp"), (53, "udp"), (443, "tcp")])
def test_a_port_some_owner_defines_leaves_the_rules_to_decide(cluster: Cluster, port: int, proto: str) -> None:
    assert port_owners(cluster, CONFIG, "10.96.0.1", port, proto) is None


def test_every_owner_of_the_address_is_named_with_its_role_and_ports(cluster: Cluster) -> None:
    """In the service ports' order (by name: edge first), not by role."""
    assert port_owners(cluster, CONFIG, "10.96.0.1", 8080, "tcp") == (
        f"an external IP of ns/edge, which defines 443/TCP, and {WEB}")


def test_the_protocol_counts_and_an_echo_has_no_port(cluster: Cluster) -> None:
    assert port_owners(cluster, CONFIG, "10.96.0.2", 443, "udp") == "the cluster IP of ns/edge, which defines 443/TCP"
    assert port_owners(cluster, CONFIG, "10.96.0.2", None, "icmp") == (
        "the cluster IP of ns/edge, which defines 443/TCP")


def test_an_address_no_service_holds_has_no_owners(cluster: Cluster) -> None:
    assert port_owners(cluster, CONFIG, "10.96.0.9", 80, "tcp") is None
    assert unserved_port_note(cluster, CONFIG, "10.96.0.9", 80, "tcp") is None


def test_send_s_note_names_the_connection_left_untranslated(cluster: Cluster) -> None:
    assert unserved_port_note(cluster, CONFIG, "10.96.0.2", 9999, "tcp") == (
        "10.96.0.2 is the cluster IP of ns/edge, which defines 443/TCP; no rule matches 9999/TCP, so kube-proxy's "
        "rules leave the connection to 10.96.0.2:9999 untranslated")
    assert unserved_port_note(cluster, CONFIG, "10.96.0.2", 443, "tcp") is None
