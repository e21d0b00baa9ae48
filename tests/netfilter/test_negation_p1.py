"""``!`` before an option, and the option combinations iptables-restore v1.8.9 refuses, read as both restores read
them (observed with iptables-legacy-restore and iptables-nft-restore v1.8.9 in ``unshare --net``;
``tests/kernel/test_restore_differential_p1`` feeds these rules and their variants to this machine's tools)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from tests.netfilter.restore_cases import FILTER, MANGLE, NAT, filter_with
from tests.netfilter.restore_cases_placement import RAW
from tests.netfilter.test_codec_restore_parity import saved_lines


def refused(rule: str, head: str = FILTER, chain: str = "INPUT") -> str:
    """What the parser says refusing ``-A CHAIN rule`` (its line, 5 after filter's head, is checked)."""
    text = f"{head}-A {chain} {rule}\nCOMMIT\n"
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="node.rules")
    assert info.value.line == head.count("\n") + 1
    return str(info.value)


@pytest.mark.parametrize(("rule", "words"), [
    ("-m comment ! --comment x -j ACCEPT", 'comment: option "--comment" cannot be inverted'),
    ("-m comment ! --comm x -j ACCEPT", 'comment: option "--comment" cannot be inverted'),  # (its whole name)
    ("-m recent --rcheck ! --rsource -j ACCEPT", 'recent: option "--rsource" cannot be inverted'),
    ("-m recent --rcheck ! --rttl -j ACCEPT", 'recent: option "--rttl" cannot be inverted'),  # (not --rcheck's)
    ("-m recent ! --name a --set -j ACCEPT", 'recent: option "--name" cannot be inverted'),
    ("-m statistic ! --mode random --probability 0.5 -j ACCEPT", 'statistic: option "--mode" cannot be inverted'),
    ("-m limit ! --limit 5/sec -j ACCEPT", 'limit: option "--limit" cannot be inverted'),
    ("-m conntrack ! --ctdir ORIGINAL -j ACCEPT", 'conntrack: option "--ctdir" cannot be inverted'),
    ("-m ttl ! --ttl-gt 5 -j ACCEPT", 'ttl: option "--ttl-gt" cannot be inverted'),
    ("-m addrtype --dst-type LOCAL ! --limit-iface-in -j ACCEPT",
     'addrtype: option "--limit-iface-in" cannot be inverted'),
    ("-m set ! --return-nomatch --match-set s src -j ACCEPT", "--return-nomatch flag cannot be inverted"),
    ("-m set ! --packets-lt 1 --match-set s src -j ACCEPT", "--packets-lt option cannot be inverted"),
    ("-j REJECT ! --reject-with icmp-host-unreachable", 'REJECT: option "--reject-with" cannot be inverted'),
    ("-j MARK ! --set-mark 1", 'MARK: option "--set-mark" cannot be inverted'),
    ("-j LOG ! --log-uid", 'LOG: option "--log-uid" cannot be inverted'),
    ("-j LED ! --led-trigger-id x", 'LED: option "--led-trigger-id" cannot be inverted'),
    ("-m statistic --mode nth --every 2 -j ACCEPT", 'statistic: option "--every" also requires "--packet".'),
    ("-m statistic --mode nth --packet 0 -j ACCEPT", 'statistic: option "--packet" also requires "--every".'),
    ("-m statistic --mode random -j ACCEPT", "--probability must be specified when using random mode"),
    ("-m statistic --every 2 --packet 1 -j ACCEPT", "--probability must be specified when using random mode"),
    ("-m statistic --mode nth -j ACCEPT", "--every and --packet must be specified when using nth mode"),
    ("-m statistic --probability 0.5 -j ACCEPT", 'statistic: option "--mode" must be specified'),
    ("-m statistic --mode nth --every 3 --packet 3 -j ACCEPT", "the --packet p must be 0 <= p <= n-1"),
    ("-m statistic --mode random --probability 0.5 --every 2 -j ACCEPT",
     'statistic: option "--probability" cannot be used together with "--every".'),
    ("-m statistic --mode bogus -j ACCEPT", 'Bad mode "bogus"'),
    ("-m ttl -j ACCEPT", "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt "),
    ("-m ttl --ttl-lt 2 --ttl-eq 1 -j ACCEPT", 'ttl: option "--ttl-lt" cannot be used together with "--ttl-eq".'),
    ("-m ttl --ttl-gt 2 --ttl-lt 1 -j ACCEPT", 'ttl: option "--ttl-lt" cannot be used together with "--ttl-gt".'),
    ("-j NFQUEUE --queue-num 1 --fail-open", "unknown option"),
    ("-m comment --comment ! x -j ACCEPT", "unexpected value at 'x'"),
])
def test_a_rule_both_restores_refuse_is_refused_in_their_words(rule: str, words: str) -> None:
    assert words in refused(rule)


@pytest.mark.parametrize(("rule", "words"), [
    ("-p tcp -j ECN --ecn-tcp-remove --ecn-tcp-cwr 1",
     'ECN: option "--ecn-tcp-remove" cannot be used together with "--ecn-tcp-cwr"'),
    ("-p tcp -j ECN --ecn-tcp-ece 1 --ecn-tcp-remove",
     'ECN: option "--ecn-tcp-remove" cannot be used together with "--ecn-tcp-ece"'),
    ("-j TTL ! --ttl-set 5", 'TTL: option "--ttl-set" cannot be inverted'),
])
def test_a_mangle_rule_both_restores_refuse_is_refused_in_their_words(rule: str, words: str) -> None:
    assert words in refused(rule, MANGLE, "PREROUTING")


def test_a_nat_target_s_option_takes_no_bang() -> None:
    assert 'DNAT: option "--to-destination" cannot be inverted' in refused(
        "-p tcp -j DNAT ! --to-destination 1.2.3.4", NAT, "PREROUTING")


@pytest.mark.parametrize(("rule", "saved"), [
    # a '!' after an option without a value is the next option's (iptables 1.8.9 has no '--opt !' form)
    ("-m recent ! --rcheck --rsource -j ACCEPT", "-m recent ! --rcheck --name DEFAULT"),
    ("-p tcp ! --syn ! --dport 80 -j ACCEPT", "-p tcp -m tcp ! --dport 80 ! --tcp-flags FIN,SYN,RST,ACK SYN"),
    # ... and after a free-form string's option it is the string
    ("-m comment --comment ! -j ACCEPT", '-m comment --comment "!" -j ACCEPT'),
    ("-j LOG --log-prefix !", '-j LOG --log-prefix "!"'),
    ("-m statistic --mode nth --every 1 --packet 0 -j ACCEPT", "-m statistic --mode nth --every 1 --packet 0"),
    ("-p tcp -m ecn --ecn-ip-ect 1 ! --ecn-tcp-ece --ecn-tcp-cwr -j ACCEPT",
     "-m ecn ! --ecn-tcp-ece --ecn-tcp-cwr --ecn-ip-ect 1 -j ACCEPT"),
])
def test_a_rule_both_restores_take_is_saved_as_they_save_it(rule: str, saved: str) -> None:
    assert any(saved in line for line in saved_lines(filter_with(f"-A INPUT {rule}")))


@pytest.mark.parametrize(("rule", "saved"), [
    ("-p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 1", "-j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0 --ecn-ip-ect 1"),
    ("-p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove", "-j ECN --ecn-tcp-remove"),
    ("-p tcp -j ECN --ecn-ip-ect 2 --ecn-tcp-cwr 0 --ecn-tcp-ece 0",
     "-j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0 --ecn-ip-ect 2"),
])
def test_ecn_s_remove_sets_the_operation_afresh_when_saved(rule: str, saved: str) -> None:
    text = f"{MANGLE}-A PREROUTING {rule}\nCOMMIT\n"
    assert saved_lines(text)[-2].endswith(saved)


MATCH_OPTIONS = sorted((owner, flag) for owner, flags in syntax.MODULE_FLAGS.items() for flag in flags)


@given(st.sampled_from(MATCH_OPTIONS))
def test_the_negatable_options_are_among_each_match_s_own(item: tuple[str, str]) -> None:
    """Every match of MODULE_FLAGS says which of its options take '!', and names none it does not have."""
    owner, flag = item
    assert owner in syntax.NEGATABLE_FLAGS
    assert syntax.NEGATABLE_FLAGS[owner] <= syntax.MODULE_FLAGS[owner]
    refusal = syntax.negation_refused(owner, flag)
    assert (refusal is None) == (flag in syntax.NEGATABLE_FLAGS[owner])


@given(st.sampled_from(sorted((t, f) for t, flags in syntax.TARGET_OPTION_FLAGS.items() for f in flags)))
def test_no_target_option_takes_a_bang(item: tuple[str, str]) -> None:
    target, flag = item
    refusal = syntax.negation_refused(target, flag)
    assert refusal is not None and refusal[0] == f'{target}: option "{flag}" cannot be inverted'


def test_kube_proxy_s_statistic_rules_keep_their_shape() -> None:
    """The shape of ``--mode random --probability P`` vouches for its rules (no rule read on the general path)."""
    first = syntax.parse_spec("-m statistic --mode random --probability 0.5 -j KUBE-SEP-A")
    again = syntax.parse_spec("-m statistic --mode random --probability 0.25 -j KUBE-SEP-B")
    assert [o.flag for o in again.options] == [o.flag for o in first.options]
    skeleton = syntax.split_skeleton("-m statistic --mode random --probability 0.25 -j KUBE-SEP-B")
    assert skeleton is not None and syntax._programs.get(skeleton[0]) is not None


BOTH = filter_with("-A INPUT -j DROP", "-A INPUT -j REJECT", "-A INPUT -j LOG", "-I INPUT 1 -6 -j ACCEPT",
                   "-D INPUT -6 -j DROP", "-4 -A INPUT -s 1.2.3.4 -j ACCEPT", "-6 -A INPUT -s fd00::1 -j ACCEPT",
                   "-D INPUT 3 -6", "-A INPUT --ipv4 -j DROP")


@pytest.mark.parametrize(("ipv6", "rules"), [
    (False, ["-j DROP", "-j REJECT", "-s 1.2.3.4 -j ACCEPT", "-j DROP"]),
    (True, ["-j ACCEPT", "-j REJECT", "-s fd00::1 -j ACCEPT"]),
])
def test_a_rule_of_the_other_family_is_skipped_and_one_s_own_word_is_nothing(ipv6: bool, rules: list[str]) -> None:
    """Both restores v1.8.9 (unshare --net) on the same file: iptables-restore skips the lines with -6 (-I, -D of a
    rule, a line led by -6, even one naming no chain), ip6tables-restore those with -4 or --ipv4; -D CHAIN NUMBER
    deletes whatever word follows it."""
    chain = parse_ruleset(BOTH, ipv6=ipv6).tables[0].chain("INPUT")
    assert chain is not None and [rule.spec for rule in chain.rules] == rules


def test_a_dump_with_family_words_and_no_family_given_is_read_as_ipv4_else_ipv6() -> None:
    assert parse_ruleset(BOTH).ipv6 is False
    ruleset = parse_ruleset(filter_with("-A INPUT -4 -j DROP", "-A INPUT -s fd00::1 -j ACCEPT"))
    chain = ruleset.tables[0].chain("INPUT")
    assert ruleset.ipv6 is True and chain is not None and [r.spec for r in chain.rules] == ["-s fd00::1 -j ACCEPT"]


def test_a_line_of_the_other_family_is_skipped_before_its_chain_is_looked_up() -> None:
    """``-A NOCHAIN -6 --bogus``: iptables-restore reads the line up to -6 and skips it (both v1.8.9)."""
    chain = parse_ruleset(filter_with("-A NOCHAIN -6 --bogus", "-A INPUT -j DROP"), ipv6=False).tables[0].chain("INPUT")
    assert chain is not None and [r.spec for r in chain.rules] == ["-j DROP"]


@pytest.mark.parametrize(("rule", "saved"), [
    ("-4 -j ACCEPT", "-A INPUT -j ACCEPT"),
    ("! -4 -s 1.2.3.4 -j ACCEPT", "-A INPUT -s 1.2.3.4/32 -j ACCEPT"),  # (the '!' goes with the word)
    ("-i -4 -j ACCEPT", "-A INPUT -i -4 -j ACCEPT"),  # (a value that looks like one)
    ("-m comment --comment -6 -j ACCEPT", "-A INPUT -m comment --comment -6 -j ACCEPT"),
])
def test_an_ipv4_rule_s_own_family_word_is_read_as_nothing(rule: str, saved: str) -> None:
    assert saved_lines(filter_with(f"-A INPUT {rule}"), False)[-2] == f"[0:0] {saved}"


def test_a_replace_with_the_other_family_s_word_is_refused() -> None:
    """-R INPUT 1 -6 ... crashes both v1.8.9 restores (a segmentation fault): refused at its line."""
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with("-A INPUT -j DROP", "-R INPUT 1 -6 -j ACCEPT"), ipv6=False)
    assert info.value.line == 6 and "-R with -6" in str(info.value)


@pytest.mark.parametrize(("head", "chain", "rule", "saved"), [
    (FILTER, "INPUT", "-j NFQUEUE", "-j NFQUEUE --queue-num 0"),
    (FILTER, "INPUT", "-j NFQUEUE --queue-cpu-fanout --queue-balance 1:2",
     "-j NFQUEUE --queue-balance 1:2 --queue-cpu-fanout"),
    (RAW, "PREROUTING", "-j CT --zone-orig 5 --zone-reply 6", "-j CT --zone 6"),
    (RAW, "PREROUTING", "-j CT --zone-reply 5 --zone 6", "-j CT --zone-reply 6"),
    (RAW, "PREROUTING", "-j CT --zone-orig 0", "-j CT"),
    (RAW, "PREROUTING", "-j CT --zone 1 --notrack --ctevents related,new", "-j CT --notrack --ctevents new,related "
     "--zone 1"),
])
def test_nfqueue_and_ct_are_saved_as_both_save_them(head: str, chain: str, rule: str, saved: str) -> None:
    assert saved_lines(f"{head}-A {chain} {rule}\nCOMMIT\n")[-2] == f"[0:0] -A {chain} {saved}"


@pytest.mark.parametrize(("rule", "words"), [
    ("-j NFQUEUE --queue-num 3 --queue-balance 1:2",
     'NFQUEUE: option "--queue-num" cannot be used together with "--queue-balance"'),
    ("-j NFQUEUE --queue-cpu-fanout", 'NFQUEUE: option "--queue-cpu-fanout" also requires "--queue-balance"'),
])
def test_nfqueue_s_options_together_are_refused_in_its_words(rule: str, words: str) -> None:
    assert words in refused(rule)
