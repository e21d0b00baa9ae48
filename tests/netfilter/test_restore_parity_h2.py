"""What both iptables-restores v1.8.9 (legacy and nft, each in a network namespace of its own: ip netns add, kernel
6.18) did with three forms the parser read or printed otherwise: an interface named ``!`` (saved bare), a double
quote left open on a rule's line (its word is the rest of the line, newline included) and a cgroup ``--path``
longer than the kernel's field (cut to its first 511 bytes). tests/kernel/test_restore_differential_p1 checks the
same rules against this machine's tools (:data:`FIXED_H2` there); these need no root."""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from tests.netfilter.restore_cases import Case, filter_with
from tests.netfilter.test_codec_restore_parity import check_case


def saved_rules(*lines: str) -> str:
    """Our iptables-save text of a filter table holding ``lines``, from its first rule on (a rule whose value holds
    a newline is printed over two lines, as iptables-save prints it)."""
    text = render_saved(save_lines(parse_ruleset(filter_with(*lines), ipv6=False)))
    return text[text.index("\n-A ") + 1:text.index("COMMIT\n")]


# 1. An interface named "!": iptables-save prints interfaces with plain printf, so "!" bare, negated or not, for
#    -i, -o and physdev's --physdev-in and --physdev-out (restore reads a bare "!" after these as their value).

INTERFACE_BANG = [
    Case("-i !", filter_with("-A INPUT -i ! -j ACCEPT"), saved=("[0:0] -A INPUT -i ! -j ACCEPT",)),
    Case("! -i !", filter_with("-A INPUT ! -i ! -j ACCEPT"), saved=("[0:0] -A INPUT ! -i ! -j ACCEPT",)),
    Case('-i "!"', filter_with('-A INPUT -i "!" -j ACCEPT'), saved=("[0:0] -A INPUT -i ! -j ACCEPT",)),
    Case("-o !", filter_with("-A OUTPUT -o ! -j ACCEPT"), saved=("[0:0] -A OUTPUT -o ! -j ACCEPT",)),
    Case("-i ! -o !", filter_with("-A FORWARD -i ! -o ! -j ACCEPT"), saved=("[0:0] -A FORWARD -i ! -o ! -j ACCEPT",)),
    Case("--physdev-in !", filter_with("-A FORWARD -m physdev --physdev-in ! -j ACCEPT"),
         saved=("[0:0] -A FORWARD -m physdev --physdev-in ! -j ACCEPT",)),
    Case("--physdev-out !", filter_with("-A FORWARD -m physdev --physdev-out ! --physdev-is-bridged -j ACCEPT"),
         saved=("[0:0] -A FORWARD -m physdev --physdev-out ! --physdev-is-bridged -j ACCEPT",)),
]


@pytest.mark.parametrize("case", INTERFACE_BANG, ids=lambda c: c.name)
def test_an_interface_named_bang_is_saved_bare(case: Case) -> None:
    check_case(case)


def test_a_cgroup_path_named_bang_stays_quoted() -> None:
    """libxt_cgroup prints --path with xtables_save_string, which quotes all but [A-Za-z0-9_-] (both v1.8.9, in a
    cgroup namespace whose root holds a cgroup "!": ``--path !`` and ``! --path !`` saved ``--path "!"``)."""
    assert saved_rules("-A OUTPUT -m cgroup --path ! -j ACCEPT", "-A OUTPUT -m cgroup ! --path ! -j ACCEPT") == (
        '-A OUTPUT -m cgroup --path "!" -j ACCEPT\n-A OUTPUT -m cgroup ! --path "!" -j ACCEPT\n')


# 2. A double quote left open: add_param_to_argv ends its word at the end of the line, which fgets keeps, so the
#    word is the rest of the line, its trailing blanks (a carriage return too) and its newline; iptables-save
#    prints the value back over two lines. A word that cannot end in a newline is refused at the rule.

OPEN_QUOTES = [
    Case("open comment last", filter_with('-A INPUT -j ACCEPT -m comment --comment "abc def'),
         saved=('[0:0] -A INPUT -m comment --comment "abc def', '" -j ACCEPT')),
    Case("open comment over the target", filter_with('-A INPUT -m comment --comment "abc -j ACCEPT'),
         saved=('[0:0] -A INPUT -m comment --comment "abc -j ACCEPT', '"')),
    Case("open quote inside a word", filter_with('-A INPUT -j ACCEPT -m comment --comment x"abc'),
         saved=('[0:0] -A INPUT -m comment --comment "xabc', '" -j ACCEPT')),
    Case("open quote after an escaped one", filter_with('-A INPUT -j ACCEPT -m comment --comment "a\\"b'),
         saved=('[0:0] -A INPUT -m comment --comment "a\\"b', '" -j ACCEPT')),
    Case("open quote ending in a backslash", filter_with('-A INPUT -j ACCEPT -m comment --comment "ab\\'),
         saved=('[0:0] -A INPUT -m comment --comment "ab', '" -j ACCEPT')),
    Case("open quote alone", filter_with('-A INPUT -j ACCEPT -m comment --comment "'),
         saved=('[0:0] -A INPUT -m comment --comment "', '" -j ACCEPT')),
    Case("open quote with counters", filter_with('[5:6] -A INPUT -j ACCEPT -m comment --comment "abc'),
         saved=('[5:6] -A INPUT -m comment --comment "abc', '" -j ACCEPT')),
    Case("open quote inserted", filter_with('-I INPUT 1 -j ACCEPT -m comment --comment "abc'),
         saved=('[0:0] -A INPUT -m comment --comment "abc', '" -j ACCEPT')),
    Case("open quote after the target", filter_with('-A INPUT -j ACCEPT "'), line=5),  # Bad argument `\n'
    Case("open target", filter_with('-A INPUT -j "ACCEPT'), line=5),  # Invalid target name `ACCEPT\n'
    Case("open address", filter_with('-A INPUT -s "10.0.0.1 -j ACCEPT'), line=5),  # host/network ... not found
    Case("open protocol", filter_with('-A INPUT -p "tcp'), line=5),  # unknown protocol "tcp\n" specified
]


@pytest.mark.parametrize("case", OPEN_QUOTES, ids=lambda c: c.name)
def test_a_quote_left_open_takes_the_rest_of_the_line(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize(("line", "comment"), [
    ('-A INPUT -j ACCEPT -m comment --comment "abc  ', "abc  \n"),
    ('-A INPUT -j ACCEPT -m comment --comment "abc \t\r ', "abc \t\r \n"),
    ('-A INPUT -j ACCEPT -m comment --comment "abc\r', "abc\r\n"),
    ('  -A INPUT -j ACCEPT -m comment --comment "abc ', "abc \n"),
])
def test_an_open_quote_keeps_the_blanks_that_end_its_line(line: str, comment: str) -> None:
    """Both v1.8.9 saved each comment with its blanks and carriage return, then the newline (a line of a CRLF
    file: the word is ``abc\\r\\n``)."""
    rule = next(parse_ruleset(filter_with(line), ipv6=False).tables[0].rules())
    assert rule.parsed.options[-1].args == (comment,)
    assert saved_rules(line) == f'-A INPUT -m comment --comment "{comment}" -j ACCEPT\n'


def test_the_refusal_of_an_open_word_shows_its_newline() -> None:
    with pytest.raises(syntax.RulesSyntaxError) as info:
        parse_ruleset(filter_with('-A INPUT -s "10.0.0.1 -j ACCEPT'), file="node.rules", ipv6=False)
    assert str(info.value).startswith("node.rules:5: host/network `10.0.0.1 -j ACCEPT\\n' not found at ")


def test_a_quote_left_open_on_the_last_line_takes_no_newline() -> None:
    """No newline ends the text's last line (fgets gives none): its open word ends with the line."""
    assert syntax.tokenize('-m comment --comment "a b', end="") == [
        syntax.Token("-m"), syntax.Token("comment"), syntax.Token("--comment"), syntax.Token("a b", True)]
    assert syntax.tokenize('-j ACCEPT "', end="") == [syntax.Token("-j"), syntax.Token("ACCEPT")]
    assert syntax.tokenize('-j ACCEPT "') == [syntax.Token("-j"), syntax.Token("ACCEPT"), syntax.Token("\n", True)]


def test_a_closed_quote_is_read_as_before() -> None:
    assert syntax.tokenize('--comment "a b"  ', end="  \n") == [syntax.Token("--comment"), syntax.Token("a b", True)]
    assert syntax.tokenize('--comment ""') == [syntax.Token("--comment"), syntax.Token("", True)]


# 3. cgroup's --path: libxtables copies it into xt_cgroup_info_v2's 512-byte field and cuts what does not fit
#    (no refusal, either tool); the kernel looks the cut path up. A path of slashes names the root cgroup however
#    many there are, so these load anywhere.

LONG_PATHS = [
    Case("path of 511 slashes and more", filter_with("-A OUTPUT -m cgroup --path " + "/" * 511 + "zzz -j ACCEPT"),
         saved=('[0:0] -A OUTPUT -m cgroup --path "' + "/" * 511 + '" -j ACCEPT',)),
    Case("path of 600 slashes", filter_with("-A OUTPUT -m cgroup --path " + "/" * 600 + " -j ACCEPT"),
         saved=('[0:0] -A OUTPUT -m cgroup --path "' + "/" * 511 + '" -j ACCEPT',)),
    Case("negated long path", filter_with("-A OUTPUT -m cgroup ! --path " + "/" * 511 + "zzz -j ACCEPT"),
         saved=('[0:0] -A OUTPUT -m cgroup ! --path "' + "/" * 511 + '" -j ACCEPT',)),
]


@pytest.mark.parametrize("case", LONG_PATHS, ids=lambda c: c.name)
def test_a_long_cgroup_path_is_cut_to_the_kernel_s_field(case: Case) -> None:
    check_case(case)


def test_the_cut_path_is_the_first_511_bytes() -> None:
    """(Observed with a cgroup whose path is 511 bytes: a 612-byte path under it, and it with "zzzz" after,
    loaded and were saved as it; a 512-byte path whose first 511 bytes name no cgroup was refused.)"""
    path = "/a" * 300
    assert syntax.cgroup_path(path) == path[:511]
    assert syntax.cgroup_path(path[:511]) == path[:511]
    assert syntax.cgroup_path("/x") == "/x"


def test_a_character_the_cut_would_split_is_left_out() -> None:
    """The kernel would hold the first byte of "é" alone, which no text prints; the path here ends before it."""
    path = "/" * 510 + "éé"
    assert syntax.cgroup_path(path) == "/" * 510
    assert syntax.cgroup_path("/" * 509 + "é") == "/" * 509 + "é"
