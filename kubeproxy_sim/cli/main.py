"""The ``kubeproxy-sim`` command: argument parsing and dispatch.

Each command lives in its own module with ``register(subparsers)``, which adds
its parser and sets ``func`` to a ``run(args) -> int``. Command modules import
their heavy dependencies inside ``run`` so that ``--help`` and light commands
start fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kubeproxy_sim import VERSION_LINE
from kubeproxy_sim.cli.parsers import Parser
from kubeproxy_sim.errors import EnvironmentMissing, InputError, KubeproxySimError, UsageError

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4
# errors writing the output that come from where it goes, not from kubeproxy-sim
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF})

COMMAND_MODULES = (  # in the order of README's table of commands, which --help lists them in
    "kubeproxy_sim.cli.rules_cmd",
    "kubeproxy_sim.cli.trace_cmd",
    "kubeproxy_sim.cli.send_cmd",
    "kubeproxy_sim.cli.dist_cmd",
    "kubeproxy_sim.cli.diff_cmd",
    "kubeproxy_sim.cli.graph_cmd",
    "kubeproxy_sim.cli.replay_cmd",
    "kubeproxy_sim.cli.watch_cmd",
    "kubeproxy_sim.cli.scenario_cmd",
    "kubeproxy_sim.cli.healthz_cmd",
    "kubeproxy_sim.cli.netns_cmd",
    "kubeproxy_sim.cli.demo_cmd",
    "kubeproxy_sim.cli.completion_cmd",
)
START_HERE = ("start here: kubeproxy-sim demo (the tutorial's story on a built-in cluster), then README's\n"
              "\"First five minutes\"; kubeproxy-sim COMMAND --help shows a command's flags and examples")


TOP_OPTIONS = {"--version": 0, "-h": 0, "--help": 0, "--color": 1}
"""The top-level options and the words each takes after it: the command word is found past them before any parser
is built (:func:`_command_word`); a test holds them to :func:`build_parser`'s."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser: every command's, or only ``command``'s when that names one, or none when it is an
    option (``--version``, or one the top level does not have, reported at once).

    Importing and registering all thirteen commands costs more than a small command's own work, and a
    command's parser does not depend on the others'; the top-level help and error messages (no command,
    a misspelt one) use the full parser.
    """
    parser = Parser(
        prog="kubeproxy-sim",
        description="Where does a packet to this Service go, and why? kube-proxy's iptables data plane, "
        "emulated from the objects alone.",
        epilog=START_HERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=VERSION_LINE)
    from kubeproxy_sim.cli.output import add_color_flag

    add_color_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    module = f"kubeproxy_sim.cli.{command}_cmd"
    chosen = () if command and command.startswith("-") else (module,) if module in COMMAND_MODULES else COMMAND_MODULES
    for name in chosen:
        importlib.import_module(name).register(sub)
    return parser


def _innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command (and verb) given: argparse reports an unknown flag at the top level. A command's
    own argument of the subparsers' dest name (netns exec's ``command``, its words) overwrites the name chosen:
    the command is then the one whose parser gave the function run."""
    current = parser
    while True:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            return current
        chosen = getattr(args, actions[0].dest, None) if actions[0].dest != argparse.SUPPRESS else None
        if isinstance(chosen, str) and chosen in actions[0].choices:
            current = actions[0].choices[chosen]
            continue
        func = getattr(args, "func", None)
        running = [sub for sub in actions[0].choices.values() if func is not None and _gives(sub, func)]
        if not running:
            return current
        current = running[0]


def _gives(parser: argparse.ArgumentParser, func: object) -> bool:
    """Whether ``parser`` or a parser of its verbs sets ``func`` as the function a run calls."""
    if parser._defaults.get("func") is func:
        return True
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return any(_gives(sub, func) for action in actions for sub in action.choices.values())


def _optional_value_flags(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The flags of the parser and its commands whose value is optional (kube-proxy's boolean flags)."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                found |= _optional_value_flags(sub)
        elif action.nargs == "?" and action.option_strings:
            found.update(action.option_strings)
    return frozenset(found)


def _command_word(words: list[str]) -> str | None:
    """The command the words name, past the top-level options (``--color never rules``), so only its parser
    is built; ``--version`` alone needs none; an option the top level does not have is returned as it is (an
    abbreviation such as ``--col``), as argparse would take the word after it for the command."""
    index = 0
    while index < len(words) and words[index].startswith("-"):
        name, equals, _ = words[index].partition("=")
        if name == "--version" or name not in TOP_OPTIONS:
            return words[index]  # no command registers: the version action exits first, an unknown option is said
        if name in ("-h", "--help"):
            return None  # the top-level help lists every command
        index += 1 + (TOP_OPTIONS[name] if not equals else 0)
    return words[index] if index < len(words) else None


def _gives_top_option(word: str) -> bool:
    """Whether ``word`` is a top-level option, perhaps with a value joined to it (``--version=x``, ``-hrules``):
    argparse then says what it takes ("ignored explicit argument"), not that it is unknown."""
    return word.partition("=")[0] in TOP_OPTIONS or (not word.startswith("--") and word[:2] in TOP_OPTIONS)


def unknown_option(parser: argparse.ArgumentParser, words: Sequence[str]) -> NoReturn:
    """Refuse ``words`` as options ``parser`` does not have; the first of them that begins the name of some
    (``--col``: options are taken by their whole names) is answered with those names and the values they take,
    else the first that is a misspelt option's name (``--scenarioo``) with that option."""
    hint = next(filter(None, (_whole_names(parser, word) for word in words)), "")
    hint = hint or next(filter(None, (_misspelt(parser, word) for word in words)), "")
    parser.error(f"unrecognized arguments: {' '.join(words)}{hint}")


SHOWN_NAMES = 3  # the whole names an abbreviation's hint lists; past them it says how many more there are


def _whole_names(parser: argparse.ArgumentParser, word: str) -> str:
    """" (options are taken by their whole names: --color auto|always|never)" when ``word`` begins the names of
    options of ``parser`` (argparse's abbreviation, which pflag has not); "" otherwise."""
    name = word.partition("=")[0]
    if not name.startswith("--") or len(name) < 3:
        return ""
    found = [(option, action) for option, action in parser._option_string_actions.items()
             if option.startswith(name) and option != name]
    if not found:
        return ""
    shown = ", ".join(_spelled(option, action) for option, action in found[:SHOWN_NAMES])
    more = f", and {len(found) - SHOWN_NAMES} more" if len(found) > SHOWN_NAMES else ""
    return f" (options are taken by their whole names: {shown}{more})"


def _misspelt(parser: argparse.ArgumentParser, word: str) -> str:
    """" (did you mean --scenario NAME?)" when ``word`` is an option name (``--`` and a letter) closest to one
    ``parser`` has (cli.parsers' closest: another case, or difflib's at 0.8: ``--scenarioo``, ``--sho``); ""
    otherwise. A value written after ``=`` is not part of the name."""
    from kubeproxy_sim.cli.parsers import closest

    name = word.partition("=")[0]
    if not name.startswith("--") or len(name) < 3:
        return ""
    options = [option for option in parser._option_string_actions if option.startswith("--")]
    close = closest(name, options)
    if close is None:
        return ""
    return f" (did you mean {_spelled(close, parser._option_string_actions[close])}?)"


def _spelled(option: str, action: argparse.Action) -> str:
    """An option with what it takes: its values (choices), its metavar, nothing for a switch."""
    if action.nargs == 0:
        return option
    what = "|".join(map(str, action.choices)) if action.choices else action.metavar or action.dest.upper()
    return f"{option} [{what}]" if action.nargs == "?" else f"{option} {what}"


def _exit_now(status: int) -> NoReturn:
    """End the program with ``status`` without the interpreter's teardown, its output already flushed.

    The teardown frees every module and all it holds, one object at a time: 30-50 ms after a large
    ``rules``, a twentieth of the run. A command that leaves nothing to clean up (no threads, files or
    atexit work of its own) says so with ``quick_exit`` in its parser's defaults; only the program itself
    (``argv`` from the command line) exits this way, never a caller of :func:`main`.
    """
    if sys.stderr is not None:  # (None: closed before the start, ``2>&-``)
        sys.stderr.flush()
    os._exit(status)


def interrupted_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by a Ctrl-C: Python 3.11 wraps a KeyboardInterrupt raised while a class is
    made (a lazy import of a module defining one) in a RuntimeError ("Error calling __set_name__ ..."), and
    other wrappers may do the same; the user asked to stop, so it is an interrupt, not an internal error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    # Exact probabilities of long statistic chains are rationals over 2^(31*n): thousands of digits at
    # 1,000 endpoints, past Python's default limit for printing an int.
    sys.set_int_max_str_digits(0)
    words = sys.argv[1:] if argv is None else argv
    try:  # building the parser imports the command: Ctrl-C there is an interrupt too, not a traceback
        parser, args, extra, flags = _parse(words)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not interrupted_by_ctrl_c(exc):
            raise
        return 130
    if extra:
        _refuse_extra(parser, args, words, extra, flags)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if sys.stdout is None:  # started with standard output closed (``>&-``): nowhere to write an answer
        return _say_last(["cannot write the output: standard output is closed"], args, EXIT_INVALID_INPUT)
    try:
        return _run(args, quick_exit=argv is None)
    except EnvironmentMissing as exc:
        return _say_last([exc], args, EXIT_ENVIRONMENT)
    except UsageError as exc:
        return _say_usage(exc.diagnostics, _innermost(parser, args), args)
    except InputError as exc:
        return _say_last(exc.diagnostics, args, EXIT_INVALID_INPUT)
    except KubeproxySimError as exc:
        return _say_last([exc], args, EXIT_INVALID_INPUT)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # a bug of ours: say so in one line, the traceback only on request
        if interrupted_by_ctrl_c(exc):
            return _interrupted()
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            # the environment (a full disk, a vanished terminal), not a bug: say what failed, as cat would
            return _say_last([f"cannot write the output: {exc.strerror}"], args, EXIT_INVALID_INPUT)
        if os.environ.get("KPSIM_DEBUG"):
            raise
        return _say_last([f"internal error ({type(exc).__name__}: {exc}); this is a bug in kubeproxy-sim, please "
                          "report it with the command line (KPSIM_DEBUG=1 shows the traceback)"], args, EXIT_INTERNAL)
    finally:
        if argv is None:
            _drop_unread_output()


def _parse(words: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace, list[str], frozenset[str]]:
    """(parser, arguments, the words no option took, the boolean flags that take an optional value): the parser
    is built for the command named only (its module alone imported, for a fast start), and a boolean flag
    followed by a word that is no boolean is read as bare (kube-proxy's flags take their value after "=")."""
    command = _command_word(words)
    parser = build_parser(command)
    if command and command.startswith("-") and not _gives_top_option(command):
        unknown_option(parser, [command])
    flags = _optional_value_flags(parser)
    if flags:  # (the options module is the commands' own: one without boolean flags does not import it)
        from kubeproxy_sim.cli.options import bare_bool_flags

        return parser, *parser.parse_known_args(bare_bool_flags(words, flags)), flags
    return parser, *parser.parse_known_args(words), flags


def _refuse_extra(parser: argparse.ArgumentParser, args: argparse.Namespace, words: list[str], extra: list[str],
                  flags: frozenset[str]) -> NoReturn:
    """Words no option took, said by the (sub)command that was given, with its own usage line, not the top
    level's, with a hint when the first of them follows a boolean flag (a value it does not take)."""
    hint = ""
    if flags:
        from kubeproxy_sim.cli.options import after_bool_flag

        hint = after_bool_flag(words, extra[0], flags)
    if hint:
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    unknown_option(_innermost(parser, args), extra)


def _run(args: argparse.Namespace, *, quick_exit: bool) -> int:
    """The command itself, whose exceptions :func:`main` turns into statuses; its output is flushed here, so a
    full disk shows while it can still be reported, not at interpreter exit. ``quick_exit`` (a real process, not
    a test's call) lets a command that asks for it skip the interpreter's tear-down."""
    if getattr(args, "config", None):  # read once, for whatever reads it later (a pipe gives its text once)
        from kubeproxy_sim.cli.options import with_config_read

        args = with_config_read(args)
    status = int(args.func(args) or 0)
    sys.stdout.flush()
    if quick_exit and getattr(args, "quick_exit", False):
        _exit_now(status)
    return status


def _interrupted() -> int:
    """The status of a run the user stopped with Ctrl-C. What the interrupt left half-done (pyroute2's event
    loop, a lock) is cleaned up at exit; its "Exception ignored in ..." noise is not for the user, who asked
    to stop."""
    sys.unraisablehook = lambda _unraisable: None
    return 130


def _drop_unread_output() -> None:
    """Write what standard output and error still hold now, or drop it if it cannot be written (the reader has
    gone, ``| head``; a full disk), so that the interpreter's flush at exit has nothing left to fail on: that one
    would print "Exception ignored ... BrokenPipeError" and turn the run's status, decided above (0 for a reader
    that stopped early, or the command's own error), into 120. Standard error too: a message whose write failed
    stays in its buffer (``2>&1 | head``, ``2>/dev/full``). Only the program itself: it points the descriptor
    at the null device."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, stream.fileno())
            os.close(null)


def _say_last(diagnostics: Sequence[object], args: argparse.Namespace, status: int) -> int:
    """Say the run's last words on standard error and return its exit ``status``. A standard error that cannot
    take them (closed before the start, ``2>&-``, or full) leaves the status to tell alone: the words were the
    report of why the run ended, not a new failure (no traceback nobody sees, no "internal error")."""
    from kubeproxy_sim.cli.output import report  # (loaded with the parser's --color flag)

    try:
        report(diagnostics, args)
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
    return status


def _say_usage(diagnostics: Sequence[object], parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """A usage error the command found (flags that exclude or need one another, no input given, a scenario's args):
    its words and the pointer to the command's help argparse's own usage errors end with (cli.parsers), exit 2.
    kubectl does the same for the usage errors its commands find as they run (``See 'kubectl logs -h' for help
    and examples``, its UsageErrorf); an input that cannot be used (exit 1) gets no pointer, as in kubectl and git:
    the help says nothing about a file's contents."""
    status = _say_last(diagnostics, args, EXIT_USAGE)
    if sys.stderr is None:  # (started with it closed: print would write to standard output)
        return status
    try:
        print(f"See '{parser.prog} --help' for usage.", file=sys.stderr)
    except OSError as exc:  # (see _say_last)
        if exc.errno not in WRITE_ERRNOS:
            raise
    return status


if __name__ == "__main__":
    sys.exit(main())
