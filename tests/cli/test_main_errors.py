"""The command line never shows a traceback: bugs are one line and exit 4; huge exact rationals print."""

from __future__ import annotations

import contextlib
import io

import pytest

from kubeproxy_sim.cli import main as cli


def test_an_internal_error_is_one_line_and_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.delenv("KPSIM_DEBUG", raising=False)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda command=None: parser)
    parser._subparsers._group_actions[0].choices["rules"].set_defaults(func=boom)  # type: ignore[union-attr]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["rules", "--scenario", "bootcamp"])
    assert code == cli.EXIT_INTERNAL == 4
    lines = err.getvalue().splitlines()
    assert lines == ["kubeproxy-sim: internal error (ZeroDivisionError: division by zero); this is a bug in "
                     "kubeproxy-sim, please report it with the command line (KPSIM_DEBUG=1 shows the traceback)"]


def test_exact_shares_of_a_thousand_endpoint_chain_print() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["trace", "--scenario", "upstream-sync-proxy-rules-large-cluster-mode-below-threshold",
                         "--src", "10.0.0.2", "--dst", "172.30.0.41", "--dport", "80", "-o", "json"])
    assert code == 0
    assert '"probability_exact"' in out.getvalue()
