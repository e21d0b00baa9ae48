"""API-shaped objects (what a server returns) and their model counterparts, for the watch tests."""

from __future__ import annotations

from typing import Any

from kubeproxy_sim.objects.model import (
    AddressType,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Node,
    Pod,
    Protocol,
    Service,
    ServicePort,
)


def svc_json(name: str, ip: str, port: int = 80, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}"},
            "spec": {"clusterIP": ip, "clusterIPs": [ip], "ipFamilies": ["IPv4"], "type": "ClusterIP",
                     "ports": [{"name": "p", "port": port, "protocol": "TCP", "targetPort": port}], **spec},
            "status": {"loadBalancer": {}}}


def slice_json(name: str, service: str, ips: list[str], port: int = 80, ns: str = "default") -> dict[str, Any]:
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": "p", "port": port, "protocol": "TCP"}]}


def node_json(name: str, ip: str) -> dict[str, Any]:
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name},
            "spec": {"podCIDRs": ["10.244.0.0/24"], "podCIDR": "10.244.0.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def pod_json(name: str, ip: str, node: str = "n1", ns: str = "default") -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns, "labels": {"app": "a"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def svc(name: str, ip: str, port: int = 80, ns: str = "default", **kw: Any) -> Service:
    kw.setdefault("ip_families", (IPFamily.IPV4,))
    return Service(namespace=ns, name=name, cluster_ips=(ip,),
                   ports=(ServicePort(name="p", protocol=Protocol.TCP, port=port, target_port=port),), **kw)


def eps(name: str, service: str, ips: list[str], port: int = 80, ns: str = "default", **kw: Any) -> EndpointSlice:
    return EndpointSlice(namespace=ns, name=name, service_name=service, address_type=AddressType.IPV4,
                         endpoints=tuple(Endpoint(addresses=(ip,), conditions=EndpointConditions(ready=True))
                                         for ip in ips),
                         ports=(EndpointPort(name="p", port=port),), **kw)


def node(name: str) -> Node:
    return Node(name=name)


def pod(name: str, ns: str = "default") -> Pod:
    return Pod(namespace=ns, name=name)
