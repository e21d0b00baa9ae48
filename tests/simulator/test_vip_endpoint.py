"""An endpoint at a Service's address (README, send section): no made-up pod, the rules answer for it.

A selectorless Service's endpoint may be another Service's clusterIP, externalIP or load-balancer IP. No machine has
that address, so neither ``send`` nor ``netns up`` makes it a pod (on the first node, when it names no node): a
connection to it goes where the nodes' rules take it, else where the routes do. As a pod on node1 it turned node1's
own connection to the load-balancer IP into one from its pod bridge (10.244.1.1), out of the Service's
loadBalancerSourceRanges: every connection dropped, where a kernel without that pod delivers them all.
"""

from __future__ import annotations

import random

from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from kubeproxy_sim.simulator.topology import build_topology, unplaced_endpoints
from tests.simulator.builders import BASE, NODES, PODS, load, node, pod

LB_IP, LB_CLUSTER_IP, EXTERNAL_IP = "203.0.113.50", "10.96.0.40", "198.51.100.7"
NODE1 = NODES["node1"][0]


def selectorless(name: str, cluster_ip: str, endpoints: list[dict]) -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
             "spec": {"clusterIP": cluster_ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": f"{name}-1", "namespace": "default", "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
             "endpoints": endpoints}]


def vip_endpoints(*endpoints: dict) -> list[dict]:
    """h342's cluster: ``lbsr`` (LoadBalancer 203.0.113.50, loadBalancerSourceRanges the nodes' network, one
    endpoint web-2 on node2, an externalIP too) and ``front``, selectorless, whose endpoints are ``endpoints``
    (default: the LB IP, naming no node)."""
    lbsr = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lbsr", "namespace": "default"},
             "spec": {"type": "LoadBalancer", "clusterIP": LB_CLUSTER_IP, "selector": {"app": "web"},
                      "externalIPs": [EXTERNAL_IP], "loadBalancerSourceRanges": ["192.168.0.0/24"],
                      "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30040}]},
             "status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "lbsr-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "lbsr"}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
             "endpoints": [{"addresses": [PODS["web-2"][1]], "nodeName": "node2"}]}]
    return [node("node1"), node("node2"), pod("client"), pod("web-2"), *lbsr,
            *selectorless("front", "10.96.0.30", list(endpoints) or [{"addresses": [LB_IP]}])]


def test_a_node_s_connection_to_a_load_balancer_ip_another_service_lists_is_delivered() -> None:
    """h342's repro: node1 reaches lbsr's LB IP from its own address (in the source ranges), through lbsr's rules,
    to web-2; observed as expected (was: 100% DROP by KUBE-PROXY-FIREWALL, from the bridge address 10.244.1.1)."""
    sim = Simulator(load(vip_endpoints()), BASE, rng=random.Random(1))
    result = send(sim, "node/node1", f"{LB_IP}:80", count=20, seed=1)
    assert not result.failed
    assert [(d.pod, d.count, d.share, d.expected, d.sources_seen) for d in result.delivered] == [
        ("default/web-2", 20, 1.0, 1.0, (NODE1,))]


def test_a_connection_dnated_to_a_load_balancer_ip_is_predicted_through_the_balancer() -> None:
    """Without source ranges, front's DNAT to lbsr's LB IP leaves node2 for the router, whose balancer sends it to
    a node that DNATs it to web-2: the prediction follows it there as the connections go (it ended the packet at
    the LB IP, where nobody is: NO_ROUTE, which no connection met)."""
    docs = vip_endpoints()
    del docs[4]["spec"]["loadBalancerSourceRanges"]
    sim = Simulator(load(docs), BASE, rng=random.Random(1))
    result = send(sim, "node/node2", "10.96.0.30:80", count=20, seed=1)
    [row] = result.delivered
    assert (row.pod, row.expected) == ("default/web-2", 1.0) and row.count > 0
    assert all(f.expected is None for f in result.failed)  # (failures of the reply, after the first packet)


def test_an_endpoint_at_a_service_address_is_no_pod_in_send_as_in_netns() -> None:
    """Every kind of Service address (clusterIP, externalIP, LB ingress IP), named node or not, gets no made-up
    pod in either backend; an endpoint at a node's address is still the node's host-network workload, an
    externalIP though it is."""
    docs = vip_endpoints({"addresses": [LB_IP]}, {"addresses": [LB_CLUSTER_IP], "nodeName": "node2"},
                         {"addresses": [EXTERNAL_IP]}, {"addresses": [NODES["node2"][0]]})
    docs[4]["spec"]["externalIPs"].append(NODES["node2"][0])  # lbsr's
    cluster = load(docs)
    simulated = {p.ip: (p.node, p.host_network) for p in build_topology(cluster, BASE).pods}
    planned = {p.ip: (p.node, p.host_network) for p in plan("h351", cluster, BASE).pods if p.pod_object is not None}
    assert simulated == planned == {PODS["client"][1]: ("node1", False), PODS["web-2"][1]: ("node2", False),
                                    NODES["node2"][0]: ("node2", True)}


def test_the_unplaced_endpoints_are_every_service_address_of_either_family_but_a_node_s() -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: default}
spec:
  type: LoadBalancer
  ipFamilyPolicy: RequireDualStack
  clusterIP: 10.96.0.7
  clusterIPs: [10.96.0.7, fd00:96::7]
  externalIPs: [192.168.0.10, 2001:db8:5::1]
  ports: [{port: 80, nodePort: 30007}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.9}, {ip: 2001:db8:9::9}, {hostname: lb.example.com}]}}
"""
    loaded = load_text(text, "dual.yaml")
    assert not loaded.diagnostics
    cluster = loaded.cluster
    assert unplaced_endpoints(cluster, {"node1": ("192.168.0.10",)}) == {
        "10.96.0.7", "fd00:96::7", "2001:db8:5::1", "203.0.113.9", "2001:db8:9::9"}
