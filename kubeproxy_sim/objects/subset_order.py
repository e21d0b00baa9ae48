"""The order RepackSubsets leaves an Endpoints object's subsets and ports in: by hash.

pkg/api/endpoints/util.go's SortSubsets, which the API server applies to every Endpoints written (Canonicalize),
sorts each subset's ports, then the subsets, by the MD5 of the value as k8s.io/kubernetes/pkg/util/hash's
DeepHashObject prints it: go-spew's ``%#v`` with methods disabled, which names every value's Go type, e.g.
``(core.EndpointPort){Name:(string)http Port:(int32)80 Protocol:(core.Protocol)TCP AppProtocol:(*string)<nil>}``.
The types are the API server's internal ones (package ``core``), field by field in their declared order; a nil
pointer or slice prints ``<nil>`` after its type, a string its bytes unquoted. So the order looks random but is
fixed by the content: the same subsets come out in the same order wherever they are written.

What the model does not hold prints as the zero value upstream gives a field left out: a targetRef's apiVersion,
resourceVersion and fieldPath, and a ``nodeName: ""`` (read as none, where upstream holds a pointer to "").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (objects.mirror sorts with these, so it is imported here for the types alone)
    from kubeproxy_sim.objects.mirror import EndpointsAddress, EndpointsPort, EndpointsSubset


def _pointer(go_type: str, text: str | None) -> str:
    """A pointer field: its type, then the value it points at, or <nil>."""
    return f"(*{go_type})" + ("<nil>" if text is None else text)


def _address(address: EndpointsAddress) -> str:
    """An element of a []core.EndpointAddress: no type of its own (spew's ignoreNextType), its fields' types."""
    if address.target_ref is None:
        ref = None
    else:
        kind, namespace, name = address.target_ref
        ref = (f"{{Kind:(string){kind} Namespace:(string){namespace} Name:(string){name} UID:(types.UID)"
               f"{address.uid} APIVersion:(string) ResourceVersion:(string) FieldPath:(string)}}")
    return (f"{{IP:(string){address.written_ip} Hostname:(string){address.hostname or ''} "
            f"NodeName:{_pointer('string', address.node_name)} TargetRef:{_pointer('core.ObjectReference', ref)}}}")


def _port(port: EndpointsPort) -> str:
    return (f"{{Name:(string){port.name} Port:(int32){port.port} Protocol:(core.Protocol){port.protocol.value} "
            f"AppProtocol:{_pointer('string', port.app_protocol)}}}")


def _slice(go_type: str, items: Iterable[str]) -> str:
    """A slice field: its type, then its elements in brackets, or <nil> for none (RepackSubsets builds them by
    append, so an empty one is nil)."""
    listed = list(items)
    return f"([]{go_type})" + (f"[{' '.join(listed)}]" if listed else "<nil>")


def port_hash(port: EndpointsPort) -> str:
    """portsByHash's key: the MD5 of the port printed as a value of its own."""
    return hashlib.md5(f"(core.EndpointPort){_port(port)}".encode()).hexdigest()


def subset_hash(subset: EndpointsSubset) -> str:
    """subsetsByHash's key: the MD5 of the subset as SortSubsets leaves it (addresses and ports already sorted)."""
    text = (f"(core.EndpointSubset){{Addresses:{_slice('core.EndpointAddress', map(_address, subset.addresses))} "
            f"NotReadyAddresses:{_slice('core.EndpointAddress', map(_address, subset.not_ready_addresses))} "
            f"Ports:{_slice('core.EndpointPort', map(_port, subset.ports))}}}")
    return hashlib.md5(text.encode()).hexdigest()
