"""IPv6 extension-header matches against the packets traced here, which carry none: known answers, not doubts.

rt, frag, hbh, dst and ah fail without their header whatever their options say (the kernel's ipv6_find_hdr
returns -ENOENT); ipv6header compares the packet's header set, {protocol}, with its list, exactly or (--soft)
as containment, ``!`` inverting as ip6t_ipv6header.c does. ``tests/kernel/test_ipv6_extension_headers.py``
checks the same rules against the kernel.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer

NODE_IP = "2001:db8:0:1::10"
NODE = NodeContext.of([NODE_IP], interfaces={"eth0": [NODE_IP]})

# (match, whether a packet without extension headers matches it)
CASES = [
    ("-m rt --rt-type 0", False), ("-m rt ! --rt-type 0", False), ("-m rt --rt-segsleft 0:255 --rt-len 0", False),
    ("-m frag --fragid 0:4294967295 --fragmore", False), ("-m frag ! --fragid 5", False),
    ("-m hbh --hbh-len 0", False), ("-m hbh ! --hbh-len 0", False), ("-m dst --dst-len 0", False),
    ("-m ah", False), ("-m ah ! --ahspi 5", False),
    ("-m ipv6header --header ipv6-frag --soft", False), ("-m ipv6header ! --header ipv6-frag --soft", True),
    ("-m ipv6header --header prot --soft", True), ("-m ipv6header ! --header prot --soft", False),
    ("-m ipv6header --header protocol", True), ("-m ipv6header ! --header protocol", False),
    ("-m ipv6header --header 255", True), ("-m ipv6header --header frag,protocol", False),
    ("-m ipv6header ! --header frag,protocol", True), ("-m ipv6header --header route", False),
    ("-m ipv6header ! --header route", True), ("-m ipv6header ! --header frag,protocol --soft", False),
    ("-m ipv6header --header none", False), ("-m ipv6header --header hopopt,ipv6-route", False),
    ("-m ipv6header ! --header ipv6-opts,ah,esp,ipv6-nonxt", True), ("-m ipv6header --header ah --soft", False),
]


def _trace(match: str, proto: str = "tcp", validate: bool = True):
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"-A INPUT -d {NODE_IP}/128 {match} -j DROP\nCOMMIT\n")
    return Tracer(parse_ruleset(text, ipv6=True, validate=validate), NODE).trace(
        Packet.of(proto, "2001:db8:ffff::1", NODE_IP, 22))


@pytest.mark.parametrize(("match", "matches"), CASES)
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_extension_header_matches_have_known_answers(match: str, matches: bool, proto: str) -> None:
    result = _trace(match, proto)
    assert [o.verdict for o in result.outcomes] == ["DROP" if matches else "ACCEPT"]
    assert not result.uncertain


def test_a_header_name_ip6tables_refuses_is_refused_or_its_rule_skipped() -> None:
    """The validating parse refuses it as ip6tables-legacy-restore v1.8.9 does ("unknown header `proto' specified");
    read unchecked, the trace skips the rule, saying why (it took the rule and doubted the name)."""
    with pytest.raises(RulesSyntaxError, match="unknown header `proto' specified"):
        _trace("-m ipv6header --header proto --soft")
    result = _trace("-m ipv6header --header proto --soft", validate=False)
    assert [u.reason for u in result.uncertain] == [
        "the rule cannot be evaluated: line 5: unknown header `proto' specified at 'proto'; expected comma-separated "
        "headers: hop, dst, route, frag, auth, esp, none, prot, their protocol names (such as ipv6-frag) or numbers "
        "(0, 60, 43, 44, 51, 50, 59, 255); it is skipped"]


def test_the_rhel_style_type_0_routing_header_rule_no_longer_drops_everything() -> None:
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p ipv6-icmp -j ACCEPT\n"
            "-A INPUT -i lo -j ACCEPT\n-A INPUT -m rt --rt-type 0 -j DROP\n"
            f"-A INPUT -d {NODE_IP}/128 -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n"
            "-A INPUT -j REJECT --reject-with icmp6-adm-prohibited\nCOMMIT\n")
    tracer = Tracer(parse_ruleset(text, ipv6=True), NODE)
    lo = ["the input interface is not known; assumed not to be lo"]  # the only doubt left
    ssh = tracer.trace(Packet.of("tcp", "2001:db8:ffff::1", NODE_IP, 22))
    assert [o.verdict for o in ssh.outcomes] == ["ACCEPT"] and [u.reason for u in ssh.uncertain] == lo
    other = tracer.trace(Packet.of("tcp", "2001:db8:ffff::1", NODE_IP, 80))
    assert [o.verdict for o in other.outcomes] == ["REJECT"] and [u.reason for u in other.uncertain] == lo
