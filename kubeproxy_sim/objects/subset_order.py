"""The order SortSubsets leaves an Endpoints object's subsets and ports in: by hash, and of which Go types.

SortSubsets sorts each subset's ports, then the subsets, by the MD5 of the value as k8s.io/kubernetes/pkg/util/hash's
DeepHashObject prints it: go-spew's ``%#v`` with methods disabled, which names every value's Go type, e.g.
``(core.EndpointPort){Name:(string)http Port:(int32)80 Protocol:(core.Protocol)TCP AppProtocol:(*string)<nil>}``.
Two copies of it sort the same subsets, over types of two packages, so in two orders:

- ``core``: pkg/api/endpoints's, over the API server's internal types, which the API server applies to every
  Endpoints object written (Canonicalize): the order a stored object's subsets are read in;
- ``v1``: pkg/api/v1/endpoints's, over k8s.io/api/core/v1's types (printed ``v1.EndpointSubset``,
  ``v1.Protocol``, ...), which the endpoints controller's RepackSubsets ends with before it truncates the subsets
  to its capacity (truncateEndpoints): which subsets keep their addresses depends on this order, though the
  stored object shows the core one.

The types' fields are declared in the same order in both packages; a nil pointer or slice prints ``<nil>`` after
its type, a string its bytes unquoted. So the order looks random but is fixed by the content: the same subsets come
out in the same order wherever they are written.

What the model does not hold prints as the zero value upstream gives a field left out: a targetRef's apiVersion,
resourceVersion and fieldPath. A nodeName the model holds as None is one left out (a nil pointer, printed
``(*string)<nil>``); an empty one is never stored: the API server refuses ``nodeName: ""`` (ValidateEndpoints
checks a nodeName that is set as a Node name), and the endpoints controller only writes the nodeName of a pod with
an address, which is bound to a Node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (objects.mirror sorts with these, so it is imported here for the types alone)
    from kubeproxy_sim.objects.mirror import EndpointsAddress, EndpointsPort, EndpointsSubset


CORE = "core"  # the API server's internal types (pkg/apis/core)
V1 = "v1"  # the versioned types (k8s.io/api/core/v1)


def _pointer(go_type: str, text: str | None) -> str:
    """A pointer field: its type, then the value it points at, or <nil>."""
    return f"(*{go_type})" + ("<nil>" if text is None else text)


def _address(address: EndpointsAddress, package: str) -> str:
    """An element of a []EndpointAddress: no type of its own (spew's ignoreNextType), its fields' types."""
    if address.target_ref is None:
        ref = None
    else:
        kind, namespace, name = address.target_ref
        ref = (f"{{Kind:(string){kind} Namespace:(string){namespace} Name:(string){name} UID:(types.UID)"
               f"{address.uid} APIVersion:(string) ResourceVersion:(string) FieldPath:(string)}}")
    return (f"{{IP:(string){address.written_ip} Hostname:(string){address.hostname or ''} "
            f"NodeName:{_pointer('string', address.node_name)} "
            f"TargetRef:{_pointer(f'{package}.ObjectReference', ref)}}}")


def _port(port: EndpointsPort, package: str) -> str:
    return (f"{{Name:(string){port.name} Port:(int32){port.port} Protocol:({package}.Protocol){port.protocol.value} "
            f"AppProtocol:{_pointer('string', port.app_protocol)}}}")


def _slice(go_type: str, items: Iterable[str]) -> str:
    """A slice field: its type, then its elements in brackets, or <nil> for none (RepackSubsets builds them by
    append, so an empty one is nil)."""
    listed = list(items)
    return f"([]{go_type})" + (f"[{' '.join(listed)}]" if listed else "<nil>")


def port_hash(port: EndpointsPort, package: str = CORE) -> str:
    """portsByHash's key: the MD5 of the port printed as a value of its own, of ``package``'s type."""
    import hashlib  # (here: only v1 Endpoints are sorted; importing hashlib sets up OpenSSL, ~13M instructions)

    return hashlib.md5(f"({package}.EndpointPort){_port(port, package)}".encode()).hexdigest()


def subset_hash(subset: EndpointsSubset, package: str = CORE) -> str:
    """subsetsByHash's key: the MD5 of the subset as SortSubsets leaves it (addresses and ports already sorted),
    of ``package``'s types."""
    addresses = _slice(f"{package}.EndpointAddress", (_address(a, package) for a in subset.addresses))
    not_ready = _slice(f"{package}.EndpointAddress", (_address(a, package) for a in subset.not_ready_addresses))
    ports = _slice(f"{package}.EndpointPort", (_port(p, package) for p in subset.ports))
    text = f"({package}.EndpointSubset){{Addresses:{addresses} NotReadyAddresses:{not_ready} Ports:{ports}}}"
    import hashlib  # (see port_hash)

    return hashlib.md5(text.encode()).hexdigest()
