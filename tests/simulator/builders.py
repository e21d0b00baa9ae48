"""A small two-node cluster with one service of every kind, built as manifests and loaded like files."""

from __future__ import annotations

import random

import yaml

from kubeproxy_sim.analysis.stats import chi2_sf
from kubeproxy_sim.netfilter.model import Ruleset
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import RuleSource, Simulator, node_rules

NODES = {"node1": ("192.168.0.10", "10.244.1.0/24", "zone-a"), "node2": ("192.168.0.11", "10.244.2.0/24", "zone-b")}
PODS = {  # name: (node, ip, app)
    "client": ("node1", "10.244.1.5", "client"),
    "client2": ("node2", "10.244.2.5", "client"),
    "web-1": ("node1", "10.244.1.10", "web"),
    "web-2": ("node2", "10.244.2.10", "web"),
    "web-3": ("node2", "10.244.2.11", "web"),
}
WEB = ("web-1", "web-2", "web-3")
HOSTS = (("example.com", "93.184.216.34"),)


def node(name: str) -> dict:
    ip, cidr, zone = NODES[name]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def pod(name: str) -> dict:
    node_name, ip, app = PODS[name]
    ports = [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 5353, "protocol": "UDP"}] \
        if app == "web" else []
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                            "labels": {"app": app}},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "x", "ports": ports}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def sidecar_pod(name: str, ip: str, node_name: str, ports: list[dict], sidecar_ports: list[dict], *,
                namespace: str = "default", labels: dict | None = None, host_network: bool = False) -> dict:
    """A running Pod with an app container declaring ``ports`` and one sidecar, an initContainer of restartPolicy
    Always (which runs beside the app, KEP-753), declaring ``sidecar_ports``: each a containerPort entry. An empty
    list is no ``ports`` key at all, as a manifest declaring none is written."""
    app: dict = {"name": "app", "image": "app"}
    sidecar: dict = {"name": "sidecar", "image": "envoy", "restartPolicy": "Always"}
    if ports:
        app["ports"] = ports
    if sidecar_ports:
        sidecar["ports"] = sidecar_ports
    spec: dict = {"nodeName": node_name, "containers": [app], "initContainers": [sidecar]}
    if host_network:
        spec["hostNetwork"] = True
    metadata: dict = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec,
            "status": {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}}


def service(name: str, spec: dict, ingress: list | None = None) -> dict:
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
           "spec": {"selector": {"app": "web"}, **spec}}
    if ingress:
        obj["status"] = {"loadBalancer": {"ingress": ingress}}
    return obj


def slice_(service_name: str, pods: tuple[str, ...], ports: list[dict]) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service_name}-abc", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [PODS[p][1]], "conditions": {"ready": True}, "nodeName": PODS[p][0],
                           "hostname": p, "targetRef": {"kind": "Pod", "namespace": "default", "name": p}}
                          for p in pods],
            "ports": ports}


HTTP = [{"name": "http", "port": 8080, "protocol": "TCP"}]
DNS = [{"name": "dns", "port": 5353, "protocol": "UDP"}]


def objects(web_pods: tuple[str, ...] = WEB, dns_pods: tuple[str, ...] = WEB, local_pods: tuple[str, ...] = WEB,
            extra: list[dict] | None = None) -> list[dict]:
    http_port = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    docs = [node("node1"), node("node2"), *(pod(p) for p in PODS)]
    services = [
        ("web", {"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": http_port}, None, web_pods, HTTP),
        ("web-np", {"type": "NodePort", "clusterIP": "10.96.0.11",
                    "ports": [{**http_port[0], "nodePort": 30080}]}, None, web_pods, HTTP),
        ("web-local", {"type": "LoadBalancer", "clusterIP": "10.96.0.12", "externalTrafficPolicy": "Local",
                       "healthCheckNodePort": 32000, "ports": [{**http_port[0], "nodePort": 30081}]},
         [{"ip": "203.0.113.100"}], local_pods, HTTP),
        ("web-lb", {"type": "LoadBalancer", "clusterIP": "10.96.0.13", "loadBalancerSourceRanges": ["198.51.100.0/24"],
                    "ports": [{**http_port[0], "nodePort": 30082}]}, [{"ip": "203.0.113.101"}], web_pods, HTTP),
        ("web-proxy", {"type": "LoadBalancer", "clusterIP": "10.96.0.14",
                       "loadBalancerSourceRanges": ["198.51.100.0/24"],
                       "ports": [{**http_port[0], "nodePort": 30083}]},
         [{"ip": "203.0.113.102", "ipMode": "Proxy"}], web_pods, HTTP),
        ("web-ext", {"type": "ClusterIP", "clusterIP": "10.96.0.15", "externalIPs": ["203.0.113.200"],
                     "ports": http_port}, None, web_pods, HTTP),
        ("web-aff", {"type": "ClusterIP", "clusterIP": "10.96.0.16", "sessionAffinity": "ClientIP",
                     "ports": http_port}, None, web_pods, HTTP),
        ("dns", {"type": "ClusterIP", "clusterIP": "10.96.0.53",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}]}, None, dns_pods, DNS),
        ("web-headless", {"type": "ClusterIP", "clusterIP": "None", "ports": http_port}, None, web_pods, HTTP),
    ]
    for name, spec, ingress, pods, ports in services:
        docs.append(service(name, spec, ingress))
        docs.append(slice_(name, pods, ports))
    docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
                 "spec": {"type": "ExternalName", "externalName": "example.com"}})
    return docs + (extra or [])


def with_conditions(docs: list[dict], service_name: str, pod_name: str, **conditions: bool) -> list[dict]:
    """``docs`` with the conditions of ``pod_name``'s endpoint in ``service_name``'s slice replaced."""
    for doc in docs:
        if doc["kind"] == "EndpointSlice" and doc["metadata"]["labels"]["kubernetes.io/service-name"] == service_name:
            for endpoint in doc["endpoints"]:
                if endpoint["addresses"] == [PODS[pod_name][1]]:
                    endpoint["conditions"] = dict(conditions)
    return docs


def dns_node_port(docs: list[dict]) -> list[dict]:
    """The builders' UDP ``dns`` service made a NodePort (30053)."""
    for doc in docs:
        if doc["kind"] == "Service" and doc["metadata"]["name"] == "dns":
            doc["spec"]["type"] = "NodePort"
            doc["spec"]["ports"][0]["nodePort"] = 30053
    return docs


def load(docs: list[dict]):
    result = load_text(yaml.safe_dump_all(docs), "test.yaml")
    errors = [d for d in result.diagnostics if d.severity.value == "error"]
    assert not errors, errors
    return result.cluster


BASE = ProxyConfig(node_name="node1", cluster_cidrs=("10.244.0.0/16",))


def simulator(seed: int = 1, docs: list[dict] | None = None, **kwargs) -> Simulator:
    return Simulator(load(docs or objects()), BASE, rng=random.Random(seed), hosts=HOSTS, **kwargs)


def first_forward_rule(rule: str, node: str) -> RuleSource:
    """kube-proxy's tables with ``rule`` (``-A FORWARD ...``) first in ``node``'s FORWARD chain, ahead of
    KUBE-FORWARD's RELATED,ESTABLISHED accept: what a kernel test inserts on the same node with ``iptables -I``,
    to stop a packet kube-proxy's rules let through (a connection's later packets)."""
    from kubeproxy_sim.netfilter.codec import parse_ruleset, render_ruleset

    def rules(cluster: Cluster, config: ProxyConfig) -> Ruleset:
        tables = node_rules(cluster, config)
        if config.node_name != node:
            return tables
        text = render_ruleset(tables)
        at = text.index("-A FORWARD ")
        return parse_ruleset(f"{text[:at]}{rule}\n{text[at:]}")
    return rules


# ---------------------------------------------------------------------------- statistics (no scipy)


def chi_square_p(observed: dict[str, int], expected: dict[str, float]) -> float:
    """p-value of the chi-square goodness-of-fit test of counts against exact shares."""
    total = sum(observed.values())
    keys = [k for k, p in expected.items() if p > 0]
    assert set(observed) <= set(keys), (observed, expected)
    statistic = sum((observed.get(k, 0) - total * expected[k]) ** 2 / (total * expected[k]) for k in keys)
    dof = len(keys) - 1
    return 1.0 if dof <= 0 else chi2_sf(statistic, dof)
