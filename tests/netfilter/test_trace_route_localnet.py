"""route_localnet: a loopback address routed to or from another host is a martian unless the sysctl is set.

Regressions from a QA pass on real node dumps (QA-dumps #4): a localhost NodePort traced from the node itself
(``--src 127.0.0.1 --dst 127.0.0.1``), DNATed in OUTPUT to a pod elsewhere, was reported as working with no
word that the kernel refuses to route a loopback source out of a non-loopback interface unless route_localnet
is set (``__mkroute_output``; the masquerade that would change the source comes later, in POSTROUTING); and a
packet from elsewhere sent to 127.0.0.1 (no DNAT) read as reaching INPUT, where the kernel drops it as a
martian before any filter rule without that sysctl. A dump does not say it; generated rules do, when kube-proxy
serves NodePorts on localhost (it sets the sysctl itself): then no such doubt is listed.
"""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.realworld import DUMPS

GKE = DUMPS / "01-gke-1.2-loadbalancer-2016.rules"
CENTOS = DUMPS / "07-centos7-flannel-noendpoints-2024.rules"
ROUTING = "routing decision"
ASSUMED = "assumed set (the rules do not say; kube-proxy sets it when it serves NodePorts on localhost)"
LEAVING = ("the source {} is a loopback address, which a packet routed out of the node (to an address not its own) "
           "may carry only where route_localnet is set (net.ipv4.conf.all or the output interface's); "
           f"{ASSUMED}, else the kernel refuses the route and drops the packet")
ARRIVING = ("the destination {} is a loopback address, which a packet from elsewhere reaches only where "
            "route_localnet is set (net.ipv4.conf.all or the input interface's); "
            f"{ASSUMED}, else the kernel drops it as a martian")
# a localhost NodePort, as kube-proxy writes it: DNAT in OUTPUT, the masquerade mark, MASQUERADE after routing
NODEPORT = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p tcp --dport 30007 -j MARK --set-xmark 0x4000/0x4000\n"
            "-A PREROUTING -p tcp --dport 30007 -j DNAT --to-destination 10.80.0.7:80\n"
            "-A OUTPUT -p tcp --dport 30007 -j MARK --set-xmark 0x4000/0x4000\n"
            "-A OUTPUT -p tcp --dport 30007 -j DNAT --to-destination 10.80.0.7:80\n"
            "-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE\nCOMMIT\n")
NODE = NodeContext.of(["10.240.0.2"], interfaces={"eth0": ["10.240.0.2"]})


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["trace", *argv, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def routing(data: dict) -> list[str]:
    return [u["reason"] for u in data["uncertain"] if u["rule"] == ROUTING and u["line"] is None]


def test_a_localhost_nodeport_from_the_node_of_a_dump_hangs_on_route_localnet(
        capsys: pytest.CaptureFixture[str]) -> None:
    data = cli(["--rules", str(GKE), "--node-ip", "10.240.0.2", "--src", "127.0.0.1", "--dst", "127.0.0.1",
                "--dport", "30007"], capsys)
    assert data["origin"] == "local"
    assert [(o["verdict"], o["destination"], o["masquerade"]) for o in data["outcomes"]] == [
        ("DNAT", "10.80.0.7:80", True)]  # as assumed: the sysctl set
    assert routing(data) == [LEAVING.format("127.0.0.1")]


def test_a_packet_from_elsewhere_to_loopback_hangs_on_route_localnet_without_a_dnat(
        capsys: pytest.CaptureFixture[str]) -> None:
    data = cli(["--rules", str(CENTOS), "--src", "192.168.1.50", "--dst", "127.0.0.1", "--dport", "31306",
                "--in-iface", "eth0"], capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["REJECT"]
    assert routing(data) == [ARRIVING.format("127.0.0.1")]


def test_a_loopback_source_from_elsewhere_hangs_on_route_localnet() -> None:
    result = Tracer(parse_ruleset(NODEPORT), NODE).trace(Packet.of("tcp", "127.0.0.5", "10.240.0.2", 22,
                                                                   in_iface="eth0"))
    assert [u.reason for u in result.uncertain] == [
        "the source 127.0.0.5 is a loopback address, which a packet from elsewhere may carry only where "
        "route_localnet is set (net.ipv4.conf.all or the input interface's); "
        f"{ASSUMED}, else the kernel drops it as a martian",
        "the source is the loopback address 127.0.0.5, which a packet from elsewhere may carry only where rp_filter "
        "is off (net.ipv4.conf.all and the input interface's; systemd sets 2); assumed off, else the kernel drops "
        "it (fib_validate_source)"]


def test_known_route_localnet_and_routes_that_stay_on_loopback_are_not_doubted() -> None:
    tracer = Tracer(parse_ruleset(NODEPORT), NodeContext.of(["10.240.0.2"], route_localnet_known=True))
    assert tracer.trace(Packet.of("tcp", "127.0.0.1", "127.0.0.1", 30007)).uncertain == ()
    assert tracer.trace(Packet.of("tcp", "10.0.0.9", "127.0.0.1", 22, in_iface="eth0")).uncertain == ()
    plain = Tracer(parse_ruleset(NODEPORT), NODE)
    assert plain.trace(Packet.of("tcp", "127.0.0.1", "127.0.0.1", 22)).uncertain == ()  # stays on lo
    assert plain.trace(Packet.of("tcp", "127.0.0.1", "10.240.0.2", 22)).uncertain == ()  # the node's own: lo
    assert plain.trace(Packet.of("tcp", "10.240.0.2", "127.0.0.1", 30007)).uncertain == ()  # not a loopback source


def test_the_tracer_s_kept_answers_tell_a_loopback_source_from_the_node_s_address() -> None:
    """A kept answer is reused for packets of the same key: a loopback source must not share the node's own
    address's (no doubt) nor another loopback address's (the doubt quotes the source)."""
    tracer = Tracer(parse_ruleset(NODEPORT), NODE)
    assert tracer.keys is not None
    tracer.warm()
    dst = "127.0.0.1"
    assert tracer.trace(Packet.of("tcp", "10.240.0.2", dst, 30007)).uncertain == ()
    for src in ("127.0.0.1", "127.0.0.2"):
        assert [u.reason for u in tracer.trace(Packet.of("tcp", src, dst, 30007)).uncertain] == [
            LEAVING.format(src)]
    assert tracer.trace(Packet.of("tcp", "10.240.0.2", dst, 30007)).uncertain == ()


def test_generated_rules_serving_localhost_nodeports_know_route_localnet(
        capsys: pytest.CaptureFixture[str]) -> None:
    """kube-proxy sets route_localnet=1 itself when it serves NodePorts on localhost: no doubt; with
    --iptables-localhost-nodeports false it does not, and a loopback source routed out is doubted again."""
    on = cli(["--scenario", "bootcamp", "--src", "127.0.0.1", "--dst", "127.0.0.1", "--dport", "31526"], capsys)
    assert {o["verdict"] for o in on["outcomes"]} == {"DNAT"} and on["uncertain"] == []
    off = cli(["--scenario", "bootcamp", "--iptables-localhost-nodeports", "false", "--src", "127.0.0.1",
               "--dst", "192.168.49.2", "--dport", "31526"], capsys)
    assert {o["verdict"] for o in off["outcomes"]} == {"DNAT"}
    assert routing(off) == [LEAVING.format("127.0.0.1")]  # once, however many endpoints


@pytest.mark.parametrize(("src", "reason"), [
    ("127.0.0.1", "lo's own address 127.0.0.1, which a packet from elsewhere may carry only where accept_local is "
                  "set and rp_filter is off (net.ipv4.conf.all and the input interface's); assumed so"),
    ("127.0.0.2", "the loopback address 127.0.0.2, which a packet from elsewhere may carry only where rp_filter is "
                  "off (net.ipv4.conf.all and the input interface's; systemd sets 2); assumed off"),
    ("10.240.0.2", "an address of this node, 10.240.0.2, which a packet from elsewhere may carry only where "
                   "accept_local is set (net.ipv4.conf.all or the input interface's); assumed set"),
])
def test_a_source_of_the_node_s_own_from_elsewhere_hangs_on_accept_local_and_rp_filter(src: str, reason: str) -> None:
    """Known route_localnet is not enough (QA-dumps #1): fib_validate_source drops a source that is one of the
    node's addresses (lo's 127.0.0.1 too) unless accept_local, and any 127/8 source under rp_filter 1 or 2
    (measured on this kernel, veth namespaces); a kept answer must quote each source."""
    tracer = Tracer(parse_ruleset(NODEPORT), NodeContext.of(["10.240.0.2/24", "10.240.0.3"], route_localnet_known=True))
    for source, expected in ((src, reason), ("10.240.0.3", None), (src, reason)):
        result = tracer.trace(Packet.of("udp", source, "10.240.0.2", 53, in_iface="eth0"))
        if expected is None:
            assert len(result.uncertain) == 1 and "10.240.0.3" in result.uncertain[0].reason
        else:
            assert [u.reason for u in result.uncertain] == [
                f"the source is {expected}, else the kernel drops it (fib_validate_source)"]
    assert tracer.trace(Packet.of("udp", "10.240.0.9", "10.240.0.2", 53, in_iface="eth0")).uncertain == ()


V6 = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
V6_DROP = ("routing decision: ::1 as the source or destination of a packet from elsewhere (ip6_rcv_core drops it "
           "before PREROUTING)")


@pytest.mark.parametrize(("src", "dst"), [("2001:db8::9", "::1"), ("::1", "fd00::5"), ("::1", "2001:db8::7")])
def test_ipv6_loopback_from_elsewhere_is_dropped_on_receipt(src: str, dst: str) -> None:
    """ip6_rcv_core drops a packet from a non-loopback device with ::1 as source or destination before any hook,
    whatever the sysctls (QA-dumps #2): it was delivered or forwarded with nothing said."""
    tracer = Tracer(parse_ruleset(V6, ipv6=True), NodeContext.of(["fd00::5"], route_localnet_known=True))
    (outcome,) = tracer.trace(Packet.of("udp", src, dst, 53, in_iface="eth0")).outcomes
    assert outcome.verdict == "DROP" and [s.rule for s in outcome.path] == [V6_DROP]
    assert [o.verdict for o in tracer.trace(Packet.of("udp", "::1", "::1", 53)).outcomes] == ["ACCEPT"]  # on lo


def test_the_ipv6_loopback_drop_reads_as_a_routing_decision(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "r6.rules"
    rules.write_text(V6)
    argv = ["trace", "--rules", str(rules), "--node-ip", "fd00::5", "--src", "2001:db8::9", "--dst", "::1",
            "--dport", "53", "--in-iface", "eth0"]
    assert main(argv) == 0
    assert f"DROP: 100% (1)\n  {V6_DROP}\n" in capsys.readouterr().out
    assert main([*argv, "-o", "json"]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)["outcomes"]
    assert outcome["path"] == [{"table": "", "chain": "", "line": None, "rule": V6_DROP}]
