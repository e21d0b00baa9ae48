"""``kubeproxy-sim healthz``'s SERVICE argument (NS/NAME or NAME.NS): its form is a usage error, an unknown service
invalid input."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer

BASE = ["healthz", "--scenario", "upstream-health-check-node-port", "--node", "test-node"]
NOT_NS_NAME = "not NS/NAME: a namespace and a Service's name, one each side of one '/'"


@pytest.mark.parametrize(("target", "why"), [
    ("/svc1", NOT_NS_NAME), ("ns1/", NOT_NS_NAME), ("ns1/svc1/extra", NOT_NS_NAME),
    ("svc1.ns1:80", "healthz answers for a Service, not one of its ports"), ("a..b", "not a Service's name"),
])
def test_a_target_not_of_a_service_s_forms_is_a_usage_error(target: str, why: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """QA-cli 11: it exited 1 and called the argument SERVICE; the README's exit table makes a target not of its
    documented form a usage error (2), as ``graph --service nonslash``; the usage line names it SERVICE."""
    assert main([*BASE, target]) == 2
    out, err = capsys.readouterr()
    assert out == "" and without_pointer(err, "healthz") == (
        f"kubeproxy-sim: SERVICE: {target!r}: {why}; expected NS/NAME or NAME.NS "
        "(NAME.NS.svc.cluster.local, or a bare NAME: namespace default's)\n")


@pytest.mark.parametrize("target", ["ns1/svc1", "svc1.ns1", "SVC1.ns1", "svc1.ns1.svc.cluster.local",
                                    "svc1.ns1.svc.cluster.local.", "svc1.ns1.svc"])
def test_the_service_is_ns_name_or_its_dns_name_as_dist_and_send_read_it(target: str,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """dist, send and diff take NAME.NS (u1: healthz refused it, 'expected NAMESPACE/NAME')."""
    assert main([*BASE, target, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == 503


@pytest.mark.parametrize(("target", "where"), [
    ("ns1/nosuch", ""), ("nosuch.ns1", ""), ("svc1", " (a bare NAME is namespace default's)"),
    ("svc1.ns1.", ""),  # (a trailing dot: the whole name, as the cluster DNS reads it)
])
def test_an_unknown_service_is_invalid_input_and_the_known_ones_are_named(target: str, where: str,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, target]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == f"kubeproxy-sim: SERVICE: no Service {target!r} in the objects{where}; expected one of ns1/svc1"


def test_a_well_formed_target_still_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "ns1/svc1"]) == 0
    assert capsys.readouterr().out.startswith("HTTP/1.1 ")


def test_an_unknown_node_is_invalid_input_and_the_known_ones_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    """As send's and dist's unknown nodes (it said only "expected a node the objects name")."""
    assert main(["healthz", "--scenario", "bootcamp", "--node", "nosuch", "default/kubernetes-bootcamp"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == "kubeproxy-sim: --node: no node 'nosuch'; expected one of node1, node2"
