"""``kubeproxy-sim healthz``'s NS/SERVICE argument: its form is a usage error, an unknown service invalid input."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main

BASE = ["healthz", "--scenario", "upstream-health-check-node-port", "--node", "test-node"]


@pytest.mark.parametrize("target", ["nonslash", "/svc1", "ns1/", "ns1/svc1/extra"])
def test_a_target_not_of_the_form_ns_name_is_a_usage_error(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    """QA-cli 11: it exited 1 and called the argument SERVICE; the README's exit table makes a target not of its
    documented form a usage error (2), as ``graph --service nonslash``; the usage line names it NS/SERVICE."""
    assert main([*BASE, target]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"kubeproxy-sim: NS/SERVICE: {target!r} is not a service; expected NAMESPACE/NAME\n"


def test_an_unknown_service_is_invalid_input_and_the_known_ones_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "ns1/nosuch"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == "kubeproxy-sim: NS/SERVICE: no Service 'ns1/nosuch' in the objects; expected one of ns1/svc1"


def test_a_well_formed_target_still_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "ns1/svc1"]) == 0
    assert capsys.readouterr().out.startswith("HTTP/1.1 ")


def test_an_unknown_node_is_invalid_input_and_the_known_ones_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    """As send's and dist's unknown nodes (it said only "expected a node the objects name")."""
    assert main(["healthz", "--scenario", "bootcamp", "--node", "nosuch", "default/kubernetes-bootcamp"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == "kubeproxy-sim: --node: no node 'nosuch'; expected one of node1, node2"
