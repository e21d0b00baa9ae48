"""Where the simulator's topology takes a node's pod CIDRs from, which Pods it places, and where a host-network Pod is.

The kernel backend's plan takes the same from the same helpers (tests/kernel/test_plan.py checks that both agree
on :data:`PLACES`).
"""

from __future__ import annotations

import dataclasses

import netaddr
import pytest

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import Cluster, IPFamily
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import NO_ROUTE, REJECT, TIMEOUT, Simulator
from kubeproxy_sim.simulator.topology import build_topology

PLACES = """
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {topology.kubernetes.io/zone: a}}
spec: {podCIDRs: [10.244.1.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
spec: {podCIDRs: [10.244.2.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.0.11}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.10], nodeName: n1, targetRef: {kind: Pod, namespace: default, name: web}}
- {addresses: [10.250.0.3], nodeName: n3}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {nodeName: n1, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: default}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
status: {phase: Succeeded, podIP: 10.244.1.20}
---
apiVersion: v1
kind: Pod
metadata: {name: crashed, namespace: default}
spec: {nodeName: n2, containers: [{name: c, image: x}]}
status: {phase: Failed, podIP: 10.244.2.21}
---
apiVersion: v1
kind: Pod
metadata: {name: leaving, namespace: default, deletionTimestamp: "2026-01-01T00:00:00Z"}
spec: {nodeName: n2, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.244.2.22}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system}
spec: {nodeName: n2, hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 9100}]}]}
status: {phase: Running, podIP: 10.9.9.9}
---
apiVersion: v1
kind: Pod
metadata: {name: exporter, namespace: kube-system}
spec: {nodeName: n2, hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 9300}]}]}
status: {phase: Running, podIP: 192.168.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: unbound, namespace: kube-system}
spec: {hostNetwork: true, containers: [{name: c, image: x}]}
status: {phase: Pending, podIP: 10.9.9.8}
---
apiVersion: v1
kind: Pod
metadata: {name: borrower, namespace: kube-system}
spec: {nodeName: n1, hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 9400}]}]}
status: {phase: Running, podIP: 192.168.0.11}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: gone-1, namespace: default, labels: {kubernetes.io/service-name: gone}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.20], nodeName: n1, targetRef: {kind: Pod, namespace: default, name: done}}
- {addresses: [10.9.9.9], nodeName: n2, targetRef: {kind: Pod, namespace: kube-system, name: agent}}
ports: [{name: http, port: 80, protocol: TCP}]
"""
# the config's pod CIDR is not the Node object's: the object wins, as kube-proxy reads it
CONFIG = ProxyConfig(node_name="n1", node_ips=("192.168.0.10/32",), node_pod_cidrs=("10.99.0.0/24",))


def places():
    return load_text(PLACES, "places.yaml").cluster


def test_pod_cidrs_come_from_the_node_object_else_the_config_for_the_first_node_only() -> None:
    topo = build_topology(places(), CONFIG)
    # n3, an endpoint's nodeName no Node object has, is no node among Node objects (nodes_running, as diff's)
    assert [(n.name, n.pod_cidrs) for n in topo.nodes] == [("n1", ("10.244.1.0/24",)), ("n2", ("10.244.2.0/24",))]
    assert topo.nodes[0].config.node_labels == (("topology.kubernetes.io/zone", "a"),)
    assert topo.nodes[1].config.node_labels == ()
    bare = dataclasses.replace(places(), nodes=())
    labelled = dataclasses.replace(CONFIG, node_labels=(("topology.kubernetes.io/zone", "z"),))
    nodes = build_topology(bare, labelled).nodes
    assert [(n.name, n.pod_cidrs) for n in nodes] == [("n1", ("10.99.0.0/24",)), ("n2", ()), ("n3", ())]
    assert [n.config.node_labels for n in nodes] == [labelled.node_labels, (), ()]


def test_finished_pods_are_left_out_and_terminating_ones_still_run() -> None:
    topo = build_topology(places(), CONFIG)
    keys = {p.key for p in topo.pods}
    assert "default/done" not in keys and "default/crashed" not in keys
    assert "default/leaving" in keys
    sim = Simulator(places(), CONFIG)
    assert sim.server_at("10.244.1.20", 80, "tcp") is None  # nobody has a finished pod's address


def test_a_host_network_pod_is_at_its_node_s_address_and_a_foreign_pod_ip_is_warned_about() -> None:
    topo = build_topology(places(), CONFIG)
    agent = topo.pod("kube-system/agent")
    assert agent is not None and (agent.ip, agent.node, agent.host_network) == ("192.168.0.11", "n2", True)
    assert topo.pod("kube-system/unbound") is None
    warnings = {w.object: w for w in topo.warnings if w.severity is Severity.WARNING}
    # exporter's podIP is its node's
    assert set(warnings) == {"kube-system/agent", "kube-system/unbound", "kube-system/borrower"}
    notes = [(n.kind, n.object, n.field) for n in topo.warnings if n.severity is Severity.NOTE]
    assert notes == [("EndpointSlice", "default/web-1", "endpoints[].nodeName")]  # n3 (phantom_nodes)
    agent_warning = warnings["kube-system/agent"]
    assert (agent_warning.file, agent_warning.kind, agent_warning.field, agent_warning.severity) == (
        "places.yaml", "Pod", "status.podIP", Severity.WARNING)
    assert "'10.9.9.9' is no node's address" in agent_warning.message
    assert "taken to be at node n2's address 192.168.0.11" in agent_warning.message
    unbound = warnings["kube-system/unbound"]
    assert unbound.field == "spec.nodeName" and unbound.message.endswith("left out; expected spec.nodeName")
    sim = Simulator(places(), CONFIG)
    assert sim.server_at("192.168.0.11", 9100, "tcp") == ("kube-system/agent", "192.168.0.11", "n2")


def test_a_host_network_pod_whose_pod_ip_is_another_node_s_is_at_its_own_node() -> None:
    """kubelet gives a host-network Pod its own node's addresses: a podIP that is another node's is warned about
    (naming that node) and the pod's sockets are on its own node, not the other."""
    topo = build_topology(places(), CONFIG)
    borrower = topo.pod("kube-system/borrower")
    assert borrower is not None and (borrower.ip, borrower.node) == ("192.168.0.10", "n1")
    [warning] = [w for w in topo.warnings if w.object == "kube-system/borrower"]
    assert warning.field == "status.podIP"
    assert warning.message.startswith("'192.168.0.11' is node n2's address, not its own node's")
    assert "taken to be at node n1's address 192.168.0.10" in warning.message
    sim = Simulator(places(), CONFIG)
    assert sim.server_at("192.168.0.10", 9400, "tcp") == ("kube-system/borrower", "192.168.0.10", "n1")
    assert sim.server_at("192.168.0.11", 9400, "tcp").reason == "REJECT"  # type: ignore[union-attr]


def test_no_pod_is_made_up_at_a_finished_pod_s_or_a_host_network_pod_s_foreign_address() -> None:
    """An EndpointSlice still listing a finished Pod's address, or a host-network Pod's status.podIP that is no
    address of its node, gets no owner there: nobody answers, as on a real cluster."""
    topo = build_topology(places(), CONFIG)
    assert {p.ip for p in topo.pods} & {"10.244.1.20", "10.9.9.9"} == set()
    sim = Simulator(places(), CONFIG)
    assert sim.server_at("10.244.1.20", 80, "tcp") is None and sim.server_at("10.9.9.9", 80, "tcp") is None
    web = sim.client("pod", "default/web")
    assert sim.connect(web, "10.244.1.20", 80).failure.reason == TIMEOUT  # type: ignore[union-attr]


def test_a_host_network_pod_with_pod_ips_of_the_other_family_is_at_its_node_s_address_of_the_run_s() -> None:
    """A dual-stack node's namespace has both families: its host-network Pod whose podIPs are IPv4 only is at the
    node's IPv6 address in an IPv6 run, silently (nothing the objects say is wrong)."""
    text = """
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}, {type: InternalIP, address: "fd00::10"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system}
spec: {nodeName: n1, hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 9100}]}]}
status: {phase: Running, podIP: 192.168.0.10}
"""
    config = ProxyConfig(node_name="n1", node_ips=("fd00::10/128",), ip_family=IPFamily.IPV6)
    topo = build_topology(load_text(text).cluster, config)
    agent = topo.pod("kube-system/agent")
    assert agent is not None and (agent.ip, agent.node, agent.host_network) == ("fd00::10", "n1", True)
    assert topo.warnings == ()


def test_an_address_of_a_pod_cidr_no_pod_has_is_silence_and_one_outside_every_pod_cidr_no_route() -> None:
    """The nodes route a pod CIDR to its node's bridge, where nobody answers ARP for an address no pod has (a real
    node answers host-unreachable only when ARP gives up, ~3 s, past the tools' timeouts); the router has no
    route for an address of no node's pod CIDR."""
    sim = Simulator(places(), CONFIG)
    web = sim.client("pod", "default/web")
    for client in (web, sim.client("node", "n1"), sim.client("node", "n2")):
        for address in ("10.244.1.250", "10.244.2.250"):
            assert sim.connect(client, address, 80).failure.reason == TIMEOUT, (client, address)  # type: ignore
    assert sim.connect(web, "10.250.0.99", 80).failure.reason == NO_ROUTE  # type: ignore[union-attr]


EVERYWHERE = PLACES.replace("spec: {podCIDRs: [10.244.2.0/24]}", "spec: {podCIDRs: [0.0.0.0/0]}")
"""n2's podCIDR covers every address."""


@pytest.mark.parametrize(("spec", "overrides", "field"), [
    ("spec: {podCIDR: 0.0.0.0/0}", None, "spec.podCIDR"),  # the older single field
    ("spec: {podCIDR: 0.0.0.0/0, podCIDRs: [10.244.2.0/24]}", None, "spec.podCIDR"),  # it wins when they differ
    ("spec: {podCIDRs: ['fd00:10:244:2::/64', 0.0.0.0/0]}", None, "spec.podCIDRs[1]"),
    ("spec: {podCIDRs: [10.244.2.0/24]}", {"n2": {"node_pod_cidrs": ("0.0.0.0/0",)}}, None),  # not the Node's
])
def test_a_refused_pod_cidr_is_named_at_the_field_it_came_from(
        spec: str, overrides: dict | None, field: str | None) -> None:
    """The warning's path is where the pod CIDR was read: spec.podCIDR for the singular field (alone, or winning
    over podCIDRs), podCIDRs' own position, and no field of the Node object for pod CIDRs that are not the
    object's (a per-node config's), nor its file."""
    cluster = load_text(PLACES.replace("spec: {podCIDRs: [10.244.2.0/24]}", spec), "places.yaml").cluster
    [warning] = [w for w in build_topology(cluster, CONFIG, overrides=overrides).warnings
                 if w.kind == "Node" and w.severity is Severity.WARNING and "covers every address" in w.message]
    assert (warning.object, warning.field) == ("n2", field)
    assert warning.file == ("places.yaml" if field else None)


def test_a_pod_cidr_of_every_address_is_refused_for_the_network_alike_in_the_kernel_s_plan() -> None:
    """kube-proxy takes a /0 podCIDR as given, but as a range of n2's pods it would put every address on n2's
    bridge (the simulator routed n1's traffic for the outside to n2, which found nobody there): both backends
    take n2 to have no pod CIDR, with one warning naming the file, the Node and the field, and keep it for the
    rules; the differential's client pod is not placed inside it."""
    warning = _left_out_alike(load_text(EVERYWHERE, "places.yaml").cluster, "0.0.0.0/0", "wide")
    assert warning.message.startswith("'0.0.0.0/0' covers every address") and "expected" in warning.message


def _left_out_alike(cluster: Cluster, cidr: str, stage: str) -> Diagnostic:
    """n2's pod range ``cidr`` is left out of the network, alike by the simulator, the kernel's plan (named
    ``stage``) and the differential's client placement, with one warning at its field, which is returned."""
    from kubeproxy_sim.kernel.differential import with_clients
    from kubeproxy_sim.kernel.plan import plan

    topo = build_topology(cluster, CONFIG)
    n2 = topo.node("n2")
    assert n2 is not None and (n2.pod_cidrs, n2.gateways, n2.config.node_pod_cidrs) == ((), (), (cidr,))
    [warning] = [w for w in topo.warnings if w.kind == "Node"]
    assert (warning.file, warning.object, warning.field, warning.severity) == (
        "places.yaml", "n2", "spec.podCIDRs[0]", Severity.WARNING)
    staged = plan(stage, cluster, CONFIG)
    assert [w for w in staged.warnings if w.kind == "Node"] == [warning]
    assert [n.pod_cidrs for n in staged.nodes] == [n.pod_cidrs for n in topo.nodes]
    sim = Simulator(cluster, CONFIG)
    made = sim.connect(sim.client("pod", "default/web"), sim.topology.default_client, 80)
    assert made.failure is not None and made.failure.reason == REJECT  # the outside host's own refusal
    assert "n2" not in with_clients(cluster, CONFIG, ["n1", "n2", "n3"])[1]
    return warning


@pytest.mark.parametrize(("cidr", "held"), [
    ("0.1.0.0/16", None), ("0.0.0.0/24", "the unspecified address (0.0.0.0/32)"), ("10.0.0.0/8", None),
    ("255.255.255.0/24", "the broadcast address (255.255.255.255/32)"),
    ("fe80::/64", "link-local addresses (fe80::/10)"), ("fd00::/8", None),
    ("::/1", "the unspecified address (::/128) and the loopback address (::1/128)")])
def test_the_part_of_a_range_no_pod_can_have(cidr: str, held: str | None) -> None:
    """Since Linux 5.3 only 0.0.0.0 of 0.0.0.0/8 is the kernel's zeronet (evaluate.zeronet): the rest is unicast,
    so a pod range there is routed as any (netns answered a client at 0.1.2.3); the ranges are evaluate's
    SPECIAL_RANGES, which send's clients and the tracer's martian sources read too."""
    from kubeproxy_sim.simulator.topology import unroutable_part

    assert unroutable_part(cidr) == held


@pytest.mark.parametrize(("cidr", "held"), [
    ("128.0.0.0/1", "multicast addresses (224.0.0.0/4) and the broadcast address (255.255.255.255/32)"),
    ("0.0.0.0/1", "the unspecified address (0.0.0.0/32) and loopback addresses (127.0.0.0/8)"),
    ("127.0.0.0/16", "loopback addresses (127.0.0.0/8)")])
def test_a_pod_cidr_holding_addresses_no_pod_can_have_is_left_out_alike(cidr: str, held: str) -> None:
    """A /1 is half of every address: 128.0.0.0/1 held the node network, the stage's router and its outside client
    (203.0.113.10), which the simulator then routed to n2's bridge (silence) where the kernel's host routes reached
    the client (its refusal), and 0.0.0.0/1 gave dist and the differential a client pod at 127.255.255.254. Every
    /1 holds addresses no pod can have (martians to the kernel, multicast, link-local), as does any range over
    them: the simulator, the kernel's plan and dist leave such a range out as they do a /0, with one warning."""
    import netaddr

    from kubeproxy_sim.analysis.nodes import free_pod_address, node_set

    cluster = load_text(PLACES.replace("spec: {podCIDRs: [10.244.2.0/24]}", f"spec: {{podCIDRs: [{cidr}]}}"),
                        "places.yaml").cluster
    warning = _left_out_alike(cluster, cidr, "half")
    assert warning.message == (f"{cidr!r} holds {held}, which no pod can have (the kernel drops or never forwards a "
                               "packet to them): as the node's pod range it would put them on its pods' bridge, so "
                               "the network takes the node to have no such pod CIDR (kube-proxy's rules keep it); "
                               "expected the node's own range, e.g. 10.244.1.0/24")
    base = ProxyConfig(node_name="n1", node_ips=("192.168.0.10/32",), cluster_cidrs=("10.244.0.0/16",))
    dist = free_pod_address(node_set(cluster, base), "n2", set())
    assert dist is not None and netaddr.IPAddress(dist) in netaddr.IPNetwork("10.244.0.0/16")


@pytest.mark.parametrize(("cidr", "staged"), [("fd00:10:244:2::/64", True), ("::/1", False), ("8000::/1", False),
                                              ("fe80::/64", False), ("10.244.2.0/24", True), ("240.0.0.0/5", True)])
def test_which_pod_cidrs_the_network_routes(cidr: str, staged: bool) -> None:
    """Class E (240.0.0.0/4 but its broadcast address) is unicast to Linux; IPv6 ::/1 holds loopback, 8000::/1
    link-local and multicast, and a link-local range is never forwarded."""
    from kubeproxy_sim.simulator.topology import staged_pod_cidrs

    family = 6 if ":" in cidr else 4
    config = ProxyConfig(node_name="n2", node_pod_cidrs=(cidr,))
    assert staged_pod_cidrs(config, family) == ((cidr,) if staged else ())


def test_send_warns_about_a_pod_cidr_of_every_address(tmp_path, capsys) -> None:
    from kubeproxy_sim.cli.main import main

    path = tmp_path / "places.yaml"
    path.write_text(EVERYWHERE)
    assert main(["send", "-f", str(path), "--hostname-override", "n1", "--from", "node/n1",
                 "--to", "10.244.1.10:8080", "--count", "1"]) == 0
    err = capsys.readouterr().err
    assert f"kubeproxy-sim: {path}: Node n2: spec.podCIDRs[0]: warning: '0.0.0.0/0' covers every address" in err


def test_send_warns_about_a_host_network_pod_s_foreign_address(tmp_path, capsys) -> None:
    from kubeproxy_sim.cli.main import main

    path = tmp_path / "places.yaml"
    path.write_text(PLACES)
    assert main(["send", "-f", str(path), "--hostname-override", "n1", "--from", "node/n1",
                 "--to", "192.168.0.11:9100", "--count", "1", "-o", "json"]) == 0
    err = capsys.readouterr().err
    assert f"kubeproxy-sim: {path}: Pod kube-system/agent: status.podIP: warning: '10.9.9.9' is no node's" in err


def test_send_from_a_finished_or_unscheduled_pod_says_why_it_is_nowhere(tmp_path, capsys) -> None:
    from kubeproxy_sim.cli.main import main

    path = tmp_path / "places.yaml"
    path.write_text(PLACES)
    for source, why in (("pod/default/done", "the pod has finished (status.phase Succeeded), so it has no network"),
                        ("pod/kube-system/unbound", "the pod is host-network and names no node (spec.nodeName)")):
        assert main(["send", "-f", str(path), "--hostname-override", "n1", "--from", source,
                     "--to", "10.244.1.10:8080", "--count", "1"]) == 1
        err = capsys.readouterr().err
        assert f"--from: {source!r}: {why}" in err and "no such pod" not in err, err


def test_the_analysis_and_the_kernel_s_clients_take_a_node_s_pod_cidrs_as_the_simulator_does() -> None:
    """analysis.nodes.node_set and kernel.differential.with_clients ask about_node too: the Node object's pod
    CIDRs and labels (the first node's config gives them only without one), a non-first node without one none."""
    from kubeproxy_sim.analysis.nodes import node_set
    from kubeproxy_sim.kernel.differential import with_clients

    topo = build_topology(places(), CONFIG)
    nodes = node_set(places(), CONFIG)
    assert [(n.name, n.config.node_pod_cidrs, n.config.node_labels) for n in topo.nodes] == [
        (name, nodes.configs[name].node_pod_cidrs, nodes.configs[name].node_labels) for name in nodes.order]
    full, clients = with_clients(places(), CONFIG, ["n1", "n2", "n3"])
    placed = {p.key: netaddr.IPAddress(p.pod_ips[0]) for p in full.pods}
    assert placed[clients["n1"]] in netaddr.IPNetwork("10.244.1.0/24")  # the object's, not the config's 10.99.0.0/24
    assert placed[clients["n2"]] in netaddr.IPNetwork("10.244.2.0/24") and "n3" not in clients


def test_the_analysis_makes_up_no_client_pod_inside_a_pod_cidr_of_every_address() -> None:
    """dist's client pod made up for n2 (which has no pods) comes from the pod CIDRs the network routes, as send's
    and netns's: not from n2's /0 (0.0.0.200, an address of nobody's range), nor kept off the cluster CIDR by it."""
    import netaddr

    from kubeproxy_sim.analysis.nodes import free_pod_address, node_set

    base = ProxyConfig(node_name="n1", node_ips=("192.168.0.10/32",), cluster_cidrs=("10.244.0.0/16",))
    nodes = node_set(load_text(EVERYWHERE, "places.yaml").cluster, base)
    made = free_pod_address(nodes, "n2", set())
    assert made is not None and netaddr.IPAddress(made) in netaddr.IPNetwork("10.244.0.0/16")
