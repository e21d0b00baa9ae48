"""Which nodes a load balancer of an externalTrafficPolicy Local service uses: one scan of the slices a run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from kubeproxy_sim.analysis.exact import balancer_nodes, local_ready_index, service_ports
from kubeproxy_sim.analysis.nodes import node_set
from kubeproxy_sim.objects.load import load_paths
from kubeproxy_sim.proxier.config import ProxyConfig

NODES = ("node1", "node2", "node3")


def local_services(count: int) -> list[dict]:
    """``count`` LoadBalancer services of policy Local; service i has a ready endpoint on node (i mod 3) + 1, a
    not-ready one on the next node, one without a ready condition (ready) on no node, and an IPv6 slice on the
    third node (another family: not counted)."""
    docs: list[dict] = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                         "status": {"addresses": [{"type": "InternalIP", "address": f"192.168.0.{10 + i}"}]}}
                        for i, name in enumerate(NODES)]
    for i in range(count):
        name = f"svc{i}"
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
                     "spec": {"type": "LoadBalancer", "clusterIP": f"10.96.0.{i + 1}", "externalTrafficPolicy":
                              "Local", "healthCheckNodePort": 31000 + i,
                              "ports": [{"name": "p", "port": 80, "protocol": "TCP", "nodePort": 30000 + i}]},
                     "status": {"loadBalancer": {"ingress": [{"ip": f"1.2.3.{i + 1}"}]}}})
        ready, not_ready, v6 = (NODES[(i + k) % 3] for k in range(3))
        docs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": f"{name}-a", "namespace": "ns",
                                  "labels": {"kubernetes.io/service-name": name}},
                     "addressType": "IPv4", "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
                     "endpoints": [
                         {"addresses": [f"10.0.{i}.1"], "conditions": {"ready": True}, "nodeName": ready},
                         {"addresses": [f"10.0.{i}.2"], "conditions": {"ready": False}, "nodeName": not_ready},
                         {"addresses": [f"10.0.{i}.3"], "conditions": {}}]})
        docs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": f"{name}-b", "namespace": "ns",
                                  "labels": {"kubernetes.io/service-name": name}},
                     "addressType": "IPv6", "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
                     "endpoints": [{"addresses": [f"fd00::{i + 1}"], "conditions": {"ready": True},
                                    "nodeName": v6}]})
    return docs


class CountedSlices(tuple):
    """The cluster's slices, counting the scans of them."""

    scans = 0

    def __iter__(self):
        CountedSlices.scans += 1
        return super().__iter__()


def test_the_balancer_s_nodes_of_every_local_service_take_one_scan_of_the_slices(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(local_services(12)))
    loaded = load_paths([str(path)])
    assert loaded.ok, loaded.diagnostics
    cluster = dataclasses.replace(loaded.cluster, endpoint_slices=CountedSlices(loaded.cluster.endpoint_slices))
    nodes = node_set(cluster, ProxyConfig(node_name="node1", cluster_cidrs=("10.0.0.0/8",)))
    ports = service_ports(nodes)
    assert len(ports) == 12
    CountedSlices.scans = 0
    healthy = {svc.name: [n for n, used in balancer_nodes(nodes, svc)[0].items() if used] for svc in ports}
    assert CountedSlices.scans <= 1  # was one a service: quadratic over a dist of every service
    assert healthy == {f"svc{i}": [NODES[i % 3]] for i in range(12)}
    index = local_ready_index(cluster, False)
    for svc in ports:  # the index itself, not only what balancer_nodes makes of it
        assert index[(svc.namespace, svc.name)] == {NODES[int(svc.name[3:]) % 3]}
