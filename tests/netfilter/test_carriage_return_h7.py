"""A carriage return inside a restore line is a character of its word, quoted or not, as iptables-restore reads it
(h7); a file whose every line ends in CRLF is still read, as its LF twin (codec.crlf_as_lf).

Each case of :data:`CR_RULES` and :data:`CR_TEXTS` was fed to iptables-legacy-restore and iptables-nft-restore
v1.8.9 (--counters, a scratch ``ip netns``, kernel 6.18; then iptables-save -c): both refused it at the line given,
or both took it and saved the rules given. tests/kernel/test_restore_differential_p1 (FIXED_H7, FIXED_H7_TEXTS)
feeds them to this machine's tools on every kernel run.

A line ending in CR in a file of LF lines (one CRLF line) is read as iptables reads the file's other lines: its CR
is the last word's (a comment keeps it, ``-j ACCEPT\\r`` and ``COMMIT\\r`` are refused), since no other line says
the file is a CRLF one.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import codec, syntax
from kubeproxy_sim.netfilter.codec import crlf_as_lf, is_canonical_text, parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines
from tests.budget import budget
from tests.netfilter.restore_cases import FILTER, filter_with
from tests.netfilter.test_parse_shapes import no_shapes, outcome

COMMENT_CR = '-A INPUT -m comment --comment "abc\r" -j ACCEPT'

CR_RULES: tuple[tuple[str, int | None, tuple[str, ...]], ...] = (
    ("-A INPUT -j ACCEPT\r", 5, ()),  # Invalid target name `ACCEPT\r'
    ("[0:0] -A INPUT -j ACCEPT\r", 5, ()),
    ("-A INPUT -j ACCEPT -m comment --comment abc\r", None, (COMMENT_CR,)),
    ("-A INPUT -m comment --comment abc\r -j ACCEPT", None, (COMMENT_CR,)),
    ('-A INPUT -j ACCEPT -m comment --comment "abc\r"', None, (COMMENT_CR,)),
    ("-A INPUT -j ACCEPT -m comment --comment a\rb", None, ('-A INPUT -m comment --comment "a\rb" -j ACCEPT',)),
    ("-A INPUT -m comment --comment \r -j ACCEPT", None, ('-A INPUT -m comment --comment "\r" -j ACCEPT',)),
    ('-A INPUT -m comment --comment "abc"\r -j ACCEPT', 5, ()),  # Bad argument `\r'
    ("-A INPUT -j ACCEPT \r", 5, ()),  # Bad argument `\r'
    ("-A INPUT -s 10.0.0.1\r -j ACCEPT", 5, ()),  # host/network `10.0.0.1\r' not found
    ("-A INPUT -p tcp --dport 80\r -j ACCEPT", 5, ()),  # invalid port/service `80\r' specified
    ("-A INPUT -i eth0\r -j ACCEPT", None, ("-A INPUT -i eth0\r -j ACCEPT",)),
    ("-A INPUT -j LOG --log-prefix abc\r", None, ('-A INPUT -j LOG --log-prefix "abc\r"',)),
    ("-A INPUT --ipv6\r -j ACCEPT", 5, ()),  # unknown option "--ipv6\r"
    ("-A INPUT -4\r -j ACCEPT", 5, ()),  # unknown option "-4\r"
    ("-A INPUT\r -j ACCEPT", 5, ()),  # line 5 failed (no chain INPUT\r)
    ("\r-A INPUT -j ACCEPT", 5, ()),  # Bad argument `\r-A'
    ("[0:0]\r-A INPUT -j ACCEPT", 5, ()),
    ("\r", 5, ()),
    (" \t\r", 5, ()),
    ("-N \r", 5, ()),  # Invalid chain name `\r'
    ("-N a\rb", 5, ()),
)
"""(a line after FILTER's four, before COMMIT; the line refused, else None; the rules iptables-save printed)."""

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n"
CR_TEXTS: tuple[tuple[str, int | None, tuple[str, ...]], ...] = (
    ("*filter\r\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n", 1, ()),  # table name 'filter\r' invalid
    ("*filter\r\n:INPUT ACCEPT [0:0]\r\n-A INPUT -j ACCEPT\r\nCOMMIT\n", 1, ()),  # (one LF line: no CRLF file)
    (HEAD + "-A INPUT -j ACCEPT\nCOMMIT\r\n", 4, ()),  # Bad argument `COMMIT\r'
    ("\r\n" + HEAD + "COMMIT\n", 1, ()),  # line 1 failed
    ("*filter\n# hi\r\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n", None, ("-A INPUT -j ACCEPT",)),
    ("*filter\n:INPUT DROP [5:6]\r\n-A INPUT -j ACCEPT\nCOMMIT\n", None, ("-A INPUT -j ACCEPT",)),
    ("*filter\n:INPUT DROP [5:6] \r\n-A INPUT -j ACCEPT\nCOMMIT\n", None, ("-A INPUT -j ACCEPT",)),
    ("*filter\n:INPUT DROP [5:6] x\n-A INPUT -j ACCEPT\nCOMMIT\n", None, ("-A INPUT -j ACCEPT",)),
    ("*filter\n:INPUT DROP\r [5:6]\n-A INPUT -j ACCEPT\nCOMMIT\n", 2, ()),  # Bad policy name
    (HEAD + ":KUBE-X - [0:0]\r\n-A INPUT -j KUBE-X\nCOMMIT\n", None, ("-A INPUT -j KUBE-X",)),
    (HEAD + ":KUBE-Y\n-A INPUT -j ACCEPT\nCOMMIT\n", 3, ()),  # line 3 policy invalid
    (HEAD + ": \r\nCOMMIT\n", 3, ()),  # legacy: policy invalid; nft: Invalid chain name `\r'
    (HEAD + '-N "a b"\nCOMMIT\n', 3, ()),  # Invalid chain name `a b'
)
"""(a whole text; the line refused, else None; the rules iptables-save printed), ``--counters``."""

LEGACY_ONLY: tuple[tuple[str, int | None], ...] = (
    (HEAD + ":KUBE-X\r - [0:0]\nCOMMIT\n", None),  # nft: Invalid chain name `KUBE-X\r'
    (HEAD + ":KUBE-X -\r\n-A INPUT -j KUBE-X\nCOMMIT\n", 3),  # legacy: invalid policy counters; nft takes it
)
"""Where the two restores differ, read as legacy reads it (the parser's rule where they differ)."""


def saved(text: str) -> tuple[str, ...]:
    """The rules of ``text`` as ``rules --full`` prints them, split at newlines only (a CR stays in its line)."""
    lines = render_saved(save_lines(parse_ruleset(text, ipv6=False))).split("\n")
    return tuple(line for line in lines if line[:3] == "-A ")


def refused_at(text: str) -> int | None:
    try:
        parse_ruleset(text, file="node.rules", ipv6=False)
    except RulesSyntaxError as error:
        return error.line
    return None


@pytest.mark.parametrize(("line", "refused", "rules"), CR_RULES, ids=repr)
def test_a_cr_in_a_rule_line_is_its_word_s(line: str, refused: int | None, rules: tuple[str, ...]) -> None:
    text = filter_with(line)
    assert refused_at(text) == refused
    if refused is None:
        assert saved(text) == rules


@pytest.mark.parametrize(("text", "refused", "rules"), CR_TEXTS, ids=repr)
def test_a_cr_in_any_line_is_read_as_iptables_reads_it(text: str, refused: int | None,
                                                       rules: tuple[str, ...]) -> None:
    assert refused_at(text) == refused
    if refused is None:
        assert saved(text) == rules


@pytest.mark.parametrize(("text", "refused"), LEGACY_ONLY, ids=repr)
def test_where_the_restores_differ_legacy_is_followed(text: str, refused: int | None) -> None:
    assert refused_at(text) == refused


@pytest.mark.parametrize("validate", [True, False])
def test_a_crlf_file_reads_as_its_lf_twin(validate: bool) -> None:
    """Both restores refuse it at line 1 ('filter\\r'); it is read here deliberately, every line's final CR dropped,
    a CR inside a line kept, the last line's ending missing or not."""
    lf = filter_with(":KUBE-X - [0:0]", "-A INPUT -j KUBE-X", '-A KUBE-X -m comment --comment "a\rb" -j DROP')
    crlf = lf.replace("\n", "\r\n")
    want = outcome(lf, validate)
    assert outcome(crlf, validate) == want and outcome(crlf[:-2], validate) == want
    assert outcome(crlf[:-1], validate) == want  # (the last line cut after its CR)


def test_an_open_quote_of_a_crlf_file_takes_the_lf_line_end() -> None:
    """A CRLF file reads as its LF twin, whose open quote takes the newline; a lone CRLF line's keeps its CR
    (test_restore_parity_h2: both restores save "abc\\r\\n")."""
    line = '-A INPUT -j ACCEPT -m comment --comment "abc'
    crlf = filter_with(line).replace("\n", "\r\n")
    [rule] = parse_ruleset(crlf, ipv6=False).tables[0].rules()
    assert rule.parsed.options[-1].args == ("abc\n",)
    [rule] = parse_ruleset(filter_with(line + "\r"), ipv6=False).tables[0].rules()
    assert rule.parsed.options[-1].args == ("abc\r\n",)


@pytest.mark.parametrize(("text", "read"), [
    ("", ""), ("a\nb\n", "a\nb\n"), ("a\r\nb\r\n", "a\nb\n"), ("a\r\nb", "a\nb"), ("a\r\nb\r", "a\nb"),
    ("a\r\nb\n", "a\r\nb\n"), ("a\rb\r\n", "a\rb\n"), ("a\r", "a\r"), ("a\r\r\n", "a\r\n"),
])
def test_crlf_as_lf(text: str, read: str) -> None:
    assert crlf_as_lf(text) == read


def test_a_crlf_line_among_lf_ones_is_refused_naming_its_cr() -> None:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(FILTER + "-A INPUT -j ACCEPT\nCOMMIT\r\n", file="node.rules")
    assert str(info.value).startswith("node.rules:6: unexpected line at 'COMMIT\\r'")
    assert "a file whose every line ends in CRLF is read" in str(info.value)
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset("*filter\r\n" + FILTER[8:] + "COMMIT\n", file="node.rules")
    assert str(info.value).startswith("node.rules:1: unknown table at 'filter\\r'")


def test_the_tokenizer_keeps_a_cr_in_its_word() -> None:
    assert syntax.tokenize("-j A\rB \r c") == [syntax.Token("-j"), syntax.Token("A\rB"), syntax.Token("\r"),
                                               syntax.Token("c")]
    assert syntax.tokenize('--comment "a\r" x\r') == [syntax.Token("--comment"), syntax.Token("a\r", True),
                                                      syntax.Token("x\r")]
    assert syntax.tokenize('--comment "a"\r') == [syntax.Token("--comment"), syntax.Token("a", True),
                                                  syntax.Token("\r")]
    assert syntax.quote("a\r") == '"a\r"'


@pytest.mark.parametrize(("spec", "canonical"), [
    ('-m comment --comment "a\r" -j ACCEPT', True), ("-m comment --comment a\r -j ACCEPT", False),
    ("-j ACCEPT\r", False), ("-s 10.0.0.1\r -j ACCEPT", False), ('-m comment --comment "\r" -j X\r', False),
])
def test_the_canonical_text_check_takes_a_cr_only_quoted(spec: str, canonical: bool) -> None:
    assert is_canonical_text(spec) is canonical and is_canonical_text(spec, words=False) is canonical


def test_the_bulk_path_renders_a_bare_cr_quoted() -> None:
    """The bulk path stores canonical text unchecked: a bare CR's rule is read and written again, its CR quoted."""
    ruleset = parse_ruleset(filter_with("-A INPUT -m comment --comment abc\r -j ACCEPT"), validate=False)
    assert [rule.spec for rule in ruleset.tables[0].rules()] == ['-m comment --comment "abc\r" -j ACCEPT']


@pytest.mark.parametrize("spec", ["-s 10.0.0.1/32 -j KUBE-SVC-ABC", "-p tcp -m tcp --dport 80 -j ACCEPT",
                                  '-m comment --comment "a b" -j KUBE-SEP-X'])
def test_a_shape_takes_no_value_with_a_cr(spec: str) -> None:
    match = syntax.shape_matcher(spec)
    assert match is not None and match(spec) is not None
    words = spec.split(" ")
    for at in range(len(words)):
        for where in (0, len(words[at])):
            changed = " ".join([*words[:at], words[at][:where] + "\r" + words[at][where:], *words[at + 1:]])
            assert match(changed) is None, changed


KNOWN = ["-A KUBE-X -s 10.0.0.1/32 -j ACCEPT", "-A KUBE-X -p tcp -m tcp --dport 80 -j DROP",
         '-A KUBE-X -m comment --comment "a b" -j ACCEPT', "-A KUBE-X -m comment --comment ab -j ACCEPT"]


@settings(max_examples=budget(200), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KNOWN), st.integers(0, 60)), min_size=1, max_size=6),
       st.booleans())
def test_a_cr_anywhere_reads_alike_with_shapes_or_without(lines: list[tuple[str, int]], validate: bool) -> None:
    """Every line twice, the second with a CR at a drawn place: the fast paths (a shape learnt from the first, the
    canonical-text check) read it as the rule-by-rule path does."""
    body = [line for text, at in lines for line in (text, text[:at] + "\r" + text[at:])]
    text = "\n".join(["*filter", ":KUBE-X - [0:0]", *body, "COMMIT", ""])
    fast = outcome(text, validate)
    with no_shapes():
        assert outcome(text, validate) == fast
    if validate and fast[0] != "error":
        assert outcome(text, False) == fast


def test_the_shapes_are_cleared_between_reads() -> None:
    """(A guard for the test above: codec._Shapes is the parser's own, one per parse.)"""
    assert codec._Parser(None, True).shapes is not codec._Parser(None, True).shapes
