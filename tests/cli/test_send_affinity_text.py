"""``send``'s affinity note says what kube-proxy does: the client is remembered per node, not cluster-wide."""

from __future__ import annotations

import random

from kubeproxy_sim.cli import send_cmd
from kubeproxy_sim.cli.output import Console
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send

NODES = "".join(f"""
apiVersion: v1
kind: Node
metadata: {{name: node{i}}}
spec: {{podCIDRs: [10.244.{i - 1}.0/24]}}
status: {{addresses: [{{type: InternalIP, address: 192.168.49.{i + 1}}}]}}
---""" for i in (1, 2, 3))
OBJECTS = NODES + """
apiVersion: v1
kind: Service
metadata: {name: afflb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.40
  sessionAffinity: ClientIP
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30040}]
status: {loadBalancer: {ingress: [{ip: 198.51.100.70}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: afflb-1, namespace: default, labels: {kubernetes.io/service-name: afflb}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.10], nodeName: node1}
- {addresses: [10.244.1.10], nodeName: node2}
- {addresses: [10.244.2.10], nodeName: node3}
ports: [{name: http, port: 8080, protocol: TCP}]
"""


def test_affinity_note_says_one_pod_per_node_when_a_balancer_spreads_the_client() -> None:
    cluster = load_text(OBJECTS, "afflb.yaml").cluster
    config = ProxyConfig(node_name="node1", node_ips=("192.168.49.2/32",), cluster_cidrs=("10.244.0.0/16",))
    result = send(Simulator(cluster, config, rng=random.Random(1)), "external", "198.51.100.70:80", count=60, seed=1)
    # the balancer spreads the one client over the three nodes: each node's affinity picks its own pod
    assert result.sticky is True and len([d for d in result.delivered if d.count]) > 1
    text = send_cmd.send_text(result, Console(None, color=False, unicode=False))  # type: ignore[arg-type]
    assert "each node remembers the client" in text and "one pod per node it enters" in text
    assert "stay with the pod its first one reached" not in text
