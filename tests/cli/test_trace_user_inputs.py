"""``trace`` as a user meets it: the packet as written is not always the one the node sees, nor can a dump alone
tell the answer.

- ``--dst 0.0.0.0`` (``::``) from the node: no packet carries it; the node's socket sends to itself on lo (the
  bound source, else 127.0.0.1; IPv6 ::1), as ``send`` connects it (tests/simulator/test_unspecified_destination.py,
  the kernel's answer in tests/kernel/test_send_unspecified_kernel.py). From elsewhere the input routing drops it.
- A dump traced without ``--node-ip``: a packet to a NodePort the dump serves reads ACCEPT (addrtype LOCAL is
  assumed false), and a note under the header says so.
- ``--dst NAME``: a Service's name, read as send and dist read it, is traced to its cluster IP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.cli.main import main
from tests.realworld import DUMPS

CENTOS = str(DUMPS / "08-centos7-flannel-nodeport-2024.rules")
UNSPECIFIED = "0.0.0.0 is no host's address"


def _trace(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["trace", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["trace", *argv]) == 0
    return capsys.readouterr().out


def _outcomes(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(o["verdict"], o["destination"], o["probability_exact"], o["masquerade"]) for o in data["outcomes"]]


@pytest.mark.parametrize(("source", "sent_to"), [
    ("192.168.49.2", "192.168.49.2"),  # a packet from the node's address: a socket bound to it
    ("127.0.0.1", "127.0.0.1"),  # an unbound socket's: both addresses 127.0.0.1
])
def test_the_nodes_packet_to_0000_goes_to_the_node_itself(source: str, sent_to: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    given = _trace(["--scenario", "bootcamp", "--src", source, "--dst", "0.0.0.0", "--dport", "31526"], capsys)
    same = _trace(["--scenario", "bootcamp", "--src", source, "--dst", sent_to, "--dport", "31526"], capsys)
    assert _outcomes(given) == _outcomes(same)
    assert {o["verdict"] for o in given["outcomes"]} == {"DNAT"}  # the NodePort: it read ACCEPT, untranslated
    assert given["packet"]["dst"] == sent_to
    assert given["notes"][0].startswith(UNSPECIFIED)
    assert f"-> {sent_to}:31526" in given["notes"][0]
    assert ("unbound socket" in given["notes"][0]) == (source != "127.0.0.1")


def test_the_note_is_under_the_header(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _text(["--scenario", "bootcamp", "--src", "192.168.49.2", "--dst", "0.0.0.0", "--dport", "31526"],
                  capsys).splitlines()
    assert lines[0].startswith("tcp 192.168.49.2 -> 192.168.49.2:31526 (generated on the node)")
    assert lines[1].startswith(f"note: {UNSPECIFIED}")
    assert "127.0.0.1 -> 127.0.0.1:31526" in lines[1]  # what curl 0.0.0.0:31526 (unbound) sends


def test_ipv6_unspecified_is_loopback_bound_or_not(capsys: pytest.CaptureFixture[str]) -> None:
    given = _trace(["--scenario", "ipv6", "--src", "2001:db8:0:1::10", "--dst", "::", "--dport", "30080"], capsys)
    same = _trace(["--scenario", "ipv6", "--src", "2001:db8:0:1::10", "--dst", "::1", "--dport", "30080"], capsys)
    assert _outcomes(given) == _outcomes(same)
    assert given["packet"]["dst"] == "::1"
    assert given["notes"][0].startswith(":: is no host's address")


def test_0000_from_elsewhere_is_a_martian(capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", "0.0.0.0", "--dport", "31526"], capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["DROP"]
    assert "martian" in data["outcomes"][0]["path"][-1]["rule"]
    assert data["packet"]["dst"] == "0.0.0.0"
    # the node's addresses are known: the routing step says why it is dropped; the note, that no socket sends it
    assert data["notes"] == [f"{UNSPECIFIED} (no packet carries it): a socket of the host at 10.244.0.9 sending to "
                             "it sends to its own host, on lo, and reaches no node (as send --to 0.0.0.0 says); only "
                             "a crafted packet arrives looking like this one, traced here as the node takes it"]


NAMESPACES = """\
apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDR: 10.244.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {nodeName: node1, containers: [{name: c, image: x}]}
status: {podIP: 10.244.0.5, podIPs: [{ip: 10.244.0.5}], phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: shop}
spec: {nodeName: node1, hostNetwork: true, containers: [{name: c, image: x}]}
status: {podIP: 192.168.0.10, podIPs: [{ip: 192.168.0.10}], phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.50, clusterIPs: [10.96.0.50], ports: [{port: 80, protocol: TCP}], selector: {app: web}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.60, clusterIPs: [10.96.0.60], ports: [{port: 80, protocol: TCP}], selector: {app: web}}
"""
"""Two Services named web (shop's, default's), a pod of shop and a host-network pod of shop at the node's address
(reviewer r3's /tmp/r3/ns.yaml, the host-network pod added)."""


def _namespaced(tmp_path: Path) -> str:
    path = tmp_path / "ns.yaml"
    path.write_text(NAMESPACES)
    return str(path)


def test_a_pods_packet_to_0000_is_noted_as_crafted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod's socket sending to 0.0.0.0 sends to its own lo (send --from pod/shop/client --to 0.0.0.0:80 says
    so): the packet traced, from the pod's address, is one only a raw socket makes; the note names the pod."""
    data = _trace(["-f", _namespaced(tmp_path), "--src", "10.244.0.5", "--dst", "0.0.0.0", "--dport", "80"], capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["DROP"]
    assert data["notes"] == [f"{UNSPECIFIED} (no packet carries it): a socket of pod shop/client sending to it "
                             "sends to its own host, on lo, and reaches no node (as send --to 0.0.0.0 says); only a "
                             "crafted packet arrives looking like this one, traced here as the node takes it"]


def test_0000_in_a_dump_without_the_nodes_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    """Not knowing whether the source is the node's, the packet is from elsewhere (a martian), and the note
    says what --node-ip would change; a loopback source is the node's in any case."""
    data = _trace(["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "0.0.0.0", "--dport", "31674"], capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["DROP"]
    assert data["notes"] == ["0.0.0.0 from elsewhere is dropped by the node's input routing (a martian "
                             "destination); if 203.0.113.7 is this node's, give --node-ip 203.0.113.7: a socket of "
                             "the node sending to 0.0.0.0 sends to the node itself, on lo"]
    broadcast = _trace(["--rules", CENTOS, "--src", "0.0.0.0", "--dst", "0.0.0.0", "--proto", "udp", "--dport", "67"],
                       capsys)  # 0.0.0.0 -> 0.0.0.0 is a broadcast to the node (brd_input), no martian
    assert broadcast["notes"] == [] and [o["verdict"] for o in broadcast["outcomes"]] == ["ACCEPT"]
    local = _trace(["--rules", CENTOS, "--node-ip", "192.168.122.10", "--src", "192.168.122.10", "--dst", "0.0.0.0",
                    "--dport", "31674"], capsys)
    assert _outcomes(local) == [("DNAT", "10.1.0.66:80", "1", True)]
    assert local["notes"][0].startswith(UNSPECIFIED)


NODEPORT_NOTE = ("31674/tcp is a NodePort here (line 69); if 192.168.122.10 is this node's, give --node-ip "
                 "192.168.122.10")


def test_a_dumps_nodeport_traced_without_node_ip_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "192.168.122.10", "--dport", "31674"]
    data = _trace(argv, capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["ACCEPT"]  # unchanged: the note says what would change it
    assert data["notes"] == [NODEPORT_NOTE]
    lines = _text(argv, capsys).splitlines()
    assert lines[1] == f"note: {NODEPORT_NOTE}"
    given = _trace([*argv, "--node-ip", "192.168.122.10"], capsys)
    assert _outcomes(given) == [("DNAT", "10.1.0.66:80", "1", True)] and given["notes"] == []


@pytest.mark.parametrize("change", [["--dport", "31675"], ["--proto", "udp"]])
def test_a_port_the_dump_does_not_serve_gets_no_note(change: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "192.168.122.10", "--dport", "31674",
                   *change], capsys)
    assert data["notes"] == []


@pytest.mark.parametrize(("change", "traces"), [([], 2), (["--dport", "31675"], 1), (["--proto", "udp"], 1)])
def test_a_port_no_nodeport_rule_tests_is_not_traced_again(change: list[str], traces: int,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The note's second trace (the destination taken as the node's) runs only when a rule of the dump's nat
    KUBE-NODEPORTS may take the packet's protocol and port: a second whole trace of a large dump is slow."""
    from kubeproxy_sim.netfilter import trace

    calls = []
    real = trace.Tracer.trace

    def counted(self: trace.Tracer, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(trace.Tracer, "trace", counted)
    _trace(["--rules", CENTOS, "--src", "203.0.113.7", "--dst", "192.168.122.10", "--dport", "31674", *change], capsys)
    assert len(calls) == traces


@pytest.mark.parametrize(("value", "port", "listed"), [
    ("31674", 31674, True), ("31675", 31674, False), ("30000:32767", 31674, True), ("30000:31000", 31674, False),
    ("80,31674", 31674, True), ("80,443:444", 31674, False), ("31000:", 31674, True), (":100", 31674, False),
    ("http", 80, True),
])
def test_port_listed(value: str, port: int, listed: bool) -> None:
    from kubeproxy_sim.analysis.trace_inputs import _port_listed

    assert _port_listed(value, port) is listed


BOOTCAMP_IP = "10.96.142.87"


@pytest.mark.parametrize("name", ["kubernetes-bootcamp", "kubernetes-bootcamp.default",
                                  "kubernetes-bootcamp.default.svc", "Kubernetes-Bootcamp.default.svc.cluster.local.",
                                  "kubernetes-bootcamp.default.svc.cluster.local"])
def test_a_service_name_is_traced_to_its_cluster_ip(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    given = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", name, "--dport", "8080"], capsys)
    same = _trace(["--scenario", "bootcamp", "--src", "10.244.0.9", "--dst", BOOTCAMP_IP, "--dport", "8080"], capsys)
    assert _outcomes(given) == _outcomes(same) and {o["verdict"] for o in given["outcomes"]} == {"DNAT"}
    assert given["packet"]["dst"] == BOOTCAMP_IP
    assert given["notes"][0] == (f"{name} is the Service default/kubernetes-bootcamp: traced to its cluster IP "
                                 f"{BOOTCAMP_IP}")


@pytest.mark.parametrize(("source", "address", "note"), [
    # a pod of shop reads web as shop's (send --from pod/shop/client --to web:80 reaches 10.96.0.50)
    ("10.244.0.5", "10.96.0.50", "web is the Service shop/web (looked up for pod shop/client, whose address is "
     "--src): traced to its cluster IP 10.96.0.50"),
    # no pod has the address (the node's is a host-network pod's: the node's resolver, not shop's search path)
    ("10.244.0.7", "10.96.0.60", "web is the Service default/web: traced to its cluster IP 10.96.0.60"),
    ("192.168.0.10", "10.96.0.60", "web is the Service default/web: traced to its cluster IP 10.96.0.60"),
])
def test_a_name_is_read_in_the_source_pods_namespace(source: str, address: str, note: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["-f", _namespaced(tmp_path), "--src", source, "--dst", "web", "--dport", "80"], capsys)
    assert data["packet"]["dst"] == address
    assert data["notes"][0] == note


def test_a_name_no_service_of_the_pods_namespace_has_names_the_pod(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "-f", _namespaced(tmp_path), "--src", "10.244.0.5", "--dst", "web.default.", "--dport",
                 "80"]) == 1
    assert ("'web.default.' is not an IP address, nor a Service's name in the objects (read as the cluster DNS "
            "reads it for pod shop/client, whose address is --src)") in capsys.readouterr().err


@pytest.mark.parametrize("dst", ["300.1.1.1", "10.0.0.1/32", "foo bar", "", "1.2.3", "[fd00::1", "web..shop"])
@pytest.mark.parametrize("rules", [["--scenario", "bootcamp"], ["--rules", CENTOS]])
def test_a_malformed_address_is_a_usage_error_not_a_name(dst: str, rules: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Only DNS-shaped text is a name (README's exit 2: not an address where the flag takes one)."""
    assert main(["trace", *rules, "--src", "10.244.0.9", "--dst", dst, "--dport", "80"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kubeproxy-sim: --dst: {dst!r} is not an IP address; expected an IPv4 or IPv6 address\n")


@pytest.mark.parametrize(("text", "shaped"), [
    ("web", True), ("web.shop", True), ("Web.Shop.svc.cluster.local.", True), ("web-1.shop", True), ("a1", True),
    ("1a", True), ("300.1.1.1", False), ("10.0.0.1/32", False), ("foo bar", False), ("", False), (".", False),
    ("web..shop", False), ("web_x", False), ("1.2.3.", False), ("[web]", False),
])
def test_dns_shaped(text: str, shaped: bool) -> None:
    from kubeproxy_sim.analysis.trace_inputs import dns_shaped

    assert dns_shaped(text) is shaped


def test_an_ipv6_service_name_is_its_ipv6_cluster_ip(capsys: pytest.CaptureFixture[str]) -> None:
    data = _trace(["--scenario", "ipv6", "--src", "2001:db8:0:1::10", "--dst", "web.default", "--dport", "80"], capsys)
    assert data["packet"]["dst"] == "fd00:10:96::10" and data["ip_family"] == "IPv6"


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["--scenario", "bootcamp", "--dst", "nope.default"], 1,
     "'nope.default' is not an IP address, nor a Service's name"),
    (["--scenario", "externalname-and-headless", "--dst", "web-headless"], 1,
     "is the Service default/web-headless, which has no cluster IP to trace to: default/web-headless is headless"),
    (["--scenario", "externalname-and-headless", "--dst", "docs"], 1, "default/docs is an ExternalName Service"),
    (["--rules", CENTOS, "--dst", "lb.shop"], 2, "a Service's name needs objects: -f or --scenario"),
])
def test_a_name_that_is_no_service_to_trace_to_is_refused(argv: list[str], code: int, words: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", *argv, "--src", "10.244.0.9", "--dport", "80"]) == code
    err = capsys.readouterr().err
    assert "--dst" in err and words in err and "Traceback" not in err
