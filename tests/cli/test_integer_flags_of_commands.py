"""dist, netns, scenario and demo read their integer flags through options.parse_int, as rules/send/graph do."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main

DIST = ["dist", "--scenario", "bootcamp"]
NETNS_SEND = ["netns", "send", "c", "--from", "external", "--to", "10.96.0.1:443"]

FLAGS = [
    (DIST, "--connections"), (DIST, "--requests-per-connection"), (DIST, "--seed"), (DIST, "--clients"),
    (NETNS_SEND, "--count"), (NETNS_SEND, "--seed"),
    (["netns", "verify"], "--count"), (["netns", "verify"], "--max-flows"),
    (["scenario", "script.txt"], "--seed"),
    (["demo"], "--seed"),
]


@pytest.mark.parametrize(("command", "flag"), FLAGS, ids=[f"{c[0]}{c[1] if c[0] == 'netns' else ''}{f}"
                                                          for c, f in FLAGS])
@pytest.mark.parametrize("text", [" 14", "+5", "1_4", "\u0661\u0664"])
def test_an_integer_flag_takes_ascii_decimal_digits_only(command: list[str], flag: str, text: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, flag, text])
    assert info.value.code == 2
    assert f"argument {flag}: {text!r} is not a whole number (expected decimal digits 0-9)" in capsys.readouterr().err
