"""The parser accepts and refuses what iptables-restore accepts and refuses, for the inputs of
:mod:`tests.netfilter.restore_cases` (each observed with iptables-legacy-restore and iptables-nft-restore v1.8.9;
``tests/kernel/test_restore_parity`` checks the same inputs against this machine's tools)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import InputError, RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile_tables import compile_ruleset
from kubeproxy_sim.netfilter.model import Chain, Ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from kubeproxy_sim.netfilter.services import SERVICES
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.budget import budget
from tests.netfilter.restore_cases import ALL_CASES, Case, filter_with


def saved_lines(text: str, ipv6: bool | None = None) -> list[str]:
    """Our ``rules --full`` of ``text``, each rule's ``[0:0]`` as iptables-save -c prints it for one without."""
    out = render_saved(save_lines(parse_ruleset(text, ipv6=ipv6))).splitlines()
    return [line if line[:1] != "-" else "[0:0] " + line for line in out]


def refusal(text: str, ipv6: bool | None = None) -> RulesSyntaxError:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="node.rules", ipv6=ipv6)
    return info.value


def check_case(case: Case) -> None:
    """A case of restore_cases or its siblings: refused at the line iptables names, else every line iptables-save
    printed back is among ours."""
    if case.line is not None:
        assert refusal(case.text, case.ipv6).line == case.line
        return
    ours = saved_lines(case.text, case.ipv6)
    assert [line for line in case.saved if line not in ours] == [], ours


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_the_parser_agrees_with_iptables_restore(case: Case) -> None:
    check_case(case)


def test_a_user_chain_declared_twice_is_refused_naming_both_lines() -> None:
    """iptables-legacy-restore v1.8.9: "error creating chain 'FOO':File exists", Error occurred at line: 7.
    (iptables-nft-restore v1.8.9 flushes FOO instead, keeping only -j DROP; this parser did that before.)"""
    err = refusal(filter_with(":FOO - [0:0]", "-A FOO -j ACCEPT", ":FOO - [0:0]", "-A FOO -j DROP"))
    assert str(err) == ("node.rules:7: chain FOO is declared twice in table filter (first at line 5) at ':FOO'; "
                        "expected each user-defined chain declared once (-F NAME empties it)")


def test_a_built_in_chain_declared_again_takes_the_new_policy_and_keeps_its_rules() -> None:
    """Both v1.8.9 restores: ``:INPUT ACCEPT [5:6]`` after ``:INPUT DROP`` and a rule leaves ACCEPT [5:6] and both
    rules."""
    text = filter_with(":INPUT DROP [0:0]", "-A INPUT -j ACCEPT", ":INPUT ACCEPT [5:6]", "-A INPUT -j DROP")
    chain = parse_ruleset(text).tables[0].chain("INPUT")
    assert chain is not None
    assert (chain.policy, chain.counters, [r.spec for r in chain.rules]) == (
        "ACCEPT", (5, 6), ["-j ACCEPT", "-j DROP"])


@pytest.mark.parametrize(("line", "message"), [
    ("[x:2] -A INPUT -j ACCEPT", "node.rules:5: bad counters at '[x:2]'; expected [packets:bytes], each a number"),
    ("[1:2 -A INPUT -j ACCEPT", "node.rules:5: counters without their closing ] at '[1:2 -A INPUT -j ACCEPT'; "
     "expected [packets:bytes] before the command"),
    ("[1:2] -A INPUT -c 3 4 -j ACCEPT", "node.rules:5: counters given twice at '-c'; expected [p:b] before the "
     "command or one -c PACKETS BYTES"),
    ("-A INPUT -j ACCEPT -c 3", "node.rules:5: bad counters at '-c 3'; expected -c PACKETS BYTES (or "
     "-c PACKETS,BYTES), each a number"),
    ("[1:2] -F INPUT", "node.rules:5: counters before a command that takes none at '-F'; expected [p:b] only before "
     "-A, -I, -R or -P"),
])
def test_a_bad_or_misplaced_counter_is_refused_naming_its_line(line: str, message: str) -> None:
    """iptables-legacy-restore v1.8.9 --counters refuses each at line 5 ("-c packet counter not numeric", "Bad
    line 5: need ]", "multiple -c flags not allowed", "-c requires packet and byte counter", "Illegal option `-c'
    with this command")."""
    assert str(refusal(filter_with(line))) == message


def test_a_udplite_match_is_refused_as_iptables_cannot_load_one() -> None:
    """iptables-legacy-restore and iptables-nft-restore v1.8.9: "Couldn't load match `udplite':No such file or
    directory", line 5 (the parser kept it and traced its --dport as a port)."""
    err = refusal(filter_with("-A INPUT -p udplite -m udplite --dport 80 -j ACCEPT"))
    assert str(err) == ("node.rules:5: iptables has no udplite match at 'udplite'; expected -p udplite alone, or "
                        "-m multiport for its ports")


@pytest.mark.parametrize(("options", "message"), [
    ("--set --rcheck", "node.rules:5: a recent match takes one command, not --set and --rcheck at '--rcheck'; "
     "expected one of --set, --rcheck, --update or --remove per -m recent"),
    ("--set --seconds 10", "node.rules:5: --seconds cannot go with --set at '--seconds'; expected --seconds only "
     "with --rcheck or --update"),
    ("--rcheck --seconds 0", "node.rules:5: --seconds 0 is not a valid value at '0'; expected a number "
     "1-4294967295 (0x.. hex, 0.. octal)"),
])
def test_recent_options_iptables_takes_only_apart_are_refused_naming_the_line(options: str, message: str) -> None:
    """iptables-legacy-restore v1.8.9: 'recent: option "--set" cannot be used together with "--rcheck".' (line 5),
    the kernel's EINVAL for --seconds with --set ("line 6 failed": COMMIT), 'bad value for option "--seconds"'
    (line 5); the parser took all three."""
    assert str(refusal(filter_with(f"-A INPUT -m recent {options} -j ACCEPT"))) == message


@pytest.mark.parametrize(("rule", "message"), [
    ("-A INPUT -j MARK", "node.rules:5: MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required "
     "at 'MARK'; expected one of --and-mark, --or-mark, --set-mark, --set-xmark, --xor-mark after -j MARK (or "
     "':MARK - [0:0]' before the rule, for a jump to a chain of that name)"),
    ("-A INPUT -j CONNMARK --mask 0x1", "node.rules:5: CONNMARK target: No operation specified at 'CONNMARK'; "
     "expected one of --and-mark, --or-mark, --restore-mark, --save-mark, --set-mark, --set-xmark, --xor-mark "
     "after -j CONNMARK"),
    ("-A INPUT -p tcp -j DNAT --random", "node.rules:5: DNAT: option \"--to-destination\" must be specified at "
     "'DNAT'; expected -j DNAT --to-destination ..."),
])
def test_a_target_extension_without_the_option_it_needs_is_refused_in_iptables_words(rule: str, message: str
                                                                                      ) -> None:
    """iptables-legacy-restore v1.8.9 (nft alike) refuses each at line 5 in these words (the parser took them
    before); the DNAT in filter would be refused by the kernel only later."""
    assert str(refusal(filter_with(rule))) == message


IPV6_FILTER = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s fd00::1/128{} -j REJECT --reject-with {}\nCOMMIT\n"


@pytest.mark.parametrize(("value", "saved"), [
    ("TCP", "tcp-reset"), ("icmp", "icmp6-no-route"), ('""', "icmp6-no-route"),
    ("icmp6-port", "icmp6-port-unreachable"), ("p", "icmp6-port-unreachable"), ("a", "icmp6-adm-prohibited"),
    ("no", "icmp6-no-route"),
    ("r", "icmp6-reject-route"), ("policy-fail", "icmp6-policy-fail"),
])
def test_an_ipv6_reject_type_is_read_in_ip6tables_table(value: str, saved: str) -> None:
    """ip6tables-legacy-restore v1.8.9 (nft alike) saves each so: libip6t_REJECT's own table and order."""
    proto = " -p tcp" if saved == "tcp-reset" else ""
    out = saved_lines(IPV6_FILTER.format(proto, value))
    assert f"[0:0] -A INPUT -s fd00::1/128{proto} -j REJECT --reject-with {saved}" in out


@pytest.mark.parametrize(("value", "line", "message"), [
    ("icmp-port-unreachable", 3, 'unknown reject type "icmp-port-unreachable"'),  # (an IPv4 name: refused)
    ("bogus", 3, 'unknown reject type "bogus"'),
    ("t", 3, "--reject-with tcp-reset needs a TCP packet"),  # (the kernel's, at COMMIT)
])
def test_an_ipv6_reject_type_ip6tables_refuses_is_refused(value: str, line: int, message: str) -> None:
    with pytest.raises(RulesSyntaxError, match=message) as info:
        parse_ruleset(IPV6_FILTER.format("", value), ipv6=True)
    assert info.value.line == line


def test_an_unknown_reject_type_is_refused_naming_the_family_s_types() -> None:
    """iptables-legacy-restore v1.8.9's words, and what it takes instead."""
    assert str(refusal(filter_with("-A INPUT -j REJECT --reject-with bogus"))) == (
        'node.rules:5: unknown reject type "bogus" at \'bogus\'; expected one of icmp-net-unreachable, '
        "icmp-host-unreachable, icmp-proto-unreachable, icmp-port-unreachable, icmp-net-prohibited, "
        "icmp-host-prohibited, tcp-reset, icmp-admin-prohibited, an alias (such as port-unreach) or the start of "
        "one, in any case")


def test_a_reject_type_is_checked_in_rules_of_one_shape() -> None:
    """The shape of the first rule vouches for the second's skeleton, not for its REJECT type."""
    text = filter_with(*(f"-A INPUT -s 10.0.0.{i}/32 -j REJECT --reject-with icmp-port-unreachable" for i in range(3)),
                       "-A INPUT -s 10.0.0.9/32 -j REJECT --reject-with bogus")
    assert refusal(text).line == 8


@pytest.mark.parametrize(("rule", "message"), [
    ("-A INPUT -j MARK --or-mark 1 --set-mark 2", 'node.rules:5: MARK: option "--set-mark" cannot be used together '
     "with \"--or-mark\" at '--or-mark'; expected --set-mark without --or-mark"),
    ("-A INPUT -j CONNMARK --mask 1 --save-mark --ctmask 2", 'node.rules:5: CONNMARK: option "--ctmask" cannot be '
     "used together with \"--mask\" at '--mask'; expected --ctmask without --mask"),
    ("-A INPUT -j MARK --set-mark 1 --set-mark 2", 'node.rules:5: MARK: option "--set-mark" can only be used once '
     "at '--set-mark'; expected --set-mark once after -j MARK"),
])
def test_target_options_iptables_refuses_together_are_refused_in_its_words(rule: str, message: str) -> None:
    """iptables-legacy-restore v1.8.9 (nft alike) refuses each at line 5 in these words (its final period left
    out); the parser took them."""
    assert str(refusal(filter_with(rule))) == message


def test_the_shape_of_an_optioned_target_vouches_for_no_option_given_twice() -> None:
    """A target not modelled takes its options as given; rules of the same shape naming LOG are judged apart."""
    rules = [f"-A INPUT -s 10.0.0.{i}/32 -j ULOG --log-prefix a --log-prefix b" for i in range(3)]
    assert refusal(filter_with(*rules, "-A INPUT -s 10.0.0.9/32 -j LOG --log-prefix a --log-prefix b")).line == 8


def test_a_rename_does_not_make_a_jump_before_it_good() -> None:
    """iptables-legacy-restore v1.8.9: "Couldn't load target `BAR'" at line 6 and "Couldn't load target `FOO'" at
    line 5 (it loads a rule's target at its line); the parser, checking jumps only at COMMIT, took the first (BAR
    existed then, declared at line 5 as FOO) and named the second's target by its new name, BAR."""
    assert str(refusal(filter_with(":FOO - [0:0]", "-A INPUT -j BAR", "-E FOO BAR"))) == (
        "node.rules:6: target BAR is neither a chain declared before this rule nor a target at 'BAR'; expected "
        "':BAR - [0:0]' before the rule, or a target such as ACCEPT, DROP or DNAT")
    err = refusal(filter_with("-A INPUT -j FOO", ":FOO - [0:0]", "-E FOO BAR"))
    assert (err.line, err.token) == (5, "FOO")


def test_a_chain_a_rule_jumps_to_is_not_deleted_and_no_rule_jumps_to_a_deleted_one() -> None:
    """iptables-legacy-restore v1.8.9: "line 7 failed" (libiptc's EMLINK) and "Couldn't load target `FOO'" at line 7;
    iptables-nft-restore: "CHAIN_DEL failed (Device or resource busy)". The parser took both and kept the jump."""
    assert str(refusal(filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-X FOO"))) == (
        "node.rules:7: chain FOO is still the target of a rule of INPUT (line 6), so -X cannot delete it at 'FOO'; "
        "expected -F INPUT (or -D that rule) before -X FOO")
    assert str(refusal(filter_with(":FOO - [0:0]", "-X FOO", "-A INPUT -g FOO"))) == (
        "node.rules:7: chain FOO was deleted (-X at line 6) in table filter at 'FOO'; expected ':FOO - [0:0]' "
        "(or -N FOO) again before a rule jumps to it")


def test_kube_proxy_s_minus_x_lines_count_the_jumps_once() -> None:
    """kube-proxy writes its stale chains' -X lines one after another: the jumps of the table are counted at the
    first and kept (a rule between them counts again), each -X still judged against the rules of its time."""
    chains = [f"KUBE-SEP-{i}" for i in range(3)]
    text = filter_with(*[f":{c} - [0:0]" for c in chains], "-X KUBE-SEP-0", "-X KUBE-SEP-1",
                       "-A INPUT -j KUBE-SEP-2", "-X KUBE-SEP-2")
    assert refusal(text).line == 11
    table = parse_ruleset(text.replace("-X KUBE-SEP-2\n", "")).tables[0]
    assert table.deleted == ("KUBE-SEP-0", "KUBE-SEP-1")


def test_a_counter_like_value_is_no_counter_to_the_target_check() -> None:
    """A comment ``[1:2]`` was dropped as if it were the line's counters, and the rule read without it went wrong
    (an error without a line). iptables-legacy-restore v1.8.9 refuses the DNAT in filter at COMMIT."""
    err = refusal(filter_with("-A INPUT -m comment --comment [1:2] -j DNAT --to-destination 10.0.0.1"))
    assert (err.line, err.token) == (5, "DNAT")


def test_an_option_after_a_jump_to_a_chain_is_refused_as_unknown() -> None:
    """iptables-legacy-restore and iptables-nft-restore v1.8.9: 'unknown option "--foo"', Error occurred at line: 6
    (the parser took --foo for an option of FOO)."""
    err = refusal(filter_with(":FOO - [0:0]", "-A INPUT -j FOO --foo"))
    assert str(err) == ("node.rules:6: unknown option: -j FOO takes none (a chain or a verdict) at '--foo'; expected "
                        "an option of a loaded match (-m MODULE); only target extensions such as DNAT have options")


def test_the_shape_of_an_optioned_target_vouches_only_for_target_extensions() -> None:
    """A rule of the shape of ``-j DNAT --to-destination X``, learnt from two such rules, is still read one by one
    when its target is a chain: the shape does not take it for valid."""
    dnat = "-A X -j DNAT --to-destination 10.0.0.{}"
    text = "*nat\n:X - [0:0]\n:FOO - [0:0]\n" + "\n".join(dnat.format(i) for i in (1, 2, 3)) + \
        "\n-A X -j FOO --to-destination 10.0.0.4\nCOMMIT\n"
    assert refusal(text).line == 7


def test_a_protocol_s_option_after_an_extension_target_is_the_protocol_match_s() -> None:
    """iptables-legacy-restore v1.8.9 saves ``-p tcp -j REJECT --reject-with tcp-reset --dport 80`` as ``-p tcp -m tcp
    --dport 80 -j REJECT ...``: a trace of port 81 skips the rule (the parser gave --dport to REJECT, which then
    took every port)."""
    text = filter_with("-A INPUT -p tcp -j REJECT --reject-with tcp-reset --dport 80")
    tracer = Tracer(parse_ruleset(text), NodeContext.of(["10.0.0.2"]))
    verdicts = [tracer.trace(Packet.of("tcp", "10.0.0.1", "10.0.0.2", port, 40000)).outcomes[0].verdict
                for port in (80, 81)]
    assert verdicts == ["REJECT", "ACCEPT"]


def test_an_option_both_know_goes_to_the_one_loaded_last_rule_by_rule() -> None:
    """Two rules of one shape whose target decides the owner: iptables-legacy-restore v1.8.9 gives ``--mask`` to
    CONNMARK after ``-m recent`` (``--nfmask 0x1 --ctmask 0x1``), but to recent after MARK, which lacks it."""
    rule = "-A INPUT -m recent --name x --set -j {} --set-mark 1 --mask 0x1"
    chain = parse_ruleset(filter_with(rule.format("CONNMARK"), rule.format("MARK"))).tables[0].chain("INPUT")
    assert chain is not None
    owners = [[(o.flag, o.module) for o in r.parsed.options if o.flag == "--mask"] or
              [(o.flag, r.parsed.target.name) for o in r.parsed.target.options if o.flag == "--mask"]
              for r in chain.rules if r.parsed.target is not None]
    assert owners == [[("--mask", "CONNMARK")], [("--mask", "recent")]]


def test_a_service_name_iptables_cannot_find_is_refused_naming_the_names_it_takes() -> None:
    """iptables-legacy-restore v1.8.9: "invalid port/service `bootps' specified" (bootps is udp's only), line 5."""
    err = refusal(filter_with("-A INPUT -p tcp --dport bootps -j ACCEPT"))
    assert str(err) == ("node.rules:5: --dport bootps is not a valid port value at 'bootps'; expected a port number "
                        "0-65535, a service name (tcp's, such as http) or an ascending range such as 1024:65535")


def test_a_port_by_name_is_kept_as_written_and_read_as_its_number() -> None:
    """The rule's text keeps the name (``rules`` prints what it read); its typed view, the save form and a trace
    use the number, as the kernel holds it (iptables-save v1.8.9 prints ``--dport 80``)."""
    text = filter_with("-A INPUT -p tcp --dport http -j DROP")
    rule = parse_ruleset(text).tables[0].chains[0].rules[0]
    assert rule.spec == "-p tcp --dport http -j DROP"
    assert rule.parsed.module_options("tcp")[0].args == ("80",)
    assert "[0:0] -A INPUT -p tcp -m tcp --dport 80 -j DROP" in saved_lines(text)
    tracer = Tracer(parse_ruleset(text), NodeContext.of(["10.0.0.2"]))
    verdicts = [tracer.trace(Packet.of("tcp", "10.0.0.1", "10.0.0.2", port, 40000)).outcomes[0].verdict
                for port in (80, 81)]
    assert verdicts == ["DROP", "ACCEPT"]


def test_a_nat_port_by_name_is_read_as_its_number() -> None:
    """iptables-legacy-restore and ip6tables-legacy-restore v1.8.9 save ``--to-destination 10.0.0.1:http`` (and
    ``[fd00::1]:http``) as ``:80``; a trace sends the packet there (the parser refused the name)."""
    nat = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination {}\nCOMMIT\n"
    tracer = Tracer(parse_ruleset(nat.format("10.0.0.1:http")), NodeContext.of(["10.0.0.2"]))
    outcome = tracer.trace(Packet.of("tcp", "10.0.0.9", "10.0.0.2", 81, 40000)).outcomes[0]
    assert (outcome.verdict, outcome.destination) == ("DNAT", "10.0.0.1:80")
    assert "-A PREROUTING -p tcp -j DNAT --to-destination [fd00::1]:80" in render_saved(
        save_lines(parse_ruleset(nat.format("[fd00::1]:http")))).splitlines()


def test_a_nat_port_0_is_taken_and_traced_there() -> None:
    """iptables-legacy-restore and iptables-nft-restore v1.8.9 (ip6tables-* too) load ``--to-destination
    10.0.0.1:0`` and save it so; the kernel maps the port into [0, 0]. The parser refused it."""
    nat = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination {}\nCOMMIT\n"
    tracer = Tracer(parse_ruleset(nat.format("10.0.0.1:0")), NodeContext.of(["10.0.0.2"]))
    outcome = tracer.trace(Packet.of("tcp", "10.0.0.9", "10.0.0.2", 81, 40000)).outcomes[0]
    assert (outcome.verdict, outcome.destination) == ("DNAT", "10.0.0.1:0")
    assert "-A PREROUTING -p tcp -j DNAT --to-destination [fd00::1]:0-80" in render_saved(
        save_lines(parse_ruleset(nat.format("[fd00::1]:0-80")))).splitlines()


@settings(max_examples=budget(100), deadline=None)
@given(st.sampled_from(sorted(SERVICES["tcp"].items())))
def test_every_tcp_service_name_reads_as_its_port(item: tuple[str, int]) -> None:
    name, port = item
    spec = syntax.parse_spec(f"-p tcp -m multiport --dports {name},1 -j ACCEPT")
    assert spec.module_options("multiport")[0].args == (f"{port},1",)


@pytest.mark.parametrize(("lines", "message"), [
    (["-A INPUT -j KUBE-NOPE"], "node.rules:5: target KUBE-NOPE is neither a chain declared before this rule nor a "
     "target at 'KUBE-NOPE'; expected ':KUBE-NOPE - [0:0]' before the rule, or a target such as ACCEPT, DROP or DNAT"),
    (["-A INPUT -j FOO", ":FOO - [0:0]"], "node.rules:5: target FOO is neither a chain declared before this rule nor "
     "a target (it is declared at line 6, after this rule) at 'FOO'; expected ':FOO - [0:0]' before the rule, or a "
     "target such as ACCEPT, DROP or DNAT"),
    (["-A INPUT -g KUBE-NOPE"], "node.rules:5: -g KUBE-NOPE: no user-defined chain KUBE-NOPE is declared before "
     "this rule at 'KUBE-NOPE'; expected ':KUBE-NOPE - [0:0]' before the rule (a goto goes only to a user-defined "
     "chain)"),
    (["-N LOG"], "node.rules:5: chain name LOG is a target extension's name at 'LOG'; expected a name such as "
     "KUBE-SERVICES (':LOG - [0:0]' may take it)"),
    ([":LOG - [0:0]", "-A INPUT -j LOG --log-prefix x"], "node.rules:6: -j LOG is a jump to chain LOG (declared at "
     "line 5, which shadows the target extension), and a chain takes no options at 'LOG'; expected -j LOG alone, or "
     "another name for the chain"),
    (["-A INPUT -m comment --comment 'a b' -j ACCEPT"], "node.rules:5: --comment takes one value: single quotes are "
     "characters to iptables-restore, not quoting at \"'a b'\"; expected the value in double quotes (\"a b\")"),
])
def test_a_jump_or_name_iptables_refuses_is_refused_saying_why(lines: list[str], message: str) -> None:
    """iptables-legacy-restore v1.8.9: "Couldn't load target `KUBE-NOPE'" (also when its chain comes later), "chain
    name may not clash with target name", 'unknown option "--log-prefix"', "Bad argument `b''"."""
    assert str(refusal(filter_with(*lines))) == message


def test_a_circle_the_built_in_chains_reach_is_refused_as_the_dump_is_read() -> None:
    """iptables-legacy-restore v1.8.9: "line 10 failed" (the COMMIT: the kernel's loop check); iptables-nft-restore:
    "line 9: RULE_APPEND failed (Too many links)". The parser took the table, refused only when compiled."""
    text = filter_with(":FOO - [0:0]", ":BAR - [0:0]", "-A INPUT -j FOO", "-A FOO -j BAR", "-A BAR -j FOO")
    assert str(refusal(text)) == ("node.rules:9: the filter table's chains jump in a circle: FOO -> BAR -> FOO; the "
                                  "kernel refuses to load such rules (iptables-restore: RULE_APPEND failed (Too many "
                                  "links))")


@pytest.mark.parametrize("last", ["-A INPUT -j ACCEPT", "-I INPUT 2 -j ACCEPT"])
def test_a_circle_closed_by_rules_of_a_known_shape_is_refused_alike(last: str) -> None:
    """The parser notes each chain's targets as it reads (a shape's match: its -j word, or the shape's own for
    line 13), and the loop check takes those; after an -I it reads the rules again: one message either way."""
    text = filter_with(":C0 - [0:0]", ":C1 - [0:0]", ":C2 - [0:0]", ":C3 - [0:0]", "-A INPUT -j C0",
                       *(f"-A C{i} -p tcp -m tcp --dport 80 -j C{j}" for i, j in [(0, 1), (1, 2), (2, 3), (3, 2)]),
                       last)
    assert str(refusal(text)) == ("node.rules:13: the filter table's chains jump in a circle: C2 -> C3 -> C2; the "
                                  "kernel refuses to load such rules (iptables-restore: RULE_APPEND failed (Too many "
                                  "links))")


def test_a_table_the_validating_parse_checked_for_circles_says_so() -> None:
    """So that a lazy compile of it (trace --rules) does not walk its jumps again; the bulk parse checks nothing."""
    text = filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j ACCEPT")
    checked = parse_ruleset(text).tables[0]
    assert checked.circles_checked
    assert not parse_ruleset(text, validate=False).tables[0].circles_checked
    assert parse_ruleset(text) == parse_ruleset(text, validate=False)
    assert not dataclasses.replace(checked).circles_checked  # (a table made from it is its maker's to check)


def test_a_table_made_from_a_checked_one_is_checked_for_circles_when_compiled() -> None:
    """dataclasses.replace of a parsed table (here adding a circle) does not carry the parser's word."""
    table = parse_ruleset(filter_with(":FOO - [0:0]", "-A INPUT -j FOO", "-A FOO -j ACCEPT")).tables[0]
    circled = dataclasses.replace(table, chains=tuple(
        Chain.of_specs(c.name, ["-j FOO"], [8]) if c.name == "FOO" else c for c in table.chains))
    with pytest.raises(InputError, match="jump in a circle: FOO -> FOO"):
        compile_ruleset(Ruleset((circled,)))


IPV6_INPUT = "*filter\n:INPUT ACCEPT [0:0]\n{}COMMIT\n"


@pytest.mark.parametrize(("rules", "message"), [
    (["-A INPUT -m mh --mh-type 1 -j ACCEPT"], "node.rules:3: -m mh matches only mobility-header packets, which the "
     "rule does not ask for at 'mh'; expected -p mh (or ipv6-mh, mobility-header, 135) in the rule (not negated)"),
    (["-A INPUT -p mh -m mh --mh-type bogus -j ACCEPT"], "node.rules:3: Invalid MH type `bogus' at 'bogus'; expected "
     "a type 0-255 or its name (such as binding-update, or bu), or a range such as 1:5, the lower first"),
    (["-A INPUT -m ipv6header --header frag,tcp -j ACCEPT"], "node.rules:3: unknown header `6' specified at "
     "'frag,tcp'; expected comma-separated headers: hop, dst, route, frag, auth, esp, none, prot, their protocol "
     "names (such as ipv6-frag) or numbers (0, 60, 43, 44, 51, 50, 59, 255)"),
    (["-A INPUT -m ipv6header -j ACCEPT"], "node.rules:3: ipv6header: option \"--header\" must be specified at "
     "'ipv6header'; expected -m ipv6header --header TYPE"),
    # (rules of one shape vouch for no other: the last is read, and refused, on its own)
    ([*(f"-A INPUT -s fd00::{i} -p mh -m mh --mh-type {i} -j ACCEPT" for i in range(1, 4)),
      "-A INPUT -s fd00::9 -p tcp -m mh --mh-type 9 -j ACCEPT"], "node.rules:6: -m mh matches only mobility-header "
     "packets, which the rule does not ask for at 'mh'; expected -p mh (or ipv6-mh, mobility-header, 135) in the "
     "rule (not negated)"),
])
def test_ipv6_s_mh_and_ipv6header_are_read_as_ip6tables_reads_them(rules: list[str], message: str) -> None:
    """ip6tables-legacy-restore v1.8.9 (unshare --net): "line 4 failed" at the COMMIT for -m mh without -p mh (the
    kernel's mh_mt6_check; nft: RULE_APPEND failed (Invalid argument) at the rule), 'Invalid MH type `bogus'',
    "unknown header `6' specified" (tcp is protocol 6, no extension header), 'ipv6header: option "--header" must
    be specified' at the rule (nft alike). The parser took every one."""
    text = IPV6_INPUT.format("".join(rule + "\n" for rule in rules))
    assert str(refusal(text, ipv6=True)) == message


def test_mh_in_ipv4_is_refused_as_a_match_ipv4_cannot_load() -> None:
    """iptables-legacy-restore v1.8.9: "Couldn't load match `mh'", whatever its protocol."""
    err = refusal(IPV6_INPUT.format("-A INPUT -m mh -j ACCEPT\n"), ipv6=False)
    assert (err.line, err.token) == (3, "mh")
    assert "an extension of the IPv4 family" in str(err)


def test_mh_types_are_saved_and_read_as_numbers() -> None:
    """ip6tables-save v1.8.9 prints ``--mh-type binding-update`` as 5 and ``hoti:coti`` as 1:2 (libip6t_mh's
    mh_save); the rule's text keeps what was written."""
    rules = "-A INPUT -p mh -m mh --mh-type binding-update -j ACCEPT\n-A INPUT -p mh --mh-type hoti:coti -j DROP\n"
    ruleset = parse_ruleset(IPV6_INPUT.format(rules), ipv6=True)
    assert [r.spec for r in ruleset.tables[0].rules()] == ["-p mh -m mh --mh-type binding-update -j ACCEPT",
                                                            "-p mh --mh-type hoti:coti -j DROP"]
    assert [line for line in saved_lines(IPV6_INPUT.format(rules), ipv6=True) if line[:1] == "["] == [
        "[0:0] -A INPUT -p mobility-header -m mh --mh-type 5 -j ACCEPT",
        "[0:0] -A INPUT -p mobility-header -m mh --mh-type 1:2 -j DROP"]
    assert syntax.mh_type_range("B") == (0, 0) and syntax.mh_type_range("be:") == (7, 255)


@pytest.mark.parametrize(("rule", "message"), [
    ("-A INPUT -o eth0 -j ACCEPT", "node.rules:5: Can't use -o with INPUT at '-o'; expected -o only in FORWARD, "
     "OUTPUT, POSTROUTING or a user-defined chain (-i here)"),
    ("-A OUTPUT --in-interface eth0 -j ACCEPT", "node.rules:5: Can't use -i with OUTPUT at '-i'; expected -i only in "
     "PREROUTING, INPUT, FORWARD or a user-defined chain (-o here)"),
    ("-A FORWARD -i abcdefghijklmnop -j ACCEPT", "node.rules:5: interface name `abcdefghijklmnop' must be shorter than "
     "IFNAMSIZ (15) at 'abcdefghijklmnop'; expected an interface name of at most 15 bytes"),
    ("-A FORWARD -i ééééééééé -j ACCEPT", "node.rules:5: interface name `ééééééééé' must be shorter than IFNAMSIZ (15) "
     "at 'ééééééééé'; expected an interface name of at most 15 bytes"),  # (bytes: 9 characters of UTF-8)
    ("-A INPUT -m multiport --dports 80 -p tcp -j ACCEPT", "node.rules:5: multiport needs `-p tcp', `-p udp', "
     "`-p udplite', `-p sctp' or `-p dccp' before its ports at '--dports'; expected -p tcp, udp, udplite, sctp or "
     "dccp (not negated) before --dports"),
    ("-A INPUT -p all -m multiport --dports 80 -j ACCEPT", "node.rules:5: multiport needs `-p tcp', `-p udp', "
     "`-p udplite', `-p sctp' or `-p dccp' before its ports at '--dports'; expected -p tcp, udp, udplite, sctp or "
     "dccp (not negated) before --dports"),
    *((f"-A INPUT {p} -m multiport --dports 80 -j ACCEPT", "node.rules:5: multiport only works with TCP, UDP, "
       "UDPLITE, SCTP and DCCP at '--dports'; expected -p tcp, udp, udplite, sctp or dccp (not negated)"
       " before --dports")
      for p in ("! -p tcp", "-p icmp")),
    *((f"-A INPUT {p} -m multiport -j ACCEPT", "node.rules:5: -m multiport without ports (iptables: \"multiport "
       "expection an option\") at 'multiport'; expected --sports, --dports or --ports after -m multiport")
      for p in ("-p tcp", "! -p tcp")),
])
def test_interfaces_and_multiport_s_protocol_are_refused_in_iptables_words(rule: str, message: str) -> None:
    """iptables-legacy-restore and iptables-nft-restore v1.8.9 refuse each at line 5 ("Can't use -o with INPUT",
    "interface name `...' must be shorter than IFNAMSIZ (15)", "multiport needs `-p tcp', ..." for no protocol or
    all, "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP" for a negated one or one without ports,
    "multiport expection an option" without ports); the parser took the first three and the last."""
    assert str(refusal(filter_with(rule))) == message
