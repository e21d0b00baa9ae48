"""A rule cited by trace's text output shows a control character of its comment escaped (a raw CR made the
terminal write the rest of the line over its start); the JSON output keeps the rule as read (JSON escapes it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.evaluate import NodeContext
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import render_text, trace

DUMP = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "a{odd}b" -j ACCEPT\nCOMMIT\n'
ARGS = ["--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80", "--node-ip", "10.0.0.2"]


@pytest.mark.parametrize(("odd", "shown"), [("\r", "\\r"), ("\x1b", "\\x1b"), ("\u2028", "\\u2028")])
def test_trace_text_escapes_a_cited_rule_s_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               odd: str, shown: str) -> None:
    dump = tmp_path / "odd.rules"
    dump.write_text(DUMP.format(odd=odd), newline="")
    assert main(["trace", "--rules", str(dump), *ARGS]) == 0
    out = capsys.readouterr().out
    assert f'line 3: -A INPUT -m comment --comment "a{shown}b" -j ACCEPT' in out and odd not in out
    assert main(["trace", "--rules", str(dump), *ARGS, "-o", "json"]) == 0
    rule = f'-A INPUT -m comment --comment "a{odd}b" -j ACCEPT'
    assert rule in _strings(json.loads(capsys.readouterr().out))


def _strings(value: object) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in _strings(item)]


def test_the_library_s_text_rendering_escapes_them_too() -> None:
    rules = parse_ruleset(DUMP.format(odd="\r"))
    result = trace(rules, Packet.of("tcp", "10.0.0.1", "10.0.0.2", 80), NodeContext.of(["10.0.0.2"]))
    text = render_text(result)
    assert '--comment "a\\rb"' in text and "\r" not in text
