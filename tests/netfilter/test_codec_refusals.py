"""Input iptables-restore refuses is refused here too, in one line naming the file, the line, the token and
what is expected; and a refusal says what the input most likely is.

Regressions from a QA pass on real dumps (s12, #9 and #13), each checked against iptables-restore and the
kernel by the QA.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset

NAT_V4 = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
          "-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.5:6443\nCOMMIT\n")
NAT_V6 = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
          "-A PREROUTING -d fd00::1/128 -p tcp -m tcp --dport 443 -j DNAT --to-destination [fd00::5]:6443\nCOMMIT\n")


def refusal(text: str) -> RulesSyntaxError:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="node.rules")
    return info.value


def test_an_ip6tables_save_after_an_iptables_save_is_named() -> None:
    err = refusal(NAT_V4 + NAT_V6)
    assert err.line == 8 and err.token == "*nat"
    assert str(err) == (
        "node.rules:8: table 'nat' appears twice (first at line 1); from here on the addresses are IPv6, as if an "
        "ip6tables-save followed an iptables-save at '*nat'; expected each family in a file of its own: "
        "iptables-save's and ip6tables-save's output saved apart")


def test_a_table_twice_in_one_family_is_the_second_one() -> None:
    """iptables-legacy-restore v1.8.9 starts a table met again afresh from its built-in chains' policies (see
    restore_cases' TABLES_TWICE); this parser refused it."""
    for text in (NAT_V4, NAT_V6):
        tables = parse_ruleset(text + text.replace("--dport 443", "--dport 80")).tables
        chain = tables[0].chain("PREROUTING")
        assert chain is not None
        assert [t.name for t in tables] == ["nat"] and [r.line for r in chain.rules] == [13]


FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{}\nCOMMIT\n"
NAT = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" \
      ":X - [0:0]\n{}\nCOMMIT\n"


def in_filter(rule: str) -> str:
    return FILTER.format(rule)


def in_nat(rule: str) -> str:
    return NAT.format(rule)


@pytest.mark.parametrize(("text", "line", "message", "token", "expected"), [
    (in_filter("-A FORWARD -j DNAT --to-destination 10.1.1.1"), 5, "target DNAT is valid only in table nat, not "
     "filter", "DNAT", "DNAT in table nat (PREROUTING, OUTPUT or a chain they jump to)"),
    (in_nat("-A PREROUTING -j REJECT"), 7, "target REJECT is valid only in table filter, not nat", "REJECT",
     "REJECT in table filter (INPUT, FORWARD, OUTPUT or a chain they jump to)"),
    (in_nat("-A POSTROUTING -p tcp -j DNAT --to-destination 10.1.1.1:80"), 7,
     "target DNAT cannot be used in chain POSTROUTING", "POSTROUTING", "DNAT in PREROUTING or OUTPUT (or a chain "
     "they jump to)"),
    (in_filter("-A FORWARD -j REJECT --reject-with tcp-reset"), 5, "--reject-with tcp-reset needs a TCP packet",
     "tcp-reset", "-p tcp in the rule"),
    (in_filter("-A FORWARD ! -p tcp -j REJECT --reject-with tcp-reset"), 5, "needs a TCP packet", "tcp-reset",
     "-p tcp in the rule"),
    (in_nat("-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:99999"), 7,
     "--to-destination 1.2.3.4:99999 is not a valid port value", "1.2.3.4:99999",
     "ADDRESS[:PORT[-PORT]] with ports 0-65535 (the first may be a service name, such as http), the lower first"),
    (in_filter("-A FORWARD -p tcp -m tcp --dport -j ACCEPT"), 5, "--dport needs one value", "-j",
     "one value after --dport"),
    (in_filter("-A FORWARD -p tcp -m tcp --dport 80 ACCEPT"), 5, "--dport takes one value", "80 ACCEPT",
     "one value, then an option (-j ACCEPT?)"),
    (in_filter("-A FORWARD -p tcp -m tcp --dport abc -j ACCEPT"), 5, "--dport abc is not a valid port value", "abc",
     "a port number 0-65535, a service name (tcp's, such as http) or an ascending range such as 1024:65535"),
    (in_filter("-A FORWARD -p tcp --dport 90:80 -j ACCEPT"), 5, "--dport 90:80 is not a valid port value", "90:80",
     "a port number 0-65535, a service name (tcp's, such as http) or an ascending range such as 1024:65535"),
    (in_filter("-A FORWARD -p udp -m multiport --dports " + ",".join(map(str, range(16))) + " -j ACCEPT"), 5,
     "is not a valid port value", None, "up to 15 port numbers"),
    (in_filter("-A FORWARD -m set --match-set KUBE-X -j ACCEPT"), 5, "--match-set needs 2 values", "-j",
     "2 values after --match-set"),
])
def test_what_iptables_restore_refuses_is_refused_in_one_line(text: str, line: int, message: str, token: str | None,
                                                              expected: str) -> None:
    err = refusal(text)
    assert (err.line, err.token) == (line, token or err.token)
    assert message in str(err) and expected in (err.expected or "")
    assert str(err).startswith(f"node.rules:{line}: ") and "\n" not in str(err)
    assert "invalid literal" not in str(err)


def test_a_bad_port_is_refused_after_good_ones_of_the_same_shape() -> None:
    """The rules of a shape met before are checked by the shape alone: its port values must be valid too."""
    rules = "\n".join(f"-A FORWARD -p tcp -m tcp --dport {port} -j ACCEPT" for port in (80, 81, 82, 83, 99999))
    assert refusal(in_filter(rules)).line == 9  # the fifth rule
    nat = "\n".join(f"-A X -p tcp -m tcp -j DNAT --to-destination 10.0.0.{i}:{port}"
                    for i, port in enumerate((80, 81, 82, 65536)))
    assert refusal(in_nat(nat)).token == "10.0.0.3:65536"


@pytest.mark.parametrize("rule", [
    "-A X -p tcp -j DNAT --to-destination 10.1.1.1:80", "-A X -j DNAT --to-destination 10.1.1.1",
    "-A X -p udp -m udp -j DNAT --to-destination 10.1.1.1:53-54", "-A POSTROUTING -j MASQUERADE",
    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-2047 --random-fully", "-A INPUT -j SNAT --to-source 1.2.3.4",
    "-A OUTPUT -p tcp -j REDIRECT --to-ports 15001", '-A X -m comment --comment "-j REJECT here" -j RETURN',
    "-A X -p tcp -m multiport --dports 80,443,1000:2000 -j RETURN",
])
def test_what_the_kernel_takes_is_read(rule: str) -> None:
    assert parse_ruleset(in_nat(rule)).tables[0].chains


@pytest.mark.parametrize("rule", [
    "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset", "-A INPUT -j REJECT --reject-with icmp-port-unreachable",
    "-A FORWARD -p tcp -m tcp --dport 1024: -j ACCEPT", "-A FORWARD -p tcp -m tcp ! --sport :1023 -j DROP",
    '-A FORWARD -m comment --comment "x -j DNAT" -j ACCEPT',
])
def test_what_the_kernel_takes_in_filter_is_read(rule: str) -> None:
    assert parse_ruleset(in_filter(rule)).tables[0].chains


@pytest.mark.parametrize(("rule", "token"), [
    ("-A X -j DNAT --to-destination 10.1.1.1:80", "10.1.1.1:80"),
    ("-A X -p all -j DNAT --to-destination 10.1.1.1-10.1.1.3:80-82", "10.1.1.1-10.1.1.3:80-82"),
    ("-A X -d 10.96.0.1/32 -j DNAT --to-destination :8080", ":8080"),
    ("-A PREROUTING -j REDIRECT --to-ports 8080", "8080"),
    ("-A POSTROUTING -j SNAT --to-source 192.168.0.2:1024-2048", "192.168.0.2:1024-2048"),
    ("-A POSTROUTING -j MASQUERADE --to-ports 1024-2048", "1024-2048"),
])
def test_a_nat_port_without_a_protocol_with_ports_is_refused(rule: str, token: str) -> None:
    """iptables: "Need TCP, UDP, SCTP or DCCP with port specification" (a port in a rule of every protocol); it
    was read as written (QA-dumps #9). A dump of many such rules takes the skeleton path: refused the same."""
    for text in (in_nat(rule), in_nat("\n".join([rule] * 40))):
        err = refusal(text)
        assert (err.line, err.token) == (7, token)
        assert str(err).endswith("names a port, which iptables takes only in a rule of a protocol with ports at "
                                 f"'{token}'; expected -p tcp, udp, sctp or dccp in the rule")


@pytest.mark.parametrize("rule", [
    "-A X -p udp -j DNAT --to-destination 10.1.1.1:80", "-A X -p 132 -j DNAT --to-destination 10.1.1.1:80",
    "-A X -p icmp -j DNAT --to-destination 10.1.1.1:80",  # iptables lets ICMP name one too (its id)
    "-A X -j DNAT --to-destination 10.1.1.1", "-A X -j DNAT --to-destination 10.1.1.1-10.1.1.3",
    "-A PREROUTING -p dccp -j REDIRECT --to-ports 8080", "-A POSTROUTING -j MASQUERADE --random-fully",
])
def test_a_nat_target_without_a_port_or_in_a_rule_with_ports_is_read(rule: str) -> None:
    for text in (in_nat(rule), in_nat("\n".join([rule] * 40))):
        parse_ruleset(text)


def test_a_bare_ipv6_nat_address_names_no_port() -> None:
    text = NAT_V6.replace("-p tcp -m tcp --dport 443 -j DNAT --to-destination [fd00::5]:6443",
                          "-j DNAT --to-destination fd00::5")
    parse_ruleset(text)
    assert refusal(text.replace("fd00::5", "[fd00::5]:6443")).token == "[fd00::5]:6443"


def test_a_quoted_dash_c_is_a_value_not_counters_when_a_target_is_placed() -> None:
    # "-c" in a comment is no -c PACKETS BYTES: the DNAT after it is still seen, and refused in filter
    err = refusal(in_filter('-A INPUT -m comment --comment "-c" -j DNAT --to-destination 10.0.0.5'))
    assert err.line == 5 and err.token == "DNAT"
    assert "valid only in table nat" in str(err)
    nat = NAT.format('-A PREROUTING -m comment --comment "-c" -j DNAT --to-destination 10.0.0.5')
    assert parse_ruleset(nat, file="node.rules").table("nat").chain("PREROUTING").rules


@pytest.mark.parametrize("line, token", [
    ("-I PREROUTING \u00b2 -j ACCEPT", "\u00b2"), ("-D PREROUTING \u00b2", "\u00b2"),
    ("-R PREROUTING \u0661 -j ACCEPT", "\u0661"), ("[1:\u0663] -A PREROUTING -j ACCEPT", "[1:\u0663]"),
    (":PREROUTING ACCEPT [\u0661:0]", "[\u0661:0]"), ("-A PREROUTING -c \u00b2 3 -j ACCEPT", "-c \u00b2 3"),
])
def test_a_digit_of_another_script_is_no_number_as_iptables_restore_reads_it(line: str, token: str) -> None:
    """strtoul reads 0-9 only: '²' (which str.isdigit() takes and int() cannot read) was an internal error, and
    '١' was read as 1 (QA-cli #14)."""
    err = refusal(f"*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\n{line}\nCOMMIT\n")
    assert err.line == 4 and err.token == token


@pytest.mark.parametrize("text, line", [
    ("\r*filter\n-A INPUT -j ACCEPT\nCOMMIT\n", 1),
    ("\r*filter\n-A INPUT -j NOWHERE\nCOMMIT\n", 1),
    ("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n\r*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", 4),
    ("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n \t\r *nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", 4),
])
def test_a_table_line_with_a_carriage_return_before_its_star_is_refused(text: str, line: int) -> None:
    """iptables-legacy-restore v1.8.9 says "line 1 failed" for "\\r*filter" (r1): the parser read it as a table
    while the search for the tables' text (_table_spans) did not, a KeyError on any refusal or on a valid dump.
    Since h7 the CR is a character of the line's first word, as iptables reads it: no table line, an unexpected one
    whose message names the CR."""
    err = refusal(text)
    assert err.line == line and err.token is not None and "\r" in err.token
    assert "unexpected line" in str(err) and "a carriage return is part of its word" in str(err)


def test_blanks_before_a_table_line_are_read() -> None:
    tables = parse_ruleset(" \t*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\nCOMMIT\n").tables
    assert [t.name for t in tables] == ["filter"]


def test_the_family_is_guessed_from_the_earliest_line_not_the_first_chain() -> None:
    """iptables-legacy-restore v1.8.9 (unshare --net) refuses line 5, the IPv6 rule of FOO, a chain declared before
    INPUT whose IPv4 rule comes first (r1: the guess from the first chain's rules passed every other test)."""
    text = ("*filter\n:FOO - [0:0]\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.1 -j ACCEPT\n-A FOO -s fd00::1 -j ACCEPT\n"
            "COMMIT\n")
    err = refusal(text)
    assert err.line == 5 and "host/network `fd00::1' not found" in str(err)


def test_unvalidated_a_table_given_again_takes_its_family_from_the_copy_kept() -> None:
    """A table met twice keeps its later copy (iptables-legacy-restore starts it afresh), whose rule is IPv4 here;
    unvalidated, the replaced IPv6 copy decided the family (r1), so the rules kept were read as IPv6."""
    ruleset = parse_ruleset(NAT_V6 + NAT_V4, validate=False)
    assert not ruleset.ipv6 and ruleset.rule_count() == 1


@pytest.mark.parametrize("match", ["frag --fragid 1", "rt --rt-type 0", "hbh", "dst", "mh", "eui64",
                                   "ipv6header --header frag"])
def test_a_dump_of_no_address_with_a_match_only_ipv6_has_is_ipv6(match: str) -> None:
    """iptables-legacy-restore 1.8.9 cannot load these (r1), so a dump of no address that uses one is
    ip6tables-save's, as one with -m icmp6 is; told IPv4, it is refused at the rule. (mh goes with -p mh, which
    the kernel's mh match needs.)"""
    protocol = "-p mh " if match == "mh" else ""
    text = f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {protocol}-m {match} -j ACCEPT\nCOMMIT\n"
    assert parse_ruleset(text).ipv6
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, ipv6=False)
    assert info.value.line == 3 and str(info.value).startswith(f"line 3: Couldn't load match `{match.split()[0]}'")


def test_rules_of_one_shape_with_a_match_only_ipv6_has_are_each_judged() -> None:
    """No shape is learnt from such a rule, as the text is searched for them only when a line no shape vouched for
    names one: a run of them with no address reads as IPv6, and in IPv4 one given by -I (the general path) is
    refused at its line."""
    run = "".join(f"-A INPUT -m frag --fragid {i} -j ACCEPT\n" for i in range(1, 6))
    assert parse_ruleset(f"*filter\n:INPUT ACCEPT [0:0]\n{run}COMMIT\n").ipv6
    text = f"*filter\n:INPUT ACCEPT [0:0]\n-I INPUT -m eui64 -j ACCEPT\n{run}COMMIT\n"
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, ipv6=False)
    assert info.value.line == 3 and info.value.token == "eui64"


@pytest.mark.parametrize(("first", "rule", "message"), [
    ("-s fd00::2", "-s 1.2.3", "host/network `1.2.3' not found at '1.2.3'"),
    ("-s fd00::2", "-d 10/24", "host/network `10' not found at '10/24'"),
    ("-s fd00::2", "-s 1.2.3.4", "host/network `1.2.3.4' not found at '1.2.3.4'"),
    ("-s 10.0.0.2", "-d fd00::1/24", "host/network `fd00::1' not found at 'fd00::1/24'"),
    ("-s 10.0.0.2", "-d fd00::1/64", "invalid mask `64' specified"),  # (the mask is read first)
])
def test_an_address_of_the_other_family_is_refused_in_iptables_words(first: str, rule: str, message: str) -> None:
    """ip6tables-restore and iptables-restore v1.8.9 (legacy and nft, unshare --net) read each -s/-d with the
    ruleset's family, so the other family's address is a host they cannot find: "host/network `1.2.3' not found"
    (m5: the parser said "has an address of the other family")."""
    err = refusal(f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {first} -j ACCEPT\n-A INPUT {rule} -j ACCEPT\nCOMMIT\n")
    assert err.line == 4 and message in str(err)
