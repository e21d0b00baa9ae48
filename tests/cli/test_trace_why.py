"""A trace of generated rules says why each outcome ended as it did, naming the Service field or the endpoint
condition behind the rule (an on-call reader's incidents: a selector matching nothing, a named port the slices
lack, a Local policy on a node without endpoints, a source range, the terminating fallback, topology hints,
hairpin, a NodePort on an address --nodeport-addresses leaves out, a targetPort the pod does not declare)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

NODES = """
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: zone-a}}
spec: {podCIDRs: [10.244.1.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {topology.kubernetes.io/zone: zone-b}}
spec: {podCIDRs: [10.244.2.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.0.11}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec: {nodeName: node1, containers: [{name: c, image: busybox}]}
status: {podIP: 10.244.1.5, podIPs: [{ip: 10.244.1.5}], phase: Running}
"""

SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  type: {type}
  clusterIP: 10.96.0.10
  selector: {{app: web}}
  ports: [{{name: http, port: 80, protocol: TCP, targetPort: {target}{node_port}}}]
{spec}"""

SLICE = """
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-abcde, namespace: default, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
endpoints: [{endpoints}]
ports: {ports}
"""

HTTP = "[{name: http, port: 8080, protocol: TCP}]"


def endpoint(ip: str, node: str, ready: bool = True, serving: bool = True, terminating: bool = False,
             hint: str | None = None) -> str:
    hints = f", hints: {{forZones: [{{name: {hint}}}]}}" if hint else ""
    return (f"{{addresses: [{ip}], nodeName: {node}{hints}, conditions: {{ready: {str(ready).lower()}, "
            f"serving: {str(serving).lower()}, terminating: {str(terminating).lower()}}}}}")


def cluster(tmp_path: Path, *, endpoints: list[str], type_: str = "ClusterIP", target: str = "8080",
            spec: str = "", ports: str = HTTP, extra: str = "") -> Path:
    node_port = ", nodePort: 30080" if type_ != "ClusterIP" else ""
    text = NODES + SERVICE.format(type=type_, target=target, node_port=node_port, spec=spec)
    text += SLICE.format(endpoints=", ".join(endpoints), ports=ports) + extra
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def notes(path: Path, capsys: pytest.CaptureFixture[str], *packet: str, args: tuple[str, ...] = ()) -> list[str]:
    """The notes of the trace, checked to be the same in its text and its JSON."""
    argv = ["trace", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16", *args,
            *packet]
    assert main([*argv, "-o", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["notes"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert [line.removeprefix("note: ") for line in text.splitlines() if line.startswith("note: ")] == found
    return found


POD_TO_CLUSTER_IP = ("--src", "10.244.1.5", "--dst", "10.96.0.10", "--dport", "80")
NO_ENDPOINTS = "default/web:http has no endpoints, so kube-proxy rejects the connection (ICMP port unreachable): "


def test_a_selector_matching_no_pod_is_named(tmp_path, capsys) -> None:
    pod = ("\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: webapp}}\n"
           "spec: {nodeName: node2, containers: [{name: web, image: nginx}]}\n"
           "status: {podIP: 10.244.2.10, podIPs: [{ip: 10.244.2.10}], phase: Running}\n")
    path = cluster(tmp_path, endpoints=[], extra=pod)
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        NO_ENDPOINTS + "its EndpointSlices list no address; spec.selector app=web matches none of the 2 pods "
        "read in namespace default"]


def test_a_named_target_port_the_slices_lack_is_named(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], target="http-web", ports="[]")
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        NO_ENDPOINTS + "its EndpointSlices list 10.244.2.10 but no port 'http' (TCP); the EndpointSlice controller "
        "leaves out a port when the pod has no container port of the Service's targetPort (http-web)"]


def test_a_numeric_target_port_the_slices_lack_is_no_controller_s_doing(tmp_path, capsys) -> None:
    """FindPort returns a numeric targetPort for every pod, so the EndpointSlice controller always writes it:
    slices without the port were written by someone else."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], ports="[]")
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        NO_ENDPOINTS + "its EndpointSlices list 10.244.2.10 but no port 'http' (TCP); the Service's targetPort is a "
        "number (8080), which the EndpointSlice controller always writes, so these EndpointSlices were written by "
        "hand or by another controller"]


def test_endpoints_neither_ready_nor_serving_are_named_with_their_conditions(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.20", "node2", ready=False, serving=False)])
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        NO_ENDPOINTS + "none of its endpoints is ready, or serving while terminating: 10.244.2.20 (ready false, "
        "serving false, terminating false); kube-proxy uses ready endpoints, else serving terminating ones "
        "(spec.publishNotReadyAddresses true would have the EndpointSlice controller list its pods as ready)"]


def test_the_terminating_fallback_is_named(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2", ready=False, terminating=True),
                                        endpoint("10.244.2.11", "node2", False, False, True)])
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "default/web:http has no ready endpoint, so kube-proxy falls back to its serving terminating ones "
        "(conditions ready false, serving true, terminating true); unused, not ready and not serving: 10.244.2.11"]


def test_external_traffic_policy_local_on_a_node_without_endpoints(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n")
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "192.168.0.10", "--dport", "30080") == [
        "default/web:http has spec.externalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
        "usable endpoints are 10.244.2.10 on node2), so kube-proxy here drops traffic that is not from this node or "
        "a pod of the cluster (-s 10.244.0.0/16) rather than forward it to another node"]


def test_internal_traffic_policy_local_on_a_node_without_endpoints(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], spec="  internalTrafficPolicy: Local\n")
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "default/web:http has spec.internalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
        "usable endpoints are 10.244.2.10 on node2), so kube-proxy drops traffic from this node to its cluster "
        "IP: a Local policy never sends it to another node"]


def test_a_client_outside_the_load_balancer_source_ranges(tmp_path, capsys) -> None:
    lb = ("  loadBalancerSourceRanges: [198.51.100.0/24]\nstatus:\n  loadBalancer:\n"
          "    ingress: [{ip: 203.0.113.100}]\n")
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], type_="LoadBalancer", spec=lb)
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "203.0.113.100", "--dport", "80") == [
        "203.0.113.2 is not in spec.loadBalancerSourceRanges of default/web (198.51.100.0/24), so the KUBE-FW "
        "chain sends it to no endpoint and KUBE-PROXY-FIREWALL drops it"]
    assert notes(path, capsys, "--src", "198.51.100.7", "--dst", "203.0.113.100", "--dport", "80") == []


def test_hairpin_masquerade_is_explained(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1")])
    assert notes(path, capsys, "--src", "10.244.1.10", "--dst", "10.96.0.10", "--dport", "80") == [
        "10.244.1.10 is an endpoint of default/web:http and reached itself (hairpin): the KUBE-SEP chain's -s "
        "10.244.1.10 rule marks the packet for masquerade, so the pod sees it from the node and its reply returns "
        "through the node (the pod's bridge port must allow hairpin, as kubelet's hairpinMode or the CNI sets it)"]


def test_hairpin_of_a_split_is_said_of_the_times_it_reaches_itself(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1"), endpoint("10.244.2.10", "node2")])
    assert notes(path, capsys, "--src", "10.244.1.10", "--dst", "10.96.0.10", "--dport", "80") == [
        "10.244.1.10 is an endpoint of default/web:http; when it reaches itself (hairpin), the KUBE-SEP chain's -s "
        "10.244.1.10 rule marks the packet for masquerade, so the pod sees it from the node and its reply returns "
        "through the node (the pod's bridge port must allow hairpin, as kubelet's hairpinMode or the CNI sets it)"]


def test_a_host_network_endpoint_reaching_itself_is_no_hairpin(tmp_path, capsys) -> None:
    """A host-network endpoint is the node's own address: it reaches itself on the host, through no bridge."""
    pod = ("\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: hn, namespace: default, labels: {app: web}}\n"
           "spec: {nodeName: node1, hostNetwork: true, containers: [{name: web, image: nginx}]}\n"
           "status: {podIP: 192.168.0.10, podIPs: [{ip: 192.168.0.10}], phase: Running}\n")
    path = cluster(tmp_path, endpoints=[endpoint("192.168.0.10", "node1")], extra=pod)
    assert notes(path, capsys, "--src", "192.168.0.10", "--dst", "10.96.0.10", "--dport", "80") == []


def test_a_target_port_the_pod_does_not_declare(tmp_path, capsys) -> None:
    pod = ("\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: web}}\n"
           "spec: {nodeName: node2, containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}\n"
           "status: {podIP: 10.244.2.10, podIPs: [{ip: 10.244.2.10}], phase: Running}\n")
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], extra=pod)
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "pod default/web-1 declares container ports 80 (TCP), not 8080: kube-proxy DNATs to the EndpointSlice's "
        "port 8080 regardless, and whether anything listens there is not in the objects (a declared port is "
        "informational; a wrong targetPort is refused by the pod, not by the rules)"]


def test_topology_hints_narrowing_to_the_node_s_zone(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1", hint="zone-a"),
                                        endpoint("10.244.2.10", "node2", hint="zone-b"),
                                        endpoint("10.244.2.11", "node2", hint="zone-b")])
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "every ready endpoint of default/web:http carries topology hints and some are for zone zone-a, where node "
        "node1 is, so kube-proxy here uses only those: 1 of 3 ready endpoints (10.244.1.10)"]


def test_topology_hints_for_other_zones_only_are_ignored(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1", hint="zone-b"),
                                        endpoint("10.244.2.10", "node2", hint="zone-b")])
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "every ready endpoint of default/web:http carries zone hints, but none is for zone zone-a, where node "
        "node1 is, so kube-proxy here ignores the hints and uses them all"]


def test_a_node_port_on_an_address_nodeport_addresses_leaves_out(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], type_="NodePort")
    args = ("--node-ip", "192.168.0.10/24", "--node-ip", "10.0.0.10/24", "--nodeport-addresses", "192.168.0.0/24")
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "10.0.0.10", "--dport", "30080", args=args) == [
        "30080/TCP is the NodePort of default/web:http, but --nodeport-addresses 192.168.0.0/24 leaves 10.0.0.10 "
        "out: kube-proxy serves NodePorts on node node1 only at 192.168.0.10, so the packet reaches the node itself "
        "untranslated (refused unless a host process listens on the port)"]
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "192.168.0.10", "--dport", "30080", args=args) == []


def test_an_ordinary_delivery_has_no_note(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1"), endpoint("10.244.2.10", "node2")])
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == []


def test_dist_views_say_why_their_entries_fail(tmp_path, capsys) -> None:
    """dist's DROP rows read as bare as trace's did: the view's notes carry the same sentence, once, and only for
    entries that carry traffic."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n")
    assert main(["dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--to", "web.default", "-o", "json"]) == 0
    views = {v["kind"]: v["notes"] for v in json.loads(capsys.readouterr().out)["services"][0]["views"]}
    assert views == {"clusterIP": [], "nodePort": [
        "default/web:http has spec.externalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
        "usable endpoints are 10.244.2.10 on node2), so kube-proxy here drops traffic that is not from this node or "
        "a pod of the cluster (-s 10.244.0.0/16) rather than forward it to another node"]}


def test_session_affinity_says_whose_shares_these_are(tmp_path, capsys) -> None:
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1"), endpoint("10.244.2.10", "node2")],
                   spec="  sessionAffinity: ClientIP\n")
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "default/web:http has spec.sessionAffinity ClientIP (timeoutSeconds 10800): these shares are a new client's; "
        "one that node node1 sent to an endpoint less than 10800 s ago goes back to it every time (its KUBE-SEP "
        "chain's recent list holds it: --affinity LIST traces that)"]
    assert main(["rules", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]) == 0
    held = next(w for w in capsys.readouterr().out.split() if w.startswith("KUBE-SEP-"))
    assert notes(path, capsys, *POD_TO_CLUSTER_IP, args=("--affinity", held)) == []  # a client a list holds


def test_a_client_the_second_list_holds_has_no_new_client_note(tmp_path, capsys) -> None:
    """--affinity naming the list checked second: the first is assumed not to hold the client (uncertain), yet
    the client goes back to the second's endpoint, which is no new client's share (README: the note is said only
    when no --affinity list holds the client)."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1"), endpoint("10.244.2.10", "node2")],
                   spec="  sessionAffinity: ClientIP\n")
    assert main(["rules", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]) == 0
    checked = [line.split("--name ")[1].split()[0] for line in capsys.readouterr().out.splitlines()
               if "--rcheck" in line]
    assert len(checked) == 2
    assert notes(path, capsys, *POD_TO_CLUSTER_IP, args=("--affinity", checked[1])) == []
    # a list of no endpoint of this service (the note stays: no given list holds the client here)
    assert len(notes(path, capsys, *POD_TO_CLUSTER_IP, args=("--affinity", "KUBE-SEP-NOPE"))) == 1


def test_the_local_policy_s_own_terminating_fallback_is_named(tmp_path, capsys) -> None:
    """Under a Local policy kube-proxy uses this node's serving terminating endpoints while other nodes have ready
    ones (topology.go, CategorizeEndpoints): not the cluster-wide 'no ready endpoint' fallback."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1", ready=False, terminating=True),
                                        endpoint("10.244.2.10", "node2")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n")
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "192.168.0.10", "--dport", "30080") == [
        "default/web:http has spec.externalTrafficPolicy Local and node node1 has no ready local endpoint, so the "
        "Local policy uses its serving terminating ones (conditions ready false, serving true, terminating true), "
        "not the ready ones on other nodes: 10.244.2.10"]


def test_topology_hints_are_not_said_of_a_local_policy_s_path(tmp_path, capsys) -> None:
    """An eTP Local Service uses cluster endpoints too (for its own pods' traffic), but an external client's path
    goes through KUBE-SVL, which ignores hints: a hint note there would name endpoints the outcome did not use."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1", hint="zone-b"),
                                        endpoint("10.244.2.10", "node2", hint="zone-a")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n")
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "192.168.0.10", "--dport", "30080") == []
    assert notes(path, capsys, "--src", "10.244.1.5", "--dst", "192.168.0.10", "--dport", "30080") == [
        "every ready endpoint of default/web:http carries topology hints and some are for zone zone-a, where node "
        "node1 is, so kube-proxy here uses only those: 1 of 2 ready endpoints (10.244.2.10)"]


def test_a_ready_terminating_endpoint_is_no_fallback(tmp_path, capsys) -> None:
    """A deleting pod of a Service with publishNotReadyAddresses stays ready while terminating: kube-proxy counts it
    as ready (CategorizeEndpoints tests IsReady first), so no fallback is said."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1", ready=True, terminating=True)])
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == []


NODE3 = ("\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node3}\nspec: {podCIDRs: [10.244.3.0/24]}\n"
         "status: {addresses: [{type: InternalIP, address: 192.168.0.12}]}\n")


def test_dist_names_the_nodes_failing_for_one_reason_once(tmp_path, capsys) -> None:
    """dist's entries at node1 and node2 drop for the same reason: one sentence names both, not one per node."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.3.10", "node3")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n", extra=NODE3)
    assert main(["dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--to", "web.default", "-o", "json"]) == 0
    views = {v["kind"]: v["notes"] for v in json.loads(capsys.readouterr().out)["services"][0]["views"]}
    assert views["nodePort"] == [
        "default/web:http has spec.externalTrafficPolicy Local and nodes node1, node2 have none of its usable "
        "endpoints (its usable endpoints are 10.244.3.10 on node3), so kube-proxy here drops traffic that is not "
        "from this node or a pod of the cluster (-s 10.244.0.0/16) rather than forward it to another node"]


def test_merged_notes_name_many_nodes_once_and_keep_others() -> None:
    from kubeproxy_sim.analysis.why import Cause, Reason, merged_causes

    said = "node node{} has none, so kube-proxy on node node{} drops"
    pairs = [(f"node{i}", Reason(said.format(i, i), frozenset({"DROP"}))) for i in (1, 10, 2, 3, 4, 5)]
    everywhere = Reason("the same everywhere", frozenset({"REJECT"}))
    assert merged_causes([*pairs, ("node1", everywhere), ("node2", everywhere),
                          ("node10", Reason("node node1 is named by node10"))]) == [
        Cause("nodes node1, node10, node2, node3 and 2 more have none, so kube-proxy on nodes node1, node10, node2, "
              "node3 and 2 more drops", ("node1", "node10", "node2", "node3", "node4", "node5"), frozenset({"DROP"})),
        Cause("the same everywhere", ("node1", "node2"), frozenset({"REJECT"})),
        Cause("node node1 is named by node10", ("node10",), frozenset())]


def test_a_local_policy_s_drop_names_the_node_s_unusable_endpoints(tmp_path, capsys) -> None:
    """node1 has an endpoint, not ready: the Local policy drops because none of its endpoints is usable, not
    because it has none, and the sentence shows that endpoint's conditions."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1", ready=False, serving=False),
                                        endpoint("10.244.2.10", "node2")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n")
    assert notes(path, capsys, "--src", "203.0.113.2", "--dst", "192.168.0.10", "--dport", "30080") == [
        "default/web:http has spec.externalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
        "endpoints on node1 are neither ready nor serving while terminating: 10.244.1.10 (ready false, serving "
        "false, terminating false); its usable endpoints are 10.244.2.10 on node2), so kube-proxy here drops "
        "traffic that is not from this node or a pod of the cluster (-s 10.244.0.0/16) rather than forward it to "
        "another node"]


@pytest.mark.parametrize(("src", "verdict"), [("192.168.0.11", "DROP"), ("10.244.2.5", "DROP"),
                                              ("10.244.1.5", "DNAT"), ("192.168.0.10", "DNAT")])
def test_a_local_policy_drops_what_is_not_from_the_node_or_its_pods_in_node_cidr_mode(tmp_path, capsys, src,
                                                                                       verdict) -> None:
    """The sentence's claim, traced: with --detect-local-mode NodeCIDR node2's host and pods are dropped at node1's
    NodePort too; node1's own traffic and its pods' go to the cluster chain (KUBE-EXT's LOCAL and pod rules)."""
    path = cluster(tmp_path, endpoints=[endpoint("10.244.2.10", "node2")], type_="NodePort",
                   spec="  externalTrafficPolicy: Local\n")
    argv = ("--src", src, "--dst", "192.168.0.10", "--dport", "30080")
    found = notes(path, capsys, *argv, args=("--detect-local-mode", "NodeCIDR"))
    assert main(["trace", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
                 "--detect-local-mode", "NodeCIDR", *argv, "-o", "json"]) == 0
    assert {o["verdict"] for o in json.loads(capsys.readouterr().out)["outcomes"]} == {verdict}
    assert found == ([] if verdict == "DNAT" else [
        "default/web:http has spec.externalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
        "usable endpoints are 10.244.2.10 on node2), so kube-proxy here drops traffic that is not from this node or "
        "its pods (-s 10.244.1.0/24) rather than forward it to another node"])


def test_the_index_finds_the_first_pod_of_an_address_that_is_not_host_network() -> None:
    """Index.pod_at answers from one map made on first use (send asks for every delivered row), as the scan it
    replaced did: the first pod having the address, a host-network pod (its address is its node's) passed over."""
    from kubeproxy_sim.analysis.why import Index
    from kubeproxy_sim.objects import load_text

    def pod(name: str, ip: str, host: bool = False) -> str:
        return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec: {{nodeName: n1, "
                f"hostNetwork: {str(host).lower()}, containers: [{{name: c, image: x}}]}}\n"
                f"status: {{phase: Running, podIP: {ip}, podIPs: [{{ip: {ip}}}]}}\n")

    cluster = load_text("---\n".join([pod("host", "192.168.0.2", True), pod("a", "10.0.0.1"), pod("b", "10.0.0.2"),
                                      pod("twin", "10.0.0.1"), pod("node-ip", "192.168.0.2")])).cluster
    index = Index.of(cluster)
    found = {ip: index.pod_at(ip) for ip in ("10.0.0.1", "10.0.0.2", "192.168.0.2", "10.0.0.9")}
    assert {ip: p.name if p is not None else None for ip, p in found.items()} == {
        "10.0.0.1": "a", "10.0.0.2": "b", "192.168.0.2": "node-ip", "10.0.0.9": None}
    only_host = Index.of(load_text(pod("host", "192.168.0.2", True)).cluster)
    assert only_host.pod_at("192.168.0.2") is None and only_host.pod_at("10.0.0.1") is None
    assert only_host.pods == [{}]  # made once though empty: no scan of every pod again at each row (final read)


def test_an_affinity_list_no_rule_uses_is_a_warning_naming_the_lists_used(tmp_path, capsys) -> None:
    """u1: --affinity KUBE-SEP-NOPE looked accepted; the warning names the lists the rules use, or says none."""
    argv = ("--affinity", "KUBE-SEP-NOPE", *POD_TO_CLUSTER_IP)
    sticky = cluster(tmp_path, endpoints=[endpoint("10.244.1.10", "node1")], spec="  sessionAffinity: ClientIP\n")
    assert main(["trace", "-f", str(sticky), "--hostname-override", "node1", *argv]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "--affinity" in line]
    assert len(warning) == 1 and re.fullmatch(
        r"kubeproxy-sim: --affinity: warning: no rule of these tables uses the xt_recent list 'KUBE-SEP-NOPE', so "
        r"it changes nothing; the lists they use: KUBE-SEP-[A-Z0-9]{16}", warning[0])
    (tmp_path / "plain").mkdir()
    plain = cluster(tmp_path / "plain", endpoints=[endpoint("10.244.1.10", "node1")])
    assert main(["trace", "-f", str(plain), "--hostname-override", "node1", *argv]) == 0
    assert capsys.readouterr().err.rstrip().endswith("so it changes nothing; the lists they use: none")
