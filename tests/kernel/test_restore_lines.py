"""kernel.stage.restore_lines: a dump restaged for iptables-restore keeps each line whole (split at "\\n" only, as
the parser and restore split), its final CR dropped; and such a dump loads into a scratch namespace."""

from __future__ import annotations

import pytest

from kubeproxy_sim.kernel.stage import restore_lines

COMMENTED = ('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "a{odd}b" -j ACCEPT\n'
             "-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")


@pytest.mark.parametrize("odd", ["\r", "\x0c", "\u2028", "\x1e", "\x85"], ids=["cr", "ff", "ls", "rs", "nel"])
def test_a_comment_s_odd_character_keeps_its_rule_on_one_line(odd: str) -> None:
    lines = restore_lines(COMMENTED.format(odd=odd))
    assert len(lines) == 5 and lines[2] == f'-A INPUT -m comment --comment "a{odd}b" -j ACCEPT'


def test_a_crlf_dump_loses_only_its_line_ends() -> None:
    text = COMMENTED.format(odd="x").replace("\n", "\r\n")
    assert restore_lines(text) == COMMENTED.format(odd="x").split("\n")[:-1]


def test_one_crlf_line_among_lf_lines_keeps_its_cr() -> None:
    """Not a CRLF file: the CR stays its line's last character, as the parser and iptables-restore read it."""
    text = COMMENTED.format(odd="x").replace('b" -j ACCEPT\n', 'b" -j ACCEPT\r\n', 1)
    assert restore_lines(text)[2].endswith('-j ACCEPT\r')


def test_no_final_newline_and_blank_lines() -> None:
    assert restore_lines("*filter\n\nCOMMIT") == ["*filter", "", "COMMIT"]
    assert restore_lines("") == []


def test_a_comment_holding_a_cr_loads_into_the_kernel(kernel: None, run_tag: str) -> None:
    """As `netns verify` stages it: restore takes the rule whole (it refused 'b" -j ACCEPT' at line 4 before)."""
    from kubeproxy_sim.kernel import nsexec
    from kubeproxy_sim.kernel.stage import load_dump, read_dump
    from kubeproxy_sim.netfilter.codec import parse_ruleset
    from tests.kernel.test_verify import _scratch

    text = COMMENTED.format(odd="\r")
    with _scratch(f"kpsim-{run_tag}-crl.n0") as scratch:
        _, left = load_dump(scratch, text, "cr.rules", read_dump(parse_ruleset(text)))
        assert left == []
        saved = nsexec.run(scratch, ["iptables-save", "-t", "filter"]).stdout  # (read as text: its CR reads "\n")
        assert '--comment "a\nb" -j ACCEPT' in saved and saved.count("-A INPUT ") == 2
