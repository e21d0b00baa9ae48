"""Every option of every command, as the real parser has it, is named in README.md, where a user looks for it.

README is the user's manual: an option it does not name is one a user finds only by reading ``--help``. The
options come from :func:`build_parser` (every command and ``netns`` verb), so a new flag fails here until it is
written up. A command's own options must be named where README speaks of that command (a section whose heading
names it, or a paragraph or table row that does); the flags the commands share through one helper (the node
flags, ``-f``/``--scenario``, ``-o``/``--color``) are written up once, in their own place.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import build_parser
from kubeproxy_sim.cli.options import add_input_flags, node_flag_dests
from kubeproxy_sim.cli.output import add_output_flags

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

# Options README need not name, each with the reason.
NEED_NO_MENTION = {
    "--help": "argparse's own, on every command and verb: it is how a user reads this list, not part of it",
}


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Each command's (and ``netns`` verb's) words and parser, the top level's first (``()``)."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*words, name))


COMMANDS = dict(_commands(build_parser()))


def _gist(action: argparse.Action) -> str:
    """A flag's help up to its first aside: the shared helpers' own help, whatever a command appends to it."""
    return re.split(r"[;(.]", action.help or "", maxsplit=1)[0].strip()


def _shared() -> dict[str, str]:
    """The shared flags (by long name) and their gist: what ``add_input_flags`` and ``add_output_flags`` add."""
    reference = argparse.ArgumentParser(add_help=False)
    add_input_flags(reference)
    add_output_flags(reference)
    return {a.option_strings[-1]: _gist(a) for a in reference._actions}


SHARED = _shared()
NODE_FLAGS = frozenset(node_flag_dests().values())


def _section(heading: str) -> str:
    """README from the heading line that starts with ``heading`` to the next heading of its level or above."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}") + 1
    ends = [m.start() for m in re.finditer(rf"(?m)^#{{1,{len(level)}}} ", README) if m.start() > start]
    return README[start:min(ends, default=len(README))]


# The node flags' table, and the general part of "Commands" (inputs, outputs, top-level options) before it.
NODE_FLAGS_TEXT = _section("### Node flags")
GENERAL_TEXT = _section("## Commands").split("### Node flags", 1)[0]


def _about(words: tuple[str, ...]) -> str:
    """What README says about one command: the sections whose heading names it, and each paragraph or table row
    that names it in code: ``netns verify ...`` or ``kubeproxy-sim dist ...`` between backquotes."""
    named = re.compile(rf"`(?:[^`\n]*\bkubeproxy-sim )?{re.escape(' '.join(words))}(?![\w-])")
    parts = []
    for section in re.split(r"(?m)^(?=#{2,3} )", README):
        if named.search(section.split("\n", 1)[0]):
            parts.append(section)
            continue
        parts.extend(block for block in re.split(r"\n\s*\n|\n(?=\|)", section) if named.search(block))
    return "\n\n".join(parts)


def _our_code(text: str) -> list[str]:
    """The code spans of ``text`` that are our commands, not kubectl's (``kubectl get -o yaml``, ``apply -f``)."""
    spans = (m.group(0) for m in re.finditer(r"`[^`\n]*`", text))
    return [s for s in spans if not re.search(r"\bkubectl |\bapply -f", s)]


def _names(text: str, action: argparse.Action) -> bool:
    """Whether ``text`` names the option, in any of its spellings (``-o`` or ``--output``), in code: not as
    kubectl's own (``kubectl get -o yaml``, a story's ``apply -f``)."""
    return any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", s)
               for s in _our_code(text) for o in action.option_strings)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if any(o.startswith("--") and o not in NEED_NO_MENTION
                                              for o in a.option_strings)]


def _where(words: tuple[str, ...], action: argparse.Action) -> tuple[str, str]:
    """Where README must name the option: (the place's name, its text)."""
    long = action.option_strings[-1]
    if long in NODE_FLAGS and _gist(action) == SHARED.get(long):
        return "### Node flags", NODE_FLAGS_TEXT
    if not words or _gist(action) == SHARED.get(long):  # the top level's, and -f, --scenario, -o, --color
        return "## Commands (before Node flags)", GENERAL_TEXT
    return f"what README says about `{' '.join(words)}`", _about(words)


@pytest.mark.parametrize("words", list(COMMANDS), ids=lambda words: " ".join(words) or "top-level")
def test_every_option_is_named_where_a_user_looks_for_it(words: tuple[str, ...]) -> None:
    missing = []
    for action in _options(COMMANDS[words]):
        place, text = _where(words, action)
        if not _names(text, action):
            missing.append(f"{'/'.join(action.option_strings)} (in {place})")
    assert not missing, ", ".join(missing)


def test_every_long_option_is_spelt_out_once() -> None:
    """A short option's long name too (``-o`` is ``--output``): a user who meets it in a script finds it here."""
    spellings = {o for parser in COMMANDS.values() for a in _options(parser) for o in a.option_strings
                 if o.startswith("--")}
    missing = sorted(o for o in spellings if not re.search(rf"`[^`\n]*{re.escape(o)}(?![\w-])", README))
    assert not missing, ", ".join(missing)


def test_the_allow_list_names_only_real_options() -> None:
    """An allow-listed option the parser no longer has is a stale excuse."""
    every = {o for parser in COMMANDS.values() for a in parser._actions for o in a.option_strings}
    assert set(NEED_NO_MENTION) <= every


# README placeholders that differ from --help's on purpose, each with the reason.
OWN_PLACEHOLDERS = {
    ("diff", "--against"): "`diff -f BEFORE --against AFTER` says which side is which, where --help's PATH is one",
}


def _placeholders(text: str, option: str) -> set[str]:
    """The placeholders README writes after ``option`` in code: ``--timeout SECONDS``, ``[--node NAME]`` (a bare
    capitalised word; an example's value such as ``--ctstate INVALID`` is one, so only options that take a
    metavar of that shape are compared)."""
    after = re.compile(rf"(?<![\w-]){re.escape(option)} ([A-Z][A-Z0-9_]*)(?=[\s\]`])")
    return {m.group(1) for s in _our_code(text) for m in after.finditer(s)}


@pytest.mark.parametrize("words", [w for w in COMMANDS if w], ids=" ".join)
def test_readme_writes_a_command_s_options_with_help_s_placeholders(words: tuple[str, ...]) -> None:
    """``netns verify --help`` said ``--timeout TIMEOUT`` where README says ``--timeout SECONDS``: a user reading
    both should meet one name. A command's own options only (the shared ones' text speaks of every command)."""
    wrong = []
    for action in _options(COMMANDS[words]):
        long = action.option_strings[-1]
        metavar = action.metavar or (None if action.choices else action.dest.upper())
        if (action.nargs == 0 or not isinstance(metavar, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]*", metavar)
                or (" ".join(words), long) in OWN_PLACEHOLDERS):
            continue
        place, text = _where(words, action)
        if not place.startswith("what README says"):
            continue
        wrong += [f"{long} {shown} (--help: {long} {metavar})" for shown in sorted(_placeholders(text, long))
                  if shown != metavar]
    assert not wrong, ", ".join(wrong)
