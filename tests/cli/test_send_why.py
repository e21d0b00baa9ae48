"""send's rows say what the objects behind them say, as an on-call reader needs it: a failed row's rule as the
Service field behind it (trace's sentence, one home in analysis/why.py), a delivery to a port the pod does not
declare (noted, not refused: containerPorts are informational), and an endpoint no Pod object was read for
(marked, its made-up name not shown as if it were a Pod's)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli.test_trace_why import NODES, endpoint

WEB = """
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec: {nodeName: node2, containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
status: {podIP: 10.244.2.10, podIPs: [{ip: 10.244.2.10}], phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [%s]
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: pg, port: 5432, protocol: TCP, targetPort: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: default, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
endpoints: [{addresses: [10.244.1.10], nodeName: node1}, {addresses: [10.244.1.11], nodeName: node1,
             targetRef: {kind: Pod, namespace: default, name: db-0}}]
ports: [{name: pg, port: 5432, protocol: TCP}]
"""

UNDECLARED = ("pod default/web-1 declares container ports 80 (TCP), not 8080: kube-proxy DNATs to the EndpointSlice's "
              "port 8080 regardless, and whether anything listens there is not in the objects (a declared port is "
              "informational; a wrong targetPort is refused by the pod, not by the rules); send has the pod answer "
              "there all the same: a simulated pod serves its declared ports and every port its EndpointSlices list "
              "for it")
LOCAL = ("default/web:http has spec.externalTrafficPolicy Local and node node1 has none of its usable endpoints (its "
         "usable endpoints are 10.244.2.10 on node2), so kube-proxy here drops traffic that is not from this node or "
         "a pod of the cluster (-s 10.244.0.0/16) rather than forward it to another node")


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(NODES + WEB % endpoint("10.244.2.10", "node2"))
    return path


def send(path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict, str]:
    """send's JSON and text of one run."""
    args = ["send", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--count", "10", *argv]
    assert main([*args, "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    return data, capsys.readouterr().out


def test_a_delivery_to_a_port_the_pod_does_not_declare_is_noted_not_refused(objects, capsys) -> None:
    data, text = send(objects, capsys, "--from", "pod/default/client", "--to", "10.96.0.10:80")
    (row,) = data["delivered"]
    assert (row["pod"], row["count"], row["pod_object"], row["why"]) == ("default/web-1", 10, True, [UNDECLARED])
    assert text.splitlines()[-1] == f"note: {UNDECLARED}"


def test_a_declared_port_gets_no_note(tmp_path, capsys) -> None:
    path = tmp_path / "cluster.yaml"
    declared = (WEB % endpoint("10.244.2.10", "node2")).replace("containerPort: 80", "containerPort: 8080")
    path.write_text(NODES + declared)
    data, text = send(path, capsys, "--from", "pod/default/client", "--to", "10.96.0.10:80")
    assert data["delivered"][0]["why"] == [] and "note:" not in text


def test_a_dropped_row_names_the_service_field_behind_its_rule(objects, capsys) -> None:
    data, text = send(objects, capsys, "--from", "external", "--to", "node/node1:30080")
    (row,) = data["failed"]
    assert row["reason"] == "DROP" and "has no local endpoints" in row["detail"] and row["why"] == [LOCAL]
    assert text.splitlines()[-1] == f"note: {LOCAL}"


def test_a_rejected_row_says_which_of_the_no_endpoints_reasons(tmp_path, capsys) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(NODES + WEB % endpoint("10.244.2.10", "node2", ready=False, serving=False))
    data, _ = send(path, capsys, "--from", "pod/default/client", "--to", "10.96.0.10:80")
    (row,) = data["failed"]
    assert row["reason"] == "REJECT" and row["why"] == [
        "default/web:http has no endpoints, so kube-proxy rejects the connection (ICMP port unreachable): none of "
        "its endpoints is ready, or serving while terminating: 10.244.2.10 (ready false, serving false, terminating "
        "false); kube-proxy uses ready endpoints, else serving terminating ones (spec.publishNotReadyAddresses true "
        "would have the EndpointSlice controller list its pods as ready)"]


def test_a_failure_no_rule_decided_has_no_why(objects, capsys) -> None:
    data, _ = send(objects, capsys, "--from", "pod/default/client", "--to", "10.244.2.10:9999")
    (row,) = data["failed"]
    assert row["reason"] == "REJECT" and row["detail"].startswith("pod default/web-1 (10.244.2.10): nothing listens")
    assert row["why"] == []


def test_an_endpoint_without_a_pod_object_is_named_as_in_json_and_marked(objects, capsys) -> None:
    """u-walk 1: the text named it ``default/10.244.1.10*``, the JSON ``default/ep-10-244-1-10`` (README's
    contract): the text now follows the JSON, the mark saying no Pod object was read."""
    data, text = send(objects, capsys, "--from", "pod/default/client", "--to", "10.96.0.20:5432", "--count", "40")
    rows = {row["pod"]: row for row in data["delivered"]}
    assert set(rows) == {"default/ep-10-244-1-10", "default/db-0"}  # the JSON's keys stay as they were
    assert [row["pod_object"] for row in rows.values()] == [False, False]
    lines = text.splitlines()
    assert [line.split()[:2] for line in lines[3:5]] == [["default/db-0*", "10.244.1.11"],
                                                          ["default/ep-10-244-1-10*", "10.244.1.10"]]
    assert lines[-1] == ("* no Pod object was read at this address: an EndpointSlice's endpoint, named after its "
                         "targetRef, else made up from its address (NS/ep-10-244-1-10: '-' for its dots or colons), as "
                         "-o json names it; send has it answer on the ports its slices list")


def test_pod_object_is_null_for_a_node(objects, capsys) -> None:
    healthz = "192.168.0.11:10256"  # kube-proxy's, a node's own socket
    data, text = send(objects, capsys, "--from", "pod/default/client", "--to", healthz)
    assert [(row["pod"], row["pod_object"]) for row in data["delivered"]] == [("node/node2", None)]
    assert "*" not in text


# ---------------------------------------------------------------------------- the reply and the client's ACK

ASYMMETRIC = Path(__file__).parents[1] / "simulator" / "asymmetric_reply.yaml"
"""eTP Local NodePort 30007 of default/local-np, its endpoint 10.244.1.10 on node2; client-3 on node3."""
BYPASS = ("default/local-np has spec.externalTrafficPolicy Local, and node node1's KUBE-EXT chain takes 10.244.2.10 "
          "for a pod of the cluster (-s 10.244.0.0/16, --detect-local-mode ClusterCIDR), whose traffic it sends to "
          "the endpoints of every node without masquerade, here to 10.244.1.10:8080 on node2: the endpoint answers "
          "10.244.2.10 directly, and the reply never passes node node1, where conntrack would undo the DNAT")


def test_a_reply_dropped_as_invalid_says_which_policy_sent_it_another_way(capsys) -> None:
    """A pod on node3 at node1's NodePort of a Local Service: node1 takes it for a pod (the cluster CIDR) and DNATs
    it to node2's endpoint unmasqueraded; the SYN/ACK goes from node2 straight to node3, whose conntrack calls it
    INVALID, and KUBE-FORWARD drops it (no tcp-be-liberal)."""
    data, text = send(ASYMMETRIC, capsys, "--from", "pod/default/client-3", "--to", "192.168.49.2:30007")
    (row,) = data["failed"]
    assert row["reason"] == "DROP" and row["detail"].startswith("the reply: node node3: ")
    assert row["why"] == [BYPASS + "; node node3's conntrack never saw the connection from that address, so the "
                          "reply is INVALID there, and kube-proxy's KUBE-FORWARD drops INVALID packets (it writes "
                          "that rule unless --conntrack-tcp-be-liberal; with it the reply would reach the client "
                          "from the endpoint's address, no answer to its connection either)"]
    assert text.splitlines()[-1] == f"note: {row['why'][0]}"


def test_a_reply_from_the_wrong_address_says_which_policy_kept_the_source(capsys) -> None:
    """The same with --conntrack-tcp-be-liberal (no INVALID drop): the SYN/ACK reaches the pod from the endpoint."""
    data, _ = send(ASYMMETRIC, capsys, "--from", "pod/default/client-3", "--to", "192.168.49.2:30007",
                   "--conntrack-tcp-be-liberal")
    (row,) = data["failed"]
    assert row["reason"] == "WRONG_REPLY_SOURCE" and row["why"] == [BYPASS + ", so it comes from the endpoint's "
                                                                    "own address"]


@pytest.mark.parametrize("liberal", [False, True])
def test_a_lost_reply_s_why_reads_the_simulator_s_facts_not_the_row_s_words(liberal, monkeypatch, capsys) -> None:
    """The two rows above with their details reworded where the simulator words them: the notes stay, as why reads
    the facts the failure carries (Failure.lost), where it used to parse the words (a rewording emptied them)."""
    from kubeproxy_sim.simulator.network import Simulator

    check_reply = Simulator._check_reply

    def reworded(self, *args):
        failure = check_reply(self, *args)
        return None if failure is None else dataclasses.replace(failure, detail=f"answer lost ({failure.reason})")

    monkeypatch.setattr(Simulator, "_check_reply", reworded)
    liberal_flag = ["--conntrack-tcp-be-liberal"] if liberal else []
    data, _ = send(ASYMMETRIC, capsys, "--from", "pod/default/client-3", "--to", "192.168.49.2:30007", *liberal_flag)
    (row,) = data["failed"]
    assert row["detail"] == f"answer lost ({row['reason']})" and len(row["why"]) == 1
    assert row["why"][0].startswith(BYPASS + (", so it comes from" if liberal else "; node node3's conntrack"))


def test_masquerade_all_does_not_change_a_local_policy_s_pod_traffic(capsys) -> None:
    """--masquerade-all marks cluster-IP traffic only (proxier.go: the internal chain's rule for the cluster IP):
    the KUBE-EXT rule for pod traffic still keeps the source, so the reply is lost as before, and the note does
    not offer it."""
    data, _ = send(ASYMMETRIC, capsys, "--from", "pod/default/client-3", "--to", "192.168.49.2:30007",
                   "--masquerade-all")
    (row,) = data["failed"]
    assert row["reason"] == "DROP" and row["why"][0].startswith(BYPASS) and "masquerade-all" not in row["why"][0]


def test_a_reply_to_an_address_the_client_only_borrowed_has_no_why(capsys) -> None:
    """A client outside using node1's address: the reply goes to node1. No Service field is behind it."""
    data, _ = send(ASYMMETRIC, capsys, "--from", "external:192.168.49.2", "--to", "192.168.49.3:30007")
    (row,) = data["failed"]
    assert row["detail"].startswith("the reply went to node node1") and row["why"] == []


def test_replies_and_acks_lost_to_rules_no_service_field_is_behind_have_no_why() -> None:
    """Losses on the way back that the objects do not explain: a rule of the user's dropping the reply, a refusal
    or the client's ACK, and a reply the router has no route back for (a node bound to its bridge address). Their
    rows keep `why` empty (README)."""
    from kubeproxy_sim.analysis.why import send_why
    from kubeproxy_sim.simulator.send import send as simulate
    from tests.simulator.builders import first_forward_rule, simulator

    def rows(source: str, destination: str, node: str | None = None, rule: str = "") -> list[dict]:
        sim = simulator(rules=first_forward_rule(rule, node)) if node else simulator()
        return send_why(sim, simulate(sim, source, destination, count=3)).as_json()["failed"]  # type: ignore

    back = "-A FORWARD -s 10.244.2.10/32 -d 10.244.1.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j DROP"
    ack = "-A FORWARD -s 10.244.1.5/32 -d 10.244.2.10/32 -p tcp -m conntrack --ctstate ESTABLISHED -j DROP"
    cases = {"the reply: node node2": rows("pod/default/client", "10.244.2.10:8080", "node2", back),
             "pod default/web-2": rows("pod/default/client", "10.244.2.10:9999", "node2", back),
             "the client's ACK: node node1": rows("pod/default/client", "10.244.2.10:8080", "node1", ack),
             "the reply: router: no route": rows("10.244.1.1", "93.184.216.34:80")}
    for start, found in cases.items():
        assert [(row["detail"][:len(start)], row["why"]) for row in found] == [(start, [])]


DNATED_ONTO_LB = """
---
apiVersion: v1
kind: Service
metadata: {name: lbsr, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.40
  loadBalancerSourceRanges: [192.168.0.0/24]
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30040}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.50}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: lbsr-1, namespace: default, labels: {kubernetes.io/service-name: lbsr}}
addressType: IPv4
endpoints: [{addresses: [10.244.2.10], nodeName: node2}]
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: default}
spec:
  clusterIP: 10.96.0.30
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: front-1, namespace: default, labels: {kubernetes.io/service-name: front}}
addressType: IPv4
endpoints: [{addresses: [203.0.113.50]}]
ports: [{name: http, port: 80, protocol: TCP}]
"""


def test_a_connection_another_service_dnats_onto_a_firewalled_lb_ip_is_not_said_out_of_range(tmp_path, capsys):
    """node1 (192.168.0.10, inside default/lbsr's source ranges) connects to default/front, whose endpoint is
    lbsr's load-balancer IP: front's DNAT sends it there, the nat table DNATs a connection once so lbsr's KUBE-FW
    chain never sees it, and KUBE-PROXY-FIREWALL drops it in filter OUTPUT. The note said the node's address was
    outside the ranges (it is inside); it now says what happened. From outside the ranges the usual note stays."""
    path = tmp_path / "cluster.yaml"
    path.write_text(NODES + DNATED_ONTO_LB)
    data, _ = send(path, capsys, "--from", "node/node1", "--to", "10.96.0.30:80")
    (row,) = data["failed"]
    assert row["reason"] == "DROP" and "KUBE-PROXY-FIREWALL" in row["detail"]
    assert row["why"] == [
        "default/front:http DNATed the connection to 203.0.113.50:80, the load-balancer IP and port of "
        "default/lbsr:http: kube-proxy checks that Service's spec.loadBalancerSourceRanges (192.168.0.0/24) in its "
        "KUBE-FW chain, which a connection already DNATed does not pass (the nat table DNATs a connection once), and "
        "KUBE-PROXY-FIREWALL drops every new connection still addressed there, whatever its source"]
    data, _ = send(path, capsys, "--from", "external", "--to", "203.0.113.50:80")
    assert {note for row in data["failed"] for note in row["why"]} == {
        "203.0.113.10 is not in spec.loadBalancerSourceRanges of default/lbsr (192.168.0.0/24), so the KUBE-FW chain "
        "sends it to no endpoint and KUBE-PROXY-FIREWALL drops it"}
