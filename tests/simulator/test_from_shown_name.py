"""``send --from`` names an endpoint no Pod object owns as send's table and JSON do, by its key
(``shop/ep-10-244-1-5``, the table marking it ``*``): its errors list that name, and it takes what a row shows as
the source, as well as ``NS/ADDRESS`` (the name the table used to show, u-walk 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

SLICES = """
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.50
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.1.5], nodeName: node2}
- {addresses: [10.244.0.7], nodeName: node1}
"""


@pytest.fixture
def slices(tmp_path: Path) -> str:
    path = tmp_path / "slices.yaml"
    path.write_text(SLICES)
    return str(path)


def _send(path: str, source: str, *more: str) -> list[str]:
    return ["send", "-f", path, "--cluster-cidr", "10.244.0.0/16", "--from", source, "--to", "10.96.0.50:80",
            "--count", "4", *more]


def test_an_unknown_pod_s_error_lists_endpoints_as_the_table_names_them(slices: str, capsys) -> None:
    assert main(_send(slices, "pod/shop/nope")) == 1
    err = capsys.readouterr().err
    assert ("--from: 'pod/shop/nope': no such pod; expected pod/NAMESPACE/NAME of a pod of the objects "
            "(shop/ep-10-244-0-7, shop/ep-10-244-1-5)") in err


def test_a_row_s_name_is_the_json_s_key_marked(slices: str, capsys) -> None:
    assert main(_send(slices, "pod/shop/10.244.0.7", "--count", "40")) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[3:5]]
    assert rows == [["shop/ep-10-244-0-7*", "10.244.0.7"], ["shop/ep-10-244-1-5*", "10.244.1.5"]]


@pytest.mark.parametrize("source", ["pod/shop/10.244.1.5", "pod/shop/10.244.1.5*", "pod/shop/ep-10-244-1-5",
                                    "pod/shop/ep-10-244-1-5*", "shop/ep-10-244-1-5*"])
def test_the_name_a_row_shows_is_a_source(slices: str, source: str, capsys) -> None:
    """The row's name (with or without its mark), the JSON's key and the address name the same endpoint; the
    text's head names it by the key, as the JSON does."""
    assert main(_send(slices, source)) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 tcp connections from pod/shop/ep-10-244-1-5 to 10.96.0.50:80")
    assert main(_send(slices, source, "-o", "json")) == 0
    assert json.loads(capsys.readouterr().out)["from"] == "pod/shop/ep-10-244-1-5"


@pytest.mark.parametrize("source", ["pod/other/10.244.1.5", "pod/other/ep-10-244-1-5*"])
def test_the_shown_name_is_of_its_namespace(slices: str, source: str, capsys) -> None:
    assert main(_send(slices, source)) == 1
    assert "no such pod" in capsys.readouterr().err


def test_the_mark_is_the_table_s() -> None:
    from kubeproxy_sim.cli.send_cmd import NO_POD
    from kubeproxy_sim.simulator.topology import NO_POD_MARK

    assert NO_POD == NO_POD_MARK
