"""The presentation layer: colour rules, tables, trees, -o json|yaml, diagnostics and the progress bar."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli import output
from kubeproxy_sim.cli.output import (
    ASCII_TREE,
    INDENT_TREE,
    UNICODE_TREE,
    ColorMode,
    Column,
    Console,
    TreeNode,
    color_enabled,
    emit,
    item_stream,
    paint,
    progress,
    render_table,
    render_tree,
    to_json,
    visible_len,
)
from kubeproxy_sim.errors import Diagnostic, Severity
from tests.budget import budget


class Terminal(io.StringIO):
    """A stream that says it is a UTF-8 terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize(("tty", "mode", "env", "expected"), [
    (True, ColorMode.AUTO, {}, True),
    (False, ColorMode.AUTO, {}, False),
    (True, ColorMode.AUTO, {"NO_COLOR": "1"}, False),
    (True, ColorMode.AUTO, {"NO_COLOR": ""}, True),  # the NO_COLOR convention: an empty value does not count
    (True, ColorMode.AUTO, {"TERM": "dumb"}, False),
    (False, ColorMode.ALWAYS, {"NO_COLOR": "1"}, True),
    (True, ColorMode.NEVER, {}, False),
])
def test_colour_only_on_a_terminal_without_no_color(tty: bool, mode: ColorMode, env: dict[str, str],
                                                    expected: bool) -> None:
    stream = Terminal() if tty else io.StringIO()
    assert color_enabled(stream, mode, env) is expected
    assert Console.of(stream, mode, env).color is expected


def test_console_for_a_pipe_is_plain_and_ascii() -> None:
    con = Console.of(io.StringIO(), environ={})
    assert not con.fancy and con.paint("x", "red") == "x"
    con = Console.of(Terminal(), environ={})
    assert con.color and con.unicode and con.paint("x", "red", "bold") == "\x1b[31;1mx\x1b[0m"


def test_color_flag_at_top_level_and_on_the_command() -> None:
    parser = argparse.ArgumentParser()
    output.add_color_flag(parser)
    sub = parser.add_subparsers(dest="command")
    output.add_output_flags(sub.add_parser("cmd"))
    assert output.color_mode(parser.parse_args(["--color", "never", "cmd"])) is ColorMode.NEVER
    assert output.color_mode(parser.parse_args(["cmd", "--color", "always"])) is ColorMode.ALWAYS
    args = parser.parse_args(["cmd"])
    assert output.color_mode(args) is ColorMode.AUTO and args.output == "text"
    with pytest.raises(SystemExit):
        parser.parse_args(["cmd", "-o", "xml"])


# --------------------------------------------------------------------------- tables


def test_table_aligns_columns_and_has_no_trailing_blanks() -> None:
    text = render_table(["name", Column("count", align="right"), "note"],
                        [("a", 1, ""), ("longer-name", 1234, "x")])
    assert text == ("NAME          COUNT   NOTE\n"
                    "a                 1\n"
                    "longer-name    1234   x\n")


def test_coloured_table_lines_up_like_the_plain_one() -> None:
    rows = [("ready", "10.0.0.1"), ("not ready", "10.0.0.22")]
    state = Column("state", style=lambda v: ("green",) if v == "ready" else ("red",))
    plain = render_table([state, "ip"], rows)
    coloured = render_table([state, "ip"], rows, color=True)
    assert "\x1b[32mready\x1b[0m" in coloured
    assert output.ANSI.sub("", coloured) == plain


def test_table_rejects_a_ragged_row() -> None:
    with pytest.raises(ValueError, match="expected 2"):
        render_table(["a", "b"], [("1",)])


# --------------------------------------------------------------------------- trees

TREE = (TreeNode("root", (TreeNode("a", (TreeNode("a1"), TreeNode("a2"))), TreeNode("b", (TreeNode("b1"),)))),)


def test_tree_shapes() -> None:
    assert render_tree(TREE, UNICODE_TREE) == ["root", "├── a", "│   ├── a1", "│   └── a2", "└── b", "    └── b1"]
    assert render_tree(TREE, ASCII_TREE) == ["root", "|-- a", "|   |-- a1", "|   `-- a2", "`-- b", "    `-- b1"]
    assert render_tree(TREE, INDENT_TREE, indent="  ") == ["  root", "    a", "      a1", "      a2", "    b",
                                                           "      b1"]


def test_tree_colour_does_not_touch_the_prefixes() -> None:
    tree = (TreeNode("root", (TreeNode("leaf", styles=("red",)),), styles=("bold",)),)
    assert render_tree(tree, UNICODE_TREE, color=True) == ["\x1b[1mroot\x1b[0m", "└── \x1b[31mleaf\x1b[0m"]


labels = st.text(alphabet="abcxyz.", min_size=1, max_size=5)  # no prefix characters
trees = st.recursive(st.builds(TreeNode, labels),
                     lambda kids: st.builds(TreeNode, labels, st.lists(kids, max_size=4).map(tuple)), max_leaves=25)


def _count(node: TreeNode) -> int:
    return 1 + sum(_count(c) for c in node.children)


def _labels(node: TreeNode) -> list[str]:
    return [node.label, *(label for c in node.children for label in _labels(c))]


@settings(max_examples=budget(60), deadline=None)
@given(st.lists(trees, min_size=1, max_size=3))
def test_tree_lines_are_the_nodes_in_order(roots: list[TreeNode]) -> None:
    """One line per node, depth-first; stripping the prefix gives the label back; ASCII only when asked."""
    for chars in (UNICODE_TREE, ASCII_TREE):
        lines = render_tree(roots, chars)
        assert len(lines) == sum(_count(r) for r in roots)
        prefix_chars = set(chars.branch + chars.last + chars.pipe + chars.space)
        assert [line.lstrip("".join(prefix_chars)) for line in lines] == [x for r in roots for x in _labels(r)]
        if chars is ASCII_TREE:
            assert all(line.isascii() for line in lines)


# --------------------------------------------------------------------------- -o json|yaml|text

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=budget(80), deadline=None)
@given(json_values)
def test_json_and_yaml_carry_the_same_content(data: object) -> None:
    assert json.loads(output.render(data, "json")) == data
    assert yaml.safe_load(output.render(data, "yaml")) == data


def test_yaml_keeps_the_data_key_order() -> None:
    text = output.render({"z": 1, "a": {"y": 2, "b": 3}}, "yaml")
    assert text == "z: 1\na:\n  'y': 2\n  b: 3\n"  # (a bare y is a boolean key to go-yaml: quoted)


def test_emit_text_uses_the_text_renderer_lazily() -> None:
    stream = io.StringIO()
    calls: list[int] = []

    def text() -> str:
        calls.append(1)
        return "never"

    emit({"a": 1}, "json", text=text, stream=stream)
    assert calls == [] and json.loads(stream.getvalue()) == {"a": 1}
    stream = io.StringIO()
    emit({"a": 1}, "text", text=lambda: "for people\n", stream=stream)
    assert stream.getvalue() == "for people\n"
    with pytest.raises(ValueError, match="xml"):
        output.render({}, "xml")


# --------------------------------------------------------------------------- diagnostics


def test_report_colours_by_severity_only_on_a_terminal() -> None:
    diags = [Diagnostic("bad port", file="a.yaml", field="spec.ports[0].port"),
             Diagnostic("skipped", severity=Severity.NOTE)]
    pipe = io.StringIO()
    output.report(diags, stream=pipe)
    assert pipe.getvalue() == "kubeproxy-sim: a.yaml: spec.ports[0].port: bad port\nkubeproxy-sim: note: skipped\n"
    term = Terminal()
    output.report(diags, argparse.Namespace(color="always"), stream=term)
    lines = term.getvalue().splitlines()
    assert lines[0].startswith("\x1b[31;1mkubeproxy-sim: a.yaml") and lines[1].startswith("\x1b[2m")


# --------------------------------------------------------------------------- progress


def test_progress_is_silent_off_a_terminal() -> None:
    pipe = io.StringIO()
    with progress("loading", total=10, stream=pipe) as tick:
        for _ in range(10):
            tick()
    assert pipe.getvalue() == "" and tick is output._noop


def test_progress_waits_a_second_then_draws_and_clears() -> None:
    term, clock = Terminal(), FakeClock()
    with progress("building", total=4, stream=term, clock=clock, threaded=False) as tick:
        tick()
        assert term.getvalue() == ""  # under a second: nothing
        clock.now += 1.5
        tick()
        drawn = term.getvalue()
        assert drawn.startswith("\r") and drawn.endswith("\x1b[K")
        assert "building [" in drawn and "] 2/4 50% 1.5s" in drawn and "█" in drawn
        tick()  # too soon after the last draw: not redrawn
        assert term.getvalue() == drawn
    assert term.getvalue().endswith("\r\x1b[K")  # the line is erased at the end


def test_progress_line_forms() -> None:
    clock = FakeClock()
    bar = output.Progress("sync", 3, io.StringIO(), clock=clock, width=6)
    bar.start()
    bar.count = 2
    clock.now += 2
    assert bar.line(clock.now) == "sync [####--] 2/3 66% 2.0s"
    spinner = output.Progress("loading", None, io.StringIO(), clock=clock)
    spinner.start()
    assert spinner.line(clock.now) == "loading | 0.0s"
    spinner.count = 7
    assert spinner.line(clock.now + 1) == "loading | 7 1.0s"


def test_progress_thread_draws_a_spinner_and_stops() -> None:
    term = Terminal()
    with progress("waiting", stream=term, delay=0.0) as tick:
        import time

        deadline = time.monotonic() + 2
        while "waiting" not in term.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        tick()
    assert "waiting" in term.getvalue() and term.getvalue().endswith("\r\x1b[K")


_END = b"\x1b[999~"  # a key code no writer here sends: the end of what the terminal got


def _pty_bytes(master: int) -> bytes:
    """What the terminal got so far. A pty hands the slave's bytes to the master side through a kernel work
    item, so they may not be readable yet the moment the write returns (a machine under load showed it): a
    marker is written behind them through standard output (the pty's slave here) and read up to."""
    import select
    import sys
    import time

    sys.stdout.flush()
    os.write(sys.stdout.fileno(), _END)
    got, deadline = b"", time.monotonic() + 30  # a guard against a lost marker, not a speed figure
    while not got.endswith(_END) and time.monotonic() < deadline:
        if select.select([master], [], [], 1)[0]:
            got += os.read(master, 65536)
    assert got.endswith(_END), got
    return got[:-len(_END)]


def test_text_written_beside_the_bar_on_its_terminal_starts_at_the_left_edge(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout and stderr one terminal (a pty here): a streamed step came out after the bar on its line
    ("... 22% 1.0s- step: 339"); each write now erases the bar first, and the bar comes back only below a whole
    line, never over a line still being written."""
    import sys

    with _beside_a_pty(monkeypatch) as (master, clock):
        out, err = sys.stdout, sys.stderr
        with progress("playing", total=4, clock=clock, threaded=False) as tick:
            clock.now += 1.5
            tick()  # the bar is drawn
            print("- step: 1")
            tick()  # too soon after the last draw: the bar waits its interval
            clock.now += 0.5
            tick()  # drawn again, below the step
            sys.stdout.write("- step: 2 ")  # a line begun: the bar waits for its end
            clock.now += 1
            tick()
            sys.stderr.write("2\n")  # (stderr beside the bar goes the same way)
            clock.now += 1
            tick()
        assert (sys.stdout, sys.stderr) == (out, err)  # as they were
        screen = _pty_bytes(master).decode()  # (while the terminal is open: a closed one reads as EIO)
    assert "s\x1b[K- step" not in screen  # the bar's end ("... 1.5s") right before a step: the bug
    bar = "playing [{}] {}/4 {}% {}s\x1b[K"
    erase = "\r\x1b[K"
    assert screen == ("\r" + bar.format("█" * 7 + "░" * 23, 1, 25, "1.5") + erase + "- step: 1\n"
                      + "\r" + bar.format("█" * 22 + "░" * 8, 3, 75, "2.0") + erase + "- step: 2 2\n"
                      + "\r" + bar.format("█" * 30, 4, 100, "4.0") + erase)


@contextlib.contextmanager
def _beside_a_pty(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, FakeClock]]:
    """stdout and stderr one terminal (a raw pty: the bytes as written), for a progress bar drawn beside them;
    yields the terminal's master side and the bar's clock."""
    import pty
    import sys
    import tty

    master, slave = pty.openpty()
    tty.setraw(slave)
    monkeypatch.delenv("KUBEPROXY_SIM_NO_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    try:
        with open(slave, "w", encoding="utf-8") as err, open(os.dup(slave), "w", encoding="utf-8") as out:
            monkeypatch.setattr(sys, "stderr", err)
            monkeypatch.setattr(sys, "stdout", out)
            yield master, FakeClock()
    finally:
        os.close(master)


def test_lines_and_bytes_written_beside_the_bar_erase_it_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """``writelines`` and ``sys.stdout.buffer`` (graph's image) went around the erase, after the bar's text."""
    import sys

    with _beside_a_pty(monkeypatch) as (master, clock):
        with progress("drawing", total=2, clock=clock, threaded=False) as tick:
            clock.now += 1.5
            tick()
            sys.stdout.writelines(["a\n", "b\n"])
            clock.now += 1
            tick()
            sys.stdout.buffer.write(b"\x89PNG\n")
        screen = _pty_bytes(master)
    bar = "drawing [{}] {}/2 {}% {}s\x1b[K"
    erase = "\r\x1b[K"
    assert screen == ("\r" + bar.format("█" * 15 + "░" * 15, 1, 50, "1.5") + erase + "a\nb\n"
                      + "\r" + bar.format("█" * 30, 2, 100, "2.5") + erase).encode() + b"\x89PNG\n"


@pytest.mark.parametrize("dies", [False, True])
def test_the_bar_comes_back_after_each_json_item(monkeypatch: pytest.MonkeyPatch, dies: bool) -> None:
    """``-o json`` on the bar's terminal: an item ends mid-line (its comma comes with the next one), which held
    the bar back from the first item on. Each write now ends a line, the item's last one sent with what follows
    it, so the bar comes back below every item; the bytes are still the document, and a run that dies still
    leaves its last item whole."""
    import sys

    with _beside_a_pty(monkeypatch) as (master, clock):
        with contextlib.suppress(KeyboardInterrupt), item_stream("steps", "json") as document:
            assert document is not None
            with progress("playing", total=3, clock=clock, threaded=False) as tick:
                for step in (1, 2):
                    clock.now += 1.5
                    tick()
                    document.add({"step": step})
                clock.now += 1.5
                tick()
            if dies:
                raise KeyboardInterrupt
        assert isinstance(sys.stdout, io.TextIOWrapper)  # the real stream again
        screen = _pty_bytes(master).decode()
    bar = "\rplaying [{}] {}/3 {}% {}s\x1b[K\r\x1b[K"
    assert screen == (bar.format("█" * 10 + "░" * 20, 1, 33, "1.5") + '{\n  "steps": [\n    {\n      "step": 1\n'
                      + bar.format("█" * 20 + "░" * 10, 2, 66, "3.0") + '    },\n    {\n      "step": 2\n'
                      + bar.format("█" * 30, 3, 100, "4.5") + "    }" + ("" if dies else "\n  ]\n}\n"))
    if not dies:  # the bars and their erasing aside, the document
        assert re.sub(r"\r[^\r\n]*?\x1b\[K", "", screen) == to_json({"steps": [{"step": 1}, {"step": 2}]})


def _hold(lock: threading.Lock, taken: threading.Event, until: threading.Event) -> None:
    """The drawing thread's part: the bar's lock held over the fork."""
    with lock:
        taken.set()
        until.wait()


def test_a_child_forked_beside_the_bar_writes_to_the_real_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork inside a progress block (yamlsplit's loader, the kernel backend's children) may come while the
    drawing thread holds the bar's lock: the child's copy of it stays held, with nobody to release it, and a
    write through the wrapper waited forever. The child gets its real streams back and writes at once."""
    import sys
    import time

    with _beside_a_pty(monkeypatch) as (master, clock):
        real = sys.stderr
        with progress("loading", total=None, clock=clock, threaded=False) as tick:
            clock.now += 1.5
            tick()
            bar = tick.__self__  # type: ignore[attr-defined]
            taken, fork_done = threading.Event(), threading.Event()
            drawing = threading.Thread(target=_hold, args=(bar.lock, taken, fork_done))
            drawing.start()
            taken.wait()
            pid = os.fork()
            if pid == 0:  # the child: never back into pytest
                status = 3
                try:
                    status = 0 if sys.stderr is real and sys.stdout is not real else 2
                    sys.stderr.write("from the child\n")
                    sys.stderr.flush()
                    tick()  # the parent's bar is not drawn here
                finally:
                    os._exit(status)
            fork_done.set()
            drawing.join()
            deadline = time.monotonic() + 30  # a guard against the hang, not a speed figure
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            if done[0] == 0:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the child forked beside the bar hung on its write")
        screen = _pty_bytes(master).decode()
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert screen.count("loading") == 1 and screen.endswith("from the child\n\r\x1b[K")


def test_progress_thread_never_takes_a_ctrl_c() -> None:
    """The spinner's thread has SIGINT and SIGTERM blocked, so the kernel hands them to the main thread (whose
    handler runs there anyway, and whose mask the kernel backend holds over its forks); ours is left as it was."""
    import signal
    import threading

    def blocked(native_id: int | None) -> int:
        status = Path(f"/proc/self/task/{native_id}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with progress("waiting", stream=Terminal(), enabled=True):
        worker = next(t for t in threading.enumerate() if t.name == "progress")
        mask = blocked(worker.native_id)
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    for signum in (signal.SIGINT, signal.SIGTERM):
        assert mask >> (signum - 1) & 1, f"{signum!r} reaches the progress thread"


def test_paint_and_visible_len() -> None:
    assert paint("x", "red", enabled=False) == "x"
    assert paint("", "red") == ""
    assert visible_len(paint("hello", "bold", "green")) == 5


def test_an_ascii_stdout_gets_ascii_bars_and_yaml() -> None:
    """dist and diff draw eighth blocks only where they can be shown; YAML escapes as JSON does."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for argv in (["dist", "--scenario", "bootcamp"], ["trace", "--scenario", "bootcamp", "--src", "10.244.0.9",
                                                     "--dst", "10.96.142.87", "--dport", "8080", "-o", "yaml"]):
        done = subprocess.run([sys.executable, "-m", "kubeproxy_sim", *argv], capture_output=True, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.isascii()
    from kubeproxy_sim.cli.output import to_yaml

    assert to_yaml({"comment": "café ☕"}) == 'comment: "caf\\xE9 \\u2615"\n'


def test_ascii_bars_keep_their_width() -> None:
    """A bar ending in a small eighth block becomes a space, not nothing: the columns after it stay put."""
    from kubeproxy_sim.analysis.render import bar
    from kubeproxy_sim.cli.output import plain_bars

    plain = Console(io.StringIO())
    for value in (0.0, 0.01, 0.11, 0.5, 0.95, 1.0):
        drawn = plain_bars(bar(value), plain)
        assert len(drawn) == len(bar(value)) and drawn.isascii()
    assert plain_bars(bar(0.11), plain) == "### " + " " * 26
    assert plain_bars("█▌", Console(Terminal(), unicode=True)) == "█▌"


def test_check_writable_refuses_an_empty_name_as_a_usage_error() -> None:
    """``--flag "$OUT"`` with OUT unset: every output file flag says so, not only the ones that test for it."""
    from kubeproxy_sim.cli.output import check_writable
    from kubeproxy_sim.errors import UsageError

    for name in ("", "  "):
        with pytest.raises(UsageError, match=r"--pcap: an empty file name; expected FILE\.pcap"):
            check_writable(name, "--pcap", expected="FILE.pcap")
    with pytest.raises(UsageError, match=r"--graph: an empty file name; expected FILE$"):
        check_writable("", "--graph")


def test_send_pcap_with_an_empty_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from kubeproxy_sim.cli.main import main

    argv = ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--pcap", ""]
    assert main(argv) == 2
    assert "--pcap: an empty file name; expected FILE.pcap" in capsys.readouterr().err


def test_yaml_output_quotes_a_string_go_yaml_would_read_as_another_scalar() -> None:
    """kubectl's go-yaml v2 reads a bare n as false and 0o17 as 15: such strings are quoted, numbers and booleans
    are not. The text is fixed, not read back by our own reader (which shares the resolvers that quote it): go-yaml
    v2.4.0 (the r3 oracle, and a %T-printing build) reads it as every string of ``names``, and int 15, float64 1.5,
    bool true and nil."""
    data = {"names": ["n", "Y", "0o17", "0X1F", "1e3", "-_1", "x", "! y", "2001-12-14", "<<", "1:30"],
            "numbers": [15, 1.5, True, None]}
    assert output.to_yaml(data) == ("names:\n- 'n'\n- 'Y'\n- '0o17'\n- '0X1F'\n- '1e3'\n- '-_1'\n- x\n- '! y'\n"
                                    "- '2001-12-14'\n- '<<'\n- '1:30'\nnumbers:\n- 15\n- 1.5\n- true\n- null\n")
