"""Broadcast and multicast destinations are delivered to the node (INPUT), as the kernel routes them.

Regression from a QA pass on real node dumps (QA-dumps #10): with ``--node-ip 192.168.0.2/24`` the subnet's
broadcast 192.168.0.255 was neither addrtype BROADCAST nor LOCAL and was forwarded, and 255.255.255.255 and
224.0.0.1 went through FORWARD; the kernel's local table holds a broadcast route for each address's subnet
(fib_add_ifaddr, a prefix under /31), 255.255.255.255 is a limited broadcast, and a multicast group the node
has joined (all-hosts is joined on every interface) is delivered locally (``ip route get 192.168.0.255 from
192.168.0.9 iif eth0``: ``<local,brd>``; 224.0.0.1: ``<local,mc>``).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import UsageError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.dumpfile import dump_node_addresses
from kubeproxy_sim.netfilter.evaluate import martian_source, multicast, special_range, zeronet
from kubeproxy_sim.netfilter.packet import CtState, Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Outcome, Tracer
from tests.realworld import DUMPS

RULES = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A INPUT -m addrtype --dst-type BROADCAST -j ACCEPT\n"
         "-A INPUT -m addrtype --dst-type MULTICAST -j ACCEPT\n"
         "-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT\n"
         "-A INPUT -j DROP\n-A FORWARD -j REJECT\nCOMMIT\n")
NODE = NodeContext.of(["192.168.0.2/24"], interfaces={"eth0": ["192.168.0.2/24"]})


def ends(dst: str, node: NodeContext = NODE, **kw: str) -> list[tuple[str, str, int | None]]:
    """(verdict, chain, line) of the last step of each outcome of a packet from a neighbour on eth0."""
    result = Tracer(parse_ruleset(RULES), node).trace(Packet.of("udp", "192.168.0.9", dst, 9, in_iface="eth0",
                                                                **kw))
    return [(o.verdict, o.path[-1].chain, o.path[-1].line) for o in result.outcomes]


@pytest.mark.parametrize(("dst", "line"), [("192.168.0.255", 5), ("255.255.255.255", 5), ("224.0.0.1", 6),
                                           ("192.168.0.2", 7)])
def test_broadcast_multicast_and_local_destinations_are_delivered_with_their_address_type(dst: str,
                                                                                          line: int) -> None:
    assert ends(dst) == [("ACCEPT", "INPUT", line)]


def test_addresses_that_are_not_broadcasts_are_forwarded() -> None:
    assert ends("192.168.0.0") == [("REJECT", "FORWARD", 9)]  # the network's address: no broadcast route
    assert ends("192.168.1.255") == [("REJECT", "FORWARD", 9)]  # another subnet's
    point = NodeContext.of(["192.168.0.2/31"])  # /31 and /32 have no broadcast
    assert ends("192.168.0.3", point) == [("REJECT", "FORWARD", 9)]
    bare = NodeContext.of(["192.168.0.2"])  # no prefix given: its subnet is not known
    assert ends("192.168.0.255", bare) == [("REJECT", "FORWARD", 9)]
    assert ends("255.255.255.255", bare) == [("ACCEPT", "INPUT", 5)]


def test_a_group_the_node_may_not_have_joined_is_assumed_joined_and_said_so() -> None:
    result = Tracer(parse_ruleset(RULES), NODE).trace(Packet.of("udp", "192.168.0.9", "239.1.2.3", 9,
                                                                in_iface="eth0"))
    assert [o.path[-1].line for o in result.outcomes] == [6]
    assert [(u.rule, u.reason) for u in result.uncertain] == [
        ("routing decision", "the destination 239.1.2.3 is a multicast group, delivered to the node only where one "
                             "of its sockets joined it; assumed joined, else the kernel drops the packet")]
    ipv6 = NodeContext.of(["fd00::2/64"])
    six = parse_ruleset(RULES.replace("-A INPUT -m addrtype --dst-type BROADCAST -j ACCEPT\n", ""), ipv6=True)
    assert Tracer(six, ipv6).trace(Packet.of("udp", "fd00::9", "ff02::1", 9, in_iface="eth0")).uncertain == ()


def test_addrtype_limited_to_the_input_interface_knows_its_subnet_s_broadcast() -> None:
    rules = RULES.replace("--dst-type BROADCAST", "--dst-type BROADCAST --limit-iface-in")
    node = NodeContext.of(["192.168.0.2/24", "10.0.0.2/8"], interfaces={"eth0": ["192.168.0.2/24"],
                                                                         "eth1": ["10.0.0.2/8"]})
    tracer = Tracer(parse_ruleset(rules), node)
    assert [o.path[-1].line for o in tracer.trace(Packet.of("udp", "192.168.0.9", "192.168.0.255", 9,
                                                            in_iface="eth0")).outcomes] == [5]
    # 10.255.255.255 is a broadcast of eth1, not of eth0: then it is only LOCAL-less, not BROADCAST there
    assert [o.path[-1].line for o in tracer.trace(Packet.of("udp", "192.168.0.9", "10.255.255.255", 9,
                                                            in_iface="eth0")).outcomes] == [8]


def test_trace_reads_node_ip_prefixes_with_a_dump(capsys: pytest.CaptureFixture[str]) -> None:
    dump = str(DUMPS / "08-centos7-flannel-nodeport-2024.rules")
    argv = ["trace", "--rules", dump, "--node-ip", "192.168.0.2/24", "--src", "192.168.0.9", "--dst",
            "192.168.0.255", "--dport", "9", "--proto", "udp", "--in-iface", "eth0", "-o", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert {(s["table"], s["chain"]) for o in data["outcomes"] for s in o["path"]} >= {("filter", "INPUT")}
    assert not any(s["chain"] == "FORWARD" for o in data["outcomes"] for s in o["path"])
    assert dump_node_addresses(["192.168.0.2/24", "10.0.0.1", "10.0.0.5/255.255.0.0"], 4, prefixes=True) == (
        "192.168.0.2/24", "10.0.0.1", "10.0.0.5/16")
    assert dump_node_addresses(["192.168.0.2/24"], 4) == ("192.168.0.2",)
    with pytest.raises(UsageError, match=r"'192.168.0.2/33': '33' is no prefix length; expected IP or "
                                         r"IP/PREFIX, PREFIX 0-32"):
        dump_node_addresses(["192.168.0.2/33"], 4, prefixes=True)


@pytest.mark.parametrize(("text", "length"), [("10.0.0.5/", "''"), ("10.0.0.5/255.0.255.0", "'255.0.255.0'"),
                                              ("fd00::5/", "''")])
def test_node_ip_without_a_prefix_length_or_with_a_netmask_with_holes_is_a_usage_error(
        text: str, length: str, capsys: pytest.CaptureFixture[str]) -> None:
    """'IP/' was read as /32 and a non-contiguous netmask as a prefix of its bit count (QA-dumps #6)."""
    family = 6 if ":" in text else 4
    with pytest.raises(UsageError, match=f"'{text}': {length} is no prefix length; expected IP or IP/PREFIX"):
        dump_node_addresses([text], family, prefixes=True)
    dump = str(DUMPS / "08-centos7-flannel-nodeport-2024.rules")
    if family == 4:
        assert main(["trace", "--rules", dump, "--node-ip", text, "--src", "192.168.0.9", "--dst", "10.0.0.5",
                     "--dport", "9"]) == 2
        assert "is no prefix length" in capsys.readouterr().err


def test_addrtype_answers_the_zero_network_and_limited_broadcast_on_any_interface() -> None:
    """inet_dev_addr_type: 0.0.0.0/8 and 255.255.255.255 are BROADCAST, 224/4 MULTICAST, before any route is
    looked up, so an interface whose addresses are not known does not make them uncertain."""
    rules = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -m addrtype --dst-type MULTICAST --limit-iface-in -j REJECT\n"
             "-A INPUT -m addrtype --src-type BROADCAST --limit-iface-in -j DROP\nCOMMIT\n")
    tracer = Tracer(parse_ruleset(rules), NodeContext.of(["192.168.0.2/24"]))  # eth0's addresses: not given
    dhcp = tracer.trace(Packet.of("udp", "0.0.0.0", "255.255.255.255", 67, 68, in_iface="eth0"))
    assert [o.verdict for o in dhcp.outcomes] == ["DROP"] and dhcp.uncertain == ()
    group = tracer.trace(Packet.of("udp", "192.168.0.9", "224.0.0.1", 9, in_iface="eth0"))
    assert [o.verdict for o in group.outcomes] == ["REJECT"] and group.uncertain == ()


def test_addrtype_answers_broadcast_for_lo_s_127_255_255_255() -> None:
    """The local table holds ``broadcast 127.255.255.255 dev lo`` beside ``local 127.0.0.0/8``: addrtype says
    BROADCAST, not LOCAL (QA-dumps #4); other 127/8 addresses stay LOCAL."""
    rules = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A OUTPUT -m addrtype --dst-type BROADCAST -j DROP\n"
             "-A OUTPUT -m addrtype --dst-type BROADCAST --limit-iface-out -j REJECT\n"
             "-A OUTPUT -m addrtype --dst-type LOCAL -j ACCEPT\nCOMMIT\n")
    tracer = Tracer(parse_ruleset(rules), NodeContext.of(["192.168.0.2/24"]))
    for dst, verdict in (("127.255.255.255", "DROP"), ("127.0.0.1", "ACCEPT"), ("127.255.255.254", "ACCEPT")):
        result = tracer.trace(Packet.of("udp", "127.0.0.1", dst, 9))
        assert [o.verdict for o in result.outcomes] == [verdict] and result.uncertain == ()
    limited = Tracer(parse_ruleset(rules.replace("-A OUTPUT -m addrtype --dst-type BROADCAST -j DROP\n", "")),
                     NodeContext.of(["192.168.0.2/24"]))
    assert [o.verdict for o in limited.trace(Packet.of("udp", "127.0.0.1", "127.255.255.255", 9)).outcomes] == [
        "REJECT"]  # on lo, the interface it leaves by


MARTIAN_SOURCE = ("routing decision: a source 0.0.0.0, multicast or 255.255.255.255 from elsewhere is a martian "
                  "(ip_route_input_slow drops it)")
MARTIAN_DESTINATION = ("routing decision: a destination 0.0.0.0 from elsewhere is a martian (ip_route_input_slow "
                       "drops it)")


@pytest.mark.parametrize(("src", "dst", "step"), [
    ("0.0.0.0", "192.168.0.2", MARTIAN_SOURCE), ("224.0.0.5", "192.168.0.2", MARTIAN_SOURCE),
    ("255.255.255.255", "192.168.0.2", MARTIAN_SOURCE), ("0.0.0.0", "239.1.1.1", MARTIAN_SOURCE),
    ("192.168.0.9", "0.0.0.0", MARTIAN_DESTINATION),
    ("0.0.0.0", "255.255.255.255", None), ("0.0.0.0", "224.0.0.1", None), ("192.168.0.9", "192.168.0.2", None),
    ("0.1.2.3", "192.168.0.2", None), ("192.168.0.9", "0.1.2.3", None),
])
def test_input_routing_drops_martians_from_elsewhere(src: str, dst: str, step: str | None) -> None:
    """ip_route_input_slow drops a zero or multicast source and a zero destination whatever the sysctls (QA-dumps
    #5); DHCP's 0.0.0.0 -> 255.255.255.255 and a link-local group still arrive, and since Linux 5.3 the rest of
    0.0.0.0/8 is ordinary unicast (measured: tests/kernel/test_martian_kernel.py). A kept answer must not be
    shared with an ordinary source."""
    rules = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    tracer = Tracer(parse_ruleset(rules), NodeContext.of(["192.168.0.2/24"], interfaces={"eth0": ["192.168.0.2/24"]}))
    tracer.warm()
    tracer.trace(Packet.of("udp", "192.168.0.9", dst, 67, in_iface="eth0"))  # an ordinary source first
    (outcome,) = tracer.trace(Packet.of("udp", src, dst, 67, in_iface="eth0")).outcomes
    if step is None:
        assert outcome.verdict == "ACCEPT"
    else:
        assert (outcome.verdict, [s.rule for s in outcome.path]) == ("DROP", [step])


FILTER = ":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def dnat_rules(to: str) -> str:
    """PREROUTING DNATs UDP port 54 to ``to`` port 53 (the kernel test loads the same)."""
    return (f"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            f"-A PREROUTING -p udp -m udp --dport 54 -j DNAT --to-destination {to}:53\nCOMMIT\n"
            f"*filter\n{FILTER}COMMIT\n")


LOOPBACK6_NO_ROUTE = ("routing decision: a packet from elsewhere DNATed to ::1 finds no route (ip6_route_input looks "
                      "::1 up only among the input interface's routes, and ::1 is on lo)")
NO_ROUTE_DOUBT = ("the node is assumed to have no route covering ::1 through the input interface (a default route "
                  "through it would forward the packet back out there)")


def last_step(outcome: Outcome) -> tuple[str, str]:
    return outcome.verdict, outcome.path[-1].rule


def test_a_dnat_to_the_zero_address_is_a_martian_destination() -> None:
    """Routing reads the destination PREROUTING left: a DNAT to 0.0.0.0, or a later packet conntrack sends there,
    is dropped as a martian; a DNAT to 0.0.0.1 is routed as any other address (Linux 5.3 and later)."""
    tracer = Tracer(parse_ruleset(dnat_rules("0.0.0.0")), NodeContext.of(["10.9.0.2/24"]))
    (first,) = tracer.trace(Packet.of("udp", "10.9.0.1", "10.9.0.2", 54, in_iface="eth0")).outcomes
    assert last_step(first) == ("DROP", MARTIAN_DESTINATION) and len(first.path) == 2
    later = Packet.of("udp", "10.9.0.1", "10.9.0.2", 54, in_iface="eth0", ctstate=CtState.ESTABLISHED,
                      ct_dnat=(0, 53))
    (established,) = tracer.trace(later).outcomes
    assert last_step(established) == ("DROP", MARTIAN_DESTINATION)
    other = Tracer(parse_ruleset(dnat_rules("0.0.0.1")), NodeContext.of(["10.9.0.2/24"]))
    (routed,) = other.trace(Packet.of("udp", "10.9.0.1", "10.9.0.2", 54, in_iface="eth0")).outcomes
    assert (routed.verdict, routed.destination) == ("DNAT", "0.0.0.1:53")


def test_a_dnat_to_ipv6_loopback_finds_no_route_unless_one_leaves_by_the_input_interface() -> None:
    """ip6_route_input looks ::1 up on the input interface only: no route (with the doubt that a default route
    through that interface would forward it, when the routes are not given), or, with one given, forwarded back
    out there (measured)."""
    rules = parse_ruleset(dnat_rules("[::1]"), ipv6=True)
    packet = Packet.of("udp", "fd00::1", "fd00::2", 54, in_iface="eth0")
    result = Tracer(rules, NodeContext.of(["fd00::2/64"])).trace(packet)
    (outcome,) = result.outcomes
    assert last_step(outcome) == ("DROP", LOOPBACK6_NO_ROUTE) and outcome.path[0].rule.startswith("-A PREROUTING")
    assert [u.reason for u in result.uncertain] == [NO_ROUTE_DOUBT]
    later = Packet.of("udp", "fd00::1", "fd00::2", 54, in_iface="eth0", ctstate=CtState.ESTABLISHED, ct_dnat=(1, 53))
    (established,) = Tracer(rules, NodeContext.of(["fd00::2/64"])).trace(later).outcomes
    assert last_step(established) == ("DROP", LOOPBACK6_NO_ROUTE)
    routed = Tracer(rules, NodeContext.of(["fd00::2/64"], routes=[("fd00::/64", "eth0"), ("::/0", "eth0")]))
    (forwarded,) = routed.trace(packet).outcomes
    assert (forwarded.verdict, forwarded.destination) == ("DNAT", "[::1]:53")
    elsewhere = Tracer(rules, NodeContext.of(["fd00::2/64"], routes=[("fd00::/64", "eth0"), ("::/0", "eth1")]))
    known = elsewhere.trace(packet)
    assert last_step(known.outcomes[0]) == ("DROP", LOOPBACK6_NO_ROUTE)
    assert not known.uncertain  # the routes are given: that none covers ::1 through eth0 is no assumption


MULTICAST6_DROP = ("routing decision: a multicast source, or a multicast destination of reserved or interface-local "
                   "scope (ffx0::, ffx1::) on a packet from elsewhere (ip6_rcv_core drops it before PREROUTING)")


@pytest.mark.parametrize(("src", "dst", "dropped"), [
    ("ff02::5", "fd00::2", True), ("fd00::1", "ff01::1", True), ("fd00::1", "ff00::1", True),
    ("fd00::1", "ff02::1", False), ("::ffff:10.9.0.1", "fd00::2", False), ("fd00::1", "fd00::2", False),
])
def test_ipv6_receipt_drops_multicast_sources_and_scopes(src: str, dst: str, dropped: bool) -> None:
    """ip6_rcv_core drops a multicast source and a multicast destination of scope 0 or 1 before PREROUTING
    (measured); an IPv4-mapped source is not dropped there. A kept answer must not be shared with an ordinary
    source's."""
    tracer = Tracer(parse_ruleset(f"*filter\n{FILTER}COMMIT\n", ipv6=True), NodeContext.of(["fd00::2/64"]))
    tracer.warm()
    tracer.trace(Packet.of("udp", "fd00::9", dst, 53, in_iface="eth0"))  # an ordinary source first
    (outcome,) = tracer.trace(Packet.of("udp", src, dst, 53, in_iface="eth0")).outcomes
    if dropped:
        assert (outcome.verdict, [s.rule for s in outcome.path]) == ("DROP", [MULTICAST6_DROP])
    else:
        assert outcome.verdict == "ACCEPT"


EDGES4 = (0, 1, 0x00FFFFFF, 0x01000000, 0x7F000001, 0xDFFFFFFF, 0xE0000000, 0xE0000005, 0xEFFFFFFF, 0xF0000000,
          0xFFFFFFFE, 0xFFFFFFFF)
EDGES6 = (0, 1, 2, 0xFE80 << 112, (0xFEC0 << 112) - 1, 0xFEC0 << 112, 0xFEFF << 112,
          0xFF << 120, (0xFF01 << 112) | 1, (1 << 128) - 1, 0xFFFF0A090001)


@given(st.one_of(st.sampled_from(EDGES4), st.integers(0, (1 << 32) - 1)),
       st.one_of(st.sampled_from(EDGES6), st.integers(0, (1 << 128) - 1)))
def test_martian_source_writes_out_multicast_and_zeronet(v4: int, v6: int) -> None:
    """martian_source inlines SPECIAL_RANGES' martian sources, which are multicast's and zeronet's comparisons
    (for speed): they must say the same."""
    assert martian_source(4, v4) == (multicast(4, v4) or v4 == 0xFFFFFFFF or zeronet(v4))
    assert martian_source(6, v6) == (v6 <= 1 or multicast(6, v6) or v6 >> 118 == 0x3FA)
    for family, value in ((4, v4), (6, v6)):
        special = special_range(family, value)
        assert martian_source(family, value) == (special is not None and special.martian_source)
