"""codec._family_words_in: whether a text holds a -4 or -6 (--ipv4, --ipv6, --ipv) as a word, which sends it
to the reading that tries either family (codec._either_family). One search now; the words after a tab or at the
text's start, which the old substring prefilter missed, are found."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import _family_words_in, parse_ruleset

WORD = re.compile(r"(?:^|[ \t])(?:-[46]|--ipv[46]?)(?=[ \t\n]|$)", re.M)
"""The definition: after a line's start, a space or a tab; before a space, a tab or a line's end (a CR is a
character of the word, as iptables reads it: ``--ipv6\\r`` is an unknown option, h7)."""


@given(st.text(alphabet=" \t\r\n-46ipvAx", max_size=40))
def test_the_search_is_the_definition(text: str) -> None:
    assert _family_words_in(text) == (WORD.search(text) is not None)


def test_kube_proxy_s_words_are_no_family_words() -> None:
    assert not _family_words_in("-A KUBE-SEP-4ABCDEFGHIJKLMNO -s 10.0.0.4/32 -j KUBE-MARK-MASQ\n-A X -m tcp -j Y-6\n")


def test_a_family_word_after_a_tab_is_read_by_its_family() -> None:
    """iptables-restore reads a tab as a blank: the -6 rule is the other family's, skipped in IPv4 (it was refused:
    "-6 in a rule of a dump whose family is not given")."""
    text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT\t-4 -s 10.0.0.1 -j ACCEPT\n-A INPUT\t-6 -s fd00::1 -j DROP\nCOMMIT\n"
    ruleset = parse_ruleset(text)
    [table] = ruleset.tables
    assert [rule.spec for chain in table.chains for rule in chain.rules] == ["-s 10.0.0.1 -j ACCEPT"]
