"""Every number flag (dist --client-interval, netns --timeout/--alpha) reads through options.parse_float, and every
duration (flags, script lines, a KubeProxyConfiguration's) refuses what Go cannot hold: float() takes "nan",
"inf" and 400 digits (as inf), which the later bound checks let through and JSON cannot carry."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.config_file import go_duration
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.durations import parse_duration

DIST = ["dist", "--scenario", "session-affinity", "--to", "web"]
NETNS_SEND = ["netns", "send", "c", "--from", "external", "--to", "10.96.0.1:443"]
FLAGS = [(DIST, "--client-interval"), (NETNS_SEND, "--timeout"), (["netns", "verify"], "--timeout"),
         (["netns", "verify"], "--alpha")]


@pytest.mark.parametrize(("command", "flag"), FLAGS, ids=[f"{c[0]}{c[1] if c[0] == 'netns' else ''}{f}"
                                                          for c, f in FLAGS])
@pytest.mark.parametrize("text", ["nan", "inf", "1e400", "Infinity", " 2", "1_0", "\u0662"])
def test_a_number_flag_takes_a_finite_ascii_decimal_only(command: list[str], flag: str, text: str,
                                                          capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, flag, text])
    assert info.value.code == 2
    assert f"argument {flag}: {text!r} is not a finite decimal number (expected e.g. 2, 0.5 or 1e-3)" \
        in capsys.readouterr().err


def test_a_client_interval_that_is_not_positive_says_what_is_expected(capsys) -> None:
    assert main([*DIST, "--client-interval", "0"]) == 1
    assert capsys.readouterr().err.strip() == ("kubeproxy-sim: --client-interval: 0 is not positive; expected a "
                                               "positive, finite number of seconds")


def test_a_finite_client_interval_in_exponent_form_gives_valid_json(capsys) -> None:
    assert main([*DIST, "--client-interval", "2.5e1", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert '"client_interval_seconds": 25.0' in json.dumps(data)


def test_a_duration_longer_than_go_holds_is_not_one() -> None:
    huge = "1" * 400
    assert parse_duration(huge) is None and parse_duration(huge + "s") is None
    assert go_duration(huge + "s") is None and go_duration(f"-{huge}h") is None
    assert parse_duration("9223372036s") == 9223372036.0 and parse_duration("9223372037s") is None
    assert go_duration("1m30s") == 90.0


def test_a_sync_period_flag_longer_than_go_holds_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", "--scenario", "bootcamp", "--sync-period", "1" * 400 + "s", "x"])
    assert info.value.code == 2
    assert "argument --sync-period/--iptables-sync-period:" in capsys.readouterr().err
