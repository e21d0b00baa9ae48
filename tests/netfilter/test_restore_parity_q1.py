"""What both iptables-restores v1.8.9 (legacy and nft, each in a network namespace of its own: unshare --net) did
with four forms the parser read otherwise: the old intrapositioned negation (``-s ! 10.0.0.1``), NFQUEUE's
``--queue-balance`` of one queue (``1:1``), cgroup's ``--path`` written bare, and ``-j TCPMSS`` after a negated tcp
match. tests/kernel/test_restore_differential_p1 checks the same rules against this machine's tools; these need
no root."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Option, RuleSpec
from tests.kernel.test_restore_differential_p1 import HEADS, SAMPLES, intrapositioned
from tests.netfilter.restore_cases import Case, filter_with, mangle_forward
from tests.netfilter.test_codec_restore_parity import check_case, saved_lines


def _refusal(rule: str, chain: str = "INPUT") -> RulesSyntaxError:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(f"-A {chain} {rule}"), file="node.rules", ipv6=False)
    return info.value


def _parsed(rule: str, chain: str = "INPUT") -> RuleSpec:
    table = parse_ruleset(filter_with(f"-A {chain} {rule}"), ipv6=False).tables[0]
    return next(c for c in table.chains if c.name == chain).rules[0].parsed


# 1. The old intrapositioned negation: getopt hands the '!' to the option as its value, so iptables 1.8.9 reads
#    "-s ! 10.0.0.1" as the address "!" and a stray word ("Bad argument `10.0.0.1'"), "-p ! tcp" as the protocol
#    "!" ('unknown protocol "!" specified'), "--dport ! 80" as the port "!" ("invalid port/service `!'").

@pytest.mark.parametrize("rule", [
    "-s ! 10.0.0.1 -j ACCEPT", "-d ! 10.0.0.1 -j ACCEPT", "! -s ! 10.0.0.1 -j ACCEPT", "-p ! tcp -j ACCEPT",
    "-i ! eth0 -j ACCEPT", "-p tcp --dport ! 80 -j ACCEPT", "-p tcp -m tcp --sport ! 80 -j ACCEPT",
    "-m mark --mark ! 1 -j ACCEPT", "-m state --state ! NEW -j ACCEPT", "-s ! -j ACCEPT", "-p ! -j ACCEPT",
    "-p tcp --dport ! -j ACCEPT", "-m helper --helper ! ftp -j ACCEPT", "-m set --match-set ! x src -j ACCEPT",
    "-m physdev --physdev-in ! eth0 -j ACCEPT", "-m comment --comment ! x -j ACCEPT",
    "-m statistic --mode ! random --probability 0.5 -j ACCEPT",
])
def test_a_bang_after_an_option_is_refused_at_its_line(rule: str) -> None:
    assert _refusal(rule).line == 5


def test_the_refusal_names_the_negation_meant() -> None:
    assert str(_refusal("-p udp --dport 53 -s ! 10.0.0.0/8 -j ACCEPT")) == (
        "node.rules:5: '!' after -s is no negation: iptables-restore 1.8.9 reads it as -s's value at '!'; "
        "expected '! -s 10.0.0.0/8' (the '!' before the option)")
    assert "expected '! --dport VALUE'" in str(_refusal("-p tcp --dport ! -j ACCEPT"))


@pytest.mark.parametrize("variant", [(table, chain, ipv6, variant) for table, chain, ipv6, rule in SAMPLES
                                     for variant in intrapositioned(rule)])
def test_every_sample_option_with_a_bang_before_its_value_is_refused(variant: tuple[str, str, bool, str]) -> None:
    """Both restores refused each of these 159 rules at its line."""
    table, chain, ipv6, rule = variant
    text = f"{HEADS[table]}-A {chain} {rule}\nCOMMIT\n"
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, ipv6=ipv6)
    assert info.value.line == text.count("\n") - 1


@pytest.mark.parametrize(("rule", "option"), [
    ("-i ! -j ACCEPT", Option("-i", ("!",), False, "")),
    ("! -i ! -j ACCEPT", Option("-i", ("!",), True, "")),
    ("-i !", Option("-i", ("!",), False, "")),
    ("-m physdev --physdev-in ! -j ACCEPT", Option("--physdev-in", ("!",), False, "physdev")),
])
def test_an_interface_named_bang_is_taken(rule: str, option: Option) -> None:
    """Both restores take ``-i ! -j ACCEPT``, the interface "!", and save ``-i !``."""
    assert option in _parsed(rule).options


def test_a_string_option_s_bang_is_its_string() -> None:
    assert saved_lines(filter_with("-A INPUT -m recent --name ! --set -j ACCEPT"))[-2] == (
        "[0:0] -A INPUT -m recent --set --name ! --mask 255.255.255.255 --rsource -j ACCEPT")


# 2. NFQUEUE's queue numbers: --queue-balance FIRST:LAST wants FIRST below LAST ("1 should be less than 1"), two
#    numbers ('Bad range "1"'), each 0-65535 in base 0; the kernel counts the queues in 16 bits (0:65535 refused,
#    legacy at COMMIT, nft at the rule). --queue-num is one number 0-65535.

@pytest.mark.parametrize(("value", "words"), [
    ("1:1", "1 should be less than 1"), ("0:0", "0 should be less than 0"), ("2:1", "2 should be less than 1"),
    ("65535:65535", "65535 should be less than 65535"), ("1", 'Bad range "1"'), ("", 'Bad range ""'),
    ("1:1:1", 'NFQUEUE: Too many components for option "--queue-balance" (max: 2)'),
    ("1-2", 'NFQUEUE: bad value for option "--queue-balance" near "1-2", or out of range (0-65535).'),
    ("1:2x", 'NFQUEUE: bad value for option "--queue-balance" near "2x", or out of range (0-65535).'),
    ("-1:2", 'NFQUEUE: bad value for option "--queue-balance" near "-1", or out of range (0-65535).'),
    ("0:65536", 'NFQUEUE: bad value for option "--queue-balance" near "65536", or out of range (0-65535).'),
    ("0:65535", "the kernel refuses 65536 queues (its count of queues is 16 bits)"),
    (":", "the kernel refuses 65536 queues (its count of queues is 16 bits)"),
])
def test_a_queue_balance_both_restores_refuse_is_refused(value: str, words: str) -> None:
    err = _refusal(f'-j NFQUEUE --queue-balance "{value}"')
    assert err.line == 5
    assert f"node.rules:5: {words} at " in str(err)
    assert "--queue-num for one queue" in str(err)


@pytest.mark.parametrize(("value", "bounds"), [
    ("1:2", (1, 2)), ("1:", (1, 65535)), (":2", (0, 2)), ("0x1:0x2", (1, 2)), ("010:011", (8, 9)),
    ("+1:2", (1, 2)), (" 1:2", (1, 2)), ("1: 2", (1, 2)), ("1:65535", (1, 65535)), ("0:65534", (0, 65534)),
])
def test_a_queue_balance_is_read_as_libxt_nfqueue_reads_it(value: str, bounds: tuple[int, int]) -> None:
    """(both save these as FIRST:LAST in decimal: ``1:`` is 1:65535)"""
    assert syntax.nfqueue_balance(value) == bounds
    target = _parsed(f'-j NFQUEUE --queue-balance "{value}"').target
    assert target is not None and target.options == (Option("--queue-balance", (value,), False, "NFQUEUE"),)


@pytest.mark.parametrize(("value", "number"), [("65535", 65535), ("0x10", 16), ("010", 8), ("+3", 3), (" 3", 3),
                                               ("65536", None), ("-1", None), ("3x", None), ("08", None),
                                               ("1:2", None)])
def test_a_queue_num_is_one_number_of_sixteen_bits(value: str, number: int | None) -> None:
    read = syntax.nfqueue_number(value)
    if number is None:
        assert read == 'NFQUEUE: bad value for option "--queue-num", or out of range (0-65535).'
        assert _refusal(f'-j NFQUEUE --queue-num "{value}"').line == 5
    else:
        assert read == number


# 3. cgroup's --path takes the next word whatever it looks like (getopt), one word: the kernel looks the cgroup up
#    (a path this machine lacks is refused at COMMIT by legacy, at the rule by nft: the parser takes any path).

@pytest.mark.parametrize("path", ["/", "-x", "!", "a'b", "a$b", "", "/a b"])
def test_a_cgroup_path_is_any_one_word(path: str) -> None:
    written = f'"{path}"' if path in ("", "/a b") else path
    assert Option("--path", (path,), False, "cgroup") in _parsed(f"-m cgroup --path {written} -j ACCEPT",
                                                                 chain="OUTPUT").options


@pytest.mark.parametrize(("rule", "which"), [
    ("-m cgroup -j ACCEPT", "neither --path nor --cgroup"),
    ("-m cgroup --cgroup 1 --path / -j ACCEPT", "both --path and --cgroup"),
    ("-m cgroup -m cgroup --path / --cgroup 1 -j ACCEPT", "neither --path nor --cgroup"),
])
def test_a_cgroup_match_of_neither_or_both_is_refused_as_the_kernel_refuses_it(rule: str, which: str) -> None:
    """(legacy fails at COMMIT, nft at the rule: cgroup_mt_check_v1's EINVAL)"""
    err = _refusal(rule, chain="OUTPUT")
    assert err.line == 5
    assert f"-m cgroup with {which}" in str(err)


def test_each_cgroup_match_may_test_one() -> None:
    assert _parsed("-m cgroup --path / -m cgroup ! --cgroup 0x10 -j ACCEPT", chain="OUTPUT").options[-1] == Option(
        "--cgroup", ("0x10",), True, "cgroup")


@pytest.mark.parametrize("value", ["x", "4294967296", "-1", "08"])
def test_a_cgroup_class_id_is_one_number_of_32_bits(value: str) -> None:
    assert str(_refusal(f"-m cgroup --cgroup {value} -j ACCEPT", chain="OUTPUT")).startswith(
        'node.rules:5: cgroup: bad value for option "--cgroup", or out of range (0-4294967295).')


def test_a_cgroup_path_of_two_bare_words_is_refused() -> None:
    """Both: "Bad argument `b'" (one word, unlike --comment's several: syntax.ANY_WORD_FLAGS)."""
    assert _refusal("-m cgroup --path a b -j ACCEPT", chain="OUTPUT").line == 5


# 4. -j TCPMSS after a negated tcp match: the parser follows legacy (restore_cases' rule), which fails at COMMIT
#    where tcpmss_tg4_check finds no tcp match of SYN set, not negated; nft refuses ``! -p tcp`` at the rule but
#    takes ``-p tcp ! --syn`` (its tcp match is no xt_tcp), and saves two tcp matches as one.

TCPMSS_NEGATED = [
    *(Case(f"TCPMSS {rule}", mangle_forward(rule), line=7, at_commit=True, nft_differs=nft_differs)
      for rule, nft_differs in (("-p tcp ! --syn -j TCPMSS --set-mss 1000", True),
                                ("-p tcp ! --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu", True),
                                ("! -p tcp --syn -j TCPMSS --set-mss 1000", False),
                                ("! -p tcp ! --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1000", False),
                                ("! -p 6 --syn -j TCPMSS --clamp-mss-to-pmtu", False))),
    *(Case(f"TCPMSS {rule}", mangle_forward(rule), saved=(f"[0:0] -A FORWARD {saved}",))
      for rule, saved in (
          ("-p tcp ! --syn -m tcp --syn -j TCPMSS --set-mss 1000",
           "-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCPMSS "
           "--set-mss 1000"),
          ("-p tcp --syn -m tcp ! --dport 80 -j TCPMSS --set-mss 1000",
           "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m tcp ! --dport 80 -j TCPMSS --set-mss 1000"))),
]


@pytest.mark.parametrize("case", TCPMSS_NEGATED, ids=lambda c: c.name)
def test_tcpmss_after_a_negated_tcp_match_is_read_as_legacy_reads_it(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize(("rule", "saved"), [
    ("-j NFQUEUE --queue-balance 0x1:0x2", "-j NFQUEUE --queue-balance 1:2"),
    ("-j NFQUEUE --queue-balance 1:", "-j NFQUEUE --queue-balance 1:65535"),
    ("-j NFQUEUE --queue-balance :2 --queue-bypass", "-j NFQUEUE --queue-balance 0:2 --queue-bypass"),
    ('-j NFQUEUE --queue-balance "1: 2"', "-j NFQUEUE --queue-balance 1:2"),
    ("-j NFQUEUE --queue-num 0x10", "-j NFQUEUE --queue-num 16"),
    ("-j NFQUEUE --queue-num 010", "-j NFQUEUE --queue-num 8"),
    ("-m cgroup --path / -j ACCEPT", '-m cgroup --path "/" -j ACCEPT'),
    ("-m cgroup ! --path / -j ACCEPT", '-m cgroup ! --path "/" -j ACCEPT'),
    ("-m cgroup --path system -j ACCEPT", "-m cgroup --path system -j ACCEPT"),
    ("-m cgroup --cgroup 0x10 -j ACCEPT", "-m cgroup --cgroup 16 -j ACCEPT"),
])
def test_queue_numbers_and_cgroup_values_are_saved_as_both_save_them(rule: str, saved: str) -> None:
    """(iptables-save -c v1.8.9 after each restore: libxt_NFQUEUE and libxt_cgroup print decimal numbers,
    libxt_cgroup the path by xtables_save_string)"""
    assert f"[0:0] -A OUTPUT {saved}" in saved_lines(filter_with(f"-A OUTPUT {rule}"))
