#!/usr/bin/env python3
"""Generate a synthetic cluster: N services x M endpoints each (ClusterIP, all ready, unless told otherwise).

For scale scenarios and benchmarks (kube-proxy's large-cluster mode starts above
1000 endpoints). The output is deterministic: the same arguments always give the
same bytes, so a generated objects file can be committed and diffed.

    python tools/gen_scale.py --services N --endpoints M --format json|yaml -o FILE
    python tools/gen_scale.py ... --kind LoadBalancer+Local --ports 2 --not-ready 0.1
    python tools/gen_scale.py ... --mix ClusterIP=80,NodePort=10,LoadBalancer+Local+ClientIP=10
    python tools/gen_scale.py ... --family 6

Addresses: service i (from 0) gets cluster IP 10.96.0.0 + i + 1; endpoints are
numbered across the cluster from 1 and get 10.128.0.0 + k; they are spread
round-robin over ``--nodes`` Node objects (node1, node2, ...), and cut into
EndpointSlices of at most 100 endpoints, as the EndpointSlice controller does.

A service kind is a type (ClusterIP, NodePort or LoadBalancer) with optional
``+Local`` (externalTrafficPolicy Local), ``+ClientIP`` (sessionAffinity ClientIP)
and ``+SourceRanges`` (loadBalancerSourceRanges). ``--mix KIND=WEIGHT,...`` deals
the kinds out in order by smooth weighted round robin, so every run of
WEIGHT-sum services holds each kind WEIGHT times. Node ports are allocated in
service order from 30000 (each port's, then a LoadBalancer+Local service's
healthCheckNodePort, as the API server allocates both from the node port range);
a cluster that needs more than the range's 2,768 is refused. The n-th
LoadBalancer service gets the ingress IP 172.16.0.0 + n. ``--not-ready F`` and
``--terminating F`` mark those fractions of the endpoints, spread evenly over
the cluster (endpoint k is marked when floor(k * F) steps up).

``--family 6`` makes the same cluster single-stack IPv6, every address at the
same offset from an IPv6 base: cluster IPs from fd00:10:96::, endpoints from
fd00:10:128::, ingress IPs from fd00:172:16::, node k's InternalIP
fd00:192:168::(9 + k) and pod CIDR fd00:10:244:k::/64, source ranges in
2001:db8::/32 (RFC 3849).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import netaddr

SERVICE_BASE = int(netaddr.IPAddress("10.96.0.0"))
ENDPOINT_BASE = int(netaddr.IPAddress("10.128.0.0"))
INGRESS_BASE = int(netaddr.IPAddress("172.16.0.0"))  # outside the 10/8 cluster CIDR: a load balancer's address
SLICE_CAPACITY = 100  # the EndpointSlice controller's default maxEndpointsPerSlice
PORT, TARGET_PORT = 80, 8080
NODE_PORT_RANGE = range(30000, 32768)  # the API server's default --service-node-port-range, 30000-32767
SOURCE_RANGES = ("203.0.113.0/24", "198.51.100.0/24")  # documentation blocks (RFC 5737): clients outside
AFFINITY_TIMEOUT = 10800  # the API server's default sessionAffinityConfig.clientIP.timeoutSeconds
TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
MODIFIERS = ("Local", "ClientIP", "SourceRanges")
READY = {"ready": True, "serving": True, "terminating": False}
NOT_READY = {"ready": False, "serving": False, "terminating": False}
TERMINATING = {"ready": False, "serving": True, "terminating": True}  # still serving: kube-proxy's fallback


@dataclass(frozen=True)
class Family:
    """Where one IP family's addresses start: the generator adds the same offsets to either."""

    name: str  # the EndpointSlice addressType and the Service's ipFamilies entry
    service: int
    endpoint: int
    ingress: int
    node: int  # node k's InternalIP is node + 9 + k
    source_ranges: tuple[str, ...]

    def pod_cidr(self, index: int) -> str:
        return f"10.244.{index}.0/24" if self.name == "IPv4" else f"fd00:10:244:{index:x}::/64"


IPV4 = Family("IPv4", SERVICE_BASE, ENDPOINT_BASE, INGRESS_BASE, int(netaddr.IPAddress("192.168.0.0")),
              SOURCE_RANGES)
IPV6 = Family("IPv6", int(netaddr.IPAddress("fd00:10:96::")), int(netaddr.IPAddress("fd00:10:128::")),
              int(netaddr.IPAddress("fd00:172:16::")), int(netaddr.IPAddress("fd00:192:168::")),
              ("2001:db8:1::/48", "2001:db8:2::/48"))  # documentation blocks (RFC 3849)
FAMILIES = {4: IPV4, 6: IPV6}


@dataclass(frozen=True)
class Kind:
    """What a generated service is: its type and the optional features that add rule families."""

    type: str = "ClusterIP"
    local: bool = False  # externalTrafficPolicy Local: KUBE-EXT-* to local endpoints only (KUBE-SVL-*)
    client_ip: bool = False  # sessionAffinity ClientIP: `recent` matches in every KUBE-SEP-* and KUBE-SVC-*
    source_ranges: bool = False  # loadBalancerSourceRanges: a KUBE-FW-* chain that drops other sources

    @classmethod
    def parse(cls, text: str) -> Kind:
        """``Type[+Local][+ClientIP][+SourceRanges]``; ValueError saying what is wrong and what is expected."""
        kind_type, *modifiers = text.split("+")
        if kind_type not in TYPES:
            raise ValueError(f"{text!r}: {kind_type!r} is not a service type; expected one of {', '.join(TYPES)}")
        unknown = [m for m in modifiers if m not in MODIFIERS]
        if unknown or len(set(modifiers)) != len(modifiers):
            raise ValueError(f"{text!r}: expected the type followed by some of +{', +'.join(MODIFIERS)}, each once")
        kind = cls(kind_type, "Local" in modifiers, "ClientIP" in modifiers, "SourceRanges" in modifiers)
        if kind.local and kind.type == "ClusterIP":
            raise ValueError(f"{text!r}: externalTrafficPolicy Local needs a NodePort or LoadBalancer service")
        if kind.source_ranges and kind.type != "LoadBalancer":
            raise ValueError(f"{text!r}: loadBalancerSourceRanges needs a LoadBalancer service")
        return kind

    @property
    def external(self) -> bool:
        """Has node ports (the API server allocates them for NodePort and LoadBalancer)."""
        return self.type != "ClusterIP"

    @property
    def health_check(self) -> bool:
        """Has a healthCheckNodePort: the API server allocates one for a LoadBalancer with policy Local only."""
        return self.type == "LoadBalancer" and self.local


@dataclass(frozen=True)
class Shape:
    """Everything about the generated services besides their number: the defaults are today's cluster."""

    kinds: tuple[Kind, ...] = (Kind(),)
    weights: tuple[int, ...] = (1,)
    ports: int = 1
    not_ready: Fraction = Fraction(0)
    terminating: Fraction = Fraction(0)
    family: Family = IPV4

    def deal(self, services: int) -> list[Kind]:
        """The kind of each service, by smooth weighted round robin: deterministic and evenly interleaved."""
        current = [0] * len(self.weights)
        total = sum(self.weights)
        out = []
        for _ in range(services):
            current = [c + w for c, w in zip(current, self.weights, strict=True)]
            pick = current.index(max(current))
            current[pick] -= total
            out.append(self.kinds[pick])
        return out

    def node_ports_needed(self, kinds: Sequence[Kind]) -> int:
        return sum(self.ports * kind.external + kind.health_check for kind in kinds)


def _ip(value: int) -> str:
    return str(netaddr.IPAddress(value, 4 if value < 1 << 32 else 6))


def node(index: int, family: Family = IPV4) -> dict:
    """Node ``node<index>`` (1-based) with an InternalIP, a pod CIDR (IPv4 /24, IPv6 /64) and a zone, like a cloud
    node."""
    name = f"node{index}"
    cidr = family.pod_cidr(index)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "topology.kubernetes.io/zone": f"zone-{'abc'[(index - 1) % 3]}"}},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": _ip(family.node + 9 + index)}]},
    }


def _port_name(j: int) -> str:
    return "http" if j == 0 else f"http-{j}"


def service(index: int, namespace: str, kind: Kind = Kind(), ports: int = 1,
            node_ports: Iterator[int] | None = None, ingress: int = 0, family: Family = IPV4) -> dict:
    """Service ``index`` of ``kind``; an external kind draws its node ports (and health check port) from
    ``node_ports``, a LoadBalancer is the ``ingress``-th (from 1) and gets the family's ingress base + ingress.
    An IPv6 service names its family (ipFamilies), as the API server fills it in; an IPv4 one is left as
    before."""
    name = f"svc-{index:05d}"
    spec: dict = {"type": kind.type, "clusterIP": _ip(family.service + index + 1), "selector": {"app": name},
                  "ports": [{"name": _port_name(j), "port": PORT + j, "protocol": "TCP", "targetPort": TARGET_PORT + j}
                            for j in range(ports)]}
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    if family is not IPV4:
        spec["ipFamilies"] = [family.name]
    if kind.external:
        assert node_ports is not None, "an external kind needs node ports"
        for port in spec["ports"]:
            port["nodePort"] = next(node_ports)
    if kind.local:
        spec["externalTrafficPolicy"] = "Local"
    if kind.health_check:
        spec["healthCheckNodePort"] = next(node_ports)  # type: ignore[arg-type]
    if kind.source_ranges:
        spec["loadBalancerSourceRanges"] = list(family.source_ranges)
    if kind.client_ip:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": AFFINITY_TIMEOUT}}
    if kind.type == "LoadBalancer":
        doc["status"] = {"loadBalancer": {"ingress": [{"ip": _ip(family.ingress + ingress), "ipMode": "VIP"}]}}
    return doc


def _steps(k: int, fraction: Fraction) -> bool:
    """Whether the k-th item (from 1) is one of ``fraction`` of them spread evenly: floor(k * F) steps up at k."""
    return int(k * fraction) != int((k - 1) * fraction)


def conditions(k: int, shape: Shape) -> dict:
    """Endpoint k's conditions: the marked ones (not ready + terminating) spread evenly, then split among
    themselves the same way, so the two sets never overlap and each holds its fraction."""
    marked = shape.not_ready + shape.terminating
    if not marked or not _steps(k, marked):
        return READY
    return TERMINATING if _steps(int(k * marked), shape.terminating / marked) else NOT_READY


def endpoint_slices(index: int, endpoints: int, nodes: int, namespace: str, shape: Shape = Shape()) -> Iterator[dict]:
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
            "addressType": shape.family.name,
            "endpoints": [{"addresses": [_ip(shape.family.endpoint + k)], "conditions": dict(conditions(k, shape)),
                           "nodeName": f"node{(k - 1) % nodes + 1}"} for k in members],
            "ports": [{"name": _port_name(j), "port": TARGET_PORT + j, "protocol": "TCP"} for j in range(shape.ports)],
        }


def generate(services: int, endpoints: int, nodes: int = 3, namespace: str = "scale",
             shape: Shape = Shape()) -> list[dict]:
    """The cluster's objects; ValueError when its node ports do not fit the range (see node_ports_problem)."""
    kinds = shape.deal(services)
    problem = node_ports_problem(shape, kinds)
    if problem:
        raise ValueError(problem)
    node_ports = iter(NODE_PORT_RANGE)
    balancers = 0
    objects: list[dict] = [node(i, shape.family) for i in range(1, nodes + 1)]
    for index, kind in enumerate(kinds):
        balancers += kind.type == "LoadBalancer"
        objects.append(service(index, namespace, kind, shape.ports, node_ports, balancers, shape.family))
        objects.extend(endpoint_slices(index, endpoints, nodes, namespace, shape))
    return objects


def node_ports_problem(shape: Shape, kinds: Sequence[Kind]) -> str | None:
    """Why the services' node ports cannot be allocated uniquely from 30000-32767, or None when they can.

    The API server refuses a service once the range is used up, so the generator refuses the cluster rather
    than reuse a port (two services on one node port) or step outside the range (a warning on every load).
    """
    needed = shape.node_ports_needed(kinds)
    if needed <= len(NODE_PORT_RANGE):
        return None
    external = sum(kind.external for kind in kinds)
    checks = sum(kind.health_check for kind in kinds)
    return (f"{external} NodePort/LoadBalancer services x {shape.ports} ports + {checks} healthCheckNodePorts need "
            f"{needed} node ports; the range {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[-1]} holds "
            f"{len(NODE_PORT_RANGE)}: use fewer services, ports or external kinds")


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


def _fraction(text: str) -> Fraction:
    """0.1 or 1/10, read exactly (a float would mark a different endpoint at some multiples)."""
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction like 0.1 or 1/10") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in 0-1")
    return value


def _kind(text: str) -> Kind:
    try:
        return Kind.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _mix(text: str) -> tuple[tuple[Kind, ...], tuple[int, ...]]:
    """``KIND=WEIGHT,...`` with positive whole weights, each kind once."""
    kinds, weights = [], []
    for item in text.split(","):
        kind_text, _, weight = item.partition("=")
        if not weight.isdigit() or int(weight) < 1:
            raise argparse.ArgumentTypeError(f"{item!r}: expected KIND=WEIGHT with a positive whole weight, "
                                             "e.g. ClusterIP=8,NodePort=1,LoadBalancer+Local=1")
        kinds.append(_kind(kind_text))
        weights.append(int(weight))
    if len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"{text!r}: a kind is given twice; expected each kind once")
    return tuple(kinds), tuple(weights)


def _shape(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Shape:
    if args.not_ready + args.terminating > 1:
        parser.error(f"--not-ready {args.not_ready} and --terminating {args.terminating} add up to more than 1")
    kinds, weights = args.mix if args.mix else ((args.kind,), (1,))
    return Shape(kinds, weights, args.ports, args.not_ready, args.terminating, FAMILIES[args.family])


def main(argv: list[str] | None = None) -> int:
    # allow_abbrev off, as cli.parsers.Parser has it for every parser of the package; the script imports none of
    # the package (stdlib and netaddr), so it passes the flag rather than import the CLI for one class
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--services", type=_positive, required=True, help="number of services")
    parser.add_argument("--endpoints", type=_positive, required=True, help="endpoints per service")
    parser.add_argument("--nodes", type=_positive, default=3, help="nodes to spread endpoints over (default 3)")
    parser.add_argument("--namespace", default="scale", help="namespace of the services (default scale)")
    kinds = parser.add_mutually_exclusive_group()
    kinds.add_argument("--kind", type=_kind, default=Kind(), metavar="KIND",
                       help="every service's kind: ClusterIP, NodePort or LoadBalancer, then any of +Local, "
                            "+ClientIP, +SourceRanges (default ClusterIP)")
    kinds.add_argument("--mix", type=_mix, metavar="KIND=WEIGHT,...",
                       help="deal the kinds out in these proportions, e.g. ClusterIP=8,NodePort=1,LoadBalancer=1")
    parser.add_argument("--ports", type=_positive, default=1, help="ports per service: 80, 81, ... (default 1)")
    parser.add_argument("--not-ready", type=_fraction, default=Fraction(0), metavar="F",
                        help="fraction of the endpoints not ready (default 0)")
    parser.add_argument("--terminating", type=_fraction, default=Fraction(0), metavar="F",
                        help="fraction of the endpoints terminating but still serving (default 0)")
    parser.add_argument("--family", type=int, choices=sorted(FAMILIES), default=4,
                        help="IP family of every address: 4 or 6 (single-stack IPv6; default 4)")
    parser.add_argument("--format", choices=["json", "yaml"], default="json", help="output format (default json)")
    parser.add_argument("-o", "--output", default="-", metavar="FILE", help="output file (default stdout)")
    args = parser.parse_args(argv)
    if args.services + 1 >= 1 << 16 or args.services * args.endpoints >= 1 << 22:
        parser.error("too many services or endpoints for the 10.96/16 and 10.128/10 address ranges")
    if args.ports > 100:
        parser.error(f"--ports {args.ports}: expected at most 100 (ports 80-179, target ports 8080-8179)")
    try:
        objects = generate(args.services, args.endpoints, args.nodes, args.namespace, _shape(parser, args))
    except ValueError as error:  # the node port range is used up
        parser.error(str(error))
    text = render(objects, args.format)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
