#!/usr/bin/env python3
"""Regenerate every scenario's golden files from a fresh run of the CLI.

Goldens are never edited by hand: run this, review ``git diff rulesets/``, commit.
``--check`` only reports which goldens differ, or are made by no run any more (exit 1), as the tests do;
regenerating removes the latter (only files of the names this tool makes).
A dual-stack scenario (scenario.yaml ``dual-stack: true``) has each proxier's goldens: rules.golden and full.golden
are the IPv4 proxier's, rules-ipv6.golden and full-ipv6.golden the IPv6 one's (its args with ``--ip-family``);
kubeproxy_sim.cli.options.scenario_proxiers reads that, for this tool and the tests.
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
from kubeproxy_sim.cli.options import PROXIER_SUFFIXES, scenario_args, scenario_proxiers  # noqa: E402
from kubeproxy_sim.cli.parsers import Parser  # noqa: E402
from kubeproxy_sim.errors import InputError  # noqa: E402

GOLDENS = {"rules": [], "full": ["--full"]}
"""Each golden's name (before ``.golden`` and a proxier's suffix) and the flags of its run after the scenario's."""
NAMES = frozenset(f"{name}{suffix}.golden" for name in GOLDENS for suffix in PROXIER_SUFFIXES.values())
"""Every file name this tool makes: the only files it removes when no run of the scenario makes them any more."""


class FailedRun(Exception):
    """The CLI exited non-zero, or the scenario cannot be read; the message says why."""


def run_cli(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(argv)
    if status:
        raise FailedRun(f"`kubeproxy-sim {' '.join(argv)}` exited {status}:\n{err.getvalue().rstrip()}")
    return out.getvalue()


def golden_outputs(directory: Path) -> dict[str, str]:
    """Each golden's fresh text, by file name; raises :class:`FailedRun` when a run fails or scenario.yaml cannot
    be read (in the CLI's words), so no half-set is written."""
    try:
        args, proxiers = scenario_args(directory), scenario_proxiers(directory)
    except InputError as exc:
        raise FailedRun(str(exc)) from None
    base = ["rules", "-f", str(directory / "objects.yaml"), *args]
    return {f"{name}{suffix}.golden": run_cli([*base, *flags, *extra])
            for suffix, flags in proxiers.items() for name, extra in GOLDENS.items()}


def orphans(directory: Path, outputs: dict[str, str]) -> list[Path]:
    """The goldens no run makes any more (rules-ipv6.golden once ``dual-stack: true`` is gone): only names this
    tool makes, so no file of another kind is ever taken for one."""
    return sorted(directory / name for name in NAMES - outputs.keys() if (directory / name).is_file())


def refresh(directory: Path, write: bool) -> tuple[list[Path], list[Path]]:
    """The scenario's goldens that differ from a fresh run, and those no run makes; with ``write``, the former
    are written and the latter removed. Raises :class:`FailedRun` (nothing touched) when a run fails."""
    outputs = golden_outputs(directory)
    differ = [directory / name for name, text in outputs.items()
              if not (directory / name).exists() or (directory / name).read_text() != text]
    orphaned = orphans(directory, outputs)
    if write:
        for path in differ:
            path.write_text(outputs[path.name])
        for path in orphaned:
            path.unlink()
    return differ, orphaned


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
    stale, removed, failed = [], [], []
    for directory in dirs:
        try:
            differ, orphaned = refresh(directory, write=not args.check)
        except FailedRun as exc:
            failed.append(directory)
            print(f"failed: {directory.relative_to(ROOT)}: {exc}", file=sys.stderr)
            continue
        stale += differ
        removed += orphaned
    for path in stale:
        print(f"{'differs' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    for path in removed:
        print(f"{'made by no run' if args.check else 'removed'}: {path.relative_to(ROOT)}")
    return 1 if failed or (args.check and (stale or removed)) else 0


if __name__ == "__main__":
    sys.exit(main())
