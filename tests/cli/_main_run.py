"""One in-process run of the CLI for the tests that look only at its exit status and what it said on standard
error: the fuzzing of the readers and of flag values, and the explicit ``--`` cases."""

from __future__ import annotations

import contextlib
import io
import os

from kubeproxy_sim.cli import main as cli


def status_and_stderr(argv: list[str]) -> tuple[int, str]:
    """main()'s status and standard error, KPSIM_DEBUG unset (a bug would be the one line of exit 4); an argparse
    usage error (SystemExit) is its status, its message kept."""
    err = io.StringIO()
    debug = os.environ.pop("KPSIM_DEBUG", None)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as exc:
                status = int(exc.code or 0)
    finally:
        if debug is not None:
            os.environ["KPSIM_DEBUG"] = debug
    return status, err.getvalue()
