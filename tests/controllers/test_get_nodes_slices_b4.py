"""``get nodes`` and ``get endpointslices`` as kubectl 1.33 prints them (printers.go's printNode and
printEndpointSlice columns; a Node is cluster-scoped: no NAMESPACE column under -A, a bare ``No resources found``)."""

from __future__ import annotations

from dataclasses import replace

from kubeproxy_sim.controllers import kubectl_get as G
from kubeproxy_sim.objects.model import AddressType, Endpoint, EndpointPort, EndpointSlice, NodeAddress

from ._helpers import NODES
from .test_patch_get_label import exposed, run


def test_nodes_table_wide_and_all_namespaces() -> None:
    world, rng = exposed(replicas=1)
    _, played = run(world, rng, "get nodes", "get no -o wide", "get nodes -A", "get node/node2 -o name",
                    "get nodes -l nosuch=1", "get nodes node9")
    header, first, _ = played[0].notes
    assert header.split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert first.split() == ["node1", "Ready", "<none>", "5s"]
    assert played[1].notes[0].split()[5:] == ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                                              "CONTAINER-RUNTIME"]
    assert played[1].notes[1].split()[4:] == ["192.168.49.2", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    assert played[2].notes == played[0].notes  # cluster-scoped: no NAMESPACE column
    assert played[3].notes == ("node/node2",)
    assert played[4].notes == ("No resources found",)
    assert played[5].error == 'Error from server (NotFound): nodes "node9" not found'


def test_node_roles_and_status() -> None:
    labels = (("node-role.kubernetes.io/control-plane", ""), ("kubernetes.io/role", "master"),
              ("node-role.kubernetes.io/", "x"))
    assert G.node_roles(labels) == "control-plane,master"
    assert G.node_roles(()) == "<none>"
    assert [G.node_status(True, True), G.node_status(False, True), G.node_status(False, False)] == [
        "Ready", "NotReady", "Unknown"]
    node = replace(NODES[0], addresses=(NodeAddress("ExternalIP", "1.2.3.4"), NodeAddress("InternalIP", "10.0.0.1")))
    assert G.node_row(node, "Ready", "1s", True)[5:7] == ["10.0.0.1", "1.2.3.4"]


def test_endpointslices_table() -> None:
    world, rng = exposed(replicas=4)
    _, played = run(world, rng, "get endpointslices", "get endpointslice.discovery.k8s.io -o name",
                    "get endpointslices.discovery.k8s.io -A", "get endpointslice nosuch")
    header, row = played[0].notes
    assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    name, kind, ports, *endpoints, age = row.split()
    assert name.startswith("web-") and (kind, ports, age) == ("IPv4", "8080", "5s")
    assert " ".join(endpoints).endswith(" + 1 more...") and endpoints[0].count(",") == 2
    assert played[1].notes == (f"endpointslice.discovery.k8s.io/{name}",)
    assert played[2].notes[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert played[3].error == 'Error from server (NotFound): endpointslices.discovery.k8s.io "nosuch" not found'


def test_slice_cells() -> None:
    placeholder = EndpointSlice("default", "web-abcde", "web", AddressType.IPV4)
    assert G.slice_row(placeholder, "1s") == ["web-abcde", "IPv4", "<unset>", "<unset>", "1s"]
    ports = (EndpointPort("http", 80), EndpointPort("named"), EndpointPort(), EndpointPort("x", 9))
    full = replace(placeholder, ports=ports, endpoints=(Endpoint(("10.0.0.1", "10.0.0.2")),))
    assert G.slice_row(full, "1s")[2:4] == ["80,named,* + 1 more...", "10.0.0.1,10.0.0.2"]
