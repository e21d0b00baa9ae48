#!/usr/bin/env python3
"""Regenerate every scenario's golden files from a fresh run of the CLI.

Goldens are never edited by hand: run this, review ``git diff rulesets/``, commit.
``--check`` only reports which goldens differ (exit 1), as the tests do.
A run that fails (the CLI exits non-zero: a broken object, a refused setting) is not a golden: the tool prints the
CLI's diagnostics, writes nothing for that scenario and exits 1.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubeproxy_sim.cli.main import main as cli_main  # noqa: E402
from kubeproxy_sim.cli.options import scenario_args  # noqa: E402
from kubeproxy_sim.cli.parsers import Parser  # noqa: E402

GOLDENS = {"rules.golden": [], "full.golden": ["--full"]}


class FailedRun(Exception):
    """The CLI exited non-zero; the message is its status and standard error."""


def run_cli(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(argv)
    if status:
        raise FailedRun(f"`kubeproxy-sim {' '.join(argv)}` exited {status}:\n{err.getvalue().rstrip()}")
    return out.getvalue()


def golden_outputs(directory: Path) -> dict[str, str]:
    """Each golden's fresh text; raises :class:`FailedRun` when a run fails, so no half-set is written."""
    base = ["rules", "-f", str(directory / "objects.yaml"), *scenario_args(directory)]
    return {name: run_cli([*base, *extra]) for name, extra in GOLDENS.items()}


def main() -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = parser.parse_args()
    dirs = sorted(p for p in (ROOT / "rulesets").iterdir() if (p / "scenario.yaml").is_file())
    if args.scenarios:
        unknown = sorted(set(args.scenarios) - {d.name for d in dirs})
        if unknown:
            parser.error(f"no scenario {unknown[0]!r} in rulesets/ (a folder with a scenario.yaml)")
        dirs = [d for d in dirs if d.name in args.scenarios]
    stale, failed = [], []
    for directory in dirs:
        try:
            outputs = golden_outputs(directory)
        except FailedRun as exc:
            failed.append(directory)
            print(f"failed: {directory.relative_to(ROOT)}: {exc}", file=sys.stderr)
            continue
        for name, text in outputs.items():
            path = directory / name
            if path.exists() and path.read_text() == text:
                continue
            stale.append(path)
            if not args.check:
                path.write_text(text)
    for path in stale:
        print(f"{'differs' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if failed or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
