"""What both iptables-restores v1.8.9 (legacy and nft, each in a scratch network namespace: ip netns add, kernel
6.18) and their iptables-saves did with three forms the parser read or printed otherwise: an interface name printed
as it is (``-i a b``, no quotes), an interface name that looks like an option (``-i -x``, getopt's argument) and a
-j/-g name iptables refuses whatever the chains are (``-j "B R"``, also in a partial input that declares no
built-in chain). tests/kernel/test_restore_differential_p1 checks the same rules against this machine's tools
(:data:`FIXED_H2B` there); these need no root."""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from tests.netfilter.restore_cases import Case, filter_with
from tests.netfilter.test_codec_restore_parity import check_case, refusal

# 1. Interfaces: iptables-save prints -i, -o, --physdev-in and --physdev-out with plain printf, whatever their
#    characters. Restore does not always read that back (noted per case).

INTERFACES_AS_THEY_ARE = [
    Case("blank", filter_with('-A INPUT -i "a b" -j ACCEPT'), saved=("[0:0] -A INPUT -i a b -j ACCEPT",)),
    Case("double quote", filter_with('-A INPUT -i "a\\"b" -j ACCEPT'), saved=('[0:0] -A INPUT -i a"b -j ACCEPT',)),
    Case("single quote", filter_with("-A INPUT -i \"a'b\" -j ACCEPT"), saved=("[0:0] -A INPUT -i a'b -j ACCEPT",)),
    Case("backslash", filter_with('-A INPUT -i "a\\\\b" -j ACCEPT'), saved=("[0:0] -A INPUT -i a\\b -j ACCEPT",)),
    Case("tab, negated", filter_with('-A INPUT ! -i "a\tb" -j ACCEPT'), saved=("[0:0] -A INPUT ! -i a\tb -j ACCEPT",)),
    Case("output wildcard", filter_with('-A OUTPUT -o "x y+" -j ACCEPT'), saved=("[0:0] -A OUTPUT -o x y+ -j ACCEPT",)),
    Case("physdev", filter_with('-A FORWARD -m physdev --physdev-in "a b" --physdev-out "c\\"d" -j ACCEPT'),
         saved=('[0:0] -A FORWARD -m physdev --physdev-in a b --physdev-out c"d -j ACCEPT',)),
    Case("trailing blank, last", filter_with('-A INPUT -i "a "'), saved=("[0:0] -A INPUT -i a ",)),
    Case("empty physdev name, last", filter_with('-A FORWARD -m physdev --physdev-in ""'),
         saved=("[0:0] -A FORWARD -m physdev --physdev-in ",)),
    # (the saved text read back: "-i a b" is "Bad argument `b'" at the rule; "-i a\"b" is the interface "ab", the
    # rest of the line and its newline, a quote left open: printed over two lines)
    Case("saved blank read back", filter_with("-A INPUT -i a b -j ACCEPT"), line=5),
    Case("saved quote read back", filter_with('-A INPUT -j ACCEPT -i a"b'),
         saved=("[0:0] -A INPUT -i ab", " -j ACCEPT")),
]


@pytest.mark.parametrize("case", INTERFACES_AS_THEY_ARE, ids=lambda c: c.name)
def test_an_interface_is_saved_as_it_is(case: Case) -> None:
    check_case(case)


def test_the_canonical_text_still_quotes_what_needs_quotes() -> None:
    """Only the save form prints the name bare: the rule's own text reads back to the same rule."""
    rule = next(parse_ruleset(filter_with('-A FORWARD -i "a b" -o "-x" -j ACCEPT'), ipv6=False).tables[0].rules())
    assert rule.spec == '-i "a b" -o "-x" -j ACCEPT'
    assert syntax.parse_spec(rule.spec) == rule.parsed


def test_a_rule_of_no_options_is_saved_without_a_blank() -> None:
    text = render_saved(save_lines(parse_ruleset(filter_with("-A INPUT"), ipv6=False)))
    assert "\n-A INPUT\n" in text


# 2. An interface that looks like an option: getopt hands -i, -o, --physdev-in and --physdev-out the next word
#    whatever it is; only its absence and an empty -i/-o are refused, and a name too long for IFNAMSIZ.

DASHED_INTERFACES = [
    Case("-i -x", filter_with("-A FORWARD -i -x -j ACCEPT"), saved=("[0:0] -A FORWARD -i -x -j ACCEPT",)),
    Case("! -i -x", filter_with("-A FORWARD ! -i -x -j ACCEPT"), saved=("[0:0] -A FORWARD ! -i -x -j ACCEPT",)),
    Case("-i --", filter_with("-A FORWARD -i -- -j ACCEPT"), saved=("[0:0] -A FORWARD -i -- -j ACCEPT",)),
    Case("-i --ipv6", filter_with("-A FORWARD -i --ipv6 -j ACCEPT"), saved=("[0:0] -A FORWARD -i --ipv6 -j ACCEPT",)),
    Case("-i -x!", filter_with("-A FORWARD -i -x! -j ACCEPT"), saved=("[0:0] -A FORWARD -i -x! -j ACCEPT",)),
    Case("--in-interface -x", filter_with("-A FORWARD --in-interface -x -j ACCEPT"),
         saved=("[0:0] -A FORWARD -i -x -j ACCEPT",)),
    Case("--out-interface --x", filter_with("-A FORWARD --out-interface --x -j ACCEPT"),
         saved=("[0:0] -A FORWARD -o --x -j ACCEPT",)),
    Case("-o -eth0 after the target", filter_with("-A FORWARD -j ACCEPT -o -eth0"),
         saved=("[0:0] -A FORWARD -o -eth0 -j ACCEPT",)),
    Case("each takes the other", filter_with("-A FORWARD -o -i -i -o -j ACCEPT"),
         saved=("[0:0] -A FORWARD -i -o -o -i -j ACCEPT",)),
    Case("-i -j last", filter_with("-A FORWARD -i -j"), saved=("[0:0] -A FORWARD -i -j",)),
    Case("--physdev-in -x", filter_with("-A FORWARD -m physdev --physdev-in -x -j ACCEPT"),
         saved=("[0:0] -A FORWARD -m physdev --physdev-in -x -j ACCEPT",)),
    Case("--physdev-in --physdev-out", filter_with("-A FORWARD -m physdev --physdev-in --physdev-out -j ACCEPT"),
         saved=("[0:0] -A FORWARD -m physdev --physdev-in --physdev-out -j ACCEPT",)),
    Case("--physdev-out -j", filter_with("-A FORWARD -m physdev --physdev-out -j -j ACCEPT"),
         saved=("[0:0] -A FORWARD -m physdev --physdev-out -j -j ACCEPT",)),
    Case("-i -j then a word", filter_with("-A FORWARD -i -j ACCEPT"), line=5),  # Bad argument `ACCEPT'
    Case("-i last", filter_with("-A FORWARD -i"), line=5),  # option "-i" requires an argument
    Case("--physdev-in last", filter_with("-A FORWARD -m physdev --physdev-in"), line=5),
    Case("-i -x twice", filter_with("-A FORWARD -i -x -i -y -j ACCEPT"), line=5),  # multiple -i flags
    Case("-i too long", filter_with("-A FORWARD -i -abcdefghijklmnop -j ACCEPT"), line=5),  # IFNAMSIZ
    Case("-i ! -x", filter_with("-A FORWARD -i ! -x -j ACCEPT"), line=5),  # the "!" is the name; -x no option
    Case("-i empty", filter_with('-A FORWARD -i "" -j ACCEPT'), line=5),  # Empty interface is likely ...
    Case("! -o empty", filter_with('-A FORWARD ! -o "" -j ACCEPT'), line=5),
    Case("--physdev-in empty", filter_with('-A FORWARD -m physdev --physdev-in "" -j ACCEPT'),
         saved=("[0:0] -A FORWARD -m physdev --physdev-in  -j ACCEPT",)),
]


@pytest.mark.parametrize("case", DASHED_INTERFACES, ids=lambda c: c.name)
def test_an_interface_takes_the_next_word_whatever_it_looks_like(case: Case) -> None:
    check_case(case)


def test_an_empty_interface_is_refused_in_our_words() -> None:
    assert str(refusal(filter_with('-A FORWARD -i "" -j ACCEPT'))) == (
        'node.rules:5: -i with an empty interface name (iptables: "Empty interface is likely to be undesired") at '
        """'""'; expected an interface name, or no -i to match any interface""")


def test_a_dashed_interface_is_read_alike_on_every_path() -> None:
    """The skeleton's fast path keeps such a word as literal text: the same view as the interpreter's."""
    spec = "-i -x -o -y -j ACCEPT"
    assert syntax.parse_spec(spec) == syntax.interpret(syntax.tokenize(spec))
    assert [o.args for o in syntax.parse_spec(spec).options] == [("-x",), ("-y",)]


# 3. A -j/-g name iptables refuses as it reads the option (parse_target), whatever the chains: empty, longer
#    than 28 bytes, or holding a blank (a quote left open takes the line's newline in). In a partial input (no
#    built-in chain declared) a jump to a chain the input does not declare is taken, as the node's; these not.

PARTIAL = "*filter\n:KUBE-A - [0:0]\n"


def partial_with(*lines: str) -> str:
    return PARTIAL + "".join(line + "\n" for line in lines) + "COMMIT\n"


BAD_TARGET_NAMES = [
    Case("blank", partial_with('-A KUBE-A -j "B R"'), line=3),
    Case("blank, goto", partial_with('-A KUBE-A -g "B R"'), line=3),
    Case("tab", partial_with('-A KUBE-A -j "B\tR"'), line=3),
    Case("vertical tab", partial_with('-A KUBE-A -j "B\vR"'), line=3),
    Case("open quote", partial_with('-A KUBE-A -j "X'), line=3),
    Case("open quote, last line", PARTIAL + '-A KUBE-A -j "X', line=3),  # (no newline: then no COMMIT either)
    Case("empty", partial_with('-A KUBE-A -j ""'), line=3),
    Case("29 bytes", partial_with("-A KUBE-A -j " + "A" * 29), line=3),
    Case("blank, then options", partial_with('-A KUBE-A -j "B R" --bogus'), line=3),
    Case("blank, then a second -j", partial_with('-A KUBE-A -j "B R" -j X'), line=3),
    Case("blank, in a full input", filter_with('-A INPUT -j "B R"'), line=5),
]


@pytest.mark.parametrize("case", BAD_TARGET_NAMES, ids=lambda c: c.name)
def test_a_target_name_iptables_refuses_is_refused_in_any_input(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize("line", [
    "-A KUBE-A -j KUBE-B", '-A KUBE-A -j "KUBE-B"', "-A KUBE-A -j " + "A" * 28, '-A KUBE-A -j "-x"',
])
def test_a_jump_to_the_node_s_chain_is_still_taken(line: str) -> None:
    """(Both tools refuse these too, in a namespace without the chain: "Couldn't load target"; a partial input
    leaves that to the node, :func:`codec.undeclared_jumps`.)"""
    rule = next(parse_ruleset(partial_with(line), ipv6=False).tables[0].rules())
    assert rule.parsed.target is not None and not syntax.target_name_problem(rule.parsed.target.name)


@pytest.mark.parametrize(("rule", "message"), [
    ('-A KUBE-A -j "B R"', "node.rules:3: invalid target name `B R': it holds a blank (iptables: \"Invalid target "
     "name\") at 'B R'; expected a chain's or a target's name without spaces, tabs or line ends (a quote left open "
     "takes the line's end)"),
    ('-A KUBE-A -j ""', "node.rules:3: invalid target name: empty (iptables: \"Invalid target name (too short)\") "
     "at '\"\"'; expected a chain's or a target's name after -j or -g"),
    ("-A KUBE-A -j " + "A" * 29, f"node.rules:3: invalid target name `{'A' * 29}': longer than 28 bytes (iptables: "
     f"\"Invalid target name (28 chars max)\") at '{'A' * 29}'; expected a chain's or a target's name of at most 28 "
     "bytes (XT_EXTENSION_MAXNAMELEN - 1)"),
])
def test_a_refused_target_name_is_said_in_our_words(rule: str, message: str) -> None:
    assert str(refusal(partial_with(rule))) == message


def test_the_open_quote_s_newline_is_shown() -> None:
    assert "invalid target name `X\\n'" in str(refusal(partial_with('-A KUBE-A -j "X')))


@pytest.mark.parametrize("name", ["B R", "", "A" * 29, "X\n", "é" * 15])
def test_no_fast_path_takes_a_name_iptables_refuses(name: str) -> None:
    """The skeleton's and the shapes' paths leave such a name to the interpreter, which refuses it."""
    spec = "-s 10.0.0.1/32 -j " + syntax.quote(name)
    with pytest.raises(syntax.RulesSyntaxError):
        syntax.parse_spec(spec)
    match = syntax.shape_matcher("-s 10.0.0.1/32 -j KUBE-SEP-X")
    assert match is not None and match("-s 10.0.0.1/32 -j KUBE-SEP-X") is not None
    assert match(spec) is None
    text = partial_with(*(f"-A KUBE-A -s 10.0.0.{i}/32 -j KUBE-SEP-{i}" for i in range(50)), f"-A KUBE-A {spec}")
    assert refusal(text).line == 53
