#!/usr/bin/env python3
"""Regenerate every scenario's golden files from a fresh run of the CLI.

Goldens are never edited by hand: run this, review ``git diff rulesets/``, commit.
``--check`` only reports which goldens differ (exit 1), as the tests do.
A dual-stack scenario (scenario.yaml ``dual-stack: true``) has each proxier's goldens: rules.golden and full.golden
are the IPv4 proxier's, rules-ipv6.golden and full-ipv6.golden the IPv6 one's (its args with ``--ip-family``).
A run that fails (the CLI exits non-zero: a broken object, a refused setting) is not a golden: the tool prints the
CLI's diagnostics, writes nothing for that scenario and exits 1.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubeproxy_sim.cli.main import main as cli_main  # noqa: E402
from kubeproxy_sim.cli.options import scenario_args  # noqa: E402
from kubeproxy_sim.cli.parsers import Parser  # noqa: E402

GOLDENS = {"rules": [], "full": ["--full"]}
"""Each golden's name (before ``.golden`` and a proxier's suffix) and the flags of its run after the scenario's."""
DUAL_STACK = "dual-stack"
"""scenario.yaml's key that makes a scenario show both proxiers of a dual-stack node (``dual-stack: true``)."""
FAMILY_SUFFIXES = {4: "", 6: "-ipv6"}
"""A dual-stack scenario's golden names per proxier family: rules.golden is IPv4's, rules-ipv6.golden IPv6's."""


class FailedRun(Exception):
    """The CLI exited non-zero; the message is its status and standard error."""


def run_cli(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(argv)
    if status:
        raise FailedRun(f"`kubeproxy-sim {' '.join(argv)}` exited {status}:\n{err.getvalue().rstrip()}")
    return out.getvalue()


def dual_stack(directory: Path) -> bool:
    """Whether the scenario is a dual-stack node's: kube-proxy runs one proxier per family there, from the same
    flags, each writing its own family's tables (iptables and ip6tables), so the scenario has goldens of each."""
    data = yaml.safe_load((directory / "scenario.yaml").read_text(encoding="utf-8"))
    return isinstance(data, dict) and data.get(DUAL_STACK) is True


def proxiers(directory: Path) -> dict[str, list[str]]:
    """Golden-name suffix -> the flags, after the scenario's args, of each proxier the scenario shows: the args'
    own alone; a dual-stack scenario's IPv4 and IPv6 ones (``--ip-family``)."""
    if not dual_stack(directory):
        return {"": []}
    return {suffix: ["--ip-family", f"ipv{family}"] for family, suffix in FAMILY_SUFFIXES.items()}


def proxier_flags(directory: Path, family: int) -> list[str]:
    """The flags, after the scenario's args, of the proxier whose rules a packet of ``family`` (4, 6) meets: the
    args' own, or a dual-stack scenario's proxier of that family."""
    return proxiers(directory).get(FAMILY_SUFFIXES[family], [])


def golden_outputs(directory: Path) -> dict[str, str]:
    """Each golden's fresh text, by file name; raises :class:`FailedRun` when a run fails, so no half-set is
    written."""
    base = ["rules", "-f", str(directory / "objects.yaml"), *scenario_args(directory)]
    return {f"{name}{suffix}.golden": run_cli([*base, *flags, *extra])
            for suffix, flags in proxiers(directory).items() for name, extra in GOLDENS.items()}


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
