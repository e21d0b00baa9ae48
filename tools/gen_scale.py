#!/usr/bin/env python3
"""Generate a synthetic cluster: N ClusterIP services x M ready endpoints each.

For scale scenarios and benchmarks (kube-proxy's large-cluster mode starts above
1000 endpoints). The output is deterministic: the same arguments always give the
same bytes, so a generated objects file can be committed and diffed.

    python tools/gen_scale.py --services N --endpoints M --format json|yaml -o FILE

Addresses: service i (from 0) gets cluster IP 10.96.0.0 + i + 1; endpoints are
numbered across the cluster from 1 and get 10.128.0.0 + k; they are spread
round-robin over ``--nodes`` Node objects (node1, node2, ...), and cut into
EndpointSlices of at most 100 endpoints, as the EndpointSlice controller does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

import netaddr

SERVICE_BASE = int(netaddr.IPAddress("10.96.0.0"))
ENDPOINT_BASE = int(netaddr.IPAddress("10.128.0.0"))
SLICE_CAPACITY = 100  # the EndpointSlice controller's default maxEndpointsPerSlice
PORT, TARGET_PORT = 80, 8080


def _ip(value: int) -> str:
    return str(netaddr.IPAddress(value))


def node(index: int) -> dict:
    """Node ``node<index>`` (1-based) with an InternalIP, a /24 pod CIDR and a zone, like a cloud node."""
    name = f"node{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "topology.kubernetes.io/zone": f"zone-{'abc'[(index - 1) % 3]}"}},
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": f"192.168.0.{9 + index}"}]},
    }


def service(index: int, namespace: str) -> dict:
    name = f"svc-{index:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "ClusterIP", "clusterIP": _ip(SERVICE_BASE + index + 1), "selector": {"app": name},
                 "ports": [{"name": "http", "port": PORT, "protocol": "TCP", "targetPort": TARGET_PORT}]},
    }


def endpoint_slices(index: int, endpoints: int, nodes: int, namespace: str) -> Iterator[dict]:
    """The slices of service ``index``; endpoint numbering continues across services."""
    name = f"svc-{index:05d}"
    first = index * endpoints + 1
    for part, start in enumerate(range(0, endpoints, SLICE_CAPACITY)):
        members = range(first + start, first + min(start + SLICE_CAPACITY, endpoints))
        yield {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-{part:03d}", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [_ip(ENDPOINT_BASE + k)],
                           "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": f"node{(k - 1) % nodes + 1}"} for k in members],
            "ports": [{"name": "http", "port": TARGET_PORT, "protocol": "TCP"}],
        }


def generate(services: int, endpoints: int, nodes: int = 3, namespace: str = "scale") -> list[dict]:
    objects: list[dict] = [node(i) for i in range(1, nodes + 1)]
    for index in range(services):
        objects.append(service(index, namespace))
        objects.extend(endpoint_slices(index, endpoints, nodes, namespace))
    return objects


def render(objects: list[dict], fmt: str) -> str:
    """JSON: one ``kind: List`` (as ``kubectl get -o json``); YAML: one document per object."""
    if fmt == "json":
        return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects},
                          separators=(",", ":")) + "\n"
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump_all(objects, Dumper=dumper, sort_keys=False, default_flow_style=False)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=_positive, required=True, help="number of services")
    parser.add_argument("--endpoints", type=_positive, required=True, help="ready endpoints per service")
    parser.add_argument("--nodes", type=_positive, default=3, help="nodes to spread endpoints over (default 3)")
    parser.add_argument("--namespace", default="scale", help="namespace of the services (default scale)")
    parser.add_argument("--format", choices=["json", "yaml"], default="json", help="output format (default json)")
    parser.add_argument("-o", "--output", default="-", metavar="FILE", help="output file (default stdout)")
    args = parser.parse_args(argv)
    if args.services + 1 >= 1 << 16 or args.services * args.endpoints >= 1 << 22:
        parser.error("too many services or endpoints for the 10.96/16 and 10.128/10 address ranges")
    text = render(generate(args.services, args.endpoints, args.nodes, args.namespace), args.format)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
