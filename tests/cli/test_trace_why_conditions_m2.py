"""The terminating fallback's note names each unused endpoint by the condition that leaves it out, for every
combination of ready/serving/terminating (unset, true, false) as kube-proxy reads them (endpointslicecache.go: unset
ready and serving are true, unset terminating false; topology.go, CategorizeEndpoints: ready endpoints, else those
serving and terminating); node hints (PreferSameNode) have their own sentence, not the zone one's."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli.test_trace_why import HTTP, NODES, POD_TO_CLUSTER_IP, SERVICE, SLICE, notes

FALLBACK = ("default/web:http has no ready endpoint, so kube-proxy falls back to its serving terminating ones "
            "(conditions ready false, serving true, terminating true)")
NOT_TERMINATING = "not ready and not terminating (serving, but the fallback takes terminating endpoints only): "
VALUES = (None, True, False)


def conditioned(ip: str, ready: bool | None, serving: bool | None, terminating: bool | None,
                extra: str = "") -> str:
    """An endpoint on node2 whose slice writes only the conditions given (None: left unset)."""
    given = [f"{name}: {str(value).lower()}" for name, value in
             (("ready", ready), ("serving", serving), ("terminating", terminating)) if value is not None]
    return f"{{addresses: [{ip}], nodeName: node2{extra}, conditions: {{{', '.join(given)}}}}}"


def write(tmp_path: Path, *endpoints: str, nodes: str = NODES) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(nodes + SERVICE.format(type="ClusterIP", target="8080", node_port="", spec="")
                    + SLICE.format(endpoints=", ".join(endpoints), ports=HTTP))
    return path


def destinations(path: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    argv = ["trace", "-f", str(path), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
            *POD_TO_CLUSTER_IP, "-o", "json"]
    assert main(argv) == 0
    return {o["destination"] for o in json.loads(capsys.readouterr().out)["outcomes"]}


def expected(ready: bool | None, serving: bool | None, terminating: bool | None) -> tuple[set[str], list[str]]:
    """Where upstream sends the connection beside a serving terminating 10.244.2.10, and the note said."""
    if ready is not False:  # unset ready is ready: the cluster chain uses it alone, no fallback to explain
        return {"10.244.2.11:8080"}, []
    if serving is not False and terminating:  # serving (unset is) and terminating: the fallback takes both
        return {"10.244.2.10:8080", "10.244.2.11:8080"}, [FALLBACK]
    if serving is False:
        return {"10.244.2.10:8080"}, [FALLBACK + "; unused, not ready and not serving: 10.244.2.11"]
    unset = ["serving unset, read as true"] * (serving is None) + ["terminating unset, read as false"] * (
        terminating is None)
    return {"10.244.2.10:8080"}, [FALLBACK + "; unused, " + NOT_TERMINATING + "10.244.2.11" + (f" ({', '.join(unset)})"
                                                                                 if unset else "")]


@pytest.mark.parametrize(("ready", "serving", "terminating"), list(itertools.product(VALUES, repeat=3)))
def test_every_condition_combination_is_said_as_kube_proxy_reads_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], ready: bool | None, serving: bool | None,
        terminating: bool | None) -> None:
    path = write(tmp_path, conditioned("10.244.2.10", False, True, True),
                 conditioned("10.244.2.11", ready, serving, terminating))
    used, said = expected(ready, serving, terminating)
    assert destinations(path, capsys) == used  # the rules are upstream's: the note explains them
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == said


def test_a_ready_false_endpoint_with_nothing_else_set_is_serving_not_terminating(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """u-walk's finding: ``{ready: false}`` was said to be neither ready nor serving; kube-proxy reads it serving."""
    path = write(tmp_path, conditioned("10.244.2.10", False, None, True), conditioned("10.244.2.11", False, None, None),
                 conditioned("10.244.2.12", False, False, None))
    (note,) = notes(path, capsys, *POD_TO_CLUSTER_IP)
    assert "neither ready nor serving" not in note
    assert note == (FALLBACK + "; unused, not ready and not serving: 10.244.2.12; " + NOT_TERMINATING
                    + "10.244.2.11 (serving unset, read as true, terminating unset, read as false)")


def test_node_hints_say_the_node_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PreferSameNode: node hints name the node, not a zone 'where node X is' (the zone sentence's wording)."""
    def hinted(ip: str, node: str, zone: str) -> str:
        return (f"{{addresses: [{ip}], nodeName: {node}, conditions: {{ready: true}}, hints: {{forNodes: "
                f"[{{name: {node}}}], forZones: [{{name: {zone}}}]}}}}")
    path = write(tmp_path, hinted("10.244.1.10", "node1", "zone-a"), hinted("10.244.1.11", "node1", "zone-a"),
                 hinted("10.244.2.10", "node2", "zone-b"))
    assert notes(path, capsys, *POD_TO_CLUSTER_IP) == [
        "every ready endpoint of default/web:http carries node hints (hints.forNodes, trafficDistribution "
        "PreferSameNode) and some are for node node1 itself, so kube-proxy here uses only those: 2 of 3 ready "
        "endpoints (10.244.1.10, 10.244.1.11)"]
    assert destinations(path, capsys) == {"10.244.1.10:8080", "10.244.1.11:8080"}
