"""The pointer to a command's help that a usage error (exit 2) ends with, argparse's or one a command found as it
ran (README's Exit status), for the tests that compare what a refused run said: they check the pointer names the
command's own help, then compare the words before it."""

from __future__ import annotations

from collections.abc import Sequence

# the commands whose help is a verb's own (``kubeproxy-sim netns send --help``)
_WITH_VERBS = frozenset({"netns"})


def pointer(command: str) -> str:
    """The line a usage error of ``command`` (``rules``, ``netns send``) ends with."""
    return f"See 'kubeproxy-sim {command} --help' for usage."


def command_of(argv: Sequence[str]) -> str:
    """The command (and verb) ``argv`` runs, whose help the pointer names."""
    words = [w for w in argv if not w.startswith("-")]
    return " ".join(words[:2] if words and words[0] in _WITH_VERBS else words[:1])


def without_pointer(err: str, command: str | Sequence[str]) -> str:
    """``err`` of a usage error with its last line, checked to be the pointer to ``command``'s help (a name or
    the run's argv), taken off."""
    name = command if isinstance(command, str) else command_of(command)
    lines = err.rstrip("\n").split("\n")
    assert lines[-1] == pointer(name), err
    return "\n".join(lines[:-1]) + "\n"


def last_words(err: str, status: int, command: str | Sequence[str]) -> str:
    """The last line of what a refused run said, past the pointer a usage error (``status`` 2) ends with and
    that no other status has (an input that cannot be used is not a usage error)."""
    if status == 2:
        err = without_pointer(err, command)
    else:
        assert "for usage." not in err, err
    return err.strip().splitlines()[-1]
