"""ICMP types and codes in the packet model and the evaluator (the kernel's word: test_eval_icmp_kernel.py).

Before, a packet had no ICMP type and every ``--icmp-type`` test was assumed to match (a doubt), so
``! --icmp-type echo-request -j DROP`` dropped a ping, and ``trace`` took no ICMP packet at all.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile_match_packet import read_icmp_type
from kubeproxy_sim.netfilter.established import as_reply
from kubeproxy_sim.netfilter.packet import CtState, Packet, unconnected_icmp_state
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, render_text, trace

RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p icmp -m icmp --icmp-type 3/3 -j DROP
-A FORWARD -p icmp -m icmp ! --icmp-type echo-request -j REJECT
-A FORWARD -p icmp -m icmp --icmp-type any -j ACCEPT
COMMIT
"""
RULES6 = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 255 -j DROP
-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 1/0:3 -j DROP
-A FORWARD -p ipv6-icmp -m icmp6 ! --icmpv6-type ping -j REJECT
COMMIT
"""


def _ends(rules: str, packet: Packet, ipv6: bool = False) -> list[tuple[str, int | None]]:
    result = trace(parse_ruleset(rules, ipv6=ipv6), packet, NodeContext.of())
    return [(o.verdict, o.path[-1].line if o.path else None) for o in result.outcomes]


def _icmp(type_: int, code: int, state: CtState = CtState.NEW, v6: bool = False) -> Packet:
    if v6:
        return Packet.of("icmpv6", "fd00::1", "fd00:1::2", icmp=(type_, code), ctstate=state)
    return Packet.of("icmp", "10.0.0.1", "10.1.0.2", icmp=(type_, code), ctstate=state)


@pytest.mark.parametrize(("text", "ipv6", "read"), [
    ("echo-request", False, (8, 0, 255)), ("ECHO-REQ", False, (8, 0, 255)), ("ping", False, (8, 0, 255)),
    ("destination", False, (3, 0, 255)), ("network-unr", False, (3, 0, 0)), ("0x3/0x3", False, (3, 3, 3)),
    ("010", False, (8, 0, 255)), (" 8", False, (8, 0, 255)), ("3/0:5", False, (3, 0, 5)), ("3/5:1", False, (3, 5, 1)),
    ("any", False, (255, 0, 255)), ("Any", False, (255, 0, 255)), ("a", True, (1, 3, 3)),
    ("neighbor-s", True, (135, 0, 255)), ("echo", False, None), ("e", False, None), ("", False, None),
    ("256", False, None), ("3:5", False, None), ("8/", False, None), ("8 ", False, None), ("3/3/3", False, None),
    ("09", False, None), ("-1", False, None), ("3/-0", False, None), ("any", True, None), ("neighbour", True, None),
])
def test_a_type_is_read_as_iptables_1_8_9_reads_it(text: str, ipv6: bool, read: tuple[int, int, int] | None) -> None:
    """unshare --net, iptables-legacy/ip6tables-legacy -A then -save (and test_eval_icmp_kernel's differential)."""
    assert read_icmp_type(text, ipv6) == read


def test_a_ping_passes_a_rule_for_other_types_and_an_error_does_not() -> None:
    """Before: a ping met ``! --icmp-type echo-request`` as a doubt assumed to match, and was rejected."""
    assert _ends(RULES, Packet.of("icmp", "10.0.0.1", "10.1.0.2")) == [("ACCEPT", 7)]
    assert _ends(RULES, _icmp(3, 3, CtState.RELATED)) == [("DROP", 5)]
    assert _ends(RULES, _icmp(3, 1, CtState.RELATED)) == [("REJECT", 6)]
    assert _ends(RULES, _icmp(8, 1)) == [("ACCEPT", 7)]  # a bare type takes every code
    result = trace(parse_ruleset(RULES), Packet.of("icmp", "10.0.0.1", "10.1.0.2"), NodeContext.of())
    assert not [u for u in result.uncertain if "icmp" in u.reason.lower()]


def test_icmp6_has_no_wildcard_and_takes_code_ranges() -> None:
    """ip6t_icmp6 compares type 255 as any other (xt_icmp's 255 is any): a ping is not dropped by it."""
    assert _ends(RULES6, Packet.of("icmpv6", "fd00::1", "fd00:1::2"), ipv6=True) == [("ACCEPT", None)]
    assert _ends(RULES6, _icmp(1, 3, CtState.RELATED, v6=True), ipv6=True) == [("DROP", 6)]
    assert _ends(RULES6, _icmp(1, 4, CtState.RELATED, v6=True), ipv6=True) == [("REJECT", 7)]


def test_a_packet_of_unknown_type_is_assumed_to_pass_and_says_so() -> None:
    packet = replace(Packet.of("icmp", "10.0.0.1", "10.1.0.2"), icmp_type=None, icmp_code=None)
    result = trace(parse_ruleset(RULES), packet, NodeContext.of())
    assert [(o.verdict, o.path[-1].line) for o in result.outcomes] == [("DROP", 5)]
    assert any("ICMP type is not known; assumed to be 3/3" in u.reason for u in result.uncertain)


def test_the_default_type_follows_the_state_and_direction() -> None:
    pings = Packet.of("icmp", "10.0.0.1", "10.0.0.2"), Packet.of("tcp", "10.0.0.1", "10.0.0.2", 80)
    assert tuple(p.icmp_text for p in pings) == ("8/0", None)
    assert Packet.of("icmpv6", "fd00::1", "fd00::2", ctstate=CtState.RELATED).icmp_text == "1/4"
    reply = Packet.of("icmp", "10.0.0.1", "10.0.0.2", ctstate=CtState.ESTABLISHED, reply=True)
    assert reply.icmp_text == "0/0"
    later = Packet.of("icmp", "10.0.0.1", "10.0.0.2", icmp=(13, 0), ctstate=CtState.ESTABLISHED)
    assert as_reply(later).icmp_text == "14/0"  # conntrack's invmap: a timestamp request's answer


@pytest.mark.parametrize(("icmp", "state", "reply", "words"), [
    ((0, 0), CtState.NEW, False, "expected INVALID"),
    ((3, 3), CtState.NEW, False, "an ICMP error starts no connection; expected RELATED"),
    ((8, 0), CtState.RELATED, False, "only an ICMP error RELATED"),
    ((0, 0), CtState.ESTABLISHED, False, "is a request; expected type 8, 13, 15, 17"),
    ((8, 0), CtState.ESTABLISHED, True, "expected type 0, 14, 16, 18"),
    ((8, 256), CtState.NEW, False, "ICMP code 256 is not 0-255"),
])
def test_a_state_conntrack_never_gives_the_type_is_refused(icmp: tuple[int, int], state: CtState, reply: bool,
                                                           words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Packet.of("icmp", "10.0.0.1", "10.0.0.2", icmp=icmp, ctstate=state, reply=reply)
    with pytest.raises(ValueError, match="no ICMP type"):
        Packet.of("udp", "10.0.0.1", "10.0.0.2", 53, icmp=(8, 0))


def test_the_state_of_an_unconnected_icmp_packet() -> None:
    """As the kernel gave them (test_eval_icmp_kernel): requests NEW, ICMPv6 neighbour discovery UNTRACKED."""
    assert [unconnected_icmp_state("icmp", t) for t in (8, 13, 0, 3)] == [
        CtState.NEW, CtState.NEW, CtState.INVALID, CtState.INVALID]
    assert [unconnected_icmp_state("icmpv6", t) for t in (128, 139, 135, 129, 1)] == [
        CtState.NEW, CtState.NEW, CtState.UNTRACKED, CtState.INVALID, CtState.INVALID]


def test_a_tracer_keeps_types_apart() -> None:
    """The trace key holds the type and code: two packets differing in them alone get their own answers."""
    tracer = Tracer(parse_ruleset(RULES), NodeContext.of())
    ping, error = Packet.of("icmp", "10.0.0.1", "10.1.0.2"), _icmp(3, 3, CtState.RELATED)
    assert tracer.trace(ping).outcomes[0].verdict == "ACCEPT"
    assert tracer.trace(error).outcomes[0].verdict == "DROP"
    assert tracer.trace(replace(error, icmp_code=1)).outcomes[0].verdict == "REJECT"


def test_the_text_names_the_type() -> None:
    result = trace(parse_ruleset(RULES), Packet.of("icmp", "10.0.0.1", "10.1.0.2"), NodeContext.of())
    assert render_text(result).startswith("icmp 10.0.0.1 -> 10.1.0.2 type 8/0 (from elsewhere)\n")


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_takes_an_icmp_packet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "icmp.rules"
    dump.write_text(RULES)
    base = ["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.1.0.2", "--proto", "icmp"]
    code, out, _ = _cli([*base, "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert (data["packet"]["icmp_type"], data["packet"]["icmp_code"], data["packet"]["dport"]) == (8, 0, None)
    assert [o["verdict"] for o in data["outcomes"]] == ["ACCEPT"]
    code, out, _ = _cli([*base, "--icmp-type", "port-unreach", "--ctstate", "RELATED", "-o", "json"], capsys)
    assert code == 0 and [o["verdict"] for o in json.loads(out)["outcomes"]] == ["DROP"]
    code, out, _ = _cli([*base, "--ctstate", "ESTABLISHED", "--ctdir", "REPLY", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["packet"]["icmp_type"] == 0 and data["outcomes"][0]["verdict"] == "REJECT"


@pytest.mark.parametrize(("extra", "words"), [
    (["--proto", "icmp", "--dport", "80"], "--dport given for an icmp packet, which has no ports"),
    (["--proto", "tcp", "--icmp-type", "8"], "--icmp-type given for a tcp packet"),
    (["--proto", "tcp"], "no --dport for a tcp packet"),
    (["--proto", "icmp", "--icmp-type", "echo"], "'echo' is not one ICMP type and code"),
    (["--proto", "icmp", "--icmp-type", "any"], "'any' is not one ICMP type and code"),
    (["--proto", "icmp", "--icmp-type", "3/0:5"], "'3/0:5' is not one ICMP type and code"),
    (["--proto", "icmp", "--icmp-type", "0"], "expected INVALID"),
])
def test_trace_refuses_what_no_packet_is(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                                         words: str) -> None:
    dump = tmp_path / "icmp.rules"
    dump.write_text(RULES)
    code, _, err = _cli(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.1.0.2", *extra], capsys)
    assert code == 2 and words in err and "Traceback" not in err
