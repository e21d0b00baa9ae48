"""Every option README.md (and the reference it links, docs/*.md) writes in code is a real one: a kubeproxy-sim
command's, a maintainer script's (tools/), or one of the other programs they quote (iptables, kubectl,
kube-controller-manager), listed with the reason.

tests/cli/test_readme_options.py checks the other way (every option of ours is named where a user looks); this
catches an option README still names after it was renamed or removed, which a user would copy and be refused.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from kubeproxy_sim.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
# README and the reference pages it links (docs/inputs.md: the inputs' edge cases), read as one text: a user
# copies an option from either.
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
README = "\n\n".join(path.read_text(encoding="utf-8") for path in DOCS)
TOOLS = ("bench", "gen_scale", "gen_services", "readme_tour", "regen_goldens")

IPTABLES = "an iptables match's, target's or restore's option, in a dump README or docs/ quotes"
# Options of other programs README and docs/ quote in code, each with whose it is.
FOREIGN = {
    **dict.fromkeys(("--comment", "--counters", "--ctorigdst", "--ctorigsrc", "--ctproto", "--ctrepldst",
                     "--ctreplsrc", "--ctstatus", "--dports", "--header", "--hitcount", "--icmpv6-type",
                     "--limit-iface-in", "--log-prefix", "--mask", "--mh-type", "--nfmask", "--noflush", "--or-mark",
                     "--persistent", "--random", "--reject-with", "--save-mark", "--seconds", "--set-mark",
                     "--set-xmark", "--syn", "--tcp-flags", "--to-destination", "--ttl-set", "--zone"), IPTABLES),
    "--replicas": "kubectl's (create deployment, scale), in a scenario script",
    "--type": "kubectl's (patch --type strategic|merge|json), in a scenario script",
    **dict.fromkeys(("--show-labels", "--no-headers"), "kubectl's (get), in a scenario script"),
    "--overwrite": "kubectl's (label), in a scenario script",
    **dict.fromkeys(("--ignore-daemonsets", "--delete-emptydir-data"), "kubectl's (drain), in a scenario script"),
    "--node-monitor-grace-period": "kube-controller-manager's, whose node lifecycle controller scenario follows",
    "--node-startup-grace-period": "kube-controller-manager's, likewise",
    "--col": "the exit status table's example of an abbreviated option, which is refused",
    **dict.fromkeys(("--dp", "--sou", "--comm", "--so"), "iptables' abbreviations (getopt_long), docs/inputs.md"),
}


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def _ours() -> set[str]:
    return {o for parser in _parsers(build_parser()) for a in parser._actions for o in a.option_strings}


@cache
def _tools() -> set[str]:
    """The maintainer scripts' options, as their --help lists them (they build their parsers inside main)."""
    found: set[str] = set()
    for tool in TOOLS:
        shown = subprocess.run([sys.executable, str(ROOT / "tools" / f"{tool}.py"), "--help"], capture_output=True,
                               text=True, check=True, cwd=ROOT, timeout=120).stdout
        found |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", shown))
    return found


_RUNS_OURS = re.compile(r"(?<![\w-])(kubeproxy-sim|tools/[a-z_]+\.py)(?![\w-])")


def _block_commands(text: str) -> Iterator[str]:
    """The lines of fenced code blocks that run kubeproxy-sim or a maintainer script, each with the lines its
    trailing backslashes continue it onto: a reader copies these whole (a block's other lines are other programs'
    commands and their output, an iptables dump's options among them)."""
    fenced, command = False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced, command = not fenced, ""
            continue
        if fenced and (command or _RUNS_OURS.search(line)):
            command += line.rstrip("\\")
            if not line.endswith("\\"):
                yield command
                command = ""


def _named(text: str = README) -> dict[str, str]:
    """Each option ``text`` writes in a code span or in a command of ours in a fenced block, with the first span
    or command that has it."""
    named: dict[str, str] = {}
    for span in (*re.findall(r"`([^`\n]+)`", text), *_block_commands(text)):
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", span):
            named.setdefault(option, span)
    return named


def _unknown(text: str) -> dict[str, str]:
    known = _ours() | _tools() | set(FOREIGN)
    return {option: span for option, span in _named(text).items() if option not in known}


def test_every_option_readme_names_exists() -> None:
    unknown = _unknown(README)
    assert not unknown, f"README.md or docs/*.md names options nothing here has: {unknown}"


def test_the_reference_pages_are_read() -> None:
    """docs/inputs.md holds the dump checks' iptables options (moved out of README): they are checked here too."""
    assert ROOT / "docs" / "inputs.md" in DOCS
    assert "--reject-with" in _named((ROOT / "docs" / "inputs.md").read_text(encoding="utf-8"))


def test_the_foreign_list_is_neither_stale_nor_ours() -> None:
    """An entry README no longer names, or that became an option of ours or a tool's, is a stale excuse."""
    named = _named()
    assert not [o for o in FOREIGN if o not in named], "FOREIGN lists options README and docs/ do not name"
    assert not set(FOREIGN) & (_ours() | _tools()), "FOREIGN lists options of ours"


def test_a_renamed_option_is_caught() -> None:
    """The check itself, on a README that still names an option after its rename (and one in prose, not code)."""
    text = "`rules --cluster-cidrs 10.0.0.0/8`, `gen_scale.py --kind NodePort`, the --nodeport-address flag"
    assert _unknown(text) == {"--cluster-cidrs": "rules --cluster-cidrs 10.0.0.0/8"}


def test_a_renamed_option_in_a_fenced_command_is_caught() -> None:
    """A fenced block's command of ours is read too (its continuation lines with it); a block's other lines, a
    foreign program's command or dump, are not (before, blocks were not read at all: README's quick start could
    say --scenarioo and pass)."""
    text = ("```sh\nkubeproxy-sim rules --scenarioo bootcamp\n$ kubeproxy-sim trace -f c.yaml \\\n"
            "    --dstt 10.0.0.1\n-A KUBE-SVC-X --probability 0.5\n$ tools/bench.py --runz 3\n```\n"
            "--outside a block\n")
    assert set(_unknown(text)) == {"--scenarioo", "--dstt", "--runz"}
    assert _unknown(text)["--dstt"] == "$ kubeproxy-sim trace -f c.yaml     --dstt 10.0.0.1"
