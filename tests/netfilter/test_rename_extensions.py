"""Target extensions' names: ``-E OLD NEW`` where NEW is one (and the cost of an -E in a large table), a chain
declared under one, and the extensions of one family only (TTL/HL, icmp/icmp6).

Decided with the real tools inside ``unshare --net`` (iptables 1.8.9): iptables-legacy-restore takes
``-A INPUT -j LOG --log-prefix x``, ``-E FOO LOG``, ``-A LOG -j DROP``; the INPUT rule stays the LOG extension
(its counters move, the chain's DROP stays at [0:0]) and iptables-legacy-save prints it as written, also after a
second ``-E LOG BAR``. iptables-nft-restore 1.8.9 cannot rename a chain the same input made (README).
"""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import InputError, RulesSyntaxError
from kubeproxy_sim.netfilter import codec
from kubeproxy_sim.netfilter.codec import parse_ruleset, render_ruleset
from kubeproxy_sim.netfilter.compile_chains import refuse_table_circles


def _dump(*lines: str) -> str:
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FOO - [0:0]", *lines, "COMMIT", ""])


def _input_verdict(tmp_path, capsys, text: str) -> dict:
    dump = tmp_path / "rename.rules"
    dump.write_text(text)
    assert main(["trace", "--rules", str(dump), "--node-ip", "2.2.2.2", "--src", "1.1.1.1", "--dst", "2.2.2.2",
                 "--dport", "80", "-o", "json"]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)["outcomes"]
    return outcome


def test_an_extension_with_options_before_the_rename_stays_the_extension(tmp_path, capsys) -> None:
    """The LOG rule logs and goes on: the policy decides, the chain LOG's DROP is never reached."""
    outcome = _input_verdict(tmp_path, capsys, _dump("-A INPUT -j LOG --log-prefix x", "-E FOO LOG",
                                                     "-A LOG -j DROP"))
    assert outcome["verdict"] == "ACCEPT"
    assert all("-A LOG -j DROP" not in json.dumps(step) for step in outcome["path"])


def test_an_extension_with_options_in_the_chain_that_takes_its_name_closes_no_circle(tmp_path, capsys) -> None:
    """``-A FOO -j LOG --log-prefix x``, ``-E FOO LOG``, ``-A INPUT -j LOG``: iptables-legacy-restore v1.8.9 loads it
    (unshare --net), the rule in LOG staying the extension; the circle check read it as LOG -> LOG and refused. The
    same rule written alone (``-A LOG -j LOG``) after the -E is a jump, and legacy's COMMIT fails (a circle)."""
    outcome = _input_verdict(tmp_path, capsys, _dump("-A FOO -j LOG --log-prefix x", "-E FOO LOG",
                                                     "-A INPUT -j LOG"))
    assert outcome["verdict"] == "ACCEPT"
    table = parse_ruleset(_dump("-E FOO LOG", "-A LOG -j LOG", "-A INPUT -j LOG"), validate=False).tables[0]
    with pytest.raises(InputError, match=r"^line 5: the filter table's chains jump in a circle: LOG -> LOG;"):
        refuse_table_circles(table)


def test_a_second_rename_leaves_the_extension_as_it_was_written() -> None:
    ruleset = parse_ruleset(_dump("-A INPUT -j LOG --log-prefix x", "-E FOO LOG", "-A LOG -j DROP", "-E LOG BAR"))
    text = render_ruleset(ruleset)
    assert "-A INPUT -j LOG --log-prefix x\n" in text
    assert "-A BAR -j DROP\n" in text
    assert "-j BAR" not in text


def test_a_jump_to_the_chain_before_a_second_rename_follows_it() -> None:
    """A rule naming the chain after it took the extension's name (a jump) is renamed with it."""
    text = render_ruleset(parse_ruleset(_dump("-A INPUT -j LOG --log-prefix x", "-E FOO LOG", "-A INPUT -j LOG",
                                              "-E LOG BAR")))
    assert "-A INPUT -j LOG --log-prefix x\n-A INPUT -j BAR\n" in text


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize(("naming", "line"), [(("-E FOO LOG",), 5), ((":LOG - [0:0]",), 5),
                                              (("-E FOO LOG", "-E LOG BAR", ":LOG - [0:0]"), 7)])
def test_a_bare_extension_before_a_chain_takes_its_name_is_refused_as_not_modelled(
        naming: tuple[str, ...], line: int, validate: bool) -> None:
    """``-j LOG`` alone, then a chain named LOG (-E, or declared): legacy keeps the extension (the chain has 0
    references and the rule's packets go on, unshare --net), but the rule's text reads as a jump to the chain, so
    the model refuses it, at the line that named the chain, rather than answer with a jump."""
    with pytest.raises(RulesSyntaxError) as caught:
        parse_ruleset(_dump("-A INPUT -j LOG", *naming, "-A LOG -j DROP"), validate=validate)
    assert caught.value.line == line
    assert "line 4" in str(caught.value) and "not modelled" in str(caught.value)


def test_a_jump_renamed_to_an_extension_name_is_a_jump() -> None:
    """``-A INPUT -j FOO`` then ``-E FOO LOG``: the rule jumps to the chain (libiptc points it at the chain), so it
    is no extension the chain took the name of."""
    text = render_ruleset(parse_ruleset(_dump("-A INPUT -j FOO", "-E FOO LOG", "-A LOG -j DROP")))
    assert "-A INPUT -j LOG\n-A LOG -j DROP\n" in text


def test_an_extension_with_options_after_a_chain_is_renamed_to_its_name_is_refused_naming_the_rename() -> None:
    """After ``-E FOO LOG``, ``-j LOG --log-prefix x``: iptables-legacy-restore v1.8.9 warns "using chain LOG, not
    extension" and drops the prefix (a jump that no longer logs); iptables-nft-restore refuses the -E (it cannot
    rename a chain the same input made). Refused, naming the -E, not the line FOO was declared at."""
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(_dump("-E FOO LOG", "-A INPUT -j LOG --log-prefix x"), file="node.rules")
    assert str(info.value) == ("node.rules:5: -j LOG is a jump to chain LOG (renamed to LOG at line 4, which shadows "
                               "the target extension), and a chain takes no options at 'LOG'; expected -j LOG alone, "
                               "or another name for the chain")


@pytest.mark.parametrize("after", [("-X LOG",), ("-E LOG BAR",), ("-D INPUT -j LOG", "-A LOG -j DROP")])
def test_a_bare_extension_is_taken_once_the_chain_is_gone_renamed_away_or_the_rule_removed(after) -> None:
    text = render_ruleset(parse_ruleset(_dump("-A INPUT -j LOG", "-E FOO LOG", *after)))
    assert ("-A INPUT -j LOG\n" in text) == ("-D INPUT -j LOG" not in after)
    assert "-j BAR" not in text


def test_a_rename_of_a_chain_no_rule_names_reads_no_rule(monkeypatch) -> None:
    """An -E whose names no rule's target holds is a look-up, not a search of every rule (10k services: 110,000
    chains, 400,000 rules, each -E read them all)."""
    calls = []
    for method in ("texts", "spec_list", "texts_naming"):
        original = getattr(codec._ChainState, method, None)

        def counted(self, *args, _original=original, _name=method):
            calls.append(_name)
            return _original(self, *args)
        monkeypatch.setattr(codec._ChainState, method, counted, raising=False)
    chains = [f":C{k} - [0:0]" for k in range(20)]
    rules = [f"-A C{k} -p tcp --dport {k + 1} -j ACCEPT" for k in range(20)]
    ruleset = parse_ruleset(_dump(*chains, ":R - [0:0]", *rules, "-E R S"))
    assert calls == []
    assert "S" in {chain.name for chain in ruleset.table("filter").chains}


def _mangle(*lines: str) -> str:
    return "\n".join(["*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", *lines,
                      "COMMIT", ""])


# Each decided by iptables-legacy-restore 1.8.9 inside unshare --net (what it printed, or 0 for taken); the -E of a
# chain the same input made is iptables-nft-restore's CHAIN_RENAME failure, so legacy alone decides these.
SHADOWS = [
    # a chain -E named MARK shadows no extension: a bare -j MARK still needs MARK's option
    ((":FOO - [0:0]", "-A INPUT -j FOO", "-E FOO MARK", "-A OUTPUT -j MARK"), 8,
     "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required"),
    ((":FOO - [0:0]", "-E FOO MARK", "-A OUTPUT -j MARK"), 7,
     "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required"),
    # a chain declared MARK and renamed away: legacy loads no MARK target then
    ((":MARK - [0:0]", "-E MARK FOO", "-A OUTPUT -j MARK"), 7, "Couldn't load target `MARK'"),
    ((":LOG - [0:0]", "-E LOG FOO", "-A OUTPUT -j LOG"), 7, "Couldn't load target `LOG'"),
    ((":LOG - [0:0]", "-E LOG FOO", "-A OUTPUT -j LOG --log-prefix x"), 7, 'unknown option "--log-prefix"'),
    ((":MARK - [0:0]", "-E MARK FOO", "-A OUTPUT -j MARK --set-mark 1"), 7, 'unknown option "--set-mark"'),
    # taken: a chain declared under the name takes the jump, also renamed away and back or another renamed to it
    ((":MARK - [0:0]", "-A OUTPUT -j MARK"), 0, ""),
    ((":MARK - [0:0]", "-A INPUT -j MARK", "-E MARK FOO", "-E FOO MARK", "-A OUTPUT -j MARK"), 0, ""),
    ((":MARK - [0:0]", "-E MARK FOO", ":BAR - [0:0]", "-E BAR MARK", "-A OUTPUT -j MARK"), 0, ""),
]


@pytest.mark.parametrize(("lines", "line", "words"), SHADOWS)
def test_a_target_extension_is_shadowed_by_a_chain_declared_under_its_name_only(lines, line, words) -> None:
    if not line:
        parse_ruleset(_mangle(*lines))
        return
    with pytest.raises(RulesSyntaxError) as caught:
        parse_ruleset(_mangle(*lines))
    assert caught.value.line == line
    assert words in str(caught.value)


# iptables-restore / ip6tables-restore 1.8.9 (legacy and nft alike, unshare --net) on each rule of PREROUTING in
# mangle: refused with these words, or taken ("")
FAMILIES = [
    (False, "-j HL", "Couldn't load target `HL'"), (False, "-j HL --hl-set 5", 'unknown option "--hl-set"'),
    (False, "-j TTL", "TTL: You must specify an action"), (False, "-j TTL --ttl-set 5", ""),
    (False, "-p ipv6-icmp --icmpv6-type 1", 'unknown option "--icmpv6-type"'),
    (False, "-p icmpv6 -m icmp6 --icmpv6-type 1", "Couldn't load match `icmp6'"),
    (False, "-p icmp --icmp-type 8", ""), (False, "-p icmp -m icmp --icmp-type 8", ""),
    (True, "-j TTL", "Couldn't load target `TTL'"), (True, "-j TTL --ttl-set 5", 'unknown option "--ttl-set"'),
    (True, "-j HL", "HL: You must specify an action"), (True, "-j HL --hl-set 5", ""),
    (True, "-p icmp --icmp-type 8", 'unknown option "--icmp-type"'),
    (True, "-p icmp -m icmp --icmp-type 8", "Couldn't load match `icmp'"),
    (True, "-p ipv6-icmp --icmpv6-type 1", ""), (True, "-p icmpv6 -m icmp6 --icmpv6-type 1", ""),
    # ECN is IPv4's only (libipt_ECN): ip6tables knows neither it nor its options, before its protocol or values
    (False, "-j ECN", "ECN target: An operation is required"), (False, "-j ECN --ecn-ip-ect 3", ""),
    (False, "-j ECN --ecn-ip-ect 4", 'ECN: bad value for option "--ecn-ip-ect", or out of range (0-3).'),
    (False, "-j ECN --ecn-ip-ect -1", 'ECN: bad value for option "--ecn-ip-ect", or out of range (0-3).'),
    (False, "-p tcp -j ECN --ecn-tcp-cwr 2", 'ECN: bad value for option "--ecn-tcp-cwr", or out of range (0-1).'),
    (False, "-p tcp -j ECN --ecn-tcp-remove", ""), (False, "-p tcp -j ECN --ecn-tcp-ece 1", ""),
    (True, "-j ECN", "Couldn't load target `ECN'"),
    (True, "-j ECN --ecn-tcp-remove", 'unknown option "--ecn-tcp-remove"'),
    (True, "-p tcp -j ECN --ecn-tcp-remove", 'unknown option "--ecn-tcp-remove"'),
    (True, "-j ECN --ecn-ip-ect 1", 'unknown option "--ecn-ip-ect"'),
    # the family is judged before the protocol: no -p, or another, is still the load failure
    (False, "-m icmp6", "Couldn't load match `icmp6'"), (False, "-p tcp -m icmp6", "Couldn't load match `icmp6'"),
    (True, "-m icmp --icmp-type 8", "Couldn't load match `icmp'"),
    (True, "-p tcp -m icmp", "Couldn't load match `icmp'"),
    # (its own family's without its protocol: the kernel refuses it, at COMMIT for legacy)
    (False, "-m icmp --icmp-type 8", "-m icmp matches only icmp packets"),
    (True, "-m icmp6 --icmpv6-type 1", "-m icmp6 matches only icmp6 packets"),
]


@pytest.mark.parametrize(("ipv6", "rule", "words"), FAMILIES)
def test_ttl_hl_icmp_and_icmp6_are_read_in_their_own_family_only(ipv6: bool, rule: str, words: str) -> None:
    text = f"*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING {rule}\nCOMMIT\n"
    if not words:
        parse_ruleset(text, ipv6=ipv6)
        return
    with pytest.raises(RulesSyntaxError) as caught:
        parse_ruleset(text, ipv6=ipv6)
    assert caught.value.line == 3
    assert str(caught.value).startswith(f"line 3: {words}")


def test_a_chain_named_hl_still_takes_a_bare_jump_in_either_family() -> None:
    for ipv6 in (False, True):
        parse_ruleset("*mangle\n:PREROUTING ACCEPT [0:0]\n:HL - [0:0]\n-A PREROUTING -j HL\nCOMMIT\n", ipv6=ipv6)
