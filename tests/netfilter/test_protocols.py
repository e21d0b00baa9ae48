"""The -p values iptables 1.8.9 reads: the netbase snapshot against its file, the refusals in the tools' words."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.protocols import NETBASE_ALIASES, NETBASE_PROTOCOLS, saved_protocol
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from kubeproxy_sim.netfilter.syntax import protocol_number
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.netfilter.restore_cases import filter_with

SNAPSHOT = Path(__file__).resolve().parents[2] / "tools" / "data" / "protocols-netbase-6.4"
IP6_FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def _entries() -> list[list[str]]:
    """The snapshot's entries, NAME NUMBER [ALIAS...] each."""
    lines = SNAPSHOT.read_text(encoding="utf-8").splitlines()
    return [fields for fields in (line.split("#", 1)[0].split() for line in lines) if len(fields) >= 2]


def test_the_names_are_netbase_6_4_s_and_no_alias_is_reachable_after_lower_casing() -> None:
    entries = _entries()
    first: dict[str, int] = {}
    for fields in entries:
        first.setdefault(fields[0], int(fields[1]))
    assert first == NETBASE_PROTOCOLS
    aliases = [alias for fields in entries for alias in fields[2:]]
    assert aliases and all(alias != alias.lower() for alias in aliases)


@pytest.mark.parametrize(("value", "number"), [
    ("tcp", 6), ("TCP", 6), ("6", 6), ("006", 6), ("0x6", 6), ("0X6", 6), ("+6", 6), (" 6", 6), ("all", 0),
    ("ALL", 0), ("ip", 0), ("0", 0), ("255", 255), ("ospf", 89), ("icmpv6", 58), ("ipv6-mh", 135), ("mptcp", 262),
    ("bogus", None), ("256", None), ("-1", None), ("08", None), ("6 ", None), ("ospfigp", None), ("icmp6", None),
    ("s\u212aip", None), ("", None),
])
def test_protocol_number_reads_as_xtables_parse_protocol(value: str, number: int | None) -> None:
    """Observed with iptables-legacy-restore and iptables-nft-restore v1.8.9 (unshare --net): each None refused
    ('unknown protocol ...'), each number taken; the Kelvin sign is no k to C's tolower."""
    assert protocol_number(value) == number


def test_saved_names_are_the_numbers_first_netbase_names() -> None:
    assert [saved_protocol(n) for n in (6, 58, 135, 89, 255)] == ["tcp", "ipv6-icmp", "mobility-header", "ospf",
                                                                 "255"]


@pytest.mark.parametrize(("rule", "message"), [
    ("-A INPUT -p bogus -j ACCEPT", 'node.rules:5: unknown protocol "bogus" specified at \'bogus\'; expected a '
     "protocol number 0-255, all or a name such as tcp, udp, icmp, ipv6-icmp, esp, gre or ospf (Debian netbase's "
     "/etc/protocols)"),
    ("-A INPUT -p OSPFIGP -j ACCEPT", 'node.rules:5: unknown protocol "ospfigp" specified at \'OSPFIGP\'; expected '
     "a protocol number 0-255, all or a name such as tcp, udp, icmp, ipv6-icmp, esp, gre or ospf (Debian "
     "netbase's /etc/protocols)"),
    ("-A INPUT ! -p 0 -j ACCEPT", "node.rules:5: rule would never match protocol at '0'; expected a protocol "
     "other than all (0) after '!'"),
    ("-A INPUT -p tcp -p udp -j ACCEPT", "node.rules:5: multiple -p flags not allowed at 'udp'; expected one -p "
     "per rule"),
])
def test_a_protocol_iptables_refuses_is_refused_in_its_words(rule: str, message: str) -> None:
    """iptables-legacy-restore v1.8.9 (nft alike): 'unknown protocol "bogus" specified' (the value lower-cased:
    "ospfigp"), "rule would never match protocol", "multiple -p flags not allowed", each at line 5."""
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(rule), file="node.rules")
    assert str(info.value) == message


@pytest.mark.parametrize(("value", "saved"), [("icmp", "icmp"), ("icmpv6", "ipv6-icmp"), ("ospf", "ospf")])
def test_ip6tables_takes_any_family_s_protocol(value: str, saved: str) -> None:
    """ip6tables-legacy-restore and ip6tables-nft-restore v1.8.9 take -p icmp and save it as written, -p icmpv6
    as ipv6-icmp (and iptables takes -p ipv6-icmp: a restore case); both refuse -p bogus and -p 256 at the
    rule."""
    text = IP6_FILTER + f"-A INPUT -p {value} -j ACCEPT\nCOMMIT\n"
    assert f"-A INPUT -p {saved} -j ACCEPT" in render_saved(save_lines(parse_ruleset(text, ipv6=True))).splitlines()
    for bad in ("bogus", "256"):
        with pytest.raises(RulesSyntaxError):
            parse_ruleset(text.replace(f"-p {value}", f"-p {bad}"), ipv6=True)


def test_the_aliases_are_netbase_6_4_s() -> None:
    assert {alias: int(fields[1]) for fields in _entries() for alias in fields[2:]} == NETBASE_ALIASES


@pytest.mark.parametrize(("rule", "message"), [
    ("-A INPUT -m conntrack --ctproto Tcp -j ACCEPT", 'node.rules:5: unknown protocol "Tcp" specified at \'Tcp\'; '
     "expected a protocol number 0-255, all or a name such as tcp, udp, icmp, ipv6-icmp, esp, gre or ospf (Debian "
     "netbase's /etc/protocols, a name in lower case or an alias such as TCP)"),
])
def test_a_ctproto_iptables_cannot_read_is_refused_in_its_words(rule: str, message: str) -> None:
    """iptables-legacy-restore and iptables-nft-restore v1.8.9: the value as written (not lower-cased)."""
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(rule), file="node.rules")
    assert str(info.value) == message


def test_a_ctproto_is_checked_in_rules_of_one_shape() -> None:
    """The shape of the first rules vouches for the last one's skeleton, not for its protocol."""
    rules = [f"-A INPUT -s 10.0.0.{i}/32 -m conntrack --ctproto tcp -j ACCEPT" for i in range(3)]
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(*rules, "-A INPUT -s 10.0.0.9/32 -m conntrack --ctproto bogus -j ACCEPT"))
    assert info.value.line == 8


@pytest.mark.parametrize(("options", "verdict"), [
    ("-m conntrack --ctproto OSPFIGP", "ACCEPT"), ("-m conntrack --ctproto TCP", "DROP"),
    ("-m conntrack --ctproto 0x6", "DROP"), ("-m conntrack --ctproto all", "ACCEPT"),
    ("-m conntrack ! --ctproto all", "DROP"), ("-p all", "DROP"),
])
def test_a_ctproto_matches_the_connection_s_protocol_by_its_number(options: str, verdict: str) -> None:
    """xt_conntrack compares the connection's protocol with the number (0, all, is no connection's), where -p 0
    is every protocol."""
    tracer = Tracer(parse_ruleset(filter_with(f"-A INPUT {options} -j DROP")), NodeContext.of(["10.0.0.2"]))
    assert tracer.trace(Packet.of("tcp", "10.0.0.1", "10.0.0.2", 80, 40000)).outcomes[0].verdict == verdict
