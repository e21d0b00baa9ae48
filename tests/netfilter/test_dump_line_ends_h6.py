"""A dump's lines as ``--rules`` reads them (h6): a file and standard input give the same text, lines end at "\\n"
only (as the parser's and iptables-restore's do), and a line is cited by the parser's number with its whole text.

iptables-restore v1.8.9 (legacy and nft, ip netns, kernel 6.18) takes a comment holding a CR, a form feed or
U+2028 and saves it back as it is; a bad rule after such a line is refused at the line counted by "\\n". It refuses
a CRLF dump ("table name 'filter\\r' invalid"); the parser drops a CRLF dump's line-final CRs (every line's: a
lone CRLF line keeps its CR, as iptables reads it, test_carriage_return_h7), so such a dump still reads here, read
from a file or from standard input alike.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.dumpfile import STDIN, dump_lines, read_dump_text

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"


def _both(data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The text read from a file holding ``data``, and from standard input giving it."""
    dump = tmp_path / "node.rules"
    dump.write_bytes(data)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    return read_dump_text(str(dump)), read_dump_text(STDIN)


@pytest.mark.parametrize("inside", ["\r", "\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_comment_s_line_breaking_character_is_its_line_s(inside: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """str.splitlines() splits at each of these, and universal newlines at the CR: the file's line 4 was cited as
    the comment's tail (``b" -j DROP``) and its CR was an 'unexpected line' at 4 that standard input accepted."""
    rule = f'-A FORWARD -m comment --comment "a{inside}b" -j DROP'
    data = (HEAD + rule + "\n-A FORWARD -j ACCEPT\nCOMMIT\n").encode()
    from_file, from_stdin = _both(data, tmp_path, monkeypatch)
    assert from_file == from_stdin == data.decode()
    lines = dump_lines(from_file)
    assert (lines(4), lines(5), lines(6)) == (rule, "-A FORWARD -j ACCEPT", "COMMIT")
    chain = parse_ruleset(from_file, file="node.rules").table("filter").chain("FORWARD")
    assert [(r.line, lines(r.line)) for r in chain.rules] == [(4, rule), (5, "-A FORWARD -j ACCEPT")]


def test_a_crlf_dump_reads_alike_and_cites_its_lines_without_the_cr(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [*HEAD.splitlines(), ":X - [0:0]", "-A FORWARD -j X", '-A X -m comment --comment "q" -j DROP', "COMMIT"]
    data = "".join(line + "\r\n" for line in lines).encode()
    from_file, from_stdin = _both(data, tmp_path, monkeypatch)
    assert from_file == from_stdin == data.decode()  # (the parser drops each line's CR)
    cite = dump_lines(from_file)
    table = parse_ruleset(from_file, file="node.rules").table("filter")
    cited = [(r.line, cite(r.line)) for name in ("FORWARD", "X") for r in table.chain(name).rules]
    assert cited == [(5, "-A FORWARD -j X"), (6, '-A X -m comment --comment "q" -j DROP')]


def test_a_refusal_after_a_comment_s_cr_names_the_line_iptables_does(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """(iptables-legacy-restore: "Couldn't load target `NOPE'", "Error occurred at line: 4".)"""
    data = b'*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "a\rb" -j ACCEPT\n-A INPUT -j NOPE\nCOMMIT\n'
    for text in _both(data, tmp_path, monkeypatch):
        with pytest.raises(syntax.RulesSyntaxError) as info:
            parse_ruleset(text, file="node.rules")
        assert info.value.line == 4 and "NOPE" in str(info.value)


@pytest.mark.parametrize(("data", "said"), [
    (b"\xef\xbb\xbf" + HEAD.encode() + b"COMMIT\n", None),
    (b"\xff\xfe*\x00", "a UTF-16 byte order mark at byte 0"),
    (b"*filter\n\xff\n", "invalid start byte at byte 8"),
])
def test_a_byte_order_mark_reads_alike(data: bytes, said: str | None, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's UTF-8 mark was dropped and standard input's was an 'unexpected line' at U+FEFF; a UTF-16 one was
    named on a file only."""
    dump = tmp_path / "node.rules"
    dump.write_bytes(data)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    if said is None:
        assert read_dump_text(str(dump)) == read_dump_text(STDIN) == HEAD + "COMMIT\n"
        return
    for path, name in ((str(dump), str(dump)), (STDIN, "<stdin>")):
        with pytest.raises(InputError) as info:
            read_dump_text(path)
        assert str(info.value) == (f"{name}: --rules: cannot read it: not UTF-8 text ({said}); expected an "
                                   "iptables-save dump")


def test_a_cited_line_keeps_what_the_parser_keeps() -> None:
    """Spaces, tabs and a CRLF's CR are stripped, as the parser strips them; no other blank (str.strip() took a
    form feed and U+2028 too) and no line past the last."""
    cite = dump_lines("*filter\n \t-A X -j DROP \r\n\x0c-A Y\u2028\nCOMMIT")
    assert [cite(n) for n in range(0, 6)] == [None, "*filter", "-A X -j DROP", "\x0c-A Y\u2028", "COMMIT", None]


# target_name_problem: parse_target's order (too short, too long, then isspace), both restores v1.8.9, ip netns:
# `-j "AAAAAAAAAAAAA BBBBBBBBBBBBBBB"` (29 bytes) is "Invalid target name `...' (28 chars max)", as a tab in a
# 30-byte name is, and `-j "B R"` "Invalid target name `B R'".

LONG = "(iptables: \"Invalid target name (28 chars max)\")"
BLANK = "(iptables: \"Invalid target name\")"


@pytest.mark.parametrize(("name", "said"), [
    ("A" * 13 + " " + "B" * 15, LONG),
    ("A" * 28 + "\tB", LONG),
    ("A" * 28 + "\n", LONG),
    ("é" * 14 + " ", LONG),
    ("B R", BLANK),
    ("A" * 27 + " ", BLANK),
    ("A" * 29, LONG),
])
def test_a_target_name_is_judged_in_iptables_order(name: str, said: str) -> None:
    problem = syntax.target_name_problem(name)
    assert problem is not None and problem[0].endswith(said)
    assert ("longer than 28 bytes" in problem[0]) == (said == LONG)


def test_a_long_name_with_a_blank_is_refused_at_its_line_as_too_long() -> None:
    name = "A" * 13 + " " + "B" * 15
    text = "*filter\n:INPUT ACCEPT [0:0]\n" + f'-A INPUT -j "{name}"\nCOMMIT\n'
    with pytest.raises(syntax.RulesSyntaxError) as info:
        parse_ruleset(text, file="node.rules")
    assert str(info.value).startswith(f"node.rules:3: invalid target name `{name}': longer than 28 bytes {LONG}")
    assert "holds a blank" not in str(info.value)


@pytest.mark.parametrize("spec", ["-s 10.0.0.1/32 -j KUBE-SVC-ABC", "-p tcp -m tcp --dport 80 -j ACCEPT"])
def test_a_shape_s_bare_target_ends_the_text(spec: str) -> None:
    """The shape's lookaheads are anchored at the text's very end (``\\Z``; ``$`` also holds before a final
    newline): a text ending in one is no match of its shape, a text of another target name of it is."""
    match = syntax.shape_matcher(spec)
    assert match is not None and match(spec) is not None
    assert match(spec + "\n") is None and match(re.sub(r"\S+$", "MARK", spec)) is None
    other = match(re.sub(r"\S+$", "KUBE-SEP-XYZ", spec))
    assert other is not None and other.group(1) == "KUBE-SEP-XYZ"
