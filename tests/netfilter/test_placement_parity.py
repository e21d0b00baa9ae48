"""The parser refuses a target or a match where the kernel does (its table, the hooks whose built-in chains reach
the rule), at the rule, as iptables-restore v1.8.9 does (:mod:`tests.netfilter.restore_cases_placement`)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import codec
from kubeproxy_sim.netfilter.codec import parse_ruleset
from tests.netfilter.restore_cases import MANGLE, NAT, Case, filter_with
from tests.netfilter.restore_cases_placement import MAC, PLACEMENT_CASES, table_with
from tests.netfilter.test_codec_restore_parity import check_case, refusal


@pytest.mark.parametrize("case", PLACEMENT_CASES, ids=lambda c: c.name)
def test_the_parser_places_targets_and_matches_as_the_kernel_does(case: Case) -> None:
    check_case(case)


def test_a_target_of_another_table_names_its_table() -> None:
    """iptables-legacy-restore v1.8.9: "line 6 failed" (the COMMIT); the parser names the rule and the table."""
    assert str(refusal(filter_with("-A INPUT -j NOTRACK"))) == (
        "node.rules:5: target NOTRACK is valid only in table raw, not filter at 'NOTRACK'; expected NOTRACK in table "
        "raw (PREROUTING, OUTPUT or a chain they jump to)")


def test_a_match_out_of_its_hooks_names_them() -> None:
    assert str(refusal(filter_with(f"-A OUTPUT {MAC} -j ACCEPT"))) == (
        "node.rules:5: match mac cannot be used in chain OUTPUT at 'OUTPUT'; expected -m mac in PREROUTING, INPUT "
        "or FORWARD (or a chain only they jump to)")


def test_a_user_chain_s_refusal_names_the_hook_and_the_jump_that_reach_it() -> None:
    text = table_with(MANGLE, ":FOO - [0:0]", ":BAR - [0:0]", "-A INPUT -j BAR", "-A BAR -j FOO",
                      "-A FOO -p tcp -j TPROXY --on-port 80")
    assert str(refusal(text)) == (
        "node.rules:11: target TPROXY cannot be used in chain FOO, which INPUT reaches (the jump at line 10) at "
        "'FOO'; expected TPROXY in PREROUTING (or a chain only they jump to)")


def test_the_earliest_misplaced_rule_is_named() -> None:
    """Two misplaced rules, the later one reached first: the kernel (legacy) refuses the table, named at the
    earlier rule (as a built-in chain's misplaced rules are)."""
    text = table_with(NAT, ":FOO - [0:0]", ":BAR - [0:0]", "-A BAR -j DNAT --to-destination 10.0.0.1",
                      "-A FOO -j MASQUERADE", "-A OUTPUT -j FOO", "-A POSTROUTING -j BAR")
    assert refusal(text).line == 8


def test_a_restore_input_without_its_built_in_chains_is_not_judged_by_reach() -> None:
    """kube-proxy's restore input (iptables-restore --noflush) declares none of the built-in chains: the node's own
    rules decide what reaches its chains, which no reading of the file can tell."""
    text = "*nat\n:FOO - [0:0]\n:BAR - [0:0]\n-A FOO -j BAR\n-A BAR -j MASQUERADE\n-A FOO -j DNAT " \
           "--to-destination 10.0.0.1\nCOMMIT\n"
    assert len(list(parse_ruleset(text).tables[0].rules())) == 3


def test_a_large_table_is_judged_by_walking_back_from_the_few_chains_that_hold_a_target() -> None:
    """PREROUTING reaching more chains than a walk forward visits (kube-proxy's reach 110,000 at 10,000 services):
    MASQUERADE is judged by the chains that jump to its one chain, and refused when PREROUTING is among them."""
    many = [f":C{i} - [0:0]" for i in range(5000)] + [f"-A PREROUTING -j C{i}" for i in range(5000)]
    fine = table_with(NAT, ":MQ - [0:0]", *many, "-A POSTROUTING -j MQ", "-A MQ -j MASQUERADE")
    assert parse_ruleset(fine).tables[0].chain("MQ") is not None
    bad = table_with(NAT, ":MQ - [0:0]", *many, "-A C4999 -j MQ", "-A MQ -j MASQUERADE")
    with pytest.raises(RulesSyntaxError, match="target MASQUERADE cannot be used in chain MQ, which PREROUTING"):
        parse_ruleset(bad)


def test_a_jump_to_a_chain_of_an_extension_s_name_is_no_misplaced_target() -> None:
    """``:TPROXY - [0:0]`` then ``-j TPROXY`` in filter INPUT: a jump to that chain, which both restores v1.8.9
    take (iptables-save prints ``-A INPUT -j TPROXY``)."""
    rules = list(parse_ruleset(filter_with(":TPROXY - [0:0]", "-A INPUT -j TPROXY")).tables[0].rules())
    assert [r.spec for r in rules] == ["-j TPROXY"]


def test_a_match_in_a_built_in_chain_walks_no_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """One -m mac in INPUT (judged there) made the reach check walk every table from every built-in chain: a
    10k-service dump parsed 2.5 -> 3.6 s (reviewer r7). Only the chains holding such a match are walked back from
    now, and a built-in chain's own rules are judged where they stand."""
    walks: list[str] = []
    real = codec._walked_jumps

    def counted(table: object, root: str) -> dict[str, str]:
        walks.append(root)
        return real(table, root)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "_walked_jumps", counted)
    chains = [f":C{n} - [0:0]" for n in range(50)] + [f"-A OUTPUT -j C{n}" for n in range(50)]
    parse_ruleset(filter_with(*chains, f"-A INPUT {MAC} -j ACCEPT") + table_with(NAT, *chains))
    assert walks == []


class _Searches:
    """A stand-in for codec._PLACED_MATCH that records the length of each text it searches."""

    def __init__(self, lengths: list[int]) -> None:
        self.lengths = lengths

    def search(self, text: str, *span: int) -> object:
        self.lengths.append(len(text) if not span else span[-1] - span[0])
        return codec.re.compile(_PLACED.pattern).search(text, *span)

    def finditer(self, text: str, *span: int) -> object:
        self.lengths.append(len(text) if not span else span[-1] - span[0])
        return codec.re.compile(_PLACED.pattern).finditer(text, *span)


_PLACED = codec._PLACED_MATCH


def test_a_match_of_some_hooks_is_judged_from_its_lines_not_a_search_of_the_text(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One -m mac rule in a 10k-service dump cost 0.3 s: two searches of the whole text (one for the rules to judge
    in built-in chains, one for the user chains holding one). The parser keeps each such line as it reads it, and
    searches lines only (the refusal still found: in a chain OUTPUT reaches)."""
    lengths: list[int] = []
    monkeypatch.setattr(codec, "_PLACED_MATCH", _Searches(lengths))
    rules = [f"-A C{n} -m comment --comment x{n} -j RETURN" for n in range(100)]
    text = filter_with(*(f":C{n} - [0:0]" for n in range(100)), ":FOO - [0:0]", *rules, "-A OUTPUT -j FOO",
                       f"-A FOO {MAC} -j ACCEPT")
    assert refusal(text).line == text.count("\n") - 1
    assert lengths and max(lengths) < 100


@pytest.mark.parametrize("verdict", ["-p all -j ACCEPT", "-s 0.0.0.0/0 -j DROP", "-d 10.0.0.0/0 -j RETURN"])
def test_a_verdict_whose_ip_part_is_zero_stops_the_walk(verdict: str) -> None:
    """-p all and a /0 address leave ipt_ip zero: iptables-legacy-restore v1.8.9 takes -m mac after such a verdict
    in OUTPUT (and saves the verdict bare, -j ACCEPT); a negated address is a condition (refused at COMMIT)."""
    assert len(list(parse_ruleset(filter_with(f"-A OUTPUT {verdict}", f"-A OUTPUT {MAC} -j ACCEPT")).tables[0]
                    .rules())) == 2
    if verdict[:2] != "-p":  # (! -p all is refused: "rule would never match protocol")
        assert refusal(filter_with(f"-A OUTPUT ! {verdict}", f"-A OUTPUT {MAC} -j ACCEPT")).line == 6


def test_a_match_is_judged_in_a_table_whose_targets_are_judged_walking_back() -> None:
    """kube-proxy's shape (PREROUTING reaching more chains than the walk's budget, MASQUERADE in a chain
    POSTROUTING reaches) and -m mac in a chain OUTPUT jumps to: the refusal is found there too."""
    many = [f":C{n} - [0:0]" for n in range(codec._REACH_BUDGET + 10)]
    text = table_with(NAT, *many, ":MASQ - [0:0]", ":FOO - [0:0]",
                      *(f"-A PREROUTING -j C{n}" for n in range(codec._REACH_BUDGET + 10)),
                      "-A POSTROUTING -j MASQ", "-A MASQ -j MASQUERADE", "-A OUTPUT -j FOO", f"-A FOO {MAC} -j ACCEPT")
    assert refusal(text).line == text.split("\n").index(f"-A FOO {MAC} -j ACCEPT") + 1


def test_an_option_misplaced_in_a_user_chain_says_the_restores_part() -> None:
    """--limit-iface-in in a chain filter OUTPUT reaches: iptables-legacy-restore v1.8.9 refuses it at COMMIT,
    iptables-nft-restore takes it (restore_cases_placement.OPTIONS, nft_differs); the words say both, as the TCPMSS
    SYN-match refusal does."""
    text = filter_with(":FOO - [0:0]", "-A OUTPUT -j FOO",
                       "-A FOO -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT")
    assert str(refusal(text)) == (
        "node.rules:7: --limit-iface-in of addrtype cannot be used in chain FOO, which OUTPUT reaches (the jump at "
        "line 6; iptables-legacy-restore fails at COMMIT; iptables-nft-restore takes it) at 'FOO'; expected "
        "--limit-iface-in in PREROUTING, INPUT or FORWARD (or a chain only they jump to)")


def test_an_option_misplaced_in_a_built_in_chain_is_refused_by_both() -> None:
    """In OUTPUT itself both restores refuse it: no parenthesis."""
    text = filter_with("-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT")
    assert "iptables-nft-restore" not in str(refusal(text))


def test_a_misplaced_rule_replaced_before_commit_is_taken() -> None:
    """``-R INPUT 1 -p tcp`` over an -m owner rule of INPUT: iptables-legacy-restore v1.8.9 takes it and
    iptables-save prints ``-A INPUT -p tcp`` (iptables-nft-restore v1.8.9 dies of a segmentation fault on it, so
    it is no restore case)."""
    text = filter_with("-A INPUT -m owner --uid-owner 0 -j ACCEPT", "-R INPUT 1 -p tcp")
    assert [r.spec for r in parse_ruleset(text).tables[0].rules()] == ["-p tcp"]


def test_a_misplaced_rule_of_a_renamed_chain_is_still_judged() -> None:
    """-m owner is valid in OUTPUT and POSTROUTING only: a user chain INPUT reaches holding it is refused (the
    kernel, at COMMIT) after an -E renamed the chain, the rule still in it."""
    text = filter_with(":FOO - [0:0]", "-A FOO -m owner --uid-owner 0 -j ACCEPT", "-E FOO BAR", "-A INPUT -j BAR")
    with pytest.raises(RulesSyntaxError, match="match owner cannot be used in chain"):
        parse_ruleset(text)
