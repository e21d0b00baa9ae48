"""The presentation layer every command shares: colour, tables, trees, ``-o json|yaml|text``, progress.

The rule throughout: decorations are for people at a terminal. Colour appears
only when the stream is a terminal and NO_COLOR is unset (or ``--color always``);
box-drawing characters only on a terminal; the progress bar only on a terminal
stderr and only once a step has taken longer than a second. A pipe, a file or a
test therefore always gets plain, stable text.

A command wires it in with one or two calls::

    add_output_flags(parser)                # -o text|json|yaml and --color
    ...
    emit(data, args.output, text=lambda: render(data, console(args)))

and, around anything slow, ``with progress("loading objects"):``.
"""

from __future__ import annotations

import _thread  # (threading.Lock is its allocate_lock: the lock without importing threading, see progress)
import argparse
import errno
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO

from kubeproxy_sim.objects.values import value_class

if TYPE_CHECKING:
    import threading

    from kubeproxy_sim.cli.options import Inputs

FORMATS = ("text", "json", "yaml")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CODES = {
    "bold": "1", "dim": "2", "italic": "3", "underline": "4",
    "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36", "grey": "90",
}


class ColorMode(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


# --------------------------------------------------------------------------- flags


def add_color_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--color auto|always|never``; SUPPRESS keeps a subcommand from hiding the top-level value."""
    parser.add_argument("--color", choices=[m.value for m in ColorMode], default=argparse.SUPPRESS,
                        help="colour the output: auto (a terminal and NO_COLOR unset), always or never")


def add_output_flags(parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS,
                     default: str = "text") -> None:
    """``-o/--output FORMAT`` (text for people, json/yaml for programs) and ``--color``."""
    same = "; json and yaml carry the same content" if {"json", "yaml"} <= set(formats) else ""
    parser.add_argument("-o", "--output", choices=list(formats), default=default, metavar="|".join(formats),
                        help=f"output format (default {default}){same}")
    add_color_flag(parser)


def color_mode(args: argparse.Namespace | None) -> ColorMode:
    return ColorMode(getattr(args, "color", None) or ColorMode.AUTO)


# --------------------------------------------------------------------------- the console


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def color_enabled(stream: TextIO, mode: ColorMode = ColorMode.AUTO,
                  environ: Mapping[str, str] | None = None) -> bool:
    """Colour when asked, or (auto) on a terminal that is not dumb and when NO_COLOR is unset or empty."""
    if mode is ColorMode.ALWAYS:
        return True
    if mode is ColorMode.NEVER:
        return False
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def unicode_enabled(stream: TextIO) -> bool:
    """Box drawing only on a terminal whose encoding can show it; pipes and files get ASCII."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return is_terminal(stream) and encoding in ("utf8", "utf16", "utf32")


ASCII_BARS = str.maketrans({"█": "#", "▏": " ", "▎": " ", "▍": " ", "▌": "#", "▋": "#", "▊": "#", "▉": "#"})
"""Eighth-block bars in ASCII: a full block is ``#``, a part of half or more rounds up to one, less to a space.

One character for one, so a bar keeps its width and the columns after it stay aligned."""


def plain_bars(text: str, con: Console) -> str:
    """Bars drawn in eighth blocks, as ``#`` where the console cannot show them (a pipe, a file, ASCII)."""
    return text if con.unicode else text.translate(ASCII_BARS)


def paint(text: str, *styles: str, enabled: bool = True) -> str:
    """``text`` wrapped in ANSI SGR codes for ``styles`` (names of CODES); unchanged when disabled."""
    codes = ";".join(CODES[s] for s in styles if s)
    if not enabled or not codes or not text:
        return text
    return f"\x1b[{codes}m{text}\x1b[0m"


def visible_len(text: str) -> int:
    """The width a coloured string takes on screen."""
    return len(ANSI.sub("", text))


@value_class
class Console:
    """Where output goes and what it may use there: colour and box-drawing characters."""

    stream: TextIO
    color: bool = False
    unicode: bool = False

    @classmethod
    def of(cls, stream: TextIO, mode: ColorMode = ColorMode.AUTO,
           environ: Mapping[str, str] | None = None) -> Console:
        return cls(stream, color_enabled(stream, mode, environ), unicode_enabled(stream))

    @property
    def fancy(self) -> bool:
        """Whether a person is (probably) watching: then richer layouts are worth it."""
        return self.color or self.unicode

    def paint(self, text: str, *styles: str) -> str:
        return paint(text, *styles, enabled=self.color)

    def write(self, text: str) -> None:
        self.stream.write(text)


def console(args: argparse.Namespace | None = None, stream: TextIO | None = None) -> Console:
    """The console for standard output (or ``stream``), honouring ``--color`` when the command has it."""
    return Console.of(stream if stream is not None else sys.stdout, color_mode(args))


def err_console(args: argparse.Namespace | None = None) -> Console:
    return Console.of(sys.stderr, color_mode(args))


# --------------------------------------------------------------------------- -o json|yaml|text


def to_json(data: Any) -> str:
    """``json.dumps(data, indent=2)`` and a newline, byte for byte, several times faster on large outputs."""
    pieces: list[str] = []
    write_json(data, pieces.append)
    return "".join(pieces)


def write_json(data: Any, write: Callable[[str], object], *, depth: int = 0) -> None:
    """``to_json(data)`` handed to ``write`` in pieces of some hundred kilobytes, never as one string;
    ``depth`` > 0: ``data`` as it stands that many levels deep in a larger document (its lines indented
    to match, no newline after it), for :class:`ItemStream`, which writes that document's items one by one.

    Why our own writer: the standard library's C encoder does not indent (CPython 3.11), and its
    pure-Python indenting encoder took 3 of the 3.8 s of ``rules -o json`` on 10,000 services. So the
    structure is walked here, and every container that holds only scalars, where nearly all of any
    output's values are (an outcome, a rule's table, chain and text), is written in one call of that
    C encoder, its item separator carrying the newline and indentation of its depth. Streamed, a
    gigabyte of ``dist -o json`` never exists as one string beside its parts.

    The price: a failure while writing (a bug, Ctrl-C) leaves the part already written on the stream, a
    cut-off document, as README's Exit status says. Holding documents back until some size would spare
    the ordinary ones that, but needs a second path in both writers and still cuts the large ones, where
    a Ctrl-C during seconds of writing is likeliest; the exit status is what says a document is whole.
    """
    parts: list[str] = []

    def flush() -> None:
        write("".join(parts))
        parts.clear()

    _json_walk(data, parts, flush, "\n" + _INDENT * depth)
    if not depth:
        parts.append("\n")
    flush()


_ESCAPE = json.encoder.encode_basestring_ascii  # what json.dumps(ensure_ascii=True) escapes strings with
_INDENT = "  "
_SCALARS = {None: "null", True: "true", False: "false"}
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # json.dumps's spelling (allow_nan)
_FLAT_TYPES = frozenset({str, int, float, bool, type(None)})  # exactly these: a subclass takes the slow road
_FLUSH_AT = 1 << 14  # parts held before they are joined and written
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # the C accelerator's, where built
_FLAT_ENCODERS: dict[str, Callable[[Any, int], Sequence[str]]] = {}


def _flat_encoder(inner: str) -> Callable[[Any, int], Sequence[str]] | None:
    """The C encoder writing a container of scalars whose items go on lines starting ``inner``.

    None where the C encoder is missing (another Python implementation): then everything is walked.
    """
    encoder = _FLAT_ENCODERS.get(inner)
    if encoder is None and _C_MAKE_ENCODER is not None:
        encoder = _FLAT_ENCODERS[inner] = _C_MAKE_ENCODER(
            None, None, _ESCAPE, None, ": ", "," + inner, False, False, True)  # no default: only scalars come
    return encoder


def _json_walk(value: Any, parts: list[str], flush: Callable[[], None], newline: str = "\n") -> None:
    """Append ``value`` as indented JSON, depth first with an explicit stack, as ``_render_children`` walks;
    ``newline``: a newline and the indentation of ``value``'s level.

    Not recursive: json.dumps's indenting encoder spends a frame a level and fails past some 990 levels;
    a walk recursing here spent more and failed sooner, on documents json.dumps writes. This one has no
    depth limit of its own (a subclass, handed to json.dumps, still has that one's).
    """
    stack: list[tuple[Iterator[Any], bool, str]] = []  # open containers: items left, an object?, its newline
    opened = False  # whether the last value opened a container: then the next item is its first
    while True:
        kind = type(value)
        if kind is dict or kind is list or kind is tuple:
            items = _json_open(value, newline, parts)
            if items is not None:
                stack.append((items, kind is dict, newline))
                opened = True
        else:
            parts.append(_json_scalar(value, newline))
        if len(parts) >= _FLUSH_AT:
            flush()
        while stack:  # the next item of the innermost open container; those with none left are closed
            items, is_object, closing = stack[-1]
            item = next(items, _END)
            if item is not _END:
                break
            stack.pop()
            parts.append(closing + ("}" if is_object else "]"))
        else:
            return
        newline = closing + _INDENT
        separator = newline if opened else "," + newline
        opened = False
        if is_object:
            key, value = item
            parts.append(separator + _ESCAPE(key if type(key) is str else _json_key(key)) + ": ")
        else:
            parts.append(separator)
            value = item


_END: Any = object()  # what next() gives for an open container's items once they are all written


def _json_open(value: dict | list | tuple, newline: str, parts: list[str]) -> Iterator[Any] | None:
    """Append a container whole when it is empty or holds only scalars (one C call), else its opening
    bracket: then its items (key-value pairs of an object) are returned for the walk to write."""
    if not value:
        parts.append("{}" if type(value) is dict else "[]")
        return None
    inner = newline + _INDENT
    encoder = _flat_encoder(inner)
    if encoder is not None and _FLAT_TYPES.issuperset(map(type, value.values() if type(value) is dict else value)):
        text = "".join(encoder(value, 0))  # '{' first item ',' + inner ... last item '}'
        parts.append(text[0] + inner + text[1:-1] + newline + text[-1])
        return None
    if type(value) is dict:
        parts.append("{")
        return iter(value.items())
    parts.append("[")
    return iter(value)


def _json_scalar(value: Any, newline: str) -> str:
    """A value that is no plain container; ``newline`` indents what json.dumps writes of a subclass."""
    kind = type(value)
    if kind is str:
        return _ESCAPE(value)
    if value is None or kind is bool:
        return _SCALARS[value]
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        text = float.__repr__(value)
        return _NONFINITE.get(text, text)
    return json.dumps(value, indent=2).replace("\n", newline)  # a subclass: json.dumps's spelling (or TypeError)


def _json_key(key: Any) -> str:
    """A non-string key as json.dumps writes it (numbers, true/false/null; TypeError for the rest)."""
    return next(iter(json.loads(json.dumps({key: 0}))))


def to_yaml(data: Any) -> str:
    """YAML with the data's own key order (stable: the order the command builds its dicts in).

    Non-ASCII text is escaped, as ``-o json`` escapes it: a machine format must not depend on the locale of
    the stream it is written to (an ASCII or Latin-1 terminal could not encode a comment's emoji).
    """
    buffer = io.StringIO()
    write_yaml(data, buffer)
    return buffer.getvalue()


def write_yaml(data: Any, stream: TextIO) -> None:
    """``to_yaml(data)`` written to ``stream`` as the emitter goes, not held as one string first (so a failure
    may leave a cut-off document, as ``write_json`` says). A string go-yaml v2 would read as something else
    (``n``, ``0o17``, ``1e3``) is quoted, so that kubectl, and this tool's own reader, read back what was written."""
    import yaml

    from kubeproxy_sim.objects.load import go_safe_dumper

    yaml.dump(data, stream, Dumper=go_safe_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=False,
              width=1 << 16)


def render(data: Any, fmt: str, text: str | Callable[[], str] | None = None) -> str:
    """``data`` in ``fmt``; text is ``text`` (a string or a function making it), else YAML for people."""
    if fmt == "json":
        return to_json(data)
    if fmt == "yaml":
        return to_yaml(data)
    if fmt != "text":
        raise ValueError(f"output format {fmt!r}; expected one of {FORMATS}")
    if text is None:
        return to_yaml(data)
    return text() if callable(text) else text


def emit(data: Any, fmt: str, text: str | Callable[[], str] | None = None, stream: TextIO | None = None) -> None:
    """Write ``data`` as ``-o`` asks: json/yaml from the data itself, text from ``text``."""
    out = stream if stream is not None else sys.stdout
    if fmt == "json":  # streamed: a large output never exists as one string
        write_json(data, out.write)
    elif fmt == "yaml" or (fmt == "text" and text is None):
        write_yaml(data, out)
    else:
        out.write(render(data, fmt, text))


@dataclass(slots=True)
class ItemStream:
    """``{key: [item, ...]}`` in ``-o json|yaml`` written an item at a time, as each is made, and flushed:
    byte for byte what ``emit({key: items}, fmt)`` writes of the whole list, while a long run shows its
    items as they come and never holds more than one.

    JSON: the opening (``{``, the key, ``[``) goes out with the first item, each later item after its
    comma, and the closing brackets with :meth:`close`. YAML: ``key:`` first, then each item as a
    one-item sequence: PyYAML writes a block sequence under a mapping's key unindented, so its items
    are the lines of a top-level sequence's. A document whose :meth:`close` never came (the run died)
    ends where the run stopped: after its last whole item, or inside the one being written.

    On a progress line's terminal (standard output a :class:`_BesideBar`), JSON goes out a line at a time:
    an item's last line (``    }``) waits for the comma or the closing bracket after it. Text ending
    mid-line holds the bar back, so written whole the item would hide the bar until the next one came,
    the wait the bar is there for; YAML's items, as text's steps, end their lines already. A pipe or a
    file gets each item whole at once, for a reader that parses as it goes.
    """

    key: str
    fmt: str  # json or yaml
    stream: TextIO | None = None  # None: standard output, looked up at each write (see :func:`progress`)
    count: int = 0  # the items written
    tail: str = ""  # JSON beside a progress line: the end of the last line written, not sent yet

    @property
    def out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def add(self, item: Any) -> None:
        if self.fmt == "json":
            opening = ("{\n" + _INDENT + _ESCAPE(self.key) + ": [") if not self.count else ","
            self._write(opening + "\n" + _INDENT * 2)
            write_json(item, self._write, depth=2)
        else:
            if not self.count:
                self.out.write(to_yaml({self.key: []}).removesuffix(" []\n") + "\n")
            write_yaml([item], self.out)
        self.count += 1
        self.out.flush()

    def close(self) -> None:
        """End the document; with no item written, write it whole (an empty list)."""
        if not self.count:
            emit({self.key: []}, self.fmt, stream=self.out)
        elif self.fmt == "json":
            self._write("\n" + _INDENT + "]\n}\n")
        self.out.flush()

    def settle(self) -> None:
        """Send what waits for the end of its line: a run that dies leaves its document where it stopped."""
        if self.tail:
            self.out.write(self.tail)
            self.tail = ""
            self.out.flush()

    def _write(self, text: str) -> None:
        """JSON out: beside a progress line only up to the last line end, the rest held (see the class)."""
        text, self.tail = self.tail + text, ""
        if isinstance(self.out, _BesideBar):
            cut = text.rfind("\n") + 1
            text, self.tail = text[:cut], text[cut:]
        if text:
            self.out.write(text)


@contextmanager
def item_stream(key: str, fmt: str, stream: TextIO | None = None) -> Iterator[ItemStream | None]:
    """An :class:`ItemStream` of ``{key: [...]}`` on standard output (or ``stream``) for ``-o json|yaml``, None
    for text (which the command writes itself), closed as the block ends: normally, or by an error the command
    reports (a KubeproxySimError), then only if an item was written, so that such a run leaves a whole document
    or none, as README's Exit status says; an output gone by then (the reader closed the pipe) cannot take the
    closing brackets, and that must not replace the command's error, its words and status being the run's
    answer. Any other end (Ctrl-C, an output that cannot be written, a bug) leaves the document where it
    stopped, the line it held beside a progress line sent: closing brackets there would pass a cut run for a
    whole one."""
    from kubeproxy_sim.errors import KubeproxySimError

    if fmt == "text":
        yield None
        return
    document = ItemStream(key, fmt, stream)
    try:
        yield document
    except KubeproxySimError:
        if document.count:
            with suppress(OSError):
                document.close()
        raise
    except BaseException:
        with suppress(OSError):
            document.settle()
        raise
    document.close()


# --------------------------------------------------------------------------- diagnostics


SEVERITY_STYLES = {"error": ("red", "bold"), "warning": ("yellow",), "note": ("dim",)}


def report(diagnostics: Iterable[object], args: argparse.Namespace | None = None,
           stream: TextIO | None = None) -> None:
    """Each diagnostic on stderr as ``kubeproxy-sim: ...``, coloured by severity on a terminal. A standard error
    closed before the program started (``2>&-``; Python's is then None) cannot take them: an output that cannot
    be written (EBADF), as a full one's (ENOSPC) is, not an AttributeError taken for a bug of ours."""
    diagnostics = list(diagnostics)
    target = stream if stream is not None else sys.stderr
    if target is None and diagnostics:
        raise OSError(errno.EBADF, "standard error is closed")
    con = Console.of(target, color_mode(args))
    for diagnostic in diagnostics:
        severity = getattr(getattr(diagnostic, "severity", None), "value", "error")
        con.write(con.paint(f"kubeproxy-sim: {diagnostic}", *SEVERITY_STYLES.get(severity, ())) + "\n")


def refuse_nothing_read(inputs: Inputs, command: str) -> None:
    """Stop a command (exit 1, its errors already reported) whose input had errors and left no object read: a
    trace of empty tables or connections into an empty cluster would answer for a cluster nobody described
    (``dist`` says no service port matches). An input empty without errors is a cluster of nothing, answered."""
    from kubeproxy_sim.objects.model import Cluster

    if inputs.errors and inputs.cluster == Cluster():
        from kubeproxy_sim.errors import Diagnostic, InputError

        raise InputError(Diagnostic(f"no object could be read (the errors above say why); nothing to {command}"))


# --------------------------------------------------------------------------- tables


@value_class
class Column:
    """A table column: its header, alignment, and a function choosing a cell's styles from its text."""

    header: str
    align: str = "left"  # or "right" (numbers)
    style: Callable[[str], Sequence[str]] | None = None


def render_table(columns: Sequence[Column | str], rows: Iterable[Sequence[object]], *,
                 color: bool = False, gap: int = 3) -> str:
    """kubectl-style columns: an upper-case header, cells padded to the widest, no trailing blanks."""
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    for row in cells:
        if len(row) != len(cols):
            raise ValueError(f"a row has {len(row)} cells; expected {len(cols)}")
    widths = [max([visible_len(c.header)] + [visible_len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    header = [paint(c.header.upper(), "bold", enabled=color) for c in cols]
    lines = [_table_line(header, widths, cols, gap)]
    for row in cells:
        styled = [paint(v, *(c.style(v) if c.style else ()), enabled=color) for v, c in zip(row, cols, strict=True)]
        lines.append(_table_line(styled, widths, cols, gap))
    return "\n".join(lines) + "\n"


def _table_line(values: Sequence[str], widths: Sequence[int], cols: Sequence[Column], gap: int) -> str:
    parts = []
    for value, width, col in zip(values, widths, cols, strict=True):
        pad = " " * (width - visible_len(value))
        parts.append(pad + value if col.align == "right" else value + pad)
    return (" " * gap).join(parts).rstrip()


# --------------------------------------------------------------------------- trees


@value_class
class TreeNode:
    """A node of a tree :func:`render_tree` draws: its label, painted with ``styles``, and the nodes under it."""

    label: str
    children: tuple[TreeNode, ...] = ()
    styles: tuple[str, ...] = ()


@value_class
class TreeChars:
    """The four prefixes of a tree: a child, the last child, under a child, under the last child."""

    branch: str
    last: str
    pipe: str
    space: str


UNICODE_TREE = TreeChars("├── ", "└── ", "│   ", "    ")
ASCII_TREE = TreeChars("|-- ", "`-- ", "|   ", "    ")
INDENT_TREE = TreeChars("  ", "  ", "  ", "  ")  # plain indentation: the stable form scripts may read


def tree_chars(con: Console) -> TreeChars:
    return UNICODE_TREE if con.unicode else ASCII_TREE


def render_tree(roots: Iterable[TreeNode], chars: TreeChars = ASCII_TREE, *, color: bool = False,
                indent: str = "") -> list[str]:
    """The lines of a forest: each root at ``indent``, children under it with ``chars``' prefixes."""
    lines: list[str] = []
    for root in roots:
        lines.append(indent + paint(root.label, *root.styles, enabled=color))
        _render_children(root.children, chars, color, indent, lines)
    return lines


def _render_children(children: Sequence[TreeNode], chars: TreeChars, color: bool, prefix: str,
                     lines: list[str]) -> None:
    """Depth first with an explicit stack: a dump may nest chains thousands deep, past Python's recursion."""
    stack = [(prefix, children, 0)]
    while stack:
        prefix, siblings, index = stack.pop()
        if index >= len(siblings):
            continue
        child = siblings[index]
        last = index == len(siblings) - 1
        lines.append(prefix + (chars.last if last else chars.branch) + paint(child.label, *child.styles,
                                                                              enabled=color))
        stack.append((prefix, siblings, index + 1))
        if child.children:
            stack.append((prefix + (chars.space if last else chars.pipe), child.children, 0))


# --------------------------------------------------------------------------- progress

SPINNER_UNICODE = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_ASCII = "|/-\\"


@dataclass(slots=True)
class Progress:
    """A progress line for one slow step; drawn only once the step has lasted ``delay`` seconds.

    ``total`` None is a step whose size is unknown (a spinner with the elapsed
    time). The clock is injected so that drawing can be tested without sleeping.
    """

    label: str
    total: int | None
    stream: TextIO
    clock: Callable[[], float] = time.monotonic
    delay: float = 1.0
    interval: float = 0.25
    """At most four redraws a second: a line is ~140 bytes with the Unicode bar (3 bytes a cell), so 0.1 s wrote
    1.4 kB/s, more than a 9600-baud serial console carries (960 B/s) and ten small writes a second over ssh, for
    tenths of a second no one reads (b8: send --count 20000 drew 57 times in 5.6 s, 8 kB)."""
    width: int = 30
    unicode: bool = False
    count: int = 0
    started: float = 0.0
    drawn_at: float | None = None
    shown: bool = False  # on the screen now (erased before text beside it, drawn again at the next due tick)
    frame: int = 0
    lock: _thread.LockType = field(default_factory=_thread.allocate_lock)
    held: bool = False  # text beside the bar ended mid-line: drawn now, the bar would write over it

    def start(self) -> None:
        self.started = self.clock()

    def tick(self, n: int = 1) -> None:
        self.count += n
        now = self.clock()
        if now - self.started >= self.delay and (self.drawn_at is None or now - self.drawn_at >= self.interval):
            self.draw(now)

    def line(self, now: float) -> str:
        """The text of the progress line at time ``now`` (no control characters)."""
        elapsed = f"{now - self.started:.1f}s"
        if self.total is None or self.total <= 0:
            frames = SPINNER_UNICODE if self.unicode else SPINNER_ASCII
            spin = frames[self.frame % len(frames)]
            count = f" {self.count}" if self.count else ""
            return f"{self.label} {spin}{count} {elapsed}"
        done = min(self.count, self.total)
        filled = self.width * done // self.total
        full, empty = ("█", "░") if self.unicode else ("#", "-")
        bar = full * filled + empty * (self.width - filled)
        return f"{self.label} [{bar}] {done}/{self.total} {100 * done // self.total}% {elapsed}"

    def draw(self, now: float | None = None) -> None:
        with self.lock:
            if self.held:
                return
            now = self.clock() if now is None else now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()
            self.drawn_at = now
            self.shown = True
            self.frame += 1

    def due(self) -> bool:
        now = self.clock()
        return now - self.started >= self.delay and (self.drawn_at is None or now - self.drawn_at >= self.interval)

    def clear(self) -> None:
        """Leave the terminal as it was: the line erased, nothing scrolled."""
        with self.lock:
            self._erase()

    def _erase(self) -> None:
        """The line erased (the lock held); the next tick due draws it again."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class _BesideBar:
    """A standard stream that shows on the progress line's terminal, while the line is shown: each write
    first erases the line, so the text starts at the left edge, not after the bar ("... 22% 1.0s- step: 339"),
    and goes out at once, under the bar's lock, so that the bar comes back only below it. Text that ends
    mid-line holds the bar back until its line is done: drawn there, the bar would write over it. Its
    ``buffer`` (bytes, as ``graph`` writes an image) goes the same way, as does ``writelines``."""

    def __init__(self, stream: Any, bar: Progress, newline: str | bytes = "\n") -> None:
        self._stream = stream
        self._bar = bar
        self._newline = newline

    def write(self, text: Any) -> int:
        with self._bar.lock:
            self._bar._erase()
            written: int = self._stream.write(text)
            self._stream.flush()
            if text:
                self._bar.held = not text.endswith(self._newline)
        return written

    def writelines(self, lines: Iterable[Any]) -> None:
        """One write of them all (the stream's own would pass by :meth:`write` and its erase)."""
        self.write(self._newline[:0].join(lines))

    @property
    def buffer(self) -> _BesideBar:
        return _BesideBar(self._stream.buffer, self._bar, b"\n")

    def __getattr__(self, name: str) -> Any:  # the rest (flush, fileno, isatty, encoding, ...) is the stream's
        return getattr(self._stream, name)


def _unwrap_in_child() -> None:
    """In a process forked inside a progress block (yamlsplit's loader, the kernel backend's namespace
    children): its standard streams are the real ones again, and the bar is silent with a fresh lock. The bar
    is the parent's to draw, and its thread, which may have held the lock at the fork, does not exist here: a
    write through the lock would wait forever."""
    for name in ("stdout", "stderr"):
        beside = getattr(sys, name)
        if isinstance(beside, _BesideBar):
            setattr(sys, name, beside._stream)
            beside._bar.lock = _thread.allocate_lock()
            beside._bar.held = True  # never drawn here: no erase, no redraw over the parent's
            beside._bar.shown = False


if hasattr(os, "register_at_fork"):  # (a process-wide hook: it does nothing outside a progress block)
    os.register_at_fork(after_in_child=_unwrap_in_child)


def _same_terminal(stream: TextIO | None, terminal: TextIO) -> bool:
    if stream is None or not is_terminal(stream):
        return False
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.fstat(terminal.fileno()))
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


@contextmanager
def _beside(bar: Progress) -> Iterator[None]:
    """Standard output and error, where they are the bar's terminal, written through :class:`_BesideBar` for
    the block: one place for every command's text, streamed steps or diagnostics, however it is written
    (an :class:`ItemStream`, print, report), instead of each writer minding the bar."""
    swapped: dict[str, _BesideBar] = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if _same_terminal(stream, bar.stream):
            swapped[name] = _BesideBar(stream, bar)
            setattr(sys, name, swapped[name])
    try:
        yield
    finally:
        for name, beside in swapped.items():
            if getattr(sys, name) is beside:
                setattr(sys, name, beside._stream)


def progress_enabled(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return is_terminal(stream) and env.get("TERM") != "dumb" and not env.get("KUBEPROXY_SIM_NO_PROGRESS")


def _noop(n: int = 1) -> None:
    """The tick of a progress bar that is not shown: as cheap as a call can be."""


@contextmanager
def progress(label: str, total: int | None = None, *, stream: TextIO | None = None, enabled: bool | None = None,
             clock: Callable[[], float] = time.monotonic, delay: float = 1.0,
             threaded: bool = True) -> Iterator[Callable[..., None]]:
    """``with progress("building", total=N) as tick:`` ... ``tick()`` per item (or ``tick(k)``).

    Shown on stderr only when it is a terminal, and only after ``delay``
    seconds; a background thread keeps a spinner or an idle bar moving between
    ticks. Elsewhere (pipes, files, tests) ``tick`` does nothing.
    """
    out = stream if stream is not None else sys.stderr
    if not (progress_enabled(out) if enabled is None else enabled):
        yield _noop
        return
    import threading  # (here: a pipe or a file never draws the bar, and threading costs ~6M instructions to import)

    bar = Progress(label, total, out, clock=clock, delay=delay, unicode=unicode_enabled(out))
    bar.start()
    stop = threading.Event()
    worker = threading.Thread(target=_animate, args=(bar, stop), name="progress", daemon=True) if threaded else None
    if worker is not None:
        _start_deaf(worker)
    try:
        with _beside(bar):
            yield bar.tick
    finally:
        stop.set()
        if worker is not None:
            worker.join()
        bar.clear()


def _start_deaf(worker: threading.Thread) -> None:
    """Start ``worker`` with SIGINT and SIGTERM blocked (a thread inherits its creator's mask), then restore
    ours. Python runs signal handlers in the main thread only, so the worker never needs them; unblocked, the
    kernel may hand it a Ctrl-C meant for the main thread, whose handler then runs wherever the main thread
    next checks, even in code that drops it as "Exception ignored" (an at-fork callback), or while the main
    thread holds the signals blocked."""
    import signal  # here: only a terminal's progress line needs it, and every command imports this module

    if not hasattr(signal, "pthread_sigmask"):
        worker.start()
        return
    from kubeproxy_sim import signals

    with signals.held():
        worker.start()


def _animate(bar: Progress, stop: threading.Event) -> None:
    while not stop.wait(bar.interval):
        if bar.due():
            bar.draw()


def check_writable(path: str, flag: str, expected: str = "FILE") -> None:
    """Refuse an output file that cannot be written before the work, without creating it.

    An empty name (``--flag "$OUT"`` with OUT unset) is a usage error; ``expected`` says what to give instead.
    """
    from pathlib import Path

    from kubeproxy_sim.errors import Diagnostic, InputError, UsageError

    if not path.strip():
        raise UsageError(Diagnostic(f"an empty file name; expected {expected}", field=flag))
    target = Path(path)
    folder = target.parent
    try:
        why = ("is a directory" if target.is_dir()
               else "its directory does not exist" if not folder.is_dir()
               else "permission denied" if not os.access(target if target.exists() else folder, os.W_OK)
               else None)
    except OSError as exc:  # a directory above it that may not be entered, a name longer than the system takes
        why = (exc.strerror or type(exc).__name__).lower()
    if why is not None:
        raise InputError(Diagnostic(f"cannot write it: {why}", file=path, field=flag))
