"""The one kind of argparse parser the project builds: it takes every option only by its whole name.

kube-proxy's flags (pflag) have no abbreviations; argparse takes any unique prefix (``--masq`` for
``--masquerade-all``), which the rewrite of a bare boolean flag followed by a file
(:func:`~kubeproxy_sim.cli.options.bare_bool_flags`) cannot see, and which would let a scenario's ``args``
read differently in one helper parser than on the command line. Every parser, the commands' and the helpers'
that read a scenario's node flags, is a :class:`Parser`: a command's and a verb's are made by their parent's
class, and a test holds every other ``ArgumentParser`` in the package to this one.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with ``allow_abbrev`` off, whatever the caller passes, that keeps an explicit ``--``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def _get_formatter(self) -> argparse.HelpFormatter:
        """argparse's formatter, as wide as argparse makes it (the terminal's columns less 2), measured without
        shutil: argparse makes one per ``add_argument`` to check its metavar, and its width's ``import shutil``
        (with zlib, bz2 and lzma) was ~9M instructions of every run's start-up."""
        return self.formatter_class(prog=self.prog, width=terminal_columns() - 2)  # type: ignore[call-arg]

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        """An option's words, converted and checked; a lone ``--`` among an option's words can only be the value
        written after ``=`` (a bare ``--`` on the command line ends the options before any option takes it), and
        is converted as the value it is, where argparse (3.11) removes it first."""
        if action.option_strings and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value if action.nargs in (None, argparse.OPTIONAL) else [value]
        return super()._get_values(action, arg_strings)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """argparse's check of a value against the action's choices (a command, a verb, ``--show``), with the one
        choice a misspelt word is closest to named: ``invalid choice: 'rulez'; did you mean rules? (choose from
        ...)``, as Python 3.14's argparse suggests one (``suggest_on_error``) and git names a command."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            close = closest(value, [str(c) for c in action.choices or ()]) if isinstance(value, str) else None
            if close is None or "invalid choice: " not in exc.message:
                raise
            head, _, rest = exc.message.partition(" (choose from ")
            raise argparse.ArgumentError(action, f"{head}; did you mean {close}? (choose from {rest}") from None

    def error(self, message: str) -> NoReturn:
        """A usage error in one line and where the usage is, as kubectl says one (``See 'kubectl get --help' for
        usage.``), exit 2: argparse printed the command's whole usage first, some twenty lines of flags above
        the one that says what is wrong."""
        self.exit(2, f"{self.prog}: error: {message}\nSee '{self.prog} --help' for usage.\n")


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS when a positive number, else standard output's terminal's
    columns, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    if stdout is None:  # (no standard output at all: pythonw, a closed fd 1)
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def closest(word: str, known: list[str]) -> str | None:
    """The known name a misspelt ``word`` is meant for: the same name in another case first, else difflib's
    closest at 0.8, as the manifest reader's and the --config reader's did-you-mean (objects.fields,
    cli.config_file) choose; None when none is that close. difflib is imported on this error path only."""
    folded = [name for name in known if name.lower() == word.lower()]
    if folded:
        return folded[0]
    import difflib

    found = difflib.get_close_matches(word, known, n=1, cutoff=0.8)
    return found[0] if found else None
