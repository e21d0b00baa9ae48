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
    # a type range of one type (xt_icmp.h's parse: saveform.read_icmp, the parser's reader): both tools take them
    ("3:3", False, (3, 0, 255)), ("3:3/1", False, (3, 1, 1)), ("3:3/1:2", False, (3, 1, 2)), ("1:1", True, (1, 0, 255)),
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


@pytest.mark.parametrize("module", ["icmp6", "icmpv6", "ipv6-icmp"])
def test_icmp6_is_matched_by_each_name_ip6tables_loads_it_by(module: str) -> None:
    """ip6tables 1.8.9 reads -m ipv6-icmp and -m icmpv6 as icmp6 (-S prints -m icmp6): an echo request meets no
    type-129 rule, an echo reply does, and nothing is uncertain (-m ipv6-icmp was 'not modelled; assumed to
    match': the echo request was dropped)."""
    rules = RULES6.replace("-m icmp6 --icmpv6-type 255 -j DROP", f"-m {module} --icmpv6-type 129 -j DROP")
    request = trace(parse_ruleset(rules, ipv6=True), _icmp(128, 0, v6=True), NodeContext.of())
    assert [o.verdict for o in request.outcomes] == ["ACCEPT"] and not request.uncertain
    assert _ends(rules, _icmp(129, 0, CtState.INVALID, v6=True), ipv6=True) == [("DROP", 5)]


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


def test_multicast_router_discovery_is_untracked_as_mld_is() -> None:
    """noct_valid_new holds 151 and 152 (multicast router advertisement and solicitation) beside MLD and neighbour
    discovery: the 6.18 kernel gave them UNTRACKED (test_eval_icmp6_related_kernel.py); they were INVALID here."""
    assert [unconnected_icmp_state("icmpv6", t) for t in (130, 131, 132, 133, 134, 135, 136, 143, 151, 152)] == [
        CtState.UNTRACKED] * 10
    assert [unconnected_icmp_state("icmpv6", t) for t in (137, 144, 150, 153)] == [CtState.INVALID] * 4


def test_a_tracer_keeps_types_apart() -> None:
    """The trace key holds the type and code: two packets differing in them alone get their own answers."""
    tracer = Tracer(parse_ruleset(RULES), NodeContext.of())
    ping, error = Packet.of("icmp", "10.0.0.1", "10.1.0.2"), _icmp(3, 3, CtState.RELATED)
    assert tracer.trace(ping).outcomes[0].verdict == "ACCEPT"
    assert tracer.trace(error).outcomes[0].verdict == "DROP"
    assert tracer.trace(replace(error, icmp_code=1)).outcomes[0].verdict == "REJECT"


def test_the_text_names_the_type() -> None:
    result = trace(parse_ruleset(RULES), Packet.of("icmp", "10.0.0.1", "10.1.0.2"), NodeContext.of())
    assert render_text(result).startswith("icmp 10.0.0.1 -> 10.1.0.2 type 8/0 (arrives on an interface: PREROUTING)\n")


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
    (["--proto", "icmp", "--icmp-type", "an"], "'an' is not one ICMP type and code"),  # (any's prefix: was 255/0)
    (["--proto", "icmp", "--icmp-type", "ANY"], "'ANY' is not one ICMP type and code"),
    (["--proto", "icmp", "--icmp-type", "3/0:255"], "'3/0:255' is not one ICMP type and code"),  # (was 3/0)
    (["--proto", "icmp", "--icmp-type", "3/3:3"], "not any nor a code range"),
    (["--proto", "icmpv6"], "--proto: icmpv6 is IPv6's ICMP, and the addresses are IPv4; expected --proto icmp"),
    (["--proto", "icmpv6", "--icmp-type", "1"], "expected --proto icmp for IPv4 addresses"),
])
def test_trace_refuses_what_no_packet_is(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                                         words: str) -> None:
    dump = tmp_path / "icmp.rules"
    dump.write_text(RULES)
    code, _, err = _cli(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.1.0.2", *extra], capsys)
    assert code == 2 and words in err and "Traceback" not in err


@pytest.mark.parametrize(("text", "icmp"), [
    ("255", (255, 0)), ("255/7", (255, 7)), ("3", (3, 0)), ("destination", (3, 0)), ("network-unr", (3, 0)),
    ("port-unreach", (3, 3)), ("0x3/0x3", (3, 3)), ("ping", (8, 0)),
])
def test_trace_takes_one_type_and_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                       icmp: tuple[int, int]) -> None:
    """The number 255 is type 255 (a packet's: its rule's reading as any is the rule's); a bare type or a name of
    a bare type has code 0."""
    dump = tmp_path / "icmp.rules"
    dump.write_text(RULES)
    code, out, _ = _cli(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.1.0.2", "--proto", "icmp",
                         "--icmp-type", text, "--ctstate", "INVALID", "-o", "json"], capsys)
    assert code == 0 and (json.loads(out)["packet"]["icmp_type"], json.loads(out)["packet"]["icmp_code"]) == icmp


def test_trace_takes_an_untracked_packet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A neighbour solicitation of no connection is UNTRACKED, which the refusal of NEW says and --ctstate takes
    (it was an invalid choice), and -m conntrack --ctstate UNTRACKED matches it."""
    dump = tmp_path / "icmp6.rules"
    dump.write_text(RULES6.replace("-m icmp6 --icmpv6-type 255 -j DROP", "-m conntrack --ctstate UNTRACKED -j DROP"))
    base = ["trace", "--rules", str(dump), "--src", "fd00::1", "--dst", "fd00:1::2", "--proto", "icmpv6",
            "--icmp-type", "neighbour-solicitation"]
    code, _, err = _cli(base, capsys)
    assert code == 2 and "expected UNTRACKED" in err
    code, out, err = _cli([*base, "--ctstate", "UNTRACKED", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0, err
    assert (data["packet"]["ctstate"], data["packet"]["icmp_type"]) == ("UNTRACKED", 135)
    assert [(o["verdict"], o["path"][-1]["line"]) for o in data["outcomes"]] == [("DROP", 5)]
    code, _, err = _cli([*base, "--ctstate", "UNTRACKED", "--ctdir", "REPLY"], capsys)
    assert code == 2 and "a UNTRACKED packet has no reply direction" in err


def test_an_icmp_packet_of_the_other_family_is_refused() -> None:
    """The kernel counts an ICMPv6 echo in IPv4 (protocol 58) and an ICMP one in IPv6 INVALID, finding no ICMP of
    its family in them (reviewer r4): no packet here is either."""
    with pytest.raises(ValueError, match="icmpv6 is IPv6's ICMP, and the addresses are IPv4; expected --proto icmp"):
        Packet.of("icmpv6", "10.0.0.1", "10.1.0.2")
    with pytest.raises(ValueError, match="icmp is IPv4's ICMP, and the addresses are IPv6; expected --proto icmpv6"):
        Packet.of("icmp", "fd00::1", "fd00::2", icmp=(8, 0))


@pytest.mark.parametrize("proto", [["--dport", "80"], ["--proto", "udp", "--dport", "53"], ["--proto", "icmp"],
                                   ["--proto", "icmpv6"]])
def test_addresses_of_two_families_are_refused_alike_for_every_protocol(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], proto: list[str]) -> None:
    """Before anything of the protocol is read: --proto icmp said it at --icmp-type/--ctstate/--ctdir, with exit 2
    and no expected clause, where tcp said --src/--dst with one and exit 1."""
    dump = tmp_path / "icmp.rules"
    dump.write_text(RULES)
    code, _, err = _cli(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "fd00::2", *proto], capsys)
    assert (code, err) == (1, "kubeproxy-sim: --src/--dst: source 10.0.0.1 and destination fd00::2 are of different "
                              "IP families; expected addresses of one family\n")


def test_a_trace_reads_no_icmp_name_table_for_rules_without_a_type(tmp_path: Path) -> None:
    """The ICMP type names live in saveform, which costs ~20 ms to import: a trace whose rules test no type and need
    nothing else of saveform (no mark match, a dump) does not import it."""
    import subprocess
    import sys

    dump = tmp_path / "tcp.rules"
    dump.write_text("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    "-A FORWARD -p tcp -m tcp --dport 80 -j DROP\nCOMMIT\n")
    code = ("import sys; from kubeproxy_sim.cli.main import main; "
            f"main(['trace', '--rules', {str(dump)!r}, '--src', '10.0.0.1', '--dst', '10.1.0.2', '--dport', '80']); "
            "print('kubeproxy_sim.netfilter.saveform' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False"


def test_a_rule_of_a_one_type_range_is_traced_without_doubt() -> None:
    """``--icmp-type 3:3/1``, which both restores v1.8.9 take as 3/1 (m1's 5dbe2de): a packet 3/1 is dropped by
    it, 3/2 passes it, and no doubt is added (read_icmp_type said None for it, so the rule was assumed to match)."""
    rules = RULES.replace("--icmp-type 3/3 ", "--icmp-type 3:3/1 ")
    assert _ends(rules, _icmp(3, 1, CtState.RELATED)) == [("DROP", 5)]
    assert _ends(rules, _icmp(3, 2, CtState.RELATED)) == [("REJECT", 6)]
    result = trace(parse_ruleset(rules), _icmp(3, 2, CtState.RELATED), NodeContext.of())
    assert "assumed to match" not in render_text(result)
