"""One judge of address text (netfilter.packet.is_address, parse_address's reading) for trace, send, dist and
netns send: the edge forms (leading zeros, zones, spaces, mapped forms, CIDRs, brackets) are names or refused, alike
in every command; netns send's own judge is tests/kernel/test_send_names_unit.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.packet import is_address
from tests.simulator.builders import objects


@pytest.mark.parametrize(("text", "address"), [
    ("10.96.0.10", True), ("fd00::1", True), ("FD00::1", True), ("::", True), ("[fd00::1]", True),
    ("::ffff:10.96.0.10", True), ("::1.2.3.4", True), ("[10.96.0.10]", True),  # brackets, either family
    ("010.96.0.10", False), ("10.96.0.010", False), ("::ffff:010.1.2.3", False), ("::00001", False),  # leading zeros
    ("fe80::1%eth0", False), ("fe80::1%1", False), ("10.96.0.10%eth0", False),  # zones
    (" 10.96.0.10", False), ("10.96.0.10 ", False), ("10.96.0.10\n", False), ("", False),  # spaces
    ("10.96.0.0/24", False), ("fd00::/64", False),  # CIDRs
    ("[fd00::1", False), ("fd00::1]", False), ("1", False), ("10.96.0", False), ("0x0a.0.0.1", False),
    ("256.0.0.1", False), ("1:2:3:4:5:6:7:8:9", False), ("\u0661.\u0662.\u0663.\u0664", False),
])
def test_what_is_an_address(text: str, address: bool) -> None:
    assert is_address(text) is address


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("forms") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects()))
    return path


@pytest.mark.parametrize(("to", "code", "said"), [
    ("10.96.0.10:80", 0, ""), ("[10.96.0.10]:80", 0, ""), ("192.168.0.10:30080", 0, ""),
    ("010.96.0.10:80", 2, "not an address, a service name or a node"),
    ("[10.96.0.10:80", 2, "not an address, a service name or a node"),
    ("10.96.0.10]:80", 2, "not an address, a service name or a node"),
    ("[fe80::1%eth0]:80", 1, "not an address, a service name or a node: no Service default/fe80::1%eth0"),
    ("[::ffff:10.96.0.10]:80", 1, "the packet is IPv6 but the node's proxier is IPv4"),
    ("10.96.0.0/24:80", 1, "no proxied service 10.96.0.0/24"),
    ("127.0.0.1:30080", 1, "a NodePort on loopback answers the node's own connections only"),
])
def test_dist_to_reads_addresses_as_send(cluster: Path, to: str, code: int, said: str, capsys) -> None:
    assert main(["dist", "-f", str(cluster), "--to", to]) == code
    err = capsys.readouterr().err
    assert f"--to: {to!r}: {said}" in err if code else "--to" not in err


@pytest.mark.parametrize(("source", "code", "said"), [
    ("external:203.0.113.10", 0, ""), ("external:[203.0.113.10]", 0, ""),
    ("external:0203.0.113.10", 2, "not an IPv4 address"), ("external: 203.0.113.10", 2, "not an IPv4 address"),
    ("external:fe80::1%eth0", 2, "not an IPv4 address"), ("external:203.0.113.0/24", 2, "not an IPv4 address"),
    ("external:[fd00::1]", 1, "not an IPv4 address, the proxier's family (or --ip-family ipv6)"),
    ("external:[203.0.113.10", 2, "not an IPv4 address"), ("external:203.0.113.10]", 2, "not an IPv4 address"),
    ("external:[[203.0.113.10]]", 2, "not an IPv4 address"),
])
def test_dist_from_reads_addresses_as_send(cluster: Path, source: str, code: int, said: str, capsys) -> None:
    assert main(["dist", "-f", str(cluster), "--to", "default/web", "--from", source]) == code
    err = capsys.readouterr().err
    assert f"--from: {source!r}: {said}" in err if code else "--from" not in err


COMPATIBLE = """\
apiVersion: v1
kind: Service
metadata: {name: compat, namespace: default}
spec: {clusterIP: "::1.2.3.4", ipFamilies: [IPv6], ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: compat-1, namespace: default, labels: {kubernetes.io/service-name: compat}}
addressType: IPv6
endpoints: [{addresses: ["fd00:10:244:1::5"], conditions: {ready: true}, nodeName: node1}]
ports: [{name: http, port: 8080, protocol: TCP}]
"""


@pytest.mark.parametrize("to", ["[::1.2.3.4]:80", "[::102:304]:80"])
def test_an_ipv4_compatible_cluster_ip_is_found_in_either_spelling(tmp_path: Path, to: str, capsys) -> None:
    """The loader writes ::1.2.3.4 as Go does, ::102:304; dist wrote --to's address as netaddr does (::1.2.3.4),
    so found neither spelling's service port. It now writes it as the loader (format_address)."""
    path = tmp_path / "compat.yaml"
    path.write_text(COMPATIBLE)
    assert main(["dist", "-f", str(path), "--cluster-cidr", "fd00:10:244::/56", "--to", to]) == 0
    assert "clusterIP [::102:304]:80" in capsys.readouterr().out
