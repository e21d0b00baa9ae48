"""send shows a progress line on a terminal while it sends (a --count 100000 run takes seconds of CPU): on stderr,
rewritten in place, cleared at the end, never in -o json's stdout; nothing on an stderr that is no terminal.
The clock and the terminal are handed in (progress's clock, stream and enabled), no global time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from kubeproxy_sim.cli import output, send_cmd
from kubeproxy_sim.cli.main import main

ARGS = ["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--count", "40",
        "-o", "json"]


class Ticking:
    """A clock a quarter of a second further at each reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch, terminal: io.StringIO) -> None:
    real = output.progress

    def shown(label: str, total: int | None = None, **_kw: Any) -> AbstractContextManager[Any]:
        return real(label, total, stream=terminal, enabled=True, clock=Ticking(), threaded=False)

    monkeypatch.setattr(send_cmd, "progress", shown)


def _lines(text: str) -> Iterator[str]:
    return (part.removesuffix("\x1b[K") for part in text.split("\r") if part)


def test_send_draws_its_progress_on_the_terminal_and_clears_it(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    terminal = io.StringIO()
    _on_a_terminal(monkeypatch, terminal)
    assert main(ARGS) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["connections"] == 40  # stdout is the JSON alone
    drawn = terminal.getvalue()
    sending = [line for line in _lines(drawn) if line.startswith("sending connections [")]
    assert sending and "/40 " in sending[-1]
    counts = [int(line.split("] ")[1].split("/")[0]) for line in sending]
    assert counts == sorted(counts)  # one line, rewritten as the count grows
    assert "\n" not in drawn and drawn.endswith("\r\x1b[K")  # rewritten in place, and cleared at the end


def test_send_draws_nothing_when_stderr_is_no_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ARGS) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "sending connections" not in captured.err
    assert json.loads(captured.out)["connections"] == 40
