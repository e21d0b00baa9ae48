"""The objects layer: Kubernetes manifests in, a typed, defaulted, validated :class:`Cluster` out."""

from typing import TYPE_CHECKING

from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    ContainerPort,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    LoadBalancerIngress,
    Node,
    NodeAddress,
    Origin,
    Pod,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)

if TYPE_CHECKING:
    from kubeproxy_sim.objects.load import LoadResult, load_paths, load_text
    from kubeproxy_sim.objects.mirror import Endpoints, mirror_endpoints

# The loader (YAML, the decoders) is imported on first use: a command's --help, or a module that only needs the
# model (the rule engine takes objects.bulk), should not pay for reading manifests.
_LAZY = {"LoadResult": "load", "load_paths": "load", "load_text": "load",
         "Endpoints": "mirror", "mirror_endpoints": "mirror"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kubeproxy_sim.objects.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AddressType",
    "Cluster",
    "ContainerPort",
    "Endpoint",
    "EndpointConditions",
    "EndpointPort",
    "EndpointSlice",
    "Endpoints",
    "IPFamily",
    "LoadBalancerIngress",
    "LoadResult",
    "Node",
    "NodeAddress",
    "Origin",
    "Pod",
    "Protocol",
    "Service",
    "ServicePort",
    "ServiceType",
    "SessionAffinity",
    "TrafficPolicy",
    "load_paths",
    "load_text",
    "mirror_endpoints",
]
