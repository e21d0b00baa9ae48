"""A node's dump as the commands that read one (``trace``, ``graph``, ``netns verify``) take it: its text (a
file, or standard input for ``-``), its family's tool, the words for an input of the other family than the
dump's, and the node addresses given with it.

A dump's family is its own (an iptables-save is IPv4, an ip6tables-save IPv6): a packet or a node address of
the other family is refused in one wording, naming the tool, not blamed on the dump's rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from kubeproxy_sim.errors import Diagnostic, InputError, UsageError, cannot_read
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS
from kubeproxy_sim.objects.stdin import NAME, StdinUnreadable, read_stdin, read_text, utf8_text

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.trace import Uncertainty

STDIN = "-"
"""``--rules -``: the dump is read from standard input (``iptables-save | kubeproxy-sim trace --rules - ...``)."""
STDIN_NAME = NAME
"""What messages call standard input (as ``-f -`` does)."""

LineText = Callable[[int, "str | None", "str | None"], "str | None"]
"""The text of a rule's cited line (``line``, of ``table`` and ``chain`` where the lines are per chain), as a
user finds it there; None: no such line. What ``trace`` cites a rule by, and ``graph``'s tooltips quote."""


def dump_name(path: str) -> str:
    """The dump as messages name it: the file, or ``<stdin>``."""
    return STDIN_NAME if path == STDIN else path


def read_dump_text(path: str) -> str:
    """The text of the dump at ``path`` (``-``: standard input), as ``--rules`` names it (every command that reads
    a dump takes it there). A file that cannot be read, or is not UTF-8, is an InputError naming the file and
    the flag, in errors.cannot_read's words. Every command reads its dump here, once, and keeps the text: a line
    a message, a citation or a tooltip numbers is a line of this text (standard input, a pipe, cannot be read
    again).

    A file and standard input read alike, their lines as iptables-restore reads them: no newline translation
    (a lone CR inside a comment is the comment's, not a line end; a CRLF line's CR is the parser's to drop), and
    a UTF-8 byte order mark dropped from both (a UTF-16 or UTF-32 one refused by name)."""
    try:
        if path == STDIN:
            return utf8_text(read_stdin())  # (as a file's: it said "invalid start byte" of a UTF-16 mark)
        return read_text(path, newline="")
    except StdinUnreadable as exc:
        raise InputError(Diagnostic(f"{exc.reason}; expected an iptables-save dump piped or redirected to it",
                                    file=STDIN_NAME)) from None
    except (OSError, UnicodeDecodeError) as exc:  # (standard input's bytes too, named <stdin>)
        raise InputError(Diagnostic(cannot_read(exc, "an iptables-save dump"), file=dump_name(path),
                                    field="--rules")) from None


def dump_lines(text: str) -> LineText:
    """The lines of a dump's ``text`` (as read), as a rule read from one is cited: that line without the blanks
    the parser strips (spaces, tabs, a CRLF line's CR; counters and quoting as written). Lines end at "\\n"
    only, as the parser's (codec) and iptables-restore's do: a CR, form feed or U+2028 inside a comment is part
    of its line, so the number cited is the parser's and the text is the whole rule. Split at the first line
    asked for: most traces cite a handful."""
    lines: list[str] = []

    def line_text(line: int, table: str | None = None, chain: str | None = None) -> str | None:
        if not lines:
            lines.extend(text.split("\n"))
        return lines[line - 1].strip(" \t\r") if 0 < line <= len(lines) else None

    return line_text


def save_tool(family: int) -> str:
    """The tool whose output a dump of this family is."""
    return "ip6tables-save" if family == 6 else "iptables-save"


def dump_family_mismatch(what: str, dump_family: int, expected: str) -> str:
    """``what`` (``the packet is IPv6``, ``fd00::1 is an IPv6 address``) said of an input of the other family
    than the dump's: ``..., but the dump is an iptables-save (IPv4); expected IPv4 EXPECTED``."""
    tool = save_tool(dump_family)
    return f"{what}, but the dump is an {tool} (IPv{dump_family}); expected IPv{dump_family} {expected}"


def dump_node_addresses(given: Iterable[str], family: int, prefixes: bool = False) -> tuple[str, ...]:
    """The ``--node-ip`` addresses given with a dump of this family: canonical, once each, without prefix
    lengths (``prefixes``: with each one given, as ``IP/LEN``, which tells a trace the subnet's broadcast
    address). Text that is no address (a usage error), or an address of the other family (a dual-stack node's
    IPv6 InternalIP with an iptables-save), is refused at ``--node-ip``: taken as given, it would make the
    dump's family of node addresses known and empty."""
    from kubeproxy_sim.netfilter.packet import format_address, parse_address, parse_network

    found: dict[str, None] = {}
    for text in given:
        head, slash, length = text.partition("/")
        try:
            of, value = parse_address(head)
        except ValueError as exc:  # text that is no address: the wrong shape, a usage error
            raise UsageError(Diagnostic(str(exc), field="--node-ip")) from None
        try:
            mask = parse_network(text)[2] if prefixes and slash else None
            if mask is not None and (not length or not _contiguous(mask, of)):
                raise ValueError(length)  # "IP/" or a netmask with holes: no prefix length a node can have
        except ValueError:
            raise UsageError(Diagnostic(f"{text!r}: {length!r} is no prefix length; expected IP or IP/PREFIX, "
                                        f"PREFIX 0-{32 if of == 4 else 128}",
                                        field="--node-ip")) from None
        address = format_address(of, value)
        if of != family:
            raise InputError(Diagnostic(dump_family_mismatch(f"{address} is an IPv{of} address", family,
                                                             "node addresses"), field="--node-ip"))
        found.setdefault(address if mask is None else f"{address}/{mask.bit_count()}")
    return tuple(found)


def _contiguous(mask: int, family: int) -> bool:
    """Whether a netmask is a prefix: ones, then only zeros (255.255.0.0; not 255.0.255.0)."""
    hosts = ~mask & ((1 << (32 if family == 4 else 128)) - 1)
    return hosts & (hosts + 1) == 0


KUBE_PROXY_TABLES = ("nat", "filter")
"""The tables kube-proxy writes on every node: a dump without one of them was saved in part (``-t nat``)."""
_LEGACY_WARNING = re.compile(r"^# Warning: iptables-legacy tables present, use (\S+) to see them[^\n]*", re.M)
"""iptables-nft-save's line (first or last) for a node that has legacy tables too (``ip6tables-legacy-save``)."""
_INCOMPATIBLE = re.compile(r"^# Table `(\w+)' is incompatible, use 'nft' tool[^\n]*", re.M)
"""iptables-nft-save's line in place of a table holding rules it cannot write (nft's own expressions)."""


def dump_gaps(text: str, tables: Iterable[str], ipv6: bool, *, nat_read: bool = True) -> tuple[Uncertainty, ...]:
    """What a trace of this dump cannot see, as uncertain assumptions: the rules iptables-nft-save says it left
    out (its own warning lines, cited by line), and the tables of the hooks a packet crosses that the dump lacks.

    An iptables-save names every table the node has; one it leaves out has no rules. But kube-proxy writes nat
    and filter on every node, so a dump without one of them was saved in part (``iptables-save -t nat``), and
    then raw, mangle and security are not known either. ``nat_read``: False for a packet that reads no nat rule
    (a reply), whose answer no nat table changes."""
    from kubeproxy_sim.netfilter.trace import Uncertainty

    gaps: list[Uncertainty] = []
    unchanged = "what it does is unknown, assumed empty: every packet passes it unchanged"
    if "# Warning: iptables-legacy" in text:
        for found in _LEGACY_WARNING.finditer(text):
            gaps.append(Uncertainty(_line_of(text, found.start()), found.group(0).rstrip(),
                                    "the node has iptables-legacy tables too, whose rules the kernel applies as "
                                    "well and this dump (iptables-nft's) leaves out; what they do is unknown, "
                                    "assumed to pass every packet unchanged (run "
                                    f"{found.group(1)} and trace that dump too)"))
    incompatible = {}
    if "is incompatible" in text:
        incompatible = {found.group(1): found for found in _INCOMPATIBLE.finditer(text)}
    for name, found in incompatible.items():
        gaps.append(Uncertainty(_line_of(text, found.start()), found.group(0).rstrip(),
                                f"table {name} holds rules iptables-nft cannot write, so the dump leaves it out; "
                                f"{unchanged} (run nft list table {'ip6' if ipv6 else 'ip'} {name} to see it)"))
    present = set(tables) | set(incompatible)
    walked = [name for name in BUILTIN_CHAINS if name not in present and (nat_read or name != "nat")]
    missing = [name for name in KUBE_PROXY_TABLES if name in walked]
    advice = f"save every table: {save_tool(6 if ipv6 else 4)} without -t"
    for name in missing:
        gaps.append(Uncertainty(None, f"table {name} (not in the dump)",
                                f"the dump has no {name} table, which kube-proxy writes on every node (saved in "
                                f"part, with -t?); {unchanged} ({advice})"))
    others = [name for name in walked if name not in KUBE_PROXY_TABLES]
    if others and any(name not in present for name in KUBE_PROXY_TABLES):  # saved in part: these unknown too
        names = ", ".join(others)
        gaps.append(Uncertainty(None, f"table{'s' if len(others) > 1 else ''} {names} (not in the dump)",
                                f"a dump saved in part says nothing of {names} either; what "
                                f"{'they do' if len(others) > 1 else 'it does'} is unknown, assumed empty: every "
                                f"packet passes unchanged ({advice})"))
    return tuple(gaps)


def _line_of(text: str, offset: int) -> int:
    """The number of the line at ``offset`` of ``text``."""
    return text.count("\n", 0, offset) + 1
