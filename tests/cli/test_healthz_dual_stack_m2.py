"""``healthz`` on a dual-stack node: kube-proxy runs a proxier per family, each with its own service health server
on the service's healthCheckNodePort (iptables NewProxier makes one from the family's --nodeport-addresses), so the
answer printed names its family and the other family's answer is said (u1: node2 answered 503 without saying that
its IPv6 proxier, the one with the local endpoint, answers 200)."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main

BASE = ["healthz", "--scenario", "dual-stack", "default/local", "--node", "node2"]


def test_the_json_names_the_family_and_carries_the_other_family_s_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["status"], out["body"]["localEndpoints"], out["ipFamily"]) == (503, 0, "IPv4")
    other = out["otherFamily"]
    assert (other["status"], other["body"]["localEndpoints"], other["ipFamily"]) == (200, 1, "IPv6")
    assert other["headers"]["X-Load-Balancing-Endpoint-Weight"] == "1"
    # no --nodeport-addresses: both servers listen on "0.0.0.0:32000", which Go opens as [::]:32000
    assert out["portConflict"] is True


def test_ip_family_swaps_which_answer_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--ip-family", "ipv6", "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["status"], out["ipFamily"], out["otherFamily"]["status"], out["otherFamily"]["ipFamily"]) == (
        200, "IPv6", 503, "IPv4")


def test_the_text_answer_is_the_http_one_and_a_note_says_the_other_family_s(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(BASE) == 0
    out, err = capsys.readouterr()
    assert out.startswith("HTTP/1.1 503 Service Unavailable\n")
    assert err.startswith("kubeproxy-sim: Service default/local: note: this is the IPv4 proxier's health server; "
                          "the IPv6 proxier's answers 200 with localEndpoints 1 (healthz --ip-family ipv6 prints it); "
                          "they ask for port 32000 on overlapping addresses (both on every address of both families")
    assert "only the first proxier to sync listens" in err and err.count("\n") == 1
    assert "connection refused" not in err  # both on every address: whichever is first answers both families


def test_nodeport_addresses_of_both_families_give_each_family_its_own_listener(
        capsys: pytest.CaptureFixture[str]) -> None:
    """With a CIDR of each family each server listens on its family's node addresses (kubernetes#114702)."""
    assert main([*BASE, "--nodeport-addresses", "192.168.0.0/16,2001:db8::/32", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["portConflict"] is False
    assert main([*BASE, "--nodeport-addresses", "192.168.0.0/16,2001:db8::/32"]) == 0
    assert capsys.readouterr().err.rstrip().endswith("; each answers the probes to its own family's node addresses")


def test_one_family_without_a_cidr_still_conflicts(capsys: pytest.CaptureFixture[str]) -> None:
    """The IPv6 server's "0.0.0.0:32000" is [::]:32000, which overlaps the IPv4 server's node address."""
    assert main([*BASE, "--nodeport-addresses", "192.168.0.0/16"]) == 0
    err = capsys.readouterr().err
    assert "(the IPv6 one on every address of both families" in err
    # the IPv4 server, first, listens on the node's IPv4 addresses alone: nothing answers on IPv6 (rv2)
    assert err.endswith("(address already in use); the IPv4 one first, a probe to an IPv6 node address finds no "
                        "server (connection refused)\n")
    assert main([*BASE, "--nodeport-addresses", "2001:db8::/32"]) == 0
    assert capsys.readouterr().err.endswith("the IPv6 one first, a probe to an IPv4 node address finds no server "
                                            "(connection refused)\n")


def test_answers_alike_need_no_note(capsys: pytest.CaptureFixture[str]) -> None:
    """node1 has no local endpoint of either family: both answer 503, nothing to add."""
    assert main([*BASE[:-1], "node1"]) == 0
    assert capsys.readouterr().err == ""


def test_a_single_stack_cluster_s_json_gains_only_its_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["healthz", "--scenario", "upstream-health-check-node-port", "--node", "test-node", "ns1/svc1",
                 "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ipFamily"] == "IPv4" and "otherFamily" not in out and "portConflict" not in out


SINGLE_STACK_V6_LB = """apiVersion: v1
kind: Service
metadata: {name: lb6, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32100
  clusterIP: fd00:10:96::60
  clusterIPs: [fd00:10:96::60]
  ipFamilies: [IPv6]
  ipFamilyPolicy: SingleStack
  selector: {app: x}
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30090}]
"""


def test_a_service_of_the_other_family_alone_is_answered_by_that_family_s_server(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the IPv6 proxier serves an IPv6-only service's health check (it was refused: 'serves no health check')."""
    manifest = tmp_path / "lb6.yaml"
    manifest.write_text(SINGLE_STACK_V6_LB)
    assert main(["healthz", "--scenario", "dual-stack", "-f", str(manifest), "default/lb6", "--node", "node1",
                 "-o", "json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert (data["status"], data["ipFamily"]) == (503, "IPv6") and "otherFamily" not in data
    assert err == ("kubeproxy-sim: Service default/lb6: note: the IPv6 proxier's health server answers: the service "
                   "has no IPv4 cluster IP, so the IPv4 proxier serves no health check for it\n")
